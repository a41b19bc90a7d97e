//! Benchmarks of the state commitment: the root update of a block touching
//! 10,000 existing accounts in states of 1,000 to 1,000,000 accounts, next
//! to raw BLAKE3 computing as many hashes and to the store's reads of as
//! many nodes, so the tree's overhead over its hashing and its reads shows
//! as ratios.
//!
//! `cargo bench -p sherd-ledger --bench commitment`; names follow
//! `commitment::update/<impl>/<variant>`. Building the 1,000,000-account
//! state (one big update and commit) takes a while and is timed once, to
//! stderr.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sherd_ledger::{
    commitment::{state_root, update},
    ChangeSet, MemoryStore, StateStore,
};

/// The key of account `i`: `0x01 ‖ 32 pseudo-random bytes`, as the ledger's
/// account keys.
fn account_key(i: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(33);
    key.push(0x01);
    key.extend_from_slice(blake3::hash(&i.to_le_bytes()).as_bytes());
    key
}

/// A 16-byte account value: `balance u64_le ‖ nonce u64_le`.
fn account_value(balance: u64, nonce: u64) -> Vec<u8> {
    let mut value = Vec::with_capacity(16);
    value.extend_from_slice(&balance.to_le_bytes());
    value.extend_from_slice(&nonce.to_le_bytes());
    value
}

/// A store holding `n` accounts and their tree, built with one update.
fn state(n: u64) -> MemoryStore {
    let start = Instant::now();
    let changes: ChangeSet = (0..n)
        .map(|i| (account_key(i), Some(account_value(1_000_000 + i, 0))))
        .collect();
    let (root, nodes) = update(&MemoryStore::new(), &changes).expect("builds");
    let built = start.elapsed();
    let node_count = nodes.len();
    let mut store = MemoryStore::new();
    let mut all = changes;
    all.extend(nodes);
    store.commit(all).expect("commits");
    assert_eq!(state_root(&store).expect("reads"), root);
    eprintln!(
        "commitment: state of {n} accounts: tree of {node_count} nodes computed in {built:.2?}, \
         committed to a MemoryStore in {:.2?} in all",
        start.elapsed()
    );
    store
}

/// A block updating `touched` of the `n` accounts (spread over the key
/// space: keys are hashes), each balance and nonce changed.
fn block(n: u64, touched: u64) -> ChangeSet {
    let stride = (n / touched).max(1);
    (0..touched)
        .map(|j| {
            let i = j * stride;
            (account_key(i), Some(account_value(i, 1)))
        })
        .collect()
}

fn updates(c: &mut Criterion) {
    let mut group = c.benchmark_group("commitment::update");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for n in [1_000u64, 100_000, 1_000_000] {
        let store = state(n);
        let touched = n.min(10_000);
        let changes = block(n, touched);
        let (_, nodes) = update(&store, &changes).expect("updates");
        let variant = format!("accounts={n},touched={touched}");
        group.throughput(Throughput::Elements(touched));
        group.bench_function(BenchmarkId::new("sherd", &variant), |b| {
            b.iter_with_large_drop(|| update(&store, &changes).expect("updates"))
        });
        // The floor: BLAKE3 of each key and value, then two 64-byte hashes
        // per node written (the new node, and the check of the node read).
        let node_hashes = 2 * nodes.len();
        let material = [7u8; 64];
        group.bench_function(
            BenchmarkId::new("raw-blake3", format!("{variant},node-hashes={node_hashes}")),
            |b| {
                b.iter(|| {
                    for (key, value) in &changes {
                        black_box(blake3::hash(key));
                        black_box(blake3::hash(value.as_deref().unwrap_or_default()));
                    }
                    for _ in 0..node_hashes {
                        black_box(blake3::hash(black_box(&material)));
                    }
                })
            },
        );
        // The store's share: one `get` per node written, the reads an
        // update of this block does (give or take the untouched siblings
        // it must look at).
        group.bench_function(
            BenchmarkId::new(
                "memorystore-get",
                format!("{variant},reads={}", nodes.len()),
            ),
            |b| {
                b.iter(|| {
                    for key in nodes.keys() {
                        black_box(store.get(key).expect("reads"));
                    }
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, updates);
criterion_main!(benches);
