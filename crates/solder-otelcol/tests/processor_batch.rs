//! `otelcol.processor.batch`: size and timeout triggers, splitting, acknowledgement.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "processor_harness.rs"]
mod harness;

use harness::*;
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::OtlpConsumerRef;
use solder_core::{ComponentBuilder, Typed};
use solder_otelcol::processor::batch::BatchProcessor;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const OUTPUT: &str =
    "output {\n  traces = [sink.rec]\n  logs = [sink.rec]\n  metrics = [sink.rec]\n}";

fn builder() -> Typed<BatchProcessor> {
    Typed::<BatchProcessor>::new()
}

struct Running {
    input: OtlpConsumerRef,
    rec: Arc<Recorder>,
    built: Built,
    token: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), solder_core::ComponentError>>,
}

fn start(args: &str) -> Running {
    let rec = Arc::new(Recorder::default());
    let body = format!("{args}\n{OUTPUT}");
    let decoded = decode(&builder(), &body, &sink_scope(&rec)).unwrap();
    let built = options("otelcol.processor.batch.test");
    let component = builder().build(built.opts.clone(), decoded).unwrap();
    let token = CancellationToken::new();
    let task = tokio::spawn(component.run(token.clone()));
    Running {
        input: built.exports.input(),
        rec,
        built,
        token,
        task,
    }
}

fn names(n: usize, prefix: &str) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn spans_payload(svc: &str, names: &[String]) -> solder_core::signals::otlp::OtlpPayload {
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    traces_payload(&traces(&[(svc, &refs)]))
}

#[test]
fn validation() {
    let err = decode_err(
        &builder(),
        &format!("send_batch_size = 100\nsend_batch_max_size = 50\n{OUTPUT}"),
    );
    assert!(
        err.contains("send_batch_max_size must be greater or equal to send_batch_size when not 0"),
        "{err}"
    );
    let err = decode_err(
        &builder(),
        &format!("metadata_keys = [\"tenant\"]\n{OUTPUT}"),
    );
    assert!(
        err.contains("metadata_keys is not supported by Solder yet"),
        "{err}"
    );
    let err = decode_err(&builder(), "timeout = \"1s\"");
    assert!(err.contains("output"), "{err}");
    // Alloy's defaults: 2000 / 3000 are consistent; max 0 means unlimited.
    let rec = Arc::new(Recorder::default());
    decode(&builder(), OUTPUT, &sink_scope(&rec)).unwrap();
    decode(
        &builder(),
        &format!("send_batch_size = 5000\nsend_batch_max_size = 0\n{OUTPUT}"),
        &sink_scope(&rec),
    )
    .unwrap();
}

