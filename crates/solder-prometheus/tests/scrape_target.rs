#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Target population, URL building, durations, hashing and offsets of `prometheus.scrape`,
//! checked against Prometheus 3's `PopulateLabels`/`Target.URL`/`Target.offset` behaviour.

use solder_core::signals::metrics::Labels;
use solder_prometheus::scrape::target::{
    format_prometheus_duration, parse_prometheus_duration, populate_target, DurationError,
    ScrapeTarget, TargetDefaults, TargetError,
};
use solder_prometheus::scrape::{first_scrape_delay, offset_seed, scrape_offset, target_hash};
use std::collections::BTreeMap;
use std::time::Duration;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn defaults() -> TargetDefaults {
    TargetDefaults {
        job_name: "prometheus.scrape.default".to_string(),
        ..TargetDefaults::default()
    }
}

fn populate(pairs: &[(&str, &str)], defaults: &TargetDefaults) -> ScrapeTarget {
    populate_target(&map(pairs), defaults)
        .expect("valid target")
        .expect("target kept")
}

fn labels_of(t: &ScrapeTarget) -> Vec<(String, String)> {
    t.labels.to_vec()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn error_of(pairs: &[(&str, &str)], defaults: &TargetDefaults) -> TargetError {
    populate_target(&map(pairs), defaults).expect_err("target must be rejected")
}

#[test]
fn defaults_are_applied() {
    let t = populate(&[("__address__", "localhost:9090")], &defaults());
    assert_eq!(
        labels_of(&t),
        owned(&[
            ("instance", "localhost:9090"),
            ("job", "prometheus.scrape.default")
        ])
    );
    assert_eq!(t.url, "http://localhost:9090/metrics");
    assert_eq!(t.interval, Duration::from_secs(60));
    assert_eq!(t.timeout, Duration::from_secs(10));
    assert_eq!(t.discovered, map(&[("__address__", "localhost:9090")]));
}

#[test]
fn per_target_overrides_win() {
    let t = populate(
        &[
            ("__address__", "node:9100"),
            ("__scheme__", "https"),
            ("__metrics_path__", "/probe"),
            ("__scrape_interval__", "30s"),
            ("__scrape_timeout__", "5s"),
            ("job", "node"),
            ("instance", "node-1"),
        ],
        &defaults(),
    );
    assert_eq!(
        labels_of(&t),
        owned(&[("instance", "node-1"), ("job", "node")])
    );
    assert_eq!(t.url, "https://node:9100/probe");
    assert_eq!(t.interval, Duration::from_secs(30));
    assert_eq!(t.timeout, Duration::from_secs(5));
}

#[test]
fn configured_scheme_path_and_interval_apply() {
    let d = TargetDefaults {
        scheme: "https".into(),
        metrics_path: "/federate".into(),
        scrape_interval: Duration::from_secs(15),
        scrape_timeout: Duration::from_millis(1500),
        ..defaults()
    };
    let t = populate(&[("__address__", "h:1")], &d);
    assert_eq!(t.url, "https://h:1/federate");
    assert_eq!(t.interval, Duration::from_secs(15));
    assert_eq!(t.timeout, Duration::from_millis(1500));
}

#[test]
fn empty_job_name_leaves_job_unset() {
    let d = TargetDefaults::default();
    let t = populate(&[("__address__", "h:1")], &d);
    assert_eq!(labels_of(&t), owned(&[("instance", "h:1")]));
}

#[test]
fn params_merge_and_are_encoded() {
    let mut params = BTreeMap::new();
    params.insert(
        "module".to_string(),
        vec!["http_2xx".to_string(), "second".to_string()],
    );
    params.insert("target".to_string(), vec!["a b&c=d/é".to_string()]);
    let d = TargetDefaults {
        params,
        ..defaults()
    };
    let t = populate(&[("__address__", "blackbox:9115")], &d);
    // Keys sorted, every value of a multi-valued param kept, query-component escaping.
    assert_eq!(
        t.url,
        "http://blackbox:9115/metrics?module=http_2xx&module=second&target=a+b%26c%3Dd%2F%C3%A9"
    );
    // `__param_*` labels are internal: not public.
    assert_eq!(
        labels_of(&t),
        owned(&[
            ("instance", "blackbox:9115"),
            ("job", "prometheus.scrape.default")
        ])
    );
}

#[test]
fn param_label_overrides_first_configured_value() {
    let mut params = BTreeMap::new();
    params.insert(
        "module".to_string(),
        vec!["http_2xx".to_string(), "second".to_string()],
    );
    let d = TargetDefaults {
        params,
        ..defaults()
    };
    let t = populate(
        &[("__address__", "bb:9115"), ("__param_module", "icmp")],
        &d,
    );
    assert_eq!(t.url, "http://bb:9115/metrics?module=icmp&module=second");
}

#[test]
fn param_label_without_config_adds_a_param() {
    let t = populate(
        &[
            ("__address__", "bb:9115"),
            ("__param_target", "https://example.com/x?y=1"),
        ],
        &defaults(),
    );
    assert_eq!(
        t.url,
        "http://bb:9115/metrics?target=https%3A%2F%2Fexample.com%2Fx%3Fy%3D1"
    );
}

#[test]
fn param_with_no_values_adds_nothing() {
    let mut params = BTreeMap::new();
    params.insert("empty".to_string(), Vec::new());
    let d = TargetDefaults {
        params,
        ..defaults()
    };
    let t = populate(&[("__address__", "h:1")], &d);
    assert_eq!(t.url, "http://h:1/metrics");
}

#[test]
fn path_is_escaped_like_go() {
    let t = populate(
        &[
            ("__address__", "h:1"),
            ("__metrics_path__", "/a b/c?d!e@f:g=h"),
        ],
        &defaults(),
    );
    assert_eq!(t.url, "http://h:1/a%20b/c%3Fd%21e@f:g=h");
}

#[test]
fn path_without_leading_slash_gets_one() {
    let t = populate(
        &[("__address__", "h:1"), ("__metrics_path__", "stats")],
        &defaults(),
    );
    assert_eq!(t.url, "http://h:1/stats");
}

#[test]
fn ipv6_address_is_kept_verbatim_and_no_port_is_added() {
    let t = populate(&[("__address__", "[::1]:9090")], &defaults());
    assert_eq!(t.url, "http://[::1]:9090/metrics");
    // Prometheus 3 adds no default port.
    let t = populate(
        &[("__address__", "example.com"), ("__scheme__", "https")],
        &defaults(),
    );
    assert_eq!(t.url, "https://example.com/metrics");
    assert_eq!(t.labels.get("instance"), Some("example.com"));
}

#[test]
fn instance_defaults_to_address() {
    let t = populate(&[("__address__", "10.0.0.1:8080")], &defaults());
    assert_eq!(t.labels.get("instance"), Some("10.0.0.1:8080"));
    let t = populate(
        &[("__address__", "10.0.0.1:8080"), ("instance", "")],
        &defaults(),
    );
    assert_eq!(t.labels.get("instance"), Some("10.0.0.1:8080"));
}

#[test]
fn reserved_labels_are_dropped() {
    let t = populate(
        &[
            ("__address__", "h:1"),
            ("__meta_kubernetes_pod_name", "p"),
            ("__tmp_keep", "x"),
            ("__custom__", "y"),
            ("_single", "kept"),
            ("team", "a"),
        ],
        &defaults(),
    );
    assert_eq!(
        labels_of(&t),
        owned(&[
            ("_single", "kept"),
            ("instance", "h:1"),
            ("job", "prometheus.scrape.default"),
            ("team", "a")
        ])
    );
    // The discovered set is kept whole.
    assert_eq!(t.discovered.get("__meta_kubernetes_pod_name").unwrap(), "p");
}

#[test]
fn empty_values_are_dropped_and_defaulted() {
    let t = populate(
        &[
            ("__address__", "h:1"),
            ("team", ""),
            ("job", ""),
            ("__scheme__", ""),
            ("__metrics_path__", ""),
        ],
        &defaults(),
    );
    assert_eq!(
        labels_of(&t),
        owned(&[("instance", "h:1"), ("job", "prometheus.scrape.default")])
    );
    assert_eq!(t.url, "http://h:1/metrics");
}

#[test]
fn missing_or_empty_address_is_an_error() {
    let err = error_of(&[("job", "x")], &defaults());
    assert_eq!(err, TargetError::NoAddress);
    assert_eq!(err.to_string(), "no address");
    assert_eq!(
        error_of(&[("__address__", "")], &defaults()),
        TargetError::NoAddress
    );
    assert_eq!(error_of(&[], &defaults()), TargetError::NoAddress);
}

#[test]
fn address_with_slash_is_rejected() {
    let err = error_of(&[("__address__", "http://h:1")], &defaults());
    assert_eq!(err.to_string(), "\"http://h:1\" is not a valid hostname");
}

#[test]
fn bad_interval_and_timeout_strings() {
    let err = error_of(
        &[("__address__", "h:1"), ("__scrape_interval__", "abc")],
        &defaults(),
    );
    assert_eq!(
        err.to_string(),
        "error parsing scrape interval: not a valid duration string: \"abc\""
    );
    let err = error_of(
        &[("__address__", "h:1"), ("__scrape_timeout__", "1.5s")],
        &defaults(),
    );
    assert_eq!(
        err.to_string(),
        "error parsing scrape timeout: unknown unit \".\" in duration \"1.5s\""
    );
    let err = error_of(
        &[("__address__", "h:1"), ("__scrape_interval__", "0")],
        &defaults(),
    );
    assert_eq!(err, TargetError::ZeroInterval);
    assert_eq!(err.to_string(), "scrape interval cannot be 0");
    let err = error_of(
        &[("__address__", "h:1"), ("__scrape_timeout__", "0s")],
        &defaults(),
    );
    assert_eq!(err.to_string(), "scrape timeout cannot be 0");
}

#[test]
fn timeout_greater_than_interval_is_an_error() {
    let err = error_of(
        &[
            ("__address__", "h:1"),
            ("__scrape_interval__", "10s"),
            ("__scrape_timeout__", "20s"),
        ],
        &defaults(),
    );
    assert_eq!(
        err.to_string(),
        "scrape timeout cannot be greater than scrape interval (\"20s\" > \"10s\")"
    );
    // From the defaults: the message shows the formatted default labels.
    let d = TargetDefaults {
        scrape_interval: Duration::from_secs(5),
        ..defaults()
    };
    let err = error_of(&[("__address__", "h:1")], &d);
    assert_eq!(
        err.to_string(),
        "scrape timeout cannot be greater than scrape interval (\"10s\" > \"5s\")"
    );
    // Equal is allowed.
    let t = populate(
        &[
            ("__address__", "h:1"),
            ("__scrape_interval__", "10s"),
            ("__scrape_timeout__", "10s"),
        ],
        &defaults(),
    );
    assert_eq!(t.timeout, t.interval);
}

#[test]
fn honor_labels_does_not_change_population() {
    let on = TargetDefaults {
        honor_labels: true,
        ..defaults()
    };
    let pairs = [("__address__", "h:1"), ("job", "j")];
    assert_eq!(populate(&pairs, &on), populate(&pairs, &defaults()));
}

#[test]
fn prometheus_durations_parse() {
    let cases: &[(&str, Duration)] = &[
        ("0", Duration::ZERO),
        ("0s", Duration::ZERO),
        ("15s", Duration::from_secs(15)),
        ("1m30s", Duration::from_secs(90)),
        ("1h0m0s", Duration::from_secs(3600)),
        ("250ms", Duration::from_millis(250)),
        ("1d", Duration::from_secs(86_400)),
        ("2w", Duration::from_secs(14 * 86_400)),
        ("1y", Duration::from_secs(365 * 86_400)),
        (
            "1y2w3d4h5m6s7ms",
            Duration::from_millis(((((365 + 14 + 3) * 24 + 4) * 60 + 5) * 60 + 6) * 1000 + 7),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse_prometheus_duration(text), Ok(*want), "{text}");
    }
}

#[test]
fn prometheus_durations_reject() {
    let invalid = |s: &str| DurationError::Invalid(s.to_string());
    assert_eq!(parse_prometheus_duration(""), Err(DurationError::Empty));
    assert_eq!(parse_prometheus_duration("s"), Err(invalid("s")));
    assert_eq!(parse_prometheus_duration("10"), Err(invalid("10")));
    assert_eq!(parse_prometheus_duration("-1s"), Err(invalid("-1s")));
    assert_eq!(parse_prometheus_duration("1s1m"), Err(invalid("1s1m")));
    assert_eq!(parse_prometheus_duration("1s1s"), Err(invalid("1s1s")));
    assert_eq!(
        parse_prometheus_duration("5us"),
        Err(DurationError::UnknownUnit {
            unit: "us".into(),
            input: "5us".into()
        })
    );
    assert_eq!(
        parse_prometheus_duration("300y"),
        Err(DurationError::OutOfRange)
    );
}

#[test]
fn prometheus_durations_format() {
    let cases: &[(Duration, &str)] = &[
        (Duration::ZERO, "0s"),
        (Duration::from_secs(60), "1m"),
        (Duration::from_secs(90), "1m30s"),
        (Duration::from_millis(1500), "1s500ms"),
        (Duration::from_secs(86_400 * 8), "8d"),
        (Duration::from_secs(86_400 * 14), "2w"),
        (Duration::from_secs(86_400 * 365), "1y"),
        (Duration::from_nanos(1_000_999), "1ms"),
    ];
    for (d, want) in cases {
        assert_eq!(format_prometheus_duration(*d), *want, "{d:?}");
        let back = parse_prometheus_duration(want).unwrap();
        assert_eq!(back.as_millis(), d.as_millis(), "{want}");
    }
}

#[test]
fn hash_is_deterministic_and_sensitive() {
    let t = populate(&[("__address__", "h:1")], &defaults());
    let h = target_hash(&t.labels, &t.url);
    assert_eq!(h, target_hash(&t.labels.clone(), &t.url.clone()));
    // FNV-1a 64 of the empty input is the offset basis; of "a" a known vector.
    assert_eq!(target_hash(&Labels::default(), ""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(target_hash(&Labels::default(), "a"), 0xaf63_dc4c_8601_ec8c);
    assert_ne!(h, target_hash(&t.labels, "http://h:2/metrics"));
    let other = Labels::new(vec![("instance".into(), "h:1".into())]);
    assert_ne!(h, target_hash(&other, &t.url));
    // The separator keeps name/value boundaries apart.
    let ab_c = Labels::new(vec![("ab".into(), "c".into())]);
    let a_bc = Labels::new(vec![("a".into(), "bc".into())]);
    assert_ne!(target_hash(&ab_c, ""), target_hash(&a_bc, ""));
}

#[test]
fn offsets_stay_within_the_interval() {
    let interval = Duration::from_secs(15);
    for i in 0..500u64 {
        let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let o = scrape_offset(h, interval, 42);
        assert!(o < interval, "{o:?}");
    }
    assert_eq!(scrape_offset(u64::MAX, Duration::ZERO, 0), Duration::ZERO);
    // Exactly (hash ^ salt) % interval in nanoseconds.
    assert_eq!(
        scrape_offset(20_000_000_001, Duration::from_secs(15), 1),
        Duration::from_secs(5)
    );
}

#[test]
fn offsets_spread_targets_over_the_interval() {
    let interval = Duration::from_secs(15);
    let salt = offset_seed("agent-1", &Labels::default());
    let mut buckets = [0usize; 15];
    for i in 0..1000 {
        let address = format!("10.0.{}.{}:9100", i / 256, i % 256);
        let t = populate(&[("__address__", &address)], &defaults());
        let o = scrape_offset(target_hash(&t.labels, &t.url), interval, salt);
        buckets[usize::try_from(o.as_secs()).unwrap()] += 1;
    }
    let share = 1000 / 15;
    for (second, count) in buckets.iter().enumerate() {
        assert!(
            *count <= 2 * share,
            "second {second} holds {count} targets (share {share}): {buckets:?}"
        );
        assert!(*count > 0, "second {second} empty: {buckets:?}");
    }
}

#[test]
fn offset_seed_depends_on_host_and_external_labels() {
    let none = Labels::default();
    let ext = Labels::new(vec![("cluster".into(), "eu".into())]);
    assert_eq!(offset_seed("a", &none), offset_seed("a", &none));
    assert_ne!(offset_seed("a", &none), offset_seed("b", &none));
    assert_ne!(offset_seed("a", &none), offset_seed("a", &ext));
}

#[test]
fn first_delay_is_pinned_to_absolute_time() {
    let interval = Duration::from_secs(10);
    let offset = Duration::from_secs(3);
    let second = 1_000_000_000u128;
    // At an interval boundary the wait is the offset (folded into (0, interval]).
    assert_eq!(first_scrape_delay(offset, interval, 100 * second), offset);
    // 4 s past a boundary: 6 s to the next one, plus 3 s.
    assert_eq!(
        first_scrape_delay(offset, interval, 104 * second),
        Duration::from_secs(9)
    );
    // 8 s past: 2 s + 3 s.
    assert_eq!(
        first_scrape_delay(offset, interval, 108 * second),
        Duration::from_secs(5)
    );
    // Zero offset at a boundary waits a full interval, as Prometheus.
    assert_eq!(
        first_scrape_delay(Duration::ZERO, interval, 100 * second),
        interval
    );
    // Different start times, same phase: start + delay lands on the same offset mod interval.
    for now in [0u128, 1, 7 * second + 5, 123_456_789_012] {
        let d = first_scrape_delay(offset, interval, now).as_nanos();
        assert!(d > 0 && d <= interval.as_nanos());
        assert_eq!((now + d) % interval.as_nanos(), offset.as_nanos());
    }
}
