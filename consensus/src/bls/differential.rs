//! The two BLS backends side by side. Not a stable API: compiled in test
//! builds and with the feature `differential`, for the differential tests
//! (`differential/tests.rs`), the fuzz target
//! `consensus/fuzz/fuzz_targets/bls_differential.rs` and the benchmarks
//! (`benches/bls.rs`).
//!
//! [`Backend`] is the seam of `bls/backend/` as a trait, implemented by
//! [`Reference`] (`bls12_381`) and [`Blst`] (`blstrs`) by forwarding to the
//! backend functions of the same names. A scenario runs one backend on some
//! input and writes down every encoding it produced and every verdict it
//! gave, in order ([`Transcript`]); the `agree_*` functions run a scenario
//! on both backends and panic, showing both transcripts, where they differ.
//! [`compare`] is the fuzz target: every scenario that arbitrary bytes can
//! drive.
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test and fuzz code: a disagreement between the backends must stop the run"
)]

use std::fmt;

use super::backend::{blst, reference};
use super::error::PointError;
use super::{POP_DST, SIGNATURE_DST};

/// The name of the backend the crate's BLS types use: `blst`, or
/// `reference` with the feature `reference-bls`.
pub const ACTIVE: &str = if cfg!(feature = "reference-bls") {
    "reference"
} else {
    "blst"
};

/// The seam of `bls/backend/` as a trait: each method is the backend
/// function of the same name (documented there).
#[allow(missing_docs, reason = "each item is documented in bls/backend/")]
pub trait Backend {
    /// The backend's name in test failures and benchmark ids.
    const NAME: &'static str;
    type SecretScalar;
    type PublicPoint: Copy + PartialEq + fmt::Debug;
    type PublicSum: Copy;
    type SignaturePoint: Copy + PartialEq + fmt::Debug;
    type SignatureSum: Copy;
    type PreparedHash: Clone;

    fn scalar_from_be_bytes(bytes: &[u8; 32]) -> Option<Self::SecretScalar>;
    fn scalar_to_be_bytes(scalar: &Self::SecretScalar) -> [u8; 32];
    fn scalar_from_okm(okm: &[u8; 48]) -> Self::SecretScalar;
    fn scalar_is_zero(scalar: &Self::SecretScalar) -> bool;
    fn sk_to_pk(sk: &Self::SecretScalar) -> Self::PublicPoint;
    fn hash_to_g2(message: &[u8], dst: &[u8]) -> Self::SignaturePoint;
    fn prepare_hash(message: &[u8], dst: &[u8]) -> Self::PreparedHash;
    fn sign(sk: &Self::SecretScalar, message: &[u8], dst: &[u8]) -> Self::SignaturePoint;
    fn prepare_point(point: &Self::SignaturePoint) -> Self::PreparedHash;
    fn sign_point(sk: &Self::SecretScalar, point: &Self::SignaturePoint) -> Self::SignaturePoint;
    fn g1_is_identity(point: &Self::PublicPoint) -> bool;
    fn g1_sum_identity() -> Self::PublicSum;
    fn g1_sum_add(sum: &mut Self::PublicSum, point: &Self::PublicPoint);
    fn g1_sum_to_point(sum: &Self::PublicSum) -> Self::PublicPoint;
    fn g2_sum_identity() -> Self::SignatureSum;
    fn g2_sum_add(sum: &mut Self::SignatureSum, point: &Self::SignaturePoint);
    fn g2_sum_to_point(sum: &Self::SignatureSum) -> Self::SignaturePoint;
    fn pairing_check(
        pk: &Self::PublicPoint,
        hashed: &Self::PreparedHash,
        sig: &Self::SignaturePoint,
    ) -> bool;
    fn multi_pairing_check(
        pairs: &[(Self::PublicPoint, Self::PreparedHash)],
        sig: &Self::SignaturePoint,
    ) -> bool;
    fn weighted_batch_check(items: &[BatchItem<Self>]) -> bool;
    fn encode_g1(point: &Self::PublicPoint) -> [u8; 48];
    fn encode_g2(point: &Self::SignaturePoint) -> [u8; 96];
    fn decode_g1(bytes: &[u8]) -> Result<Self::PublicPoint, PointError>;
    fn decode_g2(bytes: &[u8]) -> Result<Self::SignaturePoint, PointError>;
    fn encode_g2_uncompressed(point: &Self::SignaturePoint) -> [u8; 192];
    fn decode_g2_uncompressed_on_curve(bytes: &[u8]) -> Result<Self::SignaturePoint, PointError>;
    fn g2_in_subgroup(point: &Self::SignaturePoint) -> bool;
    #[cfg(test)]
    fn g2_outside_subgroup() -> Self::SignaturePoint;
    #[cfg(test)]
    fn g2_neg(point: &Self::SignaturePoint) -> Self::SignaturePoint;
}

