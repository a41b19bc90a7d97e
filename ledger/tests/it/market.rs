//! The storage market through whole blocks: endpoints, advertisements,
//! contracts with provider acceptances, storage proofs against real
//! fragments, misses, loss, repair and settlement, and batches of proofs
//! judged entry by entry.

use ed25519_dalek::Signer;
use sherd_fragments::{file, Params};
use sherd_ledger::{
    state::{
        market::{acceptance_message, contract_id, per_gib_cost, repair_message, RepairedFragment},
        FragmentStatus, ProofPayment, ProofRejection, Receipt,
    },
    tx::kind::{
        AdvertiseCapacity, CreateContract, EndContract, ExtendContract, FragmentDeal, Multiaddr,
        ProofAnswer, RegisterEndpoint, RepairFragment, Role, SubmitProofs,
    },
    Amount, ChainId, FailReason, Hash, Outcome, TxKind,
};

use crate::{addr, key, tx, TestChain, CHAIN, MIN_FEE};

const CLIENT: u8 = 1;
const PROVIDERS: [u8; 3] = [3, 4, 5];
const SPARE: u8 = 6;
const PRICE: u64 = 1_000_000_000; // per GiB-epoch
const COLLATERAL: u64 = 4_000_000_000; // per GiB

/// An object of 40 KiB encoded 2 + 1 with 16 KiB shards: three fragment
/// files of 48 KiB of data each (3 stripes).
struct Object {
    root: Hash,
    fragment_size: u64,
    fragments: Vec<Vec<u8>>,
    roots: Vec<Hash>,
}

