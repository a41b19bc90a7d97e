//! Browsing routes and the web explorer: read-only pages of the chain for
//! people, all from the node's database and the public API.
//!
//! * The explorer at `/` (assets under `/explorer/`), embedded in the
//!   binary: plain HTML, CSS and JavaScript that read only `/v1/...`, so
//!   every node serves the same explorer.
//! * The routes it reads besides the core API (`node/README.md`,
//!   "Browsing"): pages of blocks, transactions and contracts, a
//!   transaction's fields, provider and validator activity, finality as
//!   this node measured it ([`Observed`], filled by the actor), its peers,
//!   and a search resolver. Their answers are the typed structs of
//!   [`sherd_wallet::client::browse`]. Every list is bounded; every
//!   parameter is checked (`400 bad_request` naming it). Each handler has
//!   its `#[utoipa::path]` description and is listed in
//!   [`crate::api`]'s route list, so the OpenAPI document describes these
//!   routes with the rest of the API (tag `browse`); the explorer's files
//!   ([`EXPLORER_FILES`]) are not API and stay out of it.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sherd_consensus::{Certificate, Wire};
use sherd_ledger::state::{Contract, FragmentStatus};
use sherd_ledger::{Address, Amount, Block, Hash, StateView, Transaction, TxKind};
use sherd_wallet::client::browse::{
    ActivityReport, BlockPage, BlockSummary, ContractPage, ContractSummary, FieldType,
    FinalityReport, FinalitySample, Peers, ProviderStats, ProviderStatsList, SearchHit, SearchKind,
    TxField, TxFields, TxPage, TxSummary, ValidatorActivity, FINALITY_SAMPLES, MAX_LISTED_ITEMS,
};
use sherd_wallet::client::{kind_name, ApiErrorBody, BlockInfo, TxOutcome};

use crate::api::{
    block_info, parse_address, parse_hash, path_param, shorten, stored_block, tx_location, ApiError,
};
use crate::net::NetHandle;
use crate::shared::Shared;
use crate::store::{col, StoredBlock, TxLocation};

/// Most items of one page (blocks, transactions, contracts).
pub const MAX_PAGE: u64 = 100;
/// Items of a page when `limit` is not given.
pub const DEFAULT_PAGE: u64 = 20;
/// Most blocks `/v1/txs` reads to fill one page (most blocks are empty).
pub const MAX_SCANNED_BLOCKS: u64 = 500;
/// Most blocks `/v1/validators/activity` counts.
pub const MAX_ACTIVITY_BLOCKS: u64 = 500;
/// Blocks `/v1/validators/activity` counts when `blocks` is not given.
pub const DEFAULT_ACTIVITY_BLOCKS: u64 = 100;
/// Longest `q` of `/v1/search`.
const MAX_QUERY_LEN: usize = 200;
/// How long `/v1/peers` waits for the network task.
const PEERS_TIMEOUT: Duration = Duration::from_secs(2);

/// What the node observes as it runs, for the browsing routes: the blocks
/// it finalized recently (recorded by the actor) and its network handle.
#[derive(Debug, Default)]
pub struct Observed {
    finality: Mutex<VecDeque<FinalitySample>>,
    /// The network task, when networked (for `/v1/peers`).
    pub net: OnceLock<NetHandle>,
}

impl Observed {
    /// Records a block this node just committed as final.
    pub fn record_final(&self, height: u64, timestamp_ms: u64, txs: u64) {
        let committed_ms = crate::now_ms();
        let mut samples = self.finality.lock().unwrap_or_else(|p| p.into_inner());
        if samples.len() >= FINALITY_SAMPLES {
            samples.pop_front();
        }
        samples.push_back(FinalitySample {
            height,
            timestamp_ms,
            committed_ms,
            latency_ms: committed_ms.saturating_sub(timestamp_ms),
            txs,
        });
    }

    fn samples(&self) -> Vec<FinalitySample> {
        let samples = self.finality.lock().unwrap_or_else(|p| p.into_inner());
        samples.iter().cloned().collect()
    }
}

// ---- the explorer's files ----

/// The explorer's files, by path, each served on `GET` by [`explorer`].
/// They are pages for a browser, not API, so they are the only routes
/// served beside the OpenAPI document and not in it; its test
/// (`node/tests/it/openapi.rs`) checks that they are exactly those.
pub const EXPLORER_FILES: [&str; 4] = [
    "/",
    "/explorer/app.js",
    "/explorer/style.css",
    "/explorer/icon.svg",
];

/// The explorer's files, to merge into the API router.
pub fn explorer() -> Router<Arc<Shared>> {
    let [index, app, style, icon] = EXPLORER_FILES;
    Router::new()
        .route(index, get(|headers| asset(headers, &INDEX)))
        .route(app, get(|headers| asset(headers, &APP_JS)))
        .route(style, get(|headers| asset(headers, &STYLE)))
        .route(icon, get(|headers| asset(headers, &ICON)))
}

/// An embedded file: its bytes, content type and entity tag.
struct Asset {
    bytes: &'static [u8],
    content_type: &'static str,
    etag: OnceLock<String>,
}

impl Asset {
    const fn new(bytes: &'static [u8], content_type: &'static str) -> Self {
        Self {
            bytes,
            content_type,
            etag: OnceLock::new(),
        }
    }

