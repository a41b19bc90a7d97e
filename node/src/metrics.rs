//! The node's Prometheus metrics: one [`Registry`] of `prometheus-client`
//! families, recorded where the work happens and served at `GET /metrics`.
//!
//! Recording is an atomic add (counters, gauges) or one short uncontended
//! lock inside the crate (a histogram observation); handles are cloned
//! once, so the hot paths never look a label set up. Values that already
//! live elsewhere (heights, the mempool, the provider's store and proof
//! totals) are read when `/metrics` is scraped, not pushed.
//!
//! The route serves the Prometheus text format 0.0.4: `prometheus-client`
//! writes OpenMetrics, whose counter families are named without their
//! `_total` suffix; [`prometheus_text`] renames those, drops the
//! OpenMetrics-only lines, and `promtool check metrics` accepts the result
//! (a test runs it on a live node). Every name and its buckets are listed
//! in the crate README.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sherd_market::wire::Refusal;

use crate::shared::Shared;

/// The `Content-Type` of `/metrics`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Finality latency, seconds: a few tens of milliseconds on a quiet local
/// testnet, seconds when views fail or the chain is loaded.
const FINALITY_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Block execution, seconds: ~100 µs for an empty block to seconds for a
/// full one ([`crate::actor::MAX_BLOCK_TXS`] transactions).
const EXECUTION_BUCKETS: [f64; 14] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Vote collection, seconds: network round trips, plus the leader's wait
/// for transactions (up to the idle interval, 2 s) in a view's proposal.
const VOTE_BUCKETS: [f64; 13] = [
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Storage-proof checks of one block, seconds: tens of microseconds per
/// proof (a Merkle path), a batch of hundreds in a busy block.
const PROOF_BUCKETS: [f64; 13] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
/// One fragment transfer, seconds: milliseconds for small fragments on
/// loopback to a minute for large ones on a slow link.
const TRANSFER_SECONDS_BUCKETS: [f64; 13] = [
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// One fragment transfer, bytes: powers of 4 from 1 KiB to 1 GiB.
const TRANSFER_BYTES_BUCKETS: [f64; 11] = [
    1_024.0,
    4_096.0,
    16_384.0,
    65_536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
    268_435_456.0,
    1_073_741_824.0,
];

/// A histogram family's constructor.
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// `phase="build"|"verify"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Phase {
    phase: &'static str,
}

/// `certificate="notarization"|"finalization"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertificateKind {
    certificate: &'static str,
}

/// `topic="transactions"|"consensus"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Topic {
    topic: &'static str,
}

/// `direction="upload"|"download"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Direction {
    direction: &'static str,
}

/// A transfer's direction and whether it completed.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransferOutcome {
    direction: &'static str,
    outcome: &'static str,
}

/// `state="active"|"pending"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HeldState {
    state: &'static str,
}

/// `answer="reserved"|"accepted"|"refused"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Answer {
    answer: &'static str,
}

/// A refusal's kind, `reason="no_capacity"`, ….
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

/// Requests and connections the API's limits refused, by reason (see
/// [`crate::limits::reason`]); a clone records into the same registry.
#[derive(Debug, Clone, Default)]
pub struct ApiRefusals(Family<Reason, Counter>);

impl ApiRefusals {
    /// Counts one refusal for `reason`.
    pub fn inc(&self, reason: &'static str) {
        self.0.get_or_create(&Reason { reason }).inc();
    }
}

/// `result="accepted"|"refused"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProofResult {
    result: &'static str,
}

/// `outcome="done"|"failed"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// Which way a fragment went, on the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// A client (or repairer) sent a fragment here.
    Upload,
    /// A client read a fragment from here.
    Download,
}

impl Transfer {
    fn label(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::Download => "download",
        }
    }
}

/// A deal answer, for [`Metrics::deal`].
#[derive(Debug, Clone, Copy)]
pub enum DealAnswer<'a> {
    /// Room reserved.
    Reserved,
    /// Fragment accepted (signed).
    Accepted,
    /// Refused, and why.
    Refused(&'a Refusal),
}

