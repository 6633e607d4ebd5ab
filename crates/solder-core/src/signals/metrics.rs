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
///
/// One allocation holds everything, reference counts first, then [`HEAD`], the wire bytes and
/// the spans: a scrape touches every cached set's reference count once per scrape (a cache
/// miss for each), and the WAL write that follows reads the wire bytes right behind it. Three
/// allocations per set (count, bytes, spans) scattered over the heap cost up to a sixth of the
/// agent's CPU in such misses, depending on where the allocator happened to put them.
#[derive(Clone)]
pub struct Labels(Arc<[u8]>);

/// Bytes before the wire bytes: the internal-label flag (a name starts with `__` and is not
/// `__name__`), then the number of labels (u32, little endian). After the wire bytes (repeated
/// `Label { name = 1; value = 2 }` messages as field 1 of the enclosing message), per label:
/// name start, name end, value start, value end (u32 offsets into the wire bytes, little
/// endian).
const HEAD: usize = 5;
const SPAN: usize = 16;

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
        let mut buf = Vec::with_capacity(HEAD + bytes + SPAN * count);
        buf.push(0);
        buf.extend_from_slice(&offset(count).to_le_bytes());
        let mut spans = Vec::with_capacity(count);
        let mut has_internal = false;
        for (n, v) in pairs {
            has_internal |= n.starts_with("__") && n != "__name__";
            // Offsets are from the start of the wire bytes.
            let at = |buf: &Vec<u8>| offset(buf.len() - HEAD);
            buf.push(0x0a);
            put_varint(&mut buf, label_body_len(n.len(), v.len()));
            buf.push(0x0a);
            put_varint(&mut buf, n.len());
            let name_start = at(&buf);
            buf.extend_from_slice(n.as_bytes());
            let name_end = at(&buf);
            buf.push(0x12);
            put_varint(&mut buf, v.len());
            let value_start = at(&buf);
            buf.extend_from_slice(v.as_bytes());
            spans.push([name_start, name_end, value_start, at(&buf)]);
        }
        buf[0] = u8::from(has_internal);
        for span in spans {
            for o in span {
                buf.extend_from_slice(&o.to_le_bytes());
            }
        }
        Labels(Arc::from(buf))
    }

    /// The same labels in an allocation of their own, made now (the scrape cache re-allocates
    /// its sets in scrape order, so that one scrape reads them front to back).
    pub fn fresh_copy(&self) -> Labels {
        Labels(Arc::from(&self.0[..]))
    }

    /// Name start, name end, value start, value end of the `i`-th label, in [`Labels::wire`].
    fn span(&self, i: usize) -> [usize; 4] {
        let at = self.0.len() - SPAN * (self.len() - i);
        let word = |k: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&self.0[at + 4 * k..at + 4 * k + 4]);
            u32::from_le_bytes(w) as usize
        };
        [word(0), word(1), word(2), word(3)]
    }

    /// The `i`-th `(name, value)`.
    fn pair(&self, i: usize) -> (&str, &str) {
        let wire = self.wire();
        let [ns, ne, vs, ve] = self.span(i);
        (text(&wire[ns..ne]), text(&wire[vs..ve]))
    }

    fn name_bytes(&self, i: usize) -> &[u8] {
        let [ns, ne, _, _] = self.span(i);
        &self.wire()[ns..ne]
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
        let mut w = [0u8; 4];
        w.copy_from_slice(&self.0[1..HEAD]);
        u32::from_le_bytes(w) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        &self.0[HEAD..self.0.len() - SPAN * self.len()]
    }

    /// Whether a name starts with `__` other than `__name__` (labels internal to the
    /// pipeline, stripped before remote write).
    pub fn has_internal(&self) -> bool {
        self.0[0] != 0
    }

    /// Asks the CPU to start loading this set's first bytes (its reference counts and head),
    /// for a caller that knows it will clone or read the set shortly. A hint only: nothing is
    /// read, and a wrong guess costs some memory bandwidth.
    #[inline]
    pub fn prefetch(&self) {
        let data = Arc::as_ptr(&self.0).cast::<u8>();
        // The reference counts sit just before the data, possibly on the previous line.
        crate::hint::prefetch_read(data.wrapping_sub(2 * std::mem::size_of::<usize>()));
        crate::hint::prefetch_read(data);
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
        self.ptr_eq(other) || self.wire() == other.wire()
    }
}

impl Eq for Labels {}

impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.wire().hash(state);
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

    /// The wire bytes are exactly `TimeSeries.labels`, whatever the sizes around them (varint
    /// lengths of one and two bytes, no labels, many); a fresh copy is equal but its own.
    #[test]
    fn wire_bytes_are_the_label_messages() {
        let l = pairs(&[("bb", ""), ("a", "1")]);
        assert_eq!(
            l.wire(),
            b"\x0a\x06\x0a\x01a\x12\x011\x0a\x06\x0a\x02bb\x12\x00"
        );
        assert!(Labels::default().wire().is_empty());
        let long = "v".repeat(200);
        let l = pairs(&[("__x", long.as_str()), ("n", "")]);
        let mut want = vec![0x0a, 0xd0, 0x01, 0x0a, 0x03];
        want.extend_from_slice(b"__x\x12\xc8\x01");
        want.extend_from_slice(long.as_bytes());
        want.extend_from_slice(b"\x0a\x05\x0a\x01n\x12\x00");
        assert_eq!(l.wire(), want.as_slice());
        assert!(l.has_internal());
        assert_eq!(l.get("__x"), Some(long.as_str()));
        assert_eq!(l.get("n"), Some(""));
        let copy = l.fresh_copy();
        assert_eq!(copy, l);
        assert!(!copy.ptr_eq(&l));
        assert!(copy.has_internal());
        assert_eq!(copy.to_vec(), l.to_vec());
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
