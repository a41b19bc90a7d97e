//! The node API's answers, as in `node/README.md`.
//!
//! Amounts come twice: a decimal string and integer base units (`*_base`);
//! the base units are what these types read (as a JSON number or a decimal
//! string). Unknown fields are ignored, so a node may add fields.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sherd_ledger::{
    state::{Contract, ContractFragment, FragmentStatus},
    tx::kind::Role,
    Address, Amount, Hash,
};

/// Reads base units given as a JSON number or a string of digits.
fn base_units<'de, D: Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Units {
        Number(u64),
        Text(String),
    }
    match Units::deserialize(d)? {
        Units::Number(n) => Ok(Amount(n)),
        Units::Text(s) => s
            .parse::<u64>()
            .map(Amount)
            .map_err(|_| serde::de::Error::custom(format!("`{s}` is not a number of base units"))),
    }
}

fn amount_out<S: Serializer>(a: &Amount, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(a.base_units())
}

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The chain id every transaction must name.
    pub chain_id: String,
    /// Latest block height.
    pub height: u64,
    /// Latest finalized height.
    pub finalized_height: u64,
    /// Id of the latest block (hex).
    pub latest_block_id: String,
    /// State root after the latest block (hex).
    pub state_root: String,
    /// Current epoch.
    pub epoch: u64,
    /// Current consensus view.
    pub view: u64,
    /// Transactions waiting.
    pub mempool_size: u64,
    /// Whether this is a dev chain.
    pub dev: bool,
    /// Whether `POST /v1/faucet` is served.
    pub faucet: bool,
    /// The node's version.
    pub version: String,
    /// The chain's parameters (absent from nodes before they were served).
    #[serde(default)]
    pub params: Option<sherd_ledger::ChainParams>,
}

/// One unbonding of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unbonding {
    /// The amount, in base units.
    #[serde(
        rename = "amount_base",
        deserialize_with = "base_units",
        serialize_with = "amount_out"
    )]
    pub amount: Amount,
    /// The epoch from which it can be withdrawn.
    pub release_epoch: u64,
}

/// `GET /v1/accounts/{addr}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// The address (bech32m).
    pub address: String,
    /// Spendable balance.
    #[serde(
        rename = "balance_base",
        deserialize_with = "base_units",
        serialize_with = "amount_out"
    )]
    pub balance: Amount,
    /// The next nonce to use.
    pub nonce: u64,
    /// Bonded stake (self-stake and delegations).
    #[serde(
        rename = "staked_base",
        deserialize_with = "base_units",
        serialize_with = "amount_out"
    )]
    pub staked: Amount,
    /// Unbondings in progress.
    #[serde(default)]
    pub unbonding: Vec<Unbonding>,
}

/// Whether a transaction is in a finalized block yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxStatus {
    /// In the mempool or an unfinalized block.
    Pending,
    /// In a finalized block.
    Finalized,
}

/// What an included transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxOutcome {
    /// Its effects were applied.
    Success,
    /// It failed (see `reason`); its fee was paid.
    Failed,
}

/// `GET /v1/txs/{hash}`, and the items of `/v1/accounts/{addr}/txs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxInfo {
    /// The transaction id (hex).
    pub hash: String,
    /// Pending or finalized.
    pub status: TxStatus,
    /// The block height, once included.
    #[serde(default)]
    pub height: Option<u64>,
    /// The index in the block, once included.
    #[serde(default)]
    pub index: Option<u64>,
    /// The sender (bech32m).
    pub sender: String,
    /// The sender's nonce.
    pub nonce: u64,
    /// The fee.
    #[serde(
        rename = "fee_base",
        deserialize_with = "base_units",
        serialize_with = "amount_out"
    )]
    pub fee: Amount,
    /// The kind, as the node describes it.
    #[serde(default)]
    pub kind: serde_json::Value,
    /// What it did, once finalized.
    #[serde(default)]
    pub outcome: Option<TxOutcome>,
    /// Why it failed.
    #[serde(default)]
    pub reason: Option<String>,
    /// A `SubmitProofs`'s verdict on each of its proofs, once finalized.
    #[serde(default)]
    pub proofs: Vec<ProofVerdictInfo>,
}

