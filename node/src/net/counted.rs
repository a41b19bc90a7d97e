//! A byte stream that counts what is read from it and written to it, for
//! the provider's fragment transfer metrics.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{AsyncRead, AsyncWrite};

/// `inner`, counting its bytes.
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    /// Bytes read so far.
    pub read: u64,
    /// Bytes written so far.
    pub written: u64,
}

impl<S> Counted<S> {
    /// Counts `inner`'s bytes from now on.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            read: 0,
            written: 0,
        }
    }
}

fn add(total: &mut u64, done: &Poll<io::Result<usize>>) {
    if let Poll::Ready(Ok(n)) = done {
        *total = total.saturating_add(u64::try_from(*n).unwrap_or(u64::MAX));
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let done = Pin::new(&mut this.inner).poll_read(cx, buf);
        add(&mut this.read, &done);
        done
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let done = Pin::new(&mut this.inner).poll_write(cx, buf);
        add(&mut this.written, &done);
        done
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn counts_both_ways() {
        futures::executor::block_on(async {
            let mut stream = Counted::new(futures::io::Cursor::new(vec![7u8; 10]));
            let mut buf = [0u8; 4];
            stream.read_exact(&mut buf).await.unwrap();
            stream.write_all(&[1, 2, 3]).await.unwrap();
            assert_eq!((stream.read, stream.written), (4, 3));
        });
    }
}
