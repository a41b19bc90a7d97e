//! The answers of the node's browsing routes (what the web explorer at `/`
//! reads): pages of blocks, transactions and contracts, a transaction's
//! fields, provider and validator activity, finality as this node measured
//! it, its peers, and a search resolver. Shared by the node, which writes
//! them, and clients, which read them (`node/README.md`, "Browsing").
//!
//! Each derives [`utoipa::ToSchema`], as the types of [`super::types`]
//! do: the node's OpenAPI document (`GET /v1/openapi.json`) describes
//! these routes too.
//!
//! Amounts here are [`Amount`]s in their text form: a decimal string of
//! whole tokens, exact (`"12.5"`, at most 9 decimals).

use serde::{Deserialize, Serialize};
use sherd_ledger::{Address, Amount, Hash};
use utoipa::ToSchema;

use super::types::TxOutcome;

/// One block of `GET /v1/blocks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BlockSummary {
    /// Height.
    pub height: u64,
    /// Block id (hex).
    #[schema(value_type = String)]
    pub id: Hash,
    /// Epoch.
    pub epoch: u64,
    /// Consensus view of the proposal.
    pub view: u64,
    /// The proposing validator's operator address (bech32m).
    #[schema(value_type = String)]
    pub proposer: Address,
    /// Proposal time, Unix milliseconds (the proposer's clock).
    pub timestamp_ms: u64,
    /// Transactions in the block.
    pub tx_count: u64,
}

/// `GET /v1/blocks?before=H&limit=N`: finalized blocks, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BlockPage {
    /// The blocks, heights descending.
    pub blocks: Vec<BlockSummary>,
    /// `before` for the next (older) page; `null` once block 1 is listed.
    pub next_before: Option<u64>,
}

/// A finalized transaction in a list: what it is, who sent it, what it
/// did, and its main values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TxSummary {
    /// The transaction id (hex).
    #[schema(value_type = String)]
    pub hash: Hash,
    /// Height of its block.
    pub height: u64,
    /// Its index in the block.
    pub index: u32,
    /// Its block's proposal time, Unix milliseconds.
    pub timestamp_ms: u64,
    /// The sender (bech32m).
    #[schema(value_type = String)]
    pub sender: Address,
    /// The sender's nonce.
    pub nonce: u64,
    /// The fee paid, whole tokens.
    #[schema(value_type = String, example = "0.00001")]
    pub fee: Amount,
    /// The kind's snake_case name (`transfer`, `create_contract`, …).
    #[schema(example = "transfer")]
    pub kind: String,
    /// Whether its effects were applied.
    pub outcome: TxOutcome,
    /// Why it failed; `null` unless it failed.
    pub reason: Option<String>,
    /// The other account it names (bech32m): a transfer's receiver, the
    /// validator of a delegation, a repair's new provider; `null` for
    /// other kinds.
    #[schema(value_type = Option<String>)]
    pub to: Option<Address>,
    /// The amount it moves or bonds (transfer, stake, delegate,
    /// undelegate), whole tokens; `null` for other kinds.
    #[schema(value_type = Option<String>, example = "12.5")]
    pub amount: Option<Amount>,
    /// The contract it creates or acts on (hex); `null` for other kinds.
    #[schema(value_type = Option<String>)]
    pub contract: Option<Hash>,
}

/// `GET /v1/txs?before=H&limit=N`, `GET /v1/blocks/{height}/txs` and
/// `GET /v1/accounts/{addr}/history`: finalized transactions, newest first
/// (a block's in block order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TxPage {
    /// The transactions.
    pub txs: Vec<TxSummary>,
    /// Where the next page starts (`before` of `/v1/txs`, `offset` of a
    /// block's); `null` when there is no more.
    pub next: Option<u64>,
}

/// What a transaction field holds, so a reader can format and link it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// An address (bech32m).
    Address,
    /// An amount: a decimal string of whole tokens.
    Amount,
    /// A contract id (hex).
    Contract,
    /// Another hash (hex): a Merkle root.
    Hash,
    /// An unsigned integer, in decimal.
    Number,
    /// A byte count, in decimal.
    Bytes,
    /// Opaque bytes, hex.
    Hex,
    /// Text.
    Text,
}

/// One field of a transaction's kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TxField {
    /// Its name; a list element is `fragments[3].provider`.
    pub name: String,
    /// What it holds.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Its value as text.
    pub value: String,
}

