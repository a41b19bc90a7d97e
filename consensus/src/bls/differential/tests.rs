//! The differential tests: the reference backend (`bls12_381`) against the
//! default one (`blstrs`), step by step, on the shared vectors, random
//! keys, messages and committees, and malformed points. Each case runs a
//! scenario of `differential.rs` on both and compares every encoding and
//! every verdict (`agree!`).

use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;

use super::*;

// ---------------------------------------------------------------- vectors

/// Every case of one folder of `tests/vectors/bls12-381/`, as
/// `(file name, input)`, sorted by name.
fn cases(folder: &str) -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/bls12-381")
        .join(folder);
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let mut case: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, case["input"].take())
        })
        .collect()
}

fn bytes(value: &Value) -> Vec<u8> {
    let text = value.as_str().unwrap();
    hex::decode(text.strip_prefix("0x").unwrap()).unwrap()
}

fn list(value: &Value) -> Vec<Vec<u8>> {
    value.as_array().unwrap().iter().map(bytes).collect()
}

fn slices(list: &[Vec<u8>]) -> Vec<&[u8]> {
    list.iter().map(Vec::as_slice).collect()
}

/// RFC 9380's hash_to_curve under a given DST, uncompressed.
fn hashing<B: Backend>(message: &[u8], dst: &[u8], t: &mut Transcript) {
    t.bytes(
        "hash_to_g2",
        &B::encode_g2_uncompressed(&B::hash_to_g2(message, dst)),
    );
}

/// Fixed odd batch weights (any weights give the same verdicts).
fn weights(n: usize) -> Vec<u128> {
    (1..=n as u128)
        .map(|i| 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835u128.wrapping_mul(i) | 1)
        .collect()
}

#[test]
fn the_backends_agree_on_every_vector() {
    let mut count = 0;
    for (_, input) in cases("sign") {
        let secret: [u8; 32] = bytes(&input["privkey"]).try_into().unwrap();
        agree!(signing(&secret, &bytes(&input["message"])));
        count += 1;
    }
    for (_, input) in cases("verify") {
        agree!(verify(
            &bytes(&input["pubkey"]),
            &bytes(&input["message"]),
            &bytes(&input["signature"])
        ));
        count += 1;
    }
    for (_, input) in cases("aggregate") {
        agree!(aggregate(&slices(&list(&input))));
        count += 1;
    }
    for (_, input) in cases("fast_aggregate_verify") {
        agree!(fast_aggregate_verify(
            &slices(&list(&input["pubkeys"])),
            &bytes(&input["message"]),
            &bytes(&input["signature"])
        ));
        count += 1;
    }
    for (_, input) in cases("aggregate_verify") {
        agree!(aggregate_verify(
            &slices(&list(&input["pubkeys"])),
            &slices(&list(&input["messages"])),
            &bytes(&input["signature"])
        ));
        count += 1;
    }
    for (_, input) in cases("batch_verify") {
        let public_keys = list(&input["pubkeys"]);
        agree!(batch_verify(
            &slices(&public_keys),
            &slices(&list(&input["messages"])),
            &slices(&list(&input["signatures"])),
            &weights(public_keys.len())
        ));
        count += 1;
    }
    for (_, input) in cases("deserialization_G1") {
        agree!(decoding(&bytes(&input["pubkey"])));
        count += 1;
    }
    for (_, input) in cases("deserialization_G2") {
        agree!(decoding(&bytes(&input["signature"])));
        count += 1;
    }
    for (_, input) in cases("hash_to_G2") {
        let message = input["msg"].as_str().unwrap().as_bytes();
        agree!(hashing(
            message,
            b"QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_"
        ));
        count += 1;
    }
    assert_eq!(
        count,
        10 + 29 + 6 + 12 + 5 + 4 + 16 + 18 + 4,
        "vector files"
    );
}

// ---------------------------------------------------------------- malformed points

/// p plus `delta`, big-endian: a coordinate just at or above the modulus.
fn p_plus(delta: u64) -> [u8; 48] {
    let mut sum = super::super::backend::P_BE;
    let mut carry = u128::from(delta);
    for byte in sum.iter_mut().rev() {
        let total = u128::from(*byte) + (carry & 0xff);
        *byte = total as u8;
        carry = (carry >> 8) + (total >> 8);
    }
    sum
}

/// A valid public key, compressed signature and uncompressed signature
/// from a key reduced from `okm`, on the reference backend.
fn encodings(okm: &[u8; 48], message: &[u8]) -> [Vec<u8>; 3] {
    let sk = Reference::scalar_from_okm(okm);
    let sig = Reference::sign(&sk, message, SIGNATURE_DST);
    [
        Reference::encode_g1(&Reference::sk_to_pk(&sk)).to_vec(),
        Reference::encode_g2(&sig).to_vec(),
        Reference::encode_g2_uncompressed(&sig).to_vec(),
    ]
}

fn rejects(transcript: &Transcript, wanted: impl Fn(PointError) -> bool) -> bool {
    transcript.rejections().any(wanted)
}

