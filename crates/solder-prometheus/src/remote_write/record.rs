//! The payload of one WAL (queue) record: an appended batch, stored as an *uncompressed*
//! `prometheus.WriteRequest` with the labels exactly as received (internal `__` labels kept,
//! no external labels), so relabeling and external labels are applied at send time with the
//! configuration in force then. Protobuf because it is versioned by field numbers and its
//! `TimeSeries` label fields can be copied into requests byte for byte: records are written
//! and read with the primitives of [`super::wire`], not with prost structs (see there why).

use super::wire::{
    exemplar_body_len, len_field_size, put_bytes_field, put_exemplar, put_len_header, put_sample,
    put_tag, put_varint, read_label, read_sample, sample_body_len, varint_len, Field, FieldReader,
    WireError, LEN, SAMPLE_FIELD_MAX, VARINT,
};
use solder_core::signals::metrics::{Exemplar, Labels, Metadata, MetricType, MetricsBatch, Sample};
use solder_proto::prometheus as pb;
use solder_proto::prost::Message;

/// Why a record could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("corrupt remote_write WAL record: {0}")]
pub struct RecordError(#[from] solder_proto::prost::DecodeError);

/// Field of the record's flags varint: not part of `prometheus.WriteRequest`, so protobuf
/// decoders (prost included) skip it.
pub(crate) const FLAGS_FIELD: u32 = 15;
/// Every `TimeSeries` lists its samples or exemplar first and its labels last, with nothing
/// after them: a reader finds the label fields as one slice without walking them.
pub(crate) const FLAG_LABELS_LAST: u64 = 1;
/// No series label name starts with `__` other than `__name__` (nothing to strip at send time).
pub(crate) const FLAG_NO_INTERNAL: u64 = 2;
/// The record's sample `TimeSeries` form one block, described by the header fields below and
/// starting with the first `TimeSeries`: a sender that rewrites no labels copies the block
/// into a request as it is (see [`super::run`]). Records without it are read sample by sample.
pub(crate) const FLAG_SAMPLE_BLOCK: u64 = 4;
/// Header fields of [`FLAG_SAMPLE_BLOCK`] records (varints, written right after the flags, all
/// unknown to `prometheus.WriteRequest`): samples in the block, the block's length in bytes,
/// and the lowest and highest sample timestamp (int64 as protobuf writes it).
pub(crate) const SAMPLES_FIELD: u32 = 14;
pub(crate) const BLOCK_LEN_FIELD: u32 = 13;
pub(crate) const MIN_TS_FIELD: u32 = 12;
pub(crate) const MAX_TS_FIELD: u32 = 11;

/// Encodes a batch. Consecutive samples of one series (the same shared `Labels`) share a
/// `TimeSeries` (a scrape lists each series once, so grouping further would only cost a hash
/// per sample); each exemplar gets a `TimeSeries` of its own, after all the samples'. Written
/// directly, without prost structs: this runs for every scraped sample.
pub fn encode_record(batch: &MetricsBatch) -> Vec<u8> {
    // Pass 1: runs of one series, their encoded sizes, and whether any label is internal.
    struct Run {
        start: usize,
        len: usize,
        body_len: usize,
    }
    let mut runs = Vec::with_capacity(batch.samples.len());
    let mut total = 2;
    let mut internal = false;
    let (mut min_ts, mut max_ts) = (i64::MAX, i64::MIN);
    let mut i = 0;
    while i < batch.samples.len() {
        let labels = &batch.samples[i].labels;
        let len = batch.samples[i..]
            .iter()
            .take_while(|s| s.labels.ptr_eq(labels))
            .count();
        internal |= labels.has_internal();
        let mut body_len = labels.wire().len();
        for s in &batch.samples[i..i + len] {
            body_len += len_field_size(sample_body_len(s.timestamp_ms));
            min_ts = min_ts.min(s.timestamp_ms);
            max_ts = max_ts.max(s.timestamp_ms);
        }
        total += len_field_size(body_len);
        runs.push(Run {
            start: i,
            len,
            body_len,
        });
        i += len;
    }
    let exemplars: Vec<_> = batch
        .exemplars
        .iter()
        .map(|e| {
            internal |= e.series.has_internal();
            let ex_len = exemplar_body_len(e.labels.wire().len(), e.timestamp_ms);
            (e.series.wire().len(), ex_len)
        })
        .collect();
    total += exemplars
        .iter()
        .map(|&(s, e)| len_field_size(s + len_field_size(e)))
        .sum::<usize>();

    let block_len: usize = runs.iter().map(|r| len_field_size(r.body_len)).sum();
    let header = if runs.is_empty() {
        0
    } else {
        // Four one-byte tags and their varints.
        4 + varint_len(batch.samples.len() as u64)
            + varint_len(block_len as u64)
            + varint_len(min_ts as u64)
            + varint_len(max_ts as u64)
    };

    // Pass 2: write (with the slack `Stack::append_to` needs for its last copy).
    let mut out = Vec::with_capacity(total + header + SAMPLE_FIELD_MAX);
    let mut flags = FLAG_LABELS_LAST | if internal { 0 } else { FLAG_NO_INTERNAL };
    if !runs.is_empty() {
        flags |= FLAG_SAMPLE_BLOCK;
    }
    put_tag(&mut out, FLAGS_FIELD, VARINT);
    put_varint(&mut out, flags);
    if !runs.is_empty() {
        for (field, v) in [
            (SAMPLES_FIELD, batch.samples.len() as u64),
            (BLOCK_LEN_FIELD, block_len as u64),
            (MIN_TS_FIELD, min_ts as u64),
            (MAX_TS_FIELD, max_ts as u64),
        ] {
            put_tag(&mut out, field, VARINT);
            put_varint(&mut out, v);
        }
    }
    for run in &runs {
        put_len_header(&mut out, 1, run.body_len);
        let samples = &batch.samples[run.start..run.start + run.len];
        for s in samples {
            put_sample(&mut out, 2, s.value, s.timestamp_ms);
        }
        // `Labels` keeps exactly the encoding of `TimeSeries.labels`.
        out.extend_from_slice(samples[0].labels.wire());
    }
    for (e, &(series_len, ex_len)) in batch.exemplars.iter().zip(&exemplars) {
        put_len_header(&mut out, 1, series_len + len_field_size(ex_len));
        put_exemplar(&mut out, 3, e.labels.wire(), e.value, e.timestamp_ms);
        out.extend_from_slice(e.series.wire());
    }
    for m in &batch.metadata {
        // `WriteRequest.metadata` is field 3 (2 is reserved).
        put_bytes_field(&mut out, 3, &metadata_to_pb(m).encode_to_vec());
    }
    out
}

/// Decodes a record written by [`encode_record`] into owned samples (tests and tools; the
/// sender reads records with [`read_record`]).
pub fn decode_record(bytes: &[u8]) -> Result<MetricsBatch, RecordError> {
    let req = pb::WriteRequest::decode(bytes)?;
    let mut batch = MetricsBatch::default();
    for ts in req.timeseries {
        let labels = Labels::new(ts.labels.into_iter().map(|l| (l.name, l.value)).collect());
        for s in ts.samples {
            batch.samples.push(Sample {
                labels: labels.clone(),
                timestamp_ms: s.timestamp,
                value: s.value,
            });
        }
        for e in ts.exemplars {
            batch.exemplars.push(Exemplar {
                series: labels.clone(),
                labels: Labels::new(e.labels.into_iter().map(|l| (l.name, l.value)).collect()),
                timestamp_ms: e.timestamp,
                value: e.value,
            });
        }
    }
    batch.metadata = req.metadata.into_iter().map(metadata_from_pb).collect();
    Ok(batch)
}

/// One `TimeSeries` of a record, borrowed from the record's bytes.
#[derive(Debug, Default)]
pub(crate) struct SeriesView<'a> {
    /// The series' `Label` fields (field 1, tags included), as they appear in a `TimeSeries`.
    pub labels: LabelFields<'a>,
    /// `(value, timestamp_ms)` in order.
    pub samples: Vec<(f64, i64)>,
    pub exemplars: Vec<ExemplarView<'a>>,
    /// The record promises that no label name is internal (`__` but not `__name__`).
    pub no_internal: bool,
}

