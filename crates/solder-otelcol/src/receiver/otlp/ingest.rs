//! What both servers do with a request once its body is in protobuf form: validate and count
//! it ([`crate::wire::count_items`]), hand it to the `output` consumers, count the outcome, and
//! map failures to the OTLP status codes (opentelemetry-proto `docs/specification.md`,
//! "Failures"; the Collector's `GetStatusFromError` / `GetHTTPStatusCodeFromStatus`).

use super::metrics::{ReceiverMetrics, Transport};
use crate::component_util::current_shared;
use crate::output::Output;
use bytes::Bytes;
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::{OtlpPayload, Signal};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// gRPC status codes used here (google.rpc.Code).
pub mod code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// The advice given to a client refused for a transient reason without a downstream hint.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why a request was not accepted.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The request body is not a valid OTLP request (400 / INVALID_ARGUMENT).
    BadData(String),
    /// A downstream consumer did not take the data.
    Consumer(ConsumeError),
    /// The server-side `auth` extension refused the credentials (401 / UNAUTHENTICATED).
    Unauthenticated(String),
}

impl Refusal {
    pub fn grpc_code(&self) -> i32 {
        match self {
            Refusal::BadData(_) | Refusal::Consumer(ConsumeError::Permanent(_)) => {
                code::INVALID_ARGUMENT
            }
            Refusal::Consumer(ConsumeError::Overloaded { .. }) => code::RESOURCE_EXHAUSTED,
            Refusal::Consumer(ConsumeError::Retryable { .. }) => code::UNAVAILABLE,
            Refusal::Unauthenticated(_) => code::UNAUTHENTICATED,
        }
    }

    pub fn http_status(&self) -> u16 {
        match self.grpc_code() {
            code::INVALID_ARGUMENT => 400,
            code::RESOURCE_EXHAUSTED => 429,
            code::UNAVAILABLE => 503,
            code::UNAUTHENTICATED => 401,
            _ => 500,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refusal::BadData(m) => m.clone(),
            Refusal::Consumer(e) => e.to_string(),
            Refusal::Unauthenticated(m) => m.clone(),
        }
    }

    /// The retry delay to advertise: only for retryable refusals.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Refusal::Consumer(e) if e.is_retryable() => {
                Some(e.retry_after().unwrap_or(DEFAULT_RETRY_AFTER))
            }
            _ => None,
        }
    }

    /// The encoded `google.rpc.Status` for this refusal, with a `google.rpc.RetryInfo` detail
    /// when a retry delay is advertised.
    pub fn status_protobuf(&self) -> Vec<u8> {
        encode_status(self.grpc_code(), &self.message(), self.retry_after())
    }

    /// The `google.rpc.Status` in protobuf JSON.
    pub fn status_json(&self) -> Vec<u8> {
        serde_json::json!({"code": self.grpc_code(), "message": self.message()})
            .to_string()
            .into_bytes()
    }
}

fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes_field(number: u64, bytes: &[u8], out: &mut Vec<u8>) {
    put_varint(number << 3 | 2, out);
    put_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// `google.rpc.Status { code = 1; message = 2; repeated Any details = 3 }`.
pub fn encode_status(code: i32, message: &str, retry_after: Option<Duration>) -> Vec<u8> {
    let mut out = Vec::new();
    if code != 0 {
        put_varint(1 << 3, &mut out);
        put_varint(i64::from(code) as u64, &mut out);
    }
    if !message.is_empty() {
        put_bytes_field(2, message.as_bytes(), &mut out);
    }
    if let Some(delay) = retry_after {
        // google.protobuf.Duration { int64 seconds = 1; int32 nanos = 2 }
        let mut duration = Vec::new();
        put_varint(1 << 3, &mut duration);
        put_varint(delay.as_secs(), &mut duration);
        if delay.subsec_nanos() != 0 {
            put_varint(2 << 3, &mut duration);
            put_varint(u64::from(delay.subsec_nanos()), &mut duration);
        }
        // google.rpc.RetryInfo { Duration retry_delay = 1 }
        let mut retry_info = Vec::new();
        put_bytes_field(1, &duration, &mut retry_info);
        // google.protobuf.Any { string type_url = 1; bytes value = 2 }
        let mut any = Vec::new();
        put_bytes_field(1, b"type.googleapis.com/google.rpc.RetryInfo", &mut any);
        put_bytes_field(2, &retry_info, &mut any);
        put_bytes_field(3, &any, &mut out);
    }
    out
}

/// The shared core of both servers. `output` is swapped on update without restarting servers.
pub struct Ingest {
    output: RwLock<Arc<Output>>,
    metrics: ReceiverMetrics,
}

impl Ingest {
    pub fn new(output: Output, metrics: ReceiverMetrics) -> Self {
        Ingest {
            output: RwLock::new(Arc::new(output)),
            metrics,
        }
    }

    pub fn set_output(&self, output: Output) {
        let mut guard = match self.output.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(output);
    }

    fn output(&self) -> Arc<Output> {
        current_shared(&self.output)
    }

    /// Validate, count and deliver one encoded `Export*ServiceRequest`. `Ok` only after every
    /// consumer accepted it.
    pub async fn export(
        &self,
        signal: Signal,
        encoded: Bytes,
        transport: Transport,
    ) -> Result<(), Refusal> {
        let items = crate::wire::count_items(signal, &encoded)
            .map_err(|e| Refusal::BadData(format!("invalid OTLP request: {e}")))?;
        if items == 0 {
            // As the Collector: an empty request succeeds without reaching the pipeline.
            return Ok(());
        }
        let output = self.output();
        let payload = OtlpPayload {
            signal,
            encoded,
            items,
        };
        match output.consume(payload).await {
            Ok(()) => {
                self.metrics.record(signal, transport, items, true);
                Ok(())
            }
            Err(e) => {
                self.metrics.record(signal, transport, items, false);
                Err(Refusal::Consumer(e))
            }
        }
    }
}
