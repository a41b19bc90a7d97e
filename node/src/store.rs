//! The node's database: parity-db under `<home>/db`.
//!
//! | column | index | key | value |
//! |---|---|---|---|
//! | `STATE` (0) | btree | ledger state key | ledger state value (records and state-commitment nodes) |
//! | `BLOCKS` (1) | hash | height `u64_be` | [`StoredBlock`]: block wire bytes, consensus header, finalization certificate, beacon |
//! | `BLOCK_IDS` (2) | hash | ledger block id | height `u64_be` |
//! | `TXS` (3) | hash | tx id | [`TxLocation`]: height, index, outcome, reason |
//! | `ACCOUNT_TXS` (4) | btree | address ‖ `!height` ‖ `!index` (big-endian, inverted: newest first) | tx id; written after the block's commit ([`crate::indexer`]) |
//! | `META` (5) | hash | `head`, `genesis`, `epoch`, `indexed` | [`Head`], genesis id, [`EpochInfo`], height `u64_be` the account index is complete through |
//! | `JOURNAL` (6) | btree | sequence `u64_be` | consensus journal entry (`Wire` encoding) |
//! | `PROPOSED` (7) | btree | consensus block id | parent consensus id ‖ wire bytes of a block this validator proposed, not yet final |
//! | `FRAGMENTS` (8) | btree | contract id ‖ `u32_be(index)` (and the provider's own `0xff`-prefixed keys) | a stored fragment's index entry (`sherd_market::store::FragmentRecord`); the provider's counters |
//!
//! A database made before `FRAGMENTS` existed gets the column added when it
//! is opened.
//!
//! parity-db is opened without its background threads; the node drives the
//! commit pipeline itself, in three steps:
//!
//! 1. **Queue** (caller's thread): the commit enters parity-db's commit
//!    overlay, and every reader sees it.
//! 2. **Log** (committer thread): every queued commit is written to the
//!    write-ahead log as one record, then the log is fsynced once for all
//!    of them. From here a crash replays the commit.
//! 3. **Apply** (flusher thread): logged commits are written to the
//!    tables, which are fsynced, and old logs recycled.
//!
//! [`NodeDb::commit`] returns after step 2. [`NodeDb::commit_then`] returns
//! after step 1 and runs a callback after step 2: the consensus actor
//! commits finalized blocks this way, so it goes on with the next view
//! while the block is logged, and the block is announced final (the
//! status head, which bounds every final answer of the API) only from that
//! callback. [`NodeDb::commit_lazily`] returns after step 1 and does not
//! start step 2: its commit is logged with the next one that does (the
//! account index, which a restart can write again). See the crate README,
//! "Durability".

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use parity_db::{ColumnOptions, Db, Options};
use sherd_ledger::store::Entries;
use sherd_ledger::{ChangeSet, Hash, StateStore, StoreError};

/// Column ids.
pub mod col {
    /// Ledger state.
    pub const STATE: u8 = 0;
    /// Finalized blocks by height.
    pub const BLOCKS: u8 = 1;
    /// Block id → height.
    pub const BLOCK_IDS: u8 = 2;
    /// Tx id → location and outcome.
    pub const TXS: u8 = 3;
    /// Address ‖ !height ‖ !index → tx id.
    pub const ACCOUNT_TXS: u8 = 4;
    /// Chain head, genesis id, epoch.
    pub const META: u8 = 5;
    /// Consensus journal.
    pub const JOURNAL: u8 = 6;
    /// Blocks proposed, not yet final.
    pub const PROPOSED: u8 = 7;
    /// A storage provider's fragment index.
    pub const FRAGMENTS: u8 = 8;
    /// Number of columns.
    pub const COUNT: u8 = 9;
}

/// Meta keys.
pub mod meta {
    /// The finalized head.
    pub const HEAD: &[u8] = b"head";
    /// The genesis id.
    pub const GENESIS: &[u8] = b"genesis";
    /// The current epoch and its leader seed.
    pub const EPOCH: &[u8] = b"epoch";
    /// The height the account index (`ACCOUNT_TXS`) is complete through.
    pub const INDEXED: &[u8] = b"indexed";
}

/// The database failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// parity-db said no.
    #[error("database {path}: {source}")]
    Db {
        /// Where.
        path: String,
        /// What.
        #[source]
        source: parity_db::Error,
    },
    /// A stored value does not decode.
    #[error("database value in column {column} is corrupt: {reason}")]
    Corrupt {
        /// The column.
        column: u8,
        /// Why.
        reason: String,
    },
}

/// One write: column, key, `Some(value)` or `None` to delete.
pub type Op = (u8, Vec<u8>, Option<Vec<u8>>);

/// The node's parity-db.
pub struct NodeDb {
    inner: Arc<Inner>,
    /// Writes queued commits to the log and fsyncs it.
    committer: Option<std::thread::JoinHandle<()>>,
    /// Applies logged commits to the tables and recycles the logs.
    flusher: Option<std::thread::JoinHandle<()>>,
}

