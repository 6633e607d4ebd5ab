//! Pieces every `otelcol.processor.*` in this crate shares: the `debug_metrics` block and the
//! Collector's generic per-processor item counters. The receiver and exporter bridges reuse the
//! `debug_metrics` block too.

use prometheus::{IntCounterVec, Opts, Registry};
use serde::Deserialize;
use solder_core::signals::otlp::Signal;

/// `debug_metrics { disable_high_cardinality_metrics = true, level = "detailed" }`. `level` is a
/// deprecated no-op in Alloy, but an unknown level is still an error there.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DebugMetricsArgs {
    #[serde(default)]
    pub disable_high_cardinality_metrics: Option<bool>,
    #[serde(default)]
    pub level: Option<String>,
}

impl DebugMetricsArgs {
    pub fn validate(&self) -> Result<(), String> {
        match self.level.as_deref() {
            None | Some("none" | "basic" | "normal" | "detailed") => Ok(()),
            Some(other) => Err(format!("unrecognized debug level {other:?}")),
        }
    }
}

/// The Collector's name for a signal in the `otel_signal` label.
pub fn signal_label(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "traces",
        Signal::Metrics => "metrics",
        Signal::Logs => "logs",
    }
}

/// The `processor` label value: the Collector ID Alloy builds, `<type>/<component id>`.
pub fn processor_label(kind: &str, component_id: &str) -> String {
    format!("{kind}/{component_id}")
}

/// `otelcol_processor_{incoming,outgoing}_items_total{processor, otel_signal}`, which the
/// Collector's processor helper records around every processor.
#[derive(Clone)]
pub struct ItemFlowMetrics {
    processor: String,
    incoming: IntCounterVec,
    outgoing: IntCounterVec,
}

impl ItemFlowMetrics {
    pub fn new(processor: String) -> Result<Self, prometheus::Error> {
        let labels = ["processor", "otel_signal"];
        Ok(ItemFlowMetrics {
            processor,
            incoming: IntCounterVec::new(
                Opts::new(
                    "otelcol_processor_incoming_items_total",
                    "Number of items passed to the processor.",
                ),
                &labels,
            )?,
            outgoing: IntCounterVec::new(
                Opts::new(
                    "otelcol_processor_outgoing_items_total",
                    "Number of items emitted from the processor.",
                ),
                &labels,
            )?,
        })
    }

    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.incoming.clone()))?;
        registry.register(Box::new(self.outgoing.clone()))?;
        Ok(())
    }

    pub fn incoming(&self, signal: Signal, items: u64) {
        self.incoming
            .with_label_values(&[self.processor.as_str(), signal_label(signal)])
            .inc_by(items);
    }

    pub fn outgoing(&self, signal: Signal, items: u64) {
        self.outgoing
            .with_label_values(&[self.processor.as_str(), signal_label(signal)])
            .inc_by(items);
    }
}
