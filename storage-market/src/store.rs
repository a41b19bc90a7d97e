//! The provider's fragment store: the seam between the market logic and
//! the disk. The node implements it with one file per fragment and an index
//! in its parity-db; tests use [`MemoryStore`].
//!
//! Its promise, which the node's implementation keeps across `kill -9`: a
//! fragment whose [`commit`](FragmentStore::commit) returned is never lost,
//! and one that was not committed is never served (a half-written upload
//! lives under a temporary name until it is whole and fsynced).

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

use sherd_ledger::{
    codec::{
        decode_versioned, encode_versioned, Decode, DecodeError, Encode, EncodeError, Reader,
        Writer,
    },
    Hash,
};

use crate::wire::Proposal;

/// Which fragment: contract and index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FragmentKey {
    /// The contract.
    pub contract_id: Hash,
    /// The fragment's index in it.
    pub index: u32,
}

impl FragmentKey {
    /// `contract_id ‖ u32_be(index)`: the index key, in contract order.
    pub fn to_bytes(&self) -> [u8; 36] {
        let mut out = [0u8; 36];
        out[..32].copy_from_slice(self.contract_id.as_bytes());
        out[32..].copy_from_slice(&self.index.to_be_bytes());
        out
    }

    /// Reads [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let id: [u8; 32] = bytes.get(..32)?.try_into().ok()?;
        let index: [u8; 4] = bytes.get(32..36)?.try_into().ok()?;
        (bytes.len() == 36).then(|| Self {
            contract_id: Hash(id),
            index: u32::from_be_bytes(index),
        })
    }

    /// `CONTRACT-INDEX`, for file names and logs.
    pub fn name(&self) -> String {
        format!("{}-{:04}", self.contract_id, self.index)
    }
}

impl std::fmt::Display for FragmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} fragment {}", self.contract_id, self.index)
    }
}

/// Where a stored fragment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentState {
    /// Stored and accepted; its contract is not on chain yet. Dropped after
    /// `expires_height` if it still is not.
    Pending {
        /// The last height at which the contract may appear.
        expires_height: u64,
    },
    /// Its contract is on chain with this provider: proven every period.
    Active,
}

/// The index entry of a stored fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentRecord {
    /// The terms it was accepted under (its footer's fields come from here).
    pub proposal: Proposal,
    /// Where it is.
    pub state: FragmentState,
    /// Chain height when it was stored.
    pub stored_at: u64,
}

impl FragmentRecord {
    /// Its key.
    pub fn key(&self) -> FragmentKey {
        FragmentKey {
            contract_id: self.proposal.contract_id(),
            index: self.proposal.index,
        }
    }

    /// The canonical bytes kept in the index.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        encode_versioned(self)
    }

    /// Reads [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_versioned(bytes, 1024)
    }
}

impl Encode for FragmentRecord {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.proposal.encode(w)?;
        match self.state {
            FragmentState::Pending { expires_height } => {
                w.u8(1);
                w.u64(expires_height);
            }
            FragmentState::Active => w.u8(2),
        }
        w.u64(self.stored_at);
        Ok(())
    }
}

impl Decode for FragmentRecord {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let proposal = Proposal::decode(r)?;
        let state = match r.u8("FragmentRecord.state")? {
            1 => FragmentState::Pending {
                expires_height: r.u64("FragmentRecord.expires_height")?,
            },
            2 => FragmentState::Active,
            tag => {
                return Err(DecodeError::UnknownTag {
                    field: "FragmentRecord.state",
                    tag,
                })
            }
        };
        Ok(Self {
            proposal,
            state,
            stored_at: r.u64("FragmentRecord.stored_at")?,
        })
    }
}

/// The store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The disk said no.
    #[error("fragment store: {0}")]
    Io(#[from] io::Error),
    /// The index failed or holds bytes that do not decode.
    #[error("fragment index: {0}")]
    Index(String),
}

/// Where fragments are kept.
pub trait FragmentStore: Send + Sync {
    /// A fragment being written.
    type Writer: io::Write + Send;
    /// A stored fragment file, opened for reading.
    type Reader: sherd_fragments::ReadAt + Send;

    /// Starts writing fragment `key` under a temporary name (replacing an
    /// earlier unfinished one).
    fn create(&self, key: &FragmentKey) -> Result<Self::Writer, StoreError>;
    /// Makes a fully written fragment durable (data, then the index entry
    /// `record`) and visible under its name.
    fn commit(&self, writer: Self::Writer, record: &FragmentRecord) -> Result<(), StoreError>;
    /// Throws an unfinished fragment away.
    fn abort(&self, key: &FragmentKey, writer: Self::Writer);
    /// Opens a committed fragment.
    fn open(&self, key: &FragmentKey) -> Result<Option<Self::Reader>, StoreError>;
    /// Changes the state of a committed fragment.
    fn set_state(&self, key: &FragmentKey, state: FragmentState) -> Result<(), StoreError>;
    /// Deletes a fragment: index entry first, then the file.
    fn remove(&self, key: &FragmentKey) -> Result<(), StoreError>;
    /// Every committed fragment.
    fn records(&self) -> Result<Vec<FragmentRecord>, StoreError>;
}

/// A store in memory, for tests and tools.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<MemoryInner>>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    files: BTreeMap<FragmentKey, Vec<u8>>,
    records: BTreeMap<FragmentKey, FragmentRecord>,
    writing: usize,
}

/// A fragment being written to a [`MemoryStore`].
#[derive(Debug)]
pub struct MemoryWriter {
    key: FragmentKey,
    bytes: Vec<u8>,
}

impl io::Write for MemoryWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Uploads started and not yet committed or aborted.
    pub fn writing(&self) -> usize {
        self.lock().writing
    }

    /// The bytes of a committed fragment file.
    pub fn file(&self, key: &FragmentKey) -> Option<Vec<u8>> {
        self.lock().files.get(key).cloned()
    }

    /// Replaces the bytes of a committed fragment (to simulate rot).
    pub fn corrupt(&self, key: &FragmentKey, offset: usize) {
        if let Some(byte) = self
            .lock()
            .files
            .get_mut(key)
            .and_then(|f| f.get_mut(offset))
        {
            *byte ^= 0xff;
        }
    }
}

impl FragmentStore for MemoryStore {
    type Writer = MemoryWriter;
    type Reader = Vec<u8>;

    fn create(&self, key: &FragmentKey) -> Result<MemoryWriter, StoreError> {
        self.lock().writing += 1;
        Ok(MemoryWriter {
            key: *key,
            bytes: Vec::new(),
        })
    }

    fn commit(&self, writer: MemoryWriter, record: &FragmentRecord) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.writing = inner.writing.saturating_sub(1);
        inner.files.insert(writer.key, writer.bytes);
        inner.records.insert(writer.key, record.clone());
        Ok(())
    }

    fn abort(&self, _: &FragmentKey, _: MemoryWriter) {
        let mut inner = self.lock();
        inner.writing = inner.writing.saturating_sub(1);
    }

    fn open(&self, key: &FragmentKey) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().files.get(key).cloned())
    }

    fn set_state(&self, key: &FragmentKey, state: FragmentState) -> Result<(), StoreError> {
        if let Some(r) = self.lock().records.get_mut(key) {
            r.state = state;
        }
        Ok(())
    }

    fn remove(&self, key: &FragmentKey) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.records.remove(key);
        inner.files.remove(key);
        Ok(())
    }

    fn records(&self) -> Result<Vec<FragmentRecord>, StoreError> {
        Ok(self.lock().records.values().cloned().collect())
    }
}
