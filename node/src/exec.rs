//! Executing blocks: building one from the mempool, re-executing one to
//! check it, and the block's database writes once it is final.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sherd_consensus::engine::Proposal;
use sherd_consensus::{BlockId, Certificate, CodecError, Wire};
use sherd_ledger::block::tx_root;
use sherd_ledger::state::{Outcome, Receipt, StateError};
use sherd_ledger::{
    ApplyError, BatchVerifyError, Block, BlockContext, BlockError, BlockExecutor, BlockHeader,
    BlockOutput, DecodeError, EncodeError, Hash, Rejection, StateStore, TxKind, VerifiedTx,
};

use crate::store::{col, meta, DbError, Head, NodeDb, Op, StoredBlock, TxLocation};

/// A block executed on its parent, not yet final.
#[derive(Debug)]
pub struct Executed {
    /// Its consensus id.
    pub consensus_id: BlockId,
    /// Its parent's consensus id.
    pub parent_consensus_id: BlockId,
    /// The block.
    pub block: Block,
    /// Its ledger id.
    pub id: Hash,
    /// One per transaction.
    pub receipts: Vec<Receipt>,
    /// Writes and state root.
    pub output: BlockOutput,
    /// Unfinalized ancestors, oldest first (empty when the parent is final).
    pub ancestors: Vec<Arc<Executed>>,
}

