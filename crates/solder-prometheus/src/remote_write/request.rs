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
use super::wire::{
    exemplar_body_len, len_field_size, put_exemplar, put_label, put_len_header, put_sample,
    sample_body_len, WireError,
};
use bytes::Bytes;
use solder_core::relabel::Rule;
use solder_core::signals::metrics::Labels;
use std::ops::Range;

/// One sample or exemplar, ready for a request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SendItem {
    /// The series' `Label` fields (field 1 of `TimeSeries`, tags included), final.
    pub series: Bytes,
    pub timestamp_ms: i64,
    pub value: f64,
    /// `Some(exemplar label fields)` for an exemplar, `None` for a sample.
    pub exemplar: Option<Bytes>,
}

impl SendItem {
    pub fn is_exemplar(&self) -> bool {
        self.exemplar.is_some()
    }
}

/// What [`prepare_record`] made of one record.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    pub items: Vec<SendItem>,
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

/// Where an item's labels live until the record is done: in the record, or in the scratch
/// buffer of labels this record's series were rewritten into.
#[derive(Clone)]
enum Loc {
    Record(Range<usize>),
    Scratch(Range<usize>),
}

struct Pending {
    series: Loc,
    timestamp_ms: i64,
    value: f64,
    exemplar: Option<Loc>,
}

/// Reads one WAL record into items. A corrupt record yields an error and no items.
pub(crate) fn prepare_record(
    record: &Bytes,
    out: &OutputLabels<'_>,
) -> Result<Prepared, WireError> {
    let base = record.as_ptr() as usize;
    // Every non-empty slice the reader hands out lies inside `record`; an empty one may be a
    // static `&[]` elsewhere, and is the empty range wherever it points.
    let offset = |s: &[u8]| match (s.as_ptr() as usize).checked_sub(base) {
        Some(start) if start + s.len() <= record.len() => start..start + s.len(),
        _ => 0..0,
    };
    let mut scratch: Vec<u8> = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut metadata = Vec::new();
    let mut prepared = Prepared::default();
    let mut failure: Option<WireError> = None;

    let walk = read_record(
        record,
        |series: &SeriesView<'_>| {
            if failure.is_some() {
                return;
            }
            prepared.samples_in += series.samples.len();
            let loc = match place_series(
                &series.labels,
                series.no_internal,
                out,
                &mut scratch,
                &offset,
            ) {
                Ok(Some(loc)) => loc,
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
            for &(value, timestamp_ms) in &series.samples {
                pending.push(Pending {
                    series: loc.clone(),
                    timestamp_ms,
                    value,
                    exemplar: None,
                });
            }
            if out.send_exemplars {
                for e in &series.exemplars {
                    pending.push(Pending {
                        series: loc.clone(),
                        timestamp_ms: e.timestamp_ms,
                        value: e.value,
                        exemplar: Some(place_exemplar(e, &mut scratch, &offset)),
                    });
                }
            }
        },
        |md| metadata.push(offset(md)),
    );
    walk?;
    if let Some(e) = failure {
        return Err(e);
    }
    let scratch = Bytes::from(scratch);
    let resolve = |loc: Loc| match loc {
        Loc::Record(r) => record.slice(r),
        Loc::Scratch(r) => scratch.slice(r),
    };
    prepared.items = pending
        .into_iter()
        .map(|p| SendItem {
            series: resolve(p.series),
            timestamp_ms: p.timestamp_ms,
            value: p.value,
            exemplar: p.exemplar.map(resolve),
        })
        .collect();
    prepared.metadata = metadata.into_iter().map(|r| record.slice(r)).collect();
    Ok(prepared)
}

/// `None` when relabeling drops the series.
fn place_series(
    labels: &LabelFields<'_>,
    no_internal: bool,
    out: &OutputLabels<'_>,
    scratch: &mut Vec<u8>,
    offset: &impl Fn(&[u8]) -> Range<usize>,
) -> Result<Option<Loc>, WireError> {
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
        return Ok(Some(Loc::Scratch(start..scratch.len())));
    }
    let mut has_internal = false;
    if !no_internal {
        for p in labels.pairs() {
            has_internal |= is_internal(p?.0);
        }
    }
    match labels {
        LabelFields::Slice(s) if !has_internal && out.external.is_empty() => {
            Ok(Some(Loc::Record(offset(s))))
        }
        _ => {
            write_output(labels.pairs(), out.external, scratch)?;
            Ok(Some(Loc::Scratch(start..scratch.len())))
        }
    }
}

fn place_exemplar(
    e: &ExemplarView<'_>,
    scratch: &mut Vec<u8>,
    offset: &impl Fn(&[u8]) -> Range<usize>,
) -> Loc {
    match &e.labels {
        LabelFields::Slice(s) => Loc::Record(offset(s)),
        LabelFields::Owned(v) => {
            let start = scratch.len();
            scratch.extend_from_slice(v);
            Loc::Scratch(start..scratch.len())
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

/// Writes a `prometheus.WriteRequest` with one `TimeSeries` per item, in order.
pub(crate) fn encode_request(items: &[SendItem], out: &mut Vec<u8>) {
    out.reserve(items.iter().map(|i| i.series.len() + 32).sum());
    for item in items {
        match &item.exemplar {
            None => {
                let sample = sample_body_len(item.timestamp_ms);
                put_len_header(out, 1, item.series.len() + len_field_size(sample));
                out.extend_from_slice(&item.series);
                put_sample(out, 2, item.value, item.timestamp_ms);
            }
            Some(labels) => {
                let ex = exemplar_body_len(labels.len(), item.timestamp_ms);
                put_len_header(out, 1, item.series.len() + len_field_size(ex));
                out.extend_from_slice(&item.series);
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
        encode_request(&prepared.items, &mut body);
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
