//! Any bytes as a gossip message, on either topic (the first byte says
//! which): a consensus message or a proposed block's data, or a batch of
//! transactions. Refused, or read as a value that encodes again to bytes
//! that read as the same value. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sherd_ledger::Transaction;
use sherd_node::gossip::{decode_txs, encode_txs, ConsensusGossip};

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        let Ok(gossip) = ConsensusGossip::decode(bytes) else {
            return;
        };
        let encoded = gossip.encode();
        let again = ConsensusGossip::decode(&encoded).expect("an encoded message reads back");
        assert_eq!(again.encode(), encoded);
        if let ConsensusGossip::Block(proposed) = &gossip {
            // As the actor reads a block's data.
            let _ = sherd_node::exec::parse_proposed(proposed);
        }
    } else if let Some(txs) = decode_txs(bytes) {
        assert_eq!(encode_txs(&txs), bytes, "one encoding per batch");
        for tx in txs {
            if let Ok(tx) = Transaction::from_bytes(tx) {
                let _ = tx.id();
            }
        }
    }
});
