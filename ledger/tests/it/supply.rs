//! Property: after any sequence of valid and invalid transactions over
//! several epochs (transfers, staking, delegation, unbonding, withdrawal,
//! block rewards), total supply = genesis + issued − burned and equals the
//! sum of every holding; replaying the same blocks gives the same state and
//! the same state roots.

use proptest::prelude::*;
use sherd_ledger::{
    tx::kind::{Delegate, Stake, Transfer, Undelegate},
    verify, Amount, TxKind, VerifiedTx,
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

fn kind(op: &Op) -> TxKind {
    match op.action {
        Action::Transfer { to, amount } => TxKind::Transfer(Transfer {
            to: addr(to),
            amount: Amount(amount),
        }),
        Action::Stake { amount } => {
            let bls = bls_key(op.from);
            TxKind::Stake(Stake {
                amount: Amount(amount),
                bls_pubkey: bls.public_key().to_bytes(),
                pop: bls.prove_possession().to_bytes(),
                commission_bps: 700,
            })
        }
        Action::Delegate {
            to_validator,
            amount,
        } => TxKind::Delegate(Delegate {
            validator: addr(if to_validator { VALIDATOR } else { 0 }),
            amount: Amount(amount),
        }),
        Action::Undelegate { own, amount } => TxKind::Undelegate(Undelegate {
            validator: if own { addr(op.from) } else { addr(VALIDATOR) },
            amount: Amount(amount),
        }),
        Action::Withdraw => TxKind::Withdraw,
    }
}

fn build(chain: &TestChain, ops: &[Op]) -> Vec<VerifiedTx> {
    // Nonces as the block will see them, counting earlier ops of the same block
    // (a rejected op does not use its nonce, which the next op may then get wrong:
    // that is part of the test).
    let mut next: Vec<u64> = (0..KEYS).map(|i| chain.account(i).nonce).collect();
    ops.iter()
        .map(|op| {
            let current = next[op.from as usize];
            let nonce = current.saturating_add_signed(op.nonce_offset.into());
            if op.nonce_offset == 0 {
                next[op.from as usize] += 1;
            }
            let tx = if op.wrong_chain {
                signed_on("sherd-other", op.from, nonce, op.fee, kind(op))
            } else {
                signed(op.from, nonce, op.fee, kind(op))
            };
            verify(tx).unwrap()
        })
        .collect()
}

/// Runs the blocks (each followed by `gap` empty blocks, so epochs pass)
/// and answers the final chain, the roots after every block, and how many
/// transactions were included and succeeded.
fn run(
    genesis: &[(u8, u64)],
    blocks: &[(Vec<Op>, u8)],
) -> (TestChain, Vec<sherd_ledger::Hash>, usize) {
    let mut p = params();
    p.block_reward = Amount(1_000);
    let mut chain = TestChain::from_genesis(&genesis_with(p, genesis));
    let mut roots = vec![chain.root];
    let mut succeeded = 0;
    for (ops, gap) in blocks {
        let txs = build(&chain, ops);
        let result = chain.block(&txs);
        if std::env::var("DEBUG_SUPPLY").is_ok() {
            eprintln!("{:?} {:?}", result.receipts, result.rejected);
        }
        succeeded += result
            .receipts
            .iter()
            .filter(|r| r.outcome == sherd_ledger::Outcome::Success)
            .count();
        roots.push(chain.root);
        chain.assert_balanced();
        for _ in 0..*gap {
            chain.block(&[]);
            roots.push(chain.root);
        }
        chain.assert_balanced();
    }
    (chain, roots, succeeded)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn supply_is_conserved_and_replay_is_deterministic(
        funded in prop::collection::btree_map(0..KEYS, 0..50_000_000u64, 1..=KEYS as usize),
        blocks in prop::collection::vec((prop::collection::vec(op(), 0..10), 0..8u8), 1..8),
    ) {
        let genesis: Vec<(u8, u64)> = funded.into_iter().collect();
        let (chain, roots, _) = run(&genesis, &blocks);
        let supply = chain.view().supply().unwrap();
        prop_assert_eq!(
            supply.genesis.base_units(),
            genesis.iter().map(|(_, b)| b).sum::<u64>() + crate::VALIDATOR_STAKE
        );
        let (again, again_roots, _) = run(&genesis, &blocks);
        prop_assert_eq!(again.store, chain.store);
        prop_assert_eq!(again_roots, roots);
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
    let (chain, roots, succeeded) = run(
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
    assert_eq!(succeeded, 5);
    assert!(chain.validator(0).is_some());
    // Key 1: 5,000,000 − 3 fees − 1,000,000 delegated + 400,000 withdrawn,
    // plus its share of the validator's rewards over two epoch ends.
    assert!(chain.balance(1) > 5_000_000 - 3 * MIN_FEE - 600_000);
    assert_eq!(chain.view().supply().unwrap().issued, Amount(1_000 * 27));
    assert_eq!(roots.len(), 28);
}
