//! Per-request credentials. Secrets given as files are read for every request (trimmed, as
//! Prometheus does), so rotating a file needs no reload. OAuth2 uses the client-credentials
//! grant; the token is cached until shortly before it expires, or until the client secret (file)
//! changes.

use super::{base_client, HttpClientConfig, HttpClientError, OAuth2Config};
use base64::Engine as _;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use std::time::{Duration, Instant};

/// A token is refreshed this long before it expires (golang.org/x/oauth2's expiry delta), so
/// a request never leaves with a token that expires on the way.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);

/// How much of a failed token response is quoted in the error.
const ERROR_BODY_EXCERPT: usize = 512;

/// Why an OAuth2 token could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum OAuth2TokenError {
    #[error("token request to {url} failed: {message}")]
    Request { url: String, message: String },
    #[error("token endpoint {url} returned HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("token endpoint {url} returned an unusable response: {message}")]
    Response { url: String, message: String },
}

/// One secret, inline or from a file read on each use.
#[derive(Debug, Clone)]
enum SecretSource {
    Inline(String),
    File(String),
}

impl SecretSource {
    fn new(inline: &str, file: &str) -> Self {
        if file.is_empty() {
            SecretSource::Inline(inline.to_owned())
        } else {
            SecretSource::File(file.to_owned())
        }
    }

    async fn read(&self, what: &'static str) -> Result<String, HttpClientError> {
        match self {
            SecretSource::Inline(s) => Ok(s.clone()),
            SecretSource::File(path) => tokio::fs::read_to_string(path)
                .await
                .map(|s| s.trim().to_owned())
                .map_err(|source| HttpClientError::ReadFile {
                    what,
                    path: path.clone(),
                    source,
                }),
        }
    }
}

enum Method {
    None,
    Basic {
        username: String,
        password: SecretSource,
    },
    /// `authorization`, `bearer_token` and `bearer_token_file` (Alloy turns the latter two into
    /// an `authorization` of type Bearer).
    Header {
        scheme: String,
        credentials: SecretSource,
    },
    OAuth2(Box<OAuth2>),
}

pub(crate) struct Authenticator {
    method: Method,
}

impl Authenticator {
    pub(crate) fn new(cfg: &HttpClientConfig, user_agent: &str) -> Result<Self, HttpClientError> {
        let method = if let Some(b) = &cfg.basic_auth {
            Method::Basic {
                username: b.username.clone(),
                password: SecretSource::new(b.password.expose(), &b.password_file),
            }
        } else if let Some(a) = &cfg.authorization {
            Method::Header {
                scheme: a.scheme().to_owned(),
                credentials: SecretSource::new(a.credentials.expose(), &a.credentials_file),
            }
        } else if !cfg.bearer_token.expose().is_empty() || !cfg.bearer_token_file.is_empty() {
            Method::Header {
                scheme: "Bearer".to_owned(),
                credentials: SecretSource::new(cfg.bearer_token.expose(), &cfg.bearer_token_file),
            }
        } else if let Some(o) = &cfg.oauth2 {
            Method::OAuth2(Box::new(OAuth2::new(o, user_agent, cfg.enable_http2.0)?))
        } else {
            Method::None
        };
        Ok(Authenticator { method })
    }

    pub(crate) async fn apply(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, HttpClientError> {
        Ok(match self.authorization().await? {
            Some(value) => req.header(AUTHORIZATION, value),
            None => req,
        })
    }

    /// The `Authorization` header value, if any credentials are configured (marked sensitive).
    pub(crate) async fn authorization(&self) -> Result<Option<HeaderValue>, HttpClientError> {
        let value = match &self.method {
            Method::None => return Ok(None),
            Method::Basic { username, password } => {
                let password = password.read("basic_auth password").await?;
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{username}:{password}"))
                )
            }
            Method::Header {
                scheme,
                credentials,
            } => {
                let creds = credentials.read("authorization credentials").await?;
                format!("{scheme} {creds}")
            }
            Method::OAuth2(o) => o.authorization().await?,
        };
        let mut hv = HeaderValue::from_str(&value).map_err(|_| {
            HttpClientError::Invalid(
                "credentials contain characters not allowed in a header".into(),
            )
        })?;
        hv.set_sensitive(true);
        Ok(Some(hv))
    }
}

struct CachedToken {
    header: String,
    /// The client secret the token was obtained with; a changed secret file invalidates it.
    secret: String,
    refresh_at: Option<Instant>,
}

