//! OTLP load driver: real spans over OTLP/gRPC into `solder` running
//! `otelcol.receiver.otlp` → [`otelcol.processor.attributes`] → `otelcol.processor.batch` →
//! `otelcol.exporter.otlp` → an in-process OTLP backend. Solder is pinned to one core and the
//! generator plus backend to another, so "spans/s per core" is throughput divided by the
//! agent's measured CPU.
//!
//! Usage (after `cargo build --release -p solder`):
//!   cargo run --release -p solder-benches --bin otlp-load -- [--solder target/release/solder]
//!     [--attributes] [--no-queue] [--tls] [--compression none|gzip]
//!     [--rate SPANS_PER_S (0 = flat out)]
//!     [--duration 15] [--warmup 3] [--connections 4] [--batch 500]
//!     [--solder-cpu 0] [--load-cpu 1]
//! Prints one human summary and one JSON line.

mod generator;
mod sink;

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Opts {
    solder: String,
    attributes: bool,
    /// `sending_queue { enabled = false }`: the exporter sends synchronously, no durable queue.
    no_queue: bool,
    /// The backend serves TLS (a certificate from a CA made for the run) and the exporter
    /// verifies it, as with a hosted Tempo.
    tls: bool,
    gzip: bool,
    rate: u64,
    duration: u64,
    warmup: u64,
    connections: usize,
    batch: usize,
    solder_cpu: String,
    load_cpu: String,
}

fn parse() -> Result<Opts, BoxError> {
    let mut kv: HashMap<String, String> = HashMap::new();
    let mut flags = Vec::new();
    let mut args = std::env::args().skip(1).peekable();
    while let Some(a) = args.next() {
        let key = a.trim_start_matches("--").to_string();
        match args.peek() {
            Some(v) if !v.starts_with("--") => {
                kv.insert(key, args.next().unwrap_or_default());
            }
            _ => flags.push(key),
        }
    }
    let get = |k: &str, d: &str| kv.get(k).cloned().unwrap_or_else(|| d.to_string());
    Ok(Opts {
        solder: get("solder", "target/release/solder"),
        attributes: flags.iter().any(|f| f == "attributes"),
        no_queue: flags.iter().any(|f| f == "no-queue"),
        tls: flags.iter().any(|f| f == "tls"),
        gzip: match get("compression", "none").as_str() {
            "none" => false,
            "gzip" => true,
            other => return Err(format!("--compression {other}: none or gzip").into()),
        },
        rate: get("rate", "0").parse()?,
        duration: get("duration", "15").parse()?,
        warmup: get("warmup", "3").parse()?,
        connections: get("connections", "4").parse()?,
        batch: get("batch", "500").parse()?,
        solder_cpu: get("solder-cpu", "0"),
        load_cpu: get("load-cpu", "1"),
    })
}

fn free_port() -> Result<u16, BoxError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `ca_file`: the CA that signed the backend's certificate, when the backend serves TLS.
fn config(grpc: u16, sink: u16, ca_file: Option<&std::path::Path>, o: &Opts) -> String {
    let (attributes, gzip) = (o.attributes, o.gzip);
    let first = if attributes {
        "otelcol.processor.attributes.a.input"
    } else {
        "otelcol.processor.batch.b.input"
    };
    // Typical enrichment and redaction: an insert, an upsert, a hash, a delete.
    let attrs = if attributes {
        r#"
otelcol.processor.attributes "a" {
  action {
    key    = "deployment.environment"
    value  = "production"
    action = "insert"
  }
  action {
    key    = "http.route"
    value  = "/api/v1/orders/{id}/items"
    action = "upsert"
  }
  action {
    key    = "enduser.id"
    action = "hash"
  }
  action {
    key    = "db.query.text"
    action = "delete"
  }
  output {
    traces = [otelcol.processor.batch.b.input]
  }
}
"#
    } else {
        ""
    };
    let compression = if gzip { "gzip" } else { "none" };
    let queue = if o.no_queue {
        "\n  sending_queue {\n    enabled = false\n  }"
    } else {
        ""
    };
    let (host, tls) = match ca_file {
        Some(ca) => (
            "localhost",
            format!("ca_file = {:?}", ca.display().to_string()),
        ),
        None => ("127.0.0.1", "insecure = true".to_string()),
    };
    format!(
        r#"
otelcol.receiver.otlp "in" {{
  grpc {{
    endpoint = "127.0.0.1:{grpc}"
  }}
  output {{
    traces = [{first}]
  }}
}}
{attrs}
otelcol.processor.batch "b" {{
  send_batch_size     = 8192
  send_batch_max_size = 8192
  timeout             = "200ms"
  output {{
    traces = [otelcol.exporter.otlp.out.input]
  }}
}}

otelcol.exporter.otlp "out" {{
  client {{
    endpoint    = "{host}:{sink}"
    compression = "{compression}"
    tls {{
      {tls}
    }}
  }}{queue}
}}
"#
    )
}

