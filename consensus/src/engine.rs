//! The Simplex engine as a sans-IO state machine.
//!
//! [`Engine::handle`] takes one [`Input`] (a message, a timer expiry, an
//! answer of the application) and returns the [`Output`]s it causes
//! (messages to send, timers to set, payloads to build or verify, finalized
//! blocks, evidence). It keeps no clock and does no IO: timers are
//! requested as "call me back in `ms` virtual milliseconds".
//!
//! # Protocol (DESIGN §5)
//!
//! Views `1, 2, …` follow the anchor (genesis, or the last finalized block
//! the application restarts from, at view `anchor.view`).
//!
//! * **Leader.** [`leader`]`(validators, epoch_seed, v)`: stake-weighted
//!   sampling from `BLAKE3(tag ‖ epoch_seed ‖ v)`.
//! * **Entering view `v`** (on a notarization or nullification of `v − 1`,
//!   or of any later view `w ≥ v − 1`, which moves the engine to `w + 1`):
//!   set the leader timer (`leader_timeout_ms`, ~2Δ) and the advance timer
//!   (`advance_timeout_ms`, ~3Δ).
//! * **Proposing.** The leader of `v` picks the parent: going down from
//!   `v − 1`, the first view with a notarization, every view skipped on the
//!   way having a nullification (it stops at the last finalized block). It
//!   asks the application to build ([`Output::Build`]) and, on
//!   [`Input::Built`], broadcasts the header ([`Proposal`], id = BLAKE3 of
//!   `(epoch, view, height, parent_view, parent, payload, proposer)`) with
//!   its beacon reveal and its own `notarize` vote ([`Message::Proposal`]).
//! * **Notarizing.** A validator in view `v` that has neither notarized nor
//!   nullified `v` and holds the leader's proposal checks that the parent is
//!   notarized (or is the last finalized block), that every view between
//!   parent and `v` is nullified (missing certificates are fetched), and
//!   asks the application ([`Output::Verify`]); on a valid verdict it sends
//!   `notarize(v, id)`. At most one notarize per view, never after nullify.
//! * **Notarization** (> 2/3 of the power): re-broadcast it with its header,
//!   send `finalize(v, id)` unless `nullify(v)` was sent, enter `v + 1`.
//! * **Timeouts.** The leader timer sends `nullify(v)` if the engine has not
//!   notarized in `v` (a leader whose proposal the engine missed in its last
//!   `silent_leader_views` views gets no leader timer: `nullify(v)` at once); the advance timer sends `nullify(v)` and then, every
//!   `retry_ms`, re-sends it with the certificate that brought the engine
//!   into `v` and re-fetches missing certificates.
//! * **Nullification** (> 2/3): re-broadcast, enter `v + 1`.
//! * **Finalization** (> 2/3 finalize): re-broadcast; the block and its
//!   ancestors are final ([`Output::Finalized`], in height order; missing
//!   ancestor headers are fetched by view).
//! * **Safety rules**, enforced in one place (`cast`) and persisted through
//!   the [`Journal`] before the vote leaves: never `finalize(v)` together
//!   with `nullify(v)`, never two different `notarize(v)` or `finalize(v)`.
//! * **Catch-up.** A validator that receives a `nullify` of a view older
//!   than its own answers the sender with the certificate that brought it
//!   into its view and its latest finalization. [`Message::Fetch`]`{ view }`
//!   is answered with the certificates and the header known for that view.
//! * **Beacon.** Every proposal carries the proposer's BLS signature over
//!   [`beacon_message`]`(chain_id, epoch, view)`, verified on receipt. When a
//!   block is finalized the engine's beacon becomes
//!   `BLAKE3(beacon ‖ reveal)` ([`Engine::beacon`]).
//! * **Evidence.** For every signer and view the engine keeps the first
//!   notarize, nullify and finalize it saw; a conflicting vote (see
//!   [`crate::evidence`]) is verified with the stored one and reported once
//!   as [`Output::Evidence`].
//!
//! * **Epochs.** The engine runs one validator set. With
//!   `Config::last_height = Some(h)`, the block at height `h` is the
//!   epoch's last: once it is final the engine emits [`Output::EpochEnded`]
//!   and only answers fetches; blocks above `h` (which may be needed to
//!   finalize it) are never reported final. [`Engine::next_epoch`] starts
//!   the next epoch from the application's next set and seed, anchored at
//!   that block, with the same key and journal (votes name their epoch, so
//!   views may repeat across epochs). The seed of epoch `e` is
//!   [`epoch_seed`]`(e, beacon at the start of epoch e − 1)`: fixed one
//!   whole epoch ahead, so the last proposers of an epoch cannot steer the
//!   next epoch's leaders. It answers validators still in the
//!   previous epoch with that epoch's last finalization and the headers
//!   between; a validator further behind must sync through the application
//!   ([`crate::sync`]).
//! * **Restarts.** [`Engine::new`] reads the journal: the engine starts in
//!   the latest view it voted in or was moved to by a journaled certificate
//!   (or after its anchor), refuses any vote that would conflict with a
//!   journaled one, and restores the journaled certificates and headers so
//!   it can hand them to validators waiting for them. Blocks below the
//!   anchor are the application's to serve.
//! * **Memory.** Votes and proposals are accepted only within
//!   `max_views_ahead` views of the current view (either side) and above
//!   the last finalized view. Only the vote recorded for a signer, view and
//!   kind is counted, so an equivocator opens no tallies beyond its first
//!   vote. A certificate always moves the engine past its view, so nothing
//!   is stored above the current view except inside the window. Views that
//!   fall behind the window drop their vote state (tallies with their
//!   collectors, votes seen) and keep only their proposal, certificates and
//!   own votes (a few hundred bytes each); everything below the last
//!   finalized view is dropped (headers after [`HEADER_RETENTION_VIEWS`]).
//!   While finalization stalls, the engine thus grows by one small entry
//!   per view it passes (each needing a quorum certificate or its own
//!   timeout), not by anything a peer sends: the nullifications are kept
//!   because a proposal extending a block from before the stall needs
//!   every view in between proven skipped.
//! * **Followers.** [`Engine::follower`] runs the same state machine for a
//!   node outside the set: it never casts a vote (so it never proposes and
//!   never asks for a payload verdict), and otherwise tracks views,
//!   verifies, forms and re-broadcasts certificates and reports
//!   finalizations. [`Engine::next_epoch`] makes a validator whose key left
//!   the set a follower, and a follower whose key joined it a validator.
//! * **Bad input** is answered with [`Output::Rejected`] and a typed
//!   [`EngineError`] (wrong epoch, view outside the window, proposer not the
//!   leader, bad reveal, a header that does not match its certificate,
//!   invalid votes or certificates); it changes no protocol state.
//!
//! Votes are verified by aggregate through [`VoteCollector`](crate::VoteCollector).
//! Each vote message is hashed to G2 once per view (about 215 µs with blst,
//! a third of a verification): the hash is kept with the view and serves
//! this validator's signature, the check of the leader's vote, the vote's
//! tally and the certificates of that vote.
//! [`SignatureMode::Trusted`] replaces all signatures by a placeholder and
//! verifies none: it exists only so the simulator can run thousands of
//! views per second; a node must use [`SignatureMode::Verify`].

