//! The sender's shortcut for records whose labels need no rewriting (no `write_relabel_config`,
//! no external labels, no internal labels, no exemplars): the record's sample `TimeSeries` are
//! already what the request carries, so the sender moves them as one [`Run`] (a span of the
//! record plus its sample count) and copies the span into the request, instead of reading
//! every sample into a [`SendItem`] and writing it out again.
//!
//! A record's `TimeSeries` list their samples before their labels (see [`super::record`]);
//! protobuf leaves field order to the writer, and receivers decode either order.
//!
//! A run is cut at a `TimeSeries` boundary when a request or a shard has room for only part
//! of it ([`split_run`]), and turned into items when it cannot be cut or has to be spread over
//! several shards ([`expand_run`]).

use super::record::{
    read_series, SeriesView, BLOCK_LEN_FIELD, FLAGS_FIELD, FLAG_LABELS_LAST, FLAG_NO_INTERNAL,
    FLAG_SAMPLE_BLOCK, MAX_TS_FIELD, MIN_TS_FIELD, SAMPLES_FIELD,
};
use super::request::{SendItem, Span};
use super::wire::{read_sample, Field, FieldReader, WireError, LEN};
use bytes::Bytes;

/// Samples of one record, sent as the `TimeSeries` bytes they were written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    /// Whole `TimeSeries` fields (tag, length, body), each holding samples and labels only.
    pub block: Span,
    pub samples: usize,
    pub min_ts: i64,
    pub max_ts: i64,
}

impl Run {
    /// The same run once its buffer was appended after `base` others (see [`Span::rebased`]).
    pub fn rebased(self, base: u32) -> Run {
        Run {
            block: self.block.rebased(base),
            ..self
        }
    }
}

/// The record's samples as one run, when the record allows it: written with a sample block,
/// no internal labels, and nothing after the block (no exemplars, no metadata). `Ok(None)`
/// means the record has to be read sample by sample. The run's span indexes buffer 0, the
/// record.
pub(crate) fn read_run(record: &[u8]) -> Result<Option<Run>, WireError> {
    let mut r = FieldReader::new(record);
    let (mut flags, mut samples, mut block_len, mut min_ts, mut max_ts) = (0, 0, 0, 0, 0);
    let start = loop {
        let at = r.position();
        match r.next_field()? {
            Some((FLAGS_FIELD, Field::Varint(v))) => flags = v,
            Some((SAMPLES_FIELD, Field::Varint(v))) => samples = v,
            Some((BLOCK_LEN_FIELD, Field::Varint(v))) => block_len = v,
            Some((MIN_TS_FIELD, Field::Varint(v))) => min_ts = v as i64,
            Some((MAX_TS_FIELD, Field::Varint(v))) => max_ts = v as i64,
            Some((1, _)) => break at,
            // Anything else before the first series: not a record this shortcut knows.
            Some(_) | None => return Ok(None),
        }
    };
    let wanted = FLAG_SAMPLE_BLOCK | FLAG_NO_INTERNAL | FLAG_LABELS_LAST;
    if flags & wanted != wanted || samples == 0 {
        return Ok(None);
    }
    let len = usize::try_from(block_len).map_err(|_| WireError::TooLarge)?;
    let end = start.checked_add(len).ok_or(WireError::Truncated)?;
    if end > record.len() {
        return Err(WireError::Truncated);
    }
    if end < record.len() {
        return Ok(None);
    }
    Ok(Some(Run {
        block: Span {
            buf: 0,
            start: u32::try_from(start).map_err(|_| WireError::TooLarge)?,
            end: u32::try_from(end).map_err(|_| WireError::TooLarge)?,
        },
        samples: usize::try_from(samples).map_err(|_| WireError::TooLarge)?,
        min_ts,
        max_ts,
    }))
}

/// Calls `each(start, end, timestamps)` for every `TimeSeries` of the run, with its offsets in
/// the run's buffer and its samples' timestamps.
fn walk(
    run: &Run,
    buffers: &[Bytes],
    mut each: impl FnMut(u32, u32, &[i64]),
) -> Result<(), WireError> {
    let block = run.block.get(buffers);
    let mut r = FieldReader::new(block);
    let mut stamps = Vec::new();
    loop {
        let at = r.position();
        let Some((field, value)) = r.next_field()? else {
            return Ok(());
        };
        let (1, Field::Bytes(ts)) = (field, value) else {
            return Err(WireError::Truncated);
        };
        stamps.clear();
        let mut s = FieldReader::new(ts);
        while let Some(sample) = s.next_short_bytes((2 << 3) | LEN) {
            stamps.push(read_sample(sample)?.1);
        }
        let start = run.block.start + at as u32;
        each(start, run.block.start + r.position() as u32, &stamps);
    }
}

