//! `otelcol.exporter.loki` conversion: labels from hints and resource, the JSON/logfmt/raw
//! line formats, timestamps, and the component's push path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use solder_core::consume::ConsumeError;
use solder_core::signals::logs::{LogEntry, LogsReceiver};
use solder_core::signals::metrics::Labels;
use solder_core::signals::otlp::{OtlpPayload, Signal};
use solder_core::{ComponentOptions, ExportSink, HealthReporter, HostInfo, TypedComponent};
use solder_otelcol::exporter::loki::{convert_request, Args, LokiExporter};
use solder_syntax::types::CapsuleOf;
use std::sync::{Arc, Mutex};

const NOW: i64 = 42;

fn v(value: any_value::Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(value) })
}

fn s(x: &str) -> Option<AnyValue> {
    v(any_value::Value::StringValue(x.into()))
}

fn kv(k: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: k.into(),
        value,
        ..Default::default()
    }
}

fn req(
    resource: Vec<KeyValue>,
    scope: InstrumentationScope,
    records: Vec<LogRecord>,
) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn record(body: &str, attrs: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        time_unix_nano: 1_000,
        body: s(body),
        attributes: attrs,
        ..Default::default()
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    )
}

fn one(r: ExportLogsServiceRequest) -> LogEntry {
    let (mut entries, failed) = convert_request(&r, NOW);
    assert_eq!(failed, 0);
    assert_eq!(entries.len(), 1);
    entries.remove(0)
}

#[test]
fn documented_example_attribute_hint() {
    // The documented example: attr.1 promoted to a label, the rest stays in the JSON line.
    let mut rec = record(
        "AUTH log message",
        vec![
            kv("attr.1", s("12345")),
            kv("attr.2", s("fake_token")),
            kv("loki.attribute.labels", s("attr.1")),
        ],
    );
    rec.severity_text = "Info".into();
    let e = one(req(vec![], InstrumentationScope::default(), vec![rec]));
    assert_eq!(
        e.labels,
        labels(&[("attr_1", "12345"), ("exporter", "OTLP")])
    );
    assert_eq!(
        e.line,
        r#"{"body":"AUTH log message","severity":"Info","attributes":{"attr.2":"fake_token"}}"#
    );
    assert_eq!(e.timestamp_ns, 1_000);
}

#[test]
fn label_table() {
    type Case = (
        &'static str,
        Vec<KeyValue>,
        Vec<KeyValue>,
        i32,
        Vec<(&'static str, &'static str)>,
    );
    let cases: Vec<Case> = vec![
        (
            "exporter label only",
            vec![],
            vec![],
            0,
            vec![("exporter", "OTLP")],
        ),
        (
            "job and instance from the resource",
            vec![
                kv("service.namespace", s("ns")),
                kv("service.name", s("api")),
                kv("service.instance.id", s("i-1")),
            ],
            vec![],
            0,
            vec![("exporter", "OTLP"), ("instance", "i-1"), ("job", "ns/api")],
        ),
        (
            "level from severity number",
            vec![],
            vec![],
            13,
            vec![("exporter", "OTLP"), ("level", "WARN")],
        ),
        (
            "an existing level attribute wins",
            vec![],
            vec![kv("level", s("custom"))],
            9,
            vec![("exporter", "OTLP"), ("level", "custom")],
        ),
        (
            "resource hint on the resource, comma separated with spaces",
            vec![
                kv("k8s.pod.name", s("p")),
                kv("host.name", s("h")),
                kv("loki.resource.labels", s("k8s.pod.name, host.name")),
            ],
            vec![],
            0,
            vec![
                ("exporter", "OTLP"),
                ("host_name", "h"),
                ("k8s_pod_name", "p"),
            ],
        ),
        (
            "resource hint on the record selects resource attributes",
            vec![kv("region", s("eu"))],
            vec![kv("loki.resource.labels", s("region"))],
            0,
            vec![("exporter", "OTLP"), ("region", "eu")],
        ),
        (
            "attribute hint as a list, numbers rendered as strings",
            vec![],
            vec![
                kv("status", v(any_value::Value::IntValue(500))),
                kv(
                    "loki.attribute.labels",
                    v(any_value::Value::ArrayValue(ArrayValue {
                        values: vec![s("status").unwrap()],
                    })),
                ),
            ],
            0,
            vec![("exporter", "OTLP"), ("status", "500")],
        ),
        (
            "nested attribute through a map",
            vec![],
            vec![
                kv(
                    "http",
                    v(any_value::Value::KvlistValue(KeyValueList {
                        values: vec![kv("method", s("GET"))],
                    })),
                ),
                kv("loki.attribute.labels", s("http.method")),
            ],
            0,
            vec![("exporter", "OTLP"), ("http_method", "GET")],
        ),
        (
            "missing hinted attribute is ignored",
            vec![],
            vec![kv("loki.attribute.labels", s("nope"))],
            0,
            vec![("exporter", "OTLP")],
        ),
    ];
    for (name, res, attrs, sev, want) in cases {
        let mut rec = record("x", attrs);
        rec.severity_number = sev;
        let e = one(req(res, InstrumentationScope::default(), vec![rec]));
        assert_eq!(e.labels, labels(&want), "case: {name}");
    }
}

