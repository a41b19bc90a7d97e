//! Building and signing the transactions a wallet sends.
//!
//! Every helper fills `{chain_id, sender, nonce, fee, kind}` from a
//! [`TxParams`] and the wallet key, and signs with the ledger's own
//! [`TxBody::sign`], so the bytes are exactly what a node verifies. The
//! checks here are the ones a person gets wrong (a zero amount, a
//! commission above 100 %); the node checks everything again.

use sherd_ledger::{
    amount::Amount,
    chain::{ChainId, BPS},
    tx::kind::{Delegate, Stake, Transfer, Undelegate},
    Address, SignError, Transaction, TxBody, TxKind,
};

use crate::{keys::WalletKey, validator_key::ValidatorKey};

/// The fee `sherd wallet` offers unless told otherwise: 0.00001 (10,000
/// base units), above the dev chain's minimum of 1,000 base units.
pub const DEFAULT_FEE: Amount = Amount(10_000);

/// What every transaction needs besides its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxParams {
    /// The chain (from the node's `/v1/status`).
    pub chain_id: ChainId,
    /// The sender's next nonce (from `/v1/accounts/{addr}`).
    pub nonce: u64,
    /// The fee offered.
    pub fee: Amount,
}

/// Why a transaction cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A zero amount, which the ledger refuses.
    #[error("the amount must be more than zero")]
    ZeroAmount,
    /// A commission above 100 %.
    #[error("commission {found} bps is above 100 % ({BPS} bps)")]
    Commission {
        /// The commission asked for.
        found: u16,
    },
    /// The ledger refused to sign.
    #[error(transparent)]
    Sign(#[from] SignError),
}

fn nonzero(amount: Amount) -> Result<(), BuildError> {
    if amount.is_zero() {
        Err(BuildError::ZeroAmount)
    } else {
        Ok(())
    }
}

/// Signs `kind` from `key`'s account.
pub fn sign(key: &WalletKey, params: &TxParams, kind: TxKind) -> Result<Transaction, BuildError> {
    let body = TxBody {
        chain_id: params.chain_id.clone(),
        sender: key.address(),
        nonce: params.nonce,
        fee: params.fee,
        kind,
    };
    Ok(body.sign(key.signing_key())?)
}

/// `Transfer`: `amount` to `to`.
pub fn transfer(
    key: &WalletKey,
    params: &TxParams,
    to: Address,
    amount: Amount,
) -> Result<Transaction, BuildError> {
    nonzero(amount)?;
    sign(key, params, TxKind::Transfer(Transfer { to, amount }))
}

/// `Stake`: register the sender as a validator with `validator`'s BLS key
/// and proof of possession, or add `amount` to its self-stake.
pub fn stake(
    key: &WalletKey,
    params: &TxParams,
    amount: Amount,
    validator: &ValidatorKey,
    commission_bps: u16,
) -> Result<Transaction, BuildError> {
    nonzero(amount)?;
    if commission_bps > BPS {
        return Err(BuildError::Commission {
            found: commission_bps,
        });
    }
    let kind = TxKind::Stake(Stake {
        amount,
        bls_pubkey: validator.public_key(),
        pop: validator.proof_of_possession(),
        commission_bps,
    });
    sign(key, params, kind)
}

/// `Delegate`: bond `amount` to `validator`.
pub fn delegate(
    key: &WalletKey,
    params: &TxParams,
    validator: Address,
    amount: Amount,
) -> Result<Transaction, BuildError> {
    nonzero(amount)?;
    sign(
        key,
        params,
        TxKind::Delegate(Delegate { validator, amount }),
    )
}

/// `Undelegate`: start unbonding `amount` from `validator` (the sender's
/// own address to unbond self-stake).
pub fn undelegate(
    key: &WalletKey,
    params: &TxParams,
    validator: Address,
    amount: Amount,
) -> Result<Transaction, BuildError> {
    nonzero(amount)?;
    sign(
        key,
        params,
        TxKind::Undelegate(Undelegate { validator, amount }),
    )
}

