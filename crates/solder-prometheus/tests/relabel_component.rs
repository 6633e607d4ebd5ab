//! `prometheus.relabel` driven the way the runtime drives it: Alloy config text is parsed,
//! evaluated against a scope holding test receivers, decoded by the registered builder, built
//! with real options, and fed through the exported `receiver`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use solder_core::consume::ConsumeError;
use solder_core::signals::metrics::{
    is_stale_nan, metrics_receiver_value, stale_nan, Exemplar, Labels, Metadata, MetricType,
    MetricsBatch, MetricsReceiver, MetricsReceiverRef, Sample,
};
use solder_core::{
    AnyArgs, Component, ComponentBuilder, ComponentOptions, ExportSink, HealthReporter, HostInfo,
    Typed,
};
use solder_prometheus::relabel::{PrometheusRelabel, RELABEL_RULES_TYPE};
use solder_syntax::ast::Stmt;
use solder_syntax::eval::eval_body;
use solder_syntax::parser::parse_file;
use solder_syntax::{Capsule, Diagnostics, FileId, Object, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

// ---- test doubles ---------------------------------------------------------------------------

/// Records every batch; fails every append while `fail` is set.
#[derive(Default)]
struct RecordingReceiver {
    batches: Mutex<Vec<MetricsBatch>>,
    fail: AtomicBool,
}

#[async_trait::async_trait]
impl MetricsReceiver for RecordingReceiver {
    async fn append(&self, batch: MetricsBatch) -> Result<(), ConsumeError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(ConsumeError::Permanent("receiver told to fail".into()));
        }
        self.batches.lock().unwrap().push(batch);
        Ok(())
    }
}

impl RecordingReceiver {
    fn samples(&self) -> Vec<Sample> {
        let batches = self.batches.lock().unwrap();
        batches.iter().flat_map(|b| b.samples.clone()).collect()
    }

    fn batch_count(&self) -> usize {
        self.batches.lock().unwrap().len()
    }
}

#[derive(Default)]
struct RecordingExports(Mutex<Vec<Value>>);

impl ExportSink for RecordingExports {
    fn publish(&self, exports: Value) {
        self.0.lock().unwrap().push(exports);
    }
}

impl RecordingExports {
    fn last(&self) -> Object {
        match self.0.lock().unwrap().last().cloned() {
            Some(Value::Object(o)) => o,
            other => panic!("no exports object published: {other:?}"),
        }
    }

    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// Two receivers, reachable from config as `sink.a` and `sink.b`.
struct Sinks {
    a: Arc<RecordingReceiver>,
    b: Arc<RecordingReceiver>,
    scope: Object,
}

fn sinks() -> Sinks {
    let a = Arc::new(RecordingReceiver::default());
    let b = Arc::new(RecordingReceiver::default());
    let mut sink = Object::new();
    sink.insert(
        "a".into(),
        metrics_receiver_value(a.clone() as MetricsReceiverRef),
    );
    sink.insert(
        "b".into(),
        metrics_receiver_value(b.clone() as MetricsReceiverRef),
    );
    let mut scope = Object::new();
    scope.insert("sink".into(), Value::Object(sink));
    Sinks { a, b, scope }
}

// ---- harness --------------------------------------------------------------------------------

fn decode(body: &str, scope: &Object) -> Result<AnyArgs, Diagnostics> {
    let src = format!("prometheus.relabel \"test\" {{\n{body}\n}}\n");
    let (file, diags) = parse_file(&src, FileId(0));
    assert!(!diags.has_errors(), "parse errors: {diags:?}");
    let Some(Stmt::Block(block)) = file.body.first() else {
        panic!("no block parsed")
    };
    let value = eval_body(&block.body, block.span, scope)?;
    Typed::<PrometheusRelabel>::new().decode(&value)
}

fn decode_err(body: &str) -> Vec<String> {
    let s = sinks();
    match decode(body, &s.scope) {
        Ok(_) => panic!("config decoded but should not have:\n{body}"),
        Err(d) => d.iter().map(|d| d.message.clone()).collect(),
    }
}

struct Harness {
    component: Arc<dyn Component>,
    exports: Arc<RecordingExports>,
    registry: prometheus::Registry,
    sinks: Sinks,
}

impl Harness {
    fn new(body: &str) -> Harness {
        let sinks = sinks();
        let args = decode(body, &sinks.scope).unwrap();
        let exports = Arc::new(RecordingExports::default());
        let registry = prometheus::Registry::new();
        let opts = ComponentOptions {
            id: "prometheus.relabel.test".into(),
            data_dir: std::env::temp_dir().join("solder-promrelabel-unused"),
            registry: registry.clone(),
            health: HealthReporter::new(),
            host: Arc::new(HostInfo {
                http_listen_addr: "127.0.0.1:12345".into(),
                http_memory_addr: "alloy.internal:12345".into(),
                hostname: "test-host".into(),
                self_registry: prometheus::Registry::new(),
            }),
            exports: exports.clone(),
        };
        let component = Typed::<PrometheusRelabel>::new().build(opts, args).unwrap();
        Harness {
            component,
            exports,
            registry,
            sinks,
        }
    }

