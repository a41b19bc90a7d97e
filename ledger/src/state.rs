//! The state transition: executing a block's transactions and the chain's
//! own bookkeeping (rewards, epochs, storage proofs, contract settlement).
//!
//! The records and their keys are in [`records`]. A block is executed by a
//! [`BlockExecutor`]: [`begin`](BlockExecutor::begin) checks that the block
//! follows the stored chain position, [`apply`](BlockExecutor::apply) runs
//! one transaction, [`finish`](BlockExecutor::finish) does the end-of-block
//! work and answers every write of the block as one [`ChangeSet`]. Nothing is
//! written to the store: the caller commits the change set atomically with
//! the block.
//!
//! Applying a transaction (already signature-checked, see
//! [`crate::verify`]) has three possible ends:
//!
//! * **Rejected** ([`Rejection`]): wrong chain id, a fee under the minimum,
//!   an unknown sender, a nonce other than the sender's next one (a replay
//!   or a gap), a sender who cannot pay the fee. Nothing changes and the
//!   transaction must not be included in a block.
//! * **Failed** ([`FailReason`]): the fee is paid and the nonce used, but the
//!   kind's effects are all undone.
//! * **Succeeded**: fee paid, nonce used, effects kept.
//!
//! `SubmitProofs` is the one kind judged in parts: each proof of the batch
//! is accepted or refused on its own, the receipt carries one
//! [`ProofVerdict`] per entry ([`Receipt::proofs`]), and the transaction
//! fails only if no entry is accepted ([`market`]).
//!
//! End of every block, in this order:
//!
//! 1. The block's fees and the block reward (new currency) go to the
//!    proposer's validator record as pending rewards.
//! 2. If the block closes a proof period's window, every fragment
//!    challenged in that period and not proven is slashed ([`market`]).
//! 3. Contracts scheduled to settle after this block release their escrow
//!    and collateral.
//! 4. If the block is the last of its epoch: pending rewards are paid out
//!    (commission to the operator, the rest pro rata to self-stake and
//!    delegations), and the next epoch's validator set is chosen: the top
//!    `max_validators` by bonded stake, not jailed, with at least
//!    `min_self_stake` of self-stake.
//!
//! Invariant (property-tested): `genesis + issued − burned` equals the sum
//! of all balances, self-stakes, delegations, pending rewards, unbondings,
//! contract escrows and locked collateral ([`audit`]).

mod epoch;
mod lifecycle;
pub mod market;
pub mod records;
pub(crate) mod staking;

use std::collections::BTreeMap;

pub use lifecycle::Extension;
pub use market::{ProofChecks, ProofPayment, ProofRejection, ProofVerdict};
use records::Record;
pub use records::{
    Account, ChainState, Contract, ContractFragment, Endpoint, EpochSet, FragmentStatus,
    ProviderAd, SetMember, Supply, Unbonding, Unbondings, Validator,
};

use crate::{
    address::Address,
    amount::Amount,
    chain::{ChainId, ChainParams},
    codec::{DecodeError, EncodeError},
    hash::Hash,
    store::{ChangeSet, StateStore, StoreError},
    tx::{kind::Transfer, TxBody, TxKind},
    verify::VerifiedTx,
};

/// The state cannot be read: the store failed or holds bytes that are not
/// a state value. Not the transaction's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored value does not decode.
    #[error("state value under key {key} is corrupt: {error}")]
    Corrupt {
        /// The key, hex.
        key: String,
        /// Why it does not decode.
        error: DecodeError,
    },
    /// A value could not be encoded (a bug: state values have fixed limits).
    #[error("state value cannot be encoded: {0}")]
    Encode(#[from] EncodeError),
    /// A record the chain cannot run without is missing.
    #[error("the state has no {what}: was genesis written?")]
    Missing {
        /// What is missing.
        what: &'static str,
    },
    /// The sum of fees or balances exceeds `u64::MAX`, which a state whose
    /// supply fits in a `u64` cannot reach.
    #[error("supply accounting overflowed: the state is inconsistent")]
    SupplyOverflow,
    /// The state commitment could not be updated (its store failed, or a
    /// tree node is corrupt).
    #[error("state commitment: {0}")]
    Commitment(#[from] crate::commitment::CommitmentError),
}

/// The checks of a transaction that need no state: the chain it names and
/// its fee against the minimum. A block's executor makes them first, and a
/// node's mempool makes the same ones on admission.
pub fn check_chain_and_fee(body: &TxBody, params: &ChainParams) -> Result<(), Rejection> {
    if body.chain_id != params.chain_id {
        return Err(Rejection::WrongChain {
            expected: params.chain_id.clone(),
            found: body.chain_id.clone(),
        });
    }
    if body.fee < params.min_fee {
        return Err(Rejection::FeeTooLow {
            min: params.min_fee,
            offered: body.fee,
        });
    }
    Ok(())
}

/// Why a transaction cannot be included at all (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Signed for another chain.
    #[error("transaction is for chain `{found}`, this is `{expected}`")]
    WrongChain {
        /// This chain.
        expected: ChainId,
        /// The transaction's.
        found: ChainId,
    },
    /// The fee is under the chain's minimum.
    #[error("fee {offered} is below the minimum fee {min}")]
    FeeTooLow {
        /// The minimum.
        min: Amount,
        /// The fee offered.
        offered: Amount,
    },
    /// The sender has no account, so it cannot pay a fee.
    #[error("sender {sender} has no account: fund it first")]
    UnknownSender {
        /// The sender.
        sender: Address,
    },
    /// The nonce is not the sender's next one: already used (a replay) or ahead.
    #[error("nonce {found} is not the sender's next nonce {expected}")]
    BadNonce {
        /// The sender's next nonce.
        expected: u64,
        /// The transaction's.
        found: u64,
    },
    /// The sender has used every nonce.
    #[error("sender {sender} has used all 2^64 nonces")]
    NonceExhausted {
        /// The sender.
        sender: Address,
    },
    /// The balance does not cover the fee.
    #[error("balance {balance} cannot pay the fee {fee}")]
    CannotPayFee {
        /// The sender's balance.
        balance: Amount,
        /// The fee.
        fee: Amount,
    },
}

