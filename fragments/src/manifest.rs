//! The manifest: a JSON description of an encoded object.
//!
//! It names everything a decoder needs except the key: size, `k`, `m`,
//! chunk, group and shard sizes, cipher, every fragment root and the object
//! root. Loading a manifest re-derives the geometry and the object root from
//! its fields, so an edited manifest is refused instead of misread.

use serde::{Deserialize, Serialize};

use crate::{
    cipher::{ObjectKey, CIPHER_NAME},
    commit::{object_root, Hash},
    params::{Layout, Params, ParamsError},
    CHUNK_SIZE, FORMAT_VERSION, GROUP_SIZE,
};

/// Why a manifest or key file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON of the right shape.
    #[error("not valid JSON of the expected shape: {0}")]
    Json(serde_json::Error),
    /// A format version this build does not read.
    #[error("manifest format version {found} is not supported (this build reads version {FORMAT_VERSION})")]
    Version {
        /// Version found.
        found: u8,
    },
    /// A field has a value this format does not allow.
    #[error("manifest field `{field}` is {found}, expected {expected}")]
    Field {
        /// The field.
        field: &'static str,
        /// Its value.
        found: String,
        /// What it should be.
        expected: String,
    },
    /// The coding parameters are invalid.
    #[error("manifest parameters are invalid: {0}")]
    Params(ParamsError),
    /// A hash is not 64 hex digits.
    #[error("manifest field `{field}` is not a 32-byte hex hash")]
    Hash {
        /// The field.
        field: String,
    },
    /// The object root does not commit to the manifest's contents.
    #[error("the manifest's object root {stated} does not match its parameters and fragment roots ({computed}): the manifest was altered")]
    ObjectRoot {
        /// Root in the manifest.
        stated: String,
        /// Root computed from the other fields.
        computed: String,
    },
    /// The key file belongs to another object.
    #[error("the key is for object {key_object}, but the manifest describes object {object}")]
    WrongKey {
        /// Object the key file names.
        key_object: String,
        /// Object of the manifest.
        object: String,
    },
}

impl From<serde_json::Error> for ManifestError {
    fn from(e: serde_json::Error) -> Self {
        Self::Json(e)
    }
}

impl From<ParamsError> for ManifestError {
    fn from(e: ParamsError) -> Self {
        Self::Params(e)
    }
}

/// One fragment as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FragmentEntry {
    /// Index `0..k+m`; below `k` a data fragment, from `k` a parity fragment.
    pub index: u16,
    /// Merkle root of the fragment, hex.
    pub root: String,
}

/// The JSON manifest of an encoded object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version, currently 1.
    pub version: u8,
    /// Root committing to the parameters and all fragment roots, hex.
    pub object_root: String,
    /// Plaintext bytes.
    pub size: u64,
    /// `k`.
    pub data_fragments: u16,
    /// `m`.
    pub parity_fragments: u16,
    /// Cipher of the segments.
    pub cipher: String,
    /// Bytes per challenge chunk.
    pub chunk_size: u32,
    /// Bytes per chunk group (a leaf of the fragment tree).
    pub group_size: u32,
    /// Bytes of each shard of a full stripe (also the encrypted segment size).
    pub shard_size: u32,
    /// Stripes in the object.
    pub stripes: u64,
    /// Bytes of each fragment.
    pub fragment_size: u64,
    /// Chunks of each fragment.
    pub chunks: u64,
    /// Every fragment, by index.
    pub fragments: Vec<FragmentEntry>,
}

/// A manifest whose fields agree with each other, in binary form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Geometry of the object.
    pub layout: Layout,
    /// Root of each fragment, by index.
    pub fragment_roots: Vec<Hash>,
    /// The object root.
    pub root: Hash,
}

fn parse_hash(field: impl Into<String>, hex_str: &str) -> Result<Hash, ManifestError> {
    let field = field.into();
    let bytes = hex::decode(hex_str).map_err(|_| ManifestError::Hash {
        field: field.clone(),
    })?;
    bytes.try_into().map_err(|_| ManifestError::Hash { field })
}

fn expect_eq<T: PartialEq + ToString>(
    field: &'static str,
    found: T,
    expected: T,
) -> Result<(), ManifestError> {
    if found == expected {
        Ok(())
    } else {
        Err(ManifestError::Field {
            field,
            found: found.to_string(),
            expected: expected.to_string(),
        })
    }
}

