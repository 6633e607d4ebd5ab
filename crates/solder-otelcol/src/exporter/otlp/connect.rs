//! The TLS transport for the gRPC channel: TCP, then rustls with the `tls` block's config (ALPN
//! `h2`), giving the exporter full control of roots, client certificates, `server_name` and
//! `insecure_skip_verify`, which tonic's own TLS options do not offer.

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
pub(crate) struct TlsTcpConnector {
    tls: TlsConnector,
    /// SNI and verification name; the URI host when unset.
    server_name: Option<ServerName<'static>>,
}

impl TlsTcpConnector {
    pub(crate) fn new(
        mut config: rustls::ClientConfig,
        server_name: Option<ServerName<'static>>,
    ) -> Self {
        config.alpn_protocols = vec![b"h2".to_vec()];
        TlsTcpConnector {
            tls: TlsConnector::from(Arc::new(config)),
            server_name,
        }
    }
}

impl tower::Service<http::Uri> for TlsTcpConnector {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let tls = self.tls.clone();
        let fixed = self.server_name.clone();
        Box::pin(async move {
            let host = uri
                .host()
                .ok_or_else(|| format!("endpoint {uri} has no host"))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = uri.port_u16().unwrap_or(443);
            let name = match fixed {
                Some(n) => n,
                None => ServerName::try_from(host.clone())
                    .map_err(|e| format!("{host:?} is not a valid TLS server name: {e}"))?,
            };
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            let _ = tcp.set_nodelay(true);
            let stream = tls.connect(name, tcp).await?;
            Ok(TokioIo::new(stream))
        })
    }
}
