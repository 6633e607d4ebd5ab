//! `otelcol.processor.probabilistic_sampler`: keeps a percentage of spans and log records,
//! deciding consistently from the trace ID so all spans of a trace share one decision.
//!
//! Behaviour follows the contrib `probabilisticsamplerprocessor` (`makeSampler`,
//! `commonShouldSampleLogic`, `pkg/sampling`):
//! - `hash_seed` mode: FNV-1a over the seed and the trace ID (or, for logs with
//!   `attribute_source = "record"`, the `from_attribute` value), 14-bit buckets, rate
//!   `uint32(pct × 163.84)` in float32; it is the default when `hash_seed` is set or logs use
//!   `attribute_source = "record"`;
//! - `proportional` (default otherwise) and `equalizing`: W3C randomness (the tracestate `rv`,
//!   else the trace ID's last 56 bits) against a threshold with `sampling_precision` hex digits;
//!   proportional multiplies an arriving `th` probability by the ratio;
//! - errors (malformed tracestate, missing randomness, arriving rv/th in hash_seed mode, an
//!   inconsistent arriving th) drop the item when `fail_closed`, keep it otherwise;
//! - spans: `sampling.priority` 0 drops, > 0 keeps; sampled items carry the new `th` (and in
//!   hash_seed mode the computed `rv`) in their tracestate / `sampling.*` log attributes.
//!
//! `sampling_priority` for logs is not implemented and is rejected.

mod carrier;
pub mod sampling;

use super::attributes::value as av;
use super::common::{processor_label, DebugMetricsArgs, ItemFlowMetrics};
use crate::component_util::{current_shared, idle_until_shutdown, publish_input, replace_shared};
use crate::output::Output;
use carrier::{value_bytes, Carrier};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value as V, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use sampling::{hash_seed_threshold, probability_to_threshold, Randomness, Threshold};
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::{OtlpConsumer, OtlpConsumerRef, OtlpPayload, Signal};
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, Registry, Typed,
    TypedComponent,
};
use std::sync::{Arc, RwLock};
use tokio_util::sync::CancellationToken;

pub fn register(reg: &mut Registry) {
    reg.register(Typed::<ProbabilisticSampler>::new());
}

fn default_true() -> bool {
    true
}
fn default_attribute_source() -> String {
    "traceID".into()
}
fn default_precision() -> i64 {
    4
}

/// The component's arguments, as written in config.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Args {
    #[serde(default)]
    pub sampling_percentage: f32,
    #[serde(default)]
    pub hash_seed: u32,
    #[serde(default)]
    pub mode: String,
    #[serde(default = "default_true")]
    pub fail_closed: bool,
    #[serde(default = "default_precision")]
    pub sampling_precision: i64,
    #[serde(default = "default_attribute_source")]
    pub attribute_source: String,
    #[serde(default)]
    pub from_attribute: String,
    #[serde(default)]
    pub sampling_priority: String,
    pub output: Output,
    #[serde(default)]
    pub debug_metrics: DebugMetricsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    HashSeed,
    Equalizing,
    Proportional,
}

impl Args {
    /// The contrib `Config.Validate`, plus Solder's own limits.
    pub fn validate(&self) -> Result<(), String> {
        self.debug_metrics.validate()?;
        let pct = f64::from(self.sampling_percentage);
        if !pct.is_finite() {
            return Err(format!(
                "sampling rate is invalid: {:.6}%",
                self.sampling_percentage
            ));
        }
        let ratio = pct / 100.0;
        if ratio < 0.0 {
            return Err(format!(
                "sampling rate is negative: {:.6}%",
                self.sampling_percentage
            ));
        }
        if ratio > 0.0 && ratio < 1.0 / sampling::MAX_ADJUSTED_COUNT as f64 {
            return Err(format!(
                "sampling rate is too small: {}%",
                self.sampling_percentage
            ));
        }
        if !matches!(self.attribute_source.as_str(), "" | "traceID" | "record") {
            return Err(format!(
                "invalid attribute source: {}. Expected: traceID or record",
                self.attribute_source
            ));
        }
        if self.sampling_precision == 0 {
            return Err("invalid sampling precision: 0".into());
        }
        if !(1..=14).contains(&self.sampling_precision) {
            return Err(format!(
                "sampling precision is too great, should be <= 14: {}",
                self.sampling_precision
            ));
        }
        if !matches!(
            self.mode.as_str(),
            "" | "hash_seed" | "equalizing" | "proportional"
        ) {
            return Err(format!("unsupported sampler mode {:?}", self.mode));
        }
        if !self.sampling_priority.is_empty() {
            return Err("sampling_priority is not supported by Solder yet".into());
        }
        Ok(())
    }