/// What runs once a commit is durable (on the committer thread).
type Then = Box<dyn FnOnce() + Send>;

struct Inner {
    db: Db,
    path: String,
    /// Serializes writing to the log: the committer's logging and fsync,
    /// and the flusher's reindexing.
    log_lock: Mutex<()>,
    /// Writes that ride along with the next commit. Its lock is also held
    /// while a commit is queued, so commits are numbered in the order
    /// parity-db queues them.
    staged: Mutex<Vec<Op>>,
    /// Recently read and written `STATE` entries.
    cache: Mutex<StateCache>,
    /// The pipeline's counters and what waits on them.
    work: Mutex<Pipeline>,
    /// Signalled whenever [`Pipeline`] changes.
    changed: Condvar,
}

#[derive(Default)]
struct Pipeline {
    /// Commits queued so far (the last one's number).
    queued: u64,
    /// The last commit queued that is to be logged at once; the lazy
    /// commits after it ([`NodeDb::commit_lazily`]) wait for the next one.
    eager: u64,
    /// Commits in the fsynced log so far (the last one's number).
    durable: u64,
    /// What runs when a commit is durable, by commit number, oldest first.
    then: std::collections::VecDeque<(u64, Then)>,
    /// Commits in the log and fsynced, not yet applied to the tables.
    logged: u64,
    /// The committer is to stop once the queue is empty.
    stop_committer: bool,
    /// The flusher is to stop once the log is applied.
    stop_flusher: bool,
    /// Logging or applying failed; every later commit reports it.
    failed: Option<String>,
}

impl std::fmt::Debug for NodeDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeDb")
            .field("path", &self.inner.path)
            .finish()
    }
}

