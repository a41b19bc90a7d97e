//! The provider's fragment store on disk: one file per fragment, and an
//! index entry per fragment in the node's parity-db (`col::FRAGMENTS`).
//!
//! ```text
//! <storage dir>/incoming/<contract>-<index>.part-<random>   an upload being written
//! <storage dir>/data/<contract>-<index>.frag                a committed fragment file
//! ```
//!
//! The promise of [`FragmentStore`], kept across `kill -9`:
//!
//! * **a committed fragment is never lost**: [`commit`](FragmentStore::commit)
//!   fsyncs the file, renames it into `data/`, fsyncs the directory,
//!   and only then commits its index entry (durably: the node's commit
//!   returns once the write-ahead log is fsynced). The provider signs its
//!   acceptance only after that.
//! * **a half-written fragment is never served**: uploads live under
//!   `incoming/` until they are whole, and a fragment is opened only when
//!   its index entry exists. At start, [`DiskStore::open`] deletes whatever
//!   is left in `incoming/` and every file of `data/` without an index
//!   entry (a crash between the rename and the index commit).
//!
//! Removal deletes the index entry first, then the file, so a crash in
//! between leaves an orphan file, removed at the next start.
//!
//! An upload is written with `O_DIRECT` where the file system has it
//! ([`crate::direct`]): a fragment goes from the stream to the disk without
//! a copy in the page cache, so a large one never sits in memory as dirty
//! pages waiting for the final fsync, and the fsync has little left to do.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sherd_market::store::{FragmentKey, FragmentRecord, FragmentState, FragmentStore, StoreError};

use crate::direct::DirectWriter;
use crate::store::{col, NodeDb};

/// Index keys of the provider's own records start with this byte (fragment
/// keys start with a contract id, which may too, but are 36 bytes long).
pub const OWN_PREFIX: u8 = 0xff;

/// Fragments on disk, indexed in the node's database.
#[derive(Debug, Clone)]
pub struct DiskStore {
    dir: PathBuf,
    db: Arc<NodeDb>,
}

/// An upload being written (see [`crate::direct`]).
#[derive(Debug)]
pub struct DiskWriter {
    key: FragmentKey,
    file: DirectWriter,
}

impl Write for DiskWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.file.write(data)
    }

    /// Whole pieces are written as they fill; the rest waits for
    /// [`FragmentStore::commit`], which writes and fsyncs it.
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

fn index_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Index(e.to_string())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What [`DiskStore::open`] cleaned up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Unfinished uploads deleted.
    pub partial: usize,
    /// Fragment files without an index entry deleted.
    pub orphans: usize,
    /// Index entries whose file is gone (kept: the prover reports them).
    pub missing: usize,
}

impl DiskStore {
    /// Opens the store in `dir` (created if needed) over `db`, and cleans up
    /// after a crash (see the module docs).
    pub fn open(dir: &Path, db: Arc<NodeDb>) -> Result<(Self, Recovery), StoreError> {
        let store = Self {
            dir: dir.to_path_buf(),
            db,
        };
        fs::create_dir_all(store.incoming())?;
        fs::create_dir_all(store.fragments())?;
        let mut recovery = Recovery::default();
        for entry in fs::read_dir(store.incoming())? {
            fs::remove_file(entry?.path())?;
            recovery.partial += 1;
        }
        let records = store.records()?;
        let indexed: std::collections::HashSet<String> =
            records.iter().map(|r| file_name(&r.key())).collect();
        // One pass over the directory finds both the orphans and, by what
        // it lacks, the missing files (no `stat` per record).
        let mut present = 0usize;
        for entry in fs::read_dir(store.fragments())? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if indexed.contains(&name) {
                present += 1;
            } else {
                fs::remove_file(entry.path())?;
                recovery.orphans += 1;
            }
        }
        recovery.missing = indexed.len().saturating_sub(present);
        if recovery != Recovery::default() {
            sync_dir(&store.incoming())?;
            sync_dir(&store.fragments())?;
        }
        Ok((store, recovery))
    }

    /// The storage directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn incoming(&self) -> PathBuf {
        self.dir.join("incoming")
    }

    fn fragments(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Where a committed fragment's file is.
    pub fn path(&self, key: &FragmentKey) -> PathBuf {
        self.fragments().join(file_name(key))
    }

    /// Bytes of committed fragment files on disk.
    pub fn bytes_on_disk(&self) -> u64 {
        fs::read_dir(self.fragments())
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Reads one of the provider's own records (`OWN_PREFIX ‖ name`).
    pub fn own(&self, name: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db
            .get(col::FRAGMENTS, &own_key(name))
            .map_err(index_err)
    }

    /// Writes one of the provider's own records, durably.
    pub fn set_own(&self, name: &[u8], value: Vec<u8>) -> Result<(), StoreError> {
        self.db
            .commit(vec![(col::FRAGMENTS, own_key(name), Some(value))])
            .map_err(index_err)
    }
}

fn own_key(name: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 1);
    key.push(OWN_PREFIX);
    key.extend_from_slice(name);
    key
}

