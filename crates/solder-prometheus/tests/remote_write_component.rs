//! `prometheus.remote_write` driven as the runtime drives it (config text → decode → build →
//! run), feeding its exported `receiver`, against an in-test endpoint that decodes what arrives
//! with the official protobuf types and answers as each test tells it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use solder_core::signals::metrics::{
    Exemplar, Labels, Metadata, MetricType, MetricsBatch, MetricsReceiverRef, Sample,
};
use solder_core::{
    AnyArgs, Component, ComponentBuilder, ComponentOptions, ExportSink, HealthReporter, HostInfo,
    Typed,
};
use solder_prometheus::remote_write::PrometheusRemoteWrite;
use solder_proto::prometheus::WriteRequest;
use solder_proto::prost::Message;
use solder_syntax::ast::Stmt;
use solder_syntax::eval::eval_body;
use solder_syntax::parser::parse_file;
use solder_syntax::{FileId, Object, Value};
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

// ---- endpoint ------------------------------------------------------------------------------

/// What the endpoint answers: scripted answers first, then `default`.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Ok,
    Status(u16),
    TooMany { retry_after_secs: u32 },
}

struct Received {
    at: Instant,
    auth: Option<String>,
}

/// (labels as sent, timestamp, value)
type ReceivedSample = (Vec<(String, String)>, i64, f64);

#[derive(Default)]
struct EndpointState {
    script: Mutex<VecDeque<Answer>>,
    default: Mutex<Option<Answer>>,
    /// Every request, whatever the answer (retries appear several times).
    all: Mutex<Vec<Received>>,
    /// Only the requests answered 2xx.
    accepted: Mutex<Vec<WriteRequest>>,
}

impl EndpointState {
    fn set_default(&self, a: Answer) {
        *self.default.lock().unwrap() = Some(a);
    }

    fn script(&self, answers: &[Answer]) {
        self.script.lock().unwrap().extend(answers.iter().copied());
    }

    /// (series labels without `__name__` ordering concerns, timestamp, value) accepted so far.
    fn accepted_samples(&self) -> Vec<ReceivedSample> {
        let mut out = Vec::new();
        for req in self.accepted.lock().unwrap().iter() {
            for ts in &req.timeseries {
                let labels: Vec<_> = ts
                    .labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect();
                for s in &ts.samples {
                    out.push((labels.clone(), s.timestamp, s.value));
                }
            }
        }
        out
    }

    fn request_count(&self) -> usize {
        self.all.lock().unwrap().len()
    }

    fn handle(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        let raw = snap::raw::Decoder::new().decompress_vec(body).unwrap();
        let req = WriteRequest::decode(raw.as_slice()).unwrap();
        let answer = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .or(*self.default.lock().unwrap())
            .unwrap_or(Answer::Ok);
        self.all.lock().unwrap().push(Received {
            at: Instant::now(),
            auth: headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned()),
        });
        match answer {
            Answer::Ok => {
                self.accepted.lock().unwrap().push(req);
                StatusCode::NO_CONTENT.into_response()
            }
            Answer::Status(code) => {
                (StatusCode::from_u16(code).unwrap(), "scripted failure").into_response()
            }
            Answer::TooMany { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", retry_after_secs.to_string())],
                "slow down",
            )
                .into_response(),
        }
    }
}

