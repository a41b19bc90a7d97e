//! The state transition on transfers: every rejection and failure reason,
//! fees, nonces.

use sherd_ledger::{
    apply_block,
    state::{account_key, read_account, read_supply, GenesisError},
    tx::kind::{Stake, Transfer},
    verify, write_genesis, Account, Address, Amount, ApplyError, BlockExecutor, ChainId,
    FailReason, MemoryStore, Outcome, Rejection, StateError, StateStore, TxKind, VerifiedTx,
};

use crate::{addr, params, signed, signed_on, transfer, MIN_FEE};

/// The proposer of every test block: key 9, which has no genesis account.
fn proposer() -> Address {
    addr(9)
}

/// Key 1 holds 1,000,000 base units, key 2 holds 500 (less than a fee).
fn genesis() -> MemoryStore {
    let mut store = MemoryStore::new();
    write_genesis(
        &mut store,
        &[(addr(1), Amount(1_000_000)), (addr(2), Amount(500))],
    )
    .unwrap();
    store
}

fn account(store: &MemoryStore, i: u8) -> Account {
    read_account(store, &addr(i)).unwrap().unwrap_or_default()
}

fn balance(store: &MemoryStore, i: u8) -> u64 {
    account(store, i).balance.base_units()
}

/// Applies one transaction as a one-transaction block and commits it.
fn apply_one(store: &mut MemoryStore, tx: &VerifiedTx) -> Result<Outcome, ApplyError> {
    let params = params();
    let mut executor = BlockExecutor::new(&*store, &params, proposer());
    let receipt = executor.apply(tx)?;
    assert_eq!(receipt.tx_id, tx.id());
    let changes = executor.finish()?;
    store.commit(changes).unwrap();
    Ok(receipt.outcome)
}

#[test]
fn a_transfer_moves_the_amount_and_pays_the_fee_to_the_proposer() {
    let mut store = genesis();
    let outcome = apply_one(&mut store, &transfer(1, 3, 0, MIN_FEE, 250_000)).unwrap();
    assert_eq!(outcome, Outcome::Success);
    assert_eq!(balance(&store, 1), 1_000_000 - 250_000 - MIN_FEE);
    assert_eq!(account(&store, 1).nonce, 1);
    assert_eq!(balance(&store, 3), 250_000);
    assert_eq!(balance(&store, 9), MIN_FEE);
}

#[test]
fn each_rejection_has_its_reason_and_changes_nothing() {
    let other_chain = verify(signed_on(
        "sherd-other",
        1,
        0,
        MIN_FEE,
        TxKind::Transfer(Transfer {
            to: addr(3),
            amount: Amount(1),
        }),
    ))
    .unwrap();
    let cases: Vec<(VerifiedTx, Rejection)> = vec![
        (
            other_chain,
            Rejection::WrongChain {
                expected: ChainId::new(crate::CHAIN).unwrap(),
                found: ChainId::new("sherd-other").unwrap(),
            },
        ),
        (
            transfer(1, 3, 0, MIN_FEE - 1, 1),
            Rejection::FeeTooLow {
                min: Amount(MIN_FEE),
                offered: Amount(MIN_FEE - 1),
            },
        ),
        (
            transfer(1, 3, 1, MIN_FEE, 1),
            Rejection::BadNonce {
                expected: 0,
                found: 1,
            },
        ),
        (
            transfer(2, 3, 0, MIN_FEE, 1),
            Rejection::CannotPayFee {
                balance: Amount(500),
                fee: Amount(MIN_FEE),
            },
        ),
        (
            transfer(4, 3, 0, MIN_FEE, 1),
            Rejection::UnknownSender { sender: addr(4) },
        ),
    ];
    for (tx, expected) in cases {
        let mut store = genesis();
        let before = store.clone();
        assert_eq!(
            apply_one(&mut store, &tx),
            Err(ApplyError::Rejected(expected))
        );
        assert_eq!(store, before);
    }
}

#[test]
fn a_replayed_transaction_is_rejected() {
    let mut store = genesis();
    let tx = transfer(1, 3, 0, MIN_FEE, 10);
    assert_eq!(apply_one(&mut store, &tx), Ok(Outcome::Success));
    let before = store.clone();
    assert_eq!(
        apply_one(&mut store, &tx),
        Err(ApplyError::Rejected(Rejection::BadNonce {
            expected: 1,
            found: 0
        }))
    );
    assert_eq!(store, before);
}

