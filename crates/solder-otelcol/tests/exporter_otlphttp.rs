//! `otelcol.exporter.otlphttp` against an in-test OTLP/HTTP server (hyper): bodies are
//! decompressed and decoded with the official `opentelemetry-proto` types.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::{OtlpConsumerRef, OtlpPayload, Signal};
use solder_core::{
    Component, ComponentBuilder, ComponentOptions, ExportSink, HealthReporter, HostInfo, Typed,
};
use solder_otelcol::auth::basic::{self, BasicHandler};
use solder_otelcol::auth::{auth_handler_value, AuthHandlerRef};
use solder_otelcol::exporter::otlphttp::OtlpHttpExporter;
use solder_syntax::ast::Stmt;
use solder_syntax::eval::eval_body;
use solder_syntax::parser::parse_file;
use solder_syntax::{FileId, Object, Secret, Value};
use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

// ---- the test server ---------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Received {
    path: String,
    content_type: Option<String>,
    content_encoding: Option<String>,
    authorization: Option<String>,
    x_test: Option<String>,
    /// The decompressed body.
    body: Vec<u8>,
}

/// A status and an optional `Retry-After` to answer with.
type Scripted = (u16, Option<&'static str>);

#[derive(Clone, Default)]
struct Server {
    received: Arc<Mutex<Vec<Received>>>,
    /// (status, Retry-After) answers, in order, before answering 200.
    script: Arc<Mutex<VecDeque<Scripted>>>,
}

impl Server {
    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Successful deliveries, decoded.
    fn traces(&self) -> Vec<ExportTraceServiceRequest> {
        self.received()
            .iter()
            .filter(|r| r.content_type.as_deref() == Some("application/x-protobuf"))
            .map(|r| ExportTraceServiceRequest::decode(r.body.as_slice()).unwrap())
            .collect()
    }

    async fn handle(
        &self,
        req: hyper::Request<Incoming>,
    ) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
        let get = |k: &str| {
            req.headers()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let path = req.uri().path().to_string();
        let content_type = get("content-type");
        let content_encoding = get("content-encoding");
        let authorization = get("authorization");
        let x_test = get("x-test");
        let raw = req.into_body().collect().await.unwrap().to_bytes();
        let body = match content_encoding.as_deref() {
            Some("gzip") => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(raw.as_ref())
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            Some("zstd") => zstd::decode_all(raw.as_ref()).unwrap(),
            None => raw.to_vec(),
            Some(other) => panic!("unexpected encoding {other}"),
        };
        let scripted = self.script.lock().unwrap().pop_front();
        if let Some((status, retry_after)) = scripted {
            let mut resp = hyper::Response::builder().status(status);
            if let Some(ra) = retry_after {
                resp = resp.header("retry-after", ra);
            }
            return Ok(resp
                .body(Full::new(Bytes::from_static(b"scripted")))
                .unwrap());
        }
        self.received.lock().unwrap().push(Received {
            path,
            content_type,
            content_encoding,
            authorization,
            x_test,
            body,
        });
        let ok = ExportTraceServiceResponse::default().encode_to_vec();
        Ok(hyper::Response::builder()
            .header("content-type", "application/x-protobuf")
            .body(Full::new(Bytes::from(ok)))
            .unwrap())
    }
}

async fn start_server(
    addr: SocketAddr,
    tls: Option<rustls::ServerConfig>,
) -> (Server, SocketAddr, CancellationToken) {
    let server = Server::default();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let token = stop.clone();
    let srv = server.clone();
    let acceptor = tls.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c)));
    tokio::spawn(async move {
        loop {
            let (tcp, _) = tokio::select! {
                _ = token.cancelled() => return,
                r = listener.accept() => r.unwrap(),
            };
            let srv = srv.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let srv = srv.clone();
                    async move { srv.handle(req).await }
                });
                let http = hyper::server::conn::http1::Builder::new();
                match acceptor {
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            let _ = http.serve_connection(TokioIo::new(tls), service).await;
                        }
                    }
                    None => {
                        let _ = http.serve_connection(TokioIo::new(tcp), service).await;
                    }
                }
            });
        }
    });
    (server, addr, stop)
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

