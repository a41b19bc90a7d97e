//! Slashing protection and restart state: the engine's own votes are
//! persisted before they are sent, and so is every certificate that moves
//! it to a new view.
//!
//! The engine calls [`Journal::append`] with [`Entry::Vote`] for every vote
//! it is about to send and sends it only if that returns `Ok`. It appends
//! [`Entry::Certificate`] for each notarization, nullification or
//! finalization that moves it to a later view, and for each finalization
//! that finalizes new blocks (a failure there is ignored:
//! certificates are not needed for safety, only so that a restarted
//! validator can hand the certificate of its view to validators still
//! waiting for it). A restarted engine reads [`Journal::entries`], refuses to
//! sign anything that would conflict with its journaled votes (a second
//! notarize or finalize in a view, or a nullify next to a finalize), and
//! starts in the latest view it voted in or was moved to.
//!
//! Entries of other epochs are skipped. A real journal may drop entries at or
//! below the last finalized view of the epoch.
//!
//! An [`Entry`] has a canonical byte encoding for a persistent journal:
//! [`Wire`](crate::codec::Wire) in the [`codec`](crate::codec) (tag `0x14`),
//! pinned by the golden vectors like every message.

use super::message::Proposal;
use crate::certificate::Certificate;
use crate::vote::SignedVote;

/// The journal could not persist an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("journal write failed: {reason}")]
pub struct JournalError {
    /// What went wrong.
    pub reason: String,
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// An own vote, persisted before it was sent.
    Vote(SignedVote),
    /// A certificate that moved the engine to a later view, with the header
    /// of the certified block (notarizations and finalizations).
    Certificate {
        /// The certificate.
        certificate: Certificate,
        /// The header, if the certificate names a block.
        header: Option<Box<Proposal>>,
    },
}

/// Durable storage of the engine's own votes and view changes.
pub trait Journal {
    /// Persists an entry (durably, before returning `Ok`).
    fn append(&mut self, entry: &Entry) -> Result<(), JournalError>;
    /// Every entry persisted so far, oldest first.
    fn entries(&self) -> Vec<Entry>;
}

/// A journal in memory, for tests and the simulator.
#[derive(Debug, Clone, Default)]
pub struct MemoryJournal {
    entries: Vec<Entry>,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    /// The votes in the journal, oldest first.
    pub fn votes(&self) -> Vec<SignedVote> {
        self.entries
            .iter()
            .filter_map(|e| match e {
                Entry::Vote(vote) => Some(*vote),
                Entry::Certificate { .. } => None,
            })
            .collect()
    }
}

impl Journal for MemoryJournal {
    fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        self.entries.push(entry.clone());
        Ok(())
    }

    fn entries(&self) -> Vec<Entry> {
        self.entries.clone()
    }
}

impl<J: Journal + ?Sized> Journal for &mut J {
    fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        (**self).append(entry)
    }

    fn entries(&self) -> Vec<Entry> {
        (**self).entries()
    }
}
