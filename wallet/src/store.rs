//! The wallet directory: one keystore file `NAME.json` per wallet, and
//! validator keys beside them as `NAME.bls.json`.
//!
//! The default directory is `$SHERD_HOME/wallets`, or `~/.sherd/wallets`
//! when `SHERD_HOME` is unset. A wallet name is 1 to 64 characters from
//! `A-Z a-z 0-9 _ -`, not starting with `-`. Files are written atomically,
//! mode 0600, and an existing wallet is never overwritten.

use std::{
    fs, io,
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use crate::{
    keyfile::{self, KeyFileError},
    keys::DerivationPath,
    keystore::{KdfParams, Keystore, KeystoreError},
    mnemonic::Mnemonic,
};

/// Longest wallet name.
pub const MAX_NAME_LEN: usize = 64;

/// Why the wallet directory cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A name with characters that do not belong in a file name.
    #[error("`{name}` is not a wallet name: use 1 to {MAX_NAME_LEN} letters, digits, `_` or `-`, not starting with `-`")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// No such wallet.
    #[error("no wallet named `{name}` in {}: {}", dir.display(), known_list(known))]
    NotFound {
        /// The name asked for.
        name: String,
        /// The directory searched.
        dir: PathBuf,
        /// The wallets there.
        known: Vec<String>,
    },
    /// A wallet of that name exists.
    #[error("wallet `{name}` already exists ({}); choose another name", path.display())]
    AlreadyExists {
        /// The name.
        name: String,
        /// Its file.
        path: PathBuf,
    },
    /// The file system said no.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// Writing the keystore file failed.
    #[error(transparent)]
    File(KeyFileError),
    /// The keystore itself.
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "there are no wallets yet (create one with `sherd wallet new NAME` or `sherd wallet import NAME`)".into()
    } else {
        format!("known wallets: {}", known.join(", "))
    }
}

/// Checks a wallet name.
pub fn check_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidName { name: name.into() })
    }
}

/// One entry of [`WalletDir::list`]: a wallet file, readable or not.
#[derive(Debug)]
pub struct Entry {
    /// The wallet's name (from its file name).
    pub name: String,
    /// The keystore, or why it cannot be read.
    pub keystore: Result<Keystore, StoreError>,
}

/// A directory of keystores.
#[derive(Debug, Clone)]
pub struct WalletDir {
    root: PathBuf,
}

impl WalletDir {
    /// The directory `root` (created when the first wallet is saved).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `$SHERD_HOME/wallets`, else `$HOME/.sherd/wallets`; `None` if
    /// neither variable is set.
    pub fn default_root() -> Option<PathBuf> {
        if let Some(home) = std::env::var_os("SHERD_HOME").filter(|h| !h.is_empty()) {
            return Some(PathBuf::from(home).join("wallets"));
        }
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|home| PathBuf::from(home).join(".sherd").join("wallets"))
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The keystore file of `name`.
    pub fn keystore_path(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.json"))
    }

    /// The default validator (BLS) key file of `name`.
    pub fn validator_key_path(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.bls.json"))
    }

    fn io(&self, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    }

    /// The names of the wallets, sorted.
    pub fn names(&self) -> Result<Vec<String>, StoreError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(&self.root)(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(self.io(&self.root))?;
            let file = entry.file_name();
            let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".json")) else {
                continue;
            };
            if check_name(name).is_ok() && entry.path().is_file() {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Every wallet, each read and checked (still locked).
    pub fn list(&self) -> Result<Vec<Entry>, StoreError> {
        Ok(self
            .names()?
            .into_iter()
            .map(|name| Entry {
                keystore: self.load(&name),
                name,
            })
            .collect())
    }

    /// Reads wallet `name`.
    pub fn load(&self, name: &str) -> Result<Keystore, StoreError> {
        check_name(name)?;
        let path = self.keystore_path(name);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    name: name.into(),
                    dir: self.root.clone(),
                    known: self.names().unwrap_or_default(),
                })
            }
            Err(e) => return Err(self.io(&path)(e)),
        };
        Ok(Keystore::from_json(name, &bytes)?)
    }

    /// Whether wallet `name` exists.
    pub fn exists(&self, name: &str) -> bool {
        self.keystore_path(name).exists()
    }

    /// Encrypts `mnemonic` as wallet `name` at sherd's path for `account`
    /// and saves it; fails if the wallet exists.
    pub fn create(
        &self,
        name: &str,
        mnemonic: &Mnemonic,
        account: u32,
        password: &[u8],
        kdf: KdfParams,
    ) -> Result<Keystore, StoreError> {
        check_name(name)?;
        let path = self.keystore_path(name);
        if path.exists() {
            return Err(StoreError::AlreadyExists {
                name: name.into(),
                path,
            });
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let keystore = Keystore::seal(
            name,
            mnemonic,
            &DerivationPath::sherd(account),
            password,
            kdf,
            now,
        )?;
        self.save(&keystore)?;
        Ok(keystore)
    }

    /// Writes `keystore` as a new file; fails if the wallet exists.
    pub fn save(&self, keystore: &Keystore) -> Result<PathBuf, StoreError> {
        let name = keystore.name();
        check_name(name)?;
        keyfile::create_private_dir(&self.root).map_err(StoreError::File)?;
        let path = self.keystore_path(name);
        match keyfile::write_new_private(&path, keystore.to_json().as_bytes()) {
            Ok(()) => Ok(path),
            Err(KeyFileError::AlreadyExists { .. }) => Err(StoreError::AlreadyExists {
                name: name.into(),
                path,
            }),
            Err(e) => Err(StoreError::File(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_load_list_and_refuse_to_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = WalletDir::new(tmp.path().join("wallets"));
        assert!(dir.names().unwrap().is_empty());
        let m = Mnemonic::generate().unwrap();
        let ks = dir
            .create("alice", &m, 0, b"pw", KdfParams::INSECURE_FAST)
            .unwrap();
        fs::write(dir.validator_key_path("alice"), "{}").unwrap();
        let other = Mnemonic::generate().unwrap();
        assert!(matches!(
            dir.create("alice", &other, 0, b"pw", KdfParams::INSECURE_FAST),
            Err(StoreError::AlreadyExists { .. })
        ));
        assert!(matches!(
            dir.save(&ks),
            Err(StoreError::AlreadyExists { .. })
        ));
        assert_eq!(dir.names().unwrap(), vec!["alice".to_string()]);
        let loaded = dir.load("alice").unwrap();
        assert_eq!(loaded.address(), ks.address());
        assert_eq!(loaded.unlock(b"pw").unwrap().mnemonic, m);

        let err = dir.load("bob").unwrap_err();
        assert!(err.to_string().contains("known wallets: alice"), "{err}");
        assert!(matches!(
            dir.load("../etc/passwd"),
            Err(StoreError::InvalidName { .. })
        ));
    }

    #[test]
    fn names_are_checked() {
        for good in ["a", "alice-2", "BOB_1"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-x", "a.b", "a/b", "é", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
