//! An in-test OTLP/gRPC backend (a Tempo stand-in): serves the official `TraceService`,
//! `MetricsService` and `LogsService` from `opentelemetry-proto`, so every request an exporter
//! sends is decoded by the reference types rather than by Solder's own code, and records it with
//! its gRPC metadata.
//!
//! Faults on demand: [`OtlpSink::set_mode`] makes it answer `UNAVAILABLE` (or any other code)
//! without recording; [`OtlpSink::stop`] closes the port (connection refused, live connections
//! cut) and [`OtlpSink::restart`] serves again on the same port. Each serving period runs on its
//! own single-worker runtime, so stopping really tears down every connection task with it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

/// The official types, for tests that build or inspect OTLP messages.
pub use opentelemetry_proto as proto;
pub use tonic::Code;

/// How the sink answers the next requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkMode {
    /// Record the request and answer OK.
    Accept,
    /// Answer with this status code without recording (e.g. `Code::Unavailable`).
    Fail(tonic::Code),
    /// Wait this long, then record and answer OK (a slow backend).
    Delay(Duration),
}

/// One request as it arrived: its gRPC metadata (ASCII values only) and the decoded body.
#[derive(Debug, Clone)]
pub struct Received<T> {
    pub metadata: BTreeMap<String, String>,
    pub body: T,
}

/// A span with the resource and scope it was sent under.
#[derive(Debug, Clone)]
pub struct SpanRow {
    pub resource: Resource,
    pub scope: InstrumentationScope,
    pub span: Span,
}

/// A metric with its resource and scope.
#[derive(Debug, Clone)]
pub struct MetricRow {
    pub resource: Resource,
    pub scope: InstrumentationScope,
    pub metric: Metric,
}

/// A log record with its resource and scope.
#[derive(Debug, Clone)]
pub struct LogRow {
    pub resource: Resource,
    pub scope: InstrumentationScope,
    pub record: LogRecord,
}

#[derive(Default)]
struct Shared {
    traces: Mutex<Vec<Received<ExportTraceServiceRequest>>>,
    metrics: Mutex<Vec<Received<ExportMetricsServiceRequest>>>,
    logs: Mutex<Vec<Received<ExportLogsServiceRequest>>>,
    mode: Mutex<Option<SinkMode>>,
    /// `Authorization` value every request must carry, if set (checked before the mode).
    required_auth: Mutex<Option<String>>,
    refused: Mutex<u64>,
}

impl Shared {
    /// The answer for a request with this metadata: `Ok` means record it.
    async fn admit(&self, metadata: &tonic::metadata::MetadataMap) -> Result<(), Status> {
        if let Some(want) = self.required_auth.lock().unwrap().clone() {
            let got = metadata
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if got != want {
                *self.refused.lock().unwrap() += 1;
                return Err(Status::unauthenticated("bad or missing authorization"));
            }
        }
        let mode = self.mode.lock().unwrap().clone();
        match mode {
            None | Some(SinkMode::Accept) => Ok(()),
            Some(SinkMode::Delay(d)) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Some(SinkMode::Fail(code)) => {
                *self.refused.lock().unwrap() += 1;
                Err(Status::new(code, "sink told to fail"))
            }
        }
    }
}

fn metadata_map(m: &tonic::metadata::MetadataMap) -> BTreeMap<String, String> {
    m.clone()
        .into_headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

#[derive(Clone)]
struct Svc(Arc<Shared>);

#[tonic::async_trait]
impl TraceService for Svc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.0.admit(request.metadata()).await?;
        let metadata = metadata_map(request.metadata());
        self.0.traces.lock().unwrap().push(Received {
            metadata,
            body: request.into_inner(),
        });
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Svc {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.0.admit(request.metadata()).await?;
        let metadata = metadata_map(request.metadata());
        self.0.metrics.lock().unwrap().push(Received {
            metadata,
            body: request.into_inner(),
        });
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Svc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.0.admit(request.metadata()).await?;
        let metadata = metadata_map(request.metadata());
        self.0.logs.lock().unwrap().push(Received {
            metadata,
            body: request.into_inner(),
        });
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}

/// One serving period: its runtime owns the server and every connection task.
struct Serving {
    runtime: tokio::runtime::Runtime,
    shutdown: tokio::sync::oneshot::Sender<()>,
}

/// The running (or stopped) sink. Dropping it stops the server.
pub struct OtlpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    serving: Mutex<Option<Serving>>,
}

