//! A storage provider inside the node: a `sherd node` whose `config.toml`
//! has a `[provider]` section ([`config`]).
//!
//! The market logic is `sherd_market`'s ([`Provider`]: deal policy,
//! verified uploads, downloads, keeping the store in step with the chain;
//! [`Prover`]: which fragments to prove in each period). This module is the
//! IO around it:
//!
//! * the fragment store on disk ([`disk`]), indexed in the node's parity-db;
//! * the chain as the provider sees it ([`NodeChain`]): the committed state
//!   of this node;
//! * `/sherd/deal/1` requests (from the network task, through
//!   [`crate::shared::Shared::deals`]) and `/sherd/fragment/1` streams, each
//!   stream with an idle limit and at most [`MAX_STREAMS`] at once
//!   ([`MAX_STREAMS_PER_PEER`] from one peer);
//! * the duties, after every final block: keep the store in step with the
//!   chain (confirm, expire, release), prove every challenged fragment and
//!   submit the proofs in `SubmitProofs` batches signed with
//!   `<home>/provider.key`, resend what did not land; and every few seconds
//!   register the endpoint and (re-)advertise the terms when the chain's
//!   differ from the section's (read again from `config.toml` when it
//!   changes; terms advertised on chain after it was read, by `sherd
//!   provider advertise`, are kept).
//!
//! What it did is counted ([`ProviderRuntime::report`], served at
//! `GET /v1/provider`) and the prover's totals survive restarts (kept in
//! the fragment column).

pub mod config;
pub mod disk;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use futures::{future::Either, StreamExt};
use sherd_ledger::{
    state::Contract,
    tx::kind::{ProofAnswer, RegisterEndpoint, Role, SubmitProofs, MAX_PROOFS_PER_TX},
    Address, Amount, Hash, StateView, TxKind,
};
use sherd_market::{
    provider::{
        prover, ChainFacts, Earnings, Prover, ProverStats, Provider, ProviderChain, Served,
    },
    store::{FragmentKey, FragmentState, FragmentStore},
    wire::{self, DealRequest, DealResponse, Refusal},
};
use sherd_wallet::client::types::ProviderReport;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::metrics::{DealAnswer, ProviderHeld, Transfer};
use crate::net::{counted::Counted, timed::Timed, DealReply, NetHandle};
use crate::shared::Shared;
use config::{ProviderSection, DEFAULT_MAX_UPLOADS};
use disk::DiskStore;

/// Fragment streams served at once; more are closed at once.
pub const MAX_STREAMS: usize = 64;
/// Fragment streams one peer may have open at once; more are closed (a
/// client uploads to a provider one fragment at a time per object).
pub const MAX_STREAMS_PER_PEER: usize = 8;
/// A fragment stream that makes no progress for this long is dropped.
pub const STREAM_IDLE: Duration = Duration::from_secs(30);
/// Deal requests waiting to be answered, at most; more are refused as busy.
pub const DEAL_QUEUE: usize = 256;
/// Blocks to wait for a submitted proof before sending it again.
pub const RESUBMIT_AFTER: u64 = 3;
/// Largest `SubmitProofs` transaction the prover builds, about.
const BATCH_BYTES: usize = 1 << 20;
/// How often the follower looks for a new final block.
const POLL: Duration = Duration::from_millis(200);
/// How often registration and terms are checked against the chain.
const CHECK_TERMS: Duration = Duration::from_secs(5);
/// Every this many blocks, maintenance also releases fragments whose
/// contract ended or moved them.
const FULL_MAINTENANCE_EVERY: u64 = 10;
/// A head older than this means the node is still catching up (after a
/// restart): proofs made from its state would be for periods long closed.
const STALE_HEAD: Duration = Duration::from_secs(20);

/// A deal request from the network, with where its answer goes.
pub type DealInbound = (libp2p::PeerId, Vec<u8>, DealReply);

/// The provider as the node runs it.
pub type NodeProvider = Provider<DiskStore, NodeChain>;

/// The chain as a provider sees it: this node's committed state.
#[derive(Debug)]
pub struct NodeChain {
    shared: Arc<Shared>,
    address: Address,
}

