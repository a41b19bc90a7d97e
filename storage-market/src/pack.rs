//! Packs: many small files stored as one object, each readable on its own.
//!
//! A small object costs what its contract costs: `k + m` fragments (each at
//! least a chunk), and `k + m` storage proofs every period, whatever its
//! size. `sherd storage put DIR` stores a directory as one pack instead:
//!
//! ```text
//! "SHERDPK1" ‖ u64_le(index_len) ‖ index (JSON, index_len bytes) ‖ data
//! index = { "version": 1, "files": [ { "path": "a/b.txt", "offset": 0, "size": 1024 }, … ] }
//! ```
//!
//! `offset` counts from the start of `data`; files follow each other in
//! index order. Paths are relative, `/`-separated, with no `.`, `..` or
//! empty component. One file is read by fetching only the stripes that
//! hold the header and then its bytes (a ranged read, see
//! [`crate::client::range`]), so a 1 KiB file of a 10,000-file pack costs
//! about two stripes, not the pack.

use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The first bytes of every pack.
pub const MAGIC: &[u8; 8] = b"SHERDPK1";
/// The pack format version (in the index).
pub const VERSION: u8 = 1;
/// Bytes before the index: magic and its length.
pub const PREFIX_LEN: u64 = 16;
/// The largest index read, in bytes.
pub const MAX_INDEX: u64 = 64 << 20;

/// One file of a pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackedFile {
    /// Its path in the directory, `/`-separated.
    pub path: String,
    /// Where its bytes start, from the start of the data.
    pub offset: u64,
    /// Its size.
    pub size: u64,
}

/// A pack's index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackIndex {
    /// [`VERSION`].
    pub version: u8,
    /// The files, in data order.
    pub files: Vec<PackedFile>,
}

/// Why a pack cannot be made or read.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Not a pack, or a damaged one.
    #[error("not a valid pack: {0}")]
    Invalid(String),
    /// A path that would leave the directory, or cannot be stored.
    #[error("path `{0}` cannot be in a pack: {1}")]
    BadPath(String, &'static str),
    /// The directory holds nothing to store.
    #[error("{0} holds no file to store")]
    Empty(PathBuf),
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> PackError + '_ {
    move |source| PackError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks a stored path and answers it as a relative path.
pub fn safe_path(path: &str) -> Result<PathBuf, PackError> {
    let bad = |why| PackError::BadPath(path.to_string(), why);
    if path.is_empty() {
        return Err(bad("it is empty"));
    }
    if path.contains('\\') || path.contains('\0') {
        return Err(bad("it holds a backslash or a NUL"));
    }
    let mut out = PathBuf::new();
    for part in path.split('/') {
        match part {
            "" | "." | ".." => return Err(bad("it has an empty, `.` or `..` component")),
            part => out.push(part),
        }
    }
    if out.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(bad("it is not a plain relative path"));
    }
    Ok(out)
}

