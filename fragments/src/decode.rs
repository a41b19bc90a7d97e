//! The get pipeline: verify → erasure-decode → decrypt, stripe by stripe.
//!
//! Every fragment file is first checked as a whole (footer, stored tree
//! against the manifest's root). Then, per stripe, shards are read from the
//! preferred fragments (data fragments first, so that decoding is skipped
//! when they are all good), each 16 KiB group is hashed and compared with the
//! verified tree, a fragment with a bad group is dropped and the next one is
//! read instead. Missing data shards are restored, segments are decrypted,
//! and plaintext is written in order. A wrong byte anywhere is an error or a
//! skipped fragment, never wrong output.

use std::{
    cell::RefCell,
    io::{self, Write},
    sync::{
        atomic::{AtomicBool, Ordering},
        Mutex,
    },
};

use rayon::prelude::*;

use crate::{
    cipher::{DecryptError, ObjectKey, SegmentCipher},
    commit::{group_hash, tree_levels, Hash},
    erasure::{CodecError, StripeDecoder},
    file::{file_len, read_footer, read_leaves, FileError, Footer, ReadAt},
    manifest::Object,
    params::Layout,
    GROUP_SIZE,
};

/// What became of one fragment during a decode or a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FragmentStatus {
    /// Good, and read.
    Used,
    /// Good, but not needed.
    Spare,
    /// No file.
    Missing,
    /// Present but unusable, with the reason.
    Corrupt(String),
}

impl FragmentStatus {
    /// Whether the fragment checked out.
    pub fn is_good(&self) -> bool {
        matches!(self, Self::Used | Self::Spare)
    }
}

impl std::fmt::Display for FragmentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Used => f.write_str("ok"),
            Self::Spare => f.write_str("ok (not read: footer and tree checked, data not needed)"),
            Self::Missing => f.write_str("missing"),
            Self::Corrupt(why) => write!(f, "corrupt: {why}"),
        }
    }
}

/// Why an object could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The caller passed the wrong number of fragment slots.
    #[error("{expected} fragment slots are needed (k + m), {found} were given")]
    Sources {
        /// `k + m`.
        expected: usize,
        /// Slots given.
        found: usize,
    },
    /// Fewer than `k` fragments are good.
    #[error("not enough good fragments: {needed} are needed, {good} are good ({})", summary(.statuses))]
    NotEnough {
        /// `k`.
        needed: usize,
        /// Good fragments found.
        good: usize,
        /// What was wrong with each fragment.
        statuses: Vec<FragmentStatus>,
    },
    /// A segment failed to authenticate although its fragments verified.
    #[error("{0}: the key does not belong to this object")]
    Decrypt(DecryptError),
    /// Writing the output failed.
    #[error("writing the output: {0}")]
    Write(io::Error),
    /// The erasure code failed.
    #[error(transparent)]
    Codec(#[from] CodecError),
}

impl From<DecryptError> for DecodeError {
    fn from(e: DecryptError) -> Self {
        Self::Decrypt(e)
    }
}

fn summary(statuses: &[FragmentStatus]) -> String {
    let bad: Vec<String> = statuses
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_good())
        .map(|(i, s)| format!("fragment {i} {s}"))
        .collect();
    bad.join("; ")
}

/// What a decode found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeReport {
    /// The status of every fragment, by index.
    pub fragments: Vec<FragmentStatus>,
}

/// Checks a fragment file's footer against the object and reads its verified
/// group hashes.
pub fn open_fragment<S: ReadAt + ?Sized>(
    object: &Object,
    index: usize,
    source: &S,
) -> Result<(Footer, Vec<Hash>), FileError> {
    let layout = &object.layout;
    // The manifest knows the file's size: a truncated or extended file is
    // named as such rather than as a damaged footer.
    let found = source.len()?;
    match file_len(layout.fragment_size) {
        Some(expected) if expected != found => return Err(FileError::Size { expected, found }),
        _ => {}
    }
    let footer = read_footer(source)?;
    let expected = Footer {
        index: index as u16,
        data: layout.params.data() as u16,
        parity: layout.params.parity() as u16,
        shard_size: layout.params.shard_size(),
        object_size: layout.size,
        fragment_size: layout.fragment_size,
        fragment_root: object.fragment_roots[index],
        object_root: object.root,
    };
    if footer.object_root != expected.object_root {
        return Err(FileError::Footer("it belongs to another object"));
    }
    if footer.index != expected.index {
        return Err(FileError::Footer("it holds another fragment index"));
    }
    if footer != expected {
        return Err(FileError::Footer("its parameters differ from the manifest"));
    }
    let leaves = read_leaves(source, layout.fragment_size, &expected.fragment_root)?;
    Ok((footer, leaves))
}

