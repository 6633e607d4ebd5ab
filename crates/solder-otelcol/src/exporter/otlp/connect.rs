//! The gRPC channel's transport: TCP with the exporter's write buffer (`coalesce`), then, unless
//! `tls.insecure`, rustls with the `tls` block's config (ALPN `h2`). Doing TLS here rather than
//! through tonic's options gives the exporter full control of roots, client certificates,
//! `server_name` and `insecure_skip_verify`; the write buffer sits under TLS so that it gathers
//! the encrypted records.

use super::coalesce::Coalescing;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_util::either::Either;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A connection: plain or TLS, over TCP with the write buffer.
pub(crate) type Transport = Either<Coalescing<TcpStream>, Box<TlsStream<Coalescing<TcpStream>>>>;

#[derive(Clone)]
struct Tls {
    connector: TlsConnector,
    /// SNI and verification name; the URI host when unset.
    server_name: Option<ServerName<'static>>,
}

#[derive(Clone)]
pub(crate) struct Connector {
    write_buffer_size: usize,
    tls: Option<Tls>,
}

impl Connector {
    pub(crate) fn plain(write_buffer_size: usize) -> Self {
        Connector {
            write_buffer_size,
            tls: None,
        }
    }

    pub(crate) fn tls(
        write_buffer_size: usize,
        mut config: rustls::ClientConfig,
        server_name: Option<ServerName<'static>>,
    ) -> Self {
        config.alpn_protocols = vec![b"h2".to_vec()];
        Connector {
            write_buffer_size,
            tls: Some(Tls {
                connector: TlsConnector::from(Arc::new(config)),
                server_name,
            }),
        }
    }
}

impl tower::Service<http::Uri> for Connector {
    type Response = TokioIo<Transport>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let tls = self.tls.clone();
        let write_buffer_size = self.write_buffer_size;
        Box::pin(async move {
            let host = uri
                .host()
                .ok_or_else(|| format!("endpoint {uri} has no host"))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            // Without a port, the scheme's (as tonic's own connector did for plain text).
            let port = uri
                .port_u16()
                .unwrap_or(if tls.is_some() { 443 } else { 80 });
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            // The channel's own TCP options apply only to tonic's connector; this is it here.
            // Nagle would hold back the tail of every write the write buffer makes.
            let _ = tcp.set_nodelay(true);
            let tcp = Coalescing::new(tcp, write_buffer_size);
            let Some(tls) = tls else {
                return Ok(TokioIo::new(Either::Left(tcp)));
            };
            let name = match tls.server_name {
                Some(n) => n,
                None => ServerName::try_from(host.clone())
                    .map_err(|e| format!("{host:?} is not a valid TLS server name: {e}"))?,
            };
            let stream = tls.connector.connect(name, tcp).await?;
            Ok(TokioIo::new(Either::Right(Box::new(stream))))
        })
    }
}
