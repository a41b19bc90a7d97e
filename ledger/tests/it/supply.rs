//! Property: after any sequence of valid and invalid transactions over
//! several epochs (transfers, staking, delegation, unbonding, withdrawal,
//! block rewards; and in the second property the storage market: endpoints,
//! advertisements, contracts, batches of real, wrong and stale proofs,
//! misses, losses, repairs and settlements), total supply = genesis +
//! issued − burned and equals the sum of every holding after every block;
//! replaying the same blocks from genesis gives the same state and the same
//! state root after every block.

mod market;

use std::collections::BTreeMap;

use proptest::prelude::*;
use sherd_ledger::{
    state::FragmentStatus,
    tx::kind::{Delegate, Stake, Transfer, Undelegate},
    verify, Amount, BlockResult, Genesis, Hash, Outcome, ProofChecks, TxKind, VerifiedTx,
};

use crate::{
    addr, bls_key, genesis_with, params, signed, signed_on, TestChain, MIN_FEE, VALIDATOR,
};

/// Keys 0..KEYS may send; genesis funds some of them.
const KEYS: u8 = 5;

#[derive(Debug, Clone)]
enum Action {
    Transfer { to: u8, amount: u64 },
    Stake { amount: u64 },
    Delegate { to_validator: bool, amount: u64 },
    Undelegate { own: bool, amount: u64 },
    Withdraw,
    Market(market::Action),
}

#[derive(Debug, Clone)]
struct Op {
    from: u8,
    action: Action,
    fee: u64,
    /// Added to the sender's current nonce: 0 is right, others are replays or gaps.
    nonce_offset: i8,
    wrong_chain: bool,
}

fn amount() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), 1..2_000u64, 1..2_000_000u64, Just(u64::MAX)]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (0..KEYS + 2, amount()).prop_map(|(to, amount)| Action::Transfer { to, amount }),
        1 => amount().prop_map(|amount| Action::Stake { amount }),
        2 => (any::<bool>(), amount()).prop_map(|(to_validator, amount)| Action::Delegate { to_validator, amount }),
        2 => (any::<bool>(), amount()).prop_map(|(own, amount)| Action::Undelegate { own, amount }),
        1 => Just(Action::Withdraw),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    (
        0..KEYS,
        action(),
        prop_oneof![Just(MIN_FEE), Just(MIN_FEE - 1), MIN_FEE..50_000],
        prop_oneof![8 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)],
        prop::bool::weighted(0.05),
    )
        .prop_map(|(from, action, fee, nonce_offset, wrong_chain)| Op {
            from,
            action,
            fee,
            nonce_offset,
            wrong_chain,
        })
}

/// The kind `op` sends as its sender's transaction `nonce`; market kinds
/// are built from the chain's state (contracts, seeds, lost fragments).
fn kind(chain: &TestChain, op: &Op, nonce: u64) -> TxKind {
    match &op.action {
        Action::Transfer { to, amount } => TxKind::Transfer(Transfer {
            to: addr(*to),
            amount: Amount(*amount),
        }),
        Action::Stake { amount } => {
            let bls = bls_key(op.from);
            TxKind::Stake(Stake {
                amount: Amount(*amount),
                bls_pubkey: bls.public_key().to_bytes(),
                pop: bls.prove_possession().to_bytes(),
                commission_bps: 700,
            })
        }
        Action::Delegate {
            to_validator,
            amount,
        } => TxKind::Delegate(Delegate {
            validator: addr(if *to_validator { VALIDATOR } else { 0 }),
            amount: Amount(*amount),
        }),
        Action::Undelegate { own, amount } => TxKind::Undelegate(Undelegate {
            validator: if *own { addr(op.from) } else { addr(VALIDATOR) },
            amount: Amount(*amount),
        }),
        Action::Withdraw => TxKind::Withdraw,
        Action::Market(action) => market::kind(chain, op.from, nonce, action),
    }
}

fn build(chain: &TestChain, ops: &[Op]) -> Vec<VerifiedTx> {
    // Nonces as the block will see them, counting earlier ops of the same block
    // (a rejected op does not use its nonce, which the next op may then get wrong:
    // that is part of the test).
    let mut next: BTreeMap<u8, u64> = BTreeMap::new();
    ops.iter()
        .map(|op| {
            let current = *next
                .entry(op.from)
                .or_insert_with(|| chain.account(op.from).nonce);
            let nonce = current.saturating_add_signed(op.nonce_offset.into());
            if op.nonce_offset == 0 {
                next.insert(op.from, current + 1);
            }
            let kind = kind(chain, op, nonce);
            let tx = if op.wrong_chain {
                signed_on("sherd-other", op.from, nonce, op.fee, kind)
            } else {
                signed(op.from, nonce, op.fee, kind)
            };
            verify(tx).unwrap()
        })
        .collect()
}

/// What a run counted: included transactions by kind and outcome, and the
/// verdicts of `SubmitProofs` entries.
#[derive(Debug, Clone, Default)]
struct Tally {
    /// (kind, succeeded) → count.
    outcomes: BTreeMap<(&'static str, bool), usize>,
    proofs_accepted: u64,
    proofs_refused: usize,
    /// `SubmitProofs` that succeeded with some entries refused.
    partial_batches: usize,
}

impl Tally {
    fn succeeded(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|((_, ok), _)| *ok)
            .map(|(_, n)| n)
            .sum()
    }