    fn etag(&self) -> &str {
        self.etag.get_or_init(|| {
            let hash = blake3::hash(self.bytes);
            format!("\"{}\"", &hash.to_hex()[..16])
        })
    }
}

static INDEX: Asset = Asset::new(
    include_bytes!("../explorer/index.html"),
    "text/html; charset=utf-8",
);
static APP_JS: Asset = Asset::new(
    include_bytes!("../explorer/app.js"),
    "text/javascript; charset=utf-8",
);
static STYLE: Asset = Asset::new(
    include_bytes!("../explorer/style.css"),
    "text/css; charset=utf-8",
);
static ICON: Asset = Asset::new(include_bytes!("../explorer/icon.svg"), "image/svg+xml");

/// The explorer loads nothing from elsewhere and runs no inline script.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Serves an embedded file. Its URL does not change with its content, so
/// browsers revalidate it every time (`no-cache`) and get `304` while the
/// node runs the same build.
async fn asset(headers: HeaderMap, asset: &'static Asset) -> Response {
    let etag = asset.etag();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let common = [
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    ];
    let etag = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"\""));
    if fresh {
        return (StatusCode::NOT_MODIFIED, common, [(header::ETAG, etag)]).into_response();
    }
    (
        common,
        [
            (header::ETAG, etag),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
        ],
        asset.bytes,
    )
        .into_response()
}

// ---- parameters ----

type BrowseResult<T> = Result<Json<T>, ApiError>;

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

/// The query parameters, checked against the names a route takes.
fn params(query: Params, allowed: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let Query(map) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown parameter `{unknown}`; this route takes {}",
            if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )));
    }
    Ok(map)
}

/// Parameter `name`, a whole number from `min` to `max`; `default` if absent.
fn number(
    map: &HashMap<String, String>,
    name: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ApiError> {
    let Some(text) = map.get(name) else {
        return Ok(default);
    };
    text.parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "`{name}` must be a whole number from {min} to {max}, not `{}`",
                shorten(text)
            ))
        })
}

/// `text`, cut for an error message.
fn finalized_height(shared: &Shared) -> u64 {
    shared.committed_status().head.height
}

// ---- reading blocks and transactions ----

/// A transaction's main values: the other account, the amount, the contract.
fn main_values(tx: &Transaction) -> (Option<Address>, Option<Amount>, Option<Hash>) {
    let body = &tx.body;
    match &body.kind {
        TxKind::Transfer(t) => (Some(t.to), Some(t.amount), None),
        TxKind::Stake(s) => (None, Some(s.amount), None),
        TxKind::Delegate(d) => (Some(d.validator), Some(d.amount), None),
        TxKind::Undelegate(d) => (Some(d.validator), Some(d.amount), None),
        TxKind::CreateContract(_) => (
            None,
            None,
            Some(sherd_ledger::state::market::contract_id(
                &body.sender,
                body.nonce,
            )),
        ),
        TxKind::RepairFragment(r) => (Some(r.new_provider), None, Some(r.contract_id)),
        TxKind::EndContract(e) => (None, None, Some(e.contract_id)),
        TxKind::ExtendContract(e) => (None, None, Some(e.contract_id)),
        TxKind::SubmitProofs(p) => (None, None, p.proofs.first().map(|p| p.contract_id)),
        TxKind::Withdraw
        | TxKind::RegisterEndpoint(_)
        | TxKind::AdvertiseCapacity(_)
        | TxKind::Evidence(_) => (None, None, None),
    }
}

fn summary(tx: &Transaction, hash: Hash, location: &TxLocation, timestamp_ms: u64) -> TxSummary {
    let (to, amount, contract) = main_values(tx);
    TxSummary {
        hash,
        height: location.height,
        index: location.index,
        timestamp_ms,
        sender: tx.body.sender,
        nonce: tx.body.nonce,
        fee: tx.body.fee,
        kind: kind_name(&tx.body.kind),
        outcome: if location.failure.is_some() {
            TxOutcome::Failed
        } else {
            TxOutcome::Success
        },
        reason: location.failure.clone(),
        to,
        amount,
        contract,
    }
}

/// The summaries of a block's transactions from `offset`, at most `limit`.
fn block_summaries(
    shared: &Shared,
    block: &Block,
    offset: usize,
    limit: usize,
) -> Result<Vec<TxSummary>, ApiError> {
    let ids = block.tx_ids().map_err(ApiError::internal)?;
    let mut out = Vec::new();
    for (tx, hash) in block.txs.iter().zip(ids).skip(offset).take(limit) {
        let location = tx_location(shared, &hash)?.ok_or_else(|| {
            ApiError::internal(format!(
                "transaction {hash} of block {} has no stored location",
                block.header.height
            ))
        })?;
        out.push(summary(tx, hash, &location, block.header.timestamp_ms));
    }
    Ok(out)
}

fn block_summary(block: &Block) -> Result<BlockSummary, ApiError> {
    let h = &block.header;
    Ok(BlockSummary {
        height: h.height,
        id: h.id().map_err(ApiError::internal)?,
        epoch: h.epoch,
        view: h.view,
        proposer: h.proposer,
        timestamp_ms: h.timestamp_ms,
        tx_count: u64::try_from(block.txs.len()).unwrap_or(u64::MAX),
    })
}

// ---- blocks ----

