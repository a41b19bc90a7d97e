//! The canonical codec on transactions: round trips of every kind, and
//! malformed bytes rejected with the field named.

use ed25519_dalek::Signature;
use proptest::prelude::*;
use sherd_ledger::{
    codec::{DecodeError, CODEC_VERSION},
    tx::{
        kind::{
            AdvertiseCapacity, CreateContract, Delegate, EndContract, Evidence, ExtendContract,
            FragmentDeal, Multiaddr, ProofAnswer, RegisterEndpoint, RepairFragment, Role, Stake,
            SubmitProofs, Transfer, Undelegate, MAX_CONTRACT_FRAGMENTS, MAX_EVIDENCE_LEN,
            MAX_PEER_ID_LEN,
        },
        MAX_TX_LEN,
    },
    Address, Amount, ChainId, Hash, Transaction, TxBody, TxKind,
};

use crate::{addr, signed};

fn bytes32() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

fn signature() -> impl Strategy<Value = Signature> {
    (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(a, b)| {
        let mut s = [0u8; 64];
        s[..32].copy_from_slice(&a);
        s[32..].copy_from_slice(&b);
        Signature::from_bytes(&s)
    })
}

fn small_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=max)
}

/// Every kind, with fields anywhere in their ranges (sequences kept short).
pub fn any_kind() -> impl Strategy<Value = TxKind> {
    let amount = any::<u64>().prop_map(Amount);
    prop_oneof![
        (bytes32(), amount.clone()).prop_map(|(to, amount)| TxKind::Transfer(Transfer {
            to: Address(to),
            amount
        })),
        (amount.clone(), bytes32(), bytes32(), any::<u16>()).prop_map(|(amount, a, b, c)| {
            let mut bls_pubkey = [0u8; 48];
            bls_pubkey[..32].copy_from_slice(&a);
            let mut pop = [0u8; 96];
            pop[64..].copy_from_slice(&b);
            TxKind::Stake(Stake {
                amount,
                bls_pubkey,
                pop,
                commission_bps: c,
            })
        }),
        (bytes32(), amount.clone()).prop_map(|(v, amount)| TxKind::Delegate(Delegate {
            validator: Address(v),
            amount
        })),
        (bytes32(), amount.clone()).prop_map(|(v, amount)| TxKind::Undelegate(Undelegate {
            validator: Address(v),
            amount
        })),
        Just(TxKind::Withdraw),
        (
            prop::bool::ANY,
            small_bytes(MAX_PEER_ID_LEN),
            prop::collection::vec(small_bytes(40), 0..4)
        )
            .prop_map(
                |(v, peer_id, addrs)| TxKind::RegisterEndpoint(RegisterEndpoint {
                    role: if v { Role::Validator } else { Role::Provider },
                    peer_id,
                    multiaddrs: addrs.into_iter().map(Multiaddr).collect(),
                })
            ),
        (any::<[u64; 5]>()).prop_map(|[a, b, c, d, e]| TxKind::AdvertiseCapacity(
            AdvertiseCapacity {
                capacity_bytes: a,
                price_per_gib_epoch: Amount(b),
                collateral_per_gib: Amount(c),
                min_duration_epochs: d,
                max_duration_epochs: e,
            }
        )),
        (
            bytes32(),
            any::<(u16, u16, u64, u64, u64)>(),
            prop::collection::vec((bytes32(), bytes32(), signature()), 0..5)
        )
            .prop_map(
                |(root, (k, m, size, dur, price), deals)| TxKind::CreateContract(CreateContract {
                    object_root: Hash(root),
                    k,
                    m,
                    fragment_size: size,
                    duration_epochs: dur,
                    price_per_gib_epoch: Amount(price),
                    fragments: deals
                        .into_iter()
                        .map(|(r, p, s)| FragmentDeal {
                            root: Hash(r),
                            provider: Address(p),
                            acceptance: s,
                        })
                        .collect(),
                })
            ),
        prop::collection::vec(
            (bytes32(), any::<u32>(), any::<u64>(), small_bytes(200)),
            0..4
        )
        .prop_map(|answers| TxKind::SubmitProofs(SubmitProofs {
            proofs: answers
                .into_iter()
                .map(|(c, i, p, proof)| ProofAnswer {
                    contract_id: Hash(c),
                    fragment_index: i,
                    period: p,
                    proof,
                })
                .collect(),
        })),
        (bytes32(), any::<u32>(), bytes32(), signature()).prop_map(|(c, i, p, s)| {
            TxKind::RepairFragment(RepairFragment {
                contract_id: Hash(c),
                fragment_index: i,
                new_provider: Address(p),
                acceptance: s,
            })
        }),
        small_bytes(300).prop_map(|bytes| TxKind::Evidence(Evidence { bytes })),
        bytes32().prop_map(|c| TxKind::EndContract(EndContract {
            contract_id: Hash(c)
        })),
        (bytes32(), any::<u64>()).prop_map(|(c, epochs)| TxKind::ExtendContract(ExtendContract {
            contract_id: Hash(c),
            epochs
        })),
    ]
}

