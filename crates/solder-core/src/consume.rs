//! `ConsumeError`: what a receiver handle returns when it did not take the data (DESIGN.md §4).
//! `Ok` from a handle means the data is durable or delivered.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsumeError {
    /// A transient failure downstream; the sender should retry (after `retry_after` if given).
    #[error("temporarily unable to accept data: {message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The data itself is bad; retrying cannot help. Maps to HTTP 400 / gRPC INVALID_ARGUMENT.
    #[error("data rejected: {0}")]
    Permanent(String),
    /// A bounded queue or the memory limiter refused the data. HTTP 429 / gRPC RESOURCE_EXHAUSTED.
    #[error("overloaded: {message}")]
    Overloaded {
        message: String,
        retry_after: Option<Duration>,
    },
}

impl ConsumeError {
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ConsumeError::Permanent(_))
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConsumeError::Retryable { retry_after, .. }
            | ConsumeError::Overloaded { retry_after, .. } => *retry_after,
            ConsumeError::Permanent(_) => None,
        }
    }

    /// Combine the errors of a fan-out: a permanent error wins (retrying would resend to the
    /// receivers that succeeded, and still fail), then overload, then retryable.
    pub fn worst(a: ConsumeError, b: ConsumeError) -> ConsumeError {
        fn rank(e: &ConsumeError) -> u8 {
            match e {
                ConsumeError::Permanent(_) => 2,
                ConsumeError::Overloaded { .. } => 1,
                ConsumeError::Retryable { .. } => 0,
            }
        }
        if rank(&b) > rank(&a) {
            b
        } else {
            a
        }
    }
}

/// Await every future of a fan-out and succeed only if all succeeded.
pub async fn join_all_ok<F>(futs: impl IntoIterator<Item = F>) -> Result<(), ConsumeError>
where
    F: std::future::Future<Output = Result<(), ConsumeError>>,
{
    let results = futures::future::join_all(futs).await;
    let mut err: Option<ConsumeError> = None;
    for r in results {
        if let Err(e) = r {
            err = Some(match err {
                Some(prev) => ConsumeError::worst(prev, e),
                None => e,
            });
        }
    }
    err.map_or(Ok(()), Err)
}
