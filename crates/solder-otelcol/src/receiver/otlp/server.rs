//! Starting and stopping the two servers: binding, the accept loops (plain or TLS), and the
//! hand-off of connections to tonic (gRPC) or hyper (HTTP/1.1).

use super::config::{Args, GrpcServerArgs, HttpServerArgs};
use super::grpc::{ExportServer, GrpcShared, LogsKind, MetricsKind, TraceKind};
use super::http::{router, HttpShared};
use super::ingest::Ingest;
use super::BoundAddrs;
use solder_core::ComponentError;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long a TLS handshake may take before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long stopping waits for in-flight requests before abandoning them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);

/// The server part of the arguments: what a restart is needed for.
pub struct Servers {
    pub grpc: Option<GrpcServerArgs>,
    pub http: Option<HttpServerArgs>,
}

fn same_auth(
    a: &Option<solder_syntax::types::CapsuleOf<crate::auth::AuthHandlerRef>>,
    b: &Option<solder_syntax::types::CapsuleOf<crate::auth::AuthHandlerRef>>,
) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => Arc::ptr_eq(&x.0, &y.0),
        _ => false,
    }
}

impl Servers {
    pub fn from_args(args: &Args) -> Self {
        Servers {
            grpc: args.grpc.clone(),
            http: args.http.clone(),
        }
    }

    /// Whether running servers for `self` also serve `other` unchanged. TLS settings are not
    /// compared (certificates may have changed on disk): a TLS server always restarts.
    pub fn same_as(&self, other: &Servers) -> bool {
        let grpc = match (&self.grpc, &other.grpc) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.tls.is_none()
                    && b.tls.is_none()
                    && a.endpoint == b.endpoint
                    && a.transport == b.transport
                    && a.max_recv_msg_size == b.max_recv_msg_size
                    && a.max_concurrent_streams == b.max_concurrent_streams
                    && a.read_buffer_size == b.read_buffer_size
                    && a.write_buffer_size == b.write_buffer_size
                    && a.keepalive == b.keepalive
                    && a.include_metadata == b.include_metadata
                    && same_auth(&a.auth, &b.auth)
            }
            _ => false,
        };
        let http = match (&self.http, &other.http) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.tls.is_none()
                    && b.tls.is_none()
                    && a.endpoint == b.endpoint
                    && a.cors == b.cors
                    && a.max_request_body_size == b.max_request_body_size
                    && a.include_metadata == b.include_metadata
                    && a.compression_algorithms == b.compression_algorithms
                    && a.keep_alives_enabled == b.keep_alives_enabled
                    && a.idle_timeout == b.idle_timeout
                    && a.read_timeout == b.read_timeout
                    && a.write_timeout == b.write_timeout
                    && a.read_header_timeout == b.read_header_timeout
                    && a.traces_url_path == b.traces_url_path
                    && a.metrics_url_path == b.metrics_url_path
                    && a.logs_url_path == b.logs_url_path
                    && same_auth(&a.auth, &b.auth)
            }
            _ => false,
        };
        grpc && http
    }
}

/// Go accepts `:4317` for "all interfaces".
fn bind_address(endpoint: &str) -> String {
    if endpoint.starts_with(':') {
        format!("0.0.0.0{endpoint}")
    } else {
        endpoint.to_string()
    }
}

async fn bind(what: &str, endpoint: &str) -> Result<(TcpListener, SocketAddr), ComponentError> {
    let listener = TcpListener::bind(bind_address(endpoint))
        .await
        .map_err(|e| ComponentError::io(format!("{what} server: binding {endpoint}"), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ComponentError::io(format!("{what} server: local address"), e))?;
    Ok((listener, addr))
}

/// An accepted connection, plain or TLS, read through a buffer (see `read_buffer_capacity`).
pub enum Conn {
    Plain(BufReader<TcpStream>),
    Tls(Box<BufReader<tokio_rustls::server::TlsStream<TcpStream>>>),
}

/// The read buffer of the gRPC server's connections: grpc-go puts a reader of
/// `read_buffer_size` (Alloy's default 512 KiB; 0 turns it off) between the socket and its
/// HTTP/2 framer, and so does Solder. h2 asks its connection for 8 KiB at a time, so without it
/// a 387 KB request took ~48 `recvfrom` calls; with it one call takes whatever the socket holds
/// and h2's small reads are served from memory. One read never takes more than the socket holds
/// (a few MiB at most), so a larger setting would only reserve address space.
fn read_buffer_capacity(args: &GrpcServerArgs) -> usize {
    const MAX: u64 = 16 << 20;
    usize::try_from(args.read_buffer_size.0.min(MAX)).unwrap_or(usize::MAX)
}

/// Wraps a stream in a read buffer of `capacity` bytes. A buffer never sees a read it could
/// serve when it is no larger than that read (`BufReader` then reads straight through), so one
/// byte, the least `BufReader` takes, means "no buffer".
fn buffered<S: AsyncRead>(stream: S, capacity: usize) -> BufReader<S> {
    BufReader::with_capacity(capacity.max(1), stream)
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) {}
}