/// Every kind of rejection is reached by inputs the backends agree on.
#[test]
fn every_rejection_is_reached_and_shared() {
    let [pk, sig, uncompressed] = encodings(&[7; 48], b"message");
    let mut inputs: Vec<Vec<u8>> = vec![pk.clone(), sig.clone(), uncompressed.clone()];
    // Wrong lengths.
    inputs.extend([vec![], pk[..47].to_vec(), sig[..95].to_vec()]);
    // Compression flag clear; compression or sort flag on an uncompressed point.
    let mut flags = pk.clone();
    flags[0] &= 0x7f;
    inputs.push(flags);
    let mut flags = uncompressed.clone();
    flags[0] |= 0x20;
    inputs.push(flags);
    // Non-canonical identities.
    let mut infinity = vec![0u8; 96];
    infinity[0] = 0xe0;
    inputs.push(infinity);
    let mut infinity = vec![0u8; 192];
    infinity[0] = 0x40;
    infinity[100] = 1;
    inputs.push(infinity);
    // A coordinate equal to p, and one above it.
    let mut big = sig.clone();
    big[48..].copy_from_slice(&p_plus(0));
    inputs.push(big);
    let mut big = uncompressed.clone();
    big[144..].copy_from_slice(&p_plus(12345));
    inputs.push(big);
    // Off the curve.
    let mut off = uncompressed.clone();
    off[150] ^= 4;
    inputs.push(off);
    // Outside the subgroup; x = 0, with either sign (on G1 the points
    // (0, ±2), of order 3).
    for (length, first) in [(48, 0x80), (48, 0xa0), (96, 0x80), (96, 0xa0)] {
        let mut zero = vec![0u8; length];
        zero[0] = first;
        inputs.push(zero);
    }
    inputs.push(Reference::encode_g2(&Reference::g2_outside_subgroup()).to_vec());
    inputs.push(Reference::encode_g2_uncompressed(&Reference::g2_outside_subgroup()).to_vec());

    let mut seen = Vec::new();
    for input in &inputs {
        seen.extend(agree_decoding(input).rejections());
    }
    let kinds: [fn(PointError) -> bool; 7] = [
        |e| matches!(e, PointError::Length { .. }),
        |e| matches!(e, PointError::NotCompressed { .. }),
        |e| matches!(e, PointError::UncompressedFlags { .. }),
        |e| matches!(e, PointError::NonCanonicalInfinity { .. }),
        |e| matches!(e, PointError::CoordinateNotInField { .. }),
        |e| matches!(e, PointError::NotOnCurve),
        |e| matches!(e, PointError::NotInSubgroup),
    ];
    for (index, kind) in kinds.iter().enumerate() {
        assert!(
            seen.iter().any(|&e| kind(e)),
            "rejection kind {index} not reached"
        );
    }
}

/// The identity on either side of a pairing check (a term that is 1): the
/// zero key signs the identity, and the identity signature against a real
/// key, alone, aggregated and in a batch.
#[test]
fn identities_agree() {
    agree!(signing(&[0; 32], b"zero key"));
    let [pk, _, _] = encodings(&[3; 48], b"identity");
    let mut identity = [0u8; 96];
    identity[0] = 0xc0;
    let transcript = agree!(verify(&pk, b"identity", &identity));
    assert_eq!(
        transcript.verdicts("pairing_check").collect::<Vec<_>>(),
        vec![false]
    );
    agree!(fast_aggregate_verify(&[&pk, &pk], b"identity", &identity));
    agree!(aggregate_verify(&[&pk], &[b"identity"], &identity));
    agree!(batch_verify(&[&pk], &[b"identity"], &[&identity], &[1]));
}