/// How many reindex steps one flusher pass drives at most (parity-db grows
/// a hash index by re-inserting its entries in batches).
const REINDEX_STEPS_PER_PASS: usize = 4;
/// Logged commits the flusher may fall behind before `commit` waits for it
/// (each is held in memory by parity-db's log overlay until applied).
const MAX_LOGGED: u64 = 256;
/// Least time between flusher passes, so that one pass (which fsyncs every
/// table) covers the commits of a busy stretch.
const FLUSH_PAUSE: Duration = Duration::from_millis(250);
/// Commits queued but not yet durable before [`NodeDb::commit_then`]
/// waits for the committer (each holds its writes in parity-db's commit
/// overlay until logged).
const MAX_PENDING: u64 = 8;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl NodeDb {
    /// Opens (or creates) the database in `path`.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let mut options = Options::with_columns(path, col::COUNT);
        for c in [
            col::STATE,
            col::ACCOUNT_TXS,
            col::JOURNAL,
            col::PROPOSED,
            col::FRAGMENTS,
        ] {
            if let Some(column) = options.columns.get_mut(usize::from(c)) {
                *column = ColumnOptions {
                    btree_index: true,
                    ..ColumnOptions::default()
                };
            }
        }
        Self::add_missing_columns(&options).map_err(|source| DbError::Db {
            path: path.display().to_string(),
            source,
        })?;
        options.sync_wal = true;
        options.sync_data = true;
        // The node drives the pipeline itself so that `commit` can wait for
        // durability (see the module docs).
        options.with_background_thread = false;
        options.always_flush = true;
        let path_text = path.display().to_string();
        let db = Db::open_or_create(&options).map_err(|source| DbError::Db {
            path: path_text.clone(),
            source,
        })?;
        let inner = Arc::new(Inner {
            db,
            path: path_text,
            log_lock: Mutex::new(()),
            staged: Mutex::new(Vec::new()),
            cache: Mutex::new(StateCache::default()),
            work: Mutex::new(Pipeline::default()),
            changed: Condvar::new(),
        });
        let spawn = |name: &str, run: fn(&Inner)| {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || run(&inner))
                .map_err(|e| DbError::Db {
                    path: path.display().to_string(),
                    source: parity_db::Error::Io(e),
                })
        };
        let committer = spawn("db-committer", Inner::committer)?;
        let flusher = spawn("db-flusher", Inner::flusher)?;
        Ok(Self {
            inner,
            committer: Some(committer),
            flusher: Some(flusher),
        })
    }

    /// Adds the columns a database made by an earlier version lacks (they
    /// are only ever appended), before it is opened.
    fn add_missing_columns(wanted: &Options) -> Result<(), parity_db::Error> {
        let Some(meta) = Options::load_metadata(&wanted.path)? else {
            return Ok(());
        };
        if meta.columns.len() >= wanted.columns.len() {
            return Ok(());
        }
        let mut options = wanted.clone();
        options.columns.truncate(meta.columns.len());
        for column in wanted.columns.iter().skip(meta.columns.len()) {
            tracing::info!(
                column = options.columns.len(),
                "db.open: adding a column made by a newer version"
            );
            Db::add_column(&mut options, column.clone())?;
        }
        Ok(())
    }

    /// Commits `ops`, with every staged write before them, atomically and
    /// durably: on return the commit is one record of the fsynced
    /// write-ahead log (a crash after this replays it) and every reader
    /// sees it. Applying it to the tables happens on the flusher thread.
    pub fn commit(&self, ops: Vec<Op>) -> Result<(), DbError> {
        let number = self.queue(ops, None, false)?;
        self.wait_durable(number)
    }

    /// Queues `ops`, with every staged write before them, as one atomic
    /// commit and returns at once: every reader sees the commit from now
    /// on, and the committer thread makes it durable (one fsync for all
    /// the commits queued meanwhile), then runs `then`. Commits become
    /// durable in the order they are queued, so a later [`commit`](Self::commit)
    /// returning means this one is durable too. If logging fails, `then`
    /// never runs and every later commit reports the failure.
    pub fn commit_then(
        &self,
        ops: Vec<Op>,
        then: impl FnOnce() + Send + 'static,
    ) -> Result<(), DbError> {
        self.queue(ops, Some(Box::new(then)), false).map(|_| ())
    }

    /// Queues `ops`, with every staged write before them, as one atomic
    /// commit, like [`commit_then`](Self::commit_then), but does not have
    /// the log written for it: it is logged, and durable, with the next
    /// commit that is (in queue order, so never before the commits queued
    /// ahead of it). For writes that can be made again after a crash and
    /// should not cost a log write and fsync of their own.
    pub fn commit_lazily(&self, ops: Vec<Op>) -> Result<(), DbError> {
        self.queue(ops, None, true).map(|_| ())
    }

    /// Queues a commit; returns its number (or, when there is nothing to
    /// write, the number of the last commit queued). Unless `lazy`, the
    /// committer logs it, and every lazy commit before it, at once.
    fn queue(&self, ops: Vec<Op>, then: Option<Then>, lazy: bool) -> Result<u64, DbError> {
        {
            // Backpressure: never let the log fall far behind the queue,
            // nor the tables far behind the log.
            let mut work = lock(&self.inner.work);
            while (work.queued.saturating_sub(work.durable) >= MAX_PENDING
                || work.logged > MAX_LOGGED)
                && work.failed.is_none()
                && !work.stop_committer
            {
                // Lazy commits count too: have them logged, or nothing
                // would.
                if work.eager < work.queued {
                    work.eager = work.queued;
                    self.inner.changed.notify_all();
                }
                work = self
                    .inner
                    .changed
                    .wait(work)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if let Some(reason) = &work.failed {
                return Err(self.inner.failed(reason));
            }
        }
        // Staged writes leave the staging area, and the state cache takes
        // the new values, in the same moment that readers start to see the
        // commit in the database.
        let mut staged = lock(&self.inner.staged);
        let mut all = std::mem::take(&mut *staged);
        all.extend(ops);
        let empty = all.is_empty();
        if !empty {
            let mut cache = lock(&self.inner.cache);
            cache.wrote(&all);
            if let Err(e) = self.inner.db.commit(all) {
                // The cache must not hold what the database refused.
                cache.clear();
                return Err(self.inner.err(e));
            }
        }
        let mut work = lock(&self.inner.work);
        if !empty {
            work.queued = work.queued.saturating_add(1);
        }
        let number = work.queued;
        if !lazy {
            // Even with nothing of its own to write: a commit waits for the
            // lazy ones before it.
            work.eager = number;
        }
        drop(staged);
        if let Some(then) = then {
            if work.durable >= number {
                drop(work);
                then();
                return Ok(number);
            }
            work.then.push_back((number, then));
        }
        self.inner.changed.notify_all();
        Ok(number)
    }

    /// Waits until commit `number` is durable.
    fn wait_durable(&self, number: u64) -> Result<(), DbError> {
        let mut work = lock(&self.inner.work);
        while work.durable < number && work.failed.is_none() {
            work = self
                .inner
                .changed
                .wait(work)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        match &work.failed {
            Some(reason) if work.durable < number => Err(self.inner.failed(reason)),
            _ => Ok(()),
        }
    }

    /// Stages `ops` to be written with the next [`commit`](Self::commit)
    /// (in front of its own ops, in the same atomic record). [`get`](Self::get)
    /// sees them at once; a crash before that commit loses them. For writes
    /// that are worth keeping but need not be durable on their own.
    pub fn stage(&self, ops: Vec<Op>) {
        lock(&self.inner.staged).extend(ops);
    }

    /// The value under `key` in `column`, staged writes included.
    pub fn get(&self, column: u8, key: &[u8]) -> Result<Option<Vec<u8>>, DbError> {
        {
            let staged = lock(&self.inner.staged);
            if let Some((_, _, value)) = staged
                .iter()
                .rev()
                .find(|(c, k, _)| *c == column && k == key)
            {
                return Ok(value.clone());
            }
        }
        if column != col::STATE {
            return self
                .inner
                .db
                .get(column, key)
                .map_err(|e| self.inner.err(e));
        }
        let generation = {
            let mut cache = lock(&self.inner.cache);
            if let Some(value) = cache.get(key) {
                return Ok(value);
            }
            cache.generation
        };
        let value = self
            .inner
            .db
            .get(column, key)
            .map_err(|e| self.inner.err(e))?;
        let mut cache = lock(&self.inner.cache);
        // Kept only if no commit came between the read and now (it could
        // have changed the entry after this read).
        if cache.generation == generation {
            cache.insert(key.to_vec(), value.clone());
        }
        Ok(value)
    }

    /// Entries of a btree column whose key starts with `prefix`, in key
    /// order, at most `limit`.
    pub fn scan(&self, column: u8, prefix: &[u8], limit: usize) -> Result<Entries, DbError> {
        let err = |e| self.inner.err(e);
        let mut iter = self.inner.db.iter(column).map_err(err)?;
        iter.seek(prefix).map_err(err)?;
        let mut out = Vec::new();
        while out.len() < limit {
            match iter.next().map_err(err)? {
                Some((key, value)) if key.starts_with(prefix) => out.push((key, value)),
                _ => break,
            }
        }
        Ok(out)
    }

    /// The ledger state in this database, as a [`StateStore`].
    pub fn state(&self) -> StateDb<'_> {
        StateDb { db: self }
    }

    /// State changes as ops of the `STATE` column.
    pub fn state_ops(changes: ChangeSet) -> impl Iterator<Item = Op> {
        changes.into_iter().map(|(k, v)| (col::STATE, k, v))
    }
}

