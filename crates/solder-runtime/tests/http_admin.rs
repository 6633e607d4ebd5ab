//! The admin HTTP server against a fake `AdminApi`, over real TCP with a minimal HTTP/1.1
//! client, so status lines, headers and bodies are checked as a probe or scraper sees them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use prometheus::{IntCounter, Registry};
use solder_core::component::BoxFuture;
use solder_core::http::{ComponentHttp, HttpRequest, HttpResponse};
use solder_core::{Health, HealthKind};
use solder_runtime::api::{AdminApi, ComponentInfo};
use solder_runtime::http::{serve, serve_with_options, ServerOptions};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

struct Echo;

impl ComponentHttp for Echo {
    fn handle(&self, req: HttpRequest) -> BoxFuture<HttpResponse> {
        Box::pin(async move {
            let body = format!(
                "{} {} q={} body={}",
                req.method,
                req.path,
                req.query,
                String::from_utf8_lossy(&req.body)
            );
            let mut resp = HttpResponse::new(201, "text/plain", body);
            resp.headers.push(("x-echo".into(), "yes".into()));
            resp.headers.push(("bad header".into(), "dropped".into()));
            resp
        })
    }
}

struct BadStatus;

impl ComponentHttp for BadStatus {
    fn handle(&self, _req: HttpRequest) -> BoxFuture<HttpResponse> {
        Box::pin(async { HttpResponse::new(1000, "text/plain", Bytes::new()) })
    }
}

struct Fake {
    ready: AtomicBool,
    components: Mutex<Vec<ComponentInfo>>,
    reload_error: Mutex<Option<String>>,
    reloads: AtomicUsize,
    registry: Registry,
}

impl Fake {
    fn new() -> Arc<Fake> {
        let registry = Registry::new();
        let c = IntCounter::new("alloy_config_load_failures_total", "fails").unwrap();
        c.inc_by(2);
        registry.register(Box::new(c)).unwrap();
        Arc::new(Fake {
            ready: AtomicBool::new(true),
            components: Mutex::new(vec![
                info("local.file.a", HealthKind::Healthy),
                info("prometheus.exporter.self.x", HealthKind::Healthy),
            ]),
            reload_error: Mutex::new(None),
            reloads: AtomicUsize::new(0),
            registry,
        })
    }

    fn set_health(&self, id: &str, kind: HealthKind) {
        for c in self.components.lock().unwrap().iter_mut() {
            if c.id == id {
                c.health.kind = kind;
            }
        }
    }
}

fn info(id: &str, kind: HealthKind) -> ComponentInfo {
    let (name, label) = id.rsplit_once('.').unwrap();
    ComponentInfo {
        id: id.to_string(),
        name: name.to_string(),
        label: Some(label.to_string()),
        health: Health {
            kind,
            message: "started".into(),
            updated_at: UNIX_EPOCH + Duration::new(1_700_000_000, 5_000_000),
        },
        arguments: serde_json::json!({"filename": "/tmp/x", "password": "(secret)"}),
        exports: serde_json::json!({"content": "(secret)"}),
        debug_info: Some(serde_json::json!({"lines": 3})),
        references: vec!["other.thing.y".into()],
        referenced_by: vec![],
        last_evaluation_seconds: 0.001,
    }
}