fn build(body: &str, data_dir: &Path) -> Exporter {
    let handler: AuthHandlerRef = Arc::new(
        BasicHandler::new(&basic::Args {
            username: "user".into(),
            password: Secret::new("pass"),
            ..Default::default()
        })
        .unwrap(),
    );
    let mut auth = Object::new();
    auth.insert("handler".into(), auth_handler_value(handler));
    let mut scope = Object::new();
    scope.insert("basic".into(), Value::Object(auth));
    let src = format!("otelcol.exporter.otlphttp \"test\" {{\n{body}\n}}\n");
    let (file, diags) = parse_file(&src, FileId(0));
    assert!(!diags.has_errors(), "{diags:?}");
    let Some(Stmt::Block(block)) = file.body.first() else {
        panic!("no block")
    };
    let value = eval_body(&block.body, block.span, &scope).unwrap();
    let builder = Typed::<OtlpHttpExporter>::new();
    let args = builder
        .decode(&value)
        .unwrap_or_else(|d| panic!("decode: {d:?}"));
    let exports = Arc::new(Exports::default());
    let registry = prometheus::Registry::new();
    let opts = ComponentOptions {
        id: "otelcol.exporter.otlphttp.test".into(),
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
                        trace_id: vec![2; 16],
                        span_id: vec![i as u8 + 1; 8],
                        name: format!("{tag}-{i}"),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
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
async fn protobuf_gzip_with_headers_and_basic_auth() {
    let (server, addr, stop_server) = start_server(any_local(), None).await;
    let dir = tempfile::tempdir().unwrap();
    let exp = build(
        &format!(
            r#"client {{
                endpoint = "http://{addr}"
                headers = {{ "X-Test" = "yes" }}
                auth = basic.handler
            }}"#
        ),
        dir.path(),
    );
    let stop = exp.start();
    let req = traces_request(3, "a");
    exp.input.consume(payload(&req)).await.unwrap();
    eventually("delivery", || server.received().len() == 1).await;
    let got = &server.received()[0];
    assert_eq!(got.path, "/v1/traces");
    assert_eq!(got.content_encoding.as_deref(), Some("gzip"));
    assert_eq!(got.x_test.as_deref(), Some("yes"));
    assert_eq!(got.authorization.as_deref(), Some("Basic dXNlcjpwYXNz"));
    assert_eq!(server.traces(), vec![req]);
    eventually("sent counter", || {
        exp.metric("otelcol_exporter_sent_spans_total") == 3.0
    })
    .await;
    stop.cancel();
    stop_server.cancel();
}

#[tokio::test]
async fn zstd_none_and_signal_endpoint_override() {
    for (setting, wire) in [("zstd", Some("zstd")), ("none", None)] {
        let (server, addr, stop_server) = start_server(any_local(), None).await;
        let dir = tempfile::tempdir().unwrap();
        let exp = build(
            &format!(
                r#"client {{
                    endpoint = "http://{addr}/ignored-for-traces"
                    compression = "{setting}"
                }}
                traces_endpoint = "http://{addr}/custom/traces"
                sending_queue {{ enabled = false }}"#
            ),
            dir.path(),
        );
        let req = traces_request(2, setting);
        exp.input.consume(payload(&req)).await.unwrap();
        let got = &server.received()[0];
        assert_eq!(got.path, "/custom/traces");
        assert_eq!(got.content_encoding.as_deref(), wire);
        assert_eq!(server.traces(), vec![req]);
        stop_server.cancel();
    }
}

#[tokio::test]
async fn json_encoding_decodes_with_the_official_types() {
    let (server, addr, stop_server) = start_server(any_local(), None).await;
    let dir = tempfile::tempdir().unwrap();
    let exp = build(
        &format!(
            r#"client {{ endpoint = "http://{addr}" }}
            encoding = "json"
            sending_queue {{ enabled = false }}"#
        ),
        dir.path(),
    );
    let req = traces_request(2, "json");
    exp.input.consume(payload(&req)).await.unwrap();
    let got = &server.received()[0];
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    let text = String::from_utf8(got.body.clone()).unwrap();
    // OTLP/JSON: lowerCamelCase names and hex ids.
    assert!(text.contains("\"resourceSpans\""), "{text}");
    assert!(text.contains("02020202020202020202020202020202"), "{text}");
    let decoded: ExportTraceServiceRequest = serde_json::from_str(&text).unwrap();
    assert_eq!(decoded, req);
    stop_server.cancel();
}

