//! One OTLP/gRPC unary call, written onto the channel by hand.
//!
//! Why not `tonic::client::Grpc::unary`: its encoder copies every message into an encode buffer
//! to put the 5-byte gRPC prefix in front of it. An exporter's message is a whole batch (often
//! several MiB), and that copy was ~5% of the agent on the OTLP pass-through path. Here the
//! prefix and the payload go to h2 as two body chunks, the payload uncopied (unless
//! compressed); h2 makes the prefix a DATA frame of its own, which the connection's write buffer
//! (`coalesce.rs`) sends in the same write as the payload's first frames. (Before that buffer
//! existed, the prefix frame was a TCP push of its own and this path measured 7% slower than
//! tonic's.) The response side is tonic's own: `Streaming` maps the HTTP status, reads the
//! status from headers or trailers and decompresses the one response message, exactly as
//! `Grpc::unary` would.

use super::codec::RawDecoder;
use bytes::{BufMut, Bytes, BytesMut};
use http::header::{CONTENT_TYPE, TE, USER_AGENT};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Method, Request, Uri, Version};
use http_body::{Body, Frame, SizeHint};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::codec::{CompressionEncoding, Streaming};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tower::{Service, ServiceExt};

/// Request headers gRPC reserves: a configured header of these names is dropped, as tonic's
/// sanitizing does (the call sets its own `te`, `content-type` and `grpc-*` values).
const RESERVED: [&str; 6] = [
    "te",
    "user-agent",
    "content-type",
    "grpc-message",
    "grpc-message-type",
    "grpc-status",
];

/// What every call of one exporter shares.
pub(super) struct CallSettings {
    /// Request compression; `None` sends the message as it is.
    pub compression: Option<CompressionEncoding>,
    /// `grpc-timeout`; zero sends none.
    pub timeout: Duration,
}

/// Why a call failed.
#[derive(Debug)]
pub(super) enum CallError {
    /// The channel could not become ready (no connection).
    Connecting(String),
    /// The call's gRPC status (or one made from a transport error, as tonic makes it).
    Status(Status),
}

impl From<Status> for CallError {
    fn from(s: Status) -> Self {
        CallError::Status(s)
    }
}

/// Sends `message` (an encoded `Export*ServiceRequest`) to `path` and returns the encoded
/// response message. `metadata` are the configured and auth headers.
pub(super) async fn unary(
    mut channel: Channel,
    path: PathAndQuery,
    message: Bytes,
    metadata: HeaderMap,
    settings: &CallSettings,
) -> Result<Bytes, CallError> {
    let (flag, message) = match settings.compression {
        None => (0u8, message),
        Some(encoding) => (1u8, compress(encoding, &message)?),
    };
    let len = u32::try_from(message.len()).map_err(|_| {
        Status::resource_exhausted(format!(
            "message of {} bytes is larger than gRPC can frame",
            message.len()
        ))
    })?;
    let mut prefix = BytesMut::with_capacity(5);
    prefix.put_u8(flag);
    prefix.put_u32(len);
    let body = PrefixedMessage {
        prefix: Some(prefix.freeze()),
        message: Some(message),
    };
    let mut request = Request::new(tonic::body::Body::new(body));
    *request.method_mut() = Method::POST;
    *request.version_mut() = Version::HTTP_2;
    // Scheme and authority are the channel's (its origin layer fills them in).
    *request.uri_mut() = Uri::from(path);
    *request.headers_mut() = request_headers(metadata, settings);

    channel
        .ready()
        .await
        .map_err(|e| CallError::Connecting(e.to_string()))?;
    let response = channel
        .call(request)
        .await
        .map_err(|e| Status::from_error(e.into()))?;
    let encoding = response_encoding(response.headers())?;
    let status_code = response.status();
    // A status in the headers is a trailers-only response: no message follows.
    let trailers_only = Status::from_header_map(response.headers());
    if let Some(status) = &trailers_only {
        if status.code() != Code::Ok {
            return Err(status.clone().into());
        }
    }
    let body = response.into_body();
    let mut stream = if trailers_only.is_some() {
        Streaming::new_empty(RawDecoder, body)
    } else {
        Streaming::new_response(RawDecoder, body, status_code, encoding, None)
    };
    let reply = stream
        .message()
        .await?
        .ok_or_else(|| Status::internal("Missing response message."))?;
    // Reading on to the trailers surfaces a failure status sent after the message.
    stream.trailers().await?;
    Ok(reply)
}

fn request_headers(metadata: HeaderMap, settings: &CallSettings) -> HeaderMap {
    let mut headers = metadata;
    for name in RESERVED {
        headers.remove(name);
    }
    headers.insert(TE, HeaderValue::from_static("trailers"));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    match settings.compression {
        Some(CompressionEncoding::Gzip) => {
            headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
        }
        Some(CompressionEncoding::Zstd) => {
            headers.insert("grpc-encoding", HeaderValue::from_static("zstd"));
        }
        _ => {}
    }
    headers.insert(
        "grpc-accept-encoding",
        HeaderValue::from_static("gzip,zstd"),
    );
    if !settings.timeout.is_zero() {
        if let Ok(v) = HeaderValue::from_str(&grpc_timeout(settings.timeout)) {
            headers.insert("grpc-timeout", v);
        }
    }
    // The channel adds its own `user-agent`; never a configured one (see RESERVED).
    debug_assert!(!headers.contains_key(USER_AGENT));
    headers
}

