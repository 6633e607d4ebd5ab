//! Self-metrics with Prometheus's remote-storage names (`storage/remote/queue_manager.go`) and
//! Alloy's WAL names. Per-endpoint series carry `remote_name` and `url`, as in Prometheus; the
//! component registry adds `component_id`/`component_path`. Solder-only figures (the queue's
//! bytes and overflow drops) use a `solder_` prefix.

use prometheus::{
    Counter, CounterVec, Gauge, GaugeVec, HistogramOpts, HistogramVec, Opts, Registry,
};

const ENDPOINT: &[&str] = &["remote_name", "url"];
const ENDPOINT_REASON: &[&str] = &["remote_name", "url", "reason"];

/// Reasons of `samples_dropped_total` (Prometheus's values).
pub const REASON_DROPPED_SERIES: &str = "dropped_series";
pub const REASON_TOO_OLD: &str = "too_old";

/// Prometheus's `sent_batch_duration_seconds` buckets: the default ones plus long tails.
const SENT_BATCH_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0, 120.0, 300.0,
];

#[derive(Clone)]
pub struct Metrics {
    pub samples_total: CounterVec,
    pub samples_failed: CounterVec,
    pub samples_retried: CounterVec,
    pub samples_dropped: CounterVec,
    pub samples_pending: GaugeVec,
    pub samples_in: Counter,
    pub exemplars_total: CounterVec,
    pub exemplars_failed: CounterVec,
    pub exemplars_retried: CounterVec,
    pub exemplars_dropped: CounterVec,
    pub exemplars_pending: GaugeVec,
    pub exemplars_in: Counter,
    pub metadata_total: CounterVec,
    pub metadata_failed: CounterVec,
    pub metadata_retried: CounterVec,
    pub metadata_bytes: CounterVec,
    pub bytes_total: CounterVec,
    pub sent_batch_duration: HistogramVec,
    pub highest_timestamp: Gauge,
    pub highest_sent_timestamp: GaugeVec,
    pub shards: GaugeVec,
    pub shards_min: GaugeVec,
    pub shards_max: GaugeVec,
    pub shards_desired: GaugeVec,
    pub shard_capacity: GaugeVec,
    pub max_samples_per_send: GaugeVec,
    pub wal_samples_appended: Counter,
    pub wal_exemplars_appended: Counter,
    pub wal_metadata_updates: Counter,
    pub wal_corruptions: Counter,
    pub wal_pending_bytes: GaugeVec,
    pub wal_dropped_records: CounterVec,
    pub wal_dropped_bytes: CounterVec,
}

fn cvec(name: &str, help: &str, labels: &[&str]) -> Result<CounterVec, prometheus::Error> {
    CounterVec::new(Opts::new(name, help), labels)
}

