//! `otelcol.processor.attributes`: actions and include/exclude, driven through config text,
//! checked by decoding the forwarded requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "processor_harness.rs"]
mod harness;

use harness::*;
use opentelemetry_proto::tonic::common::v1::{any_value::Value as V, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::Span;
use solder_core::signals::otlp::OtlpConsumerRef;
use solder_core::{ComponentBuilder, Typed};
use solder_otelcol::processor::attributes::AttributesProcessor;
use std::sync::Arc;

/// Traces only: span-only match fields are config errors when logs are wired (as upstream).
const OUTPUT: &str = "output {\n  traces = [sink.rec]\n}";

fn builder() -> Typed<AttributesProcessor> {
    Typed::<AttributesProcessor>::new()
}

fn start(body: &str) -> (OtlpConsumerRef, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let args = decode(&builder(), &format!("{body}\n{OUTPUT}"), &sink_scope(&rec)).unwrap();
    let built = options("otelcol.processor.attributes.test");
    let _component = builder().build(built.opts.clone(), args).unwrap();
    (built.exports.input(), rec)
}

fn int(i: i64) -> AnyValue {
    AnyValue {
        value: Some(V::IntValue(i)),
    }
}

fn s(v: &str) -> AnyValue {
    AnyValue {
        value: Some(V::StringValue(v.into())),
    }
}

fn attr(k: &str, v: AnyValue) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(v),
        ..Default::default()
    }
}

fn attrs_of(kvs: &[KeyValue]) -> Vec<(String, AnyValue)> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect()
}

fn one_span(span: Span, service: &str) -> solder_core::signals::otlp::OtlpPayload {
    let mut req = traces(&[(service, &[])]);
    req.resource_spans[0].scope_spans[0].spans.push(span);
    traces_payload(&req)
}

async fn run_span(body: &str, span: Span, service: &str) -> Vec<(String, AnyValue)> {
    let (input, rec) = start(body);
    input.consume(one_span(span, service)).await.unwrap();
    let out = rec.take();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].items, 1);
    let req = decode_traces(&out[0]);
    attrs_of(&req.resource_spans[0].scope_spans[0].spans[0].attributes)
}

fn span_with(attrs: Vec<KeyValue>) -> Span {
    Span {
        name: "op".into(),
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        attributes: attrs,
        ..Default::default()
    }
}

#[tokio::test]
async fn actions_apply_in_order_like_attraction() {
    let body = r#"
action {
  key = "env"
  value = "prod"
  action = "insert"
}
action {
  key = "existing"
  value = "new"
  action = "insert"
}
action {
  key = "missing"
  value = 1
  action = "update"
}
action {
  key = "count"
  from_attribute = "existing"
  action = "upsert"
}
action {
  key = "secret"
  action = "hash"
}
action {
  key = "drop.me"
  action = "delete"
}
action {
  pattern = "^tmp\\."
  action = "delete"
}
action {
  key = "n"
  converted_type = "int"
  action = "convert"
}
action {
  key = "url"
  pattern = "^(?P<scheme>\\w+)://(?P<host>[^/]+)"
  action = "extract"
}
"#;
    let span = span_with(vec![
        attr("existing", s("old")),
        attr("count", int(3)),
        attr("secret", s("foo")),
        attr("drop.me", s("x")),
        attr("tmp.a", s("x")),
        attr("tmp.b", s("y")),
        attr("n", s("42")),
        attr("url", s("https://example.com/path")),
    ]);
    let got = run_span(body, span, "svc").await;
    let want = vec![
        ("existing".to_string(), s("old")),
        ("count".to_string(), s("old")),
        (
            "secret".to_string(),
            s("2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"),
        ),
        ("n".to_string(), int(42)),
        ("url".to_string(), s("https://example.com/path")),
        ("env".to_string(), s("prod")),
        ("scheme".to_string(), s("https")),
        ("host".to_string(), s("example.com")),
    ];
    assert_eq!(got, want);
}

#[tokio::test]
async fn include_and_exclude_select_spans() {
    let body = r#"
include {
  match_type = "strict"
  services = ["checkout"]
}
exclude {
  match_type = "regexp"
  span_names = ["^health"]
}
action {
  key = "touched"
  value = true
  action = "insert"
}
"#;
    let touched = |a: &[(String, AnyValue)]| a.iter().any(|(k, _)| k == "touched");
    let mut span = span_with(vec![]);
    assert!(touched(&run_span(body, span.clone(), "checkout").await));
    assert!(!touched(&run_span(body, span.clone(), "cart").await));
    span.name = "healthcheck".into();
    assert!(!touched(&run_span(body, span, "checkout").await));
}

