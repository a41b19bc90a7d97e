//! Blocks and block headers.
//!
//! Header encoding (canonical codec, fields in this order):
//!
//! ```text
//! chain_id      u32_le(len) ‖ bytes
//! height        u64_le      1 for the first block after genesis
//! epoch         u64_le      height / epoch_length
//! view          u64_le      the consensus view it was proposed in
//! parent        [32]        id of the block at height - 1 (the genesis id for height 1)
//! proposer      [32]        the proposer's operator address
//! timestamp_ms  u64_le      proposer's clock, ms since the Unix epoch; never below the parent's
//! tx_root       [32]        see [`tx_root`]
//! state_root    [32]        the state commitment after executing the block
//! beacon        [96]        the proposer's BLS signature over (chain_id, epoch, view)
//! ```
//!
//! The block id is `BLAKE3("sherd/block/v1" ‖ header encoding)`: it commits
//! to the transactions through `tx_root` and to the resulting state through
//! `state_root`, so a finalization certificate over the id finalizes both.
//! A block's wire encoding is `CODEC_VERSION ‖ header ‖ seq(tx)` (each
//! transaction in its unversioned form), at most [`MAX_BLOCK_LEN`] bytes and
//! [`MAX_BLOCK_TXS`] transactions.
//!
//! The storage-challenge seed of a block is `BLAKE3("sherd/beacon/v1" ‖
//! beacon)` ([`BlockHeader::beacon_seed`]): unknown before the proposer signs,
//! and the proposer cannot choose it (a BLS signature is unique).

use crate::{
    address::Address,
    chain::ChainId,
    codec::{
        decode_versioned, encode_versioned, Decode, DecodeError, Encode, EncodeError, Reader,
        Writer,
    },
    hash::Hash,
    tx::Transaction,
};

/// Namespace of block ids.
pub const BLOCK_NAMESPACE: &[u8] = b"sherd/block/v1";
/// Namespace of the beacon seed.
pub const BEACON_NAMESPACE: &[u8] = b"sherd/beacon/v1";
/// Most transactions in a block.
pub const MAX_BLOCK_TXS: usize = 20_000;
/// Longest wire encoding of a block, in bytes.
pub const MAX_BLOCK_LEN: usize = 32 << 20;
/// Bytes of a beacon reveal (a compressed BLS G2 signature).
pub const BEACON_LEN: usize = 96;

/// What a block says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockHeader {
    /// The chain.
    pub chain_id: ChainId,
    /// Position in the chain; genesis is 0, the first block 1.
    pub height: u64,
    /// `height / epoch_length`.
    pub epoch: u64,
    /// The consensus view of the proposal.
    pub view: u64,
    /// Id of the previous block (the genesis id for height 1).
    pub parent: Hash,
    /// The proposing validator's operator address.
    pub proposer: Address,
    /// Milliseconds since the Unix epoch, from the proposer's clock.
    pub timestamp_ms: u64,
    /// Commitment to the transactions, see [`tx_root`].
    pub tx_root: Hash,
    /// The state commitment after the block.
    pub state_root: Hash,
    /// The proposer's BLS randomness reveal.
    pub beacon: [u8; BEACON_LEN],
}

impl BlockHeader {
    /// The block id.
    pub fn id(&self) -> Result<Hash, EncodeError> {
        let mut w = Writer::new();
        w.fixed(BLOCK_NAMESPACE);
        self.encode(&mut w)?;
        Ok(Hash::digest(&w.into_bytes()))
    }

    /// The challenge seed this block contributes.
    pub fn beacon_seed(&self) -> Hash {
        let mut hasher = blake3::Hasher::new();
        hasher.update(BEACON_NAMESPACE);
        hasher.update(&self.beacon);
        Hash(*hasher.finalize().as_bytes())
    }
}

impl Encode for BlockHeader {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.chain_id.encode(w)?;
        w.u64(self.height);
        w.u64(self.epoch);
        w.u64(self.view);
        self.parent.encode(w)?;
        self.proposer.encode(w)?;
        w.u64(self.timestamp_ms);
        self.tx_root.encode(w)?;
        self.state_root.encode(w)?;
        w.fixed(&self.beacon);
        Ok(())
    }
}