/// Largest request the sink decodes (exporters may send big batches).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

impl OtlpSink {
    /// Serve on a free loopback port, claimed for this test (`free_port`), so that
    /// [`OtlpSink::restart`] after an outage finds it still unused.
    pub fn start() -> OtlpSink {
        OtlpSink::start_on(crate::free_port())
    }

    /// Serve on `127.0.0.1:port` (0 picks one).
    pub fn start_on(port: u16) -> OtlpSink {
        let shared = Arc::new(Shared::default());
        let (serving, addr) = serve(SocketAddr::from(([127, 0, 0, 1], port)), &shared);
        OtlpSink {
            addr,
            shared,
            serving: Mutex::new(Some(serving)),
        }
    }

    /// `host:port` for an exporter's `client.endpoint`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn set_mode(&self, mode: SinkMode) {
        *self.shared.mode.lock().unwrap() = Some(mode);
    }

    /// Refuse (UNAUTHENTICATED) every request whose `authorization` is not exactly `value`.
    pub fn require_authorization(&self, value: &str) {
        *self.shared.required_auth.lock().unwrap() = Some(value.to_string());
    }

    /// How many requests were refused (by mode or authorization).
    pub fn refused(&self) -> u64 {
        *self.shared.refused.lock().unwrap()
    }

    /// Close the port and cut every connection. Idempotent.
    pub fn stop(&self) {
        if let Some(s) = self.serving.lock().unwrap().take() {
            let _ = s.shutdown.send(());
            s.runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }

    /// Serve again on the same port (after [`OtlpSink::stop`]); retries while the port is busy.
    pub fn restart(&self) {
        self.stop();
        let shared = Arc::clone(&self.shared);
        let (serving, _) = serve(self.addr, &shared);
        *self.serving.lock().unwrap() = Some(serving);
    }

    pub fn is_serving(&self) -> bool {
        self.serving.lock().unwrap().is_some()
    }

    pub fn trace_requests(&self) -> Vec<Received<ExportTraceServiceRequest>> {
        self.shared.traces.lock().unwrap().clone()
    }

    pub fn metric_requests(&self) -> Vec<Received<ExportMetricsServiceRequest>> {
        self.shared.metrics.lock().unwrap().clone()
    }

    pub fn log_requests(&self) -> Vec<Received<ExportLogsServiceRequest>> {
        self.shared.logs.lock().unwrap().clone()
    }

    /// Every span received so far, flattened, in arrival order.
    pub fn spans(&self) -> Vec<SpanRow> {
        let mut out = Vec::new();
        for r in self.shared.traces.lock().unwrap().iter() {
            for rs in &r.body.resource_spans {
                let resource = rs.resource.clone().unwrap_or_default();
                for ss in &rs.scope_spans {
                    let scope = ss.scope.clone().unwrap_or_default();
                    for span in &ss.spans {
                        out.push(SpanRow {
                            resource: resource.clone(),
                            scope: scope.clone(),
                            span: span.clone(),
                        });
                    }
                }
            }
        }
        out
    }

    pub fn span_count(&self) -> usize {
        let traces = self.shared.traces.lock().unwrap();
        traces
            .iter()
            .flat_map(|r| &r.body.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum()
    }

    pub fn metrics(&self) -> Vec<MetricRow> {
        let mut out = Vec::new();
        for r in self.shared.metrics.lock().unwrap().iter() {
            for rm in &r.body.resource_metrics {
                let resource = rm.resource.clone().unwrap_or_default();
                for sm in &rm.scope_metrics {
                    let scope = sm.scope.clone().unwrap_or_default();
                    for metric in &sm.metrics {
                        out.push(MetricRow {
                            resource: resource.clone(),
                            scope: scope.clone(),
                            metric: metric.clone(),
                        });
                    }
                }
            }
        }
        out
    }

    pub fn logs(&self) -> Vec<LogRow> {
        let mut out = Vec::new();
        for r in self.shared.logs.lock().unwrap().iter() {
            for rl in &r.body.resource_logs {
                let resource = rl.resource.clone().unwrap_or_default();
                for sl in &rl.scope_logs {
                    let scope = sl.scope.clone().unwrap_or_default();
                    for record in &sl.log_records {
                        out.push(LogRow {
                            resource: resource.clone(),
                            scope: scope.clone(),
                            record: record.clone(),
                        });
                    }
                }
            }
        }
        out
    }

    /// Forget everything recorded so far.
    pub fn clear(&self) {
        self.shared.traces.lock().unwrap().clear();
        self.shared.metrics.lock().unwrap().clear();
        self.shared.logs.lock().unwrap().clear();
    }
}

impl Drop for OtlpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(addr: SocketAddr, shared: &Arc<Shared>) -> (Serving, SocketAddr) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // The port may still be held for a moment by the previous period's sockets.
    let listener = runtime.block_on(async {
        let end = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(e) if tokio::time::Instant::now() < end => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("sink cannot bind {addr}: {e}"),
            }
        }
    });
    let bound = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let svc = Svc(Arc::clone(shared));
    let traces = TraceServiceServer::new(svc.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(MAX_MESSAGE);
    let metrics = MetricsServiceServer::new(svc.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(MAX_MESSAGE);
    let logs = LogsServiceServer::new(svc)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(MAX_MESSAGE);
    runtime.spawn(async move {
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let _ = tonic::transport::Server::builder()
            .add_service(traces)
            .add_service(metrics)
            .add_service(logs)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = rx.await;
            })
            .await;
    });
    (
        Serving {
            runtime,
            shutdown: tx,
        },
        bound,
    )
}