/// Bytes of `STATE` entries one cache generation holds before it becomes
/// the old one (so the cache holds at most about twice this).
const CACHE_GENERATION_BYTES: usize = 64 << 20;
/// What one cached entry costs besides its key and value, roughly.
const CACHE_ENTRY_OVERHEAD: usize = 64;

/// A write-through cache of `STATE` entries (absent ones too), so that hot
/// accounts and state-commitment nodes are not looked up in parity-db's
/// btree again and again. Two generations approximate least-recently-used:
/// entries are added to the new one; when it is full it replaces the old
/// one, and an entry read from the old one moves back to the new.
#[derive(Default)]
struct StateCache {
    new: HashMap<Vec<u8>, Option<Vec<u8>>>,
    old: HashMap<Vec<u8>, Option<Vec<u8>>>,
    new_bytes: usize,
    /// Counts commits, so that a read that raced one is not cached.
    generation: u64,
}

impl StateCache {
    fn get(&mut self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        if let Some(value) = self.new.get(key) {
            return Some(value.clone());
        }
        let (key, value) = self.old.remove_entry(key)?;
        self.insert(key, value.clone());
        Some(value)
    }

    fn insert(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        let size = key.len() + value.as_ref().map_or(0, Vec::len) + CACHE_ENTRY_OVERHEAD;
        self.new_bytes = self.new_bytes.saturating_add(size);
        self.new.insert(key, value);
        if self.new_bytes > CACHE_GENERATION_BYTES {
            self.old = std::mem::take(&mut self.new);
            self.new_bytes = 0;
        }
    }

    /// Forgets everything (and no read in flight is cached).
    fn clear(&mut self) {
        self.new.clear();
        self.old.clear();
        self.new_bytes = 0;
        self.generation = self.generation.wrapping_add(1);
    }

    /// A commit of `ops`: their `STATE` writes become the cached values.
    fn wrote(&mut self, ops: &[Op]) {
        self.generation = self.generation.wrapping_add(1);
        for (column, key, value) in ops {
            if *column == col::STATE {
                self.old.remove(key);
                self.insert(key.clone(), value.clone());
            }
        }
    }
}

impl Drop for NodeDb {
    fn drop(&mut self) {
        let current = std::thread::current().id();
        if self
            .committer
            .as_ref()
            .is_some_and(|committer| committer.thread().id() == current)
        {
            // Dropped by a callback on the committer thread, which cannot
            // wait for itself: both threads finish what is queued and
            // logged on their own. Staged writes are lost, as in a crash.
            let mut work = lock(&self.inner.work);
            work.stop_committer = true;
            work.stop_flusher = true;
            self.inner.changed.notify_all();
            return;
        }
        // Staged writes go out with a last commit; the committer logs
        // everything queued, then the flusher applies everything logged.
        if let Err(e) = self.commit(Vec::new()) {
            tracing::warn!(error = %e, "db.close: staged writes not committed");
        }
        for (stop, thread) in [
            (
                Self::stop_committer as fn(&mut Pipeline),
                self.committer.take(),
            ),
            (Self::stop_flusher, self.flusher.take()),
        ] {
            stop(&mut lock(&self.inner.work));
            self.inner.changed.notify_all();
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        }
    }
}

