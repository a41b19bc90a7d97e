//! Golden vectors of the market's messages (`/sherd/deal/1`,
//! `/sherd/fragment/1`): for one message of every kind, the exact bytes a
//! peer sends (versioned, without the `u32_be` frame length), and the
//! acceptance bytes a provider signs. If one of these changes, the protocol
//! changed: bump its id and regenerate with
//! `SHERD_UPDATE_VECTORS=1 cargo test -p sherd-market golden`.

use std::path::PathBuf;

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use sherd_ledger::{Address, Amount, ChainId, Hash};
use sherd_market::wire::{
    self, DealRequest, DealResponse, DownloadResponse, FragmentRequest, Proposal, Refusal,
    RepairTerms, UploadResponse, MAX_DEAL_MESSAGE, MAX_FRAGMENT_REQUEST,
};

fn key(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i; 32])
}

fn addr(i: u8) -> Address {
    Address::from(&key(i).verifying_key())
}

fn proposal(repair: Option<RepairTerms>) -> Proposal {
    Proposal {
        chain_id: ChainId::new("sherd-test").unwrap(),
        client: addr(1),
        nonce: 7,
        object_root: Hash([0xa1; 32]),
        k: 4,
        m: 2,
        shard_size: 262_144,
        object_size: 1_000_000,
        fragment_size: 262_144,
        duration_epochs: 10,
        price_per_gib_epoch: Amount(1_000_000),
        index: 3,
        fragment_root: Hash([0xf3; 32]),
        repair,
    }
}

fn line<T: sherd_ledger::codec::Encode>(name: &str, message: &T) -> Value {
    json!({ "message": name, "bytes": hex::encode(wire::encode(message).unwrap()) })
}

fn vectors() -> Value {
    let new = proposal(None);
    let repair = Proposal {
        nonce: 0,
        ..proposal(Some(RepairTerms {
            contract_id: Hash([0xc0; 32]),
            repairer: addr(2),
            last_period: 99,
        }))
    };
    let provider = key(3);
    let accept = |p: &Proposal| {
        let message = p.acceptance_message().unwrap();
        json!({
            "signed_bytes": hex::encode(&message),
            "signature_by_seed_03": hex::encode(provider.sign(&message).to_bytes()),
        })
    };
    let refusals = [
        Refusal::WrongChain {
            ours: "sherd-main".into(),
        },
        Refusal::NoCapacity {
            free: 1024,
            needed: 262_144,
        },
        Refusal::PriceTooLow { min: Amount(5) },
        Refusal::Duration { min: 1, max: 50 },
        Refusal::NoCollateral {
            available: Amount(10),
            needed: Amount(20),
        },
        Refusal::NotAdvertised,
        Refusal::busy("64 transfers in progress"),
        Refusal::unknown("no reservation"),
        Refusal::invalid("group 3 does not match"),
        Refusal::internal("disk full"),
    ];
    json!({
        "inputs": {
            "chain_id": "sherd-test",
            "client": "address of ed25519 seed 01…01",
            "repairer": "address of ed25519 seed 02…02",
            "provider": "ed25519 seed 03…03",
        },
        "contract_id_of_client_nonce_7": new.contract_id().to_string(),
        "deal": [
            line("Propose (new contract)", &DealRequest::Propose(Box::new(new.clone()))),
            line("Propose (repair)", &DealRequest::Propose(Box::new(repair.clone()))),
            line("Finish", &DealRequest::Finish { contract_id: new.contract_id(), index: 3 }),
            line("Reserved", &DealResponse::Reserved { expires_height: 1234 }),
            line("Accepted", &DealResponse::Accepted { signature: provider.sign(b"x").to_bytes() }),
        ],
        "refusals": refusals.iter().map(|r| line(&format!("Refused({r:?})"), &DealResponse::Refused(r.clone()))).collect::<Vec<_>>(),
        "fragment": [
            line("Upload", &FragmentRequest::Upload { contract_id: new.contract_id(), index: 3 }),
            line("Download", &FragmentRequest::Download { contract_id: new.contract_id(), index: 3, first_group: 2, groups: 5 }),
            line("Stored", &UploadResponse::Stored),
            line("Upload refused", &UploadResponse::Refused(Refusal::invalid("group 3 does not match"))),
            line("Sending (footer 05…05)", &DownloadResponse::Sending { footer: [5; 128] }),
            line("Download refused", &DownloadResponse::Refused(Refusal::unknown("no such fragment"))),
        ],
        "acceptance": {
            "deal": accept(&new),
            "repair": accept(&repair),
        },
    })
}

#[test]
fn golden_vectors_match_and_decode() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/wire.json");
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
    assert_eq!(stored, computed, "the market's wire format changed");

    // The stored bytes decode, whoever made them, and re-encode to themselves.
    let bytes = |v: &Value| hex::decode(v["bytes"].as_str().unwrap()).unwrap();
    let deal = stored["deal"].as_array().unwrap();
    for v in &deal[..3] {
        let m: DealRequest = wire::decode(&bytes(v), MAX_DEAL_MESSAGE).unwrap();
        assert_eq!(wire::encode(&m).unwrap(), bytes(v), "{v}");
    }
    for v in deal[3..]
        .iter()
        .chain(stored["refusals"].as_array().unwrap())
    {
        let m: DealResponse = wire::decode(&bytes(v), MAX_DEAL_MESSAGE).unwrap();
        assert_eq!(wire::encode(&m).unwrap(), bytes(v), "{v}");
    }
    let fragment = stored["fragment"].as_array().unwrap();
    for v in &fragment[..2] {
        let m: FragmentRequest = wire::decode(&bytes(v), MAX_FRAGMENT_REQUEST).unwrap();
        assert_eq!(wire::encode(&m).unwrap(), bytes(v), "{v}");
    }
    for v in &fragment[2..4] {
        let m: UploadResponse = wire::decode(&bytes(v), MAX_FRAGMENT_REQUEST).unwrap();
        assert_eq!(wire::encode(&m).unwrap(), bytes(v), "{v}");
    }
    for v in &fragment[4..] {
        let m: DownloadResponse = wire::decode(&bytes(v), MAX_FRAGMENT_REQUEST).unwrap();
        assert_eq!(wire::encode(&m).unwrap(), bytes(v), "{v}");
    }
    // The acceptance signatures verify under the provider's key.
    for kind in ["deal", "repair"] {
        let a = &stored["acceptance"][kind];
        let message = hex::decode(a["signed_bytes"].as_str().unwrap()).unwrap();
        let signature: [u8; 64] = hex::decode(a["signature_by_seed_03"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        key(3)
            .verifying_key()
            .verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&signature))
            .unwrap();
    }
}
