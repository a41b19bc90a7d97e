//! Encrypt, erasure-code, Merkle-commit, prove and verify the fragments of a sherd object.
//!
//! The put path is [`encode()`]: plaintext → AES-256-GCM segments → stripes of
//! `k` data shards → `m` parity shards with `reed-solomon-simd` → fragment
//! `i` is shard `i` of every stripe → a Merkle tree per fragment → one
//! [`Object`] root over all of them. The get path is [`decode()`], from any `k`
//! good fragments. Storage proofs are [`file::prove`] (provider side, reading
//! only one group and one hash per level of a fragment file) and [`verify`]
//! (anyone, pure and cheap), for the chunk [`challenge_index`] names.
//!
//! The crate does no networking and keeps no clock: it reads and writes
//! through `Read`, `Write` and [`ReadAt`] values its caller opens. The byte
//! layout of everything it hashes is specified in `fragments/README.md`.

pub mod cipher;
pub mod commit;
pub mod decode;
pub mod encode;
pub mod erasure;
pub mod file;
pub mod manifest;
pub mod params;
pub mod proof;
pub mod repair;

pub use cipher::{DecryptError, ObjectKey};
pub use commit::Hash;
pub use decode::{check_fragment, decode, DecodeError, DecodeReport, FragmentStatus};
pub use encode::{encode, encode_with_key, EncodeError};
pub use file::{FileError, Footer, ReadAt};
pub use manifest::{KeyFile, Manifest, ManifestError, Object};
pub use params::{Layout, Params, ParamsError};
pub use proof::{challenge_index, check, proof_len, verify, Proof, ProofError};
pub use repair::{RebuildError, Rebuilder};

/// Bytes of a chunk: the unit a storage challenge names.
pub const CHUNK_SIZE: usize = 1024;
/// Chunks per group: a leaf of the fragment's Merkle tree.
pub const GROUP_CHUNKS: u64 = 16;
/// Bytes of a group.
pub const GROUP_SIZE: usize = CHUNK_SIZE * GROUP_CHUNKS as usize;
/// Bytes of an AES-GCM tag at the end of every segment.
pub const TAG_LEN: usize = 16;
/// Version of the formats this crate writes (manifest, footer, object root).
pub const FORMAT_VERSION: u8 = 1;
/// Cipher identifier in binary formats: 1 is AES-256-GCM.
pub const CIPHER_ID: u8 = 1;