/// Why an included transaction failed (its fee is still paid).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FailReason {
    /// Moving nothing is refused.
    #[error("amount is zero")]
    ZeroAmount,
    /// The balance left after the fee does not cover the amount.
    #[error("insufficient funds: balance {balance} after the fee is less than {needed}")]
    InsufficientBalance {
        /// Balance after paying the fee.
        balance: Amount,
        /// The amount.
        needed: Amount,
    },
    /// A balance would exceed `u64::MAX` base units.
    #[error("the balance of {account} would overflow")]
    Overflow {
        /// The account.
        account: Address,
    },
    /// The BLS public key is not a valid key (not a point, not in the
    /// subgroup, or the identity).
    #[error("BLS public key is invalid: {reason}")]
    InvalidBlsKey {
        /// What the BLS library said.
        reason: sherd_consensus::bls::BlsError,
    },
    /// The proof of possession does not verify for the key.
    #[error("proof of possession does not verify for the BLS key")]
    InvalidProofOfPossession,
    /// Another validator registered this BLS key.
    #[error("BLS key is already registered by validator {operator}")]
    BlsKeyInUse {
        /// Its owner.
        operator: Address,
    },
    /// The sender is a validator with another BLS key.
    #[error("validator {operator} is registered with another BLS key; stake with the same key")]
    BlsKeyMismatch {
        /// The validator.
        operator: Address,
    },
    /// Commission over 100 %.
    #[error("commission {bps} bps is over 10000 (100 %)")]
    CommissionTooHigh {
        /// The commission asked.
        bps: u16,
    },
    /// No validator with this operator address.
    #[error("{validator} is not a registered validator")]
    UnknownValidator {
        /// The address.
        validator: Address,
    },
    /// A validator delegating to itself.
    #[error("a validator adds to its own stake with Stake, not Delegate")]
    SelfDelegation,
    /// Unbonding more than is bonded.
    #[error("bonded {bonded} to {validator} is less than {needed}")]
    InsufficientStake {
        /// The validator.
        validator: Address,
        /// What the sender has bonded to it.
        bonded: Amount,
        /// The amount asked.
        needed: Amount,
    },
    /// The account already waits for [`records::MAX_UNBONDINGS`] unbondings.
    #[error("{max} unbondings are already waiting: withdraw released ones first", max = records::MAX_UNBONDINGS)]
    TooManyUnbondings,
    /// `Withdraw` with no released unbonding.
    #[error("nothing to withdraw: no unbonding is released yet{}", next.map(|e| format!(" (next in epoch {e})")).unwrap_or_default())]
    NothingToWithdraw {
        /// The epoch of the next release, if any is waiting.
        next: Option<u64>,
    },
    /// An endpoint without a peer id or addresses.
    #[error("endpoint is invalid: {reason}")]
    InvalidEndpoint {
        /// What is wrong.
        reason: &'static str,
    },
    /// An advertisement that cannot be honoured.
    #[error("advertisement is invalid: {reason}")]
    InvalidAdvertisement {
        /// What is wrong.
        reason: AdFault,
    },
    /// A contract that cannot be created.
    #[error("contract is invalid: {reason}")]
    InvalidContract {
        /// What is wrong.
        reason: ContractFault,
    },
    /// The same provider chosen for two fragments.
    #[error("provider {provider} is chosen for fragments {first} and {second}; each fragment needs its own provider")]
    DuplicateProvider {
        /// The provider.
        provider: Address,
        /// One fragment.
        first: u32,
        /// The other.
        second: u32,
    },
    /// A provider without an advertisement.
    #[error("{provider} does not advertise storage")]
    NotAProvider {
        /// The address.
        provider: Address,
    },
    /// A provider without room for the fragment.
    #[error("provider {provider} has {free} bytes free, the fragment needs {needed}")]
    InsufficientCapacity {
        /// The provider.
        provider: Address,
        /// Free bytes.
        free: u64,
        /// Fragment size.
        needed: u64,
    },
    /// The deal does not match the provider's terms.
    #[error("provider {provider} does not accept these terms: {reason}")]
    TermsRefused {
        /// The provider.
        provider: Address,
        /// Which term.
        reason: TermsFault,
    },
    /// A provider's acceptance signature does not verify.
    #[error("acceptance signature of fragment {index} does not verify for provider {provider}")]
    BadAcceptance {
        /// The fragment.
        index: u32,
        /// The provider.
        provider: Address,
    },
    /// A provider cannot lock its collateral.
    #[error("provider {provider} has {balance}, the collateral is {needed}")]
    CollateralUnavailable {
        /// The provider.
        provider: Address,
        /// Its balance.
        balance: Amount,
        /// The collateral.
        needed: Amount,
    },
    /// No such contract.
    #[error("no contract {id}")]
    UnknownContract {
        /// The id.
        id: Hash,
    },
    /// No storage proof of a `SubmitProofs` is accepted: the first refused
    /// entry (the receipt's [`Receipt::proofs`] has every entry's verdict),
    /// or an empty batch.
    #[error("proof {index} ({contract} fragment {fragment}) is refused: {reason}")]
    BadProof {
        /// Position in the batch.
        index: usize,
        /// The contract.
        contract: Hash,
        /// The fragment.
        fragment: u32,
        /// Why.
        reason: ProofRejection,
    },
    /// A repair that cannot be made.
    #[error("repair refused: {reason}")]
    BadRepair {
        /// Why.
        reason: RepairFault,
    },
    /// Evidence that does not prove a punishable fault.
    #[error("evidence refused: {reason}")]
    BadEvidence {
        /// Why (boxed: the consensus crate's errors are large).
        reason: Box<EvidenceFault>,
    },
    /// An end or extension of a contract that cannot be made.
    #[error("contract change refused: {reason}")]
    BadContractChange {
        /// Why.
        reason: ChangeFault,
    },
}

