//! The reference backend: the `bls12_381` crate (zkcrypto, pure Rust, its
//! `experimental` hash-to-curve), the backend sherd started with. Active
//! with the feature `reference-bls`; every test build compiles it so that
//! `bls::differential` can hold the default backend (`blst.rs`) to it.
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

use super::{
    check_compressed, check_uncompressed, Checked, G1_BYTES, G2_BYTES, G2_UNCOMPRESSED_BYTES,
};
use crate::bls::error::PointError;

/// A secret scalar in `[1, r)`.
pub type SecretScalar = bls12_381::Scalar;
/// A public key: a point of G1 (affine, subgroup-checked).
pub type PublicPoint = G1Affine;
/// A running sum of public keys.
pub type PublicSum = G1Projective;
/// A signature: a point of G2 (affine, subgroup-checked).
pub type SignaturePoint = G2Affine;
/// A running sum of signatures.
pub type SignatureSum = G2Projective;
/// A message hashed to G2 and prepared for the Miller loop.
pub type PreparedHash = G2Prepared;

// ---------------------------------------------------------------- scalars

/// Reads a 32-byte big-endian integer; `None` unless it is in `[0, r)`.
pub fn scalar_from_be_bytes(bytes: &[u8; 32]) -> Option<SecretScalar> {
    let mut le = *bytes;
    le.reverse();
    let scalar = Option::from(SecretScalar::from_bytes(&le));
    le.zeroize();
    scalar
}

/// Writes a scalar as 32 bytes big-endian.
pub fn scalar_to_be_bytes(scalar: &SecretScalar) -> [u8; 32] {
    let mut be = scalar.to_bytes();
    be.reverse();
    be
}

/// `OS2IP(okm) mod r` for a 48-byte big-endian `okm` (IETF KeyGen, step 5).
pub fn scalar_from_okm(okm: &[u8; 48]) -> SecretScalar {
    let mut wide = [0u8; 64];
    for (dst, src) in wide.iter_mut().zip(okm.iter().rev()) {
        *dst = *src;
    }
    let scalar = SecretScalar::from_bytes_wide(&wide);
    wide.zeroize();
    scalar
}

pub fn scalar_is_zero(scalar: &SecretScalar) -> bool {
    *scalar == SecretScalar::zero()
}

/// A 128-bit scalar for the random linear combination of batch verification.
fn scalar_from_u128(value: u128) -> SecretScalar {
    // Truncations are intended: the low and high 64-bit limbs.
    SecretScalar::from_raw([value as u64, (value >> 64) as u64, 0, 0])
}

// ---------------------------------------------------------------- points

/// `SkToPk`: `sk · g1`.
pub fn sk_to_pk(sk: &SecretScalar) -> PublicPoint {
    G1Affine::from(G1Affine::generator() * sk)
}

/// `hash_to_point`: `hash_to_curve` of RFC 9380, suite `BLS12381G2_XMD:SHA-256_SSWU_RO_`.
pub fn hash_to_g2(message: &[u8], dst: &[u8]) -> SignaturePoint {
    let point = <G2Projective as HashToCurve<ExpandMsgXmd<Sha256>>>::hash_to_curve([message], dst);
    G2Affine::from(point)
}

/// `hash_to_point` followed by the Miller-loop precomputation.
pub fn prepare_hash(message: &[u8], dst: &[u8]) -> PreparedHash {
    G2Prepared::from(hash_to_g2(message, dst))
}

/// The Miller-loop precomputation of a point hashed with [`hash_to_g2`].
pub fn prepare_point(point: &SignaturePoint) -> PreparedHash {
    G2Prepared::from(*point)
}

/// `CoreSign` of a message already hashed with [`hash_to_g2`]:
/// `sk · point`, the same point as [`sign`] of the message.
pub fn sign_point(sk: &SecretScalar, point: &SignaturePoint) -> SignaturePoint {
    G2Affine::from(G2Projective::from(*point) * sk)
}

/// `CoreSign`: `sk · hash_to_point(message)`.
pub fn sign(sk: &SecretScalar, message: &[u8], dst: &[u8]) -> SignaturePoint {
    let hashed = <G2Projective as HashToCurve<ExpandMsgXmd<Sha256>>>::hash_to_curve([message], dst);
    G2Affine::from(hashed * sk)
}

pub fn g1_is_identity(point: &PublicPoint) -> bool {
    bool::from(point.is_identity())
}

pub fn g1_sum_identity() -> PublicSum {
    G1Projective::identity()
}

pub fn g1_sum_add(sum: &mut PublicSum, point: &PublicPoint) {
    *sum = sum.add_mixed(point);
}

pub fn g1_sum_to_point(sum: &PublicSum) -> PublicPoint {
    G1Affine::from(sum)
}

