//! Which consensus gossip this node relays, and whose fault a bad message is.
//!
//! gossipsub holds every consensus message it receives until the node gives
//! it a [`Verdict`]: `Accept` forwards it to the mesh, `Reject` drops it and
//! lowers the score of the peer that delivered it, `Ignore` drops it
//! quietly. The checker is the consensus engine itself (no signature is
//! checked twice): the network task hands each decoded message to the actor
//! with its [`Ticket`], and the actor turns the engine's
//! [`Relay`](sherd_consensus::engine::Relay) into the verdict:
//!
//! | the engine says | verdict |
//! |---|---|
//! | checked in full and new (a proposal with its reveal and vote, a certificate, a wanted header, a vote that proves an equivocation) | `Accept` |
//! | a fault (bad signature, not the leader, a header that does not match, a signer out of range) | `Reject` |
//! | known, stale, own, a fetch, or not checkable yet (another epoch, a view outside the window) | `Ignore` |
//! | a vote past its cheap checks | held here until its aggregate check |
//!
//! A proposed block's data (`ConsensusGossip::Block`) carries no signature
//! of its own: it is held until a checked proposal names it (its payload
//! digest), then relayed; one that does not decode is rejected.
//!
//! Votes are verified in aggregate when a quorum of them is in
//! ([`sherd_consensus::collector`]): checking each on arrival would cost a
//! pairing per vote. A held vote's verdict comes with the engine's
//! `VotesChecked`: `Accept` if its signature verified, `Reject` if not. A
//! vote whose view is decided before it is checked is never relayed; the
//! certificate that decided the view is, and it is what a validator that
//! missed the votes needs.
//!
//! Bounds: at most [`MAX_HELD`] votes are held (the oldest is dropped
//! without a verdict when full: gossipsub forgets it within seconds), and
//! verdicts travel to the network task through a channel of
//! [`VERDICTS_CAPACITY`] (a verdict that does not fit is dropped the same
//! way).

use std::collections::{HashMap, VecDeque};

use libp2p::gossipsub::MessageId;
use libp2p::PeerId;
use sherd_consensus::engine::Relay;
use sherd_consensus::validators::Epoch;
use sherd_consensus::vote::Vote;
use tokio::sync::mpsc;

use crate::net::Verdict;

/// Votes held for their aggregate check, at most.
pub const MAX_HELD: usize = 4_096;
/// Verdicts waiting for the network task, at most.
pub const VERDICTS_CAPACITY: usize = 4_096;

/// A gossip message waiting for its verdict: its id and the peer that
/// delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// gossipsub's id of the message.
    pub id: MessageId,
    /// The peer it came from (not necessarily its author).
    pub source: PeerId,
}

/// A held vote: its epoch, what it votes for, its signer.
type VoteKey = (Epoch, Vote, u32);

/// The actor's side: gives verdicts, holds votes until they are checked.
#[derive(Debug)]
pub struct Relays {
    verdicts: mpsc::Sender<(Ticket, Verdict)>,
    held: HashMap<VoteKey, Vec<Ticket>>,
    order: VecDeque<VoteKey>,
    /// Blocks' data waiting for a checked proposal, by payload digest.
    blocks: HashMap<[u8; 32], Ticket>,
}

impl Relays {
    /// Verdicts go out on `verdicts`.
    pub fn new(verdicts: mpsc::Sender<(Ticket, Verdict)>) -> Self {
        Self {
            verdicts,
            held: HashMap::new(),
            order: VecDeque::new(),
            blocks: HashMap::new(),
        }
    }

    /// The verdict on a message the engine judged `relay`; `vote` is the
    /// message's vote, when it is one (a pending vote is held).
    pub fn judge(&mut self, ticket: Ticket, relay: Relay, vote: Option<VoteKey>) {
        match (relay, vote) {
            (Relay::Verified, _) => self.give(ticket, Verdict::Accept),
            (Relay::Invalid, _) => self.give(ticket, Verdict::Reject),
            (Relay::Pending, Some(key)) => self.hold(key, ticket),
            (Relay::Pending | Relay::Redundant, _) => self.give(ticket, Verdict::Ignore),
        }
    }

