//! Where the state lives: a key-value [`StateStore`], and [`MemoryStore`]
//! for tests and tools. The node's parity-db store implements the same
//! trait.
//!
//! The state transition never writes to a store directly: it reads through
//! an overlay and hands back a [`ChangeSet`], which the caller commits with
//! [`StateStore::commit`] together with the block that produced it.

use std::collections::BTreeMap;

/// A block's writes: `Some(value)` to put, `None` to delete. Ordered by key,
/// so applying it is deterministic.
pub type ChangeSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Entries read by a prefix scan, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// The store failed: the input may be fine, it could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state store failed: {message}")]
pub struct StoreError {
    /// What the backend said.
    pub message: String,
}

/// A key-value store of the ledger state. `Sync`: the state root's walk
/// reads the two halves of a large update on two threads.
pub trait StateStore: Sync {
    /// The value under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sets `key` to `value`.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;

    /// Removes `key`; removing a missing key is not an error.
    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError>;

    /// Every entry whose key starts with `prefix`, in key order. The state
    /// transition scans small, bounded families of records this way
    /// (validators, one validator's delegations, contracts).
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Entries, StoreError>;

    /// Applies every change. A store that can fail half-way must override
    /// this with one atomic write; the default applies them one by one.
    fn commit(&mut self, changes: ChangeSet) -> Result<(), StoreError> {
        for (key, value) in changes {
            match value {
                Some(value) => self.put(&key, &value)?,
                None => self.delete(&key)?,
            }
        }
        Ok(())
    }
}

/// A state store in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStore {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.map.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl StateStore for MemoryStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map.get(key).cloned())
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.map.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.map.remove(key);
        Ok(())
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Entries, StoreError> {
        Ok(self
            .map
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_puts_and_deletes() {
        let mut store = MemoryStore::new();
        store.put(b"a", b"1").unwrap();
        store.put(b"b", b"2").unwrap();
        let changes =
            ChangeSet::from([(b"a".to_vec(), None), (b"c".to_vec(), Some(b"3".to_vec()))]);
        store.commit(changes).unwrap();
        assert_eq!(store.get(b"a").unwrap(), None);
        assert_eq!(store.get(b"b").unwrap(), Some(b"2".to_vec()));
        assert_eq!(store.get(b"c").unwrap(), Some(b"3".to_vec()));
        store.delete(b"missing").unwrap();
        assert_eq!(store.len(), 2);
    }
}
