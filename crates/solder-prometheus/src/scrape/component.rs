//! The `prometheus.scrape` component: keeps one [`scrape_loop`](super::scrape_loop) per target
//! and reconciles them on every `update` (Alloy's reactive targets): new targets start, removed
//! ones stop (and later write stale markers), unchanged ones keep their loop and cache. A change
//! of the scrape settings restarts every loop, handing each its predecessor's cache when the
//! change cannot alter series identities (Prometheus's `reusableCache`).
//!
//! All loop management happens in `run` (build never spawns); `update` stores the new
//! arguments and wakes it. `forward_to` changes apply at once, without touching the loops.

use super::args::Args;
use super::cache::AppendSettings;
use super::scrape_loop::{
    lock, rfc3339, spawn_loop, FailureLog, LoopConfig, LoopContext, LoopHandle, PoolShared,
    TargetStatus,
};
use super::self_metrics::SelfMetrics;
use super::series::LabelLimits;
use super::target::{populate_target, ScrapeTarget, TargetDefaults, ADDRESS_LABEL};
use super::{offset_seed, scrape_offset, target_hash};
use crate::exposition::Format;
use crate::http_client::HttpClient;
use solder_core::signals::metrics::Labels;
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, TypedComponent,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How often the component folds its targets' states into its health message.
const HEALTH_REFRESH: Duration = Duration::from_millis(500);

/// A target's identity: the same labels, URL and timing keep the same loop and cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TargetKey {
    labels: Labels,
    url: String,
    interval: Duration,
    timeout: Duration,
}

impl TargetKey {
    fn of(t: &ScrapeTarget) -> Self {
        TargetKey {
            labels: t.labels.clone(),
            url: t.url.clone(),
            interval: t.interval,
            timeout: t.timeout,
        }
    }
}

