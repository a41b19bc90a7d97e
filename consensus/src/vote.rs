//! Votes and the exact bytes a validator signs for them.
//!
//! Simplex has three votes: `notarize(view, block_id)`, `nullify(view)` and
//! `finalize(view, block_id)`. A validator signs each with its BLS key over
//! this message (all integers big-endian):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 1 | `23`, the length of the namespace tag |
//! | 1 | 23 | namespace tag, ASCII `sherd/consensus/vote/v1` |
//! | 24 | 1 | `L`, the length of the chain id (1 to 32) |
//! | 25 | L | chain id, ASCII (see [`ChainId`]) |
//! | 25 + L | 8 | epoch, `u64` |
//! | 33 + L | 1 | kind: `0x01` notarize, `0x02` nullify, `0x03` finalize |
//! | 34 + L | 8 | view, `u64` |
//! | 42 + L | 32 | block id (notarize and finalize only; absent for nullify) |
//!
//! The namespace tag keeps a vote signature from being valid as any other
//! sherd message signed with the same key (those use other tags; proofs of
//! possession use another BLS DST altogether); the chain id and epoch keep it
//! from being replayed on another chain or in another epoch; the kind byte
//! keeps a notarize from counting as a finalize. The encoding is injective:
//! the lengths are prefixed and the kind fixes whether a block id follows.

use std::fmt;

use crate::bls::{BlsError, HashedMessage, SecretKey, UncheckedSignature};
use crate::validators::{Epoch, ValidatorSet};

/// A view number.
pub type View = u64;

/// The namespace tag at the start of every signed vote.
pub const VOTE_NAMESPACE: &[u8] = b"sherd/consensus/vote/v1";
/// Longest chain id, in bytes (a transaction's codec allows no more).
pub const MAX_CHAIN_ID_BYTES: usize = 32;

/// A block's 32-byte identifier (its BLAKE3 digest, computed elsewhere).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockId(pub [u8; 32]);

impl fmt::Debug for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockId(")?;
        for byte in self.0.iter().take(8) {
            write!(f, "{byte:02x}")?;
        }
        write!(f, "…)")
    }
}

/// What is wrong with a chain id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainIdError {
    /// Empty, or longer than [`MAX_CHAIN_ID_BYTES`].
    #[error("a chain id is 1 to {MAX_CHAIN_ID_BYTES} bytes, this one is {found}")]
    Length {
        /// Its length in bytes.
        found: usize,
    },
    /// A byte outside printable ASCII without spaces (`0x21..=0x7e`).
    #[error("a chain id is printable ASCII without spaces; byte {position} is {byte:#04x}")]
    Character {
        /// Offset of the byte.
        position: usize,
        /// The byte.
        byte: u8,
    },
}

/// The name of a chain, e.g. `sherd-testnet-1`: 1 to 32 printable ASCII
/// bytes, no spaces. Every signed message (votes here, transactions and
/// blocks in the ledger, which encodes it in its codec) names it, so a
/// signature made for one chain is worthless on another. The one chain id
/// type of the workspace.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainId(String);

impl ChainId {
    /// Checks and wraps a chain id.
    pub fn new(id: &str) -> Result<Self, ChainIdError> {
        Self::from_bytes(id.as_bytes())
    }

    /// Checks and wraps a chain id given as bytes (as a decoder reads it).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ChainIdError> {
        if bytes.is_empty() || bytes.len() > MAX_CHAIN_ID_BYTES {
            return Err(ChainIdError::Length { found: bytes.len() });
        }
        if let Some((position, &byte)) = bytes
            .iter()
            .enumerate()
            .find(|(_, b)| !b.is_ascii_graphic())
        {
            return Err(ChainIdError::Character { position, byte });
        }
        // All bytes are ASCII, so nothing is lost.
        Ok(Self(String::from_utf8_lossy(bytes).into_owned()))
    }

    /// The chain id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainId({})", self.0)
    }
}

impl std::str::FromStr for ChainId {
    type Err = ChainIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for ChainId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for ChainId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The three kinds of vote, with their byte in the signed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum VoteKind {
    /// "I saw a valid proposal for this view."
    Notarize = 0x01,
    /// "This view timed out for me."
    Nullify = 0x02,
    /// "I saw a notarization and did not nullify."
    Finalize = 0x03,
}

/// A vote: what a validator says about a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Vote {
    /// `notarize(view, block_id)`.
    Notarize {
        /// The view.
        view: View,
        /// The proposed block.
        block_id: BlockId,
    },
    /// `nullify(view)`.
    Nullify {
        /// The view.
        view: View,
    },
    /// `finalize(view, block_id)`.
    Finalize {
        /// The view.
        view: View,
        /// The notarized block.
        block_id: BlockId,
    },
}

