//! Decoding while fetching: a [`FetchSink`] that keeps only the bytes the
//! decoder has not used yet, and a decoder that writes each stripe as soon
//! as `k` fragments have brought it (the plaintext for a get, or one lost
//! fragment for a repair).
//!
//! The fetch checks every 16 KiB group against the contract's roots before
//! it reaches the sink, so the decoder trusts what it is given. Memory is
//! bounded: a fragment may run at most [`AHEAD`] bytes ahead of the decoder,
//! then its download stops reading from the network (see
//! [`FetchSink::gate`]) until the decoder catches up. Any `k` fragments
//! serve a stripe, data fragments first; a fragment that fails is dropped,
//! and one started in its place joins from the decoder's position on (its
//! earlier bytes are thrown away as they arrive).

use std::{
    collections::{BTreeMap, VecDeque},
    io::{self, Write},
    sync::{Arc, Condvar, Mutex, MutexGuard},
    task::{Context, Poll, Waker},
};

use sherd_fragments::{commit::Hash as Digest, decode::Unstriper, file::Footer, Layout, Rebuilder};

use super::get::{FetchSink, Gate};

/// What takes each stripe: its index, its `k + m` slots back to back, and
/// which slots hold a shard.
type TakeStripe<'a> = dyn FnMut(u64, &mut [u8], &[bool]) -> Result<(), AssemblyError> + 'a;

/// How far a fragment may run ahead of the decoder.
pub const AHEAD: u64 = 8 << 20;

