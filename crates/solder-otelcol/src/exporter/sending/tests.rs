#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use bytes::Bytes;
use solder_core::component::{ExportSink, HostInfo};
use solder_core::HealthReporter;
use solder_syntax::types::GoDuration;
use solder_syntax::Value;
use std::collections::VecDeque;
use std::path::Path;

struct NoExports;
impl ExportSink for NoExports {
    fn publish(&self, _: Value) {}
}

fn options(dir: &Path, registry: &prometheus::Registry) -> ComponentOptions {
    ComponentOptions {
        id: "otelcol.exporter.otlp.test".into(),
        data_dir: dir.to_path_buf(),
        registry: registry.clone(),
        health: HealthReporter::new(),
        host: Arc::new(HostInfo {
            http_listen_addr: "127.0.0.1:12345".into(),
            http_memory_addr: "alloy.internal:12345".into(),
            hostname: "test".into(),
            self_registry: prometheus::Registry::new(),
        }),
        exports: Arc::new(NoExports),
    }
}

/// Answers from a script (then `Ok`), recording what it was given.
#[derive(Default)]
struct Scripted {
    script: Mutex<VecDeque<Result<(), ConsumeError>>>,
    received: Mutex<Vec<OtlpPayload>>,
    attempts: std::sync::atomic::AtomicUsize,
}

impl Scripted {
    fn new(script: Vec<Result<(), ConsumeError>>) -> Arc<Self> {
        Arc::new(Scripted {
            script: Mutex::new(script.into()),
            ..Default::default()
        })
    }
    fn received(&self) -> Vec<OtlpPayload> {
        lock(&self.received).clone()
    }
    fn attempts(&self) -> usize {
        self.attempts.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Sender for Scripted {
    async fn send(&self, payload: &OtlpPayload) -> Result<(), ConsumeError> {
        self.attempts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let next = lock(&self.script).pop_front().unwrap_or(Ok(()));
        if next.is_ok() {
            lock(&self.received).push(payload.clone());
        }
        next
    }
}

/// An exporter's sending machinery in `dir` with the default queue and fast retries.
fn default_sending(dir: &Path, registry: &prometheus::Registry, sender: SenderRef) -> Sending {
    Sending::new(
        &options(dir, registry),
        "otlp/test".into(),
        QueueArgs::default(),
        fast_retry(),
        sender,
    )
    .unwrap()
}

fn fast_retry() -> RetryArgs {
    RetryArgs {
        initial_interval: GoDuration::from_millis(5),
        max_interval: GoDuration::from_millis(20),
        ..RetryArgs::default()
    }
}

/// A real trace export request of `items` spans, tagged with `n` (records are recounted when
/// read back from the queue, so the count must be what the request holds).
fn payload(n: u8, items: u64) -> OtlpPayload {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;
    let spans = (0..items)
        .map(|i| Span {
            trace_id: vec![n; 16],
            span_id: (i + 1).to_be_bytes().to_vec(),
            name: format!("span {n}"),
            ..Default::default()
        })
        .collect();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    OtlpPayload {
        signal: Signal::Traces,
        encoded: Bytes::from(request.encode_to_vec()),
        items,
    }
}

/// `p` as an earlier version wrote it: `items` (u64 LE), then the request.
fn legacy_record(items: u64, p: &OtlpPayload) -> Bytes {
    let mut record = items.to_le_bytes().to_vec();
    record.extend_from_slice(&p.encoded);
    Bytes::from(record)
}

#[test]
fn records_are_the_request_and_legacy_records_still_decode() {
    let p = payload(3, 4);
    // The current layout: the request as is, its spans recounted.
    assert_eq!(
        decode_record(Signal::Traces, p.encoded.clone(), None),
        Some(p.clone())
    );
    // The layout of earlier versions: item count (u64 LE), then the request. Whatever the
    // count, a legacy record is read as one (145, for one, also walks as a current request:
    // 0x91 0x00 starts a fixed64 field the walk would skip).
    for items in (0u64..=300).chain([4096, 8192, 100_000]) {
        let p = payload(5, items);
        assert_eq!(
            decode_record(Signal::Traces, legacy_record(items, &p), None),
            Some(p),
            "{items} items"
        );
    }
    // And a current record is never read as a legacy one, whatever its shape.
    for n in 0..=255u8 {
        for items in [0u64, 1, 2, 3, 7, 100] {
            let p = payload(n, items);
            assert_eq!(
                decode_record(Signal::Traces, p.encoded.clone(), None),
                Some(p)
            );
        }
    }
    // A legacy header whose count disagrees with the request, and garbage, are malformed.
    assert_eq!(
        decode_record(Signal::Traces, legacy_record(5, &p), None),
        None
    );
    assert_eq!(
        decode_record(Signal::Traces, Bytes::from_static(&[0xff; 3]), None),
        None
    );
}

fn retryable() -> ConsumeError {
    ConsumeError::Retryable {
        message: "unavailable".into(),
        retry_after: None,
    }
}

fn metric(registry: &prometheus::Registry, name: &str) -> f64 {
    registry
        .gather()
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| f.get_metric().iter())
        .map(|m| m.get_counter().get_value() + m.get_gauge().get_value())
        .sum()
}

async fn eventually(mut f: impl FnMut() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 4s");
}

#[tokio::test]
async fn queued_payload_is_sent_after_retries_and_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let registry = prometheus::Registry::new();
    let sender = Scripted::new(vec![Err(retryable()), Err(retryable())]);
    let sending = default_sending(dir.path(), &registry, sender.clone());
    sending.consume(payload(1, 7)).await.unwrap();
    // The direct send failed: durable before anything was delivered.
    assert_eq!(sending.queue(Signal::Traces).queue.pending_records(), 1);
    assert_eq!(sender.attempts(), 1);
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let s = sending.clone();
        let stop = stop.clone();
        async move { s.run(stop).await }
    });
    eventually(|| sender.received().len() == 1).await;
    eventually(|| sending.queue(Signal::Traces).queue.pending_records() == 0).await;
    assert_eq!(sender.attempts(), 3);
    assert_eq!(sender.received()[0], payload(1, 7));
    assert_eq!(metric(&registry, "otelcol_exporter_sent_spans_total"), 7.0);
    assert_eq!(
        metric(&registry, "otelcol_exporter_send_failed_spans_total"),
        0.0
    );
    stop.cancel();
    run.await.unwrap();
}