impl ProviderChain for NodeChain {
    fn facts(&self, contract_id: &Hash) -> Result<ChainFacts, String> {
        let height = self.shared.committed_status().head.height;
        let state = self.shared.db.state();
        let view = StateView::new(&state);
        Ok(ChainFacts {
            chain_id: self.shared.params.chain_id.clone(),
            height,
            ad: view.provider(&self.address).map_err(|e| e.to_string())?,
            balance: view
                .find_account(&self.address)
                .map_err(|e| e.to_string())?
                .map_or(Amount::ZERO, |a| a.balance),
            contract: view.contract(contract_id).map_err(|e| e.to_string())?,
        })
    }

    fn contract(&self, id: &Hash) -> Result<Option<Contract>, String> {
        let state = self.shared.db.state();
        StateView::new(&state)
            .contract(id)
            .map_err(|e| e.to_string())
    }
}

/// Totals that survive restarts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Totals {
    prover: ProverStats,
    /// Base units earned by accepted proofs (escrow share + reward).
    earned: u64,
}

const TOTALS: &[u8] = b"totals";

impl Totals {
    fn to_bytes(self) -> Vec<u8> {
        [
            self.prover.submitted,
            self.prover.accepted,
            self.prover.missed,
            self.prover.periods,
            self.earned,
        ]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut words = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        let mut next = || words.next();
        Some(Self {
            prover: ProverStats {
                submitted: next()?,
                accepted: next()?,
                missed: next()?,
                periods: next()?,
            },
            earned: next()?,
        })
    }
}

