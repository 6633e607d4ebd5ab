//! Plain-text responses shaped like Go's `net/http` ones (`http.Error`, `http.NotFound`), since
//! probes and scripts written against Alloy match on these bodies and headers.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub(crate) const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// A `text/plain` response with `body` verbatim.
pub(crate) fn plain(status: StatusCode, body: impl Into<String>) -> Response {
    let mut resp = (status, body.into()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN));
    resp
}

/// Like Go's `http.Error`: the message followed by a newline, marked `nosniff`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    let mut resp = plain(status, format!("{message}\n"));
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// Like Go's `http.NotFound`.
pub(crate) fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "404 page not found")
}
