//! `prometheus.relabel`: rewrites the label set of every sample and exemplar with `rule` blocks
//! and forwards what is left to `forward_to` (alloy-spec.md §2.4, relabel semantics §3).
//!
//! Behaviour follows Alloy's `internal/component/prometheus/relabel`:
//! - every series label set (including `__name__`) goes through the rules with legacy label-name
//!   validation; a dropped series, or one left without labels, is not forwarded;
//! - exemplars are relabeled through their series' labels, the same way (and the same cache);
//! - metadata passes through unchanged (it carries a metric family name, not a label set);
//! - results are cached per input label set ([`cache`]); a stale marker evicts its series' entry
//!   after it has been relabeled, so the marker itself still reaches the receivers;
//! - `receiver` is exported once, in build, and stays the same value across updates, so updating
//!   the rules does not re-evaluate the components that feed this one.

mod cache;
mod self_metrics;

pub use cache::{CacheMode, RelabelCache};

use self_metrics::SelfMetrics;
use solder_core::consume::ConsumeError;
use solder_core::relabel::{process_labels_with, CowLabels, NameValidation, Rule};
use solder_core::signals::metrics::{
    fanout_append, is_stale_nan, metrics_receiver_value, Exemplar, Labels, MetricsBatch,
    MetricsForwardTo, MetricsReceiver, MetricsReceiverRef, Sample,
};
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, TypedComponent,
};
use solder_syntax::types::GoDuration;
use solder_syntax::{Capsule, Object, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The capsule type name of the `rules` export (shared with `discovery.relabel`); the capsule
/// holds a `Vec<solder_core::relabel::Rule>`.
pub use solder_core::relabel::RELABEL_RULES_CAPSULE as RELABEL_RULES_TYPE;

/// `max_cache_size` when unset.
pub const DEFAULT_MAX_CACHE_SIZE: i64 = 100_000;

/// The shortest `cache_ttl` Alloy accepts: the scan runs every TTL/4, and shorter TTLs would
/// make scanning dominate the real work.
pub const MIN_CACHE_TTL: Duration = Duration::from_secs(60);

fn default_max_cache_size() -> i64 {
    DEFAULT_MAX_CACHE_SIZE
}

/// The component's arguments, as written in config.
#[derive(serde::Deserialize)]
pub struct Args {
    pub forward_to: MetricsForwardTo,
    #[serde(default)]
    pub rule: Vec<Rule>,
    /// A signed integer so a negative value gets Alloy's message rather than a decode error.
    #[serde(default = "default_max_cache_size")]
    pub max_cache_size: i64,
    #[serde(default)]
    pub cache_ttl: GoDuration,
}

impl Args {
    /// Alloy's `Arguments.Validate`, same checks in the same order, same messages.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_cache_size < 0 {
            return Err(format!(
                "max_cache_size must be >= 0; got {}",
                self.max_cache_size
            ));
        }
        let ttl = self.cache_ttl.0;
        if self.max_cache_size > 0 && !ttl.is_zero() {
            return Err("max_cache_size and cache_ttl are mutually exclusive: set max_cache_size = 0 to use cache_ttl, or unset cache_ttl to keep the bounded LRU cache".to_string());
        }
        if self.max_cache_size == 0 && ttl.is_zero() {
            return Err("one of max_cache_size or cache_ttl must be set".to_string());
        }
        if !ttl.is_zero() && ttl < MIN_CACHE_TTL {
            return Err(format!(
                "cache_ttl must be at least {} when set; got {}",
                GoDuration(MIN_CACHE_TTL),
                self.cache_ttl
            ));
        }
        Ok(())
    }

    /// The cache mode the (validated) arguments ask for.
    pub fn cache_mode(&self) -> Result<CacheMode, String> {
        self.validate()?;
        if !self.cache_ttl.0.is_zero() {
            return Ok(CacheMode::Ttl(self.cache_ttl.0));
        }
        // On 32-bit targets a huge size is as good as unbounded.
        Ok(CacheMode::Bounded(
            usize::try_from(self.max_cache_size).unwrap_or(usize::MAX),
        ))
    }
}

/// What one update configures; replaced as a whole so a batch sees one consistent version.
struct State {
    rules: Vec<Rule>,
    forward_to: MetricsForwardTo,
    cache: Mutex<RelabelCache>,
}

