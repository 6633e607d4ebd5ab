//! The builtin components: `local.file`, `discovery.relabel`, `prometheus.exporter.self`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use bytes::Bytes;
use solder_core::http::HttpRequest;
use solder_core::HealthKind;
use solder_runtime::api::AdminApi;
use std::time::Duration;
use support::{events_of, eventually, Harness};

#[tokio::test]
async fn local_file_follows_changes_and_reports_errors() {
    for detector in ["poll", "fsnotify"] {
        let h = Harness::new();
        let file = h.path().join(format!("token-{detector}"));
        std::fs::write(&file, "one").unwrap();
        let sink = format!("test.sink.lf_{detector}");
        h.write(&format!(
            "local.file \"tok\" {{\n  filename = {:?}\n  detector = {detector:?}\n  poll_frequency = \"50ms\"\n}}\ntest.sink \"lf_{detector}\" {{ input = local.file.tok.content }}\n",
            file.display().to_string()
        ));
        h.ctrl.load_initial().await.unwrap();
        assert_eq!(events_of(&sink)[0], "build \"one\"");

        std::fs::write(&file, "two, longer").unwrap();
        assert!(
            eventually(5, || events_of(&sink)
                .contains(&"update \"two, longer\"".to_string()))
            .await,
            "{detector}: {:?}",
            events_of(&sink)
        );

        std::fs::remove_file(&file).unwrap();
        assert!(
            eventually(5, || {
                h.ctrl.component("local.file.tok").unwrap().health.kind == HealthKind::Unhealthy
            })
            .await
        );
        let info = h.ctrl.component("local.file.tok").unwrap();
        assert!(
            info.health.message.contains("failed to read file"),
            "{}",
            info.health.message
        );
        assert_eq!(
            info.exports["content"],
            serde_json::json!("two, longer"),
            "keeps last content"
        );
        h.ctrl.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test]
async fn local_file_secret_is_redacted_in_the_api() {
    let h = Harness::new();
    let file = h.path().join("secret");
    std::fs::write(&file, "hunter2").unwrap();
    h.write(&format!(
        "local.file \"pw\" {{\n  filename = {:?}\n  is_secret = true\n}}\ntest.sink \"lf_secret\" {{ input = convert.nonsensitive(local.file.pw.content) }}\n",
        file.display().to_string()
    ));
    h.ctrl.load_initial().await.unwrap();
    assert_eq!(events_of("test.sink.lf_secret")[0], "build \"hunter2\"");
    let info = h.ctrl.component("local.file.pw").unwrap();
    assert!(
        !info.exports.to_string().contains("hunter2"),
        "{}",
        info.exports
    );
    h.ctrl.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn discovery_relabel_pod_logs_rules() {
    let h = Harness::new();
    // The pod-logs rules of the reference DaemonSet config (spec Appendix A).
    h.write(
        r#"
discovery.relabel "pod_logs" {
  targets = [
    {
      "__address__" = "10.0.0.1:8080",
      "__meta_kubernetes_namespace" = "shop",
      "__meta_kubernetes_pod_name" = "cart-7d9",
      "__meta_kubernetes_pod_container_name" = "app",
      "__meta_kubernetes_pod_uid" = "0b1c-22",
      "__meta_kubernetes_pod_container_id" = "containerd://abc123",
    },
    {
      "__address__" = "10.0.0.2",
      "__meta_kubernetes_namespace" = "kube-system",
      "__meta_kubernetes_pod_name" = "dns",
      "__meta_kubernetes_pod_container_name" = "coredns",
      "__meta_kubernetes_pod_uid" = "9f",
    },
  ]
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

discovery.relabel "keep_kube_system" {
  targets = discovery.relabel.pod_logs.output
  rule {
    source_labels = ["namespace"]
    regex         = "kube-system"
    action        = "keep"
  }
}

test.sink "relabel_out" { input = discovery.relabel.keep_kube_system.output }
"#,
    );
    h.ctrl.load_initial().await.unwrap();
    let out = h
        .ctrl
        .component("discovery.relabel.pod_logs")
        .unwrap()
        .exports["output"]
        .clone();
    let want = serde_json::json!([
        {
            "__address__": "10.0.0.1:8080",
            "__meta_kubernetes_namespace": "shop",
            "__meta_kubernetes_pod_container_id": "containerd://abc123",
            "__meta_kubernetes_pod_container_name": "app",
            "__meta_kubernetes_pod_name": "cart-7d9",
            "__meta_kubernetes_pod_uid": "0b1c-22",
            "__path__": "/var/log/pods/*0b1c-22/app/*.log",
            "container": "app",
            "container_runtime": "containerd",
            "job": "shop/app",
            "namespace": "shop",
            "pod": "cart-7d9",
        },
        {
            "__address__": "10.0.0.2",
            "__meta_kubernetes_namespace": "kube-system",
            "__meta_kubernetes_pod_container_name": "coredns",
            "__meta_kubernetes_pod_name": "dns",
            "__meta_kubernetes_pod_uid": "9f",
            "__path__": "/var/log/pods/*9f/coredns/*.log",
            "container": "coredns",
            "job": "kube-system/coredns",
            "namespace": "kube-system",
            "pod": "dns",
        },
    ]);
    assert_eq!(out, want);
    let kept = h.ctrl.component("test.sink.relabel_out").unwrap().arguments["input"].clone();
    assert_eq!(kept.as_array().unwrap().len(), 1);
    assert_eq!(kept[0]["pod"], "dns");
    let rules = &h
        .ctrl
        .component("discovery.relabel.pod_logs")
        .unwrap()
        .exports["rules"];
    assert!(rules.to_string().contains("RelabelRules"), "{rules}");
    h.ctrl.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn discovery_relabel_without_rules_passes_targets_through() {
    let h = Harness::new();
    h.write("discovery.relabel \"passthrough\" {\n  targets = [{\"__address__\" = \"a\", \"x\" = \"1\"}]\n}\n");
    h.ctrl.load_initial().await.unwrap();
    let out = h
        .ctrl
        .component("discovery.relabel.passthrough")
        .unwrap()
        .exports["output"]
        .clone();
    assert_eq!(out, serde_json::json!([{"__address__": "a", "x": "1"}]));
    h.ctrl.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn exporter_self_target_and_metrics_handler() {
    let h = Harness::new();
    h.write("prometheus.exporter.self \"alloy\" {}\ntest.sink \"self_targets\" { input = prometheus.exporter.self.alloy.targets }\n");
    h.ctrl.load_initial().await.unwrap();
    let targets = h
        .ctrl
        .component("test.sink.self_targets")
        .unwrap()
        .arguments["input"]
        .clone();
    assert_eq!(
        targets,
        serde_json::json!([{
            "__address__": "alloy.internal:12345",
            "__scheme__": "http",
            "__metrics_path__": "/api/v0/component/prometheus.exporter.self.alloy/metrics",
            "job": "integrations/self",
            "instance": "node-1",
            "__meta_component_name": "prometheus.exporter.self",
            "__meta_component_id": "prometheus.exporter.self.alloy",
        }])
    );
    let handler = h
        .ctrl
        .component_http("prometheus.exporter.self.alloy")
        .expect("handler");
    let req = |path: &str| HttpRequest {
        method: "GET".into(),
        path: path.into(),
        query: String::new(),
        headers: Vec::new(),
        body: Bytes::new(),
    };
    let resp = handler.handle(req("/metrics")).await;
    assert_eq!(resp.status, 200);
    let body = String::from_utf8(resp.body.to_vec()).unwrap();
    assert!(
        body.contains("alloy_component_controller_running_components{controller_id=\"\",controller_path=\"/\",health_type=\"healthy\"} 2"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE alloy_component_evaluation_seconds histogram"),
        "{body}"
    );
    assert_eq!(handler.handle(req("/other")).await.status, 404);
    assert!(h.ctrl.component_http("test.sink.self_targets").is_none());
    h.ctrl.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn exporter_self_rejects_arguments() {
    let h = Harness::new();
    h.write("prometheus.exporter.self \"args\" {\n  foo = 1\n}\n");
    let err = h.ctrl.load_initial().await.unwrap_err();
    assert_eq!(err.diagnostics.len(), 1, "{}", err.render());
}