/// Settings that, when changed, restart the loops; `reuse` is the part that decides whether the
/// caches survive (everything but interval, timeout, sample limit and the HTTP client).
#[derive(Debug, Clone, PartialEq)]
struct SettingsKey {
    reuse: (AppendSettings, bool, Option<Format>),
    other: (u64, String, &'static str, u64, String),
}

/// The loops and what they were started with; owned by `run`.
struct Pool {
    config: Option<(Arc<LoopConfig>, SettingsKey)>,
    loops: HashMap<TargetKey, LoopHandle>,
    /// Loops stopped but maybe still writing stale markers; awaited on shutdown.
    stopping: Vec<LoopHandle>,
}

/// One running loop as `debug_info` and health see it.
struct TargetView {
    job: String,
    target: ScrapeTarget,
    status: Arc<Mutex<TargetStatus>>,
}

struct Inner {
    opts: ComponentOptions,
    shared: Arc<PoolShared>,
    pending: Mutex<Option<Args>>,
    wake: Notify,
    /// The running loops, for `debug_info` and health.
    view: Mutex<Vec<TargetView>>,
    offset_seed: u64,
    user_agent: String,
    /// Settings whose HTTP client was last built successfully by build/update.
    checked_settings: Mutex<Option<SettingsKey>>,
}

pub struct PrometheusScrape {
    inner: Arc<Inner>,
}

fn build_client(args: &Args, user_agent: &str) -> Result<HttpClient, ComponentError> {
    args.http_client_config()
        .build(user_agent, None)
        .map_err(|e| ComponentError::Config(e.to_string()))
}

/// What build and update check before accepting settings (the pool applies them later, in
/// `run`): the HTTP client builds and the failure log file opens.
fn check_settings(args: &Args, user_agent: &str) -> Result<(), ComponentError> {
    build_client(args, user_agent)?;
    FailureLog::open(&args.scrape_failure_log_file).map_err(ComponentError::Config)?;
    Ok(())
}

fn usize_limit(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn fallback_format(args: &Args) -> Option<Format> {
    let media = args.fallback_media_type()?;
    Some(crate::exposition::format_from_content_type(media))
}

fn settings_key(args: &Args) -> SettingsKey {
    SettingsKey {
        reuse: (
            append_settings(args, 0),
            args.extra_metrics,
            fallback_format(args),
        ),
        other: (
            args.sample_limit,
            super::fetch::accept_header(&args.scrape_protocols, args.escaping_scheme()),
            if args.enable_compression {
                "gzip"
            } else {
                "identity"
            },
            args.body_size_limit.0,
            format!(
                "{}\u{0}{}",
                args.scrape_failure_log_file,
                client_fingerprint(args)
            ),
        ),
    }
}

/// Stands in for equality of the HTTP client settings (which have none): their debug form, which
/// redacts secrets, plus the secrets themselves, so a rotated password also rebuilds the client.
fn client_fingerprint(args: &Args) -> String {
    let cfg = args.http_client_config();
    let mut out = format!("{cfg:?}");
    let mut add = |s: &crate::http_client::Secret| {
        out.push('\u{0}');
        out.push_str(s.expose());
    };
    add(&cfg.bearer_token);
    add(&cfg.tls_config.key_pem);
    if let Some(b) = &cfg.basic_auth {
        add(&b.password);
    }
    if let Some(a) = &cfg.authorization {
        add(&a.credentials);
    }
    if let Some(o) = &cfg.oauth2 {
        add(&o.client_secret);
        if let Some(t) = &o.tls_config {
            add(&t.key_pem);
        }
        o.proxy_connect_header.values().flatten().for_each(&mut add);
    }
    cfg.http_headers.values().flatten().for_each(&mut add);
    cfg.proxy_connect_header
        .values()
        .flatten()
        .for_each(&mut add);
    out
}

fn append_settings(args: &Args, sample_limit: u64) -> AppendSettings {
    AppendSettings {
        honor_labels: args.honor_labels,
        honor_timestamps: args.honor_timestamps,
        track_timestamps_staleness: args.track_timestamps_staleness,
        sample_limit: usize_limit(sample_limit),
        label_limits: LabelLimits {
            label_limit: usize_limit(args.label_limit),
            name_length: usize_limit(args.label_name_length_limit),
            value_length: usize_limit(args.label_value_length_limit),
        },
        utf8_names: args.metric_name_validation_scheme == "utf8",
    }
}

/// The address to dial for an in-memory self-scrape: the admin server's listen address, with a
/// wildcard host replaced by loopback.
fn self_scrape_authority(listen: &str) -> String {
    if let Some(port) = listen.strip_prefix("0.0.0.0:") {
        return format!("127.0.0.1:{port}");
    }
    if let Some(port) = listen.strip_prefix("[::]:") {
        return format!("[::1]:{port}");
    }
    if let Some(port) = listen.strip_prefix(':') {
        return format!("127.0.0.1:{port}");
    }
    listen.to_string()
}

impl Inner {
    fn job_name(&self, args: &Args) -> String {
        if args.job_name.is_empty() {
            self.opts.id.clone()
        } else {
            args.job_name.clone()
        }
    }

    fn loop_config(&self, args: &Args) -> Result<LoopConfig, ComponentError> {
        Ok(LoopConfig {
            client: build_client(args, &self.user_agent)?,
            accept: super::fetch::accept_header(&args.scrape_protocols, args.escaping_scheme()),
            accept_encoding: if args.enable_compression {
                "gzip"
            } else {
                "identity"
            },
            user_agent: self.user_agent.clone(),
            body_size_limit: args.body_size_limit.0,
            fallback: fallback_format(args),
            append: append_settings(args, args.sample_limit),
            extra_metrics: args.extra_metrics,
            failure_log: FailureLog::open(&args.scrape_failure_log_file)
                .map_err(ComponentError::Config)?,
        })
    }

    /// The URL to request: an `__address__` equal to the agent's in-memory address is served
    /// by the agent's own HTTP server, so it is dialled there.
    fn fetch_url(&self, target: &ScrapeTarget) -> String {
        let memory = &self.opts.host.http_memory_addr;
        match target.discovered.get(ADDRESS_LABEL) {
            Some(addr) if !memory.is_empty() && addr == memory => target.url.replacen(
                &format!("//{addr}"),
                &format!(
                    "//{}",
                    self_scrape_authority(&self.opts.host.http_listen_addr)
                ),
                1,
            ),
            _ => target.url.clone(),
        }
    }

    /// Reconciles the loops with `args`.
    fn apply(&self, pool: &mut Pool, pool_token: &CancellationToken, args: Args) {
        if let Ok(mut fwd) = self.shared.forward_to.write() {
            fwd.clone_from(&args.forward_to);
        }
        let job = self.job_name(&args);
        let metrics = &self.shared.metrics;
        metrics.pool_sync.with_label_values(&[&job]).inc();
        metrics
            .targets_gauge
            .set(i64::try_from(args.targets.len()).unwrap_or(i64::MAX));

        let key = settings_key(&args);
        let (config, restart, reuse) = match &pool.config {
            Some((cfg, old)) if *old == key => (Arc::clone(cfg), false, true),
            previous => {
                let cfg = match self.loop_config(&args) {
                    Ok(c) => Arc::new(c),
                    Err(e) => {
                        tracing::error!(component = %self.opts.id, error = %e, "cannot apply scrape settings");
                        self.opts.health.unhealthy(e.to_string());
                        return;
                    }
                };
                let reuse = previous
                    .as_ref()
                    .is_some_and(|(_, old)| old.reuse == key.reuse);
                if previous.is_some() {
                    metrics.pool_reloads.inc();
                }
                (cfg, previous.is_some(), reuse)
            }
        };
        pool.config = Some((Arc::clone(&config), key));

        let defaults = TargetDefaults {
            job_name: job.clone(),
            scheme: args.scheme.clone(),
            metrics_path: args.metrics_path.clone(),
            scrape_interval: args.interval(),
            scrape_timeout: args.timeout(),
            params: args.params.clone(),
            honor_labels: args.honor_labels,
        };
        let mut wanted: Vec<(TargetKey, ScrapeTarget)> = Vec::new();
        let mut wanted_keys: HashSet<TargetKey> = HashSet::new();
        for discovered in &args.targets {
            match populate_target(discovered, &defaults) {
                Ok(Some(t)) => {
                    let k = TargetKey::of(&t);
                    // Duplicates (same labels and URL) share one loop, as in Prometheus.
                    if wanted_keys.insert(k.clone()) {
                        wanted.push((k, t));
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(component = %self.opts.id, error = %e, target = ?discovered, "Creating target failed")
                }
            }
        }

        // Stop loops whose target went away: they write end-of-run stale markers later.
        let gone: Vec<TargetKey> = pool
            .loops
            .keys()
            .filter(|k| !wanted_keys.contains(*k))
            .cloned()
            .collect();
        for k in gone {
            if let Some(h) = pool.loops.remove(&k) {
                h.stop_into(&mut pool.stopping);
            }
        }
        pool.stopping.retain(|h| !h.is_finished());

        for (k, target) in wanted {
            let prior = match pool.loops.remove(&k) {
                Some(old) if !restart => {
                    pool.loops.insert(k, old);
                    continue;
                }
                Some(old) if reuse => Some(old.stop_for_handover()),
                Some(old) => {
                    old.stop_into(&mut pool.stopping);
                    None
                }
                None => None,
            };
            let hash = target_hash(&target.labels, &target.url);
            let ctx = LoopContext {
                fetch_url: self.fetch_url(&target),
                offset: scrape_offset(hash, target.interval, self.offset_seed),
                target,
                config: Arc::clone(&config),
                shared: Arc::clone(&self.shared),
                pool: pool_token.clone(),
            };
            pool.loops.insert(k, spawn_loop(ctx, prior));
        }

        // target_limit: every scrape of the pool fails while there are too many targets.
        let limit = args.target_limit;
        metrics
            .pool_target_limit
            .with_label_values(&[&job])
            .set(i64::try_from(limit).unwrap_or(i64::MAX));
        let forced = if limit > 0 && pool.loops.len() as u64 > limit {
            metrics.pool_exceeded_target_limit.inc();
            Some(format!(
                "target_limit exceeded (number of targets: {}, limit: {limit})",
                pool.loops.len()
            ))
        } else {
            None
        };
        for h in pool.loops.values() {
            h.set_forced_error(forced.clone());
        }
        metrics
            .pool_targets
            .with_label_values(&[&job])
            .set(i64::try_from(pool.loops.len()).unwrap_or(i64::MAX));

        let mut view: Vec<_> = pool
            .loops
            .values()
            .map(|h| TargetView {
                job: job.clone(),
                target: h.target.clone(),
                status: Arc::clone(&h.status),
            })
            .collect();
        view.sort_by(|a, b| a.target.url.cmp(&b.target.url));
        *lock(&self.view) = view;
        self.shared.health_dirty.store(true, Ordering::Release);
    }

    /// Healthy whatever the targets do (a down target must not fail `/-/healthy`, as in
    /// Alloy); the message says how many targets are down and why.
    fn refresh_health(&self) {
        if !self.shared.health_dirty.swap(false, Ordering::AcqRel) {
            return;
        }
        let view = lock(&self.view);
        let mut down: Vec<String> = Vec::new();
        for v in view.iter() {
            let s = lock(&v.status);
            if s.health == "down" {
                down.push(format!("{}: {}", v.target.url, s.last_error));
            }
        }
        let message = if down.is_empty() {
            format!("{} targets, none down", view.len())
        } else {
            format!(
                "{} of {} targets down; last errors: {}",
                down.len(),
                view.len(),
                down.join("; ")
            )
        };
        self.opts.health.healthy(message);
    }
}

impl TypedComponent for PrometheusScrape {
    const NAME: &'static str = "prometheus.scrape";
    type Args = Args;

    fn validate(args: &Args) -> Result<(), String> {
        args.validate()
    }

    fn build(opts: ComponentOptions, args: Args) -> Result<Self, ComponentError> {
        args.validate().map_err(ComponentError::Config)?;
        let user_agent = format!("Solder/{}", env!("CARGO_PKG_VERSION"));
        // Fail the build on client settings that cannot work (unreadable CA file, …).
        check_settings(&args, &user_agent)?;
        let checked_settings = Mutex::new(Some(settings_key(&args)));
        let metrics = SelfMetrics::new()
            .and_then(|m| m.register(&opts.registry).map(|()| m))
            .map_err(|e| ComponentError::Other(format!("registering self-metrics: {e}")))?;
        let seed = offset_seed(&opts.host.hostname, &Labels::default());
        let inner = Arc::new(Inner {
            shared: Arc::new(PoolShared {
                forward_to: RwLock::new(args.forward_to.clone()),
                metrics,
                health_dirty: AtomicBool::new(true),
            }),
            pending: Mutex::new(Some(args)),
            wake: Notify::new(),
            view: Mutex::new(Vec::new()),
            offset_seed: seed,
            user_agent,
            checked_settings,
            opts,
        });
        Ok(PrometheusScrape { inner })
    }
}

impl Component for PrometheusScrape {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let pool_token = shutdown.child_token();
            let mut pool = Pool {
                config: None,
                loops: HashMap::new(),
                stopping: Vec::new(),
            };
            let mut health_tick = tokio::time::interval(HEALTH_REFRESH);
            loop {
                let pending = lock(&inner.pending).take();
                if let Some(args) = pending {
                    inner.apply(&mut pool, &pool_token, args);
                }
                inner.refresh_health();
                tokio::select! {
                    _ = inner.wake.notified() => {}
                    _ = health_tick.tick() => {}
                    _ = shutdown.cancelled() => break,
                }
            }
            pool_token.cancel();
            let handles: Vec<LoopHandle> = pool.loops.into_values().chain(pool.stopping).collect();
            for h in handles {
                h.join().await;
            }
            Ok(())
        })
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let args = args.downcast::<Args>()?;
        args.validate().map_err(ComponentError::Config)?;
        // Building a client loads certificates; only do it when the settings changed (target
        // lists change far more often than settings).
        let key = settings_key(&args);
        let mut checked = lock(&self.inner.checked_settings);
        if checked.as_ref() != Some(&key) {
            check_settings(&args, &self.inner.user_agent)?;
            *checked = Some(key);
        }
        drop(checked);
        // Receivers change at once; targets and settings when `run` wakes.
        if let Ok(mut fwd) = self.inner.shared.forward_to.write() {
            fwd.clone_from(&args.forward_to);
        }
        *lock(&self.inner.pending) = Some(args);
        self.inner.wake.notify_one();
        Ok(())
    }

    fn debug_info(&self) -> Option<serde_json::Value> {
        let view = lock(&self.inner.view);
        let targets: Vec<serde_json::Value> = view
            .iter()
            .map(|v| {
                let s = lock(&v.status).clone();
                let labels: BTreeMap<&str, &str> = v.target.labels.iter().collect();
                serde_json::json!({
                    "job": v.job,
                    "url": v.target.url,
                    "health": s.health,
                    "labels": labels,
                    "last_error": s.last_error,
                    "last_scrape": s.last_scrape.map(rfc3339).unwrap_or_default(),
                    "last_scrape_duration": s
                        .last_duration
                        .map(solder_syntax::types::go_duration_string)
                        .unwrap_or_default(),
                })
            })
            .collect();
        Some(serde_json::json!({ "target": targets }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_listen_addresses_dial_loopback() {
        assert_eq!(self_scrape_authority("0.0.0.0:12345"), "127.0.0.1:12345");
        assert_eq!(self_scrape_authority("[::]:9"), "[::1]:9");
        assert_eq!(self_scrape_authority("127.0.0.1:80"), "127.0.0.1:80");
    }
}
