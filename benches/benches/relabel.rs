#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Relabel engine throughput.
//!
//! - `targets/pod_logs_6`: the six `discovery.relabel "pod_logs"` rules of alloy-spec.md
//!   Appendix A over Kubernetes pod targets with 40 `__meta_kubernetes_*` labels each.
//! - `targets/pod_discovery_10`: a typical ten-rule pod-discovery set (Appendix A's keep on the
//!   scrape annotation and address rewrite, the log-path rules, a labelmap of pod labels and a
//!   labeldrop). Half the targets carry `prometheus.io/scrape: "true"`, so half are dropped.
//! - `series/metric_relabel_6`: `prometheus.relabel`-style rules over sorted series label
//!   vectors (legacy name validation), a quarter of which are dropped by name;
//!   `metric_relabel_6_cow` runs the same over shared labels through `CowLabels` (no setup copy).
//! - `per_rule/ruleN`: each `pod_discovery_10` rule alone over 1,000 targets; `per_rule/none`
//!   is the loop overhead.
//!
//! Each iteration relabels a fresh copy of N label sets (copying is done in the untimed setup,
//! except for the `_cow` case), so element throughput is label sets per second.

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use solder_core::relabel::{
    process_labels, process_labels_with, Action, CowLabels, NameValidation, Regex, Rule,
};

/// Shorthand for building rules as a config would (then validated, as decoding does).
fn rule(action: Action, sources: &[&str], target: &str) -> Rule {
    Rule {
        action,
        source_labels: (!sources.is_empty())
            .then(|| sources.iter().map(|s| s.to_string()).collect()),
        target_label: target.to_owned(),
        ..Rule::default()
    }
}

fn with(
    mut r: Rule,
    regex: Option<&str>,
    separator: Option<&str>,
    replacement: Option<&str>,
) -> Rule {
    if let Some(re) = regex {
        r.regex = Regex::new(re).unwrap();
    }
    if let Some(sep) = separator {
        r.separator = sep.to_owned();
    }
    if let Some(rep) = replacement {
        r.replacement = rep.to_owned();
    }
    r.validate().unwrap();
    r
}

const CONTAINER_RUNTIME: &str = r"^(\S+):\/\/.+$";

/// The six `discovery.relabel "pod_logs"` rules of Appendix A.
fn pod_logs_rules() -> Vec<Rule> {
    use Action::Replace;
    vec![
        with(
            rule(Replace, &["__meta_kubernetes_namespace"], "namespace"),
            None,
            None,
            None,
        ),
        with(
            rule(Replace, &["__meta_kubernetes_pod_name"], "pod"),
            None,
            None,
            None,
        ),
        with(
            rule(
                Replace,
                &["__meta_kubernetes_pod_container_name"],
                "container",
            ),
            None,
            None,
            None,
        ),
        with(
            rule(
                Replace,
                &[
                    "__meta_kubernetes_namespace",
                    "__meta_kubernetes_pod_container_name",
                ],
                "job",
            ),
            None,
            Some("/"),
            None,
        ),
        with(
            rule(
                Replace,
                &[
                    "__meta_kubernetes_pod_uid",
                    "__meta_kubernetes_pod_container_name",
                ],
                "__path__",
            ),
            None,
            Some("/"),
            Some("/var/log/pods/*$1/*.log"),
        ),
        with(
            rule(
                Replace,
                &["__meta_kubernetes_pod_container_id"],
                "container_runtime",
            ),
            Some(CONTAINER_RUNTIME),
            None,
            None,
        ),
    ]
}

