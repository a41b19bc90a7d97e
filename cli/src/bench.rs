//! `sherd bench load`: drive a running node or testnet with signed
//! transfers at a target rate and measure finalized transactions per
//! second and finality latency (submission → the block holding the
//! transaction is seen final through the API), and the CPU each node
//! spent per finalized transfer (its `process_cpu_seconds_total`, read
//! before and after). It keeps going when a node goes down: senders and
//! the observer fail over to the other nodes, and what could not be
//! submitted anywhere is counted.
//!
//! `sherd bench storage` ([`storage`]): put and get one random file
//! through the real client path, next to the local encode and decode of
//! the same file.

mod storage;

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
use sherd_ledger::{Address, Amount, ChainId, Hash, TxBody, TxKind};
use sherd_wallet::client::{BlockRef, ClientError, NodeClient};

/// `sherd bench …`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load a running chain with transfers and report throughput and finality.
    Load(LoadArgs),
    /// Encode and decode a random file locally, then put it on the chain's
    /// providers and get it back (`sherd storage put/get`'s own code),
    /// and report MiB/s of each, their ratios and put/get latencies.
    Storage(storage::StorageArgs),
}

/// `sherd bench load`.
#[derive(Debug, ClapArgs)]
pub struct LoadArgs {
    /// A node's API (repeatable: transactions are spread over them, and a
    /// sender whose node does not answer moves on to the next).
    #[arg(long = "node", default_value = "http://127.0.0.1:8545")]
    pub nodes: Vec<String>,
    /// A funded key file (the testnet's faucet.key) that pays the load accounts.
    #[arg(long)]
    pub faucet_key: PathBuf,
    /// Sending accounts [default: the rate / 4, at least 200].
    #[arg(long)]
    pub accounts: Option<usize>,
    /// Target transfers per second.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u64,
    /// Seconds of load.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Sending threads per node.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Transactions per request (`POST /v1/txs/batch`; 1 sends each alone
    /// with `POST /v1/txs`) [default: what each thread sends in 10 ms].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sherd bench …`.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Load(args) => load(args),
        Command::Storage(args) => storage::run(args),
    }
}