mod config;
mod error;
mod input;
mod journal;
mod message;
mod output;
mod state;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use config::{Anchor, Config, SignatureMode};
pub use error::EngineError;
pub use input::{Input, TimerKind};
pub use journal::{Entry, Journal, JournalError, MemoryJournal};
pub use message::{
    beacon_message, epoch_seed, leader, next_beacon, placeholder_signature, Digest, Message,
    Proposal, BEACON_NAMESPACE, BLOCK_NAMESPACE, EPOCH_SEED_NAMESPACE, LEADER_NAMESPACE,
};
pub use output::{Output, Relay};

use crate::bls::{HashedMessage, SecretKey};
use crate::certificate::{Certificate, CertificateError};
use crate::evidence::{conflicts, Evidence};
use crate::validators::{Epoch, ValidatorSet};
use crate::vote::{BlockId, SignedVote, View, Vote, VoteError, VoteKind};
use state::{Seen, Tally, ViewState};

/// Headers of this many views below the last finalized one are kept to
/// answer [`Message::Fetch`]; older blocks are the application's to serve.
pub const HEADER_RETENTION_VIEWS: u64 = 1024;

/// Which check a proposal's parent fails.
enum ParentCheck {
    Ok,
    Missing(View),
    Invalid,
}

/// The Simplex engine of one validator in one epoch (module docs).
#[derive(Debug)]
pub struct Engine<J: Journal> {
    config: Config,
    /// The validator's key; `None` for a follower built without one.
    key: Option<SecretKey>,
    /// This engine's signer index in the epoch's set; `None` for a follower
    /// (which never votes, proposes or asks for payload verdicts).
    me: Option<u32>,
    journal: J,
    view: View,
    /// What the message being handled turned out to be, for relaying.
    relay: Relay,
    views: BTreeMap<View, ViewState>,
    /// Headers known, by id (the id is their hash, so any stored header is authentic).
    blocks: BTreeMap<BlockId, Proposal>,
    /// The header to give out for a view (notarized, finalized or fetched).
    by_view: BTreeMap<View, BlockId>,
    /// Headers asked for by a finalization walk.
    wanted: BTreeSet<BlockId>,
    finalized: Anchor,
    /// The highest finalization not yet applied (ancestors missing).
    pending_finalization: Option<Certificate>,
    latest_finalization: Option<(Proposal, Certificate)>,
    /// Views fetched since the last retry.
    fetched: BTreeSet<View>,
    /// The epoch's last block is final: the engine only answers fetches.
    ended: bool,
    /// How the previous epoch ended, for validators still in it: the
    /// finalization that reached its last block and the headers from that
    /// certificate's block down to (not including) the last block.
    previous_epoch: Option<(Proposal, Certificate, Vec<Proposal>)>,
    /// Per validator: views it led in a row that this engine left without
    /// having seen its proposal.
    silent: BTreeMap<u32, u32>,
    /// Views below this one had their vote state dropped.
    votes_forgotten_below: View,
}

impl<J: Journal> Engine<J> {
    /// Builds an engine; restores its own votes from `journal`.
    pub fn new(config: Config, key: SecretKey, journal: J) -> Result<Self, EngineError> {
        let me = config.me;
        let public_key = config
            .validators
            .public_key(me)
            .ok_or(EngineError::NotAValidator {
                me,
                validators: config.validators.len(),
            })?;
        if key.public_key() != *public_key {
            return Err(EngineError::KeyMismatch { me });
        }
        Self::build(config, Some(key), Some(me), journal)
    }

    /// Builds a **follower**: an engine for a node outside the epoch's
    /// validator set. It never votes, proposes or asks the application to
    /// verify payloads, but it tracks views, verifies and re-broadcasts
    /// certificates, forms certificates from the votes it sees, answers
    /// fetches, and reports [`Output::Finalized`] and
    /// [`Output::EpochEnded`] like a validator. `config.me` is ignored. Its
    /// journal holds certificates only (a vote of the epoch in it is a
    /// [`EngineError::ForeignJournal`]).
    pub fn follower(config: Config, journal: J) -> Result<Self, EngineError> {
        Self::build(config, None, None, journal)
    }

    fn build(
        config: Config,
        key: Option<SecretKey>,
        me: Option<u32>,
        journal: J,
    ) -> Result<Self, EngineError> {
        let epoch = config.validators.epoch();
        let mut view = config.anchor.view.saturating_add(1);
        let mut views: BTreeMap<View, ViewState> = BTreeMap::new();
        let mut blocks = BTreeMap::new();
        let mut by_view = BTreeMap::new();
        let mut pending_finalization: Option<Certificate> = None;
        let mut latest_finalization: Option<(Proposal, Certificate)> = None;
        for entry in journal.entries() {
            let vote = match entry {
                Entry::Vote(vote) => vote,
                Entry::Certificate {
                    certificate,
                    header,
                } => {
                    let v = certificate.view();
                    if certificate.epoch != epoch {
                        continue;
                    }
                    if v <= config.anchor.view {
                        // The finalization that reached the anchor (or an
                        // earlier one): kept to hand to validators behind.
                        if let (VoteKind::Finalize, Some(header)) = (certificate.kind(), header) {
                            latest_finalization = Some((*header, certificate));
                        }
                        continue;
                    }
                    view = view.max(v.saturating_add(1));
                    if let Some(header) = header {
                        let id = header.id();
                        blocks.insert(id, *header);
                        by_view.insert(v, id);
                    }
                    let state = views.entry(v).or_default();
                    match certificate.kind() {
                        VoteKind::Notarize => state.notarization = Some(certificate),
                        VoteKind::Nullify => state.nullification = Some(certificate),
                        VoteKind::Finalize => {
                            if pending_finalization.as_ref().is_none_or(|p| p.view() < v) {
                                pending_finalization = Some(certificate.clone());
                            }
                            state.finalization = Some(certificate);
                        }
                    }
                    continue;
                }
            };
            if vote.epoch != epoch {
                // Another epoch's vote: views and indices of that epoch.
                continue;
            }
            if Some(vote.signer) != me {
                return Err(EngineError::ForeignJournal {
                    epoch: vote.epoch,
                    signer: vote.signer,
                });
            }
            let v = vote.vote.view();
            if v <= config.anchor.view {
                continue;
            }
            view = view.max(v);
            let state = views.entry(v).or_default();
            match vote.vote {
                Vote::Notarize { block_id, .. } => state.my_notarize = Some(block_id),
                Vote::Nullify { .. } => state.my_nullify = true,
                Vote::Finalize { block_id, .. } => state.my_finalize = Some(block_id),
            }
            state.my_votes.push(vote);
        }
        let finalized = config.anchor;
        Ok(Self {
            config,
            key,
            me,
            journal,
            view,
            views,
            blocks,
            by_view,
            wanted: BTreeSet::new(),
            relay: Relay::Redundant,
            finalized,
            pending_finalization,
            latest_finalization,
            fetched: BTreeSet::new(),
            ended: false,
            previous_epoch: None,
            silent: BTreeMap::new(),
            votes_forgotten_below: 0,
        })
    }

