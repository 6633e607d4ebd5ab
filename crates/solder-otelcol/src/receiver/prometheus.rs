//! `otelcol.receiver.prometheus`: exports `receiver`, a `MetricsReceiver` that turns appended
//! Prometheus samples into OTLP metrics ([`convert`]) and sends them to `output.metrics`.
//!
//! - Each append is one transaction: one OTLP request per batch, sent before the append
//!   returns, and the consumers' result is the append's result.
//! - Metadata (metric types, help, unit) comes with the batches; it is remembered across
//!   batches because a scraper may send a family's metadata only when it changes. A series
//!   whose family has no metadata is converted as a gauge, as the Collector does for
//!   Prometheus "unknown" series.
//! - The `receiver` export is created once and survives updates.

pub mod convert;

use crate::component_util::{current_shared, idle_until_shutdown, replace_shared};
use crate::output::Output;
use crate::processor::common::DebugMetricsArgs;
use convert::{batch_to_otlp, MetadataStore};
use prometheus::{IntCounter, Opts};
use prost::Message;
use solder_core::consume::ConsumeError;
use solder_core::signals::metrics::{
    metrics_receiver_value, MetricsBatch, MetricsReceiver, MetricsReceiverRef,
};
use solder_core::signals::otlp::{OtlpPayload, Signal};
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, Registry, Typed,
    TypedComponent,
};
use solder_syntax::{Object, Value};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tokio_util::sync::CancellationToken;

pub fn register(reg: &mut Registry) {
    reg.register(Typed::<PrometheusReceiver>::new());
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    pub output: Output,
    #[serde(default)]
    pub debug_metrics: DebugMetricsArgs,
}

/// Alloy runs this receiver with a no-op meter provider, so it has none of the Collector's
/// `otelcol_receiver_*` metrics; the one counter here is Solder's own.
struct SelfMetrics {
    dropped: IntCounter,
}

impl SelfMetrics {
    fn register(registry: &prometheus::Registry) -> Result<Self, prometheus::Error> {
        let m = SelfMetrics {
            dropped: IntCounter::with_opts(Opts::new(
                "solder_otelcol_receiver_prometheus_dropped_samples_total",
                "Samples that could not be converted (no job/instance label, inconsistent timestamps, bad le/quantile).",
            ))?,
        };
        registry.register(Box::new(m.dropped.clone()))?;
        Ok(m)
    }
}

struct Shared {
    output: RwLock<Arc<Output>>,
    store: Mutex<MetadataStore>,
    metrics: SelfMetrics,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn data_points(
    req: &opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest,
) -> u64 {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    req.resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| match &m.data {
            Some(Data::Gauge(g)) => g.data_points.len(),
            Some(Data::Sum(s)) => s.data_points.len(),
            Some(Data::Histogram(h)) => h.data_points.len(),
            Some(Data::Summary(s)) => s.data_points.len(),
            Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
            None => 0,
        } as u64)
        .sum()
}

/// The exported `receiver`.
struct Receiver(Arc<Shared>);

#[async_trait::async_trait]
impl MetricsReceiver for Receiver {
    async fn append(&self, batch: MetricsBatch) -> Result<(), ConsumeError> {
        let shared = &self.0;
        let (req, skipped) = {
            let mut store = lock(&shared.store);
            batch_to_otlp(&batch, &mut store, env!("CARGO_PKG_VERSION"))
        };
        let dropped = skipped.no_job_instance + skipped.invalid;
        if dropped > 0 {
            shared.metrics.dropped.inc_by(dropped);
            tracing::debug!(
                no_job_instance = skipped.no_job_instance,
                invalid = skipped.invalid,
                "otelcol.receiver.prometheus skipped samples"
            );
        }
        let items = data_points(&req);
        if items == 0 {
            return Ok(());
        }
        let payload = OtlpPayload {
            signal: Signal::Metrics,
            encoded: req.encode_to_vec().into(),
            items,
        };
        let output = current_shared(&shared.output);
        output.consume(payload).await
    }
}

pub struct PrometheusReceiver {
    shared: Arc<Shared>,
}

impl PrometheusReceiver {
    /// The exported `receiver`, as a handle (for embedding and tests).
    pub fn receiver(&self) -> MetricsReceiverRef {
        Arc::new(Receiver(Arc::clone(&self.shared)))
    }
}

impl TypedComponent for PrometheusReceiver {
    const NAME: &'static str = "otelcol.receiver.prometheus";
    const EXPORTS: &'static [&'static str] = &["receiver"];
    type Args = Args;

    fn validate(args: &Args) -> Result<(), String> {
        args.debug_metrics.validate()
    }

    fn build(opts: ComponentOptions, args: Args) -> Result<Self, ComponentError> {
        let metrics = SelfMetrics::register(&opts.registry)
            .map_err(|e| ComponentError::Other(format!("registering self-metrics: {e}")))?;
        let component = PrometheusReceiver {
            shared: Arc::new(Shared {
                output: RwLock::new(Arc::new(args.output)),
                store: Mutex::new(MetadataStore::default()),
                metrics,
            }),
        };
        let mut exports = Object::new();
        exports.insert(
            "receiver".to_string(),
            metrics_receiver_value(component.receiver()),
        );
        opts.publish_exports(Value::Object(exports));
        Ok(component)
    }
}

impl Component for PrometheusReceiver {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        idle_until_shutdown(shutdown)
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let args = args.downcast::<Args>()?;
        replace_shared(&self.shared.output, Arc::new(args.output));
        Ok(())
    }
}
