//! Benchmarks of the fragments engine, each next to the raw library doing
//! the same work, so that overheads read as ratios from one run.
//!
//! `cargo bench -p sherd-fragments` runs them all; names follow
//! `fragments::<what>/<variant>`.

use std::{hint::black_box, io, time::Duration};

use blake3::hazmat::{merge_subtrees_non_root, merge_subtrees_root, HasherExt, Mode};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use sherd_fragments::{
    commit::{group_hash, node_hash, tree_levels, GROUP_CONTEXT},
    decode, encode_with_key,
    erasure::StripeEncoder,
    file::{self, Footer},
    verify, ObjectKey, Params, GROUP_SIZE,
};

const MIB: usize = 1 << 20;

fn bytes(size: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Seals `buf` in place in segments of `segment` bytes, nonce = index.
fn seal_segments(key: &LessSafeKey, buf: &mut [u8], segment: usize) {
    for (i, seg) in buf.chunks_mut(segment).enumerate() {
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let tag = key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), seg)
            .expect("seal");
        let _ = black_box(tag);
    }
}

fn one_thread() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool")
}

/// Raw reed-solomon-simd against our stripe encoder, same shards, same work.
fn erasure(c: &mut Criterion) {
    let mut group = c.benchmark_group("fragments::encode");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    for (k, m, shard, label) in [
        (10, 4, MIB, "k=10,m=4,shard=1MiB"),
        (16, 16, 64 << 10, "k=16,m=16,shard=64KiB"),
        (32, 64, 8 * MIB / 32, "k=32,m=64,size=8MiB"),
    ] {
        let data = bytes(k * shard, 1);
        group.throughput(Throughput::Bytes(data.len() as u64));
        let mut raw = ReedSolomonEncoder::new(k, m, shard).expect("supported");
        group.bench_function(BenchmarkId::new("raw", label), |b| {
            b.iter(|| {
                for s in data.chunks_exact(shard) {
                    raw.add_original_shard(s).expect("shard size");
                }
                let result = raw.encode().expect("encode");
                for recovery in result.recovery_iter() {
                    black_box(recovery);
                }
            })
        });
        let mut ours = StripeEncoder::new();
        group.bench_function(BenchmarkId::new("sherd", label), |b| {
            b.iter(|| {
                ours.encode(&data, k, m, shard, |_, parity| {
                    black_box(parity);
                })
                .expect("encode")
            })
        });
    }
    group.finish();
}

/// The put pipeline, and each raw stage it is made of, on the same object.
fn put(c: &mut Criterion) {
    let mut group = c.benchmark_group("fragments::put");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(6));
    let key = ObjectKey::from_bytes([7; 32]);
    let single = one_thread();
    for (size, k, m) in [(8 * MIB, 10, 4), (64 * MIB, 10, 4), (64 * MIB, 32, 64)] {
        let params = Params::new(k, m).expect("params");
        let data = bytes(size, 2);
        let label = format!("k={k},m={m},size={}MiB", size / MIB);
        group.throughput(Throughput::Bytes(size as u64));
        let run = |data: &[u8]| {
            let mut sinks: Vec<io::Sink> = (0..k + m).map(|_| io::sink()).collect();
            encode_with_key(
                data,
                data.len() as u64,
                params,
                &key,
                &mut sinks,
                &mut |_| {},
            )
            .expect("encode")
        };
        group.bench_function(BenchmarkId::new("sherd/1-thread", &label), |b| {
            single.install(|| b.iter(|| run(&data)))
        });
        group.bench_function(BenchmarkId::new("sherd/all-cores", &label), |b| {
            b.iter(|| run(&data))
        });

        // Raw stages, single-threaded, over the same bytes: the put's ceiling
        // is 1 / (t_encode + t_hash + t_encrypt).
        let shard = params.shard_size() as usize;
        let stripe = k * shard;
        let mut raw = ReedSolomonEncoder::new(k, m, shard).expect("supported");
        let padded = {
            let mut p = data.clone();
            p.resize(data.len().next_multiple_of(stripe), 0);
            p
        };
        group.bench_function(BenchmarkId::new("raw-encode", &label), |b| {
            b.iter(|| {
                for s in padded.chunks_exact(stripe) {
                    for shard_bytes in s.chunks_exact(shard) {
                        raw.add_original_shard(shard_bytes).expect("shard");
                    }
                    let result = raw.encode().expect("encode");
                    for r in result.recovery_iter() {
                        black_box(r);
                    }
                }
            })
        });
        let hashed = bytes(size * (k + m) / k, 3);
        group.bench_function(BenchmarkId::new("raw-hash-all-fragments", &label), |b| {
            b.iter(|| {
                for g in hashed.chunks(GROUP_SIZE) {
                    black_box(group_hash(g));
                }
            })
        });
        let aes = LessSafeKey::new(UnboundKey::new(&aead::AES_256_GCM, &[7; 32]).expect("key"));
        let mut buf = data.clone();
        group.bench_function(BenchmarkId::new("raw-encrypt", &label), |b| {
            b.iter(|| seal_segments(&aes, &mut buf, shard - 16))
        });
    }
    group.finish();
}

