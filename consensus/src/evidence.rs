//! Evidence: two conflicting votes signed by one validator.
//!
//! The provable faults of Simplex (DESIGN §5) are exactly, within one view
//! of one epoch:
//!
//! * two `notarize` votes for different blocks,
//! * two `finalize` votes for different blocks,
//! * a `nullify` and a `finalize`.
//!
//! ([`notarize`](crate::Vote::Notarize) followed by `nullify` is allowed: the
//! view timed out after the vote.) An [`Evidence`] value holds the signer's
//! public key and both signed votes; anyone can check it with
//! [`Evidence::verify`] (two signature checks, no validator set needed) and
//! [`Evidence::verify_in`] additionally checks that the key is the signer's
//! in the epoch's set. The ledger turns it into slashing.

use crate::bls::PublicKey;
use crate::validators::{Epoch, ValidatorSet};
use crate::vote::{ChainId, SignedVote, View, Vote, VoteError};

/// What is wrong with a piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The two votes are from different epochs.
    #[error("votes are from epochs {first} and {second}")]
    EpochMismatch {
        /// Epoch of the first vote.
        first: Epoch,
        /// Epoch of the second vote.
        second: Epoch,
    },
    /// The two votes name different signers.
    #[error("votes are by signers {first} and {second}")]
    SignerMismatch {
        /// Signer of the first vote.
        first: u32,
        /// Signer of the second vote.
        second: u32,
    },
    /// The two votes are not a provable fault (module docs).
    #[error("votes {first:?} and {second:?} do not conflict")]
    NoConflict {
        /// The first vote.
        first: Vote,
        /// The second vote.
        second: Vote,
    },
    /// The public key is not the signer's in the validator set.
    #[error("the public key is not signer {signer}'s in epoch {epoch}")]
    WrongKey {
        /// The signer index.
        signer: u32,
        /// The epoch.
        epoch: Epoch,
    },
    /// A signature does not verify.
    #[error("vote signature does not verify: {0}")]
    Vote(#[from] VoteError),
}

/// Whether two votes of one signer in one epoch are a provable fault.
pub fn conflicts(a: &Vote, b: &Vote) -> bool {
    match (a, b) {
        (
            Vote::Notarize {
                view: va,
                block_id: ba,
            },
            Vote::Notarize {
                view: vb,
                block_id: bb,
            },
        )
        | (
            Vote::Finalize {
                view: va,
                block_id: ba,
            },
            Vote::Finalize {
                view: vb,
                block_id: bb,
            },
        ) => va == vb && ba != bb,
        (Vote::Nullify { view: va }, Vote::Finalize { view: vb, .. })
        | (Vote::Finalize { view: va, .. }, Vote::Nullify { view: vb }) => va == vb,
        _ => false,
    }
}

/// Two conflicting signed votes of one validator, with its public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The signer's BLS public key.
    pub public_key: PublicKey,
    /// One vote.
    pub first: SignedVote,
    /// The vote that conflicts with it.
    pub second: SignedVote,
}

impl Evidence {
    /// The offending validator's signer index.
    pub fn signer(&self) -> u32 {
        self.first.signer
    }

    /// The epoch of the fault.
    pub fn epoch(&self) -> Epoch {
        self.first.epoch
    }

    /// The view of the fault.
    pub fn view(&self) -> View {
        self.first.vote.view()
    }

    /// Checks the shape of the evidence: same epoch, same signer,
    /// conflicting votes. No signature check.
    pub fn check_conflict(&self) -> Result<(), EvidenceError> {
        if self.first.epoch != self.second.epoch {
            return Err(EvidenceError::EpochMismatch {
                first: self.first.epoch,
                second: self.second.epoch,
            });
        }
        if self.first.signer != self.second.signer {
            return Err(EvidenceError::SignerMismatch {
                first: self.first.signer,
                second: self.second.signer,
            });
        }
        if !conflicts(&self.first.vote, &self.second.vote) {
            return Err(EvidenceError::NoConflict {
                first: self.first.vote,
                second: self.second.vote,
            });
        }
        Ok(())
    }

