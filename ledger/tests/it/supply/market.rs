//! The storage market in the supply property: random endpoints,
//! advertisements, contracts signed by their providers, batches of real
//! proofs (from fragments encoded with `sherd_fragments`) mixed with wrong,
//! stale, duplicate and foreign ones, and repairs of lost fragments. Kinds
//! are built from the chain's state when their block is built, so proofs
//! answer the challenges of the period they land in.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
};

use ed25519_dalek::Signer;
use proptest::{prelude::*, sample::select};
use sherd_fragments::{file, ObjectKey, Params};
use sherd_ledger::{
    state::{
        market::{acceptance_message, contract_id, repair_message, RepairedFragment},
        FragmentStatus,
    },
    tx::kind::{
        AdvertiseCapacity, CreateContract, EndContract, ExtendContract, FragmentDeal, Multiaddr,
        ProofAnswer, RegisterEndpoint, RepairFragment, Role, SubmitProofs,
    },
    Amount, ChainId, Hash, TxKind,
};

use super::{Action as AnyAction, Op, Run};
use crate::{addr, genesis_with, key, params, TestChain, CHAIN, MIN_FEE};

/// Keys that mostly create contracts.
const CLIENTS: [u8; 2] = [0, 1];
/// Keys that mostly store; the last is short of collateral.
const PROVIDERS: [u8; 4] = [2, 3, 4, 5];
/// Every key that sends.
const SENDERS: [u8; 6] = [0, 1, 2, 3, 4, 5];
const PRICE: u64 = 1_000_000_000;
const COLLATERAL: u64 = 4_000_000_000;
/// Object shapes: (k, m, bytes), with 16 KiB shards: fragments of one or
/// several stripes.
const SHAPES: [(usize, usize, usize); 4] = [
    (2, 1, 3_000),
    (2, 2, 20_000),
    (3, 1, 40_000),
    (2, 1, 70_000),
];
/// How many contents each shape comes in.
const CONTENTS: u8 = 3;

/// A market action; its sender is the op's.
#[derive(Debug, Clone)]
pub enum Action {
    /// `RegisterEndpoint` as a provider (`valid: false`: no address).
    Register { valid: bool },
    /// `AdvertiseCapacity`.
    Advertise {
        capacity: u64,
        price: u64,
        collateral: u64,
        min_duration: u64,
        max_duration: u64,
    },
    /// `CreateContract` for object `(shape, content)` with providers
    /// `PROVIDERS[offset..]` (wrapping); `duplicate` names one provider
    /// twice, `forged` has fragment `forged`'s acceptance signed by the
    /// client instead of its provider.
    Contract {
        shape: usize,
        content: u8,
        offset: usize,
        duplicate: bool,
        duration: u64,
        price: u64,
        forged: Option<u32>,
    },
    /// `SubmitProofs` of the sender's challenged fragments, leaving out
    /// those whose bit (index mod 8) is set in `skip`, with bad entries
    /// inserted at positions.
    Prove { skip: u8, bad: Vec<(Bad, u8)> },
    /// `EndContract` of one of the sender's contracts (or of any contract
    /// if it has none: refused).
    End { pick: u8 },
    /// `ExtendContract` of one of the sender's contracts by `epochs` (0 is
    /// refused), or of any contract if it has none (refused).
    Extend { pick: u8, epochs: u64 },
    /// `RepairFragment`, by the sender, of any contract's lost fragment (or
    /// of any fragment if none is lost) to `PROVIDERS[new_provider]`.
    Repair {
        pick: u8,
        new_provider: usize,
        forged: bool,
    },
}

/// A bad entry in a `SubmitProofs` batch.
#[derive(Debug, Clone, Copy)]
pub enum Bad {
    /// A real proof of the chunk after the challenged one.
    WrongChunk,
    /// A real proof of the previous period's challenge.
    Stale,
    /// A second copy of the batch's first good entry.
    Duplicate,
    /// The first good entry with one byte flipped.
    Corrupt,
    /// A real proof of a fragment another provider stores.
    NotMine,
    /// A proof for a contract that does not exist.
    NoContract,
}

/// An encoded object: its fragment files and roots.
#[derive(Debug)]
struct Object {
    root: Hash,
    k: u16,
    m: u16,
    fragment_size: u64,
    roots: Vec<Hash>,
}

