//! `sherd node`: run a node.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args as ClapArgs, Subcommand};

/// `sherd node …`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a node. With `--dev`: a single-validator development chain with
    /// a funded faucet, keys and genesis created in the home on first start.
    Run(RunArgs),
    /// Prepare a home for a new node of an existing network (a testnet):
    /// its genesis, keys and config.toml. Then `sherd node run --home DIR`
    /// syncs it; `sherd wallet stake --validator-key DIR/validator.bls`
    /// makes it a validator from the next epoch.
    Init(InitArgs),
}

/// `sherd node init`.
#[derive(Debug, ClapArgs)]
pub struct InitArgs {
    /// The network's genesis.json.
    #[arg(long)]
    pub genesis: PathBuf,
    /// A peer to dial at start, ending in /p2p/<peer id> (repeatable).
    #[arg(long = "bootnode", required = true)]
    pub bootnodes: Vec<String>,
    /// The home directory to create.
    #[arg(long)]
    pub home: PathBuf,
    /// Address of the HTTP API.
    #[arg(long, default_value = "127.0.0.1:8545")]
    pub api: SocketAddr,
    /// libp2p listen address.
    #[arg(long, default_value = "/ip4/127.0.0.1/tcp/30333")]
    pub p2p: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `sherd node run`.
#[derive(Debug, ClapArgs)]
pub struct RunArgs {
    /// Run the single-validator dev chain (keys and genesis created in the
    /// home on first start). Without it, the node runs the network its
    /// home's config.toml and genesis.json describe (`sherd testnet init`).
    #[arg(long)]
    pub dev: bool,
    /// Home directory: keys, genesis.json, config.toml and the database (db/).
    /// Default: $SHERD_HOME, else ~/.sherd/dev.
    #[arg(long, env = "SHERD_HOME")]
    pub home: Option<PathBuf>,
    /// Address of the HTTP API (dev chain; a networked node takes it from config.toml).
    #[arg(long, default_value = "127.0.0.1:8545", env = "SHERD_API")]
    pub api: SocketAddr,
    /// Also write logs to this file (appended).
    #[arg(long)]
    pub log_file: Option<PathBuf>,
}

/// Runs `sherd node …`.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run(args) => run_node(args),
        Command::Init(args) => {
            let (peer_id, bls) = sherd_node::home::init_node(
                &args.home,
                &sherd_node::home::JoinPlan {
                    genesis: args.genesis.clone(),
                    bootnodes: args.bootnodes.clone(),
                    api: args.api,
                    listen: args.p2p.clone(),
                },
            )?;
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "home": args.home,
                        "peer_id": peer_id.to_string(),
                        "bls_public_key": bls,
                        "validator_key": args.home.join("validator.bls"),
                    })
                );
            } else {
                println!(
                    "node home {} created; peer id {peer_id}",
                    args.home.display()
                );
                println!("run it:      sherd node run --home {}", args.home.display());
                println!(
                    "validate:    sherd wallet stake --from NAME --amount X --validator-key {} --node http://{}",
                    args.home.join("validator.bls").display(),
                    args.api
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn default_home() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .context("no --home given and $HOME is not set: pass --home DIR")?;
    Ok(PathBuf::from(home).join(".sherd").join("dev"))
}

fn init_logging(log_file: Option<&PathBuf>) -> anyhow::Result<()> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{fmt, EnvFilter};

    let filter = EnvFilter::try_from_env("SHERD_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,parity-db=warn"));
    let stderr = fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let file = match log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the log file {}", path.display()))?;
            Some(
                fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::sync::Mutex::new(file)),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file)
        .try_init()
        .context("cannot start logging")?;
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => { r.context("cannot watch SIGINT")?; Ok("SIGINT") }
            _ = term.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot watch Ctrl-C")?;
        Ok("Ctrl-C")
    }
}

fn run_node(args: RunArgs) -> anyhow::Result<ExitCode> {
    if !args.dev {
        return run_networked(args);
    }
    init_logging(args.log_file.as_ref())?;
    let home = match args.home {
        Some(home) => home,
        None => default_home()?,
    };
    let api = args.api;
    let mut config = sherd_node::DevConfig::new(home.clone(), api);
    config.hooks = sherd_node::hooks::Hooks::from_env()?;
    serve(async move {
        sherd_node::run_dev(config)
            .await
            .with_context(|| format!("cannot start the dev node in {}", home.display()))
    })
}

/// `sherd node run --home DIR`: a node of the network its home describes.
fn run_networked(args: RunArgs) -> anyhow::Result<ExitCode> {
    let Some(home) = args.home else {
        bail!("a networked node needs --home DIR (made by `sherd testnet init`); or run the dev chain with --dev");
    };
    let log_file = match args.log_file {
        Some(file) => Some(file),
        None => sherd_node::home::NodeHome::open(&home)?
            .config
            .log_file
            .map(|f| home.join(f)),
    };
    init_logging(log_file.as_ref())?;
    serve(async move {
        sherd_node::run_home(&home)
            .await
            .with_context(|| format!("cannot start the node in {}", home.display()))
    })
}

/// Starts a node on a new runtime and runs it until a signal or until its
/// consensus actor stops (an error).
fn serve(
    start: impl std::future::Future<Output = anyhow::Result<sherd_node::DevNode>>,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let node = start.await?;
        tracing::info!(api = %node.api, "node.run: running; Ctrl-C to stop");
        let mut check = tokio::time::interval(std::time::Duration::from_millis(500));
        let reason = loop {
            tokio::select! {
                signal = shutdown_signal() => break signal?,
                _ = check.tick() => {
                    if node.actor_stopped() {
                        break "consensus stopped";
                    }
                }
            }
        };
        tracing::info!(reason, "node.stop: shutting down");
        let failed = reason == "consensus stopped";
        node.shutdown().await?;
        if failed {
            bail!("the consensus actor stopped; see the log above");
        }
        tracing::info!("node.stop: stopped cleanly");
        Ok(ExitCode::SUCCESS)
    })
}
