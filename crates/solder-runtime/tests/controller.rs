//! The running controller: evaluation order, reactive updates, reload diffs, health, metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use solder_core::{HealthKind, Stability};
use solder_runtime::api::AdminApi;
use std::time::Duration;
use support::{build_order, events_of, eventually, metric_lines, set_count, Harness};

#[tokio::test]
async fn evaluates_in_dependency_order_not_source_order() {
    let h = Harness::new();
    h.write(
        r#"
test.sink "order_c" { input = test.sink.order_b.out }
test.sink "order_b" { input = test.counter.order_a.count }
test.counter "order_a" { start = 7 }
"#,
    );
    h.ctrl.load_initial().await.unwrap();
    assert_eq!(
        build_order(".order_"),
        [
            "test.counter.order_a",
            "test.sink.order_b",
            "test.sink.order_c"
        ]
    );
    // Exports published during build are visible to dependants in the same pass.
    assert_eq!(events_of("test.sink.order_c")[0], "build 7");
    let info = h.ctrl.component("test.sink.order_b").unwrap();
    assert_eq!(info.references, vec!["test.counter.order_a".to_string()]);
    assert_eq!(info.referenced_by, vec!["test.sink.order_c".to_string()]);
    assert_eq!(info.arguments["input"], serde_json::json!(7));
    assert_eq!(info.exports["out"], serde_json::json!(7));
    assert!(h.ctrl.is_ready());
    h.ctrl.shutdown(Duration::from_secs(5)).await;
    assert!(
        eventually(2, || events_of("test.sink.order_c")
            .contains(&"stop".to_string()))
        .await
    );
}

