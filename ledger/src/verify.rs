//! Signature verification: one rule for every ed25519 signature the
//! chain checks (transactions, one at a time or in a batch, and providers'
//! acceptances), so that whether a block is valid never depends on how its
//! signatures were grouped.
//!
//! **The rule** ([`signed_by`], [`verify`], [`verify_each`]): with `A` the
//! public key, `(R, s)` the signature and `M` the message,
//!
//! 1. `A` and `R` are canonical encodings (`y < p`, no sign bit on a point
//!    with `x = 0`) of points on the curve that are not of small order;
//! 2. `s < ℓ`;
//! 3. `[8]([s]B − R − [k]A)` is the identity, `k = SHA-512(R ‖ A ‖ M) mod ℓ`
//!    over the bytes as sent.
//!
//! This is the cofactored equation of ZIP-215, with RFC 8032's stricter
//! encodings (a signature has one encoding, so a transaction id cannot be
//! changed by re-encoding its signature) and `verify_strict`'s refusal of
//! small-order points. Multiplying by the cofactor makes the verdict
//! blind to a torsion component in `A` or `R`, which is what lets a batch
//! decide exactly as the signatures one by one: a batch is checked with
//! `[8]([Σ zᵢsᵢ]B − Σ [zᵢ]Rᵢ − Σ [zᵢkᵢ]Aᵢ) = 0`, 128-bit `zᵢ` drawn from a
//! hash of every signature and challenge in the batch (a signer cannot
//! pick its signature after seeing them). Signatures that each satisfy the
//! rule always satisfy the batch equation; if one does not, the batch
//! equation fails but with probability about 2^-128, and then every
//! signature is checked on its own. `ed25519-dalek`'s `verify_strict` is
//! cofactorless: a key holder who builds a key or `R` with a torsion
//! component can make signatures it rejects while a batch equation
//! accepts them, about one time in eight; the crafted vectors of this
//! module's tests are such signatures, and every composition of them
//! gets the same verdict here. Honest signatures pass both rules.
//!
//! A [`VerifiedTx`] can only be made here, so the state transition never
//! sees a transaction whose signature was not checked. The batch is
//! written here rather than called in ed25519-dalek so that each `R` is
//! decompressed once and sender keys come from a cache of decompressed
//! keys ([`MAX_CACHED_KEYS`]): decompression is most of the cost of a
//! batch.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};

use crate::{address::Address, codec::EncodeError, hash::Hash, tx::Transaction};

/// A transaction whose signature has been checked, with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTx {
    tx: Transaction,
    id: Hash,
}

impl VerifiedTx {
    /// The transaction.
    pub fn tx(&self) -> &Transaction {
        &self.tx
    }

    /// Its id.
    pub fn id(&self) -> Hash {
        self.id
    }

    /// The transaction, giving up the proof that it was verified.
    pub fn into_inner(self) -> Transaction {
        self.tx
    }
}

/// Why a signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The transaction cannot be encoded (a field over its limit).
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The sender is not a point on the curve.
    #[error("sender {sender} is not a valid ed25519 public key")]
    BadPublicKey {
        /// The sender.
        sender: Address,
    },
    /// The sender key is of small order: anyone could sign for it.
    #[error("sender {sender} is a weak (small-order) ed25519 key")]
    WeakPublicKey {
        /// The sender.
        sender: Address,
    },
    /// The signature does not verify.
    #[error("signature of the transaction from {sender} does not verify")]
    BadSignature {
        /// The sender.
        sender: Address,
    },
}

/// Why a batch is not accepted: the first transaction that fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transaction {index} of the batch: {error}")]
pub struct BatchVerifyError {
    /// Its position in the batch.
    pub index: usize,
    /// What is wrong with it.
    pub error: VerifyError,
}

/// Decompressed sender keys held at most; the cache is emptied when full.
pub const MAX_CACHED_KEYS: usize = 1 << 16;

/// Sender keys already decompressed and found not weak, by their bytes: a
/// memo of a pure function, shared by every verification in the process.
fn key_cache() -> &'static Mutex<HashMap<[u8; 32], VerifyingKey>> {
    static KEYS: OnceLock<Mutex<HashMap<[u8; 32], VerifyingKey>>> = OnceLock::new();
    KEYS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The sender's key: a valid point, not of small order.
