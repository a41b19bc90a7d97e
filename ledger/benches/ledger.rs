//! Benchmarks of the ledger, each next to the raw library doing the same
//! work where there is one, so overheads read as ratios from one run.
//!
//! `cargo bench -p sherd-ledger` runs them all; names follow
//! `ledger::<what>/<variant>`.

use std::{collections::BTreeMap, hint::black_box, time::Duration};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use sherd_consensus::bls;
use sherd_ledger::{
    apply_block, apply_block_with,
    genesis::{GenesisAccount, GenesisValidator},
    tx::kind::Transfer,
    verify, verify_batch, Address, Amount, BlockContext, ChainId, ChainParams, Genesis, Hash,
    MemoryStore, ProofChecks, Transaction, TxBody, TxKind,
};

const SENDERS: u64 = 1_000;

fn key(i: u64) -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&i.to_le_bytes());
    seed[8] = 0x5e;
    SigningKey::from_bytes(&seed)
}

fn params() -> ChainParams {
    ChainParams::dev(ChainId::new("sherd-bench").expect("valid chain id"))
}

/// A genesis funding `accounts`, with one validator (the first account).
fn genesis(accounts: &[Address]) -> Genesis {
    let bls = bls::SecretKey::key_gen(&[7; 32], b"").expect("key");
    Genesis {
        genesis_time_ms: 0,
        params: params(),
        accounts: accounts
            .iter()
            .map(|&address| GenesisAccount {
                address,
                balance: Amount(1_000_000_000),
            })
            .collect(),
        validators: vec![GenesisValidator {
            operator: accounts[0],
            bls_pubkey: bls.public_key().to_bytes(),
            pop: bls.prove_possession().to_bytes(),
            self_stake: Amount(1_000_000_000_000),
            commission_bps: 0,
        }],
    }
}