/// A run with the given `TimeSeries` range and timestamps.
struct Part {
    start: u32,
    end: u32,
    samples: usize,
    min_ts: i64,
    max_ts: i64,
}

impl Part {
    fn new(at: u32) -> Part {
        Part {
            start: at,
            end: at,
            samples: 0,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
        }
    }

    fn add(&mut self, end: u32, stamps: &[i64]) {
        self.end = end;
        self.samples += stamps.len();
        for &t in stamps {
            self.min_ts = self.min_ts.min(t);
            self.max_ts = self.max_ts.max(t);
        }
    }

    fn run(self, buf: u32) -> Run {
        Run {
            block: Span {
                buf,
                start: self.start,
                end: self.end,
            },
            samples: self.samples,
            min_ts: self.min_ts,
            max_ts: self.max_ts,
        }
    }
}

/// Cuts `run` after as many whole `TimeSeries` as hold at most `n` samples: `Ok(Some((head,
/// tail)))`, both non-empty. `Ok(None)` when the first `TimeSeries` alone holds more than `n`
/// (or the run holds no more than `n`: nothing to cut).
pub(crate) fn split_run(
    run: &Run,
    buffers: &[Bytes],
    n: usize,
) -> Result<Option<(Run, Run)>, WireError> {
    let mut head = Part::new(run.block.start);
    let mut tail: Option<Part> = None;
    walk(run, buffers, |start, end, stamps| match &mut tail {
        Some(t) => t.add(end, stamps),
        None if head.samples + stamps.len() <= n => head.add(end, stamps),
        None => {
            let mut t = Part::new(start);
            t.add(end, stamps);
            tail = Some(t);
        }
    })?;
    match tail {
        Some(t) if head.samples > 0 => Ok(Some((head.run(run.block.buf), t.run(run.block.buf)))),
        _ => Ok(None),
    }
}

