//! Fragment commitments: group hashes, the Merkle tree over them, the object root.
//!
//! The exact construction is specified in `fragments/README.md`; in short:
//!
//! * a fragment is split into 1 KiB chunks, 16 consecutive chunks form a group;
//! * a group's hash is BLAKE3 in derive-key mode with context
//!   [`GROUP_CONTEXT`] over the group's bytes (so a 1 KiB chunk can later be
//!   proven with the 4 chaining values of its BLAKE3 subtree siblings);
//! * the fragment root is the `rs_merkle` root over the group hashes, with
//!   inner nodes `BLAKE3-keyed(K_node, left ‖ right)` where
//!   `K_node = BLAKE3(`[`NODE_CONTEXT`]`)`, and an odd last node carried up to
//!   the next level unchanged;
//! * the object root is BLAKE3 in derive-key mode with context
//!   [`OBJECT_CONTEXT`] over the parameters and the Merkle root of the
//!   fragment roots.

use std::sync::OnceLock;

use blake3::hazmat::{hash_derive_key_context, ContextKey, HasherExt};

use crate::{params::Layout, GROUP_SIZE};

/// A 32-byte BLAKE3 digest.
pub type Hash = [u8; 32];

/// BLAKE3 derive-key context of group hashes.
pub const GROUP_CONTEXT: &str = "sherd 2026-11-23 fragment chunk group v1";
/// BLAKE3 derive-key context of object roots.
pub const OBJECT_CONTEXT: &str = "sherd 2026-11-23 object root v1";
/// The string whose BLAKE3 hash keys inner Merkle nodes.
pub const NODE_CONTEXT: &str = "sherd 2026-11-23 merkle node v1";

/// The context key of [`GROUP_CONTEXT`], derived once.
pub(crate) fn group_key() -> &'static ContextKey {
    static KEY: OnceLock<ContextKey> = OnceLock::new();
    KEY.get_or_init(|| hash_derive_key_context(GROUP_CONTEXT))
}

/// The hash of one group (up to 16 chunks) of a fragment.
pub fn group_hash(group: &[u8]) -> Hash {
    *blake3::Hasher::new_from_context_key(group_key())
        .update(group)
        .finalize()
        .as_bytes()
}

/// Appends the hashes of the groups of `shard` to `out`. `shard` starts on a
/// group boundary of its fragment.
pub(crate) fn hash_groups(shard: &[u8], out: &mut Vec<Hash>) {
    out.extend(shard.chunks(GROUP_SIZE).map(group_hash));
}

/// `K_node`, the key of inner nodes, derived once.
fn node_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| *blake3::hash(NODE_CONTEXT.as_bytes()).as_bytes())
}

/// An inner node of a Merkle tree: `BLAKE3-keyed(K_node, left ‖ right)`.
///
/// Keyed mode separates nodes from leaves (which are hashed in derive-key
/// mode) without a prefix byte, so a node is 64 bytes: one BLAKE3
/// compression. A `0x01`-prefixed 65-byte input takes two, and node hashes
/// are most of a proof verification's cost (73 ns against 191 ns measured).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut input = [0u8; 64];
    input[..32].copy_from_slice(left);
    input[32..].copy_from_slice(right);
    *blake3::keyed_hash(node_key(), &input).as_bytes()
}

/// The `rs_merkle` hasher of sherd trees: leaves are supplied already hashed,
/// inner nodes are [`node_hash`], an odd node is carried up.
#[derive(Debug, Clone, Copy)]
pub struct NodeHasher;

impl rs_merkle::Hasher for NodeHasher {
    type Hash = Hash;

    fn hash(data: &[u8]) -> Hash {
        *blake3::keyed_hash(node_key(), data).as_bytes()
    }

    fn concat_and_hash(left: &Hash, right: Option<&Hash>) -> Hash {
        match right {
            Some(right) => node_hash(left, right),
            None => *left,
        }
    }
}

