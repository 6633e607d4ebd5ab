//! One scrape request: the headers Prometheus sends, the response read under the body size
//! limit, gzip inflated here (so the limit applies to the uncompressed size, as in Prometheus).

use crate::http_client::direct::{DirectConnection, DirectRequest, DirectTarget, Response};
use crate::http_client::HttpClient;
use bytes::Bytes;
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE,
    USER_AGENT,
};
use reqwest::{Method, StatusCode};
use solder_core::error_chain;
use std::io::Read;
use std::time::Duration;

/// Protocols Solder can parse, with the media type Prometheus advertises for each.
pub const PROTOCOL_HEADERS: [(&str, &str); 4] = [
    ("PrometheusText0.0.4", "text/plain;version=0.0.4"),
    ("PrometheusText1.0.0", "text/plain;version=1.0.0"),
    (
        "OpenMetricsText0.0.1",
        "application/openmetrics-text;version=0.0.1",
    ),
    (
        "OpenMetricsText1.0.0",
        "application/openmetrics-text;version=1.0.0",
    ),
];

/// Prometheus's protobuf protocol: accepted by Alloy, refused by Solder's validation.
pub const PROTOBUF_PROTOCOL: &str = "PrometheusProto";

/// The media type of a scrape protocol name, if Solder knows it.
pub fn protocol_media_type(protocol: &str) -> Option<&'static str> {
    PROTOCOL_HEADERS
        .iter()
        .find(|(name, _)| *name == protocol)
        .map(|(_, header)| *header)
}

/// The `Accept` header for `protocols` in preference order, as Prometheus's `acceptHeader`:
/// descending `q` weights from `0.<n+1>` (n = the number of known protocols, 5 with protobuf),
/// the `escaping` parameter on the 1.0.0 text formats, and `*/*` last.
pub fn accept_header(protocols: &[String], escaping_scheme: &str) -> String {
    // Prometheus knows five protocols (protobuf included); the weights start above that count.
    let mut weight = PROTOCOL_HEADERS.len() + 2;
    let mut parts: Vec<String> = Vec::with_capacity(protocols.len() + 1);
    for p in protocols {
        let Some(media) = protocol_media_type(p) else {
            continue;
        };
        let mut v = media.to_string();
        if p == "PrometheusText1.0.0" || p == "OpenMetricsText1.0.0" {
            v.push_str(";escaping=");
            v.push_str(escaping_scheme);
        }
        v.push_str(&format!(";q=0.{weight}"));
        parts.push(v);
        weight = weight.saturating_sub(1);
    }
    parts.push(format!("*/*;q=0.{weight}"));
    parts.join(",")
}

/// Why a scrape request failed (messages as Prometheus/Go print them).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("Get {url:?}: context deadline exceeded")]
    Timeout { url: String },
    #[error("Get {url:?}: {message}")]
    Request { url: String, message: String },
    #[error("server returned HTTP status {0}")]
    Status(String),
    #[error("body size limit exceeded")]
    BodySizeLimit,
    #[error("gzip: {0}")]
    Gzip(std::io::Error),
    #[error("{0}")]
    Auth(String),
}

/// Headers and stored blocks can make a gzip stream slightly longer than what it inflates to.
const GZIP_SLACK: u64 = 64 * 1024;

/// The most a response's `Content-Length` reserves up front.
const MAX_PREALLOCATED_BODY: u64 = 16 << 20;

/// What one scrape request sends.
#[derive(Debug, Clone)]
pub struct FetchRequest<'a> {
    pub url: &'a str,
    /// `url` parsed once by the caller (a loop requests the same URL every interval; parsing
    /// it, IDNA host normalisation included, per request was a visible share of a scrape).
    /// `None`: parsed here, so a URL that does not parse fails exactly as before.
    pub parsed_url: Option<&'a reqwest::Url>,
    /// Set when the URL can be requested on the loop's own connection ([`DirectTarget::new`]).
    pub direct: Option<&'a DirectTarget>,
    /// The loop's fixed headers ([`scrape_headers`]); credentials are added per request.
    pub headers: &'a HeaderMap,
    pub timeout: Duration,
    /// 0 = no limit.
    pub body_size_limit: u64,
}

/// The headers every scrape of a loop sends, built once: `Accept`, `Accept-Encoding` (`gzip`
/// with enable_compression, else `identity`), `User-Agent` and Prometheus's timeout header.
pub fn scrape_headers(
    accept: &str,
    accept_encoding: &str,
    user_agent: &str,
    timeout: Duration,
) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(8);
    let pairs = [
        (ACCEPT, accept.to_owned()),
        (ACCEPT_ENCODING, accept_encoding.to_owned()),
        (USER_AGENT, user_agent.to_owned()),
    ];
    for (name, value) in pairs {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&format_seconds(timeout)) {
        headers.insert(TIMEOUT_HEADER, v);
    }
    headers
}

const TIMEOUT_HEADER: HeaderName = HeaderName::from_static("x-prometheus-scrape-timeout-seconds");

/// A successful response: the uncompressed body and its `Content-Type`.
#[derive(Debug, Clone)]
pub struct FetchedBody {
    pub body: Vec<u8>,
    pub content_type: String,
}

