//! `prometheus.remote_write` with its *default* queue settings must keep up with a steady
//! scrape-like load against a fast local endpoint: the sender may not be bound by latency
//! (waiting for `batch_send_deadline`, one request at a time per tiny batch, ...).
//!
//! The load mimics the end-to-end benchmark (`benches/scrape_e2e`): each append is one
//! target's scrape of 1,000 distinct series, and appends are paced to a fixed rate.
//! `RW_THROUGHPUT_RATE` / `RW_THROUGHPUT_SECS` scale it for measurements (run in release with
//! `--nocapture` to see the figures); the defaults are light enough for a debug build.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use solder_core::signals::metrics::{Labels, MetricsBatch, MetricsReceiverRef, Sample};
use solder_core::{
    ComponentBuilder, ComponentOptions, ExportSink, HealthReporter, HostInfo, Typed,
};
use solder_prometheus::remote_write::PrometheusRemoteWrite;
use solder_proto::prometheus::WriteRequest;
use solder_proto::prost::Message;
use solder_syntax::ast::Stmt;
use solder_syntax::eval::eval_body;
use solder_syntax::parser::parse_file;
use solder_syntax::{FileId, Object, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const SERIES_PER_TARGET: usize = 1000;

#[derive(Default)]
struct Sink {
    samples: AtomicU64,
    requests: AtomicU64,
}

async fn start_sink() -> (String, Arc<Sink>) {
    let sink = Arc::new(Sink::default());
    let s = sink.clone();
    let app = axum::Router::new().route(
        "/api/v1/write",
        axum::routing::post(move |body: Bytes| {
            let s = s.clone();
            async move {
                let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
                let req = WriteRequest::decode(raw.as_slice()).unwrap();
                let n: usize = req.timeseries.iter().map(|t| t.samples.len()).sum();
                s.samples.fetch_add(n as u64, Ordering::Relaxed);
                s.requests.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/api/v1/write"), sink)
}

#[derive(Default)]
struct Exports(Mutex<Option<Value>>);

impl ExportSink for Exports {
    fn publish(&self, exports: Value) {
        *self.0.lock().unwrap() = Some(exports);
    }
}

fn start(url: &str, data_dir: &std::path::Path) -> (MetricsReceiverRef, CancellationToken) {
    // Default queue_config: only the URL is set.
    let src = format!(
        "prometheus.remote_write \"test\" {{\n  endpoint {{\n    url = \"{url}\"\n  }}\n}}\n"
    );
    let (file, diags) = parse_file(&src, FileId(0));
    assert!(!diags.has_errors(), "{diags:?}");
    let Some(Stmt::Block(block)) = file.body.first() else {
        panic!("no block")
    };
    let value = eval_body(&block.body, block.span, &Object::new()).unwrap();
    let args = Typed::<PrometheusRemoteWrite>::new()
        .decode(&value)
        .unwrap();
    let exports = Arc::new(Exports::default());
    let opts = ComponentOptions {
        id: "prometheus.remote_write.test".into(),
        data_dir: data_dir.to_path_buf(),
        registry: prometheus::Registry::new(),
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
    let s = shutdown.clone();
    tokio::spawn(async move { component.run(s).await.unwrap() });
    (receiver, shutdown)
}

/// One scrape of target `t`: 1,000 series shaped like the benchmark's.
fn scrape(t: usize, ts: i64) -> MetricsBatch {
    let samples = (0..SERIES_PER_TARGET)
        .map(|j| Sample {
            labels: Labels::new(vec![
                (
                    "__name__".into(),
                    format!("bench_family_{:03}_total", j / 10),
                ),
                ("handler".into(), format!("/api/v1/h{j}")),
                ("instance".into(), format!("127.0.0.1:{}", 20000 + t)),
                ("job".into(), "prometheus.scrape.bench".into()),
                ("method".into(), "GET".into()),
                ("status".into(), "200".into()),
            ]),
            timestamp_ms: ts,
            value: j as f64,
        })
        .collect();
    MetricsBatch {
        samples,
        ..Default::default()
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_queue_config_keeps_up_with_a_steady_load() {
    let rate = env_or("RW_THROUGHPUT_RATE", 4_000); // samples per second
    let secs = env_or("RW_THROUGHPUT_SECS", 6);
    let (url, sink) = start_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let (receiver, shutdown) = start(&url, dir.path());

    // Prepared up front so the pacing loop only appends.
    let appends_per_sec = (rate as usize / SERIES_PER_TARGET).max(1);
    let total = appends_per_sec * secs as usize;
    let batches: Vec<MetricsBatch> = (0..total)
        .map(|i| scrape(i % 500, 1_000 * (i / 500) as i64))
        .collect();
    let appended = (total * SERIES_PER_TARGET) as u64;

    let start = Instant::now();
    let gap = Duration::from_secs(1) / appends_per_sec as u32;
    for (i, b) in batches.into_iter().enumerate() {
        tokio::time::sleep_until((start + gap * i as u32).into()).await;
        receiver.append(b).await.unwrap();
    }
    let fed = start.elapsed();
    let behind_at_end = appended - sink.samples.load(Ordering::Relaxed);
    // Whatever was still on its way when feeding stopped must follow soon: a sender that
    // delivers less than about half of the input rate fails this. (The total is a multiple of
    // max_samples_per_send, so no batch has to wait for batch_send_deadline.) Generous
    // because debug builds on a shared machine are slow.
    while sink.samples.load(Ordering::Relaxed) < appended {
        assert!(
            start.elapsed() < fed + Duration::from_secs(10),
            "only {} of {appended} samples delivered {:?} after feeding stopped \
             ({behind_at_end} behind when it stopped)",
            sink.samples.load(Ordering::Relaxed),
            start.elapsed() - fed
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = start.elapsed();
    println!(
        "fed {appended} samples at {:.0}/s over {fed:?}; delivered all after {took:?} \
         ({:.0} samples/s, {} requests, {behind_at_end} behind when feeding stopped)",
        appended as f64 / fed.as_secs_f64(),
        appended as f64 / took.as_secs_f64(),
        sink.requests.load(Ordering::Relaxed),
    );
    assert!(
        sink.samples.load(Ordering::Relaxed) == appended,
        "duplicates"
    );
    shutdown.cancel();
}