pub(crate) fn transfer(
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

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Funds `addresses` from the faucet, in bursts the faucet's mempool
/// allowance takes, each waited on until final.
fn fund(
    client: &NodeClient,
    chain: &ChainId,
    faucet: &SigningKey,
    addresses: &[Address],
    amount: u64,
) -> anyhow::Result<()> {
    let faucet_address = Address::from(&faucet.verifying_key());
    let mut nonce = client.account(&faucet_address)?.nonce;
    for chunk in addresses.chunks(FUND_BURST) {
        let mut last = None;
        for part in chunk.chunks(sherd_node::api::MAX_SUBMIT_BATCH) {
            let txs = part
                .iter()
                .map(|address| {
                    let tx = transfer(chain, faucet, nonce, *address, amount);
                    nonce += 1;
                    tx
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            for result in client.submit_batch(&txs)? {
                last = Some(result.context("funding a load account")?);
            }
        }
        if let Some(hash) = last {
            client.wait_for_finality(&hash, Duration::from_secs(120))?;
        }
    }
    Ok(())
}

/// Most funding transfers in flight (the faucet's mempool allowance is 1,000).
const FUND_BURST: usize = 500;
/// How often each sender posts, when `--batch` is not given.
const TICK: Duration = Duration::from_millis(10);

/// One sender's transactions, signed before the clock starts, in the order
/// they go out (each account's nonces in order).
fn sign_schedule(
    chain: &ChainId,
    mine: &[SigningKey],
    addresses: &[Address],
    count: usize,
    salt: usize,
) -> anyhow::Result<Vec<sherd_ledger::Transaction>> {
    let mut nonces = vec![0u64; mine.len()];
    (0..count)
        .map(|i| {
            let k = i % mine.len();
            let to = addresses[(k * 7 + salt + 1) % addresses.len()];
            let tx = transfer(chain, &mine[k], nonces[k], to, 1);
            nonces[k] += 1;
            tx
        })
        .collect()
}

fn load(args: LoadArgs) -> anyhow::Result<ExitCode> {
    let accounts = args.accounts.unwrap_or_else(|| {
        usize::try_from(args.rate / 4)
            .unwrap_or(usize::MAX)
            .max(200)
    });
    if args.nodes.is_empty() || accounts == 0 || args.rate == 0 || args.threads == 0 {
        bail!("--node, --accounts, --rate and --threads must be positive");
    }
    if args.batch == Some(0) || args.batch > Some(sherd_node::api::MAX_SUBMIT_BATCH) {
        bail!("--batch must be 1 to {}", sherd_node::api::MAX_SUBMIT_BATCH);
    }
    let faucet = sherd_wallet::keyfile::read_ed25519(&args.faucet_key)?;
    let clients = args
        .nodes
        .iter()
        .map(|url| NodeClient::with_timeout(url, Duration::from_secs(10)))
        .collect::<Result<Vec<_>, _>>()?;
    let Some((client, status)) = clients
        .iter()
        .find_map(|c| c.status().ok().map(|status| (c, status)))
    else {
        bail!("none of the nodes answers: {}", args.nodes.join(", "));
    };
    let chain = ChainId::new(&status.chain_id).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Fresh accounts, funded from the faucet key.
    let seed = blake3::hash(&format!("{:?}", Instant::now()).into_bytes());
    let keys: Vec<SigningKey> = (0..accounts)
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
    let per_account = args.rate * args.duration / accounts as u64 + 10;
    let funding = per_account * 20_000;
    eprintln!("funding {accounts} accounts with {funding} base units each");
    fund(client, &chain, &faucet, &addresses, funding)?;

    // Every transfer is signed before the clock starts: the run measures
    // the chain, not the signing of the load generator.
    let threads = args.nodes.len() * args.threads;
    let total = usize::try_from(args.rate.saturating_mul(args.duration)).unwrap_or(usize::MAX);
    let batch = args.batch.unwrap_or_else(|| {
        let per_tick = args.rate as f64 * TICK.as_secs_f64() / threads as f64;
        (per_tick.round() as usize).clamp(1, sherd_node::api::MAX_SUBMIT_BATCH)
    });
    eprintln!("signing {total} transfers");
    let schedules: Vec<Vec<sherd_ledger::Transaction>> = {
        use rayon::prelude::*;
        (0..threads)
            .into_par_iter()
            .map(|t| {
                let mine: Vec<SigningKey> = keys.iter().skip(t).step_by(threads).cloned().collect();
                let count = total / threads + usize::from(t < total % threads);
                if mine.is_empty() {
                    return Ok(Vec::new());
                }
                sign_schedule(&chain, &mine, &addresses, count, t)
            })
            .collect::<anyhow::Result<_>>()?
    };

    let submitted: Arc<Mutex<HashMap<Hash, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let errors = Arc::new(AtomicU64::new(0));
    let error_codes: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let observing = Arc::new(AtomicBool::new(true));
    // From any node that answers: the first may have gone down meanwhile.
    let start_height = clients
        .iter()
        .find_map(|c| c.status().ok())
        .ok_or_else(|| anyhow::anyhow!("none of the nodes answers: {}", args.nodes.join(", ")))?
        .finalized_height;

    // The observer: new final blocks, matched against submissions, from
    // whichever node answers.
    let observer = {
        let (submitted, latencies, observing) =
            (submitted.clone(), latencies.clone(), observing.clone());
        let clients = clients.clone();
        std::thread::spawn(move || -> anyhow::Result<(u64, Instant)> {
            let mut at = 0;
            let mut next = start_height + 1;
            let mut finalized = 0u64;
            let mut last_final = Instant::now();
            while observing.load(Ordering::Relaxed) {
                let client = &clients[at % clients.len()];
                let Ok(status) = client.status() else {
                    at += 1;
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                };
                let top = status.finalized_height;
                while next <= top {
                    let Ok(block) = client.block(BlockRef::Height(next)) else {
                        at += 1;
                        break;
                    };
                    let now = Instant::now();
                    let mut sent = submitted.lock().unwrap_or_else(|p| p.into_inner());
                    let mut lat = latencies.lock().unwrap_or_else(|p| p.into_inner());
                    for hash in &block.txs {
                        let Ok(hash) = hash.parse::<Hash>() else {
                            continue;
                        };
                        if let Some(sent_at) = sent.remove(&hash) {
                            lat.push(now.duration_since(sent_at).as_secs_f64() * 1e3);
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

    let cpu_before: Vec<Option<f64>> = clients.iter().map(node_cpu_seconds).collect();
    // The senders: each posts its next `batch` transfers every
    // `batch × threads / rate` seconds.
    let interval = Duration::from_secs_f64((batch * threads) as f64 / args.rate as f64);
    let began = Instant::now();
    let mut senders = Vec::new();
    let failovers = Arc::new(AtomicU64::new(0));
    for (t, schedule) in schedules.into_iter().enumerate() {
        let clients = clients.clone();
        let (submitted, errors) = (submitted.clone(), errors.clone());
        let (error_codes, failovers) = (error_codes.clone(), failovers.clone());
        senders.push(std::thread::spawn(move || -> anyhow::Result<u64> {
            let mut node = t % clients.len();
            let ids = schedule
                .iter()
                .map(|tx| tx.id())
                .collect::<Result<Vec<_>, _>>()?;
            let mut sent = 0u64;
            // Staggered, so that the threads do not post in step.
            let mut next_at = began + interval.mul_f64(t as f64 / threads as f64);
            for (txs, ids) in schedule.chunks(batch).zip(ids.chunks(batch)) {
                let now = Instant::now();
                if now < next_at {
                    std::thread::sleep(next_at - now);
                }
                next_at += interval;
                let at = Instant::now();
                {
                    let mut pending = submitted.lock().unwrap_or_else(|p| p.into_inner());
                    for id in ids {
                        pending.insert(*id, at);
                    }
                }
                // Each transfer's outcome: sent, or the error code it met.
                // A refusal (429, 503) is not tried again: a load
                // generator counts it as what it is. A node that does not
                // answer is: once, on the next node, which then takes
                // this sender's load.
                let mut results = submit(&clients[node % clients.len()], txs);
                if results.is_err() && clients.len() > 1 {
                    node += 1;
                    failovers.fetch_add(1, Ordering::Relaxed);
                    results = submit(&clients[node % clients.len()], txs);
                }
                let results =
                    results.unwrap_or_else(|_| vec![Err("unreachable".into()); txs.len()]);
                for (id, result) in ids.iter().zip(results) {
                    match result {
                        Ok(_) => sent += 1,
                        Err(code) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            *error_codes
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .entry(code)
                                .or_default() += 1;
                            submitted
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .remove(id);
                        }
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
    let cpu_after: Vec<Option<f64>> = clients.iter().map(node_cpu_seconds).collect();
    let window = last_final.max(load_end).duration_since(began).as_secs_f64();
    // Each node's CPU per finalized transfer, µs (unknown for a node that
    // did not answer before or after the run).
    let cpu: Vec<serde_json::Value> = args
        .nodes
        .iter()
        .zip(cpu_before.iter().zip(&cpu_after))
        .map(|(node, (before, after))| {
            let seconds = before.zip(*after).map(|(b, a)| (a - b).max(0.0));
            serde_json::json!({
                "node": node,
                "cpu_s": seconds,
                "us_per_transfer": seconds
                    .filter(|_| finalized > 0)
                    .map(|s| s * 1e6 / finalized as f64),
            })
        })
        .collect();
    let per_transfer: Vec<f64> = cpu
        .iter()
        .filter_map(|c| c["us_per_transfer"].as_f64())
        .collect();
    let mean_per_transfer = (!per_transfer.is_empty())
        .then(|| per_transfer.iter().sum::<f64>() / per_transfer.len() as f64);
    let mut lat = latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    lat.sort_by(|a, b| a.total_cmp(b));
    let report = serde_json::json!({
        "nodes": args.nodes,
        "accounts": accounts,
        "target_rate": args.rate,
        "duration_s": args.duration,
        "batch": batch,
        "submitted": sent,
        "submit_errors": errors.load(Ordering::Relaxed),
        "submit_error_codes": *error_codes.lock().unwrap_or_else(|p| p.into_inner()),
        "failovers": failovers.load(Ordering::Relaxed),
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
        "cpu_per_node": cpu,
        "cpu_us_per_transfer_per_node": mean_per_transfer,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "target {} tx/s for {} s over {} node(s), {} accounts, {} per request",
            args.rate,
            args.duration,
            args.nodes.len(),
            accounts,
            batch
        );
        println!(
            "submitted        {sent} ({:.0}/s offered), {} refused, {} failovers",
            report["offered_per_s"].as_f64().unwrap_or(0.0),
            report["submit_errors"],
            report["failovers"]
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
        let shown: Vec<String> = cpu
            .iter()
            .map(|c| match c["us_per_transfer"].as_f64() {
                Some(us) => format!("{us:.0}"),
                None => "?".into(),
            })
            .collect();
        match mean_per_transfer {
            Some(mean) => println!(
                "CPU per transfer {mean:.0} µs per node (each: {})",
                shown.join(" ")
            ),
            None => {
                println!("CPU per transfer unknown (no node answered /metrics before and after)")
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Submits `txs` (one alone, more as a batch) and answers each one's
/// outcome, or the error if the node could not be reached at all.
fn submit(
    client: &NodeClient,
    txs: &[sherd_ledger::Transaction],
) -> Result<Vec<Result<(), String>>, ClientError> {
    let code = |e: &ClientError| e.code().unwrap_or("unreachable").to_string();
    let whole = |e: ClientError| match e {
        ClientError::Unreachable { .. } => Err(e),
        other => Ok(vec![Err(code(&other)); txs.len()]),
    };
    match txs {
        [tx] => match client.submit_within(tx, Duration::ZERO) {
            Ok(_) => Ok(vec![Ok(())]),
            Err(e) => whole(e),
        },
        _ => match client.submit_batch(txs) {
            Ok(results) => Ok(results
                .into_iter()
                .map(|r| r.map(|_| ()).map_err(|e| code(&e)))
                .collect()),
            Err(e) => whole(e),
        },
    }
}

/// A node's `process_cpu_seconds_total`, or `None` if it does not answer.
fn node_cpu_seconds(client: &NodeClient) -> Option<f64> {
    client.metrics().ok()?.lines().find_map(|line| {
        line.strip_prefix("process_cpu_seconds_total ")?
            .trim()
            .parse()
            .ok()
    })
}
