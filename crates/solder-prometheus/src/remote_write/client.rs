//! The HTTP side of remote write 1.0: one POST per encoded request, and the classification of
//! the outcome into "retry later" and "drop the batch", following Prometheus' remote client.

use crate::http_client::direct::{DirectConnection, DirectRequest, DirectTarget, Response};
use crate::http_client::{BasicAuth, HttpClient, HttpClientConfig, HttpClientError, Secret};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use solder_core::error_chain;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The protocol version header value for remote write 1.0.
pub const REMOTE_WRITE_VERSION: &str = "0.1.0";

/// How much of an error response body is quoted in the error message.
const ERROR_BODY_EXCERPT: usize = 512;

/// How much of a success response body is read (and discarded) so the connection can be reused.
const SUCCESS_BODY_DRAIN: usize = 64 * 1024;

/// Everything a client needs to reach one endpoint.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub url: String,
    /// Whole-request timeout (`remote_timeout`).
    pub timeout: Duration,
    /// Extra headers from config; the protocol headers are set after these and take precedence.
    pub headers: Vec<(String, String)>,
    pub user_agent: String,
    pub basic_auth: Option<(String, String)>,
    pub bearer_token: Option<String>,
    /// `queue_config.retry_on_http_429`: if false, a 429 drops the batch like any other 4xx.
    pub retry_on_http_429: bool,
}

/// Why a client could not be built from its options.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    #[error("invalid remote write url {url:?}: {message}")]
    InvalidUrl { url: String, message: String },
    #[error("invalid header name {0:?}")]
    InvalidHeaderName(String),
    #[error("invalid value for header {0:?}")]
    InvalidHeaderValue(String),
    #[error("at most one of basic_auth and bearer_token must be configured")]
    ConflictingAuth,
    #[error("{0}")]
    HttpClient(#[source] HttpClientError),
}

/// The outcome of a failed send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try the same request again later: network errors, timeouts, 5xx, and 429 when
    /// configured. `retry_after` is the server's `Retry-After`, if it sent a usable one.
    #[error("retryable remote write failure: {message}")]
    Retryable {
        status: Option<u16>,
        retry_after: Option<Duration>,
        message: String,
    },
    /// The server refused the data itself; resending it cannot help, so the batch is dropped.
    #[error("remote write rejected: {message}")]
    Permanent { status: u16, message: String },
}

impl SendError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, SendError::Retryable { .. })
    }
}

/// Sends already-encoded (snappy-compressed protobuf) requests to one endpoint.
#[derive(Debug, Clone)]
pub struct RemoteWriteClient {
    http: HttpClient,
    url: reqwest::Url,
    headers: HeaderMap,
    retry_on_http_429: bool,
    /// Set when the endpoint is plain `http` and no proxy applies: requests then go on
    /// connections of the client's own (`idle`, one per concurrent send at most).
    direct: Option<DirectTarget>,
    idle: Arc<Mutex<Vec<DirectConnection>>>,
    user_agent: Option<HeaderValue>,
    timeout: Duration,
}

impl RemoteWriteClient {
    /// A client with only basic auth or a bearer token (no TLS or proxy settings).
    pub fn new(opts: ClientOptions) -> Result<Self, ClientBuildError> {
        if opts.basic_auth.is_some() && opts.bearer_token.is_some() {
            return Err(ClientBuildError::ConflictingAuth);
        }
        let config = HttpClientConfig {
            basic_auth: opts.basic_auth.as_ref().map(|(u, p)| BasicAuth {
                username: u.clone(),
                password: Secret::new(p.clone()),
                password_file: String::new(),
            }),
            bearer_token: Secret::new(opts.bearer_token.clone().unwrap_or_default()),
            ..HttpClientConfig::default()
        };
        Self::with_http_client(&config, &opts)
    }

