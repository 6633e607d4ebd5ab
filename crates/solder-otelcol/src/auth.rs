//! `otelcol.auth.*`: authentication extensions. Each exports `handler`, a capsule holding an
//! [`AuthHandlerRef`]. Exporters call it as *client* auth (headers added to every request);
//! receivers call it as *server* auth (a request without valid credentials gets HTTP 401 /
//! gRPC `UNAUTHENTICATED`).

pub mod basic;
pub mod bearer;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use solder_syntax::{Capsule, Value};
use std::sync::Arc;

/// The capsule type name of the `handler` export.
pub const AUTH_HANDLER_CAPSULE: &str = "otelcol.Handler";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The request carries no credentials or wrong ones (server side).
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The extension cannot produce credentials (client side), e.g. an unreadable token file.
    #[error("cannot produce credentials: {0}")]
    Credentials(String),
}

/// One configured authentication extension.
pub trait AuthHandler: Send + Sync + std::fmt::Debug {
    /// Headers to add to every outgoing request (HTTP headers or gRPC metadata).
    fn client_headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, AuthError>;
    /// Check the headers (gRPC metadata as headers) of an incoming request.
    fn authenticate(&self, headers: &HeaderMap) -> Result<(), AuthError>;
}

pub type AuthHandlerRef = Arc<dyn AuthHandler>;

pub fn auth_handler_value(h: AuthHandlerRef) -> Value {
    Value::Capsule(Capsule::new(AUTH_HANDLER_CAPSULE, h))
}
