//! Encrypted keystore files: one JSON document per wallet.
//!
//! ```json
//! {
//!   "version": 1,
//!   "name": "alice",
//!   "address": "sherd1…",
//!   "created_at": 1763942400,
//!   "derivation_path": "m/44'/7787'/0'/0'/0'",
//!   "kdf": { "algorithm": "argon2id", "version": 19, "memory_kib": 65536,
//!            "iterations": 3, "parallelism": 1, "salt": "<32 hex: 16 bytes>" },
//!   "cipher": { "algorithm": "chacha20-poly1305", "nonce": "<24 hex: 12 bytes>",
//!               "ciphertext": "<hex: entropy ‖ 16-byte tag>" }
//! }
//! ```
//!
//! The encrypted secret is the mnemonic's entropy (16 to 32 bytes), so the
//! words can be shown again (`export`) and the key derived at
//! `derivation_path`. The key is `Argon2id(password, salt, m, t, p) → 32
//! bytes`; the cipher is ChaCha20-Poly1305 (ring) with a random 12-byte
//! nonce and associated data `"sherd/keystore/v1"`. Salt and nonce are fresh
//! for every file.
//!
//! Opening checks, in order: the JSON shape and every field (a
//! [`KeystoreError::Malformed`] naming the field), the version, the KDF
//! parameters (bounded so a hostile file cannot ask for terabytes), then
//! the password (a failed AEAD open is [`KeystoreError::WrongPassword`]: the
//! password is wrong, or the encrypted part was altered), and last that the
//! decrypted key gives the recorded address ([`KeystoreError::Tampered`]).
//!
//! Default KDF parameters ([`KdfParams::DEFAULT`]): 64 MiB of memory, 3
//! passes, 1 lane (the OWASP and RFC 9106 "second recommended" class).
//! Tests pass cheaper parameters to [`Keystore::seal`].

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use serde::{Deserialize, Serialize};
use sherd_ledger::Address;
use zeroize::Zeroizing;

use crate::{
    keys::{DerivationPath, WalletKey},
    mnemonic::Mnemonic,
};

/// The keystore format version this crate writes and reads.
pub const KEYSTORE_VERSION: u32 = 1;
/// Associated data of the AEAD.
const AAD: &[u8] = b"sherd/keystore/v1";
/// Bytes of salt.
const SALT_LEN: usize = 16;
/// Largest memory cost accepted from a file: 4 GiB.
const MAX_MEMORY_KIB: u32 = 4 << 20;
/// Most passes accepted from a file.
const MAX_ITERATIONS: u32 = 64;
/// Most lanes accepted from a file.
const MAX_PARALLELISM: u32 = 16;

