//! The node API's requests and answers, as in `node/README.md`: the node
//! serves these types and the client reads them, so the two cannot drift.
//! Each derives [`utoipa::ToSchema`]; the node's OpenAPI document
//! (`GET /v1/openapi.json`) is generated from them.
//!
//! Amounts come twice: the decimal string of whole tokens (`"12.5"`, exact,
//! read as an [`Amount`]) and the integer base units (`*_base`). Unknown
//! fields are ignored, so a node may add fields.

use serde::{Deserialize, Serialize, Serializer};
use sherd_ledger::{
    state::{Contract, ContractFragment, FragmentStatus},
    tx::kind::Role,
    Address, Amount, Hash,
};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

/// A string schema that takes one of `values`.
fn one_of_names(values: &[&str], description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
        .into()
}

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// The chain id every transaction must name.
    pub chain_id: String,
    /// Highest block executed.
    pub height: u64,
    /// Highest finalized block.
    pub finalized_height: u64,
    /// Id of the final head (hex).
    pub latest_block_id: String,
    /// State root of the final head (hex).
    pub state_root: String,
    /// Current epoch.
    pub epoch: u64,
    /// Current consensus view.
    pub view: u64,
    /// Transactions waiting in the mempool.
    pub mempool_size: u64,
    /// Whether this is a dev chain.
    pub dev: bool,
    /// The node is catching up with its peers (it started and has not
    /// asked them yet, or it is fetching blocks one of them has): its
    /// accounts and nonces may be behind the chain's, so a client builds
    /// no transaction from them (`NodeClient::current_status` waits).
    #[serde(default)]
    pub syncing: bool,
    /// Whether `POST /v1/faucet` is served.
    pub faucet: bool,
    /// The node's version.
    pub version: String,
    /// The chain's parameters, as in the genesis (nodes before 0.1 did
    /// not send them; this node always does).
    #[serde(default)]
    #[schema(value_type = Option<ChainParamsSchema>)]
    pub params: Option<sherd_ledger::ChainParams>,
}

/// The chain's parameters (`sherd_ledger::ChainParams`), fixed at genesis.
/// Described here for the OpenAPI document only: the ledger's type is what
/// is sent and read (a test checks that the two have the same fields).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainParamsSchema {
    /// The chain every transaction must name.
    pub chain_id: String,
    /// The smallest fee a transaction may offer (whole tokens).
    #[schema(value_type = String, example = "0.000001")]
    pub min_fee: Amount,
    /// Blocks per epoch; a multiple of `proof_period`.
    pub epoch_length: u64,
    /// Most validators in an epoch's set.
    pub max_validators: u32,
    /// Least self-stake a validator needs to be in a set (whole tokens).
    #[schema(value_type = String)]
    pub min_self_stake: Amount,
    /// Epochs an unbonding waits before it can be withdrawn.
    pub unbonding_epochs: u64,
    /// New currency paid to the proposer of every block (whole tokens).
    #[schema(value_type = String)]
    pub block_reward: Amount,
    /// Blocks per storage-proof period.
    pub proof_period: u64,
    /// Blocks, from the start of a period, in which its proofs are accepted.
    pub proof_window: u64,
    /// New currency paid to a provider per accepted proof (whole tokens).
    #[schema(value_type = String)]
    pub proof_reward: Amount,
    /// Share of a fragment's collateral slashed per missed proof, in bps.
    pub missed_proof_slash_bps: u16,
    /// Share of slashed storage collateral paid to the client, in bps.
    pub slash_to_client_bps: u16,
    /// Missed proofs after which a fragment is lost and repairable.
    pub max_missed_proofs: u32,
    /// Share of a lost fragment's burned collateral kept as its repair
    /// reward, in bps.
    pub repair_reward_bps: u16,
    /// Share of a validator's bonded stake slashed for equivocation, in bps.
    pub equivocation_slash_bps: u16,
    /// Epochs an equivocating validator is kept out of the set.
    pub jail_epochs: u64,
}

