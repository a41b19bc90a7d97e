//! Per-view bookkeeping: vote tallies, certificates, own votes and the
//! votes seen per signer (for evidence).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::message::{placeholder_signature, Proposal};
use super::SignatureMode;
use crate::bls::HashedMessage;
use crate::certificate::{Certificate, SignerBitmap};
use crate::collector::{Certification, VoteCollector};
use crate::validators::{Epoch, ValidatorSet};
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
    /// A tally of `vote`; a checked one takes the vote message's hash from
    /// `hashes` (or hashes it there).
    pub(super) fn new(
        mode: SignatureMode,
        chain_id: &ChainId,
        validators: &Arc<ValidatorSet>,
        vote: Vote,
        hashes: &mut Hashes,
    ) -> Self {
        match mode {
            SignatureMode::Verify => Self::Checked(Box::new(VoteCollector::with_hashed(
                chain_id,
                validators.clone(),
                vote,
                hashes.get_or_hash(chain_id, validators.epoch(), vote),
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
    /// This view's vote messages hashed to G2.
    pub(super) hashes: Hashes,
}

/// Most vote messages whose hashes one view keeps: its notarize (one block,
/// or a few from an equivocating leader), nullify and finalize messages.
const MAX_HASHES: usize = 8;

/// A view's vote messages hashed to G2 once, for all their uses: this
/// validator's signature, the leader's vote, the vote tally and the
/// certificates of that vote. Hashing a message costs about as much as a
/// third of a verification, and each message has three or four uses.
#[derive(Debug, Default)]
pub(super) struct Hashes(Vec<(Epoch, Vote, Arc<HashedMessage>)>);

impl Hashes {
    /// The hash of `vote`'s message in `epoch`, if it is held.
    pub(super) fn get(&self, epoch: Epoch, vote: Vote) -> Option<Arc<HashedMessage>> {
        self.0
            .iter()
            .find(|(e, v, _)| *e == epoch && *v == vote)
            .map(|(_, _, hashed)| hashed.clone())
    }

    /// The hash of `vote`'s message in `epoch` on `chain_id`, hashed now and
    /// kept (up to [`MAX_HASHES`]) if it is not held.
    pub(super) fn get_or_hash(
        &mut self,
        chain_id: &ChainId,
        epoch: Epoch,
        vote: Vote,
    ) -> Arc<HashedMessage> {
        if let Some(hashed) = self.get(epoch, vote) {
            return hashed;
        }
        let hashed = Arc::new(HashedMessage::new(&vote.signing_message(chain_id, epoch)));
        if self.0.len() < MAX_HASHES {
            self.0.push((epoch, vote, hashed.clone()));
        }
        hashed
    }
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
        self.hashes = Hashes::default();
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