/// Build the rustls acceptor for a `tls` block, advertising `alpn`.
fn tls_acceptor(
    what: &str,
    tls: &crate::tls::TlsServerSettings,
    alpn: &[u8],
) -> Result<tokio_rustls::TlsAcceptor, ComponentError> {
    let mut config = tls
        .server_config()
        .map_err(|e| ComponentError::Config(format!("{what}: tls: {e}")))?;
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Accept connections until `token` is cancelled, handing them (after the TLS handshake, done
/// off the accept loop, and with a read buffer of `read_buffer` bytes) to the returned channel.
fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    read_buffer: usize,
    token: CancellationToken,
) -> mpsc::Receiver<Conn> {
    let (tx, rx) = mpsc::channel::<Conn>(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = token.cancelled() => return,
                a = listener.accept() => a,
            };
            let stream = match accepted {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("otlp receiver: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            match &tls {
                None => {
                    if tx
                        .send(Conn::Plain(buffered(stream, read_buffer)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let hs =
                            tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                        if let Ok(Ok(s)) = hs.await {
                            let conn = Conn::Tls(Box::new(buffered(s, read_buffer)));
                            let _ = tx.send(conn).await;
                        }
                    });
                }
            }
        }
    });
    rx
}

/// The running servers of one configuration.
pub struct ServerSet {
    tasks: JoinSet<Result<(), ComponentError>>,
    addrs: BoundAddrs,
}

impl ServerSet {
    /// Bind every configured server and start serving; fails if any cannot bind.
    pub async fn start(
        config: &Servers,
        ingest: &Arc<Ingest>,
        token: CancellationToken,
    ) -> Result<ServerSet, ComponentError> {
        let mut set = ServerSet {
            tasks: JoinSet::new(),
            addrs: BoundAddrs::default(),
        };
        if let Some(g) = &config.grpc {
            let tls = g
                .tls
                .as_ref()
                .map(|t| tls_acceptor("grpc", t, b"h2"))
                .transpose()?;
            let (listener, addr) = bind("grpc", &g.endpoint).await?;
            set.addrs.grpc = Some(addr);
            let conns = accept_loop(listener, tls, read_buffer_capacity(g), token.clone());
            set.tasks.spawn(serve_grpc(
                g.clone(),
                Arc::clone(ingest),
                conns,
                token.clone(),
            ));
        }
        if let Some(h) = &config.http {
            let tls = h
                .tls
                .as_ref()
                .map(|t| tls_acceptor("http", t, b"http/1.1"))
                .transpose()?;
            let (listener, addr) = bind("http", &h.endpoint).await?;
            set.addrs.http = Some(addr);
            // hyper's HTTP/1.1 reads into its own growing buffer: no read buffer under it.
            let conns = accept_loop(listener, tls, 0, token.clone());
            set.tasks.spawn(serve_http(
                h.clone(),
                Arc::clone(ingest),
                conns,
                token.clone(),
            ));
        }
        Ok(set)
    }

    pub fn addrs(&self) -> BoundAddrs {
        self.addrs
    }

    /// Resolves only when a server stops on its own with an error.
    pub async fn failed(&mut self) -> ComponentError {
        loop {
            match self.tasks.join_next().await {
                Some(Ok(Err(e))) => return e,
                Some(Err(join)) => return ComponentError::Other(format!("server task: {join}")),
                Some(Ok(Ok(()))) => continue,
                None => std::future::pending::<()>().await,
            }
        }
    }

    /// Wait (bounded) for the servers, already told to stop through their token, to drain.
    pub async fn stop(mut self) {
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
            self.tasks.abort_all();
        }
    }
}

fn nonzero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

