//! Staking, delegation, unbonding, rewards, validator sets and slashing by
//! evidence, through whole blocks and epochs.

use sherd_consensus::{
    bls::{self, SecretKey},
    codec::Wire,
    vote::{BlockId, SignedVote, Vote},
    ChainId as ConsensusChainId,
};
use sherd_ledger::{
    tx::kind::{Delegate, Evidence, Stake, Undelegate},
    Amount, FailReason, Outcome, TxKind,
};

use crate::{addr, bls_key, params, tx, TestChain, MIN_FEE, VALIDATOR, VALIDATOR_STAKE};

fn stake_kind(i: u8, amount: u64) -> TxKind {
    let bls = bls_key(i);
    TxKind::Stake(Stake {
        amount: Amount(amount),
        bls_pubkey: bls.public_key().to_bytes(),
        pop: bls.prove_possession().to_bytes(),
        commission_bps: 1_000,
    })
}

fn outcome(chain: &mut TestChain, from: u8, kind: TxKind) -> Outcome {
    let nonce = chain.account(from).nonce;
    let result = chain.block(&[tx(from, nonce, kind)]);
    assert!(result.rejected.is_empty(), "{:?}", result.rejected);
    result.receipts[0].outcome.clone()
}

#[test]
fn a_staked_account_joins_the_set_at_the_next_epoch() {
    let mut chain = TestChain::new(&[(1, 50_000_000)]);
    assert_eq!(
        outcome(&mut chain, 1, stake_kind(1, 20_000_000)),
        Outcome::Success
    );
    assert_eq!(chain.balance(1), 50_000_000 - 20_000_000 - MIN_FEE);
    let v = chain.validator(1).unwrap();
    assert_eq!(v.self_stake, Amount(20_000_000));
    // Still epoch 0: the set is the genesis set.
    let set0 = chain.view().epoch_set(0).unwrap().unwrap();
    assert_eq!(set0.members.len(), 1);
    chain.run_to(9);
    let set1 = chain.view().epoch_set(1).unwrap().unwrap();
    assert_eq!(set1.members.len(), 2);
    // Ordered by power: key 1 has more stake than the genesis validator.
    assert_eq!(set1.members[0].operator, addr(1));
    assert_eq!(set1.members[0].power, 20_000_000);
    assert_eq!(set1.members[1].power, VALIDATOR_STAKE);
    chain.assert_balanced();
}

#[test]
fn stake_checks_the_key_and_its_proof_of_possession() {
    let mut chain = TestChain::new(&[(1, 50_000_000), (2, 50_000_000)]);
    // A proof of possession of another key.
    let mut wrong_pop = stake_kind(1, 1);
    if let TxKind::Stake(s) = &mut wrong_pop {
        s.pop = bls_key(3).prove_possession().to_bytes();
    }
    assert_eq!(
        outcome(&mut chain, 1, wrong_pop),
        Outcome::Failed(FailReason::InvalidProofOfPossession)
    );
    // The identity public key (compressed infinity) is refused.
    let mut identity = stake_kind(1, 1);
    if let TxKind::Stake(s) = &mut identity {
        s.bls_pubkey = [0; 48];
        s.bls_pubkey[0] = 0xc0;
    }
    assert!(matches!(
        outcome(&mut chain, 1, identity),
        Outcome::Failed(FailReason::InvalidBlsKey { .. })
    ));
    // The genesis validator's key, with its valid proof, by someone else.
    assert_eq!(
        outcome(&mut chain, 2, stake_kind(VALIDATOR, 1)),
        Outcome::Failed(FailReason::BlsKeyInUse {
            operator: addr(VALIDATOR)
        })
    );
    let mut too_much = stake_kind(1, 1);
    if let TxKind::Stake(s) = &mut too_much {
        s.commission_bps = 10_001;
    }
    assert_eq!(
        outcome(&mut chain, 1, too_much),
        Outcome::Failed(FailReason::CommissionTooHigh { bps: 10_001 })
    );
    assert!(chain.validator(1).is_none());
    assert_eq!(outcome(&mut chain, 1, stake_kind(1, 5)), Outcome::Success);
    // Adding stake with another key is refused.
    assert_eq!(
        outcome(&mut chain, 1, stake_kind(4, 5)),
        Outcome::Failed(FailReason::BlsKeyMismatch { operator: addr(1) })
    );
    chain.assert_balanced();
}