impl Vote {
    /// The kind of vote.
    pub fn kind(&self) -> VoteKind {
        match self {
            Self::Notarize { .. } => VoteKind::Notarize,
            Self::Nullify { .. } => VoteKind::Nullify,
            Self::Finalize { .. } => VoteKind::Finalize,
        }
    }

    /// The view voted on.
    pub fn view(&self) -> View {
        match self {
            Self::Notarize { view, .. } | Self::Nullify { view } | Self::Finalize { view, .. } => {
                *view
            }
        }
    }

    /// The block voted for (none for a nullify).
    pub fn block_id(&self) -> Option<BlockId> {
        match self {
            Self::Notarize { block_id, .. } | Self::Finalize { block_id, .. } => Some(*block_id),
            Self::Nullify { .. } => None,
        }
    }

    /// The bytes signed for this vote (the table in the module docs).
    pub fn signing_message(&self, chain_id: &ChainId, epoch: Epoch) -> Vec<u8> {
        let chain = chain_id.as_str().as_bytes();
        let mut out = Vec::with_capacity(
            VOTE_NAMESPACE
                .len()
                .saturating_add(chain.len())
                .saturating_add(51),
        );
        // Both lengths are checked constants or ≤ 64: they fit a byte.
        out.push(VOTE_NAMESPACE.len() as u8);
        out.extend_from_slice(VOTE_NAMESPACE);
        out.push(chain.len() as u8);
        out.extend_from_slice(chain);
        out.extend_from_slice(&epoch.to_be_bytes());
        out.push(self.kind() as u8);
        out.extend_from_slice(&self.view().to_be_bytes());
        if let Some(block_id) = self.block_id() {
            out.extend_from_slice(&block_id.0);
        }
        out
    }
}

/// Why a single vote is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoteError {
    /// The vote names another epoch than the validator set's.
    #[error("vote is for epoch {found}, the validator set is for epoch {expected}")]
    EpochMismatch {
        /// The validator set's epoch.
        expected: Epoch,
        /// The vote's epoch.
        found: Epoch,
    },
    /// The signer index names no validator.
    #[error("signer index {signer} is out of range: the set has {validators} validators")]
    SignerOutOfRange {
        /// The signer index.
        signer: u32,
        /// The set's size.
        validators: usize,
    },
    /// The signature does not verify for the signer's key.
    #[error("signer {signer}'s signature does not verify")]
    InvalidSignature {
        /// The signer index.
        signer: u32,
    },
    /// The signer has already voted for this message.
    #[error("signer {signer} already voted for this")]
    Duplicate {
        /// The signer index.
        signer: u32,
    },
    /// A collector got a vote for another message.
    #[error("vote {found:?} given to the collector of {expected:?}")]
    WrongVote {
        /// The collector's vote.
        expected: Vote,
        /// The vote given.
        found: Vote,
    },
}

/// A vote signed by one validator of an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedVote {
    /// The epoch of the signer's validator set.
    pub epoch: Epoch,
    /// The signer's index in that set.
    pub signer: u32,
    /// The vote.
    pub vote: Vote,
    /// The BLS signature over [`Vote::signing_message`], as it came off the
    /// wire: on the curve, not yet subgroup-checked (a vote is 192 uncompressed
    /// bytes on the wire, so that decoding it costs no square root).
    /// [`verify`](Self::verify) checks it fully; a
    /// [`VoteCollector`](crate::VoteCollector) checks the sum of many.
    pub signature: UncheckedSignature,
}

impl SignedVote {
    /// Signs `vote` as validator `signer` of `epoch` on `chain_id`.
    pub fn sign(
        chain_id: &ChainId,
        epoch: Epoch,
        signer: u32,
        vote: Vote,
        key: &SecretKey,
    ) -> Self {
        let signature = key.sign(&vote.signing_message(chain_id, epoch)).into();
        Self {
            epoch,
            signer,
            vote,
            signature,
        }
    }

    /// [`sign`](Self::sign) with the vote message already hashed: `hashed`
    /// must be [`HashedMessage::new`] of `vote`'s signing message in `epoch`.
    /// The same signature.
    pub fn sign_hashed(
        epoch: Epoch,
        signer: u32,
        vote: Vote,
        key: &SecretKey,
        hashed: &HashedMessage,
    ) -> Self {
        Self {
            epoch,
            signer,
            vote,
            signature: key.sign_hashed(hashed).into(),
        }
    }