/// Why a keystore cannot be written or opened.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// Not a keystore, or a field is missing or wrong.
    #[error("keystore of wallet `{name}` is malformed: {problem}")]
    Malformed {
        /// The wallet (or file) name.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// A version this build does not read.
    #[error("keystore of wallet `{name}` has version {found}, this sherd reads version {KEYSTORE_VERSION}: upgrade sherd")]
    UnsupportedVersion {
        /// The wallet.
        name: String,
        /// The version found.
        found: u32,
    },
    /// The AEAD did not open: wrong password (or an altered ciphertext).
    #[error("wrong password for wallet `{name}`")]
    WrongPassword {
        /// The wallet.
        name: String,
    },
    /// It decrypted, but does not match its own fields.
    #[error("keystore of wallet `{name}` was tampered with: {problem}")]
    Tampered {
        /// The wallet.
        name: String,
        /// What does not match.
        problem: String,
    },
    /// KDF parameters Argon2 refuses.
    #[error("invalid key-derivation parameters: {0}")]
    Kdf(String),
    /// The operating system gave no randomness.
    #[error("cannot get randomness from the operating system: {0}")]
    Random(String),
    /// The AEAD refused to seal (never happens with valid sizes).
    #[error("cannot encrypt the keystore")]
    Seal,
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB (at least 8 × parallelism).
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// 64 MiB, 3 passes, 1 lane: what `sherd wallet` uses.
    pub const DEFAULT: Self = Self {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 1,
    };

    /// The cheapest parameters Argon2 allows (8 KiB, 1 pass): for tests
    /// only, they protect nothing.
    pub const INSECURE_FAST: Self = Self {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };

    fn check(&self) -> Result<(), String> {
        if self.memory_kib > MAX_MEMORY_KIB {
            return Err(format!(
                "memory_kib {} is above the limit {MAX_MEMORY_KIB}",
                self.memory_kib
            ));
        }
        if self.iterations > MAX_ITERATIONS {
            return Err(format!(
                "iterations {} is above the limit {MAX_ITERATIONS}",
                self.iterations
            ));
        }
        if self.parallelism > MAX_PARALLELISM {
            return Err(format!(
                "parallelism {} is above the limit {MAX_PARALLELISM}",
                self.parallelism
            ));
        }
        Ok(())
    }

    fn derive_key(&self, password: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, String> {
        self.check()?;
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| e.to_string())?;
        let mut key = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(password, salt, &mut key[..])
            .map_err(|e| e.to_string())?;
        Ok(key)
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfJson {
    algorithm: String,
    version: u32,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CipherJson {
    algorithm: String,
    nonce: String,
    ciphertext: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeystoreJson {
    version: u32,
    name: String,
    address: String,
    created_at: u64,
    derivation_path: String,
    kdf: KdfJson,
    cipher: CipherJson,
}

/// A keystore read and checked, still locked.
#[derive(Clone)]
pub struct Keystore {
    name: String,
    address: Address,
    created_at: u64,
    path: DerivationPath,
    kdf: KdfParams,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

impl fmt::Debug for Keystore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keystore")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("created_at", &self.created_at)
            .field("path", &self.path)
            .field("kdf", &self.kdf)
            .finish_non_exhaustive()
    }
}

/// An opened keystore: the mnemonic and the key it gives.
#[derive(Debug)]
pub struct Unlocked {
    /// The words (zeroed on drop).
    pub mnemonic: Mnemonic,
    /// The account key (zeroed on drop).
    pub key: WalletKey,
}

fn random<const N: usize>() -> Result<[u8; N], KeystoreError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| KeystoreError::Random(e.to_string()))?;
    Ok(out)
}

fn aead_key(key: &[u8; 32]) -> Result<LessSafeKey, KeystoreError> {
    UnboundKey::new(&CHACHA20_POLY1305, key)
        .map(LessSafeKey::new)
        .map_err(|_| KeystoreError::Seal)
}

impl Keystore {
    /// Encrypts `mnemonic` under `password` for wallet `name`, whose key is
    /// at `path`. `kdf` is [`KdfParams::DEFAULT`] outside tests.
    pub fn seal(
        name: &str,
        mnemonic: &Mnemonic,
        path: &DerivationPath,
        password: &[u8],
        kdf: KdfParams,
        created_at: u64,
    ) -> Result<Self, KeystoreError> {
        let salt: [u8; SALT_LEN] = random()?;
        let nonce: [u8; NONCE_LEN] = random()?;
        let key = kdf
            .derive_key(password, &salt)
            .map_err(KeystoreError::Kdf)?;
        let mut ciphertext = mnemonic.entropy().to_vec();
        aead_key(&key)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut ciphertext,
            )
            .map_err(|_| KeystoreError::Seal)?;
        Ok(Self {
            name: name.to_owned(),
            address: WalletKey::derive(mnemonic, path).address(),
            created_at,
            path: path.clone(),
            kdf,
            salt,
            nonce,
            ciphertext,
        })
    }

    /// Decrypts with `password` and checks the key against the address.
    pub fn unlock(&self, password: &[u8]) -> Result<Unlocked, KeystoreError> {
        let key = self
            .kdf
            .derive_key(password, &self.salt)
            .map_err(|problem| self.malformed(format!("kdf: {problem}")))?;
        let mut buffer = Zeroizing::new(self.ciphertext.clone());
        let plain = aead_key(&key)?
            .open_in_place(
                Nonce::assume_unique_for_key(self.nonce),
                Aad::from(AAD),
                &mut buffer,
            )
            .map_err(|_| KeystoreError::WrongPassword {
                name: self.name.clone(),
            })?;
        let mnemonic = Mnemonic::from_entropy(plain).map_err(|e| KeystoreError::Tampered {
            name: self.name.clone(),
            problem: e.to_string(),
        })?;
        let key = WalletKey::derive(&mnemonic, &self.path);
        if key.address() != self.address {
            return Err(KeystoreError::Tampered {
                name: self.name.clone(),
                problem: format!(
                    "the key gives address {} but the file says {}",
                    key.address(),
                    self.address
                ),
            });
        }
        Ok(Unlocked { mnemonic, key })
    }

    fn malformed(&self, problem: String) -> KeystoreError {
        KeystoreError::Malformed {
            name: self.name.clone(),
            problem,
        }
    }

    /// The wallet's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The wallet's address (readable without the password).
    pub fn address(&self) -> Address {
        self.address
    }

    /// Creation time, Unix seconds.
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// Where the key is derived.
    pub fn derivation_path(&self) -> &DerivationPath {
        &self.path
    }

    /// The KDF parameters.
    pub fn kdf(&self) -> KdfParams {
        self.kdf
    }

    /// The file's JSON text.
    pub fn to_json(&self) -> String {
        let doc = KeystoreJson {
            version: KEYSTORE_VERSION,
            name: self.name.clone(),
            address: self.address.to_string(),
            created_at: self.created_at,
            derivation_path: self.path.to_string(),
            kdf: KdfJson {
                algorithm: "argon2id".into(),
                version: 0x13,
                memory_kib: self.kdf.memory_kib,
                iterations: self.kdf.iterations,
                parallelism: self.kdf.parallelism,
                salt: hex::encode(self.salt),
            },
            cipher: CipherJson {
                algorithm: "chacha20-poly1305".into(),
                nonce: hex::encode(self.nonce),
                ciphertext: hex::encode(&self.ciphertext),
            },
        };
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads and checks a keystore; `name` (the file's wallet name) is
    /// used in errors until the file's own name is known.
    pub fn from_json(name: &str, bytes: &[u8]) -> Result<Self, KeystoreError> {
        let malformed = |problem: String| KeystoreError::Malformed {
            name: name.to_owned(),
            problem,
        };
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("not JSON ({e})")))?;
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(KEYSTORE_VERSION) => {}
            Some(v) => {
                return Err(KeystoreError::UnsupportedVersion {
                    name: name.to_owned(),
                    found: u32::try_from(v).unwrap_or(u32::MAX),
                })
            }
            None => return Err(malformed("no numeric `version` field".into())),
        }
        let doc: KeystoreJson =
            serde_json::from_value(value).map_err(|e| malformed(e.to_string()))?;
        if doc.name != name {
            return Err(malformed(format!(
                "`name` is `{}` but the file is for wallet `{name}`",
                doc.name
            )));
        }
        let address: Address = doc
            .address
            .parse()
            .map_err(|e| malformed(format!("`address`: {e}")))?;
        let path: DerivationPath = doc
            .derivation_path
            .parse()
            .map_err(|e| malformed(format!("`derivation_path`: {e}")))?;
        if doc.kdf.algorithm != "argon2id" || doc.kdf.version != 0x13 {
            return Err(malformed(format!(
                "`kdf` is {} version {}, expected argon2id version 19",
                doc.kdf.algorithm, doc.kdf.version
            )));
        }
        let kdf = KdfParams {
            memory_kib: doc.kdf.memory_kib,
            iterations: doc.kdf.iterations,
            parallelism: doc.kdf.parallelism,
        };
        kdf.check().map_err(|p| malformed(format!("`kdf`: {p}")))?;
        if doc.cipher.algorithm != "chacha20-poly1305" {
            return Err(malformed(format!(
                "`cipher.algorithm` is `{}`, expected chacha20-poly1305",
                doc.cipher.algorithm
            )));
        }
        let salt = fixed_hex::<SALT_LEN>(&doc.kdf.salt, "kdf.salt").map_err(malformed)?;
        let nonce = fixed_hex::<NONCE_LEN>(&doc.cipher.nonce, "cipher.nonce").map_err(malformed)?;
        let ciphertext = hex::decode(&doc.cipher.ciphertext)
            .map_err(|e| malformed(format!("`cipher.ciphertext` is not hex: {e}")))?;
        let tag = CHACHA20_POLY1305.tag_len();
        let secret = ciphertext.len().saturating_sub(tag);
        if ciphertext.len() < tag || !(16..=32).contains(&secret) || secret % 4 != 0 {
            return Err(malformed(format!(
                "`cipher.ciphertext` is {} bytes, expected 16 to 32 bytes of entropy plus a {tag}-byte tag",
                ciphertext.len()
            )));
        }
        Ok(Self {
            name: doc.name,
            address,
            created_at: doc.created_at,
            path,
            kdf,
            salt,
            nonce,
            ciphertext,
        })
    }
}