/// user+system CPU seconds of `pid`.
fn cpu_seconds(pid: u32, ticks: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (num(11) + num(12)) / ticks
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

fn main() -> Result<(), BoxError> {
    let o = parse()?;
    // Pin this process (and every thread it will start) to the load core first.
    let me = std::process::id().to_string();
    let pinned = Command::new("taskset")
        .args(["-a", "-p", "-c", &o.load_cpu, &me])
        .stdout(Stdio::null())
        .status()?;
    if !pinned.success() {
        return Err("taskset failed to pin the load generator".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(run(o))
}

async fn run(o: Opts) -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let pki = if o.tls { Some(sink::Pki::new()?) } else { None };
    let ca_file = match &pki {
        Some(p) => {
            let path = dir.path().join("ca.pem");
            std::fs::write(&path, &p.ca_pem)?;
            Some(path)
        }
        None => None,
    };
    let stats = Arc::new(sink::Stats::default());
    let sink_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sink_port = sink_listener.local_addr()?.port();
    tokio::spawn(sink::serve(sink_listener, Arc::clone(&stats), pki));

    let grpc_port = free_port()?;
    let admin_port = free_port()?;
    let cfg = dir.path().join("config.alloy");
    std::fs::write(&cfg, config(grpc_port, sink_port, ca_file.as_deref(), &o))?;
    let child = Command::new("taskset")
        .args(["-c", &o.solder_cpu, &o.solder, "run"])
        .arg(&cfg)
        .arg(format!("--server.http.listen-addr=127.0.0.1:{admin_port}"))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("solder.log"))?)
        .spawn()?;
    let agent = Agent(child);
    let pid = agent.0.id();
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", grpc_port))
        .await
        .is_err()
    {
        if started.elapsed() > Duration::from_secs(30) {
            let log = std::fs::read_to_string(dir.path().join("solder.log")).unwrap_or_default();
            return Err(format!("receiver never listened; solder log:\n{log}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let idle_rss = status_kib(pid, "VmRSS:");

    // Encoded size per span, so spans/s can be read as bytes/s through the agent.
    let bytes_per_span =
        generator::encode(&generator::template(o.batch, 0)).len() as f64 / o.batch.max(1) as f64;
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..o.connections {
        let channel =
            tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{grpc_port}"))?
                .connect()
                .await?;
        let (stop, sent, errors) = (Arc::clone(&stop), Arc::clone(&sent), Arc::clone(&errors));
        let (batch, gzip, rate, conns) = (o.batch, o.gzip, o.rate, o.connections as u64);
        tasks.push(tokio::spawn(async move {
            let mut req = generator::template(batch, c);
            let mut counter = (c as u64) << 48;
            let mut grpc = tonic::client::Grpc::new(channel);
            if gzip {
                grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
            }
            let path = tonic::codegen::http::uri::PathAndQuery::from_static(
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            );
            // Paced connections send one request every batch / (rate / connections) seconds.
            let period = (rate > 0)
                .then(|| Duration::from_secs_f64(batch as f64 * conns as f64 / rate as f64));
            let mut next = tokio::time::Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if let Some(p) = period {
                    next += p;
                    tokio::time::sleep_until(next).await;
                }
                generator::restamp(&mut req, &mut counter, sink::now_ns());
                let body = generator::encode(&req);
                if grpc.ready().await.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let r = grpc
                    .unary::<Vec<u8>, Vec<u8>, generator::RawCodec>(
                        tonic::Request::new(body),
                        path.clone(),
                        generator::RawCodec,
                    )
                    .await;
                match r {
                    Ok(_) => sent.fetch_add(batch as u64, Ordering::Relaxed),
                    Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(o.warmup)).await;
    let ticks = clock_ticks();
    let (t0, cpu0, spans0) = (
        Instant::now(),
        cpu_seconds(pid, ticks),
        stats.spans.load(Ordering::Relaxed),
    );
    stats.sampling.store(true, Ordering::Relaxed);
    let mut rss_samples = Vec::new();
    while t0.elapsed() < Duration::from_secs(o.duration) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss_samples.push(status_kib(pid, "VmRSS:"));
    }
    let (elapsed, cpu1, spans1) = (
        t0.elapsed().as_secs_f64(),
        cpu_seconds(pid, ticks),
        stats.spans.load(Ordering::Relaxed),
    );
    stats.sampling.store(false, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    // Let the agent drain so "sent" and "received" can be compared.
    let mut last = u64::MAX;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = stats.spans.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
    }

    let rate = (spans1 - spans0) as f64 / elapsed;
    let cpu = (cpu1 - cpu0) / elapsed;
    let mut lat = std::mem::take(&mut *stats.latencies_us.lock().map_err(|_| "poisoned")?);
    lat.sort_unstable();
    let peak_rss = status_kib(pid, "VmHWM:");
    let steady_rss = rss_samples.iter().sum::<u64>() / rss_samples.len().max(1) as u64;
    let (total_sent, total_recv) = (
        sent.load(Ordering::Relaxed),
        stats.spans.load(Ordering::Relaxed),
    );
    println!(
        "pipeline={} compression={} tls={} target_rate={} : {:.0} spans/s received, solder CPU {:.1}% of a core \
         => {:.0} spans/s per solder core; latency p50 {:.1} ms p99 {:.1} ms; RSS idle {:.1} MiB, \
         steady {:.1} MiB, peak {:.1} MiB; sent {} received {} errors {}; {:.0} B per span \
         ({:.1} MB/s)",
        match (o.attributes, o.no_queue) {
            (true, _) => "receiver>attributes>batch>exporter",
            (false, false) => "receiver>batch>exporter",
            (false, true) => "receiver>batch>exporter(no sending_queue)",
        },
        if o.gzip { "gzip" } else { "none" },
        o.tls,
        o.rate,
        rate,
        cpu * 100.0,
        if cpu > 0.0 { rate / cpu } else { f64::NAN },
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        idle_rss as f64 / 1024.0,
        steady_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        total_sent,
        total_recv,
        errors.load(Ordering::Relaxed),
        bytes_per_span,
        rate * bytes_per_span / 1e6,
    );
    println!(
        "{{\"attributes\":{},\"gzip\":{},\"tls\":{},\"target_rate\":{},\"spans_per_s\":{:.0},\"solder_cpu\":{:.4},\
         \"p50_ms\":{:.2},\"p99_ms\":{:.2},\"rss_idle_kib\":{},\"rss_steady_kib\":{},\"rss_peak_kib\":{},\
         \"sent\":{},\"received\":{},\"errors\":{}}}",
        o.attributes,
        o.gzip,
        o.tls,
        o.rate,
        rate,
        cpu,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        idle_rss,
        steady_rss,
        peak_rss,
        total_sent,
        total_recv,
        errors.load(Ordering::Relaxed)
    );
    Ok(())
}
