//! Building and signing the transactions a wallet sends.
//!
//! Every helper fills `{chain_id, sender, nonce, fee, kind}` from a
//! [`TxParams`] and the sender's key, and signs with the ledger's own
//! [`TxBody::sign`], so the bytes are exactly what a node verifies. The
//! key is a wallet's [`WalletKey`] or a bare ed25519 [`SigningKey`] (a
//! provider node's, read with [`crate::keyfile::read_ed25519`]): see
//! [`TxSigner`].
//!
//! The checks here are the ones a person or a caller gets wrong (a zero
//! amount, a commission above 100 %, an empty duration range, a contract
//! whose deal list does not match `k + m`, an acceptance signed for another
//! nonce, a proof batch over the limit); each is a [`BuildError`] naming
//! the offending value. The node checks everything again.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, SigningKey};
use sherd_ledger::signed_by;
use sherd_ledger::{
    amount::Amount,
    chain::{ChainId, BPS},
    state::{
        market::{acceptance_message, contract_id, per_gib_cost, repair_message, RepairedFragment},
        Contract, FragmentStatus,
    },
    tx::kind::{
        AdvertiseCapacity, CreateContract, Delegate, EndContract, ExtendContract, Multiaddr,
        ProofAnswer, RegisterEndpoint, RepairFragment, Role, Stake, SubmitProofs, Transfer,
        Undelegate, MAX_CONTRACT_FRAGMENTS, MAX_MULTIADDRS, MAX_MULTIADDR_LEN, MAX_PEER_ID_LEN,
        MAX_PROOFS_PER_TX, MAX_PROOF_LEN,
    },
    Address, Hash, SignError, Transaction, TxBody, TxKind,
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
    /// An endpoint without a peer id, or a peer id over the limit.
    #[error("the peer id is {len} bytes: it must be 1 to {MAX_PEER_ID_LEN}")]
    PeerId {
        /// Its length.
        len: usize,
    },
    /// An endpoint without an address, or with too many.
    #[error("{count} multiaddrs: an endpoint needs 1 to {MAX_MULTIADDRS}")]
    MultiaddrCount {
        /// How many were given.
        count: usize,
    },
    /// An empty or oversized multiaddr.
    #[error("multiaddr {index} is {len} bytes: it must be 1 to {MAX_MULTIADDR_LEN}")]
    Multiaddr {
        /// Its position in the list.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// An advertisement of no capacity.
    #[error("the capacity must be more than zero bytes")]
    ZeroCapacity,
    /// A duration range that is empty or starts at zero.
    #[error("duration range {min}..={max} epochs is empty or starts at 0")]
    DurationRange {
        /// The shortest duration asked for.
        min: u64,
        /// The longest.
        max: u64,
    },
    /// A contract whose coding the ledger refuses.
    #[error("k = {k}, m = {m}: a contract needs k ≥ 2 data and m ≥ 1 parity fragments")]
    Coding {
        /// Data fragments.
        k: u16,
        /// Parity fragments.
        m: u16,
    },
    /// A contract whose deal list does not have one deal per fragment.
    #[error("{found} fragment deals for k + m = {expected} fragments")]
    FragmentCount {
        /// `k + m`.
        expected: usize,
        /// Deals listed.
        found: usize,
    },
    /// More fragments than a contract holds.
    #[error("{count} fragments: a contract holds at most {MAX_CONTRACT_FRAGMENTS}")]
    TooManyFragments {
        /// `k + m`.
        count: usize,
    },
    /// A contract of empty fragments.
    #[error("the fragment size must be more than zero bytes")]
    ZeroFragmentSize,
    /// A contract of no duration.
    #[error("the contract duration must be at least one epoch")]
    ZeroDuration,
    /// A contract whose escrow does not fit in an amount.
    #[error("the escrow of {fragments} fragments of {fragment_size} bytes for {duration_epochs} epochs at {price} per GiB-epoch overflows")]
    EscrowOverflow {
        /// Fragments.
        fragments: usize,
        /// Bytes per fragment.
        fragment_size: u64,
        /// Epochs.
        duration_epochs: u64,
        /// Price per GiB-epoch.
        price: Amount,
    },
    /// One provider for two fragments of a contract.
    #[error("provider {provider} is given fragments {first} and {second}: each fragment needs its own provider")]
    DuplicateProvider {
        /// The provider.
        provider: Address,
        /// The first fragment it holds.
        first: u32,
        /// The second.
        second: u32,
    },
    /// A provider's acceptance that does not verify for this transaction:
    /// signed for another nonce, chain, term or fragment root, or by
    /// another key.
    #[error("the acceptance of provider {provider} for fragment {index} does not verify for contract {contract}: ask it to accept the deal again")]
    BadAcceptance {
        /// The fragment.
        index: u32,
        /// The provider.
        provider: Address,
        /// The contract id the acceptance must sign.
        contract: Hash,
    },
    /// A `SubmitProofs` without proofs.
    #[error("a proof batch needs at least one proof")]
    NoProofs,
    /// A `SubmitProofs` over the limit.
    #[error("{count} proofs in one batch: at most {MAX_PROOFS_PER_TX}")]
    TooManyProofs {
        /// Proofs given.
        count: usize,
    },
    /// An empty or oversized proof.
    #[error("proof {index} is {len} bytes: it must be 1 to {MAX_PROOF_LEN}")]
    ProofSize {
        /// Its position in the batch.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// Two answers to the same challenge in one batch.
    #[error("proofs {first} and {second} both answer fragment {fragment} of contract {contract}")]
    DuplicateProof {
        /// The contract.
        contract: Hash,
        /// The fragment.
        fragment: u32,
        /// The first answer's position.
        first: usize,
        /// The second's.
        second: usize,
    },
    /// A batch that answers several proof periods; only the current one
    /// is accepted.
    #[error("proof {index} is for period {found} but proof 0 is for period {expected}: a batch answers one period")]
    MixedPeriods {
        /// The answer's position.
        index: usize,
        /// The first answer's period.
        expected: u64,
        /// This answer's period.
        found: u64,
    },
    /// A repair of a fragment the contract does not have.
    #[error("contract {contract} has {count} fragments: there is no fragment {index}")]
    NoSuchFragment {
        /// The contract.
        contract: Hash,
        /// The index asked for.
        index: u32,
        /// How many fragments it has.
        count: usize,
    },
    /// An end or extension of another client's contract.
    #[error(
        "contract {contract} belongs to {client}: only its client ends or extends it, not {sender}"
    )]
    NotTheClient {
        /// The contract.
        contract: Hash,
        /// Its client.
        client: Address,
        /// The would-be sender.
        sender: Address,
    },
    /// An end or extension of a contract that has ended.
    #[error("contract {0} has ended already")]
    Ended(Hash),
    /// An extension by 0 epochs.
    #[error("an extension needs at least 1 epoch")]
    ZeroEpochs,
    /// A repair of a fragment that is not lost.
    #[error("fragment {index} of contract {contract} is {status}, not lost: only a lost fragment is repaired")]
    NotLost {
        /// The contract.
        contract: Hash,
        /// The fragment.
        index: u32,
        /// Its status (`active`, `ended`).
        status: &'static str,
    },
    /// A repair to a provider that already stores a fragment of the
    /// contract.
    #[error("{provider} already stores fragment {index} of contract {contract}: choose another provider")]
    AlreadyStores {
        /// The contract.
        contract: Hash,
        /// The provider.
        provider: Address,
        /// The fragment it stores.
        index: u32,
    },
    /// The ledger refused to sign.
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// A key that signs transactions: a wallet's [`WalletKey`], or a bare
/// ed25519 [`SigningKey`] (a node's operator or provider key file).
pub trait TxSigner {
    /// The ed25519 key.
    fn signing_key(&self) -> &SigningKey;

    /// The account it signs for.
    fn address(&self) -> Address {
        Address::from(&self.signing_key().verifying_key())
    }
}

impl TxSigner for WalletKey {
    fn signing_key(&self) -> &SigningKey {
        WalletKey::signing_key(self)
    }

    fn address(&self) -> Address {
        WalletKey::address(self)
    }
}

impl TxSigner for SigningKey {
    fn signing_key(&self) -> &SigningKey {
        self
    }
}

fn nonzero(amount: Amount) -> Result<(), BuildError> {
    if amount.is_zero() {
        Err(BuildError::ZeroAmount)
    } else {
        Ok(())
    }
}

/// Signs `kind` from `key`'s account, with [`TxBody::sign`].
pub fn sign(
    key: &(impl TxSigner + ?Sized),
    params: &TxParams,
    kind: TxKind,
) -> Result<Transaction, BuildError> {
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
    key: &(impl TxSigner + ?Sized),
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
    key: &(impl TxSigner + ?Sized),
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
    key: &(impl TxSigner + ?Sized),
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
    key: &(impl TxSigner + ?Sized),
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
pub fn withdraw(
    key: &(impl TxSigner + ?Sized),
    params: &TxParams,
) -> Result<Transaction, BuildError> {
    sign(key, params, TxKind::Withdraw)
}

/// A `RegisterEndpoint` for a validator node: its binary libp2p peer id
/// and multiaddrs (as the node's `GET /v1/node` gives them).
pub fn register_endpoint(
    key: &(impl TxSigner + ?Sized),
    params: &TxParams,
    peer_id: Vec<u8>,
    multiaddrs: Vec<Vec<u8>>,
) -> Result<Transaction, BuildError> {
    endpoint(key, params, Role::Validator, peer_id, multiaddrs)
}

/// A `RegisterEndpoint` for a storage provider: where clients dial it for
/// deals and fragments. A provider registers one before it advertises.
pub fn register_provider_endpoint(
    key: &(impl TxSigner + ?Sized),
    params: &TxParams,
    peer_id: Vec<u8>,
    multiaddrs: Vec<Vec<u8>>,
) -> Result<Transaction, BuildError> {
    endpoint(key, params, Role::Provider, peer_id, multiaddrs)
}

fn endpoint(
    key: &(impl TxSigner + ?Sized),
    params: &TxParams,
    role: Role,
    peer_id: Vec<u8>,
    multiaddrs: Vec<Vec<u8>>,
) -> Result<Transaction, BuildError> {
    if peer_id.is_empty() || peer_id.len() > MAX_PEER_ID_LEN {
        return Err(BuildError::PeerId { len: peer_id.len() });
    }
    if multiaddrs.is_empty() || multiaddrs.len() > MAX_MULTIADDRS {
        return Err(BuildError::MultiaddrCount {
            count: multiaddrs.len(),
        });
    }
    if let Some((index, addr)) = multiaddrs
        .iter()
        .enumerate()
        .find(|(_, a)| a.is_empty() || a.len() > MAX_MULTIADDR_LEN)
    {
        return Err(BuildError::Multiaddr {
            index,
            len: addr.len(),
        });
    }
    sign(
        key,
        params,
        TxKind::RegisterEndpoint(RegisterEndpoint {
            role,
            peer_id,
            multiaddrs: multiaddrs.into_iter().map(Multiaddr).collect(),
        }),
    )
}

/// `AdvertiseCapacity`: offer `terms` on the market, replacing the
/// sender's earlier advertisement. The sender needs a provider endpoint
/// on chain first ([`register_provider_endpoint`]), and a capacity no
/// smaller than what it has under contract.
pub fn advertise_capacity(
    key: &(impl TxSigner + ?Sized),
    params: &TxParams,
    terms: AdvertiseCapacity,
) -> Result<Transaction, BuildError> {
    if terms.capacity_bytes == 0 {
        return Err(BuildError::ZeroCapacity);
    }
    if terms.min_duration_epochs == 0 || terms.min_duration_epochs > terms.max_duration_epochs {
        return Err(BuildError::DurationRange {
            min: terms.min_duration_epochs,
            max: terms.max_duration_epochs,
        });
    }
    sign(key, params, TxKind::AdvertiseCapacity(terms))
}

/// What a `CreateContract` locks from the client: the escrow of every
/// fragment, `ceil(price · fragment_size · duration / 2^30)` each (as the
/// ledger computes it); `None` on overflow.
pub fn contract_escrow(contract: &CreateContract) -> Option<Amount> {
    let each = per_gib_cost(
        contract.price_per_gib_epoch,
        contract.fragment_size,
        contract.duration_epochs,
    )?;
    let n = u64::from(contract.k).checked_add(u64::from(contract.m))?;
    each.0.checked_mul(n).map(Amount)
}

/// `CreateContract`: store an object's `k + m` fragments, one deal per
/// fragment in fragment order, each with its provider's acceptance.
///
/// The contract's id is [`contract_id`]`(sender, params.nonce)`, and every
/// acceptance must sign it ([`acceptance_message`]): each one is verified
/// here, so a deal accepted for another nonce (a transaction sent in
/// between), another chain or other terms is refused before it costs a
/// fee. The transaction needs [`contract_escrow`] on top of the fee.
pub fn create_contract(
    key: &(impl TxSigner + ?Sized),
    params: &TxParams,
    contract: CreateContract,
) -> Result<Transaction, BuildError> {
    let (k, m) = (contract.k, contract.m);
    if k < 2 || m < 1 {
        return Err(BuildError::Coding { k, m });
    }
    let n = usize::from(k) + usize::from(m);
    if n > MAX_CONTRACT_FRAGMENTS {
        return Err(BuildError::TooManyFragments { count: n });
    }
    if contract.fragments.len() != n {
        return Err(BuildError::FragmentCount {
            expected: n,
            found: contract.fragments.len(),
        });
    }
    if contract.fragment_size == 0 {
        return Err(BuildError::ZeroFragmentSize);
    }
    if contract.duration_epochs == 0 {
        return Err(BuildError::ZeroDuration);
    }
    if contract_escrow(&contract).is_none() {
        return Err(BuildError::EscrowOverflow {
            fragments: n,
            fragment_size: contract.fragment_size,
            duration_epochs: contract.duration_epochs,
            price: contract.price_per_gib_epoch,
        });
    }
    let mut first_of = BTreeMap::new();
    for (deal, index) in contract.fragments.iter().zip(0u32..) {
        if let Some(&first) = first_of.get(&deal.provider) {
            return Err(BuildError::DuplicateProvider {
                provider: deal.provider,
                first,
                second: index,
            });
        }
        first_of.insert(deal.provider, index);
    }
    let client = key.address();
    let id = contract_id(&client, params.nonce);
    for (deal, index) in contract.fragments.iter().zip(0u32..) {
        let message =
            acceptance_message(&params.chain_id, &id, &client, &contract, index, &deal.root)
                .map_err(SignError::from)?;
        if !signed_by(&deal.provider, &message, &deal.acceptance) {
            return Err(BuildError::BadAcceptance {
                index,
                provider: deal.provider,
                contract: id,
            });
        }
    }
    sign(key, params, TxKind::CreateContract(contract))
}

/// `SubmitProofs`: a provider's answers to one proof period's challenges
/// (1 to [`MAX_PROOFS_PER_TX`], one per challenged fragment, each proof
/// `sherd_fragments::Proof::to_bytes` of at most [`MAX_PROOF_LEN`] bytes).
pub fn submit_proofs(
    key: &(impl TxSigner + ?Sized),
    params: &TxParams,
    proofs: Vec<ProofAnswer>,
) -> Result<Transaction, BuildError> {
    let Some(first) = proofs.first() else {
        return Err(BuildError::NoProofs);
    };
    if proofs.len() > MAX_PROOFS_PER_TX {
        return Err(BuildError::TooManyProofs {
            count: proofs.len(),
        });
    }
    let mut seen = BTreeMap::new();
    for (index, answer) in proofs.iter().enumerate() {
        if answer.proof.is_empty() || answer.proof.len() > MAX_PROOF_LEN {
            return Err(BuildError::ProofSize {
                index,
                len: answer.proof.len(),
            });
        }
        if answer.period != first.period {
            return Err(BuildError::MixedPeriods {
                index,
                expected: first.period,
                found: answer.period,
            });
        }
        if let Some(&earlier) = seen.get(&(answer.contract_id, answer.fragment_index)) {
            return Err(BuildError::DuplicateProof {
                contract: answer.contract_id,
                fragment: answer.fragment_index,
                first: earlier,
                second: index,
            });
        }
        seen.insert((answer.contract_id, answer.fragment_index), index);
    }
    sign(key, params, TxKind::SubmitProofs(SubmitProofs { proofs }))
}

/// `RepairFragment`: move lost fragment `index` of `contract` (as read
/// from the chain, e.g. [`crate::client::ContractInfo::to_contract`]) to
/// `new_provider`, whose `acceptance` signs [`repair_message`] naming the
/// sender as the repairer (anyone may repair; the ledger pays the repairer
/// the fragment's repair reward). Checked here: the fragment exists and is
/// lost, the new provider holds no fragment of the contract yet, and the
/// acceptance verifies for this sender.
pub fn repair_fragment(
    key: &(impl TxSigner + ?Sized),
    params: &TxParams,
    contract: &Contract,
    index: u32,
    new_provider: Address,
    acceptance: Signature,
) -> Result<Transaction, BuildError> {
    let Some(fragment) = usize::try_from(index)
        .ok()
        .and_then(|i| contract.fragments.get(i))
    else {
        return Err(BuildError::NoSuchFragment {
            contract: contract.id,
            index,
            count: contract.fragments.len(),
        });
    };
    if fragment.status != FragmentStatus::Lost {
        return Err(BuildError::NotLost {
            contract: contract.id,
            index,
            status: fragment.status.name(),
        });
    }
    if let Some(held) = contract
        .fragments
        .iter()
        .zip(0u32..)
        .find(|(f, _)| f.provider == new_provider)
        .map(|(_, i)| i)
    {
        return Err(BuildError::AlreadyStores {
            contract: contract.id,
            provider: new_provider,
            index: held,
        });
    }
    let repaired = RepairedFragment::of(contract, index).ok_or(BuildError::NoSuchFragment {
        contract: contract.id,
        index,
        count: contract.fragments.len(),
    })?;
    let message =
        repair_message(&params.chain_id, &repaired, &key.address()).map_err(SignError::from)?;
    if !signed_by(&new_provider, &message, &acceptance) {
        return Err(BuildError::BadAcceptance {
            index,
            provider: new_provider,
            contract: contract.id,
        });
    }
    sign(
        key,
        params,
        TxKind::RepairFragment(RepairFragment {
            contract_id: contract.id,
            fragment_index: index,
            new_provider,
            acceptance,
        }),
    )
}

/// Checks that `key` may end or extend `contract` (as read from the
/// chain): it is the client's, and not ended.
fn own_running(key: &(impl TxSigner + ?Sized), contract: &Contract) -> Result<(), BuildError> {
    let sender = key.address();
    if contract.client != sender {
        return Err(BuildError::NotTheClient {
            contract: contract.id,
            client: contract.client,
            sender,
        });
    }
    if contract
        .fragments
        .iter()
        .all(|f| f.status == FragmentStatus::Ended)
    {
        return Err(BuildError::Ended(contract.id));
    }
    Ok(())
}

/// `EndContract`: end the sender's `contract` now (see
/// `sherd_ledger::state` "lifecycle" for who is paid what).
pub fn end_contract(
    key: &(impl TxSigner + ?Sized),
    params: &TxParams,
    contract: &Contract,
) -> Result<Transaction, BuildError> {
    own_running(key, contract)?;
    sign(
        key,
        params,
        TxKind::EndContract(EndContract {
            contract_id: contract.id,
        }),
    )
}

/// `ExtendContract`: `epochs` more epochs for the sender's `contract`.
pub fn extend_contract(
    key: &(impl TxSigner + ?Sized),
    params: &TxParams,
    contract: &Contract,
    epochs: u64,
) -> Result<Transaction, BuildError> {
    own_running(key, contract)?;
    if epochs == 0 {
        return Err(BuildError::ZeroEpochs);
    }
    sign(
        key,
        params,
        TxKind::ExtendContract(ExtendContract {
            contract_id: contract.id,
            epochs,
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

    fn provider(i: u8) -> SigningKey {
        SigningKey::from_bytes(&[100 + i; 32])
    }

    /// A 2 + 1 contract whose providers accept it for `client` at
    /// `params`' chain and nonce.
    fn contract_for(client: &WalletKey, params: &TxParams) -> CreateContract {
        use ed25519_dalek::Signer;
        use sherd_ledger::tx::kind::FragmentDeal;
        let mut contract = CreateContract {
            object_root: Hash([1; 32]),
            k: 2,
            m: 1,
            fragment_size: 48 * 1024,
            duration_epochs: 4,
            price_per_gib_epoch: Amount(1_000_000_000),
            fragments: (0..3u8)
                .map(|i| FragmentDeal {
                    root: Hash([10 + i; 32]),
                    provider: provider(i).address(),
                    acceptance: Signature::from_bytes(&[0; 64]),
                })
                .collect(),
        };
        let id = contract_id(&client.address(), params.nonce);
        for i in 0..3u8 {
            let root = contract.fragments[usize::from(i)].root;
            let message = acceptance_message(
                &params.chain_id,
                &id,
                &client.address(),
                &contract,
                u32::from(i),
                &root,
            )
            .unwrap();
            contract.fragments[usize::from(i)].acceptance = provider(i).sign(&message);
        }
        contract
    }

    fn terms() -> AdvertiseCapacity {
        AdvertiseCapacity {
            capacity_bytes: 1 << 30,
            price_per_gib_epoch: Amount(1_000),
            collateral_per_gib: Amount(4_000),
            min_duration_epochs: 1,
            max_duration_epochs: 100,
        }
    }

    fn answer(contract: u8, fragment: u32, period: u64) -> ProofAnswer {
        ProofAnswer {
            contract_id: Hash([contract; 32]),
            fragment_index: fragment,
            period,
            proof: vec![7; 100],
        }
    }

    /// The contract as the chain holds it once created, fragment 1 lost.
    fn stored(client: &WalletKey, params: &TxParams) -> Contract {
        use sherd_ledger::state::ContractFragment;
        let created = contract_for(client, params);
        Contract {
            id: contract_id(&client.address(), params.nonce),
            client: client.address(),
            object_root: created.object_root,
            k: created.k,
            m: created.m,
            fragment_size: created.fragment_size,
            price_per_gib_epoch: created.price_per_gib_epoch,
            start_height: 10,
            first_period: 2,
            last_period: 9,
            fragments: created
                .fragments
                .iter()
                .zip(0..)
                .map(|(deal, i)| ContractFragment {
                    root: deal.root,
                    provider: deal.provider,
                    status: if i == 1 {
                        FragmentStatus::Lost
                    } else {
                        FragmentStatus::Active
                    },
                    escrow_left: Amount(5),
                    collateral_left: Amount(5),
                    repair_reward: Amount(0),
                    misses: 0,
                    accepted: 0,
                    proven: 0,
                    since: 10,
                })
                .collect(),
        }
    }

    fn repair_acceptance(
        signer: &SigningKey,
        params: &TxParams,
        contract: &Contract,
        index: u32,
        repairer: &Address,
    ) -> Signature {
        use ed25519_dalek::Signer;
        let repaired = RepairedFragment::of(contract, index).unwrap();
        signer.sign(&repair_message(&params.chain_id, &repaired, repairer).unwrap())
    }

    #[test]
    fn market_kinds_sign_verifiably_and_decode_to_the_same_kind() {
        let key = key();
        let p = params();
        let contract = stored(&key, &p);
        let spare = provider(9);
        let txs = vec![
            register_provider_endpoint(&spare, &p, vec![1; 38], vec![vec![4, 127, 0, 0, 1]])
                .unwrap(),
            advertise_capacity(&spare, &p, terms()).unwrap(),
            create_contract(&key, &p, contract_for(&key, &p)).unwrap(),
            submit_proofs(
                &spare,
                &p,
                vec![answer(1, 0, 5), answer(1, 1, 5), answer(2, 0, 5)],
            )
            .unwrap(),
            repair_fragment(
                &key,
                &p,
                &contract,
                1,
                spare.address(),
                repair_acceptance(&spare, &p, &contract, 1, &key.address()),
            )
            .unwrap(),
        ];
        let names = [
            "RegisterEndpoint",
            "AdvertiseCapacity",
            "CreateContract",
            "SubmitProofs",
            "RepairFragment",
        ];
        for (tx, name) in txs.into_iter().zip(names) {
            assert_eq!(tx.body.kind.name(), name);
            assert_eq!(tx.body.nonce, p.nonce);
            let decoded = Transaction::from_bytes(&tx.to_bytes().unwrap()).unwrap();
            assert_eq!(decoded.body.kind, tx.body.kind, "{name}");
            assert_eq!(decoded, tx);
            let verified = verify(decoded).unwrap();
            assert_eq!(verified.id(), tx.id().unwrap(), "{name}");
        }
    }

    #[test]
    fn signing_is_the_ledgers_whichever_key_type_signs() {
        let key = key();
        let bare = key.signing_key().clone();
        let p = params();
        let by_wallet = withdraw(&key, &p).unwrap();
        let by_bare = withdraw(&bare, &p).unwrap();
        assert_eq!(by_wallet, by_bare);
        let by_ledger = TxBody {
            chain_id: p.chain_id.clone(),
            sender: key.address(),
            nonce: p.nonce,
            fee: p.fee,
            kind: TxKind::Withdraw,
        }
        .sign(&bare)
        .unwrap();
        assert_eq!(by_wallet, by_ledger);
    }

    #[test]
    fn endpoints_need_a_peer_id_and_addresses() {
        let k = key();
        let p = params();
        assert_eq!(
            register_provider_endpoint(&k, &p, vec![], vec![vec![1]]),
            Err(BuildError::PeerId { len: 0 })
        );
        assert_eq!(
            register_endpoint(&k, &p, vec![1], vec![]),
            Err(BuildError::MultiaddrCount { count: 0 })
        );
        assert_eq!(
            register_provider_endpoint(&k, &p, vec![1], vec![vec![1], vec![]]),
            Err(BuildError::Multiaddr { index: 1, len: 0 })
        );
        assert_eq!(
            register_provider_endpoint(&k, &p, vec![1], vec![vec![1]; MAX_MULTIADDRS + 1]),
            Err(BuildError::MultiaddrCount {
                count: MAX_MULTIADDRS + 1
            })
        );
    }

    #[test]
    fn advertisements_need_capacity_and_a_duration_range() {
        let k = key();
        let p = params();
        let zero = AdvertiseCapacity {
            capacity_bytes: 0,
            ..terms()
        };
        assert_eq!(
            advertise_capacity(&k, &p, zero),
            Err(BuildError::ZeroCapacity)
        );
        for (min, max) in [(0, 10), (11, 10)] {
            let bad = AdvertiseCapacity {
                min_duration_epochs: min,
                max_duration_epochs: max,
                ..terms()
            };
            let err = advertise_capacity(&k, &p, bad).unwrap_err();
            assert_eq!(err, BuildError::DurationRange { min, max });
            assert!(err.to_string().contains(&format!("{min}..={max}")), "{err}");
        }
        let one = AdvertiseCapacity {
            min_duration_epochs: 3,
            max_duration_epochs: 3,
            ..terms()
        };
        advertise_capacity(&k, &p, one).unwrap();
    }

    #[test]
    fn contracts_are_checked_before_they_cost_a_fee() {
        let k = key();
        let p = params();
        let good = contract_for(&k, &p);
        let with = |f: &dyn Fn(&mut CreateContract)| {
            let mut c = good.clone();
            f(&mut c);
            create_contract(&k, &p, c).unwrap_err()
        };
        assert_eq!(with(&|c| c.k = 1), BuildError::Coding { k: 1, m: 1 });
        assert_eq!(with(&|c| c.m = 0), BuildError::Coding { k: 2, m: 0 });
        assert_eq!(
            with(&|c| c.m = 2),
            BuildError::FragmentCount {
                expected: 4,
                found: 3
            }
        );
        assert_eq!(
            with(&|c| {
                c.fragments.pop();
            }),
            BuildError::FragmentCount {
                expected: 3,
                found: 2
            }
        );
        assert_eq!(
            with(&|c| c.k = 1024),
            BuildError::TooManyFragments { count: 1025 }
        );
        assert_eq!(with(&|c| c.fragment_size = 0), BuildError::ZeroFragmentSize);
        assert_eq!(with(&|c| c.duration_epochs = 0), BuildError::ZeroDuration);
        assert!(matches!(
            with(&|c| {
                c.price_per_gib_epoch = Amount(u64::MAX);
                c.fragment_size = 1 << 40;
            }),
            BuildError::EscrowOverflow { fragments: 3, .. }
        ));
        let duplicate = with(&|c| c.fragments[2].provider = c.fragments[0].provider);
        assert_eq!(
            duplicate,
            BuildError::DuplicateProvider {
                provider: provider(0).address(),
                first: 0,
                second: 2
            }
        );
        // Accepted for nonce 7: useless once another transaction took it.
        let later = TxParams {
            nonce: 8,
            ..p.clone()
        };
        let err = create_contract(&k, &later, good.clone()).unwrap_err();
        assert_eq!(
            err,
            BuildError::BadAcceptance {
                index: 0,
                provider: provider(0).address(),
                contract: contract_id(&k.address(), 8),
            }
        );
        assert!(err.to_string().contains("accept the deal again"), "{err}");
        // Terms changed after the providers signed.
        assert!(matches!(
            with(&|c| c.duration_epochs = 5),
            BuildError::BadAcceptance { index: 0, .. }
        ));
        // One fragment's root swapped: that fragment's acceptance fails.
        assert!(matches!(
            with(&|c| c.fragments[1].root = Hash([99; 32])),
            BuildError::BadAcceptance { index: 1, .. }
        ));
        // Another chain.
        let other_chain = TxParams {
            chain_id: ChainId::new("sherd-test").unwrap(),
            ..p.clone()
        };
        assert!(matches!(
            create_contract(&k, &other_chain, good.clone()),
            Err(BuildError::BadAcceptance { .. })
        ));
        assert_eq!(
            contract_escrow(&good),
            // 48 KiB for 4 epochs at 1 token per GiB-epoch, three times.
            Some(Amount(
                3 * (1_000_000_000u64 * 48 * 1024 * 4).div_ceil(1 << 30)
            ))
        );
    }

    #[test]
    fn proof_batches_are_checked() {
        let k = key();
        let p = params();
        assert_eq!(submit_proofs(&k, &p, vec![]), Err(BuildError::NoProofs));
        let many: Vec<_> = (0..=MAX_PROOFS_PER_TX)
            .map(|i| answer(1, i as u32, 5))
            .collect();
        assert_eq!(
            submit_proofs(&k, &p, many),
            Err(BuildError::TooManyProofs {
                count: MAX_PROOFS_PER_TX + 1
            })
        );
        let full: Vec<_> = (0..MAX_PROOFS_PER_TX)
            .map(|i| answer(1, i as u32, 5))
            .collect();
        submit_proofs(&k, &p, full).unwrap();
        let mut long = answer(1, 1, 5);
        long.proof = vec![0; MAX_PROOF_LEN + 1];
        assert_eq!(
            submit_proofs(&k, &p, vec![answer(1, 0, 5), long]),
            Err(BuildError::ProofSize {
                index: 1,
                len: MAX_PROOF_LEN + 1
            })
        );
        let mut empty = answer(1, 0, 5);
        empty.proof.clear();
        assert_eq!(
            submit_proofs(&k, &p, vec![empty]),
            Err(BuildError::ProofSize { index: 0, len: 0 })
        );
        assert_eq!(
            submit_proofs(
                &k,
                &p,
                vec![answer(1, 0, 5), answer(2, 0, 5), answer(1, 0, 5)]
            ),
            Err(BuildError::DuplicateProof {
                contract: Hash([1; 32]),
                fragment: 0,
                first: 0,
                second: 2
            })
        );
        assert_eq!(
            submit_proofs(&k, &p, vec![answer(1, 0, 5), answer(1, 1, 6)]),
            Err(BuildError::MixedPeriods {
                index: 1,
                expected: 5,
                found: 6
            })
        );
    }

    #[test]
    fn ends_and_extensions_are_the_clients_of_a_running_contract() {
        let k = key();
        let p = params();
        let contract = stored(&k, &p);
        let stranger = WalletKey::from_mnemonic(&Mnemonic::from_entropy(&[4; 32]).unwrap(), 0);
        let not_yours = BuildError::NotTheClient {
            contract: contract.id,
            client: k.address(),
            sender: stranger.address(),
        };
        assert_eq!(
            end_contract(&stranger, &p, &contract),
            Err(not_yours.clone())
        );
        assert_eq!(extend_contract(&stranger, &p, &contract, 1), Err(not_yours));
        assert_eq!(
            extend_contract(&k, &p, &contract, 0),
            Err(BuildError::ZeroEpochs)
        );
        let tx = extend_contract(&k, &p, &contract, 3).unwrap();
        assert_eq!(tx.body.kind.name(), "ExtendContract");
        let mut ended = contract.clone();
        ended
            .fragments
            .iter_mut()
            .for_each(|f| f.status = FragmentStatus::Ended);
        assert_eq!(
            end_contract(&k, &p, &ended),
            Err(BuildError::Ended(contract.id))
        );
        assert_eq!(
            end_contract(&k, &p, &contract).unwrap().body.kind.name(),
            "EndContract"
        );
    }

    #[test]
    fn repairs_are_checked_against_the_contract() {
        let k = key();
        let p = params();
        let contract = stored(&k, &p);
        let spare = provider(9);
        let good = repair_acceptance(&spare, &p, &contract, 1, &k.address());
        // Anyone may repair, with an acceptance that names them: the
        // client's acceptance is no good to a stranger.
        let stranger = WalletKey::from_mnemonic(&Mnemonic::from_entropy(&[4; 32]).unwrap(), 0);
        assert_eq!(
            repair_fragment(&stranger, &p, &contract, 1, spare.address(), good),
            Err(BuildError::BadAcceptance {
                index: 1,
                provider: spare.address(),
                contract: contract.id,
            })
        );
        let theirs = repair_acceptance(&spare, &p, &contract, 1, &stranger.address());
        assert!(repair_fragment(&stranger, &p, &contract, 1, spare.address(), theirs).is_ok());
        assert_eq!(
            repair_fragment(&k, &p, &contract, 3, spare.address(), good),
            Err(BuildError::NoSuchFragment {
                contract: contract.id,
                index: 3,
                count: 3
            })
        );
        assert_eq!(
            repair_fragment(&k, &p, &contract, 0, spare.address(), good),
            Err(BuildError::NotLost {
                contract: contract.id,
                index: 0,
                status: "active"
            })
        );
        assert_eq!(
            repair_fragment(&k, &p, &contract, 1, provider(2).address(), good),
            Err(BuildError::AlreadyStores {
                contract: contract.id,
                provider: provider(2).address(),
                index: 2
            })
        );
        // Signed by another key, or for another fragment.
        let wrong_signer = repair_acceptance(&provider(8), &p, &contract, 1, &k.address());
        let wrong_fragment = repair_acceptance(&spare, &p, &contract, 0, &k.address());
        for acceptance in [wrong_signer, wrong_fragment] {
            assert_eq!(
                repair_fragment(&k, &p, &contract, 1, spare.address(), acceptance),
                Err(BuildError::BadAcceptance {
                    index: 1,
                    provider: spare.address(),
                    contract: contract.id
                })
            );
        }
    }

    #[test]
    fn a_tampered_transaction_does_not_verify() {
        let k = key();
        let mut tx = transfer(&k, &params(), k.address(), Amount(5)).unwrap();
        tx.body.nonce += 1;
        assert!(verify(tx).is_err());
    }
}