/// The run's samples as items (one per sample, in order), their spans in the run's buffer.
pub(crate) fn expand_run(run: &Run, buffers: &[Bytes]) -> Result<Vec<SendItem>, WireError> {
    let block = run.block.get(buffers);
    let base = block.as_ptr() as usize;
    let mut items = Vec::with_capacity(run.samples);
    let mut view = SeriesView::default();
    let mut r = FieldReader::new(block);
    while let Some((field, value)) = r.next_field()? {
        let (1, Field::Bytes(ts)) = (field, value) else {
            return Err(WireError::Truncated);
        };
        read_series(ts, &mut view, true)?;
        let labels = view.labels.bytes();
        // Labels-last series hand out a slice of `block`; an empty label list may be a static
        // empty slice, which is the empty span wherever it points.
        let offset = (labels.as_ptr() as usize)
            .checked_sub(base)
            .filter(|o| o + labels.len() <= block.len())
            .unwrap_or(0);
        let start = run.block.start + offset as u32;
        let series = Span {
            buf: run.block.buf,
            start,
            end: start + labels.len() as u32,
        };
        items.extend(view.samples.iter().map(|&(value, timestamp_ms)| SendItem {
            series,
            exemplar: None,
            timestamp_ms,
            value,
        }));
    }
    Ok(items)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::record::encode_record;
    use super::super::request::{encode_request, prepare_record, OutputLabels};
    use super::super::testing::{labels, sample};
    use super::*;
    use solder_core::signals::metrics::{Exemplar, Metadata, MetricsBatch, Sample};
    use solder_core::testing::Rng;
    use solder_proto::prometheus as pb;
    use solder_proto::prost::Message;

    const PLAIN: OutputLabels<'static> = OutputLabels {
        rules: &[],
        external: &[],
        send_exemplars: true,
    };

    /// A sample as compared: labels, timestamp, value bits.
    type Flat = (Vec<(String, String)>, i64, u64);

    /// Every sample of a request, decoded with the official prost types, in order.
    fn flatten(req: &pb::WriteRequest) -> Vec<Flat> {
        let mut out = Vec::new();
        for ts in &req.timeseries {
            assert!(ts.exemplars.is_empty());
            let l: Vec<_> = ts
                .labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            for s in &ts.samples {
                out.push((l.clone(), s.timestamp, s.value.to_bits()));
            }
        }
        out
    }

    fn batch_samples(batch: &MetricsBatch) -> Vec<Flat> {
        batch
            .samples
            .iter()
            .map(|s| {
                let l = s
                    .labels
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                (l, s.timestamp_ms, s.value.to_bits())
            })
            .collect()
    }

    fn request(runs: &[(usize, Run)], buffers: &[Bytes]) -> pb::WriteRequest {
        let mut body = Vec::new();
        encode_request(&[], runs, buffers, &mut body);
        pb::WriteRequest::decode(body.as_slice()).unwrap()
    }

    /// A scrape-like batch: `n` series, some listed with several samples in a row (one
    /// `TimeSeries` each), timestamps spread around zero.
    fn batch(rng: &mut Rng, n: usize) -> MetricsBatch {
        let mut samples = Vec::new();
        for i in 0..n {
            let l = labels(&[
                ("__name__", &format!("m{}", rng.below(5))),
                ("i", &i.to_string()),
                ("job", "j"),
            ]);
            for _ in 0..1 + rng.below(3) {
                samples.push(Sample {
                    labels: l.clone(),
                    timestamp_ms: rng.below(1 << 20) as i64 - (1 << 19),
                    value: rng.next_u64() as f64 / 7.0,
                });
            }
        }
        MetricsBatch {
            samples,
            ..Default::default()
        }
    }

    #[test]
    fn a_run_is_the_records_samples_and_sends_them_unchanged() {
        let mut rng = Rng::new(7);
        for n in [1, 2, 17, 300] {
            let b = batch(&mut rng, n);
            let record = Bytes::from(encode_record(&b));
            let run = read_run(&record).unwrap().unwrap();
            assert_eq!(run.samples, b.samples.len());
            let stamps = b.samples.iter().map(|s| s.timestamp_ms);
            assert_eq!(run.min_ts, stamps.clone().min().unwrap());
            assert_eq!(run.max_ts, stamps.max().unwrap());
            let buffers = [record.clone()];
            let got = flatten(&request(&[(0, run)], &buffers));
            assert_eq!(got, batch_samples(&b));
            // The same samples as the sample-by-sample path sends.
            let prepared = prepare_record(&record, &PLAIN).unwrap();
            let mut body = Vec::new();
            encode_request(&prepared.items, &[], &prepared.buffers, &mut body);
            assert_eq!(
                flatten(&pb::WriteRequest::decode(body.as_slice()).unwrap()),
                got
            );
        }
    }

    #[test]
    fn records_with_more_than_plain_samples_are_read_sample_by_sample() {
        let plain = MetricsBatch {
            samples: vec![sample(&[("__name__", "a")], 1, 1.0)],
            ..Default::default()
        };
        assert!(read_run(&encode_record(&plain)).unwrap().is_some());

        let internal = MetricsBatch {
            samples: vec![sample(&[("__name__", "a"), ("__tmp", "x")], 1, 1.0)],
            ..Default::default()
        };
        let mut exemplar = plain.clone();
        exemplar.exemplars.push(Exemplar {
            series: labels(&[("__name__", "a")]),
            labels: labels(&[("trace_id", "t")]),
            timestamp_ms: 1,
            value: 1.0,
        });
        let mut metadata = plain.clone();
        metadata.metadata.push(Metadata {
            metric_family: "a".into(),
            kind: solder_core::signals::metrics::MetricType::Counter,
            help: "h".into(),
            unit: String::new(),
        });
        // A record from before sample blocks: a plain `WriteRequest`.
        let old = pb::WriteRequest {
            timeseries: vec![pb::TimeSeries {
                labels: vec![pb::Label {
                    name: "__name__".into(),
                    value: "a".into(),
                }],
                samples: vec![pb::Sample {
                    value: 1.0,
                    timestamp: 1,
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
        .encode_to_vec();
        for record in [
            encode_record(&internal),
            encode_record(&exemplar),
            encode_record(&metadata),
            encode_record(&MetricsBatch::default()),
            old,
        ] {
            assert_eq!(read_run(&record).unwrap(), None);
        }
    }

    #[test]
    fn splits_only_between_series_and_the_parts_make_the_whole() {
        let mut rng = Rng::new(99);
        let b = batch(&mut rng, 40);
        let record = Bytes::from(encode_record(&b));
        let buffers = [record.clone()];
        let run = read_run(&record).unwrap().unwrap();
        let whole = batch_samples(&b);
        let first_series = b
            .samples
            .iter()
            .take_while(|s| s.labels.ptr_eq(&b.samples[0].labels))
            .count();
        for n in 1..run.samples + 2 {
            let Some((head, tail)) = split_run(&run, &buffers, n).unwrap() else {
                assert!(n < first_series || n >= run.samples, "no cut at {n}");
                continue;
            };
            assert!(head.samples <= n && head.samples > 0 && tail.samples > 0);
            // The cut is at the last series boundary within `n`: one more series would not fit.
            assert!(head.samples + 3 > n);
            assert_eq!(head.samples + tail.samples, run.samples);
            assert_eq!(head.block.end, tail.block.start);
            let (h, t) = (
                flatten(&request(&[(0, head)], &buffers)),
                flatten(&request(&[(0, tail)], &buffers)),
            );
            assert_eq!(h.len(), head.samples);
            assert_eq!([h.clone(), t.clone()].concat(), whole);
            for (part, got) in [(head, h), (tail, t)] {
                assert_eq!(part.min_ts, got.iter().map(|s| s.1).min().unwrap());
                assert_eq!(part.max_ts, got.iter().map(|s| s.1).max().unwrap());
            }
        }
    }

    #[test]
    fn expanding_gives_the_items_of_the_sample_by_sample_path() {
        let mut rng = Rng::new(3);
        let b = batch(&mut rng, 25);
        let record = Bytes::from(encode_record(&b));
        let run = read_run(&record).unwrap().unwrap();
        let one = std::slice::from_ref(&record);
        let items = expand_run(&run, one).unwrap();
        assert_eq!(items, prepare_record(&record, &PLAIN).unwrap().items);
        // A tail of a cut run expands to the tail of the items.
        let (_, tail) = split_run(&run, one, 10).unwrap().unwrap();
        let tail_items = expand_run(&tail, one).unwrap();
        assert_eq!(tail_items[..], items[items.len() - tail.samples..]);
    }

    #[test]
    fn items_and_runs_keep_their_order_in_one_request() {
        let first = MetricsBatch {
            samples: vec![sample(&[("__name__", "a")], 1, 1.0)],
            ..Default::default()
        };
        let second = MetricsBatch {
            samples: vec![
                sample(&[("__name__", "b")], 2, 2.0),
                sample(&[("__name__", "c")], 3, 3.0),
            ],
            ..Default::default()
        };
        let (r1, r2) = (
            Bytes::from(encode_record(&first)),
            Bytes::from(encode_record(&second)),
        );
        let items = prepare_record(&r1, &PLAIN).unwrap().items;
        let run = read_run(&r2).unwrap().unwrap().rebased(1);
        let buffers = [r1, r2];
        let mut body = Vec::new();
        // item, run, item again.
        encode_request(&[items[0], items[0]], &[(1, run)], &buffers, &mut body);
        let got: Vec<_> = flatten(&pb::WriteRequest::decode(body.as_slice()).unwrap())
            .into_iter()
            .map(|(l, ts, _)| (l[0].1.clone(), ts))
            .collect();
        let want = [("a", 1), ("b", 2), ("c", 3), ("a", 1)];
        assert_eq!(got, want.map(|(n, t)| (n.to_string(), t)));
    }

    #[test]
    fn damaged_records_give_errors_not_panics() {
        let mut rng = Rng::new(11);
        let b = batch(&mut rng, 20);
        let good = encode_record(&b);
        // A block longer than the record.
        let mut short = good.clone();
        short.truncate(good.len() - 1);
        assert!(read_run(&short).is_err());
        for _ in 0..3000 {
            let mut bytes = good.clone();
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(bytes.len());
                bytes[i] = rng.next_u64() as u8;
            }
            let record = Bytes::from(bytes);
            if let Ok(Some(run)) = read_run(&record) {
                let buffers = [record.clone()];
                let _ = expand_run(&run, &buffers);
                let _ = split_run(&run, &buffers, 1 + rng.below(run.samples.max(1)));
            }
        }
    }

    #[test]
    fn a_series_with_more_samples_than_the_room_is_not_cut() {
        let l = labels(&[("__name__", "a")]);
        let b = MetricsBatch {
            samples: (0..5)
                .map(|t| Sample {
                    labels: l.clone(),
                    timestamp_ms: t,
                    value: 0.0,
                })
                .collect(),
            ..Default::default()
        };
        let record = Bytes::from(encode_record(&b));
        let run = read_run(&record).unwrap().unwrap();
        assert_eq!(
            split_run(&run, std::slice::from_ref(&record), 3).unwrap(),
            None
        );
        assert_eq!(expand_run(&run, &[record]).unwrap().len(), 5);
    }
}
