//! `sherd testnet …`: set up a local multi-node testnet.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args as ClapArgs, Subcommand};
use sherd_node::home::{init_testnet, TestnetPlan};

/// `sherd testnet …`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create keys, a genesis and one home per node for a testnet on
    /// 127.0.0.1; start it with `testnet/up.sh` or `sherd node run --home DIR/nodeI`.
    Init(InitArgs),
}

/// `sherd testnet init`.
#[derive(Debug, ClapArgs)]
pub struct InitArgs {
    /// Number of validators (each a node).
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Number of non-validating nodes, after the validators: they sync and
    /// follow the chain, and can become validators by staking with their
    /// `validator.bls`.
    #[arg(long, default_value_t = 0)]
    pub full_nodes: usize,
    /// Number of storage providers, after the full nodes: non-validating
    /// nodes with a `[provider]` section and a `provider.key`, funded in the
    /// genesis; each registers and advertises itself when it starts.
    #[arg(long, default_value_t = 0)]
    pub providers: usize,
    /// Blocks per storage-proof period [default: 20]; short periods show
    /// proofs, misses and slashing within a minute.
    #[arg(long, value_name = "BLOCKS")]
    pub proof_period: Option<u64>,
    /// Blocks at the start of each period in which its proofs are accepted
    /// [default: 10, or half of --proof-period].
    #[arg(long, value_name = "BLOCKS")]
    pub proof_window: Option<u64>,
    /// Node 0 (the first validator) runs a repair worker (`[repair]` in
    /// its config.toml): lost fragments are rebuilt and placed with a new
    /// provider without anyone asking.
    #[arg(long)]
    pub repair: bool,
    /// Directory to create (must be empty or absent).
    #[arg(long)]
    pub out: PathBuf,
    /// libp2p port of node 0; node i listens on this + i.
    #[arg(long, default_value_t = 30333)]
    pub p2p_port: u16,
    /// API port of node 0; node i answers on this + i.
    #[arg(long, default_value_t = 8545)]
    pub api_port: u16,
    /// The chain id.
    #[arg(long, default_value = "sherd-testnet")]
    pub chain_id: String,
    /// Blocks per epoch [default: 100, or the next multiple of
    /// --proof-period].
    #[arg(long)]
    pub epoch_length: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sherd testnet …`.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Init(args) => {
            let nodes = init_testnet(
                &args.out,
                &TestnetPlan {
                    validators: args.validators,
                    full_nodes: args.full_nodes,
                    p2p_port: args.p2p_port,
                    api_port: args.api_port,
                    chain_id: args.chain_id.clone(),
                    // An epoch is a whole number of proof periods.
                    epoch_length: args.epoch_length.unwrap_or_else(|| {
                        100u64.next_multiple_of(args.proof_period.unwrap_or(20).max(1))
                    }),
                    providers: args.providers,
                    proof_period: args.proof_period,
                    proof_window: args.proof_window,
                    repair: args.repair,
                },
            )?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&nodes)?);
            } else {
                println!(
                    "testnet `{}`: {} validators, {} full nodes and {} storage providers in {}",
                    args.chain_id,
                    args.validators,
                    args.full_nodes,
                    args.providers,
                    args.out.display()
                );
                for n in &nodes {
                    let role = if n.validator {
                        "validator"
                    } else if n.provider.is_some() {
                        "provider"
                    } else {
                        "full node"
                    };
                    println!(
                        "  {}  {role}  api {}  p2p {}",
                        n.home.display(),
                        n.api,
                        n.p2p
                    );
                }
                println!("faucet key: {}", args.out.join("faucet.key").display());
                println!("start: SHERD_TESTNET={} testnet/up.sh", args.out.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
