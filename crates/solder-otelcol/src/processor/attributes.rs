//! `otelcol.processor.attributes`: inserts, updates, deletes, hashes, extracts and converts
//! attributes of spans, log records and metric data points, optionally only for data selected by
//! `include` / `exclude` blocks (checked in that order; unselected data passes unchanged).
//!
//! Behaviour follows the contrib `attributesprocessor` with `internal/coreinternal/attraction`
//! (hash = SHA-256 hex) and the `filterspan` / `filterlog` / `filtermetric` matchers. Nothing is
//! dropped. `from_context` needs client metadata, which Solder payloads do not carry, so it is
//! rejected.
//!
//! Traces and logs are processed on the encoded request ([`encoded`]): only changed attribute
//! lists are re-encoded. Requests that path does not handle (malformed or unusual input) and
//! metrics are decoded with prost, modified and re-encoded ([`Compiled::process_prost`]).

mod action;
mod edit;
mod encoded;
mod fast;
mod matcher;
mod pb;
pub mod value;

#[cfg(test)]
mod tests;

pub use action::{sha256_hex, ActionArgs};
pub use matcher::{AttributeArgs, LibraryArgs, MatchArgs, RegexpArgs, SeverityArgs};

use super::common::{processor_label, DebugMetricsArgs, ItemFlowMetrics};
use crate::component_util::{current_shared, idle_until_shutdown, publish_input, replace_shared};
use crate::output::Output;
use action::Action;
use matcher::{selected, validate_for, Matcher};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message;
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::{OtlpConsumer, OtlpConsumerRef, OtlpPayload, Signal};
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, Registry, Typed,
    TypedComponent,
};
use std::sync::{Arc, RwLock};
use tokio_util::sync::CancellationToken;

pub fn register(reg: &mut Registry) {
    reg.register(Typed::<AttributesProcessor>::new());
}

/// The component's arguments, as written in config.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Args {
    #[serde(default)]
    pub action: Vec<ActionArgs>,
    #[serde(default)]
    pub include: Option<MatchArgs>,
    #[serde(default)]
    pub exclude: Option<MatchArgs>,
    pub output: Output,
    #[serde(default)]
    pub debug_metrics: DebugMetricsArgs,
}

/// Everything a request is processed with, compiled once per (re)configuration.
pub struct Compiled {
    actions: Vec<Action>,
    include: Option<Matcher>,
    exclude: Option<Matcher>,
    /// The encoded path's shortcut, when the actions admit it ([`fast::Plan::new`]).
    fast: Option<fast::Plan>,
}

impl Args {
    pub fn compile(&self) -> Result<Compiled, String> {
        self.debug_metrics.validate()?;
        let actions = action::compile(&self.action)?;
        // The Collector builds a matcher per signal it is wired for, so the per-signal checks
        // apply only to the signals this component has consumers for.
        for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
            if self.output.consumers(signal).is_empty() {
                continue;
            }
            for (which, m) in [("include", &self.include), ("exclude", &self.exclude)] {
                if let Some(m) = m {
                    validate_for(m, signal)
                        .map_err(|e| format!("error getting '{which}' match properties: {e}"))?;
                }
            }
        }
        let include = self.include.as_ref().map(Matcher::new).transpose()?;
        let exclude = self.exclude.as_ref().map(Matcher::new).transpose()?;
        Ok(Compiled::new(actions, include, exclude))
    }
}

impl Compiled {
    /// Compile actions and include/exclude blocks without an `Args` (benchmarks, tests); the
    /// per-signal checks of [`Args::compile`] are not run.
    pub fn from_parts(
        actions: &[ActionArgs],
        include: Option<&MatchArgs>,
        exclude: Option<&MatchArgs>,
    ) -> Result<Compiled, String> {
        Ok(Compiled::new(
            action::compile(actions)?,
            include.map(Matcher::new).transpose()?,
            exclude.map(Matcher::new).transpose()?,
        ))
    }

    fn new(actions: Vec<Action>, include: Option<Matcher>, exclude: Option<Matcher>) -> Self {
        Compiled {
            fast: fast::Plan::new(&actions),
            actions,
            include,
            exclude,
        }
    }

    fn sel(&self, f: impl Fn(&Matcher) -> bool) -> bool {
        selected(self.include.as_ref(), self.exclude.as_ref(), f)
    }

    pub fn process_traces(&self, req: &mut ExportTraceServiceRequest) {
        for rs in &mut req.resource_spans {
            let resource = rs.resource.as_ref();
            for ss in &mut rs.scope_spans {
                let scope = ss.scope.as_ref();
                for span in &mut ss.spans {
                    if self.sel(|m| m.matches_span(span, resource, scope)) {
                        action::apply(&self.actions, &mut span.attributes);
                    }
                }
            }
        }
    }

    pub fn process_logs(&self, req: &mut ExportLogsServiceRequest) {
        for rl in &mut req.resource_logs {
            let resource = rl.resource.as_ref();
            for sl in &mut rl.scope_logs {
                let scope = sl.scope.as_ref();
                for log in &mut sl.log_records {
                    if self.sel(|m| m.matches_log(log, resource, scope)) {
                        action::apply(&self.actions, &mut log.attributes);
                    }
                }
            }
        }
    }

