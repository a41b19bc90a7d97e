//! The state commitment: an authenticated map from state keys to values
//! whose root is updated at a cost proportional to what changed.
//!
//! A block's state writes go through [`update`], whose node writes join
//! them in one commit:
//!
//! ```
//! use sherd_ledger::{commitment, ChangeSet, MemoryStore, StateStore};
//!
//! let mut store = MemoryStore::new();
//! let mut changes = ChangeSet::from([(b"\x01key".to_vec(), Some(b"value".to_vec()))]);
//! let (root, nodes) = commitment::update(&store, &changes)?;
//! changes.extend(nodes);
//! store.commit(changes)?;
//! assert_eq!(commitment::state_root(&store)?, root);
//!
//! let proof = commitment::prove(&store, b"\x01key")?;
//! assert!(proof.verify(&root, b"\x01key", Some(b"value")).is_ok());
//! assert!(proof.verify(&root, b"\x01key", None).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The tree
//!
//! A binary sparse Merkle tree over 256-bit paths, with the path
//! compression of Diem's Jellyfish and Aptos' sparse Merkle trees: a
//! subtree holding a single leaf is that leaf, placed at the highest level
//! where it is alone, so a state of `n` keys has depth about `log2(n)`, not
//! 256.
//!
//! * `path(key) = BLAKE3(key)`, 32 bytes, read as 256 bits, most
//!   significant bit of byte 0 first: bit `i` is
//!   `(path[i / 8] >> (7 - i % 8)) & 1`; `0` goes left, `1` right.
//! * `value_hash(value) = BLAKE3(value)`. A deleted key is absent: it has
//!   no leaf.
//! * The hash of a subtree is
//!   * [`EMPTY_HASH`] (32 zero bytes) if it holds no key;
//!   * `leaf_hash = BLAKE3-derive-key("sherd 2026-11-23 state leaf v1",
//!     path ‖ value_hash)` (64 bytes of key material) if it holds exactly
//!     one key, whatever its depth;
//!   * `node_hash = BLAKE3-derive-key("sherd 2026-11-23 state node v1",
//!     left ‖ right)` (64 bytes) of its two halves' hashes if it holds two
//!     keys or more.
//! * The state root is the hash of the whole tree: [`EMPTY_HASH`] for an
//!   empty state.
//!
//! The root therefore depends only on the set of `(key, value)` pairs, not
//! on the order or the batching of the updates that produced it, and so
//! does the set of stored nodes.
//!
//! # Storage
//!
//! The nodes live in the same [`StateStore`] as the state, under keys that
//! start with [`TREE_PREFIX`] (`0xF0`), so that a block's state writes and
//! its tree writes commit in one atomic [`StateStore::commit`]. A node is
//! stored at the position it occupies: the first `depth` bits of the paths
//! below it.
//!
//! * key: `0xF0 ‖ u16_le(depth) ‖ prefix`, where `depth` is `0..=256` and
//!   `prefix` is the first `ceil(depth / 8)` bytes of the path with the bits
//!   at `depth` and beyond set to zero. The root is `f0 00 00`.
//! * value, 65 bytes, one of
//!   * leaf: `0x01 ‖ path [32] ‖ value_hash [32]`;
//!   * internal: `0x02 ‖ left_hash [32] ‖ right_hash [32]`, where an empty
//!     half is [`EMPTY_HASH`] and nothing is stored at its position.
//!
//! Empty positions store nothing; an internal node has two keys or more
//! below it; a leaf sits at the highest position where it is alone. Reading
//! a node checks its length, its tag, that a leaf's path starts with its
//! position, and that it hashes to what its parent says; anything else is a
//! [`CommitmentError::CorruptNode`].
//!
//! # Cost
//!
//! [`update`] hashes each changed key and value, sorts the changes by path
//! and walks the tree once, top-down, entering only the subtrees that
//! contain a change: each node on a changed path is read once and written
//! once (a sibling off the paths is read only when its neighbour empties
//! and it may have to move up). A block of `c` changes in a state of `n`
//! keys costs about `c · (log2(n / c) + 2)` node reads, hashes and writes
//! (the top `log2(c)` levels are shared): 9 per change for 10,000 changes
//! in 1,000,000 keys. The state's size enters only through that logarithm.
//! The keys and values are hashed on every core, and where both halves of
//! a node hold many changes the two are walked on two threads; the result
//! is the same as walking them in turn.
//! A proof is about `log2(n) + 1` siblings of 32 bytes.

//! # Proofs
//!
//! [`prove`] answers the siblings along a key's path, from the root down,
//! and what the path ends in: the key's own leaf (inclusion), another leaf
//! whose path shares the prefix, or nothing (non-inclusion).
//! [`Proof::verify`] recomputes the root from them.
//!
//! Proof encoding (canonical codec): `u32_le(count) ‖ sibling [32]…` with at
//! most 256 siblings, then `0x00` (ends empty) or `0x01 ‖ path [32] ‖
//! value_hash [32]` (ends in a leaf).

use std::sync::OnceLock;

use rayon::prelude::*;

use blake3::hazmat::{hash_derive_key_context, ContextKey, HasherExt};

use crate::{
    codec::{Decode, DecodeError, Encode, EncodeError, Reader, Writer},
    hash::Hash,
    store::{ChangeSet, StateStore, StoreError},
};

/// First byte of every tree node's key; state keys must not start with it.
pub const TREE_PREFIX: u8 = 0xF0;

/// BLAKE3 derive-key context of leaf hashes.
pub const LEAF_CONTEXT: &str = "sherd 2026-11-23 state leaf v1";

/// BLAKE3 derive-key context of internal node hashes.
pub const NODE_CONTEXT: &str = "sherd 2026-11-23 state node v1";

/// The hash of an empty subtree, and the root of an empty state.
pub const EMPTY_HASH: Hash = Hash([0; 32]);

