//! The default backend: `blstrs`, a safe Rust API over supranational's
//! `blst` (C and assembly, the library of most Ethereum consensus clients).
//! The crate forbids `unsafe` code; the unsafe calls into `blst` live in
//! `blstrs`.
//!
//! The same names and signatures as `reference.rs`. Where the libraries
//! differ underneath:
//!
//! * Hashing to G2 is `blst_hash_to_g2`, the random-oracle suite
//!   `BLS12381G2_XMD:SHA-256_SSWU_RO_` of RFC 9380 (not its
//!   `encode_to_g2`); the `hash_to_G2` vectors pin it.
//! * `blstrs` has no wide reduction of a 48-byte integer, so
//!   [`scalar_from_okm`] reduces in the field: six 64-bit big-endian
//!   limbs, Horner's rule with `2^64`.
//! * `blstrs::Scalar` does not implement `Zeroize`; [`SecretScalar`] wraps
//!   it so that `zeroize` can overwrite it (its `Default` is all zero
//!   bytes). The intermediate scalars of that reduction are not
//!   overwritten, nor are the copies either library makes inside its
//!   arithmetic (the reference zeroes only its byte buffers too).
//! * `blst_p1_uncompress` refuses the G1 points with `x = 0` (`(0, ±2)`,
//!   on the curve, of order 3) as outside the group, where `bls12_381`
//!   decompresses them and its subgroup check refuses them; `blstrs`
//!   reports only a failure, so [`decode_g1`] tells the two apart by `x`
//!   and gives `NotInSubgroup` as the reference does (the
//!   `deserialization_G1` vector `infinity_with_false_b_flag`; found by
//!   the differential test).
//! * `blst_p2_deserialize`, under `from_uncompressed_unchecked`, checks the
//!   curve equation itself (unlike `bls12_381`'s function of that name),
//!   so the uncompressed decoder needs no second check.
//!
//! Group elements cannot overflow, so the curve arithmetic operators below
//! are allowed despite the crate-wide `arithmetic_side_effects` lint.
#![allow(
    clippy::arithmetic_side_effects,
    reason = "group and field operations are total: they wrap modulo p or r and never panic"
)]

use std::fmt;

use blstrs::{Bls12, G1Affine, G1Projective, G2Affine, G2Prepared, G2Projective, Gt, Scalar};
use group::prime::PrimeCurveAffine;
use group::Group;
use pairing::{MillerLoopResult, MultiMillerLoop};

use super::{
    check_compressed, check_uncompressed, Checked, FLAG_MASK, G1_BYTES, G2_BYTES,
    G2_UNCOMPRESSED_BYTES,
};
use crate::bls::error::PointError;

/// A secret scalar in `[1, r)`. `Copy` because `zeroize`'s
/// `DefaultIsZeroes` needs it (`bls12_381::Scalar` is `Copy` too); no
/// `PartialEq`, so that nothing compares secrets.
#[derive(Clone, Copy, Default)]
pub struct SecretScalar(Scalar);

/// `Default` is the zero scalar, all zero bytes (Montgomery form of 0), so
/// `zeroize` overwrites a [`SecretScalar`] with it.
impl zeroize::DefaultIsZeroes for SecretScalar {}

impl fmt::Debug for SecretScalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretScalar(<redacted>)")
    }
}

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
    Option::from(Scalar::from_bytes_be(bytes)).map(SecretScalar)
}

/// Writes a scalar as 32 bytes big-endian.
pub fn scalar_to_be_bytes(scalar: &SecretScalar) -> [u8; 32] {
    scalar.0.to_bytes_be()
}

/// `OS2IP(okm) mod r` for a 48-byte big-endian `okm` (IETF KeyGen, step 5).
pub fn scalar_from_okm(okm: &[u8; 48]) -> SecretScalar {
    SecretScalar(scalar_from_be_limbs(okm))
}

pub fn scalar_is_zero(scalar: &SecretScalar) -> bool {
    scalar.0 == Scalar::from(0u64)
}

/// A 128-bit scalar for the random linear combination of batch verification.
fn scalar_from_u128(value: u128) -> Scalar {
    scalar_from_be_limbs(&value.to_be_bytes())
}

/// A big-endian integer of whole 64-bit limbs, reduced mod r.
fn scalar_from_be_limbs(bytes: &[u8]) -> Scalar {
    let limb_base = Scalar::from(1u64 << 32) * Scalar::from(1u64 << 32);
    bytes.chunks_exact(8).fold(Scalar::from(0u64), |acc, limb| {
        let limb = u64::from_be_bytes(limb.try_into().unwrap_or_default());
        acc * limb_base + Scalar::from(limb)
    })
}

// ---------------------------------------------------------------- points

/// `SkToPk`: `sk · g1`.
pub fn sk_to_pk(sk: &SecretScalar) -> PublicPoint {
    G1Affine::from(G1Affine::generator() * sk.0)
}

/// `hash_to_point`: `hash_to_curve` of RFC 9380, suite `BLS12381G2_XMD:SHA-256_SSWU_RO_`.
pub fn hash_to_g2(message: &[u8], dst: &[u8]) -> SignaturePoint {
    G2Affine::from(G2Projective::hash_to_curve(message, dst, &[]))
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
    G2Affine::from(G2Projective::from(*point) * sk.0)
}

/// `CoreSign`: `sk · hash_to_point(message)`.
pub fn sign(sk: &SecretScalar, message: &[u8], dst: &[u8]) -> SignaturePoint {
    G2Affine::from(G2Projective::hash_to_curve(message, dst, &[]) * sk.0)
}

pub fn g1_is_identity(point: &PublicPoint) -> bool {
    bool::from(point.is_identity())
}

pub fn g1_sum_identity() -> PublicSum {
    G1Projective::identity()
}

pub fn g1_sum_add(sum: &mut PublicSum, point: &PublicPoint) {
    *sum += point;
}

pub fn g1_sum_to_point(sum: &PublicSum) -> PublicPoint {
    G1Affine::from(sum)
}

pub fn g2_sum_identity() -> SignatureSum {
    G2Projective::identity()
}

pub fn g2_sum_add(sum: &mut SignatureSum, point: &SignaturePoint) {
    *sum += point;
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
    Bls12::multi_miller_loop(&[(pk, hashed), (&neg_g1, &sig_prepared)]).final_exponentiation()
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
    Bls12::multi_miller_loop(&terms).final_exponentiation() == Gt::identity()
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
    Bls12::multi_miller_loop(&terms).final_exponentiation() == Gt::identity()
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
    let point: G1Affine = match Option::from(G1Affine::from_compressed_unchecked(array)) {
        Some(point) => point,
        // `blst_p1_uncompress` refuses the curve points (0, ±2), of order
        // 3, as outside the group, any other failure (after the byte
        // checks) is an x without a point; `blstrs` keeps only that it
        // failed.
        None if x_is_zero(array) => return Err(PointError::NotInSubgroup),
        None => return Err(PointError::NotOnCurve),
    };
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
    // `blst_p2_deserialize` rejects a point off the curve; after the byte
    // checks above, that is the only way it fails.
    Option::from(G2Affine::from_uncompressed_unchecked(array)).ok_or(PointError::NotOnCurve)
}

/// Whether a compressed G1 point's x, flag bits masked off, is zero.
fn x_is_zero(bytes: &[u8; G1_BYTES]) -> bool {
    bytes
        .split_first()
        .is_some_and(|(first, rest)| first & !FLAG_MASK == 0 && rest.iter().all(|&b| b == 0))
}

/// The subgroup check of a G2 point (`blst_p2_affine_in_g2`).
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
