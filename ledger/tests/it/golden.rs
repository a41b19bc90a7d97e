//! Golden vectors: they pin every hashed or signed byte format of the
//! ledger. If one of these changes, the on-chain format changed: bump
//! `CODEC_VERSION` (and the `sherd/tx/v1` namespace) and regenerate with
//! `SHERD_UPDATE_VECTORS=1 cargo test -p sherd-ledger golden`.

use std::path::PathBuf;

use ed25519_dalek::Signature;
use serde_json::{json, Value};
use sherd_ledger::{
    tx::kind::{
        AdvertiseCapacity, CreateContract, Delegate, Evidence, FragmentDeal, Multiaddr,
        ProofAnswer, RegisterEndpoint, RepairFragment, Role, Stake, SubmitProofs, Transfer,
        Undelegate,
    },
    Account, Address, Amount, Hash, TxKind,
};

use crate::{addr, key, signed};

/// One sample of every kind, in tag order.
fn sample_kinds() -> Vec<TxKind> {
    let sig = |b: u8| Signature::from_bytes(&[b; 64]);
    vec![
        TxKind::Transfer(Transfer {
            to: addr(2),
            amount: "12.5".parse().unwrap(),
        }),
        TxKind::Stake(Stake {
            amount: Amount(1_000_000_000_000),
            bls_pubkey: [0xb1; 48],
            pop: [0xb2; 96],
            commission_bps: 750,
        }),
        TxKind::Delegate(Delegate {
            validator: addr(3),
            amount: Amount(42),
        }),
        TxKind::Undelegate(Undelegate {
            validator: addr(3),
            amount: Amount(41),
        }),
        TxKind::Withdraw,
        TxKind::RegisterEndpoint(RegisterEndpoint {
            role: Role::Provider,
            peer_id: vec![0x00, 0x24, 0x08, 0x01],
            multiaddrs: vec![Multiaddr(vec![0x04, 127, 0, 0, 1, 0x06, 0x1f, 0x90])],
        }),
        TxKind::AdvertiseCapacity(AdvertiseCapacity {
            capacity_bytes: 1 << 40,
            price_per_gib_epoch: Amount(1_000),
            collateral_per_gib: Amount(50_000),
            min_duration_epochs: 10,
            max_duration_epochs: 1_000,
        }),
        TxKind::CreateContract(CreateContract {
            object_root: Hash([0xc0; 32]),
            k: 2,
            m: 1,
            fragment_size: 1 << 20,
            duration_epochs: 100,
            price_per_gib_epoch: Amount(1_000),
            fragments: (0..3u8)
                .map(|i| FragmentDeal {
                    root: Hash([0xd0 + i; 32]),
                    provider: addr(10 + i),
                    acceptance: sig(0xe0 + i),
                })
                .collect(),
        }),
        TxKind::SubmitProofs(SubmitProofs {
            proofs: vec![ProofAnswer {
                contract_id: Hash([0xc1; 32]),
                fragment_index: 2,
                period: 77,
                proof: vec![0xaa; 8],
            }],
        }),
        TxKind::RepairFragment(RepairFragment {
            contract_id: Hash([0xc1; 32]),
            fragment_index: 1,
            new_provider: addr(20),
            acceptance: sig(0xf0),
        }),
        TxKind::Evidence(Evidence {
            bytes: vec![1, 2, 3],
        }),
    ]
}

fn vectors() -> Value {
    let addresses: Vec<Value> = [0u8, 1, 0xff]
        .iter()
        .map(|&i| {
            json!({
                "ed25519_seed": hex::encode([i; 32]),
                "public_key": hex::encode(key(i).verifying_key().to_bytes()),
                "address": addr(i).to_string(),
            })
        })
        .collect();
    let amounts: Vec<Value> = ["0", "0.000000001", "1", "12.5", "18446744073.709551615"]
        .iter()
        .map(|&text| json!({ "text": text, "base_units": text.parse::<Amount>().unwrap().base_units() }))
        .collect();
    let transactions: Vec<Value> = sample_kinds()
        .into_iter()
        .enumerate()
        .map(|(nonce, kind)| {
            let name = kind.name();
            let tag = kind.tag();
            let tx = signed(1, nonce as u64, 1_000, kind);
            json!({
                "kind": name,
                "tag": tag,
                "signing_message": hex::encode(tx.body.signing_message().unwrap()),
                "wire": hex::encode(tx.to_bytes().unwrap()),
                "id": tx.id().unwrap().to_string(),
            })
        })
        .collect();
    let account = Account {
        balance: "12.5".parse().unwrap(),
        nonce: 7,
    };
    json!({
        "addresses": addresses,
        "amounts": amounts,
        "transactions": transactions,
        "account": {
            "balance_base_units": account.balance.base_units(),
            "nonce": account.nonce,
            "key": hex::encode(sherd_ledger::state::account_key(&addr(1))),
            "value": hex::encode(account.to_bytes()),
        },
        "address_of_zero_key": Address([0; 32]).to_string(),
    })
}

#[test]
fn golden_vectors_match() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/ledger.json");
    let computed = vectors();
    if std::env::var_os("SHERD_UPDATE_VECTORS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&computed).unwrap() + "\n",
        )
        .unwrap();
    }
    let stored: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for key in [
        "addresses",
        "amounts",
        "transactions",
        "account",
        "address_of_zero_key",
    ] {
        assert_eq!(stored[key], computed[key], "golden vector `{key}` changed");
    }
}

#[test]
fn stored_wire_vectors_decode_and_verify() {
    // Independent of how they were produced: each stored transaction decodes,
    // its signature verifies, and its id is BLAKE3 of the stored bytes.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/ledger.json");
    let stored: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let txs = stored["transactions"].as_array().unwrap();
    assert_eq!(txs.len(), 11);
    for v in txs {
        let wire = hex::decode(v["wire"].as_str().unwrap()).unwrap();
        let tx = sherd_ledger::Transaction::from_bytes(&wire).unwrap();
        assert_eq!(tx.body.kind.name(), v["kind"].as_str().unwrap());
        let verified = sherd_ledger::verify(tx).unwrap();
        assert_eq!(verified.id(), Hash::digest(&wire));
        assert_eq!(verified.id().to_string(), v["id"].as_str().unwrap());
    }
    for v in stored["addresses"].as_array().unwrap() {
        let parsed: Address = v["address"].as_str().unwrap().parse().unwrap();
        assert_eq!(hex::encode(parsed.0), v["public_key"].as_str().unwrap());
    }
}
