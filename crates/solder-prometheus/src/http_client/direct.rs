//! A keep-alive HTTP/1.1 connection of the caller's own, for the common peer: plain `http`, no
//! proxy, no credentials in the URL. A scrape loop keeps one for its target (pods,
//! node_exporter, the agent's own `/metrics`); a remote-write client keeps a few for its
//! endpoint (an in-cluster Prometheus or Mimir).
//!
//! Why not reqwest for these: the same request goes to the same address over and over, and
//! reqwest's general machinery (a shared pool keyed by authority, a redirect layer that
//! re-parses the URL with IDNA on every request, a retry layer, a request builder) cost ~5% of
//! the agent's CPU at 33 scrapes/s in the end-to-end benchmark, and as much again for 17
//! remote-write requests/s: more than the HTTP exchanges themselves. Everything this path does
//! not handle goes through reqwest as before: TLS, proxies, and a redirect response when
//! `follow_redirects` is on (the request is then sent again through reqwest, which follows it).

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, HOST};
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use solder_core::error_chain;
use std::net::IpAddr;

/// Where a loop's requests go, worked out once from the target URL.
#[derive(Debug, Clone)]
pub struct DirectTarget {
    host: ConnectHost,
    port: u16,
    /// `Host` header: the URL's host and non-default port.
    host_header: HeaderValue,
    /// Origin-form request target: path and query.
    path: hyper::Uri,
}

#[derive(Debug, Clone)]
enum ConnectHost {
    Ip(IpAddr),
    Name(String),
}

