//! Loki-family data: log entries with stream labels.

use crate::consume::{join_all_ok, ConsumeError};
use crate::signals::metrics::Labels;
use solder_syntax::types::CapsuleOf;
use solder_syntax::{Capsule, Value};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Stream labels.
    pub labels: Labels,
    pub timestamp_ns: i64,
    pub line: String,
    pub structured_metadata: Vec<(String, String)>,
}

#[async_trait::async_trait]
pub trait LogsReceiver: Send + Sync {
    async fn push(&self, entries: Vec<LogEntry>) -> Result<(), ConsumeError>;
}

pub type LogsReceiverRef = Arc<dyn LogsReceiver>;

pub const LOGS_RECEIVER_CAPSULE: &str = "LogsReceiver";

pub fn logs_receiver_value(r: LogsReceiverRef) -> Value {
    Value::Capsule(Capsule::new(LOGS_RECEIVER_CAPSULE, r))
}

pub async fn fanout_push(
    receivers: &[CapsuleOf<LogsReceiverRef>],
    entries: Vec<LogEntry>,
) -> Result<(), ConsumeError> {
    match receivers {
        [] => Ok(()),
        [one] => one.0.push(entries).await,
        many => join_all_ok(many.iter().map(|r| r.0.push(entries.clone()))).await,
    }
}
