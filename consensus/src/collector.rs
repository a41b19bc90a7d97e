//! Collecting votes into a certificate, verified by aggregate first.
//!
//! A [`VoteCollector`] gathers the votes of one epoch for one [`Vote`]
//! (e.g. `notarize(v, B)`). Incoming votes are only checked for cheap things
//! on arrival (epoch, signer index, duplicates) and kept *pending*. When the
//! pending and verified votes together hold a quorum, [`VoteCollector::certify`]
//! checks all pending votes at once: it sums their signatures and their
//! signers' public keys and runs one `FastAggregateVerify`. If that passes,
//! every pending vote is valid (one pairing check for all of them).
//!
//! Only if it fails does the collector look for the culprits by bisection:
//! split the failing group in two halves and check each by aggregate; a half
//! that passes is accepted whole, a failing half is split again, down to
//! single votes. If the first half passes, the second is known to fail and is
//! split without a check of its own. Finding `b` bad votes among `n` costs
//! about `2 · b · log2(n)` pairing checks. Bad votes are dropped and reported
//! by signer index, and their signers' slots are freed so the real validator
//! can still vote (a bad vote may have been forged by a relay). A signer once
//! caught is *suspect*: its later votes are verified one by one on arrival,
//! so a Byzantine validator cannot make the collector bisect again and again.
//!
//! The message is hashed to the curve once per collector and reused by every
//! check.
//!
//! # Subgroup checks: once per aggregate, not once per vote
//!
//! A vote's signature arrives as an [`UncheckedSignature`]: the wire codec
//! carries it uncompressed and checks only that it is on the curve, not that
//! it lies in the prime-order subgroup G2 (that check costs ~80 µs in
//! `bls12_381`, the decompression it replaces ~130 µs; together they were
//! four fifths of the cost of collecting a vote). Every check of a *group*
//! here (all pending votes, a bisection half, a single vote) sums the
//! group's signatures, **subgroup-checks the sum**, and runs the pairing
//! check of FastAggregateVerify on it; a group *passes* only if both hold.
//! This follows draft-irtf-cfrg-bls-signature-05: `Aggregate` (§2.8) only
//! runs `signature_to_point` on its inputs, and `CoreAggregateVerify` /
//! `FastAggregateVerify` subgroup-check the aggregate (§2.9, §3.3.4).
//!
//! Why that is sound:
//!
//! * **The certificate is fully checked.** Its signature is the sum of the
//!   aggregates of the groups that passed. Each of those is in G2 and
//!   satisfies `e(Σ pk, H(m)) = e(g1, σ)`; both properties are closed under
//!   addition, so the certificate's signature is in G2 and passes
//!   FastAggregateVerify for exactly its signers. Anyone re-verifying the
//!   certificate ([`Certificate::verify`], which decodes it compressed and
//!   subgroup-checked) gets the same answer.
//! * **No single vote is trusted without a full check.** A vote is *blamed*
//!   only as a bisection leaf that fails, i.e. its own signature is outside
//!   G2 or fails the pairing: the full check of the draft's `Verify`. (When a
//!   left half passes, its failing sibling is split without a check of its
//!   own; that inference is sound for the same closure reason: two passing
//!   groups would make a passing union.) An honest vote always passes, so it
//!   is never blamed. Votes checked alone — a suspect's votes here,
//!   [`SignedVote::verify`], the two votes of [`Evidence`](crate::Evidence),
//!   a proposal's notarize in the engine — do the subgroup check themselves.
//! * **What is accepted without an individual check** is only membership in
//!   a passing group. Byzantine voters can make their own signatures cancel
//!   out-of-subgroup components (`σ_a + T`, `σ_b − T`); the group still
//!   proves that each listed signer's key signed the message in aggregate,
//!   which is all a certificate ever claims (as for any aggregate
//!   signature). Those individual signatures are never stored, forwarded or
//!   used as evidence on their own: the collector keeps only the aggregate.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::bls::{
    AggregatePublicKey, AggregateSignature, HashedMessage, PublicKey, Signature,
    UncheckedAggregate, UncheckedSignature,
};
use crate::certificate::{Certificate, SignerBitmap};
use crate::validators::ValidatorSet;
use crate::vote::{check_signer, ChainId, SignedVote, Vote, VoteError};

