//! The sherd command line: wallet, node, storage, provider, testnet and fragments tools.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: under load a node allocates
/// and frees many small buffers on several threads, where glibc's malloc
/// spent about a tenth of all CPU (BENCHMARKS.md, "A 4-validator testnet
/// under load").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod chain;
mod fragments;
mod fsutil;
mod node;
mod output;
mod provider;
mod storage;
mod testnet;
mod wallet;

/// sherd: files stored as erasure-coded fragments on independent providers,
/// with a proof-of-stake ledger that checks they are still there.
#[derive(Debug, Parser)]
#[command(name = "sherd", version = version(), about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The version, naming the test hooks when this build has them (a test
/// build: see `sherd_node::hooks`).
fn version() -> &'static str {
    if sherd_node::hooks::COMPILED {
        concat!(
            env!("CARGO_PKG_VERSION"),
            " (test build: SHERD_TEST_* hooks)"
        )
    } else {
        env!("CARGO_PKG_VERSION")
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Offline toolkit: encrypt and erasure-code a file into fragments,
    /// rebuild it, and prove or verify that a fragment holds a chunk.
    #[command(subcommand)]
    Fragments(fragments::Command),
    /// Wallets: create and restore keys, see balances, send, stake and
    /// delegate through a node.
    Wallet(wallet::Args),
    /// Store files on providers and read them back: `sherd storage put FILE`,
    /// `sherd storage get ID --out FILE`, `ls`, `status`.
    Storage(storage::Args),
    /// Run a storage provider: `sherd provider init`, `advertise`, `status`.
    #[command(subcommand)]
    Provider(provider::Command),
    /// Run a node (`sherd node run --dev`: a local single-validator dev chain).
    #[command(subcommand)]
    Node(node::Command),
    /// Benchmarks against a running chain: `sherd bench load`.
    #[command(subcommand)]
    Bench(bench::Command),
    /// A local multi-node testnet: `sherd testnet init`.
    #[command(subcommand)]
    Testnet(testnet::Command),
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    sherd_node::now_ms()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fragments(command) => fragments::run(command),
        Command::Wallet(args) => wallet::run(args),
        Command::Storage(args) => storage::run(args),
        Command::Provider(command) => provider::run(command),
        Command::Node(command) => node::run(command),
        Command::Testnet(command) => testnet::run(command),
        Command::Bench(command) => bench::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
