//! BLS and certificate benchmarks of sherd-consensus.
//!
//! `cargo bench -p sherd-consensus -- --warm-up-time 1 --measurement-time 3`
//!
//! Each wrapper benchmark of a single operation sits next to the same
//! operation done with the raw `bls12_381` crate (`…/raw`), so the wrapper's
//! overhead reads as a ratio. Keys are derived from fixed seeds.

use std::hint::black_box;
use std::sync::Arc;

use bls12_381::hash_to_curve::{ExpandMsgXmd, HashToCurve};
use bls12_381::{multi_miller_loop, G1Affine, G2Affine, G2Prepared, G2Projective, Gt};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sherd_consensus::bls::{
    AggregateSignature, PublicKey, SecretKey, Signature, UncheckedSignature, SIGNATURE_DST,
};
use sherd_consensus::codec::Wire;
use sherd_consensus::{
    BlockId, Certificate, ChainId, Message, SignedVote, SignerBitmap, ValidatorSet, Vote,
    VoteCollector,
};

const MESSAGE: &[u8] = b"sherd benchmark message: 32 byte";
const SIGNER_COUNTS: [usize; 3] = [4, 100, 1000];

fn secret_key(i: usize) -> SecretKey {
    let mut ikm = [0x5a; 32];
    ikm[..8].copy_from_slice(&(i as u64).to_be_bytes());
    SecretKey::key_gen(&ikm, b"bench").unwrap()
}

fn raw_verify(pk: &G1Affine, message: &[u8], sig: &G2Affine) -> bool {
    let hashed = <G2Projective as HashToCurve<ExpandMsgXmd<sha2::Sha256>>>::hash_to_curve(
        [message],
        SIGNATURE_DST,
    );
    let hashed = G2Prepared::from(G2Affine::from(hashed));
    let sig = G2Prepared::from(*sig);
    let neg_g1 = -G1Affine::generator();
    multi_miller_loop(&[(pk, &hashed), (&neg_g1, &sig)]).final_exponentiation() == Gt::identity()
}

fn single(c: &mut Criterion) {
    let sk = secret_key(0);
    let pk = sk.public_key();
    let sig = sk.sign(MESSAGE);
    let pop = sk.prove_possession();
    let raw_pk = G1Affine::from_compressed(&pk.to_bytes()).unwrap();
    let raw_sig = G2Affine::from_compressed(&sig.to_bytes()).unwrap();
    let raw_sk = {
        let mut le = sk.to_bytes();
        le.reverse();
        bls12_381::Scalar::from_bytes(&le).unwrap()
    };

    let mut group = c.benchmark_group("consensus::bls");
    group.bench_function("sign", |b| b.iter(|| sk.sign(black_box(MESSAGE))));
    group.bench_function("sign/raw", |b| {
        b.iter(|| {
            let h = <G2Projective as HashToCurve<ExpandMsgXmd<sha2::Sha256>>>::hash_to_curve(
                [black_box(MESSAGE)],
                SIGNATURE_DST,
            );
            G2Affine::from(h * raw_sk)
        })
    });
    group.bench_function("verify", |b| {
        b.iter(|| pk.verify(black_box(MESSAGE), &sig).unwrap())
    });
    group.bench_function("verify/raw", |b| {
        b.iter(|| assert!(raw_verify(&raw_pk, black_box(MESSAGE), &raw_sig)))
    });
    group.bench_function("pop_verify", |b| {
        b.iter(|| pk.verify_possession(black_box(&pop)).unwrap())
    });
    let pk_bytes = pk.to_bytes();
    let sig_bytes = sig.to_bytes();
    group.bench_function("decode_public_key", |b| {
        b.iter(|| PublicKey::from_bytes(black_box(&pk_bytes)).unwrap())
    });
    group.bench_function("decode_public_key/raw", |b| {
        b.iter(|| G1Affine::from_compressed(black_box(&pk_bytes)).unwrap())
    });
    group.bench_function("decode_signature", |b| {
        b.iter(|| Signature::from_bytes(black_box(&sig_bytes)).unwrap())
    });
    group.bench_function("decode_signature/raw", |b| {
        b.iter(|| G2Affine::from_compressed(black_box(&sig_bytes)).unwrap())
    });
    // Where the decoding time goes: square root (decompression) alone, and
    // the subgroup check alone.
    group.bench_function("decode_signature/raw-no-subgroup-check", |b| {
        b.iter(|| G2Affine::from_compressed_unchecked(black_box(&sig_bytes)).unwrap())
    });
    group.bench_function("subgroup_check_g2/raw", |b| {
        b.iter(|| bool::from(black_box(&raw_sig).is_torsion_free()))
    });
    // A vote's signature as the wire carries it: uncompressed, on-curve
    // check only (the subgroup check is left to the aggregate).
    let uncompressed = UncheckedSignature::from(sig).to_uncompressed();
    group.bench_function("decode_signature_uncompressed", |b| {
        b.iter(|| UncheckedSignature::from_uncompressed(black_box(&uncompressed)).unwrap())
    });
    group.bench_function("decode_signature_uncompressed/raw", |b| {
        b.iter(|| G2Affine::from_uncompressed_unchecked(black_box(&uncompressed)).unwrap())
    });
    group.finish();
}

