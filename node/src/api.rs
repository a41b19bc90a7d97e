//! The HTTP JSON API (axum), exactly as the contract in the crate README,
//! described by the OpenAPI document it serves at `GET /v1/openapi.json`.
//!
//! Requests and answers are `sherd-wallet`'s types
//! ([`sherd_wallet::client::types`]): the client reads what the handlers
//! write. Every route is listed once, in [`api`], with its `#[utoipa::path]`
//! description; the router and the document both come from that list.
//!
//! Every error is `{ "error", "code" }` ([`ApiErrorBody`]) with a 4xx/5xx
//! status; malformed JSON, hex, addresses and oversized bodies
//! ([`MAX_BODY_BYTES`]) are 4xx. The limits a client can reach (rate
//! limits, requests in flight, deadlines, connections) are in
//! [`crate::limits`]; a refusal that passes with time says when to retry
//! (`Retry-After`).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Extension, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use sherd_ledger::state::{Contract, Validator};
use sherd_ledger::tx::kind::Transfer;
use sherd_ledger::{Address, Amount, Block, Hash, StateView, Transaction, TxKind, VerifiedTx};
use sherd_wallet::client::types::{
    kind_name, AccountInfo, ApiErrorBody, BatchRequest, BatchResult, BatchSubmitted, BlockInfo,
    ContractInfo, EndpointInfo, FaucetAmount, FaucetReceipt, FaucetRequest, NodeIdentity,
    ProofOutcome, ProofVerdictInfo, ProviderInfo, ProviderList, ProviderReport, RepairInfo,
    RepairList, Status, SubmitRequest, Submitted, TxInfo, TxList, TxOutcome, TxStatus, Unbonding,
    ValidatorInfo, ValidatorStatus, Validators,
};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::mempool::MempoolError;
use crate::shared::Shared;
use crate::store::{col, StoredBlock, TxLocation};

/// Largest request body.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// Default faucet grant, whole tokens.
pub const FAUCET_DEFAULT_TOKENS: u64 = 1_000;
/// Largest faucet grant, whole tokens.
pub const FAUCET_MAX_TOKENS: u64 = 1_000_000;
/// One faucet grant per address per this long.
pub const FAUCET_INTERVAL: Duration = Duration::from_secs(10);
/// Most transactions `/v1/accounts/{addr}/txs` answers.
pub const ACCOUNT_TXS_LIMIT: usize = 100;
/// Most transactions in one `POST /v1/txs/batch`.
pub const MAX_SUBMIT_BATCH: usize = 1_024;
/// The `error` of the answer to a route that does not exist.
pub const NO_SUCH_ROUTE: &str = "no such route; see GET /v1/openapi.json or node/README.md";

/// An API error: status, stable code, message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Seconds after which the request may succeed (`Retry-After`).
    retry_after: Option<u64>,
}

impl ApiError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// What went wrong, for a person.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The JSON body this error answers.
    pub fn body(&self) -> ApiErrorBody {
        ApiErrorBody {
            error: self.message.clone(),
            code: self.code.to_string(),
        }
    }

    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The error, answered with `Retry-After: seconds`.
    pub(crate) fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "api.internal");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            error.to_string(),
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The document's frame: title, version (the crate's), description.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "sherd node API",
        description = "The HTTP JSON API of a sherd node: chain status, accounts, blocks, \
            transactions (submit and lookup), validators, storage providers, contracts, \
            repairs, endpoints, this node's identity and provider, Prometheus metrics, and \
            the pages the web explorer at `/` reads (tag `browse`).\n\n\
            Amounts are given twice: a decimal string of whole tokens (`\"12.5\"`, exact, \
            9 decimals at most) and integer base units (`_base` suffix). Hashes, ids, keys \
            and signatures are lowercase hex; addresses are bech32m (`sherd1…`).\n\n\
            Every error is a 4xx or 5xx status with `{ \"error\", \"code\" }` \
            (`ApiErrorBody`); an unknown route answers `404 not_found`, a known route \
            with another method `405 bad_request`, a body over 4 MiB `413 bad_request`.\n\n\
            Limits (the node's `[api_limits]`): any route may answer `503 overloaded` \
            (too many requests in flight) or `408 request_timeout` (no answer within the \
            deadline, 30 s by default, of the headers, a slow body included; the connection \
            is closed); submissions and the faucet are rate limited per client address \
            (`429 rate_limited`). 429 and 503 say when to retry in `Retry-After` (seconds). \
            Headers over 16 KiB answer `431` without a body; a connection that does not \
            send its headers in time (10 s by default) is closed."
    ),
    tags(
        (name = "chain", description = "The chain: status, accounts, blocks, validators"),
        (name = "transactions", description = "Submit transactions and follow them to finality"),
        (name = "storage", description = "Storage providers, contracts, repairs, endpoints"),
        (name = "node", description = "This node: identity, provider, faucet, metrics, this document"),
        (name = "browse", description = "Read-only pages for people, as the explorer at `/` \
            reads them: blocks, transactions and contracts a page at a time, a transaction's \
            fields, provider and validator activity, finality as this node measured it, its \
            peers, search. Every list is bounded; amounts are decimal strings of whole tokens \
            only (no `_base` twin)"),
    )
)]
struct ApiDoc;