async fn start_endpoint() -> (String, Arc<EndpointState>) {
    let state = Arc::new(EndpointState::default());
    let s = state.clone();
    let app = axum::Router::new().route(
        "/api/v1/write",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let s = s.clone();
            async move { s.handle(&headers, &body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/api/v1/write"), state)
}

// ---- component harness -----------------------------------------------------------------------

#[derive(Default)]
struct Exports(Mutex<Option<Value>>);

impl ExportSink for Exports {
    fn publish(&self, exports: Value) {
        *self.0.lock().unwrap() = Some(exports);
    }
}

fn decode_err(body: &str) -> Vec<String> {
    match decode(body) {
        Ok(_) => panic!("config decoded but should not have:\n{body}"),
        Err(e) => e,
    }
}

fn decode(body: &str) -> Result<AnyArgs, Vec<String>> {
    let src = format!("prometheus.remote_write \"test\" {{\n{body}\n}}\n");
    let (file, diags) = parse_file(&src, FileId(0));
    assert!(!diags.has_errors(), "parse errors: {diags:?}");
    let Some(Stmt::Block(block)) = file.body.first() else {
        panic!("no block parsed")
    };
    let value = eval_body(&block.body, block.span, &Object::new()).unwrap();
    Typed::<PrometheusRemoteWrite>::new()
        .decode(&value)
        .map_err(|d| d.iter().map(|d| d.message.clone()).collect())
}

struct Running {
    receiver: MetricsReceiverRef,
    registry: prometheus::Registry,
    component: Arc<dyn Component>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

fn start(body: &str, data_dir: &Path) -> Running {
    let args = decode(body).unwrap();
    let exports = Arc::new(Exports::default());
    let registry = prometheus::Registry::new();
    let opts = ComponentOptions {
        id: "prometheus.remote_write.test".into(),
        data_dir: data_dir.to_path_buf(),
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
    let component = Typed::<PrometheusRemoteWrite>::new()
        .build(opts, args)
        .unwrap();
    let receiver = match exports.0.lock().unwrap().take() {
        Some(Value::Object(o)) => match o.get("receiver") {
            Some(Value::Capsule(c)) => c.downcast_ref::<MetricsReceiverRef>().unwrap().clone(),
            other => panic!("no receiver: {other:?}"),
        },
        other => panic!("no exports: {other:?}"),
    };
    let shutdown = CancellationToken::new();
    let task = {
        let c = component.clone();
        let s = shutdown.clone();
        tokio::spawn(async move { c.run(s).await.unwrap() })
    };
    Running {
        receiver,
        registry,
        component,
        shutdown,
        task,
    }
}

impl Running {
    /// Stops the component and drops everything holding its queues.
    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
        drop(self.receiver);
        drop(self.component);
    }

    /// Sum over every series of a self-metric (0 when absent).
    fn metric(&self, name: &str) -> f64 {
        self.metric_where(name, &[])
    }

    fn metric_where(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut total = 0.0;
        for f in self.registry.gather() {
            if f.name() != name {
                continue;
            }
            for m in f.get_metric() {
                let matches = labels.iter().all(|(n, v)| {
                    m.get_label()
                        .iter()
                        .any(|l| l.name() == *n && l.value() == *v)
                });
                if !matches {
                    continue;
                }
                total += match f.get_field_type() {
                    prometheus::proto::MetricType::COUNTER => m.get_counter().get_value(),
                    prometheus::proto::MetricType::GAUGE => m.get_gauge().get_value(),
                    prometheus::proto::MetricType::HISTOGRAM => {
                        m.get_histogram().get_sample_count() as f64
                    }
                    other => panic!("{name}: unexpected type {other:?}"),
                };
            }
        }
        total
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
    )
}

fn sample(pairs: &[(&str, &str)], ts: i64, value: f64) -> Sample {
    Sample {
        labels: labels(pairs),
        timestamp_ms: ts,
        value,
    }
}

fn batch(samples: Vec<Sample>) -> MetricsBatch {
    MetricsBatch {
        samples,
        ..Default::default()
    }
}

async fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Fast queue settings so retries and batching take milliseconds.
fn endpoint_block(url: &str, extra: &str) -> String {
    format!(
        r#"endpoint {{
    url = "{url}"
    name = "ep"
    queue_config {{
        batch_send_deadline = "20ms"
        min_backoff = "10ms"
        max_backoff = "40ms"
    }}
    {extra}
}}"#
    )
}

const SECS: Duration = Duration::from_secs(10);

// ---- tests ----------------------------------------------------------------------------------

#[test]
fn arguments_follow_alloy() {
    let ok = decode(
        r#"
        external_labels = { cluster = "a" }
        endpoint {
            url = "http://127.0.0.1:9/api/v1/write"
            remote_timeout = "10s"
            headers = { "X-Scope-OrgID" = "t1" }
            basic_auth {
                username = "u"
                password = "p"
            }
            queue_config { max_shards = 10 }
            metadata_config { send = false }
            write_relabel_config {
                source_labels = ["__name__"]
                regex = "go_.*"
                action = "drop"
            }
        }
        wal {
            truncate_frequency = "1h"
        }
        "#,
    );
    assert!(ok.is_ok(), "{:?}", ok.err());

    let cases: &[(&str, &str)] = &[
        ("wal {\n truncate_frequency = \"0s\"\n}", "truncate_frequency must not be 0"),
        (
            "wal {\n min_keepalive_time = \"9h\"\n}",
            "min_keepalive_time must be smaller than max_keepalive_time",
        ),
        (
            "endpoint {\n url = \"http://x\"\n bearer_token = \"a\"\n basic_auth {\n username = \"u\"\n }\n}",
            "at most one of basic_auth, authorization, oauth2, bearer_token & bearer_token_file must be configured",
        ),
        (
            "endpoint {\n url = \"http://x\"\n protobuf_message = \"io.prometheus.write.v2.Request\"\n}",
            "not supported by Solder yet",
        ),
        (
            "endpoint {\n url = \"http://x\"\n sigv4 {\n region = \"eu-west-1\"\n }\n}",
            "endpoint sigv4 authentication is not supported by Solder yet",
        ),
        (
            "endpoint {\n url = \"http://x\"\n azuread {\n cloud = \"AzurePublic\"\n managed_identity {\n client_id = \"x\"\n }\n }\n}",
            "endpoint azuread authentication is not supported by Solder yet",
        ),
        (
            "endpoint {\n url = \"http://x\"\n round_robin_dns = true\n}",
            "round_robin_dns is not supported by Solder yet",
        ),
        (
            "endpoint {\n url = \"http://x\"\n protobuf_message = \"nope\"\n}",
            "invalid protobuf_message \"nope\"",
        ),
        (
            "endpoint {\n url = \"http://x\"\n}\nendpoint {\n url = \"http://x\"\n}",
            "found multiple remote write configs with the same url",
        ),
        (
            "endpoint {\n url = \"http://x\"\n name = \"n\"\n}\nendpoint {\n url = \"http://y\"\n name = \"n\"\n}",
            "found multiple remote write configs with job name \"n\"",
        ),
        (
            "endpoint {\n url = \"http://x\"\n headers = { \"X-Prometheus-Remote-Write-Version\" = \"2\" }\n}",
            "X-Prometheus-Remote-Write-Version is a reserved header. It must not be changed",
        ),
        (
            "endpoint {\n url = \"http://x\"\n headers = { \"Authorization\" = \"x\" }\n}",
            "authorization header must be changed via the basic_auth",
        ),
        (
            "endpoint {\n url = \"http://x\"\n queue_config {\n min_shards = 5\n max_shards = 2\n }\n}",
            "min_shards <= max_shards",
        ),
    ];
    for (body, want) in cases {
        let err = decode_err(body);
        assert!(
            err.iter().any(|e| e.contains(want)),
            "config:\n{body}\nwant {want:?}, got {err:?}"
        );
    }
    let err = decode_err("endpoint {\n name = \"x\"\n}");
    assert!(err[0].contains("url"), "{err:?}");
    let err = decode_err(
        "endpoint {\n url = \"http://x\"\n metadata_config {\n send_interval = \"0s\"\n }\n}",
    );
    assert!(
        err.iter()
            .any(|e| e.contains("metadata_config send_interval must be greater than 0")),
        "{err:?}"
    );
}

/// Alloy defaults `enable_http2` to false for remote-write endpoints (unlike the shared HTTP
/// client config, where it is true).
#[test]
fn endpoint_enable_http2_defaults_to_false() {
    use solder_prometheus::remote_write::Args;
    let http2 = |body: &str| {
        let args = decode(body).unwrap().downcast::<Args>().unwrap();
        let ep = &args.endpoint[0];
        assert_eq!(ep.enable_http2.0, ep.http_client_config().enable_http2.0);
        ep.enable_http2.0
    };
    assert!(!http2("endpoint {\n url = \"http://x\"\n}"));
    assert!(http2(
        "endpoint {\n url = \"http://x\"\n enable_http2 = true\n}"
    ));
}

#[tokio::test]
async fn samples_arrive_with_external_labels_and_relabeling() {
    let (url, ep) = start_endpoint().await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "external_labels = {{ cluster = \"c1\", job = \"ignored\" }}\n{}",
        endpoint_block(
            &url,
            r#"write_relabel_config {
        source_labels = ["__name__"]
        regex = "dropme"
        action = "drop"
    }"#
        )
    );
    let rw = start(&config, dir.path());
    let mut b = batch(vec![
        sample(
            &[("__name__", "up"), ("job", "node"), ("__tmp", "x")],
            1000,
            1.0,
        ),
        sample(
            &[("__name__", "up"), ("job", "node"), ("__tmp", "x")],
            2000,
            0.0,
        ),
        sample(&[("__name__", "dropme"), ("job", "node")], 1000, 5.0),
    ]);
    b.exemplars.push(Exemplar {
        series: labels(&[("__name__", "up"), ("job", "node"), ("__tmp", "x")]),
        labels: labels(&[("trace_id", "abc")]),
        timestamp_ms: 1500,
        value: 1.0,
    });
    b.metadata.push(Metadata {
        metric_family: "up".into(),
        kind: MetricType::Gauge,
        help: "up".into(),
        unit: String::new(),
    });
    rw.receiver.append(b).await.unwrap();

    wait_for("2 samples", SECS, || ep.accepted_samples().len() == 2).await;
    let got = ep.accepted_samples();
    let want_labels: Vec<(String, String)> =
        [("__name__", "up"), ("cluster", "c1"), ("job", "node")]
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
    assert_eq!(
        got,
        vec![(want_labels.clone(), 1000, 1.0), (want_labels, 2000, 0.0)]
    );
    let accepted = ep.accepted.lock().unwrap().clone();
    let exemplars: usize = accepted
        .iter()
        .flat_map(|r| &r.timeseries)
        .map(|t| t.exemplars.len())
        .sum();
    assert_eq!(exemplars, 1);
    // Metadata is not sent with the data; it has its own schedule (`send_interval`, 1m here).
    assert!(accepted.iter().all(|r| r.metadata.is_empty()));

    wait_for("counters", SECS, || {
        rw.metric("prometheus_remote_storage_samples_total") == 2.0
    })
    .await;
    assert_eq!(rw.metric("prometheus_remote_storage_samples_in_total"), 3.0);
    assert_eq!(
        rw.metric("prometheus_remote_write_wal_samples_appended_total"),
        3.0
    );
    assert_eq!(
        rw.metric_where(
            "prometheus_remote_storage_samples_dropped_total",
            &[("remote_name", "ep"), ("reason", "dropped_series")]
        ),
        1.0
    );
    assert_eq!(rw.metric("prometheus_remote_storage_exemplars_total"), 1.0);
    assert_eq!(
        rw.metric_where(
            "prometheus_remote_storage_shards",
            &[("remote_name", "ep"), ("url", url.as_str())]
        ),
        1.0
    );
    assert_eq!(rw.metric("prometheus_remote_storage_shards_max"), 50.0);
    assert_eq!(
        rw.metric("prometheus_remote_storage_highest_timestamp_in_seconds"),
        2.0
    );
    // Set once the response is in, which may be just after the endpoint recorded the request.
    wait_for("highest sent timestamp", SECS, || {
        rw.metric("prometheus_remote_storage_queue_highest_sent_timestamp_seconds") == 2.0
    })
    .await;
    assert!(rw.metric("prometheus_remote_storage_bytes_total") > 0.0);
    wait_for("queue acknowledged", SECS, || {
        rw.metric("solder_remote_write_wal_pending_bytes") == 0.0
    })
    .await;
    assert_eq!(rw.metric("prometheus_remote_storage_samples_pending"), 0.0);
    assert_eq!(
        rw.metric("prometheus_remote_storage_exemplars_pending"),
        0.0
    );
    let info = rw.component.debug_info().unwrap();
    assert_eq!(info["endpoints"][0]["remote_name"], "ep");
    assert_eq!(info["endpoints"][0]["wal_pending_records"], 0);
    assert!(info["endpoints"][0]["wal_dir"]
        .as_str()
        .unwrap()
        .ends_with("wal/ep"));
    rw.stop().await;
}

