//! Starting and stopping a dev node.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use sherd_ledger::{Address, Genesis, Hash, StateView};
use tokio::sync::watch;

use crate::actor::Actor;
use crate::dev::DevHome;
use crate::mempool::Mempool;
use crate::shared::{ChainStatus, Faucet, Shared};
use crate::store::{col, meta, EpochInfo, Head, NodeDb};

/// Default mempool bound.
pub const MEMPOOL_CAPACITY: usize = 10_000;

/// How many faucet grants may wait in the mempool at once.
pub const FAUCET_PENDING_LIMIT: u64 = 1_000;

/// How to run a dev node.
#[derive(Debug, Clone)]
pub struct DevConfig {
    /// Home directory (keys, genesis, database).
    pub home: PathBuf,
    /// Address of the HTTP API.
    pub api: SocketAddr,
    /// Mempool bound.
    pub mempool_capacity: usize,
    /// Time between empty heartbeat blocks.
    pub idle_interval: std::time::Duration,
    /// Epoch length of a new genesis (`None`: the dev default, 100).
    pub epoch_length: Option<u64>,
    /// Faults to inject (test builds only; see [`crate::hooks`]).
    pub hooks: crate::hooks::Hooks,
    /// The HTTP API's limits (see [`crate::limits`]).
    pub api_limits: crate::limits::ApiLimits,
}

impl DevConfig {
    /// A config with the default mempool bound.
    pub fn new(home: PathBuf, api: SocketAddr) -> Self {
        Self {
            home,
            api,
            mempool_capacity: MEMPOOL_CAPACITY,
            idle_interval: crate::actor::IDLE_INTERVAL,
            epoch_length: None,
            hooks: crate::hooks::Hooks::default(),
            api_limits: crate::limits::ApiLimits::default(),
        }
    }
}

/// A running dev node.
#[derive(Debug)]
pub struct DevNode {
    /// Where the API listens.
    pub api: SocketAddr,
    /// The shared state (for tests and tools).
    pub shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    actor: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// The seed of epoch 0's leader selection, from the genesis id.
fn genesis_seed(genesis_id: &Hash) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"sherd/epoch-seed/genesis/v1");
    hasher.update(&genesis_id.0);
    *hasher.finalize().as_bytes()
}

/// Writes the genesis into an empty database, or checks that the stored
/// one is the same; answers the head and the epoch.
fn open_chain(db: &NodeDb, genesis: &Genesis) -> anyhow::Result<(Head, EpochInfo)> {
    let genesis_id = genesis
        .id()
        .map_err(|e| anyhow::anyhow!("genesis id: {e}"))?;
    match db.get(col::META, meta::GENESIS)? {
        Some(stored) => {
            if stored != genesis_id.0 {
                anyhow::bail!(
                    "the database was made for genesis {}, genesis.json is {genesis_id}: use another --home",
                    hex::encode(stored)
                );
            }
            let head = db
                .get(col::META, meta::HEAD)?
                .and_then(|b| Head::from_bytes(&b))
                .context("the database has no readable head record")?;
            let epoch = db
                .get(col::META, meta::EPOCH)?
                .and_then(|b| EpochInfo::from_bytes(&b))
                .context("the database has no readable epoch record")?;
            Ok((head, epoch))
        }
        None => {
            let state = genesis
                .state(&db.state())
                .map_err(|e| anyhow::anyhow!("genesis: {e}"))?;
            let head = Head {
                height: 0,
                block_id: genesis_id,
                state_root: state.state_root,
                view: 0,
                consensus_id: genesis_id.0,
                beacon: genesis_seed(&genesis_id),
                timestamp_ms: genesis.genesis_time_ms,
            };
            let epoch = EpochInfo {
                epoch: 0,
                seed: genesis_seed(&genesis_id),
                start_beacon: head.beacon,
            };
            let mut ops: Vec<_> = NodeDb::state_ops(state.changes).collect();
            ops.push((col::META, meta::HEAD.to_vec(), Some(head.to_bytes())));
            ops.push((col::META, meta::EPOCH.to_vec(), Some(epoch.to_bytes())));
            ops.push(crate::indexer::genesis_mark());
            // Last key of the same commit; its presence means genesis is written.
            ops.push((
                col::META,
                meta::GENESIS.to_vec(),
                Some(genesis_id.0.to_vec()),
            ));
            db.commit(ops)?;
            tracing::info!(genesis = %genesis_id, root = %state.state_root, "chain.genesis: written");
            Ok((head, epoch))
        }
    }
}

/// Deletes proposals at or below the finalized height (left by a crash
/// between proposing and finalizing; they can never be final now).
fn drop_stale_proposals(db: &NodeDb, head: u64) -> anyhow::Result<()> {
    let mut ops = Vec::new();
    for (key, value) in db.scan(col::PROPOSED, &[], usize::MAX)? {
        let stale = match crate::exec::parse_proposed(&value) {
            Ok((_, block)) => block.header.height <= head,
            Err(_) => true,
        };
        if stale {
            ops.push((col::PROPOSED, key, None));
        }
    }
    if !ops.is_empty() {
        tracing::info!(count = ops.len(), "node.start: dropped stale proposals");
        db.commit(ops)?;
    }
    Ok(())
}

