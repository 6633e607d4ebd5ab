//! `metadata_config`: metric metadata travels apart from the samples, as in Prometheus. The
//! component keeps the latest metadata per metric family seen in appended batches
//! ([`MetadataStore`]); every `send_interval` each endpoint sends all of it in requests that
//! carry only metadata, at most `max_samples_per_send` entries each, retrying recoverable
//! failures until `batch_send_deadline` runs out (Prometheus's deadline for one round).
//!
//! Known difference: Prometheus sends the metadata of the targets that are currently scraped;
//! Solder has no view of targets here, so a family stays in the store (and keeps being sent)
//! after it stops appearing, until the process restarts.

use super::{EndpointSender, Settings};
use crate::remote_write::client::{Backoff, SendError};
use crate::remote_write::encode::{build_write_request, SnappyEncoder};
use bytes::Bytes;
use solder_core::signals::metrics::Metadata;
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The endpoint's `metadata_config`.
#[derive(Debug, Clone)]
pub(crate) struct MetadataSettings {
    pub send: bool,
    pub send_interval: Duration,
    pub max_per_send: usize,
}

/// The latest metadata of every metric family appended so far (shared by all endpoints, kept
/// across configuration updates). Sorted by family name, so requests are deterministic.
#[derive(Default)]
pub(crate) struct MetadataStore {
    latest: Mutex<BTreeMap<String, Metadata>>,
}

impl MetadataStore {
    /// Records `metadata`; a family seen again replaces what was stored for it.
    pub(crate) fn update(&self, metadata: &[Metadata]) {
        if metadata.is_empty() {
            return;
        }
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        for m in metadata {
            match latest.get_mut(&m.metric_family) {
                Some(old) if old == m => {}
                Some(old) => *old = m.clone(),
                None => {
                    latest.insert(m.metric_family.clone(), m.clone());
                }
            }
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<Metadata> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}

/// What became of one request's worth of metadata.
enum ChunkOutcome {
    Sent,
    Failed,
    Shutdown,
}

impl EndpointSender {
    /// Sends the store every `send_interval` (the first round one interval after start, as
    /// Prometheus's metadata watcher does) until `shutdown`. Nothing when `send` is false.
    pub(super) async fn run_metadata(&self, shutdown: CancellationToken) {
        let cfg = &self.settings.metadata;
        if !cfg.send {
            return;
        }
        let period = cfg.send_interval.max(Duration::from_millis(1));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut encoder = SnappyEncoder::new();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if !self.send_metadata_round(&mut encoder, &shutdown).await {
                return;
            }
        }
    }

    /// One round: every stored entry, in chunks. `false` if interrupted by shutdown.
    async fn send_metadata_round(
        &self,
        encoder: &mut SnappyEncoder,
        shutdown: &CancellationToken,
    ) -> bool {
        let all = self.metadata_store.snapshot();
        if all.is_empty() {
            return true;
        }
        let deadline = tokio::time::Instant::now() + self.settings.batch_send_deadline;
        for chunk in all.chunks(self.settings.metadata.max_per_send.max(1)) {
            match self
                .send_metadata_chunk(chunk, encoder, deadline, shutdown)
                .await
            {
                ChunkOutcome::Sent => {}
                ChunkOutcome::Failed => self.metrics.metadata_failed.inc_by(chunk.len() as f64),
                ChunkOutcome::Shutdown => return false,
            }
        }
        true
    }

    async fn send_metadata_chunk(
        &self,
        chunk: &[Metadata],
        encoder: &mut SnappyEncoder,
        deadline: tokio::time::Instant,
        shutdown: &CancellationToken,
    ) -> ChunkOutcome {
        let s: &Settings = &self.settings;
        let m = &self.metrics;
        let n = chunk.len() as f64;
        let mut buf = Vec::new();
        if let Err(e) = encoder.encode(&build_write_request(&[], &[], chunk, &[]), &mut buf) {
            tracing::warn!(endpoint = %s.remote_name, error = %e, "encoding metadata failed");
            return ChunkOutcome::Failed;
        }
        let body = Bytes::from(buf);
        let mut backoff = Backoff::new(s.min_backoff, s.max_backoff);
        loop {
            if tokio::time::Instant::now() >= deadline {
                return ChunkOutcome::Failed;
            }
            let started = Instant::now();
            let result = tokio::select! {
                _ = shutdown.cancelled() => return ChunkOutcome::Shutdown,
                r = tokio::time::timeout_at(deadline, s.client.send(body.clone())) => r,
            };
            m.sent_batch_duration
                .observe(started.elapsed().as_secs_f64());
            let delay = match result {
                Err(_elapsed) => return ChunkOutcome::Failed,
                Ok(Ok(())) => {
                    // Prometheus counts metadata (and its bytes) once delivered.
                    m.metadata_total.inc_by(n);
                    m.metadata_bytes.inc_by(body.len() as f64);
                    return ChunkOutcome::Sent;
                }
                Ok(Err(SendError::Permanent { message, .. })) => {
                    tracing::warn!(endpoint = %s.remote_name, error = %message,
                        count = chunk.len(), "metadata rejected by the endpoint; dropped");
                    return ChunkOutcome::Failed;
                }
                Ok(Err(SendError::Retryable {
                    retry_after,
                    message,
                    ..
                })) => {
                    tracing::debug!(endpoint = %s.remote_name, error = %message,
                        "sending metadata failed; retrying");
                    m.metadata_retried.inc_by(n);
                    retry_after.unwrap_or_else(|| backoff.next())
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return ChunkOutcome::Shutdown,
                _ = tokio::time::sleep_until(deadline) => return ChunkOutcome::Failed,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use solder_core::signals::metrics::MetricType;

    fn md(family: &str, help: &str) -> Metadata {
        Metadata {
            metric_family: family.into(),
            kind: MetricType::Counter,
            help: help.into(),
            unit: String::new(),
        }
    }

    #[test]
    fn store_keeps_the_latest_per_family_sorted() {
        let store = MetadataStore::default();
        store.update(&[md("b_total", "old"), md("a_total", "a")]);
        store.update(&[md("b_total", "new")]);
        store.update(&[]);
        assert_eq!(
            store.snapshot(),
            vec![md("a_total", "a"), md("b_total", "new")]
        );
    }
}
