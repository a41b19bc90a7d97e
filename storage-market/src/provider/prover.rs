//! The prover: which held fragments are challenged in a period, with which
//! chunk, when to (re)submit, and what was accepted or missed.
//!
//! The rules are the ledger's (`sherd_ledger::state::market`): fragment
//! `i` of contract `c` held by this provider since height `s` is challenged
//! in period `p` when `first_period ≤ p ≤ last_period`, it is active, and
//! `s < p · proof_period`; its chunk is
//! `challenge_index(seed_p, c, i, p, fragment_size / 1024)` where `seed_p`
//! is recorded by block `p · proof_period`. A proof counts only in a block
//! of `p · proof_period ..= p · proof_period + proof_window − 1`; since the
//! seed is known once that first block is final, provers answer from the
//! next block on, so a window needs at least two blocks.
//!
//! [`Prover`] is a pure state machine fed the final height and the chain's
//! view of the held fragments after every block; the node's duty reads the
//! proofs from disk and submits what [`Tick::prove`] asks for.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sherd_ledger::{
    state::{Contract, FragmentStatus},
    tx::kind::{ProofAnswer, MAX_PROOFS_PER_TX},
    Address, Amount, ChainParams, Hash,
};

use crate::store::FragmentKey;

/// One proof to make: the chunk the chain asks of a held fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    /// The fragment.
    pub key: FragmentKey,
    /// The period.
    pub period: u64,
    /// The challenged chunk.
    pub chunk: u64,
}

/// The period whose proofs the next block can still carry, if its window
/// is open at height `final_height + 1`.
pub fn open_period(params: &ChainParams, final_height: u64) -> Option<u64> {
    let next = final_height.checked_add(1)?;
    let period = params.period_of(next);
    let start = period.checked_mul(params.proof_period)?;
    (next < start.saturating_add(params.proof_window)).then_some(period)
}

/// Whether fragment `index` of `contract` is challenged in `period` with
/// `provider` answering.
pub fn is_challenged(
    params: &ChainParams,
    contract: &Contract,
    index: u32,
    period: u64,
    provider: &Address,
) -> bool {
    let start = period.saturating_mul(params.proof_period);
    (contract.first_period..=contract.last_period).contains(&period)
        && contract.fragments.get(index as usize).is_some_and(|f| {
            f.provider == *provider && f.status == FragmentStatus::Active && f.since < start
        })
}

/// Whether the chain has a proof of fragment `index` for `period`.
fn is_proven(contract: &Contract, index: u32, period: u64) -> bool {
    contract
        .fragments
        .get(index as usize)
        .is_some_and(|f| f.proven > period)
}

/// The challenged chunk of fragment `index` of `contract` in `period`.
pub fn chunk_of(contract: &Contract, index: u32, period: u64, seed: &Hash) -> Option<u64> {
    sherd_fragments::challenge_index(
        seed.as_bytes(),
        contract.id.as_bytes(),
        index,
        period,
        contract.fragment_size / sherd_fragments::CHUNK_SIZE as u64,
    )
}

/// Counts kept by the prover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProverStats {
    /// Proofs put in transactions (retries included).
    pub submitted: u64,
    /// Challenges the chain recorded as proven.
    pub accepted: u64,
    /// Challenges whose window closed without a proof.
    pub missed: u64,
    /// Periods closed.
    pub periods: u64,
}

/// What one closed period came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodReport {
    /// The period.
    pub period: u64,
    /// Fragments proven.
    pub accepted: Vec<FragmentKey>,
    /// Fragments challenged and not proven.
    pub missed: Vec<FragmentKey>,
}

/// What to do after a block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tick {
    /// Proofs to make and submit now.
    pub prove: Vec<Challenge>,
    /// A period whose window just closed.
    pub closed: Option<PeriodReport>,
}

