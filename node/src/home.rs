//! A networked node's home directory, and `sherd testnet init`.
//!
//! ```text
//! <home>/config.toml      the node's configuration (below)
//! <home>/genesis.json     the chain's genesis (the same file on every node)
//! <home>/node.key         the libp2p identity: an ed25519 key file (0600)
//! <home>/validator.bls    the BLS12-381 vote key (0600): the node votes whenever
//!                         this key is in the epoch's validator set (staked with
//!                         `sherd wallet stake --validator-key <home>/validator.bls`)
//! <home>/validator.key    a genesis validator's ed25519 operator key (0600), kept
//!                         for its owner (the node itself reads its operator
//!                         address from the validator set)
//! <home>/faucet.key       the faucet's key (0600), on the node that serves the faucet
//! <home>/provider.key     a storage provider's account key (0600): it signs deal
//!                         acceptances, advertisements and proofs
//! <home>/fragments/       a storage provider's fragments (see [`crate::provider::disk`])
//! <home>/db/              parity-db
//! ```
//!
//! `config.toml`:
//!
//! ```toml
//! api = "127.0.0.1:8545"                          # the HTTP API
//! listen = ["/ip4/127.0.0.1/tcp/30333"]           # libp2p listen addresses
//! bootnodes = ["/ip4/127.0.0.1/tcp/30334/p2p/12D3Koo…"]   # peers dialed at start
//! log_file = "node.log"                           # optional, relative to the home
//!
//! [provider]                                      # optional: a storage provider
//! capacity = "10GiB"                              # see crate::provider::config
//! price_per_gib_epoch = "0.001"
//! collateral_per_gib = "1"
//!
//! [repair]                                        # optional: repair lost fragments
//! interval_secs = 10                              # see crate::repairer
//!
//! [api_limits]                                    # optional: the HTTP API's limits
//! submit_per_sec = 2500                           # see crate::limits (every key, its default)
//! ```
//!
//! Unknown keys are an error, so a typo does not silently fall back to a
//! default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;
use libp2p::Multiaddr;
use serde::{Deserialize, Serialize};
use sherd_consensus::bls::SecretKey;
use sherd_ledger::genesis::{GenesisAccount, GenesisValidator};
use sherd_ledger::{Address, Amount, ChainId, ChainParams, Genesis};
use sherd_wallet::keyfile::{read_bls, read_ed25519, write_bls, write_ed25519, write_new_private};

use crate::dev::{random32, tokens};
use crate::limits::ApiLimits;
use crate::provider::config::{ByteSize, ProviderSection};

/// The `config.toml` of a node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address of the HTTP API.
    pub api: SocketAddr,
    /// libp2p listen addresses.
    pub listen: Vec<String>,
    /// Peers dialed at start, each ending in `/p2p/<peer id>`.
    #[serde(default)]
    pub bootnodes: Vec<String>,
    /// Log file, relative to the home.
    #[serde(default)]
    pub log_file: Option<PathBuf>,
    /// Storage provider terms, when this node is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderSection>,
    /// The repair worker, when this node runs one (see [`crate::repairer`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair: Option<crate::repairer::RepairSection>,
    /// The HTTP API's limits (see [`crate::limits`]); written only when
    /// not the defaults.
    #[serde(default, skip_serializing_if = "ApiLimits::is_default")]
    pub api_limits: ApiLimits,
}

/// A networked node's home, opened.
pub struct NodeHome {
    /// The directory.
    pub home: PathBuf,
    /// `config.toml`.
    pub config: FileConfig,
    /// Parsed listen addresses.
    pub listen: Vec<Multiaddr>,
    /// Parsed bootnodes.
    pub bootnodes: Vec<Multiaddr>,
    /// The genesis.
    pub genesis: Genesis,
    /// The libp2p identity.
    pub node_key: SigningKey,
    /// The BLS vote key.
    pub bls: SecretKey,
    /// The faucet key, if this node serves the faucet.
    pub faucet: Option<SigningKey>,
    /// The provider key, if this node is a storage provider.
    pub provider_key: Option<SigningKey>,
}

impl std::fmt::Debug for NodeHome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHome")
            .field("home", &self.home)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn parse_addrs(what: &str, texts: &[String], config: &Path) -> anyhow::Result<Vec<Multiaddr>> {
    texts
        .iter()
        .map(|t| {
            t.parse::<Multiaddr>()
                .with_context(|| format!("{}: {what} `{t}` is not a multiaddr", config.display()))
        })
        .collect()
}