/// Every object encoded so far, and every fragment file by its root. Each
/// `(shape, content)` is encoded once per test process, under a fixed key,
/// so the same op always builds the same transaction.
#[derive(Default)]
struct Pool {
    objects: HashMap<(usize, u8), Arc<Object>>,
    files: HashMap<Hash, Arc<Vec<u8>>>,
}

fn pool() -> &'static Mutex<Pool> {
    static POOL: OnceLock<Mutex<Pool>> = OnceLock::new();
    POOL.get_or_init(Mutex::default)
}

fn object(shape: usize, content: u8) -> Arc<Object> {
    let mut pool = pool().lock().unwrap();
    if let Some(object) = pool.objects.get(&(shape, content)) {
        return object.clone();
    }
    let (k, m, size) = SHAPES[shape];
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ (u64::from(content) << 8 | shape as u64);
    let data: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let params = Params::with_shard_size(k, m, 16 * 1024).unwrap();
    let mut outputs = vec![Vec::new(); k + m];
    let encoded = sherd_fragments::encode_with_key(
        &data[..],
        size as u64,
        params,
        &ObjectKey::from_bytes([content; 32]),
        &mut outputs,
        &mut |_| {},
    )
    .unwrap();
    let footer = file::read_footer(&outputs[0]).unwrap();
    let object = Arc::new(Object {
        root: Hash(encoded.root),
        k: k as u16,
        m: m as u16,
        fragment_size: footer.fragment_size,
        roots: encoded.fragment_roots.iter().map(|r| Hash(*r)).collect(),
    });
    for (root, file) in object.roots.iter().zip(outputs) {
        pool.files.insert(*root, Arc::new(file));
    }
    pool.objects.insert((shape, content), object.clone());
    object
}

/// The fragment file whose root is `root` (encoded by [`object`]).
fn fragment_file(root: &Hash) -> Arc<Vec<u8>> {
    pool().lock().unwrap().files[root].clone()
}

/// Genesis balances: rich clients, providers with collateral to lock
/// (the last one little).
pub const FUNDED: [(u8, u64); 6] = [
    (0, 1_000_000_000),
    (1, 1_000_000_000),
    (2, 20_000_000),
    (3, 20_000_000),
    (4, 20_000_000),
    (5, 500_000),
];

fn advertise(capacity: u64) -> Action {
    Action::Advertise {
        capacity,
        price: PRICE,
        collateral: COLLATERAL,
        min_duration: 1,
        max_duration: 3,
    }
}

/// Every provider registers and advertises 1 MiB for 1–3 epochs.
pub fn prelude() -> Vec<Op> {
    PROVIDERS
        .iter()
        .flat_map(|&p| {
            [
                op(p, Action::Register { valid: true }),
                op(p, advertise(1 << 20)),
            ]
        })
        .collect()
}

/// A well-formed op from `from`.
pub fn op(from: u8, action: Action) -> Op {
    Op {
        from,
        action: AnyAction::Market(action),
        fee: MIN_FEE,
        nonce_offset: 0,
        wrong_chain: false,
    }
}

fn provider() -> impl Strategy<Value = u8> {
    prop_oneof![9 => select(&PROVIDERS[..]), 1 => select(&CLIENTS[..])]
}

fn client() -> impl Strategy<Value = u8> {
    prop_oneof![9 => select(&CLIENTS[..]), 1 => select(&PROVIDERS[..])]
}

fn bad() -> impl Strategy<Value = Bad> {
    select(
        &[
            Bad::WrongChunk,
            Bad::Stale,
            Bad::Duplicate,
            Bad::Corrupt,
            Bad::NotMine,
            Bad::NoContract,
        ][..],
    )
}

