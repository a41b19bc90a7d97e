//! Coding parameters and the geometry they give an object.
//!
//! An object of `size` plaintext bytes is cut into *stripes*. A full stripe
//! holds `k` encrypted segments of `shard_size` bytes each (plaintext
//! `shard_size - 16` plus a 16-byte tag), one per data shard; the erasure code
//! adds `m` parity shards of the same size. Fragment `i` is shard `i` of every
//! stripe, concatenated. The last stripe is shorter: its shards are
//! `last_shard_size` bytes, the smallest multiple of [`CHUNK_SIZE`] that holds
//! the remaining plaintext in `k` segments. Every fragment is therefore a
//! whole number of chunks, and every number here follows from
//! `(size, k, m, shard_size)`.

use crate::{CHUNK_SIZE, GROUP_SIZE, TAG_LEN};

/// Most fragments an object may have. A stripe holds `k + m` shards of at
/// least [`GROUP_SIZE`] bytes in memory, so this bounds a stripe's footprint
/// (16 MiB at the smallest shard size).
pub const MAX_FRAGMENTS: usize = 1024;

/// Smallest and largest stripe shard size, in bytes.
pub const MIN_SHARD_SIZE: u32 = GROUP_SIZE as u32;
/// Largest stripe shard size, in bytes.
pub const MAX_SHARD_SIZE: u32 = 16 << 20;

/// Most memory one stripe (`k + m` shards) may take. Three batches of
/// stripes are in flight, a batch being one stripe when stripes are this
/// large, so encoding needs at most about 3 × 64 MiB whatever the file.
pub const MAX_STRIPE_BYTES: u64 = 64 << 20;

/// Data a stripe aims to carry when the caller does not choose a shard size.
const TARGET_STRIPE_BYTES: u64 = 1 << 20;

/// Why a set of parameters was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// `k` was below 2.
    #[error("the number of data fragments (k) must be at least 2: with k = 1 every fragment is an identical copy, and one stored copy could answer the challenges of all of them")]
    TooFewData,
    /// `m` was zero.
    #[error("the number of parity fragments (m) must be at least 1: without parity no fragment may be lost")]
    ZeroParity,
    /// `k + m` exceeds [`MAX_FRAGMENTS`].
    #[error("k + m = {total} fragments exceeds the maximum of {max}")]
    TooManyFragments {
        /// `k + m` as asked.
        total: usize,
        /// [`MAX_FRAGMENTS`].
        max: usize,
    },
    /// The erasure code cannot encode this combination.
    #[error("the erasure code does not support k = {data}, m = {parity}")]
    Unsupported {
        /// `k`.
        data: u16,
        /// `m`.
        parity: u16,
    },
    /// A stripe would take more than [`MAX_STRIPE_BYTES`] of memory.
    #[error("a stripe of {total} shards of {shard_size} bytes would hold {} MiB in memory; the limit is {} MiB: choose a smaller shard size", (*.total as u64 * *.shard_size as u64) >> 20, MAX_STRIPE_BYTES >> 20)]
    StripeTooLarge {
        /// `k + m`.
        total: usize,
        /// The shard size asked for.
        shard_size: u32,
    },
    /// The shard size is not a multiple of [`GROUP_SIZE`] or out of range.
    #[error("shard size {found} must be a multiple of {GROUP_SIZE} between {MIN_SHARD_SIZE} and {MAX_SHARD_SIZE} bytes")]
    ShardSize {
        /// The shard size asked for.
        found: u32,
    },
}

/// The coding parameters of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    data: u16,
    parity: u16,
    shard_size: u32,
}

impl Params {
    /// Parameters with `k` data and `m` parity fragments and a shard size
    /// chosen so that a stripe carries about 1 MiB of data: small enough that
    /// a stripe is sealed, coded and hashed in cache (measured fastest).
    pub fn new(data: usize, parity: usize) -> Result<Self, ParamsError> {
        let k = data.max(1) as u64;
        let shard = TARGET_STRIPE_BYTES
            .div_ceil(k)
            .next_multiple_of(GROUP_SIZE as u64);
        let shard = shard.clamp(MIN_SHARD_SIZE as u64, 1 << 20) as u32;
        Self::with_shard_size(data, parity, shard)
    }

