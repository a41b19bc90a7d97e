//! The fragment file: the fragment's bytes, its Merkle tree, a footer.
//!
//! ```text
//! offset 0                 fragment data (fragment_size bytes)
//! offset fragment_size     tree levels, bottom-up, 32 bytes per hash:
//!                          ceil(n_chunks / 16) group hashes, then each parent level
//! end - 128                footer (see [`Footer`])
//! ```
//!
//! The tree lets a provider answer a challenge by reading one 16 KiB group and
//! one hash per tree level; the footer makes a file self-describing.

use std::io::{self, Write};

use crate::{
    commit::{level_sizes, Hash},
    proof::{check, group_siblings, PathShape, Proof, ProofError},
    CHUNK_SIZE, GROUP_CHUNKS,
};

/// First bytes of a fragment file's footer.
pub const FOOTER_MAGIC: &[u8; 8] = b"SHERDFRG";
/// Bytes of the footer.
pub const FOOTER_LEN: usize = 128;

/// Positional reads from a fragment's storage: a file, or bytes in memory.
pub trait ReadAt: Sync {
    /// Fills `buf` from `offset`; an error if the source ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// The source's length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Whether the source is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

#[cfg(unix)]
impl ReadAt for std::fs::File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).ok().filter(|&s| s <= self.len());
        let range = start.and_then(|s| Some(s..s.checked_add(buf.len())?));
        match range.and_then(|r| self.get(r)) {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }
    fn len(&self) -> io::Result<u64> {
        Ok(<[u8]>::len(self) as u64)
    }
}

impl ReadAt for Vec<u8> {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.as_slice().read_exact_at(buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.as_slice().len() as u64)
    }
}

/// What a fragment file says about itself.
///
/// ```text
///   0  8  magic "SHERDFRG"
///   8  1  format version (1)
///   9  1  cipher id (1 = AES-256-GCM)
///  10  2  fragment index, u16 LE
///  12  2  k, u16 LE
///  14  2  m, u16 LE
///  16  4  shard size, u32 LE
///  20  4  reserved, zero
///  24  8  object size, u64 LE
///  32  8  fragment size, u64 LE
///  40 32  fragment root
///  72 32  object root
/// 104  8  reserved, zero
/// 112 16  first 16 bytes of BLAKE3(bytes 0..112)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// Which fragment of the object this is.
    pub index: u16,
    /// `k`.
    pub data: u16,
    /// `m`.
    pub parity: u16,
    /// Full-stripe shard size.
    pub shard_size: u32,
    /// Plaintext size of the object.
    pub object_size: u64,
    /// Bytes of fragment data.
    pub fragment_size: u64,
    /// Root of this fragment's tree.
    pub fragment_root: Hash,
    /// Root of the whole object.
    pub object_root: Hash,
}

/// Why a fragment file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Reading failed.
    #[error("cannot read the fragment file: {0}")]
    Io(io::Error),
    /// The file is shorter than a footer or has the wrong size for its footer.
    #[error("the file is {found} bytes, a fragment of this object is {expected} (truncated or extended)")]
    Size {
        /// Expected bytes.
        expected: u64,
        /// Bytes found.
        found: u64,
    },
    /// The file is too short to hold a footer.
    #[error("the file is {found} bytes, too short to be a fragment file")]
    TooShort {
        /// Bytes found.
        found: u64,
    },
    /// The footer is not a sherd footer or fails its checksum.
    #[error("the footer is damaged or this is not a sherd fragment file ({0})")]
    Footer(&'static str),
    /// The stored tree does not hash to the fragment root.
    #[error("the stored Merkle tree does not match the fragment root")]
    Tree,
    /// A group of data does not match its hash.
    #[error("data of chunk group {group} (bytes {start}..{end}) does not match the fragment root")]
    Group {
        /// The damaged group.
        group: u64,
        /// First byte of the group in the fragment.
        start: u64,
        /// End of the group.
        end: u64,
    },
    /// The challenged chunk does not exist.
    #[error(transparent)]
    Request(ProofError),
    /// The proof read back does not verify: the data or the stored tree is damaged.
    #[error("the fragment file is damaged: the proof built from it does not verify ({0})")]
    Damaged(ProofError),
}

impl From<io::Error> for FileError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl Footer {
    /// The footer's bytes.
    pub fn to_bytes(&self) -> [u8; FOOTER_LEN] {
        let mut out = [0u8; FOOTER_LEN];
        out[..8].copy_from_slice(FOOTER_MAGIC);
        out[8] = crate::FORMAT_VERSION;
        out[9] = crate::CIPHER_ID;
        out[10..12].copy_from_slice(&self.index.to_le_bytes());
        out[12..14].copy_from_slice(&self.data.to_le_bytes());
        out[14..16].copy_from_slice(&self.parity.to_le_bytes());
        out[16..20].copy_from_slice(&self.shard_size.to_le_bytes());
        out[24..32].copy_from_slice(&self.object_size.to_le_bytes());
        out[32..40].copy_from_slice(&self.fragment_size.to_le_bytes());
        out[40..72].copy_from_slice(&self.fragment_root);
        out[72..104].copy_from_slice(&self.object_root);
        let sum = blake3::hash(&out[..112]);
        out[112..].copy_from_slice(&sum.as_bytes()[..16]);
        out
    }