/// `GET /v1/blocks?before=H&limit=N`.
#[utoipa::path(
    get,
    path = "/v1/blocks",
    tag = "browse",
    params(
        ("before" = Option<u64>, Query, minimum = 1, description = "List the blocks below \
            this height; default: above the finalized head (a larger value starts there too)"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100,
            description = "Most blocks on the page; default 20"),
    ),
    responses(
        (status = 200, description = "Finalized blocks, newest first", body = BlockPage),
        (status = 400, description = "`bad_request`: a parameter that is not a whole number \
            in its range, or one this route does not take", body = ApiErrorBody),
    )
)]
pub(crate) async fn block_page(
    State(shared): State<Arc<Shared>>,
    query: Params,
) -> BrowseResult<BlockPage> {
    let map = params(query, &["before", "limit"])?;
    let head = finalized_height(&shared);
    let before = number(&map, "before", head.saturating_add(1), 1, u64::MAX)?;
    let limit = number(&map, "limit", DEFAULT_PAGE, 1, MAX_PAGE)?;
    let top = before.saturating_sub(1).min(head);
    let bottom = top.saturating_sub(limit).saturating_add(1).max(1);
    let mut blocks = Vec::new();
    for height in (bottom..=top).rev() {
        let block = stored_block(&shared, height)?
            .ok_or_else(|| ApiError::internal(format!("finalized block {height} is missing")))?;
        blocks.push(block_summary(&block)?);
    }
    let next_before = (bottom > 1 && top >= 1).then_some(bottom);
    Ok(Json(BlockPage {
        blocks,
        next_before,
    }))
}

/// `GET /v1/blocks/by-id/{id}`: the block as `/v1/blocks/{height}` gives it.
#[utoipa::path(
    get,
    path = "/v1/blocks/by-id/{id}",
    tag = "browse",
    params(("id" = String, Path, description = "The block id (64 lowercase hex digits)")),
    responses(
        (status = 200, description = "The finalized block, as `GET /v1/blocks/{height}` \
            gives it", body = BlockInfo),
        (status = 400, description = "`bad_request`: not a block id", body = ApiErrorBody),
        (status = 404, description = "`not_found`: no finalized block has that id",
            body = ApiErrorBody),
    )
)]
pub(crate) async fn block_by_id(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> BrowseResult<BlockInfo> {
    let id = parse_hash(&path_param(id)?, "block id")?;
    let height = block_height(&shared, &id)?
        .ok_or_else(|| ApiError::not_found(format!("no finalized block has id {id}")))?;
    let block = stored_block(&shared, height)?
        .ok_or_else(|| ApiError::internal(format!("finalized block {height} is missing")))?;
    Ok(Json(block_info(&block, &id)?))
}

fn block_height(shared: &Shared, id: &Hash) -> Result<Option<u64>, ApiError> {
    let Some(bytes) = shared
        .db
        .get(col::BLOCK_IDS, &id.0)
        .map_err(ApiError::internal)?
    else {
        return Ok(None);
    };
    <[u8; 8]>::try_from(bytes.as_slice())
        .map(|b| Some(u64::from_be_bytes(b)))
        .map_err(|_| ApiError::internal(format!("stored height of block {id} is corrupt")))
}

/// `GET /v1/blocks/{height}/txs?offset=O&limit=N`: a block's transactions
/// in block order.
#[utoipa::path(
    get,
    path = "/v1/blocks/{height}/txs",
    tag = "browse",
    params(
        ("height" = u64, Path, description = "The block's height"),
        ("offset" = Option<u64>, Query, description = "The first transaction listed, by its \
            index in the block; default 0"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100,
            description = "Most transactions on the page; default 100"),
    ),
    responses(
        (status = 200, description = "The block's transactions from `offset`, in block order; \
            `next` is the next page's `offset`", body = TxPage),
        (status = 400, description = "`bad_request`: a height that is not a whole number, a \
            parameter that is not a whole number in its range, or one this route does not take",
            body = ApiErrorBody),
        (status = 404, description = "`not_found`: no finalized block at that height (height \
            0 is the genesis state, not a block)", body = ApiErrorBody),
    )
)]
pub(crate) async fn block_txs(
    State(shared): State<Arc<Shared>>,
    height: Result<Path<String>, PathRejection>,
    query: Params,
) -> BrowseResult<TxPage> {
    let text = path_param(height)?;
    let map = params(query, &["offset", "limit"])?;
    let height = text.parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!(
            "`{}` is not a block height (a whole number)",
            shorten(&text)
        ))
    })?;
    let offset = number(&map, "offset", 0, 0, u64::MAX)?;
    let limit = number(&map, "limit", MAX_PAGE, 1, MAX_PAGE)?;
    let block = stored_block(&shared, height)?
        .ok_or_else(|| ApiError::not_found(format!("no finalized block at height {height}")))?;
    let from = usize::try_from(offset).unwrap_or(usize::MAX);
    let count = usize::try_from(limit).unwrap_or(usize::MAX);
    let txs = block_summaries(&shared, &block, from, count)?;
    let end = from.saturating_add(txs.len());
    let next = (end < block.txs.len()).then(|| u64::try_from(end).unwrap_or(u64::MAX));
    Ok(Json(TxPage { txs, next }))
}