/// The gRPC `grpc-timeout` value: at most 8 digits, in the finest unit that fits.
fn grpc_timeout(d: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let candidates = [
        (d.as_nanos(), 'n'),
        (d.as_micros(), 'u'),
        (d.as_millis(), 'm'),
        (u128::from(d.as_secs()), 'S'),
        (u128::from(d.as_secs() / 60), 'M'),
    ];
    for (value, unit) in candidates {
        if value <= MAX {
            return format!("{value}{unit}");
        }
    }
    format!("{}H", (d.as_secs() / 3600).min(99_999_999))
}

/// The response's `grpc-encoding`, among the two this exporter accepts.
fn response_encoding(headers: &HeaderMap) -> Result<Option<CompressionEncoding>, Status> {
    match headers.get("grpc-encoding").map(HeaderValue::as_bytes) {
        None | Some(b"identity") => Ok(None),
        Some(b"gzip") => Ok(Some(CompressionEncoding::Gzip)),
        Some(b"zstd") => Ok(Some(CompressionEncoding::Zstd)),
        Some(other) => Err(Status::unimplemented(format!(
            "Content is compressed with `{}` which isn't supported",
            String::from_utf8_lossy(other)
        ))),
    }
}

/// Compresses a message at the levels tonic uses by default (gzip 6, zstd 3).
fn compress(encoding: CompressionEncoding, message: &[u8]) -> Result<Bytes, Status> {
    let compressed = match encoding {
        CompressionEncoding::Zstd => {
            crate::exporter::compress::zstd(message, zstd::DEFAULT_COMPRESSION_LEVEL)
        }
        _ => crate::exporter::compress::gzip(message, 6),
    };
    compressed
        .map(Bytes::from)
        .map_err(|e| Status::internal(format!("compressing the request: {e}")))
}

/// A request body of two chunks: the gRPC message prefix, then the message.
struct PrefixedMessage {
    prefix: Option<Bytes>,
    message: Option<Bytes>,
}

impl Body for PrefixedMessage {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = match self.prefix.take() {
            Some(prefix) => Some(prefix),
            None => self.message.take(),
        };
        Poll::Ready(next.map(|chunk| Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.message.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let len = |b: &Option<Bytes>| b.as_ref().map_or(0, |b| b.len() as u64);
        SizeHint::with_exact(len(&self.prefix) + len(&self.message))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn timeouts_use_the_finest_unit_of_at_most_eight_digits() {
        assert_eq!(grpc_timeout(Duration::from_millis(50)), "50000000n");
        assert_eq!(grpc_timeout(Duration::from_millis(500)), "500000u");
        assert_eq!(grpc_timeout(Duration::from_secs(5)), "5000000u");
        assert_eq!(grpc_timeout(Duration::from_secs(3600)), "3600000m");
        assert_eq!(grpc_timeout(Duration::from_secs(200_000)), "200000S");
        assert_eq!(grpc_timeout(Duration::from_secs(200_000_000)), "3333333M");
    }

    #[test]
    fn configured_headers_cannot_override_the_reserved_ones() {
        let mut md = HeaderMap::new();
        md.insert("content-type", HeaderValue::from_static("text/plain"));
        md.insert("user-agent", HeaderValue::from_static("mine"));
        md.insert("x-scope-orgid", HeaderValue::from_static("tenant"));
        let settings = CallSettings {
            compression: Some(CompressionEncoding::Gzip),
            timeout: Duration::from_secs(5),
        };
        let h = request_headers(md, &settings);
        assert_eq!(h["content-type"], "application/grpc");
        assert!(!h.contains_key("user-agent"));
        assert_eq!(h["x-scope-orgid"], "tenant");
        assert_eq!(h["te"], "trailers");
        assert_eq!(h["grpc-encoding"], "gzip");
        assert_eq!(h["grpc-timeout"], "5000000u");
    }

    #[test]
    fn the_body_is_the_prefix_then_the_message_uncopied() {
        let message = Bytes::from_static(b"abcdef");
        let ptr = message.as_ptr();
        let mut body = PrefixedMessage {
            prefix: Some(Bytes::from_static(&[0, 0, 0, 0, 6])),
            message: Some(message),
        };
        assert_eq!(body.size_hint().exact(), Some(11));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut chunks = Vec::new();
        while let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) {
            chunks.push(frame.into_data().unwrap());
        }
        assert!(body.is_end_stream());
        assert_eq!(chunks.len(), 2);
        assert_eq!(&chunks[0][..], &[0, 0, 0, 0, 6]);
        assert_eq!(chunks[1].as_ptr(), ptr);
    }

    #[test]
    fn unknown_response_encodings_are_unimplemented() {
        let mut h = HeaderMap::new();
        assert_eq!(response_encoding(&h).unwrap(), None);
        h.insert("grpc-encoding", HeaderValue::from_static("gzip"));
        assert_eq!(
            response_encoding(&h).unwrap(),
            Some(CompressionEncoding::Gzip)
        );
        h.insert("grpc-encoding", HeaderValue::from_static("snappy"));
        assert_eq!(
            response_encoding(&h).unwrap_err().code(),
            Code::Unimplemented
        );
    }
}
