//! `otelcol.exporter.otlp`: sends OTLP over gRPC (alloy-spec.md §2.20).
//!
//! The payload's encoded `Export*ServiceRequest` bytes go on the wire unchanged: no prost, and
//! no copy into an encode buffer (`call.rs`). Arguments follow Alloy's
//! `internal/component/otelcol/exporter/otlp` and `otelcol.GRPCClientArguments`: `timeout`
//! (5s), `client { endpoint, compression = "gzip", tls, keepalive, headers, auth, authority,
//! balancer_name = "round_robin", write_buffer_size = "512KiB", read_buffer_size,
//! wait_for_ready }`, `sending_queue`, `retry_on_failure`, `debug_metrics`.
//!
//! TLS is on unless `client.tls.insecure = true`. `write_buffer_size` is the connection's write
//! buffer, as in grpc-go (`coalesce`: h2's frames of one pass go out in one write of at most
//! that size; 0 writes each frame as it comes). `read_buffer_size` is grpc-go's read buffer and
//! is accepted without effect (h2 sizes its reads itself).

mod call;
mod coalesce;
mod codec;
mod connect;
mod status;

use crate::auth::bearer::DebugMetricsArgs;
use crate::auth::AuthHandlerRef;
use crate::exporter::sending::{
    log_partial_success, QueueArgs, RetryArgs, Sender, SenderRef, SendingExporter, SendingProtocol,
};
use crate::tls::TlsClientSettings;
use serde::Deserialize;
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::{OtlpPayload, Signal};
use solder_core::{Registry, Typed};
use solder_syntax::types::{ByteSize, CapsuleOf, GoDuration};
use std::collections::BTreeMap;
use std::sync::Arc;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{AsciiMetadataValue, MetadataKey, MetadataMap};
use tonic::transport::{Channel, Endpoint};

fn default_timeout() -> GoDuration {
    GoDuration::from_secs(5)
}
fn default_compression() -> String {
    "gzip".to_string()
}
fn default_write_buffer_size() -> ByteSize {
    ByteSize(512 * 1024)
}
fn default_balancer() -> String {
    "round_robin".to_string()
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct KeepaliveArgs {
    #[serde(default)]
    pub ping_wait: GoDuration,
    #[serde(default)]
    pub ping_response_timeout: GoDuration,
    #[serde(default)]
    pub ping_without_stream: bool,
}

/// `client { ... }` (Alloy's `GRPCClientArguments`).
#[derive(Clone, Deserialize)]
pub struct GrpcClientArgs {
    pub endpoint: String,
    #[serde(default = "default_compression")]
    pub compression: String,
    #[serde(default)]
    pub tls: TlsClientSettings,
    #[serde(default)]
    pub keepalive: Option<KeepaliveArgs>,
    #[serde(default)]
    pub read_buffer_size: ByteSize,
    #[serde(default = "default_write_buffer_size")]
    pub write_buffer_size: ByteSize,
    #[serde(default)]
    pub wait_for_ready: bool,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default = "default_balancer")]
    pub balancer_name: String,
    #[serde(default)]
    pub authority: String,
    #[serde(default)]
    pub auth: Option<CapsuleOf<AuthHandlerRef>>,
}

#[derive(Clone, Deserialize)]
pub struct Args {
    #[serde(default = "default_timeout")]
    pub timeout: GoDuration,
    #[serde(default)]
    pub sending_queue: QueueArgs,
    #[serde(default)]
    pub retry_on_failure: RetryArgs,
    #[serde(default)]
    pub debug_metrics: DebugMetricsArgs,
    pub client: GrpcClientArgs,
}

impl Args {
    pub fn validate(&self) -> Result<(), String> {
        self.sending_queue.validate()?;
        self.retry_on_failure.validate()?;
        let c = &self.client;
        target(&c.endpoint)?;
        compression(&c.compression)?;
        c.tls.validate().map_err(|e| format!("client > tls: {e}"))?;
        match c.balancer_name.as_str() {
            "" | "round_robin" | "pick_first" => {}
            other => {
                return Err(format!(
                    "invalid balancer_name {other:?}: Solder supports round_robin and pick_first"
                ))
            }
        }
        if c.wait_for_ready {
            return Err("client > wait_for_ready is not supported by Solder yet".into());
        }
        metadata(&c.headers)?;
        Ok(())
    }
}

