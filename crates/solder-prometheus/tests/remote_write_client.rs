//! `RemoteWriteClient` against an in-process HTTP server that records what it receives and
//! answers by path: `/ok` 204, `/500`, `/429` (with `Retry-After: 3`), `/400` (long body),
//! `/slow` (answers after 2 s).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use solder_core::signals::metrics::{Labels, Metadata, MetricType, Sample};
use solder_prometheus::http_client::HttpClientConfig;
use solder_prometheus::remote_write::{
    build_write_request, encode_snappy, ClientBuildError, ClientOptions, RemoteWriteClient,
    SendError,
};
use solder_proto::prometheus::WriteRequest;
use solder_proto::prost::Message;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod raw_http;
use raw_http::{RawMode, RawServer};

#[derive(Debug, Clone)]
struct Recorded {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

type Log = Arc<Mutex<Vec<Recorded>>>;

async fn handle(log: Log, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    log.lock().unwrap().push(Recorded {
        path: path.clone(),
        headers,
        body,
    });
    match path.as_str() {
        "/ok" => StatusCode::NO_CONTENT.into_response(),
        "/500" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "/429" => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "3")],
            "slow down",
        )
            .into_response(),
        "/400" => {
            let body = format!("out of order sample{}", "x".repeat(1000));
            (StatusCode::BAD_REQUEST, body).into_response()
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn start_server() -> (String, Log) {
    let log: Log = Arc::default();
    let handler_log = log.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        handle(handler_log.clone(), uri, headers, body)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), log)
}

fn options(url: String) -> ClientOptions {
    ClientOptions {
        url,
        timeout: Duration::from_secs(5),
        headers: vec![],
        user_agent: "solder/0.1.0".into(),
        basic_auth: None,
        bearer_token: None,
        retry_on_http_429: true,
    }
}

fn sample_request() -> WriteRequest {
    let labels = Labels::new(vec![
        ("__name__".into(), "up".into()),
        ("job".into(), "node".into()),
    ]);
    build_write_request(
        &[
            Sample {
                labels: labels.clone(),
                timestamp_ms: 1_700_000_000_000,
                value: 1.0,
            },
            Sample {
                labels,
                timestamp_ms: 1_700_000_015_000,
                value: 0.0,
            },
        ],
        &[],
        &[Metadata {
            metric_family: "up".into(),
            kind: MetricType::Gauge,
            help: "Target is up.".into(),
            unit: String::new(),
        }],
        &[("cluster".into(), "c1".into())],
    )
}

fn body_of(req: &WriteRequest) -> Bytes {
    let mut buf = Vec::new();
    encode_snappy(req, &mut buf).unwrap();
    Bytes::from(buf)
}

fn header<'a>(r: &'a Recorded, name: &str) -> Vec<&'a str> {
    r.headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

#[tokio::test]
async fn success_sends_exact_headers_and_decodable_body() {
    let (base, log) = start_server().await;
    let mut opts = options(format!("{base}/ok"));
    opts.headers = vec![
        ("X-Scope-OrgID".into(), "tenant-1".into()),
        // A configured header cannot override the protocol's own.
        ("Content-Type".into(), "text/plain".into()),
    ];
    let client = RemoteWriteClient::new(opts).unwrap();
    let req = sample_request();
    client.send(body_of(&req)).await.unwrap();

    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1);
    let r = &log[0];
    assert_eq!(r.path, "/ok");
    assert_eq!(header(r, "content-encoding"), ["snappy"]);
    assert_eq!(header(r, "content-type"), ["application/x-protobuf"]);
    assert_eq!(header(r, "x-prometheus-remote-write-version"), ["0.1.0"]);
    assert_eq!(header(r, "user-agent"), ["solder/0.1.0"]);
    assert_eq!(header(r, "x-scope-orgid"), ["tenant-1"]);
    assert!(r.headers.get("authorization").is_none());

    let raw = snap::raw::Decoder::new().decompress_vec(&r.body).unwrap();
    let got = WriteRequest::decode(raw.as_slice()).unwrap();
    assert_eq!(got, req);
    let ts = &got.timeseries[0];
    let labels: Vec<(&str, &str)> = ts
        .labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    assert_eq!(
        labels,
        [("__name__", "up"), ("cluster", "c1"), ("job", "node")]
    );
    let samples: Vec<(i64, f64)> = ts.samples.iter().map(|s| (s.timestamp, s.value)).collect();
    assert_eq!(
        samples,
        [(1_700_000_000_000, 1.0), (1_700_000_015_000, 0.0)]
    );
    assert_eq!(got.metadata[0].metric_family_name, "up");
    assert_eq!(got.metadata[0].r#type, 2);
}

