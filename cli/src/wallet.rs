//! `sherd wallet`: keys, balances and transactions against a node.
//!
//! Wallets are encrypted keystore files in the wallet directory
//! (`--wallet-dir`, default `$SHERD_HOME/wallets` or `~/.sherd/wallets`).
//! Passwords come from `--password-file FILE`, then `SHERD_PASSWORD`, then
//! a prompt. Transactions read the chain id and the nonce from the node,
//! are checked against the balance, signed, submitted and (unless
//! `--no-wait`) followed until finalized.

use std::{
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use sherd_ledger::{Address, Amount, ChainId, Transaction};
use sherd_wallet::{
    build::{self, TxParams},
    client::{kind_name, TxInfo, TxOutcome, TxStatus},
    KdfParams, Keystore, Mnemonic, NodeClient, ValidatorKey, WalletDir, WalletKey, DEFAULT_FEE,
    DEFAULT_NODE_URL,
};
use zeroize::Zeroizing;

use crate::output;

/// `sherd wallet [OPTIONS] COMMAND`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    opts: Options,
}

#[derive(Debug, clap::Args)]
struct Options {
    /// Directory of the keystore files [default: $SHERD_HOME/wallets, else ~/.sherd/wallets].
    #[arg(long, global = true, value_name = "DIR")]
    wallet_dir: Option<PathBuf>,
    /// The node's HTTP API.
    #[arg(long, global = true, value_name = "URL", env = "SHERD_NODE", default_value = DEFAULT_NODE_URL)]
    node: String,
    /// Read the wallet password from FILE (its first line) instead of
    /// prompting; the SHERD_PASSWORD variable works too.
    #[arg(long, global = true, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

/// Flags of every command that sends a transaction.
#[derive(Debug, clap::Args)]
struct TxOpts {
    /// Fee offered to the block proposer.
    #[arg(long, value_name = "AMOUNT", value_parser = parse_amount, default_value_t = DEFAULT_FEE)]
    fee: Amount,
    /// Print the hash once the node accepted it; do not wait for finality.
    #[arg(long)]
    no_wait: bool,
    /// Seconds to wait for finality.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    timeout: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a wallet: prints its address and its 24 words, once.
    New {
        /// Name of the wallet (letters, digits, `_`, `-`).
        name: String,
        /// Account index in the derivation path m/44'/7787'/ACCOUNT'/0'/0'.
        #[arg(long, default_value_t = 0)]
        account: u32,
    },
    /// Restore a wallet from its words (prompted, or from --mnemonic-file).
    Import {
        /// Name of the wallet.
        name: String,
        /// Read the words from FILE instead of prompting.
        #[arg(long, value_name = "FILE")]
        mnemonic_file: Option<PathBuf>,
        /// Account index in the derivation path m/44'/7787'/ACCOUNT'/0'/0'.
        #[arg(long, default_value_t = 0)]
        account: u32,
    },
    /// Show the words of a wallet (asks for its password).
    Export {
        /// Name of the wallet.
        name: String,
    },
    /// List the wallets and their addresses.
    List,
    /// Print a wallet's address.
    Address {
        /// Name of the wallet.
        name: String,
    },
    /// Balance, stake and unbondings of a wallet or an address.
    Balance {
        /// A wallet name or a sherd1… address.
        target: String,
    },
    /// The finalized transactions of a wallet or an address, newest first.
    History {
        /// A wallet name or a sherd1… address.
        target: String,
    },
    /// Ask the node's faucet (dev and test chains) for currency.
    Faucet {
        /// A wallet name or a sherd1… address.
        target: String,
        /// How much [default: the faucet's].
        #[arg(long, value_parser = parse_amount)]
        amount: Option<Amount>,
        /// Do not wait for the faucet transaction to be finalized.
        #[arg(long)]
        no_wait: bool,
        /// Seconds to wait for finality.
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        timeout: u64,
    },
    /// Transfer currency to an address.
    Send {
        /// The sending wallet.
        #[arg(long, value_name = "NAME")]
        from: String,
        /// The receiving address (sherd1…).
        #[arg(long, value_name = "ADDR", value_parser = parse_address)]
        to: Address,
        /// How much, e.g. 12.5.
        #[arg(long, value_parser = parse_amount)]
        amount: Amount,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Become a validator, or add to your self-stake.
    Stake {
        /// The staking wallet.
        #[arg(long, value_name = "NAME")]
        from: String,
        /// How much to bond.
        #[arg(long, value_parser = parse_amount)]
        amount: Amount,
        /// The validator's BLS key file [default: WALLET-DIR/NAME.bls.json, created if missing].
        #[arg(long, value_name = "FILE")]
        validator_key: Option<PathBuf>,
        /// Share of delegators' rewards kept, in basis points (500 = 5 %).
        #[arg(long, value_name = "N", default_value_t = 500)]
        commission_bps: u16,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Bond currency to a validator.
    Delegate {
        /// The delegating wallet.
        #[arg(long, value_name = "NAME")]
        from: String,
        /// The validator's operator address.
        #[arg(long, value_name = "VALIDATOR", value_parser = parse_address)]
        to: Address,
        /// How much to bond.
        #[arg(long, value_parser = parse_amount)]
        amount: Amount,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Start unbonding your own validator stake.
    Unstake {
        /// The validator's wallet.
        #[arg(long, value_name = "NAME")]
        from: String,
        /// How much to unbond.
        #[arg(long, value_parser = parse_amount)]
        amount: Amount,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Start unbonding a delegation.
    Undelegate {
        /// The delegating wallet.
        #[arg(long, value_name = "NAME")]
        from: String,
        /// The validator's operator address.
        #[arg(long, value_name = "ADDR", value_parser = parse_address)]
        validator: Address,
        /// How much to unbond.
        #[arg(long, value_parser = parse_amount)]
        amount: Amount,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Register the node at --node as this validator's endpoint on chain
    /// (its libp2p peer id and listen addresses), so others find it.
    RegisterEndpoint {
        /// The validator's wallet.
        #[arg(long, value_name = "NAME")]
        from: String,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Take back unbondings whose period is over.
    Withdraw {
        /// The wallet.
        #[arg(long, value_name = "NAME")]
        from: String,
        #[command(flatten)]
        tx: TxOpts,
    },
}

fn parse_amount(text: &str) -> Result<Amount, String> {
    text.parse().map_err(|e| format!("{e}"))
}

fn parse_address(text: &str) -> Result<Address, String> {
    text.parse().map_err(|e| format!("bad address: {e}"))
}

/// Runs `sherd wallet …`.
pub fn run(args: Args) -> Result<ExitCode> {
    let ctx = Ctx::new(args.opts)?;
    match args.command {
        Command::New { name, account } => ctx.new_wallet(&name, account),
        Command::Import {
            name,
            mnemonic_file,
            account,
        } => ctx.import(&name, mnemonic_file.as_deref(), account),
        Command::Export { name } => ctx.export(&name),
        Command::List => ctx.list(),
        Command::Address { name } => ctx.address(&name),
        Command::Balance { target } => ctx.balance(&target),
        Command::History { target } => ctx.history(&target),
        Command::Faucet {
            target,
            amount,
            no_wait,
            timeout,
        } => ctx.faucet(&target, amount, no_wait, timeout),
        Command::Send {
            from,
            to,
            amount,
            tx,
        } => ctx.send_tx(&from, &tx, amount, |key, p| {
            build::transfer(key, p, to, amount)
        }),
        Command::Stake {
            from,
            amount,
            validator_key,
            commission_bps,
            tx,
        } => {
            // An unknown wallet fails before a validator key is made for it.
            ctx.dir.load(&from)?;
            let path = validator_key
                .clone()
                .unwrap_or_else(|| ctx.dir.validator_key_path(&from));
            // Checked up front so a bad key file fails before the password prompt.
            let validator = if validator_key.is_some() {
                ValidatorKey::load(&path)?
            } else {
                let (key, created) = ValidatorKey::load_or_create(&path)?;
                if created {
                    eprintln!(
                        "created validator key {} (mode 0600): keep it, it signs your votes",
                        path.display()
                    );
                }
                key
            };
            ctx.send_tx(&from, &tx, amount, |key, p| {
                build::stake(key, p, amount, &validator, commission_bps)
            })
        }
        Command::Delegate {
            from,
            to,
            amount,
            tx,
        } => ctx.send_tx(&from, &tx, amount, |key, p| {
            build::delegate(key, p, to, amount)
        }),
        Command::Unstake { from, amount, tx } => ctx.send_tx(&from, &tx, Amount::ZERO, |key, p| {
            build::undelegate(key, p, key.address(), amount)
        }),
        Command::Undelegate {
            from,
            validator,
            amount,
            tx,
        } => ctx.send_tx(&from, &tx, Amount::ZERO, |key, p| {
            build::undelegate(key, p, validator, amount)
        }),
        Command::Withdraw { from, tx } => ctx.send_tx(&from, &tx, Amount::ZERO, build::withdraw),
        Command::RegisterEndpoint { from, tx } => {
            let (peer_id, listen) = ctx.client()?.node_identity()?;
            ctx.send_tx(&from, &tx, Amount::ZERO, |key, p| {
                build::register_endpoint(key, p, peer_id, listen)
            })
        }
    }
}

struct Ctx {
    opts: Options,
    dir: WalletDir,
}

impl Ctx {
    fn new(opts: Options) -> Result<Self> {
        let root = match &opts.wallet_dir {
            Some(dir) => dir.clone(),
            None => WalletDir::default_root().ok_or_else(|| {
                anyhow!("no wallet directory: set SHERD_HOME or HOME, or pass --wallet-dir DIR")
            })?,
        };
        Ok(Self {
            dir: WalletDir::new(root),
            opts,
        })
    }

    fn client(&self) -> Result<NodeClient> {
        Ok(NodeClient::new(&self.opts.node)?)
    }

    /// The password: `--password-file`, `SHERD_PASSWORD`, or a prompt
    /// (twice when `confirm`).
    fn password(&self, name: &str, confirm: bool) -> Result<Zeroizing<String>> {
        password(self.opts.password_file.as_deref(), name, confirm)
    }

    fn unlock(&self, keystore: &Keystore) -> Result<WalletKey> {
        unlock(keystore, self.opts.password_file.as_deref())
    }

    fn create(&self, name: &str, mnemonic: &Mnemonic, account: u32) -> Result<Keystore> {
        sherd_wallet::store::check_name(name)?;
        if self.dir.exists(name) {
            bail!(
                "wallet `{name}` already exists ({}); choose another name",
                self.dir.keystore_path(name).display()
            );
        }
        let password = self.password(name, true)?;
        Ok(self.dir.create(
            name,
            mnemonic,
            account,
            password.as_bytes(),
            KdfParams::DEFAULT,
        )?)
    }

    fn new_wallet(&self, name: &str, account: u32) -> Result<ExitCode> {
        let mnemonic = Mnemonic::generate()?;
        let keystore = self.create(name, &mnemonic, account)?;
        let file = self.dir.keystore_path(name);
        let warning = "Write these words down, in order, and keep them offline. They are the only way to restore this wallet, anyone who has them controls its funds, and they will not be shown again.";
        if self.opts.json {
            output::json(&json!({
                "name": name,
                "address": keystore.address().to_string(),
                "derivation_path": keystore.derivation_path().to_string(),
                "file": file,
                "mnemonic": mnemonic.phrase().as_str(),
                "warning": warning,
            }));
        } else {
            println!("created wallet `{name}` in {}", file.display());
            println!("address: {}", keystore.address());
            println!();
            println!("{warning}");
            println!();
            for (i, word) in mnemonic.words().iter().enumerate() {
                print!("{:>3}. {word:<10}", i + 1);
                if i % 6 == 5 {
                    println!();
                }
            }
            println!();
        }
        Ok(ExitCode::SUCCESS)
    }

    fn import(&self, name: &str, file: Option<&Path>, account: u32) -> Result<ExitCode> {
        sherd_wallet::store::check_name(name)?;
        let words = match file {
            Some(file) => Zeroizing::new(
                fs::read_to_string(file)
                    .with_context(|| format!("cannot read the mnemonic file {}", file.display()))?,
            ),
            None => Zeroizing::new(
                rpassword::prompt_password("the wallet's words, separated by spaces: ")
                    .context("cannot read the words from the terminal: use --mnemonic-file FILE")?,
            ),
        };
        let mnemonic = Mnemonic::parse(&words).context("these words are not a valid mnemonic")?;
        let keystore = self.create(name, &mnemonic, account)?;
        if self.opts.json {
            output::json(&json!({
                "name": name,
                "address": keystore.address().to_string(),
                "derivation_path": keystore.derivation_path().to_string(),
                "file": self.dir.keystore_path(name),
            }));
        } else {
            println!("imported wallet `{name}`");
            println!("address: {}", keystore.address());
        }
        Ok(ExitCode::SUCCESS)
    }

    fn export(&self, name: &str) -> Result<ExitCode> {
        let keystore = self.dir.load(name)?;
        let password = self.password(name, false)?;
        let unlocked = keystore.unlock(password.as_bytes())?;
        let phrase = unlocked.mnemonic.phrase();
        if self.opts.json {
            output::json(&json!({
                "name": name,
                "address": keystore.address().to_string(),
                "derivation_path": keystore.derivation_path().to_string(),
                "mnemonic": phrase.as_str(),
            }));
        } else {
            eprintln!("the words of wallet `{name}`: anyone who sees them controls its funds");
            println!("{}", phrase.as_str());
        }
        Ok(ExitCode::SUCCESS)
    }

    fn list(&self) -> Result<ExitCode> {
        let entries = self.dir.list()?;
        if self.opts.json {
            let items: Vec<Value> = entries
                .iter()
                .map(|e| match &e.keystore {
                    Ok(k) => json!({
                        "name": e.name,
                        "address": k.address().to_string(),
                        "created_at": k.created_at(),
                        "derivation_path": k.derivation_path().to_string(),
                    }),
                    Err(err) => json!({ "name": e.name, "error": err.to_string() }),
                })
                .collect();
            output::json(&json!({ "wallet_dir": self.dir.root(), "wallets": items }));
        } else if entries.is_empty() {
            eprintln!(
                "no wallets in {}: create one with `sherd wallet new NAME`",
                self.dir.root().display()
            );
        } else {
            for e in &entries {
                match &e.keystore {
                    Ok(k) => println!("{:<20} {}", e.name, k.address()),
                    Err(err) => println!("{:<20} unreadable: {err}", e.name),
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    fn address(&self, name: &str) -> Result<ExitCode> {
        let keystore = self.dir.load(name)?;
        if self.opts.json {
            output::json(&json!({
                "name": name,
                "address": keystore.address().to_string(),
                "derivation_path": keystore.derivation_path().to_string(),
            }));
        } else {
            println!("{}", keystore.address());
        }
        Ok(ExitCode::SUCCESS)
    }

    /// A `sherd1…` address, or the address of the wallet of that name.
    fn resolve(&self, target: &str) -> Result<Address> {
        if target.to_ascii_lowercase().starts_with("sherd1") {
            return target
                .parse()
                .with_context(|| format!("`{target}` is not a valid address"));
        }
        Ok(self.dir.load(target)?.address())
    }

    fn balance(&self, target: &str) -> Result<ExitCode> {
        let address = self.resolve(target)?;
        let account = self.client()?.account(&address)?;
        if self.opts.json {
            output::json(&account);
        } else {
            println!("address:   {}", account.address);
            println!("balance:   {}", account.balance);
            println!("staked:    {}", account.staked);
            for u in &account.unbonding {
                println!(
                    "unbonding: {} (withdrawable from epoch {})",
                    u.amount, u.release_epoch
                );
            }
            println!("nonce:     {}", account.nonce);
        }
        Ok(ExitCode::SUCCESS)
    }

    fn history(&self, target: &str) -> Result<ExitCode> {
        let address = self.resolve(target)?;
        let txs = self.client()?.account_txs(&address)?;
        if self.opts.json {
            output::json(&json!({
                "address": address.to_string(),
                "txs": txs.iter().map(tx_json).collect::<Vec<_>>(),
            }));
        } else if txs.is_empty() {
            eprintln!("no finalized transactions for {address}");
        } else {
            println!(
                "{:<8} {:<18} {:<8} {:<10} hash",
                "height", "kind", "nonce", "outcome"
            );
            for tx in &txs {
                println!(
                    "{:<8} {:<18} {:<8} {:<10} {}",
                    tx.height
                        .map(|h| h.to_string())
                        .unwrap_or_else(|| "-".into()),
                    tx.kind,
                    tx.nonce,
                    outcome_word(tx),
                    tx.hash
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    fn faucet(
        &self,
        target: &str,
        amount: Option<Amount>,
        no_wait: bool,
        timeout: u64,
    ) -> Result<ExitCode> {
        let address = self.resolve(target)?;
        let client = self.client()?;
        let receipt = client.faucet(&address, amount)?;
        let hash = receipt
            .hash
            .parse()
            .map_err(|e| anyhow!("the faucet answered a bad hash `{}`: {e}", receipt.hash))?;
        let done = if no_wait {
            None
        } else {
            Some(client.wait_for_finality(&hash, Duration::from_secs(timeout))?)
        };
        if self.opts.json {
            output::json(&json!({
                "address": address.to_string(),
                "amount": receipt.amount.to_string(),
                "amount_base": receipt.amount.base_units(),
                "tx": done.as_ref().map(tx_json).unwrap_or_else(|| json!({"hash": receipt.hash, "status": "pending"})),
            }));
        } else {
            println!("faucet sent {} to {address}", receipt.amount);
            print_tx_text(&receipt.hash, done.as_ref());
        }
        Ok(ExitCode::SUCCESS)
    }

    /// Reads chain id and nonce, checks `spend + fee` against the balance,
    /// unlocks `from`, builds with `make`, submits and follows the result.
    fn send_tx(
        &self,
        from: &str,
        opts: &TxOpts,
        spend: Amount,
        make: impl FnOnce(&WalletKey, &TxParams) -> Result<Transaction, build::BuildError>,
    ) -> Result<ExitCode> {
        let keystore = self.dir.load(from)?;
        let client = self.client()?;
        let status = client.current_status()?;
        let chain_id: ChainId = status.chain_id.parse().map_err(|e| {
            anyhow!(
                "the node at {} reports chain id `{}`: {e}",
                client.url(),
                status.chain_id
            )
        })?;
        let account = client.account(&keystore.address())?;
        let needed = build::total_cost(spend, opts.fee)
            .ok_or_else(|| anyhow!("{spend} plus the fee {} is too large", opts.fee))?;
        if account.balance < needed {
            bail!(
                "insufficient funds: wallet `{from}` ({}) has {}, this needs {needed} ({spend} + fee {}){}",
                keystore.address(),
                account.balance,
                opts.fee,
                if status.faucet {
                    format!("; on this chain, `sherd wallet faucet {from}` can fund it")
                } else {
                    String::new()
                }
            );
        }
        let key = self.unlock(&keystore)?;
        let params = TxParams {
            chain_id,
            nonce: account.nonce,
            fee: opts.fee,
        };
        let tx = make(&key, &params)?;
        let kind = kind_name(&tx.body.kind);
        let hash = client.submit(&tx)?;
        let done = if opts.no_wait {
            None
        } else {
            Some(client.wait_for_finality(&hash, Duration::from_secs(opts.timeout))?)
        };
        let failed = done
            .as_ref()
            .is_some_and(|t| t.outcome == Some(TxOutcome::Failed));
        if self.opts.json {
            let mut value = done
                .as_ref()
                .map(tx_json)
                .unwrap_or_else(|| json!({"hash": hash.to_string(), "status": "pending"}));
            value["kind"] = kind.as_str().into();
            value["from"] = keystore.address().to_string().into();
            value["nonce"] = params.nonce.into();
            value["fee"] = params.fee.to_string().into();
            output::json(&value);
        } else {
            println!(
                "{kind} from `{from}` (nonce {}, fee {})",
                params.nonce, params.fee
            );
            print_tx_text(&hash.to_string(), done.as_ref());
        }
        Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    }
}

/// The password of wallet `name`: from `password_file` (its first line),
/// then `SHERD_PASSWORD`, then a prompt (twice when `confirm`).
pub(crate) fn password(
    password_file: Option<&Path>,
    name: &str,
    confirm: bool,
) -> Result<Zeroizing<String>> {
    let password = if let Some(file) = password_file {
        let text = Zeroizing::new(
            fs::read_to_string(file)
                .with_context(|| format!("cannot read the password file {}", file.display()))?,
        );
        Zeroizing::new(text.lines().next().unwrap_or_default().to_owned())
    } else if let Ok(env) = std::env::var("SHERD_PASSWORD") {
        Zeroizing::new(env)
    } else {
        let ask = |prompt: &str| {
            rpassword::prompt_password(prompt).map(Zeroizing::new).context(
                "cannot read a password from the terminal: use --password-file FILE or SHERD_PASSWORD",
            )
        };
        let first = ask(&format!("password for wallet `{name}`: "))?;
        if confirm && *ask("repeat the password: ")? != *first {
            bail!("the two passwords differ; nothing was written");
        }
        first
    };
    if confirm && password.is_empty() {
        bail!("the password is empty: choose one, it encrypts the wallet's keys");
    }
    Ok(password)
}

/// Unlocks `keystore` with its password (see [`password`]).
pub(crate) fn unlock(keystore: &Keystore, password_file: Option<&Path>) -> Result<WalletKey> {
    let password = password(password_file, keystore.name(), false)?;
    Ok(keystore.unlock(password.as_bytes())?.key)
}

fn outcome_word(tx: &TxInfo) -> &'static str {
    match (tx.status, tx.outcome) {
        (TxStatus::Pending, _) => "pending",
        (_, Some(TxOutcome::Success)) => "success",
        (_, Some(TxOutcome::Failed)) => "failed",
        (_, None) => "-",
    }
}

/// A transaction as `--json` prints it: the node's answer as it is.
fn tx_json(tx: &TxInfo) -> Value {
    json!(tx)
}

fn print_tx_text(hash: &str, done: Option<&TxInfo>) {
    println!("hash:    {hash}");
    match done {
        None => println!("status:  pending (submitted; not waiting for finality)"),
        Some(tx) => {
            println!(
                "height:  {}",
                tx.height
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "-".into())
            );
            match (&tx.outcome, &tx.reason) {
                (Some(TxOutcome::Failed), Some(reason)) => {
                    println!("outcome: failed: {reason} (the fee was paid)")
                }
                _ => println!("outcome: {}", outcome_word(tx)),
            }
        }
    }
}