impl NodeDb {
    fn stop_committer(work: &mut Pipeline) {
        work.stop_committer = true;
    }

    fn stop_flusher(work: &mut Pipeline) {
        work.stop_flusher = true;
    }
}

impl Inner {
    fn err(&self, source: parity_db::Error) -> DbError {
        DbError::Db {
            path: self.path.clone(),
            source,
        }
    }

    fn failed(&self, reason: &str) -> DbError {
        DbError::Db {
            path: self.path.clone(),
            source: parity_db::Error::Io(std::io::Error::other(format!(
                "applying the log to the tables failed earlier: {reason}"
            ))),
        }
    }

    /// The committer thread: writes every queued commit to the log as one
    /// record each, fsyncs the log once for all of them (`sync_wal`), runs
    /// what waited for them, in commit order, and then counts them durable
    /// (which wakes [`NodeDb::commit`]).
    fn committer(&self) {
        loop {
            let (from, to) = {
                let mut work = lock(&self.work);
                while work.eager <= work.durable && !work.stop_committer {
                    work = self
                        .changed
                        .wait(work)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                if work.queued == work.durable {
                    return;
                }
                (work.durable, work.queued)
            };
            let logged = {
                let _log = lock(&self.log_lock);
                (from..to)
                    .try_for_each(|_| self.db.process_commits())
                    .and_then(|()| self.db.flush_logs())
            };
            let mut work = lock(&self.work);
            if let Err(e) = logged {
                tracing::error!(path = %self.path, error = %e, "db.commit: cannot write the log");
                work.failed = Some(e.to_string());
                work.then.clear();
                self.changed.notify_all();
                return;
            }
            work.logged = work.logged.saturating_add(to.saturating_sub(from));
            self.changed.notify_all();
            // What waited for these commits runs before they count as
            // durable, so that once a commit returns, everything announced
            // for the commits before it has been.
            loop {
                let mut ready = Vec::new();
                while work.then.front().is_some_and(|(number, _)| *number <= to) {
                    if let Some((_, then)) = work.then.pop_front() {
                        ready.push(then);
                    }
                }
                if ready.is_empty() {
                    break;
                }
                drop(work);
                for then in ready {
                    then();
                }
                work = lock(&self.work);
            }
            work.durable = to;
            self.changed.notify_all();
        }
    }

    /// The flusher thread: applies logged commits to the tables (fsynced,
    /// `sync_data`), drives pending reindexing, and recycles log files.
    /// Readers see a commit from the moment it is queued, so nothing waits
    /// for this but memory, which [`MAX_LOGGED`] bounds.
    fn flusher(&self) {
        loop {
            let taken = {
                let mut work = lock(&self.work);
                while work.logged == 0 && !work.stop_flusher {
                    work = self
                        .changed
                        .wait(work)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                if work.logged == 0 {
                    return;
                }
                work.logged
            };
            let pass = self.flush_pass();
            let mut work = lock(&self.work);
            work.logged = work.logged.saturating_sub(taken);
            if let Err(e) = pass {
                tracing::error!(path = %self.path, error = %e, "db.flush: cannot apply the log to the tables");
                work.failed = Some(e.to_string());
                self.changed.notify_all();
                return;
            }
            self.changed.notify_all();
            // Pause, unless stopping or the log is piling up.
            let _ = self
                .changed
                .wait_timeout_while(work, FLUSH_PAUSE, |w| {
                    !w.stop_flusher && w.logged < MAX_LOGGED / 2
                })
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn flush_pass(&self) -> Result<(), parity_db::Error> {
        self.db.enact_logs()?;
        {
            let _log = lock(&self.log_lock);
            for _ in 0..REINDEX_STEPS_PER_PASS {
                self.db.process_reindex()?;
            }
            self.db.flush_logs()?;
        }
        self.db.enact_logs()?;
        self.db.clean_logs()
    }
}

/// The ledger state column as a [`StateStore`]. Reads see every committed
/// write; `put`, `delete` and `commit` are each one durable commit.
#[derive(Debug, Clone, Copy)]
pub struct StateDb<'a> {
    db: &'a NodeDb,
}

fn store_error(e: DbError) -> StoreError {
    StoreError {
        message: e.to_string(),
    }
}

impl StateStore for StateDb<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.get(col::STATE, key).map_err(store_error)
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.db
            .commit(vec![(col::STATE, key.to_vec(), Some(value.to_vec()))])
            .map_err(store_error)
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.db
            .commit(vec![(col::STATE, key.to_vec(), None)])
            .map_err(store_error)
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Entries, StoreError> {
        self.db
            .scan(col::STATE, prefix, usize::MAX)
            .map_err(store_error)
    }

    fn commit(&mut self, changes: ChangeSet) -> Result<(), StoreError> {
        self.db
            .commit(NodeDb::state_ops(changes).collect())
            .map_err(store_error)
    }
}

/// A read-only view of a store with unfinalized blocks' writes on top
/// (oldest first), to build or check a block on a parent that is not final.
#[derive(Debug)]
pub struct Layered<'a, S> {
    base: &'a S,
    layers: Vec<&'a ChangeSet>,
}

impl<'a, S: StateStore> Layered<'a, S> {
    /// `layers` oldest first.
    pub fn new(base: &'a S, layers: Vec<&'a ChangeSet>) -> Self {
        Self { base, layers }
    }
}

impl<S: StateStore> StateStore for Layered<'_, S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        for layer in self.layers.iter().rev() {
            if let Some(value) = layer.get(key) {
                return Ok(value.clone());
            }
        }
        self.base.get(key)
    }

    fn put(&mut self, _: &[u8], _: &[u8]) -> Result<(), StoreError> {
        Err(StoreError {
            message: "layered state view is read-only".into(),
        })
    }

    fn delete(&mut self, _: &[u8]) -> Result<(), StoreError> {
        Err(StoreError {
            message: "layered state view is read-only".into(),
        })
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Entries, StoreError> {
        let mut merged: std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>> = self
            .base
            .scan_prefix(prefix)?
            .into_iter()
            .map(|(k, v)| (k, Some(v)))
            .collect();
        for layer in &self.layers {
            for (k, v) in layer.range(prefix.to_vec()..) {
                if !k.starts_with(prefix) {
                    break;
                }
                merged.insert(k.clone(), v.clone());
            }
        }
        Ok(merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }
}

/// Little binary helpers for the node's own records.
pub(crate) mod bin {
    /// Appends a `u32_le` length and the bytes.
    pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(bytes);
    }

    /// A reader over a record.
    pub struct Reader<'a>(pub &'a [u8]);

    impl<'a> Reader<'a> {
        pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            if self.0.len() < n {
                return None;
            }
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            Some(head)
        }

        pub fn u64(&mut self) -> Option<u64> {
            self.take(8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
        }

        pub fn u32(&mut self) -> Option<u32> {
            self.take(4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
        }

        pub fn u8(&mut self) -> Option<u8> {
            self.take(1).and_then(|b| b.first().copied())
        }

        pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
            self.take(N).and_then(|b| b.try_into().ok())
        }

        pub fn bytes(&mut self) -> Option<&'a [u8]> {
            let n = usize::try_from(self.u32()?).ok()?;
            self.take(n)
        }

        pub fn done(&self) -> bool {
            self.0.is_empty()
        }
    }
}