    fn update(&self, body: &str) {
        let args = decode(body, &self.sinks.scope).unwrap();
        self.component.update(args).unwrap();
    }

    fn receiver(&self) -> MetricsReceiverRef {
        match self.exports.last().get("receiver") {
            Some(Value::Capsule(c)) => c.downcast_ref::<MetricsReceiverRef>().unwrap().clone(),
            other => panic!("no receiver export: {other:?}"),
        }
    }

    fn export_capsule(&self, name: &str) -> Capsule {
        match self.exports.last().get(name) {
            Some(Value::Capsule(c)) => c.clone(),
            other => panic!("no {name} export: {other:?}"),
        }
    }

    async fn send(&self, batch: MetricsBatch) -> Result<(), ConsumeError> {
        self.receiver().append(batch).await
    }

    /// A single-valued self-metric (counter, gauge, or a histogram's sample count).
    fn metric(&self, name: &str) -> f64 {
        let families = self.registry.gather();
        let family = families
            .iter()
            .find(|f| f.name() == name)
            .unwrap_or_else(|| panic!("metric {name} not registered"));
        let m = &family.get_metric()[0];
        match family.get_field_type() {
            prometheus::proto::MetricType::COUNTER => m.get_counter().get_value(),
            prometheus::proto::MetricType::GAUGE => m.get_gauge().get_value(),
            prometheus::proto::MetricType::HISTOGRAM => m.get_histogram().get_sample_count() as f64,
            other => panic!("{name}: unexpected type {other:?}"),
        }
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
    )
}

fn sample(pairs: &[(&str, &str)], value: f64) -> Sample {
    Sample {
        labels: labels(pairs),
        timestamp_ms: 1_700_000_000_000,
        value,
    }
}

fn batch(samples: Vec<Sample>) -> MetricsBatch {
    MetricsBatch {
        samples,
        ..MetricsBatch::default()
    }
}

// ---- relabeling -----------------------------------------------------------------------------

#[tokio::test]
async fn keep_drop_and_replace_on_metric_name() {
    struct Case {
        name: &'static str,
        rules: &'static str,
        input: &'static [(&'static str, &'static str)],
        want: Option<&'static [(&'static str, &'static str)]>,
    }
    let cases = [
        Case {
            name: "keep matching name",
            rules: r#"rule {
                source_labels = ["__name__"]
                regex = "up|http_.*"
                action = "keep"
            }"#,
            input: &[("__name__", "http_requests"), ("job", "api")],
            want: Some(&[("__name__", "http_requests"), ("job", "api")]),
        },
        Case {
            name: "keep drops a non-matching name (anchored regex)",
            rules: r#"rule {
                source_labels = ["__name__"]
                regex = "up"
                action = "keep"
            }"#,
            input: &[("__name__", "uptime"), ("job", "api")],
            want: None,
        },
        Case {
            name: "drop matching name",
            rules: r#"rule {
                source_labels = ["__name__"]
                regex = "go_.*"
                action = "drop"
            }"#,
            input: &[("__name__", "go_goroutines")],
            want: None,
        },
        Case {
            name: "replace renames the metric",
            rules: r#"rule {
                source_labels = ["__name__"]
                regex = "http_(.*)"
                target_label = "__name__"
                replacement = "api_${1}_total"
            }"#,
            input: &[("__name__", "http_requests"), ("job", "api")],
            want: Some(&[("__name__", "api_requests_total"), ("job", "api")]),
        },
        Case {
            name: "replace with a join of two labels",
            rules: r#"rule {
                source_labels = ["__name__", "job"]
                separator = "/"
                target_label = "origin"
            }"#,
            input: &[("__name__", "up"), ("job", "node")],
            want: Some(&[("__name__", "up"), ("job", "node"), ("origin", "up/node")]),
        },
        Case {
            name: "legacy name validation: a target expanding to a digit-first name is a no-op",
            rules: r#"rule {
                source_labels = ["job"]
                regex = "(.*)"
                target_label = "${1}"
                replacement = "v"
            }"#,
            input: &[("__name__", "up"), ("job", "9lives")],
            want: Some(&[("__name__", "up"), ("job", "9lives")]),
        },
        Case {
            name: "templated target expanding to a legacy-valid name is set",
            rules: r#"rule {
                source_labels = ["job"]
                regex = "(.*)"
                target_label = "${1}"
                replacement = "v"
            }"#,
            input: &[("__name__", "up"), ("job", "lives")],
            want: Some(&[("__name__", "up"), ("job", "lives"), ("lives", "v")]),
        },
        Case {
            name: "no rules forwards unchanged",
            rules: "",
            input: &[("__name__", "up")],
            want: Some(&[("__name__", "up")]),
        },
    ];
    for case in cases {
        let h = Harness::new(&format!("forward_to = [sink.a]\n{}", case.rules));
        h.send(batch(vec![sample(case.input, 1.0)])).await.unwrap();
        let got: Vec<Labels> = h.sinks.a.samples().into_iter().map(|s| s.labels).collect();
        let want: Vec<Labels> = case.want.into_iter().map(labels).collect();
        assert_eq!(got, want, "case: {}", case.name);
        if case.want.is_none() {
            assert_eq!(
                h.sinks.a.batch_count(),
                0,
                "{}: empty batch sent",
                case.name
            );
        }
        assert_eq!(h.metric("alloy_prometheus_relabel_metrics_processed"), 1.0);
        assert_eq!(
            h.metric("alloy_prometheus_relabel_metrics_written"),
            if case.want.is_some() { 1.0 } else { 0.0 },
            "case: {}",
            case.name
        );
    }
}