/// GETs the target under the scrape timeout, with the client's headers and credentials: on
/// the loop's own connection when the request allows it, else through reqwest.
pub async fn fetch(
    client: &HttpClient,
    req: &FetchRequest<'_>,
    connection: &mut DirectConnection,
) -> Result<FetchedBody, FetchError> {
    let work = async {
        if let Some(target) = req.direct.filter(|_| client.allows_direct_http()) {
            let mut headers = req.headers.clone();
            client
                .add_credentials(&mut headers)
                .await
                .map_err(|e| FetchError::Auth(e.to_string()))?;
            let request = DirectRequest {
                method: Method::GET,
                headers,
                body: Bytes::new(),
            };
            let response =
                connection
                    .send(target, request)
                    .await
                    .map_err(|e| FetchError::Request {
                        url: req.url.to_string(),
                        message: e.to_string(),
                    })?;
            // Redirects are reqwest's to follow: the request is sent again through it.
            if !(response.status().is_redirection() && client.follows_redirects()) {
                let body = read_response(Response::Direct(response), req).await?;
                connection.release();
                return Ok(body);
            }
        }
        let builder = match req.parsed_url {
            Some(url) => client.client().get(url.clone()),
            None => client.client().get(req.url),
        };
        let builder = client
            .authorize(builder.headers(req.headers.clone()))
            .await
            .map_err(|e| FetchError::Auth(e.to_string()))?;
        let response = builder.send().await.map_err(|e| FetchError::Request {
            url: req.url.to_string(),
            message: error_chain(&e),
        })?;
        read_response(Response::Pooled(response), req).await
    };
    match tokio::time::timeout(req.timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout {
            url: req.url.to_string(),
        }),
    }
}

/// Go's `strconv.FormatFloat(seconds, 'f', -1, 64)`: `10`, `0.5`, `1.25`.
pub fn format_seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    let text = format!("{s}");
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

async fn read_response(
    mut response: Response,
    req: &FetchRequest<'_>,
) -> Result<FetchedBody, FetchError> {
    let status = response.status();
    if status != StatusCode::OK {
        return Err(FetchError::Status(status.to_string()));
    }
    let headers = response.headers();
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    // reqwest removes the header when it inflated the body itself (its gzip feature).
    let gzipped = headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    let limit = if req.body_size_limit == 0 {
        u64::MAX
    } else {
        req.body_size_limit
    };
    // Sized from Content-Length when the server sends one, so the body is not copied again on
    // every doubling; capped, since the header is the target's word, not a promise.
    let expected = response
        .content_length()
        .unwrap_or(0)
        .min(limit)
        .min(MAX_PREALLOCATED_BODY);
    let mut raw: Vec<u8> = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|message| FetchError::Request {
                url: req.url.to_string(),
                message,
            })?;
        let Some(chunk) = chunk else { break };
        raw.extend_from_slice(&chunk);
        // Uncompressed: the limit applies to these bytes. Compressed: the inflated size is
        // checked below.
        if !gzipped && raw.len() as u64 >= limit {
            return Err(FetchError::BodySizeLimit);
        }
        // Gzip output is never much larger than its input, so a compressed stream this long
        // inflates past the limit for sure; stop reading it.
        if gzipped && raw.len() as u64 >= limit.saturating_add(GZIP_SLACK) {
            return Err(FetchError::BodySizeLimit);
        }
    }
    let body = if gzipped {
        inflate_limited(&raw, limit)?
    } else {
        raw
    };
    Ok(FetchedBody { body, content_type })
}

/// Inflates a gzip body, failing once `limit` uncompressed bytes are reached (Prometheus fails
/// a body of exactly the limit too: it reads at most `limit` bytes and then cannot tell).
pub fn inflate_limited(compressed: &[u8], limit: u64) -> Result<Vec<u8>, FetchError> {
    let mut decoder = flate2::read::GzDecoder::new(compressed).take(limit);
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(4));
    decoder.read_to_end(&mut out).map_err(FetchError::Gzip)?;
    if out.len() as u64 >= limit {
        return Err(FetchError::BodySizeLimit);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_accept_header_matches_prometheus() {
        let protocols: Vec<String> = [
            "OpenMetricsText1.0.0",
            "OpenMetricsText0.0.1",
            "PrometheusText1.0.0",
            "PrometheusText0.0.4",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            accept_header(&protocols, "underscores"),
            "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,\
             application/openmetrics-text;version=0.0.1;q=0.5,\
             text/plain;version=1.0.0;escaping=underscores;q=0.4,\
             text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        );
        assert_eq!(
            accept_header(&["PrometheusText0.0.4".to_string()], "underscores"),
            "text/plain;version=0.0.4;q=0.6,*/*;q=0.5"
        );
    }

    #[test]
    fn timeout_header_formats_like_go() {
        assert_eq!(format_seconds(Duration::from_secs(10)), "10");
        assert_eq!(format_seconds(Duration::from_millis(500)), "0.5");
        assert_eq!(format_seconds(Duration::from_millis(1250)), "1.25");
    }

    #[test]
    fn gzip_limit_applies_to_inflated_size() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&[b'a'; 1000]).unwrap();
        let gz = enc.finish().unwrap();
        assert!(gz.len() < 100);
        assert_eq!(inflate_limited(&gz, 2000).unwrap().len(), 1000);
        assert!(matches!(
            inflate_limited(&gz, 1000),
            Err(FetchError::BodySizeLimit)
        ));
        assert!(matches!(
            inflate_limited(b"not gzip", 1000),
            Err(FetchError::Gzip(_))
        ));
    }
}