#[async_trait::async_trait]
impl AdminApi for Fake {
    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
    fn components(&self) -> Vec<ComponentInfo> {
        self.components.lock().unwrap().clone()
    }
    fn component(&self, id: &str) -> Option<ComponentInfo> {
        self.components().into_iter().find(|c| c.id == id)
    }
    async fn reload(&self) -> Result<(), String> {
        self.reloads.fetch_add(1, Ordering::SeqCst);
        match self.reload_error.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
    fn component_http(&self, id: &str) -> Option<Arc<dyn ComponentHttp>> {
        match id {
            "prometheus.exporter.self.x" => Some(Arc::new(Echo)),
            "bad.status.z" => Some(Arc::new(BadStatus)),
            _ => None,
        }
    }
    fn gather(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.registry.gather()
    }
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request on a fresh connection; the server must answer with a Content-Length body.
async fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> Resp {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect();
    Resp {
        status,
        headers,
        body: body.to_string(),
    }
}

async fn start(
    api: Arc<Fake>,
    prefix: &str,
) -> (
    SocketAddr,
    CancellationToken,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let token = CancellationToken::new();
    let opts = ServerOptions {
        ui_path_prefix: prefix.to_string(),
    };
    let handle = tokio::spawn(serve_with_options(listener, api, token.clone(), opts));
    (addr, token, handle)
}

#[tokio::test]
async fn ready_reports_alloys_exact_bodies() {
    let api = Fake::new();
    let (addr, _t, _h) = start(api.clone(), "/").await;
    let r = request(addr, "GET", "/-/ready", "").await;
    assert_eq!((r.status, r.body.as_str()), (200, "Alloy is ready.\n"));
    api.ready.store(false, Ordering::SeqCst);
    let r = request(addr, "HEAD", "/-/ready", "").await;
    assert_eq!(r.status, 503);
    let r = request(addr, "GET", "/-/ready", "").await;
    assert_eq!((r.status, r.body.as_str()), (503, "Alloy is not ready.\n"));
}

#[tokio::test]
async fn healthy_lists_unhealthy_components_with_503() {
    let api = Fake::new();
    let (addr, _t, _h) = start(api.clone(), "/").await;
    let r = request(addr, "GET", "/-/healthy", "").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "All Alloy components are healthy.\n")
    );

    // Unknown and exited are not unhealthy (Alloy counts only `unhealthy`).
    api.set_health("prometheus.exporter.self.x", HealthKind::Exited);
    assert_eq!(request(addr, "GET", "/-/healthy", "").await.status, 200);

    api.set_health("local.file.a", HealthKind::Unhealthy);
    api.set_health("prometheus.exporter.self.x", HealthKind::Unhealthy);
    let r = request(addr, "GET", "/-/healthy", "").await;
    assert_eq!(r.status, 503);
    assert_eq!(
        r.body,
        "unhealthy components: local.file.a, prometheus.exporter.self.x\n"
    );
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
}

