//! The loop that scrapes one target, Prometheus's `scrapeLoop`: wait for the target's offset,
//! then every interval fetch, append (through the target's [`ScrapeCache`]), report the
//! synthetic series and forward everything in one batch. When the target goes away (not on
//! shutdown) it waits just over two intervals and then marks all its series stale, the
//! synthetic ones included — unless a newer loop for the same target took over its cache.

use super::cache::{AppendError, AppendSettings, AppendStats, ScrapeCache, ScrapeTimes};
use super::fetch::{fetch, scrape_headers, FetchError, FetchRequest};
use super::first_scrape_delay;
use super::self_metrics::SelfMetrics;
use super::series::report_labels;
use super::target::ScrapeTarget;
use crate::exposition::Format;
use crate::http_client::direct::{DirectConnection, DirectTarget};
use crate::http_client::HttpClient;
use solder_core::signals::metrics::{
    fanout_append, stale_nan, Labels, MetricsBatch, MetricsForwardTo, Sample,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Prometheus's `ScrapeTimestampTolerance`: scrape timestamps within this of the ideal phase are
/// snapped to it, so compressed storage sees perfectly regular intervals.
const TIMESTAMP_TOLERANCE: Duration = Duration::from_millis(2);

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `scrape_failure_log_file`: one JSON line per failed scrape, in the shape of Prometheus's
/// `promslog` JSON handler (`time`, `level`, `source`, `msg`, `target`).
pub struct FailureLog(Mutex<std::fs::File>);

impl FailureLog {
    /// Opens (appending, creating) the file; `Ok(None)` when no file is configured.
    pub fn open(path: &str) -> Result<Option<FailureLog>, String> {
        if path.is_empty() {
            return Ok(None);
        }
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map(|f| Some(FailureLog(Mutex::new(f))))
            .map_err(|e| format!("can't create json log file: {e}"))
    }

    fn write(&self, at: SystemTime, target_url: &str, error: &str) {
        use std::io::Write;
        let line = serde_json::json!({
            "time": rfc3339(at),
            "level": "ERROR",
            "source": "scrape.go",
            "msg": error,
            "target": target_url,
        });
        let mut file = lock(&self.0);
        if let Err(e) = writeln!(file, "{line}") {
            tracing::warn!(error = %e, "writing scrape_failure_log_file failed");
        }
    }
}

/// `2006-01-02T15:04:05.000Z` (UTC, milliseconds).
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Settings shared by every loop of one configuration version.
pub struct LoopConfig {
    pub client: HttpClient,
    pub accept: String,
    pub accept_encoding: &'static str,
    pub user_agent: String,
    pub body_size_limit: u64,
    /// Format for a missing or unknown `Content-Type`; `None`: such a scrape fails.
    pub fallback: Option<Format>,
    pub append: AppendSettings,
    pub extra_metrics: bool,
    pub failure_log: Option<FailureLog>,
}

/// What the component and all its loops share.
pub struct PoolShared {
    pub forward_to: RwLock<MetricsForwardTo>,
    pub metrics: SelfMetrics,
    /// Set by loops when a target's health changed, so the component refreshes its health.
    pub health_dirty: AtomicBool,
}

impl PoolShared {
    fn forward_to(&self) -> MetricsForwardTo {
        match self.forward_to.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The last scrape of a target, for `debug_info` and health (Prometheus's `Target` status).
#[derive(Debug, Clone, Default)]
pub struct TargetStatus {
    /// `up`, `down` or `unknown` (not scraped yet).
    pub health: &'static str,
    pub last_error: String,
    pub last_scrape: Option<SystemTime>,
    pub last_duration: Option<Duration>,
}

/// One running loop, as the component holds it.
pub struct LoopHandle {
    pub target: ScrapeTarget,
    pub status: Arc<Mutex<TargetStatus>>,
    stop: CancellationToken,
    /// Set when a newer loop takes over the cache: no end-of-run stale markers then.
    handed_over: Arc<AtomicBool>,
    forced_error: Arc<Mutex<Option<String>>>,
    join: JoinHandle<Option<ScrapeCache>>,
}

impl LoopHandle {
    /// Stops the loop and keeps its handle in `stopping` until it has written its end-of-run
    /// stale markers (skipped if the pool shuts down first).
    pub fn stop_into(self, stopping: &mut Vec<LoopHandle>) {
        self.stop.cancel();
        stopping.push(self);
    }

    /// Waits for the loop's task to end.
    pub async fn join(self) {
        let _ = self.join.await;
    }

    /// Stops the loop and hands its cache (and staleness state) to the caller's next loop.
    pub fn stop_for_handover(self) -> JoinHandle<Option<ScrapeCache>> {
        self.handed_over.store(true, Ordering::Release);
        self.stop.cancel();
        self.join
    }

    /// Fails every scrape with this error (target_limit), or clears it.
    pub fn set_forced_error(&self, err: Option<String>) {
        *lock(&self.forced_error) = err;
    }

    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }
}

/// Everything one loop needs.
pub struct LoopContext {
    pub target: ScrapeTarget,
    /// The URL actually requested (differs from the target's for in-memory self-scrapes).
    pub fetch_url: String,
    pub offset: Duration,
    pub config: Arc<LoopConfig>,
    pub shared: Arc<PoolShared>,
    /// The pool's token: cancelled on shutdown, when no stale markers are written.
    pub pool: CancellationToken,
}

/// Starts a loop. With `prior`, the new loop first waits for the old loop of the same target to
/// end and continues with its cache, as Prometheus's reload does.
pub fn spawn_loop(ctx: LoopContext, prior: Option<JoinHandle<Option<ScrapeCache>>>) -> LoopHandle {
    let stop = ctx.pool.child_token();
    let handed_over = Arc::new(AtomicBool::new(false));
    let forced_error = Arc::new(Mutex::new(None));
    let status = Arc::new(Mutex::new(TargetStatus {
        health: "unknown",
        ..TargetStatus::default()
    }));
    let target = ctx.target.clone();
    let fetch_url = reqwest::Url::parse(&ctx.fetch_url).ok();
    let direct_target = fetch_url.as_ref().and_then(DirectTarget::new);
    let cfg = &ctx.config;
    let headers = scrape_headers(
        &cfg.accept,
        cfg.accept_encoding,
        &cfg.user_agent,
        ctx.target.timeout,
    );
    let state = LoopState {
        fetch_url,
        direct_target,
        headers,
        interval_metric: std::sync::OnceLock::new(),
        ctx,
        stop: stop.clone(),
        handed_over: Arc::clone(&handed_over),
        forced_error: Arc::clone(&forced_error),
        status: Arc::clone(&status),
        report: Vec::new(),
    };
    let join = tokio::spawn(state.run(prior));
    LoopHandle {
        target,
        status,
        stop,
        handed_over,
        forced_error,
        join,
    }
}

/// The synthetic series, in Prometheus's order; the last three only with `extra_metrics`.
const REPORT_NAMES: [&str; 8] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
    "scrape_timeout_seconds",
    "scrape_sample_limit",
    "scrape_body_size_bytes",
];

struct LoopState {
    ctx: LoopContext,
    stop: CancellationToken,
    handed_over: Arc<AtomicBool>,
    forced_error: Arc<Mutex<Option<String>>>,
    status: Arc<Mutex<TargetStatus>>,
    /// Label sets of the synthetic series, built once per loop.
    report: Vec<Labels>,
    /// `ctx.fetch_url` parsed once; `None` if it does not parse (each fetch then reports why).
    fetch_url: Option<reqwest::Url>,
    /// Where the loop's own connection goes, when the URL allows one.
    direct_target: Option<DirectTarget>,
    /// The headers every scrape sends ([`scrape_headers`]).
    headers: reqwest::header::HeaderMap,
    /// The `interval` label and histogram child of `prometheus_target_interval_length_*`.
    interval_metric: std::sync::OnceLock<(String, prometheus::Histogram)>,
}

fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

impl LoopState {
    async fn run(mut self, prior: Option<JoinHandle<Option<ScrapeCache>>>) -> Option<ScrapeCache> {
        let count = if self.ctx.config.extra_metrics { 8 } else { 5 };
        self.report = REPORT_NAMES[..count]
            .iter()
            .map(|name| report_labels(name, &self.ctx.target.labels))
            .collect();
        let mut cache = match prior {
            Some(old) => old.await.ok().flatten().unwrap_or_default(),
            None => ScrapeCache::new(),
        };
        let interval = self.ctx.target.interval;
        let now_nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let delay = first_scrape_delay(self.ctx.offset, interval, now_nanos);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = self.stop.cancelled() => return Some(cache),
        }
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut aligned = SystemTime::now();
        let mut last: Option<Instant> = None;
        let mut connection = DirectConnection::default();
        loop {
            let mut scrape_time = SystemTime::now();
            let tolerance = TIMESTAMP_TOLERANCE.min(interval / 100);
            while scrape_time
                .duration_since(aligned)
                .is_ok_and(|d| d >= interval)
            {
                aligned += interval;
            }
            if scrape_time
                .duration_since(aligned)
                .is_ok_and(|d| d <= tolerance)
            {
                scrape_time = aligned;
            }
            // Shutdown abandons an in-flight scrape; a stop (target removed) lets it finish.
            tokio::select! {
                started = self.scrape_and_report(&mut cache, &mut connection, scrape_time, last) => {
                    last = Some(started);
                }
                _ = self.ctx.pool.cancelled() => return Some(cache),
            }
            tokio::select! {
                _ = ticker.tick() => {}
                _ = self.stop.cancelled() => break,
            }
        }
        if self.ctx.pool.is_cancelled() || self.handed_over.load(Ordering::Acquire) {
            return Some(cache);
        }
        if last.is_some() {
            self.end_of_run_staleness(&mut cache, &mut ticker).await;
        }
        None
    }

    /// Prometheus's `endOfRunStaleness`: the target may come back (a flapping discovery), so
    /// wait until two more scrapes would have happened (plus 10%), then mark everything stale
    /// at the time of the first missed scrape.
    async fn end_of_run_staleness(
        &self,
        cache: &mut ScrapeCache,
        ticker: &mut tokio::time::Interval,
    ) {
        let interval = self.ctx.target.interval;
        let pool = &self.ctx.pool;
        let stale_time = tokio::select! {
            _ = ticker.tick() => SystemTime::now(),
            _ = pool.cancelled() => return,
        };
        tokio::select! {
            _ = ticker.tick() => {}
            _ = pool.cancelled() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(interval / 10) => {}
            _ = pool.cancelled() => return,
        }
        if self.handed_over.load(Ordering::Acquire) {
            return;
        }
        let ts = unix_ms(stale_time);
        let mut out = MetricsBatch::default();
        cache.append_failed(ts, &mut out);
        for labels in &self.report {
            out.samples.push(Sample {
                labels: labels.clone(),
                timestamp_ms: ts,
                value: stale_nan(),
            });
        }
        self.forward(out).await;
    }

    /// One scrape; returns when it started (for the interval-length metric).
    async fn scrape_and_report(
        &self,
        cache: &mut ScrapeCache,
        connection: &mut DirectConnection,
        scrape_time: SystemTime,
        last: Option<Instant>,
    ) -> Instant {
        let start = Instant::now();
        let metrics = &self.ctx.shared.metrics;
        if let Some(prev) = last {
            // The label and the histogram child are looked up on the first observation only
            // (the interval is fixed for the loop), not formatted and hashed every scrape.
            let (label, histogram) = self.interval_metric.get_or_init(|| {
                let label = go_duration(self.ctx.target.interval);
                let histogram = metrics.interval_length.with_label_values(&[&label]);
                (label, histogram)
            });
            let seconds = start.duration_since(prev).as_secs_f64();
            histogram.observe(seconds);
            metrics.interval_summary.observe(label, seconds);
        }
        let ts = unix_ms(scrape_time);
        // Empty: `append_body` reserves room for every known series itself.
        let mut out = MetricsBatch::default();
        let forced = lock(&self.forced_error).clone();
        let (stats, error, body_bytes) = match forced {
            Some(err) => {
                cache.append_failed(ts, &mut out);
                (AppendStats::default(), Some(err), 0i64)
            }
            None => self.scrape_once(cache, connection, ts, &mut out).await,
        };
        let duration = start.elapsed();
        self.count(&stats);
        let flushes = cache.take_forced_flushes();
        if flushes > 0 {
            metrics.cache_flush_forced.inc_by(flushes as f64);
        }

        let cfg = &self.ctx.config;
        let mut values = vec![
            if error.is_none() { 1.0 } else { 0.0 },
            duration.as_secs_f64(),
            stats.total as f64,
            stats.added as f64,
            stats.series_added as f64,
        ];
        if cfg.extra_metrics {
            values.push(self.ctx.target.timeout.as_secs_f64());
            values.push(cfg.append.sample_limit as f64);
            values.push(body_bytes as f64);
        }
        for (labels, value) in self.report.iter().zip(values) {
            out.samples.push(Sample {
                labels: labels.clone(),
                timestamp_ms: ts,
                value,
            });
        }
        if let (Some(log), Some(err)) = (&cfg.failure_log, &error) {
            log.write(SystemTime::now(), &self.ctx.target.url, err);
        }
        {
            let mut status = lock(&self.status);
            let health = if error.is_none() { "up" } else { "down" };
            if status.health != health || status.last_error != error.clone().unwrap_or_default() {
                self.ctx.shared.health_dirty.store(true, Ordering::Release);
            }
            status.health = health;
            status.last_error = error.unwrap_or_default();
            status.last_scrape = Some(scrape_time);
            status.last_duration = Some(duration);
        }
        self.forward(out).await;
        start
    }

    /// Fetch and append; on any failure the cache marks the previous series stale.
    async fn scrape_once(
        &self,
        cache: &mut ScrapeCache,
        connection: &mut DirectConnection,
        ts: i64,
        out: &mut MetricsBatch,
    ) -> (AppendStats, Option<String>, i64) {
        let cfg = &self.ctx.config;
        let req = FetchRequest {
            url: &self.ctx.fetch_url,
            parsed_url: self.fetch_url.as_ref(),
            direct: self.direct_target.as_ref(),
            headers: &self.headers,
            timeout: self.ctx.target.timeout,
            body_size_limit: cfg.body_size_limit,
        };
        let fetched = match fetch(&cfg.client, &req, connection).await {
            Ok(f) => f,
            Err(e) => {
                let bytes = if matches!(e, FetchError::BodySizeLimit) {
                    self.ctx.shared.metrics.exceeded_body_size_limit.inc();
                    -1
                } else {
                    0
                };
                cache.append_failed(ts, out);
                return (AppendStats::default(), Some(e.to_string()), bytes);
            }
        };
        let body_bytes = i64::try_from(fetched.body.len()).unwrap_or(i64::MAX);
        if fetched.body.is_empty() {
            // Prometheus treats an empty body like a failed scrape for staleness, but it is up.
            cache.append_failed(ts, out);
            return (AppendStats::default(), None, 0);
        }
        let format = match self.format_for(&fetched.content_type) {
            Ok(f) => f,
            Err(e) => {
                cache.append_failed(ts, out);
                return (AppendStats::default(), Some(e), body_bytes);
            }
        };
        let now = unix_ms(SystemTime::now());
        let (stats, result) = cache.append_body(
            &fetched.body,
            format,
            &self.ctx.target.labels,
            &cfg.append,
            ScrapeTimes {
                default_ms: ts,
                now_ms: now,
            },
            out,
        );
        match result {
            Ok(()) => (stats, None, body_bytes),
            Err(e) => {
                if matches!(e, AppendError::SampleLimit) {
                    self.ctx.shared.metrics.exceeded_sample_limit.inc();
                }
                cache.append_failed(ts, out);
                (stats, Some(e.to_string()), body_bytes)
            }
        }
    }

    /// The parser for a response's `Content-Type`, with Prometheus's fallback rules.
    fn format_for(&self, content_type: &str) -> Result<Format, String> {
        let cfg = &self.ctx.config;
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/openmetrics-text" => return Ok(Format::OpenMetrics100),
            "text/plain" => return Ok(Format::PrometheusText004),
            "application/vnd.google.protobuf" => {
                return Err(
                    "received a protobuf scrape response, which Solder cannot parse".to_string(),
                )
            }
            _ => {}
        }
        match (content_type.is_empty(), cfg.fallback) {
            (_, Some(f)) => Ok(f),
            (true, None) => Err("non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target".to_string()),
            (false, None) => Err(format!("received unsupported Content-Type {content_type:?} and no fallback_scrape_protocol specified for target")),
        }
    }

    fn count(&self, stats: &AppendStats) {
        let m = &self.ctx.shared.metrics;
        if stats.duplicates > 0 {
            m.sample_duplicate.inc_by(stats.duplicates as f64);
        }
        if stats.out_of_bounds > 0 {
            m.sample_out_of_bounds.inc_by(stats.out_of_bounds as f64);
        }
        if stats.exceeded_label_limits {
            m.pool_exceeded_label_limits.inc();
        }
    }

    async fn forward(&self, batch: MetricsBatch) {
        if batch.is_empty() {
            return;
        }
        let receivers = self.ctx.shared.forward_to();
        if receivers.is_empty() {
            return;
        }
        let samples = batch.samples.len();
        let started = Instant::now();
        let result = fanout_append(&receivers, batch).await;
        let m = &self.ctx.shared.metrics;
        m.fanout_latency.observe(started.elapsed().as_secs_f64());
        match result {
            Ok(()) => m.forwarded_samples.inc_by(samples as f64),
            Err(e) => tracing::warn!(
                target_url = %self.ctx.target.url,
                error = %e,
                "Scrape commit failed"
            ),
        }
    }
}

/// Go's `time.Duration.String()`, the `interval` label of the interval-length metric.
fn go_duration(d: Duration) -> String {
    solder_syntax::types::go_duration_string(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_utc() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