/// One unbonding of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Unbonding {
    /// The amount, whole tokens.
    #[schema(value_type = String, example = "12.5")]
    pub amount: Amount,
    /// The amount, base units.
    pub amount_base: u64,
    /// The epoch from which it can be withdrawn.
    pub release_epoch: u64,
}

/// `GET /v1/accounts/{addr}`; an unknown address answers zeros.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountInfo {
    /// The address (bech32m).
    pub address: String,
    /// Spendable balance, whole tokens.
    #[schema(value_type = String, example = "12.5")]
    pub balance: Amount,
    /// Spendable balance, base units.
    pub balance_base: u64,
    /// The nonce the account's next transaction must carry (the count of
    /// its transactions in finalized blocks; 0 for a new account).
    pub nonce: u64,
    /// Bonded stake (self-stake and delegations), whole tokens.
    #[schema(value_type = String)]
    pub staked: Amount,
    /// Bonded stake, base units.
    pub staked_base: u64,
    /// Unbondings in progress.
    pub unbonding: Vec<Unbonding>,
}

/// Whether a transaction is in a finalized block yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TxStatus {
    /// In the mempool or an unfinalized block.
    Pending,
    /// In a finalized block.
    Finalized,
}

/// What an included transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TxOutcome {
    /// Its effects were applied.
    Success,
    /// It failed (see `reason`); its fee was paid.
    Failed,
}

/// A transaction kind's name as the API spells it: snake_case
/// (`transfer`, `register_endpoint`, `submit_proofs`, …).
pub fn kind_name(kind: &sherd_ledger::TxKind) -> String {
    let name = kind.name();
    let mut out = String::with_capacity(name.len().saturating_add(4));
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `GET /v1/txs/{hash}`, and the items of `/v1/accounts/{addr}/txs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TxInfo {
    /// The transaction id (hex).
    pub hash: String,
    /// Pending or finalized.
    pub status: TxStatus,
    /// The block height; `null` while pending.
    pub height: Option<u64>,
    /// The index in the block; `null` while pending.
    pub index: Option<u64>,
    /// The sender (bech32m).
    pub sender: String,
    /// The sender's nonce.
    pub nonce: u64,
    /// The fee, whole tokens.
    #[schema(value_type = String, example = "0.00001")]
    pub fee: Amount,
    /// The fee, base units.
    pub fee_base: u64,
    /// The kind, snake_case: `transfer`, `stake`, `delegate`, `undelegate`,
    /// `withdraw`, `register_endpoint`, `advertise_capacity`,
    /// `create_contract`, `submit_proofs`, `repair_fragment`, `evidence`.
    #[schema(example = "transfer")]
    pub kind: String,
    /// What it did; `null` while pending.
    pub outcome: Option<TxOutcome>,
    /// Why it failed; `null` unless it failed.
    pub reason: Option<String>,
    /// A `submit_proofs`'s verdict on each of its proofs, once finalized
    /// (empty for other kinds).
    #[serde(default)]
    pub proofs: Vec<ProofVerdictInfo>,
}

/// The ledger's verdict on one proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProofOutcome {
    /// Accepted: escrow paid and a reward issued.
    Accepted,
    /// Refused (see `reason`).
    Refused,
}

/// The ledger's verdict on one proof of a `submit_proofs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProofVerdictInfo {
    /// Its place in the batch.
    pub index: u32,
    /// The contract it proves (hex).
    #[schema(value_type = String)]
    pub contract: Hash,
    /// The fragment.
    pub fragment: u32,
    /// The period.
    pub period: u64,
    /// Accepted or refused.
    pub outcome: ProofOutcome,
    /// Escrow paid for it, base units (accepted only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escrow_paid_base: Option<u64>,
    /// New currency issued for it, base units (accepted only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward_base: Option<u64>,
    /// Why it was refused (refused only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /v1/accounts/{addr}/txs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TxList {
    /// The account's finalized transactions (sent, and transfers
    /// received), newest first, at most 100.
    pub txs: Vec<TxInfo>,
}

/// `POST /v1/txs`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SubmitRequest {
    /// Hex of the transaction's wire encoding.
    pub tx: String,
}