/// `GET /v1/txs?before=H&limit=N`: the newest finalized transactions in
/// blocks below `before`; reads at most 500 blocks (`MAX_SCANNED_BLOCKS`),
/// so a page can be short while `next` says where to go on.
#[utoipa::path(
    get,
    path = "/v1/txs",
    tag = "browse",
    params(
        ("before" = Option<u64>, Query, minimum = 1, description = "List the transactions in \
            blocks below this height; default: above the finalized head"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100,
            description = "Most transactions on the page; default 20"),
    ),
    responses(
        (status = 200, description = "The newest finalized transactions, newest first; at most \
            500 blocks are read, so a page may be short: `next` is the `before` to go on with \
            (`null` after block 1). A page splits a block only if it alone is longer than \
            `limit`", body = TxPage),
        (status = 400, description = "`bad_request`: a parameter that is not a whole number \
            in its range, or one this route does not take", body = ApiErrorBody),
    )
)]
pub(crate) async fn recent_txs(
    State(shared): State<Arc<Shared>>,
    query: Params,
) -> BrowseResult<TxPage> {
    let map = params(query, &["before", "limit"])?;
    let head = finalized_height(&shared);
    let before = number(&map, "before", head.saturating_add(1), 1, u64::MAX)?;
    let limit = number(&map, "limit", DEFAULT_PAGE, 1, MAX_PAGE)?;
    let want = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut txs = Vec::new();
    let mut height = before.saturating_sub(1).min(head);
    let mut scanned = 0;
    while height >= 1 && txs.len() < want && scanned < MAX_SCANNED_BLOCKS {
        let block = stored_block(&shared, height)?
            .ok_or_else(|| ApiError::internal(format!("finalized block {height} is missing")))?;
        let room = want.saturating_sub(txs.len());
        // Newest first: the block's last transactions first.
        let mut these = block_summaries(&shared, &block, 0, usize::MAX)?;
        these.reverse();
        if these.len() > room {
            // The rest of this block would be lost to the next page: end
            // the page before it instead, unless it is the first block.
            if !txs.is_empty() {
                break;
            }
            these.truncate(room);
        }
        txs.extend(these);
        height = height.saturating_sub(1);
        scanned += 1;
    }
    let next = (height >= 1).then_some(height.saturating_add(1));
    Ok(Json(TxPage { txs, next }))
}

/// `GET /v1/txs/{hash}/fields`.
#[utoipa::path(
    get,
    path = "/v1/txs/{hash}/fields",
    tag = "browse",
    params(("hash" = String, Path, description = "The transaction id (64 lowercase hex digits)")),
    responses(
        (status = 200, description = "A finalized or pending transaction's kind, field by field",
            body = TxFields),
        (status = 400, description = "`bad_request`: not a transaction hash", body = ApiErrorBody),
        (status = 404, description = "`not_found`: unknown", body = ApiErrorBody),
    )
)]
pub(crate) async fn tx_fields(
    State(shared): State<Arc<Shared>>,
    hash: Result<Path<String>, PathRejection>,
) -> BrowseResult<TxFields> {
    let hash = parse_hash(&path_param(hash)?, "transaction hash")?;
    let tx = match tx_location(&shared, &hash)? {
        Some(location) => {
            let block = stored_block(&shared, location.height)?.ok_or_else(|| {
                ApiError::internal(format!("block {} of {hash} is missing", location.height))
            })?;
            block
                .txs
                .get(usize::try_from(location.index).unwrap_or(usize::MAX))
                .cloned()
                .ok_or_else(|| ApiError::internal(format!("{hash} is not at its position")))?
        }
        None => shared
            .mempool()
            .get(&hash)
            .map(|v| v.tx().clone())
            .ok_or_else(|| ApiError::not_found(format!("transaction {hash} is unknown")))?,
    };
    let (fields, truncated) = fields_of(&tx);
    Ok(Json(TxFields {
        hash,
        kind: kind_name(&tx.body.kind),
        fields,
        truncated,
    }))
}

