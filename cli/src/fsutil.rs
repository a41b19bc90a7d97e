//! Files that appear whole or not at all, for outputs that hold no secret
//! (manifests, proofs, fragment directories); secrets are written by
//! `sherd_wallet::keyfile`.
//!
//! Every output is first written under a temporary name beside its final
//! place (`NAME.partial-PID`), synced, then renamed; on any error the
//! temporary is removed. A crash can leave a `.partial-*` behind, never a
//! half-written file under the real name.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};

/// The temporary name of `path`.
pub fn partial(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".partial-{}", std::process::id()));
    path.with_file_name(name)
}

/// Removes a temporary file or directory when dropped, unless disarmed.
/// Arm it only after this process created the path.
#[derive(Debug)]
pub struct Cleanup {
    path: Option<PathBuf>,
}

impl Cleanup {
    /// Arms a cleanup of `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path: Some(path) }
    }
    /// The work succeeded: keep the path.
    pub fn disarm(&mut self) {
        self.path = None;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
}

/// Creates a new file; an error if the path exists.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Fails unless `path` is free: absent, or (when `allow_empty_dir`) an empty directory.
pub fn ensure_free(path: &Path, allow_empty_dir: bool, what: &str) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot check {what} {}", path.display())),
        Ok(meta) if allow_empty_dir && meta.is_dir() => {
            if fs::read_dir(path)?.next().is_none() {
                Ok(())
            } else {
                bail!(
                    "{what} {} already exists and is not empty; choose another path or remove it",
                    path.display()
                )
            }
        }
        Ok(_) => bail!(
            "{what} {} already exists; choose another path or remove it",
            path.display()
        ),
    }
}

/// Writes `bytes` to `path` whole: temporary file, sync, rename. Without
/// `replace`, an existing `path` is an error. For outputs that hold no
/// secret: files that do are written with `sherd_wallet::keyfile`.
pub fn write_atomic(path: &Path, bytes: &[u8], replace: bool) -> Result<()> {
    if !replace {
        ensure_free(path, false, "file")?;
    }
    let tmp = partial(path);
    let mut file = create_new(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    // Armed only once the temporary is ours: never remove what we did not create.
    let mut guard = Cleanup::new(tmp.clone());
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    if replace {
        fs::rename(&tmp, path)
    } else {
        // A hard link fails if `path` appeared meanwhile: never clobber.
        fs::hard_link(&tmp, path).and_then(|()| fs::remove_file(&tmp))
    }
    .with_context(|| format!("cannot move {} into place", path.display()))?;
    guard.disarm();
    sync_parent(path);
    Ok(())
}

/// Syncs the directory holding `path`, so a rename survives a crash.
pub fn sync_parent(path: &Path) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_temporary_name_is_left_alone() {
        let dir = std::env::temp_dir().join(format!("sherd-fsutil-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.bin");
        let theirs = partial(&target);
        fs::create_dir(&theirs).unwrap();
        fs::write(theirs.join("precious"), b"not ours").unwrap();
        assert!(write_atomic(&target, b"data", true).is_err());
        assert_eq!(fs::read(theirs.join("precious")).unwrap(), b"not ours");
        assert!(!target.exists());

        fs::remove_dir_all(&theirs).unwrap();
        write_atomic(&target, b"data", false).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"data");
        assert!(
            write_atomic(&target, b"other", false).is_err(),
            "no clobber without replace"
        );
        assert_eq!(fs::read(&target).unwrap(), b"data");
        fs::remove_dir_all(&dir).unwrap();
    }
}