#[derive(Debug)]
pub(crate) struct ExemplarView<'a> {
    pub labels: LabelFields<'a>,
    pub value: f64,
    pub timestamp_ms: i64,
}

/// A message's `Label` fields: one slice of the record when they are contiguous (always, for
/// records written by [`encode_record`] or prost), else copied together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LabelFields<'a> {
    Slice(&'a [u8]),
    Owned(Vec<u8>),
}

impl Default for LabelFields<'_> {
    fn default() -> Self {
        LabelFields::Slice(&[])
    }
}

impl LabelFields<'_> {
    pub fn bytes(&self) -> &[u8] {
        match self {
            LabelFields::Slice(s) => s,
            LabelFields::Owned(v) => v,
        }
    }

    /// Iterates `(name, value)` pairs.
    pub fn pairs(&self) -> LabelPairs<'_> {
        LabelPairs(FieldReader::new(self.bytes()))
    }
}

/// Iterator over the `(name, value)` pairs of [`LabelFields`].
pub(crate) struct LabelPairs<'a>(FieldReader<'a>);

impl<'a> Iterator for LabelPairs<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            return match self.0.next_field() {
                Ok(Some((1, Field::Bytes(body)))) => Some(read_label(body)),
                Ok(Some(_)) => continue,
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            };
        }
    }
}