/// Every route with its OpenAPI description: the router and the document
/// are both built from this one list. A new handler gets `#[utoipa::path]`
/// and a `.routes(routes!(handler))` line here (or in a module's own
/// `OpenApiRouter`, merged here with `.merge(...)`).
fn api() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(status))
        .routes(routes!(account))
        .routes(routes!(account_txs))
        .routes(routes!(block))
        .routes(routes!(tx))
        .routes(routes!(submit))
        .routes(routes!(submit_batch))
        .routes(routes!(validators))
        .routes(routes!(providers))
        .routes(routes!(contract))
        .routes(routes!(repairs))
        .routes(routes!(endpoint))
        .routes(routes!(faucet))
        .routes(routes!(node_identity))
        .routes(routes!(provider_status))
        .routes(routes!(crate::metrics::serve))
        .routes(routes!(openapi_json))
        .routes(routes!(crate::browse::block_page))
        .routes(routes!(crate::browse::block_by_id))
        .routes(routes!(crate::browse::block_txs))
        .routes(routes!(crate::browse::recent_txs))
        .routes(routes!(crate::browse::tx_fields))
        .routes(routes!(crate::browse::account_history))
        .routes(routes!(crate::browse::contract_page))
        .routes(routes!(crate::browse::provider_stats))
        .routes(routes!(crate::browse::validator_activity))
        .routes(routes!(crate::browse::finality))
        .routes(routes!(crate::browse::peers))
        .routes(routes!(crate::browse::search))
}

/// The OpenAPI 3.1 document of every route, built once.
pub fn openapi() -> &'static OpenApi {
    static DOCUMENT: OnceLock<OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = api().into_openapi();
        add_internal_error(&mut document);
        add_limit_errors(&mut document);
        document
    })
}

/// Every route is under the request limits of [`crate::limits`]: each
/// operation documents `503 overloaded` and `408 request_timeout` (a
/// handler that documents its own 503 names both codes).
fn add_limit_errors(document: &mut OpenApi) {
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ApiErrorBody")))
                    .build(),
            )
            .build()
    };
    let overloaded = error(
        "`overloaded`: the node is handling as many requests as it takes at once; \
         `Retry-After` says when to retry",
    );
    let timeout = error(
        "`request_timeout`: no answer within the request deadline (30 s by default) \
         of the headers, reading the body included; the connection is closed",
    );
    for operation in operations(document) {
        let responses = &mut operation.responses.responses;
        responses
            .entry("503".into())
            .or_insert_with(|| overloaded.clone().into());
        responses
            .entry("408".into())
            .or_insert_with(|| timeout.clone().into());
    }
}

/// Every operation of the document.
fn operations(
    document: &mut OpenApi,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    document.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
    })
}

/// Any route may fail inside (a database read): each operation documents
/// the `500 internal` answer.
fn add_internal_error(document: &mut OpenApi) {
    let internal = ResponseBuilder::new()
        .description("`internal`: the node failed to read its own data")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ApiErrorBody")))
                .build(),
        )
        .build();
    for operation in operations(document) {
        operation
            .responses
            .responses
            .entry("500".into())
            .or_insert_with(|| internal.clone().into());
    }
}

/// The API router.
pub fn router(shared: Arc<Shared>) -> Router {
    routes().with_state(shared)
}

/// The router before it is given the node's state: every route of [`api`],
/// the explorer's files, the JSON answers for unknown routes and methods,
/// and the body limit.
pub fn routes() -> Router<Arc<Shared>> {
    let (routes, _) = api().split_for_parts();
    routes
        // Pages for a browser, not API: the only routes outside the
        // document (`crate::browse::EXPLORER_FILES`; the openapi test
        // checks that).
        .merge(crate::browse::explorer())
        .fallback(|| async { ApiError::not_found(NO_SUCH_ROUTE) })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "bad_request",
                "this route does not take that method; see GET /v1/openapi.json or node/README.md",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// `GET /v1/openapi.json`.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "node",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object))
)]
async fn openapi_json() -> Json<&'static OpenApi> {
    Json(openapi())
}

pub(crate) fn path_param(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(p)| p)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// `text` as an error message quotes it: at most 80 characters.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

pub(crate) fn parse_address(text: &str) -> Result<Address, ApiError> {
    Address::from_str(text).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_address",
            format!("`{}` is not a sherd address: {e}", shorten(text)),
        )
    })
}

pub(crate) fn parse_hash(text: &str, what: &str) -> Result<Hash, ApiError> {
    Hash::from_str(text).map_err(|e| {
        ApiError::bad_request(format!(
            "`{}` is not a {what} (64 lowercase hex digits): {e}",
            shorten(text)
        ))
    })
}

/// Where the finalized transaction `hash` is, if it is.
pub(crate) fn tx_location(shared: &Shared, hash: &Hash) -> Result<Option<TxLocation>, ApiError> {
    let Some(bytes) = shared
        .db
        .get(col::TXS, &hash.0)
        .map_err(ApiError::internal)?
    else {
        return Ok(None);
    };
    TxLocation::from_bytes(&bytes)
        .map(Some)
        .ok_or_else(|| ApiError::internal(format!("stored location of {hash} is corrupt")))
}

