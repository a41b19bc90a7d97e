//! The genesis: the chain's parameters, first accounts and first
//! validators, as a JSON file (`genesis.json`) every node of a chain holds.
//!
//! ```json
//! {
//!   "genesis_time_ms": 1763942400000,
//!   "params": { "chain_id": "sherd-dev", "min_fee": "0.000001", "epoch_length": 100, … },
//!   "accounts": [ { "address": "sherd1…", "balance": "1000000" } ],
//!   "validators": [ { "operator": "sherd1…", "bls_pubkey": "<96 hex>", "pop": "<192 hex>",
//!                     "self_stake": "1000", "commission_bps": 500 } ]
//! }
//! ```
//!
//! Amounts are decimal strings of whole tokens (see [`crate::amount`]).
//! Unknown fields are refused, so a typo is an error and not a default.
//! The genesis id, the parent of block 1, is
//! `BLAKE3("sherd/genesis/v1" ‖ canonical encoding)`.

use serde::{Deserialize, Serialize};

use crate::{
    address::Address,
    amount::Amount,
    chain::{ChainParams, ParamsError, BPS},
    codec::{Decode, DecodeError, Encode, EncodeError, Reader, Writer},
    hash::Hash,
    state::{
        records::{self, Record},
        staking::check_bls_key,
        Account, ChainState, EpochSet, FailReason, SetMember, StateError, Supply, Validator,
    },
    store::{ChangeSet, StateStore},
};

/// Namespace of the genesis id.
pub const GENESIS_NAMESPACE: &[u8] = b"sherd/genesis/v1";
/// Most accounts in a genesis.
pub const MAX_GENESIS_ACCOUNTS: usize = 100_000;
/// Most validators in a genesis.
pub const MAX_GENESIS_VALIDATORS: usize = 1_000;

/// A genesis account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    /// The address.
    pub address: Address,
    /// Its balance.
    pub balance: Amount,
}

/// A genesis validator: registered and in the set of epoch 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// Operator account.
    pub operator: Address,
    /// Compressed BLS public key.
    #[serde(with = "hex_array")]
    pub bls_pubkey: [u8; 48],
    /// Proof of possession of the BLS key.
    #[serde(with = "hex_array")]
    pub pop: [u8; 96],
    /// Self-stake, created at genesis (not taken from a balance).
    pub self_stake: Amount,
    /// Commission in bps.
    pub commission_bps: u16,
}

/// Everything a chain starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Timestamp of height 0; block 1 must not be earlier.
    pub genesis_time_ms: u64,
    /// The chain parameters, chain id included.
    pub params: ChainParams,
    /// Funded accounts.
    pub accounts: Vec<GenesisAccount>,
    /// The first validators.
    pub validators: Vec<GenesisValidator>,
}

/// Why a genesis cannot start a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// The JSON does not parse or has a wrong field.
    #[error("genesis JSON is invalid: {0}")]
    Json(String),
    /// A parameter is invalid.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// The store already has a state.
    #[error("the store already holds a state")]
    NotEmpty,
    /// One address listed twice.
    #[error("genesis lists {address} twice")]
    DuplicateAccount {
        /// The address.
        address: Address,
    },
    /// No validator: nobody could make block 1.
    #[error("genesis has no validator")]
    NoValidators,
    /// Too many entries.
    #[error("genesis has {found} {what}, the limit is {max}")]
    TooMany {
        /// Accounts or validators.
        what: &'static str,
        /// The limit.
        max: usize,
        /// How many.
        found: usize,
    },
    /// A validator is invalid.
    #[error("genesis validator {operator}: {reason}")]
    BadValidator {
        /// The validator.
        operator: Address,
        /// What is wrong.
        reason: String,
    },
    /// The amounts add up to more than `u64::MAX` base units.
    #[error("genesis amounts add up to more than {}", Amount::MAX)]
    SupplyOverflow,
    /// The state could not be written.
    #[error(transparent)]
    State(#[from] StateError),
}