/// Collects the `Label` fields (field 1) of a message; `skip` other fields.
struct LabelCollector<'a> {
    msg: &'a [u8],
    span: Option<(usize, usize)>,
    owned: Option<Vec<u8>>,
}

impl<'a> LabelCollector<'a> {
    fn new(msg: &'a [u8]) -> Self {
        LabelCollector {
            msg,
            span: None,
            owned: None,
        }
    }

    /// Records the label field that occupied `start..end` of the message.
    fn add(&mut self, start: usize, end: usize) {
        match (&mut self.owned, &mut self.span) {
            (Some(v), _) => v.extend_from_slice(&self.msg[start..end]),
            (None, Some((_, e))) if *e == start => *e = end,
            (None, Some((s, e))) => {
                let mut v = self.msg[*s..*e].to_vec();
                v.extend_from_slice(&self.msg[start..end]);
                self.owned = Some(v);
            }
            (None, None) => self.span = Some((start, end)),
        }
    }

    fn finish(self) -> LabelFields<'a> {
        match (self.owned, self.span) {
            (Some(v), _) => LabelFields::Owned(v),
            (None, Some((s, e))) => LabelFields::Slice(&self.msg[s..e]),
            (None, None) => LabelFields::Slice(&[]),
        }
    }
}

/// Walks a record without copying: `on_series` sees every `TimeSeries` (its buffers are reused
/// between calls), `on_metadata` every encoded `MetricMetadata`. An error means the record is
/// corrupt; what the callbacks saw before it should be discarded.
pub(crate) fn read_record<'a>(
    bytes: &'a [u8],
    mut on_series: impl FnMut(&SeriesView<'a>),
    mut on_metadata: impl FnMut(&'a [u8]),
) -> Result<(), WireError> {
    let mut view = SeriesView::default();
    let mut flags = 0;
    let mut r = FieldReader::new(bytes);
    while let Some((field, value)) = r.next_field()? {
        match (field, value) {
            (FLAGS_FIELD, Field::Varint(f)) => {
                flags = f;
                view.no_internal = f & FLAG_NO_INTERNAL != 0;
            }
            (1, Field::Bytes(ts)) => {
                read_series(ts, &mut view, flags & FLAG_LABELS_LAST != 0)?;
                on_series(&view);
            }
            (3, Field::Bytes(md)) => on_metadata(md),
            _ => {}
        }
    }
    Ok(())
}

pub(crate) fn read_series<'a>(
    ts: &'a [u8],
    view: &mut SeriesView<'a>,
    labels_last: bool,
) -> Result<(), WireError> {
    view.samples.clear();
    view.exemplars.clear();
    let mut labels = LabelCollector::new(ts);
    let mut r = FieldReader::new(ts);
    loop {
        // `Sample` fields (2) as written by `put_sample`, read without the general walk.
        if let Some(sample) = r.next_short_bytes((2 << 3) | LEN) {
            view.samples.push(read_sample(sample)?);
            continue;
        }
        let start = r.position();
        let Some((field, value)) = r.next_field()? else {
            break;
        };
        match (field, value) {
            (1, Field::Bytes(_)) if labels_last => {
                // The rest of the series is its label fields (see FLAG_LABELS_LAST).
                view.labels = LabelFields::Slice(&ts[start..]);
                return Ok(());
            }
            (1, Field::Bytes(_)) => labels.add(start, r.position()),
            (2, Field::Bytes(s)) => view.samples.push(read_sample(s)?),
            (3, Field::Bytes(e)) => view.exemplars.push(read_exemplar(e)?),
            _ => {}
        }
    }
    view.labels = labels.finish();
    Ok(())
}

