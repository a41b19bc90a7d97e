//! What travels on the gossip topics, byte for byte.
//!
//! Consensus topic, one of:
//!
//! ```text
//! 0x01 ‖ u32_le from ‖ consensus message (sherd_consensus::Wire)
//! 0x02 ‖ parent consensus id [32] ‖ block wire bytes     (a proposed block's data)
//! ```
//!
//! `from` is the sender's signer index in its epoch's set, as it claims it:
//! every consensus message is signed (votes, proposals, certificates), so
//! the engine checks who really signed it; `from` only names whom to blame.
//! A proposed block is sent by its leader before the proposal that names
//! it; a receiver keeps it by its ledger block id (self-certifying: the
//! header hash) until a proposal with that payload asks for it.
//!
//! Transactions topic, a batch of transactions the sender admitted:
//!
//! ```text
//! u32_le count ‖ (u32_le len ‖ transaction wire bytes)…   (1 ≤ count ≤ MAX_GOSSIP_TXS)
//! ```
//!
//! A node gathers what its API admits for a few milliseconds and publishes
//! it as one message, so gossipsub's per-message costs (its own signature,
//! ids, the receivers' checks) are paid per batch, and receivers verify the
//! batch's signatures together.
//!
//! Block sync (`/sherd/sync/1` request-response), request then response:
//!
//! ```text
//! 0x01                                   status  → u64_le finalized height
//! 0x02 ‖ u64_le from ‖ u32_le max        blocks  → u32_le count ‖ (u32_le len ‖ stored block)…
//! ```
//!
//! A stored block is the node's `BLOCKS` record: the block, its consensus
//! header, a finalization certificate (of it or of a descendant) and the
//! beacon after it. An answer holds at most [`MAX_SYNC_BLOCKS`] blocks and
//! about [`MAX_SYNC_BYTES`]; the asker checks every certificate against the
//! validator sets it derived itself and re-executes every block.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use sherd_consensus::{Message, Vote, Wire};

/// Largest consensus gossip message, in bytes.
pub const MAX_CONSENSUS_GOSSIP: usize = 32 << 20;

/// A consensus-topic message.
// Moved once from the network task to the actor; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum ConsensusGossip {
    /// A consensus message from validator `from`.
    Message {
        /// The sender's signer index.
        from: u32,
        /// The message.
        message: Message,
    },
    /// The data of a proposed block: `parent ‖ block` as stored in the
    /// `PROPOSED` column (see [`crate::exec::proposed_value`]).
    Block(Vec<u8>),
}

/// Why gossip bytes are refused.
#[derive(Debug, thiserror::Error)]
pub enum GossipError {
    /// Empty, or an unknown tag.
    #[error("unknown consensus gossip tag {0:?}")]
    Tag(Option<u8>),
    /// Shorter than its header.
    #[error("consensus gossip is truncated")]
    Truncated,
    /// The consensus message does not decode.
    #[error("consensus message does not decode: {0}")]
    Message(#[from] sherd_consensus::CodecError),
}

impl ConsensusGossip {
    /// The bytes to publish.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Message { from, message } => {
                let body = message.encode();
                let mut out = Vec::with_capacity(5 + body.len());
                out.push(0x01);
                out.extend_from_slice(&from.to_le_bytes());
                out.extend_from_slice(&body);
                out
            }
            Self::Block(proposed) => {
                let mut out = Vec::with_capacity(1 + proposed.len());
                out.push(0x02);
                out.extend_from_slice(proposed);
                out
            }
        }
    }

    /// The consensus message's wire bytes, if `bytes` are a message (not
    /// checked beyond its framing).
    pub fn message_body(bytes: &[u8]) -> Option<&[u8]> {
        match bytes.split_first() {
            Some((0x01, rest)) => rest.get(4..),
            _ => None,
        }
    }

    /// Reads published bytes. A block's contents are checked when it is
    /// used, not here.
    pub fn decode(bytes: &[u8]) -> Result<Self, GossipError> {
        match bytes.split_first() {
            Some((0x01, rest)) => {
                let (from, body) = rest.split_at_checked(4).ok_or(GossipError::Truncated)?;
                let from = u32::from_le_bytes(from.try_into().map_err(|_| GossipError::Truncated)?);
                let message = Message::decode(body)?;
                Ok(Self::Message { from, message })
            }
            Some((0x02, rest)) => {
                if rest.len() < 33 {
                    return Err(GossipError::Truncated);
                }
                Ok(Self::Block(rest.to_vec()))
            }
            Some((tag, _)) => Err(GossipError::Tag(Some(*tag))),
            None => Err(GossipError::Tag(None)),
        }
    }
}

/// How many certificates [`HeldCertificates`] remembers (a few per view).
const HELD_CERTIFICATES: usize = 256;