    /// A client with the full shared HTTP client configuration; `opts.basic_auth` and
    /// `opts.bearer_token` are ignored (credentials come from `config`).
    pub fn with_http_client(
        config: &HttpClientConfig,
        opts: &ClientOptions,
    ) -> Result<Self, ClientBuildError> {
        let url = reqwest::Url::parse(&opts.url).map_err(|e| ClientBuildError::InvalidUrl {
            url: opts.url.clone(),
            message: e.to_string(),
        })?;
        let mut headers = HeaderMap::new();
        for (name, value) in &opts.headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ClientBuildError::InvalidHeaderName(name.clone()))?;
            let v = HeaderValue::from_str(value)
                .map_err(|_| ClientBuildError::InvalidHeaderValue(name.clone()))?;
            headers.insert(n, v);
        }
        let fixed: [(HeaderName, &str); 3] = [
            (reqwest::header::CONTENT_ENCODING, "snappy"),
            (reqwest::header::CONTENT_TYPE, "application/x-protobuf"),
            (
                HeaderName::from_static("x-prometheus-remote-write-version"),
                REMOTE_WRITE_VERSION,
            ),
        ];
        for (name, value) in fixed {
            headers.insert(name, HeaderValue::from_static(value));
        }
        let http = config
            .build(&opts.user_agent, Some(opts.timeout))
            .map_err(ClientBuildError::HttpClient)?;
        let direct = DirectTarget::new(&url).filter(|_| http.allows_direct_http());
        Ok(RemoteWriteClient {
            http,
            url,
            headers,
            retry_on_http_429: opts.retry_on_http_429,
            direct,
            idle: Arc::new(Mutex::new(Vec::new())),
            user_agent: HeaderValue::from_str(&opts.user_agent).ok(),
            timeout: opts.timeout,
        })
    }

    /// POSTs one compressed `WriteRequest`. `Ok` means the endpoint answered 2xx.
    pub async fn send(&self, body: Bytes) -> Result<(), SendError> {
        if let Some(target) = &self.direct {
            if let Some(result) = self.send_direct(target, body.clone()).await {
                return result;
            }
        }
        let req = self
            .http
            .client()
            .post(self.url.clone())
            .headers(self.headers.clone())
            .body(body);
        // A credentials file that cannot be read now may be back for the next attempt.
        let req = self
            .http
            .authorize(req)
            .await
            .map_err(|e| SendError::Retryable {
                status: None,
                retry_after: None,
                message: e.to_string(),
            })?;
        let resp = req.send().await.map_err(|e| retryable(error_chain(&e)))?;
        self.outcome(Response::Pooled(resp)).await.0
    }

    /// The POST on one of the client's own connections, under `remote_timeout`. `None`: the
    /// endpoint redirected and `follow_redirects` is on, so reqwest is to send it again.
    async fn send_direct(
        &self,
        target: &DirectTarget,
        body: Bytes,
    ) -> Option<Result<(), SendError>> {
        let mut headers = self.headers.clone();
        if let Some(ua) = &self.user_agent {
            headers.insert(USER_AGENT, ua.clone());
        }
        if let Err(e) = self.http.add_credentials(&mut headers).await {
            return Some(Err(retryable(e.to_string())));
        }
        let mut connection = lock(&self.idle).pop().unwrap_or_default();
        let request = DirectRequest {
            method: reqwest::Method::POST,
            headers,
            body,
        };
        let work = async {
            let resp = connection
                .send(target, request)
                .await
                .map_err(|e| retryable(format!("Post {:?}: {e}", self.url.as_str())))?;
            if resp.status().is_redirection() && self.http.follows_redirects() {
                return Ok(None);
            }
            let (result, read_to_end) = self.outcome(Response::Direct(resp)).await;
            if read_to_end {
                connection.release();
            }
            Ok(Some(result))
        };
        let result = match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(Some(result))) => result,
            Ok(Ok(None)) => return None,
            Ok(Err(e)) => Err(e),
            Err(_) => Err(retryable(format!(
                "Post {:?}: context deadline exceeded",
                self.url.as_str()
            ))),
        };
        lock(&self.idle).push(connection);
        Some(result)
    }

    /// Classifies a response; also says whether its body was read to the end (the connection
    /// can then be reused).
    async fn outcome(&self, mut resp: Response) -> (Result<(), SendError>, bool) {
        let status = resp.status();
        if status.is_success() {
            let ended = drain(&mut resp, SUCCESS_BODY_DRAIN).await;
            return (Ok(()), ended);
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let (excerpt, ended) = read_excerpt(&mut resp).await;
        let message = format!("server returned HTTP status {status}: {excerpt}");
        let code = status.as_u16();
        let result = if status.is_server_error() || (code == 429 && self.retry_on_http_429) {
            Err(SendError::Retryable {
                status: Some(code),
                retry_after,
                message,
            })
        } else {
            Err(SendError::Permanent {
                status: code,
                message,
            })
        };
        (result, ended)
    }
}

