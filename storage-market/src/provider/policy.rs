//! The provider's deal policy: which proposals it takes, and the room and
//! collateral it holds for them until their contract is on chain.
//!
//! A proposal is accepted when, all at once:
//!
//! * it is for this chain, its geometry is valid (`k ≥ 2`, `m ≥ 1`, the
//!   index below `k + m`, a positive multiple of 1024 bytes, at most the
//!   provider's largest fragment) and its contract does not exist yet;
//! * the provider advertises on chain, the price is at least its price and
//!   the duration is inside its range (the ledger checks the same at
//!   `CreateContract`);
//! * the advertised free bytes, less what earlier reservations and stored
//!   fragments still waiting for their contract hold, cover the fragment;
//! * the balance, less the collateral those hold, covers its collateral
//!   (the ledger locks it when the contract is created).
//!
//! A reservation lasts [`PolicyConfig::reservation_blocks`] blocks. The
//! same proposal again answers the same reservation. The same fragment
//! with other terms replaces a reservation that holds nothing yet (no
//! upload under way, nothing stored, so no acceptance signed): that is a
//! client whose put failed before its upload trying again with the same
//! nonce, and only one of the two can ever be on chain. Once stored (and
//! its acceptance signed) a fragment is kept until its contract arrives
//! or it expires, and other terms are refused. Everything here is pure: the node reads the
//! chain into [`ChainFacts`] and calls in.

use std::collections::BTreeMap;

use sherd_ledger::{
    state::{market::per_gib_cost, Contract, FragmentStatus, ProviderAd},
    Amount, ChainId,
};

use crate::{
    store::{FragmentKey, FragmentRecord, FragmentState},
    wire::{Proposal, Refusal},
};

/// What the chain says, as far as a proposal is concerned.
#[derive(Debug, Clone)]
pub struct ChainFacts {
    /// The chain this provider is on.
    pub chain_id: ChainId,
    /// The last final height.
    pub height: u64,
    /// The provider's advertisement.
    pub ad: Option<ProviderAd>,
    /// The provider's spendable balance.
    pub balance: Amount,
    /// The proposal's contract, if it exists already (it must not for a
    /// new contract, it must for a repair).
    pub contract: Option<Contract>,
}

/// The provider's own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Blocks a reservation (and a stored fragment without a contract)
    /// is kept.
    pub reservation_blocks: u64,
    /// The largest fragment taken, in bytes.
    pub max_fragment_size: u64,
    /// Most reservations waiting at once.
    pub max_pending: usize,
    /// Balance kept back for transaction fees (proofs), never promised as
    /// collateral.
    pub fee_reserve: Amount,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            reservation_blocks: 1_000,
            max_fragment_size: 4 << 30,
            max_pending: 4_096,
            fee_reserve: Amount(10_000_000),
        }
    }
}

/// A fragment the provider holds room for, whose contract is not on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    proposal: Proposal,
    expires_height: u64,
    collateral: Amount,
    stage: Stage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Reserved,
    Uploading,
    Stored,
}

/// The policy's state: every pending reservation.
#[derive(Debug, Clone, Default)]
pub struct DealPolicy {
    config: PolicyConfig,
    pending: BTreeMap<FragmentKey, Pending>,
}

impl DealPolicy {
    /// A policy with no reservation yet.
    pub fn new(config: PolicyConfig) -> Self {
        Self {
            config,
            pending: BTreeMap::new(),
        }
    }

    /// A policy that remembers the stored fragments still waiting for
    /// their contract (after a restart). `collateral_per_gib` is today's,
    /// which is what the ledger will lock.
    pub fn restore(
        config: PolicyConfig,
        records: &[FragmentRecord],
        collateral_per_gib: Amount,
    ) -> Self {
        let mut policy = Self::new(config);
        for record in records {
            if let FragmentState::Pending { expires_height } = record.state {
                let collateral = per_gib_cost(collateral_per_gib, record.proposal.fragment_size, 1)
                    .unwrap_or(Amount::MAX);
                policy.pending.insert(
                    record.key(),
                    Pending {
                        proposal: record.proposal.clone(),
                        expires_height,
                        collateral,
                        stage: Stage::Stored,
                    },
                );
            }
        }
        policy
    }