#[tokio::test]
async fn basic_auth_header_is_exact() {
    let (base, log) = start_server().await;
    let mut opts = options(format!("{base}/ok"));
    opts.basic_auth = Some(("user".into(), "pass".into()));
    RemoteWriteClient::new(opts)
        .unwrap()
        .send(Bytes::from_static(b""))
        .await
        .unwrap();
    // base64("user:pass"): "use" -> dXNl, "r:p" -> cjpw, "ass" -> YXNz
    assert_eq!(
        header(&log.lock().unwrap()[0], "authorization"),
        ["Basic dXNlcjpwYXNz"]
    );
}

#[tokio::test]
async fn bearer_token_header_is_exact() {
    let (base, log) = start_server().await;
    let mut opts = options(format!("{base}/ok"));
    opts.bearer_token = Some("s3cr3t".into());
    RemoteWriteClient::new(opts)
        .unwrap()
        .send(Bytes::from_static(b""))
        .await
        .unwrap();
    assert_eq!(
        header(&log.lock().unwrap()[0], "authorization"),
        ["Bearer s3cr3t"]
    );
}

#[tokio::test]
async fn server_error_is_retryable() {
    let (base, _log) = start_server().await;
    let client = RemoteWriteClient::new(options(format!("{base}/500"))).unwrap();
    match client.send(body_of(&sample_request())).await {
        Err(SendError::Retryable {
            status,
            retry_after,
            message,
        }) => {
            assert_eq!(status, Some(500));
            assert_eq!(retry_after, None);
            assert!(message.contains("500"), "{message}");
            assert!(message.contains("boom"), "{message}");
        }
        other => panic!("expected retryable, got {other:?}"),
    }
}

#[tokio::test]
async fn too_many_requests_honours_retry_after_when_enabled() {
    let (base, _log) = start_server().await;
    let client = RemoteWriteClient::new(options(format!("{base}/429"))).unwrap();
    match client.send(body_of(&sample_request())).await {
        Err(SendError::Retryable {
            status,
            retry_after,
            ..
        }) => {
            assert_eq!(status, Some(429));
            assert_eq!(retry_after, Some(Duration::from_secs(3)));
        }
        other => panic!("expected retryable, got {other:?}"),
    }
}