/// A blocking OTLP/gRPC client built from the official generated stubs, for tests that need
/// the exact status an agent answers (the SDKs retry and hide it).
pub struct GrpcClient {
    runtime: tokio::runtime::Runtime,
    channel: tonic::transport::Channel,
    gzip: bool,
}

impl GrpcClient {
    /// Connect lazily to `host:port` (plaintext HTTP/2).
    pub fn new(endpoint: &str, gzip: bool) -> GrpcClient {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let channel = {
            let _guard = runtime.enter();
            tonic::transport::Endpoint::from_shared(format!("http://{endpoint}"))
                .unwrap()
                .timeout(Duration::from_secs(20))
                .connect_lazy()
        };
        GrpcClient {
            runtime,
            channel,
            gzip,
        }
    }

    pub fn export_traces(
        &self,
        req: ExportTraceServiceRequest,
    ) -> Result<ExportTraceServiceResponse, Status> {
        use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
        let mut c = TraceServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        if self.gzip {
            c = c.send_compressed(CompressionEncoding::Gzip);
        }
        self.runtime
            .block_on(c.export(req))
            .map(Response::into_inner)
    }

    /// Send raw bytes as the body of a trace `Export` call (a valid gRPC frame around
    /// arbitrary, possibly malformed, protobuf).
    pub fn export_raw_traces(&self, body: Vec<u8>) -> Result<(), Status> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        );
        self.runtime.block_on(async move {
            grpc.ready()
                .await
                .map_err(|e| Status::unavailable(e.to_string()))?;
            grpc.unary::<Vec<u8>, Vec<u8>, RawCodec>(Request::new(body), path, RawCodec)
                .await
                .map(|_| ())
        })
    }
}

/// A codec that passes bytes through untouched, to put malformed messages on the wire.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

#[derive(Debug, Clone, Copy, Default)]
struct RawCoder;

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
    type Error = Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        use bytes::Buf;
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

/// `data` gzip-compressed (for HTTP bodies with `Content-Encoding: gzip`).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// `data` repeated `times` times, gzip-compressed as one stream (a decompression bomb when
/// `data` is zeros), without ever holding the uncompressed whole.
pub fn gzip_repeated(data: &[u8], times: usize) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..times {
        enc.write_all(data).unwrap();
    }
    enc.finish().unwrap()
}

