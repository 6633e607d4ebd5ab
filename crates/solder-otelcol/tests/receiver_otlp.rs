//! `otelcol.receiver.otlp` end to end on real sockets: official tonic clients and plain HTTP
//! requests in, a recording consumer out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::{OtlpConsumer, OtlpConsumerRef, OtlpPayload, Signal};
use solder_core::{
    Component, ComponentOptions, ExportSink, HealthReporter, HostInfo, TypedComponent,
};
use solder_otelcol::auth::{AuthError, AuthHandler, AuthHandlerRef};
use solder_otelcol::receiver::otlp::{Args, OtlpReceiver};
use solder_syntax::eval::{eval_body, EmptyScope};
use solder_syntax::parser::parse_file;
use solder_syntax::span::{FileId, Span as SrcSpan};
use solder_syntax::types::CapsuleOf;
use solder_syntax::Value;
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

// ---- harness ----

/// What the recording consumer answers.
#[derive(Clone)]
enum Answer {
    Ok,
    Fail(ConsumeError),
    Hang,
}

struct Recorder {
    got: Mutex<Vec<OtlpPayload>>,
    answer: Mutex<Answer>,
}

impl Recorder {
    fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            got: Mutex::new(Vec::new()),
            answer: Mutex::new(Answer::Ok),
        })
    }
    fn answer(&self, a: Answer) {
        *self.answer.lock().unwrap() = a;
    }
    fn take(&self) -> Vec<OtlpPayload> {
        std::mem::take(&mut *self.got.lock().unwrap())
    }
}

#[async_trait]
impl OtlpConsumer for Recorder {
    async fn consume(&self, payload: OtlpPayload) -> Result<(), ConsumeError> {
        let answer = self.answer.lock().unwrap().clone();
        match answer {
            Answer::Ok => {
                self.got.lock().unwrap().push(payload);
                Ok(())
            }
            Answer::Fail(e) => Err(e),
            Answer::Hang => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(())
            }
        }
    }
}

#[derive(Debug)]
struct TokenAuth;

impl AuthHandler for TokenAuth {
    fn client_headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, AuthError> {
        Ok(vec![])
    }
    fn authenticate(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        match headers.get("authorization").and_then(|v| v.to_str().ok()) {
            Some("Bearer sesame") => Ok(()),
            _ => Err(AuthError::Unauthenticated("bad token".into())),
        }
    }
}

struct NullSink;
impl ExportSink for NullSink {
    fn publish(&self, _: Value) {}
}

fn options(id: &str) -> ComponentOptions {
    let labels: HashMap<String, String> = [("component_id".to_string(), id.to_string())].into();
    ComponentOptions {
        id: id.to_string(),
        data_dir: std::env::temp_dir(),
        registry: prometheus::Registry::new_custom(None, Some(labels)).unwrap(),
        health: HealthReporter::new(),
        host: Arc::new(HostInfo {
            http_listen_addr: "127.0.0.1:12345".into(),
            http_memory_addr: "alloy.internal:12345".into(),
            hostname: "test".into(),
            self_registry: prometheus::Registry::new(),
        }),
        exports: Arc::new(NullSink),
    }
}

fn decode_args(src: &str) -> Args {
    let (file, diags) = parse_file(src, FileId(0));
    assert!(!diags.has_errors(), "{diags}");
    let body = eval_body(
        &file.body,
        SrcSpan::new(FileId(0), 0, src.len() as u32),
        &EmptyScope,
    )
    .unwrap();
    solder_syntax::decode::decode(&body).unwrap()
}

struct Running {
    recorder: Arc<Recorder>,
    grpc: Option<SocketAddr>,
    http: Option<SocketAddr>,
    registry: prometheus::Registry,
    token: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), solder_core::ComponentError>>,
}

impl Running {
    fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http.unwrap())
    }
    fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc.unwrap())
    }
    async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("run returns within 5s")
            .unwrap()
            .unwrap();
    }
    fn counter(&self, name: &str, transport: &str) -> f64 {
        self.registry
            .gather()
            .iter()
            .filter(|f| f.name() == name)
            .flat_map(|f| f.get_metric().iter())
            .filter(|m| {
                m.get_label()
                    .iter()
                    .any(|l| l.name() == "transport" && l.value() == transport)
            })
            .map(|m| m.get_counter().get_value())
            .sum()
    }
}

