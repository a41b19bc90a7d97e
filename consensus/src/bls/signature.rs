//! Signatures, hashed messages and aggregates.

use std::fmt;
use std::hash::{Hash, Hasher};

use super::backend::{self, PreparedHash, PublicSum, SignaturePoint, SignatureSum};
use super::error::BlsError;
use super::error::PointError;
use super::keys::{write_hex_prefix, PublicKey};
use super::{SIGNATURE_BYTES, SIGNATURE_DST, SIGNATURE_UNCOMPRESSED_BYTES};

/// A BLS signature (or an aggregate of signatures): a G2 point in the
/// subgroup, encoded as 96 compressed bytes. The identity is a valid
/// encoding; it verifies against no valid public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub(super) SignaturePoint);

impl Signature {
    /// Decodes 96 compressed bytes, with the subgroup check.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsError> {
        backend::decode_g2(bytes)
            .map(Self)
            .map_err(BlsError::SignatureEncoding)
    }

    /// The 96-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; SIGNATURE_BYTES] {
        backend::encode_g2(&self.0)
    }
}

impl Hash for Signature {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.to_bytes().hash(state);
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(")?;
        write_hex_prefix(f, &self.to_bytes())?;
        write!(f, ")")
    }
}

/// A signature as a vote carries it on the wire: a G2 point known to lie on
/// the curve but **not yet subgroup-checked**, encoded as 192 uncompressed
/// bytes (`x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0`, ZCash flags).
///
/// Decoding one is the draft's `signature_to_point` without its
/// `subgroup_check`: an on-curve check (a few field multiplications), not
/// the square root of decompression (~130 µs in `bls12_381`) nor the
/// subgroup check (~80 µs). The draft's `Aggregate` works on such points;
/// `CoreAggregateVerify` and `FastAggregateVerify` subgroup-check the
/// aggregate, which is what [`AggregatePublicKey::verify_unchecked`] does.
/// Never trust one alone: [`subgroup_check`](Self::subgroup_check) turns it
/// into a [`Signature`] (the [`collector`](crate::collector) module docs
/// explain why summing unchecked votes is sound).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct UncheckedSignature(SignaturePoint);

impl UncheckedSignature {
    /// Decodes 192 uncompressed bytes: canonical flags and coordinates, on
    /// the curve; no subgroup check. The identity (`0x40` then zero bytes)
    /// decodes.
    pub fn from_uncompressed(bytes: &[u8]) -> Result<Self, BlsError> {
        backend::decode_g2_uncompressed_on_curve(bytes)
            .map(Self)
            .map_err(BlsError::SignatureEncoding)
    }

    /// The 192-byte uncompressed encoding.
    pub fn to_uncompressed(&self) -> [u8; SIGNATURE_UNCOMPRESSED_BYTES] {
        backend::encode_g2_uncompressed(&self.0)
    }

    /// The subgroup check: the point as a [`Signature`], or
    /// [`PointError::NotInSubgroup`].
    pub fn subgroup_check(&self) -> Result<Signature, BlsError> {
        if backend::g2_in_subgroup(&self.0) {
            Ok(Signature(self.0))
        } else {
            Err(BlsError::SignatureEncoding(PointError::NotInSubgroup))
        }
    }
}

#[cfg(test)]
impl UncheckedSignature {
    /// A point on the curve outside the subgroup.
    pub(crate) fn outside_subgroup() -> Self {
        Self(backend::g2_outside_subgroup())
    }

    /// `-self`.
    pub(crate) fn neg(&self) -> Self {
        Self(backend::g2_neg(&self.0))
    }
}

impl From<Signature> for UncheckedSignature {
    fn from(signature: Signature) -> Self {
        Self(signature.0)
    }
}

impl Hash for UncheckedSignature {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.to_uncompressed().hash(state);
    }
}

impl fmt::Debug for UncheckedSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UncheckedSignature(")?;
        write_hex_prefix(f, &backend::encode_g2(&self.0))?;
        write!(f, ")")
    }
}

/// A running sum of [`UncheckedSignature`]s: the draft's `Aggregate`, which
/// does not subgroup-check its inputs. The sum is checked once, by
/// [`AggregatePublicKey::verify_unchecked`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct UncheckedAggregate(SignatureSum);

impl UncheckedAggregate {
    /// The empty aggregate (the identity point).
    pub fn new() -> Self {
        Self(backend::g2_sum_identity())
    }

    /// Adds one signature.
    pub fn add(&mut self, signature: &UncheckedSignature) {
        backend::g2_sum_add(&mut self.0, &signature.0);
    }

    /// The sum, still unchecked.
    pub fn to_unchecked(&self) -> UncheckedSignature {
        UncheckedSignature(backend::g2_sum_to_point(&self.0))
    }
}

