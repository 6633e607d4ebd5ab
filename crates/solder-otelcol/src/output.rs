//! The `output` block shared by every `otelcol` receiver, processor and connector: lists of
//! consumers per signal, and the fan-out that sends a payload to all of them.

use serde::Deserialize;
use solder_core::consume::{join_all_ok, ConsumeError};
use solder_core::signals::otlp::{OtlpConsumerRef, OtlpPayload, Signal};
use solder_syntax::types::CapsuleOf;

/// `output { metrics = [...] logs = [...] traces = [...] }`.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    #[serde(default)]
    pub metrics: Vec<CapsuleOf<OtlpConsumerRef>>,
    #[serde(default)]
    pub logs: Vec<CapsuleOf<OtlpConsumerRef>>,
    #[serde(default)]
    pub traces: Vec<CapsuleOf<OtlpConsumerRef>>,
}

impl Output {
    pub fn consumers(&self, signal: Signal) -> &[CapsuleOf<OtlpConsumerRef>] {
        match signal {
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
            Signal::Logs => &self.logs,
        }
    }

    /// Send `payload` to every consumer of its signal; Ok only if all accepted. A signal with
    /// no consumers drops the payload, as the Collector does for an unconnected pipeline.
    pub async fn consume(&self, payload: OtlpPayload) -> Result<(), ConsumeError> {
        match self.consumers(payload.signal) {
            [] => Ok(()),
            [one] => one.0.consume(payload).await,
            many => join_all_ok(many.iter().map(|c| c.0.consume(payload.clone()))).await,
        }
    }
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("metrics", &self.metrics.len())
            .field("logs", &self.logs.len())
            .field("traces", &self.traces.len())
            .finish()
    }
}