#[tokio::test]
async fn too_many_requests_is_permanent_when_retry_disabled() {
    let (base, _log) = start_server().await;
    let mut opts = options(format!("{base}/429"));
    opts.retry_on_http_429 = false;
    let client = RemoteWriteClient::new(opts).unwrap();
    match client.send(body_of(&sample_request())).await {
        Err(SendError::Permanent { status, message }) => {
            assert_eq!(status, 429);
            assert!(message.contains("slow down"), "{message}");
        }
        other => panic!("expected permanent, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_request_is_permanent_with_body_excerpt() {
    let (base, _log) = start_server().await;
    let client = RemoteWriteClient::new(options(format!("{base}/400"))).unwrap();
    let err = client.send(body_of(&sample_request())).await.unwrap_err();
    assert!(!err.is_retryable());
    match err {
        SendError::Permanent { status, message } => {
            assert_eq!(status, 400);
            assert!(
                message.starts_with(
                    "server returned HTTP status 400 Bad Request: out of order sample"
                ),
                "{message}"
            );
            // The 1019-byte body is cut to its first 512 bytes.
            let excerpt = message.split_once(": ").unwrap().1;
            assert_eq!(excerpt.len(), 512);
        }
        other => panic!("expected permanent, got {other:?}"),
    }
}

#[tokio::test]
async fn not_found_is_permanent() {
    let (base, _log) = start_server().await;
    let client = RemoteWriteClient::new(options(format!("{base}/nope"))).unwrap();
    assert!(matches!(
        client.send(Bytes::new()).await,
        Err(SendError::Permanent { status: 404, .. })
    ));
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    // Bind then drop a listener to get a port on which nothing listens.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = RemoteWriteClient::new(options(format!("http://{addr}/api/v1/write"))).unwrap();
    match client.send(body_of(&sample_request())).await {
        Err(SendError::Retryable {
            status: None,
            retry_after: None,
            message,
        }) => assert!(!message.is_empty()),
        other => panic!("expected retryable network error, got {other:?}"),
    }
}

#[tokio::test]
async fn timeout_is_retryable() {
    let (base, _log) = start_server().await;
    let mut opts = options(format!("{base}/slow"));
    opts.timeout = Duration::from_millis(200);
    let client = RemoteWriteClient::new(opts).unwrap();
    assert!(matches!(
        client.send(Bytes::new()).await,
        Err(SendError::Retryable { status: None, .. })
    ));
}

#[test]
fn invalid_options_are_rejected() {
    let mut opts = options("not a url".into());
    assert!(matches!(
        RemoteWriteClient::new(opts.clone()),
        Err(ClientBuildError::InvalidUrl { .. })
    ));
    opts.url = "http://127.0.0.1:1/".into();
    opts.headers = vec![("bad header".into(), "v".into())];
    assert!(matches!(
        RemoteWriteClient::new(opts.clone()),
        Err(ClientBuildError::InvalidHeaderName(_))
    ));
    opts.headers = vec![("X-Ok".into(), "line\nbreak".into())];
    assert!(matches!(
        RemoteWriteClient::new(opts.clone()),
        Err(ClientBuildError::InvalidHeaderValue(_))
    ));
    opts.headers = vec![];
    opts.basic_auth = Some(("u".into(), "p".into()));
    opts.bearer_token = Some("t".into());
    assert!(matches!(
        RemoteWriteClient::new(opts),
        Err(ClientBuildError::ConflictingAuth)
    ));
}

// ---- the client's own connections (plain http, no proxy) ----------------------------------------

/// A remote-write endpoint on [`RawServer`]: `POST /api/v1/write` answers 204, or with
/// `redirect` a 307 to `/moved`, which answers 204.
async fn raw_endpoint(mode: RawMode, redirect: bool) -> RawServer {
    let reply: raw_http::Reply = Arc::new(move |line: &str| {
        if redirect && line.starts_with("POST /api/v1/write ") {
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: /moved\r\nContent-Length: 0\r\n\r\n"
                .to_owned()
        } else {
            "HTTP/1.1 204 No Content\r\n\r\n".to_owned()
        }
    });
    RawServer::start(mode, reply).await
}

#[tokio::test]
async fn sends_reuse_one_kept_connection_with_every_header_and_the_whole_body() {
    let server = raw_endpoint(RawMode::KeepAlive, false).await;
    let mut opts = options(format!("http://{}/api/v1/write", server.addr));
    opts.headers = vec![("X-Scope-OrgID".into(), "tenant-1".into())];
    opts.bearer_token = Some("tok".into());
    let client = RemoteWriteClient::new(opts).unwrap();
    let body = body_of(&sample_request());
    for _ in 0..3 {
        client.send(body.clone()).await.unwrap();
    }
    assert_eq!(server.connections(), 1, "one kept-alive connection");
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let r = &requests[0];
    assert_eq!(r.line, "POST /api/v1/write HTTP/1.1");
    assert_eq!(r.body_len, body.len());
    assert_eq!(
        r.header("content-length"),
        [body.len().to_string().as_str()]
    );
    assert_eq!(r.header("host"), [server.addr.as_str()]);
    assert_eq!(r.header("content-encoding"), ["snappy"]);
    assert_eq!(r.header("content-type"), ["application/x-protobuf"]);
    assert_eq!(r.header("x-prometheus-remote-write-version"), ["0.1.0"]);
    assert_eq!(r.header("user-agent"), ["solder/0.1.0"]);
    assert_eq!(r.header("authorization"), ["Bearer tok"]);
    assert_eq!(r.header("x-scope-orgid"), ["tenant-1"]);
}

#[tokio::test]
async fn a_send_the_kept_connection_lost_is_sent_again_on_a_new_one() {
    let server = raw_endpoint(RawMode::HangUpOnSecondRequest, false).await;
    let client =
        RemoteWriteClient::new(options(format!("http://{}/api/v1/write", server.addr))).unwrap();
    let body = body_of(&sample_request());
    for _ in 0..3 {
        client.send(body.clone()).await.unwrap();
    }
    // The first send, then for each later one: the lost request and its resend.
    assert_eq!(server.requests().len(), 5);
    assert_eq!(server.connections(), 3);
}

#[tokio::test]
async fn a_307_is_followed_with_the_body() {
    let server = raw_endpoint(RawMode::KeepAlive, true).await;
    let client =
        RemoteWriteClient::new(options(format!("http://{}/api/v1/write", server.addr))).unwrap();
    let body = body_of(&sample_request());
    client.send(body.clone()).await.unwrap();
    let moved: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.line == "POST /moved HTTP/1.1")
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].body_len, body.len());
}

#[tokio::test]
async fn a_configured_proxy_carries_plain_http_sends() {
    let server = raw_endpoint(RawMode::KeepAlive, false).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_proxy = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let config = HttpClientConfig {
        proxy_url: dead_proxy,
        ..HttpClientConfig::default()
    };
    let opts = options(format!("http://{}/api/v1/write", server.addr));
    let client = RemoteWriteClient::with_http_client(&config, &opts).unwrap();
    let result = client.send(body_of(&sample_request())).await;
    assert!(
        matches!(result, Err(SendError::Retryable { status: None, .. })),
        "{result:?}"
    );
    assert_eq!(
        server.connections(),
        0,
        "the endpoint was not contacted directly"
    );
}