#[tokio::test]
async fn reload_by_get_and_post_and_reports_errors() {
    let api = Fake::new();
    let (addr, _t, _h) = start(api.clone(), "/").await;
    for method in ["GET", "POST"] {
        let r = request(addr, method, "/-/reload", "").await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, "config reloaded\n"),
            "{method}"
        );
    }
    assert_eq!(api.reloads.load(Ordering::SeqCst), 2);

    *api.reload_error.lock().unwrap() =
        Some("config.alloy:3:5: unrecognized attribute name \"nope\"\n".into());
    let r = request(addr, "POST", "/-/reload", "").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        "config.alloy:3:5: unrecognized attribute name \"nope\"\n"
    );

    // Other methods do not reload.
    let r = request(addr, "DELETE", "/-/reload", "").await;
    assert_eq!(r.status, 405);
    assert_eq!(api.reloads.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn metrics_are_text_0_0_4() {
    let api = Fake::new();
    let (addr, _t, _h) = start(api, "/").await;
    let r = request(addr, "GET", "/metrics", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        r.body
            .contains("# TYPE alloy_config_load_failures_total counter\n"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("\nalloy_config_load_failures_total 2\n"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn component_handlers_get_the_stripped_path() {
    let api = Fake::new();
    let (addr, _t, _h) = start(api, "/").await;
    let r = request(
        addr,
        "POST",
        "/api/v0/component/prometheus.exporter.self.x/metrics/sub?a=1&b=2",
        "hello",
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body, "POST /metrics/sub q=a=1&b=2 body=hello");
    assert_eq!(r.header("x-echo"), Some("yes"));
    assert_eq!(r.header("bad header"), None);

    let r = request(
        addr,
        "GET",
        "/api/v0/component/prometheus.exporter.self.x",
        "",
    )
    .await;
    assert_eq!(r.body, "GET / q= body=");

    // No such component, or one without a handler: 404.
    for path in [
        "/api/v0/component/local.file.a/x",
        "/api/v0/component/nope/metrics",
    ] {
        assert_eq!(request(addr, "GET", path, "").await.status, 404, "{path}");
    }
    // A component answering nonsense does not take the server down.
    assert_eq!(
        request(addr, "GET", "/api/v0/component/bad.status.z/", "")
            .await
            .status,
        500
    );
}

#[tokio::test]
async fn web_api_uses_alloys_field_names() {
    let api = Fake::new();
    let (addr, _t, _h) = start(api, "/").await;
    let r = request(addr, "GET", "/api/v0/web/components", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let list: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let first = &list[0];
    assert_eq!(first["name"], "local.file");
    assert_eq!(first["localID"], "local.file.a");
    assert_eq!(first["moduleID"], "");
    assert_eq!(first["label"], "a");
    assert_eq!(first["type"], "block");
    assert_eq!(first["health"]["state"], "healthy");
    assert_eq!(first["health"]["message"], "started");
    assert_eq!(first["health"]["updatedTime"], "2023-11-14T22:13:20.005Z");
    assert_eq!(first["referencesTo"], serde_json::json!(["other.thing.y"]));
    assert_eq!(first["referencedBy"], serde_json::json!([]));
    assert_eq!(first["dataFlowEdgesTo"], serde_json::json!([]));
    // The list view carries health only, like Alloy's.
    assert!(first.get("arguments").is_none());

    let r = request(addr, "GET", "/api/v0/web/components/local.file.a", "").await;
    assert_eq!(r.status, 200);
    let detail: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(detail["arguments"]["filename"], "/tmp/x");
    assert_eq!(detail["exports"]["content"], "(secret)");
    assert_eq!(detail["debugInfo"]["lines"], 3);

    let r = request(addr, "GET", "/api/v0/web/components/nope.nope.x", "").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn web_api_follows_the_ui_prefix() {
    let api = Fake::new();
    let (addr, _t, _h) = start(api, "/ui").await;
    assert_eq!(
        request(addr, "GET", "/ui/api/v0/web/components", "")
            .await
            .status,
        200
    );
    assert_eq!(
        request(addr, "GET", "/ui/api/v0/web/components/local.file.a", "")
            .await
            .status,
        200
    );
    assert_eq!(
        request(addr, "GET", "/api/v0/web/components", "")
            .await
            .status,
        404
    );
    // The operational endpoints never move.
    assert_eq!(request(addr, "GET", "/-/ready", "").await.status, 200);
}

#[tokio::test]
async fn odd_requests_get_404_and_the_server_survives() {
    let api = Fake::new();
    let (addr, _t, _h) = start(api, "/").await;
    let long = format!("/{}", "a".repeat(20_000));
    for path in [
        "/",
        "/nope",
        "/-/",
        "/api/v0/web/",
        "/api/v0/component/",
        "/api/v0/component/%ff%fe/x",
        "/api/v0/web/components/%ff",
        long.as_str(),
    ] {
        let r = request(addr, "GET", path, "").await;
        assert!(
            r.status == 404 || r.status == 400 || r.status == 431 || r.status == 414,
            "{} -> {}",
            &path[..path.len().min(40)],
            r.status
        );
    }
    let r = request(addr, "GET", "/nope", "").await;
    assert_eq!(r.body, "404 page not found\n");
    // Garbage on the wire closes that connection only.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"\x00\x01garbage\r\n\r\n").await.unwrap();
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut sink)).await;
    assert_eq!(request(addr, "GET", "/-/ready", "").await.status, 200);
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let api = Fake::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let token = CancellationToken::new();
    let handle = tokio::spawn(serve(listener, api, token.clone()));
    assert_eq!(request(addr, "GET", "/-/ready", "").await.status, 200);
    token.cancel();
    let res = tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("server stops promptly")
        .unwrap();
    assert!(res.is_ok());
    assert!(TcpStream::connect(addr).await.is_err());
}