/// A request body of type `T`; `expected` shows its shape in the error.
fn json_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    expected: &str,
) -> Result<T, ApiError> {
    let bytes = body.map_err(|e| {
        let status = e.status();
        ApiError::new(
            if status.is_client_error() {
                status
            } else {
                StatusCode::BAD_REQUEST
            },
            "bad_request",
            format!(
                "cannot read the request body: {} (at most {MAX_BODY_BYTES} bytes)",
                e.body_text()
            ),
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        if e.is_data() {
            ApiError::bad_request(format!("expected {expected}: {e}"))
        } else {
            ApiError::bad_request(format!("the body is not valid JSON: {e}"))
        }
    })
}

/// `GET /v1/status`: the chain's head, this node's view and the chain's
/// parameters.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "chain",
    responses((status = 200, description = "The chain's status", body = Status))
)]
async fn status(State(shared): State<Arc<Shared>>) -> ApiResult<Status> {
    let s = shared.committed_status();
    let pool = shared.mempool().len();
    Ok(Json(Status {
        chain_id: shared.params.chain_id.as_str().to_string(),
        height: s.height,
        finalized_height: s.head.height,
        latest_block_id: s.head.block_id.to_string(),
        state_root: s.head.state_root.to_string(),
        epoch: s.epoch,
        view: s.view,
        mempool_size: pool as u64,
        dev: shared.dev,
        faucet: shared.faucet.is_some(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        params: Some(shared.params.clone()),
    }))
}

fn staked_by(
    view: &StateView<'_, crate::store::StateDb<'_>>,
    address: &Address,
) -> Result<Amount, ApiError> {
    let mut total = Amount::ZERO;
    if let Some(v) = view.validator(address).map_err(ApiError::internal)? {
        total = total.checked_add(v.self_stake).unwrap_or(Amount::MAX);
    }
    for v in view.validators().map_err(ApiError::internal)? {
        let d = view
            .delegation(&v.operator, address)
            .map_err(ApiError::internal)?;
        total = total.checked_add(d).unwrap_or(Amount::MAX);
    }
    Ok(total)
}

/// `GET /v1/accounts/{addr}`.
#[utoipa::path(
    get,
    path = "/v1/accounts/{addr}",
    tag = "chain",
    params(("addr" = String, Path, description = "The account's address (bech32m, `sherd1…`)")),
    responses(
        (status = 200, description = "The account; an unknown address answers zeros", body = AccountInfo),
        (status = 400, description = "`bad_address`: not a sherd address", body = ApiErrorBody),
    )
)]
async fn account(
    State(shared): State<Arc<Shared>>,
    addr: Result<Path<String>, PathRejection>,
) -> ApiResult<AccountInfo> {
    let address = parse_address(&path_param(addr)?)?;
    let state = shared.db.state();
    let view = StateView::new(&state);
    let account = view.account(&address).map_err(ApiError::internal)?;
    let staked = staked_by(&view, &address)?;
    let unbonding = view
        .unbondings(&address)
        .map_err(ApiError::internal)?
        .0
        .iter()
        .map(|u| Unbonding {
            amount: u.amount,
            amount_base: u.amount.base_units(),
            release_epoch: u.release_epoch,
        })
        .collect();
    Ok(Json(AccountInfo {
        address: address.to_string(),
        balance: account.balance,
        balance_base: account.balance.base_units(),
        nonce: account.nonce,
        staked,
        staked_base: staked.base_units(),
        unbonding,
    }))
}

/// A finalized block read from the database.
pub(crate) fn stored_block(shared: &Shared, height: u64) -> Result<Option<Block>, ApiError> {
    let Some(bytes) = shared
        .db
        .get(col::BLOCKS, &height.to_be_bytes())
        .map_err(ApiError::internal)?
    else {
        return Ok(None);
    };
    let stored = StoredBlock::from_bytes(&bytes)
        .ok_or_else(|| ApiError::internal(format!("stored block {height} is corrupt")))?;
    Block::from_bytes(&stored.block)
        .map(Some)
        .map_err(ApiError::internal)
}

fn tx_info(tx: &Transaction, hash: &Hash, location: Option<&TxLocation>) -> TxInfo {
    let body = &tx.body;
    TxInfo {
        hash: hash.to_string(),
        status: if location.is_some() {
            TxStatus::Finalized
        } else {
            TxStatus::Pending
        },
        height: location.map(|l| l.height),
        index: location.map(|l| u64::from(l.index)),
        sender: body.sender.to_string(),
        nonce: body.nonce,
        fee: body.fee,
        fee_base: body.fee.base_units(),
        kind: kind_name(&body.kind),
        outcome: location.map(|l| {
            if l.failure.is_some() {
                TxOutcome::Failed
            } else {
                TxOutcome::Success
            }
        }),
        reason: location.and_then(|l| l.failure.clone()),
        proofs: location
            .map(|l| proof_verdicts(tx, &l.proofs))
            .unwrap_or_default(),
    }
}

/// A `SubmitProofs`'s per-proof verdicts, with the proof each is about.
fn proof_verdicts(
    tx: &Transaction,
    verdicts: &[crate::store::ProofOutcome],
) -> Vec<ProofVerdictInfo> {
    let TxKind::SubmitProofs(batch) = &tx.body.kind else {
        return Vec::new();
    };
    verdicts
        .iter()
        .zip(&batch.proofs)
        .zip(0u32..)
        .map(|((v, p), index)| {
            let (outcome, escrow_paid_base, reward_base, reason) = match v {
                crate::store::ProofOutcome::Accepted { escrow, reward } => {
                    (ProofOutcome::Accepted, Some(*escrow), Some(*reward), None)
                }
                crate::store::ProofOutcome::Refused(reason) => {
                    (ProofOutcome::Refused, None, None, Some(reason.clone()))
                }
            };
            ProofVerdictInfo {
                index,
                contract: p.contract_id,
                fragment: p.fragment_index,
                period: p.period,
                outcome,
                escrow_paid_base,
                reward_base,
                reason,
            }
        })
        .collect()
}

/// A finalized transaction: its location and the transaction.
fn finalized_tx(
    shared: &Shared,
    hash: &Hash,
    blocks: &mut HashMap<u64, Block>,
) -> Result<Option<TxInfo>, ApiError> {
    let Some(location) = tx_location(shared, hash)? else {
        return Ok(None);
    };
    if let std::collections::hash_map::Entry::Vacant(slot) = blocks.entry(location.height) {
        let block = stored_block(shared, location.height)?.ok_or_else(|| {
            ApiError::internal(format!("block {} of {hash} is missing", location.height))
        })?;
        slot.insert(block);
    }
    let tx = blocks
        .get(&location.height)
        .and_then(|b| {
            b.txs
                .get(usize::try_from(location.index).unwrap_or(usize::MAX))
        })
        .ok_or_else(|| ApiError::internal(format!("{hash} is not at its stored position")))?;
    Ok(Some(tx_info(tx, hash, Some(&location))))
}

