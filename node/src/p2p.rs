//! Wiring the network task to the node: consensus gossip to and from the
//! actor, transactions to and from the mempool, and the gossip verdicts.
//!
//! A consensus message is forwarded by gossipsub only once it decodes
//! ([`ConsensusGossip::decode`]); the engine then checks its signatures. A
//! transaction is forwarded only once the mempool admitted it (signature,
//! chain, nonce, fee); one that does not decode or whose signature fails
//! lowers its sender's score, one that is merely stale (a replay, a full
//! mempool) is dropped quietly.

use std::sync::Arc;

use sherd_ledger::Transaction;
use tokio::sync::{mpsc, watch};

use crate::actor::ActorNet;
use crate::gossip::{encode_blocks, ConsensusGossip, SyncRequest, MAX_SYNC_BLOCKS, MAX_SYNC_BYTES};
use crate::net::{self, NetConfig, NetEvent, Topic, Verdict};
use crate::shared::Shared;
use crate::store::col;

/// Consensus messages waiting for the actor, at most.
const INBOUND_CAPACITY: usize = 4_096;
/// Gossiped transactions verified together, at most.
const TX_BATCH: usize = 256;
/// How long a gossiped transaction may wait for its batch.
const TX_BATCH_WAIT: std::time::Duration = std::time::Duration::from_millis(3);

/// Starts libp2p and the task that routes between it, the actor and the
/// mempool; answers the actor's side.
pub async fn start(
    config: NetConfig,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<ActorNet> {
    let (handle, mut events) = net::start(config).await?;
    let sync_handle = handle.clone();
    tracing::info!(peer_id = %handle.peer_id(), "net.start: libp2p running");
    let (outbound, mut consensus_out) = mpsc::unbounded_channel::<Vec<u8>>();
    let (inbound_tx, inbound) = mpsc::channel(INBOUND_CAPACITY);
    let (tx_gossip, mut txs_out) = mpsc::unbounded_channel::<Vec<u8>>();
    let _ = shared.tx_gossip.set(tx_gossip);
    tokio::spawn(async move {
        let mut batch: Vec<PendingTx> = Vec::new();
        let mut flush_at = tokio::time::Instant::now();
        loop {
            let flush = async {
                if batch.is_empty() {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep_until(flush_at).await;
            };
            tokio::select! {
                _ = flush => {
                    admit_batch(&handle, &shared, std::mem::take(&mut batch)).await;
                }
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        return;
                    }
                }
                Some(bytes) = consensus_out.recv() => {
                    if let Err(e) = handle.publish(Topic::Consensus, bytes).await {
                        tracing::debug!(error = %e, "net.publish: consensus message not sent");
                    }
                }
                Some(bytes) = txs_out.recv() => {
                    if let Err(e) = handle.publish(Topic::Transactions, bytes).await {
                        tracing::debug!(error = %e, "net.publish: transaction not sent");
                    }
                }
                event = events.recv() => {
                    let Some(event) = event else {
                        tracing::error!("net: the libp2p task stopped");
                        return;
                    };
                    route(&handle, &shared, &inbound_tx, (&mut batch, &mut flush_at), event).await;
                }
            }
        }
    });
    Ok(ActorNet {
        outbound,
        inbound,
        handle: sync_handle,
    })
}

/// Gossiped transactions waiting for their signature check, and when the
/// batch is due.
type TxBatch<'a> = (&'a mut Vec<PendingTx>, &'a mut tokio::time::Instant);

