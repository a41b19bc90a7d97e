//! Any bytes as a proof, checked against any shape: an error or a verdict, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sherd_fragments::{check, Proof};

fuzz_target!(|input: (u64, u64, [u8; 32], Vec<u8>)| {
    let (n_chunks, index, root, bytes) = input;
    if let Ok(proof) = Proof::from_bytes(&bytes) {
        assert_eq!(Proof::from_bytes(&proof.to_bytes()).as_ref(), Ok(&proof));
        let _ = check(&root, n_chunks, index, &proof);
    }
});
