//! Rebuilding one fragment of an object from any `k` others, stripe by
//! stripe, without the object key.
//!
//! Every fragment is ciphertext: shard `i` of each stripe. The missing data
//! shards of a stripe are restored from any `k` present shards, and a lost
//! parity fragment's shard is coded again from the data shards; the bytes
//! are those of the original fragment, so its group hashes, tree and root
//! are too. The caller checks each present shard against its own
//! fragment's group hashes before handing it over (a repairer fetches them
//! from providers, verified group by group), and [`Rebuilder::finish`]
//! checks the rebuilt root against the one the contract records before the
//! fragment file is complete.

use std::io::Write;

use crate::{
    commit::{hash_groups, merkle_root, tree_levels, Hash},
    decode::{check_stripe, DecodeError},
    erasure::{StripeDecoder, StripeEncoder},
    file::{write_trailer, Footer},
    params::Layout,
};

/// Why a fragment could not be rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// A stripe could not be restored or written.
    #[error(transparent)]
    Stripe(#[from] DecodeError),
    /// Stripes came out of order, or not all of them came.
    #[error("stripe {found} came where stripe {expected} was due")]
    Order {
        /// The stripe due.
        expected: u64,
        /// The stripe given.
        found: u64,
    },
    /// The rebuilt fragment's root is not the recorded one: the shards
    /// given were not this object's, or the layout is wrong.
    #[error("the rebuilt fragment's root {} is not the expected {}", hex::encode(.found), hex::encode(.expected))]
    Root {
        /// The root expected.
        expected: Hash,
        /// The root rebuilt.
        found: Hash,
    },
}

/// Rebuilds fragment `index` of an object, one stripe after the other,
/// writing its data as it goes and its tree and footer at the end: the
/// fragment file format of [`crate::file`].
pub struct Rebuilder {
    layout: Layout,
    index: usize,
    object_root: Hash,
    decoder: StripeDecoder,
    encoder: StripeEncoder,
    leaves: Vec<Hash>,
    next: u64,
}

impl std::fmt::Debug for Rebuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rebuilder")
            .field("layout", &self.layout)
            .field("index", &self.index)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl Rebuilder {
    /// A rebuilder of fragment `index` (below `k + m`) of the object with
    /// `layout` and root `object_root`.
    pub fn new(layout: Layout, index: usize, object_root: Hash) -> Self {
        Self {
            layout,
            index,
            object_root,
            decoder: StripeDecoder::new(),
            encoder: StripeEncoder::new(),
            leaves: Vec::new(),
            next: 0,
        }
    }

    /// Rebuilds the fragment's shard of stripe `stripe` (stripes come in
    /// order): `shards` holds the stripe's `k + m` slots of
    /// `layout.shard_size(stripe)` bytes back to back, `present[i]` says
    /// which hold a checked shard (at least `k` must). The slots may be
    /// overwritten. The shard is written to `out`.
    pub fn stripe<W: Write>(
        &mut self,
        stripe: u64,
        shards: &mut [u8],
        present: &[bool],
        out: &mut W,
    ) -> Result<(), RebuildError> {
        if stripe != self.next {
            return Err(RebuildError::Order {
                expected: self.next,
                found: stripe,
            });
        }
        let layout = &self.layout;
        let (k, m) = (layout.params.data(), layout.params.parity());
        if self.index >= k + m {
            return Err(DecodeError::Sources {
                expected: k + m,
                found: self.index + 1,
            }
            .into());
        }
        let shard = check_stripe(layout, stripe, shards, present)?;
        let slot = self.index * shard..(self.index + 1) * shard;
        if !present[self.index] {
            self.decoder
                .restore(shards, present, k, m, shard)
                .map_err(DecodeError::from)?;
            if self.index >= k {
                let (data, parity) = shards.split_at_mut(k * shard);
                let want = self.index - k;
                let target = &mut parity[want * shard..(want + 1) * shard];
                self.encoder
                    .encode(data, k, m, shard, |i, coded| {
                        if i == want {
                            target.copy_from_slice(coded);
                        }
                    })
                    .map_err(DecodeError::from)?;
            }
        }
        let rebuilt = &shards[slot];
        hash_groups(rebuilt, &mut self.leaves);
        out.write_all(rebuilt).map_err(DecodeError::Write)?;
        self.next += 1;
        Ok(())
    }

    /// After the last stripe: checks the rebuilt root against `expected`
    /// (the contract's) and writes the fragment's tree and footer to `out`.
    /// Answers the footer.
    pub fn finish<W: Write>(self, expected: &Hash, out: &mut W) -> Result<Footer, RebuildError> {
        if self.next != self.layout.stripes {
            return Err(RebuildError::Order {
                expected: self.next,
                found: self.layout.stripes,
            });
        }
        let found = merkle_root(&self.leaves);
        if found != *expected {
            return Err(RebuildError::Root {
                expected: *expected,
                found,
            });
        }
        let params = self.layout.params;
        let footer = Footer {
            index: self.index as u16,
            data: params.data() as u16,
            parity: params.parity() as u16,
            shard_size: params.shard_size(),
            object_size: self.layout.size,
            fragment_size: self.layout.fragment_size,
            fragment_root: found,
            object_root: self.object_root,
        };
        write_trailer(out, &tree_levels(&self.leaves), &footer).map_err(DecodeError::Write)?;
        Ok(footer)
    }
}
