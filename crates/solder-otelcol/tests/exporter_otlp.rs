//! `otelcol.exporter.otlp` against an in-test OTLP/gRPC server built from the official
//! `opentelemetry-proto` service traits: what arrives is decoded with the official types.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::{OtlpConsumerRef, OtlpPayload, Signal};
use solder_core::{
    Component, ComponentBuilder, ComponentOptions, ExportSink, HealthReporter, HostInfo, Typed,
};
use solder_otelcol::auth::bearer::{self, BearerHandler};
use solder_otelcol::auth::{auth_handler_value, AuthHandlerRef};
use solder_otelcol::exporter::otlp::OtlpExporter;
use solder_syntax::ast::Stmt;
use solder_syntax::eval::eval_body;
use solder_syntax::parser::parse_file;
use solder_syntax::{FileId, Object, Secret, Value};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::{Code, Request, Response, Status};

// ---- the test server ---------------------------------------------------------------------

#[derive(Default)]
struct Recorded {
    traces: Vec<ExportTraceServiceRequest>,
    logs: Vec<ExportLogsServiceRequest>,
    /// (authorization, x-test, grpc-encoding) of each request.
    headers: Vec<(Option<String>, Option<String>, Option<String>)>,
    attempts: usize,
}

#[derive(Clone, Default)]
struct Server {
    recorded: Arc<Mutex<Recorded>>,
    /// Statuses to answer with, in order, before answering OK.
    script: Arc<Mutex<VecDeque<Code>>>,
}