/// The get pipeline with `m` data fragments lost: verify + decode + decrypt.
fn get(c: &mut Criterion) {
    let mut group = c.benchmark_group("fragments::get");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(6));
    let key = ObjectKey::from_bytes([8; 32]);
    let single = one_thread();
    for (size, k, m) in [(8 * MIB, 10, 4), (64 * MIB, 10, 4)] {
        let params = Params::new(k, m).expect("params");
        let data = bytes(size, 4);
        let mut files = vec![Vec::new(); k + m];
        let object = encode_with_key(
            &data[..],
            size as u64,
            params,
            &key,
            &mut files,
            &mut |_| {},
        )
        .expect("encode");
        let sources: Vec<Option<&Vec<u8>>> = files
            .iter()
            .enumerate()
            .map(|(i, f)| (i >= m).then_some(f))
            .collect();
        let label = format!("k={k},m={m},lost={m},size={}MiB", size / MIB);
        group.throughput(Throughput::Bytes(size as u64));
        // The output buffer is reused, so the kernel's first-touch page
        // faults on a fresh buffer are not counted as decoding.
        let mut out = Vec::with_capacity(size);
        let mut run = || {
            out.clear();
            decode(&object, &key, &sources, &mut out, &mut |_| {}).expect("decode");
            black_box(out.len())
        };
        group.bench_function(BenchmarkId::new("sherd/1-thread", &label), |b| {
            single.install(|| b.iter(&mut run))
        });
        group.bench_function(BenchmarkId::new("sherd/all-cores", &label), |b| {
            b.iter(&mut run)
        });

        // Raw reed-solomon-simd restoring the same m data shards of every
        // full stripe, single-threaded: the decode's share of the get path.
        let shard = params.shard_size() as usize;
        let stripes = object.layout.stripes as usize;
        let mut raw = ReedSolomonDecoder::new(k, m, shard).expect("supported");
        group.bench_function(BenchmarkId::new("raw-decode", &label), |b| {
            b.iter(|| {
                for s in 0..stripes.saturating_sub(1) {
                    let at = s * shard;
                    for (i, f) in files.iter().enumerate().skip(m) {
                        let piece = &f[at..at + shard];
                        if i < k {
                            raw.add_original_shard(i, piece).expect("shard");
                        } else {
                            raw.add_recovery_shard(i - k, piece).expect("shard");
                        }
                    }
                    let result = raw.decode().expect("decode");
                    for restored in result.restored_original_iter() {
                        black_box(restored);
                    }
                }
            })
        });
    }
    group.finish();
}

/// A fragment file of `chunks` chunks of random data, in memory.
fn fragment_file(chunks: usize) -> (Vec<u8>, [u8; 32]) {
    let data = bytes(chunks * 1024, 5);
    let leaves: Vec<[u8; 32]> = data.chunks(GROUP_SIZE).map(group_hash).collect();
    let levels = tree_levels(&leaves);
    let root = levels.last().expect("levels")[0];
    let footer = Footer {
        index: 0,
        data: 1,
        parity: 1,
        shard_size: 1 << 20,
        object_size: 1,
        fragment_size: data.len() as u64,
        fragment_root: root,
        object_root: [0; 32],
    };
    let mut out = data;
    file::write_trailer(&mut out, &levels, &footer).expect("in memory");
    (out, root)
}

/// Proof generation and verification, next to the raw hashes a verification performs.
fn proofs(c: &mut Criterion) {
    let mut group = c.benchmark_group("fragments::proof");
    group.measurement_time(Duration::from_secs(3));
    let context = blake3::hazmat::hash_derive_key_context(GROUP_CONTEXT);
    for log in [10u32, 16] {
        let chunks = 1usize << log;
        let (fragment, root) = fragment_file(chunks);
        let index = (chunks as u64 * 5 / 7) | 1;
        let label = format!("chunks=2^{log}");
        group.bench_function(BenchmarkId::new("prove", &label), |b| {
            b.iter(|| file::prove(&fragment, black_box(index)).expect("prove"))
        });
        let (_, proof) = file::prove(&fragment, index).expect("prove");
        group.bench_function(BenchmarkId::new("verify", &label), |b| {
            b.iter(|| {
                assert!(verify(
                    &root,
                    chunks as u64,
                    black_box(index),
                    black_box(&proof)
                ))
            })
        });
        // The raw hashing a verification does: one chunk, four merges inside
        // its group, one node hash per tree level.
        let tree_depth = proof.siblings.len() - 4;
        group.bench_function(BenchmarkId::new("raw-hashes", &label), |b| {
            b.iter(|| {
                let mut hasher = blake3::Hasher::new_from_context_key(&context);
                hasher.set_input_offset(1024);
                let mut cv = hasher.update(black_box(&proof.chunk)).finalize_non_root();
                for s in &proof.siblings[..3] {
                    cv = merge_subtrees_non_root(&cv, s, Mode::DeriveKeyMaterial(&context));
                }
                let mut node = *merge_subtrees_root(
                    &cv,
                    &proof.siblings[3],
                    Mode::DeriveKeyMaterial(&context),
                )
                .as_bytes();
                for s in &proof.siblings[4..4 + tree_depth] {
                    node = node_hash(&node, s);
                }
                black_box(node)
            })
        });
    }
    group.finish();
}

/// The two AEADs the design considered, over 1 MiB segments.
fn ciphers(c: &mut Criterion) {
    let mut group = c.benchmark_group("fragments::cipher");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    let mut buf = bytes(16 * MIB, 6);
    group.throughput(Throughput::Bytes(buf.len() as u64));
    for (name, alg) in [
        ("aes-256-gcm", &aead::AES_256_GCM),
        ("chacha20-poly1305", &aead::CHACHA20_POLY1305),
    ] {
        let key = LessSafeKey::new(UnboundKey::new(alg, &[9; 32]).expect("key"));
        group.bench_function(BenchmarkId::new("ring", name), |b| {
            b.iter(|| seal_segments(&key, &mut buf, MIB))
        });
    }
    group.finish();
}

criterion_group!(benches, erasure, put, get, proofs, ciphers);
criterion_main!(benches);