/// `POST /v1/txs`'s answer, and a transaction admitted in a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Submitted {
    /// The transaction id (hex).
    pub hash: String,
}

/// `POST /v1/txs/batch`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchRequest {
    /// 1 to 1,024 transactions, each the hex of its wire encoding.
    pub txs: Vec<String>,
}

/// `POST /v1/txs/batch`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchSubmitted {
    /// One result per transaction, in the order given.
    pub results: Vec<BatchResult>,
}

/// One transaction's result in a batch: its hash, or why it was refused
/// (the codes of `POST /v1/txs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BatchResult {
    /// In the mempool.
    Admitted(Submitted),
    /// Refused.
    Refused(ApiErrorBody),
}

/// An amount the faucet is asked for: a decimal string of whole tokens
/// (`"12.5"`) or a whole number of tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum FaucetAmount {
    /// Whole tokens, as a decimal string.
    Decimal(String),
    /// Whole tokens, as an integer.
    Whole(u64),
}

/// `POST /v1/faucet`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FaucetRequest {
    /// The address to fund (bech32m).
    pub address: String,
    /// How much; 1,000 tokens when absent or `null`, at most 1,000,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<FaucetAmount>,
}

/// `POST /v1/faucet`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FaucetReceipt {
    /// The faucet transaction's id (hex).
    pub hash: String,
    /// What was sent, whole tokens.
    #[schema(value_type = String, example = "100")]
    pub amount: Amount,
    /// What was sent, base units.
    pub amount_base: u64,
}

/// A validator's standing in the current epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValidatorStatus {
    /// In the current epoch's set.
    Active,
    /// Not in it.
    Inactive,
    /// Kept out of the set until `jailed_until`.
    Jailed,
}

/// One validator of `/v1/validators`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ValidatorInfo {
    /// The operator's address (bech32m).
    pub operator: String,
    /// BLS public key (hex).
    pub bls_pubkey: String,
    /// Commission in basis points.
    pub commission_bps: u16,
    /// The operator's own stake, whole tokens.
    #[schema(value_type = String)]
    pub self_stake: Amount,
    /// The operator's own stake, base units.
    pub self_stake_base: u64,
    /// Stake delegated to it, whole tokens.
    #[schema(value_type = String)]
    pub delegated: Amount,
    /// Stake delegated to it, base units.
    pub delegated_base: u64,
    /// Its power (bonded base units) in the current epoch's set; 0 if it
    /// is not in it.
    pub voting_power: u64,
    /// Active, inactive or jailed.
    pub status: ValidatorStatus,
    /// The epoch until which it is jailed (0 if it never was).
    pub jailed_until: u64,
}

/// `GET /v1/validators`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Validators {
    /// The current epoch.
    pub epoch: u64,
    /// Every validator on chain.
    pub validators: Vec<ValidatorInfo>,
}

/// `GET /v1/blocks/{height}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
    /// Proposer's address (bech32m).
    pub proposer: String,
    /// Proposal time, Unix milliseconds.
    pub timestamp_ms: u64,
    /// Root of the transactions (hex).
    pub tx_root: String,
    /// State root after the block (hex).
    pub state_root: String,
    /// Transaction ids (hex), in block order.
    pub txs: Vec<String>,
}