/// The certificates this node's engine holds (it broadcast each once, on
/// first having it), by epoch and vote, so that the network task drops a
/// peer's re-broadcast copy before decoding its curve points
/// ([`sherd_consensus::codec::certified_vote`]). The engine would ignore
/// the copy anyway: it keeps the first certificate of each kind per view.
#[derive(Debug, Default)]
pub struct HeldCertificates {
    inner: Mutex<Held>,
}

/// A certificate by its epoch and vote.
type CertificateKey = (u64, Vote);

/// The certificates held: in arrival order, and as a set.
#[derive(Debug, Default)]
struct Held {
    order: VecDeque<CertificateKey>,
    set: HashSet<CertificateKey>,
}

impl HeldCertificates {
    /// Remembers a certificate the engine holds, forgetting the oldest
    /// beyond [`HELD_CERTIFICATES`].
    pub fn insert(&self, epoch: u64, vote: Vote) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Held { order, set } = &mut *inner;
        if !set.insert((epoch, vote)) {
            return;
        }
        order.push_back((epoch, vote));
        if order.len() > HELD_CERTIFICATES {
            if let Some(oldest) = order.pop_front() {
                set.remove(&oldest);
            }
        }
    }

    /// Whether `body` (a consensus message's wire bytes) carries a
    /// certificate the engine already holds.
    pub fn holds(&self, body: &[u8]) -> bool {
        let Some(key) = sherd_consensus::codec::certified_vote(body) else {
            return false;
        };
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.set.contains(&key)
    }
}

/// Most transactions in one gossip message.
pub const MAX_GOSSIP_TXS: usize = 1_024;

/// Encodes a batch of transactions' wire bytes for the transactions topic.
pub fn encode_txs<B: AsRef<[u8]>>(txs: &[B]) -> Vec<u8> {
    let len: usize = txs.iter().map(|t| 4 + t.as_ref().len()).sum();
    let mut out = Vec::with_capacity(4 + len);
    out.extend_from_slice(&u32::try_from(txs.len()).unwrap_or(u32::MAX).to_le_bytes());
    for tx in txs {
        let tx = tx.as_ref();
        out.extend_from_slice(&u32::try_from(tx.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(tx);
    }
    out
}

/// Splits a transactions-topic message into the transactions' wire bytes;
/// `None` if it is malformed, empty or holds more than [`MAX_GOSSIP_TXS`].
pub fn decode_txs(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let (count, mut rest) = bytes.split_at_checked(4)?;
    let count = u32::from_le_bytes(count.try_into().ok()?) as usize;
    if count == 0 || count > MAX_GOSSIP_TXS {
        return None;
    }
    let mut txs = Vec::with_capacity(count);
    for _ in 0..count {
        let (len, tail) = rest.split_at_checked(4)?;
        let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
        let (tx, tail) = tail.split_at_checked(len)?;
        txs.push(tx);
        rest = tail;
    }
    rest.is_empty().then_some(txs)
}

/// Most blocks in one sync answer.
pub const MAX_SYNC_BLOCKS: u32 = 64;
/// Bytes after which a sync answer stops adding blocks.
pub const MAX_SYNC_BYTES: usize = 16 << 20;

/// A block-sync request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncRequest {
    /// The peer's finalized height.
    Status,
    /// Finalized blocks from height `from`, at most `max`.
    Blocks {
        /// First height.
        from: u64,
        /// Most blocks.
        max: u32,
    },
}

impl SyncRequest {
    /// Its bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Status => vec![0x01],
            Self::Blocks { from, max } => {
                let mut out = vec![0x02];
                out.extend_from_slice(&from.to_le_bytes());
                out.extend_from_slice(&max.to_le_bytes());
                out
            }
        }
    }

    /// Reads a request; `None` if malformed.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0x01] => Some(Self::Status),
            [0x02, rest @ ..] if rest.len() == 12 => {
                let (from, max) = rest.split_at(8);
                Some(Self::Blocks {
                    from: u64::from_le_bytes(from.try_into().ok()?),
                    max: u32::from_le_bytes(max.try_into().ok()?),
                })
            }
            _ => None,
        }
    }
}

