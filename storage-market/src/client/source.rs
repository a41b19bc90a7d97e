//! A put's fragments, made on demand instead of written out first.
//!
//! A put needs every fragment root before it can propose a deal, and the
//! roots exist only once the whole object is coded. Writing the `k + m`
//! fragments to a scratch directory and reading them back to upload costs
//! 1.5 times the object in disk space and, on a small machine, more time
//! than the coding itself (copying 384 MiB into the page cache and syncing
//! it took longer than encrypting and coding 256 MiB). So a put codes the
//! object twice instead:
//!
//! 1. [`plan`] encrypts, codes and hashes the whole object, keeping only
//!    each fragment's trailer (its Merkle tree and footer, 1/256 of the
//!    fragment), which fixes the roots.
//! 2. [`Streamed`] serves each fragment's bytes to the uploads by coding
//!    stripes again from the plaintext as they are asked for, keeping a
//!    bounded window of recent stripes so that fragments uploaded side by
//!    side share the work.
//!
//! Every stripe coded in the second pass is checked against the first
//! pass's group hashes before any byte of it is served: a file changed in
//! between is refused (sealing changed plaintext under the same segment
//! nonces would expose both versions), and never reaches a provider.

use std::{
    collections::VecDeque,
    io::{self, Read, Write},
    sync::{Arc, Mutex, OnceLock},
};

use sherd_fragments::{
    encode::{encode, Restriper},
    Hash, Layout, Object, ObjectKey, Params, ReadAt, GROUP_SIZE,
};

use crate::object::ObjectError;

/// Memory the window of coded stripes aims to stay under.
const WINDOW_BYTES: usize = 48 << 20;

/// Each fragment's trailer (tree and footer), in index order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailers(Vec<Vec<u8>>);

impl Trailers {
    /// Trailers taken from elsewhere (fragment files), in index order.
    pub fn new(trailers: Vec<Vec<u8>>) -> Self {
        Self(trailers)
    }
}