/// What the component and its exported receiver share.
struct Shared {
    id: String,
    state: RwLock<Arc<State>>,
    metrics: SelfMetrics,
    /// Set when `run` returns; appends are refused from then on, as in Alloy.
    exited: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn state(&self) -> Arc<State> {
        match self.state.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Relabels one series through the cache. `None`: do not forward.
    fn relabel_series(
        &self,
        rules: &[Rule],
        cache: &mut RelabelCache,
        input: &Labels,
        now: Instant,
    ) -> Option<Labels> {
        self.metrics.processed.inc();
        if let Some(outcome) = cache.get(input, now) {
            self.metrics.cache_hits.inc();
            return outcome;
        }
        self.metrics.cache_misses.inc();
        let outcome = apply_rules(rules, input);
        cache.insert(input.clone(), outcome.clone(), now);
        outcome
    }

    /// The batch to forward: relabeled samples and exemplars, metadata unchanged.
    fn relabel_batch(&self, state: &State, batch: MetricsBatch) -> MetricsBatch {
        let now = Instant::now();
        let mut cache = lock(&state.cache);
        let expired = cache.expire(now);
        if expired > 0 {
            self.metrics.cache_ttl_evictions.inc_by(expired as f64);
        }
        let mut samples = Vec::with_capacity(batch.samples.len());
        for sample in batch.samples {
            let relabeled = self.relabel_series(&state.rules, &mut cache, &sample.labels, now);
            // Evict after relabeling, so the stale marker itself is still forwarded.
            if is_stale_nan(sample.value) {
                self.metrics.cache_deletes.inc();
                cache.remove(&sample.labels);
            }
            if let Some(labels) = relabeled {
                self.metrics.written.inc();
                samples.push(Sample { labels, ..sample });
            }
        }
        let mut exemplars = Vec::with_capacity(batch.exemplars.len());
        for exemplar in batch.exemplars {
            if let Some(series) =
                self.relabel_series(&state.rules, &mut cache, &exemplar.series, now)
            {
                exemplars.push(Exemplar { series, ..exemplar });
            }
        }
        self.metrics.cache_size.set(saturating_i64(cache.len()));
        MetricsBatch {
            samples,
            exemplars,
            metadata: batch.metadata,
        }
    }
}

fn saturating_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Runs the rules on one label set; `None` when dropped or when no label is left.
pub fn apply_rules(rules: &[Rule], input: &Labels) -> Option<Labels> {
    // The engine reads a sorted pair slice; series rarely have more than a few dozen labels,
    // so the borrowed pairs usually fit on the stack.
    const STACK: usize = 32;
    let mut stack = [("", ""); STACK];
    let heap: Vec<(&str, &str)>;
    let pairs: &[(&str, &str)] = if input.len() <= STACK {
        for (slot, pair) in stack.iter_mut().zip(input.iter()) {
            *slot = pair;
        }
        &stack[..input.len()]
    } else {
        heap = input.iter().collect();
        &heap
    };
    let mut view = CowLabels::new(pairs);
    if !process_labels_with(rules, &mut view, NameValidation::Legacy) {
        return None;
    }
    let output = match view.into_changed() {
        // Nothing was written: share the input's storage.
        None => input.clone(),
        Some(pairs) => Labels::new(pairs),
    };
    (!output.is_empty()).then_some(output)
}

/// The exported `receiver`.
struct RelabelReceiver(Arc<Shared>);

#[async_trait::async_trait]
impl MetricsReceiver for RelabelReceiver {
    async fn append(&self, batch: MetricsBatch) -> Result<(), ConsumeError> {
        let shared = &self.0;
        if shared.exited.load(Ordering::Acquire) {
            // Transient from the sender's view: the component is being replaced or shut down.
            return Err(ConsumeError::Retryable {
                message: format!("{} has exited", shared.id),
                retry_after: None,
            });
        }
        let state = shared.state();
        let out = shared.relabel_batch(&state, batch);
        if out.is_empty() {
            return Ok(());
        }
        let samples = out.samples.len();
        let start = Instant::now();
        let result = fanout_append(&state.forward_to, out).await;
        shared
            .metrics
            .fanout_latency
            .observe(start.elapsed().as_secs_f64());
        // Alloy counts a sample once when a receiver took it; with a combined result we can only
        // count the batches every receiver took.
        if result.is_ok() && !state.forward_to.is_empty() {
            shared.metrics.forwarded_samples.inc_by(samples as f64);
        }
        result
    }
}

pub struct PrometheusRelabel {
    opts: ComponentOptions,
    shared: Arc<Shared>,
    /// The `receiver` export, created once so every publish carries the identical capsule.
    receiver: Value,
    /// The last published rules and their capsule, reused while the rules do not change
    /// (capsules compare by identity, and a new one would wake every dependant).
    rules_export: Mutex<(Vec<Rule>, Capsule)>,
}

impl PrometheusRelabel {
    /// The exported receiver, as a handle (for embedding and tests).
    pub fn receiver(&self) -> MetricsReceiverRef {
        Arc::new(RelabelReceiver(Arc::clone(&self.shared)))
    }

