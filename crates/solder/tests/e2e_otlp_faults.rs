//! OTLP fault tests against the real `solder` binary: backend down for a minute, `kill -9`
//! with a full durable queue, overload past `otelcol.processor.memory_limiter`, and malformed,
//! compressed-bomb and oversize requests. Each counts what was acknowledged and what arrived at
//! the in-test backend (decoded with the official `opentelemetry-proto` types).
//!
//! Spans are sent with a raw gRPC client built from the official stubs (not an SDK), so every
//! status code Solder answers is visible and nothing is retried behind the test's back. The
//! tests run in parallel; the longest (backend down 60 s) bounds the file at about 75 s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use solder_e2e::otlp_sink::{make_spans, span_indexes, Code, GrpcClient, OtlpSink, SinkMode};
use solder_e2e::{free_port, poll};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_solder"))
}

/// A `solder run` whose storage path the test chooses, so a second process can reuse it after
/// the first was killed (the shared harness gives every agent a fresh one).
struct Proc {
    child: Child,
    admin: String,
    log: PathBuf,
}

impl Proc {
    fn start(config: &str, dir: &Path) -> Proc {
        let config_path = dir.join("config.alloy");
        std::fs::write(&config_path, config).unwrap();
        let admin = format!("127.0.0.1:{}", free_port());
        // Append, so a restarted process's log follows the killed one's.
        let log = dir.join("solder.log");
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(bin())
            .arg("run")
            .arg(&config_path)
            .arg(format!("--server.http.listen-addr={admin}"))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap();
        let mut p = Proc { child, admin, log };
        let ready = poll(Duration::from_secs(30), || {
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!("solder exited with {status}: {}", p.logs());
            }
            let url = format!("http://{}/-/ready", p.admin);
            let ok = reqwest::blocking::get(url).map(|r| r.status().as_u16() == 200);
            ok.unwrap_or(false).then_some(())
        });
        assert!(ready.is_some(), "solder not ready: {}", p.logs());
        p
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn kill9(&mut self) {
        // Child::kill sends SIGKILL on Unix: no shutdown hook runs.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Peak resident set size (VmHWM) in bytes.
    fn peak_rss(&self) -> u64 {
        proc_status_kib(self.child.id(), "VmHWM:") * 1024
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn wait_listening(addr: &str) {
    let ok = poll(Duration::from_secs(20), || {
        std::net::TcpStream::connect(addr).ok().map(|_| ())
    });
    assert!(ok.is_some(), "nothing listens on {addr}");
}

/// Receiver (gRPC + HTTP) → `middle` → `otelcol.exporter.otlp` to `sink`. `middle` is the
/// text of processors whose last output feeds `otelcol.exporter.otlp.out.input`, or "" for a
/// direct wire. `exporter_extra` goes inside the exporter block.
fn config(grpc: &str, http: &str, sink: &str, middle: &str, exporter_extra: &str) -> String {
    let first = if middle.is_empty() {
        "otelcol.exporter.otlp.out.input"
    } else {
        "otelcol.processor.memory_limiter.ml.input"
    };
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
    traces = [{first}]
  }}
}}
{middle}
otelcol.exporter.otlp "out" {{
  client {{
    endpoint = "{sink}"
    tls {{
      insecure = true
    }}
  }}
  retry_on_failure {{
    initial_interval = "200ms"
    max_interval     = "1s"
    max_elapsed_time = "0s"
  }}
{exporter_extra}
}}
"#
    )
}

/// How often each index arrived.
fn arrivals(sink: &OtlpSink) -> BTreeMap<i64, usize> {
    let mut m = BTreeMap::new();
    for i in span_indexes(&sink.spans()) {
        *m.entry(i).or_default() += 1;
    }
    m
}

const BASE_NS: u64 = 1_700_000_000_000_000_000;

#[test]
fn backend_down_for_a_minute_then_back_loses_nothing() {
    let sink = OtlpSink::start();
    sink.stop();
    let dir = tempfile::tempdir().unwrap();
    let grpc = format!("127.0.0.1:{}", free_port());
    let http = format!("127.0.0.1:{}", free_port());
    let mut agent = Proc::start(&config(&grpc, &http, &sink.endpoint(), "", ""), dir.path());
    wait_listening(&grpc);
    let client = GrpcClient::new(&grpc, false);
    // 20 requests of 50 spans spread over the first seconds of the outage.
    for r in 0..20 {
        client
            .export_traces(make_spans(1, r * 50, 50, BASE_NS))
            .unwrap_or_else(|e| panic!("request {r} refused while the backend is down: {e:?}"));
    }
    let down_since = Instant::now();
    while down_since.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_secs(1));
        assert!(agent.alive(), "solder died: {}", agent.logs());
    }
    sink.restart();
    let all = poll(Duration::from_secs(30), || {
        (arrivals(&sink).len() == 1000).then_some(())
    });
    let got = arrivals(&sink);
    assert!(
        all.is_some(),
        "{} of 1000 spans arrived after the backend came back; log:\n{}",
        got.len(),
        agent.logs()
    );
    std::thread::sleep(Duration::from_secs(1));
    let dups: Vec<_> = arrivals(&sink)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(
        dups.is_empty(),
        "a backend that refused connections got duplicates: {dups:?}"
    );
}

