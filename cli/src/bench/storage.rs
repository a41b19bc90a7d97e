//! `sherd bench storage`: how fast a file goes onto the providers and comes
//! back, next to how fast the same machine encodes and decodes it alone.
//!
//! One run, one random file, `--count` rounds of:
//!
//! 1. **local**: encode it into a scratch directory and decode it back, in
//!    this process, with the code of `sherd fragments encode/decode`
//!    (encrypt, erasure-code, hash, fsync the fragments; check, decode,
//!    decrypt, fsync the output), same `k`, `m` and size;
//! 2. **network**: put it with `sherd storage put`'s own code (select
//!    providers, encode to fix the roots, place every fragment while
//!    coding it again, record the contract and wait until it is final) and
//!    get it back with `sherd storage get`'s (fetch `k` fragments, checking
//!    and decoding while they arrive, fsync), the get compared byte for
//!    byte with the file. The get's `decode` step is what is left of the
//!    decoding after the last byte arrived.
//!
//! A put's latency runs from its start to the contract seen final; a get's
//! to the output file fsynced and in place. MiB/s are the file's size over
//! the median time; the ratios put / encode and get / decode (of the
//! medians) say how much of the local speed survives the network, the
//! providers and the chain. The local steps run in every round, before the
//! network's in odd rounds and after them in even ones, so that neither
//! always meets the machine as the other left it.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args as ClapArgs;
use serde_json::json;
use sherd_fragments::Params;
use sherd_ledger::{state::market::per_gib_cost, Address, Amount, ChainId};
use sherd_market::object::{encode_into, fragment_file, MANIFEST};
use sherd_wallet::{client::TxOutcome, Mnemonic, NodeClient, WalletDir, WalletKey, DEFAULT_FEE};

use crate::output;
use crate::storage::{Ctx, Fetched, Put, PutArgs, Stored, Wallet};

/// `sherd bench storage`.
#[derive(Debug, ClapArgs)]
pub struct StorageArgs {
    /// The node's API: the chain, the providers' endpoints.
    #[arg(long, default_value = sherd_wallet::DEFAULT_NODE_URL)]
    pub node: String,
    /// A funded key file (the testnet's faucet.key): it pays a fresh
    /// account enough for every put.
    #[arg(long, value_name = "FILE", conflicts_with = "wallet")]
    pub faucet_key: Option<PathBuf>,
    /// Or this funded wallet pays (its password from --password-file or
    /// SHERD_PASSWORD, asked once).
    #[arg(long, value_name = "NAME")]
    pub wallet: Option<String>,
    /// Directory of the keystore files [default: $SHERD_HOME/wallets, else ~/.sherd/wallets].
    #[arg(long, value_name = "DIR")]
    pub wallet_dir: Option<PathBuf>,
    /// Read the wallet password from FILE (its first line).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Size of the random file: 4KiB, 256MiB, 2GiB.
    #[arg(long, default_value = "256MiB", value_parser = output::parse_size)]
    pub size: u64,
    /// Data fragments.
    #[arg(long = "data", short = 'k', value_name = "K", default_value_t = 4)]
    pub data: usize,
    /// Parity fragments.
    #[arg(long = "parity", short = 'm', value_name = "M", default_value_t = 2)]
    pub parity: usize,
    /// Puts (each followed by a get of what it stored).
    #[arg(long, default_value_t = 3)]
    pub count: usize,
    /// How long each object is stored, in epochs.
    #[arg(long, default_value_t = 10)]
    pub epochs: u64,
    /// Scratch directory for the file, the local fragments and the gets
    /// (on the disk to measure) [default: a new directory in the system's
    /// temporary directory]; emptied at the end.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Removes what the run created when dropped.
struct Scratch {
    dir: PathBuf,
    created: bool,
    files: Vec<PathBuf>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.created {
            let _ = fs::remove_dir_all(&self.dir);
        } else {
            for f in &self.files {
                let _ = fs::remove_dir_all(f).or_else(|_| fs::remove_file(f));
            }
        }
    }
}

impl Scratch {
    fn new(dir: Option<PathBuf>) -> Result<Self> {
        let (dir, created) = match dir {
            Some(dir) => {
                fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                (dir, false)
            }
            None => {
                let dir = std::env::temp_dir().join(format!(
                    "sherd-bench-storage-{}-{}",
                    std::process::id(),
                    crate::now_ms()
                ));
                fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                (dir, true)
            }
        };
        Ok(Self {
            dir,
            created,
            files: Vec::new(),
        })
    }

