//! A planned outage of the count-proxy: for a window, the emulator behind it is unreachable, as a
//! network partition or an AWS endpoint failure looks to the runner. A connection made during the
//! window is reset at once (the runner sees "connection reset", like a refused connect), and a
//! connection made before it is reset the next time it is read or written, so a request already
//! forwarded may be applied by the emulator while its answer never arrives: the ambiguous case
//! that idempotency exists for.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The window, if one is planned, and what it did.
#[derive(Default)]
pub struct Outage {
    window: Mutex<Option<Window>>,
    refused: AtomicU64,
    reset: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    starts: Instant,
    ends: Instant,
    /// The same instants on the wall clock, for the report.
    starts_at: chrono::DateTime<chrono::Utc>,
    ends_at: chrono::DateTime<chrono::Utc>,
}

/// `GET /__outage`: the planned window and the connections it cut.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub starts_at: Option<chrono::DateTime<chrono::Utc>>,
    pub ends_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `planned`, `down`, `over`, or `none`.
    pub state: String,
    /// Connections made during the window, reset at once.
    pub refused_connections: u64,
    /// Connections made before the window, reset when next used in it.
    pub reset_connections: u64,
}

impl Outage {
    /// Plans the window `after` from now, for `lasting`; replaces any earlier plan.
    pub fn plan(&self, after: Duration, lasting: Duration) {
        let (now, wall) = (Instant::now(), chrono::Utc::now());
        let to_wall = |d: Duration| wall + chrono::Duration::from_std(d).unwrap_or_default();
        *self.window.lock().unwrap_or_else(PoisonError::into_inner) = Some(Window {
            starts: now + after,
            ends: now + after + lasting,
            starts_at: to_wall(after),
            ends_at: to_wall(after + lasting),
        });
    }

    fn window(&self) -> Option<Window> {
        *self.window.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn is_down(&self) -> bool {
        let now = Instant::now();
        self.window()
            .is_some_and(|w| (w.starts..w.ends).contains(&now))
    }

    pub fn report(&self) -> Report {
        let window = self.window();
        let now = Instant::now();
        Report {
            starts_at: window.map(|w| w.starts_at),
            ends_at: window.map(|w| w.ends_at),
            state: match window {
                None => "none",
                Some(w) if now < w.starts => "planned",
                Some(w) if now < w.ends => "down",
                Some(_) => "over",
            }
            .to_string(),
            refused_connections: self.refused.load(Ordering::Relaxed),
            reset_connections: self.reset.load(Ordering::Relaxed),
        }
    }
}

/// A listener that resets, during the outage, what it would otherwise serve.
pub struct Listener {
    inner: TcpListener,
    outage: Arc<Outage>,
}

impl Listener {
    pub fn new(inner: TcpListener, outage: Arc<Outage>) -> Self {
        Self { inner, outage }
    }
}

/// Closes with a TCP reset (RST) rather than an orderly FIN: a peer that was mid-request sees
/// "connection reset", as when a host or a load balancer goes away.
fn reset(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}

impl axum::serve::Listener for Listener {
    type Io = Guarded;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, _)) if self.outage.is_down() => {
                    reset(&stream);
                    self.outage.refused.fetch_add(1, Ordering::Relaxed);
                }
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let outage = Arc::clone(&self.outage);
                    let guarded = Guarded {
                        stream,
                        outage,
                        cut: false,
                    };
                    return (guarded, addr);
                }
                // Out of file descriptors and the like: wait a little, as axum's own listener.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A served connection that fails every read and write during the outage; the server then drops
/// it, and the zero linger makes the drop a reset.
pub struct Guarded {
    stream: TcpStream,
    outage: Arc<Outage>,
    /// Whether this connection was counted as reset already.
    cut: bool,
}

impl Guarded {
    fn cut(&mut self) -> Option<io::Error> {
        if !self.outage.is_down() {
            return None;
        }
        if !self.cut {
            self.cut = true;
            reset(&self.stream);
            self.outage.reset.fetch_add(1, Ordering::Relaxed);
        }
        Some(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "count-proxy outage",
        ))
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.cut() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.cut() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A count-proxy's `/__outage`, as the burst plans and reads it.
pub struct OutageEndpoint {
    http: reqwest::Client,
    url: String,
}

impl OutageEndpoint {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .context("building the HTTP client")?,
            url: url.to_string(),
        })
    }

    pub async fn plan(&self, after: f64, lasting: f64) -> anyhow::Result<Report> {
        let url = format!("{}?after_secs={after}&secs={lasting}", self.url);
        self.call(self.http.post(&url), &url).await
    }

    pub async fn read(&self) -> anyhow::Result<Report> {
        self.call(self.http.get(&self.url), &self.url).await
    }

    async fn call(&self, request: reqwest::RequestBuilder, url: &str) -> anyhow::Result<Report> {
        let answer = request.send().await.with_context(|| url.to_string())?;
        let status = answer.status();
        anyhow::ensure!(status.is_success(), "{url} answered {status}");
        answer
            .json()
            .await
            .with_context(|| format!("reading {url}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server behind the outage listener that answers every request line with "ok".
    async fn echo_server(outage: Arc<Outage>) -> std::net::SocketAddr {
        let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut listener = Listener::new(inner, outage);
        let addr = axum::serve::Listener::local_addr(&listener).unwrap();
        tokio::spawn(async move {
            loop {
                let (mut io, _) = axum::serve::Listener::accept(&mut listener).await;
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n @ 1..) = io.read(&mut buf).await {
                        if io.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
        stream.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await?;
        Ok(buf.to_vec())
    }

    /// Before the window a connection works; in it, the open connection and a new one are
    /// cut; after it, a new connection works again.
    #[tokio::test]
    async fn the_window_cuts_open_and_new_connections_and_then_heals() {
        let outage = Arc::new(Outage::default());
        let addr = echo_server(Arc::clone(&outage)).await;
        let mut before = TcpStream::connect(addr).await.unwrap();
        assert_eq!(round_trip(&mut before).await.unwrap(), b"ping");

        outage.plan(Duration::ZERO, Duration::from_millis(300));
        assert_eq!(outage.report().state, "down");
        assert!(round_trip(&mut before).await.is_err());
        // The connect itself succeeds (the kernel accepts); the first exchange is reset.
        let mut during = TcpStream::connect(addr).await.unwrap();
        assert!(round_trip(&mut during).await.is_err());

        tokio::time::sleep(Duration::from_millis(350)).await;
        let mut after = TcpStream::connect(addr).await.unwrap();
        assert_eq!(round_trip(&mut after).await.unwrap(), b"ping");
        let report = outage.report();
        assert_eq!(report.state, "over");
        assert_eq!(
            (report.refused_connections, report.reset_connections),
            (1, 1)
        );
    }
}
