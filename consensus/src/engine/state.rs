//! Per-view bookkeeping: vote tallies, certificates, own votes and the
//! votes seen per signer (for evidence).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::message::{placeholder_signature, Proposal};
use super::SignatureMode;
use crate::certificate::{Certificate, SignerBitmap};
use crate::collector::{Certification, VoteCollector};
use crate::validators::ValidatorSet;
use crate::vote::{BlockId, ChainId, SignedVote, Vote};

/// Votes for one vote message, verified by aggregate ([`VoteCollector`]) or
/// trusted (simulation only).
#[derive(Debug)]
pub(super) enum Tally {
    Checked(Box<VoteCollector>),
    Trusted {
        vote: Vote,
        validators: Arc<ValidatorSet>,
        signers: SignerBitmap,
        power: u128,
    },
}

impl Tally {
    pub(super) fn new(
        mode: SignatureMode,
        chain_id: &ChainId,
        validators: &Arc<ValidatorSet>,
        vote: Vote,
    ) -> Self {
        match mode {
            SignatureMode::Verify => Self::Checked(Box::new(VoteCollector::new(
                chain_id,
                validators.clone(),
                vote,
            ))),
            SignatureMode::Trusted => Self::Trusted {
                vote,
                validators: validators.clone(),
                signers: SignerBitmap::new(validators.len()),
                power: 0,
            },
        }
    }

    /// Adds a vote (already checked for epoch and signer range).
    pub(super) fn add(&mut self, vote: &SignedVote) {
        match self {
            // Duplicates and wrong votes are simply not counted.
            Self::Checked(collector) => {
                let _ = collector.add(vote);
            }
            Self::Trusted {
                vote: expected,
                validators,
                signers,
                power,
            } => {
                if vote.vote == *expected && signers.insert(vote.signer) == Ok(true) {
                    let add = validators.voting_power(vote.signer).unwrap_or_default();
                    *power = power.saturating_add(u128::from(add));
                }
            }
        }
    }

    /// A certificate, once the (verified) votes hold a quorum, and which
    /// pending votes were checked (trusted votes are never pending).
    pub(super) fn certify(&mut self) -> Certification {
        match self {
            Self::Checked(collector) => collector.certify(),
            Self::Trusted {
                vote,
                validators,
                signers,
                power,
            } => Certification {
                certificate: validators.is_quorum(*power).then(|| Certificate {
                    epoch: validators.epoch(),
                    vote: *vote,
                    signers: signers.clone(),
                    signature: placeholder_signature(),
                }),
                bad_signers: Vec::new(),
                verified_signers: Vec::new(),
            },
        }
    }
}

/// The votes one signer was seen to cast in a view (first of each kind).
#[derive(Debug, Default, Clone)]
pub(super) struct Seen {
    pub(super) notarize: Option<SignedVote>,
    pub(super) nullify: Option<SignedVote>,
    pub(super) finalize: Option<SignedVote>,
    /// Evidence already reported for this signer and view.
    pub(super) reported: bool,
}

/// Everything about one view.
#[derive(Debug, Default)]
pub(super) struct ViewState {
    /// The leader's first valid proposal.
    pub(super) proposal: Option<Proposal>,
    /// `Output::Verify` was emitted for the proposal.
    pub(super) verify_requested: bool,
    /// The application's verdict on the proposal.
    pub(super) verdict: Option<bool>,
    /// As leader: `Output::Build` was emitted / the proposal was sent.
    pub(super) build_requested: bool,
    pub(super) notarizes: BTreeMap<BlockId, Tally>,
    pub(super) nullifies: Option<Tally>,
    pub(super) finalizes: BTreeMap<BlockId, Tally>,
    pub(super) notarization: Option<Certificate>,
    pub(super) nullification: Option<Certificate>,
    pub(super) finalization: Option<Certificate>,
    /// Own votes.
    pub(super) my_notarize: Option<BlockId>,
    pub(super) my_nullify: bool,
    pub(super) my_finalize: Option<BlockId>,
    /// Own signed votes of this view, for re-sending.
    pub(super) my_votes: Vec<SignedVote>,
    /// Votes seen, by signer.
    pub(super) seen: BTreeMap<u32, Seen>,
}

impl ViewState {
    /// Drops the vote tallies and the votes seen; keeps the proposal, the
    /// certificates and this validator's own votes (the safety rules need
    /// them).
    pub(super) fn forget_votes(&mut self) {
        self.notarizes.clear();
        self.nullifies = None;
        self.finalizes.clear();
        self.seen.clear();
    }

    /// Whether any vote state is held.
    #[cfg(test)]
    pub(super) fn has_votes(&self) -> bool {
        !self.notarizes.is_empty()
            || self.nullifies.is_some()
            || !self.finalizes.is_empty()
            || !self.seen.is_empty()
    }
}
