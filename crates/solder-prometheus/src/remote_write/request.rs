//! The sender's data path in encoded form: WAL records become [`SendItem`]s whose series
//! labels are already the bytes that go on the wire (relabeled, internal labels stripped,
//! external labels merged), and requests are written straight from them.
//!
//! In the common case (no `write_relabel_config`, no external labels, no internal labels on the
//! series) an item's labels are a slice of the record just read from the WAL: nothing is
//! decoded into owned strings and nothing is copied until the request is written.
//! Each sample becomes its own `TimeSeries` in the request, as Prometheus sends them; grouping
//! by series would cost a hash lookup per sample and receivers do not need it.

use super::record::{read_record, ExemplarView, LabelFields, SeriesView};
use super::run::Run;
use super::wire::{
    exemplar_body_len, len_field_size, put_exemplar, put_label, sample_body_len, Stack, WireError,
    SAMPLE_FIELD_MAX,
};
use bytes::Bytes;
use solder_core::relabel::Rule;
use solder_core::signals::metrics::Labels;

/// Bytes of an item that live in one of the buffers its record produced ([`Prepared::buffers`],
/// carried along with the items): offsets instead of a `Bytes` per item, since cloning and
/// dropping a `Bytes` (two atomic operations on the record's count) per sample cost more than
/// writing the sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    /// Index into the buffers the item travels with.
    pub buf: u32,
    pub start: u32,
    pub end: u32,
}

impl Span {
    const EMPTY: Span = Span {
        buf: RECORD,
        start: 0,
        end: 0,
    };

    /// The bytes in `buffers`; empty if the span does not fit them (it always does: spans are
    /// only made by [`prepare_record`] for the buffers it returns).
    #[inline]
    pub fn get<'a>(&self, buffers: &'a [Bytes]) -> &'a [u8] {
        buffers
            .get(self.buf as usize)
            .and_then(|b| b.get(self.start as usize..self.end as usize))
            .unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    /// The same bytes once the buffers they index were appended after `base` others.
    #[inline]
    pub fn rebased(self, base: u32) -> Span {
        Span {
            buf: self.buf + base,
            ..self
        }
    }
}

/// Buffer 0 of a record's items: the record itself.
const RECORD: u32 = 0;
/// Buffer 1: the labels this record's series were rewritten into.
const SCRATCH: u32 = 1;

/// One sample or exemplar, ready for a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SendItem {
    /// The series' `Label` fields (field 1 of `TimeSeries`, tags included), final.
    pub series: Span,
    /// `Some(exemplar label fields)` for an exemplar, `None` for a sample.
    pub exemplar: Option<Span>,
    pub timestamp_ms: i64,
    pub value: f64,
}

impl SendItem {
    pub fn is_exemplar(&self) -> bool {
        self.exemplar.is_some()
    }

    /// The item with its spans moved past `base` buffers (see [`Span::rebased`]).
    #[inline]
    pub fn rebased(self, base: u32) -> SendItem {
        SendItem {
            series: self.series.rebased(base),
            exemplar: self.exemplar.map(|e| e.rebased(base)),
            ..self
        }
    }
}

/// What [`prepare_record`] made of one record.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    pub items: Vec<SendItem>,
    /// What the items' spans point into: the record, then the rewritten labels.
    pub buffers: Vec<Bytes>,
    /// Encoded `MetricMetadata` messages (records written before metadata left the WAL).
    pub metadata: Vec<Bytes>,
    pub samples_in: usize,
    pub samples_dropped: usize,
    pub exemplars_dropped: usize,
}

/// How a series' labels are turned into the labels sent.
pub(crate) struct OutputLabels<'a> {
    pub rules: &'a [Rule],
    /// Sorted by name, one value per name.
    pub external: &'a [(String, String)],
    pub send_exemplars: bool,
}

/// A record's bytes per item: ~130 for a scraped sample with a handful of labels. Used to
/// size the item list once (growing it by doubling copied it ~10 times per record); an
/// underestimate only means one more growth step.
const RECORD_BYTES_PER_ITEM: usize = 96;

