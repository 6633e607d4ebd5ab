#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `otelcol.processor.attributes` alone on the `otlp-load` request shape (500 spans of ~1 KB,
//! 20 span attributes, 5 resource attributes, one scope) with the end-to-end benchmark's four
//! actions (insert, upsert, hash, delete): the encoded path against the prost reference path.
//!
//!   cargo bench -p solder-benches --bench attributes

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

// The load driver's span builder; its gRPC codec parts are not used here.
#[allow(dead_code)]
#[path = "../otlp_load/generator.rs"]
mod generator;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use solder_core::signals::otlp::{OtlpPayload, Signal};
use solder_otelcol::processor::attributes::{ActionArgs, Compiled};
use solder_syntax::Value;

const SPANS: usize = 500;

/// The request `otlp-load` sends (the same builder), with ids and times filled in.
fn request() -> Vec<u8> {
    let mut req = generator::template(SPANS, 0);
    generator::restamp(&mut req, &mut 0, 1_700_000_000_000_000_000);
    req.encode_to_vec()
}

fn action(kind: &str, key: &str, value: Option<&str>) -> ActionArgs {
    ActionArgs {
        action: kind.into(),
        key: key.into(),
        value: value.map(Value::string),
        ..Default::default()
    }
}

fn compiled() -> Compiled {
    let actions = [
        action("insert", "deployment.environment", Some("production")),
        action("upsert", "http.route", Some("/api/v1/orders/{id}/items")),
        action("hash", "enduser.id", None),
        action("delete", "db.query.text", None),
    ];
    Compiled::from_parts(&actions, None, None).unwrap()
}

fn payload(encoded: &bytes::Bytes) -> OtlpPayload {
    OtlpPayload {
        signal: Signal::Traces,
        encoded: encoded.clone(),
        items: SPANS as u64,
    }
}

fn bench(c: &mut Criterion) {
    let encoded = bytes::Bytes::from(request());
    let processor = compiled();
    // Both paths must produce the same request, or the comparison means nothing.
    let a = processor.process(payload(&encoded)).unwrap();
    let b = processor.process_prost(payload(&encoded)).unwrap();
    assert_eq!(
        ExportTraceServiceRequest::decode(a.encoded).unwrap(),
        ExportTraceServiceRequest::decode(b.encoded).unwrap()
    );
    let mut group = c.benchmark_group("attributes_500_spans");
    group.throughput(Throughput::Elements(SPANS as u64));
    group.bench_function("encoded", |bench| {
        bench.iter(|| processor.process(payload(&encoded)).unwrap())
    });
    group.bench_function("prost", |bench| {
        bench.iter(|| processor.process_prost(payload(&encoded)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