#[tokio::test]
async fn server_errors_are_retried_until_delivered() {
    let (url, ep) = start_endpoint().await;
    ep.script(&[Answer::Status(500), Answer::Status(503)]);
    let dir = tempfile::tempdir().unwrap();
    let rw = start(&endpoint_block(&url, ""), dir.path());
    rw.receiver
        .append(batch(vec![
            sample(&[("__name__", "a")], 1, 1.0),
            sample(&[("__name__", "a")], 2, 2.0),
        ]))
        .await
        .unwrap();
    wait_for("delivery", SECS, || ep.accepted_samples().len() == 2).await;
    assert_eq!(ep.request_count(), 3, "two failures, then success");
    assert_eq!(
        rw.metric("prometheus_remote_storage_samples_retried_total"),
        4.0
    );
    assert_eq!(
        rw.metric("prometheus_remote_storage_samples_failed_total"),
        0.0
    );
    // Every attempt is counted, as in Prometheus.
    assert_eq!(rw.metric("prometheus_remote_storage_samples_total"), 6.0);
    rw.stop().await;
}

#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let (url, ep) = start_endpoint().await;
    ep.script(&[Answer::TooMany {
        retry_after_secs: 1,
    }]);
    let dir = tempfile::tempdir().unwrap();
    let rw = start(&endpoint_block(&url, ""), dir.path());
    rw.receiver
        .append(batch(vec![sample(&[("__name__", "a")], 1, 1.0)]))
        .await
        .unwrap();
    wait_for("delivery", SECS, || ep.accepted_samples().len() == 1).await;
    let times: Vec<Instant> = ep.all.lock().unwrap().iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 2);
    let gap = times[1].duration_since(times[0]);
    // max_backoff is 40ms: only Retry-After explains a wait of a second.
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    rw.stop().await;
}