    /// Parameters with an explicit stripe shard size.
    pub fn with_shard_size(
        data: usize,
        parity: usize,
        shard_size: u32,
    ) -> Result<Self, ParamsError> {
        if data < 2 {
            return Err(ParamsError::TooFewData);
        }
        if parity == 0 {
            return Err(ParamsError::ZeroParity);
        }
        let total = data.saturating_add(parity);
        if total > MAX_FRAGMENTS {
            return Err(ParamsError::TooManyFragments {
                total,
                max: MAX_FRAGMENTS,
            });
        }
        // Both fit in u16 now that their sum is at most MAX_FRAGMENTS.
        let (data, parity) = (data as u16, parity as u16);
        if !reed_solomon_simd::ReedSolomonEncoder::supports(data.into(), parity.into()) {
            return Err(ParamsError::Unsupported { data, parity });
        }
        if !(MIN_SHARD_SIZE..=MAX_SHARD_SIZE).contains(&shard_size)
            || shard_size % GROUP_SIZE as u32 != 0
        {
            return Err(ParamsError::ShardSize { found: shard_size });
        }
        if total as u64 * shard_size as u64 > MAX_STRIPE_BYTES {
            return Err(ParamsError::StripeTooLarge { total, shard_size });
        }
        Ok(Self {
            data,
            parity,
            shard_size,
        })
    }

    /// `k`: how many fragments carry data, and how many any decode needs.
    pub fn data(&self) -> usize {
        self.data.into()
    }

    /// `m`: how many parity fragments the code adds.
    pub fn parity(&self) -> usize {
        self.parity.into()
    }

    /// `k + m`.
    pub fn total(&self) -> usize {
        self.data() + self.parity()
    }

    /// Bytes of one shard of a full stripe.
    pub fn shard_size(&self) -> u32 {
        self.shard_size
    }

    /// The geometry of an object of `size` plaintext bytes.
    pub fn layout(&self, size: u64) -> Option<Layout> {
        Layout::new(*self, size)
    }
}

/// Where every byte of an object goes: stripes, segments, fragments, chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The coding parameters.
    pub params: Params,
    /// Plaintext bytes of the object (at least 1).
    pub size: u64,
    /// Number of stripes (at least 1).
    pub stripes: u64,
    /// Shard size of the last stripe; equals the full shard size when the
    /// object fills its last stripe.
    pub last_shard_size: u32,
    /// Bytes of each fragment: `(stripes - 1) * shard_size + last_shard_size`.
    pub fragment_size: u64,
}

impl Layout {
    /// The layout of a `size`-byte object, or `None` when `size` is zero or
    /// so large that the fragment size overflows.
    pub fn new(params: Params, size: u64) -> Option<Self> {
        if size == 0 {
            return None;
        }
        let k = params.data as u64;
        let per_stripe = k * (params.shard_size as u64 - TAG_LEN as u64);
        let stripes = size.div_ceil(per_stripe);
        let rest = size - (stripes - 1) * per_stripe;
        let last = (rest.div_ceil(k) + TAG_LEN as u64).next_multiple_of(CHUNK_SIZE as u64);
        let fragment_size = (stripes - 1)
            .checked_mul(params.shard_size as u64)?
            .checked_add(last)?;
        Some(Self {
            params,
            size,
            stripes,
            last_shard_size: last as u32,
            fragment_size,
        })
    }

    /// Chunks in each fragment.
    pub fn chunks(&self) -> u64 {
        self.fragment_size / CHUNK_SIZE as u64
    }

    /// Shard size of stripe `s`.
    pub fn shard_size(&self, stripe: u64) -> usize {
        if stripe + 1 == self.stripes {
            self.last_shard_size as usize
        } else {
            self.params.shard_size as usize
        }
    }

    /// Offset of stripe `s`'s shard inside every fragment.
    pub fn shard_offset(&self, stripe: u64) -> u64 {
        stripe * self.params.shard_size as u64
    }

    /// Plaintext bytes carried by stripe `s`.
    pub fn stripe_plaintext(&self, stripe: u64) -> u64 {
        let per_stripe = self.params.data as u64 * (self.params.shard_size as u64 - TAG_LEN as u64);
        if stripe + 1 == self.stripes {
            self.size - (self.stripes - 1) * per_stripe
        } else {
            per_stripe
        }
    }

    /// Plaintext offset at which stripe `s` starts.
    pub fn stripe_start(&self, stripe: u64) -> u64 {
        stripe * self.params.data as u64 * (self.params.shard_size as u64 - TAG_LEN as u64)
    }