    /// Gives the verdict of the held votes for `vote` in `epoch`.
    pub fn checked(&mut self, epoch: Epoch, vote: Vote, valid: &[u32], invalid: &[u32]) {
        for (signers, verdict) in [(valid, Verdict::Accept), (invalid, Verdict::Reject)] {
            for &signer in signers {
                for ticket in self.held.remove(&(epoch, vote, signer)).unwrap_or_default() {
                    self.give(ticket, verdict);
                }
            }
        }
    }

    /// Holds a block's data until a checked proposal names `digest`.
    pub fn hold_block(&mut self, digest: [u8; 32], ticket: Ticket) {
        if self.blocks.len() >= MAX_HELD {
            self.blocks.clear();
        }
        self.blocks.insert(digest, ticket);
    }

    /// A checked proposal named the block `digest`: relay its data.
    pub fn block_named(&mut self, digest: &[u8; 32]) {
        if let Some(ticket) = self.blocks.remove(digest) {
            self.give(ticket, Verdict::Accept);
        }
    }

    /// Gives `verdict` on a message at once.
    pub fn give(&self, ticket: Ticket, verdict: Verdict) {
        if self.verdicts.try_send((ticket, verdict)).is_err() {
            tracing::debug!("net.gossip: verdict dropped (the network task is behind)");
        }
    }

    /// Votes held now.
    pub fn held(&self) -> usize {
        self.held.values().map(Vec::len).sum()
    }

    fn hold(&mut self, key: VoteKey, ticket: Ticket) {
        while self.order.len() >= MAX_HELD {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.held.remove(&oldest);
        }
        let tickets = self.held.entry(key).or_default();
        if tickets.is_empty() {
            self.order.push_back(key);
        }
        tickets.push(ticket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sherd_consensus::vote::BlockId;

    fn ticket(n: u8) -> Ticket {
        Ticket {
            id: MessageId::from(vec![n]),
            source: PeerId::random(),
        }
    }

    fn drain(rx: &mut mpsc::Receiver<(Ticket, Verdict)>) -> Vec<(u8, Verdict)> {
        let mut out = Vec::new();
        while let Ok((ticket, verdict)) = rx.try_recv() {
            out.push((ticket.id.0[0], verdict));
        }
        out
    }

    #[test]
    fn held_votes_get_their_check_s_verdict() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut relays = Relays::new(tx);
        let vote = Vote::Notarize {
            view: 3,
            block_id: BlockId([1; 32]),
        };
        relays.judge(ticket(1), Relay::Verified, None);
        relays.judge(ticket(2), Relay::Invalid, None);
        relays.judge(ticket(3), Relay::Redundant, Some((0, vote, 0)));
        relays.judge(ticket(4), Relay::Pending, Some((0, vote, 1)));
        relays.judge(ticket(5), Relay::Pending, Some((0, vote, 2)));
        relays.judge(ticket(6), Relay::Pending, Some((0, vote, 3)));
        assert_eq!(
            drain(&mut rx),
            [
                (1, Verdict::Accept),
                (2, Verdict::Reject),
                (3, Verdict::Ignore)
            ]
        );
        assert_eq!(relays.held(), 3);
        // Another epoch's check does not touch them.
        relays.checked(1, vote, &[1, 2], &[3]);
        assert!(drain(&mut rx).is_empty());
        relays.checked(0, vote, &[1, 2], &[3]);
        assert_eq!(
            drain(&mut rx),
            [
                (4, Verdict::Accept),
                (5, Verdict::Accept),
                (6, Verdict::Reject)
            ]
        );
        assert_eq!(relays.held(), 0);
    }

    #[test]
    fn the_oldest_vote_goes_when_full() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut relays = Relays::new(tx);
        for view in 0..(MAX_HELD as u64 + 1) {
            let vote = Vote::Nullify { view };
            relays.judge(ticket(0), Relay::Pending, Some((0, vote, 0)));
        }
        assert_eq!(relays.held(), MAX_HELD);
        relays.checked(0, Vote::Nullify { view: 0 }, &[0], &[]);
        assert!(drain(&mut rx).is_empty(), "view 0 was dropped");
        relays.checked(0, Vote::Nullify { view: 1 }, &[0], &[]);
        assert_eq!(drain(&mut rx), [(0, Verdict::Accept)]);
    }
}
