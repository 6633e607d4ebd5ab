//! Shared by the OTLP end-to-end tests: run the real OpenTelemetry SDK clients (Python gRPC,
//! Python HTTP/protobuf, Node HTTP/JSON; installed by `scripts/install-otlp-clients.sh`), read
//! back what they say they sent, and compare it field by field with what the sink decoded.
#![allow(dead_code)]

use serde_json::{json, Map, Value};
use solder_e2e::otlp_sink::proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use solder_e2e::otlp_sink::proto::tonic::metrics::v1::{metric, number_data_point};
use solder_e2e::otlp_sink::{LogRow, MetricRow, SpanRow};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

/// The client cache: `$OTLP_CLIENTS_DIR` or `<repo>/target/otlp-clients`.
pub fn clients_dir() -> PathBuf {
    match std::env::var_os("OTLP_CLIENTS_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/otlp-clients"),
    }
}

fn scripts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/otlp_clients")
}

fn need(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-otlp-clients.sh first",
        path.display()
    );
    path
}

/// Which real client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    PythonGrpc,
    PythonHttpProto,
    NodeHttpJson,
}

/// What to send.
#[derive(Debug, Clone)]
pub struct Send {
    pub client: Client,
    /// gRPC: `host:port`; HTTP: `host:port` (the scheme and `/v1/...` are added).
    pub endpoint: String,
    /// A token unique to this send (names metrics, tags the resource).
    pub run: String,
    /// Id prefix: every client in one test needs its own so span ids never collide.
    pub seed: u64,
    pub spans: usize,
    pub logs: usize,
    pub signals: &'static str,
    /// Extra environment (e.g. `OTEL_EXPORTER_OTLP_COMPRESSION=gzip`).
    pub env: Vec<(&'static str, &'static str)>,
}

impl Send {
    pub fn new(client: Client, endpoint: &str, run: &str, seed: u64) -> Send {
        Send {
            client,
            endpoint: endpoint.to_string(),
            run: run.to_string(),
            seed,
            spans: 20,
            logs: 5,
            signals: "traces,metrics,logs",
            env: Vec::new(),
        }
    }

    /// Run the client to completion; the JSON it printed. Panics if any export failed.
    pub fn run(&self) -> Value {
        let (status, out) = self.run_raw();
        assert!(status, "{:?} client failed: {out}", self.client);
        serde_json::from_str(out.lines().last().unwrap_or(""))
            .unwrap_or_else(|e| panic!("{:?} client printed no JSON ({e}): {out}", self.client))
    }

    /// Run the client; (every export succeeded, stdout + stderr).
    pub fn run_raw(&self) -> (bool, String) {
        let dir = clients_dir();
        let url = format!("http://{}", self.endpoint);
        let mut cmd = match self.client {
            Client::PythonGrpc | Client::PythonHttpProto => {
                let mut c = Command::new(need(dir.join("venv/bin/python")));
                c.arg(scripts_dir().join("send.py")).args([
                    "--protocol",
                    if self.client == Client::PythonGrpc {
                        "grpc"
                    } else {
                        "http"
                    },
                ]);
                c
            }
            Client::NodeHttpJson => {
                let mut c = Command::new("node");
                c.env("NODE_PATH", need(dir.join("node/node_modules")))
                    .arg(scripts_dir().join("send.js"));
                c
            }
        };
        cmd.args(["--endpoint", &url, "--run", &self.run])
            .args(["--seed", &self.seed.to_string()])
            .args(["--spans", &self.spans.to_string()])
            .args(["--logs", &self.logs.to_string()])
            .args(["--signals", self.signals]);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }
}

/// An OTLP attribute value as the JSON the clients print (bytes as hex).
pub fn any_json(v: Option<&AnyValue>) -> Value {
    match v.and_then(|v| v.value.as_ref()) {
        None => Value::Null,
        Some(any_value::Value::StringValue(s)) => json!(s),
        Some(any_value::Value::BoolValue(b)) => json!(b),
        Some(any_value::Value::IntValue(i)) => json!(i),
        Some(any_value::Value::DoubleValue(d)) => json!(d),
        Some(any_value::Value::BytesValue(b)) => json!(hex(b)),
        Some(any_value::Value::ArrayValue(a)) => {
            Value::Array(a.values.iter().map(|v| any_json(Some(v))).collect())
        }
        Some(any_value::Value::KvlistValue(l)) => Value::Object(attrs_json(&l.values)),
        Some(other) => json!(format!("{other:?}")),
    }
}

