//! Self-metrics of `prometheus.scrape`: Alloy's own (`prometheus_scrape_targets_*`, the fan-out
//! pair) and the Prometheus scrape manager's `prometheus_target_*` family that Alloy registers
//! for each component. Names, help texts and label names are theirs. Registered in the
//! component's registry, which adds `component_id` and `component_path`.
//!
//! The `prometheus` crate has no summaries, so `prometheus_target_interval_length_seconds` is a
//! small collector of its own ([`IntervalSummary`]). Not provided: the metrics of features Solder
//! refuses (native histogram bucket limit, symbol tables).

use prometheus::core::{Collector, Desc};
use prometheus::proto::{LabelPair, Metric, MetricFamily, MetricType, Quantile, Summary};
use prometheus::{
    Counter, Histogram, HistogramOpts, HistogramVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Prometheus's objectives for the interval summary (the error margins are not needed: the
/// window below is small enough to rank exactly).
const INTERVAL_QUANTILES: [f64; 5] = [0.01, 0.05, 0.5, 0.9, 0.99];
/// client_golang's default summary `MaxAge`: quantiles cover the last ten minutes.
const SUMMARY_MAX_AGE: Duration = Duration::from_secs(600);
/// Observations kept per `interval` label (a 1s interval over ten minutes).
const SUMMARY_MAX_SAMPLES: usize = 600;

#[derive(Default)]
struct Window {
    recent: VecDeque<(Instant, f64)>,
    count: u64,
    sum: f64,
}

/// `prometheus_target_interval_length_seconds{interval}`: a summary with quantiles over the
/// observations of the last ten minutes (exact ranks over a bounded window, where client_golang
/// uses a streaming estimate) and all-time count and sum.
#[derive(Clone)]
pub struct IntervalSummary {
    desc: Desc,
    windows: Arc<Mutex<BTreeMap<String, Window>>>,
}

impl IntervalSummary {
    fn new() -> Result<Self, prometheus::Error> {
        Ok(IntervalSummary {
            desc: Desc::new(
                "prometheus_target_interval_length_seconds".to_string(),
                "Actual intervals between scrapes.".to_string(),
                vec!["interval".to_string()],
                HashMap::new(),
            )?,
            windows: Arc::new(Mutex::new(BTreeMap::new())),
        })
    }

    pub fn observe(&self, interval: &str, seconds: f64) {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        // Looked up before inserting: one loop per target observes every scrape, and the key
        // is nearly always there already (no String allocated for it).
        if !windows.contains_key(interval) {
            windows.insert(interval.to_string(), Default::default());
        }
        let Some(w) = windows.get_mut(interval) else {
            return;
        };
        w.count += 1;
        w.sum += seconds;
        w.recent.push_back((now, seconds));
        while w.recent.len() > SUMMARY_MAX_SAMPLES {
            w.recent.pop_front();
        }
    }
}

impl Collector for IntervalSummary {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let mut metrics = Vec::with_capacity(windows.len());
        for (interval, w) in windows.iter_mut() {
            while w
                .recent
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > SUMMARY_MAX_AGE)
            {
                w.recent.pop_front();
            }
            let mut values: Vec<f64> = w.recent.iter().map(|(_, v)| *v).collect();
            values.sort_by(f64::total_cmp);
            let quantiles = INTERVAL_QUANTILES
                .iter()
                .map(|&q| {
                    let mut quantile = Quantile::default();
                    quantile.set_quantile(q);
                    quantile.set_value(rank(&values, q));
                    quantile
                })
                .collect();
            let mut summary = Summary::default();
            summary.set_sample_count(w.count);
            summary.set_sample_sum(w.sum);
            summary.set_quantile(quantiles);
            let mut label = LabelPair::default();
            label.set_name("interval".to_string());
            label.set_value(interval.clone());
            let mut metric = Metric::from_label(vec![label]);
            metric.set_summary(summary);
            metrics.push(metric);
        }
        let mut family = MetricFamily::default();
        family.set_name(self.desc.fq_name.clone());
        family.set_help(self.desc.help.clone());
        family.set_field_type(MetricType::SUMMARY);
        family.set_metric(metrics);
        vec![family]
    }
}

/// Nearest-rank quantile of sorted values; NaN for none, as client_golang reports.
fn rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

/// Alloy's fan-out write-latency buckets, in seconds.
const FANOUT_LATENCY_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Clone)]
pub struct SelfMetrics {
    pub targets_gauge: IntGauge,
    pub targets_moved: Counter,
    pub fanout_latency: Histogram,
    pub forwarded_samples: Counter,
    pub pool_targets: IntGaugeVec,
    pub pool_target_limit: IntGaugeVec,
    pub pool_exceeded_target_limit: Counter,
    pub pool_exceeded_label_limits: Counter,
    pub pool_sync: prometheus::CounterVec,
    pub pool_reloads: Counter,
    pub exceeded_sample_limit: Counter,
    pub exceeded_body_size_limit: Counter,
    pub sample_duplicate: Counter,
    /// Alloy's fan-out never reports out-of-order samples, so this stays 0 there too.
    pub sample_out_of_order: Counter,
    pub sample_out_of_bounds: Counter,
    pub exemplar_out_of_order: Counter,
    pub cache_flush_forced: Counter,
    pub interval_length: HistogramVec,
    pub interval_summary: IntervalSummary,
}