/// The outcome of [`VoteCollector::certify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certification {
    /// A certificate over all verified votes, if they hold a quorum.
    pub certificate: Option<Certificate>,
    /// Signers whose pending votes were found invalid and dropped.
    pub bad_signers: Vec<u32>,
    /// Signers whose pending votes this call verified.
    pub verified_signers: Vec<u32>,
}

/// A vote waiting for verification.
#[derive(Debug, Clone, Copy)]
struct Pending {
    signer: u32,
    power: u64,
    key: PublicKey,
    /// On the curve, not yet subgroup-checked (module docs).
    signature: UncheckedSignature,
}

/// Collects the votes for one vote of one epoch (module docs).
#[derive(Debug)]
pub struct VoteCollector {
    validators: Arc<ValidatorSet>,
    vote: Vote,
    message: Vec<u8>,
    hashed: Option<Arc<HashedMessage>>,
    /// Signers with a pending or verified vote.
    seen: SignerBitmap,
    verified: SignerBitmap,
    verified_signature: AggregateSignature,
    verified_power: u128,
    pending: Vec<Pending>,
    pending_power: u128,
    suspects: BTreeSet<u32>,
    pairing_checks: u64,
}

impl VoteCollector {
    /// A collector for `vote` in the epoch of `validators`, on `chain_id`.
    pub fn new(chain_id: &ChainId, validators: Arc<ValidatorSet>, vote: Vote) -> Self {
        let message = vote.signing_message(chain_id, validators.epoch());
        let len = validators.len();
        Self {
            validators,
            vote,
            message,
            hashed: None,
            seen: SignerBitmap::new(len),
            verified: SignerBitmap::new(len),
            verified_signature: AggregateSignature::new(),
            verified_power: 0,
            pending: Vec::new(),
            pending_power: 0,
            suspects: BTreeSet::new(),
            pairing_checks: 0,
        }
    }

    /// [`new`](Self::new), with the vote message already hashed: `hashed`
    /// must be [`HashedMessage::new`] of `vote`'s signing message in the
    /// epoch of `validators` on `chain_id` (the engine hashes each vote
    /// message once for all its uses).
    pub fn with_hashed(
        chain_id: &ChainId,
        validators: Arc<ValidatorSet>,
        vote: Vote,
        hashed: Arc<HashedMessage>,
    ) -> Self {
        Self {
            hashed: Some(hashed),
            ..Self::new(chain_id, validators, vote)
        }
    }

    /// The vote collected.
    pub fn vote(&self) -> &Vote {
        &self.vote
    }

    /// Adds a vote. Cheap unless its signer is suspect: epoch, vote, signer
    /// index and duplicate checks only; the signature is checked later, in
    /// [`certify`](Self::certify).
    pub fn add(&mut self, vote: &SignedVote) -> Result<(), VoteError> {
        if vote.vote != self.vote {
            return Err(VoteError::WrongVote {
                expected: self.vote,
                found: vote.vote,
            });
        }
        let key = *check_signer(vote.epoch, vote.signer, &self.validators)?;
        let power = self
            .validators
            .voting_power(vote.signer)
            .unwrap_or_default();
        if self.seen.contains(vote.signer) {
            return Err(VoteError::Duplicate {
                signer: vote.signer,
            });
        }
        let pending = Pending {
            signer: vote.signer,
            power,
            key,
            signature: vote.signature,
        };
        if self.suspects.contains(&vote.signer) {
            let Some(signature) = self.check(&[pending]) else {
                return Err(VoteError::InvalidSignature {
                    signer: vote.signer,
                });
            };
            self.accept(&[pending], &signature);
        } else {
            self.pending_power = self.pending_power.saturating_add(u128::from(power));
            self.pending.push(pending);
        }
        // The index was range-checked above.
        self.seen
            .insert(vote.signer)
            .map_err(|_| VoteError::SignerOutOfRange {
                signer: vote.signer,
                validators: self.validators.len(),
            })?;
        Ok(())
    }

    /// Power of the verified votes.
    pub fn verified_power(&self) -> u128 {
        self.verified_power
    }

    /// Power of the verified and the pending votes: what a certificate
    /// could hold if every pending vote is valid.
    pub fn potential_power(&self) -> u128 {
        self.verified_power.saturating_add(self.pending_power)
    }