pub fn attrs_json(kvs: &[KeyValue]) -> Map<String, Value> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), any_json(kv.value.as_ref())))
        .collect()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Numbers compare by value whatever their JSON representation (JS prints 43.0 as 43).
fn same_number(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Every attribute `want` lists is in `got` with the same value (SDKs add `telemetry.sdk.*`
/// to resources, so resources are compared as a superset).
fn assert_attrs_superset(what: &str, got: &Map<String, Value>, want: &Value) {
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(got.get(k), Some(v), "{what}: attribute {k}: got {got:?}");
    }
}

/// Every span `sent` lists arrived exactly once, unchanged: ids, parent, name, kind, times,
/// attributes (exactly), resource attributes and scope. Returns how many were checked.
pub fn assert_spans_arrived_once(sent: &Value, rows: &[SpanRow]) -> usize {
    let mut by_id: HashMap<String, Vec<&SpanRow>> = HashMap::new();
    for r in rows {
        by_id.entry(hex(&r.span.span_id)).or_default().push(r);
    }
    let spans = sent["spans"].as_array().unwrap();
    let client = sent["client"].as_str().unwrap_or("?");
    for s in spans {
        let id = s["span_id"].as_str().unwrap();
        let got = by_id.get(id).map(Vec::as_slice).unwrap_or(&[]);
        assert_eq!(
            got.len(),
            1,
            "{client}: span {id} ({}) arrived {} times",
            s["name"],
            got.len()
        );
        let r = got[0];
        let what = format!("{client} span {id}");
        assert_eq!(
            hex(&r.span.trace_id),
            s["trace_id"].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            hex(&r.span.parent_span_id),
            s["parent_span_id"].as_str().unwrap(),
            "{what}: parent"
        );
        assert_eq!(r.span.name, s["name"].as_str().unwrap(), "{what}");
        assert_eq!(
            i64::from(r.span.kind),
            s["kind"].as_i64().unwrap(),
            "{what}: kind"
        );
        assert_eq!(
            r.span.start_time_unix_nano.to_string(),
            s["start"].as_str().unwrap(),
            "{what}: start"
        );
        assert_eq!(
            r.span.end_time_unix_nano.to_string(),
            s["end"].as_str().unwrap(),
            "{what}: end"
        );
        let attrs = attrs_json(&r.span.attributes);
        let want = s["attributes"].as_object().unwrap();
        assert_eq!(attrs.len(), want.len(), "{what}: attributes {attrs:?}");
        for (k, v) in want {
            let g = attrs.get(k).unwrap_or(&Value::Null);
            assert!(same_number(g, v), "{what}: attribute {k}: {g} != {v}");
        }
        assert_attrs_superset(
            &format!("{what}: resource"),
            &attrs_json(&r.resource.attributes),
            &sent["resource"],
        );
        assert_eq!(
            r.scope.name,
            sent["scope"]["name"].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            r.scope.version,
            sent["scope"]["version"].as_str().unwrap(),
            "{what}"
        );
    }
    spans.len()
}

/// Every metric `sent` lists arrived exactly once with its points' attributes and values.
pub fn assert_metrics_arrived_once(sent: &Value, rows: &[MetricRow]) {
    let client = sent["client"].as_str().unwrap_or("?");
    for m in sent["metrics"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        let got: Vec<&MetricRow> = rows.iter().filter(|r| r.metric.name == name).collect();
        assert_eq!(
            got.len(),
            1,
            "{client}: metric {name} arrived {} times",
            got.len()
        );
        let r = got[0];
        assert_attrs_superset(
            &format!("{client} metric {name}: resource"),
            &attrs_json(&r.resource.attributes),
            &sent["resource"],
        );
        for p in m["points"].as_array().unwrap() {
            let want_attrs = p["attributes"].as_object().unwrap();
            match (m["kind"].as_str().unwrap(), r.metric.data.as_ref()) {
                ("sum", Some(metric::Data::Sum(sum))) => {
                    let dp = sum
                        .data_points
                        .iter()
                        .find(|d| &attrs_json(&d.attributes) == want_attrs)
                        .unwrap_or_else(|| panic!("{client} {name}: no point {want_attrs:?}"));
                    let v = match dp.value {
                        Some(number_data_point::Value::AsInt(i)) => i as f64,
                        Some(number_data_point::Value::AsDouble(d)) => d,
                        None => f64::NAN,
                    };
                    assert_eq!(v, p["value"].as_f64().unwrap(), "{client} {name}");
                    assert!(
                        sum.is_monotonic,
                        "{client} {name}: counter must stay monotonic"
                    );
                }
                ("histogram", Some(metric::Data::Histogram(h))) => {
                    let dp = h
                        .data_points
                        .iter()
                        .find(|d| &attrs_json(&d.attributes) == want_attrs)
                        .unwrap_or_else(|| panic!("{client} {name}: no point {want_attrs:?}"));
                    assert_eq!(dp.count, p["count"].as_u64().unwrap(), "{client} {name}");
                    assert_eq!(dp.sum, p["sum"].as_f64(), "{client} {name}");
                    assert_eq!(dp.bucket_counts.iter().sum::<u64>(), dp.count);
                }
                (kind, data) => panic!("{client} {name}: sent {kind}, got {data:?}"),
            }
        }
    }
}

/// Every log record `sent` lists arrived exactly once, unchanged.
pub fn assert_logs_arrived_once(sent: &Value, rows: &[LogRow]) {
    let client = sent["client"].as_str().unwrap_or("?");
    for l in sent["logs"].as_array().unwrap() {
        let body = l["body"].as_str().unwrap();
        let got: Vec<&LogRow> = rows
            .iter()
            .filter(|r| any_json(r.record.body.as_ref()) == json!(body))
            .collect();
        assert_eq!(
            got.len(),
            1,
            "{client}: log {body:?} arrived {} times",
            got.len()
        );
        let r = &got[0].record;
        let what = format!("{client} log {body:?}");
        assert_eq!(
            r.time_unix_nano.to_string(),
            l["time"].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            i64::from(r.severity_number),
            l["severity_number"].as_i64().unwrap(),
            "{what}"
        );
        assert_eq!(
            r.severity_text,
            l["severity_text"].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(hex(&r.trace_id), l["trace_id"].as_str().unwrap(), "{what}");
        assert_eq!(hex(&r.span_id), l["span_id"].as_str().unwrap(), "{what}");
        assert_eq!(
            Value::Object(attrs_json(&r.attributes)),
            l["attributes"],
            "{what}: attributes"
        );
        assert_attrs_superset(
            &format!("{what}: resource"),
            &attrs_json(&got[0].resource.attributes),
            &sent["resource"],
        );
    }
}

/// A pipeline config: `otelcol.receiver.otlp` (gRPC + HTTP) → `otelcol.processor.batch` →
/// `otelcol.exporter.otlp` (plaintext) to `sink`. `exporter_extra` goes inside the exporter
/// block, `client_extra` inside its `client` block, `extra` at top level.
pub fn pipeline_config(
    grpc: &str,
    http: &str,
    sink: &str,
    client_extra: &str,
    exporter_extra: &str,
    extra: &str,
) -> String {
    format!(
        r#"
otelcol.receiver.otlp "in" {{
  grpc {{
    endpoint = "{grpc}"
  }}
  http {{
    endpoint = "{http}"
  }}
  output {{
    traces  = [otelcol.processor.batch.b.input]
    metrics = [otelcol.processor.batch.b.input]
    logs    = [otelcol.processor.batch.b.input]
  }}
}}

otelcol.processor.batch "b" {{
  timeout = "200ms"
  output {{
    traces  = [otelcol.exporter.otlp.tempo.input]
    metrics = [otelcol.exporter.otlp.tempo.input]
    logs    = [otelcol.exporter.otlp.tempo.input]
  }}
}}

otelcol.exporter.otlp "tempo" {{
  client {{
    endpoint = "{sink}"
    tls {{
      insecure = true
    }}
{client_extra}
  }}
{exporter_extra}
}}
{extra}
"#
    )
}

/// Wait until something accepts TCP connections on `addr` (receivers bind in `run`, which
/// may finish after `/-/ready`).
pub fn wait_listening(addr: &str) {
    let ok = solder_e2e::poll(std::time::Duration::from_secs(20), || {
        std::net::TcpStream::connect(addr).ok().map(|_| ())
    });
    assert!(ok.is_some(), "nothing listens on {addr}");
}