/// Tag of a stored leaf.
const LEAF_TAG: u8 = 0x01;
/// Tag of a stored internal node.
const INTERNAL_TAG: u8 = 0x02;
/// Length of every stored node.
const NODE_LEN: usize = 65;
/// Bits in a path; the deepest position a leaf can occupy.
const PATH_BITS: u16 = 256;

/// Why the commitment could not be read or updated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitmentError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored node is not valid.
    #[error("tree node {} is corrupt: {reason}", hex::encode(.key))]
    CorruptNode {
        /// The node's store key.
        key: Vec<u8>,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An internal node names a non-empty child that is not stored.
    #[error("tree node {} is missing", hex::encode(.key))]
    MissingNode {
        /// The store key where the node should be.
        key: Vec<u8>,
    },
    /// Two different keys have the same BLAKE3 path.
    #[error("keys {} and {} have the same path", hex::encode(.first), hex::encode(.second))]
    PathCollision {
        /// One key.
        first: Vec<u8>,
        /// The other.
        second: Vec<u8>,
    },
}

/// Why a proof does not prove what it was asked to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// More siblings than a path has bits.
    #[error("a proof has at most 256 siblings, this one has {found}")]
    TooDeep {
        /// Siblings in the proof.
        found: usize,
    },
    /// Asked to prove a value, the proof shows the key absent.
    #[error("the proof shows the key absent")]
    Absent,
    /// Asked to prove absence, the proof shows the key present.
    #[error("the proof shows the key present")]
    Present,
    /// The proof's leaf holds another value.
    #[error("the key's value hash is {found}, not {expected}")]
    ValueMismatch {
        /// BLAKE3 of the value asked about.
        expected: Hash,
        /// The value hash in the proof.
        found: Hash,
    },
    /// The proof ends in a leaf that is not on the key's path.
    #[error("the proof's leaf {found} is not on the key's path {path}")]
    WrongLeaf {
        /// The key's path.
        path: Hash,
        /// The leaf's path.
        found: Hash,
    },
    /// The proof leads to another root.
    #[error("the proof leads to root {computed}, not {expected}")]
    RootMismatch {
        /// The root it was checked against.
        expected: Hash,
        /// The root it leads to.
        computed: Hash,
    },
}

/// A leaf: a key's path and its value's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf {
    /// `BLAKE3(key)`.
    pub path: Hash,
    /// `BLAKE3(value)`.
    pub value_hash: Hash,
}

impl Leaf {
    /// The leaf of `key` holding `value`.
    pub fn new(key: &[u8], value: &[u8]) -> Self {
        Self {
            path: Hash::digest(key),
            value_hash: Hash::digest(value),
        }
    }

    /// `BLAKE3-derive-key(LEAF_CONTEXT, path ‖ value_hash)`.
    pub fn hash(&self) -> Hash {
        static KEY: OnceLock<ContextKey> = OnceLock::new();
        let key = KEY.get_or_init(|| hash_derive_key_context(LEAF_CONTEXT));
        let mut h = blake3::Hasher::new_from_context_key(key);
        h.update(&self.path.0);
        h.update(&self.value_hash.0);
        Hash(*h.finalize().as_bytes())
    }
}

/// `BLAKE3-derive-key(NODE_CONTEXT, left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    static KEY: OnceLock<ContextKey> = OnceLock::new();
    let key = KEY.get_or_init(|| hash_derive_key_context(NODE_CONTEXT));
    let mut h = blake3::Hasher::new_from_context_key(key);
    h.update(&left.0);
    h.update(&right.0);
    Hash(*h.finalize().as_bytes())
}

/// The store key of the position of depth `depth` on `path`:
/// `0xF0 ‖ u16_le(depth) ‖ prefix`, see the module docs. A depth over 256 is
/// taken as 256.
pub fn node_key(depth: u16, path: &Hash) -> Vec<u8> {
    NodeKey::new(depth, path).as_slice().to_vec()
}

/// A node key on the stack, for reads.
struct NodeKey {
    buf: [u8; 35],
    len: usize,
}

impl NodeKey {
    fn new(depth: u16, path: &Hash) -> Self {
        let depth = depth.min(PATH_BITS);
        let full = usize::from(depth / 8);
        let partial = depth % 8;
        let mut buf = [0u8; 35];
        let [prefix, d0, d1, rest @ ..] = &mut buf;
        *prefix = TREE_PREFIX;
        [*d0, *d1] = depth.to_le_bytes();
        for (out, byte) in rest.iter_mut().zip(&path.0).take(full) {
            *out = *byte;
        }
        let mut len = 3usize.saturating_add(full);
        if partial != 0 {
            if let (Some(out), Some(byte)) = (rest.get_mut(full), path.0.get(full)) {
                *out = byte & !0xFF_u8.wrapping_shr(u32::from(partial));
                len = len.saturating_add(1);
            }
        }
        Self { buf, len }
    }

    fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&self.buf)
    }
}

/// Bit `i` of `path`, most significant bit of byte 0 first; `None` past 256.
fn bit(path: &Hash, i: u16) -> Option<bool> {
    let byte = path.0.get(usize::from(i / 8))?;
    Some(byte & 0x80_u8.wrapping_shr(u32::from(i % 8)) != 0)
}

/// `path` with bit `i` set (`i < 256`).
fn with_bit(path: &Hash, i: u16) -> Hash {
    let mut out = *path;
    if let Some(byte) = out.0.get_mut(usize::from(i / 8)) {
        *byte |= 0x80_u8.wrapping_shr(u32::from(i % 8));
    }
    out
}

/// Whether `a` and `b` agree on their first `bits` bits.
fn shares_prefix(a: &Hash, b: &Hash, bits: u16) -> bool {
    (0..bits.min(PATH_BITS)).all(|i| bit(a, i) == bit(b, i))
}

/// A stored node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Leaf(Leaf),
    Internal { left: Hash, right: Hash },
}

impl Node {
    fn hash(&self) -> Hash {
        match self {
            Node::Leaf(leaf) => leaf.hash(),
            Node::Internal { left, right } => node_hash(left, right),
        }
    }

    fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(NODE_LEN);
        let (tag, a, b) = match self {
            Node::Leaf(leaf) => (LEAF_TAG, leaf.path, leaf.value_hash),
            Node::Internal { left, right } => (INTERNAL_TAG, left, right),
        };
        out.push(tag);
        out.extend_from_slice(&a.0);
        out.extend_from_slice(&b.0);
        out
    }

    /// Reads the node stored under `key` at depth `depth` of `prefix`.
    fn from_bytes(
        bytes: &[u8],
        key: &[u8],
        depth: u16,
        prefix: &Hash,
    ) -> Result<Self, CommitmentError> {
        let corrupt = |reason| CommitmentError::CorruptNode {
            key: key.to_vec(),
            reason,
        };
        let (tag, rest) = bytes.split_first().ok_or(corrupt("empty"))?;
        let (a, b) = rest
            .split_at_checked(32)
            .filter(|(_, b)| b.len() == 32)
            .ok_or(corrupt("not 65 bytes"))?;
        let a = Hash(a.try_into().map_err(|_| corrupt("not 65 bytes"))?);
        let b = Hash(b.try_into().map_err(|_| corrupt("not 65 bytes"))?);
        match *tag {
            LEAF_TAG => {
                if !shares_prefix(&a, prefix, depth) {
                    return Err(corrupt("leaf path is not under its position"));
                }
                Ok(Node::Leaf(Leaf {
                    path: a,
                    value_hash: b,
                }))
            }
            INTERNAL_TAG => {
                if depth >= PATH_BITS {
                    return Err(corrupt("internal node at depth 256"));
                }
                if a == EMPTY_HASH && b == EMPTY_HASH {
                    return Err(corrupt("internal node with no children"));
                }
                Ok(Node::Internal { left: a, right: b })
            }
            _ => Err(corrupt("unknown tag")),
        }
    }
}

/// Reads the node at depth `depth` of `prefix`, if any.
fn read_node<S: StateStore>(
    store: &S,
    depth: u16,
    prefix: &Hash,
) -> Result<Option<Node>, CommitmentError> {
    let key = NodeKey::new(depth, prefix);
    match store.get(key.as_slice())? {
        None => Ok(None),
        Some(bytes) => Node::from_bytes(&bytes, key.as_slice(), depth, prefix).map(Some),
    }
}

/// Reads the child at depth `depth` of `prefix` whose parent says it hashes
/// to `expected`.
fn read_child<S: StateStore>(
    store: &S,
    depth: u16,
    prefix: &Hash,
    expected: &Hash,
) -> Result<Option<Node>, CommitmentError> {
    if *expected == EMPTY_HASH {
        return Ok(None);
    }
    match read_node(store, depth, prefix)? {
        None => Err(CommitmentError::MissingNode {
            key: node_key(depth, prefix),
        }),
        Some(node) if node.hash() != *expected => Err(CommitmentError::CorruptNode {
            key: node_key(depth, prefix),
            reason: "does not hash to what its parent says",
        }),
        Some(node) => Ok(Some(node)),
    }
}

/// The state root: the hash of the tree stored in `store`.
pub fn state_root<S: StateStore>(store: &S) -> Result<Hash, CommitmentError> {
    Ok(read_node(store, 0, &EMPTY_HASH)?.map_or(EMPTY_HASH, |node| node.hash()))
}

/// One change to the tree: a path and its new value hash, `None` to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Change {
    path: Hash,
    value_hash: Option<Hash>,
}

/// What a subtree became.
#[derive(Debug, Clone, Copy)]
enum Sub {
    /// No key.
    Empty,
    /// One key; `at` is the depth where it is stored already, unchanged.
    /// Its final position is for the parent to decide.
    Leaf { leaf: Leaf, at: Option<u16> },
    /// Two keys or more; the node is written at its position.
    Internal(Hash),
    /// Not visited: its hash, from the parent.
    Untouched(Hash),
}

/// The writes of one update, built top-down.
struct Updater<'a, S> {
    store: &'a S,
    writes: ChangeSet,
}

