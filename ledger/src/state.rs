//! The state transition: accounts, genesis, and applying transactions.
//!
//! State layout in the [`StateStore`] (keys are bytes; values use the
//! canonical codec without a version byte, decoded strictly):
//!
//! | key | value |
//! |---|---|
//! | `0x00 ‖ "supply"` | total supply: `u64_le` base units |
//! | `0x01 ‖ address [32]` | [`Account`]: `balance u64_le ‖ nonce u64_le` (16 bytes) |
//!
//! Applying a transaction (already signature-checked, see
//! [`crate::verify`]) has three possible ends:
//!
//! * **Rejected** ([`Rejection`]): wrong chain id, a fee under the minimum,
//!   an unknown sender, a nonce other than the sender's next one (a replay
//!   or a gap), a sender who cannot pay the fee. Nothing changes and the
//!   transaction must not be included in a block.
//! * **Failed** ([`FailReason`]): the fee is paid and the nonce used, but the
//!   kind's effects are all undone — zero amount, overspend, a balance
//!   that would overflow, or a kind this ledger cannot apply yet (every
//!   kind but `Transfer`, which fails with [`FailReason::Unsupported`]).
//! * **Succeeded**: fee paid, nonce used, effects kept.
//!
//! The fees of a block are credited to its proposer when the block is
//! finished ([`BlockExecutor::finish`]), after all its transactions. Total
//! supply is unchanged by all of this: the sum of all balances equals the
//! genesis supply (checked by property tests).

use std::collections::BTreeMap;

use crate::{
    address::Address,
    amount::Amount,
    chain::{ChainId, ChainParams},
    codec::{Decode, DecodeError, Encode, EncodeError, Reader, Writer},
    hash::Hash,
    store::{ChangeSet, StateStore, StoreError},
    tx::{kind::Transfer, TxKind},
    verify::VerifiedTx,
};

/// Key of the total supply.
pub const SUPPLY_KEY: &[u8] = b"\x00supply";

/// Key prefix of accounts.
pub const ACCOUNT_PREFIX: u8 = 0x01;

/// The key of `address`'s account.
pub fn account_key(address: &Address) -> Vec<u8> {
    let mut key = Vec::with_capacity(33);
    key.push(ACCOUNT_PREFIX);
    key.extend_from_slice(address.as_bytes());
    key
}

/// An account's balance and transaction count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Account {
    /// Spendable currency.
    pub balance: Amount,
    /// Transactions included so far: the nonce its next transaction must carry.
    pub nonce: u64,
}

impl Account {
    /// The stored value.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u64(self.balance.base_units());
        w.u64(self.nonce);
        w.into_bytes()
    }

    /// Reads a stored value; exactly 16 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let account = Self::decode(&mut r)?;
        r.finish()?;
        Ok(account)
    }
}

impl Encode for Account {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.balance.encode(w)?;
        w.u64(self.nonce);
        Ok(())
    }
}

impl Decode for Account {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            balance: r.u64("Account.balance").map(Amount)?,
            nonce: r.u64("Account.nonce")?,
        })
    }
}

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
    /// The sum of fees or balances exceeds `u64::MAX`, which a state whose
    /// supply fits in a `u64` cannot reach.
    #[error("supply accounting overflowed: the state is inconsistent")]
    SupplyOverflow,
}

/// Why a genesis cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// The store already has a supply.
    #[error("the store already holds a state")]
    NotEmpty,
    /// One address listed twice.
    #[error("genesis lists {address} twice")]
    DuplicateAccount {
        /// The address.
        address: Address,
    },
    /// The balances add up to more than `u64::MAX` base units.
    #[error("genesis balances add up to more than {} ", Amount::MAX)]
    SupplyOverflow,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes the genesis accounts and the total supply into an empty store;
