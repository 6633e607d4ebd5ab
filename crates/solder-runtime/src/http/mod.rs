//! The admin HTTP server (spec §4.1): `/metrics`, `/-/ready`, `/-/healthy`, `/-/reload`,
//! component-owned handlers under `/api/v0/component/<id>/…` and the UI JSON API under
//! `<ui-prefix>api/v0/web/…`. Everything it knows about the graph comes through [`AdminApi`],
//! so the server can be tested against a fake and the controller never sees axum.

mod component_proxy;
mod endpoints;
mod text;
pub mod time;
mod web_api;

use crate::api::AdminApi;
use axum::routing::{any, get};
use axum::Router;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Settings of the admin server that do not come from the running graph.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `--server.http.ui-path-prefix`: where the UI (and so its JSON API) is mounted.
    pub ui_path_prefix: String,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            ui_path_prefix: "/".to_string(),
        }
    }
}

/// Serve the admin API on `listener` until `shutdown` is cancelled, with the default options.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Arc<dyn AdminApi>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve_with_options(listener, api, shutdown, ServerOptions::default()).await
}

/// Serve the admin API on `listener` until `shutdown` is cancelled. In-flight requests finish
/// before this returns.
pub async fn serve_with_options(
    listener: tokio::net::TcpListener,
    api: Arc<dyn AdminApi>,
    shutdown: CancellationToken,
    options: ServerOptions,
) -> std::io::Result<()> {
    let app = router(api, &options);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// The complete route table. Public so tests and an in-memory transport can drive it directly.
pub fn router(api: Arc<dyn AdminApi>, options: &ServerOptions) -> Router {
    let web = web_api::prefix(&options.ui_path_prefix);
    Router::new()
        .route("/metrics", any(endpoints::metrics))
        .route("/-/ready", any(endpoints::ready))
        .route("/-/healthy", any(endpoints::healthy))
        .route("/-/reload", get(endpoints::reload).post(endpoints::reload))
        .route("/api/v0/component/{*path}", any(component_proxy::forward))
        .route(
            &format!("{web}api/v0/web/components"),
            get(web_api::list_components),
        )
        .route(
            &format!("{web}api/v0/web/components/{{*id}}"),
            get(web_api::get_component),
        )
        .fallback(endpoints::not_found)
        .with_state(api)
}