struct OAuth2 {
    client: reqwest::Client,
    client_id: String,
    secret: SecretSource,
    token_url: String,
    form: Vec<(String, String)>,
    cache: tokio::sync::Mutex<Option<CachedToken>>,
}

impl OAuth2 {
    fn new(
        cfg: &OAuth2Config,
        user_agent: &str,
        enable_http2: bool,
    ) -> Result<Self, HttpClientError> {
        let tls = cfg.tls_config.clone().unwrap_or_default();
        let client = base_client(
            &tls,
            &cfg.proxy(),
            user_agent,
            Some(Duration::from_secs(30)),
            true,
            enable_http2,
        )?;
        let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
        if !cfg.scopes.is_empty() {
            form.push(("scope".to_owned(), cfg.scopes.join(" ")));
        }
        for (k, v) in &cfg.endpoint_params {
            form.push((k.clone(), v.clone()));
        }
        Ok(OAuth2 {
            client,
            client_id: cfg.client_id.clone(),
            secret: SecretSource::new(cfg.client_secret.expose(), &cfg.client_secret_file),
            token_url: cfg.token_url.clone(),
            form,
            cache: tokio::sync::Mutex::new(None),
        })
    }

    /// The `Authorization` header value, from the cache or a fresh token. The lock is held
    /// across the fetch so concurrent requests share one token request.
    async fn authorization(&self) -> Result<String, HttpClientError> {
        let secret = self.secret.read("oauth2 client_secret").await?;
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            let fresh = c.refresh_at.is_none_or(|at| Instant::now() < at);
            if fresh && c.secret == secret {
                return Ok(c.header.clone());
            }
        }
        let token = self.fetch(&secret).await?;
        let header = token.header.clone();
        *cache = Some(token);
        Ok(header)
    }

    async fn fetch(&self, secret: &str) -> Result<CachedToken, OAuth2TokenError> {
        let url = self.token_url.clone();
        let started = Instant::now();
        // RFC 6749 §2.3.1: id and secret are form-encoded before going into Basic auth.
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            query_escape(&self.client_id),
            query_escape(secret)
        ));
        let resp = self
            .client
            .post(&url)
            .header(AUTHORIZATION, format!("Basic {basic}"))
            .form(&self.form)
            .send()
            .await
            .map_err(|e| OAuth2TokenError::Request {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| OAuth2TokenError::Request {
            url: url.clone(),
            message: e.to_string(),
        })?;
        if !status.is_success() {
            let end = body.len().min(ERROR_BODY_EXCERPT);
            return Err(OAuth2TokenError::Status {
                url,
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body[..end]).trim_end().to_owned(),
            });
        }
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| OAuth2TokenError::Response {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let access = json
            .get("access_token")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| OAuth2TokenError::Response {
                url: url.clone(),
                message: "no access_token".into(),
            })?;
        let kind = json
            .get("token_type")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        // Some servers send expires_in as a string.
        let expires_in = json.get("expires_in").and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        });
        let refresh_at = expires_in
            .filter(|s| *s > 0)
            .map(|s| (started + Duration::from_secs(s)).checked_sub(EXPIRY_MARGIN))
            .map(|at| at.unwrap_or(started));
        Ok(CachedToken {
            header: format!("{} {access}", token_scheme(kind)),
            secret: secret.to_owned(),
            refresh_at,
        })
    }
}

/// The scheme for a `token_type`, normalised as golang.org/x/oauth2 does.
fn token_scheme(kind: &str) -> String {
    if kind.is_empty() || kind.eq_ignore_ascii_case("bearer") {
        "Bearer".into()
    } else if kind.eq_ignore_ascii_case("mac") {
        "MAC".into()
    } else if kind.eq_ignore_ascii_case("basic") {
        "Basic".into()
    } else {
        kind.to_owned()
    }
}

/// `application/x-www-form-urlencoded` escaping of one value (Go's `url.QueryEscape`).
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_escape_matches_go() {
        assert_eq!(query_escape("abc-_.~09"), "abc-_.~09");
        assert_eq!(query_escape("a b"), "a+b");
        assert_eq!(query_escape("a:b/c?d&é"), "a%3Ab%2Fc%3Fd%26%C3%A9");
    }

    #[test]
    fn token_scheme_normalises() {
        assert_eq!(token_scheme(""), "Bearer");
        assert_eq!(token_scheme("bearer"), "Bearer");
        assert_eq!(token_scheme("MAC"), "MAC");
        assert_eq!(token_scheme("mac"), "MAC");
        assert_eq!(token_scheme("DPoP"), "DPoP");
    }
}