/// The stable label of a refusal's kind.
fn refusal_reason(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::WrongChain { .. } => "wrong_chain",
        Refusal::NoCapacity { .. } => "no_capacity",
        Refusal::PriceTooLow { .. } => "price_too_low",
        Refusal::Duration { .. } => "duration",
        Refusal::NoCollateral { .. } => "no_collateral",
        Refusal::NotAdvertised => "not_advertised",
        Refusal::Busy { .. } => "busy",
        Refusal::Unknown { .. } => "unknown",
        Refusal::Invalid { .. } => "invalid",
        Refusal::Internal { .. } => "internal",
    }
}

/// The node's metrics. Fields are handles into [`Self::registry`]'s
/// families: record on them directly.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,

    /// Highest block executed (scrape time).
    height: Gauge,
    /// Highest finalized block (scrape time).
    finalized_height: Gauge,
    /// The engine's epoch (scrape time).
    epoch: Gauge,
    /// The engine's view (scrape time).
    view: Gauge,
    /// Transactions in the mempool (scrape time).
    mempool_size: Gauge,
    /// Blocks this node built.
    pub blocks_built: Counter,
    /// Blocks committed final (built, verified or synced).
    pub blocks_finalized: Counter,
    /// Transactions in finalized blocks.
    pub txs_finalized: Counter,
    /// Transactions refused on admission to the mempool.
    pub txs_rejected: Counter,
    /// Finalized blocks applied by block sync.
    pub sync_blocks_applied: Counter,
    /// Re-broadcast certificates dropped before decoding (already held).
    pub certificates_skipped: Counter,
    build_seconds: Histogram,
    verify_seconds: Histogram,
    /// The last build's execution time, seconds (kept from the old route).
    build_last_seconds: Gauge<f64, AtomicU64>,
    /// Proposal seen or built → its commit durable.
    pub finality_seconds: Histogram,
    notarization_seconds: Histogram,
    finalization_seconds: Histogram,
    /// Per block: time applying its storage-proof transactions.
    pub proof_seconds: Histogram,
    proofs_accepted: Counter,
    proofs_refused: Counter,

    /// Connected libp2p peers.
    pub peers: Gauge,
    gossip_in: Family<Topic, Counter>,
    gossip_out: Family<Topic, Counter>,

    provider_stored_bytes: Gauge,
    provider_fragments: Family<HeldState, Gauge>,
    provider_proofs_submitted: Counter,
    provider_proofs_accepted: Counter,
    provider_proofs_missed: Counter,
    provider_proofs_unprovable: Counter,
    deals: Family<Answer, Counter>,
    deals_refused: Family<Reason, Counter>,
    transfer_seconds: Histograms<Direction>,
    transfer_bytes: Histograms<Direction>,
    transfers: Family<TransferOutcome, Counter>,

    repairs: Family<Outcome, Counter>,

    /// Requests and connections refused by the API's limits.
    pub api_refused: ApiRefusals,

    /// CPU time of the whole process (all threads), read at scrape time.
    process_cpu_seconds: Counter<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn histogram<const N: usize>(buckets: &'static [f64; N]) -> Histogram {
    Histogram::new(buckets.iter().copied())
}