impl<S: StateStore> Updater<'_, S> {
    fn put(&mut self, depth: u16, prefix: &Hash, node: Node) {
        self.writes
            .insert(node_key(depth, prefix), Some(node.to_bytes()));
    }

    /// Removes the node at a position unless something else is put there.
    fn delete(&mut self, depth: u16, prefix: &Hash) {
        self.writes.entry(node_key(depth, prefix)).or_insert(None);
    }

    /// Applies `changes` (sorted by path, all under the position) to the
    /// subtree at depth `depth` of `prefix`, whose node is `node`; `stored`
    /// says whether `node` is stored there.
    fn apply(
        &mut self,
        depth: u16,
        prefix: &Hash,
        node: Option<Node>,
        stored: bool,
        changes: &[Change],
    ) -> Result<Sub, CommitmentError> {
        match node {
            _ if changes.is_empty() => Ok(match node {
                None => Sub::Empty,
                Some(Node::Leaf(leaf)) => Sub::Leaf {
                    leaf,
                    at: Some(depth),
                },
                Some(internal) => Sub::Internal(internal.hash()),
            }),
            None => self.apply_to_leaf(depth, prefix, None, changes),
            Some(Node::Leaf(leaf)) => self.apply_to_leaf(depth, prefix, Some(leaf), changes),
            Some(Node::Internal { left, right }) => {
                self.apply_to_internal(depth, prefix, (left, right), stored, changes)
            }
        }
    }

    /// [`Self::apply`] to a subtree of at most one key, `existing`, stored
    /// at the position if any.
    fn apply_to_leaf(
        &mut self,
        depth: u16,
        prefix: &Hash,
        existing: Option<Leaf>,
        changes: &[Change],
    ) -> Result<Sub, CommitmentError> {
        // The common cases, without allocating: one key changed or deleted.
        if let [change] = changes {
            let kept = existing.filter(|old| old.path != change.path);
            let new = change.value_hash.map(|value_hash| Leaf {
                path: change.path,
                value_hash,
            });
            if kept.is_none() || new.is_none() {
                return Ok(self.single(depth, prefix, existing, kept.or(new)));
            }
        }
        let puts = changes.iter().filter(|c| c.value_hash.is_some()).count();
        let mut leaves: Vec<Leaf> = Vec::with_capacity(puts.saturating_add(1));
        leaves.extend(changes.iter().filter_map(|c| {
            c.value_hash.map(|value_hash| Leaf {
                path: c.path,
                value_hash,
            })
        }));
        if let Some(old) = existing {
            if changes.binary_search_by(|c| c.path.cmp(&old.path)).is_err() {
                let at = leaves.partition_point(|l| l.path < old.path);
                leaves.insert(at, old);
            }
        }
        match leaves.as_slice() {
            [] => Ok(self.single(depth, prefix, existing, None)),
            [leaf] => Ok(self.single(depth, prefix, existing, Some(*leaf))),
            // Two keys or more where there was at most one: build the
            // subtree afresh, as under an internal node with two empty
            // halves. Whatever was stored at the position is overwritten.
            _ => {
                let puts: Vec<Change> = leaves
                    .iter()
                    .map(|l| Change {
                        path: l.path,
                        value_hash: Some(l.value_hash),
                    })
                    .collect();
                self.apply_to_internal(depth, prefix, (EMPTY_HASH, EMPTY_HASH), false, &puts)
            }
        }
    }

    /// The subtree at a position that held `existing` now holds at most
    /// the one key `now`.
    fn single(
        &mut self,
        depth: u16,
        prefix: &Hash,
        existing: Option<Leaf>,
        now: Option<Leaf>,
    ) -> Sub {
        match now {
            Some(leaf) if existing == Some(leaf) => Sub::Leaf {
                leaf,
                at: Some(depth),
            },
            _ => {
                if existing.is_some() {
                    self.delete(depth, prefix);
                }
                now.map_or(Sub::Empty, |leaf| Sub::Leaf { leaf, at: None })
            }
        }
    }

    /// [`Self::apply`] to an internal node with children hashes `old`.
    fn apply_to_internal(
        &mut self,
        depth: u16,
        prefix: &Hash,
        old: (Hash, Hash),
        stored: bool,
        changes: &[Change],
    ) -> Result<Sub, CommitmentError> {
        let child = depth
            .checked_add(1)
            .filter(|&d| d <= PATH_BITS)
            .ok_or_else(|| CommitmentError::CorruptNode {
                key: node_key(depth, prefix),
                reason: "internal node at depth 256",
            })?;
        let right_prefix = with_bit(prefix, depth);
        let split = changes.partition_point(|c| bit(&c.path, depth) == Some(false));
        let (left_changes, right_changes) =
            changes.split_at_checked(split).unwrap_or((changes, &[]));
        let (left, right) = if left_changes.len().min(right_changes.len()) >= PARALLEL_MIN_HALF {
            // The halves' writes are at positions under each half's own
            // prefix, so they cannot meet: the right half writes apart and
            // joins the left's after.
            let mut other = Updater {
                store: self.store,
                writes: ChangeSet::new(),
            };
            let (left, right) = rayon::join(
                || self.descend(child, prefix, &old.0, left_changes),
                || other.descend(child, &right_prefix, &old.1, right_changes),
            );
            self.writes.append(&mut other.writes);
            (left?, right?)
        } else {
            (
                self.descend(child, prefix, &old.0, left_changes)?,
                self.descend(child, &right_prefix, &old.1, right_changes)?,
            )
        };
        // An untouched half next to an empty one moves up if it is a leaf.
        let left = self.resolve(child, prefix, left, right)?;
        let right = self.resolve(child, &right_prefix, right, left)?;
        match (left, right) {
            (Sub::Empty, Sub::Empty) => {
                if stored {
                    self.delete(depth, prefix);
                }
                Ok(Sub::Empty)
            }
            (Sub::Empty, leaf @ Sub::Leaf { .. }) | (leaf @ Sub::Leaf { .. }, Sub::Empty) => {
                if stored {
                    self.delete(depth, prefix);
                }
                Ok(leaf)
            }
            (left, right) => {
                let left = self.place(child, prefix, left);
                let right = self.place(child, &right_prefix, right);
                if !(stored && (left, right) == old) {
                    self.put(depth, prefix, Node::Internal { left, right });
                }
                Ok(Sub::Internal(node_hash(&left, &right)))
            }
        }
    }

    /// Applies `changes` to the child at depth `depth` of `prefix` whose
    /// hash is `hash`; a child without changes is left untouched, unread.
    fn descend(
        &mut self,
        depth: u16,
        prefix: &Hash,
        hash: &Hash,
        changes: &[Change],
    ) -> Result<Sub, CommitmentError> {
        if changes.is_empty() {
            return Ok(Sub::Untouched(*hash));
        }
        let node = read_child(self.store, depth, prefix, hash)?;
        self.apply(depth, prefix, node, node.is_some(), changes)
    }

    /// Turns an untouched half into what it is: empty, or a leaf if its
    /// sibling is empty (then it must move up), or else just its hash.
    fn resolve(
        &mut self,
        depth: u16,
        prefix: &Hash,
        this: Sub,
        sibling: Sub,
    ) -> Result<Sub, CommitmentError> {
        let Sub::Untouched(hash) = this else {
            return Ok(this);
        };
        if hash == EMPTY_HASH {
            return Ok(Sub::Empty);
        }
        if !matches!(sibling, Sub::Empty | Sub::Untouched(EMPTY_HASH)) {
            return Ok(Sub::Untouched(hash));
        }
        Ok(match read_child(self.store, depth, prefix, &hash)? {
            Some(Node::Leaf(leaf)) => Sub::Leaf {
                leaf,
                at: Some(depth),
            },
            _ => Sub::Untouched(hash),
        })
    }

    /// Stores `sub` at depth `depth` of `prefix` if it is a leaf that is not
    /// there already, and answers its hash.
    fn place(&mut self, depth: u16, prefix: &Hash, sub: Sub) -> Hash {
        match sub {
            Sub::Empty => EMPTY_HASH,
            Sub::Internal(h) | Sub::Untouched(h) => h,
            Sub::Leaf { leaf, at } => {
                if at != Some(depth) {
                    if let Some(old) = at {
                        self.delete(old, &leaf.path);
                    }
                    self.put(depth, prefix, Node::Leaf(leaf));
                }
                leaf.hash()
            }
        }
    }
}

