//! Wiring the network task to the node: consensus gossip to and from the
//! actor, transactions to and from the mempool, and the gossip verdicts.
//!
//! A consensus message that does not decode ([`ConsensusGossip::decode`])
//! is rejected here; one that does goes to the actor with its ticket, and is
//! forwarded by gossipsub only once the engine checked it ([`crate::relay`]).
//! Transactions travel in batches: what this node's API admits within
//! [`TX_GOSSIP_WAIT`] goes out as one message. A received batch is
//! forwarded once the mempool admitted something of it (signature, chain,
//! nonce, fee); one that does not decode or holds a bad signature lowers
//! its sender's score, one that brought nothing new (replays, a full
//! mempool) is dropped quietly.

use std::sync::Arc;
use std::time::Duration;

use sherd_ledger::Transaction;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::actor::ActorNet;
use crate::gossip::{
    decode_txs, encode_blocks, encode_txs, ConsensusGossip, SyncRequest, MAX_GOSSIP_TXS,
    MAX_SYNC_BLOCKS, MAX_SYNC_BYTES,
};
use crate::net::{self, NetConfig, NetEvent, Topic, Verdict};
use crate::shared::Shared;
use crate::store::col;

/// Consensus messages waiting for the actor, at most; when full, a new
/// one is dropped without a verdict (gossipsub forgets it).
const INBOUND_CAPACITY: usize = 4_096;
/// Consensus messages waiting to be published, at most; when full, the
/// actor's message is dropped (counted in the log): the engine sends its
/// votes and certificates again while a view is stuck.
pub const OUTBOUND_CAPACITY: usize = 4_096;
/// Admitted transactions waiting to be gossiped, at most; when full, one
/// is not gossiped now: it stays in the mempool, which announces pending
/// transactions again after [`REANNOUNCE_AFTER`].
pub const TX_GOSSIP_CAPACITY: usize = 16_384;
/// Gossiped transactions verified together, at most.
const TX_BATCH: usize = 1_024;
/// How long a gossiped transaction may wait for its batch.
///
/// Both windows were set by a sweep on fresh 4-validator testnets (Intel
/// Xeon, 2 vCPU; two rounds of 100, 4,500 and 6,000 tx/s offered, windows
/// of 1, 3/4, 10 and 12 ms): under load the batches fill before either
/// window ends, so CPU per transfer (101–103 µs at 4,500/s) and the
/// throughput (5,830–5,900/s at 6,000) did not move; at 100 tx/s each
/// millisecond of window is latency, and 1 ms gave a p50 of 68–71 ms
/// against 74–76 ms for 3 and 4 ms, 79–81 ms for 10. BENCHMARKS.md has
/// the table.
const TX_BATCH_WAIT: Duration = Duration::from_millis(1);
/// How long a transaction admitted here may wait to be published with
/// others in one gossip message (see [`TX_BATCH_WAIT`]).
const TX_GOSSIP_WAIT: Duration = Duration::from_millis(1);
/// Bytes after which a gossip batch is published without waiting.
const TX_GOSSIP_BYTES: usize = 1 << 20;
/// A transaction still pending this long after it was last gossiped is
/// gossiped again (it may have been published before the node had peers).
const REANNOUNCE_AFTER: Duration = Duration::from_secs(4);
/// Most transactions gossiped again per round.
const REANNOUNCE_LIMIT: usize = 1_024;

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
    let (outbound, mut consensus_out) = mpsc::channel::<Vec<u8>>(OUTBOUND_CAPACITY);
    let (inbound_tx, inbound) = mpsc::channel(INBOUND_CAPACITY);
    let (verdicts, mut verdicts_rx) = mpsc::channel(crate::relay::VERDICTS_CAPACITY);
    let (tx_gossip, mut txs_out) = mpsc::channel::<Vec<u8>>(TX_GOSSIP_CAPACITY);
    let _ = shared.tx_gossip.set(tx_gossip);
    tokio::spawn(async move {
        let mut batch = Received::default();
        let mut flush_at = Instant::now();
        let mut outgoing = Outgoing::default();
        let mut reannounce = tokio::time::interval(REANNOUNCE_AFTER);
        loop {
            let flush = async {
                if batch.txs == 0 {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep_until(flush_at).await;
            };
            let publish = async {
                match outgoing.due {
                    Some(due) => tokio::time::sleep_until(due).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = flush => {
                    admit_batch(&handle, &shared, std::mem::take(&mut batch)).await;
                }
                _ = publish => outgoing.publish(&handle, &shared).await,
                _ = reannounce.tick() => {
                    let stale = shared.mempool().reannounce(
                        std::time::Instant::now(),
                        REANNOUNCE_AFTER,
                        REANNOUNCE_LIMIT,
                    );
                    if !stale.is_empty() {
                        tracing::debug!(count = stale.len(), "net.gossip: announcing pending transactions again");
                    }
                    for vtx in stale {
                        if let Ok(bytes) = vtx.tx().to_bytes() {
                            outgoing.push(bytes);
                        }
                    }
                    if !outgoing.txs.is_empty() {
                        outgoing.publish(&handle, &shared).await;
                    }
                }
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        return;
                    }
                }
                Some((ticket, verdict)) = verdicts_rx.recv() => {
                    let crate::relay::Ticket { id, source } = ticket;
                    let _ = handle.validate(id, source, verdict).await;
                }
                Some(bytes) = consensus_out.recv() => {
                    shared.metrics.gossip(true, true, bytes.len());
                    if let Err(e) = handle.publish(Topic::Consensus, bytes).await {
                        tracing::debug!(error = %e, "net.publish: consensus message not sent");
                    }
                }
                Some(bytes) = txs_out.recv() => {
                    outgoing.push(bytes);
                    if outgoing.full() {
                        outgoing.publish(&handle, &shared).await;
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
        relays: crate::relay::Relays::new(verdicts),
        handle: sync_handle,
    })
}

/// Transactions admitted here, waiting to be published together.
#[derive(Default)]
struct Outgoing {
    txs: Vec<Vec<u8>>,
    bytes: usize,
    /// When the batch goes out at the latest.
    due: Option<Instant>,
}

impl Outgoing {
    fn push(&mut self, tx: Vec<u8>) {
        self.due
            .get_or_insert_with(|| Instant::now() + TX_GOSSIP_WAIT);
        self.bytes = self.bytes.saturating_add(tx.len());
        self.txs.push(tx);
    }

    fn full(&self) -> bool {
        self.txs.len() >= MAX_GOSSIP_TXS || self.bytes >= TX_GOSSIP_BYTES
    }

    async fn publish(&mut self, handle: &net::NetHandle, shared: &Shared) {
        self.due = None;
        self.bytes = 0;
        let txs = std::mem::take(&mut self.txs);
        if txs.is_empty() {
            return;
        }
        let count = txs.len();
        let data = encode_txs(&txs);
        shared.metrics.gossip(false, true, data.len());
        if let Err(e) = handle.publish(Topic::Transactions, data).await {
            tracing::debug!(count, error = %e, "net.publish: transactions not sent");
        }
    }
}

/// Gossiped transactions waiting for their signature check, and when the
/// batch is due.
type TxBatch<'a> = (&'a mut Received, &'a mut Instant);

async fn route(
    handle: &net::NetHandle,
    shared: &Shared,
    inbound: &mpsc::Sender<(ConsensusGossip, crate::relay::Ticket)>,
    (batch, flush_at): TxBatch<'_>,
    event: NetEvent,
) {
    if let NetEvent::Gossip { topic, data, .. } = &event {
        shared
            .metrics
            .gossip(*topic == Topic::Consensus, false, data.len());
    }
    match event {
        NetEvent::Gossip {
            topic: Topic::Consensus,
            data,
            source,
            id,
        } => {
            // A copy of a certificate the engine holds is dropped before
            // its points are decoded (not relayed either: this node
            // broadcast its own copy).
            if ConsensusGossip::message_body(&data)
                .is_some_and(|body| shared.held_certificates.holds(body))
            {
                shared.metrics.certificates_skipped.inc();
                let _ = handle.validate(id, source, Verdict::Ignore).await;
                return;
            }
            // The actor gives the verdict of what decodes, once the
            // engine checked it; a full queue drops the message quietly.
            let verdict = match ConsensusGossip::decode(&data) {
                Ok(gossip) => {
                    let ticket = crate::relay::Ticket {
                        id: id.clone(),
                        source,
                    };
                    match inbound.try_send((gossip, ticket)) {
                        Ok(()) => return,
                        Err(_) => Verdict::Ignore,
                    }
                }
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
        } => {
            let txs = decode_txs(&data).and_then(|txs| {
                txs.into_iter()
                    .map(|bytes| Transaction::from_bytes(bytes).ok())
                    .collect::<Option<Vec<_>>>()
            });
            let Some(txs) = txs else {
                tracing::debug!(peer = %source, "net.gossip: malformed transaction batch");
                let _ = handle.validate(id, source, Verdict::Reject).await;
                return;
            };
            if batch.txs == 0 {
                *flush_at = Instant::now() + TX_BATCH_WAIT;
            }
            batch.txs = batch.txs.saturating_add(txs.len());
            batch.messages.push(PendingMessage { txs, source, id });
            if batch.txs >= TX_BATCH {
                admit_batch(handle, shared, std::mem::take(batch)).await;
            }
        }
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
        NetEvent::Deal {
            peer,
            request,
            reply,
        } => match shared.deals.get() {
            Some(deals) => {
                if let Err(mpsc::error::TrySendError::Full((_, _, reply))) =
                    deals.try_send((peer, request, reply))
                {
                    let _ = handle
                        .respond_deal(reply, crate::provider::busy_answer())
                        .await;
                }
            }
            // Not a provider: the request is dropped, which the asker sees
            // as a failed request (the protocol is not even offered).
            None => tracing::debug!(%peer, "net.deal: not a provider"),
        },
        NetEvent::Connected(peer) => {
            shared.metrics.peers.inc();
            tracing::info!(%peer, "net.peer: connected");
        }
        NetEvent::Disconnected(peer) => {
            shared.metrics.peers.dec();
            tracing::info!(%peer, "net.peer: disconnected");
        }
        NetEvent::Listening(addr) => tracing::info!(%addr, "net.listen: listening"),
    }
}

/// Stored finalized blocks from `from`, within the answer's limits, up to
/// the durable head.
fn blocks_from(shared: &Shared, from: u64, max: u32) -> Vec<u8> {
    let mut blocks = Vec::new();
    let mut bytes = 0usize;
    let head = shared.committed_status().head.height;
    for height in (from..=head).take(max.min(MAX_SYNC_BLOCKS) as usize) {
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

/// Gossip messages of transactions waiting for their signature check.
#[derive(Default)]
struct Received {
    messages: Vec<PendingMessage>,
    /// Transactions in them.
    txs: usize,
}

/// A gossip message's transactions, waiting for the batch's signature check.
struct PendingMessage {
    txs: Vec<Transaction>,
    source: libp2p::PeerId,
    id: libp2p::gossipsub::MessageId,
}

/// Verifies the signatures of every transaction in `batch` together (one
/// ed25519 batch equation; on failure the bad ones are found one by one),
/// admits the valid ones to the mempool and tells gossipsub what to do with
/// each message: reject one holding a bad signature (its sender relayed
/// what it should have refused), forward one that brought something new,
/// drop quietly one that brought nothing new (replays, a full mempool).
async fn admit_batch(handle: &net::NetHandle, shared: &Shared, batch: Received) {
    let mut messages = Vec::with_capacity(batch.messages.len());
    let mut all = Vec::with_capacity(batch.txs);
    for message in batch.messages {
        messages.push((message.txs.len(), message.source, message.id));
        all.extend(message.txs);
    }
    let mut verdicts = sherd_ledger::verify_each(all).into_iter();
    for (count, source, id) in messages {
        let mine: Vec<_> = verdicts.by_ref().take(count).collect();
        let verdict = if mine.iter().any(Result::is_err) {
            tracing::debug!(peer = %source, "net.gossip: a transaction with a bad signature");
            Verdict::Reject
        } else {
            let admitted = mine
                .into_iter()
                .flatten()
                .map(|vtx| crate::admission::admit_verified(shared, vtx, false).is_ok())
                .filter(|admitted| *admitted)
                .count();
            if admitted > 0 {
                Verdict::Accept
            } else {
                Verdict::Ignore
            }
        };
        let _ = handle.validate(id, source, verdict).await;
    }
}