fn sender_key(sender: &Address) -> Result<VerifyingKey, VerifyError> {
    let cache = key_cache();
    if let Some(key) = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(sender.as_bytes())
    {
        return Ok(*key);
    }
    if !is_canonical_point(sender.as_bytes()) {
        return Err(VerifyError::BadPublicKey { sender: *sender });
    }
    let key = VerifyingKey::from_bytes(sender.as_bytes())
        .map_err(|_| VerifyError::BadPublicKey { sender: *sender })?;
    if key.is_weak() {
        return Err(VerifyError::WeakPublicKey { sender: *sender });
    }
    let mut keys = cache.lock().unwrap_or_else(|p| p.into_inner());
    if keys.len() >= MAX_CACHED_KEYS {
        keys.clear();
    }
    keys.insert(*sender.as_bytes(), key);
    Ok(key)
}

/// Everything the signature check of one transaction needs.
struct Prepared {
    key: VerifyingKey,
    message: Vec<u8>,
    id: Hash,
}

fn prepare(tx: &Transaction) -> Result<Prepared, VerifyError> {
    let key = sender_key(&tx.body.sender)?;
    let message = tx.body.signing_message()?;
    let id = tx.id()?;
    Ok(Prepared { key, message, id })
}

/// Whether `bytes` is the canonical encoding of a curve point's `y` and
/// sign: `y < p = 2^255 − 19`, and no sign bit when `x = 0` (`y = ±1`).
/// Whether it is on the curve is decompression's to say.
fn is_canonical_point(bytes: &[u8; 32]) -> bool {
    let mut y = *bytes;
    let sign = y[31] >> 7;
    y[31] &= 0x7f;
    // y ≥ p exactly when y is p … 2^255 − 1: 0xed…0xff, then 0xff…, 0x7f.
    let at_least_p = y[0] >= 0xed && y[1..31].iter().all(|&b| b == 0xff) && y[31] == 0x7f;
    if at_least_p {
        return false;
    }
    let one = y[0] == 1 && y[1..].iter().all(|&b| b == 0);
    let minus_one = y[0] == 0xec && y[1..31].iter().all(|&b| b == 0xff) && y[31] == 0x7f;
    !(sign == 1 && (one || minus_one))
}

/// Checks one signature by the rule (see the module docs).
// Curve and scalar arithmetic is modular: it cannot overflow.
#[allow(clippy::arithmetic_side_effects)]
fn check_one(key: &VerifyingKey, message: &[u8], signature: &Signature) -> bool {
    let Some(t) = terms(signature, key, message) else {
        return false;
    };
    let a = EdwardsPoint::from(*key);
    // [s]B − [k]A, then − R, times the cofactor.
    let sb_minus_ka = EdwardsPoint::vartime_double_scalar_mul_basepoint(&t.k, &-a, &t.s);
    (sb_minus_ka - t.r).mul_by_cofactor().is_identity()
}

/// Whether `signature` is `address`'s over `message`, by the rule every
/// signature on chain follows (see the module docs): providers' deal and
/// repair acceptances, and what a client checks before it relies on one.
pub fn signed_by(address: &Address, message: &[u8], signature: &Signature) -> bool {
    sender_key(address).is_ok_and(|key| check_one(&key, message, signature))
}

fn strict(tx: &Transaction, p: &Prepared) -> Result<(), VerifyError> {
    if check_one(&p.key, &p.message, &tx.signature) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature {
            sender: tx.body.sender,
        })
    }
}

/// Checks one transaction's signature.
pub fn verify(tx: Transaction) -> Result<VerifiedTx, VerifyError> {
    let p = prepare(&tx)?;
    strict(&tx, &p)?;
    Ok(VerifiedTx { tx, id: p.id })
}

/// One signature's terms in the batch equation.
struct Terms {
    r_bytes: [u8; 32],
    r: EdwardsPoint,
    s: Scalar,
    /// The challenge `k = SHA-512(R ‖ A ‖ message) mod ℓ`.
    k: Scalar,
}

/// `R` and `s` of `signature` as the rule accepts them (a canonical
/// point not of small order, a canonical scalar), and the challenge.
fn terms(signature: &Signature, key: &VerifyingKey, message: &[u8]) -> Option<Terms> {
    if !is_canonical_point(signature.r_bytes()) {
        return None;
    }
    let r = CompressedEdwardsY(*signature.r_bytes()).decompress()?;
    if r.is_small_order() {
        return None;
    }
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(*signature.s_bytes()))?;
    let mut h = Sha512::new();
    h.update(signature.r_bytes());
    h.update(key.as_bytes());
    h.update(message);
    let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    Some(Terms {
        r_bytes: *signature.r_bytes(),
        r,
        s,
        k,
    })
}