#[tokio::test]
async fn export_change_updates_dependants_in_place() {
    let h = Harness::new();
    h.write(
        r#"
test.counter "react_a" {}
test.sink "react_b" { input = test.counter.react_a.count * 10 }
test.sink "react_c" { input = test.sink.react_b.out + 1 }
test.sink "react_unrelated" { input = "x" }
"#,
    );
    h.ctrl.load_initial().await.unwrap();
    support::wait_running(&[
        "test.counter.react_a",
        "test.sink.react_b",
        "test.sink.react_c",
        "test.sink.react_unrelated",
    ])
    .await;

    set_count("test.counter.react_a", 4);
    assert!(
        eventually(5, || events_of("test.sink.react_c")
            .contains(&"update 41".to_string()))
        .await,
        "{:?}",
        events_of("test.sink.react_c")
    );
    assert_eq!(
        events_of("test.sink.react_b"),
        ["build 0", "run", "update 40"],
        "updated in place: built once, run once"
    );
    assert_eq!(
        events_of("test.sink.react_c"),
        ["build 1", "run", "update 41"]
    );
    assert_eq!(
        events_of("test.sink.react_unrelated"),
        ["build \"x\"", "run"]
    );

    // Publishing the same value again changes nothing.
    set_count("test.counter.react_a", 4);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(events_of("test.sink.react_b").len(), 3);
    h.ctrl.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn failed_re_evaluation_marks_unhealthy_and_keeps_last_arguments() {
    let h = Harness::new();
    h.write(
        r#"
test.counter "bad_a" { start = 1 }
test.sink "bad_b" { input = 10 / test.counter.bad_a.count }
test.sink "bad_c" {
  input = test.counter.bad_a.count
  refuse_updates = true
}
"#,
    );
    h.ctrl.load_initial().await.unwrap();
    support::wait_running(&["test.sink.bad_b", "test.sink.bad_c"]).await;
    // A string makes `10 / count` fail to evaluate: unhealthy, last good arguments kept.
    support::set_count_value("test.counter.bad_a", solder_syntax::Value::string("oops"));
    assert!(
        eventually(5, || {
            h.ctrl.component("test.sink.bad_b").unwrap().health.kind == HealthKind::Unhealthy
        })
        .await
    );
    let b = h.ctrl.component("test.sink.bad_b").unwrap();
    assert!(
        b.health.message.contains("component evaluation failed"),
        "{}",
        b.health.message
    );
    assert_eq!(b.arguments["input"], serde_json::json!(10));
    assert_eq!(events_of("test.sink.bad_b"), ["build 10", "run"]);
    // A good value again: updated in place and healthy.
    set_count("test.counter.bad_a", 2);
    assert!(
        eventually(5, || events_of("test.sink.bad_b")
            .contains(&"update 5".to_string()))
        .await
    );
    assert_eq!(
        h.ctrl.component("test.sink.bad_b").unwrap().health.kind,
        HealthKind::Healthy
    );
    let c = h.ctrl.component("test.sink.bad_c").unwrap();
    assert_eq!(c.health.kind, HealthKind::Unhealthy, "{:?}", c.health);
    assert!(
        c.health.message.contains("refusing update"),
        "{}",
        c.health.message
    );
    assert_eq!(
        c.arguments["input"],
        serde_json::json!(1),
        "keeps last good args"
    );
    h.ctrl.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn reload_applies_a_diff() {
    let h = Harness::new();
    h.write(
        r#"
test.counter "diff_keep" { start = 1 }
test.sink "diff_change" { input = "old" }
test.sink "diff_remove" { input = 1 }
test.sink "diff_type" { input = 1 }
"#,
    );
    h.ctrl.load_initial().await.unwrap();
    support::wait_running(&[
        "test.counter.diff_keep",
        "test.sink.diff_change",
        "test.sink.diff_remove",
        "test.sink.diff_type",
    ])
    .await;
    h.write(
        r#"
// moved and commented: same arguments
test.sink "diff_change" { input = "new" }

test.counter "diff_keep" {
  start = 1
}
test.sink "diff_new" { input = test.counter.diff_keep.count }
test.counter "diff_type" { }
"#,
    );
    h.ctrl.reload().await.unwrap();
    assert_eq!(
        events_of("test.counter.diff_keep"),
        ["build start=1", "run"]
    );
    assert_eq!(
        events_of("test.sink.diff_change"),
        ["build \"old\"", "run", "update \"new\""]
    );
    assert!(
        eventually(2, || events_of("test.sink.diff_remove")
            == ["build 1", "run", "stop"])
        .await
    );
    assert!(eventually(2, || events_of("test.sink.diff_new") == ["build 1", "run"]).await);
    // Same id, different type: the old one stops, the new one runs.
    assert!(
        eventually(2, || events_of("test.sink.diff_type")
            == ["build 1", "run", "stop"])
        .await
    );
    assert!(
        eventually(2, || events_of("test.counter.diff_type")
            == ["build start=0", "run"])
        .await
    );
    let ids: Vec<String> = h.ctrl.components().into_iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [
            "test.counter.diff_keep",
            "test.counter.diff_type",
            "test.sink.diff_change",
            "test.sink.diff_new"
        ]
    );
    h.ctrl.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn bad_reload_leaves_the_graph_untouched() {
    let h = Harness::new();
    h.write("test.sink \"untouched_a\" { input = 1 }\n");
    h.ctrl.load_initial().await.unwrap();
    support::wait_running(&["test.sink.untouched_a"]).await;
    let bad_configs = [
        "test.sink \"untouched_a\" { input = \n",
        "test.sink \"untouched_a\" { input = 2 }\ntest.snik \"x\" {}\n",
        "test.sink \"untouched_a\" { input = 2 }\ntest.sink \"untouched_b\" { input = 1 + \"a\" }\n",
        "test.sink \"untouched_a\" { input = 2 }\ntest.sink \"untouched_b\" { nope = 1 }\n",
    ];
    for bad in bad_configs {
        h.write(bad);
        let err = h.ctrl.reload().await.unwrap_err();
        assert!(!err.diagnostics.is_empty(), "{bad}: {err}");
        let via_api = AdminApi::reload(&*h.ctrl).await.unwrap_err();
        assert!(via_api.contains("Error: "), "{via_api}");
    }
    assert_eq!(events_of("test.sink.untouched_a"), ["build 1", "run"]);
    assert!(events_of("test.sink.untouched_b").is_empty());
    let ids: Vec<String> = h.ctrl.components().into_iter().map(|c| c.id).collect();
    assert_eq!(ids, ["test.sink.untouched_a"]);
    assert_eq!(
        metric_lines(&h.self_registry, "alloy_config_last_load_successful"),
        ["alloy_config_last_load_successful 0"]
    );
    assert_eq!(
        metric_lines(&h.self_registry, "alloy_config_load_failures_total"),
        ["alloy_config_load_failures_total 8"]
    );
    h.ctrl.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn initial_load_failure_runs_nothing() {
    let h = Harness::new();
    h.write(
        "test.sink \"nothing_a\" { input = 1 }\ntest.sink \"nothing_b\" { input = true + 1 }\n",
    );
    let err = h.ctrl.load_initial().await.unwrap_err();
    assert_eq!(err.diagnostics.len(), 1, "{}", err.render());
    assert!(!h.ctrl.is_ready());
    assert!(h.ctrl.components().is_empty());
    assert!(events_of("test.sink.nothing_a")
        .iter()
        .all(|e| !e.starts_with("run")));
}

#[tokio::test]
async fn health_and_controller_metrics() {
    let h = Harness::new();
    h.write(
        r#"
test.failing "health_err" {}
test.failing "health_exit" { clean = true }
test.sink "health_ok" { input = 1 }
logging {
  level  = "debug"
  format = "json"
}
"#,
    );
    h.ctrl.load_initial().await.unwrap();
    assert!(
        eventually(2, || {
            h.ctrl
                .component("test.failing.health_err")
                .unwrap()
                .health
                .kind
                == HealthKind::Unhealthy
        })
        .await
    );
    let err = h.ctrl.component("test.failing.health_err").unwrap().health;
    assert!(err.message.contains("boom"), "{}", err.message);
    assert!(
        eventually(2, || {
            h.ctrl
                .component("test.failing.health_exit")
                .unwrap()
                .health
                .kind
                == HealthKind::Exited
        })
        .await
    );
    assert_eq!(
        h.ctrl.component("test.sink.health_ok").unwrap().health.kind,
        HealthKind::Healthy
    );

    let running = metric_lines(
        &h.self_registry,
        "alloy_component_controller_running_components",
    );
    for want in [
        "alloy_component_controller_running_components{controller_id=\"\",controller_path=\"/\",health_type=\"exited\"} 1",
        "alloy_component_controller_running_components{controller_id=\"\",controller_path=\"/\",health_type=\"healthy\"} 1",
        "alloy_component_controller_running_components{controller_id=\"\",controller_path=\"/\",health_type=\"unhealthy\"} 1",
        "alloy_component_controller_running_components{controller_id=\"\",controller_path=\"/\",health_type=\"unknown\"} 0",
    ] {
        assert!(running.contains(&want.to_string()), "{running:#?}");
    }
    assert_eq!(
        metric_lines(&h.self_registry, "alloy_config_last_load_successful"),
        ["alloy_config_last_load_successful 1"]
    );
    let hash = metric_lines(&h.self_registry, "alloy_config_hash");
    assert_eq!(hash.len(), 1);
    let text = std::fs::read(h.path().join("config.alloy")).unwrap();
    use sha2::Digest;
    let want: String = sha2::Sha256::digest(&text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hash[0], format!("alloy_config_hash{{sha256=\"{want}\"}} 1"));
    let count = metric_lines(&h.self_registry, "alloy_component_evaluation_seconds_count");
    assert_eq!(
        count,
        ["alloy_component_evaluation_seconds_count{controller_id=\"\",controller_path=\"/\"} 3"]
    );
    let buckets = metric_lines(
        &h.self_registry,
        "alloy_component_evaluation_seconds_bucket",
    );
    assert_eq!(buckets.len(), 13, "12 buckets and +Inf");
    assert!(buckets[0].contains("le=\"0.005\""), "{buckets:?}");
    for name in [
        "alloy_component_controller_evaluating",
        "alloy_component_evaluation_queue_size",
        "alloy_component_dependencies_wait_seconds_count",
        "alloy_config_last_load_success_timestamp_seconds",
    ] {
        assert_eq!(metric_lines(&h.self_registry, name).len(), 1, "{name}");
    }
    assert_eq!(
        *h.logging.lock().unwrap(),
        [solder_runtime::LoggingConfig {
            level: "debug".into(),
            format: "json".into()
        }]
    );
    h.ctrl.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn component_metrics_carry_component_labels_and_are_gathered() {
    let h = Harness::new();
    h.write("prometheus.exporter.self \"gather\" {}\ntest.sink \"gather_b\" { input = prometheus.exporter.self.gather.targets }\n");
    h.ctrl.load_initial().await.unwrap();
    let fams = h.ctrl.gather();
    let names: Vec<&str> = fams.iter().map(|f| f.name()).collect();
    assert!(names.contains(&"alloy_component_controller_running_components"));
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "sorted and merged: {names:?}"
    );
    h.ctrl.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn directory_load_is_one_namespace() {
    let h = Harness::new_with(Stability::GenerallyAvailable, true);
    h.write_file(
        "b.alloy",
        "test.sink \"dir_b\" { input = test.counter.dir_a.count }\n",
    );
    h.write_file("a.alloy", "test.counter \"dir_a\" { start = 3 }\n");
    h.write_file("ignored.txt", "this is not alloy");
    h.ctrl.load_initial().await.unwrap();
    assert_eq!(events_of("test.sink.dir_b")[0], "build 3");

    // A duplicate across files names the other file.
    h.write_file("c.alloy", "\ntest.counter \"dir_a\" {}\n");
    let err = h.ctrl.reload().await.unwrap_err();
    let lines = err.one_line_each();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].contains("block test.counter.dir_a already declared at"),
        "{lines:?}"
    );
    assert!(lines[0].contains("c.alloy:2:1"), "{lines:?}");
    assert!(lines[0].contains("a.alloy:1:1"), "{lines:?}");
    h.ctrl.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn stability_gating_at_load() {
    let h = Harness::new_with(Stability::Experimental, false);
    h.write("test.experimental \"gate_ok\" {}\n");
    h.ctrl.load_initial().await.unwrap();
    h.ctrl.shutdown(Duration::from_secs(5)).await;

    let h = Harness::new();
    h.write("test.experimental \"gate_no\" {}\n");
    let err = h.ctrl.load_initial().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("is at stability level \"experimental\""),
        "{err}"
    );
}

#[tokio::test]
async fn build_failure_fails_the_load() {
    let h = Harness::new();
    h.write("local.file \"datadir\" {\n  filename = \"/nonexistent/file\"\n}\n");
    let err = h.ctrl.load_initial().await.unwrap_err();
    let text = err.render();
    assert!(
        text.contains("Failed to build component: failed to read file"),
        "{text}"
    );
}

#[tokio::test]
async fn reloading_the_same_config_changes_nothing() {
    let h = Harness::new();
    h.write(
        r#"
test.counter "same_a" { start = 2 }
test.sink "same_b" { input = test.counter.same_a.count }
tracing {
  sampling_fraction = 1
}
livedebugging {
  enabled = false
}
http { }
"#,
    );
    h.ctrl.load_initial().await.unwrap();
    support::wait_running(&["test.counter.same_a", "test.sink.same_b"]).await;
    let hash_before = metric_lines(&h.self_registry, "alloy_config_hash");
    h.ctrl.reload().await.unwrap();
    h.ctrl.reload().await.unwrap();
    assert_eq!(events_of("test.counter.same_a"), ["build start=2", "run"]);
    assert_eq!(events_of("test.sink.same_b"), ["build 2", "run"]);
    assert_eq!(
        metric_lines(&h.self_registry, "alloy_config_hash"),
        hash_before
    );
    assert_eq!(
        h.logging.lock().unwrap().len(),
        3,
        "on_logging after every load"
    );
    h.ctrl.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn evaluation_queue_drains_and_graph_connections_are_exported() {
    let h = Harness::new();
    h.write(
        r#"
test.counter "queue_a" {}
test.sink "queue_b" { input = test.counter.queue_a.count }
"#,
    );
    h.ctrl.load_initial().await.unwrap();
    support::wait_running(&["test.sink.queue_b"]).await;
    for n in 1..=20 {
        set_count("test.counter.queue_a", n);
    }
    assert!(
        eventually(5, || events_of("test.sink.queue_b")
            .contains(&"update 20".to_string()))
        .await
    );
    assert!(
        eventually(2, || {
            metric_lines(&h.self_registry, "alloy_component_evaluation_queue_size")
                == ["alloy_component_evaluation_queue_size{controller_id=\"\",controller_path=\"/\"} 0"]
        })
        .await,
        "{:?}",
        metric_lines(&h.self_registry, "alloy_component_evaluation_queue_size")
    );
    assert_eq!(
        metric_lines(&h.self_registry, "alloy_component_graph_connection"),
        ["alloy_component_graph_connection{controller_id=\"\",controller_path=\"/\",from=\"test.sink.queue_b\",to=\"test.counter.queue_a\"} 1"]
    );
    h.ctrl.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn shutdown_stops_every_component() {
    let h = Harness::new();
    h.write("test.sink \"down_a\" { input = 1 }\ntest.counter \"down_b\" {}\n");
    h.ctrl.load_initial().await.unwrap();
    support::wait_running(&["test.sink.down_a", "test.counter.down_b"]).await;
    h.ctrl.shutdown(Duration::from_secs(5)).await;
    assert_eq!(events_of("test.sink.down_a"), ["build 1", "run", "stop"]);
    assert_eq!(
        events_of("test.counter.down_b"),
        ["build start=0", "run", "stop"]
    );
    assert!(h.ctrl.components().is_empty());
}

#[tokio::test]
async fn component_options_carry_id_data_dir_and_labelled_registry() {
    let h = Harness::new();
    h.write("test.counter \"opts_a\" {}\n");
    h.ctrl.load_initial().await.unwrap();
    let opts = support::counter_opts("test.counter.opts_a");
    assert_eq!(opts.id, "test.counter.opts_a");
    assert_eq!(
        opts.data_dir,
        h.path().join("data").join("test.counter.opts_a")
    );
    let c = prometheus::IntCounter::new("test_things_total", "things").unwrap();
    opts.registry.register(Box::new(c.clone())).unwrap();
    c.inc_by(3);
    assert_eq!(
        metric_lines(&h.self_registry, "test_things_total"),
        ["test_things_total{component_id=\"test.counter.opts_a\",component_path=\"/\"} 3"]
    );
    h.ctrl.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn config_hash_follows_the_files_even_when_they_do_not_parse() {
    let h = Harness::new();
    let bad = "test.sink \"hash_a\" {\n";
    h.write(bad);
    assert!(h.ctrl.load_initial().await.is_err());
    use sha2::Digest;
    let want: String = sha2::Sha256::digest(bad.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        metric_lines(&h.self_registry, "alloy_config_hash"),
        [format!("alloy_config_hash{{sha256=\"{want}\"}} 1")]
    );
    std::fs::remove_file(h.path().join("config.alloy")).unwrap();
    let err = h.ctrl.reload().await.unwrap_err();
    assert!(err.to_string().starts_with("reading config path"), "{err}");
    assert_eq!(
        metric_lines(&h.self_registry, "alloy_config_hash"),
        [format!(
            "alloy_config_hash{{sha256=\"{}\"}} 1",
            "0".repeat(64)
        )]
    );
}
