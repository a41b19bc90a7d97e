//! The one file that names the `bls12_381` crate.
//!
//! Everything above this file (`keys.rs`, `signature.rs`, `verify.rs`) sees
//! only the aliases and functions below. Slotting in another backend (blst,
//! for speed) means rewriting this file with the same names and signatures;
//! the golden vectors in `tests/vectors/bls12-381/` then prove the new
//! backend byte-for-byte equal to the old one.
//!
//! Group elements cannot overflow, so the curve arithmetic operators below
//! are allowed despite the crate-wide `arithmetic_side_effects` lint.
#![allow(
    clippy::arithmetic_side_effects,
    reason = "group and field operations are total: they wrap modulo p or r and never panic"
)]

use bls12_381::hash_to_curve::{ExpandMsgXmd, HashToCurve};
use bls12_381::{
    multi_miller_loop, G1Affine, G1Projective, G2Affine, G2Prepared, G2Projective, Gt,
};
use sha2::Sha256;
use zeroize::Zeroize;

use super::error::PointError;

/// A secret scalar in `[1, r)`.
pub(super) type SecretScalar = bls12_381::Scalar;
/// A public key: a point of G1 (affine, subgroup-checked).
pub(super) type PublicPoint = G1Affine;
/// A running sum of public keys.
pub(super) type PublicSum = G1Projective;
/// A signature: a point of G2 (affine, subgroup-checked).
pub(super) type SignaturePoint = G2Affine;
/// A running sum of signatures.
pub(super) type SignatureSum = G2Projective;
/// A message hashed to G2 and prepared for the Miller loop.
pub(super) type PreparedHash = G2Prepared;

/// Length of a compressed G1 point.
pub(super) const G1_BYTES: usize = 48;
/// Length of a compressed G2 point.
pub(super) const G2_BYTES: usize = 96;
/// Length of an uncompressed G2 point.
pub(super) const G2_UNCOMPRESSED_BYTES: usize = 192;
/// Length of one base-field element.
const FP_BYTES: usize = 48;

/// The base-field modulus p, big-endian.
const P_BE: [u8; FP_BYTES] = [
    0x1a, 0x01, 0x11, 0xea, 0x39, 0x7f, 0xe6, 0x9a, 0x4b, 0x1b, 0xa7, 0xb6, 0x43, 0x4b, 0xac, 0xd7,
    0x64, 0x77, 0x4b, 0x84, 0xf3, 0x85, 0x12, 0xbf, 0x67, 0x30, 0xd2, 0xa0, 0xf6, 0xb0, 0xf6, 0x24,
    0x1e, 0xab, 0xff, 0xfe, 0xb1, 0x53, 0xff, 0xff, 0xb9, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xaa, 0xab,
];

const COMPRESSION_FLAG: u8 = 0x80;
const INFINITY_FLAG: u8 = 0x40;
const SORT_FLAG: u8 = 0x20;
const FLAG_MASK: u8 = 0xe0;

// ---------------------------------------------------------------- scalars

/// Reads a 32-byte big-endian integer; `None` unless it is in `[0, r)`.
pub(super) fn scalar_from_be_bytes(bytes: &[u8; 32]) -> Option<SecretScalar> {
    let mut le = *bytes;
    le.reverse();
    let scalar = Option::from(SecretScalar::from_bytes(&le));
    le.zeroize();
    scalar
}

/// Writes a scalar as 32 bytes big-endian.
pub(super) fn scalar_to_be_bytes(scalar: &SecretScalar) -> [u8; 32] {
    let mut be = scalar.to_bytes();
    be.reverse();
    be
}

/// `OS2IP(okm) mod r` for a 48-byte big-endian `okm` (IETF KeyGen, step 5).
pub(super) fn scalar_from_okm(okm: &[u8; 48]) -> SecretScalar {
    let mut wide = [0u8; 64];
    for (dst, src) in wide.iter_mut().zip(okm.iter().rev()) {
        *dst = *src;
    }
    let scalar = SecretScalar::from_bytes_wide(&wide);
    wide.zeroize();
    scalar
}

