//! `otelcol.exporter.debug`: writes what it receives to the agent's log, like the Collector's
//! debug exporter through Alloy's internal logger.
//!
//! - `basic`: one summary line per request ("Traces" with resource spans / spans counts, …);
//! - `normal`: the summary plus one line per span, log record or data point;
//! - `sampling_initial` / `sampling_thereafter`: zap's sampler, per message and per second: the
//!   first `initial` messages are written, then every `thereafter`-th.
//!
//! `detailed` verbosity (the full `otlptext` dump), `use_internal_logger = false` and
//! `output_paths` are not implemented and are rejected.

mod render;

use crate::component_util::{current_shared, idle_until_shutdown, publish_input, replace_shared};
use crate::processor::common::DebugMetricsArgs;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::{OtlpConsumer, OtlpConsumerRef, OtlpPayload, Signal};
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, Registry, Typed,
    TypedComponent,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub use render::go_float;

pub fn register(reg: &mut Registry) {
    reg.register(Typed::<DebugExporter>::new());
}

fn default_verbosity() -> String {
    "basic".into()
}
fn default_initial() -> i64 {
    2
}
fn default_thereafter() -> i64 {
    1
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Args {
    #[serde(default = "default_verbosity")]
    pub verbosity: String,
    #[serde(default = "default_initial")]
    pub sampling_initial: i64,
    #[serde(default = "default_thereafter")]
    pub sampling_thereafter: i64,
    #[serde(default = "default_true")]
    pub use_internal_logger: bool,
    #[serde(default)]
    pub output_paths: Vec<String>,
    #[serde(default)]
    pub debug_metrics: DebugMetricsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Basic,
    Normal,
}

impl Args {
    pub fn verbosity(&self) -> Result<Verbosity, String> {
        self.debug_metrics.validate()?;
        if !self.use_internal_logger {
            return Err("use_internal_logger = false is not supported by Solder yet".into());
        }
        if !self.output_paths.is_empty() {
            return Err("output_paths is not supported by Solder yet".into());
        }
        // The Collector accepts any casing.
        match self.verbosity.to_lowercase().as_str() {
            "basic" => Ok(Verbosity::Basic),
            "normal" => Ok(Verbosity::Normal),
            "detailed" => {
                Err("verbosity \"detailed\" is not supported by Solder yet; use \"normal\"".into())
            }
            _ => Err(format!(
                "error in conversion to config arguments, invalid verbosity {:?}",
                self.verbosity
            )),
        }
    }
}

/// zap's sampler: per message, per one-second tick, the first `initial` pass, then every
/// `thereafter`-th (none when it is 0 or less).
pub struct LogSampler {
    initial: i64,
    thereafter: i64,
    counts: Mutex<HashMap<&'static str, (Instant, i64)>>,
}

impl LogSampler {
    pub fn new(initial: i64, thereafter: i64) -> Self {
        LogSampler {
            initial,
            thereafter,
            counts: Mutex::new(HashMap::new()),
        }
    }

    pub fn allow(&self, message: &'static str, now: Instant) -> bool {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let entry = counts.entry(message).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(1) {
            *entry = (now, 0);
        }
        entry.1 += 1;
        let n = entry.1;
        if n <= self.initial {
            return true;
        }
        self.thereafter > 0 && (n - self.initial) % self.thereafter == 0
    }
}

struct State {
    verbosity: Verbosity,
    sampler: LogSampler,
}

struct DebugInput(Arc<RwLock<Arc<State>>>, String);

#[async_trait::async_trait]
impl OtlpConsumer for DebugInput {
    async fn consume(&self, payload: OtlpPayload) -> Result<(), ConsumeError> {
        let state = current_shared(&self.0);
        let id = self.1.as_str();
        let bad = |e: prost::DecodeError| {
            ConsumeError::Permanent(format!("cannot decode OTLP request: {e}"))
        };
        let now = Instant::now();
        match payload.signal {
            Signal::Traces => {
                if !state.sampler.allow("Traces", now) {
                    return Ok(());
                }
                let req = ExportTraceServiceRequest::decode(payload.encoded).map_err(bad)?;
                let (resources, spans) = render::traces_summary(&req);
                tracing::info!(
                    component_id = id,
                    "resource spans" = resources,
                    spans,
                    "Traces"
                );
                if state.verbosity == Verbosity::Normal {
                    tracing::info!(component_id = id, "{}", render::traces_normal(&req));
                }
            }
            Signal::Logs => {
                if !state.sampler.allow("Logs", now) {
                    return Ok(());
                }
                let req = ExportLogsServiceRequest::decode(payload.encoded).map_err(bad)?;
                let (resources, records) = render::logs_summary(&req);
                tracing::info!(
                    component_id = id,
                    "resource logs" = resources,
                    "log records" = records,
                    "Logs"
                );
                if state.verbosity == Verbosity::Normal {
                    tracing::info!(component_id = id, "{}", render::logs_normal(&req));
                }
            }
            Signal::Metrics => {
                if !state.sampler.allow("Metrics", now) {
                    return Ok(());
                }
                let req = ExportMetricsServiceRequest::decode(payload.encoded).map_err(bad)?;
                let (resources, metrics, points) = render::metrics_summary(&req);
                tracing::info!(
                    component_id = id,
                    "resource metrics" = resources,
                    metrics,
                    "data points" = points,
                    "Metrics"
                );
                if state.verbosity == Verbosity::Normal {
                    tracing::info!(component_id = id, "{}", render::metrics_normal(&req));
                }
            }
        }
        Ok(())
    }
}

pub struct DebugExporter {
    state: Arc<RwLock<Arc<State>>>,
}

fn state_from(args: &Args) -> Result<State, String> {
    Ok(State {
        verbosity: args.verbosity()?,
        sampler: LogSampler::new(args.sampling_initial, args.sampling_thereafter),
    })
}

impl TypedComponent for DebugExporter {
    const NAME: &'static str = "otelcol.exporter.debug";
    const EXPORTS: &'static [&'static str] = &["input"];
    type Args = Args;

    fn validate(args: &Args) -> Result<(), String> {
        args.verbosity().map(|_| ())
    }

    fn build(opts: ComponentOptions, args: Args) -> Result<Self, ComponentError> {
        let state = Arc::new(RwLock::new(Arc::new(
            state_from(&args).map_err(ComponentError::Config)?,
        )));
        let input: OtlpConsumerRef = Arc::new(DebugInput(Arc::clone(&state), opts.id.clone()));
        publish_input(&opts, input);
        Ok(DebugExporter { state })
    }
}

impl Component for DebugExporter {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        idle_until_shutdown(shutdown)
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let args = args.downcast::<Args>()?;
        let state = Arc::new(state_from(&args).map_err(ComponentError::Config)?);
        replace_shared(&self.state, state);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampler_passes_initial_then_every_thereafter_per_second() {
        let s = LogSampler::new(2, 3);
        let t0 = Instant::now();
        let got: Vec<bool> = (0..8).map(|_| s.allow("Traces", t0)).collect();
        assert_eq!(got, [true, true, false, false, true, false, false, true]);
        // Another message has its own count; a new second resets.
        assert!(s.allow("Logs", t0));
        assert!(s.allow("Traces", t0 + Duration::from_secs(1)));
        let never = LogSampler::new(1, 0);
        assert!(never.allow("m", t0));
        assert!(!never.allow("m", t0));
    }
}