/// A kind's fields; whether a list was cut at [`MAX_LISTED_ITEMS`].
fn fields_of(tx: &Transaction) -> (Vec<TxField>, bool) {
    fn field(name: impl Into<String>, kind: FieldType, value: impl ToString) -> TxField {
        TxField {
            name: name.into(),
            kind,
            value: value.to_string(),
        }
    }
    use FieldType::{Address as A, Amount as T, Bytes, Contract, Hash as H, Hex, Number as N};
    let mut truncated = false;
    let fields = match &tx.body.kind {
        TxKind::Transfer(t) => vec![field("to", A, t.to), field("amount", T, t.amount)],
        TxKind::Stake(s) => vec![
            field("amount", T, s.amount),
            field("bls_pubkey", Hex, hex::encode(s.bls_pubkey)),
            field("commission_bps", N, s.commission_bps),
        ],
        TxKind::Delegate(d) => vec![
            field("validator", A, d.validator),
            field("amount", T, d.amount),
        ],
        TxKind::Undelegate(d) => vec![
            field("validator", A, d.validator),
            field("amount", T, d.amount),
        ],
        TxKind::Withdraw => Vec::new(),
        TxKind::RegisterEndpoint(e) => {
            let mut out = vec![
                field("role", FieldType::Text, e.role.name()),
                field(
                    "peer_id",
                    FieldType::Text,
                    libp2p::PeerId::from_bytes(&e.peer_id)
                        .map(|p| p.to_string())
                        .unwrap_or_else(|_| hex::encode(&e.peer_id)),
                ),
            ];
            for (i, m) in e.multiaddrs.iter().enumerate() {
                let text = libp2p::Multiaddr::try_from(m.0.clone())
                    .map(|a| a.to_string())
                    .unwrap_or_else(|_| hex::encode(&m.0));
                out.push(field(format!("multiaddrs[{i}]"), FieldType::Text, text));
            }
            out
        }
        TxKind::AdvertiseCapacity(a) => vec![
            field("capacity_bytes", Bytes, a.capacity_bytes),
            field("price_per_gib_epoch", T, a.price_per_gib_epoch),
            field("collateral_per_gib", T, a.collateral_per_gib),
            field("min_duration_epochs", N, a.min_duration_epochs),
            field("max_duration_epochs", N, a.max_duration_epochs),
        ],
        TxKind::CreateContract(c) => {
            let id = sherd_ledger::state::market::contract_id(&tx.body.sender, tx.body.nonce);
            let mut out = vec![
                field("contract", Contract, id),
                field("object_root", H, c.object_root),
                field("k", N, c.k),
                field("m", N, c.m),
                field("fragment_size", Bytes, c.fragment_size),
                field("duration_epochs", N, c.duration_epochs),
                field("price_per_gib_epoch", T, c.price_per_gib_epoch),
            ];
            truncated |= c.fragments.len() > MAX_LISTED_ITEMS;
            for (i, f) in c.fragments.iter().take(MAX_LISTED_ITEMS).enumerate() {
                out.push(field(format!("fragments[{i}].provider"), A, f.provider));
                out.push(field(format!("fragments[{i}].root"), H, f.root));
            }
            out
        }
        TxKind::SubmitProofs(p) => {
            truncated |= p.proofs.len() > MAX_LISTED_ITEMS;
            let mut out = Vec::new();
            for (i, a) in p.proofs.iter().take(MAX_LISTED_ITEMS).enumerate() {
                out.push(field(
                    format!("proofs[{i}].contract"),
                    Contract,
                    a.contract_id,
                ));
                out.push(field(format!("proofs[{i}].fragment"), N, a.fragment_index));
                out.push(field(format!("proofs[{i}].period"), N, a.period));
                out.push(field(format!("proofs[{i}].proof"), Bytes, a.proof.len()));
            }
            out
        }
        TxKind::RepairFragment(r) => vec![
            field("contract", Contract, r.contract_id),
            field("fragment", N, r.fragment_index),
            field("new_provider", A, r.new_provider),
        ],
        TxKind::Evidence(e) => vec![field("evidence", Bytes, e.bytes.len())],
        TxKind::EndContract(e) => vec![field("contract", Contract, e.contract_id)],
        TxKind::ExtendContract(e) => vec![
            field("contract", Contract, e.contract_id),
            field("epochs", N, e.epochs),
        ],
    };
    (fields, truncated)
}

