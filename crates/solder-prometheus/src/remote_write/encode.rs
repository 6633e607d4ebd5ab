//! Turning a batch of samples, exemplars and metadata into a remote-write 1.0 request body:
//! a `prometheus.WriteRequest` protobuf, compressed with the snappy *block* format.

use super::fast_hash::FastMap;
use solder_core::signals::metrics::{Exemplar, Labels, Metadata, MetricType, Sample};
use solder_proto::prometheus as pb;
use solder_proto::prost::Message;

/// Why a request could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// Snappy's block format has a 32-bit length limit; a request this large is a bug upstream
    /// (batches are bounded by `max_samples_per_send`).
    #[error("snappy compression failed: {0}")]
    Snappy(#[from] snap::Error),
    /// Only a fixed-size buffer can run out of room; kept typed rather than unwrapped.
    #[error("protobuf encoding failed: {0}")]
    Protobuf(#[from] solder_proto::prost::EncodeError),
}

/// Builds one `WriteRequest` from a batch.
///
/// Samples are grouped into one `TimeSeries` per label set, in order of first appearance, and
/// keep their relative order inside a series (receivers reject out-of-order samples). Labels
/// starting with `__` (other than `__name__`) are internal to the pipeline and are stripped;
/// `external_labels` are added to every series that does not already carry that label name.
/// Label lists stay sorted by name, as the protocol requires.
///
/// Exemplars go to the series whose labels they reference; an exemplar whose series has no
/// samples in this batch gets a series of its own with no samples (Prometheus does the same).
pub fn build_write_request(
    samples: &[Sample],
    exemplars: &[Exemplar],
    metadata: &[Metadata],
    external_labels: &[(String, String)],
) -> pb::WriteRequest {
    let mut external: Vec<(&str, &str)> = external_labels
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    external.sort_by(|a, b| a.0.cmp(b.0));
    external.dedup_by(|later, earlier| later.0 == earlier.0);

    let mut builder = SeriesBuilder {
        external,
        by_input: FastMap::default(),
        by_output: FastMap::default(),
        series: Vec::new(),
    };
    for s in samples {
        let idx = builder.series_index(&s.labels);
        builder.series[idx].samples.push(pb::Sample {
            value: s.value,
            timestamp: s.timestamp_ms,
        });
    }
    for e in exemplars {
        let idx = builder.series_index(&e.series);
        builder.series[idx].exemplars.push(pb::Exemplar {
            labels: e
                .labels
                .iter()
                .map(|(n, v)| pb::Label {
                    name: n.to_owned(),
                    value: v.to_owned(),
                })
                .collect(),
            value: e.value,
            timestamp: e.timestamp_ms,
        });
    }

    // The output label lists were kept as map keys (no copy per series); move them in place.
    let mut series = builder.series;
    for (labels, idx) in builder.by_output {
        series[idx].labels = labels;
    }
    pb::WriteRequest {
        timeseries: series,
        metadata: metadata.iter().map(metadata_to_proto).collect(),
    }
}

/// Maps input label sets to output series. Two input sets that differ only in stripped `__`
/// labels become the same output series, so lookups go input → output labels → index.
struct SeriesBuilder<'a> {
    external: Vec<(&'a str, &'a str)>,
    by_input: FastMap<&'a Labels, usize>,
    by_output: FastMap<Vec<pb::Label>, usize>,
    series: Vec<pb::TimeSeries>,
}

impl<'a> SeriesBuilder<'a> {
    fn series_index(&mut self, labels: &'a Labels) -> usize {
        if let Some(&idx) = self.by_input.get(labels) {
            return idx;
        }
        let out = output_labels(labels, &self.external);
        let idx = match self.by_output.get(&out) {
            Some(&idx) => idx,
            None => {
                let idx = self.series.len();
                // Labels are filled in from `by_output` at the end.
                self.series.push(pb::TimeSeries::default());
                self.by_output.insert(out, idx);
                idx
            }
        };
        self.by_input.insert(labels, idx);
        idx
    }
}

/// The label list sent for a series: internal labels stripped, external labels merged in
/// (series labels win), sorted by name. Both inputs are sorted, so this is a linear merge.
fn output_labels(labels: &Labels, external: &[(&str, &str)]) -> Vec<pb::Label> {
    let kept = labels
        .iter()
        .filter(|(n, _)| *n == "__name__" || !n.starts_with("__"));
    let mut out = Vec::with_capacity(labels.len() + external.len());
    let mut ext = external.iter().peekable();
    for (name, value) in kept {
        while let Some(&&(en, ev)) = ext.peek() {
            if en < name {
                out.push(label(en, ev));
                ext.next();
            } else {
                if en == name {
                    // The series already has this label: its own value wins.
                    ext.next();
                }
                break;
            }
        }
        out.push(label(name, value));
    }
    out.extend(ext.map(|&(n, v)| label(n, v)));
    out
}

