//! Classifying an OTLP/gRPC export failure as retryable or permanent (OTLP spec, "Failures"):
//! UNAVAILABLE, ABORTED, CANCELLED, DEADLINE_EXCEEDED, OUT_OF_RANGE and DATA_LOSS are retried;
//! RESOURCE_EXHAUSTED only when the server attached a `google.rpc.RetryInfo` (its delay is
//! honoured); every other code is permanent.

use prost::Message;
use solder_core::consume::ConsumeError;
use std::time::Duration;
use tonic::Code;

/// `google.rpc.Status`, as carried in the `grpc-status-details-bin` trailer.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// The server's requested delay, if its status details carry a RetryInfo.
fn retry_info(details: &[u8]) -> Option<Duration> {
    let status = RpcStatus::decode(details).ok()?;
    let any = status
        .details
        .iter()
        .find(|a| a.type_url == RETRY_INFO_TYPE)?;
    let info = RetryInfo::decode(any.value.as_slice()).ok()?;
    let d = info.retry_delay.unwrap_or_default();
    let secs = u64::try_from(d.seconds).unwrap_or(0);
    let nanos = u32::try_from(d.nanos).unwrap_or(0);
    Some(Duration::new(secs, nanos.min(999_999_999)))
}

/// Map a failed export call to the consume error the sending loop acts on.
pub(super) fn classify(status: &tonic::Status) -> ConsumeError {
    let message = format!(
        "rpc error: code = {:?} desc = {}",
        status.code(),
        status.message()
    );
    let delay = retry_info(status.details());
    match status.code() {
        Code::Unavailable
        | Code::Aborted
        | Code::Cancelled
        | Code::DeadlineExceeded
        | Code::OutOfRange
        | Code::DataLoss => ConsumeError::Retryable {
            message,
            retry_after: delay,
        },
        Code::ResourceExhausted if delay.is_some() => ConsumeError::Retryable {
            message,
            retry_after: delay,
        },
        _ => ConsumeError::Permanent(message),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn details_with_delay(secs: i64) -> Vec<u8> {
        let info = RetryInfo {
            retry_delay: Some(ProtoDuration {
                seconds: secs,
                nanos: 0,
            }),
        };
        RpcStatus {
            code: Code::ResourceExhausted as i32,
            message: "slow down".into(),
            details: vec![Any {
                type_url: RETRY_INFO_TYPE.into(),
                value: info.encode_to_vec(),
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn codes_per_otlp_spec() {
        let retryable = [
            Code::Unavailable,
            Code::Aborted,
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::OutOfRange,
            Code::DataLoss,
        ];
        let permanent = [
            Code::InvalidArgument,
            Code::NotFound,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::Unimplemented,
            Code::Internal,
            Code::Unknown,
            Code::FailedPrecondition,
            Code::AlreadyExists,
            Code::ResourceExhausted,
        ];
        for code in retryable {
            assert!(
                classify(&tonic::Status::new(code, "x")).is_retryable(),
                "{code:?}"
            );
        }
        for code in permanent {
            assert!(
                !classify(&tonic::Status::new(code, "x")).is_retryable(),
                "{code:?}"
            );
        }
    }

    #[test]
    fn resource_exhausted_with_retry_info_is_retried_after_delay() {
        let status = tonic::Status::with_details(
            Code::ResourceExhausted,
            "slow down",
            details_with_delay(7).into(),
        );
        let err = classify(&status);
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    }
}