#[test]
fn json_line_fields_and_removals() {
    let rec = LogRecord {
        time_unix_nano: 0,
        observed_time_unix_nano: 7,
        severity_number: 9,
        severity_text: "INFO".into(),
        body: v(any_value::Value::KvlistValue(KeyValueList {
            values: vec![
                kv("msg", s("<hi>")),
                kv("n", v(any_value::Value::DoubleValue(1.0))),
            ],
        })),
        attributes: vec![
            kv("b", s("2")),
            kv("a", s("1")),
            kv("loki.format", s("json")),
        ],
        trace_id: vec![0x01; 16],
        span_id: vec![0x02; 8],
        flags: 1,
        ..Default::default()
    };
    let e = one(req(
        vec![
            kv("service.name", s("api")),
            kv("host", s("h1")),
            kv("loki.tenant", s("host")),
        ],
        InstrumentationScope {
            name: "lib".into(),
            version: "1.0".into(),
            ..Default::default()
        },
        vec![rec],
    ));
    assert_eq!(
        e.line,
        concat!(
            r#"{"body":{"msg":"\u003chi\u003e","n":1},"traceid":"01010101010101010101010101010101","#,
            r#""spanid":"0202020202020202","severity":"INFO","flags":1,"attributes":{"a":"1","b":"2"},"#,
            r#""resources":{"host":"h1","service.name":"api"},"instrumentation_scope":{"name":"lib","version":"1.0"}}"#
        )
    );
    // Observed time is the fallback.
    assert_eq!(e.timestamp_ns, 7);
    assert_eq!(
        e.labels,
        labels(&[("exporter", "OTLP"), ("job", "api"), ("level", "INFO")])
    );
}

#[test]
fn raw_and_logfmt_formats() {
    let raw = one(req(
        vec![kv("loki.format", s("raw"))],
        InstrumentationScope::default(),
        vec![record("plain text line", vec![kv("a", s("1"))])],
    ));
    assert_eq!(raw.line, "plain text line");

    let mut rec = record(
        "level=info msg=\"hello world\"",
        vec![kv("user", s("bob")), kv("loki.format", s("logfmt"))],
    );
    rec.severity_text = "INFO".into();
    let lf = one(req(
        vec![kv("region", s("eu"))],
        InstrumentationScope::default(),
        vec![rec],
    ));
    assert_eq!(
        lf.line,
        r#"level=info msg="hello world" severity=INFO attribute_user=bob resource_region=eu"#
    );
}

#[test]
fn invalid_format_drops_the_record_and_no_time_uses_now() {
    let bad = record("x", vec![kv("loki.format", s("xml"))]);
    let mut timeless = record("y", vec![]);
    timeless.time_unix_nano = 0;
    let (entries, failed) = convert_request(
        &req(vec![], InstrumentationScope::default(), vec![bad, timeless]),
        NOW,
    );
    assert_eq!(failed, 1);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].timestamp_ns, NOW);
    assert_eq!(entries[0].line, r#"{"body":"y"}"#);
}

// ---- component path ----

struct NullSink;
impl ExportSink for NullSink {
    fn publish(&self, _exports: solder_syntax::Value) {}
}

#[derive(Default)]
struct Capture(Mutex<Vec<LogEntry>>);

#[async_trait::async_trait]
impl LogsReceiver for Capture {
    async fn push(&self, entries: Vec<LogEntry>) -> Result<(), ConsumeError> {
        self.0.lock().unwrap().extend(entries);
        Ok(())
    }
}

#[tokio::test]
async fn input_pushes_converted_entries() {
    let cap = Arc::new(Capture::default());
    let opts = ComponentOptions {
        id: "otelcol.exporter.loki.test".into(),
        data_dir: std::env::temp_dir(),
        registry: prometheus::Registry::new(),
        health: HealthReporter::new(),
        host: Arc::new(HostInfo {
            http_listen_addr: "127.0.0.1:12345".into(),
            http_memory_addr: "alloy.internal:12345".into(),
            hostname: "test".into(),
            self_registry: prometheus::Registry::new(),
        }),
        exports: Arc::new(NullSink),
    };
    let registry = opts.registry.clone();
    let exporter = LokiExporter::build(
        opts,
        Args {
            forward_to: vec![CapsuleOf(cap.clone() as Arc<dyn LogsReceiver>)],
        },
    )
    .unwrap();
    let r = req(
        vec![],
        InstrumentationScope::default(),
        vec![
            record("a", vec![]),
            record("b", vec![kv("loki.format", s("bad"))]),
        ],
    );
    let payload = OtlpPayload {
        signal: Signal::Logs,
        encoded: r.encode_to_vec().into(),
        items: 2,
    };
    exporter.input().consume(payload).await.unwrap();
    let got = cap.0.lock().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].line, r#"{"body":"a"}"#);
    let families = registry.gather();
    let value = |name: &str| {
        families
            .iter()
            .find(|f| f.name() == name)
            .map(|f| f.get_metric()[0].get_counter().get_value())
    };
    assert_eq!(value("otelcol_exporter_loki_entries_total"), Some(2.0));
    assert_eq!(value("otelcol_exporter_loki_entries_failed"), Some(1.0));
    assert_eq!(value("otelcol_exporter_loki_entries_processed"), Some(1.0));
}