/// Starts a dev node on the current tokio runtime: opens (or initializes)
/// the home, starts the consensus actor on its own thread and the API.
pub async fn run_dev(config: DevConfig) -> anyhow::Result<DevNode> {
    let home = DevHome::open_or_init_with(&config.home, config.epoch_length)?;
    start(Start {
        db_path: home.db_path(),
        genesis: home.genesis.clone(),
        operator: Address::from(&home.validator.verifying_key()),
        bls: sherd_consensus::bls::SecretKey::from_bytes(&home.bls.to_bytes())
            .map_err(|e| anyhow::anyhow!("BLS key: {e}"))?,
        faucet: Some(home.faucet.clone()),
        dev: true,
        net: None,
        duties: None,
        provider: None,
        repair: None,
        config,
    })
    .await
}

/// Starts the node of a networked home (`config.toml`, see
/// [`crate::home`]): the database, libp2p, the consensus actor and the API.
pub async fn run_home(home: &std::path::Path) -> anyhow::Result<DevNode> {
    let home = crate::home::NodeHome::open(home)?;
    let bls = &home.bls;
    let duties = match home.home.join("validator.key") {
        path if path.exists() => Some(sherd_wallet::keyfile::read_ed25519(&path)?),
        _ => None,
    };
    let net = crate::net::NetConfig {
        keypair: home.keypair()?,
        listen: home.listen.clone(),
        bootnodes: home.bootnodes.clone(),
        chain_id: home.genesis.params.chain_id.to_string(),
        provider: home.config.provider.is_some(),
    };
    let provider = match (&home.config.provider, &home.provider_key) {
        (Some(section), Some(key)) => Some(crate::provider::ProviderStart {
            home: home.home.clone(),
            section: section.clone(),
            key: key.clone(),
            peer_id: Vec::new(),
            listen: Vec::new(),
        }),
        _ => None,
    };
    let repair = match home.config.repair {
        None => None,
        Some(section) => {
            // The provider key on a provider (it earns the rewards where it
            // earns the rest), else the validator's operator key.
            let key = home.provider_key.clone().or_else(|| duties.clone()).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: [repair] signs with the node's provider.key or validator.key, and this home has neither",
                    home.home.join("config.toml").display()
                )
            })?;
            Some(crate::repairer::RepairStart {
                key,
                interval: std::time::Duration::from_secs(section.interval_secs.max(1)),
                scratch: home.home.join("repair.scratch"),
            })
        }
    };
    let mut config = DevConfig::new(home.home.clone(), home.config.api);
    config.idle_interval = crate::actor::IDLE_INTERVAL;
    config.hooks = crate::hooks::Hooks::from_env()?;
    config.api_limits = home.config.api_limits.clone();
    start(Start {
        db_path: home.db_path(),
        genesis: home.genesis.clone(),
        // Read from the validator set once this node's key is in it.
        operator: Address([0; 32]),
        bls: sherd_consensus::bls::SecretKey::from_bytes(&bls.to_bytes())
            .map_err(|e| anyhow::anyhow!("BLS key: {e}"))?,
        faucet: home.faucet.clone(),
        dev: false,
        net: Some(net),
        duties,
        provider,
        repair,
        config,
    })
    .await
}

/// Everything [`start`] needs.
struct Start {
    db_path: PathBuf,
    genesis: Genesis,
    operator: Address,
    bls: sherd_consensus::bls::SecretKey,
    faucet: Option<ed25519_dalek::SigningKey>,
    dev: bool,
    net: Option<crate::net::NetConfig>,
    /// The operator key that signs the node's own transactions.
    duties: Option<ed25519_dalek::SigningKey>,
    /// The storage provider to run, if this node is one.
    provider: Option<crate::provider::ProviderStart>,
    /// The repair worker to run, if this node has a `[repair]` section.
    repair: Option<crate::repairer::RepairStart>,
    config: DevConfig,
}