fn file_name(key: &FragmentKey) -> String {
    format!("{}.frag", key.name())
}

impl FragmentStore for DiskStore {
    type Writer = DiskWriter;
    type Reader = File;

    fn create(&self, key: &FragmentKey) -> Result<DiskWriter, StoreError> {
        let mut suffix = [0u8; 6];
        getrandom::fill(&mut suffix)
            .map_err(|e| StoreError::Io(io::Error::other(e.to_string())))?;
        let path = self
            .incoming()
            .join(format!("{}.part-{}", key.name(), hex::encode(suffix)));
        Ok(DiskWriter {
            key: *key,
            file: DirectWriter::create_new(&path)?,
        })
    }

    fn commit(&self, writer: DiskWriter, record: &FragmentRecord) -> Result<(), StoreError> {
        let DiskWriter { key, file } = writer;
        let path = file.path().to_path_buf();
        let result = file.finish().and_then(|file| {
            file.sync_all()?;
            drop(file);
            fs::rename(&path, self.path(&key))?;
            sync_dir(&self.fragments())
        });
        if let Err(e) = result {
            let _ = fs::remove_file(&path);
            return Err(StoreError::Io(e));
        }
        let value = record.to_bytes().map_err(index_err)?;
        if let Err(e) = self
            .db
            .commit(vec![(col::FRAGMENTS, key.to_bytes().to_vec(), Some(value))])
        {
            let _ = fs::remove_file(self.path(&key));
            return Err(index_err(e));
        }
        Ok(())
    }

    fn abort(&self, _: &FragmentKey, writer: DiskWriter) {
        let path = writer.file.path().to_path_buf();
        drop(writer);
        let _ = fs::remove_file(path);
    }