/// What makes an `AdvertiseCapacity` impossible to honour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdFault {
    /// The sender has no provider endpoint.
    #[error("register a provider endpoint first (RegisterEndpoint with role provider)")]
    NoProviderEndpoint,
    /// The duration range is empty or starts at 0.
    #[error("duration range {min}..={max} epochs is empty or starts at 0")]
    DurationRange {
        /// Shortest.
        min: u64,
        /// Longest.
        max: u64,
    },
    /// Less capacity than what contracts already use.
    #[error("capacity {capacity} bytes is less than the {used} bytes under contract")]
    BelowUsed {
        /// Advertised.
        capacity: u64,
        /// Under contract.
        used: u64,
    },
}

/// What makes a `CreateContract` impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractFault {
    /// Too few data or parity fragments.
    #[error("k = {k}, m = {m}: need k ≥ 2 and m ≥ 1")]
    Geometry {
        /// Data fragments.
        k: u16,
        /// Parity fragments.
        m: u16,
    },
    /// Not one deal per fragment.
    #[error("{listed} fragments listed, k + m = {n}")]
    FragmentCount {
        /// Deals listed.
        listed: usize,
        /// `k + m`.
        n: usize,
    },
    /// The fragment size is 0 or not whole chunks.
    #[error("fragment size {size} is not a positive multiple of {chunk}")]
    FragmentSize {
        /// The size.
        size: u64,
        /// The chunk size.
        chunk: u64,
    },
    /// No duration.
    #[error("duration is 0 epochs")]
    ZeroDuration,
    /// A duration whose periods overflow.
    #[error("duration is too long")]
    TooLong,
    /// The escrow overflows.
    #[error("escrow overflows")]
    EscrowOverflow,
    /// The collateral overflows.
    #[error("collateral overflows")]
    CollateralOverflow,
    /// The contract id is taken.
    #[error("contract {0} exists")]
    Exists(Hash),
}

/// The term of a deal a provider's advertisement does not cover.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TermsFault {
    /// The duration is outside its range.
    #[error("duration {duration} epochs is outside its {min}..={max}")]
    Duration {
        /// The contract's.
        duration: u64,
        /// Its shortest.
        min: u64,
        /// Its longest.
        max: u64,
    },
    /// The price is below its price.
    #[error("price {price} per GiB-epoch is below its {min}")]
    Price {
        /// The contract's.
        price: Amount,
        /// Its.
        min: Amount,
    },
    /// For an extension: it asks more than the contract pays.
    #[error("it asks {asks} per GiB-epoch now, the contract pays {pays}")]
    PriceRaised {
        /// Its price now.
        asks: Amount,
        /// The contract's.
        pays: Amount,
    },
    /// For an extension: its longest duration is shorter than what is left.
    #[error("it stores for at most {max} epochs, the extended contract has {left} left")]
    TooShort {
        /// Its longest duration.
        max: u64,
        /// Epochs the extended contract has left.
        left: u64,
    },
}

/// What makes a `RepairFragment` impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepairFault {
    /// Too late: the contract settles at the end of this period.
    #[error("the contract is in its last period")]
    LastPeriod,
    /// The new provider holds another fragment of the contract.
    #[error("{0} already stores a fragment of this contract")]
    AlreadyHolds(Address),
    /// No such fragment.
    #[error("no fragment {0}")]
    NoFragment(u32),
    /// The fragment is not lost.
    #[error("fragment {index} is {status}, not lost")]
    NotLost {
        /// The fragment.
        index: u32,
        /// Its status.
        status: &'static str,
    },
}

/// Why an `Evidence` transaction proves no punishable fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceFault {
    /// Its bytes do not decode.
    #[error("does not decode: {0}")]
    Undecodable(sherd_consensus::CodecError),
    /// Its epoch has no validator set here.
    #[error("epoch {0} has no validator set")]
    NoSet(u64),
    /// The stored set is not a valid consensus set.
    #[error("validator set of epoch {epoch}: {error}")]
    BadSet {
        /// The epoch.
        epoch: u64,
        /// Why.
        error: sherd_consensus::ValidatorSetError,
    },
    /// The two votes do not prove equivocation.
    #[error(transparent)]
    Invalid(sherd_consensus::EvidenceError),
    /// Its signer is not a member of the set.
    #[error("signer {0} is not in the set")]
    UnknownSigner(u32),
    /// That fault was punished already.
    #[error("validator {operator} was already slashed for view {view} of epoch {epoch}")]
    AlreadySlashed {
        /// The validator.
        operator: Address,
        /// The view.
        view: u64,
        /// The epoch.
        epoch: u64,
    },
}

/// What makes an `EndContract` or `ExtendContract` impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeFault {
    /// Another client's contract.
    #[error("contract {id} belongs to {client}")]
    NotYours {
        /// The contract.
        id: Hash,
        /// Its client.
        client: Address,
    },
    /// Every fragment has ended.
    #[error("contract {0} has ended")]
    Ended(Hash),
    /// An extension of nothing.
    #[error("an extension of 0 epochs")]
    ZeroEpochs,
    /// Too late to extend.
    #[error("contract {id} is past its last period {last_period} and settles now")]
    PastLastPeriod {
        /// The contract.
        id: Hash,
        /// Its last period.
        last_period: u64,
    },
    /// The extension's periods overflow.
    #[error("the extension is too long")]
    TooLong,
    /// The extension's escrow overflows.
    #[error("the escrow overflows")]
    EscrowOverflow,
}