    /// Its limits.
    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// Bytes held by pending reservations and stored fragments.
    pub fn pending_bytes(&self) -> u64 {
        self.pending
            .values()
            .fold(0u64, |sum, p| sum.saturating_add(p.proposal.fragment_size))
    }

    /// Collateral held for them.
    pub fn pending_collateral(&self) -> Amount {
        self.pending.values().fold(Amount::ZERO, |sum, p| {
            sum.checked_add(p.collateral).unwrap_or(Amount::MAX)
        })
    }

    /// How many are pending.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Decides on a proposal: a reservation until the answered height, or
    /// a typed refusal.
    pub fn propose(&mut self, chain: &ChainFacts, p: &Proposal) -> Result<u64, Refusal> {
        if p.chain_id != chain.chain_id {
            return Err(Refusal::WrongChain {
                ours: chain.chain_id.to_string(),
            });
        }
        check_geometry(p, self.config.max_fragment_size)?;
        let key = FragmentKey {
            contract_id: p.contract_id(),
            index: p.index,
        };
        if let Some(existing) = self.pending.get(&key) {
            if existing.proposal == *p {
                return Ok(existing.expires_height);
            }
            match existing.stage {
                Stage::Reserved => {}
                Stage::Uploading => {
                    return Err(Refusal::busy(format!(
                        "{key} is being uploaded with other terms"
                    )))
                }
                Stage::Stored => {
                    return Err(Refusal::invalid(format!(
                        "{key} is stored with other terms, waiting for its contract until \
                         height {} (an earlier put with the same nonce whose contract is not \
                         on chain yet)",
                        existing.expires_height
                    )))
                }
            }
        }
        match (&p.repair, &chain.contract) {
            (None, Some(_)) => {
                return Err(Refusal::invalid(format!(
                    "contract {} already exists on chain",
                    key.contract_id
                )))
            }
            (Some(_), None) => {
                return Err(Refusal::unknown(format!(
                    "contract {} is not on chain: there is nothing to repair",
                    key.contract_id
                )))
            }
            (Some(_), Some(contract)) => check_repair(p, contract)?,
            (None, None) => {}
        }
        // A reservation of the same key with other terms (checked above)
        // neither counts against the new one nor stays.
        let replaced = self.pending.remove(&key);
        let decided = self.decide(chain, p, key);
        if decided.is_err() {
            if let Some(old) = replaced {
                self.pending.insert(key, old);
            }
        }
        decided
    }

    /// The checks of a proposal whose key holds no reservation.
    fn decide(
        &mut self,
        chain: &ChainFacts,
        p: &Proposal,
        key: FragmentKey,
    ) -> Result<u64, Refusal> {
        if self.pending.len() >= self.config.max_pending {
            return Err(Refusal::busy(format!(
                "{} reservations are waiting for their contracts",
                self.pending.len()
            )));
        }
        let Some(ad) = &chain.ad else {
            return Err(Refusal::NotAdvertised);
        };
        if p.price_per_gib_epoch < ad.price_per_gib_epoch {
            return Err(Refusal::PriceTooLow {
                min: ad.price_per_gib_epoch,
            });
        }
        // A repair takes over what is left of a contract: only the longest
        // duration applies.
        let shortest = if p.repair.is_some() {
            1
        } else {
            ad.min_duration_epochs
        };
        if !(shortest..=ad.max_duration_epochs).contains(&p.duration_epochs) {
            return Err(Refusal::Duration {
                min: ad.min_duration_epochs,
                max: ad.max_duration_epochs,
            });
        }
        let free = ad
            .capacity_bytes
            .saturating_sub(ad.used_bytes)
            .saturating_sub(self.pending_bytes());
        if free < p.fragment_size {
            return Err(Refusal::NoCapacity {
                free,
                needed: p.fragment_size,
            });
        }
        let collateral = per_gib_cost(ad.collateral_per_gib, p.fragment_size, 1)
            .ok_or_else(|| Refusal::invalid("the collateral overflows"))?;
        let available = Amount(
            chain
                .balance
                .0
                .saturating_sub(self.config.fee_reserve.0)
                .saturating_sub(self.pending_collateral().0),
        );
        if available < collateral {
            return Err(Refusal::NoCollateral {
                available,
                needed: collateral,
            });
        }
        let expires_height = chain.height.saturating_add(self.config.reservation_blocks);
        self.pending.insert(
            key,
            Pending {
                proposal: p.clone(),
                expires_height,
                collateral,
                stage: Stage::Reserved,
            },
        );
        Ok(expires_height)
    }

