//! OTLP/gRPC: the three `Export` services served by tonic, with a codec that keeps the request
//! as the raw protobuf bytes it arrived as (no prost decode on the pass-through path).

use super::ingest::{Ingest, Refusal};
use super::metrics::Transport;
use crate::auth::AuthHandlerRef;
use bytes::{Buf, Bytes};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use solder_core::signals::otlp::Signal;
use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::codec::{
    Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings, EncodeBuf, Encoder,
};
use tonic::{Code, Status};

const GRPC_STATUS: &str = "grpc-status";

/// A tonic codec whose requests are the undecoded message bytes and whose responses are prost
/// messages.
pub struct RawRequestCodec<R>(PhantomData<fn() -> R>);

impl<R> Default for RawRequestCodec<R> {
    fn default() -> Self {
        RawRequestCodec(PhantomData)
    }
}

pub struct RawDecoder;

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        // The buffer holds exactly one whole message; splitting it off does not copy.
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

pub struct ProstEncoder<R>(PhantomData<fn() -> R>);

impl<R: prost::Message> Encoder for ProstEncoder<R> {
    type Item = R;
    type Error = Status;

    fn encode(&mut self, item: R, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding response: {e}")))
    }
}

impl<R: prost::Message + Send + 'static> Codec for RawRequestCodec<R> {
    type Encode = R;
    type Decode = Bytes;
    type Encoder = ProstEncoder<R>;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> ProstEncoder<R> {
        ProstEncoder(PhantomData)
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

/// One OTLP export service.
pub trait ExportKind: Send + Sync + 'static {
    const SIGNAL: Signal;
    const SERVICE: &'static str;
    const METHOD_PATH: &'static str;
    type Response: prost::Message + Default + Send + 'static;
}

pub struct TraceKind;
pub struct MetricsKind;
pub struct LogsKind;

impl ExportKind for TraceKind {
    const SIGNAL: Signal = Signal::Traces;
    const SERVICE: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    const METHOD_PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    type Response = ExportTraceServiceResponse;
}

impl ExportKind for MetricsKind {
    const SIGNAL: Signal = Signal::Metrics;
    const SERVICE: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    const METHOD_PATH: &'static str =
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    type Response = ExportMetricsServiceResponse;
}

impl ExportKind for LogsKind {
    const SIGNAL: Signal = Signal::Logs;
    const SERVICE: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    const METHOD_PATH: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    type Response = ExportLogsServiceResponse;
}

/// What every gRPC service of one server shares.
pub struct GrpcShared {
    pub ingest: Arc<Ingest>,
    pub auth: Option<AuthHandlerRef>,
    pub max_recv_msg_size: usize,
}

/// The tower service for one OTLP export service.
pub struct ExportServer<K> {
    shared: Arc<GrpcShared>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> ExportServer<K> {
    pub fn new(shared: Arc<GrpcShared>) -> Self {
        ExportServer {
            shared,
            _kind: PhantomData,
        }
    }
}

impl<K> Clone for ExportServer<K> {
    fn clone(&self) -> Self {
        ExportServer::new(Arc::clone(&self.shared))
    }
}

impl<K: ExportKind> tonic::server::NamedService for ExportServer<K> {
    const NAME: &'static str = K::SERVICE;
}

pub fn refusal_status(r: &Refusal) -> Status {
    Status::with_details(
        Code::from_i32(r.grpc_code()),
        r.message(),
        Bytes::from(r.status_protobuf()),
    )
}

/// The `Export` method as a tonic unary service.
struct ExportMethod<K> {
    shared: Arc<GrpcShared>,
    _kind: PhantomData<fn() -> K>,
}

impl<K: ExportKind> tonic::server::UnaryService<Bytes> for ExportMethod<K> {
    type Response = K::Response;
    type Future = tonic::codegen::BoxFuture<tonic::Response<K::Response>, Status>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            match shared
                .ingest
                .export(K::SIGNAL, request.into_inner(), Transport::Grpc)
                .await
            {
                Ok(()) => Ok(tonic::Response::new(K::Response::default())),
                Err(r) => Err(refusal_status(&r)),
            }
        })
    }
}

impl<K, B> tower::Service<http::Request<B>> for ExportServer<K>
where
    K: ExportKind,
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = tonic::codegen::BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            if req.uri().path() != K::METHOD_PATH {
                return Ok(Status::unimplemented("unknown method").into_http());
            }
            if let Some(auth) = &shared.auth {
                if let Err(e) = auth.authenticate(req.headers()) {
                    let r = Refusal::Unauthenticated(e.to_string());
                    return Ok(refusal_status(&r).into_http());
                }
            }
            let mut accept = EnabledCompressionEncodings::default();
            accept.enable(CompressionEncoding::Gzip);
            accept.enable(CompressionEncoding::Zstd);
            let mut grpc = tonic::server::Grpc::new(RawRequestCodec::<K::Response>::default())
                .apply_compression_config(accept, EnabledCompressionEncodings::default())
                .apply_max_message_size_config(Some(shared.max_recv_msg_size), None);
            let method = ExportMethod::<K> {
                shared: Arc::clone(&shared),
                _kind: PhantomData,
            };
            let mut response = grpc.unary(method, req).await;
            // tonic reports a message over the size limit as OUT_OF_RANGE, which OTLP clients
            // retry; grpc-go (and so the Collector) says RESOURCE_EXHAUSTED, which without a
            // RetryInfo detail they do not. Only the size check produces OUT_OF_RANGE here.
            if response.headers().get(GRPC_STATUS).map(|v| v.as_bytes()) == Some(b"11") {
                response
                    .headers_mut()
                    .insert(GRPC_STATUS, http::HeaderValue::from_static("8"));
            }
            Ok(response)
        })
    }
}
