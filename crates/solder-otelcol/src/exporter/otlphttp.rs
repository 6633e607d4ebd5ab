//! `otelcol.exporter.otlphttp`: sends OTLP over HTTP (alloy-spec.md §2.21).
//!
//! Arguments follow Alloy's `internal/component/otelcol/exporter/otlphttp` and
//! `otelcol.HTTPClientArguments`: `client { endpoint, compression = "gzip", compression_params,
//! tls, timeout = "30s", headers, auth, proxy_url, idle_conn_timeout = "90s",
//! max_idle_conns_per_host, disable_keep_alives, ... }`, `traces_endpoint`/`metrics_endpoint`/
//! `logs_endpoint` (default `endpoint` + `/v1/<signal>`), `encoding = "proto" | "json"`,
//! `sending_queue`, `retry_on_failure`, `debug_metrics`.
//!
//! With `encoding = "proto"` the payload bytes are the request body as they are. Responses
//! follow the OTLP/HTTP spec: 2xx is success (a `partial_success` is logged); 429, 502, 503
//! and 504 are retried, honouring `Retry-After`; any other status is permanent.
//!
//! The client speaks HTTP/1.1: `force_attempt_http2`, `http2_*`, `max_idle_conns`,
//! `max_conns_per_host` and the buffer sizes are Go transport tuning, accepted without effect.

mod response;

use crate::auth::bearer::DebugMetricsArgs;
use crate::auth::AuthHandlerRef;
use crate::exporter::sending::{
    log_partial_success, QueueArgs, RetryArgs, Sender, SenderRef, SendingExporter, SendingProtocol,
};
use crate::tls::TlsClientSettings;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};
use serde::Deserialize;
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::{OtlpPayload, Signal};
use solder_core::{error_chain, Registry, Typed};
use solder_syntax::types::{ByteSize, CapsuleOf, GoDuration};
use std::collections::BTreeMap;
use std::sync::Arc;

fn default_compression() -> String {
    "gzip".to_string()
}
fn default_timeout() -> GoDuration {
    GoDuration::from_secs(30)
}
fn default_write_buffer_size() -> ByteSize {
    ByteSize(512 * 1024)
}
fn default_max_idle_conns() -> i64 {
    100
}
fn default_idle_conn_timeout() -> GoDuration {
    GoDuration::from_secs(90)
}
fn default_http2_ping_timeout() -> GoDuration {
    GoDuration::from_secs(15)
}
fn yes() -> bool {
    true
}
fn default_encoding() -> String {
    "proto".to_string()
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CompressionParams {
    pub level: i64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct CookiesArgs {
    #[serde(default)]
    pub enabled: bool,
}

/// `client { ... }` (Alloy's `HTTPClientArguments`).
#[derive(Clone, Deserialize)]
pub struct HttpClientArgs {
    pub endpoint: String,
    #[serde(default)]
    pub proxy_url: String,
    #[serde(default = "default_compression")]
    pub compression: String,
    #[serde(default)]
    pub compression_params: Option<CompressionParams>,
    #[serde(default)]
    pub tls: TlsClientSettings,
    #[serde(default)]
    pub read_buffer_size: ByteSize,
    #[serde(default = "default_write_buffer_size")]
    pub write_buffer_size: ByteSize,
    #[serde(default = "default_timeout")]
    pub timeout: GoDuration,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default = "default_max_idle_conns")]
    pub max_idle_conns: i64,
    #[serde(default)]
    pub max_idle_conns_per_host: i64,
    #[serde(default)]
    pub max_conns_per_host: i64,
    #[serde(default = "default_idle_conn_timeout")]
    pub idle_conn_timeout: GoDuration,
    #[serde(default)]
    pub disable_keep_alives: bool,
    #[serde(default)]
    pub http2_read_idle_timeout: GoDuration,
    #[serde(default = "default_http2_ping_timeout")]
    pub http2_ping_timeout: GoDuration,
    #[serde(default = "yes")]
    pub force_attempt_http2: bool,
    #[serde(default)]
    pub auth: Option<CapsuleOf<AuthHandlerRef>>,
    #[serde(default)]
    pub cookies: Option<CookiesArgs>,
}

#[derive(Clone, Deserialize)]
pub struct Args {
    pub client: HttpClientArgs,
    #[serde(default)]
    pub sending_queue: QueueArgs,
    #[serde(default)]
    pub retry_on_failure: RetryArgs,
    #[serde(default)]
    pub debug_metrics: DebugMetricsArgs,
    #[serde(default)]
    pub traces_endpoint: String,
    #[serde(default)]
    pub metrics_endpoint: String,
    #[serde(default)]
    pub logs_endpoint: String,
    #[serde(default = "default_encoding")]
    pub encoding: String,
}