    /// Number of votes not yet verified.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Pairing checks run so far (for tests and metrics).
    pub fn pairing_checks(&self) -> u64 {
        self.pairing_checks
    }

    /// Verifies pending votes if together with the verified ones they could
    /// reach a quorum, and returns a certificate if the verified votes hold
    /// one. Does no pairing while a quorum is out of reach.
    pub fn certify(&mut self) -> Certification {
        let mut bad_signers = Vec::new();
        let mut verified_signers = Vec::new();
        if self.validators.is_quorum(self.potential_power()) {
            let before = self.verified.clone();
            bad_signers = self.verify_pending();
            verified_signers = self
                .verified
                .iter()
                .filter(|s| !before.contains(*s))
                .collect();
        }
        let certificate = self
            .validators
            .is_quorum(self.verified_power)
            .then(|| Certificate {
                epoch: self.validators.epoch(),
                vote: self.vote,
                signers: self.verified.clone(),
                signature: self.verified_signature.to_signature(),
            });
        Certification {
            certificate,
            bad_signers,
            verified_signers,
        }
    }

    /// Verifies all pending votes, by aggregate first; returns the signers
    /// of the invalid ones, which are dropped.
    pub fn verify_pending(&mut self) -> Vec<u32> {
        let pending = std::mem::take(&mut self.pending);
        self.pending_power = 0;
        if pending.is_empty() {
            return Vec::new();
        }
        let mut bad = Vec::new();
        self.bisect(&pending, false, &mut bad);
        for &signer in &bad {
            self.seen.remove(signer);
            self.suspects.insert(signer);
        }
        bad
    }

    /// Accepts the valid votes of `group` and pushes the signers of the
    /// invalid ones onto `bad`. `known_bad`: the group is already known to
    /// fail as a whole.
    fn bisect(&mut self, group: &[Pending], known_bad: bool, bad: &mut Vec<u32>) {
        if !known_bad {
            if let Some(signature) = self.check(group) {
                self.accept(group, &signature);
                return;
            }
        }
        if let [single] = group {
            bad.push(single.signer);
            return;
        }
        let Some((left, right)) = group.split_at_checked(group.len().div_ceil(2)) else {
            return;
        };
        let left_ok = match self.check(left) {
            Some(signature) => {
                self.accept(left, &signature);
                true
            }
            None => {
                self.bisect(left, true, bad);
                false
            }
        };
        // If the left half passed, the right half must hold the failure.
        self.bisect(right, left_ok, bad);
    }

    /// One aggregate check of a group: the sum of its signatures is
    /// subgroup-checked, then pairing-checked against the sum of its keys.
    /// Returns the (checked) sum if the group passes.
    fn check(&mut self, group: &[Pending]) -> Option<Signature> {
        self.pairing_checks = self.pairing_checks.saturating_add(1);
        let hashed = self
            .hashed
            .get_or_insert_with(|| Arc::new(HashedMessage::new(&self.message)));
        let mut keys = AggregatePublicKey::new();
        let mut signature = UncheckedAggregate::new();
        for vote in group {
            keys.add(&vote.key);
            signature.add(&vote.signature);
        }
        keys.verify_unchecked(hashed, &signature.to_unchecked())
            .ok()
    }

