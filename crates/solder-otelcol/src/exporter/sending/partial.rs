//! OTLP `partial_success` in export responses: the server took the request but rejected some
//! items. Retrying cannot help (the OTLP spec forbids it), so the rejection is logged.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use solder_core::signals::otlp::Signal;

/// Rejected item count and message of an encoded `Export*ServiceResponse` (None when the
/// response reports full success or cannot be decoded).
pub fn partial_success(signal: Signal, response: &[u8]) -> Option<(i64, String)> {
    let (rejected, message) = match signal {
        Signal::Traces => {
            let p = ExportTraceServiceResponse::decode(response)
                .ok()?
                .partial_success?;
            (p.rejected_spans, p.error_message)
        }
        Signal::Metrics => {
            let p = ExportMetricsServiceResponse::decode(response)
                .ok()?
                .partial_success?;
            (p.rejected_data_points, p.error_message)
        }
        Signal::Logs => {
            let p = ExportLogsServiceResponse::decode(response)
                .ok()?
                .partial_success?;
            (p.rejected_log_records, p.error_message)
        }
    };
    (rejected != 0 || !message.is_empty()).then_some((rejected, message))
}

/// Logs a partial success, if the response reports one.
pub fn log_partial_success(component_id: &str, signal: Signal, response: &[u8]) {
    if let Some((rejected, message)) = partial_success(signal, response) {
        tracing::warn!(
            component_id,
            rejected,
            message = %message,
            "Partial success response from the OTLP endpoint"
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;

    #[test]
    fn reads_rejected_counts() {
        let full = ExportTraceServiceResponse::default().encode_to_vec();
        assert_eq!(partial_success(Signal::Traces, &full), None);
        let partial = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "too old".into(),
            }),
        }
        .encode_to_vec();
        assert_eq!(
            partial_success(Signal::Traces, &partial),
            Some((3, "too old".to_string()))
        );
        assert_eq!(partial_success(Signal::Traces, b"\xff\xff"), None);
    }
}
