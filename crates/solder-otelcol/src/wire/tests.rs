use super::*;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn span(name: &str) -> Span {
    Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: name.into(),
        kind: 2,
        start_time_unix_nano: 1,
        end_time_unix_nano: 2,
        attributes: vec![kv("a", "b")],
        events: vec![span::Event {
            name: "e".into(),
            ..Default::default()
        }],
        status: Some(Status {
            code: 1,
            message: String::new(),
        }),
        flags: 1,
        ..Default::default()
    }
}

/// `resources` resource entries each with scopes of the given span counts.
pub(crate) fn traces(resources: &[&[usize]]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: resources
            .iter()
            .map(|scopes| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", "svc")],
                    ..Default::default()
                }),
                scope_spans: scopes
                    .iter()
                    .map(|n| ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: "lib".into(),
                            ..Default::default()
                        }),
                        spans: (0..*n).map(|i| span(&format!("s{i}"))).collect(),
                        schema_url: "u".into(),
                    })
                    .collect(),
                schema_url: String::new(),
            })
            .collect(),
    }
}

fn number_points(n: usize) -> Vec<NumberDataPoint> {
    (0..n)
        .map(|i| NumberDataPoint {
            attributes: vec![kv("k", "v")],
            time_unix_nano: 5,
            value: Some(number_data_point::Value::AsInt(i as i64)),
            ..Default::default()
        })
        .collect()
}

fn metrics_all_types() -> ExportMetricsServiceRequest {
    let metrics = vec![
        Metric {
            name: "g".into(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: number_points(2),
            })),
            ..Default::default()
        },
        Metric {
            name: "s".into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: number_points(3),
                aggregation_temporality: 2,
                is_monotonic: true,
            })),
            ..Default::default()
        },
        Metric {
            name: "h".into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: vec![
                    HistogramDataPoint {
                        count: 3,
                        bucket_counts: vec![1, 2],
                        explicit_bounds: vec![1.0],
                        sum: Some(2.0),
                        min: Some(0.5),
                        ..Default::default()
                    };
                    4
                ],
                aggregation_temporality: 1,
            })),
            ..Default::default()
        },
        Metric {
            name: "e".into(),
            data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![
                    ExponentialHistogramDataPoint {
                        scale: -3,
                        count: 1,
                        zero_threshold: 0.1,
                        ..Default::default()
                    };
                    5
                ],
                aggregation_temporality: 2,
            })),
            ..Default::default()
        },
        Metric {
            name: "q".into(),
            data: Some(metric::Data::Summary(Summary {
                data_points: vec![SummaryDataPoint::default(); 6],
            })),
            ..Default::default()
        },
        // A metric without data has no points.
        Metric {
            name: "empty".into(),
            ..Default::default()
        },
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: None,
            scope_metrics: vec![
                ScopeMetrics {
                    metrics,
                    ..Default::default()
                },
                ScopeMetrics::default(),
            ],
            schema_url: String::new(),
        }],
    }
}

