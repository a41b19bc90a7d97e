//! Golden vectors: they pin every hashed or signed byte format of the
//! ledger. If one of these changes, the on-chain format changed: bump
//! `CODEC_VERSION` (and the `sherd/tx/v1` namespace) and regenerate with
//! `SHERD_UPDATE_VECTORS=1 cargo test -p sherd-ledger golden`.

use std::path::PathBuf;

use ed25519_dalek::Signature;
use serde_json::{json, Value};
use sherd_ledger::{
    tx::kind::{
        AdvertiseCapacity, CreateContract, Delegate, EndContract, Evidence, ExtendContract,
        FragmentDeal, Multiaddr, ProofAnswer, RegisterEndpoint, RepairFragment, Role, Stake,
        SubmitProofs, Transfer, Undelegate,
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
        TxKind::EndContract(EndContract {
            contract_id: Hash([0xe1; 32]),
        }),
        TxKind::ExtendContract(ExtendContract {
            contract_id: Hash([0xe2; 32]),
            epochs: 7,
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
            "key": hex::encode(sherd_ledger::state::records::account_key(&addr(1))),
            "value": hex::encode(sherd_ledger::state::records::Record::to_bytes(&account).unwrap()),
        },
        "address_of_zero_key": Address([0; 32]).to_string(),
        "chain_state": chain_vectors(),
    })
}

/// Block header and id, genesis id and state root, state records, deal
/// and repair acceptance messages, contract id.
fn chain_vectors() -> Value {
    use sherd_ledger::{
        block::{tx_root, BlockHeader},
        state::{
            market::{acceptance_message, contract_id, repair_message, RepairedFragment},
            records::{self, Record},
            Contract, ContractFragment, FragmentStatus, Validator,
        },
        ChainId,
    };
    let chain_id = ChainId::new(crate::CHAIN).unwrap();
    let ids = [Hash([1; 32]), Hash([2; 32]), Hash([3; 32])];
    let header = BlockHeader {
        chain_id: chain_id.clone(),
        height: 42,
        epoch: 4,
        view: 57,
        parent: Hash([0xaa; 32]),
        proposer: addr(crate::VALIDATOR),
        timestamp_ms: 1_763_942_400_123,
        tx_root: tx_root(&ids),
        state_root: Hash([0xbb; 32]),
        beacon: [0xcc; 96],
    };
    let mut w = sherd_ledger::codec::Writer::new();
    sherd_ledger::codec::Encode::encode(&header, &mut w).unwrap();
    let genesis = crate::genesis_with(crate::params(), &[(1, 1_000_000), (2, 500)]);
    let chain = crate::TestChain::from_genesis(&genesis);
    let validator = Validator {
        operator: addr(crate::VALIDATOR),
        bls_pubkey: [0xb1; 48],
        commission_bps: 1_000,
        self_stake: Amount(10),
        delegated: Amount(20),
        pending_rewards: Amount(30),
        jailed_until: 4,
    };
    let contract = Contract {
        id: contract_id(&addr(1), 7),
        client: addr(1),
        object_root: Hash([0xc0; 32]),
        k: 2,
        m: 1,
        fragment_size: 1 << 20,
        price_per_gib_epoch: Amount(1_000),
        start_height: 12,
        first_period: 3,
        last_period: 22,
        fragments: vec![ContractFragment {
            root: Hash([0xc1; 32]),
            provider: addr(3),
            status: FragmentStatus::Active,
            escrow_left: Amount(500),
            collateral_left: Amount(600),
            repair_reward: Amount(0),
            misses: 1,
            accepted: 0,
            proven: 4,
            since: 12,
        }],
    };
    let create = match &sample_kinds()[7] {
        TxKind::CreateContract(c) => c.clone(),
        _ => unreachable!(),
    };
    json!({
        "tx_root_of_three": tx_root(&ids).to_string(),
        "tx_root_empty": tx_root(&[]).to_string(),
        "header": hex::encode(w.into_bytes()),
        "block_id": header.id().unwrap().to_string(),
        "beacon_seed": header.beacon_seed().to_string(),
        "genesis_id": genesis.id().unwrap().to_string(),
        "genesis_state_root": chain.root.to_string(),
        "validator": hex::encode(validator.to_bytes().unwrap()),
        "contract": hex::encode(contract.to_bytes().unwrap()),
        "contract_key": hex::encode(records::contract_key(&contract.id)),
        "deal_acceptance_message": hex::encode(
            acceptance_message(&chain_id, &contract.id, &addr(1), &create, 0, &Hash([0xc1; 32])).unwrap()
        ),
        "repair_acceptance_message": hex::encode(
            repair_message(&chain_id, &RepairedFragment::of(&contract, 0).unwrap(), &addr(2)).unwrap()
        ),
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
        "chain_state",
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
    assert_eq!(txs.len(), 13);
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