/// How request bodies are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip(u32),
    Zstd(i32),
}

impl Args {
    pub fn validate(&self) -> Result<(), String> {
        if self.client.endpoint.is_empty()
            && self.traces_endpoint.is_empty()
            && self.metrics_endpoint.is_empty()
            && self.logs_endpoint.is_empty()
        {
            return Err("at least one endpoint must be specified".into());
        }
        if self.encoding != "proto" && self.encoding != "json" {
            return Err(format!("invalid encoding type {}", self.encoding));
        }
        self.sending_queue.validate()?;
        self.retry_on_failure.validate()?;
        self.compression()?;
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            if let Some(url) = self.url(signal) {
                reqwest::Url::parse(&url).map_err(|e| format!("endpoint {url:?}: {e}"))?;
            }
        }
        self.client
            .tls
            .validate()
            .map_err(|e| format!("client > tls: {e}"))?;
        if !self.client.proxy_url.is_empty() {
            reqwest::Proxy::all(&self.client.proxy_url)
                .map_err(|e| format!("client > proxy_url: {e}"))?;
        }
        if self.client.cookies.as_ref().is_some_and(|c| c.enabled) {
            return Err("client > cookies is not supported by Solder yet".into());
        }
        header_map(&self.client.headers)?;
        Ok(())
    }

    fn compression(&self) -> Result<Compression, String> {
        let level = self.client.compression_params.as_ref().map(|p| p.level);
        match self.client.compression.as_str() {
            "gzip" => {
                let level = match level {
                    None => 6,
                    Some(l @ 0..=9) => l as u32,
                    Some(-1) => 6,
                    Some(l) => return Err(format!("invalid compression level {l} for gzip")),
                };
                Ok(Compression::Gzip(level))
            }
            "zstd" => {
                let level = match level {
                    None => 3,
                    Some(l @ 1..=22) => l as i32,
                    Some(l) => return Err(format!("invalid compression level {l} for zstd")),
                };
                Ok(Compression::Zstd(level))
            }
            "none" | "" => Ok(Compression::None),
            c @ ("snappy" | "zlib" | "deflate") => Err(format!(
                "client > compression {c:?} is not supported by Solder yet (use gzip, zstd or none)"
            )),
            other => Err(format!("unrecognized compression type {other:?}")),
        }
    }

    /// The URL of one signal: its own endpoint, else `client.endpoint` + `/v1/<signal>`.
    fn url(&self, signal: Signal) -> Option<String> {
        let (own, path) = match signal {
            Signal::Traces => (&self.traces_endpoint, "v1/traces"),
            Signal::Metrics => (&self.metrics_endpoint, "v1/metrics"),
            Signal::Logs => (&self.logs_endpoint, "v1/logs"),
        };
        if !own.is_empty() {
            return Some(own.clone());
        }
        let base = &self.client.endpoint;
        if base.is_empty() {
            return None;
        }
        Some(if base.ends_with('/') {
            format!("{base}{path}")
        } else {
            format!("{base}/{path}")
        })
    }
}

fn header_map(headers: &BTreeMap<String, String>) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| format!("client > headers: {k:?} is not a valid header name"))?;
        let value = HeaderValue::from_str(v).map_err(|_| {
            format!("client > headers: the value of {k:?} is not a valid header value")
        })?;
        map.insert(name, value);
    }
    Ok(map)
}

/// One configured HTTP client.
pub struct HttpSender {
    id: String,
    client: reqwest::Client,
    urls: [Option<reqwest::Url>; 3],
    compression: Compression,
    json: bool,
    headers: HeaderMap,
    auth: Option<AuthHandlerRef>,
}