/// The checked `[provider]` section of the node configuration `config`
/// (`None` without one).
pub fn provider_section(config: &Path) -> anyhow::Result<Option<ProviderSection>> {
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let parsed: FileConfig = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid node configuration", config.display()))?;
    if let Some(section) = &parsed.provider {
        section
            .check()
            .map_err(|e| anyhow::anyhow!("{}: [provider]: {e}", config.display()))?;
    }
    Ok(parsed.provider)
}

impl NodeHome {
    /// Opens `home`: reads and checks its config, genesis and keys.
    pub fn open(home: &Path) -> anyhow::Result<Self> {
        let config_path = home.join("config.toml");
        let text = std::fs::read_to_string(&config_path).with_context(|| {
            format!(
                "cannot read {}: initialize the home with `sherd node init` or `sherd testnet init`",
                config_path.display()
            )
        })?;
        let config: FileConfig = toml::from_str(&text).with_context(|| {
            format!(
                "{} is not a valid node configuration",
                config_path.display()
            )
        })?;
        if config.listen.is_empty() {
            bail!("{}: `listen` names no address", config_path.display());
        }
        config
            .api_limits
            .check()
            .map_err(|e| anyhow::anyhow!("{}: [api_limits]: {e}", config_path.display()))?;
        let listen = parse_addrs("listen address", &config.listen, &config_path)?;
        let bootnodes = parse_addrs("bootnode", &config.bootnodes, &config_path)?;
        for (text, addr) in config.bootnodes.iter().zip(&bootnodes) {
            if !matches!(
                addr.iter().last(),
                Some(libp2p::multiaddr::Protocol::P2p(_))
            ) {
                bail!(
                    "{}: bootnode `{text}` does not end in /p2p/<peer id>",
                    config_path.display()
                );
            }
        }
        let genesis_path = home.join("genesis.json");
        let genesis_text = std::fs::read_to_string(&genesis_path)
            .with_context(|| format!("cannot read {}", genesis_path.display()))?;
        let genesis = Genesis::from_json(&genesis_text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", genesis_path.display()))?;
        let node_key = read_ed25519(&home.join("node.key"))?;
        let bls = read_bls(&home.join("validator.bls"))?;
        let faucet_path = home.join("faucet.key");
        let faucet = if faucet_path.exists() {
            Some(read_ed25519(&faucet_path)?)
        } else {
            None
        };
        let provider_key = match &config.provider {
            Some(section) => {
                section
                    .check()
                    .map_err(|e| anyhow::anyhow!("{}: [provider]: {e}", config_path.display()))?;
                Some(crate::provider::read_key(home)?)
            }
            None => None,
        };
        Ok(Self {
            home: home.to_path_buf(),
            config,
            listen,
            bootnodes,
            genesis,
            node_key,
            bls,
            faucet,
            provider_key,
        })
    }

    /// The libp2p keypair of [`node_key`](Self::node_key).
    pub fn keypair(&self) -> anyhow::Result<libp2p::identity::Keypair> {
        let mut secret = self.node_key.to_bytes();
        libp2p::identity::Keypair::ed25519_from_bytes(&mut secret)
            .map_err(|e| anyhow::anyhow!("node.key: {e}"))
    }

    /// Where the database lives.
    pub fn db_path(&self) -> PathBuf {
        self.home.join("db")
    }
}

/// The libp2p peer id of an ed25519 node key.
pub fn peer_id(key: &SigningKey) -> anyhow::Result<libp2p::PeerId> {
    let mut secret = key.to_bytes();
    let keypair = libp2p::identity::Keypair::ed25519_from_bytes(&mut secret)
        .map_err(|e| anyhow::anyhow!("node key: {e}"))?;
    Ok(keypair.public().to_peer_id())
}

/// What `sherd testnet init` makes.
#[derive(Debug, Clone)]
pub struct TestnetPlan {
    /// Validators.
    pub validators: usize,
    /// Non-validating nodes.
    pub full_nodes: usize,
    /// The first node's libp2p port; node `i` uses `p2p_port + i`.
    pub p2p_port: u16,
    /// The first node's API port; node `i` uses `api_port + i`.
    pub api_port: u16,
    /// The chain id.
    pub chain_id: String,
    /// Blocks per epoch.
    pub epoch_length: u64,
    /// Storage providers (non-validating nodes with a `[provider]`
    /// section, funded in the genesis), after the full nodes.
    pub providers: usize,
    /// Blocks per storage-proof period (`None`: the dev default).
    pub proof_period: Option<u64>,
    /// Blocks of a period in which its proofs are accepted (`None`: the
    /// dev default, or half the period when the period is given).
    pub proof_window: Option<u64>,
    /// Whether node 0 (a validator) runs a repair worker (`[repair]`).
    pub repair: bool,
}

/// The `[provider]` terms of a testnet's providers.
pub fn testnet_provider_section() -> ProviderSection {
    ProviderSection {
        storage_dir: PathBuf::from("fragments"),
        capacity: ByteSize(16 << 30),
        price_per_gib_epoch: Amount(1_000_000),
        collateral_per_gib: Amount(1_000_000_000),
        min_duration_epochs: 1,
        max_duration_epochs: 1_000,
        max_fragment_size: None,
        reservation_blocks: Some(300),
        max_uploads: None,
    }
}

/// One node of a new testnet.
#[derive(Debug, Clone, Serialize)]
pub struct TestnetNode {
    /// Its home.
    pub home: PathBuf,
    /// Whether it validates.
    pub validator: bool,
    /// Its API URL.
    pub api: String,
    /// Its libp2p address with peer id.
    pub p2p: String,
    /// Its operator address, if a validator.
    pub operator: Option<String>,
    /// Its provider address, if a storage provider.
    pub provider: Option<String>,
}

/// Creates `out/genesis.json`, `out/faucet.key` and one home per node
/// (`out/node0`, …): keys, the genesis, and a `config.toml` whose
/// bootnodes are the first two validators. Refuses a non-empty `out`.
pub fn init_testnet(out: &Path, plan: &TestnetPlan) -> anyhow::Result<Vec<TestnetNode>> {
    if plan.validators == 0 {
        bail!("a testnet needs at least one validator");
    }
    let total = plan
        .validators
        .saturating_add(plan.full_nodes)
        .saturating_add(plan.providers);
    if usize::from(u16::MAX - plan.p2p_port.max(plan.api_port)) < total {
        bail!(
            "{total} nodes do not fit above ports {} and {}",
            plan.p2p_port,
            plan.api_port
        );
    }
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        bail!(
            "{} is not empty: choose another --out or remove it",
            out.display()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let chain_id = ChainId::new(&plan.chain_id).map_err(|e| anyhow::anyhow!("chain id: {e}"))?;
    let mut params = ChainParams::dev(chain_id);
    params.epoch_length = plan.epoch_length;
    if let Some(period) = plan.proof_period {
        params.proof_period = period;
        params.proof_window = plan.proof_window.unwrap_or((period / 2).max(1));
    } else if let Some(window) = plan.proof_window {
        params.proof_window = window;
    }
    params.validate().map_err(|e| {
        anyhow::anyhow!("{e} (check --epoch-length, --proof-period and --proof-window)")
    })?;
    let faucet = SigningKey::from_bytes(&random32()?);
    write_ed25519(&out.join("faucet.key"), &faucet)?;
    let mut accounts = vec![GenesisAccount {
        address: Address::from(&faucet.verifying_key()),
        balance: tokens(1_000_000_000),
    }];
    let mut validators = Vec::new();
    let mut nodes = Vec::new();
    let mut keys = Vec::new();
    for i in 0..total {
        let node_key = SigningKey::from_bytes(&random32()?);
        let is_validator = i < plan.validators;
        let validator = if is_validator {
            let operator = SigningKey::from_bytes(&random32()?);
            let bls = SecretKey::key_gen(&random32()?, b"")
                .map_err(|e| anyhow::anyhow!("BLS key generation: {e}"))?;
            let address = Address::from(&operator.verifying_key());
            accounts.push(GenesisAccount {
                address,
                balance: tokens(1_000),
            });
            validators.push(GenesisValidator {
                operator: address,
                bls_pubkey: bls.public_key().to_bytes(),
                pop: bls.prove_possession().to_bytes(),
                self_stake: tokens(1_000_000),
                commission_bps: 500,
            });
            Some((operator, bls))
        } else {
            None
        };
        let provider = if i >= plan.validators.saturating_add(plan.full_nodes) {
            let key = SigningKey::from_bytes(&random32()?);
            accounts.push(GenesisAccount {
                address: Address::from(&key.verifying_key()),
                balance: tokens(1_000),
            });
            Some(key)
        } else {
            None
        };
        keys.push((node_key, validator, provider));
    }
    let genesis = Genesis {
        genesis_time_ms: crate::now_ms(),
        params,
        accounts,
        validators,
    };
    genesis
        .validate()
        .map_err(|e| anyhow::anyhow!("the generated genesis is invalid: {e}"))?;
    let genesis_json = genesis.to_json();
    std::fs::write(out.join("genesis.json"), &genesis_json)?;
    let offset = |i: usize| u16::try_from(i).unwrap_or(u16::MAX);
    let p2p_addr = |i: usize, key: &SigningKey| -> anyhow::Result<String> {
        Ok(format!(
            "/ip4/127.0.0.1/tcp/{}/p2p/{}",
            plan.p2p_port.saturating_add(offset(i)),
            peer_id(key)?
        ))
    };
    let seeds: Vec<String> = keys
        .iter()
        .take(2)
        .enumerate()
        .map(|(i, (k, _, _))| p2p_addr(i, k))
        .collect::<anyhow::Result<_>>()?;
    for (i, (node_key, validator, provider_key)) in keys.iter().enumerate() {
        let home = out.join(format!("node{i}"));
        std::fs::create_dir_all(&home)?;
        write_ed25519(&home.join("node.key"), node_key)?;
        let mut operator = None;
        if let Some((op, bls)) = validator {
            write_ed25519(&home.join("validator.key"), op)?;
            write_bls(&home.join("validator.bls"), bls)?;
            operator = Some(Address::from(&op.verifying_key()).to_string());
        } else {
            let bls = SecretKey::key_gen(&random32()?, b"")
                .map_err(|e| anyhow::anyhow!("BLS key generation: {e}"))?;
            write_bls(&home.join("validator.bls"), &bls)?;
        }
        if i == 0 {
            write_ed25519(&home.join("faucet.key"), &faucet)?;
        }
        std::fs::write(home.join("genesis.json"), &genesis_json)?;
        let mut provider = None;
        if let Some(key) = provider_key {
            write_ed25519(&home.join("provider.key"), key)?;
            provider = Some(Address::from(&key.verifying_key()).to_string());
        }
        let own = p2p_addr(i, node_key)?;
        let config = FileConfig {
            api: SocketAddr::from(([127, 0, 0, 1], plan.api_port.saturating_add(offset(i)))),
            listen: vec![format!(
                "/ip4/127.0.0.1/tcp/{}",
                plan.p2p_port.saturating_add(offset(i))
            )],
            bootnodes: seeds.iter().filter(|s| **s != own).cloned().collect(),
            log_file: Some(PathBuf::from("node.log")),
            provider: provider.is_some().then(testnet_provider_section),
            repair: (plan.repair && i == 0).then(crate::repairer::RepairSection::default),
            api_limits: ApiLimits::default(),
        };
        let text = toml::to_string_pretty(&config)?;
        write_new_private(&home.join("config.toml"), text.as_bytes())?;
        nodes.push(TestnetNode {
            home,
            validator: validator.is_some(),
            api: format!("http://{}", config.api),
            p2p: own,
            operator,
            provider,
        });
    }
    Ok(nodes)
}

/// What `sherd node init` needs.
#[derive(Debug, Clone)]
pub struct JoinPlan {
    /// The chain's genesis file.
    pub genesis: PathBuf,
    /// Peers to dial at start.
    pub bootnodes: Vec<String>,
    /// The node's API address.
    pub api: SocketAddr,
    /// The node's libp2p listen address.
    pub listen: String,
}

/// Creates a home for a new node of an existing network: its genesis, a
/// libp2p key, a BLS vote key and a `config.toml`. Refuses a home that
/// already has a config. Answers the node's peer id and BLS public key.
pub fn init_node(home: &Path, plan: &JoinPlan) -> anyhow::Result<(libp2p::PeerId, String)> {
    if home.join("config.toml").exists() {
        bail!(
            "{} already holds a node (config.toml exists)",
            home.display()
        );
    }
    let text = std::fs::read_to_string(&plan.genesis)
        .with_context(|| format!("cannot read {}", plan.genesis.display()))?;
    Genesis::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", plan.genesis.display()))?;
    let listen: Multiaddr = plan
        .listen
        .parse()
        .with_context(|| format!("--p2p `{}` is not a multiaddr", plan.listen))?;
    for b in &plan.bootnodes {
        let addr: Multiaddr = b
            .parse()
            .with_context(|| format!("bootnode `{b}` is not a multiaddr"))?;
        if !matches!(
            addr.iter().last(),
            Some(libp2p::multiaddr::Protocol::P2p(_))
        ) {
            bail!("bootnode `{b}` does not end in /p2p/<peer id>");
        }
    }
    std::fs::create_dir_all(home).with_context(|| format!("cannot create {}", home.display()))?;
    let node_key = SigningKey::from_bytes(&random32()?);
    let bls = SecretKey::key_gen(&random32()?, b"")
        .map_err(|e| anyhow::anyhow!("BLS key generation: {e}"))?;
    write_ed25519(&home.join("node.key"), &node_key)?;
    write_bls(&home.join("validator.bls"), &bls)?;
    std::fs::write(home.join("genesis.json"), &text)?;
    let config = FileConfig {
        api: plan.api,
        listen: vec![listen.to_string()],
        bootnodes: plan.bootnodes.clone(),
        log_file: Some(PathBuf::from("node.log")),
        provider: None,
        repair: None,
        api_limits: ApiLimits::default(),
    };
    write_new_private(
        &home.join("config.toml"),
        toml::to_string_pretty(&config)?.as_bytes(),
    )?;
    Ok((
        peer_id(&node_key)?,
        hex::encode(bls.public_key().to_bytes()),
    ))
}

/// What `sherd provider init` did.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderInit {
    /// The provider's account (fund it for fees and collateral).
    pub address: String,
    /// The key file.
    pub key_file: PathBuf,
    /// Whether the key was made now (or was there already).
    pub new_key: bool,
    /// The section written.
    pub section: ProviderSection,
}

/// Makes the node of `home` a storage provider: writes `section` as the
/// `[provider]` of its `config.toml` (replacing one only when `replace`),
/// and creates `provider.key` unless it exists (or `key` is given, which
/// is written instead; an existing different key is an error).
pub fn init_provider(
    home: &Path,
    section: &ProviderSection,
    key: Option<&SigningKey>,
    replace: bool,
) -> anyhow::Result<ProviderInit> {
    section
        .check()
        .map_err(|e| anyhow::anyhow!("the provider terms are invalid: {e}"))?;
    let config_path = home.join("config.toml");
    let text = std::fs::read_to_string(&config_path).with_context(|| {
        format!(
            "cannot read {}: make the node first with `sherd node init` (or `sherd testnet init`)",
            config_path.display()
        )
    })?;
    let mut config: FileConfig = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid node configuration",
            config_path.display()
        )
    })?;
    if config.provider.is_some() && !replace {
        bail!(
            "{} already has a [provider] section: change terms with `sherd provider advertise`, or pass --force to replace it",
            config_path.display()
        );
    }
    let key_file = home.join("provider.key");
    let (signing, new_key) = match (key_file.exists(), key) {
        (true, given) => {
            let existing = read_ed25519(&key_file)?;
            if given.is_some_and(|k| k.to_bytes() != existing.to_bytes()) {
                bail!(
                    "{} holds another key: remove it first if you mean to replace the provider's account",
                    key_file.display()
                );
            }
            (existing, false)
        }
        (false, Some(given)) => {
            write_ed25519(&key_file, given)?;
            (given.clone(), true)
        }
        (false, None) => {
            let fresh = SigningKey::from_bytes(&random32()?);
            write_ed25519(&key_file, &fresh)?;
            (fresh, true)
        }
    };
    config.provider = Some(section.clone());
    let updated = toml::to_string_pretty(&config)?;
    let mut file = sherd_wallet::keyfile::PrivateFile::create(&config_path)?;
    std::io::Write::write_all(&mut file, updated.as_bytes())
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    file.commit_replace()?;
    Ok(ProviderInit {
        address: Address::from(&signing.verifying_key()).to_string(),
        key_file,
        new_key,
        section: section.clone(),
    })
}