/// One provider's advertisement, in `GET /v1/providers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProviderInfo {
    /// The provider's address (bech32m).
    #[schema(value_type = String)]
    pub provider: Address,
    /// Bytes offered in all.
    pub capacity_bytes: u64,
    /// Bytes under contract now.
    pub used_bytes: u64,
    /// The least price per GiB-epoch it accepts, whole tokens.
    #[schema(value_type = String)]
    pub price_per_gib_epoch: Amount,
    /// The same, base units.
    pub price_per_gib_epoch_base: u64,
    /// Collateral it locks per GiB stored, whole tokens.
    #[schema(value_type = String)]
    pub collateral_per_gib: Amount,
    /// The same, base units.
    pub collateral_per_gib_base: u64,
    /// The shortest contract it takes, in epochs.
    pub min_duration_epochs: u64,
    /// The longest, in epochs.
    pub max_duration_epochs: u64,
    /// Height of its last advertisement.
    pub updated_at: u64,
    /// Proofs it missed on fragments it holds under running contracts
    /// (clients rank by it).
    pub recent_misses: u64,
    /// Where it is reached; `null` if it registered no endpoint.
    pub endpoint: Option<EndpointInfo>,
}

impl ProviderInfo {
    /// Bytes it can still take.
    pub fn free_bytes(&self) -> u64 {
        self.capacity_bytes.saturating_sub(self.used_bytes)
    }
}

/// `GET /v1/providers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProviderList {
    /// Every advertised provider.
    pub providers: Vec<ProviderInfo>,
}

/// A lost fragment waiting for repair, in `GET /v1/repairs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RepairInfo {
    /// The contract (hex).
    #[schema(value_type = String)]
    pub contract: Hash,
    /// The lost fragment.
    pub index: u32,
    /// Its Merkle root (hex).
    #[schema(value_type = String)]
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
    /// What a repair pays the repairer, whole tokens.
    #[schema(value_type = String)]
    pub repair_reward: Amount,
    /// The same, base units.
    pub repair_reward_base: u64,
}

/// `GET /v1/repairs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RepairList {
    /// Every lost fragment waiting for a repair, least healthy object first.
    pub repairs: Vec<RepairInfo>,
}

fn fragment_status_schema() -> RefOr<Schema> {
    let names = [
        FragmentStatus::Active,
        FragmentStatus::Lost,
        FragmentStatus::Ended,
    ]
    .map(|s| s.name());
    one_of_names(&names, "`active`, `lost` (waits for a repair) or `ended`")
}

fn fragment_status_in<'de, D: serde::Deserializer<'de>>(d: D) -> Result<FragmentStatus, D::Error> {
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

fn fragment_status_out<S: Serializer>(status: &FragmentStatus, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(status.name())
}

fn role_schema() -> RefOr<Schema> {
    let names = [Role::Validator, Role::Provider].map(|r| r.name());
    one_of_names(&names, "`validator` or `provider`")
}

fn role_in<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FragmentInfo {
    /// Its index in the contract.
    pub index: u32,
    /// Its Merkle root (hex).
    #[schema(value_type = String)]
    pub root: Hash,
    /// Who stores it (bech32m).
    #[schema(value_type = String)]
    pub provider: Address,
    /// `active`, `lost` (waits for a repair) or `ended`.
    #[serde(
        deserialize_with = "fragment_status_in",
        serialize_with = "fragment_status_out"
    )]
    #[schema(schema_with = fragment_status_schema)]
    pub status: FragmentStatus,
    /// Escrow not yet paid out for it, whole tokens.
    #[schema(value_type = String)]
    pub escrow_left: Amount,
    /// The same, base units.
    pub escrow_left_base: u64,
    /// The provider's collateral still locked for it, whole tokens.
    #[schema(value_type = String)]
    pub collateral_left: Amount,
    /// The same, base units.
    pub collateral_left_base: u64,
    /// What repairing it pays, while it is lost, whole tokens.
    #[schema(value_type = String)]
    pub repair_reward: Amount,
    /// The same, base units.
    pub repair_reward_base: u64,
    /// Proofs its current provider missed.
    pub misses: u32,
    /// Proofs accepted from its current provider.
    pub accepted: u32,
    /// `period + 1` of the last accepted proof (0: none yet).
    pub proven: u64,
    /// Height at which its current provider took it.
    pub since: u64,
}