fn fixed_hex<const N: usize>(text: &str, field: &str) -> Result<[u8; N], String> {
    let bytes = hex::decode(text).map_err(|e| format!("`{field}` is not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("`{field}` is {} bytes, expected {N}", b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(password: &str) -> (Mnemonic, Keystore) {
        let m = Mnemonic::generate().unwrap();
        let ks = Keystore::seal(
            "alice",
            &m,
            &DerivationPath::sherd(0),
            password.as_bytes(),
            KdfParams::INSECURE_FAST,
            1_763_942_400,
        )
        .unwrap();
        (m, ks)
    }

    fn edit(json: &str, f: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
        f(&mut v);
        v.to_string()
    }

    #[test]
    fn round_trip_gives_the_same_words_and_address() {
        let (m, ks) = sealed("correct horse");
        let json = ks.to_json();
        let back = Keystore::from_json("alice", json.as_bytes()).unwrap();
        assert_eq!(back.address(), WalletKey::from_mnemonic(&m, 0).address());
        assert_eq!(back.created_at(), 1_763_942_400);
        let unlocked = back.unlock(b"correct horse").unwrap();
        assert_eq!(unlocked.mnemonic, m);
        assert_eq!(unlocked.key.address(), back.address());
        assert!(!json.contains(&*m.phrase()));
        assert!(!json.contains(&hex::encode(m.entropy())));
    }

    #[test]
    fn wrong_password_is_named() {
        let (_, ks) = sealed("right");
        let err = ks.unlock(b"wrong").unwrap_err();
        assert!(matches!(err, KeystoreError::WrongPassword { .. }));
        assert_eq!(err.to_string(), "wrong password for wallet `alice`");
    }

    #[test]
    fn tampered_and_malformed_files_say_what_is_wrong() {
        let (_, ks) = sealed("pw");
        let json = ks.to_json();

        let other = WalletKey::from_mnemonic(&Mnemonic::from_entropy(&[1; 32]).unwrap(), 0);
        let swapped = edit(&json, |v| v["address"] = other.address().to_string().into());
        let err = Keystore::from_json("alice", swapped.as_bytes())
            .unwrap()
            .unlock(b"pw")
            .unwrap_err();
        assert!(matches!(err, KeystoreError::Tampered { .. }), "{err}");

        let mut flipped = hex::decode(
            ks.to_json()
                .split("\"ciphertext\": \"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap(),
        )
        .unwrap();
        flipped[0] ^= 1;
        let bad_ct = edit(&json, |v| {
            v["cipher"]["ciphertext"] = hex::encode(&flipped).into()
        });
        let err = Keystore::from_json("alice", bad_ct.as_bytes())
            .unwrap()
            .unlock(b"pw")
            .unwrap_err();
        assert!(matches!(err, KeystoreError::WrongPassword { .. }), "{err}");

        let cases: Vec<(String, &str)> = vec![
            ("{".into(), "not JSON"),
            (edit(&json, |v| v["version"] = 2.into()), "version 2"),
            (
                edit(&json, |v| v["address"] = "sherd1xyz".into()),
                "`address`",
            ),
            (
                edit(&json, |v| v["kdf"]["salt"] = "abcd".into()),
                "`kdf.salt` is 2 bytes",
            ),
            (
                edit(&json, |v| v["kdf"]["memory_kib"] = (1u64 << 31).into()),
                "above the limit",
            ),
            (
                edit(&json, |v| v["cipher"]["algorithm"] = "rot13".into()),
                "rot13",
            ),
            (
                edit(&json, |v| v["cipher"]["nonce"] = "zz".into()),
                "not hex",
            ),
            (
                edit(&json, |v| v["cipher"]["ciphertext"] = "00".into()),
                "`cipher.ciphertext` is 1 bytes",
            ),
            (
                edit(&json, |v| v["derivation_path"] = "m/44'/0".into()),
                "not hardened",
            ),
            (
                edit(&json, |v| {
                    v.as_object_mut().unwrap().remove("kdf");
                }),
                "missing field `kdf`",
            ),
            (edit(&json, |v| v["name"] = "bob".into()), "`name` is `bob`"),
        ];
        for (text, expected) in cases {
            let err = Keystore::from_json("alice", text.as_bytes()).unwrap_err();
            assert!(
                err.to_string().contains(expected),
                "{err} should mention {expected}"
            );
        }
    }

    #[test]
    fn every_seal_uses_fresh_salt_and_nonce() {
        let m = Mnemonic::from_entropy(&[9; 32]).unwrap();
        let path = DerivationPath::sherd(0);
        let seal = || Keystore::seal("a", &m, &path, b"pw", KdfParams::INSECURE_FAST, 0).unwrap();
        let (a, b) = (seal(), seal());
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn debug_prints_no_secret() {
        let (m, ks) = sealed("pw");
        let unlocked = ks.unlock(b"pw").unwrap();
        let debug = format!("{ks:?} {unlocked:?}");
        assert!(!debug.contains(&*m.phrase()));
        assert!(!debug.contains(&hex::encode(m.entropy())));
        assert!(!debug.contains(&hex::encode(unlocked.key.signing_key().to_bytes())));
    }
}
