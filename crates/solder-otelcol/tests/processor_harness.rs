//! Shared test harness for the `otelcol.processor.*` / `otelcol.exporter.debug` integration tests
//! (included by each `processor_*.rs` with `#[path]`): config text is parsed, evaluated against
//! a scope holding a recording consumer (`sink.rec`), decoded by the registered builder and built
//! with real options; payloads are built with the official OTLP proto types.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::{
    otlp_consumer_value, OtlpConsumer, OtlpConsumerRef, OtlpPayload, Signal,
};
use solder_core::{
    AnyArgs, ComponentBuilder, ComponentOptions, ExportSink, HealthReporter, HostInfo,
};
use solder_syntax::ast::Stmt;
use solder_syntax::eval::eval_body;
use solder_syntax::parser::parse_file;
use solder_syntax::{Diagnostics, FileId, Object, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records every payload; returns `fail` (when set) instead of accepting.
#[derive(Default)]
pub struct Recorder {
    pub payloads: Mutex<Vec<OtlpPayload>>,
    pub fail: Mutex<Option<ConsumeError>>,
}

#[async_trait::async_trait]
impl OtlpConsumer for Recorder {
    async fn consume(&self, payload: OtlpPayload) -> Result<(), ConsumeError> {
        if let Some(err) = self.fail.lock().unwrap().clone() {
            return Err(err);
        }
        self.payloads.lock().unwrap().push(payload);
        Ok(())
    }
}

impl Recorder {
    pub fn take(&self) -> Vec<OtlpPayload> {
        std::mem::take(&mut *self.payloads.lock().unwrap())
    }

    pub fn count(&self) -> usize {
        self.payloads.lock().unwrap().len()
    }

    pub fn set_fail(&self, err: Option<ConsumeError>) {
        *self.fail.lock().unwrap() = err;
    }
}

#[derive(Default)]
pub struct RecordingExports(pub Mutex<Vec<Value>>);

impl ExportSink for RecordingExports {
    fn publish(&self, exports: Value) {
        self.0.lock().unwrap().push(exports);
    }
}

impl RecordingExports {
    pub fn input(&self) -> OtlpConsumerRef {
        match self.0.lock().unwrap().last() {
            Some(Value::Object(o)) => match o.get("input") {
                Some(Value::Capsule(c)) => c.downcast_ref::<OtlpConsumerRef>().unwrap().clone(),
                other => panic!("no input export: {other:?}"),
            },
            other => panic!("no exports published: {other:?}"),
        }
    }
}

/// A scope with `sink.rec`, a recording consumer.
pub fn sink_scope(rec: &Arc<Recorder>) -> Object {
    let mut sink = Object::new();
    sink.insert(
        "rec".into(),
        otlp_consumer_value(rec.clone() as OtlpConsumerRef),
    );
    let mut scope = Object::new();
    scope.insert("sink".into(), Value::Object(sink));
    scope
}

/// Parse `<name> "test" { body }`, evaluate against `scope` and decode with `builder`.
pub fn decode(
    builder: &dyn ComponentBuilder,
    body: &str,
    scope: &Object,
) -> Result<AnyArgs, Diagnostics> {
    let src = format!("{} \"test\" {{\n{body}\n}}\n", builder.name());
    let (file, diags) = parse_file(&src, FileId(0));
    assert!(!diags.has_errors(), "parse errors: {diags:?}");
    let Some(Stmt::Block(block)) = file.body.first() else {
        panic!("no block parsed")
    };
    let value = eval_body(&block.body, block.span, scope)?;
    builder.decode(&value)
}

/// The error messages of a body that must not decode.
pub fn decode_err(builder: &dyn ComponentBuilder, body: &str) -> String {
    let rec = Arc::new(Recorder::default());
    match decode(builder, body, &sink_scope(&rec)) {
        Ok(_) => panic!("config decoded but should not have:\n{body}"),
        Err(d) => d
            .iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

pub struct Built {
    pub opts: ComponentOptions,
    pub exports: Arc<RecordingExports>,
    pub registry: prometheus::Registry,
}

pub fn options(id: &str) -> Built {
    let exports = Arc::new(RecordingExports::default());
    let registry = prometheus::Registry::new();
    let opts = ComponentOptions {
        id: id.into(),
        data_dir: std::env::temp_dir().join("solder-otelproc-unused"),
        registry: registry.clone(),
        health: HealthReporter::new(),
        host: Arc::new(HostInfo {
            http_listen_addr: "127.0.0.1:12345".into(),
            http_memory_addr: "alloy.internal:12345".into(),
            hostname: "test-host".into(),
            self_registry: prometheus::Registry::new(),
        }),
        exports: exports.clone(),
    };
    Built {
        opts,
        exports,
        registry,
    }
}

/// Sum of every series of a metric family (counter, gauge, or a histogram's sample count);
/// `None` when the family has no series.
pub fn metric(registry: &prometheus::Registry, name: &str) -> Option<f64> {
    let families = registry.gather();
    let family = families.iter().find(|f| f.name() == name)?;
    let mut total = 0.0;
    for m in family.get_metric() {
        total += match family.get_field_type() {
            prometheus::proto::MetricType::COUNTER => m.get_counter().get_value(),
            prometheus::proto::MetricType::GAUGE => m.get_gauge().get_value(),
            prometheus::proto::MetricType::HISTOGRAM => m.get_histogram().get_sample_count() as f64,
            other => panic!("{name}: unexpected type {other:?}"),
        };
    }
    Some(total)
}

/// Wait until `cond` holds, for at most two seconds.
pub async fn eventually(mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(cond(), "condition not met in time");
}

// ---- payloads ---------------------------------------------------------------------------------

pub fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

pub fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", service)],
        ..Default::default()
    })
}

