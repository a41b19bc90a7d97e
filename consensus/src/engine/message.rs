//! Block headers, the messages validators exchange, leader selection and the
//! randomness beacon.

use crate::bls::{AggregateSignature, Signature};
use crate::certificate::Certificate;
use crate::validators::{Epoch, ValidatorSet};
use crate::vote::{BlockId, ChainId, SignedVote, View};

/// A 32-byte digest (BLAKE3).
pub type Digest = [u8; 32];

/// Namespace tag of the block id hash.
pub const BLOCK_NAMESPACE: &[u8] = b"sherd/consensus/block/v1";
/// Namespace tag of the beacon reveal's signed message.
pub const BEACON_NAMESPACE: &[u8] = b"sherd/consensus/beacon/v1";
/// Namespace tag of leader selection.
pub const LEADER_NAMESPACE: &[u8] = b"sherd/consensus/leader/v1";
/// Namespace tag of epoch seeds.
pub const EPOCH_SEED_NAMESPACE: &[u8] = b"sherd/consensus/epoch-seed/v1";

/// A block header as the engine sees it: the engine does not know
/// transactions, only the digest of the payload the application built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proposal {
    /// The epoch of the proposer's validator set.
    pub epoch: Epoch,
    /// The view the block is proposed in.
    pub view: View,
    /// Its height: the parent's height plus one (the anchor is height 0 at genesis).
    pub height: u64,
    /// The view of the parent block.
    pub parent_view: View,
    /// The parent block.
    pub parent: BlockId,
    /// The application's digest of the payload.
    pub payload: Digest,
    /// The proposer's signer index (the leader of `view`).
    pub proposer: u32,
    /// The beacon reveal: the proposer's BLS signature over
    /// [`beacon_message`]`(chain_id, epoch, view)`.
    pub reveal: Signature,
}

impl Proposal {
    /// The block id: BLAKE3 over
    /// `len ‖ "sherd/consensus/block/v1" ‖ epoch ‖ view ‖ height ‖ parent_view ‖ parent ‖ payload ‖ proposer`
    /// (integers big-endian). The reveal is not hashed: it is unique for
    /// `(proposer, epoch, view)` and checked on its own.
    pub fn id(&self) -> BlockId {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&[BLOCK_NAMESPACE.len() as u8]);
        hasher.update(BLOCK_NAMESPACE);
        hasher.update(&self.epoch.to_be_bytes());
        hasher.update(&self.view.to_be_bytes());
        hasher.update(&self.height.to_be_bytes());
        hasher.update(&self.parent_view.to_be_bytes());
        hasher.update(&self.parent.0);
        hasher.update(&self.payload);
        hasher.update(&self.proposer.to_be_bytes());
        BlockId(*hasher.finalize().as_bytes())
    }
}

/// The bytes a proposer signs as its beacon reveal for a view:
/// `len ‖ "sherd/consensus/beacon/v1" ‖ len ‖ chain id ‖ epoch ‖ view`.
pub fn beacon_message(chain_id: &ChainId, epoch: Epoch, view: View) -> Vec<u8> {
    let chain = chain_id.as_str().as_bytes();
    let mut out = Vec::with_capacity(BEACON_NAMESPACE.len().saturating_add(82));
    out.push(BEACON_NAMESPACE.len() as u8);
    out.extend_from_slice(BEACON_NAMESPACE);
    // A chain id is at most 64 bytes.
    out.push(chain.len() as u8);
    out.extend_from_slice(chain);
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(&view.to_be_bytes());
    out
}

/// The next beacon value: `BLAKE3(beacon ‖ reveal)`, reveal compressed (96 bytes).
pub fn next_beacon(beacon: &Digest, reveal: &Signature) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(beacon);
    hasher.update(&reveal.to_bytes());
    *hasher.finalize().as_bytes()
}

/// The leader seed of `epoch` (DESIGN §5, one epoch of lookahead):
/// `BLAKE3(len ‖ "sherd/consensus/epoch-seed/v1" ‖ epoch ‖ beacon)`
/// (epoch big-endian), where `beacon` is the beacon value at the **start of
/// the previous epoch** `epoch − 1`: the beacon after the last block of
/// epoch `epoch − 2`, or the genesis beacon when `epoch − 1` is the first
/// epoch. (The first epoch's seed is part of genesis.)
///
/// The beacon is thus fixed a whole epoch before its seed is used: every
/// validator of `epoch` can compute its leaders as soon as `epoch − 1`
/// starts, and the last proposers of `epoch − 1`, who could withhold their
/// blocks to choose between beacon values, cannot steer it. The epoch
/// number keeps two epochs from sharing a leader schedule. The application
/// passes the result to [`Engine::next_epoch`](super::Engine::next_epoch);
/// it knows the beacon from the anchor it started the ending epoch at (the
/// `last` block of the previous [`Output::EpochEnded`](super::Output::EpochEnded)).
pub fn epoch_seed(epoch: Epoch, beacon: &Digest) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[EPOCH_SEED_NAMESPACE.len() as u8]);
    hasher.update(EPOCH_SEED_NAMESPACE);
    hasher.update(&epoch.to_be_bytes());
    hasher.update(beacon);
    *hasher.finalize().as_bytes()
}