    /// Starts the next epoch once this one has ended ([`Output::EpochEnded`]):
    /// same key and journal, the application's next validator set, seed and
    /// last height; the anchor is this epoch's last block. If the key is not
    /// in the next set (or the engine has none), the next engine is a
    /// [`follower`](Self::follower); a follower whose key is in the next set
    /// becomes a validator again. The seed should
    /// be [`epoch_seed`]`(next epoch, beacon at the start of the ending
    /// epoch)` (DESIGN §5's lookahead; the engine cannot check it, since a
    /// restarted engine does not know where its epoch started).
    pub fn next_epoch(
        self,
        validators: Arc<ValidatorSet>,
        epoch_seed: Digest,
        last_height: Option<u64>,
    ) -> Result<Self, EngineError> {
        if !self.ended {
            return Err(EngineError::EpochNotEnded);
        }
        let me = self
            .key
            .as_ref()
            .and_then(|key| validators.index_of(&key.public_key()));
        let config = Config {
            validators,
            epoch_seed,
            // Ignored by a follower.
            me: me.unwrap_or(self.config.me),
            anchor: self.finalized,
            last_height,
            ..self.config.clone()
        };
        let previous_epoch = match self.latest_finalization {
            Some((header, certificate)) => {
                let mut tail = Vec::new();
                let mut id = header.parent;
                if header.id() != self.finalized.block_id {
                    while id != self.finalized.block_id {
                        let Some(parent) = self.blocks.get(&id) else {
                            break;
                        };
                        if parent.view <= self.finalized.view {
                            break;
                        }
                        tail.push(*parent);
                        id = parent.parent;
                    }
                }
                Some((header, certificate, tail))
            }
            None => self.previous_epoch,
        };
        let mut next = Self::build(config, self.key, me, self.journal)?;
        next.blocks = self.blocks;
        next.by_view = self.by_view;
        next.previous_epoch = previous_epoch;
        Ok(next)
    }

    /// The validator set of the epoch this engine runs.
    pub fn validators(&self) -> &Arc<ValidatorSet> {
        &self.config.validators
    }

    /// The chain id its votes are signed for.
    pub fn chain_id(&self) -> &crate::vote::ChainId {
        &self.config.chain_id
    }

    /// The epoch this engine runs.
    pub fn epoch(&self) -> Epoch {
        self.config.validators.epoch()
    }

    /// Whether the epoch's last block is final.
    pub fn has_ended(&self) -> bool {
        self.ended
    }

    /// The current view.
    pub fn view(&self) -> View {
        self.view
    }

    /// The beacon value after the last finalized block.
    pub fn beacon(&self) -> Digest {
        self.finalized.beacon
    }

    /// The last finalized block.
    pub fn finalized(&self) -> Anchor {
        self.finalized
    }

    /// The journal.
    pub fn journal(&self) -> &J {
        &self.journal
    }

    /// Gives the journal back (e.g. to restart an engine from it).
    pub fn into_journal(self) -> J {
        self.journal
    }

    /// Whether this validator leads `view` (never for a follower).
    pub fn is_leader(&self, view: View) -> bool {
        self.me == Some(self.leader_of(view))
    }

    /// This engine's signer index in the epoch's set, `None` for a
    /// [`follower`](Self::follower).
    pub fn signer(&self) -> Option<u32> {
        self.me
    }

    fn leader_of(&self, view: View) -> u32 {
        leader(&self.config.validators, &self.config.epoch_seed, view)
    }

    /// Handles a message from signer `from` (as [`Self::handle`] does) and
    /// says whether it is worth relaying to others ([`Relay`]).
    pub fn handle_message(&mut self, from: u32, message: Message) -> (Relay, Vec<Output>) {
        self.relay = Relay::Redundant;
        let out = self.handle(Input::Message { from, message });
        let relay = match out.iter().find_map(|o| match o {
            Output::Rejected { error, .. } => Some(error),
            _ => None,
        }) {
            Some(error) if error.is_fault() => Relay::Invalid,
            Some(_) => Relay::Redundant,
            None => self.relay,
        };
        (relay, out)
    }