/// Encrypts and codes `size` bytes of `input` under a fresh key and keeps
/// only the fragments' trailers; see the module documentation.
pub fn plan<R: Read + Send>(
    input: R,
    size: u64,
    params: Params,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<(Object, ObjectKey, Trailers), ObjectError> {
    let layout = match params.layout(size) {
        Some(layout) => layout,
        None if size == 0 => return Err(sherd_fragments::EncodeError::Empty.into()),
        None => return Err(sherd_fragments::EncodeError::TooLarge { size }.into()),
    };
    let mut outputs: Vec<TrailerOnly> = (0..params.total())
        .map(|_| TrailerOnly {
            skip: layout.fragment_size,
            kept: Vec::new(),
        })
        .collect();
    let (object, key) = encode(
        io::BufReader::with_capacity(1 << 20, input),
        size,
        params,
        &mut outputs,
        progress,
    )?;
    Ok((
        object,
        key,
        Trailers(outputs.into_iter().map(|o| o.kept).collect()),
    ))
}

/// A writer that drops a fragment's data and keeps what follows it.
struct TrailerOnly {
    skip: u64,
    kept: Vec<u8>,
}

impl Write for TrailerOnly {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let dropped = (buf.len() as u64).min(self.skip) as usize;
        self.skip -= dropped as u64;
        self.kept.extend_from_slice(&buf[dropped..]);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

type Coded = Arc<OnceLock<Result<Arc<Vec<u8>>, String>>>;

/// Stripes coded recently, oldest first.
#[derive(Default)]
struct Window {
    slots: VecDeque<(u64, Coded)>,
    /// The highest stripe ever coded into the window.
    newest: Option<u64>,
}

/// Buffers kept for reuse.
const SPARES: usize = 4;

/// The fragments of a planned object, coded again as they are read.
pub struct Streamed<'a, S: ReadAt + ?Sized> {
    restriper: Restriper<'a, S>,
    trailers: Trailers,
    /// Recently coded stripes, oldest first; a stripe being coded is in the
    /// window already, so its other readers wait for it rather than code it
    /// again.
    window: Mutex<Window>,
    capacity: usize,
    /// Buffers of stripes that left the window, for the next ones: a fresh
    /// multi-megabyte buffer per stripe costs more in page faults than the
    /// coding.
    spare: Mutex<Vec<Vec<u8>>>,
    /// The same for single data shards coded for a lagging upload (kept
    /// apart: a shard-sized buffer would have to grow into a stripe).
    spare_shards: Mutex<Vec<Vec<u8>>>,
    /// Stripe buffers allocated because no spare was at hand.
    fresh: std::sync::atomic::AtomicUsize,
}

impl<S: ReadAt + ?Sized> std::fmt::Debug for Streamed<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streamed")
            .field("layout", self.restriper.layout())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<'a, S: ReadAt + ?Sized> Streamed<'a, S> {
    /// The fragments of `object`, planned by [`plan`] with `key` from the
    /// plaintext that `plaintext` must still hold.
    pub fn new(
        object: &Object,
        key: &ObjectKey,
        plaintext: &'a S,
        trailers: Trailers,
    ) -> Result<Self, ObjectError> {
        let layout = object.layout;
        let n = layout.params.total();
        let leaves = leaf_bytes(&layout);
        if trailers.0.len() != n || trailers.0.iter().any(|t| t.len() < leaves) {
            return Err(ObjectError::Path(
                "the planned trailers do not match the object".into(),
            ));
        }
        let stripe_bytes = n * layout.params.shard_size() as usize;
        Ok(Self {
            restriper: Restriper::new(layout, key, plaintext),
            trailers,
            window: Mutex::default(),
            capacity: (WINDOW_BYTES / stripe_bytes.max(1)).clamp(2, 64),
            spare: Mutex::new(Vec::new()),
            spare_shards: Mutex::new(Vec::new()),
            fresh: Default::default(),
        })
    }

    /// Keeps at most `bytes` of coded stripes (at least two stripes).
    pub fn with_window(mut self, bytes: usize) -> Self {
        let layout = self.layout();
        let stripe_bytes = layout.params.total() * layout.params.shard_size() as usize;
        self.capacity = (bytes / stripe_bytes.max(1)).clamp(2, 64);
        self
    }

    /// Fragment `index` as a readable fragment file (data, tree, footer).
    pub fn fragment(&self, index: usize) -> StreamedFragment<'_, 'a, S> {
        StreamedFragment {
            object: self,
            index,
        }
    }

    /// All `k + m` fragments, in index order.
    pub fn fragments(&self) -> Vec<StreamedFragment<'_, 'a, S>> {
        (0..self.layout().params.total())
            .map(|i| self.fragment(i))
            .collect()
    }

    fn layout(&self) -> &Layout {
        self.restriper.layout()
    }

    /// Copies `out.len()` bytes of fragment `fragment`'s shard in stripe
    /// `stripe`, from `within` it. A stripe in the window is served from
    /// there; one past the newest coded is coded whole and joins the
    /// window (the fragment leads, the others will follow); one that left
    /// the window is coded for this reader alone, only its own shard when
    /// that is a data shard (a lagging upload must not push out the
    /// stripes the others are about to read).
    fn read(&self, fragment: usize, stripe: u64, within: usize, out: &mut [u8]) -> io::Result<()> {
        let shard = self.layout().shard_size(stripe);
        let cell = {
            let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
            match window.slots.iter().find(|(s, _)| *s == stripe) {
                Some((_, cell)) => Some(cell.clone()),
                None if window.newest.is_none_or(|n| stripe > n) => {
                    if window.slots.len() >= self.capacity {
                        if let Some((_, old)) = window.slots.pop_front() {
                            self.recycle(old);
                        }
                    }
                    let cell = Coded::default();
                    window.slots.push_back((stripe, cell.clone()));
                    window.newest = Some(stripe);
                    Some(cell)
                }
                None => None,
            }
        };
        if let Some(cell) = cell {
            let coded = cell
                .get_or_init(|| self.code(stripe).map(Arc::new))
                .clone()
                .map_err(io::Error::other)?;
            let from = fragment * shard + within;
            out.copy_from_slice(&coded[from..from + out.len()]);
            return Ok(());
        }
        let pool = if fragment < self.layout().params.data() {
            &self.spare_shards
        } else {
            &self.spare
        };
        let mut buffer = take(pool);
        let result = if fragment < self.layout().params.data() {
            self.code_data_shard(stripe, fragment, &mut buffer)
                .map(|()| within)
        } else {
            self.code_into(stripe, &mut buffer)
                .map(|()| fragment * shard + within)
        };
        let copied = result.map(|from| out.copy_from_slice(&buffer[from..from + out.len()]));
        give(pool, buffer);
        copied.map_err(io::Error::other)
    }

    /// Keeps the buffer of a stripe leaving the window, unless a reader
    /// still holds it.
    fn recycle(&self, cell: Coded) {
        let buffer = Arc::try_unwrap(cell)
            .ok()
            .and_then(OnceLock::into_inner)
            .and_then(Result::ok)
            .and_then(|coded| Arc::try_unwrap(coded).ok());
        if let Some(buffer) = buffer {
            give(&self.spare, buffer);
        }
    }

    /// Codes stripe `index`, checked, into a buffer of its own.
    fn code(&self, index: u64) -> Result<Vec<u8>, String> {
        let mut shards = take(&self.spare);
        if shards.capacity() == 0 {
            self.fresh
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        match self.code_into(index, &mut shards) {
            Ok(()) => Ok(shards),
            Err(e) => {
                give(&self.spare, shards);
                Err(e)
            }
        }
    }

    /// Codes stripe `index` into `shards` and checks it against the planned
    /// group hashes.
    fn code_into(&self, index: u64, shards: &mut Vec<u8>) -> Result<(), String> {
        let mut hashes = Vec::new();
        self.restriper
            .stripe(index, shards, &mut hashes)
            .map_err(|e| format!("the file can no longer be read as it was encoded: {e}"))?;
        let per_shard = self.layout().shard_size(index).div_ceil(GROUP_SIZE);
        for i in 0..self.layout().params.total() {
            self.check(index, i, &hashes[i * per_shard..(i + 1) * per_shard])?;
        }
        Ok(())
    }

    /// Codes data shard `shard` of stripe `index` alone into `out`, checked.
    fn code_data_shard(&self, index: u64, shard: usize, out: &mut Vec<u8>) -> Result<(), String> {
        let mut hashes = Vec::new();
        self.restriper
            .data_shard(index, shard, out, &mut hashes)
            .map_err(|e| format!("the file can no longer be read as it was encoded: {e}"))?;
        self.check(index, shard, &hashes)
    }

    /// Compares fragment `fragment`'s group hashes in stripe `index` with
    /// the first pass's.
    fn check(&self, index: u64, fragment: usize, coded: &[Hash]) -> Result<(), String> {
        let layout = self.layout();
        let per_shard = layout.shard_size(index).div_ceil(GROUP_SIZE);
        let first = (layout.shard_offset(index) / GROUP_SIZE as u64) as usize;
        let planned = &self.trailers.0[fragment][first * 32..(first + per_shard) * 32];
        if same(planned, coded) {
            Ok(())
        } else {
            Err(format!(
                "the file changed while it was being stored (its bytes near offset {} differ from when it was encoded): nothing of the changed part was sent; put it again",
                layout.stripe_start(index)
            ))
        }
    }
}

fn take(pool: &Mutex<Vec<Vec<u8>>>) -> Vec<u8> {
    let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
    pool.pop().unwrap_or_default()
}

fn give(pool: &Mutex<Vec<Vec<u8>>>, buffer: Vec<u8>) {
    let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
    if pool.len() < SPARES {
        pool.push(buffer);
    }
}

fn same(planned: &[u8], coded: &[Hash]) -> bool {
    planned.len() == coded.len() * 32
        && planned
            .chunks_exact(32)
            .zip(coded)
            .all(|(a, b)| a == b.as_slice())
}

/// Bytes of a fragment's group hashes (level 0 of its tree).
fn leaf_bytes(layout: &Layout) -> usize {
    layout.fragment_size.div_ceil(GROUP_SIZE as u64) as usize * 32
}

/// One fragment of a [`Streamed`] object.
pub struct StreamedFragment<'s, 'a, S: ReadAt + ?Sized> {
    object: &'s Streamed<'a, S>,
    index: usize,
}

impl<S: ReadAt + ?Sized> std::fmt::Debug for StreamedFragment<'_, '_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamedFragment")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl<S: ReadAt + ?Sized> ReadAt for StreamedFragment<'_, '_, S> {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let layout = *self.object.layout();
        let trailer = self
            .object
            .trailers
            .0
            .get(self.index)
            .ok_or_else(|| io::Error::other("no such fragment"))?;
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= layout.fragment_size + trailer.len() as u64)
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        let mut at = offset;
        let mut filled = 0;
        while at < end.min(layout.fragment_size) {
            let stripe = at / layout.params.shard_size() as u64;
            let shard = layout.shard_size(stripe);
            let within = (at - layout.shard_offset(stripe)) as usize;
            let take = (shard - within).min(buf.len() - filled);
            self.object
                .read(self.index, stripe, within, &mut buf[filled..filled + take])?;
            filled += take;
            at += take as u64;
        }
        let rest = buf.len() - filled;
        if rest > 0 {
            let from = (at - layout.fragment_size) as usize;
            buf[filled..].copy_from_slice(&trailer[from..from + rest]);
        }
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        let trailer = self.object.trailers.0.get(self.index).map_or(0, Vec::len);
        Ok(self.object.layout().fragment_size + trailer as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sherd_fragments::encode_with_key;

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed ^ (i >> 9) as u8)
            .collect()
    }

    #[test]
    fn streamed_fragments_are_the_fragment_files() {
        for (size, k, m, shard) in [
            (1usize, 2usize, 1usize, 16384u32),
            (100_000, 3, 2, 16384),
            (500_000, 4, 2, 32768),
        ] {
            let data = bytes(size, k as u8);
            let params = Params::with_shard_size(k, m, shard).unwrap();
            let (object, key, trailers) =
                plan(&data[..], size as u64, params, &mut |_| {}).unwrap();
            let mut files = vec![Vec::new(); params.total()];
            let again = encode_with_key(
                &data[..],
                size as u64,
                params,
                &key,
                &mut files,
                &mut |_| {},
            )
            .unwrap();
            assert_eq!(again, object);
            let streamed = Streamed::new(&object, &key, &data[..], trailers.clone()).unwrap();
            for (i, file) in files.iter().enumerate() {
                let fragment = streamed.fragment(i);
                assert_eq!(fragment.len().unwrap(), file.len() as u64);
                // Whole, and in odd pieces that cross stripes and the trailer.
                let mut whole = vec![0u8; file.len()];
                fragment.read_exact_at(&mut whole, 0).unwrap();
                assert!(whole == *file, "fragment {i} of {size} bytes differs");
                let mut at = 0;
                while at < file.len() {
                    let n = 7919.min(file.len() - at);
                    let mut piece = vec![0u8; n];
                    fragment.read_exact_at(&mut piece, at as u64).unwrap();
                    assert_eq!(piece, file[at..at + n]);
                    at += n;
                }
                let mut over = [0u8; 2];
                assert!(fragment
                    .read_exact_at(&mut over, file.len() as u64 - 1)
                    .is_err());
            }
            // A window of two stripes, read by all fragments in turns that
            // drift apart: stripes leave, come back and reuse buffers.
            let small = Streamed::new(&object, &key, &data[..], trailers)
                .unwrap()
                .with_window(0);
            let fragments = small.fragments();
            let mut at = vec![0usize; files.len()];
            let mut turn = 0usize;
            while at.iter().zip(&files).any(|(&a, f)| a < f.len()) {
                let i = turn % files.len();
                let n = (3000 * (i + 1)).min(files[i].len() - at[i]);
                let mut piece = vec![0u8; n];
                fragments[i]
                    .read_exact_at(&mut piece, at[i] as u64)
                    .unwrap();
                assert_eq!(piece, files[i][at[i]..at[i] + n]);
                at[i] += n;
                turn += 1;
            }
        }
    }

    #[test]
    fn uploads_side_by_side_reuse_the_window_buffers() {
        // 48 stripes of 4 + 2 shards of 16 KiB, read as six uploads read:
        // a piece of each fragment in turn.
        let params = Params::with_shard_size(4, 2, 16384).unwrap();
        let size = 48 * 4 * (16384 - 16);
        let data = bytes(size, 3);
        let (object, key, trailers) = plan(&data[..], size as u64, params, &mut |_| {}).unwrap();
        let streamed = Streamed::new(&object, &key, &data[..], trailers)
            .unwrap()
            .with_window(8 * 6 * 16384);
        let fragments = streamed.fragments();
        let mut piece = vec![0u8; 16384];
        let end = object.layout.fragment_size;
        let mut at = vec![0u64; fragments.len()];
        let mut turn = 0u64;
        while at.iter().any(|&a| a < end) {
            for (i, fragment) in fragments.iter().enumerate() {
                // Some uploads run ahead of others, by up to the window and beyond.
                if at[i] < end && (i < 3 || turn % (i as u64 - 1) == 0) {
                    fragment.read_exact_at(&mut piece, at[i]).unwrap();
                    at[i] += piece.len() as u64;
                }
            }
            turn += 1;
        }
        // A fresh buffer costs page faults (on a VM, more than coding the
        // stripe): only the window's first fill may allocate.
        let fresh = streamed.fresh.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            fresh <= 8,
            "{fresh} stripe buffers allocated for a window of 8"
        );
    }

    #[test]
    fn a_file_changed_after_planning_is_refused() {
        let size = 300_000;
        let data = bytes(size, 9);
        let params = Params::with_shard_size(3, 2, 16384).unwrap();
        let (object, key, trailers) = plan(&data[..], size as u64, params, &mut |_| {}).unwrap();
        let mut changed = data.clone();
        changed[size / 2] ^= 0x80;
        let streamed = Streamed::new(&object, &key, &changed[..], trailers.clone()).unwrap();
        let fragment = streamed.fragment(0);
        // The stripes before the change are served; the changed one is not.
        let mut first = vec![0u8; 16384];
        fragment.read_exact_at(&mut first, 0).unwrap();
        let mut all = vec![0u8; object.layout.fragment_size as usize];
        let err = fragment.read_exact_at(&mut all, 0).unwrap_err();
        assert!(err.to_string().contains("changed"), "{err}");
        // A shorter file cannot be read as it was encoded.
        let short = &data[..size - 1000];
        let streamed = Streamed::new(&object, &key, short, trailers).unwrap();
        let err = streamed.fragment(1).read_exact_at(&mut all, 0).unwrap_err();
        assert!(err.to_string().contains("no longer"), "{err}");
    }
}