/// The provider's moving parts, shared by its tasks and the API.
#[derive(Debug)]
pub struct ProviderRuntime {
    /// The market service.
    pub provider: Arc<NodeProvider>,
    /// The terms from `config.toml`, read again when it changes
    /// (`sherd provider advertise` writes it once the chain has the new
    /// terms).
    section: Mutex<ProviderSection>,
    /// `config.toml`.
    config: std::path::PathBuf,
    /// The final height when `section` was read: an advertisement on chain
    /// after it (made with the provider key by `sherd provider advertise`)
    /// is not overwritten with the section's terms.
    section_height: AtomicU64,
    shared: Arc<Shared>,
    key: SigningKey,
    prover: Mutex<Prover>,
    earned: AtomicU64,
    /// Escrow left of each held fragment when last seen, to count what an
    /// accepted proof paid.
    escrow_seen: Mutex<Earnings>,
    /// Challenges that could not be proven (file gone or damaged).
    pub unprovable: AtomicU64,
    /// Proof batches the mempool refused.
    pub refused_batches: AtomicU64,
    /// Fragment streams turned away because [`MAX_STREAMS`] were open.
    pub streams_refused: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ProviderRuntime {
    /// The provider's account.
    pub fn address(&self) -> Address {
        self.provider.address()
    }

    /// Everything `GET /v1/provider` shows.
    pub fn report(&self) -> ProviderReport {
        let address = self.address();
        let state = self.shared.db.state();
        let view = StateView::new(&state);
        let ad = view.provider(&address).ok().flatten();
        let registered = view
            .endpoint(&address)
            .ok()
            .flatten()
            .is_some_and(|e| e.role == Role::Provider);
        let balance = view
            .find_account(&address)
            .ok()
            .flatten()
            .map_or(0, |a| a.balance.0);
        let records = self.provider.store().records().unwrap_or_default();
        let active = records
            .iter()
            .filter(|r| r.state == FragmentState::Active)
            .count();
        let bytes_held = records
            .iter()
            .fold(0u64, |sum, r| sum.saturating_add(r.proposal.fragment_size));
        let (_, _, pending) = self.provider.pending();
        let prover = lock(&self.prover);
        let stats = prover.stats();
        let (challenged, proven) = prover.progress();
        let earned = self.earned.load(Ordering::Relaxed);
        let s = &self.provider.stats;
        // Not inside the literal: its temporaries live to the end of it,
        // and `same_terms` below locks the section too.
        let terms = lock(&self.section).terms();
        ProviderReport {
            address: address.to_string(),
            storage_dir: self.provider.store().dir().display().to_string(),
            terms,
            registered,
            capacity_bytes: ad.as_ref().map(|a| a.capacity_bytes),
            used_bytes: ad.as_ref().map(|a| a.used_bytes),
            advertised: ad.as_ref().is_some_and(|a| self.same_terms(a)),
            balance_base: balance,
            fragments_active: active as u64,
            fragments_pending: records.len().saturating_sub(active) as u64,
            bytes_held,
            reservations: pending.saturating_sub(records.len().saturating_sub(active)) as u64,
            proofs_submitted: stats.submitted,
            proofs_accepted: stats.accepted,
            proofs_missed: stats.missed,
            proofs_unprovable: self.unprovable.load(Ordering::Relaxed),
            period: prover.period(),
            period_challenged: challenged as u64,
            period_proven: proven as u64,
            earned: Amount(earned),
            earned_base: earned,
            deals_reserved: s.reserved.load(Ordering::Relaxed),
            deals_refused: s.refused.load(Ordering::Relaxed),
            uploads_stored: s.stored.load(Ordering::Relaxed),
            uploads_failed: s.uploads_failed.load(Ordering::Relaxed),
            downloads_served: s.served.load(Ordering::Relaxed),
            expired: s.expired.load(Ordering::Relaxed),
            released: s.released.load(Ordering::Relaxed),
        }
    }

    /// What `/metrics` shows of the provider: its store and proof totals.
    pub fn held(&self) -> ProviderHeld {
        let records = self.provider.store().records().unwrap_or_default();
        let mut held = records.iter().fold(ProviderHeld::default(), |mut h, r| {
            h.bytes = h.bytes.saturating_add(r.proposal.fragment_size);
            if r.state == FragmentState::Active {
                h.active = h.active.saturating_add(1);
            } else {
                h.pending = h.pending.saturating_add(1);
            }
            h
        });
        let stats = lock(&self.prover).stats();
        held.proofs_submitted = stats.submitted;
        held.proofs_accepted = stats.accepted;
        held.proofs_missed = stats.missed;
        held.proofs_unprovable = self.unprovable.load(Ordering::Relaxed);
        held
    }

    fn same_terms(&self, ad: &sherd_ledger::state::ProviderAd) -> bool {
        let want = lock(&self.section).advertisement();
        ad.capacity_bytes == want.capacity_bytes
            && ad.price_per_gib_epoch == want.price_per_gib_epoch
            && ad.collateral_per_gib == want.collateral_per_gib
            && ad.min_duration_epochs == want.min_duration_epochs
            && ad.max_duration_epochs == want.max_duration_epochs
    }

    fn save_totals(&self) {
        let totals = Totals {
            prover: lock(&self.prover).stats(),
            earned: self.earned.load(Ordering::Relaxed),
        };
        if let Err(e) = self.provider.store().set_own(TOTALS, totals.to_bytes()) {
            tracing::warn!(error = %e, "provider.totals: not saved");
        }
    }
}

/// Everything [`start`] needs.
#[derive(Debug)]
pub struct ProviderStart {
    /// The node's home (the storage dir is relative to it).
    pub home: std::path::PathBuf,
    /// The `[provider]` section.
    pub section: ProviderSection,
    /// `provider.key`.
    pub key: SigningKey,
    /// The node's libp2p peer id, binary.
    pub peer_id: Vec<u8>,
    /// Its listen addresses, binary.
    pub listen: Vec<Vec<u8>>,
}

/// Opens the store and starts the provider's tasks: deals (from `deals`),
/// fragment streams, and the duties after every final block.
pub fn start(
    shared: Arc<Shared>,
    net: &NetHandle,
    deals: mpsc::Receiver<DealInbound>,
    start: ProviderStart,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Arc<ProviderRuntime>> {
    use anyhow::Context;
    start
        .section
        .check()
        .map_err(|e| anyhow::anyhow!("config.toml [provider]: {e}"))?;
    let dir = if start.section.storage_dir.is_absolute() {
        start.section.storage_dir.clone()
    } else {
        start.home.join(&start.section.storage_dir)
    };
    let (store, recovery) = DiskStore::open(&dir, shared.db.clone())
        .with_context(|| format!("cannot open the fragment store in {}", dir.display()))?;
    if recovery != disk::Recovery::default() {
        tracing::warn!(
            partial = recovery.partial,
            orphans = recovery.orphans,
            missing = recovery.missing,
            "provider.store: cleaned up after an unclean stop"
        );
    }
    let totals = store
        .own(TOTALS)
        .ok()
        .flatten()
        .and_then(|b| Totals::from_bytes(&b))
        .unwrap_or_default();
    let address = Address::from(&start.key.verifying_key());
    let chain = NodeChain {
        shared: shared.clone(),
        address,
    };
    let provider = Provider::new(
        start.key.clone(),
        store,
        chain,
        start.section.policy(),
        start.section.max_uploads.unwrap_or(DEFAULT_MAX_UPLOADS),
    )
    .context("cannot read the fragment index")?;
    let runtime = Arc::new(ProviderRuntime {
        provider: Arc::new(provider),
        section: Mutex::new(start.section.clone()),
        config: start.home.join("config.toml"),
        section_height: AtomicU64::new(shared.committed_status().head.height),
        shared: shared.clone(),
        key: start.key.clone(),
        prover: Mutex::new(Prover::new(address, RESUBMIT_AFTER).with_stats(totals.prover)),
        earned: AtomicU64::new(totals.earned),
        escrow_seen: Mutex::new(Earnings::default()),
        unprovable: AtomicU64::new(0),
        refused_batches: AtomicU64::new(0),
        streams_refused: AtomicU64::new(0),
    });
    let held = runtime
        .provider
        .store()
        .records()
        .map(|r| r.len())
        .unwrap_or(0);
    tracing::info!(%address, dir = %dir.display(), held, "provider.start: serving deals and fragments");
    spawn_deals(runtime.clone(), net.clone(), deals, shutdown.clone());
    spawn_streams(runtime.clone(), net, shutdown.clone())?;
    spawn_duties(
        runtime.clone(),
        RegisterEndpoint {
            role: Role::Provider,
            peer_id: start.peer_id,
            multiaddrs: start
                .listen
                .into_iter()
                .map(sherd_ledger::tx::kind::Multiaddr)
                .collect(),
        },
        shutdown,
    );
    Ok(runtime)
}

fn spawn_deals(
    runtime: Arc<ProviderRuntime>,
    net: NetHandle,
    mut deals: mpsc::Receiver<DealInbound>,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        loop {
            let (peer, bytes, reply) = tokio::select! {
                _ = shutdown.changed() => return,
                next = deals.recv() => match next {
                    Some(next) => next,
                    None => return,
                },
            };
            let response = match wire::decode::<DealRequest>(&bytes, wire::MAX_DEAL_MESSAGE) {
                Ok(request) => {
                    let provider = runtime.provider.clone();
                    // It reads the state and may sign: off the async workers.
                    tokio::task::spawn_blocking(move || provider.deal(request))
                        .await
                        .unwrap_or_else(|e| DealResponse::Refused(Refusal::internal(e.to_string())))
                }
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "provider.deal: a request that does not decode");
                    DealResponse::Refused(Refusal::invalid(format!(
                        "the request does not decode: {e}"
                    )))
                }
            };
            runtime.shared.metrics.deal(match &response {
                DealResponse::Reserved { .. } => DealAnswer::Reserved,
                DealResponse::Accepted { .. } => DealAnswer::Accepted,
                DealResponse::Refused(refusal) => DealAnswer::Refused(refusal),
            });
            match wire::encode(&response) {
                Ok(bytes) => {
                    let _ = net.respond_deal(reply, bytes).await;
                }
                Err(e) => tracing::error!(error = %e, "provider.deal: cannot encode an answer"),
            }
        }
    });
}