    /// The encrypted segments of stripe `s`, in data-shard order: each is
    /// `(global segment index, plaintext length)`. Data shards past the last
    /// segment hold zeros only.
    pub fn segments(&self, stripe: u64) -> impl Iterator<Item = Segment> + '_ {
        let capacity = self.shard_size(stripe) as u64 - TAG_LEN as u64;
        let plaintext = self.stripe_plaintext(stripe);
        let count = plaintext.div_ceil(capacity);
        let first = stripe * self.params.data as u64;
        let last_index = self.segment_count() - 1;
        (0..count).map(move |j| {
            let len = capacity.min(plaintext - j * capacity) as usize;
            let index = first + j;
            Segment {
                shard: j as usize,
                index,
                len,
                last: index == last_index,
            }
        })
    }

    /// The global index of the object's final segment, plus one.
    pub fn segment_count(&self) -> u64 {
        let last_capacity = self.last_shard_size as u64 - TAG_LEN as u64;
        (self.stripes - 1) * self.params.data as u64
            + self
                .stripe_plaintext(self.stripes - 1)
                .div_ceil(last_capacity)
    }
}

/// One encrypted segment: it fills the start of one data shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Which data shard of its stripe holds it.
    pub shard: usize,
    /// Its index among all segments of the object (the AEAD nonce).
    pub index: u64,
    /// Plaintext bytes; the ciphertext is this plus the 16-byte tag.
    pub len: usize,
    /// Whether it is the object's final segment.
    pub last: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_parameters_with_reasons() {
        assert_eq!(Params::new(0, 4), Err(ParamsError::TooFewData));
        assert_eq!(Params::new(1, 4), Err(ParamsError::TooFewData));
        assert_eq!(Params::new(4, 0), Err(ParamsError::ZeroParity));
        assert_eq!(
            Params::new(1000, 100),
            Err(ParamsError::TooManyFragments {
                total: 1100,
                max: MAX_FRAGMENTS
            })
        );
        assert_eq!(
            Params::with_shard_size(4, 2, 1000),
            Err(ParamsError::ShardSize { found: 1000 })
        );
        assert_eq!(
            Params::with_shard_size(4, 2, 32 << 20),
            Err(ParamsError::ShardSize { found: 32 << 20 })
        );
        assert!(Params::new(usize::MAX, 1).is_err());
        assert_eq!(
            Params::with_shard_size(10, 10, 4 << 20),
            Err(ParamsError::StripeTooLarge {
                total: 20,
                shard_size: 4 << 20
            })
        );
    }

    #[test]
    fn default_shard_size_targets_one_mebibyte_stripes() {
        assert_eq!(Params::new(10, 4).unwrap().shard_size(), 112 << 10);
        assert_eq!(Params::new(2, 1).unwrap().shard_size(), 512 << 10);
        assert_eq!(Params::new(512, 512).unwrap().shard_size(), 16 << 10);
        assert_eq!(Params::new(32, 64).unwrap().shard_size(), 32 << 10);
    }

    #[test]
    fn layout_covers_every_byte_once() {
        let params = Params::with_shard_size(3, 2, 16384).unwrap();
        let capacity = 3 * (16384 - 16);
        for size in [
            1,
            2,
            1007,
            1008,
            1009,
            capacity - 1,
            capacity,
            capacity + 1,
            5 * capacity + 77,
        ] {
            let layout = params.layout(size).unwrap();
            let mut covered = 0;
            let mut next_index = 0;
            for s in 0..layout.stripes {
                assert_eq!(layout.stripe_start(s), covered);
                let mut in_stripe = 0;
                for seg in layout.segments(s) {
                    assert_eq!(seg.index, next_index);
                    assert!(seg.len + TAG_LEN <= layout.shard_size(s));
                    next_index += 1;
                    in_stripe += seg.len as u64;
                }
                assert_eq!(in_stripe, layout.stripe_plaintext(s));
                covered += in_stripe;
            }
            assert_eq!(covered, size);
            assert_eq!(next_index, layout.segment_count());
            assert_eq!(layout.fragment_size % CHUNK_SIZE as u64, 0);
            assert!(layout.last_shard_size <= params.shard_size());
        }
        assert!(params.layout(0).is_none());
    }
}