/// Whether every signature satisfies the batch equation (see the module docs).
// Scalar arithmetic is modulo ℓ: it cannot overflow.
#[allow(clippy::arithmetic_side_effects)]
fn batch_equation(terms: &[Terms], keys: &[VerifyingKey]) -> bool {
    let mut transcript = blake3::Hasher::new_derive_key("sherd ed25519 batch verification v1");
    for t in terms {
        transcript.update(&t.r_bytes);
        transcript.update(t.s.as_bytes());
        transcript.update(t.k.as_bytes());
    }
    let mut xof = transcript.finalize_xof();
    let zs: Vec<Scalar> = terms
        .iter()
        .map(|_| {
            let mut z = [0u8; 16];
            xof.fill(&mut z);
            Scalar::from(u128::from_le_bytes(z))
        })
        .collect();
    let b: Scalar = terms.iter().zip(&zs).map(|(t, z)| z * t.s).sum();
    let scalars = std::iter::once(-b)
        .chain(zs.iter().copied())
        .chain(terms.iter().zip(&zs).map(|(t, z)| z * t.k));
    let points = std::iter::once(ED25519_BASEPOINT_POINT)
        .chain(terms.iter().map(|t| t.r))
        .chain(keys.iter().map(|k| EdwardsPoint::from(*k)));
    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        .mul_by_cofactor()
        .is_identity()
}

/// Checks many signatures at once (see the module docs) and answers each
/// transaction's verdict, in order, the same as [`verify`] on each: one
/// batch equation for all whose encodings pass; only if it fails, each
/// on its own.
pub fn verify_each(txs: Vec<Transaction>) -> Vec<Result<VerifiedTx, VerifyError>> {
    let mut all_terms = Vec::with_capacity(txs.len());
    let mut keys = Vec::with_capacity(txs.len());
    let prepared: Vec<Result<Prepared, VerifyError>> = txs
        .iter()
        .map(|tx| {
            let p = prepare(tx)?;
            let t = terms(&tx.signature, &p.key, &p.message).ok_or(VerifyError::BadSignature {
                sender: tx.body.sender,
            })?;
            all_terms.push(t);
            keys.push(p.key);
            Ok(p)
        })
        .collect();
    let all_hold = batch_equation(&all_terms, &keys);
    txs.into_iter()
        .zip(prepared)
        .map(|(tx, p)| {
            let p = p?;
            if !all_hold {
                strict(&tx, &p)?;
            }
            Ok(VerifiedTx { tx, id: p.id })
        })
        .collect()
}

/// Checks many signatures at once (see the module docs); on failure names
/// the first transaction that does not verify.
pub fn verify_batch(txs: Vec<Transaction>) -> Result<Vec<VerifiedTx>, BatchVerifyError> {
    verify_each(txs)
        .into_iter()
        .enumerate()
        .map(|(index, verdict)| verdict.map_err(|error| BatchVerifyError { index, error }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::kind::Transfer;
    use crate::{Amount, ChainId, TxBody, TxKind};
    use ed25519_dalek::SigningKey;

    fn signed(seed: u8, nonce: u64) -> Transaction {
        let key = SigningKey::from_bytes(&[seed; 32]);
        TxBody {
            chain_id: ChainId::new("sherd-test").expect("chain id"),
            sender: Address::from(&key.verifying_key()),
            nonce,
            fee: Amount(1_000),
            kind: TxKind::Transfer(Transfer {
                to: Address([9; 32]),
                amount: Amount(5),
            }),
        }
        .sign(&key)
        .expect("signs")
    }

    fn equation_holds(txs: &[Transaction]) -> bool {
        let prepared: Vec<Prepared> = txs.iter().map(|tx| prepare(tx).expect("key")).collect();
        let terms: Vec<Terms> = txs
            .iter()
            .zip(&prepared)
            .map(|(tx, p)| terms(&tx.signature, &p.key, &p.message).expect("strict R and s"))
            .collect();
        let keys: Vec<VerifyingKey> = prepared.iter().map(|p| p.key).collect();
        batch_equation(&terms, &keys)
    }

    /// The equation itself decides, not the one-by-one fallback.
    #[test]
    fn the_batch_equation_accepts_valid_signatures_and_refuses_a_forged_one() {
        let txs: Vec<Transaction> = (0..40).map(|i| signed(1 + (i % 5) as u8, i)).collect();
        assert!(equation_holds(&txs));
        assert!(equation_holds(&txs[..1]));
        let mut forged = txs.clone();
        forged[17].body.nonce += 1;
        assert!(!equation_holds(&forged));
        let mut swapped = txs;
        let s = swapped[3].signature;
        swapped[3].signature = swapped[4].signature;
        swapped[4].signature = s;
        assert!(!equation_holds(&swapped));
    }
}
