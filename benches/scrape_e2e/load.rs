//! Load for the end-to-end scrape benchmark (`benches/scrape_e2e/run.sh`): one process that
//! is both sides of the agent under test.
//!
//! - a scrape-target simulator: `--targets` listeners on loopback ports, each serving
//!   `--series` series in the Prometheus text format, values changing on every scrape;
//! - a remote-write sink on its own port: decodes each snappy `prometheus.WriteRequest` with
//!   the official message types and counts samples; `GET /stats` reports the totals.
//!
//! It writes the agent configs for the ports it got into `--out`: `solder.alloy` and
//! `prometheus-agent.yml` (the same targets, interval and defaults for both agents), and
//! `sink.addr`. It runs single-threaded so `taskset` can keep it on one core.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use solder_proto::prometheus::WriteRequest;
use solder_proto::prost::Message;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What the command line asks for.
struct Options {
    targets: usize,
    series: usize,
    interval: String,
    out: PathBuf,
}

fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        targets: 500,
        series: 1000,
        interval: "15s".to_string(),
        out: PathBuf::from("."),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--targets" => o.targets = value.parse().map_err(|e| format!("--targets: {e}"))?,
            "--series" => o.series = value.parse().map_err(|e| format!("--series: {e}"))?,
            "--interval" => o.interval = value,
            "--out" => o.out = PathBuf::from(value),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if o.series == 0 || o.targets == 0 {
        return Err("--targets and --series must be positive".into());
    }
    Ok(o)
}

/// The constant part of every target's exposition: `# HELP`/`# TYPE` per family of ten
/// series and each series' name and labels, so a scrape only formats the values.
struct Exposition {
    /// For each series: the text before the value (headers included when it opens a family).
    prefixes: Vec<String>,
}

impl Exposition {
    fn new(series: usize) -> Exposition {
        let prefixes = (0..series)
            .map(|j| {
                let family = j / 10;
                let mut p = String::new();
                if j % 10 == 0 {
                    let _ = writeln!(
                        p,
                        "# HELP bench_family_{family:03}_total A simulated request counter."
                    );
                    let _ = writeln!(p, "# TYPE bench_family_{family:03}_total counter");
                }
                let _ = write!(
                    p,
                    "bench_family_{family:03}_total{{handler=\"/api/v1/h{}\",method=\"GET\",status=\"200\"}} ",
                    j % 10
                );
                p
            })
            .collect();
        Exposition { prefixes }
    }

    /// The body of scrape number `n` of a target: counters that grow on every scrape.
    fn render(&self, n: u64) -> String {
        let mut body = String::with_capacity(self.prefixes.len() * 80);
        for (j, prefix) in self.prefixes.iter().enumerate() {
            body.push_str(prefix);
            let _ = writeln!(body, "{}", n * (j as u64 + 1));
        }
        body
    }
}

struct Target {
    exposition: Arc<Exposition>,
    scrapes: AtomicU64,
}

async fn serve_metrics(
    State(t): State<Arc<Target>>,
) -> ([(&'static str, &'static str); 1], String) {
    let n = t.scrapes.fetch_add(1, Ordering::Relaxed) + 1;
    (
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        t.exposition.render(n),
    )
}

#[derive(Default)]
struct SinkStats {
    requests: AtomicU64,
    samples: AtomicU64,
    series: AtomicU64,
    compressed_bytes: AtomicU64,
    rejected: AtomicU64,
}

async fn receive(State(s): State<Arc<SinkStats>>, body: Bytes) -> StatusCode {
    let decoded = snap::raw::Decoder::new()
        .decompress_vec(&body)
        .ok()
        .and_then(|raw| WriteRequest::decode(raw.as_slice()).ok());
    let Some(req) = decoded else {
        s.rejected.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST;
    };
    let samples: usize = req
        .timeseries
        .iter()
        .map(|ts| ts.samples.len() + ts.histograms.len())
        .sum();
    s.requests.fetch_add(1, Ordering::Relaxed);
    s.samples.fetch_add(samples as u64, Ordering::Relaxed);
    s.series
        .fetch_add(req.timeseries.len() as u64, Ordering::Relaxed);
    s.compressed_bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    StatusCode::NO_CONTENT
}