impl Decode for BlockHeader {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            chain_id: ChainId::decode(r)?,
            height: r.u64("BlockHeader.height")?,
            epoch: r.u64("BlockHeader.epoch")?,
            view: r.u64("BlockHeader.view")?,
            parent: r.fixed("BlockHeader.parent").map(Hash)?,
            proposer: r.fixed("BlockHeader.proposer").map(Address)?,
            timestamp_ms: r.u64("BlockHeader.timestamp_ms")?,
            tx_root: r.fixed("BlockHeader.tx_root").map(Hash)?,
            state_root: r.fixed("BlockHeader.state_root").map(Hash)?,
            beacon: r.fixed("BlockHeader.beacon")?,
        })
    }
}

/// A header and its transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions, in execution order.
    pub txs: Vec<Transaction>,
}

/// Smallest encoding of a transaction, to bound a claimed count early.
const MIN_TX_LEN: usize = 64;

impl Block {
    /// The wire encoding.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        encode_versioned(self)
    }

    /// Reads a wire encoding, strictly.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_versioned(bytes, MAX_BLOCK_LEN)
    }

    /// Ids of the transactions, in order.
    pub fn tx_ids(&self) -> Result<Vec<Hash>, EncodeError> {
        self.txs.iter().map(Transaction::id).collect()
    }

    /// Whether `header.tx_root` commits to `txs`.
    pub fn check_tx_root(&self) -> Result<bool, EncodeError> {
        Ok(tx_root(&self.tx_ids()?) == self.header.tx_root)
    }
}

impl Encode for Block {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.header.encode(w)?;
        w.seq("Block.txs", MAX_BLOCK_TXS, &self.txs)
    }
}

impl Decode for Block {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            header: BlockHeader::decode(r)?,
            txs: r.seq("Block.txs", MAX_BLOCK_TXS, MIN_TX_LEN)?,
        })
    }
}

/// The Merkle root over transaction ids: leaves are the ids; an inner node
/// is `BLAKE3(0x01 ‖ left ‖ right)`; an odd node at the end of a level is
/// carried up unchanged; no transactions gives `BLAKE3("sherd/tx-root/empty")`.
pub fn tx_root(ids: &[Hash]) -> Hash {
    if ids.is_empty() {
        return Hash::digest(b"sherd/tx-root/empty");
    }
    let mut level: Vec<Hash> = ids.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => {
                    let mut hasher = blake3::Hasher::new();
                    hasher.update(&[0x01]);
                    hasher.update(&left.0);
                    hasher.update(&right.0);
                    Hash(*hasher.finalize().as_bytes())
                }
                [single] => *single,
                _ => Hash::default(),
            })
            .collect();
    }
    level.first().copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> BlockHeader {
        BlockHeader {
            chain_id: ChainId::new("sherd-test").unwrap(),
            height: 7,
            epoch: 0,
            view: 9,
            parent: Hash([1; 32]),
            proposer: Address([2; 32]),
            timestamp_ms: 1_700_000_000_000,
            tx_root: tx_root(&[]),
            state_root: Hash([3; 32]),
            beacon: [4; 96],
        }
    }

    #[test]
    fn block_round_trips_and_rejects_trailing_bytes() {
        let block = Block {
            header: header(),
            txs: vec![],
        };
        let bytes = block.to_bytes().unwrap();
        assert_eq!(Block::from_bytes(&bytes).unwrap(), block);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            Block::from_bytes(&longer),
            Err(DecodeError::TrailingBytes { count: 1 })
        ));
        for cut in 0..bytes.len() {
            assert!(Block::from_bytes(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn id_changes_with_every_field() {
        let base = header();
        let id = base.id().unwrap();
        let mut other = base.clone();
        other.height = 8;
        assert_ne!(other.id().unwrap(), id);
        let mut other = base.clone();
        other.beacon[95] ^= 1;
        assert_ne!(other.id().unwrap(), id);
        assert_ne!(other.beacon_seed(), base.beacon_seed());
    }

    #[test]
    fn tx_root_depends_on_order_and_carries_odd_nodes() {
        let a = Hash([1; 32]);
        let b = Hash([2; 32]);
        let c = Hash([3; 32]);
        assert_eq!(tx_root(&[a]), a);
        assert_ne!(tx_root(&[a, b]), tx_root(&[b, a]));
        let ab = tx_root(&[a, b]);
        assert_eq!(tx_root(&[a, b, c]), tx_root(&[ab, c]));
    }
}
