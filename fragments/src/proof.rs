//! Storage proofs: challenge derivation, proving a chunk, verifying a proof.
//!
//! A proof for chunk `j` of a fragment of `n_chunks` chunks is the chunk's
//! 1024 bytes followed by sibling hashes, bottom-up: first the chaining values
//! of the chunk's BLAKE3 subtree siblings inside its group, then the sibling
//! group/node hashes of the fragment's Merkle tree. How many of each there are
//! follows from `(n_chunks, j)`, so the encoding carries no lengths.

use blake3::hazmat::{merge_subtrees_non_root, merge_subtrees_root, HasherExt, Mode};

use crate::{
    commit::{group_key, level_sizes, node_hash, Hash},
    CHUNK_SIZE, GROUP_CHUNKS,
};

/// Prefix of the challenge derivation's input.
pub const CHALLENGE_TAG: &[u8] = b"sherd/challenge";

/// The chunk a provider must prove for contract `contract_id`, fragment
/// `fragment_index`, proof period `period` under beacon `beacon`:
/// `u64_le(BLAKE3("sherd/challenge" ‖ beacon ‖ contract_id ‖ u32_le(fragment_index) ‖ u64_le(period))[0..8]) mod n_chunks`.
/// `None` when `n_chunks` is zero.
pub fn challenge_index(
    beacon: &Hash,
    contract_id: &Hash,
    fragment_index: u32,
    period: u64,
    n_chunks: u64,
) -> Option<u64> {
    if n_chunks == 0 {
        return None;
    }
    let mut hasher = blake3::Hasher::new();
    hasher
        .update(CHALLENGE_TAG)
        .update(beacon)
        .update(contract_id)
        .update(&fragment_index.to_le_bytes())
        .update(&period.to_le_bytes());
    let digest = hasher.finalize();
    let mut word = [0u8; 8];
    word.copy_from_slice(&digest.as_bytes()[..8]);
    Some(u64::from_le_bytes(word) % n_chunks)
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The fragment has no chunks.
    #[error("a fragment has at least one chunk; n_chunks is 0")]
    NoChunks,
    /// The challenged index is past the fragment's end.
    #[error("chunk index {index} is out of range for a fragment of {n_chunks} chunks")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// Chunks in the fragment.
        n_chunks: u64,
    },
    /// The chunk is not 1024 bytes.
    #[error("a proof's chunk is {CHUNK_SIZE} bytes, this one is {found}")]
    ChunkLength {
        /// Bytes found.
        found: usize,
    },
    /// The number of sibling hashes is not what the tree's shape requires.
    #[error("chunk {index} of {n_chunks} needs {expected} sibling hashes, the proof has {found}")]
    SiblingCount {
        /// The index proven.
        index: u64,
        /// Chunks in the fragment.
        n_chunks: u64,
        /// Siblings the shape requires.
        expected: usize,
        /// Siblings in the proof.
        found: usize,
    },
    /// The encoded proof has a length no proof can have.
    #[error(
        "an encoded proof is {CHUNK_SIZE} bytes plus 32 per sibling hash; {found} bytes is not"
    )]
    EncodedLength {
        /// Bytes found.
        found: usize,
    },
    /// Everything is well-formed but the hashes lead elsewhere.
    #[error("the proof leads to root {computed}, not to the fragment root {expected}")]
    RootMismatch {
        /// The root the proof computes, hex.
        computed: String,
        /// The root it should reach, hex.
        expected: String,
    },
}

/// A chunk of a fragment and the sibling hashes that tie it to the fragment root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The chunk's bytes.
    pub chunk: Vec<u8>,
    /// Sibling hashes, bottom-up: in-group chaining values, then tree nodes.
    pub siblings: Vec<Hash>,
}