/// Checks every byte of a fragment file against the object: footer, every
/// level of the stored tree, and each group of data.
pub fn check_fragment<S: ReadAt + ?Sized>(
    object: &Object,
    index: usize,
    source: &S,
) -> Result<(), FileError> {
    let (_, leaves) = open_fragment(object, index, source)?;
    let size = object.layout.fragment_size;
    let tree: Vec<u8> = tree_levels(&leaves).concat().concat();
    let mut stored = vec![0u8; tree.len()];
    source.read_exact_at(&mut stored, size)?;
    if stored != tree {
        return Err(FileError::Tree);
    }
    let mut buf = vec![0u8; GROUP_SIZE];
    for (group, leaf) in leaves.iter().enumerate() {
        let start = group as u64 * GROUP_SIZE as u64;
        let len = (size - start).min(GROUP_SIZE as u64) as usize;
        source.read_exact_at(&mut buf[..len], start)?;
        if group_hash(&buf[..len]) != *leaf {
            return Err(FileError::Group {
                group: group as u64,
                start,
                end: start + len as u64,
            });
        }
    }
    Ok(())
}

thread_local! {
    static DECODER: RefCell<StripeDecoder> = RefCell::new(StripeDecoder::new());
}

/// A fragment that passed [`open_fragment`].
struct Candidate<'a, S: ?Sized> {
    index: usize,
    source: &'a S,
    leaves: Vec<Hash>,
    bad: AtomicBool,
}

/// Decodes the object from `sources` (slot `i` holds fragment `i`, or `None`
/// when it is missing) into `output`. At least `k` fragments must be good;
/// which ones were used, spare, missing or corrupt is reported.
pub fn decode<S: ReadAt + ?Sized, W: Write + Send>(
    object: &Object,
    key: &ObjectKey,
    sources: &[Option<&S>],
    output: &mut W,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<DecodeReport, DecodeError> {
    let layout = &object.layout;
    let (k, total) = (layout.params.data(), layout.params.total());
    if sources.len() != total {
        return Err(DecodeError::Sources {
            expected: total,
            found: sources.len(),
        });
    }
    let opened: Vec<Result<Candidate<'_, S>, FragmentStatus>> = sources
        .par_iter()
        .enumerate()
        .map(|(index, source)| {
            let source = source.ok_or(FragmentStatus::Missing)?;
            let (_, leaves) = open_fragment(object, index, source)
                .map_err(|e| FragmentStatus::Corrupt(e.to_string()))?;
            Ok(Candidate {
                index,
                source,
                leaves,
                bad: AtomicBool::new(false),
            })
        })
        .collect();
    let mut statuses: Vec<FragmentStatus> = Vec::with_capacity(total);
    let mut candidates = Vec::new();
    for entry in opened {
        match entry {
            Ok(candidate) => {
                statuses.push(FragmentStatus::Spare);
                candidates.push(candidate);
            }
            Err(status) => statuses.push(status),
        }
    }
    if candidates.len() < k {
        return Err(DecodeError::NotEnough {
            needed: k,
            good: candidates.len(),
            statuses,
        });
    }
    let damage: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());
    let used: Vec<AtomicBool> = (0..total).map(|_| AtomicBool::new(false)).collect();
    let cipher = key.sealer();
    let batch = crate::encode::batch_size(layout);
    let mut buffers: Vec<Vec<u8>> = Vec::new();
    let mut done = 0u64;

    // While one batch of stripes is decoded in parallel, the previous one is written.
    let mut written: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut next = 0u64;
    loop {
        let end = (next + batch as u64).min(layout.stripes);
        let mut work: Vec<(u64, Vec<u8>)> = (next..end)
            .map(|s| (s, buffers.pop().unwrap_or_default()))
            .collect();
        let (result, wrote) = rayon::join(
            || {
                work.par_iter_mut().try_for_each(|(stripe, buf)| {
                    decode_stripe(object, &cipher, &candidates, &damage, &used, *stripe, buf)
                })
            },
            || write_stripes(layout, &mut written, output, &mut buffers, &mut done),
        );
        progress(done);
        wrote?;
        match result {
            Ok(()) => {}
            Err(StripeError::TooFewGood) => {
                let statuses = final_statuses(statuses, &damage, &used);
                let good = statuses.iter().filter(|s| s.is_good()).count();
                return Err(DecodeError::NotEnough {
                    needed: k,
                    good,
                    statuses,
                });
            }
            Err(StripeError::Failed(error)) => return Err(error),
        }
        written = work;
        if end == layout.stripes {
            break;
        }
        next = end;
    }
    write_stripes(layout, &mut written, output, &mut buffers, &mut done)?;
    progress(done);
    output.flush().map_err(DecodeError::Write)?;
    Ok(DecodeReport {
        fragments: final_statuses(statuses, &damage, &used),
    })
}