    /// Verifies this vote on its own (a subgroup check and one pairing
    /// check): right epoch, a signer of the set, a valid signature.
    pub fn verify(&self, chain_id: &ChainId, validators: &ValidatorSet) -> Result<(), VoteError> {
        let key = check_signer(self.epoch, self.signer, validators)?;
        self.signature
            .subgroup_check()
            .and_then(|signature| {
                key.verify(&self.vote.signing_message(chain_id, self.epoch), &signature)
            })
            .map_err(|_: BlsError| VoteError::InvalidSignature {
                signer: self.signer,
            })
    }
}

/// Checks epoch and signer index; returns the signer's key.
pub(crate) fn check_signer(
    epoch: Epoch,
    signer: u32,
    validators: &ValidatorSet,
) -> Result<&crate::bls::PublicKey, VoteError> {
    if epoch != validators.epoch() {
        return Err(VoteError::EpochMismatch {
            expected: validators.epoch(),
            found: epoch,
        });
    }
    validators
        .public_key(signer)
        .ok_or(VoteError::SignerOutOfRange {
            signer,
            validators: validators.len(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bls::SecretKey;

    fn chain() -> ChainId {
        ChainId::new("sherd-test").unwrap()
    }

    /// Golden bytes: changing the signed format must be deliberate.
    #[test]
    fn signing_message_layout() {
        let block_id = BlockId([0xab; 32]);
        let notarize = Vote::Notarize { view: 5, block_id }.signing_message(&chain(), 2);
        let mut expected = vec![23];
        expected.extend_from_slice(b"sherd/consensus/vote/v1");
        expected.push(10);
        expected.extend_from_slice(b"sherd-test");
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2]);
        expected.push(0x01);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 5]);
        expected.extend_from_slice(&[0xab; 32]);
        assert_eq!(notarize, expected);
        assert_eq!(notarize.len(), 42 + 10 + 32);

        let nullify = Vote::Nullify { view: 5 }.signing_message(&chain(), 2);
        assert_eq!(nullify.len(), 42 + 10);
        assert_eq!(nullify[34 + 10 - 1], 0x02);
        let finalize = Vote::Finalize { view: 5, block_id }.signing_message(&chain(), 2);
        assert_eq!(finalize[33 + 10], 0x03);
        assert_eq!(
            hex::encode(&finalize),
            "1773686572642f636f6e73656e7375732f766f74652f76310a73686572642d74657374\
             000000000000000203\
             0000000000000005abababababababababababababababababababababababababababababababab"
        );
    }

    #[test]
    fn chain_id_rules() {
        assert!(ChainId::new("sherd-devnet").is_ok());
        assert!(ChainId::new(&"x".repeat(32)).is_ok());
        assert_eq!(ChainId::new(""), Err(ChainIdError::Length { found: 0 }));
        assert_eq!(
            ChainId::new(&"x".repeat(33)),
            Err(ChainIdError::Length { found: 33 })
        );
        assert_eq!(
            ChainId::new("a b"),
            Err(ChainIdError::Character {
                position: 1,
                byte: b' '
            })
        );
        assert_eq!(
            ChainId::new("é"),
            Err(ChainIdError::Character {
                position: 0,
                byte: 0xc3
            })
        );
    }

    #[test]
    fn signed_vote_verifies_and_binds_its_context() {
        let sk = SecretKey::key_gen(&[1; 32], b"").unwrap();
        let other = SecretKey::key_gen(&[2; 32], b"").unwrap();
        let set =
            ValidatorSet::new(4, vec![(sk.public_key(), 1), (other.public_key(), 1)]).unwrap();
        let vote = Vote::Notarize {
            view: 9,
            block_id: BlockId([1; 32]),
        };
        let signed = SignedVote::sign(&chain(), 4, 0, vote, &sk);
        signed.verify(&chain(), &set).unwrap();

        let other_chain = ChainId::new("sherd-other").unwrap();
        assert_eq!(
            signed.verify(&other_chain, &set),
            Err(VoteError::InvalidSignature { signer: 0 })
        );
        let as_finalize = SignedVote {
            vote: Vote::Finalize {
                view: 9,
                block_id: BlockId([1; 32]),
            },
            ..signed
        };
        assert_eq!(
            as_finalize.verify(&chain(), &set),
            Err(VoteError::InvalidSignature { signer: 0 })
        );
        assert_eq!(
            SignedVote {
                signer: 1,
                ..signed
            }
            .verify(&chain(), &set),
            Err(VoteError::InvalidSignature { signer: 1 })
        );
        assert_eq!(
            SignedVote {
                signer: 2,
                ..signed
            }
            .verify(&chain(), &set),
            Err(VoteError::SignerOutOfRange {
                signer: 2,
                validators: 2
            })
        );
        assert_eq!(
            SignedVote { epoch: 5, ..signed }.verify(&chain(), &set),
            Err(VoteError::EpochMismatch {
                expected: 4,
                found: 5
            })
        );
    }
}