/// Encodes a blocks answer.
pub fn encode_blocks(blocks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(
        &u32::try_from(blocks.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    for block in blocks {
        out.extend_from_slice(&u32::try_from(block.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(block);
    }
    out
}

/// Reads a blocks answer; `None` if malformed or over [`MAX_SYNC_BLOCKS`].
pub fn decode_blocks(bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let (count, mut rest) = bytes.split_at_checked(4)?;
    let count = u32::from_le_bytes(count.try_into().ok()?);
    if count > MAX_SYNC_BLOCKS {
        return None;
    }
    let mut blocks = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (len, tail) = rest.split_at_checked(4)?;
        let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
        let (block, tail) = tail.split_at_checked(len)?;
        blocks.push(block.to_vec());
        rest = tail;
    }
    rest.is_empty().then_some(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of a nullification message as far as `certified_vote`
    /// reads them (version, tag, epoch, vote), then filler.
    fn nullification(epoch: u64, view: u64) -> Vec<u8> {
        let mut bytes = vec![sherd_consensus::codec::WIRE_VERSION, 0x04];
        bytes.extend_from_slice(&epoch.to_le_bytes());
        bytes.push(0x02);
        bytes.extend_from_slice(&view.to_le_bytes());
        bytes.extend_from_slice(&[0; 100]);
        bytes
    }

    #[test]
    fn held_certificates_are_recognized_from_bytes_and_bounded() {
        let held = HeldCertificates::default();
        assert!(!held.holds(&nullification(1, 5)));
        held.insert(1, Vote::Nullify { view: 5 });
        assert!(held.holds(&nullification(1, 5)));
        // Another view, another epoch, another kind: not held.
        assert!(!held.holds(&nullification(1, 6)));
        assert!(!held.holds(&nullification(2, 5)));
        let mut notarize_kind = nullification(1, 5);
        notarize_kind[10] = 0x01;
        assert!(!held.holds(&notarize_kind));
        // Not a certificate message, or cut short: not held.
        assert!(!held.holds(&nullification(1, 5)[..12]));
        assert!(!held.holds(&[]));
        // The oldest are forgotten beyond the bound.
        for view in 100..100 + HELD_CERTIFICATES as u64 {
            held.insert(1, Vote::Nullify { view });
        }
        assert!(!held.holds(&nullification(1, 5)));
        assert!(held.holds(&nullification(1, 100)));
        // A consensus gossip message's body is found after its framing.
        let mut gossip = vec![0x01, 0, 0, 0, 0];
        gossip.extend_from_slice(&nullification(1, 100));
        assert!(ConsensusGossip::message_body(&gossip).is_some_and(|b| held.holds(b)));
        assert_eq!(ConsensusGossip::message_body(&[0x02, 1, 2]), None);
    }

    #[test]
    fn sync_messages_round_trip_and_refuse_garbage() {
        for r in [
            SyncRequest::Status,
            SyncRequest::Blocks { from: 7, max: 64 },
        ] {
            assert_eq!(SyncRequest::decode(&r.encode()), Some(r));
        }
        assert_eq!(SyncRequest::decode(&[]), None);
        assert_eq!(SyncRequest::decode(&[2, 1, 2]), None);
        let blocks = vec![vec![1, 2, 3], vec![], vec![9; 100]];
        assert_eq!(decode_blocks(&encode_blocks(&blocks)), Some(blocks.clone()));
        let mut long = encode_blocks(&blocks);
        long.push(0);
        assert_eq!(decode_blocks(&long), None);
        assert_eq!(decode_blocks(&[0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(decode_blocks(&[1, 0, 0, 0, 9, 0, 0, 0, 1]), None);
    }

    #[test]
    fn transaction_batches_round_trip_and_refuse_garbage() {
        let txs = vec![vec![1u8, 2, 3], vec![9; 200]];
        let bytes = encode_txs(&txs);
        assert_eq!(
            decode_txs(&bytes),
            Some(txs.iter().map(Vec::as_slice).collect())
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(decode_txs(&long), None);
        assert_eq!(decode_txs(&bytes[..bytes.len() - 1]), None);
        assert_eq!(decode_txs(&encode_txs::<Vec<u8>>(&[])), None);
        let too_many = vec![vec![0u8]; MAX_GOSSIP_TXS + 1];
        assert_eq!(decode_txs(&encode_txs(&too_many)), None);
        assert_eq!(decode_txs(&[0xff, 0xff, 0xff, 0x7f]), None);
        assert_eq!(decode_txs(&[]), None);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(matches!(
            ConsensusGossip::decode(&[]),
            Err(GossipError::Tag(None))
        ));
        assert!(matches!(
            ConsensusGossip::decode(&[9, 1]),
            Err(GossipError::Tag(Some(9)))
        ));
        assert!(matches!(
            ConsensusGossip::decode(&[1, 0, 0]),
            Err(GossipError::Truncated)
        ));
        assert!(matches!(
            ConsensusGossip::decode(&[1, 0, 0, 0, 0, 7]),
            Err(GossipError::Message(_))
        ));
        assert!(matches!(
            ConsensusGossip::decode(&[2; 10]),
            Err(GossipError::Truncated)
        ));
        let block = ConsensusGossip::Block(vec![7; 40]);
        assert!(matches!(
            ConsensusGossip::decode(&block.encode()),
            Ok(ConsensusGossip::Block(b)) if b == vec![7; 40]
        ));
    }
}
