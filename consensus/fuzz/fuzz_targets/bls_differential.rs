//! The two BLS backends on any bytes (`bls::differential::compare`): the
//! bytes decoded as a compressed G1, a compressed G2 and an uncompressed G2
//! point, a secret key and message read from them, KeyGen's reduction of
//! them, and valid points with a byte changed. Both must give the same
//! encodings, the same verdicts and the same errors; any difference
//! panics with both transcripts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sherd_consensus::bls::differential::compare;

fuzz_target!(|bytes: &[u8]| {
    compare(bytes);
});
