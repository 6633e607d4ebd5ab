//! `otelcol.exporter.prometheus`: converts OTLP metrics into Prometheus samples and forwards
//! them to `forward_to` (alloy-spec.md §2.22). The conversion is in [`convert`]; behaviour
//! follows Alloy's `otelcol/exporter/prometheus` (the code, which has no `debug_metrics`
//! block although the docs list one).
//!
//! - `input` accepts metrics; other signals are accepted and ignored, as documented.
//! - The exported `input` is created once in build and survives updates; an update replaces
//!   the options and `forward_to` and flushes the metadata memory so that new receivers get
//!   metadata again (Alloy does the same).
//! - `run` forgets series unseen for 5 minutes every `gc_frequency`.
//! - The append result of `forward_to` is returned to the sender, so a refusing receiver
//!   makes the upstream component retry.

pub mod attr;
pub mod convert;
pub mod naming;

use crate::component_util::current_shared;
use crate::component_util::publish_input;
use convert::{Converter, Options, SERIES_STALE_AFTER};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts};
use prost::Message;
use solder_core::consume::ConsumeError;
use solder_core::signals::metrics::{fanout_append, MetricsForwardTo};
use solder_core::signals::otlp::{OtlpConsumer, OtlpConsumerRef, OtlpPayload, Signal};
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, Registry, Typed,
    TypedComponent,
};
use solder_syntax::types::GoDuration;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

pub fn register(reg: &mut Registry) {
    reg.register(Typed::<PrometheusExporter>::new());
}

fn yes() -> bool {
    true
}

fn default_gc_frequency() -> GoDuration {
    GoDuration::from_secs(5 * 60)
}

/// The component's arguments, with Alloy's defaults.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    pub forward_to: MetricsForwardTo,
    #[serde(default = "yes")]
    pub include_target_info: bool,
    #[serde(default)]
    pub include_scope_info: bool,
    #[serde(default = "yes")]
    pub include_scope_labels: bool,
    #[serde(default = "default_gc_frequency")]
    pub gc_frequency: GoDuration,
    #[serde(default = "yes")]
    pub add_metric_suffixes: bool,
    #[serde(default)]
    pub resource_to_telemetry_conversion: bool,
    #[serde(default)]
    pub honor_metadata: bool,
    #[serde(default)]
    pub keep_identifying_resource_attributes: bool,
    #[serde(default)]
    pub convert_classic_histograms_to_nhcb: bool,
    #[serde(default)]
    pub start_timestamp_zero_ingestion: bool,
}

impl Args {
    /// Alloy's `Validate`, plus the experimental options Solder cannot honour.
    pub fn validate(&self) -> Result<(), String> {
        if self.gc_frequency.0.is_zero() {
            return Err("gc_frequency must be greater than 0".to_string());
        }
        // Both need sample kinds `MetricsBatch` does not carry (native histograms, start
        // timestamps); Alloy also gates them behind --stability.level=experimental.
        if self.convert_classic_histograms_to_nhcb {
            return Err("convert_classic_histograms_to_nhcb is not supported by Solder yet".into());
        }
        if self.start_timestamp_zero_ingestion {
            return Err("start_timestamp_zero_ingestion is not supported by Solder yet".into());
        }
        Ok(())
    }

    pub fn options(&self) -> Options {
        Options {
            include_target_info: self.include_target_info,
            include_scope_info: self.include_scope_info,
            include_scope_labels: self.include_scope_labels,
            add_metric_suffixes: self.add_metric_suffixes,
            resource_to_telemetry_conversion: self.resource_to_telemetry_conversion,
            honor_metadata: self.honor_metadata,
            keep_identifying_resource_attributes: self.keep_identifying_resource_attributes,
        }
    }
}

/// Self-metrics; the first two have the names of Alloy's Prometheus fan-out.
struct SelfMetrics {
    fanout_latency: Histogram,
    forwarded_samples: IntCounter,
    dropped: IntCounterVec,
}

