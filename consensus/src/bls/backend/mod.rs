//! The seam between the BLS scheme and the curve library: the only module
//! that names one.
//!
//! Everything above it (`keys.rs`, `signature.rs`, `bls.rs`) sees only the
//! aliases, constants and functions re-exported here from the active
//! backend:
//!
//! | backend | crate | active |
//! |---|---|---|
//! | `blst.rs` | `blstrs` 0.7: a safe Rust API over supranational's `blst` (C and assembly) | by default |
//! | `reference.rs` | `bls12_381` 0.9 (zkcrypto, pure Rust, its `experimental` hash-to-curve) | with the feature `reference-bls` |
//!
//! Both define the same names with the same signatures. What a decoder
//! checks on the bytes alone (length, the three flag bits, the one encoding
//! of the identity, every coordinate below p) is plain byte code in this
//! file, shared by both, so both give the same [`PointError`] for the same
//! bytes; a backend only decompresses and checks the curve equation and
//! the subgroup.
//!
//! The golden vectors (`tests/vectors/bls12-381/`) run on whichever backend
//! is active. Test builds and the feature `differential` compile both, and
//! `bls::differential` checks that they agree byte for byte and verdict for
//! verdict: on the vectors, random keys, messages, aggregates and malformed
//! points in its unit tests, on arbitrary bytes in the fuzz target
//! `consensus/fuzz/fuzz_targets/bls_differential.rs`. The unit tests below
//! run on both backends too.

use super::error::PointError;

#[cfg(any(test, feature = "differential", not(feature = "reference-bls")))]
pub(super) mod blst;
#[cfg(any(test, feature = "differential", feature = "reference-bls"))]
pub(super) mod reference;

#[cfg(not(feature = "reference-bls"))]
pub(super) use self::blst::*;
#[cfg(feature = "reference-bls")]
pub(super) use self::reference::*;

/// Length of a compressed G1 point.
pub(super) const G1_BYTES: usize = 48;
/// Length of a compressed G2 point.
pub(super) const G2_BYTES: usize = 96;
/// Length of an uncompressed G2 point.
pub(super) const G2_UNCOMPRESSED_BYTES: usize = 192;
/// Length of one base-field element.
const FP_BYTES: usize = 48;

/// The base-field modulus p, big-endian.
pub(super) const P_BE: [u8; FP_BYTES] = [
    0x1a, 0x01, 0x11, 0xea, 0x39, 0x7f, 0xe6, 0x9a, 0x4b, 0x1b, 0xa7, 0xb6, 0x43, 0x4b, 0xac, 0xd7,
    0x64, 0x77, 0x4b, 0x84, 0xf3, 0x85, 0x12, 0xbf, 0x67, 0x30, 0xd2, 0xa0, 0xf6, 0xb0, 0xf6, 0x24,
    0x1e, 0xab, 0xff, 0xfe, 0xb1, 0x53, 0xff, 0xff, 0xb9, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xaa, 0xab,
];

const COMPRESSION_FLAG: u8 = 0x80;
const INFINITY_FLAG: u8 = 0x40;
const SORT_FLAG: u8 = 0x20;
const FLAG_MASK: u8 = 0xe0;

/// An encoding that passed the byte checks.
enum Checked<'a, const N: usize> {
    /// The one canonical encoding of the identity.
    Identity,
    /// A finite point's bytes, flags as allowed and every coordinate below
    /// p; whether it is on the curve and in the subgroup is the backend's
    /// to check.
    Finite(&'a [u8; N]),
}

/// The byte checks of a compressed point of `N` bytes (48 for G1, 96 for
/// G2, `x.c1 ‖ x.c0`): length, flags, the canonical identity, each
/// coordinate below p, in that order.
fn check_compressed<const N: usize>(bytes: &[u8]) -> Result<Checked<'_, N>, PointError> {
    let array: &[u8; N] = bytes.try_into().map_err(|_| PointError::Length {
        expected: N,
        found: bytes.len(),
    })?;
    if check_flags(array)? {
        return Ok(Checked::Identity);
    }
    for offset in (0..N).step_by(FP_BYTES) {
        check_field_element(array, offset)?;
    }
    Ok(Checked::Finite(array))
}

/// The byte checks of an uncompressed G2 point (`x.c1 ‖ x.c0 ‖ y.c1 ‖
/// y.c0`, flags in the first byte): length, compression and sort flags
/// clear, the identity only as `0x40` then 191 zero bytes, each coordinate
/// below p, in that order.
fn check_uncompressed(bytes: &[u8]) -> Result<Checked<'_, G2_UNCOMPRESSED_BYTES>, PointError> {
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
            Ok(Checked::Identity)
        } else {
            Err(PointError::NonCanonicalInfinity { first_byte })
        };
    }
    for offset in (0..G2_UNCOMPRESSED_BYTES).step_by(FP_BYTES) {
        check_field_element(array, offset)?;
    }
    Ok(Checked::Finite(array))
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

/// The `deserialization_G2` vector `not_in_G2`: a compressed point on the
/// curve outside the subgroup, for tests of code that must catch one.
#[cfg(test)]
const G2_OUTSIDE_SUBGROUP_HEX: &str = "8123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The unit tests of the seam, each run on both backends.
#[cfg(test)]
mod tests {
    use super::super::differential::{Backend, Blst, Reference};
    use super::*;