/// The finalized head: what a restart continues from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Its height (0: genesis).
    pub height: u64,
    /// Its ledger block id (the genesis id at height 0).
    pub block_id: Hash,
    /// The state root after it.
    pub state_root: Hash,
    /// Its consensus view.
    pub view: u64,
    /// Its consensus block id.
    pub consensus_id: [u8; 32],
    /// The beacon after it.
    pub beacon: [u8; 32],
    /// Its timestamp.
    pub timestamp_ms: u64,
}

impl Head {
    /// Encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(168);
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.block_id.0);
        out.extend_from_slice(&self.state_root.0);
        out.extend_from_slice(&self.view.to_le_bytes());
        out.extend_from_slice(&self.consensus_id);
        out.extend_from_slice(&self.beacon);
        out.extend_from_slice(&self.timestamp_ms.to_le_bytes());
        out
    }

    /// Decoding.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut r = bin::Reader(bytes);
        let head = Self {
            height: r.u64()?,
            block_id: Hash(r.array()?),
            state_root: Hash(r.array()?),
            view: r.u64()?,
            consensus_id: r.array()?,
            beacon: r.array()?,
            timestamp_ms: r.u64()?,
        };
        r.done().then_some(head)
    }
}

/// The running epoch, its leader-selection seed, and the beacon at its
/// start (from which the seed of the epoch after next is derived:
/// `sherd_consensus::engine::epoch_seed(e + 1, beacon at the start of e)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochInfo {
    /// The epoch.
    pub epoch: u64,
    /// Its seed.
    pub seed: [u8; 32],
    /// The beacon after the block before its first block.
    pub start_beacon: [u8; 32],
}

impl EpochInfo {
    /// Encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.epoch.to_le_bytes().to_vec();
        out.extend_from_slice(&self.seed);
        out.extend_from_slice(&self.start_beacon);
        out
    }

    /// Decoding.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut r = bin::Reader(bytes);
        let info = Self {
            epoch: r.u64()?,
            seed: r.array()?,
            start_beacon: r.array()?,
        };
        r.done().then_some(info)
    }

    /// The next epoch, once this one's last block (after which the beacon
    /// is `beacon`) is final.
    pub fn next(&self, beacon: [u8; 32]) -> Self {
        let epoch = self.epoch.saturating_add(1);
        Self {
            epoch,
            seed: sherd_consensus::engine::epoch_seed(epoch, &self.start_beacon),
            start_beacon: beacon,
        }
    }
}

