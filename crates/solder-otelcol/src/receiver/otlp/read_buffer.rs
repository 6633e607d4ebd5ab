//! The gRPC server's `read_buffer_size`: a read buffer between the socket and HTTP/2, as grpc-go
//! puts one there (a `bufio.Reader` of that size; Alloy's default is 512 KiB, 0 turns it off).
//!
//! Why it matters here: h2 asks its connection for 8 KiB at a time, so a 387 KB request took ~48
//! `recvfrom` calls, each paying the syscall and the socket lock. With the buffer, one call takes
//! whatever the socket holds (up to the buffer's size) and h2's small reads are served from
//! memory: one more copy, of data that is still in the CPU cache, for far fewer syscalls.

use bytes::{Buf, BytesMut};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection whose reads go through a buffer of `capacity` bytes (none when 0). The buffer
/// is allocated on the first read that needs it and reused for the connection's life.
pub struct BufferedConn<T> {
    inner: T,
    buf: BytesMut,
    capacity: usize,
}

impl<T> BufferedConn<T> {
    pub fn new(inner: T, capacity: usize) -> Self {
        BufferedConn {
            inner,
            buf: BytesMut::new(),
            capacity,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for BufferedConn<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.buf.is_empty() {
            // Nothing buffered and a read at least as large as the buffer: the buffer would
            // only add a copy.
            if out.remaining() >= this.capacity {
                return Pin::new(&mut this.inner).poll_read(cx, out);
            }
            // Emptied, the buffer's space is reclaimed in place (no allocation after the first).
            this.buf.reserve(this.capacity);
            // End of stream leaves the buffer empty and `out` unfilled, which is how it is told.
            ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut this.inner),
                cx,
                &mut this.buf
            ))?;
        }
        let n = this.buf.len().min(out.remaining());
        out.put_slice(&this.buf[..n]);
        this.buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for BufferedConn<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A reader that counts the reads reaching it.
    struct Counting<T> {
        inner: T,
        reads: usize,
    }

    impl<T: AsyncRead + Unpin> AsyncRead for Counting<T> {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            this.reads += 1;
            Pin::new(&mut this.inner).poll_read(cx, buf)
        }
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    async fn read_all_in_chunks<R: AsyncRead + Unpin>(r: &mut R, chunk: usize) -> Vec<u8> {
        let mut got = Vec::new();
        let mut piece = vec![0u8; chunk];
        loop {
            let n = r.read(&mut piece).await.unwrap();
            if n == 0 {
                return got;
            }
            got.extend_from_slice(&piece[..n]);
        }
    }

    #[tokio::test]
    async fn small_reads_are_served_from_few_large_ones_and_nothing_is_lost() {
        let data = pattern(300_000);
        let (mut tx, rx) = tokio::io::duplex(1 << 20);
        tx.write_all(&data).await.unwrap();
        drop(tx);
        let mut conn = BufferedConn::new(
            Counting {
                inner: rx,
                reads: 0,
            },
            64 << 10,
        );
        let got = read_all_in_chunks(&mut conn, 8 << 10).await;
        assert_eq!(got, data);
        // 300,000 bytes in 64 KiB fills: 5 reads with data and one that sees the end (8 KiB
        // reads straight from the connection would be 37 + 1).
        assert_eq!(conn.inner.reads, 6);
    }

    #[tokio::test]
    async fn reads_as_large_as_the_buffer_bypass_it_and_zero_turns_it_off() {
        let data = pattern(100_000);
        for (capacity, chunk) in [(16 << 10, 32 << 10), (0, 1000)] {
            let (mut tx, rx) = tokio::io::duplex(1 << 20);
            tx.write_all(&data).await.unwrap();
            drop(tx);
            let mut conn = BufferedConn::new(
                Counting {
                    inner: rx,
                    reads: 0,
                },
                capacity,
            );
            let got = read_all_in_chunks(&mut conn, chunk).await;
            assert_eq!(got, data, "capacity {capacity}");
            assert_eq!(
                conn.inner.reads,
                data.len().div_ceil(chunk) + 1,
                "capacity {capacity}"
            );
            assert_eq!(conn.buf.capacity(), 0, "never allocated");
        }
    }

    #[tokio::test]
    async fn writes_pass_through() {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let mut conn = BufferedConn::new(a, 512 << 10);
        conn.write_all(b"hello").await.unwrap();
        conn.flush().await.unwrap();
        let mut got = [0u8; 5];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
    }
}