/// One `(public key, hashed message, signature, weight)` of a batch check.
pub type BatchItem<B> = (
    <B as Backend>::PublicPoint,
    <B as Backend>::PreparedHash,
    <B as Backend>::SignaturePoint,
    u128,
);

/// The reference backend, `bls12_381` (`bls/backend/reference.rs`).
#[derive(Debug, Clone, Copy)]
pub enum Reference {}

/// The default backend, `blstrs` over `blst` (`bls/backend/blst.rs`).
#[derive(Debug, Clone, Copy)]
pub enum Blst {}

/// `impl Backend for $backend` by forwarding to the module `$module`.
macro_rules! forward {
    ($backend:ident, $module:ident) => {
        impl Backend for $backend {
            const NAME: &'static str = stringify!($module);
            type SecretScalar = $module::SecretScalar;
            type PublicPoint = $module::PublicPoint;
            type PublicSum = $module::PublicSum;
            type SignaturePoint = $module::SignaturePoint;
            type SignatureSum = $module::SignatureSum;
            type PreparedHash = $module::PreparedHash;

            fn scalar_from_be_bytes(bytes: &[u8; 32]) -> Option<Self::SecretScalar> {
                $module::scalar_from_be_bytes(bytes)
            }
            fn scalar_to_be_bytes(scalar: &Self::SecretScalar) -> [u8; 32] {
                $module::scalar_to_be_bytes(scalar)
            }
            fn scalar_from_okm(okm: &[u8; 48]) -> Self::SecretScalar {
                $module::scalar_from_okm(okm)
            }
            fn scalar_is_zero(scalar: &Self::SecretScalar) -> bool {
                $module::scalar_is_zero(scalar)
            }
            fn sk_to_pk(sk: &Self::SecretScalar) -> Self::PublicPoint {
                $module::sk_to_pk(sk)
            }
            fn hash_to_g2(message: &[u8], dst: &[u8]) -> Self::SignaturePoint {
                $module::hash_to_g2(message, dst)
            }
            fn prepare_hash(message: &[u8], dst: &[u8]) -> Self::PreparedHash {
                $module::prepare_hash(message, dst)
            }
            fn sign(sk: &Self::SecretScalar, message: &[u8], dst: &[u8]) -> Self::SignaturePoint {
                $module::sign(sk, message, dst)
            }
            fn prepare_point(point: &Self::SignaturePoint) -> Self::PreparedHash {
                $module::prepare_point(point)
            }
            fn sign_point(
                sk: &Self::SecretScalar,
                point: &Self::SignaturePoint,
            ) -> Self::SignaturePoint {
                $module::sign_point(sk, point)
            }
            fn g1_is_identity(point: &Self::PublicPoint) -> bool {
                $module::g1_is_identity(point)
            }
            fn g1_sum_identity() -> Self::PublicSum {
                $module::g1_sum_identity()
            }
            fn g1_sum_add(sum: &mut Self::PublicSum, point: &Self::PublicPoint) {
                $module::g1_sum_add(sum, point)
            }
            fn g1_sum_to_point(sum: &Self::PublicSum) -> Self::PublicPoint {
                $module::g1_sum_to_point(sum)
            }
            fn g2_sum_identity() -> Self::SignatureSum {
                $module::g2_sum_identity()
            }
            fn g2_sum_add(sum: &mut Self::SignatureSum, point: &Self::SignaturePoint) {
                $module::g2_sum_add(sum, point)
            }
            fn g2_sum_to_point(sum: &Self::SignatureSum) -> Self::SignaturePoint {
                $module::g2_sum_to_point(sum)
            }
            fn pairing_check(
                pk: &Self::PublicPoint,
                hashed: &Self::PreparedHash,
                sig: &Self::SignaturePoint,
            ) -> bool {
                $module::pairing_check(pk, hashed, sig)
            }
            fn multi_pairing_check(
                pairs: &[(Self::PublicPoint, Self::PreparedHash)],
                sig: &Self::SignaturePoint,
            ) -> bool {
                $module::multi_pairing_check(pairs, sig)
            }
            fn weighted_batch_check(items: &[BatchItem<Self>]) -> bool {
                $module::weighted_batch_check(items)
            }
            fn encode_g1(point: &Self::PublicPoint) -> [u8; 48] {
                $module::encode_g1(point)
            }
            fn encode_g2(point: &Self::SignaturePoint) -> [u8; 96] {
                $module::encode_g2(point)
            }
            fn decode_g1(bytes: &[u8]) -> Result<Self::PublicPoint, PointError> {
                $module::decode_g1(bytes)
            }
            fn decode_g2(bytes: &[u8]) -> Result<Self::SignaturePoint, PointError> {
                $module::decode_g2(bytes)
            }
            fn encode_g2_uncompressed(point: &Self::SignaturePoint) -> [u8; 192] {
                $module::encode_g2_uncompressed(point)
            }
            fn decode_g2_uncompressed_on_curve(
                bytes: &[u8],
            ) -> Result<Self::SignaturePoint, PointError> {
                $module::decode_g2_uncompressed_on_curve(bytes)
            }
            fn g2_in_subgroup(point: &Self::SignaturePoint) -> bool {
                $module::g2_in_subgroup(point)
            }
            #[cfg(test)]
            fn g2_outside_subgroup() -> Self::SignaturePoint {
                $module::g2_outside_subgroup()
            }
            #[cfg(test)]
            fn g2_neg(point: &Self::SignaturePoint) -> Self::SignaturePoint {
                $module::g2_neg(point)
            }
        }
    };
}

