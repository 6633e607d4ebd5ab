//! One endpoint's sending side: a reader drains the endpoint's durable queue, relabels, and
//! hands items to shards by series hash (so one series' samples stay in order); each shard
//! batches up to `max_samples_per_send` or `batch_send_deadline`, sends with retries, and
//! acknowledges. A queue record is committed only once every item read from it was acknowledged
//! by the endpoint (or dropped as unsendable), and records are committed in order, so after a
//! restart everything unacknowledged is sent again (at-least-once). Metadata does not travel
//! with the data: [`metadata`] sends it on its own schedule.

mod metadata;

pub(crate) use metadata::{MetadataSettings, MetadataStore};

use super::client::{Backoff, RemoteWriteClient, SendError};
use super::encode::SnappyEncoder;
use super::fast_hash::hash_one;
use super::metrics::{Metrics, REASON_DROPPED_SERIES, REASON_TOO_OLD};
use super::record::decode_metadata;
use super::request::{
    encode_request, prepare_record, sorted_external, OutputLabels, Prepared, SendItem,
};
use super::run::{expand_run, read_run, split_run, Run};
use super::shards::{ShardCalculator, Totals};
use bytes::Bytes;
use prometheus::{Counter, Gauge, Histogram};
use solder_core::health::HealthReporter;
use solder_core::queue::{Queue, Seq};
use solder_core::relabel::Rule;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Records read from the queue per read call, and their byte budget.
const READ_RECORDS: usize = 64;
const READ_BYTES: u64 = 4 << 20;

/// How long resharding waits for the old shards to send what they hold before stopping them
/// (what they had not sent is read again from the queue).
const FLUSH_DEADLINE: Duration = Duration::from_secs(60);

/// After a queue read error, wait this long before trying again.
const READ_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Everything an endpoint's sender needs, fixed for one configuration.
pub(crate) struct Settings {
    pub remote_name: String,
    pub url: String,
    pub client: RemoteWriteClient,
    pub rules: Vec<Rule>,
    pub external_labels: Vec<(String, String)>,
    pub capacity: usize,
    pub min_shards: usize,
    pub max_shards: usize,
    pub max_samples_per_send: usize,
    pub batch_send_deadline: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    pub sample_age_limit: Duration,
    pub send_exemplars: bool,
    pub metadata: MetadataSettings,
    /// [`super::shards::SHARD_UPDATE_INTERVAL`]; shorter only in tests.
    pub shard_update_interval: Duration,
}

/// The endpoint's metric children (labelled with `remote_name` and `url`).
pub(crate) struct EndpointMetrics {
    samples_total: Counter,
    samples_failed: Counter,
    samples_retried: Counter,
    samples_dropped_series: Counter,
    samples_too_old: Counter,
    samples_pending: Gauge,
    exemplars_total: Counter,
    exemplars_failed: Counter,
    exemplars_retried: Counter,
    exemplars_dropped_series: Counter,
    exemplars_too_old: Counter,
    exemplars_pending: Gauge,
    metadata_total: Counter,
    metadata_failed: Counter,
    metadata_retried: Counter,
    metadata_bytes: Counter,
    bytes_total: Counter,
    sent_batch_duration: Histogram,
    highest_sent_timestamp: Gauge,
    shards: Gauge,
    shards_desired: Gauge,
    pub(crate) wal_pending_bytes: Gauge,
    pub(crate) wal_dropped_records: Counter,
    pub(crate) wal_dropped_bytes: Counter,
    wal_corruptions: Counter,
}

impl EndpointMetrics {
    pub(crate) fn new(m: &Metrics, s: &Settings) -> Self {
        let l = [s.remote_name.as_str(), s.url.as_str()];
        let dropped =
            |v: &prometheus::CounterVec, reason: &str| v.with_label_values(&[l[0], l[1], reason]);
        m.shards_min.with_label_values(&l).set(s.min_shards as f64);
        m.shards_max.with_label_values(&l).set(s.max_shards as f64);
        m.shard_capacity
            .with_label_values(&l)
            .set(s.capacity as f64);
        m.max_samples_per_send
            .with_label_values(&l)
            .set(s.max_samples_per_send as f64);
        EndpointMetrics {
            samples_total: m.samples_total.with_label_values(&l),
            samples_failed: m.samples_failed.with_label_values(&l),
            samples_retried: m.samples_retried.with_label_values(&l),
            samples_dropped_series: dropped(&m.samples_dropped, REASON_DROPPED_SERIES),
            samples_too_old: dropped(&m.samples_dropped, REASON_TOO_OLD),
            samples_pending: m.samples_pending.with_label_values(&l),
            exemplars_total: m.exemplars_total.with_label_values(&l),
            exemplars_failed: m.exemplars_failed.with_label_values(&l),
            exemplars_retried: m.exemplars_retried.with_label_values(&l),
            exemplars_dropped_series: dropped(&m.exemplars_dropped, REASON_DROPPED_SERIES),
            exemplars_too_old: dropped(&m.exemplars_dropped, REASON_TOO_OLD),
            exemplars_pending: m.exemplars_pending.with_label_values(&l),
            metadata_total: m.metadata_total.with_label_values(&l),
            metadata_failed: m.metadata_failed.with_label_values(&l),
            metadata_retried: m.metadata_retried.with_label_values(&l),
            metadata_bytes: m.metadata_bytes.with_label_values(&l),
            bytes_total: m.bytes_total.with_label_values(&l),
            sent_batch_duration: m.sent_batch_duration.with_label_values(&l),
            highest_sent_timestamp: m.highest_sent_timestamp.with_label_values(&l),
            shards: m.shards.with_label_values(&l),
            shards_desired: m.shards_desired.with_label_values(&l),
            wal_pending_bytes: m.wal_pending_bytes.with_label_values(&l),
            wal_dropped_records: m.wal_dropped_records.with_label_values(&l),
            wal_dropped_bytes: m.wal_dropped_bytes.with_label_values(&l),
            wal_corruptions: m.wal_corruptions.clone(),
        }
    }
}