impl DirectTarget {
    /// `None` when the URL needs something only reqwest does (TLS, credentials in the URL) or
    /// cannot be expressed as an HTTP/1.1 origin-form request.
    pub fn new(url: &reqwest::Url) -> Option<DirectTarget> {
        if url.scheme() != "http" || !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let host = match url.host()? {
            url::Host::Ipv4(ip) => ConnectHost::Ip(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => ConnectHost::Ip(IpAddr::V6(ip)),
            url::Host::Domain(name) => ConnectHost::Name(name.to_owned()),
        };
        let port = url.port_or_known_default()?;
        let authority = &url[url::Position::BeforeHost..url::Position::AfterPort];
        let host_header = HeaderValue::from_str(authority).ok()?;
        let path = url[url::Position::BeforePath..url::Position::AfterQuery]
            .parse::<hyper::Uri>()
            .ok()?;
        Some(DirectTarget {
            host,
            port,
            host_header,
            path,
        })
    }

    fn address(&self) -> String {
        match &self.host {
            ConnectHost::Ip(IpAddr::V6(ip)) => format!("[{ip}]:{}", self.port),
            ConnectHost::Ip(ip) => format!("{ip}:{}", self.port),
            ConnectHost::Name(name) => format!("{name}:{}", self.port),
        }
    }
}

/// Why a direct request failed; worded like Go's client errors, which Prometheus shows.
#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    #[error("dial tcp {address}: {source}")]
    Connect {
        address: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Http(#[from] hyper::Error),
    #[error("invalid request: {0}")]
    Request(#[from] hyper::http::Error),
}

type Sender = SendRequest<Full<Bytes>>;

/// One connection: idle between requests, or lent to the response being read.
#[derive(Debug, Default)]
pub struct DirectConnection {
    idle: Option<Sender>,
    /// The connection of the response being read; it becomes idle again only once that body
    /// was read to its end, so a half-read response (an error, a timeout) closes it.
    busy: Option<Sender>,
}

/// What one request sends besides the target.
pub struct DirectRequest {
    pub method: Method,
    /// Everything but `Host` (added here) and `Content-Length` (from the body).
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl DirectConnection {
    /// Sends `req`. A kept connection the server closed meanwhile is replaced; a request that
    /// fails on a reused connection before any response arrived is sent once more on a fresh
    /// one, as Go's transport does when a kept-alive connection turns out to be dead.
    pub async fn send(
        &mut self,
        target: &DirectTarget,
        mut req: DirectRequest,
    ) -> Result<hyper::Response<hyper::body::Incoming>, DirectError> {
        self.busy = None;
        req.headers.insert(HOST, target.host_header.clone());
        let reused = self.idle.as_ref().is_some_and(|s| !s.is_closed());
        if reused {
            if let Some(response) = self.try_idle(target, &req).await {
                return Ok(response);
            }
        }
        let mut sender = connect(target).await?;
        let response = sender
            .send_request(request(target, req.method, req.headers, req.body)?)
            .await?;
        self.busy = Some(sender);
        Ok(response)
    }

    /// The request on the kept connection; `None` if it failed (the caller then connects anew).
    async fn try_idle(
        &mut self,
        target: &DirectTarget,
        req: &DirectRequest,
    ) -> Option<hyper::Response<hyper::body::Incoming>> {
        let mut sender = self.idle.take()?;
        sender.ready().await.ok()?;
        let request = request(
            target,
            req.method.clone(),
            req.headers.clone(),
            req.body.clone(),
        )
        .ok()?;
        let response = sender.send_request(request).await.ok()?;
        self.busy = Some(sender);
        Some(response)
    }

    /// The body of the last response was read to its end: keep the connection for the next.
    pub fn release(&mut self) {
        if let Some(sender) = self.busy.take() {
            self.idle = Some(sender);
        }
    }
}

fn request(
    target: &DirectTarget,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<hyper::Request<Full<Bytes>>, DirectError> {
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(target.path.clone())
        .body(Full::new(body))?;
    *req.headers_mut() = headers;
    Ok(req)
}

async fn connect(target: &DirectTarget) -> Result<Sender, DirectError> {
    let stream = match &target.host {
        ConnectHost::Ip(ip) => tokio::net::TcpStream::connect((*ip, target.port)).await,
        ConnectHost::Name(name) => {
            tokio::net::TcpStream::connect((name.as_str(), target.port)).await
        }
    }
    .map_err(|source| DirectError::Connect {
        address: target.address(),
        source,
    })?;
    // Go's dialer disables Nagle too; a request is written in one go.
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // Runs until the connection closes: the server hangs up, an error, or the loop drops the
    // sender (a half-read response, the target going away).
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// A response from either transport, read the same way by its callers.
pub enum Response {
    Pooled(reqwest::Response),
    Direct(hyper::Response<hyper::body::Incoming>),
}

impl Response {
    pub fn status(&self) -> StatusCode {
        match self {
            Response::Pooled(r) => r.status(),
            Response::Direct(r) => r.status(),
        }
    }

    pub fn headers(&self) -> &HeaderMap {
        match self {
            Response::Pooled(r) => r.headers(),
            Response::Direct(r) => r.headers(),
        }
    }

    pub fn content_length(&self) -> Option<u64> {
        match self {
            Response::Pooled(r) => r.content_length(),
            Response::Direct(r) => r
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
        }
    }

    /// The next piece of the body; `None` at its end. Errors carry their whole source chain.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, String> {
        match self {
            Response::Pooled(r) => r.chunk().await.map_err(|e| error_chain(&e)),
            Response::Direct(r) => loop {
                match r.body_mut().frame().await {
                    None => return Ok(None),
                    Some(Err(e)) => return Err(error_chain(&e)),
                    // Trailers carry no body bytes.
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            return Ok(Some(data));
                        }
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Option<DirectTarget> {
        DirectTarget::new(&reqwest::Url::parse(url).unwrap())
    }

    #[test]
    fn plain_http_targets_are_direct_with_origin_form_path_and_host() {
        let t = target("http://10.0.0.1:9100/metrics?a=1&b=x%20y").unwrap();
        assert_eq!(t.path.to_string(), "/metrics?a=1&b=x%20y");
        assert_eq!(t.host_header, "10.0.0.1:9100");
        assert_eq!(t.address(), "10.0.0.1:9100");

        let t = target("http://node.example:80/m").unwrap();
        assert_eq!(
            t.host_header, "node.example",
            "the default port is not sent"
        );
        assert_eq!(t.address(), "node.example:80");

        let t = target("http://[::1]:8080/metrics").unwrap();
        assert_eq!(t.host_header, "[::1]:8080");
        assert_eq!(t.address(), "[::1]:8080");
    }

    #[test]
    fn tls_and_url_credentials_stay_with_reqwest() {
        assert!(target("https://10.0.0.1:10250/metrics").is_none());
        assert!(target("http://user:pw@10.0.0.1:9100/metrics").is_none());
        assert!(target("http://user@10.0.0.1:9100/metrics").is_none());
    }
}
