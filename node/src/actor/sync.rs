//! Block sync: a node that is behind (restarted, or it missed blocks)
//! fetches finalized blocks from a peer and applies them.
//!
//! Nothing a peer sends is trusted. For each answer, from the last block
//! back: a block is accepted if its own finalization certificate verifies
//! against the validator set of its epoch, *as this node derived it* from
//! the blocks it executed; or if the next accepted block names it as its
//! parent (a block finalized by a descendant's certificate). Accepted
//! blocks are then re-executed in order and committed exactly like a block
//! this node saw finalized (`on_finalized`), which also checks that each
//! extends the head and that its state root matches. A peer whose answer
//! does not verify or does not decode is penalized. After catching up the
//! engine is rebuilt on the new head.

use std::time::{Duration, Instant};

use libp2p::PeerId;
use sherd_consensus::engine::Proposal;
use sherd_consensus::{sync::verify_finalized, Certificate, Wire};
use sherd_ledger::{Block, StateView};

use super::{validator_set, Actor};
use crate::exec::{self, ExecError, InvalidBlock, SyncFailure};
use crate::gossip::{decode_blocks, SyncRequest, MAX_SYNC_BLOCKS};
use crate::store::{col, StoredBlock};

/// With peers and no new final block for this long, ask them whether they
/// are ahead.
pub const STALL: Duration = Duration::from_secs(6);
/// How long a starting node waits for its first peer before it syncs.
const FIRST_PEER: Duration = Duration::from_secs(3);
/// How long a peer may take to say its height (peers are asked together).
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);
/// How soon a node whose epoch ended without its last block asks again.
const RETRY_ENDED_EPOCH: Duration = Duration::from_millis(500);
/// How long a peer may take to send a batch of blocks.
const BLOCKS_TIMEOUT: Duration = Duration::from_secs(15);

/// One block of a sync answer, decoded.
struct Synced {
    proposal: Proposal,
    certificate: Certificate,
    beacon: [u8; 32],
    proposed: Vec<u8>,
}