    pub fn process_metrics(&self, req: &mut ExportMetricsServiceRequest) {
        for rm in &mut req.resource_metrics {
            let resource = rm.resource.as_ref();
            for sm in &mut rm.scope_metrics {
                for metric in &mut sm.metrics {
                    if !self.sel(|m| m.matches_metric(&metric.name, resource)) {
                        continue;
                    }
                    let a = &self.actions;
                    match &mut metric.data {
                        Some(Data::Gauge(g)) => g
                            .data_points
                            .iter_mut()
                            .for_each(|p| action::apply(a, &mut p.attributes)),
                        Some(Data::Sum(s)) => s
                            .data_points
                            .iter_mut()
                            .for_each(|p| action::apply(a, &mut p.attributes)),
                        Some(Data::Histogram(h)) => h
                            .data_points
                            .iter_mut()
                            .for_each(|p| action::apply(a, &mut p.attributes)),
                        Some(Data::ExponentialHistogram(h)) => h
                            .data_points
                            .iter_mut()
                            .for_each(|p| action::apply(a, &mut p.attributes)),
                        Some(Data::Summary(s)) => s
                            .data_points
                            .iter_mut()
                            .for_each(|p| action::apply(a, &mut p.attributes)),
                        None => {}
                    }
                }
            }
        }
    }

    /// Process one request. Traces and logs take the encoded path; whatever it leaves (input
    /// prost must judge, e.g. malformed requests) and metrics take the prost path, so results
    /// and errors are those of [`Compiled::process_prost`].
    pub fn process(&self, payload: OtlpPayload) -> Result<OtlpPayload, prost::DecodeError> {
        match encoded::process(self, payload.signal, &payload.encoded) {
            Ok(encoded::Outcome::Unchanged) => Ok(payload),
            Ok(encoded::Outcome::Rewritten(encoded)) => Ok(OtlpPayload {
                signal: payload.signal,
                encoded: encoded.into(),
                items: payload.items,
            }),
            Err(pb::Unhandled) => self.process_prost(payload),
        }
    }

    /// Decode, modify and re-encode one request with prost (the reference behaviour).
    pub fn process_prost(&self, payload: OtlpPayload) -> Result<OtlpPayload, prost::DecodeError> {
        let encoded = match payload.signal {
            Signal::Traces => {
                let mut req = ExportTraceServiceRequest::decode(payload.encoded)?;
                self.process_traces(&mut req);
                req.encode_to_vec()
            }
            Signal::Logs => {
                let mut req = ExportLogsServiceRequest::decode(payload.encoded)?;
                self.process_logs(&mut req);
                req.encode_to_vec()
            }
            Signal::Metrics => {
                let mut req = ExportMetricsServiceRequest::decode(payload.encoded)?;
                self.process_metrics(&mut req);
                req.encode_to_vec()
            }
        };
        Ok(OtlpPayload {
            signal: payload.signal,
            encoded: encoded.into(),
            items: payload.items,
        })
    }
}

struct State {
    compiled: Compiled,
    output: Output,
}

struct Shared {
    state: RwLock<Arc<State>>,
    flow: ItemFlowMetrics,
}

struct AttributesInput(Arc<Shared>);

#[async_trait::async_trait]
impl OtlpConsumer for AttributesInput {
    async fn consume(&self, payload: OtlpPayload) -> Result<(), ConsumeError> {
        let state = current_shared(&self.0.state);
        let (signal, items) = (payload.signal, payload.items);
        self.0.flow.incoming(signal, items);
        // Without actions nothing can change: skip the decode.
        let out = if state.compiled.actions.is_empty() {
            payload
        } else {
            state
                .compiled
                .process(payload)
                .map_err(|e| ConsumeError::Permanent(format!("cannot decode OTLP request: {e}")))?
        };
        self.0.flow.outgoing(signal, items);
        state.output.consume(out).await
    }
}

pub struct AttributesProcessor {
    shared: Arc<Shared>,
}

impl AttributesProcessor {
    pub fn input(&self) -> OtlpConsumerRef {
        Arc::new(AttributesInput(Arc::clone(&self.shared)))
    }
}

impl TypedComponent for AttributesProcessor {
    const NAME: &'static str = "otelcol.processor.attributes";
    const EXPORTS: &'static [&'static str] = &["input"];
    type Args = Args;

    fn validate(args: &Args) -> Result<(), String> {
        args.compile().map(|_| ())
    }

    fn build(opts: ComponentOptions, args: Args) -> Result<Self, ComponentError> {
        let compiled = args.compile().map_err(ComponentError::Config)?;
        let flow = ItemFlowMetrics::new(processor_label("attributes", &opts.id))
            .and_then(|f| f.register(&opts.registry).map(|()| f))
            .map_err(|e| ComponentError::Other(format!("registering self-metrics: {e}")))?;
        let shared = Arc::new(Shared {
            state: RwLock::new(Arc::new(State {
                compiled,
                output: args.output,
            })),
            flow,
        });
        let input: OtlpConsumerRef = Arc::new(AttributesInput(Arc::clone(&shared)));
        publish_input(&opts, input);
        Ok(AttributesProcessor { shared })
    }
}

impl Component for AttributesProcessor {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        idle_until_shutdown(shutdown)
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let args = args.downcast::<Args>()?;
        let compiled = args.compile().map_err(ComponentError::Config)?;
        let state = Arc::new(State {
            compiled,
            output: args.output,
        });
        replace_shared(&self.shared.state, state);
        Ok(())
    }
}
