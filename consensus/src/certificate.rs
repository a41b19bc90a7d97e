//! Certificates: a quorum of one vote, as one aggregate signature.
//!
//! A certificate proves that validators holding more than two thirds of an
//! epoch's voting power signed the same [`Vote`]: a *notarization*
//! (notarize votes), a *nullification* (nullify votes) or a *finalization*
//! (finalize votes). It carries
//!
//! * the epoch and the vote (kind, view, and the block id for notarize and
//!   finalize),
//! * a signer bitmap over the epoch's validator set, one bit per signer
//!   index: bit `i` is bit `i mod 8` (least significant first) of byte
//!   `⌊i / 8⌋`; unused high bits of the last byte are zero,
//! * the aggregate (sum) of the signers' BLS signatures over
//!   [`Vote::signing_message`].
//!
//! **Verification** costs one pairing check however many signed: check the
//! epoch, check the bitmap's length against the set, add up the signers'
//! power and require a quorum, add up the signers' public keys, and run one
//! `FastAggregateVerify` of the aggregate signature against the vote's
//! message. Soundness rests on the proofs of possession that the ledger
//! checks when a key is registered.

use crate::bls::{AggregatePublicKey, BlsError, HashedMessage, Signature};
use crate::validators::{Epoch, ValidatorSet};
use crate::vote::{BlockId, ChainId, View, Vote, VoteKind};

/// What is wrong with a certificate or a signer bitmap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The certificate names another epoch than the validator set's.
    #[error("certificate is for epoch {found}, the validator set is for epoch {expected}")]
    EpochMismatch {
        /// The validator set's epoch.
        expected: Epoch,
        /// The certificate's epoch.
        found: Epoch,
    },
    /// The bitmap names a signer index the set does not have.
    #[error("signer index {signer} is out of range: the set has {validators} validators")]
    SignerOutOfRange {
        /// The first out-of-range signer.
        signer: u32,
        /// The set's size.
        validators: usize,
    },
    /// The bitmap covers another number of validators than the set has.
    #[error("signer bitmap covers {found} validators, the set has {expected}")]
    BitmapLength {
        /// The set's size.
        expected: usize,
        /// The bitmap's size.
        found: usize,
    },
    /// The bitmap's byte encoding is not canonical.
    #[error("signer bitmap for {validators} validators must be {expected} bytes with zero padding bits, found {found} bytes")]
    BitmapEncoding {
        /// Number of validators the bitmap is for.
        validators: usize,
        /// Expected byte length.
        expected: usize,
        /// Byte length given.
        found: usize,
    },
    /// The signers hold no quorum.
    #[error("signers hold {power} voting power, a quorum needs {quorum} of {total}")]
    NoQuorum {
        /// The signers' power.
        power: u128,
        /// The smallest quorum.
        quorum: u128,
        /// The set's total power.
        total: u128,
    },
    /// The aggregate signature does not verify.
    #[error("aggregate signature does not verify for the {signers} named signers: {source}")]
    InvalidSignature {
        /// Number of signers named.
        signers: usize,
        /// What the BLS check said.
        source: BlsError,
    },
}

/// One bit per validator of a set: who signed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SignerBitmap {
    len: usize,
    bytes: Vec<u8>,
}

impl SignerBitmap {
    /// An empty bitmap over `len` validators.
    pub fn new(len: usize) -> Self {
        Self {
            len,
            bytes: vec![0; len.div_ceil(8)],
        }
    }

    /// Reads the encoding (module docs): exactly `⌈len / 8⌉` bytes, padding
    /// bits zero.
    pub fn from_bytes(len: usize, bytes: &[u8]) -> Result<Self, CertificateError> {
        let expected = len.div_ceil(8);
        let error = CertificateError::BitmapEncoding {
            validators: len,
            expected,
            found: bytes.len(),
        };
        if bytes.len() != expected {
            return Err(error);
        }
        let used_bits = len.checked_rem(8).unwrap_or_default();
        if used_bits != 0 {
            let last = bytes.last().copied().unwrap_or_default();
            if last.checked_shr(used_bits as u32).unwrap_or_default() != 0 {
                return Err(error);
            }
        }
        Ok(Self {
            len,
            bytes: bytes.to_vec(),
        })
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of validators covered (not the number of signers).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it covers no validator.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether signer `index` is set.
    pub fn contains(&self, index: u32) -> bool {
        let Some((byte, mask)) = self.position(index) else {
            return false;
        };
        self.bytes.get(byte).is_some_and(|b| b & mask != 0)
    }

    /// Sets signer `index`; returns whether it was newly set.
    pub fn insert(&mut self, index: u32) -> Result<bool, CertificateError> {
        let out_of_range = CertificateError::SignerOutOfRange {
            signer: index,
            validators: self.len,
        };
        let (byte, mask) = self.position(index).ok_or(out_of_range.clone())?;
        let slot = self.bytes.get_mut(byte).ok_or(out_of_range)?;
        let fresh = *slot & mask == 0;
        *slot |= mask;
        Ok(fresh)
    }

    /// Clears signer `index`.
    pub fn remove(&mut self, index: u32) {
        if let Some((byte, mask)) = self.position(index) {
            if let Some(slot) = self.bytes.get_mut(byte) {
                *slot &= !mask;
            }
        }
    }

    /// The set signer indices, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len)
            .filter_map(|i| u32::try_from(i).ok())
            .filter(|&i| self.contains(i))
    }