/// Reads one WAL record into items. A corrupt record yields an error and no items.
pub(crate) fn prepare_record(
    record: &Bytes,
    out: &OutputLabels<'_>,
) -> Result<Prepared, WireError> {
    if u32::try_from(record.len()).is_err() {
        return Err(WireError::TooLarge);
    }
    let base = record.as_ptr() as usize;
    // Every non-empty slice the reader hands out lies inside `record`; an empty one may be a
    // static `&[]` elsewhere, and is the empty span wherever it points. The record's length
    // fits a u32 (checked above), so its offsets do.
    let offset = |s: &[u8]| match (s.as_ptr() as usize).checked_sub(base) {
        Some(start) if start + s.len() <= record.len() => Span {
            buf: RECORD,
            start: start as u32,
            end: (start + s.len()) as u32,
        },
        _ => Span::EMPTY,
    };
    let mut scratch: Vec<u8> = Vec::new();
    let mut metadata = Vec::new();
    let mut prepared = Prepared {
        items: Vec::with_capacity(record.len() / RECORD_BYTES_PER_ITEM),
        ..Prepared::default()
    };
    let mut failure: Option<WireError> = None;

    let walk = read_record(
        record,
        |series: &SeriesView<'_>| {
            if failure.is_some() {
                return;
            }
            prepared.samples_in += series.samples.len();
            let span = match place_series(
                &series.labels,
                series.no_internal,
                out,
                &mut scratch,
                &offset,
            ) {
                Ok(Some(span)) => span,
                Ok(None) => {
                    prepared.samples_dropped += series.samples.len();
                    if out.send_exemplars {
                        prepared.exemplars_dropped += series.exemplars.len();
                    }
                    return;
                }
                Err(e) => {
                    failure = Some(e);
                    return;
                }
            };
            prepared.items.extend(
                series
                    .samples
                    .iter()
                    .map(|&(value, timestamp_ms)| SendItem {
                        series: span,
                        exemplar: None,
                        timestamp_ms,
                        value,
                    }),
            );
            if out.send_exemplars {
                for e in &series.exemplars {
                    match place_exemplar(e, &mut scratch, &offset) {
                        Ok(exemplar) => prepared.items.push(SendItem {
                            series: span,
                            exemplar: Some(exemplar),
                            timestamp_ms: e.timestamp_ms,
                            value: e.value,
                        }),
                        Err(err) => {
                            failure = Some(err);
                            return;
                        }
                    }
                }
            }
        },
        |md| metadata.push(offset(md)),
    );
    walk?;
    if let Some(e) = failure {
        return Err(e);
    }
    prepared.metadata = metadata
        .into_iter()
        .map(|r| record.slice(r.start as usize..r.end as usize))
        .collect();
    prepared.buffers = vec![record.clone(), Bytes::from(scratch)];
    Ok(prepared)
}

/// The span of `scratch[start..]`, or an error if the scratch buffer outgrew 32-bit offsets.
fn scratch_span(start: usize, scratch: &[u8]) -> Result<Span, WireError> {
    let to_u32 = |n: usize| u32::try_from(n).map_err(|_| WireError::TooLarge);
    Ok(Span {
        buf: SCRATCH,
        start: to_u32(start)?,
        end: to_u32(scratch.len())?,
    })
}

