//! The `prometheus.remote_write` component: the exported `receiver` appends every batch to
//! each endpoint's durable queue (Solder's WAL) before answering `Ok`; one
//! [`EndpointSender`](super::sender::EndpointSender) per endpoint drains it.
//!
//! One queue per endpoint (`<data_dir>/wal/<remote_name>/`) rather than one shared log with a
//! cursor per endpoint: the queue's bound, drop-oldest and segment deletion then work per
//! endpoint, so an endpoint that is down fills only its own queue and never holds back the
//! deletion of data a healthy endpoint already acknowledged. The price is writing each batch
//! once per endpoint, which is one `write` call each.

use super::args::{Args, Endpoint};
use super::client::{ClientOptions, RemoteWriteClient};
use super::metrics::Metrics;
use super::record::encode_record;
use super::sender::{EndpointMetrics, EndpointSender, MetadataSettings, MetadataStore, Settings};
use bytes::Bytes;
use solder_core::consume::ConsumeError;
use solder_core::queue::{
    FsyncPolicy, Queue, QueueError, QueueOptions, DEFAULT_MEMORY_TAIL_BYTES, DEFAULT_SEGMENT_BYTES,
};
use solder_core::signals::metrics::{metrics_receiver_value, MetricsBatch, MetricsReceiver};
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, TypedComponent,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Appended data reaches the disk at least this often (a machine crash loses at most this
/// window; a process crash loses nothing that was acknowledged).
const FSYNC_INTERVAL: Duration = Duration::from_secs(1);

/// The `User-Agent` of remote-write requests.
fn user_agent() -> String {
    format!("Solder/{}", env!("CARGO_PKG_VERSION"))
}

pub struct PrometheusRemoteWrite {
    opts: ComponentOptions,
    shared: Arc<Shared>,
}

struct Shared {
    id: String,
    endpoints: RwLock<Arc<Vec<Arc<EndpointSender>>>>,
    metrics: Metrics,
    /// The latest metadata per metric family, sent by each endpoint on its own schedule.
    metadata: Arc<MetadataStore>,
    /// Bumped by `update`: the running senders are stopped and the new set started.
    generation: tokio::sync::watch::Sender<u64>,
    exited: AtomicBool,
}

impl Shared {
    fn endpoints(&self) -> Arc<Vec<Arc<EndpointSender>>> {
        Arc::clone(
            &self
                .endpoints
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

impl TypedComponent for PrometheusRemoteWrite {
    const NAME: &'static str = "prometheus.remote_write";
    const EXPORTS: &'static [&'static str] = &["receiver"];
    type Args = Args;

    fn validate(args: &Args) -> Result<(), String> {
        args.validate()
    }

    fn build(opts: ComponentOptions, args: Args) -> Result<Self, ComponentError> {
        let metrics = Metrics::new()
            .and_then(|m| m.register(&opts.registry).map(|()| m))
            .map_err(|e| ComponentError::Other(format!("registering self-metrics: {e}")))?;
        let metadata = Arc::new(MetadataStore::default());
        let endpoints = build_endpoints(&opts, &args, &metrics, &metadata, &[])?;
        let (generation, _) = tokio::sync::watch::channel(0);
        let shared = Arc::new(Shared {
            id: opts.id.clone(),
            endpoints: RwLock::new(Arc::new(endpoints)),
            metrics,
            metadata,
            generation,
            exited: AtomicBool::new(false),
        });
        let receiver: Arc<dyn MetricsReceiver> = Arc::new(Receiver(Arc::clone(&shared)));
        let mut exports = solder_syntax::Object::new();
        exports.insert("receiver".into(), metrics_receiver_value(receiver));
        opts.publish_exports(solder_syntax::Value::Object(exports));
        opts.health.healthy("remote_write started");
        Ok(PrometheusRemoteWrite { opts, shared })
    }
}

/// Builds the senders for `args`, reusing the open queue of an endpoint with the same
/// `remote_name` (a queue directory can be open only once).
fn build_endpoints(
    opts: &ComponentOptions,
    args: &Args,
    metrics: &Metrics,
    metadata: &Arc<MetadataStore>,
    existing: &[Arc<EndpointSender>],
) -> Result<Vec<Arc<EndpointSender>>, ComponentError> {
    let external_labels: Vec<(String, String)> = args
        .external_labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = Vec::with_capacity(args.endpoint.len());
    for ep in &args.endpoint {
        let remote_name = ep.remote_name();
        let settings = settings(ep, &remote_name, external_labels.clone())?;
        let queue = match existing
            .iter()
            .find(|s| s.settings.remote_name == remote_name)
        {
            // A changed `wal.max_bytes` applies when the queue is next opened (restart).
            Some(old) => old.queue.clone(),
            None => open_queue(opts, &remote_name, args.wal.max_bytes.0)?,
        };
        let m = EndpointMetrics::new(metrics, &settings);
        m.wal_pending_bytes.set(queue.pending_bytes() as f64);
        out.push(Arc::new(EndpointSender::new(
            settings,
            queue,
            m,
            opts.health.clone(),
            Arc::clone(metadata),
        )));
    }
    Ok(out)
}

fn open_queue(
    opts: &ComponentOptions,
    remote_name: &str,
    max_bytes: u64,
) -> Result<Queue, ComponentError> {
    let dir = opts.data_dir.join("wal").join(remote_name);
    let qopts = QueueOptions {
        max_bytes,
        // Several segments per bound, so acknowledged data is deleted in steps.
        segment_bytes: (max_bytes / 8).clamp(1 << 20, DEFAULT_SEGMENT_BYTES),
        fsync: FsyncPolicy::Interval(FSYNC_INTERVAL),
    };
    let (queue, report) = Queue::open(&dir, qopts).map_err(|e| match e {
        QueueError::Io { .. } | QueueError::Locked(_) => ComponentError::Other(format!(
            "opening the WAL of endpoint {remote_name:?} in {}: {e}",
            dir.display()
        )),
        other => ComponentError::Config(other.to_string()),
    })?;
    if report.corrupt_records > 0 || report.corrupt_segments > 0 {
        opts.health.unhealthy(format!(
            "WAL of endpoint {remote_name:?}: {} corrupt records were dropped at open",
            report.corrupt_records
        ));
    }
    // The sender usually reads a record milliseconds after it was appended: keep recent ones in
    // memory so that read is not a read(2) + CRC check of what was just written.
    queue.set_memory_tail_bytes(DEFAULT_MEMORY_TAIL_BYTES);
    Ok(queue)
}

fn settings(
    ep: &Endpoint,
    remote_name: &str,
    external_labels: Vec<(String, String)>,
) -> Result<Settings, ComponentError> {
    let q = &ep.queue_config;
    let to_usize = |v: i64| usize::try_from(v.max(1)).unwrap_or(usize::MAX);
    let client_opts = ClientOptions {
        url: ep.url.clone(),
        timeout: ep.remote_timeout.0,
        headers: ep
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        user_agent: user_agent(),
        basic_auth: None,
        bearer_token: None,
        retry_on_http_429: q.retry_on_http_429,
    };
    let client = RemoteWriteClient::with_http_client(&ep.http_client_config(), &client_opts)
        .map_err(|e| ComponentError::Config(format!("endpoint {remote_name:?}: {e}")))?;
    Ok(Settings {
        remote_name: remote_name.to_owned(),
        url: ep.url.clone(),
        client,
        rules: ep.write_relabel_config.clone(),
        external_labels,
        capacity: to_usize(q.capacity),
        min_shards: to_usize(q.min_shards),
        max_shards: to_usize(q.max_shards),
        max_samples_per_send: to_usize(q.max_samples_per_send),
        batch_send_deadline: q.batch_send_deadline.0,
        min_backoff: q.min_backoff.0,
        max_backoff: q.max_backoff.0,
        sample_age_limit: q.sample_age_limit.0,
        send_exemplars: ep.send_exemplars,
        metadata: MetadataSettings {
            send: ep.metadata_config.send,
            send_interval: ep.metadata_config.send_interval.0,
            max_per_send: to_usize(ep.metadata_config.max_samples_per_send),
        },
        shard_update_interval: super::shards::SHARD_UPDATE_INTERVAL,
    })
}

impl Component for PrometheusRemoteWrite {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        Box::pin(async move {
            let mut changed = self.shared.generation.subscribe();
            loop {
                let endpoints = self.shared.endpoints();
                let token = shutdown.child_token();
                let handles: Vec<_> = endpoints
                    .iter()
                    .map(|ep| tokio::spawn(Arc::clone(ep).run(token.clone())))
                    .collect();
                let stop = tokio::select! {
                    _ = shutdown.cancelled() => true,
                    r = changed.changed() => r.is_err(),
                };
                token.cancel();
                for h in handles {
                    let _ = h.await;
                }
                if stop {
                    break;
                }
            }
            self.shared.exited.store(true, Ordering::Release);
            for ep in self.shared.endpoints().iter() {
                // Best effort: the interval syncer would do it within a second anyway.
                let _ = ep.queue.sync();
            }
            Ok(())
        })
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let args = args.downcast::<Args>()?;
        let old = self.shared.endpoints();
        let new = build_endpoints(
            &self.opts,
            &args,
            &self.shared.metrics,
            &self.shared.metadata,
            &old,
        )?;
        *self
            .shared
            .endpoints
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(new);
        self.shared.generation.send_modify(|g| *g += 1);
        Ok(())
    }

    /// Per endpoint: where it sends, and how much of its queue is waiting.
    fn debug_info(&self) -> Option<serde_json::Value> {
        let endpoints: Vec<serde_json::Value> = self
            .shared
            .endpoints()
            .iter()
            .map(|ep| {
                serde_json::json!({
                    "remote_name": ep.settings.remote_name,
                    "url": ep.settings.url,
                    "wal_dir": ep.queue.dir().display().to_string(),
                    "wal_pending_records": ep.queue.pending_records(),
                    "wal_pending_bytes": ep.queue.pending_bytes(),
                })
            })
            .collect();
        Some(serde_json::json!({ "endpoints": endpoints }))
    }
}

/// The exported `receiver`.
struct Receiver(Arc<Shared>);

#[async_trait::async_trait]
impl MetricsReceiver for Receiver {
    async fn append(&self, batch: MetricsBatch) -> Result<(), ConsumeError> {
        let shared = &self.0;
        if shared.exited.load(Ordering::Acquire) {
            return Err(ConsumeError::Retryable {
                message: format!("{} has exited", shared.id),
                retry_after: None,
            });
        }
        if batch.is_empty() {
            return Ok(());
        }
        // Metadata is not queued: only its latest value per family is ever sent.
        let mut batch = batch;
        let metadata = std::mem::take(&mut batch.metadata);
        let record = if batch.is_empty() {
            None
        } else {
            Some(Bytes::from(encode_record(&batch)))
        };
        for ep in shared.endpoints().iter() {
            let Some(record) = &record else { break };
            // Every endpoint's memory tail shares the one buffer.
            match ep.queue.append_bytes_dropping_oldest(record.clone()) {
                Ok((_, dropped)) => {
                    if dropped.records > 0 {
                        ep.metrics
                            .wal_dropped_records
                            .inc_by(dropped.records as f64);
                        ep.metrics.wal_dropped_bytes.inc_by(dropped.bytes as f64);
                    }
                    ep.metrics
                        .wal_pending_bytes
                        .set(ep.queue.pending_bytes() as f64);
                }
                Err(e @ QueueError::RecordTooLarge { .. }) => {
                    return Err(ConsumeError::Permanent(format!(
                        "{}: batch does not fit the WAL: {e}",
                        shared.id
                    )));
                }
                Err(e) => {
                    return Err(ConsumeError::Retryable {
                        message: format!("{}: writing the WAL failed: {e}", shared.id),
                        retry_after: None,
                    });
                }
            }
        }
        let m = &shared.metrics;
        m.samples_in.inc_by(batch.samples.len() as f64);
        m.exemplars_in.inc_by(batch.exemplars.len() as f64);
        m.wal_samples_appended.inc_by(batch.samples.len() as f64);
        m.wal_exemplars_appended
            .inc_by(batch.exemplars.len() as f64);
        m.wal_metadata_updates.inc_by(metadata.len() as f64);
        shared.metadata.update(&metadata);
        if let Some(max_ts) = batch.samples.iter().map(|s| s.timestamp_ms).max() {
            let secs = max_ts as f64 / 1000.0;
            if secs > m.highest_timestamp.get() {
                m.highest_timestamp.set(secs);
            }
        }
        Ok(())
    }
}