/// Updates of at least this many keys hash them on every core.
const PARALLEL_MIN_CHANGES: usize = 256;

/// A node whose two halves each have at least this many changes walks them
/// on two threads (rayon; nested, so the top levels of a large update fill
/// every core).
const PARALLEL_MIN_HALF: usize = 64;

/// Applies a block's state writes to the tree in `store`: answers the new
/// root and the tree's own writes, which the caller merges into the block's
/// change set before committing it. Keys under [`TREE_PREFIX`] in `changes`
/// are ignored. Reads `store`, never writes it.
pub fn update<S: StateStore>(
    store: &S,
    changes: &ChangeSet,
) -> Result<(Hash, ChangeSet), CommitmentError> {
    let entries: Vec<(&Vec<u8>, &Option<Vec<u8>>)> = changes
        .iter()
        .filter(|(key, _)| key.first() != Some(&TREE_PREFIX))
        .collect();
    fn change<'c>((key, value): &(&'c Vec<u8>, &Option<Vec<u8>>)) -> (Change, &'c [u8]) {
        (
            Change {
                path: Hash::digest(key),
                value_hash: value.as_deref().map(Hash::digest),
            },
            key.as_slice(),
        )
    }
    // Hashing the keys and values is pure and, with records of a kilobyte
    // (a contract of ten fragments), a third of the work: on every core.
    let mut sorted: Vec<(Change, &[u8])> = if entries.len() >= PARALLEL_MIN_CHANGES {
        entries.par_iter().map(change).collect()
    } else {
        entries.iter().map(change).collect()
    };
    sorted.sort_unstable_by_key(|(change, _)| change.path);
    if let Some(pair) = sorted.windows(2).find_map(|w| match w {
        [(a, first), (b, second)] if a.path == b.path => Some((first.to_vec(), second.to_vec())),
        _ => None,
    }) {
        return Err(CommitmentError::PathCollision {
            first: pair.0,
            second: pair.1,
        });
    }
    let sorted: Vec<Change> = sorted.into_iter().map(|(c, _)| c).collect();
    let root = read_node(store, 0, &EMPTY_HASH)?;
    if sorted.is_empty() {
        return Ok((root.map_or(EMPTY_HASH, |n| n.hash()), ChangeSet::new()));
    }
    let mut updater = Updater {
        store,
        writes: ChangeSet::new(),
    };
    let sub = updater.apply(0, &EMPTY_HASH, root, root.is_some(), &sorted)?;
    let root = updater.place(0, &EMPTY_HASH, sub);
    Ok((root, updater.writes))
}

/// What a proof's path ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofEnd {
    /// An empty subtree: the key is absent.
    Empty,
    /// A leaf: the key's own (inclusion), or another whose path shares the
    /// prefix (non-inclusion).
    Leaf(Leaf),
}

/// A proof that a key holds a value, or is absent, under a state root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The sibling hashes along the key's path, from the root down.
    pub siblings: Vec<Hash>,
    /// What the path ends in, below the last sibling.
    pub end: ProofEnd,
}

/// Proves what `key` holds in the tree stored in `store`.
pub fn prove<S: StateStore>(store: &S, key: &[u8]) -> Result<Proof, CommitmentError> {
    let path = Hash::digest(key);
    let mut siblings = Vec::new();
    let mut node = read_node(store, 0, &EMPTY_HASH)?;
    let mut depth = 0u16;
    let mut prefix = EMPTY_HASH;
    loop {
        match node {
            None => {
                return Ok(Proof {
                    siblings,
                    end: ProofEnd::Empty,
                })
            }
            Some(Node::Leaf(leaf)) => {
                return Ok(Proof {
                    siblings,
                    end: ProofEnd::Leaf(leaf),
                })
            }
            Some(Node::Internal { left, right }) => {
                let corrupt = CommitmentError::CorruptNode {
                    key: node_key(depth, &prefix),
                    reason: "internal node at depth 256",
                };
                let (go_right, child) =
                    bit(&path, depth).zip(depth.checked_add(1)).ok_or(corrupt)?;
                let next = if go_right {
                    prefix = with_bit(&prefix, depth);
                    siblings.push(left);
                    right
                } else {
                    siblings.push(right);
                    left
                };
                depth = child;
                node = read_child(store, depth, &prefix, &next)?;
            }
        }
    }
}

impl Proof {
    /// Checks that under `root`, `key` holds `value` (`Some`) or is absent
    /// (`None`).
    pub fn verify(&self, root: &Hash, key: &[u8], value: Option<&[u8]>) -> Result<(), ProofError> {
        let depth = u16::try_from(self.siblings.len())
            .ok()
            .filter(|&d| d <= PATH_BITS)
            .ok_or(ProofError::TooDeep {
                found: self.siblings.len(),
            })?;
        let path = Hash::digest(key);
        let mut hash = match (value, self.end) {
            (Some(_), ProofEnd::Empty) => return Err(ProofError::Absent),
            (None, ProofEnd::Empty) => EMPTY_HASH,
            (Some(value), ProofEnd::Leaf(leaf)) => {
                if leaf.path != path {
                    return Err(ProofError::Absent);
                }
                let expected = Hash::digest(value);
                if leaf.value_hash != expected {
                    return Err(ProofError::ValueMismatch {
                        expected,
                        found: leaf.value_hash,
                    });
                }
                leaf.hash()
            }
            (None, ProofEnd::Leaf(leaf)) => {
                if leaf.path == path {
                    return Err(ProofError::Present);
                }
                leaf.hash()
            }
        };
        if let ProofEnd::Leaf(leaf) = self.end {
            if !shares_prefix(&leaf.path, &path, depth) {
                return Err(ProofError::WrongLeaf {
                    path,
                    found: leaf.path,
                });
            }
        }
        for (i, sibling) in (0..depth).rev().zip(self.siblings.iter().rev()) {
            hash = if bit(&path, i) == Some(true) {
                node_hash(sibling, &hash)
            } else {
                node_hash(&hash, sibling)
            };
        }
        if hash == *root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch {
                expected: *root,
                computed: hash,
            })
        }
    }
}