impl Proof {
    /// The canonical encoding: chunk, then siblings.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.chunk.len() + 32 * self.siblings.len());
        out.extend_from_slice(&self.chunk);
        for sibling in &self.siblings {
            out.extend_from_slice(sibling);
        }
        out
    }

    /// Decodes [`Proof::to_bytes`]. Whether the sibling count fits a given
    /// fragment is checked by [`verify`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProofError> {
        if bytes.len() < CHUNK_SIZE || (bytes.len() - CHUNK_SIZE) % 32 != 0 {
            return Err(ProofError::EncodedLength { found: bytes.len() });
        }
        let (chunk, rest) = bytes.split_at(CHUNK_SIZE);
        let siblings = rest
            .chunks_exact(32)
            .map(|s| {
                let mut hash = [0u8; 32];
                hash.copy_from_slice(s);
                hash
            })
            .collect();
        Ok(Self {
            chunk: chunk.to_vec(),
            siblings,
        })
    }
}

/// The shape of the path from one chunk to the fragment root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PathShape {
    /// The chunk's group.
    pub group: u64,
    /// Chunks in that group (1..=16).
    pub group_chunks: u64,
    /// The chunk's position in its group.
    pub position: u64,
    /// Groups in the fragment.
    pub groups: u64,
}

impl PathShape {
    pub(crate) fn new(n_chunks: u64, index: u64) -> Result<Self, ProofError> {
        if n_chunks == 0 {
            return Err(ProofError::NoChunks);
        }
        if index >= n_chunks {
            return Err(ProofError::IndexOutOfRange { index, n_chunks });
        }
        let group = index / GROUP_CHUNKS;
        Ok(Self {
            group,
            group_chunks: (n_chunks - group * GROUP_CHUNKS).min(GROUP_CHUNKS),
            position: index % GROUP_CHUNKS,
            groups: n_chunks.div_ceil(GROUP_CHUNKS),
        })
    }

    /// The splits of the group's BLAKE3 tree on the way down to the chunk,
    /// top-down: `(sibling_start, sibling_end, chunk_is_left)` in chunks.
    pub(crate) fn group_splits(&self) -> impl Iterator<Item = (u64, u64, bool)> {
        let (mut lo, mut hi, target) = (0, self.group_chunks, self.position);
        std::iter::from_fn(move || {
            if hi - lo <= 1 {
                return None;
            }
            // BLAKE3's left subtree is the largest power of two below the total.
            let split = lo + (1u64 << (63 - (hi - lo - 1).leading_zeros()));
            Some(if target < split {
                let step = (split, hi, true);
                hi = split;
                step
            } else {
                let step = (lo, split, false);
                lo = split;
                step
            })
        })
    }

    /// The tree levels at which the group's ancestors have a sibling, bottom-up:
    /// `(level, sibling index)`.
    pub(crate) fn tree_siblings(&self) -> impl Iterator<Item = (usize, u64, bool)> {
        let mut index = self.group;
        level_sizes(self.groups)
            .enumerate()
            .take_while(|&(_, size)| size > 1)
            .filter_map(move |(level, size)| {
                let here = index;
                index /= 2;
                let sibling = here ^ 1;
                (sibling < size).then_some((level, sibling, here % 2 == 0))
            })
    }

    pub(crate) fn sibling_count(&self) -> usize {
        self.group_splits().count() + self.tree_siblings().count()
    }
}

/// Bytes of the encoded proof of chunk `index` of a fragment of `n_chunks`
/// chunks: 1024 plus 32 per sibling hash.
pub fn proof_len(n_chunks: u64, index: u64) -> Result<usize, ProofError> {
    Ok(CHUNK_SIZE + 32 * PathShape::new(n_chunks, index)?.sibling_count())
}