/// A finalized block as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlock {
    /// The ledger block's wire bytes.
    pub block: Vec<u8>,
    /// The consensus header (`Wire` encoding of the `Proposal`).
    pub proposal: Vec<u8>,
    /// The finalization certificate (`Wire`), of this block or a descendant.
    pub certificate: Vec<u8>,
    /// The beacon after the block.
    pub beacon: [u8; 32],
}

impl StoredBlock {
    /// Encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.block.len().saturating_add(512));
        bin::put_bytes(&mut out, &self.block);
        bin::put_bytes(&mut out, &self.proposal);
        bin::put_bytes(&mut out, &self.certificate);
        out.extend_from_slice(&self.beacon);
        out
    }

    /// Decoding.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut r = bin::Reader(bytes);
        let stored = Self {
            block: r.bytes()?.to_vec(),
            proposal: r.bytes()?.to_vec(),
            certificate: r.bytes()?.to_vec(),
            beacon: r.array()?,
        };
        r.done().then_some(stored)
    }
}

/// Where a finalized transaction is, and what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxLocation {
    /// Block height.
    pub height: u64,
    /// Index in the block.
    pub index: u32,
    /// `None`: success; `Some(reason)`: failed.
    pub failure: Option<String>,
    /// A `SubmitProofs`'s verdict on each of its proofs, in batch order
    /// (empty for other kinds).
    pub proofs: Vec<ProofOutcome>,
}

/// What the ledger decided about one proof of a `SubmitProofs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofOutcome {
    /// Accepted: the provider was paid this escrow share and reward (base
    /// units).
    Accepted {
        /// Escrow paid.
        escrow: u64,
        /// New currency issued.
        reward: u64,
    },
    /// Refused, with the ledger's reason.
    Refused(String),
}

impl TxLocation {
    /// Encoding: `u64 height ‖ u32 index ‖ tag`, the tag 0 (success) or
    /// 1 (failed, then the reason) when there are no proof verdicts, 2
    /// (success) or 3 (failed, then the reason) followed by `u32 count ‖
    /// verdicts` (each `u8 0 ‖ u64 escrow ‖ u64 reward`, or `u8 1 ‖
    /// reason`). Locations written before verdicts existed read as before.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.height.to_le_bytes().to_vec();
        out.extend_from_slice(&self.index.to_le_bytes());
        let verdicts = u8::from(!self.proofs.is_empty()) * 2;
        match &self.failure {
            None => out.push(verdicts),
            Some(reason) => {
                out.push(1 + verdicts);
                bin::put_bytes(&mut out, reason.as_bytes());
            }
        }
        if !self.proofs.is_empty() {
            let count = u32::try_from(self.proofs.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&count.to_le_bytes());
            for p in self.proofs.iter().take(count as usize) {
                match p {
                    ProofOutcome::Accepted { escrow, reward } => {
                        out.push(0);
                        out.extend_from_slice(&escrow.to_le_bytes());
                        out.extend_from_slice(&reward.to_le_bytes());
                    }
                    ProofOutcome::Refused(reason) => {
                        out.push(1);
                        bin::put_bytes(&mut out, reason.as_bytes());
                    }
                }
            }
        }
        out
    }

    /// Decoding.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut r = bin::Reader(bytes);
        let height = r.u64()?;
        let index = r.u32()?;
        let tag = r.u8()?;
        let failure = match tag {
            0 | 2 => None,
            1 | 3 => Some(String::from_utf8(r.bytes()?.to_vec()).ok()?),
            _ => return None,
        };
        let mut proofs = Vec::new();
        if tag >= 2 {
            let count = r.u32()?;
            for _ in 0..count {
                proofs.push(match r.u8()? {
                    0 => ProofOutcome::Accepted {
                        escrow: r.u64()?,
                        reward: r.u64()?,
                    },
                    1 => ProofOutcome::Refused(String::from_utf8(r.bytes()?.to_vec()).ok()?),
                    _ => return None,
                });
            }
        }
        r.done().then_some(Self {
            height,
            index,
            failure,
            proofs,
        })
    }
}

