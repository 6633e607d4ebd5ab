//! The exporter self-metrics, with the Collector's names and labels: `exporter` (the Collector
//! ID `<type>/<component id>`) and, on the queue gauges, `data_type`.

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use solder_core::signals::otlp::Signal;

/// One counter per signal: `otelcol_exporter_<what>_{spans,metric_points,log_records}_total`.
struct PerSignal([IntCounterVec; 3]);

impl PerSignal {
    fn new(registry: &Registry, what: &str, help: &str) -> Result<Self, prometheus::Error> {
        let make = |signal: Signal| -> Result<IntCounterVec, prometheus::Error> {
            let noun = noun(signal);
            let c = IntCounterVec::new(
                Opts::new(
                    format!("otelcol_exporter_{what}_{noun}_total"),
                    format!("Number of {} {help}.", noun.replace('_', " ")),
                ),
                &["exporter"],
            )?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        Ok(PerSignal([
            make(Signal::Traces)?,
            make(Signal::Metrics)?,
            make(Signal::Logs)?,
        ]))
    }

    fn get(&self, signal: Signal) -> &IntCounterVec {
        match signal {
            Signal::Traces => &self.0[0],
            Signal::Metrics => &self.0[1],
            Signal::Logs => &self.0[2],
        }
    }
}

pub(crate) struct ExporterMetrics {
    exporter: String,
    sent: PerSignal,
    send_failed: PerSignal,
    enqueue_failed: PerSignal,
    queue_size: IntGaugeVec,
    queue_capacity: IntGaugeVec,
}

/// The item noun the Collector uses per signal in metric names.
fn noun(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "spans",
        Signal::Metrics => "metric_points",
        Signal::Logs => "log_records",
    }
}

pub(crate) fn data_type(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "traces",
        Signal::Metrics => "metrics",
        Signal::Logs => "logs",
    }
}

impl ExporterMetrics {
    pub(crate) fn new(registry: &Registry, exporter: String) -> Result<Self, prometheus::Error> {
        let sent = PerSignal::new(registry, "sent", "successfully sent to destination")?;
        let send_failed = PerSignal::new(
            registry,
            "send_failed",
            "that failed to be sent to destination",
        )?;
        let enqueue_failed = PerSignal::new(
            registry,
            "enqueue_failed",
            "that failed to be added to the sending queue",
        )?;
        let queue_size = IntGaugeVec::new(
            Opts::new(
                "otelcol_exporter_queue_size",
                "Current size of the retry queue (in batches, or bytes with sizer = \"bytes\")",
            ),
            &["exporter", "data_type"],
        )?;
        let queue_capacity = IntGaugeVec::new(
            Opts::new(
                "otelcol_exporter_queue_capacity",
                "Fixed capacity of the retry queue (in batches, or bytes with sizer = \"bytes\")",
            ),
            &["exporter", "data_type"],
        )?;
        registry.register(Box::new(queue_size.clone()))?;
        registry.register(Box::new(queue_capacity.clone()))?;
        Ok(ExporterMetrics {
            exporter,
            sent,
            send_failed,
            enqueue_failed,
            queue_size,
            queue_capacity,
        })
    }

    pub(crate) fn sent(&self, signal: Signal, items: u64) {
        self.inc(&self.sent, signal, items);
    }

    pub(crate) fn send_failed(&self, signal: Signal, items: u64) {
        self.inc(&self.send_failed, signal, items);
    }

    pub(crate) fn enqueue_failed(&self, signal: Signal, items: u64) {
        self.inc(&self.enqueue_failed, signal, items);
    }

    fn inc(&self, family: &PerSignal, signal: Signal, items: u64) {
        family
            .get(signal)
            .with_label_values(&[self.exporter.as_str()])
            .inc_by(items);
    }

    pub(crate) fn set_queue(&self, signal: Signal, size: u64, capacity: u64) {
        let labels = [self.exporter.as_str(), data_type(signal)];
        self.queue_size
            .with_label_values(&labels)
            .set(i64::try_from(size).unwrap_or(i64::MAX));
        self.queue_capacity
            .with_label_values(&labels)
            .set(i64::try_from(capacity).unwrap_or(i64::MAX));
    }
}