impl Encode for Proof {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.seq("siblings", usize::from(PATH_BITS), &self.siblings)?;
        match self.end {
            ProofEnd::Empty => w.u8(0),
            ProofEnd::Leaf(leaf) => {
                w.u8(1);
                w.fixed(&leaf.path.0);
                w.fixed(&leaf.value_hash.0);
            }
        }
        Ok(())
    }
}

impl Decode for Proof {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let siblings = r.seq("siblings", usize::from(PATH_BITS), 32)?;
        let end = match r.u8("end")? {
            0 => ProofEnd::Empty,
            1 => ProofEnd::Leaf(Leaf {
                path: Hash::decode(r)?,
                value_hash: Hash::decode(r)?,
            }),
            tag => return Err(DecodeError::UnknownTag { field: "end", tag }),
        };
        Ok(Self { siblings, end })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::store::MemoryStore;

    type Model = BTreeMap<Vec<u8>, Vec<u8>>;

    /// Every tree node in `store`: its entries under [`TREE_PREFIX`].
    fn tree_entries(store: &MemoryStore) -> Model {
        store
            .iter()
            .filter(|(k, _)| k.first() == Some(&TREE_PREFIX))
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect()
    }

    /// Commits `changes` and their tree writes, as a node does.
    fn commit(store: &mut MemoryStore, changes: ChangeSet) -> Hash {
        let (root, nodes) = update(store, &changes).unwrap();
        assert!(nodes.keys().all(|k| k.first() == Some(&TREE_PREFIX)));
        let mut all = changes;
        all.extend(nodes);
        store.commit(all).unwrap();
        assert_eq!(state_root(store).unwrap(), root);
        root
    }

    fn from_scratch(model: &Model) -> (Hash, MemoryStore) {
        let mut store = MemoryStore::new();
        let changes = model
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        let root = commit(&mut store, changes);
        (root, store)
    }

    /// The root straight from the definition in the module docs.
    fn reference_root(model: &Model) -> Hash {
        fn subtree(leaves: &[Leaf], depth: u16) -> Hash {
            match leaves {
                [] => EMPTY_HASH,
                [leaf] => leaf.hash(),
                _ => {
                    let split = leaves.partition_point(|l| bit(&l.path, depth) == Some(false));
                    let (left, right) = leaves.split_at(split);
                    node_hash(&subtree(left, depth + 1), &subtree(right, depth + 1))
                }
            }
        }
        let mut leaves: Vec<Leaf> = model.iter().map(|(k, v)| Leaf::new(k, v)).collect();
        leaves.sort_by_key(|l| l.path);
        subtree(&leaves, 0)
    }

    fn account(i: u32) -> Vec<u8> {
        let mut key = vec![0x01];
        key.extend_from_slice(Hash::digest(&i.to_le_bytes()).as_bytes());
        key
    }

    fn check_proofs(store: &MemoryStore, root: &Hash, model: &Model, keys: &[Vec<u8>]) {
        for key in keys {
            let proof = prove(store, key).unwrap();
            let value = model.get(key).map(Vec::as_slice);
            proof.verify(root, key, value).unwrap();
            match value {
                Some(v) => {
                    let mut altered = v.to_vec();
                    altered.push(0);
                    assert!(matches!(
                        proof.verify(root, key, Some(&altered)),
                        Err(ProofError::ValueMismatch { .. })
                    ));
                    assert_eq!(proof.verify(root, key, None), Err(ProofError::Present));
                }
                None => {
                    assert_eq!(proof.verify(root, key, Some(b"x")), Err(ProofError::Absent));
                }
            }
            let mut wrong_root = *root;
            wrong_root.0[0] ^= 1;
            assert!(matches!(
                proof.verify(&wrong_root, key, value),
                Err(ProofError::RootMismatch { .. })
            ));
            let bytes = crate::codec::encode_versioned(&proof).unwrap();
            let decoded: Proof = crate::codec::decode_versioned(&bytes, 10_000).unwrap();
            assert_eq!(decoded, proof);
        }
    }

    #[test]
    fn empty_tree() {
        let store = MemoryStore::new();
        assert_eq!(state_root(&store).unwrap(), EMPTY_HASH);
        let (root, nodes) = update(&store, &ChangeSet::new()).unwrap();
        assert_eq!((root, nodes.len()), (EMPTY_HASH, 0));
        let proof = prove(&store, b"k").unwrap();
        assert_eq!(proof.siblings.len(), 0);
        proof.verify(&EMPTY_HASH, b"k", None).unwrap();
        // Deleting an absent key changes nothing.
        let (root, nodes) = update(&store, &ChangeSet::from([(b"k".to_vec(), None)])).unwrap();
        assert_eq!((root, nodes.len()), (EMPTY_HASH, 0));
    }