/// `None` when relabeling drops the series.
fn place_series(
    labels: &LabelFields<'_>,
    no_internal: bool,
    out: &OutputLabels<'_>,
    scratch: &mut Vec<u8>,
    offset: &impl Fn(&[u8]) -> Span,
) -> Result<Option<Span>, WireError> {
    let start = scratch.len();
    if !out.rules.is_empty() {
        let mut pairs = Vec::new();
        for p in labels.pairs() {
            let (n, v) = p?;
            pairs.push((utf8(n)?, utf8(v)?));
        }
        let Some(relabeled) = crate::relabel::apply_rules(out.rules, &Labels::new(pairs)) else {
            return Ok(None);
        };
        write_output(
            relabeled
                .iter()
                .map(|(n, v)| Ok((n.as_bytes(), v.as_bytes()))),
            out.external,
            scratch,
        )?;
        return scratch_span(start, scratch).map(Some);
    }
    let mut has_internal = false;
    if !no_internal {
        for p in labels.pairs() {
            has_internal |= is_internal(p?.0);
        }
    }
    match labels {
        LabelFields::Slice(s) if !has_internal && out.external.is_empty() => Ok(Some(offset(s))),
        _ => {
            write_output(labels.pairs(), out.external, scratch)?;
            scratch_span(start, scratch).map(Some)
        }
    }
}

fn place_exemplar(
    e: &ExemplarView<'_>,
    scratch: &mut Vec<u8>,
    offset: &impl Fn(&[u8]) -> Span,
) -> Result<Span, WireError> {
    match &e.labels {
        LabelFields::Slice(s) => Ok(offset(s)),
        LabelFields::Owned(v) => {
            let start = scratch.len();
            scratch.extend_from_slice(v);
            scratch_span(start, scratch)
        }
    }
}

fn utf8(b: &[u8]) -> Result<String, WireError> {
    std::str::from_utf8(b)
        .map(str::to_owned)
        .map_err(|_| WireError::Utf8)
}

/// Labels starting with `__` (other than `__name__`) are internal to the pipeline.
fn is_internal(name: &[u8]) -> bool {
    name.starts_with(b"__") && name != b"__name__"
}

/// Writes the label fields sent for a series: internal labels stripped, external labels
/// merged in (the series' own value wins), sorted by name. Both inputs are sorted, so this is
/// a linear merge.
fn write_output<'a>(
    pairs: impl Iterator<Item = Result<(&'a [u8], &'a [u8]), WireError>>,
    external: &[(String, String)],
    buf: &mut Vec<u8>,
) -> Result<(), WireError> {
    let mut ext = external.iter().peekable();
    for p in pairs {
        let (name, value) = p?;
        if is_internal(name) {
            continue;
        }
        while let Some((en, ev)) = ext.peek() {
            if en.as_bytes() < name {
                put_label(buf, 1, en.as_bytes(), ev.as_bytes());
                ext.next();
            } else {
                if en.as_bytes() == name {
                    ext.next();
                }
                break;
            }
        }
        put_label(buf, 1, name, value);
    }
    for (n, v) in ext {
        put_label(buf, 1, n.as_bytes(), v.as_bytes());
    }
    Ok(())
}

/// External labels as [`OutputLabels`] wants them: sorted by name, first value of a name wins.
pub(crate) fn sorted_external(external: &[(String, String)]) -> Vec<(String, String)> {
    let mut v = external.to_vec();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.dedup_by(|later, earlier| later.0 == earlier.0);
    v
}

/// Writes a `prometheus.WriteRequest` with one `TimeSeries` per item and the `TimeSeries` of
/// each run, in order: `runs` lists each run with the number of items before it. Spans point
/// into `buffers`.
pub(crate) fn encode_request(
    items: &[SendItem],
    runs: &[(usize, Run)],
    buffers: &[Bytes],
    out: &mut Vec<u8>,
) {
    // Per sample at most: TimeSeries tag + 3-byte length, the Sample field (SAMPLE_FIELD_MAX
    // covers any tag and length). Exemplars reserve more as they are written.
    out.reserve(
        items
            .iter()
            .map(|i| i.series.len() + 4 + SAMPLE_FIELD_MAX)
            .sum::<usize>()
            + runs.iter().map(|(_, r)| r.block.len()).sum::<usize>(),
    );
    let mut next = 0;
    for (at, run) in runs {
        let at = (*at).clamp(next, items.len());
        encode_items(&items[next..at], buffers, out);
        out.extend_from_slice(run.block.get(buffers));
        next = at;
    }
    encode_items(&items[next..], buffers, out);
}

