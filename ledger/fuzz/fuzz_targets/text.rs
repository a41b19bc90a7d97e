//! Any text as an address or an amount: refused with a reason, or a value
//! that prints back to text that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sherd_ledger::{Address, Amount};

fuzz_target!(|text: &str| {
    if let Ok(address) = text.parse::<Address>() {
        assert_eq!(address.to_string().parse::<Address>().ok(), Some(address));
    }
    if let Ok(amount) = text.parse::<Amount>() {
        assert_eq!(amount.to_string().parse::<Amount>().ok(), Some(amount));
    }
});
