//! A storage provider holding many fragments (100,000 by default): what a
//! restart costs before it serves, and what its prover does in a period.
//!
//! Once per run the benchmark builds a provider home in a temporary
//! directory: a real [`NodeDb`] and a [`DiskStore`] holding `FRAGMENTS`
//! active fragments of 16 KiB (one 16 KiB group each), every one the only
//! fragment this provider holds of a 4 + 2 contract, and those contracts in
//! the database's ledger state as the chain would have them. The first
//! [`FULL_API`] fragments go through `DiskStore::create` / `commit` (the
//! provider's own path: `O_DIRECT` write, fsync, rename, directory fsync,
//! durable index commit) and that rate is printed; the rest are written
//! with the same bytes under the same names and their index entries
//! committed in batches, which leaves the same files and the same index
//! (checked below) in a fraction of the time.
//!
//! `cargo bench -p sherd-node --bench provider`; names follow
//! `provider::<what>/<variant>`. `SHERD_BENCH_FRAGMENTS=N` changes the
//! count. The fragment files stay in the page cache (warm): 1.6 GiB here.

use std::collections::HashMap;
use std::fs;
use std::hint::black_box;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use sherd_fragments::{
    commit::{group_hash, merkle_root, tree_levels},
    file::{self, write_trailer},
    GROUP_SIZE,
};
use sherd_ledger::{
    state::{
        market,
        records::{contract_key, Record},
        Contract, ContractFragment, FragmentStatus,
    },
    tx::kind::{ProofAnswer, SubmitProofs, MAX_PROOFS_PER_TX},
    Address, Amount, ChainId, ChainParams, Hash, StateView, TxBody, TxKind,
};
use sherd_market::{
    provider::{
        prover::{self, Challenge},
        service::footer_of,
        ChainFacts, Earnings, PolicyConfig, Prover, Provider, ProviderChain,
    },
    store::{FragmentKey, FragmentRecord, FragmentState, FragmentStore},
    wire::Proposal,
};
use sherd_node::mempool::MAX_FUTURE_NONCES;
use sherd_node::provider::disk::DiskStore;
use sherd_node::store::{col, NodeDb};

/// Fragments written through the provider's own `create` / `commit`.
const FULL_API: u64 = 1_000;
/// Bytes of data per fragment: one 16 KiB group.
const FRAGMENT_SIZE: u64 = 16 * 1024;
/// Index entries per database commit on the fast path.
const INDEX_BATCH: usize = 5_000;
/// `provider::BATCH_BYTES`: the node's cap on a `SubmitProofs`, about.
const BATCH_BYTES: usize = 1 << 20;
/// The node resends an unanswered proof after this many blocks.
const RESUBMIT_AFTER: u64 = 3;
/// The client of every contract.
const CLIENT: Address = Address([1; 32]);