fn encode_items(items: &[SendItem], buffers: &[Bytes], out: &mut Vec<u8>) {
    for item in items {
        let series = item.series.get(buffers);
        match &item.exemplar {
            None => {
                // Header, labels, sample: the two small parts are assembled on the stack.
                let sample = sample_body_len(item.timestamp_ms);
                let mut head = Stack::<20>::new();
                head.len_header(1, series.len() + len_field_size(sample));
                let mut tail = Stack::<SAMPLE_FIELD_MAX>::new();
                tail.sample(2, item.value, item.timestamp_ms);
                head.append_to(out);
                out.extend_from_slice(series);
                tail.append_to(out);
            }
            Some(labels) => {
                let labels = labels.get(buffers);
                let ex = exemplar_body_len(labels.len(), item.timestamp_ms);
                let mut head = Stack::<20>::new();
                head.len_header(1, series.len() + len_field_size(ex));
                head.append_to(out);
                out.extend_from_slice(series);
                put_exemplar(out, 3, labels, item.value, item.timestamp_ms);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::testing::{labels, names, sample};
    use super::*;
    use crate::remote_write::record::encode_record;
    use solder_core::signals::metrics::{Exemplar, MetricsBatch};
    use solder_proto::prometheus as pb;
    use solder_proto::prost::Message;

    /// Record → items → request, decoded with prost: `(labels, samples, exemplars)` per series.
    fn round_trip(batch: &MetricsBatch, out: &OutputLabels<'_>) -> (Prepared, pb::WriteRequest) {
        let record = Bytes::from(encode_record(batch));
        let prepared = prepare_record(&record, out).unwrap();
        let mut body = Vec::new();
        encode_request(&prepared.items, &[], &prepared.buffers, &mut body);
        let req = pb::WriteRequest::decode(body.as_slice()).unwrap();
        (prepared, req)
    }

    const PLAIN: OutputLabels<'static> = OutputLabels {
        rules: &[],
        external: &[],
        send_exemplars: true,
    };

    #[test]
    fn one_series_per_sample_in_order_borrowing_the_record() {
        let a = [("__name__", "up"), ("job", "a")];
        let b = [("__name__", "up"), ("job", "b")];
        let batch = MetricsBatch {
            samples: vec![sample(&b, 10, 1.0), sample(&a, 5, 2.0), sample(&b, 20, 3.0)],
            ..Default::default()
        };
        let (prepared, req) = round_trip(&batch, &PLAIN);
        assert_eq!(prepared.samples_in, 3);
        let got: Vec<_> = req
            .timeseries
            .iter()
            .map(|ts| (names(ts), ts.samples[0].timestamp, ts.samples[0].value))
            .collect();
        assert_eq!(
            got,
            vec![
                (b.to_vec(), 10, 1.0),
                (a.to_vec(), 5, 2.0),
                (b.to_vec(), 20, 3.0)
            ]
        );
        assert!(req.timeseries.iter().all(|ts| ts.samples.len() == 1));
    }

    #[test]
    fn strips_internal_labels_and_merges_external_ones() {
        let ext = sorted_external(&[
            ("cluster".into(), "c1".into()),
            ("job".into(), "ext-job".into()),
            ("a".into(), "first".into()),
            ("a".into(), "second".into()),
        ]);
        let out = OutputLabels {
            rules: &[],
            external: &ext,
            send_exemplars: true,
        };
        let batch = MetricsBatch {
            samples: vec![
                sample(&[("__name__", "m"), ("__tmp", "x"), ("job", "own")], 1, 1.0),
                sample(&[("__meta_x", "y")], 2, 2.0),
            ],
            ..Default::default()
        };
        let (_, req) = round_trip(&batch, &out);
        assert_eq!(
            names(&req.timeseries[0]),
            vec![
                ("__name__", "m"),
                ("a", "first"),
                ("cluster", "c1"),
                ("job", "own")
            ]
        );
        assert_eq!(
            names(&req.timeseries[1]),
            vec![("a", "first"), ("cluster", "c1"), ("job", "ext-job")]
        );
        // Internal labels alone (no external labels) are stripped too.
        let (_, req) = round_trip(&batch, &PLAIN);
        assert_eq!(
            names(&req.timeseries[0]),
            vec![("__name__", "m"), ("job", "own")]
        );
    }

    #[test]
    fn relabeling_rewrites_or_drops_series() {
        use solder_core::relabel::{Action, Rule};
        let rules = vec![
            Rule {
                source_labels: Some(vec!["job".into()]),
                regex: solder_core::relabel::Regex::new("drop-me").unwrap(),
                action: Action::Drop,
                ..Rule::default()
            },
            Rule {
                target_label: "env".into(),
                replacement: "prod".into(),
                action: Action::Replace,
                ..Rule::default()
            },
        ];
        let ext = sorted_external(&[("cluster".into(), "c1".into())]);
        let out = OutputLabels {
            rules: &rules,
            external: &ext,
            send_exemplars: true,
        };
        let keep = [("__name__", "m"), ("job", "keep")];
        let batch = MetricsBatch {
            samples: vec![
                sample(&keep, 1, 1.0),
                sample(&[("__name__", "m"), ("job", "drop-me")], 1, 2.0),
            ],
            exemplars: vec![Exemplar {
                series: labels(&[("__name__", "m"), ("job", "drop-me")]),
                labels: labels(&[("trace_id", "t")]),
                timestamp_ms: 3,
                value: 4.0,
            }],
            ..Default::default()
        };
        let (prepared, req) = round_trip(&batch, &out);
        assert_eq!(prepared.samples_dropped, 1);
        assert_eq!(prepared.exemplars_dropped, 1);
        assert_eq!(req.timeseries.len(), 1);
        assert_eq!(
            names(&req.timeseries[0]),
            vec![
                ("__name__", "m"),
                ("cluster", "c1"),
                ("env", "prod"),
                ("job", "keep")
            ]
        );
    }

    #[test]
    fn exemplars_travel_with_their_series_labels() {
        let series = labels(&[("__name__", "req_total"), ("job", "j")]);
        let batch = MetricsBatch {
            exemplars: vec![Exemplar {
                series: series.clone(),
                labels: labels(&[("trace_id", "abc")]),
                timestamp_ms: 7,
                value: 0.5,
            }],
            ..Default::default()
        };
        let (_, req) = round_trip(&batch, &PLAIN);
        assert_eq!(req.timeseries.len(), 1);
        let ts = &req.timeseries[0];
        assert!(ts.samples.is_empty());
        assert_eq!(names(ts), vec![("__name__", "req_total"), ("job", "j")]);
        assert_eq!(ts.exemplars[0].labels[0].value, "abc");
        assert_eq!((ts.exemplars[0].value, ts.exemplars[0].timestamp), (0.5, 7));
        // Not sent (and not counted as dropped) when exemplars are off.
        let off = OutputLabels {
            send_exemplars: false,
            ..PLAIN
        };
        let (prepared, req) = round_trip(&batch, &off);
        assert!(req.timeseries.is_empty());
        assert_eq!(prepared.exemplars_dropped, 0);
    }

    /// Items of several records (one with rewritten labels, one borrowing the record) put
    /// into one request after their spans were moved past each other's buffers, as a shard's
    /// batch does.
    #[test]
    fn items_of_several_records_share_one_request() {
        let ext = sorted_external(&[("cluster".into(), "c1".into())]);
        let rewriting = OutputLabels {
            rules: &[],
            external: &ext,
            send_exemplars: true,
        };
        let first = MetricsBatch {
            samples: vec![sample(&[("__name__", "a")], 1, 1.0)],
            exemplars: vec![Exemplar {
                series: labels(&[("__name__", "a")]),
                labels: labels(&[("trace_id", "t1")]),
                timestamp_ms: 2,
                value: 2.0,
            }],
            ..Default::default()
        };
        let second = MetricsBatch {
            samples: vec![
                sample(&[("__name__", "b"), ("job", "j")], 3, 3.0),
                sample(&[("__name__", "c")], 4, 4.0),
            ],
            ..Default::default()
        };
        let p1 = prepare_record(&Bytes::from(encode_record(&first)), &rewriting).unwrap();
        let p2 = prepare_record(&Bytes::from(encode_record(&second)), &PLAIN).unwrap();
        let mut items = Vec::new();
        let mut buffers = Vec::new();
        for p in [p1, p2] {
            let base = buffers.len() as u32;
            buffers.extend(p.buffers);
            items.extend(p.items.iter().map(|i| i.rebased(base)));
        }
        let mut body = Vec::new();
        encode_request(&items, &[], &buffers, &mut body);
        let req = pb::WriteRequest::decode(body.as_slice()).unwrap();
        let got: Vec<_> = req
            .timeseries
            .iter()
            .map(|ts| {
                let point = match (ts.samples.first(), ts.exemplars.first()) {
                    (Some(s), None) => (s.timestamp, s.value, String::new()),
                    (None, Some(e)) => (e.timestamp, e.value, e.labels[0].value.clone()),
                    other => panic!("{other:?}"),
                };
                (names(ts), point)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    vec![("__name__", "a"), ("cluster", "c1")],
                    (1, 1.0, String::new())
                ),
                (
                    vec![("__name__", "a"), ("cluster", "c1")],
                    (2, 2.0, "t1".to_string())
                ),
                (
                    vec![("__name__", "b"), ("job", "j")],
                    (3, 3.0, String::new())
                ),
                (vec![("__name__", "c")], (4, 4.0, String::new())),
            ]
        );
    }

    #[test]
    fn corrupt_records_yield_no_items() {
        let batch = MetricsBatch {
            samples: vec![sample(&[("__name__", "x")], 1, 1.0)],
            ..Default::default()
        };
        let mut bytes = encode_record(&batch);
        bytes.truncate(bytes.len() - 3);
        assert!(prepare_record(&Bytes::from(bytes), &PLAIN).is_err());
    }

    /// Records are CRC-checked by the queue, but the reader must still never panic on bytes
    /// it does not expect: every single-byte change and truncation of a realistic record is
    /// either read or refused, under every output setting.
    #[test]
    fn mutated_records_never_panic() {
        use solder_core::relabel::{Action, Rule};
        let rules = vec![Rule {
            target_label: "env".into(),
            replacement: "x".into(),
            action: Action::Replace,
            ..Rule::default()
        }];
        let ext = sorted_external(&[("cluster".into(), "c".into())]);
        let outs = [
            PLAIN,
            OutputLabels {
                rules: &rules,
                external: &ext,
                send_exemplars: true,
            },
            OutputLabels {
                rules: &[],
                external: &ext,
                send_exemplars: false,
            },
        ];
        let batch = MetricsBatch {
            samples: vec![
                sample(&[("__name__", "a"), ("job", "j")], 1, 1.0),
                sample(&[("__name__", "b"), ("__tmp", "t")], -2, f64::NAN),
            ],
            exemplars: vec![Exemplar {
                series: labels(&[("__name__", "a")]),
                labels: labels(&[("trace_id", "abc")]),
                timestamp_ms: 3,
                value: 4.0,
            }],
            ..Default::default()
        };
        let good = encode_record(&batch);
        let mut outcomes = (0usize, 0usize);
        for i in 0..good.len() {
            for delta in [1u8, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] = bad[i].wrapping_add(delta);
                for out in &outs {
                    let prepared = prepare_record(&Bytes::from(bad.clone()), out);
                    if prepared.is_ok() {
                        outcomes.0 += 1;
                    } else {
                        outcomes.1 += 1;
                    }
                }
            }
            let cut = Bytes::copy_from_slice(&good[..i]);
            for out in &outs {
                let _ = prepare_record(&cut, out);
            }
        }
        // Both kinds of outcome happened, so the loop did exercise the reader.
        assert!(outcomes.0 > 0 && outcomes.1 > 0, "{outcomes:?}");
    }
}
