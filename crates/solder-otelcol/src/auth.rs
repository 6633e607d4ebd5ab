//! `otelcol.auth.*`: authentication extensions. Each exports `handler`, a capsule holding an
//! [`AuthHandlerRef`]. Exporters call it as *client* auth (headers added to every request);
//! receivers call it as *server* auth (a request without valid credentials gets HTTP 401 /
//! gRPC `UNAUTHENTICATED`).

pub mod basic;
pub mod bearer;

use crate::component_util::idle_until_shutdown;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, TypedComponent,
};
use solder_syntax::{Capsule, Object, Value};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

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

/// What distinguishes one `otelcol.auth.*` component from another: its name, its arguments
/// and the handler they configure. The component plumbing around it is [`AuthComponent`].
pub trait AuthExtension: 'static {
    /// The component name, e.g. `otelcol.auth.basic`.
    const NAME: &'static str;
    type Args: serde::de::DeserializeOwned + Send + 'static;
    type Handler: AuthHandler + 'static;

    fn validate(args: &Self::Args) -> Result<(), String>;
    fn handler(args: &Self::Args) -> Result<Self::Handler, String>;
    /// Apply re-evaluated arguments to the running handler, which exporters and receivers
    /// keep holding, so it is changed in place rather than replaced.
    fn reconfigure(handler: &Self::Handler, args: &Self::Args) -> Result<(), String>;
}

/// An `otelcol.auth.*` component: exports `handler` and keeps it configured; it has no work
/// of its own to run.
pub struct AuthComponent<E: AuthExtension> {
    handler: Arc<E::Handler>,
}

impl<E: AuthExtension> TypedComponent for AuthComponent<E> {
    const NAME: &'static str = E::NAME;
    const EXPORTS: &'static [&'static str] = &["handler"];
    type Args = E::Args;

    fn validate(args: &E::Args) -> Result<(), String> {
        E::validate(args)
    }

    fn build(opts: ComponentOptions, args: E::Args) -> Result<Self, ComponentError> {
        let handler = Arc::new(E::handler(&args).map_err(ComponentError::Config)?);
        let as_dyn: AuthHandlerRef = handler.clone();
        let mut exports = Object::new();
        exports.insert("handler".to_string(), auth_handler_value(as_dyn));
        opts.publish_exports(Value::Object(exports));
        Ok(AuthComponent { handler })
    }
}

impl<E: AuthExtension> Component for AuthComponent<E> {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        idle_until_shutdown(shutdown)
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let args = args.downcast::<E::Args>()?;
        E::reconfigure(&self.handler, &args).map_err(ComponentError::Config)
    }
}
