//! `sherd storage`: put a file on providers, get it back, list and inspect
//! what this machine stored.
//!
//! The client is a light libp2p peer of its own (`sherd_node::net::light`):
//! it reads the chain through a node's HTTP API, dials the providers
//! directly, and submits its `CreateContract` through the node. The logic
//! (selection, placement with spares, verified parallel fetch) is
//! `sherd_market`'s; this module is the front end: files, wallet, progress,
//! messages.
//!
//! What was stored is kept in the local catalog (`--catalog`, default
//! `$SHERD_HOME/catalog` or `~/.sherd/catalog`): the object's manifest and
//! its key sealed to the owner's wallet key (never in plaintext on disk).

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use indicatif::ProgressBar;
use serde_json::{json, Value};
use sherd_fragments::{decode::Unstriper, Object, ObjectKey, Params};
use sherd_ledger::{
    state::market::{contract_id, per_gib_cost},
    state::{Extension, FragmentStatus},
    tx::kind::{CreateContract, FragmentDeal},
    Address, Amount, ChainId, Hash,
};
use sherd_market::{
    catalog::{self, Catalog, Entry, EntryState, Fingerprint},
    client::{
        assemble::{Assembly, AssemblyError},
        get::{fetch, FetchEvents, FetchFailure, Source},
        placement::Failure,
        put::{place, PutEvents, PutRequest},
        range::read_range,
        repair::{plan, repair},
        select::{select, Needs},
        source::{self, Streamed},
    },
    pack,
};
use sherd_node::net::light::{LightPeer, Timeouts};
use sherd_wallet::{
    build::{self, TxParams},
    client::{ContractInfo, TxOutcome},
    NodeClient, WalletDir, WalletKey, DEFAULT_FEE, DEFAULT_NODE_URL,
};

use crate::chain;
use crate::{output, wallet};

/// The largest file of a pack read on its own (and the largest index).
const MAX_PACKED_READ: u64 = 256 << 20;

/// How often a put asks the node whether its contract is final.
const FINALITY_POLL: Duration = Duration::from_millis(25);

/// `sherd storage [OPTIONS] COMMAND`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    opts: Options,
}

#[derive(Debug, clap::Args)]
struct Options {
    /// The node's HTTP API.
    #[arg(long, global = true, value_name = "URL", env = "SHERD_NODE", default_value = DEFAULT_NODE_URL)]
    node: String,
    /// Directory of the keystore files [default: $SHERD_HOME/wallets, else ~/.sherd/wallets].
    #[arg(long, global = true, value_name = "DIR")]
    wallet_dir: Option<PathBuf>,
    /// The catalog of stored objects [default: beside the wallets, `catalog/`].
    #[arg(long, global = true, value_name = "DIR")]
    catalog: Option<PathBuf>,
    /// Read the wallet password from FILE (its first line) instead of
    /// prompting; the SHERD_PASSWORD variable works too.
    #[arg(long, global = true, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Store a file: encrypt it, erasure-code it into K + M fragments, place
    /// them on providers, record the contract, and wait until it is final.
    /// A directory is stored as one pack of all its files (one contract,
    /// K + M proofs a period, whatever the number of files), each readable
    /// on its own with `get --file`.
    Put {
        /// The file, or a directory.
        file: PathBuf,
        /// Data fragments: any K rebuild the file.
        #[arg(long = "data", short = 'k', value_name = "K", default_value_t = 4)]
        data: usize,
        /// Parity fragments: up to M providers may vanish.
        #[arg(long = "parity", short = 'm', value_name = "M", default_value_t = 2)]
        parity: usize,
        /// How long to store it, in epochs (an epoch is the chain's
        /// `epoch_length` blocks: on the local testnet 100 blocks, about
        /// three minutes when it is idle).
        #[arg(long, value_name = "E", default_value_t = 10)]
        epochs: u64,
        /// The most to pay per GiB per epoch [default: any advertised price].
        #[arg(long, value_name = "AMOUNT")]
        max_price: Option<Amount>,
        /// The paying wallet [default: the only wallet].
        #[arg(long, value_name = "WALLET")]
        from: Option<String>,
        /// Seconds to wait for the contract to be final.
        #[arg(long, value_name = "SECONDS", default_value_t = 120)]
        timeout: u64,
        /// Store it even if this wallet stores the same content already
        /// (a second, independent copy; by default the put answers the
        /// object that holds it, and pays nothing).
        #[arg(long)]
        again: bool,
    },
    /// Read a stored file back from its providers into OUT.
    Get {
        /// The object id (or its first 8+ hex digits).
        id: String,
        /// Where to write the file, or the directory of a pack (must not
        /// exist).
        #[arg(long, short = 'o', value_name = "FILE")]
        out: PathBuf,
        /// Of a pack (a stored directory), read only this file: only the
        /// stripes that hold it are fetched.
        #[arg(long, value_name = "PATH")]
        file: Option<String>,
        /// The owner's wallet [default: the object's owner, by address].
        #[arg(long, value_name = "WALLET")]
        from: Option<String>,
    },
    /// The objects this machine stored, with their state on chain.
    Ls,
    /// An object's contract: every fragment's provider, status, proofs and
    /// escrow left.
    Status {
        /// The object id (or its first 8+ hex digits).
        id: String,
    },
    /// End an object's contract now: its providers keep this period's
    /// share, the rest of the escrow comes back, and they delete the
    /// fragments once the end is final. The catalog entry goes too.
    Rm {
        /// The object id (or its first 8+ hex digits).
        id: String,
        /// The client's wallet [default: the object's owner, by address].
        #[arg(long, value_name = "WALLET")]
        from: Option<String>,
        /// Seconds to wait for the end to be final.
        #[arg(long, value_name = "SECONDS", default_value_t = 120)]
        timeout: u64,
    },
    /// Store an object longer, with the same providers: more escrow for
    /// EPOCHS more epochs. Each provider's advertisement must still cover
    /// it (a price at most the contract's, a longest duration that covers
    /// what is left); this is checked before anything is sent.
    Extend {
        /// The object id (or its first 8+ hex digits).
        id: String,
        /// Epochs to add.
        #[arg(long, value_name = "E")]
        epochs: u64,
        /// When a provider no longer offers these terms: read the object
        /// back, store it again on providers that do, for what is left of
        /// it plus E epochs (a new contract and object id, at today's
        /// price), then end this contract (the rest of its escrow comes
        /// back). Nothing is ended unless the new contract is final.
        #[arg(long = "move")]
        move_away: bool,
        /// The client's wallet [default: the object's owner, by address].
        #[arg(long, value_name = "WALLET")]
        from: Option<String>,
        /// Seconds to wait for the extension to be final.
        #[arg(long, value_name = "SECONDS", default_value_t = 120)]
        timeout: u64,
    },
    /// Give another wallet read access to an object: its key sealed to
    /// that wallet's public key, in a share file to hand over. The
    /// recipient runs `sherd storage import FILE`, then `sherd storage get`.
    /// A share cannot be taken back: what was read stays read, and whoever
    /// holds the share holds the key (to stop future reads, store the file
    /// again and `rm` this object).
    Share {
        /// The object id (or its first 8+ hex digits).
        id: String,
        /// The recipient: an address (`sherd1…`) or a wallet name here.
        #[arg(long = "with", value_name = "ADDRESS")]
        with: String,
        /// Where to write the share [default: `<name>.share.json`].
        #[arg(long, short = 'o', value_name = "FILE")]
        out: Option<PathBuf>,
        /// The owner's wallet [default: the object's owner, by address].
        #[arg(long, value_name = "WALLET")]
        from: Option<String>,
    },
    /// Add an object someone shared with you to your catalog, its key
    /// sealed to your wallet, so `sherd storage get` reads it.
    Import {
        /// The share file.
        file: PathBuf,
        /// Your wallet [default: the share's recipient, by address].
        #[arg(long, value_name = "WALLET")]
        from: Option<String>,
    },
    /// Repair lost fragments: rebuild each from any K others (no object
    /// key is needed, fragments are ciphertext), place it with a new
    /// provider, and record the move on chain. Anyone may repair any
    /// contract, its client need not be online; the chain pays the repairer
    /// the fragment's repair reward. The least healthy objects go first.
    Repair {
        /// Only this object (its id, or first 8+ hex digits of a catalog
        /// entry) [default: every lost fragment on chain].
        id: Option<String>,
        /// Keep watching the chain, repairing fragments as they are lost
        /// (with --json, one line of JSON per repair).
        #[arg(long)]
        watch: bool,
        /// Seconds between looks at the chain with --watch.
        #[arg(long, value_name = "SECONDS", default_value_t = 5)]
        interval: u64,
        /// The wallet that signs the repairs and is paid their rewards
        /// [default: the only wallet].
        #[arg(long, value_name = "WALLET")]
        from: Option<String>,
        /// Seconds to wait for each repair to be final.
        #[arg(long, value_name = "SECONDS", default_value_t = 120)]
        timeout: u64,
    },
}