/// The answer to a deal request the provider has no room to look at.
pub fn busy_answer() -> Vec<u8> {
    wire::encode(&DealResponse::Refused(Refusal::busy(
        "too many deal requests waiting; try again",
    )))
    .unwrap_or_default()
}

/// Fragment streams open, by peer.
type OpenByPeer = Arc<Mutex<std::collections::HashMap<libp2p::PeerId, usize>>>;

/// One of a peer's [`MAX_STREAMS_PER_PEER`] stream slots, given back on drop.
struct PeerSlot {
    open: OpenByPeer,
    peer: libp2p::PeerId,
}

impl PeerSlot {
    fn take(open: &OpenByPeer, peer: libp2p::PeerId) -> Option<Self> {
        let mut map = open.lock().unwrap_or_else(|p| p.into_inner());
        let count = map.entry(peer).or_default();
        if *count >= MAX_STREAMS_PER_PEER {
            return None;
        }
        *count += 1;
        Some(Self {
            open: open.clone(),
            peer,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut map = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = map.get_mut(&self.peer) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                map.remove(&self.peer);
            }
        }
    }
}

fn spawn_streams(
    runtime: Arc<ProviderRuntime>,
    net: &NetHandle,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut incoming = net.accept_fragments()?;
    let slots = Arc::new(Semaphore::new(MAX_STREAMS));
    let per_peer = OpenByPeer::default();
    tokio::spawn(async move {
        loop {
            let (peer, stream) = tokio::select! {
                _ = shutdown.changed() => return,
                next = incoming.next() => match next {
                    Some(next) => next,
                    None => return,
                },
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                runtime.streams_refused.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, "provider.stream: too many open, closed");
                drop(stream);
                continue;
            };
            let Some(peer_slot) = PeerSlot::take(&per_peer, peer) else {
                runtime.streams_refused.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, "provider.stream: too many open by this peer, closed");
                drop(stream);
                continue;
            };
            let provider = runtime.provider.clone();
            let shared = runtime.shared.clone();
            let mut stop = shutdown.clone();
            // On the blocking pool, not an async worker: between its awaits
            // a stream writes, reads and fsyncs its fragment file (and
            // commits the index), which would stall every other task of
            // the node on the worker it ran on. The stream itself is
            // driven by its connection's task as before; it ends when the
            // node stops (an upload cut short is left in `incoming/`,
            // removed at the next start).
            tokio::task::spawn_blocking(move || {
                let started = Instant::now();
                let mut stream = Counted::new(Timed::new(stream, STREAM_IDLE));
                let served = {
                    let serve = provider.serve_stream(&mut stream);
                    let stop = stop.changed();
                    futures::pin_mut!(serve, stop);
                    match futures::executor::block_on(futures::future::select(serve, stop)) {
                        Either::Left((Ok(served), _)) => Some(served),
                        Either::Left((Err(e), _)) => {
                            tracing::debug!(%peer, error = %e, "provider.stream: ended with an error");
                            None
                        }
                        // The node is stopping.
                        Either::Right(_) => None,
                    }
                };
                let (direction, ok, bytes) = match served {
                    Some(Served::Upload { stored }) => (Transfer::Upload, stored, stream.read),
                    Some(Served::Download { sent }) => (Transfer::Download, sent, stream.written),
                    // Which way it went is not known; mostly cut-short
                    // downloads (an upload's errors end in `Served`).
                    None if stream.written > stream.read => (Transfer::Download, false, 0),
                    None => (Transfer::Upload, false, 0),
                };
                shared
                    .metrics
                    .transfer(direction, ok, started.elapsed(), bytes);
                drop(peer_slot);
                drop(slot);
            });
        }
    });
    Ok(())
}

