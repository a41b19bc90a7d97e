//! The put pipeline: encrypt → erasure-code → hash, stripe by stripe.
//!
//! Stripes are independent (each data shard is exactly one encrypted
//! segment), so a batch of stripes is processed in parallel with rayon, each
//! stripe in one fused pass while its bytes are in cache: seal the segments in
//! place, compute parity, hash every shard's groups. Reading the input and
//! writing the fragments stay sequential and in order. Memory is bounded by
//! the batch: about `2 × threads × (k + m) × shard_size`.

use std::{
    cell::RefCell,
    io::{self, Read, Write},
};

use rayon::prelude::*;

use crate::{
    cipher::{ObjectKey, SegmentCipher},
    commit::{hash_groups, object_root, tree_levels, Hash},
    erasure::{CodecError, StripeEncoder},
    file::{write_trailer, Footer},
    manifest::Object,
    params::{Layout, Params},
    GROUP_SIZE,
};

/// Why an object could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// A zero-byte object.
    #[error("the object is empty: there is nothing to store")]
    Empty,
    /// So large that the fragment size overflows.
    #[error("an object of {size} bytes is too large for these parameters")]
    TooLarge {
        /// Bytes asked for.
        size: u64,
    },
    /// The caller passed the wrong number of fragment outputs.
    #[error("{expected} fragment outputs are needed (k + m), {found} were given")]
    Outputs {
        /// `k + m`.
        expected: usize,
        /// Outputs given.
        found: usize,
    },
    /// The input ended early.
    #[error("the input ended after {read} bytes, but the object is {expected} bytes (did the file shrink?)")]
    InputShort {
        /// Bytes read.
        read: u64,
        /// Bytes declared.
        expected: u64,
    },
    /// The input had more bytes than declared.
    #[error("the input is longer than the declared {expected} bytes (did the file grow?)")]
    InputLong {
        /// Bytes declared.
        expected: u64,
    },
    /// Reading the input failed.
    #[error("reading the input: {0}")]
    Read(io::Error),
    /// Writing a fragment failed.
    #[error("writing fragment {index}: {error}")]
    Write {
        /// The fragment.
        index: usize,
        /// The cause.
        error: io::Error,
    },
    /// The erasure code failed.
    #[error(transparent)]
    Codec(#[from] CodecError),
}

thread_local! {
    static ENCODER: RefCell<StripeEncoder> = RefCell::new(StripeEncoder::new());
}

/// One stripe in flight: all `k + m` shards back to back, and their group hashes.
struct Stripe {
    index: u64,
    shards: Vec<u8>,
    hashes: Vec<Hash>,
}

