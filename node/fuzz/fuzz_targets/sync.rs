//! Any bytes as a `/sherd/sync/1` request (as a node answering reads it)
//! or answer (as a syncing node reads it; the first byte says which):
//! refused, or a value whose encoding is exactly those bytes, and each
//! block of an answer refused or read. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sherd_node::gossip::{decode_blocks, encode_blocks, SyncRequest};
use sherd_node::store::StoredBlock;

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        if let Some(request) = SyncRequest::decode(bytes) {
            assert_eq!(request.encode(), bytes);
        }
    } else if let Some(blocks) = decode_blocks(bytes) {
        assert_eq!(encode_blocks(&blocks), bytes, "one encoding per answer");
        for block in &blocks {
            let _ = StoredBlock::from_bytes(block);
        }
    }
});
