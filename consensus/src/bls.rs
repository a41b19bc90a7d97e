//! BLS signatures on BLS12-381: the IETF ciphersuite
//! `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_`, minimal-pubkey-size.
//!
//! This is the scheme of draft-irtf-cfrg-bls-signature-05 with the
//! proof-of-possession variant, the same as Ethereum's consensus layer, so it
//! interoperates byte-for-byte with blst, py_ecc and milagro (the golden
//! vectors in `tests/vectors/bls12-381/` pin that).
//!
//! # Formats
//!
//! | value | bytes | encoding |
//! |---|---|---|
//! | [`SecretKey`] | 32 | big-endian integer in `[1, r)`, `r` the order of G1 and G2 |
//! | [`PublicKey`] | 48 | compressed G1 point, ZCash serialization |
//! | [`Signature`], [`ProofOfPossession`] | 96 | compressed G2 point, ZCash serialization: `x.c1 ‖ x.c0` |
//! | [`UncheckedSignature`] | 192 | uncompressed G2 point: `x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0`, flags in the first byte |
//!
//! ZCash serialization: the field elements are 48-byte big-endian integers
//! less than p; the top three bits of the first byte are flags. Bit 7 (`0x80`,
//! compression) must be set. Bit 6 (`0x40`, infinity) marks the identity,
//! whose only valid encoding is `0xc0` followed by zero bytes. Bit 5 (`0x20`,
//! sort) is set when `y` is the lexicographically larger of `±y`. Decoding
//! rejects every other encoding, points off the curve and points outside the
//! prime-order subgroup, each with its own [`PointError`]. Uncompressed: bits
//! 7 and 5 must be clear, the identity is only `0x40` followed by zero
//! bytes, both coordinates are given, and decoding checks that the point is
//! on the curve but leaves the subgroup check to the verifier
//! ([`UncheckedSignature`]: the draft's `signature_to_point` split in two, so
//! that many votes can share one subgroup check of their sum).
//!
//! # Operations
//!
//! * `KeyGen(IKM ≥ 32 bytes, key_info)`: [`SecretKey::key_gen`] (HKDF-SHA-256,
//!   salt `"BLS-SIG-KEYGEN-SALT-"` hashed again on each retry; EIP-2333's
//!   `derive_master_SK` when `key_info` is empty).
//! * `SkToPk`: [`SecretKey::public_key`]; `KeyValidate`: [`PublicKey::from_bytes`]
//!   (a [`PublicKey`] value is always valid: on the curve, in the subgroup,
//!   not the identity).
//! * `Sign` / `Verify`: `hash_to_point(m) = hash_to_curve` of RFC 9380 with
//!   suite `BLS12381G2_XMD:SHA-256_SSWU_RO_` and DST [`SIGNATURE_DST`];
//!   a signature is `sk · hash_to_point(m)`; verification checks
//!   `e(pk, H(m)) = e(g1, sig)`.
//! * `Aggregate`: [`AggregateSignature`]; `FastAggregateVerify` (one message,
//!   many signers, one pairing check): [`fast_aggregate_verify`],
//!   [`AggregatePublicKey`]; `AggregateVerify` (one message per signer):
//!   [`aggregate_verify`]. As in the `_POP_` ciphersuite, AggregateVerify
//!   does not require the messages to be distinct: proofs of possession,
//!   checked when keys are registered, rule out rogue keys instead.
//! * `PopProve` / `PopVerify`: [`SecretKey::prove_possession`],
//!   [`PublicKey::verify_possession`]: a signature over the 48-byte compressed
//!   public key under the separate DST [`POP_DST`].
//! * Batch verification of independent `(pk, message, signature)` triples:
//!   [`batch_verify`].
//!
//! # Backend
//!
//! Only `bls/backend/` names a curve library: `blstrs` over `blst` by
//! default (`backend/blst.rs`), the pure-Rust `bls12_381` crate with the
//! feature `reference-bls` (`backend/reference.rs`, the reference). The
//! types here keep their curve points private, so the backends are
//! interchangeable without touching callers; both give the same bytes and
//! the same verdicts, which the golden vectors and the differential tests
//! of the hidden module `differential` (both backends side by side) check.

mod backend;
#[cfg(any(test, feature = "differential"))]
#[doc(hidden)]
pub mod differential;
mod error;
mod keys;
mod signature;

use sha2::{Digest, Sha256};

/// Counts messages hashed to G2 on this thread, so that tests can hold the
/// consensus engine to hashing each vote message once.
#[cfg(test)]
pub(crate) mod hash_count {
    use std::cell::Cell;

