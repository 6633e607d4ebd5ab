//! `otelcol.processor.memory_limiter` with an injected memory probe.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "processor_harness.rs"]
mod harness;

use harness::*;
use solder_core::consume::ConsumeError;
use solder_core::{Component, Typed};
use solder_otelcol::processor::memory_limiter::{Args, Limits, MemoryLimiter, MemoryProbe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

const MIB: u64 = 1024 * 1024;

/// Usage in `.0`; `reclaim` gives back `reclaimable` of it and counts the calls.
#[derive(Default)]
struct FakeProbe(AtomicU64, Reclaim);

#[derive(Default)]
struct Reclaim {
    reclaimable: AtomicU64,
    calls: AtomicU64,
}

impl MemoryProbe for FakeProbe {
    fn used_bytes(&self) -> std::io::Result<u64> {
        Ok(self.0.load(Ordering::SeqCst))
    }

    fn reclaim(&self) {
        self.1.calls.fetch_add(1, Ordering::SeqCst);
        let freed = self.1.reclaimable.swap(0, Ordering::SeqCst);
        self.0.fetch_sub(freed, Ordering::SeqCst);
    }
}

fn builder() -> Typed<MemoryLimiter> {
    Typed::<MemoryLimiter>::new()
}

struct Setup {
    limiter: Arc<MemoryLimiter>,
    probe: Arc<FakeProbe>,
    rec: Arc<Recorder>,
    built: Built,
}

fn setup(body: &str, total: u64) -> Setup {
    let rec = Arc::new(Recorder::default());
    let args = decode(&builder(), body, &sink_scope(&rec)).unwrap();
    let args = args.downcast::<Args>().unwrap();
    let built = options("otelcol.processor.memory_limiter.test");
    let probe = Arc::new(FakeProbe::default());
    let limiter =
        MemoryLimiter::with_probe(built.opts.clone(), args, probe.clone(), || Ok(total)).unwrap();
    Setup {
        limiter: Arc::new(limiter),
        probe,
        rec,
        built,
    }
}

const OUTPUT: &str =
    "output {\n  traces = [sink.rec]\n  logs = [sink.rec]\n  metrics = [sink.rec]\n}";

#[test]
fn validation_matches_alloy() {
    let cases: &[(&str, &str)] = &[
        ("limit = \"100MiB\"", "missing required attribute"),
        (
            "check_interval = \"0s\"\nlimit = \"100MiB\"",
            "check_interval must be greater than zero",
        ),
        (
            "check_interval = \"1s\"\nlimit = \"100MiB\"\nlimit_percentage = 50",
            "either limit or limit_percentage must be set, but not both",
        ),
        (
            "check_interval = \"1s\"\nlimit = \"100MiB\"\nspike_limit = \"100MiB\"",
            "spike_limit must be less than limit",
        ),
        (
            "check_interval = \"1s\"\nlimit_percentage = 50",
            "limit_percentage and spike_limit_percentage must be greater than 0",
        ),
        (
            "check_interval = \"1s\"\nlimit_percentage = 101\nspike_limit_percentage = 10",
            "less or equal than 100",
        ),
        (
            "check_interval = \"1s\"\nlimit_percentage = 20\nspike_limit_percentage = 20",
            "spike_limit_percentage must be smaller than limit_percentage",
        ),
        (
            "check_interval = \"1s\"",
            "either limit or limit_percentage must be set to greater than zero",
        ),
        (
            "check_interval = \"1s\"\nlimit = \"512KiB\"",
            "limit must be at least 1MiB",
        ),
    ];
    for (args, want) in cases {
        let body = format!("{args}\n{OUTPUT}");
        let err = decode_err(&builder(), &body);
        assert!(err.contains(want), "{args}: got {err:?}, want {want:?}");
    }
}

#[test]
fn limits_follow_the_collector() {
    // Fixed limit: spike defaults to a fifth, both truncated to whole MiB.
    let s = setup(
        &format!("check_interval = \"1s\"\nlimit = \"100MiB\"\n{OUTPUT}"),
        0,
    );
    assert_eq!(
        s.limiter.limits(),
        Limits {
            hard: 100 * MIB,
            spike: 20 * MIB
        }
    );
    assert_eq!(s.limiter.limits().soft(), 80 * MIB);
    let s = setup(
        &format!(
            "check_interval = \"1s\"\nlimit = \"10.5MiB\"\nspike_limit = \"2.9MiB\"\n{OUTPUT}"
        ),
        0,
    );
    assert_eq!(
        s.limiter.limits(),
        Limits {
            hard: 10 * MIB,
            spike: 2 * MIB
        }
    );
    // Percentages are of the total memory.
    let s = setup(
        &format!(
            "check_interval = \"1s\"\nlimit_percentage = 80\nspike_limit_percentage = 25\n{OUTPUT}"
        ),
        1000 * MIB,
    );
    assert_eq!(
        s.limiter.limits(),
        Limits {
            hard: 800 * MIB,
            spike: 250 * MIB
        }
    );
}

#[tokio::test]
async fn free_memory_is_given_back_before_usage_above_the_soft_limit_counts() {
    let s = setup(
        &format!("check_interval = \"1s\"\nlimit = \"100MiB\"\n{OUTPUT}"),
        0,
    );
    let calls = || s.probe.1.calls.load(Ordering::SeqCst);
    // Below the soft limit (80 MiB): nothing to give back.
    s.probe.0.store(50 * MIB, Ordering::SeqCst);
    s.probe.1.reclaimable.store(20 * MIB, Ordering::SeqCst);
    s.limiter.check_now();
    assert_eq!(calls(), 0);
    // Above it, but only because of memory that can be given back: no refusal.
    s.probe.0.store(90 * MIB, Ordering::SeqCst);
    s.limiter.check_now();
    assert_eq!(calls(), 1);
    assert!(!s.limiter.is_refusing());
    assert_eq!(s.probe.0.load(Ordering::SeqCst), 70 * MIB);
    // Above it with little to give back: refused.
    s.probe.0.store(95 * MIB, Ordering::SeqCst);
    s.probe.1.reclaimable.store(5 * MIB, Ordering::SeqCst);
    s.limiter.check_now();
    assert_eq!(calls(), 2);
    assert!(s.limiter.is_refusing());
}

#[tokio::test]
async fn refuses_at_soft_limit_and_recovers_below_it() {
    let s = setup(
        &format!("check_interval = \"1s\"\nlimit = \"100MiB\"\n{OUTPUT}"),
        0,
    );
    let input = s.built.exports.input();
    let payload = traces_payload(&traces(&[("svc", &["a", "b", "c"])]));

    s.probe.0.store(80 * MIB - 1, Ordering::SeqCst);
    s.limiter.check_now();
    assert!(!s.limiter.is_refusing());
    input.consume(payload.clone()).await.unwrap();
    assert_eq!(s.rec.count(), 1);

    // Exactly at the soft limit: refuse (the Collector compares with >=).
    s.probe.0.store(80 * MIB, Ordering::SeqCst);
    s.limiter.check_now();
    assert!(s.limiter.is_refusing());
    let err = input.consume(payload.clone()).await.unwrap_err();
    assert!(
        matches!(&err, ConsumeError::Overloaded { message, .. } if message == "data refused due to high memory usage"),
        "{err:?}"
    );
    assert_eq!(s.rec.count(), 1, "refused data must not be forwarded");
    let logs = logs_payload(&logs(&[("svc", &["x", "y"])]));
    assert!(input.consume(logs).await.is_err());
    assert_eq!(
        s.built.opts.health.get().kind,
        solder_core::health::HealthKind::Unhealthy
    );

    // Back below: accept again.
    s.probe.0.store(10 * MIB, Ordering::SeqCst);
    s.limiter.check_now();
    input.consume(payload).await.unwrap();
    assert_eq!(s.rec.count(), 2);

    let r = &s.built.registry;
    assert_eq!(
        metric(r, "otelcol_processor_memory_limiter_refused_spans_total"),
        Some(3.0)
    );
    assert_eq!(
        metric(
            r,
            "otelcol_processor_memory_limiter_refused_log_records_total"
        ),
        Some(2.0)
    );
    assert_eq!(
        metric(r, "otelcol_processor_memory_limiter_accepted_spans_total"),
        Some(6.0)
    );
    assert_eq!(
        metric(
            r,
            "otelcol_processor_memory_limiter_refused_metric_points_total"
        ),
        Some(0.0)
    );
    assert_eq!(
        metric(r, "otelcol_processor_incoming_items_total"),
        Some(11.0)
    );
    assert_eq!(
        metric(r, "otelcol_processor_outgoing_items_total"),
        Some(6.0)
    );
}

#[tokio::test]
async fn run_loop_checks_every_interval() {
    let s = setup(
        &format!("check_interval = \"20ms\"\nlimit = \"10MiB\"\n{OUTPUT}"),
        0,
    );
    let token = CancellationToken::new();
    let task = tokio::spawn(Component::run(s.limiter.clone(), token.clone()));
    s.probe.0.store(9 * MIB, Ordering::SeqCst);
    eventually(|| s.limiter.is_refusing()).await;
    s.probe.0.store(MIB, Ordering::SeqCst);
    eventually(|| !s.limiter.is_refusing()).await;
    token.cancel();
    task.await.unwrap().unwrap();
}
