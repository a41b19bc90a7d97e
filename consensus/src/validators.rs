//! The validator set of one epoch and its quorum rule.
//!
//! A set is an ordered list of `(BLS public key, voting power)`; a
//! validator's position in the list is its *signer index*, which is what
//! votes and certificate bitmaps name. The ledger fixes the order (it hands
//! the set over at each epoch boundary); every node must use the same order.
//!
//! **Quorum.** A set of signers is a quorum when its voting power is strictly
//! more than two thirds of the total: `3 · power > 2 · total`, computed
//! exactly in `u128` (the total of up to 2^16 powers of up to 2^64 − 1 each
//! fits with room to spare).
//!
//! **Size.** A set holds at most [`MAX_VALIDATORS`] (65,536) validators, the
//! largest signer bitmap the wire codec accepts
//! ([`MAX_SIGNERS`](crate::codec::MAX_SIGNERS) is the same number), so every
//! certificate over a set that can be built also decodes. The smallest quorum power is
//! `⌊2 · total / 3⌋ + 1`. Two quorums always share more than a third of the
//! power, so with less than a third Byzantine they share an honest validator.

use std::collections::HashMap;
use std::fmt;

use crate::bls::{PublicKey, PUBLIC_KEY_BYTES};

/// An epoch number.
pub type Epoch = u64;

/// Most validators a set may hold: 2^16, the codec's limit on signer
/// bitmaps (8 KiB of bitmap per certificate).
pub const MAX_VALIDATORS: u32 = 1 << 16;

/// What can be wrong with a proposed validator set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    /// The set has no validators.
    #[error("the validator set of epoch {epoch} is empty")]
    Empty {
        /// The epoch of the set.
        epoch: Epoch,
    },
    /// The set is larger than [`MAX_VALIDATORS`]: its certificates could
    /// not be decoded.
    #[error("{count} validators, the limit is {max}")]
    TooMany {
        /// Number of validators given.
        count: usize,
        /// Always [`MAX_VALIDATORS`].
        max: u32,
    },
    /// A validator has no voting power.
    #[error("validator {index} has zero voting power")]
    ZeroPower {
        /// Its signer index.
        index: u32,
    },
    /// The same key appears twice.
    #[error("validators {first} and {second} have the same public key {public_key:?}")]
    DuplicateKey {
        /// The earlier index.
        first: u32,
        /// The later index.
        second: u32,
        /// The key.
        public_key: PublicKey,
    },
}

/// The validators of one epoch with their voting power.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidatorSet {
    epoch: Epoch,
    validators: Vec<(PublicKey, u64)>,
    total_power: u128,
    quorum_power: u128,
    index_of: HashMap<[u8; PUBLIC_KEY_BYTES], u32>,
}

impl fmt::Debug for ValidatorSet {
    // By hand: the lookup map would print in a random order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatorSet")
            .field("epoch", &self.epoch)
            .field("validators", &self.validators)
            .field("total_power", &self.total_power)
            .field("quorum_power", &self.quorum_power)
            .finish()
    }
}

impl ValidatorSet {
    /// Builds the set of `epoch`. Rejects an empty set, more than
    /// [`MAX_VALIDATORS`] validators (checked first), zero powers and
    /// duplicate keys.
    pub fn new(epoch: Epoch, validators: Vec<(PublicKey, u64)>) -> Result<Self, ValidatorSetError> {
        if validators.is_empty() {
            return Err(ValidatorSetError::Empty { epoch });
        }
        let within_limit = u32::try_from(validators.len()).is_ok_and(|n| n <= MAX_VALIDATORS);
        if !within_limit {
            return Err(ValidatorSetError::TooMany {
                count: validators.len(),
                max: MAX_VALIDATORS,
            });
        }
        let mut index_of = HashMap::with_capacity(validators.len());
        let mut total_power: u128 = 0;
        for ((public_key, power), index) in validators.iter().zip(0u32..) {
            if *power == 0 {
                return Err(ValidatorSetError::ZeroPower { index });
            }
            if let Some(first) = index_of.insert(public_key.to_bytes(), index) {
                return Err(ValidatorSetError::DuplicateKey {
                    first,
                    second: index,
                    public_key: *public_key,
                });
            }
            // At most 2^16 · 2^64 < 2^128: cannot saturate.
            total_power = total_power.saturating_add(u128::from(*power));
        }
        // 2 · total < 2^97: cannot saturate; the divisor is a non-zero constant.
        let quorum_power = total_power
            .saturating_mul(2)
            .checked_div(3)
            .unwrap_or_default()
            .saturating_add(1);
        Ok(Self {
            epoch,
            validators,
            total_power,
            quorum_power,
            index_of,
        })
    }

    /// The epoch this set is for.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// The number of validators.
    pub fn len(&self) -> usize {
        self.validators.len()
    }

    /// Always false: a set is never empty.
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    /// The validator with signer index `index`.
    pub fn get(&self, index: u32) -> Option<&(PublicKey, u64)> {
        self.validators.get(usize::try_from(index).ok()?)
    }

    /// The public key of signer `index`.
    pub fn public_key(&self, index: u32) -> Option<&PublicKey> {
        self.get(index).map(|(key, _)| key)
    }