/// Key of the account → tx index: address ‖ !height ‖ !index, so that a
/// forward scan of an address gives its newest transactions first.
pub fn account_tx_key(address: &[u8; 32], height: u64, index: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(44);
    key.extend_from_slice(address);
    key.extend_from_slice(&(!height).to_be_bytes());
    key.extend_from_slice(&(!index).to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_bad_bytes() {
        let head = Head {
            height: 7,
            block_id: Hash([1; 32]),
            state_root: Hash([2; 32]),
            view: 9,
            consensus_id: [3; 32],
            beacon: [4; 32],
            timestamp_ms: 1_700_000_000_000,
        };
        let bytes = head.to_bytes();
        assert_eq!(Head::from_bytes(&bytes), Some(head));
        assert_eq!(Head::from_bytes(&bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Head::from_bytes(&longer), None);

        let epoch = EpochInfo {
            epoch: 3,
            seed: [5; 32],
            start_beacon: [6; 32],
        };
        assert_eq!(EpochInfo::from_bytes(&epoch.to_bytes()), Some(epoch));
        let next = epoch.next([7; 32]);
        assert_eq!((next.epoch, next.start_beacon), (4, [7; 32]));
        assert_eq!(next.seed, sherd_consensus::engine::epoch_seed(4, &[6; 32]));

        let stored = StoredBlock {
            block: vec![1, 2, 3],
            proposal: vec![4],
            certificate: vec![],
            beacon: [8; 32],
        };
        assert_eq!(StoredBlock::from_bytes(&stored.to_bytes()), Some(stored));
        assert_eq!(StoredBlock::from_bytes(&[0xff; 8]), None);

        let verdicts = vec![
            ProofOutcome::Accepted {
                escrow: 7,
                reward: 1_000,
            },
            ProofOutcome::Refused("already proven for this period".into()),
        ];
        for failure in [None, Some("insufficient funds".to_string())] {
            for proofs in [Vec::new(), verdicts.clone()] {
                let location = TxLocation {
                    height: 5,
                    index: 2,
                    failure: failure.clone(),
                    proofs,
                };
                assert_eq!(TxLocation::from_bytes(&location.to_bytes()), Some(location));
            }
        }
        // A location written before verdicts existed still reads.
        let mut old = 5u64.to_le_bytes().to_vec();
        old.extend_from_slice(&2u32.to_le_bytes());
        old.push(0);
        assert_eq!(TxLocation::from_bytes(&old).unwrap().proofs, Vec::new());
        let mut bad_tag = vec![0; 12];
        bad_tag.push(4);
        assert_eq!(TxLocation::from_bytes(&bad_tag), None);
        let mut truncated = vec![0; 12];
        truncated.push(2);
        assert_eq!(TxLocation::from_bytes(&truncated), None);
        assert_eq!(TxLocation::from_bytes(&[0; 11]), None);
    }

    #[test]
    fn account_tx_keys_sort_newest_first() {
        let a = [9; 32];
        let mut keys = [
            account_tx_key(&a, 1, 0),
            account_tx_key(&a, 2, 0),
            account_tx_key(&a, 2, 1),
            account_tx_key(&a, 10, 0),
        ];
        keys.sort();
        assert_eq!(keys[0], account_tx_key(&a, 10, 0));
        assert_eq!(keys[1], account_tx_key(&a, 2, 1));
        assert_eq!(keys[3], account_tx_key(&a, 1, 0));
        assert!(keys.iter().all(|k| k.starts_with(&a)));
    }

    fn counters(db: &NodeDb) -> (u64, u64) {
        let work = lock(&db.inner.work);
        (work.queued, work.durable)
    }

    #[test]
    fn a_lazy_commit_is_seen_at_once_and_logged_with_the_next_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let key = |i: u32| i.to_be_bytes().to_vec();
        {
            let db = NodeDb::open(&path).unwrap();
            db.commit(vec![(col::TXS, key(0), Some(vec![0]))]).unwrap();
            db.commit_lazily(vec![(col::TXS, key(1), Some(vec![1]))])
                .unwrap();
            assert_eq!(db.get(col::TXS, &key(1)).unwrap(), Some(vec![1]));
            // Nothing asks for the log: the lazy commit waits.
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(counters(&db), (2, 1));
            db.commit(vec![(col::TXS, key(2), Some(vec![2]))]).unwrap();
            assert_eq!(counters(&db), (3, 3));
            // More lazy commits in a row than may wait for the log: they
            // have themselves logged rather than wait for ever.
            for i in 3..3 + 3 * u32::try_from(MAX_PENDING).unwrap() {
                db.commit_lazily(vec![(col::TXS, key(i), Some(vec![3]))])
                    .unwrap();
            }
            let (queued, durable) = counters(&db);
            assert!(queued - durable <= MAX_PENDING, "{queued} {durable}");
            // The last ones are logged when the database closes.
            db.commit_lazily(vec![(col::TXS, key(99), Some(vec![99]))])
                .unwrap();
        }
        let db = NodeDb::open(&path).unwrap();
        for i in [0, 1, 2, 3, 10, 26, 99] {
            assert!(db.get(col::TXS, &key(i)).unwrap().is_some(), "{i}");
        }
    }
}