impl Server {
    fn note<T>(&self, req: &Request<T>) -> Result<(), Status> {
        let get = |k: &str| {
            req.metadata()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let mut r = self.recorded.lock().unwrap();
        r.attempts += 1;
        r.headers
            .push((get("authorization"), get("x-test"), get("grpc-encoding")));
        drop(r);
        match self.script.lock().unwrap().pop_front() {
            Some(code) => Err(Status::new(code, "scripted failure")),
            None => Ok(()),
        }
    }

    fn traces(&self) -> Vec<ExportTraceServiceRequest> {
        self.recorded.lock().unwrap().traces.clone()
    }

    fn attempts(&self) -> usize {
        self.recorded.lock().unwrap().attempts
    }
}

#[tonic::async_trait]
impl TraceService for Server {
    async fn export(
        &self,
        req: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.note(&req)?;
        self.recorded.lock().unwrap().traces.push(req.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Server {
    async fn export(
        &self,
        req: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.note(&req)?;
        self.recorded.lock().unwrap().logs.push(req.into_inner());
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}

/// Starts the server on `addr` (port 0 = any), with TLS when `tls` holds (cert, key) PEM.
async fn start_server(
    addr: SocketAddr,
    tls: Option<(String, String)>,
) -> (Server, SocketAddr, CancellationToken) {
    let server = Server::default();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let mut builder = tonic::transport::Server::builder();
    if let Some((cert, key)) = tls {
        builder = builder
            .tls_config(
                tonic::transport::ServerTlsConfig::new()
                    .identity(tonic::transport::Identity::from_pem(cert, key)),
            )
            .unwrap();
    }
    let router = builder
        .add_service(
            TraceServiceServer::new(server.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd),
        )
        .add_service(
            LogsServiceServer::new(server.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd),
        );
    let incoming = tokio_stream_from(listener);
    let token = stop.clone();
    tokio::spawn(async move {
        let _ = router
            .serve_with_incoming_shutdown(incoming, token.cancelled_owned())
            .await;
    });
    (server, addr, stop)
}

/// The listener as the stream of connections tonic wants.
fn tokio_stream_from(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = Result<tokio::net::TcpStream, std::io::Error>> {
    futures::stream::unfold(listener, |l| async move {
        let r = l.accept().await.map(|(s, _)| s);
        Some((r, l))
    })
}

// ---- the exporter harness ------------------------------------------------------------------

#[derive(Default)]
struct Exports(Mutex<Option<Value>>);

impl ExportSink for Exports {
    fn publish(&self, v: Value) {
        *self.0.lock().unwrap() = Some(v);
    }
}

struct Exporter {
    component: Arc<dyn Component>,
    input: OtlpConsumerRef,
    registry: prometheus::Registry,
}

fn decode(body: &str) -> solder_core::AnyArgs {
    let mut scope = Object::new();
    let handler: AuthHandlerRef = Arc::new(
        BearerHandler::new(&bearer::Args {
            token: Secret::new("s3cret"),
            scheme: "Bearer".into(),
            header: "Authorization".into(),
            debug_metrics: Default::default(),
        })
        .unwrap(),
    );
    let mut auth = Object::new();
    auth.insert("handler".into(), auth_handler_value(handler));
    scope.insert("bearer".into(), Value::Object(auth));
    let src = format!("otelcol.exporter.otlp \"test\" {{\n{body}\n}}\n");
    let (file, diags) = parse_file(&src, FileId(0));
    assert!(!diags.has_errors(), "{diags:?}");
    let Some(Stmt::Block(block)) = file.body.first() else {
        panic!("no block")
    };
    let value = eval_body(&block.body, block.span, &scope).unwrap();
    Typed::<OtlpExporter>::new()
        .decode(&value)
        .unwrap_or_else(|d| panic!("decode: {d:?}"))
}

fn build(body: &str, data_dir: &Path) -> Exporter {
    let builder = Typed::<OtlpExporter>::new();
    let args = decode(body);
    let exports = Arc::new(Exports::default());
    let registry = prometheus::Registry::new();
    let opts = ComponentOptions {
        id: "otelcol.exporter.otlp.test".into(),
        data_dir: data_dir.to_path_buf(),
        registry: registry.clone(),
        health: HealthReporter::new(),
        host: Arc::new(HostInfo {
            http_listen_addr: "127.0.0.1:12345".into(),
            http_memory_addr: "alloy.internal:12345".into(),
            hostname: "test".into(),
            self_registry: prometheus::Registry::new(),
        }),
        exports: exports.clone(),
    };
    let component = builder.build(opts, args).unwrap();
    let input = match exports.0.lock().unwrap().clone() {
        Some(Value::Object(o)) => match o.get("input") {
            Some(Value::Capsule(c)) => c.downcast_ref::<OtlpConsumerRef>().unwrap().clone(),
            other => panic!("input export: {other:?}"),
        },
        other => panic!("exports: {other:?}"),
    };
    Exporter {
        component,
        input,
        registry,
    }
}

impl Exporter {
    fn start(&self) -> CancellationToken {
        let stop = CancellationToken::new();
        let c = Arc::clone(&self.component);
        let token = stop.clone();
        tokio::spawn(async move { c.run(token).await });
        stop
    }

    fn metric(&self, name: &str) -> f64 {
        self.registry
            .gather()
            .iter()
            .filter(|f| f.name() == name)
            .flat_map(|f| f.get_metric().iter())
            .map(|m| m.get_counter().get_value())
            .sum()
    }
}

fn traces_request(spans: usize, tag: &str) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..spans)
                    .map(|i| Span {
                        trace_id: vec![1; 16],
                        span_id: vec![(i as u8).wrapping_add(1); 8],
                        name: format!("{tag}-{i}"),
                        attributes: vec![KeyValue {
                            key: "k".into(),
                            value: Some(AnyValue {
                                value: Some(any_value::Value::StringValue(tag.into())),
                            }),
                            ..Default::default()
                        }],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// ~3 MiB encoded: hundreds of 16 KiB DATA frames, more than the server's 1 MiB flow-control
/// window, under tonic's 4 MiB message limit.
fn large_traces_request(tag: &str) -> ExportTraceServiceRequest {
    let req = traces_request(30_000, &format!("{tag}-{}", "x".repeat(24)));
    let len = req.encoded_len();
    assert!((2 << 20..4 << 20).contains(&len), "{len} bytes");
    req
}

fn payload(req: &ExportTraceServiceRequest) -> OtlpPayload {
    OtlpPayload {
        signal: Signal::Traces,
        encoded: req.encode_to_vec().into(),
        items: req.resource_spans[0].scope_spans[0].spans.len() as u64,
    }
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn any_local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

// ---- tests --------------------------------------------------------------------------------

#[tokio::test]
async fn traces_and_logs_arrive_intact_with_headers_and_auth() {
    let (server, addr, stop_server) = start_server(any_local(), None).await;
    let dir = tempfile::tempdir().unwrap();
    let exp = build(
        &format!(
            r#"client {{
                endpoint = "{addr}"
                tls {{ insecure = true }}
                headers = {{ "X-Test" = "yes" }}
                auth = bearer.handler
            }}"#
        ),
        dir.path(),
    );
    let stop = exp.start();
    let req = traces_request(3, "a");
    exp.input.consume(payload(&req)).await.unwrap();
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("hello".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    exp.input
        .consume(OtlpPayload {
            signal: Signal::Logs,
            encoded: logs.encode_to_vec().into(),
            items: 1,
        })
        .await
        .unwrap();
    eventually("both requests", || {
        let r = server.recorded.lock().unwrap();
        r.traces.len() == 1 && r.logs.len() == 1
    })
    .await;
    assert_eq!(server.traces()[0], req);
    assert_eq!(server.recorded.lock().unwrap().logs[0], logs);
    let headers = server.recorded.lock().unwrap().headers.clone();
    for (auth, test, encoding) in headers {
        assert_eq!(auth.as_deref(), Some("Bearer s3cret"));
        assert_eq!(test.as_deref(), Some("yes"));
        assert_eq!(encoding.as_deref(), Some("gzip"));
    }
    eventually("sent counter", || {
        exp.metric("otelcol_exporter_sent_spans_total") == 3.0
            && exp.metric("otelcol_exporter_sent_log_records_total") == 1.0
    })
    .await;
    stop.cancel();
    stop_server.cancel();
}

#[tokio::test]
async fn zstd_and_uncompressed() {
    for (setting, wire) in [("zstd", Some("zstd")), ("none", None)] {
        let (server, addr, stop_server) = start_server(any_local(), None).await;
        let dir = tempfile::tempdir().unwrap();
        let exp = build(
            &format!(
                r#"client {{
                    endpoint = "{addr}"
                    compression = "{setting}"
                    tls {{ insecure = true }}
                }}
                sending_queue {{ enabled = false }}"#
            ),
            dir.path(),
        );
        let req = traces_request(5, setting);
        exp.input.consume(payload(&req)).await.unwrap();
        assert_eq!(server.traces(), vec![req]);
        let encoding = server.recorded.lock().unwrap().headers[0].2.clone();
        assert_eq!(encoding.as_deref(), wire, "{setting}");
        stop_server.cancel();
    }
}

/// `client.write_buffer_size` gathers h2's frames into larger writes; whatever its size (0:
/// off, smaller than a frame: every frame bypasses it, the default) requests arrive whole and
/// in order, one after another on one connection.
#[tokio::test]
async fn requests_arrive_whole_through_every_write_buffer_size() {
    for size in ["0", "1KiB", "64KiB", "512KiB"] {
        let (server, addr, stop_server) = start_server(any_local(), None).await;
        let dir = tempfile::tempdir().unwrap();
        let exp = build(
            &format!(
                r#"client {{
                    endpoint = "{addr}"
                    compression = "none"
                    write_buffer_size = "{size}"
                    tls {{ insecure = true }}
                }}
                sending_queue {{ enabled = false }}
                retry_on_failure {{ enabled = false }}"#
            ),
            dir.path(),
        );
        let sent = vec![
            large_traces_request(size),
            traces_request(3, size),
            large_traces_request(size),
        ];
        for req in &sent {
            tokio::time::timeout(Duration::from_secs(20), exp.input.consume(payload(req)))
                .await
                .unwrap_or_else(|_| panic!("write_buffer_size {size}: the send stalled"))
                .unwrap();
        }
        assert!(server.traces() == sent, "write_buffer_size {size}");
        stop_server.cancel();
    }
}

#[tokio::test]
async fn unavailable_is_retried_until_success() {
    let (server, addr, stop_server) = start_server(any_local(), None).await;
    server
        .script
        .lock()
        .unwrap()
        .extend([Code::Unavailable, Code::Unavailable]);
    let dir = tempfile::tempdir().unwrap();
    let exp = build(
        &format!(
            r#"client {{
                endpoint = "{addr}"
                tls {{ insecure = true }}
            }}
            retry_on_failure {{
                initial_interval = "10ms"
                max_interval = "20ms"
            }}"#
        ),
        dir.path(),
    );
    let stop = exp.start();
    let req = traces_request(2, "retry");
    exp.input.consume(payload(&req)).await.unwrap();
    eventually("delivery", || server.traces().len() == 1).await;
    assert_eq!(server.attempts(), 3);
    assert_eq!(server.traces()[0], req);
    stop.cancel();
    stop_server.cancel();
}

#[tokio::test]
async fn invalid_argument_is_dropped_without_retry() {
    let (server, addr, stop_server) = start_server(any_local(), None).await;
    server
        .script
        .lock()
        .unwrap()
        .push_back(Code::InvalidArgument);
    let dir = tempfile::tempdir().unwrap();
    let exp = build(
        &format!(
            r#"client {{
                endpoint = "{addr}"
                tls {{ insecure = true }}
            }}
            sending_queue {{ enabled = false }}
            retry_on_failure {{ initial_interval = "10ms" }}"#
        ),
        dir.path(),
    );
    let err = exp
        .input
        .consume(payload(&traces_request(4, "bad")))
        .await
        .unwrap_err();
    assert!(matches!(err, ConsumeError::Permanent(_)), "{err:?}");
    assert_eq!(server.attempts(), 1);
    assert_eq!(exp.metric("otelcol_exporter_send_failed_spans_total"), 4.0);
    stop_server.cancel();
}

