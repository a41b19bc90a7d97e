//! Why an engine cannot be built, or rejected an input.

use super::journal::JournalError;
use crate::certificate::CertificateError;
use crate::validators::Epoch;
use crate::vote::{View, VoteError};

/// Why the engine cannot be built, or rejected an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// `me` is not a signer index of the set.
    #[error("signer {me} is not in the validator set of {validators} validators")]
    NotAValidator {
        /// The index given.
        me: u32,
        /// The set's size.
        validators: usize,
    },
    /// The secret key is not the one of `me`.
    #[error("the secret key does not belong to signer {me}")]
    KeyMismatch {
        /// The index given.
        me: u32,
    },
    /// The journal holds a vote of another epoch or signer.
    #[error("journal holds a vote of epoch {epoch} by signer {signer}")]
    ForeignJournal {
        /// The vote's epoch.
        epoch: Epoch,
        /// The vote's signer.
        signer: u32,
    },
    /// A message of another epoch.
    #[error("message is for epoch {found}, the engine runs epoch {expected}")]
    WrongEpoch {
        /// The engine's epoch.
        expected: Epoch,
        /// The message's epoch.
        found: Epoch,
    },
    /// A vote or proposal for a view the engine does not track.
    #[error("view {view} is outside the window {low}..={high}")]
    ViewOutOfRange {
        /// The view.
        view: View,
        /// Lowest view accepted.
        low: View,
        /// Highest view accepted.
        high: View,
    },
    /// A proposal from someone else than the view's leader.
    #[error("proposal for view {view} by {proposer}, the leader is {leader}")]
    NotLeader {
        /// The view.
        view: View,
        /// Who proposed.
        proposer: u32,
        /// The leader.
        leader: u32,
    },
    /// The vote attached to a proposal is not the proposer's notarize of it.
    #[error("the vote attached to the proposal for view {view} is not its proposer's notarize")]
    ProposalVote {
        /// The view.
        view: View,
    },
    /// The beacon reveal does not verify.
    #[error("invalid beacon reveal of signer {proposer} for view {view}")]
    InvalidReveal {
        /// The view.
        view: View,
        /// The proposer.
        proposer: u32,
    },
    /// A certificate's header is not the certified block's.
    #[error("the header sent with the certificate of view {view} does not match it")]
    HeaderMismatch {
        /// The view.
        view: View,
    },
    /// A vote is invalid.
    #[error(transparent)]
    Vote(#[from] VoteError),
    /// A certificate is invalid.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// [`Engine::next_epoch`](super::Engine::next_epoch) before the epoch's last block is final.
    #[error("the epoch has not ended")]
    EpochNotEnded,
    /// The journal failed; the vote was not sent.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl EngineError {
    /// Whether the rejected message itself is at fault (a peer that relays
    /// it is misbehaving), rather than merely not checkable here now: a
    /// message of another epoch or a view outside the window may be valid
    /// for a validator ahead or behind, and engine-side failures are not
    /// the sender's.
    pub fn is_fault(&self) -> bool {
        match self {
            Self::NotLeader { .. }
            | Self::ProposalVote { .. }
            | Self::InvalidReveal { .. }
            | Self::HeaderMismatch { .. } => true,
            Self::Vote(error) => !matches!(error, VoteError::EpochMismatch { .. }),
            Self::Certificate(error) => !matches!(error, CertificateError::EpochMismatch { .. }),
            Self::WrongEpoch { .. }
            | Self::ViewOutOfRange { .. }
            | Self::NotAValidator { .. }
            | Self::KeyMismatch { .. }
            | Self::ForeignJournal { .. }
            | Self::EpochNotEnded
            | Self::Journal(_) => false,
        }
    }
}
