//! Integration tests of sherd-fragments: round trips, tampering, golden vectors.

mod golden;
mod malformed;
mod roundtrip;
mod spec;
mod tamper;

use sherd_fragments::{
    decode, encode_with_key, DecodeError, DecodeReport, Object, ObjectKey, Params,
};

/// A deterministic pseudo-random object.
pub fn object_bytes(size: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Encodes `data` into in-memory fragment files.
pub fn encode_to_memory(data: &[u8], params: Params, key: &ObjectKey) -> (Object, Vec<Vec<u8>>) {
    let mut files = vec![Vec::new(); params.total()];
    let object = encode_with_key(
        data,
        data.len() as u64,
        params,
        key,
        &mut files,
        &mut |_| {},
    )
    .unwrap();
    (object, files)
}

/// Decodes from in-memory fragment files; `None` slots are missing.
pub fn decode_from_memory(
    object: &Object,
    key: &ObjectKey,
    files: &[Option<Vec<u8>>],
) -> Result<(Vec<u8>, DecodeReport), DecodeError> {
    let sources: Vec<Option<&Vec<u8>>> = files.iter().map(Option::as_ref).collect();
    let mut out = Vec::new();
    let report = decode(object, key, &sources, &mut out, &mut |_| {})?;
    Ok((out, report))
}