pub(super) fn scalar_is_zero(scalar: &SecretScalar) -> bool {
    *scalar == SecretScalar::zero()
}

/// A 128-bit scalar for the random linear combination of batch verification.
fn scalar_from_u128(value: u128) -> SecretScalar {
    // Truncations are intended: the low and high 64-bit limbs.
    SecretScalar::from_raw([value as u64, (value >> 64) as u64, 0, 0])
}

// ---------------------------------------------------------------- points

/// `SkToPk`: `sk · g1`.
pub(super) fn sk_to_pk(sk: &SecretScalar) -> PublicPoint {
    G1Affine::from(G1Affine::generator() * sk)
}

/// `hash_to_point`: `hash_to_curve` of RFC 9380, suite `BLS12381G2_XMD:SHA-256_SSWU_RO_`.
pub(super) fn hash_to_g2(message: &[u8], dst: &[u8]) -> SignaturePoint {
    let point = <G2Projective as HashToCurve<ExpandMsgXmd<Sha256>>>::hash_to_curve([message], dst);
    G2Affine::from(point)
}

/// `hash_to_point` followed by the Miller-loop precomputation.
pub(super) fn prepare_hash(message: &[u8], dst: &[u8]) -> PreparedHash {
    G2Prepared::from(hash_to_g2(message, dst))
}

/// `CoreSign`: `sk · hash_to_point(message)`.
pub(super) fn sign(sk: &SecretScalar, message: &[u8], dst: &[u8]) -> SignaturePoint {
    let hashed = <G2Projective as HashToCurve<ExpandMsgXmd<Sha256>>>::hash_to_curve([message], dst);
    G2Affine::from(hashed * sk)
}

pub(super) fn g1_is_identity(point: &PublicPoint) -> bool {
    bool::from(point.is_identity())
}

pub(super) fn g1_sum_identity() -> PublicSum {
    G1Projective::identity()
}

pub(super) fn g1_sum_add(sum: &mut PublicSum, point: &PublicPoint) {
    *sum = sum.add_mixed(point);
}

pub(super) fn g1_sum_to_point(sum: &PublicSum) -> PublicPoint {
    G1Affine::from(sum)
}

pub(super) fn g2_sum_identity() -> SignatureSum {
    G2Projective::identity()
}

pub(super) fn g2_sum_add(sum: &mut SignatureSum, point: &SignaturePoint) {
    *sum = sum.add_mixed(point);
}

pub(super) fn g2_sum_to_point(sum: &SignatureSum) -> SignaturePoint {
    G2Affine::from(sum)
}

// ---------------------------------------------------------------- pairings

/// `e(pk, H) == e(g1, sig)`, computed as one two-term Miller loop and one
/// final exponentiation: `e(pk, H) · e(-g1, sig) == 1`.
pub(super) fn pairing_check(pk: &PublicPoint, hashed: &PreparedHash, sig: &SignaturePoint) -> bool {
    let neg_g1 = -G1Affine::generator();
    let sig_prepared = G2Prepared::from(*sig);
    multi_miller_loop(&[(pk, hashed), (&neg_g1, &sig_prepared)]).final_exponentiation()
        == Gt::identity()
}

/// `Π e(pk_i, H_i) == e(g1, sig)` (CoreAggregateVerify, steps 6–10).
pub(super) fn multi_pairing_check(
    pairs: &[(PublicPoint, PreparedHash)],
    sig: &SignaturePoint,
) -> bool {
    let neg_g1 = -G1Affine::generator();
    let sig_prepared = G2Prepared::from(*sig);
    let mut terms: Vec<(&G1Affine, &G2Prepared)> =
        Vec::with_capacity(pairs.len().saturating_add(1));
    terms.extend(pairs.iter().map(|(pk, hashed)| (pk, hashed)));
    terms.push((&neg_g1, &sig_prepared));
    multi_miller_loop(&terms).final_exponentiation() == Gt::identity()
}

