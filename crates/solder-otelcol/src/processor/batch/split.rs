//! Cutting an encoded export request into a head of exactly `n` items and the rest.
//!
//! Whole resource entries are moved as bytes ([`crate::wire::resource_entries`]); only the one
//! entry that straddles the cut is decoded, split item by item (spans, data points, log records,
//! like the Collector's `splitTraces`/`splitMetrics`/`splitLogs`) and re-encoded.

use crate::wire::{count_items, resource_entries, WireError};
use bytes::{Bytes, BytesMut};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{metric, Metric, ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;
use solder_core::signals::otlp::Signal;

#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("malformed OTLP request: {0}")]
    Wire(#[from] WireError),
    #[error("cannot decode OTLP request: {0}")]
    Decode(#[from] prost::DecodeError),
}

/// An encoded request and its item count.
pub type Part = (Bytes, u64);

/// One resource entry split in two (either side may be empty), and the items moved to the head.
type EntrySplit<R> = (Option<R>, Option<R>, u64);

/// `encoded` cut into a head holding `n` items (fewer only if the request has fewer) and the
/// rest, each a valid request of `signal`, with their item counts.
pub fn split_request(signal: Signal, encoded: &Bytes, n: u64) -> Result<(Part, Part), SplitError> {
    let mut head = BytesMut::new();
    let mut tail = BytesMut::new();
    let (mut head_items, mut tail_items) = (0u64, 0u64);
    for range in resource_entries(encoded)? {
        let entry = encoded.slice(range);
        let count = count_items(signal, &entry)?;
        let room = n - head_items;
        if room == 0 {
            tail.extend_from_slice(&entry);
            tail_items += count;
        } else if count <= room {
            head.extend_from_slice(&entry);
            head_items += count;
        } else {
            let (left, right) = split_entry(signal, &entry, room)?;
            head.extend_from_slice(&left);
            tail.extend_from_slice(&right);
            head_items += room;
            tail_items += count - room;
        }
    }
    Ok(((head.freeze(), head_items), (tail.freeze(), tail_items)))
}

/// Split one resource entry (itself a valid one-entry request) after `n` items.
fn split_entry(signal: Signal, entry: &[u8], n: u64) -> Result<(Vec<u8>, Vec<u8>), SplitError> {
    if matches!(signal, Signal::Traces | Signal::Logs) {
        if let Some(parts) = split_entry_bytes(entry, n)? {
            return Ok(parts);
        }
    }
    split_entry_decoded(signal, entry, n)
}

/// The encoded head and tail of a split resource entry.
type Halves = (Vec<u8>, Vec<u8>);

/// Appends a length-delimited field `number` holding `payload`.
fn put_len_field(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    prost::encoding::encode_key(number, prost::encoding::WireType::LengthDelimited, out);
    prost::encoding::encode_varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// [`split_entry_decoded`] for spans and log records (the items of field 2 of a scope entry,
/// itself field 2 of the resource entry), done on the bytes: item encodings are copied, not
/// decoded and re-encoded, which costs a fraction of a prost round trip of the whole entry.
///
/// The two halves decode (with prost) to exactly what the decoding split produces: the same
/// scope entries cut at the same item, empty scope entries before the cut going to the head,
/// and the resource's and each cut scope's other fields (resource, scope, schema_url) repeated
/// on both sides. Those other fields are copied in their original order ahead of the entries,
/// which decodes the same since they are not repeated fields; unknown fields survive here
/// where the decoding split drops them, as everywhere else on the pass-through path.
///
/// `None` when the entry is not shaped as expected (the caller then decodes).
fn split_entry_bytes(entry: &[u8], n: u64) -> Result<Option<Halves>, WireError> {
    use crate::wire::raw_fields;
    let mut top = raw_fields(entry, 0..entry.len());
    let resource = match (top.next(), top.next()) {
        (Some(f), None) => f?,
        _ => return Ok(None),
    };
    if resource.number != 1 || !resource.is_len {
        return Ok(None);
    }
    let mut resource_other = Vec::new();
    let (mut head_scopes, mut tail_scopes) = (Vec::new(), Vec::new());
    let (mut head_count, mut tail_count) = (0usize, 0usize);
    let mut left = n;
    for f in raw_fields(entry, resource.value) {
        let f = f?;
        if f.number != 2 {
            resource_other.extend_from_slice(&entry[f.whole]);
            continue;
        }
        if !f.is_len {
            return Ok(None);
        }
        if left == 0 {
            put_len_field(&mut tail_scopes, 2, &entry[f.value]);
            tail_count += 1;
            continue;
        }
        let mut scope_other = Vec::new();
        let (mut head_items, mut tail_items) = (Vec::new(), Vec::new());
        for g in raw_fields(entry, f.value.clone()) {
            let g = g?;
            if g.number != 2 {
                scope_other.extend_from_slice(&entry[g.whole]);
            } else if !g.is_len {
                return Ok(None);
            } else if left > 0 {
                head_items.push(g.whole);
                left -= 1;
            } else {
                tail_items.push(g.whole);
            }
        }
        let scope = |items: &[std::ops::Range<usize>]| {
            let mut out = scope_other.clone();
            for r in items {
                out.extend_from_slice(&entry[r.clone()]);
            }
            out
        };
        put_len_field(&mut head_scopes, 2, &scope(&head_items));
        head_count += 1;
        if !tail_items.is_empty() {
            put_len_field(&mut tail_scopes, 2, &scope(&tail_items));
            tail_count += 1;
        }
    }
    let wrap = |count: usize, scopes: &[u8]| {
        let mut out = Vec::new();
        if count > 0 {
            let mut body = resource_other.clone();
            body.extend_from_slice(scopes);
            put_len_field(&mut out, 1, &body);
        }
        out
    };
    Ok(Some((
        wrap(head_count, &head_scopes),
        wrap(tail_count, &tail_scopes),
    )))
}

/// Split one resource entry by decoding it, cutting the item lists and re-encoding.
fn split_entry_decoded(
    signal: Signal,
    entry: &[u8],
    n: u64,
) -> Result<(Vec<u8>, Vec<u8>), SplitError> {
    Ok(match signal {
        Signal::Traces => {
            let req = ExportTraceServiceRequest::decode(entry)?;
            let (l, r) = split_resources(req.resource_spans, n, split_resource_spans);
            (
                ExportTraceServiceRequest { resource_spans: l }.encode_to_vec(),
                ExportTraceServiceRequest { resource_spans: r }.encode_to_vec(),
            )
        }
        Signal::Logs => {
            let req = ExportLogsServiceRequest::decode(entry)?;
            let (l, r) = split_resources(req.resource_logs, n, split_resource_logs);
            (
                ExportLogsServiceRequest { resource_logs: l }.encode_to_vec(),
                ExportLogsServiceRequest { resource_logs: r }.encode_to_vec(),
            )
        }
        Signal::Metrics => {
            let req = ExportMetricsServiceRequest::decode(entry)?;
            let (l, r) = split_resources(req.resource_metrics, n, split_resource_metrics);
            (
                ExportMetricsServiceRequest {
                    resource_metrics: l,
                }
                .encode_to_vec(),
                ExportMetricsServiceRequest {
                    resource_metrics: r,
                }
                .encode_to_vec(),
            )
        }
    })
}

/// Split a list of resource entries after `n` items, given how to split one entry. The split
/// function returns (head, tail, items moved to the head).
fn split_resources<R>(
    resources: Vec<R>,
    n: u64,
    split_one: fn(R, u64) -> EntrySplit<R>,
) -> (Vec<R>, Vec<R>) {
    let mut left = Vec::new();
    let mut right = Vec::new();
    let mut room = n;
    for r in resources {
        if room == 0 {
            right.push(r);
            continue;
        }
        let (l, rest, moved) = split_one(r, room);
        room -= moved;
        left.extend(l);
        right.extend(rest);
    }
    (left, right)
}

/// Moves up to `room` items from the front of `items` into a new vector.
fn take_front<T>(items: &mut Vec<T>, room: u64) -> Vec<T> {
    let k = usize::try_from(room).unwrap_or(usize::MAX).min(items.len());
    let rest = items.split_off(k);
    std::mem::replace(items, rest)
}

fn split_resource_spans(mut r: ResourceSpans, room: u64) -> EntrySplit<ResourceSpans> {
    let scopes = std::mem::take(&mut r.scope_spans);
    let mut head = Vec::new();
    let mut tail = Vec::new();
    let mut left = room;
    for mut s in scopes {
        if left == 0 {
            tail.push(s);
            continue;
        }
        let taken = take_front(&mut s.spans, left);
        left -= taken.len() as u64;
        head.push(ScopeSpans {
            scope: s.scope.clone(),
            spans: taken,
            schema_url: s.schema_url.clone(),
        });
        if !s.spans.is_empty() {
            tail.push(s);
        }
    }
    let moved = room - left;
    let head = (!head.is_empty()).then(|| ResourceSpans {
        resource: r.resource.clone(),
        scope_spans: head,
        schema_url: r.schema_url.clone(),
    });
    let tail = (!tail.is_empty()).then_some(ResourceSpans {
        scope_spans: tail,
        ..r
    });
    (head, tail, moved)
}

fn split_resource_logs(mut r: ResourceLogs, room: u64) -> EntrySplit<ResourceLogs> {
    let scopes = std::mem::take(&mut r.scope_logs);
    let mut head = Vec::new();
    let mut tail = Vec::new();
    let mut left = room;
    for mut s in scopes {
        if left == 0 {
            tail.push(s);
            continue;
        }
        let taken = take_front(&mut s.log_records, left);
        left -= taken.len() as u64;
        head.push(ScopeLogs {
            scope: s.scope.clone(),
            log_records: taken,
            schema_url: s.schema_url.clone(),
        });
        if !s.log_records.is_empty() {
            tail.push(s);
        }
    }
    let moved = room - left;
    let head = (!head.is_empty()).then(|| ResourceLogs {
        resource: r.resource.clone(),
        scope_logs: head,
        schema_url: r.schema_url.clone(),
    });
    let tail = (!tail.is_empty()).then_some(ResourceLogs {
        scope_logs: tail,
        ..r
    });
    (head, tail, moved)
}

fn split_resource_metrics(mut r: ResourceMetrics, room: u64) -> EntrySplit<ResourceMetrics> {
    let scopes = std::mem::take(&mut r.scope_metrics);
    let mut head = Vec::new();
    let mut tail = Vec::new();
    let mut left = room;
    for mut s in scopes {
        if left == 0 {
            tail.push(s);
            continue;
        }
        let metrics = std::mem::take(&mut s.metrics);
        let mut head_metrics = Vec::new();
        let mut tail_metrics = Vec::new();
        for mut m in metrics {
            if left == 0 {
                tail_metrics.push(m);
                continue;
            }
            let taken = take_points(&mut m, left);
            left -= data_point_count(&taken);
            head_metrics.push(taken);
            if data_point_count(&m) > 0 {
                tail_metrics.push(m);
            }
        }
        head.push(ScopeMetrics {
            scope: s.scope.clone(),
            metrics: head_metrics,
            schema_url: s.schema_url.clone(),
        });
        if !tail_metrics.is_empty() {
            s.metrics = tail_metrics;
            tail.push(s);
        }
    }
    let moved = room - left;
    let head = (!head.is_empty()).then(|| ResourceMetrics {
        resource: r.resource.clone(),
        scope_metrics: head,
        schema_url: r.schema_url.clone(),
    });
    let tail = (!tail.is_empty()).then_some(ResourceMetrics {
        scope_metrics: tail,
        ..r
    });
    (head, tail, moved)
}

fn data_point_count(m: &Metric) -> u64 {
    use metric::Data;
    (match &m.data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }) as u64
}

/// A copy of `m` holding its first `room` data points, which are removed from `m`. A metric
/// without data points moves whole (it counts as no items).
fn take_points(m: &mut Metric, room: u64) -> Metric {
    use metric::Data;
    let mut head = Metric {
        name: m.name.clone(),
        description: m.description.clone(),
        unit: m.unit.clone(),
        metadata: m.metadata.clone(),
        data: None,
    };
    head.data = match &mut m.data {
        Some(Data::Gauge(g)) => Some(Data::Gauge(
            opentelemetry_proto::tonic::metrics::v1::Gauge {
                data_points: take_front(&mut g.data_points, room),
            },
        )),
        Some(Data::Sum(s)) => Some(Data::Sum(opentelemetry_proto::tonic::metrics::v1::Sum {
            data_points: take_front(&mut s.data_points, room),
            aggregation_temporality: s.aggregation_temporality,
            is_monotonic: s.is_monotonic,
        })),
        Some(Data::Histogram(h)) => Some(Data::Histogram(
            opentelemetry_proto::tonic::metrics::v1::Histogram {
                data_points: take_front(&mut h.data_points, room),
                aggregation_temporality: h.aggregation_temporality,
            },
        )),
        Some(Data::ExponentialHistogram(h)) => Some(Data::ExponentialHistogram(
            opentelemetry_proto::tonic::metrics::v1::ExponentialHistogram {
                data_points: take_front(&mut h.data_points, room),
                aggregation_temporality: h.aggregation_temporality,
            },
        )),
        Some(Data::Summary(s)) => Some(Data::Summary(
            opentelemetry_proto::tonic::metrics::v1::Summary {
                data_points: take_front(&mut s.data_points, room),
            },
        )),
        None => m.data.take(),
    };
    head
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::metrics::v1::{Gauge, NumberDataPoint, Sum};
    use opentelemetry_proto::tonic::trace::v1::Span;

    fn spans_req(shape: &[&[usize]]) -> ExportTraceServiceRequest {
        let mut id = 0;
        ExportTraceServiceRequest {
            resource_spans: shape
                .iter()
                .map(|scopes| ResourceSpans {
                    scope_spans: scopes
                        .iter()
                        .map(|&k| ScopeSpans {
                            spans: (0..k)
                                .map(|_| {
                                    id += 1;
                                    Span {
                                        name: format!("s{id}"),
                                        ..Default::default()
                                    }
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    fn names(b: &Bytes) -> Vec<String> {
        ExportTraceServiceRequest::decode(b.clone())
            .unwrap()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|s| s.name.clone())
            .collect()
    }

    #[test]
    fn cuts_at_every_position_and_keeps_order() {
        let req = spans_req(&[&[2, 3], &[1], &[4]]);
        let encoded = Bytes::from(req.encode_to_vec());
        let all: Vec<String> = (1..=10).map(|i| format!("s{i}")).collect();
        for n in 0..=11u64 {
            let ((h, hn), (t, tn)) = split_request(Signal::Traces, &encoded, n).unwrap();
            let k = n.min(10) as usize;
            assert_eq!(names(&h), all[..k], "head at {n}");
            assert_eq!(names(&t), all[k..], "tail at {n}");
            assert_eq!((hn, tn), (k as u64, 10 - k as u64));
            assert_eq!(count_items(Signal::Traces, &h).unwrap(), hn);
            assert_eq!(count_items(Signal::Traces, &t).unwrap(), tn);
        }
    }

    #[test]
    fn whole_entries_move_as_bytes() {
        let req = spans_req(&[&[2], &[3]]);
        let encoded = Bytes::from(req.encode_to_vec());
        let ((h, _), (t, _)) = split_request(Signal::Traces, &encoded, 2).unwrap();
        // The cut falls on an entry boundary: both halves are the original bytes.
        let mut joined = h.to_vec();
        joined.extend_from_slice(&t);
        assert_eq!(joined, encoded.to_vec());
    }

    #[test]
    fn metric_data_points_split_inside_a_metric() {
        let points = |k: u64| -> Vec<NumberDataPoint> {
            (0..k)
                .map(|i| NumberDataPoint {
                    time_unix_nano: i,
                    ..Default::default()
                })
                .collect()
        };
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        Metric {
                            name: "g".into(),
                            data: Some(metric::Data::Gauge(Gauge {
                                data_points: points(3),
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "s".into(),
                            unit: "1".into(),
                            data: Some(metric::Data::Sum(Sum {
                                data_points: points(4),
                                aggregation_temporality: 2,
                                is_monotonic: true,
                            })),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let encoded = Bytes::from(req.encode_to_vec());
        let ((h, hn), (t, tn)) = split_request(Signal::Metrics, &encoded, 5).unwrap();
        assert_eq!((hn, tn), (5, 2));
        let head = ExportMetricsServiceRequest::decode(h).unwrap();
        let tail = ExportMetricsServiceRequest::decode(t).unwrap();
        let hm = &head.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(hm.len(), 2);
        assert_eq!(data_point_count(&hm[0]), 3);
        assert_eq!(data_point_count(&hm[1]), 2);
        let tm = &tail.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(tm.len(), 1);
        assert_eq!(tm[0].name, "s");
        assert_eq!(tm[0].unit, "1");
        match &tm[0].data {
            Some(metric::Data::Sum(s)) => {
                assert!(s.is_monotonic);
                assert_eq!(s.aggregation_temporality, 2);
                assert_eq!(s.data_points[0].time_unix_nano, 2);
            }
            other => panic!("{other:?}"),
        }
    }

    /// A traces request with resource and scope fields set, empty scope entries, and an
    /// unknown field in a scope entry, as one resource entry per element of `shape`.
    fn rich_traces(shape: &[&[usize]]) -> Vec<u8> {
        use opentelemetry_proto::tonic::common::v1::{
            any_value, AnyValue, InstrumentationScope, KeyValue,
        };
        use opentelemetry_proto::tonic::resource::v1::Resource;
        let mut req = spans_req(shape);
        for (i, r) in req.resource_spans.iter_mut().enumerate() {
            r.resource = Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(format!("svc{i}"))),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            });
            r.schema_url = format!("https://schema/{i}");
            for (j, sc) in r.scope_spans.iter_mut().enumerate() {
                sc.scope = Some(InstrumentationScope {
                    name: format!("lib{j}"),
                    ..Default::default()
                });
                sc.schema_url = format!("https://scope/{j}");
            }
        }
        req.encode_to_vec()
    }

    fn rich_logs(shape: &[&[usize]]) -> Vec<u8> {
        use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
        use opentelemetry_proto::tonic::logs::v1::LogRecord;
        ExportLogsServiceRequest {
            resource_logs: shape
                .iter()
                .enumerate()
                .map(|(i, scopes)| ResourceLogs {
                    schema_url: format!("r{i}"),
                    scope_logs: scopes
                        .iter()
                        .enumerate()
                        .map(|(j, &k)| ScopeLogs {
                            scope: Some(InstrumentationScope {
                                name: format!("lib{j}"),
                                ..Default::default()
                            }),
                            log_records: (0..k)
                                .map(|x| LogRecord {
                                    time_unix_nano: (i * 100 + j * 10 + x) as u64,
                                    ..Default::default()
                                })
                                .collect(),
                            schema_url: format!("s{j}"),
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
        }
        .encode_to_vec()
    }

    #[test]
    fn byte_split_decodes_exactly_as_the_decoding_split() {
        // Every cut of every resource entry: the halves made on the bytes must decode to the
        // same messages as the halves made by decoding, re-encoding with prost.
        let shapes: &[&[usize]] = &[&[3], &[0, 2, 0, 3], &[1, 0], &[4, 4, 1]];
        for &shape in shapes {
            for (signal, bytes) in [
                (Signal::Traces, rich_traces(&[shape])),
                (Signal::Logs, rich_logs(&[shape])),
            ] {
                let total = count_items(signal, &bytes).unwrap();
                for n in 1..total {
                    let fast = split_entry_bytes(&bytes, n).unwrap().unwrap();
                    let slow = split_entry_decoded(signal, &bytes, n).unwrap();
                    for (f, s) in [(&fast.0, &slow.0), (&fast.1, &slow.1)] {
                        match signal {
                            Signal::Traces => assert_eq!(
                                ExportTraceServiceRequest::decode(f.as_slice()).unwrap(),
                                ExportTraceServiceRequest::decode(s.as_slice()).unwrap(),
                                "{shape:?} n={n}"
                            ),
                            _ => assert_eq!(
                                ExportLogsServiceRequest::decode(f.as_slice()).unwrap(),
                                ExportLogsServiceRequest::decode(s.as_slice()).unwrap(),
                                "{shape:?} n={n}"
                            ),
                        }
                    }
                    assert_eq!(count_items(signal, &fast.0).unwrap(), n);
                    assert_eq!(count_items(signal, &fast.1).unwrap(), total - n);
                }
            }
        }
    }

    #[test]
    fn byte_split_keeps_unknown_fields_and_declines_odd_shapes() {
        let mut bytes = rich_traces(&[&[2]]);
        // Two entries are not one entry: left to the decoding split.
        let two = [bytes.clone(), bytes.clone()].concat();
        assert!(split_entry_bytes(&two, 1).unwrap().is_none());
        // An unknown varint field (number 99) inside the resource entry is carried along.
        let mut body = Vec::new();
        let top: Vec<_> = crate::wire::raw_fields(&bytes, 0..bytes.len())
            .map(|f| f.unwrap())
            .collect();
        body.extend_from_slice(&bytes[top[0].value.clone()]);
        prost::encoding::encode_key(99, prost::encoding::WireType::Varint, &mut body);
        prost::encoding::encode_varint(7, &mut body);
        bytes.clear();
        put_len_field(&mut bytes, 1, &body);
        let (head, tail) = split_entry_bytes(&bytes, 1).unwrap().unwrap();
        for half in [&head, &tail] {
            assert_eq!(count_items(Signal::Traces, half).unwrap(), 1);
            assert!(half.windows(2).any(|w| w == [0x98, 0x06]), "field 99 kept");
        }
    }
}
