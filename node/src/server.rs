//! The HTTP API's server: accepts connections on the API's listener and
//! serves each with hyper's HTTP/1, under the connection limits of
//! [`crate::limits`].
//!
//! `axum::serve` sets no header read timeout and no connection cap, so the
//! node runs its own accept loop:
//!
//! * At most `max_connections` connections are open. The loop takes a
//!   slot before it accepts: beyond the cap, new connections wait in the
//!   kernel's listen backlog (a client sees a slow answer, not a refusal)
//!   until one closes. Every connection closes in bounded time (below), so
//!   the wait is bounded too.
//! * At most `max_connections_per_ip` are open from one client: the next
//!   one's request is answered `503 too_many_connections` and it is closed.
//! * A connection sends each request's line and headers within
//!   `header_timeout_secs` of being ready for them (its opening, or the end
//!   of its previous answer: this is also how long an idle keep-alive
//!   connection stays open), or it is closed; a trickle of bytes does not
//!   restart the clock. Headers over [`MAX_HEADER_BYTES`] are answered 431.
//! * A write that makes no progress for `request_timeout_secs` (a client
//!   that stopped reading its answer) closes the connection.
//! * The request deadline, the rate limits and the cap on requests in
//!   flight are the router's ([`crate::limits::layer`]); the loop gives it
//!   each request's peer address (`ConnectInfo<SocketAddr>`).
//!
//! HTTP/1.1 only (as `axum::serve` with axum's default features served).
//! On shutdown the loop stops accepting, asks every connection to finish
//! the request it is on and close, and drops the ones still open after
//! [`SHUTDOWN_GRACE`].

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Sleep;
use tower::ServiceExt;

use crate::limits::{reason, Client, Limiter, MAX_HEADER_BYTES, READ_BUFFER_BYTES, SHUTDOWN_GRACE};

/// How long the loop pauses after a failed accept that is not the
/// client's doing (out of file descriptors, say).
const ACCEPT_PAUSE: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` under `limiter`'s connection limits until
/// `stop` turns true, then drains the open connections (module docs).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limiter: Arc<Limiter>,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let limits = limiter.limits().clone();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout())
        .max_buf_size(READ_BUFFER_BYTES)
        .max_header_size(MAX_HEADER_BYTES);
    let refusal = crate::limits::too_many_connections(&limits);
    let (drain, draining) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = until(&mut stop) => break,
        };
        // The semaphore is never closed.
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = until(&mut stop) => break,
        };
        while connections.try_join_next().is_some() {}
        let open = limiter.connection(Client::from(peer.ip()));
        let router = if open.is_some() {
            router.clone()
        } else {
            limiter.refused(reason::TOO_MANY_CONNECTIONS);
            tracing::debug!(%peer, "api.accept: too many connections from this client");
            refusal.clone()
        };
        connections.spawn(connection(Connection {
            http: http.clone(),
            stream,
            peer,
            router,
            limiter: limiter.clone(),
            slots: (slot, open),
            draining: draining.clone(),
        }));
    }
    drop(listener);
    let _ = drain.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            grace_secs = SHUTDOWN_GRACE.as_secs(),
            "api.stop: connections still open after the grace period; dropped"
        );
    }
    connections.shutdown().await;
    Ok(())
}

/// Waits until `flag` turns true (or its sender is gone).
async fn until(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}

/// A failed accept: a connection that went away before it was accepted
/// costs nothing; anything else (out of file descriptors) pauses the loop.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(%error, pause_ms = ACCEPT_PAUSE.as_millis() as u64, "api.accept: failed");
    tokio::time::sleep(ACCEPT_PAUSE).await;
}

/// One accepted connection and what it holds.
struct Connection {
    http: http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limiter: Arc<Limiter>,
    /// Its place under `max_connections` and, unless it is refused, under
    /// `max_connections_per_ip`: both freed when it closes.
    slots: (OwnedSemaphorePermit, Option<crate::limits::ConnectionSlot>),
    draining: watch::Receiver<bool>,
}

/// Serves one connection until it closes, or until the server drains.
async fn connection(connection: Connection) {
    let Connection {
        http,
        stream,
        peer,
        router,
        limiter,
        slots,
        mut draining,
    } = connection;
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(WriteTimed::new(stream, limiter.limits().request_timeout()));
    let service =
        TowerToHyperService::new(router.map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        }));
    let serving = http.serve_connection(io, service);
    tokio::pin!(serving);
    let finished = tokio::select! {
        served = serving.as_mut() => Some(served),
        () = until(&mut draining) => None,
    };
    let served = match finished {
        Some(served) => served,
        None => {
            serving.as_mut().graceful_shutdown();
            serving.await
        }
    };
    drop(slots);
    if let Err(error) = served {
        let why = if error.is_timeout() {
            reason::HEADER_TIMEOUT
        } else if timed_out(&error) {
            reason::WRITE_TIMEOUT
        } else {
            tracing::debug!(%peer, %error, "api.connection: closed on an error");
            return;
        };
        limiter.refused(why);
        tracing::debug!(%peer, why, "api.connection: closed");
    }
}

/// Whether `error` comes from a write that timed out ([`WriteTimed`]).
fn timed_out(error: &hyper::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// A stream whose writes (and flushes and shutdown) fail with
/// [`io::ErrorKind::TimedOut`] after `limit` without progress, so that a
/// client that stops reading cannot hold its connection. Reads are left
/// alone: the header timeout and the request deadline bound them.
#[derive(Debug)]
struct WriteTimed<S> {
    inner: S,
    limit: Duration,
    writing: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteTimed<S> {
    fn new(inner: S, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            writing: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteTimed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteTimed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let op = Pin::new(&mut this.inner).poll_write(cx, buf);
        crate::net::timed::guard(&mut this.writing, this.limit, cx, op)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let op = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        crate::net::timed::guard(&mut this.writing, this.limit, cx, op)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let op = Pin::new(&mut this.inner).poll_flush(cx);
        crate::net::timed::guard(&mut this.writing, this.limit, cx, op)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let op = Pin::new(&mut this.inner).poll_shutdown(cx);
        crate::net::timed::guard(&mut this.writing, this.limit, cx, op)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_write_nobody_reads_times_out() {
        let (_reader, writer) = tokio::io::duplex(64);
        let mut writer = WriteTimed::new(writer, Duration::from_secs(30));
        let error = writer.write_all(&[7; 1024]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_but_steady_reader_gets_everything() {
        let (mut reader, writer) = tokio::io::duplex(64);
        let mut writer = WriteTimed::new(writer, Duration::from_secs(30));
        let reading = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut chunk = [0; 64];
            loop {
                // Far slower than the data comes, never 30 s without a read.
                tokio::time::sleep(Duration::from_secs(20)).await;
                match reader.read(&mut chunk).await.unwrap() {
                    0 => return got,
                    n => got.extend_from_slice(&chunk[..n]),
                }
            }
        });
        writer.write_all(&[7; 1024]).await.unwrap();
        writer.shutdown().await.unwrap();
        assert_eq!(reading.await.unwrap(), vec![7; 1024]);
    }
}