#[tokio::test]
async fn too_many_requests_is_dropped_when_retry_on_429_is_off() {
    let (url, ep) = start_endpoint().await;
    ep.set_default(Answer::TooMany {
        retry_after_secs: 1,
    });
    let dir = tempfile::tempdir().unwrap();
    let block = endpoint_block(&url, "").replace(
        "batch_send_deadline = \"20ms\"",
        "batch_send_deadline = \"20ms\"\n        retry_on_http_429 = false",
    );
    let rw = start(&block, dir.path());
    rw.receiver
        .append(batch(vec![sample(&[("__name__", "a")], 1, 1.0)]))
        .await
        .unwrap();
    wait_for("failure counted", SECS, || {
        rw.metric("prometheus_remote_storage_samples_failed_total") == 1.0
    })
    .await;
    assert_eq!(ep.request_count(), 1);
    rw.stop().await;
}

#[tokio::test]
async fn client_errors_drop_the_batch_and_count_it() {
    let (url, ep) = start_endpoint().await;
    ep.script(&[Answer::Status(400)]);
    let dir = tempfile::tempdir().unwrap();
    let rw = start(&endpoint_block(&url, ""), dir.path());
    rw.receiver
        .append(batch(vec![
            sample(&[("__name__", "bad")], 1, 1.0),
            sample(&[("__name__", "bad")], 2, 1.0),
        ]))
        .await
        .unwrap();
    wait_for("failure counted", SECS, || {
        rw.metric("prometheus_remote_storage_samples_failed_total") == 2.0
    })
    .await;
    assert_eq!(
        rw.metric("prometheus_remote_storage_samples_retried_total"),
        0.0
    );
    // The dropped batch is acknowledged: later data flows, and the bad batch is not resent.
    rw.receiver
        .append(batch(vec![sample(&[("__name__", "good")], 3, 1.0)]))
        .await
        .unwrap();
    wait_for("good sample", SECS, || ep.accepted_samples().len() == 1).await;
    assert_eq!(ep.request_count(), 2);
    rw.stop().await;
}

