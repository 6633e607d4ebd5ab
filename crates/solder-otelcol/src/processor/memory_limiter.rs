//! `otelcol.processor.memory_limiter`: refuses data while the process uses too much memory, so
//! senders back off (and retry) instead of the agent being killed.
//!
//! Behaviour follows the Collector's `internal/memorylimiter` as Alloy configures it:
//! - limits are whole MiB (Alloy converts `limit`/`spike_limit` to MiB, truncating); the soft
//!   limit is `limit − spike_limit`, `spike_limit` defaulting to a fifth of `limit`; the
//!   percentage forms are taken of the cgroup memory limit, else of the machine's memory;
//! - every `check_interval` the memory in use is compared with the soft limit; at or above it,
//!   data is refused until a later check finds usage below it again;
//! - refused data returns [`ConsumeError::Overloaded`] ("data refused due to high memory
//!   usage"), which receivers map to 429 / RESOURCE_EXHAUSTED.
//!
//! Differences: "memory in use" is the resident set size, not the Go heap, and there is no GC
//! to force above the hard limit (a warning is logged instead).

mod probe;

pub use probe::{total_memory, total_memory_under, MemoryProbe, ProcessRss};

use super::common::{processor_label, DebugMetricsArgs, ItemFlowMetrics};
use crate::component_util::publish_input;
use crate::output::Output;
use prometheus::{IntCounterVec, Opts};
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::{OtlpConsumer, OtlpConsumerRef, OtlpPayload, Signal};
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, Registry, Typed,
    TypedComponent,
};
use solder_syntax::types::{ByteSize, GoDuration};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub fn register(reg: &mut Registry) {
    reg.register(Typed::<MemoryLimiter>::new());
}

const MIB: u64 = 1024 * 1024;

/// The error message the Collector returns for refused data.
pub const REFUSED_MESSAGE: &str = "data refused due to high memory usage";

/// The component's arguments, as written in config.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Args {
    pub check_interval: GoDuration,
    #[serde(default)]
    pub limit: ByteSize,
    #[serde(default)]
    pub spike_limit: ByteSize,
    #[serde(default)]
    pub limit_percentage: u32,
    #[serde(default)]
    pub spike_limit_percentage: u32,
    pub output: Output,
    #[serde(default)]
    pub debug_metrics: DebugMetricsArgs,
}

/// How the limits are given, after validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSpec {
    /// Whole MiB, as the Collector receives them.
    Fixed {
        limit_mib: u64,
        spike_mib: u64,
    },
    Percentage {
        limit: u64,
        spike: u64,
    },
}

/// Limits in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub hard: u64,
    pub spike: u64,
}

impl Limits {
    /// The Collector's `newFixedMemUsageChecker`: a zero spike means a fifth of the limit.
    fn new(hard: u64, spike: u64) -> Limits {
        let spike = if spike == 0 { hard / 5 } else { spike };
        Limits { hard, spike }
    }

    pub fn soft(&self) -> u64 {
        self.hard.saturating_sub(self.spike)
    }
}

impl Args {
    /// Alloy's `Validate` followed by the Collector's, which Alloy runs on the converted config.
    pub fn limit_spec(&self) -> Result<LimitSpec, String> {
        self.debug_metrics.validate()?;
        if self.check_interval.0.is_zero() {
            return Err("check_interval must be greater than zero".into());
        }
        let (limit, spike) = (self.limit.0, self.spike_limit.0);
        if limit > 0 && self.limit_percentage > 0 {
            return Err("either limit or limit_percentage must be set, but not both".into());
        }
        if limit > 0 {
            if spike >= limit {
                return Err("spike_limit must be less than limit".into());
            }
            let spike = if spike == 0 { limit / 5 } else { spike };
            let (limit_mib, spike_mib) = (limit / MIB, spike / MIB);
            if limit_mib == 0 {
                return Err(format!(
                    "limit must be at least 1MiB; got {}",
                    ByteSize(limit)
                ));
            }
            if limit_mib <= spike_mib {
                return Err("spike_limit must be smaller than limit (in whole MiB)".into());
            }
            return Ok(LimitSpec::Fixed {
                limit_mib,
                spike_mib,
            });
        }
        if self.limit_percentage > 0 {
            let in_range = |p: u32| p > 0 && p <= 100;
            if !in_range(self.limit_percentage) || !in_range(self.spike_limit_percentage) {
                return Err("limit_percentage and spike_limit_percentage must be greater than 0 and and less or equal than 100".into());
            }
            if self.limit_percentage <= self.spike_limit_percentage {
                return Err("spike_limit_percentage must be smaller than limit_percentage".into());
            }
            return Ok(LimitSpec::Percentage {
                limit: u64::from(self.limit_percentage),
                spike: u64::from(self.spike_limit_percentage),
            });
        }
        Err("either limit or limit_percentage must be set to greater than zero".into())
    }

