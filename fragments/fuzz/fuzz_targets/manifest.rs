//! Any bytes as a manifest or key file: refused with a reason, or an object
//! whose fields agree with each other, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sherd_fragments::{KeyFile, Manifest};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(object) = Manifest::from_json(bytes) {
        let again = Manifest::from_json(object.manifest().to_json().as_bytes());
        assert_eq!(again.ok().as_ref(), Some(&object));
        let _ = KeyFile::key_for(bytes, &object);
    }
});