async fn start(body: &str, auth: bool) -> Running {
    let mut args = decode_args(body);
    let recorder = Recorder::new();
    let consumer: OtlpConsumerRef = recorder.clone();
    args.output.traces = vec![CapsuleOf(consumer.clone())];
    args.output.metrics = vec![CapsuleOf(consumer.clone())];
    args.output.logs = vec![CapsuleOf(consumer)];
    if auth {
        let h: AuthHandlerRef = Arc::new(TokenAuth);
        if let Some(g) = args.grpc.as_mut() {
            g.auth = Some(CapsuleOf(h.clone()));
        }
        if let Some(x) = args.http.as_mut() {
            x.auth = Some(CapsuleOf(h));
        }
    }
    let opts = options("otelcol.receiver.otlp.test");
    let registry = opts.registry.clone();
    let receiver = Arc::new(OtlpReceiver::build(opts, args).unwrap());
    let token = CancellationToken::new();
    let task = tokio::spawn(Arc::clone(&receiver).run(token.clone()));
    let want_grpc = body.contains("grpc");
    let want_http = body.contains("http");
    for _ in 0..200 {
        let b = receiver.bound_addrs();
        if b.grpc.is_some() == want_grpc && b.http.is_some() == want_http {
            return Running {
                recorder,
                grpc: b.grpc,
                http: b.http,
                registry,
                token,
                task,
            };
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("servers did not start");
}

const BOTH: &str = r#"
grpc { endpoint = "127.0.0.1:0" }
http { endpoint = "127.0.0.1:0" }
output {}
"#;

// ---- data ----

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn trace_request(spans: usize) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "svc")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    ..Default::default()
                }),
                spans: (0..spans)
                    .map(|i| Span {
                        trace_id: vec![7; 16],
                        span_id: (i as u64 + 1).to_le_bytes().to_vec(),
                        name: format!("span-{i}"),
                        kind: span::SpanKind::Server as i32,
                        start_time_unix_nano: 1,
                        end_time_unix_nano: 2,
                        ..Default::default()
                    })
                    .collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn metrics_request(points: usize) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "g".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: (0..points)
                            .map(|i| NumberDataPoint {
                                value: Some(number_data_point::Value::AsInt(i as i64)),
                                ..Default::default()
                            })
                            .collect(),
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn logs_request(records: usize) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: (0..records)
                    .map(|i| LogRecord {
                        severity_number: 9,
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(format!("line {i}"))),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The `google.rpc.Status` fields a response body carries.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types_any::Any>,
}

mod prost_types_any {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Any {
        #[prost(string, tag = "1")]
        pub type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
    }
}

async fn post(
    url: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body);
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

// ---- gRPC ----

#[tokio::test]
async fn grpc_passes_each_signal_through_byte_identical() {
    let r = start(BOTH, false).await;

    let traces = trace_request(3);
    let mut client = TraceServiceClient::connect(r.grpc_url()).await.unwrap();
    client.export(traces.clone()).await.unwrap();

    let metrics = metrics_request(4);
    let mut client = MetricsServiceClient::connect(r.grpc_url()).await.unwrap();
    client.export(metrics.clone()).await.unwrap();

    let logs = logs_request(5);
    let mut client = LogsServiceClient::connect(r.grpc_url())
        .await
        .unwrap()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    client.export(logs.clone()).await.unwrap();

    let got = r.recorder.take();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].signal, Signal::Traces);
    assert_eq!(got[0].items, 3);
    assert_eq!(got[0].encoded, traces.encode_to_vec());
    assert_eq!(got[1].signal, Signal::Metrics);
    assert_eq!(got[1].items, 4);
    assert_eq!(got[1].encoded, metrics.encode_to_vec());
    assert_eq!(got[2].signal, Signal::Logs);
    assert_eq!(got[2].items, 5);
    assert_eq!(got[2].encoded, logs.encode_to_vec());

    assert_eq!(
        r.counter("otelcol_receiver_accepted_spans_total", "grpc"),
        3.0
    );
    assert_eq!(
        r.counter("otelcol_receiver_accepted_metric_points_total", "grpc"),
        4.0
    );
    assert_eq!(
        r.counter("otelcol_receiver_accepted_log_records_total", "grpc"),
        5.0
    );
    r.stop().await;
}

