//! What can be wrong with BLS inputs.

/// Why a byte string is not a valid curve point (compressed, or for
/// [`UncheckedSignature`](super::UncheckedSignature) uncompressed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PointError {
    /// The encoding has the wrong length.
    #[error("expected {expected} bytes, found {found}")]
    Length {
        /// 48 for G1, 96 for G2, 192 for an uncompressed G2 point.
        expected: usize,
        /// Length of the input.
        found: usize,
    },
    /// Bit 7 of the first byte (the compression flag) is clear.
    #[error("compression flag (bit 7 of byte 0) is clear: first byte {first_byte:#04x}")]
    NotCompressed {
        /// The first byte of the input.
        first_byte: u8,
    },
    /// An uncompressed encoding has the compression flag (bit 7) or the
    /// sort flag (bit 5) of its first byte set.
    #[error(
        "uncompressed point with the compression or sort flag set: first byte {first_byte:#04x}"
    )]
    UncompressedFlags {
        /// The first byte of the input.
        first_byte: u8,
    },
    /// The infinity flag is set but the rest is not the canonical
    /// `0xc0 00 … 00` (compressed) or `0x40 00 … 00` (uncompressed).
    #[error("infinity flag set but the encoding is not 0xc0 (or 0x40 uncompressed) followed by zero bytes: first byte {first_byte:#04x}")]
    NonCanonicalInfinity {
        /// The first byte of the input.
        first_byte: u8,
    },
    /// A coordinate (flag bits masked) is not less than the field modulus p.
    #[error("the 48-byte coordinate at byte offset {offset} is not less than the field modulus p")]
    CoordinateNotInField {
        /// Byte offset of the coordinate: 0, 48, and for an uncompressed G2
        /// point also 96 and 144 (`x.c1`, `x.c0`, `y.c1`, `y.c0`).
        offset: usize,
    },
    /// The point is not on the curve: no curve point has this `x`
    /// coordinate (compressed), or `(x, y)` does not satisfy the curve
    /// equation (uncompressed).
    #[error("not a point of the curve")]
    NotOnCurve,
    /// The point is on the curve but outside the prime-order subgroup.
    #[error("the point is on the curve but not in the prime-order subgroup")]
    NotInSubgroup,
}

/// Errors of the `bls` module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BlsError {
    /// A public key's bytes are not a valid G1 point.
    #[error("invalid public key encoding: {0}")]
    PublicKeyEncoding(PointError),
    /// A signature's bytes are not a valid G2 point.
    #[error("invalid signature encoding: {0}")]
    SignatureEncoding(PointError),
    /// A proof of possession's bytes are not a valid G2 point.
    #[error("invalid proof-of-possession encoding: {0}")]
    ProofOfPossessionEncoding(PointError),
    /// The public key (or an aggregate of public keys) is the identity point,
    /// which KeyValidate rejects.
    #[error("the public key is the identity point, which KeyValidate rejects")]
    IdentityPublicKey,
    /// A secret key has the wrong length.
    #[error("secret key must be {expected} bytes, found {found}")]
    SecretKeyLength {
        /// Always 32.
        expected: usize,
        /// Length of the input.
        found: usize,
    },
    /// The secret key is zero.
    #[error("secret key is zero")]
    ZeroSecretKey,
    /// The secret key, read big-endian, is not less than the group order r.
    #[error("secret key is not less than the group order r")]
    SecretKeyOutOfRange,
    /// KeyGen was given too little input keying material.
    #[error("KeyGen needs at least {minimum} bytes of key material, found {found}")]
    KeyMaterialTooShort {
        /// Always 32.
        minimum: usize,
        /// Length of the input.
        found: usize,
    },
    /// Aggregate, FastAggregateVerify, AggregateVerify or batch verification
    /// was given nothing.
    #[error("nothing to aggregate: the input list is empty")]
    Empty,
    /// The lists given to AggregateVerify or batch verification differ in length.
    #[error(
        "{public_keys} public keys, {messages} messages and {signatures} signatures do not line up"
    )]
    LengthMismatch {
        /// Number of public keys.
        public_keys: usize,
        /// Number of messages.
        messages: usize,
        /// Number of signatures (1 for AggregateVerify).
        signatures: usize,
    },
    /// The pairing check failed: the signature is not valid for this key and message.
    #[error("signature does not verify for this public key and message")]
    InvalidSignature,
    /// The proof of possession is not valid for this public key.
    #[error("proof of possession does not verify for this public key")]
    InvalidProofOfPossession,
}