impl TxInfo {
    /// The kind's name: the `kind` string, or the `type`/`name` field or
    /// single key of a `kind` object.
    pub fn kind_name(&self) -> String {
        match &self.kind {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Object(map) => ["type", "name", "kind"]
                .iter()
                .find_map(|k| map.get(*k).and_then(|v| v.as_str()).map(str::to_owned))
                .or_else(|| {
                    (map.len() == 1)
                        .then(|| map.keys().next().cloned())
                        .flatten()
                })
                .unwrap_or_else(|| "?".into()),
            _ => "?".into(),
        }
    }
}

/// `{ "txs": [...] }` of `/v1/accounts/{addr}/txs`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TxList {
    pub txs: Vec<TxInfo>,
}

/// `POST /v1/txs` → `{ "hash" }`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Submitted {
    pub hash: String,
}

/// `POST /v1/txs/batch`.
#[derive(Debug, Deserialize)]
pub(crate) struct BatchSubmitted {
    pub results: Vec<BatchResult>,
}

/// One transaction's result in a batch: its hash, or an error and code.
#[derive(Debug, Deserialize)]
pub(crate) struct BatchResult {
    #[serde(default)]
    pub hash: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
}

/// `POST /v1/faucet`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaucetReceipt {
    /// The faucet transaction's id.
    pub hash: String,
    /// What was sent.
    #[serde(
        rename = "amount_base",
        deserialize_with = "base_units",
        serialize_with = "amount_out"
    )]
    pub amount: Amount,
}

/// One validator of `/v1/validators`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidatorInfo {
    /// The operator's address.
    pub operator: String,
    /// BLS public key (hex).
    pub bls_pubkey: String,
    /// Commission in basis points.
    pub commission_bps: u16,
    /// The operator's own stake.
    #[serde(
        rename = "self_stake_base",
        deserialize_with = "base_units",
        serialize_with = "amount_out"
    )]
    pub self_stake: Amount,
    /// Stake delegated to it.
    #[serde(
        rename = "delegated_base",
        deserialize_with = "base_units",
        serialize_with = "amount_out"
    )]
    pub delegated: Amount,
    /// Its voting power.
    #[serde(default)]
    pub voting_power: serde_json::Value,
    /// `active`, `inactive`, `jailed`, … as the node says.
    #[serde(default)]
    pub status: serde_json::Value,
    /// Until when it is jailed, if it is.
    #[serde(default)]
    pub jailed_until: serde_json::Value,
}

/// `GET /v1/validators`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validators {
    /// The epoch of the set.
    pub epoch: u64,
    /// The validators.
    pub validators: Vec<ValidatorInfo>,
}

/// `GET /v1/blocks/{height|latest}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockInfo {
    /// Height.
    pub height: u64,
    /// Block id (hex).
    pub id: String,
    /// Consensus view.
    pub view: u64,
    /// Epoch.
    pub epoch: u64,
    /// Parent id (hex).
    pub parent: String,
    /// Proposer's address.
    pub proposer: String,
    /// Proposal time, Unix milliseconds.
    pub timestamp_ms: u64,
    /// Root of the transactions (hex).
    pub tx_root: String,
    /// State root after the block (hex).
    pub state_root: String,
    /// Transaction ids (hex).
    pub txs: Vec<String>,
}

/// One provider's advertisement, in `GET /v1/providers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderInfo {
    /// The provider's address.
    pub provider: Address,
    /// Bytes offered in all.
    pub capacity_bytes: u64,
    /// Bytes under contract now.
    pub used_bytes: u64,
    /// The least price per GiB-epoch it accepts.
    #[serde(
        rename = "price_per_gib_epoch_base",
        deserialize_with = "base_units",
        serialize_with = "amount_out"
    )]
    pub price_per_gib_epoch: Amount,
    /// Collateral it locks per GiB stored.
    #[serde(
        rename = "collateral_per_gib_base",
        deserialize_with = "base_units",
        serialize_with = "amount_out"
    )]
    pub collateral_per_gib: Amount,
    /// The shortest contract it takes, in epochs.
    pub min_duration_epochs: u64,
    /// The longest, in epochs.
    pub max_duration_epochs: u64,
    /// Height of its last advertisement.
    #[serde(default)]
    pub updated_at: u64,
    /// Proofs it missed on fragments it still holds under running contracts.
    #[serde(default)]
    pub recent_misses: u64,
    /// Where it is reached, if it registered an endpoint.
    #[serde(default)]
    pub endpoint: Option<EndpointInfo>,
}

