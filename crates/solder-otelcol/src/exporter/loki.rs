//! `otelcol.exporter.loki`: converts OTLP log records into Loki entries ([`convert`]) and
//! pushes them to `forward_to` (alloy-spec.md §2.23, Alloy's `otelcol/exporter/loki`).
//!
//! - `input` accepts logs; other signals are accepted and ignored.
//! - A record that cannot be converted (unknown `loki.format`, a NaN in a JSON line, an
//!   invalid logfmt key) is dropped and counted, as in Alloy; the rest go out in one push.
//! - Unlike Alloy (which sends entry by entry on channels and cannot report failure), the
//!   push result of `forward_to` is returned to the sender.
//! - Self-metrics have Alloy's names: `otelcol_exporter_loki_entries_{total,failed,processed}`.

pub mod convert;
pub mod logfmt;

use crate::component_util::{current_shared, idle_until_shutdown, publish_input, replace_shared};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use prometheus::{IntCounter, Opts};
use prost::Message;
use solder_core::consume::ConsumeError;
use solder_core::signals::logs::{fanout_push, LogEntry, LogsReceiverRef};
use solder_core::signals::otlp::{OtlpConsumer, OtlpConsumerRef, OtlpPayload, Signal};
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, Registry, Typed,
    TypedComponent,
};
use solder_syntax::types::CapsuleOf;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

pub fn register(reg: &mut Registry) {
    reg.register(Typed::<LokiExporter>::new());
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    pub forward_to: Vec<CapsuleOf<LogsReceiverRef>>,
}

struct SelfMetrics {
    total: IntCounter,
    failed: IntCounter,
    processed: IntCounter,
}

impl SelfMetrics {
    fn register(registry: &prometheus::Registry) -> Result<Self, prometheus::Error> {
        let c = |name: &str, help: &str| IntCounter::with_opts(Opts::new(name, help));
        let m = SelfMetrics {
            total: c(
                "otelcol_exporter_loki_entries_total",
                "Total number of log entries passed through the converter",
            )?,
            failed: c(
                "otelcol_exporter_loki_entries_failed",
                "Total number of log entries failed to convert",
            )?,
            processed: c(
                "otelcol_exporter_loki_entries_processed",
                "Total number of log entries successfully converted",
            )?,
        };
        registry.register(Box::new(m.total.clone()))?;
        registry.register(Box::new(m.failed.clone()))?;
        registry.register(Box::new(m.processed.clone()))?;
        Ok(m)
    }
}

struct Shared {
    forward_to: RwLock<Arc<Vec<CapsuleOf<LogsReceiverRef>>>>,
    metrics: SelfMetrics,
}

fn unix_now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Converts every record of a request; returns the entries and how many records failed.
pub fn convert_request(req: &ExportLogsServiceRequest, now_ns: i64) -> (Vec<LogEntry>, u64) {
    let empty_scope = InstrumentationScope::default();
    let mut entries = Vec::new();
    let mut failed = 0;
    for rl in &req.resource_logs {
        let res_attrs = rl
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]);
        for sl in &rl.scope_logs {
            let scope = sl.scope.as_ref().unwrap_or(&empty_scope);
            for record in &sl.log_records {
                match convert::log_to_entry(record, res_attrs, scope, now_ns) {
                    Ok(entry) => entries.push(entry),
                    Err(e) => {
                        tracing::error!(error = %e, "failed to convert log to loki entry");
                        failed += 1;
                    }
                }
            }
        }
    }
    (entries, failed)
}

struct Input(Arc<Shared>);

#[async_trait::async_trait]
impl OtlpConsumer for Input {
    async fn consume(&self, payload: OtlpPayload) -> Result<(), ConsumeError> {
        if payload.signal != Signal::Logs {
            return Ok(());
        }
        let req = ExportLogsServiceRequest::decode(payload.encoded.as_ref())
            .map_err(|e| ConsumeError::Permanent(format!("decoding OTLP logs: {e}")))?;
        let (entries, failed) = convert_request(&req, unix_now_ns());
        let m = &self.0.metrics;
        m.total.inc_by(entries.len() as u64 + failed);
        m.failed.inc_by(failed);
        m.processed.inc_by(entries.len() as u64);
        if entries.is_empty() {
            return Ok(());
        }
        let forward_to = current_shared(&self.0.forward_to);
        fanout_push(&forward_to, entries).await
    }
}

pub struct LokiExporter {
    shared: Arc<Shared>,
}

impl LokiExporter {
    /// The exported `input`, as a handle (for embedding and tests).
    pub fn input(&self) -> OtlpConsumerRef {
        Arc::new(Input(Arc::clone(&self.shared)))
    }
}

impl TypedComponent for LokiExporter {
    const NAME: &'static str = "otelcol.exporter.loki";
    const EXPORTS: &'static [&'static str] = &["input"];
    type Args = Args;

    fn build(opts: ComponentOptions, args: Args) -> Result<Self, ComponentError> {
        let metrics = SelfMetrics::register(&opts.registry)
            .map_err(|e| ComponentError::Other(format!("registering self-metrics: {e}")))?;
        let component = LokiExporter {
            shared: Arc::new(Shared {
                forward_to: RwLock::new(Arc::new(args.forward_to)),
                metrics,
            }),
        };
        publish_input(&opts, component.input());
        Ok(component)
    }
}

impl Component for LokiExporter {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        idle_until_shutdown(shutdown)
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let args = args.downcast::<Args>()?;
        replace_shared(&self.shared.forward_to, Arc::new(args.forward_to));
        Ok(())
    }
}