    thread_local! {
        static HASHED: Cell<u64> = const { Cell::new(0) };
    }

    /// One more message hashed.
    pub(crate) fn add() {
        HASHED.with(|n| n.set(n.get() + 1));
    }

    /// Messages hashed on this thread so far.
    pub(crate) fn get() -> u64 {
        HASHED.with(Cell::get)
    }
}

pub use error::{BlsError, PointError};
pub use keys::{ProofOfPossession, PublicKey, SecretKey};
pub use signature::{
    AggregatePublicKey, AggregateSignature, HashedMessage, Signature, UncheckedAggregate,
    UncheckedSignature,
};

/// The domain separation tag of signatures.
pub const SIGNATURE_DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
/// The domain separation tag of proofs of possession.
pub const POP_DST: &[u8] = b"BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
/// Length of an encoded secret key.
pub const SECRET_KEY_BYTES: usize = 32;
/// Length of an encoded public key.
pub const PUBLIC_KEY_BYTES: usize = backend::G1_BYTES;
/// Length of an encoded signature or proof of possession.
pub const SIGNATURE_BYTES: usize = backend::G2_BYTES;
/// Length of an uncompressed signature ([`UncheckedSignature`]).
pub const SIGNATURE_UNCOMPRESSED_BYTES: usize = backend::G2_UNCOMPRESSED_BYTES;

/// KeyGen's initial salt.
const KEYGEN_SALT: &[u8] = b"BLS-SIG-KEYGEN-SALT-";
/// KeyGen's minimum input keying material.
const MIN_KEY_MATERIAL_BYTES: usize = 32;
/// Domain tag of the transcript that derives batch-verification weights.
const BATCH_TRANSCRIPT_TAG: &[u8] = b"sherd/bls/batch-verify/v1";

/// IETF `FastAggregateVerify(PKs, message, signature)`: many signers, one
/// message, one pairing check. Fails on an empty key list.
pub fn fast_aggregate_verify(
    public_keys: &[PublicKey],
    message: &[u8],
    signature: &Signature,
) -> Result<(), BlsError> {
    AggregatePublicKey::from_public_keys(public_keys)?.verify(message, signature)
}

/// IETF `AggregateVerify(PKs, messages, signature)`: signer `i` signed
/// `messages[i]`; one multi-pairing of `n + 1` terms. Fails on empty or
/// mismatched lists.
pub fn aggregate_verify(
    public_keys: &[PublicKey],
    messages: &[&[u8]],
    signature: &Signature,
) -> Result<(), BlsError> {
    if public_keys.len() != messages.len() {
        return Err(BlsError::LengthMismatch {
            public_keys: public_keys.len(),
            messages: messages.len(),
            signatures: 1,
        });
    }
    if public_keys.is_empty() {
        return Err(BlsError::Empty);
    }
    let pairs: Vec<_> = public_keys
        .iter()
        .zip(messages)
        .map(|(key, message)| (key.0, backend::prepare_hash(message, SIGNATURE_DST)))
        .collect();
    if backend::multi_pairing_check(&pairs, &signature.0) {
        Ok(())
    } else {
        Err(BlsError::InvalidSignature)
    }
}

/// Verifies `n` independent signatures (signer `i` signed `messages[i]`
/// with `signatures[i]`) in one multi-pairing of `n + 1` terms.
///
/// Each triple is weighted by a 128-bit scalar `r_i` and the check is
/// `Π e(r_i·pk_i, H(m_i)) = e(g1, Σ r_i·sig_i)`, so an invalid signature
/// cannot be cancelled by another. The weights are derived deterministically
/// (Fiat–Shamir) from every input, which keeps this crate free of a random
/// source:
///
/// ```text
/// T   = SHA-256("sherd/bls/batch-verify/v1" ‖ n as u64 BE ‖
///               for each i: pk_i (48) ‖ len(m_i) as u64 BE ‖ m_i ‖ sig_i (96))
/// r_i = (first 16 bytes of SHA-256(T ‖ i as u64 BE), as u128 LE) | 1
/// ```
///
/// An error says only that at least one signature is invalid; verify them
/// one by one to find which.
pub fn batch_verify(
    public_keys: &[PublicKey],
    messages: &[&[u8]],
    signatures: &[Signature],
) -> Result<(), BlsError> {
    let prepared = messages.iter().map(|message| {
        #[cfg(test)]
        hash_count::add();
        backend::prepare_hash(message, SIGNATURE_DST)
    });
    weighted_check(public_keys, messages, signatures, prepared)
}

