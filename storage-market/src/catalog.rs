//! The client's local catalog: what it stored, and the key to read it.
//!
//! One JSON file per object, `CATALOG/<object id>.json` (the object id is
//! the contract id), beside the wallets (`~/.sherd/catalog` by default):
//!
//! ```json
//! {
//!   "version": 1,
//!   "id": "<64 hex: contract id>",
//!   "name": "photo.jpg",
//!   "size": 3000000,
//!   "chain_id": "sherd-testnet",
//!   "owner": "sherd1…",
//!   "created_ms": 1764660000000,
//!   "state": "active",
//!   "tx": "<64 hex: the CreateContract>",
//!   "manifest": { …the object's manifest, fragments/README.md §7… },
//!   "sealed_key": { "nonce": "<24 hex>", "ciphertext": "<96 hex>" },
//!   "content": "<64 hex>",                  (the content fingerprint)
//!   "shared_by": "sherd1…"                  (only for an imported share)
//! }
//! ```
//!
//! **The same file twice is not paid twice.** Every object has a fresh key,
//! so the same file put twice would be two objects with two roots. Instead
//! the entry keeps a fingerprint of the plaintext, BLAKE3 keyed with a key
//! derived from the owner's secret key (so the catalog does not reveal
//! which known file it holds), computed while the put encodes; a put whose
//! fingerprint matches an active entry of the same owner stops before any
//! upload or payment and answers that object (`--again` stores a second,
//! independent copy).
//!
//! The object key is never on disk in plaintext: it is sealed with
//! AES-256-GCM under `HKDF-SHA256(ikm = the owner's ed25519 secret key,
//! salt = "sherd/catalog/v1", info = object root)`, with the object id and
//! root as associated data, so it opens only with the owner's wallet
//! (unlocked by its password), only for this object. The rest of the entry
//! (manifest, sizes) is public metadata, as on chain.

use std::path::{Path, PathBuf};

use hkdf::Hkdf;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sherd_fragments::{Manifest, Object, ObjectKey};
use sherd_ledger::{Address, Hash};
use zeroize::Zeroizing;

/// BLAKE3 derive-key context of the content fingerprint's key.
pub const CONTENT_CONTEXT: &str = "sherd 2026-12-03 catalog content fingerprint v1";

/// Hashes what is read through it: the content fingerprint of a put,
/// BLAKE3 keyed with a key derived from the owner's secret key.
pub struct Fingerprint<R> {
    inner: R,
    hasher: blake3::Hasher,
}

impl<R> std::fmt::Debug for Fingerprint<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fingerprint").finish_non_exhaustive()
    }
}

impl<R: std::io::Read> Fingerprint<R> {
    /// Fingerprints what `inner` gives, for the owner with `owner_secret`.
    pub fn new(inner: R, owner_secret: &[u8; 32]) -> Self {
        let key = Zeroizing::new(blake3::derive_key(CONTENT_CONTEXT, owner_secret));
        Self {
            inner,
            hasher: blake3::Hasher::new_keyed(&key),
        }
    }

    /// The fingerprint of everything read, hex.
    pub fn finish(&self) -> String {
        self.hasher.finalize().to_hex().to_string()
    }
}

impl<R: std::io::Read> std::io::Read for Fingerprint<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The catalog format version.
pub const VERSION: u8 = 1;
/// HKDF salt of the sealing key.
pub const SEAL_SALT: &[u8] = b"sherd/catalog/v1";

/// Where an object is in its life, as far as this client knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryState {
    /// Fragments placed, `CreateContract` sent, not yet final.
    Pending,
    /// The contract is final.
    Active,
    /// The contract failed; nothing is stored.
    Failed,
}

impl EntryState {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Failed => "failed",
        }
    }
}