fn read_exemplar(body: &[u8]) -> Result<ExemplarView<'_>, WireError> {
    let mut labels = LabelCollector::new(body);
    let (mut value, mut timestamp_ms) = (0.0, 0i64);
    let mut r = FieldReader::new(body);
    loop {
        let start = r.position();
        let Some((field, v)) = r.next_field()? else {
            break;
        };
        match (field, v) {
            (1, Field::Bytes(_)) => labels.add(start, r.position()),
            (2, Field::Fixed64(bits)) => value = f64::from_bits(bits),
            (3, Field::Varint(t)) => timestamp_ms = t as i64,
            _ => {}
        }
    }
    Ok(ExemplarView {
        labels: labels.finish(),
        value,
        timestamp_ms,
    })
}

/// Decodes one encoded `MetricMetadata` seen by [`read_record`].
pub(crate) fn decode_metadata(bytes: &[u8]) -> Result<Metadata, RecordError> {
    Ok(metadata_from_pb(pb::MetricMetadata::decode(bytes)?))
}

pub(crate) fn metadata_to_pb(m: &Metadata) -> pb::MetricMetadata {
    use pb::metric_metadata::MetricType as P;
    let kind = match m.kind {
        MetricType::Unknown => P::Unknown,
        MetricType::Counter => P::Counter,
        MetricType::Gauge => P::Gauge,
        MetricType::Histogram => P::Histogram,
        MetricType::GaugeHistogram => P::Gaugehistogram,
        MetricType::Summary => P::Summary,
        MetricType::Info => P::Info,
        MetricType::StateSet => P::Stateset,
    };
    pb::MetricMetadata {
        r#type: kind as i32,
        metric_family_name: m.metric_family.clone(),
        help: m.help.clone(),
        unit: m.unit.clone(),
    }
}