#[test]
fn each_failure_pays_the_fee_uses_the_nonce_and_undoes_the_rest() {
    let stake = verify(signed(
        1,
        0,
        MIN_FEE,
        TxKind::Stake(Stake {
            amount: Amount(10),
            bls_pubkey: [0; 48],
            pop: [0; 96],
            commission_bps: 500,
        }),
    ))
    .unwrap();
    let cases: Vec<(VerifiedTx, FailReason)> = vec![
        (transfer(1, 3, 0, MIN_FEE, 0), FailReason::ZeroAmount),
        (
            // The balance covers the amount but not the amount plus the fee.
            transfer(1, 3, 0, MIN_FEE, 1_000_000),
            FailReason::InsufficientBalance {
                balance: Amount(1_000_000 - MIN_FEE),
                needed: Amount(1_000_000),
            },
        ),
        (stake, FailReason::Unsupported { kind: "Stake" }),
    ];
    for (tx, reason) in cases {
        let mut store = genesis();
        assert_eq!(apply_one(&mut store, &tx), Ok(Outcome::Failed(reason)));
        assert_eq!(balance(&store, 1), 1_000_000 - MIN_FEE);
        assert_eq!(account(&store, 1).nonce, 1);
        assert_eq!(read_account(&store, &addr(3)).unwrap(), None);
        assert_eq!(balance(&store, 9), MIN_FEE);
    }
}

#[test]
fn a_balance_that_would_overflow_fails_the_transfer() {
    // Not reachable from a genesis (supply fits in a u64), so the state is
    // written by hand.
    let mut store = genesis();
    let full = Account {
        balance: Amount(u64::MAX),
        nonce: 0,
    };
    store.put(&account_key(&addr(3)), &full.to_bytes()).unwrap();
    assert_eq!(
        apply_one(&mut store, &transfer(1, 3, 0, MIN_FEE, 1)),
        Ok(Outcome::Failed(FailReason::Overflow { account: addr(3) }))
    );
    assert_eq!(account(&store, 3), full);
    assert_eq!(balance(&store, 1), 1_000_000 - MIN_FEE);
}

#[test]
fn transfers_to_oneself_and_by_the_proposer_net_out() {
    let mut store = genesis();
    assert_eq!(
        apply_one(&mut store, &transfer(1, 1, 0, MIN_FEE, 400_000)),
        Ok(Outcome::Success)
    );
    assert_eq!(balance(&store, 1), 1_000_000 - MIN_FEE);

    let params = params();
    let mut executor = BlockExecutor::new(&store, &params, addr(1));
    executor.apply(&transfer(1, 3, 1, 5_000, 100)).unwrap();
    store.commit(executor.finish().unwrap()).unwrap();
    assert_eq!(balance(&store, 1), 1_000_000 - MIN_FEE - 100);
}

#[test]
fn a_block_applies_in_order_and_lists_rejections() {
    let store = genesis();
    let txs = vec![
        transfer(1, 2, 0, MIN_FEE, 5_000),
        transfer(1, 2, 0, MIN_FEE, 5_000), // replay of nonce 0
        transfer(2, 3, 0, MIN_FEE, 1_000), // key 2 can pay now: 5,500
        transfer(1, 3, 1, MIN_FEE, 0),     // fails, pays
    ];
    let result = apply_block(&store, &params(), proposer(), &txs).unwrap();
    assert_eq!(result.receipts.len(), 3);
    assert_eq!(
        result
            .receipts
            .iter()
            .map(|r| r.outcome.clone())
            .collect::<Vec<_>>(),
        vec![
            Outcome::Success,
            Outcome::Success,
            Outcome::Failed(FailReason::ZeroAmount)
        ]
    );
    assert_eq!(
        result.rejected.into_iter().collect::<Vec<_>>(),
        vec![(
            1,
            Rejection::BadNonce {
                expected: 1,
                found: 0
            }
        )]
    );
    let mut after = store.clone();
    after.commit(result.changes).unwrap();
    assert_eq!(balance(&after, 1), 1_000_000 - 5_000 - 2 * MIN_FEE);
    assert_eq!(balance(&after, 2), 500 + 5_000 - 1_000 - MIN_FEE);
    assert_eq!(balance(&after, 3), 1_000);
    assert_eq!(balance(&after, 9), 3 * MIN_FEE);
    // The input store was not touched.
    assert_eq!(store, genesis());
}

#[test]
fn corrupt_state_is_reported_not_a_panic() {
    let mut store = genesis();
    store.put(&account_key(&addr(1)), &[0; 15]).unwrap();
    assert!(matches!(
        apply_one(&mut store, &transfer(1, 3, 0, MIN_FEE, 1)),
        Err(ApplyError::State(StateError::Corrupt { .. }))
    ));
}

#[test]
fn genesis_refuses_duplicates_overflow_and_a_used_store() {
    let mut store = MemoryStore::new();
    assert_eq!(
        write_genesis(&mut store, &[(addr(1), Amount(1)), (addr(1), Amount(2))]),
        Err(GenesisError::DuplicateAccount { address: addr(1) })
    );
    assert_eq!(
        write_genesis(
            &mut store,
            &[(addr(1), Amount(u64::MAX)), (addr(2), Amount(1))]
        ),
        Err(GenesisError::SupplyOverflow)
    );
    assert!(store.is_empty());
    assert_eq!(
        write_genesis(&mut store, &[(addr(1), Amount(7))]),
        Ok(Amount(7))
    );
    assert_eq!(read_supply(&store).unwrap(), Some(Amount(7)));
    assert_eq!(write_genesis(&mut store, &[]), Err(GenesisError::NotEmpty));
}
