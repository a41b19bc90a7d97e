//! Any bytes as a fragment file: reading its footer and proving from it is
//! an error or a self-checked proof, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sherd_fragments::{file, Footer};

fuzz_target!(|input: (u64, Vec<u8>)| {
    let (index, bytes) = input;
    if bytes.len() >= file::FOOTER_LEN {
        let mut footer = [0u8; file::FOOTER_LEN];
        footer.copy_from_slice(&bytes[bytes.len() - file::FOOTER_LEN..]);
        let _ = Footer::from_bytes(&footer);
    }
    let _ = file::read_footer(&bytes);
    if let Ok((footer, proof)) = file::prove(&bytes, index) {
        assert!(sherd_fragments::verify(&footer.fragment_root, footer.chunks(), index, &proof));
    }
});
