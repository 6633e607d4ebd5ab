use super::*;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message;

fn traces(json: &str) -> ExportTraceServiceRequest {
    let bytes = to_protobuf(Signal::Traces, json.as_bytes()).unwrap();
    ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap()
}

#[test]
fn span_with_hex_ids_enum_names_and_string_int64() {
    let req = traces(
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
        "scopeSpans":[{"scope":{"name":"lib","version":"1"},"spans":[{
          "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174",
          "parentSpanId":"","name":"op","kind":"SPAN_KIND_SERVER",
          "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":1544712661000000000,
          "attributes":[{"key":"n","value":{"intValue":"-42"}},{"key":"d","value":{"doubleValue":"NaN"}},
                        {"key":"b","value":{"bytesValue":"aGk="}},{"key":"arr","value":{"arrayValue":{"values":[{"boolValue":true},{"intValue":7}]}}}],
          "status":{"code":2,"message":"boom"},"flags":257,
          "events":[{"timeUnixNano":"5","name":"ev"}],
          "links":[{"traceId":"00000000000000000000000000000001","spanId":"0000000000000002"}],
          "futureField":{"nested":[1,2,3]}}]}]}]}"#,
    );
    let span = &req.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(
        span.trace_id,
        vec![
            0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f,
            0xc6, 0x0c
        ]
    );
    assert_eq!(
        span.span_id,
        vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]
    );
    assert!(span.parent_span_id.is_empty());
    assert_eq!(span.kind, 2);
    assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
    assert_eq!(span.flags, 257);
    assert_eq!(span.status.as_ref().unwrap().code, 2);
    assert_eq!(span.status.as_ref().unwrap().message, "boom");
    assert_eq!(span.events[0].time_unix_nano, 5);
    assert_eq!(span.links[0].span_id, vec![0, 0, 0, 0, 0, 0, 0, 2]);
    let attr = |i: usize| {
        span.attributes[i]
            .value
            .as_ref()
            .unwrap()
            .value
            .clone()
            .unwrap()
    };
    assert_eq!(attr(0), any_value::Value::IntValue(-42));
    assert!(matches!(attr(1), any_value::Value::DoubleValue(d) if d.is_nan()));
    assert_eq!(attr(2), any_value::Value::BytesValue(b"hi".to_vec()));
    assert_eq!(
        attr(3),
        any_value::Value::ArrayValue(ArrayValue {
            values: vec![
                AnyValue {
                    value: Some(any_value::Value::BoolValue(true))
                },
                AnyValue {
                    value: Some(any_value::Value::IntValue(7))
                },
            ]
        })
    );
    assert_eq!(
        req.resource_spans[0].resource.as_ref().unwrap().attributes[0],
        KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("svc".into()))
            }),
            key_strindex: 0,
        }
    );
}

#[test]
fn snake_case_names_and_enum_numbers_are_accepted() {
    let req = traces(
        r#"{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"01","kind":3,"status":{"code":"STATUS_CODE_OK"}}]}]}]}"#,
    );
    let span = &req.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.trace_id, vec![1]);
    assert_eq!(span.kind, 3);
    assert_eq!(span.status.as_ref().unwrap().code, 1);
}