/// A market op, or now and then one of the staking property's.
pub fn market_op() -> impl Strategy<Value = Op> {
    let register = (provider(), prop::bool::weighted(0.9))
        .prop_map(|(from, valid)| (from, Action::Register { valid }));
    let advertise = (
        provider(),
        select(&[0u64, 32 << 10, 1 << 20, 1 << 30][..]),
        select(&[PRICE / 2, PRICE, 2 * PRICE][..]),
        select(&[0, COLLATERAL, 3 * COLLATERAL][..]),
        0..3u64,
        1..4u64,
    )
        .prop_map(|(from, capacity, price, collateral, min, max)| {
            (
                from,
                Action::Advertise {
                    capacity,
                    price,
                    collateral,
                    min_duration: min,
                    max_duration: max,
                },
            )
        });
    let contract = (
        client(),
        0..SHAPES.len(),
        0..CONTENTS,
        0..PROVIDERS.len(),
        prop::bool::weighted(0.05),
        1..=3u64,
        select(&[PRICE, PRICE, 2 * PRICE, PRICE / 2][..]),
        prop::option::weighted(0.05, 0..4u32),
    )
        .prop_map(
            |(from, shape, content, offset, duplicate, duration, price, forged)| {
                (
                    from,
                    Action::Contract {
                        shape,
                        content,
                        offset,
                        duplicate,
                        duration,
                        price,
                        forged,
                    },
                )
            },
        );
    let prove = (
        provider(),
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        prop::collection::vec((bad(), any::<u8>()), 0..3),
    )
        .prop_map(|(from, skip, bad)| (from, Action::Prove { skip, bad }));
    let repair = (
        client(),
        any::<u8>(),
        0..PROVIDERS.len(),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(from, pick, new_provider, forged)| {
            (
                from,
                Action::Repair {
                    pick,
                    new_provider,
                    forged,
                },
            )
        });
    let end = (client(), any::<u8>()).prop_map(|(from, pick)| (from, Action::End { pick }));
    let extend = (
        client(),
        any::<u8>(),
        prop_oneof![8 => 1u64..3, 1 => Just(0u64)],
    )
        .prop_map(|(from, pick, epochs)| (from, Action::Extend { pick, epochs }));
    let market = prop_oneof![
        1 => register,
        2 => advertise,
        4 => contract,
        8 => prove,
        2 => repair,
        1 => end,
        2 => extend,
    ]
    .prop_map(|(from, action)| (from, AnyAction::Market(action)));
    let other = (select(&SENDERS[..]), super::action());
    (
        prop_oneof![6 => market, 1 => other],
        prop_oneof![20 => Just(MIN_FEE), 1 => Just(MIN_FEE - 1)],
        prop_oneof![20 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)],
        prop::bool::weighted(0.02),
    )
        .prop_map(|((from, action), fee, nonce_offset, wrong_chain)| Op {
            from,
            action,
            fee,
            nonce_offset,
            wrong_chain,
        })
}

