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

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sherd_market::store::{FragmentKey, FragmentRecord, FragmentState, FragmentStore, StoreError};

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

/// An upload being written.
#[derive(Debug)]
pub struct DiskWriter {
    key: FragmentKey,
    path: PathBuf,
    file: BufWriter<File>,
}

impl Write for DiskWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
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
        for entry in fs::read_dir(store.fragments())? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !indexed.contains(&name) {
                fs::remove_file(entry.path())?;
                recovery.orphans += 1;
            }
        }
        recovery.missing = records
            .iter()
            .filter(|r| !store.path(&r.key()).exists())
            .count();
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
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(DiskWriter {
            key: *key,
            path,
            file: BufWriter::with_capacity(1 << 20, file),
        })
    }

    fn commit(&self, writer: DiskWriter, record: &FragmentRecord) -> Result<(), StoreError> {
        let DiskWriter { key, path, file } = writer;
        let result = (|| {
            let file = file.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            drop(file);
            fs::rename(&path, self.path(&key))?;
            sync_dir(&self.fragments())
        })();
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
        let DiskWriter { path, file, .. } = writer;
        drop(file);
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