    /// Number of signers set.
    pub fn count(&self) -> usize {
        self.bytes.iter().map(|b| b.count_ones() as usize).sum()
    }

    fn position(&self, index: u32) -> Option<(usize, u8)> {
        let index = usize::try_from(index).ok()?;
        if index >= self.len {
            return None;
        }
        let bit = index.checked_rem(8)?;
        Some((index.checked_div(8)?, 1u8.checked_shl(bit as u32)?))
    }
}

/// A quorum certificate for one vote of one epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The epoch of the signers' validator set.
    pub epoch: Epoch,
    /// The vote all signers signed.
    pub vote: Vote,
    /// Who signed.
    pub signers: SignerBitmap,
    /// The sum of their signatures.
    pub signature: Signature,
}

impl Certificate {
    /// Notarization, nullification or finalization.
    pub fn kind(&self) -> VoteKind {
        self.vote.kind()
    }

    /// The view certified.
    pub fn view(&self) -> View {
        self.vote.view()
    }

    /// The block certified (none for a nullification).
    pub fn block_id(&self) -> Option<BlockId> {
        self.vote.block_id()
    }

    /// Verifies the certificate against the epoch's validator set with one
    /// aggregate check (module docs). Returns the signers' voting power.
    pub fn verify(
        &self,
        chain_id: &ChainId,
        validators: &ValidatorSet,
    ) -> Result<u128, CertificateError> {
        self.verify_with(chain_id, validators, None)
    }

    /// [`verify`](Self::verify) with the vote message already hashed:
    /// `message` must be [`HashedMessage::new`] of this certificate's
    /// signing message (its vote in its epoch on `chain_id`).
    pub fn verify_hashed(
        &self,
        chain_id: &ChainId,
        validators: &ValidatorSet,
        message: &HashedMessage,
    ) -> Result<u128, CertificateError> {
        self.verify_with(chain_id, validators, Some(message))
    }