/// `Withdraw`: take back unbondings whose period is over.
pub fn withdraw(key: &WalletKey, params: &TxParams) -> Result<Transaction, BuildError> {
    sign(key, params, TxKind::Withdraw)
}

/// A `RegisterEndpoint` for a validator node: its binary libp2p peer id
/// and multiaddrs (as the node's `GET /v1/node` gives them).
pub fn register_endpoint(
    key: &WalletKey,
    params: &TxParams,
    peer_id: Vec<u8>,
    multiaddrs: Vec<Vec<u8>>,
) -> Result<Transaction, BuildError> {
    use sherd_ledger::tx::kind::{Multiaddr, RegisterEndpoint, Role};
    sign(
        key,
        params,
        TxKind::RegisterEndpoint(RegisterEndpoint {
            role: Role::Validator,
            peer_id,
            multiaddrs: multiaddrs.into_iter().map(Multiaddr).collect(),
        }),
    )
}

/// What the sender must hold for a transaction that moves `amount`:
/// `amount + fee`, or `None` on overflow.
pub fn total_cost(amount: Amount, fee: Amount) -> Option<Amount> {
    amount.checked_add(fee)
}

#[cfg(test)]
mod tests {
    use sherd_ledger::verify;

    use super::*;
    use crate::mnemonic::Mnemonic;

    fn key() -> WalletKey {
        WalletKey::from_mnemonic(&Mnemonic::from_entropy(&[3; 32]).unwrap(), 0)
    }

    fn params() -> TxParams {
        TxParams {
            chain_id: ChainId::new("sherd-dev").unwrap(),
            nonce: 7,
            fee: DEFAULT_FEE,
        }
    }

    #[test]
    fn every_kind_signs_verifiably_and_round_trips() {
        let key = key();
        let other = WalletKey::from_mnemonic(&Mnemonic::from_entropy(&[4; 32]).unwrap(), 0);
        let validator = ValidatorKey::generate().unwrap();
        let amount: Amount = "12.5".parse().unwrap();
        let txs = vec![
            transfer(&key, &params(), other.address(), amount).unwrap(),
            stake(&key, &params(), amount, &validator, 500).unwrap(),
            delegate(&key, &params(), other.address(), amount).unwrap(),
            undelegate(&key, &params(), key.address(), amount).unwrap(),
            withdraw(&key, &params()).unwrap(),
        ];
        for tx in txs {
            assert_eq!(tx.body.sender, key.address());
            assert_eq!(tx.body.nonce, 7);
            assert_eq!(tx.body.fee, DEFAULT_FEE);
            let bytes = tx.to_bytes().unwrap();
            let decoded = Transaction::from_bytes(&bytes).unwrap();
            assert_eq!(decoded, tx);
            let verified = verify(decoded).unwrap();
            assert_eq!(verified.id(), tx.id().unwrap());
        }
    }

    #[test]
    fn stake_carries_a_valid_proof_of_possession() {
        use sherd_consensus::bls::{ProofOfPossession, PublicKey};
        let validator = ValidatorKey::generate().unwrap();
        let tx = stake(&key(), &params(), Amount(1), &validator, 0).unwrap();
        let TxKind::Stake(s) = tx.body.kind else {
            panic!("not a stake")
        };
        PublicKey::from_bytes(&s.bls_pubkey)
            .unwrap()
            .verify_possession(&ProofOfPossession::from_bytes(&s.pop).unwrap())
            .unwrap();
    }

    #[test]
    fn zero_amounts_and_huge_commissions_are_refused() {
        let v = ValidatorKey::generate().unwrap();
        let k = key();
        assert_eq!(
            transfer(&k, &params(), k.address(), Amount::ZERO),
            Err(BuildError::ZeroAmount)
        );
        assert_eq!(
            stake(&k, &params(), Amount(1), &v, 10_001),
            Err(BuildError::Commission { found: 10_001 })
        );
    }

    #[test]
    fn a_tampered_transaction_does_not_verify() {
        let k = key();
        let mut tx = transfer(&k, &params(), k.address(), Amount(5)).unwrap();
        tx.body.nonce += 1;
        assert!(verify(tx).is_err());
    }
}