async fn start(start: Start) -> anyhow::Result<DevNode> {
    let Start {
        db_path,
        genesis,
        operator,
        bls,
        faucet,
        dev,
        net,
        duties,
        provider,
        repair,
        config,
    } = start;
    config
        .api_limits
        .check()
        .map_err(|e| anyhow::anyhow!("the API limits ([api_limits]) are invalid: {e}"))?;
    let db = Arc::new(
        NodeDb::open(&db_path)
            .with_context(|| format!("cannot open the database in {}", db_path.display()))?,
    );
    let (head, epoch) = open_chain(&db, &genesis)?;
    drop_stale_proposals(&db, head.height)?;
    crate::indexer::catch_up(&db, head.height)
        .context("cannot bring the account index up to the head")?;
    let params = StateView::new(&db.state())
        .params()
        .map_err(|e| anyhow::anyhow!("chain parameters: {e}"))?;
    let genesis_id = genesis
        .id()
        .map_err(|e| anyhow::anyhow!("genesis id: {e}"))?;
    tracing::info!(height = head.height, root = %head.state_root, epoch = epoch.epoch, "node.start: chain opened");
    let faucet_key = faucet;
    let faucet = faucet_key.as_ref().map(|key| Faucet {
        key: key.clone(),
        last: Mutex::new(HashMap::new()),
    });
    let status = ChainStatus {
        head,
        height: head.height,
        epoch: epoch.epoch,
        view: head.view,
        // A networked node is behind until it has asked its peers.
        catching_up: net.is_some(),
    };
    let mut mempool = Mempool::new(config.mempool_capacity);
    if let Some(key) = &faucet_key {
        mempool.allow_ahead(Address::from(&key.verifying_key()), FAUCET_PENDING_LIMIT);
    }
    let mut shared = Shared::new(db, params, genesis_id, status, mempool, faucet);
    shared.dev = dev;
    let shared = Arc::new(shared);
    let mut actor = Actor::new(shared.clone(), &bls, operator, head, epoch)?;
    actor.set_idle_interval(config.idle_interval);
    if config.hooks.any() {
        tracing::warn!(hooks = ?config.hooks, "test.hooks: this node injects faults (a test build)");
    }
    actor.hooks = config.hooks.clone();
    let (shutdown, shutdown_rx) = watch::channel(false);
    if let Some(net) = net {
        let (peer_id, listen) = (net.keypair.public().to_peer_id(), net.listen.clone());
        let _ = shared.identity.set((
            peer_id.to_bytes(),
            listen.iter().map(|a| a.to_vec()).collect(),
        ));
        let deals = provider.as_ref().map(|_| {
            let (sender, receiver) = tokio::sync::mpsc::channel(crate::provider::DEAL_QUEUE);
            let _ = shared.deals.set(sender);
            receiver
        });
        let peer = crate::p2p::start(net, shared.clone(), shutdown.subscribe()).await?;
        let _ = shared.observed.net.set(peer.handle.clone());
        if let (Some(mut start), Some(deals)) = (provider, deals) {
            start.peer_id = peer_id.to_bytes();
            start.listen = listen.iter().map(|a| a.to_vec()).collect();
            let runtime = crate::provider::start(
                shared.clone(),
                &peer.handle,
                deals,
                start,
                shutdown.subscribe(),
            )?;
            let _ = shared.provider.set(runtime);
        }
        if let Some(repair) = repair {
            crate::repairer::spawn(shared.clone(), repair, shutdown.subscribe())?;
        }
        actor.set_net(peer);
        if let Some(key) = duties {
            let (sink, evidence) = tokio::sync::mpsc::channel(crate::duties::EVIDENCE_CAPACITY);
            actor.set_evidence_sink(sink);
            crate::duties::spawn(
                shared.clone(),
                key,
                peer_id.to_bytes(),
                listen,
                evidence,
                shutdown.subscribe(),
            );
        }
    }
    let actor = std::thread::Builder::new()
        .name("sherd-consensus".into())
        .spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .context("cannot start the consensus runtime")?;
            let result = runtime.block_on(actor.run(shutdown_rx));
            if let Err(e) = &result {
                tracing::error!(error = %e, "consensus.actor: stopped");
            }
            result
        })
        .context("cannot start the consensus thread")?;
    let listener = tokio::net::TcpListener::bind(config.api)
        .await
        .with_context(|| format!("cannot listen on {} (is another node running?)", config.api))?;
    let api = listener.local_addr()?;
    let limiter = crate::limits::Limiter::new(
        config.api_limits.clone(),
        shared.metrics.api_refused.clone(),
    )
    .map_err(|e| anyhow::anyhow!("the API limits ([api_limits]) are invalid: {e}"))?;
    let router = crate::limits::layer(crate::api::router(shared.clone()), limiter.clone());
    let server = tokio::spawn(crate::server::serve(
        listener,
        router,
        limiter,
        shutdown.subscribe(),
    ));
    tracing::info!(%api, "api.start: listening");
    Ok(DevNode {
        api,
        shared,
        shutdown,
        actor: Some(actor),
        server: Some(server),
    })
}

impl DevNode {
    /// Whether the consensus actor stopped on its own (an error).
    pub fn actor_stopped(&self) -> bool {
        self.actor.as_ref().is_none_or(|a| a.is_finished())
    }

    /// Stops the API and the actor and waits for both, then (up to 2 s)
    /// for the tasks that hold the database (networking, duties, the
    /// provider) to let go of it; the last holder closes it as it goes. A
    /// caller that holds its own reference (through `shared`) keeps it
    /// open past this.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        let db = Arc::downgrade(&self.shared.db);
        if let Some(server) = self.server.take() {
            match server.await {
                Ok(result) => result.context("API server")?,
                Err(e) => anyhow::bail!("API task: {e}"),
            }
        }
        if let Some(actor) = self.actor.take() {
            let result = tokio::task::spawn_blocking(move || actor.join())
                .await
                .map_err(|e| anyhow::anyhow!("consensus thread: {e}"))?;
            match result {
                Ok(r) => r?,
                Err(_) => anyhow::bail!("the consensus thread panicked"),
            }
        }
        drop(self);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while db.strong_count() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Ok(())
    }
}

impl Drop for DevNode {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