/// Whether an included transaction's effects were kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Effects kept.
    Success,
    /// Effects undone; the fee was paid.
    Failed(FailReason),
}

/// The record of one included transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The transaction id.
    pub tx_id: Hash,
    /// The fee paid.
    pub fee: Amount,
    /// What happened.
    pub outcome: Outcome,
    /// For `SubmitProofs`: one verdict per entry of the batch, in batch
    /// order, whether the transaction succeeded (some accepted) or failed
    /// (none accepted). Empty for every other kind and for an empty batch.
    pub proofs: Vec<ProofVerdict>,
}

/// Why [`BlockExecutor::apply`] gave no receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The transaction is invalid here; nothing changed.
    #[error("transaction rejected: {0}")]
    Rejected(#[from] Rejection),
    /// The state could not be read or is inconsistent: the block cannot be
    /// executed here; drop the executor.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Why a block cannot start on this state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// Not the next height.
    #[error("block height {found} does not follow the state's height {current}")]
    WrongHeight {
        /// The state's last height.
        current: u64,
        /// The block's.
        found: u64,
    },
    /// The epoch does not match the height.
    #[error("block at height {height} must be in epoch {expected}, says {found}")]
    WrongEpoch {
        /// The height.
        height: u64,
        /// `height / epoch_length`.
        expected: u64,
        /// The block's.
        found: u64,
    },
    /// The clock went backwards.
    #[error("block timestamp {found} ms is before its parent's {parent} ms")]
    TimestampBeforeParent {
        /// Parent's timestamp.
        parent: u64,
        /// The block's.
        found: u64,
    },
    /// The proposer is not in the epoch's set.
    #[error("proposer {proposer} is not a validator of epoch {epoch}")]
    NotAValidator {
        /// The proposer.
        proposer: Address,
        /// The epoch.
        epoch: u64,
    },
    /// The state cannot be read.
    #[error(transparent)]
    State(#[from] StateError),
}

/// What the executor needs to know about the block, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockContext {
    /// The block's height.
    pub height: u64,
    /// The block's epoch (`height / epoch_length`).
    pub epoch: u64,
    /// The proposer's operator address.
    pub proposer: Address,
    /// The block's timestamp.
    pub timestamp_ms: u64,
    /// The block's challenge seed ([`crate::block::BlockHeader::beacon_seed`]).
    pub beacon_seed: Hash,
}

/// Writes not yet committed: a block layer, and above it the layer of the
/// transaction being applied, which is merged into the block or dropped.
struct Overlay<'s, S> {
    base: &'s S,
    block: ChangeSet,
    tx: ChangeSet,
}

impl<S: StateStore> Overlay<'_, S> {
    fn raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.tx.get(key).or_else(|| self.block.get(key)) {
            return Ok(v.clone());
        }
        self.base.get(key)
    }

    fn get<T: Record>(&self, key: &[u8]) -> Result<Option<T>, StateError> {
        self.raw(key)?.map(|bytes| decode(key, &bytes)).transpose()
    }

    fn put<T: Record>(&mut self, key: Vec<u8>, value: &T) -> Result<(), StateError> {
        self.tx.insert(key, Some(value.to_bytes()?));
        Ok(())
    }

    /// Puts bytes already encoded (by [`Record::to_bytes`]).
    fn put_bytes(&mut self, key: Vec<u8>, bytes: Vec<u8>) {
        self.tx.insert(key, Some(bytes));
    }

    fn delete(&mut self, key: Vec<u8>) {
        self.tx.insert(key, None);
    }

    /// Every live entry under `prefix`, in key order, with pending writes applied.
    fn scan<T: Record>(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, T)>, StateError> {
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = self
            .base
            .scan_prefix(prefix)?
            .into_iter()
            .map(|(k, v)| (k, Some(v)))
            .collect();
        for layer in [&self.block, &self.tx] {
            for (k, v) in layer.range(prefix.to_vec()..) {
                if !k.starts_with(prefix) {
                    break;
                }
                merged.insert(k.clone(), v.clone());
            }
        }
        merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .map(|(k, v)| decode(&k, &v).map(|value| (k, value)))
            .collect()
    }

    fn account(&self, address: &Address) -> Result<Account, StateError> {
        Ok(self
            .get(&records::account_key(address))?
            .unwrap_or_default())
    }

    fn put_account(&mut self, address: &Address, account: &Account) -> Result<(), StateError> {
        self.put(records::account_key(address), account)
    }

    /// Adds `amount` to `address`'s balance, or says whose would overflow.
    fn credit(
        &mut self,
        address: &Address,
        amount: Amount,
    ) -> Result<Result<(), FailReason>, StateError> {
        let mut account = self.account(address)?;
        let Some(balance) = account.balance.checked_add(amount) else {
            return Ok(Err(FailReason::Overflow { account: *address }));
        };
        account.balance = balance;
        self.put_account(address, &account)?;
        Ok(Ok(()))
    }

    /// Takes `amount` from `address`'s balance, or says it is short.
    fn debit(
        &mut self,
        address: &Address,
        amount: Amount,
    ) -> Result<Result<(), FailReason>, StateError> {
        let mut account = self.account(address)?;
        let Some(balance) = account.balance.checked_sub(amount) else {
            return Ok(Err(FailReason::InsufficientBalance {
                balance: account.balance,
                needed: amount,
            }));
        };
        account.balance = balance;
        self.put_account(address, &account)?;
        Ok(Ok(()))
    }

    fn supply(&self) -> Result<Supply, StateError> {
        self.get(records::SUPPLY_KEY)?.ok_or(StateError::Missing {
            what: "supply record",
        })
    }

    fn issue(&mut self, amount: Amount) -> Result<(), StateError> {
        let mut supply = self.supply()?;
        supply.issued = supply
            .issued
            .checked_add(amount)
            .ok_or(StateError::SupplyOverflow)?;
        self.put(records::SUPPLY_KEY.to_vec(), &supply)
    }

    fn burn(&mut self, amount: Amount) -> Result<(), StateError> {
        let mut supply = self.supply()?;
        supply.burned = supply
            .burned
            .checked_add(amount)
            .ok_or(StateError::SupplyOverflow)?;
        self.put(records::SUPPLY_KEY.to_vec(), &supply)
    }

    fn keep_tx(&mut self) {
        let tx = std::mem::take(&mut self.tx);
        self.block.extend(tx);
    }

    fn drop_tx(&mut self) {
        self.tx.clear();
    }
}

