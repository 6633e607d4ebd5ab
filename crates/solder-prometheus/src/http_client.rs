//! Prometheus's common HTTP client configuration as Alloy decodes it (`basic_auth`,
//! `authorization`, `bearer_token(_file)`, `oauth2`, `tls_config`, proxy settings,
//! `follow_redirects`, `enable_http2`, `http_headers`), shared by `prometheus.scrape` and the
//! `endpoint` blocks of `prometheus.remote_write`.
//!
//! Alloy *squashes* these fields into the enclosing block, so they sit next to the component's
//! own arguments. The decoder has no `#[serde(flatten)]`, so [`http_client_fields!`] appends the
//! same field list to any argument struct and gives it an `http_client_config()` accessor.
//!
//! Runtime: [`HttpClientConfig::build`] makes an [`HttpClient`] (a `reqwest::Client` with TLS,
//! proxy, redirect and HTTP/2 settings) and [`HttpClient::authorize`] adds the credentials to
//! each request, re-reading credential files every time as Prometheus does, so a rotated token
//! is picked up without a reload. Changed `ca_file`/`cert_file`/`key_file` contents are noticed
//! within a second and the client is rebuilt ([`reload`]); the `tls_config` of an `oauth2`
//! block is read once, when the client is built (a known difference from Prometheus).

mod auth;
pub mod direct;
mod reload;
mod tls;

pub use auth::OAuth2TokenError;
pub use solder_syntax::Secret;

use reqwest::header::{HeaderName, HeaderValue};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A boolean argument whose default is `true` (`follow_redirects`, `enable_http2`). Decodes as a
/// plain bool; a newtype so the default works inside [`http_client_fields!`], where serde's
/// `default = "path"` cannot name a function through `$crate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultTrue(pub bool);

impl Default for DefaultTrue {
    fn default() -> Self {
        DefaultTrue(true)
    }
}

impl<'de> serde::Deserialize<'de> for DefaultTrue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        bool::deserialize(d).map(DefaultTrue)
    }
}

/// A boolean argument whose default is `false`, for a field [`http_client_fields!`] declares
/// whose default differs per component (`enable_http2` of remote-write endpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DefaultFalse(pub bool);

impl<'de> serde::Deserialize<'de> for DefaultFalse {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        bool::deserialize(d).map(DefaultFalse)
    }
}

/// `basic_auth` block.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct BasicAuth {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: Secret,
    #[serde(default)]
    pub password_file: String,
}

/// `authorization` block. An empty `type` means `Bearer`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Authorization {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub credentials: Secret,
    #[serde(default)]
    pub credentials_file: String,
}

/// `tls_config` block.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct TlsConfig {
    #[serde(default)]
    pub ca_pem: String,
    #[serde(default)]
    pub ca_file: String,
    #[serde(default)]
    pub cert_pem: String,
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key_pem: Secret,
    #[serde(default)]
    pub key_file: String,
    #[serde(default)]
    pub server_name: String,
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// `TLS10` … `TLS13`; empty means the default (TLS 1.2).
    #[serde(default)]
    pub min_version: String,
}

/// `oauth2` block (client-credentials grant). The proxy fields are squashed into it, as in Alloy.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct OAuth2Config {
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Secret,
    #[serde(default)]
    pub client_secret_file: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub token_url: String,
    #[serde(default)]
    pub endpoint_params: BTreeMap<String, String>,
    #[serde(default)]
    pub proxy_url: String,
    #[serde(default)]
    pub no_proxy: String,
    #[serde(default)]
    pub proxy_from_environment: bool,
    #[serde(default)]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
}

