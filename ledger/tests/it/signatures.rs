//! Signatures: what the signing message covers, `verify_strict`, and batch
//! verification.

use ed25519_dalek::{Signature, VerifyingKey};
use sherd_ledger::{
    tx::kind::{Delegate, Transfer},
    verify, verify_batch, verify_each, Address, Amount, ChainId, SignError, TxBody, TxKind,
    VerifyError,
};

use crate::{addr, key, signed, signed_on, CHAIN};

fn a_transfer(nonce: u64) -> sherd_ledger::Transaction {
    signed(
        1,
        nonce,
        1_000,
        TxKind::Transfer(Transfer {
            to: addr(2),
            amount: Amount(5),
        }),
    )
}

#[test]
fn a_signed_transaction_verifies_and_keeps_its_id() {
    let tx = a_transfer(0);
    let id = tx.id().unwrap();
    let v = verify(tx.clone()).unwrap();
    assert_eq!(v.id(), id);
    assert_eq!(v.tx(), &tx);
}

#[test]
fn changing_any_signed_field_breaks_the_signature() {
    let tx = a_transfer(0);
    let sender = tx.body.sender;
    let mut tampered = vec![tx.clone(), tx.clone(), tx.clone(), tx.clone()];
    tampered[0].body.nonce = 1;
    tampered[1].body.fee = Amount(999);
    tampered[2].body.chain_id = ChainId::new("sherd-other").unwrap();
    tampered[3].body.kind = TxKind::Transfer(Transfer {
        to: addr(3),
        amount: Amount(5),
    });
    for t in tampered {
        assert_eq!(verify(t), Err(VerifyError::BadSignature { sender }));
    }
}

#[test]
fn the_kind_tag_is_signed() {
    // Transfer and Delegate have the same payload layout (address, amount):
    // only the tag in the signing message tells them apart.
    let tx = a_transfer(0);
    let mut as_delegate = tx.clone();
    as_delegate.body.kind = TxKind::Delegate(Delegate {
        validator: addr(2),
        amount: Amount(5),
    });
    let mut w = sherd_ledger::codec::Writer::new();
    tx.body.kind.encode_payload(&mut w).unwrap();
    let mut w2 = sherd_ledger::codec::Writer::new();
    as_delegate.body.kind.encode_payload(&mut w2).unwrap();
    assert_eq!(w.into_bytes(), w2.into_bytes());
    assert!(matches!(
        verify(as_delegate),
        Err(VerifyError::BadSignature { .. })
    ));
}

#[test]
fn a_signature_for_another_chain_is_refused_here_by_its_chain_id() {
    let other = signed_on("sherd-other", 1, 0, 1_000, TxKind::Withdraw);
    // Valid on its own chain...
    assert!(verify(other.clone()).is_ok());
    // ...and worthless once relabelled for ours.
    let mut relabelled = other;
    relabelled.body.chain_id = ChainId::new(CHAIN).unwrap();
    assert!(matches!(
        verify(relabelled),
        Err(VerifyError::BadSignature { .. })
    ));
}

#[test]
fn signing_with_another_key_is_refused() {
    let body = TxBody {
        chain_id: ChainId::new(CHAIN).unwrap(),
        sender: addr(1),
        nonce: 0,
        fee: Amount(1),
        kind: TxKind::Withdraw,
    };
    assert_eq!(
        body.sign(&key(2)),
        Err(SignError::WrongKey {
            sender: addr(1),
            signer: addr(2)
        })
    );
}

#[test]
fn invalid_and_weak_keys_are_named() {
    let mut tx = a_transfer(0);
    // The identity point: a small-order key that "verifies" forged signatures
    // under plain verification.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    tx.body.sender = Address(identity);
    assert_eq!(
        verify(tx.clone()),
        Err(VerifyError::WeakPublicKey {
            sender: Address(identity)
        })
    );
    let not_a_point = (0u8..=255)
        .map(|b| [b; 32])
        .find(|bytes| VerifyingKey::from_bytes(bytes).is_err())
        .expect("some repeated byte is not a curve point");
    tx.body.sender = Address(not_a_point);
    assert_eq!(
        verify(tx),
        Err(VerifyError::BadPublicKey {
            sender: Address(not_a_point)
        })
    );
}