impl SelfMetrics {
    fn register(registry: &prometheus::Registry) -> Result<Self, prometheus::Error> {
        let m = SelfMetrics {
            fanout_latency: Histogram::with_opts(
                HistogramOpts::new(
                    "prometheus_fanout_latency",
                    "Write latency for sending to direct and indirect components",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                ]),
            )?,
            forwarded_samples: IntCounter::with_opts(Opts::new(
                "prometheus_forwarded_samples_total",
                "Total number of samples sent to downstream components.",
            ))?,
            dropped: IntCounterVec::new(
                Opts::new(
                    "solder_otelcol_exporter_prometheus_dropped_data_points_total",
                    "OTLP data points that have no Prometheus conversion (delta temporality, exponential histograms).",
                ),
                &["reason"],
            )?,
        };
        registry.register(Box::new(m.fanout_latency.clone()))?;
        registry.register(Box::new(m.forwarded_samples.clone()))?;
        registry.register(Box::new(m.dropped.clone()))?;
        Ok(m)
    }
}

/// What one update configures.
struct State {
    opts: Options,
    forward_to: MetricsForwardTo,
    gc_frequency: Duration,
}

struct Shared {
    state: RwLock<Arc<State>>,
    converter: Mutex<Converter>,
    metrics: SelfMetrics,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn state(&self) -> Arc<State> {
        current_shared(&self.state)
    }
}

fn unix_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The exported `input`.
struct Input(Arc<Shared>);

#[async_trait::async_trait]
impl OtlpConsumer for Input {
    async fn consume(&self, payload: OtlpPayload) -> Result<(), ConsumeError> {
        if payload.signal != Signal::Metrics {
            return Ok(());
        }
        let req = ExportMetricsServiceRequest::decode(payload.encoded.as_ref())
            .map_err(|e| ConsumeError::Permanent(format!("decoding OTLP metrics: {e}")))?;
        let shared = &self.0;
        let state = shared.state();
        let (batch, dropped) =
            lock(&shared.converter).convert(&req, &state.opts, Instant::now(), unix_now_ms());
        let m = &shared.metrics;
        if dropped.non_cumulative > 0 {
            m.dropped
                .with_label_values(&["non_cumulative"])
                .inc_by(dropped.non_cumulative);
        }
        if dropped.exponential_histogram > 0 {
            m.dropped
                .with_label_values(&["exponential_histogram"])
                .inc_by(dropped.exponential_histogram);
        }
        if batch.is_empty() || state.forward_to.is_empty() {
            return Ok(());
        }
        let samples = batch.samples.len() as u64;
        let start = Instant::now();
        let result = fanout_append(&state.forward_to, batch).await;
        m.fanout_latency.observe(start.elapsed().as_secs_f64());
        if result.is_ok() {
            m.forwarded_samples.inc_by(samples);
        }
        result
    }
}

pub struct PrometheusExporter {
    shared: Arc<Shared>,
}

impl PrometheusExporter {
    /// The exported `input`, as a handle (for embedding and tests).
    pub fn input(&self) -> OtlpConsumerRef {
        Arc::new(Input(Arc::clone(&self.shared)))
    }
}

impl TypedComponent for PrometheusExporter {
    const NAME: &'static str = "otelcol.exporter.prometheus";
    const EXPORTS: &'static [&'static str] = &["input"];
    type Args = Args;

    fn validate(args: &Args) -> Result<(), String> {
        args.validate()
    }

    fn build(opts: ComponentOptions, args: Args) -> Result<Self, ComponentError> {
        args.validate().map_err(ComponentError::Config)?;
        let metrics = SelfMetrics::register(&opts.registry)
            .map_err(|e| ComponentError::Other(format!("registering self-metrics: {e}")))?;
        let shared = Arc::new(Shared {
            state: RwLock::new(Arc::new(State {
                opts: args.options(),
                gc_frequency: args.gc_frequency.0,
                forward_to: args.forward_to,
            })),
            converter: Mutex::new(Converter::new()),
            metrics,
        });
        let component = PrometheusExporter { shared };
        publish_input(&opts, component.input());
        Ok(component)
    }
}

impl Component for PrometheusExporter {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        Box::pin(async move {
            loop {
                let every = self.shared.state().gc_frequency;
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(every) => {
                        lock(&self.shared.converter).gc(Instant::now(), SERIES_STALE_AFTER);
                    }
                }
            }
        })
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let args = args.downcast::<Args>()?;
        args.validate().map_err(ComponentError::Config)?;
        {
            let mut current = match self.shared.state.write() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            *current = Arc::new(State {
                opts: args.options(),
                gc_frequency: args.gc_frequency.0,
                forward_to: args.forward_to,
            });
        }
        lock(&self.shared.converter).flush_metadata();
        Ok(())
    }
}
