//! OTLP/HTTP: `POST` of a protobuf or JSON `Export*ServiceRequest` on the three signal paths,
//! with the Collector's status codes: 400 bad data, 401 auth, 404 unknown path, 405 wrong method,
//! 413 too large, 415 unknown content type, 429/503 with `Retry-After` when the pipeline refuses.

use super::config::{CorsArgs, HttpServerArgs};
use super::decompress::{decompress, DecompressError};
use super::ingest::{Ingest, Refusal};
use super::metrics::Transport;
use crate::auth::AuthHandlerRef;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use axum::routing::MethodRouter;
use axum::Router;
use bytes::Bytes;
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::Signal;
use std::sync::Arc;
use std::time::Duration;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => PROTOBUF,
            Encoding::Json => JSON,
        }
    }
}

/// Everything a request handler needs.
pub struct HttpShared {
    pub ingest: Arc<Ingest>,
    pub auth: Option<AuthHandlerRef>,
    pub max_body: usize,
    pub compression: Vec<String>,
    pub cors: Option<CorsArgs>,
    pub read_timeout: Option<Duration>,
    pub write_timeout: Option<Duration>,
}

type Shared = Arc<HttpShared>;

/// The router serving the three signal paths of `args`.
pub fn router(args: &HttpServerArgs, shared: Shared) -> Router {
    let mut router = Router::new();
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        let method_router: MethodRouter<Shared> = MethodRouter::new()
            .post(move |st: State<Shared>, headers: HeaderMap, body: Body| {
                handle_export(st, signal, headers, body)
            })
            .options(
                |st: State<Shared>, headers: HeaderMap| async move { preflight(&st, &headers) },
            );
        router = router.route(&args.path(signal), method_router);
    }
    router
        .fallback(|| async { plain(StatusCode::NOT_FOUND, "404 page not found") })
        .method_not_allowed_fallback(|| async {
            let mut r = plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "405 method not allowed, supported: [POST]",
            );
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            r
        })
        .with_state(shared)
}

fn plain(status: StatusCode, msg: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(msg.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn content_encoding_of(headers: &HeaderMap) -> Option<Encoding> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        PROTOBUF => Some(Encoding::Protobuf),
        JSON => Some(Encoding::Json),
        _ => None,
    }
}

