//! The records of the state, their keys and their encodings.
//!
//! Every value is a canonical-codec encoding without a version byte,
//! decoded strictly (exactly its bytes). Keys:
//!
//! | key | value |
//! |---|---|
//! | `0x00 ‖ "supply"` | [`Supply`] |
//! | `0x00 ‖ "chain"` | [`ChainState`] |
//! | `0x00 ‖ "params"` | [`ChainParams`] |
//! | `0x01 ‖ address` | [`Account`] |
//! | `0x02 ‖ operator` | [`Validator`] |
//! | `0x03 ‖ validator ‖ delegator` | delegated amount, `u64` |
//! | `0x04 ‖ owner` | [`Unbondings`] |
//! | `0x05 ‖ principal` | [`Endpoint`] |
//! | `0x06 ‖ provider` | [`ProviderAd`] |
//! | `0x07 ‖ contract id` | [`Contract`] |
//! | `0x08 ‖ BLAKE3(bls public key)` | operator address, `[32]` |
//! | `0x09 ‖ u64_be(epoch)` | [`EpochSet`] |
//! | `0x0a ‖ u64_be(period)` | the period's challenge seed, `[32]` |
//! | `0x0b ‖ evidence id` | empty: the fault was already punished |
//! | `0x0c ‖ u64_be(height) ‖ contract id` | empty: the contract settles after block `height` |
//! | `0x0d ‖ contract id ‖ u32_be(index)` | empty: the fragment is lost and waits for repair |
//! | `0x0e ‖ contract id` | empty: the contract is live (created, not yet settled) |
//! | `0xf0 ‖ …` | state commitment nodes ([`crate::commitment`]) |
//!
//! Heights and epochs in keys are big-endian, so a prefix scan visits them
//! in order.

use crate::{
    address::Address,
    amount::Amount,
    chain::ChainParams,
    codec::{Decode, DecodeError, Encode, EncodeError, Reader, Writer},
    hash::Hash,
    tx::kind::{Multiaddr, Role, MAX_CONTRACT_FRAGMENTS, MAX_MULTIADDRS, MAX_PEER_ID_LEN},
};

/// Key of the supply record.
pub const SUPPLY_KEY: &[u8] = b"\x00supply";
/// Key of the chain position.
pub const CHAIN_KEY: &[u8] = b"\x00chain";
/// Key of the chain parameters.
pub const PARAMS_KEY: &[u8] = b"\x00params";

/// Key prefixes.
pub mod prefix {
    /// Accounts.
    pub const ACCOUNT: u8 = 0x01;
    /// Validators.
    pub const VALIDATOR: u8 = 0x02;
    /// Delegations, by validator then delegator.
    pub const DELEGATION: u8 = 0x03;
    /// Unbondings, by owner.
    pub const UNBONDING: u8 = 0x04;
    /// Endpoints.
    pub const ENDPOINT: u8 = 0x05;
    /// Provider advertisements.
    pub const PROVIDER: u8 = 0x06;
    /// Contracts.
    pub const CONTRACT: u8 = 0x07;
    /// BLS key → operator.
    pub const BLS_KEY: u8 = 0x08;
    /// Validator set per epoch.
    pub const EPOCH_SET: u8 = 0x09;
    /// Challenge seed per proof period.
    pub const PERIOD_SEED: u8 = 0x0a;
    /// Punished faults.
    pub const EVIDENCE: u8 = 0x0b;
    /// Contract settlement schedule.
    pub const SETTLEMENT: u8 = 0x0c;
    /// Lost fragments waiting for repair.
    pub const LOST: u8 = 0x0d;
    /// Live contracts: created and not yet settled.
    pub const LIVE: u8 = 0x0e;
}

fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(65);
    key.push(prefix);
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