    /// Runs a generic test on both backends.
    macro_rules! on_both_backends {
        ($($test:ident),* $(,)?) => {
            mod reference {
                $(#[test]
                fn $test() {
                    super::$test::<super::Reference>();
                })*
            }
            mod blst {
                $(#[test]
                fn $test() {
                    super::$test::<super::Blst>();
                })*
            }
        };
    }

    on_both_backends!(
        hash_to_g2_vectors,
        uncompressed_g2_is_strict_but_skips_the_subgroup_check,
        okm_reduction_is_big_endian,
        scalar_round_trip,
    );

    /// RFC 9380 hash_to_curve vectors (`hash_to_G2` folder), which use the
    /// test DST, not the signature DST. They live here because they need the
    /// raw curve point, which the public interface does not expose.
    fn hash_to_g2_vectors<B: Backend>() {
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
            let point = B::hash_to_g2(msg.as_bytes(), DST);
            // Uncompressed: x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0, 48 bytes each.
            let raw = B::encode_g2_uncompressed(&point);
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

    fn scalar(value: u8) -> [u8; 32] {
        let mut be = [0u8; 32];
        be[31] = value;
        be
    }

    fn uncompressed_g2_is_strict_but_skips_the_subgroup_check<B: Backend>() {
        let sk = B::scalar_from_be_bytes(&scalar(5)).unwrap();
        let point = B::sign(&sk, b"m", b"dst");
        let bytes = B::encode_g2_uncompressed(&point);
        assert_eq!(B::decode_g2_uncompressed_on_curve(&bytes), Ok(point));
        assert!(B::g2_in_subgroup(&point));

        // The identity: 0x40 and zero bytes only.
        let mut identity = [0u8; G2_UNCOMPRESSED_BYTES];
        identity[0] = 0x40;
        let identity_point = B::g2_sum_to_point(&B::g2_sum_identity());
        assert_eq!(
            B::decode_g2_uncompressed_on_curve(&identity),
            Ok(identity_point)
        );
        assert_eq!(B::encode_g2_uncompressed(&identity_point), identity);
        identity[191] = 1;
        assert_eq!(
            B::decode_g2_uncompressed_on_curve(&identity),
            Err(PointError::NonCanonicalInfinity { first_byte: 0x40 })
        );

        // Compression or sort flag set.
        for flag in [0x80, 0x20, 0xa0] {
            let mut flagged = bytes;
            flagged[0] |= flag;
            assert_eq!(
                B::decode_g2_uncompressed_on_curve(&flagged),
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
                B::decode_g2_uncompressed_on_curve(&big),
                Err(PointError::CoordinateNotInField { offset })
            );
        }
        // Off the curve: another y, and (0, 0) without the infinity flag.
        let mut off = bytes;
        off[191] ^= 1;
        assert_eq!(
            B::decode_g2_uncompressed_on_curve(&off),
            Err(PointError::NotOnCurve)
        );
        assert_eq!(
            B::decode_g2_uncompressed_on_curve(&[0; G2_UNCOMPRESSED_BYTES]),
            Err(PointError::NotOnCurve)
        );
        assert_eq!(
            B::decode_g2_uncompressed_on_curve(&bytes[..191]),
            Err(PointError::Length {
                expected: 192,
                found: 191
            })
        );

        // On the curve, outside the subgroup (the `deserialization_G2`
        // vector `not_in_G2`): decodes, and the subgroup check catches it.
        let outside = B::g2_outside_subgroup();
        let compressed = B::encode_g2(&outside);
        assert_eq!(hex::encode(compressed), G2_OUTSIDE_SUBGROUP_HEX);
        let decoded =
            B::decode_g2_uncompressed_on_curve(&B::encode_g2_uncompressed(&outside)).unwrap();
        assert!(!B::g2_in_subgroup(&decoded));
        assert_eq!(B::decode_g2(&compressed), Err(PointError::NotInSubgroup));
    }

    fn okm_reduction_is_big_endian<B: Backend>() {
        let mut okm = [0u8; 48];
        okm[47] = 5;
        assert_eq!(B::scalar_to_be_bytes(&B::scalar_from_okm(&okm)), scalar(5));
        // The reduction: r (as 48 bytes) is zero, r + 7 is 7.
        let r = hex::decode("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001")
            .unwrap();
        let mut okm = [0u8; 48];
        okm[16..].copy_from_slice(&r);
        assert!(B::scalar_is_zero(&B::scalar_from_okm(&okm)));
        okm[47] += 7;
        assert_eq!(B::scalar_to_be_bytes(&B::scalar_from_okm(&okm)), scalar(7));
    }

    fn scalar_round_trip<B: Backend>() {
        let scalar_bytes = scalar(7);
        let value = B::scalar_from_be_bytes(&scalar_bytes).unwrap();
        assert_eq!(B::scalar_to_be_bytes(&value), scalar_bytes);
        assert!(!B::scalar_is_zero(&value));
        assert!(B::scalar_is_zero(
            &B::scalar_from_be_bytes(&scalar(0)).unwrap()
        ));
        // r itself is out of range.
        let r: [u8; 32] =
            hex::decode("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001")
                .unwrap()
                .try_into()
                .unwrap();
        assert!(B::scalar_from_be_bytes(&r).is_none());
    }
}