impl Metrics {
    /// Every family registered, each label set the node uses created (so a
    /// series exists, at zero, before its first event).
    pub fn new() -> Self {
        let mut r = Registry::default();
        let gauge = |r: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            r.register(name, help, g.clone());
            g
        };
        let counter = |r: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            r.register(name, help, c.clone());
            c
        };

        let height = gauge(
            &mut r,
            "sherd_height",
            "Highest block executed (finalized or not)",
        );
        let finalized_height = gauge(&mut r, "sherd_finalized_height", "Highest finalized block");
        let epoch = gauge(&mut r, "sherd_epoch", "The consensus engine's epoch");
        let view = gauge(&mut r, "sherd_view", "The consensus engine's view");
        let mempool_size = gauge(
            &mut r,
            "sherd_mempool_size",
            "Transactions waiting in the mempool",
        );
        let blocks_built = counter(&mut r, "sherd_blocks_built", "Blocks built by this node");
        let blocks_finalized = counter(
            &mut r,
            "sherd_blocks_finalized",
            "Blocks this node committed as final (built, verified or synced)",
        );
        let txs_finalized = counter(
            &mut r,
            "sherd_txs_finalized",
            "Transactions in blocks this node committed as final",
        );
        let txs_rejected = counter(
            &mut r,
            "sherd_txs_rejected",
            "Transactions refused on admission to the mempool (API or gossip): replays, bad nonces, fees, a full mempool",
        );
        let certificates_skipped = counter(
            &mut r,
            "sherd_certificates_skipped",
            "Consensus certificates received that the engine already held, dropped before their points were decoded",
        );
        let sync_blocks_applied = counter(
            &mut r,
            "sherd_sync_blocks_applied",
            "Finalized blocks fetched from peers by block sync and committed",
        );

        let execution: Histograms<Phase> =
            Family::new_with_constructor(|| histogram(&EXECUTION_BUCKETS));
        r.register(
            "sherd_block_execution_seconds",
            "Time to execute a block: phase=build (select from the mempool, apply, state root; this node proposes) or phase=verify (re-execute a peer's proposal, ancestors it lacked included)",
            execution.clone(),
        );
        let build_seconds = execution.get_or_create(&Phase { phase: "build" }).clone();
        let verify_seconds = execution.get_or_create(&Phase { phase: "verify" }).clone();
        let process_cpu_seconds = Counter::<f64, AtomicU64>::default();
        r.register(
            "process_cpu_seconds",
            "User and system CPU time of the node process, all threads, seconds",
            process_cpu_seconds.clone(),
        );
        let build_last_seconds = Gauge::<f64, AtomicU64>::default();
        r.register(
            "sherd_block_execution_last_seconds",
            "Time to build the last block this node built",
            build_last_seconds.clone(),
        );
        let finality_seconds = histogram(&FINALITY_BUCKETS);
        r.register(
            "sherd_finality_latency_seconds",
            "From when this node had a block's proposal (built it, or received it to verify) to when the block's commit as final was durable. Observed on validators: a follower is never asked to verify, and blocks learnt by sync are not observed",
            finality_seconds.clone(),
        );
        let votes: Histograms<CertificateKind> =
            Family::new_with_constructor(|| histogram(&VOTE_BUCKETS));
        r.register(
            "sherd_vote_collection_seconds",
            "From when this node's engine entered a view to when it had the view's notarization or finalization certificate (assembled from votes or received). Includes the leader's wait to build",
            votes.clone(),
        );
        let notarization_seconds = votes
            .get_or_create(&CertificateKind {
                certificate: "notarization",
            })
            .clone();
        let finalization_seconds = votes
            .get_or_create(&CertificateKind {
                certificate: "finalization",
            })
            .clone();
        let proof_seconds = histogram(&PROOF_BUCKETS);
        r.register(
            "sherd_proof_verification_seconds",
            "Per block holding storage proofs: time the ledger spent applying its SubmitProofs transactions (the proof checks and the payouts they make), when building or verifying. Blocks without proofs are not observed",
            proof_seconds.clone(),
        );
        let proofs: Family<ProofResult, Counter> = Family::default();
        r.register(
            "sherd_proofs_finalized",
            "Storage proofs in blocks this node committed as final, by the ledger's result",
            proofs.clone(),
        );
        let proofs_accepted = proofs
            .get_or_create(&ProofResult { result: "accepted" })
            .clone();
        let proofs_refused = proofs
            .get_or_create(&ProofResult { result: "refused" })
            .clone();

        let peers = gauge(&mut r, "sherd_peers_connected", "Connected libp2p peers");
        let gossip_in: Family<Topic, Counter> = Family::default();
        r.register(
            "sherd_gossip_received_bytes",
            "Bytes of gossip messages delivered to this node, by topic",
            gossip_in.clone(),
        );
        let gossip_out: Family<Topic, Counter> = Family::default();
        r.register(
            "sherd_gossip_published_bytes",
            "Bytes of gossip messages this node published, by topic (gossipsub's forwarding of others' messages not counted)",
            gossip_out.clone(),
        );
        for topic in ["transactions", "consensus"] {
            let _ = gossip_in.get_or_create(&Topic { topic });
            let _ = gossip_out.get_or_create(&Topic { topic });
        }

        let provider_stored_bytes = gauge(
            &mut r,
            "sherd_provider_stored_bytes",
            "Storage provider: bytes of fragment data held (active and pending)",
        );
        let provider_fragments: Family<HeldState, Gauge> = Family::default();
        r.register(
            "sherd_provider_fragments",
            "Storage provider: fragments held, state=active (under contract) or pending (waiting for the contract)",
            provider_fragments.clone(),
        );
        let provider_proofs_submitted = counter(
            &mut r,
            "sherd_provider_proofs_submitted",
            "Storage provider: proofs put in transactions (retries included; kept across restarts)",
        );
        let provider_proofs_accepted = counter(
            &mut r,
            "sherd_provider_proofs_accepted",
            "Storage provider: challenges the chain recorded as proven (kept across restarts)",
        );
        let provider_proofs_missed = counter(
            &mut r,
            "sherd_provider_proofs_missed",
            "Storage provider: challenges whose window closed without a proof (kept across restarts)",
        );
        let provider_proofs_unprovable = counter(
            &mut r,
            "sherd_provider_proofs_unprovable",
            "Storage provider: challenges of fragments it could not prove (file missing or damaged)",
        );
        let deals: Family<Answer, Counter> = Family::default();
        r.register(
            "sherd_provider_deals",
            "Storage provider: deal requests answered, answer=reserved (room for an upload), accepted (signed for a contract) or refused",
            deals.clone(),
        );
        for answer in ["reserved", "accepted", "refused"] {
            let _ = deals.get_or_create(&Answer { answer });
        }
        let deals_refused: Family<Reason, Counter> = Family::default();
        r.register(
            "sherd_provider_deals_refused",
            "Storage provider: deal requests refused, by reason",
            deals_refused.clone(),
        );
        let transfer_seconds: Histograms<Direction> =
            Family::new_with_constructor(|| histogram(&TRANSFER_SECONDS_BUCKETS));
        r.register(
            "sherd_provider_fragment_transfer_seconds",
            "Storage provider: time to receive (upload) or send (download) one fragment, completed transfers only, from the request to the stream's end",
            transfer_seconds.clone(),
        );
        let transfer_bytes: Histograms<Direction> =
            Family::new_with_constructor(|| histogram(&TRANSFER_BYTES_BUCKETS));
        r.register(
            "sherd_provider_fragment_transfer_bytes",
            "Storage provider: bytes on the stream of one completed fragment transfer (read for an upload, written for a download)",
            transfer_bytes.clone(),
        );
        let transfers: Family<TransferOutcome, Counter> = Family::default();
        r.register(
            "sherd_provider_fragment_transfers",
            "Storage provider: fragment streams served, outcome=ok (stored, or sent) or failed (refused, cut short, or an error)",
            transfers.clone(),
        );
        for direction in ["upload", "download"] {
            let _ = transfer_seconds.get_or_create(&Direction { direction });
            let _ = transfer_bytes.get_or_create(&Direction { direction });
            for outcome in ["ok", "failed"] {
                let _ = transfers.get_or_create(&TransferOutcome { direction, outcome });
            }
        }

        let repairs: Family<Outcome, Counter> = Family::default();
        r.register(
            "sherd_repairs",
            "Repairer: lost fragments rebuilt, placed and submitted (outcome=done), or attempts that failed",
            repairs.clone(),
        );
        for outcome in ["done", "failed"] {
            let _ = repairs.get_or_create(&Outcome { outcome });
        }

        let api_refused = ApiRefusals::default();
        r.register(
            "sherd_api_refused",
            "HTTP API: requests and connections refused by the node's limits, by reason (rate_limited, too_large, overloaded, request_timeout, header_timeout, write_timeout, too_many_connections)",
            api_refused.0.clone(),
        );
        for reason in crate::limits::reason::ALL {
            let _ = api_refused.0.get_or_create(&Reason { reason });
        }

        Self {
            registry: r,
            height,
            finalized_height,
            epoch,
            view,
            mempool_size,
            blocks_built,
            blocks_finalized,
            txs_finalized,
            txs_rejected,
            sync_blocks_applied,
            certificates_skipped,
            build_seconds,
            verify_seconds,
            build_last_seconds,
            process_cpu_seconds,
            finality_seconds,
            notarization_seconds,
            finalization_seconds,
            proof_seconds,
            proofs_accepted,
            proofs_refused,
            peers,
            gossip_in,
            gossip_out,
            provider_stored_bytes,
            provider_fragments,
            provider_proofs_submitted,
            provider_proofs_accepted,
            provider_proofs_missed,
            provider_proofs_unprovable,
            deals,
            deals_refused,
            transfer_seconds,
            transfer_bytes,
            transfers,
            repairs,
            api_refused,
        }
    }

    /// One block built in `took`.
    pub fn built(&self, took: Duration) {
        let secs = took.as_secs_f64();
        self.build_seconds.observe(secs);
        self.build_last_seconds.set(secs);
        self.blocks_built.inc();
    }

    /// One proposal re-executed in `took`.
    pub fn verified(&self, took: Duration) {
        self.verify_seconds.observe(took.as_secs_f64());
    }

    /// The engine had a notarization (`finalization == false`) or a
    /// finalization certificate `took` after entering its view.
    pub fn certificate(&self, finalization: bool, took: Duration) {
        let histogram = if finalization {
            &self.finalization_seconds
        } else {
            &self.notarization_seconds
        };
        histogram.observe(took.as_secs_f64());
    }

    /// A block committed final with `txs` transactions and these proof
    /// results.
    pub fn finalized(&self, txs: u64, proofs_accepted: u64, proofs_refused: u64) {
        self.blocks_finalized.inc();
        self.txs_finalized.inc_by(txs);
        self.proofs_accepted.inc_by(proofs_accepted);
        self.proofs_refused.inc_by(proofs_refused);
    }

    /// A gossip message of `bytes` received (`published == false`) or
    /// published, on the transactions (`consensus == false`) or consensus
    /// topic.
    pub fn gossip(&self, consensus: bool, published: bool, bytes: usize) {
        let topic = if consensus {
            "consensus"
        } else {
            "transactions"
        };
        let family = if published {
            &self.gossip_out
        } else {
            &self.gossip_in
        };
        family
            .get_or_create(&Topic { topic })
            .inc_by(u64::try_from(bytes).unwrap_or(u64::MAX));
    }

    /// A deal request answered.
    pub fn deal(&self, answer: DealAnswer<'_>) {
        let label = match answer {
            DealAnswer::Reserved => "reserved",
            DealAnswer::Accepted => "accepted",
            DealAnswer::Refused(refusal) => {
                self.deals_refused
                    .get_or_create(&Reason {
                        reason: refusal_reason(refusal),
                    })
                    .inc();
                "refused"
            }
        };
        self.deals.get_or_create(&Answer { answer: label }).inc();
    }

    /// A fragment stream served: completed (`ok`) in `took` with `bytes`
    /// on the stream, or not.
    pub fn transfer(&self, direction: Transfer, ok: bool, took: Duration, bytes: u64) {
        let direction = direction.label();
        let outcome = if ok { "ok" } else { "failed" };
        self.transfers
            .get_or_create(&TransferOutcome { direction, outcome })
            .inc();
        if ok {
            let label = Direction { direction };
            self.transfer_seconds
                .get_or_create(&label)
                .observe(took.as_secs_f64());
            // Exact for every size below 2^53 bytes.
            #[allow(clippy::cast_precision_loss)]
            self.transfer_bytes
                .get_or_create(&label)
                .observe(bytes as f64);
        }
    }

    /// A repair attempt ended.
    pub fn repair(&self, done: bool) {
        let outcome = if done { "done" } else { "failed" };
        self.repairs.get_or_create(&Outcome { outcome }).inc();
    }

    /// Sets the provider's scrape-time values: what its store holds and
    /// its proof totals (kept across restarts, so they only grow).
    pub fn provider(&self, held: ProviderHeld) {
        let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.provider_stored_bytes.set(as_i64(held.bytes));
        self.provider_fragments
            .get_or_create(&HeldState { state: "active" })
            .set(as_i64(held.active));
        self.provider_fragments
            .get_or_create(&HeldState { state: "pending" })
            .set(as_i64(held.pending));
        let total = |c: &Counter, v: u64| c.inner().store(v, Ordering::Relaxed);
        total(&self.provider_proofs_submitted, held.proofs_submitted);
        total(&self.provider_proofs_accepted, held.proofs_accepted);
        total(&self.provider_proofs_missed, held.proofs_missed);
        total(&self.provider_proofs_unprovable, held.proofs_unprovable);
    }

    /// Reads the scrape-time values from `shared` (chain status, mempool,
    /// provider store).
    pub fn refresh(&self, shared: &Shared) {
        let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let status = shared.committed_status();
        self.height.set(as_i64(status.height));
        self.finalized_height.set(as_i64(status.head.height));
        self.epoch.set(as_i64(status.epoch));
        self.view.set(as_i64(status.view));
        let pool = shared.mempool().len();
        self.mempool_size
            .set(i64::try_from(pool).unwrap_or(i64::MAX));
        if let Some(provider) = shared.provider.get() {
            self.provider(provider.held());
        }
        if let Some(seconds) = process_cpu_seconds() {
            self.process_cpu_seconds
                .inner()
                .store(seconds.to_bits(), Ordering::Relaxed);
        }
    }

    /// The exposition, Prometheus text format 0.0.4.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut open = String::new();
        prometheus_client::encoding::text::encode(&mut open, &self.registry)?;
        Ok(prometheus_text(&open))
    }
}

