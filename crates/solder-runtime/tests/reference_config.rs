//! The reference DaemonSet config (spec Appendix A) against stand-ins for the components that
//! live in other crates: the graph must build, evaluate in dependency order, and run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentBuilder, ComponentError, ComponentOptions, Registry,
    Stability,
};
use solder_runtime::api::AdminApi;
use solder_syntax::eval::BodyValue;
use solder_syntax::{Capsule, Diagnostics, Object, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const REFERENCE_CONFIG: &str = r#"
logging {
  level  = "info"
  format = "logfmt"
}

discovery.kubernetes "pods" {
  role = "pod"
  selectors {
    role  = "pod"
    field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)
  }
}

discovery.relabel "pod_logs" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }
  rule {
    source_labels = ["__meta_kubernetes_namespace", "__meta_kubernetes_pod_container_name"]
    separator     = "/"
    target_label  = "job"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"]
    separator     = "/"
    action        = "replace"
    target_label  = "__path__"
    replacement   = "/var/log/pods/*$1/*.log"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_container_id"]
    regex         = `^(\S+):\/\/.+$`
    target_label  = "container_runtime"
  }
}

local.file_match "pod_logs" {
  path_targets = discovery.relabel.pod_logs.output
}

loki.source.file "pod_logs" {
  targets    = local.file_match.pod_logs.targets
  forward_to = [loki.process.pod_logs.receiver]
}

loki.process "pod_logs" {
  stage.cri { }

  stage.static_labels {
    values = {
      cluster = "prod",
    }
  }
  forward_to = [loki.write.default.receiver]
}

loki.write "default" {
  endpoint {
    url = "http://loki-gateway/loki/api/v1/push"
  }
}

discovery.relabel "pod_metrics" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
    regex         = "true"
    action        = "keep"
  }
  rule {
    source_labels = ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"]
    regex         = "(.+?)(?::\\d+)?;(\\d+)"
    replacement   = "$1:$2"
    target_label  = "__address__"
  }
}

prometheus.scrape "pods" {
  targets    = discovery.relabel.pod_metrics.output
  forward_to = [prometheus.remote_write.default.receiver]
}

prometheus.exporter.self "alloy" { }

prometheus.scrape "alloy" {
  targets    = prometheus.exporter.self.alloy.targets
  forward_to = [prometheus.remote_write.default.receiver]
}

prometheus.remote_write "default" {
  endpoint {
    url = "http://mimir/api/v1/push"

    queue_config {
      max_samples_per_send = 2000
    }
  }
  external_labels = {
    cluster = "prod",
  }
}

otelcol.receiver.otlp "default" {
  grpc { }
  http { }

  output {
    metrics = [otelcol.processor.memory_limiter.default.input]
    logs    = [otelcol.processor.memory_limiter.default.input]
    traces  = [otelcol.processor.memory_limiter.default.input]
  }
}

otelcol.processor.memory_limiter "default" {
  check_interval = "1s"
  limit          = "400MiB"

  output {
    metrics = [otelcol.processor.k8sattributes.default.input]
    logs    = [otelcol.processor.k8sattributes.default.input]
    traces  = [otelcol.processor.k8sattributes.default.input]
  }
}

otelcol.processor.k8sattributes "default" {
  filter {
    node = sys.env("K8S_NODE_NAME")
  }

  output {
    metrics = [otelcol.processor.batch.default.input]
    logs    = [otelcol.processor.batch.default.input]
    traces  = [otelcol.processor.batch.default.input]
  }
}

otelcol.processor.batch "default" {
  output {
    metrics = [otelcol.exporter.prometheus.default.input]
    logs    = [otelcol.exporter.loki.default.input]
    traces  = [otelcol.exporter.otlp.tempo.input]
  }
}

otelcol.exporter.prometheus "default" {
  forward_to = [prometheus.remote_write.default.receiver]
}

otelcol.exporter.loki "default" {
  forward_to = [loki.write.default.receiver]
}

otelcol.exporter.otlp "tempo" {
  client {
    endpoint = "tempo-distributor:4317"

    tls {
      insecure = true
    }
  }
}
"#;

/// A component type that accepts any body and publishes placeholder exports: an empty list
/// for `targets`, a capsule for receivers and consumers.
struct Stand {
    name: &'static str,
    exports: &'static [&'static str],
}

struct StandComponent;

impl Component for StandComponent {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        Box::pin(async move {
            shutdown.cancelled().await;
            Ok(())
        })
    }

    fn update(&self, _args: AnyArgs) -> Result<(), ComponentError> {
        Ok(())
    }
}

impl ComponentBuilder for Stand {
    fn name(&self) -> &'static str {
        self.name
    }

    fn stability(&self) -> Stability {
        Stability::GenerallyAvailable
    }

    fn exports(&self) -> &'static [&'static str] {
        self.exports
    }

    fn decode(&self, body: &BodyValue) -> Result<AnyArgs, Diagnostics> {
        Ok(AnyArgs::new(body.clone()))
    }

    fn build(
        &self,
        opts: ComponentOptions,
        _args: AnyArgs,
    ) -> Result<Arc<dyn Component>, ComponentError> {
        let mut o = Object::new();
        for e in self.exports {
            let v = if *e == "targets" {
                Value::Array(Vec::new())
            } else {
                Value::Capsule(Capsule::new("stand-in", ()))
            };
            o.insert(e.to_string(), v);
        }
        opts.publish_exports(Value::Object(o));
        Ok(Arc::new(StandComponent))
    }
}

