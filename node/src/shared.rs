//! State shared by the consensus actor and the HTTP API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use ed25519_dalek::SigningKey;
use sherd_ledger::{Address, ChainParams, Hash};
use tokio::sync::Notify;

use crate::mempool::Mempool;
use crate::metrics::Metrics;
use crate::store::{Head, NodeDb};

/// What the status route shows, updated by the actor.
#[derive(Debug, Clone, Copy)]
pub struct ChainStatus {
    /// The finalized head.
    pub head: Head,
    /// Highest block executed (finalized or not).
    pub height: u64,
    /// The engine's epoch.
    pub epoch: u64,
    /// The engine's view.
    pub view: u64,
    /// Catching up with its peers (started and not yet checked with them,
    /// or fetching blocks a peer has): its state may be behind the chain's.
    pub catching_up: bool,
}

/// The dev faucet.
pub struct Faucet {
    /// Its key.
    pub key: SigningKey,
    /// Last grant per address.
    pub last: Mutex<HashMap<Address, Instant>>,
}

impl std::fmt::Debug for Faucet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faucet")
            .field("address", &Address::from(&self.key.verifying_key()))
            .finish_non_exhaustive()
    }
}

/// Everything the actor and the API share.
#[derive(Debug)]
pub struct Shared {
    /// The database.
    pub db: Arc<NodeDb>,
    /// The chain parameters.
    pub params: ChainParams,
    /// The genesis id.
    pub genesis_id: Hash,
    /// Whether this is a dev chain.
    pub dev: bool,
    /// The faucet, on dev chains.
    pub faucet: Option<Faucet>,
    mempool: Mutex<Mempool>,
    status: RwLock<ChainStatus>,
    /// Wakes the actor when a transaction arrives.
    pub mempool_notify: Notify,
    /// The Prometheus metrics (`/metrics`).
    pub metrics: Metrics,
    /// This node's libp2p identity, when networked: peer id and listen
    /// addresses, binary.
    pub identity: std::sync::OnceLock<(Vec<u8>, Vec<Vec<u8>>)>,
    /// Where admitted transactions go to be gossiped, when networked.
    /// Bounded ([`crate::p2p::TX_GOSSIP_CAPACITY`]).
    pub tx_gossip: std::sync::OnceLock<tokio::sync::mpsc::Sender<Vec<u8>>>,
    /// Where deal requests go, on a storage provider.
    pub deals: std::sync::OnceLock<tokio::sync::mpsc::Sender<crate::provider::DealInbound>>,
    /// The storage provider, when this node is one.
    pub provider: std::sync::OnceLock<Arc<crate::provider::ProviderRuntime>>,
    /// What the browsing routes show of this node's run.
    pub observed: crate::browse::Observed,
    /// Certificates the consensus engine holds, for the network task.
    pub held_certificates: crate::gossip::HeldCertificates,
    /// How far the account index is visible ([`crate::indexer`]).
    pub indexed: Arc<crate::indexer::Indexed>,
}

impl Shared {
    /// New shared state. The account index must be complete through the
    /// status head ([`crate::indexer::catch_up`]).
    pub fn new(
        db: Arc<NodeDb>,
        params: ChainParams,
        genesis_id: Hash,
        status: ChainStatus,
        mempool: Mempool,
        faucet: Option<Faucet>,
    ) -> Self {
        Self {
            db,
            params,
            genesis_id,
            dev: true,
            faucet,
            mempool: Mutex::new(mempool),
            status: RwLock::new(status),
            mempool_notify: Notify::new(),
            metrics: Metrics::default(),
            tx_gossip: std::sync::OnceLock::new(),
            identity: std::sync::OnceLock::new(),
            deals: std::sync::OnceLock::new(),
            provider: std::sync::OnceLock::new(),
            observed: crate::browse::Observed::default(),
            held_certificates: crate::gossip::HeldCertificates::default(),
            indexed: Arc::new(crate::indexer::Indexed::new(status.head.height)),
        }
    }

    /// The mempool, locked.
    pub fn mempool(&self) -> MutexGuard<'_, Mempool> {
        self.mempool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The chain status.
    pub fn status(&self) -> ChainStatus {
        *self.status.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The chain status. Its head is durable: the consensus actor moves it
    /// only once the block's commit is in the fsynced log
    /// ([`NodeDb::commit_then`](crate::store::NodeDb::commit_then)), so
    /// whatever a reader saw final (a transaction, a block) is at or below
    /// it, and survives a crash.
    pub fn committed_status(&self) -> ChainStatus {
        self.status()
    }

    /// Changes the chain status.
    pub fn update_status(&self, f: impl FnOnce(&mut ChainStatus)) {
        let mut status = self.status.write().unwrap_or_else(|p| p.into_inner());
        f(&mut status);
    }
}
