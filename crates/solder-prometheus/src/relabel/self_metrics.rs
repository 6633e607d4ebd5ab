//! Self-metrics of `prometheus.relabel`, with Alloy's names, help texts and types (its
//! `relabel.go` and the fan-out's `fanout.go`). They are registered in the component's
//! registry, which adds `component_id` and `component_path`.

use prometheus::{Counter, Histogram, HistogramOpts, IntGauge, Opts, Registry};

/// Alloy's fan-out write-latency buckets, in seconds.
const FANOUT_LATENCY_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Clone)]
pub struct SelfMetrics {
    /// Samples and exemplars that went through the rules (or the cache).
    pub processed: Counter,
    /// Samples forwarded after relabeling.
    pub written: Counter,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    /// Stale markers seen (each removes its series' cache entry).
    pub cache_deletes: Counter,
    pub cache_ttl_evictions: Counter,
    pub cache_size: IntGauge,
    pub fanout_latency: Histogram,
    pub forwarded_samples: Counter,
}

impl SelfMetrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str| Counter::with_opts(Opts::new(name, help));
        Ok(SelfMetrics {
            processed: counter(
                "alloy_prometheus_relabel_metrics_processed",
                "Total number of metrics processed",
            )?,
            written: counter(
                "alloy_prometheus_relabel_metrics_written",
                "Total number of metrics written",
            )?,
            cache_hits: counter(
                "alloy_prometheus_relabel_cache_hits",
                "Total number of cache hits",
            )?,
            cache_misses: counter(
                "alloy_prometheus_relabel_cache_misses",
                "Total number of cache misses",
            )?,
            cache_deletes: counter(
                "alloy_prometheus_relabel_cache_deletes",
                "Total number of cache deletes",
            )?,
            cache_ttl_evictions: counter(
                "alloy_prometheus_relabel_cache_ttl_evictions",
                "Number of relabel cache entries removed by the periodic TTL scan. Always 0 when cache_ttl is unset.",
            )?,
            cache_size: IntGauge::with_opts(Opts::new(
                "alloy_prometheus_relabel_cache_size",
                "Total size of relabel cache.",
            ))?,
            fanout_latency: Histogram::with_opts(
                HistogramOpts::new(
                    "prometheus_fanout_latency",
                    "Write latency for sending to direct and indirect components",
                )
                .buckets(FANOUT_LATENCY_BUCKETS.to_vec()),
            )?,
            forwarded_samples: counter(
                "prometheus_forwarded_samples_total",
                "Total number of samples sent to downstream components.",
            )?,
        })
    }

    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.processed.clone()))?;
        registry.register(Box::new(self.written.clone()))?;
        registry.register(Box::new(self.cache_hits.clone()))?;
        registry.register(Box::new(self.cache_misses.clone()))?;
        registry.register(Box::new(self.cache_deletes.clone()))?;
        registry.register(Box::new(self.cache_ttl_evictions.clone()))?;
        registry.register(Box::new(self.cache_size.clone()))?;
        registry.register(Box::new(self.fanout_latency.clone()))?;
        registry.register(Box::new(self.forwarded_samples.clone()))?;
        Ok(())
    }
}
