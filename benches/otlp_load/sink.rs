//! The backend end of the load test: an OTLP/gRPC `TraceService` (official generated server,
//! so every request is fully decoded as a real backend would) that counts spans and samples
//! the end-to-end latency of every 16th span from its start time, which the generator sets to
//! the moment the span was sent.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

/// What the sink saw.
#[derive(Default)]
pub struct Stats {
    pub spans: AtomicU64,
    pub requests: AtomicU64,
    /// Sampled latencies in microseconds, only while `sampling` is on.
    pub latencies_us: Mutex<Vec<u32>>,
    pub sampling: std::sync::atomic::AtomicBool,
}

pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[derive(Clone)]
struct Counting(Arc<Stats>);

#[tonic::async_trait]
impl TraceService for Counting {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let now = now_ns();
        let req = request.into_inner();
        let sampling = self.0.sampling.load(Ordering::Relaxed);
        let mut n = 0u64;
        let mut samples = Vec::new();
        for rs in &req.resource_spans {
            for ss in &rs.scope_spans {
                for (i, span) in ss.spans.iter().enumerate() {
                    if sampling && i % 16 == 0 {
                        let us = now.saturating_sub(span.start_time_unix_nano) / 1_000;
                        samples.push(u32::try_from(us).unwrap_or(u32::MAX));
                    }
                }
                n += ss.spans.len() as u64;
            }
        }
        self.0.spans.fetch_add(n, Ordering::Relaxed);
        self.0.requests.fetch_add(1, Ordering::Relaxed);
        if !samples.is_empty() {
            if let Ok(mut l) = self.0.latencies_us.lock() {
                l.extend(samples);
            }
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

/// A CA made for one run and the backend's certificate for `localhost`, signed by it.
pub struct Pki {
    pub ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl Pki {
    pub fn new() -> Result<Pki, rcgen::Error> {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate()?;
        let cert =
            CertificateParams::new(vec!["localhost".to_string()])?.signed_by(&key, &issuer)?;
        Ok(Pki {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Serve on `listener` until the runtime ends, with TLS when `pki` is given.
pub async fn serve(
    listener: tokio::net::TcpListener,
    stats: Arc<Stats>,
    pki: Option<Pki>,
) -> Result<(), tonic::transport::Error> {
    let svc = TraceServiceServer::new(Counting(stats))
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(256 * 1024 * 1024);
    let mut builder = tonic::transport::Server::builder();
    if let Some(p) = pki {
        let identity = tonic::transport::Identity::from_pem(p.cert_pem, p.key_pem);
        builder =
            builder.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))?;
    }
    builder
        .add_service(svc)
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
        .await
}