#[tokio::test]
async fn permanent_error_drops_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let registry = prometheus::Registry::new();
    let sender = Scripted::new(vec![Err(ConsumeError::Permanent("bad".into()))]);
    let sending = default_sending(dir.path(), &registry, sender.clone());
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let s = sending.clone();
        let stop = stop.clone();
        async move { s.run(stop).await }
    });
    sending.consume(payload(1, 3)).await.unwrap();
    sending.consume(payload(2, 4)).await.unwrap();
    eventually(|| sender.received().len() == 1).await;
    eventually(|| sending.queue(Signal::Traces).queue.pending_records() == 0).await;
    assert_eq!(sender.attempts(), 2);
    assert_eq!(sender.received()[0], payload(2, 4));
    assert_eq!(
        metric(&registry, "otelcol_exporter_send_failed_spans_total"),
        3.0
    );
    assert_eq!(metric(&registry, "otelcol_exporter_sent_spans_total"), 4.0);
    stop.cancel();
    run.await.unwrap();
}

#[tokio::test]
async fn full_queue_refuses_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let registry = prometheus::Registry::new();
    let sending = Sending::new(
        &options(dir.path(), &registry),
        "otlp/test".into(),
        QueueArgs {
            queue_size: 2,
            ..QueueArgs::default()
        },
        fast_retry(),
        // The first request's direct send fails; the others then queue behind it.
        Scripted::new(vec![Err(retryable())]),
    )
    .unwrap();
    sending.consume(payload(1, 1)).await.unwrap();
    sending.consume(payload(2, 1)).await.unwrap();
    let err = sending.consume(payload(3, 5)).await.unwrap_err();
    assert!(matches!(err, ConsumeError::Overloaded { .. }), "{err:?}");
    assert_eq!(
        metric(&registry, "otelcol_exporter_enqueue_failed_spans_total"),
        5.0
    );
    assert_eq!(metric(&registry, "otelcol_exporter_queue_size"), 2.0);
    // capacity is reported per data type
    assert_eq!(metric(&registry, "otelcol_exporter_queue_capacity"), 6.0);
}

