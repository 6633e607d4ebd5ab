//! The controller's self-metrics, with Alloy's names, help texts and labels (the mixin's
//! dashboards and alerts query them), plus the helpers that merge and encode every registry.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Counter, CounterVec, Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, Opts, Registry,
    TextEncoder,
};
use std::collections::BTreeMap;
use std::sync::Weak;
use std::time::Duration;

/// Alloy's classic buckets for evaluation and dependency-wait times (5ms … 10m).
pub const EVALUATION_BUCKETS: &[f64] = &[
    0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// An evaluation at least this long counts into `alloy_component_evaluation_slow_seconds`
/// (Alloy's `slowComponentThreshold`).
pub const SLOW_EVALUATION_THRESHOLD: Duration = Duration::from_secs(60);

/// Metrics the controller updates as it evaluates and loads.
#[derive(Clone)]
pub struct ControllerMetrics {
    pub evaluating: Gauge,
    pub evaluation_seconds: Histogram,
    pub dependencies_wait_seconds: Histogram,
    pub evaluation_queue_size: Gauge,
    pub evaluation_slow_seconds: CounterVec,
    pub graph_connection: GaugeVec,
    pub config_last_load_successful: Gauge,
    pub config_last_load_success_timestamp_seconds: Gauge,
    pub config_load_failures_total: Counter,
    pub config_hash: GaugeVec,
}

fn controller_opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help)
        .const_label("controller_path", "/")
        .const_label("controller_id", "")
}

fn histogram(name: &str, help: &str) -> Result<Histogram, prometheus::Error> {
    let opts = controller_opts(name, help);
    Histogram::with_opts(HistogramOpts::from(opts).buckets(EVALUATION_BUCKETS.to_vec()))
}

impl ControllerMetrics {
    /// Create and register every controller metric in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = ControllerMetrics {
            evaluating: Gauge::with_opts(controller_opts(
                "alloy_component_controller_evaluating",
                "Tracks if the controller is currently in the middle of a graph evaluation",
            ))?,
            evaluation_seconds: histogram(
                "alloy_component_evaluation_seconds",
                "Time spent performing component evaluation",
            )?,
            dependencies_wait_seconds: histogram(
                "alloy_component_dependencies_wait_seconds",
                "Time spent by components waiting to be evaluated after their dependency is updated.",
            )?,
            evaluation_queue_size: Gauge::with_opts(controller_opts(
                "alloy_component_evaluation_queue_size",
                "Tracks the number of components waiting to be evaluated in the worker pool",
            ))?,
            evaluation_slow_seconds: CounterVec::new(
                controller_opts(
                    "alloy_component_evaluation_slow_seconds",
                    "Number of seconds spent evaluating components that take longer than 1m0s to evaluate",
                ),
                &["component_id"],
            )?,
            graph_connection: GaugeVec::new(
                controller_opts(
                    "alloy_component_graph_connection",
                    "Indicates that two components are connected in the graph",
                ),
                &["from", "to"],
            )?,
            config_last_load_successful: Gauge::new(
                "alloy_config_last_load_successful",
                "Config loaded successfully.",
            )?,
            config_last_load_success_timestamp_seconds: Gauge::new(
                "alloy_config_last_load_success_timestamp_seconds",
                "Timestamp of the last successful configuration load.",
            )?,
            config_load_failures_total: Counter::new(
                "alloy_config_load_failures_total",
                "Configuration load failures.",
            )?,
            config_hash: GaugeVec::new(
                Opts::new("alloy_config_hash", "Hash of the currently active config file."),
                &["sha256"],
            )?,
        };
        registry.register(Box::new(m.evaluating.clone()))?;
        registry.register(Box::new(m.evaluation_seconds.clone()))?;
        registry.register(Box::new(m.dependencies_wait_seconds.clone()))?;
        registry.register(Box::new(m.evaluation_queue_size.clone()))?;
        registry.register(Box::new(m.evaluation_slow_seconds.clone()))?;
        registry.register(Box::new(m.graph_connection.clone()))?;
        registry.register(Box::new(m.config_last_load_successful.clone()))?;
        registry.register(Box::new(
            m.config_last_load_success_timestamp_seconds.clone(),
        ))?;
        registry.register(Box::new(m.config_load_failures_total.clone()))?;
        registry.register(Box::new(m.config_hash.clone()))?;
        Ok(m)
    }

    /// Record one component evaluation.
    pub fn observe_evaluation(&self, component_id: &str, took: Duration) {
        self.evaluation_seconds.observe(took.as_secs_f64());
        if took >= SLOW_EVALUATION_THRESHOLD {
            self.evaluation_slow_seconds
                .with_label_values(&[component_id])
                .inc_by(took.as_secs_f64());
        }
    }

    /// Record the outcome of a load, as Alloy's `InstrumentConfig` does: the hash series is
    /// replaced on every attempt (all zeros when the files could not be read).
    pub fn observe_load(&self, success: bool, sha256: &str) {
        if success {
            self.config_last_load_successful.set(1.0);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            self.config_last_load_success_timestamp_seconds.set(now);
        } else {
            self.config_last_load_successful.set(0.0);
            self.config_load_failures_total.inc();
        }
        self.config_hash.reset();
        self.config_hash.with_label_values(&[sha256]).set(1.0);
    }
}