/// Ten rules: Appendix A's `pod_metrics` keep and address rewrite, a phase drop, the common
/// copies, a labelmap of pod labels and a labeldrop.
fn pod_discovery_rules() -> Vec<Rule> {
    use Action::*;
    vec![
        with(
            rule(
                Keep,
                &["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
                "",
            ),
            Some("true"),
            None,
            None,
        ),
        with(
            rule(Drop, &["__meta_kubernetes_pod_phase"], ""),
            Some("Succeeded|Failed"),
            None,
            None,
        ),
        with(
            rule(
                Replace,
                &[
                    "__address__",
                    "__meta_kubernetes_pod_annotation_prometheus_io_port",
                ],
                "__address__",
            ),
            Some(r"(.+?)(?::\d+)?;(\d+)"),
            None,
            Some("$1:$2"),
        ),
        with(
            rule(Replace, &["__meta_kubernetes_namespace"], "namespace"),
            None,
            None,
            None,
        ),
        with(
            rule(Replace, &["__meta_kubernetes_pod_name"], "pod"),
            None,
            None,
            None,
        ),
        with(
            rule(
                Replace,
                &["__meta_kubernetes_pod_container_name"],
                "container",
            ),
            None,
            None,
            None,
        ),
        with(
            rule(
                Replace,
                &[
                    "__meta_kubernetes_namespace",
                    "__meta_kubernetes_pod_container_name",
                ],
                "job",
            ),
            None,
            Some("/"),
            None,
        ),
        with(
            rule(
                Replace,
                &["__meta_kubernetes_pod_container_id"],
                "container_runtime",
            ),
            Some(CONTAINER_RUNTIME),
            None,
            None,
        ),
        with(
            rule(LabelMap, &[], ""),
            Some("__meta_kubernetes_pod_label_(.+)"),
            None,
            None,
        ),
        with(
            rule(LabelDrop, &[], ""),
            Some("pod_template_hash|controller_revision_hash"),
            None,
            None,
        ),
    ]
}

/// `prometheus.relabel`-style rules for scraped series.
fn series_rules() -> Vec<Rule> {
    use Action::*;
    vec![
        with(
            rule(Drop, &["__name__"], ""),
            Some("go_gc_.*|process_.*"),
            None,
            None,
        ),
        with(
            rule(Drop, &["__name__", "le"], ""),
            Some(r"http_request_duration_seconds_bucket;(0\.005|0\.01)"),
            None,
            None,
        ),
        with(
            rule(LabelDrop, &[], ""),
            Some("id|uid|image_id"),
            None,
            None,
        ),
        with(rule(Replace, &[], "cluster"), None, None, Some("prod")),
        with(
            rule(Replace, &["namespace", "pod"], "workload"),
            None,
            Some("/"),
            None,
        ),
        with(
            rule(Replace, &["instance"], "host"),
            Some(r"(.+):\d+"),
            None,
            None,
        ),
    ]
}

/// A pod target as `discovery.kubernetes` (role = "pod") produces it: 40 labels.
fn pod_target(i: usize) -> BTreeMap<String, String> {
    let ns = format!("team-{}", i % 37);
    let pod = format!("web-{:x}-{}", i * 2_654_435_761 % 0xffff_ffff, i);
    let mut t = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        t.insert(k.to_owned(), v);
    };
    put(
        "__address__",
        format!("10.{}.{}.{}:8080", i / 65_536 % 256, i / 256 % 256, i % 256),
    );
    put("__meta_kubernetes_namespace", ns);
    put("__meta_kubernetes_pod_name", pod.clone());
    put(
        "__meta_kubernetes_pod_uid",
        format!("4c586419-7f6c-448d-aeec-{i:012x}"),
    );
    put(
        "__meta_kubernetes_pod_ip",
        format!("10.132.{}.{}", i / 256 % 256, i % 256),
    );
    put("__meta_kubernetes_pod_host_ip", "10.128.0.178".to_owned());
    put(
        "__meta_kubernetes_pod_node_name",
        "gke-prod-main-n2s8-2-14d53341-9hkr".to_owned(),
    );
    put("__meta_kubernetes_pod_phase", "Running".to_owned());
    put("__meta_kubernetes_pod_ready", "true".to_owned());
    put(
        "__meta_kubernetes_pod_container_name",
        format!("app-{}", i % 5),
    );
    put(
        "__meta_kubernetes_pod_container_id",
        format!("containerd://{:064x}", i * 7919),
    );
    put(
        "__meta_kubernetes_pod_container_image",
        "registry.example.com/web:1.2.3".to_owned(),
    );
    put("__meta_kubernetes_pod_container_init", "false".to_owned());
    put(
        "__meta_kubernetes_pod_container_port_name",
        "http-metrics".to_owned(),
    );
    put(
        "__meta_kubernetes_pod_container_port_number",
        "8080".to_owned(),
    );
    put(
        "__meta_kubernetes_pod_container_port_protocol",
        "TCP".to_owned(),
    );
    put(
        "__meta_kubernetes_pod_controller_kind",
        "ReplicaSet".to_owned(),
    );
    put(
        "__meta_kubernetes_pod_controller_name",
        format!("web-{}", i % 97),
    );
    put(
        "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
        (if i.is_multiple_of(2) { "true" } else { "false" }).to_owned(),
    );
    put(
        "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape",
        "true".to_owned(),
    );
    put(
        "__meta_kubernetes_pod_annotation_prometheus_io_port",
        "9102".to_owned(),
    );
    put(
        "__meta_kubernetes_pod_annotationpresent_prometheus_io_port",
        "true".to_owned(),
    );
    put(
        "__meta_kubernetes_pod_annotation_prometheus_io_path",
        "/metrics".to_owned(),
    );
    put(
        "__meta_kubernetes_pod_annotationpresent_prometheus_io_path",
        "true".to_owned(),
    );
    put(
        "__meta_kubernetes_pod_annotation_kubectl_kubernetes_io_default_container",
        "app".to_owned(),
    );
    put(
        "__meta_kubernetes_pod_annotationpresent_kubectl_kubernetes_io_default_container",
        "true".to_owned(),
    );
    put("__meta_kubernetes_pod_label_app", "web".to_owned());
    put("__meta_kubernetes_pod_labelpresent_app", "true".to_owned());
    put(
        "__meta_kubernetes_pod_label_app_kubernetes_io_name",
        "web".to_owned(),
    );
    put(
        "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name",
        "true".to_owned(),
    );
    put(
        "__meta_kubernetes_pod_label_app_kubernetes_io_instance",
        format!("web-{}", i % 13),
    );
    put(
        "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_instance",
        "true".to_owned(),
    );
    put(
        "__meta_kubernetes_pod_label_pod_template_hash",
        format!("{:x}", i * 31),
    );
    put(
        "__meta_kubernetes_pod_labelpresent_pod_template_hash",
        "true".to_owned(),
    );
    put("__meta_kubernetes_pod_label_version", "v1".to_owned());
    put(
        "__meta_kubernetes_pod_labelpresent_version",
        "true".to_owned(),
    );
    put("__meta_kubernetes_pod_label_tier", "frontend".to_owned());
    put("__meta_kubernetes_pod_labelpresent_tier", "true".to_owned());
    put("__meta_kubernetes_pod_label_team", "payments".to_owned());
    put("__meta_kubernetes_pod_labelpresent_team", "true".to_owned());
    t
}

