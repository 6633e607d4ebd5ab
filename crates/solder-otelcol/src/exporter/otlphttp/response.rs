//! OTLP/HTTP responses: which failures are retried (OTLP spec, "Failures": 429, 502, 503, 504,
//! honouring `Retry-After`), the error text from a `google.rpc.Status` body, and the JSON body
//! encoding.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::{OtlpPayload, Signal};
use std::time::{Duration, SystemTime};

/// The part of `google.rpc.Status` an error message needs.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatusMessage {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub(super) fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// What the body says about the failure: a Status message, else (a prefix of) the text.
fn body_message(body: &[u8]) -> String {
    if let Ok(status) = RpcStatusMessage::decode(body) {
        if !status.message.is_empty() {
            return status.message;
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(256) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

pub(super) fn classify(
    status: u16,
    retry_after: Option<Duration>,
    url: &reqwest::Url,
    body: &[u8],
) -> ConsumeError {
    let message = format!(
        "error exporting items, request to {url} responded with HTTP Status Code {status}, Message={}",
        body_message(body)
    );
    match status {
        429 | 502 | 503 | 504 => ConsumeError::Retryable {
            message,
            retry_after,
        },
        _ => ConsumeError::Permanent(message),
    }
}

/// The OTLP/JSON encoding of the payload.
pub(super) fn to_json(payload: &OtlpPayload) -> Result<Vec<u8>, String> {
    let bytes = payload.encoded.as_ref();
    let decode_err = |e: prost::DecodeError| format!("payload is not valid OTLP protobuf: {e}");
    let json = match payload.signal {
        Signal::Traces => {
            serde_json::to_vec(&ExportTraceServiceRequest::decode(bytes).map_err(decode_err)?)
        }
        Signal::Metrics => {
            serde_json::to_vec(&ExportMetricsServiceRequest::decode(bytes).map_err(decode_err)?)
        }
        Signal::Logs => {
            serde_json::to_vec(&ExportLogsServiceRequest::decode(bytes).map_err(decode_err)?)
        }
    };
    json.map_err(|e| format!("encoding JSON: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let d = parse_retry_after(&later).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn statuses_per_otlp_spec() {
        let url = reqwest::Url::parse("http://x/v1/traces").unwrap();
        for s in [429, 502, 503, 504] {
            assert!(classify(s, None, &url, b"").is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 500, 501] {
            assert!(!classify(s, None, &url, b"").is_retryable(), "{s}");
        }
        let err = classify(503, Some(Duration::from_secs(3)), &url, b"busy");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
        let status = RpcStatusMessage {
            code: 3,
            message: "bad span".into(),
        }
        .encode_to_vec();
        assert!(classify(400, None, &url, &status)
            .to_string()
            .contains("bad span"));
    }
}
