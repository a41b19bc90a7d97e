//! A byte stream that fails with [`io::ErrorKind::TimedOut`] when a read,
//! a write, a flush or a close makes no progress for a while, so that a
//! peer that stops sending (or reading) in the middle of a fragment cannot
//! hold a task, a connection and an upload slot forever.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{AsyncRead, AsyncWrite};
use tokio::time::Sleep;

/// `inner`, with an idle limit on every operation.
#[derive(Debug)]
pub struct Timed<S> {
    inner: S,
    idle: Duration,
    reading: Option<Pin<Box<Sleep>>>,
    writing: Option<Pin<Box<Sleep>>>,
}

impl<S> Timed<S> {
    /// Wraps `inner`: an operation pending for `idle` fails.
    pub fn new(inner: S, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            reading: None,
            writing: None,
        }
    }
}

/// Polls `op`; while it is pending, polls the deadline in `slot` (armed on
/// the first pending poll, cleared by progress). Also the API server's
/// write limit ([`crate::server`]).
pub(crate) fn guard<T>(
    slot: &mut Option<Pin<Box<Sleep>>>,
    idle: Duration,
    cx: &mut Context<'_>,
    op: Poll<io::Result<T>>,
) -> Poll<io::Result<T>> {
    match op {
        Poll::Ready(result) => {
            *slot = None;
            Poll::Ready(result)
        }
        Poll::Pending => {
            let deadline = slot.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
            if deadline.as_mut().poll(cx).is_ready() {
                *slot = None;
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no progress for {} s", idle.as_secs()),
                )));
            }
            Poll::Pending
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Timed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let op = Pin::new(&mut this.inner).poll_read(cx, buf);
        guard(&mut this.reading, this.idle, cx, op)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Timed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let op = Pin::new(&mut this.inner).poll_write(cx, buf);
        guard(&mut this.writing, this.idle, cx, op)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let op = Pin::new(&mut this.inner).poll_flush(cx);
        guard(&mut this.writing, this.idle, cx, op)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let op = Pin::new(&mut this.inner).poll_close(cx);
        guard(&mut this.writing, this.idle, cx, op)
    }
}

#[cfg(test)]
mod tests {
    use futures::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A stream that never has anything to read and never takes a write.
    struct Silent;

    impl AsyncRead for Silent {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for Silent {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_times_out_and_a_live_one_does_not() {
        let mut silent = Timed::new(Silent, Duration::from_secs(5));
        let mut buf = [0u8; 4];
        let e = silent.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        let e = silent.write(b"x").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);

        let mut live = Timed::new(
            futures::io::Cursor::new(vec![1u8, 2, 3, 4]),
            Duration::from_secs(5),
        );
        live.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, [1, 2, 3, 4]);
        live.write_all(b"ok").await.unwrap();
    }
}
