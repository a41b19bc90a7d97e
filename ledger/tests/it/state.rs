//! The state transition on transfers: every rejection and failure reason,
//! fees, nonces.

use sherd_ledger::{
    genesis::GenesisError,
    state::records::account_key,
    tx::kind::{Stake, Transfer},
    verify, Account, Amount, ApplyError, BlockExecutor, ChainId, FailReason, Genesis, MemoryStore,
    Outcome, Rejection, StateError, StateStore, TxKind, VerifiedTx,
};

use crate::{
    addr, genesis_with, params, put_account, signed, signed_on, transfer, TestChain, MIN_FEE,
    VALIDATOR,
};

/// Key 1 holds 1,000,000 base units, key 2 holds 500 (less than a fee).
fn genesis() -> TestChain {
    TestChain::new(&[(1, 1_000_000), (2, 500)])
}

fn account(chain: &TestChain, i: u8) -> Account {
    chain.account(i)
}

fn balance(chain: &TestChain, i: u8) -> u64 {
    chain.balance(i)
}

/// Fees earned by the proposer so far (paid out at the epoch's end).
fn proposer_fees(chain: &TestChain) -> u64 {
    chain
        .validator(VALIDATOR)
        .unwrap()
        .pending_rewards
        .base_units()
}

/// Applies one transaction as a one-transaction block and commits it.
fn apply_one(chain: &mut TestChain, tx: &VerifiedTx) -> Result<Outcome, ApplyError> {
    let mut executor = BlockExecutor::begin(&chain.store, chain.next_context()).unwrap();
    let receipt = executor.apply(tx)?;
    assert_eq!(receipt.tx_id, tx.id());
    let output = executor.finish()?;
    chain.store.commit(output.changes).unwrap();
    chain.height += 1;
    chain.root = output.state_root;
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
    assert_eq!(proposer_fees(&store), MIN_FEE);
    store.assert_balanced();
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
        let before = store.store.clone();
        assert_eq!(
            apply_one(&mut store, &tx),
            Err(ApplyError::Rejected(expected))
        );
        assert_eq!(store.store, before);
    }
}

#[test]
fn a_replayed_transaction_is_rejected() {
    let mut store = genesis();
    let tx = transfer(1, 3, 0, MIN_FEE, 10);
    assert_eq!(apply_one(&mut store, &tx), Ok(Outcome::Success));
    let before = store.store.clone();
    assert_eq!(
        apply_one(&mut store, &tx),
        Err(ApplyError::Rejected(Rejection::BadNonce {
            expected: 1,
            found: 0
        }))
    );
    assert_eq!(store.store, before);
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
        (
            stake,
            // All zeros is not a compressed G1 point: the BLS library's
            // own error, typed.
            FailReason::InvalidBlsKey {
                reason: sherd_consensus::bls::PublicKey::from_bytes(&[0; 48]).unwrap_err(),
            },
        ),
    ];
    for (tx, reason) in cases {
        let mut store = genesis();
        assert_eq!(apply_one(&mut store, &tx), Ok(Outcome::Failed(reason)));
        assert_eq!(balance(&store, 1), 1_000_000 - MIN_FEE);
        assert_eq!(account(&store, 1).nonce, 1);
        assert!(!store.view().has_account(&addr(3)).unwrap());
        assert_eq!(proposer_fees(&store), MIN_FEE);
        store.assert_balanced();
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
    put_account(&mut store.store, 3, &full);
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

    // The proposer's own transaction pays its fee to its own pending rewards.
    store.proposer = addr(VALIDATOR);
    let fees = proposer_fees(&store);
    apply_one(&mut store, &transfer(1, 3, 1, 5_000, 100)).unwrap();
    assert_eq!(balance(&store, 1), 1_000_000 - MIN_FEE - 5_000 - 100);
    assert_eq!(proposer_fees(&store), fees + 5_000);
    store.assert_balanced();
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
    let before = store.clone();
    let result = sherd_ledger::apply_block(&store.store, store.next_context(), &txs).unwrap();
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
    // The input store was not touched.
    assert_eq!(store.store, before.store);
    let mut after = store.clone();
    after.store.commit(result.output.changes).unwrap();
    assert_eq!(balance(&after, 1), 1_000_000 - 5_000 - 2 * MIN_FEE);
    assert_eq!(balance(&after, 2), 500 + 5_000 - 1_000 - MIN_FEE);
    assert_eq!(balance(&after, 3), 1_000);
    assert_eq!(proposer_fees(&after), 3 * MIN_FEE);
    after.assert_balanced();
}

#[test]
fn corrupt_state_is_reported_not_a_panic() {
    let mut store = genesis();
    store.store.put(&account_key(&addr(1)), &[0; 15]).unwrap();
    assert!(matches!(
        apply_one(&mut store, &transfer(1, 3, 0, MIN_FEE, 1)),
        Err(ApplyError::State(StateError::Corrupt { .. }))
    ));
}

#[test]
fn genesis_refuses_duplicates_overflow_and_a_used_store() {
    let mut store = MemoryStore::new();
    assert_eq!(
        genesis_with(params(), &[(1, 1), (1, 2)]).write(&mut store),
        Err(GenesisError::DuplicateAccount { address: addr(1) })
    );
    assert_eq!(
        genesis_with(params(), &[(1, u64::MAX), (2, 1)]).write(&mut store),
        Err(GenesisError::SupplyOverflow)
    );
    assert!(store.is_empty());
    let genesis = genesis_with(params(), &[(1, 7)]);
    genesis.write(&mut store).unwrap();
    let chain = TestChain::from_genesis(&genesis);
    assert_eq!(
        chain.view().supply().unwrap().total(),
        Some(Amount(7 + crate::VALIDATOR_STAKE))
    );
    assert_eq!(genesis.write(&mut store), Err(GenesisError::NotEmpty));
}

#[test]
fn genesis_json_round_trips_and_refuses_unknown_fields() {
    let genesis = genesis_with(params(), &[(1, 7)]);
    let json = genesis.to_json();
    assert_eq!(Genesis::from_json(&json).unwrap(), genesis);
    let typo = json.replace("\"epoch_length\"", "\"epoch_lenght\"");
    assert!(matches!(
        Genesis::from_json(&typo),
        Err(GenesisError::Json(message)) if message.contains("epoch_lenght")
    ));
    let mut bad_pop = genesis.clone();
    bad_pop.validators[0].pop = crate::genesis_validator(7, 1).pop;
    assert!(matches!(
        bad_pop.validate(),
        Err(GenesisError::BadValidator { .. })
    ));
}
