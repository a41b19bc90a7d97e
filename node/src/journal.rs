//! The consensus journal (own votes, certificates that moved the view) in
//! the `JOURNAL` column, keyed by a sequence number, stored in its `Wire`
//! encoding. An own vote is one durable commit before the engine sends it;
//! a certificate is staged and written with the next commit.

use std::sync::{Arc, Mutex};

use sherd_consensus::engine::{Entry, JournalError};
use sherd_consensus::{Journal, Wire};

use crate::store::{col, DbError, NodeDb, Op};

/// The consensus journal on the node's database.
#[derive(Debug, Clone)]
pub struct DbJournal {
    db: Arc<NodeDb>,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    /// (sequence, epoch, entry), oldest first.
    entries: Vec<(u64, u64, Entry)>,
}

fn entry_epoch(entry: &Entry) -> u64 {
    match entry {
        Entry::Vote(vote) => vote.epoch,
        Entry::Certificate { certificate, .. } => certificate.epoch,
    }
}

impl DbJournal {
    /// Loads the journal from `db`.
    pub fn load(db: Arc<NodeDb>) -> Result<Self, DbError> {
        let mut inner = Inner::default();
        for (key, value) in db.scan(col::JOURNAL, &[], usize::MAX)? {
            let corrupt = |reason: String| DbError::Corrupt {
                column: col::JOURNAL,
                reason,
            };
            let seq = <[u8; 8]>::try_from(key.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| corrupt("journal key is not 8 bytes".into()))?;
            let entry = Entry::decode(&value).map_err(|e| corrupt(e.to_string()))?;
            inner.next_seq = seq.saturating_add(1);
            inner.entries.push((seq, entry_epoch(&entry), entry));
        }
        Ok(Self {
            db,
            inner: Arc::new(Mutex::new(inner)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Deletes of every entry of an epoch before `epoch`, to commit with a
    /// block (the engine never reads them again); forgets them in memory.
    pub fn prune_before(&self, epoch: u64) -> Vec<Op> {
        let mut inner = self.lock();
        let mut ops = Vec::new();
        inner.entries.retain(|(seq, e, _)| {
            if *e < epoch {
                ops.push((col::JOURNAL, seq.to_be_bytes().to_vec(), None));
                false
            } else {
                true
            }
        });
        ops
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the journal is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Journal for DbJournal {
    fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let mut inner = self.lock();
        let seq = inner.next_seq;
        let op = (
            col::JOURNAL,
            seq.to_be_bytes().to_vec(),
            Some(entry.encode()),
        );
        match entry {
            // An own vote is durable before the engine sends it.
            Entry::Vote(_) => self.db.commit(vec![op]).map_err(|e| JournalError {
                reason: e.to_string(),
            })?,
            // A certificate is not needed for safety (a restarted engine
            // without it learns it again from its peers): it rides along
            // with the next durable write, the next vote or block.
            Entry::Certificate { .. } => self.db.stage(vec![op]),
        }
        inner.next_seq = seq.saturating_add(1);
        inner.entries.push((seq, entry_epoch(entry), entry.clone()));
        Ok(())
    }

    fn entries(&self) -> Vec<Entry> {
        self.lock()
            .entries
            .iter()
            .map(|(_, _, e)| e.clone())
            .collect()
    }
}
