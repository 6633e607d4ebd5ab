//! What the OTLP exporters share, independent of the wire client: the `sending_queue` and
//! `retry_on_failure` blocks, the durable sending queue, the retry loop and the exporter
//! self-metrics.
//!
//! Behaviour (the Collector's `exporterhelper`, made durable):
//! - With the queue enabled, `consume` appends the payload to an on-disk queue (one per signal,
//!   under `<data_dir>/queue/<signal>`) before it returns `Ok`, so accepted data survives
//!   `kill -9`. A full queue answers `Overloaded` (counted in `enqueue_failed`), or waits for
//!   room with `block_on_overflow`. `num_consumers` tasks per signal read, send (with retries)
//!   and acknowledge; a record is acknowledged only once it was sent or given up on (permanent
//!   error, retries exhausted), and acknowledgements advance in order, so a crash re-sends
//!   what was in flight (at-least-once).
//! - With the queue disabled, `consume` sends synchronously (with retries) and returns the
//!   outcome. The on-disk queues are still opened and drained, so data a previous run left
//!   behind is delivered.
//! - Retries follow `retry_on_failure` (exponential backoff with jitter; a server's
//!   `Retry-After`/RetryInfo delay takes precedence); `max_elapsed_time = 0` retries forever.
//!   Shutdown stops retrying; a queued record then stays on disk for the next start.

mod component;
mod config;
mod metrics;
mod partial;

pub use component::{SendingExporter, SendingProtocol};
pub use config::{Backoff, QueueArgs, QueueBatchArgs, RetryArgs, Sizer};
pub use partial::{log_partial_success, partial_success};

use crate::component_util::current_shared;
use crate::component_util::replace_shared;
use metrics::ExporterMetrics;
use solder_core::consume::ConsumeError;
use solder_core::queue::{FsyncPolicy, Queue, QueueError, QueueOptions, Seq, FRAME_OVERHEAD};
use solder_core::signals::otlp::{OtlpConsumer, OtlpConsumerRef, OtlpPayload, Signal};
use solder_core::{ComponentError, ComponentOptions};
use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Byte budget of each signal queue's in-memory tail (see `Queue::set_memory_tail_bytes`).
const SENDING_QUEUE_MEMORY_TAIL_BYTES: usize = 2 << 20;

/// One attempt at delivering a payload over the wire. Errors say whether a retry can help:
/// `Retryable`/`Overloaded` are retried (after their `retry_after` if given), `Permanent` is
/// dropped.
#[async_trait::async_trait]
pub trait Sender: Send + Sync {
    async fn send(&self, payload: &OtlpPayload) -> Result<(), ConsumeError>;
}

pub type SenderRef = Arc<dyn Sender>;

/// The part of the configuration `update` may replace.
struct Settings {
    queue: QueueArgs,
    retry: RetryArgs,
    sender: SenderRef,
}

/// A record in the durable queue is the encoded export request itself, so appending it needs
/// no copy and the memory tail can hand the caller's buffer back (the item count, needed for
/// the self-metrics, is recounted from the request when it is read). Records written by
/// earlier versions started with the item count as a u64 LE; [`decode_record`] still reads
/// those, so a queue left by an upgrade is sent, not dropped.
const LEGACY_RECORD_HEADER: usize = 8;
/// Bound on unacknowledged bytes per signal when the sizer counts requests: a safety net so a
/// dead backend cannot fill the disk.
const REQUESTS_SIZER_MAX_BYTES: u64 = 1 << 30;

const SIGNALS: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

/// Records handed to senders and not yet acknowledged, so acknowledgements advance in order.
#[derive(Default)]
struct InFlight {
    pending: BTreeSet<Seq>,
    highest_started: Option<Seq>,
}