impl ProviderInfo {
    /// Bytes it can still take.
    pub fn free_bytes(&self) -> u64 {
        self.capacity_bytes.saturating_sub(self.used_bytes)
    }
}

/// The ledger's verdict on one proof of a `SubmitProofs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofVerdictInfo {
    /// Its place in the batch.
    pub index: u32,
    /// The contract it proves.
    pub contract: Hash,
    /// The fragment.
    pub fragment: u32,
    /// The period.
    pub period: u64,
    /// `accepted` or `refused`.
    pub outcome: String,
    /// Escrow paid for it, base units (accepted only).
    #[serde(default)]
    pub escrow_paid_base: Option<u64>,
    /// New currency issued for it, base units (accepted only).
    #[serde(default)]
    pub reward_base: Option<u64>,
    /// Why it was refused.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A lost fragment waiting for repair, in `GET /v1/repairs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepairInfo {
    /// The contract.
    pub contract: Hash,
    /// The lost fragment.
    pub index: u32,
    /// Its root.
    pub root: Hash,
    /// Data fragments of the contract.
    pub k: u16,
    /// Parity fragments.
    pub m: u16,
    /// Fragments still active.
    pub active: i64,
    /// `(active − k) / m`: below 0 the object cannot be read until repaired.
    pub health: f64,
    /// Bytes of the fragment.
    pub fragment_size: u64,
    /// The contract's last challenged period.
    pub last_period: u64,
    /// What a repair pays the repairer.
    #[serde(
        rename = "repair_reward_base",
        deserialize_with = "base_units",
        serialize_with = "amount_out"
    )]
    pub repair_reward: Amount,
}

/// `{ "repairs": [...] }` of `/v1/repairs`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RepairList {
    pub repairs: Vec<RepairInfo>,
}

/// `{ "providers": [...] }` of `/v1/providers`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ProviderList {
    pub providers: Vec<ProviderInfo>,
}

fn status_in<'de, D: Deserializer<'de>>(d: D) -> Result<FragmentStatus, D::Error> {
    let name = String::deserialize(d)?;
    [
        FragmentStatus::Active,
        FragmentStatus::Lost,
        FragmentStatus::Ended,
    ]
    .into_iter()
    .find(|s| s.name() == name)
    .ok_or_else(|| {
        serde::de::Error::custom(format!(
            "`{name}` is not a fragment status (active, lost, ended)"
        ))
    })
}

fn status_out<S: Serializer>(status: &FragmentStatus, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(status.name())
}

fn role_in<'de, D: Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
    let name = String::deserialize(d)?;
    [Role::Validator, Role::Provider]
        .into_iter()
        .find(|r| r.name() == name)
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{name}` is not an endpoint role (validator, provider)"
            ))
        })
}

fn role_out<S: Serializer>(role: &Role, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(role.name())
}

/// One fragment of a contract, in `GET /v1/contracts/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FragmentInfo {
    /// Its index in the contract.
    pub index: u32,
    /// Its Merkle root.
    pub root: Hash,
    /// Who stores it.
    pub provider: Address,
    /// `active`, `lost` (waits for a repair) or `ended`.
    #[serde(deserialize_with = "status_in", serialize_with = "status_out")]
    pub status: FragmentStatus,
    /// Escrow not yet paid out for it.
    #[serde(
        rename = "escrow_left_base",
        deserialize_with = "base_units",
        serialize_with = "amount_out"
    )]
    pub escrow_left: Amount,
    /// The provider's collateral still locked for it.
    #[serde(
        rename = "collateral_left_base",
        deserialize_with = "base_units",
        serialize_with = "amount_out"
    )]
    pub collateral_left: Amount,
    /// The reward kept for whoever repairs it, while it is lost.
    #[serde(
        default,
        rename = "repair_reward_base",
        deserialize_with = "base_units",
        serialize_with = "amount_out"
    )]
    pub repair_reward: Amount,
    /// Proofs its current provider missed.
    pub misses: u32,
    /// Proofs accepted from its current provider.
    #[serde(default)]
    pub accepted: u32,
    /// `period + 1` of the last accepted proof (0: none yet).
    pub proven: u64,
    /// Height at which its current provider took it.
    pub since: u64,
}