/// The kind of a market `action` sent by `from` as its transaction `nonce`.
pub fn kind(chain: &TestChain, from: u8, nonce: u64, action: &Action) -> TxKind {
    match action {
        Action::Register { valid } => TxKind::RegisterEndpoint(RegisterEndpoint {
            role: Role::Provider,
            peer_id: vec![from; 38],
            multiaddrs: if *valid {
                vec![Multiaddr(vec![4, 127, 0, 0, 1, 6, 0x1f, 0x90])]
            } else {
                vec![]
            },
        }),
        Action::Advertise {
            capacity,
            price,
            collateral,
            min_duration,
            max_duration,
        } => TxKind::AdvertiseCapacity(AdvertiseCapacity {
            capacity_bytes: *capacity,
            price_per_gib_epoch: Amount(*price),
            collateral_per_gib: Amount(*collateral),
            min_duration_epochs: *min_duration,
            max_duration_epochs: *max_duration,
        }),
        Action::Contract {
            shape,
            content,
            offset,
            duplicate,
            duration,
            price,
            forged,
        } => {
            let object = object(*shape, *content);
            let mut c = CreateContract {
                object_root: object.root,
                k: object.k,
                m: object.m,
                fragment_size: object.fragment_size,
                duration_epochs: *duration,
                price_per_gib_epoch: Amount(*price),
                fragments: vec![],
            };
            let client = addr(from);
            let id = contract_id(&client, nonce);
            let chain_id = ChainId::new(CHAIN).unwrap();
            let mut providers: Vec<u8> = (0..object.roots.len())
                .map(|i| PROVIDERS[(offset + i) % PROVIDERS.len()])
                .collect();
            if *duplicate {
                providers[1] = providers[0];
            }
            c.fragments = providers
                .iter()
                .zip(&object.roots)
                .zip(0u32..)
                .map(|((&p, root), i)| {
                    let message = acceptance_message(&chain_id, &id, &client, &c, i, root).unwrap();
                    let signer = if *forged == Some(i) { from } else { p };
                    FragmentDeal {
                        root: *root,
                        provider: addr(p),
                        acceptance: key(signer).sign(&message),
                    }
                })
                .collect();
            TxKind::CreateContract(c)
        }
        Action::Prove { skip, bad } => TxKind::SubmitProofs(SubmitProofs {
            proofs: proofs(chain, from, *skip, bad),
        }),
        Action::End { pick } => TxKind::EndContract(EndContract {
            contract_id: pick_contract(chain, from, *pick),
        }),
        Action::Extend { pick, epochs } => TxKind::ExtendContract(ExtendContract {
            contract_id: pick_contract(chain, from, *pick),
            epochs: *epochs,
        }),
        Action::Repair {
            pick,
            new_provider,
            forged,
        } => {
            let repairer = addr(from);
            let contracts = chain.view().contracts().unwrap();
            let lost: Vec<(usize, u32)> = contracts
                .iter()
                .enumerate()
                .flat_map(|(ci, c)| {
                    c.fragments
                        .iter()
                        .zip(0u32..)
                        .filter(|(f, _)| f.status == FragmentStatus::Lost)
                        .map(move |(_, i)| (ci, i))
                })
                .collect();
            let target = if lost.is_empty() {
                (!contracts.is_empty()).then(|| (usize::from(*pick) % contracts.len(), 0))
            } else {
                Some(lost[usize::from(*pick) % lost.len()])
            };
            let new = PROVIDERS[*new_provider];
            let Some((ci, index)) = target else {
                return TxKind::RepairFragment(RepairFragment {
                    contract_id: Hash([*pick; 32]),
                    fragment_index: 0,
                    new_provider: addr(new),
                    acceptance: key(new).sign(b"no contract"),
                });
            };
            let contract = &contracts[ci];
            let Some(repaired) = RepairedFragment::of(contract, index) else {
                return TxKind::RepairFragment(RepairFragment {
                    contract_id: contract.id,
                    fragment_index: index,
                    new_provider: addr(new),
                    acceptance: key(new).sign(b"no fragment"),
                });
            };
            let message =
                repair_message(&ChainId::new(CHAIN).unwrap(), &repaired, &repairer).unwrap();
            let signer = if *forged { from } else { new };
            TxKind::RepairFragment(RepairFragment {
                contract_id: contract.id,
                fragment_index: index,
                new_provider: addr(new),
                acceptance: key(signer).sign(&message),
            })
        }
    }
}

/// One of `from`'s contracts (ended ones too), or any contract if it has
/// none, or a made-up id if there is none at all.
fn pick_contract(chain: &TestChain, from: u8, pick: u8) -> Hash {
    let contracts = chain.view().contracts().unwrap();
    let own: Vec<&sherd_ledger::state::Contract> = contracts
        .iter()
        .filter(|c| c.client == addr(from))
        .collect();
    let pool: Vec<&sherd_ledger::state::Contract> = if own.is_empty() {
        contracts.iter().collect()
    } else {
        own
    };
    if pool.is_empty() {
        return Hash([pick; 32]);
    }
    pool[usize::from(pick) % pool.len()].id
}

/// A fragment a proof can be about.
#[derive(Debug, Clone, Copy)]
struct Target {
    contract: Hash,
    index: u32,
    root: Hash,
    fragment_size: u64,
}

/// A real proof for `target`'s challenge of `period` with `seed`, of the
/// challenged chunk plus `shift` (mod the fragment's chunks).
fn proof(target: &Target, period: u64, seed: &Hash, shift: u64) -> ProofAnswer {
    let n_chunks = target.fragment_size / 1024;
    let chunk = sherd_fragments::challenge_index(
        &seed.0,
        &target.contract.0,
        target.index,
        period,
        n_chunks,
    )
    .unwrap();
    let (_, proof) = file::prove(
        fragment_file(&target.root).as_slice(),
        (chunk + shift) % n_chunks,
    )
    .unwrap();
    ProofAnswer {
        contract_id: target.contract,
        fragment_index: target.index,
        period,
        proof: proof.to_bytes(),
    }
}