fn registry() -> Registry {
    let mut reg = support::registry();
    let stands: &[(&'static str, &'static [&'static str])] = &[
        ("discovery.kubernetes", &["targets"]),
        ("local.file_match", &["targets"]),
        ("loki.source.file", &[]),
        ("loki.process", &["receiver"]),
        ("loki.write", &["receiver"]),
        ("prometheus.scrape", &[]),
        ("prometheus.remote_write", &["receiver"]),
        ("otelcol.receiver.otlp", &[]),
        ("otelcol.processor.memory_limiter", &["input"]),
        ("otelcol.processor.k8sattributes", &["input"]),
        ("otelcol.processor.batch", &["input"]),
        ("otelcol.exporter.prometheus", &["input"]),
        ("otelcol.exporter.loki", &["input"]),
        ("otelcol.exporter.otlp", &["input"]),
    ];
    for (name, exports) in stands {
        reg.register(Stand { name, exports });
    }
    reg
}

#[test]
fn reference_config_checks() {
    let sources =
        solder_runtime::loader::parse_sources(&[("config.alloy", REFERENCE_CONFIG)]).unwrap();
    solder_runtime::controller::check_sources(sources, &registry(), Stability::GenerallyAvailable)
        .map_err(|e| e.render())
        .unwrap();
}

#[test]
fn reference_config_graph_order() {
    let sources =
        solder_runtime::loader::parse_sources(&[("config.alloy", REFERENCE_CONFIG)]).unwrap();
    let graph = solder_runtime::controller::graph::build_graph(
        &sources.files,
        &sources.map,
        &registry(),
        Stability::GenerallyAvailable,
    )
    .map_err(|d| d.render(&sources.map))
    .unwrap();
    assert_eq!(graph.nodes.len(), 18);
    let pos = |id: &str| graph.rank[graph.by_id[id]];
    let edges = [
        ("discovery.kubernetes.pods", "discovery.relabel.pod_logs"),
        ("discovery.relabel.pod_logs", "local.file_match.pod_logs"),
        ("loki.write.default", "loki.process.pod_logs"),
        ("loki.process.pod_logs", "loki.source.file.pod_logs"),
        ("prometheus.exporter.self.alloy", "prometheus.scrape.alloy"),
        (
            "prometheus.remote_write.default",
            "otelcol.exporter.prometheus.default",
        ),
        (
            "otelcol.exporter.otlp.tempo",
            "otelcol.processor.batch.default",
        ),
        (
            "otelcol.processor.batch.default",
            "otelcol.processor.k8sattributes.default",
        ),
        (
            "otelcol.processor.k8sattributes.default",
            "otelcol.processor.memory_limiter.default",
        ),
        (
            "otelcol.processor.memory_limiter.default",
            "otelcol.receiver.otlp.default",
        ),
    ];
    for (before, after) in edges {
        assert!(
            pos(before) < pos(after),
            "{before} must come before {after}"
        );
    }
    let batch = graph.by_id["otelcol.processor.batch.default"];
    let deps: Vec<&str> = graph.deps[batch]
        .iter()
        .map(|&d| graph.nodes[d].id.as_str())
        .collect();
    assert_eq!(
        deps,
        [
            "otelcol.exporter.prometheus.default",
            "otelcol.exporter.loki.default",
            "otelcol.exporter.otlp.tempo"
        ]
    );
}

#[tokio::test]
async fn reference_config_runs() {
    let h = support::Harness::new();
    h.write(REFERENCE_CONFIG);
    // The harness registry lacks the stand-ins, so load through a controller built on ours.
    let ctrl = solder_runtime::Controller::new(solder_runtime::ControllerOptions {
        config_path: h.path().join("config.alloy"),
        storage_path: h.path().join("data"),
        min_stability: Stability::GenerallyAvailable,
        host: Arc::new(solder_core::HostInfo {
            http_listen_addr: "127.0.0.1:12345".into(),
            http_memory_addr: "alloy.internal:12345".into(),
            hostname: "node-1".into(),
            self_registry: prometheus::Registry::new(),
        }),
        registry: registry(),
        self_registry: prometheus::Registry::new(),
        on_logging: Arc::new(|_| {}),
    });
    ctrl.load_initial().await.map_err(|e| e.render()).unwrap();
    let components = ctrl.components();
    assert_eq!(components.len(), 18);
    let scrape = ctrl.component("prometheus.scrape.alloy").unwrap();
    assert_eq!(
        scrape.arguments["targets"][0]["__metrics_path__"],
        "/api/v0/component/prometheus.exporter.self.alloy/metrics"
    );
    assert_eq!(
        scrape.references,
        [
            "prometheus.exporter.self.alloy",
            "prometheus.remote_write.default"
        ]
    );
    ctrl.shutdown(Duration::from_secs(5)).await;
}