/// Sizes of the levels of a tree over `leaves` leaves, bottom-up; the last
/// level holds the root.
pub fn level_sizes(leaves: u64) -> impl Iterator<Item = u64> {
    let mut next = Some(leaves.max(1));
    std::iter::from_fn(move || {
        let size = next?;
        next = (size > 1).then(|| size.div_ceil(2));
        Some(size)
    })
}

/// Every level of the Merkle tree over `leaves`, bottom-up, built with
/// `rs_merkle`. The last level holds only the root.
pub fn tree_levels(leaves: &[Hash]) -> Vec<Vec<Hash>> {
    match rs_merkle::PartialTree::<NodeHasher>::from_leaves(leaves) {
        Ok(tree) if !leaves.is_empty() => {
            let mut levels = tree.layer_nodes();
            // rs_merkle repeats the root level when the leaf count is a power
            // of two (and for one leaf): keep the first level of size one.
            if let Some(top) = levels.iter().position(|l| l.len() == 1) {
                levels.truncate(top + 1);
            }
            levels
        }
        _ => vec![Vec::new()],
    }
}

/// The root of the Merkle tree over `leaves` (all zeros for no leaves).
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    rs_merkle::MerkleTree::<NodeHasher>::from_leaves(leaves)
        .root()
        .unwrap_or_default()
}

/// The root that commits to an object: its parameters and all fragment roots.
pub fn object_root(layout: &Layout, fragment_roots: &[Hash]) -> Hash {
    let key = hash_derive_key_context(OBJECT_CONTEXT);
    let mut hasher = blake3::Hasher::new_from_context_key(&key);
    hasher.update(&object_preimage(layout));
    hasher.update(&merkle_root(fragment_roots));
    *hasher.finalize().as_bytes()
}

/// The 32 parameter bytes that open the object root's input.
fn object_preimage(layout: &Layout) -> [u8; 32] {
    let p = layout.params;
    let mut out = [0u8; 32];
    out[0] = crate::FORMAT_VERSION;
    out[1] = crate::CIPHER_ID;
    out[2..4].copy_from_slice(&(p.data() as u16).to_le_bytes());
    out[4..6].copy_from_slice(&(p.parity() as u16).to_le_bytes());
    out[6..8].copy_from_slice(&(crate::CHUNK_SIZE as u16).to_le_bytes());
    out[8..12].copy_from_slice(&(GROUP_SIZE as u32).to_le_bytes());
    out[12..16].copy_from_slice(&p.shard_size().to_le_bytes());
    out[16..24].copy_from_slice(&layout.size.to_le_bytes());
    out[24..32].copy_from_slice(&layout.fragment_size.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_match_rs_merkle_and_carry_odd_nodes_up() {
        for n in 1..40u8 {
            let leaves: Vec<Hash> = (0..n).map(|i| [i; 32]).collect();
            let levels = tree_levels(&leaves);
            let sizes: Vec<u64> = level_sizes(n as u64).collect();
            assert_eq!(
                levels.iter().map(|l| l.len() as u64).collect::<Vec<_>>(),
                sizes
            );
            assert_eq!(levels.last().unwrap()[0], merkle_root(&leaves));
            // Recompute by hand: pairs hashed, an odd last node carried up.
            let mut level = leaves.clone();
            while level.len() > 1 {
                level = level
                    .chunks(2)
                    .map(|p| {
                        if p.len() == 2 {
                            node_hash(&p[0], &p[1])
                        } else {
                            p[0]
                        }
                    })
                    .collect();
            }
            assert_eq!(level[0], merkle_root(&leaves));
        }
    }

    #[test]
    fn group_hash_is_blake3_derive_key() {
        let data = vec![7u8; 5000];
        let expected = blake3::Hasher::new_derive_key(GROUP_CONTEXT)
            .update(&data)
            .finalize();
        assert_eq!(group_hash(&data), *expected.as_bytes());
    }
}