struct SignalQueue {
    signal: Signal,
    queue: Queue,
    /// Permits = `num_consumers`; a sender task holds one while it works.
    consumers: Arc<Semaphore>,
    /// How many permits `consumers` was configured with (to resize on update).
    configured: Mutex<usize>,
    in_flight: Mutex<InFlight>,
    /// Woken when records are acknowledged (room for blocked writers).
    room: Notify,
    /// Item counts of records appended by this process and not yet read, oldest first, so a
    /// record read back needs no walk over its (megabytes of) items to recount them: that walk
    /// touches one cache line per item and cost ~5% of the pass-through CPU. A record without
    /// an entry (appended before a restart, or read before its entry went in) is recounted.
    counts: Mutex<VecDeque<(Seq, u64)>>,
    /// Until when requests skip the direct send (see [`Sending::send_direct`]).
    direct_paused_until: Mutex<Option<Instant>>,
}

/// Most entries [`SignalQueue::counts`] keeps; older ones are forgotten (their records are
/// then recounted when read).
const MAX_REMEMBERED_COUNTS: usize = 1 << 16;

impl SignalQueue {
    fn remember_count(&self, seq: Seq, items: u64) {
        let mut counts = lock(&self.counts);
        if counts.len() >= MAX_REMEMBERED_COUNTS {
            counts.pop_front();
        }
        counts.push_back((seq, items));
    }

    /// The remembered item count of record `seq`, forgetting those of records before it.
    fn take_count(&self, seq: Seq) -> Option<u64> {
        let mut counts = lock(&self.counts);
        while let Some(&(s, items)) = counts.front() {
            if s > seq {
                return None;
            }
            counts.pop_front();
            if s == seq {
                return Some(items);
            }
        }
        None
    }

    fn start(&self, seq: Seq) {
        let mut f = lock(&self.in_flight);
        f.pending.insert(seq);
        f.highest_started = Some(f.highest_started.map_or(seq, |h| h.max(seq)));
    }

    /// Marks `seq` done and acknowledges everything before the oldest record still in flight.
    fn finish(&self, seq: Seq) {
        let target = {
            let mut f = lock(&self.in_flight);
            f.pending.remove(&seq);
            match f.pending.first() {
                Some(&oldest) => oldest.checked_sub(1),
                None => f.highest_started,
            }
        };
        if let Some(target) = target {
            if let Err(err) = self.queue.commit(target) {
                tracing::error!(%err, signal = ?self.signal, "sending queue: acknowledging sent data failed");
            }
        }
        self.room.notify_waiters();
    }

    fn resize(&self, wanted: usize) {
        let mut configured = lock(&self.configured);
        if wanted > *configured {
            self.consumers.add_permits(wanted - *configured);
        } else if wanted < *configured {
            // Permits held by running senders are taken away as they come back.
            let missing = *configured - wanted;
            let forgotten = self.consumers.forget_permits(missing);
            if forgotten < missing {
                let consumers = Arc::clone(&self.consumers);
                let rest = missing - forgotten;
                tokio::spawn(async move {
                    if let Ok(p) = consumers.acquire_many_owned(rest as u32).await {
                        p.forget();
                    }
                });
            }
        }
        *configured = wanted;
    }
}

struct Inner {
    id: String,
    settings: RwLock<Arc<Settings>>,
    metrics: ExporterMetrics,
    queues: [Arc<SignalQueue>; 3],
    /// Cancelled when the component stops: ends retries of synchronous sends.
    stopping: CancellationToken,
}