    /// A fresh path in the scratch directory, removed at the end.
    fn path(&mut self, name: &str) -> Result<PathBuf> {
        let path = self
            .dir
            .join(format!("bench-{}-{name}", std::process::id()));
        if fs::symlink_metadata(&path).is_ok() {
            bail!("{} is in the way", path.display());
        }
        self.files.push(path.clone());
        Ok(path)
    }
}

/// Writes `size` random bytes to `path`, fsynced; answers their BLAKE3.
fn random_file(path: &Path, size: u64) -> Result<blake3::Hash> {
    let seed = blake3::hash(format!("{:?} {}", Instant::now(), std::process::id()).as_bytes());
    let mut stream = blake3::Hasher::new_keyed(seed.as_bytes()).finalize_xof();
    let mut out = BufWriter::with_capacity(
        1 << 20,
        File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    let mut hash = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        stream.fill(&mut buf[..n]);
        hash.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(hash.finalize())
}

fn hash_file(path: &Path) -> Result<blake3::Hash> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hash = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hash.finalize());
        }
        hash.update(&buf[..n]);
    }
}

/// Encodes `input` into `dir` and decodes it back into `out` as `sherd
/// fragments encode` and `decode` do; answers their durations.
fn local(
    input: &Path,
    size: u64,
    params: Params,
    dir: &Path,
    out: &Path,
) -> Result<(Duration, Duration)> {
    fs::create_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file = File::open(input)?;
    let started = Instant::now();
    let (object, key) = encode_into(file, size, params, dir, &mut |_| {})?;
    fs::write(dir.join(MANIFEST), object.manifest().to_json())?;
    let encode = started.elapsed();

    let files = (0..params.total())
        .map(|i| File::open(dir.join(fragment_file(i))).map(Some))
        .collect::<std::io::Result<Vec<Option<File>>>>()?;
    let sources: Vec<Option<&File>> = files.iter().map(Option::as_ref).collect();
    let started = Instant::now();
    let mut writer = BufWriter::with_capacity(1 << 20, File::create(out)?);
    sherd_fragments::decode(&object, &key, &sources, &mut writer, &mut |_| {})
        .map_err(|e| anyhow!("the local fragments do not decode: {e}"))?;
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    let decode = started.elapsed();
    drop(files);
    fs::remove_dir_all(dir)?;
    Ok((encode, decode))
}