#[test]
fn metrics_of_every_type() {
    let bytes = to_protobuf(
        Signal::Metrics,
        br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
          {"name":"g","gauge":{"dataPoints":[{"asInt":"0","timeUnixNano":"1"},{"asDouble":0.5}]}},
          {"name":"s","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true,"dataPoints":[{"asInt":3}]}},
          {"name":"h","histogram":{"aggregationTemporality":1,"dataPoints":[{"count":"3","sum":0,"bucketCounts":["1",2],"explicitBounds":[1.5],"min":0.1,"max":"Infinity"}]}},
          {"name":"e","exponentialHistogram":{"dataPoints":[{"scale":-2,"zeroCount":"1","positive":{"offset":-3,"bucketCounts":["4","5"]}}]}},
          {"name":"q","summary":{"dataPoints":[{"count":2,"sum":3.5,"quantileValues":[{"quantile":0.5,"value":1}]}]}}
        ]}]}]}"#,
    )
    .unwrap();
    let req = ExportMetricsServiceRequest::decode(bytes.as_slice()).unwrap();
    assert_eq!(crate::wire::count_items(Signal::Metrics, &bytes), Ok(6));
    let m = &req.resource_metrics[0].scope_metrics[0].metrics;
    match &m[0].data {
        Some(metric::Data::Gauge(g)) => {
            // asInt 0 is present (a oneof member), not "unset".
            assert_eq!(
                g.data_points[0].value,
                Some(number_data_point::Value::AsInt(0))
            );
            assert_eq!(
                g.data_points[1].value,
                Some(number_data_point::Value::AsDouble(0.5))
            );
        }
        other => panic!("{other:?}"),
    }
    match &m[1].data {
        Some(metric::Data::Sum(s)) => {
            assert_eq!(s.aggregation_temporality, 2);
            assert!(s.is_monotonic);
        }
        other => panic!("{other:?}"),
    }
    match &m[2].data {
        Some(metric::Data::Histogram(h)) => {
            let p = &h.data_points[0];
            assert_eq!((p.count, p.sum, p.min), (3, Some(0.0), Some(0.1)));
            assert_eq!(p.max, Some(f64::INFINITY));
            assert_eq!(p.bucket_counts, vec![1, 2]);
            assert_eq!(p.explicit_bounds, vec![1.5]);
        }
        other => panic!("{other:?}"),
    }
    match &m[3].data {
        Some(metric::Data::ExponentialHistogram(e)) => {
            let p = &e.data_points[0];
            assert_eq!(p.scale, -2);
            let pos = p.positive.as_ref().unwrap();
            assert_eq!((pos.offset, pos.bucket_counts.clone()), (-3, vec![4, 5]));
        }
        other => panic!("{other:?}"),
    }
    match &m[4].data {
        Some(metric::Data::Summary(s)) => {
            assert_eq!(s.data_points[0].quantile_values[0].value, 1.0);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn logs_with_severity_names() {
    let bytes = to_protobuf(
        Signal::Logs,
        br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
          {"timeUnixNano":"1","severityNumber":"SEVERITY_NUMBER_WARN2","severityText":"W","body":{"stringValue":"x"},"traceId":"","spanId":"0102030405060708"},
          {"severityNumber":17,"body":{"kvlistValue":{"values":[{"key":"k","value":{"intValue":1}}]}}}
        ]}]}]}"#,
    )
    .unwrap();
    let req = ExportLogsServiceRequest::decode(bytes.as_slice()).unwrap();
    let recs = &req.resource_logs[0].scope_logs[0].log_records;
    assert_eq!(recs[0].severity_number, 14);
    assert_eq!(recs[0].span_id, vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(recs[1].severity_number, 17);
}

#[test]
fn empty_object_is_an_empty_request() {
    for s in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        assert_eq!(to_protobuf(s, b"{}"), Ok(Vec::new()));
    }
}

#[test]
fn bad_inputs_are_errors() {
    let cases = [
        "",
        "[]",
        "{",
        r#"{"resourceSpans":{}}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abc"}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_NOPE"}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"-1"}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":1.5}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":5}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"droppedAttributesCount":4294967296}]}]}]}"#,
    ];
    for c in cases {
        assert!(to_protobuf(Signal::Traces, c.as_bytes()).is_err(), "{c}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let depth = 100_000;
    let mut s = String::new();
    for _ in 0..depth {
        s.push_str(r#"{"arrayValue":{"values":["#);
    }
    assert!(to_protobuf(Signal::Logs, s.as_bytes()).is_err());
}

#[test]
fn fixture_truncations_never_panic_and_convert_to_framed_protobuf() {
    // The stable-toolchain version of the `otlp_json` fuzz target's invariant.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otlp");
    for (file, signal) in [
        ("traces.json", Signal::Traces),
        ("metrics.json", Signal::Metrics),
        ("logs.json", Signal::Logs),
    ] {
        let data = std::fs::read(dir.join(file)).unwrap();
        let full = to_protobuf(signal, &data).unwrap();
        assert!(
            crate::wire::count_items(signal, &full).unwrap() > 0,
            "{file}"
        );
        for cut in (0..data.len()).step_by(7) {
            for s in [Signal::Traces, Signal::Metrics, Signal::Logs] {
                if let Ok(out) = to_protobuf(s, &data[..cut]) {
                    assert!(
                        crate::wire::count_items(s, &out).is_ok(),
                        "{file} cut {cut}"
                    );
                }
            }
        }
    }
}