/// Runs `sherd storage …`.
pub fn run(args: Args) -> Result<ExitCode> {
    let ctx = Ctx::new(args.opts)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match args.command {
        Command::Put {
            file,
            data,
            parity,
            epochs,
            max_price,
            from,
            timeout,
            again,
        } => runtime.block_on(ctx.put(PutArgs {
            again,
            name: None,
            pack: false,
            file,
            data,
            parity,
            epochs,
            max_price,
            from,
            timeout,
        })),
        Command::Get {
            id,
            out,
            file,
            from,
        } => runtime.block_on(ctx.get(&id, &out, file.as_deref(), from.as_deref())),
        Command::Ls => ctx.ls(),
        Command::Status { id } => ctx.status(&id),
        Command::Rm { id, from, timeout } => {
            ctx.change(&id, None, from.as_deref(), Duration::from_secs(timeout))
        }
        Command::Extend {
            id,
            epochs,
            move_away,
            from,
            timeout,
        } => runtime.block_on(ctx.extend(
            &id,
            epochs,
            move_away,
            from.as_deref(),
            Duration::from_secs(timeout),
        )),
        Command::Share {
            id,
            with,
            out,
            from,
        } => ctx.share(&id, &with, out.as_deref(), from.as_deref()),
        Command::Import { file, from } => ctx.import(&file, from.as_deref()),
        Command::Repair {
            id,
            watch,
            interval,
            from,
            timeout,
        } => runtime.block_on(ctx.repair(RepairArgs {
            id,
            watch,
            interval: Duration::from_secs(interval.max(1)),
            from,
            timeout: Duration::from_secs(timeout),
        })),
    }
}

/// What `sherd storage put` is asked to do.
pub(crate) struct PutArgs {
    /// Store it even if this wallet stores the same content already.
    pub again: bool,
    /// The name in the catalog [default: the file's name].
    pub name: Option<String>,
    /// Whether the file is a pack of a directory.
    pub pack: bool,
    pub file: PathBuf,
    pub data: usize,
    pub parity: usize,
    pub epochs: u64,
    pub max_price: Option<Amount>,
    pub from: Option<String>,
    pub timeout: u64,
}

/// What `sherd storage repair` is asked to do.
struct RepairArgs {
    id: Option<String>,
    watch: bool,
    interval: Duration,
    from: Option<String>,
    timeout: Duration,
}

/// A fragment repaired and recorded.
struct RepairDone {
    contract: Hash,
    index: u32,
    provider: Address,
    tx: Hash,
    height: Option<u64>,
    reward: Amount,
    seconds: f64,
}

/// Whose key pays for a put or opens a get: a wallet of the wallet
/// directory (by name, or the only one / the object's owner), unlocked
/// with its password when needed; or a key already at hand (`sherd bench
/// storage`'s own funded account).
pub(crate) enum Wallet<'a> {
    /// `--from NAME`, or the default.
    Named(Option<&'a str>),
    /// This key, named `name` in messages.
    Key { name: &'a str, key: &'a WalletKey },
}

/// What a put came to.
pub(crate) enum Put {
    /// The file is stored (a new contract).
    Stored(Box<Stored>),
    /// This wallet stores the same content already, in this object;
    /// nothing was sent or paid.
    AlreadyStored(Box<Entry>),
}

/// What a put did, and how long each step took.
pub(crate) struct Stored {
    pub id: Hash,
    pub entry: Entry,
    pub size: u64,
    pub fragment_size: u64,
    pub price: Amount,
    pub escrow: Amount,
    pub tx: Hash,
    pub height: Option<u64>,
    pub placed: Vec<sherd_market::client::put::Placed>,
    pub failures: Vec<Failure>,
    pub timings: PutTimings,
}

/// An end or extension, final.
struct Changed {
    tx: Hash,
    height: Option<u64>,
    /// The escrow it locked (nothing for an end).
    cost: Amount,
    /// The contract's last period after it.
    last_period: Option<u64>,
}

/// The steps of a put: chain reads and provider selection, encoding (and
/// fsync of the fragments), placing every fragment (propose, upload,
/// acceptance), and recording the contract until it is final.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PutTimings {
    pub prepare: Duration,
    pub encode: Duration,
    pub upload: Duration,
    pub finality: Duration,
    pub total: Duration,
}

/// What a get did, and how long each step took.
pub(crate) struct Fetched {
    pub id: Hash,
    pub size: u64,
    pub report: sherd_market::client::get::FetchReport,
    pub timings: GetTimings,
}

/// The steps of a get: chain reads, fetching and checking `k` fragments,
/// decoding them into the output (fsynced and renamed into place).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GetTimings {
    pub prepare: Duration,
    pub fetch: Duration,
    pub decode: Duration,
    pub total: Duration,
}

pub(crate) struct Ctx {
    opts: Options,
    wallets: WalletDir,
    catalog: Catalog,
}

impl Ctx {
    fn new(opts: Options) -> Result<Self> {
        let root = match &opts.wallet_dir {
            Some(dir) => dir.clone(),
            None => WalletDir::default_root().ok_or_else(|| {
                anyhow!("no wallet directory: set SHERD_HOME or HOME, or pass --wallet-dir DIR")
            })?,
        };
        let catalog = match &opts.catalog {
            Some(dir) => dir.clone(),
            None => root
                .parent()
                .map(|p| p.join("catalog"))
                .unwrap_or_else(|| PathBuf::from("catalog")),
        };
        Ok(Self {
            wallets: WalletDir::new(root),
            catalog: Catalog::new(catalog),
            opts,
        })
    }

    /// A context for a program rather than a person (`sherd bench
    /// storage`): the node at `node`, the catalog in `catalog`, no wallet
    /// directory of its own (keys come as [`Wallet::Key`]), no progress bars.
    pub(crate) fn unattended(node: &str, catalog: PathBuf) -> Self {
        let root = catalog.join("wallets");
        Self {
            wallets: WalletDir::new(root.clone()),
            catalog: Catalog::new(catalog.clone()),
            opts: Options {
                node: node.to_string(),
                wallet_dir: Some(root),
                catalog: Some(catalog),
                password_file: None,
                json: true,
            },
        }
    }

    fn client(&self) -> Result<NodeClient> {
        Ok(NodeClient::new(&self.opts.node)?)
    }

    /// The wallet named `from`, or the only one.
    fn wallet_name(&self, from: Option<&str>) -> Result<String> {
        if let Some(name) = from {
            return Ok(name.to_string());
        }
        let names = self.wallets.names()?;
        match names.as_slice() {
            [one] => Ok(one.clone()),
            [] => bail!(
                "no wallet in {}: create one with `sherd wallet new NAME`",
                self.wallets.root().display()
            ),
            _ => bail!(
                "{} wallets in {}: choose one with --from ({})",
                names.len(),
                self.wallets.root().display(),
                names.join(", ")
            ),
        }
    }

