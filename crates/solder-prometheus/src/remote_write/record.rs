//! The payload of one WAL (queue) record: an appended batch, stored as an *uncompressed*
//! `prometheus.WriteRequest` with the labels exactly as received (internal `__` labels kept,
//! no external labels), so relabeling and external labels are applied at send time with the
//! configuration in force then. Protobuf is used because it is already a dependency, is
//! versioned by field numbers, and needs no second hand-written format.

use super::fast_hash::FastMap;
use solder_core::signals::metrics::{Exemplar, Labels, Metadata, MetricType, MetricsBatch, Sample};
use solder_proto::prometheus as pb;
use solder_proto::prost::Message;

/// Why a record could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("corrupt remote_write WAL record: {0}")]
pub struct RecordError(#[from] solder_proto::prost::DecodeError);

/// Encodes a batch. Samples and exemplars of one series share a `TimeSeries`, in order.
pub fn encode_record(batch: &MetricsBatch) -> Vec<u8> {
    let mut index: FastMap<&Labels, usize> = FastMap::default();
    let mut series: Vec<pb::TimeSeries> = Vec::new();
    for s in &batch.samples {
        let i = series_slot(&mut index, &mut series, &s.labels);
        series[i].samples.push(pb::Sample {
            value: s.value,
            timestamp: s.timestamp_ms,
        });
    }
    for e in &batch.exemplars {
        let i = series_slot(&mut index, &mut series, &e.series);
        series[i].exemplars.push(pb::Exemplar {
            labels: to_pb_labels(&e.labels),
            value: e.value,
            timestamp: e.timestamp_ms,
        });
    }
    let req = pb::WriteRequest {
        timeseries: series,
        metadata: batch.metadata.iter().map(metadata_to_pb).collect(),
    };
    req.encode_to_vec()
}

/// Decodes a record written by [`encode_record`].
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

fn to_pb_labels(labels: &Labels) -> Vec<pb::Label> {
    labels
        .iter()
        .map(|(n, v)| pb::Label {
            name: n.to_owned(),
            value: v.to_owned(),
        })
        .collect()
}

fn series_slot<'a>(
    index: &mut FastMap<&'a Labels, usize>,
    series: &mut Vec<pb::TimeSeries>,
    labels: &'a Labels,
) -> usize {
    *index.entry(labels).or_insert_with(|| {
        series.push(pb::TimeSeries {
            labels: to_pb_labels(labels),
            ..Default::default()
        });
        series.len() - 1
    })
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
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

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
        let back = decode_record(&encode_record(&batch)).unwrap();
        // Grouped by series, order kept within each series.
        let got: Vec<_> = back
            .samples
            .iter()
            .map(|s| (s.labels.clone(), s.timestamp_ms, s.value))
            .collect();
        assert_eq!(
            got,
            vec![(a.clone(), 1, 1.0), (a, 2, 3.0), (b.clone(), 1, 2.0)]
        );
        assert_eq!(back.exemplars, batch.exemplars);
        assert_eq!(back.metadata, batch.metadata);
        assert!(decode_record(&[0xff, 0xff, 0xff]).is_err());
    }
}