    /// `makeSampler`'s mode choice.
    pub fn mode(&self, logs: bool) -> Mode {
        match self.mode.as_str() {
            "hash_seed" => Mode::HashSeed,
            "equalizing" => Mode::Equalizing,
            "proportional" => Mode::Proportional,
            _ if self.hash_seed != 0 || (logs && self.attribute_source != "traceID") => {
                Mode::HashSeed
            }
            _ => Mode::Proportional,
        }
    }
}

/// One signal's sampler, compiled from the arguments.
#[derive(Debug, Clone)]
pub struct Sampler {
    mode: Mode,
    /// `None`: sample nothing (0% or a rate that rounds to zero).
    threshold: Option<Threshold>,
    ratio: f64,
    precision: i32,
    hash_seed: u32,
    fail_closed: bool,
    logs_trace_id: bool,
    from_attribute: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rnd {
    Missing,
    Value(Randomness),
}

impl Rnd {
    fn value(self) -> Randomness {
        match self {
            Rnd::Missing => Randomness::ALL_PROBABILITIES,
            Rnd::Value(r) => r,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Priority {
    Defer,
    Must,
    DoNot,
}

impl Sampler {
    pub fn new(args: &Args, logs: bool) -> Sampler {
        let pct = args.sampling_percentage.min(100.0);
        let mode = args.mode(logs);
        let ratio = (f64::from(pct) / 100.0).max(1.0 / sampling::MAX_ADJUSTED_COUNT as f64);
        let precision = i32::try_from(args.sampling_precision).unwrap_or(4);
        let threshold = if pct <= 0.0 {
            None
        } else {
            match mode {
                Mode::HashSeed => hash_seed_threshold(pct),
                Mode::Equalizing => probability_to_threshold(ratio, precision),
                Mode::Proportional => Some(Threshold::ALWAYS),
            }
        };
        Sampler {
            mode,
            threshold,
            ratio,
            precision,
            hash_seed: args.hash_seed,
            fail_closed: args.fail_closed,
            logs_trace_id: args.attribute_source == "traceID",
            from_attribute: args.from_attribute.clone(),
        }
    }

    /// The sampler's threshold for an item that passed the checks (`decide`).
    fn decide(&self, carrier: Option<&Carrier>) -> Threshold {
        let Some(fixed) = self.threshold else {
            return Threshold::NEVER;
        };
        match self.mode {
            Mode::HashSeed | Mode::Equalizing => fixed,
            Mode::Proportional => {
                let incoming = carrier
                    .and_then(|c| c.th)
                    .map_or(1.0, Threshold::probability);
                probability_to_threshold(incoming * self.ratio, self.precision)
                    .unwrap_or(Threshold::NEVER)
            }
        }
    }

    /// `commonShouldSampleLogic`: the decision, and the carrier update for kept items.
    fn should_keep(
        &self,
        rnd: Rnd,
        carrier: &mut Option<Carrier>,
        err: Option<String>,
        priority: Priority,
    ) -> bool {
        let err = err.or_else(|| consistency_check(rnd, carrier.as_mut()));
        let mut threshold = match err {
            Some(e) => {
                tracing::debug!(error = %e, "probabilistic_sampler");
                if self.fail_closed {
                    Threshold::NEVER
                } else {
                    Threshold::ALWAYS
                }
            }
            None => self.decide(carrier.as_ref()),
        };
        match priority {
            Priority::DoNot => threshold = Threshold::NEVER,
            Priority::Must => threshold = Threshold::ALWAYS,
            Priority::Defer => {}
        }
        let sampled = threshold.should_sample(rnd.value());
        if sampled {
            if let Some(c) = carrier.as_mut() {
                c.update_threshold(threshold);
            }
        }
        sampled
    }

    /// Whether to keep the span; kept spans get their updated tracestate.
    pub fn keep_span(&self, span: &mut Span) -> bool {
        let priority = span_priority(&span.attributes);
        let parsed = Carrier::from_tracestate(&span.trace_state);
        let (rnd, mut carrier, err) = match self.mode {
            Mode::HashSeed => {
                let rnd = Rnd::Value(Randomness::from_hash(
                    &trace_id16(&span.trace_id),
                    self.hash_seed,
                ));
                match parsed {
                    Err(e) => (rnd, None, Some(e)),
                    Ok(mut c) => {
                        let err = if c.rv.is_some() {
                            Some("span has sampling randomness, equalizing or proportional mode recommended".to_string())
                        } else if c.th.is_some() {
                            Some("span has sampling threshold, equalizing or proportional mode recommended".to_string())
                        } else {
                            c.rv = Some(rnd.value());
                            None
                        };
                        (rnd, Some(c), err)
                    }
                }
            }
            Mode::Equalizing | Mode::Proportional => match parsed {
                Err(e) => (Rnd::Missing, None, Some(e)),
                Ok(c) => {
                    let rnd = match c.rv {
                        Some(rv) => Rnd::Value(rv),
                        None if span.trace_id.iter().all(|b| *b == 0) => Rnd::Missing,
                        None => Rnd::Value(Randomness::from_trace_id(&span.trace_id)),
                    };
                    (rnd, Some(c), None)
                }
            },
        };
        let keep = self.should_keep(rnd, &mut carrier, err, priority);
        if keep {
            if let Some(c) = carrier {
                span.trace_state = c.to_tracestate();
            }
        }
        keep
    }

    /// Whether to keep the log record; kept records get `sampling.*` attributes.
    pub fn keep_log(&self, log: &mut LogRecord) -> bool {
        let parsed = Carrier::from_log_attributes(&log.attributes);
        let from_attr = || -> Option<Rnd> {
            if self.from_attribute.is_empty() {
                return None;
            }
            value_bytes(&log.attributes, &self.from_attribute)
                .map(|b| Rnd::Value(Randomness::from_hash(&b, self.hash_seed)))
        };
        let (rnd, mut carrier, err) = match self.mode {
            Mode::HashSeed => {
                let mut rnd = Rnd::Missing;
                if self.logs_trace_id {
                    rnd = Rnd::Value(Randomness::from_hash(
                        &trace_id16(&log.trace_id),
                        self.hash_seed,
                    ));
                }
                if rnd == Rnd::Missing {
                    rnd = from_attr().unwrap_or(Rnd::Missing);
                }
                match parsed {
                    Err(e) => (rnd, None, Some(e)),
                    Ok(mut c) => {
                        let err = if c.rv.is_some() {
                            Some("log record has sampling randomness, equalizing or proportional mode recommended".to_string())
                        } else if c.th.is_some() {
                            Some("log record has sampling threshold, equalizing or proportional mode recommended".to_string())
                        } else {
                            if let Rnd::Value(r) = rnd {
                                c.rv = Some(r);
                            }
                            None
                        };
                        (rnd, Some(c), err)
                    }
                }
            }
            Mode::Equalizing | Mode::Proportional => match parsed {
                Err(e) => (Rnd::Missing, None, Some(e)),
                Ok(c) => {
                    let rnd = match c.rv {
                        Some(rv) => Rnd::Value(rv),
                        None if !log.trace_id.is_empty()
                            && log.trace_id.iter().any(|b| *b != 0) =>
                        {
                            Rnd::Value(Randomness::from_trace_id(&log.trace_id))
                        }
                        None => from_attr().unwrap_or(Rnd::Missing),
                    };
                    (rnd, Some(c), None)
                }
            },
        };
        let keep = self.should_keep(rnd, &mut carrier, err, Priority::Defer);
        if keep {
            if let Some(c) = carrier {
                c.to_log_attributes(&mut log.attributes);
            }
        }
        keep
    }

    pub fn process_traces(&self, req: &mut ExportTraceServiceRequest) -> u64 {
        let mut kept = 0u64;
        req.resource_spans.retain_mut(|rs| {
            rs.scope_spans.retain_mut(|ss| {
                ss.spans.retain_mut(|s| self.keep_span(s));
                kept += ss.spans.len() as u64;
                !ss.spans.is_empty()
            });
            !rs.scope_spans.is_empty()
        });
        kept
    }

    pub fn process_logs(&self, req: &mut ExportLogsServiceRequest) -> u64 {
        let mut kept = 0u64;
        req.resource_logs.retain_mut(|rl| {
            rl.scope_logs.retain_mut(|sl| {
                sl.log_records.retain_mut(|l| self.keep_log(l));
                kept += sl.log_records.len() as u64;
                !sl.log_records.is_empty()
            });
            !rl.scope_logs.is_empty()
        });
        kept
    }
}

/// An empty trace ID hashes as 16 zero bytes, as pdata's fixed-size TraceID does.
fn trace_id16(tid: &[u8]) -> Vec<u8> {
    if tid.is_empty() {
        vec![0; 16]
    } else {
        tid.to_vec()
    }
}

/// `consistencyCheck`: randomness must exist, and an arriving threshold must admit it (an
/// inconsistent one is cleared).
fn consistency_check(rnd: Rnd, carrier: Option<&mut Carrier>) -> Option<String> {
    let Rnd::Value(r) = rnd else {
        return Some("missing randomness".into());
    };
    let c = carrier?;
    match c.th {
        Some(th) if !th.should_sample(r) => {
            c.th = None;
            Some("inconsistent arriving t-value: span should not have been sampled".into())
        }
        _ => None,
    }
}

/// `parseSpanSamplingPriority` (OpenTracing's `sampling.priority`).
fn span_priority(attrs: &[KeyValue]) -> Priority {
    let Some(v) = av::get(attrs, "sampling.priority") else {
        return Priority::Defer;
    };
    let n = match &v.value {
        Some(V::IntValue(i)) => *i as f64,
        Some(V::DoubleValue(d)) => *d,
        Some(V::StringValue(s)) => match s.trim().parse::<f64>() {
            Ok(d) => d,
            Err(_) => return Priority::Defer,
        },
        _ => return Priority::Defer,
    };
    if n == 0.0 {
        Priority::DoNot
    } else if n > 0.0 {
        Priority::Must
    } else {
        Priority::Defer
    }
}

struct State {
    traces: Sampler,
    logs: Sampler,
    output: Output,
}

struct Shared {
    state: RwLock<Arc<State>>,
    flow: ItemFlowMetrics,
}

struct SamplerInput(Arc<Shared>);

#[async_trait::async_trait]
impl OtlpConsumer for SamplerInput {
    async fn consume(&self, payload: OtlpPayload) -> Result<(), ConsumeError> {
        let state = current_shared(&self.0.state);
        let signal = payload.signal;
        self.0.flow.incoming(signal, payload.items);
        let bad = |e: prost::DecodeError| {
            ConsumeError::Permanent(format!("cannot decode OTLP request: {e}"))
        };
        let (encoded, kept) = match signal {
            Signal::Traces => {
                let mut req = ExportTraceServiceRequest::decode(payload.encoded).map_err(bad)?;
                let kept = state.traces.process_traces(&mut req);
                (req.encode_to_vec(), kept)
            }
            Signal::Logs => {
                let mut req = ExportLogsServiceRequest::decode(payload.encoded).map_err(bad)?;
                let kept = state.logs.process_logs(&mut req);
                (req.encode_to_vec(), kept)
            }
            // The sampler handles traces and logs only; Alloy wires no metrics through it.
            Signal::Metrics => {
                return Err(ConsumeError::Permanent(
                    "otelcol.processor.probabilistic_sampler does not accept metrics".into(),
                ))
            }
        };
        self.0.flow.outgoing(signal, kept);
        if kept == 0 {
            // Everything was sampled out: nothing to forward (the Collector's skip).
            return Ok(());
        }
        state
            .output
            .consume(OtlpPayload {
                signal,
                encoded: encoded.into(),
                items: kept,
            })
            .await
    }
}

pub struct ProbabilisticSampler {
    shared: Arc<Shared>,
}

impl ProbabilisticSampler {
    pub fn input(&self) -> OtlpConsumerRef {
        Arc::new(SamplerInput(Arc::clone(&self.shared)))
    }
}

fn state_from(args: Args) -> State {
    State {
        traces: Sampler::new(&args, false),
        logs: Sampler::new(&args, true),
        output: args.output,
    }
}

impl TypedComponent for ProbabilisticSampler {
    const NAME: &'static str = "otelcol.processor.probabilistic_sampler";
    const EXPORTS: &'static [&'static str] = &["input"];
    type Args = Args;

    fn validate(args: &Args) -> Result<(), String> {
        args.validate()
    }

    fn build(opts: ComponentOptions, args: Args) -> Result<Self, ComponentError> {
        args.validate().map_err(ComponentError::Config)?;
        let flow = ItemFlowMetrics::new(processor_label("probabilistic_sampler", &opts.id))
            .and_then(|f| f.register(&opts.registry).map(|()| f))
            .map_err(|e| ComponentError::Other(format!("registering self-metrics: {e}")))?;
        let shared = Arc::new(Shared {
            state: RwLock::new(Arc::new(state_from(args))),
            flow,
        });
        let input: OtlpConsumerRef = Arc::new(SamplerInput(Arc::clone(&shared)));
        publish_input(&opts, input);
        Ok(ProbabilisticSampler { shared })
    }
}

impl Component for ProbabilisticSampler {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        idle_until_shutdown(shutdown)
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let args = args.downcast::<Args>()?;
        args.validate().map_err(ComponentError::Config)?;
        let state = Arc::new(state_from(args));
        replace_shared(&self.shared.state, state);
        Ok(())
    }
}