/// `host:port` from the endpoint; `http://`, `https://` and `dns:///` prefixes are dropped as
/// grpc-go does (TLS is decided by `tls.insecure`, not by the scheme).
fn target(endpoint: &str) -> Result<String, String> {
    let rest = endpoint
        .strip_prefix("dns:///")
        .or_else(|| endpoint.strip_prefix("http://"))
        .or_else(|| endpoint.strip_prefix("https://"))
        .unwrap_or(endpoint)
        .trim_end_matches('/');
    if rest.is_empty() {
        return Err("client > endpoint must not be empty".into());
    }
    if rest.starts_with("unix:") {
        return Err("client > endpoint: unix sockets are not supported by Solder yet".into());
    }
    rest.parse::<http::uri::Authority>()
        .map_err(|e| format!("client > endpoint {endpoint:?} is not host:port: {e}"))?;
    Ok(rest.to_string())
}

fn compression(c: &str) -> Result<Option<CompressionEncoding>, String> {
    match c {
        "gzip" => Ok(Some(CompressionEncoding::Gzip)),
        "zstd" => Ok(Some(CompressionEncoding::Zstd)),
        "none" | "" => Ok(None),
        "snappy" | "zlib" | "deflate" => Err(format!(
            "client > compression {c:?} is not supported by Solder yet for gRPC (use gzip, zstd or none)"
        )),
        other => Err(format!("unrecognized compression type {other:?}")),
    }
}

fn metadata(headers: &BTreeMap<String, String>) -> Result<MetadataMap, String> {
    let mut map = MetadataMap::new();
    for (k, v) in headers {
        let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
            .map_err(|_| format!("client > headers: {k:?} is not a valid header name"))?;
        if k.ends_with("-bin") {
            return Err(format!(
                "client > headers: binary header {k:?} is not supported"
            ));
        }
        let value = AsciiMetadataValue::try_from(v.as_str()).map_err(|_| {
            format!("client > headers: the value of {k:?} is not a valid header value")
        })?;
        map.insert(key, value);
    }
    Ok(map)
}

fn grpc_path(signal: Signal) -> http::uri::PathAndQuery {
    http::uri::PathAndQuery::from_static(match signal {
        Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    })
}

/// One configured gRPC connection.
pub struct GrpcSender {
    id: String,
    channel: Channel,
    call: call::CallSettings,
    /// The configured `headers`.
    headers: http::HeaderMap,
    auth: Option<AuthHandlerRef>,
}

impl GrpcSender {
    /// Builds the (lazily connecting) channel. Must run inside a tokio runtime.
    pub fn new(id: &str, args: &Args) -> Result<GrpcSender, String> {
        args.validate()?;
        let c = &args.client;
        let target = target(&c.endpoint)?;
        let tls = !c.tls.insecure;
        let mut endpoint = Endpoint::from_shared(format!("http://{target}"))
            .map_err(|e| format!("client > endpoint: {e}"))?;
        if let Some(k) = &c.keepalive {
            if !k.ping_wait.0.is_zero() {
                endpoint = endpoint.http2_keep_alive_interval(k.ping_wait.0);
            }
            if !k.ping_response_timeout.0.is_zero() {
                endpoint = endpoint.keep_alive_timeout(k.ping_response_timeout.0);
            }
            endpoint = endpoint.keep_alive_while_idle(k.ping_without_stream);
        }
        let authority = if c.authority.is_empty() {
            target.clone()
        } else {
            c.authority.clone()
        };
        let scheme = if tls { "https" } else { "http" };
        let origin: http::Uri = format!("{scheme}://{authority}")
            .parse()
            .map_err(|e| format!("client > authority {authority:?}: {e}"))?;
        endpoint = endpoint.origin(origin);
        let write_buffer_size = usize::try_from(c.write_buffer_size.0).unwrap_or(usize::MAX);
        let connector = if tls {
            let config = c
                .tls
                .client_config()
                .map_err(|e| format!("client > tls: {e}"))?;
            let name = match c.tls.server_name_override() {
                Some(n) => Some(
                    rustls::pki_types::ServerName::try_from(n.to_string())
                        .map_err(|e| format!("client > tls > server_name: {e}"))?,
                ),
                None => None,
            };
            connect::Connector::tls(write_buffer_size, config, name)
        } else {
            connect::Connector::plain(write_buffer_size)
        };
        let channel = endpoint.connect_with_connector_lazy(connector);
        Ok(GrpcSender {
            id: id.to_string(),
            channel,
            call: call::CallSettings {
                compression: compression(&c.compression)?,
                timeout: args.timeout.0,
            },
            headers: metadata(&c.headers)?.into_headers(),
            auth: c.auth.as_ref().map(|a| Arc::clone(&a.0)),
        })
    }