/// `0x01 ‖ address`.
pub fn account_key(address: &Address) -> Vec<u8> {
    key(prefix::ACCOUNT, &[address.as_bytes()])
}
/// `0x02 ‖ operator`.
pub fn validator_key(operator: &Address) -> Vec<u8> {
    key(prefix::VALIDATOR, &[operator.as_bytes()])
}
/// `0x03 ‖ validator ‖ delegator`.
pub fn delegation_key(validator: &Address, delegator: &Address) -> Vec<u8> {
    key(
        prefix::DELEGATION,
        &[validator.as_bytes(), delegator.as_bytes()],
    )
}
/// `0x03 ‖ validator`: every delegation to `validator`.
pub fn delegations_of(validator: &Address) -> Vec<u8> {
    key(prefix::DELEGATION, &[validator.as_bytes()])
}
/// `0x04 ‖ owner`.
pub fn unbonding_key(owner: &Address) -> Vec<u8> {
    key(prefix::UNBONDING, &[owner.as_bytes()])
}
/// `0x05 ‖ principal`.
pub fn endpoint_key(principal: &Address) -> Vec<u8> {
    key(prefix::ENDPOINT, &[principal.as_bytes()])
}
/// `0x06 ‖ provider`.
pub fn provider_key(provider: &Address) -> Vec<u8> {
    key(prefix::PROVIDER, &[provider.as_bytes()])
}
/// `0x07 ‖ id`.
pub fn contract_key(id: &Hash) -> Vec<u8> {
    key(prefix::CONTRACT, &[id.as_bytes()])
}
/// `0x08 ‖ BLAKE3(bls_pubkey)`.
pub fn bls_key_key(bls_pubkey: &[u8; 48]) -> Vec<u8> {
    key(prefix::BLS_KEY, &[Hash::digest(bls_pubkey).as_bytes()])
}
/// `0x09 ‖ u64_be(epoch)`.
pub fn epoch_set_key(epoch: u64) -> Vec<u8> {
    key(prefix::EPOCH_SET, &[&epoch.to_be_bytes()])
}
/// `0x0a ‖ u64_be(period)`.
pub fn period_seed_key(period: u64) -> Vec<u8> {
    key(prefix::PERIOD_SEED, &[&period.to_be_bytes()])
}
/// `0x0b ‖ id`.
pub fn evidence_key(id: &Hash) -> Vec<u8> {
    key(prefix::EVIDENCE, &[id.as_bytes()])
}
/// `0x0c ‖ u64_be(height) ‖ contract id`.
pub fn settlement_key(height: u64, contract: &Hash) -> Vec<u8> {
    key(
        prefix::SETTLEMENT,
        &[&height.to_be_bytes(), contract.as_bytes()],
    )
}
/// `0x0c ‖ u64_be(height)`: the contracts settling after block `height`.
pub fn settlements_at(height: u64) -> Vec<u8> {
    key(prefix::SETTLEMENT, &[&height.to_be_bytes()])
}

/// `0x0d ‖ contract_id ‖ u32_be(index)`: fragment `index` of the contract
/// is lost and waits for `RepairFragment`.
pub fn lost_key(contract: &Hash, index: u32) -> Vec<u8> {
    key(prefix::LOST, &[contract.as_bytes(), &index.to_be_bytes()])
}

/// `0x0e ‖ contract_id`: the contract is live, from the block that creates
/// it to the block after which it settles. The end of a proof window
/// visits these contracts, not every contract ever made.
pub fn live_key(contract: &Hash) -> Vec<u8> {
    key(prefix::LIVE, &[contract.as_bytes()])
}

/// A state value: a canonical encoding read back strictly.
pub trait Record: Encode + Decode {
    /// The stored bytes.
    fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = Writer::new();
        self.encode(&mut w)?;
        Ok(w.into_bytes())
    }

    /// Reads stored bytes; exactly one value.
    fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let value = Self::decode(&mut r)?;
        r.finish()?;
        Ok(value)
    }
}

macro_rules! record {
    ($($ty:ty),* $(,)?) => { $(impl Record for $ty {})* };
}

record!(
    Supply,
    ChainState,
    ChainParams,
    Account,
    Validator,
    Amount,
    Unbondings,
    Endpoint,
    ProviderAd,
    Contract,
    Address,
    EpochSet,
    Hash,
    Empty,
);

/// Where the currency came from and went: total supply is
/// `genesis + issued − burned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Supply {
    /// Created at genesis.
    pub genesis: Amount,
    /// Created since: block and proof rewards.
    pub issued: Amount,
    /// Destroyed since: slashing.
    pub burned: Amount,
}

impl Supply {
    /// `genesis + issued − burned`, if it is representable.
    pub fn total(&self) -> Option<Amount> {
        self.genesis
            .checked_add(self.issued)?
            .checked_sub(self.burned)
    }
}

impl Encode for Supply {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u64(self.genesis.0);
        w.u64(self.issued.0);
        w.u64(self.burned.0);
        Ok(())
    }
}