/// Per series, the timestamps received, in arrival order.
fn by_series(ep: &EndpointState) -> BTreeMap<String, Vec<i64>> {
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (labels, ts, _) in ep.accepted_samples() {
        let name = labels
            .iter()
            .find(|(n, _)| n == "__name__")
            .unwrap()
            .1
            .clone();
        out.entry(name).or_default().push(ts);
    }
    out
}

#[tokio::test]
async fn outage_then_recovery_delivers_everything_in_order() {
    let (url, ep) = start_endpoint().await;
    ep.set_default(Answer::Status(503));
    let dir = tempfile::tempdir().unwrap();
    let block = endpoint_block(&url, "").replace(
        "batch_send_deadline = \"20ms\"",
        "batch_send_deadline = \"20ms\"\n        min_shards = 4\n        max_samples_per_send = 7",
    );
    let rw = start(&block, dir.path());
    let series = ["s0", "s1", "s2", "s3", "s4", "s5"];
    for t in 0..50i64 {
        let samples = series
            .iter()
            .map(|s| sample(&[("__name__", s)], t, t as f64))
            .collect();
        rw.receiver.append(batch(samples)).await.unwrap();
    }
    wait_for("retries during the outage", SECS, || {
        ep.request_count() >= 8
    })
    .await;
    assert!(ep.accepted_samples().is_empty());
    assert_eq!(rw.metric("prometheus_remote_storage_shards"), 4.0);
    *ep.default.lock().unwrap() = Some(Answer::Ok);

    wait_for("everything", SECS, || ep.accepted_samples().len() == 300).await;
    let got = by_series(&ep);
    let want: Vec<i64> = (0..50).collect();
    for s in series {
        assert_eq!(got[s], want, "series {s} complete and in order");
    }
    wait_for("queue acknowledged", SECS, || {
        rw.metric("solder_remote_write_wal_pending_bytes") == 0.0
    })
    .await;
    rw.stop().await;
}