impl Default for UncheckedAggregate {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for UncheckedAggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UncheckedAggregate")
            .field(&self.to_unchecked())
            .finish()
    }
}

/// A message hashed to G2 under the signature DST, ready for signing and
/// for pairing.
///
/// Hashing costs about as much as half a verification; hash once when the
/// same message is signed and checked more than once (the consensus engine
/// signs, collects and certifies each vote message, and a vote collector
/// bisecting a bad aggregate checks it many times).
#[derive(Clone)]
pub struct HashedMessage {
    pub(super) point: SignaturePoint,
    pub(super) prepared: PreparedHash,
}

impl HashedMessage {
    /// `hash_to_point(message)` with the signature DST.
    pub fn new(message: &[u8]) -> Self {
        #[cfg(test)]
        super::hash_count::add();
        let point = backend::hash_to_g2(message, SIGNATURE_DST);
        Self {
            prepared: backend::prepare_point(&point),
            point,
        }
    }
}

impl fmt::Debug for HashedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashedMessage(..)")
    }
}

/// A running sum of signatures (`Aggregate`, one signature at a time).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AggregateSignature(SignatureSum);

impl AggregateSignature {
    /// The empty aggregate (the identity point).
    pub fn new() -> Self {
        Self(backend::g2_sum_identity())
    }

    /// Adds one signature.
    pub fn add(&mut self, signature: &Signature) {
        backend::g2_sum_add(&mut self.0, &signature.0);
    }

    /// Adds another aggregate.
    pub fn merge(&mut self, other: &AggregateSignature) {
        backend::g2_sum_add(&mut self.0, &backend::g2_sum_to_point(&other.0));
    }

    /// The aggregate as a signature (its affine point).
    pub fn to_signature(&self) -> Signature {
        Signature(backend::g2_sum_to_point(&self.0))
    }

    /// IETF `Aggregate(signatures)`: fails on an empty list.
    pub fn aggregate<'a>(
        signatures: impl IntoIterator<Item = &'a Signature>,
    ) -> Result<Signature, BlsError> {
        let mut sum = Self::new();
        let mut any = false;
        for signature in signatures {
            sum.add(signature);
            any = true;
        }
        if any {
            Ok(sum.to_signature())
        } else {
            Err(BlsError::Empty)
        }
    }
}

impl Default for AggregateSignature {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for AggregateSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AggregateSignature")
            .field(&self.to_signature())
            .finish()
    }
}

/// A sum of public keys, for FastAggregateVerify.
///
/// Sound only for keys with a verified proof of possession (the `_POP_`
/// ciphersuite's rule against rogue keys).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AggregatePublicKey(PublicSum);

impl AggregatePublicKey {
    /// The empty aggregate (the identity point).
    pub fn new() -> Self {
        Self(backend::g1_sum_identity())
    }

    /// Adds one public key.
    pub fn add(&mut self, public_key: &PublicKey) {
        backend::g1_sum_add(&mut self.0, &public_key.0);
    }

    /// Sums a list of public keys; fails on an empty list.
    pub fn from_public_keys<'a>(
        keys: impl IntoIterator<Item = &'a PublicKey>,
    ) -> Result<Self, BlsError> {
        let mut sum = Self::new();
        let mut any = false;
        for key in keys {
            sum.add(key);
            any = true;
        }
        if any {
            Ok(sum)
        } else {
            Err(BlsError::Empty)
        }
    }

    /// `CoreVerify(aggregate, message, signature)`: the last step of
    /// FastAggregateVerify. An aggregate that sums to the identity is
    /// rejected, as KeyValidate would.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), BlsError> {
        self.verify_hashed(&HashedMessage::new(message), signature)
    }

    /// [`verify`](Self::verify) against a message hashed once.
    pub fn verify_hashed(
        &self,
        message: &HashedMessage,
        signature: &Signature,
    ) -> Result<(), BlsError> {
        let point = backend::g1_sum_to_point(&self.0);
        if backend::g1_is_identity(&point) {
            return Err(BlsError::IdentityPublicKey);
        }
        PublicKey(point).verify_hashed(message, signature)
    }

    /// [`verify_hashed`](Self::verify_hashed) of an unchecked signature (or
    /// sum of them): the subgroup check first, then the pairing check, as
    /// FastAggregateVerify does with the aggregate. Returns the checked
    /// signature.
    pub fn verify_unchecked(
        &self,
        message: &HashedMessage,
        signature: &UncheckedSignature,
    ) -> Result<Signature, BlsError> {
        let signature = signature.subgroup_check()?;
        self.verify_hashed(message, &signature)?;
        Ok(signature)
    }
}

impl Default for AggregatePublicKey {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for AggregatePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let point = PublicKey(backend::g1_sum_to_point(&self.0));
        f.debug_tuple("AggregatePublicKey").field(&point).finish()
    }
}