/// The sealed object key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedKey {
    /// 12 bytes, hex.
    pub nonce: String,
    /// 32 bytes of key and 16 of tag, hex.
    pub ciphertext: String,
}

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
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
    /// The paying wallet's address.
    pub owner: String,
    /// When it was put (ms since the Unix epoch).
    pub created_ms: u64,
    /// Its state.
    pub state: EntryState,
    /// The `CreateContract` transaction.
    pub tx: Option<Hash>,
    /// The object's manifest.
    pub manifest: Manifest,
    /// The object key, sealed to the owner.
    pub sealed_key: SealedKey,
    /// Whether the object is a pack of a directory's files
    /// ([`crate::pack`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pack: bool,
    /// The content fingerprint ([`Fingerprint`]): how a put of the same
    /// file by the same wallet finds it is stored already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// For an object another wallet shared with this one (imported with
    /// `sherd storage import`): who shared it. The entry's `owner` is then
    /// the wallet that may read it, not the contract's client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_by: Option<String>,
}

/// What is wrong with the catalog or an entry.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No entry matches.
    #[error("no object {0} in the catalog {1}: `sherd storage ls` lists what this machine stored")]
    NotFound(String, PathBuf),
    /// More than one entry matches a prefix.
    #[error("object id prefix {0} is ambiguous: it matches {1} objects")]
    Ambiguous(String, usize),
    /// An entry does not parse or its manifest is invalid.
    #[error("catalog entry {path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The key does not open: another wallet, or the entry was altered.
    #[error("the object key does not open with wallet {0}: the object belongs to another wallet, or its catalog entry was altered")]
    WrongKey(String),
    /// The disk failed.
    #[error("catalog {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No system randomness.
    #[error("no system randomness: {0}")]
    Randomness(String),
}

fn seal_key(owner_secret: &[u8; 32], object_root: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let hk = Hkdf::<Sha256>::new(Some(SEAL_SALT), owner_secret);
    let mut key = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's limit of 8160.
    let _ = hk.expand(object_root, &mut *key);
    key
}

fn aead(owner_secret: &[u8; 32], object_root: &[u8; 32]) -> Option<LessSafeKey> {
    let key = seal_key(owner_secret, object_root);
    UnboundKey::new(&AES_256_GCM, &*key)
        .ok()
        .map(LessSafeKey::new)
}

fn aad(id: &Hash, object_root: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(id.as_bytes());
    out[32..].copy_from_slice(object_root);
    out
}

/// Seals the 32-byte object key of object `id` (root `object_root`) under
/// `sealer` with `nonce`, the id and root as associated data: hex of the
/// key and its tag. Shared by the catalog and by shares.
pub(crate) fn seal_object_key(
    sealer: &LessSafeKey,
    nonce: [u8; 12],
    id: &Hash,
    object_root: &[u8; 32],
    key: &ObjectKey,
) -> Option<String> {
    let mut buf = key.as_bytes().to_vec();
    sealer
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(id, object_root)),
            &mut buf,
        )
        .ok()?;
    Some(hex::encode(buf))
}

/// Opens what [`seal_object_key`] sealed; `None` if it does not open.
pub(crate) fn open_object_key(
    opener: &LessSafeKey,
    nonce: [u8; 12],
    id: &Hash,
    object_root: &[u8; 32],
    sealed: &str,
) -> Option<ObjectKey> {
    let mut buf = Zeroizing::new(hex::decode(sealed).ok()?);
    let plain = opener
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(id, object_root)),
            &mut buf,
        )
        .ok()?;
    let bytes: [u8; 32] = (&*plain).try_into().ok()?;
    Some(ObjectKey::from_bytes(bytes))
}

/// Seals `key` of object `object_root`, id `id`, to the owner.
pub fn seal(
    owner_secret: &[u8; 32],
    id: &Hash,
    object_root: &[u8; 32],
    key: &ObjectKey,
) -> Result<SealedKey, CatalogError> {
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|e| CatalogError::Randomness(e.to_string()))?;
    let sealer = aead(owner_secret, object_root)
        .ok_or_else(|| CatalogError::Randomness("cannot make a sealing key".into()))?;
    let ciphertext = seal_object_key(&sealer, nonce, id, object_root, key)
        .ok_or_else(|| CatalogError::Randomness("sealing failed".into()))?;
    Ok(SealedKey {
        nonce: hex::encode(nonce),
        ciphertext,
    })
}