/// The prover's state: the current period's challenges and what was sent.
#[derive(Debug, Clone)]
pub struct Prover {
    provider: Address,
    /// Blocks to wait for a submitted proof before sending it again.
    resubmit_after: u64,
    period: Option<u64>,
    challenged: BTreeMap<FragmentKey, u64>,
    proven: BTreeSet<FragmentKey>,
    submitted: BTreeMap<FragmentKey, u64>,
    stats: ProverStats,
}

impl Prover {
    /// A prover for `provider` that resends an unanswered proof after
    /// `resubmit_after` blocks.
    pub fn new(provider: Address, resubmit_after: u64) -> Self {
        Self {
            provider,
            resubmit_after: resubmit_after.max(1),
            period: None,
            challenged: BTreeMap::new(),
            proven: BTreeSet::new(),
            submitted: BTreeMap::new(),
            stats: ProverStats::default(),
        }
    }

    /// Starts from saved counts (after a restart).
    pub fn with_stats(mut self, stats: ProverStats) -> Self {
        self.stats = stats;
        self
    }

    /// The counts so far.
    pub fn stats(&self) -> ProverStats {
        self.stats
    }

    /// The period being proven.
    pub fn period(&self) -> Option<u64> {
        self.period
    }

    /// How many fragments are challenged in it, and how many are proven.
    pub fn progress(&self) -> (usize, usize) {
        (self.challenged.len(), self.proven.len())
    }

    /// Whether [`tick`](Self::tick) after final block `height` needs every
    /// held fragment (a period opens or closes: the challenges are drawn
    /// from all of them), or only those [`in_flight`](Self::in_flight),
    /// whose contracts say whether their proof landed. A provider of
    /// 100,000 fragments reads 100,000 contracts once a period instead of
    /// every block.
    pub fn needs_all(&self, params: &ChainParams, height: u64) -> bool {
        self.period.is_none() || open_period(params, height) != self.period
    }

    /// The challenged fragments of the current period whose proof was
    /// submitted and is not yet on chain.
    pub fn in_flight(&self) -> impl Iterator<Item = &FragmentKey> {
        self.submitted
            .keys()
            .filter(|key| self.challenged.contains_key(key) && !self.proven.contains(key))
    }

    /// Block `height` is final. `seed` is the seed of the open period (if
    /// its first block is final), `held` every fragment this provider keeps
    /// with its contract as the chain has it now — or, when
    /// [`needs_all`](Self::needs_all) is false, at least those
    /// [`in_flight`](Self::in_flight). At most `limit` proofs are asked
    /// for (what the mempool will take now); the rest come in later ticks.
    pub fn tick(
        &mut self,
        params: &ChainParams,
        height: u64,
        seed: Option<&Hash>,
        held: &[(FragmentKey, Contract)],
        limit: usize,
    ) -> Tick {
        let open = open_period(params, height);
        let mut tick = Tick::default();
        if let Some(current) = self.period {
            for (key, contract) in held {
                if self.challenged.contains_key(key) && is_proven(contract, key.index, current) {
                    self.proven.insert(*key);
                }
            }
            if open != Some(current) {
                tick.closed = Some(self.close(current));
            }
        }
        let (Some(period), Some(seed)) = (open, seed) else {
            return tick;
        };
        if self.period != Some(period) {
            self.period = Some(period);
            self.challenged = held
                .iter()
                .filter(|(key, c)| is_challenged(params, c, key.index, period, &self.provider))
                .filter_map(|(key, c)| Some((*key, chunk_of(c, key.index, period, seed)?)))
                .collect();
            self.proven = held
                .iter()
                .filter(|(key, c)| {
                    self.challenged.contains_key(key) && is_proven(c, key.index, period)
                })
                .map(|(key, _)| *key)
                .collect();
            self.submitted.clear();
        }
        for (key, chunk) in &self.challenged {
            if tick.prove.len() >= limit {
                break;
            }
            if self.proven.contains(key) {
                continue;
            }
            let due = self
                .submitted
                .get(key)
                .is_none_or(|at| height >= at.saturating_add(self.resubmit_after));
            if due {
                tick.prove.push(Challenge {
                    key: *key,
                    period,
                    chunk: *chunk,
                });
            }
        }
        tick
    }

