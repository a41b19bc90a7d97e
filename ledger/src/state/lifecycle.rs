//! Ending a contract early and extending it: `EndContract` and
//! `ExtendContract`, both sent by the contract's client.
//!
//! **End** (`sherd storage rm`). Settles the contract at once, in the
//! block that includes it:
//!
//! * each active fragment's provider keeps the current period's share of
//!   its escrow, `escrow_left / periods_left` (what a proof this period
//!   would pay), unless it has been paid for this period already or the
//!   contract is not challenged yet; its collateral comes back and its
//!   capacity is freed;
//! * the rest of every fragment's escrow goes back to the client;
//! * a lost fragment's repair reward is burned (as at settlement), and it
//!   leaves the lost index;
//! * every fragment is `ended`, and the scheduled settlement and the
//!   live-index entry are dropped.
//!
//! Providers delete the fragments when they see the end final. Ending an
//! ended contract, or another client's, is refused.
//!
//! **Extend** (`sherd storage extend`). `epochs` more epochs: the last
//! period moves `epochs · periods_per_epoch` later, and the client locks
//! `ceil(price · fragment_size · epochs / 2^30)` more escrow per fragment
//! that is not ended (a lost one's pays its repairer's new provider). The
//! providers keep their fragments: a provider's advertisement is its
//! standing, signed offer, so each active fragment's provider must still
//! advertise a price at most the contract's and a longest duration that
//! covers what is left of the contract after the extension; otherwise the
//! extension is refused naming that provider (the client can wait for the
//! fragment to be repaired elsewhere, or store the object again). The
//! settlement moves with the last period.

use super::{
    records::{self, Contract, Empty, FragmentStatus, ProviderAd},
    BlockExecutor, ChangeFault, FailReason, KindResult, StateError, TermsFault,
};
use crate::{
    address::Address,
    amount::Amount,
    chain::ChainParams,
    store::StateStore,
    tx::kind::{EndContract, ExtendContract},
};

/// What extending a contract by some epochs comes to ([`Extension::of`]):
/// the rule `ExtendContract` applies, for a client to check before it
/// pays a fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension {
    /// The contract's price per GiB-epoch.
    pub price_per_gib_epoch: Amount,
    /// Its last challenged period after the extension.
    pub last_period: u64,
    /// Epochs left of it after the extension, counted from the block that
    /// extends it: what each provider's longest duration must cover.
    pub epochs_left: u64,
    /// More escrow per fragment that has not ended.
    pub escrow_each: Amount,
}

impl Extension {
    /// `contract` extended by `epochs` in the block at `height`, or why
    /// not (0 epochs, past its last period, overflow).
    pub fn of(
        params: &ChainParams,
        contract: &Contract,
        epochs: u64,
        height: u64,
    ) -> Result<Self, ChangeFault> {
        if epochs == 0 {
            return Err(ChangeFault::ZeroEpochs);
        }
        let period = params.period_of(height);
        if period > contract.last_period {
            return Err(ChangeFault::PastLastPeriod {
                id: contract.id,
                last_period: contract.last_period,
            });
        }
        let per_epoch = params.periods_per_epoch().max(1);
        let last_period = epochs
            .checked_mul(per_epoch)
            .and_then(|more| contract.last_period.checked_add(more))
            .ok_or(ChangeFault::TooLong)?;
        let escrow_each = super::market::per_gib_cost(
            contract.price_per_gib_epoch,
            contract.fragment_size,
            epochs,
        )
        .ok_or(ChangeFault::EscrowOverflow)?;
        let epochs_left = last_period
            .saturating_sub(period.max(contract.first_period))
            .saturating_add(1)
            .div_ceil(per_epoch);
        Ok(Self {
            price_per_gib_epoch: contract.price_per_gib_epoch,
            last_period,
            epochs_left,
            escrow_each,
        })
    }

    /// Whether a provider advertising `ad` keeps its fragment for the
    /// extension: a price at most the contract's, a longest duration that
    /// covers what is left. A provider's advertisement is its standing,
    /// signed offer.
    pub fn covered_by(&self, ad: &ProviderAd) -> Result<(), TermsFault> {
        if ad.price_per_gib_epoch > self.price_per_gib_epoch {
            return Err(TermsFault::PriceRaised {
                asks: ad.price_per_gib_epoch,
                pays: self.price_per_gib_epoch,
            });
        }
        if ad.max_duration_epochs < self.epochs_left {
            return Err(TermsFault::TooShort {
                max: ad.max_duration_epochs,
                left: self.epochs_left,
            });
        }
        Ok(())
    }
}