impl Entry {
    /// The object described by the manifest, checked.
    pub fn object(&self) -> Result<Object, String> {
        self.manifest.validate().map_err(|e| e.to_string())
    }

    /// Opens the sealed key with the owner's secret key.
    pub fn key(&self, owner_secret: &[u8; 32], owner: &Address) -> Result<ObjectKey, CatalogError> {
        let wrong = || CatalogError::WrongKey(owner.to_string());
        let object = self.object().map_err(|_| wrong())?;
        let nonce: [u8; 12] = hex::decode(&self.sealed_key.nonce)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(wrong)?;
        let opener = aead(owner_secret, &object.root).ok_or_else(wrong)?;
        open_object_key(
            &opener,
            nonce,
            &self.id,
            &object.root,
            &self.sealed_key.ciphertext,
        )
        .ok_or_else(wrong)
    }

    /// The entry as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Reads an entry; its manifest must be valid.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let entry: Entry = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if entry.version != VERSION {
            return Err(format!(
                "version {} is not supported (this build reads {VERSION})",
                entry.version
            ));
        }
        entry.object()?;
        Ok(entry)
    }
}

/// The catalog directory.
#[derive(Debug, Clone)]
pub struct Catalog {
    dir: PathBuf,
}

impl Catalog {
    /// The catalog in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the entry of object `id` lives.
    pub fn path(&self, id: &Hash) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Writes `entry` (replacing the one of the same id) whole or not at
    /// all: a temporary file (mode 0600) beside it, fsynced, renamed over,
    /// the directory fsynced. The directory is created (0700) if needed.
    pub fn write(&self, entry: &Entry) -> Result<PathBuf, CatalogError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CatalogError::Io { path, source }
        };
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&self.dir).map_err(io(&self.dir))?;
        let path = self.path(&entry.id);
        let mut suffix = [0u8; 4];
        getrandom::fill(&mut suffix).map_err(|e| CatalogError::Randomness(e.to_string()))?;
        let tmp = self
            .dir
            .join(format!(".{}.json.tmp-{}", entry.id, hex::encode(suffix)));
        let written = (|| {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp)?;
            file.write_all(entry.to_json().as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&path)(e));
        }
        Ok(path)
    }

    /// Removes the entry of object `id` (its key goes with it).
    pub fn remove(&self, id: &Hash) -> Result<(), CatalogError> {
        let path = self.path(id);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(CatalogError::Io { path, source }),
        }
        if let Ok(dir) = std::fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Every entry, by name; unreadable ones as errors (so `ls` can say so).
    pub fn list(&self) -> Result<Vec<Result<Entry, CatalogError>>, CatalogError> {
        let read = match std::fs::read_dir(&self.dir) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(CatalogError::Io {
                    path: self.dir.clone(),
                    source,
                })
            }
        };
        let mut paths: Vec<PathBuf> = read
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "json")
                    && p.file_name()
                        .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
            })
            .collect();
        paths.sort();
        Ok(paths.into_iter().map(|p| self.read(&p)).collect())
    }

    fn read(&self, path: &Path) -> Result<Entry, CatalogError> {
        let bytes = std::fs::read(path).map_err(|source| CatalogError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Entry::from_json(&bytes).map_err(|reason| CatalogError::Invalid {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// The entry whose id is `text` or starts with it (at least 8 hex digits).
    pub fn find(&self, text: &str) -> Result<Entry, CatalogError> {
        let text = text.trim().to_ascii_lowercase();
        if text.len() == 64 {
            if let Ok(id) = text.parse::<Hash>() {
                let path = self.path(&id);
                if path.exists() {
                    return self.read(&path);
                }
                return Err(CatalogError::NotFound(text, self.dir.clone()));
            }
        }
        if text.len() < 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CatalogError::NotFound(
                format!("{text} (give the object id, or at least its first 8 hex digits)"),
                self.dir.clone(),
            ));
        }
        let matches: Vec<Entry> = self
            .list()?
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.id.to_string().starts_with(&text))
            .collect();
        match matches.len() {
            0 => Err(CatalogError::NotFound(text, self.dir.clone())),
            1 => Ok(matches
                .into_iter()
                .next()
                .ok_or_else(|| CatalogError::NotFound(String::new(), self.dir.clone()))?),
            n => Err(CatalogError::Ambiguous(text, n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use sherd_fragments::Params;

    use super::*;

    fn entry(secret: &[u8; 32], key: &ObjectKey) -> Entry {
        let data = vec![5u8; 50_000];
        let mut outs: Vec<Vec<u8>> = vec![Vec::new(); 3];
        let object = sherd_fragments::encode_with_key(
            &data[..],
            50_000,
            Params::new(2, 1).unwrap(),
            key,
            &mut outs,
            &mut |_| {},
        )
        .unwrap();
        let id = Hash([9; 32]);
        Entry {
            version: VERSION,
            id,
            name: "a.bin".into(),
            size: 50_000,
            chain_id: "t".into(),
            owner: "x".into(),
            created_ms: 1,
            state: EntryState::Active,
            tx: None,
            manifest: object.manifest(),
            sealed_key: seal(secret, &id, &object.root, key).unwrap(),
            pack: false,
            content: None,
            shared_by: None,
        }
    }

    #[test]
    fn the_key_opens_with_the_owner_only_and_not_once_altered() {
        let secret = [1u8; 32];
        let key = ObjectKey::from_bytes([7; 32]);
        let e = entry(&secret, &key);
        assert!(
            !e.to_json().contains(&hex::encode([7u8; 32])),
            "no plaintext key"
        );
        let back = Entry::from_json(e.to_json().as_bytes()).unwrap();
        let owner = Address([0; 32]);
        assert_eq!(
            back.key(&secret, &owner).unwrap().as_bytes(),
            key.as_bytes()
        );
        assert!(matches!(
            back.key(&[2u8; 32], &owner),
            Err(CatalogError::WrongKey(_))
        ));
        let mut moved = back.clone();
        moved.id = Hash([8; 32]);
        assert!(moved.key(&secret, &owner).is_err(), "bound to its id");
    }

    #[test]
    fn find_by_id_or_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::new(dir.path());
        let e = entry(&[1; 32], &ObjectKey::from_bytes([3; 32]));
        std::fs::write(catalog.path(&e.id), e.to_json()).unwrap();
        std::fs::write(dir.path().join("junk.json"), "{").unwrap();
        assert_eq!(catalog.find(&e.id.to_string()).unwrap(), e);
        assert_eq!(catalog.find(&e.id.to_string()[..10]).unwrap(), e);
        assert!(matches!(
            catalog.find("abc"),
            Err(CatalogError::NotFound(..))
        ));
        assert!(matches!(
            catalog.find(&"0".repeat(64)),
            Err(CatalogError::NotFound(..))
        ));
        let list = catalog.list().unwrap();
        assert_eq!(list.len(), 2);
        assert!(
            list.iter().any(|r| r.is_err()),
            "the junk entry is reported"
        );
    }

    #[test]
    fn the_fingerprint_is_the_contents_for_one_owner_only() {
        use std::io::Read;
        let print = |data: &[u8], owner: u8| {
            let mut reader = Fingerprint::new(data, &[owner; 32]);
            let mut sink = Vec::new();
            reader.read_to_end(&mut sink).unwrap();
            assert_eq!(sink, data);
            reader.finish()
        };
        assert_eq!(print(b"same file", 1), print(b"same file", 1));
        assert_ne!(print(b"same file", 1), print(b"same file!", 1));
        assert_ne!(
            print(b"same file", 1),
            print(b"same file", 2),
            "keyed per owner"
        );
    }
}