/// The context of block 1 proposed by `proposer`.
fn first_block(proposer: Address) -> BlockContext {
    BlockContext {
        height: 1,
        epoch: 0,
        proposer,
        timestamp_ms: 1,
        beacon_seed: Hash([1; 32]),
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
    genesis(&senders).write(&mut store).expect("genesis");
    group.throughput(Throughput::Elements(n));
    group.bench_function(
        BenchmarkId::new("ledger", "transfers=10000,pre-verified"),
        |b| {
            b.iter(|| {
                let result =
                    apply_block(&store, first_block(senders[0]), &verified).expect("applies");
                assert_eq!(result.receipts.len(), n as usize);
                black_box(result.output)
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

/// A state in which `providers` providers each hold one fragment of every
/// one of `contracts` contracts (objects coded `providers - 1 + 1`, every
/// contract the same `object_size` object), in the open window of the
/// first challenged period; and for each provider a `SubmitProofs` answering
/// the challenge of its fragment of every contract (one transaction per
/// provider, nonce 2).
struct ProofBlock {
    store: MemoryStore,
    ctx: BlockContext,
    /// One `SubmitProofs` per provider, signatures checked.
    txs: Vec<sherd_ledger::VerifiedTx>,
    /// What the ledger checks for each proof, for the raw baseline: the
    /// fragment root, its chunk count, the challenge's inputs and the
    /// proof bytes.
    raw: Vec<RawProof>,
}

struct RawProof {
    root: [u8; 32],
    n_chunks: u64,
    seed: [u8; 32],
    contract: [u8; 32],
    fragment: u32,
    period: u64,
    proof: Vec<u8>,
}

impl ProofBlock {
    fn new(providers: usize, contracts: u64, object_size: usize, submitting: usize) -> Self {
        use ed25519_dalek::Signer;
        use sherd_fragments::{file, Params};
        use sherd_ledger::{
            state::market::{acceptance_message, contract_id},
            tx::kind::{
                AdvertiseCapacity, CreateContract, FragmentDeal, Multiaddr, ProofAnswer,
                RegisterEndpoint, Role, SubmitProofs,
            },
            StateStore, StateView,
        };

        let k = providers - 1;
        let data: Vec<u8> = (0..object_size as u32).map(|i| (i % 251) as u8).collect();
        let mut files = vec![Vec::new(); providers];
        let (object, _) = sherd_fragments::encode(
            &data[..],
            data.len() as u64,
            Params::with_shard_size(k, 1, 16 * 1024).expect("params"),
            &mut files,
            &mut |_| {},
        )
        .expect("encodes");
        let fragment_size = file::read_footer(&files[0]).expect("footer").fragment_size;

        let client = key(1_000_000);
        let provider_keys: Vec<SigningKey> =
            (1_000_001..1_000_001 + providers as u64).map(key).collect();
        let mut accounts: Vec<Address> = vec![Address::from(&key(0).verifying_key())];
        accounts.push(Address::from(&client.verifying_key()));
        accounts.extend(
            provider_keys
                .iter()
                .map(|k| Address::from(&k.verifying_key())),
        );
        let mut genesis = genesis(&accounts);
        for a in &mut genesis.accounts {
            a.balance = Amount(1_000_000_000_000_000);
        }
        let params = genesis.params.clone();
        let mut store = MemoryStore::new();
        genesis.write(&mut store).expect("genesis");
        let proposer = accounts[0];
        let run = |store: &mut MemoryStore, height: &mut u64, txs: Vec<Transaction>| {
            *height += 1;
            let height = *height;
            let verified = verify_batch(txs).expect("valid");
            let ctx = BlockContext {
                height,
                epoch: params.epoch_of(height),
                proposer,
                timestamp_ms: height,
                beacon_seed: Hash::digest(&height.to_le_bytes()),
            };
            let result = apply_block(&*store, ctx, &verified).expect("applies");
            assert!(result.rejected.is_empty(), "{:?}", result.rejected);
            store.commit(result.output.changes).expect("commits");
            height
        };
        let sign = |k: &SigningKey, nonce: u64, kind: TxKind| {
            TxBody {
                chain_id: params.chain_id.clone(),
                sender: Address::from(&k.verifying_key()),
                nonce,
                fee: Amount(1_000),
                kind,
            }
            .sign(k)
            .expect("signable")
        };
        let mut setup = vec![];
        for p in &provider_keys {
            setup.push(sign(
                p,
                0,
                TxKind::RegisterEndpoint(RegisterEndpoint {
                    role: Role::Provider,
                    peer_id: vec![1; 38],
                    multiaddrs: vec![Multiaddr(vec![4, 127, 0, 0, 1])],
                }),
            ));
            setup.push(sign(
                p,
                1,
                TxKind::AdvertiseCapacity(AdvertiseCapacity {
                    capacity_bytes: 1 << 50,
                    price_per_gib_epoch: Amount(1_000),
                    collateral_per_gib: Amount(1_000),
                    min_duration_epochs: 1,
                    max_duration_epochs: 100,
                }),
            ));
        }
        let mut height = 0;
        run(&mut store, &mut height, setup);
        let client_address = Address::from(&client.verifying_key());
        let mut creates = vec![];
        let mut ids = vec![];
        for nonce in 0..contracts {
            let id = contract_id(&client_address, nonce);
            let mut contract = CreateContract {
                object_root: Hash(object.root),
                k: k as u16,
                m: 1,
                fragment_size,
                duration_epochs: 10,
                price_per_gib_epoch: Amount(1_000),
                fragments: vec![],
            };
            contract.fragments = provider_keys
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let root = Hash(object.fragment_roots[i]);
                    let message = acceptance_message(
                        &params.chain_id,
                        &id,
                        &client_address,
                        &contract,
                        i as u32,
                        &root,
                    )
                    .expect("encodable");
                    FragmentDeal {
                        root,
                        provider: Address::from(&p.verifying_key()),
                        acceptance: p.sign(&message),
                    }
                })
                .collect();
            creates.push(sign(&client, nonce, TxKind::CreateContract(contract)));
            ids.push(id);
        }
        let mut created = 0;
        for block in creates.chunks(1_000) {
            created = run(&mut store, &mut height, block.to_vec());
        }
        // Into the first challenged period, after its seed is known.
        let period = params.period_of(created) + 1;
        while height < period * params.proof_period {
            run(&mut store, &mut height, vec![]);
        }
        let seed = StateView::new(&store)
            .period_seed(period)
            .expect("readable")
            .expect("seeded");
        let n_chunks = fragment_size / 1024;
        let mut raw = Vec::new();
        let txs = provider_keys
            .iter()
            .take(submitting)
            .enumerate()
            .map(|(index, p)| {
                let answers: Vec<ProofAnswer> = ids
                    .iter()
                    .map(|id| {
                        let chunk = sherd_fragments::challenge_index(
                            &seed.0,
                            &id.0,
                            index as u32,
                            period,
                            n_chunks,
                        )
                        .expect("chunks");
                        let (_, proof) = file::prove(&files[index], chunk).expect("proves");
                        raw.push(RawProof {
                            root: object.fragment_roots[index],
                            n_chunks,
                            seed: seed.0,
                            contract: id.0,
                            fragment: index as u32,
                            period,
                            proof: proof.to_bytes(),
                        });
                        ProofAnswer {
                            contract_id: *id,
                            fragment_index: index as u32,
                            period,
                            proof: proof.to_bytes(),
                        }
                    })
                    .collect();
                sign(p, 2, TxKind::SubmitProofs(SubmitProofs { proofs: answers }))
            })
            .collect();
        let txs = verify_batch(txs).expect("valid");
        let ctx = BlockContext {
            height: height + 1,
            epoch: params.epoch_of(height + 1),
            proposer,
            timestamp_ms: height + 1,
            beacon_seed: Hash([9; 32]),
        };
        Self {
            store,
            ctx,
            txs,
            raw,
        }
    }

    /// Applies the block (every transaction must succeed with every proof
    /// accepted), `SubmitProofs` checked the way `checks` says.
    fn apply(&self, store: &MemoryStore, checks: ProofChecks) -> sherd_ledger::BlockOutput {
        let result = apply_block_with(store, self.ctx, &self.txs, checks).expect("applies");
        for receipt in &result.receipts {
            assert_eq!(
                receipt.outcome,
                sherd_ledger::Outcome::Success,
                "{:?}",
                receipt.outcome
            );
            assert!(receipt.proofs.iter().all(|v| v.is_accepted()));
        }
        assert!(result.rejected.is_empty(), "{:?}", result.rejected);
        result.output
    }

    /// The raw library's share of the work: name each challenged chunk,
    /// decode each proof and check it against its fragment root.
    fn check_raw(&self) {
        self.raw.iter().for_each(RawProof::check);
    }

    /// [`check_raw`](Self::check_raw) on every core (rayon): the floor of
    /// the ledger's parallel checks.
    fn check_raw_parallel(&self) {
        use rayon::prelude::*;
        self.raw.par_iter().for_each(RawProof::check);
    }
}

impl RawProof {
    fn check(&self) {
        let chunk = sherd_fragments::challenge_index(
            &self.seed,
            &self.contract,
            self.fragment,
            self.period,
            self.n_chunks,
        )
        .expect("chunks");
        let proof = sherd_fragments::Proof::from_bytes(&self.proof).expect("decodes");
        sherd_fragments::check(&self.root, self.n_chunks, chunk, &proof).expect("valid");
    }
}

/// `SubmitProofs` through `apply_block` (the `BlockExecutor`), proofs
/// verified and paid, next to the raw checks of the same proofs:
///
/// * `proofs=1000`: one provider answers the challenge of its fragment in
///   each of 1,000 contracts, in one transaction (objects coded 2 + 1,
///   48 KiB fragments);
/// * `proofs=10000,txs=10`: a block of ten providers' transactions of
///   1,000 proofs each, one fragment of each of 1,000 contracts per
///   provider (objects coded 9 + 1, 1 MiB fragments: 1,024 chunks).
///
/// `ledger` is the default ([`ProofChecks::Parallel`]: proofs checked on
/// every core, contracts kept decoded across the block), `ledger-sequential`
/// the reference it is tested against (each entry read, checked and written
/// in turn on one thread, as before the parallel checks). `raw-check` is
/// the raw library on one core, `raw-check-parallel` on every core.
///
/// `ledger/proofs=10000,txs=10,ended=N,live=M`: the same block in a state
/// that also holds `N` ended and `M` live contracts ([`add_contracts`]),
/// to show that their number does not matter to it (the state root's
/// paths grow with `log2` of the state's size).
fn proofs(c: &mut Criterion) {
    let mut group = c.benchmark_group("ledger::submit_proofs");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    if criterion_filter_matches("ledger::submit_proofs/ledger/proofs=1000")
        || criterion_filter_matches("ledger::submit_proofs/raw-check/proofs=1000")
    {
        let one_tx = ProofBlock::new(3, 1_000, 40 * 1024, 1);
        group.throughput(Throughput::Elements(1_000));
        for (name, checks) in [
            ("ledger", ProofChecks::Parallel),
            ("ledger-sequential", ProofChecks::Sequential),
        ] {
            group.bench_function(BenchmarkId::new(name, "proofs=1000"), |b| {
                b.iter(|| black_box(one_tx.apply(&one_tx.store, checks)))
            });
        }
        group.bench_function(BenchmarkId::new("raw-check", "proofs=1000"), |b| {
            b.iter(|| one_tx.check_raw())
        });
    }

    let ten = ProofBlock::new(10, 1_000, 9 << 20, 10);
    assert_eq!(ten.raw.len(), 10_000);
    group.throughput(Throughput::Elements(10_000));
    for (name, checks) in [
        ("ledger", ProofChecks::Parallel),
        ("ledger-sequential", ProofChecks::Sequential),
    ] {
        group.bench_function(BenchmarkId::new(name, "proofs=10000,txs=10"), |b| {
            b.iter(|| black_box(ten.apply(&ten.store, checks)))
        });
    }
    group.bench_function(BenchmarkId::new("raw-check", "proofs=10000"), |b| {
        b.iter(|| ten.check_raw())
    });
    group.bench_function(
        BenchmarkId::new("raw-check-parallel", "proofs=10000"),
        |b| b.iter(|| ten.check_raw_parallel()),
    );
    for n in bench_sizes() {
        for (ended, live) in [(n, 0), (0, n)] {
            let id = format!("proofs=10000,txs=10,ended={ended},live={live}");
            if !criterion_filter_matches(&format!("ledger::submit_proofs/ledger/{id}")) {
                continue;
            }
            let mut store = ten.store.clone();
            add_contracts(&mut store, ended, live, 0);
            group.bench_function(BenchmarkId::new("ledger", id), |b| {
                b.iter(|| black_box(ten.apply(&store, ProofChecks::Parallel)))
            });
        }
    }
    group.finish();
}

/// The state sizes of the scaling benchmarks: `SHERD_BENCH_SIZES` (comma
/// separated), by default 10,000, 100,000 and 1,000,000.
fn bench_sizes() -> Vec<u64> {
    std::env::var("SHERD_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').map(|n| n.parse().expect("a size")).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000])
}

/// The bench chain's proof period whose window the measured block closes.
const PERIOD: u64 = 2;

/// Synthetic contracts written straight into a state (as a chain that made
/// them would hold them), with the state commitment over them: `ended`
/// settled contracts and `live` ones challenged in [`PERIOD`], every
/// fragment of which is proven except one fragment in each of the first
/// `missed` live contracts. Contracts are coded 2 + 1, 48 KiB fragments,
/// with three providers.
fn add_contracts(store: &mut MemoryStore, ended: u64, live: u64, missed: u64) {
    use sherd_ledger::{
        commitment,
        state::{
            records::{self, Empty, Record},
            Contract, ContractFragment, FragmentStatus, ProviderAd,
        },
        ChangeSet, StateStore,
    };
    let start = std::time::Instant::now();
    let p = params();
    let providers: Vec<Address> = (0..3u8).map(|i| Address([0xa0 + i; 32])).collect();
    let mut changes = ChangeSet::new();
    for provider in &providers {
        let ad = ProviderAd {
            capacity_bytes: 1 << 50,
            used_bytes: 1 << 40,
            price_per_gib_epoch: Amount(1_000),
            collateral_per_gib: Amount(1_000),
            min_duration_epochs: 1,
            max_duration_epochs: 100,
            updated_at: 1,
        };
        changes.insert(
            records::provider_key(provider),
            Some(ad.to_bytes().expect("encodes")),
        );
    }
    let last_period = 100;
    for i in 0..ended + live {
        let is_live = i >= ended;
        let id = Hash::digest(&i.to_le_bytes());
        let fragments = providers
            .iter()
            .zip(0u64..)
            .map(|(provider, f)| ContractFragment {
                root: Hash::digest(&[i.to_le_bytes(), f.to_le_bytes()].concat()),
                provider: *provider,
                status: if is_live {
                    FragmentStatus::Active
                } else {
                    FragmentStatus::Ended
                },
                escrow_left: Amount(if is_live { 1_000_000 } else { 0 }),
                collateral_left: Amount(if is_live { 1_000_000 } else { 0 }),
                repair_reward: Amount(0),
                misses: 0,
                accepted: 1,
                proven: if is_live && !(i - ended < missed && f == 0) {
                    PERIOD + 1
                } else {
                    PERIOD
                },
                since: 1,
            })
            .collect();
        let contract = Contract {
            id,
            client: Address([0xc1; 32]),
            object_root: Hash::digest(b"object"),
            k: 2,
            m: 1,
            fragment_size: 48 * 1024,
            price_per_gib_epoch: Amount(1_000),
            start_height: 1,
            first_period: 1,
            last_period: if is_live { last_period } else { 1 },
            fragments,
        };
        changes.insert(
            records::contract_key(&id),
            Some(contract.to_bytes().expect("encodes")),
        );
        if is_live {
            let settles = last_period * p.proof_period + p.proof_window - 1;
            changes.insert(
                records::settlement_key(settles, &id),
                Some(Empty.to_bytes().expect("encodes")),
            );
            changes.insert(
                records::live_key(&id),
                Some(Empty.to_bytes().expect("encodes")),
            );
        }
    }
    let (_, nodes) = commitment::update(&*store, &changes).expect("commits");
    changes.extend(nodes);
    store.commit(changes).expect("commits");
    eprintln!(
        "ledger: {ended} ended and {live} live contracts written in {:.1?}",
        start.elapsed()
    );
}

/// A state whose next block (returned) closes the proof window of
/// [`PERIOD`], holding [`add_contracts`]`(ended, live, missed)`.
fn period_end(ended: u64, live: u64, missed: u64) -> (MemoryStore, BlockContext) {
    use sherd_ledger::state::{
        records::{self, Record},
        ChainState,
    };
    use sherd_ledger::StateStore;
    let p = params();
    let validator = Address::from(&key(0).verifying_key());
    let mut store = MemoryStore::new();
    genesis(&[validator]).write(&mut store).expect("genesis");
    let height = PERIOD * p.proof_period + p.proof_window - 1;
    // The chain position just before, as if the blocks before had run.
    let chain = ChainState {
        height: height - 1,
        epoch: p.epoch_of(height),
        timestamp_ms: height - 1,
    };
    store
        .put(records::CHAIN_KEY, &chain.to_bytes().expect("encodes"))
        .expect("puts");
    add_contracts(&mut store, ended, live, missed);
    let ctx = BlockContext {
        height,
        epoch: p.epoch_of(height),
        proposer: validator,
        timestamp_ms: height,
        beacon_seed: Hash([3; 32]),
    };
    (store, ctx)
}

/// `finish()` of the block that closes a proof period's window (the
/// period's misses are found and slashed, then the state root), with no
/// transactions, in states of many ended contracts and of many live ones.
/// Every state has the same 100 misses to slash.
///
/// * `ended=N,live=1000`: `N` settled contracts, 1,000 live ones;
/// * `ended=0,live=N`: `N` live contracts, all proven but for the misses.
///
/// Next to it, `raw-decode/live=N`: decoding `N` contract records from a
/// `BTreeMap`, the floor of visiting each live contract once.
fn finish(c: &mut Criterion) {
    use sherd_ledger::{state::Contract, BlockExecutor};
    let mut group = c.benchmark_group("ledger::finish");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let missed = 100;
    for n in bench_sizes() {
        for (ended, live) in [(n, 1_000), (0, n)] {
            let id = format!("ended={ended},live={live}");
            let raw_id = format!("live={n}");
            let measure = criterion_filter_matches(&format!("ledger::finish/period-end/{id}"));
            let raw = ended == 0
                && criterion_filter_matches(&format!("ledger::finish/raw-decode/{raw_id}"));
            if !measure && !raw {
                continue;
            }
            let (store, ctx) = period_end(ended, live, missed);
            if measure {
                group.bench_function(BenchmarkId::new("period-end", id), |b| {
                    b.iter(|| {
                        let executor = BlockExecutor::begin(&store, ctx).expect("begins");
                        black_box(executor.finish().expect("finishes"))
                    })
                });
            }
            if raw {
                use sherd_ledger::state::records::Record;
                let contracts: BTreeMap<&[u8], &[u8]> =
                    store.iter().filter(|(k, _)| k[0] == 0x07).collect();
                group.bench_function(BenchmarkId::new("raw-decode", raw_id), |b| {
                    b.iter(|| {
                        for bytes in contracts.values() {
                            black_box(Contract::from_bytes(bytes).expect("decodes"));
                        }
                    })
                });
            }
        }
    }
    group.finish();
}

/// Whether criterion's command-line filter (the first free argument) can
/// select `name`: lets a filtered run skip building states it will not
/// measure. A plain substring test, as criterion's default.
fn criterion_filter_matches(name: &str) -> bool {
    const WITH_VALUE: [&str; 8] = [
        "--warm-up-time",
        "--measurement-time",
        "--sample-size",
        "--profile-time",
        "--save-baseline",
        "--baseline",
        "--output-format",
        "--color",
    ];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if WITH_VALUE.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            let plain = !arg.contains(['^', '$', '*', '+', '?', '(', '[', '|', '\\']);
            return !plain || name.contains(&arg);
        }
    }
    true
}

criterion_group!(benches, apply, signatures, proofs, finish);
criterion_main!(benches);
