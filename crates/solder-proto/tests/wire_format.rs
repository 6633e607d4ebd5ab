//! Golden wire-format tests: messages are encoded and compared against bytes
//! written out by hand from the protobuf encoding rules, then decoded back.
//!
//! Encoding reminders used below: a field key is `(field_number << 3) | wire_type`
//! with wire type 0 = varint, 1 = 64-bit, 2 = length-delimited; `sint*` values
//! are zigzag-encoded; proto3 repeated scalars are packed; scalar fields equal
//! to their default are omitted, except inside a `oneof`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use prost::Message;
use solder_proto::loki::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter};
use solder_proto::prometheus::{
    histogram, metric_metadata, BucketSpan, Histogram, Label, MetricMetadata, Sample, TimeSeries,
    WriteRequest,
};
use solder_proto::prost_types::Timestamp;

fn label(name: &str, value: &str) -> Label {
    Label {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

/// Concatenates byte pieces so the expected encodings can be laid out
/// field by field with comments.
fn bytes(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn one_series_request() -> WriteRequest {
    WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![label("__name__", "up"), label("job", "a")],
            samples: vec![Sample {
                value: 1.0,
                timestamp: 1000,
            }],
            ..Default::default()
        }],
        metadata: vec![],
    }
}

fn one_series_bytes() -> Vec<u8> {
    bytes(&[
        &[0x0a, 0x28], // WriteRequest.timeseries (1, LEN), 40 bytes
        &[0x0a, 0x0e], //   TimeSeries.labels (1, LEN), 14 bytes
        &[0x0a, 0x08], //     Label.name (1, LEN), 8 bytes
        b"__name__",
        &[0x12, 0x02], //     Label.value (2, LEN), 2 bytes
        b"up",
        &[0x0a, 0x08], //   TimeSeries.labels, 8 bytes
        &[0x0a, 0x03],
        b"job",
        &[0x12, 0x01],
        b"a",
        &[0x12, 0x0c], //   TimeSeries.samples (2, LEN), 12 bytes
        &[0x09],       //     Sample.value (1, I64): 1.0 little-endian
        &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f],
        &[0x10, 0xe8, 0x07], // Sample.timestamp (2, VARINT): 1000
    ])
}

#[test]
fn write_request_with_one_series_encodes_to_known_bytes() {
    let encoded = one_series_request().encode_to_vec();
    assert_eq!(encoded, one_series_bytes());
    assert_eq!(encoded.len(), 42);
}

#[test]
fn write_request_with_one_series_decodes_back() {
    let decoded = WriteRequest::decode(one_series_bytes().as_slice()).unwrap();
    assert_eq!(decoded, one_series_request());
}

#[test]
fn metadata_goes_in_field_3_with_help_in_field_4() {
    let request = WriteRequest {
        timeseries: vec![],
        metadata: vec![MetricMetadata {
            r#type: metric_metadata::MetricType::Counter as i32,
            metric_family_name: "up".to_owned(),
            help: "h".to_owned(),
            unit: String::new(),
        }],
    };
    let expected = bytes(&[
        &[0x1a, 0x09], // WriteRequest.metadata (3, LEN), 9 bytes
        &[0x08, 0x01], //   type (1, VARINT): COUNTER
        &[0x12, 0x02], //   metric_family_name (2, LEN)
        b"up",
        &[0x22, 0x01], //   help (4, LEN); unit is empty and omitted
        b"h",
    ]);
    assert_eq!(request.encode_to_vec(), expected);
    let decoded = WriteRequest::decode(expected.as_slice()).unwrap();
    assert_eq!(decoded, request);
    assert_eq!(
        decoded.metadata[0].r#type(),
        metric_metadata::MetricType::Counter
    );
}