/// `GET /v1/accounts/{addr}/history?limit=N`: what `/v1/accounts/{addr}/txs`
/// lists, as summaries.
#[utoipa::path(
    get,
    path = "/v1/accounts/{addr}/history",
    tag = "browse",
    params(
        ("addr" = String, Path, description = "The account's address (bech32m, `sherd1…`)"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100,
            description = "Most transactions listed; default 20"),
    ),
    responses(
        (status = 200, description = "What `GET /v1/accounts/{addr}/txs` lists, newest first, \
            as summaries; `next` is always `null`", body = TxPage),
        (status = 400, description = "`bad_address`: not a sherd address; `bad_request`: a \
            parameter that is not a whole number in its range, or one this route does not take",
            body = ApiErrorBody),
        (status = 503, description = "`index_behind`: the account index (written just after \
            each block) did not reach the final head within 2 s; try again", body = ApiErrorBody),
    )
)]
pub(crate) async fn account_history(
    State(shared): State<Arc<Shared>>,
    addr: Result<Path<String>, PathRejection>,
    query: Params,
) -> BrowseResult<TxPage> {
    let address = parse_address(&path_param(addr)?)?;
    let map = params(query, &["limit"])?;
    let limit = number(&map, "limit", DEFAULT_PAGE, 1, MAX_PAGE)?;
    crate::api::index_caught_up(&shared).await?;
    let entries = shared
        .db
        .scan(
            col::ACCOUNT_TXS,
            &address.0,
            usize::try_from(limit).unwrap_or(usize::MAX),
        )
        .map_err(ApiError::internal)?;
    let mut blocks: HashMap<u64, Block> = HashMap::new();
    let mut txs = Vec::with_capacity(entries.len());
    for (_, value) in entries {
        let hash = <[u8; 32]>::try_from(value.as_slice())
            .map(Hash)
            .map_err(|_| ApiError::internal("account index entry is corrupt"))?;
        let Some(location) = tx_location(&shared, &hash)? else {
            continue;
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = blocks.entry(location.height) {
            let block = stored_block(&shared, location.height)?.ok_or_else(|| {
                ApiError::internal(format!("block {} of {hash} is missing", location.height))
            })?;
            slot.insert(block);
        }
        let Some(block) = blocks.get(&location.height) else {
            continue;
        };
        let tx = block
            .txs
            .get(usize::try_from(location.index).unwrap_or(usize::MAX))
            .ok_or_else(|| ApiError::internal(format!("{hash} is not at its position")))?;
        txs.push(summary(tx, hash, &location, block.header.timestamp_ms));
    }
    Ok(Json(TxPage { txs, next: None }))
}

// ---- contracts, providers, validators ----

fn contract_summary(c: &Contract) -> ContractSummary {
    let count = |status: FragmentStatus| {
        let n = c.fragments.iter().filter(|f| f.status == status).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    };
    let active = count(FragmentStatus::Active);
    let escrow_left = c.fragments.iter().fold(Amount::ZERO, |sum, f| {
        sum.checked_add(f.escrow_left).unwrap_or(Amount::MAX)
    });
    ContractSummary {
        id: c.id,
        client: c.client,
        object_root: c.object_root,
        k: c.k,
        m: c.m,
        fragment_size: c.fragment_size,
        start_height: c.start_height,
        last_period: c.last_period,
        active,
        lost: count(FragmentStatus::Lost),
        health: (f64::from(active) - f64::from(c.k)) / f64::from(c.m.max(1)),
        escrow_left,
    }
}

/// `GET /v1/contracts?offset=O&limit=N`: newest first (by start height,
/// then id).
#[utoipa::path(
    get,
    path = "/v1/contracts",
    tag = "browse",
    params(
        ("offset" = Option<u64>, Query, description = "How many contracts to skip; default 0"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100,
            description = "Most contracts on the page; default 20"),
    ),
    responses(
        (status = 200, description = "Contracts on chain, newest first (by start height, then \
            id)", body = ContractPage),
        (status = 400, description = "`bad_request`: a parameter that is not a whole number \
            in its range, or one this route does not take", body = ApiErrorBody),
    )
)]
pub(crate) async fn contract_page(
    State(shared): State<Arc<Shared>>,
    query: Params,
) -> BrowseResult<ContractPage> {
    let map = params(query, &["offset", "limit"])?;
    let offset = number(&map, "offset", 0, 0, u64::MAX)?;
    let limit = number(&map, "limit", DEFAULT_PAGE, 1, MAX_PAGE)?;
    let state = shared.db.state();
    let mut contracts = StateView::new(&state)
        .contracts()
        .map_err(ApiError::internal)?;
    contracts.sort_by(|a, b| {
        b.start_height
            .cmp(&a.start_height)
            .then_with(|| a.id.0.cmp(&b.id.0))
    });
    let total = u64::try_from(contracts.len()).unwrap_or(u64::MAX);
    let from = usize::try_from(offset).unwrap_or(usize::MAX);
    let page: Vec<ContractSummary> = contracts
        .iter()
        .skip(from)
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(contract_summary)
        .collect();
    let end = offset.saturating_add(u64::try_from(page.len()).unwrap_or(u64::MAX));
    Ok(Json(ContractPage {
        total,
        contracts: page,
        next_offset: (end < total).then_some(end),
    }))
}

/// `GET /v1/providers/stats`.
#[utoipa::path(
    get,
    path = "/v1/providers/stats",
    tag = "browse",
    responses((status = 200, description = "Per provider, by address, summed over the contract \
        fragments it holds (ended ones included while their contract is on chain)",
        body = ProviderStatsList))
)]
pub(crate) async fn provider_stats(
    State(shared): State<Arc<Shared>>,
) -> BrowseResult<ProviderStatsList> {
    let state = shared.db.state();
    let contracts = StateView::new(&state)
        .contracts()
        .map_err(ApiError::internal)?;
    let mut by_provider: BTreeMap<Address, ProviderStats> = BTreeMap::new();
    for c in &contracts {
        for f in &c.fragments {
            let s = by_provider
                .entry(f.provider)
                .or_insert_with(|| ProviderStats {
                    provider: f.provider,
                    fragments_active: 0,
                    fragments_lost: 0,
                    bytes_active: 0,
                    proofs_accepted: 0,
                    proofs_missed: 0,
                    escrow_left: Amount::ZERO,
                });
            match f.status {
                FragmentStatus::Active => {
                    s.fragments_active = s.fragments_active.saturating_add(1);
                    s.bytes_active = s.bytes_active.saturating_add(c.fragment_size);
                }
                FragmentStatus::Lost => s.fragments_lost = s.fragments_lost.saturating_add(1),
                FragmentStatus::Ended => {}
            }
            s.proofs_accepted = s.proofs_accepted.saturating_add(u64::from(f.accepted));
            s.proofs_missed = s.proofs_missed.saturating_add(u64::from(f.misses));
            s.escrow_left = s
                .escrow_left
                .checked_add(f.escrow_left)
                .unwrap_or(Amount::MAX);
        }
    }
    Ok(Json(ProviderStatsList {
        providers: by_provider.into_values().collect(),
    }))
}

fn entry(
    activity: &mut BTreeMap<Address, ValidatorActivity>,
    operator: Address,
) -> &mut ValidatorActivity {
    activity.entry(operator).or_insert(ValidatorActivity {
        operator,
        proposed: 0,
        signed: 0,
    })
}

