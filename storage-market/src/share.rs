//! Sharing an object: its key sealed to another key holder, who can then
//! read it with `sherd storage get`, while the owner's keys stay the
//! owner's.
//!
//! A share is a JSON file the owner hands over by any channel:
//!
//! ```json
//! {
//!   "version": 1,
//!   "id": "<64 hex: contract id>",
//!   "name": "photo.jpg",
//!   "size": 3000000,
//!   "chain_id": "sherd-testnet",
//!   "owner": "sherd1…",
//!   "recipient": "sherd1…",
//!   "manifest": { …the object's manifest… },
//!   "sealed_key": { "ephemeral": "<64 hex>", "ciphertext": "<96 hex>" }
//! }
//! ```
//!
//! **Sealing** (ECIES over X25519): an address is an ed25519 public key,
//! whose Montgomery form is the recipient's X25519 public key `R` (and the
//! X25519 secret is the ed25519 key's SHA-512 scalar half, as RFC 8032
//! expands it; using one key pair for both is analysed in
//! <https://eprint.iacr.org/2021/509>). The owner draws an ephemeral secret
//! `e`, computes `E = X25519(e, 9)` and `S = X25519(e, R)`, derives
//! `K = HKDF-SHA256(ikm = S, salt = "sherd/share/v1", info = E ‖ R ‖ object
//! root)`, and seals the 32-byte object key with AES-256-GCM under `K`
//! (nonce zero: `K` is used once) with the contract id and object root as
//! associated data. A recipient key that is not a point, or of small order
//! (the shared secret would be predictable), is refused.
//!
//! **What a share gives and what it cannot take back.** The recipient
//! reads the object like its owner, for as long as providers keep it; the
//! owner's wallet key is never in the share. A share cannot be revoked:
//! whoever read the object keeps the bytes, and whoever holds the share
//! keeps the key. To stop future reads, store the file again (a new key)
//! and let the old contract end.

use hkdf::Hkdf;
use ring::aead::{LessSafeKey, UnboundKey, AES_256_GCM};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sherd_fragments::{Manifest, Object, ObjectKey};
use sherd_ledger::{Address, Hash};
use zeroize::Zeroizing;

use crate::catalog::{open_object_key, seal_object_key};

use ed25519_dalek::{SigningKey, VerifyingKey};

/// The share format version.
pub const VERSION: u8 = 1;
/// HKDF salt of the share key.
pub const SHARE_SALT: &[u8] = b"sherd/share/v1";

/// The object key sealed to a recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedKey {
    /// The ephemeral X25519 public key `E`, hex.
    pub ephemeral: String,
    /// 32 bytes of key and 16 of tag, hex.
    pub ciphertext: String,
}

/// A share: what a recipient needs to read an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Share {
    /// [`VERSION`].
    pub version: u8,
    /// The object id: its contract's id.
    pub id: Hash,
    /// The file's name when it was put.
    pub name: String,
    /// Plaintext bytes.
    pub size: u64,
    /// The chain of the contract.
    pub chain_id: String,
    /// Who shared it.
    pub owner: String,
    /// Who it is for.
    pub recipient: String,
    /// The object's manifest.
    pub manifest: Manifest,
    /// The object key, sealed to the recipient.
    pub sealed_key: SharedKey,
    /// Whether the object is a pack of a directory's files.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pack: bool,
}

/// Why a share could not be made or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// The recipient's key cannot receive a share.
    #[error("{0} is not a usable public key: {1}")]
    BadRecipient(String, &'static str),
    /// The share is for someone else.
    #[error("this share is for {recipient}, not {holder}")]
    NotForYou {
        /// Who it is for.
        recipient: String,
        /// Who tried to open it.
        holder: String,
    },
    /// It does not open: altered, or sealed to another key.
    #[error("the share's key does not open with {0}'s key: the share was altered or sealed to another key")]
    WrongKey(String),
    /// The file is not a share.
    #[error("not a share: {0}")]
    Invalid(String),
    /// No system randomness.
    #[error("no system randomness: {0}")]
    Randomness(String),
}

fn share_key(
    shared: &[u8; 32],
    ephemeral: &[u8; 32],
    recipient: &[u8; 32],
    object_root: &[u8; 32],
) -> Option<LessSafeKey> {
    let hk = Hkdf::<Sha256>::new(Some(SHARE_SALT), shared);
    let mut info = [0u8; 96];
    info[..32].copy_from_slice(ephemeral);
    info[32..64].copy_from_slice(recipient);
    info[64..].copy_from_slice(object_root);
    let mut key = Zeroizing::new([0u8; 32]);
    hk.expand(&info, &mut *key).ok()?;
    UnboundKey::new(&AES_256_GCM, &*key)
        .ok()
        .map(LessSafeKey::new)
}

/// The X25519 public key of `address`, if it can receive a share.
fn recipient_key(address: &Address) -> Result<[u8; 32], ShareError> {
    let bad = |why| ShareError::BadRecipient(address.to_string(), why);
    let key = VerifyingKey::from_bytes(address.as_bytes())
        .map_err(|_| bad("it is not a point of the ed25519 curve"))?;
    if key.is_weak() {
        return Err(bad("it has small order"));
    }
    Ok(key.to_montgomery().to_bytes())
}