#[tokio::test]
async fn empty_label_set_is_dropped() {
    let h = Harness::new(
        r#"forward_to = [sink.a]
        rule {
            regex = "__name__|job"
            action = "labeldrop"
        }"#,
    );
    h.send(batch(vec![
        sample(&[("__name__", "up"), ("job", "a")], 1.0),
        sample(&[("__name__", "up"), ("job", "a"), ("env", "prod")], 1.0),
    ]))
    .await
    .unwrap();
    let got: Vec<Labels> = h.sinks.a.samples().into_iter().map(|s| s.labels).collect();
    assert_eq!(got, vec![labels(&[("env", "prod")])]);
    assert_eq!(h.metric("alloy_prometheus_relabel_metrics_written"), 1.0);
}

#[tokio::test]
async fn sample_values_and_timestamps_are_kept() {
    let h = Harness::new(
        r#"forward_to = [sink.a]
        rule {
            target_label = "env"
            replacement = "prod"
        }"#,
    );
    let mut s = sample(&[("__name__", "up")], 42.5);
    s.timestamp_ms = 123;
    h.send(batch(vec![s])).await.unwrap();
    let got = h.sinks.a.samples();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].value, 42.5);
    assert_eq!(got[0].timestamp_ms, 123);
    assert_eq!(
        got[0].labels,
        labels(&[("__name__", "up"), ("env", "prod")])
    );
}

// ---- fan-out --------------------------------------------------------------------------------

#[tokio::test]
async fn fans_out_to_every_receiver_and_propagates_errors() {
    let h = Harness::new("forward_to = [sink.a, sink.b]");
    h.send(batch(vec![sample(&[("__name__", "up")], 1.0)]))
        .await
        .unwrap();
    assert_eq!(h.sinks.a.samples().len(), 1);
    assert_eq!(h.sinks.b.samples().len(), 1);
    assert_eq!(h.metric("prometheus_forwarded_samples_total"), 1.0);
    assert_eq!(h.metric("prometheus_fanout_latency"), 1.0);

    h.sinks.b.fail.store(true, Ordering::SeqCst);
    let err = h
        .send(batch(vec![sample(&[("__name__", "up")], 2.0)]))
        .await
        .unwrap_err();
    assert_eq!(err, ConsumeError::Permanent("receiver told to fail".into()));
    // The healthy receiver still got its copy.
    assert_eq!(h.sinks.a.samples().len(), 2);
    assert_eq!(h.metric("prometheus_forwarded_samples_total"), 1.0);
}