    /// The voting power of signer `index`.
    pub fn voting_power(&self, index: u32) -> Option<u64> {
        self.get(index).map(|(_, power)| *power)
    }

    /// The signer index of a public key.
    pub fn index_of(&self, public_key: &PublicKey) -> Option<u32> {
        self.index_of.get(&public_key.to_bytes()).copied()
    }

    /// All validators in signer-index order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &(PublicKey, u64)> {
        self.validators.iter()
    }

    /// The sum of all voting power.
    pub fn total_power(&self) -> u128 {
        self.total_power
    }

    /// The smallest voting power that is a quorum: `⌊2 · total / 3⌋ + 1`.
    pub fn quorum_power(&self) -> u128 {
        self.quorum_power
    }

    /// Whether `power` is strictly more than two thirds of the total.
    pub fn is_quorum(&self, power: u128) -> bool {
        power >= self.quorum_power
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bls::SecretKey;

    pub(crate) fn key(seed: u32) -> PublicKey {
        let mut ikm = [0u8; 32];
        ikm[..4].copy_from_slice(&seed.to_be_bytes());
        SecretKey::key_gen(&ikm, b"").unwrap().public_key()
    }

    fn set(powers: &[u64]) -> ValidatorSet {
        let validators = powers.iter().zip(0..).map(|(p, i)| (key(i), *p)).collect();
        ValidatorSet::new(7, validators).unwrap()
    }

    #[test]
    fn quorum_is_strictly_more_than_two_thirds() {
        // (powers, smallest quorum)
        let cases: &[(&[u64], u128)] = &[
            (&[1], 1),
            (&[1, 1, 1], 3),
            (&[1, 1, 1, 1], 3),
            (&[25, 25, 25, 25], 67),
            (&[30, 10, 10, 10, 10, 10, 10, 10], 67),
            (&[3, 3, 3], 7),
        ];
        for (powers, quorum) in cases {
            let set = set(powers);
            assert_eq!(set.quorum_power(), *quorum, "{powers:?}");
            assert!(set.is_quorum(*quorum));
            assert!(!set.is_quorum(*quorum - 1));
            // The definition itself: 3 · power > 2 · total.
            assert!(3 * *quorum > 2 * set.total_power());
            assert!(3 * (*quorum - 1) <= 2 * set.total_power());
        }
    }

    #[test]
    fn quorum_with_huge_powers_is_exact() {
        let set = set(&[u64::MAX, u64::MAX, u64::MAX]);
        let total = 3 * u128::from(u64::MAX);
        assert_eq!(set.total_power(), total);
        assert_eq!(set.quorum_power(), 2 * u128::from(u64::MAX) + 1);
        assert!(!set.is_quorum(2 * u128::from(u64::MAX)));
    }

    #[test]
    fn rejects_bad_sets() {
        assert_eq!(
            ValidatorSet::new(3, vec![]),
            Err(ValidatorSetError::Empty { epoch: 3 })
        );
        assert_eq!(
            ValidatorSet::new(3, vec![(key(0), 1), (key(1), 0)]),
            Err(ValidatorSetError::ZeroPower { index: 1 })
        );
        assert_eq!(
            ValidatorSet::new(3, vec![(key(0), 1), (key(1), 1), (key(0), 5)]),
            Err(ValidatorSetError::DuplicateKey {
                first: 0,
                second: 2,
                public_key: key(0)
            })
        );
        // The size limit is checked before anything else (so one key
        // repeated will do).
        let over = usize::try_from(MAX_VALIDATORS).unwrap() + 1;
        assert_eq!(
            ValidatorSet::new(3, vec![(key(0), 1); over]),
            Err(ValidatorSetError::TooMany {
                count: over,
                max: MAX_VALIDATORS
            })
        );
    }

    #[test]
    fn the_largest_set_has_certificates_that_decode() {
        use crate::codec::{Wire, MAX_SIGNERS};
        use crate::engine::placeholder_signature;
        use crate::vote::Vote;
        use crate::{Certificate, SignerBitmap};

        assert_eq!(MAX_SIGNERS, MAX_VALIDATORS);
        // A certificate over the largest allowed set round-trips; one more
        // validator is refused when the set is built, not when its
        // certificates are decoded.
        let len = usize::try_from(MAX_VALIDATORS).unwrap();
        let mut signers = SignerBitmap::new(len);
        signers.insert(MAX_VALIDATORS - 1).unwrap();
        let certificate = Certificate {
            epoch: 3,
            vote: Vote::Nullify { view: 1 },
            signers,
            signature: placeholder_signature(),
        };
        assert_eq!(Certificate::decode(&certificate.encode()), Ok(certificate));
    }

    #[test]
    fn lookups() {
        let set = set(&[5, 6]);
        assert_eq!(set.epoch(), 7);
        assert_eq!(set.len(), 2);
        assert_eq!(set.voting_power(1), Some(6));
        assert_eq!(set.voting_power(2), None);
        assert_eq!(set.index_of(&key(1)), Some(1));
        assert_eq!(set.index_of(&key(9)), None);
        assert_eq!(set.public_key(0), Some(&key(0)));
    }
}
