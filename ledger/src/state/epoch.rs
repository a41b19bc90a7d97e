//! Block rewards, reward payout and validator-set selection at epoch ends.
//!
//! Payout of a validator's pending rewards `R` at the end of an epoch:
//! the commission `R · commission_bps / 10000` goes to the operator; the
//! rest `R'` is split by bond: each delegator gets `R' · d / bonded`
//! (rounded down), the operator gets what is left (its self-stake share
//! plus the rounding), so every unit is paid and none is created.

use super::{
    delegations,
    records::{self, ChainState, EpochSet, SetMember, Validator},
    staking::share,
    BlockExecutor, StateError,
};
use crate::{amount::Amount, store::StateStore};

impl<S: StateStore> BlockExecutor<'_, S> {
    /// Fees and the block reward to the proposer's pending rewards.
    pub(super) fn pay_proposer(&mut self) -> Result<(), StateError> {
        let reward = self.params.block_reward;
        let total = self
            .fees
            .checked_add(reward)
            .ok_or(StateError::SupplyOverflow)?;
        if total.is_zero() {
            return Ok(());
        }
        self.overlay.issue(reward)?;
        let key = records::validator_key(&self.ctx.proposer);
        match self.overlay.get::<Validator>(&key)? {
            Some(mut validator) => {
                validator.pending_rewards = validator
                    .pending_rewards
                    .checked_add(total)
                    .ok_or(StateError::SupplyOverflow)?;
                self.overlay.put(key, &validator)?;
            }
            // A genesis set member always has a record; this is defensive.
            None => {
                let proposer = self.ctx.proposer;
                if self.overlay.credit(&proposer, total)?.is_err() {
                    return Err(StateError::SupplyOverflow);
                }
            }
        }
        self.overlay.keep_tx();
        Ok(())
    }

    /// Pays out rewards, chooses the next set and moves to the next epoch.
    pub(super) fn end_epoch(&mut self) -> Result<EpochSet, StateError> {
        let validators: Vec<Validator> = self
            .overlay
            .scan::<Validator>(&[records::prefix::VALIDATOR])?
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        let mut updated = Vec::with_capacity(validators.len());
        for mut validator in validators {
            if !validator.pending_rewards.is_zero() {
                self.pay_out(&mut validator)?;
            }
            updated.push(validator);
        }
        let next_epoch = self.ctx.epoch.saturating_add(1);
        let mut candidates: Vec<SetMember> = updated
            .iter()
            .filter(|v| v.jailed_until <= next_epoch)
            .filter(|v| v.self_stake >= self.params.min_self_stake)
            .filter_map(|v| {
                let power = v.bonded()?.0;
                (power > 0).then_some(SetMember {
                    operator: v.operator,
                    bls_pubkey: v.bls_pubkey,
                    power,
                })
            })
            .collect();
        candidates.sort_by(|a, b| b.power.cmp(&a.power).then(a.operator.cmp(&b.operator)));
        candidates.truncate(usize::try_from(self.params.max_validators).unwrap_or(usize::MAX));
        let members = if candidates.is_empty() {
            // A chain without validators cannot make the block that would
            // fix it: keep the current set.
            self.overlay
                .get::<EpochSet>(&records::epoch_set_key(self.ctx.epoch))?
                .map(|set| set.members)
                .unwrap_or_default()
        } else {
            candidates
        };
        let set = EpochSet {
            epoch: next_epoch,
            members,
        };
        self.overlay.put(records::epoch_set_key(next_epoch), &set)?;
        let mut chain: ChainState =
            self.overlay
                .get(records::CHAIN_KEY)?
                .ok_or(StateError::Missing {
                    what: "chain position",
                })?;
        chain.epoch = next_epoch;
        self.overlay.put(records::CHAIN_KEY.to_vec(), &chain)?;
        self.overlay.keep_tx();
        Ok(set)
    }

    /// Pays `validator`'s pending rewards (see the module docs) and writes it.
    fn pay_out(&mut self, validator: &mut Validator) -> Result<(), StateError> {
        let total = validator.pending_rewards;
        let commission = share(total, validator.commission_bps);
        let rest = total
            .checked_sub(commission)
            .ok_or(StateError::SupplyOverflow)?;
        let bonded = u128::from(validator.bonded().ok_or(StateError::SupplyOverflow)?.0);
        let mut paid = Amount::ZERO;
        if bonded > 0 {
            for (delegator, amount) in delegations(&self.overlay, &validator.operator)? {
                let cut = u128::from(rest.0)
                    .saturating_mul(u128::from(amount.0))
                    .checked_div(bonded)
                    .unwrap_or(0);
                let cut = Amount(u64::try_from(cut).map_err(|_| StateError::SupplyOverflow)?);
                if cut.is_zero() {
                    continue;
                }
                if self.overlay.credit(&delegator, cut)?.is_err() {
                    return Err(StateError::SupplyOverflow);
                }
                paid = paid.checked_add(cut).ok_or(StateError::SupplyOverflow)?;
            }
        }
        let operator_share = total.checked_sub(paid).ok_or(StateError::SupplyOverflow)?;
        let operator = validator.operator;
        if self.overlay.credit(&operator, operator_share)?.is_err() {
            return Err(StateError::SupplyOverflow);
        }
        validator.pending_rewards = Amount::ZERO;
        self.overlay
            .put(records::validator_key(&operator), &*validator)
    }
}