#[tokio::test]
async fn queued_data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let registry = prometheus::Registry::new();
        let sending = default_sending(dir.path(), &registry, Scripted::new(vec![Err(retryable())]));
        sending.consume(payload(9, 2)).await.unwrap();
        // The backend refused the direct send; dropped without ever running the queue.
    }
    let registry = prometheus::Registry::new();
    let sender = Scripted::new(vec![]);
    let sending = default_sending(dir.path(), &registry, sender.clone());
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let s = sending.clone();
        let stop = stop.clone();
        async move { s.run(stop).await }
    });
    eventually(|| sender.received().len() == 1).await;
    assert_eq!(sender.received()[0], payload(9, 2));
    stop.cancel();
    run.await.unwrap();
}

#[tokio::test]
async fn synchronous_mode_returns_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let registry = prometheus::Registry::new();
    let sender = Scripted::new(vec![
        Err(retryable()),
        Ok(()),
        Err(ConsumeError::Permanent("bad".into())),
    ]);
    let sending = Sending::new(
        &options(dir.path(), &registry),
        "otlp/test".into(),
        QueueArgs {
            enabled: false,
            ..QueueArgs::default()
        },
        fast_retry(),
        sender.clone(),
    )
    .unwrap();
    sending.consume(payload(1, 1)).await.unwrap();
    assert_eq!(sender.received().len(), 1);
    let err = sending.consume(payload(2, 1)).await.unwrap_err();
    assert!(matches!(err, ConsumeError::Permanent(_)));
    assert_eq!(sending.queue(Signal::Traces).queue.pending_records(), 0);
}

