//! Integration tests of sherd-ledger: codec round trips and malformed input,
//! signatures, the state transition, supply conservation, golden vectors.

mod codec;
mod golden;
mod signatures;
mod state;
mod supply;

use ed25519_dalek::SigningKey;
use sherd_ledger::{
    tx::kind::Transfer, verify, Address, Amount, ChainId, ChainParams, Transaction, TxBody, TxKind,
    VerifiedTx,
};

/// The chain id the tests use.
pub const CHAIN: &str = "sherd-test";

/// Minimum fee of the test chain, in base units.
pub const MIN_FEE: u64 = 1_000;

/// A deterministic key: the ed25519 seed is 32 copies of `i`.
pub fn key(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i; 32])
}

/// The address of [`key`]`(i)`.
pub fn addr(i: u8) -> Address {
    Address::from(&key(i).verifying_key())
}

/// The test chain's parameters.
pub fn params() -> ChainParams {
    ChainParams {
        chain_id: ChainId::new(CHAIN).unwrap(),
        min_fee: Amount(MIN_FEE),
    }
}

/// A transaction from key `from`, signed, for the test chain.
pub fn signed(from: u8, nonce: u64, fee: u64, kind: TxKind) -> Transaction {
    signed_on(CHAIN, from, nonce, fee, kind)
}

/// A transaction from key `from`, signed, for chain `chain`.
pub fn signed_on(chain: &str, from: u8, nonce: u64, fee: u64, kind: TxKind) -> Transaction {
    TxBody {
        chain_id: ChainId::new(chain).unwrap(),
        sender: addr(from),
        nonce,
        fee: Amount(fee),
        kind,
    }
    .sign(&key(from))
    .unwrap()
}

/// A verified transfer of `amount` base units from key `from` to key `to`.
pub fn transfer(from: u8, to: u8, nonce: u64, fee: u64, amount: u64) -> VerifiedTx {
    verify(signed(
        from,
        nonce,
        fee,
        TxKind::Transfer(Transfer {
            to: addr(to),
            amount: Amount(amount),
        }),
    ))
    .unwrap()
}