    #[test]
    fn golden_vectors() {
        assert_eq!(node_key(0, &Hash([0xFF; 32])), vec![0xF0, 0, 0]);
        assert_eq!(node_key(3, &Hash([0xFF; 32])), vec![0xF0, 3, 0, 0xE0]);
        assert_eq!(node_key(8, &Hash([0xAB; 32])), vec![0xF0, 8, 0, 0xAB]);
        assert_eq!(node_key(256, &Hash([0xAB; 32])).len(), 35);
        let leaf = Leaf::new(b"key", b"value");
        let expected_leaf = blake3::Hasher::new_derive_key(LEAF_CONTEXT)
            .update(&[leaf.path.0, leaf.value_hash.0].concat())
            .finalize();
        assert_eq!(leaf.hash().0, *expected_leaf.as_bytes());
        let expected_node = blake3::Hasher::new_derive_key(NODE_CONTEXT)
            .update(&[[1u8; 32], [2u8; 32]].concat())
            .finalize();
        assert_eq!(
            node_hash(&Hash([1; 32]), &Hash([2; 32])).0,
            *expected_node.as_bytes()
        );

        let mut store = MemoryStore::new();
        let one = commit(
            &mut store,
            ChangeSet::from([(b"a".to_vec(), Some(b"1".to_vec()))]),
        );
        assert_eq!(one, Leaf::new(b"a", b"1").hash());
        assert_eq!(
            one.to_string(),
            "2417c2b429c0e3a7e57191fe8fcb2ffbefade1848210fd6067b2f4311fd99095"
        );
        let three = commit(
            &mut store,
            ChangeSet::from([
                (b"b".to_vec(), Some(b"2".to_vec())),
                (b"c".to_vec(), Some(b"3".to_vec())),
            ]),
        );
        assert_eq!(
            three.to_string(),
            "484ea52d8eb7e9a81e6f5600c2b75f3dec61ef67aebf2b5ffca55e6db3f979bd"
        );
        let nodes: Vec<String> = tree_entries(&store)
            .iter()
            .map(|(k, v)| format!("{} {}", hex::encode(k), hex::encode(v)))
            .collect();
        // Key, then value. One key is alone right of the root; the other
        // two share their first five bits and part at depth 6, under a
        // chain of internal nodes with one empty half.
        assert_eq!(
            nodes,
            [
                "f00000 0239b07b2e824c818e5de80c3ace996ed5f53f543dc459e1d634b82b7b12c18d5bfd0282eab1af77a0caa68f04e71ec9d69d57fbfb7dba8f94ca7d9d983f421dd4",
                "f0010000 021fa1c889f49151df6482203e69a6db98eed6288057dde5c561f346f4bd23203b0000000000000000000000000000000000000000000000000000000000000000",
                "f0010080 01ea7aa1fc9efdbe106dbb70369a75e9671fa29d52bd55536711bf197477b8f02158d6fd3dc609068615d66b6a2616cce521e6bd49bbcd7854e3f2573b142c6637",
                "f0020000 02fc803dacec511c458a6a8f9e843da1233a885505c5e72eb3d5edcb689a44305e0000000000000000000000000000000000000000000000000000000000000000",
                "f0030000 02000000000000000000000000000000000000000000000000000000000000000070de86af695daa73112f9e9c6b620bfa6d7ae843fc72217e43e4bced7e659a81",
                "f0040010 02e6e5a61f42ebe1cc62fadefef1e4f5691fddfeb46a4c691575b566351a0fbf050000000000000000000000000000000000000000000000000000000000000000",
                "f0050010 02e2028f3a0d1772f2881d33cfd5cd9563d79031e716331572944a9d14ca8b02712417c2b429c0e3a7e57191fe8fcb2ffbefade1848210fd6067b2f4311fd99095",
                "f0060010 0110e5cf3d3c8a4f9f3468c8cc58eea84892a22fdadbc1acb22410190044c1d553813e9b729141e7f385afa0a2d0df3e6c3789e427ffe4aeef566a565bc8f2fe3d",
                "f0060014 0117762fddd969a453925d65717ac3eea21320b66b54342fde15128d6caf21215fd63bd9a826af91c1fea371965a64e11ee20f13e46b5f52c59901136605b3a487",
            ]
        );
    }

    #[test]
    fn thousands_of_keys() {
        let mut store = MemoryStore::new();
        let mut model = Model::new();
        // Built in batches of different sizes, with overwrites and deletes.
        for (batch, range) in [(0u32, 0..1_000u32), (1, 500..2_500), (2, 2_000..3_000)] {
            let changes: ChangeSet = range
                .map(|i| {
                    let value = (i ^ batch).to_le_bytes().to_vec();
                    (account(i), Some(value))
                })
                .collect();
            for (k, v) in &changes {
                model.insert(k.clone(), v.clone().unwrap());
            }
            commit(&mut store, changes);
        }
        let deletes: ChangeSet = (0..3_000).step_by(7).map(|i| (account(i), None)).collect();
        for k in deletes.keys() {
            model.remove(k);
        }
        let root = commit(&mut store, deletes);
        assert_eq!(root, reference_root(&model));
        let (scratch_root, scratch) = from_scratch(&model);
        assert_eq!(root, scratch_root);
        assert_eq!(tree_entries(&store), tree_entries(&scratch));
        // Path compression: the depth is about log2(n), far from 256.
        let max_depth = tree_entries(&store)
            .keys()
            .map(|k| u16::from_le_bytes([k[1], k[2]]))
            .max()
            .unwrap();
        assert!(max_depth < 40, "depth {max_depth}");
        // A leaf per key, and at least one internal node per key, less one.
        let nodes = tree_entries(&store).len();
        assert!(
            nodes >= 2 * model.len() - 1 && nodes < 3 * model.len(),
            "{nodes}"
        );
        let keys: Vec<Vec<u8>> = (0..3_100).step_by(3).map(account).collect();
        check_proofs(&store, &root, &model, &keys);
    }

    #[test]
    fn tree_keys_in_changes_are_ignored_and_no_op_writes_are_skipped() {
        let model: Model = (0..100).map(|i| (account(i), vec![i as u8])).collect();
        let (root, scratch) = from_scratch(&model);
        let store = scratch.clone();
        let changes = ChangeSet::from([
            (vec![TREE_PREFIX, 0, 0], Some(b"junk".to_vec())),
            (account(5), Some(vec![5])),
            (account(1_000), None),
        ]);
        let (new_root, nodes) = update(&store, &changes).unwrap();
        assert_eq!(new_root, root);
        assert!(nodes.is_empty(), "{nodes:?}");
        assert_eq!(store, scratch);
    }