#[test]
fn delegation_unbonding_and_withdrawal() {
    let mut chain = TestChain::new(&[(1, 10_000_000)]);
    let delegate = |amount| {
        TxKind::Delegate(Delegate {
            validator: addr(VALIDATOR),
            amount: Amount(amount),
        })
    };
    let undelegate = |amount| {
        TxKind::Undelegate(Undelegate {
            validator: addr(VALIDATOR),
            amount: Amount(amount),
        })
    };
    assert_eq!(
        outcome(&mut chain, 1, delegate(4_000_000)),
        Outcome::Success
    );
    assert_eq!(
        chain.view().delegation(&addr(VALIDATOR), &addr(1)).unwrap(),
        Amount(4_000_000)
    );
    assert_eq!(
        chain.validator(VALIDATOR).unwrap().delegated,
        Amount(4_000_000)
    );
    assert_eq!(
        outcome(&mut chain, 1, delegate(1)),
        Outcome::Success,
        "a second delegation adds up"
    );
    assert_eq!(
        outcome(
            &mut chain,
            1,
            TxKind::Delegate(Delegate {
                validator: addr(7),
                amount: Amount(1)
            })
        ),
        Outcome::Failed(FailReason::UnknownValidator { validator: addr(7) })
    );
    assert_eq!(
        outcome(&mut chain, 1, undelegate(5_000_000)),
        Outcome::Failed(FailReason::InsufficientStake {
            validator: addr(VALIDATOR),
            bonded: Amount(4_000_001),
            needed: Amount(5_000_000)
        })
    );
    assert_eq!(
        outcome(&mut chain, 1, undelegate(3_000_000)),
        Outcome::Success
    );
    assert_eq!(chain.view().unbondings(&addr(1)).unwrap().0.len(), 1);
    // Epoch 0, unbonding period 1 epoch: nothing released yet.
    assert_eq!(
        outcome(&mut chain, 1, TxKind::Withdraw),
        Outcome::Failed(FailReason::NothingToWithdraw { next: Some(1) })
    );
    chain.run_to(9);
    let before = chain.balance(1);
    assert_eq!(outcome(&mut chain, 1, TxKind::Withdraw), Outcome::Success);
    assert_eq!(chain.balance(1), before + 3_000_000 - MIN_FEE);
    assert!(chain.view().unbondings(&addr(1)).unwrap().0.is_empty());
    chain.assert_balanced();
}

#[test]
fn fees_and_block_rewards_are_paid_to_validator_and_delegators_at_the_epoch_end() {
    let mut p = params();
    p.block_reward = Amount(1_000_000);
    let mut chain = TestChain::from_genesis(&crate::genesis_with(p, &[(1, 20_000_000)]));
    // Key 1 delegates as much as the validator's self-stake: half the bond.
    let delegate = TxKind::Delegate(Delegate {
        validator: addr(VALIDATOR),
        amount: Amount(VALIDATOR_STAKE),
    });
    assert_eq!(outcome(&mut chain, 1, delegate), Outcome::Success);
    let after_delegating = chain.balance(1);
    chain.run_to(9);
    // 9 blocks of 1,000,000 reward plus one fee; 10 % commission, and the
    // rest split evenly between self-stake and the delegation.
    let total = 9 * 1_000_000 + MIN_FEE;
    let commission = total / 10;
    let delegator_share = (total - commission) / 2;
    assert_eq!(chain.balance(1), after_delegating + delegator_share);
    assert_eq!(chain.balance(VALIDATOR), total - delegator_share);
    assert_eq!(
        chain.validator(VALIDATOR).unwrap().pending_rewards,
        Amount(0)
    );
    assert_eq!(chain.view().supply().unwrap().issued, Amount(9 * 1_000_000));
    chain.assert_balanced();
}

fn signed_vote(key: &SecretKey, vote: Vote) -> SignedVote {
    let chain = ConsensusChainId::new(crate::CHAIN).unwrap();
    SignedVote::sign(&chain, 0, 0, vote, key)
}

#[test]
fn evidence_of_equivocation_slashes_and_jails_once() {
    let mut chain = TestChain::new(&[(1, 10_000_000)]);
    let delegate = TxKind::Delegate(Delegate {
        validator: addr(VALIDATOR),
        amount: Amount(2_000_000),
    });
    assert_eq!(outcome(&mut chain, 1, delegate), Outcome::Success);
    let key = bls_key(VALIDATOR);
    let evidence = sherd_consensus::Evidence {
        public_key: key.public_key(),
        first: signed_vote(
            &key,
            Vote::Notarize {
                view: 3,
                block_id: BlockId([1; 32]),
            },
        ),
        second: signed_vote(
            &key,
            Vote::Notarize {
                view: 3,
                block_id: BlockId([2; 32]),
            },
        ),
    };
    let bytes = evidence.encode();
    let kind = TxKind::Evidence(Evidence {
        bytes: bytes.clone(),
    });
    let supply_before = chain.view().supply().unwrap();
    assert_eq!(outcome(&mut chain, 1, kind.clone()), Outcome::Success);
    let v = chain.validator(VALIDATOR).unwrap();
    assert_eq!(v.self_stake, Amount(VALIDATOR_STAKE - VALIDATOR_STAKE / 20));
    assert_eq!(v.delegated, Amount(2_000_000 - 100_000));
    assert_eq!(v.jailed_until, 3);
    assert_eq!(
        chain.view().supply().unwrap().burned,
        Amount(supply_before.burned.base_units() + VALIDATOR_STAKE / 20 + 100_000)
    );
    // Once only.
    assert!(matches!(
        outcome(&mut chain, 1, kind),
        Outcome::Failed(FailReason::BadEvidence { .. })
    ));
    // Two equal votes are no evidence; garbage does not decode.
    let same = sherd_consensus::Evidence {
        public_key: key.public_key(),
        first: evidence.first,
        second: evidence.first,
    };
    for bytes in [same.encode(), vec![1, 2, 3]] {
        assert!(matches!(
            outcome(&mut chain, 1, TxKind::Evidence(Evidence { bytes })),
            Outcome::Failed(FailReason::BadEvidence { .. })
        ));
    }
    // Jailed: the only validator stays in the set (a chain needs one), but
    // a jailed validator is not chosen when another qualifies.
    chain.assert_balanced();
    let _ = bls::PublicKey::from_bytes(&key.public_key().to_bytes()).unwrap();
}