/// Encodes `size` bytes read from `input` into `k + m` fragments written to
/// `outputs` (one per fragment, in index order), each followed by its tree
/// and footer: the fragment file format of [`crate::file`]. `progress` is
/// called with the number of plaintext bytes done so far.
pub fn encode<R: Read, W: Write>(
    mut input: R,
    size: u64,
    params: Params,
    key: &ObjectKey,
    outputs: &mut [W],
    progress: &mut dyn FnMut(u64),
) -> Result<Object, EncodeError> {
    let layout = match params.layout(size) {
        Some(layout) => layout,
        None if size == 0 => return Err(EncodeError::Empty),
        None => return Err(EncodeError::TooLarge { size }),
    };
    let total = params.total();
    if outputs.len() != total {
        return Err(EncodeError::Outputs {
            expected: total,
            found: outputs.len(),
        });
    }
    let cipher = key.sealer();
    let batch = 2 * rayon::current_num_threads().max(1);
    let mut leaves: Vec<Vec<Hash>> =
        vec![Vec::with_capacity(layout.chunks().div_ceil(crate::GROUP_CHUNKS) as usize); total];
    let mut pool: Vec<Stripe> = Vec::new();
    let mut done = 0u64;

    let mut next = 0u64;
    while next < layout.stripes {
        let end = (next + batch as u64).min(layout.stripes);
        let mut stripes: Vec<Stripe> = Vec::with_capacity(batch);
        for index in next..end {
            let mut stripe = pool.pop().unwrap_or(Stripe {
                index,
                shards: Vec::new(),
                hashes: Vec::new(),
            });
            stripe.index = index;
            read_stripe(&mut input, &layout, &mut stripe, done)?;
            done += layout.stripe_plaintext(index);
            stripes.push(stripe);
        }
        stripes
            .par_iter_mut()
            .try_for_each(|stripe| seal_and_code(&layout, &cipher, stripe))?;
        for stripe in stripes {
            let shard = layout.shard_size(stripe.index);
            let per_shard = shard.div_ceil(GROUP_SIZE);
            for (i, out) in outputs.iter_mut().enumerate() {
                out.write_all(&stripe.shards[i * shard..(i + 1) * shard])
                    .map_err(|error| EncodeError::Write { index: i, error })?;
                leaves[i].extend_from_slice(&stripe.hashes[i * per_shard..(i + 1) * per_shard]);
            }
            pool.push(stripe);
        }
        progress(done);
        next = end;
    }
    let mut probe = [0u8; 1];
    match input.read(&mut probe) {
        Ok(0) => {}
        Ok(_) => return Err(EncodeError::InputLong { expected: size }),
        Err(e) => return Err(EncodeError::Read(e)),
    }

    let levels: Vec<Vec<Vec<Hash>>> = leaves.par_iter().map(|l| tree_levels(l)).collect();
    let fragment_roots: Vec<Hash> = levels
        .iter()
        .map(|l| {
            l.last()
                .and_then(|top| top.first())
                .copied()
                .unwrap_or_default()
        })
        .collect();
    let root = object_root(&layout, &fragment_roots);
    for (i, (out, levels)) in outputs.iter_mut().zip(&levels).enumerate() {
        let footer = Footer {
            index: i as u16,
            data: params.data() as u16,
            parity: params.parity() as u16,
            shard_size: params.shard_size(),
            object_size: size,
            fragment_size: layout.fragment_size,
            fragment_root: fragment_roots[i],
            object_root: root,
        };
        write_trailer(out, levels, &footer)
            .and_then(|()| out.flush())
            .map_err(|error| EncodeError::Write { index: i, error })?;
    }
    Ok(Object {
        layout,
        fragment_roots,
        root,
    })
}

/// Reads stripe `stripe.index`'s plaintext into the start of its data shards.
fn read_stripe<R: Read>(
    input: &mut R,
    layout: &Layout,
    stripe: &mut Stripe,
    done: u64,
) -> Result<(), EncodeError> {
    let shard = layout.shard_size(stripe.index);
    let len = shard * layout.params.total();
    if stripe.shards.len() != len || stripe.index + 1 == layout.stripes {
        // The last stripe leaves padding that must be zero; others overwrite every byte.
        stripe.shards.clear();
        stripe.shards.resize(len, 0);
    }
    let mut read = done;
    for segment in layout.segments(stripe.index) {
        let start = segment.shard * shard;
        let filled = read_full(input, &mut stripe.shards[start..start + segment.len])?;
        read += filled as u64;
        if filled < segment.len {
            return Err(EncodeError::InputShort {
                read,
                expected: layout.size,
            });
        }
    }
    Ok(())
}

/// Fills `buf` from `input`, stopping early only at the end of input.
fn read_full<R: Read>(input: &mut R, buf: &mut [u8]) -> Result<usize, EncodeError> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(EncodeError::Read(e)),
        }
    }
    Ok(filled)
}

/// Seals the segments of a stripe, computes its parity and hashes its shards,
/// each shard right after it is written, while it is still in cache.
fn seal_and_code(
    layout: &Layout,
    cipher: &SegmentCipher,
    stripe: &mut Stripe,
) -> Result<(), EncodeError> {
    let k = layout.params.data();
    let m = layout.params.parity();
    let shard = layout.shard_size(stripe.index);
    stripe.hashes.clear();
    let (data, parity) = stripe.shards.split_at_mut(k * shard);
    let mut segments = layout.segments(stripe.index).peekable();
    for (j, buf) in data.chunks_exact_mut(shard).enumerate() {
        if let Some(segment) = segments.next_if(|s| s.shard == j) {
            cipher.seal(buf, segment.len, segment.index, segment.last);
        }
        hash_groups(buf, &mut stripe.hashes);
    }
    let hashes = &mut stripe.hashes;
    ENCODER.with_borrow_mut(|encoder| {
        encoder.encode(data, k, m, shard, |i, out| {
            hash_groups(out, hashes);
            parity[i * shard..(i + 1) * shard].copy_from_slice(out);
        })
    })?;
    Ok(())
}
