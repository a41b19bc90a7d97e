//! Executing blocks: building one from the mempool, re-executing one to
//! check it, and the block's database writes once it is final.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sherd_consensus::engine::Proposal;
use sherd_consensus::{BlockId, Certificate, Wire};
use sherd_ledger::block::tx_root;
use sherd_ledger::state::{Outcome, Receipt};
use sherd_ledger::{
    ApplyError, Block, BlockContext, BlockExecutor, BlockOutput, Hash, StateStore, TxKind,
    VerifiedTx,
};

use crate::store::{account_tx_key, col, meta, Head, NodeDb, Op, StoredBlock, TxLocation};

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

/// Why a block cannot be executed or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The block is invalid on its parent.
    #[error("block is invalid: {0}")]
    Invalid(String),
    /// The state or database failed.
    #[error("cannot execute: {0}")]
    Internal(String),
}

/// The PROPOSED column's value: parent consensus id ‖ block wire bytes.
pub fn proposed_value(parent: &BlockId, block: &Block) -> Result<Vec<u8>, ExecError> {
    let mut out = parent.0.to_vec();
    out.extend_from_slice(
        &block
            .to_bytes()
            .map_err(|e| ExecError::Internal(e.to_string()))?,
    );
    Ok(out)
}

/// Reads a PROPOSED value.
pub fn parse_proposed(bytes: &[u8]) -> Result<(BlockId, Block), ExecError> {
    let parent: [u8; 32] = bytes
        .get(..32)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ExecError::Internal("proposed block record too short".into()))?;
    let block = Block::from_bytes(bytes.get(32..).unwrap_or_default())
        .map_err(|e| ExecError::Internal(format!("proposed block does not decode: {e}")))?;
    Ok((BlockId(parent), block))
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
    for tx in &block.txs {
        let id = tx.id().map_err(|e| ExecError::Invalid(e.to_string()))?;
        let hit = known(&id).filter(|v| v.tx() == tx);
        if hit.is_none() {
            unknown.push(tx.clone());
        }
        slots.push(hit);
    }
    let mut checked = sherd_ledger::verify_batch(unknown)
        .map_err(|e| ExecError::Invalid(e.to_string()))?
        .into_iter();
    let txs: Vec<VerifiedTx> = slots
        .into_iter()
        .map(|slot| slot.or_else(|| checked.next()))
        .collect::<Option<_>>()
        .ok_or_else(|| ExecError::Internal("signature check lost a transaction".into()))?;
    let ctx = BlockContext {
        height: header.height,
        epoch: header.epoch,
        proposer: header.proposer,
        timestamp_ms: header.timestamp_ms,
        beacon_seed: header.beacon_seed(),
    };
    let mut executor = BlockExecutor::begin(store, ctx).map_err(|e| match e {
        sherd_ledger::BlockError::State(e) => ExecError::Internal(e.to_string()),
        other => ExecError::Invalid(other.to_string()),
    })?;
    let mut receipts = Vec::with_capacity(txs.len());
    let mut proofs = None;
    for (index, tx) in txs.iter().enumerate() {
        let applied = proof_time(tx, &mut proofs, || executor.apply(tx));
        match applied {
            Ok(receipt) => receipts.push(receipt),
            Err(ApplyError::Rejected(r)) => {
                return Err(ExecError::Invalid(format!("transaction {index}: {r}")))
            }
            Err(ApplyError::State(e)) => return Err(ExecError::Internal(e.to_string())),
        }
    }
    let output = executor
        .finish()
        .map_err(|e| ExecError::Internal(e.to_string()))?;
    let ids: Vec<Hash> = txs.iter().map(VerifiedTx::id).collect();
    if tx_root(&ids) != header.tx_root {
        return Err(ExecError::Invalid(
            "tx_root does not match the transactions".into(),
        ));
    }
    if output.state_root != header.state_root {
        return Err(ExecError::Invalid(format!(
            "state root {} after execution, the header says {}",
            output.state_root, header.state_root
        )));
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

/// Every write of a final block: state changes, block, indexes, head,
/// and the removal of its proposal record. `extra` is appended (journal
/// pruning, epoch info).
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
        block: block
            .to_bytes()
            .map_err(|e| ExecError::Internal(e.to_string()))?,
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
    for ((tx, receipt), index) in block.txs.iter().zip(&executed.receipts).zip(0u32..) {
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
        for party in parties(tx) {
            ops.push((
                col::ACCOUNT_TXS,
                account_tx_key(&party, height, index),
                Some(receipt.tx_id.0.to_vec()),
            ));
        }
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
