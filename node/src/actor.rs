//! The consensus actor: owns the engine, turns its outputs into IO (timers,
//! block building, commits) and nothing else.
//!
//! Block production policy (dev chain, one validator): when the engine asks
//! for a block ([`Output::Build`]) the actor waits until
//! [`BUSY_INTERVAL`] after the previous block if the mempool holds
//! transactions that can run (not waiting behind a sender's nonce gap), or [`IDLE_INTERVAL`] (an empty heartbeat block, so epochs
//! advance) if it does not; a transaction arriving wakes it early.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sherd_consensus::bls::{PublicKey, SecretKey};
use sherd_consensus::engine::{
    beacon_message, Anchor, Config, Input, Output, Proposal, SignatureMode, TimerKind,
};
use sherd_consensus::{BlockId, Certificate, Engine, ValidatorSet};
use sherd_ledger::state::EpochSet;
use sherd_ledger::{Address, BlockHeader, Hash, StateView};
use tokio::sync::{mpsc, watch};

use crate::exec::{self, ExecError, Executed, InvalidBlock};
use crate::gossip::ConsensusGossip;
use crate::journal::DbJournal;
use crate::net::Verdict;
use crate::shared::Shared;
use crate::store::{col, meta, EpochInfo, Head, Layered, Op};

/// Least time between blocks when there are transactions.
pub const BUSY_INTERVAL: Duration = Duration::from_millis(100);
/// Time between empty heartbeat blocks.
pub const IDLE_INTERVAL: Duration = Duration::from_secs(2);
/// How often the mempool is searched for expired transactions.
const EXPIRY_CHECK: Duration = Duration::from_secs(10);
/// Most transactions in one block.
pub const MAX_BLOCK_TXS: usize = 5_000;
/// The engine's Δ-based timers. A single validator never waits for a
/// peer; the timers matter after a crash that left an own vote of the
/// current view in the journal without its certificate (the view is then
/// nullified when the advance timer fires, and the chain goes on). The
/// leader timer must be longer than [`IDLE_INTERVAL`], or idle views would
/// be nullified before their heartbeat block.
const LEADER_TIMEOUT_MS: u64 = 3_000;
const ADVANCE_TIMEOUT_MS: u64 = 4_000;
const RETRY_MS: u64 = 2_000;

mod sync;

/// Most proposed blocks from peers kept while waiting for their proposal.
const MAX_RECEIVED_BLOCKS: usize = 64;
/// Most views whose start is remembered, for the vote collection time.
const VIEWS_TIMED: usize = 32;

/// The actor's side of the network: consensus gossip in and out.
#[derive(Debug)]
pub struct ActorNet {
    /// Consensus gossip to publish (encoded [`ConsensusGossip`]).
    pub outbound: mpsc::Sender<Vec<u8>>,
    /// Consensus gossip received from peers, decoded, each with the ticket
    /// its verdict needs.
    pub inbound: mpsc::Receiver<(ConsensusGossip, crate::relay::Ticket)>,
    /// Verdicts on received gossip, to the network task.
    pub relays: crate::relay::Relays,
    /// The network, for block sync.
    pub handle: crate::net::NetHandle,
}

/// A validator's place in its epoch: signer index and operator address.
type Role = (u32, Address);

/// The `from` a non-validating node puts on what it sends.
const FOLLOWER: u32 = u32::MAX;

/// The actor.
pub struct Actor {
    shared: Arc<Shared>,
    engine: Option<Engine<DbJournal>>,
    journal: DbJournal,
    bls: SecretKey,
    /// This validator's signer index in the running epoch ([`FOLLOWER`]
    /// when the node's key is not in the set).
    me: u32,
    operator: Address,
    consensus_chain: sherd_consensus::ChainId,
    head: Head,
    epoch: EpochInfo,
    executed: HashMap<BlockId, Arc<Executed>>,
    pending_build: Option<(u64, BlockId, u64)>,
    last_block_at: Instant,
    idle_interval: Duration,
    last_expiry: Instant,
    timers: Vec<(Instant, u64, TimerKind)>,
    /// Set when the actor cannot go on (a finalized block it cannot commit).
    fatal: Option<String>,
    /// Faults to inject (test builds only; see [`crate::hooks`]).
    pub hooks: crate::hooks::Hooks,
    /// Peers, when the node is networked.
    net: Option<ActorNet>,
    /// Proposed blocks received from peers, by ledger block id.
    received: HashMap<Hash, Vec<u8>>,
    /// Proposals waiting for their block's data, by payload.
    waiting: HashMap<Hash, Proposal>,
    /// Set when the node must fetch finalized blocks from its peers.
    need_sync: bool,
    /// Where evidence of equivocation goes to become a transaction.
    evidence: Option<mpsc::Sender<Vec<u8>>>,
    /// When the head last moved.
    last_progress: Instant,
    /// For the finality latency: when this node first had each unfinalized
    /// proposal (built it, or was asked to verify it), with its height.
    first_seen: HashMap<BlockId, (u64, Instant)>,
    /// For the vote collection time: when the engine entered recent views
    /// (epoch, view).
    view_started: VecDeque<((u64, u64), Instant)>,
    /// Writes each final block's account index rows after its commit.
    indexer: crate::indexer::Indexer,
}

