//! Property: after any sequence of valid and invalid transfers, the sum of
//! all balances is the genesis supply, and replaying the same blocks gives
//! the same state.

use proptest::prelude::*;
use sherd_ledger::{
    apply_block,
    state::{read_account, read_supply, ACCOUNT_PREFIX},
    tx::kind::Transfer,
    verify, write_genesis, Account, Amount, MemoryStore, StateStore, TxKind, VerifiedTx,
};

use crate::{addr, params, signed, signed_on, MIN_FEE};

/// Keys 0..KEYS may send; genesis funds some of them.
const KEYS: u8 = 5;

#[derive(Debug, Clone)]
struct Op {
    from: u8,
    to: u8,
    amount: u64,
    fee: u64,
    /// Added to the sender's current nonce: 0 is right, others are replays or gaps.
    nonce_offset: i8,
    wrong_chain: bool,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0..KEYS,
        0..KEYS + 2,
        prop_oneof![Just(0u64), 1..2_000u64, 1..2_000_000u64, Just(u64::MAX)],
        prop_oneof![Just(MIN_FEE), Just(MIN_FEE - 1), MIN_FEE..50_000],
        prop_oneof![8 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)],
        prop::bool::weighted(0.05),
    )
        .prop_map(|(from, to, amount, fee, nonce_offset, wrong_chain)| Op {
            from,
            to,
            amount,
            fee,
            nonce_offset,
            wrong_chain,
        })
}

fn sum_of_balances(store: &MemoryStore) -> u128 {
    store
        .iter()
        .filter(|(k, _)| k.first() == Some(&ACCOUNT_PREFIX))
        .map(|(_, v)| u128::from(Account::from_bytes(v).unwrap().balance.base_units()))
        .sum()
}

fn build(store: &MemoryStore, ops: &[Op]) -> Vec<VerifiedTx> {
    // Nonces as the block will see them, counting earlier ops of the same block
    // (a rejected op does not use its nonce, which the next op may then get wrong:
    // that is part of the test).
    let mut next: Vec<u64> = (0..KEYS)
        .map(|i| {
            read_account(store, &addr(i))
                .unwrap()
                .unwrap_or_default()
                .nonce
        })
        .collect();
    ops.iter()
        .map(|op| {
            let current = next[op.from as usize];
            let nonce = current.saturating_add_signed(op.nonce_offset.into());
            if op.nonce_offset == 0 {
                next[op.from as usize] += 1;
            }
            let kind = TxKind::Transfer(Transfer {
                to: addr(op.to),
                amount: Amount(op.amount),
            });
            let tx = if op.wrong_chain {
                signed_on("sherd-other", op.from, nonce, op.fee, kind)
            } else {
                signed(op.from, nonce, op.fee, kind)
            };
            verify(tx).unwrap()
        })
        .collect()
}

fn run(genesis: &[(u8, u64)], blocks: &[(u8, Vec<Op>)]) -> (MemoryStore, u64, usize) {
    let mut store = MemoryStore::new();
    let balances: Vec<_> = genesis.iter().map(|&(i, b)| (addr(i), Amount(b))).collect();
    let supply = write_genesis(&mut store, &balances).unwrap().base_units();
    let mut included = 0;
    for (proposer, ops) in blocks {
        let txs = build(&store, ops);
        let result = apply_block(&store, &params(), addr(*proposer), &txs).unwrap();
        included += result.receipts.len();
        store.commit(result.changes).unwrap();
        assert_eq!(sum_of_balances(&store), u128::from(supply));
    }
    (store, supply, included)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn supply_is_conserved_and_replay_is_deterministic(
        funded in prop::collection::btree_map(0..KEYS, 0..5_000_000u64, 1..=KEYS as usize),
        blocks in prop::collection::vec((0..KEYS + 3, prop::collection::vec(op(), 0..12)), 1..6),
    ) {
        let genesis: Vec<(u8, u64)> = funded.into_iter().collect();
        let (store, supply, _) = run(&genesis, &blocks);
        prop_assert_eq!(read_supply(&store).unwrap(), Some(Amount(supply)));
        let (again, _, _) = run(&genesis, &blocks);
        prop_assert_eq!(again, store);
    }
}

#[test]
fn the_property_exercises_successes() {
    // A fixed sequence through the same harness, so the property above is
    // known to include real transfers, not only rejections.
    let op = |from, to, amount| Op {
        from,
        to,
        amount,
        fee: MIN_FEE,
        nonce_offset: 0,
        wrong_chain: false,
    };
    let (store, supply, included) = run(
        &[(0, 1_000_000), (1, 10)],
        &[(7, vec![op(1, 0, 1), op(0, 1, 5_000), op(0, 6, 7)])],
    );
    assert_eq!(included, 2); // key 1 cannot pay a fee before it is paid
    assert_eq!(supply, 1_000_010);
    let six = read_account(&store, &addr(6)).unwrap().unwrap();
    assert_eq!(six.balance, Amount(7));
}
