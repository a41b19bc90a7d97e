//! What a validator's node does on chain by itself, signed with its
//! operator key (`validator.key`, when the home has one):
//!
//! * registers its endpoint (`RegisterEndpoint`: role validator, its libp2p
//!   peer id and listen addresses) when the chain does not hold it yet or
//!   holds another, so others find a principal's peer from the ledger;
//! * turns equivocation seen on the wire (two conflicting signed votes, from
//!   the consensus engine) into an `Evidence` transaction.
//!
//! Each goes through the mempool like any transaction (and is gossiped).

/// Pieces of evidence waiting for the duty, at most. Each validator is
/// reported once per view it equivocates in, so this holds a burst of a
/// hundred equivocators over a few views; beyond it the actor logs an
/// error and drops the piece (the equivocator will be caught at its next
/// conflicting vote).
pub const EVIDENCE_CAPACITY: usize = 256;

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use sherd_ledger::tx::kind::{Evidence, Multiaddr, RegisterEndpoint, Role};
use sherd_ledger::{Address, StateView, TxBody, TxKind};
use tokio::sync::{mpsc, watch};

use crate::admission::AdmitError;
use crate::shared::Shared;

/// Signs `kind` with `key` at the sender's next free nonce (after its
/// transactions already in the mempool), offering the chain's minimum fee,
/// and admits it to the mempool (and gossip). The one way the node signs
/// its own transactions: the faucet, the duties here, and a provider's
/// advertisements and proofs.
pub(crate) fn sign_and_submit(
    shared: &Shared,
    key: &SigningKey,
    kind: TxKind,
) -> Result<sherd_ledger::Hash, AdmitError> {
    let sender = Address::from(&key.verifying_key());
    // One signer at a time per node: two tasks signing for one key must not
    // pick the same nonce.
    static SIGNING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = SIGNING.lock().unwrap_or_else(|p| p.into_inner());
    let state = shared.db.state();
    let mut nonce = StateView::new(&state).account(&sender)?.nonce;
    {
        let pool = shared.mempool();
        while pool.has_nonce(&sender, nonce) {
            nonce = nonce.saturating_add(1);
        }
    }
    let tx = TxBody {
        chain_id: shared.params.chain_id.clone(),
        sender,
        nonce,
        fee: shared.params.min_fee,
        kind,
    }
    .sign(key)?;
    crate::admission::admit(shared, tx)
}

/// Starts the duties task.
pub fn spawn(
    shared: Arc<Shared>,
    key: SigningKey,
    peer_id: Vec<u8>,
    listen: Vec<libp2p::Multiaddr>,
    mut evidence: mpsc::Receiver<Vec<u8>>,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let operator = Address::from(&key.verifying_key());
        let wanted = RegisterEndpoint {
            role: Role::Validator,
            peer_id,
            multiaddrs: listen.iter().map(|a| Multiaddr(a.to_vec())).collect(),
        };
        let mut check = tokio::time::interval(Duration::from_secs(10));
        loop {
            tokio::select! {
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        return;
                    }
                }
                Some(bytes) = evidence.recv() => {
                    match sign_and_submit(&shared, &key, TxKind::Evidence(Evidence { bytes })) {
                        Ok(hash) => tracing::warn!(tx = %hash, "duties.evidence: submitted evidence of equivocation"),
                        Err(e) => tracing::warn!(error = %e, "duties.evidence: evidence not submitted"),
                    }
                }
                _ = check.tick() => {
                    let state = shared.db.state();
                    let view = StateView::new(&state);
                    let registered = view.endpoint(&operator).ok().flatten();
                    let funded = view.has_account(&operator).unwrap_or(false);
                    // One registration at a time: wait for a pending one.
                    let pending = view
                        .account(&operator)
                        .is_ok_and(|a| shared.mempool().has_nonce(&operator, a.nonce));
                    let current = pending || registered.is_some_and(|e| {
                        e.role == wanted.role && e.peer_id == wanted.peer_id && e.multiaddrs == wanted.multiaddrs
                    });
                    if !current && funded {
                        match sign_and_submit(&shared, &key, TxKind::RegisterEndpoint(wanted.clone())) {
                            Ok(hash) => tracing::info!(tx = %hash, "duties.endpoint: registering this node's endpoint"),
                            Err(e) => tracing::debug!(error = %e, "duties.endpoint: not submitted"),
                        }
                    }
                }
            }
        }
    });
}
