//! Any bytes as a transaction: refused with a reason, or a transaction whose
//! encoding is exactly those bytes (one encoding per value); verifying it is
//! a verdict, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sherd_ledger::{verify, Transaction};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(tx) = Transaction::from_bytes(bytes) {
        assert_eq!(tx.to_bytes().ok().as_deref(), Some(bytes));
        let _ = verify(tx);
    }
});