fn status_response(refusal: &Refusal, enc: Encoding) -> Response<Body> {
    let body = match enc {
        Encoding::Protobuf => refusal.status_protobuf(),
        Encoding::Json => refusal.status_json(),
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() =
        StatusCode::from_u16(refusal.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(enc.content_type()),
    );
    if let Some(after) = refusal.retry_after() {
        // Whole seconds, rounded up so a client never retries early.
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
    r
}

fn success_response(enc: Encoding) -> Response<Body> {
    // An empty Export*ServiceResponse: no bytes in protobuf, `{}` in JSON.
    let body = match enc {
        Encoding::Protobuf => Body::empty(),
        Encoding::Json => Body::from("{}"),
    };
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(enc.content_type()),
    );
    r
}

async fn handle_export(
    State(shared): State<Shared>,
    signal: Signal,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    let work = export(&shared, signal, &headers, body);
    let mut response = match shared.write_timeout {
        // Go's `WriteTimeout` would cut the connection; answering 503 tells the client the
        // same thing (retry later) in a form it can read.
        Some(t) => match tokio::time::timeout(t, work).await {
            Ok(r) => r,
            Err(_) => {
                let refusal = Refusal::Consumer(ConsumeError::Retryable {
                    message: format!("request not handled within write_timeout ({t:?})"),
                    retry_after: None,
                });
                let enc = content_encoding_of(&headers).unwrap_or(Encoding::Protobuf);
                status_response(&refusal, enc)
            }
        },
        None => work.await,
    };
    add_cors_headers(&shared, &headers, &mut response);
    response
}

async fn export(
    shared: &HttpShared,
    signal: Signal,
    headers: &HeaderMap,
    body: Body,
) -> Response<Body> {
    // Authentication wraps the whole handler in the Collector, so it answers first.
    let enc = content_encoding_of(headers);
    if let Some(auth) = &shared.auth {
        if let Err(e) = auth.authenticate(headers) {
            let refusal = Refusal::Unauthenticated(e.to_string());
            return match enc {
                Some(enc) => status_response(&refusal, enc),
                None => plain(StatusCode::UNAUTHORIZED, &refusal.message()),
            };
        }
    }
    let Some(enc) = enc else {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "415 unsupported media type, supported: [application/json, application/x-protobuf]",
        );
    };
    // The raw body is bounded by the same limit as its decompressed form.
    let read = axum::body::to_bytes(body, shared.max_body);
    let raw = match shared.read_timeout {
        Some(t) => match tokio::time::timeout(t, read).await {
            Ok(r) => r,
            Err(_) => {
                return status_response(
                    &Refusal::BadData("timed out reading the request body".into()),
                    enc,
                )
            }
        },
        None => read.await,
    };
    let raw = match raw {
        Ok(b) => b,
        Err(e) => {
            if is_length_limit(&e) {
                return too_large(shared.max_body, enc);
            }
            return status_response(&Refusal::BadData(format!("reading request body: {e}")), enc);
        }
    };
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let body = match decompress(&encoding, raw, shared.max_body, &shared.compression) {
        Ok(b) => b,
        Err(DecompressError::TooLarge(_)) => return too_large(shared.max_body, enc),
        Err(e) => return status_response(&Refusal::BadData(e.to_string()), enc),
    };
    let encoded = match enc {
        Encoding::Protobuf => body,
        Encoding::Json => match crate::otlp_json::to_protobuf(signal, &body) {
            Ok(v) => Bytes::from(v),
            Err(e) => return status_response(&Refusal::BadData(e.to_string()), enc),
        },
    };
    match shared.ingest.export(signal, encoded, Transport::Http).await {
        Ok(()) => success_response(enc),
        Err(r) => status_response(&r, enc),
    }
}

fn too_large(limit: usize, enc: Encoding) -> Response<Body> {
    let mut r = status_response(
        &Refusal::BadData(format!("request body exceeds the limit of {limit} bytes")),
        enc,
    );
    *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    r
}

/// axum reports an exceeded `to_bytes` limit as a `LengthLimitError` somewhere in the source
/// chain.
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.to_string().contains("length limit exceeded") {
            return true;
        }
        source = s.source();
    }
    false
}

// ---- CORS (the Collector's `cors` block, rs/cors semantics) ----

/// Whether `origin` matches one configured pattern: `*`, an exact origin, or one `*` wildcard.
fn origin_matches(pattern: &str, origin: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(origin),
        Some((prefix, suffix)) => {
            let o = origin.to_ascii_lowercase();
            o.len() >= prefix.len() + suffix.len()
                && o.starts_with(&prefix.to_ascii_lowercase())
                && o.ends_with(&suffix.to_ascii_lowercase())
        }
    }
}

fn allowed_origin<'a>(shared: &HttpShared, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
    let cors = shared.cors.as_ref()?;
    let origin = headers.get(header::ORIGIN)?;
    let o = origin.to_str().ok()?;
    cors.allowed_origins
        .iter()
        .any(|p| origin_matches(p, o))
        .then_some(origin)
}

fn add_cors_headers(shared: &HttpShared, headers: &HeaderMap, response: &mut Response<Body>) {
    let Some(origin) = allowed_origin(shared, headers) else {
        return;
    };
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(cors) = &shared.cors {
        if !cors.exposed_headers.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&cors.exposed_headers.join(", ")) {
                h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
            }
        }
    }
}

fn preflight(shared: &HttpShared, headers: &HeaderMap) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    let (Some(cors), Some(origin)) = (&shared.cors, allowed_origin(shared, headers)) else {
        return r;
    };
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    // The Collector always allows Content-Type, Content-Encoding and the configured headers.
    let mut allowed = vec![
        "Content-Type".to_string(),
        "Content-Encoding".to_string(),
        "X-Requested-With".to_string(),
    ];
    allowed.extend(cors.allowed_headers.iter().cloned());
    if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    if cors.max_age > 0 {
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(cors.max_age),
        );
    }
    r
}