fn object() -> Object {
    let data: Vec<u8> = (0..40 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    let params = Params::with_shard_size(2, 1, 16 * 1024).unwrap();
    let mut outputs = vec![Vec::new(); 3];
    let (object, _key) = sherd_fragments::encode(
        &data[..],
        data.len() as u64,
        params,
        &mut outputs,
        &mut |_| {},
    )
    .unwrap();
    let footer = file::read_footer(&outputs[0]).unwrap();
    Object {
        root: Hash(object.root),
        fragment_size: footer.fragment_size,
        fragments: outputs,
        roots: object.fragment_roots.iter().map(|r| Hash(*r)).collect(),
    }
}

fn send(chain: &mut TestChain, from: u8, kind: TxKind) -> Outcome {
    send_for_receipt(chain, from, kind).outcome
}

/// Sends one transaction in a block of its own and answers its receipt.
fn send_for_receipt(chain: &mut TestChain, from: u8, kind: TxKind) -> Receipt {
    let nonce = chain.account(from).nonce;
    let result = chain.block(&[tx(from, nonce, kind)]);
    assert!(result.rejected.is_empty(), "{:?}", result.rejected);
    assert_eq!(result.receipts.len(), 1);
    result.receipts[0].clone()
}

fn become_provider(chain: &mut TestChain, i: u8, capacity: u64) {
    become_providers(chain, &[i], capacity);
}

/// Registers an endpoint and an advertisement for each of `providers`, all
/// in one block.
fn become_providers(chain: &mut TestChain, providers: &[u8], capacity: u64) {
    let mut txs = vec![];
    for &i in providers {
        let nonce = chain.account(i).nonce;
        let (endpoint, ad) = provider_txs(i, capacity);
        txs.push(tx(i, nonce, endpoint));
        txs.push(tx(i, nonce + 1, ad));
    }
    let result = chain.block(&txs);
    assert!(result.rejected.is_empty(), "{:?}", result.rejected);
    assert!(result
        .receipts
        .iter()
        .all(|r| r.outcome == Outcome::Success));
}

fn provider_txs(i: u8, capacity: u64) -> (TxKind, TxKind) {
    let endpoint = TxKind::RegisterEndpoint(RegisterEndpoint {
        role: Role::Provider,
        peer_id: vec![i; 38],
        multiaddrs: vec![Multiaddr(vec![4, 127, 0, 0, 1, 6, 0x1f, 0x90])],
    });
    let ad = TxKind::AdvertiseCapacity(AdvertiseCapacity {
        capacity_bytes: capacity,
        price_per_gib_epoch: Amount(PRICE),
        collateral_per_gib: Amount(COLLATERAL),
        min_duration_epochs: 1,
        max_duration_epochs: 10,
    });
    (endpoint, ad)
}

fn market() -> (TestChain, Object) {
    let mut funded = vec![(CLIENT, 1_000_000_000_000)];
    funded.extend(
        PROVIDERS
            .iter()
            .chain([SPARE].iter())
            .map(|&p| (p, 1_000_000_000)),
    );
    let mut chain = TestChain::new(&funded);
    become_providers(&mut chain, &PROVIDERS, 1 << 30);
    (chain, object())
}

/// A contract for `object` with `providers`, signed by each of them.
fn contract(chain: &TestChain, object: &Object, providers: &[u8], duration: u64) -> CreateContract {
    contract_at(object, providers, duration, chain.account(CLIENT).nonce)
}

/// The contract of [`contract`] sent as the client's transaction `nonce`.
fn contract_at(object: &Object, providers: &[u8], duration: u64, nonce: u64) -> CreateContract {
    let mut c = CreateContract {
        object_root: object.root,
        k: 2,
        m: 1,
        fragment_size: object.fragment_size,
        duration_epochs: duration,
        price_per_gib_epoch: Amount(PRICE),
        fragments: vec![],
    };
    let id = contract_id(&addr(CLIENT), nonce);
    let chain_id = ChainId::new(CHAIN).unwrap();
    let messages: Vec<Vec<u8>> = (0..providers.len())
        .map(|i| {
            acceptance_message(
                &chain_id,
                &id,
                &addr(CLIENT),
                &c,
                i as u32,
                &object.roots[i],
            )
            .unwrap()
        })
        .collect();
    c.fragments = providers
        .iter()
        .zip(&messages)
        .enumerate()
        .map(|(i, (&p, message))| FragmentDeal {
            root: object.roots[i],
            provider: addr(p),
            acceptance: key(p).sign(message),
        })
        .collect();
    c
}

fn prove(
    chain: &TestChain,
    object: &Object,
    contract: &Hash,
    index: u32,
    period: u64,
) -> ProofAnswer {
    let seed = chain.view().period_seed(period).unwrap().unwrap();
    let n_chunks = object.fragment_size / 1024;
    let chunk =
        sherd_fragments::challenge_index(&seed.0, &contract.0, index, period, n_chunks).unwrap();
    let (_, proof) = file::prove(&object.fragments[index as usize], chunk).unwrap();
    ProofAnswer {
        contract_id: *contract,
        fragment_index: index,
        period,
        proof: proof.to_bytes(),
    }
}

fn submit(chain: &mut TestChain, provider: u8, proofs: Vec<ProofAnswer>) -> Outcome {
    send(
        chain,
        provider,
        TxKind::SubmitProofs(SubmitProofs { proofs }),
    )
}

#[test]
fn a_contract_is_paid_per_proof_slashed_per_miss_repaired_and_settled() {
    let (mut chain, object) = market();
    let client_before = chain.balance(CLIENT);
    let c = contract(&chain, &object, &PROVIDERS, 2);
    let id = contract_id(&addr(CLIENT), chain.account(CLIENT).nonce);
    assert_eq!(
        send(&mut chain, CLIENT, TxKind::CreateContract(c)),
        Outcome::Success
    );
    let created_at = chain.height;
    let stored = chain.view().contract(&id).unwrap().unwrap();
    // 48 KiB at 1 token per GiB-epoch for 2 epochs, rounded up; collateral likewise.
    let escrow_each = (PRICE as u128 * object.fragment_size as u128 * 2).div_ceil(1 << 30) as u64;
    let collateral_each =
        (COLLATERAL as u128 * object.fragment_size as u128).div_ceil(1 << 30) as u64;
    assert_eq!(stored.fragments[0].escrow_left, Amount(escrow_each));
    assert_eq!(stored.fragments[0].collateral_left, Amount(collateral_each));
    assert_eq!(
        chain.balance(CLIENT),
        client_before - 3 * escrow_each - MIN_FEE
    );
    assert_eq!(stored.first_period, created_at / 5 + 1);
    assert_eq!(stored.last_period, stored.first_period + 3);
    assert_eq!(chain.view().live_contracts().unwrap(), [id], "live index");
    assert_eq!(
        chain.view().provider(&addr(3)).unwrap().unwrap().used_bytes,
        object.fragment_size
    );
    chain.assert_balanced();

    // Period 1 (blocks 5..=9, window 5..=7): its seed is known once block 5
    // is executed, so proofs go in blocks 6 and 7. Provider 3 proves, 4 and
    // 5 do not.
    chain.run_to(5);
    let p1 = 1;
    let provider_before = chain.balance(3);
    let answer = prove(&chain, &object, &id, 0, p1);
    assert_eq!(submit(&mut chain, 3, vec![answer]), Outcome::Success);
    assert_eq!(
        chain.balance(3),
        provider_before + escrow_each / 4 + 100 - MIN_FEE,
        "a quarter of the escrow (4 periods) plus the proof reward"
    );
    // Twice in a period, a wrong period and a wrong fragment are refused.
    let again = prove(&chain, &object, &id, 0, p1);
    assert!(matches!(
        submit(&mut chain, 3, vec![again]),
        Outcome::Failed(FailReason::BadProof { .. })
    ));
    let wrong_period = ProofAnswer {
        period: 2,
        ..prove(&chain, &object, &id, 1, p1)
    };
    assert!(matches!(
        submit(&mut chain, 4, vec![wrong_period]),
        Outcome::Failed(FailReason::BadProof { .. })
    ));
    let someone_elses = prove(&chain, &object, &id, 1, p1);
    assert!(matches!(
        submit(&mut chain, 3, vec![someone_elses]),
        Outcome::Failed(FailReason::BadProof { .. })
    ));
    // The window closed at block 7; provider 4 missed too.
    assert_eq!(chain.height, 9);
    let after = chain.view().contract(&id).unwrap().unwrap();
    assert_eq!(after.fragments[0].misses, 0);
    assert_eq!(after.fragments[1].misses, 1);
    assert_eq!(after.fragments[2].misses, 1);
    assert_eq!(
        after.fragments[2].collateral_left,
        Amount(collateral_each - collateral_each / 10)
    );
    chain.assert_balanced();

    // Period 2 (blocks 10..=14): nobody proves 5; 4 proves.
    chain.run_to(10);
    let answer = prove(&chain, &object, &id, 1, 2);
    assert_eq!(submit(&mut chain, 4, vec![answer]), Outcome::Success);
    chain.run_to(12);
    let after = chain.view().contract(&id).unwrap().unwrap();
    assert_eq!(after.fragments[2].status, FragmentStatus::Lost);
    assert_eq!(after.fragments[2].collateral_left, Amount(0));
    assert_eq!(
        after.fragments[0].status,
        FragmentStatus::Active,
        "{after:?}"
    );
    assert_eq!(
        chain.view().provider(&addr(5)).unwrap().unwrap().used_bytes,
        0
    );
    chain.assert_balanced();

    // The loss slashed the rest of the collateral: half to the client, and
    // half of the other half kept as the repair reward (the rest burned).
    let rest = collateral_each - collateral_each / 10;
    let forfeited = rest - rest / 2;
    let reward = forfeited / 2;
    assert_eq!(after.fragments[2].repair_reward, Amount(reward));
    assert_eq!(
        chain.view().lost_fragments().unwrap(),
        vec![(id, 2)],
        "the lost index lists it"
    );

    // Repair by a third party (the client is offline): provider 4 rebuilds
    // fragment 2 and the spare provider takes it over.
    become_provider(&mut chain, SPARE, 1 << 30);
    let contract_now = chain.view().contract(&id).unwrap().unwrap();
    let repaired = RepairedFragment::of(&contract_now, 2).unwrap();
    assert_eq!(repaired.root, object.roots[2]);
    let repairer = 4;
    let message =
        repair_message(&ChainId::new(CHAIN).unwrap(), &repaired, &addr(repairer)).unwrap();
    let repair = |index, acceptance| {
        TxKind::RepairFragment(RepairFragment {
            contract_id: id,
            fragment_index: index,
            new_provider: addr(SPARE),
            acceptance,
        })
    };
    // One block: three refusals, then the repair. The provider's acceptance
    // names the repairer, so the client's copy of it (as anyone could take
    // from the mempool) does not verify; nor does one signed by another
    // key; fragment 0 is not lost.
    chain.run_to(14);
    let before = chain.view().contract(&id).unwrap().unwrap();
    let repairer_before = chain.balance(repairer);
    let (n, c) = (chain.account(repairer).nonce, chain.account(CLIENT).nonce);
    let result = chain.block(&[
        tx(CLIENT, c, repair(2, key(SPARE).sign(&message))),
        tx(repairer, n, repair(2, key(3).sign(&message))),
        tx(repairer, n + 1, repair(0, key(SPARE).sign(&message))),
        tx(repairer, n + 2, repair(2, key(SPARE).sign(&message))),
    ]);
    assert!(result.rejected.is_empty(), "{:?}", result.rejected);
    let outcomes: Vec<&Outcome> = result.receipts.iter().map(|r| &r.outcome).collect();
    assert!(
        matches!(
            outcomes[..],
            [
                Outcome::Failed(FailReason::BadAcceptance { .. }),
                Outcome::Failed(FailReason::BadAcceptance { .. }),
                Outcome::Failed(FailReason::BadRepair { .. }),
                Outcome::Success,
            ]
        ),
        "{outcomes:?}"
    );
    assert_eq!(before.fragments[2].provider, addr(5));
    assert_eq!(
        chain.balance(repairer),
        repairer_before + reward - 3 * MIN_FEE,
        "the repairer is paid the reward (and three fees)"
    );
    let repaired = chain.view().contract(&id).unwrap().unwrap();
    assert_eq!(repaired.fragments[2].provider, addr(SPARE));
    assert_eq!(repaired.fragments[2].status, FragmentStatus::Active);
    assert_eq!(repaired.fragments[2].repair_reward, Amount::ZERO);
    assert!(chain.view().lost_fragments().unwrap().is_empty());
    chain.assert_balanced();

    // The spare provider took the fragment in block 15, so it is challenged
    // from period 4 (blocks 20..=24) on.
    assert_eq!(chain.height, 15);
    assert_eq!(
        chain.view().contract(&id).unwrap().unwrap().fragments[2].since,
        15
    );
    chain.run_to(20);
    let answer = prove(&chain, &object, &id, 2, 4);
    assert_eq!(submit(&mut chain, SPARE, vec![answer]), Outcome::Success);
    chain.assert_balanced();

    // Settlement after the window of period 4 (block 22).
    chain.run_to(22);
    let ended = chain.view().contract(&id).unwrap().unwrap();
    assert!(ended
        .fragments
        .iter()
        .all(|f| f.status == FragmentStatus::Ended
            && f.escrow_left.is_zero()
            && f.collateral_left.is_zero()));
    for p in [3, 4, SPARE] {
        assert_eq!(
            chain.view().provider(&addr(p)).unwrap().unwrap().used_bytes,
            0
        );
    }
    assert!(
        chain.view().live_contracts().unwrap().is_empty(),
        "a settled contract leaves the live index"
    );
    assert_eq!(
        chain.view().contracts().unwrap().len(),
        1,
        "and stays ended"
    );
    chain.assert_balanced();
}

#[test]
fn contracts_that_cannot_be_honoured_fail_with_their_reason() {
    let (mut chain, object) = market();
    let mut c = contract(&chain, &object, &[3, 3, 4], 2);
    assert_eq!(
        send(&mut chain, CLIENT, TxKind::CreateContract(c.clone())),
        Outcome::Failed(FailReason::DuplicateProvider {
            provider: addr(3),
            first: 0,
            second: 1
        })
    );
    // Not a provider.
    c = contract(&chain, &object, &[3, 4, 7], 2);
    assert_eq!(
        send(&mut chain, CLIENT, TxKind::CreateContract(c)),
        Outcome::Failed(FailReason::NotAProvider { provider: addr(7) })
    );
    // Too little capacity.
    become_provider(&mut chain, SPARE, 1024);
    c = contract(&chain, &object, &[3, 4, SPARE], 2);
    assert_eq!(
        send(&mut chain, CLIENT, TxKind::CreateContract(c)),
        Outcome::Failed(FailReason::InsufficientCapacity {
            provider: addr(SPARE),
            free: 1024,
            needed: object.fragment_size
        })
    );
    // A duration outside the providers' range.
    c = contract(&chain, &object, &PROVIDERS, 11);
    assert!(matches!(
        send(&mut chain, CLIENT, TxKind::CreateContract(c)),
        Outcome::Failed(FailReason::TermsRefused { .. })
    ));
    // An acceptance signed for another contract (the id covers the nonce).
    c = contract(&chain, &object, &PROVIDERS, 2);
    let nonce = chain.account(CLIENT).nonce;
    chain.block(&[tx(CLIENT, nonce, TxKind::Withdraw)]);
    assert!(matches!(
        send(&mut chain, CLIENT, TxKind::CreateContract(c)),
        Outcome::Failed(FailReason::BadAcceptance { index: 0, .. })
    ));
    // Nothing was locked by any of these.
    for p in PROVIDERS {
        assert_eq!(
            chain.view().provider(&addr(p)).unwrap().unwrap().used_bytes,
            0
        );
    }
    assert!(chain.view().contracts().unwrap().is_empty());
    chain.assert_balanced();
}

#[test]
fn a_proof_of_an_unchallenged_chunk_is_refused() {
    let (mut chain, object) = market();
    let c = contract(&chain, &object, &PROVIDERS, 1);
    let id = contract_id(&addr(CLIENT), chain.account(CLIENT).nonce);
    assert_eq!(
        send(&mut chain, CLIENT, TxKind::CreateContract(c)),
        Outcome::Success
    );
    chain.run_to(5);
    let right = prove(&chain, &object, &id, 0, 1);
    let n_chunks = object.fragment_size / 1024;
    let seed = chain.view().period_seed(1).unwrap().unwrap();
    let challenged = sherd_fragments::challenge_index(&seed.0, &id.0, 0, 1, n_chunks).unwrap();
    let other = (challenged + 1) % n_chunks;
    let (_, proof) = file::prove(&object.fragments[0], other).unwrap();
    let wrong = ProofAnswer {
        proof: proof.to_bytes(),
        ..right.clone()
    };
    assert!(matches!(
        submit(&mut chain, 3, vec![wrong]),
        Outcome::Failed(FailReason::BadProof { index: 0, .. })
    ));
    let mut corrupt = right.clone();
    corrupt.proof[10] ^= 1;
    assert!(matches!(
        submit(&mut chain, 3, vec![corrupt]),
        Outcome::Failed(FailReason::BadProof { .. })
    ));
    // The window of period 1 is over (blocks 6 and 7 were used); in period 2
    // the right proof of the right chunk is accepted.
    chain.run_to(10);
    let right = prove(&chain, &object, &id, 0, 2);
    assert_eq!(submit(&mut chain, 3, vec![right]), Outcome::Success);
}

/// Two contracts for the same object with the same providers, created in
/// blocks 2 and 3 (period 0), so each provider holds fragment `i` of both
/// and is first challenged in period 1.
fn two_contracts(chain: &mut TestChain, object: &Object) -> (Hash, Hash) {
    let mut ids = [Hash::default(); 2];
    for id in &mut ids {
        let c = contract(chain, object, &PROVIDERS, 2);
        *id = contract_id(&addr(CLIENT), chain.account(CLIENT).nonce);
        assert_eq!(
            send(chain, CLIENT, TxKind::CreateContract(c)),
            Outcome::Success
        );
    }
    assert_eq!(chain.height, 3);
    (ids[0], ids[1])
}

/// A well-formed proof of the chunk after the challenged one.
fn prove_wrong_chunk(
    chain: &TestChain,
    object: &Object,
    contract: &Hash,
    index: u32,
    period: u64,
) -> (ProofAnswer, u64) {
    let seed = chain.view().period_seed(period).unwrap().unwrap();
    let n_chunks = object.fragment_size / 1024;
    let challenged =
        sherd_fragments::challenge_index(&seed.0, &contract.0, index, period, n_chunks).unwrap();
    let (_, proof) = file::prove(
        &object.fragments[index as usize],
        (challenged + 1) % n_chunks,
    )
    .unwrap();
    let answer = ProofAnswer {
        proof: proof.to_bytes(),
        ..prove(chain, object, contract, index, period)
    };
    (answer, challenged)
}

fn escrow_each(object: &Object) -> u64 {
    (PRICE as u128 * object.fragment_size as u128 * 2).div_ceil(1 << 30) as u64
}

fn fragment(chain: &TestChain, id: &Hash, index: usize) -> sherd_ledger::state::ContractFragment {
    chain.view().contract(id).unwrap().unwrap().fragments[index]
}

#[test]
fn a_wrong_chunk_in_a_batch_does_not_forfeit_the_good_proof() {
    let (mut chain, object) = market();
    let (a, b) = two_contracts(&mut chain, &object);
    chain.run_to(5);
    let before = chain.balance(3);
    let good = prove(&chain, &object, &a, 0, 1);
    let (wrong, challenged) = prove_wrong_chunk(&chain, &object, &b, 0, 1);
    let receipt = send_for_receipt(
        &mut chain,
        3,
        TxKind::SubmitProofs(SubmitProofs {
            proofs: vec![wrong, good],
        }),
    );
    assert_eq!(receipt.outcome, Outcome::Success);
    assert_eq!(receipt.proofs.len(), 2);
    let (refused, accepted) = (&receipt.proofs[0], &receipt.proofs[1]);
    assert_eq!(
        (refused.index, refused.contract, refused.fragment),
        (0, b, 0)
    );
    assert!(
        matches!(
            refused.result,
            Err(ProofRejection::WrongChunk { chunk, .. }) if chunk == challenged
        ),
        "{refused}"
    );
    assert_eq!(
        (accepted.index, accepted.contract, accepted.fragment),
        (1, a, 0)
    );
    let paid = ProofPayment {
        escrow: Amount(escrow_each(&object) / 4),
        reward: Amount(100),
    };
    assert_eq!(accepted.result, Ok(paid));
    assert!(accepted.is_accepted() && !refused.is_accepted());
    assert_eq!(
        chain.balance(3),
        before + paid.escrow.base_units() + 100 - MIN_FEE
    );
    assert_eq!(fragment(&chain, &a, 0).proven, 2);
    assert_eq!(fragment(&chain, &b, 0).proven, 0);
    assert_eq!(
        fragment(&chain, &a, 0).accepted,
        1,
        "the accepted proof is counted"
    );
    assert_eq!(fragment(&chain, &b, 0).accepted, 0);
    assert_eq!(
        refused.to_string(),
        format!(
            "proof 0 ({b} fragment 0) is refused: {}",
            refused.result.as_ref().unwrap_err()
        )
    );

    // At the end of the window only the refused one is a miss.
    chain.run_to(7);
    assert_eq!(fragment(&chain, &a, 0).misses, 0);
    assert_eq!(fragment(&chain, &b, 0).misses, 1);
    chain.assert_balanced();
}

#[test]
fn a_stale_entry_does_not_make_the_others_miss() {
    let (mut chain, object) = market();
    let (a, b) = two_contracts(&mut chain, &object);
    // Period 1: provider 3 proves fragment 0 of both contracts.
    chain.run_to(5);
    let both = vec![
        prove(&chain, &object, &a, 0, 1),
        prove(&chain, &object, &b, 0, 1),
    ];
    let receipt = send_for_receipt(
        &mut chain,
        3,
        TxKind::SubmitProofs(SubmitProofs { proofs: both }),
    );
    assert_eq!(receipt.outcome, Outcome::Success);
    assert!(receipt.proofs.iter().all(|v| v.is_accepted()));

    // Period 2 (blocks 10..=14, window 10..=12): a batch that starts with a
    // proof left over from period 1 and then answers period 2 for `a`.
    chain.run_to(10);
    let stale = prove(&chain, &object, &b, 0, 1);
    let fresh = prove(&chain, &object, &a, 0, 2);
    let receipt = send_for_receipt(
        &mut chain,
        3,
        TxKind::SubmitProofs(SubmitProofs {
            proofs: vec![stale, fresh],
        }),
    );
    assert_eq!(receipt.outcome, Outcome::Success);
    assert_eq!(
        receipt.proofs[0].result,
        Err(ProofRejection::WrongPeriod {
            current: 2,
            found: 1
        })
    );
    assert!(receipt.proofs[1].is_accepted());
    chain.run_to(12);
    assert_eq!(fragment(&chain, &a, 0).misses, 0, "the fresh proof counted");
    assert_eq!(
        fragment(&chain, &b, 0).misses,
        1,
        "period 2 of b was not answered"
    );
    chain.assert_balanced();
}

#[test]
fn a_batch_of_only_bad_entries_fails_with_the_first_reason_and_pays_the_fee() {
    let (mut chain, object) = market();
    let (a, b) = two_contracts(&mut chain, &object);
    chain.run_to(5);
    let before = chain.account(3);
    let supply = chain.view().supply().unwrap();
    let (wrong, challenged) = prove_wrong_chunk(&chain, &object, &a, 0, 1);
    let someone_elses = prove(&chain, &object, &b, 1, 1);
    let receipt = send_for_receipt(
        &mut chain,
        3,
        TxKind::SubmitProofs(SubmitProofs {
            proofs: vec![wrong, someone_elses],
        }),
    );
    let Outcome::Failed(FailReason::BadProof {
        index: 0,
        contract,
        fragment: 0,
        reason: ProofRejection::WrongChunk { chunk, .. },
    }) = receipt.outcome
    else {
        panic!("{:?}", receipt.outcome);
    };
    assert_eq!((contract, chunk), (a, challenged));
    assert_eq!(receipt.proofs.len(), 2, "every entry has its verdict");
    assert_eq!(
        receipt.proofs[1].result,
        Err(ProofRejection::NotTheProvider { provider: addr(4) })
    );
    assert_eq!(receipt.fee, Amount(MIN_FEE));
    let after = chain.account(3);
    assert_eq!(
        after.balance.base_units(),
        before.balance.base_units() - MIN_FEE
    );
    assert_eq!(after.nonce, before.nonce + 1);
    assert_eq!(chain.view().supply().unwrap().issued, supply.issued);
    assert_eq!(fragment(&chain, &a, 0).proven, 0);
    assert_eq!(fragment(&chain, &a, 0).accepted, 0);

    // An empty batch fails too, with no verdict.
    let receipt = send_for_receipt(
        &mut chain,
        3,
        TxKind::SubmitProofs(SubmitProofs { proofs: vec![] }),
    );
    assert!(matches!(
        receipt.outcome,
        Outcome::Failed(FailReason::BadProof {
            reason: ProofRejection::EmptyBatch,
            ..
        })
    ));
    assert!(receipt.proofs.is_empty());
    assert_eq!(chain.balance(3), before.balance.base_units() - 2 * MIN_FEE);
    chain.assert_balanced();
}

#[test]
fn a_duplicate_entry_is_refused_and_the_first_counts() {
    let (mut chain, object) = market();
    let (a, _) = two_contracts(&mut chain, &object);
    chain.run_to(5);
    let before = chain.balance(3);
    let answer = prove(&chain, &object, &a, 0, 1);
    let receipt = send_for_receipt(
        &mut chain,
        3,
        TxKind::SubmitProofs(SubmitProofs {
            proofs: vec![answer.clone(), answer],
        }),
    );
    assert_eq!(receipt.outcome, Outcome::Success);
    assert!(receipt.proofs[0].is_accepted());
    assert_eq!(receipt.proofs[1].result, Err(ProofRejection::AlreadyProven));
    assert_eq!(
        chain.balance(3),
        before + escrow_each(&object) / 4 + 100 - MIN_FEE,
        "paid once"
    );
    assert_eq!(
        fragment(&chain, &a, 0).escrow_left.base_units(),
        escrow_each(&object) - escrow_each(&object) / 4
    );
    chain.assert_balanced();
}

#[test]
fn an_extension_adds_escrow_and_periods_and_an_early_end_settles_at_once() {
    let (mut chain, object) = market();
    let c = contract(&chain, &object, &PROVIDERS, 2);
    let id = contract_id(&addr(CLIENT), chain.account(CLIENT).nonce);
    assert_eq!(
        send(&mut chain, CLIENT, TxKind::CreateContract(c)),
        Outcome::Success
    );
    let created = chain.view().contract(&id).unwrap().unwrap();
    let escrow_each = created.fragments[0].escrow_left.0;
    let per_epoch = per_gib_cost(Amount(PRICE), object.fragment_size, 1)
        .unwrap()
        .0;
    let extend = |epochs| {
        TxKind::ExtendContract(ExtendContract {
            contract_id: id,
            epochs,
        })
    };
    let end = TxKind::EndContract(EndContract { contract_id: id });

    // Refused, with nothing changed: another sender, 0 epochs, and a
    // provider whose advertised longest term no longer covers the contract
    // (2 epochs are left, 3 after the extension). All in block 4.
    let shorter = TxKind::AdvertiseCapacity(AdvertiseCapacity {
        capacity_bytes: 1 << 30,
        price_per_gib_epoch: Amount(PRICE),
        collateral_per_gib: Amount(COLLATERAL),
        min_duration_epochs: 1,
        max_duration_epochs: 2,
    });
    assert_eq!(send(&mut chain, 5, shorter), Outcome::Success);
    let client_before = chain.balance(CLIENT);
    let (n3, nc) = (chain.account(3).nonce, chain.account(CLIENT).nonce);
    let result = chain.block(&[
        tx(3, n3, extend(1)),
        tx(CLIENT, nc, extend(0)),
        tx(CLIENT, nc + 1, extend(1)),
    ]);
    let outcomes: Vec<String> = result
        .receipts
        .iter()
        .map(|r| format!("{:?}", r.outcome))
        .collect();
    for (outcome, expected) in
        outcomes
            .iter()
            .zip(["BadContractChange", "BadContractChange", "TermsRefused"])
    {
        assert!(outcome.contains(expected), "{outcome} is not {expected}");
    }
    assert_eq!(chain.view().contract(&id).unwrap().unwrap(), created);
    assert_eq!(chain.balance(CLIENT), client_before - 2 * MIN_FEE);

    // Block 5 (period 1): provider 5 stores for 10 epochs again, and the
    // contract gets one more epoch: two more periods, one epoch's escrow
    // per fragment.
    assert_eq!(chain.height, 4);
    let (_, ad) = provider_txs(5, 1 << 30);
    let client_before = chain.balance(CLIENT);
    let (n5, nc) = (chain.account(5).nonce, chain.account(CLIENT).nonce);
    let result = chain.block(&[tx(5, n5, ad), tx(CLIENT, nc, extend(1))]);
    assert!(result
        .receipts
        .iter()
        .all(|r| r.outcome == Outcome::Success));
    assert_eq!(
        chain.balance(CLIENT),
        client_before - 3 * per_epoch - MIN_FEE
    );
    let extended = chain.view().contract(&id).unwrap().unwrap();
    assert_eq!(extended.last_period, created.last_period + 2);
    assert!(extended
        .fragments
        .iter()
        .all(|f| f.escrow_left.0 == escrow_each + per_epoch));
    chain.assert_balanced();

    // Block 6: a proof is paid over the six periods now left.
    let p3 = chain.balance(3);
    let answer = prove(&chain, &object, &id, 0, 1);
    assert_eq!(submit(&mut chain, 3, vec![answer]), Outcome::Success);
    let left = escrow_each + per_epoch;
    assert_eq!(chain.balance(3), p3 + left / 6 + 100 - MIN_FEE);

    // Block 7, before period 1's misses: the client ends it. Provider 3
    // was paid for this period already; 4 and 5 keep this period's share;
    // the rest of the escrow comes back; collateral returns; room is freed.
    let before: Vec<u64> = [CLIENT, 3, 4, 5]
        .iter()
        .map(|&a| chain.balance(a))
        .collect();
    let now = chain.view().contract(&id).unwrap().unwrap();
    let collateral = now.fragments[0].collateral_left.0;
    assert_eq!(send(&mut chain, CLIENT, end.clone()), Outcome::Success);
    assert_eq!(chain.height, 7);
    let share = left / 6;
    let refund = now.fragments[0].escrow_left.0 + 2 * (left - share);
    let after: Vec<u64> = [CLIENT, 3, 4, 5]
        .iter()
        .map(|&a| chain.balance(a))
        .collect();
    assert_eq!(
        after[0],
        before[0] + refund - MIN_FEE,
        "the client's refund"
    );
    assert_eq!(after[1], before[1] + collateral, "3 was paid this period");
    assert_eq!(after[2], before[2] + collateral + share);
    assert_eq!(after[3], before[3] + collateral + share);
    let ended = chain.view().contract(&id).unwrap().unwrap();
    assert!(ended
        .fragments
        .iter()
        .all(|f| f.status == FragmentStatus::Ended
            && f.escrow_left.is_zero()
            && f.collateral_left.is_zero()));
    for p in PROVIDERS {
        assert_eq!(
            chain.view().provider(&addr(p)).unwrap().unwrap().used_bytes,
            0
        );
    }
    chain.assert_balanced();

    // Ending or extending it again is refused; past its old settlement
    // nothing more moves.
    for kind in [end, extend(1)] {
        assert!(matches!(
            send(&mut chain, CLIENT, kind),
            Outcome::Failed(FailReason::BadContractChange { .. })
        ));
    }
    let settled_before = chain.balance(CLIENT);
    chain.run_to(40);
    assert_eq!(chain.balance(CLIENT), settled_before);
    chain.assert_balanced();
}

/// Contracts in the state of [`parallel_and_sequential_checks_agree`].
const MANY: usize = 40;

/// [`MANY`] contracts for one object with [`PROVIDERS`], created in block 2,
/// and the chain run to block 5, the first block of their first challenged
/// period (whose window runs to block 7): (chain, object, contract ids).
/// Built once.
fn many_contracts() -> &'static (TestChain, Object, Vec<Hash>) {
    static STATE: std::sync::OnceLock<(TestChain, Object, Vec<Hash>)> = std::sync::OnceLock::new();
    STATE.get_or_init(|| {
        let (mut chain, object) = market();
        let first = chain.account(CLIENT).nonce;
        let nonces = first..first + MANY as u64;
        let ids = nonces
            .clone()
            .map(|n| contract_id(&addr(CLIENT), n))
            .collect();
        let txs: Vec<_> = nonces
            .map(|n| {
                let c = contract_at(&object, &PROVIDERS, 2, n);
                tx(CLIENT, n, TxKind::CreateContract(c))
            })
            .collect();
        let result = chain.block(&txs);
        assert!(result
            .receipts
            .iter()
            .all(|r| r.outcome == Outcome::Success));
        chain.run_to(5);
        (chain, object, ids)
    })
}