fn logs(n: usize) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: (0..n)
                    .map(|i| LogRecord {
                        time_unix_nano: 1,
                        observed_time_unix_nano: 2,
                        severity_number: 9,
                        severity_text: "INFO".into(),
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(format!("line {i}"))),
                        }),
                        flags: 1,
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        event_name: "ev".into(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[test]
fn counts_spans_across_resources_and_scopes() {
    let cases: &[(&[&[usize]], u64)] = &[
        (&[], 0),
        (&[&[]], 0),
        (&[&[0]], 0),
        (&[&[1]], 1),
        (&[&[3, 4]], 7),
        (&[&[3], &[2, 2], &[0]], 7),
    ];
    for (shape, want) in cases {
        let bytes = traces(shape).encode_to_vec();
        assert_eq!(count_items(Signal::Traces, &bytes), Ok(*want), "{shape:?}");
        assert_eq!(count_validated_items(Signal::Traces, &bytes), Ok(*want));
    }
}

#[test]
fn counts_points_of_every_metric_type() {
    let bytes = metrics_all_types().encode_to_vec();
    assert_eq!(count_items(Signal::Metrics, &bytes), Ok(2 + 3 + 4 + 5 + 6));
    assert_eq!(
        count_validated_items(Signal::Metrics, &bytes),
        Ok(2 + 3 + 4 + 5 + 6)
    );
}

#[test]
fn counts_log_records() {
    for n in [0, 1, 17] {
        let bytes = logs(n).encode_to_vec();
        assert_eq!(count_items(Signal::Logs, &bytes), Ok(n as u64));
        assert_eq!(count_validated_items(Signal::Logs, &bytes), Ok(n as u64));
    }
}

#[test]
fn oneof_replacement_counts_only_the_last_variant() {
    // Metric with a gauge of 2 points followed by a sum of 3 points: prost keeps the sum.
    let gauge = Metric {
        data: Some(metric::Data::Gauge(Gauge {
            data_points: number_points(2),
        })),
        ..Default::default()
    };
    let sum = Metric {
        data: Some(metric::Data::Sum(Sum {
            data_points: number_points(3),
            ..Default::default()
        })),
        ..Default::default()
    };
    let mut metric_bytes = gauge.encode_to_vec();
    metric_bytes.extend(sum.encode_to_vec());
    let decoded = Metric::decode(metric_bytes.as_slice()).unwrap();
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![decoded],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    // Re-encode by hand with the concatenated metric to exercise the walker's oneof rule.
    let mut scope = Vec::new();
    prost::encoding::bytes::encode(2, &metric_bytes, &mut scope);
    let mut rm = Vec::new();
    prost::encoding::bytes::encode(2, &scope, &mut rm);
    let mut request = Vec::new();
    prost::encoding::bytes::encode(1, &rm, &mut request);
    let prost_view = ExportMetricsServiceRequest::decode(request.as_slice()).unwrap();
    assert_eq!(prost_view, req);
    assert_eq!(count_items(Signal::Metrics, &request), Ok(3));
    assert_eq!(count_validated_items(Signal::Metrics, &request), Ok(3));
}

#[test]
fn counting_validated_requests_skips_items_but_not_the_levels_above() {
    // A span whose body is not valid protobuf: only the full count looks inside it.
    let mut scope = Vec::new();
    prost::encoding::bytes::encode(2, &vec![0xffu8, 0xff], &mut scope);
    let mut rs = Vec::new();
    prost::encoding::bytes::encode(2, &scope, &mut rs);
    let mut request = Vec::new();
    prost::encoding::bytes::encode(1, &rs, &mut request);
    assert!(count_items(Signal::Traces, &request).is_err());
    assert_eq!(count_validated_items(Signal::Traces, &request), Ok(1));
    // A resource entry cut short is still an error.
    request.truncate(request.len() - 1);
    assert!(count_validated_items(Signal::Traces, &request).is_err());
}

#[test]
fn concatenated_requests_count_as_the_sum() {
    let mut a = traces(&[&[2]]).encode_to_vec();
    a.extend(traces(&[&[3], &[1]]).encode_to_vec());
    assert_eq!(count_items(Signal::Traces, &a), Ok(6));
}

#[test]
fn resource_entries_cut_and_concatenate() {
    let req = traces(&[&[1], &[2, 3], &[4]]);
    let bytes = req.encode_to_vec();
    let entries = resource_entries(&bytes).unwrap();
    assert_eq!(entries.len(), 3);
    // The entries tile the whole message (no other top-level fields here).
    assert_eq!(entries[0].start, 0);
    assert_eq!(entries[2].end, bytes.len());
    for (i, r) in entries.iter().enumerate() {
        let one = ExportTraceServiceRequest::decode(&bytes[r.clone()]).unwrap();
        assert_eq!(one.resource_spans, vec![req.resource_spans[i].clone()]);
    }
    let mut firstlast = bytes[entries[0].clone()].to_vec();
    firstlast.extend_from_slice(&bytes[entries[2].clone()]);
    let decoded = ExportTraceServiceRequest::decode(firstlast.as_slice()).unwrap();
    assert_eq!(
        decoded.resource_spans,
        vec![req.resource_spans[0].clone(), req.resource_spans[2].clone()]
    );
    assert_eq!(count_items(Signal::Traces, &firstlast), Ok(5));
}

#[test]
fn resource_entries_skip_unknown_top_level_fields() {
    let mut bytes = Vec::new();
    prost::encoding::string::encode(7, &"future".to_string(), &mut bytes);
    let entry_start = bytes.len();
    bytes.extend(traces(&[&[1]]).encode_to_vec());
    let want = entry_start..bytes.len();
    assert_eq!(resource_entries(&bytes), Ok(vec![want]));
    assert_eq!(count_items(Signal::Traces, &bytes), Ok(1));
}

#[test]
fn unknown_fields_inside_items_are_accepted() {
    // Unknown fields of every wire type, including a group, as a newer producer might send.
    let mut span_bytes = span("x").encode_to_vec();
    prost::encoding::uint64::encode(99, &5, &mut span_bytes);
    prost::encoding::fixed32::encode(100, &5, &mut span_bytes);
    // Group 101: start tag 811 = [0xab, 0x06], one varint field, end tag 812 = [0xac, 0x06].
    span_bytes.extend([0xab, 0x06, 8, 1, 0xac, 0x06]);
    let request = wrap3(&span_bytes);
    assert!(ExportTraceServiceRequest::decode(request.as_slice()).is_ok());
    assert_eq!(count_items(Signal::Traces, &request), Ok(1));
}

/// Nest `item` as request → field 1 → field 2 → field 2.
fn wrap3(item: &[u8]) -> Vec<u8> {
    let mut scope = Vec::new();
    prost::encoding::bytes::encode(2, &item.to_vec(), &mut scope);
    let mut res = Vec::new();
    prost::encoding::bytes::encode(2, &scope, &mut res);
    let mut req = Vec::new();
    prost::encoding::bytes::encode(1, &res, &mut req);
    req
}

#[test]
fn malformed_inputs_are_errors() {
    let good = traces(&[&[2, 1]]).encode_to_vec();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated tag", vec![0x80]),
        ("length beyond end", vec![0x0a, 0x05, 0x00]),
        (
            "varint too long",
            vec![
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
        ),
        ("field number zero", vec![0x02, 0x00]),
        ("wire type 6", vec![0x0e]),
        ("wire type 7", vec![0x0f]),
        ("resource_spans as varint", vec![0x08, 0x01]),
        ("truncated fixed64", vec![0x09, 0x01, 0x02]),
        ("lonely end group", vec![0x0c]),
        ("unterminated group", vec![0x0b, 0x08, 0x01]),
        ("span name as varint", wrap3(&[0x28, 0x01])),
        ("span start as varint", wrap3(&[0x38, 0x01])),
        ("span length overflows item", wrap3(&[0x2a, 0x09, b'a'])),
        ("truncated real request", good[..good.len() - 1].to_vec()),
    ];
    for (name, bytes) in cases {
        assert!(count_items(Signal::Traces, &bytes).is_err(), "{name}");
        // prost agrees that these are not valid requests.
        assert!(
            ExportTraceServiceRequest::decode(bytes.as_slice()).is_err(),
            "prost accepted {name}"
        );
    }
}

#[test]
fn every_truncation_of_valid_requests_is_handled_without_panic() {
    for bytes in [
        traces(&[&[2, 1], &[1]]).encode_to_vec(),
        metrics_all_types().encode_to_vec(),
        logs(3).encode_to_vec(),
    ] {
        for cut in 0..bytes.len() {
            for sig in [Signal::Traces, Signal::Metrics, Signal::Logs] {
                let _ = count_items(sig, &bytes[..cut]);
            }
            let _ = resource_entries(&bytes[..cut]);
        }
    }
}

#[test]
fn byte_flips_agree_with_prost_on_framing() {
    // Corrupt each byte of a valid request. Whatever prost accepts the walker accepts with the
    // same count; what only prost rejects is below the item level (inside a log record's
    // fields) or a UTF-8 problem — the walker checks framing down to the items.
    let bytes = logs(2).encode_to_vec();
    for i in 0..bytes.len() {
        for v in [0x00u8, 0x01, 0x7f, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] = v;
            let walked = count_items(Signal::Logs, &b);
            match ExportLogsServiceRequest::decode(b.as_slice()) {
                Ok(req) => {
                    let n: usize = req
                        .resource_logs
                        .iter()
                        .flat_map(|r| &r.scope_logs)
                        .map(|s| s.log_records.len())
                        .sum();
                    assert_eq!(walked, Ok(n as u64), "byte {i}={v:#x}");
                }
                Err(e) => {
                    if walked.is_ok() {
                        let msg = e.to_string();
                        assert!(
                            msg.contains("LogRecord.body")
                                || msg.contains("LogRecord.attributes")
                                || msg.contains("UTF-8")
                                || msg.contains("utf-8")
                                || msg.contains("invalid string"),
                            "byte {i}={v:#x}: walker accepted, prost said {msg}"
                        );
                    }
                }
            }
        }
    }
}