impl From<crate::store::StoreError> for GenesisError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::State(e.into())
    }
}

impl Genesis {
    /// Parses a genesis file's JSON and checks it.
    pub fn from_json(text: &str) -> Result<Self, GenesisError> {
        let genesis: Self =
            serde_json::from_str(text).map_err(|e| GenesisError::Json(e.to_string()))?;
        genesis.validate()?;
        Ok(genesis)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The genesis id: parent of block 1.
    pub fn id(&self) -> Result<Hash, EncodeError> {
        let mut w = Writer::new();
        w.fixed(GENESIS_NAMESPACE);
        self.encode(&mut w)?;
        Ok(Hash::digest(&w.into_bytes()))
    }

    /// Checks parameters, accounts and validators (proofs of possession
    /// included).
    pub fn validate(&self) -> Result<(), GenesisError> {
        self.params.validate()?;
        if self.accounts.len() > MAX_GENESIS_ACCOUNTS {
            return Err(GenesisError::TooMany {
                what: "accounts",
                max: MAX_GENESIS_ACCOUNTS,
                found: self.accounts.len(),
            });
        }
        if self.validators.len() > MAX_GENESIS_VALIDATORS {
            return Err(GenesisError::TooMany {
                what: "validators",
                max: MAX_GENESIS_VALIDATORS,
                found: self.validators.len(),
            });
        }
        if self.validators.is_empty() {
            return Err(GenesisError::NoValidators);
        }
        let mut seen = std::collections::BTreeSet::new();
        for a in &self.accounts {
            if !seen.insert(a.address) {
                return Err(GenesisError::DuplicateAccount { address: a.address });
            }
        }
        let mut operators = std::collections::BTreeSet::new();
        let mut keys = std::collections::BTreeSet::new();
        for v in &self.validators {
            let bad = |reason: String| GenesisError::BadValidator {
                operator: v.operator,
                reason,
            };
            if !operators.insert(v.operator) {
                return Err(bad("listed twice".into()));
            }
            if !keys.insert(v.bls_pubkey) {
                return Err(bad("BLS key used by another validator".into()));
            }
            if v.commission_bps > BPS {
                return Err(bad(FailReason::CommissionTooHigh {
                    bps: v.commission_bps,
                }
                .to_string()));
            }
            if v.self_stake < self.params.min_self_stake || v.self_stake.is_zero() {
                return Err(bad(format!(
                    "self-stake {} is below the minimum {}",
                    v.self_stake, self.params.min_self_stake
                )));
            }
            check_bls_key(&v.bls_pubkey, &v.pop).map_err(|e| bad(e.to_string()))?;
        }
        Ok(())
    }

    /// The writes of the genesis state, its state root and its validator set.
    pub fn state<S: StateStore>(&self, store: &S) -> Result<GenesisState, GenesisError> {
        self.validate()?;
        if store.get(records::SUPPLY_KEY)?.is_some() {
            return Err(GenesisError::NotEmpty);
        }
        let mut changes = ChangeSet::new();
        let mut put = |key: Vec<u8>, value: &dyn ErasedRecord| -> Result<(), GenesisError> {
            changes.insert(key, Some(value.bytes().map_err(StateError::from)?));
            Ok(())
        };
        let mut supply = Amount::ZERO;
        for a in &self.accounts {
            put(
                records::account_key(&a.address),
                &Account {
                    balance: a.balance,
                    nonce: 0,
                },
            )?;
            supply = supply
                .checked_add(a.balance)
                .ok_or(GenesisError::SupplyOverflow)?;
        }
        let mut members = Vec::with_capacity(self.validators.len());
        for v in &self.validators {
            put(
                records::validator_key(&v.operator),
                &Validator {
                    operator: v.operator,
                    bls_pubkey: v.bls_pubkey,
                    commission_bps: v.commission_bps,
                    self_stake: v.self_stake,
                    delegated: Amount::ZERO,
                    pending_rewards: Amount::ZERO,
                    jailed_until: 0,
                },
            )?;
            put(records::bls_key_key(&v.bls_pubkey), &v.operator)?;
            supply = supply
                .checked_add(v.self_stake)
                .ok_or(GenesisError::SupplyOverflow)?;
            members.push(SetMember {
                operator: v.operator,
                bls_pubkey: v.bls_pubkey,
                power: v.self_stake.0,
            });
        }
        members.sort_by(|a, b| b.power.cmp(&a.power).then(a.operator.cmp(&b.operator)));
        members.truncate(usize::try_from(self.params.max_validators).unwrap_or(usize::MAX));
        let set = EpochSet { epoch: 0, members };
        put(records::epoch_set_key(0), &set)?;
        put(
            records::SUPPLY_KEY.to_vec(),
            &Supply {
                genesis: supply,
                issued: Amount::ZERO,
                burned: Amount::ZERO,
            },
        )?;
        put(
            records::CHAIN_KEY.to_vec(),
            &ChainState {
                height: 0,
                epoch: 0,
                timestamp_ms: self.genesis_time_ms,
            },
        )?;
        put(records::PARAMS_KEY.to_vec(), &self.params)?;
        let (state_root, tree) =
            crate::commitment::update(store, &changes).map_err(StateError::Commitment)?;
        changes.extend(tree);
        Ok(GenesisState {
            changes,
            state_root,
            set,
        })
    }

    /// Writes the genesis state into an empty store and answers its root.
    pub fn write<S: StateStore>(&self, store: &mut S) -> Result<GenesisState, GenesisError> {
        let state = self.state(store)?;
        store.commit(state.changes.clone())?;
        Ok(state)
    }
}

/// The genesis state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenesisState {
    /// Its writes, commitment nodes included.
    pub changes: ChangeSet,
    /// Its state root.
    pub state_root: Hash,
    /// The validator set of epoch 0.
    pub set: EpochSet,
}