impl Object {
    /// Builds the manifest of this object.
    pub fn manifest(&self) -> Manifest {
        let p = self.layout.params;
        Manifest {
            version: FORMAT_VERSION,
            object_root: hex::encode(self.root),
            size: self.layout.size,
            data_fragments: p.data() as u16,
            parity_fragments: p.parity() as u16,
            cipher: CIPHER_NAME.to_string(),
            chunk_size: CHUNK_SIZE as u32,
            group_size: GROUP_SIZE as u32,
            shard_size: p.shard_size(),
            stripes: self.layout.stripes,
            fragment_size: self.layout.fragment_size,
            chunks: self.layout.chunks(),
            fragments: self
                .fragment_roots
                .iter()
                .enumerate()
                .map(|(i, root)| FragmentEntry {
                    index: i as u16,
                    root: hex::encode(root),
                })
                .collect(),
        }
    }
}

impl Manifest {
    /// Parses a manifest from JSON and checks it; see [`Manifest::validate`].
    pub fn from_json(bytes: &[u8]) -> Result<Object, ManifestError> {
        serde_json::from_slice::<Manifest>(bytes)?.validate()
    }

    /// The manifest as pretty JSON.
    pub fn to_json(&self) -> String {
        let mut out = serde_json::to_string_pretty(self).unwrap_or_default();
        out.push('\n');
        out
    }

    /// Checks every field against the others and the object root.
    pub fn validate(&self) -> Result<Object, ManifestError> {
        if self.version != FORMAT_VERSION {
            return Err(ManifestError::Version {
                found: self.version,
            });
        }
        expect_eq("cipher", self.cipher.as_str(), CIPHER_NAME)?;
        expect_eq("chunk_size", self.chunk_size, CHUNK_SIZE as u32)?;
        expect_eq("group_size", self.group_size, GROUP_SIZE as u32)?;
        let params = Params::with_shard_size(
            self.data_fragments.into(),
            self.parity_fragments.into(),
            self.shard_size,
        )?;
        let layout = params.layout(self.size).ok_or(ManifestError::Field {
            field: "size",
            found: self.size.to_string(),
            expected: "a size of at least 1 byte that fits these parameters".into(),
        })?;
        expect_eq("stripes", self.stripes, layout.stripes)?;
        expect_eq("fragment_size", self.fragment_size, layout.fragment_size)?;
        expect_eq("chunks", self.chunks, layout.chunks())?;
        expect_eq("fragments (count)", self.fragments.len(), params.total())?;
        let mut fragment_roots = Vec::with_capacity(self.fragments.len());
        for (i, entry) in self.fragments.iter().enumerate() {
            expect_eq("fragments[].index", entry.index as usize, i)?;
            fragment_roots.push(parse_hash(format!("fragments[{i}].root"), &entry.root)?);
        }
        let stated = parse_hash("object_root", &self.object_root)?;
        let root = object_root(&layout, &fragment_roots);
        if root != stated {
            return Err(ManifestError::ObjectRoot {
                stated: self.object_root.clone(),
                computed: hex::encode(root),
            });
        }
        Ok(Object {
            layout,
            fragment_roots,
            root,
        })
    }
}

/// The JSON key file of an object. Keep it secret: it decrypts the object.
/// Its `Debug` output leaves the key out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// The object the key belongs to, hex.
    pub object_root: String,
    /// The cipher.
    pub cipher: String,
    /// The 32-byte key, hex.
    pub key: String,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile")
            .field("object_root", &self.object_root)
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

impl KeyFile {
    /// The key file of `object`.
    pub fn new(object: &Object, key: &ObjectKey) -> Self {
        Self {
            object_root: hex::encode(object.root),
            cipher: CIPHER_NAME.to_string(),
            key: hex::encode(key.as_bytes()),
        }
    }

    /// Parses a key file and checks that it belongs to `object`.
    pub fn key_for(bytes: &[u8], object: &Object) -> Result<ObjectKey, ManifestError> {
        let file: KeyFile = serde_json::from_slice(bytes)?;
        expect_eq("cipher", file.cipher.as_str(), CIPHER_NAME)?;
        let key = parse_hash("key", &file.key)?;
        let key_object = parse_hash("object_root", &file.object_root)?;
        if key_object != object.root {
            return Err(ManifestError::WrongKey {
                key_object: file.object_root,
                object: hex::encode(object.root),
            });
        }
        Ok(ObjectKey::from_bytes(key))
    }

    /// The key file as pretty JSON.
    pub fn to_json(&self) -> String {
        let mut out = serde_json::to_string_pretty(self).unwrap_or_default();
        out.push('\n');
        out
    }
}