/// Rough throughput of the walker (run with `--ignored --nocapture`, ideally in release):
/// the pass-through path budget is well under 1µs per span.
#[test]
#[ignore]
fn walker_throughput() {
    let bytes = traces(&[&[1000; 10]]).encode_to_vec();
    let start = std::time::Instant::now();
    let mut spans = 0u64;
    while start.elapsed() < std::time::Duration::from_secs(2) {
        spans += count_items(Signal::Traces, &bytes).unwrap();
    }
    let rate = spans as f64 / start.elapsed().as_secs_f64();
    println!(
        "walker: {rate:.0} spans/s ({} bytes per 10k spans)",
        bytes.len()
    );
}

/// The general walker's verdict on one item (what `check_item` did before the fast path).
fn item_walker_ok(buf: &[u8], schema: Schema) -> bool {
    Fields::new(buf, 0..buf.len()).all(|f| f.is_ok_and(|f| expect("item", schema, &f).is_ok()))
}

#[test]
fn fast_item_check_agrees_with_the_walker_on_every_key_byte() {
    // Each possible first byte, then payloads that end a varint, fill a fixed field, or give a
    // length that fits or overruns: the fast check and the walker agree, except that groups
    // (which only the walker skips) are left to it.
    let tails: [&[u8]; 6] = [
        &[],
        &[0x00],
        &[0x80, 0x01],
        &[0x02, b'a', b'b'],
        &[0x05, b'a'],
        &[1, 2, 3, 4, 5, 6, 7, 8],
    ];
    let items: [(&ItemTable, Schema); 3] = [
        (&SPAN_TABLE, span_schema),
        (&LOG_RECORD_TABLE, log_record_schema),
        (&NUMBER_POINT_TABLE, number_point_schema),
    ];
    for (table, schema) in items {
        for key in 0..=0xffu8 {
            for tail in tails {
                let mut b = vec![key];
                b.extend_from_slice(tail);
                let fast = item_ok(&b, 0, b.len(), table);
                let walker = item_walker_ok(&b, schema);
                let group = key & 7 == 3 || key & 7 == 4;
                assert!(!fast || walker, "fast accepts {b:x?}");
                assert!(fast || !walker || group, "fast rejects {b:x?}");
            }
        }
    }
}