#[tokio::test]
async fn unavailable_is_retried_honouring_retry_after() {
    let (server, addr, stop_server) = start_server(any_local(), None).await;
    server
        .script
        .lock()
        .unwrap()
        .extend([(503, Some("1")), (429, None), (502, None)]);
    let dir = tempfile::tempdir().unwrap();
    let exp = build(
        &format!(
            r#"client {{ endpoint = "http://{addr}" }}
            sending_queue {{ enabled = false }}
            retry_on_failure {{
                initial_interval = "10ms"
                max_interval = "20ms"
            }}"#
        ),
        dir.path(),
    );
    let started = std::time::Instant::now();
    let req = traces_request(1, "retry");
    exp.input.consume(payload(&req)).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After ignored"
    );
    assert_eq!(server.traces(), vec![req]);
    stop_server.cancel();
}

#[tokio::test]
async fn bad_request_is_dropped_without_retry() {
    let (server, addr, stop_server) = start_server(any_local(), None).await;
    server.script.lock().unwrap().push_back((400, None));
    let dir = tempfile::tempdir().unwrap();
    let exp = build(
        &format!(
            r#"client {{ endpoint = "http://{addr}" }}
            retry_on_failure {{ initial_interval = "10ms" }}"#
        ),
        dir.path(),
    );
    let stop = exp.start();
    exp.input
        .consume(payload(&traces_request(4, "bad")))
        .await
        .unwrap();
    let good = traces_request(1, "good");
    exp.input.consume(payload(&good)).await.unwrap();
    eventually("the good request", || server.traces().len() == 1).await;
    assert_eq!(server.traces(), vec![good]);
    assert!(server.script.lock().unwrap().is_empty());
    eventually("failure counter", || {
        exp.metric("otelcol_exporter_send_failed_spans_total") == 4.0
    })
    .await;
    stop.cancel();
    stop_server.cancel();

    // Synchronously, the caller gets the permanent error.
    let (server, addr, stop_server) = start_server(any_local(), None).await;
    server.script.lock().unwrap().push_back((400, None));
    let dir = tempfile::tempdir().unwrap();
    let exp = build(
        &format!(
            r#"client {{ endpoint = "http://{addr}" }}
            sending_queue {{ enabled = false }}"#
        ),
        dir.path(),
    );
    let err = exp
        .input
        .consume(payload(&traces_request(1, "x")))
        .await
        .unwrap_err();
    assert!(matches!(err, ConsumeError::Permanent(_)), "{err:?}");
    stop_server.cancel();
}

#[tokio::test]
async fn https_with_a_private_ca() {
    let pki = Pki::new(&["localhost"]);
    let server_tls = solder_otelcol::tls::TlsServerSettings {
        cert_pem: pki.cert_pem.clone(),
        key_pem: Secret::new(pki.key_pem.clone()),
        ..Default::default()
    }
    .server_config()
    .unwrap();
    let (server, addr, stop_server) = start_server(any_local(), Some(server_tls)).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let exp = build(
        &format!(
            r#"client {{
                endpoint = "https://localhost:{}"
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

    let dir2 = tempfile::tempdir().unwrap();
    let untrusted = build(
        &format!(
            r#"client {{ endpoint = "https://localhost:{}" }}
            sending_queue {{ enabled = false }}
            retry_on_failure {{ enabled = false }}"#,
            addr.port()
        ),
        dir2.path(),
    );
    assert!(untrusted.input.consume(payload(&req)).await.is_err());
    assert_eq!(server.traces().len(), 1);
    stop_server.cancel();
}

#[tokio::test]
async fn queued_data_is_delivered_by_the_next_instance() {
    // A port claimed for this test and not bound: nothing listens there while the first
    // instance lives, and no parallel test's listener can take it before the server does.
    let port = solder_e2e::free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let body = format!(
        r#"client {{ endpoint = "http://{addr}" }}
        retry_on_failure {{ initial_interval = "10ms" }}"#
    );
    let dir = tempfile::tempdir().unwrap();
    let req = traces_request(5, "durable");
    {
        let first = build(&body, dir.path());
        first.input.consume(payload(&req)).await.unwrap();
    }
    let (server, _, stop_server) = start_server(addr, None).await;
    let second = build(&body, dir.path());
    let stop = second.start();
    eventually("redelivery", || server.traces().len() == 1).await;
    assert_eq!(server.traces()[0], req);
    stop.cancel();
    stop_server.cancel();
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