#[tokio::test]
async fn grpc_oversized_message_is_resource_exhausted() {
    let r = start(
        "grpc {\n endpoint = \"127.0.0.1:0\"\n max_recv_msg_size = \"1KiB\"\n}\noutput {}\n",
        false,
    )
    .await;
    let mut client = TraceServiceClient::connect(r.grpc_url()).await.unwrap();
    let err = client.export(trace_request(100)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err}");
    client.export(trace_request(1)).await.unwrap();
    assert_eq!(r.recorder.take().len(), 1);
    r.stop().await;
}

#[tokio::test]
async fn grpc_zstd_is_accepted() {
    let r = start(BOTH, false).await;
    let traces = trace_request(2);
    let mut client = TraceServiceClient::connect(r.grpc_url())
        .await
        .unwrap()
        .send_compressed(tonic::codec::CompressionEncoding::Zstd);
    client.export(traces.clone()).await.unwrap();
    assert_eq!(r.recorder.take()[0].encoded, traces.encode_to_vec());
    r.stop().await;
}

#[tokio::test]
async fn grpc_maps_consumer_errors_and_auth() {
    let r = start(BOTH, true).await;
    let mut client = TraceServiceClient::connect(r.grpc_url()).await.unwrap();

    // No credentials.
    let err = client.export(trace_request(1)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);

    let authed = |n: usize| {
        let mut req = tonic::Request::new(trace_request(n));
        req.metadata_mut()
            .insert("authorization", "Bearer sesame".parse().unwrap());
        req
    };
    client.export(authed(1)).await.unwrap();

    r.recorder.answer(Answer::Fail(ConsumeError::Overloaded {
        message: "full".into(),
        retry_after: Some(Duration::from_secs(7)),
    }));
    let err = client.export(authed(2)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    let status = RpcStatus::decode(err.details()).unwrap();
    assert_eq!(status.code, 8);
    assert_eq!(
        status.details[0].type_url,
        "type.googleapis.com/google.rpc.RetryInfo"
    );

    r.recorder.answer(Answer::Fail(ConsumeError::Retryable {
        message: "down".into(),
        retry_after: None,
    }));
    let err = client.export(authed(2)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);

    r.recorder
        .answer(Answer::Fail(ConsumeError::Permanent("bad".into())));
    let err = client.export(authed(2)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    r.recorder.answer(Answer::Ok);
    client.export(authed(1)).await.unwrap();
    assert_eq!(
        r.counter("otelcol_receiver_refused_spans_total", "grpc"),
        6.0
    );
    assert_eq!(
        r.counter("otelcol_receiver_accepted_spans_total", "grpc"),
        2.0
    );
    r.stop().await;
}

#[tokio::test]
async fn grpc_malformed_request_is_invalid_argument_and_next_is_fine() {
    let r = start(BOTH, false).await;
    // A raw gRPC frame with an invalid protobuf message, sent through the same channel type.
    let channel = tonic::transport::Endpoint::from_shared(r.grpc_url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    let bad = bytes::Bytes::from_static(&[0x0a, 0x05, 0x01]);
    let res: Result<tonic::Response<bytes::Bytes>, tonic::Status> =
        grpc.unary(tonic::Request::new(bad), path, RawCodec).await;
    assert_eq!(res.unwrap_err().code(), tonic::Code::InvalidArgument);

    let mut client = TraceServiceClient::new(channel);
    client.export(trace_request(1)).await.unwrap();
    assert_eq!(r.recorder.take().len(), 1);
    r.stop().await;
}

/// A client codec sending raw bytes and reading the response as raw bytes.
#[derive(Clone, Copy)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = bytes::Bytes;
    type Decode = bytes::Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: bytes::Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<bytes::Bytes>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

// ---- HTTP ----

#[tokio::test]
async fn http_protobuf_passes_through_with_each_compression() {
    let r = start(BOTH, false).await;
    let req = trace_request(2);
    let raw = req.encode_to_vec();
    let bodies: Vec<(Option<&str>, Vec<u8>)> = vec![
        (None, raw.clone()),
        (Some("gzip"), gzip(&raw)),
        (Some("zstd"), zstd::encode_all(&raw[..], 1).unwrap()),
    ];
    for (enc, body) in bodies {
        let resp = post(
            &r.http_url("/v1/traces"),
            "application/x-protobuf",
            enc,
            body,
            &[],
        )
        .await;
        assert_eq!(resp.status(), 200, "{enc:?}");
        assert_eq!(resp.headers()["content-type"], "application/x-protobuf");
        let got = r.recorder.take();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].encoded, raw, "{enc:?}");
        assert_eq!(got[0].items, 2);
    }
    assert_eq!(
        r.counter("otelcol_receiver_accepted_spans_total", "http"),
        6.0
    );
    r.stop().await;
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/otlp")
            .join(name),
    )
    .unwrap()
}

