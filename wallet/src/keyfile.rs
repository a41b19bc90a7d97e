//! Key files, and private files that appear whole or not at all.
//!
//! The one place where sherd writes a secret to disk and reads a plain key
//! file back: the wallet's keystores and validator keys, the node's homes
//! (`validator.key`, `validator.bls`, `faucet.key`, `node.key`), and the
//! command line's object keys and decoded files.
//!
//! # Writing
//!
//! A file is written under a temporary name beside its final place
//! (`.NAME.tmp-PID-RANDOM`, created new with mode 0600), synced, then
//! hard-linked to its name, which fails if the name is taken (or, with
//! [`PrivateFile::commit_replace`], renamed over it); the temporary is
//! removed and the directory synced. On any error the temporary is removed;
//! a crash can leave one behind, never a half-written file under the real
//! name.
//!
//! # Reading
//!
//! [`read_private`] refuses (on Unix) a file that users other than its
//! owner may read or write, with the `chmod 600` that fixes it, and gives
//! the bytes in a zeroizing buffer. Key files are small: one larger than
//! [`MAX_KEY_FILE_LEN`] is refused.
//!
//! # Plain key files
//!
//! JSON, as every node home has held them since the first dev chain:
//!
//! ```json
//! { "version": 1, "scheme": "ed25519", "secret_key": "<64 hex>", "address": "sherd1…" }
//! { "version": 1, "scheme": "bls12-381-g1-pop", "secret_key": "<64 hex>", "public_key": "<96 hex>" }
//! ```
//!
//! The ed25519 secret is the 32-byte key seed; the BLS secret the 32-byte
//! big-endian scalar of `sherd_consensus::bls`. `address` and `public_key`
//! are conveniences for people, checked against the secret on reading.
//! Unknown fields are ignored; another version or scheme is refused.
//! Secrets pass only through zeroizing buffers.

use std::{
    fmt,
    fs::{self, DirBuilder, File, OpenOptions},
    io::{self, Read, Write},
    path::{Path, PathBuf},
};

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use sherd_consensus::bls::SecretKey;
use sherd_ledger::Address;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Version of the plain key file formats.
pub const KEY_FILE_VERSION: u32 = 1;
/// `scheme` of an ed25519 key file.
pub const ED25519_SCHEME: &str = "ed25519";
/// `scheme` of a BLS12-381 validator key file.
pub const BLS_SCHEME: &str = "bls12-381-g1-pop";
/// Largest file [`read_private`] reads.
pub const MAX_KEY_FILE_LEN: u64 = 64 << 10;

/// Why a key file or private file cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file system said no.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done: `create`, `write`, `read`, …
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The file exists, and files written here are never replaced.
    #[error("{} already exists; it is never overwritten: remove it or choose another path", path.display())]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// A secret file that other users may read or write.
    #[error(
        "{} holds a secret but other users may access it (mode {mode:04o}); make it private with `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not a key file of the expected kind.
    #[error("{} is not a valid {scheme} key file: {problem}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The scheme expected.
        scheme: &'static str,
        /// What is wrong.
        problem: String,
    },
}

impl KeyFileError {
    fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Self + 'a {
        move |source| Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Creates `dir` and its parents; the directories it creates are private
/// (0700 on Unix).
pub fn create_private_dir(dir: &Path) -> Result<(), KeyFileError> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(KeyFileError::io("create the directory", dir))
}

/// The temporary name of `path`: `.NAME.tmp-PID-RANDOM` beside it.
fn temporary(path: &Path) -> PathBuf {
    let mut suffix = [0u8; 4];
    // Without randomness the pid alone still separates processes, and a
    // taken name is an error, never overwritten.
    let _ = getrandom::fill(&mut suffix);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        hex::encode(suffix)
    ))
}

/// Syncs the directory holding `path`, so that a new name survives a
/// crash. Best effort: some systems cannot open or sync a directory, and
/// the file is in place either way.
fn sync_parent(path: &Path) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
}

/// A private file being written: a temporary (mode 0600) beside `path`
/// until [`commit_new`](Self::commit_new) or
/// [`commit_replace`](Self::commit_replace) puts it in place. Dropped
/// uncommitted, the temporary is removed.
pub struct PrivateFile {
    file: Option<File>,
    tmp: PathBuf,
    path: PathBuf,
}