/// The regular files under `dir`, recursively, as (stored path, path on
/// disk, size), sorted by stored path. Symbolic links and other special
/// files are refused, so a pack holds what the directory holds.
pub fn scan(dir: &Path) -> Result<Vec<(String, PathBuf, u64)>, PackError> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(at) = todo.pop() {
        for entry in std::fs::read_dir(&at).map_err(io_at(&at))? {
            let entry = entry.map_err(io_at(&at))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io_at(&path))?;
            if kind.is_dir() {
                todo.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(dir)
                .ok()
                .and_then(|r| r.to_str())
                .map(|r| r.replace(std::path::MAIN_SEPARATOR, "/"))
                .ok_or_else(|| {
                    PackError::BadPath(path.display().to_string(), "its name is not UTF-8")
                })?;
            if !kind.is_file() {
                return Err(PackError::BadPath(
                    rel,
                    "it is a symbolic link or a special file",
                ));
            }
            safe_path(&rel)?;
            let size = entry.metadata().map_err(io_at(&path))?.len();
            out.push((rel, path, size));
        }
    }
    if out.is_empty() {
        return Err(PackError::Empty(dir.to_path_buf()));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Writes the pack of `files` (from [`scan`]) to `out`; answers its index.
/// A file whose size changed since the scan is refused.
pub fn write_pack<W: Write>(
    files: &[(String, PathBuf, u64)],
    out: &mut W,
) -> Result<PackIndex, PackError> {
    let mut offset = 0u64;
    let index = PackIndex {
        version: VERSION,
        files: files
            .iter()
            .map(|(path, _, size)| {
                let f = PackedFile {
                    path: path.clone(),
                    offset,
                    size: *size,
                };
                offset = offset.saturating_add(*size);
                f
            })
            .collect(),
    };
    let json = serde_json::to_vec(&index).map_err(|e| PackError::Invalid(e.to_string()))?;
    let here = Path::new("the pack");
    out.write_all(MAGIC).map_err(io_at(here))?;
    out.write_all(&(json.len() as u64).to_le_bytes())
        .map_err(io_at(here))?;
    out.write_all(&json).map_err(io_at(here))?;
    for (_, path, size) in files {
        let file = std::fs::File::open(path).map_err(io_at(path))?;
        let copied = io::copy(&mut file.take(size.saturating_add(1)), out).map_err(io_at(path))?;
        if copied != *size {
            return Err(PackError::Io {
                path: path.clone(),
                source: io::Error::other(format!(
                    "it changed while it was packed ({size} bytes, then {copied})"
                )),
            });
        }
    }
    Ok(index)
}

/// The index length a pack's first [`PREFIX_LEN`] bytes announce.
pub fn index_len(prefix: &[u8]) -> Result<u64, PackError> {
    if prefix.len() < PREFIX_LEN as usize || &prefix[..8] != MAGIC {
        return Err(PackError::Invalid("it does not start with SHERDPK1".into()));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&prefix[8..16]);
    let len = u64::from_le_bytes(len);
    if len > MAX_INDEX {
        return Err(PackError::Invalid(format!(
            "an index of {len} bytes is over the {MAX_INDEX} read"
        )));
    }
    Ok(len)
}

/// Parses and checks an index: version, safe paths, files in order and
/// inside `data_len` bytes of data.
pub fn parse_index(bytes: &[u8], data_len: u64) -> Result<PackIndex, PackError> {
    let index: PackIndex =
        serde_json::from_slice(bytes).map_err(|e| PackError::Invalid(e.to_string()))?;
    if index.version != VERSION {
        return Err(PackError::Invalid(format!(
            "version {} (this build reads {VERSION})",
            index.version
        )));
    }
    let mut next = 0u64;
    for f in &index.files {
        safe_path(&f.path)?;
        let end = f.offset.checked_add(f.size);
        if f.offset != next || end.is_none_or(|e| e > data_len) {
            return Err(PackError::Invalid(format!(
                "file {} lies outside the data or out of order",
                f.path
            )));
        }
        next = f.offset + f.size;
    }
    Ok(index)
}

/// Unpacks a whole pack read from `pack` (of `len` bytes) into `dir`,
/// which must not exist: it is created, and removed again if anything
/// fails.
pub fn unpack<R: Read>(pack: &mut R, len: u64, dir: &Path) -> Result<PackIndex, PackError> {
    let here = Path::new("the pack");
    let mut prefix = [0u8; PREFIX_LEN as usize];
    pack.read_exact(&mut prefix).map_err(io_at(here))?;
    let index_len = index_len(&prefix)?;
    let mut json = vec![0u8; index_len as usize];
    pack.read_exact(&mut json).map_err(io_at(here))?;
    let data_len = len
        .checked_sub(PREFIX_LEN + index_len)
        .ok_or_else(|| PackError::Invalid("it is shorter than its index".into()))?;
    let index = parse_index(&json, data_len)?;
    std::fs::create_dir(dir).map_err(io_at(dir))?;
    let written = (|| {
        for f in &index.files {
            let path = dir.join(safe_path(&f.path)?);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io_at(parent))?;
            }
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(io_at(&path))?;
            let copied =
                io::copy(&mut pack.by_ref().take(f.size), &mut out).map_err(io_at(&path))?;
            if copied != f.size {
                return Err(PackError::Invalid(format!("{} is cut short", f.path)));
            }
            out.sync_all().map_err(io_at(&path))?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(dir);
        return Err(e);
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_packs_and_unpacks_to_the_same_files() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
        std::fs::write(src.join("a.txt"), b"alpha").unwrap();
        std::fs::write(src.join("sub/b.bin"), vec![7u8; 3000]).unwrap();
        std::fs::write(src.join("sub/deeper/empty"), b"").unwrap();
        let files = scan(&src).unwrap();
        let mut pack = Vec::new();
        let index = write_pack(&files, &mut pack).unwrap();
        assert_eq!(index.files.len(), 3);
        assert_eq!(index.files[1].path, "sub/b.bin");
        let out = dir.path().join("out");
        unpack(&mut &pack[..], pack.len() as u64, &out).unwrap();
        assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), b"alpha");
        assert_eq!(
            std::fs::read(out.join("sub/b.bin")).unwrap(),
            vec![7u8; 3000]
        );
        assert_eq!(std::fs::read(out.join("sub/deeper/empty")).unwrap(), b"");
    }

    #[test]
    fn paths_that_leave_the_directory_and_damaged_packs_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\\b",
        ] {
            assert!(safe_path(bad).is_err(), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        // An index that points outside its data, or escapes: refused, and
        // the output directory is not left behind.
        for files in [
            r#"{"version":1,"files":[{"path":"a","offset":0,"size":99}]}"#,
            r#"{"version":1,"files":[{"path":"../a","offset":0,"size":1}]}"#,
        ] {
            let mut pack = MAGIC.to_vec();
            pack.extend((files.len() as u64).to_le_bytes());
            pack.extend(files.as_bytes());
            pack.push(1);
            let out = dir.path().join("out");
            assert!(unpack(&mut &pack[..], pack.len() as u64, &out).is_err());
            assert!(!out.exists());
        }
        assert!(index_len(b"NOTAPACK\0\0\0\0\0\0\0\0").is_err());
        let mut huge = MAGIC.to_vec();
        huge.extend(u64::MAX.to_le_bytes());
        assert!(index_len(&huge).is_err());
    }
}