/// `GET /v1/accounts/{addr}/txs`.
#[utoipa::path(
    get,
    path = "/v1/accounts/{addr}/txs",
    tag = "chain",
    params(("addr" = String, Path, description = "The account's address (bech32m)")),
    responses(
        (status = 200, description = "The transactions the address sent and the transfers it \
            received, finalized, newest first, at most 100", body = TxList),
        (status = 400, description = "`bad_address`: not a sherd address", body = ApiErrorBody),
    )
)]
async fn account_txs(
    State(shared): State<Arc<Shared>>,
    addr: Result<Path<String>, PathRejection>,
) -> ApiResult<TxList> {
    let address = parse_address(&path_param(addr)?)?;
    let entries = shared
        .db
        .scan(col::ACCOUNT_TXS, &address.0, ACCOUNT_TXS_LIMIT)
        .map_err(ApiError::internal)?;
    let mut blocks = HashMap::new();
    let mut txs = Vec::with_capacity(entries.len());
    for (_, value) in entries {
        let hash = <[u8; 32]>::try_from(value.as_slice())
            .map(Hash)
            .map_err(|_| ApiError::internal("account index entry is corrupt"))?;
        if let Some(tx) = finalized_tx(&shared, &hash, &mut blocks)? {
            txs.push(tx);
        }
    }
    Ok(Json(TxList { txs }))
}

/// `GET /v1/blocks/{height}`.
#[utoipa::path(
    get,
    path = "/v1/blocks/{height}",
    tag = "chain",
    params(("height" = String, Path, description = "A height (1 or more) or `latest`, the final head")),
    responses(
        (status = 200, description = "The finalized block", body = BlockInfo),
        (status = 400, description = "`bad_request`: neither a number nor `latest`", body = ApiErrorBody),
        (status = 404, description = "`not_found`: no finalized block there (height 0 is \
            the genesis state, not a block)", body = ApiErrorBody),
    )
)]
async fn block(
    State(shared): State<Arc<Shared>>,
    height: Result<Path<String>, PathRejection>,
) -> ApiResult<BlockInfo> {
    let text = path_param(height)?;
    let height = if text == "latest" {
        shared.committed_status().head.height
    } else {
        text.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "`{text}` is not a block height (a number or `latest`)"
            ))
        })?
    };
    if height == 0 {
        return Err(ApiError::not_found(
            "height 0 is the genesis state, not a block; blocks start at 1",
        ));
    }
    let block = stored_block(&shared, height)?
        .ok_or_else(|| ApiError::not_found(format!("no finalized block at height {height}")))?;
    let h = &block.header;
    let id = h.id().map_err(ApiError::internal)?;
    let txs = block
        .tx_ids()
        .map_err(ApiError::internal)?
        .iter()
        .map(Hash::to_string)
        .collect();
    Ok(Json(BlockInfo {
        height: h.height,
        id: id.to_string(),
        view: h.view,
        epoch: h.epoch,
        parent: h.parent.to_string(),
        proposer: h.proposer.to_string(),
        timestamp_ms: h.timestamp_ms,
        tx_root: h.tx_root.to_string(),
        state_root: h.state_root.to_string(),
        txs,
    }))
}

/// `GET /v1/txs/{hash}`.
#[utoipa::path(
    get,
    path = "/v1/txs/{hash}",
    tag = "transactions",
    params(("hash" = String, Path, description = "The transaction id (64 lowercase hex digits)")),
    responses(
        (status = 200, description = "The transaction, pending (in the mempool) or finalized; \
            a client waits for finality by polling until `status` is `finalized`", body = TxInfo),
        (status = 400, description = "`bad_request`: not a transaction hash", body = ApiErrorBody),
        (status = 404, description = "`not_found`: unknown", body = ApiErrorBody),
    )
)]
async fn tx(
    State(shared): State<Arc<Shared>>,
    hash: Result<Path<String>, PathRejection>,
) -> ApiResult<TxInfo> {
    let hash = parse_hash(&path_param(hash)?, "transaction hash")?;
    if let Some(tx) = finalized_tx(&shared, &hash, &mut HashMap::new())? {
        return Ok(Json(tx));
    }
    let pending = shared.mempool().get(&hash).map(|v| v.tx().clone());
    match pending {
        Some(tx) => Ok(Json(tx_info(&tx, &hash, None))),
        None => Err(ApiError::not_found(format!(
            "transaction {hash} is unknown"
        ))),
    }
}

/// Checks `tx` and puts it in the mempool; gossips it when networked.
pub(crate) fn admit(shared: &Shared, tx: Transaction) -> Result<Hash, ApiError> {
    let vtx = sherd_ledger::verify(tx).map_err(bad_signature)?;
    admit_verified(shared, vtx, true)
}

fn bad_signature(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_transaction", e.to_string())
}