/// Checks `Π e(r_i·pk_i, H_i) == e(g1, Σ r_i·sig_i)` for the given 128-bit
/// weights `r_i`: all signatures are valid except with probability 2^-128
/// over the choice of the weights.
pub(super) fn weighted_batch_check(
    items: &[(PublicPoint, PreparedHash, SignaturePoint, u128)],
) -> bool {
    let mut sig_sum = G2Projective::identity();
    let mut weighted_pks = Vec::with_capacity(items.len());
    for (pk, _, sig, weight) in items {
        let r = scalar_from_u128(*weight);
        weighted_pks.push(G1Affine::from(pk * r));
        sig_sum += sig * r;
    }
    let neg_g1 = -G1Affine::generator();
    let sig_prepared = G2Prepared::from(G2Affine::from(sig_sum));
    let mut terms: Vec<(&G1Affine, &G2Prepared)> =
        Vec::with_capacity(items.len().saturating_add(1));
    terms.extend(
        weighted_pks
            .iter()
            .zip(items.iter())
            .map(|(pk, (_, hashed, _, _))| (pk, hashed)),
    );
    terms.push((&neg_g1, &sig_prepared));
    multi_miller_loop(&terms).final_exponentiation() == Gt::identity()
}

// ---------------------------------------------------------------- encodings

pub(super) fn encode_g1(point: &PublicPoint) -> [u8; G1_BYTES] {
    point.to_compressed()
}

pub(super) fn encode_g2(point: &SignaturePoint) -> [u8; G2_BYTES] {
    point.to_compressed()
}

/// Decodes a compressed G1 point and checks it lies in the subgroup. The
/// identity (`0xc0` then 47 zero bytes) decodes; KeyValidate rejects it later.
pub(super) fn decode_g1(bytes: &[u8]) -> Result<PublicPoint, PointError> {
    let array: &[u8; G1_BYTES] = bytes.try_into().map_err(|_| PointError::Length {
        expected: G1_BYTES,
        found: bytes.len(),
    })?;
    if check_flags(array)? {
        return Ok(G1Affine::identity());
    }
    check_field_element(array, 0)?;
    let point: G1Affine =
        Option::from(G1Affine::from_compressed_unchecked(array)).ok_or(PointError::NotOnCurve)?;
    if bool::from(point.is_torsion_free()) {
        Ok(point)
    } else {
        Err(PointError::NotInSubgroup)
    }
}

/// Decodes a compressed G2 point (`x.c1 ‖ x.c0`, flags in the first byte)
/// and checks it lies in the subgroup. The identity decodes.
pub(super) fn decode_g2(bytes: &[u8]) -> Result<SignaturePoint, PointError> {
    let array: &[u8; G2_BYTES] = bytes.try_into().map_err(|_| PointError::Length {
        expected: G2_BYTES,
        found: bytes.len(),
    })?;
    if check_flags(array)? {
        return Ok(G2Affine::identity());
    }
    check_field_element(array, 0)?;
    check_field_element(array, FP_BYTES)?;
    let point: G2Affine =
        Option::from(G2Affine::from_compressed_unchecked(array)).ok_or(PointError::NotOnCurve)?;
    if bool::from(point.is_torsion_free()) {
        Ok(point)
    } else {
        Err(PointError::NotInSubgroup)
    }
}

pub(super) fn encode_g2_uncompressed(point: &SignaturePoint) -> [u8; G2_UNCOMPRESSED_BYTES] {
    point.to_uncompressed()
}

