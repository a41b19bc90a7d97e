//! The object directory: what `sherd fragments encode` writes and `sherd
//! storage put` stages before it uploads.
//!
//! ```text
//! DIR/manifest.json         the manifest (fragments/README.md §7): public
//! DIR/fragment-0000.sherd   one fragment file per fragment (data, tree, footer)
//! …
//! DIR.key                   the object key (mode 0600), never inside DIR
//! ```
//!
//! Everything in `DIR` is ciphertext or public metadata, so the directory
//! can travel; the key file must not travel with it.

use std::{
    fs::{self, File, OpenOptions},
    io::{BufReader, Read},
    path::{Component, Path, PathBuf},
};

use rayon::prelude::*;
use sherd_fragments::{encode, Manifest, Object, ObjectKey, Params};

/// Name of the manifest inside an object directory.
pub const MANIFEST: &str = "manifest.json";

/// The file name of fragment `index`.
pub fn fragment_file(index: usize) -> String {
    format!("fragment-{index:04}.sherd")
}

/// What is wrong with an object directory or its inputs.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// A path that cannot be used.
    #[error("{0}")]
    Path(String),
    /// The manifest cannot be read or is not valid.
    #[error("{path}: {reason}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Encoding failed.
    #[error("cannot encode: {0}")]
    Encode(#[from] sherd_fragments::EncodeError),
    /// The disk failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ObjectError + 'a {
    move |source| ObjectError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// `DIR.key` beside the directory.
pub fn default_key_path(dir: &Path) -> PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "object".into());
    name.push(".key");
    dir.with_file_name(name)
}

/// An object directory must have a name of its own: not `.`, `..` or `/`.
pub fn check_object_dir(dir: &Path) -> Result<(), ObjectError> {
    match dir.components().next_back() {
        Some(Component::Normal(_)) => Ok(()),
        _ => Err(ObjectError::Path(format!(
            "--out {} must name a new directory, e.g. --out photo",
            dir.display()
        ))),
    }
}

/// The key file goes in an existing directory, outside the object directory.
pub fn check_key_path(key: &Path, dir: &Path) -> Result<(), ObjectError> {
    if key.starts_with(dir) {
        return Err(ObjectError::Path(format!(
            "the key file {} must not be inside the object directory {}: it would travel with the fragments",
            key.display(),
            dir.display()
        )));
    }
    let parent = match key.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(ObjectError::Path(format!(
            "cannot write the key file {}: {} is not a directory",
            key.display(),
            parent.display()
        )));
    }
    Ok(())
}

/// Reads and checks `DIR/manifest.json` (or a manifest file itself).
pub fn load_manifest(path: &Path) -> Result<Object, ObjectError> {
    let file = if path.is_dir() {
        path.join(MANIFEST)
    } else {
        path.to_path_buf()
    };
    let bytes = fs::read(&file).map_err(|e| ObjectError::Manifest {
        path: file.clone(),
        reason: format!(
            "cannot read the manifest ({e}): is this a directory made by `sherd fragments encode`?"
        ),
    })?;
    Manifest::from_json(&bytes).map_err(|e| ObjectError::Manifest {
        path: file,
        reason: format!("not a usable manifest: {e}"),
    })
}

/// Opens the fragment files of an object. A file that is absent is `None`;
/// one that cannot be opened is `None` with a warning in the second list:
/// like a lost fragment, the others may still rebuild the object.
pub fn open_fragments(dir: &Path, object: &Object) -> (Vec<Option<File>>, Vec<String>) {
    let mut warnings = Vec::new();
    let files = (0..object.layout.params.total())
        .map(|i| {
            let path = dir.join(fragment_file(i));
            match File::open(&path) {
                Ok(file) => Some(file),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    warnings.push(format!(
                        "cannot open {} ({e}): treating fragment {i} as missing",
                        path.display()
                    ));
                    None
                }
            }
        })
        .collect();
    (files, warnings)
}

/// Encrypts and encodes `size` bytes of `input` into fragment files in the
/// existing, empty directory `dir`, fsyncs them, and answers the object and
/// its fresh key. The manifest is the caller's to write
/// ([`Object::manifest`]), like the key.
pub fn encode_into<R: Read + Send>(
    input: R,
    size: u64,
    params: Params,
    dir: &Path,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<(Object, ObjectKey), ObjectError> {
    let mut files = (0..params.total())
        .map(|i| {
            let path = dir.join(fragment_file(i));
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(io("cannot create", &path))
        })
        .collect::<Result<Vec<File>, ObjectError>>()?;
    let (object, key) = encode(
        BufReader::with_capacity(1 << 20, input),
        size,
        params,
        &mut files,
        progress,
    )?;
    files
        .par_iter()
        .try_for_each(|f| f.sync_all())
        .map_err(io("cannot sync the fragment files in", dir))?;
    Ok((object, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked() {
        assert!(check_object_dir(Path::new("photo")).is_ok());
        assert!(check_object_dir(Path::new("..")).is_err());
        assert!(check_object_dir(Path::new("/")).is_err());
        assert_eq!(
            default_key_path(Path::new("a/photo")),
            PathBuf::from("a/photo.key")
        );
        assert!(check_key_path(Path::new("photo/x.key"), Path::new("photo")).is_err());
        assert!(check_key_path(Path::new("nowhere-dir/x.key"), Path::new("photo")).is_err());
    }

    #[test]
    fn encodes_into_a_directory_that_decodes() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
        let (object, key) = encode_into(
            &data[..],
            data.len() as u64,
            Params::new(3, 2).unwrap(),
            dir.path(),
            &mut |_| {},
        )
        .unwrap();
        fs::write(dir.path().join(MANIFEST), object.manifest().to_json()).unwrap();
        let loaded = load_manifest(dir.path()).unwrap();
        assert_eq!(loaded.root, object.root);
        fs::remove_file(dir.path().join(fragment_file(1))).unwrap();
        let (files, warnings) = open_fragments(dir.path(), &loaded);
        assert!(warnings.is_empty());
        assert!(files[1].is_none());
        let sources: Vec<Option<&File>> = files.iter().map(Option::as_ref).collect();
        let mut out = Vec::new();
        sherd_fragments::decode(&loaded, &key, &sources, &mut out, &mut |_| {}).unwrap();
        assert_eq!(out, data);
    }
}
