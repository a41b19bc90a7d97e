//! Validator (BLS12-381) key files, for `Stake`.
//!
//! ```json
//! { "version": 1, "scheme": "bls12-381-g1-pop", "secret_key": "<64 hex>", "public_key": "<96 hex>" }
//! ```
//!
//! The secret is the 32-byte big-endian scalar of `sherd_consensus::bls`
//! (the IETF `_POP_` ciphersuite); the public key is a convenience, checked
//! against the secret on load. The file is written atomically, mode 0600,
//! and never overwritten. A new key is IETF `KeyGen` over 32 random bytes.

use std::{fmt, fs, io, path::Path};

use serde::{Deserialize, Serialize};
use sherd_consensus::bls::{SecretKey, PUBLIC_KEY_BYTES, SIGNATURE_BYTES};
use zeroize::{Zeroize, Zeroizing};

use crate::fsutil;

/// Version of the validator key file format.
pub const VALIDATOR_KEY_VERSION: u32 = 1;
const SCHEME: &str = "bls12-381-g1-pop";

/// Why a validator key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ValidatorKeyError {
    /// Reading or writing failed.
    #[error("cannot access validator key {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: io::Error,
    },
    /// The file exists.
    #[error("validator key {path} already exists; pass it with --validator-key or remove it")]
    AlreadyExists {
        /// The file.
        path: String,
    },
    /// Not a validator key file.
    #[error("validator key {path} is malformed: {problem}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// The operating system gave no randomness.
    #[error("cannot get randomness from the operating system: {0}")]
    Random(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyJson {
    version: u32,
    scheme: String,
    secret_key: String,
    public_key: String,
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

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<Self, ValidatorKeyError> {
        let shown = path.display().to_string();
        let malformed = |problem: String| ValidatorKeyError::Malformed {
            path: shown.clone(),
            problem,
        };
        let bytes = Zeroizing::new(fs::read(path).map_err(|source| ValidatorKeyError::Io {
            path: shown.clone(),
            source,
        })?);
        let doc: KeyJson = serde_json::from_slice(&bytes)
            .map_err(|e| malformed(format!("not a key file ({e})")))?;
        let doc_secret = Zeroizing::new(doc.secret_key);
        if doc.version != VALIDATOR_KEY_VERSION || doc.scheme != SCHEME {
            return Err(malformed(format!(
                "version {} scheme `{}`, expected version {VALIDATOR_KEY_VERSION} scheme `{SCHEME}`",
                doc.version, doc.scheme
            )));
        }
        let raw = Zeroizing::new(
            hex::decode(doc_secret.as_str())
                .map_err(|e| malformed(format!("`secret_key` is not hex: {e}")))?,
        );
        let secret =
            SecretKey::from_bytes(&raw).map_err(|e| malformed(format!("`secret_key`: {e}")))?;
        let key = Self { secret };
        if hex::encode(key.public_key()) != doc.public_key.to_ascii_lowercase() {
            return Err(malformed(
                "`public_key` does not belong to `secret_key`".into(),
            ));
        }
        Ok(key)
    }

    /// Writes the key to a new file (mode 0600); fails if it exists.
    pub fn save_new(&self, path: &Path) -> Result<(), ValidatorKeyError> {
        let shown = path.display().to_string();
        let mut doc = KeyJson {
            version: VALIDATOR_KEY_VERSION,
            scheme: SCHEME.into(),
            secret_key: hex::encode(self.secret.to_bytes()),
            public_key: hex::encode(self.public_key()),
        };
        let text = Zeroizing::new(serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n");
        doc.secret_key.zeroize();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fsutil::create_private_dir(parent).map_err(|source| ValidatorKeyError::Io {
                path: shown.clone(),
                source,
            })?;
        }
        fsutil::write_new_private(path, text.as_bytes()).map_err(|source| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                ValidatorKeyError::AlreadyExists {
                    path: shown.clone(),
                }
            } else {
                ValidatorKeyError::Io {
                    path: shown.clone(),
                    source,
                }
            }
        })
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
        fs::write(&bad_path, bad).unwrap();
        let err = ValidatorKey::load(&bad_path).unwrap_err();
        assert!(err.to_string().contains("does not belong"), "{err}");
    }
}