/// The proxy settings (squashed into the client config and into `oauth2`).
#[derive(Debug, Clone, Default)]
pub struct ProxyConfig {
    pub proxy_url: String,
    pub no_proxy: String,
    pub proxy_from_environment: bool,
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

/// Appends the HTTP client fields to an argument struct (Alloy's `squash` of
/// `HTTPClientConfig`) and implements `http_client_config(&self) -> HttpClientConfig` for it.
/// The struct must derive `serde::Deserialize`, and its own field list must end with a comma.
///
/// ```ignore
/// solder_prometheus::http_client_fields! {
///     #[derive(Debug, Clone, serde::Deserialize)]
///     pub struct Endpoint {
///         pub url: String,
///     }
/// }
/// ```
///
/// Prefix the struct with `@enable_http2_default_false` where Alloy defaults `enable_http2` to
/// false (the `endpoint` blocks of `prometheus.remote_write`); the field is then a
/// [`DefaultFalse`].
#[macro_export]
macro_rules! http_client_fields {
    (@enable_http2_default_false $(#[$meta:meta])* $vis:vis struct $name:ident { $($fields:tt)* }) => {
        $crate::http_client_fields! {
            @with_http2_type [$crate::http_client::DefaultFalse]
            $(#[$meta])* $vis struct $name { $($fields)* }
        }
    };
    (@with_http2_type [$http2:ty] $(#[$meta:meta])* $vis:vis struct $name:ident { $($fields:tt)* }) => {
        $(#[$meta])*
        $vis struct $name {
            $($fields)*
            #[serde(default)]
            pub basic_auth: ::core::option::Option<$crate::http_client::BasicAuth>,
            #[serde(default)]
            pub authorization: ::core::option::Option<$crate::http_client::Authorization>,
            #[serde(default)]
            pub oauth2: ::core::option::Option<$crate::http_client::OAuth2Config>,
            #[serde(default)]
            pub bearer_token: $crate::http_client::Secret,
            #[serde(default)]
            pub bearer_token_file: ::std::string::String,
            #[serde(default)]
            pub proxy_url: ::std::string::String,
            #[serde(default)]
            pub no_proxy: ::std::string::String,
            #[serde(default)]
            pub proxy_from_environment: bool,
            #[serde(default)]
            pub proxy_connect_header: ::std::collections::BTreeMap<
                ::std::string::String,
                ::std::vec::Vec<$crate::http_client::Secret>,
            >,
            #[serde(default)]
            pub tls_config: $crate::http_client::TlsConfig,
            #[serde(default)]
            pub follow_redirects: $crate::http_client::DefaultTrue,
            #[serde(default)]
            pub enable_http2: $http2,
            #[serde(default)]
            pub http_headers: ::std::collections::BTreeMap<
                ::std::string::String,
                ::std::vec::Vec<$crate::http_client::Secret>,
            >,
        }

        impl $name {
            /// The squashed HTTP client fields as one value.
            pub fn http_client_config(&self) -> $crate::http_client::HttpClientConfig {
                $crate::http_client::HttpClientConfig {
                    basic_auth: self.basic_auth.clone(),
                    authorization: self.authorization.clone(),
                    oauth2: self.oauth2.clone(),
                    bearer_token: self.bearer_token.clone(),
                    bearer_token_file: self.bearer_token_file.clone(),
                    proxy_url: self.proxy_url.clone(),
                    no_proxy: self.no_proxy.clone(),
                    proxy_from_environment: self.proxy_from_environment,
                    proxy_connect_header: self.proxy_connect_header.clone(),
                    tls_config: self.tls_config.clone(),
                    follow_redirects: self.follow_redirects,
                    enable_http2: $crate::http_client::DefaultTrue(self.enable_http2.0),
                    http_headers: self.http_headers.clone(),
                }
            }
        }
    };
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($fields:tt)* }) => {
        $crate::http_client_fields! {
            @with_http2_type [$crate::http_client::DefaultTrue]
            $(#[$meta])* $vis struct $name { $($fields)* }
        }
    };
}

http_client_fields! {
    /// Prometheus's `HTTPClientConfig` with Alloy's field names and defaults
    /// (`follow_redirects` and `enable_http2` default to true).
    #[derive(Debug, Clone, Default, serde::Deserialize)]
    pub struct HttpClientConfig {}
}

/// Why an HTTP client could not be built, or a request could not be authorized.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    #[error("{0}")]
    Invalid(String),
    #[error("unable to read {what} file {path:?}: {source}")]
    ReadFile {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("tls_config: {0}")]
    Tls(String),
    #[error("building the HTTP client failed: {0}")]
    Build(#[source] reqwest::Error),
    #[error("oauth2: {0}")]
    OAuth2(#[from] OAuth2TokenError),
}

/// Headers Prometheus does not let `http_headers` set, because the client or the protocol owns
/// them (lower-case; compared case-insensitively).
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-prometheus-scrape-timeout-seconds",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "upgrade",
];

/// The TLS versions Alloy accepts for `min_version`.
const TLS_VERSIONS: &[&str] = &["TLS10", "TLS11", "TLS12", "TLS13"];

impl BasicAuth {
    pub fn validate(&self) -> Result<(), String> {
        if !self.password.expose().is_empty() && !self.password_file.is_empty() {
            return Err(
                "at most one of basic_auth password & password_file must be configured".into(),
            );
        }
        Ok(())
    }
}

impl Authorization {
    pub fn validate(&self) -> Result<(), String> {
        if !self.credentials.expose().is_empty() && !self.credentials_file.is_empty() {
            return Err(
                "at most one of authorization credentials & credentials_file must be configured"
                    .into(),
            );
        }
        if self.kind.trim().eq_ignore_ascii_case("basic") {
            return Err(
                r#"authorization type cannot be set to "basic", use "basic_auth" block instead"#
                    .into(),
            );
        }
        Ok(())
    }

    /// The scheme sent in the header: the trimmed `type`, `Bearer` when empty.
    pub fn scheme(&self) -> &str {
        match self.kind.trim() {
            "" => "Bearer",
            t => t,
        }
    }
}

impl TlsConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !self.ca_pem.is_empty() && !self.ca_file.is_empty() {
            return Err("at most one of ca_pem and ca_file must be configured".into());
        }
        if !self.cert_pem.is_empty() && !self.cert_file.is_empty() {
            return Err("at most one of cert_pem and cert_file must be configured".into());
        }
        if !self.key_pem.expose().is_empty() && !self.key_file.is_empty() {
            return Err("at most one of key_pem and key_file must be configured".into());
        }
        let has_cert = !self.cert_pem.is_empty() || !self.cert_file.is_empty();
        let has_key = !self.key_pem.expose().is_empty() || !self.key_file.is_empty();
        if has_cert && !has_key {
            return Err("exactly one of key_pem or key_file must be configured when a client certificate is configured".into());
        }
        if has_key && !has_cert {
            return Err("exactly one of cert_pem or cert_file must be configured when a client key is configured".into());
        }
        if !self.min_version.is_empty() && !TLS_VERSIONS.contains(&self.min_version.as_str()) {
            return Err(format!("unknown TLS version: {}", self.min_version));
        }
        Ok(())
    }
}

impl ProxyConfig {
    /// Alloy's `ProxyConfig.Validate`, same order and messages.
    pub fn validate(&self) -> Result<(), String> {
        if !self.proxy_url.is_empty() {
            reqwest::Url::parse(&self.proxy_url)
                .map_err(|e| format!("invalid proxy_url {:?}: {e}", self.proxy_url))?;
        }
        if !self.proxy_connect_header.is_empty()
            && !self.proxy_from_environment
            && self.proxy_url.is_empty()
        {
            return Err("if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured".into());
        }
        if self.proxy_from_environment && !self.proxy_url.is_empty() {
            return Err(
                "if proxy_from_environment is configured, proxy_url must not be configured".into(),
            );
        }
        if self.proxy_from_environment && !self.no_proxy.is_empty() {
            return Err(
                "if proxy_from_environment is configured, no_proxy must not be configured".into(),
            );
        }
        if self.proxy_url.is_empty() && !self.no_proxy.is_empty() {
            return Err("if no_proxy is configured, proxy_url must also be configured".into());
        }
        for name in self.proxy_connect_header.keys() {
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid proxy_connect_header name {name:?}"))?;
        }
        Ok(())
    }
}

impl OAuth2Config {
    pub fn proxy(&self) -> ProxyConfig {
        ProxyConfig {
            proxy_url: self.proxy_url.clone(),
            no_proxy: self.no_proxy.clone(),
            proxy_from_environment: self.proxy_from_environment,
            proxy_connect_header: self.proxy_connect_header.clone(),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.client_id.is_empty() {
            return Err("oauth2 client_id must be configured".into());
        }
        if self.client_secret.expose().is_empty() && self.client_secret_file.is_empty() {
            return Err(
                "either oauth2 client_secret or client_secret_file must be configured".into(),
            );
        }
        if self.token_url.is_empty() {
            return Err("oauth2 token_url must be configured".into());
        }
        if !self.client_secret.expose().is_empty() && !self.client_secret_file.is_empty() {
            return Err(
                "at most one of oauth2 client_secret & client_secret_file must be configured"
                    .into(),
            );
        }
        reqwest::Url::parse(&self.token_url)
            .map_err(|e| format!("invalid oauth2 token_url {:?}: {e}", self.token_url))?;
        if let Some(tls) = &self.tls_config {
            tls.validate()?;
        }
        self.proxy().validate()
    }
}

impl HttpClientConfig {
    pub fn proxy(&self) -> ProxyConfig {
        ProxyConfig {
            proxy_url: self.proxy_url.clone(),
            no_proxy: self.no_proxy.clone(),
            proxy_from_environment: self.proxy_from_environment,
            proxy_connect_header: self.proxy_connect_header.clone(),
        }
    }

    /// Alloy's checks: every block's own `Validate` (Alloy runs them while decoding, so they
    /// come first), then the client's (one auth method, headers, proxy).
    pub fn validate(&self) -> Result<(), String> {
        if let Some(b) = &self.basic_auth {
            b.validate()?;
        }
        if let Some(a) = &self.authorization {
            a.validate()?;
        }
        if let Some(o) = &self.oauth2 {
            o.validate()?;
        }
        self.tls_config.validate()?;

        let auth_count = [
            self.basic_auth.is_some(),
            self.authorization.is_some(),
            self.oauth2.is_some(),
            !self.bearer_token.expose().is_empty(),
            !self.bearer_token_file.is_empty(),
        ]
        .iter()
        .filter(|set| **set)
        .count();
        if auth_count > 1 {
            return Err("at most one of basic_auth, authorization, oauth2, bearer_token & bearer_token_file must be configured".into());
        }
        for (name, values) in &self.http_headers {
            if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(format!("setting header {name:?} is not allowed"));
            }
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name {name:?}"))?;
            for v in values {
                HeaderValue::from_str(v.expose())
                    .map_err(|_| format!("invalid value for header {name:?}"))?;
            }
        }
        self.proxy().validate()
    }

    /// Builds the client. `timeout` is the whole-request timeout (`None`: the caller sets one per
    /// request, as scrapes do). Validates first, so a config that skipped `validate` still
    /// cannot build a client that silently ignores a setting.
    pub fn build(
        &self,
        user_agent: &str,
        timeout: Option<Duration>,
    ) -> Result<HttpClient, HttpClientError> {
        self.validate().map_err(HttpClientError::Invalid)?;
        let client = reload::ClientSlot::new(reload::ClientParams {
            tls: self.tls_config.clone(),
            proxy: self.proxy(),
            user_agent: user_agent.to_owned(),
            timeout,
            follow_redirects: self.follow_redirects.0,
            enable_http2: self.enable_http2.0,
        })?;
        let mut headers = Vec::new();
        for (name, values) in &self.http_headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpClientError::Invalid(format!("invalid header name {name:?}")))?;
            for v in values {
                let mut hv = HeaderValue::from_str(v.expose()).map_err(|_| {
                    HttpClientError::Invalid(format!("invalid value for header {name:?}"))
                })?;
                hv.set_sensitive(true);
                headers.push((n.clone(), hv));
            }
        }
        let auth = auth::Authenticator::new(self, user_agent)?;
        let proxy = self.proxy();
        Ok(HttpClient {
            client: Arc::new(client),
            auth: Arc::new(auth),
            headers: Arc::new(headers),
            proxied: proxy.proxy_from_environment || !proxy.proxy_url.is_empty(),
            follow_redirects: self.follow_redirects.0,
        })
    }
}