/// The sending machinery of one exporter. Cheap to clone.
#[derive(Clone)]
pub struct Sending {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Sending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sending")
            .field("id", &self.inner.id)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn queue_options(q: &QueueArgs) -> QueueOptions {
    let max_bytes = match q.sizer() {
        Ok(Sizer::Bytes) => q.capacity().max(REQUESTS_SIZER_MAX_BYTES),
        _ => REQUESTS_SIZER_MAX_BYTES,
    };
    QueueOptions {
        max_bytes,
        segment_bytes: 16 << 20,
        fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
    }
}

impl Sending {
    /// Opens the durable queues under `opts.data_dir` and registers the self-metrics.
    /// `exporter_label` is the Collector-style ID (`otlp/<component id>`).
    pub fn new(
        opts: &ComponentOptions,
        exporter_label: String,
        queue: QueueArgs,
        retry: RetryArgs,
        sender: SenderRef,
    ) -> Result<Sending, ComponentError> {
        queue.validate().map_err(ComponentError::Config)?;
        retry.validate().map_err(ComponentError::Config)?;
        let metrics = ExporterMetrics::new(&opts.registry, exporter_label)
            .map_err(|e| ComponentError::Other(format!("registering self-metrics: {e}")))?;
        let open = |signal: Signal| -> Result<Arc<SignalQueue>, ComponentError> {
            let dir = opts.data_dir.join("queue").join(metrics::data_type(signal));
            let (q, report) = Queue::open(&dir, queue_options(&queue))
                .map_err(|e| ComponentError::Other(format!("opening the sending queue: {e}")))?;
            if report.pending_records > 0 {
                tracing::info!(
                    signal = metrics::data_type(signal),
                    records = report.pending_records,
                    "sending queue: resuming data left by the previous run"
                );
            }
            // Consumers usually read a batch right after it was appended: serve recent ones from
            // memory rather than read(2) + CRC of what was just written. 2 MiB per signal keeps
            // the idle footprint small; a backlog beyond it is read from the file as before.
            q.set_memory_tail_bytes(SENDING_QUEUE_MEMORY_TAIL_BYTES);
            Ok(Arc::new(SignalQueue {
                signal,
                queue: q,
                consumers: Arc::new(Semaphore::new(queue.consumers())),
                configured: Mutex::new(queue.consumers()),
                in_flight: Mutex::new(InFlight::default()),
                counts: Mutex::new(VecDeque::new()),
                direct_paused_until: Mutex::new(None),
                room: Notify::new(),
            }))
        };
        let queues = [open(SIGNALS[0])?, open(SIGNALS[1])?, open(SIGNALS[2])?];
        let inner = Arc::new(Inner {
            id: opts.id.clone(),
            settings: RwLock::new(Arc::new(Settings {
                queue,
                retry,
                sender,
            })),
            metrics,
            queues,
            stopping: CancellationToken::new(),
        });
        let sending = Sending { inner };
        sending.refresh_gauges();
        Ok(sending)
    }

    /// Applies new settings; the queues stay open (their data is kept).
    pub fn update(
        &self,
        queue: QueueArgs,
        retry: RetryArgs,
        sender: SenderRef,
    ) -> Result<(), ComponentError> {
        queue.validate().map_err(ComponentError::Config)?;
        retry.validate().map_err(ComponentError::Config)?;
        for q in &self.inner.queues {
            q.resize(queue.consumers());
        }
        let new = Arc::new(Settings {
            queue,
            retry,
            sender,
        });
        replace_shared(&self.inner.settings, new);
        self.refresh_gauges();
        Ok(())
    }

    fn settings(&self) -> Arc<Settings> {
        current_shared(&self.inner.settings)
    }

    fn queue(&self, signal: Signal) -> &Arc<SignalQueue> {
        match signal {
            Signal::Traces => &self.inner.queues[0],
            Signal::Metrics => &self.inner.queues[1],
            Signal::Logs => &self.inner.queues[2],
        }
    }

    fn refresh_gauges(&self) {
        let s = self.settings();
        let sizer = s.queue.sizer().unwrap_or(Sizer::Requests);
        for q in &self.inner.queues {
            let size = match sizer {
                Sizer::Requests => q.queue.pending_records(),
                Sizer::Bytes => q.queue.pending_bytes(),
            };
            let capacity = if s.queue.enabled {
                s.queue.capacity()
            } else {
                0
            };
            self.inner.metrics.set_queue(q.signal, size, capacity);
        }
    }

    /// The consumer to export as `input`.
    pub fn consumer(&self) -> OtlpConsumerRef {
        Arc::new(self.clone())
    }

    /// Drains the queues until `shutdown`; in-flight sends are abandoned then (their records
    /// stay on disk).
    pub async fn run(&self, shutdown: CancellationToken) {
        let mut tasks = JoinSet::new();
        for q in &self.inner.queues {
            let this = self.clone();
            let q = Arc::clone(q);
            let token = shutdown.clone();
            tasks.spawn(async move { this.dispatch(q, token).await });
        }
        shutdown.cancelled().await;
        self.inner.stopping.cancel();
        while tasks.join_next().await.is_some() {}
    }

