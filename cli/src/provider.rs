//! `sherd provider`: make a node a storage provider, change its terms on
//! chain, and see what it holds, proves and earns.
//!
//! A provider is a node with a `[provider]` section in its `config.toml`
//! and an account key `provider.key` in its home. The running node
//! registers its endpoint and advertises the section's terms by itself;
//! `advertise` changes the terms of a running provider at once.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args as ClapArgs, Subcommand};
use sherd_ledger::{Amount, ChainId};
use sherd_node::home::{init_provider, FileConfig};
use sherd_node::provider::config::{ByteSize, ProviderSection};
use sherd_wallet::{
    build::{self, TxParams},
    NodeClient, DEFAULT_FEE,
};

use crate::output;

/// `sherd provider …`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a node a storage provider: write the `[provider]` section of
    /// its config.toml and create its account key `provider.key`. Fund the
    /// printed address (fees and collateral), then start the node.
    Init(InitArgs),
    /// Change the provider's terms: updates config.toml and sends an
    /// `AdvertiseCapacity` signed with `provider.key` through the node.
    Advertise(AdvertiseArgs),
    /// What the provider holds, proves and earns (from its node's API).
    Status(StatusArgs),
}

/// Where the provider's node lives.
#[derive(Debug, ClapArgs)]
pub struct HomeArg {
    /// The node's home directory.
    #[arg(long, value_name = "DIR", env = "SHERD_NODE_HOME")]
    pub home: PathBuf,
}

/// `sherd provider init`.
#[derive(Debug, ClapArgs)]
pub struct InitArgs {
    #[command(flatten)]
    home: HomeArg,
    /// Bytes offered, e.g. 10GiB.
    #[arg(long, value_name = "SIZE")]
    capacity: ByteSize,
    /// Least price accepted per GiB per epoch, e.g. 0.001.
    #[arg(long, value_name = "AMOUNT")]
    price: Amount,
    /// Collateral locked per GiB stored, e.g. 1.
    #[arg(long, value_name = "AMOUNT")]
    collateral: Amount,
    /// Shortest contract accepted, in epochs.
    #[arg(long, value_name = "EPOCHS", default_value_t = 1)]
    min_epochs: u64,
    /// Longest contract accepted, in epochs.
    #[arg(long, value_name = "EPOCHS", default_value_t = 1_000)]
    max_epochs: u64,
    /// Where fragments are kept (relative to the home unless absolute).
    #[arg(long, value_name = "DIR", default_value = "fragments")]
    storage_dir: PathBuf,
    /// Replace an existing [provider] section.
    #[arg(long)]
    force: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `sherd provider advertise`.
#[derive(Debug, ClapArgs)]
pub struct AdvertiseArgs {
    #[command(flatten)]
    home: HomeArg,
    /// Bytes offered.
    #[arg(long, value_name = "SIZE")]
    capacity: Option<ByteSize>,
    /// Least price per GiB per epoch.
    #[arg(long, value_name = "AMOUNT")]
    price: Option<Amount>,
    /// Collateral per GiB.
    #[arg(long, value_name = "AMOUNT")]
    collateral: Option<Amount>,
    /// Shortest contract, in epochs.
    #[arg(long, value_name = "EPOCHS")]
    min_epochs: Option<u64>,
    /// Longest contract, in epochs.
    #[arg(long, value_name = "EPOCHS")]
    max_epochs: Option<u64>,
    /// The node API to send through [default: the home's own].
    #[arg(long, value_name = "URL")]
    node: Option<String>,
    /// Seconds to wait for finality.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    timeout: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `sherd provider status`.
#[derive(Debug, ClapArgs)]
pub struct StatusArgs {
    /// The provider node's home (its API address is read from config.toml).
    #[arg(
        long,
        value_name = "DIR",
        env = "SHERD_NODE_HOME",
        conflicts_with = "node"
    )]
    home: Option<PathBuf>,
    /// The provider node's API.
    #[arg(long, value_name = "URL")]
    node: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `sherd provider …`.
pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Init(args) => init(args),
        Command::Advertise(args) => advertise(args),
        Command::Status(args) => status(args),
    }
}

fn read_config(home: &Path) -> Result<FileConfig> {
    let path = home.join("config.toml");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {}: is {} a node home? (`sherd node init` makes one)",
            path.display(),
            home.display()
        )
    })?;
    toml::from_str(&text)
        .with_context(|| format!("{} is not a valid node configuration", path.display()))
}