#[tokio::test]
async fn fully_dropped_batch_does_not_reach_receivers() {
    let h = Harness::new(
        r#"forward_to = [sink.a]
        rule {
            action = "drop"
            source_labels = ["__name__"]
            regex = ".+"
        }"#,
    );
    h.sinks.a.fail.store(true, Ordering::SeqCst);
    // Nothing left to forward, so the failing receiver is never asked.
    h.send(batch(vec![sample(&[("__name__", "up")], 1.0)]))
        .await
        .unwrap();
    assert_eq!(h.metric("prometheus_fanout_latency"), 0.0);
}

// ---- cache ----------------------------------------------------------------------------------

#[tokio::test]
async fn repeated_series_hit_the_cache() {
    let h = Harness::new(
        r#"forward_to = [sink.a]
        rule {
            source_labels = ["__name__"]
            regex = "drop_me"
            action = "drop"
        }"#,
    );
    let kept = &[("__name__", "up"), ("job", "a")];
    let dropped = &[("__name__", "drop_me")];
    for _ in 0..3 {
        h.send(batch(vec![sample(kept, 1.0), sample(dropped, 1.0)]))
            .await
            .unwrap();
    }
    assert_eq!(h.metric("alloy_prometheus_relabel_metrics_processed"), 6.0);
    assert_eq!(h.metric("alloy_prometheus_relabel_cache_misses"), 2.0);
    assert_eq!(h.metric("alloy_prometheus_relabel_cache_hits"), 4.0);
    assert_eq!(h.metric("alloy_prometheus_relabel_cache_size"), 2.0);
    assert_eq!(h.metric("alloy_prometheus_relabel_metrics_written"), 3.0);
    // Cached drops stay dropped, cached keeps are still forwarded.
    assert_eq!(h.sinks.a.samples().len(), 3);
}

#[tokio::test]
async fn stale_marker_is_forwarded_then_evicts_the_cache_entry() {
    let h = Harness::new(
        r#"forward_to = [sink.a]
        rule {
            target_label = "env"
            replacement = "prod"
        }"#,
    );
    let series = &[("__name__", "up")];
    h.send(batch(vec![sample(series, 1.0)])).await.unwrap();
    assert_eq!(h.metric("alloy_prometheus_relabel_cache_size"), 1.0);
    h.send(batch(vec![sample(series, stale_nan())]))
        .await
        .unwrap();
    assert_eq!(h.metric("alloy_prometheus_relabel_cache_hits"), 1.0);
    assert_eq!(h.metric("alloy_prometheus_relabel_cache_deletes"), 1.0);
    assert_eq!(h.metric("alloy_prometheus_relabel_cache_size"), 0.0);
    let got = h.sinks.a.samples();
    assert_eq!(got.len(), 2);
    assert!(is_stale_nan(got[1].value), "stale marker must pass through");
    assert_eq!(
        got[1].labels,
        labels(&[("__name__", "up"), ("env", "prod")])
    );
    // Seen again: a miss, since the entry was evicted.
    h.send(batch(vec![sample(series, 1.0)])).await.unwrap();
    assert_eq!(h.metric("alloy_prometheus_relabel_cache_misses"), 2.0);
}

#[tokio::test]
async fn bounded_cache_stays_within_max_cache_size() {
    let h = Harness::new("forward_to = [sink.a]\nmax_cache_size = 3");
    for i in 0..20 {
        h.send(batch(vec![sample(&[("__name__", &format!("m{i}"))], 1.0)]))
            .await
            .unwrap();
        assert!(h.metric("alloy_prometheus_relabel_cache_size") <= 3.0);
    }
    assert_eq!(h.sinks.a.samples().len(), 20);
}

#[tokio::test]
async fn ttl_cache_mode_works() {
    let h = Harness::new(
        r#"forward_to = [sink.a]
        max_cache_size = 0
        cache_ttl = "5m""#,
    );
    let series = &[("__name__", "up")];
    h.send(batch(vec![sample(series, 1.0), sample(series, 2.0)]))
        .await
        .unwrap();
    assert_eq!(h.metric("alloy_prometheus_relabel_cache_hits"), 1.0);
    assert_eq!(
        h.metric("alloy_prometheus_relabel_cache_ttl_evictions"),
        0.0
    );
    assert_eq!(h.sinks.a.samples().len(), 2);
}