forward!(Reference, reference);
forward!(Blst, blst);

// ---------------------------------------------------------------- transcripts

/// What one backend made of one input: every encoding it produced and every
/// verdict it gave, in order, each under the name of its step.
#[derive(Default, PartialEq, Eq)]
pub struct Transcript(Vec<(&'static str, Entry)>);

#[derive(PartialEq, Eq)]
enum Entry {
    Bytes(Vec<u8>),
    Verdict(bool),
    Rejected(PointError),
    /// A scalar out of range.
    Absent,
}

impl Transcript {
    fn bytes(&mut self, step: &'static str, bytes: &[u8]) {
        self.0.push((step, Entry::Bytes(bytes.to_vec())));
    }

    fn verdict(&mut self, step: &'static str, verdict: bool) {
        self.0.push((step, Entry::Verdict(verdict)));
    }

    /// Writes down a decoder's error; returns its point.
    fn decoded<P>(&mut self, step: &'static str, result: Result<P, PointError>) -> Option<P> {
        match result {
            Ok(point) => Some(point),
            Err(error) => {
                self.0.push((step, Entry::Rejected(error)));
                None
            }
        }
    }

    /// The decoders' errors, in order.
    pub fn rejections(&self) -> impl Iterator<Item = PointError> + '_ {
        self.0.iter().filter_map(|(_, entry)| match entry {
            Entry::Rejected(error) => Some(*error),
            _ => None,
        })
    }

    /// The verdicts of the steps named `step`, in order.
    pub fn verdicts<'a>(&'a self, step: &'a str) -> impl Iterator<Item = bool> + 'a {
        self.0.iter().filter_map(move |(name, entry)| match entry {
            Entry::Verdict(verdict) if *name == step => Some(*verdict),
            _ => None,
        })
    }

    /// The number of steps written down.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing was written down.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (step, entry) in &self.0 {
            write!(f, "\n  {step}: ")?;
            match entry {
                Entry::Bytes(bytes) => {
                    for byte in bytes {
                        write!(f, "{byte:02x}")?;
                    }
                }
                Entry::Verdict(verdict) => write!(f, "{verdict}")?,
                Entry::Rejected(error) => write!(f, "rejected: {error:?}")?,
                Entry::Absent => write!(f, "none")?,
            }
        }
        Ok(())
    }
}