#[tokio::test]
async fn restart_resends_what_was_not_acknowledged() {
    let (url, ep) = start_endpoint().await;
    ep.set_default(Answer::Status(503));
    let dir = tempfile::tempdir().unwrap();
    let block = endpoint_block(&url, "");
    let rw = start(&block, dir.path());
    rw.receiver
        .append(batch(vec![
            sample(&[("__name__", "a")], 1, 1.0),
            sample(&[("__name__", "b")], 1, 2.0),
        ]))
        .await
        .unwrap();
    wait_for("a failed attempt", SECS, || ep.request_count() >= 1).await;
    rw.stop().await;
    assert!(ep.accepted_samples().is_empty());

    *ep.default.lock().unwrap() = Some(Answer::Ok);
    let rw = start(&block, dir.path());
    wait_for("resent after restart", SECS, || {
        ep.accepted_samples().len() == 2
    })
    .await;
    wait_for("queue acknowledged", SECS, || {
        rw.metric("solder_remote_write_wal_pending_bytes") == 0.0
    })
    .await;
    rw.stop().await;

    // Acknowledged data is not sent a third time.
    let before = ep.request_count();
    let rw = start(&block, dir.path());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ep.request_count(), before);
    rw.stop().await;
}

#[tokio::test]
async fn full_wal_drops_the_oldest_and_counts() {
    let (url, ep) = start_endpoint().await;
    ep.set_default(Answer::Status(503));
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "{}\nwal {{\n max_bytes = \"1MiB\"\n}}",
        endpoint_block(&url, "")
    );
    let rw = start(&config, dir.path());
    // ~20 KiB per batch: 100 batches are about twice the bound.
    let pad = "x".repeat(1000);
    for t in 0..100i64 {
        let samples = (0..20)
            .map(|i| {
                sample(
                    &[("__name__", "big"), ("i", &i.to_string()), ("pad", &pad)],
                    t,
                    1.0,
                )
            })
            .collect();
        rw.receiver.append(batch(samples)).await.unwrap();
    }
    assert!(rw.metric("solder_remote_write_wal_dropped_records_total") > 0.0);
    assert!(rw.metric("solder_remote_write_wal_dropped_bytes_total") > 0.0);
    assert!(rw.metric("solder_remote_write_wal_pending_bytes") <= (1 << 20) as f64);

    *ep.default.lock().unwrap() = Some(Answer::Ok);
    wait_for("the newest batch", SECS, || {
        ep.accepted_samples().iter().any(|(_, ts, _)| *ts == 99)
    })
    .await;
    wait_for("queue acknowledged", SECS, || {
        rw.metric("solder_remote_write_wal_pending_bytes") == 0.0
    })
    .await;
    let got = ep.accepted_samples();
    assert!(
        !got.iter().any(|(_, ts, _)| *ts == 0),
        "the oldest batch was dropped"
    );
    rw.stop().await;
}

#[tokio::test]
async fn update_switches_endpoints_without_losing_data() {
    let (url1, ep1) = start_endpoint().await;
    let (url2, ep2) = start_endpoint().await;
    ep1.set_default(Answer::Status(503));
    let dir = tempfile::tempdir().unwrap();
    let rw = start(&endpoint_block(&url1, ""), dir.path());
    rw.receiver
        .append(batch(vec![sample(&[("__name__", "a")], 1, 1.0)]))
        .await
        .unwrap();
    wait_for("a failed attempt", SECS, || ep1.request_count() >= 1).await;
    // Same endpoint name, new URL: the queue (and its unsent data) carries over.
    rw.component
        .update(decode(&endpoint_block(&url2, "")).unwrap())
        .unwrap();
    wait_for("delivery to the new url", SECS, || {
        ep2.accepted_samples().len() == 1
    })
    .await;
    rw.stop().await;
}

