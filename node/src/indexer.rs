//! The account index (`ACCOUNT_TXS`): for each address, the transactions it
//! sent and the transfers it received, newest first.
//!
//! The index is written **after** a block's commit, not in it. A final
//! block's commit (the one its finality waits for) carries what must be
//! durable with the block: the state, the block, its id and the
//! per-transaction `TXS` rows that answer "is my transaction final". The
//! index rows follow, from this module's thread (`db-indexer`), in a lazy
//! commit ([`NodeDb::commit_lazily`]) for every block that finished
//! meanwhile: it is logged with the next commit that is logged anyway, so
//! it costs no fsync of its own, and the consensus thread never inserts
//! the rows into the database's commit overlay.
//!
//! **Ordering.** The actor hands a block's rows over only after it has
//! queued the block's commit, and commits become durable in the order they
//! are queued: the index never runs ahead of the chain on disk. The `META`
//! key `indexed` records the height the index is complete through; it is
//! written in the same commit as the rows.
//!
//! **After a crash** the index may be behind the head by the blocks whose
//! rows were not yet logged. [`catch_up`] writes them from the stored
//! blocks before the node starts (the rows are a function of the block, so
//! writing one twice is harmless).
//!
//! **Readers.** [`Indexed`] says how far the index is visible (readers see
//! a commit once it is queued). The history routes wait until it covers
//! the status head they answer against, so a transaction reported final is
//! in its accounts' histories. As the rows are queued right after the
//! block's commit, and the head moves only once that commit is durable,
//! the index is nearly always there first.

use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use sherd_ledger::{Block, Hash, Transaction};
use tokio::sync::watch;

use crate::exec::parties;
use crate::store::{account_tx_key, col, meta, DbError, NodeDb, Op, StoredBlock};

/// Blocks handed over and not yet indexed before the consensus actor waits
/// for the indexer (each holds its rows in memory).
const QUEUE: usize = 1_024;
/// Most rows in one index commit.
const MAX_ROWS: usize = 200_000;
/// Blocks without rows the stored `indexed` mark may fall behind before it
/// is written on its own (what a restart reads again).
const MARK_EVERY: u64 = 1_024;
/// Blocks read and indexed per commit by [`catch_up`].
const CATCH_UP_BATCH: u64 = 256;

/// How far the account index is visible to readers.
#[derive(Debug)]
pub struct Indexed(watch::Sender<u64>);

impl Indexed {
    /// The index, complete through `height`.
    pub fn new(height: u64) -> Self {
        Self(watch::Sender::new(height))
    }

    /// The height the index is complete through.
    pub fn height(&self) -> u64 {
        *self.0.borrow()
    }

    /// Waits until the index is complete through `height`, for at most
    /// `timeout`. Returns the height it is complete through when it is not.
    pub async fn wait_for(&self, height: u64, timeout: Duration) -> Result<(), u64> {
        let mut seen = self.0.subscribe();
        let reached = tokio::time::timeout(timeout, seen.wait_for(|h| *h >= height))
            .await
            .is_ok_and(|r| r.is_ok());
        if reached {
            Ok(())
        } else {
            Err(self.height())
        }
    }

    fn set(&self, height: u64) {
        self.0.send_if_modified(|h| {
            let moved = height > *h;
            *h = (*h).max(height);
            moved
        });
    }
}

/// The index rows of the block at `height`: one per party of each
/// transaction, with its id.
pub fn rows<'a>(height: u64, txs: impl IntoIterator<Item = (&'a Transaction, Hash)>) -> Vec<Op> {
    let mut out = Vec::new();
    for ((tx, id), index) in txs.into_iter().zip(0u32..) {
        for party in parties(tx) {
            out.push((
                col::ACCOUNT_TXS,
                account_tx_key(&party, height, index),
                Some(id.0.to_vec()),
            ));
        }
    }
    out
}

/// The `META` write that marks the index complete through `height`.
fn mark(height: u64) -> Op {
    (
        col::META,
        meta::INDEXED.to_vec(),
        Some(height.to_be_bytes().to_vec()),
    )
}

/// The genesis commit's mark: a new chain's index is complete through 0.
pub fn genesis_mark() -> Op {
    mark(0)
}

/// The height the stored index is complete through. A database made before
/// the index had its own commits (no mark) wrote the rows in each block's
/// commit: it is complete through `head`.
fn stored_mark(db: &NodeDb, head: u64) -> Result<u64, DbError> {
    match db.get(col::META, meta::INDEXED)? {
        None => Ok(head),
        Some(bytes) => <[u8; 8]>::try_from(bytes.as_slice())
            .map(u64::from_be_bytes)
            .map_err(|_| DbError::Corrupt {
                column: col::META,
                reason: format!("the index mark is {} bytes, not 8", bytes.len()),
            }),
    }
}