/// Puts a transaction whose signature is checked in the mempool; gossips it
/// when networked and `gossip` (not for one that came by gossip).
pub(crate) fn admit_verified(
    shared: &Shared,
    vtx: VerifiedTx,
    gossip: bool,
) -> Result<Hash, ApiError> {
    let state = shared.db.state();
    let sender = vtx.tx().body.sender;
    let account = StateView::new(&state)
        .find_account(&sender)
        .map_err(ApiError::internal)?;
    // A final transaction used up its nonce: only then can it be a replay.
    if account.is_some_and(|a| vtx.tx().body.nonce < a.nonce) {
        if let Some(bytes) = shared
            .db
            .get(col::TXS, &vtx.id().0)
            .map_err(ApiError::internal)?
        {
            let height = TxLocation::from_bytes(&bytes).map_or(0, |l| l.height);
            shared.metrics.txs_rejected.inc();
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "rejected",
                format!(
                    "transaction {} is already final at height {height} (a replay)",
                    vtx.id()
                ),
            ));
        }
    }
    // Encoded before the mempool takes it, only when there are peers.
    let wire = shared
        .tx_gossip
        .get()
        .filter(|_| gossip)
        .and_then(|gossip| Some((gossip, vtx.tx().to_bytes().ok()?)));
    let result = shared.mempool().insert(vtx, &shared.params, account);
    match result {
        Ok(hash) => {
            shared.mempool_notify.notify_one();
            if let Some((gossip, bytes)) = wire {
                // Full: the mempool announces it again later.
                let _ = gossip.try_send(bytes);
            }
            Ok(hash)
        }
        Err(e) => {
            shared.metrics.txs_rejected.inc();
            Err(match e {
                full @ MempoolError::Full { .. } => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "mempool_full",
                    full.to_string(),
                ),
                rejected => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "rejected",
                    rejected.to_string(),
                ),
            })
        }
    }
}

/// A transaction from the hex of its wire encoding, in request `field`.
fn decode_tx(text: &str, field: &str) -> Result<Transaction, ApiError> {
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_transaction", message);
    let bytes = hex::decode(text).map_err(|e| bad(format!("{field} is not hex: {e}")))?;
    Transaction::from_bytes(&bytes)
        .map_err(|e| bad(format!("{field} does not decode as a transaction: {e}")))
}

/// `POST /v1/txs`.
#[utoipa::path(
    post,
    path = "/v1/txs",
    tag = "transactions",
    request_body = SubmitRequest,
    responses(
        (status = 202, description = "In the mempool", body = Submitted),
        (status = 400, description = "`bad_transaction`: does not decode, bad signature; \
            `bad_request`: not the documented body", body = ApiErrorBody),
        (status = 408, description = "`request_timeout`: the body was not received within the \
            request deadline (30 s by default); the connection is closed", body = ApiErrorBody),
        (status = 413, description = "`bad_request`: a body over 4 MiB", body = ApiErrorBody),
        (status = 422, description = "`rejected`: wrong chain, nonce, fee, cannot pay, a replay",
            body = ApiErrorBody),
        (status = 429, description = "`rate_limited`: this client address submitted more \
            transactions than its rate limit (2,500 a second, 5,000 at once by default); \
            `Retry-After` says when to retry", body = ApiErrorBody),
        (status = 503, description = "`mempool_full`: the mempool is full; `overloaded`: the \
            node is handling as many requests as it takes at once (`Retry-After`)",
            body = ApiErrorBody),
    )
)]
async fn submit(
    State(shared): State<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let request: SubmitRequest = json_body(
        body,
        "{ \"tx\": \"<hex of the transaction's wire encoding>\" }",
    )?;
    let hash = admit(&shared, decode_tx(&request.tx, "`tx`")?)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Submitted {
            hash: hash.to_string(),
        }),
    ))
}

