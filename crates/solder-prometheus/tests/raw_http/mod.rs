//! An HTTP/1.1 server written against the wire format itself, shared by the scrape and
//! remote-write tests: they see connections and requests exactly as a client sent them (how
//! many connections, request lines, headers, body sizes), not as a server framework reports
//! them.

// Each test binary that includes this module uses a different part of it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How the server treats a connection.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RawMode {
    /// Every request is answered; the connection stays open.
    KeepAlive,
    /// A connection answers its first request only: the second is read and the connection
    /// closed without a reply (a server whose idle timeout fired as the request arrived).
    HangUpOnSecondRequest,
}

/// A request as the server read it.
#[derive(Clone, Debug)]
pub struct RawRequest {
    /// `GET /metrics HTTP/1.1`.
    pub line: String,
    /// Names lower-cased, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body_len: usize,
}

impl RawRequest {
    /// Every value of header `name`.
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Builds the whole response (status line, headers, body) for a request line.
pub type Reply = Arc<dyn Fn(&str) -> String + Send + Sync>;

pub struct RawServer {
    pub addr: String,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<RawRequest>>>,
}

/// A 200 response with `body` and its `Content-Length`.
pub fn ok(content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

impl RawServer {
    pub async fn start(mode: RawMode, reply: Reply) -> RawServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (conns, reqs) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                conns.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(sock, mode, reply.clone(), reqs.clone()));
            }
        });
        RawServer {
            addr,
            connections,
            requests,
        }
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<RawRequest> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(
    mut sock: tokio::net::TcpStream,
    mode: RawMode,
    reply: Reply,
    requests: Arc<Mutex<Vec<RawRequest>>>,
) {
    let mut buf = Vec::new();
    let mut answered = 0;
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            if !read_more(&mut sock, &mut buf).await {
                return;
            }
        };
        let head = String::from_utf8(buf[..end].to_vec()).unwrap();
        buf.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let line = lines.next().unwrap().to_owned();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        let body_len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        while buf.len() < body_len {
            if !read_more(&mut sock, &mut buf).await {
                return;
            }
        }
        buf.drain(..body_len);
        requests.lock().unwrap().push(RawRequest {
            line: line.clone(),
            headers,
            body_len,
        });
        if mode == RawMode::HangUpOnSecondRequest && answered == 1 {
            return;
        }
        answered += 1;
        if sock.write_all(reply(&line).as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn read_more(sock: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 16 * 1024];
    match sock.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}
