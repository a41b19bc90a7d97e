//! Benchmarks of the ledger, each next to the raw library doing the same
//! work where there is one, so overheads read as ratios from one run.
//!
//! `cargo bench -p sherd-ledger` runs them all; names follow
//! `ledger::<what>/<variant>`.

use std::{collections::BTreeMap, hint::black_box, time::Duration};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use sherd_ledger::{
    apply_block, tx::kind::Transfer, verify, verify_batch, write_genesis, Address, Amount, ChainId,
    ChainParams, MemoryStore, Transaction, TxBody, TxKind,
};

const SENDERS: u64 = 1_000;

fn key(i: u64) -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&i.to_le_bytes());
    seed[8] = 0x5e;
    SigningKey::from_bytes(&seed)
}

fn params() -> ChainParams {
    ChainParams {
        chain_id: ChainId::new("sherd-bench").expect("valid chain id"),
        min_fee: Amount(1_000),
    }
}

/// `n` transfers: sender `i % SENDERS` with consecutive nonces, to
/// pseudo-random recipients among 10 × SENDERS accounts.
fn transfers(n: u64) -> (Vec<Address>, Vec<Transaction>) {
    let keys: Vec<SigningKey> = (0..SENDERS).map(key).collect();
    let senders: Vec<Address> = keys
        .iter()
        .map(|k| Address::from(&k.verifying_key()))
        .collect();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let txs = (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let from = (i % SENDERS) as usize;
            let mut to = [0u8; 32];
            to[..8].copy_from_slice(&(state % (10 * SENDERS)).to_le_bytes());
            TxBody {
                chain_id: params().chain_id,
                sender: senders[from],
                nonce: i / SENDERS,
                fee: Amount(1_000),
                kind: TxKind::Transfer(Transfer {
                    to: Address(to),
                    amount: Amount(1 + state % 1_000),
                }),
            }
            .sign(&keys[from])
            .expect("signable")
        })
        .collect();
    (senders, txs)
}

fn apply(c: &mut Criterion) {
    let mut group = c.benchmark_group("ledger::apply_block");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    let n = 10_000;
    let (senders, txs) = transfers(n);
    let verified = verify_batch(txs).expect("valid signatures");
    let mut store = MemoryStore::new();
    let genesis: Vec<_> = senders
        .iter()
        .map(|&a| (a, Amount(1_000_000_000)))
        .collect();
    write_genesis(&mut store, &genesis).expect("genesis");
    let params = params();
    group.throughput(Throughput::Elements(n));
    group.bench_function(
        BenchmarkId::new("ledger", "transfers=10000,pre-verified"),
        |b| {
            b.iter(|| {
                let result = apply_block(&store, &params, senders[0], &verified).expect("applies");
                assert_eq!(result.receipts.len(), n as usize);
                black_box(result.changes)
            })
        },
    );
    // The floor: the same number of reads and writes of 16-byte values in a
    // bare BTreeMap, no decoding, no checks.
    let accounts: BTreeMap<Vec<u8>, Vec<u8>> = store
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect();
    group.bench_function(BenchmarkId::new("raw-btreemap", "transfers=10000"), |b| {
        b.iter(|| {
            let mut writes: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for v in &verified {
                let body = &v.tx().body;
                let TxKind::Transfer(t) = &body.kind else {
                    unreachable!()
                };
                for a in [&body.sender, &t.to] {
                    let mut k = vec![1u8];
                    k.extend_from_slice(a.as_bytes());
                    let old = writes
                        .get(&k)
                        .or_else(|| accounts.get(&k))
                        .cloned()
                        .unwrap_or_default();
                    writes.insert(k, black_box(old));
                }
            }
            black_box(writes)
        })
    });
    group.finish();
}

fn signatures(c: &mut Criterion) {
    let mut group = c.benchmark_group("ledger::verify");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    let n = 1_024;
    let (_, txs) = transfers(n);
    group.throughput(Throughput::Elements(n));
    group.bench_function(BenchmarkId::new("ledger-single", "n=1024"), |b| {
        b.iter(|| {
            for tx in &txs {
                black_box(verify(tx.clone()).expect("valid"));
            }
        })
    });
    group.bench_function(BenchmarkId::new("ledger-batch", "n=1024"), |b| {
        b.iter(|| black_box(verify_batch(txs.clone()).expect("valid")))
    });
    // The raw library on the same messages, key bytes and signatures; the
    // keys are decompressed inside the loop, as a ledger receiving key bytes must.
    let messages: Vec<Vec<u8>> = txs
        .iter()
        .map(|tx| tx.body.signing_message().expect("encodable"))
        .collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let sigs: Vec<Signature> = txs.iter().map(|tx| tx.signature).collect();
    let key_bytes: Vec<[u8; 32]> = txs.iter().map(|tx| tx.body.sender.0).collect();
    let keys = |bytes: &[[u8; 32]]| -> Vec<VerifyingKey> {
        bytes
            .iter()
            .map(|b| VerifyingKey::from_bytes(b).expect("key"))
            .collect()
    };
    group.bench_function(BenchmarkId::new("raw-verify_strict", "n=1024"), |b| {
        b.iter(|| {
            for ((m, s), k) in refs.iter().zip(&sigs).zip(&key_bytes) {
                let k = VerifyingKey::from_bytes(k).expect("key");
                k.verify_strict(m, s).expect("valid");
            }
        })
    });
    group.bench_function(BenchmarkId::new("raw-verify_batch", "n=1024"), |b| {
        b.iter(|| ed25519_dalek::verify_batch(&refs, &sigs, &keys(&key_bytes)).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, apply, signatures);
criterion_main!(benches);
