//! `/api/v0/component/<id>/<rest>`: hands the request to the component's own handler with the
//! prefix and id stripped, so each component serves paths from its own root (Alloy's contract).

use super::text;
use crate::api::AdminApi;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use solder_core::http::{HttpRequest, HttpResponse};
use std::sync::Arc;

/// Largest request body forwarded to a component; bigger ones get 413 instead of unbounded memory.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

pub(crate) async fn forward(
    State(api): State<Arc<dyn AdminApi>>,
    Path(path): Path<String>,
    req: Request,
) -> Response {
    let (id, rest) = split_id(&path);
    let Some(handler) = api.component_http(id) else {
        return empty(StatusCode::NOT_FOUND);
    };
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return text::error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
        }
    };
    let headers = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let request = HttpRequest {
        method: parts.method.as_str().to_string(),
        path: rest,
        query: parts.uri.query().unwrap_or("").to_string(),
        headers,
        body,
    };
    into_response(handler.handle(request).await)
}

/// `prometheus.exporter.self.x/metrics` → (`prometheus.exporter.self.x`, `/metrics`).
/// Component ids never contain `/`, so the first slash ends the id.
fn split_id(path: &str) -> (&str, String) {
    match path.find('/') {
        Some(i) => (&path[..i], path[i..].to_string()),
        None => (path, "/".to_string()),
    }
}

fn empty(status: StatusCode) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp
}

/// A component's answer, with an invalid status or header turned into a 500 or dropped rather
/// than trusted.
fn into_response(r: HttpResponse) -> Response {
    let Ok(status) = StatusCode::from_u16(r.status) else {
        return text::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("component returned invalid status {}", r.status),
        );
    };
    let mut resp = Response::new(Body::from(r.body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    for (name, value) in r.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(n, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::split_id;

    #[test]
    fn splits_id_from_rest() {
        let cases = [
            (
                "prometheus.exporter.self.x/metrics",
                ("prometheus.exporter.self.x", "/metrics"),
            ),
            ("a.b.c/", ("a.b.c", "/")),
            ("a.b.c", ("a.b.c", "/")),
            ("a.b.c/x/y?z", ("a.b.c", "/x/y?z")),
        ];
        for (input, (id, rest)) in cases {
            assert_eq!(split_id(input), (id, rest.to_string()), "{input}");
        }
    }
}
