//! Signature verification: one transaction with `verify_strict`, or many
//! at once with ed25519 batch verification.
//!
//! A [`VerifiedTx`] can only be made here, so the state transition never
//! sees a transaction whose signature was not checked.
//!
//! Batch verification first applies the checks `verify_strict` adds to plain
//! verification (the public key and the signature's `R` are not of small
//! order), then checks all signatures with one multiscalar multiplication.
//! If the batch fails, each signature is checked with `verify_strict` to
//! name the first bad one. A batch of signatures that each pass
//! `verify_strict` always passes. The converse has one known gap, inherent
//! in ed25519-dalek's (cofactorless) batch equation: a key holder who
//! deliberately builds a key or `R` with a small torsion component can make
//! a signature that `verify_strict` rejects but that a particular batch
//! accepts, with probability about 1/8 per attempt. Honest keys never have
//! such components; closing the gap for consensus (e.g. with ZIP-215
//! cofactored rules, or a torsion check on keys) is an open item in the
//! crate README.

use ed25519_dalek::{Signature, VerifyingKey};

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

/// Everything the signature check of one transaction needs.
struct Prepared {
    key: VerifyingKey,
    message: Vec<u8>,
    id: Hash,
}

fn prepare(tx: &Transaction) -> Result<Prepared, VerifyError> {
    let sender = tx.body.sender;
    let key = VerifyingKey::from_bytes(sender.as_bytes())
        .map_err(|_| VerifyError::BadPublicKey { sender })?;
    if key.is_weak() {
        return Err(VerifyError::WeakPublicKey { sender });
    }
    let message = tx.body.signing_message()?;
    let id = tx.id()?;
    Ok(Prepared { key, message, id })
}

fn strict(tx: &Transaction, p: &Prepared) -> Result<(), VerifyError> {
    p.key
        .verify_strict(&p.message, &tx.signature)
        .map_err(|_| VerifyError::BadSignature {
            sender: tx.body.sender,
        })
}

/// Whether the signature's `R` is a valid point not of small order (the
/// check `verify_strict` makes before its equation).
fn r_is_strict(signature: &Signature) -> bool {
    VerifyingKey::from_bytes(signature.r_bytes()).is_ok_and(|r| !r.is_weak())
}

/// Checks one transaction's signature with `verify_strict`.
pub fn verify(tx: Transaction) -> Result<VerifiedTx, VerifyError> {
    let p = prepare(&tx)?;
    strict(&tx, &p)?;
    Ok(VerifiedTx { tx, id: p.id })
}

/// Checks many signatures at once (see the module docs); on failure names
/// the first transaction that does not verify.
pub fn verify_batch(txs: Vec<Transaction>) -> Result<Vec<VerifiedTx>, BatchVerifyError> {
    let prepared = txs
        .iter()
        .enumerate()
        .map(|(index, tx)| {
            let p = prepare(tx).map_err(|error| BatchVerifyError { index, error })?;
            if !r_is_strict(&tx.signature) {
                return Err(BatchVerifyError {
                    index,
                    error: VerifyError::BadSignature {
                        sender: tx.body.sender,
                    },
                });
            }
            Ok(p)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let messages: Vec<&[u8]> = prepared.iter().map(|p| p.message.as_slice()).collect();
    let signatures: Vec<Signature> = txs.iter().map(|tx| tx.signature).collect();
    let keys: Vec<VerifyingKey> = prepared.iter().map(|p| p.key).collect();
    if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_err() {
        // Name the culprit; if every signature passes on its own, they are valid.
        for (index, (tx, p)) in txs.iter().zip(&prepared).enumerate() {
            strict(tx, p).map_err(|error| BatchVerifyError { index, error })?;
        }
    }
    Ok(txs
        .into_iter()
        .zip(prepared)
        .map(|(tx, p)| VerifiedTx { tx, id: p.id })
        .collect())
}
