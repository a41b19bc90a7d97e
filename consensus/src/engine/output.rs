//! What the engine asks for.

use super::input::TimerKind;
use super::message::{Digest, Message, Proposal};
use super::EngineError;
use crate::certificate::Certificate;
use crate::evidence::Evidence;
use crate::vote::{BlockId, View};

/// An output of [`Engine::handle`](super::Engine::handle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send to every other validator.
    Broadcast(Message),
    /// Send to one validator.
    Send {
        /// The recipient's signer index.
        to: u32,
        /// The message.
        message: Message,
    },
    /// Deliver `Input::Timeout { view, kind }` after `after_ms` virtual
    /// milliseconds. Timers are never cancelled: stale ones are ignored.
    SetTimer {
        /// The view.
        view: View,
        /// Which timer.
        kind: TimerKind,
        /// Delay in milliseconds.
        after_ms: u64,
    },
    /// Build a payload on `parent` for `view` and answer with `Input::Built`.
    Build {
        /// The view to propose in.
        view: View,
        /// The parent block.
        parent: BlockId,
        /// The parent's height (the new block is one higher).
        parent_height: u64,
    },
    /// Check this block's payload on its parent and answer with
    /// `Input::Verified`.
    Verify(Proposal),
    /// `block` is final. Emitted once per block, in height order. For a block
    /// finalized as an ancestor, `certificate` is the finalization of the
    /// descendant that finalized it (its id chain leads to that block).
    Finalized {
        /// The header.
        block: Proposal,
        /// A finalization of this block or of a descendant.
        certificate: Certificate,
        /// The beacon value after this block's reveal.
        beacon: Digest,
    },
    /// The epoch's last block is final (the last `Finalized` before this
    /// one); start the next epoch with [`Engine::next_epoch`](super::Engine::next_epoch).
    EpochEnded {
        /// The epoch that ended.
        epoch: crate::validators::Epoch,
        /// Its last block, the anchor of the next epoch.
        last: super::Anchor,
    },
    /// A valid finalization of a block that does not extend this engine's
    /// finalized chain. Only possible if more than a third of the stake is
    /// Byzantine: the engine ignores it, the operator must be alerted.
    ConflictingFinalization(Certificate),
    /// A validator signed two conflicting votes.
    Evidence(Evidence),
    /// Pending votes for `vote` were checked (in aggregate, with bisection
    /// to find bad ones): the network layer relays the valid ones and
    /// blames whoever sent the invalid ones.
    VotesChecked {
        /// Their epoch.
        epoch: crate::validators::Epoch,
        /// What they vote for.
        vote: crate::vote::Vote,
        /// Signers whose votes verified.
        valid: Vec<u32>,
        /// Signers whose votes did not.
        invalid: Vec<u32>,
    },
    /// A message was rejected (a bad or useless input, never an engine fault).
    Rejected {
        /// The sender.
        from: u32,
        /// Why.
        error: EngineError,
    },
}

/// What a handled message turned out to be, for a network layer deciding
/// whether to relay it to others ([`Engine::handle_message`](super::Engine::handle_message)):
/// only what was checked in full is worth relaying, only what is invalid
/// is its sender's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relay {
    /// Checked in full, and new here: relay it.
    Verified,
    /// A vote past its cheap checks (epoch, signer, view window), waiting
    /// to be verified in aggregate with others; [`Output::VotesChecked`]
    /// gives the verdict.
    Pending,
    /// Nothing to relay and nobody's fault: known already, stale, this
    /// validator's own, a fetch, or not checkable yet (another epoch, a
    /// view outside the window).
    Redundant,
    /// Invalid (a bad signature, a proposal by someone else than the
    /// leader, a header that does not match its certificate, ...): a fault
    /// of whoever sent it.
    Invalid,
}