#[test]
fn kill_9_with_a_full_durable_queue_then_restart_delivers_every_acknowledged_span() {
    let sink = OtlpSink::start();
    let port = sink.port();
    sink.stop();
    let dir = tempfile::tempdir().unwrap();
    let grpc = format!("127.0.0.1:{}", free_port());
    let http = format!("127.0.0.1:{}", free_port());
    // A small queue so it fills: 30 requests.
    let cfg = config(
        &grpc,
        &http,
        &sink.endpoint(),
        "",
        "  sending_queue {\n    queue_size = 30\n  }",
    );
    let mut agent = Proc::start(&cfg, dir.path());
    wait_listening(&grpc);
    let client = GrpcClient::new(&grpc, false);
    let mut acked = Vec::new();
    let mut refused = None;
    for r in 0..200u64 {
        match client.export_traces(make_spans(2, r * 10, 10, BASE_NS)) {
            Ok(_) => acked.extend(r * 10..r * 10 + 10),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let refused = refused.expect("a 30-request queue must refuse within 200 requests");
    assert!(
        matches!(refused.code(), Code::ResourceExhausted | Code::Unavailable),
        "a full queue answers RESOURCE_EXHAUSTED/UNAVAILABLE, got {refused:?}"
    );
    assert!(
        !acked.is_empty(),
        "nothing was acknowledged before the queue filled"
    );

    agent.kill9();
    // Same storage path, same ports; the backend comes back.
    let mut agent = Proc::start(&cfg, dir.path());
    let back = OtlpSink::start_on(port);
    let want = acked.len();
    let done = poll(Duration::from_secs(40), || {
        let got = arrivals(&back);
        acked
            .iter()
            .all(|i| got.contains_key(&(*i as i64)))
            .then_some(())
    });
    let got = arrivals(&back);
    let missing: Vec<_> = acked
        .iter()
        .filter(|i| !got.contains_key(&(**i as i64)))
        .collect();
    assert!(
        done.is_some(),
        "{} of {want} acknowledged spans lost across kill -9 (first: {:?}); log:\n{}",
        missing.len(),
        missing.iter().take(10).collect::<Vec<_>>(),
        agent.logs()
    );
    assert!(agent.alive());
}

#[test]
fn overload_past_memory_limiter_is_refused_and_rss_stays_bounded() {
    // A slow backend and no exporter queue: every request holds memory until the backend
    // answers, so enough concurrent large requests push Solder towards the limit.
    let sink = OtlpSink::start();
    sink.set_mode(SinkMode::Delay(Duration::from_secs(2)));
    let dir = tempfile::tempdir().unwrap();
    let grpc = format!("127.0.0.1:{}", free_port());
    let http = format!("127.0.0.1:{}", free_port());
    const LIMIT_MIB: u64 = 64;
    let middle = format!(
        r#"
otelcol.processor.memory_limiter "ml" {{
  check_interval = "50ms"
  limit          = "{LIMIT_MIB}MiB"
  spike_limit    = "16MiB"
  output {{
    traces = [otelcol.exporter.otlp.out.input]
  }}
}}
"#
    );
    let cfg = config(
        &grpc,
        &http,
        &sink.endpoint(),
        &middle,
        "  sending_queue {\n    enabled = false\n  }",
    );
    let mut agent = Proc::start(&cfg, dir.path());
    wait_listening(&grpc);
    let codes = std::sync::Mutex::new(BTreeMap::<String, usize>::new());
    let http_codes = std::sync::Mutex::new(BTreeMap::<u16, usize>::new());
    // Pressure is kept up until both protocols have been refused at least once (or a deadline
    // passes): whether a given request lands while usage is above the soft limit depends on
    // the machine's timing, so a fixed number of rounds made the test flaky on slow machines.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(45);
    let refused_grpc = |c: &BTreeMap<String, usize>| {
        c.get("ResourceExhausted").copied().unwrap_or(0)
            + c.get("Unavailable").copied().unwrap_or(0)
    };
    let refused_http = |c: &BTreeMap<u16, usize>| {
        c.get(&429).copied().unwrap_or(0) + c.get(&503).copied().unwrap_or(0)
    };
    let check_done = || {
        let g = refused_grpc(&codes.lock().unwrap()) > 0;
        let h = refused_http(&http_codes.lock().unwrap()) > 0;
        if (g && h) || Instant::now() > deadline {
            stop.store(true, std::sync::atomic::Ordering::Release);
        }
    };
    let running = || !stop.load(std::sync::atomic::Ordering::Acquire);
    std::thread::scope(|s| {
        // Six clients keep 2.5 MiB requests in flight; more overshoot the hard limit: the
        // limiter samples RSS every check_interval, so the receive buffers of requests that
        // arrive between two checks are not refused yet.
        for t in 0..6u64 {
            let (codes, grpc, check_done, running) = (&codes, &grpc, &check_done, &running);
            s.spawn(move || {
                let client = GrpcClient::new(grpc, false);
                // ~2.5 MiB requests (under the 4 MiB receive limit).
                let mut r = 0u64;
                while running() {
                    let mut req = make_spans(3, (t * 1000 + r) * 5000, 5000, BASE_NS);
                    pad(&mut req, 400);
                    let key = match client.export_traces(req) {
                        Ok(_) => "OK".to_string(),
                        Err(e) => format!("{:?}", e.code()),
                    };
                    *codes.lock().unwrap().entry(key).or_default() += 1;
                    check_done();
                    r += 1;
                }
            });
        }
        // The HTTP side of the receiver must answer 429/503 under the same pressure. Its
        // requests are small and sent once gRPC has seen the limiter refuse: the limiter refuses
        // every request while usage is above the soft limit, whatever its size, and a small
        // body keeps the HTTP client from adding pressure or timing out on a loaded machine.
        let (http_codes, http, check_done, running, codes) =
            (&http_codes, &http, &check_done, &running, &codes);
        s.spawn(move || {
            let c = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap();
            let mut r = 0u64;
            while running() {
                if refused_grpc(&codes.lock().unwrap()) == 0 {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                let body = prost_encode(&make_spans(4, r * 10, 10, BASE_NS));
                let status = c
                    .post(format!("http://{http}/v1/traces"))
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .map(|r| r.status().as_u16())
                    .unwrap_or_else(|e| {
                        eprintln!("HTTP request failed: {e:?}");
                        0
                    });
                *http_codes.lock().unwrap().entry(status).or_default() += 1;
                check_done();
                r += 1;
            }
        });
    });
    let codes = codes.into_inner().unwrap();
    let http_codes = http_codes.into_inner().unwrap();
    assert!(
        agent.alive(),
        "solder crashed under overload: {}",
        agent.logs()
    );
    let refused = refused_grpc(&codes);
    assert!(refused > 0, "nothing was refused under overload: {codes:?}");
    let http_refused = refused_http(&http_codes);
    assert!(
        http_refused > 0,
        "HTTP never refused under overload: {http_codes:?}"
    );
    let peak = agent.peak_rss();
    assert!(
        peak < LIMIT_MIB * 1024 * 1024,
        "peak RSS {} MiB above the {LIMIT_MIB} MiB limit (gRPC {codes:?}, HTTP {http_codes:?})",
        peak / (1024 * 1024)
    );
    // Pressure gone: the next request is served.
    sink.set_mode(SinkMode::Accept);
    let client = GrpcClient::new(&grpc, false);
    let ok = poll(Duration::from_secs(20), || {
        client
            .export_traces(make_spans(5, 0, 1, BASE_NS))
            .ok()
            .map(|_| ())
    });
    assert!(ok.is_some(), "still refusing after the overload ended");
}

/// Give every span a `pad` attribute of `bytes` bytes.
fn pad(
    req: &mut solder_e2e::otlp_sink::proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
    bytes: usize,
) {
    use solder_e2e::otlp_sink::proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    for rs in &mut req.resource_spans {
        for ss in &mut rs.scope_spans {
            for (i, span) in ss.spans.iter_mut().enumerate() {
                // Varied content so compression cannot hide the size.
                let s: String = (0..bytes)
                    .map(|j| char::from(b'a' + ((i * 7 + j * 13) % 26) as u8))
                    .collect();
                span.attributes.push(KeyValue {
                    key: "pad".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(s)),
                    }),
                    ..Default::default()
                });
            }
        }
    }
}