    /// Verifies the evidence with the public key it carries: a conflict,
    /// and both signatures valid on `chain_id`. Two subgroup checks and two
    /// pairing checks.
    pub fn verify(&self, chain_id: &ChainId) -> Result<(), EvidenceError> {
        self.check_conflict()?;
        for vote in [&self.first, &self.second] {
            vote.signature
                .subgroup_check()
                .and_then(|signature| {
                    self.public_key
                        .verify(&vote.vote.signing_message(chain_id, vote.epoch), &signature)
                })
                .map_err(|_| VoteError::InvalidSignature {
                    signer: vote.signer,
                })?;
        }
        Ok(())
    }

    /// [`verify`](Self::verify), and the key is the signer's in `validators`.
    pub fn verify_in(
        &self,
        chain_id: &ChainId,
        validators: &ValidatorSet,
    ) -> Result<(), EvidenceError> {
        let key = crate::vote::check_signer(self.first.epoch, self.first.signer, validators)?;
        if *key != self.public_key {
            return Err(EvidenceError::WrongKey {
                signer: self.first.signer,
                epoch: self.first.epoch,
            });
        }
        self.verify(chain_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bls::SecretKey;
    use crate::vote::BlockId;

    fn chain() -> ChainId {
        ChainId::new("sherd-test").unwrap()
    }

    #[test]
    fn conflict_table() {
        let a = BlockId([1; 32]);
        let b = BlockId([2; 32]);
        let n = |view, block_id| Vote::Notarize { view, block_id };
        let f = |view, block_id| Vote::Finalize { view, block_id };
        let x = |view| Vote::Nullify { view };
        // (first, second, conflict?)
        let cases = [
            (n(1, a), n(1, b), true),
            (n(1, a), n(1, a), false),
            (n(1, a), n(2, b), false),
            (f(1, a), f(1, b), true),
            (f(1, a), f(2, b), false),
            (x(1), f(1, a), true),
            (f(1, a), x(1), true),
            (x(1), f(2, a), false),
            (n(1, a), x(1), false),
            (n(1, a), f(1, b), false),
            (x(1), x(1), false),
        ];
        for (first, second, expected) in cases {
            assert_eq!(conflicts(&first, &second), expected, "{first:?} {second:?}");
        }
    }

    #[test]
    fn evidence_verifies_with_the_key_alone() {
        let sk = SecretKey::key_gen(&[3; 32], b"").unwrap();
        let other = SecretKey::key_gen(&[4; 32], b"").unwrap();
        let set =
            ValidatorSet::new(2, vec![(other.public_key(), 1), (sk.public_key(), 1)]).unwrap();
        let first = SignedVote::sign(&chain(), 2, 1, Vote::Nullify { view: 5 }, &sk);
        let fin = Vote::Finalize {
            view: 5,
            block_id: BlockId([9; 32]),
        };
        let second = SignedVote::sign(&chain(), 2, 1, fin, &sk);
        let evidence = Evidence {
            public_key: sk.public_key(),
            first,
            second,
        };
        evidence.verify(&chain()).unwrap();
        evidence.verify_in(&chain(), &set).unwrap();
        assert_eq!(evidence.signer(), 1);
        assert_eq!(evidence.view(), 5);
        assert_eq!(evidence.epoch(), 2);

        // Another chain: signatures fail.
        let other_chain = ChainId::new("sherd-other").unwrap();
        assert!(matches!(
            evidence.verify(&other_chain),
            Err(EvidenceError::Vote(VoteError::InvalidSignature {
                signer: 1
            }))
        ));
        // Framing someone else: the key does not match the set.
        let framed = Evidence {
            first: SignedVote { signer: 0, ..first },
            second: SignedVote {
                signer: 0,
                ..second
            },
            ..evidence.clone()
        };
        assert_eq!(
            framed.verify_in(&chain(), &set),
            Err(EvidenceError::WrongKey {
                signer: 0,
                epoch: 2
            })
        );
        // A forged second vote does not verify.
        let forged = Evidence {
            second: SignedVote::sign(&chain(), 2, 1, fin, &other),
            ..evidence.clone()
        };
        assert!(forged.verify(&chain()).is_err());
        // Not a conflict.
        let harmless = Evidence {
            second: first,
            ..evidence
        };
        assert!(matches!(
            harmless.verify(&chain()),
            Err(EvidenceError::NoConflict { .. })
        ));
    }
}