pub fn span_named(name: &str, trace_id: [u8; 16]) -> Span {
    Span {
        trace_id: trace_id.to_vec(),
        span_id: vec![1; 8],
        name: name.into(),
        ..Default::default()
    }
}

/// One resource per entry of `resources`: (service name, span names).
pub fn traces(resources: &[(&str, &[&str])]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: resources
            .iter()
            .map(|(svc, spans)| ResourceSpans {
                resource: resource(svc),
                scope_spans: vec![ScopeSpans {
                    spans: spans.iter().map(|n| span_named(n, [7; 16])).collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

pub fn logs(resources: &[(&str, &[&str])]) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: resources
            .iter()
            .map(|(svc, bodies)| ResourceLogs {
                resource: resource(svc),
                scope_logs: vec![ScopeLogs {
                    log_records: bodies
                        .iter()
                        .map(|b| LogRecord {
                            body: Some(AnyValue {
                                value: Some(any_value::Value::StringValue((*b).into())),
                            }),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

/// One resource per entry: (service name, metric names); each metric is a gauge with `points`
/// data points.
pub fn metrics(resources: &[(&str, &[&str])], points: usize) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: resources
            .iter()
            .map(|(svc, names)| ResourceMetrics {
                resource: resource(svc),
                scope_metrics: vec![ScopeMetrics {
                    metrics: names
                        .iter()
                        .map(|n| Metric {
                            name: (*n).into(),
                            data: Some(metric::Data::Gauge(Gauge {
                                data_points: (0..points)
                                    .map(|i| NumberDataPoint {
                                        time_unix_nano: i as u64,
                                        ..Default::default()
                                    })
                                    .collect(),
                            })),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

pub fn traces_payload(req: &ExportTraceServiceRequest) -> OtlpPayload {
    let items = req
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len() as u64)
        .sum();
    OtlpPayload {
        signal: Signal::Traces,
        encoded: req.encode_to_vec().into(),
        items,
    }
}

pub fn logs_payload(req: &ExportLogsServiceRequest) -> OtlpPayload {
    let items = req
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len() as u64)
        .sum();
    OtlpPayload {
        signal: Signal::Logs,
        encoded: req.encode_to_vec().into(),
        items,
    }
}

pub fn metrics_payload(req: &ExportMetricsServiceRequest) -> OtlpPayload {
    let items = req
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| match &m.data {
            Some(metric::Data::Gauge(g)) => g.data_points.len() as u64,
            _ => 0,
        })
        .sum();
    OtlpPayload {
        signal: Signal::Metrics,
        encoded: req.encode_to_vec().into(),
        items,
    }
}

pub fn decode_traces(p: &OtlpPayload) -> ExportTraceServiceRequest {
    assert_eq!(p.signal, Signal::Traces);
    ExportTraceServiceRequest::decode(p.encoded.clone()).unwrap()
}

pub fn decode_logs(p: &OtlpPayload) -> ExportLogsServiceRequest {
    assert_eq!(p.signal, Signal::Logs);
    ExportLogsServiceRequest::decode(p.encoded.clone()).unwrap()
}

pub fn decode_metrics(p: &OtlpPayload) -> ExportMetricsServiceRequest {
    assert_eq!(p.signal, Signal::Metrics);
    ExportMetricsServiceRequest::decode(p.encoded.clone()).unwrap()
}

/// Span names in order.
pub fn span_names(req: &ExportTraceServiceRequest) -> Vec<String> {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.name.clone())
        .collect()
}