#[tokio::test]
async fn timeout_merges_requests_and_acks_after_delivery() {
    let r = start("timeout = \"100ms\"\nsend_batch_size = 1000");
    let started = Instant::now();
    let a = r.input.consume(spans_payload("a", &names(2, "a")));
    let b = r.input.consume(spans_payload("b", &names(3, "b")));
    let (ra, rb) = tokio::join!(a, b);
    ra.unwrap();
    rb.unwrap();
    // Both callers waited for the timeout-triggered send of the one merged batch.
    assert!(started.elapsed() >= Duration::from_millis(90));
    let sent = r.rec.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].items, 5);
    let req = decode_traces(&sent[0]);
    assert_eq!(req.resource_spans.len(), 2);
    let mut got = span_names(&req);
    got.sort();
    let mut want = [names(2, "a"), names(3, "b")].concat();
    want.sort();
    assert_eq!(got, want);
    let reg = &r.built.registry;
    assert_eq!(
        metric(reg, "otelcol_processor_batch_timeout_trigger_send_total"),
        Some(1.0)
    );
    assert_eq!(
        metric(reg, "otelcol_processor_batch_batch_size_trigger_send_total"),
        Some(0.0)
    );
    assert_eq!(
        metric(reg, "otelcol_processor_batch_batch_send_size"),
        Some(1.0)
    );
    assert_eq!(
        metric(reg, "otelcol_processor_batch_metadata_cardinality"),
        Some(1.0)
    );
    r.token.cancel();
    r.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn size_trigger_sends_without_waiting_and_splits_to_max() {
    // 25 spans at once with size 10 / max 10: two full batches at once, 5 wait for the timer.
    let r = start("timeout = \"10s\"\nsend_batch_size = 10\nsend_batch_max_size = 10");
    let input = r.input.clone();
    let big = tokio::spawn(async move {
        input
            .consume(spans_payload(
                "svc",
                &[names(7, "x"), names(18, "y")].concat(),
            ))
            .await
    });
    eventually(|| r.rec.count() == 2).await;
    let sent = r.rec.take();
    assert_eq!(sent.iter().map(|p| p.items).collect::<Vec<_>>(), [10, 10]);
    let first = span_names(&decode_traces(&sent[0]));
    let second = span_names(&decode_traces(&sent[1]));
    let all = [names(7, "x"), names(18, "y")].concat();
    assert_eq!(first, all[..10]);
    assert_eq!(second, all[10..20]);
    // The caller is still waiting: 5 of its spans have not left yet.
    assert!(!big.is_finished());
    // 5 more fill a batch of 10 (size trigger): the rest of the first caller plus these.
    r.input
        .consume(spans_payload("other", &names(5, "z")))
        .await
        .unwrap();
    big.await.unwrap().unwrap();
    let sent = r.rec.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].items, 10);
    let req = decode_traces(&sent[0]);
    assert_eq!(
        span_names(&req),
        [all[20..].to_vec(), names(5, "z")].concat()
    );
    assert_eq!(
        metric(
            &r.built.registry,
            "otelcol_processor_batch_batch_size_trigger_send_total"
        ),
        Some(3.0)
    );
    r.token.cancel();
    r.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn downstream_errors_reach_every_caller_in_the_batch() {
    let r = start("timeout = \"50ms\"");
    r.rec.set_fail(Some(ConsumeError::Retryable {
        message: "down".into(),
        retry_after: None,
    }));
    let (a, b) = tokio::join!(
        r.input.consume(spans_payload("a", &names(1, "a"))),
        r.input.consume(logs_payload(&logs(&[("b", &["l"])])))
    );
    assert!(matches!(a, Err(ConsumeError::Retryable { .. })), "{a:?}");
    assert!(matches!(b, Err(ConsumeError::Retryable { .. })), "{b:?}");
    r.rec.set_fail(None);
    r.input
        .consume(spans_payload("a", &names(1, "a")))
        .await
        .unwrap();
    r.token.cancel();
    r.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn signals_are_batched_separately_and_metrics_split_by_points() {
    let r = start("timeout = \"10s\"\nsend_batch_size = 4\nsend_batch_max_size = 4");
    // One metric with 6 data points: cut inside the metric.
    let input = r.input.clone();
    let task = tokio::spawn(async move {
        input
            .consume(metrics_payload(&metrics(&[("m", &["g"])], 6)))
            .await
    });
    eventually(|| r.rec.count() == 1).await;
    let first = r.rec.take();
    assert_eq!(first[0].items, 4);
    let req = decode_metrics(&first[0]);
    assert_eq!(
        req.resource_metrics[0].scope_metrics[0].metrics[0].name,
        "g"
    );
    // Logs do not join the pending metrics.
    r.input
        .consume(logs_payload(&logs(&[("l", &["1", "2", "3", "4"])])))
        .await
        .unwrap();
    let logs_sent = r.rec.take();
    assert_eq!(logs_sent.len(), 1);
    assert_eq!(decode_logs(&logs_sent[0]).resource_logs.len(), 1);
    // Shutdown flushes the remaining 2 points and answers the waiting caller.
    r.token.cancel();
    r.task.await.unwrap().unwrap();
    task.await.unwrap().unwrap();
    let rest = r.rec.take();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].items, 2);
    // After shutdown, new data is refused as retryable.
    let err = r
        .input
        .consume(spans_payload("a", &names(1, "a")))
        .await
        .unwrap_err();
    assert!(err.is_retryable());
}

#[tokio::test]
async fn without_timer_every_request_is_sent_at_once() {
    let r = start("timeout = \"0s\"\nsend_batch_size = 8192\nsend_batch_max_size = 0");
    r.input
        .consume(spans_payload("a", &names(3, "a")))
        .await
        .unwrap();
    assert_eq!(r.rec.count(), 1);
    // Empty requests are dropped, as the Collector does.
    r.input
        .consume(traces_payload(&traces(&[("a", &[])])))
        .await
        .unwrap();
    assert_eq!(r.rec.count(), 1);
    r.token.cancel();
    r.task.await.unwrap().unwrap();
}