#[tokio::test]
async fn tls_with_a_private_ca() {
    let pki = Pki::new(&["localhost"]);
    let (server, addr, stop_server) = start_server(
        any_local(),
        Some((pki.cert_pem.clone(), pki.key_pem.clone())),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let exp = build(
        &format!(
            r#"client {{
                endpoint = "localhost:{}"
                tls {{ ca_file = "{}" }}
            }}
            sending_queue {{ enabled = false }}
            retry_on_failure {{ enabled = false }}"#,
            addr.port(),
            ca.display()
        ),
        &dir.path().join("data"),
    );
    let req = traces_request(1, "tls");
    exp.input.consume(payload(&req)).await.unwrap();
    assert_eq!(server.traces(), vec![req.clone()]);
    // A request of many TLS records, beyond the server's flow-control window, gathered by the
    // write buffer under TLS.
    let big = large_traces_request("tls");
    exp.input.consume(payload(&big)).await.unwrap();
    assert_eq!(server.traces(), vec![req.clone(), big]);

    // Without the CA the server is not trusted: the send fails (retryable: UNAVAILABLE).
    let dir2 = tempfile::tempdir().unwrap();
    let untrusted = build(
        &format!(
            r#"client {{ endpoint = "localhost:{}" }}
            sending_queue {{ enabled = false }}
            retry_on_failure {{ enabled = false }}"#,
            addr.port()
        ),
        dir2.path(),
    );
    assert!(untrusted.input.consume(payload(&req)).await.is_err());
    assert_eq!(server.traces().len(), 2);
    stop_server.cancel();
}