/// A scraped series: sorted labels, about a dozen of them.
fn series(i: usize) -> Vec<(String, String)> {
    let names = [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "go_gc_duration_seconds",
        "container_cpu_usage_seconds_total",
    ];
    let mut s = vec![
        ("__name__".to_owned(), names[i % 4].to_owned()),
        ("container".to_owned(), format!("app-{}", i % 5)),
        ("endpoint".to_owned(), "http-metrics".to_owned()),
        ("id".to_owned(), format!("/kubepods/burstable/pod{i:08x}")),
        (
            "instance".to_owned(),
            format!("10.132.{}.{}:9102", i / 256 % 256, i % 256),
        ),
        ("job".to_owned(), "kubernetes-pods".to_owned()),
        (
            "le".to_owned(),
            ["0.005", "0.1", "1", "+Inf"][i % 4].to_owned(),
        ),
        ("method".to_owned(), "GET".to_owned()),
        ("namespace".to_owned(), format!("team-{}", i % 37)),
        ("pod".to_owned(), format!("web-{i}")),
        ("service".to_owned(), "web".to_owned()),
        ("status".to_owned(), "200".to_owned()),
    ];
    s.sort();
    s
}

fn kept_targets(rules: &[Rule], targets: &[BTreeMap<String, String>]) -> usize {
    let mut copy = targets.to_vec();
    let kept = copy
        .iter_mut()
        .map(|t| process_labels(rules, t))
        .filter(|kept| *kept)
        .count();
    let first = &copy[0];
    assert_eq!(first.get("namespace").map(String::as_str), Some("team-0"));
    assert_eq!(
        first.get("container_runtime").map(String::as_str),
        Some("containerd")
    );
    kept
}