async fn route(
    handle: &net::NetHandle,
    shared: &Shared,
    inbound: &mpsc::Sender<ConsensusGossip>,
    (batch, flush_at): TxBatch<'_>,
    event: NetEvent,
) {
    match event {
        NetEvent::Gossip {
            topic: Topic::Consensus,
            data,
            source,
            id,
        } => {
            let verdict = match ConsensusGossip::decode(&data) {
                Ok(gossip) => match inbound.try_send(gossip) {
                    Ok(()) => Verdict::Accept,
                    Err(_) => Verdict::Ignore,
                },
                Err(e) => {
                    tracing::debug!(peer = %source, error = %e, "net.gossip: bad consensus message");
                    Verdict::Reject
                }
            };
            let _ = handle.validate(id, source, verdict).await;
        }
        NetEvent::Gossip {
            topic: Topic::Transactions,
            data,
            source,
            id,
        } => match Transaction::from_bytes(&data) {
            Ok(tx) => {
                if batch.is_empty() {
                    *flush_at = tokio::time::Instant::now() + TX_BATCH_WAIT;
                }
                batch.push(PendingTx { tx, source, id });
                if batch.len() >= TX_BATCH {
                    admit_batch(handle, shared, std::mem::take(batch)).await;
                }
            }
            Err(_) => {
                let _ = handle.validate(id, source, Verdict::Reject).await;
            }
        },
        NetEvent::Request {
            peer,
            request,
            reply,
        } => {
            let answer = match SyncRequest::decode(&request) {
                Some(SyncRequest::Status) => {
                    Some(shared.committed_status().head.height.to_le_bytes().to_vec())
                }
                Some(SyncRequest::Blocks { from, max }) => Some(blocks_from(shared, from, max)),
                None => None,
            };
            match answer {
                Some(answer) => {
                    let _ = handle.respond(reply, answer).await;
                }
                None => {
                    tracing::debug!(%peer, "net.sync: malformed request");
                    let _ = handle.penalize(peer).await;
                }
            }
        }
        NetEvent::Connected(peer) => tracing::info!(%peer, "net.peer: connected"),
        NetEvent::Disconnected(peer) => tracing::info!(%peer, "net.peer: disconnected"),
        NetEvent::Listening(addr) => tracing::info!(%addr, "net.listen: listening"),
    }
}

/// Stored finalized blocks from `from`, within the answer's limits.
fn blocks_from(shared: &Shared, from: u64, max: u32) -> Vec<u8> {
    let mut blocks = Vec::new();
    let mut bytes = 0usize;
    for height in (from..).take(max.min(MAX_SYNC_BLOCKS) as usize) {
        match shared.db.get(col::BLOCKS, &height.to_be_bytes()) {
            Ok(Some(block)) => {
                bytes = bytes.saturating_add(block.len());
                blocks.push(block);
                if bytes >= MAX_SYNC_BYTES {
                    break;
                }
            }
            _ => break,
        }
    }
    encode_blocks(&blocks)
}

/// A gossiped transaction waiting for its batch's signature check.
struct PendingTx {
    tx: Transaction,
    source: libp2p::PeerId,
    id: libp2p::gossipsub::MessageId,
}

/// Verifies a batch of gossiped transactions' signatures together (one
/// ed25519 batch equation; on failure the bad ones are found one by one),
/// admits the valid ones to the mempool and tells gossipsub what to forward.
async fn admit_batch(handle: &net::NetHandle, shared: &Shared, batch: Vec<PendingTx>) {
    if batch.is_empty() {
        return;
    }
    let verified: Vec<Option<sherd_ledger::VerifiedTx>> =
        match sherd_ledger::verify_batch(batch.iter().map(|p| p.tx.clone()).collect()) {
            Ok(all) => all.into_iter().map(Some).collect(),
            Err(_) => batch
                .iter()
                .map(|p| sherd_ledger::verify(p.tx.clone()).ok())
                .collect(),
        };
    for (pending, vtx) in batch.into_iter().zip(verified) {
        let verdict = match vtx {
            None => Verdict::Reject,
            Some(vtx) => match crate::api::admit_verified(shared, vtx) {
                Ok(_) => Verdict::Accept,
                Err(_) => Verdict::Ignore,
            },
        };
        let _ = handle.validate(pending.id, pending.source, verdict).await;
    }
}