    /// An upload of `key` starts: answers its proposal and the height it
    /// expires at. Refused if it is not reserved, or is being uploaded or
    /// stored already.
    pub fn start_upload(&mut self, key: &FragmentKey) -> Result<(Proposal, u64), Refusal> {
        match self.pending.get_mut(key) {
            None => Err(Refusal::unknown(format!(
                "{key} is not reserved: propose it first"
            ))),
            Some(p) if p.stage == Stage::Uploading => {
                Err(Refusal::busy(format!("{key} is being uploaded already")))
            }
            Some(p) if p.stage == Stage::Stored => {
                Err(Refusal::invalid(format!("{key} is stored already")))
            }
            Some(p) => {
                p.stage = Stage::Uploading;
                Ok((p.proposal.clone(), p.expires_height))
            }
        }
    }

    /// The upload of `key` ended: stored, or not (the reservation stays, so
    /// the client may try again).
    pub fn end_upload(&mut self, key: &FragmentKey, stored: bool) {
        if let Some(p) = self.pending.get_mut(key) {
            p.stage = if stored {
                Stage::Stored
            } else {
                Stage::Reserved
            };
        }
    }

    /// Whether `key` is stored and waiting for its contract: the condition
    /// to sign its acceptance. Answers its proposal.
    pub fn stored(&self, key: &FragmentKey) -> Option<&Proposal> {
        self.pending
            .get(key)
            .filter(|p| p.stage == Stage::Stored)
            .map(|p| &p.proposal)
    }

    /// Forgets `key` (its contract arrived, or it was dropped).
    pub fn release(&mut self, key: &FragmentKey) {
        self.pending.remove(key);
    }

    /// The chain reached `height`: removes and answers every pending
    /// fragment whose time ran out, with whether it was stored (then the
    /// caller deletes it from the store).
    pub fn expire(&mut self, height: u64) -> Vec<(FragmentKey, bool)> {
        let expired: Vec<(FragmentKey, bool)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.expires_height < height && p.stage != Stage::Uploading)
            .map(|(k, p)| (*k, p.stage == Stage::Stored))
            .collect();
        for (key, _) in &expired {
            self.pending.remove(key);
        }
        expired
    }

    /// Every pending fragment that is stored, for the chain watcher.
    pub fn stored_keys(&self) -> Vec<FragmentKey> {
        self.pending
            .iter()
            .filter(|(_, p)| p.stage == Stage::Stored)
            .map(|(k, _)| *k)
            .collect()
    }
}

/// A repair proposal against the contract on chain: the fragment is lost,
/// and the proposal repeats the contract's facts (a provider signs what it
/// is told, so they must be the ledger's).
fn check_repair(p: &Proposal, c: &Contract) -> Result<(), Refusal> {
    let Some(repair) = &p.repair else {
        return Ok(());
    };
    let fragment = c.fragments.get(p.index as usize).ok_or_else(|| {
        Refusal::invalid(format!("contract {} has no fragment {}", c.id, p.index))
    })?;
    if fragment.status != FragmentStatus::Lost {
        return Err(Refusal::invalid(format!(
            "fragment {} of contract {} is {}, not lost",
            p.index,
            c.id,
            fragment.status.name()
        )));
    }
    let differs = [
        ("fragment root", fragment.root != p.fragment_root),
        ("object root", c.object_root != p.object_root),
        ("client", c.client != p.client),
        ("k", c.k != p.k),
        ("m", c.m != p.m),
        ("fragment size", c.fragment_size != p.fragment_size),
        ("price", c.price_per_gib_epoch != p.price_per_gib_epoch),
        ("last period", c.last_period != repair.last_period),
    ];
    if let Some((field, _)) = differs.iter().find(|(_, d)| *d) {
        return Err(Refusal::invalid(format!(
            "the repair's {field} is not contract {}'s",
            c.id
        )));
    }
    Ok(())
}