/// `GET /v1/txs/{hash}/fields`: a finalized or pending transaction's kind,
/// field by field (a create contract's fragments and a proof batch's
/// entries at most 64 each, `MAX_LISTED_ITEMS`; `truncated` says so).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TxFields {
    /// The transaction id (hex).
    #[schema(value_type = String)]
    pub hash: Hash,
    /// The kind's snake_case name.
    #[schema(example = "transfer")]
    pub kind: String,
    /// The fields, in encoding order.
    pub fields: Vec<TxField>,
    /// Whether a list was cut at 64 entries.
    pub truncated: bool,
}

/// Most entries of one list shown by `/v1/txs/{hash}/fields`.
pub const MAX_LISTED_ITEMS: usize = 64;

/// One contract of `GET /v1/contracts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ContractSummary {
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
    /// Height of the block that created it.
    pub start_height: u64,
    /// Its last challenged proof period.
    pub last_period: u64,
    /// Fragments active now.
    pub active: u32,
    /// Fragments lost, waiting for a repair.
    pub lost: u32,
    /// `(active − k) / m`: 1 is every fragment, below 0 the object cannot
    /// be read.
    pub health: f64,
    /// Escrow not yet paid out, over all fragments, whole tokens.
    #[schema(value_type = String, example = "12.5")]
    pub escrow_left: Amount,
}

/// `GET /v1/contracts?offset=O&limit=N`: contracts, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ContractPage {
    /// Contracts on chain in all.
    pub total: u64,
    /// This page.
    pub contracts: Vec<ContractSummary>,
    /// `offset` of the next page; `null` on the last.
    pub next_offset: Option<u64>,
}

/// One provider's record in `GET /v1/providers/stats`, summed over the
/// fragments it holds now (ended contracts included while on chain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProviderStats {
    /// The provider (bech32m).
    #[schema(value_type = String)]
    pub provider: Address,
    /// Fragments it holds, active.
    pub fragments_active: u64,
    /// Fragments it lost (missed too many proofs).
    pub fragments_lost: u64,
    /// Bytes of its active fragments.
    pub bytes_active: u64,
    /// Proofs accepted from it.
    pub proofs_accepted: u64,
    /// Proofs it missed.
    pub proofs_missed: u64,
    /// Escrow still to be paid to it, whole tokens.
    #[schema(value_type = String)]
    pub escrow_left: Amount,
}

/// `GET /v1/providers/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProviderStatsList {
    /// Every provider that holds or held a fragment, by address.
    pub providers: Vec<ProviderStats>,
}

/// One validator's part in recent blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ValidatorActivity {
    /// The operator (bech32m).
    #[schema(value_type = String)]
    pub operator: Address,
    /// Blocks it proposed in the range.
    pub proposed: u64,
    /// Finalization certificates of the range that carry its signature.
    pub signed: u64,
}

/// `GET /v1/validators/activity?blocks=N`: who proposed the last `N`
/// finalized blocks and who signed their finalization certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ActivityReport {
    /// First height counted.
    pub from_height: u64,
    /// Last height counted.
    pub to_height: u64,
    /// Distinct finalization certificates read (a certificate can finalize
    /// several blocks at once).
    pub certificates: u64,
    /// One entry per validator seen, by address.
    pub validators: Vec<ValidatorActivity>,
}

/// A block as this node finalized it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FinalitySample {
    /// Height.
    pub height: u64,
    /// Proposal time, Unix milliseconds (the proposer's clock).
    pub timestamp_ms: u64,
    /// When this node committed it as final, Unix milliseconds (its clock).
    pub committed_ms: u64,
    /// `committed_ms − timestamp_ms` (0 if the clocks disagree that way).
    pub latency_ms: u64,
    /// Transactions in it.
    pub txs: u64,
}

/// `GET /v1/finality`: the blocks this node finalized recently (at most
/// 600, `FINALITY_SAMPLES`, since it started), oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FinalityReport {
    /// The samples.
    pub samples: Vec<FinalitySample>,
}

/// Blocks remembered by `/v1/finality`.
pub const FINALITY_SAMPLES: usize = 600;

/// `GET /v1/peers`: the libp2p peers this node is connected to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Peers {
    /// Whether the node is on a network (a dev chain is not).
    pub networked: bool,
    /// How many peers.
    pub count: u64,
    /// Their peer ids, as text (`12D3Koo…`), sorted.
    pub peers: Vec<String>,
}

/// What a searched string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchKind {
    /// A finalized block (by height or id).
    Block,
    /// A transaction, finalized or pending.
    Tx,
    /// An account (any well-formed address is one).
    Account,
    /// A storage contract.
    Contract,
}

/// `GET /v1/search?q=…`: where a height, block id, transaction hash,
/// address or contract id leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    /// What it is.
    pub kind: SearchKind,
    /// Its key on its page: a height for a block (in decimal), else the
    /// hash (hex) or address (bech32m).
    pub key: String,
}
