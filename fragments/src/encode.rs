//! The put pipeline: encrypt → erasure-code → hash, stripe by stripe.
//!
//! Stripes are independent (each data shard is exactly one encrypted
//! segment), so a batch of stripes is processed in parallel with rayon, each
//! stripe in one fused pass while its bytes are in cache: seal the segments in
//! place, compute parity, hash every shard's groups. Reading the input and
//! writing the fragments stay sequential and in order, overlapped with the
//! coding of the batch before. Memory: three batches of stripes (see
//! `batch_size`), plus the group hashes, 32 bytes per 16 KiB of each
//! fragment (1/512 of the encoded size), kept until the trees are built.

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
    /// No randomness for the object key.
    #[error("the operating system gave no randomness for the object key: {0}")]
    Randomness(String),
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

/// Encodes `size` bytes read from `input` into `k + m` fragments under a
/// fresh random key, which it returns with the object; see [`encode_with_key`].
pub fn encode<R: Read + Send, W: Write + Send>(
    input: R,
    size: u64,
    params: Params,
    outputs: &mut [W],
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<(Object, ObjectKey), EncodeError> {
    let key = ObjectKey::generate().map_err(|e| EncodeError::Randomness(e.to_string()))?;
    let object = encode_with_key(input, size, params, &key, outputs, progress)?;
    Ok((object, key))
}

/// Encodes `size` bytes read from `input` into `k + m` fragments written to
/// `outputs` (one per fragment, in index order), each followed by its tree
/// and footer: the fragment file format of [`crate::file`]. `progress` is
/// called with the number of plaintext bytes done so far.
///
/// **A key must encrypt one encoding only.** Segment nonces are segment
/// indexes, so two encodings under one key (another file, or the same file
/// with other parameters) would reuse nonces, which breaks AES-GCM. Use
/// [`encode()`], which draws a fresh key, unless the output must be
/// reproducible (test vectors).
pub fn encode_with_key<R: Read + Send, W: Write + Send>(
    mut input: R,
    size: u64,
    params: Params,
    key: &ObjectKey,
    outputs: &mut [W],
    progress: &mut (dyn FnMut(u64) + Send),
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
    let batch = batch_size(&layout);
    // Reserve for the group hashes up front, but never on the word of `size`
    // alone beyond a modest bound: the input may be shorter than declared.
    let groups = layout.chunks().div_ceil(crate::GROUP_CHUNKS).min(1 << 16) as usize;
    let mut leaves: Vec<Vec<Hash>> = vec![Vec::with_capacity(groups); total];
    let mut pool: Vec<Stripe> = Vec::new();
    let mut reader = StripeReader {
        input: &mut input,
        layout: &layout,
        next: 0,
        done: 0,
    };

    // Three batches in flight: while one is sealed, coded and hashed in
    // parallel, the previous one is written and the next one read.
    let mut current = reader.read_batch(batch, &mut pool)?;
    let mut written: Vec<Stripe> = Vec::new();
    while !current.is_empty() {
        let (coded, io) = rayon::join(
            || {
                current
                    .par_iter_mut()
                    .try_for_each(|stripe| seal_and_code(&layout, &cipher, stripe))
            },
            || -> Result<Vec<Stripe>, EncodeError> {
                write_batch(&layout, &mut written, outputs, &mut leaves, &mut pool)?;
                progress(reader.done);
                reader.read_batch(batch, &mut pool)
            },
        );
        coded?;
        let next = io?;
        written = std::mem::replace(&mut current, next);
    }
    write_batch(&layout, &mut written, outputs, &mut leaves, &mut pool)?;
    progress(reader.done);
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

/// Codes single stripes of an encoding again, from its plaintext, for a
/// caller that streams fragments as they are needed instead of keeping them
/// (a put sends them to providers after a first pass under
/// [`encode_with_key`] fixed the roots).
///
/// With the same plaintext, layout and key the bytes are the first pass's,
/// byte for byte. If the plaintext changed in between, the group hashes of
/// the new stripe differ from the first pass's leaves: the caller must
/// compare them before it lets any byte of the stripe out, since a changed
/// segment sealed under the same nonce would expose both versions.
pub struct Restriper<'a, S: crate::ReadAt + ?Sized> {
    layout: Layout,
    cipher: SegmentCipher,
    plaintext: &'a S,
}

impl<S: crate::ReadAt + ?Sized> std::fmt::Debug for Restriper<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restriper")
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

impl<'a, S: crate::ReadAt + ?Sized> Restriper<'a, S> {
    /// Stripes of the object `layout` describes, encrypted under `key`, read
    /// from `plaintext` (the whole object, from offset 0).
    pub fn new(layout: Layout, key: &ObjectKey, plaintext: &'a S) -> Self {
        Self {
            layout,
            cipher: key.sealer(),
            plaintext,
        }
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Codes stripe `index` into `shards` (all `k + m` shards back to back,
    /// `layout.shard_size(index)` bytes each) and `hashes` (the group hashes
    /// of every shard, shard after shard). Pass the buffers of an earlier
    /// stripe back in to save allocating and clearing them.
    pub fn stripe(
        &self,
        index: u64,
        shards: &mut Vec<u8>,
        hashes: &mut Vec<Hash>,
    ) -> Result<(), EncodeError> {
        if index >= self.layout.stripes {
            return Err(EncodeError::Read(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("stripe {index} of {}", self.layout.stripes),
            )));
        }
        let shard = self.layout.shard_size(index);
        let len = shard * self.layout.params.total();
        if shards.len() != len || index + 1 == self.layout.stripes {
            // As in `read_stripe`: only the last stripe has padding to zero.
            shards.clear();
            shards.resize(len, 0);
        }
        let mut offset = self.layout.stripe_start(index);
        for segment in self.layout.segments(index) {
            let start = segment.shard * shard;
            self.read_plaintext(&mut shards[start..start + segment.len], offset)?;
            offset += segment.len as u64;
        }
        let mut stripe = Stripe {
            index,
            shards: std::mem::take(shards),
            hashes: std::mem::take(hashes),
        };
        let coded = seal_and_code(&self.layout, &self.cipher, &mut stripe);
        *shards = stripe.shards;
        *hashes = stripe.hashes;
        coded
    }

    /// Fills `buf` with plaintext from `offset`; a source that ends
    /// early is an input shorter than the layout says.
    fn read_plaintext(&self, buf: &mut [u8], offset: u64) -> Result<(), EncodeError> {
        self.plaintext
            .read_exact_at(buf, offset)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => EncodeError::InputShort {
                    read: offset,
                    expected: self.layout.size,
                },
                _ => EncodeError::Read(e),
            })
    }

    /// Codes data shard `shard` of stripe `index` alone, without the rest
    /// of the stripe (a data shard needs no parity): `out` gets its
    /// `layout.shard_size(index)` bytes, `hashes` its group hashes.
    pub fn data_shard(
        &self,
        index: u64,
        shard: usize,
        out: &mut Vec<u8>,
        hashes: &mut Vec<Hash>,
    ) -> Result<(), EncodeError> {
        let layout = &self.layout;
        if index >= layout.stripes || shard >= layout.params.data() {
            return Err(EncodeError::Read(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("data shard {shard} of stripe {index}"),
            )));
        }
        let len = layout.shard_size(index);
        out.clear();
        out.resize(len, 0);
        hashes.clear();
        if let Some(segment) = layout.segments(index).find(|s| s.shard == shard) {
            // Every segment before this one in the stripe is full.
            let offset = layout.stripe_start(index) + (shard * (len - crate::TAG_LEN)) as u64;
            self.read_plaintext(&mut out[..segment.len], offset)?;
            self.cipher
                .seal(out, segment.len, segment.index, segment.last);
        }
        hash_groups(out, hashes);
        Ok(())
    }
}