// ---- update and exports ---------------------------------------------------------------------

#[tokio::test]
async fn update_swaps_rules_and_clears_the_cache() {
    let h = Harness::new(
        r#"forward_to = [sink.a]
        rule {
            target_label = "v"
            replacement = "one"
        }"#,
    );
    let receiver_before = h.export_capsule("receiver");
    let rules_before = h.export_capsule("rules");
    assert_eq!(rules_before.type_name, RELABEL_RULES_TYPE);
    let series = &[("__name__", "up")];
    h.send(batch(vec![sample(series, 1.0)])).await.unwrap();
    assert_eq!(h.metric("alloy_prometheus_relabel_cache_size"), 1.0);

    h.update(
        r#"forward_to = [sink.b]
        rule {
            target_label = "v"
            replacement = "two"
        }"#,
    );
    assert_eq!(h.metric("alloy_prometheus_relabel_cache_size"), 0.0);
    // The receiver is the very same capsule; the rules are new.
    assert!(h.export_capsule("receiver") == receiver_before);
    assert!(h.export_capsule("rules") != rules_before);
    let rules = h.export_capsule("rules");
    let rules = rules
        .downcast_ref::<Vec<solder_core::relabel::Rule>>()
        .unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].replacement, "two");

    // The old receiver handle (held by an upstream component) uses the new rules and targets.
    let upstream = receiver_before
        .downcast_ref::<MetricsReceiverRef>()
        .unwrap()
        .clone();
    upstream
        .append(batch(vec![sample(series, 1.0)]))
        .await
        .unwrap();
    assert_eq!(h.metric("alloy_prometheus_relabel_cache_misses"), 2.0);
    assert_eq!(h.sinks.a.samples().len(), 1);
    let got = h.sinks.b.samples();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].labels, labels(&[("__name__", "up"), ("v", "two")]));
}

#[tokio::test]
async fn update_with_same_rules_keeps_the_cache_and_rules_capsule() {
    let body = r#"forward_to = [sink.a]
        rule {
            target_label = "v"
            replacement = "one"
        }"#;
    let h = Harness::new(body);
    h.send(batch(vec![sample(&[("__name__", "up")], 1.0)]))
        .await
        .unwrap();
    let rules_before = h.export_capsule("rules");
    h.update(body);
    assert_eq!(h.exports.count(), 2, "update republishes exports");
    assert!(h.export_capsule("rules") == rules_before);
    assert_eq!(h.metric("alloy_prometheus_relabel_cache_size"), 1.0);
}

#[tokio::test]
async fn appends_fail_after_the_component_exits() {
    let h = Harness::new("forward_to = [sink.a]");
    let token = CancellationToken::new();
    let run = tokio::spawn(h.component.clone().run(token.clone()));
    h.send(batch(vec![sample(&[("__name__", "up")], 1.0)]))
        .await
        .unwrap();
    token.cancel();
    run.await.unwrap().unwrap();
    let err = h
        .send(batch(vec![sample(&[("__name__", "up")], 1.0)]))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("prometheus.relabel.test has exited"),
        "{err}"
    );
}

// ---- exemplars and metadata -----------------------------------------------------------------

#[tokio::test]
async fn exemplars_follow_their_series_and_metadata_passes_through() {
    let h = Harness::new(
        r#"forward_to = [sink.a]
        rule {
            source_labels = ["__name__"]
            regex = "secret_.*"
            action = "drop"
        }
        rule {
            target_label = "cluster"
            replacement = "eu"
        }"#,
    );
    let exemplar = |name: &str| Exemplar {
        series: labels(&[("__name__", name)]),
        labels: labels(&[("trace_id", "abc")]),
        timestamp_ms: 5,
        value: 0.25,
    };
    let metadata = Metadata {
        metric_family: "http_requests".into(),
        kind: MetricType::Counter,
        help: "Requests.".into(),
        unit: String::new(),
    };
    h.send(MetricsBatch {
        samples: vec![],
        exemplars: vec![exemplar("http_requests_total"), exemplar("secret_total")],
        metadata: vec![metadata.clone()],
    })
    .await
    .unwrap();
    let batches = h.sinks.a.batches.lock().unwrap().clone();
    assert_eq!(batches.len(), 1);
    assert_eq!(
        batches[0].exemplars,
        vec![Exemplar {
            series: labels(&[("__name__", "http_requests_total"), ("cluster", "eu")]),
            ..exemplar("http_requests_total")
        }]
    );
    assert_eq!(batches[0].metadata, vec![metadata]);
    assert_eq!(h.metric("alloy_prometheus_relabel_metrics_processed"), 2.0);
}

