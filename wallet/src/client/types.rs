//! The node API's answers, as in `node/README.md`.
//!
//! Amounts come twice: a decimal string and integer base units (`*_base`);
//! the base units are what these types read (as a JSON number or a decimal
//! string). Unknown fields are ignored, so a node may add fields.

use serde::{Deserialize, Deserializer, Serialize};
use sherd_ledger::Amount;

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

fn amount_out<S: serde::Serializer>(a: &Amount, s: S) -> Result<S::Ok, S::Error> {
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