impl fmt::Debug for PrivateFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateFile")
            .field("path", &self.path)
            .field("tmp", &self.tmp)
            .finish_non_exhaustive()
    }
}

impl PrivateFile {
    /// Starts writing `path` (which is not touched until a commit).
    pub fn create(path: &Path) -> Result<Self, KeyFileError> {
        let tmp = temporary(path);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        // `create_new`: a name that is taken is someone else's, never ours
        // to remove.
        let file = options
            .open(&tmp)
            .map_err(KeyFileError::io("create", &tmp))?;
        Ok(Self {
            file: Some(file),
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sync(&self) -> Result<(), KeyFileError> {
        match &self.file {
            Some(file) => file
                .sync_all()
                .map_err(KeyFileError::io("write", &self.tmp)),
            None => Ok(()),
        }
    }

    /// Puts the file in place; [`KeyFileError::AlreadyExists`] if `path`
    /// exists (it is left as it was).
    pub fn commit_new(mut self) -> Result<(), KeyFileError> {
        self.sync()?;
        drop(self.file.take());
        // A hard link fails if the name is taken: never clobber, even a
        // file that appeared after we started.
        match fs::hard_link(&self.tmp, &self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(KeyFileError::AlreadyExists {
                    path: self.path.clone(),
                })
            }
            Err(e) => return Err(KeyFileError::io("create", &self.path)(e)),
        }
        let _ = fs::remove_file(&self.tmp);
        self.tmp = PathBuf::new();
        sync_parent(&self.path);
        Ok(())
    }

    /// Puts the file in place, replacing whatever file is at `path`.
    pub fn commit_replace(mut self) -> Result<(), KeyFileError> {
        self.sync()?;
        drop(self.file.take());
        fs::rename(&self.tmp, &self.path).map_err(KeyFileError::io("replace", &self.path))?;
        self.tmp = PathBuf::new();
        sync_parent(&self.path);
        Ok(())
    }
}

impl Write for PrivateFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(file) => file.write(buf),
            None => Err(io::Error::other("the file is committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for PrivateFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to a new private file `path`, whole or not at all;
/// [`KeyFileError::AlreadyExists`] if `path` exists.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), KeyFileError> {
    let mut file = PrivateFile::create(path)?;
    file.write_all(bytes)
        .map_err(KeyFileError::io("write", &file.tmp))?;
    file.commit_new()
}

/// Reads a private file: refused if other users may read or write it (on
/// Unix) or if it is longer than [`MAX_KEY_FILE_LEN`].
pub fn read_private(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let file = File::open(path).map_err(KeyFileError::io("read", path))?;
    let meta = file.metadata().map_err(KeyFileError::io("read", path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Exposed {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    if meta.len() > MAX_KEY_FILE_LEN {
        return Err(KeyFileError::Io {
            action: "read",
            path: path.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} bytes is too long for a key file (at most {MAX_KEY_FILE_LEN})",
                    meta.len()
                ),
            ),
        });
    }
    // Room for the whole file up front, so the buffer is never moved and
    // no copy of it is left behind unzeroed.
    let capacity =
        usize::try_from(MAX_KEY_FILE_LEN.min(meta.len().saturating_add(1))).unwrap_or(usize::MAX);
    let mut bytes = Zeroizing::new(Vec::with_capacity(capacity));
    file.take(MAX_KEY_FILE_LEN)
        .read_to_end(&mut bytes)
        .map_err(KeyFileError::io("read", path))?;
    Ok(bytes)
}

/// A key file as read: the secret is zeroed when it is dropped.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct KeyFileIn {
    version: u32,
    scheme: String,
    secret_key: String,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    public_key: Option<String>,
}

/// A key file to write.
#[derive(Serialize)]
struct KeyFileOut<'a> {
    version: u32,
    scheme: &'static str,
    secret_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<&'a str>,
}

/// Lowercase hex of a secret, in a zeroizing buffer.
fn secret_hex(bytes: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(vec![0u8; bytes.len().saturating_mul(2)]);
    // The buffer is exactly twice the input: this cannot fail.
    let _ = hex::encode_to_slice(bytes, &mut out[..]);
    let mut text = Zeroizing::new(String::with_capacity(out.len()));
    text.extend(out.iter().map(|&b| char::from(b)));
    text
}

fn write_key_file(path: &Path, doc: &KeyFileOut<'_>) -> Result<(), KeyFileError> {
    // Room for the whole document up front, so the buffer is never moved.
    let mut text = Zeroizing::new(Vec::with_capacity(1024));
    serde_json::to_writer_pretty(&mut *text, doc).map_err(|e| KeyFileError::Io {
        action: "write",
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    text.push(b'\n');
    write_new_private(path, &text)
}

fn read_key_file(path: &Path, scheme: &'static str) -> Result<KeyFileIn, KeyFileError> {
    let bytes = read_private(path)?;
    let doc: KeyFileIn = serde_json::from_slice(&bytes).map_err(|e| KeyFileError::Malformed {
        path: path.to_path_buf(),
        scheme,
        problem: format!("not a key file ({e})"),
    })?;
    if doc.version != KEY_FILE_VERSION || doc.scheme != scheme {
        return Err(KeyFileError::Malformed {
            path: path.to_path_buf(),
            scheme,
            problem: format!(
                "version {} scheme `{}`, expected version {KEY_FILE_VERSION} scheme `{scheme}`",
                doc.version, doc.scheme
            ),
        });
    }
    Ok(doc)
}

/// Reads an ed25519 key file (`node.key`, `validator.key`, `faucet.key`).
pub fn read_ed25519(path: &Path) -> Result<SigningKey, KeyFileError> {
    let malformed = |problem: &str| KeyFileError::Malformed {
        path: path.to_path_buf(),
        scheme: ED25519_SCHEME,
        problem: problem.into(),
    };
    let doc = read_key_file(path, ED25519_SCHEME)?;
    let mut secret = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(&doc.secret_key, &mut secret[..])
        .map_err(|_| malformed("`secret_key` is not 64 hex digits"))?;
    let key = SigningKey::from_bytes(&secret);
    let address = Address::from(&key.verifying_key());
    match doc.address.as_deref().map(str::parse::<Address>) {
        None => Err(malformed("`address` is missing")),
        Some(Err(e)) => Err(malformed(&format!("`address`: {e}"))),
        Some(Ok(found)) if found != address => Err(malformed(&format!(
            "`address` {found} does not belong to `secret_key` (whose address is {address})"
        ))),
        Some(Ok(_)) => Ok(key),
    }
}

/// Writes `key` to a new ed25519 key file (mode 0600); never overwrites.
pub fn write_ed25519(path: &Path, key: &SigningKey) -> Result<(), KeyFileError> {
    let secret = secret_hex(key.as_bytes());
    let address = Address::from(&key.verifying_key()).to_string();
    write_key_file(
        path,
        &KeyFileOut {
            version: KEY_FILE_VERSION,
            scheme: ED25519_SCHEME,
            secret_key: &secret,
            address: Some(&address),
            public_key: None,
        },
    )
}

/// Reads a BLS12-381 key file (`validator.bls`, `NAME.bls.json`).
pub fn read_bls(path: &Path) -> Result<SecretKey, KeyFileError> {
    let malformed = |problem: String| KeyFileError::Malformed {
        path: path.to_path_buf(),
        scheme: BLS_SCHEME,
        problem,
    };
    let doc = read_key_file(path, BLS_SCHEME)?;
    let mut raw = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(&doc.secret_key, &mut raw[..])
        .map_err(|_| malformed("`secret_key` is not 64 hex digits".into()))?;
    let key =
        SecretKey::from_bytes(&raw[..]).map_err(|e| malformed(format!("`secret_key`: {e}")))?;
    let public = hex::encode(key.public_key().to_bytes());
    match doc.public_key.as_deref() {
        None => Err(malformed("`public_key` is missing".into())),
        Some(found) if !found.eq_ignore_ascii_case(&public) => Err(malformed(
            "`public_key` does not belong to `secret_key`".into(),
        )),
        Some(_) => Ok(key),
    }
}

/// Writes `key` to a new BLS12-381 key file (mode 0600); never overwrites.
pub fn write_bls(path: &Path, key: &SecretKey) -> Result<(), KeyFileError> {
    let secret = secret_hex(&Zeroizing::new(key.to_bytes())[..]);
    let public = hex::encode(key.public_key().to_bytes());
    write_key_file(
        path,
        &KeyFileOut {
            version: KEY_FILE_VERSION,
            scheme: BLS_SCHEME,
            secret_key: &secret,
            address: None,
            public_key: Some(&public),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn writes_whole_private_files_and_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_new_private(&path, b"first").unwrap();
        let err = write_new_private(&path, b"second").unwrap_err();
        assert!(
            matches!(&err, KeyFileError::AlreadyExists { path: p } if *p == path),
            "{err}"
        );
        assert_eq!(fs::read(&path).unwrap(), b"first");
        assert_eq!(names(dir.path()), ["a.json"], "no temporary left behind");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        assert_eq!(&read_private(&path).unwrap()[..], b"first");
    }

    #[test]
    fn an_uncommitted_or_failed_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        {
            let mut file = PrivateFile::create(&path).unwrap();
            file.write_all(b"half").unwrap();
            assert_eq!(names(dir.path()).len(), 1, "the temporary exists meanwhile");
        }
        assert!(names(dir.path()).is_empty());

        // A directory where the file should go: the link fails, the
        // temporary goes.
        fs::create_dir(&path).unwrap();
        assert!(write_new_private(&path, b"x").is_err());
        assert_eq!(names(dir.path()), ["out.bin"]);
        fs::remove_dir(&path).unwrap();

        // No such directory: nothing is created at all.
        let err = write_new_private(&dir.path().join("missing/key"), b"x").unwrap_err();
        assert!(matches!(err, KeyFileError::Io { .. }), "{err}");
    }

    #[test]
    fn replace_renames_over_and_new_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.txt");
        fs::write(&path, b"old").unwrap();
        let mut file = PrivateFile::create(&path).unwrap();
        file.write_all(b"new").unwrap();
        assert_eq!(file.path(), path);
        file.commit_replace().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);

        let mut file = PrivateFile::create(&path).unwrap();
        file.write_all(b"newer").unwrap();
        assert!(matches!(
            file.commit_new(),
            Err(KeyFileError::AlreadyExists { .. })
        ));
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["plain.txt"]);
    }