/// `GET /v1/contracts/{id}`: a contract as the chain stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ContractInfo {
    /// Its id (hex).
    #[schema(value_type = String)]
    pub id: Hash,
    /// The client who pays (bech32m).
    #[schema(value_type = String)]
    pub client: Address,
    /// The object root (hex).
    #[schema(value_type = String)]
    pub object_root: Hash,
    /// Data fragments.
    pub k: u16,
    /// Parity fragments.
    pub m: u16,
    /// Bytes per fragment.
    pub fragment_size: u64,
    /// The price per GiB-epoch, whole tokens.
    #[schema(value_type = String)]
    pub price_per_gib_epoch: Amount,
    /// The same, base units.
    pub price_per_gib_epoch_base: u64,
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
    /// The API's view of a contract the chain stores.
    pub fn from_contract(c: &Contract) -> Self {
        Self {
            id: c.id,
            client: c.client,
            object_root: c.object_root,
            k: c.k,
            m: c.m,
            fragment_size: c.fragment_size,
            price_per_gib_epoch: c.price_per_gib_epoch,
            price_per_gib_epoch_base: c.price_per_gib_epoch.base_units(),
            start_height: c.start_height,
            first_period: c.first_period,
            last_period: c.last_period,
            fragments: c
                .fragments
                .iter()
                .zip(0u32..)
                .map(|(f, index)| FragmentInfo {
                    index,
                    root: f.root,
                    provider: f.provider,
                    status: f.status,
                    escrow_left: f.escrow_left,
                    escrow_left_base: f.escrow_left.base_units(),
                    collateral_left: f.collateral_left,
                    collateral_left_base: f.collateral_left.base_units(),
                    repair_reward: f.repair_reward,
                    repair_reward_base: f.repair_reward.base_units(),
                    misses: f.misses,
                    accepted: f.accepted,
                    proven: f.proven,
                    since: f.since,
                })
                .collect(),
        }
    }

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EndpointInfo {
    /// Whose endpoint (bech32m).
    #[schema(value_type = String)]
    pub principal: Address,
    /// `validator` or `provider`.
    #[serde(deserialize_with = "role_in", serialize_with = "role_out")]
    #[schema(schema_with = role_schema)]
    pub role: Role,
    /// The libp2p peer id, as text (`12D3Koo…`; hex if the registrant
    /// stored bytes that are not a peer id).
    pub peer_id: String,
    /// The peer id as stored on chain, hex.
    pub peer_id_hex: String,
    /// Its multiaddrs, as text (`/ip4/…/tcp/…`; hex for bytes that are
    /// not a multiaddr).
    pub multiaddrs: Vec<String>,
    /// The multiaddrs as stored on chain, hex: what a client dials.
    pub multiaddrs_hex: Vec<String>,
    /// Height of the block that registered it.
    pub updated_at: u64,
}

/// `GET /v1/node`: this node's libp2p identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NodeIdentity {
    /// The peer id, as text (`12D3Koo…`).
    pub peer_id: String,
    /// The peer id's bytes, hex (what `RegisterEndpoint` puts on chain).
    pub peer_id_hex: String,
    /// The addresses it listens on, as multiaddr text.
    pub listen: Vec<String>,
    /// The same, the multiaddrs' bytes in hex.
    pub listen_hex: Vec<String>,
}

