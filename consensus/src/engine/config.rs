//! How an engine is set up.

use std::sync::Arc;

use super::message::Digest;
use crate::validators::ValidatorSet;
use crate::vote::{BlockId, ChainId, View};

/// Whether signatures are made and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureMode {
    /// Sign and verify everything (BLS). The only mode for a real node.
    Verify,
    /// No signing, no verification (placeholder signatures): for the
    /// simulator, where every validator is built by the test.
    Trusted,
}

/// The last finalized block the engine builds on (genesis at first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// Its view (0 for genesis).
    pub view: View,
    /// Its height (0 for genesis).
    pub height: u64,
    /// Its id.
    pub block_id: BlockId,
    /// The beacon value after it.
    pub beacon: Digest,
}

/// How an engine is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The chain.
    pub chain_id: ChainId,
    /// The epoch's validators.
    pub validators: Arc<ValidatorSet>,
    /// The seed of leader selection for the epoch.
    pub epoch_seed: Digest,
    /// This validator's signer index.
    pub me: u32,
    /// The last finalized block.
    pub anchor: Anchor,
    /// Leader timer (~2Δ), ms.
    pub leader_timeout_ms: u64,
    /// Advance timer (~3Δ), ms.
    pub advance_timeout_ms: u64,
    /// Period of re-sending `nullify` while stuck in a view, ms.
    pub retry_ms: u64,
    /// The vote window: votes and proposals more than this many views
    /// ahead of the current view, or behind it, are dropped, and views that
    /// fall behind the window lose their vote state (tallies, votes seen),
    /// keeping only their proposal, certificates and own votes.
    pub max_views_ahead: u64,
    /// Signatures on or off (simulation only).
    pub signatures: SignatureMode,
    /// A leader whose proposal this engine missed in this many of its views
    /// in a row gets no leader timer: the engine nullifies its view at once
    /// (0: never). Any proposal from it resets the count.
    pub silent_leader_views: u32,
    /// The height of the epoch's last block, if the epoch ends: once the
    /// block at this height is final the engine emits [`Output::EpochEnded`](super::Output::EpochEnded)
    /// and stops; blocks above it are never reported final.
    pub last_height: Option<u64>,
}