// ---- basic auth over TLS with a CA generated here ---------------------------------------------

struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// An HTTPS remote-write endpoint: reads one request per connection (headers, then
/// `content-length` bytes), records it through `state`, and answers.
async fn start_tls_endpoint(pki: &Pki, state: Arc<EndpointState>) -> String {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let certs = CertificateDer::pem_slice_iter(pki.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let state = state.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p + 4;
                    }
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut headers = HeaderMap::new();
                let mut len = 0usize;
                for line in head.lines().skip(1) {
                    if let Some((n, v)) = line.split_once(':') {
                        let (n, v) = (n.trim().to_ascii_lowercase(), v.trim().to_owned());
                        if n == "content-length" {
                            len = v.parse().unwrap();
                        }
                        headers.insert(
                            axum::http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                            v.parse().unwrap(),
                        );
                    }
                }
                while buf.len() < head_end + len {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let status = if headers.get("authorization").is_some() {
                    state.handle(&headers, &buf[head_end..head_end + len]);
                    "204 No Content"
                } else {
                    "401 Unauthorized"
                };
                let resp =
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://localhost:{port}/api/v1/write")
}

#[tokio::test]
async fn basic_auth_over_tls_with_a_private_ca() {
    let pki = pki();
    let state = Arc::new(EndpointState::default());
    let url = start_tls_endpoint(&pki, state.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let extra = format!(
        "basic_auth {{\n username = \"user\"\n password = \"secret\"\n }}\n tls_config {{\n ca_file = {:?}\n }}",
        ca_file.to_str().unwrap()
    );
    let rw = start(&endpoint_block(&url, &extra), &dir.path().join("data"));
    rw.receiver
        .append(batch(vec![sample(&[("__name__", "tls")], 1, 1.0)]))
        .await
        .unwrap();
    wait_for("delivery over TLS", SECS, || {
        state.accepted_samples().len() == 1
    })
    .await;
    let auth = state.all.lock().unwrap()[0].auth.clone();
    // base64("user:secret")
    assert_eq!(auth.as_deref(), Some("Basic dXNlcjpzZWNyZXQ="));
    rw.stop().await;
}

// ---- metadata ---------------------------------------------------------------------------------

fn metadata(family: &str, kind: MetricType, help: &str) -> Metadata {
    Metadata {
        metric_family: family.into(),
        kind,
        help: help.into(),
        unit: String::new(),
    }
}

/// (family, wire type, help) of every metadata entry in the accepted requests, per request.
fn metadata_requests(ep: &EndpointState) -> Vec<Vec<(String, i32, String)>> {
    ep.accepted
        .lock()
        .unwrap()
        .iter()
        .filter(|r| !r.metadata.is_empty())
        .map(|r| {
            r.metadata
                .iter()
                .map(|m| (m.metric_family_name.clone(), m.r#type, m.help.clone()))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn metadata_is_sent_on_its_own_every_interval_in_chunks_with_retries() {
    let (url, ep) = start_endpoint().await;
    // The first metadata request fails with a 500 and is retried.
    ep.script(&[Answer::Status(500)]);
    let dir = tempfile::tempdir().unwrap();
    // batch_send_deadline also bounds one metadata round, retries included (as in Prometheus),
    // so it is not the 20ms of `endpoint_block` here.
    let config = format!(
        r#"endpoint {{
    url = "{url}"
    name = "ep"
    queue_config {{
        batch_send_deadline = "1s"
        min_backoff = "10ms"
        max_backoff = "40ms"
    }}
    metadata_config {{
        send_interval = "300ms"
        max_samples_per_send = 2
    }}
}}"#
    );
    let rw = start(&config, dir.path());
    let started = Instant::now();
    let only_metadata = MetricsBatch {
        metadata: vec![
            metadata("b_total", MetricType::Counter, "old help"),
            metadata("a", MetricType::Gauge, "a help"),
            metadata("c_seconds", MetricType::Histogram, "c help"),
        ],
        ..Default::default()
    };
    rw.receiver.append(only_metadata).await.unwrap();
    // The latest metadata of a family wins.
    let update = MetricsBatch {
        metadata: vec![metadata("b_total", MetricType::Counter, "new help")],
        ..Default::default()
    };
    rw.receiver.append(update).await.unwrap();

    wait_for("one metadata round", SECS, || {
        rw.metric("prometheus_remote_storage_metadata_total") >= 3.0
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "the first round waits one send_interval"
    );
    let requests = metadata_requests(&ep);
    let g = |f: &str, t: i32, h: &str| (f.to_owned(), t, h.to_owned());
    assert_eq!(
        requests[..2],
        [
            vec![g("a", 2, "a help"), g("b_total", 1, "new help")],
            vec![g("c_seconds", 3, "c help")],
        ]
    );
    // Samples travel without metadata, even when their batch carried some.
    let mut with_data = batch(vec![sample(&[("__name__", "a")], 1, 1.0)]);
    with_data
        .metadata
        .push(metadata("a", MetricType::Gauge, "a help"));
    rw.receiver.append(with_data).await.unwrap();
    wait_for("the sample", SECS, || ep.accepted_samples().len() == 1).await;
    for r in ep.accepted.lock().unwrap().iter() {
        assert!(
            r.metadata.is_empty() || r.timeseries.is_empty(),
            "metadata and samples in one request"
        );
    }
    assert_eq!(
        rw.metric("prometheus_remote_storage_metadata_retried_total"),
        2.0
    );
    assert_eq!(
        rw.metric("prometheus_remote_storage_metadata_failed_total"),
        0.0
    );
    assert!(rw.metric("prometheus_remote_storage_metadata_bytes_total") > 0.0);
    assert_eq!(
        rw.metric("prometheus_remote_write_wal_metadata_updates_total"),
        5.0
    );

    // Sent again every interval.
    wait_for("a second round", SECS, || metadata_requests(&ep).len() >= 4).await;
    assert_eq!(metadata_requests(&ep)[2..4], requests[..2]);

    // A refused request is dropped and counted, the next round tries again.
    ep.set_default(Answer::Status(400));
    wait_for("failed metadata", SECS, || {
        rw.metric("prometheus_remote_storage_metadata_failed_total") >= 3.0
    })
    .await;
    rw.stop().await;
}

#[tokio::test]
async fn metadata_send_false_sends_none() {
    let (url, ep) = start_endpoint().await;
    let dir = tempfile::tempdir().unwrap();
    let config = endpoint_block(
        &url,
        "metadata_config {\n send = false\n send_interval = \"50ms\"\n }",
    );
    let rw = start(&config, dir.path());
    let mut b = batch(vec![sample(&[("__name__", "a")], 1, 1.0)]);
    b.metadata.push(metadata("a", MetricType::Gauge, "a help"));
    rw.receiver.append(b).await.unwrap();
    wait_for("the sample", SECS, || ep.accepted_samples().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(metadata_requests(&ep).is_empty());
    assert_eq!(rw.metric("prometheus_remote_storage_metadata_total"), 0.0);
    rw.stop().await;
}

/// A round of metadata is retried only until `batch_send_deadline`; what is still unsent then
/// counts as failed, and the next round starts over.
#[tokio::test]
async fn metadata_retries_stop_at_the_batch_send_deadline() {
    let (url, ep) = start_endpoint().await;
    ep.set_default(Answer::Status(503));
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"endpoint {{
    url = "{url}"
    name = "ep"
    queue_config {{
        batch_send_deadline = "150ms"
        min_backoff = "10ms"
        max_backoff = "20ms"
    }}
    metadata_config {{
        send_interval = "100ms"
    }}
}}"#
    );
    let rw = start(&config, dir.path());
    let only_metadata = MetricsBatch {
        metadata: vec![metadata("a", MetricType::Gauge, "a help")],
        ..Default::default()
    };
    rw.receiver.append(only_metadata).await.unwrap();
    wait_for("two failed rounds", SECS, || {
        rw.metric("prometheus_remote_storage_metadata_failed_total") >= 2.0
    })
    .await;
    assert!(rw.metric("prometheus_remote_storage_metadata_retried_total") >= 2.0);
    assert_eq!(rw.metric("prometheus_remote_storage_metadata_total"), 0.0);
    rw.stop().await;
}