/// Stripes per batch: up to two per thread, as long as a batch stays under
/// [`BATCH_BYTES`] (three batches are in flight, so memory stays under
/// `3 × max(BATCH_BYTES, one stripe)`).
pub(crate) fn batch_size(layout: &Layout) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let stripe_bytes = layout.params.total() * layout.params.shard_size() as usize;
    (BATCH_BYTES / stripe_bytes.max(1)).clamp(1, 2 * threads)
}

/// Memory a batch of stripes aims to stay under.
pub(crate) const BATCH_BYTES: usize = 48 << 20;

/// Reads stripes in order.
struct StripeReader<'a, R> {
    input: &'a mut R,
    layout: &'a Layout,
    next: u64,
    done: u64,
}

impl<R: Read> StripeReader<'_, R> {
    /// Reads up to `batch` stripes, reusing buffers from `pool`.
    fn read_batch(
        &mut self,
        batch: usize,
        pool: &mut Vec<Stripe>,
    ) -> Result<Vec<Stripe>, EncodeError> {
        let end = (self.next + batch as u64).min(self.layout.stripes);
        let mut stripes = Vec::with_capacity(batch);
        for index in self.next..end {
            let mut stripe = pool.pop().unwrap_or(Stripe {
                index,
                shards: Vec::new(),
                hashes: Vec::new(),
            });
            stripe.index = index;
            read_stripe(self.input, self.layout, &mut stripe, self.done)?;
            self.done += self.layout.stripe_plaintext(index);
            stripes.push(stripe);
        }
        self.next = end;
        Ok(stripes)
    }
}

/// Writes coded stripes to the fragment outputs in order and keeps their hashes.
fn write_batch<W: Write>(
    layout: &Layout,
    stripes: &mut Vec<Stripe>,
    outputs: &mut [W],
    leaves: &mut [Vec<Hash>],
    pool: &mut Vec<Stripe>,
) -> Result<(), EncodeError> {
    for stripe in stripes.drain(..) {
        let shard = layout.shard_size(stripe.index);
        let per_shard = shard.div_ceil(GROUP_SIZE);
        for (i, out) in outputs.iter_mut().enumerate() {
            out.write_all(&stripe.shards[i * shard..(i + 1) * shard])
                .map_err(|error| EncodeError::Write { index: i, error })?;
            leaves[i].extend_from_slice(&stripe.hashes[i * per_shard..(i + 1) * per_shard]);
        }
        pool.push(stripe);
    }
    Ok(())
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