/// Checks `proof` for chunk `index` of a fragment of `n_chunks` chunks whose
/// root is `root`, and says what is wrong when it fails.
pub fn check(root: &Hash, n_chunks: u64, index: u64, proof: &Proof) -> Result<(), ProofError> {
    let shape = PathShape::new(n_chunks, index)?;
    if proof.chunk.len() != CHUNK_SIZE {
        return Err(ProofError::ChunkLength {
            found: proof.chunk.len(),
        });
    }
    // Top-down splits of the group tree; at most 4 for 16-chunk groups.
    let mut splits = [(0u64, 0u64, false); 8];
    let mut depth = 0;
    for split in shape.group_splits() {
        splits[depth] = split;
        depth += 1;
    }
    let tree_count = shape.tree_siblings().count();
    if proof.siblings.len() != depth + tree_count {
        return Err(ProofError::SiblingCount {
            index,
            n_chunks,
            expected: depth + tree_count,
            found: proof.siblings.len(),
        });
    }
    let (in_group, in_tree) = proof.siblings.split_at(depth);

    let key = group_key();
    let mut hasher = blake3::Hasher::new_from_context_key(key);
    let mut node = if depth == 0 {
        *hasher.update(&proof.chunk).finalize().as_bytes()
    } else {
        hasher.set_input_offset(shape.position * CHUNK_SIZE as u64);
        let mut cv = hasher.update(&proof.chunk).finalize_non_root();
        for (level, sibling) in in_group.iter().enumerate() {
            let (_, _, chunk_is_left) = splits[depth - 1 - level];
            let (left, right) = if chunk_is_left {
                (&cv, sibling)
            } else {
                (sibling, &cv)
            };
            cv = if level + 1 == depth {
                *merge_subtrees_root(left, right, Mode::DeriveKeyMaterial(key)).as_bytes()
            } else {
                merge_subtrees_non_root(left, right, Mode::DeriveKeyMaterial(key))
            };
        }
        cv
    };
    for ((_, _, is_left), sibling) in shape.tree_siblings().zip(in_tree) {
        node = if is_left {
            node_hash(&node, sibling)
        } else {
            node_hash(sibling, &node)
        };
    }
    if node == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch {
            computed: hex::encode(node),
            expected: hex::encode(root),
        })
    }
}

/// Whether `proof` shows chunk `index` of the fragment with root `root` and
/// `n_chunks` chunks. Pure and cheap: one chunk hash and `O(log n_chunks)` merges.
pub fn verify(root: &Hash, n_chunks: u64, index: u64, proof: &Proof) -> bool {
    check(root, n_chunks, index, proof).is_ok()
}

/// The in-group siblings of chunk `shape.position`, bottom-up, computed from
/// the bytes of its whole group.
pub(crate) fn group_siblings(shape: &PathShape, group: &[u8]) -> Vec<Hash> {
    let key = group_key();
    let mut out: Vec<Hash> = shape
        .group_splits()
        .map(|(start, end, _)| {
            let from = (start as usize) * CHUNK_SIZE;
            let to = ((end as usize) * CHUNK_SIZE).min(group.len());
            let mut hasher = blake3::Hasher::new_from_context_key(key);
            hasher.set_input_offset(start * CHUNK_SIZE as u64);
            hasher.update(&group[from..to]).finalize_non_root()
        })
        .collect();
    out.reverse();
    out
}