impl SelfMetrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str| Counter::with_opts(Opts::new(name, help));
        Ok(SelfMetrics {
            targets_gauge: IntGauge::with_opts(Opts::new(
                "prometheus_scrape_targets_gauge",
                "Number of targets this component is configured to scrape",
            ))?,
            targets_moved: counter(
                "prometheus_scrape_targets_moved_total",
                "Number of targets that have moved from this cluster node to another one",
            )?,
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
            pool_targets: IntGaugeVec::new(
                Opts::new(
                    "prometheus_target_scrape_pool_targets",
                    "Current number of targets in this scrape pool.",
                ),
                &["scrape_job"],
            )?,
            pool_target_limit: IntGaugeVec::new(
                Opts::new(
                    "prometheus_target_scrape_pool_target_limit",
                    "Maximum number of targets allowed in this scrape pool.",
                ),
                &["scrape_job"],
            )?,
            pool_exceeded_target_limit: counter(
                "prometheus_target_scrape_pool_exceeded_target_limit_total",
                "Total number of times scrape pools hit the target limit, during sync or config reload.",
            )?,
            pool_exceeded_label_limits: counter(
                "prometheus_target_scrape_pool_exceeded_label_limits_total",
                "Total number of times scrape pools hit the label limits, during sync or config reload.",
            )?,
            pool_sync: prometheus::CounterVec::new(
                Opts::new(
                    "prometheus_target_scrape_pool_sync_total",
                    "Total number of syncs that were executed on a scrape pool.",
                ),
                &["scrape_job"],
            )?,
            pool_reloads: counter(
                "prometheus_target_scrape_pool_reloads_total",
                "Total number of scrape pool reloads.",
            )?,
            exceeded_sample_limit: counter(
                "prometheus_target_scrapes_exceeded_sample_limit_total",
                "Total number of scrapes that hit the sample limit and were rejected.",
            )?,
            exceeded_body_size_limit: counter(
                "prometheus_target_scrapes_exceeded_body_size_limit_total",
                "Total number of scrapes that hit the body size limit",
            )?,
            sample_duplicate: counter(
                "prometheus_target_scrapes_sample_duplicate_timestamp_total",
                "Total number of samples rejected due to duplicate timestamps but different values.",
            )?,
            sample_out_of_order: counter(
                "prometheus_target_scrapes_sample_out_of_order_total",
                "Total number of samples rejected due to not being out of the expected order.",
            )?,
            sample_out_of_bounds: counter(
                "prometheus_target_scrapes_sample_out_of_bounds_total",
                "Total number of samples rejected due to timestamp falling outside of the time bounds.",
            )?,
            exemplar_out_of_order: counter(
                "prometheus_target_scrapes_exemplar_out_of_order_total",
                "Total number of exemplar rejected due to not being out of the expected order.",
            )?,
            cache_flush_forced: counter(
                "prometheus_target_scrapes_cache_flush_forced_total",
                "How many times a scrape cache was flushed due to getting big while scrapes are failing.",
            )?,
            interval_length: HistogramVec::new(
                HistogramOpts::new(
                    "prometheus_target_interval_length_histogram_seconds",
                    "Actual intervals between scrapes.",
                )
                .buckets(vec![0.01, 0.1, 1.0, 10.0]),
                &["interval"],
            )?,
            interval_summary: IntervalSummary::new()?,
        })
    }

    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.targets_gauge.clone()))?;
        registry.register(Box::new(self.targets_moved.clone()))?;
        registry.register(Box::new(self.fanout_latency.clone()))?;
        registry.register(Box::new(self.forwarded_samples.clone()))?;
        registry.register(Box::new(self.pool_targets.clone()))?;
        registry.register(Box::new(self.pool_target_limit.clone()))?;
        registry.register(Box::new(self.pool_exceeded_target_limit.clone()))?;
        registry.register(Box::new(self.pool_exceeded_label_limits.clone()))?;
        registry.register(Box::new(self.pool_sync.clone()))?;
        registry.register(Box::new(self.pool_reloads.clone()))?;
        registry.register(Box::new(self.exceeded_sample_limit.clone()))?;
        registry.register(Box::new(self.exceeded_body_size_limit.clone()))?;
        registry.register(Box::new(self.sample_duplicate.clone()))?;
        registry.register(Box::new(self.sample_out_of_order.clone()))?;
        registry.register(Box::new(self.sample_out_of_bounds.clone()))?;
        registry.register(Box::new(self.exemplar_out_of_order.clone()))?;
        registry.register(Box::new(self.cache_flush_forced.clone()))?;
        registry.register(Box::new(self.interval_length.clone()))?;
        registry.register(Box::new(self.interval_summary.clone()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_summary_exposes_quantiles_count_and_sum() {
        let s = IntervalSummary::new().unwrap();
        for v in 1..=100 {
            s.observe("1m0s", f64::from(v));
        }
        let families = s.collect();
        let m = &families[0].get_metric()[0];
        assert_eq!(
            families[0].name(),
            "prometheus_target_interval_length_seconds"
        );
        assert_eq!(m.get_label()[0].value(), "1m0s");
        let summary = m.get_summary();
        assert_eq!(summary.sample_count(), 100);
        assert_eq!(summary.sample_sum(), 5050.0);
        let q: Vec<(f64, f64)> = summary
            .get_quantile()
            .iter()
            .map(|q| (q.quantile(), q.value()))
            .collect();
        assert_eq!(
            q,
            vec![
                (0.01, 1.0),
                (0.05, 5.0),
                (0.5, 50.0),
                (0.9, 90.0),
                (0.99, 99.0)
            ]
        );
        let reg = Registry::new();
        reg.register(Box::new(s)).unwrap();
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&reg.gather())
            .unwrap();
        assert!(
            text.contains(
                "prometheus_target_interval_length_seconds{interval=\"1m0s\",quantile=\"0.5\"} 50"
            ),
            "{text}"
        );
    }
}