fn any_tx() -> impl Strategy<Value = Transaction> {
    (
        "[!-~]{1,32}",
        bytes32(),
        any::<u64>(),
        any::<u64>(),
        any_kind(),
        signature(),
    )
        .prop_map(|(chain, sender, nonce, fee, kind, signature)| Transaction {
            body: TxBody {
                chain_id: ChainId::new(&chain).unwrap(),
                sender: Address(sender),
                nonce,
                fee: Amount(fee),
                kind,
            },
            signature,
        })
}

proptest! {
    #[test]
    fn every_transaction_round_trips(tx in any_tx()) {
        let bytes = tx.to_bytes().unwrap();
        prop_assert_eq!(bytes[0], CODEC_VERSION);
        prop_assert_eq!(Transaction::from_bytes(&bytes).unwrap(), tx);
    }

    #[test]
    fn every_strict_prefix_fails_to_decode(tx in any_tx()) {
        let bytes = tx.to_bytes().unwrap();
        for len in 0..bytes.len() {
            prop_assert!(Transaction::from_bytes(&bytes[..len]).is_err());
        }
    }

    #[test]
    fn one_changed_byte_never_panics(tx in any_tx(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = tx.to_bytes().unwrap();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(decoded) = Transaction::from_bytes(&bytes) {
            // Anything that decodes re-encodes to the same bytes: one encoding per value.
            prop_assert_eq!(decoded.to_bytes().unwrap(), bytes);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in small_bytes(400)) {
        let _ = Transaction::from_bytes(&bytes);
    }
}

fn sample() -> Vec<u8> {
    signed(
        1,
        7,
        1_000,
        TxKind::Transfer(Transfer {
            to: addr(2),
            amount: Amount(5),
        }),
    )
    .to_bytes()
    .unwrap()
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut bytes = sample();
    bytes.push(0);
    assert_eq!(
        Transaction::from_bytes(&bytes),
        Err(DecodeError::TrailingBytes { count: 1 })
    );
}

#[test]
fn unknown_version_and_kind_are_named() {
    let mut bytes = sample();
    bytes[0] = 2;
    assert_eq!(
        Transaction::from_bytes(&bytes),
        Err(DecodeError::UnsupportedVersion {
            expected: 1,
            found: 2
        })
    );
    let mut bytes = sample();
    // version 1 + chain id (4 + 10) + sender 32 + nonce 8 + fee 8 = the kind tag.
    let tag_at = 1 + 4 + 10 + 32 + 8 + 8;
    assert_eq!(bytes[tag_at], 1);
    bytes[tag_at] = 14;
    assert_eq!(
        Transaction::from_bytes(&bytes),
        Err(DecodeError::UnknownTag {
            field: "kind",
            tag: 14
        })
    );
}

#[test]
fn truncation_names_the_field() {
    let bytes = sample();
    let cut = &bytes[..bytes.len() - 10];
    assert_eq!(
        Transaction::from_bytes(cut),
        Err(DecodeError::Truncated {
            field: "signature",
            needed: 64,
            remaining: 54
        })
    );
    let cut = &bytes[..1 + 4 + 10 + 32 + 3];
    assert!(matches!(
        Transaction::from_bytes(cut),
        Err(DecodeError::Truncated { field: "nonce", .. })
    ));
}

#[test]
fn oversized_lengths_are_rejected_before_reading() {
    // A chain id claiming 33 bytes.
    let mut bytes = vec![CODEC_VERSION];
    bytes.extend_from_slice(&33u32.to_le_bytes());
    bytes.extend_from_slice(&[b'a'; 33]);
    assert_eq!(
        Transaction::from_bytes(&bytes),
        Err(DecodeError::TooLong {
            field: "chain_id",
            max: 32,
            found: 33
        })
    );
    // Evidence claiming 4 GiB.
    let mut bytes = sample();
    let tag_at = 1 + 4 + 10 + 32 + 8 + 8;
    bytes.truncate(tag_at);
    bytes.push(11);
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        Transaction::from_bytes(&bytes),
        Err(DecodeError::TooLong {
            field: "Evidence.bytes",
            max: MAX_EVIDENCE_LEN,
            found: u64::from(u32::MAX)
        })
    );
    // A contract claiming more fragments than allowed.
    bytes.truncate(tag_at);
    bytes.push(8);
    bytes.extend_from_slice(&[0; 32 + 2 + 2 + 8 + 8 + 8]);
    bytes.extend_from_slice(&(MAX_CONTRACT_FRAGMENTS as u32 + 1).to_le_bytes());
    assert!(matches!(
        Transaction::from_bytes(&bytes),
        Err(DecodeError::TooLong {
            field: "CreateContract.fragments",
            ..
        })
    ));
    // And an input longer than any transaction.
    assert_eq!(
        Transaction::from_bytes(&vec![1; MAX_TX_LEN + 1]),
        Err(DecodeError::InputTooLarge {
            max: MAX_TX_LEN,
            found: MAX_TX_LEN + 1
        })
    );
}

#[test]
fn over_limit_values_cannot_be_signed() {
    let body = TxBody {
        chain_id: ChainId::new(crate::CHAIN).unwrap(),
        sender: addr(1),
        nonce: 0,
        fee: Amount(1),
        kind: TxKind::Evidence(Evidence {
            bytes: vec![0; MAX_EVIDENCE_LEN + 1],
        }),
    };
    assert!(matches!(
        body.sign(&crate::key(1)),
        Err(sherd_ledger::SignError::Encode(e)) if e.field == "Evidence.bytes"
    ));
}
