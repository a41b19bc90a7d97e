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
    /// A message was rejected (a bad or useless input, never an engine fault).
    Rejected {
        /// The sender.
        from: u32,
        /// Why.
        error: EngineError,
    },
}
