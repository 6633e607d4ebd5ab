//! `prometheus.scrape` driven the way the runtime drives it — config text parsed, evaluated
//! against a scope holding a recording receiver, decoded by the registered builder, built and
//! run — scraping in-test HTTP targets on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use solder_core::consume::ConsumeError;
use solder_core::signals::metrics::{
    is_stale_nan, metrics_receiver_value, MetricsBatch, MetricsReceiver, MetricsReceiverRef, Sample,
};
use solder_core::{
    AnyArgs, Component, ComponentBuilder, ComponentOptions, ExportSink, HealthReporter, HostInfo,
    Typed,
};
use solder_prometheus::scrape::PrometheusScrape;
use solder_syntax::ast::Stmt;
use solder_syntax::eval::eval_body;
use solder_syntax::parser::parse_file;
use solder_syntax::{Diagnostics, FileId, Object, Value};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

mod raw_http;
use raw_http::{RawMode, RawServer};

// ---- in-test target ---------------------------------------------------------------------------

#[derive(Clone)]
struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    gzip: bool,
}

impl Reply {
    fn text(body: &str) -> Reply {
        Reply {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8".into(),
            body: body.as_bytes().to_vec(),
            gzip: false,
        }
    }
}

#[derive(Default)]
struct Seen {
    headers: Vec<HeaderMap>,
    queries: Vec<Option<String>>,
}

#[derive(Clone)]
struct TargetState {
    reply: Arc<Mutex<Reply>>,
    seen: Arc<Mutex<Seen>>,
}

async fn serve_metrics(
    State(st): State<TargetState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    {
        let mut seen = st.seen.lock().unwrap();
        seen.headers.push(headers);
        seen.queries.push(q);
    }
    let reply = st.reply.lock().unwrap().clone();
    let mut body = reply.body;
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap())
        .header("content-type", reply.content_type);
    if reply.gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&body).unwrap();
        body = enc.finish().unwrap();
        builder = builder.header("content-encoding", "gzip");
    }
    builder
        .body(axum::body::Body::from(body))
        .unwrap()
        .into_response()
}

struct Target {
    addr: String,
    state: TargetState,
}

impl Target {
    async fn start(reply: Reply) -> Target {
        let state = TargetState {
            reply: Arc::new(Mutex::new(reply)),
            seen: Arc::new(Mutex::new(Seen::default())),
        };
        let app = axum::Router::new()
            .route("/metrics", axum::routing::get(serve_metrics))
            .route("/other/path", axum::routing::get(serve_metrics))
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    "late 1\n"
                }),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Target { addr, state }
    }

    fn set(&self, reply: Reply) {
        *self.state.reply.lock().unwrap() = reply;
    }

    fn last_headers(&self) -> HeaderMap {
        self.state
            .seen
            .lock()
            .unwrap()
            .headers
            .last()
            .cloned()
            .unwrap()
    }

    fn last_query(&self) -> Option<String> {
        self.state
            .seen
            .lock()
            .unwrap()
            .queries
            .last()
            .cloned()
            .unwrap()
    }
}

/// A port nothing listens on.
async fn dead_addr() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    addr
}

// ---- receiver and harness ---------------------------------------------------------------------

#[derive(Default)]
struct Recorder {
    batches: Mutex<Vec<MetricsBatch>>,
}

#[async_trait::async_trait]
impl MetricsReceiver for Recorder {
    async fn append(&self, batch: MetricsBatch) -> Result<(), ConsumeError> {
        self.batches.lock().unwrap().push(batch);
        Ok(())
    }
}

impl Recorder {
    fn batches(&self) -> Vec<MetricsBatch> {
        self.batches.lock().unwrap().clone()
    }

    fn samples(&self) -> Vec<Sample> {
        self.batches().into_iter().flat_map(|b| b.samples).collect()
    }

    /// Samples named `name`, in arrival order.
    fn named(&self, name: &str) -> Vec<Sample> {
        self.samples()
            .into_iter()
            .filter(|s| s.labels.get("__name__") == Some(name))
            .collect()
    }
}

struct NoExports;
impl ExportSink for NoExports {
    fn publish(&self, _exports: Value) {}
}

fn scope(rec: &Arc<Recorder>) -> Object {
    let mut sink = Object::new();
    sink.insert(
        "rec".into(),
        metrics_receiver_value(rec.clone() as MetricsReceiverRef),
    );
    let mut scope = Object::new();
    scope.insert("sink".into(), Value::Object(sink));
    scope
}

fn decode(body: &str, scope: &Object) -> Result<AnyArgs, Diagnostics> {
    let src = format!("prometheus.scrape \"test\" {{\n{body}\n}}\n");
    let (file, diags) = parse_file(&src, FileId(0));
    assert!(!diags.has_errors(), "parse errors: {diags:?}");
    let Some(Stmt::Block(block)) = file.body.first() else {
        panic!("no block parsed")
    };
    let value = eval_body(&block.body, block.span, scope)?;
    Typed::<PrometheusScrape>::new().decode(&value)
}