#[tokio::test]
async fn queued_data_is_delivered_by_the_next_instance() {
    // A port claimed for this test and not bound: nothing listens there while the first
    // instance lives, and no parallel test's listener can take it before the server does.
    let port = solder_e2e::free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let body = format!(
        r#"client {{
            endpoint = "{addr}"
            tls {{ insecure = true }}
        }}
        retry_on_failure {{ initial_interval = "10ms" }}"#
    );
    let dir = tempfile::tempdir().unwrap();
    let req = traces_request(6, "durable");
    {
        let first = build(&body, dir.path());
        first.input.consume(payload(&req)).await.unwrap();
        // Dropped without running: nothing was sent.
    }
    let (server, _, stop_server) = start_server(addr, None).await;
    let second = build(&body, dir.path());
    let stop = second.start();
    eventually("redelivery", || server.traces().len() == 1).await;
    assert_eq!(server.traces()[0], req);
    stop.cancel();
    stop_server.cancel();
}

#[tokio::test]
async fn update_switches_to_the_new_endpoint() {
    let (first, addr1, stop1) = start_server(any_local(), None).await;
    let (second, addr2, stop2) = start_server(any_local(), None).await;
    let body = |addr: SocketAddr| {
        format!(
            r#"client {{
                endpoint = "{addr}"
                tls {{ insecure = true }}
            }}
            sending_queue {{ enabled = false }}"#
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let exp = build(&body(addr1), dir.path());
    let a = traces_request(1, "before");
    exp.input.consume(payload(&a)).await.unwrap();
    exp.component.update(decode(&body(addr2))).unwrap();
    let b = traces_request(1, "after");
    exp.input.consume(payload(&b)).await.unwrap();
    assert_eq!(first.traces(), vec![a]);
    assert_eq!(second.traces(), vec![b]);
    stop1.cancel();
    stop2.cancel();
}