    /// The proofs of `keys` were handed to the mempool at `height`.
    pub fn submitted(&mut self, keys: impl IntoIterator<Item = FragmentKey>, height: u64) {
        for key in keys {
            self.submitted.insert(key, height);
            self.stats.submitted = self.stats.submitted.saturating_add(1);
        }
    }

    /// A fragment could not be proven (its file is gone or damaged): it is
    /// not retried this period.
    pub fn unprovable(&mut self, key: &FragmentKey, height: u64) {
        self.submitted
            .insert(*key, height.saturating_add(u64::MAX / 2));
    }

    fn close(&mut self, period: u64) -> PeriodReport {
        let mut report = PeriodReport {
            period,
            accepted: Vec::new(),
            missed: Vec::new(),
        };
        for key in self.challenged.keys() {
            if self.proven.contains(key) {
                report.accepted.push(*key);
            } else {
                report.missed.push(*key);
            }
        }
        self.stats.accepted = self
            .stats
            .accepted
            .saturating_add(report.accepted.len() as u64);
        self.stats.missed = self.stats.missed.saturating_add(report.missed.len() as u64);
        self.stats.periods = self.stats.periods.saturating_add(1);
        self.period = None;
        self.challenged.clear();
        self.proven.clear();
        self.submitted.clear();
        report
    }
}

/// What accepted proofs paid: a held fragment whose `proven` moved on
/// since it was last seen earned the escrow it lost plus the proof reward.
#[derive(Debug, Clone, Default)]
pub struct Earnings {
    /// Each held fragment's `proven` and escrow left when last seen.
    seen: HashMap<FragmentKey, (u64, Amount)>,
}

impl Earnings {
    /// Looks at `held` (every fragment this provider keeps, with its
    /// contract as the chain has it now) and returns the base units earned
    /// since the last look; fragments no longer held are forgotten. Linear
    /// in `held`.
    pub fn update(&mut self, held: &[(FragmentKey, Contract)], proof_reward: Amount) -> u64 {
        let mut earned = 0u64;
        for (key, contract) in held {
            let Some(f) = contract.fragments.get(key.index as usize) else {
                continue;
            };
            if f.status != FragmentStatus::Active {
                continue;
            }
            if let Some((proven, escrow)) = self.seen.insert(*key, (f.proven, f.escrow_left)) {
                if f.proven > proven {
                    earned = earned
                        .saturating_add(escrow.0.saturating_sub(f.escrow_left.0))
                        .saturating_add(proof_reward.0);
                }
            }
        }
        let keys: HashSet<&FragmentKey> = held.iter().map(|(key, _)| key).collect();
        self.seen.retain(|key, _| keys.contains(key));
        earned
    }