    /// Parses and checks a footer.
    pub fn from_bytes(bytes: &[u8; FOOTER_LEN]) -> Result<Self, FileError> {
        if &bytes[..8] != FOOTER_MAGIC {
            return Err(FileError::Footer("no SHERDFRG magic"));
        }
        if blake3::hash(&bytes[..112]).as_bytes()[..16] != bytes[112..] {
            return Err(FileError::Footer("checksum mismatch"));
        }
        if bytes[8] != crate::FORMAT_VERSION || bytes[9] != crate::CIPHER_ID {
            return Err(FileError::Footer("unknown format version or cipher"));
        }
        if bytes[20..24]
            .iter()
            .chain(&bytes[104..112])
            .any(|&b| b != 0)
        {
            return Err(FileError::Footer("reserved bytes are not zero"));
        }
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let u64_at = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i..i + 8]);
            u64::from_le_bytes(w)
        };
        let mut fragment_root = [0u8; 32];
        fragment_root.copy_from_slice(&bytes[40..72]);
        let mut object_root = [0u8; 32];
        object_root.copy_from_slice(&bytes[72..104]);
        Ok(Self {
            index: u16_at(10),
            data: u16_at(12),
            parity: u16_at(14),
            shard_size: u32::from_le_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]),
            object_size: u64_at(24),
            fragment_size: u64_at(32),
            fragment_root,
            object_root,
        })
    }

    /// Chunks in the fragment.
    pub fn chunks(&self) -> u64 {
        self.fragment_size / CHUNK_SIZE as u64
    }
}

/// Bytes the tree of a fragment of `n_chunks` chunks takes in its file
/// (`None` if that overflows: no such file can exist).
pub fn tree_len(n_chunks: u64) -> Option<u64> {
    level_sizes(n_chunks.div_ceil(GROUP_CHUNKS))
        .try_fold(0u64, |sum, size| sum.checked_add(size.checked_mul(32)?))
}

/// Total bytes of a fragment file (`None` if that overflows).
pub fn file_len(fragment_size: u64) -> Option<u64> {
    fragment_size
        .checked_add(tree_len(fragment_size / CHUNK_SIZE as u64)?)?
        .checked_add(FOOTER_LEN as u64)
}

/// Writes the part of a fragment file that follows its data.
pub fn write_trailer<W: Write>(
    out: &mut W,
    levels: &[Vec<Hash>],
    footer: &Footer,
) -> io::Result<()> {
    for level in levels {
        for hash in level {
            out.write_all(hash)?;
        }
    }
    out.write_all(&footer.to_bytes())
}

/// Reads and checks the footer of a fragment file, and that the file's size fits it.
pub fn read_footer<S: ReadAt + ?Sized>(source: &S) -> Result<Footer, FileError> {
    let len = source.len()?;
    if len < FOOTER_LEN as u64 + CHUNK_SIZE as u64 {
        return Err(FileError::TooShort { found: len });
    }
    let mut bytes = [0u8; FOOTER_LEN];
    source.read_exact_at(&mut bytes, len - FOOTER_LEN as u64)?;
    let footer = Footer::from_bytes(&bytes)?;
    if footer.fragment_size == 0 || footer.fragment_size % CHUNK_SIZE as u64 != 0 {
        return Err(FileError::Footer(
            "its fragment size is not a positive multiple of 1024",
        ));
    }
    match file_len(footer.fragment_size) {
        Some(expected) if expected == len => {}
        Some(expected) => {
            return Err(FileError::Size {
                expected,
                found: len,
            })
        }
        None => return Err(FileError::Footer("its fragment size is impossibly large")),
    }
    Ok(footer)
}

/// Reads the group hashes of a fragment file and checks that they hash to `root`.
pub fn read_leaves<S: ReadAt + ?Sized>(
    source: &S,
    fragment_size: u64,
    root: &Hash,
) -> Result<Vec<Hash>, FileError> {
    let groups = (fragment_size / CHUNK_SIZE as u64).div_ceil(GROUP_CHUNKS) as usize;
    let mut bytes = vec![0u8; groups * 32];
    source.read_exact_at(&mut bytes, fragment_size)?;
    let leaves: Vec<Hash> = bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect();
    if crate::commit::merkle_root(&leaves) != *root {
        return Err(FileError::Tree);
    }
    Ok(leaves)
}

/// Proves chunk `index` of the fragment stored in `source`, reading only the
/// chunk's 16 KiB group, one hash per tree level and the footer. The proof is
/// checked against the footer's root before it is returned, so a damaged file
/// yields an error, not a proof that would fail on chain.
pub fn prove<S: ReadAt + ?Sized>(source: &S, index: u64) -> Result<(Footer, Proof), FileError> {
    let footer = read_footer(source)?;
    let n_chunks = footer.chunks();
    let shape = PathShape::new(n_chunks, index).map_err(FileError::Request)?;
    let start = shape.group * GROUP_CHUNKS * CHUNK_SIZE as u64;
    let mut group = vec![0u8; shape.group_chunks as usize * CHUNK_SIZE];
    source.read_exact_at(&mut group, start)?;
    let mut siblings = group_siblings(&shape, &group);

    let groups = n_chunks.div_ceil(GROUP_CHUNKS);
    let level_starts: Vec<u64> = level_sizes(groups)
        .scan(footer.fragment_size, |offset, size| {
            let here = *offset;
            *offset += 32 * size;
            Some(here)
        })
        .collect();
    for (level, sibling, _) in shape.tree_siblings() {
        let mut hash = [0u8; 32];
        source.read_exact_at(&mut hash, level_starts[level] + 32 * sibling)?;
        siblings.push(hash);
    }
    let position = shape.position as usize * CHUNK_SIZE;
    let proof = Proof {
        chunk: group[position..position + CHUNK_SIZE].to_vec(),
        siblings,
    };
    check(&footer.fragment_root, n_chunks, index, &proof).map_err(FileError::Damaged)?;
    Ok((footer, proof))
}
