//! Self-metrics with the Collector's receiverhelper names: accepted/refused items per signal,
//! labelled `receiver="otlp/<component id>"` and `transport="grpc"|"http"`.

use prometheus::{IntCounterVec, Opts, Registry};
use solder_core::signals::otlp::Signal;

#[derive(Clone)]
pub struct ReceiverMetrics {
    receiver: String,
    accepted: [IntCounterVec; 3],
    refused: [IntCounterVec; 3],
}

fn index(signal: Signal) -> usize {
    match signal {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
    }
}

/// The Collector's item noun per signal, as in `otelcol_receiver_accepted_<noun>_total`.
fn noun(i: usize) -> &'static str {
    ["spans", "metric_points", "log_records"][i]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Grpc,
    Http,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Http => "http",
        }
    }
}

impl ReceiverMetrics {
    pub fn new(component_id: &str, registry: &Registry) -> Result<Self, prometheus::Error> {
        let make = |kind: &str, i: usize, help: &str| -> Result<IntCounterVec, prometheus::Error> {
            let c = IntCounterVec::new(
                Opts::new(format!("otelcol_receiver_{kind}_{}_total", noun(i)), help),
                &["receiver", "transport"],
            )?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let accepted_help = [
            "Number of spans successfully pushed into the pipeline.",
            "Number of metric points successfully pushed into the pipeline.",
            "Number of log records successfully pushed into the pipeline.",
        ];
        let refused_help = [
            "Number of spans that could not be pushed into the pipeline.",
            "Number of metric points that could not be pushed into the pipeline.",
            "Number of log records that could not be pushed into the pipeline.",
        ];
        Ok(ReceiverMetrics {
            receiver: format!("otlp/{component_id}"),
            accepted: [
                make("accepted", 0, accepted_help[0])?,
                make("accepted", 1, accepted_help[1])?,
                make("accepted", 2, accepted_help[2])?,
            ],
            refused: [
                make("refused", 0, refused_help[0])?,
                make("refused", 1, refused_help[1])?,
                make("refused", 2, refused_help[2])?,
            ],
        })
    }

    pub fn record(&self, signal: Signal, transport: Transport, items: u64, accepted: bool) {
        let set = if accepted {
            &self.accepted
        } else {
            &self.refused
        };
        set[index(signal)]
            .with_label_values(&[self.receiver.as_str(), transport.as_str()])
            .inc_by(items);
    }
}