struct Committee {
    chain: ChainId,
    keys: Vec<SecretKey>,
    set: Arc<ValidatorSet>,
    vote: Vote,
    votes: Vec<SignedVote>,
}

fn committee(n: usize) -> Committee {
    let chain = ChainId::new("sherd-bench").unwrap();
    let keys: Vec<_> = (0..n).map(secret_key).collect();
    let set = Arc::new(
        ValidatorSet::new(1, keys.iter().map(|k| (k.public_key(), 100)).collect()).unwrap(),
    );
    let vote = Vote::Finalize {
        view: 42,
        block_id: BlockId([7; 32]),
    };
    let votes = keys
        .iter()
        .zip(0u32..)
        .map(|(k, i)| SignedVote::sign(&chain, 1, i, vote, k))
        .collect();
    Committee {
        chain,
        keys,
        set,
        vote,
        votes,
    }
}

fn aggregates(c: &mut Criterion) {
    let committees: Vec<_> = SIGNER_COUNTS.iter().map(|&n| committee(n)).collect();

    let mut group = c.benchmark_group("consensus::bls");
    for committee in &committees {
        let n = committee.keys.len();
        let signatures: Vec<Signature> = committee
            .votes
            .iter()
            .map(|v| v.signature.subgroup_check().unwrap())
            .collect();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(
            BenchmarkId::new("aggregate", format!("n={n}")),
            &signatures,
            |b, sigs| b.iter(|| AggregateSignature::aggregate(sigs).unwrap()),
        );
    }
    group.finish();

    let mut group = c.benchmark_group("consensus::certificate");
    for committee in &committees {
        let n = committee.keys.len();
        // Everyone signed: the most public keys to add up.
        let mut signers = SignerBitmap::new(n);
        let mut signature = AggregateSignature::new();
        for vote in &committee.votes {
            signers.insert(vote.signer).unwrap();
            signature.add(&vote.signature.subgroup_check().unwrap());
        }
        let certificate = Certificate {
            epoch: 1,
            vote: committee.vote,
            signers,
            signature: signature.to_signature(),
        };
        certificate
            .verify(&committee.chain, &committee.set)
            .unwrap();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("verify", format!("n={n}")), |b| {
            b.iter(|| {
                certificate
                    .verify(&committee.chain, &committee.set)
                    .unwrap()
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("consensus::collector");
    for committee in &committees {
        let n = committee.keys.len();
        // The votes arrive as wire bytes (`Message::Vote`): decoding the
        // whole message (structure pass, on-curve check of the uncompressed
        // signature) is part of the per-vote cost.
        let wire: Vec<Vec<u8>> = committee
            .votes
            .iter()
            .map(|v| Message::Vote(*v).encode())
            .collect();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(
            BenchmarkId::new("decode+add+certify", format!("n={n}")),
            |b| {
                b.iter(|| {
                    let mut collector =
                        VoteCollector::new(&committee.chain, committee.set.clone(), committee.vote);
                    for bytes in &wire {
                        let Ok(Message::Vote(vote)) = Message::decode(bytes) else {
                            panic!("not a vote");
                        };
                        collector.add(&vote).unwrap();
                    }
                    collector.certify().certificate.unwrap()
                })
            },
        );
        // The same with the signatures already decoded: the collector alone.
        group.bench_function(BenchmarkId::new("add+certify", format!("n={n}")), |b| {
            b.iter(|| {
                let mut collector =
                    VoteCollector::new(&committee.chain, committee.set.clone(), committee.vote);
                for vote in &committee.votes {
                    collector.add(vote).unwrap();
                }
                collector.certify().certificate.unwrap()
            })
        });
        // One bad vote among n: the aggregate fails and bisection finds it.
        let mut votes = committee.votes.clone();
        if let Some(last) = votes.last_mut() {
            last.signature = committee.keys[0].sign(b"not the vote").into();
        }
        group.bench_function(
            BenchmarkId::new("add+certify/one-bad", format!("n={n}")),
            |b| {
                b.iter(|| {
                    let mut collector =
                        VoteCollector::new(&committee.chain, committee.set.clone(), committee.vote);
                    for vote in &votes {
                        collector.add(vote).unwrap();
                    }
                    let outcome = collector.certify();
                    assert_eq!(outcome.bad_signers.len(), 1);
                    outcome
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, single, aggregates);
criterion_main!(benches);