fn decode<T: Record>(key: &[u8], bytes: &[u8]) -> Result<T, StateError> {
    T::from_bytes(bytes).map_err(|error| StateError::Corrupt {
        key: hex::encode(key),
        error,
    })
}

/// A kind's result: `Ok(Ok(()))` succeeded, `Ok(Err(reason))` failed (fee
/// paid, effects undone), `Err` the state is unusable.
type KindResult = Result<Result<(), FailReason>, StateError>;

/// Applies the transactions of one block on top of a store, without
/// writing to it.
pub struct BlockExecutor<'s, S> {
    params: ChainParams,
    ctx: BlockContext,
    overlay: Overlay<'s, S>,
    fees: Amount,
    /// How `SubmitProofs` checks its proofs.
    proof_checks: ProofChecks,
    /// Contracts kept decoded across the block's `SubmitProofs`
    /// ([`ProofChecks::Parallel`]); written back to the overlay before
    /// anything else reads contracts.
    contracts: market::ContractCache,
}

impl<S> std::fmt::Debug for BlockExecutor<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockExecutor")
            .field("ctx", &self.ctx)
            .field("pending_writes", &self.overlay.block.len())
            .field("fees", &self.fees)
            .finish()
    }
}

impl<'s, S: StateStore> BlockExecutor<'s, S> {
    /// Starts block `ctx` on top of `store`: checks that it follows the
    /// stored chain position and that its proposer is a validator of its
    /// epoch, and records the proof period's challenge seed if the block
    /// opens a period.
    pub fn begin(store: &'s S, ctx: BlockContext) -> Result<Self, BlockError> {
        let mut overlay = Overlay {
            base: store,
            block: ChangeSet::new(),
            tx: ChangeSet::new(),
        };
        let params: ChainParams = overlay
            .get(records::PARAMS_KEY)?
            .ok_or(StateError::Missing {
                what: "chain parameters",
            })?;
        let chain: ChainState = overlay
            .get(records::CHAIN_KEY)?
            .ok_or(StateError::Missing {
                what: "chain position",
            })?;
        if Some(ctx.height) != chain.height.checked_add(1) {
            return Err(BlockError::WrongHeight {
                current: chain.height,
                found: ctx.height,
            });
        }
        let expected = params.epoch_of(ctx.height);
        if ctx.epoch != expected || chain.epoch != expected {
            return Err(BlockError::WrongEpoch {
                height: ctx.height,
                expected,
                found: ctx.epoch,
            });
        }
        if ctx.timestamp_ms < chain.timestamp_ms {
            return Err(BlockError::TimestampBeforeParent {
                parent: chain.timestamp_ms,
                found: ctx.timestamp_ms,
            });
        }
        let set: EpochSet =
            overlay
                .get(&records::epoch_set_key(ctx.epoch))?
                .ok_or(StateError::Missing {
                    what: "validator set of the current epoch",
                })?;
        if !set.members.iter().any(|m| m.operator == ctx.proposer) {
            return Err(BlockError::NotAValidator {
                proposer: ctx.proposer,
                epoch: ctx.epoch,
            });
        }
        overlay.put(
            records::CHAIN_KEY.to_vec(),
            &ChainState {
                height: ctx.height,
                epoch: chain.epoch,
                timestamp_ms: ctx.timestamp_ms,
            },
        )?;
        if ctx.height.checked_rem(params.proof_period) == Some(0) {
            overlay.put(
                records::period_seed_key(params.period_of(ctx.height)),
                &ctx.beacon_seed,
            )?;
        }
        overlay.keep_tx();
        Ok(Self {
            params,
            ctx,
            overlay,
            fees: Amount::ZERO,
            proof_checks: ProofChecks::default(),
            contracts: market::ContractCache::default(),
        })
    }

    /// Checks `SubmitProofs` batches the way `checks` says (the default is
    /// [`ProofChecks::Parallel`]); the block's result is the same either
    /// way.
    pub fn with_proof_checks(mut self, checks: ProofChecks) -> Self {
        self.proof_checks = checks;
        self
    }

    /// The chain parameters read from the state.
    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    /// Applies one transaction (see the module docs for the three outcomes).
    pub fn apply(&mut self, vtx: &VerifiedTx) -> Result<Receipt, ApplyError> {
        let result = self.apply_inner(vtx);
        if result.is_err() {
            self.overlay.drop_tx();
        }
        result
    }