/// Writes the plaintext of decoded stripes in order.
fn write_stripes<W: Write>(
    layout: &Layout,
    stripes: &mut Vec<(u64, Vec<u8>)>,
    output: &mut W,
    buffers: &mut Vec<Vec<u8>>,
    done: &mut u64,
) -> Result<(), DecodeError> {
    for (stripe, buf) in stripes.drain(..) {
        let shard = layout.shard_size(stripe);
        for segment in layout.segments(stripe) {
            let start = segment.shard * shard;
            output
                .write_all(&buf[start..start + segment.len])
                .map_err(DecodeError::Write)?;
        }
        *done += layout.stripe_plaintext(stripe);
        buffers.push(buf);
    }
    Ok(())
}

/// The statuses after the stripes ran: read fragments are `Used`, fragments
/// with a bad group are `Corrupt`.
fn final_statuses(
    mut statuses: Vec<FragmentStatus>,
    damage: &Mutex<Vec<(usize, String)>>,
    used: &[AtomicBool],
) -> Vec<FragmentStatus> {
    for (status, used) in statuses.iter_mut().zip(used) {
        if used.load(Ordering::Relaxed) && status.is_good() {
            *status = FragmentStatus::Used;
        }
    }
    for (index, why) in damage.lock().map(|d| d.clone()).unwrap_or_default() {
        statuses[index] = FragmentStatus::Corrupt(why);
    }
    statuses
}

/// Why one stripe could not be decoded.
enum StripeError {
    /// Fewer than `k` of its shards are good; the caller reports every fragment.
    TooFewGood,
    /// Anything else.
    Failed(DecodeError),
}

impl<E: Into<DecodeError>> From<E> for StripeError {
    fn from(e: E) -> Self {
        Self::Failed(e.into())
    }
}

/// Decodes single stripes from shards the caller has already checked group
/// by group (a get that decodes while it fetches, each group verified on
/// arrival against the contract's roots), writing the plaintext in order.
pub struct Unstriper {
    layout: Layout,
    cipher: SegmentCipher,
    decoder: StripeDecoder,
}

impl std::fmt::Debug for Unstriper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unstriper")
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

impl Unstriper {
    /// Stripes of the object `layout` describes, encrypted under `key`.
    pub fn new(layout: Layout, key: &ObjectKey) -> Self {
        Self {
            layout,
            cipher: key.sealer(),
            decoder: StripeDecoder::new(),
        }
    }

    /// Decodes stripe `index`: `shards` holds its `k + m` slots of
    /// `layout.shard_size(index)` bytes back to back, `present[i]` says
    /// which hold a checked shard (at least `k` must). Missing data shards
    /// are restored in place, the segments decrypted, and the stripe's
    /// plaintext written to `output`.
    pub fn stripe<W: Write>(
        &mut self,
        index: u64,
        shards: &mut [u8],
        present: &[bool],
        output: &mut W,
    ) -> Result<(), DecodeError> {
        let layout = &self.layout;
        let shard = check_stripe(layout, index, shards, present)?;
        restore_and_open(
            layout,
            &self.cipher,
            &mut self.decoder,
            index,
            shards,
            present,
        )?;
        for segment in layout.segments(index) {
            let start = segment.shard * shard;
            output
                .write_all(&shards[start..start + segment.len])
                .map_err(DecodeError::Write)?;
        }
        Ok(())
    }
}