fn gvec(name: &str, help: &str) -> Result<GaugeVec, prometheus::Error> {
    GaugeVec::new(Opts::new(name, help), ENDPOINT)
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let p = "prometheus_remote_storage_";
        let n = |s: &str| format!("{p}{s}");
        Ok(Metrics {
            samples_total: cvec(&n("samples_total"), "Total number of samples sent to remote storage.", ENDPOINT)?,
            samples_failed: cvec(&n("samples_failed_total"), "Total number of samples which failed on send to remote storage, non-recoverable errors.", ENDPOINT)?,
            samples_retried: cvec(&n("samples_retried_total"), "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.", ENDPOINT)?,
            samples_dropped: cvec(&n("samples_dropped_total"), "Total number of samples which were dropped after being read from the WAL before being sent via remote write, either via relabelling, due to being too old or unintentionally because of an unknown reference ID.", ENDPOINT_REASON)?,
            samples_pending: gvec(&n("samples_pending"), "The number of samples pending in the queues shards to be sent to the remote storage.")?,
            samples_in: Counter::with_opts(Opts::new(n("samples_in_total"), "Samples in to remote storage, compare to samples out for queue managers."))?,
            exemplars_total: cvec(&n("exemplars_total"), "Total number of exemplars sent to remote storage.", ENDPOINT)?,
            exemplars_failed: cvec(&n("exemplars_failed_total"), "Total number of exemplars which failed on send to remote storage, non-recoverable errors.", ENDPOINT)?,
            exemplars_retried: cvec(&n("exemplars_retried_total"), "Total number of exemplars which failed on send to remote storage but were retried because the send error was recoverable.", ENDPOINT)?,
            exemplars_dropped: cvec(&n("exemplars_dropped_total"), "Total number of exemplars which were dropped after being read from the WAL before being sent via remote write, either via relabelling, due to being too old or unintentionally because of an unknown reference ID.", ENDPOINT_REASON)?,
            exemplars_pending: gvec(&n("exemplars_pending"), "The number of exemplars pending in the queues shards to be sent to the remote storage.")?,
            exemplars_in: Counter::with_opts(Opts::new(n("exemplars_in_total"), "Exemplars in to remote storage, compare to exemplars out for queue managers."))?,
            metadata_total: cvec(&n("metadata_total"), "Total number of metadata entries sent to remote storage.", ENDPOINT)?,
            metadata_failed: cvec(&n("metadata_failed_total"), "Total number of metadata entries which failed on send to remote storage, non-recoverable errors.", ENDPOINT)?,
            metadata_retried: cvec(&n("metadata_retried_total"), "Total number of metadata entries which failed on send to remote storage but were retried because the send error was recoverable.", ENDPOINT)?,
            metadata_bytes: cvec(&n("metadata_bytes_total"), "The total number of bytes of metadata sent by the queue after compression.", ENDPOINT)?,
            bytes_total: cvec(&n("bytes_total"), "The total number of bytes of data (not metadata) sent by the queue after compression.", ENDPOINT)?,
            sent_batch_duration: HistogramVec::new(
                HistogramOpts::new(n("sent_batch_duration_seconds"), "Duration of send calls to the remote storage.")
                    .buckets(SENT_BATCH_BUCKETS.to_vec()),
                ENDPOINT,
            )?,
            highest_timestamp: Gauge::with_opts(Opts::new(n("highest_timestamp_in_seconds"), "Highest timestamp that has come into the remote storage via the Appender interface, in seconds since epoch. Initialized to 0 when no data has been received yet."))?,
            highest_sent_timestamp: gvec(&n("queue_highest_sent_timestamp_seconds"), "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch. Initialized to 0 when no data has been sent yet.")?,
            shards: gvec(&n("shards"), "The number of shards used for parallel sending to the remote storage.")?,
            shards_min: gvec(&n("shards_min"), "The minimum number of shards that the queue is allowed to run.")?,
            shards_max: gvec(&n("shards_max"), "The maximum number of shards that the queue is allowed to run.")?,
            shards_desired: gvec(&n("shards_desired"), "The number of shards that the queues shard calculation wants to run based on the rate of samples in vs. samples out.")?,
            shard_capacity: gvec(&n("shard_capacity"), "The capacity of each shard of the queue used for parallel sending to the remote storage.")?,
            max_samples_per_send: gvec(&n("max_samples_per_send"), "The maximum number of samples to be sent, in a single request, to the remote storage. Note that, when sending of exemplars over remote write is enabled, exemplars count towards this limt.")?,
            wal_samples_appended: Counter::with_opts(Opts::new("prometheus_remote_write_wal_samples_appended_total", "Total number of samples appended to the WAL"))?,
            wal_exemplars_appended: Counter::with_opts(Opts::new("prometheus_remote_write_wal_exemplars_appended_total", "Total number of exemplars appended to the WAL"))?,
            wal_metadata_updates: Counter::with_opts(Opts::new("prometheus_remote_write_wal_metadata_updates_total", "Total number of metadata updates sent through the WAL"))?,
            wal_corruptions: Counter::with_opts(Opts::new("prometheus_remote_write_wal_corruptions_total", "Total number of WAL corruptions (records lost to damage found at open or read)."))?,
            wal_pending_bytes: gvec("solder_remote_write_wal_pending_bytes", "Unacknowledged bytes in the endpoint's durable queue (what wal max_bytes bounds).")?,
            wal_dropped_records: cvec("solder_remote_write_wal_dropped_records_total", "Queue records (appended batches) discarded, oldest first, because the endpoint's queue reached wal max_bytes.", ENDPOINT)?,
            wal_dropped_bytes: cvec("solder_remote_write_wal_dropped_bytes_total", "Queue bytes discarded, oldest first, because the endpoint's queue reached wal max_bytes.", ENDPOINT)?,
        })
    }

    pub fn register(&self, r: &Registry) -> Result<(), prometheus::Error> {
        r.register(Box::new(self.samples_total.clone()))?;
        r.register(Box::new(self.samples_failed.clone()))?;
        r.register(Box::new(self.samples_retried.clone()))?;
        r.register(Box::new(self.samples_dropped.clone()))?;
        r.register(Box::new(self.samples_pending.clone()))?;
        r.register(Box::new(self.samples_in.clone()))?;
        r.register(Box::new(self.exemplars_total.clone()))?;
        r.register(Box::new(self.exemplars_failed.clone()))?;
        r.register(Box::new(self.exemplars_retried.clone()))?;
        r.register(Box::new(self.exemplars_dropped.clone()))?;
        r.register(Box::new(self.exemplars_pending.clone()))?;
        r.register(Box::new(self.exemplars_in.clone()))?;
        r.register(Box::new(self.metadata_total.clone()))?;
        r.register(Box::new(self.metadata_failed.clone()))?;
        r.register(Box::new(self.metadata_retried.clone()))?;
        r.register(Box::new(self.metadata_bytes.clone()))?;
        r.register(Box::new(self.bytes_total.clone()))?;
        r.register(Box::new(self.sent_batch_duration.clone()))?;
        r.register(Box::new(self.highest_timestamp.clone()))?;
        r.register(Box::new(self.highest_sent_timestamp.clone()))?;
        r.register(Box::new(self.shards.clone()))?;
        r.register(Box::new(self.shards_min.clone()))?;
        r.register(Box::new(self.shards_max.clone()))?;
        r.register(Box::new(self.shards_desired.clone()))?;
        r.register(Box::new(self.shard_capacity.clone()))?;
        r.register(Box::new(self.max_samples_per_send.clone()))?;
        r.register(Box::new(self.wal_samples_appended.clone()))?;
        r.register(Box::new(self.wal_exemplars_appended.clone()))?;
        r.register(Box::new(self.wal_metadata_updates.clone()))?;
        r.register(Box::new(self.wal_corruptions.clone()))?;
        r.register(Box::new(self.wal_pending_bytes.clone()))?;
        r.register(Box::new(self.wal_dropped_records.clone()))?;
        r.register(Box::new(self.wal_dropped_bytes.clone()))?;
        Ok(())
    }
}