async fn stats(State(s): State<Arc<SinkStats>>) -> String {
    format!(
        "samples {}\nrequests {}\nseries {}\ncompressed_bytes {}\nrejected {}\n",
        s.samples.load(Ordering::Relaxed),
        s.requests.load(Ordering::Relaxed),
        s.series.load(Ordering::Relaxed),
        s.compressed_bytes.load(Ordering::Relaxed),
        s.rejected.load(Ordering::Relaxed),
    )
}

fn solder_config(addrs: &[String], interval: &str, sink: &str) -> String {
    let mut c = String::from("prometheus.scrape \"bench\" {\n  targets = [\n");
    for a in addrs {
        let _ = writeln!(c, "    {{\"__address__\" = \"{a}\"}},");
    }
    let _ = write!(
        c,
        "  ]\n  forward_to      = [prometheus.remote_write.sink.receiver]\n  \
         scrape_interval = \"{interval}\"\n  scrape_timeout  = \"10s\"\n}}\n\n\
         prometheus.remote_write \"sink\" {{\n  endpoint {{\n    url = \"http://{sink}/api/v1/write\"\n  }}\n}}\n"
    );
    c
}

fn prometheus_config(addrs: &[String], interval: &str, sink: &str) -> String {
    let mut c = format!(
        "global:\n  scrape_interval: {interval}\n  scrape_timeout: 10s\nscrape_configs:\n  \
         - job_name: prometheus.scrape.bench\n    static_configs:\n      - targets:\n"
    );
    for a in addrs {
        let _ = writeln!(c, "          - '{a}'");
    }
    let _ = writeln!(c, "remote_write:\n  - url: http://{sink}/api/v1/write");
    c
}

async fn run(o: Options) -> Result<(), String> {
    let exposition = Arc::new(Exposition::new(o.series));
    let mut addrs = Vec::with_capacity(o.targets);
    for _ in 0..o.targets {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("binding a target port: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("target address: {e}"))?;
        addrs.push(addr.to_string());
        let target = Arc::new(Target {
            exposition: Arc::clone(&exposition),
            scrapes: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/metrics", get(serve_metrics))
            .with_state(target);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("target {addr}: {e}");
            }
        });
    }

    let sink_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("binding the sink: {e}"))?;
    let sink = sink_listener
        .local_addr()
        .map_err(|e| format!("sink address: {e}"))?
        .to_string();
    let sink_app = Router::new()
        .route("/api/v1/write", post(receive))
        .route("/stats", get(stats))
        .with_state(Arc::new(SinkStats::default()));

    std::fs::create_dir_all(&o.out).map_err(|e| format!("{}: {e}", o.out.display()))?;
    let write = |name: &str, text: String| {
        std::fs::write(o.out.join(name), text).map_err(|e| format!("writing {name}: {e}"))
    };
    write("solder.alloy", solder_config(&addrs, &o.interval, &sink))?;
    write(
        "prometheus-agent.yml",
        prometheus_config(&addrs, &o.interval, &sink),
    )?;
    // Written last: its presence tells run.sh that every port is listening.
    write("sink.addr", format!("{sink}\n"))?;
    eprintln!(
        "serving {} targets × {} series; sink on {sink}",
        o.targets, o.series
    );
    axum::serve(sink_listener, sink_app)
        .await
        .map_err(|e| format!("sink: {e}"))
}

fn main() {
    let options = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "scrape-e2e-load: {e}\nusage: scrape-e2e-load [--targets 500] [--series 1000] \
                 [--interval 15s] [--out DIR]"
            );
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run(options)) {
        eprintln!("scrape-e2e-load: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::Exposition;

    #[test]
    fn exposition_has_the_requested_series_and_growing_values() {
        let e = Exposition::new(1000);
        let body = e.render(3);
        let samples: Vec<&str> = body.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(samples.len(), 1000);
        assert_eq!(
            body.lines().filter(|l| l.starts_with("# TYPE")).count(),
            100
        );
        assert!(samples[0].ends_with(" 3"), "{}", samples[0]);
        assert!(samples[999].ends_with(" 3000"), "{}", samples[999]);
        assert!(samples[999].starts_with("bench_family_099_total{"));
    }
}