impl HttpSender {
    pub fn new(id: &str, args: &Args) -> Result<HttpSender, String> {
        args.validate()?;
        let c = &args.client;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("Solder/", env!("CARGO_PKG_VERSION")))
            .tcp_nodelay(true)
            .pool_idle_timeout(if c.idle_conn_timeout.0.is_zero() {
                None
            } else {
                Some(c.idle_conn_timeout.0)
            });
        if !c.timeout.0.is_zero() {
            builder = builder.timeout(c.timeout.0);
        }
        if c.disable_keep_alives {
            builder = builder.pool_max_idle_per_host(0);
        } else if c.max_idle_conns_per_host > 0 {
            builder = builder.pool_max_idle_per_host(c.max_idle_conns_per_host as usize);
        }
        if !c.proxy_url.is_empty() {
            let proxy = reqwest::Proxy::all(&c.proxy_url)
                .map_err(|e| format!("client > proxy_url: {e}"))?;
            builder = builder.proxy(proxy);
        }
        if !c.tls.insecure {
            let mut config = c
                .tls
                .client_config()
                .map_err(|e| format!("client > tls: {e}"))?;
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            builder = builder.use_preconfigured_tls(config);
        }
        let client = builder
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        let url = |s: Signal| -> Result<Option<reqwest::Url>, String> {
            args.url(s)
                .map(|u| reqwest::Url::parse(&u).map_err(|e| format!("endpoint {u:?}: {e}")))
                .transpose()
        };
        Ok(HttpSender {
            id: id.to_string(),
            client,
            urls: [
                url(Signal::Traces)?,
                url(Signal::Metrics)?,
                url(Signal::Logs)?,
            ],
            compression: args.compression()?,
            json: args.encoding == "json",
            headers: header_map(&c.headers)?,
            auth: c.auth.as_ref().map(|a| Arc::clone(&a.0)),
        })
    }

    fn body(&self, payload: &OtlpPayload) -> Result<bytes::Bytes, ConsumeError> {
        let raw: bytes::Bytes = if self.json {
            response::to_json(payload)
                .map_err(ConsumeError::Permanent)?
                .into()
        } else {
            payload.encoded.clone()
        };
        let compressed = match self.compression {
            Compression::None => return Ok(raw),
            Compression::Gzip(level) => crate::exporter::compress::gzip(&raw, level),
            Compression::Zstd(level) => crate::exporter::compress::zstd(&raw, level),
        };
        compressed
            .map(bytes::Bytes::from)
            .map_err(|e| ConsumeError::Permanent(format!("compressing the request: {e}")))
    }
}

#[async_trait::async_trait]
impl Sender for HttpSender {
    async fn send(&self, payload: &OtlpPayload) -> Result<(), ConsumeError> {
        let idx = match payload.signal {
            Signal::Traces => 0,
            Signal::Metrics => 1,
            Signal::Logs => 2,
        };
        let Some(url) = &self.urls[idx] else {
            return Err(ConsumeError::Permanent(format!(
                "no endpoint configured for {:?}",
                payload.signal
            )));
        };
        let body = self.body(payload)?;
        let mut req = self
            .client
            .post(url.clone())
            .headers(self.headers.clone())
            .header(
                CONTENT_TYPE,
                if self.json {
                    "application/json"
                } else {
                    "application/x-protobuf"
                },
            );
        match self.compression {
            Compression::None => {}
            Compression::Gzip(_) => req = req.header(CONTENT_ENCODING, "gzip"),
            Compression::Zstd(_) => req = req.header(CONTENT_ENCODING, "zstd"),
        }
        if let Some(auth) = &self.auth {
            let headers = auth.client_headers().map_err(|e| ConsumeError::Retryable {
                message: format!("auth: {e}"),
                retry_after: None,
            })?;
            for (name, value) in headers {
                req = req.header(name, value);
            }
        }
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| ConsumeError::Retryable {
                message: format!("sending to {url}: {}", error_chain(&e)),
                retry_after: None,
            })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(response::parse_retry_after);
        let bytes = resp.bytes().await.unwrap_or_default();
        if status.is_success() {
            if !self.json {
                log_partial_success(&self.id, payload.signal, &bytes);
            }
            return Ok(());
        }
        Err(response::classify(
            status.as_u16(),
            retry_after,
            url,
            &bytes,
        ))
    }
}

/// The HTTP wire client behind the shared [`SendingExporter`].
pub struct OtlpHttpProtocol;

impl SendingProtocol for OtlpHttpProtocol {
    const NAME: &'static str = "otelcol.exporter.otlphttp";
    const QUEUE_PREFIX: &'static str = "otlphttp";
    type Args = Args;

    fn validate(args: &Args) -> Result<(), String> {
        args.validate()
    }

    fn sender(id: &str, args: &Args) -> Result<SenderRef, String> {
        Ok(Arc::new(HttpSender::new(id, args)?))
    }

    fn queue_and_retry(args: Args) -> (QueueArgs, RetryArgs) {
        (args.sending_queue, args.retry_on_failure)
    }
}

pub type OtlpHttpExporter = SendingExporter<OtlpHttpProtocol>;

pub fn register(reg: &mut Registry) {
    reg.register(Typed::<OtlpHttpExporter>::new());
}

#[cfg(test)]
mod tests;