/// A key from `okm`, then [`sign_and_verify`].
fn derived_signing<B: Backend>(okm: &[u8; 48], message: &[u8], t: &mut Transcript) {
    let sk = B::scalar_from_okm(okm);
    sign_and_verify::<B>(&sk, message, t);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The fuzz target's comparison on random bytes.
    #[test]
    fn arbitrary_bytes(data in vec(any::<u8>(), 0..260)) {
        compare(&data);
    }

    /// Random secret keys (below r, or any 32 bytes), KeyGen output key
    /// material and messages.
    #[test]
    fn keys_and_messages(
        mut secret in any::<[u8; 32]>(),
        okm in any::<[u8; 48]>(),
        message in vec(any::<u8>(), 0..100),
    ) {
        agree!(signing(&secret, &message));
        secret[0] &= 0x3f;
        agree!(signing(&secret, &message));
        agree!(key_derivation(&okm));
        agree!(derived_signing(&okm, &message));
    }

    /// Valid encodings with the three flag bits replaced.
    #[test]
    fn flipped_flags(okm in any::<[u8; 48]>(), flags in 0u8..8) {
        for mut bytes in encodings(&okm, b"flags") {
            bytes[0] = (bytes[0] & 0x1f) | (flags << 5);
            agree_decoding(&bytes);
        }
    }

    /// Valid encodings with one byte changed, cut short or lengthened.
    #[test]
    fn mutated_encodings(
        okm in any::<[u8; 48]>(),
        message in vec(any::<u8>(), 0..40),
        position in any::<usize>(),
        mask in 1u8..,
    ) {
        agree!(mutation(&okm, &message, position, mask));
    }

    /// A coordinate at or above p, flags kept.
    #[test]
    fn coordinates_at_or_above_p(
        okm in any::<[u8; 48]>(),
        coordinate in 0usize..4,
        delta in prop_oneof![Just(0u64), 1u64..16, any::<u64>()],
    ) {
        for mut bytes in encodings(&okm, b"modulus") {
            let offset = 48 * (coordinate % (bytes.len() / 48));
            let flags = bytes[0] & 0xe0;
            bytes[offset..offset + 48].copy_from_slice(&p_plus(delta));
            bytes[0] |= flags;
            let transcript = agree_decoding(&bytes);
            let wanted = PointError::CoordinateNotInField { offset };
            prop_assert!(rejects(&transcript, |e| e == wanted), "no {:?}", wanted);
        }
    }

    /// Random x coordinates below p, compressed: about half are on the
    /// curve, and those are (almost) never in the subgroup.
    #[test]
    fn random_compressed_points(
        x in any::<[u8; 96]>(),
        sort in any::<bool>(),
    ) {
        let mut bytes = x;
        bytes[0] = 0x80 | (u8::from(sort) << 5) | (bytes[0] % 0x1a);
        bytes[48] %= 0x1a;
        agree_decoding(&bytes[..48]);
        agree_decoding(&bytes);
    }

    /// Random uncompressed pairs (off the curve), and curve points outside
    /// the subgroup made with the reference crate from a random x.
    #[test]
    fn random_uncompressed_points(xy in vec(any::<u8>(), 192..=192)) {
        let mut bytes = xy;
        for offset in [0, 48, 96, 144] {
            bytes[offset] %= 0x1a;
        }
        let transcript = agree_decoding(&bytes);
        prop_assert!(rejects(&transcript, |e| e == PointError::NotOnCurve), "not rejected as off the curve");

        let mut compressed: [u8; 96] = bytes[..96].try_into().unwrap();
        compressed[0] |= 0x80;
        let point = bls12_381::G2Affine::from_compressed_unchecked(&compressed);
        if let Some(point) = Option::<bls12_381::G2Affine>::from(point) {
            let transcript = agree_decoding(&point.to_uncompressed());
            prop_assert_eq!(transcript.verdicts("g2_in_subgroup").collect::<Vec<_>>(), vec![false]);
            agree_decoding(&(-point).to_uncompressed());
        }
    }

    /// The infinity flag with other flags or non-zero bytes.
    #[test]
    fn non_canonical_infinity(
        length in prop_oneof![Just(48usize), Just(96), Just(192)],
        first in any::<u8>(),
        position in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = vec![0u8; length];
        bytes[0] = first | 0x40;
        bytes[position % length] |= byte;
        agree_decoding(&bytes);
    }

    /// Encodings of every length around the right ones.
    #[test]
    fn wrong_lengths(okm in any::<[u8; 48]>(), cut in 0usize..200, extra in any::<u8>()) {
        for bytes in encodings(&okm, b"lengths") {
            agree_decoding(&bytes[..cut.min(bytes.len())]);
            let mut longer = bytes.clone();
            longer.push(extra);
            agree_decoding(&longer);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Committees of up to 20 signers, possibly with one signature over
    /// something else: every key, signature and aggregate, and the
    /// verdicts of FastAggregateVerify, AggregateVerify and batch
    /// verification, which fail exactly when a signature was corrupted.
    #[test]
    fn committees(
        okms in vec(any::<[u8; 48]>(), 1..=20),
        weights in vec(any::<u128>().prop_map(|w| w | 1), 20),
        corrupt in proptest::option::of(0usize..20),
        message in vec(any::<u8>(), 0..64),
    ) {
        let n = okms.len();
        let transcript = agree_committee(&okms, &message, &weights, corrupt);
        let corrupted = corrupt.filter(|&i| i < n);
        let fast: Vec<bool> = transcript.verdicts("fast_aggregate_verify").collect();
        prop_assert_eq!(fast.len(), 2 * n);
        for (prefix, pair) in fast.chunks(2).enumerate() {
            let valid = corrupted.is_none_or(|i| i > prefix);
            prop_assert_eq!(pair, &[valid, valid][..], "prefix {}", prefix);
        }
        prop_assert!(transcript.verdicts("g2_in_subgroup").all(|in_subgroup| in_subgroup));
        let whole = corrupted.is_none();
        prop_assert_eq!(transcript.verdicts("aggregate_verify").collect::<Vec<_>>(), vec![whole]);
        prop_assert_eq!(transcript.verdicts("batch_verify").collect::<Vec<_>>(), vec![whole]);
    }
}