fn decode_err(body: &str) -> String {
    let rec = Arc::new(Recorder::default());
    match decode(body, &scope(&rec)) {
        Ok(_) => panic!("config decoded but should not have:\n{body}"),
        Err(d) => d
            .iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

struct Harness {
    component: Arc<dyn Component>,
    rec: Arc<Recorder>,
    health: HealthReporter,
    registry: prometheus::Registry,
    shutdown: CancellationToken,
    run: tokio::task::JoinHandle<()>,
}

impl Harness {
    fn start(body: &str) -> Harness {
        Harness::start_with_listen(body, "127.0.0.1:1")
    }

    /// `listen` is the agent's admin address (`--server.http.listen-addr`).
    fn start_with_listen(body: &str, listen: &str) -> Harness {
        let rec = Arc::new(Recorder::default());
        let args = decode(body, &scope(&rec)).unwrap();
        let health = HealthReporter::new();
        let registry = prometheus::Registry::new();
        let opts = ComponentOptions {
            id: "prometheus.scrape.test".into(),
            data_dir: std::env::temp_dir().join("solder-scrape-unused"),
            registry: registry.clone(),
            health: health.clone(),
            host: Arc::new(HostInfo {
                http_listen_addr: listen.into(),
                http_memory_addr: "alloy.internal:12345".into(),
                hostname: "test-host".into(),
                self_registry: prometheus::Registry::new(),
            }),
            exports: Arc::new(NoExports),
        };
        let component = Typed::<PrometheusScrape>::new().build(opts, args).unwrap();
        let shutdown = CancellationToken::new();
        let run = tokio::spawn({
            let c = component.clone();
            let t = shutdown.clone();
            async move {
                c.run(t).await.unwrap();
            }
        });
        Harness {
            component,
            rec,
            health,
            registry,
            shutdown,
            run,
        }
    }

    fn update(&self, body: &str) {
        let args = decode(body, &scope(&self.rec)).unwrap();
        self.component.update(args).unwrap();
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.run)
            .await
            .expect("run returns within 5s of shutdown")
            .unwrap();
    }

    fn metric(&self, name: &str) -> f64 {
        self.registry
            .gather()
            .iter()
            .filter(|f| f.name() == name)
            .flat_map(|f| {
                let counter = f.get_field_type() == prometheus::proto::MetricType::COUNTER;
                f.get_metric().iter().map(move |m| {
                    if counter {
                        m.get_counter().get_value()
                    } else {
                        m.get_gauge().get_value()
                    }
                })
            })
            .sum()
    }
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(8);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn fast(targets: &str, extra: &str) -> String {
    format!(
        "targets = {targets}\nforward_to = [sink.rec]\nscrape_interval = \"200ms\"\nscrape_timeout = \"150ms\"\n{extra}"
    )
}

fn one(addr: &str) -> String {
    format!("[{{\"__address__\" = \"{addr}\"}}]")
}

// ---- tests ------------------------------------------------------------------------------------

#[tokio::test]
async fn scrapes_samples_with_target_labels_and_report_series() {
    let t = Target::start(Reply::text(
        "# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 7\n# TYPE lat histogram\nlat_bucket{le=\"1\"} 3\nlat_bucket{le=\"+Inf\"} 4\nlat_sum 2\nlat_count 4\n",
    ))
    .await;
    let h = Harness::start(&fast(&one(&t.addr), ""));
    wait_for("first scrape", || !h.rec.named("up").is_empty()).await;

    let batch = h.rec.batches()[0].clone();
    let req = batch
        .samples
        .iter()
        .find(|s| s.labels.get("__name__") == Some("http_requests_total"))
        .unwrap();
    assert_eq!(req.value, 7.0);
    assert_eq!(req.labels.get("code"), Some("200"));
    assert_eq!(req.labels.get("job"), Some("prometheus.scrape.test"));
    assert_eq!(req.labels.get("instance"), Some(t.addr.as_str()));
    assert_eq!(req.labels.len(), 4);
    // `le` normalised as Prometheus: "1" -> "1.0".
    assert!(batch
        .samples
        .iter()
        .any(|s| s.labels.get("le") == Some("1.0")));
    // One timestamp for the whole scrape, including the report series, close to now.
    let ts = req.timestamp_ms;
    assert!(batch.samples.iter().all(|s| s.timestamp_ms == ts));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((now - ts).abs() < 5_000);

    let report = |name: &str| {
        batch
            .samples
            .iter()
            .find(|s| s.labels.get("__name__") == Some(name))
            .unwrap_or_else(|| panic!("no {name}"))
            .clone()
    };
    assert_eq!(report("up").value, 1.0);
    assert_eq!(
        report("up").labels.get("job"),
        Some("prometheus.scrape.test")
    );
    assert_eq!(report("scrape_samples_scraped").value, 5.0);
    assert_eq!(report("scrape_samples_post_metric_relabeling").value, 5.0);
    assert_eq!(report("scrape_series_added").value, 5.0);
    assert!(report("scrape_duration_seconds").value > 0.0);
    assert!(!batch
        .samples
        .iter()
        .any(|s| s.labels.get("__name__") == Some("scrape_timeout_seconds")));

    // The request Prometheus would send.
    let hd = t.last_headers();
    assert_eq!(
        hd.get("accept").unwrap(),
        "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
    );
    assert_eq!(hd.get("accept-encoding").unwrap(), "gzip");
    assert_eq!(
        hd.get("x-prometheus-scrape-timeout-seconds").unwrap(),
        "0.15"
    );
    assert!(hd.get("user-agent").is_some());

    // Steady state: second scrape adds no series.
    wait_for("second scrape", || h.rec.named("up").len() >= 2).await;
    let added = h.rec.named("scrape_series_added");
    assert_eq!(added[1].value, 0.0);
    assert_eq!(h.metric("prometheus_scrape_targets_gauge"), 1.0);
    assert_eq!(h.metric("prometheus_target_scrape_pool_targets"), 1.0);
    h.stop().await;
}

#[tokio::test]
async fn dead_target_is_down_with_error_in_health_and_debug_info() {
    let addr = dead_addr().await;
    let h = Harness::start(&fast(&one(&addr), ""));
    wait_for("a report", || !h.rec.named("up").is_empty()).await;
    assert_eq!(h.rec.named("up")[0].value, 0.0);
    assert_eq!(h.rec.named("scrape_samples_scraped")[0].value, 0.0);
    wait_for("health message", || {
        h.health.get().message.contains("1 of 1 targets down")
    })
    .await;
    let health = h.health.get();
    assert_eq!(health.kind, solder_core::health::HealthKind::Healthy);
    assert!(health.message.contains(&addr), "{}", health.message);

    let info = h.component.debug_info().unwrap();
    let t = &info["target"][0];
    assert_eq!(t["health"], "down");
    assert!(t["last_error"].as_str().unwrap().contains(&addr));
    assert_eq!(t["url"], format!("http://{addr}/metrics"));
    assert_eq!(t["labels"]["job"], "prometheus.scrape.test");
    assert!(t["last_scrape"].as_str().unwrap().ends_with('Z'));
    h.stop().await;
}

#[tokio::test]
async fn malformed_payload_fails_the_scrape_and_marks_series_stale() {
    let t = Target::start(Reply::text("a 1\nb 2\n")).await;
    let h = Harness::start(&fast(&one(&t.addr), ""));
    wait_for("first scrape", || !h.rec.named("up").is_empty()).await;
    t.set(Reply::text("a 1\nb{ 2\n"));
    wait_for("a failed scrape", || {
        h.rec.named("up").iter().any(|s| s.value == 0.0)
    })
    .await;
    let batches = h.rec.batches();
    let failed = batches
        .iter()
        .find(|b| {
            b.samples
                .iter()
                .any(|s| s.labels.get("__name__") == Some("up") && s.value == 0.0)
        })
        .unwrap();
    // Nothing of the bad scrape, stale markers for both previous series.
    let a = failed
        .samples
        .iter()
        .find(|s| s.labels.get("__name__") == Some("a"))
        .unwrap();
    assert!(is_stale_nan(a.value));
    assert!(failed
        .samples
        .iter()
        .any(|s| s.labels.get("__name__") == Some("b") && is_stale_nan(s.value)));
    let info = h.component.debug_info().unwrap();
    assert!(
        info["target"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("line 2"),
        "{info}"
    );
    h.stop().await;
}

#[tokio::test]
async fn malformed_label_set_on_a_new_line_fails_the_scrape() {
    // The cache's fast path only delimits series keys; a key it has not seen before must still
    // be validated in full, so `a-b` (not a label name) fails the scrape as before.
    let t = Target::start(Reply::text("a 1\n")).await;
    let h = Harness::start(&fast(&one(&t.addr), ""));
    wait_for("first scrape", || !h.rec.named("up").is_empty()).await;
    assert_eq!(h.rec.named("up")[0].value, 1.0);
    t.set(Reply::text("a 1\nm{a-b=\"x\"} 2\n"));
    wait_for("a failed scrape", || {
        h.rec.named("up").iter().any(|s| s.value == 0.0)
    })
    .await;
    assert!(
        h.rec.named("m").is_empty(),
        "nothing of the bad scrape is sent"
    );
    assert!(h.rec.named("a").iter().any(|s| is_stale_nan(s.value)));
    let info = h.component.debug_info().unwrap();
    assert!(
        info["target"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("line 2"),
        "{info}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_format_change_does_not_reuse_keys_validated_for_the_other_format() {
    // Text 0.0.4 accepts a blank between label pairs, OpenMetrics does not: once the target
    // switches to OpenMetrics the same line must fail even though its key was cached.
    let line = "m{a=\"1\" b=\"2\"} 1\n";
    let t = Target::start(Reply::text(line)).await;
    let h = Harness::start(&fast(&one(&t.addr), ""));
    wait_for("first scrape", || !h.rec.named("m").is_empty()).await;
    assert_eq!(h.rec.named("up")[0].value, 1.0);
    t.set(Reply {
        status: 200,
        content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8".into(),
        body: format!("{line}# EOF\n").into_bytes(),
        gzip: false,
    });
    wait_for("a failed scrape", || {
        h.rec.named("up").iter().any(|s| s.value == 0.0)
    })
    .await;
    assert!(h.rec.named("m").iter().any(|s| is_stale_nan(s.value)));
    h.stop().await;
}

#[tokio::test]
async fn disappearing_series_get_one_stale_marker() {
    let t = Target::start(Reply::text("keep 1\ngo 2\n")).await;
    let h = Harness::start(&fast(&one(&t.addr), ""));
    wait_for("first scrape", || !h.rec.named("go").is_empty()).await;
    t.set(Reply::text("keep 1\n"));
    wait_for("stale marker", || {
        h.rec.named("go").iter().any(|s| is_stale_nan(s.value))
    })
    .await;
    let n = h.rec.named("up").len();
    wait_for("two more scrapes", || h.rec.named("up").len() >= n + 2).await;
    let markers = h
        .rec
        .named("go")
        .iter()
        .filter(|s| is_stale_nan(s.value))
        .count();
    assert_eq!(markers, 1);
    assert!(h.rec.named("keep").iter().all(|s| !is_stale_nan(s.value)));
    h.stop().await;
}

#[tokio::test]
async fn removed_target_marks_all_its_series_stale_and_unchanged_target_keeps_its_loop() {
    let t1 = Target::start(Reply::text("one 1\n")).await;
    let t2 = Target::start(Reply::text("two 2\n")).await;
    let both = format!(
        "[{{\"__address__\" = \"{}\"}}, {{\"__address__\" = \"{}\"}}]",
        t1.addr, t2.addr
    );
    let h = Harness::start(&fast(&both, ""));
    wait_for("both scraped", || {
        !h.rec.named("one").is_empty() && !h.rec.named("two").is_empty()
    })
    .await;
    let added_before = h
        .rec
        .named("scrape_series_added")
        .iter()
        .filter(|s| s.labels.get("instance") == Some(t1.addr.as_str()))
        .count();
    h.update(&fast(&one(&t1.addr), ""));
    // Just over two intervals later: stale markers for `two` and its report series.
    wait_for("end-of-run staleness", || {
        h.rec.named("two").iter().any(|s| is_stale_nan(s.value))
    })
    .await;
    let up2: Vec<Sample> = h
        .rec
        .named("up")
        .into_iter()
        .filter(|s| s.labels.get("instance") == Some(t2.addr.as_str()))
        .collect();
    assert!(is_stale_nan(up2.last().unwrap().value));
    // The kept target's loop and cache survived the update: no series was added again.
    let added: Vec<Sample> = h
        .rec
        .named("scrape_series_added")
        .into_iter()
        .filter(|s| s.labels.get("instance") == Some(t1.addr.as_str()))
        .collect();
    assert!(added.len() > added_before);
    assert!(added[1..].iter().all(|s| s.value == 0.0));
    assert!(h.rec.named("one").iter().all(|s| !is_stale_nan(s.value)));
    assert_eq!(h.metric("prometheus_target_scrape_pool_targets"), 1.0);
    h.stop().await;
}

#[tokio::test]
async fn honor_labels_and_timestamps() {
    let body = "m{job=\"exposed\",instance=\"\"} 1 1000\n";
    let t = Target::start(Reply::text(body)).await;

    let h = Harness::start(&fast(&one(&t.addr), ""));
    wait_for("scrape", || !h.rec.named("m").is_empty()).await;
    let m = h.rec.named("m")[0].clone();
    assert_eq!(m.labels.get("job"), Some("prometheus.scrape.test"));
    assert_eq!(m.labels.get("exported_job"), Some("exposed"));
    assert_eq!(m.labels.get("instance"), Some(t.addr.as_str()));
    assert_eq!(m.timestamp_ms, 1000);
    h.stop().await;

    let h = Harness::start(&fast(
        &one(&t.addr),
        "honor_labels = true\nhonor_timestamps = false\n",
    ));
    wait_for("scrape", || !h.rec.named("m").is_empty()).await;
    let m = h.rec.named("m")[0].clone();
    assert_eq!(m.labels.get("job"), Some("exposed"));
    assert_eq!(m.labels.get("exported_job"), None);
    assert!(m.timestamp_ms > 1_600_000_000_000);
    h.stop().await;
}

#[tokio::test]
async fn sample_limit_fails_the_whole_scrape() {
    let t = Target::start(Reply::text("a 1\nb 2\nc 3\n")).await;
    let h = Harness::start(&fast(&one(&t.addr), "sample_limit = 2\n"));
    wait_for("scrape", || !h.rec.named("up").is_empty()).await;
    assert_eq!(h.rec.named("up")[0].value, 0.0);
    assert!(h.rec.named("a").is_empty());
    assert_eq!(h.rec.named("scrape_samples_scraped")[0].value, 3.0);
    assert!(h.metric("prometheus_target_scrapes_exceeded_sample_limit_total") >= 1.0);
    let info = h.component.debug_info().unwrap();
    assert_eq!(info["target"][0]["last_error"], "sample limit exceeded");
    h.stop().await;
}

#[tokio::test]
async fn label_limit_fails_the_scrape() {
    let t = Target::start(Reply::text("a{x=\"1\",y=\"2\"} 1\n")).await;
    let h = Harness::start(&fast(&one(&t.addr), "label_limit = 4\n"));
    wait_for("scrape", || !h.rec.named("up").is_empty()).await;
    assert_eq!(h.rec.named("up")[0].value, 0.0);
    assert!(h.metric("prometheus_target_scrape_pool_exceeded_label_limits_total") >= 1.0);
    h.stop().await;
}

#[tokio::test]
async fn gzip_bodies_and_body_size_limit() {
    let mut reply = Reply::text("gz 42\n");
    reply.gzip = true;
    let t = Target::start(reply).await;
    let h = Harness::start(&fast(&one(&t.addr), "extra_metrics = true\n"));
    wait_for("scrape", || !h.rec.named("gz").is_empty()).await;
    assert_eq!(h.rec.named("gz")[0].value, 42.0);
    assert_eq!(h.rec.named("scrape_body_size_bytes")[0].value, 6.0);
    assert_eq!(h.rec.named("scrape_timeout_seconds")[0].value, 0.15);
    h.stop().await;

    // The limit applies to the inflated size: 6 bytes >= 6.
    let h = Harness::start(&fast(
        &one(&t.addr),
        "extra_metrics = true\nbody_size_limit = \"6B\"\n",
    ));
    wait_for("scrape", || !h.rec.named("up").is_empty()).await;
    assert_eq!(h.rec.named("up")[0].value, 0.0);
    assert_eq!(h.rec.named("scrape_body_size_bytes")[0].value, -1.0);
    assert!(h.metric("prometheus_target_scrapes_exceeded_body_size_limit_total") >= 1.0);
    h.stop().await;

    let h = Harness::start(&fast(
        &one(&t.addr),
        "enable_compression = false\nbody_size_limit = \"7B\"\n",
    ));
    wait_for("scrape", || !h.rec.named("up").is_empty()).await;
    assert_eq!(h.rec.named("up")[0].value, 1.0);
    assert_eq!(t.last_headers().get("accept-encoding").unwrap(), "identity");
    h.stop().await;
}

#[tokio::test]
async fn auth_headers_are_sent() {
    let t = Target::start(Reply::text("a 1\n")).await;
    let h = Harness::start(&fast(
        &one(&t.addr),
        "basic_auth {\n username = \"u\"\n password = \"p\"\n}\n",
    ));
    wait_for("scrape", || !h.rec.named("a").is_empty()).await;
    assert_eq!(t.last_headers().get("authorization").unwrap(), "Basic dTpw");
    h.stop().await;

    let h = Harness::start(&fast(&one(&t.addr), "bearer_token = \"tok\"\n"));
    wait_for("scrape", || !h.rec.named("a").is_empty()).await;
    assert_eq!(t.last_headers().get("authorization").unwrap(), "Bearer tok");
    h.stop().await;
}

#[tokio::test]
async fn params_path_and_param_labels_build_the_url() {
    let t = Target::start(Reply::text("a 1\n")).await;
    let targets = format!(
        "[{{\"__address__\" = \"{}\", \"__param_module\" = \"http_2xx\", \"__metrics_path__\" = \"/other/path\"}}]",
        t.addr
    );
    let h = Harness::start(&fast(
        &targets,
        "params = {\"module\" = [\"ignored\"], \"target\" = [\"x y\"]}\n",
    ));
    wait_for("scrape", || !h.rec.named("a").is_empty()).await;
    assert_eq!(
        t.last_query().as_deref(),
        Some("module=http_2xx&target=x+y")
    );
    h.stop().await;
}

#[tokio::test]
async fn openmetrics_content_type_selects_the_openmetrics_parser() {
    let body = "# TYPE req counter\nreq_total{a=\"b\"} 5 # {trace_id=\"abc\"} 1 1.5\n# TYPE s summary\ns{quantile=\"0\"} 1\ns_sum 1\ns_count 1\n# EOF\n";
    let t = Target::start(Reply {
        status: 200,
        content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8".into(),
        body: body.as_bytes().to_vec(),
        gzip: false,
    })
    .await;
    let h = Harness::start(&fast(&one(&t.addr), ""));
    wait_for("scrape", || !h.rec.named("req_total").is_empty()).await;
    let batch = h
        .rec
        .batches()
        .into_iter()
        .find(|b| !b.exemplars.is_empty())
        .unwrap();
    let ex = &batch.exemplars[0];
    assert_eq!(ex.labels.get("trace_id"), Some("abc"));
    assert_eq!(ex.timestamp_ms, 1500);
    assert_eq!(ex.series.get("__name__"), Some("req_total"));
    assert!(h
        .rec
        .named("s")
        .iter()
        .any(|s| s.labels.get("quantile") == Some("0.0")));
    h.stop().await;
}

#[tokio::test]
async fn non_200_status_is_an_error() {
    let t = Target::start(Reply {
        status: 503,
        ..Reply::text("")
    })
    .await;
    let h = Harness::start(&fast(&one(&t.addr), ""));
    wait_for("scrape", || !h.rec.named("up").is_empty()).await;
    assert_eq!(h.rec.named("up")[0].value, 0.0);
    let info = h.component.debug_info().unwrap();
    assert_eq!(
        info["target"][0]["last_error"],
        "server returned HTTP status 503 Service Unavailable"
    );
    h.stop().await;
}

#[tokio::test]
async fn target_limit_fails_every_scrape() {
    let t1 = Target::start(Reply::text("one 1\n")).await;
    let t2 = Target::start(Reply::text("two 2\n")).await;
    let both = format!(
        "[{{\"__address__\" = \"{}\"}}, {{\"__address__\" = \"{}\"}}]",
        t1.addr, t2.addr
    );
    let h = Harness::start(&fast(&both, "target_limit = 1\n"));
    wait_for("reports", || h.rec.named("up").len() >= 2).await;
    assert!(h.rec.named("up").iter().all(|s| s.value == 0.0));
    assert!(h.rec.named("one").is_empty());
    let info = h.component.debug_info().unwrap();
    assert_eq!(
        info["target"][0]["last_error"],
        "target_limit exceeded (number of targets: 2, limit: 1)"
    );
    h.stop().await;
}

#[tokio::test]
async fn unsupported_settings_are_rejected_by_name() {
    let base = "targets = []\nforward_to = []\n";
    for (extra, want) in [
        (
            "enable_protobuf_negotiation = true\n",
            "enable_protobuf_negotiation",
        ),
        (
            "scrape_native_histograms = true\n",
            "scrape_native_histograms",
        ),
        ("clustering {\n enabled = true\n}\n", "clustering"),
        (
            "scrape_protocols = [\"PrometheusProto\"]\n",
            "PrometheusProto",
        ),
    ] {
        let err = decode_err(&format!("{base}{extra}"));
        assert!(err.contains(want), "{err}");
        assert!(err.contains("not supported by Solder yet"), "{err}");
    }
    let err = decode_err(&format!("{base}scrape_interval = \"5s\"\n"));
    assert!(
        err.contains("scrape_timeout (10s) greater than scrape_interval (5s)"),
        "{err}"
    );
    let err = decode_err(&format!("{base}nonsense = 1\n"));
    assert!(err.contains("nonsense"), "{err}");
    // A disabled clustering block is fine.
    let rec = Arc::new(Recorder::default());
    decode(
        &format!("{base}clustering {{\n enabled = false\n}}\n"),
        &scope(&rec),
    )
    .unwrap();
}

#[tokio::test]
async fn memory_address_is_scraped_through_the_admin_listen_address() {
    // The agent's own server stands in for `alloy.internal:12345`, as prometheus.exporter.self
    // targets use it.
    let agent = Target::start(Reply::text("alloy_build_info 1\n")).await;
    let port = agent.addr.rsplit(':').next().unwrap().to_string();
    let h = Harness::start_with_listen(
        &fast(&one("alloy.internal:12345"), ""),
        &format!("0.0.0.0:{port}"),
    );
    wait_for("self scrape", || {
        !h.rec.named("alloy_build_info").is_empty()
    })
    .await;
    let s = h.rec.named("alloy_build_info")[0].clone();
    // Labels and URL keep the memory address; only the dialled address differs.
    assert_eq!(s.labels.get("instance"), Some("alloy.internal:12345"));
    let info = h.component.debug_info().unwrap();
    assert_eq!(
        info["target"][0]["url"],
        "http://alloy.internal:12345/metrics"
    );
    h.stop().await;
}

#[tokio::test]
async fn settings_change_restarts_loops_keeping_the_cache_when_identities_cannot_change() {
    let t = Target::start(Reply::text("a 1\nb 2\n")).await;
    let h = Harness::start(&fast(&one(&t.addr), ""));
    wait_for("scrape", || !h.rec.named("a").is_empty()).await;
    // sample_limit does not change series identities: the cache is handed over.
    h.update(&fast(&one(&t.addr), "sample_limit = 100\n"));
    let n = h.rec.named("up").len();
    wait_for("scrapes after reload", || h.rec.named("up").len() >= n + 3).await;
    let added = h.rec.named("scrape_series_added");
    assert!(added[1..].iter().all(|s| s.value == 0.0), "{added:?}");
    assert!(h.rec.samples().iter().all(|s| !is_stale_nan(s.value)));
    assert_eq!(h.metric("prometheus_target_scrape_pool_reloads_total"), 1.0);

    // honor_labels may change identities: a fresh cache, so the series are added again.
    h.update(&fast(
        &one(&t.addr),
        "sample_limit = 100\nhonor_labels = true\n",
    ));
    wait_for("series re-added", || {
        h.rec
            .named("scrape_series_added")
            .iter()
            .skip(1)
            .any(|s| s.value == 2.0)
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn forward_to_changes_without_restarting_loops() {
    let t = Target::start(Reply::text("a 1\n")).await;
    let h = Harness::start(&fast(&one(&t.addr), ""));
    wait_for("scrape", || !h.rec.named("a").is_empty()).await;
    let body = format!(
        "targets = {}\nforward_to = []\nscrape_interval = \"200ms\"\nscrape_timeout = \"150ms\"\n",
        one(&t.addr)
    );
    h.update(&body);
    // Let an in-flight scrape finish, then nothing more arrives.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let n = h.rec.samples().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.rec.samples().len(), n);
    assert_eq!(h.metric("prometheus_target_scrape_pool_reloads_total"), 0.0);
    h.stop().await;
}

#[tokio::test]
async fn scrape_timeout_fails_the_scrape() {
    let t = Target::start(Reply::text("")).await;
    let h = Harness::start(&fast(&one(&t.addr), "metrics_path = \"/slow\"\n"));
    wait_for("scrape", || !h.rec.named("up").is_empty()).await;
    assert_eq!(h.rec.named("up")[0].value, 0.0);
    // Reported within the timeout, not when the target finally answers.
    assert!(h.rec.named("scrape_duration_seconds")[0].value < 1.0);
    let info = h.component.debug_info().unwrap();
    assert_eq!(
        info["target"][0]["last_error"],
        format!("Get \"http://{}/slow\": context deadline exceeded", t.addr)
    );
    h.stop().await;
}

#[tokio::test]
async fn failed_scrapes_are_logged_to_the_failure_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("failures.log");
    let addr = dead_addr().await;
    let h = Harness::start(&fast(
        &one(&addr),
        &format!(
            "scrape_failure_log_file = {:?}\n",
            path.display().to_string()
        ),
    ));
    wait_for("a logged failure", || {
        std::fs::read_to_string(&path).is_ok_and(|s| s.lines().count() >= 1)
    })
    .await;
    let text = std::fs::read_to_string(&path).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["target"], format!("http://{addr}/metrics"));
    assert!(line["msg"].as_str().unwrap().contains(&addr));
    h.stop().await;
}

#[tokio::test]
async fn scrapes_what_the_prometheus_client_library_exposes() {
    // The body comes from the `prometheus` crate's own text encoder, not from this test.
    let registry = prometheus::Registry::new();
    let requests = prometheus::IntCounterVec::new(
        prometheus::Opts::new("app_requests_total", "Requests."),
        &["method", "code"],
    )
    .unwrap();
    let latency = prometheus::Histogram::with_opts(
        prometheus::HistogramOpts::new("app_latency_seconds", "Latency.")
            .buckets(vec![0.5, 1.0, 10.0]),
    )
    .unwrap();
    registry.register(Box::new(requests.clone())).unwrap();
    registry.register(Box::new(latency.clone())).unwrap();
    requests.with_label_values(&["GET", "200"]).inc_by(3);
    latency.observe(0.7);
    let mut body = Vec::new();
    prometheus::Encoder::encode(
        &prometheus::TextEncoder::new(),
        &registry.gather(),
        &mut body,
    )
    .unwrap();
    let t = Target::start(Reply {
        status: 200,
        content_type: prometheus::TEXT_FORMAT.to_string(),
        body,
        gzip: false,
    })
    .await;
    let h = Harness::start(&fast(&one(&t.addr), ""));
    wait_for("scrape", || !h.rec.named("app_requests_total").is_empty()).await;
    let req = h.rec.named("app_requests_total")[0].clone();
    assert_eq!(req.value, 3.0);
    assert_eq!(req.labels.get("method"), Some("GET"));
    let buckets = h.rec.named("app_latency_seconds_bucket");
    let le: Vec<(&str, f64)> = buckets
        .iter()
        .map(|s| (s.labels.get("le").unwrap(), s.value))
        .collect();
    assert_eq!(
        le,
        vec![("0.5", 0.0), ("1.0", 1.0), ("10.0", 1.0), ("+Inf", 1.0)]
    );
    assert_eq!(h.rec.named("app_latency_seconds_count")[0].value, 1.0);
    assert_eq!(h.rec.named("scrape_samples_scraped")[0].value, 7.0);
    h.stop().await;
}

#[tokio::test]
async fn minimal_body_builds_runs_and_stops() {
    // The conformance harness's minimal body.
    let h = Harness::start("targets = []\nforward_to = []\n");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !h.run.is_finished(),
        "run must keep running until cancelled"
    );
    h.stop().await;
}

#[tokio::test]
async fn unusable_failure_log_file_fails_the_build() {
    let rec = Arc::new(Recorder::default());
    let args = decode(
        "targets = []\nforward_to = []\nscrape_failure_log_file = \"/nonexistent-dir/x/failures.log\"\n",
        &scope(&rec),
    )
    .unwrap();
    let opts = ComponentOptions {
        id: "prometheus.scrape.test".into(),
        data_dir: std::env::temp_dir().join("solder-scrape-unused"),
        registry: prometheus::Registry::new(),
        health: HealthReporter::new(),
        host: Arc::new(HostInfo {
            http_listen_addr: "127.0.0.1:1".into(),
            http_memory_addr: "alloy.internal:12345".into(),
            hostname: "test-host".into(),
            self_registry: prometheus::Registry::new(),
        }),
        exports: Arc::new(NoExports),
    };
    let err = match Typed::<PrometheusScrape>::new().build(opts, args) {
        Ok(_) => panic!("build must fail"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("can't create json log file"), "{err}");
}

// ---- the loop's own connection (plain http, no proxy) -------------------------------------------

/// A scrape target on [`RawServer`]: `/metrics` answers one sample, or with `redirect` a 302
/// to `/final`, which answers the sample.
async fn raw_target(mode: RawMode, redirect: bool) -> RawServer {
    let reply: raw_http::Reply = Arc::new(move |line: &str| {
        if redirect && line.starts_with("GET /metrics ") {
            "HTTP/1.1 302 Found\r\nLocation: /final\r\nContent-Length: 0\r\n\r\n".to_owned()
        } else {
            raw_http::ok("text/plain; version=0.0.4", "raw_metric 7\n")
        }
    });
    RawServer::start(mode, reply).await
}

fn ups(h: &Harness) -> Vec<f64> {
    h.rec.named("up").iter().map(|s| s.value).collect()
}

#[tokio::test]
async fn scrapes_of_a_plain_http_target_reuse_one_connection() {
    let t = raw_target(RawMode::KeepAlive, false).await;
    let h = Harness::start(&fast(&one(&t.addr), "bearer_token = \"tok\"\n"));
    wait_for("four scrapes", || ups(&h).len() >= 4).await;
    assert!(ups(&h).iter().all(|&u| u == 1.0), "{:?}", ups(&h));
    assert_eq!(
        t.connections(),
        1,
        "one kept-alive connection for every scrape"
    );
    let first = &t.requests()[0];
    assert_eq!(first.line, "GET /metrics HTTP/1.1");
    assert_eq!(first.header("host"), [t.addr.as_str()]);
    assert_eq!(first.header("authorization"), ["Bearer tok"]);
    assert_eq!(first.header("accept-encoding"), ["gzip"]);
    assert_eq!(
        first.header("x-prometheus-scrape-timeout-seconds"),
        ["0.15"]
    );
    assert_eq!(first.header("user-agent").len(), 1);
    assert!(first.header("accept")[0].starts_with("application/openmetrics-text"));
    // Like Go's client, a GET carries no body framing at all.
    assert!(first.header("content-length").is_empty() && first.body_len == 0);
    h.stop().await;
}

#[tokio::test]
async fn a_request_the_kept_connection_lost_is_sent_again_on_a_new_one() {
    let t = raw_target(RawMode::HangUpOnSecondRequest, false).await;
    let h = Harness::start(&fast(&one(&t.addr), ""));
    wait_for("four scrapes", || ups(&h).len() >= 4).await;
    assert!(ups(&h).iter().all(|&u| u == 1.0), "{:?}", ups(&h));
    // Every scrape after the first: the lost request, then the same on a new connection.
    let (scrapes, requests) = (ups(&h).len(), t.requests().len());
    assert!(
        requests >= 2 * scrapes - 2,
        "{requests} requests for {scrapes} scrapes"
    );
    assert!(t.connections() >= scrapes, "a new connection per scrape");
    h.stop().await;
}

#[tokio::test]
async fn redirects_are_followed_unless_disabled() {
    let t = raw_target(RawMode::KeepAlive, true).await;
    let h = Harness::start(&fast(&one(&t.addr), ""));
    wait_for("scrape", || !h.rec.named("raw_metric").is_empty()).await;
    assert_eq!(ups(&h)[0], 1.0);
    assert!(t.requests().iter().any(|r| r.line == "GET /final HTTP/1.1"));
    h.stop().await;

    let t = raw_target(RawMode::KeepAlive, true).await;
    let h = Harness::start(&fast(&one(&t.addr), "follow_redirects = false\n"));
    wait_for("scrape", || !ups(&h).is_empty()).await;
    assert_eq!(ups(&h)[0], 0.0);
    let info = h.component.debug_info().unwrap();
    assert_eq!(
        info["target"][0]["last_error"],
        "server returned HTTP status 302 Found"
    );
    assert!(t.requests().iter().all(|r| r.line != "GET /final HTTP/1.1"));
    h.stop().await;
}

#[tokio::test]
async fn a_configured_proxy_carries_plain_http_scrapes() {
    let t = raw_target(RawMode::KeepAlive, false).await;
    let dead = dead_addr().await;
    let h = Harness::start(&fast(
        &one(&t.addr),
        &format!("proxy_url = \"http://{dead}\"\n"),
    ));
    wait_for("scrape", || !ups(&h).is_empty()).await;
    assert_eq!(ups(&h)[0], 0.0, "scraped through the dead proxy");
    assert_eq!(t.connections(), 0, "the target was not contacted directly");
    h.stop().await;
}

#[tokio::test]
async fn a_refused_connection_reads_like_go() {
    let dead = dead_addr().await;
    let h = Harness::start(&fast(&one(&dead), ""));
    wait_for("scrape", || !ups(&h).is_empty()).await;
    let info = h.component.debug_info().unwrap();
    let err = info["target"][0]["last_error"].as_str().unwrap().to_owned();
    assert!(
        err.starts_with(&format!("Get \"http://{dead}/metrics\": dial tcp {dead}: ")),
        "{err}"
    );
    h.stop().await;
}
