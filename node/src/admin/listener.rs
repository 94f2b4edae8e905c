//! A TCP listener that holds at most [`MAX_CONNECTIONS`] admin connections open at once.
//!
//! axum serves every accepted connection on a task of its own, without a limit. The admin API
//! answers in microseconds and its clients make one request per connection, so a handful of
//! connections is all it ever needs; the bound keeps a misbehaving local program (or, beyond
//! loopback, anyone who can connect) from exhausting the node's file descriptors. Once the
//! bound is reached, new connections wait in the kernel's backlog until one closes.
//!
//! A place is only worth bounding if it is given back: a connection on which nothing is read
//! or written for [`IDLE_TIMEOUT`] fails with `TimedOut`, which makes hyper drop it. That
//! closes idle keep-alive connections and clients that stall in the middle of a request, so
//! a program cannot hold the places by connecting and saying nothing.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Admin connections open at once.
pub const MAX_CONNECTIONS: usize = 64;

/// How long an admin connection may go without a byte read or written. Longer than the
/// admin handlers' own wait for the mesh (5 s), so a slow answer is not cut off.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15);

/// Accepts connections while fewer than [`MAX_CONNECTIONS`] are open.
#[derive(Debug)]
pub(super) struct BoundedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    idle_timeout: Duration,
}

impl BoundedListener {
    /// Bounds `inner` to `limit` open connections ([`MAX_CONNECTIONS`] outside tests), each
    /// closed after `idle_timeout` ([`IDLE_TIMEOUT`] outside tests) without traffic.
    pub(super) fn new(inner: TcpListener, limit: usize, idle_timeout: Duration) -> BoundedListener {
        BoundedListener {
            inner,
            permits: Arc::new(Semaphore::new(limit)),
            idle_timeout,
        }
    }
}

impl Listener for BoundedListener {
    type Io = PermittedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (PermittedStream, SocketAddr) {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the connection semaphore is never closed");
        let (stream, addr) = Listener::accept(&mut self.inner).await;
        (
            PermittedStream {
                stream,
                _permit: permit,
                idle_timeout: self.idle_timeout,
                idle: Box::pin(tokio::time::sleep(self.idle_timeout)),
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An accepted connection; closing it frees its place.
#[derive(Debug)]
pub(super) struct PermittedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    idle_timeout: Duration,
    /// Fires [`PermittedStream::idle_timeout`] after the last byte moved either way.
    idle: Pin<Box<Sleep>>,
}

impl PermittedStream {
    /// Passes on a completed read or write, which restarts the idle clock, or turns a pending
    /// one into `TimedOut` once the connection has been idle too long.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match poll {
            Poll::Ready(result) => {
                let deadline = Instant::now() + self.idle_timeout;
                self.idle.as_mut().reset(deadline);
                Poll::Ready(result)
            }
            Poll::Pending if self.idle.as_mut().poll(cx).is_ready() => Poll::Ready(Err(
                io::Error::new(io::ErrorKind::TimedOut, "admin connection idle"),
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for PermittedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.stream).poll_read(cx, buf);
        self.watch(cx, poll)
    }
}

impl AsyncWrite for PermittedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[tokio::test]
    async fn a_connection_beyond_the_limit_waits_for_one_to_close() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("address");
        let mut listener = BoundedListener::new(tcp, 1, IDLE_TIMEOUT);
        let _first_client = TcpStream::connect(addr).await.expect("connect");
        let _second_client = TcpStream::connect(addr).await.expect("connect");

        let (first, _) = listener.accept().await;
        let waiting = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(
            waiting.is_err(),
            "a second connection was accepted beyond the limit"
        );

        drop(first);
        let accepted = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
        assert!(accepted.is_ok(), "the freed place was not reused");
    }

    #[tokio::test]
    async fn a_silent_connection_is_closed_and_gives_its_place_back() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("address");
        let mut listener = BoundedListener::new(tcp, 1, Duration::from_millis(200));
        let _silent_client = TcpStream::connect(addr).await.expect("connect");
        let (mut silent, _) = listener.accept().await;

        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf))
            .await
            .expect("the idle connection was never timed out");
        let error = read.expect_err("a silent client produced data");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);

        drop(silent);
        let _next_client = TcpStream::connect(addr).await.expect("connect");
        let accepted = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
        assert!(accepted.is_ok(), "the timed-out connection kept its place");
    }

    #[tokio::test]
    async fn a_connection_that_keeps_talking_is_not_cut_off() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("address");
        let mut listener = BoundedListener::new(tcp, 1, Duration::from_millis(300));
        let mut client = TcpStream::connect(addr).await.expect("connect");
        let (mut server, _) = listener.accept().await;

        // Ten bytes, 100 ms apart: a second in all, longer than the idle timeout, but never
        // idle for that long.
        let talker = tokio::spawn(async move {
            for byte in 0u8..10 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                client.write_all(&[byte]).await.expect("write");
            }
            client
        });
        let mut received = Vec::new();
        while received.len() < 10 {
            let mut buf = [0u8; 16];
            let n = server
                .read(&mut buf)
                .await
                .expect("a talking client was cut off");
            assert_ne!(n, 0, "the connection closed early");
            received.extend_from_slice(&buf[..n]);
        }
        assert_eq!(received, (0u8..10).collect::<Vec<_>>());
        drop(talker.await.expect("talker"));
    }
}