    /// The limits in bytes; the percentage forms read the total memory now.
    pub fn limits(&self, total: impl FnOnce() -> std::io::Result<u64>) -> Result<Limits, String> {
        match self.limit_spec()? {
            LimitSpec::Fixed {
                limit_mib,
                spike_mib,
            } => Ok(Limits::new(limit_mib * MIB, spike_mib * MIB)),
            LimitSpec::Percentage { limit, spike } => {
                let total = total().map_err(|e| {
                    format!("failed to get total memory, use fixed memory settings (limit): {e}")
                })?;
                let pct = |p: u64| (u128::from(p) * u128::from(total) / 100) as u64;
                Ok(Limits::new(pct(limit), pct(spike)))
            }
        }
    }
}

/// The per-signal metric name suffix the Collector uses.
fn item_noun(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "spans",
        Signal::Metrics => "metric_points",
        Signal::Logs => "log_records",
    }
}

/// Counters per signal, registered under the Collector's names.
struct OutcomeCounters {
    processor: String,
    accepted: [prometheus::IntCounter; 3],
    refused: [prometheus::IntCounter; 3],
    flow: ItemFlowMetrics,
}

fn signal_index(signal: Signal) -> usize {
    match signal {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
    }
}

impl OutcomeCounters {
    fn new(processor: String, registry: &prometheus::Registry) -> Result<Self, prometheus::Error> {
        let make = |outcome: &str, help: &str, signal: Signal| {
            let vec = IntCounterVec::new(
                Opts::new(
                    format!(
                        "otelcol_processor_memory_limiter_{outcome}_{}_total",
                        item_noun(signal)
                    ),
                    help.replace("{items}", item_noun(signal).replace('_', " ").as_str()),
                ),
                &["processor"],
            )?;
            registry.register(Box::new(vec.clone()))?;
            Ok::<_, prometheus::Error>(vec.with_label_values(&[processor.as_str()]))
        };
        let accepted_help =
            "Number of {items} successfully pushed into the next component in the pipeline.";
        let refused_help =
            "Number of {items} that were rejected by the next component in the pipeline.";
        let all = [Signal::Traces, Signal::Metrics, Signal::Logs];
        let accepted = [
            make("accepted", accepted_help, all[0])?,
            make("accepted", accepted_help, all[1])?,
            make("accepted", accepted_help, all[2])?,
        ];
        let refused = [
            make("refused", refused_help, all[0])?,
            make("refused", refused_help, all[1])?,
            make("refused", refused_help, all[2])?,
        ];
        let flow = ItemFlowMetrics::new(processor.clone())?;
        flow.register(registry)?;
        Ok(OutcomeCounters {
            processor,
            accepted,
            refused,
            flow,
        })
    }
}

/// What the component and its exported consumer share.
struct Shared {
    output: RwLock<Output>,
    limits: RwLock<Limits>,
    check_interval: RwLock<Duration>,
    refusing: AtomicBool,
    probe: Arc<dyn MemoryProbe>,
    counters: OutcomeCounters,
    health: solder_core::HealthReporter,
    /// Wakes the check loop when `check_interval` changes.
    interval_changed: Notify,
}