#[tokio::test]
async fn attribute_and_kind_matchers() {
    let body = r#"
include {
  match_type = "strict"
  span_kinds = ["SPAN_KIND_SERVER"]
  attribute {
    key = "http.status_code"
    value = 500
  }
}
action {
  key = "error"
  value = "yes"
  action = "upsert"
}
"#;
    let mut span = span_with(vec![attr("http.status_code", int(500))]);
    span.kind = 2;
    let got = run_span(body, span.clone(), "a").await;
    assert!(got.contains(&("error".to_string(), s("yes"))));
    // A string "500" is not the int 500 under strict matching.
    span.attributes = vec![attr("http.status_code", s("500"))];
    let got = run_span(body, span.clone(), "a").await;
    assert!(!got.iter().any(|(k, _)| k == "error"));
    span.attributes = vec![attr("http.status_code", int(500))];
    span.kind = 3;
    let got = run_span(body, span, "a").await;
    assert!(!got.iter().any(|(k, _)| k == "error"));
}

#[tokio::test]
async fn logs_and_metric_points_are_processed() {
    let body = r#"
include {
  match_type = "regexp"
  log_bodies = ["error"]
  metric_names = ["^http_"]
  log_severity {
    min = "WARN"
    match_undefined = false
  }
}
action {
  key = "flag"
  value = "x"
  action = "insert"
}
"#;
    // Only the logs and metrics consumers: span fields would not be valid for logs.
    let rec = Arc::new(Recorder::default());
    let out = "output {\n  logs = [sink.rec]\n  metrics = [sink.rec]\n}";
    let args = decode(&builder(), &format!("{body}\n{out}"), &sink_scope(&rec)).unwrap();
    let built = options("otelcol.processor.attributes.test");
    let _c = builder().build(built.opts.clone(), args).unwrap();
    let input = built.exports.input();

    let mut req = logs(&[("svc", &["an error happened", "an error too", "fine"])]);
    let records: &mut Vec<LogRecord> = &mut req.resource_logs[0].scope_logs[0].log_records;
    records[0].severity_number = 17; // ERROR
    records[1].severity_number = 9; // INFO: below WARN
    records[2].severity_number = 17;
    input.consume(logs_payload(&req)).await.unwrap();
    let got = decode_logs(&rec.take()[0]);
    let flags: Vec<bool> = got.resource_logs[0].scope_logs[0]
        .log_records
        .iter()
        .map(|r| r.attributes.iter().any(|kv| kv.key == "flag"))
        .collect();
    assert_eq!(flags, [true, false, false]);

    let req = metrics(&[("svc", &["http_requests", "cpu"])], 2);
    input.consume(metrics_payload(&req)).await.unwrap();
    let got = decode_metrics(&rec.take()[0]);
    let ms = &got.resource_metrics[0].scope_metrics[0].metrics;
    let flagged = |i: usize| match &ms[i].data {
        Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Gauge(g)) => g
            .data_points
            .iter()
            .all(|p| p.attributes.iter().any(|kv| kv.key == "flag")),
        other => panic!("{other:?}"),
    };
    assert!(flagged(0));
    assert!(!flagged(1));
}

#[test]
fn validation_messages() {
    let cases: &[(&str, &str)] = &[
        (
            "action {\n  action = \"insert\"\n  value = 1\n}",
            "validation failed for action block number 1: the action insert requires the key argument to be set",
        ),
        (
            "action {\n  key = \"a\"\n  action = \"insert\"\n  from_context = \"metadata.x\"\n}",
            "from_context is not supported by Solder yet",
        ),
        (
            "include {\n  match_type = \"strict\"\n  log_bodies = [\"x\"]\n}",
            "log_bodies should not be specified for trace spans",
        ),
        (
            "include {\n  match_type = \"strict\"\n  span_kinds = [\"server\"]\n}",
            "span_kinds string must match one of the standard span kinds",
        ),
        (
            "include {\n  match_type = \"fuzzy\"\n  services = [\"a\"]\n}",
            "unrecognized match_type",
        ),
        (
            "include {\n  match_type = \"regexp\"\n  services = [\"a\"]\n  attribute {\n    key = \"k\"\n    value = 1\n  }\n}",
            "only supports Str",
        ),
    ];
    for (body, want) in cases {
        let err = decode_err(&builder(), &format!("{body}\n{OUTPUT}"));
        assert!(err.contains(want), "{body}: got {err:?}, want {want:?}");
    }
    // Span-only fields are rejected once a logs consumer is wired, as upstream does.
    let body = "include {\n  match_type = \"strict\"\n  services = [\"a\"]\n}\noutput {\n  traces = [sink.rec]\n  logs = [sink.rec]\n}";
    let err = decode_err(&builder(), body);
    assert!(
        err.contains("services, span_names, and span_kinds are not valid for log records"),
        "{err}"
    );
}