/// Pays `amount` base units from `faucet` to `to` and waits until final.
fn fund(
    client: &NodeClient,
    faucet: &ed25519_dalek::SigningKey,
    to: Address,
    amount: u64,
) -> Result<()> {
    let status = client.status()?;
    let chain = ChainId::new(&status.chain_id).map_err(|e| anyhow!("{e}"))?;
    let from = Address::from(&faucet.verifying_key());
    let nonce = client.account(&from)?.nonce;
    let tx = super::transfer(&chain, faucet, nonce, to, amount)?;
    let hash = client
        .submit(&tx)
        .map_err(|e| anyhow!("the faucet's transfer was refused: {e}"))?;
    let done = client.wait_for_finality(&hash, Duration::from_secs(120))?;
    if done.outcome == Some(TxOutcome::Failed) {
        bail!(
            "the faucet's transfer failed: {}",
            done.reason.as_deref().unwrap_or("no reason given")
        );
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// p50, p90 and max of `values` (milliseconds).
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    (
        super::percentile(&sorted, 50.0),
        super::percentile(&sorted, 90.0),
        sorted.last().copied().unwrap_or(f64::NAN),
    )
}

fn median(values: impl Iterator<Item = Duration>) -> f64 {
    let v: Vec<f64> = values.map(ms).collect();
    spread(&v).0
}

/// Runs `sherd bench storage`.
pub fn run(args: StorageArgs) -> Result<ExitCode> {
    if args.count == 0 || args.size == 0 || args.epochs == 0 {
        bail!("--count, --size and --epochs must be positive");
    }
    let params = Params::new(args.data, args.parity)
        .map_err(|e| anyhow!("--data {} --parity {}: {e}", args.data, args.parity))?;
    let layout = params.layout(args.size).ok_or_else(|| {
        anyhow!(
            "--size {} is too large for {}+{}",
            args.size,
            args.data,
            args.parity
        )
    })?;
    let client = NodeClient::new(&args.node)?;

    // The paying key, unlocked once (a keystore's KDF is slow on purpose
    // and must not count in any put).
    let (name, key) = match (&args.faucet_key, &args.wallet) {
        (Some(faucet), _) => {
            let faucet = sherd_wallet::keyfile::read_ed25519(faucet)?;
            let key = WalletKey::from_mnemonic(&Mnemonic::generate()?, 0);
            let candidates = crate::chain::candidates(&client)?;
            let price = candidates
                .iter()
                .map(|c| c.ad.price_per_gib_epoch)
                .max()
                .ok_or_else(|| anyhow!("the chain at {} lists no storage provider", args.node))?;
            let each = per_gib_cost(price, layout.fragment_size, args.epochs)
                .and_then(|a| a.0.checked_mul(params.total() as u64))
                .and_then(|a| a.checked_add(DEFAULT_FEE.0))
                .ok_or_else(|| anyhow!("the escrow overflows: --size or --epochs is too large"))?;
            let amount = each
                .checked_mul(args.count as u64)
                .and_then(|a| a.checked_add(a / 4 + DEFAULT_FEE.0))
                .ok_or_else(|| anyhow!("the escrow overflows: fewer --count"))?;
            if !args.json {
                eprintln!(
                    "funding a fresh account with {} from the faucet key",
                    Amount(amount)
                );
            }
            fund(&client, &faucet, key.address(), amount)?;
            ("bench".to_string(), key)
        }
        (None, Some(name)) => {
            let root = match &args.wallet_dir {
                Some(dir) => dir.clone(),
                None => WalletDir::default_root()
                    .ok_or_else(|| anyhow!("no wallet directory: pass --wallet-dir DIR"))?,
            };
            let keystore = WalletDir::new(root).load(name)?;
            let key = crate::wallet::unlock(&keystore, args.password_file.as_deref())?;
            (name.clone(), key)
        }
        (None, None) => {
            bail!("who pays? pass --faucet-key FILE (a testnet's faucet.key) or --wallet NAME")
        }
    };

    let mut scratch = Scratch::new(args.dir.clone())?;
    let input = scratch.path("input")?;
    if !args.json {
        eprintln!(
            "writing {} of random bytes to {}",
            output::bytes(args.size),
            input.display()
        );
    }
    let digest = random_file(&input, args.size)?;

    let catalog = scratch.path("catalog")?;
    let ctx = Ctx::unattended(&args.node, catalog);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let wallet = || Wallet::Key {
        name: &name,
        key: &key,
    };
    let put_args = PutArgs {
        // The same file is put again and again: each put is measured whole.
        again: true,
        name: None,
        pack: false,
        file: input.clone(),
        data: args.data,
        parity: args.parity,
        epochs: args.epochs,
        max_price: None,
        from: None,
        timeout: 120,
    };
    let mut locals = Vec::new();
    let mut puts = Vec::new();
    let mut gets = Vec::new();
    for i in 0..args.count {
        // Local: the fragments toolkit's encode and decode of the same
        // file. Network: sherd storage put, then get. They take turns at
        // going first (local first in odd rounds), so that neither always
        // meets the machine (the page cache, the disk) as the other left it.
        let local_round = |scratch: &mut Scratch| -> Result<(Duration, Duration)> {
            let dir = scratch.path(&format!("local-{i}"))?;
            let out = scratch.path(&format!("local-{i}.out"))?;
            let times = local(&input, args.size, params, &dir, &out)?;
            if hash_file(&out)? != digest {
                bail!("the local decode is not the file");
            }
            fs::remove_file(&out)?;
            Ok(times)
        };
        let network_round = |scratch: &mut Scratch| -> Result<(Stored, Fetched)> {
            let stored = match runtime
                .block_on(ctx.store(&put_args, wallet()))
                .with_context(|| format!("put {}", i + 1))?
            {
                Put::Stored(stored) => *stored,
                Put::AlreadyStored(entry) => bail!("put {} was answered by {}", i + 1, entry.id),
            };
            let out = scratch.path(&format!("get-{i}"))?;
            let fetched = runtime
                .block_on(ctx.fetch_to(&stored.id.to_string(), &out, wallet()))
                .with_context(|| format!("get {}", i + 1))?;
            if hash_file(&out)? != digest {
                bail!("get {} answered a file that is not the one put", i + 1);
            }
            fs::remove_file(&out)?;
            Ok((stored, fetched))
        };
        let ((encode, decode), (stored, fetched)) = if i % 2 == 0 {
            let local = local_round(&mut scratch)?;
            (local, network_round(&mut scratch)?)
        } else {
            let network = network_round(&mut scratch)?;
            (local_round(&mut scratch)?, network)
        };
        if !args.json {
            eprintln!(
                "{}: encode {:.0} ms, decode {:.0} ms; put {:.0} ms ({} failed attempts), get {:.0} ms",
                i + 1,
                ms(encode),
                ms(decode),
                ms(stored.timings.total),
                stored.failures.len(),
                ms(fetched.timings.total)
            );
        }
        locals.push((encode, decode));
        puts.push(stored);
        gets.push(fetched);
    }

    let mib = args.size as f64 / f64::from(1 << 20);
    let encode_ms: Vec<f64> = locals.iter().map(|l| ms(l.0)).collect();
    let decode_ms: Vec<f64> = locals.iter().map(|l| ms(l.1)).collect();
    let encode = spread(&encode_ms).0;
    let decode = spread(&decode_ms).0;
    let put_ms: Vec<f64> = puts.iter().map(|p| ms(p.timings.total)).collect();
    let get_ms: Vec<f64> = gets.iter().map(|g| ms(g.timings.total)).collect();
    let (put50, put90, putmax) = spread(&put_ms);
    let (get50, get90, getmax) = spread(&get_ms);
    let rate = |ms: f64| mib / (ms / 1e3);
    let report = json!({
        "node": args.node,
        "size": args.size,
        "k": args.data,
        "m": args.parity,
        "fragment_size": layout.fragment_size,
        "count": args.count,
        "epochs": args.epochs,
        "mib_per_s": {
            "encode": rate(encode),
            "decode": rate(decode),
            "put": rate(put50),
            "get": rate(get50),
        },
        "ratio": {
            "put_over_encode": encode / put50,
            "get_over_decode": decode / get50,
        },
        "local_ms": {
            "encode_p50": encode,
            "decode_p50": decode,
            "encode_all": encode_ms,
            "decode_all": decode_ms,
        },
        "put_ms": {
            "p50": put50, "p90": put90, "max": putmax,
            "all": put_ms,
            "steps_p50": {
                "prepare": median(puts.iter().map(|p| p.timings.prepare)),
                "encode": median(puts.iter().map(|p| p.timings.encode)),
                "upload": median(puts.iter().map(|p| p.timings.upload)),
                "finality": median(puts.iter().map(|p| p.timings.finality)),
            },
        },
        "get_ms": {
            "p50": get50, "p90": get90, "max": getmax,
            "all": get_ms,
            "steps_p50": {
                "prepare": median(gets.iter().map(|g| g.timings.prepare)),
                "fetch": median(gets.iter().map(|g| g.timings.fetch)),
                "decode": median(gets.iter().map(|g| g.timings.decode)),
            },
        },
        "failed_attempts": puts.iter().map(|p| p.failures.len()).sum::<usize>(),
        "failed_fetches": gets.iter().map(|g| g.report.failures.len()).sum::<usize>(),
    });
    if args.json {
        output::json(&report);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} as {}+{} (fragments of {}), {} put(s) and get(s) through {}",
        output::bytes(args.size),
        args.data,
        args.parity,
        output::bytes(layout.fragment_size),
        args.count,
        args.node
    );
    println!("                 MiB/s   of local");
    println!("local encode  {:>8.1}", rate(encode));
    println!("local decode  {:>8.1}", rate(decode));
    println!(
        "put           {:>8.1}   {:.2} of encode",
        rate(put50),
        encode / put50
    );
    println!(
        "get           {:>8.1}   {:.2} of decode",
        rate(get50),
        decode / get50
    );
    println!("latency (ms)      p50      p90      max");
    println!("put          {put50:>8.0} {put90:>8.0} {putmax:>8.0}");
    println!("get          {get50:>8.0} {get90:>8.0} {getmax:>8.0}");
    println!(
        "put steps (p50 ms): prepare {:.0}, encode {:.0}, upload {:.0}, finality {:.0}",
        report["put_ms"]["steps_p50"]["prepare"]
            .as_f64()
            .unwrap_or(f64::NAN),
        report["put_ms"]["steps_p50"]["encode"]
            .as_f64()
            .unwrap_or(f64::NAN),
        report["put_ms"]["steps_p50"]["upload"]
            .as_f64()
            .unwrap_or(f64::NAN),
        report["put_ms"]["steps_p50"]["finality"]
            .as_f64()
            .unwrap_or(f64::NAN),
    );
    println!(
        "get steps (p50 ms): prepare {:.0}, fetch {:.0}, decode {:.0}",
        report["get_ms"]["steps_p50"]["prepare"]
            .as_f64()
            .unwrap_or(f64::NAN),
        report["get_ms"]["steps_p50"]["fetch"]
            .as_f64()
            .unwrap_or(f64::NAN),
        report["get_ms"]["steps_p50"]["decode"]
            .as_f64()
            .unwrap_or(f64::NAN),
    );
    Ok(ExitCode::SUCCESS)
}