    fn apply_inner(&mut self, vtx: &VerifiedTx) -> Result<Receipt, ApplyError> {
        let body = &vtx.tx().body;
        let params = &self.params;
        check_chain_and_fee(body, params)?;
        let sender = body.sender;
        let mut account: Account = self
            .overlay
            .get(&records::account_key(&sender))?
            .ok_or(Rejection::UnknownSender { sender })?;
        if body.nonce != account.nonce {
            return Err(Rejection::BadNonce {
                expected: account.nonce,
                found: body.nonce,
            }
            .into());
        }
        account.nonce = account
            .nonce
            .checked_add(1)
            .ok_or(Rejection::NonceExhausted { sender })?;
        account.balance = account
            .balance
            .checked_sub(body.fee)
            .ok_or(Rejection::CannotPayFee {
                balance: account.balance,
                fee: body.fee,
            })?;
        let fees = self
            .fees
            .checked_add(body.fee)
            .ok_or(StateError::SupplyOverflow)?;
        // The fee and nonce are final from here on, whatever the kind does.
        self.overlay.put_account(&sender, &account)?;
        self.overlay.keep_tx();
        self.fees = fees;

        let mut proofs = Vec::new();
        let outcome = match self.execute(&sender, body.nonce, &body.kind, &mut proofs)? {
            Ok(()) => {
                self.overlay.keep_tx();
                Outcome::Success
            }
            Err(reason) => {
                self.overlay.drop_tx();
                Outcome::Failed(reason)
            }
        };
        Ok(Receipt {
            tx_id: vtx.id(),
            fee: body.fee,
            outcome,
            proofs,
        })
    }

    /// The kind's effects, written to the transaction layer; a
    /// `SubmitProofs` also pushes its per-proof verdicts to `proofs`.
    fn execute(
        &mut self,
        sender: &Address,
        nonce: u64,
        kind: &TxKind,
        proofs: &mut Vec<ProofVerdict>,
    ) -> KindResult {
        if !matches!(kind, TxKind::SubmitProofs(_)) {
            self.flush_contracts()?;
        }
        match kind {
            TxKind::Transfer(t) => self.transfer(sender, t),
            TxKind::Stake(s) => self.stake(sender, s),
            TxKind::Delegate(d) => self.delegate(sender, d),
            TxKind::Undelegate(u) => self.undelegate(sender, u),
            TxKind::Withdraw => self.withdraw(sender),
            TxKind::RegisterEndpoint(e) => self.register_endpoint(sender, e),
            TxKind::AdvertiseCapacity(a) => self.advertise(sender, a),
            TxKind::CreateContract(c) => self.create_contract(sender, nonce, c),
            TxKind::SubmitProofs(p) => self.submit_proofs(sender, p, proofs),
            TxKind::RepairFragment(r) => self.repair(sender, r),
            TxKind::Evidence(e) => self.evidence(e),
            TxKind::EndContract(e) => self.end_contract(sender, e),
            TxKind::ExtendContract(e) => self.extend_contract(sender, e),
        }
    }

    fn transfer(&mut self, sender: &Address, t: &Transfer) -> KindResult {
        if t.amount.is_zero() {
            return Ok(Err(FailReason::ZeroAmount));
        }
        if let Err(reason) = self.overlay.debit(sender, t.amount)? {
            return Ok(Err(reason));
        }
        // Credited after the debit, so a transfer to oneself nets to nothing.
        self.overlay.credit(&t.to, t.amount)
    }

    /// Does the end-of-block work (see the module docs) and answers every
    /// write of the block, to commit with the block, and the state root.
    pub fn finish(mut self) -> Result<BlockOutput, StateError> {
        self.overlay.drop_tx();
        self.flush_contracts()?;
        self.pay_proposer()?;
        let height = self.ctx.height;
        let params = &self.params;
        let period_start =
            height.saturating_sub(height.checked_rem(params.proof_period).unwrap_or(0));
        if Some(height) == period_start.checked_add(params.proof_window.saturating_sub(1)) {
            self.settle_period(params.period_of(height))?;
        }
        self.settle_contracts(height)?;
        let mut next_set = None;
        if height
            .checked_add(1)
            .and_then(|h| h.checked_rem(self.params.epoch_length))
            == Some(0)
        {
            next_set = Some(self.end_epoch()?);
        }
        self.overlay.keep_tx();
        let mut changes = self.overlay.block;
        let (state_root, mut tree_writes) = crate::commitment::update(self.overlay.base, &changes)?;
        // The tree's keys all sort after the state's (`TREE_PREFIX`), so
        // this is one bulk merge, not an insert per node.
        changes.append(&mut tree_writes);
        Ok(BlockOutput {
            changes,
            state_root,
            next_set,
        })
    }
}

/// What [`BlockExecutor::finish`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockOutput {
    /// Every write of the block, state commitment nodes included.
    pub changes: ChangeSet,
    /// The state root after the block.
    pub state_root: Hash,
    /// When the block ended an epoch: the next epoch's validator set.
    pub next_set: Option<EpochSet>,
}

/// Applies `txs` in order as one block: receipts of the included
/// transactions, rejections by index, and the block's writes.
///
/// A block that contains a rejected transaction is not valid; a proposer
/// building a block leaves out the transactions `rejected` names.
pub fn apply_block<S: StateStore>(
    store: &S,
    ctx: BlockContext,
    txs: &[VerifiedTx],
) -> Result<BlockResult, BlockError> {
    apply_block_with(store, ctx, txs, ProofChecks::default())
}

/// [`apply_block`] with `SubmitProofs` checked the way `checks` says (the
/// result is the same; tests compare the two ways).
///
/// The block runs on a thread of rayon's global pool, the caller waiting:
/// its parallel parts (proof checks, the state root's walk) then share the
/// pool with it instead of a caller's thread competing with the pool's
/// for the cores (on two cores, about 1 ms of a 10,000-proof block).
pub fn apply_block_with<S: StateStore>(
    store: &S,
    ctx: BlockContext,
    txs: &[VerifiedTx],
    checks: ProofChecks,
) -> Result<BlockResult, BlockError> {
    rayon::scope(|_| apply_block_here(store, ctx, txs, checks))
}