async fn serve_grpc(
    args: GrpcServerArgs,
    ingest: Arc<Ingest>,
    mut conns: mpsc::Receiver<Conn>,
    token: CancellationToken,
) -> Result<(), ComponentError> {
    let shared = Arc::new(GrpcShared {
        ingest,
        auth: args.auth.as_ref().map(|a| Arc::clone(&a.0)),
        max_recv_msg_size: args.max_recv_msg_size(),
    });
    let params = args.server_parameters();
    let mut builder = tonic::transport::Server::builder()
        .max_concurrent_streams(
            (args.max_concurrent_streams > 0).then_some(args.max_concurrent_streams),
        )
        .http2_keepalive_interval(nonzero(params.time.0))
        .http2_keepalive_timeout(nonzero(params.timeout.0));
    if let Some(age) = nonzero(params.max_connection_age.0) {
        builder = builder.max_connection_age(age);
    }
    if let Some(grace) = nonzero(params.max_connection_age_grace.0) {
        builder = builder.max_connection_age_grace(grace);
    }
    let router = builder
        .add_service(ExportServer::<TraceKind>::new(Arc::clone(&shared)))
        .add_service(ExportServer::<MetricsKind>::new(Arc::clone(&shared)))
        .add_service(ExportServer::<LogsKind>::new(shared));
    let incoming = async_stream_of(&mut conns);
    router
        .serve_with_incoming_shutdown(incoming, token.cancelled_owned())
        .await
        .map_err(|e| ComponentError::Other(format!("grpc server: {e}")))
}

/// The channel as the `Stream` tonic wants.
fn async_stream_of(
    conns: &mut mpsc::Receiver<Conn>,
) -> impl futures::Stream<Item = Result<Conn, io::Error>> + '_ {
    futures::stream::unfold(
        conns,
        |rx| async move { rx.recv().await.map(|c| (Ok(c), rx)) },
    )
}

async fn serve_http(
    args: HttpServerArgs,
    ingest: Arc<Ingest>,
    mut conns: mpsc::Receiver<Conn>,
    token: CancellationToken,
) -> Result<(), ComponentError> {
    let shared = Arc::new(HttpShared {
        ingest,
        auth: args.auth.as_ref().map(|a| Arc::clone(&a.0)),
        max_body: args.max_request_body_size(),
        compression: args.compression_algorithms.clone(),
        cors: args.cors.clone(),
        read_timeout: HttpServerArgs::timeout(args.read_timeout),
        write_timeout: HttpServerArgs::timeout(args.write_timeout),
    });
    let app = router(&args, shared);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(hyper_util::rt::TokioTimer::new());
    if let Some(t) = HttpServerArgs::timeout(args.read_header_timeout) {
        builder.header_read_timeout(t);
    }
    builder.keep_alive(args.keep_alives_enabled.unwrap_or(true));
    let mut connections = JoinSet::new();
    loop {
        let conn = tokio::select! {
            _ = token.cancelled() => break,
            c = conns.recv() => match c {
                Some(c) => c,
                None => break,
            },
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn_future = builder.serve_connection(hyper_util::rt::TokioIo::new(conn), service);
        let token = token.clone();
        connections.spawn(async move {
            let mut conn_future = std::pin::pin!(conn_future);
            tokio::select! {
                _ = conn_future.as_mut() => {}
                _ = token.cancelled() => {
                    conn_future.as_mut().graceful_shutdown();
                    let _ = conn_future.await;
                }
            }
        });
    }
    while connections.join_next().await.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// What the accept loop hands over reads through a buffer of the given size: after one
    /// small read the rest of what had arrived is already buffered (and none is with 0), and
    /// every byte comes out in order either way.
    #[tokio::test]
    async fn accepted_connections_read_through_the_configured_buffer() {
        let data: Vec<u8> = (0..100_000).map(|i| (i * 7 % 251) as u8).collect();
        for (capacity, expect_buffered) in [(64 << 10, true), (0, false)] {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let token = CancellationToken::new();
            let mut conns = accept_loop(listener, None, capacity, token.clone());
            let mut client = TcpStream::connect(addr).await.unwrap();
            client.write_all(&data).await.unwrap();
            client.shutdown().await.unwrap();
            let mut conn = conns.recv().await.unwrap();
            // Let the whole payload reach the socket before the first read.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut got = vec![0u8; 8 << 10];
            let n = conn.read(&mut got).await.unwrap();
            got.truncate(n);
            let Conn::Plain(reader) = &conn else {
                panic!("plain connection expected")
            };
            assert_eq!(!reader.buffer().is_empty(), expect_buffered, "{capacity}");
            conn.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, data, "{capacity}");
            token.cancel();
        }
    }
}