/// User plus system CPU time of this process, all threads, from
/// `/proc/self/stat` (fields 14 and 15, in clock ticks of 1/100 s: Linux's
/// `USER_HZ` is 100 on every architecture it reports to user space with);
/// `None` where there is no procfs.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after_name = stat.get(stat.rfind(')')?.saturating_add(2)..)?;
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user.saturating_add(system) as f64 / 100.0)
}

/// What a storage provider holds, read at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProviderHeld {
    /// Bytes of fragment data.
    pub bytes: u64,
    /// Fragments under an active contract.
    pub active: u64,
    /// Fragments waiting for their contract.
    pub pending: u64,
    /// Proofs submitted, in total.
    pub proofs_submitted: u64,
    /// Challenges proven, in total.
    pub proofs_accepted: u64,
    /// Challenges missed, in total.
    pub proofs_missed: u64,
    /// Challenges it could not prove, since start.
    pub proofs_unprovable: u64,
}

/// OpenMetrics text as `prometheus-client` writes it, turned into the
/// Prometheus text format 0.0.4: a counter family's `HELP` and `TYPE` name
/// its samples (`x_total`, not `x`), and the `# UNIT` and `# EOF` lines,
/// which 0.0.4 does not have, are dropped.
pub fn prometheus_text(open: &str) -> String {
    let counters: HashSet<&str> = open
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open.len());
    for line in open.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].into_iter().find_map(|prefix| {
            let (name, rest) = line.strip_prefix(prefix)?.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {rest}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "node",
    responses((status = 200, description = "The node's metrics in the Prometheus text format \
        0.0.4 (node/README.md, Metrics)", body = String, content_type = "text/plain; version=0.0.4"))
)]
pub async fn serve(State(shared): State<Arc<Shared>>) -> Response {
    // The provider's part reads its fragment index: off the async workers.
    let encoded = tokio::task::spawn_blocking(move || {
        shared.metrics.refresh(&shared);
        shared.metrics.encode()
    })
    .await;
    match encoded {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "metrics.encode: failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics.encode: panicked");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every family the README lists, with its type as served.
    const FAMILIES: &[(&str, &str)] = &[
        ("sherd_height", "gauge"),
        ("sherd_finalized_height", "gauge"),
        ("sherd_epoch", "gauge"),
        ("sherd_view", "gauge"),
        ("sherd_mempool_size", "gauge"),
        ("sherd_blocks_built_total", "counter"),
        ("sherd_blocks_finalized_total", "counter"),
        ("sherd_txs_finalized_total", "counter"),
        ("sherd_txs_rejected_total", "counter"),
        ("sherd_sync_blocks_applied_total", "counter"),
        ("sherd_certificates_skipped_total", "counter"),
        ("sherd_block_execution_seconds", "histogram"),
        ("sherd_block_execution_last_seconds", "gauge"),
        ("sherd_finality_latency_seconds", "histogram"),
        ("sherd_vote_collection_seconds", "histogram"),
        ("sherd_proof_verification_seconds", "histogram"),
        ("sherd_proofs_finalized_total", "counter"),
        ("sherd_peers_connected", "gauge"),
        ("sherd_gossip_received_bytes_total", "counter"),
        ("sherd_gossip_published_bytes_total", "counter"),
        ("sherd_provider_stored_bytes", "gauge"),
        ("sherd_provider_fragments", "gauge"),
        ("sherd_provider_proofs_submitted_total", "counter"),
        ("sherd_provider_proofs_accepted_total", "counter"),
        ("sherd_provider_proofs_missed_total", "counter"),
        ("sherd_provider_proofs_unprovable_total", "counter"),
        ("sherd_provider_deals_total", "counter"),
        ("sherd_provider_deals_refused_total", "counter"),
        ("sherd_provider_fragment_transfer_seconds", "histogram"),
        ("sherd_provider_fragment_transfer_bytes", "histogram"),
        ("sherd_provider_fragment_transfers_total", "counter"),
        ("sherd_repairs_total", "counter"),
        ("sherd_api_refused_total", "counter"),
        ("process_cpu_seconds_total", "counter"),
    ];

    fn types(text: &str) -> Vec<(String, String)> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE ")?.split_once(' '))
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn every_family_is_served_with_its_type_and_help() {
        let text = Metrics::new().encode().unwrap();
        let served = types(&text);
        let want: Vec<(String, String)> = FAMILIES
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        let mut a = served.clone();
        let mut b = want.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "families served (left) and listed (right) differ");
        for (name, _) in &served {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&format!("# HELP {name} ")) && l.len() > name.len() + 10),
                "{name} has no HELP text"
            );
        }
        assert!(!text.contains("..\n"), "a HELP text ends in two periods");
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"));
        assert!(
            process_cpu_seconds().is_some_and(|s| s >= 0.0),
            "the CPU time is read from /proc/self/stat"
        );
    }

    #[test]
    fn recordings_show_in_the_samples() {
        let m = Metrics::new();
        m.built(Duration::from_millis(3));
        m.verified(Duration::from_millis(2));
        m.certificate(true, Duration::from_millis(40));
        m.finalized(7, 2, 1);
        m.gossip(true, true, 100);
        m.deal(DealAnswer::Refused(&Refusal::NotAdvertised));
        m.transfer(Transfer::Upload, true, Duration::from_millis(20), 5_000);
        m.repair(false);
        let text = m.encode().unwrap();
        for sample in [
            "sherd_blocks_built_total 1",
            "sherd_txs_finalized_total 7",
            "sherd_block_execution_seconds_bucket{le=\"0.005\",phase=\"build\"} 1",
            "sherd_block_execution_seconds_count{phase=\"verify\"} 1",
            "sherd_vote_collection_seconds_count{certificate=\"finalization\"} 1",
            "sherd_vote_collection_seconds_count{certificate=\"notarization\"} 0",
            "sherd_proofs_finalized_total{result=\"refused\"} 1",
            "sherd_gossip_published_bytes_total{topic=\"consensus\"} 100",
            "sherd_gossip_received_bytes_total{topic=\"consensus\"} 0",
            "sherd_provider_deals_refused_total{reason=\"not_advertised\"} 1",
            "sherd_provider_deals_total{answer=\"refused\"} 1",
            "sherd_provider_fragment_transfer_bytes_bucket{le=\"16384.0\",direction=\"upload\"} 1",
            "sherd_provider_fragment_transfers_total{direction=\"upload\",outcome=\"ok\"} 1",
            "sherd_repairs_total{outcome=\"failed\"} 1",
        ] {
            assert!(text.contains(sample), "no `{sample}` in:\n{text}");
        }
    }

    #[test]
    fn counters_are_renamed_for_the_text_format() {
        let open = "# HELP a_b Things.\n# TYPE a_b counter\na_b_total 3\n\
                    # HELP c_bytes Size.\n# TYPE c_bytes gauge\n# UNIT c_bytes bytes\nc_bytes 1\n# EOF\n";
        assert_eq!(
            prometheus_text(open),
            "# HELP a_b_total Things.\n# TYPE a_b_total counter\na_b_total 3\n\
             # HELP c_bytes Size.\n# TYPE c_bytes gauge\nc_bytes 1\n"
        );
    }
}