/// The protobuf encoding of an OTLP request (the body of an OTLP/HTTP protobuf POST).
pub fn encode<M: prost::Message>(msg: &M) -> Vec<u8> {
    msg.encode_to_vec()
}

/// `n` spans under one resource and scope: trace id `trace_seed`‖i, span id `trace_seed`‖i,
/// start at `base_ns + i µs`, and a few attributes, for tests that count what arrives.
pub fn make_spans(trace_seed: u64, first: u64, n: u64, base_ns: u64) -> ExportTraceServiceRequest {
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
    let kv = |k: &str, v: any_value::Value| KeyValue {
        key: k.to_string(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    };
    let spans = (first..first + n)
        .map(|i| {
            let mut trace_id = trace_seed.to_be_bytes().to_vec();
            trace_id.extend_from_slice(&i.to_be_bytes());
            let span_id = ((trace_seed << 40) ^ i).to_be_bytes().to_vec();
            Span {
                trace_id,
                span_id,
                name: format!("span-{i}"),
                kind: 2,
                start_time_unix_nano: base_ns + i * 1_000,
                end_time_unix_nano: base_ns + i * 1_000 + 500,
                attributes: vec![
                    kv("index", any_value::Value::IntValue(i as i64)),
                    kv(
                        "http.route",
                        any_value::Value::StringValue("/api/v1/items".into()),
                    ),
                ],
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv(
                    "service.name",
                    any_value::Value::StringValue("fault-test".into()),
                )],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "solder.e2e.faults".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// The index attribute of every span the sink holds (spans made by [`make_spans`]).
pub fn span_indexes(rows: &[SpanRow]) -> Vec<i64> {
    use opentelemetry_proto::tonic::common::v1::any_value;
    rows.iter()
        .filter_map(|r| {
            r.span
                .attributes
                .iter()
                .find(|kv| kv.key == "index")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    any_value::Value::IntValue(i) => Some(*i),
                    _ => None,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_refuses_stops_and_restarts_on_the_same_port() {
        let sink = OtlpSink::start();
        let client = GrpcClient::new(&sink.endpoint(), true);
        client.export_traces(make_spans(7, 0, 3, 1_000)).unwrap();
        assert_eq!(sink.span_count(), 3);
        assert_eq!(span_indexes(&sink.spans()), vec![0, 1, 2]);

        sink.set_mode(SinkMode::Fail(Code::Unavailable));
        let err = client
            .export_traces(make_spans(7, 3, 1, 1_000))
            .unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
        assert_eq!(sink.span_count(), 3);
        assert_eq!(sink.refused(), 1);
        sink.set_mode(SinkMode::Accept);

        let port = sink.port();
        sink.stop();
        assert!(client.export_traces(make_spans(7, 4, 1, 1_000)).is_err());
        sink.restart();
        assert_eq!(sink.port(), port);
        let client = GrpcClient::new(&sink.endpoint(), false);
        client.export_traces(make_spans(7, 5, 2, 1_000)).unwrap();
        assert_eq!(span_indexes(&sink.spans()), vec![0, 1, 2, 5, 6]);
    }

    #[test]
    fn checks_authorization_and_keeps_metadata() {
        let sink = OtlpSink::start();
        sink.require_authorization("Basic dTpw");
        let client = GrpcClient::new(&sink.endpoint(), false);
        let err = client.export_traces(make_spans(1, 0, 1, 0)).unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        assert_eq!(sink.span_count(), 0);
    }

    #[test]
    fn raw_garbage_is_refused_by_the_official_decoder() {
        let sink = OtlpSink::start();
        let client = GrpcClient::new(&sink.endpoint(), false);
        let err = client
            .export_raw_traces(vec![0xff, 0xff, 0xff])
            .unwrap_err();
        assert_eq!(err.code(), Code::Internal, "{err:?}");
        assert_eq!(sink.span_count(), 0);
    }
}