    /// Reads records of one signal in order and hands each to a sender task.
    async fn dispatch(&self, q: Arc<SignalQueue>, shutdown: CancellationToken) {
        let mut senders = JoinSet::new();
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                p = Arc::clone(&q.consumers).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = q.queue.wait_for_data() => {}
            }
            let reader = q.queue.clone();
            // One record per read, with a byte budget of 1 so the queue reads one small chunk
            // (or exactly the frame) instead of up to the whole backlog.
            let batch = tokio::task::spawn_blocking(move || reader.read_batch(1, 1)).await;
            let records = match batch {
                Ok(Ok(records)) => records,
                Ok(Err(err)) => {
                    tracing::error!(%err, "sending queue: reading failed; retrying in 1s");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
                Err(join) => {
                    tracing::error!(%join, "sending queue: reader task failed");
                    continue;
                }
            };
            // Reap finished senders so the set does not grow.
            while senders.try_join_next().is_some() {}
            if let Some((seq, record)) = records.into_iter().next() {
                q.start(seq);
                let this = self.clone();
                let q2 = Arc::clone(&q);
                let token = shutdown.clone();
                let signal = q.signal;
                senders.spawn(async move {
                    let _permit = permit;
                    let Some(payload) = decode_record(signal, record, q2.take_count(seq)) else {
                        tracing::error!(seq, "sending queue: dropping a malformed record");
                        q2.finish(seq);
                        return;
                    };
                    match this.send_with_retry(&payload, &token).await {
                        Ok(()) => q2.finish(seq),
                        Err(SendEnd::Shutdown) => {}
                        Err(SendEnd::Failed(_)) => q2.finish(seq),
                    }
                    this.refresh_gauges();
                });
            }
        }
        // Senders notice the cancellation and return without acknowledging.
        while senders.join_next().await.is_some() {}
    }