/// Proves chunk `index` of a fragment held in memory, given its tree levels
/// (as [`crate::commit::tree_levels`] builds them). For tests: providers
/// prove from fragment files with [`crate::file::prove`], which also checks
/// its answer.
#[cfg(test)]
pub(crate) fn prove_in_memory(
    fragment: &[u8],
    levels: &[Vec<Hash>],
    index: u64,
) -> Result<Proof, ProofError> {
    let n_chunks = (fragment.len() / CHUNK_SIZE) as u64;
    let shape = PathShape::new(n_chunks, index)?;
    let start = (shape.group * GROUP_CHUNKS) as usize * CHUNK_SIZE;
    let group = &fragment[start..(start + shape.group_chunks as usize * CHUNK_SIZE)];
    let mut siblings = group_siblings(&shape, group);
    for (level, sibling, _) in shape.tree_siblings() {
        siblings.push(levels[level][sibling as usize]);
    }
    let position = shape.position as usize * CHUNK_SIZE;
    Ok(Proof {
        chunk: group[position..position + CHUNK_SIZE].to_vec(),
        siblings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commit::{group_hash, tree_levels, NodeHasher};

    fn fragment(chunks: usize) -> Vec<u8> {
        (0..chunks * CHUNK_SIZE)
            .map(|i| (i * 7 + i / 1024) as u8)
            .collect()
    }

    fn levels_of(fragment: &[u8]) -> Vec<Vec<Hash>> {
        let leaves: Vec<Hash> = fragment.chunks(crate::GROUP_SIZE).map(group_hash).collect();
        tree_levels(&leaves)
    }

    #[test]
    fn every_chunk_proves_and_verifies_for_many_shapes() {
        for chunks in [1, 2, 3, 5, 15, 16, 17, 31, 33, 48, 49, 100] {
            let data = fragment(chunks);
            let levels = levels_of(&data);
            let root = levels.last().unwrap()[0];
            for index in 0..chunks as u64 {
                let proof = prove_in_memory(&data, &levels, index).unwrap();
                assert_eq!(
                    check(&root, chunks as u64, index, &proof),
                    Ok(()),
                    "{chunks}/{index}"
                );
                let shape = PathShape::new(chunks as u64, index).unwrap();
                assert_eq!(proof.siblings.len(), shape.sibling_count());
                assert_eq!(Proof::from_bytes(&proof.to_bytes()).unwrap(), proof);
            }
        }
    }

    #[test]
    fn tree_part_agrees_with_rs_merkle_proofs() {
        let data = fragment(16 * 37);
        let leaves: Vec<Hash> = data.chunks(crate::GROUP_SIZE).map(group_hash).collect();
        let tree = rs_merkle::MerkleTree::<NodeHasher>::from_leaves(&leaves);
        let levels = tree_levels(&leaves);
        for group in 0..leaves.len() {
            let ours = prove_in_memory(&data, &levels, group as u64 * 16 + 3).unwrap();
            let theirs = tree.proof(&[group]);
            assert_eq!(&ours.siblings[4..], theirs.proof_hashes(), "group {group}");
            assert!(theirs.verify(
                tree.root().unwrap(),
                &[group],
                &[leaves[group]],
                leaves.len()
            ));
        }
    }

    #[test]
    fn tampered_or_misplaced_proofs_fail_with_reasons() {
        let data = fragment(40);
        let levels = levels_of(&data);
        let root = levels.last().unwrap()[0];
        let proof = prove_in_memory(&data, &levels, 21).unwrap();

        for byte in [0, 511, 1023] {
            let mut bad = proof.clone();
            bad.chunk[byte] ^= 0x80;
            assert!(matches!(
                check(&root, 40, 21, &bad),
                Err(ProofError::RootMismatch { .. })
            ));
        }
        for s in 0..proof.siblings.len() {
            let mut bad = proof.clone();
            bad.siblings[s][5] ^= 1;
            assert!(!verify(&root, 40, 21, &bad));
        }
        // Another index, another size, another root.
        assert!(!verify(&root, 40, 22, &proof));
        assert!(!verify(&root, 40, 5, &proof));
        assert!(!verify(&[0; 32], 40, 21, &proof));
        assert!(matches!(
            check(&root, 70, 21, &proof),
            Err(ProofError::SiblingCount { .. })
        ));
        assert_eq!(
            check(&root, 40, 40, &proof),
            Err(ProofError::IndexOutOfRange {
                index: 40,
                n_chunks: 40
            })
        );
        assert_eq!(check(&root, 0, 0, &proof), Err(ProofError::NoChunks));
        let mut short = proof.clone();
        short.siblings.pop();
        assert!(matches!(
            check(&root, 40, 21, &short),
            Err(ProofError::SiblingCount { .. })
        ));
        let mut cut = proof.clone();
        cut.chunk.pop();
        assert_eq!(
            check(&root, 40, 21, &cut),
            Err(ProofError::ChunkLength { found: 1023 })
        );
        assert!(Proof::from_bytes(&proof.to_bytes()[1..]).is_err());
    }

    #[test]
    fn challenges_are_spread_and_bounded() {
        assert_eq!(challenge_index(&[1; 32], &[2; 32], 3, 4, 0), None);
        let mut seen = std::collections::HashSet::new();
        for period in 0..200 {
            let i = challenge_index(&[1; 32], &[2; 32], 3, period, 64).unwrap();
            assert!(i < 64);
            seen.insert(i);
        }
        assert!(
            seen.len() > 50,
            "200 periods hit only {} of 64 chunks",
            seen.len()
        );
        assert_ne!(
            challenge_index(&[1; 32], &[2; 32], 3, 4, 1 << 40),
            challenge_index(&[1; 32], &[2; 32], 4, 4, 1 << 40)
        );
    }
}