fn metadata_from_pb(m: pb::MetricMetadata) -> Metadata {
    use pb::metric_metadata::MetricType as P;
    let kind = match P::try_from(m.r#type).unwrap_or(P::Unknown) {
        P::Unknown => MetricType::Unknown,
        P::Counter => MetricType::Counter,
        P::Gauge => MetricType::Gauge,
        P::Histogram => MetricType::Histogram,
        P::Gaugehistogram => MetricType::GaugeHistogram,
        P::Summary => MetricType::Summary,
        P::Info => MetricType::Info,
        P::Stateset => MetricType::StateSet,
    };
    Metadata {
        metric_family: m.metric_family_name,
        kind,
        help: m.help,
        unit: m.unit,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::testing::labels;
    use super::*;

    #[test]
    fn round_trips_a_batch() {
        let a = labels(&[("__name__", "a"), ("__internal", "x")]);
        let b = labels(&[("__name__", "b")]);
        let batch = MetricsBatch {
            samples: vec![
                Sample {
                    labels: a.clone(),
                    timestamp_ms: 1,
                    value: 1.0,
                },
                Sample {
                    labels: b.clone(),
                    timestamp_ms: 1,
                    value: 2.0,
                },
                Sample {
                    labels: a.clone(),
                    timestamp_ms: 2,
                    value: 3.0,
                },
            ],
            exemplars: vec![Exemplar {
                series: b.clone(),
                labels: labels(&[("trace_id", "t")]),
                timestamp_ms: 5,
                value: 9.0,
            }],
            metadata: vec![Metadata {
                metric_family: "a".into(),
                kind: MetricType::Counter,
                help: "h".into(),
                unit: "u".into(),
            }],
        };
        let bytes = encode_record(&batch);
        // Decoded with the official prost types: every sample in its original order.
        let back = decode_record(&bytes).unwrap();
        let got: Vec<_> = back
            .samples
            .iter()
            .map(|s| (s.labels.clone(), s.timestamp_ms, s.value))
            .collect();
        assert_eq!(
            got,
            vec![
                (a.clone(), 1, 1.0),
                (b.clone(), 1, 2.0),
                (a.clone(), 2, 3.0)
            ]
        );
        assert_eq!(back.exemplars, batch.exemplars);
        assert_eq!(back.metadata, batch.metadata);
        assert!(decode_record(&[0xff, 0xff, 0xff]).is_err());

        // The borrowed reader sees the same.
        let mut seen = Vec::new();
        let mut exemplars = Vec::new();
        let mut metadata = Vec::new();
        read_record(
            &bytes,
            |s| {
                let pairs: Vec<(String, String)> = s
                    .labels
                    .pairs()
                    .map(|p| {
                        let (n, v) = p.unwrap();
                        (
                            String::from_utf8(n.to_vec()).unwrap(),
                            String::from_utf8(v.to_vec()).unwrap(),
                        )
                    })
                    .collect();
                for &(v, t) in &s.samples {
                    seen.push((Labels::new(pairs.clone()), t, v));
                }
                for e in &s.exemplars {
                    exemplars.push((
                        Labels::new(pairs.clone()),
                        e.labels.bytes().to_vec(),
                        e.value,
                        e.timestamp_ms,
                    ));
                }
            },
            |m| metadata.push(decode_metadata(m).unwrap()),
        )
        .unwrap();
        assert_eq!(seen, got);
        assert_eq!(exemplars.len(), 1);
        assert_eq!(exemplars[0].0, b);
        assert_eq!((exemplars[0].2, exemplars[0].3), (9.0, 5));
        assert_eq!(metadata, batch.metadata);
        assert!(read_record(&[0xff, 0xff, 0xff], |_| {}, |_| {}).is_err());
    }

    /// Long names and values (multi-byte length varints) and non-ASCII text survive, as
    /// decoded by prost.
    #[test]
    fn long_and_unicode_labels_round_trip() {
        let long = labels(&[
            ("__name__", "m"),
            (&"n".repeat(200), &"v".repeat(70_000)),
            ("zz", "ünïcødé ✓"),
        ]);
        let batch = MetricsBatch {
            samples: vec![Sample {
                labels: long.clone(),
                timestamp_ms: -1,
                value: f64::INFINITY,
            }],
            ..Default::default()
        };
        let back = decode_record(&encode_record(&batch)).unwrap();
        assert_eq!(back.samples, batch.samples);
        assert_eq!(back.samples[0].labels.get("zz"), Some("ünïcødé ✓"));
    }

    /// Records written by the previous, prost-based encoder (grouped series) read the same.
    #[test]
    fn reads_records_written_by_prost() {
        let req = pb::WriteRequest {
            timeseries: vec![pb::TimeSeries {
                labels: vec![
                    pb::Label {
                        name: "__name__".into(),
                        value: "x".into(),
                    },
                    pb::Label {
                        name: "job".into(),
                        value: "j".into(),
                    },
                ],
                samples: vec![
                    pb::Sample {
                        value: 0.0,
                        timestamp: 1,
                    },
                    pb::Sample {
                        value: 2.0,
                        timestamp: 0,
                    },
                ],
                ..Default::default()
            }],
            metadata: vec![],
        };
        let bytes = req.encode_to_vec();
        let mut n = 0;
        read_record(
            &bytes,
            |s| {
                n += 1;
                assert_eq!(s.samples, vec![(0.0, 1), (2.0, 0)]);
                let pairs: Vec<_> = s.labels.pairs().map(|p| p.unwrap()).collect();
                assert_eq!(
                    pairs,
                    vec![(&b"__name__"[..], &b"x"[..]), (&b"job"[..], &b"j"[..])]
                );
                // Contiguous label fields are borrowed, not copied.
                assert!(matches!(s.labels, LabelFields::Slice(_)));
            },
            |_| {},
        )
        .unwrap();
        assert_eq!(n, 1);
    }

    /// Label fields interleaved with samples (legal protobuf) are gathered in order.
    #[test]
    fn gathers_interleaved_label_fields() {
        let mut ts = Vec::new();
        crate::remote_write::wire::put_label(&mut ts, 1, b"a", b"1");
        crate::remote_write::wire::put_sample(&mut ts, 2, 1.0, 7);
        crate::remote_write::wire::put_label(&mut ts, 1, b"b", b"2");
        let mut rec = Vec::new();
        put_bytes_field(&mut rec, 1, &ts);
        let decoded = pb::WriteRequest::decode(rec.as_slice()).unwrap();
        assert_eq!(decoded.timeseries[0].labels.len(), 2);
        read_record(
            &rec,
            |s| {
                let pairs: Vec<_> = s.labels.pairs().map(|p| p.unwrap()).collect();
                assert_eq!(pairs, vec![(&b"a"[..], &b"1"[..]), (&b"b"[..], &b"2"[..])]);
                assert!(matches!(s.labels, LabelFields::Owned(_)));
                assert_eq!(s.samples, vec![(1.0, 7)]);
            },
            |_| {},
        )
        .unwrap();
    }
}