/// An entry of a generated batch; `usize`s pick a contract.
#[derive(Debug, Clone)]
enum Entry {
    /// The right proof of the sender's fragment.
    Good(usize),
    /// A real proof of the chunk after the challenged one.
    WrongChunk(usize),
    /// The right proof, one byte flipped.
    Corrupt(usize),
    /// The right proof, labelled with the previous period.
    Stale(usize),
    /// The right proof of the fragment the next provider stores.
    NotMine(usize),
    /// A fragment the contract does not have.
    NoFragment(usize),
    /// A contract that does not exist.
    NoContract(u8),
}

fn entry() -> impl proptest::strategy::Strategy<Value = Entry> {
    use proptest::prelude::*;
    let pick = 0..MANY;
    prop_oneof![
        8 => pick.clone().prop_map(Entry::Good),
        1 => pick.clone().prop_map(Entry::WrongChunk),
        1 => pick.clone().prop_map(Entry::Corrupt),
        1 => pick.clone().prop_map(Entry::Stale),
        1 => pick.clone().prop_map(Entry::NotMine),
        1 => pick.prop_map(Entry::NoFragment),
        1 => any::<u8>().prop_map(Entry::NoContract),
    ]
}

/// `entry` as sent by `PROVIDERS[provider]` in period 1.
fn answer(
    chain: &TestChain,
    object: &Object,
    ids: &[Hash],
    provider: usize,
    entry: &Entry,
) -> ProofAnswer {
    let index = provider as u32;
    match *entry {
        Entry::Good(c) => prove(chain, object, &ids[c], index, 1),
        Entry::WrongChunk(c) => prove_wrong_chunk(chain, object, &ids[c], index, 1).0,
        Entry::Corrupt(c) => {
            let mut answer = prove(chain, object, &ids[c], index, 1);
            answer.proof[10] ^= 1;
            answer
        }
        Entry::Stale(c) => ProofAnswer {
            period: 0,
            ..prove(chain, object, &ids[c], index, 1)
        },
        Entry::NotMine(c) => prove(chain, object, &ids[c], (index + 1) % 3, 1),
        Entry::NoFragment(c) => ProofAnswer {
            fragment_index: 3,
            ..prove(chain, object, &ids[c], index, 1)
        },
        Entry::NoContract(n) => ProofAnswer {
            contract_id: Hash([n; 32]),
            ..prove(chain, object, &ids[0], index, 1)
        },
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// A block of large batches (some over the size checked on every
    /// core) with wrong, stale, foreign, duplicate and unknown entries,
    /// from three providers, the first sending two batches around a
    /// transfer (which writes the kept contracts back mid-block): checked
    /// in parallel or one entry at a time, the same receipts, verdicts,
    /// writes and root.
    #[test]
    fn parallel_and_sequential_checks_agree(
        batches in proptest::collection::vec(proptest::collection::vec(entry(), 1..90), 4),
        transfer in proptest::prelude::any::<bool>(),
    ) {
        let (chain, object, ids) = many_contracts();
        let mut txs = vec![];
        let mut nonces: Vec<u64> = PROVIDERS.iter().map(|&p| chain.account(p).nonce).collect();
        for (b, batch) in batches.iter().enumerate() {
            let provider = b % 3;
            let proofs = batch
                .iter()
                .map(|e| answer(chain, object, ids, provider, e))
                .collect();
            let p = PROVIDERS[provider];
            txs.push(tx(p, nonces[provider], TxKind::SubmitProofs(SubmitProofs { proofs })));
            nonces[provider] += 1;
            if b == 1 && transfer {
                txs.push(crate::transfer(CLIENT, SPARE, chain.account(CLIENT).nonce, MIN_FEE, 1));
            }
        }
        let run = |checks| {
            let mut again = chain.clone();
            let result = again.block_with(&txs, checks);
            again.assert_balanced();
            result
        };
        let parallel = run(sherd_ledger::ProofChecks::Parallel);
        let sequential = run(sherd_ledger::ProofChecks::Sequential);
        proptest::prop_assert!(parallel.rejected.is_empty());
        proptest::prop_assert_eq!(parallel, sequential);
    }
}

#[test]
fn the_parallel_check_property_reaches_every_verdict() {
    // The batches the property generates, on one fixed batch: accepted,
    // already proven (in the batch and from an earlier transaction),
    // and each refusal, in a batch large enough to be checked on every core.
    let (chain, object, ids) = many_contracts();
    let good = MANY - 6;
    let mut entries: Vec<Entry> = (0..good).map(Entry::Good).collect();
    entries.extend([
        Entry::Good(0),
        Entry::WrongChunk(good),
        Entry::Corrupt(good + 1),
        Entry::Stale(good + 2),
        Entry::NotMine(good + 3),
        Entry::NoFragment(good + 4),
        Entry::NoContract(6),
    ]);
    let proofs: Vec<ProofAnswer> = entries
        .iter()
        .map(|e| answer(chain, object, ids, 0, e))
        .collect();
    let first = tx(
        3,
        chain.account(3).nonce,
        TxKind::SubmitProofs(SubmitProofs {
            proofs: proofs.clone(),
        }),
    );
    let second = tx(
        3,
        chain.account(3).nonce + 1,
        TxKind::SubmitProofs(SubmitProofs {
            proofs: proofs[..1].to_vec(),
        }),
    );
    let mut again = chain.clone();
    let result = again.block(&[first, second]);
    let verdicts = &result.receipts[0].proofs;
    assert!(verdicts[..good].iter().all(|v| v.is_accepted()));
    let reasons: Vec<_> = verdicts[good..]
        .iter()
        .map(|v| v.result.clone().unwrap_err())
        .collect();
    assert_eq!(reasons[0], ProofRejection::AlreadyProven);
    assert!(matches!(reasons[1], ProofRejection::WrongChunk { .. }));
    assert!(matches!(
        reasons[2],
        ProofRejection::Undecodable(_) | ProofRejection::WrongChunk { .. }
    ));
    assert_eq!(
        reasons[3],
        ProofRejection::WrongPeriod {
            current: 1,
            found: 0
        }
    );
    assert!(matches!(reasons[4], ProofRejection::NotTheProvider { .. }));
    assert_eq!(reasons[5], ProofRejection::UnknownFragment { fragments: 3 });
    assert_eq!(reasons[6], ProofRejection::UnknownContract);
    assert_eq!(
        result.receipts[1].proofs[0].result,
        Err(ProofRejection::AlreadyProven),
        "proven by the block's earlier transaction"
    );
    again.assert_balanced();
}