/// Items of one queue record bound for one shard. Items travel in chunks, not one by one: a
/// channel operation per sample cost more than encoding it.
struct Chunk {
    seq: Seq,
    piece: Piece,
}

/// What a record (or part of one) became for the shards.
enum Piece {
    Items {
        items: Vec<SendItem>,
        /// What the items' spans point into (the record's [`Prepared::buffers`]).
        buffers: Vec<Bytes>,
    },
    /// Samples sent as the record holds them (see [`super::run`]); `run` indexes `[record]`.
    Run { run: Run, record: Bytes },
}

impl Piece {
    const EMPTY: Piece = Piece::Items {
        items: Vec::new(),
        buffers: Vec::new(),
    };

    /// Samples and exemplars: what the piece counts in acknowledgements and shard room.
    fn len(&self) -> usize {
        match self {
            Piece::Items { items, .. } => items.len(),
            Piece::Run { run, .. } => run.samples,
        }
    }

    /// `(samples, exemplars)`.
    fn counts(&self) -> (usize, usize) {
        match self {
            Piece::Items { items, .. } => {
                let exemplars = items.iter().filter(|i| i.is_exemplar()).count();
                (items.len() - exemplars, exemplars)
            }
            Piece::Run { run, .. } => (run.samples, 0),
        }
    }
}

/// The shard a series' items go to: a hash of its final label bytes, so one series' samples
/// stay in one shard and in order.
fn shard_of(series: &[u8], shards: usize) -> usize {
    (hash_one(series) % shards.max(1) as u64) as usize
}

/// Counters the shard calculation reads.
#[derive(Default)]
struct SendStats {
    samples_in: AtomicU64,
    samples_out: AtomicU64,
    send_nanos: AtomicU64,
    /// The latest send failed and is being retried (no scaling up meanwhile).
    failing: AtomicBool,
    /// Health was set unhealthy by a send; the next success restores it.
    degraded: AtomicBool,
}

/// One endpoint: its settings, queue and metrics.
pub(crate) struct EndpointSender {
    pub(crate) settings: Settings,
    pub(crate) queue: Queue,
    pub(crate) metrics: EndpointMetrics,
    health: HealthReporter,
    stats: SendStats,
    metadata_store: Arc<MetadataStore>,
    /// `settings.external_labels` sorted by name, one value per name.
    external: Vec<(String, String)>,
    /// Nothing rewrites labels or drops samples by age: records can be sent as runs.
    plain: bool,
}

enum Outcome {
    Shutdown,
    Reshard(usize),
    ReadFailed,
}

impl EndpointSender {
    pub(crate) fn new(
        settings: Settings,
        queue: Queue,
        metrics: EndpointMetrics,
        health: HealthReporter,
        metadata_store: Arc<MetadataStore>,
    ) -> Self {
        EndpointSender {
            external: sorted_external(&settings.external_labels),
            plain: settings.rules.is_empty()
                && settings.external_labels.is_empty()
                && settings.sample_age_limit.is_zero(),
            settings,
            queue,
            metrics,
            health,
            stats: SendStats::default(),
            metadata_store,
        }
    }

