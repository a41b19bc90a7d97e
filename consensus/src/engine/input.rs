//! What the engine is told.

use super::message::{Digest, Message};
use crate::vote::{BlockId, View};

/// The two timers of a view (DESIGN §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKind {
    /// No acceptable proposal arrived in time (about 2Δ): nullify.
    Leader,
    /// No certificate for the view in time (about 3Δ): nullify; then it is
    /// re-armed with the retry period, and every time it fires the engine
    /// re-sends its `nullify(v)` with the certificate that brought it into `v`.
    Advance,
}

/// An input to [`Engine::handle`](super::Engine::handle).
// Inputs are moved straight into `handle`; boxing the message would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Start (or restart): sets the first timers and re-sends the votes of
    /// the current view found in the journal. Give it once, first.
    Start,
    /// A message from validator `from`.
    Message {
        /// The sender's signer index (as the transport authenticated it).
        from: u32,
        /// The message.
        message: Message,
    },
    /// A timer set by [`Output::SetTimer`](super::Output::SetTimer) fired.
    Timeout {
        /// The view it was set for.
        view: View,
        /// Which timer.
        kind: TimerKind,
    },
    /// The application built a payload asked for by
    /// [`Output::Build`](super::Output::Build).
    Built {
        /// The view of the request.
        view: View,
        /// The parent of the request.
        parent: BlockId,
        /// The digest of the payload.
        payload: Digest,
    },
    /// The application's verdict on a payload asked for by
    /// [`Output::Verify`](super::Output::Verify).
    Verified {
        /// The block.
        block_id: BlockId,
        /// Whether the payload is valid on its parent.
        valid: bool,
    },
}
