//! Prometheus-family data: samples with sorted label sets, exemplars and metadata.

use crate::consume::{join_all_ok, ConsumeError};
use solder_syntax::types::CapsuleOf;
use solder_syntax::{Capsule, Value};
use std::sync::Arc;

/// A label set sorted by name; cheap to clone (shared).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Labels(Arc<[(String, String)]>);

impl Labels {
    /// Sorts by name; later duplicates of a name win.
    pub fn new(mut pairs: Vec<(String, String)>) -> Self {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                std::mem::swap(&mut earlier.1, &mut later.1);
                true
            } else {
                false
            }
        });
        Labels(pairs.into())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[(String, String)] {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub timestamp_ms: i64,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    pub series: Labels,
    pub labels: Labels,
    pub timestamp_ms: i64,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Unknown,
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    pub metric_family: String,
    pub kind: MetricType,
    pub help: String,
    pub unit: String,
}

/// One append: what a scrape produced, or what a relabel forwarded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsBatch {
    pub samples: Vec<Sample>,
    pub exemplars: Vec<Exemplar>,
    pub metadata: Vec<Metadata>,
}

impl MetricsBatch {
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty() && self.exemplars.is_empty() && self.metadata.is_empty()
    }
}

/// Prometheus `StaleNaN`: the bit pattern Prometheus uses to mark a series as stale.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

#[async_trait::async_trait]
pub trait MetricsReceiver: Send + Sync {
    async fn append(&self, batch: MetricsBatch) -> Result<(), ConsumeError>;
}

pub type MetricsReceiverRef = Arc<dyn MetricsReceiver>;

/// Capsule type name shown in errors and the API.
pub const METRICS_RECEIVER_CAPSULE: &str = "MetricsReceiver";

pub fn metrics_receiver_value(r: MetricsReceiverRef) -> Value {
    Value::Capsule(Capsule::new(METRICS_RECEIVER_CAPSULE, r))
}

/// `forward_to` as decoded from config.
pub type MetricsForwardTo = Vec<CapsuleOf<MetricsReceiverRef>>;

/// Append to every receiver; Ok only if all accepted.
pub async fn fanout_append(
    receivers: &[CapsuleOf<MetricsReceiverRef>],
    batch: MetricsBatch,
) -> Result<(), ConsumeError> {
    match receivers {
        [] => Ok(()),
        [one] => one.0.append(batch).await,
        many => join_all_ok(many.iter().map(|r| r.0.append(batch.clone()))).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_sort_and_dedup() {
        let l = Labels::new(vec![
            ("b".into(), "1".into()),
            ("a".into(), "2".into()),
            ("b".into(), "3".into()),
        ]);
        assert_eq!(l.len(), 2);
        assert_eq!(l.get("a"), Some("2"));
        assert_eq!(l.get("b"), Some("3"));
        assert!(is_stale_nan(stale_nan()));
        assert!(!is_stale_nan(f64::NAN));
    }
}