fn bench_targets(c: &mut Criterion) {
    let mut group = c.benchmark_group("targets");
    group.sample_size(20);
    for (name, rules) in [
        ("pod_logs_6", pod_logs_rules()),
        ("pod_discovery_10", pod_discovery_rules()),
    ] {
        for n in [1_000usize, 10_000] {
            let targets: Vec<_> = (0..n).map(pod_target).collect();
            let expected = if name == "pod_logs_6" { n } else { n / 2 };
            assert_eq!(
                kept_targets(&rules, &targets),
                expected,
                "{name} keeps what it should"
            );
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new(name, n), &targets, |b, targets| {
                b.iter_batched(
                    || targets.clone(),
                    |mut batch| {
                        let mut kept = 0usize;
                        for t in &mut batch {
                            kept += usize::from(process_labels(&rules, t));
                        }
                        (kept, batch)
                    },
                    BatchSize::LargeInput,
                );
            });
        }
    }
    group.finish();
}

fn bench_series(c: &mut Criterion) {
    let mut group = c.benchmark_group("series");
    group.sample_size(20);
    let rules = series_rules();
    let n = 10_000usize;
    let all: Vec<_> = (0..n).map(series).collect();
    let mut check = all.clone();
    let kept = check
        .iter_mut()
        .map(|s| process_labels_with(&rules, s, NameValidation::Legacy))
        .filter(|kept| *kept)
        .count();
    assert_eq!(kept, n * 3 / 4, "go_gc_* series are dropped");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_with_input(BenchmarkId::new("metric_relabel_6", n), &all, |b, all| {
        b.iter_batched(
            || all.clone(),
            |mut batch| {
                let mut kept = 0usize;
                for s in &mut batch {
                    kept += usize::from(process_labels_with(&rules, s, NameValidation::Legacy));
                }
                (kept, batch)
            },
            BatchSize::LargeInput,
        );
    });
    // prometheus.relabel over shared labels: a copy-on-write view, copied only when changed.
    group.bench_with_input(
        BenchmarkId::new("metric_relabel_6_cow", n),
        &all,
        |b, all| {
            b.iter(|| {
                let mut kept = 0usize;
                let mut changed = 0usize;
                for s in all {
                    let mut view = CowLabels::new(&s[..]);
                    if process_labels_with(&rules, &mut view, NameValidation::Legacy) {
                        kept += 1;
                        changed += usize::from(view.into_changed().is_some());
                    }
                }
                (kept, changed)
            });
        },
    );
    group.finish();
}

/// Each `pod_discovery_10` rule alone over 1,000 targets, to show where the time goes.
fn bench_per_rule(c: &mut Criterion) {
    let mut group = c.benchmark_group("per_rule");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1000));
    let targets: Vec<_> = (0..1000).map(pod_target).collect();
    for (i, r) in pod_discovery_rules().into_iter().enumerate() {
        let rules = vec![r];
        group.bench_function(format!("rule{i}"), |b| {
            b.iter_batched(
                || targets.clone(),
                |mut batch| {
                    for t in &mut batch {
                        process_labels(&rules, t);
                    }
                    batch
                },
                BatchSize::LargeInput,
            );
        });
    }
    group.bench_function("none", |b| {
        b.iter_batched(
            || targets.clone(),
            |mut batch| {
                for t in &mut batch {
                    process_labels(&[], t);
                }
                batch
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}
criterion_group!(benches, bench_targets, bench_series, bench_per_rule);
criterion_main!(benches);