/// The checks a proposal's numbers must pass whatever the provider's terms.
pub fn check_geometry(p: &Proposal, max_fragment_size: u64) -> Result<(), Refusal> {
    let chunk = sherd_fragments::CHUNK_SIZE as u64;
    if p.k < 2 || p.m < 1 {
        return Err(Refusal::invalid(format!(
            "k = {}, m = {}: need k ≥ 2 and m ≥ 1",
            p.k, p.m
        )));
    }
    let n = u32::from(p.k) + u32::from(p.m);
    if n as usize > sherd_fragments::params::MAX_FRAGMENTS {
        return Err(Refusal::invalid(format!("k + m = {n} is over 1024")));
    }
    if p.index >= n {
        return Err(Refusal::invalid(format!(
            "fragment index {} is not below k + m = {n}",
            p.index
        )));
    }
    if p.fragment_size == 0 || p.fragment_size % chunk != 0 {
        return Err(Refusal::invalid(format!(
            "fragment size {} is not a positive multiple of {chunk}",
            p.fragment_size
        )));
    }
    if p.fragment_size > max_fragment_size {
        return Err(Refusal::invalid(format!(
            "fragment size {} is over this provider's largest, {max_fragment_size}",
            p.fragment_size
        )));
    }
    if p.duration_epochs == 0 {
        return Err(Refusal::invalid("the duration is 0 epochs"));
    }
    if p.object_size == 0 || p.shard_size == 0 {
        return Err(Refusal::invalid(
            "the object size and shard size must be positive",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sherd_ledger::{Address, Hash};

    use crate::wire::RepairTerms;

    use super::*;

    const GIB: u64 = 1 << 30;

    fn ad() -> ProviderAd {
        ProviderAd {
            capacity_bytes: 10 << 20,
            used_bytes: 2 << 20,
            price_per_gib_epoch: Amount(100),
            collateral_per_gib: Amount(GIB),
            min_duration_epochs: 1,
            max_duration_epochs: 10,
            updated_at: 1,
        }
    }

    fn chain() -> ChainFacts {
        ChainFacts {
            chain_id: ChainId::new("t").unwrap(),
            height: 50,
            ad: Some(ad()),
            balance: Amount(100_000_000),
            contract: None,
        }
    }

    fn proposal(nonce: u64, index: u32, size: u64) -> Proposal {
        Proposal {
            chain_id: ChainId::new("t").unwrap(),
            client: Address([1; 32]),
            nonce,
            object_root: Hash([2; 32]),
            k: 2,
            m: 1,
            shard_size: 16384,
            object_size: 100,
            fragment_size: size,
            duration_epochs: 5,
            price_per_gib_epoch: Amount(100),
            index,
            fragment_root: Hash([3; 32]),
            repair: None,
        }
    }

    /// The contract of `proposal(7, _, 1 MiB)`, its fragment 1 lost.
    fn contract() -> Contract {
        let p = proposal(7, 0, 1 << 20);
        let fragment = |status| sherd_ledger::state::ContractFragment {
            root: Hash([3; 32]),
            provider: Address([9; 32]),
            status,
            escrow_left: Amount(10),
            collateral_left: Amount(0),
            repair_reward: Amount(5),
            misses: 3,
            accepted: 0,
            proven: 0,
            since: 1,
        };
        Contract {
            id: p.contract_id(),
            client: p.client,
            object_root: p.object_root,
            k: 2,
            m: 1,
            fragment_size: 1 << 20,
            price_per_gib_epoch: Amount(100),
            start_height: 1,
            first_period: 1,
            last_period: 40,
            fragments: vec![
                fragment(FragmentStatus::Active),
                fragment(FragmentStatus::Lost),
                fragment(FragmentStatus::Active),
            ],
        }
    }

    fn repair(index: u32) -> Proposal {
        Proposal {
            nonce: 0,
            duration_epochs: 3,
            repair: Some(RepairTerms {
                contract_id: contract().id,
                repairer: Address([8; 32]),
                last_period: 40,
            }),
            ..proposal(7, index, 1 << 20)
        }
    }

    #[test]
    fn a_repair_is_reserved_only_for_a_lost_fragment_with_the_contracts_facts() {
        let mut policy = policy();
        let on_chain = ChainFacts {
            contract: Some(contract()),
            ..chain()
        };
        let table: Vec<(Proposal, ChainFacts, &str)> = vec![
            (repair(1), chain(), "Unknown"),
            (repair(0), on_chain.clone(), "Invalid"),
            (repair(5), on_chain.clone(), "Invalid"),
            (
                Proposal {
                    fragment_root: Hash([4; 32]),
                    ..repair(1)
                },
                on_chain.clone(),
                "Invalid",
            ),
            (
                Proposal {
                    price_per_gib_epoch: Amount(1_000),
                    ..repair(1)
                },
                on_chain.clone(),
                "Invalid",
            ),
        ];
        for (p, facts, expected) in table {
            let refusal = policy.propose(&facts, &p).unwrap_err();
            assert!(
                format!("{refusal:?}").starts_with(expected),
                "{refusal:?} is not {expected}"
            );
        }
        assert_eq!(policy.pending_count(), 0);
        // Shorter than the provider's shortest term is fine for a repair.
        let short = Proposal {
            duration_epochs: 1,
            ..repair(1)
        };
        let mut terms = on_chain.clone();
        terms.ad.as_mut().unwrap().min_duration_epochs = 2;
        assert_eq!(policy.propose(&terms, &short), Ok(60));
        assert_eq!(short.contract_id(), contract().id);
    }

    fn policy() -> DealPolicy {
        DealPolicy::new(PolicyConfig {
            reservation_blocks: 10,
            fee_reserve: Amount(0),
            ..PolicyConfig::default()
        })
    }

    #[test]
    fn a_proposal_is_reserved_and_the_same_one_again_answers_the_same() {
        let mut policy = policy();
        let p = proposal(0, 0, 1 << 20);
        assert_eq!(policy.propose(&chain(), &p), Ok(60));
        let mut later = chain();
        later.height = 55;
        assert_eq!(policy.propose(&later, &p), Ok(60), "idempotent");
    }

    #[test]
    fn other_terms_replace_a_bare_reservation_but_not_an_upload_or_a_stored_fragment() {
        let mut policy = policy();
        let p = proposal(0, 0, 1 << 20);
        let key = FragmentKey {
            contract_id: p.contract_id(),
            index: p.index,
        };
        assert_eq!(policy.propose(&chain(), &p), Ok(60));
        // The client's put failed before uploading; its next put has the
        // same nonce, so the same key, and another object.
        let mut other = p.clone();
        other.fragment_root = Hash([9; 32]);
        let mut later = chain();
        later.height = 53;
        assert_eq!(policy.propose(&later, &other), Ok(63));
        assert_eq!(policy.pending_count(), 1);
        assert_eq!(policy.pending_bytes(), 1 << 20, "the old one holds nothing");
        // A refused replacement leaves the reservation as it was.
        let mut cheap = p.clone();
        cheap.price_per_gib_epoch = Amount(1);
        assert!(policy.propose(&chain(), &cheap).is_err());
        assert_eq!(policy.start_upload(&key).unwrap().0, other);

        // Being uploaded: busy; stored (its acceptance signed): refused.
        assert!(matches!(
            policy.propose(&chain(), &p),
            Err(Refusal::Busy { .. })
        ));
        policy.end_upload(&key, true);
        let refused = policy.propose(&chain(), &p).unwrap_err();
        assert!(matches!(refused, Refusal::Invalid { .. }), "{refused:?}");
        assert!(refused.to_string().contains("until height 63"), "{refused}");
        assert_eq!(policy.stored(&key), Some(&other));
    }

    type Change = Box<dyn Fn(&mut ChainFacts, &mut Proposal)>;

    #[test]
    fn refusals_name_the_term() {
        let mut policy = policy();
        let table: Vec<(Change, &str)> = vec![
            (
                Box::new(|c, _| c.chain_id = ChainId::new("x").unwrap()),
                "WrongChain",
            ),
            (
                Box::new(|_, p| p.price_per_gib_epoch = Amount(99)),
                "PriceTooLow",
            ),
            (Box::new(|_, p| p.duration_epochs = 11), "Duration"),
            (Box::new(|_, p| p.fragment_size = 9 << 20), "NoCapacity"),
            (Box::new(|c, _| c.balance = Amount(1)), "NoCollateral"),
            (Box::new(|c, _| c.ad = None), "NotAdvertised"),
            (Box::new(|c, _| c.contract = Some(contract())), "Invalid"),
            (Box::new(|_, p| p.k = 1), "Invalid"),
            (Box::new(|_, p| p.index = 3), "Invalid"),
            (Box::new(|_, p| p.fragment_size = 1000), "Invalid"),
            (Box::new(|_, p| p.duration_epochs = 0), "Invalid"),
        ];
        for (change, expected) in table {
            let (mut c, mut p) = (chain(), proposal(1, 0, 1 << 20));
            change(&mut c, &mut p);
            let refusal = policy.propose(&c, &p).unwrap_err();
            assert!(
                format!("{refusal:?}").starts_with(expected),
                "{refusal:?} is not {expected}"
            );
        }
        assert_eq!(policy.pending_count(), 0, "nothing reserved by a refusal");
    }

    #[test]
    fn reservations_hold_room_and_collateral_until_they_expire() {
        let mut policy = policy();
        // 8 MiB free: seven 1 MiB reservations fit, with the 8th the room is gone.
        for nonce in 0..8 {
            policy
                .propose(&chain(), &proposal(nonce, 0, 1 << 20))
                .unwrap();
        }
        assert_eq!(
            policy.propose(&chain(), &proposal(9, 0, 1 << 20)),
            Err(Refusal::NoCapacity {
                free: 0,
                needed: 1 << 20
            })
        );
        assert_eq!(policy.pending_collateral(), Amount(8 << 20));
        let key = FragmentKey {
            contract_id: proposal(0, 0, 0).contract_id(),
            index: 0,
        };
        assert!(policy.start_upload(&key).is_ok());
        assert!(matches!(
            policy.start_upload(&key),
            Err(Refusal::Busy { .. })
        ));
        policy.end_upload(&key, true);
        assert!(policy.stored(&key).is_some());
        // At height 61 every reservation from height 50 has expired: the
        // stored one is reported for deletion.
        let expired = policy.expire(61);
        assert_eq!(expired.len(), 8);
        assert!(expired.contains(&(key, true)));
        assert_eq!(policy.pending_bytes(), 0);
        assert!(policy.propose(&chain(), &proposal(9, 0, 1 << 20)).is_ok());
    }

    #[test]
    fn an_upload_needs_a_reservation_and_a_failed_one_can_be_retried() {
        let mut policy = policy();
        let p = proposal(0, 1, 1 << 20);
        let key = FragmentKey {
            contract_id: p.contract_id(),
            index: 1,
        };
        assert!(matches!(
            policy.start_upload(&key),
            Err(Refusal::Unknown { .. })
        ));
        policy.propose(&chain(), &p).unwrap();
        policy.start_upload(&key).unwrap();
        policy.end_upload(&key, false);
        assert!(policy.stored(&key).is_none());
        policy.start_upload(&key).unwrap();
        policy.end_upload(&key, true);
        assert!(matches!(
            policy.start_upload(&key),
            Err(Refusal::Invalid { .. })
        ));
    }
}