/// answers the supply.
pub fn write_genesis<S: StateStore>(
    store: &mut S,
    balances: &[(Address, Amount)],
) -> Result<Amount, GenesisError> {
    if store.get(SUPPLY_KEY)?.is_some() {
        return Err(GenesisError::NotEmpty);
    }
    let mut changes = ChangeSet::new();
    let mut supply = Amount::ZERO;
    for &(address, balance) in balances {
        let account = Account { balance, nonce: 0 };
        if changes
            .insert(account_key(&address), Some(account.to_bytes()))
            .is_some()
        {
            return Err(GenesisError::DuplicateAccount { address });
        }
        supply = supply
            .checked_add(balance)
            .ok_or(GenesisError::SupplyOverflow)?;
    }
    changes.insert(
        SUPPLY_KEY.to_vec(),
        Some(supply.base_units().to_le_bytes().to_vec()),
    );
    store.commit(changes)?;
    Ok(supply)
}

/// Reads `address`'s account from a store (`None` if it has none).
pub fn read_account<S: StateStore>(
    store: &S,
    address: &Address,
) -> Result<Option<Account>, StateError> {
    let key = account_key(address);
    store
        .get(&key)?
        .map(|bytes| decode_account(&key, &bytes))
        .transpose()
}

/// Reads the total supply written at genesis.
pub fn read_supply<S: StateStore>(store: &S) -> Result<Option<Amount>, StateError> {
    store
        .get(SUPPLY_KEY)?
        .map(|bytes| {
            let mut r = Reader::new(&bytes);
            let supply = r.u64("supply").map(Amount)?;
            r.finish()?;
            Ok(supply)
        })
        .transpose()
        .map_err(|error| StateError::Corrupt {
            key: hex::encode(SUPPLY_KEY),
            error,
        })
}

fn decode_account(key: &[u8], bytes: &[u8]) -> Result<Account, StateError> {
    Account::from_bytes(bytes).map_err(|error| StateError::Corrupt {
        key: hex::encode(key),
        error,
    })
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
    #[error("balance {balance} after the fee is less than the amount {needed}")]
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
    /// The ledger cannot apply this kind yet.
    #[error("{kind} transactions are not supported yet")]
    Unsupported {
        /// The kind's name.
        kind: &'static str,
    },
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

/// Writes not yet committed: a block layer, and above it the layer of the
/// transaction being applied, which is merged into the block or dropped.
struct Overlay<'s, S> {
    base: &'s S,
    block: ChangeSet,
    tx: ChangeSet,
}

impl<S: StateStore> Overlay<'_, S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.tx.get(key).or_else(|| self.block.get(key)) {
            return Ok(v.clone());
        }
        self.base.get(key)
    }

    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        let key = account_key(address);
        self.get(&key)?
            .map(|bytes| decode_account(&key, &bytes))
            .transpose()
    }

    fn put_account(&mut self, address: &Address, account: &Account) {
        self.tx
            .insert(account_key(address), Some(account.to_bytes()));
    }

    fn keep_tx(&mut self) {
        let tx = std::mem::take(&mut self.tx);
        self.block.extend(tx);
    }

    fn drop_tx(&mut self) {
        self.tx.clear();
    }
}

/// Applies the transactions of one block on top of a store, without
/// writing to it.
pub struct BlockExecutor<'s, S> {
    params: &'s ChainParams,
    proposer: Address,
    overlay: Overlay<'s, S>,
    fees: Amount,
}

impl<S> std::fmt::Debug for BlockExecutor<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockExecutor")
            .field("proposer", &self.proposer)
            .field("pending_writes", &self.overlay.block.len())
            .field("fees", &self.fees)
            .finish()
    }
}

