//! Arguments of `otelcol.receiver.otlp`, with Alloy's names and defaults
//! (`internal/component/otelcol/receiver/otlp/otlp.go`, `config_grpc.go`, `config_http.go`).

use crate::auth::AuthHandlerRef;
use crate::output::Output;
use crate::tls::TlsServerSettings;
use serde::Deserialize;
use solder_syntax::types::{ByteSize, CapsuleOf, GoDuration};
use std::time::Duration;

/// gRPC's default receive limit, used when `max_recv_msg_size` is 0 (as grpc-go does).
pub const DEFAULT_MAX_RECV_MSG_SIZE: u64 = 4 << 20;
/// The Collector's default `max_request_body_size`, used when it is 0.
pub const DEFAULT_MAX_REQUEST_BODY_SIZE: u64 = 20 << 20;

/// The whole component body.
#[derive(Deserialize)]
pub struct Args {
    #[serde(default)]
    pub grpc: Option<GrpcServerArgs>,
    #[serde(default)]
    pub http: Option<HttpServerArgs>,
    #[serde(default)]
    pub debug_metrics: DebugMetricsArgs,
    pub output: Output,
}

/// `debug_metrics { disable_high_cardinality_metrics, level }`.
#[derive(Deserialize, Default, Clone, PartialEq, Debug)]
pub struct DebugMetricsArgs {
    #[serde(default)]
    pub disable_high_cardinality_metrics: bool,
    #[serde(default)]
    pub level: Option<String>,
}

fn default_grpc_endpoint() -> String {
    "0.0.0.0:4317".to_string()
}
fn default_transport() -> String {
    "tcp".to_string()
}
fn default_read_buffer_size() -> ByteSize {
    ByteSize(512 << 10)
}
fn default_keepalive() -> Option<KeepaliveArgs> {
    Some(KeepaliveArgs::default())
}

/// The `grpc` block.
#[derive(Deserialize, Clone)]
pub struct GrpcServerArgs {
    #[serde(default = "default_grpc_endpoint")]
    pub endpoint: String,
    #[serde(default = "default_transport")]
    pub transport: String,
    #[serde(default)]
    pub tls: Option<TlsServerSettings>,
    #[serde(default)]
    pub max_recv_msg_size: ByteSize,
    #[serde(default)]
    pub max_concurrent_streams: u32,
    /// The most one read from a connection takes, as grpc-go's read buffer (0: no buffer);
    /// see `server::read_buffer_capacity`.
    #[serde(default = "default_read_buffer_size")]
    pub read_buffer_size: ByteSize,
    /// Accepted for compatibility: grpc-go batches writes up to this size before writing to
    /// the socket; h2 already gathers each flush's frames into one vectored write.
    #[serde(default)]
    pub write_buffer_size: ByteSize,
    #[serde(default = "default_keepalive")]
    pub keepalive: Option<KeepaliveArgs>,
    #[serde(default)]
    pub auth: Option<CapsuleOf<AuthHandlerRef>>,
    #[serde(default)]
    pub include_metadata: bool,
}

/// `keepalive { server_parameters {…} enforcement_policy {…} }`.
#[derive(Deserialize, Clone, Default, PartialEq, Debug)]
pub struct KeepaliveArgs {
    #[serde(default)]
    pub server_parameters: Option<KeepaliveServerParameters>,
    #[serde(default)]
    pub enforcement_policy: Option<KeepaliveEnforcementPolicy>,
}

#[derive(Deserialize, Clone, Default, PartialEq, Debug)]
pub struct KeepaliveServerParameters {
    #[serde(default)]
    pub max_connection_idle: GoDuration,
    #[serde(default)]
    pub max_connection_age: GoDuration,
    #[serde(default)]
    pub max_connection_age_grace: GoDuration,
    #[serde(default)]
    pub time: GoDuration,
    #[serde(default)]
    pub timeout: GoDuration,
}

#[derive(Deserialize, Clone, Default, PartialEq, Debug)]
pub struct KeepaliveEnforcementPolicy {
    #[serde(default)]
    pub min_time: GoDuration,
    #[serde(default)]
    pub permit_without_stream: bool,
}