    /// Handles one input (module docs).
    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        if self.ended {
            // Only help others to the end of the epoch.
            if let Input::Message { from, message } = input {
                match message {
                    Message::Fetch { view } => self.on_fetch(from, view, &mut out),
                    Message::Vote(_) => self.help_catch_up(from, &mut out),
                    _ => {}
                }
            }
            return out;
        }
        match input {
            Input::Start => self.start(&mut out),
            Input::Message { from, message } => {
                if let Err(error) = self.on_message(from, message, &mut out) {
                    out.push(Output::Rejected { from, error });
                }
            }
            Input::Timeout { view, kind } => self.on_timeout(view, kind, &mut out),
            Input::Built {
                view,
                parent,
                payload,
            } => self.on_built(view, parent, payload, &mut out),
            Input::Verified { block_id, valid } => {
                let low = self.finalized.view.saturating_add(1);
                for (_, state) in self.views.range_mut(low..) {
                    if state.proposal.is_some_and(|p| p.id() == block_id) {
                        state.verdict = Some(valid);
                    }
                }
            }
        }
        self.progress(&mut out);
        out
    }

    fn start(&mut self, out: &mut Vec<Output>) {
        self.set_view_timers(out);
        if let Some(message) = self.entry_certificate() {
            out.push(Output::Broadcast(message));
        }
        if let Some(state) = self.views.get(&self.view) {
            for vote in &state.my_votes {
                out.push(Output::Broadcast(Message::Vote(*vote)));
            }
        }
    }

    /// Drops the vote state (tallies with their collectors, the votes seen
    /// for evidence) of the views that fell behind the vote window. Votes
    /// for them are no longer accepted, so only whole certificates can
    /// still change them; what such a view keeps (its proposal, its
    /// certificates, this validator's own votes) is a few hundred bytes,
    /// against tens of kilobytes of vote state at N = 100.
    fn forget_old_votes(&mut self) {
        let low = self.vote_window_low();
        let from = self
            .votes_forgotten_below
            .max(self.finalized.view.saturating_add(1));
        if from >= low {
            return;
        }
        for (_, state) in self.views.range_mut(from..low) {
            state.forget_votes();
        }
        self.votes_forgotten_below = low;
    }

    /// Views that hold vote state (tallies or votes seen), for tests.
    #[cfg(test)]
    pub(crate) fn views_with_votes(&self) -> Vec<View> {
        self.views
            .iter()
            .filter(|(_, s)| s.has_votes())
            .map(|(v, _)| *v)
            .collect()
    }

    /// Tallies open in a view, for tests.
    #[cfg(test)]
    pub(crate) fn tallies(&self, view: View) -> usize {
        self.views.get(&view).map_or(0, |s| {
            s.notarizes
                .len()
                .saturating_add(s.finalizes.len())
                .saturating_add(usize::from(s.nullifies.is_some()))
        })
    }

    fn set_view_timers(&self, out: &mut Vec<Output>) {
        out.push(Output::SetTimer {
            view: self.view,
            kind: TimerKind::Leader,
            after_ms: self.config.leader_timeout_ms,
        });
        out.push(Output::SetTimer {
            view: self.view,
            kind: TimerKind::Advance,
            after_ms: self.config.advance_timeout_ms,
        });
    }

    fn enter_view(&mut self, view: View, out: &mut Vec<Output>) {
        if view <= self.view {
            return;
        }
        let left = self.leader_of(self.view);
        let proposed = self
            .views
            .get(&self.view)
            .is_some_and(|s| s.proposal.is_some());
        let silent = self.silent.entry(left).or_default();
        *silent = if proposed {
            0
        } else {
            silent.saturating_add(1)
        };
        self.view = view;
        self.fetched.clear();
        self.forget_old_votes();
        let skip = self.config.silent_leader_views > 0
            && self
                .silent
                .get(&self.leader_of(view))
                .is_some_and(|&n| n >= self.config.silent_leader_views)
            && !self.is_leader(view);
        if skip {
            // No leader timer for a leader silent in its recent views:
            // nullify at once (its proposal, if it comes, resets the count).
            out.push(Output::SetTimer {
                view,
                kind: TimerKind::Advance,
                after_ms: self.config.advance_timeout_ms,
            });
            self.cast_and_send(Vote::Nullify { view }, out);
        } else {
            self.set_view_timers(out);
        }
    }

    /// Lowest view whose votes are still counted: `max_views_ahead` views
    /// below the current one (and above the last finalized view).
    fn vote_window_low(&self) -> View {
        self.finalized
            .view
            .saturating_add(1)
            .max(self.view.saturating_sub(self.config.max_views_ahead))
    }

    /// Votes and proposals are accepted within `max_views_ahead` views of
    /// the current view, either side, and above the last finalized view.
    fn check_view(&self, view: View) -> Result<(), EngineError> {
        let low = self.vote_window_low();
        let high = self.view.saturating_add(self.config.max_views_ahead);
        if view < low || view > high {
            return Err(EngineError::ViewOutOfRange { view, low, high });
        }
        Ok(())
    }

    fn check_epoch(&self, epoch: Epoch) -> Result<(), EngineError> {
        if epoch != self.epoch() {
            return Err(EngineError::WrongEpoch {
                expected: self.epoch(),
                found: epoch,
            });
        }
        Ok(())
    }

    fn verifying(&self) -> bool {
        self.config.signatures == SignatureMode::Verify
    }

    fn on_message(
        &mut self,
        from: u32,
        message: Message,
        out: &mut Vec<Output>,
    ) -> Result<(), EngineError> {
        match message {
            Message::Proposal { proposal, notarize } => {
                self.on_proposal(from, proposal, notarize, out)
            }
            Message::Vote(vote) => self.on_vote(from, &vote, out),
            Message::Notarization {
                proposal,
                certificate,
            }
            | Message::Finalization {
                proposal,
                certificate,
            } => self.on_certificate(Some(proposal), certificate, out),
            Message::Nullification(certificate) => self.on_certificate(None, certificate, out),
            Message::Fetch { view } => {
                self.on_fetch(from, view, out);
                Ok(())
            }
            Message::Header(proposal) => {
                let id = proposal.id();
                if !self.wanted.contains(&id) {
                    return Ok(());
                }
                self.check_epoch(proposal.epoch)?;
                let leader = self.leader_of(proposal.view);
                if proposal.proposer != leader {
                    return Err(EngineError::NotLeader {
                        view: proposal.view,
                        proposer: proposal.proposer,
                        leader,
                    });
                }
                self.check_reveal(&proposal)?;
                self.wanted.remove(&id);
                self.blocks.insert(id, proposal);
                self.relay = Relay::Verified;
                Ok(())
            }
        }
    }

    fn check_reveal(&self, proposal: &Proposal) -> Result<(), EngineError> {
        if !self.verifying() {
            return Ok(());
        }
        let key = self.config.validators.public_key(proposal.proposer).ok_or(
            VoteError::SignerOutOfRange {
                signer: proposal.proposer,
                validators: self.config.validators.len(),
            },
        )?;
        let message = beacon_message(&self.config.chain_id, proposal.epoch, proposal.view);
        key.verify(&message, &proposal.reveal)
            .map_err(|_| EngineError::InvalidReveal {
                view: proposal.view,
                proposer: proposal.proposer,
            })
    }

    /// Checks a proposal's reveal and its leader's notarize vote (both by
    /// the leader's key) with one batch verification: three Miller loops
    /// and one final exponentiation instead of four and two. The random
    /// weights keep a bad reveal from hiding behind a vote signature made
    /// to cancel it. If the batch fails, each is checked alone for the
    /// error that names the culprit.
    fn check_reveal_and_vote(
        &mut self,
        proposal: &Proposal,
        notarize: &SignedVote,
    ) -> Result<(), EngineError> {
        if !self.verifying() {
            return Ok(());
        }
        let batched = (|| {
            let key = *crate::vote::check_signer(
                notarize.epoch,
                notarize.signer,
                &self.config.validators,
            )
            .ok()?;
            let signature = notarize.signature.subgroup_check().ok()?;
            let reveal_message =
                beacon_message(&self.config.chain_id, proposal.epoch, proposal.view);
            let vote_message = notarize
                .vote
                .signing_message(&self.config.chain_id, notarize.epoch);
            let vote_hashed = self
                .views
                .entry(proposal.view)
                .or_default()
                .hashes
                .get_or_hash(&self.config.chain_id, notarize.epoch, notarize.vote);
            crate::bls::batch_verify_hashed(
                &[key, key],
                &[&reveal_message, &vote_message],
                &[&HashedMessage::new(&reveal_message), &vote_hashed],
                &[proposal.reveal, signature],
            )
            .ok()
        })();
        if batched.is_some() {
            return Ok(());
        }
        self.check_reveal(proposal)?;
        notarize.verify(&self.config.chain_id, &self.config.validators)?;
        Ok(())
    }

    fn on_proposal(
        &mut self,
        from: u32,
        proposal: Proposal,
        notarize: SignedVote,
        out: &mut Vec<Output>,
    ) -> Result<(), EngineError> {
        self.check_epoch(proposal.epoch)?;
        self.check_view(proposal.view)?;
        let view = proposal.view;
        let leader = self.leader_of(view);
        if proposal.proposer != leader {
            return Err(EngineError::NotLeader {
                view,
                proposer: proposal.proposer,
                leader,
            });
        }
        let id = proposal.id();
        if notarize.epoch != proposal.epoch
            || notarize.signer != leader
            || notarize.vote != (Vote::Notarize { view, block_id: id })
        {
            return Err(EngineError::ProposalVote { view });
        }
        let known = self
            .views
            .get(&view)
            .and_then(|s| s.proposal)
            .map(|p| p.id());
        if known == Some(id) {
            return Ok(());
        }
        self.check_reveal_and_vote(&proposal, &notarize)?;
        self.silent.remove(&leader);
        if known.is_none() {
            self.views.entry(view).or_default().proposal = Some(proposal);
            self.blocks.insert(id, proposal);
        }
        // A second, different proposal is an equivocation: its vote makes the evidence.
        self.on_vote(from, &notarize, out)?;
        // Header, reveal and vote all checked.
        self.relay = Relay::Verified;
        Ok(())
    }

    fn on_vote(
        &mut self,
        from: u32,
        vote: &SignedVote,
        out: &mut Vec<Output>,
    ) -> Result<(), EngineError> {
        if vote.epoch < self.epoch() {
            self.help_previous_epoch(from, out);
        }
        self.check_epoch(vote.epoch)?;
        crate::vote::check_signer(vote.epoch, vote.signer, &self.config.validators)?;
        let view = vote.vote.view();
        if Some(vote.signer) == self.me {
            return Ok(());
        }
        if view < self.view && vote.vote.kind() == VoteKind::Nullify {
            self.help_catch_up(from, out);
        }
        self.check_view(view)?;
        if self.check_evidence(vote, out)? {
            self.count_vote(vote, out);
        }
        Ok(())
    }

    /// Sends a lagging validator what brought this engine into its view.
    fn help_catch_up(&self, to: u32, out: &mut Vec<Output>) {
        if let Some(message) = self.entry_certificate() {
            out.push(Output::Send { to, message });
        }
        if let Some((proposal, certificate)) = &self.latest_finalization {
            out.push(Output::Send {
                to,
                message: Message::Finalization {
                    proposal: *proposal,
                    certificate: certificate.clone(),
                },
            });
        }
    }

    /// Sends a validator still in the previous epoch how that epoch ended.
    fn help_previous_epoch(&self, to: u32, out: &mut Vec<Output>) {
        let Some((header, certificate, tail)) = &self.previous_epoch else {
            return;
        };
        out.push(Output::Send {
            to,
            message: Message::Finalization {
                proposal: *header,
                certificate: certificate.clone(),
            },
        });
        for header in tail {
            out.push(Output::Send {
                to,
                message: Message::Header(*header),
            });
        }
    }

    /// The certificate of the view before the current one, as a message.
    fn entry_certificate(&self) -> Option<Message> {
        let previous = self.view.checked_sub(1)?;
        let state = self.views.get(&previous)?;
        if let Some(certificate) = &state.notarization {
            let proposal = self.blocks.get(&certificate.block_id()?)?;
            return Some(Message::Notarization {
                proposal: *proposal,
                certificate: certificate.clone(),
            });
        }
        state
            .nullification
            .as_ref()
            .map(|c| Message::Nullification(c.clone()))
    }

    /// Records the vote for evidence; reports a verified conflict once.
    /// Returns whether the vote is to be counted: only the vote recorded for
    /// its signer, view and kind is, so an equivocator's further votes (each
    /// for another block id) open no new tallies and memory per view stays
    /// bounded by the number of validators.
    fn check_evidence(
        &mut self,
        vote: &SignedVote,
        out: &mut Vec<Output>,
    ) -> Result<bool, EngineError> {
        let verifying = self.verifying();
        let chain_id = self.config.chain_id.clone();
        let validators = self.config.validators.clone();
        let state = self.views.entry(vote.vote.view()).or_default();
        let seen = state.seen.entry(vote.signer).or_default();
        let earlier = [seen.notarize, seen.nullify, seen.finalize]
            .into_iter()
            .flatten()
            .find(|earlier| conflicts(&earlier.vote, &vote.vote));
        if let Some(earlier) = earlier {
            if seen.reported {
                return Ok(false);
            }
            if verifying {
                vote.verify(&chain_id, &validators)?;
                if earlier.verify(&chain_id, &validators).is_err() {
                    // The stored vote was a forgery: the new one takes its place.
                    *slot(seen, vote.vote.kind()) = Some(*vote);
                    return Ok(true);
                }
            }
            seen.reported = true;
            // Both votes checked: the evidence is worth relaying.
            self.relay = Relay::Verified;
            if let Some(public_key) = validators.public_key(vote.signer) {
                out.push(Output::Evidence(Evidence {
                    public_key: *public_key,
                    first: earlier,
                    second: *vote,
                }));
            }
            return Ok(false);
        }
        let slot = slot(seen, vote.vote.kind());
        match slot {
            None => {
                *slot = Some(*vote);
                Ok(true)
            }
            // The same vote again, maybe with another signature (the first
            // may have been forged by a relay; the collector sorts that
            // out): counted. A different vote of this kind would have been
            // a conflict above.
            Some(first) => Ok(first.vote == vote.vote),
        }
    }

    /// Adds a vote to its tally and acts on a new certificate. Views behind
    /// the vote window keep no tallies (see [`Self::forget_old_votes`]).
    fn count_vote(&mut self, vote: &SignedVote, out: &mut Vec<Output>) {
        if vote.vote.view() < self.vote_window_low() {
            return;
        }
        let mode = self.config.signatures;
        let chain_id = &self.config.chain_id;
        let validators = &self.config.validators;
        let state = self.views.entry(vote.vote.view()).or_default();
        let tally = match vote.vote {
            Vote::Notarize { block_id, .. } => {
                if state.notarization.is_some() {
                    return;
                }
                state.notarizes.entry(block_id).or_insert_with(|| {
                    Tally::new(mode, chain_id, validators, vote.vote, &mut state.hashes)
                })
            }
            Vote::Nullify { .. } => {
                if state.nullification.is_some() {
                    return;
                }
                state.nullifies.get_or_insert_with(|| {
                    Tally::new(mode, chain_id, validators, vote.vote, &mut state.hashes)
                })
            }
            Vote::Finalize { block_id, .. } => {
                if state.finalization.is_some() {
                    return;
                }
                state.finalizes.entry(block_id).or_insert_with(|| {
                    Tally::new(mode, chain_id, validators, vote.vote, &mut state.hashes)
                })
            }
        };
        tally.add(vote);
        let checked = tally.certify();
        self.relay = match mode {
            SignatureMode::Verify => Relay::Pending,
            SignatureMode::Trusted => Relay::Verified,
        };
        if !checked.verified_signers.is_empty() || !checked.bad_signers.is_empty() {
            out.push(Output::VotesChecked {
                epoch: vote.epoch,
                vote: vote.vote,
                valid: checked.verified_signers,
                invalid: checked.bad_signers,
            });
        }
        if let Some(certificate) = checked.certificate {
            self.apply_certificate(certificate, out);
        }
    }

    fn on_certificate(
        &mut self,
        header: Option<Proposal>,
        certificate: Certificate,
        out: &mut Vec<Output>,
    ) -> Result<(), EngineError> {
        self.check_epoch(certificate.epoch)?;
        let view = certificate.view();
        if view <= self.finalized.view {
            return Ok(());
        }
        if let Some(state) = self.views.get(&view) {
            let known = match certificate.kind() {
                VoteKind::Notarize => &state.notarization,
                VoteKind::Nullify => &state.nullification,
                VoteKind::Finalize => &state.finalization,
            };
            if let Some(known) = known {
                // Known (and verified) already; it may have come without its
                // header (formed from votes, or journaled), which the same
                // block id now proves.
                let missing = known.block_id().filter(|id| !self.blocks.contains_key(id));
                if let (Some(block_id), Some(header)) = (missing, header) {
                    if header.id() == block_id && header.proposer == self.leader_of(view) {
                        self.check_reveal(&header)?;
                        self.blocks.insert(block_id, header);
                        self.by_view.insert(view, block_id);
                    }
                }
                return Ok(());
            }
        }
        match (certificate.block_id(), header) {
            (Some(block_id), Some(header)) => {
                if header.id() != block_id
                    || header.view != view
                    || header.proposer != self.leader_of(view)
                {
                    return Err(EngineError::HeaderMismatch { view });
                }
                self.check_reveal(&header)?;
                self.verify_certificate(&certificate)?;
                self.blocks.insert(block_id, header);
                self.by_view.insert(view, block_id);
            }
            (None, None) => self.verify_certificate(&certificate)?,
            _ => return Err(EngineError::HeaderMismatch { view }),
        }
        self.relay = Relay::Verified;
        self.apply_certificate(certificate, out);
        Ok(())
    }

    fn verify_certificate(&self, certificate: &Certificate) -> Result<(), EngineError> {
        let validators = &self.config.validators;
        if self.verifying() {
            let hashed = self
                .views
                .get(&certificate.view())
                .and_then(|state| state.hashes.get(certificate.epoch, certificate.vote));
            match hashed {
                Some(hashed) => {
                    certificate.verify_hashed(&self.config.chain_id, validators, &hashed)?
                }
                None => certificate.verify(&self.config.chain_id, validators)?,
            };
            return Ok(());
        }
        if certificate.signers.len() != validators.len() {
            return Err(CertificateError::BitmapLength {
                expected: validators.len(),
                found: certificate.signers.len(),
            }
            .into());
        }
        let power = certificate
            .signers
            .iter()
            .filter_map(|i| validators.voting_power(i))
            .fold(0u128, |sum, p| sum.saturating_add(u128::from(p)));
        if !validators.is_quorum(power) {
            return Err(CertificateError::NoQuorum {
                power,
                quorum: validators.quorum_power(),
                total: validators.total_power(),
            }
            .into());
        }
        Ok(())
    }

    /// Stores a new certificate (formed or received, already verified),
    /// re-broadcasts it and acts on it.
    fn apply_certificate(&mut self, certificate: Certificate, out: &mut Vec<Output>) {
        let view = certificate.view();
        if view <= self.finalized.view {
            return;
        }
        let header = certificate
            .block_id()
            .and_then(|id| self.blocks.get(&id).copied());
        // A certificate that moves the engine on is journaled (after the
        // duplicate checks below).
        let record = (view >= self.view).then(|| certificate.clone());
        let state = self.views.entry(view).or_default();
        match certificate.vote {
            Vote::Notarize { block_id, .. } => {
                if state.notarization.is_some() {
                    return;
                }
                state.notarization = Some(certificate.clone());
                let may_finalize = !state.my_nullify && state.my_finalize.is_none();
                if let Some(proposal) = header {
                    self.by_view.insert(view, block_id);
                    out.push(Output::Broadcast(Message::Notarization {
                        proposal,
                        certificate,
                    }));
                }
                if may_finalize {
                    self.cast_and_send(Vote::Finalize { view, block_id }, out);
                }
            }
            Vote::Nullify { .. } => {
                if state.nullification.is_some() {
                    return;
                }
                state.nullification = Some(certificate.clone());
                out.push(Output::Broadcast(Message::Nullification(certificate)));
            }
            Vote::Finalize { .. } => {
                if state.finalization.is_some() {
                    return;
                }
                state.finalization = Some(certificate.clone());
                if let Some(proposal) = header {
                    out.push(Output::Broadcast(Message::Finalization {
                        proposal,
                        certificate: certificate.clone(),
                    }));
                }
                let higher = self
                    .pending_finalization
                    .as_ref()
                    .is_none_or(|p| p.view() < view);
                if higher {
                    self.pending_finalization = Some(certificate);
                }
            }
        }
        if let Some(certificate) = record {
            // Not needed for safety: a failed write only costs a restarted
            // engine this certificate.
            let _ = self.journal.append(&Entry::Certificate {
                certificate,
                header: header.map(Box::new),
            });
        }
        self.enter_view(view.saturating_add(1), out);
    }

    /// Signs a vote if the safety rules allow it, journals it, records it.
    fn cast(&mut self, vote: Vote, out: &mut Vec<Output>) -> Option<SignedVote> {
        let view = vote.view();
        let state = self.views.entry(view).or_default();
        let allowed = match vote {
            Vote::Notarize { .. } => state.my_notarize.is_none() && !state.my_nullify,
            Vote::Nullify { .. } => !state.my_nullify && state.my_finalize.is_none(),
            Vote::Finalize { .. } => state.my_finalize.is_none() && !state.my_nullify,
        };
        if !allowed {
            return None;
        }
        // A follower never votes.
        let (Some(me), Some(key)) = (self.me, self.key.as_ref()) else {
            return None;
        };
        let epoch = self.config.validators.epoch();
        let signed = match self.config.signatures {
            SignatureMode::Verify => {
                let hashed = self.views.entry(view).or_default().hashes.get_or_hash(
                    &self.config.chain_id,
                    epoch,
                    vote,
                );
                SignedVote::sign_hashed(epoch, me, vote, key, &hashed)
            }
            SignatureMode::Trusted => SignedVote {
                epoch,
                signer: me,
                vote,
                signature: placeholder_signature().into(),
            },
        };
        if let Err(error) = self.journal.append(&Entry::Vote(signed)) {
            out.push(Output::Rejected {
                from: me,
                error: error.into(),
            });
            return None;
        }
        let state = self.views.entry(view).or_default();
        match vote {
            Vote::Notarize { block_id, .. } => state.my_notarize = Some(block_id),
            Vote::Nullify { .. } => state.my_nullify = true,
            Vote::Finalize { block_id, .. } => state.my_finalize = Some(block_id),
        }
        state.my_votes.push(signed);
        Some(signed)
    }

    fn cast_and_send(&mut self, vote: Vote, out: &mut Vec<Output>) {
        if let Some(signed) = self.cast(vote, out) {
            out.push(Output::Broadcast(Message::Vote(signed)));
            self.count_vote(&signed, out);
        }
    }

    fn on_timeout(&mut self, view: View, kind: TimerKind, out: &mut Vec<Output>) {
        if view != self.view {
            return;
        }
        match kind {
            TimerKind::Leader => {
                let notarized = self
                    .views
                    .get(&view)
                    .is_some_and(|s| s.my_notarize.is_some());
                if !notarized {
                    self.cast_and_send(Vote::Nullify { view }, out);
                }
            }
            TimerKind::Advance => {
                let already = self.views.get(&view).is_some_and(|s| s.my_nullify);
                if already {
                    // Re-send: the nullify, and how we got here.
                    if let Some(state) = self.views.get(&view) {
                        for vote in &state.my_votes {
                            if vote.vote.kind() == VoteKind::Nullify {
                                out.push(Output::Broadcast(Message::Vote(*vote)));
                            }
                        }
                    }
                    if let Some(message) = self.entry_certificate() {
                        out.push(Output::Broadcast(message));
                    }
                } else {
                    self.cast_and_send(Vote::Nullify { view }, out);
                }
                self.fetched.clear();
                if self.view == view {
                    out.push(Output::SetTimer {
                        view,
                        kind: TimerKind::Advance,
                        after_ms: self.config.retry_ms,
                    });
                }
            }
        }
    }

    /// The parent a leader of `view` extends: `(view, id, height)`, or the
    /// view whose certificate is missing.
    fn parent_for(&self, view: View) -> Result<(View, BlockId, u64), View> {
        let mut u = view.saturating_sub(1);
        loop {
            if u <= self.finalized.view {
                return Ok((
                    self.finalized.view,
                    self.finalized.block_id,
                    self.finalized.height,
                ));
            }
            let state = self.views.get(&u).ok_or(u)?;
            if let Some(certificate) = state.notarization.as_ref().or(state.finalization.as_ref()) {
                let id = certificate.block_id().ok_or(u)?;
                let header = self.blocks.get(&id).ok_or(u)?;
                return Ok((u, id, header.height));
            }
            if state.nullification.is_none() {
                return Err(u);
            }
            u = u.saturating_sub(1);
        }
    }

    fn check_parent(&self, proposal: &Proposal) -> ParentCheck {
        let parent_view = proposal.parent_view;
        if parent_view >= proposal.view || parent_view < self.finalized.view {
            return ParentCheck::Invalid;
        }
        if parent_view == self.finalized.view {
            if proposal.parent != self.finalized.block_id
                || Some(proposal.height) != self.finalized.height.checked_add(1)
            {
                return ParentCheck::Invalid;
            }
        } else {
            let Some(state) = self.views.get(&parent_view) else {
                return ParentCheck::Missing(parent_view);
            };
            let Some(certificate) = state.notarization.as_ref().or(state.finalization.as_ref())
            else {
                return ParentCheck::Missing(parent_view);
            };
            if certificate.block_id() != Some(proposal.parent) {
                return ParentCheck::Invalid;
            }
            let Some(parent) = self.blocks.get(&proposal.parent) else {
                return ParentCheck::Missing(parent_view);
            };
            if parent.height.checked_add(1) != Some(proposal.height) {
                return ParentCheck::Invalid;
            }
        }
        let mut u = parent_view.saturating_add(1);
        while u < proposal.view {
            if self.views.get(&u).is_none_or(|s| s.nullification.is_none()) {
                return ParentCheck::Missing(u);
            }
            u = u.saturating_add(1);
        }
        ParentCheck::Ok
    }

    fn fetch(&mut self, view: View, out: &mut Vec<Output>) {
        if self.fetched.insert(view) {
            out.push(Output::Broadcast(Message::Fetch { view }));
        }
    }

    fn on_fetch(&self, to: u32, view: View, out: &mut Vec<Output>) {
        if let Some((proposal, certificate)) = &self.latest_finalization {
            if proposal.view == view {
                out.push(Output::Send {
                    to,
                    message: Message::Finalization {
                        proposal: *proposal,
                        certificate: certificate.clone(),
                    },
                });
                return;
            }
        }
        let header = self
            .by_view
            .get(&view)
            .and_then(|id| self.blocks.get(id))
            .copied();
        let Some(state) = self.views.get(&view) else {
            // A finalized view whose state is gone still has its header.
            if let Some(proposal) = header {
                out.push(Output::Send {
                    to,
                    message: Message::Header(proposal),
                });
            }
            return;
        };
        let mut sent = false;
        for certificate in [&state.notarization, &state.finalization]
            .into_iter()
            .flatten()
        {
            let Some(proposal) = certificate.block_id().and_then(|id| self.blocks.get(&id)) else {
                continue;
            };
            let certificate = certificate.clone();
            let message = if certificate.kind() == VoteKind::Notarize {
                Message::Notarization {
                    proposal: *proposal,
                    certificate,
                }
            } else {
                Message::Finalization {
                    proposal: *proposal,
                    certificate,
                }
            };
            out.push(Output::Send { to, message });
            sent = true;
        }
        if let Some(certificate) = &state.nullification {
            out.push(Output::Send {
                to,
                message: Message::Nullification(certificate.clone()),
            });
            sent = true;
        }
        if !sent {
            // A finalized ancestor known only by its header: the requester
            // checks it against the id chain it is walking.
            if let Some(proposal) = header {
                out.push(Output::Send {
                    to,
                    message: Message::Header(proposal),
                });
            }
        }
    }

    fn on_built(&mut self, view: View, parent: BlockId, payload: Digest, out: &mut Vec<Output>) {
        if view != self.view || !self.is_leader(view) {
            return;
        }
        let Some(state) = self.views.get(&view) else {
            return;
        };
        if state.proposal.is_some() || state.my_notarize.is_some() || state.my_nullify {
            return;
        }
        let Ok((parent_view, parent_id, parent_height)) = self.parent_for(view) else {
            return;
        };
        if parent_id != parent {
            return;
        }
        // `is_leader` above holds only for a validator, which has both.
        let (Some(me), Some(key)) = (self.me, self.key.as_ref()) else {
            return;
        };
        let epoch = self.epoch();
        let reveal = match self.config.signatures {
            SignatureMode::Verify => key.sign(&beacon_message(&self.config.chain_id, epoch, view)),
            SignatureMode::Trusted => placeholder_signature(),
        };
        let proposal = Proposal {
            epoch,
            view,
            height: parent_height.saturating_add(1),
            parent_view,
            parent,
            payload,
            proposer: me,
            reveal,
        };
        let id = proposal.id();
        let Some(notarize) = self.cast(Vote::Notarize { view, block_id: id }, out) else {
            return;
        };
        let state = self.views.entry(view).or_default();
        state.proposal = Some(proposal);
        state.verdict = Some(true);
        self.blocks.insert(id, proposal);
        out.push(Output::Broadcast(Message::Proposal { proposal, notarize }));
        self.count_vote(&notarize, out);
    }

    /// Acts on what the current state allows: finalize, propose, notarize.
    fn progress(&mut self, out: &mut Vec<Output>) {
        self.try_finalize(out);
        let view = self.view;
        if self.is_leader(view) {
            let state = self.views.entry(view).or_default();
            if !state.build_requested && !state.my_nullify && state.my_notarize.is_none() {
                match self.parent_for(view) {
                    Ok((_, parent, parent_height)) => {
                        self.views.entry(view).or_default().build_requested = true;
                        out.push(Output::Build {
                            view,
                            parent,
                            parent_height,
                        });
                    }
                    Err(missing) => self.fetch(missing, out),
                }
            }
        }
        let Some(state) = self.views.get(&view) else {
            return;
        };
        if state.my_notarize.is_some() || state.my_nullify {
            return;
        }
        let Some(proposal) = state.proposal else {
            return;
        };
        let (verdict, requested) = (state.verdict, state.verify_requested);
        match self.check_parent(&proposal) {
            ParentCheck::Ok => match verdict {
                Some(true) => self.cast_and_send(
                    Vote::Notarize {
                        view,
                        block_id: proposal.id(),
                    },
                    out,
                ),
                Some(false) => {}
                None => {
                    // A follower has no vote to cast: no verdict needed.
                    if !requested && self.me.is_some() {
                        self.views.entry(view).or_default().verify_requested = true;
                        out.push(Output::Verify(proposal));
                    }
                }
            },
            ParentCheck::Missing(missing) => self.fetch(missing, out),
            ParentCheck::Invalid => {}
        }
    }

    /// Applies the pending finalization if every header down to the last
    /// finalized block is known; fetches the first missing one otherwise.
    fn try_finalize(&mut self, out: &mut Vec<Output>) {
        let Some(certificate) = self.pending_finalization.clone() else {
            return;
        };
        if certificate.view() <= self.finalized.view {
            self.pending_finalization = None;
            return;
        }
        let Some(target) = certificate.block_id() else {
            self.pending_finalization = None;
            return;
        };
        let mut chain = Vec::new();
        let mut id = target;
        let mut view = certificate.view();
        while id != self.finalized.block_id {
            let Some(header) = self.blocks.get(&id).copied() else {
                self.wanted.insert(id);
                self.fetch(view, out);
                return;
            };
            if header.view <= self.finalized.view {
                // Does not extend our finalized chain: impossible unless more
                // than a third of the stake is Byzantine. Never finalize it.
                self.pending_finalization = None;
                out.push(Output::ConflictingFinalization(certificate));
                return;
            }
            chain.push(header);
            id = header.parent;
            view = header.parent_view;
        }
        self.pending_finalization = None;
        for header in chain.iter().rev() {
            if self.last_height_reached() {
                break;
            }
            let beacon = next_beacon(&self.finalized.beacon, &header.reveal);
            let block_id = header.id();
            self.wanted.remove(&block_id);
            self.by_view.insert(header.view, block_id);
            self.finalized = Anchor {
                view: header.view,
                height: header.height,
                block_id,
                beacon,
            };
            out.push(Output::Finalized {
                block: *header,
                certificate: certificate.clone(),
                beacon,
            });
        }
        if let Some(header) = chain.first() {
            // Journaled so that a restarted engine can still hand it out.
            let _ = self.journal.append(&Entry::Certificate {
                certificate: certificate.clone(),
                header: Some(Box::new(*header)),
            });
            self.latest_finalization = Some((*header, certificate));
        }
        if self.last_height_reached() {
            self.ended = true;
            out.push(Output::EpochEnded {
                epoch: self.epoch(),
                last: self.finalized,
            });
        }
        // Nothing below the finalized view can matter any more except for
        // fetch answers, which use `by_view` and `blocks`; those keep the
        // last `HEADER_RETENTION_VIEWS` views (further back is block sync).
        let keep = self.views.split_off(&self.finalized.view);
        self.views = keep;
        let cutoff = self.finalized.view.saturating_sub(HEADER_RETENTION_VIEWS);
        if self
            .by_view
            .first_key_value()
            .is_some_and(|(&v, _)| v < cutoff)
        {
            self.by_view = self.by_view.split_off(&cutoff);
            self.blocks.retain(|_, header| header.view >= cutoff);
        }
    }
}

impl<J: Journal> Engine<J> {
    fn last_height_reached(&self) -> bool {
        self.config
            .last_height
            .is_some_and(|last| self.finalized.height >= last)
    }
}

/// The slot of a vote kind in [`Seen`].
fn slot(seen: &mut Seen, kind: VoteKind) -> &mut Option<SignedVote> {
    match kind {
        VoteKind::Notarize => &mut seen.notarize,
        VoteKind::Nullify => &mut seen.nullify,
        VoteKind::Finalize => &mut seen.finalize,
    }
}