// ---- certificates ---------------------------------------------------------------------------

struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl Pki {
    fn new(names: &[&str]) -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        Pki {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

// ---- throughput ------------------------------------------------------------------------------

/// A gRPC endpoint that reads each request body without decoding it and answers OK, so the
/// measurement is the exporter's cost (plus HTTP/2), not a server's protobuf decode.
async fn start_counting_server() -> (Arc<std::sync::atomic::AtomicU64>, SocketAddr) {
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;
    let listener = tokio::net::TcpListener::bind(any_local()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = Arc::clone(&requests);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let counter = Arc::clone(&counter);
                        async move {
                            let _ = req.into_body().collect().await;
                            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let mut trailers = http::HeaderMap::new();
                            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
                            let frames: Vec<Result<Frame<bytes::Bytes>, std::convert::Infallible>> = vec![
                                Ok(Frame::data(bytes::Bytes::from_static(&[0, 0, 0, 0, 0]))),
                                Ok(Frame::trailers(trailers)),
                            ];
                            let body = StreamBody::new(futures::stream::iter(frames));
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .header("content-type", "application/grpc")
                                    .body(body)
                                    .unwrap(),
                            )
                        }
                    },
                );
                let _ =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                        .await;
            });
        }
    });
    (requests, addr)
}

/// Run with `cargo test --release -p solder-otelcol --test exporter_otlp -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "throughput measurement; run in release mode"]
async fn pass_through_throughput() {
    const SPANS: usize = 8192;
    const PAYLOADS: u64 = 150;
    let req = traces_request(SPANS, "throughput");
    let p = payload(&req);
    for (compression, queue) in [
        ("none", true),
        ("none", false),
        ("gzip", true),
        ("zstd", true),
    ] {
        let (requests, addr) = start_counting_server().await;
        let dir = tempfile::tempdir().unwrap();
        let exp = build(
            &format!(
                r#"client {{
                    endpoint = "{addr}"
                    compression = "{compression}"
                    tls {{ insecure = true }}
                }}
                sending_queue {{ enabled = {queue} }}"#
            ),
            dir.path(),
        );
        let stop = exp.start();
        let started = std::time::Instant::now();
        for _ in 0..PAYLOADS {
            exp.input.consume(p.clone()).await.unwrap();
        }
        while requests.load(std::sync::atomic::Ordering::SeqCst) < PAYLOADS {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "compression={compression} queue={queue}: {:.2} M spans/s ({} bytes/payload)",
            (SPANS as f64 * PAYLOADS as f64) / secs / 1e6,
            p.encoded.len()
        );
        stop.cancel();
    }
}