fn retryable(message: String) -> SendError {
    SendError::Retryable {
        status: None,
        retry_after: None,
        message,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads the start of an error body for the log message; a body that fails to arrive only
/// shortens the excerpt, it does not change how the status is classified. Also says whether
/// the body ended within the excerpt.
async fn read_excerpt(resp: &mut Response) -> (String, bool) {
    let mut buf = Vec::new();
    let mut ended = false;
    while buf.len() < ERROR_BODY_EXCERPT {
        match resp.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            Ok(None) => {
                ended = true;
                break;
            }
            Err(_) => break,
        }
    }
    buf.truncate(ERROR_BODY_EXCERPT);
    (String::from_utf8_lossy(&buf).trim_end().to_owned(), ended)
}

/// Reads and discards up to `limit` bytes of body; whether the body ended.
async fn drain(resp: &mut Response, limit: usize) -> bool {
    let mut seen = 0;
    while seen < limit {
        match resp.chunk().await {
            Ok(Some(chunk)) => seen += chunk.len(),
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
    false
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). A date in
/// the past means "now" (zero). Unparseable values give `None`, and the caller's own backoff
/// applies.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_imf_fixdate(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses the preferred HTTP-date form, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_imf_fixdate(s: &str) -> Option<SystemTime> {
    let mut parts = s.split_ascii_whitespace();
    let weekday = parts.next()?;
    if !weekday.ends_with(',') {
        return None;
    }
    let day: u32 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let hour: u64 = hms.next()?.parse().ok()?;
    let minute: u64 = hms.next()?.parse().ok()?;
    let second: u64 = hms.next()?.parse().ok()?;
    if parts.next()? != "GMT" || parts.next().is_some() || hms.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 || year < 1970 {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Exponential backoff between retries of one request: starts at `min`, doubles per retry,
/// capped at `max` (Prometheus' `min_backoff`/`max_backoff`).
#[derive(Debug, Clone)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max,
            current: min,
        }
    }

    /// The delay before the next attempt. Not an `Iterator`: the sequence never ends, and an
    /// `Option` would only add an unwrap at every call site.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Duration {
        let delay = self.current.min(self.max);
        self.current = delay.saturating_mul(2).min(self.max);
        delay
    }

    /// Back to `min`, after a success.
    pub fn reset(&mut self) {
        self.current = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        // 1994-11-06T08:49:37Z
        let then = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after("3", then), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(" 120 ", then),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", then),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", then),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Mon, 07 Nov 1994 08:49:37 GMT", then),
            Some(Duration::from_secs(86_400))
        );
        // Leap day, and a date in the past.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29T00:00:00Z
        assert_eq!(
            parse_retry_after("Tue, 29 Feb 2000 00:00:10 GMT", leap),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", leap),
            Some(Duration::ZERO)
        );
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
        ] {
            assert_eq!(parse_retry_after(bad, then), None, "{bad:?}");
        }
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(30), ms(200));
        let got: Vec<_> = (0..6).map(|_| b.next()).collect();
        assert_eq!(
            got,
            vec![ms(30), ms(60), ms(120), ms(200), ms(200), ms(200)]
        );
        b.reset();
        assert_eq!(b.next(), ms(30));
    }
}