/// The challenge seed of the next block's period as that block sees it:
/// its own beacon seed if it opens the period, else the stored one (none in
/// period 0, which challenges nothing: a seed no proof answers).
fn next_seed(chain: &TestChain) -> Hash {
    let next = chain.next_context();
    let p = crate::params_of(&chain.store);
    if next.height % p.proof_period == 0 {
        return next.beacon_seed;
    }
    chain
        .view()
        .period_seed(p.period_of(next.height))
        .unwrap()
        .unwrap_or_default()
}

/// The batch a provider `from` sends in the next block: a proof of each
/// fragment it stores that the next block's period challenges and that is
/// not proven yet (less the skipped ones), with the `bad` entries inserted.
fn proofs(chain: &TestChain, from: u8, skip: u8, bad: &[(Bad, u8)]) -> Vec<ProofAnswer> {
    let p = crate::params_of(&chain.store);
    let height = chain.height + 1;
    let period = p.period_of(height);
    let period_start = period * p.proof_period;
    let me = addr(from);
    let mut mine = vec![];
    let mut others = vec![];
    for c in chain.view().contracts().unwrap() {
        for (f, index) in c.fragments.iter().zip(0u32..) {
            let target = Target {
                contract: c.id,
                index,
                root: f.root,
                fragment_size: c.fragment_size,
            };
            let challenged = (c.first_period..=c.last_period).contains(&period)
                && f.status == FragmentStatus::Active
                && f.since < period_start;
            if !challenged {
                continue;
            }
            if f.provider != me {
                others.push(target);
            } else if f.proven != period + 1 {
                mine.push(target);
            }
        }
    }
    let seed_now = next_seed(chain);
    let mut batch: Vec<ProofAnswer> = mine
        .iter()
        .zip(0u32..)
        .filter(|(_, i)| skip & (1 << (i % 8)) == 0)
        .map(|(t, _)| proof(t, period, &seed_now, 0))
        .collect();
    let first_good = batch.first().cloned();
    for &(kind, at) in bad {
        let entry = match kind {
            Bad::WrongChunk => mine
                .first()
                .or(others.first())
                .map(|t| proof(t, period, &seed_now, 1)),
            Bad::Stale => mine.first().and_then(|t| {
                let before = period.checked_sub(1)?;
                let seed_before = chain.view().period_seed(before).unwrap()?;
                Some(proof(t, before, &seed_before, 0))
            }),
            Bad::Duplicate => first_good.clone(),
            Bad::Corrupt => first_good.clone().map(|mut answer| {
                let len = answer.proof.len();
                answer.proof[usize::from(at) % len] ^= 1;
                answer
            }),
            Bad::NotMine => others.first().map(|t| proof(t, period, &seed_now, 0)),
            Bad::NoContract => Some(ProofAnswer {
                contract_id: Hash([at; 32]),
                fragment_index: 0,
                period,
                proof: vec![0; 1024],
            }),
        };
        if let Some(entry) = entry {
            let position = usize::from(at) % (batch.len() + 1);
            batch.insert(position, entry);
        }
    }
    batch
}

/// Runs the prelude, then the blocks (each followed by `gap` empty blocks),
/// then empty blocks until every contract has settled.
pub fn run(blocks: &[(Vec<Op>, u8)]) -> Run {
    let mut p = params();
    p.block_reward = Amount(1_000);
    let mut run = Run::new(genesis_with(p, &FUNDED));
    let txs = super::build(&run.chain, &prelude());
    run.block(txs);
    for (ops, gap) in blocks {
        let txs = super::build(&run.chain, ops);
        run.block(txs);
        for _ in 0..*gap {
            run.block(vec![]);
        }
    }
    settle(&mut run);
    run
}

/// Empty blocks until every contract has ended; then nothing is locked
/// and no provider has bytes in use.
fn settle(run: &mut Run) {
    let all_ended = |chain: &TestChain| {
        chain.view().contracts().unwrap().iter().all(|c| {
            c.fragments
                .iter()
                .all(|f| f.status == FragmentStatus::Ended)
        })
    };
    let mut left = 100;
    while !all_ended(&run.chain) {
        assert!(left > 0, "contracts did not settle");
        left -= 1;
        run.block(vec![]);
    }
    let audit = sherd_ledger::audit(&run.chain.store).unwrap();
    assert_eq!((audit.escrows, audit.collateral), (0, 0), "{audit:?}");
    for (provider, ad) in run.chain.view().providers().unwrap() {
        assert_eq!(ad.used_bytes, 0, "{provider} still has bytes in use");
    }
}