fn fragments() -> u64 {
    std::env::var("SHERD_BENCH_FRAGMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn params() -> ChainParams {
    ChainParams::dev(ChainId::new("sherd-bench").expect("valid chain id"))
}

fn provider_key() -> SigningKey {
    SigningKey::from_bytes(&[0x5e; 32])
}

/// Fragment `i`: its file's bytes, its index entry, its contract.
fn fragment(i: u64, provider: Address) -> (Vec<u8>, FragmentRecord, Contract) {
    let mut bytes = vec![0u8; FRAGMENT_SIZE as usize];
    blake3::Hasher::new()
        .update(b"sherd bench provider fragment")
        .update(&i.to_le_bytes())
        .finalize_xof()
        .fill(&mut bytes);
    let leaves: Vec<[u8; 32]> = bytes.chunks(GROUP_SIZE).map(group_hash).collect();
    let root = Hash(merkle_root(&leaves));
    let index = (i % 6) as u32;
    let proposal = Proposal {
        chain_id: params().chain_id,
        client: CLIENT,
        nonce: i,
        object_root: Hash([2; 32]),
        k: 4,
        m: 2,
        shard_size: FRAGMENT_SIZE as u32,
        object_size: 4 * FRAGMENT_SIZE - 64,
        fragment_size: FRAGMENT_SIZE,
        duration_epochs: 100,
        price_per_gib_epoch: Amount(1_000),
        index,
        fragment_root: root,
        repair: None,
    };
    let footer = footer_of(&proposal);
    write_trailer(&mut bytes, &tree_levels(&leaves), &footer).expect("in memory");
    let contract = Contract {
        id: market::contract_id(&CLIENT, i),
        client: CLIENT,
        object_root: proposal.object_root,
        k: 4,
        m: 2,
        fragment_size: FRAGMENT_SIZE,
        price_per_gib_epoch: proposal.price_per_gib_epoch,
        start_height: 1,
        first_period: 1,
        last_period: 1_000,
        fragments: (0..6u8)
            .map(|j| ContractFragment {
                root: if u32::from(j) == index {
                    root
                } else {
                    Hash([j; 32])
                },
                provider: if u32::from(j) == index {
                    provider
                } else {
                    Address([0x10 + j; 32])
                },
                status: FragmentStatus::Active,
                escrow_left: Amount(1_000_000),
                collateral_left: Amount(1_000_000),
                repair_reward: Amount(0),
                misses: 0,
                accepted: 0,
                proven: 0,
                since: 1,
            })
            .collect(),
    };
    let record = FragmentRecord {
        proposal,
        state: FragmentState::Active,
        stored_at: 1,
    };
    (bytes, record, contract)
}

/// The provider home: where the store and the database are.
struct Home {
    _dir: tempfile::TempDir,
    db: PathBuf,
    store: PathBuf,
    n: u64,
}

/// Writes the home (see the module docs) and says how long it took.
fn build(n: u64) -> Home {
    let dir = tempfile::Builder::new()
        .prefix("sherd-bench-provider")
        .tempdir_in(std::env::var_os("SHERD_BENCH_DIR").unwrap_or_else(|| "/tmp".into()))
        .expect("temp dir");
    let db_path = dir.path().join("db");
    let store_path = dir.path().join("fragments");
    let db = Arc::new(NodeDb::open(&db_path).expect("db"));
    let (store, _) = DiskStore::open(&store_path, db.clone()).expect("store");
    let provider = Address::from(&provider_key().verifying_key());

    let full = FULL_API.min(n);
    let started = Instant::now();
    let mut state = Vec::new();
    for i in 0..full {
        let (bytes, record, contract) = fragment(i, provider);
        let mut writer = store.create(&record.key()).expect("create");
        writer.write_all(&bytes).expect("write");
        store.commit(writer, &record).expect("commit");
        state.push(contract_op(&contract));
    }
    let full_time = started.elapsed();

    let started = Instant::now();
    let mut index = Vec::new();
    for i in full..n {
        let (bytes, record, contract) = fragment(i, provider);
        let key = record.key();
        fs::write(store.path(&key), &bytes).expect("write");
        index.push((
            col::FRAGMENTS,
            key.to_bytes().to_vec(),
            Some(record.to_bytes().expect("encode")),
        ));
        state.push(contract_op(&contract));
        if index.len() == INDEX_BATCH {
            db.commit(std::mem::take(&mut index)).expect("commit");
        }
    }
    db.commit(index).expect("commit");
    for chunk in state.chunks(INDEX_BATCH) {
        db.commit(chunk.to_vec()).expect("commit");
    }
    let fast_time = started.elapsed();
    let started = Instant::now();
    let synced = std::process::Command::new("sync").status();
    let sync_time = started.elapsed();

    // Both paths leave the same thing: the file a provider would write
    // under its name, and the same index entry.
    for i in [0, full.saturating_sub(1), full, n.saturating_sub(1)] {
        if i >= n {
            continue;
        }
        let (bytes, record, _) = fragment(i, provider);
        assert_eq!(fs::read(store.path(&record.key())).expect("read"), bytes);
        assert_eq!(
            db.get(col::FRAGMENTS, &record.key().to_bytes())
                .expect("get"),
            Some(record.to_bytes().expect("encode"))
        );
    }
    assert_eq!(store.records().expect("records").len() as u64, n);

    let per = |t: Duration, k: u64| t.as_secs_f64() / k.max(1) as f64 * 1e6;
    println!(
        "provider home: {n} fragments of {FRAGMENT_SIZE} B in {}\n  \
         {full} through DiskStore::create/commit: {:.2?} ({:.0} µs each; {n} would take {:.0} s)\n  \
         {} written directly, index and contracts committed in batches of {INDEX_BATCH}: {:.2?} ({:.0} µs each)\n  \
         sync: {:.2?} ({:?})",
        dir.path().display(),
        full_time,
        per(full_time, full),
        per(full_time, full) * n as f64 / 1e6,
        n - full,
        fast_time,
        per(fast_time, n - full),
        sync_time,
        synced.map(|s| s.success()),
    );
    drop(store);
    drop(db);
    Home {
        _dir: dir,
        db: db_path,
        store: store_path,
        n,
    }
}

fn contract_op(contract: &Contract) -> (u8, Vec<u8>, Option<Vec<u8>>) {
    (
        col::STATE,
        contract_key(&contract.id),
        Some(Record::to_bytes(contract).expect("encode")),
    )
}

/// The chain read from the node's state, as `NodeChain` reads it.
struct StateChain {
    db: Arc<NodeDb>,
}

impl ProviderChain for StateChain {
    fn facts(&self, contract_id: &Hash) -> Result<ChainFacts, String> {
        Ok(ChainFacts {
            chain_id: params().chain_id,
            height: 1_000,
            ad: None,
            balance: Amount::ZERO,
            contract: self.contract(contract_id)?,
        })
    }

    fn contract(&self, id: &Hash) -> Result<Option<Contract>, String> {
        let state = self.db.state();
        StateView::new(&state)
            .contract(id)
            .map_err(|e| e.to_string())
    }
}

/// The chain as a map in memory: the provider's own cost, without reads.
struct MemoryChain {
    contracts: HashMap<Hash, Contract>,
}

impl ProviderChain for MemoryChain {
    fn facts(&self, contract_id: &Hash) -> Result<ChainFacts, String> {
        Ok(ChainFacts {
            chain_id: params().chain_id,
            height: 1_000,
            ad: None,
            balance: Amount::ZERO,
            contract: self.contract(contract_id)?,
        })
    }

    fn contract(&self, id: &Hash) -> Result<Option<Contract>, String> {
        Ok(self.contracts.get(id).cloned())
    }
}

/// What `provider::prove` builds after every block: every active record
/// with its contract from the state.
fn held(store: &DiskStore, db: &NodeDb) -> Vec<(FragmentKey, Contract)> {
    let state = db.state();
    let view = StateView::new(&state);
    store
        .records()
        .expect("records")
        .iter()
        .filter(|r| r.state == FragmentState::Active)
        .filter_map(|r| {
            let key = r.key();
            Some((key, view.contract(&key.contract_id).ok().flatten()?))
        })
        .collect()
}

/// `provider::make_proof`: open through the store, prove, encode.
fn make_proof(store: &DiskStore, challenge: &Challenge) -> Result<ProofAnswer, String> {
    let file = store
        .open(&challenge.key)
        .map_err(|e| e.to_string())?
        .ok_or("its file is missing")?;
    let (_, proof) = file::prove(&file, challenge.chunk).map_err(|e| e.to_string())?;
    Ok(ProofAnswer {
        contract_id: challenge.key.contract_id,
        fragment_index: challenge.key.index,
        period: challenge.period,
        proof: proof.to_bytes(),
    })
}

fn provider_benches(c: &mut Criterion) {
    let home = build(fragments());
    let n = home.n;
    let variant = format!("n={n}");

    // Restart: the database, the store's recovery pass, the deal policy.
    let mut group = c.benchmark_group("provider::restart");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(n));
    group.bench_function(BenchmarkId::new("db-open", &variant), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let db = NodeDb::open(&home.db).expect("db");
                total += started.elapsed();
                drop(db);
            }
            total
        })
    });
    let db = Arc::new(NodeDb::open(&home.db).expect("db"));
    group.bench_function(BenchmarkId::new("store-open", &variant), |b| {
        b.iter(|| {
            let (store, recovery) = DiskStore::open(&home.store, db.clone()).expect("open");
            assert_eq!(recovery, Default::default());
            black_box(store)
        })
    });
    let (store, _) = DiskStore::open(&home.store, db.clone()).expect("open");
    group.bench_function(BenchmarkId::new("records", &variant), |b| {
        b.iter(|| black_box(store.records().expect("records")))
    });
    group.bench_function(BenchmarkId::new("provider-new", &variant), |b| {
        b.iter(|| {
            black_box(
                Provider::new(
                    provider_key(),
                    store.clone(),
                    StateChain { db: db.clone() },
                    PolicyConfig::default(),
                    4,
                )
                .expect("provider"),
            )
        })
    });
    group.finish();

    // Maintenance: a full pass asks the chain for every record's contract.
    let contracts: HashMap<Hash, Contract> = held(&store, &db)
        .into_iter()
        .map(|(_, c)| (c.id, c))
        .collect();
    assert_eq!(contracts.len() as u64, n);
    let mut group = c.benchmark_group("provider::maintain");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(n));
    let on_state = Provider::new(
        provider_key(),
        store.clone(),
        StateChain { db: db.clone() },
        PolicyConfig::default(),
        4,
    )
    .expect("provider");
    let in_memory = Provider::new(
        provider_key(),
        store.clone(),
        MemoryChain {
            contracts: contracts.clone(),
        },
        PolicyConfig::default(),
        4,
    )
    .expect("provider");
    for (name, full) in [("full", true), ("light", false)] {
        group.bench_function(BenchmarkId::new(format!("{name}-state"), &variant), |b| {
            b.iter(|| {
                let done = on_state.maintain(1_000, full).expect("maintain");
                assert_eq!(done, Default::default());
            })
        });
    }
    group.bench_function(BenchmarkId::new("full-memory", &variant), |b| {
        b.iter(|| {
            let done = in_memory.maintain(1_000, true).expect("maintain");
            assert_eq!(done, Default::default());
        })
    });
    group.finish();

    // The prover, every block: what is held, then the state machine.
    let params = params();
    let address = Address::from(&provider_key().verifying_key());
    let seed = Hash([9; 32]);
    let period = 3;
    let first = period * params.proof_period; // its seed is final: the window opens
    let held_now = held(&store, &db);
    let mut group = c.benchmark_group("provider::prover");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(n));
    group.bench_function(BenchmarkId::new("held", &variant), |b| {
        b.iter(|| black_box(held(&store, &db)))
    });
    // Between a period's first and last block the duty reads only the
    // contracts of proofs in flight: at most as many batches as the mempool
    // holds for one sender.
    let in_flight: Vec<FragmentKey> = held_now
        .iter()
        .map(|(key, _)| *key)
        .take((MAX_FUTURE_NONCES as usize + 1) * MAX_PROOFS_PER_TX)
        .collect();
    group.bench_function(BenchmarkId::new("held-in-flight", &variant), |b| {
        b.iter(|| {
            let state = db.state();
            let view = StateView::new(&state);
            let read: Vec<(FragmentKey, Contract)> = in_flight
                .iter()
                .filter_map(|key| Some((*key, view.contract(&key.contract_id).ok().flatten()?)))
                .collect();
            black_box(read)
        })
    });
    group.bench_function(BenchmarkId::new("tick-new-period", &variant), |b| {
        b.iter_batched(
            || Prover::new(address, RESUBMIT_AFTER),
            |mut p| {
                let tick = p.tick(&params, first, Some(&seed), &held_now, usize::MAX);
                assert_eq!(tick.prove.len() as u64, n);
                black_box(tick)
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function(BenchmarkId::new("is_challenged+chunk_of", &variant), |b| {
        b.iter(|| {
            let challenged = held_now
                .iter()
                .filter(|(k, c)| prover::is_challenged(&params, c, k.index, period, &address))
                .filter_map(|(k, c)| prover::chunk_of(c, k.index, period, &seed))
                .count();
            assert_eq!(challenged as u64, n);
        })
    });
    // `provider::count_earnings`, every block.
    let mut earnings = Earnings::default();
    earnings.update(&held_now, params.proof_reward);
    group.bench_function(BenchmarkId::new("earnings", &variant), |b| {
        b.iter(|| black_box(earnings.update(&held_now, params.proof_reward)))
    });
    let mut waiting = Prover::new(address, RESUBMIT_AFTER);
    let challenges = waiting
        .tick(&params, first, Some(&seed), &held_now, usize::MAX)
        .prove;
    waiting.submitted(challenges.iter().map(|c| c.key), first);
    group.bench_function(BenchmarkId::new("tick-waiting", &variant), |b| {
        b.iter(|| {
            let tick = waiting.tick(&params, first + 1, Some(&seed), &held_now, usize::MAX);
            assert!(tick.prove.is_empty());
            black_box(tick)
        })
    });
    group.finish();

    // Proofs from disk: every challenge of the period, as the duty does.
    let mut group = c.benchmark_group("provider::proofs");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(n));
    group.bench_function(BenchmarkId::new("store-open+prove", &variant), |b| {
        b.iter(|| {
            let answers: Vec<ProofAnswer> = challenges
                .iter()
                .map(|c| make_proof(&store, c).expect("proof"))
                .collect();
            black_box(answers)
        })
    });
    group.bench_function(BenchmarkId::new("raw-open+prove", &variant), |b| {
        b.iter(|| {
            for c in &challenges {
                let file = fs::File::open(store.path(&c.key)).expect("open");
                black_box(file::prove(&file, c.chunk).expect("proof"));
            }
        })
    });
    let answers: Vec<ProofAnswer> = challenges
        .iter()
        .map(|c| make_proof(&store, c).expect("proof"))
        .collect();
    let key = provider_key();
    group.bench_function(BenchmarkId::new("batch+sign", &variant), |b| {
        b.iter_batched(
            || answers.clone(),
            |answers| {
                for (nonce, batch) in prover::batches(answers, MAX_PROOFS_PER_TX, BATCH_BYTES)
                    .into_iter()
                    .enumerate()
                {
                    black_box(submit_proofs(&key, nonce as u64, batch));
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();

    let batches = prover::batches(answers.clone(), MAX_PROOFS_PER_TX, BATCH_BYTES);
    let sizes: Vec<usize> = batches
        .iter()
        .enumerate()
        .map(|(nonce, batch)| {
            submit_proofs(&key, nonce as u64, batch.clone())
                .to_bytes()
                .expect("encode")
                .len()
        })
        .collect();
    let proof_len = answers.first().map_or(0, |a| a.proof.len());
    println!(
        "provider: {n} proofs of {proof_len} B each in {} SubmitProofs: {} to {} proofs, \
         {} to {} B, {} B in all",
        batches.len(),
        batches.iter().map(Vec::len).min().unwrap_or(0),
        batches.iter().map(Vec::len).max().unwrap_or(0),
        sizes.iter().min().unwrap_or(&0),
        sizes.iter().max().unwrap_or(&0),
        sizes.iter().sum::<usize>(),
    );
    cold_proofs(&store, &challenges);
}

/// One signed `SubmitProofs`, as `duties::sign_and_submit` makes it.
fn submit_proofs(
    key: &SigningKey,
    nonce: u64,
    proofs: Vec<ProofAnswer>,
) -> sherd_ledger::Transaction {
    let params = params();
    TxBody {
        chain_id: params.chain_id.clone(),
        sender: Address::from(&key.verifying_key()),
        nonce,
        fee: params.min_fee,
        kind: TxKind::SubmitProofs(SubmitProofs { proofs }),
    }
    .sign(key)
    .expect("sign")
}

/// With `SHERD_BENCH_COLD=1`: one pass of proofs after the fragment files
/// were dropped from the page cache (`posix_fadvise(DONTNEED)` on each, by
/// `python3` since unsafe code is forbidden here; it touches no other
/// process's cache).
fn cold_proofs(store: &DiskStore, challenges: &[Challenge]) {
    if std::env::var_os("SHERD_BENCH_COLD").is_none() {
        return;
    }
    let evicted = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import os, sys\n\
             for e in os.scandir(sys.argv[1]):\n\
             \x20   fd = os.open(e.path, os.O_RDONLY)\n\
             \x20   os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)\n\
             \x20   os.close(fd)\n",
        )
        .arg(store.dir().join("data"))
        .status();
    if !evicted.as_ref().is_ok_and(|s| s.success()) {
        println!("provider: cannot drop the fragment files from the page cache ({evicted:?})");
        return;
    }
    let started = Instant::now();
    for c in challenges {
        black_box(make_proof(store, c).expect("proof"));
    }
    let t = started.elapsed();
    println!(
        "provider: {} proofs with a cold page cache: {t:.2?} ({:.0} µs each)",
        challenges.len(),
        t.as_secs_f64() * 1e6 / challenges.len().max(1) as f64
    );
}

criterion_group!(benches, provider_benches);
criterion_main!(benches);