impl Decode for Supply {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            genesis: Amount(r.u64("Supply.genesis")?),
            issued: Amount(r.u64("Supply.issued")?),
            burned: Amount(r.u64("Supply.burned")?),
        })
    }
}

/// Where the chain is: the last executed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChainState {
    /// Height of the last executed block (0: genesis).
    pub height: u64,
    /// The epoch the next block is in.
    pub epoch: u64,
    /// Timestamp of the last block (genesis time at height 0).
    pub timestamp_ms: u64,
}

impl Encode for ChainState {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u64(self.height);
        w.u64(self.epoch);
        w.u64(self.timestamp_ms);
        Ok(())
    }
}

impl Decode for ChainState {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            height: r.u64("ChainState.height")?,
            epoch: r.u64("ChainState.epoch")?,
            timestamp_ms: r.u64("ChainState.timestamp_ms")?,
        })
    }
}

/// An account's balance and transaction count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Account {
    /// Spendable currency.
    pub balance: Amount,
    /// Transactions included so far: the nonce its next transaction must carry.
    pub nonce: u64,
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

/// A registered validator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validator {
    /// The operator's account (the `Stake` sender).
    pub operator: Address,
    /// Compressed BLS public key, possession proven at registration.
    pub bls_pubkey: [u8; 48],
    /// Share of delegators' rewards kept by the operator, in bps.
    pub commission_bps: u16,
    /// The operator's own bonded stake.
    pub self_stake: Amount,
    /// Sum of the delegations to it.
    pub delegated: Amount,
    /// Fees and block rewards earned this epoch, paid out at its end.
    pub pending_rewards: Amount,
    /// Out of every set before this epoch (0: never jailed).
    pub jailed_until: u64,
}

impl Validator {
    /// Self-stake plus delegations.
    pub fn bonded(&self) -> Option<Amount> {
        self.self_stake.checked_add(self.delegated)
    }
}

impl Encode for Validator {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.operator.encode(w)?;
        w.fixed(&self.bls_pubkey);
        w.u16(self.commission_bps);
        w.u64(self.self_stake.0);
        w.u64(self.delegated.0);
        w.u64(self.pending_rewards.0);
        w.u64(self.jailed_until);
        Ok(())
    }
}

impl Decode for Validator {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            operator: r.fixed("Validator.operator").map(Address)?,
            bls_pubkey: r.fixed("Validator.bls_pubkey")?,
            commission_bps: r.u16("Validator.commission_bps")?,
            self_stake: Amount(r.u64("Validator.self_stake")?),
            delegated: Amount(r.u64("Validator.delegated")?),
            pending_rewards: Amount(r.u64("Validator.pending_rewards")?),
            jailed_until: r.u64("Validator.jailed_until")?,
        })
    }
}

/// Most unbondings one account may have waiting.
pub const MAX_UNBONDINGS: usize = 32;

/// Stake on its way back to its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unbonding {
    /// The validator it was bonded to.
    pub validator: Address,
    /// How much.
    pub amount: Amount,
    /// The first epoch in which `Withdraw` pays it out.
    pub release_epoch: u64,
}

impl Encode for Unbonding {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.validator.encode(w)?;
        w.u64(self.amount.0);
        w.u64(self.release_epoch);
        Ok(())
    }
}

impl Decode for Unbonding {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            validator: r.fixed("Unbonding.validator").map(Address)?,
            amount: Amount(r.u64("Unbonding.amount")?),
            release_epoch: r.u64("Unbonding.release_epoch")?,
        })
    }
}

/// An account's unbondings, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unbondings(pub Vec<Unbonding>);

impl Encode for Unbondings {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.seq("Unbondings", MAX_UNBONDINGS, &self.0)
    }
}

impl Decode for Unbondings {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.seq("Unbondings", MAX_UNBONDINGS, 48).map(Self)
    }
}

/// Where a principal can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// What it serves.
    pub role: Role,
    /// libp2p peer id, binary.
    pub peer_id: Vec<u8>,
    /// Binary multiaddrs.
    pub multiaddrs: Vec<Multiaddr>,
    /// Height of the block that registered it.
    pub updated_at: u64,
}

impl Encode for Endpoint {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u8(self.role.tag());
        w.bytes("Endpoint.peer_id", MAX_PEER_ID_LEN, &self.peer_id)?;
        w.seq("Endpoint.multiaddrs", MAX_MULTIADDRS, &self.multiaddrs)?;
        w.u64(self.updated_at);
        Ok(())
    }
}