impl<'s, S: StateStore> BlockExecutor<'s, S> {
    /// Starts a block proposed by `proposer` on top of `store`.
    pub fn new(store: &'s S, params: &'s ChainParams, proposer: Address) -> Self {
        Self {
            params,
            proposer,
            overlay: Overlay {
                base: store,
                block: ChangeSet::new(),
                tx: ChangeSet::new(),
            },
            fees: Amount::ZERO,
        }
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
        let params = self.params;
        if body.chain_id != params.chain_id {
            return Err(Rejection::WrongChain {
                expected: params.chain_id.clone(),
                found: body.chain_id.clone(),
            }
            .into());
        }
        if body.fee < params.min_fee {
            return Err(Rejection::FeeTooLow {
                min: params.min_fee,
                offered: body.fee,
            }
            .into());
        }
        let sender = body.sender;
        let mut account = self
            .overlay
            .account(&sender)?
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
        self.overlay.put_account(&sender, &account);
        self.overlay.keep_tx();
        self.fees = fees;

        let outcome = match self.execute(&sender, &body.kind)? {
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
        })
    }

    /// The kind's effects, written to the transaction layer.
    fn execute(
        &mut self,
        sender: &Address,
        kind: &TxKind,
    ) -> Result<Result<(), FailReason>, StateError> {
        match kind {
            TxKind::Transfer(t) => self.transfer(sender, t),
            other => Ok(Err(FailReason::Unsupported { kind: other.name() })),
        }
    }

    fn transfer(
        &mut self,
        sender: &Address,
        t: &Transfer,
    ) -> Result<Result<(), FailReason>, StateError> {
        if t.amount.is_zero() {
            return Ok(Err(FailReason::ZeroAmount));
        }
        let mut from = self.overlay.account(sender)?.unwrap_or_default();
        let Some(balance) = from.balance.checked_sub(t.amount) else {
            return Ok(Err(FailReason::InsufficientBalance {
                balance: from.balance,
                needed: t.amount,
            }));
        };
        from.balance = balance;
        self.overlay.put_account(sender, &from);
        // Read after the debit, so a transfer to oneself nets to nothing.
        let mut to = self.overlay.account(&t.to)?.unwrap_or_default();
        let Some(balance) = to.balance.checked_add(t.amount) else {
            return Ok(Err(FailReason::Overflow { account: t.to }));
        };
        to.balance = balance;
        self.overlay.put_account(&t.to, &to);
        Ok(Ok(()))
    }

    /// Credits the block's fees to the proposer and answers every write of
    /// the block, to commit with the block.
    pub fn finish(mut self) -> Result<ChangeSet, StateError> {
        if !self.fees.is_zero() {
            let proposer = self.proposer;
            let mut account = self.overlay.account(&proposer)?.unwrap_or_default();
            account.balance = account
                .balance
                .checked_add(self.fees)
                .ok_or(StateError::SupplyOverflow)?;
            self.overlay.put_account(&proposer, &account);
            self.overlay.keep_tx();
        }
        Ok(self.overlay.block)
    }
}

/// Applies `txs` in order as one block by `proposer`: receipts of the
/// included transactions, rejections by index, and the block's writes.
///
/// A block that contains a rejected transaction is not valid; a proposer
/// building a block leaves out the transactions `rejected` names.
pub fn apply_block<S: StateStore>(
    store: &S,
    params: &ChainParams,
    proposer: Address,
    txs: &[VerifiedTx],
) -> Result<BlockResult, StateError> {
    let mut executor = BlockExecutor::new(store, params, proposer);
    let mut receipts = Vec::with_capacity(txs.len());
    let mut rejected = BTreeMap::new();
    for (index, tx) in txs.iter().enumerate() {
        match executor.apply(tx) {
            Ok(receipt) => receipts.push(receipt),
            Err(ApplyError::Rejected(r)) => {
                rejected.insert(index, r);
            }
            Err(ApplyError::State(e)) => return Err(e),
        }
    }
    Ok(BlockResult {
        receipts,
        rejected,
        changes: executor.finish()?,
    })
}

/// What [`apply_block`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockResult {
    /// One per included transaction, in order.
    pub receipts: Vec<Receipt>,
    /// Transactions that could not be included, by their index in the input.
    pub rejected: BTreeMap<usize, Rejection>,
    /// The block's writes.
    pub changes: ChangeSet,
}