    fn corrupt_at(store: &MemoryStore, key: &[u8], bytes: Option<&[u8]>) -> MemoryStore {
        let mut store = store.clone();
        match bytes {
            Some(b) => store.put(key, b).unwrap(),
            None => store.delete(key).unwrap(),
        }
        store
    }

    #[test]
    fn corrupt_nodes_are_typed_errors() {
        let model: Model = (0..50).map(|i| (account(i), vec![i as u8])).collect();
        let (_, store) = from_scratch(&model);
        let root_key = node_key(0, &EMPTY_HASH);
        let key = account(7);
        let touch = ChangeSet::from([(key.clone(), Some(b"new".to_vec()))]);
        let mut leaf_child = Vec::new();
        let mut internal_child = Vec::new();
        for (k, v) in tree_entries(&store) {
            if k.len() > 3 && v[0] == LEAF_TAG && leaf_child.is_empty() {
                leaf_child = k;
            } else if k.len() > 3 && v[0] == INTERNAL_TAG && internal_child.is_empty() {
                internal_child = k;
            }
        }
        let mut wrong_tag = vec![0x07];
        wrong_tag.extend_from_slice(&[0; 64]);
        let mut internal_empty = vec![INTERNAL_TAG];
        internal_empty.extend_from_slice(&[0; 64]);
        let mut misplaced = vec![LEAF_TAG];
        misplaced.extend_from_slice(&[0xFF; 64]);
        for (at, bytes) in [
            (&root_key, Some(&b""[..])),
            (&root_key, Some(&[INTERNAL_TAG; 64][..])),
            (&root_key, Some(&[INTERNAL_TAG; 66][..])),
            (&root_key, Some(&wrong_tag[..])),
            (&root_key, Some(&internal_empty[..])),
            (&leaf_child, Some(&misplaced[..])),
            (&internal_child, Some(&[INTERNAL_TAG; 65][..])),
        ] {
            let bad = corrupt_at(&store, at, bytes);
            let root = state_root(&bad);
            let updated = update(&bad, &touch).map(|_| ());
            let all_keys: ChangeSet = model.keys().map(|k| (k.clone(), None)).collect();
            let emptied = update(&bad, &all_keys).map(|_| ());
            let proofs: Result<Vec<_>, _> = model.keys().map(|k| prove(&bad, k)).collect();
            let [root, updated, emptied, proofs] =
                [root.map(|_| ()), updated, emptied, proofs.map(|_| ())]
                    .map(|r| matches!(r, Err(CommitmentError::CorruptNode { .. })));
            // Emptying the tree and proving every key read every node.
            assert!(emptied && proofs, "{}", hex::encode(at));
            if at == &root_key {
                assert!(root && updated, "{}", hex::encode(at));
            }
        }
        let missing = corrupt_at(&store, &internal_child, None);
        let all_keys: ChangeSet = model.keys().map(|k| (k.clone(), None)).collect();
        assert!(matches!(
            update(&missing, &all_keys),
            Err(CommitmentError::MissingNode { .. })
        ));
    }

    #[test]
    fn proof_checks() {
        let model: Model = (0..200).map(|i| (account(i), vec![i as u8])).collect();
        let (root, store) = from_scratch(&model);
        let key = account(3);
        let mut proof = prove(&store, &key).unwrap();
        proof.siblings = vec![EMPTY_HASH; 257];
        assert_eq!(
            proof.verify(&root, &key, Some(&[3])),
            Err(ProofError::TooDeep { found: 257 })
        );
        // A leaf elsewhere in the tree does not prove the key absent.
        let other = prove(&store, &account(4)).unwrap();
        assert!(other.verify(&root, &key, None).is_err());
        let mut bytes = crate::codec::encode_versioned(&other).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        let decoded: Proof = crate::codec::decode_versioned(&bytes, 10_000).unwrap();
        assert!(decoded.verify(&root, &account(4), Some(&[4])).is_err());
    }

    /// A batch of changes over a small key space, so that batches collide.
    fn batches() -> impl Strategy<Value = Vec<Vec<(u8, Option<u8>)>>> {
        prop::collection::vec(
            prop::collection::vec((0u8..48, prop::option::weighted(0.7, 0u8..4)), 0..24),
            1..8,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn root_depends_only_on_the_map(batches in batches()) {
            let mut store = MemoryStore::new();
            let mut model = Model::new();
            for batch in batches {
                let changes: ChangeSet = batch
                    .iter()
                    .map(|&(k, v)| (vec![k], v.map(|v| vec![v])))
                    .collect();
                for (k, v) in &changes {
                    match v {
                        Some(v) => model.insert(k.clone(), v.clone()),
                        None => model.remove(k),
                    };
                }
                let before_root = state_root(&store).unwrap();
                let before = store.clone();
                let root = commit(&mut store, changes.clone());
                prop_assert_eq!(root, reference_root(&model));
                let (scratch_root, scratch) = from_scratch(&model);
                prop_assert_eq!(root, scratch_root);
                prop_assert_eq!(tree_entries(&store), tree_entries(&scratch));
                // Undoing the batch restores the earlier root and nodes.
                let undo: ChangeSet = changes
                    .keys()
                    .map(|k| (k.clone(), before.get(k).unwrap()))
                    .collect();
                let mut undone = store.clone();
                prop_assert_eq!(commit(&mut undone, undo), before_root);
                prop_assert_eq!(tree_entries(&undone), tree_entries(&before));
            }
            let keys: Vec<Vec<u8>> = (0u8..50).map(|k| vec![k]).collect();
            check_proofs(&store, &state_root(&store).unwrap(), &model, &keys);
        }
    }
}