/// Decodes an uncompressed G2 point (`x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0`, flags in
/// the first byte) and checks that it lies on the curve, **not** that it
/// lies in the subgroup (the draft's `signature_to_point` without
/// `subgroup_check`; see [`g2_in_subgroup`]). The compression and sort
/// flags must be clear; the identity is `0x40` then 191 zero bytes. Costs a
/// few field multiplications, no square root.
pub(super) fn decode_g2_uncompressed_on_curve(bytes: &[u8]) -> Result<SignaturePoint, PointError> {
    let array: &[u8; G2_UNCOMPRESSED_BYTES] = bytes.try_into().map_err(|_| PointError::Length {
        expected: G2_UNCOMPRESSED_BYTES,
        found: bytes.len(),
    })?;
    let first_byte = array.first().copied().unwrap_or_default();
    if first_byte & (COMPRESSION_FLAG | SORT_FLAG) != 0 {
        return Err(PointError::UncompressedFlags { first_byte });
    }
    if first_byte & INFINITY_FLAG != 0 {
        let canonical = first_byte == INFINITY_FLAG && array.iter().skip(1).all(|&b| b == 0);
        return if canonical {
            Ok(G2Affine::identity())
        } else {
            Err(PointError::NonCanonicalInfinity { first_byte })
        };
    }
    for offset in [0, FP_BYTES, 2 * FP_BYTES, 3 * FP_BYTES] {
        check_field_element(array, offset)?;
    }
    let point: G2Affine =
        Option::from(G2Affine::from_uncompressed_unchecked(array)).ok_or(PointError::NotOnCurve)?;
    if bool::from(point.is_on_curve()) {
        Ok(point)
    } else {
        Err(PointError::NotOnCurve)
    }
}

/// The subgroup check of a G2 point (`psi(P) == [x]P`, about 80 µs).
pub(super) fn g2_in_subgroup(point: &SignaturePoint) -> bool {
    bool::from(point.is_torsion_free())
}