impl Actor {
    /// Fetches and applies finalized blocks while a peer is ahead. At
    /// start (`starting`) it first waits briefly for a peer.
    pub(super) async fn catch_up(&mut self, starting: bool) {
        let Some(handle) = self.net.as_ref().map(|n| n.handle.clone()) else {
            return;
        };
        if starting {
            let deadline = Instant::now() + FIRST_PEER;
            while Instant::now() < deadline {
                if handle.peers().await.map(|p| !p.is_empty()).unwrap_or(false) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let before = self.head.height;
        // Peers that failed this round (a bad or empty answer, a timeout):
        // the next best is asked instead, so one peer that claims to be
        // ahead and sends nothing usable cannot hold the node back.
        let mut failed = std::collections::HashSet::new();
        loop {
            let Some((peer, target)) = self.best_peer(&handle, &failed).await else {
                break;
            };
            if target <= self.head.height {
                break;
            }
            self.shared.update_status(|s| s.catching_up = true);
            tracing::info!(%peer, from = self.head.height, to = target, "sync: fetching finalized blocks");
            match self.fetch_and_apply(&handle, peer).await {
                Ok(0) | Err(_) => {
                    failed.insert(peer);
                }
                Ok(_) => {}
            }
        }
        self.shared.update_status(|s| s.catching_up = false);
        if self.head.height > before {
            tracing::info!(from = before, to = self.head.height, "sync: caught up");
            self.restart_engine();
        } else if self.engine.is_none() && self.fatal.is_none() {
            // Waiting for an ended epoch's last block that no peer sent this
            // round (they may still be committing it): ask again shortly.
            if let Some(soon) = Instant::now().checked_sub(STALL - RETRY_ENDED_EPOCH) {
                self.last_progress = soon;
            }
        }
    }

    /// The connected peer with the highest finalized height, but for `skip`.
    async fn best_peer(
        &self,
        handle: &crate::net::NetHandle,
        skip: &std::collections::HashSet<PeerId>,
    ) -> Option<(PeerId, u64)> {
        let mut peers = handle.peers().await.ok()?;
        peers.retain(|p| !skip.contains(p));
        // Asked together, each with a deadline: a peer that never answers
        // cannot hold the node up.
        let answers = futures::future::join_all(peers.into_iter().map(|peer| async move {
            let answer = tokio::time::timeout(
                STATUS_TIMEOUT,
                handle.request(peer, SyncRequest::Status.encode()),
            )
            .await;
            (peer, answer)
        }))
        .await;
        let mut best: Option<(PeerId, u64)> = None;
        for (peer, answer) in answers {
            let Ok(Ok(answer)) = answer else {
                continue;
            };
            let Some(height) = answer.try_into().ok().map(u64::from_le_bytes) else {
                let _ = handle.penalize(peer).await;
                continue;
            };
            if best.is_none_or(|(_, h)| height > h) {
                best = Some((peer, height));
            }
        }
        best
    }

    /// One request; answers how many blocks were applied.
    async fn fetch_and_apply(
        &mut self,
        handle: &crate::net::NetHandle,
        peer: PeerId,
    ) -> Result<usize, ExecError> {
        let request = SyncRequest::Blocks {
            from: self.head.height.saturating_add(1),
            max: MAX_SYNC_BLOCKS,
        };
        let answer = tokio::time::timeout(BLOCKS_TIMEOUT, handle.request(peer, request.encode()))
            .await
            .map_err(|_| ExecError::sync(peer, SyncFailure::Timeout))?
            .map_err(|e| ExecError::sync(peer, e))?;
        let blocks = match decode_blocks(&answer).map(|b| self.decode_synced(&b)) {
            Some(Ok(blocks)) => blocks,
            Some(Err(e)) => {
                tracing::warn!(%peer, error = %e, "sync: peer sent blocks that do not decode");
                let _ = handle.penalize(peer).await;
                return Err(e);
            }
            None => {
                let _ = handle.penalize(peer).await;
                return Err(InvalidBlock::MalformedSyncAnswer.into());
            }
        };
        let accepted = self.accepted_prefix(&blocks);
        if accepted == 0 && !blocks.is_empty() {
            tracing::warn!(%peer, "sync: no block of the answer is provably final");
            let _ = handle.penalize(peer).await;
            return Ok(0);
        }
        let mut applied = 0;
        for synced in blocks.into_iter().take(accepted) {
            let id = synced.proposal.id();
            self.shared
                .db
                .commit(vec![(col::PROPOSED, id.0.to_vec(), Some(synced.proposed))])?;
            if let Err(e) = self.on_finalized(&synced.proposal, &synced.certificate, synced.beacon)
            {
                tracing::warn!(%peer, height = synced.proposal.height, error = %e, "sync: block refused");
                let _ = handle.penalize(peer).await;
                let _ = self
                    .shared
                    .db
                    .commit(vec![(col::PROPOSED, id.0.to_vec(), None)]);
                return Err(e);
            }
            applied += 1;
            self.shared.metrics.sync_blocks_applied.inc();
        }
        Ok(applied)
    }

    fn decode_synced(&self, blocks: &[Vec<u8>]) -> Result<Vec<Synced>, ExecError> {
        let consensus = |what| move |error| InvalidBlock::Consensus { what, error };
        blocks
            .iter()
            .map(|bytes| {
                let stored = StoredBlock::from_bytes(bytes).ok_or(InvalidBlock::StoredBlock)?;
                let block = Block::from_bytes(&stored.block).map_err(InvalidBlock::from)?;
                let proposal = Proposal::decode(&stored.proposal).map_err(consensus("header"))?;
                let certificate =
                    Certificate::decode(&stored.certificate).map_err(consensus("certificate"))?;
                let id = block
                    .header
                    .id()
                    .map_err(|error| InvalidBlock::Unencodable { index: 0, error })?;
                if id.0 != proposal.payload {
                    return Err(InvalidBlock::NotPayload {
                        height: proposal.height,
                    }
                    .into());
                }
                Ok(Synced {
                    proposed: exec::proposed_value(&proposal.parent, &block)?,
                    proposal,
                    certificate,
                    beacon: stored.beacon,
                })
            })
            .collect()
    }

    /// How many blocks from the start of `blocks` are provably final and
    /// extend the head (see the module docs).
    fn accepted_prefix(&self, blocks: &[Synced]) -> usize {
        let mut proven = vec![false; blocks.len()];
        let state = self.shared.db.state();
        let view = StateView::new(&state);
        for i in (0..blocks.len()).rev() {
            let Some(synced) = blocks.get(i) else {
                continue;
            };
            let by_child = blocks
                .get(i + 1)
                .zip(proven.get(i + 1))
                .is_some_and(|(child, ok)| *ok && child.proposal.parent == synced.proposal.id());
            let own = synced.certificate.block_id() == Some(synced.proposal.id())
                && view
                    .epoch_set(synced.proposal.epoch)
                    .ok()
                    .flatten()
                    .and_then(|set| validator_set(&set).ok())
                    .is_some_and(|set| {
                        verify_finalized(
                            &self.consensus_chain,
                            &set,
                            &synced.proposal,
                            &synced.certificate,
                        )
                        .is_ok()
                    });
            if let Some(slot) = proven.get_mut(i) {
                *slot = by_child || own;
            }
        }
        let mut parent = self.head.consensus_id;
        let mut count = 0;
        for (synced, ok) in blocks.iter().zip(&proven) {
            if !ok || synced.proposal.parent.0 != parent {
                break;
            }
            parent = synced.proposal.id().0;
            count += 1;
        }
        count
    }

    /// A new engine on the current head, after blocks were applied outside it.
    fn restart_engine(&mut self) {
        if let Err(e) = self.install_engine() {
            self.fatal = Some(format!("cannot restart consensus after sync: {e}"));
        }
    }
}