/// Seals `key` of object `object` (id `id`) to `recipient`.
pub fn seal_to(
    recipient: &Address,
    id: &Hash,
    object: &Object,
    key: &ObjectKey,
) -> Result<SharedKey, ShareError> {
    let r = recipient_key(recipient)?;
    let mut secret = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *secret).map_err(|e| ShareError::Randomness(e.to_string()))?;
    let ephemeral = curve25519_dalek::MontgomeryPoint::mul_base_clamped(*secret).to_bytes();
    let shared = Zeroizing::new(
        curve25519_dalek::MontgomeryPoint(r)
            .mul_clamped(*secret)
            .to_bytes(),
    );
    let sealer = share_key(&shared, &ephemeral, &r, &object.root)
        .ok_or_else(|| ShareError::Randomness("cannot make a sealing key".into()))?;
    let ciphertext = seal_object_key(&sealer, [0; 12], id, &object.root, key)
        .ok_or_else(|| ShareError::Randomness("sealing failed".into()))?;
    Ok(SharedKey {
        ephemeral: hex::encode(ephemeral),
        ciphertext,
    })
}

impl Share {
    /// The object described by the manifest, checked.
    pub fn object(&self) -> Result<Object, ShareError> {
        self.manifest
            .validate()
            .map_err(|e| ShareError::Invalid(e.to_string()))
    }

    /// Opens the object key with the recipient's signing key.
    pub fn open(&self, holder: &SigningKey) -> Result<ObjectKey, ShareError> {
        let address = Address::from(&holder.verifying_key());
        if address.to_string() != self.recipient {
            return Err(ShareError::NotForYou {
                recipient: self.recipient.clone(),
                holder: address.to_string(),
            });
        }
        let wrong = || ShareError::WrongKey(address.to_string());
        let object = self.object()?;
        let ephemeral: [u8; 32] = hex::decode(&self.sealed_key.ephemeral)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(wrong)?;
        let r = holder.verifying_key().to_montgomery().to_bytes();
        let scalar = Zeroizing::new(holder.to_scalar_bytes());
        let shared = Zeroizing::new(
            curve25519_dalek::MontgomeryPoint(ephemeral)
                .mul_clamped(*scalar)
                .to_bytes(),
        );
        let opener = share_key(&shared, &ephemeral, &r, &object.root).ok_or_else(wrong)?;
        open_object_key(
            &opener,
            [0; 12],
            &self.id,
            &object.root,
            &self.sealed_key.ciphertext,
        )
        .ok_or_else(wrong)
    }

    /// The share as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Reads a share; its manifest must be valid.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ShareError> {
        let share: Share =
            serde_json::from_slice(bytes).map_err(|e| ShareError::Invalid(e.to_string()))?;
        if share.version != VERSION {
            return Err(ShareError::Invalid(format!(
                "version {} is not supported (this build reads {VERSION})",
                share.version
            )));
        }
        share.object()?;
        Ok(share)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object() -> (Object, ObjectKey) {
        let params = sherd_fragments::Params::with_shard_size(2, 1, 16 * 1024).unwrap();
        let mut outputs = vec![Vec::new(); 3];
        let key = ObjectKey::from_bytes([3; 32]);
        let object = sherd_fragments::encode_with_key(
            &b"a shared file"[..],
            13,
            params,
            &key,
            &mut outputs,
            &mut |_| {},
        )
        .unwrap();
        (object, key)
    }

    fn share(to: &SigningKey) -> (Share, ObjectKey) {
        let (object, key) = object();
        let id = Hash([7; 32]);
        let recipient = Address::from(&to.verifying_key());
        let sealed = seal_to(&recipient, &id, &object, &key).unwrap();
        let share = Share {
            version: VERSION,
            id,
            name: "f".into(),
            size: 13,
            chain_id: "t".into(),
            owner: "o".into(),
            recipient: recipient.to_string(),
            manifest: object.manifest(),
            sealed_key: sealed,
            pack: false,
        };
        (share, key)
    }

    #[test]
    fn the_recipient_opens_the_key_and_nobody_else() {
        let bob = SigningKey::from_bytes(&[2; 32]);
        let carol = SigningKey::from_bytes(&[3; 32]);
        let (share, key) = share(&bob);
        let back = Share::from_json(share.to_json().as_bytes()).unwrap();
        assert_eq!(back.open(&bob).unwrap().as_bytes(), key.as_bytes());
        assert!(matches!(
            back.open(&carol),
            Err(ShareError::NotForYou { .. })
        ));
        // Carol renaming the share to herself does not open it either.
        let mut stolen = back.clone();
        stolen.recipient = Address::from(&carol.verifying_key()).to_string();
        assert!(matches!(stolen.open(&carol), Err(ShareError::WrongKey(_))));
        // Nor does a share whose id or ciphertext was changed.
        let mut moved = back.clone();
        moved.id = Hash([8; 32]);
        assert!(matches!(moved.open(&bob), Err(ShareError::WrongKey(_))));
    }

    #[test]
    fn a_key_that_is_not_a_point_or_of_small_order_is_refused() {
        let (object, key) = object();
        // The identity (small order) and a y with no point on the curve.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let not_a_point = {
            let mut b = [0u8; 32];
            b[0] = 2;
            b
        };
        for bytes in [identity, not_a_point] {
            let e = seal_to(&Address(bytes), &Hash([7; 32]), &object, &key).unwrap_err();
            assert!(matches!(e, ShareError::BadRecipient(..)), "{e}");
        }
    }
}