// ---- argument validation --------------------------------------------------------------------

#[test]
fn cache_argument_validation() {
    let cases: &[(&str, Option<&str>)] = &[
        ("", None),
        ("max_cache_size = 10", None),
        ("max_cache_size = 0\ncache_ttl = \"1m\"", None),
        ("max_cache_size = 0\ncache_ttl = \"2h\"", None),
        (
            "max_cache_size = -1",
            Some("max_cache_size must be >= 0; got -1"),
        ),
        (
            "cache_ttl = \"5m\"",
            Some("max_cache_size and cache_ttl are mutually exclusive: set max_cache_size = 0 to use cache_ttl, or unset cache_ttl to keep the bounded LRU cache"),
        ),
        (
            "max_cache_size = 0",
            Some("one of max_cache_size or cache_ttl must be set"),
        ),
        (
            "max_cache_size = 0\ncache_ttl = \"30s\"",
            Some("cache_ttl must be at least 1m0s when set; got 30s"),
        ),
    ];
    for (extra, want) in cases {
        let body = format!("forward_to = [sink.a]\n{extra}");
        let s = sinks();
        match (decode(&body, &s.scope), want) {
            (Ok(_), None) => {}
            (Err(d), Some(want)) => {
                let messages: Vec<String> = d.iter().map(|d| d.message.clone()).collect();
                assert_eq!(messages, vec![want.to_string()], "config: {extra}");
            }
            (Ok(_), Some(want)) => panic!("{extra}: decoded, want error {want}"),
            (Err(d), None) => panic!("{extra}: unexpected error {d:?}"),
        }
    }
}

#[test]
fn unknown_attributes_and_missing_forward_to_are_rejected() {
    let messages = decode_err("forward_to = [sink.a]\nmax_cache = 10");
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].contains("max_cache"), "{messages:?}");

    let messages = decode_err("max_cache_size = 10");
    assert!(
        messages.iter().any(|m| m.contains("forward_to")),
        "{messages:?}"
    );

    let messages = decode_err("forward_to = [sink.a]\nrule {\n action = \"nope\"\n}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains(r#"unrecognized action type "nope""#)),
        "{messages:?}"
    );

    let messages = decode_err("forward_to = [\"not a receiver\"]");
    assert!(
        messages.iter().any(|m| m.contains("capsule")),
        "{messages:?}"
    );
}

#[test]
fn exports_are_published_in_build() {
    let h = Harness::new("forward_to = []");
    assert_eq!(h.exports.count(), 1);
    let exports = h.exports.last();
    let keys: Vec<&String> = exports.keys().collect();
    assert_eq!(keys, ["receiver", "rules"]);
    assert_eq!(
        h.export_capsule("receiver").type_name,
        solder_core::signals::metrics::METRICS_RECEIVER_CAPSULE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_and_updates_do_not_block_or_lose_data() {
    let h = Arc::new(Harness::new("forward_to = [sink.a]"));
    let mut tasks = Vec::new();
    for t in 0..4 {
        let receiver = h.receiver();
        tasks.push(tokio::spawn(async move {
            for i in 0..200 {
                let name = format!("m{}", (t * 200 + i) % 50);
                receiver
                    .append(batch(vec![sample(&[("__name__", &name)], 1.0)]))
                    .await
                    .unwrap();
            }
        }));
    }
    for i in 0..20 {
        let replacement = if i % 2 == 0 { "x" } else { "y" };
        h.update(&format!(
            "forward_to = [sink.a]\nrule {{\n target_label = \"v\"\n replacement = \"{replacement}\"\n}}"
        ));
        tokio::task::yield_now().await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(h.sinks.a.samples().len(), 800);
    assert_eq!(h.metric("alloy_prometheus_relabel_metrics_written"), 800.0);
}