/// A `reqwest::Client` with the TLS, proxy, redirect and HTTP version settings applied; shared
/// by the main client and the OAuth2 token client.
fn base_client(
    tls: &TlsConfig,
    proxy: &ProxyConfig,
    user_agent: &str,
    timeout: Option<Duration>,
    follow_redirects: bool,
    enable_http2: bool,
) -> Result<reqwest::Client, HttpClientError> {
    let mut tls_config = tls::client_config(tls)?;
    // reqwest takes a preconfigured rustls config as it is, ALPN included, so the protocols
    // offered are set here. As in Go's client, HTTP/2 is only ever negotiated over TLS (no
    // prior-knowledge h2c), and `enable_http2 = false` pins HTTP/1.1 on every connection.
    tls_config.alpn_protocols = if enable_http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(tls_config)
        .user_agent(user_agent)
        .redirect(if follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        });
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    if !enable_http2 {
        builder = builder.http1_only();
    }
    // reqwest reads HTTP(S)_PROXY by default; Prometheus only does with proxy_from_environment.
    if !proxy.proxy_from_environment {
        builder = builder.no_proxy();
        if !proxy.proxy_url.is_empty() {
            let mut p = reqwest::Proxy::all(&proxy.proxy_url).map_err(HttpClientError::Build)?;
            p = p.no_proxy(reqwest::NoProxy::from_string(&proxy.no_proxy));
            if !proxy.proxy_connect_header.is_empty() {
                let mut map = reqwest::header::HeaderMap::new();
                for (name, values) in &proxy.proxy_connect_header {
                    let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                        HttpClientError::Invalid(format!("invalid proxy_connect_header {name:?}"))
                    })?;
                    for v in values {
                        let hv = HeaderValue::from_str(v.expose()).map_err(|_| {
                            HttpClientError::Invalid(format!(
                                "invalid value for proxy_connect_header {name:?}"
                            ))
                        })?;
                        map.append(n.clone(), hv);
                    }
                }
                p = p.headers(map);
            }
            builder = builder.proxy(p);
        }
    }
    builder.build().map_err(HttpClientError::Build)
}