impl Decode for Endpoint {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            role: Role::from_tag(r.u8("Endpoint.role")?).ok_or(DecodeError::Invalid {
                field: "Endpoint.role",
                reason: "unknown role".into(),
            })?,
            peer_id: r.bytes("Endpoint.peer_id", MAX_PEER_ID_LEN)?.to_vec(),
            multiaddrs: r.seq("Endpoint.multiaddrs", MAX_MULTIADDRS, 4)?,
            updated_at: r.u64("Endpoint.updated_at")?,
        })
    }
}

/// A provider's offer on the storage market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderAd {
    /// Bytes offered in all.
    pub capacity_bytes: u64,
    /// Bytes under contract now.
    pub used_bytes: u64,
    /// Least price per GiB-epoch it accepts.
    pub price_per_gib_epoch: Amount,
    /// Collateral it locks per GiB stored.
    pub collateral_per_gib: Amount,
    /// Shortest contract, in epochs.
    pub min_duration_epochs: u64,
    /// Longest contract, in epochs.
    pub max_duration_epochs: u64,
    /// Height of the last advertisement.
    pub updated_at: u64,
}

impl Encode for ProviderAd {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u64(self.capacity_bytes);
        w.u64(self.used_bytes);
        w.u64(self.price_per_gib_epoch.0);
        w.u64(self.collateral_per_gib.0);
        w.u64(self.min_duration_epochs);
        w.u64(self.max_duration_epochs);
        w.u64(self.updated_at);
        Ok(())
    }
}

impl Decode for ProviderAd {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            capacity_bytes: r.u64("ProviderAd.capacity_bytes")?,
            used_bytes: r.u64("ProviderAd.used_bytes")?,
            price_per_gib_epoch: Amount(r.u64("ProviderAd.price_per_gib_epoch")?),
            collateral_per_gib: Amount(r.u64("ProviderAd.collateral_per_gib")?),
            min_duration_epochs: r.u64("ProviderAd.min_duration_epochs")?,
            max_duration_epochs: r.u64("ProviderAd.max_duration_epochs")?,
            updated_at: r.u64("ProviderAd.updated_at")?,
        })
    }
}

/// The state of one fragment of a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentStatus {
    /// Stored and challenged every period.
    Active,
    /// Missed too many proofs; waits for `RepairFragment`.
    Lost,
    /// The contract is over.
    Ended,
}

impl FragmentStatus {
    fn tag(self) -> u8 {
        match self {
            Self::Active => 1,
            Self::Lost => 2,
            Self::Ended => 3,
        }
    }

    /// Lowercase name, for the API.
    pub fn name(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Lost => "lost",
            Self::Ended => "ended",
        }
    }
}

/// One fragment under contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractFragment {
    /// The fragment's Merkle root.
    pub root: Hash,
    /// Who stores it.
    pub provider: Address,
    /// Whether it is stored.
    pub status: FragmentStatus,
    /// Escrow not yet paid out for this fragment.
    pub escrow_left: Amount,
    /// The provider's collateral still locked for it.
    pub collateral_left: Amount,
    /// Slashed collateral kept for whoever repairs the fragment once it is
    /// lost (zero while it is active).
    pub repair_reward: Amount,
    /// Proofs missed by the current provider.
    pub misses: u32,
    /// Proofs accepted from the current provider.
    pub accepted: u32,
    /// `period + 1` of the last proof accepted (0: none yet).
    pub proven: u64,
    /// Height at which the current provider took it: it is challenged only
    /// in periods that start after this height.
    pub since: u64,
}

impl Encode for ContractFragment {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.root.encode(w)?;
        self.provider.encode(w)?;
        w.u8(self.status.tag());
        w.u64(self.escrow_left.0);
        w.u64(self.collateral_left.0);
        w.u64(self.repair_reward.0);
        w.u32(self.misses);
        w.u32(self.accepted);
        w.u64(self.proven);
        w.u64(self.since);
        Ok(())
    }
}