    /// Sends with retries; counts the outcome in the self-metrics.
    async fn send_with_retry(
        &self,
        payload: &OtlpPayload,
        cancel: &CancellationToken,
    ) -> Result<(), SendEnd> {
        let start = Instant::now();
        let mut backoff: Option<Backoff> = None;
        loop {
            let settings = self.settings();
            let result = tokio::select! {
                _ = cancel.cancelled() => return Err(SendEnd::Shutdown),
                r = settings.sender.send(payload) => r,
            };
            let err = match result {
                Ok(()) => {
                    self.inner.metrics.sent(payload.signal, payload.items);
                    return Ok(());
                }
                Err(err) => err,
            };
            let retry = &settings.retry;
            let give_up = |reason: &str, err: ConsumeError| {
                self.drop_failed(payload, reason, &err);
                Err(SendEnd::Failed(err))
            };
            if !err.is_retryable() {
                return give_up("The error is not retryable. Dropping data.", err);
            }
            if !retry.enabled {
                return give_up("Retries are disabled. Dropping data.", err);
            }
            let b = backoff.get_or_insert_with(|| Backoff::new(retry));
            let mut wait = b.next_wait();
            if let Some(after) = err.retry_after() {
                wait = wait.max(after);
            }
            let max_elapsed = retry.max_elapsed_time.0;
            if !max_elapsed.is_zero() && start.elapsed() + wait > max_elapsed {
                return give_up("No more retries left. Dropping data.", err);
            }
            tracing::info!(
                component_id = %self.inner.id,
                error = %err,
                interval = ?wait,
                "Exporting failed. Will retry the request after interval."
            );
            tokio::select! {
                _ = cancel.cancelled() => return Err(SendEnd::Shutdown),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Logs and counts a request given up on (the Collector's "Exporting failed" error).
    fn drop_failed(&self, payload: &OtlpPayload, reason: &str, err: &ConsumeError) {
        tracing::error!(
            component_id = %self.inner.id,
            error = %err,
            dropped_items = payload.items,
            "Exporting failed. {reason}"
        );
        self.inner
            .metrics
            .send_failed(payload.signal, payload.items);
    }

    /// Appends to the durable queue, refusing (or waiting) when full.
    async fn enqueue(
        &self,
        settings: &Settings,
        payload: &OtlpPayload,
    ) -> Result<(), ConsumeError> {
        let q = self.queue(payload.signal);
        let record_len = payload.encoded.len() as u64;
        let sizer = settings.queue.sizer().unwrap_or(Sizer::Requests);
        let capacity = settings.queue.capacity();
        loop {
            let room = q.room.notified();
            let full = match sizer {
                Sizer::Requests => q.queue.pending_records() >= capacity,
                Sizer::Bytes => q.queue.pending_bytes() + record_len + FRAME_OVERHEAD > capacity,
            };
            let result = if full {
                None
            } else {
                Some(q.queue.append_bytes(payload.encoded.clone()))
            };
            match result {
                Some(Ok(seq)) => {
                    q.remember_count(seq, payload.items);
                    self.refresh_gauges();
                    return Ok(());
                }
                Some(Err(QueueError::Full { .. })) | None if settings.queue.block_on_overflow => {
                    tokio::select! {
                        _ = self.inner.stopping.cancelled() => {
                            return Err(self.refused(payload, "sending queue is full and the exporter is stopping"));
                        }
                        _ = room => {}
                        // Acknowledgements wake us; the timer covers a wakeup lost in between.
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
                Some(Err(QueueError::Full { .. })) | None => {
                    return Err(self.refused(payload, "sending queue is full"));
                }
                Some(Err(QueueError::RecordTooLarge { size, limit })) => {
                    self.inner
                        .metrics
                        .enqueue_failed(payload.signal, payload.items);
                    return Err(ConsumeError::Permanent(format!(
                        "request of {size} bytes can never fit the sending queue (limit {limit})"
                    )));
                }
                Some(Err(err)) => {
                    self.inner
                        .metrics
                        .enqueue_failed(payload.signal, payload.items);
                    return Err(ConsumeError::Retryable {
                        message: format!("sending queue: {err}"),
                        retry_after: None,
                    });
                }
            }
        }
    }

    fn refused(&self, payload: &OtlpPayload, message: &str) -> ConsumeError {
        self.inner
            .metrics
            .enqueue_failed(payload.signal, payload.items);
        ConsumeError::Overloaded {
            message: message.to_string(),
            retry_after: None,
        }
    }
}

/// How a send ended when it did not succeed.
enum SendEnd {
    /// The exporter is stopping; the data was not given up on.
    Shutdown,
    Failed(ConsumeError),
}

/// The payload of a record read from the queue; `known_items` is its remembered item count,
/// if any (see [`SignalQueue::counts`]).
fn decode_record(
    signal: Signal,
    record: bytes::Bytes,
    known_items: Option<u64>,
) -> Option<OtlpPayload> {
    if let Some(items) = known_items {
        return Some(OtlpPayload {
            signal,
            items,
            encoded: record,
        });
    }
    if let Some(legacy) = decode_legacy_record(signal, &record) {
        return Some(legacy);
    }
    let items = crate::wire::count_validated_items(signal, &record).ok()?;
    Some(OtlpPayload {
        signal,
        items,
        encoded: record,
    })
}

/// A record of an earlier version: the item count (u64 LE), then the request, whose items
/// must number exactly that. Tried first because the other order is ambiguous: a legacy
/// record can walk as a request (a count of 145 starts a valid fixed64 field, and the walk
/// skips unknown top-level fields). This order is not: in a current request the count's
/// place holds tags and lengths, and its bytes 4..8 cannot all be zero (byte 4 or 5 is a tag),
/// so it reads as a count of 2^32 or more, which no record can hold.
fn decode_legacy_record(signal: Signal, record: &bytes::Bytes) -> Option<OtlpPayload> {
    let header: [u8; LEGACY_RECORD_HEADER] = record.get(..LEGACY_RECORD_HEADER)?.try_into().ok()?;
    let items = u64::from_le_bytes(header);
    if items >= 1 << 32 {
        return None;
    }
    let encoded = record.slice(LEGACY_RECORD_HEADER..);
    let counted = crate::wire::count_validated_items(signal, &encoded).ok()?;
    (counted == items).then_some(OtlpPayload {
        signal,
        items,
        encoded,
    })
}

/// How long a direct send (see [`Sending::send_direct`]) may take before the request goes to
/// the queue instead: far more than a healthy backend needs for a batch, short enough that a
/// caller never waits long on a slow one.
const DIRECT_SEND_BUDGET: Duration = Duration::from_secs(1);

/// A direct send slower than this pauses direct sends for [`DIRECT_SEND_PAUSE`]: the caller
/// (a batch processor sends one batch at a time) waits for the backend's answer, so with a
/// distant or slow backend a direct send would cap throughput at a batch per answer, where the
/// queue's `num_consumers` senders overlap them. Not lower: a near backend busy decoding a
/// batch of 8192 spans can take over 100 ms, and each pause costs the queue's disk write.
const DIRECT_SEND_FAST: Duration = Duration::from_millis(500);
const DIRECT_SEND_PAUSE: Duration = Duration::from_secs(10);

/// What became of a direct send.
enum Direct {
    /// Delivered, or refused for good (dropped and counted, as a queued request would be).
    Done,
    /// Not delivered: the request goes to the queue.
    Queue,
}

impl Sending {
    /// With the queue empty and a consumer free, a request is sent at once, and written to the
    /// queue only if that fails or takes longer than [`DIRECT_SEND_BUDGET`]. The caller's `Ok`
    /// still means "delivered or durable" (DESIGN §4): a delivered request needs no disk copy,
    /// so a backend that keeps up costs the queue nothing (its file write, CRC and syncs were
    /// ~10% of the pass-through CPU). A failed or slow direct send leaves the request in the
    /// queue, so direct sends stop until the queue has drained (no reordering behind a backlog,
    /// and a slow backend does not get every request twice). Direct and queued sends share the
    /// `num_consumers` permits. A direct send slower than [`DIRECT_SEND_FAST`] pauses them for
    /// [`DIRECT_SEND_PAUSE`].
    async fn send_direct(&self, settings: &Settings, payload: &OtlpPayload) -> Direct {
        let q = self.queue(payload.signal);
        let paused = lock(&q.direct_paused_until).is_some_and(|until| Instant::now() < until);
        if paused || self.inner.stopping.is_cancelled() || q.queue.pending_records() > 0 {
            return Direct::Queue;
        }
        let Ok(_permit) = Arc::clone(&q.consumers).try_acquire_owned() else {
            return Direct::Queue;
        };
        let started = Instant::now();
        let sent = tokio::time::timeout(DIRECT_SEND_BUDGET, settings.sender.send(payload)).await;
        if started.elapsed() > DIRECT_SEND_FAST {
            *lock(&q.direct_paused_until) = Some(Instant::now() + DIRECT_SEND_PAUSE);
        }
        match sent {
            Ok(Ok(())) => {
                self.inner.metrics.sent(payload.signal, payload.items);
                Direct::Done
            }
            Ok(Err(err)) if !err.is_retryable() => {
                self.drop_failed(payload, "The error is not retryable. Dropping data.", &err);
                Direct::Done
            }
            Ok(Err(err)) => {
                tracing::debug!(component_id = %self.inner.id, error = %err, "direct send failed; queueing the request");
                Direct::Queue
            }
            Err(_) => {
                tracing::debug!(component_id = %self.inner.id, "direct send too slow; queueing the request");
                Direct::Queue
            }
        }
    }
}

#[async_trait::async_trait]
impl OtlpConsumer for Sending {
    async fn consume(&self, payload: OtlpPayload) -> Result<(), ConsumeError> {
        let settings = self.settings();
        if settings.queue.enabled {
            if let Direct::Done = self.send_direct(&settings, &payload).await {
                return Ok(());
            }
            return self.enqueue(&settings, &payload).await;
        }
        match self.send_with_retry(&payload, &self.inner.stopping).await {
            Ok(()) => Ok(()),
            Err(SendEnd::Failed(err)) => Err(err),
            Err(SendEnd::Shutdown) => Err(ConsumeError::Retryable {
                message: format!("{} is stopping", self.inner.id),
                retry_after: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
