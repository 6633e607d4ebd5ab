//! `prometheus.exporter.self`: exposes the agent's own metrics as a scrape target (spec §2.6).

use crate::metrics::{encode_text, TEXT_CONTENT_TYPE};
use solder_core::http::{ComponentHttp, HttpRequest, HttpResponse};
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, TypedComponent,
};
use solder_syntax::{Object, Value};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// No arguments and no blocks.
#[derive(Debug, serde::Deserialize)]
pub struct Args {}

pub struct SelfExporter {
    handler: Arc<MetricsHandler>,
}

/// The one target this exporter exports: Alloy's exporter target shape.
pub fn self_target(opts: &ComponentOptions) -> Object {
    let name = SelfExporter::NAME;
    let mut t = Object::new();
    let mut put = |k: &str, v: String| {
        t.insert(k.to_string(), Value::String(v));
    };
    put("__address__", opts.host.http_memory_addr.clone());
    put("__scheme__", "http".to_string());
    put(
        "__metrics_path__",
        format!("/api/v0/component/{}/metrics", opts.id),
    );
    put("job", "integrations/self".to_string());
    put("instance", opts.host.hostname.clone());
    put("__meta_component_name", name.to_string());
    put("__meta_component_id", opts.id.clone());
    t
}

/// Serves `/metrics`: every self-metric in the text format.
pub struct MetricsHandler {
    registry: prometheus::Registry,
}

impl ComponentHttp for MetricsHandler {
    fn handle(&self, req: HttpRequest) -> BoxFuture<HttpResponse> {
        let resp = if req.path == "/metrics" {
            HttpResponse::new(200, TEXT_CONTENT_TYPE, encode_text(&self.registry.gather()))
        } else {
            HttpResponse::not_found()
        };
        Box::pin(async move { resp })
    }
}

impl TypedComponent for SelfExporter {
    const NAME: &'static str = "prometheus.exporter.self";
    const EXPORTS: &'static [&'static str] = &["targets"];
    type Args = Args;

    fn build(opts: ComponentOptions, _args: Args) -> Result<Self, ComponentError> {
        let mut exports = Object::new();
        exports.insert(
            "targets".to_string(),
            Value::Array(vec![Value::Object(self_target(&opts))]),
        );
        opts.publish_exports(Value::Object(exports));
        Ok(SelfExporter {
            handler: Arc::new(MetricsHandler {
                // The controller folds every component registry into the self registry.
                registry: opts.host.self_registry.clone(),
            }),
        })
    }
}

impl Component for SelfExporter {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        Box::pin(async move {
            shutdown.cancelled().await;
            Ok(())
        })
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        args.downcast::<Args>()?;
        Ok(())
    }

    fn http_handler(&self) -> Option<Arc<dyn ComponentHttp>> {
        Some(self.handler.clone())
    }
}