    /// Fragments being followed.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// Cuts answers into `SubmitProofs` batches of at most `max_count` proofs
/// and about `max_bytes` bytes each.
pub fn batches(
    answers: Vec<ProofAnswer>,
    max_count: usize,
    max_bytes: usize,
) -> Vec<Vec<ProofAnswer>> {
    let max_count = max_count.clamp(1, MAX_PROOFS_PER_TX);
    let mut out: Vec<Vec<ProofAnswer>> = Vec::new();
    let mut bytes = 0usize;
    for answer in answers {
        let size = answer.proof.len().saturating_add(48);
        let start_new = out
            .last()
            .is_none_or(|b| b.len() >= max_count || bytes.saturating_add(size) > max_bytes);
        if start_new {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes = bytes.saturating_add(size);
        if let Some(batch) = out.last_mut() {
            batch.push(answer);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use sherd_ledger::{state::ContractFragment, Amount, ChainId};

    use super::*;

    const ME: Address = Address([7; 32]);

    fn params() -> ChainParams {
        let mut p = ChainParams::dev(ChainId::new("t").unwrap());
        p.proof_period = 10;
        p.proof_window = 4;
        p.epoch_length = 20;
        p
    }

    fn contract(id: u8, since: u64, proven: u64) -> Contract {
        Contract {
            id: Hash([id; 32]),
            client: Address([1; 32]),
            object_root: Hash([2; 32]),
            k: 2,
            m: 1,
            fragment_size: 64 * 1024,
            price_per_gib_epoch: Amount(1),
            start_height: since,
            first_period: 1,
            last_period: 5,
            fragments: (0..3)
                .map(|i| ContractFragment {
                    root: Hash([i; 32]),
                    provider: if i == 1 { ME } else { Address([i; 32]) },
                    status: FragmentStatus::Active,
                    escrow_left: Amount(10),
                    collateral_left: Amount(10),
                    repair_reward: Amount(0),
                    misses: 0,
                    accepted: 0,
                    proven,
                    since,
                })
                .collect(),
        }
    }

    fn key(id: u8) -> FragmentKey {
        FragmentKey {
            contract_id: Hash([id; 32]),
            index: 1,
        }
    }

    #[test]
    fn the_window_is_open_from_the_block_after_the_seed() {
        let p = params();
        assert_eq!(open_period(&p, 9), Some(1), "block 10 may carry period 1");
        assert_eq!(
            open_period(&p, 12),
            Some(1),
            "block 13 is the window's last"
        );
        assert_eq!(open_period(&p, 13), None);
        assert_eq!(open_period(&p, 19), Some(2));
    }

    #[test]
    fn challenges_are_proven_resent_and_counted() {
        let p = params();
        let seed = Hash([5; 32]);
        let mut prover = Prover::new(ME, 2);
        // Contract 1 is held since height 3, contract 2 only from height 11
        // (not challenged in period 1).
        let held = vec![(key(1), contract(1, 3, 0)), (key(2), contract(2, 11, 0))];
        assert_eq!(
            prover.tick(&p, 9, None, &held, usize::MAX),
            Tick::default(),
            "no seed yet"
        );
        let tick = prover.tick(&p, 10, Some(&seed), &held, usize::MAX);
        assert_eq!(tick.prove.len(), 1);
        assert_eq!(tick.prove[0].key, key(1));
        assert_eq!(Some(tick.prove[0].chunk), chunk_of(&held[0].1, 1, 1, &seed));
        prover.submitted([key(1)], 10);
        assert!(
            prover
                .tick(&p, 11, Some(&seed), &held, usize::MAX)
                .prove
                .is_empty(),
            "sent, waiting"
        );
        assert_eq!(
            prover
                .tick(&p, 12, Some(&seed), &held, usize::MAX)
                .prove
                .len(),
            1,
            "resent"
        );
        // The window closes without a proof: a miss.
        let tick = prover.tick(&p, 13, Some(&seed), &held, usize::MAX);
        assert_eq!(
            tick.closed,
            Some(PeriodReport {
                period: 1,
                accepted: vec![],
                missed: vec![key(1)],
            })
        );
        // Period 2: both are challenged; contract 1 is proven at once.
        let held = vec![(key(1), contract(1, 3, 0)), (key(2), contract(2, 11, 0))];
        assert_eq!(
            prover
                .tick(&p, 20, Some(&seed), &held, usize::MAX)
                .prove
                .len(),
            2
        );
        prover.submitted([key(1), key(2)], 20);
        let held = vec![(key(1), contract(1, 3, 3)), (key(2), contract(2, 11, 0))];
        assert!(prover
            .tick(&p, 21, Some(&seed), &held, usize::MAX)
            .prove
            .is_empty());
        let tick = prover.tick(&p, 23, Some(&seed), &held, usize::MAX);
        let report = tick.closed.unwrap();
        assert_eq!(report.accepted, vec![key(1)]);
        assert_eq!(report.missed, vec![key(2)]);
        assert_eq!(
            prover.stats(),
            ProverStats {
                submitted: 3,
                accepted: 1,
                missed: 2,
                periods: 2
            }
        );
    }

    #[test]
    fn between_period_changes_only_the_waiting_fragments_are_read_and_a_limit_holds() {
        let p = params();
        let seed = Hash([5; 32]);
        let mut prover = Prover::new(ME, 2);
        let held = vec![
            (key(1), contract(1, 3, 0)),
            (key(2), contract(2, 3, 0)),
            (key(3), contract(3, 3, 0)),
        ];
        assert!(prover.needs_all(&p, 20), "no period yet");
        // A limit of 2: two proofs now, the third on a later tick.
        let tick = prover.tick(&p, 20, Some(&seed), &held, 2);
        assert_eq!(tick.prove.len(), 2);
        prover.submitted(tick.prove.iter().map(|c| c.key), 20);
        assert!(!prover.needs_all(&p, 21), "same period");
        assert_eq!(
            prover.in_flight().copied().collect::<Vec<_>>(),
            vec![key(1), key(2)]
        );
        // Only the contracts of those in flight are passed: key 1 proven.
        let in_flight = vec![(key(1), contract(1, 3, 3)), (key(2), contract(2, 3, 0))];
        let tick = prover.tick(&p, 21, Some(&seed), &in_flight, 2);
        assert_eq!(
            tick.prove.iter().map(|c| c.key).collect::<Vec<_>>(),
            vec![key(3)],
            "the one not yet sent"
        );
        prover.submitted([key(3)], 21);
        assert_eq!(
            prover.in_flight().copied().collect::<Vec<_>>(),
            vec![key(2), key(3)]
        );
        // The window closes: every fragment is needed again.
        assert!(prover.needs_all(&p, 23));
        let report = prover.tick(&p, 23, Some(&seed), &held, 2).closed.unwrap();
        assert_eq!(report.accepted, vec![key(1)]);
        assert_eq!(report.missed, vec![key(2), key(3)]);
    }

    #[test]
    fn a_fragment_of_another_provider_or_lost_is_not_challenged() {
        let p = params();
        let mut c = contract(1, 3, 0);
        assert!(is_challenged(&p, &c, 1, 1, &ME));
        assert!(!is_challenged(&p, &c, 0, 1, &ME));
        assert!(!is_challenged(&p, &c, 1, 6, &ME), "after the last period");
        c.fragments[1].status = FragmentStatus::Lost;
        assert!(!is_challenged(&p, &c, 1, 1, &ME));
    }

    #[test]
    fn earnings_count_each_accepted_proof_once_and_forget_released_fragments() {
        let reward = Amount(100);
        let mut earnings = Earnings::default();
        let held = vec![(key(1), contract(1, 3, 0)), (key(2), contract(2, 3, 0))];
        assert_eq!(
            earnings.update(&held, reward),
            0,
            "first look: nothing to compare"
        );
        assert_eq!(earnings.update(&held, reward), 0, "nothing moved");
        // Contract 1's fragment is proven for period 1 and paid 4 of escrow.
        let mut proven = contract(1, 3, 2);
        proven.fragments[1].escrow_left = Amount(6);
        let held = vec![(key(1), proven), (key(2), contract(2, 3, 0))];
        assert_eq!(earnings.update(&held, reward), 104);
        assert_eq!(earnings.update(&held, reward), 0, "counted once");
        // Contract 2 is released: it is forgotten, and a lost fragment
        // earns nothing.
        let mut lost = held[0].1.clone();
        lost.fragments[1].status = FragmentStatus::Lost;
        lost.fragments[1].proven = 5;
        assert_eq!(earnings.update(&[(key(1), lost)], reward), 0);
        assert_eq!(earnings.len(), 1);
        assert_eq!(earnings.update(&[], reward), 0);
        assert!(earnings.is_empty());
    }

    #[test]
    fn batches_respect_count_and_size() {
        let answers: Vec<ProofAnswer> = (0..10)
            .map(|i| ProofAnswer {
                contract_id: Hash([i; 32]),
                fragment_index: 0,
                period: 1,
                proof: vec![0; 1000],
            })
            .collect();
        let b = batches(answers.clone(), 4, 1 << 20);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
        let b = batches(answers, 100, 3_200);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 3, 1]);
    }
}