fn refuse(reason: ChangeFault) -> KindResult {
    Ok(Err(FailReason::BadContractChange { reason }))
}

impl<S: StateStore> BlockExecutor<'_, S> {
    /// The client's running contract `id`, or why it cannot be changed.
    fn own_running(
        &self,
        sender: &Address,
        id: &crate::hash::Hash,
    ) -> Result<Result<Contract, FailReason>, StateError> {
        let Some(contract) = self.overlay.get::<Contract>(&records::contract_key(id))? else {
            return Ok(Err(FailReason::UnknownContract { id: *id }));
        };
        if contract.client != *sender {
            return Ok(Err(FailReason::BadContractChange {
                reason: ChangeFault::NotYours {
                    id: *id,
                    client: contract.client,
                },
            }));
        }
        if contract
            .fragments
            .iter()
            .all(|f| f.status == FragmentStatus::Ended)
        {
            return Ok(Err(FailReason::BadContractChange {
                reason: ChangeFault::Ended(*id),
            }));
        }
        Ok(Ok(contract))
    }

    pub(super) fn end_contract(&mut self, sender: &Address, e: &EndContract) -> KindResult {
        let mut contract = match self.own_running(sender, &e.contract_id)? {
            Ok(contract) => contract,
            Err(reason) => return Ok(Err(reason)),
        };
        let settles_at = self.settlement_height(&contract);
        let period = self.params.period_of(self.ctx.height);
        let challenged = (contract.first_period..=contract.last_period).contains(&period);
        let periods_left = contract
            .last_period
            .saturating_sub(period)
            .saturating_add(1);
        // This period's share to each active fragment's provider, then the
        // settlement, now.
        for fragment in contract
            .fragments
            .iter_mut()
            .filter(|f| f.status == FragmentStatus::Active)
        {
            let paid_this_period = fragment.proven == period.saturating_add(1);
            if !challenged || paid_this_period {
                continue;
            }
            let share = Amount(
                fragment
                    .escrow_left
                    .0
                    .checked_div(periods_left)
                    .unwrap_or(0),
            );
            if self.overlay.credit(&fragment.provider, share)?.is_err() {
                return Err(StateError::SupplyOverflow);
            }
            fragment.escrow_left = fragment
                .escrow_left
                .checked_sub(share)
                .ok_or(StateError::SupplyOverflow)?;
        }
        self.release(&mut contract)?;
        let id = contract.id;
        self.overlay
            .delete(records::settlement_key(settles_at, &id));
        self.overlay.put(records::contract_key(&id), &contract)?;
        Ok(Ok(()))
    }

    pub(super) fn extend_contract(&mut self, sender: &Address, e: &ExtendContract) -> KindResult {
        let mut contract = match self.own_running(sender, &e.contract_id)? {
            Ok(contract) => contract,
            Err(reason) => return Ok(Err(reason)),
        };
        let extension = match Extension::of(&self.params, &contract, e.epochs, self.ctx.height) {
            Ok(extension) => extension,
            Err(reason) => return refuse(reason),
        };
        let (last_period, extra_each) = (extension.last_period, extension.escrow_each);
        for f in contract
            .fragments
            .iter()
            .filter(|f| f.status == FragmentStatus::Active)
        {
            let provider = f.provider;
            let Some(ad) = self
                .overlay
                .get::<ProviderAd>(&records::provider_key(&provider))?
            else {
                return Ok(Err(FailReason::NotAProvider { provider }));
            };
            if let Err(reason) = extension.covered_by(&ad) {
                return Ok(Err(FailReason::TermsRefused { provider, reason }));
            }
        }
        let open = contract
            .fragments
            .iter()
            .filter(|f| f.status != FragmentStatus::Ended)
            .count();
        let Some(extra) = u64::try_from(open)
            .ok()
            .and_then(|n| extra_each.0.checked_mul(n))
        else {
            return refuse(ChangeFault::EscrowOverflow);
        };
        if let Err(reason) = self.overlay.debit(sender, Amount(extra))? {
            return Ok(Err(reason));
        }
        for f in contract
            .fragments
            .iter_mut()
            .filter(|f| f.status != FragmentStatus::Ended)
        {
            f.escrow_left = f
                .escrow_left
                .checked_add(extra_each)
                .ok_or(StateError::SupplyOverflow)?;
        }
        let id = contract.id;
        self.overlay.delete(records::settlement_key(
            self.settlement_height(&contract),
            &id,
        ));
        contract.last_period = last_period;
        self.overlay.put(
            records::settlement_key(self.settlement_height(&contract), &id),
            &Empty,
        )?;
        self.overlay.put(records::contract_key(&id), &contract)?;
        Ok(Ok(()))
    }
}