fn spawn_duties(
    runtime: Arc<ProviderRuntime>,
    endpoint: RegisterEndpoint,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut poll = tokio::time::interval(POLL);
        let mut terms = tokio::time::interval(CHECK_TERMS);
        let mut last = None;
        loop {
            tokio::select! {
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        runtime.save_totals();
                        return;
                    }
                }
                _ = terms.tick() => check_terms(&runtime, &endpoint),
                _ = poll.tick() => {
                    let height = runtime.shared.committed_status().head.height;
                    if last == Some(height) {
                        continue;
                    }
                    last = Some(height);
                    let r = runtime.clone();
                    if let Err(e) = tokio::task::spawn_blocking(move || after_block(&r, height)).await {
                        tracing::error!(error = %e, "provider.duty: panicked");
                    }
                }
            }
        }
    });
}

/// Registers the endpoint, then advertises the section's terms, whenever
/// the chain's differ; one transaction at a time.
fn check_terms(runtime: &ProviderRuntime, endpoint: &RegisterEndpoint) {
    follow_config(runtime);
    let address = runtime.address();
    let shared = &runtime.shared;
    let state = shared.db.state();
    let view = StateView::new(&state);
    let Ok(Some(account)) = view.find_account(&address) else {
        tracing::warn!(%address, "provider.terms: the provider account has no funds yet; send it tokens for fees and collateral");
        return;
    };
    if shared.mempool().has_nonce(&address, account.nonce) {
        return;
    }
    let registered = view.endpoint(&address).ok().flatten();
    let current = registered.as_ref().is_some_and(|e| {
        e.role == endpoint.role
            && e.peer_id == endpoint.peer_id
            && e.multiaddrs == endpoint.multiaddrs
    });
    let ad = view.provider(&address).ok().flatten();
    let kind = if !current {
        TxKind::RegisterEndpoint(endpoint.clone())
    } else if ad.as_ref().is_some_and(|ad| runtime.same_terms(ad)) {
        return;
    } else if ad
        .as_ref()
        .is_some_and(|ad| ad.updated_at > runtime.section_height.load(Ordering::Relaxed))
    {
        // Advertised with this provider's key after the section was read:
        // `sherd provider advertise`, which writes config.toml next.
        tracing::debug!(
            "provider.terms: the chain's terms are newer than config.toml's; keeping them"
        );
        return;
    } else {
        TxKind::AdvertiseCapacity(lock(&runtime.section).advertisement())
    };
    let what = kind.name();
    match crate::duties::sign_and_submit(shared, &runtime.key, kind) {
        Ok(hash) => tracing::info!(tx = %hash, what, "provider.terms: submitted"),
        Err(e) => tracing::warn!(error = %e, what, "provider.terms: not submitted"),
    }
}