fn prost_encode(
    req: &solder_e2e::otlp_sink::proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
) -> Vec<u8> {
    solder_e2e::otlp_sink::encode(req)
}

#[test]
fn malformed_bomb_and_oversize_requests_get_clear_errors_and_the_next_is_served() {
    let sink = OtlpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let grpc = format!("127.0.0.1:{}", free_port());
    let http = format!("127.0.0.1:{}", free_port());
    let mut agent = Proc::start(&config(&grpc, &http, &sink.endpoint(), "", ""), dir.path());
    wait_listening(&grpc);
    wait_listening(&http);
    let client = GrpcClient::new(&grpc, false);
    let web = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let traces_url = format!("http://{http}/v1/traces");
    let mut served = 0u64;
    // After every bad request, a good one over each transport must still be served.
    let mut next_is_served = |what: &str| {
        client
            .export_traces(make_spans(6, served, 1, BASE_NS))
            .unwrap_or_else(|e| panic!("gRPC request after {what} refused: {e:?}"));
        served += 1;
        let body = solder_e2e::otlp_sink::encode(&make_spans(6, served, 1, BASE_NS));
        let r = web
            .post(&traces_url)
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "HTTP request after {what}");
        served += 1;
    };

    // gRPC: bytes that are not an ExportTraceServiceRequest.
    let e = client
        .export_raw_traces(vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])
        .unwrap_err();
    assert!(
        matches!(e.code(), Code::InvalidArgument | Code::Internal),
        "malformed protobuf over gRPC: {e:?}"
    );
    next_is_served("malformed gRPC protobuf");

    // gRPC: a message larger than max_recv_msg_size (4 MiB), gzip-compressed to a few KiB.
    let mut big = make_spans(6, 10_000, 1, BASE_NS);
    pad(&mut big, 6 * 1024 * 1024);
    let zipped = GrpcClient::new(&grpc, true);
    let e = zipped.export_traces(big).unwrap_err();
    assert_eq!(
        e.code(),
        Code::ResourceExhausted,
        "oversize gRPC message: {e:?}"
    );
    next_is_served("oversize gRPC message");

    let post = |ctype: &str, encoding: Option<&str>, body: Vec<u8>| {
        let mut r = web.post(&traces_url).header("content-type", ctype);
        if let Some(enc) = encoding {
            r = r.header("content-encoding", enc);
        }
        let resp = r.body(body).send().unwrap();
        (resp.status().as_u16(), resp.text().unwrap_or_default())
    };

    let (status, body) = post(
        "application/x-protobuf",
        None,
        vec![0x0a, 0xff, 0xff, 0xff, 0x0f],
    );
    assert_eq!(status, 400, "malformed protobuf over HTTP: {body}");
    next_is_served("malformed HTTP protobuf");

    let (status, body) = post(
        "application/json",
        None,
        b"{\"resourceSpans\": [ {".to_vec(),
    );
    assert_eq!(status, 400, "malformed JSON over HTTP: {body}");
    next_is_served("malformed JSON");

    // A gzip bomb: 512 MiB of zeros in well under 1 MiB on the wire.
    let before = agent.peak_rss();
    let bomb = gzip_zeros(512);
    let (status, body) = post("application/x-protobuf", Some("gzip"), bomb);
    assert!(
        (400..500).contains(&status),
        "gzip bomb must be refused with a 4xx, got {status}: {body}"
    );
    assert!(agent.alive(), "gzip bomb crashed solder: {}", agent.logs());
    let grown = agent.peak_rss().saturating_sub(before);
    assert!(
        grown < 64 * 1024 * 1024,
        "the bomb grew peak RSS by {} MiB",
        grown / (1024 * 1024)
    );
    next_is_served("gzip bomb");

    // Oversize: a 24 MiB body, above max_request_body_size (20 MiB).
    let mut huge = make_spans(6, 20_000, 1, BASE_NS);
    pad(&mut huge, 24 * 1024 * 1024);
    let (status, body) = post(
        "application/x-protobuf",
        None,
        solder_e2e::otlp_sink::encode(&huge),
    );
    assert!(
        status == 413 || status == 400,
        "oversize HTTP body must be refused with 413/400, got {status}: {body}"
    );
    next_is_served("oversize HTTP body");

    assert!(agent.alive());
    // Only the good requests reached the backend.
    let ok = poll(Duration::from_secs(10), || {
        (arrivals(&sink).len() as u64 == served).then_some(())
    });
    assert!(
        ok.is_some(),
        "want {served} good spans, got {:?}",
        arrivals(&sink)
    );
    assert_eq!(
        arrivals(&sink).keys().max().copied(),
        Some(served as i64 - 1)
    );
}

/// `mib` MiB of zero bytes, gzip-compressed, built in chunks so the test never holds them.
fn gzip_zeros(mib: usize) -> Vec<u8> {
    solder_e2e::otlp_sink::gzip_repeated(&[0u8; 1024 * 1024], mib)
}
