//! An in-memory byte stream with backpressure, and faults: a stream that
//! breaks after some bytes, stalls (answered as a timeout), or flips a byte.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures::{AsyncRead, AsyncWrite};

const CAPACITY: usize = 64 * 1024;

#[derive(Default)]
struct Half {
    buf: VecDeque<u8>,
    closed: bool,
    broken: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// A fault on the bytes one end writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// None.
    None,
    /// After this many bytes, the connection breaks (both directions).
    BreakAfter(u64),
    /// After this many bytes, writes time out.
    StallAfter(u64),
    /// The byte at this offset is flipped.
    FlipAt(u64),
}

/// One end of a pipe.
pub struct End {
    incoming: Arc<Mutex<Half>>,
    outgoing: Arc<Mutex<Half>>,
    fault: Fault,
    written: u64,
}

/// Two connected ends; `a_fault` applies to what `a` writes, `b_fault` to
/// what `b` writes.
pub fn pipe(a_fault: Fault, b_fault: Fault) -> (End, End) {
    let ab = Arc::new(Mutex::new(Half::default()));
    let ba = Arc::new(Mutex::new(Half::default()));
    (
        End {
            incoming: ba.clone(),
            outgoing: ab.clone(),
            fault: a_fault,
            written: 0,
        },
        End {
            incoming: ab,
            outgoing: ba,
            fault: b_fault,
            written: 0,
        },
    )
}

fn lock(h: &Mutex<Half>) -> std::sync::MutexGuard<'_, Half> {
    h.lock().unwrap_or_else(|p| p.into_inner())
}

impl End {
    fn break_both(&self) {
        for half in [&self.incoming, &self.outgoing] {
            let mut h = lock(half);
            h.broken = true;
            if let Some(w) = h.reader.take() {
                w.wake();
            }
            if let Some(w) = h.writer.take() {
                w.wake();
            }
        }
    }
}

impl AsyncRead for End {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut h = lock(&self.incoming);
        if !h.buf.is_empty() {
            let n = out.len().min(h.buf.len());
            for (slot, byte) in out.iter_mut().zip(h.buf.drain(..n)) {
                *slot = byte;
            }
            if let Some(w) = h.writer.take() {
                w.wake();
            }
            return Poll::Ready(Ok(n));
        }
        if h.broken {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        if h.closed {
            return Poll::Ready(Ok(0));
        }
        h.reader = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for End {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut data = data.to_vec();
        match self.fault {
            Fault::BreakAfter(n) if self.written >= n => {
                self.break_both();
                return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
            }
            Fault::StallAfter(n) if self.written >= n => {
                return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
            }
            Fault::BreakAfter(n) | Fault::StallAfter(n) => {
                data.truncate((n - self.written) as usize);
            }
            Fault::FlipAt(at) => {
                if (self.written..self.written + data.len() as u64).contains(&at) {
                    data[(at - self.written) as usize] ^= 0x01;
                }
            }
            Fault::None => {}
        }
        let written = {
            let mut h = lock(&self.outgoing);
            if h.broken || h.closed {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            let room = CAPACITY.saturating_sub(h.buf.len());
            if room == 0 {
                h.writer = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let n = room.min(data.len());
            h.buf.extend(&data[..n]);
            if let Some(w) = h.reader.take() {
                w.wake();
            }
            n
        };
        self.written += written as u64;
        Poll::Ready(Ok(written))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut h = lock(&self.outgoing);
        h.closed = true;
        if let Some(w) = h.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for End {
    fn drop(&mut self) {
        let mut h = lock(&self.outgoing);
        h.closed = true;
        if let Some(w) = h.reader.take() {
            w.wake();
        }
        drop(h);
        // Nobody reads what the other end writes from now on.
        let mut h = lock(&self.incoming);
        h.broken = true;
        if let Some(w) = h.writer.take() {
            w.wake();
        }
    }
}