/// `GET /v1/contracts/{id}`: a contract as the chain stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractInfo {
    /// Its id.
    pub id: Hash,
    /// The client who pays.
    pub client: Address,
    /// The object root.
    pub object_root: Hash,
    /// Data fragments.
    pub k: u16,
    /// Parity fragments.
    pub m: u16,
    /// Bytes per fragment.
    pub fragment_size: u64,
    /// The price per GiB-epoch.
    #[serde(
        rename = "price_per_gib_epoch_base",
        deserialize_with = "base_units",
        serialize_with = "amount_out"
    )]
    pub price_per_gib_epoch: Amount,
    /// Height of the block that created it.
    pub start_height: u64,
    /// Its first challenged proof period.
    pub first_period: u64,
    /// Its last; it settles after that period's window.
    pub last_period: u64,
    /// The fragments, in index order.
    pub fragments: Vec<FragmentInfo>,
}

impl ContractInfo {
    /// The ledger's record of the contract (what
    /// [`crate::build::repair_fragment`] checks a repair against).
    pub fn to_contract(&self) -> Contract {
        Contract {
            id: self.id,
            client: self.client,
            object_root: self.object_root,
            k: self.k,
            m: self.m,
            fragment_size: self.fragment_size,
            price_per_gib_epoch: self.price_per_gib_epoch,
            start_height: self.start_height,
            first_period: self.first_period,
            last_period: self.last_period,
            fragments: self
                .fragments
                .iter()
                .map(|f| ContractFragment {
                    root: f.root,
                    provider: f.provider,
                    status: f.status,
                    escrow_left: f.escrow_left,
                    collateral_left: f.collateral_left,
                    repair_reward: f.repair_reward,
                    misses: f.misses,
                    accepted: f.accepted,
                    proven: f.proven,
                    since: f.since,
                })
                .collect(),
        }
    }
}

/// `GET /v1/endpoints/{addr}`: where a principal is reachable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointInfo {
    /// Whose endpoint.
    pub principal: Address,
    /// `validator` or `provider`.
    #[serde(deserialize_with = "role_in", serialize_with = "role_out")]
    pub role: Role,
    /// The libp2p peer id, as text (`12D3Koo…`; hex if the registrant
    /// stored bytes that are not a peer id).
    pub peer_id: String,
    /// Its multiaddrs, as text (`/ip4/…/tcp/…`; hex for bytes that are
    /// not a multiaddr).
    pub multiaddrs: Vec<String>,
    /// The peer id as stored on chain, hex.
    #[serde(default)]
    pub peer_id_hex: String,
    /// The multiaddrs as stored on chain, hex: what a client dials.
    #[serde(default)]
    pub multiaddrs_hex: Vec<String>,
    /// Height of the block that registered it.
    pub updated_at: u64,
}

/// The error body of every failing route.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ApiErrorBody {
    pub error: String,
    pub code: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_shapes() {
        let account: AccountInfo = serde_json::from_str(
            r#"{"address":"sherd1x","balance":"12.5","balance_base":12500000000,"nonce":3,
                "staked":"0","staked_base":"0","unbonding":[{"amount":"1","amount_base":1000000000,"release_epoch":9}],"extra":1}"#,
        )
        .unwrap();
        assert_eq!(account.balance, Amount(12_500_000_000));
        assert_eq!(account.unbonding[0].release_epoch, 9);
        let pending: TxInfo = serde_json::from_str(
            r#"{"hash":"ab","status":"pending","height":null,"index":null,"sender":"s","nonce":0,
                "fee":"0.00001","fee_base":10000,"kind":"Transfer","outcome":null,"reason":null}"#,
        )
        .unwrap();
        assert_eq!(pending.status, TxStatus::Pending);
        assert_eq!(pending.kind_name(), "Transfer");
        let done: TxInfo = serde_json::from_str(
            r#"{"hash":"ab","status":"finalized","height":4,"index":0,"sender":"s","nonce":0,
                "fee":"0.00001","fee_base":10000,"kind":{"type":"Stake"},"outcome":"failed","reason":"no"}"#,
        )
        .unwrap();
        assert_eq!(done.outcome, Some(TxOutcome::Failed));
        assert_eq!(done.kind_name(), "Stake");
    }
}
