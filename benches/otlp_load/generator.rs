//! The client end: realistic spans (about 20 attributes each, a service resource, a scope)
//! built once with the official OTLP types, then per request only ids and times are rewritten
//! and the message is encoded straight into the gRPC body (no clone), so the generator's own
//! cost stays small next to the agent's.

use bytes::{Buf, BufMut};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.to_string(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.to_string())
}

/// One request of `n` spans from service `service`.
pub fn template(n: usize, service: usize) -> ExportTraceServiceRequest {
    let spans = (0..n)
        .map(|i| Span {
            trace_id: vec![0; 16],
            span_id: vec![0; 8],
            parent_span_id: vec![1; 8],
            name: format!("GET /api/v1/orders/{{id}}/items/{}", i % 7),
            kind: 2,
            attributes: vec![
                kv("http.request.method", s("GET")),
                kv("http.route", s("/api/v1/orders/{id}/items")),
                kv("http.response.status_code", any_value::Value::IntValue(200)),
                kv("url.scheme", s("https")),
                kv("url.path", s("/api/v1/orders/8123/items")),
                kv("server.address", s("orders.prod.svc.cluster.local")),
                kv("server.port", any_value::Value::IntValue(8443)),
                kv("client.address", s("10.42.3.17")),
                kv(
                    "user_agent.original",
                    s("Mozilla/5.0 (X11; Linux x86_64) okhttp/4.12"),
                ),
                kv("network.protocol.version", s("1.1")),
                kv("db.system", s("postgresql")),
                kv("db.namespace", s("orders")),
                kv("db.operation.name", s("SELECT")),
                kv(
                    "db.query.text",
                    s("SELECT id, sku, qty FROM items WHERE order_id = $1"),
                ),
                kv("messaging.system", s("kafka")),
                kv("thread.id", any_value::Value::IntValue(42 + i as i64)),
                kv("thread.name", s("worker-7")),
                kv("code.function", s("OrderItemsHandler.list")),
                kv("enduser.id", s("customer-00017")),
                kv("retry", any_value::Value::BoolValue(false)),
            ],
            status: Some(Status::default()),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s(&format!("loadgen-{service}"))),
                    kv("service.namespace", s("shop")),
                    kv("service.version", s("2.14.1")),
                    kv("host.name", s("node-3")),
                    kv("k8s.pod.name", s("orders-7f9c6d5b4-x2x9p")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "io.opentelemetry.okhttp-3.0".into(),
                    version: "2.9.0".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// Give every span of `req` fresh ids (from `counter`) and the start time `now_ns`.
pub fn restamp(req: &mut ExportTraceServiceRequest, counter: &mut u64, now_ns: u64) {
    for rs in &mut req.resource_spans {
        for ss in &mut rs.scope_spans {
            for span in &mut ss.spans {
                *counter += 1;
                span.trace_id[..8].copy_from_slice(&counter.to_be_bytes());
                span.span_id.copy_from_slice(&counter.to_be_bytes());
                span.start_time_unix_nano = now_ns;
                span.end_time_unix_nano = now_ns + 1_500_000;
            }
        }
    }
}

pub fn encode(req: &ExportTraceServiceRequest) -> Vec<u8> {
    req.encode_to_vec()
}

/// A gRPC codec whose messages are already-encoded bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

#[derive(Debug, Clone, Copy, Default)]
pub struct RawCoder;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCoder;
    type Decoder = RawCoder;
    fn encoder(&mut self) -> RawCoder {
        RawCoder
    }
    fn decoder(&mut self) -> RawCoder {
        RawCoder
    }
}

impl tonic::codec::Encoder for RawCoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}
