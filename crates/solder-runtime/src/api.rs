//! The seam between the controller and the admin HTTP server: what `/-/ready`, `/-/healthy`,
//! `/-/reload`, `/metrics` and the component JSON API need from the running graph.

use solder_core::http::ComponentHttp;
use solder_core::Health;
use std::sync::Arc;

/// One component as the JSON API shows it. Secrets are already redacted in `arguments`/`exports`.
#[derive(Debug, Clone)]
pub struct ComponentInfo {
    /// `prometheus.scrape.default`
    pub id: String,
    /// `prometheus.scrape`
    pub name: String,
    pub label: Option<String>,
    pub health: Health,
    pub arguments: serde_json::Value,
    pub exports: serde_json::Value,
    pub debug_info: Option<serde_json::Value>,
    /// Ids of components this one references.
    pub references: Vec<String>,
    /// Ids of components that reference this one.
    pub referenced_by: Vec<String>,
    /// Duration of the last evaluation of this component's arguments.
    pub last_evaluation_seconds: f64,
}

/// What the admin server asks of the runtime.
#[async_trait::async_trait]
pub trait AdminApi: Send + Sync {
    /// True once the initial config has loaded.
    fn is_ready(&self) -> bool;
    /// Every component of the running graph, sorted by id.
    fn components(&self) -> Vec<ComponentInfo>;
    fn component(&self, id: &str) -> Option<ComponentInfo>;
    /// Re-read the config path and apply it; on error the running graph is untouched and the
    /// error text (all diagnostics, rendered) is returned.
    async fn reload(&self) -> Result<(), String>;
    /// The handler of `/api/v0/component/<id>/…`.
    fn component_http(&self, id: &str) -> Option<Arc<dyn ComponentHttp>>;
    /// All self-metrics (controller, process, build info, every component registry), with
    /// families of the same name merged, ready for the text encoder.
    fn gather(&self) -> Vec<prometheus::proto::MetricFamily>;
}