/// A point on the curve outside the subgroup (the `deserialization_G2`
/// vector `not_in_G2`), for tests of code that must catch one.
#[cfg(test)]
pub(super) fn g2_outside_subgroup() -> SignaturePoint {
    let bytes: [u8; G2_BYTES] = hex::decode(
        "8123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    )
    .unwrap()
    .try_into()
    .unwrap();
    G2Affine::from_compressed_unchecked(&bytes).unwrap()
}

#[cfg(test)]
pub(super) fn g2_neg(point: &SignaturePoint) -> SignaturePoint {
    -point
}

/// Checks the three flag bits of a compressed point (ZCash serialization):
/// returns `Ok(true)` for the one canonical encoding of the identity,
/// `Ok(false)` for a finite point, and an error otherwise.
fn check_flags(bytes: &[u8]) -> Result<bool, PointError> {
    let Some((&first_byte, rest)) = bytes.split_first() else {
        return Err(PointError::Length {
            expected: G1_BYTES,
            found: 0,
        });
    };
    if first_byte & COMPRESSION_FLAG == 0 {
        return Err(PointError::NotCompressed { first_byte });
    }
    if first_byte & INFINITY_FLAG == 0 {
        return Ok(false);
    }
    let canonical = first_byte & !FLAG_MASK == 0
        && first_byte & SORT_FLAG == 0
        && rest.iter().all(|&byte| byte == 0);
    if canonical {
        Ok(true)
    } else {
        Err(PointError::NonCanonicalInfinity { first_byte })
    }
}

/// Checks that the 48-byte big-endian field element at `offset` (flag bits
/// masked off) is less than p.
fn check_field_element(bytes: &[u8], offset: usize) -> Result<(), PointError> {
    let end = offset
        .checked_add(FP_BYTES)
        .ok_or(PointError::CoordinateNotInField { offset })?;
    let element = bytes
        .get(offset..end)
        .ok_or(PointError::CoordinateNotInField { offset })?;
    let mut masked = [0u8; FP_BYTES];
    masked.copy_from_slice(element);
    if let Some(first) = masked.first_mut() {
        if offset == 0 {
            *first &= !FLAG_MASK;
        }
    }
    if masked < P_BE {
        Ok(())
    } else {
        Err(PointError::CoordinateNotInField { offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9380 hash_to_curve vectors (`hash_to_G2` folder), which use the
    /// test DST, not the signature DST. They live here because they need the
    /// raw curve point, which the public interface does not expose.
    #[test]
    fn hash_to_g2_vectors() {
        const DST: &[u8] = b"QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_";
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/bls12-381/hash_to_G2"
        );
        let mut count = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let case: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let msg = case["input"]["msg"].as_str().unwrap();
            let point = hash_to_g2(msg.as_bytes(), DST);
            // to_uncompressed: x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0, 48 bytes each.
            let raw = point.to_uncompressed();
            let hex48 = |range: std::ops::Range<usize>| format!("0x{}", hex::encode(&raw[range]));
            let x = format!("{},{}", hex48(48..96), hex48(0..48));
            let y = format!("{},{}", hex48(144..192), hex48(96..144));
            assert_eq!(
                x,
                case["output"]["x"].as_str().unwrap(),
                "{}",
                path.display()
            );
            assert_eq!(
                y,
                case["output"]["y"].as_str().unwrap(),
                "{}",
                path.display()
            );
            count += 1;
        }
        assert_eq!(count, 4, "hash_to_G2 vector files");
    }

    #[test]
    fn uncompressed_g2_is_strict_but_skips_the_subgroup_check() {
        let point = sign(&SecretScalar::from(5u64), b"m", b"dst");
        let bytes = encode_g2_uncompressed(&point);
        assert_eq!(decode_g2_uncompressed_on_curve(&bytes), Ok(point));
        assert!(g2_in_subgroup(&point));

        // The identity: 0x40 and zero bytes only.
        let mut identity = [0u8; G2_UNCOMPRESSED_BYTES];
        identity[0] = 0x40;
        assert_eq!(
            decode_g2_uncompressed_on_curve(&identity),
            Ok(G2Affine::identity())
        );
        assert_eq!(encode_g2_uncompressed(&G2Affine::identity()), identity);
        identity[191] = 1;
        assert_eq!(
            decode_g2_uncompressed_on_curve(&identity),
            Err(PointError::NonCanonicalInfinity { first_byte: 0x40 })
        );

        // Compression or sort flag set.
        for flag in [0x80, 0x20, 0xa0] {
            let mut flagged = bytes;
            flagged[0] |= flag;
            assert_eq!(
                decode_g2_uncompressed_on_curve(&flagged),
                Err(PointError::UncompressedFlags {
                    first_byte: flagged[0]
                })
            );
        }
        // Every coordinate must be below p.
        for offset in [0, 48, 96, 144] {
            let mut big = bytes;
            big[offset..offset + FP_BYTES].copy_from_slice(&P_BE);
            assert_eq!(
                decode_g2_uncompressed_on_curve(&big),
                Err(PointError::CoordinateNotInField { offset })
            );
        }
        // Off the curve: another y.
        let mut off = bytes;
        off[191] ^= 1;
        assert_eq!(
            decode_g2_uncompressed_on_curve(&off),
            Err(PointError::NotOnCurve)
        );
        assert_eq!(
            decode_g2_uncompressed_on_curve(&bytes[..191]),
            Err(PointError::Length {
                expected: 192,
                found: 191
            })
        );

        // On the curve, outside the subgroup (the `deserialization_G2`
        // vector `not_in_G2`): decodes, and the subgroup check catches it.
        let outside = g2_outside_subgroup();
        let compressed = outside.to_compressed();
        let decoded = decode_g2_uncompressed_on_curve(&outside.to_uncompressed()).unwrap();
        assert!(!g2_in_subgroup(&decoded));
        assert_eq!(decode_g2(&compressed), Err(PointError::NotInSubgroup));
    }

    #[test]
    fn okm_reduction_is_big_endian() {
        let mut okm = [0u8; 48];
        okm[47] = 5;
        assert_eq!(scalar_from_okm(&okm), SecretScalar::from(5u64));
    }

    #[test]
    fn scalar_round_trip() {
        let mut be = [0u8; 32];
        be[31] = 7;
        let scalar = scalar_from_be_bytes(&be).unwrap();
        assert_eq!(scalar, SecretScalar::from(7u64));
        assert_eq!(scalar_to_be_bytes(&scalar), be);
    }
}