/// Indexes the final blocks above the stored mark, through `head`, from the
/// stored blocks (what a crash left unindexed). Returns `head`.
pub fn catch_up(db: &NodeDb, head: u64) -> Result<u64, DbError> {
    let from = stored_mark(db, head)?;
    if from >= head {
        return Ok(head);
    }
    tracing::info!(
        from,
        head,
        "index.catch_up: indexing blocks a restart left behind"
    );
    let mut height = from;
    while height < head {
        let last = head.min(height.saturating_add(CATCH_UP_BATCH));
        let mut ops = Vec::new();
        for h in height + 1..=last {
            ops.extend(block_rows(db, h)?);
        }
        ops.push(mark(last));
        db.commit(ops)?;
        height = last;
    }
    Ok(head)
}

/// The index rows of the stored block at `height`.
fn block_rows(db: &NodeDb, height: u64) -> Result<Vec<Op>, DbError> {
    let corrupt = |reason: String| DbError::Corrupt {
        column: col::BLOCKS,
        reason: format!("block {height}: {reason}"),
    };
    let bytes = db
        .get(col::BLOCKS, &height.to_be_bytes())?
        .ok_or_else(|| corrupt("missing below the head".into()))?;
    let stored = StoredBlock::from_bytes(&bytes).ok_or_else(|| corrupt("unreadable".into()))?;
    let block = Block::from_bytes(&stored.block).map_err(|e| corrupt(e.to_string()))?;
    let ids = block
        .txs
        .iter()
        .map(|tx| tx.id())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt(e.to_string()))?;
    Ok(rows(height, block.txs.iter().zip(ids)))
}

/// A final block's rows, handed to the indexer.
struct Job {
    height: u64,
    rows: Vec<Op>,
}

/// The indexer thread and the way to it. Dropping it indexes what was
/// handed over and waits for the thread.
pub struct Indexer {
    jobs: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Indexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Indexer").finish_non_exhaustive()
    }
}

impl Indexer {
    /// Starts the indexer on `db`, whose index is complete through the
    /// height `indexed` holds.
    pub fn spawn(db: Arc<NodeDb>, indexed: Arc<Indexed>) -> std::io::Result<Self> {
        let (jobs, receiver) = mpsc::sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("db-indexer".into())
            .spawn(move || run(&db, &indexed, &receiver))?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Indexes the block at `height`, whose commit is queued, with `rows`
    /// ([`rows`]). Blocks when the indexer is [`QUEUE`] blocks behind.
    pub fn index(&self, height: u64, rows: Vec<Op>) {
        if let Some(jobs) = &self.jobs {
            // The thread ends only on a database failure, which the next
            // block's commit reports too.
            let _ = jobs.send(Job { height, rows });
        }
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The indexer's loop: every block handed over meanwhile in one lazy
/// commit, visible at once.
fn run(db: &NodeDb, indexed: &Indexed, jobs: &Receiver<Job>) {
    let mut marked = indexed.height();
    while let Ok(first) = jobs.recv() {
        let mut height = first.height;
        let mut ops = first.rows;
        while ops.len() < MAX_ROWS {
            match jobs.try_recv() {
                Ok(job) => {
                    height = job.height;
                    ops.extend(job.rows);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        // Blocks without transactions need no commit: only the mark moves,
        // and it is written with the next rows (or every MARK_EVERY blocks,
        // to bound what a restart reads again).
        if !ops.is_empty() || height.saturating_sub(marked) >= MARK_EVERY {
            ops.push(mark(height));
            if let Err(error) = db.commit_lazily(ops) {
                tracing::error!(%error, height, "index.commit: failed; account histories stop here");
                return;
            }
            marked = height;
        }
        indexed.set(height);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_waits_for_the_index_and_is_told_how_far_it_is() {
        let indexed = Arc::new(Indexed::new(3));
        assert_eq!(indexed.wait_for(3, Duration::ZERO).await, Ok(()));
        assert_eq!(indexed.wait_for(5, Duration::from_millis(20)).await, Err(3));
        let writer = Arc::clone(&indexed);
        let later = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            writer.set(6);
        });
        assert_eq!(indexed.wait_for(5, Duration::from_secs(10)).await, Ok(()));
        later.await.unwrap();
        // The mark never moves back.
        indexed.set(4);
        assert_eq!(indexed.height(), 6);
    }

    #[test]
    fn a_database_without_a_mark_is_indexed_through_its_head() {
        let dir = tempfile::tempdir().unwrap();
        let db = NodeDb::open(&dir.path().join("db")).unwrap();
        assert_eq!(stored_mark(&db, 9).unwrap(), 9);
        assert_eq!(catch_up(&db, 9).unwrap(), 9);
        db.commit(vec![mark(4)]).unwrap();
        assert_eq!(stored_mark(&db, 9).unwrap(), 4);
        db.commit(vec![(col::META, meta::INDEXED.to_vec(), Some(vec![1, 2]))])
            .unwrap();
        let refused = stored_mark(&db, 9).unwrap_err().to_string();
        assert!(refused.contains("index mark is 2 bytes"), "{refused}");
    }
}
