//! Reading an object back: fetch fragments from their providers in
//! parallel, check every group on arrival against the roots the contract
//! records, and stop at `k` good ones.
//!
//! Data fragments are asked for first (with all `k` of them nothing needs
//! decoding); a provider that fails (unreachable, refuses, stalls, or sends
//! a byte that does not match) is named in the report and the next
//! fragment is asked for instead.

use std::{
    io::Write,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use futures::{
    stream::{FuturesUnordered, StreamExt},
    AsyncRead, AsyncWrite,
};
use sherd_fragments::{commit::Hash as Digest, file::Footer};
use sherd_ledger::{Address, Hash};

use crate::{
    transfer::{self, Expected, TransferError},
    transport::{Endpoint, Transport},
};

/// A fragment and where it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The fragment index.
    pub index: u32,
    /// Its root, from the contract.
    pub root: Hash,
    /// Its provider.
    pub endpoint: Endpoint,
}

/// Where fetched fragments go.
pub trait FetchSink: Send + Sync {
    /// A fragment's bytes as they arrive.
    type Writer: Write + Send;
    /// Starts fragment `index`.
    fn create(&self, index: u32) -> std::io::Result<Self::Writer>;
    /// Fragment `index` arrived whole and checked.
    fn finish(
        &self,
        index: u32,
        writer: Self::Writer,
        footer: &Footer,
        leaves: &[Digest],
    ) -> std::io::Result<()>;
    /// Fragment `index` failed: throw its bytes away.
    fn discard(&self, index: u32, writer: Self::Writer);
    /// What paces fragment `index`'s download, for a sink that cannot take
    /// bytes at any speed (one that decodes as it goes): the download reads
    /// from the network only when the gate is open, so a fragment far ahead
    /// of the others waits without holding its bytes in memory.
    fn gate(&self, _index: u32) -> Option<Arc<dyn Gate>> {
        None
    }
}

/// Paces a download (see [`FetchSink::gate`]).
pub trait Gate: Send + Sync {
    /// Ready when more bytes may be read; otherwise wakes `cx` once they may.
    fn poll_open(&self, cx: &mut Context<'_>) -> Poll<()>;
}

/// A stream whose reads wait for a gate.
struct Gated<S> {
    inner: S,
    gate: Option<Arc<dyn Gate>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Gated<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        if let Some(gate) = &self.gate {
            std::task::ready!(gate.poll_open(cx));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Gated<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// A fragment that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchFailure {
    /// The fragment.
    pub index: u32,
    /// Its provider.
    pub provider: Address,
    /// Whether it sent bytes that do not match the contract (a lying or
    /// rotten provider), not just failed.
    pub corrupt: bool,
    /// What happened.
    pub reason: String,
}

/// What a fetch came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// The fragments fetched and checked, in the order they completed.
    pub good: Vec<u32>,
    /// The fragments that failed.
    pub failures: Vec<FetchFailure>,
}

/// Why not enough fragments could be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("only {got} of the {needed} fragments needed could be read ({})", describe(.failures))]
pub struct FetchError {
    /// Fragments read.
    pub got: usize,
    /// Fragments needed.
    pub needed: usize,
    /// What failed.
    pub failures: Vec<FetchFailure>,
}

fn describe(failures: &[FetchFailure]) -> String {
    if failures.is_empty() {
        return "no other fragment is stored".into();
    }
    failures
        .iter()
        .map(|f| format!("fragment {} at {}: {}", f.index, f.provider, f.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Watches a fetch.
pub trait FetchEvents: Send + Sync {
    /// `received` data bytes of fragment `index` arrived in its attempt.
    fn received(&self, index: u32, received: u64);
    /// Fragment `index` is in.
    fn done(&self, index: u32);
    /// A fragment failed.
    fn failed(&self, failure: &FetchFailure);
}

impl FetchEvents for super::put::Quiet {
    fn received(&self, _: u32, _: u64) {}
    fn done(&self, _: u32) {}
    fn failed(&self, _: &FetchFailure) {}
}

/// Fetches `needed` good fragments of contract `contract_id` from
/// `sources` into `sink`.
pub async fn fetch<T, K>(
    transport: &T,
    contract_id: Hash,
    fragment_size: u64,
    needed: usize,
    mut sources: Vec<Source>,
    sink: &K,
    events: &dyn FetchEvents,
) -> Result<FetchReport, FetchError>
where
    T: Transport,
    K: FetchSink,
{
    // Data fragments first, in index order.
    sources.sort_by_key(|s| s.index);
    let mut queue = sources.into_iter();
    let mut report = FetchReport {
        good: Vec::new(),
        failures: Vec::new(),
    };
    let mut running = FuturesUnordered::new();
    for source in queue.by_ref().take(needed) {
        running.push(one(
            transport,
            contract_id,
            fragment_size,
            source,
            sink,
            events,
        ));
    }
    while let Some((source, result)) = running.next().await {
        match result {
            Ok(()) => {
                events.done(source.index);
                report.good.push(source.index);
                if report.good.len() >= needed {
                    return Ok(report);
                }
            }
            Err(e) => {
                let failure = FetchFailure {
                    index: source.index,
                    provider: source.endpoint.address,
                    corrupt: matches!(e, TransferError::Corrupt(_)),
                    reason: e.to_string(),
                };
                events.failed(&failure);
                report.failures.push(failure);
                if let Some(next) = queue.next() {
                    running.push(one(
                        transport,
                        contract_id,
                        fragment_size,
                        next,
                        sink,
                        events,
                    ));
                }
                // Stop as soon as `needed` is out of reach, rather than wait
                // for the fragments still coming: they cannot make up the
                // count (and a sink that paces them may be holding them back
                // for the ones that failed).
                if report.good.len() + running.len() < needed {
                    break;
                }
            }
        }
    }
    Err(FetchError {
        got: report.good.len(),
        needed,
        failures: report.failures,
    })
}

async fn one<T: Transport, K: FetchSink>(
    transport: &T,
    contract_id: Hash,
    fragment_size: u64,
    source: Source,
    sink: &K,
    events: &dyn FetchEvents,
) -> (Source, Result<(), TransferError>) {
    let result = async {
        let stream = transport
            .open(&source.endpoint)
            .await
            .map_err(|e| TransferError::Io(std::io::Error::other(e.to_string())))?;
        let mut stream = Gated {
            inner: stream,
            gate: sink.gate(source.index),
        };
        let mut writer = sink.create(source.index).map_err(TransferError::Local)?;
        let expected = Expected {
            root: *source.root.as_bytes(),
            fragment_size,
            index: source.index,
        };
        let index = source.index;
        match transfer::download(&mut stream, contract_id, &expected, &mut writer, &mut |n| {
            events.received(index, n)
        })
        .await
        {
            Ok((footer, leaves)) => sink
                .finish(source.index, writer, &footer, &leaves)
                .map_err(TransferError::Local),
            Err(e) => {
                sink.discard(source.index, writer);
                Err(e)
            }
        }
    }
    .await;
    (source, result)
}
