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
//! vote still held after [`HOLD`] (no quorum formed here: this node may
//! see only part of the votes, in a network where validators reach each
//! other through relays) is checked alone and relayed or rejected
//! ([`Relays::check_overdue`]).
//!
//! Bounds: at most [`MAX_HELD`] votes are held (the oldest is dropped
//! without a verdict when full: gossipsub forgets it within seconds), and
//! verdicts travel to the network task through a channel of
//! [`VERDICTS_CAPACITY`] (a verdict that does not fit is dropped the same
//! way).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use libp2p::gossipsub::MessageId;
use libp2p::PeerId;
use sherd_consensus::engine::Relay;
use sherd_consensus::validators::{Epoch, ValidatorSet};
use sherd_consensus::vote::{ChainId, SignedVote, Vote};
use tokio::sync::mpsc;

use crate::net::Verdict;

/// Votes held for their aggregate check, at most.
pub const MAX_HELD: usize = 4_096;
/// How long a vote waits for its aggregate check before it is checked
/// alone.
pub const HOLD: Duration = Duration::from_millis(250);
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

/// A vote waiting for its check, with the messages that brought it.
#[derive(Debug)]
struct Held {
    vote: SignedVote,
    since: Instant,
    tickets: Vec<Ticket>,
}

/// The actor's side: gives verdicts, holds votes until they are checked.
#[derive(Debug)]
pub struct Relays {
    verdicts: mpsc::Sender<(Ticket, Verdict)>,
    held: HashMap<VoteKey, Held>,
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
    pub fn judge(&mut self, ticket: Ticket, relay: Relay, vote: Option<SignedVote>) {
        match (relay, vote) {
            (Relay::Verified, _) => self.give(ticket, Verdict::Accept),
            (Relay::Invalid, _) => self.give(ticket, Verdict::Reject),
            (Relay::Pending, Some(vote)) => self.hold(vote, ticket, Instant::now()),
            (Relay::Pending | Relay::Redundant, _) => self.give(ticket, Verdict::Ignore),
        }
    }

    /// When the oldest held vote is due for its check alone.
    pub fn next_due(&self) -> Option<Instant> {
        self.order
            .iter()
            .find_map(|key| self.held.get(key))
            .map(|held| held.since + HOLD)
    }

    /// Checks alone every vote held for [`HOLD`] by `now`, against the
    /// current epoch's `validators` (a vote of another epoch is dropped).
    pub fn check_overdue(&mut self, now: Instant, chain_id: &ChainId, validators: &ValidatorSet) {
        while let Some(key) = self.order.front().copied() {
            let Some(held) = self.held.get(&key) else {
                self.order.pop_front();
                continue;
            };
            if now < held.since + HOLD {
                break;
            }
            self.order.pop_front();
            let Some(held) = self.held.remove(&key) else {
                continue;
            };
            let verdict = if held.vote.epoch != validators.epoch() {
                Verdict::Ignore
            } else if held.vote.verify(chain_id, validators).is_ok() {
                Verdict::Accept
            } else {
                Verdict::Reject
            };
            for ticket in held.tickets {
                self.give(ticket, verdict);
            }
        }
    }

    /// Gives the verdict of the held votes for `vote` in `epoch`.
    pub fn checked(&mut self, epoch: Epoch, vote: Vote, valid: &[u32], invalid: &[u32]) {
        for (signers, verdict) in [(valid, Verdict::Accept), (invalid, Verdict::Reject)] {
            for &signer in signers {
                let held = self.held.remove(&(epoch, vote, signer));
                for ticket in held.map(|h| h.tickets).unwrap_or_default() {
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
    #[cfg(test)]
    fn held(&self) -> usize {
        self.held.values().map(|h| h.tickets.len()).sum()
    }

    fn hold(&mut self, vote: SignedVote, ticket: Ticket, now: Instant) {
        while self.order.len() >= MAX_HELD {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.held.remove(&oldest);
        }
        let key = (vote.epoch, vote.vote, vote.signer);
        let held = self.held.entry(key).or_insert_with(|| Held {
            vote,
            since: now,
            tickets: Vec::new(),
        });
        if held.tickets.is_empty() {
            self.order.push_back(key);
        }
        held.tickets.push(ticket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sherd_consensus::bls::SecretKey;
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

    fn chain() -> ChainId {
        ChainId::new("sherd-relay").unwrap()
    }

    fn key(signer: u8) -> SecretKey {
        SecretKey::key_gen(&[signer + 1; 32], b"").unwrap()
    }

    /// A set of four validators, with keys `key(0..4)`.
    fn validators() -> ValidatorSet {
        ValidatorSet::new(0, (0..4).map(|i| (key(i).public_key(), 1)).collect()).unwrap()
    }

    /// `vote` signed by `signer` (a valid signature).
    fn signed(vote: Vote, signer: u8) -> SignedVote {
        SignedVote::sign(&chain(), 0, u32::from(signer), vote, &key(signer))
    }

    /// `vote` claimed by `signer` with another vote's signature.
    fn claimed(vote: Vote, signer: u32) -> SignedVote {
        let mut forged = signed(Vote::Nullify { view: 0 }, 0);
        forged.vote = vote;
        forged.signer = signer;
        forged
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
        relays.judge(ticket(3), Relay::Redundant, Some(claimed(vote, 0)));
        relays.judge(ticket(4), Relay::Pending, Some(claimed(vote, 1)));
        relays.judge(ticket(5), Relay::Pending, Some(claimed(vote, 2)));
        relays.judge(ticket(6), Relay::Pending, Some(claimed(vote, 3)));
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
        assert_eq!(relays.next_due(), None);
    }

    #[test]
    fn a_vote_held_too_long_is_checked_alone() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut relays = Relays::new(tx);
        let set = validators();
        let vote = Vote::Nullify { view: 5 };
        relays.judge(ticket(1), Relay::Pending, Some(signed(vote, 1)));
        relays.judge(ticket(2), Relay::Pending, Some(claimed(vote, 2)));
        let mut other_epoch = signed(vote, 3);
        other_epoch.epoch = 1;
        relays.judge(ticket(3), Relay::Pending, Some(other_epoch));
        let now = Instant::now();
        relays.check_overdue(now, &chain(), &set);
        assert!(drain(&mut rx).is_empty(), "not due yet");
        let due = relays.next_due().unwrap();
        assert!(due <= now + HOLD);
        relays.check_overdue(Instant::now() + HOLD, &chain(), &set);
        assert_eq!(
            drain(&mut rx),
            [
                (1, Verdict::Accept),
                (2, Verdict::Reject),
                (3, Verdict::Ignore)
            ]
        );
        assert_eq!(relays.held(), 0);
    }

    #[test]
    fn the_oldest_vote_goes_when_full() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut relays = Relays::new(tx);
        let base = claimed(Vote::Nullify { view: 0 }, 0);
        for view in 0..(MAX_HELD as u64 + 1) {
            let mut vote = base;
            vote.vote = Vote::Nullify { view };
            relays.judge(ticket(0), Relay::Pending, Some(vote));
        }
        assert_eq!(relays.held(), MAX_HELD);
        relays.checked(0, Vote::Nullify { view: 0 }, &[0], &[]);
        assert!(drain(&mut rx).is_empty(), "view 0 was dropped");
        relays.checked(0, Vote::Nullify { view: 1 }, &[0], &[]);
        assert_eq!(drain(&mut rx), [(0, Verdict::Accept)]);
    }
}