impl Decode for ContractFragment {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            root: r.fixed("ContractFragment.root").map(Hash)?,
            provider: r.fixed("ContractFragment.provider").map(Address)?,
            status: match r.u8("ContractFragment.status")? {
                1 => FragmentStatus::Active,
                2 => FragmentStatus::Lost,
                3 => FragmentStatus::Ended,
                tag => {
                    return Err(DecodeError::UnknownTag {
                        field: "ContractFragment.status",
                        tag,
                    })
                }
            },
            escrow_left: Amount(r.u64("ContractFragment.escrow_left")?),
            collateral_left: Amount(r.u64("ContractFragment.collateral_left")?),
            repair_reward: Amount(r.u64("ContractFragment.repair_reward")?),
            misses: r.u32("ContractFragment.misses")?,
            accepted: r.u32("ContractFragment.accepted")?,
            proven: r.u64("ContractFragment.proven")?,
            since: r.u64("ContractFragment.since")?,
        })
    }
}

/// A storage contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    /// Its id: `BLAKE3("sherd/contract/v1" ‖ client ‖ u64_le(nonce))`.
    pub id: Hash,
    /// Who pays.
    pub client: Address,
    /// The object root.
    pub object_root: Hash,
    /// Data fragments.
    pub k: u16,
    /// Parity fragments.
    pub m: u16,
    /// Bytes per fragment.
    pub fragment_size: u64,
    /// Price per GiB-epoch.
    pub price_per_gib_epoch: Amount,
    /// Height of the block that created it.
    pub start_height: u64,
    /// First challenged proof period.
    pub first_period: u64,
    /// Last challenged proof period; the contract settles after its window.
    pub last_period: u64,
    /// The fragments, in index order.
    pub fragments: Vec<ContractFragment>,
}

impl Encode for Contract {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.id.encode(w)?;
        self.client.encode(w)?;
        self.object_root.encode(w)?;
        w.u16(self.k);
        w.u16(self.m);
        w.u64(self.fragment_size);
        w.u64(self.price_per_gib_epoch.0);
        w.u64(self.start_height);
        w.u64(self.first_period);
        w.u64(self.last_period);
        w.seq(
            "Contract.fragments",
            MAX_CONTRACT_FRAGMENTS,
            &self.fragments,
        )
    }
}

impl Decode for Contract {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            id: r.fixed("Contract.id").map(Hash)?,
            client: r.fixed("Contract.client").map(Address)?,
            object_root: r.fixed("Contract.object_root").map(Hash)?,
            k: r.u16("Contract.k")?,
            m: r.u16("Contract.m")?,
            fragment_size: r.u64("Contract.fragment_size")?,
            price_per_gib_epoch: Amount(r.u64("Contract.price_per_gib_epoch")?),
            start_height: r.u64("Contract.start_height")?,
            first_period: r.u64("Contract.first_period")?,
            last_period: r.u64("Contract.last_period")?,
            fragments: r.seq("Contract.fragments", MAX_CONTRACT_FRAGMENTS, 101)?,
        })
    }
}

/// Most validators in a stored set.
pub const MAX_SET_VALIDATORS: usize = 10_000;

/// One member of an epoch's validator set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetMember {
    /// Operator address.
    pub operator: Address,
    /// BLS public key.
    pub bls_pubkey: [u8; 48],
    /// Voting power: bonded stake in base units when the set was chosen.
    pub power: u64,
}

impl Encode for SetMember {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.operator.encode(w)?;
        w.fixed(&self.bls_pubkey);
        w.u64(self.power);
        Ok(())
    }
}

impl Decode for SetMember {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            operator: r.fixed("SetMember.operator").map(Address)?,
            bls_pubkey: r.fixed("SetMember.bls_pubkey")?,
            power: r.u64("SetMember.power")?,
        })
    }
}

/// The validator set of one epoch, in signer-index order (power
/// descending, then operator ascending).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EpochSet {
    /// The epoch.
    pub epoch: u64,
    /// The members.
    pub members: Vec<SetMember>,
}

impl Encode for EpochSet {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u64(self.epoch);
        w.seq("EpochSet.members", MAX_SET_VALIDATORS, &self.members)
    }
}

impl Decode for EpochSet {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            epoch: r.u64("EpochSet.epoch")?,
            members: r.seq("EpochSet.members", MAX_SET_VALIDATORS, 88)?,
        })
    }
}

/// An empty value: the key's presence is the information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Empty;

impl Encode for Empty {
    fn encode(&self, _: &mut Writer) -> Result<(), EncodeError> {
        Ok(())
    }
}

impl Decode for Empty {
    fn decode(_: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self)
    }
}