/// Panics, showing both transcripts from the first step where they differ,
/// unless they are equal; returns the reference's.
fn assert_same(scenario: &str, reference: Transcript, blst: Transcript) -> Transcript {
    if reference != blst {
        let first = reference
            .0
            .iter()
            .zip(&blst.0)
            .take_while(|(a, b)| a == b)
            .count();
        let tail = |t: &Transcript| Transcript(t.0.iter().skip(first).map(clone_step).collect());
        panic!(
            "the BLS backends disagree in `{scenario}` after {first} equal steps\nreference:{:?}\nblst:{:?}",
            tail(&reference),
            tail(&blst)
        );
    }
    reference
}

fn clone_step((step, entry): &(&'static str, Entry)) -> (&'static str, Entry) {
    let entry = match entry {
        Entry::Bytes(bytes) => Entry::Bytes(bytes.clone()),
        Entry::Verdict(verdict) => Entry::Verdict(*verdict),
        Entry::Rejected(error) => Entry::Rejected(*error),
        Entry::Absent => Entry::Absent,
    };
    (step, entry)
}

/// Runs a scenario on both backends and asserts that they agree; the
/// reference's transcript.
macro_rules! agree {
    ($scenario:ident($($arg:expr),* $(,)?)) => {{
        let mut reference = Transcript::default();
        $scenario::<Reference>($($arg,)* &mut reference);
        let mut blst = Transcript::default();
        $scenario::<Blst>($($arg,)* &mut blst);
        assert_same(stringify!($scenario), reference, blst)
    }};
}

// ---------------------------------------------------------------- the fuzz target

/// Everything arbitrary bytes can drive, on both backends, panicking where
/// they disagree:
///
/// * the bytes, and their first 48, 96 and 192 bytes, decoded as a
///   compressed G1 point, a compressed G2 point and an uncompressed G2
///   point ([`decoding`]);
/// * the first 32 bytes as a secret key, signing the rest ([`signing`]);
/// * the first 48 bytes as KeyGen's output key material
///   ([`key_derivation`]);
/// * a valid public key and signature (key from the bytes after the first
///   two) with one byte XORed, at the position the first byte gives, with
///   the second byte ([`mutation`]).
pub fn compare(data: &[u8]) {
    agree!(decoding(data));
    for length in [48, 96, 192] {
        if let Some(prefix) = data.get(..length) {
            agree!(decoding(prefix));
        }
    }
    if let Some((secret, message)) = data.split_first_chunk::<32>() {
        agree!(signing(secret, message));
    }
    if let Some(okm) = data.first_chunk::<48>() {
        agree!(key_derivation(okm));
    }
    if let [position, mask, rest @ ..] = data {
        let mut okm = [0u8; 48];
        for (dst, src) in okm.iter_mut().zip(rest) {
            *dst = *src;
        }
        agree!(mutation(&okm, rest, usize::from(*position), *mask));
    }
}

/// [`decoding`] on both backends.
pub fn agree_decoding(bytes: &[u8]) -> Transcript {
    agree!(decoding(bytes))
}

/// [`committee`] on both backends.
pub fn agree_committee(
    okms: &[[u8; 48]],
    message: &[u8],
    weights: &[u128],
    corrupt: Option<usize>,
) -> Transcript {
    agree!(committee(okms, message, weights, corrupt))
}

// ---------------------------------------------------------------- scenarios

/// The bytes as a compressed G1 point, a compressed G2 point and an
/// uncompressed G2 point: each decoder's error, or the point re-encoded
/// (both ways for G2) with its identity or subgroup verdict.
pub fn decoding<B: Backend>(bytes: &[u8], t: &mut Transcript) {
    if let Some(point) = t.decoded("decode_g1", B::decode_g1(bytes)) {
        t.bytes("encode_g1", &B::encode_g1(&point));
        t.verdict("g1_is_identity", B::g1_is_identity(&point));
    }
    if let Some(point) = t.decoded("decode_g2", B::decode_g2(bytes)) {
        t.bytes("encode_g2", &B::encode_g2(&point));
        t.bytes("encode_g2_uncompressed", &B::encode_g2_uncompressed(&point));
    }
    let uncompressed = B::decode_g2_uncompressed_on_curve(bytes);
    if let Some(point) = t.decoded("decode_g2_uncompressed_on_curve", uncompressed) {
        t.bytes("encode_g2_uncompressed", &B::encode_g2_uncompressed(&point));
        t.bytes("encode_g2", &B::encode_g2(&point));
        t.verdict("g2_in_subgroup", B::g2_in_subgroup(&point));
    }
}

/// A secret key read from 32 bytes, then [`sign_and_verify`] with it.
pub fn signing<B: Backend>(secret: &[u8; 32], message: &[u8], t: &mut Transcript) {
    let Some(sk) = B::scalar_from_be_bytes(secret) else {
        t.0.push(("scalar_from_be_bytes", Entry::Absent));
        return;
    };
    t.bytes("scalar_to_be_bytes", &B::scalar_to_be_bytes(&sk));
    t.verdict("scalar_is_zero", B::scalar_is_zero(&sk));
    sign_and_verify::<B>(&sk, message, t);
}

/// A secret key reduced from KeyGen's 48 bytes of output key material.
pub fn key_derivation<B: Backend>(okm: &[u8; 48], t: &mut Transcript) {
    let sk = B::scalar_from_okm(okm);
    t.bytes("scalar_from_okm", &B::scalar_to_be_bytes(&sk));
    t.verdict("scalar_is_zero", B::scalar_is_zero(&sk));
    t.bytes("sk_to_pk", &B::encode_g1(&B::sk_to_pk(&sk)));
}

/// The public key, the hash of the message, the signature (compressed and
/// uncompressed) and the proof of possession, whether each verifies,
/// whether the signature verifies for another message, and each encoding
/// through [`decoding`].
pub fn sign_and_verify<B: Backend>(sk: &B::SecretScalar, message: &[u8], t: &mut Transcript) {
    let pk = B::sk_to_pk(sk);
    let pk_bytes = B::encode_g1(&pk);
    t.bytes("sk_to_pk", &pk_bytes);
    let hashed = B::hash_to_g2(message, SIGNATURE_DST);
    t.bytes("hash_to_g2", &B::encode_g2_uncompressed(&hashed));
    let sig = B::sign(sk, message, SIGNATURE_DST);
    t.bytes("sign", &B::encode_g2(&sig));
    // Signing the hashed point is signing the message.
    let signed_point = B::sign_point(sk, &hashed);
    assert_eq!(
        B::encode_g2(&signed_point),
        B::encode_g2(&sig),
        "{}",
        B::NAME
    );
    t.bytes("sign_point", &B::encode_g2(&signed_point));
    let prepared = B::prepare_hash(message, SIGNATURE_DST);
    t.verdict("pairing_check", B::pairing_check(&pk, &prepared, &sig));
    t.verdict(
        "pairing_check",
        B::pairing_check(&pk, &B::prepare_point(&hashed), &sig),
    );
    let mut other = message.to_vec();
    other.push(b'!');
    let other = B::prepare_hash(&other, SIGNATURE_DST);
    t.verdict("pairing_check", B::pairing_check(&pk, &other, &sig));
    let pop = B::sign(sk, &pk_bytes, POP_DST);
    t.bytes("sign", &B::encode_g2(&pop));
    let pop_hash = B::prepare_hash(&pk_bytes, POP_DST);
    t.verdict("pairing_check", B::pairing_check(&pk, &pop_hash, &pop));
    t.verdict("pairing_check", B::pairing_check(&pk, &pop_hash, &sig));
    decoding::<B>(&pk_bytes, t);
    decoding::<B>(&B::encode_g2(&sig), t);
    decoding::<B>(&B::encode_g2_uncompressed(&sig), t);
}

/// A public key and a signature from a key reduced from `okm`, each with
/// the byte at `position` (modulo its length) XORed with `mask`, through
/// [`decoding`]; then each cut short and lengthened by one byte.
pub fn mutation<B: Backend>(
    okm: &[u8; 48],
    message: &[u8],
    position: usize,
    mask: u8,
    t: &mut Transcript,
) {
    let sk = B::scalar_from_okm(okm);
    let sig = B::sign(&sk, message, SIGNATURE_DST);
    let encodings = [
        B::encode_g1(&B::sk_to_pk(&sk)).to_vec(),
        B::encode_g2(&sig).to_vec(),
        B::encode_g2_uncompressed(&sig).to_vec(),
    ];
    for mut bytes in encodings {
        let at = position % bytes.len();
        bytes[at] ^= mask;
        decoding::<B>(&bytes, t);
        decoding::<B>(&bytes[..at], t);
        bytes.push(mask);
        decoding::<B>(&bytes, t);
    }
}

/// IETF `Verify` on encodings: both decodings, then the pairing check.
pub fn verify<B: Backend>(public_key: &[u8], message: &[u8], signature: &[u8], t: &mut Transcript) {
    let Some(pk) = t.decoded("decode_g1", B::decode_g1(public_key)) else {
        return;
    };
    let Some(sig) = t.decoded("decode_g2", B::decode_g2(signature)) else {
        return;
    };
    t.verdict("g1_is_identity", B::g1_is_identity(&pk));
    let hashed = B::prepare_hash(message, SIGNATURE_DST);
    t.verdict("pairing_check", B::pairing_check(&pk, &hashed, &sig));
}

/// IETF `Aggregate` on encodings: the sum of the signatures, encoded.
pub fn aggregate<B: Backend>(signatures: &[&[u8]], t: &mut Transcript) {
    let mut sum = B::g2_sum_identity();
    for bytes in signatures {
        let Some(sig) = t.decoded("decode_g2", B::decode_g2(bytes)) else {
            return;
        };
        B::g2_sum_add(&mut sum, &sig);
    }
    t.bytes("g2_sum_to_point", &B::encode_g2(&B::g2_sum_to_point(&sum)));
}

/// IETF `FastAggregateVerify` on encodings: the sum of the public keys,
/// encoded, whether it is the identity, and the pairing check.
pub fn fast_aggregate_verify<B: Backend>(
    public_keys: &[&[u8]],
    message: &[u8],
    signature: &[u8],
    t: &mut Transcript,
) {
    let mut sum = B::g1_sum_identity();
    for bytes in public_keys {
        let Some(pk) = t.decoded("decode_g1", B::decode_g1(bytes)) else {
            return;
        };
        t.verdict("g1_is_identity", B::g1_is_identity(&pk));
        B::g1_sum_add(&mut sum, &pk);
    }
    let Some(sig) = t.decoded("decode_g2", B::decode_g2(signature)) else {
        return;
    };
    let aggregate = B::g1_sum_to_point(&sum);
    t.bytes("g1_sum_to_point", &B::encode_g1(&aggregate));
    t.verdict("g1_is_identity", B::g1_is_identity(&aggregate));
    let hashed = B::prepare_hash(message, SIGNATURE_DST);
    t.verdict("pairing_check", B::pairing_check(&aggregate, &hashed, &sig));
}

/// IETF `AggregateVerify` on encodings: the multi-pairing check.
pub fn aggregate_verify<B: Backend>(
    public_keys: &[&[u8]],
    messages: &[&[u8]],
    signature: &[u8],
    t: &mut Transcript,
) {
    let mut pairs = Vec::with_capacity(public_keys.len());
    for (bytes, message) in public_keys.iter().zip(messages) {
        let Some(pk) = t.decoded("decode_g1", B::decode_g1(bytes)) else {
            return;
        };
        pairs.push((pk, B::prepare_hash(message, SIGNATURE_DST)));
    }
    let Some(sig) = t.decoded("decode_g2", B::decode_g2(signature)) else {
        return;
    };
    t.verdict("multi_pairing_check", B::multi_pairing_check(&pairs, &sig));
}

/// Batch verification on encodings with the given weights: the weighted
/// multi-pairing check.
pub fn batch_verify<B: Backend>(
    public_keys: &[&[u8]],
    messages: &[&[u8]],
    signatures: &[&[u8]],
    weights: &[u128],
    t: &mut Transcript,
) {
    let mut items = Vec::with_capacity(public_keys.len());
    for (((pk, message), sig), weight) in public_keys
        .iter()
        .zip(messages)
        .zip(signatures)
        .zip(weights)
    {
        let Some(pk) = t.decoded("decode_g1", B::decode_g1(pk)) else {
            return;
        };
        let Some(sig) = t.decoded("decode_g2", B::decode_g2(sig)) else {
            return;
        };
        items.push((pk, B::prepare_hash(message, SIGNATURE_DST), sig, *weight));
    }
    t.verdict("weighted_batch_check", B::weighted_batch_check(&items));
}

/// A committee with keys reduced from `okms`: signer `i` signs `message`
/// and `message ‖ i` (as u64 BE), except that the signer `corrupt` signs
/// something else instead. Every key and signature encoding; for every
/// prefix of the committee the aggregate public key and signature and
/// FastAggregateVerify of `message`, also with the signatures decoded
/// from uncompressed bytes and the sum subgroup-checked (the vote
/// collector's way); for the whole committee AggregateVerify and weighted
/// batch verification of the per-signer messages.
pub fn committee<B: Backend>(
    okms: &[[u8; 48]],
    message: &[u8],
    weights: &[u128],
    corrupt: Option<usize>,
    t: &mut Transcript,
) {
    let own_message = |i: usize| {
        let mut own = message.to_vec();
        own.extend_from_slice(&(i as u64).to_be_bytes());
        own
    };
    let common = B::prepare_hash(message, SIGNATURE_DST);
    let mut pk_sum = B::g1_sum_identity();
    let mut sig_sum = B::g2_sum_identity();
    let mut unchecked_sum = B::g2_sum_identity();
    let mut pairs = Vec::new();
    let mut own_sum = B::g2_sum_identity();
    let mut items = Vec::new();
    for (i, (okm, weight)) in okms.iter().zip(weights).enumerate() {
        let sk = B::scalar_from_okm(okm);
        let pk = B::sk_to_pk(&sk);
        t.bytes("sk_to_pk", &B::encode_g1(&pk));
        let (signed, own) = if corrupt == Some(i) {
            (b"something else".to_vec(), b"something else".to_vec())
        } else {
            (message.to_vec(), own_message(i))
        };
        let sig = B::sign(&sk, &signed, SIGNATURE_DST);
        let own_sig = B::sign(&sk, &own, SIGNATURE_DST);
        t.bytes("sign", &B::encode_g2(&sig));
        t.bytes("sign", &B::encode_g2(&own_sig));

        B::g1_sum_add(&mut pk_sum, &pk);
        B::g2_sum_add(&mut sig_sum, &sig);
        let aggregate_pk = B::g1_sum_to_point(&pk_sum);
        let aggregate_sig = B::g2_sum_to_point(&sig_sum);
        t.bytes("g1_sum_to_point", &B::encode_g1(&aggregate_pk));
        t.bytes("g2_sum_to_point", &B::encode_g2(&aggregate_sig));
        t.verdict(
            "fast_aggregate_verify",
            B::pairing_check(&aggregate_pk, &common, &aggregate_sig),
        );

        let unchecked = B::decode_g2_uncompressed_on_curve(&B::encode_g2_uncompressed(&sig));
        if let Some(unchecked) = t.decoded("decode_g2_uncompressed_on_curve", unchecked) {
            B::g2_sum_add(&mut unchecked_sum, &unchecked);
        }
        let unchecked = B::g2_sum_to_point(&unchecked_sum);
        t.verdict("g2_in_subgroup", B::g2_in_subgroup(&unchecked));
        t.verdict(
            "fast_aggregate_verify",
            B::pairing_check(&aggregate_pk, &common, &unchecked),
        );

        let own_hash = B::prepare_hash(&own_message(i), SIGNATURE_DST);
        B::g2_sum_add(&mut own_sum, &own_sig);
        pairs.push((pk, own_hash.clone()));
        items.push((pk, own_hash, own_sig, *weight));
    }
    let own_aggregate = B::g2_sum_to_point(&own_sum);
    t.bytes("g2_sum_to_point", &B::encode_g2(&own_aggregate));
    t.verdict(
        "aggregate_verify",
        B::multi_pairing_check(&pairs, &own_aggregate),
    );
    t.verdict("batch_verify", B::weighted_batch_check(&items));
}

#[cfg(test)]
mod tests;
