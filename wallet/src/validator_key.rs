//! Validator (BLS12-381) key files, for `Stake`.
//!
//! ```json
//! { "version": 1, "scheme": "bls12-381-g1-pop", "secret_key": "<64 hex>", "public_key": "<96 hex>" }
//! ```
//!
//! The secret is the 32-byte big-endian scalar of `sherd_consensus::bls`
//! (the IETF `_POP_` ciphersuite); the public key is a convenience, checked
//! against the secret on load. The format, the node's `validator.bls`, is
//! read and written by [`crate::keyfile`]: atomically, mode 0600, never
//! overwritten, and refused when others may read it. A new key is IETF
//! `KeyGen` over 32 random bytes.

use std::{fmt, path::Path};

use sherd_consensus::bls::{SecretKey, PUBLIC_KEY_BYTES, SIGNATURE_BYTES};
use zeroize::Zeroizing;

use crate::keyfile::{self, KeyFileError};

/// Version of the validator key file format.
pub const VALIDATOR_KEY_VERSION: u32 = keyfile::KEY_FILE_VERSION;

/// Why a validator key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ValidatorKeyError {
    /// The file exists.
    #[error("validator key {path} already exists; pass it with --validator-key or remove it")]
    AlreadyExists {
        /// The file.
        path: String,
    },
    /// Reading or writing the file failed, or it is not a validator key
    /// file, or others may read it.
    #[error(transparent)]
    File(KeyFileError),
    /// The operating system gave no randomness.
    #[error("cannot get randomness from the operating system: {0}")]
    Random(String),
}

impl From<KeyFileError> for ValidatorKeyError {
    fn from(e: KeyFileError) -> Self {
        match e {
            KeyFileError::AlreadyExists { path } => Self::AlreadyExists {
                path: path.display().to_string(),
            },
            e => Self::File(e),
        }
    }
}

/// A BLS validator key (zeroed on drop, never printed).
pub struct ValidatorKey {
    secret: SecretKey,
}

impl fmt::Debug for ValidatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValidatorKey(public {})", hex::encode(self.public_key()))
    }
}

impl ValidatorKey {
    /// A fresh key from 32 bytes of operating-system randomness.
    pub fn generate() -> Result<Self, ValidatorKeyError> {
        let mut ikm = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut ikm[..]).map_err(|e| ValidatorKeyError::Random(e.to_string()))?;
        let secret = SecretKey::key_gen(&ikm[..], b"")
            .map_err(|e| ValidatorKeyError::Random(e.to_string()))?;
        Ok(Self { secret })
    }

    /// Wraps a secret key.
    pub fn from_secret(secret: SecretKey) -> Self {
        Self { secret }
    }

    /// The compressed G1 public key, as `Stake.bls_pubkey`.
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_BYTES] {
        self.secret.public_key().to_bytes()
    }

    /// The proof of possession, as `Stake.pop`.
    pub fn proof_of_possession(&self) -> [u8; SIGNATURE_BYTES] {
        self.secret.prove_possession().to_bytes()
    }

    /// The secret key.
    pub fn secret(&self) -> &SecretKey {
        &self.secret
    }

    /// Reads a key file (refused if other users may read it).
    pub fn load(path: &Path) -> Result<Self, ValidatorKeyError> {
        Ok(Self {
            secret: keyfile::read_bls(path)?,
        })
    }

    /// Writes the key to a new file (mode 0600, in a private directory if
    /// it has to be made); fails if it exists.
    pub fn save_new(&self, path: &Path) -> Result<(), ValidatorKeyError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            keyfile::create_private_dir(parent)?;
        }
        Ok(keyfile::write_bls(path, &self.secret)?)
    }

    /// Loads `path`, or creates a new key there if there is no file.
    /// Answers the key and whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), ValidatorKeyError> {
        if path.exists() {
            return Self::load(path).map(|k| (k, false));
        }
        let key = Self::generate()?;
        key.save_new(path)?;
        Ok((key, true))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use sherd_consensus::bls::{ProofOfPossession, PublicKey};

    use super::*;

    #[test]
    fn key_files_round_trip_and_prove_possession() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.bls.json");
        let (key, created) = ValidatorKey::load_or_create(&path).unwrap();
        assert!(created);
        let (again, created) = ValidatorKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(key.public_key(), again.public_key());
        let pk = PublicKey::from_bytes(&key.public_key()).unwrap();
        let pop = ProofOfPossession::from_bytes(&key.proof_of_possession()).unwrap();
        pk.verify_possession(&pop).unwrap();
        assert!(matches!(
            key.save_new(&path),
            Err(ValidatorKeyError::AlreadyExists { .. })
        ));
        assert!(!format!("{key:?}").contains(&hex::encode(key.secret().to_bytes())));

        let text = fs::read_to_string(&path).unwrap();
        let other = ValidatorKey::generate().unwrap();
        let bad = text.replace(
            &hex::encode(key.public_key()),
            &hex::encode(other.public_key()),
        );
        let bad_path = dir.path().join("bad.json");
        keyfile::write_new_private(&bad_path, bad.as_bytes()).unwrap();
        let err = ValidatorKey::load(&bad_path).unwrap_err();
        assert!(err.to_string().contains("does not belong"), "{err}");
    }
}