    #[test]
    fn ed25519_files_round_trip_in_the_node_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let key = SigningKey::from_bytes(&[7; 32]);
        write_ed25519(&path, &key).unwrap();
        assert_eq!(read_ed25519(&path).unwrap().to_bytes(), key.to_bytes());
        let doc: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "version": 1,
                "scheme": "ed25519",
                "secret_key": hex::encode([7; 32]),
                "address": Address::from(&key.verifying_key()).to_string(),
            })
        );
        assert!(matches!(
            write_ed25519(&path, &key),
            Err(KeyFileError::AlreadyExists { .. })
        ));
    }

    /// A file exactly as `sherd node run --dev` wrote it before this module
    /// (compact `to_string_pretty`, no newline at the end) still reads.
    #[test]
    fn files_written_by_earlier_nodes_read() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(&[9; 32]);
        let old = format!(
            "{{\n  \"version\": 1,\n  \"scheme\": \"ed25519\",\n  \"secret_key\": \"{}\",\n  \"address\": \"{}\"\n}}",
            hex::encode([9; 32]),
            Address::from(&key.verifying_key())
        );
        let path = dir.path().join("faucet.key");
        write_new_private(&path, old.as_bytes()).unwrap();
        assert_eq!(read_ed25519(&path).unwrap().to_bytes(), key.to_bytes());

        let bls = SecretKey::key_gen(&[5; 32], b"").unwrap();
        let old = format!(
            "{{\n  \"version\": 1,\n  \"scheme\": \"bls12-381-g1-pop\",\n  \"secret_key\": \"{}\",\n  \"public_key\": \"{}\"\n}}",
            hex::encode(bls.to_bytes()),
            hex::encode(bls.public_key().to_bytes())
        );
        let path = dir.path().join("validator.bls");
        write_new_private(&path, old.as_bytes()).unwrap();
        assert_eq!(read_bls(&path).unwrap().to_bytes(), bls.to_bytes());
    }

    #[test]
    fn bls_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("validator.bls");
        let key = SecretKey::key_gen(&[1; 32], b"").unwrap();
        write_bls(&path, &key).unwrap();
        assert_eq!(read_bls(&path).unwrap().to_bytes(), key.to_bytes());
        let doc: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["scheme"], "bls12-381-g1-pop");
        assert_eq!(
            doc["public_key"],
            hex::encode(key.public_key().to_bytes()).as_str()
        );
    }

    #[test]
    fn wrong_or_inconsistent_files_are_refused_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let bls = SecretKey::key_gen(&[1; 32], b"").unwrap();
        let good_ed = serde_json::json!({
            "version": 1, "scheme": "ed25519",
            "secret_key": hex::encode(key.to_bytes()),
            "address": Address::from(&key.verifying_key()).to_string(),
        });
        let cases = [
            ("not json", "{".to_string(), "not a key file"),
            (
                "wrong address",
                good_ed.to_string().replace(
                    &Address::from(&key.verifying_key()).to_string(),
                    &Address::from(&other.verifying_key()).to_string(),
                ),
                "does not belong",
            ),
            (
                "short secret",
                good_ed
                    .to_string()
                    .replace(&hex::encode(key.to_bytes()), "abcd"),
                "64 hex digits",
            ),
            (
                "version 2",
                good_ed
                    .to_string()
                    .replace("\"version\":1", "\"version\":2"),
                "version 2",
            ),
        ];
        for (name, text, expected) in cases {
            let path = dir.path().join(name);
            write_new_private(&path, text.as_bytes()).unwrap();
            let err = read_ed25519(&path).unwrap_err();
            assert!(
                matches!(err, KeyFileError::Malformed { .. }),
                "{name}: {err}"
            );
            assert!(err.to_string().contains(expected), "{name}: {err}");
            assert!(err.to_string().contains(name), "{name}: {err}");
        }

        // An ed25519 file is not a BLS file, nor the other way round.
        let ed_path = dir.path().join("ed.key");
        write_ed25519(&ed_path, &key).unwrap();
        let err = read_bls(&ed_path).unwrap_err();
        assert!(err.to_string().contains("scheme `ed25519`"), "{err}");
        let bls_path = dir.path().join("v.bls");
        write_bls(&bls_path, &bls).unwrap();
        assert!(read_ed25519(&bls_path).is_err());

        // A BLS file whose public key is another key's.
        let other_bls = SecretKey::key_gen(&[2; 32], b"").unwrap();
        let text = fs::read_to_string(&bls_path).unwrap().replace(
            &hex::encode(bls.public_key().to_bytes()),
            &hex::encode(other_bls.public_key().to_bytes()),
        );
        let path = dir.path().join("mixed.bls");
        write_new_private(&path, text.as_bytes()).unwrap();
        let err = read_bls(&path).unwrap_err();
        assert!(err.to_string().contains("does not belong"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faucet.key");
        write_ed25519(&path, &SigningKey::from_bytes(&[7; 32])).unwrap();
        for loose in [0o644, 0o640, 0o604, 0o660] {
            chmod(&path, loose);
            let err = read_ed25519(&path).unwrap_err();
            assert!(
                matches!(err, KeyFileError::Exposed { mode, .. } if mode == loose),
                "{err}"
            );
            let text = err.to_string();
            assert!(
                text.contains(&format!("chmod 600 {}", path.display())),
                "{text}"
            );
            assert!(text.contains(&format!("{loose:04o}")), "{text}");
        }
        chmod(&path, 0o400);
        read_ed25519(&path).unwrap();
    }

    #[test]
    fn oversized_files_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.key");
        let big = vec![b' '; usize::try_from(MAX_KEY_FILE_LEN).unwrap() + 1];
        write_new_private(&path, &big).unwrap();
        let err = read_private(&path).unwrap_err();
        assert!(err.to_string().contains("too long"), "{err}");
    }

    #[test]
    fn private_directories_are_created() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_private_dir(&nested).unwrap();
        assert!(nested.is_dir());
        #[cfg(unix)]
        assert_eq!(mode(&nested), 0o700);
    }
}