impl std::fmt::Debug for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actor")
            .field("head", &self.head)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

fn copy_key(key: &SecretKey) -> anyhow::Result<SecretKey> {
    SecretKey::from_bytes(&key.to_bytes()).map_err(|e| anyhow::anyhow!("BLS key: {e}"))
}

/// The consensus validator set of a ledger epoch set.
pub fn validator_set(set: &EpochSet) -> anyhow::Result<ValidatorSet> {
    let members = set
        .members
        .iter()
        .map(|m| {
            PublicKey::from_bytes(&m.bls_pubkey)
                .map(|k| (k, m.power))
                .map_err(|e| anyhow::anyhow!("validator {} has a bad BLS key: {e}", m.operator))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    ValidatorSet::new(set.epoch, members)
        .map_err(|e| anyhow::anyhow!("validator set of epoch {}: {e}", set.epoch))
}

impl Actor {
    /// Builds the engine from the stored head, epoch and journal.
    pub fn new(
        shared: Arc<Shared>,
        bls: &SecretKey,
        operator: Address,
        head: Head,
        epoch: EpochInfo,
    ) -> anyhow::Result<Self> {
        let journal = DbJournal::load(shared.db.clone())?;
        let consensus_chain = shared.params.chain_id.clone();
        let (engine, role) =
            Self::engine_for(&shared, bls, &consensus_chain, head, epoch, journal.clone())?;
        let (me, operator) = role.unwrap_or((FOLLOWER, operator));
        let indexer = crate::indexer::Indexer::spawn(shared.db.clone(), shared.indexed.clone())
            .map_err(|e| anyhow::anyhow!("cannot start the account indexer: {e}"))?;
        let mut actor = Self {
            shared,
            engine: None,
            journal,
            bls: copy_key(bls)?,
            me,
            operator,
            consensus_chain,
            head,
            epoch,
            executed: HashMap::new(),
            pending_build: None,
            last_block_at: Instant::now(),
            idle_interval: IDLE_INTERVAL,
            last_expiry: Instant::now(),
            timers: Vec::new(),
            fatal: None,
            hooks: crate::hooks::Hooks::default(),
            net: None,
            received: HashMap::new(),
            waiting: HashMap::new(),
            need_sync: false,
            evidence: None,
            last_progress: Instant::now(),
            first_seen: HashMap::new(),
            view_started: VecDeque::new(),
            indexer,
        };
        actor.engine = Some(engine);
        Ok(actor)
    }

    fn last_height(shared: &Shared, epoch: u64) -> Option<u64> {
        epoch
            .checked_add(1)
            .and_then(|e| e.checked_mul(shared.params.epoch_length))
            .and_then(|h| h.checked_sub(1))
    }

    fn engine_for(
        shared: &Shared,
        bls: &SecretKey,
        chain: &sherd_consensus::ChainId,
        head: Head,
        epoch: EpochInfo,
        journal: DbJournal,
    ) -> anyhow::Result<(Engine<DbJournal>, Option<Role>)> {
        let state = shared.db.state();
        let set = StateView::new(&state)
            .epoch_set(epoch.epoch)?
            .ok_or_else(|| {
                anyhow::anyhow!("the state has no validator set for epoch {}", epoch.epoch)
            })?;
        let validators = Arc::new(validator_set(&set)?);
        // A node whose key is not in the set follows the chain without voting.
        let role = validators.index_of(&bls.public_key()).and_then(|me| {
            set.members
                .get(usize::try_from(me).ok()?)
                .map(|m| (me, m.operator))
        });
        let me = role.map_or(0, |(me, _)| me);
        let config = Config {
            chain_id: chain.clone(),
            validators,
            epoch_seed: epoch.seed,
            me,
            anchor: Anchor {
                view: head.view,
                height: head.height,
                block_id: BlockId(head.consensus_id),
                beacon: head.beacon,
            },
            leader_timeout_ms: LEADER_TIMEOUT_MS,
            advance_timeout_ms: ADVANCE_TIMEOUT_MS,
            retry_ms: RETRY_MS,
            max_views_ahead: 100,
            signatures: SignatureMode::Verify,
            silent_leader_views: 3,
            last_height: Self::last_height(shared, epoch.epoch),
        };
        let engine = match role {
            Some(_) => Engine::new(config, copy_key(bls)?, journal),
            None => Engine::follower(config, journal),
        }
        .map_err(|e| anyhow::anyhow!("consensus engine: {e}"))?;
        Ok((engine, role))
    }

    /// Runs until `shutdown` turns true or a fatal error.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        if self.net.is_some() {
            self.catch_up(true).await;
        }
        self.handle(Input::Start);
        loop {
            if let Some(reason) = self.fatal.take() {
                anyhow::bail!(reason);
            }
            if *shutdown.borrow() {
                return Ok(());
            }
            if self.net.is_some() && (self.need_sync || self.last_progress.elapsed() >= sync::STALL)
            {
                self.need_sync = false;
                self.last_progress = Instant::now();
                self.catch_up(false).await;
            }
            let now = Instant::now();
            let mut wake = now + Duration::from_secs(60);
            if let Some(t) = self.timers.iter().map(|(t, _, _)| *t).min() {
                wake = wake.min(t);
            }
            if let Some(due) = self.net.as_ref().and_then(|n| n.relays.next_due()) {
                wake = wake.min(due);
            }
            if self.pending_build.is_some() {
                wake = wake.min(self.build_deadline());
            }
            let net = &mut self.net;
            let inbound = async {
                match net {
                    Some(net) => net.inbound.recv().await,
                    None => std::future::pending().await,
                }
            };
            let mut gossip = None;
            tokio::select! {
                _ = tokio::time::sleep_until(wake.into()) => {}
                _ = self.shared.mempool_notify.notified() => {}
                _ = shutdown.changed() => {}
                received = inbound => gossip = received,
            }
            if let Some((gossip, ticket)) = gossip {
                self.on_gossip(gossip, ticket);
            }
            self.check_overdue_votes();
            self.fire_timers();
            if let Some((view, parent, parent_height)) = self.pending_build {
                if Instant::now() >= self.build_deadline() {
                    self.pending_build = None;
                    self.build(view, parent, parent_height);
                }
            }
            if self.last_expiry.elapsed() >= EXPIRY_CHECK {
                self.last_expiry = Instant::now();
                let expired = self.shared.mempool().expire(Instant::now());
                if expired > 0 {
                    tracing::info!(expired, "mempool.expire: dropped old transactions");
                }
            }
        }
    }

    /// A fresh engine on the current head and epoch (after a sync, or when
    /// this node joins or leaves the validator set).
    fn install_engine(&mut self) -> anyhow::Result<()> {
        let (engine, role) = Self::engine_for(
            &self.shared,
            &self.bls,
            &self.consensus_chain,
            self.head,
            self.epoch,
            self.journal.clone(),
        )?;
        self.engine = Some(engine);
        match role {
            Some((me, operator)) => {
                self.me = me;
                self.operator = operator;
            }
            None => self.me = FOLLOWER,
        }
        self.timers.clear();
        self.executed.clear();
        self.pending_build = None;
        self.handle(Input::Start);
        Ok(())
    }

    /// Test hook: sends a notarize vote conflicting with `message`'s.
    #[cfg(feature = "test-hooks")]
    fn equivocate_on(&self, message: &sherd_consensus::Message) {
        let sherd_consensus::Message::Vote(vote) = message else {
            return;
        };
        let sherd_consensus::Vote::Notarize { view, block_id } = vote.vote else {
            return;
        };
        let other = BlockId(*blake3::hash(&block_id.0).as_bytes());
        let forged = sherd_consensus::SignedVote::sign(
            &self.consensus_chain,
            vote.epoch,
            vote.signer,
            sherd_consensus::Vote::Notarize {
                view,
                block_id: other,
            },
            &self.bls,
        );
        tracing::warn!(view, "test.equivocate: sending a conflicting notarize vote");
        self.publish(ConsensusGossip::Message {
            from: self.me,
            message: sherd_consensus::Message::Vote(forged),
        });
    }

    /// Connects the actor to its peers.
    pub fn set_net(&mut self, net: ActorNet) {
        self.net = Some(net);
    }

    /// Where evidence of equivocation goes.
    pub fn set_evidence_sink(&mut self, sink: mpsc::Sender<Vec<u8>>) {
        self.evidence = Some(sink);
    }

    fn publish(&self, gossip: ConsensusGossip) {
        if let Some(net) = &self.net {
            if net.outbound.try_send(gossip.encode()).is_err() {
                tracing::debug!(
                    "net.publish: consensus message dropped (the network task is behind)"
                );
            }
        }
    }

    /// Hands a peer's message to the engine and gives gossipsub its
    /// verdict (see [`crate::relay`]).
    fn on_gossip(&mut self, gossip: ConsensusGossip, ticket: crate::relay::Ticket) {
        match gossip {
            ConsensusGossip::Message { from, message } => {
                let vote = match &message {
                    sherd_consensus::Message::Vote(v) => Some(*v),
                    _ => None,
                };
                let Some(engine) = self.engine.as_mut() else {
                    // Syncing: nothing to check against.
                    self.relay(ticket, Verdict::Ignore);
                    return;
                };
                let (relay, outputs) = engine.handle_message(from, message);
                if let Some(net) = &mut self.net {
                    net.relays.judge(ticket, relay, vote);
                }
                self.after_engine(outputs);
            }
            ConsensusGossip::Block(bytes) => self.on_block(bytes, ticket),
        }
    }

    /// Checks alone the relayed votes held too long for their aggregate
    /// check ([`crate::relay::HOLD`]).
    fn check_overdue_votes(&mut self) {
        let (Some(engine), Some(net)) = (self.engine.as_ref(), self.net.as_mut()) else {
            return;
        };
        if net
            .relays
            .next_due()
            .is_some_and(|due| due <= Instant::now())
        {
            net.relays
                .check_overdue(Instant::now(), engine.chain_id(), engine.validators());
        }
    }

    fn relay(&self, ticket: crate::relay::Ticket, verdict: Verdict) {
        if let Some(net) = &self.net {
            net.relays.give(ticket, verdict);
        }
    }

    /// Keeps a peer's proposed block until its proposal asks for it.
    fn on_block(&mut self, bytes: Vec<u8>, ticket: crate::relay::Ticket) {
        let Ok((_, block)) = exec::parse_proposed(&bytes) else {
            tracing::debug!("consensus.block: a peer sent a block that does not decode");
            self.relay(ticket, Verdict::Reject);
            return;
        };
        if block.header.height <= self.head.height {
            self.relay(ticket, Verdict::Ignore);
            return;
        }
        let Ok(id) = block.header.id() else {
            self.relay(ticket, Verdict::Reject);
            return;
        };
        if let Some(net) = &mut self.net {
            net.relays.hold_block(id.0, ticket);
        }
        if self.received.len() >= MAX_RECEIVED_BLOCKS {
            let head = self.head.height;
            self.received
                .retain(|_, b| exec::parse_proposed(b).is_ok_and(|(_, b)| b.header.height > head));
            if self.received.len() >= MAX_RECEIVED_BLOCKS {
                self.received.clear();
            }
        }
        self.received.insert(id, bytes);
        if let Some(proposal) = self.waiting.remove(&id) {
            self.verify(proposal);
        }
    }

    /// Makes the data of `proposal`'s block available under its consensus
    /// id, from a peer's gossip; `false` if it has not arrived yet.
    fn adopt_block(&mut self, proposal: &Proposal) -> Result<bool, ExecError> {
        let id = proposal.id();
        if self.executed.contains_key(&id) || self.shared.db.get(col::PROPOSED, &id.0)?.is_some() {
            return Ok(true);
        }
        let Some(bytes) = self.received.remove(&Hash(proposal.payload)) else {
            return Ok(false);
        };
        // A checked proposal names this block: its data is worth relaying.
        if let Some(net) = &mut self.net {
            net.relays.block_named(&proposal.payload);
        }
        let (parent, block) = exec::parse_proposed(&bytes)?;
        if parent != proposal.parent || block.header.height != proposal.height {
            return Err(InvalidBlock::NotItsProposal.into());
        }
        // Durable with this node's vote on it (staged writes ride along
        // with the journal's commit of the vote): a restart can re-execute
        // a block it voted for.
        self.shared
            .db
            .stage(vec![(col::PROPOSED, id.0.to_vec(), Some(bytes))]);
        Ok(true)
    }

    fn verify(&mut self, proposal: Proposal) {
        self.first_seen
            .entry(proposal.id())
            .or_insert((proposal.height, Instant::now()));
        match self.adopt_block(&proposal) {
            Ok(true) => {}
            Ok(false) => {
                self.waiting.insert(Hash(proposal.payload), proposal);
                return;
            }
            Err(e) => {
                tracing::warn!(view = proposal.view, error = %e, "consensus.verify: proposal refused");
                self.handle(Input::Verified {
                    block_id: proposal.id(),
                    valid: false,
                });
                return;
            }
        }
        let started = Instant::now();
        let executed = self.ensure_executed(proposal.id());
        self.shared.metrics.verified(started.elapsed());
        let valid = match executed {
            Ok(ex) => ex.id.0 == proposal.payload,
            Err(e) => {
                tracing::warn!(view = proposal.view, error = %e, "consensus.verify: proposal refused");
                false
            }
        };
        self.handle(Input::Verified {
            block_id: proposal.id(),
            valid,
        });
    }

    /// Sets the time between empty heartbeat blocks (default
    /// [`IDLE_INTERVAL`]; must stay below the engine's leader timeout).
    pub fn set_idle_interval(&mut self, interval: Duration) {
        self.idle_interval = interval.min(Duration::from_millis(
            LEADER_TIMEOUT_MS.saturating_sub(1_000),
        ));
    }

    fn build_deadline(&self) -> Instant {
        // Waiting transactions that cannot run yet (a sender's nonce gap)
        // are no reason for a block.
        let interval = if !self.shared.mempool().has_runnable() {
            self.idle_interval
        } else {
            BUSY_INTERVAL.min(self.idle_interval)
        };
        self.last_block_at + interval
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = self.timers.drain(..).partition(|(t, _, _)| *t <= now);
        self.timers = later;
        for (_, view, kind) in due {
            self.handle(Input::Timeout { view, kind });
        }
    }

    fn handle(&mut self, input: Input) {
        let Some(engine) = self.engine.as_mut() else {
            return;
        };
        let outputs = engine.handle(input);
        self.after_engine(outputs);
    }

    /// Acts on what the engine asked for.
    fn after_engine(&mut self, outputs: Vec<Output>) {
        let Some(engine) = self.engine.as_ref() else {
            return;
        };
        let (epoch, view) = (engine.epoch(), engine.view());
        self.shared.update_status(|s| {
            s.epoch = epoch;
            s.view = view;
        });
        if self
            .view_started
            .back()
            .is_none_or(|(v, _)| *v != (epoch, view))
        {
            if self.view_started.len() >= VIEWS_TIMED {
                self.view_started.pop_front();
            }
            self.view_started.push_back(((epoch, view), Instant::now()));
        }
        for output in outputs {
            let current = self.engine.as_ref().map(|e| e.epoch());
            if current != Some(epoch) {
                // The engine that made these outputs ended its epoch (or
                // stopped); the next one asked for what it needs itself.
                tracing::debug!(
                    ?output,
                    "consensus.output: dropped, from an ended epoch's engine"
                );
                continue;
            }
            self.on_output(output);
        }
    }

    fn on_output(&mut self, output: Output) {
        if let Output::Broadcast(message) = &output {
            self.time_certificate(message);
            if let sherd_consensus::Message::Notarization { certificate, .. }
            | sherd_consensus::Message::Finalization { certificate, .. }
            | sherd_consensus::Message::Nullification(certificate) = message
            {
                self.shared
                    .held_certificates
                    .insert(certificate.epoch, certificate.vote);
            }
        }
        match output {
            Output::Broadcast(message) | Output::Send { message, .. } => {
                #[cfg(feature = "test-hooks")]
                if self.hooks.equivocate() && self.net.is_some() {
                    self.equivocate_on(&message);
                }
                // Point-to-point messages go out as gossip too: every
                // validator subscribes, and the few `Send`s (answers to a
                // peer's fetch) are small.
                self.publish(ConsensusGossip::Message {
                    from: self.me,
                    message,
                });
            }
            Output::SetTimer {
                view,
                kind,
                after_ms,
            } => self
                .timers
                .push((Instant::now() + Duration::from_millis(after_ms), view, kind)),
            Output::Build {
                view,
                parent,
                parent_height,
            } => self.pending_build = Some((view, parent, parent_height)),
            Output::Verify(proposal) => self.verify(proposal),
            Output::Finalized {
                block,
                certificate,
                beacon,
            } => {
                if self.need_sync {
                    // Already behind: the sync will bring this block too.
                    return;
                }
                if self.net.is_some()
                    && (block.parent.0 != self.head.consensus_id
                        || !matches!(self.adopt_block(&block), Ok(true)))
                {
                    // Finalized by the others while this node missed the
                    // block: fetch it (and whatever else it missed).
                    tracing::info!(
                        height = block.height,
                        "chain.finalize: block data missing; syncing from peers"
                    );
                    self.need_sync = true;
                    return;
                }
                if let Err(e) = self.on_finalized(&block, &certificate, beacon) {
                    tracing::error!(height = block.height, error = %e, "chain.finalize: cannot commit a finalized block; stopping");
                    self.fatal = Some(format!(
                        "cannot commit finalized block {}: {e}",
                        block.height
                    ));
                    self.engine = None;
                }
            }
            Output::EpochEnded { epoch, last } => {
                if self.head.height < last.height {
                    // The others finalized the epoch's last block while this
                    // node missed its data: the next epoch's validator set
                    // comes from that block, so consensus waits for the sync
                    // to bring it, then restarts on the new head.
                    tracing::info!(
                        epoch,
                        last = last.height,
                        head = self.head.height,
                        "consensus.epoch: ended before this node has its last block; resuming after sync"
                    );
                    self.engine = None;
                    self.pending_build = None;
                    self.timers.clear();
                    self.need_sync = true;
                    return;
                }
                if let Err(e) = self.next_epoch(epoch, last) {
                    tracing::error!(epoch, error = %e, "consensus.epoch: cannot start the next epoch; stopping");
                    self.fatal = Some(format!(
                        "cannot start epoch {}: {e}",
                        epoch.saturating_add(1)
                    ));
                    self.engine = None;
                }
            }
            Output::ConflictingFinalization(certificate) => {
                tracing::error!(
                    view = certificate.view(),
                    "consensus.conflict: a conflicting finalization was seen"
                );
            }
            Output::Evidence(evidence) => {
                tracing::warn!(?evidence, "consensus.evidence: conflicting votes");
                if let Some(sink) = &self.evidence {
                    if sink
                        .try_send(sherd_consensus::Wire::encode(&evidence))
                        .is_err()
                    {
                        tracing::error!(
                            "consensus.evidence: dropped, the duty is behind by {} pieces",
                            crate::duties::EVIDENCE_CAPACITY
                        );
                    }
                }
            }
            Output::VotesChecked {
                epoch,
                vote,
                valid,
                invalid,
            } => {
                if !invalid.is_empty() {
                    tracing::debug!(?vote, ?invalid, "consensus.votes: invalid signatures");
                }
                if let Some(net) = &mut self.net {
                    net.relays.checked(epoch, vote, &valid, &invalid);
                }
            }
            Output::Rejected { from, error } => {
                tracing::debug!(from, %error, "consensus.rejected");
            }
        }
    }

    /// Observes how long the engine took, from entering a view, to have
    /// its notarization or finalization (it broadcasts each once).
    fn time_certificate(&self, message: &sherd_consensus::Message) {
        let (certificate, finalization) = match message {
            sherd_consensus::Message::Notarization { certificate, .. } => (certificate, false),
            sherd_consensus::Message::Finalization { certificate, .. } => (certificate, true),
            _ => return,
        };
        let key = (certificate.epoch, certificate.view());
        if let Some((_, started)) = self.view_started.iter().find(|(v, _)| *v == key) {
            self.shared
                .metrics
                .certificate(finalization, started.elapsed());
        }
    }

    /// The executed block `id`, re-executing it from its stored proposal
    /// (after a restart) if needed.
    fn ensure_executed(&mut self, id: BlockId) -> Result<Arc<Executed>, ExecError> {
        if let Some(ex) = self.executed.get(&id) {
            return Ok(ex.clone());
        }
        let bytes = self
            .shared
            .db
            .get(col::PROPOSED, &id.0)?
            .ok_or(InvalidBlock::Unknown(id))?;
        let (parent, block) = exec::parse_proposed(&bytes)?;
        let ancestors = self.ancestors_of(parent)?;
        let state = self.shared.db.state();
        let layers = ancestors.iter().map(|a| &a.output.changes).collect();
        let store = Layered::new(&state, layers);
        let shared = self.shared.clone();
        let (receipts, output, proofs) =
            exec::reexecute(&store, &block, |id| shared.mempool().get(id).cloned())?;
        if let Some(proofs) = proofs {
            self.shared
                .metrics
                .proof_seconds
                .observe(proofs.as_secs_f64());
        }
        let ledger_id = block.header.id()?;
        let ex = Arc::new(Executed {
            consensus_id: id,
            parent_consensus_id: parent,
            block,
            id: ledger_id,
            receipts,
            output,
            ancestors,
        });
        self.executed.insert(id, ex.clone());
        Ok(ex)
    }

    /// The unfinalized chain ending at `parent` (oldest first); empty if
    /// `parent` is the finalized head.
    fn ancestors_of(&mut self, parent: BlockId) -> Result<Vec<Arc<Executed>>, ExecError> {
        if parent.0 == self.head.consensus_id {
            return Ok(Vec::new());
        }
        let ex = self.ensure_executed(parent)?;
        let head = self.head.height;
        let mut chain: Vec<Arc<Executed>> = ex
            .ancestors
            .iter()
            .filter(|a| a.block.header.height > head)
            .cloned()
            .collect();
        chain.push(ex);
        Ok(chain)
    }

    fn build(&mut self, view: u64, parent: BlockId, parent_height: u64) {
        let started = Instant::now();
        match self.build_inner(view, parent, parent_height) {
            Ok(payload) => {
                self.shared.metrics.built(started.elapsed());
                self.last_block_at = Instant::now();
                self.handle(Input::Built {
                    view,
                    parent,
                    payload,
                });
            }
            Err(e) => {
                tracing::error!(view, error = %e, "chain.build: cannot build a block");
                self.last_block_at = Instant::now();
            }
        }
    }

    fn build_inner(
        &mut self,
        view: u64,
        parent: BlockId,
        parent_height: u64,
    ) -> Result<[u8; 32], ExecError> {
        let ancestors = self.ancestors_of(parent)?;
        let (parent_view, parent_id, parent_time) = match ancestors.last() {
            None => (self.head.view, self.head.block_id, self.head.timestamp_ms),
            Some(p) => (p.block.header.view, p.id, p.block.header.timestamp_ms),
        };
        let height = parent_height.saturating_add(1);
        let params = &self.shared.params;
        let epoch = params.epoch_of(height);
        let engine_epoch = self.engine.as_ref().map(|e| e.epoch()).unwrap_or(epoch);
        if epoch != engine_epoch {
            return Err(ExecError::WrongEpoch {
                height,
                epoch,
                engine: engine_epoch,
            });
        }
        let reveal = self
            .bls
            .sign(&beacon_message(&self.consensus_chain, epoch, view));
        let header = BlockHeader {
            chain_id: params.chain_id.clone(),
            height,
            epoch,
            view,
            parent: parent_id,
            proposer: self.operator,
            timestamp_ms: crate::now_ms().max(parent_time),
            tx_root: Hash::default(),
            state_root: Hash::default(),
            beacon: reveal.to_bytes(),
        };
        let state = self.shared.db.state();
        let store = Layered::new(
            &state,
            ancestors.iter().map(|a| &a.output.changes).collect(),
        );
        let candidates = {
            let view = StateView::new(&store);
            self.shared.mempool().select(MAX_BLOCK_TXS, |sender| {
                view.account(sender).map(|a| a.nonce).unwrap_or(0)
            })
        };
        let exec::Built {
            block,
            receipts,
            output,
            dropped,
            proofs,
        } = exec::build(&store, header, candidates)?;
        if let Some(proofs) = proofs {
            self.shared
                .metrics
                .proof_seconds
                .observe(proofs.as_secs_f64());
        }
        let ledger_id = block.header.id()?;
        let proposer_index = self.me;
        let consensus_id = Proposal {
            epoch,
            view,
            height,
            parent_view,
            parent,
            payload: ledger_id.0,
            proposer: proposer_index,
            reveal,
        }
        .id();
        // Durable with the engine's notarize vote on it, which the journal
        // commits right after `Built`: a restart can re-execute it.
        let proposed = exec::proposed_value(&parent, &block)?;
        self.shared.db.stage(vec![(
            col::PROPOSED,
            consensus_id.0.to_vec(),
            Some(proposed.clone()),
        )]);
        // Peers get the block's data before the proposal that names it.
        self.publish(ConsensusGossip::Block(proposed));
        if !dropped.is_empty() {
            self.shared.mempool().remove(&dropped);
        }
        tracing::debug!(
            height,
            view,
            txs = block.txs.len(),
            "chain.build: block built"
        );
        self.executed.insert(
            consensus_id,
            Arc::new(Executed {
                consensus_id,
                parent_consensus_id: parent,
                block,
                id: ledger_id,
                receipts,
                output,
                ancestors,
            }),
        );
        self.first_seen
            .entry(consensus_id)
            .or_insert((height, Instant::now()));
        self.shared
            .update_status(|s| s.height = s.height.max(height));
        Ok(ledger_id.0)
    }

    fn on_finalized(
        &mut self,
        proposal: &Proposal,
        certificate: &Certificate,
        beacon: [u8; 32],
    ) -> Result<(), ExecError> {
        let id = proposal.id();
        // A block finalized without this node having verified it (it saw the
        // certificate first): its data may still be in from gossip.
        if !self.adopt_block(proposal)? {
            return Err(InvalidBlock::DataMissing {
                height: proposal.height,
            }
            .into());
        }
        let ex = self.ensure_executed(id)?;
        if ex.parent_consensus_id.0 != self.head.consensus_id {
            return Err(ExecError::NotOnHead {
                height: proposal.height,
                head: self.head.height,
            });
        }
        if ex.id.0 != proposal.payload {
            return Err(ExecError::PayloadMismatch {
                height: proposal.height,
            });
        }
        let height = proposal.height;
        let mut extra: Vec<Op> = Vec::new();
        let ends_epoch = Self::last_height(&self.shared, self.epoch.epoch) == Some(height);
        let next_epoch = self.epoch.next(beacon);
        if ends_epoch {
            extra.push((col::META, meta::EPOCH.to_vec(), Some(next_epoch.to_bytes())));
            extra.extend(self.journal.prune_before(self.epoch.epoch));
        }
        let (ops, head) = exec::finalize_ops(&ex, proposal, certificate, beacon, extra)?;
        if self.hooks.crash_before_commit(height) {
            return Err(ExecError::SimulatedCrash { height });
        }
        // Queued: from here every read of the state sees the block, and this
        // node goes on with the next view while the committer logs it. The
        // block is announced final (status head, metrics) once it is
        // durable, from the committer thread.
        let seen = self.first_seen.remove(&id).map(|(_, seen)| seen);
        let count = u64::try_from(ex.block.txs.len()).unwrap_or(u64::MAX);
        let (accepted, refused) =
            ex.receipts
                .iter()
                .flat_map(|r| &r.proofs)
                .fold((0, 0), |(a, r), p| match p.result {
                    Ok(_) => (a + 1, r),
                    Err(_) => (a, r + 1),
                });
        let view = proposal.view;
        let timestamp_ms = ex.block.header.timestamp_ms;
        // Weak: the node may be shutting down when the callback runs, and
        // the database is not to be dropped from its own committer thread.
        let shared = Arc::downgrade(&self.shared);
        self.shared.db.commit_then(ops, move || {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            if let Some(seen) = seen {
                shared
                    .metrics
                    .finality_seconds
                    .observe(seen.elapsed().as_secs_f64());
            }
            shared.metrics.finalized(count, accepted, refused);
            shared.update_status(|s| {
                if head.height > s.head.height {
                    s.head = head;
                }
                s.height = s.height.max(head.height);
            });
            shared.observed.record_final(height, timestamp_ms, count);
            if count > 0 {
                tracing::info!(height, view, txs = count, root = %head.state_root, "chain.finalize: block final");
            } else {
                tracing::debug!(height, view, txs = count, root = %head.state_root, "chain.finalize: block final");
            }
        })?;
        // The account index follows in a commit of its own, queued after
        // this one (so never durable before it).
        self.indexer.index(
            height,
            crate::indexer::rows(
                height,
                ex.block.txs.iter().zip(ex.receipts.iter().map(|r| r.tx_id)),
            ),
        );
        self.first_seen.retain(|_, (h, _)| *h > height);
        self.head = head;
        self.last_progress = Instant::now();
        if ends_epoch {
            self.epoch = next_epoch;
        }
        self.executed.remove(&id);
        self.executed
            .retain(|_, other| other.block.header.height > height);
        {
            let state = self.shared.db.state();
            let view = StateView::new(&state);
            let mut pool = self.shared.mempool();
            let ids: Vec<Hash> = ex.receipts.iter().map(|r| r.tx_id).collect();
            pool.remove(&ids);
            for tx in &ex.block.txs {
                let sender = tx.body.sender;
                if let Ok(account) = view.account(&sender) {
                    pool.drop_used(&sender, account.nonce);
                }
            }
        }
        Ok(())
    }

    fn next_epoch(&mut self, ended: u64, last: Anchor) -> anyhow::Result<()> {
        let Some(engine) = self.engine.take() else {
            return Ok(());
        };
        let next = ended.saturating_add(1);
        let state = self.shared.db.state();
        let set = StateView::new(&state)
            .epoch_set(next)?
            .ok_or_else(|| anyhow::anyhow!("the state has no validator set for epoch {next}"))?;
        let validators = Arc::new(validator_set(&set)?);
        if self.epoch.epoch != next || self.epoch.start_beacon != last.beacon {
            anyhow::bail!(
                "epoch {next} begins after a block the chain did not record as its start"
            );
        }
        let next_me = validators.index_of(&self.bls.public_key());
        if next_me.is_none() || self.me == FOLLOWER {
            // Joining or leaving the set: a new engine on the epoch's first
            // anchor, validating or following as the set says.
            drop(engine);
            self.install_engine()?;
            tracing::info!(
                epoch = next,
                validating = self.me != FOLLOWER,
                "consensus.epoch: next epoch started"
            );
            return Ok(());
        }
        self.me = next_me.unwrap_or(FOLLOWER);
        if let Some(member) = usize::try_from(self.me)
            .ok()
            .and_then(|i| set.members.get(i))
        {
            self.operator = member.operator;
        }
        let engine = engine
            .next_epoch(
                validators,
                self.epoch.seed,
                Self::last_height(&self.shared, next),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        self.engine = Some(engine);
        // The ended engine's timers mean nothing to the new one.
        self.timers.clear();
        tracing::info!(epoch = next, "consensus.epoch: next epoch started");
        self.handle(Input::Start);
        Ok(())
    }
}
