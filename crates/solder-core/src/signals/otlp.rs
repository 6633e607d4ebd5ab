//! OTLP-family data. A payload travels as the encoded `Export*ServiceRequest` protobuf bytes it
//! arrived as; protobuf concatenation of two such messages is a valid merged message, so batching
//! and exporting need no decode. Components that must look inside decode lazily.

use crate::consume::ConsumeError;
use bytes::Bytes;
use solder_syntax::{Capsule, Value};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
}

/// One encoded `Export{Trace,Metrics,Logs}ServiceRequest`, with its item count (spans, data
/// points or log records) so counters need no decode.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpPayload {
    pub signal: Signal,
    pub encoded: Bytes,
    pub items: u64,
}

#[async_trait::async_trait]
pub trait OtlpConsumer: Send + Sync {
    async fn consume(&self, payload: OtlpPayload) -> Result<(), ConsumeError>;
}

pub type OtlpConsumerRef = Arc<dyn OtlpConsumer>;

pub const OTLP_CONSUMER_CAPSULE: &str = "otelcol.Consumer";

pub fn otlp_consumer_value(c: OtlpConsumerRef) -> Value {
    Value::Capsule(Capsule::new(OTLP_CONSUMER_CAPSULE, c))
}