/// `POST /v1/txs/batch`: many transactions in one request, their
/// signatures checked together; one result per transaction, in order.
#[utoipa::path(
    post,
    path = "/v1/txs/batch",
    tag = "transactions",
    request_body = BatchRequest,
    responses(
        (status = 200, description = "One result per transaction, in order: its hash, or its \
            refusal with the codes of `POST /v1/txs`", body = BatchSubmitted),
        (status = 400, description = "`bad_request`: `txs` missing, not an array of strings, \
            empty or longer than 1,024", body = ApiErrorBody),
        (status = 408, description = "`request_timeout`: the body was not received within the \
            request deadline (30 s by default); the connection is closed", body = ApiErrorBody),
        (status = 413, description = "`bad_request`: a body over 4 MiB", body = ApiErrorBody),
        (status = 429, description = "`rate_limited`: this client address submitted more \
            transactions than its rate limit (each transaction of the batch counts; 2,500 a \
            second, 5,000 at once by default); nothing of the batch was admitted; \
            `Retry-After` says when to retry", body = ApiErrorBody),
        (status = 503, description = "`overloaded`: the node is handling as many requests as \
            it takes at once (`Retry-After`)", body = ApiErrorBody),
    )
)]
async fn submit_batch(
    State(shared): State<Arc<Shared>>,
    charge: Option<Extension<crate::limits::Charge>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<BatchSubmitted> {
    let request: BatchRequest = json_body(
        body,
        "{ \"txs\": [\"<hex of a transaction's wire encoding>\", ...] }",
    )?;
    let items = request.txs;
    if items.is_empty() || items.len() > MAX_SUBMIT_BATCH {
        return Err(ApiError::bad_request(format!(
            "`txs` must hold 1 to {MAX_SUBMIT_BATCH} transactions, not {}",
            items.len()
        )));
    }
    // The request paid for one transaction as it came in; the rest now,
    // before any of them is decoded or checked.
    if let Some(Extension(charge)) = charge {
        charge.take(items.len().saturating_sub(1))?;
    }
    let decoded: Vec<Result<Transaction, ApiError>> = items
        .iter()
        .enumerate()
        .map(|(i, text)| decode_tx(text, &format!("`txs[{i}]`")))
        .collect();
    // One batch equation for all that decode; one check each only if it fails.
    let mut good = Vec::with_capacity(decoded.len());
    let slots: Vec<Result<(), ApiError>> = decoded
        .into_iter()
        .map(|d| d.map(|tx| good.push(tx)))
        .collect();
    let mut verified = sherd_ledger::verify_each(good).into_iter();
    let results = slots
        .into_iter()
        .map(|slot| {
            slot.and_then(|()| {
                verified
                    .next()
                    .ok_or_else(|| ApiError::internal("lost a transaction"))?
                    .map_err(bad_signature)
            })
            .and_then(|vtx| admit_verified(&shared, vtx, true))
        })
        .map(|r| match r {
            Ok(hash) => BatchResult::Admitted(Submitted {
                hash: hash.to_string(),
            }),
            Err(e) => BatchResult::Refused(e.body()),
        })
        .collect();
    Ok(Json(BatchSubmitted { results }))
}

fn validator_info(v: &Validator, power: u64, epoch: u64) -> ValidatorInfo {
    let status = if v.jailed_until > epoch {
        ValidatorStatus::Jailed
    } else if power > 0 {
        ValidatorStatus::Active
    } else {
        ValidatorStatus::Inactive
    };
    ValidatorInfo {
        operator: v.operator.to_string(),
        bls_pubkey: hex::encode(v.bls_pubkey),
        commission_bps: v.commission_bps,
        self_stake: v.self_stake,
        self_stake_base: v.self_stake.base_units(),
        delegated: v.delegated,
        delegated_base: v.delegated.base_units(),
        voting_power: power,
        status,
        jailed_until: v.jailed_until,
    }
}

/// `GET /v1/validators`.
#[utoipa::path(
    get,
    path = "/v1/validators",
    tag = "chain",
    responses((status = 200, description = "Every validator on chain and its standing in the \
        current epoch", body = Validators))
)]
async fn validators(State(shared): State<Arc<Shared>>) -> ApiResult<Validators> {
    let epoch = shared.status().epoch;
    let state = shared.db.state();
    let view = StateView::new(&state);
    let set = view
        .epoch_set(epoch)
        .map_err(ApiError::internal)?
        .unwrap_or_default();
    let validators = view
        .validators()
        .map_err(ApiError::internal)?
        .iter()
        .map(|v| {
            let power = set
                .members
                .iter()
                .find(|m| m.operator == v.operator)
                .map_or(0, |m| m.power);
            validator_info(v, power, epoch)
        })
        .collect();
    Ok(Json(Validators { epoch, validators }))
}

/// `GET /v1/providers`.
#[utoipa::path(
    get,
    path = "/v1/providers",
    tag = "storage",
    responses((status = 200, description = "Every advertised provider, with its endpoint",
        body = ProviderList))
)]
async fn providers(State(shared): State<Arc<Shared>>) -> ApiResult<ProviderList> {
    let state = shared.db.state();
    let view = StateView::new(&state);
    let misses = crate::repairer::recent_misses(&view.contracts().map_err(ApiError::internal)?);
    let mut providers = Vec::new();
    for (address, ad) in view.providers().map_err(ApiError::internal)? {
        let endpoint = view
            .endpoint(&address)
            .map_err(ApiError::internal)?
            .map(|e| endpoint_info(&address, &e));
        providers.push(ProviderInfo {
            provider: address,
            capacity_bytes: ad.capacity_bytes,
            used_bytes: ad.used_bytes,
            price_per_gib_epoch: ad.price_per_gib_epoch,
            price_per_gib_epoch_base: ad.price_per_gib_epoch.base_units(),
            collateral_per_gib: ad.collateral_per_gib,
            collateral_per_gib_base: ad.collateral_per_gib.base_units(),
            min_duration_epochs: ad.min_duration_epochs,
            max_duration_epochs: ad.max_duration_epochs,
            updated_at: ad.updated_at,
            recent_misses: misses.get(&address).copied().unwrap_or(0),
            endpoint,
        });
    }
    Ok(Json(ProviderList { providers }))
}

/// An endpoint: the libp2p text forms, and the binary forms in hex (what a
/// client dials with).
fn endpoint_info(principal: &Address, e: &sherd_ledger::state::Endpoint) -> EndpointInfo {
    // Binary libp2p forms on chain; their text forms here (hex if a
    // registrant stored something else).
    let multiaddrs = e
        .multiaddrs
        .iter()
        .map(|m| {
            libp2p::Multiaddr::try_from(m.0.clone())
                .map(|a| a.to_string())
                .unwrap_or_else(|_| hex::encode(&m.0))
        })
        .collect();
    let peer_id = libp2p::PeerId::from_bytes(&e.peer_id)
        .map(|p| p.to_string())
        .unwrap_or_else(|_| hex::encode(&e.peer_id));
    EndpointInfo {
        principal: *principal,
        role: e.role,
        peer_id,
        peer_id_hex: hex::encode(&e.peer_id),
        multiaddrs,
        multiaddrs_hex: e.multiaddrs.iter().map(|m| hex::encode(&m.0)).collect(),
        updated_at: e.updated_at,
    }
}

