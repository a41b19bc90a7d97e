//! Writes the seed corpora: one valid message of each kind, so the fuzzer
//! starts from real encodings (BLS points, signed transactions) rather
//! than having to find them. `cargo run --example seed` in `node/fuzz`.

use std::path::Path;

use sherd_consensus::bls::SecretKey;
use sherd_consensus::vote::{BlockId, ChainId, SignedVote, Vote};
use sherd_consensus::{Certificate, Message, SignerBitmap};
use sherd_ledger::tx::kind::Transfer;
use sherd_ledger::{Address, Amount, TxBody, TxKind};
use sherd_node::gossip::{encode_blocks, encode_txs, ConsensusGossip, SyncRequest};

fn write(dir: &str, name: &str, which: u8, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut data = vec![which];
    data.extend_from_slice(bytes);
    std::fs::write(dir.join(name), data).unwrap();
}

fn main() {
    let chain = ChainId::new("sherd-fuzz").unwrap();
    let key = SecretKey::key_gen(&[7; 32], b"").unwrap();
    let vote = Vote::Notarize {
        view: 3,
        block_id: BlockId([1; 32]),
    };
    let signed = SignedVote::sign(&chain, 0, 0, vote, &key);
    let mut signers = SignerBitmap::new(4);
    signers.insert(0).unwrap();
    let certificate = Certificate {
        epoch: 0,
        vote: Vote::Nullify { view: 4 },
        signers,
        signature: key.sign(b"seed"),
    };
    for (name, message) in [
        ("vote", Message::Vote(signed)),
        ("nullification", Message::Nullification(certificate)),
        ("fetch", Message::Fetch { view: 9 }),
    ] {
        let gossip = ConsensusGossip::Message { from: 2, message };
        write("gossip", name, 0, &gossip.encode());
    }
    write(
        "gossip",
        "block",
        0,
        &ConsensusGossip::Block(vec![0; 40]).encode(),
    );

    let account = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let tx = TxBody {
        chain_id: sherd_ledger::ChainId::new("sherd-fuzz").unwrap(),
        sender: Address::from(&account.verifying_key()),
        nonce: 0,
        fee: Amount(10_000),
        kind: TxKind::Transfer(Transfer {
            to: Address([1; 32]),
            amount: Amount(1),
        }),
    }
    .sign(&account)
    .unwrap();
    let bytes = tx.to_bytes().unwrap();
    write("gossip", "txs", 1, &encode_txs(&[bytes.clone(), bytes]));

    write("sync", "status", 0, &SyncRequest::Status.encode());
    write(
        "sync",
        "blocks",
        0,
        &SyncRequest::Blocks { from: 7, max: 64 }.encode(),
    );
    write(
        "sync",
        "answer",
        1,
        &encode_blocks(&[vec![0; 100], vec![1; 3]]),
    );
}
