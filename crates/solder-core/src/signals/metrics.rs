//! Prometheus-family data: samples with sorted label sets, exemplars and metadata.

use crate::consume::{join_all_ok, ConsumeError};
use solder_syntax::types::CapsuleOf;
use solder_syntax::{Capsule, Value};
use std::sync::Arc;

/// A label set sorted by name; cheap to clone (shared).
///
/// Stored as the labels' remote-write encoding: the `prometheus.Label` messages of a
/// `TimeSeries.labels` field (field 1, tags and lengths included), plus where each name and
/// value sits in it. Two reasons: a scrape cache holds one of these per active series, and
/// `Arc<[(String, String)]>` (two heap strings per label) cost about three times the memory;
/// and every sample is written to the remote-write WAL, which with this layout copies the
/// labels as one slice instead of encoding them field by field.
#[derive(Clone)]
pub struct Labels(Arc<LabelsData>);

struct LabelsData {
    /// Repeated `Label { name = 1; value = 2 }` messages as field 1 of the enclosing message.
    wire: Box<[u8]>,
    /// Per label: name start, name end, value start, value end (offsets in `wire`).
    spans: Box<[[u32; 4]]>,
    /// A name starts with `__` and is not `__name__` (pipeline-internal label).
    has_internal: bool,
}

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
        Labels::from_sorted(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    }

    /// From pairs already sorted by name with unique names.
    fn from_sorted<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Self {
        let (count, bytes) = pairs.clone().fold((0, 0), |(c, b), (n, v)| {
            (c + 1, b + label_field_len(n.len(), v.len()))
        });
        let mut wire = Vec::with_capacity(bytes);
        let mut spans = Vec::with_capacity(count);
        let mut has_internal = false;
        for (n, v) in pairs {
            has_internal |= n.starts_with("__") && n != "__name__";
            wire.push(0x0a);
            put_varint(&mut wire, label_body_len(n.len(), v.len()));
            wire.push(0x0a);
            put_varint(&mut wire, n.len());
            let name_start = wire.len();
            wire.extend_from_slice(n.as_bytes());
            let name_end = wire.len();
            wire.push(0x12);
            put_varint(&mut wire, v.len());
            let value_start = wire.len();
            wire.extend_from_slice(v.as_bytes());
            spans.push([
                offset(name_start),
                offset(name_end),
                offset(value_start),
                offset(wire.len()),
            ]);
        }
        Labels(Arc::new(LabelsData {
            wire: wire.into_boxed_slice(),
            spans: spans.into_boxed_slice(),
            has_internal,
        }))
    }

    /// The `i`-th `(name, value)`.
    fn pair(&self, i: usize) -> (&str, &str) {
        let d = &*self.0;
        let [ns, ne, vs, ve] = d.spans[i];
        (
            text(&d.wire[ns as usize..ne as usize]),
            text(&d.wire[vs as usize..ve as usize]),
        )
    }

    fn name_bytes(&self, i: usize) -> &[u8] {
        let [ns, ne, _, _] = self.0.spans[i];
        &self.0.wire[ns as usize..ne as usize]
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            // Byte order is `str` order.
            match self.name_bytes(mid).cmp(name.as_bytes()) {
                std::cmp::Ordering::Equal => return Some(self.pair(mid).1),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        None
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        (0..self.len()).map(move |i| self.pair(i))
    }

    pub fn len(&self) -> usize {
        self.0.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.spans.is_empty()
    }

    /// Owned copies of the pairs, sorted by name.
    pub fn to_vec(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    /// The labels as `prometheus.TimeSeries.labels` on the wire: `Label` messages as field 1,
    /// sorted by name.
    pub fn wire(&self) -> &[u8] {
        &self.0.wire
    }

    /// Whether a name starts with `__` other than `__name__` (labels internal to the
    /// pipeline, stripped before remote write).
    pub fn has_internal(&self) -> bool {
        self.0.has_internal
    }

    /// The same shared set (a clone of one `Labels`); equal sets built apart are not.
    pub fn ptr_eq(&self, other: &Labels) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The bytes were copied from a `&str`, so this never falls back.
fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

fn varint_len(v: usize) -> usize {
    let bits = usize::BITS - (v | 1).leading_zeros();
    (bits as usize).div_ceil(7)
}

fn put_varint(buf: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn label_body_len(name: usize, value: usize) -> usize {
    2 + varint_len(name) + name + varint_len(value) + value
}

fn label_field_len(name: usize, value: usize) -> usize {
    let body = label_body_len(name, value);
    1 + varint_len(body) + body
}

/// Offsets are `u32`: a label set is far below 4 GiB (Prometheus limits label sizes long before).
fn offset(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl Default for Labels {
    fn default() -> Self {
        Labels::from_sorted(std::iter::empty())
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Labels) -> bool {
        // The encoding is canonical: equal bytes are equal pairs.
        self.ptr_eq(other) || self.0.wire == other.0.wire
    }
}

impl Eq for Labels {}

impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.wire.hash(state);
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Labels) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    /// Pair by pair, as a sorted `[(name, value)]` list compares.
    fn cmp(&self, other: &Labels) -> std::cmp::Ordering {
        self.iter().cmp(other.iter())
    }
}

impl std::fmt::Debug for Labels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
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

    fn pairs(p: &[(&str, &str)]) -> Labels {
        Labels::new(
            p.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// Boundaries matter: ("ab","c") and ("a","bc") have the same text.
    #[test]
    fn compact_labels_compare_by_pairs() {
        let x = pairs(&[("ab", "c")]);
        let y = pairs(&[("a", "bc")]);
        assert_ne!(x, y);
        assert_eq!(x, pairs(&[("ab", "c")]));
        assert!(y < x, "ordered by name first, as a sorted pair list");
        assert_eq!(
            pairs(&[("a", "1"), ("b", "")]).cmp(&pairs(&[("a", "1")])),
            std::cmp::Ordering::Greater
        );
        let empty = Labels::default();
        assert!(empty.is_empty());
        assert_eq!(empty.get("a"), None);
        assert_eq!(empty, Labels::new(vec![]));
        let many: Vec<(String, String)> = (0..50)
            .map(|i| (format!("n{i:02}"), "ü".repeat(i)))
            .collect();
        let l = Labels::new(many.clone());
        assert_eq!(l.to_vec(), many);
        for (n, v) in &many {
            assert_eq!(l.get(n), Some(v.as_str()));
        }
        assert_eq!(format!("{:?}", pairs(&[("a", "1")])), r#"{"a": "1"}"#);
        assert!(pairs(&[("__tmp", "x"), ("__name__", "m")]).has_internal());
        assert!(!pairs(&[("__name__", "m"), ("_x", "y")]).has_internal());
    }

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
        assert_eq!(l.get("c"), None);
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![("a", "2"), ("b", "3")]);
        assert!(is_stale_nan(stale_nan()));
        assert!(!is_stale_nan(f64::NAN));
    }
}
