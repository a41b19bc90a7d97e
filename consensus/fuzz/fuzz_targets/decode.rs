//! Any bytes through every decoder of the wire codec: an error or a value,
//! never a panic; whatever decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sherd_consensus::codec::Wire;
use sherd_consensus::engine::Entry;
use sherd_consensus::{Certificate, Evidence, Message, Proposal, SignedVote};

fn check<T: Wire + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    if let Ok(value) = T::decode(bytes) {
        assert_eq!(value.encode(), bytes, "non-canonical encoding accepted");
        assert_eq!(T::decode(&value.encode()).as_ref(), Ok(&value));
    }
}

fuzz_target!(|bytes: &[u8]| {
    check::<Message>(bytes);
    check::<Evidence>(bytes);
    check::<Proposal>(bytes);
    check::<SignedVote>(bytes);
    check::<Certificate>(bytes);
    check::<Entry>(bytes);
});