/// `GET /v1/validators/activity?blocks=N`.
#[utoipa::path(
    get,
    path = "/v1/validators/activity",
    tag = "browse",
    params(("blocks" = Option<u64>, Query, minimum = 1, maximum = 500,
        description = "How many of the last finalized blocks to count; default 100")),
    responses(
        (status = 200, description = "Who proposed the blocks and who signed the distinct \
            finalization certificates stored with them", body = ActivityReport),
        (status = 400, description = "`bad_request`: a parameter that is not a whole number \
            in its range, or one this route does not take", body = ApiErrorBody),
    )
)]
pub(crate) async fn validator_activity(
    State(shared): State<Arc<Shared>>,
    query: Params,
) -> BrowseResult<ActivityReport> {
    let map = params(query, &["blocks"])?;
    let count = number(
        &map,
        "blocks",
        DEFAULT_ACTIVITY_BLOCKS,
        1,
        MAX_ACTIVITY_BLOCKS,
    )?;
    let head = finalized_height(&shared);
    let from = head.saturating_sub(count).saturating_add(1).max(1);
    let state = shared.db.state();
    let view = StateView::new(&state);
    let mut activity: BTreeMap<Address, ValidatorActivity> = BTreeMap::new();
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut sets = HashMap::new();
    for height in from..=head {
        let Some(bytes) = shared
            .db
            .get(col::BLOCKS, &height.to_be_bytes())
            .map_err(ApiError::internal)?
        else {
            continue;
        };
        let stored = StoredBlock::from_bytes(&bytes)
            .ok_or_else(|| ApiError::internal(format!("stored block {height} is corrupt")))?;
        let block = Block::from_bytes(&stored.block).map_err(ApiError::internal)?;
        let a = entry(&mut activity, block.header.proposer);
        a.proposed = a.proposed.saturating_add(1);
        // A certificate can finalize several blocks: count it once.
        let Ok(certificate) = Certificate::decode(&stored.certificate) else {
            continue;
        };
        if !seen.insert((certificate.epoch, certificate.view())) {
            continue;
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = sets.entry(certificate.epoch) {
            slot.insert(
                view.epoch_set(certificate.epoch)
                    .map_err(ApiError::internal)?,
            );
        }
        let Some(Some(set)) = sets.get(&certificate.epoch) else {
            continue;
        };
        for index in certificate.signers.iter() {
            if let Some(member) = set.members.get(index as usize) {
                let a = entry(&mut activity, member.operator);
                a.signed = a.signed.saturating_add(1);
            }
        }
    }
    Ok(Json(ActivityReport {
        from_height: from.min(head),
        to_height: head,
        certificates: u64::try_from(seen.len()).unwrap_or(u64::MAX),
        validators: activity.into_values().collect(),
    }))
}

// ---- this node ----

/// `GET /v1/finality`.
#[utoipa::path(
    get,
    path = "/v1/finality",
    tag = "browse",
    responses((status = 200, description = "The last 600 blocks this node committed as final \
        since it started, oldest first; the latency is from the proposer's clock to this \
        node's, so it includes their skew", body = FinalityReport))
)]
pub(crate) async fn finality(State(shared): State<Arc<Shared>>) -> BrowseResult<FinalityReport> {
    Ok(Json(FinalityReport {
        samples: shared.observed.samples(),
    }))
}

/// `GET /v1/peers`.
#[utoipa::path(
    get,
    path = "/v1/peers",
    tag = "browse",
    responses((status = 200, description = "The libp2p peers connected now (none on a dev \
        chain)", body = Peers))
)]
pub(crate) async fn peers(State(shared): State<Arc<Shared>>) -> BrowseResult<Peers> {
    let Some(net) = shared.observed.net.get() else {
        return Ok(Json(Peers {
            networked: false,
            count: 0,
            peers: Vec::new(),
        }));
    };
    let peers = tokio::time::timeout(PEERS_TIMEOUT, net.peers())
        .await
        .map_err(|_| ApiError::internal("the network task did not answer in time"))?
        .map_err(ApiError::internal)?;
    let mut peers: Vec<String> = peers.iter().map(ToString::to_string).collect();
    peers.sort();
    Ok(Json(Peers {
        networked: true,
        count: u64::try_from(peers.len()).unwrap_or(u64::MAX),
        peers,
    }))
}

// ---- search ----

/// `GET /v1/search?q=…`: a height, block id, transaction hash, address or
/// contract id; `400` for what is none of these, `404` for an unknown one.
#[utoipa::path(
    get,
    path = "/v1/search",
    tag = "browse",
    params(("q" = String, Query, description = "A block height or id, a transaction hash \
        (finalized or pending), an address (`sherd1…`) or a contract id")),
    responses(
        (status = 200, description = "What it is and its key", body = SearchHit),
        (status = 400, description = "`bad_request`: empty or none of these (not hex, too \
            long, a number too large to be a height), or a parameter this route does not take; \
            `bad_address`: a malformed address", body = ApiErrorBody),
        (status = 404, description = "`not_found`: a height above the finalized head or 0, or a \
            hash no transaction, block or contract has", body = ApiErrorBody),
    )
)]
pub(crate) async fn search(
    State(shared): State<Arc<Shared>>,
    query: Params,
) -> BrowseResult<SearchHit> {
    let map = params(query, &["q"])?;
    let q = map.get("q").map(|q| q.trim()).unwrap_or_default();
    resolve(&shared, q).map(Json)
}

