//! BLS and certificate benchmarks of sherd-consensus.
//!
//! `cargo bench -p sherd-consensus --bench bls -- --warm-up-time 1 --measurement-time 3`
//!
//! `consensus::bls::backend/…/{reference,blst}`: the two BLS backends side
//! by side, each operation through the seam's functions (`bls/backend/`),
//! reference first, on the same inputs. The other groups use the crate's
//! types, so they measure the active backend (blst unless the feature
//! `reference-bls` is on). Each wrapper benchmark of a single operation
//! sits next to the same operation done with the raw `bls12_381` crate
//! (`…/raw`). Keys are derived from fixed seeds.

use std::hint::black_box;
use std::sync::Arc;

use bls12_381::hash_to_curve::{ExpandMsgXmd, HashToCurve};
use bls12_381::{multi_miller_loop, G1Affine, G2Affine, G2Prepared, G2Projective, Gt};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use sherd_consensus::bls::differential::{Backend, Blst, Reference};
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

/// Keys, signatures and aggregates as bytes, made once (with blst, the
/// faster) and decoded by each backend.
struct Encoded {
    public_keys: Vec<[u8; 48]>,
    signature: [u8; 96],
    /// The aggregate signature of the first n keys, for each n of
    /// `SIGNER_COUNTS`.
    aggregates: Vec<[u8; 96]>,
}

fn okm(i: usize) -> [u8; 48] {
    let mut okm = [0x5a; 48];
    okm[..8].copy_from_slice(&(i as u64).to_be_bytes());
    okm
}

fn encoded() -> Encoded {
    let largest = SIGNER_COUNTS.iter().copied().max().unwrap_or(0);
    let keys: Vec<_> = (0..largest)
        .map(|i| Blst::scalar_from_okm(&okm(i)))
        .collect();
    let public_keys = keys
        .iter()
        .map(|sk| Blst::encode_g1(&Blst::sk_to_pk(sk)))
        .collect();
    let signatures: Vec<_> = keys
        .iter()
        .map(|sk| Blst::sign(sk, MESSAGE, SIGNATURE_DST))
        .collect();
    let aggregates = SIGNER_COUNTS
        .iter()
        .map(|&n| {
            let mut sum = Blst::g2_sum_identity();
            for sig in &signatures[..n] {
                Blst::g2_sum_add(&mut sum, sig);
            }
            Blst::encode_g2(&Blst::g2_sum_to_point(&sum))
        })
        .collect();
    Encoded {
        public_keys,
        signature: Blst::encode_g2(&signatures[0]),
        aggregates,
    }
}

fn backend_sign<B: Backend>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let sk = B::scalar_from_okm(&okm(0));
    group.bench_function(format!("sign/{}", B::NAME), |b| {
        b.iter(|| B::sign(&sk, black_box(MESSAGE), SIGNATURE_DST))
    });
}

/// `Verify`: hash the message, then the pairing check.
fn backend_verify<B: Backend>(group: &mut BenchmarkGroup<'_, WallTime>, encoded: &Encoded) {
    let pk = B::decode_g1(&encoded.public_keys[0]).unwrap();
    let sig = B::decode_g2(&encoded.signature).unwrap();
    group.bench_function(format!("verify/{}", B::NAME), |b| {
        b.iter(|| {
            let hashed = B::prepare_hash(black_box(MESSAGE), SIGNATURE_DST);
            assert!(B::pairing_check(&pk, &hashed, &sig));
        })
    });
}

/// `FastAggregateVerify` of n decoded keys: sum the keys, hash the
/// message, one pairing check.
fn backend_fast_aggregate_verify<B: Backend>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    encoded: &Encoded,
) {
    let public_keys: Vec<_> = encoded
        .public_keys
        .iter()
        .map(|pk| B::decode_g1(pk).unwrap())
        .collect();
    for (&n, aggregate) in SIGNER_COUNTS.iter().zip(&encoded.aggregates) {
        let sig = B::decode_g2(aggregate).unwrap();
        let keys = &public_keys[..n];
        group.bench_function(
            BenchmarkId::new("fast_aggregate_verify", format!("n={n}/{}", B::NAME)),
            |b| {
                b.iter(|| {
                    let mut sum = B::g1_sum_identity();
                    for pk in keys {
                        B::g1_sum_add(&mut sum, pk);
                    }
                    let aggregate = B::g1_sum_to_point(&sum);
                    let hashed = B::prepare_hash(black_box(MESSAGE), SIGNATURE_DST);
                    assert!(B::pairing_check(&aggregate, &hashed, &sig));
                })
            },
        );
    }
}

/// A certificate's signature from the wire: compressed with the subgroup
/// check; a vote's: uncompressed, on the curve only; the subgroup check
/// alone; and a public key (KeyValidate's decoding).
fn backend_decode<B: Backend>(group: &mut BenchmarkGroup<'_, WallTime>, encoded: &Encoded) {
    let compressed = encoded.signature;
    let point = B::decode_g2(&compressed).unwrap();
    let uncompressed = B::encode_g2_uncompressed(&point);
    group.bench_function(format!("decode_g2/{}", B::NAME), |b| {
        b.iter(|| B::decode_g2(black_box(&compressed)).unwrap())
    });
    group.bench_function(format!("decode_g2_uncompressed/{}", B::NAME), |b| {
        b.iter(|| B::decode_g2_uncompressed_on_curve(black_box(&uncompressed)).unwrap())
    });
    group.bench_function(format!("g2_subgroup_check/{}", B::NAME), |b| {
        b.iter(|| assert!(B::g2_in_subgroup(black_box(&point))))
    });
    let public_key = encoded.public_keys[0];
    group.bench_function(format!("decode_g1/{}", B::NAME), |b| {
        b.iter(|| B::decode_g1(black_box(&public_key)).unwrap())
    });
}

fn backend_hash<B: Backend>(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.bench_function(format!("hash_to_g2/{}", B::NAME), |b| {
        b.iter(|| B::hash_to_g2(black_box(MESSAGE), SIGNATURE_DST))
    });
}

/// Both backends, one operation at a time, so that each pair is measured
/// close together.
fn backends(c: &mut Criterion) {
    let encoded = encoded();
    let mut group = c.benchmark_group("consensus::bls::backend");
    backend_sign::<Reference>(&mut group);
    backend_sign::<Blst>(&mut group);
    backend_verify::<Reference>(&mut group, &encoded);
    backend_verify::<Blst>(&mut group, &encoded);
    backend_fast_aggregate_verify::<Reference>(&mut group, &encoded);
    backend_fast_aggregate_verify::<Blst>(&mut group, &encoded);
    backend_decode::<Reference>(&mut group, &encoded);
    backend_decode::<Blst>(&mut group, &encoded);
    backend_hash::<Reference>(&mut group);
    backend_hash::<Blst>(&mut group);
    group.finish();
}

criterion_group!(benches, backends, single, aggregates);
criterion_main!(benches);