/// A provider's terms, the `[provider]` section of its `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProviderTerms {
    /// Where fragments are kept; relative to the home unless absolute.
    pub storage_dir: String,
    /// Bytes offered on chain, with a binary unit (`10GiB`).
    #[schema(example = "10GiB")]
    pub capacity: String,
    /// Least price accepted per GiB per epoch, whole tokens.
    #[schema(value_type = String)]
    pub price_per_gib_epoch: Amount,
    /// Collateral locked per GiB stored, whole tokens.
    #[schema(value_type = String)]
    pub collateral_per_gib: Amount,
    /// Shortest contract accepted, in epochs.
    pub min_duration_epochs: u64,
    /// Longest contract accepted, in epochs.
    pub max_duration_epochs: u64,
    /// Largest fragment taken, with a binary unit (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fragment_size: Option<String>,
    /// Blocks a reserved or uploaded fragment waits for its contract
    /// (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_blocks: Option<u64>,
    /// Uploads received at once (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uploads: Option<u64>,
}

/// `GET /v1/provider`: this node's storage provider. The proof totals and
/// earnings survive restarts; the deal and upload counts are since start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProviderReport {
    /// The provider's account (bech32m).
    pub address: String,
    /// Where fragments are kept.
    pub storage_dir: String,
    /// Terms from the configuration.
    pub terms: ProviderTerms,
    /// Whether the chain has this provider's endpoint.
    pub registered: bool,
    /// Bytes offered, as the chain has it; `null` before it advertised.
    pub capacity_bytes: Option<u64>,
    /// Bytes under contract, on chain; `null` before it advertised.
    pub used_bytes: Option<u64>,
    /// Whether the chain's terms are the configuration's.
    pub advertised: bool,
    /// The account's spendable balance, base units.
    pub balance_base: u64,
    /// Fragments held under an active contract.
    pub fragments_active: u64,
    /// Fragments stored and waiting for their contract.
    pub fragments_pending: u64,
    /// Bytes of fragment data held.
    pub bytes_held: u64,
    /// Reservations not yet uploaded.
    pub reservations: u64,
    /// Proofs put in transactions (retries included).
    pub proofs_submitted: u64,
    /// Challenges the chain recorded as proven.
    pub proofs_accepted: u64,
    /// Challenges missed.
    pub proofs_missed: u64,
    /// Challenges that could not be proven (missing or damaged file).
    pub proofs_unprovable: u64,
    /// The period being proven; `null` before the first.
    pub period: Option<u64>,
    /// Challenged in the current period.
    pub period_challenged: u64,
    /// Proven in the current period.
    pub period_proven: u64,
    /// Earned (escrow paid and proof rewards), whole tokens.
    #[schema(value_type = String)]
    pub earned: Amount,
    /// The same, base units.
    pub earned_base: u64,
    /// Deals reserved since start.
    pub deals_reserved: u64,
    /// Deals refused since start.
    pub deals_refused: u64,
    /// Uploads stored since start.
    pub uploads_stored: u64,
    /// Uploads failed since start.
    pub uploads_failed: u64,
    /// Downloads served since start.
    pub downloads_served: u64,
    /// Pending fragments dropped since start (their contract never came).
    pub expired: u64,
    /// Fragments released since start (contract ended or moved them).
    pub released: u64,
}