    fn open(&self, key: &FragmentKey) -> Result<Option<File>, StoreError> {
        if self
            .db
            .get(col::FRAGMENTS, &key.to_bytes())
            .map_err(index_err)?
            .is_none()
        {
            return Ok(None);
        }
        match File::open(self.path(key)) {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Io(e)),
        }
    }

    fn set_state(&self, key: &FragmentKey, state: FragmentState) -> Result<(), StoreError> {
        let Some(bytes) = self
            .db
            .get(col::FRAGMENTS, &key.to_bytes())
            .map_err(index_err)?
        else {
            return Ok(());
        };
        let mut record = FragmentRecord::from_bytes(&bytes).map_err(index_err)?;
        record.state = state;
        let value = record.to_bytes().map_err(index_err)?;
        self.db
            .commit(vec![(col::FRAGMENTS, key.to_bytes().to_vec(), Some(value))])
            .map_err(index_err)
    }

    fn remove(&self, key: &FragmentKey) -> Result<(), StoreError> {
        self.db
            .commit(vec![(col::FRAGMENTS, key.to_bytes().to_vec(), None)])
            .map_err(index_err)?;
        match fs::remove_file(self.path(key)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StoreError::Io(e)),
            _ => Ok(()),
        }
    }

    fn records(&self) -> Result<Vec<FragmentRecord>, StoreError> {
        self.db
            .scan(col::FRAGMENTS, &[], usize::MAX)
            .map_err(index_err)?
            .into_iter()
            .filter(|(key, _)| key.len() == 36)
            .map(|(_, value)| FragmentRecord::from_bytes(&value).map_err(index_err))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use sherd_ledger::{Address, Amount, ChainId, Hash};
    use sherd_market::wire::Proposal;

    use super::*;
    use crate::direct::{ALIGN, WRITE_PIECE};

    fn record(key: FragmentKey, fragment_size: u64) -> FragmentRecord {
        FragmentRecord {
            proposal: Proposal {
                chain_id: ChainId::new("sherd-test").unwrap(),
                client: Address([1; 32]),
                nonce: 0,
                object_root: Hash([2; 32]),
                k: 1,
                m: 1,
                shard_size: 16 * 1024,
                object_size: fragment_size,
                fragment_size,
                duration_epochs: 1,
                price_per_gib_epoch: Amount(1),
                index: key.index,
                fragment_root: Hash([3; 32]),
                repair: None,
            },
            state: FragmentState::Pending { expires_height: 9 },
            stored_at: 1,
        }
    }

    /// At start, a partial upload and a file without an index entry are
    /// deleted, and an index entry whose file is gone is counted (and
    /// kept); the other fragments are untouched.
    #[test]
    fn open_cleans_up_and_counts_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(NodeDb::open(&dir.path().join("db")).unwrap());
        let storage = dir.path().join("fragments");
        let (store, recovery) = DiskStore::open(&storage, db.clone()).unwrap();
        assert_eq!(recovery, Recovery::default());
        // Keys as the index has them: from each record's proposal.
        let keys: Vec<FragmentKey> = (0..3)
            .map(|index| {
                let key = FragmentKey {
                    contract_id: Hash::default(),
                    index,
                };
                record(key, 2048).key()
            })
            .collect();
        for key in &keys {
            let mut writer = store.create(key).unwrap();
            writer.write_all(&[7u8; 2048]).unwrap();
            store.commit(writer, &record(*key, 2048)).unwrap();
        }
        fs::remove_file(store.path(&keys[1])).unwrap();
        fs::write(storage.join("incoming").join("x.part-0"), b"half").unwrap();
        fs::write(storage.join("data").join("orphan.frag"), b"no entry").unwrap();
        let (again, recovery) = DiskStore::open(&storage, db).unwrap();
        assert_eq!(
            recovery,
            Recovery {
                partial: 1,
                orphans: 1,
                missing: 1,
            }
        );
        assert_eq!(again.records().unwrap().len(), 3);
        assert!(again.open(&keys[0]).unwrap().is_some());
        assert!(again.open(&keys[1]).unwrap().is_none());
        assert!(!storage.join("data").join("orphan.frag").exists());
        assert_eq!(fs::read_dir(storage.join("incoming")).unwrap().count(), 0);
    }

    /// Whatever the sizes and the write pattern, a committed file holds
    /// exactly the bytes written; an aborted one is gone, and neither
    /// leaves anything in `incoming/`.
    #[test]
    fn committed_files_hold_exactly_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(NodeDb::open(&dir.path().join("db")).unwrap());
        let (store, _) = DiskStore::open(&dir.path().join("fragments"), db).unwrap();
        let sizes = [
            0,
            1,
            ALIGN - 1,
            ALIGN + 7,
            WRITE_PIECE,
            WRITE_PIECE + 1,
            3 * WRITE_PIECE + 16 * 1024 + 4_000,
        ];
        for (i, &size) in sizes.iter().enumerate() {
            let key = FragmentKey {
                contract_id: Hash([i as u8; 32]),
                index: i as u32,
            };
            let data: Vec<u8> = (0..size).map(|j| (j * 31 + i) as u8).collect();
            let mut writer = store.create(&key).unwrap();
            // Uneven writes, as the transfer's groups and trailer come.
            for part in data.chunks(16 * 1024 + 32) {
                writer.write_all(part).unwrap();
            }
            writer.flush().unwrap();
            store.commit(writer, &record(key, size as u64)).unwrap();
            let file = store.open(&key).unwrap().expect("committed");
            assert_eq!(file.metadata().unwrap().len(), size as u64, "size {size}");
            assert_eq!(fs::read(store.path(&key)).unwrap(), data, "size {size}");
        }
        let key = FragmentKey {
            contract_id: Hash([0xaa; 32]),
            index: 0,
        };
        let mut writer = store.create(&key).unwrap();
        writer.write_all(&vec![7u8; WRITE_PIECE + 5]).unwrap();
        store.abort(&key, writer);
        assert!(store.open(&key).unwrap().is_none());
        assert_eq!(fs::read_dir(store.incoming()).unwrap().count(), 0);
        assert_eq!(store.records().unwrap().len(), sizes.len());
    }
}