/// Takes the terms of `config.toml`'s `[provider]` section when they
/// changed (`sherd provider advertise` on a running provider): without
/// this the node would advertise the terms it started with again. A
/// section that no longer reads or checks is reported and ignored.
fn follow_config(runtime: &ProviderRuntime) {
    let read = crate::home::provider_section(&runtime.config);
    let mut section = lock(&runtime.section);
    match read {
        Ok(Some(new)) if new != *section => {
            runtime.section_height.store(
                runtime.shared.committed_status().head.height,
                Ordering::Relaxed,
            );
            tracing::info!(
                config = %runtime.config.display(),
                "provider.terms: config.toml changed; following its [provider] terms"
            );
            *section = new;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "provider.terms: config.toml does not read; keeping the terms in use");
        }
    }
}

/// The duties after final block `height`: maintenance, then proofs.
fn after_block(runtime: &ProviderRuntime, height: u64) {
    let full = height % FULL_MAINTENANCE_EVERY == 0;
    match runtime.provider.maintain(height, full) {
        Ok(done) if done != Default::default() => {
            tracing::info!(
                height,
                confirmed = done.confirmed,
                expired = done.expired,
                released = done.released,
                "provider.maintain: store follows the chain"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "provider.maintain: failed"),
    }
    prove(runtime, height);
}

fn prove(runtime: &ProviderRuntime, height: u64) {
    let shared = &runtime.shared;
    let head = shared.committed_status().head;
    let age = crate::now_ms().saturating_sub(head.timestamp_ms);
    if u128::from(age) > STALE_HEAD.as_millis() {
        tracing::debug!(
            height,
            age_ms = age,
            "provider.prove: the node is catching up; proving waits"
        );
        return;
    }
    let params = &shared.params;
    let state = shared.db.state();
    let view = StateView::new(&state);
    let with_contract =
        |key: FragmentKey| Some((key, view.contract(&key.contract_id).ok().flatten()?));
    // Every held fragment when a period opens or closes; in between only
    // those whose proof is in flight (see `Prover::needs_all`).
    let needs_all = lock(&runtime.prover).needs_all(params, height);
    let held: Vec<(FragmentKey, Contract)> = if needs_all {
        let records = match runtime.provider.store().records() {
            Ok(records) => records,
            Err(e) => {
                tracing::error!(error = %e, "provider.prove: cannot read the index");
                return;
            }
        };
        let held: Vec<_> = records
            .iter()
            .filter(|r| r.state == FragmentState::Active)
            .filter_map(|r| with_contract(r.key()))
            .collect();
        count_earnings(runtime, &held);
        held
    } else {
        let in_flight: Vec<FragmentKey> = lock(&runtime.prover).in_flight().copied().collect();
        in_flight.into_iter().filter_map(with_contract).collect()
    };
    // Prove only what the mempool will take now: every validator holds at
    // most `MAX_FUTURE_NONCES` transactions of one sender, so more batches
    // would be refused and proven again next block.
    let address = Address::from(&runtime.key.verifying_key());
    let slots = crate::mempool::MAX_FUTURE_NONCES
        .saturating_sub(shared.mempool().pending_of(&address) as u64)
        .try_into()
        .unwrap_or(usize::MAX);
    let seed = prover::open_period(params, height).and_then(|p| view.period_seed(p).ok().flatten());
    let tick = lock(&runtime.prover).tick(
        params,
        height,
        seed.as_ref(),
        &held,
        slots.saturating_mul(MAX_PROOFS_PER_TX),
    );
    if let Some(closed) = &tick.closed {
        for key in &closed.missed {
            tracing::warn!(period = closed.period, fragment = %key, "provider.prove: challenge missed");
        }
        if closed.accepted.is_empty() && closed.missed.is_empty() {
            tracing::debug!(
                period = closed.period,
                "provider.prove: period closed, nothing challenged"
            );
        } else {
            tracing::info!(
                period = closed.period,
                accepted = closed.accepted.len(),
                missed = closed.missed.len(),
                "provider.prove: period closed"
            );
            runtime.save_totals();
        }
    }
    if tick.prove.is_empty() {
        return;
    }
    let mut answers = Vec::with_capacity(tick.prove.len());
    for challenge in &tick.prove {
        match make_proof(runtime, challenge) {
            Ok(answer) => answers.push(answer),
            Err(reason) => {
                runtime.unprovable.fetch_add(1, Ordering::Relaxed);
                lock(&runtime.prover).unprovable(&challenge.key, height);
                tracing::error!(fragment = %challenge.key, period = challenge.period, %reason, "provider.prove: cannot prove a held fragment");
            }
        }
    }
    for batch in prover::batches(answers, MAX_PROOFS_PER_TX, BATCH_BYTES)
        .into_iter()
        .take(slots)
    {
        let keys: Vec<FragmentKey> = batch
            .iter()
            .map(|a| FragmentKey {
                contract_id: a.contract_id,
                index: a.fragment_index,
            })
            .collect();
        let count = batch.len();
        match crate::duties::sign_and_submit(
            shared,
            &runtime.key,
            TxKind::SubmitProofs(SubmitProofs { proofs: batch }),
        ) {
            Ok(hash) => {
                lock(&runtime.prover).submitted(keys, height);
                tracing::info!(tx = %hash, count, height, "provider.prove: proofs submitted");
            }
            Err(e) => {
                runtime.refused_batches.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, count, "provider.prove: proofs not submitted; retrying next block");
            }
        }
    }
}