/// [`batch_verify`] of messages already hashed: `messages[i]` is the message
/// (it goes into the weights' transcript) and `hashed[i]` its
/// [`HashedMessage::new`], which must be of that same message.
pub fn batch_verify_hashed(
    public_keys: &[PublicKey],
    messages: &[&[u8]],
    hashed: &[&HashedMessage],
    signatures: &[Signature],
) -> Result<(), BlsError> {
    if hashed.len() != messages.len() {
        return Err(BlsError::LengthMismatch {
            public_keys: public_keys.len(),
            messages: hashed.len(),
            signatures: signatures.len(),
        });
    }
    let prepared = hashed.iter().map(|hashed| hashed.prepared.clone());
    weighted_check(public_keys, messages, signatures, prepared)
}

fn weighted_check(
    public_keys: &[PublicKey],
    messages: &[&[u8]],
    signatures: &[Signature],
    prepared: impl Iterator<Item = backend::PreparedHash>,
) -> Result<(), BlsError> {
    let n = public_keys.len();
    if messages.len() != n || signatures.len() != n {
        return Err(BlsError::LengthMismatch {
            public_keys: n,
            messages: messages.len(),
            signatures: signatures.len(),
        });
    }
    if n == 0 {
        return Err(BlsError::Empty);
    }
    let mut transcript = Sha256::new();
    transcript.update(BATCH_TRANSCRIPT_TAG);
    transcript.update((n as u64).to_be_bytes());
    for ((key, message), signature) in public_keys.iter().zip(messages).zip(signatures) {
        transcript.update(key.to_bytes());
        transcript.update((message.len() as u64).to_be_bytes());
        transcript.update(message);
        transcript.update(signature.to_bytes());
    }
    let transcript = transcript.finalize();
    let items: Vec<_> = public_keys
        .iter()
        .zip(signatures)
        .zip(prepared)
        .zip(0u64..)
        .map(|(((key, signature), prepared), index)| {
            let digest = Sha256::new()
                .chain_update(transcript)
                .chain_update(index.to_be_bytes())
                .finalize();
            let mut low = [0u8; 16];
            for (dst, src) in low.iter_mut().zip(digest.iter()) {
                *dst = *src;
            }
            let weight = u128::from_le_bytes(low) | 1;
            (key.0, prepared, signature.0, weight)
        })
        .collect();
    if backend::weighted_batch_check(&items) {
        Ok(())
    } else {
        Err(BlsError::InvalidSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SecretKey {
        SecretKey::key_gen(&[seed; 32], b"").unwrap()
    }

    #[test]
    fn sign_and_verify() {
        let sk = key(1);
        let pk = sk.public_key();
        let sig = sk.sign(b"hello");
        pk.verify(b"hello", &sig).unwrap();
        assert_eq!(pk.verify(b"hellO", &sig), Err(BlsError::InvalidSignature));
        assert_eq!(
            key(2).public_key().verify(b"hello", &sig),
            Err(BlsError::InvalidSignature)
        );
        let decoded = Signature::from_bytes(&sig.to_bytes()).unwrap();
        assert_eq!(decoded, sig);
        assert_eq!(PublicKey::from_bytes(&pk.to_bytes()).unwrap(), pk);
    }

    #[test]
    fn a_message_hashed_once_signs_and_verifies_as_the_message_does() {
        for (seed, message) in [(1, &b"hello"[..]), (2, b""), (3, &[7u8; 300][..])] {
            let sk = key(seed);
            let hashed = HashedMessage::new(message);
            let signature = sk.sign_hashed(&hashed);
            assert_eq!(signature.to_bytes(), sk.sign(message).to_bytes());
            sk.public_key().verify_hashed(&hashed, &signature).unwrap();
        }
        let keys: Vec<_> = (1..=2).map(key).collect();
        let pks: Vec<_> = keys.iter().map(SecretKey::public_key).collect();
        let messages: Vec<&[u8]> = vec![b"reveal", b"vote"];
        let hashed: Vec<_> = messages.iter().map(|m| HashedMessage::new(m)).collect();
        let hashed: Vec<_> = hashed.iter().collect();
        let sigs: Vec<_> = keys.iter().zip(&messages).map(|(k, m)| k.sign(m)).collect();
        batch_verify_hashed(&pks, &messages, &hashed, &sigs).unwrap();
        let swapped = [hashed[1], hashed[0]];
        assert_eq!(
            batch_verify_hashed(&pks, &messages, &swapped, &sigs),
            Err(BlsError::InvalidSignature)
        );
        assert!(matches!(
            batch_verify_hashed(&pks, &messages, &hashed[..1], &sigs),
            Err(BlsError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn fast_aggregate() {
        let keys: Vec<_> = (1..=5).map(key).collect();
        let pks: Vec<_> = keys.iter().map(SecretKey::public_key).collect();
        let sigs: Vec<_> = keys.iter().map(|k| k.sign(b"block")).collect();
        let agg = AggregateSignature::aggregate(&sigs).unwrap();
        fast_aggregate_verify(&pks, b"block", &agg).unwrap();
        assert_eq!(
            fast_aggregate_verify(&pks[..4], b"block", &agg),
            Err(BlsError::InvalidSignature)
        );
        assert_eq!(
            fast_aggregate_verify(&[], b"block", &agg),
            Err(BlsError::Empty)
        );
        assert_eq!(AggregateSignature::aggregate(&[]), Err(BlsError::Empty));
    }

    #[test]
    fn aggregate_and_batch_with_distinct_messages() {
        let keys: Vec<_> = (1..=3).map(key).collect();
        let pks: Vec<_> = keys.iter().map(SecretKey::public_key).collect();
        let messages: Vec<&[u8]> = vec![b"a", b"b", b"c"];
        let sigs: Vec<_> = keys.iter().zip(&messages).map(|(k, m)| k.sign(m)).collect();
        let agg = AggregateSignature::aggregate(&sigs).unwrap();
        aggregate_verify(&pks, &messages, &agg).unwrap();
        batch_verify(&pks, &messages, &sigs).unwrap();

        let swapped: Vec<&[u8]> = vec![b"b", b"a", b"c"];
        assert_eq!(
            aggregate_verify(&pks, &swapped, &agg),
            Err(BlsError::InvalidSignature)
        );
        assert_eq!(
            batch_verify(&pks, &swapped, &sigs),
            Err(BlsError::InvalidSignature)
        );

        // Two wrong signatures whose errors cancel in a plain sum still fail.
        let mut crossed = sigs.clone();
        crossed.swap(0, 1);
        assert_eq!(
            batch_verify(&pks, &messages, &crossed),
            Err(BlsError::InvalidSignature)
        );
        assert_eq!(
            AggregateSignature::aggregate(&crossed).unwrap(),
            agg,
            "a plain sum cannot tell"
        );

        assert_eq!(
            aggregate_verify(&pks, &messages[..2], &agg),
            Err(BlsError::LengthMismatch {
                public_keys: 3,
                messages: 2,
                signatures: 1
            })
        );
        assert_eq!(
            batch_verify(&pks, &messages, &sigs[..1]),
            Err(BlsError::LengthMismatch {
                public_keys: 3,
                messages: 3,
                signatures: 1
            })
        );
    }

    #[test]
    fn aggregate_of_opposite_keys_is_rejected() {
        // pk + (-pk) sums to the identity; FastAggregateVerify must not accept
        // the identity signature for it.
        let pk = key(1).public_key();
        let mut neg = [0u8; 48];
        neg.copy_from_slice(&pk.to_bytes());
        neg[0] ^= 0x20; // flip the sort flag: the point -pk
        let neg = PublicKey::from_bytes(&neg).unwrap();
        let mut identity = [0u8; 96];
        identity[0] = 0xc0;
        let identity = Signature::from_bytes(&identity).unwrap();
        assert_eq!(
            fast_aggregate_verify(&[pk, neg], b"m", &identity),
            Err(BlsError::IdentityPublicKey)
        );
    }

    #[test]
    fn decoding_errors_name_the_problem() {
        assert_eq!(
            PublicKey::from_bytes(&[0x80; 47]),
            Err(BlsError::PublicKeyEncoding(PointError::Length {
                expected: 48,
                found: 47
            }))
        );
        assert_eq!(
            Signature::from_bytes(&[0u8; 96]),
            Err(BlsError::SignatureEncoding(PointError::NotCompressed {
                first_byte: 0
            }))
        );
        let mut bad_infinity = [0u8; 96];
        bad_infinity[0] = 0xe0;
        assert_eq!(
            Signature::from_bytes(&bad_infinity),
            Err(BlsError::SignatureEncoding(
                PointError::NonCanonicalInfinity { first_byte: 0xe0 }
            ))
        );
        let mut too_big = [0xffu8; 96];
        too_big[0] = 0x9f;
        assert_eq!(
            Signature::from_bytes(&too_big),
            Err(BlsError::SignatureEncoding(
                PointError::CoordinateNotInField { offset: 0 }
            ))
        );
        too_big[0] = 0x80;
        assert_eq!(
            Signature::from_bytes(&too_big),
            Err(BlsError::SignatureEncoding(
                PointError::CoordinateNotInField { offset: 48 }
            ))
        );
    }
}