/// `GET /v1/repairs`: every lost fragment waiting for a repair, least
/// healthy object first (health = `(active − k) / m`: below 0 the object
/// can no longer be read, so it comes first; each repair is urgent in that
/// order), with the reward a repair pays.
#[utoipa::path(
    get,
    path = "/v1/repairs",
    tag = "storage",
    responses((status = 200, description = "Every lost fragment waiting for a repair (from the \
        ledger's lost index), least healthy object first", body = RepairList))
)]
async fn repairs(State(shared): State<Arc<Shared>>) -> ApiResult<RepairList> {
    let state = shared.db.state();
    let view = StateView::new(&state);
    let mut list = Vec::new();
    let mut contract: Option<Contract> = None;
    for (id, index) in view.lost_fragments().map_err(ApiError::internal)? {
        if contract.as_ref().is_none_or(|c| c.id != id) {
            contract = view.contract(&id).map_err(ApiError::internal)?;
        }
        let Some(c) = &contract else { continue };
        let Some(f) = c.fragments.get(index as usize) else {
            continue;
        };
        let active = c
            .fragments
            .iter()
            .filter(|f| f.status == sherd_ledger::state::FragmentStatus::Active)
            .count() as i64;
        let (k, m) = (i64::from(c.k), i64::from(c.m.max(1)));
        list.push((
            (active - k, m),
            RepairInfo {
                contract: id,
                index,
                root: f.root,
                k: c.k,
                m: c.m,
                active,
                health: (active - k) as f64 / m as f64,
                fragment_size: c.fragment_size,
                last_period: c.last_period,
                repair_reward: f.repair_reward,
                repair_reward_base: f.repair_reward.base_units(),
            },
        ));
    }
    // Least healthy first: compare (active − k) / m without floats.
    list.sort_by(|((a, am), _), ((b, bm), _)| (a * bm).cmp(&(b * am)));
    Ok(Json(RepairList {
        repairs: list.into_iter().map(|(_, r)| r).collect(),
    }))
}

/// `GET /v1/contracts/{id}`.
#[utoipa::path(
    get,
    path = "/v1/contracts/{id}",
    tag = "storage",
    params(("id" = String, Path, description = "The contract id (64 lowercase hex digits)")),
    responses(
        (status = 200, description = "The contract as the chain stores it", body = ContractInfo),
        (status = 400, description = "`bad_request`: not a contract id", body = ApiErrorBody),
        (status = 404, description = "`not_found`: no such contract", body = ApiErrorBody),
    )
)]
async fn contract(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<ContractInfo> {
    let id = parse_hash(&path_param(id)?, "contract id")?;
    let state = shared.db.state();
    match StateView::new(&state)
        .contract(&id)
        .map_err(ApiError::internal)?
    {
        Some(c) => Ok(Json(ContractInfo::from_contract(&c))),
        None => Err(ApiError::not_found(format!("no contract {id}"))),
    }
}

/// `GET /v1/endpoints/{addr}`.
#[utoipa::path(
    get,
    path = "/v1/endpoints/{addr}",
    tag = "storage",
    params(("addr" = String, Path, description = "The principal's address (bech32m)")),
    responses(
        (status = 200, description = "Where the principal is reached", body = EndpointInfo),
        (status = 400, description = "`bad_address`: not a sherd address", body = ApiErrorBody),
        (status = 404, description = "`not_found`: it registered no endpoint", body = ApiErrorBody),
    )
)]
async fn endpoint(
    State(shared): State<Arc<Shared>>,
    addr: Result<Path<String>, PathRejection>,
) -> ApiResult<EndpointInfo> {
    let address = parse_address(&path_param(addr)?)?;
    let state = shared.db.state();
    let Some(e) = StateView::new(&state)
        .endpoint(&address)
        .map_err(ApiError::internal)?
    else {
        return Err(ApiError::not_found(format!(
            "{address} has no registered endpoint"
        )));
    };
    Ok(Json(endpoint_info(&address, &e)))
}

/// `GET /v1/node`: this node's libp2p identity, for registering it on
/// chain (`sherd wallet register-endpoint`).
#[utoipa::path(
    get,
    path = "/v1/node",
    tag = "node",
    responses(
        (status = 200, description = "This node's libp2p identity", body = NodeIdentity),
        (status = 404, description = "`not_found`: a dev chain has no network", body = ApiErrorBody),
    )
)]
async fn node_identity(State(shared): State<Arc<Shared>>) -> ApiResult<NodeIdentity> {
    let Some((peer_id, listen)) = shared.identity.get() else {
        return Err(ApiError::not_found(
            "this node has no network (a dev chain): nothing to register",
        ));
    };
    let text = libp2p::PeerId::from_bytes(peer_id)
        .map(|p| p.to_string())
        .unwrap_or_default();
    Ok(Json(NodeIdentity {
        peer_id: text,
        peer_id_hex: hex::encode(peer_id),
        listen: listen
            .iter()
            .filter_map(|a| libp2p::Multiaddr::try_from(a.clone()).ok())
            .map(|a| a.to_string())
            .collect(),
        listen_hex: listen.iter().map(hex::encode).collect(),
    }))
}

/// `GET /v1/provider`: this node's storage provider: terms, what the chain
/// has of it, what it holds, proofs and earnings.
#[utoipa::path(
    get,
    path = "/v1/provider",
    tag = "node",
    responses(
        (status = 200, description = "This node's storage provider", body = ProviderReport),
        (status = 404, description = "`not_found`: this node is not a provider", body = ApiErrorBody),
    )
)]
async fn provider_status(State(shared): State<Arc<Shared>>) -> ApiResult<ProviderReport> {
    let Some(runtime) = shared.provider.get().cloned() else {
        return Err(ApiError::not_found(
            "this node is not a storage provider (no [provider] in its config.toml; see `sherd provider init`)",
        ));
    };
    let report = tokio::task::spawn_blocking(move || runtime.report())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(report))
}