/// The body of every error answer (4xx, 5xx).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiErrorBody {
    /// What went wrong, for a person.
    #[schema(example = "insufficient funds: balance 3.2 is less than 12.5")]
    pub error: String,
    /// A stable snake_case word a program can match on: `bad_request`,
    /// `not_found`, `bad_address`, `bad_transaction`, `rejected`,
    /// `mempool_full`, `rate_limited`, `faucet_disabled`, `internal`.
    #[schema(example = "bad_request")]
    pub code: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_shapes() {
        let account: AccountInfo = serde_json::from_str(
            r#"{"address":"sherd1x","balance":"12.5","balance_base":12500000000,"nonce":3,
                "staked":"0","staked_base":0,"unbonding":[{"amount":"1","amount_base":1000000000,"release_epoch":9}],"extra":1}"#,
        )
        .unwrap();
        assert_eq!(account.balance, Amount(12_500_000_000));
        assert_eq!(account.unbonding[0].amount, Amount(1_000_000_000));
        assert_eq!(account.unbonding[0].release_epoch, 9);
        let pending: TxInfo = serde_json::from_str(
            r#"{"hash":"ab","status":"pending","height":null,"index":null,"sender":"s","nonce":0,
                "fee":"0.00001","fee_base":10000,"kind":"transfer","outcome":null,"reason":null,"proofs":[]}"#,
        )
        .unwrap();
        assert_eq!(pending.status, TxStatus::Pending);
        assert_eq!(pending.fee, Amount(10_000));
        assert_eq!(pending.kind, "transfer");
        let done: TxInfo = serde_json::from_str(
            r#"{"hash":"ab","status":"finalized","height":4,"index":0,"sender":"s","nonce":0,
                "fee":"0.00001","fee_base":10000,"kind":"stake","outcome":"failed","reason":"no"}"#,
        )
        .unwrap();
        assert_eq!(done.outcome, Some(TxOutcome::Failed));
        assert!(done.proofs.is_empty());
    }

    #[test]
    fn kinds_are_snake_case() {
        use sherd_ledger::tx::kind::{AdvertiseCapacity, Transfer};
        use sherd_ledger::TxKind;
        let transfer = TxKind::Transfer(Transfer {
            to: Address([1; 32]),
            amount: Amount(1),
        });
        assert_eq!(kind_name(&transfer), "transfer");
        assert_eq!(kind_name(&TxKind::Withdraw), "withdraw");
        let advertise = TxKind::AdvertiseCapacity(AdvertiseCapacity {
            capacity_bytes: 1,
            price_per_gib_epoch: Amount(1),
            collateral_per_gib: Amount(1),
            min_duration_epochs: 1,
            max_duration_epochs: 1,
        });
        assert_eq!(kind_name(&advertise), "advertise_capacity");
    }

    #[test]
    fn a_batch_result_is_a_hash_or_an_error() {
        let results: Vec<BatchResult> =
            serde_json::from_str(r#"[{"hash":"ab"},{"error":"no","code":"rejected"}]"#).unwrap();
        assert_eq!(
            results,
            vec![
                BatchResult::Admitted(Submitted { hash: "ab".into() }),
                BatchResult::Refused(ApiErrorBody {
                    error: "no".into(),
                    code: "rejected".into()
                }),
            ]
        );
        assert_eq!(
            serde_json::to_string(&results).unwrap(),
            r#"[{"hash":"ab"},{"error":"no","code":"rejected"}]"#
        );
    }

    #[test]
    fn a_proof_verdict_sends_only_its_outcomes_fields() {
        let refused = ProofVerdictInfo {
            index: 0,
            contract: Hash([0; 32]),
            fragment: 1,
            period: 2,
            outcome: ProofOutcome::Refused,
            escrow_paid_base: None,
            reward_base: None,
            reason: Some("late".into()),
        };
        let value = serde_json::to_value(&refused).unwrap();
        assert_eq!(value["outcome"], "refused");
        assert!(value.get("reward_base").is_none());
        assert_eq!(
            serde_json::from_value::<ProofVerdictInfo>(value).unwrap(),
            refused
        );
    }

    /// The document's description of `ChainParams` has exactly the fields
    /// the ledger's type sends.
    #[test]
    fn the_chain_params_schema_is_the_ledgers_type() {
        use utoipa::PartialSchema;
        let params = sherd_ledger::ChainParams::dev(sherd_ledger::ChainId::new("t").unwrap());
        let sent = serde_json::to_value(&params).unwrap();
        let mut sent_keys: Vec<&String> = sent.as_object().unwrap().keys().collect();
        let RefOr::T(Schema::Object(schema)) = ChainParamsSchema::schema() else {
            panic!("ChainParamsSchema is not an object schema");
        };
        let mut described: Vec<&String> = schema.properties.keys().collect();
        sent_keys.sort();
        described.sort();
        assert_eq!(sent_keys, described);
        // And what is sent reads as the description says.
        serde_json::from_value::<ChainParamsSchema>(sent).unwrap();
    }
}