    /// Sends data and metadata until `shutdown`.
    pub(crate) async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        tokio::join!(
            Arc::clone(&self).run_data(shutdown.clone()),
            self.run_metadata(shutdown)
        );
    }

    /// Sends queued data until `shutdown`. What was read but not acknowledged when it stops is
    /// made readable again, for the next run (after an update) or the next process.
    async fn run_data(self: Arc<Self>, shutdown: CancellationToken) {
        let mut shards = self.settings.min_shards;
        let mut calc = ShardCalculator::default();
        loop {
            self.metrics.shards.set(shards as f64);
            let generation = Generation::start(&self, shards);
            let outcome = self
                .read_loop(&generation, &shutdown, &mut calc, shards)
                .await;
            match outcome {
                Outcome::Shutdown => {
                    generation.stop_now().await;
                    self.queue.rewind();
                    return;
                }
                Outcome::ReadFailed => {
                    generation.stop_now().await;
                    self.queue.rewind();
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(READ_ERROR_PAUSE) => {}
                    }
                }
                Outcome::Reshard(n) => {
                    if !generation.drain(FLUSH_DEADLINE).await {
                        self.queue.rewind();
                    }
                    shards = n;
                }
            }
        }
    }

    async fn read_loop(
        &self,
        generation: &Generation,
        shutdown: &CancellationToken,
        calc: &mut ShardCalculator,
        current: usize,
    ) -> Outcome {
        let mut tick = tokio::time::interval(self.settings.shard_update_interval);
        tick.tick().await;
        let mut last_tick = Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Outcome::Shutdown,
                _ = tick.tick() => {
                    let n = self.desired_shards(calc, current, last_tick.elapsed());
                    last_tick = Instant::now();
                    self.metrics.shards_desired.set(n as f64);
                    self.metrics.wal_pending_bytes.set(self.queue.pending_bytes() as f64);
                    if n != current {
                        return Outcome::Reshard(n);
                    }
                }
                _ = self.queue.wait_for_data() => {
                    let records = match self.queue.read_batch(READ_RECORDS, READ_BYTES) {
                        Ok(r) => r,
                        Err(e) => {
                            self.health.unhealthy(format!(
                                "endpoint {}: reading the WAL failed: {e}",
                                self.settings.remote_name
                            ));
                            return Outcome::ReadFailed;
                        }
                    };
                    for (seq, payload) in records {
                        let piece = self.prepare(&payload);
                        generation.tracker.register(seq, piece.len());
                        if let Err(outcome) =
                            self.route(generation, shutdown, seq, piece).await
                        {
                            return outcome;
                        }
                    }
                    self.metrics.wal_pending_bytes.set(self.queue.pending_bytes() as f64);
                }
            }
        }
    }

    /// Hands a record's samples to their shards, waiting for room (`capacity` items per
    /// shard).
    async fn route(
        &self,
        generation: &Generation,
        shutdown: &CancellationToken,
        seq: Seq,
        piece: Piece,
    ) -> Result<(), Outcome> {
        match piece {
            Piece::Items { items, buffers } => {
                self.route_items(generation, shutdown, seq, items, buffers)
                    .await
            }
            Piece::Run { run, record } => {
                self.route_run(generation, shutdown, seq, run, record).await
            }
        }
    }

    /// Hands items to the shards of their series.
    async fn route_items(
        &self,
        generation: &Generation,
        shutdown: &CancellationToken,
        seq: Seq,
        items: Vec<SendItem>,
        buffers: Vec<Bytes>,
    ) -> Result<(), Outcome> {
        let shards = generation.shards.len();
        let mut per_shard: Vec<Vec<SendItem>> = (0..shards).map(|_| Vec::new()).collect();
        if shards == 1 {
            per_shard[0] = items;
        } else {
            for item in items {
                per_shard[shard_of(item.series.get(&buffers), shards)].push(item);
            }
        }
        let room_max = self.settings.capacity.max(1);
        for (shard, mut items) in generation.shards.iter().zip(per_shard) {
            while !items.is_empty() {
                // A chunk never needs more room than the shard has in all.
                let rest = if items.len() > room_max {
                    items.split_off(room_max)
                } else {
                    Vec::new()
                };
                let piece = Piece::Items {
                    items,
                    buffers: buffers.clone(),
                };
                self.hand_over(shard, shutdown, seq, piece).await?;
                items = rest;
            }
        }
        Ok(())
    }

    /// Hands a run to the only shard, cut where it holds more than the shard's room; with
    /// several shards, as items.
    async fn route_run(
        &self,
        generation: &Generation,
        shutdown: &CancellationToken,
        seq: Seq,
        mut run: Run,
        record: Bytes,
    ) -> Result<(), Outcome> {
        let buffers = std::slice::from_ref(&record);
        let shard = match generation.shards.as_slice() {
            [one] => one,
            // Several shards: each series' samples go to the shard of its hash.
            _ => {
                let items = self.expand(&run, buffers, &generation.tracker, seq);
                return self
                    .route_items(generation, shutdown, seq, items, vec![record])
                    .await;
            }
        };
        let room_max = self.settings.capacity.max(1);
        while run.samples > room_max {
            match split_run(&run, buffers, room_max) {
                Ok(Some((head, tail))) => {
                    let piece = Piece::Run {
                        run: head,
                        record: record.clone(),
                    };
                    self.hand_over(shard, shutdown, seq, piece).await?;
                    run = tail;
                }
                // One series with more samples than the room: as items, which can be cut
                // anywhere.
                _ => {
                    let items = self.expand(&run, buffers, &generation.tracker, seq);
                    return self
                        .route_items(generation, shutdown, seq, items, vec![record])
                        .await;
                }
            }
        }
        self.hand_over(shard, shutdown, seq, Piece::Run { run, record })
            .await
    }

    /// Waits for room in `shard` and sends it `piece` (no larger than the shard's capacity).
    async fn hand_over(
        &self,
        shard: &ShardInput,
        shutdown: &CancellationToken,
        seq: Seq,
        piece: Piece,
    ) -> Result<(), Outcome> {
        let n = piece.len();
        let permit = tokio::select! {
            p = shard.room.acquire_many(n as u32) => p,
            _ = shutdown.cancelled() => return Err(Outcome::Shutdown),
        };
        match permit {
            // The shard gives the room back when it takes the items.
            Ok(p) => p.forget(),
            Err(_) => return Err(Outcome::Shutdown),
        }
        let (samples, exemplars) = piece.counts();
        self.metrics.samples_pending.add(samples as f64);
        self.metrics.exemplars_pending.add(exemplars as f64);
        if let Err(mpsc::error::SendError(chunk)) = shard.tx.send(Chunk { seq, piece }) {
            // The shard died (it only does when aborted).
            let (samples, exemplars) = chunk.piece.counts();
            self.metrics.samples_pending.sub(samples as f64);
            self.metrics.exemplars_pending.sub(exemplars as f64);
            return Err(Outcome::Shutdown);
        }
        Ok(())
    }

    /// A run's samples as items. A run that cannot be read (its record passed the queue's
    /// checksum, so only a bug gets here) is counted as a corruption and acknowledged as done,
    /// so the records after it are not held up.
    fn expand(
        &self,
        run: &Run,
        buffers: &[Bytes],
        tracker: &AckTracker,
        seq: Seq,
    ) -> Vec<SendItem> {
        match expand_run(run, buffers) {
            Ok(items) if items.len() == run.samples => items,
            Ok(items) => {
                self.metrics.wal_corruptions.inc();
                tracker.done(seq, run.samples.saturating_sub(items.len()));
                items
            }
            Err(_) => {
                self.metrics.wal_corruptions.inc();
                tracker.done(seq, run.samples);
                Vec::new()
            }
        }
    }

    fn desired_shards(
        &self,
        calc: &mut ShardCalculator,
        current: usize,
        interval: Duration,
    ) -> usize {
        let totals = Totals {
            samples_in: self.stats.samples_in.load(Ordering::Relaxed),
            samples_out: self.stats.samples_out.load(Ordering::Relaxed),
            send_seconds: self.stats.send_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        };
        // Buffered in shards, plus unread records at the average record size seen so far.
        let in_records = self.queue.stats().committed_records.load(Ordering::Relaxed) + 1;
        let per_record = totals.samples_in as f64 / in_records as f64;
        let backlog =
            self.metrics.samples_pending.get() + self.queue.unread_records() as f64 * per_record;
        calc.desired(
            current,
            self.settings.min_shards,
            self.settings.max_shards,
            totals,
            backlog,
            interval,
            self.stats.failing.load(Ordering::Relaxed),
        )
    }

    /// Reads a record and applies `write_relabel_config` and external labels; counts what
    /// relabeling drops. A record whose labels need nothing of that becomes a run.
    fn prepare(&self, payload: &Bytes) -> Piece {
        if self.plain {
            match read_run(payload) {
                Ok(Some(run)) => {
                    self.stats
                        .samples_in
                        .fetch_add(run.samples as u64, Ordering::Relaxed);
                    return Piece::Run {
                        run,
                        record: payload.clone(),
                    };
                }
                Ok(None) => {}
                Err(_) => {
                    self.metrics.wal_corruptions.inc();
                    return Piece::EMPTY;
                }
            }
        }
        let out = OutputLabels {
            rules: &self.settings.rules,
            external: &self.external,
            send_exemplars: self.settings.send_exemplars,
        };
        let prepared = match prepare_record(payload, &out) {
            Ok(p) => p,
            Err(_) => {
                self.metrics.wal_corruptions.inc();
                return Piece::EMPTY;
            }
        };
        self.stats
            .samples_in
            .fetch_add(prepared.samples_in as u64, Ordering::Relaxed);
        self.metrics
            .samples_dropped_series
            .inc_by(prepared.samples_dropped as f64);
        self.metrics
            .exemplars_dropped_series
            .inc_by(prepared.exemplars_dropped as f64);
        if !prepared.metadata.is_empty() {
            // Records written before metadata moved out of the queue may still carry some.
            let metadata: Vec<_> = prepared
                .metadata
                .iter()
                .filter_map(|m| decode_metadata(m).ok())
                .collect();
            self.metadata_store.update(&metadata);
        }
        let Prepared { items, buffers, .. } = prepared;
        Piece::Items { items, buffers }
    }

    /// Sends one batch until it is delivered or refused for good, then acknowledges its items.
    async fn send_batch(&self, batch: Batch, tracker: &AckTracker, encoder: &mut SnappyEncoder) {
        let Batch {
            mut items,
            runs,
            run_samples,
            buffers,
            acks,
        } = batch;
        let m = &self.metrics;
        // Runs hold samples only.
        let count = |items: &[SendItem]| {
            let exemplars = items.iter().filter(|i| i.is_exemplar()).count();
            (items.len() - exemplars + run_samples, exemplars)
        };
        let pending = count(&items);
        let mut backoff = Backoff::new(self.settings.min_backoff, self.settings.max_backoff);
        loop {
            // Runs exist only without a `sample_age_limit` (see `prepare`).
            self.drop_too_old(&mut items);
            if items.is_empty() && runs.is_empty() {
                break;
            }
            let (samples, exemplars) = count(&items);
            // The shard is busy from here: building and compressing the request costs CPU
            // time comparable to a local round trip, and the shard count must cover both.
            let busy_from = Instant::now();
            let body = match encoder.encode_to_bytes(|b| encode_request(&items, &runs, &buffers, b))
            {
                Ok(body) => body,
                Err(e) => {
                    self.health
                        .unhealthy(format!("encoding a write request failed: {e}"));
                    m.samples_failed.inc_by(samples as f64);
                    m.exemplars_failed.inc_by(exemplars as f64);
                    break;
                }
            };
            let (ns, ne) = (samples as f64, exemplars as f64);
            // Prometheus counts every attempt in `*_total`.
            m.samples_total.inc_by(ns);
            m.exemplars_total.inc_by(ne);
            let started = Instant::now();
            let result = self.settings.client.send(body.clone()).await;
            let took = started.elapsed();
            m.sent_batch_duration.observe(took.as_secs_f64());
            self.stats.send_nanos.fetch_add(
                u64::try_from(busy_from.elapsed().as_nanos()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            match result {
                Ok(()) => {
                    m.bytes_total.inc_by(body.len() as f64);
                    self.stats
                        .samples_out
                        .fetch_add(samples as u64, Ordering::Relaxed);
                    self.stats.failing.store(false, Ordering::Relaxed);
                    if self.stats.degraded.swap(false, Ordering::Relaxed) {
                        self.health.healthy(format!(
                            "endpoint {}: sending again",
                            self.settings.remote_name
                        ));
                    }
                    let newest = items
                        .iter()
                        .filter(|i| !i.is_exemplar())
                        .map(|i| i.timestamp_ms)
                        .chain(runs.iter().map(|(_, r)| r.max_ts))
                        .max();
                    if let Some(max_ts) = newest {
                        let secs = max_ts as f64 / 1000.0;
                        if secs > m.highest_sent_timestamp.get() {
                            m.highest_sent_timestamp.set(secs);
                        }
                    }
                    break;
                }
                Err(SendError::Retryable {
                    retry_after,
                    message,
                    ..
                }) => {
                    self.stats.failing.store(true, Ordering::Relaxed);
                    self.stats.degraded.store(true, Ordering::Relaxed);
                    self.health.unhealthy(format!(
                        "endpoint {}: {message}; retrying",
                        self.settings.remote_name
                    ));
                    m.samples_retried.inc_by(ns);
                    m.exemplars_retried.inc_by(ne);
                    let delay = backoff.next();
                    tokio::time::sleep(retry_after.unwrap_or(delay)).await;
                }
                Err(SendError::Permanent { message, .. }) => {
                    self.stats.degraded.store(true, Ordering::Relaxed);
                    self.health.unhealthy(format!(
                        "endpoint {}: {message}; data dropped",
                        self.settings.remote_name
                    ));
                    m.samples_failed.inc_by(ns);
                    m.exemplars_failed.inc_by(ne);
                    break;
                }
            }
        }
        m.samples_pending.sub(pending.0 as f64);
        m.exemplars_pending.sub(pending.1 as f64);
        for (seq, n) in acks {
            tracker.done(seq, n);
        }
    }

    /// `sample_age_limit`: samples (and exemplars) older than the limit are not worth sending
    /// any more, checked before every attempt as in Prometheus.
    fn drop_too_old(&self, items: &mut Vec<SendItem>) {
        let limit = self.settings.sample_age_limit;
        if limit.is_zero() {
            return;
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let cutoff = now_ms - i64::try_from(limit.as_millis()).unwrap_or(i64::MAX);
        let (mut samples, mut exemplars) = (0usize, 0usize);
        items.retain(|i| {
            let keep = i.timestamp_ms >= cutoff;
            if !keep {
                *if i.is_exemplar() {
                    &mut exemplars
                } else {
                    &mut samples
                } += 1;
            }
            keep
        });
        self.metrics.samples_too_old.inc_by(samples as f64);
        self.metrics.exemplars_too_old.inc_by(exemplars as f64);
    }
}

/// Commits queue records once all their items are acknowledged, in order.
struct AckTracker {
    queue: Queue,
    health: HealthReporter,
    pending_bytes: Gauge,
    outstanding: Mutex<BTreeMap<Seq, usize>>,
}

impl AckTracker {
    fn register(&self, seq: Seq, items: usize) {
        let mut map = self
            .outstanding
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.insert(seq, items);
        self.advance(&mut map);
    }

    fn done(&self, seq: Seq, items: usize) {
        let mut map = self
            .outstanding
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(left) = map.get_mut(&seq) {
            *left = left.saturating_sub(items);
        }
        self.advance(&mut map);
    }

    fn advance(&self, map: &mut BTreeMap<Seq, usize>) {
        let mut last = None;
        while let Some((&seq, &left)) = map.first_key_value() {
            if left > 0 {
                break;
            }
            map.pop_first();
            last = Some(seq);
        }
        if let Some(seq) = last {
            // A failed commit only means redelivery after a restart.
            if let Err(e) = self.queue.commit(seq) {
                self.health
                    .unhealthy(format!("committing the WAL cursor failed: {e}"));
            }
            self.pending_bytes.set(self.queue.pending_bytes() as f64);
        }
    }
}

/// The shards of one shard count.
struct Generation {
    shards: Vec<ShardInput>,
    handles: Vec<JoinHandle<()>>,
    tracker: Arc<AckTracker>,
}

/// A shard's input: chunks, and room for `capacity` items between reader and shard.
struct ShardInput {
    tx: mpsc::UnboundedSender<Chunk>,
    room: Arc<Semaphore>,
}

impl Generation {
    fn start(ep: &Arc<EndpointSender>, shards: usize) -> Generation {
        let tracker = Arc::new(AckTracker {
            queue: ep.queue.clone(),
            health: ep.health.clone(),
            pending_bytes: ep.metrics.wal_pending_bytes.clone(),
            outstanding: Mutex::new(BTreeMap::new()),
        });
        let mut inputs = Vec::with_capacity(shards);
        let mut handles = Vec::with_capacity(shards);
        for _ in 0..shards.max(1) {
            let (tx, rx) = mpsc::unbounded_channel();
            let room = Arc::new(Semaphore::new(ep.settings.capacity.max(1)));
            handles.push(tokio::spawn(shard_loop(
                Arc::clone(ep),
                rx,
                Arc::clone(&room),
                Arc::clone(&tracker),
            )));
            inputs.push(ShardInput { tx, room });
        }
        Generation {
            shards: inputs,
            handles,
            tracker,
        }
    }

    /// Closes the shards' inputs and waits for them to send what they hold; `false` if they
    /// had to be stopped at the deadline.
    async fn drain(self, deadline: Duration) -> bool {
        drop(self.shards);
        let mut handles = self.handles;
        let all = futures_join_all(&mut handles);
        match tokio::time::timeout(deadline, all).await {
            Ok(()) => true,
            Err(_) => {
                for h in &handles {
                    h.abort();
                }
                for h in handles {
                    let _ = h.await;
                }
                false
            }
        }
    }

    async fn stop_now(self) {
        drop(self.shards);
        for h in &self.handles {
            h.abort();
        }
        for h in self.handles {
            let _ = h.await;
        }
    }
}

/// Waits for every handle (without taking them, so the caller can still abort them).
async fn futures_join_all(handles: &mut [JoinHandle<()>]) {
    for h in handles.iter_mut() {
        let _ = h.await;
    }
}

enum Event {
    Chunk(Chunk),
    Deadline,
    Closed,
}

/// What a shard holds for its next request: items and runs in order (each run with the
/// number of items before it), the buffers their spans point into, and per record how many
/// samples and exemplars.
#[derive(Default)]
struct Batch {
    items: Vec<SendItem>,
    runs: Vec<(usize, Run)>,
    run_samples: usize,
    buffers: Vec<Bytes>,
    acks: Vec<(Seq, usize)>,
}

impl Batch {
    fn len(&self) -> usize {
        self.items.len() + self.run_samples
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds items of record `seq` whose spans point into `buffers`.
    fn extend(&mut self, seq: Seq, items: &[SendItem], buffers: &[Bytes]) {
        if items.is_empty() {
            return;
        }
        // Spans index the chunk's buffers; here they index the batch's, after the ones it has.
        let base = u32::try_from(self.buffers.len()).unwrap_or(u32::MAX);
        self.buffers.extend_from_slice(buffers);
        self.items.extend(items.iter().map(|i| i.rebased(base)));
        self.ack(seq, items.len());
    }

    /// Adds a run of record `seq` whose span points into `record`.
    fn push_run(&mut self, seq: Seq, run: Run, record: &Bytes) {
        let base = u32::try_from(self.buffers.len()).unwrap_or(u32::MAX);
        self.buffers.push(record.clone());
        self.runs.push((self.items.len(), run.rebased(base)));
        self.run_samples += run.samples;
        self.ack(seq, run.samples);
    }

    fn ack(&mut self, seq: Seq, n: usize) {
        match self.acks.last_mut() {
            Some((last, count)) if *last == seq => *count += n,
            _ => self.acks.push((seq, n)),
        }
    }
}

/// The most items a shard reserves for the request it starts filling (48 bytes each).
const MAX_ITEMS_RESERVED: usize = 1 << 14;

/// A shard's request being filled, and what sends it.
struct ShardState {
    ep: Arc<EndpointSender>,
    tracker: Arc<AckTracker>,
    /// `max_samples_per_send`.
    max: usize,
    batch: Batch,
    /// When the batch is sent even if not full (`batch_send_deadline` after it started).
    deadline: Option<tokio::time::Instant>,
    encoder: SnappyEncoder,
}

impl ShardState {
    /// Room left in the batch, starting its deadline if it is empty.
    fn room(&mut self) -> usize {
        if self.batch.is_empty() {
            self.deadline =
                Some(tokio::time::Instant::now() + self.ep.settings.batch_send_deadline);
        }
        self.max - self.batch.len().min(self.max)
    }

    async fn flush(&mut self) {
        self.deadline = None;
        if !self.batch.is_empty() {
            let b = std::mem::take(&mut self.batch);
            self.ep
                .send_batch(b, &self.tracker, &mut self.encoder)
                .await;
        }
    }

    async fn add_items(&mut self, seq: Seq, items: &[SendItem], buffers: &[Bytes]) {
        let mut rest = items;
        while !rest.is_empty() {
            if self.batch.items.is_empty() {
                // A full request's room up front: grown by doubling, the items of a
                // 2,000-sample request were copied eleven times.
                self.batch.items.reserve(self.max.min(MAX_ITEMS_RESERVED));
            }
            // As many as fit the request being filled, in one step.
            let take = self.room().clamp(1, rest.len());
            let (now, later) = rest.split_at(take);
            self.batch.extend(seq, now, buffers);
            rest = later;
            if self.batch.len() >= self.max {
                self.flush().await;
            }
        }
    }

    async fn add_run(&mut self, seq: Seq, mut run: Run, record: &Bytes) {
        let buffers = std::slice::from_ref(record);
        loop {
            let room = self.room();
            if run.samples <= room {
                self.batch.push_run(seq, run, record);
                if self.batch.len() >= self.max {
                    self.flush().await;
                }
                return;
            }
            match split_run(&run, buffers, room) {
                Ok(Some((head, tail))) => {
                    self.batch.push_run(seq, head, record);
                    self.flush().await;
                    run = tail;
                }
                // Not even the first series fits what is left: send what the batch holds and
                // try again with a whole request's room.
                Ok(None) if !self.batch.is_empty() => self.flush().await,
                // One series with more samples than a request: as items, cut anywhere.
                _ => {
                    let items = self.ep.expand(&run, buffers, &self.tracker, seq);
                    self.add_items(seq, &items, buffers).await;
                    return;
                }
            }
        }
    }
}

async fn shard_loop(
    ep: Arc<EndpointSender>,
    mut rx: mpsc::UnboundedReceiver<Chunk>,
    room: Arc<Semaphore>,
    tracker: Arc<AckTracker>,
) {
    let mut shard = ShardState {
        max: ep.settings.max_samples_per_send.max(1),
        ep,
        tracker,
        batch: Batch::default(),
        deadline: None,
        encoder: SnappyEncoder::new(),
    };
    loop {
        let event = match shard.deadline {
            None => match rx.recv().await {
                Some(c) => Event::Chunk(c),
                None => Event::Closed,
            },
            Some(at) => tokio::select! {
                r = rx.recv() => match r {
                    Some(c) => Event::Chunk(c),
                    None => Event::Closed,
                },
                _ = tokio::time::sleep_until(at) => Event::Deadline,
            },
        };
        match event {
            Event::Chunk(Chunk { seq, piece }) => {
                room.add_permits(piece.len());
                match piece {
                    Piece::Items { items, buffers } => shard.add_items(seq, &items, &buffers).await,
                    Piece::Run { run, record } => shard.add_run(seq, run, &record).await,
                }
            }
            Event::Deadline => shard.flush().await,
            Event::Closed => {
                shard.flush().await;
                return;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use solder_core::queue::{FsyncPolicy, QueueOptions};
    use solder_core::signals::metrics::{Labels, Sample};

    fn tracker(dir: &std::path::Path) -> AckTracker {
        let opts = QueueOptions {
            max_bytes: 1 << 20,
            segment_bytes: 1 << 16,
            fsync: FsyncPolicy::Never,
        };
        let (queue, _) = Queue::open(dir, opts).unwrap();
        AckTracker {
            queue,
            health: HealthReporter::new(),
            pending_bytes: Gauge::new("pending", "pending").unwrap(),
            outstanding: Mutex::new(BTreeMap::new()),
        }
    }

    #[test]
    fn commits_only_the_acknowledged_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let t = tracker(dir.path());
        for payload in [b"a", b"b", b"c", b"d"] {
            t.queue.append(payload).unwrap();
        }
        let read = t.queue.read_batch(10, 1 << 20).unwrap();
        let seqs: Vec<Seq> = read.iter().map(|(s, _)| *s).collect();
        t.register(seqs[0], 2);
        t.register(seqs[1], 1);
        t.register(seqs[2], 0);
        t.register(seqs[3], 1);
        // A later record finishing first commits nothing: the first is still out.
        t.done(seqs[1], 1);
        assert_eq!(t.queue.pending_records(), 4);
        t.done(seqs[0], 1);
        assert_eq!(t.queue.pending_records(), 4);
        // The first completes: it and the finished ones after it (including the empty one)
        // are committed, up to the one still out.
        t.done(seqs[0], 1);
        assert_eq!(t.queue.pending_records(), 1);
        assert_eq!(t.pending_bytes.get(), t.queue.pending_bytes() as f64);
        t.done(seqs[3], 1);
        assert_eq!(t.queue.pending_records(), 0);
        assert_eq!(t.pending_bytes.get(), 0.0);
    }

    /// What a test endpoint received: `(first label value, timestamp)` per sample, and the
    /// samples of each request.
    #[derive(Default)]
    struct Received {
        samples: Vec<(String, i64)>,
        requests: Vec<usize>,
    }

    /// An endpoint answering every request with 204 after `delay`; decodes with prost.
    async fn endpoint(delay: Duration) -> (std::net::SocketAddr, Arc<Mutex<Received>>) {
        use solder_proto::prost::Message;
        let seen: Arc<Mutex<Received>> = Arc::default();
        let s2 = seen.clone();
        let app = axum::Router::new().fallback(move |body: Bytes| {
            let seen = s2.clone();
            async move {
                tokio::time::sleep(delay).await;
                let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
                let req = solder_proto::prometheus::WriteRequest::decode(raw.as_slice()).unwrap();
                let mut seen = seen.lock().unwrap();
                let mut n = 0;
                for ts in req.timeseries {
                    let name = ts.labels[0].value.clone();
                    for s in ts.samples {
                        seen.samples.push((name.clone(), s.timestamp));
                        n += 1;
                    }
                }
                seen.requests.push(n);
                axum::http::StatusCode::NO_CONTENT
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, seen)
    }

    fn test_queue(dir: &std::path::Path) -> Queue {
        let opts = QueueOptions {
            max_bytes: 64 << 20,
            segment_bytes: 1 << 20,
            fsync: FsyncPolicy::Never,
        };
        Queue::open(dir, opts).unwrap().0
    }

    fn test_settings(addr: std::net::SocketAddr) -> Settings {
        use super::super::client::ClientOptions;
        let client = RemoteWriteClient::new(ClientOptions {
            url: format!("http://{addr}/write"),
            timeout: Duration::from_secs(5),
            headers: vec![],
            user_agent: "test".into(),
            basic_auth: None,
            bearer_token: None,
            retry_on_http_429: true,
        })
        .unwrap();
        Settings {
            remote_name: "t".into(),
            url: "u".into(),
            client,
            rules: vec![],
            external_labels: vec![],
            capacity: 100,
            min_shards: 1,
            max_shards: 8,
            max_samples_per_send: 20,
            batch_send_deadline: Duration::from_millis(20),
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            sample_age_limit: Duration::ZERO,
            send_exemplars: true,
            metadata: MetadataSettings {
                send: false,
                send_interval: Duration::from_secs(60),
                max_per_send: 2000,
            },
            shard_update_interval: Duration::from_millis(300),
        }
    }

    fn start_sender(
        settings: Settings,
        queue: &Queue,
    ) -> (Arc<EndpointSender>, CancellationToken, JoinHandle<()>) {
        let metrics = Metrics::new().unwrap();
        let em = EndpointMetrics::new(&metrics, &settings);
        let sender = Arc::new(EndpointSender::new(
            settings,
            queue.clone(),
            em,
            HealthReporter::new(),
            Arc::default(),
        ));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(sender.clone().run(shutdown.clone()));
        (sender, shutdown, task)
    }

    /// Waits until the endpoint has `total` samples and the queue is fully committed.
    async fn wait_delivered(seen: &Mutex<Received>, queue: &Queue, total: usize) {
        let start = Instant::now();
        while seen.lock().unwrap().samples.len() < total || queue.pending_records() > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "not delivered and committed in time"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Per first label value, the timestamps received, in order.
    fn received_per_series(seen: &Mutex<Received>) -> BTreeMap<String, Vec<i64>> {
        let mut per: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (name, ts) in seen.lock().unwrap().samples.iter() {
            per.entry(name.clone()).or_default().push(*ts);
        }
        per
    }

    /// A slow endpoint (50 ms per request) and 2400 queued samples: one shard cannot keep up,
    /// so the sender reshards upwards, and no series loses order across the reshard.
    #[tokio::test]
    async fn reshards_up_under_load_and_keeps_series_order() {
        use super::super::record::encode_record;
        use solder_core::signals::metrics::MetricsBatch;

        let (addr, seen) = endpoint(Duration::from_millis(50)).await;
        let dir = tempfile::tempdir().unwrap();
        let queue = test_queue(dir.path());
        let series = 16;
        let per_series = 150i64;
        for t in 0..per_series {
            let samples = (0..series)
                .map(|i| Sample {
                    labels: Labels::new(vec![("__name__".into(), format!("m{i:02}"))]),
                    timestamp_ms: t,
                    value: 0.0,
                })
                .collect();
            let batch = MetricsBatch {
                samples,
                ..Default::default()
            };
            queue.append(&encode_record(&batch)).unwrap();
        }
        let (sender, shutdown, task) = start_sender(test_settings(addr), &queue);

        let total = (series as i64 * per_series) as usize;
        let start = Instant::now();
        let mut max_shards_seen = 1.0f64;
        while seen.lock().unwrap().samples.len() < total {
            max_shards_seen = max_shards_seen.max(sender.metrics.shards.get());
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "not delivered in time"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(max_shards_seen > 1.0, "never resharded upwards");
        assert!(sender.metrics.shards_desired.get() >= 1.0);
        // The last response may still be on its way; then everything is committed.
        wait_delivered(&seen, &queue, total).await;
        let per = received_per_series(&seen);
        let want: Vec<i64> = (0..per_series).collect();
        assert_eq!(per.len(), series);
        for (name, got) in per {
            assert_eq!(
                got, want,
                "series {name}: complete, in order, no duplicates"
            );
        }
        shutdown.cancel();
        task.await.unwrap();
    }

    /// One shard, records sent as runs: records of every size against requests of 20 and a
    /// shard room of 50, a series repeated more often than a request holds, and records that
    /// have to be read sample by sample (exemplars, internal labels) in between. Every sample
    /// arrives once, in order, no request holds more than 20, and the queue is committed.
    #[tokio::test]
    async fn runs_are_cut_to_requests_and_room_and_arrive_once_in_order() {
        use super::super::record::encode_record;
        use solder_core::signals::metrics::{Exemplar, MetricsBatch};

        let (addr, seen) = endpoint(Duration::ZERO).await;
        let dir = tempfile::tempdir().unwrap();
        let queue = test_queue(dir.path());
        let mut want: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut total = 0;
        let mut ts = 0;
        for (i, size) in [7usize, 33, 1, 250, 20, 19, 64, 3].into_iter().enumerate() {
            let mut batch = MetricsBatch::default();
            for j in 0..size {
                // Record 3 repeats one series 30 times in a row: one `TimeSeries` that no
                // request of 20 holds.
                let (name, repeat) = match (i, j) {
                    (3, 0) => ("long".to_string(), 30),
                    (6, _) if j % 2 == 0 => (format!("__tmp_s{j}"), 1),
                    _ => (format!("s{j}"), 1 + j % 3),
                };
                // The endpoint keys samples by the first label value it receives: the name,
                // or `a` once the internal label is stripped. An internal label makes the
                // record one read sample by sample.
                let labels = Labels::new(if name.starts_with("__tmp") {
                    vec![("__tmp".into(), "x".into()), ("a".into(), name.clone())]
                } else {
                    vec![("__name__".into(), name.clone())]
                });
                for _ in 0..repeat {
                    ts += 1;
                    batch.samples.push(Sample {
                        labels: labels.clone(),
                        timestamp_ms: ts,
                        value: 1.0,
                    });
                    want.entry(name.clone()).or_default().push(ts);
                    total += 1;
                }
            }
            if i == 5 {
                batch.exemplars.push(Exemplar {
                    series: batch.samples[0].labels.clone(),
                    labels: Labels::new(vec![("trace_id".into(), "t".into())]),
                    timestamp_ms: ts,
                    value: 1.0,
                });
            }
            queue.append(&encode_record(&batch)).unwrap();
        }
        let mut settings = test_settings(addr);
        settings.capacity = 50;
        settings.max_shards = 1;
        let (sender, shutdown, task) = start_sender(settings, &queue);
        wait_delivered(&seen, &queue, total).await;
        assert_eq!(received_per_series(&seen), want);
        let requests = seen.lock().unwrap().requests.clone();
        assert!(requests.iter().all(|&n| n <= 20), "{requests:?}");
        assert_eq!(requests.iter().sum::<usize>(), total);
        assert_eq!(sender.metrics.samples_total.get(), total as f64);
        assert_eq!(sender.metrics.samples_pending.get(), 0.0);
        assert_eq!(sender.metrics.wal_corruptions.get(), 0.0);
        shutdown.cancel();
        task.await.unwrap();
    }

    #[test]
    fn items_of_one_series_always_go_to_the_same_shard() {
        for shards in [1, 3, 7, 50] {
            let first = shard_of(b"\x0a\x0d\x0a\x08__name__\x12\x01x", shards);
            assert!(first < shards);
            assert_eq!(
                shard_of(b"\x0a\x0d\x0a\x08__name__\x12\x01x", shards),
                first
            );
        }
        // Different series spread over the shards.
        let spread: std::collections::HashSet<usize> = (0..100)
            .map(|i| shard_of(format!("series {i}").as_bytes(), 4))
            .collect();
        assert_eq!(spread.len(), 4);
    }
}
