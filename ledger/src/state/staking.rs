//! Staking: validators, delegations, unbonding, withdrawal, and slashing by
//! evidence.
//!
//! * `Stake` registers the sender as a validator (BLS key checked with
//!   KeyValidate, proof of possession verified, key not used by another
//!   validator) or adds to its self-stake; the amount leaves the balance.
//!   A validator joins a set from the next epoch boundary on.
//! * `Delegate` bonds currency to a registered validator.
//! * `Undelegate` starts unbonding: from the sender's own self-stake when
//!   `validator` is the sender, else from its delegation. The amount leaves
//!   the bond at once (and so the validator's power from the next set) and
//!   can be withdrawn from epoch `current + unbonding_epochs`.
//! * `Withdraw` pays out every released unbonding.
//! * `Evidence` (two conflicting votes signed by one member of an epoch's
//!   set) burns `equivocation_slash_bps` of the validator's self-stake and
//!   of every delegation to it, and jails it for `jail_epochs`. A fault (one
//!   validator, epoch and view) is punished once.

use sherd_consensus::{bls, codec::Wire, ValidatorSet};

use super::{
    delegations,
    records::{self, Empty, Unbonding, Unbondings, Validator},
    BlockExecutor, EvidenceFault, FailReason, KindResult, StateError,
};
use crate::{
    address::Address,
    amount::Amount,
    chain::BPS,
    hash::Hash,
    store::StateStore,
    tx::kind::{Delegate, Evidence, Stake, Undelegate},
};

/// `amount · bps / 10000`, rounded down.
pub(super) fn share(amount: Amount, bps: u16) -> Amount {
    let scaled = u128::from(amount.0)
        .saturating_mul(u128::from(bps))
        .checked_div(u128::from(BPS))
        .unwrap_or(0);
    Amount(u64::try_from(scaled).unwrap_or(u64::MAX))
}