#[test]
fn fast_item_check_never_accepts_what_the_walker_rejects() {
    // Every byte of a span and of each kind of data point set to values that break varints,
    // lengths and wire types: the fast loop may only say "valid" where the field-by-field
    // walker does, and must accept the unmodified items.
    let items: Vec<(Vec<u8>, Schema, &ItemTable)> = vec![
        (span("GET /x").encode_to_vec(), span_schema, &SPAN_TABLE),
        (
            logs(1).resource_logs[0].scope_logs[0].log_records[0].encode_to_vec(),
            log_record_schema,
            &LOG_RECORD_TABLE,
        ),
        (
            number_points(1)[0].encode_to_vec(),
            number_point_schema,
            &NUMBER_POINT_TABLE,
        ),
    ];
    for (item, schema, table) in items {
        assert!(item_ok(&item, 0, item.len(), table));
        assert!(item_walker_ok(&item, schema));
        for i in 0..item.len() {
            for v in [0x00u8, 0x01, 0x02, 0x03, 0x05, 0x07, 0x7f, 0x80, 0xff] {
                let mut b = item.clone();
                b[i] = v;
                if item_ok(&b, 0, b.len(), table) {
                    assert!(item_walker_ok(&b, schema), "byte {i}={v:#x}");
                }
            }
        }
    }
    // A group (legal, skipped as an unknown field) is left to the walker, which accepts it.
    let mut with_group = span("g").encode_to_vec();
    // Field 20: start-group tag 163 and end-group tag 164, as two-byte varints.
    with_group.extend_from_slice(&[0xa3, 0x01, 0xa4, 0x01]);
    assert!(!item_ok(&with_group, 0, with_group.len(), &SPAN_TABLE));
    assert_eq!(count_items(Signal::Traces, &wrap3(&with_group)), Ok(1));
}