/// What the running-components collector reads from the controller at scrape time.
pub trait RunningComponents: Send + Sync {
    /// Count of components per health type (`healthy`, `unhealthy`, `unknown`, `exited`).
    fn health_counts(&self) -> BTreeMap<&'static str, usize>;
    /// The registries of every running component.
    fn component_registries(&self) -> Vec<Registry>;
}

/// Registered in the self registry: emits `alloy_component_controller_running_components`
/// and folds every component registry into the self registry's output, so that anything
/// gathering the self registry (`/metrics`, `prometheus.exporter.self`) sees all metrics.
pub struct ComponentsCollector {
    desc: Desc,
    source: Weak<dyn RunningComponents>,
}

pub const HEALTH_TYPES: [&str; 4] = ["healthy", "unhealthy", "unknown", "exited"];

impl ComponentsCollector {
    pub fn new(source: Weak<dyn RunningComponents>) -> Result<Self, prometheus::Error> {
        let mut const_labels = std::collections::HashMap::new();
        const_labels.insert("controller_path".to_string(), "/".to_string());
        const_labels.insert("controller_id".to_string(), String::new());
        let desc = Desc::new(
            "alloy_component_controller_running_components".to_string(),
            "Total number of running components.".to_string(),
            vec!["health_type".to_string()],
            const_labels,
        )?;
        Ok(ComponentsCollector { desc, source })
    }
}

impl Collector for ComponentsCollector {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Some(source) = self.source.upgrade() else {
            return Vec::new();
        };
        let counts = source.health_counts();
        let mut out = Vec::new();
        if let Ok(gauge) = GaugeVec::new(
            controller_opts(
                "alloy_component_controller_running_components",
                "Total number of running components.",
            ),
            &["health_type"],
        ) {
            // Every health type is present, zero included, so alerts on `!= "healthy"` and
            // dashboards see a stable set of series.
            for h in HEALTH_TYPES {
                let n = counts.get(h).copied().unwrap_or(0);
                gauge.with_label_values(&[h]).set(n as f64);
            }
            out.extend(gauge.collect());
        }
        let registries = source.component_registries();
        out.extend(gather_all(&[], &registries));
        out
    }
}

/// Gather `self_registry` and every component registry, merging families that share a name
/// (each component registry carries distinct `component_id` labels, so the series differ).
pub fn gather_all(
    registries_first: &[Registry],
    component_registries: &[Registry],
) -> Vec<MetricFamily> {
    let mut by_name: BTreeMap<String, MetricFamily> = BTreeMap::new();
    for reg in registries_first.iter().chain(component_registries) {
        for mut mf in reg.gather() {
            sort_labels(&mut mf);
            match by_name.get_mut(mf.name()) {
                Some(existing) => {
                    let metrics = mf.take_metric();
                    existing.mut_metric().extend(metrics);
                }
                None => {
                    by_name.insert(mf.name().to_string(), mf);
                }
            }
        }
    }
    by_name.into_values().collect()
}

/// A registry's common labels come from a hash map, so their order varies between runs;
/// sorting by name keeps the exposition stable.
fn sort_labels(mf: &mut MetricFamily) {
    for m in mf.mut_metric().iter_mut() {
        let mut labels = m.take_label();
        labels.sort_by(|a, b| a.name().cmp(b.name()));
        m.set_label(labels);
    }
}

/// Prometheus text exposition format 0.0.4.
pub fn encode_text(families: &[MetricFamily]) -> String {
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(families, &mut buf) {
        tracing::warn!(error = %e, "encoding metrics");
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// The content type of [`encode_text`]'s output.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_families_across_registries() {
        let a = Registry::new_custom(
            None,
            Some([("component_id".to_string(), "a".to_string())].into()),
        )
        .unwrap();
        let b = Registry::new_custom(
            None,
            Some([("component_id".to_string(), "b".to_string())].into()),
        )
        .unwrap();
        for r in [&a, &b] {
            let c = Counter::new("x_total", "x").unwrap();
            c.inc();
            r.register(Box::new(c)).unwrap();
        }
        let fams = gather_all(&[a], &[b]);
        assert_eq!(fams.len(), 1);
        assert_eq!(fams[0].get_metric().len(), 2);
        let text = encode_text(&fams);
        assert!(text.contains("x_total{component_id=\"a\"} 1"), "{text}");
        assert!(text.contains("x_total{component_id=\"b\"} 1"), "{text}");
        assert_eq!(text.matches("# TYPE x_total counter").count(), 1, "{text}");
    }
}