fn read<T: Clone>(lock: &RwLock<T>) -> T {
    match lock.read() {
        Ok(g) => g.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

fn write<T>(lock: &RwLock<T>, value: T) {
    match lock.write() {
        Ok(mut g) => *g = value,
        Err(poisoned) => *poisoned.into_inner() = value,
    }
}

impl Shared {
    /// One limit check (the Collector's `CheckMemLimits`).
    fn check(&self) {
        let limits = read(&self.limits);
        let mut reading = self.probe.used_bytes();
        if reading.as_ref().is_ok_and(|used| *used >= limits.soft()) {
            // Above the soft limit: give free memory back and judge what remains, as the
            // Collector collects garbage and reads its statistics again.
            self.probe.reclaim();
            reading = self.probe.used_bytes();
        }
        let used = match reading {
            Ok(n) => n,
            Err(e) => {
                // Without a reading, keep the previous decision rather than guess.
                tracing::warn!(processor = %self.counters.processor, error = %e, "memory_limiter: cannot read memory usage");
                return;
            }
        };
        let above_soft = used >= limits.soft();
        let was_refusing = self.refusing.swap(above_soft, Ordering::AcqRel);
        let cur_mib = used / MIB;
        if above_soft {
            if used >= limits.hard {
                tracing::warn!(cur_mem_mib = cur_mib, "Memory usage is above hard limit.");
            }
            if !was_refusing {
                tracing::warn!(
                    cur_mem_mib = cur_mib,
                    "Memory usage is above soft limit. Refusing data."
                );
                self.health.unhealthy(REFUSED_MESSAGE);
            }
        } else if was_refusing {
            tracing::info!(
                cur_mem_mib = cur_mib,
                "Memory usage back within limits. Resuming normal operation."
            );
            self.health.healthy("memory usage within limits");
        }
    }
}

/// The exported `input`.
struct LimiterInput(Arc<Shared>);

#[async_trait::async_trait]
impl OtlpConsumer for LimiterInput {
    async fn consume(&self, payload: OtlpPayload) -> Result<(), ConsumeError> {
        let shared = &self.0;
        let counters = &shared.counters;
        let idx = signal_index(payload.signal);
        counters.flow.incoming(payload.signal, payload.items);
        if shared.refusing.load(Ordering::Acquire) {
            counters.refused[idx].inc_by(payload.items);
            return Err(ConsumeError::Overloaded {
                message: REFUSED_MESSAGE.to_string(),
                retry_after: None,
            });
        }
        // Like the Collector, count as accepted even if the next consumer then fails.
        counters.accepted[idx].inc_by(payload.items);
        counters.flow.outgoing(payload.signal, payload.items);
        let output = read(&shared.output);
        output.consume(payload).await
    }
}

pub struct MemoryLimiter {
    shared: Arc<Shared>,
}

impl MemoryLimiter {
    /// Build with a custom memory probe and total-memory source (tests, embedding).
    pub fn with_probe(
        opts: ComponentOptions,
        args: Args,
        probe: Arc<dyn MemoryProbe>,
        total: impl FnOnce() -> std::io::Result<u64>,
    ) -> Result<Self, ComponentError> {
        let limits = args.limits(total).map_err(ComponentError::Config)?;
        let processor = processor_label("memory_limiter", &opts.id);
        let counters = OutcomeCounters::new(processor, &opts.registry)
            .map_err(|e| ComponentError::Other(format!("registering self-metrics: {e}")))?;
        tracing::info!(
            limit_mib = limits.hard / MIB,
            spike_limit_mib = limits.spike / MIB,
            check_interval = %args.check_interval,
            "Memory limiter configured"
        );
        let shared = Arc::new(Shared {
            output: RwLock::new(args.output),
            limits: RwLock::new(limits),
            check_interval: RwLock::new(args.check_interval.0),
            refusing: AtomicBool::new(false),
            probe,
            counters,
            health: opts.health.clone(),
            interval_changed: Notify::new(),
        });
        let input: OtlpConsumerRef = Arc::new(LimiterInput(Arc::clone(&shared)));
        publish_input(&opts, input);
        Ok(MemoryLimiter { shared })
    }

    /// The exported consumer, as a handle.
    pub fn input(&self) -> OtlpConsumerRef {
        Arc::new(LimiterInput(Arc::clone(&self.shared)))
    }

    /// Run one limit check now (the run loop does this every `check_interval`).
    pub fn check_now(&self) {
        self.shared.check();
    }

    /// Whether data is being refused.
    pub fn is_refusing(&self) -> bool {
        self.shared.refusing.load(Ordering::Acquire)
    }

    pub fn limits(&self) -> Limits {
        read(&self.shared.limits)
    }
}

impl TypedComponent for MemoryLimiter {
    const NAME: &'static str = "otelcol.processor.memory_limiter";
    const EXPORTS: &'static [&'static str] = &["input"];
    type Args = Args;

    fn validate(args: &Args) -> Result<(), String> {
        args.limit_spec().map(|_| ())
    }

    fn build(opts: ComponentOptions, args: Args) -> Result<Self, ComponentError> {
        MemoryLimiter::with_probe(opts, args, Arc::new(ProcessRss), total_memory)
    }
}

impl Component for MemoryLimiter {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        Box::pin(async move {
            let shared = &self.shared;
            shared.health.healthy("memory usage within limits");
            loop {
                let interval = read(&shared.check_interval);
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = shared.interval_changed.notified() => continue,
                    () = tokio::time::sleep(interval) => shared.check(),
                }
            }
        })
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let args = args.downcast::<Args>()?;
        let limits = args.limits(total_memory).map_err(ComponentError::Config)?;
        write(&self.shared.limits, limits);
        write(&self.shared.output, args.output);
        let old = read(&self.shared.check_interval);
        if old != args.check_interval.0 {
            write(&self.shared.check_interval, args.check_interval.0);
            self.shared.interval_changed.notify_one();
        }
        Ok(())
    }

    fn debug_info(&self) -> Option<serde_json::Value> {
        let limits = self.limits();
        Some(serde_json::json!({
            "limit_bytes": limits.hard,
            "spike_limit_bytes": limits.spike,
            "refusing": self.is_refusing(),
        }))
    }
}