/// Why the decoding stopped.
#[derive(Debug, thiserror::Error)]
pub enum AssemblyError {
    /// The fetch ended without `k` fragments for some stripe.
    #[error("{0}")]
    Fetch(String),
    /// Decoding or writing the output failed.
    #[error(transparent)]
    Decode(#[from] sherd_fragments::DecodeError),
    /// Rebuilding a fragment failed (its root did not match, or writing it).
    #[error(transparent)]
    Rebuild(#[from] sherd_fragments::RebuildError),
}

/// Fragments arriving, and the decoder's position.
#[derive(Debug)]
pub struct Assembly {
    layout: Layout,
    ahead: u64,
    state: Mutex<State>,
    arrived: Condvar,
}

#[derive(Debug, Default)]
struct State {
    parts: BTreeMap<u32, Part>,
    /// Fragment offset below which every stripe is written.
    decoded_to: u64,
    /// Set when the fetch ended: no more bytes will come.
    ended: Option<String>,
}

/// One fragment's bytes from `decoded_to` to `received`.
#[derive(Debug, Default)]
struct Part {
    received: u64,
    buf: VecDeque<u8>,
    waiting: Option<Waker>,
}

impl Assembly {
    /// An assembly for the object `layout` describes.
    pub fn new(layout: Layout) -> Arc<Self> {
        Self::with_ahead(layout, AHEAD)
    }

    /// One whose fragments run at most `ahead` bytes ahead of the decoder
    /// (at least one shard: a fragment held back must already have brought
    /// the stripe the decoder waits for).
    pub fn with_ahead(layout: Layout, ahead: u64) -> Arc<Self> {
        Arc::new(Self {
            layout,
            ahead: ahead.max(u64::from(layout.params.shard_size())),
            state: Mutex::default(),
            arrived: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The fetch is over (`why` says how it ended): the decoder finishes
    /// with what it has or fails, and no download waits any more.
    pub fn end(&self, why: String) {
        let mut state = self.lock();
        state.ended.get_or_insert(why);
        wake_all(&mut state);
        self.arrived.notify_all();
    }

    /// Decodes every stripe into `output` as the fragments arrive (blocking:
    /// run it on a thread of its own); `progress` gets the plaintext bytes
    /// written so far.
    pub fn decode<W: Write>(
        &self,
        unstriper: &mut Unstriper,
        output: &mut W,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), AssemblyError> {
        let layout = self.layout;
        let mut done = 0u64;
        self.each_stripe(&mut |stripe, shards, present| {
            unstriper.stripe(stripe, shards, present, output)?;
            done += layout.stripe_plaintext(stripe);
            progress(done);
            Ok(())
        })
    }

    /// Rebuilds one fragment into `output` as the others arrive (blocking:
    /// run it on a thread of its own): its data, then its tree and footer,
    /// once its root is checked against `root`.
    pub fn rebuild<W: Write>(
        &self,
        rebuilder: Rebuilder,
        root: &Digest,
        output: &mut W,
    ) -> Result<Footer, AssemblyError> {
        let mut rebuilder = rebuilder;
        self.each_stripe(&mut |stripe, shards, present| {
            rebuilder.stripe(stripe, shards, present, output)?;
            Ok(())
        })?;
        Ok(rebuilder.finish(root, output)?)
    }

    /// Hands every stripe, in order, to `take` as soon as `k` fragments
    /// have brought it: its `k + m` slots back to back, and which hold a
    /// shard.
    fn each_stripe(&self, take: &mut TakeStripe<'_>) -> Result<(), AssemblyError> {
        let layout = self.layout;
        let (k, total) = (layout.params.data(), layout.params.total());
        let mut shards = Vec::new();
        for stripe in 0..layout.stripes {
            let shard = layout.shard_size(stripe);
            let start = layout.shard_offset(stripe);
            let end = start + shard as u64;
            shards.resize(total * shard, 0);
            let mut present = vec![false; total];
            {
                let mut state = self.lock();
                loop {
                    let ready: Vec<u32> = state
                        .parts
                        .iter()
                        .filter(|(_, p)| p.received >= end)
                        .map(|(&i, _)| i)
                        .take(k)
                        .collect();
                    if ready.len() == k {
                        for i in ready {
                            let (i, part) = (i as usize, &state.parts[&i]);
                            let from = (start - (part.received - part.buf.len() as u64)) as usize;
                            copy_out(&part.buf, from, &mut shards[i * shard..(i + 1) * shard]);
                            present[i] = true;
                        }
                        break;
                    }
                    if let Some(why) = &state.ended {
                        return Err(AssemblyError::Fetch(format!(
                            "stripe {stripe} of {}: {why}",
                            layout.stripes
                        )));
                    }
                    state = self.arrived.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                state.decoded_to = end;
                for part in state.parts.values_mut() {
                    let held_from = part.received - part.buf.len() as u64;
                    let drop = end.saturating_sub(held_from).min(part.buf.len() as u64);
                    part.buf.drain(..drop as usize);
                }
                wake_all(&mut state);
            }
            take(stripe, &mut shards, &present)?;
        }
        Ok(())
    }

    fn write(&self, index: u32, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.lock();
        if let Some(why) = &state.ended {
            return Err(io::Error::other(format!("the read is over: {why}")));
        }
        let decoded_to = state.decoded_to;
        let part = state.parts.entry(index).or_default();
        let skip = decoded_to
            .saturating_sub(part.received)
            .min(bytes.len() as u64) as usize;
        part.buf.extend(&bytes[skip..]);
        part.received += bytes.len() as u64;
        drop(state);
        self.arrived.notify_all();
        Ok(())
    }
}

fn wake_all(state: &mut State) {
    for part in state.parts.values_mut() {
        if let Some(waker) = part.waiting.take() {
            waker.wake();
        }
    }
}

/// Copies `out.len()` bytes of `buf` from `from`.
fn copy_out(buf: &VecDeque<u8>, from: usize, out: &mut [u8]) {
    let (a, b) = buf.as_slices();
    let n = out.len();
    if from + n <= a.len() {
        out.copy_from_slice(&a[from..from + n]);
    } else if from >= a.len() {
        out.copy_from_slice(&b[from - a.len()..from - a.len() + n]);
    } else {
        let first = a.len() - from;
        out[..first].copy_from_slice(&a[from..]);
        out[first..].copy_from_slice(&b[..n - first]);
    }
}

/// Writes one fragment's checked bytes into the assembly.
#[derive(Debug)]
pub struct PartWriter {
    assembly: Arc<Assembly>,
    index: u32,
}

impl Write for PartWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.assembly.write(self.index, buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Opens while fragment `index` is less than [`AHEAD`] bytes ahead.
struct PartGate {
    assembly: Arc<Assembly>,
    index: u32,
}

impl Gate for PartGate {
    fn poll_open(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.assembly.lock();
        if state.ended.is_some() {
            return Poll::Ready(());
        }
        let decoded_to = state.decoded_to;
        let part = state.parts.entry(self.index).or_default();
        if part.received.saturating_sub(decoded_to) < self.assembly.ahead {
            Poll::Ready(())
        } else {
            part.waiting = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

impl FetchSink for Arc<Assembly> {
    type Writer = PartWriter;

    fn create(&self, index: u32) -> io::Result<PartWriter> {
        let mut state = self.lock();
        state.parts.insert(index, Part::default());
        Ok(PartWriter {
            assembly: self.clone(),
            index,
        })
    }

    fn finish(&self, _: u32, _: PartWriter, _: &Footer, _: &[Digest]) -> io::Result<()> {
        Ok(())
    }

    fn discard(&self, index: u32, _: PartWriter) {
        let mut state = self.lock();
        state.parts.remove(&index);
        drop(state);
        self.arrived.notify_all();
    }

    fn gate(&self, index: u32) -> Option<Arc<dyn Gate>> {
        Some(Arc::new(PartGate {
            assembly: self.clone(),
            index,
        }))
    }
}