fn faucet_amount(value: Option<&FaucetAmount>) -> Result<Amount, ApiError> {
    let units = sherd_ledger::amount::BASE_UNITS_PER_UNIT;
    let amount = match value {
        None => Amount(FAUCET_DEFAULT_TOKENS.saturating_mul(units)),
        Some(FaucetAmount::Decimal(text)) => Amount::from_str(text).map_err(|e| {
            ApiError::bad_request(format!("`amount` {text:?} is not an amount: {e}"))
        })?,
        Some(FaucetAmount::Whole(whole)) => Amount(
            whole
                .checked_mul(units)
                .ok_or_else(|| ApiError::bad_request("`amount` is too large"))?,
        ),
    };
    if amount.is_zero() {
        return Err(ApiError::bad_request("`amount` must be more than zero"));
    }
    if amount.0 > FAUCET_MAX_TOKENS.saturating_mul(units) {
        return Err(ApiError::bad_request(format!(
            "the faucet gives at most {FAUCET_MAX_TOKENS} tokens at a time"
        )));
    }
    Ok(amount)
}

/// `POST /v1/faucet`: tokens for an address, on dev chains and testnets.
#[utoipa::path(
    post,
    path = "/v1/faucet",
    tag = "node",
    request_body = FaucetRequest,
    responses(
        (status = 202, description = "The grant's transaction is in the mempool", body = FaucetReceipt),
        (status = 400, description = "`bad_address`: not a sherd address; `bad_request`: not \
            the documented body, a zero amount or more than 1,000,000 tokens", body = ApiErrorBody),
        (status = 403, description = "`faucet_disabled`: this node has no faucet", body = ApiErrorBody),
        (status = 408, description = "`request_timeout`: the body was not received within the \
            request deadline (30 s by default); the connection is closed", body = ApiErrorBody),
        (status = 413, description = "`bad_request`: a body over 4 MiB", body = ApiErrorBody),
        (status = 422, description = "`rejected`: the faucet's transaction was refused", body = ApiErrorBody),
        (status = 429, description = "`rate_limited`: one grant per address per 10 s, and \
            per client address 10 requests a minute (10 at once) by default; `Retry-After` \
            says when to retry", body = ApiErrorBody),
        (status = 503, description = "`mempool_full`: the mempool is full; `overloaded`: the \
            node is handling as many requests as it takes at once (`Retry-After`)",
            body = ApiErrorBody),
    )
)]
async fn faucet(
    State(shared): State<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<FaucetReceipt>), ApiError> {
    let Some(faucet) = shared.faucet.as_ref() else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "faucet_disabled",
            "this node has no faucet (dev and testnet only)",
        ));
    };
    let request: FaucetRequest =
        json_body(body, "{ \"address\": \"sherd1…\", \"amount\"?: \"12.5\" }")?;
    let address = parse_address(&request.address)?;
    let amount = faucet_amount(request.amount.as_ref())?;
    {
        let mut last = faucet.last.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if let Some(at) = last.get(&address) {
            let waited = now.saturating_duration_since(*at);
            if waited < FAUCET_INTERVAL {
                let wait = FAUCET_INTERVAL
                    .saturating_sub(waited)
                    .as_secs()
                    .saturating_add(1);
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!(
                        "the faucet gives {address} one grant per {} s; retry in {wait} s",
                        FAUCET_INTERVAL.as_secs()
                    ),
                )
                .with_retry_after(wait));
            }
        }
        last.retain(|_, at| now.saturating_duration_since(*at) < FAUCET_INTERVAL);
        last.insert(address, now);
    }
    let transfer = TxKind::Transfer(Transfer {
        to: address,
        amount,
    });
    let hash =
        crate::duties::sign_and_submit(&shared, &faucet.key, transfer).inspect_err(|_| {
            // A refused grant does not count against the address.
            let mut last = faucet.last.lock().unwrap_or_else(|p| p.into_inner());
            last.remove(&address);
        })?;
    tracing::info!(to = %address, %amount, tx = %hash, "api.faucet: granted");
    Ok((
        StatusCode::ACCEPTED,
        Json(FaucetReceipt {
            hash: hash.to_string(),
            amount,
            amount_base: amount.base_units(),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faucet_amounts() {
        let units = sherd_ledger::amount::BASE_UNITS_PER_UNIT;
        let decimal = |text: &str| FaucetAmount::Decimal(text.into());
        assert_eq!(faucet_amount(None).unwrap().0, 1_000 * units);
        assert_eq!(
            faucet_amount(Some(&decimal("12.5"))).unwrap().0,
            12_500_000_000
        );
        assert_eq!(
            faucet_amount(Some(&FaucetAmount::Whole(3))).unwrap().0,
            3 * units
        );
        assert!(faucet_amount(Some(&decimal("0"))).is_err());
        assert!(faucet_amount(Some(&decimal("abc"))).is_err());
        assert!(faucet_amount(Some(&decimal("100000000"))).is_err());
        assert!(faucet_amount(Some(&FaucetAmount::Whole(u64::MAX))).is_err());
    }

    #[test]
    fn faucet_bodies_read_as_documented() {
        let read = |text: &str| json_body::<FaucetRequest>(Ok(Bytes::from(text.to_owned())), "x");
        let request = read(r#"{"address":"a","amount":"12.5"}"#).unwrap();
        assert_eq!(request.amount, Some(FaucetAmount::Decimal("12.5".into())));
        assert_eq!(
            read(r#"{"address":"a","amount":3}"#).unwrap().amount,
            Some(FaucetAmount::Whole(3))
        );
        assert_eq!(
            read(r#"{"address":"a","amount":null}"#).unwrap().amount,
            None
        );
        for bad in [
            r#"{"address":"a","amount":-1}"#,
            r#"{"address":"a","amount":true}"#,
            r#"{"amount":"1"}"#,
            "{ not json",
        ] {
            assert_eq!(read(bad).unwrap_err().code(), "bad_request", "{bad}");
        }
    }
}