/// Checks the arguments of a one-stripe decode or rebuild: stripe `index`
/// exists, `shards` is its `k + m` slots, `present` has a flag per slot and
/// at least `k` are set. Answers the stripe's shard size.
pub(crate) fn check_stripe(
    layout: &Layout,
    index: u64,
    shards: &[u8],
    present: &[bool],
) -> Result<usize, DecodeError> {
    let (k, m) = (layout.params.data(), layout.params.parity());
    let shard = layout.shard_size(index);
    if index >= layout.stripes || shards.len() != (k + m) * shard || present.len() != k + m {
        return Err(DecodeError::Sources {
            expected: k + m,
            found: present.len(),
        });
    }
    let good = present.iter().filter(|&&p| p).count();
    if good < k {
        return Err(DecodeError::NotEnough {
            needed: k,
            good,
            statuses: present
                .iter()
                .map(|&p| {
                    if p {
                        FragmentStatus::Used
                    } else {
                        FragmentStatus::Missing
                    }
                })
                .collect(),
        });
    }
    Ok(shard)
}

/// Restores the missing data shards of stripe `index` in `buf` (`k + m`
/// slots, `present` saying which hold a good shard) and decrypts its
/// segments in place.
fn restore_and_open(
    layout: &Layout,
    cipher: &SegmentCipher,
    decoder: &mut StripeDecoder,
    index: u64,
    buf: &mut [u8],
    present: &[bool],
) -> Result<(), DecodeError> {
    let (k, m) = (layout.params.data(), layout.params.parity());
    let shard = layout.shard_size(index);
    decoder.restore(buf, present, k, m, shard)?;
    for segment in layout.segments(index) {
        let start = segment.shard * shard;
        cipher.open(
            &mut buf[start..start + shard],
            segment.len,
            segment.index,
            segment.last,
        )?;
    }
    Ok(())
}

/// Reads, verifies, restores and decrypts one stripe into `buf`.
fn decode_stripe<S: ReadAt + ?Sized>(
    object: &Object,
    cipher: &SegmentCipher,
    candidates: &[Candidate<'_, S>],
    damage: &Mutex<Vec<(usize, String)>>,
    used: &[AtomicBool],
    stripe: u64,
    buf: &mut Vec<u8>,
) -> Result<(), StripeError> {
    let layout = &object.layout;
    let (k, m) = (layout.params.data(), layout.params.parity());
    let shard = layout.shard_size(stripe);
    // No zeroing: every slot that is used is first filled by a read or a restore.
    buf.resize((k + m) * shard, 0);
    let mut present = vec![false; k + m];
    let mut have = 0;
    let offset = layout.shard_offset(stripe);
    let first_group = (offset / GROUP_SIZE as u64) as usize;
    for candidate in candidates {
        if have == k {
            break;
        }
        if candidate.bad.load(Ordering::Relaxed) {
            continue;
        }
        let slot = &mut buf[candidate.index * shard..(candidate.index + 1) * shard];
        match read_verified(candidate, slot, offset, first_group) {
            Ok(()) => {
                present[candidate.index] = true;
                used[candidate.index].store(true, Ordering::Relaxed);
                have += 1;
            }
            Err(why) => {
                candidate.bad.store(true, Ordering::Relaxed);
                if let Ok(mut d) = damage.lock() {
                    d.push((candidate.index, why.to_string()));
                }
            }
        }
    }
    if have < k {
        return Err(StripeError::TooFewGood);
    }
    DECODER.with_borrow_mut(|decoder| {
        restore_and_open(layout, cipher, decoder, stripe, buf, &present)
    })?;
    Ok(())
}

/// Reads one shard of a candidate and checks each of its groups.
fn read_verified<S: ReadAt + ?Sized>(
    candidate: &Candidate<'_, S>,
    slot: &mut [u8],
    offset: u64,
    first_group: usize,
) -> Result<(), FileError> {
    candidate.source.read_exact_at(slot, offset)?;
    for (i, group) in slot.chunks(GROUP_SIZE).enumerate() {
        let index = first_group + i;
        if candidate.leaves.get(index) != Some(&group_hash(group)) {
            let start = index as u64 * GROUP_SIZE as u64;
            return Err(FileError::Group {
                group: index as u64,
                start,
                end: start + group.len() as u64,
            });
        }
    }
    Ok(())
}