/// A record behind a reference of one type.
trait ErasedRecord {
    fn bytes(&self) -> Result<Vec<u8>, EncodeError>;
}

impl<T: Record> ErasedRecord for T {
    fn bytes(&self) -> Result<Vec<u8>, EncodeError> {
        self.to_bytes()
    }
}

impl Encode for GenesisAccount {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.address.encode(w)?;
        self.balance.encode(w)
    }
}

impl Decode for GenesisAccount {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            address: Address::decode(r)?,
            balance: Amount::decode(r)?,
        })
    }
}

impl Encode for GenesisValidator {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.operator.encode(w)?;
        w.fixed(&self.bls_pubkey);
        w.fixed(&self.pop);
        self.self_stake.encode(w)?;
        w.u16(self.commission_bps);
        Ok(())
    }
}

impl Decode for GenesisValidator {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            operator: Address::decode(r)?,
            bls_pubkey: r.fixed("GenesisValidator.bls_pubkey")?,
            pop: r.fixed("GenesisValidator.pop")?,
            self_stake: Amount::decode(r)?,
            commission_bps: r.u16("GenesisValidator.commission_bps")?,
        })
    }
}

impl Encode for Genesis {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u64(self.genesis_time_ms);
        self.params.encode(w)?;
        w.seq("Genesis.accounts", MAX_GENESIS_ACCOUNTS, &self.accounts)?;
        w.seq(
            "Genesis.validators",
            MAX_GENESIS_VALIDATORS,
            &self.validators,
        )
    }
}

impl Decode for Genesis {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            genesis_time_ms: r.u64("Genesis.genesis_time_ms")?,
            params: ChainParams::decode(r)?,
            accounts: r.seq("Genesis.accounts", MAX_GENESIS_ACCOUNTS, 40)?,
            validators: r.seq("Genesis.validators", MAX_GENESIS_VALIDATORS, 186)?,
        })
    }
}

/// Fixed-size byte arrays as hex strings.
mod hex_array {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; N];
        hex::decode_to_slice(&text, &mut out)
            .map_err(|e| D::Error::custom(format!("expected {N} bytes as hex: {e}")))?;
        Ok(out)
    }
}
