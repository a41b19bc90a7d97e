//! `sherd bench load`: drive a running node or testnet with signed
//! transfers at a target rate and measure finalized transactions per
//! second and finality latency (submission → the block holding the
//! transaction is seen final through the API).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args as ClapArgs, Subcommand};
use ed25519_dalek::SigningKey;
use sherd_ledger::tx::kind::Transfer;
use sherd_ledger::{Address, Amount, ChainId, TxBody, TxKind};
use sherd_wallet::client::{BlockRef, NodeClient};

/// `sherd bench …`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load a running chain with transfers and report throughput and finality.
    Load(LoadArgs),
}

/// `sherd bench load`.
#[derive(Debug, ClapArgs)]
pub struct LoadArgs {
    /// A node's API (repeatable: transactions are spread over them).
    #[arg(long = "node", default_value = "http://127.0.0.1:8545")]
    pub nodes: Vec<String>,
    /// A funded key file (the testnet's faucet.key) that pays the load accounts.
    #[arg(long)]
    pub faucet_key: PathBuf,
    /// Sending accounts.
    #[arg(long, default_value_t = 200)]
    pub accounts: usize,
    /// Target transfers per second.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u64,
    /// Seconds of load.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Sending threads per node.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sherd bench …`.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Load(args) => load(args),
    }
}

fn read_key(path: &PathBuf) -> anyhow::Result<SigningKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a key file", path.display()))?;
    let hex_key = value["secret_key"]
        .as_str()
        .with_context(|| format!("{} has no secret_key", path.display()))?;
    let mut secret = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut secret)
        .with_context(|| format!("{}: secret_key is not 64 hex digits", path.display()))?;
    Ok(SigningKey::from_bytes(&secret))
}