fn apply_block_here<S: StateStore>(
    store: &S,
    ctx: BlockContext,
    txs: &[VerifiedTx],
    checks: ProofChecks,
) -> Result<BlockResult, BlockError> {
    let mut executor = BlockExecutor::begin(store, ctx)?.with_proof_checks(checks);
    let mut receipts = Vec::with_capacity(txs.len());
    let mut rejected = BTreeMap::new();
    for (index, tx) in txs.iter().enumerate() {
        match executor.apply(tx) {
            Ok(receipt) => receipts.push(receipt),
            Err(ApplyError::Rejected(r)) => {
                rejected.insert(index, r);
            }
            Err(ApplyError::State(e)) => return Err(e.into()),
        }
    }
    let output = executor.finish()?;
    Ok(BlockResult {
        receipts,
        rejected,
        output,
    })
}

/// What [`apply_block`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockResult {
    /// One per included transaction, in order.
    pub receipts: Vec<Receipt>,
    /// Transactions that could not be included, by their index in the input.
    pub rejected: BTreeMap<usize, Rejection>,
    /// The block's writes and resulting root.
    pub output: BlockOutput,
}

/// Reads of the state, for the node's API and for tests.
pub struct StateView<'s, S> {
    overlay: Overlay<'s, S>,
}

impl<S> std::fmt::Debug for StateView<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateView").finish_non_exhaustive()
    }
}

impl<'s, S: StateStore> StateView<'s, S> {
    /// A view of `store`.
    pub fn new(store: &'s S) -> Self {
        Self {
            overlay: Overlay {
                base: store,
                block: ChangeSet::new(),
                tx: ChangeSet::new(),
            },
        }
    }

    /// The account of `address` (zeros if it has none).
    pub fn account(&self, address: &Address) -> Result<Account, StateError> {
        self.overlay.account(address)
    }

    /// The account of `address`, `None` if it has none (one read).
    pub fn find_account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        self.overlay.get::<Account>(&records::account_key(address))
    }

    /// Whether `address` has an account.
    pub fn has_account(&self, address: &Address) -> Result<bool, StateError> {
        Ok(self
            .overlay
            .get::<Account>(&records::account_key(address))?
            .is_some())
    }

    /// The chain parameters.
    pub fn params(&self) -> Result<ChainParams, StateError> {
        self.overlay
            .get(records::PARAMS_KEY)?
            .ok_or(StateError::Missing {
                what: "chain parameters",
            })
    }

    /// The chain position.
    pub fn chain(&self) -> Result<ChainState, StateError> {
        self.overlay
            .get(records::CHAIN_KEY)?
            .ok_or(StateError::Missing {
                what: "chain position",
            })
    }

    /// The supply record.
    pub fn supply(&self) -> Result<Supply, StateError> {
        self.overlay.supply()
    }

    /// A validator.
    pub fn validator(&self, operator: &Address) -> Result<Option<Validator>, StateError> {
        self.overlay.get(&records::validator_key(operator))
    }

    /// Every registered validator, by operator address.
    pub fn validators(&self) -> Result<Vec<Validator>, StateError> {
        Ok(self
            .overlay
            .scan::<Validator>(&[records::prefix::VALIDATOR])?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// The validator set of `epoch`, if it was chosen.
    pub fn epoch_set(&self, epoch: u64) -> Result<Option<EpochSet>, StateError> {
        self.overlay.get(&records::epoch_set_key(epoch))
    }

    /// What `delegator` has delegated to `validator`.
    pub fn delegation(
        &self,
        validator: &Address,
        delegator: &Address,
    ) -> Result<Amount, StateError> {
        Ok(self
            .overlay
            .get(&records::delegation_key(validator, delegator))?
            .unwrap_or_default())
    }

    /// Every delegation to `validator`: (delegator, amount).
    pub fn delegations_to(
        &self,
        validator: &Address,
    ) -> Result<Vec<(Address, Amount)>, StateError> {
        delegations(&self.overlay, validator)
    }

    /// `owner`'s unbondings.
    pub fn unbondings(&self, owner: &Address) -> Result<Unbondings, StateError> {
        Ok(self
            .overlay
            .get(&records::unbonding_key(owner))?
            .unwrap_or_default())
    }

    /// `principal`'s endpoint.
    pub fn endpoint(&self, principal: &Address) -> Result<Option<Endpoint>, StateError> {
        self.overlay.get(&records::endpoint_key(principal))
    }

    /// Every endpoint.
    pub fn endpoints(&self) -> Result<Vec<(Address, Endpoint)>, StateError> {
        keyed(self.overlay.scan(&[records::prefix::ENDPOINT])?)
    }

    /// `provider`'s advertisement.
    pub fn provider(&self, provider: &Address) -> Result<Option<ProviderAd>, StateError> {
        self.overlay.get(&records::provider_key(provider))
    }

    /// Every provider's advertisement.
    pub fn providers(&self) -> Result<Vec<(Address, ProviderAd)>, StateError> {
        keyed(self.overlay.scan(&[records::prefix::PROVIDER])?)
    }

    /// A contract.
    pub fn contract(&self, id: &Hash) -> Result<Option<Contract>, StateError> {
        self.overlay.get(&records::contract_key(id))
    }

    /// Every lost fragment waiting for repair: (contract id, fragment
    /// index), in key order. Reads the lost index, not every contract.
    pub fn lost_fragments(&self) -> Result<Vec<(Hash, u32)>, StateError> {
        Ok(self
            .overlay
            .scan::<records::Empty>(&[records::prefix::LOST])?
            .into_iter()
            .filter_map(|(key, _)| {
                let id = <[u8; 32]>::try_from(key.get(1..33)?).ok()?;
                let index = <[u8; 4]>::try_from(key.get(33..37)?).ok()?;
                Some((Hash(id), u32::from_be_bytes(index)))
            })
            .collect())
    }

    /// The ids of the live contracts (created, not yet settled), in key
    /// order. Reads the live index, not every contract.
    pub fn live_contracts(&self) -> Result<Vec<Hash>, StateError> {
        Ok(self
            .overlay
            .scan::<records::Empty>(&[records::prefix::LIVE])?
            .into_iter()
            .filter_map(|(key, _)| Some(Hash(<[u8; 32]>::try_from(key.get(1..33)?).ok()?)))
            .collect())
    }

    /// Every contract, live and ended (a full scan).
    pub fn contracts(&self) -> Result<Vec<Contract>, StateError> {
        Ok(self
            .overlay
            .scan::<Contract>(&[records::prefix::CONTRACT])?
            .into_iter()
            .map(|(_, c)| c)
            .collect())
    }

    /// The challenge seed of proof `period`, once the period has started.
    pub fn period_seed(&self, period: u64) -> Result<Option<Hash>, StateError> {
        self.overlay.get(&records::period_seed_key(period))
    }

    /// Every account: (address, account).
    pub fn accounts(&self) -> Result<Vec<(Address, Account)>, StateError> {
        keyed(self.overlay.scan(&[records::prefix::ACCOUNT])?)
    }
}

/// Turns `prefix ‖ address` keys into addresses.
fn keyed<T>(entries: Vec<(Vec<u8>, T)>) -> Result<Vec<(Address, T)>, StateError> {
    entries
        .into_iter()
        .map(|(key, value)| {
            let bytes: [u8; 32] =
                key.get(1..33)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| StateError::Corrupt {
                        key: hex::encode(&key),
                        error: DecodeError::Invalid {
                            field: "key",
                            reason: "not prefix ‖ address".into(),
                        },
                    })?;
            Ok((Address(bytes), value))
        })
        .collect()
}