fn label(name: &str, value: &str) -> pb::Label {
    pb::Label {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

fn metadata_to_proto(m: &Metadata) -> pb::MetricMetadata {
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

/// Reusable scratch space for encoding: senders encode many requests, and the protobuf buffer
/// and snappy hash table are worth keeping between them.
pub struct SnappyEncoder {
    proto: Vec<u8>,
    /// Snappy's output buffer, kept at the largest size needed so far: it must be
    /// initialised before compressing into it, and zeroing a fresh one per request cost
    /// more than the compression.
    compressed: Vec<u8>,
    snappy: snap::raw::Encoder,
}

impl Default for SnappyEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SnappyEncoder {
    pub fn new() -> Self {
        SnappyEncoder {
            proto: Vec::new(),
            compressed: Vec::new(),
            snappy: snap::raw::Encoder::new(),
        }
    }

    /// Encodes `req` as protobuf, snappy-compresses it (block format) into `out`, replacing
    /// `out`'s contents but keeping its allocation.
    pub fn encode(&mut self, req: &pb::WriteRequest, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.proto.clear();
        self.proto.reserve(req.encoded_len());
        req.encode(&mut self.proto)?;
        self.compress(out)
    }

    /// Like [`SnappyEncoder::encode`] for a request body written by `fill` (which gets the
    /// empty protobuf scratch buffer), returning the compressed request as `Bytes`: one copy
    /// out of the kept buffer, and a retry sends the same `Bytes` again.
    pub(crate) fn encode_to_bytes(
        &mut self,
        fill: impl FnOnce(&mut Vec<u8>),
    ) -> Result<bytes::Bytes, EncodeError> {
        self.proto.clear();
        fill(&mut self.proto);
        let n = self.compress_in_place()?;
        Ok(bytes::Bytes::copy_from_slice(
            self.compressed.get(..n).unwrap_or(&[]),
        ))
    }

    /// Compresses `proto` into `compressed`; returns the compressed length.
    fn compress_in_place(&mut self) -> Result<usize, EncodeError> {
        let max = snap::raw::max_compress_len(self.proto.len());
        if self.compressed.len() < max {
            self.compressed.resize(max, 0);
        }
        Ok(self.snappy.compress(&self.proto, &mut self.compressed)?)
    }

    fn compress(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let n = self.compress_in_place()?;
        out.clear();
        out.extend_from_slice(self.compressed.get(..n).unwrap_or(&[]));
        Ok(())
    }
}

/// One-off form of [`SnappyEncoder::encode`]: the protobuf scratch is allocated per call, `buf`
/// is reused.
pub fn encode_snappy(req: &pb::WriteRequest, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
    SnappyEncoder::new().encode(req, buf)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::testing::{labels, names, sample};
    use super::*;

    fn points(ts: &pb::TimeSeries) -> Vec<(i64, f64)> {
        ts.samples.iter().map(|s| (s.timestamp, s.value)).collect()
    }

    #[test]
    fn groups_by_series_in_first_seen_order_keeping_sample_order() {
        let a = [("__name__", "up"), ("job", "a")];
        let b = [("__name__", "up"), ("job", "b")];
        let req = build_write_request(
            &[
                sample(&b, 10, 1.0),
                sample(&a, 5, 2.0),
                sample(&b, 20, 3.0),
                sample(&a, 6, 4.0),
                sample(&b, 15, 5.0),
            ],
            &[],
            &[],
            &[],
        );
        assert_eq!(req.timeseries.len(), 2);
        assert_eq!(names(&req.timeseries[0]), b.to_vec());
        // Order within a series is the input order, not sorted by timestamp.
        assert_eq!(
            points(&req.timeseries[0]),
            vec![(10, 1.0), (20, 3.0), (15, 5.0)]
        );
        assert_eq!(names(&req.timeseries[1]), a.to_vec());
        assert_eq!(points(&req.timeseries[1]), vec![(5, 2.0), (6, 4.0)]);
        assert!(req.metadata.is_empty());
    }

    #[test]
    fn strips_internal_labels_and_merges_series_that_become_equal() {
        let req = build_write_request(
            &[
                sample(
                    &[
                        ("__name__", "m"),
                        ("__tmp", "x"),
                        ("a", "1"),
                        ("__address__", "h"),
                    ],
                    1,
                    1.0,
                ),
                sample(&[("__name__", "m"), ("__tmp", "y"), ("a", "1")], 2, 2.0),
            ],
            &[],
            &[],
            &[],
        );
        assert_eq!(req.timeseries.len(), 1);
        assert_eq!(
            names(&req.timeseries[0]),
            vec![("__name__", "m"), ("a", "1")]
        );
        assert_eq!(points(&req.timeseries[0]), vec![(1, 1.0), (2, 2.0)]);
    }

    #[test]
    fn external_labels_added_sorted_and_series_value_wins() {
        let ext = vec![
            ("zone".to_string(), "z1".to_string()),
            ("cluster".to_string(), "prod".to_string()),
            ("job".to_string(), "ext".to_string()),
            ("a".to_string(), "first".to_string()),
        ];
        let req = build_write_request(
            &[sample(&[("__name__", "m"), ("job", "own")], 1, 1.0)],
            &[],
            &[],
            &ext,
        );
        assert_eq!(
            names(&req.timeseries[0]),
            vec![
                ("__name__", "m"),
                ("a", "first"),
                ("cluster", "prod"),
                ("job", "own"),
                ("zone", "z1"),
            ]
        );
    }

    #[test]
    fn external_labels_on_empty_label_set() {
        let ext = vec![
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "1".to_string()),
        ];
        let req = build_write_request(&[sample(&[("__x", "y")], 1, 1.0)], &[], &[], &ext);
        assert_eq!(names(&req.timeseries[0]), vec![("a", "1"), ("b", "2")]);
    }

    #[test]
    fn exemplars_attach_to_their_series_or_get_their_own() {
        let s = [("__name__", "h_bucket"), ("le", "1")];
        let other = [("__name__", "h_bucket"), ("le", "2")];
        let req = build_write_request(
            &[sample(&s, 1, 1.0)],
            &[
                Exemplar {
                    series: labels(&s),
                    labels: labels(&[("trace_id", "abc")]),
                    timestamp_ms: 7,
                    value: 0.5,
                },
                Exemplar {
                    series: labels(&other),
                    labels: labels(&[("trace_id", "def")]),
                    timestamp_ms: 8,
                    value: 1.5,
                },
            ],
            &[],
            &[],
        );
        assert_eq!(req.timeseries.len(), 2);
        let first = &req.timeseries[0];
        assert_eq!(first.exemplars.len(), 1);
        assert_eq!(first.exemplars[0].labels[0].name, "trace_id");
        assert_eq!(first.exemplars[0].labels[0].value, "abc");
        assert_eq!(first.exemplars[0].timestamp, 7);
        assert_eq!(first.exemplars[0].value, 0.5);
        let second = &req.timeseries[1];
        assert_eq!(names(second), other.to_vec());
        assert!(second.samples.is_empty());
        assert_eq!(second.exemplars[0].value, 1.5);
    }

    #[test]
    fn metadata_types_map_to_wire_numbers() {
        let kinds = [
            (MetricType::Unknown, 0),
            (MetricType::Counter, 1),
            (MetricType::Gauge, 2),
            (MetricType::Histogram, 3),
            (MetricType::GaugeHistogram, 4),
            (MetricType::Summary, 5),
            (MetricType::Info, 6),
            (MetricType::StateSet, 7),
        ];
        let md: Vec<Metadata> = kinds
            .iter()
            .map(|(k, _)| Metadata {
                metric_family: format!("f{k:?}"),
                kind: *k,
                help: "h".into(),
                unit: "seconds".into(),
            })
            .collect();
        let req = build_write_request(&[], &[], &md, &[]);
        assert!(req.timeseries.is_empty());
        for (m, (k, wire)) in req.metadata.iter().zip(kinds) {
            assert_eq!(m.r#type, wire);
            assert_eq!(m.metric_family_name, format!("f{k:?}"));
            assert_eq!(m.help, "h");
            assert_eq!(m.unit, "seconds");
        }
    }

    #[test]
    fn snappy_round_trip_decodes_to_same_request_and_reuses_buffer() {
        let req = build_write_request(
            &[
                sample(&[("__name__", "a"), ("x", "1")], 100, 1.25),
                sample(&[("__name__", "a"), ("x", "1")], 200, f64::INFINITY),
            ],
            &[],
            &[Metadata {
                metric_family: "a".into(),
                kind: MetricType::Gauge,
                help: "help".into(),
                unit: String::new(),
            }],
            &[("c".to_string(), "d".to_string())],
        );
        let mut enc = SnappyEncoder::new();
        let mut buf = Vec::new();
        enc.encode(&req, &mut buf).unwrap();
        let raw = snap::raw::Decoder::new().decompress_vec(&buf).unwrap();
        assert_eq!(raw, req.encode_to_vec());
        let back = pb::WriteRequest::decode(raw.as_slice()).unwrap();
        assert_eq!(back, req);

        // A second, smaller request into the same buffer replaces the contents entirely.
        let small = build_write_request(&[sample(&[("n", "v")], 1, 0.0)], &[], &[], &[]);
        let cap = buf.capacity();
        enc.encode(&small, &mut buf).unwrap();
        assert_eq!(buf.capacity(), cap);
        let raw = snap::raw::Decoder::new().decompress_vec(&buf).unwrap();
        assert_eq!(pb::WriteRequest::decode(raw.as_slice()).unwrap(), small);

        let mut buf2 = Vec::new();
        encode_snappy(&small, &mut buf2).unwrap();
        assert_eq!(buf2, buf);
    }
}