fn make_proof(
    runtime: &ProviderRuntime,
    challenge: &prover::Challenge,
) -> Result<ProofAnswer, String> {
    let file = runtime
        .provider
        .store()
        .open(&challenge.key)
        .map_err(|e| e.to_string())?
        .ok_or("its file is missing")?;
    let (_, proof) =
        sherd_fragments::file::prove(&file, challenge.chunk).map_err(|e| e.to_string())?;
    Ok(ProofAnswer {
        contract_id: challenge.key.contract_id,
        fragment_index: challenge.key.index,
        period: challenge.period,
        proof: proof.to_bytes(),
    })
}

/// Counts what accepted proofs paid (see [`Earnings`]).
fn count_earnings(runtime: &ProviderRuntime, held: &[(FragmentKey, Contract)]) {
    let earned = lock(&runtime.escrow_seen).update(held, runtime.shared.params.proof_reward);
    if earned > 0 {
        runtime.earned.fetch_add(earned, Ordering::Relaxed);
    }
}

/// Reads `<home>/provider.key`, or says how to make one.
pub fn read_key(home: &Path) -> anyhow::Result<SigningKey> {
    let path = home.join("provider.key");
    if !path.exists() {
        anyhow::bail!(
            "config.toml has a [provider] section but {} does not exist: run `sherd provider init --home {}`",
            path.display(),
            home.display()
        );
    }
    Ok(sherd_wallet::keyfile::read_ed25519(&path)?)
}