    fn of(&self, kind: &'static str, succeeded: bool) -> usize {
        self.outcomes.get(&(kind, succeeded)).copied().unwrap_or(0)
    }
}

/// A chain driven block by block that checks the supply after each block
/// and keeps every block, to replay them.
struct Run {
    genesis: Genesis,
    chain: TestChain,
    /// The state root after genesis and after every block.
    roots: Vec<Hash>,
    /// Every block's transactions, in order.
    blocks: Vec<Vec<VerifiedTx>>,
    /// Every block's result (receipts, rejections, writes, root).
    results: Vec<BlockResult>,
    tally: Tally,
}

impl Run {
    fn new(genesis: Genesis) -> Self {
        let chain = TestChain::from_genesis(&genesis);
        Self {
            roots: vec![chain.root],
            genesis,
            chain,
            blocks: Vec::new(),
            results: Vec::new(),
            tally: Tally::default(),
        }
    }

    /// Executes one block of `txs` (rejected ones are left out by the
    /// executor) and checks the supply identity after it.
    fn block(&mut self, txs: Vec<VerifiedTx>) -> BlockResult {
        let result = self.chain.block(&txs);
        if std::env::var("DEBUG_SUPPLY").is_ok() {
            eprintln!(
                "block {}: {:?} {:?}",
                self.chain.height, result.receipts, result.rejected
            );
        }
        let included = (0..txs.len()).filter(|i| !result.rejected.contains_key(i));
        for (tx, receipt) in included.map(|i| &txs[i]).zip(&result.receipts) {
            let name = tx.tx().body.kind.name();
            let ok = receipt.outcome == Outcome::Success;
            *self.tally.outcomes.entry((name, ok)).or_default() += 1;
            let accepted = receipt.proofs.iter().filter(|v| v.is_accepted()).count();
            let refused = receipt.proofs.len() - accepted;
            self.tally.proofs_accepted += accepted as u64;
            self.tally.proofs_refused += refused;
            if ok && refused > 0 {
                self.tally.partial_batches += 1;
            }
            if !matches!(tx.tx().body.kind, TxKind::SubmitProofs(_)) {
                assert!(receipt.proofs.is_empty(), "{receipt:?}");
            }
        }
        self.roots.push(self.chain.root);
        self.blocks.push(txs);
        self.results.push(result.clone());
        self.assert_supply();
        self.assert_live_index();
        result
    }

    /// The live index lists exactly the contracts that have not settled
    /// (a settled contract's fragments are all ended, and only then).
    fn assert_live_index(&self) {
        let view = self.chain.view();
        let unsettled: Vec<Hash> = view
            .contracts()
            .unwrap()
            .iter()
            .filter(|c| {
                c.fragments
                    .iter()
                    .any(|f| f.status != FragmentStatus::Ended)
            })
            .map(|c| c.id)
            .collect();
        assert_eq!(view.live_contracts().unwrap(), unsettled, "live index");
    }

    /// `genesis + issued − burned` is held somewhere, exactly once, and
    /// the only new currency is the block rewards and one proof reward per
    /// accepted proof.
    fn assert_supply(&self) {
        self.chain.assert_balanced();
        let p = &self.genesis.params;
        let supply = self.chain.view().supply().unwrap();
        let genesis = self
            .genesis
            .accounts
            .iter()
            .map(|a| a.balance.0)
            .sum::<u64>()
            + self
                .genesis
                .validators
                .iter()
                .map(|v| v.self_stake.0)
                .sum::<u64>();
        assert_eq!(supply.genesis.base_units(), genesis);
        assert_eq!(
            supply.issued.base_units(),
            p.block_reward.0 * self.chain.height + p.proof_reward.0 * self.tally.proofs_accepted,
            "issued"
        );
    }

    /// Replays every block on a fresh chain from the same genesis, with
    /// `SubmitProofs` checked one entry at a time
    /// ([`ProofChecks::Sequential`], where the run used the default,
    /// parallel checks): the same receipts (every proof's verdict), the
    /// same writes and the same root after every block, the same store at
    /// the end.
    fn assert_replays(&self) {
        let mut again = TestChain::from_genesis(&self.genesis);
        assert_eq!(again.root, self.roots[0]);
        for ((txs, root), result) in self.blocks.iter().zip(&self.roots[1..]).zip(&self.results) {
            let replayed = again.block_with(txs, ProofChecks::Sequential);
            assert_eq!(replayed, *result, "block {}", again.height);
            assert_eq!(again.root, *root, "root after block {}", again.height);
        }
        assert_eq!(again.store, self.chain.store);
    }
}