    /// The configured headers plus the auth extension's, for one call.
    fn call_headers(&self) -> Result<http::HeaderMap, ConsumeError> {
        let mut headers = self.headers.clone();
        if let Some(auth) = &self.auth {
            let extra = auth.client_headers().map_err(|e| ConsumeError::Retryable {
                message: format!("auth: {e}"),
                retry_after: None,
            })?;
            for (name, value) in extra {
                headers.insert(name, value);
            }
        }
        Ok(headers)
    }
}

#[async_trait::async_trait]
impl Sender for GrpcSender {
    async fn send(&self, payload: &OtlpPayload) -> Result<(), ConsumeError> {
        let headers = self.call_headers()?;
        let call = async {
            call::unary(
                self.channel.clone(),
                grpc_path(payload.signal),
                payload.encoded.clone(),
                headers,
                &self.call,
            )
            .await
            .map_err(|e| match e {
                call::CallError::Connecting(e) => ConsumeError::Retryable {
                    message: format!("connecting: {e}"),
                    retry_after: None,
                },
                call::CallError::Status(s) => status::classify(&s),
            })
        };
        let response = if self.call.timeout.is_zero() {
            call.await?
        } else {
            tokio::time::timeout(self.call.timeout, call)
                .await
                .map_err(|_| ConsumeError::Retryable {
                    message: format!(
                        "rpc error: code = DeadlineExceeded desc = no response within {:?}",
                        self.call.timeout
                    ),
                    retry_after: None,
                })??
        };
        log_partial_success(&self.id, payload.signal, &response);
        Ok(())
    }
}

/// The gRPC wire client behind the shared [`SendingExporter`].
pub struct OtlpProtocol;

impl SendingProtocol for OtlpProtocol {
    const NAME: &'static str = "otelcol.exporter.otlp";
    const QUEUE_PREFIX: &'static str = "otlp";
    type Args = Args;

    fn validate(args: &Args) -> Result<(), String> {
        args.validate()
    }

    fn sender(id: &str, args: &Args) -> Result<SenderRef, String> {
        Ok(Arc::new(GrpcSender::new(id, args)?))
    }

    fn queue_and_retry(args: Args) -> (QueueArgs, RetryArgs) {
        (args.sending_queue, args.retry_on_failure)
    }
}

pub type OtlpExporter = SendingExporter<OtlpProtocol>;

pub fn register(reg: &mut Registry) {
    reg.register(Typed::<OtlpExporter>::new());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn endpoint_forms() {
        assert_eq!(target("collector:4317").unwrap(), "collector:4317");
        assert_eq!(target("http://collector:4317").unwrap(), "collector:4317");
        assert_eq!(target("https://collector:4317/").unwrap(), "collector:4317");
        assert_eq!(target("dns:///collector:4317").unwrap(), "collector:4317");
        assert!(target("").is_err());
        assert!(target("unix:///tmp/sock").is_err());
        assert!(target("a b:1").is_err());
    }

    #[test]
    fn compression_names() {
        assert_eq!(
            compression("gzip").unwrap(),
            Some(CompressionEncoding::Gzip)
        );
        assert_eq!(
            compression("zstd").unwrap(),
            Some(CompressionEncoding::Zstd)
        );
        assert_eq!(compression("none").unwrap(), None);
        assert!(compression("snappy").unwrap_err().contains("not supported"));
        assert!(compression("lz4").unwrap_err().contains("unrecognized"));
    }
}