    fn verify_with(
        &self,
        chain_id: &ChainId,
        validators: &ValidatorSet,
        message: Option<&HashedMessage>,
    ) -> Result<u128, CertificateError> {
        if self.epoch != validators.epoch() {
            return Err(CertificateError::EpochMismatch {
                expected: validators.epoch(),
                found: self.epoch,
            });
        }
        if self.signers.len() != validators.len() {
            // Name a signer outside the set if there is one: the more useful error.
            if let Some(signer) = self.signers.iter().find(|&i| validators.get(i).is_none()) {
                return Err(CertificateError::SignerOutOfRange {
                    signer,
                    validators: validators.len(),
                });
            }
            return Err(CertificateError::BitmapLength {
                expected: validators.len(),
                found: self.signers.len(),
            });
        }
        let mut power: u128 = 0;
        let mut aggregate = AggregatePublicKey::new();
        for signer in self.signers.iter() {
            let (key, signer_power) =
                validators
                    .get(signer)
                    .ok_or(CertificateError::SignerOutOfRange {
                        signer,
                        validators: validators.len(),
                    })?;
            // At most 2^32 powers below 2^64: cannot saturate.
            power = power.saturating_add(u128::from(*signer_power));
            aggregate.add(key);
        }
        if !validators.is_quorum(power) {
            return Err(CertificateError::NoQuorum {
                power,
                quorum: validators.quorum_power(),
                total: validators.total_power(),
            });
        }
        let hashed;
        let message = match message {
            Some(message) => message,
            None => {
                hashed = HashedMessage::new(&self.vote.signing_message(chain_id, self.epoch));
                &hashed
            }
        };
        aggregate
            .verify_hashed(message, &self.signature)
            .map_err(|source| CertificateError::InvalidSignature {
                signers: self.signers.count(),
                source,
            })?;
        Ok(power)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bls::{AggregateSignature, SecretKey};

    #[test]
    fn bitmap_bits_and_encoding() {
        let mut bitmap = SignerBitmap::new(10);
        assert_eq!(bitmap.as_bytes(), &[0, 0]);
        assert!(bitmap.insert(0).unwrap());
        assert!(bitmap.insert(9).unwrap());
        assert!(!bitmap.insert(9).unwrap());
        assert_eq!(bitmap.as_bytes(), &[0b0000_0001, 0b0000_0010]);
        assert_eq!(bitmap.iter().collect::<Vec<_>>(), vec![0, 9]);
        assert_eq!(bitmap.count(), 2);
        assert_eq!(
            bitmap.insert(10),
            Err(CertificateError::SignerOutOfRange {
                signer: 10,
                validators: 10
            })
        );
        assert!(!bitmap.contains(10));
        bitmap.remove(0);
        assert_eq!(bitmap.iter().collect::<Vec<_>>(), vec![9]);

        assert_eq!(
            SignerBitmap::from_bytes(10, &[1, 2])
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            vec![0, 9]
        );
        // Padding bit 10 set: not canonical.
        assert!(matches!(
            SignerBitmap::from_bytes(10, &[1, 0b100]),
            Err(CertificateError::BitmapEncoding { .. })
        ));
        assert!(matches!(
            SignerBitmap::from_bytes(10, &[1]),
            Err(CertificateError::BitmapEncoding {
                validators: 10,
                expected: 2,
                found: 1
            })
        ));
        assert_eq!(
            SignerBitmap::from_bytes(16, &[0xff, 0xff]).unwrap().count(),
            16
        );
    }

    struct Fixture {
        chain: ChainId,
        keys: Vec<SecretKey>,
        set: ValidatorSet,
    }

    fn fixture(powers: &[u64]) -> Fixture {
        let keys: Vec<_> = (0..powers.len())
            .map(|i| SecretKey::key_gen(&[i as u8 + 1; 32], b"").unwrap())
            .collect();
        let set = ValidatorSet::new(
            3,
            keys.iter()
                .zip(powers)
                .map(|(k, p)| (k.public_key(), *p))
                .collect(),
        )
        .unwrap();
        Fixture {
            chain: ChainId::new("sherd-test").unwrap(),
            keys,
            set,
        }
    }

    fn certify(f: &Fixture, vote: Vote, signers: &[u32]) -> Certificate {
        let message = vote.signing_message(&f.chain, 3);
        let mut bitmap = SignerBitmap::new(f.set.len());
        let mut signature = AggregateSignature::new();
        for &i in signers {
            bitmap.insert(i).unwrap();
            signature.add(&f.keys[i as usize].sign(&message));
        }
        Certificate {
            epoch: 3,
            vote,
            signers: bitmap,
            signature: signature.to_signature(),
        }
    }

    const NOTARIZE: Vote = Vote::Notarize {
        view: 11,
        block_id: BlockId([7; 32]),
    };

    #[test]
    fn quorum_certificate_verifies() {
        let f = fixture(&[1, 1, 1, 1]);
        let cert = certify(&f, NOTARIZE, &[0, 1, 3]);
        assert_eq!(cert.verify(&f.chain, &f.set), Ok(3));
        assert_eq!(cert.kind(), VoteKind::Notarize);
        assert_eq!(cert.view(), 11);
        assert_eq!(cert.block_id(), Some(BlockId([7; 32])));
        let nullification = certify(&f, Vote::Nullify { view: 11 }, &[0, 1, 2, 3]);
        assert_eq!(nullification.verify(&f.chain, &f.set), Ok(4));
        assert_eq!(nullification.block_id(), None);
    }

    #[test]
    fn a_hashed_message_gives_the_same_verdicts() {
        let f = fixture(&[1, 1, 1, 1]);
        let cert = certify(&f, NOTARIZE, &[0, 1, 3]);
        let hashed = HashedMessage::new(&NOTARIZE.signing_message(&f.chain, 3));
        assert_eq!(cert.verify_hashed(&f.chain, &f.set, &hashed), Ok(3));
        // The hash of another vote's message fails the signature check.
        let other = HashedMessage::new(&Vote::Nullify { view: 11 }.signing_message(&f.chain, 3));
        assert!(matches!(
            cert.verify_hashed(&f.chain, &f.set, &other),
            Err(CertificateError::InvalidSignature { signers: 3, .. })
        ));
        // The checks before the pairing come first, as in `verify`.
        let short = certify(&f, NOTARIZE, &[0, 1]);
        assert_eq!(
            short.verify_hashed(&f.chain, &f.set, &hashed),
            short.verify(&f.chain, &f.set)
        );
    }

    #[test]
    fn below_quorum_is_rejected_before_any_pairing() {
        // Unequal stake: 30 + 10 + 10 + 10 + 40 = 100, quorum 67.
        let f = fixture(&[30, 10, 10, 10, 40]);
        let cert = certify(&f, NOTARIZE, &[0, 1, 2, 3]); // 60
        assert_eq!(
            cert.verify(&f.chain, &f.set),
            Err(CertificateError::NoQuorum {
                power: 60,
                quorum: 67,
                total: 100
            })
        );
        let cert = certify(&f, NOTARIZE, &[0, 4]); // 70
        assert_eq!(cert.verify(&f.chain, &f.set), Ok(70));
        let empty = certify(&f, NOTARIZE, &[]);
        assert!(matches!(
            empty.verify(&f.chain, &f.set),
            Err(CertificateError::NoQuorum { power: 0, .. })
        ));
    }

    #[test]
    fn replay_for_another_epoch_chain_or_kind_fails() {
        let f = fixture(&[1, 1, 1, 1]);
        let cert = certify(&f, NOTARIZE, &[0, 1, 2]);

        // Another epoch: named in the certificate, it no longer matches the set ...
        let mut other_epoch = cert.clone();
        other_epoch.epoch = 4;
        assert_eq!(
            other_epoch.verify(&f.chain, &f.set),
            Err(CertificateError::EpochMismatch {
                expected: 3,
                found: 4
            })
        );
        // ... and against a set of that epoch with the same keys, the signature fails.
        let next_set = ValidatorSet::new(4, f.set.iter().copied().collect()).unwrap();
        assert!(matches!(
            other_epoch.verify(&f.chain, &next_set),
            Err(CertificateError::InvalidSignature { signers: 3, .. })
        ));

        let other_chain = ChainId::new("sherd-other").unwrap();
        assert!(matches!(
            cert.verify(&other_chain, &f.set),
            Err(CertificateError::InvalidSignature { .. })
        ));

        let mut as_finalization = cert.clone();
        as_finalization.vote = Vote::Finalize {
            view: 11,
            block_id: BlockId([7; 32]),
        };
        assert!(matches!(
            as_finalization.verify(&f.chain, &f.set),
            Err(CertificateError::InvalidSignature { .. })
        ));

        let mut other_view = cert.clone();
        other_view.vote = Vote::Notarize {
            view: 12,
            block_id: BlockId([7; 32]),
        };
        assert!(matches!(
            other_view.verify(&f.chain, &f.set),
            Err(CertificateError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn bitmap_naming_wrong_signers_is_rejected() {
        let f = fixture(&[1, 1, 1, 1]);
        let cert = certify(&f, NOTARIZE, &[0, 1, 2]);

        // Claims signer 3 too, who did not sign.
        let mut extra = cert.clone();
        extra.signers.insert(3).unwrap();
        assert!(matches!(
            extra.verify(&f.chain, &f.set),
            Err(CertificateError::InvalidSignature { signers: 4, .. })
        ));

        // A bitmap over 6 validators naming index 5, outside the set of 4.
        let mut wide = SignerBitmap::new(6);
        for i in [0, 1, 2, 5] {
            wide.insert(i).unwrap();
        }
        let out_of_range = Certificate {
            signers: wide,
            ..cert.clone()
        };
        assert_eq!(
            out_of_range.verify(&f.chain, &f.set),
            Err(CertificateError::SignerOutOfRange {
                signer: 5,
                validators: 4
            })
        );

        // A bitmap of the wrong size naming only members.
        let mut short = SignerBitmap::new(3);
        for i in [0, 1, 2] {
            short.insert(i).unwrap();
        }
        let short = Certificate {
            signers: short,
            ..cert
        };
        assert_eq!(
            short.verify(&f.chain, &f.set),
            Err(CertificateError::BitmapLength {
                expected: 4,
                found: 3
            })
        );
    }
}