impl<S: StateStore> BlockExecutor<'_, S> {
    pub(super) fn stake(&mut self, sender: &Address, s: &Stake) -> KindResult {
        if s.amount.is_zero() {
            return Ok(Err(FailReason::ZeroAmount));
        }
        if s.commission_bps > BPS {
            return Ok(Err(FailReason::CommissionTooHigh {
                bps: s.commission_bps,
            }));
        }
        let key = records::validator_key(sender);
        let mut validator = match self.overlay.get::<Validator>(&key)? {
            Some(existing) => {
                if existing.bls_pubkey != s.bls_pubkey {
                    return Ok(Err(FailReason::BlsKeyMismatch { operator: *sender }));
                }
                existing
            }
            None => {
                if let Err(reason) = check_bls_key(&s.bls_pubkey, &s.pop) {
                    return Ok(Err(reason));
                }
                let index = records::bls_key_key(&s.bls_pubkey);
                if let Some(operator) = self.overlay.get::<Address>(&index)? {
                    return Ok(Err(FailReason::BlsKeyInUse { operator }));
                }
                self.overlay.put(index, sender)?;
                Validator {
                    operator: *sender,
                    bls_pubkey: s.bls_pubkey,
                    commission_bps: s.commission_bps,
                    self_stake: Amount::ZERO,
                    delegated: Amount::ZERO,
                    pending_rewards: Amount::ZERO,
                    jailed_until: 0,
                }
            }
        };
        if let Err(reason) = self.overlay.debit(sender, s.amount)? {
            return Ok(Err(reason));
        }
        validator.commission_bps = s.commission_bps;
        validator.self_stake = match validator.self_stake.checked_add(s.amount) {
            Some(stake) => stake,
            None => return Ok(Err(FailReason::Overflow { account: *sender })),
        };
        if validator.bonded().is_none() {
            return Ok(Err(FailReason::Overflow { account: *sender }));
        }
        self.overlay.put(key, &validator)?;
        Ok(Ok(()))
    }

    pub(super) fn delegate(&mut self, sender: &Address, d: &Delegate) -> KindResult {
        if d.amount.is_zero() {
            return Ok(Err(FailReason::ZeroAmount));
        }
        if d.validator == *sender {
            return Ok(Err(FailReason::SelfDelegation));
        }
        let key = records::validator_key(&d.validator);
        let Some(mut validator) = self.overlay.get::<Validator>(&key)? else {
            return Ok(Err(FailReason::UnknownValidator {
                validator: d.validator,
            }));
        };
        if let Err(reason) = self.overlay.debit(sender, d.amount)? {
            return Ok(Err(reason));
        }
        let dkey = records::delegation_key(&d.validator, sender);
        let current: Amount = self.overlay.get(&dkey)?.unwrap_or_default();
        let (Some(delegation), Some(delegated)) = (
            current.checked_add(d.amount),
            validator.delegated.checked_add(d.amount),
        ) else {
            return Ok(Err(FailReason::Overflow {
                account: d.validator,
            }));
        };
        validator.delegated = delegated;
        if validator.bonded().is_none() {
            return Ok(Err(FailReason::Overflow {
                account: d.validator,
            }));
        }
        self.overlay.put(dkey, &delegation)?;
        self.overlay.put(key, &validator)?;
        Ok(Ok(()))
    }

    pub(super) fn undelegate(&mut self, sender: &Address, u: &Undelegate) -> KindResult {
        if u.amount.is_zero() {
            return Ok(Err(FailReason::ZeroAmount));
        }
        let key = records::validator_key(&u.validator);
        let Some(mut validator) = self.overlay.get::<Validator>(&key)? else {
            return Ok(Err(FailReason::UnknownValidator {
                validator: u.validator,
            }));
        };
        let short = |bonded| {
            Ok(Err(FailReason::InsufficientStake {
                validator: u.validator,
                bonded,
                needed: u.amount,
            }))
        };
        if u.validator == *sender {
            let Some(left) = validator.self_stake.checked_sub(u.amount) else {
                return short(validator.self_stake);
            };
            validator.self_stake = left;
        } else {
            let dkey = records::delegation_key(&u.validator, sender);
            let current: Amount = self.overlay.get(&dkey)?.unwrap_or_default();
            let Some(left) = current.checked_sub(u.amount) else {
                return short(current);
            };
            validator.delegated = validator
                .delegated
                .checked_sub(u.amount)
                .ok_or(StateError::SupplyOverflow)?;
            if left.is_zero() {
                self.overlay.delete(dkey);
            } else {
                self.overlay.put(dkey, &left)?;
            }
        }
        let ukey = records::unbonding_key(sender);
        let mut unbondings: Unbondings = self.overlay.get(&ukey)?.unwrap_or_default();
        if unbondings.0.len() >= records::MAX_UNBONDINGS {
            return Ok(Err(FailReason::TooManyUnbondings));
        }
        unbondings.0.push(Unbonding {
            validator: u.validator,
            amount: u.amount,
            release_epoch: self.ctx.epoch.saturating_add(self.params.unbonding_epochs),
        });
        self.overlay.put(ukey, &unbondings)?;
        self.overlay.put(key, &validator)?;
        Ok(Ok(()))
    }

    pub(super) fn withdraw(&mut self, sender: &Address) -> KindResult {
        let ukey = records::unbonding_key(sender);
        let unbondings: Unbondings = self.overlay.get(&ukey)?.unwrap_or_default();
        let epoch = self.ctx.epoch;
        let (released, waiting): (Vec<_>, Vec<_>) = unbondings
            .0
            .into_iter()
            .partition(|u| u.release_epoch <= epoch);
        if released.is_empty() {
            return Ok(Err(FailReason::NothingToWithdraw {
                next: waiting.iter().map(|u| u.release_epoch).min(),
            }));
        }
        let mut total = Amount::ZERO;
        for u in &released {
            total = total
                .checked_add(u.amount)
                .ok_or(StateError::SupplyOverflow)?;
        }
        if let Err(reason) = self.overlay.credit(sender, total)? {
            return Ok(Err(reason));
        }
        if waiting.is_empty() {
            self.overlay.delete(ukey);
        } else {
            self.overlay.put(ukey, &Unbondings(waiting))?;
        }
        Ok(Ok(()))
    }

    pub(super) fn evidence(&mut self, e: &Evidence) -> KindResult {
        let bad = |reason: EvidenceFault| {
            Ok(Err(FailReason::BadEvidence {
                reason: Box::new(reason),
            }))
        };
        let evidence = match sherd_consensus::Evidence::decode(&e.bytes) {
            Ok(evidence) => evidence,
            Err(err) => return bad(EvidenceFault::Undecodable(err)),
        };
        let Some(set) = self
            .overlay
            .get::<records::EpochSet>(&records::epoch_set_key(evidence.epoch()))?
        else {
            return bad(EvidenceFault::NoSet(evidence.epoch()));
        };
        let mut keys = Vec::with_capacity(set.members.len());
        for member in &set.members {
            let Ok(key) = bls::PublicKey::from_bytes(&member.bls_pubkey) else {
                return Err(StateError::Corrupt {
                    key: hex::encode(records::epoch_set_key(set.epoch)),
                    error: crate::codec::DecodeError::Invalid {
                        field: "EpochSet.bls_pubkey",
                        reason: "not a BLS public key".into(),
                    },
                });
            };
            keys.push((key, member.power));
        }
        let consensus_set = match ValidatorSet::new(set.epoch, keys) {
            Ok(s) => s,
            Err(error) => {
                return bad(EvidenceFault::BadSet {
                    epoch: set.epoch,
                    error,
                })
            }
        };
        if let Err(err) = evidence.verify_in(&self.params.chain_id, &consensus_set) {
            return bad(EvidenceFault::Invalid(err));
        }
        let Some(member) = usize::try_from(evidence.signer())
            .ok()
            .and_then(|i| set.members.get(i))
        else {
            return bad(EvidenceFault::UnknownSigner(evidence.signer()));
        };
        let operator = member.operator;
        let mut id_bytes = Vec::with_capacity(48);
        id_bytes.extend_from_slice(operator.as_bytes());
        id_bytes.extend_from_slice(&evidence.epoch().to_le_bytes());
        id_bytes.extend_from_slice(&evidence.view().to_le_bytes());
        let fault = records::evidence_key(&Hash::digest(&id_bytes));
        if self.overlay.get::<Empty>(&fault)?.is_some() {
            return bad(EvidenceFault::AlreadySlashed {
                operator,
                view: evidence.view(),
                epoch: evidence.epoch(),
            });
        }
        self.overlay.put(fault, &Empty)?;
        self.slash_validator(&operator)?;
        Ok(Ok(()))
    }

    /// Burns the equivocation share of `operator`'s bond and jails it.
    fn slash_validator(&mut self, operator: &Address) -> Result<(), StateError> {
        let key = records::validator_key(operator);
        let Some(mut validator) = self.overlay.get::<Validator>(&key)? else {
            return Ok(());
        };
        let bps = self.params.equivocation_slash_bps;
        let mut burned = share(validator.self_stake, bps);
        validator.self_stake = validator
            .self_stake
            .checked_sub(burned)
            .ok_or(StateError::SupplyOverflow)?;
        for (delegator, amount) in delegations(&self.overlay, operator)? {
            let cut = share(amount, bps);
            if cut.is_zero() {
                continue;
            }
            let left = amount.checked_sub(cut).ok_or(StateError::SupplyOverflow)?;
            let dkey = records::delegation_key(operator, &delegator);
            if left.is_zero() {
                self.overlay.delete(dkey);
            } else {
                self.overlay.put(dkey, &left)?;
            }
            validator.delegated = validator
                .delegated
                .checked_sub(cut)
                .ok_or(StateError::SupplyOverflow)?;
            burned = burned.checked_add(cut).ok_or(StateError::SupplyOverflow)?;
        }
        validator.jailed_until = self
            .ctx
            .epoch
            .saturating_add(1)
            .saturating_add(self.params.jail_epochs);
        self.overlay.put(key, &validator)?;
        self.overlay.burn(burned)
    }
}

/// KeyValidate and PopVerify of a new validator's BLS key.
pub(crate) fn check_bls_key(bls_pubkey: &[u8; 48], pop: &[u8; 96]) -> Result<(), FailReason> {
    let key = bls::PublicKey::from_bytes(bls_pubkey)
        .map_err(|reason| FailReason::InvalidBlsKey { reason })?;
    let pop = bls::ProofOfPossession::from_bytes(pop)
        .map_err(|_| FailReason::InvalidProofOfPossession)?;
    key.verify_possession(&pop)
        .map_err(|_| FailReason::InvalidProofOfPossession)
}