fn resolve(shared: &Shared, q: &str) -> Result<SearchHit, ApiError> {
    if q.is_empty() {
        return Err(ApiError::bad_request(
            "search for an address (sherd1…), a transaction hash, a block height or id, or a contract id",
        ));
    }
    if q.len() > MAX_QUERY_LEN {
        return Err(ApiError::bad_request(format!(
            "`{}` is too long ({} characters) to be an address, a hash or a height",
            shorten(q),
            q.len()
        )));
    }
    if q.bytes().all(|b| b.is_ascii_digit()) {
        let height = q.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("{} is too large to be a block height", shorten(q)))
        })?;
        let head = finalized_height(shared);
        if height == 0 {
            return Err(ApiError::not_found(
                "height 0 is the genesis state, not a block; blocks start at 1",
            ));
        }
        if height > head {
            return Err(ApiError::not_found(format!(
                "no block at height {height} yet: the chain is finalized up to {head}"
            )));
        }
        return Ok(SearchHit {
            kind: SearchKind::Block,
            key: height.to_string(),
        });
    }
    let lower = q.to_ascii_lowercase();
    if lower.starts_with("sherd1") {
        let address = parse_address(&lower)?;
        return Ok(SearchHit {
            kind: SearchKind::Account,
            key: address.to_string(),
        });
    }
    if lower.len() == 64 && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
        let hash = parse_hash(&lower, "hash")?;
        let key = hash.to_string();
        if tx_location(shared, &hash)?.is_some() || shared.mempool().get(&hash).is_some() {
            return Ok(SearchHit {
                kind: SearchKind::Tx,
                key,
            });
        }
        if let Some(height) = block_height(shared, &hash)? {
            return Ok(SearchHit {
                kind: SearchKind::Block,
                key: height.to_string(),
            });
        }
        let state = shared.db.state();
        if StateView::new(&state)
            .contract(&hash)
            .map_err(ApiError::internal)?
            .is_some()
        {
            return Ok(SearchHit {
                kind: SearchKind::Contract,
                key,
            });
        }
        return Err(ApiError::not_found(format!(
            "no transaction, block or contract has id {key}"
        )));
    }
    Err(ApiError::bad_request(format!(
        "`{}` is not an address (sherd1…), a hash (64 hex digits) or a block height",
        shorten(q)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finality_keeps_the_newest_samples() {
        let observed = Observed::default();
        for height in 0..(FINALITY_SAMPLES as u64 + 5) {
            observed.record_final(height, 0, 1);
        }
        let samples = observed.samples();
        assert_eq!(samples.len(), FINALITY_SAMPLES);
        assert_eq!(samples.first().map(|s| s.height), Some(5));
    }

    #[test]
    fn numbers_are_bounded() {
        let map: HashMap<String, String> = [
            ("a".to_string(), "7".to_string()),
            ("b".to_string(), "0".to_string()),
            ("c".to_string(), "99999999999999999999999".to_string()),
            ("d".to_string(), "-1".to_string()),
        ]
        .into();
        assert_eq!(number(&map, "a", 1, 1, 10).unwrap(), 7);
        assert_eq!(number(&map, "missing", 3, 1, 10).unwrap(), 3);
        assert!(number(&map, "b", 1, 1, 10).is_err());
        assert!(number(&map, "c", 1, 1, u64::MAX).is_err());
        let e = number(&map, "d", 1, 1, 10).unwrap_err();
        assert!(e.message().contains("`d`"), "{e}");
    }

    /// utoipa takes literals only: the document writes this module's
    /// bounds and defaults out, and they are these.
    #[test]
    fn the_document_states_the_limits() {
        let doc = serde_json::to_value(crate::api::openapi()).unwrap();
        for (path, name, max, default) in [
            ("/v1/blocks", "limit", MAX_PAGE, DEFAULT_PAGE),
            ("/v1/blocks/{height}/txs", "limit", MAX_PAGE, MAX_PAGE),
            ("/v1/txs", "limit", MAX_PAGE, DEFAULT_PAGE),
            (
                "/v1/accounts/{addr}/history",
                "limit",
                MAX_PAGE,
                DEFAULT_PAGE,
            ),
            ("/v1/contracts", "limit", MAX_PAGE, DEFAULT_PAGE),
            (
                "/v1/validators/activity",
                "blocks",
                MAX_ACTIVITY_BLOCKS,
                DEFAULT_ACTIVITY_BLOCKS,
            ),
        ] {
            let parameters = doc["paths"][path]["get"]["parameters"].as_array();
            let parameter = parameters
                .into_iter()
                .flatten()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("{path} documents no `{name}`"));
            assert_eq!(parameter["schema"]["maximum"], max, "{path} `{name}`");
            let text = parameter["description"].as_str().unwrap_or_default();
            assert!(
                text.contains(&format!("default {default}")),
                "{path} `{name}`: {text}"
            );
        }
        let said = |path: &str, n: usize| {
            let text = doc["paths"][path]["get"]["responses"]["200"]["description"]
                .as_str()
                .unwrap_or_default();
            assert!(text.contains(&format!("{n} ")), "{path}: {text}");
        };
        said("/v1/txs", MAX_SCANNED_BLOCKS as usize);
        said("/v1/finality", FINALITY_SAMPLES);
    }

    #[test]
    fn kind_names_are_snake_case() {
        assert_eq!(kind_name(&TxKind::Withdraw), "withdraw");
    }
}