#[tokio::test]
async fn http_json_fixtures_decode_to_the_expected_protobuf() {
    let r = start(BOTH, false).await;

    let resp = post(
        &r.http_url("/v1/traces"),
        "application/json",
        None,
        fixture("traces.json"),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.text().await.unwrap(), "{}");
    let got = r.recorder.take();
    assert_eq!(got[0].items, 2);
    let traces = ExportTraceServiceRequest::decode(got[0].encoded.clone()).unwrap();
    let rs = &traces.resource_spans[0];
    assert_eq!(
        rs.resource.as_ref().unwrap().attributes,
        vec![kv("service.name", "my.service")]
    );
    let scope = &rs.scope_spans[0];
    assert_eq!(
        scope.scope.as_ref().unwrap(),
        &InstrumentationScope {
            name: "my.library".into(),
            version: "1.0.0".into(),
            attributes: vec![kv("my.scope.attribute", "some scope attribute")],
            dropped_attributes_count: 0,
        }
    );
    let expected_first = Span {
        trace_id: vec![
            0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f,
            0xc6, 0x0c,
        ],
        span_id: vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74],
        parent_span_id: vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73],
        name: "I'm a server span".into(),
        start_time_unix_nano: 1_544_712_660_000_000_000,
        end_time_unix_nano: 1_544_712_661_000_000_000,
        kind: 2,
        attributes: vec![kv("my.span.attr", "some value")],
        ..Default::default()
    };
    assert_eq!(scope.spans[0], expected_first);
    let second = &scope.spans[1];
    assert_eq!(second.kind, span::SpanKind::Client as i32);
    assert_eq!(second.start_time_unix_nano, 1_544_712_660_500_000_000);
    assert_eq!(
        second.status,
        Some(Status {
            message: "boom".into(),
            code: status::StatusCode::Error as i32
        })
    );

    let resp = post(
        &r.http_url("/v1/metrics"),
        "application/json; charset=utf-8",
        None,
        fixture("metrics.json"),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let got = r.recorder.take();
    assert_eq!(got[0].items, 4);
    let metrics = ExportMetricsServiceRequest::decode(got[0].encoded.clone()).unwrap();
    let m = &metrics.resource_metrics[0].scope_metrics[0].metrics;
    assert_eq!(m.len(), 4);
    match &m[0].data {
        Some(metric::Data::Sum(s)) => {
            assert_eq!(s.aggregation_temporality, 1);
            assert!(s.is_monotonic);
            assert_eq!(
                s.data_points[0].value,
                Some(number_data_point::Value::AsDouble(5.0))
            );
            assert_eq!(
                s.data_points[0].attributes,
                vec![kv("my.counter.attr", "some value")]
            );
        }
        other => panic!("{other:?}"),
    }
    match &m[2].data {
        Some(metric::Data::Histogram(h)) => {
            assert_eq!(h.aggregation_temporality, 2);
            assert_eq!(h.data_points[0].bucket_counts, vec![1, 1]);
            assert_eq!(h.data_points[0].min, Some(0.0));
        }
        other => panic!("{other:?}"),
    }
    match &m[3].data {
        Some(metric::Data::ExponentialHistogram(e)) => {
            let p = &e.data_points[0];
            assert_eq!(p.zero_count, 1);
            assert_eq!(p.positive.as_ref().unwrap().bucket_counts, vec![0, 2]);
        }
        other => panic!("{other:?}"),
    }

    let resp = post(
        &r.http_url("/v1/logs"),
        "application/json",
        Some("gzip"),
        gzip(&fixture("logs.json")),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let got = r.recorder.take();
    assert_eq!(got[0].items, 2);
    let logs = ExportLogsServiceRequest::decode(got[0].encoded.clone()).unwrap();
    let recs = &logs.resource_logs[0].scope_logs[0].log_records;
    assert_eq!(recs[0].severity_number, 10);
    assert_eq!(recs[0].severity_text, "Information");
    assert_eq!(recs[0].attributes.len(), 6);
    assert_eq!(
        recs[0].attributes[2].value.as_ref().unwrap().value,
        Some(any_value::Value::IntValue(10))
    );
    assert_eq!(recs[1].severity_number, 17);
    r.stop().await;
}

#[tokio::test]
async fn http_bad_data_is_400_and_the_next_request_succeeds() {
    let r = start(BOTH, false).await;
    let url = r.http_url("/v1/logs");

    let resp = post(
        &url,
        "application/x-protobuf",
        None,
        vec![0x0a, 0x05, 0x01],
        &[],
    )
    .await;
    assert_eq!(resp.status(), 400);
    let status = RpcStatus::decode(resp.bytes().await.unwrap()).unwrap();
    assert_eq!(status.code, 3);

    let resp = post(
        &url,
        "application/json",
        None,
        b"{\"resourceLogs\": [".to_vec(),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], 3);

    let resp = post(
        &url,
        "application/x-protobuf",
        Some("gzip"),
        b"not gzip".to_vec(),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 400);

    let resp = post(
        &url,
        "application/x-protobuf",
        None,
        logs_request(1).encode_to_vec(),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(r.recorder.take().len(), 1);
    r.stop().await;
}

#[tokio::test]
async fn http_size_limits_and_bombs() {
    let r = start(
        r#"
http {
  endpoint = "127.0.0.1:0"
  max_request_body_size = "64KiB"
}
output {}
"#,
        false,
    )
    .await;
    let url = r.http_url("/v1/traces");
    // Raw body over the limit.
    let big = trace_request(2000).encode_to_vec();
    assert!(big.len() > 64 << 10);
    let resp = post(&url, "application/x-protobuf", None, big.clone(), &[]).await;
    assert_eq!(resp.status(), 413);
    // Small compressed body that expands past the limit.
    let bomb = gzip(&vec![0u8; 4 << 20]);
    assert!(bomb.len() < 64 << 10);
    let resp = post(&url, "application/x-protobuf", Some("gzip"), bomb, &[]).await;
    assert_eq!(resp.status(), 413);
    let zbomb = zstd::encode_all(&vec![0u8; 4 << 20][..], 3).unwrap();
    let resp = post(&url, "application/x-protobuf", Some("zstd"), zbomb, &[]).await;
    assert_eq!(resp.status(), 413);
    // Under the limit still works.
    let resp = post(
        &url,
        "application/x-protobuf",
        None,
        trace_request(2).encode_to_vec(),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(r.grpc.is_none(), "no grpc block, no grpc server");
    r.stop().await;
}

#[tokio::test]
async fn http_status_codes_for_consumer_errors() {
    let r = start(BOTH, false).await;
    let url = r.http_url("/v1/metrics");
    let body = metrics_request(3).encode_to_vec();

    r.recorder.answer(Answer::Fail(ConsumeError::Overloaded {
        message: "full".into(),
        retry_after: Some(Duration::from_millis(2500)),
    }));
    let resp = post(&url, "application/x-protobuf", None, body.clone(), &[]).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
    let status = RpcStatus::decode(resp.bytes().await.unwrap()).unwrap();
    assert_eq!(status.code, 8);

    r.recorder.answer(Answer::Fail(ConsumeError::Retryable {
        message: "down".into(),
        retry_after: None,
    }));
    let resp = post(&url, "application/json", None, b"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{\"dataPoints\":[{\"asInt\":1}]}}]}]}]}".to_vec(), &[]).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let json: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(json["code"], 14);

    r.recorder
        .answer(Answer::Fail(ConsumeError::Permanent("no".into())));
    let resp = post(&url, "application/x-protobuf", None, body.clone(), &[]).await;
    assert_eq!(resp.status(), 400);
    assert!(!resp.headers().contains_key("retry-after"));

    r.recorder.answer(Answer::Ok);
    let resp = post(&url, "application/x-protobuf", None, body, &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        r.counter("otelcol_receiver_refused_metric_points_total", "http"),
        7.0
    );
    assert_eq!(
        r.counter("otelcol_receiver_accepted_metric_points_total", "http"),
        3.0
    );
    r.stop().await;
}

#[tokio::test]
async fn http_auth_content_type_paths_and_methods() {
    let r = start(BOTH, true).await;
    let body = logs_request(1).encode_to_vec();
    let url = r.http_url("/v1/logs");

    let resp = post(&url, "application/x-protobuf", None, body.clone(), &[]).await;
    assert_eq!(resp.status(), 401);
    let resp = post(
        &url,
        "application/x-protobuf",
        None,
        body.clone(),
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(resp.status(), 401);
    let ok = [("authorization", "Bearer sesame")];
    let resp = post(&url, "application/x-protobuf", None, body.clone(), &ok).await;
    assert_eq!(resp.status(), 200);

    let resp = post(&url, "text/plain", None, body.clone(), &ok).await;
    assert_eq!(resp.status(), 415);

    let resp = post(
        &r.http_url("/v1/nothing"),
        "application/x-protobuf",
        None,
        body.clone(),
        &ok,
    )
    .await;
    assert_eq!(resp.status(), 404);

    let resp = reqwest::Client::new().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    r.stop().await;
}

#[tokio::test]
async fn http_custom_paths_and_cors() {
    let r = start(
        r#"
http {
  endpoint = "127.0.0.1:0"
  traces_url_path = "/custom/t"
  cors {
    allowed_origins = ["https://*.example.com"]
    allowed_headers = ["X-Custom"]
    max_age = 600
  }
}
output {}
"#,
        false,
    )
    .await;
    let body = trace_request(1).encode_to_vec();
    let resp = post(
        &r.http_url("/v1/traces"),
        "application/x-protobuf",
        None,
        body.clone(),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 404);
    let resp = post(
        &r.http_url("/custom/t"),
        "application/x-protobuf",
        None,
        body.clone(),
        &[("origin", "https://app.example.com")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );

    let resp = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, r.http_url("/custom/t"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(resp.headers()["access-control-max-age"], "600");
    assert!(resp.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("X-Custom"));

    let resp = post(
        &r.http_url("/custom/t"),
        "application/x-protobuf",
        None,
        body,
        &[("origin", "https://evil.com")],
    )
    .await;
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
    r.stop().await;
}

#[tokio::test]
async fn empty_request_succeeds_without_reaching_the_pipeline() {
    let r = start(BOTH, false).await;
    let resp = post(
        &r.http_url("/v1/traces"),
        "application/x-protobuf",
        None,
        Vec::new(),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = post(
        &r.http_url("/v1/traces"),
        "application/json",
        None,
        b"{}".to_vec(),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(r.recorder.take().is_empty());
    r.stop().await;
}

#[tokio::test]
async fn http_write_timeout_answers_503_when_the_pipeline_hangs() {
    let r = start(
        "http {\n endpoint = \"127.0.0.1:0\"\n write_timeout = \"300ms\"\n}\noutput {}\n",
        false,
    )
    .await;
    r.recorder.answer(Answer::Hang);
    let started = std::time::Instant::now();
    let resp = post(
        &r.http_url("/v1/traces"),
        "application/x-protobuf",
        None,
        trace_request(1).encode_to_vec(),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(5));
    r.recorder.answer(Answer::Ok);
    let resp = post(
        &r.http_url("/v1/traces"),
        "application/x-protobuf",
        None,
        trace_request(1).encode_to_vec(),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 200);
    r.stop().await;
}

#[test]
fn validation_messages() {
    let bad = [
        (
            "http {\n traces_url_path = \"\"\n}\noutput {}\n",
            "traces_url_path cannot be empty",
        ),
        (
            "grpc {\n include_metadata = true\n}\noutput {}\n",
            "not supported by Solder yet",
        ),
        (
            "grpc {\n transport = \"unix\"\n}\noutput {}\n",
            "not supported by Solder yet",
        ),
        (
            "http {\n compression_algorithms = [\"brotli\"]\n}\noutput {}\n",
            "unsupported compression",
        ),
        (
            "debug_metrics {\n level = \"loud\"\n}\noutput {}\n",
            "unrecognized debug level",
        ),
    ];
    for (src, want) in bad {
        let err = <OtlpReceiver as TypedComponent>::validate(&decode_args(src)).unwrap_err();
        assert!(err.contains(want), "{src}: {err}");
    }
    let args = decode_args("grpc {}\nhttp {}\noutput {}\n");
    assert_eq!(args.grpc.as_ref().unwrap().endpoint, "0.0.0.0:4317");
    assert_eq!(args.http.as_ref().unwrap().endpoint, "0.0.0.0:4318");
    assert_eq!(
        args.http.as_ref().unwrap().max_request_body_size(),
        20 << 20
    );
    assert_eq!(args.grpc.as_ref().unwrap().max_recv_msg_size(), 4 << 20);
    assert!(<OtlpReceiver as TypedComponent>::validate(&args).is_ok());
}

#[tokio::test]
async fn reload_with_new_endpoint_rebinds_and_shutdown_is_prompt() {
    let mut args = decode_args(BOTH);
    let recorder = Recorder::new();
    let c: OtlpConsumerRef = recorder.clone();
    args.output.traces = vec![CapsuleOf(c.clone())];
    let receiver =
        Arc::new(OtlpReceiver::build(options("otelcol.receiver.otlp.reload"), args).unwrap());
    let token = CancellationToken::new();
    let task = tokio::spawn(Arc::clone(&receiver).run(token.clone()));
    let wait_http = |old: Option<SocketAddr>| {
        let receiver = Arc::clone(&receiver);
        async move {
            for _ in 0..300 {
                if let Some(a) = receiver.bound_addrs().http {
                    if Some(a) != old {
                        return a;
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("http server did not (re)start");
        }
    };
    let first = wait_http(None).await;
    // An output-only change swaps the consumer in place: same servers, new destination.
    let other = Recorder::new();
    let mut same = decode_args(BOTH);
    let oc: OtlpConsumerRef = other.clone();
    same.output.traces = vec![CapsuleOf(oc)];
    receiver.update(solder_core::AnyArgs::new(same)).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.bound_addrs().http, Some(first));
    let resp = post(
        &format!("http://{first}/v1/traces"),
        "application/x-protobuf",
        None,
        trace_request(1).encode_to_vec(),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(other.take().len(), 1);
    assert!(recorder.take().is_empty());
    // A new `http` block (different path) restarts the servers; output-only changes would not.
    let mut next = decode_args(
        "grpc { endpoint = \"127.0.0.1:0\" }\nhttp {\n endpoint = \"127.0.0.1:0\"\n traces_url_path = \"/x\"\n}\noutput {}\n",
    );
    next.output.traces = vec![CapsuleOf(c)];
    receiver.update(solder_core::AnyArgs::new(next)).unwrap();
    let second = wait_http(Some(first)).await;
    let resp = post(
        &format!("http://{second}/x"),
        "application/x-protobuf",
        None,
        trace_request(1).encode_to_vec(),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(recorder.take().len(), 1);
    token.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