fn default_http_endpoint() -> String {
    "0.0.0.0:4318".to_string()
}
fn default_compression_algorithms() -> Vec<String> {
    ["", "gzip", "zstd", "zlib", "snappy", "deflate", "lz4"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}
fn default_cors() -> Option<CorsArgs> {
    Some(CorsArgs::default())
}
fn default_idle_timeout() -> GoDuration {
    GoDuration::from_secs(60)
}
fn default_read_header_timeout() -> GoDuration {
    GoDuration::from_secs(60)
}
fn default_write_timeout() -> GoDuration {
    GoDuration::from_secs(30)
}
fn default_traces_path() -> String {
    "/v1/traces".to_string()
}
fn default_metrics_path() -> String {
    "/v1/metrics".to_string()
}
fn default_logs_path() -> String {
    "/v1/logs".to_string()
}

/// The `http` block.
#[derive(Deserialize, Clone)]
pub struct HttpServerArgs {
    #[serde(default = "default_http_endpoint")]
    pub endpoint: String,
    #[serde(default)]
    pub tls: Option<TlsServerSettings>,
    #[serde(default = "default_cors")]
    pub cors: Option<CorsArgs>,
    #[serde(default)]
    pub auth: Option<CapsuleOf<AuthHandlerRef>>,
    #[serde(default)]
    pub max_request_body_size: ByteSize,
    #[serde(default)]
    pub include_metadata: bool,
    #[serde(default = "default_compression_algorithms")]
    pub compression_algorithms: Vec<String>,
    #[serde(default)]
    pub keep_alives_enabled: Option<bool>,
    /// Accepted but not enforced: hyper's HTTP/1 server has no idle-connection timeout; idle
    /// keep-alive connections stay open until the client or a shutdown closes them.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: GoDuration,
    /// Bounds reading the request body.
    #[serde(default)]
    pub read_timeout: GoDuration,
    /// Bounds handling a request (pipeline included); past it the client gets 503.
    #[serde(default = "default_write_timeout")]
    pub write_timeout: GoDuration,
    /// hyper's `header_read_timeout`.
    #[serde(default = "default_read_header_timeout")]
    pub read_header_timeout: GoDuration,
    #[serde(default = "default_traces_path")]
    pub traces_url_path: String,
    #[serde(default = "default_metrics_path")]
    pub metrics_url_path: String,
    #[serde(default = "default_logs_path")]
    pub logs_url_path: String,
}

/// The `cors` block.
#[derive(Deserialize, Clone, Default, PartialEq, Debug)]
pub struct CorsArgs {
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    #[serde(default)]
    pub exposed_headers: Vec<String>,
    #[serde(default)]
    pub max_age: i64,
}

/// Content encodings this receiver can decode, by their `compression_algorithms` names.
pub const SUPPORTED_COMPRESSION: &[&str] =
    &["", "gzip", "zstd", "zlib", "deflate", "snappy", "lz4"];

impl GrpcServerArgs {
    pub fn max_recv_msg_size(&self) -> usize {
        let n = if self.max_recv_msg_size.0 == 0 {
            DEFAULT_MAX_RECV_MSG_SIZE
        } else {
            self.max_recv_msg_size.0
        };
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    pub fn server_parameters(&self) -> KeepaliveServerParameters {
        self.keepalive
            .as_ref()
            .and_then(|k| k.server_parameters.clone())
            .unwrap_or_default()
    }

    fn validate(&self) -> Result<(), String> {
        if self.transport != "tcp" {
            return Err(format!(
                "grpc: transport {:?} is not supported by Solder yet (only \"tcp\")",
                self.transport
            ));
        }
        if self.include_metadata {
            return Err("grpc: include_metadata is not supported by Solder yet".to_string());
        }
        if let Some(tls) = &self.tls {
            tls.validate().map_err(|e| format!("grpc: tls: {e}"))?;
        }
        if let Some(k) = &self.keepalive {
            if k.server_parameters
                .as_ref()
                .is_some_and(|p| !p.max_connection_idle.0.is_zero())
            {
                return Err(
                    "grpc: keepalive: max_connection_idle is not supported by Solder yet"
                        .to_string(),
                );
            }
            if k.enforcement_policy
                .as_ref()
                .is_some_and(|p| *p != KeepaliveEnforcementPolicy::default())
            {
                return Err(
                    "grpc: keepalive: enforcement_policy is not supported by Solder yet"
                        .to_string(),
                );
            }
        }
        Ok(())
    }
}

impl HttpServerArgs {
    pub fn max_request_body_size(&self) -> usize {
        let n = if self.max_request_body_size.0 == 0 {
            DEFAULT_MAX_REQUEST_BODY_SIZE
        } else {
            self.max_request_body_size.0
        };
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    /// A duration of 0 means "no timeout", as in Go's `http.Server`.
    pub fn timeout(d: GoDuration) -> Option<Duration> {
        (!d.0.is_zero()).then_some(d.0)
    }

    fn validate(&self) -> Result<(), String> {
        for (name, path) in [
            ("traces_url_path", &self.traces_url_path),
            ("logs_url_path", &self.logs_url_path),
            ("metrics_url_path", &self.metrics_url_path),
        ] {
            if path.is_empty() {
                return Err(format!("{name} cannot be empty"));
            }
            if path.contains(|c: char| c.is_whitespace() || c.is_control()) {
                return Err(format!("invalid {name}: {path:?}"));
            }
        }
        if self.include_metadata {
            return Err("http: include_metadata is not supported by Solder yet".to_string());
        }
        for algo in &self.compression_algorithms {
            if !SUPPORTED_COMPRESSION.contains(&algo.as_str()) {
                return Err(format!("http: unsupported compression algorithm {algo:?}"));
            }
        }
        if let Some(tls) = &self.tls {
            tls.validate().map_err(|e| format!("http: tls: {e}"))?;
        }
        Ok(())
    }

    /// The path a signal is served on: the Collector prefixes a missing leading slash.
    pub fn path(&self, signal: solder_core::signals::otlp::Signal) -> String {
        use solder_core::signals::otlp::Signal;
        let p = match signal {
            Signal::Traces => &self.traces_url_path,
            Signal::Metrics => &self.metrics_url_path,
            Signal::Logs => &self.logs_url_path,
        };
        if p.starts_with('/') {
            p.clone()
        } else {
            format!("/{p}")
        }
    }
}

impl Args {
    /// Alloy's `Validate` plus Solder's "not supported yet" checks.
    pub fn validate(&self) -> Result<(), String> {
        match self.debug_metrics.level.as_deref() {
            None | Some("none" | "basic" | "normal" | "detailed") => {}
            Some(other) => return Err(format!("unrecognized debug level {other:?}")),
        }
        if let Some(g) = &self.grpc {
            g.validate()?;
        }
        if let Some(h) = &self.http {
            h.validate()?;
        }
        Ok(())
    }
}