#[test]
fn a_small_order_r_is_refused_single_and_batched() {
    let mut tx = a_transfer(0);
    let mut bytes = [0u8; 64];
    bytes[0] = 1; // R = identity, s = 0
    tx.signature = Signature::from_bytes(&bytes);
    assert!(matches!(
        verify(tx.clone()),
        Err(VerifyError::BadSignature { .. })
    ));
    let err = verify_batch(vec![a_transfer(1), tx]).unwrap_err();
    assert_eq!(err.index, 1);
}

#[test]
fn a_non_canonical_s_or_an_r_off_the_curve_is_refused_single_and_batched() {
    // s + ℓ passes the plain equation; only the canonical-s check refuses it.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut tx = a_transfer(0);
    let mut bytes = tx.signature.to_bytes();
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(bytes[32 + i]) + u16::from(L[i]) + carry;
        bytes[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    tx.signature = Signature::from_bytes(&bytes);
    assert!(verify(tx.clone()).is_err());
    assert_eq!(verify_batch(vec![a_transfer(1), tx]).unwrap_err().index, 1);

    let mut tx = a_transfer(0);
    let mut bytes = tx.signature.to_bytes();
    let off_curve = (0u8..=255)
        .map(|b| [b; 32])
        .find(|b| VerifyingKey::from_bytes(b).is_err())
        .expect("some repeated byte is not a curve point");
    bytes[..32].copy_from_slice(&off_curve);
    tx.signature = Signature::from_bytes(&bytes);
    assert!(verify(tx.clone()).is_err());
    assert_eq!(verify_batch(vec![tx, a_transfer(1)]).unwrap_err().index, 0);
}

#[test]
fn verify_each_answers_every_transaction_in_order() {
    let mut txs: Vec<_> = (0..10).map(a_transfer).collect();
    txs[3].body.fee = Amount(2_000);
    txs[7].body.sender = Address([1; 32]);
    let verdicts = verify_each(txs.clone());
    assert_eq!(verdicts.len(), 10);
    for (i, (verdict, tx)) in verdicts.iter().zip(&txs).enumerate() {
        match i {
            3 => assert!(matches!(verdict, Err(VerifyError::BadSignature { .. }))),
            7 => assert!(verdict.is_err()),
            _ => assert_eq!(verdict.as_ref().unwrap().tx(), tx),
        }
    }
    assert!(verify_each(Vec::new()).is_empty());
}

#[test]
fn signatures_swapped_between_transactions_fail_the_batch() {
    let mut txs: Vec<_> = (0..8).map(a_transfer).collect();
    let first = txs[2].signature;
    txs[2].signature = txs[5].signature;
    txs[5].signature = first;
    assert_eq!(verify_batch(txs).unwrap_err().index, 2);
}

#[test]
fn a_batch_verifies_and_names_the_first_bad_signature() {
    let txs: Vec<_> = (0..64).map(a_transfer).collect();
    let verified = verify_batch(txs.clone()).unwrap();
    assert_eq!(verified.len(), 64);
    for (v, tx) in verified.iter().zip(&txs) {
        assert_eq!(v.tx(), tx);
        assert_eq!(v.id(), tx.id().unwrap());
    }
    let mut bad = txs.clone();
    bad[37].body.fee = Amount(2_000);
    bad[50].body.fee = Amount(2_000);
    let err = verify_batch(bad).unwrap_err();
    assert_eq!(err.index, 37);
    assert_eq!(err.error, VerifyError::BadSignature { sender: addr(1) });
    assert_eq!(verify_batch(Vec::new()).unwrap(), Vec::new());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 32, ..Default::default() })]

    #[test]
    fn batch_and_single_verification_agree(
        tampered in proptest::collection::vec(proptest::bool::weighted(0.1), 1..24),
    ) {
        let txs: Vec<_> = tampered
            .iter()
            .enumerate()
            .map(|(i, &bad)| {
                let mut tx = a_transfer(i as u64);
                if bad {
                    tx.body.nonce += 1_000;
                }
                tx
            })
            .collect();
        let single: Vec<bool> = txs.iter().map(|tx| verify(tx.clone()).is_ok()).collect();
        let first_bad = single.iter().position(|ok| !ok);
        match verify_batch(txs) {
            Ok(v) => {
                proptest::prop_assert_eq!(first_bad, None);
                proptest::prop_assert_eq!(v.len(), tampered.len());
            }
            Err(e) => proptest::prop_assert_eq!(Some(e.index), first_bad),
        }
    }
}