/// Runs the blocks (each followed by `gap` empty blocks, so epochs pass).
fn run(genesis: &[(u8, u64)], blocks: &[(Vec<Op>, u8)]) -> Run {
    let mut p = params();
    p.block_reward = Amount(1_000);
    let mut run = Run::new(genesis_with(p, genesis));
    for (ops, gap) in blocks {
        let txs = build(&run.chain, ops);
        run.block(txs);
        for _ in 0..*gap {
            run.block(vec![]);
        }
    }
    run
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn supply_is_conserved_and_replay_is_deterministic(
        funded in prop::collection::btree_map(0..KEYS, 0..50_000_000u64, 1..=KEYS as usize),
        blocks in prop::collection::vec((prop::collection::vec(op(), 0..10), 0..8u8), 1..8),
    ) {
        let genesis: Vec<(u8, u64)> = funded.into_iter().collect();
        run(&genesis, &blocks).assert_replays();
    }
}

#[test]
fn the_property_exercises_every_action() {
    // A fixed sequence through the same harness, so the property above is
    // known to include real successes of every kind, not only rejections.
    let op = |from, action| Op {
        from,
        action,
        fee: MIN_FEE,
        nonce_offset: 0,
        wrong_chain: false,
    };
    let run = run(
        &[(0, 50_000_000), (1, 10)],
        &[
            (
                vec![
                    op(
                        0,
                        Action::Transfer {
                            to: 1,
                            amount: 5_000_000,
                        },
                    ),
                    op(0, Action::Stake { amount: 2_000_000 }),
                    op(
                        1,
                        Action::Delegate {
                            to_validator: true,
                            amount: 1_000_000,
                        },
                    ),
                    op(
                        1,
                        Action::Undelegate {
                            own: false,
                            amount: 400_000,
                        },
                    ),
                ],
                25,
            ),
            (vec![op(1, Action::Withdraw)], 0),
        ],
    );
    run.assert_replays();
    assert_eq!(run.tally.succeeded(), 5);
    let chain = &run.chain;
    assert!(chain.validator(0).is_some());
    // Key 1: 5,000,000 − 3 fees − 1,000,000 delegated + 400,000 withdrawn,
    // plus its share of the validator's rewards over two epoch ends.
    assert!(chain.balance(1) > 5_000_000 - 3 * MIN_FEE - 600_000);
    assert_eq!(chain.view().supply().unwrap().issued, Amount(1_000 * 27));
    assert_eq!(run.roots.len(), 28);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn supply_is_conserved_and_replay_is_deterministic_with_the_market(
        blocks in prop::collection::vec(
            (prop::collection::vec(market::market_op(), 0..8), 0..4u8),
            4..20,
        ),
    ) {
        let run = market::run(&blocks);
        if std::env::var("DEBUG_SUPPLY").is_ok() {
            eprintln!("{} blocks: {:?}", run.chain.height, run.tally);
        }
        run.assert_replays();
    }
}

#[test]
fn the_market_property_exercises_every_path() {
    // A fixed sequence through the market harness: a contract paid per
    // proof, a batch with a good and a bad entry, a provider that never
    // proves and loses its fragment, a repair, and the settlement.
    use market::{op, Action as M, Bad};
    let contract = M::Contract {
        shape: 0,
        content: 0,
        offset: 0,
        duplicate: false,
        duration: 2,
        price: 1_000_000_000,
        forged: None,
    };
    let prove = |bad: Vec<(Bad, u8)>| M::Prove { skip: 0, bad };
    // Prelude in block 1; the contract in block 2 (providers 2, 3, 4;
    // periods 1..=4); proofs in the first blocks of periods 1 and 2 (5, 10)
    // from providers 2 and 3 (2's batches also carry a bad entry); provider
    // 4 never proves, so its fragment is lost at block 12; repaired to 5 in
    // block 15.
    let run = market::run(&[
        (vec![op(0, contract)], 2),
        (
            vec![
                op(2, prove(vec![(Bad::WrongChunk, 1)])),
                op(3, prove(vec![])),
            ],
            4,
        ),
        (
            vec![
                op(2, prove(vec![(Bad::Stale, 0), (Bad::Duplicate, 9)])),
                op(3, prove(vec![(Bad::NotMine, 0)])),
            ],
            4,
        ),
        (
            vec![op(
                0,
                M::Repair {
                    pick: 0,
                    new_provider: 3,
                    forged: false,
                },
            )],
            0,
        ),
    ]);
    run.assert_replays();
    let t = &run.tally;
    assert_eq!(t.of("CreateContract", true), 1, "{t:?}");
    assert_eq!(t.of("SubmitProofs", true), 4, "{t:?}");
    assert_eq!(t.of("RepairFragment", true), 1, "{t:?}");
    assert_eq!(t.proofs_accepted, 4, "{t:?}");
    assert_eq!(t.proofs_refused, 4, "{t:?}");
    assert_eq!(t.partial_batches, 3, "{t:?}");
    // Settled after block 22. Nobody proved periods 3 and 4, so 2 and 3
    // missed twice; 5 took fragment 2 in block 15 and missed period 4.
    let contract = &run.chain.view().contracts().unwrap()[0];
    assert_eq!(contract.fragments[2].provider, addr(5));
    let misses: Vec<u32> = contract.fragments.iter().map(|f| f.misses).collect();
    assert_eq!(misses, [2, 2, 1]);
    assert_eq!(run.chain.height, 22);
}