fn init(args: InitArgs) -> Result<ExitCode> {
    let section = ProviderSection {
        storage_dir: args.storage_dir,
        capacity: args.capacity,
        price_per_gib_epoch: args.price,
        collateral_per_gib: args.collateral,
        min_duration_epochs: args.min_epochs,
        max_duration_epochs: args.max_epochs,
        max_fragment_size: None,
        reservation_blocks: None,
        max_uploads: None,
    };
    let done = init_provider(&args.home.home, &section, None, args.force)?;
    if args.json {
        output::json(&serde_json::to_value(&done)?);
    } else {
        println!(
            "{} is a storage provider: {} at ≥ {} per GiB-epoch, collateral {} per GiB, {}..={} epochs",
            args.home.home.display(),
            section.capacity,
            section.price_per_gib_epoch,
            section.collateral_per_gib,
            section.min_duration_epochs,
            section.max_duration_epochs
        );
        println!(
            "provider account: {} ({})",
            done.address,
            if done.new_key {
                format!("new key in {}", done.key_file.display())
            } else {
                format!("existing key {}", done.key_file.display())
            }
        );
        println!("next: fund it for fees and collateral (`sherd wallet send --from W --to {} --amount 100`),", done.address);
        println!(
            "      then `sherd node run --home {}`: it registers its endpoint and advertises by itself",
            args.home.home.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn advertise(args: AdvertiseArgs) -> Result<ExitCode> {
    let home = &args.home.home;
    let config = read_config(home)?;
    let Some(mut section) = config.provider.clone() else {
        bail!(
            "{} is not a provider (no [provider] in config.toml): run `sherd provider init --home {}` first",
            home.display(),
            home.display()
        );
    };
    if let Some(v) = args.capacity {
        section.capacity = v;
    }
    if let Some(v) = args.price {
        section.price_per_gib_epoch = v;
    }
    if let Some(v) = args.collateral {
        section.collateral_per_gib = v;
    }
    if let Some(v) = args.min_epochs {
        section.min_duration_epochs = v;
    }
    if let Some(v) = args.max_epochs {
        section.max_duration_epochs = v;
    }
    section
        .check()
        .map_err(|e| anyhow!("the new terms are invalid: {e}"))?;
    let key = sherd_node::provider::read_key(home)?;
    let url = args
        .node
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.api));
    let client = NodeClient::new(&url)?;
    let status = client.current_status()?;
    let chain_id: ChainId = status
        .chain_id
        .parse()
        .map_err(|e| anyhow!("the node reports chain id `{}`: {e}", status.chain_id))?;
    let address = sherd_ledger::Address::from(&key.verifying_key());
    let account = client.account(&address)?;
    if account.balance < DEFAULT_FEE {
        bail!(
            "the provider account {address} has {} and cannot pay the fee {DEFAULT_FEE}: fund it first",
            account.balance
        );
    }
    let tx = build::advertise_capacity(
        &key,
        &TxParams {
            chain_id,
            nonce: account.nonce,
            fee: DEFAULT_FEE,
        },
        section.advertisement(),
    )?;
    let hash = client.submit(&tx)?;
    let done = client.wait_for_finality(&hash, Duration::from_secs(args.timeout))?;
    if done.outcome == Some(sherd_wallet::client::TxOutcome::Failed) {
        bail!(
            "the advertisement failed on chain: {} (config.toml is unchanged)",
            done.reason.as_deref().unwrap_or("no reason given")
        );
    }
    // The chain has the new terms: the config follows, so the node does not
    // advertise the old ones again.
    init_provider(home, &section, Some(&key), true)?;
    if args.json {
        output::json(&serde_json::json!({
            "hash": hash.to_string(),
            "provider": address.to_string(),
            "terms": section,
        }));
    } else {
        println!(
            "advertised {} at ≥ {} per GiB-epoch, collateral {} per GiB, {}..={} epochs (tx {hash}, final)",
            section.capacity,
            section.price_per_gib_epoch,
            section.collateral_per_gib,
            section.min_duration_epochs,
            section.max_duration_epochs
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn status(args: StatusArgs) -> Result<ExitCode> {
    let url = match (&args.node, &args.home) {
        (Some(url), _) => url.clone(),
        (None, Some(home)) => format!("http://{}", read_config(home)?.api),
        (None, None) => bail!("say which provider: --home DIR (its node's home) or --node URL"),
    };
    let report = NodeClient::new(&url)?.provider_report()?.ok_or_else(|| {
        anyhow!("the node at {url} is not a storage provider (no [provider] in its config.toml)")
    })?;
    if args.json {
        output::json(&report);
        return Ok(ExitCode::SUCCESS);
    }
    let r = &report;
    println!("provider   {}", r.address);
    println!(
        "on chain   {}{}",
        if r.registered {
            "endpoint registered"
        } else {
            "endpoint NOT registered yet"
        },
        if r.advertised {
            ", terms advertised"
        } else {
            ", terms not advertised yet"
        }
    );
    println!(
        "capacity   {} offered, {} under contract",
        r.capacity_bytes.map_or("-".into(), output::bytes),
        r.used_bytes.map_or("-".into(), output::bytes)
    );
    println!(
        "holds      {} fragments active, {} waiting for their contract, {} reserved ({})",
        r.fragments_active,
        r.fragments_pending,
        r.reservations,
        output::bytes(r.bytes_held)
    );
    println!(
        "proofs     {} accepted, {} missed, {} unprovable, {} submitted",
        r.proofs_accepted, r.proofs_missed, r.proofs_unprovable, r.proofs_submitted
    );
    if let Some(period) = r.period {
        println!(
            "period     {period}: {} of {} challenges proven",
            r.period_proven, r.period_challenged
        );
    }
    println!(
        "earned     {} (balance {})",
        r.earned,
        Amount(r.balance_base)
    );
    println!(
        "since start: {} deals reserved, {} refused, {} uploads stored, {} failed, {} downloads served",
        r.deals_reserved, r.deals_refused, r.uploads_stored, r.uploads_failed, r.downloads_served
    );
    println!("storage    {}", r.storage_dir);
    Ok(ExitCode::SUCCESS)
}