fn delegations<S: StateStore>(
    overlay: &Overlay<'_, S>,
    validator: &Address,
) -> Result<Vec<(Address, Amount)>, StateError> {
    overlay
        .scan::<Amount>(&records::delegations_of(validator))?
        .into_iter()
        .map(|(key, amount)| {
            let bytes: [u8; 32] =
                key.get(33..65)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| StateError::Corrupt {
                        key: hex::encode(&key),
                        error: DecodeError::Invalid {
                            field: "key",
                            reason: "not a delegation key".into(),
                        },
                    })?;
            Ok((Address(bytes), amount))
        })
        .collect()
}

/// The result of [`audit`]: where the supply is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Audit {
    /// `genesis + issued − burned` from the supply record.
    pub supply: u128,
    /// Sum of account balances.
    pub balances: u128,
    /// Sum of self-stakes.
    pub self_stakes: u128,
    /// Sum of delegations.
    pub delegations: u128,
    /// Sum of validators' pending rewards.
    pub pending_rewards: u128,
    /// Sum of unbondings.
    pub unbondings: u128,
    /// Sum of contract escrows.
    pub escrows: u128,
    /// Sum of locked collateral.
    pub collateral: u128,
    /// Sum of repair rewards waiting for a repairer.
    pub repair_rewards: u128,
}

impl Audit {
    /// Sum of every holding.
    pub fn held(&self) -> u128 {
        [
            self.balances,
            self.self_stakes,
            self.delegations,
            self.pending_rewards,
            self.unbondings,
            self.escrows,
            self.collateral,
            self.repair_rewards,
        ]
        .iter()
        .fold(0u128, |a, b| a.saturating_add(*b))
    }

    /// Whether every unit of the supply is held somewhere, exactly once.
    pub fn balanced(&self) -> bool {
        self.held() == self.supply
    }
}

/// Adds up every holding in the state (a full scan: for tests and tools).
/// Also checks that every validator's `delegated` equals the sum of its
/// delegations.
pub fn audit<S: StateStore>(store: &S) -> Result<Audit, StateError> {
    let view = StateView::new(store);
    let supply = view.supply()?;
    let mut audit = Audit {
        supply: u128::from(supply.genesis.0)
            .saturating_add(u128::from(supply.issued.0))
            .saturating_sub(u128::from(supply.burned.0)),
        ..Audit::default()
    };
    let add = |sum: &mut u128, amount: Amount| *sum = sum.saturating_add(u128::from(amount.0));
    for (_, account) in view.accounts()? {
        add(&mut audit.balances, account.balance);
    }
    for validator in view.validators()? {
        add(&mut audit.self_stakes, validator.self_stake);
        add(&mut audit.pending_rewards, validator.pending_rewards);
        let mut sum = 0u128;
        for (_, amount) in view.delegations_to(&validator.operator)? {
            add(&mut sum, amount);
        }
        if sum != u128::from(validator.delegated.0) {
            return Err(StateError::SupplyOverflow);
        }
        audit.delegations = audit.delegations.saturating_add(sum);
    }
    for (_, unbondings) in view
        .overlay
        .scan::<Unbondings>(&[records::prefix::UNBONDING])?
    {
        for u in unbondings.0 {
            add(&mut audit.unbondings, u.amount);
        }
    }
    for contract in view.contracts()? {
        for f in &contract.fragments {
            add(&mut audit.escrows, f.escrow_left);
            add(&mut audit.collateral, f.collateral_left);
            add(&mut audit.repair_rewards, f.repair_reward);
        }
    }
    Ok(audit)
}