/// The leader of `view`: stake-weighted sampling. Draw
/// `r = u128(first 16 bytes of BLAKE3(len ‖ "sherd/consensus/leader/v1" ‖ epoch_seed ‖ view)) mod total_power`
/// and pick the first signer whose cumulative power exceeds `r`. (The
/// modulo bias is below `total / 2^128`, negligible for any real stake.)
pub fn leader(validators: &ValidatorSet, epoch_seed: &Digest, view: View) -> u32 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[LEADER_NAMESPACE.len() as u8]);
    hasher.update(LEADER_NAMESPACE);
    hasher.update(epoch_seed);
    hasher.update(&view.to_be_bytes());
    let hash = hasher.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(hash.as_bytes().get(..16).unwrap_or(&[0; 16]));
    let r = u128::from_be_bytes(first)
        .checked_rem(validators.total_power())
        .unwrap_or_default();
    let mut cumulative: u128 = 0;
    for ((_, power), index) in validators.iter().zip(0u32..) {
        cumulative = cumulative.saturating_add(u128::from(*power));
        if r < cumulative {
            return index;
        }
    }
    0
}

/// The identity signature, used as the "signature" of every vote when the
/// engine runs with [`SignatureMode::Trusted`](super::SignatureMode::Trusted).
pub fn placeholder_signature() -> Signature {
    AggregateSignature::new().to_signature()
}

/// What validators send each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The leader's block for a view, with its own notarize vote for it
    /// (which authenticates the header).
    Proposal {
        /// The header.
        proposal: Proposal,
        /// The leader's `notarize(view, proposal.id())`.
        notarize: SignedVote,
    },
    /// A single vote.
    Vote(SignedVote),
    /// A notarization with the header of the block it certifies.
    Notarization {
        /// The header.
        proposal: Proposal,
        /// The certificate of notarize votes for `proposal.id()`.
        certificate: Certificate,
    },
    /// A nullification.
    Nullification(Certificate),
    /// A finalization with the header of the block it certifies.
    Finalization {
        /// The header.
        proposal: Proposal,
        /// The certificate of finalize votes for `proposal.id()`.
        certificate: Certificate,
    },
    /// A bare header, answering a [`Message::Fetch`] for a finalized
    /// ancestor; accepted only if a finalization walk is waiting for its id.
    Header(Proposal),
    /// "Send me the certificates (and headers) you have for this view."
    Fetch {
        /// The view.
        view: View,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bls::SecretKey;

    fn set(powers: &[u64]) -> ValidatorSet {
        let validators = powers
            .iter()
            .zip(0u8..)
            .map(|(p, i)| {
                (
                    SecretKey::key_gen(&[i + 1; 32], b"").unwrap().public_key(),
                    *p,
                )
            })
            .collect();
        ValidatorSet::new(0, validators).unwrap()
    }

    #[test]
    fn leaders_follow_stake() {
        let set = set(&[70, 10, 10, 10]);
        let seed = [5; 32];
        let mut counts = [0u32; 4];
        for view in 0..2000 {
            counts[leader(&set, &seed, view) as usize] += 1;
        }
        // 70 % ± a wide margin; every validator leads sometimes.
        assert!((1200..1600).contains(&counts[0]), "{counts:?}");
        assert!(counts.iter().all(|&c| c > 100), "{counts:?}");
        // Deterministic, and the seed matters.
        assert_eq!(leader(&set, &seed, 17), leader(&set, &seed, 17));
        let other: Vec<_> = (0..64).map(|v| leader(&set, &[6; 32], v)).collect();
        let same: Vec<_> = (0..64).map(|v| leader(&set, &seed, v)).collect();
        assert_ne!(other, same);
    }

    /// The epoch seed is the hash it says it is, and depends on both inputs.
    #[test]
    fn epoch_seed_is_pinned() {
        let beacon = [9u8; 32];
        let mut bytes = vec![29u8];
        bytes.extend_from_slice(b"sherd/consensus/epoch-seed/v1");
        bytes.extend_from_slice(&7u64.to_be_bytes());
        bytes.extend_from_slice(&beacon);
        assert_eq!(epoch_seed(7, &beacon), *blake3::hash(&bytes).as_bytes());
        assert_ne!(epoch_seed(8, &beacon), epoch_seed(7, &beacon));
        assert_ne!(epoch_seed(7, &[8; 32]), epoch_seed(7, &beacon));
    }

    /// Golden value: the block id format must not change by accident.
    #[test]
    fn block_id_is_pinned() {
        let proposal = Proposal {
            epoch: 1,
            view: 2,
            height: 3,
            parent_view: 1,
            parent: BlockId([4; 32]),
            payload: [5; 32],
            proposer: 6,
            reveal: placeholder_signature(),
        };
        let id = proposal.id();
        let mut changed = proposal;
        changed.payload = [6; 32];
        assert_ne!(changed.id(), id);
        let mut bytes = vec![24u8];
        bytes.extend_from_slice(b"sherd/consensus/block/v1");
        for x in [1u64, 2, 3, 1] {
            bytes.extend_from_slice(&x.to_be_bytes());
        }
        bytes.extend_from_slice(&[4; 32]);
        bytes.extend_from_slice(&[5; 32]);
        bytes.extend_from_slice(&6u32.to_be_bytes());
        assert_eq!(id.0, *blake3::hash(&bytes).as_bytes());
    }

    #[test]
    fn beacon_message_layout() {
        let chain = ChainId::new("sherd-test").unwrap();
        let message = beacon_message(&chain, 2, 9);
        assert_eq!(message.len(), 1 + 25 + 1 + 10 + 8 + 8);
        assert_eq!(&message[1..26], b"sherd/consensus/beacon/v1");
        assert_eq!(&message[message.len() - 8..], &9u64.to_be_bytes());
    }
}