/// Why a block could not be built, executed, synced or committed: the
/// block's fault ([`ExecError::Invalid`]: the proposer's, or the peer's
/// that sent it), or this node's (everything else).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The block is invalid on its parent.
    #[error("block is invalid: {0}")]
    Invalid(#[from] InvalidBlock),
    /// This node's database failed.
    #[error("database: {0}")]
    Db(#[from] DbError),
    /// This node's state could not be read or updated.
    #[error("state: {0}")]
    State(#[from] StateError),
    /// A block or record could not be encoded (a bug: they have limits).
    #[error("cannot encode: {0}")]
    Encode(#[from] EncodeError),
    /// A record this node wrote does not read back.
    #[error("this node's {0} record is corrupt")]
    CorruptRecord(&'static str),
    /// A sync request to a peer failed or timed out.
    #[error(transparent)]
    Sync(Box<SyncError>),
    /// The chain's epoch for a height is not the engine's.
    #[error("block {height} is in epoch {epoch}, the engine runs epoch {engine}")]
    WrongEpoch {
        /// The height.
        height: u64,
        /// Its epoch.
        epoch: u64,
        /// The engine's.
        engine: u64,
    },
    /// A finalized block does not extend this node's head.
    #[error("finalized block {height} does not extend the head {head}")]
    NotOnHead {
        /// Its height.
        height: u64,
        /// The head's.
        head: u64,
    },
    /// The finalized payload is not the block this node executed for it.
    #[error("finalized block {height}'s payload is not the executed block")]
    PayloadMismatch {
        /// Its height.
        height: u64,
    },
    /// The batch signature check answered fewer transactions than given
    /// (a bug).
    #[error("the signature check lost a transaction")]
    LostTransaction,
    /// A test hook stopped the node here (test builds only).
    #[error("simulated crash before committing block {height}")]
    SimulatedCrash {
        /// The block not committed.
        height: u64,
    },
}

/// A sync request that failed: to whom, and why.
#[derive(Debug, thiserror::Error)]
#[error("sync from {peer}: {reason}")]
pub struct SyncError {
    /// The peer asked.
    pub peer: libp2p::PeerId,
    /// What failed.
    pub reason: SyncFailure,
}

impl ExecError {
    /// A failed sync request to `peer`.
    pub fn sync(peer: libp2p::PeerId, reason: impl Into<SyncFailure>) -> Self {
        Self::Sync(Box::new(SyncError {
            peer,
            reason: reason.into(),
        }))
    }
}

/// Why a sync request failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncFailure {
    /// No answer within the sync timeout.
    #[error("no answer in time")]
    Timeout,
    /// The network failed the request.
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
}

/// What makes a block invalid: each is the fault of its proposer, or of
/// the peer that sent it.
#[derive(Debug, thiserror::Error)]
pub enum InvalidBlock {
    /// A transaction cannot be encoded to compute its id.
    #[error("transaction {index} cannot be encoded: {error}")]
    Unencodable {
        /// Its position in the block.
        index: usize,
        /// Why.
        error: EncodeError,
    },
    /// A signature does not verify.
    #[error(transparent)]
    Signature(#[from] BatchVerifyError),
    /// The header does not fit the parent state (height, epoch, time,
    /// proposer).
    #[error(transparent)]
    Header(BlockError),
    /// A transaction the ledger rejects (not merely fails).
    #[error("transaction {index}: {rejection}")]
    Rejected {
        /// Its position in the block.
        index: usize,
        /// Why.
        rejection: Rejection,
    },
    /// The header's `tx_root` is not the root of the block's transactions.
    #[error("tx_root does not match the transactions")]
    TxRoot,
    /// Executing the block gives another state root than the header's.
    #[error("state root {computed} after execution, the header says {header}")]
    StateRoot {
        /// What execution gave.
        computed: Hash,
        /// What the header says.
        header: Hash,
    },
    /// The block's data does not match its proposal's parent or height.
    #[error("the block does not match its proposal's parent or height")]
    NotItsProposal,
    /// The block's data is not known here.
    #[error("unknown block {}", hex::encode(.0 .0))]
    Unknown(BlockId),
    /// A block was finalized whose data never arrived.
    #[error("the data of finalized block {height} never arrived")]
    DataMissing {
        /// Its height.
        height: u64,
    },
    /// A sync answer is not a list of stored blocks.
    #[error("malformed sync answer")]
    MalformedSyncAnswer,
    /// A synced stored block does not decode.
    #[error("a synced stored block does not decode")]
    StoredBlock,
    /// A synced block's body does not decode.
    #[error("block: {0}")]
    Body(#[from] DecodeError),
    /// A synced block's proposal or certificate does not decode.
    #[error("{what}: {error}")]
    Consensus {
        /// Which part.
        what: &'static str,
        /// Why.
        error: CodecError,
    },
    /// A synced block is not the payload its proposal names.
    #[error("block {height} is not the payload of its header")]
    NotPayload {
        /// Its height.
        height: u64,
    },
}

impl From<BlockError> for ExecError {
    /// The state failing is this node's problem; the rest is the header's.
    fn from(e: BlockError) -> Self {
        match e {
            BlockError::State(e) => Self::State(e),
            other => Self::Invalid(InvalidBlock::Header(other)),
        }
    }
}

/// The PROPOSED column's value: parent consensus id ‖ block wire bytes.
pub fn proposed_value(parent: &BlockId, block: &Block) -> Result<Vec<u8>, ExecError> {
    let mut out = parent.0.to_vec();
    out.extend_from_slice(&block.to_bytes()?);
    Ok(out)
}

/// Reads a PROPOSED value.
pub fn parse_proposed(bytes: &[u8]) -> Result<(BlockId, Block), ExecError> {
    let parent: [u8; 32] = bytes
        .get(..32)
        .and_then(|b| b.try_into().ok())
        .ok_or(ExecError::CorruptRecord("proposed block"))?;
    let block = Block::from_bytes(bytes.get(32..).unwrap_or_default())
        .map_err(|_| ExecError::CorruptRecord("proposed block"))?;
    Ok((BlockId(parent), block))
}

/// What the executor needs of a block's header.
fn context(header: &BlockHeader) -> BlockContext {
    BlockContext {
        height: header.height,
        epoch: header.epoch,
        proposer: header.proposer,
        timestamp_ms: header.timestamp_ms,
        beacon_seed: header.beacon_seed(),
    }
}

/// A block built on its parent's state, not yet proposed.
#[derive(Debug)]
pub struct Built {
    /// The block, its roots filled in.
    pub block: Block,
    /// One per transaction.
    pub receipts: Vec<Receipt>,
    /// Its writes and state root.
    pub output: BlockOutput,
    /// Candidates left out that can never be included (a used nonce,
    /// another chain, a fee below the minimum): the mempool drops them.
    pub dropped: Vec<Hash>,
    /// Time spent applying storage-proof transactions, if any.
    pub proofs: Option<Duration>,
}

/// Builds a block on `store` (its parent's state) from `header` (all but
/// its roots) and the mempool's `candidates`, in order: each candidate
/// the ledger rejects is left out (and listed in [`Built::dropped`] when
/// it can never be included); then the transaction and state roots are
/// set. The block is valid by construction: [`reexecute`] on the same
/// state accepts it.
pub fn build<S: StateStore>(
    store: &S,
    mut header: BlockHeader,
    candidates: Vec<VerifiedTx>,
) -> Result<Built, ExecError> {
    let mut executor = BlockExecutor::begin(store, context(&header))?;
    let mut txs = Vec::with_capacity(candidates.len());
    let mut receipts = Vec::with_capacity(candidates.len());
    let mut dropped = Vec::new();
    let mut proofs = None;
    for vtx in candidates {
        match proof_time(&vtx, &mut proofs, || executor.apply(&vtx)) {
            Ok(receipt) => {
                receipts.push(receipt);
                txs.push(vtx);
            }
            Err(ApplyError::Rejected(reason)) => {
                let permanent = match &reason {
                    Rejection::BadNonce { expected, found } => found < expected,
                    Rejection::WrongChain { .. }
                    | Rejection::FeeTooLow { .. }
                    | Rejection::NonceExhausted { .. } => true,
                    Rejection::UnknownSender { .. } | Rejection::CannotPayFee { .. } => false,
                };
                tracing::debug!(tx = %vtx.id(), %reason, permanent, "chain.build: transaction left out");
                if permanent {
                    dropped.push(vtx.id());
                }
            }
            Err(ApplyError::State(e)) => return Err(e.into()),
        }
    }
    let output = executor.finish()?;
    let ids: Vec<Hash> = txs.iter().map(VerifiedTx::id).collect();
    header.tx_root = tx_root(&ids);
    header.state_root = output.state_root;
    Ok(Built {
        block: Block {
            header,
            txs: txs.into_iter().map(VerifiedTx::into_inner).collect(),
        },
        receipts,
        output,
        dropped,
        proofs,
    })
}

/// Re-executes `block` on `store` (its parent's state): signatures, every
/// transaction included (none rejected), tx root and state root as the
/// header says.
///
/// `known` answers transactions whose signature this node already checked
/// (its mempool's), by id; only the others are verified, in one batch.
///
/// Also returns the time spent applying the block's storage-proof
/// transactions, if it has any ([`proof_time`]).
pub fn reexecute<S: StateStore>(
    store: &S,
    block: &Block,
    known: impl Fn(&Hash) -> Option<VerifiedTx>,
) -> Result<(Vec<Receipt>, BlockOutput, Option<Duration>), ExecError> {
    let header = &block.header;
    let mut slots: Vec<Option<VerifiedTx>> = Vec::with_capacity(block.txs.len());
    let mut unknown = Vec::new();
    for (index, tx) in block.txs.iter().enumerate() {
        let id = tx
            .id()
            .map_err(|error| InvalidBlock::Unencodable { index, error })?;
        let hit = known(&id).filter(|v| v.tx() == tx);
        if hit.is_none() {
            unknown.push(tx.clone());
        }
        slots.push(hit);
    }
    let mut checked = sherd_ledger::verify_batch(unknown)
        .map_err(InvalidBlock::from)?
        .into_iter();
    let txs: Vec<VerifiedTx> = slots
        .into_iter()
        .map(|slot| slot.or_else(|| checked.next()))
        .collect::<Option<_>>()
        .ok_or(ExecError::LostTransaction)?;
    let mut executor = BlockExecutor::begin(store, context(header))?;
    let mut receipts = Vec::with_capacity(txs.len());
    let mut proofs = None;
    for (index, tx) in txs.iter().enumerate() {
        let applied = proof_time(tx, &mut proofs, || executor.apply(tx));
        match applied {
            Ok(receipt) => receipts.push(receipt),
            Err(ApplyError::Rejected(rejection)) => {
                return Err(InvalidBlock::Rejected { index, rejection }.into())
            }
            Err(ApplyError::State(e)) => return Err(e.into()),
        }
    }
    let output = executor.finish()?;
    let ids: Vec<Hash> = txs.iter().map(VerifiedTx::id).collect();
    if tx_root(&ids) != header.tx_root {
        return Err(InvalidBlock::TxRoot.into());
    }
    if output.state_root != header.state_root {
        return Err(InvalidBlock::StateRoot {
            computed: output.state_root,
            header: header.state_root,
        }
        .into());
    }
    Ok((receipts, output, proofs))
}

/// Runs `apply` (applying `tx`), adding the time it took to `total` when
/// `tx` submits storage proofs: the ledger checks the proofs as it applies
/// the transaction, so this is the block's proof verification as the node
/// can see it (with the payouts the proofs make).
pub fn proof_time<T>(
    tx: &VerifiedTx,
    total: &mut Option<Duration>,
    apply: impl FnOnce() -> T,
) -> T {
    if !matches!(tx.tx().body.kind, TxKind::SubmitProofs(_)) {
        return apply();
    }
    let started = Instant::now();
    let out = apply();
    let spent = total.get_or_insert(Duration::ZERO);
    *spent = spent.saturating_add(started.elapsed());
    out
}

/// Addresses whose history a transaction belongs to: its sender and, for
/// a transfer, the recipient.
pub fn parties(tx: &sherd_ledger::Transaction) -> Vec<[u8; 32]> {
    let mut out = vec![tx.body.sender.0];
    if let TxKind::Transfer(t) = &tx.body.kind {
        if t.to != tx.body.sender {
            out.push(t.to.0);
        }
    }
    out
}

/// Every write of a final block: state changes, block, id and transaction
/// indexes, head, and the removal of its proposal record. `extra` is
/// appended (journal pruning, epoch info). The account index follows in a
/// commit of its own ([`crate::indexer`]).
pub fn finalize_ops(
    executed: &Executed,
    proposal: &Proposal,
    certificate: &Certificate,
    beacon: [u8; 32],
    extra: Vec<Op>,
) -> Result<(Vec<Op>, Head), ExecError> {
    let block = &executed.block;
    let header = &block.header;
    let height = header.height;
    let mut ops: Vec<Op> = NodeDb::state_ops(executed.output.changes.clone()).collect();
    let stored = StoredBlock {
        block: block.to_bytes()?,
        proposal: proposal.encode(),
        certificate: certificate.encode(),
        beacon,
    };
    ops.push((
        col::BLOCKS,
        height.to_be_bytes().to_vec(),
        Some(stored.to_bytes()),
    ));
    ops.push((
        col::BLOCK_IDS,
        executed.id.0.to_vec(),
        Some(height.to_be_bytes().to_vec()),
    ));
    for (receipt, index) in executed.receipts.iter().zip(0u32..) {
        let location = TxLocation {
            height,
            index,
            failure: match &receipt.outcome {
                Outcome::Success => None,
                Outcome::Failed(reason) => Some(reason.to_string()),
            },
            proofs: receipt
                .proofs
                .iter()
                .map(|v| match &v.result {
                    Ok(paid) => crate::store::ProofOutcome::Accepted {
                        escrow: paid.escrow.0,
                        reward: paid.reward.0,
                    },
                    Err(why) => crate::store::ProofOutcome::Refused(why.to_string()),
                })
                .collect(),
        };
        ops.push((
            col::TXS,
            receipt.tx_id.0.to_vec(),
            Some(location.to_bytes()),
        ));
    }
    let head = Head {
        height,
        block_id: executed.id,
        state_root: executed.output.state_root,
        view: proposal.view,
        consensus_id: proposal.id().0,
        beacon,
        timestamp_ms: header.timestamp_ms,
    };
    ops.push((col::META, meta::HEAD.to_vec(), Some(head.to_bytes())));
    ops.push((col::PROPOSED, executed.consensus_id.0.to_vec(), None));
    ops.extend(extra);
    Ok((ops, head))
}
