//! sherd's ledger: types, canonical transaction codec, state transition and the state store trait.
//!
//! Everything here is pure: no IO, no clock, no randomness. The byte formats
//! are specified in the module docs: [`codec`] (the canonical encoding),
//! [`address`], [`amount`], [`tx`] (transactions and their signing message)
//! and [`state`] (state keys and values).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing
    )
)]

pub mod address;
pub mod amount;
pub mod block;
pub mod chain;
pub mod codec;
pub mod commitment;
pub mod genesis;
pub mod hash;
pub mod state;
pub mod store;
pub mod tx;
pub mod verify;

pub use address::{Address, ParseAddressError};
pub use amount::{Amount, ParseAmountError};
pub use block::{Block, BlockHeader};
pub use chain::{ChainId, ChainIdError, ChainParams, ParamsError};
pub use codec::{DecodeError, EncodeError};
pub use genesis::{Genesis, GenesisError, GenesisState};
pub use hash::Hash;
pub use state::{
    apply_block, apply_block_with, audit, check_chain_and_fee, Account, ApplyError, BlockContext,
    BlockError, BlockExecutor, BlockOutput, BlockResult, FailReason, Outcome, ProofChecks,
    ProofPayment, ProofRejection, ProofVerdict, Receipt, Rejection, StateError, StateView,
};
pub use store::{ChangeSet, MemoryStore, StateStore, StoreError};
pub use tx::{SignError, Transaction, TxBody, TxKind};
pub use verify::{
    signed_by, verify, verify_batch, verify_each, BatchVerifyError, VerifiedTx, VerifyError,
};