/// A built client: the transport plus the per-request credentials. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    client: Arc<reload::ClientSlot>,
    auth: Arc<auth::Authenticator>,
    headers: Arc<Vec<(HeaderName, HeaderValue)>>,
    /// A proxy may apply (`proxy_url` or `proxy_from_environment`): requests must go through
    /// reqwest, which implements proxies and `no_proxy`.
    proxied: bool,
    follow_redirects: bool,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    /// The underlying transport (TLS, proxy, redirects, user agent, timeout). A handle (cheap
    /// to clone): take it per request, since it is replaced when the TLS files change.
    pub fn client(&self) -> reqwest::Client {
        self.client.get()
    }

    /// Adds `http_headers` and the configured credentials to a request built on [`Self::client`].
    /// Credential files are read now; an OAuth2 token is fetched, or reused until it expires.
    pub async fn authorize(
        &self,
        mut req: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, HttpClientError> {
        for (n, v) in self.headers.iter() {
            req = req.header(n.clone(), v.clone());
        }
        self.auth.apply(req).await
    }

    /// Appends `http_headers` and the configured credentials to `headers`, as
    /// [`Self::authorize`] does to a request, for requests sent without reqwest.
    pub async fn add_credentials(
        &self,
        headers: &mut reqwest::header::HeaderMap,
    ) -> Result<(), HttpClientError> {
        for (n, v) in self.headers.iter() {
            headers.append(n.clone(), v.clone());
        }
        if let Some(value) = self.auth.authorization().await? {
            headers.append(reqwest::header::AUTHORIZATION, value);
        }
        Ok(())
    }

    /// Whether a plain `http` request may be sent on a connection of the caller's own (no
    /// proxy can apply to it). TLS, proxies and redirects stay with [`Self::client`].
    pub fn allows_direct_http(&self) -> bool {
        !self.proxied
    }

    /// `follow_redirects`.
    pub fn follows_redirects(&self) -> bool {
        self.follow_redirects
    }

    /// `client().get(url)` with headers and credentials applied.
    pub async fn get(&self, url: reqwest::Url) -> Result<reqwest::RequestBuilder, HttpClientError> {
        self.authorize(self.client().get(url)).await
    }

    /// `client().post(url)` with headers and credentials applied.
    pub async fn post(
        &self,
        url: reqwest::Url,
    ) -> Result<reqwest::RequestBuilder, HttpClientError> {
        self.authorize(self.client().post(url)).await
    }
}