pub fn g2_sum_identity() -> SignatureSum {
    G2Projective::identity()
}

pub fn g2_sum_add(sum: &mut SignatureSum, point: &SignaturePoint) {
    *sum = sum.add_mixed(point);
}

pub fn g2_sum_to_point(sum: &SignatureSum) -> SignaturePoint {
    G2Affine::from(sum)
}

// ---------------------------------------------------------------- pairings

/// `e(pk, H) == e(g1, sig)`, computed as one two-term Miller loop and one
/// final exponentiation: `e(pk, H) · e(-g1, sig) == 1`.
pub fn pairing_check(pk: &PublicPoint, hashed: &PreparedHash, sig: &SignaturePoint) -> bool {
    let neg_g1 = -G1Affine::generator();
    let sig_prepared = G2Prepared::from(*sig);
    multi_miller_loop(&[(pk, hashed), (&neg_g1, &sig_prepared)]).final_exponentiation()
        == Gt::identity()
}

/// `Π e(pk_i, H_i) == e(g1, sig)` (CoreAggregateVerify, steps 6–10).
pub fn multi_pairing_check(pairs: &[(PublicPoint, PreparedHash)], sig: &SignaturePoint) -> bool {
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
pub fn weighted_batch_check(items: &[(PublicPoint, PreparedHash, SignaturePoint, u128)]) -> bool {
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

pub fn encode_g1(point: &PublicPoint) -> [u8; G1_BYTES] {
    point.to_compressed()
}

pub fn encode_g2(point: &SignaturePoint) -> [u8; G2_BYTES] {
    point.to_compressed()
}

/// Decodes a compressed G1 point and checks it lies in the subgroup. The
/// identity (`0xc0` then 47 zero bytes) decodes; KeyValidate rejects it later.
pub fn decode_g1(bytes: &[u8]) -> Result<PublicPoint, PointError> {
    let array = match check_compressed::<G1_BYTES>(bytes)? {
        Checked::Identity => return Ok(G1Affine::identity()),
        Checked::Finite(array) => array,
    };
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
pub fn decode_g2(bytes: &[u8]) -> Result<SignaturePoint, PointError> {
    let array = match check_compressed::<G2_BYTES>(bytes)? {
        Checked::Identity => return Ok(G2Affine::identity()),
        Checked::Finite(array) => array,
    };
    let point: G2Affine =
        Option::from(G2Affine::from_compressed_unchecked(array)).ok_or(PointError::NotOnCurve)?;
    if bool::from(point.is_torsion_free()) {
        Ok(point)
    } else {
        Err(PointError::NotInSubgroup)
    }
}

pub fn encode_g2_uncompressed(point: &SignaturePoint) -> [u8; G2_UNCOMPRESSED_BYTES] {
    point.to_uncompressed()
}

/// Decodes an uncompressed G2 point (`x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0`, flags in
/// the first byte) and checks that it lies on the curve, **not** that it
/// lies in the subgroup (the draft's `signature_to_point` without
/// `subgroup_check`; see [`g2_in_subgroup`]). The compression and sort
/// flags must be clear; the identity is `0x40` then 191 zero bytes. Costs a
/// few field multiplications, no square root.
pub fn decode_g2_uncompressed_on_curve(bytes: &[u8]) -> Result<SignaturePoint, PointError> {
    let array = match check_uncompressed(bytes)? {
        Checked::Identity => return Ok(G2Affine::identity()),
        Checked::Finite(array) => array,
    };
    // `from_uncompressed_unchecked` checks neither the curve equation nor
    // the subgroup.
    let point: G2Affine =
        Option::from(G2Affine::from_uncompressed_unchecked(array)).ok_or(PointError::NotOnCurve)?;
    if bool::from(point.is_on_curve()) {
        Ok(point)
    } else {
        Err(PointError::NotOnCurve)
    }
}

/// The subgroup check of a G2 point (`psi(P) == [x]P`, about 80 µs).
pub fn g2_in_subgroup(point: &SignaturePoint) -> bool {
    bool::from(point.is_torsion_free())
}

/// A point on the curve outside the subgroup (the `deserialization_G2`
/// vector `not_in_G2`), for tests of code that must catch one.
#[cfg(test)]
pub fn g2_outside_subgroup() -> SignaturePoint {
    let bytes: [u8; G2_BYTES] = hex::decode(super::G2_OUTSIDE_SUBGROUP_HEX)
        .unwrap()
        .try_into()
        .unwrap();
    G2Affine::from_compressed_unchecked(&bytes).unwrap()
}

#[cfg(test)]
pub fn g2_neg(point: &SignaturePoint) -> SignaturePoint {
    -point
}
