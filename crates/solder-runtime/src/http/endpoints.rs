//! The fixed operational endpoints: `/metrics`, `/-/ready`, `/-/healthy`, `/-/reload`.

use super::text;
use crate::api::AdminApi;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use solder_core::HealthKind;
use std::sync::Arc;

type Api = State<Arc<dyn AdminApi>>;

pub(crate) async fn metrics(State(api): Api) -> Response {
    let families = api.gather();
    let body = crate::metrics::encode_text(&families);
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::TEXT_CONTENT_TYPE),
    );
    resp
}

pub(crate) async fn ready(State(api): Api) -> Response {
    // Bodies are Alloy's verbatim: readiness tooling greps them.
    if api.is_ready() {
        text::plain(StatusCode::OK, "Alloy is ready.\n")
    } else {
        text::plain(StatusCode::SERVICE_UNAVAILABLE, "Alloy is not ready.\n")
    }
}

pub(crate) async fn healthy(State(api): Api) -> Response {
    let unhealthy: Vec<String> = api
        .components()
        .into_iter()
        .filter(|c| c.health.kind == HealthKind::Unhealthy)
        .map(|c| c.id)
        .collect();
    if unhealthy.is_empty() {
        text::plain(StatusCode::OK, "All Alloy components are healthy.\n")
    } else {
        // Alloy answers 500 here; 503 is what load balancers and probes treat as "not now",
        // which is what an unhealthy component means.
        text::error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("unhealthy components: {}", unhealthy.join(", ")),
        )
    }
}

pub(crate) async fn reload(State(api): Api) -> Response {
    tracing::info!("reload requested via /-/reload endpoint");
    match api.reload().await {
        Ok(()) => {
            tracing::info!("config reloaded");
            text::plain(StatusCode::OK, "config reloaded\n")
        }
        Err(err) => {
            tracing::error!(err = %err, "failed to reload config");
            text::error(StatusCode::BAD_REQUEST, err.trim_end())
        }
    }
}

pub(crate) async fn not_found() -> Response {
    text::not_found()
}
