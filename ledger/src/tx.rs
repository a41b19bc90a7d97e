//! Transactions, their wire encoding and their signing message.
//!
//! Wire encoding (a top-level value of [`crate::codec`], at most
//! [`MAX_TX_LEN`] bytes):
//!
//! ```text
//! u8 CODEC_VERSION (1)
//! chain_id    u32_le(len) ‖ bytes (1..=32 printable ASCII)
//! sender      [32]  ed25519 public key
//! nonce       u64_le
//! fee         u64_le base units
//! kind        u8 tag ‖ payload (see tx::kind)
//! signature   [64]  ed25519
//! ```
//!
//! The signature is ed25519 (checked by [`crate::verify`]'s rule) by `sender` over
//! the signing message:
//!
//! ```text
//! "sherd/tx/v1" (11 bytes) ‖ chain_id (u32_le(len) ‖ bytes) ‖ u8 kind tag
//!   ‖ sender [32] ‖ nonce u64_le ‖ fee u64_le ‖ kind payload
//! ```
//!
//! The namespace tag keeps a transaction signature from being valid as any
//! other signed sherd message, the chain id from being replayed on another
//! chain, and the kind tag from being read as another kind. The transaction
//! id is `BLAKE3(wire encoding)`, signature included (the rule accepts one
//! encoding of a signature, canonical `R` and `s`, so one transaction has
//! one id).

pub mod kind;

use ed25519_dalek::{Signature, Signer, SigningKey};

pub use kind::TxKind;

use crate::{
    address::Address,
    amount::Amount,
    chain::ChainId,
    codec::{
        decode_versioned, encode_versioned, Decode, DecodeError, Encode, EncodeError, Reader,
        Writer,
    },
    hash::Hash,
};

/// Namespace tag at the start of every transaction signing message.
pub const TX_NAMESPACE: &[u8] = b"sherd/tx/v1";

/// Longest wire encoding of a transaction, in bytes.
pub const MAX_TX_LEN: usize = 2 << 20;

/// Everything a transaction says, without its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxBody {
    /// The chain it is for.
    pub chain_id: ChainId,
    /// The signing account.
    pub sender: Address,
    /// The sender's next nonce: its number of transactions included so far.
    pub nonce: u64,
    /// Paid to the block proposer, whether the transaction succeeds or fails.
    pub fee: Amount,
    /// What it does.
    pub kind: TxKind,
}

impl TxBody {
    /// The bytes the sender signs (see the module docs).
    pub fn signing_message(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = Writer::new();
        w.fixed(TX_NAMESPACE);
        self.chain_id.encode(&mut w)?;
        w.u8(self.kind.tag());
        self.sender.encode(&mut w)?;
        w.u64(self.nonce);
        self.fee.encode(&mut w)?;
        self.kind.encode_payload(&mut w)?;
        Ok(w.into_bytes())
    }

    /// Signs the body with `key`, which must be the sender's.
    pub fn sign(self, key: &SigningKey) -> Result<Transaction, SignError> {
        let signer = Address::from(&key.verifying_key());
        if signer != self.sender {
            return Err(SignError::WrongKey {
                sender: self.sender,
                signer,
            });
        }
        let signature = key.sign(&self.signing_message()?);
        let tx = Transaction {
            body: self,
            signature,
        };
        // Refuse what no node would decode.
        tx.to_bytes()?;
        Ok(tx)
    }
}

/// Why a body cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The key is not the sender's.
    #[error("transaction is from {sender} but the key is {signer}'s")]
    WrongKey {
        /// The body's sender.
        sender: Address,
        /// The key's address.
        signer: Address,
    },
    /// A field is over its limit.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// A signed transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// What it says.
    pub body: TxBody,
    /// The sender's ed25519 signature over [`TxBody::signing_message`].
    pub signature: Signature,
}

impl Transaction {
    /// The wire encoding.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let bytes = encode_versioned(self)?;
        if bytes.len() > MAX_TX_LEN {
            return Err(EncodeError {
                field: "transaction",
                max: MAX_TX_LEN,
                found: bytes.len(),
            });
        }
        Ok(bytes)
    }

    /// Reads a wire encoding; nothing may follow it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_versioned(bytes, MAX_TX_LEN)
    }

    /// `BLAKE3(wire encoding)`.
    pub fn id(&self) -> Result<Hash, EncodeError> {
        self.to_bytes().map(|b| Hash::digest(&b))
    }
}

impl Encode for Transaction {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let body = &self.body;
        body.chain_id.encode(w)?;
        body.sender.encode(w)?;
        w.u64(body.nonce);
        body.fee.encode(w)?;
        body.kind.encode(w)?;
        self.signature.encode(w)
    }
}

impl Decode for Transaction {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let body = TxBody {
            chain_id: ChainId::decode(r)?,
            sender: r.fixed("sender").map(Address)?,
            nonce: r.u64("nonce")?,
            fee: r.u64("fee").map(Amount)?,
            kind: TxKind::decode(r)?,
        };
        let signature = Signature::from_bytes(&r.fixed("signature")?);
        Ok(Self { body, signature })
    }
}