fn transfer(
    chain: &ChainId,
    key: &SigningKey,
    nonce: u64,
    to: Address,
    amount: u64,
) -> anyhow::Result<sherd_ledger::Transaction> {
    Ok(TxBody {
        chain_id: chain.clone(),
        sender: Address::from(&key.verifying_key()),
        nonce,
        fee: Amount(10_000),
        kind: TxKind::Transfer(Transfer {
            to,
            amount: Amount(amount),
        }),
    }
    .sign(key)?)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn load(args: LoadArgs) -> anyhow::Result<ExitCode> {
    if args.nodes.is_empty() || args.accounts == 0 || args.rate == 0 || args.threads == 0 {
        bail!("--node, --accounts, --rate and --threads must be positive");
    }
    let faucet = read_key(&args.faucet_key)?;
    let client = NodeClient::with_timeout(&args.nodes[0], Duration::from_secs(10))?;
    let status = client.status()?;
    let chain = ChainId::new(&status.chain_id).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Fresh accounts, funded from the faucet key in one burst.
    let seed = blake3::hash(&format!("{:?}", Instant::now()).into_bytes());
    let keys: Vec<SigningKey> = (0..args.accounts)
        .map(|i| {
            let mut h = blake3::Hasher::new();
            h.update(seed.as_bytes()).update(&(i as u64).to_le_bytes());
            SigningKey::from_bytes(h.finalize().as_bytes())
        })
        .collect();
    let addresses: Vec<Address> = keys
        .iter()
        .map(|k| Address::from(&k.verifying_key()))
        .collect();
    let faucet_address = Address::from(&faucet.verifying_key());
    let first_nonce = client.account(&faucet_address)?.nonce;
    let per_account = args.rate * args.duration / args.accounts as u64 + 10;
    let funding = per_account * 20_000;
    eprintln!(
        "funding {} accounts with {} base units each",
        args.accounts, funding
    );
    let mut last = None;
    for (nonce, address) in (first_nonce..).zip(&addresses) {
        let tx = transfer(&chain, &faucet, nonce, *address, funding)?;
        last = Some(client.submit(&tx)?);
    }
    if let Some(hash) = last {
        client.wait_for_finality(&hash, Duration::from_secs(120))?;
    }

    let submitted: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let errors = Arc::new(AtomicU64::new(0));
    let error_codes: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let observing = Arc::new(AtomicBool::new(true));
    let start_height = client.status()?.finalized_height;

    // The observer: new final blocks, matched against submissions.
    let observer = {
        let (submitted, latencies, observing) =
            (submitted.clone(), latencies.clone(), observing.clone());
        let url = args.nodes[0].clone();
        std::thread::spawn(move || -> anyhow::Result<(u64, Instant)> {
            let client = NodeClient::with_timeout(&url, Duration::from_secs(10))?;
            let mut next = start_height + 1;
            let mut finalized = 0u64;
            let mut last_final = Instant::now();
            while observing.load(Ordering::Relaxed) {
                let top = client.status()?.finalized_height;
                while next <= top {
                    let block = client.block(BlockRef::Height(next))?;
                    let now = Instant::now();
                    let mut sent = submitted.lock().unwrap_or_else(|p| p.into_inner());
                    let mut lat = latencies.lock().unwrap_or_else(|p| p.into_inner());
                    for hash in &block.txs {
                        if let Some(at) = sent.remove(hash) {
                            lat.push(now.duration_since(at).as_secs_f64() * 1e3);
                            finalized += 1;
                            last_final = now;
                        }
                    }
                    next += 1;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok((finalized, last_final))
        })
    };

    // The senders: each owns a share of the accounts, paced to its share of the rate.
    let threads = args.nodes.len() * args.threads;
    let interval = Duration::from_secs_f64(threads as f64 / args.rate as f64);
    let began = Instant::now();
    let deadline = began + Duration::from_secs(args.duration);
    let mut senders = Vec::new();
    for t in 0..threads {
        let url = args.nodes[t % args.nodes.len()].clone();
        let mine: Vec<SigningKey> = keys.iter().skip(t).step_by(threads).cloned().collect();
        let (chain, addresses) = (chain.clone(), addresses.clone());
        let (submitted, errors, stop) = (submitted.clone(), errors.clone(), stop.clone());
        let error_codes = error_codes.clone();
        senders.push(std::thread::spawn(move || -> anyhow::Result<u64> {
            let client = NodeClient::with_timeout(&url, Duration::from_secs(10))?;
            let mut nonces = vec![0u64; mine.len()];
            let mut sent = 0u64;
            let mut next_at = Instant::now();
            let mut i = 0usize;
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) && !mine.is_empty() {
                let now = Instant::now();
                if now < next_at {
                    std::thread::sleep(next_at - now);
                }
                next_at += interval;
                let k = i % mine.len();
                i += 1;
                let to = addresses[(k * 7 + t + 1) % addresses.len()];
                let tx = transfer(&chain, &mine[k], nonces[k], to, 1)?;
                let id = tx.id()?.to_string();
                let at = Instant::now();
                submitted
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id, at);
                match client.submit(&tx) {
                    Ok(_) => {
                        nonces[k] += 1;
                        sent += 1;
                    }
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        let code = e.code().unwrap_or("unreachable").to_string();
                        *error_codes
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .entry(code)
                            .or_default() += 1;
                        submitted
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&tx.id()?.to_string());
                    }
                }
            }
            Ok(sent)
        }));
    }
    let mut sent = 0;
    for s in senders {
        sent += s
            .join()
            .map_err(|_| anyhow::anyhow!("a sender panicked"))??;
    }
    let load_end = Instant::now();
    // Let the last ones land (at most 10 s).
    let drain = Instant::now() + Duration::from_secs(10);
    while Instant::now() < drain
        && !submitted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    observing.store(false, Ordering::Relaxed);
    let (finalized, last_final) = observer
        .join()
        .map_err(|_| anyhow::anyhow!("the observer panicked"))??;
    let window = last_final.max(load_end).duration_since(began).as_secs_f64();
    let mut lat = latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    lat.sort_by(|a, b| a.total_cmp(b));
    let report = serde_json::json!({
        "nodes": args.nodes,
        "accounts": args.accounts,
        "target_rate": args.rate,
        "duration_s": args.duration,
        "submitted": sent,
        "submit_errors": errors.load(Ordering::Relaxed),
        "submit_error_codes": *error_codes.lock().unwrap_or_else(|p| p.into_inner()),
        "finalized": finalized,
        "not_finalized": sent.saturating_sub(finalized),
        "finalized_per_s": finalized as f64 / window,
        "offered_per_s": sent as f64 / load_end.duration_since(began).as_secs_f64(),
        "latency_ms": {
            "p50": percentile(&lat, 50.0),
            "p90": percentile(&lat, 90.0),
            "p99": percentile(&lat, 99.0),
            "max": lat.last().copied().unwrap_or(f64::NAN),
        },
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "target {} tx/s for {} s over {} node(s), {} accounts",
            args.rate,
            args.duration,
            args.nodes.len(),
            args.accounts
        );
        println!(
            "submitted        {sent} ({:.0}/s offered), {} refused",
            report["offered_per_s"].as_f64().unwrap_or(0.0),
            report["submit_errors"]
        );
        println!(
            "finalized        {finalized} ({:.0}/s)",
            report["finalized_per_s"].as_f64().unwrap_or(0.0)
        );
        println!(
            "finality (ms)    p50 {:.0}   p90 {:.0}   p99 {:.0}   max {:.0}",
            percentile(&lat, 50.0),
            percentile(&lat, 90.0),
            percentile(&lat, 99.0),
            lat.last().copied().unwrap_or(f64::NAN)
        );
    }
    Ok(ExitCode::SUCCESS)
}