    async fn put(&self, args: PutArgs) -> Result<ExitCode> {
        if fs::metadata(&args.file).is_ok_and(|m| m.is_dir()) {
            return self.put_dir(args).await;
        }
        let stored = match self
            .store(&args, Wallet::Named(args.from.as_deref()))
            .await?
        {
            Put::Stored(stored) => *stored,
            Put::AlreadyStored(entry) => return Ok(self.already_stored(&args.file, &entry)),
        };
        let Stored {
            id,
            entry,
            size,
            fragment_size,
            price,
            escrow,
            tx: hash,
            height,
            placed,
            failures,
            timings,
        } = stored;
        if self.opts.json {
            output::json(&json!({
                "id": id.to_string(),
                "name": entry.name,
                "size": size,
                "k": args.data,
                "m": args.parity,
                "fragment_size": fragment_size,
                "epochs": args.epochs,
                "price_per_gib_epoch": price.to_string(),
                "escrow": escrow.to_string(),
                "tx": hash.to_string(),
                "height": height,
                "providers": placed.iter().map(|p| json!({"index": p.index, "provider": p.provider.address.to_string()})).collect::<Vec<_>>(),
                "failures": failures.iter().map(failure_json).collect::<Vec<_>>(),
                "seconds": timings.total.as_secs_f64(),
            }));
        } else {
            println!(
                "stored {} ({}) as {}+{} fragments of {} on {} providers for {} epochs; escrow {escrow} (tx {hash}, final at height {})",
                entry.name,
                output::bytes(size),
                args.data,
                args.parity,
                output::bytes(fragment_size),
                placed.len(),
                args.epochs,
                height.unwrap_or(0),
            );
            if !failures.is_empty() {
                println!("{} attempt(s) failed and went to spares", failures.len());
            }
            println!("object id: {id}");
            println!(
                "read it back: sherd storage get {} --out FILE",
                &id.to_string()[..16]
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// Says that `what` is stored already, as `entry`: a put that paid
    /// nothing.
    fn already_stored(&self, what: &Path, entry: &Entry) -> ExitCode {
        if self.opts.json {
            output::json(&json!({
                "id": entry.id.to_string(),
                "name": entry.name,
                "size": entry.size,
                "already_stored": true,
            }));
        } else {
            println!(
                "{} is stored already, with the same content, as {} ({}); nothing was sent or paid (--again stores a second copy)",
                what.display(),
                entry.id,
                entry.name
            );
        }
        ExitCode::SUCCESS
    }

    /// `sherd storage put DIR`: one pack of every file under DIR.
    async fn put_dir(&self, args: PutArgs) -> Result<ExitCode> {
        let dir = args.file.clone();
        let files = pack::scan(&dir)?;
        let mut packed = tempfile::NamedTempFile::new().context("cannot create the pack")?;
        {
            let mut out = BufWriter::with_capacity(1 << 20, packed.as_file_mut());
            pack::write_pack(&files, &mut out)?;
            std::io::Write::flush(&mut out).context("cannot write the pack")?;
        }
        let name = format!(
            "{}/",
            dir.canonicalize()
                .ok()
                .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "pack".into())
        );
        let put = PutArgs {
            file: packed.path().to_path_buf(),
            name: Some(name.clone()),
            pack: true,
            ..args
        };
        let stored = match self.store(&put, Wallet::Named(put.from.as_deref())).await? {
            Put::Stored(stored) => *stored,
            Put::AlreadyStored(entry) => return Ok(self.already_stored(&dir, &entry)),
        };
        // What the pack costs, next to one contract per file.
        let n = (put.data + put.parity) as u64;
        let params = Params::new(put.data, put.parity)?;
        let alone: u64 = files
            .iter()
            .map(|(_, _, size)| {
                params
                    .layout((*size).max(1))
                    .map_or(0, |l| l.fragment_size.saturating_mul(n))
            })
            .sum();
        let stored_bytes = stored.fragment_size.saturating_mul(n);
        if self.opts.json {
            output::json(&json!({
                "id": stored.id.to_string(),
                "name": name,
                "files": files.len(),
                "size": stored.size,
                "k": put.data,
                "m": put.parity,
                "fragment_size": stored.fragment_size,
                "stored_bytes": stored_bytes,
                "proofs_per_period": n,
                "separately": { "contracts": files.len(), "stored_bytes": alone, "proofs_per_period": n * files.len() as u64 },
                "tx": stored.tx.to_string(),
                "seconds": stored.timings.total.as_secs_f64(),
            }));
        } else {
            println!(
                "stored {} files of {} as one pack ({}), {}+{} fragments of {}: {} on providers and {n} proofs a period (one contract per file: {} and {} proofs a period)",
                files.len(),
                dir.display(),
                output::bytes(stored.size),
                put.data,
                put.parity,
                output::bytes(stored.fragment_size),
                output::bytes(stored_bytes),
                output::bytes(alone),
                n * files.len() as u64
            );
            println!("object id: {}", stored.id);
            println!(
                "read one file: sherd storage get {} --file PATH --out FILE; all: --out DIR",
                &stored.id.to_string()[..16]
            );
        }
        drop(packed);
        Ok(ExitCode::SUCCESS)
    }

    /// Stores `args.file` paid by `wallet`: the whole of `sherd storage
    /// put` but its report (messages of refusals and failures are the
    /// command's).
    pub(crate) async fn store(&self, args: &PutArgs, wallet: Wallet<'_>) -> Result<Put> {
        let started = Instant::now();
        let meta = fs::metadata(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))?;
        if !meta.is_file() {
            bail!("{} is not a file", args.file.display());
        }
        let size = meta.len();
        if size == 0 {
            bail!(
                "{} is empty: there is nothing to store",
                args.file.display()
            );
        }
        let params = Params::new(args.data, args.parity)
            .map_err(|e| anyhow!("--data {} --parity {}: {e}", args.data, args.parity))?;
        let layout = params.layout(size).ok_or_else(|| {
            anyhow!(
                "{} is too large for {}+{}",
                args.file.display(),
                args.data,
                args.parity
            )
        })?;
        if args.epochs == 0 {
            bail!("--epochs must be at least 1");
        }
        let (name, keystore, owner) = match wallet {
            Wallet::Named(from) => {
                let name = self.wallet_name(from)?;
                let keystore = self.wallets.load(&name)?;
                let owner = keystore.address();
                (name, Some(keystore), owner)
            }
            Wallet::Key { name, key } => (name.to_string(), None, key.address()),
        };
        let client = self.client()?;
        let status = client.current_status()?;
        let chain_id: ChainId = status
            .chain_id
            .parse()
            .map_err(|e| anyhow!("the node reports chain id `{}`: {e}", status.chain_id))?;

        // Providers and money, before anything is encoded or sent.
        let n = params.total();
        let candidates = chain::candidates(&client)?;
        let spares = candidates.len().saturating_sub(n).min(n.max(4));
        let selection = select(
            &candidates,
            &Needs {
                fragment_size: layout.fragment_size,
                duration_epochs: args.epochs,
                max_price: args.max_price.unwrap_or(Amount::MAX),
                count: n,
                spares,
                exclude: Vec::new(),
            },
        )
        .map_err(|e| anyhow!("not enough storage providers: {e}"))?;
        let escrow_each = per_gib_cost(selection.price, layout.fragment_size, args.epochs)
            .ok_or_else(|| anyhow!("the escrow overflows: store less, or for fewer epochs"))?;
        let escrow = escrow_each
            .0
            .checked_mul(n as u64)
            .map(Amount)
            .ok_or_else(|| anyhow!("the escrow overflows"))?;
        let needed = escrow
            .checked_add(DEFAULT_FEE)
            .ok_or_else(|| anyhow!("the escrow overflows"))?;
        let account = client.account(&owner)?;
        if account.balance < needed {
            bail!(
                "wallet `{name}` ({owner}) has {}, storing {} as {}+{} for {} epochs at {} per GiB-epoch needs {needed} (escrow {escrow} + fee {DEFAULT_FEE}){}; nothing was sent",
                account.balance,
                output::bytes(size),
                args.data,
                args.parity,
                args.epochs,
                selection.price,
                if status.faucet {
                    format!("; on this chain `sherd wallet faucet {name}` can fund it")
                } else {
                    String::new()
                }
            );
        }
        let unlocked;
        let key = match (&keystore, &wallet) {
            (_, Wallet::Key { key, .. }) => *key,
            (Some(keystore), _) => {
                unlocked = wallet::unlock(keystore, self.opts.password_file.as_deref())?;
                &unlocked
            }
            (None, Wallet::Named(_)) => bail!("no wallet to pay with"),
        };

        // Encrypt and code once to fix the roots; the uploads then code the
        // stripes again as they send them (nothing is written to disk: see
        // sherd_market::client::source).
        let encoding = Instant::now();
        let prepare = encoding.duration_since(started);
        let input = File::open(&args.file)
            .with_context(|| format!("cannot open {}", args.file.display()))?;
        let reader = input
            .try_clone()
            .with_context(|| format!("cannot open {}", args.file.display()))?;
        let bar = output::progress(size, self.opts.json, "encoding");
        let secret = zeroize::Zeroizing::new(key.signing_key().to_bytes());
        let mut reader = Fingerprint::new(reader, &secret);
        let (planned, content) = tokio::task::spawn_blocking({
            let bar = bar.clone();
            move || {
                let planned = source::plan(&mut reader, size, params, &mut |done| {
                    bar.set_position(done)
                });
                (planned, reader.finish())
            }
        })
        .await
        .context("the encoder stopped")?;
        let (object, object_key, trailers) =
            planned.with_context(|| format!("cannot encode {}", args.file.display()))?;
        bar.finish_and_clear();
        if !args.again {
            if let Some(entry) = self.same_content(&owner, &content, &client)? {
                return Ok(Put::AlreadyStored(Box::new(entry)));
            }
        }
        let uploading = Instant::now();
        let encode = uploading.duration_since(encoding);
        let streamed = Streamed::new(&object, &object_key, &input, trailers)?;
        let fragments = streamed.fragments();

        // Place every fragment (spares step in for failures).
        let nonce = account.nonce;
        let id = contract_id(&owner, nonce);
        let peer = LightPeer::start(Timeouts::default())?;
        let request = PutRequest {
            chain_id: chain_id.clone(),
            client: owner,
            nonce,
            object: &object,
            duration_epochs: args.epochs,
            price: selection.price,
            fragments: &fragments,
            providers: selection
                .ranked
                .iter()
                .map(|c| c.endpoint.clone())
                .collect(),
        };
        let total = layout.fragment_size.saturating_mul(n as u64);
        let events = Progress::new(
            output::progress(total, self.opts.json, "uploading"),
            n,
            self.opts.json,
        );
        let placed = place(&peer, &request, &events).await;
        events.bar.finish_and_clear();
        let (placed, failures) = placed.map_err(|e| anyhow!("{e}; nothing was paid"))?;
        let recording = Instant::now();
        let upload = recording.duration_since(uploading);

        // Record the contract.
        let deals: Vec<FragmentDeal> = placed
            .iter()
            .map(|p| FragmentDeal {
                root: Hash(object.fragment_roots[p.index as usize]),
                provider: p.provider.address,
                acceptance: p.signature,
            })
            .collect();
        let tx = build::create_contract(
            key,
            &TxParams {
                chain_id: chain_id.clone(),
                nonce,
                fee: DEFAULT_FEE,
            },
            CreateContract {
                fragments: deals,
                ..sherd_market::client::put::proposal(&request, 0).terms()
            },
        )?;
        let mut entry = Entry {
            version: catalog::VERSION,
            id,
            name: args.name.clone().unwrap_or_else(|| {
                args.file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            }),
            size,
            chain_id: chain_id.to_string(),
            owner: owner.to_string(),
            created_ms: crate::now_ms(),
            state: EntryState::Pending,
            tx: Some(tx.id()?),
            manifest: object.manifest(),
            sealed_key: catalog::seal(&secret, &id, &object.root, &object_key)?,
            pack: args.pack,
            content: Some(content),
            shared_by: None,
        };
        // The key is kept before the contract is sent: a crash after this
        // point still leaves a way to read the file back.
        self.catalog.write(&entry)?;
        let hash = client
            .submit(&tx)
            .map_err(|e| anyhow!("the contract was not accepted by the node: {e}"))?;
        // Polled often: the chain finalizes in about 100 ms, and a put of a
        // small file is mostly this wait (the wallet's 250 ms made it most).
        let done = client
            .wait_for_finality_every(&hash, Duration::from_secs(args.timeout), FINALITY_POLL)
            .map_err(|e| anyhow!("{e}; the object is in the catalog as pending: `sherd storage status {id}` shows whether the contract arrived"))?;
        if done.outcome == Some(TxOutcome::Failed) {
            entry.state = EntryState::Failed;
            self.catalog.write(&entry)?;
            bail!(
                "the contract failed on chain: {} (only the fee was paid; the providers drop the fragments when their reservation ends)",
                done.reason.as_deref().unwrap_or("no reason given")
            );
        }
        entry.state = EntryState::Active;
        self.catalog.write(&entry)?;
        let done_at = Instant::now();
        Ok(Put::Stored(Box::new(Stored {
            id,
            entry,
            size,
            fragment_size: layout.fragment_size,
            price: selection.price,
            escrow,
            tx: hash,
            height: done.height,
            placed,
            failures,
            timings: PutTimings {
                prepare,
                encode,
                upload,
                finality: done_at.duration_since(recording),
                total: done_at.duration_since(started),
            },
        })))
    }

    /// An active object of `owner` in the catalog with content
    /// fingerprint `content`, whose contract is still running.
    fn same_content(
        &self,
        owner: &Address,
        content: &str,
        client: &NodeClient,
    ) -> Result<Option<Entry>> {
        let owner = owner.to_string();
        for entry in self.catalog.list()?.into_iter().flatten() {
            if entry.owner != owner
                || entry.shared_by.is_some()
                || entry.state != EntryState::Active
                || entry.content.as_deref() != Some(content)
            {
                continue;
            }
            let running = client.contract(&entry.id)?.is_some_and(|c| {
                c.fragments
                    .iter()
                    .any(|f| f.status != FragmentStatus::Ended)
            });
            if running {
                return Ok(Some(entry));
            }
        }
        Ok(None)
    }

    async fn get(
        &self,
        id: &str,
        out: &Path,
        file: Option<&str>,
        from: Option<&str>,
    ) -> Result<ExitCode> {
        let entry = self.catalog.find(id)?;
        match (entry.pack, file) {
            (false, Some(_)) => bail!(
                "{} is a single file, not a pack of a directory: read it without --file",
                entry.name
            ),
            (true, Some(path)) => return self.get_packed(&entry, path, out, from).await,
            (true, None) => return self.get_pack(&entry, out, from).await,
            (false, None) => {}
        }
        let Fetched {
            id,
            size,
            report,
            timings,
        } = self.fetch_to(id, out, Wallet::Named(from)).await?;
        if self.opts.json {
            output::json(&json!({
                "id": id.to_string(),
                "out": out.display().to_string(),
                "size": size,
                "fragments": report.good,
                "failures": report.failures.iter().map(fetch_failure_json).collect::<Vec<_>>(),
                "seconds": timings.total.as_secs_f64(),
            }));
        } else {
            // Each failure was said as it happened; here only who was
            // caught serving wrong bytes, which a person may want to act on.
            for f in report.failures.iter().filter(|f| f.corrupt) {
                eprintln!(
                    "provider {} served wrong bytes for fragment {}: {}",
                    f.provider, f.index, f.reason
                );
            }
            println!(
                "wrote {} ({}) from {} fragments in {:.1} s",
                out.display(),
                output::bytes(size),
                report.good.len(),
                timings.total.as_secs_f64()
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// A whole pack into the directory `out`.
    async fn get_pack(&self, entry: &Entry, out: &Path, from: Option<&str>) -> Result<ExitCode> {
        if fs::symlink_metadata(out).is_ok() {
            bail!("{} already exists: choose another --out", out.display());
        }
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let whole = parent.join(format!(".{}.pack-{}", entry.id, std::process::id()));
        let fetched = self
            .fetch_to(&entry.id.to_string(), &whole, Wallet::Named(from))
            .await?;
        let unpacked = File::open(&whole)
            .map_err(anyhow::Error::from)
            .and_then(|f| {
                let mut reader = std::io::BufReader::with_capacity(1 << 20, f);
                Ok(pack::unpack(&mut reader, fetched.size, out)?)
            });
        let _ = fs::remove_file(&whole);
        let index = unpacked.with_context(|| format!("cannot unpack into {}", out.display()))?;
        if self.opts.json {
            output::json(&json!({
                "id": entry.id.to_string(),
                "out": out.display().to_string(),
                "files": index.files.len(),
                "size": fetched.size,
                "seconds": fetched.timings.total.as_secs_f64(),
            }));
        } else {
            println!(
                "wrote {} files into {} in {:.1} s",
                index.files.len(),
                out.display(),
                fetched.timings.total.as_secs_f64()
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// One file of a pack: only the stripes that hold the pack's header
    /// and then the file are fetched.
    async fn get_packed(
        &self,
        entry: &Entry,
        path: &str,
        out: &Path,
        from: Option<&str>,
    ) -> Result<ExitCode> {
        let started = Instant::now();
        if fs::symlink_metadata(out).is_ok() {
            bail!("{} already exists: choose another --out", out.display());
        }
        let (object, object_key) = self.open(entry, Wallet::Named(from))?;
        let client = self.client()?;
        let (sources, _) = self.sources(&client, entry, &object)?;
        let peer = LightPeer::start(Timeouts::default())?;
        let layout = object.layout;
        let read = |range: std::ops::Range<u64>| {
            read_range(
                &peer,
                entry.id,
                layout,
                &object_key,
                sources.clone(),
                range,
                MAX_PACKED_READ,
            )
        };
        let prefix = read(0..pack::PREFIX_LEN.min(layout.size)).await?;
        let index_len = pack::index_len(&prefix)?;
        let data_start = pack::PREFIX_LEN + index_len;
        let json = read(pack::PREFIX_LEN..data_start).await?;
        let data_len = layout
            .size
            .checked_sub(data_start)
            .ok_or_else(|| anyhow!("the pack is shorter than its index"))?;
        let index = pack::parse_index(&json, data_len)?;
        let file = index.files.iter().find(|f| f.path == path).ok_or_else(|| {
            anyhow!(
                "{} has no file {path} ({} files; `--out DIR` without --file writes them all)",
                entry.name,
                index.files.len()
            )
        })?;
        let bytes = read(data_start + file.offset..data_start + file.offset + file.size).await?;
        crate::fsutil::write_atomic(out, &bytes, false)?;
        if self.opts.json {
            output::json(&json!({
                "id": entry.id.to_string(),
                "file": path,
                "out": out.display().to_string(),
                "size": file.size,
                "seconds": started.elapsed().as_secs_f64(),
            }));
        } else {
            println!(
                "wrote {} ({}) from {} in {:.2} s",
                out.display(),
                output::bytes(file.size),
                entry.name,
                started.elapsed().as_secs_f64()
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// Reads object `id` back into `out` with `wallet`'s key: the whole of
    /// `sherd storage get` but its report.
    pub(crate) async fn fetch_to(
        &self,
        id: &str,
        out: &Path,
        wallet: Wallet<'_>,
    ) -> Result<Fetched> {
        let started = Instant::now();
        if fs::symlink_metadata(out).is_ok() {
            bail!("{} already exists: choose another --out", out.display());
        }
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            bail!("the directory of {} does not exist", out.display());
        }
        let entry = self.catalog.find(id)?;
        let (object, object_key) = self.open(&entry, wallet)?;
        let client = self.client()?;
        let (sources, missing) = self.sources(&client, &entry, &object)?;
        let k = object.layout.params.data();
        // Decoded while it is fetched, into a temporary beside OUT that is
        // renamed once whole: OUT appears whole or not at all, and nothing
        // else is written (see sherd_market::client::assemble).
        let partial = parent.join(format!(
            ".{}.partial-{}",
            out.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        let assembly = Assembly::new(object.layout);
        let decoder = tokio::task::spawn_blocking({
            let (assembly, partial, layout) = (assembly.clone(), partial.clone(), object.layout);
            let out_name = out.to_path_buf();
            move || -> Result<()> {
                let written = (|| -> Result<()> {
                    let file = File::create(&partial)
                        .with_context(|| format!("cannot create {}", partial.display()))?;
                    let mut writer = BufWriter::with_capacity(1 << 20, file);
                    let mut unstriper = Unstriper::new(layout, &object_key);
                    assembly
                        .decode(&mut unstriper, &mut writer, &mut |_| {})
                        .with_context(|| format!("cannot write {}", out_name.display()))?;
                    let file = writer.into_inner().map_err(|e| e.into_error())?;
                    file.sync_all()
                        .with_context(|| format!("cannot write {}", partial.display()))?;
                    Ok(())
                })();
                if let Err(e) = &written {
                    assembly.end(format!("decoding stopped: {e}"));
                }
                written
            }
        });
        let peer = LightPeer::start(Timeouts::default())?;
        let fetching = Instant::now();
        let total = object.layout.fragment_size.saturating_mul(k as u64);
        let events = Progress::new(
            output::progress(total, self.opts.json, "fetching"),
            object.layout.params.total(),
            self.opts.json,
        );
        let report = fetch(
            &peer,
            entry.id,
            object.layout.fragment_size,
            k,
            sources,
            &assembly,
            &events,
        )
        .await;
        events.bar.finish_and_clear();
        let decoding = Instant::now();
        assembly.end(match &report {
            Ok(_) => "the fetch is complete".into(),
            Err(e) => e.to_string(),
        });
        let decoded = decoder.await.context("the decoder stopped");
        // A decoder that failed on our side (the output cannot be written)
        // made the downloads fail too: its error is the one to tell.
        let ours = |e: &anyhow::Error| {
            !matches!(
                e.downcast_ref::<AssemblyError>(),
                Some(AssemblyError::Fetch(_))
            )
        };
        let written = match (report, decoded) {
            (Err(_), Ok(Err(e))) if ours(&e) => Err(e),
            (Err(e), _) => Err(anyhow!(
                "{e}{}",
                if missing.is_empty() {
                    String::new()
                } else {
                    format!("; fragments {missing:?} have providers without an endpoint")
                }
            )),
            (Ok(_), Err(e)) | (Ok(_), Ok(Err(e))) => Err(e),
            (Ok(report), Ok(Ok(()))) => fs::rename(&partial, out)
                .with_context(|| format!("cannot create {}", out.display()))
                .map(|()| report),
        };
        let report = match written {
            Ok(report) => report,
            Err(e) => {
                let _ = fs::remove_file(&partial);
                return Err(e);
            }
        };
        let done = Instant::now();
        Ok(Fetched {
            id: entry.id,
            size: object.layout.size,
            report,
            timings: GetTimings {
                prepare: fetching.duration_since(started),
                fetch: decoding.duration_since(fetching),
                decode: done.duration_since(decoding),
                total: done.duration_since(started),
            },
        })
    }

    async fn repair(&self, args: RepairArgs) -> Result<ExitCode> {
        let name = self.wallet_name(args.from.as_deref())?;
        let keystore = self.wallets.load(&name)?;
        let key = wallet::unlock(&keystore, self.opts.password_file.as_deref())?;
        let client = self.client()?;
        let only = match &args.id {
            None => None,
            Some(text) => Some(match self.catalog.find(text) {
                Ok(entry) => entry.id,
                Err(catalog_error) => text.parse::<Hash>().map_err(|_| catalog_error)?,
            }),
        };
        if let Some(id) = only {
            if client.contract(&id)?.is_none() {
                bail!("the chain has no contract {id}");
            }
        }
        let peer = LightPeer::start(Timeouts::default())?;
        // A fragment that failed is left alone for a while, so one that
        // cannot be repaired now does not hold up the others.
        let mut resting: std::collections::HashMap<(Hash, u32), Instant> = Default::default();
        let (mut repaired, mut failed) = (Vec::new(), Vec::new());
        loop {
            let lost = match client.repairs() {
                Ok(lost) => lost,
                Err(e) if args.watch => {
                    eprintln!("cannot read the lost fragments: {e}; trying again");
                    tokio::time::sleep(args.interval).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let now = Instant::now();
            resting.retain(|_, until| *until > now);
            let todo: Vec<_> = lost
                .into_iter()
                .filter(|r| only.is_none_or(|id| id == r.contract))
                .filter(|r| !resting.contains_key(&(r.contract, r.index)))
                .collect();
            if !args.watch && todo.is_empty() && repaired.is_empty() && failed.is_empty() {
                if self.opts.json {
                    output::json(&json!({ "repaired": [], "failed": [] }));
                } else {
                    println!(
                        "nothing to repair: no lost fragment{}",
                        match only {
                            Some(id) => format!(" in contract {id}"),
                            None => " on chain".into(),
                        }
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            for r in todo {
                if !self.opts.json {
                    println!(
                        "repairing fragment {} of {} (health {:.0} %, {} of {} active)",
                        r.index,
                        r.contract,
                        100.0 * r.health,
                        r.active,
                        r.k + r.m
                    );
                }
                match self
                    .repair_one(&client, &peer, &key, &r, args.timeout)
                    .await
                {
                    Ok(done) => {
                        if self.opts.json && args.watch {
                            // A stream: one compact JSON document per line.
                            println!("{}", repair_json(&done));
                        } else if !self.opts.json {
                            println!(
                                "repaired fragment {} of {}: now with {} (tx {}, final at height {}, reward {})",
                                done.index,
                                done.contract,
                                done.provider,
                                done.tx,
                                done.height.unwrap_or(0),
                                done.reward
                            );
                        }
                        repaired.push(done);
                    }
                    Err(e) => {
                        let reason = format!("{e:#}");
                        eprintln!(
                            "cannot repair fragment {} of {}: {reason}",
                            r.index, r.contract
                        );
                        resting.insert((r.contract, r.index), Instant::now() + args.interval * 6);
                        failed.push(json!({
                            "contract": r.contract.to_string(),
                            "index": r.index,
                            "reason": reason,
                        }));
                    }
                }
            }
            if !args.watch {
                if self.opts.json {
                    output::json(&json!({
                        "repaired": repaired.iter().map(repair_json).collect::<Vec<_>>(),
                        "failed": failed,
                    }));
                }
                return Ok(if failed.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                });
            }
            repaired.clear();
            failed.clear();
            tokio::time::sleep(args.interval).await;
        }
    }

    /// Repairs lost fragment `r.index` of `r.contract` and records it.
    async fn repair_one(
        &self,
        client: &NodeClient,
        peer: &LightPeer,
        key: &WalletKey,
        r: &sherd_wallet::client::RepairInfo,
        timeout: Duration,
    ) -> Result<RepairDone> {
        let started = Instant::now();
        let status = client.current_status()?;
        let params = status.params.ok_or_else(|| {
            anyhow!("the node does not serve the chain parameters (a newer node is needed)")
        })?;
        let chain_id = params.chain_id.clone();
        let contract = client
            .contract(&r.contract)?
            .ok_or_else(|| anyhow!("the chain has no contract {}", r.contract))?;
        let record = contract.to_contract();
        let endpoints = chain::endpoints(client, contract.fragments.iter().map(|f| f.provider))?;
        let lost = plan(
            &record,
            r.index,
            key.address(),
            &params,
            status.finalized_height,
            &endpoints,
            &chain::candidates(client)?,
        )?;
        let scratch = tempfile::tempfile().context("cannot create a scratch file")?;
        let n = usize::from(contract.k) + usize::from(contract.m);
        let events = Progress::new(
            output::progress(
                contract.fragment_size.saturating_mul(u64::from(contract.k)),
                self.opts.json,
                "rebuilding",
            ),
            n,
            self.opts.json,
        );
        let repaired = repair(peer, &lost, &scratch, &events).await;
        events.bar.finish_and_clear();
        let repaired = repaired?;
        let account = client.account(&key.address())?;
        let tx = build::repair_fragment(
            key,
            &TxParams {
                chain_id,
                nonce: account.nonce,
                fee: DEFAULT_FEE,
            },
            &record,
            r.index,
            repaired.provider.address,
            repaired.signature,
        )?;
        let hash = client.submit(&tx)?;
        let done = client.wait_for_finality_every(&hash, timeout, FINALITY_POLL)?;
        if done.outcome == Some(TxOutcome::Failed) {
            bail!(
                "the repair failed on chain: {} (only the fee was paid; the new provider drops the fragment when its reservation ends)",
                done.reason.as_deref().unwrap_or("no reason given")
            );
        }
        Ok(RepairDone {
            contract: r.contract,
            index: r.index,
            provider: repaired.provider.address,
            tx: hash,
            height: done.height,
            reward: r.repair_reward,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// `rm` (`epochs` is `None`) or `extend`: the client's transaction on
    /// its contract, waited for until final.
    fn change(
        &self,
        id: &str,
        epochs: Option<u64>,
        from: Option<&str>,
        timeout: Duration,
    ) -> Result<ExitCode> {
        let entry = self.catalog.find(id)?;
        let name = match from {
            Some(name) => name.to_string(),
            None => self.owner_wallet(&entry)?,
        };
        let keystore = self.wallets.load(&name)?;
        let key = wallet::unlock(&keystore, self.opts.password_file.as_deref())?;
        let changed = self.submit_change(&entry, epochs, &name, &key, timeout)?;
        if self.opts.json {
            output::json(&json!({
                "id": entry.id.to_string(),
                "tx": changed.tx.to_string(),
                "height": changed.height,
                "escrow": changed.cost.to_string(),
                "last_period": changed.last_period,
                "ended": epochs.is_none(),
            }));
        } else if epochs.is_none() {
            println!(
                "ended {} ({}): the rest of the escrow is back (tx {}); its providers delete the fragments",
                entry.name, entry.id, changed.tx
            );
        } else {
            println!(
                "extended {} ({}) to period {} for {} more escrow (tx {})",
                entry.name,
                entry.id,
                changed.last_period.unwrap_or_default(),
                changed.cost,
                changed.tx
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// `sherd storage extend`: with the same providers when each still
    /// offers the terms; otherwise refused before anything is sent, or
    /// with `--move` stored again on providers that do.
    async fn extend(
        &self,
        id: &str,
        epochs: u64,
        move_away: bool,
        from: Option<&str>,
        timeout: Duration,
    ) -> Result<ExitCode> {
        if epochs == 0 {
            bail!("--epochs 0: an extension needs at least 1 epoch");
        }
        let entry = self.catalog.find(id)?;
        let client = self.client()?;
        let contract = self.contract_of(&client, &entry)?.to_contract();
        let status = client.current_status()?;
        let params = status.params.as_ref().ok_or_else(|| {
            anyhow!(
                "the node at {} does not say its chain parameters: it is older than this sherd",
                client.url()
            )
        })?;
        let extension = Extension::of(
            params,
            &contract,
            epochs,
            status.finalized_height.saturating_add(1),
        )
        .map_err(|e| anyhow!("cannot extend {}: {e}; nothing was sent", entry.name))?;
        let ads = chain::ads(&client)?;
        let refusing: Vec<String> = contract
            .fragments
            .iter()
            .filter(|f| f.status == FragmentStatus::Active)
            .filter_map(|f| {
                let reason = match ads.get(&f.provider) {
                    None => Some("it no longer advertises storage".to_string()),
                    Some(ad) => extension.covered_by(ad).err().map(|e| e.to_string()),
                };
                reason.map(|r| format!("{}: {r}", f.provider))
            })
            .collect();
        if refusing.is_empty() {
            return self.change(id, Some(epochs), from, timeout);
        }
        if !move_away {
            bail!(
                "{} cannot be extended with the same providers; nothing was sent:\n  {}\n--move stores it again on providers that offer the terms (a new object id, for the {} epochs it would have left) and then ends this contract",
                entry.name,
                refusing.join("\n  "),
                extension.epochs_left
            );
        }
        self.move_away(&entry, extension.epochs_left, &refusing, from, timeout)
            .await
    }

    /// `extend --move`: reads `entry` back whole and verified, stores it
    /// again for `epochs` (a new key, contract and id), and only once that
    /// contract is final ends the old one and drops its catalog entry. The
    /// plaintext sits in a private temporary directory beside the catalog,
    /// removed whatever happens.
    async fn move_away(
        &self,
        entry: &Entry,
        epochs: u64,
        refusing: &[String],
        from: Option<&str>,
        timeout: Duration,
    ) -> Result<ExitCode> {
        if let Some(by) = &entry.shared_by {
            bail!(
                "{} was shared with you by {by}: only its owner moves it",
                entry.name
            );
        }
        let name = match from {
            Some(name) => name.to_string(),
            None => self.owner_wallet(entry)?,
        };
        let keystore = self.wallets.load(&name)?;
        let key = wallet::unlock(&keystore, self.opts.password_file.as_deref())?;
        if !self.opts.json {
            for line in refusing {
                println!("no longer offered by {line}");
            }
            println!("reading {} back to store it again", entry.name);
        }
        let scratch = tempfile::Builder::new()
            .prefix(".move-")
            .tempdir_in(self.catalog.dir())
            .context("cannot make a temporary directory beside the catalog")?;
        let plain = scratch.path().join("object");
        self.fetch_to(
            &entry.id.to_string(),
            &plain,
            Wallet::Key {
                name: &name,
                key: &key,
            },
        )
        .await
        .with_context(|| format!("cannot read {} back; nothing was changed", entry.name))?;
        let put = PutArgs {
            again: true,
            name: Some(entry.name.clone()),
            pack: entry.pack,
            file: plain,
            data: entry.manifest.data_fragments.into(),
            parity: entry.manifest.parity_fragments.into(),
            epochs,
            max_price: None,
            from: Some(name.clone()),
            timeout: timeout.as_secs(),
        };
        let stored = match self
            .store(
                &put,
                Wallet::Key {
                    name: &name,
                    key: &key,
                },
            )
            .await
            .with_context(|| {
                format!(
                    "cannot store {} again; its contract {} is unchanged",
                    entry.name, entry.id
                )
            })? {
            Put::Stored(stored) => *stored,
            Put::AlreadyStored(_) => bail!("a put with --again answered `stored already`"),
        };
        drop(scratch);
        let ended = self
            .submit_change(entry, None, &name, &key, timeout)
            .with_context(|| {
                format!(
                    "{} is stored again as {}, but ending the old contract {} failed: run `sherd storage rm {}`",
                    entry.name, stored.id, entry.id, entry.id
                )
            })?;
        if self.opts.json {
            output::json(&json!({
                "id": stored.id.to_string(),
                "moved_from": entry.id.to_string(),
                "name": stored.entry.name,
                "epochs": epochs,
                "price_per_gib_epoch": stored.price.to_string(),
                "escrow": stored.escrow.to_string(),
                "tx": stored.tx.to_string(),
                "end_tx": ended.tx.to_string(),
                "providers": stored.placed.iter().map(|p| json!({"index": p.index, "provider": p.provider.address.to_string()})).collect::<Vec<_>>(),
            }));
        } else {
            println!(
                "moved {} to {} providers for {epochs} epochs at {} per GiB-epoch; escrow {} (tx {})",
                entry.name,
                stored.placed.len(),
                stored.price,
                stored.escrow,
                stored.tx
            );
            println!(
                "ended the old contract {}: the rest of its escrow is back (tx {})",
                entry.id, ended.tx
            );
            println!("object id: {}", stored.id);
        }
        Ok(ExitCode::SUCCESS)
    }

    /// `entry`'s contract on chain, or why there is none.
    fn contract_of(&self, client: &NodeClient, entry: &Entry) -> Result<ContractInfo> {
        client.contract(&entry.id)?.ok_or_else(|| {
            anyhow!(
                "the chain at {} has no contract {}: it failed or was never sent",
                client.url(),
                entry.id
            )
        })
    }

    /// Ends (`epochs` none) or extends `entry`'s contract, signed by `key`
    /// (wallet `name`), and waits until it is final; an end also drops the
    /// catalog entry.
    fn submit_change(
        &self,
        entry: &Entry,
        epochs: Option<u64>,
        name: &str,
        key: &WalletKey,
        timeout: Duration,
    ) -> Result<Changed> {
        if let Some(by) = &entry.shared_by {
            bail!(
                "{} was shared with you by {by}: only its owner ends or extends it",
                entry.name
            );
        }
        let client = self.client()?;
        let contract = self.contract_of(&client, entry)?;
        let record = contract.to_contract();
        let status = client.current_status()?;
        let chain_id: ChainId = status
            .chain_id
            .parse()
            .map_err(|e| anyhow!("the node reports chain id `{}`: {e}", status.chain_id))?;
        let account = client.account(&key.address())?;
        let params = TxParams {
            chain_id,
            nonce: account.nonce,
            fee: DEFAULT_FEE,
        };
        // Built first: it says when the wallet is not the client's.
        let tx = match epochs {
            None => build::end_contract(key, &params, &record)?,
            Some(epochs) => build::extend_contract(key, &params, &record, epochs)?,
        };
        let cost = match epochs {
            None => Amount::ZERO,
            Some(epochs) => {
                let open = contract
                    .fragments
                    .iter()
                    .filter(|f| f.status != FragmentStatus::Ended)
                    .count() as u64;
                per_gib_cost(contract.price_per_gib_epoch, contract.fragment_size, epochs)
                    .and_then(|each| each.0.checked_mul(open))
                    .map(Amount)
                    .ok_or_else(|| anyhow!("the escrow overflows: extend by fewer epochs"))?
            }
        };
        let needed = cost
            .checked_add(DEFAULT_FEE)
            .ok_or_else(|| anyhow!("the escrow overflows"))?;
        if account.balance < needed {
            bail!(
                "wallet `{name}` has {}, {} needs {needed} (escrow {cost} + fee {DEFAULT_FEE}); nothing was sent",
                account.balance,
                if epochs.is_some() { "the extension" } else { "ending it" }
            );
        }
        let hash = client.submit(&tx)?;
        let done = client.wait_for_finality_every(&hash, timeout, FINALITY_POLL)?;
        if done.outcome == Some(TxOutcome::Failed) {
            bail!(
                "refused on chain: {} (only the fee was paid)",
                done.reason.as_deref().unwrap_or("no reason given")
            );
        }
        let after = client.contract(&entry.id)?;
        if epochs.is_none() {
            self.catalog.remove(&entry.id)?;
        }
        Ok(Changed {
            tx: hash,
            height: done.height,
            cost,
            last_period: after.map(|c| c.last_period),
        })
    }

    fn share(
        &self,
        id: &str,
        with: &str,
        out: Option<&Path>,
        from: Option<&str>,
    ) -> Result<ExitCode> {
        let entry = self.catalog.find(id)?;
        let recipient: Address = match with.parse() {
            Ok(address) => address,
            Err(e) => match self.wallets.load(with) {
                Ok(keystore) => keystore.address(),
                Err(_) => bail!("--with {with}: not an address ({e}) nor a wallet here"),
            },
        };
        let (object, object_key) = self.open(&entry, Wallet::Named(from))?;
        let sealed = sherd_market::share::seal_to(&recipient, &entry.id, &object, &object_key)?;
        let share = sherd_market::share::Share {
            version: sherd_market::share::VERSION,
            id: entry.id,
            name: entry.name.clone(),
            size: entry.size,
            chain_id: entry.chain_id.clone(),
            owner: entry.owner.clone(),
            recipient: recipient.to_string(),
            manifest: entry.manifest.clone(),
            sealed_key: sealed,
            pack: entry.pack,
        };
        let out = out.map(Path::to_path_buf).unwrap_or_else(|| {
            PathBuf::from(format!(
                "{}.share.json",
                if entry.name.is_empty() {
                    entry.id.to_string()[..16].to_string()
                } else {
                    entry.name.clone()
                }
            ))
        });
        // The key in it opens only with the recipient's key.
        crate::fsutil::write_atomic(&out, share.to_json().as_bytes(), false)?;
        if self.opts.json {
            output::json(&json!({
                "id": entry.id.to_string(),
                "recipient": recipient.to_string(),
                "share": out.display().to_string(),
            }));
        } else {
            println!(
                "shared {} with {recipient}: give them {} (it holds the object key sealed to their key only); they run `sherd storage import {}`",
                entry.name,
                out.display(),
                out.display()
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    fn import(&self, file: &Path, from: Option<&str>) -> Result<ExitCode> {
        let bytes = fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let share = sherd_market::share::Share::from_json(&bytes)
            .with_context(|| format!("{} is not a share", file.display()))?;
        let object = share.object()?;
        if fs::metadata(self.catalog.path(&share.id)).is_ok() {
            bail!(
                "object {} is in the catalog already (`sherd storage ls`)",
                share.id
            );
        }
        let name = match from {
            Some(name) => name.to_string(),
            None => self.wallet_with(&share.recipient)?.ok_or_else(|| {
                anyhow!(
                    "the share is for {}, and no wallet in {} has that address",
                    share.recipient,
                    self.wallets.root().display()
                )
            })?,
        };
        let keystore = self.wallets.load(&name)?;
        let key = wallet::unlock(&keystore, self.opts.password_file.as_deref())?;
        let object_key = share.open(key.signing_key())?;
        let client = self.client()?;
        let contract = client
            .contract(&share.id)?
            .ok_or_else(|| anyhow!("the chain at {} has no contract {}", client.url(), share.id))?;
        if contract.object_root != Hash(object.root)
            || contract.fragment_size != object.layout.fragment_size
        {
            bail!(
                "the share's object is not contract {}'s: the share and the chain disagree",
                share.id
            );
        }
        let secret = zeroize::Zeroizing::new(key.signing_key().to_bytes());
        let entry = Entry {
            version: catalog::VERSION,
            id: share.id,
            name: share.name.clone(),
            size: share.size,
            chain_id: share.chain_id.clone(),
            owner: key.address().to_string(),
            created_ms: crate::now_ms(),
            state: EntryState::Active,
            tx: None,
            manifest: share.manifest.clone(),
            sealed_key: catalog::seal(&secret, &share.id, &object.root, &object_key)?,
            pack: share.pack,
            content: None,
            shared_by: Some(share.owner.clone()),
        };
        self.catalog.write(&entry)?;
        if self.opts.json {
            output::json(&json!({
                "id": share.id.to_string(),
                "name": share.name,
                "shared_by": share.owner,
                "wallet": name,
            }));
        } else {
            println!(
                "imported {} ({}) shared by {}: `sherd storage get {} --out FILE` reads it",
                share.name,
                output::bytes(share.size),
                share.owner,
                &share.id.to_string()[..16]
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// `entry`'s object and its key, opened with `wallet` (by default the
    /// wallet of the entry's owner, unlocked with its password).
    fn open(&self, entry: &Entry, wallet: Wallet<'_>) -> Result<(Object, ObjectKey)> {
        let object = entry
            .object()
            .map_err(|e| anyhow!("the catalog entry of {} is damaged: {e}", entry.id))?;
        let unlocked;
        let key = match wallet {
            Wallet::Key { key, .. } => key,
            Wallet::Named(from) => {
                let name = match from {
                    Some(name) => name.to_string(),
                    None => self.owner_wallet(entry)?,
                };
                let keystore = self.wallets.load(&name)?;
                unlocked = wallet::unlock(&keystore, self.opts.password_file.as_deref())?;
                &unlocked
            }
        };
        let secret = zeroize::Zeroizing::new(key.signing_key().to_bytes());
        let object_key = entry.key(&secret, &key.address())?;
        Ok((object, object_key))
    }

    /// Where `entry`'s fragments are, from its contract on chain (checked to
    /// be the object's): the fragments whose provider has an endpoint, and
    /// the indexes of those without one.
    fn sources(
        &self,
        client: &NodeClient,
        entry: &Entry,
        object: &Object,
    ) -> Result<(Vec<Source>, Vec<usize>)> {
        let contract = client.contract(&entry.id)?.ok_or_else(|| {
            anyhow!(
                "the chain at {} has no contract {}: it failed or was never sent (`sherd storage ls`)",
                client.url(),
                entry.id
            )
        })?;
        if contract.object_root != Hash(object.root)
            || contract.fragment_size != object.layout.fragment_size
        {
            bail!(
                "contract {} is not this object's: the catalog entry and the chain disagree",
                entry.id
            );
        }
        let endpoints = chain::endpoints(client, contract.fragments.iter().map(|f| f.provider))?;
        let mut sources = Vec::new();
        let mut missing = Vec::new();
        for (index, f) in contract.fragments.iter().enumerate() {
            match endpoints.get(&f.provider) {
                Some(endpoint) => sources.push(Source {
                    index: index as u32,
                    root: f.root,
                    endpoint: endpoint.clone(),
                }),
                None => missing.push(index),
            }
        }
        Ok((sources, missing))
    }

    /// The wallet here whose address is `address`.
    fn wallet_with(&self, address: &str) -> Result<Option<String>> {
        for name in self.wallets.names()? {
            if let Ok(ks) = self.wallets.load(&name) {
                if ks.address().to_string() == address {
                    return Ok(Some(name));
                }
            }
        }
        Ok(None)
    }

    /// The wallet whose address owns `entry`.
    fn owner_wallet(&self, entry: &Entry) -> Result<String> {
        if let Some(name) = self.wallet_with(&entry.owner)? {
            return Ok(name);
        }
        bail!(
            "no wallet in {} owns object {} (its owner is {}): restore that wallet, or pass --from",
            self.wallets.root().display(),
            entry.id,
            entry.owner
        )
    }

    fn ls(&self) -> Result<ExitCode> {
        let entries = self.catalog.list()?;
        let client = self.client().ok();
        let mut rows = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    eprintln!("warning: {e}");
                    continue;
                }
            };
            let chain = client.as_ref().map(|c| c.contract(&entry.id));
            let (state, fragments) = match chain {
                None => ("node unreachable".to_string(), None),
                Some(Err(e)) => (format!("node error: {e}"), None),
                Some(Ok(None)) => (
                    if entry.state == EntryState::Failed {
                        "failed".into()
                    } else {
                        "no contract on chain".into()
                    },
                    None,
                ),
                Some(Ok(Some(c))) => (chain::summary(&c), Some(c)),
            };
            rows.push((entry, state, fragments));
        }
        if self.opts.json {
            let list: Vec<Value> = rows
                .iter()
                .map(|(e, state, c)| {
                    json!({
                        "id": e.id.to_string(),
                        "name": e.name,
                        "size": e.size,
                        "owner": e.owner,
                        "chain_id": e.chain_id,
                        "created_ms": e.created_ms,
                        "catalog_state": e.state.name(),
                        "chain_state": state,
                        "k": e.manifest.data_fragments,
                        "m": e.manifest.parity_fragments,
                        "active_fragments": c.as_ref().map(chain::active),
                        "shared_by": e.shared_by,
                    })
                })
                .collect();
            output::json(
                &json!({ "catalog": self.catalog.dir().display().to_string(), "objects": list }),
            );
            return Ok(ExitCode::SUCCESS);
        }
        if rows.is_empty() {
            println!(
                "no objects in {} (store one with `sherd storage put FILE`)",
                self.catalog.dir().display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        for (e, state, _) in &rows {
            println!(
                "{}  {:>10}  {}+{}  {:<24}  {}{}",
                &e.id.to_string()[..16],
                output::bytes(e.size),
                e.manifest.data_fragments,
                e.manifest.parity_fragments,
                e.name,
                state,
                e.shared_by
                    .as_ref()
                    .map(|by| format!(" (shared by {by})"))
                    .unwrap_or_default()
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    fn status(&self, id: &str) -> Result<ExitCode> {
        let client = self.client()?;
        let (id, name) = match self.catalog.find(id) {
            Ok(entry) => (entry.id, Some(entry.name)),
            Err(catalog_error) => match id.parse::<Hash>() {
                Ok(id) => (id, None),
                Err(_) => return Err(catalog_error.into()),
            },
        };
        let contract = client
            .contract(&id)?
            .ok_or_else(|| anyhow!("the chain has no contract {id}"))?;
        if self.opts.json {
            let mut value = serde_json::to_value(&contract)?;
            value["name"] = name.into();
            value["summary"] = chain::summary(&contract).into();
            output::json(&value);
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "object    {id}{}",
            name.map(|n| format!("  ({n})")).unwrap_or_default()
        );
        println!(
            "contract  {}+{} fragments of {}, client {}, periods {}..={}",
            contract.k,
            contract.m,
            output::bytes(contract.fragment_size),
            contract.client,
            contract.first_period,
            contract.last_period
        );
        println!("state     {}", chain::summary(&contract));
        println!("  #  provider                                                          status   proofs ok  missed  last  escrow left");
        for (i, f) in contract.fragments.iter().enumerate() {
            println!(
                "{i:>3}  {:<64}  {:<7}  {:>9}  {:>6}  {:>4}  {}",
                f.provider.to_string(),
                f.status.name(),
                f.accepted,
                f.misses,
                f.proven
                    .checked_sub(1)
                    .map_or("-".into(), |p| format!("p{p}")),
                f.escrow_left
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn repair_json(d: &RepairDone) -> Value {
    json!({
        "contract": d.contract.to_string(),
        "index": d.index,
        "provider": d.provider.to_string(),
        "tx": d.tx.to_string(),
        "height": d.height,
        "reward": d.reward.to_string(),
        "reward_base": d.reward.0,
        "seconds": d.seconds,
    })
}

fn failure_json(f: &Failure) -> Value {
    json!({"fragment": f.fragment, "provider": f.provider.to_string(), "reason": f.reason})
}

fn fetch_failure_json(f: &FetchFailure) -> Value {
    json!({"fragment": f.index, "provider": f.provider.to_string(), "corrupt": f.corrupt, "reason": f.reason})
}

/// Transfer progress: one bar over every fragment's bytes (uploads or
/// downloads); a failed attempt starts its fragment's count again.
struct Progress {
    bar: ProgressBar,
    moved: Mutex<Vec<u64>>,
    quiet: bool,
}

impl Progress {
    fn new(bar: ProgressBar, n: usize, quiet: bool) -> Self {
        Self {
            bar,
            moved: Mutex::new(vec![0; n]),
            quiet,
        }
    }

    fn set(&self, fragment: u32, bytes: u64) {
        let mut all = self.moved.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = all.get_mut(fragment as usize) {
            *slot = bytes;
        }
        self.bar.set_position(all.iter().sum());
    }

    fn failed(&self, fragment: u32, message: String) {
        self.set(fragment, 0);
        if !self.quiet {
            self.bar.suspend(|| eprintln!("{message}"));
        }
    }
}

impl PutEvents for Progress {
    fn sent(&self, fragment: u32, sent: u64) {
        self.set(fragment, sent);
    }
    fn placed(&self, _: u32, _: &Address) {}
    fn failed(&self, f: &Failure) {
        Progress::failed(
            self,
            f.fragment,
            format!(
                "fragment {} at {} failed: {}; trying a spare",
                f.fragment, f.provider, f.reason
            ),
        );
    }
}

impl FetchEvents for Progress {
    fn received(&self, index: u32, received: u64) {
        self.set(index, received);
    }
    fn done(&self, _: u32) {}
    fn failed(&self, f: &FetchFailure) {
        Progress::failed(
            self,
            f.index,
            format!(
                "fragment {} at {}: {}{}; trying another",
                f.index,
                f.provider,
                f.reason,
                if f.corrupt { " (wrong bytes)" } else { "" }
            ),
        );
    }
}
