//! Admission: the one way a transaction enters this node's mempool,
//! whether it came by the API, by gossip or from the node's own duties.
//!
//! The checks, in order: the signature ([`admit`] checks it; a caller
//! that checked a batch at once calls [`admit_verified`]); a replay of a
//! final transaction (its nonce is used up and its id is in the
//! transaction index); then the mempool's own (chain, nonce, fee, funds,
//! room: [`MempoolError`]). Each refusal is an [`AdmitError`] variant, and
//! the API maps them to its status codes in one place.

use sherd_ledger::state::StateError;
use sherd_ledger::{Hash, SignError, StateView, Transaction, VerifiedTx, VerifyError};

use crate::mempool::MempoolError;
use crate::shared::Shared;
use crate::store::{col, DbError, TxLocation};

/// Why a transaction was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    /// It does not verify: malformed, or its signature is wrong.
    #[error("{0}")]
    BadSignature(#[from] VerifyError),
    /// It is final already.
    #[error("transaction {id} is already final at height {height} (a replay)")]
    Replay {
        /// Its id.
        id: Hash,
        /// The height of the block that holds it.
        height: u64,
    },
    /// The mempool refused it (see [`MempoolError`]); `Full` is the only
    /// refusal that is not the transaction's fault.
    #[error(transparent)]
    Mempool(#[from] MempoolError),
    /// The node could not read its state or its database: not the
    /// transaction's fault.
    #[error("cannot read the state: {0}")]
    State(#[from] StateError),
    /// The node could not read its transaction index.
    #[error("cannot read the transaction index: {0}")]
    Db(#[from] DbError),
    /// The node could not sign its own transaction.
    #[error("cannot sign the transaction: {0}")]
    Sign(#[from] SignError),
}

/// Checks `tx`'s signature and admits it ([`admit_verified`], gossiped).
pub fn admit(shared: &Shared, tx: Transaction) -> Result<Hash, AdmitError> {
    let vtx = sherd_ledger::verify(tx)?;
    admit_verified(shared, vtx, true)
}

/// Admits a transaction whose signature is checked; gossips it when the
/// node is networked and `gossip` (not for one that came by gossip).
/// Every refusal counts in `sherd_txs_rejected_total`.
pub fn admit_verified(shared: &Shared, vtx: VerifiedTx, gossip: bool) -> Result<Hash, AdmitError> {
    let result = check_and_insert(shared, vtx, gossip);
    if result.is_err() {
        shared.metrics.txs_rejected.inc();
    }
    result
}

fn check_and_insert(shared: &Shared, vtx: VerifiedTx, gossip: bool) -> Result<Hash, AdmitError> {
    let state = shared.db.state();
    let sender = vtx.tx().body.sender;
    let account = StateView::new(&state).find_account(&sender)?;
    // A final transaction used up its nonce: only then can it be a replay.
    if account.is_some_and(|a| vtx.tx().body.nonce < a.nonce) {
        if let Some(bytes) = shared.db.get(col::TXS, &vtx.id().0)? {
            let height = TxLocation::from_bytes(&bytes).map_or(0, |l| l.height);
            return Err(AdmitError::Replay {
                id: vtx.id(),
                height,
            });
        }
    }
    // Encoded before the mempool takes it, only when there are peers.
    let wire = shared
        .tx_gossip
        .get()
        .filter(|_| gossip)
        .and_then(|gossip| Some((gossip, vtx.tx().to_bytes().ok()?)));
    let hash = shared.mempool().insert(vtx, &shared.params, account)?;
    shared.mempool_notify.notify_one();
    if let Some((gossip, bytes)) = wire {
        // Full: the mempool announces it again later.
        let _ = gossip.try_send(bytes);
    }
    Ok(hash)
}