    /// Current number of cached relabel results.
    pub fn cache_len(&self) -> usize {
        lock(&self.shared.state().cache).len()
    }

    fn publish(&self, rules: &[Rule]) {
        let capsule = {
            let mut last = lock(&self.rules_export);
            if last.0 != rules {
                *last = (
                    rules.to_vec(),
                    Capsule::new(RELABEL_RULES_TYPE, rules.to_vec()),
                );
            }
            last.1.clone()
        };
        let mut exports = Object::new();
        exports.insert("receiver".to_string(), self.receiver.clone());
        exports.insert("rules".to_string(), Value::Capsule(capsule));
        self.opts.publish_exports(Value::Object(exports));
    }
}

impl TypedComponent for PrometheusRelabel {
    const NAME: &'static str = "prometheus.relabel";
    const EXPORTS: &'static [&'static str] = &["receiver", "rules"];
    type Args = Args;

    fn validate(args: &Args) -> Result<(), String> {
        args.validate()
    }

    fn build(opts: ComponentOptions, args: Args) -> Result<Self, ComponentError> {
        let mode = args.cache_mode().map_err(ComponentError::Config)?;
        let metrics = SelfMetrics::new()
            .and_then(|m| m.register(&opts.registry).map(|()| m))
            .map_err(|e| ComponentError::Other(format!("registering self-metrics: {e}")))?;
        let shared = Arc::new(Shared {
            id: opts.id.clone(),
            state: RwLock::new(Arc::new(State {
                rules: args.rule.clone(),
                forward_to: args.forward_to,
                cache: Mutex::new(RelabelCache::new(mode, Instant::now())),
            })),
            metrics,
            exited: AtomicBool::new(false),
        });
        let receiver: MetricsReceiverRef = Arc::new(RelabelReceiver(Arc::clone(&shared)));
        let component = PrometheusRelabel {
            receiver: metrics_receiver_value(receiver),
            rules_export: Mutex::new((
                args.rule.clone(),
                Capsule::new(RELABEL_RULES_TYPE, args.rule.clone()),
            )),
            opts,
            shared,
        };
        component.publish(&args.rule);
        Ok(component)
    }
}

impl Component for PrometheusRelabel {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        Box::pin(async move {
            shutdown.cancelled().await;
            self.shared.exited.store(true, Ordering::Release);
            Ok(())
        })
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let args = args.downcast::<Args>()?;
        let mode = args.cache_mode().map_err(ComponentError::Config)?;
        let cache_len = {
            let mut current = match self.shared.state.write() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            // The cache memoizes the rules: keep it only while the rules and mode stay the same.
            let cache = {
                let mut old = lock(&current.cache);
                if current.rules == args.rule && old.mode() == mode {
                    std::mem::replace(&mut *old, RelabelCache::new(mode, Instant::now()))
                } else {
                    RelabelCache::new(mode, Instant::now())
                }
            };
            let cache_len = cache.len();
            *current = Arc::new(State {
                rules: args.rule.clone(),
                forward_to: args.forward_to,
                cache: Mutex::new(cache),
            });
            cache_len
        };
        self.shared
            .metrics
            .cache_size
            .set(saturating_i64(cache_len));
        self.publish(&args.rule);
        Ok(())
    }
}