#[test]
fn native_histogram_uses_zigzag_packed_and_explicit_oneof_zero() {
    let histogram = Histogram {
        count: Some(histogram::Count::CountInt(0)),
        schema: -1,
        positive_spans: vec![BucketSpan {
            offset: -2,
            length: 1,
        }],
        positive_deltas: vec![-1],
        ..Default::default()
    };
    let expected: &[u8] = &[
        0x08, 0x00, // count_int (1, VARINT) = 0: written because it is the set oneof arm
        0x20, 0x01, // schema (4, VARINT) sint32 -1 -> zigzag 1
        0x5a, 0x04, // positive_spans (11, LEN), 4 bytes
        0x08, 0x03, //   offset (1) sint32 -2 -> zigzag 3
        0x10, 0x01, //   length (2) = 1
        0x62, 0x01, 0x01, // positive_deltas (12, LEN) packed: sint64 -1 -> zigzag 1
    ];
    assert_eq!(histogram.encode_to_vec(), expected);
    assert_eq!(Histogram::decode(expected).unwrap(), histogram);

    let float = Histogram {
        count: Some(histogram::Count::CountFloat(2.0)),
        zero_count: Some(histogram::ZeroCount::ZeroCountFloat(0.5)),
        reset_hint: histogram::ResetHint::Gauge as i32,
        timestamp: 1,
        ..Default::default()
    };
    let expected_float: &[u8] = &[
        0x11, 0, 0, 0, 0, 0, 0, 0x00, 0x40, // count_float (2, I64) = 2.0
        0x39, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f, // zero_count_float (7, I64) = 0.5
        0x70, 0x03, // reset_hint (14, VARINT) = GAUGE
        0x78, 0x01, // timestamp (15, VARINT) = 1
    ];
    assert_eq!(float.encode_to_vec(), expected_float);
    assert_eq!(Histogram::decode(expected_float).unwrap(), float);
}

#[test]
fn write_request_skips_unknown_fields_when_decoding() {
    // A sender that still fills the reserved field 2 must not break decoding.
    let mut input = vec![0x12, 0x01, b'x'];
    input.extend(one_series_bytes());
    assert_eq!(
        WriteRequest::decode(input.as_slice()).unwrap(),
        one_series_request()
    );
}

fn one_stream_push() -> PushRequest {
    PushRequest {
        streams: vec![StreamAdapter {
            labels: r#"{a="b"}"#.to_owned(),
            entries: vec![EntryAdapter {
                timestamp: Some(Timestamp {
                    seconds: 1,
                    nanos: 5,
                }),
                line: "hi".to_owned(),
                structured_metadata: vec![LabelPairAdapter {
                    name: "k".to_owned(),
                    value: "v".to_owned(),
                }],
            }],
            hash: 0,
        }],
    }
}

fn one_stream_bytes() -> Vec<u8> {
    bytes(&[
        &[0x0a, 0x1d], // PushRequest.streams (1, LEN), 29 bytes
        &[0x0a, 0x07], //   StreamAdapter.labels (1, LEN), 7 bytes
        br#"{a="b"}"#,
        &[0x12, 0x12], //   StreamAdapter.entries (2, LEN), 18 bytes; hash 0 omitted
        &[0x0a, 0x04], //     EntryAdapter.timestamp (1, LEN), 4 bytes
        &[0x08, 0x01], //       Timestamp.seconds (1, VARINT) = 1
        &[0x10, 0x05], //       Timestamp.nanos (2, VARINT) = 5
        &[0x12, 0x02], //     EntryAdapter.line (2, LEN)
        b"hi",
        &[0x1a, 0x06], //     EntryAdapter.structuredMetadata (3, LEN), 6 bytes
        &[0x0a, 0x01],
        b"k",
        &[0x12, 0x01],
        b"v",
    ])
}

#[test]
fn loki_push_with_timestamp_encodes_to_known_bytes() {
    let encoded = one_stream_push().encode_to_vec();
    assert_eq!(encoded, one_stream_bytes());
    assert_eq!(encoded.len(), 31);
}

#[test]
fn loki_push_decodes_back() {
    let decoded = PushRequest::decode(one_stream_bytes().as_slice()).unwrap();
    assert_eq!(decoded, one_stream_push());
}

#[test]
fn loki_stream_hash_is_field_3_varint() {
    let stream = StreamAdapter {
        labels: String::new(),
        entries: vec![],
        hash: 300,
    };
    assert_eq!(stream.encode_to_vec(), [0x18, 0xac, 0x02]);
}

#[test]
fn truncated_input_is_an_error_not_a_panic() {
    let mut input = one_series_bytes();
    input.truncate(input.len() - 1);
    assert!(WriteRequest::decode(input.as_slice()).is_err());
    let mut input = one_stream_bytes();
    input.truncate(10);
    assert!(PushRequest::decode(input.as_slice()).is_err());
}