    /// Moves a group that passed [`check`](Self::check), with its checked
    /// aggregate, into the verified aggregate. Pending signers are never
    /// verified ones (`seen` keeps them apart), so nothing is counted twice.
    fn accept(&mut self, group: &[Pending], signature: &Signature) {
        for vote in group {
            if let Ok(true) = self.verified.insert(vote.signer) {
                self.verified_power = self.verified_power.saturating_add(u128::from(vote.power));
            }
        }
        self.verified_signature.add(signature);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bls::SecretKey;
    use crate::vote::BlockId;

    struct Fixture {
        chain: ChainId,
        keys: Vec<SecretKey>,
        set: Arc<ValidatorSet>,
    }

    fn fixture(n: usize) -> Fixture {
        let keys: Vec<_> = (0..n)
            .map(|i| SecretKey::key_gen(&(i as u64 + 1).to_be_bytes().repeat(4), b"").unwrap())
            .collect();
        let set =
            ValidatorSet::new(1, keys.iter().map(|k| (k.public_key(), 10)).collect()).unwrap();
        Fixture {
            chain: ChainId::new("sherd-test").unwrap(),
            keys,
            set: Arc::new(set),
        }
    }

    const VOTE: Vote = Vote::Notarize {
        view: 3,
        block_id: BlockId([9; 32]),
    };

    fn good(f: &Fixture, signer: u32) -> SignedVote {
        SignedVote::sign(&f.chain, 1, signer, VOTE, &f.keys[signer as usize])
    }

    /// A vote for another block, presented as a vote for `VOTE`.
    fn bad(f: &Fixture, signer: u32) -> SignedVote {
        let other = Vote::Notarize {
            view: 3,
            block_id: BlockId([8; 32]),
        };
        SignedVote {
            vote: VOTE,
            ..SignedVote::sign(&f.chain, 1, signer, other, &f.keys[signer as usize])
        }
    }

    #[test]
    fn all_good_votes_cost_one_pairing_check() {
        let f = fixture(10);
        let mut collector = VoteCollector::new(&f.chain, f.set.clone(), VOTE);
        for i in 0..6 {
            collector.add(&good(&f, i)).unwrap();
            // Below quorum (70 of 100): no pairing at all.
            assert_eq!(collector.certify().certificate, None);
        }
        assert_eq!(collector.pairing_checks(), 0);
        collector.add(&good(&f, 6)).unwrap();
        let outcome = collector.certify();
        assert_eq!(outcome.bad_signers, Vec::<u32>::new());
        let cert = outcome.certificate.unwrap();
        assert_eq!(collector.pairing_checks(), 1);
        assert_eq!(cert.verify(&f.chain, &f.set), Ok(70));
        assert_eq!(
            cert.signers.iter().collect::<Vec<_>>(),
            (0..7).collect::<Vec<_>>()
        );
    }

    #[test]
    fn byzantine_vote_among_good_ones_is_found_and_dropped() {
        let f = fixture(16);
        let mut collector = VoteCollector::new(&f.chain, f.set.clone(), VOTE);
        for i in 0..16 {
            let vote = if i == 11 { bad(&f, i) } else { good(&f, i) };
            collector.add(&vote).unwrap();
        }
        let outcome = collector.certify();
        assert_eq!(outcome.bad_signers, vec![11]);
        let cert = outcome.certificate.unwrap();
        assert!(!cert.signers.contains(11));
        assert_eq!(cert.signers.count(), 15);
        assert_eq!(cert.verify(&f.chain, &f.set), Ok(150));
        // 1 (all) + about 2 per level of a 16-vote bisection.
        assert!(
            collector.pairing_checks() <= 1 + 2 * 4,
            "{}",
            collector.pairing_checks()
        );

        // The signer's slot is free again; as a suspect, its next vote is
        // checked on arrival.
        assert_eq!(
            collector.add(&bad(&f, 11)),
            Err(VoteError::InvalidSignature { signer: 11 })
        );
        collector.add(&good(&f, 11)).unwrap();
        assert_eq!(collector.pending_len(), 0);
        assert_eq!(collector.certify().certificate.unwrap().signers.count(), 16);
    }

    #[test]
    fn several_bad_votes_are_all_found() {
        let f = fixture(12);
        let mut collector = VoteCollector::new(&f.chain, f.set.clone(), VOTE);
        let bad_ones = [0, 5, 6, 11];
        for i in 0..12 {
            let vote = if bad_ones.contains(&i) {
                bad(&f, i)
            } else {
                good(&f, i)
            };
            collector.add(&vote).unwrap();
        }
        let outcome = collector.certify();
        assert_eq!(outcome.bad_signers, bad_ones.to_vec());
        // 8 of 12 equal votes: 80 > 2/3 · 120 = 80 is false, so no quorum.
        assert_eq!(outcome.certificate, None);
        assert_eq!(collector.verified_power(), 80);
        collector.add(&good(&f, 5)).unwrap();
        let cert = collector.certify().certificate.unwrap();
        assert_eq!(cert.verify(&f.chain, &f.set), Ok(90));
    }

    #[test]
    fn duplicates_wrong_votes_and_out_of_range_signers_are_rejected() {
        let f = fixture(4);
        let mut collector = VoteCollector::new(&f.chain, f.set.clone(), VOTE);
        collector.add(&good(&f, 0)).unwrap();
        assert_eq!(
            collector.add(&good(&f, 0)),
            Err(VoteError::Duplicate { signer: 0 })
        );

        let out_of_range = SignedVote {
            signer: 4,
            ..good(&f, 0)
        };
        assert_eq!(
            collector.add(&out_of_range),
            Err(VoteError::SignerOutOfRange {
                signer: 4,
                validators: 4
            })
        );
        let old_epoch = SignedVote {
            epoch: 0,
            ..good(&f, 1)
        };
        assert_eq!(
            collector.add(&old_epoch),
            Err(VoteError::EpochMismatch {
                expected: 1,
                found: 0
            })
        );
        let nullify = SignedVote::sign(&f.chain, 1, 1, Vote::Nullify { view: 3 }, &f.keys[1]);
        assert_eq!(
            collector.add(&nullify),
            Err(VoteError::WrongVote {
                expected: VOTE,
                found: Vote::Nullify { view: 3 }
            })
        );
        // A duplicate of a verified vote is still a duplicate.
        for i in 1..4 {
            collector.add(&good(&f, i)).unwrap();
        }
        assert!(collector.certify().certificate.is_some());
        assert_eq!(
            collector.add(&good(&f, 2)),
            Err(VoteError::Duplicate { signer: 2 })
        );
    }

    #[test]
    fn a_signature_outside_the_subgroup_is_blamed_alone() {
        let f = fixture(8);
        let mut collector = VoteCollector::new(&f.chain, f.set.clone(), VOTE);
        for i in 0..8 {
            let mut vote = good(&f, i);
            if i == 5 {
                // A valid signature plus a point outside G2: on the curve,
                // so it decodes from the wire, but not a valid signature.
                let mut sum = UncheckedAggregate::new();
                sum.add(&vote.signature);
                sum.add(&UncheckedSignature::outside_subgroup());
                vote.signature = sum.to_unchecked();
                assert_eq!(
                    vote.verify(&f.chain, &f.set),
                    Err(VoteError::InvalidSignature { signer: 5 })
                );
            }
            collector.add(&vote).unwrap();
        }
        let outcome = collector.certify();
        assert_eq!(outcome.bad_signers, vec![5]);
        let cert = outcome.certificate.unwrap();
        assert_eq!(cert.signers.count(), 7);
        assert_eq!(cert.verify(&f.chain, &f.set), Ok(70));
    }

    #[test]
    fn cancelling_out_of_subgroup_parts_still_give_a_valid_certificate() {
        // Two Byzantine voters add +T and -T (T outside G2) to their valid
        // signatures: each vote alone fails the full check, the aggregate
        // is in G2 and valid, and so is the certificate (module docs).
        let f = fixture(4);
        let outside = UncheckedSignature::outside_subgroup();
        let mut collector = VoteCollector::new(&f.chain, f.set.clone(), VOTE);
        for i in 0..4 {
            let mut vote = good(&f, i);
            if i < 2 {
                let mut sum = UncheckedAggregate::new();
                sum.add(&vote.signature);
                sum.add(&if i == 0 { outside } else { outside.neg() });
                vote.signature = sum.to_unchecked();
                assert!(vote.verify(&f.chain, &f.set).is_err());
            }
            collector.add(&vote).unwrap();
        }
        let outcome = collector.certify();
        assert_eq!(outcome.bad_signers, Vec::<u32>::new());
        assert_eq!(collector.pairing_checks(), 1);
        let cert = outcome.certificate.unwrap();
        assert_eq!(cert.verify(&f.chain, &f.set), Ok(40));
        // The certificate survives its wire round trip (compressed,
        // subgroup-checked on decoding).
        use crate::codec::Wire;
        assert_eq!(Certificate::decode(&cert.encode()), Ok(cert));
    }

    #[test]
    fn votes_signed_for_another_chain_are_bad() {
        let f = fixture(4);
        let other = ChainId::new("sherd-other").unwrap();
        let mut collector = VoteCollector::new(&f.chain, f.set.clone(), VOTE);
        for i in 0..3 {
            collector.add(&good(&f, i)).unwrap();
        }
        collector
            .add(&SignedVote::sign(&other, 1, 3, VOTE, &f.keys[3]))
            .unwrap();
        let outcome = collector.certify();
        assert_eq!(outcome.bad_signers, vec![3]);
        assert_eq!(
            outcome.certificate.unwrap().verify(&f.chain, &f.set),
            Ok(30)
        );
    }
}