#[tokio::test]
async fn retries_stop_after_max_elapsed_time() {
    let dir = tempfile::tempdir().unwrap();
    let registry = prometheus::Registry::new();
    let sender = Scripted::new((0..1000).map(|_| Err(retryable())).collect());
    let sending = Sending::new(
        &options(dir.path(), &registry),
        "otlp/test".into(),
        QueueArgs {
            enabled: false,
            ..QueueArgs::default()
        },
        RetryArgs {
            max_elapsed_time: GoDuration::from_millis(100),
            ..fast_retry()
        },
        sender.clone(),
    )
    .unwrap();
    let started = Instant::now();
    let err = sending.consume(payload(1, 2)).await.unwrap_err();
    assert!(err.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(sender.attempts() > 2);
    assert_eq!(
        metric(&registry, "otelcol_exporter_send_failed_spans_total"),
        2.0
    );
    // Retry-After is honoured over the backoff.
    let sender = Scripted::new(vec![Err(ConsumeError::Retryable {
        message: "slow down".into(),
        retry_after: Some(Duration::from_millis(300)),
    })]);
    sending
        .update(
            QueueArgs {
                enabled: false,
                ..QueueArgs::default()
            },
            fast_retry(),
            sender.clone(),
        )
        .unwrap();
    let started = Instant::now();
    sending.consume(payload(2, 1)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn block_on_overflow_waits_for_room() {
    let dir = tempfile::tempdir().unwrap();
    let registry = prometheus::Registry::new();
    // The first request's direct send fails, so it fills the queue.
    let sender = Scripted::new(vec![Err(retryable())]);
    let sending = Sending::new(
        &options(dir.path(), &registry),
        "otlp/test".into(),
        QueueArgs {
            queue_size: 1,
            block_on_overflow: true,
            ..QueueArgs::default()
        },
        fast_retry(),
        sender.clone(),
    )
    .unwrap();
    sending.consume(payload(1, 1)).await.unwrap();
    // Full and not running: the second write waits instead of failing.
    let blocked =
        tokio::time::timeout(Duration::from_millis(200), sending.consume(payload(2, 1))).await;
    assert!(blocked.is_err(), "a full queue must make the writer wait");
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let s = sending.clone();
        let stop = stop.clone();
        async move { s.run(stop).await }
    });
    tokio::time::timeout(Duration::from_secs(4), sending.consume(payload(3, 1)))
        .await
        .expect("room after the first record was sent")
        .unwrap();
    eventually(|| sender.received().len() == 2).await;
    assert_eq!(
        metric(&registry, "otelcol_exporter_enqueue_failed_spans_total"),
        0.0
    );
    stop.cancel();
    run.await.unwrap();
}

/// Takes `delay` to answer `Ok`.
struct Slow {
    delay: Duration,
    received: Mutex<Vec<OtlpPayload>>,
}

impl Slow {
    fn new(delay: Duration) -> Arc<Slow> {
        Arc::new(Slow {
            delay,
            received: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait::async_trait]
impl Sender for Slow {
    async fn send(&self, payload: &OtlpPayload) -> Result<(), ConsumeError> {
        tokio::time::sleep(self.delay).await;
        lock(&self.received).push(payload.clone());
        Ok(())
    }
}

#[tokio::test]
async fn a_backend_that_keeps_up_gets_requests_directly_and_the_queue_stays_unwritten() {
    let dir = tempfile::tempdir().unwrap();
    let registry = prometheus::Registry::new();
    let sender = Scripted::new(vec![Ok(()), Err(retryable())]);
    let sending = default_sending(dir.path(), &registry, sender.clone());
    let appended = || {
        let q = &sending.queue(Signal::Traces).queue;
        q.stats().snapshot().appended_records
    };
    // Delivered when `consume` returns, and never written to the queue.
    sending.consume(payload(1, 2)).await.unwrap();
    assert_eq!(sender.received(), [payload(1, 2)]);
    assert_eq!(appended(), 0);
    assert_eq!(metric(&registry, "otelcol_exporter_sent_spans_total"), 2.0);
    // A failed direct send queues the request, and the next one goes behind it rather than
    // past it, until the queue has drained.
    sending.consume(payload(2, 3)).await.unwrap();
    sending.consume(payload(3, 4)).await.unwrap();
    assert_eq!(sender.attempts(), 2);
    assert_eq!(appended(), 2);
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let s = sending.clone();
        let stop = stop.clone();
        async move { s.run(stop).await }
    });
    eventually(|| sending.queue(Signal::Traces).queue.pending_records() == 0).await;
    sending.consume(payload(4, 5)).await.unwrap();
    assert_eq!(appended(), 2, "direct again once the queue is empty");
    assert_eq!(
        sender.received(),
        [payload(1, 2), payload(2, 3), payload(3, 4), payload(4, 5)]
    );
    assert_eq!(metric(&registry, "otelcol_exporter_sent_spans_total"), 14.0);
    stop.cancel();
    run.await.unwrap();
}

#[tokio::test]
async fn a_slow_direct_send_gives_way_to_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let registry = prometheus::Registry::new();
    let sender = Slow::new(DIRECT_SEND_BUDGET + Duration::from_millis(500));
    let sending = default_sending(dir.path(), &registry, sender.clone());
    let started = std::time::Instant::now();
    sending.consume(payload(1, 2)).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited < DIRECT_SEND_BUDGET + Duration::from_millis(400),
        "{waited:?}"
    );
    assert_eq!(sending.queue(Signal::Traces).queue.pending_records(), 1);
    assert!(lock(&sender.received).is_empty());
}

#[tokio::test]
async fn a_distant_backend_pauses_direct_sends() {
    let dir = tempfile::tempdir().unwrap();
    let registry = prometheus::Registry::new();
    let sender = Slow::new(DIRECT_SEND_FAST + Duration::from_millis(50));
    let sending = default_sending(dir.path(), &registry, sender.clone());
    let queue = &sending.queue(Signal::Traces).queue;
    // Delivered directly, but slowly: the next request goes to the queue (for the caller's
    // sake) although the queue is empty.
    sending.consume(payload(1, 2)).await.unwrap();
    assert_eq!(lock(&sender.received).len(), 1);
    assert_eq!(queue.pending_records(), 0);
    let started = std::time::Instant::now();
    sending.consume(payload(2, 2)).await.unwrap();
    assert!(
        started.elapsed() < DIRECT_SEND_FAST,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(queue.pending_records(), 1);
    assert_eq!(lock(&sender.received).len(), 1);
}
