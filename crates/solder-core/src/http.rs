//! Component-owned HTTP endpoints under `/api/v0/component/<id>/…` (e.g. the self exporter's
//! `/metrics`). Kept free of any HTTP server crate so components do not depend on one.

use crate::component::BoxFuture;
use bytes::Bytes;

#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// The path below the component prefix, starting with `/`.
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl HttpResponse {
    pub fn new(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        HttpResponse {
            status,
            headers: vec![("content-type".to_string(), content_type.to_string())],
            body: body.into(),
        }
    }

    pub fn not_found() -> Self {
        HttpResponse::new(404, "text/plain; charset=utf-8", "404 page not found\n")
    }
}

pub trait ComponentHttp: Send + Sync {
    fn handle(&self, req: HttpRequest) -> BoxFuture<HttpResponse>;
}
