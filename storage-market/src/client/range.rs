//! Reading a byte range of an object: only the stripes that hold it are
//! fetched (a ranged download of the same groups from `k` providers, each
//! group checked against the contract's roots), decoded and cut. This is
//! how one file of a pack is read without the rest.

use std::ops::Range;

use futures::stream::{FuturesUnordered, StreamExt};
use sherd_fragments::{decode::Unstriper, Layout, ObjectKey, GROUP_SIZE};
use sherd_ledger::Hash;

use super::get::{FetchError, FetchFailure, Source};
use crate::{
    transfer::{self, Expected, TransferError},
    transport::Transport,
};

/// Why a range could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RangeError {
    /// The range is not inside the object, or larger than allowed.
    #[error("{0}")]
    Invalid(String),
    /// Fewer than `k` providers served the stripes.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// Decoding failed.
    #[error(transparent)]
    Decode(#[from] sherd_fragments::DecodeError),
}

/// Bytes `range` of the object (at most `max` of them), from `sources`
/// (data fragments are asked first).
pub async fn read_range<T: Transport>(
    transport: &T,
    contract_id: Hash,
    layout: Layout,
    key: &ObjectKey,
    mut sources: Vec<Source>,
    range: Range<u64>,
    max: u64,
) -> Result<Vec<u8>, RangeError> {
    if range.start > range.end || range.end > layout.size {
        return Err(RangeError::Invalid(format!(
            "bytes {}..{} are outside the object's {}",
            range.start, range.end, layout.size
        )));
    }
    let len = range.end - range.start;
    if len > max {
        return Err(RangeError::Invalid(format!(
            "{len} bytes is more than the {max} read at once: get the whole object"
        )));
    }
    if len == 0 {
        return Ok(Vec::new());
    }
    let (k, total) = (layout.params.data(), layout.params.total());
    let per_stripe = layout.stripe_plaintext(0).max(1);
    let first = range.start / per_stripe;
    let last = ((range.end - 1) / per_stripe).min(layout.stripes - 1);
    let from = layout.shard_offset(first);
    let to = layout.shard_offset(last) + layout.shard_size(last) as u64;
    let group = GROUP_SIZE as u64;
    let groups = from / group..to.div_ceil(group);
    let base = groups.start * group;

    // Any k sources serve the stripes; data fragments first.
    sources.sort_by_key(|s| s.index);
    let mut queue = sources.into_iter();
    let mut running = FuturesUnordered::new();
    let one = |source: Source| {
        let groups = groups.clone();
        async move {
            let result = async {
                let mut stream = transport
                    .open(&source.endpoint)
                    .await
                    .map_err(|e| TransferError::Io(std::io::Error::other(e.to_string())))?;
                let expected = Expected {
                    root: *source.root.as_bytes(),
                    fragment_size: layout.fragment_size,
                    index: source.index,
                };
                let mut bytes = Vec::new();
                transfer::download_range(
                    &mut stream,
                    contract_id,
                    &expected,
                    groups,
                    &mut bytes,
                    &mut |_| {},
                )
                .await?;
                Ok::<_, TransferError>(bytes)
            }
            .await;
            (source, result)
        }
    };
    for source in queue.by_ref().take(k) {
        running.push(one(source));
    }
    let mut got: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut failures = Vec::new();
    while let Some((source, result)) = running.next().await {
        match result {
            Ok(bytes) => {
                got.push((source.index as usize, bytes));
                if got.len() == k {
                    break;
                }
            }
            Err(e) => {
                failures.push(FetchFailure {
                    index: source.index,
                    provider: source.endpoint.address,
                    corrupt: matches!(e, TransferError::Corrupt(_)),
                    reason: e.to_string(),
                });
                if let Some(next) = queue.next() {
                    running.push(one(next));
                }
            }
        }
    }
    if got.len() < k {
        return Err(FetchError {
            got: got.len(),
            needed: k,
            failures,
        }
        .into());
    }

    let mut unstriper = Unstriper::new(layout, key);
    let mut plain = Vec::new();
    for stripe in first..=last {
        let shard = layout.shard_size(stripe);
        let at = (layout.shard_offset(stripe) - base) as usize;
        let mut shards = vec![0u8; total * shard];
        let mut present = vec![false; total];
        for (index, bytes) in &got {
            shards[index * shard..(index + 1) * shard].copy_from_slice(&bytes[at..at + shard]);
            present[*index] = true;
        }
        unstriper.stripe(stripe, &mut shards, &present, &mut plain)?;
    }
    let skip = (range.start - layout.stripe_start(first)) as usize;
    Ok(plain[skip..skip + len as usize].to_vec())
}
