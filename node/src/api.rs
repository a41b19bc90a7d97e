//! The HTTP JSON API (axum), exactly as the contract in the crate README,
//! described by the OpenAPI document it serves at `GET /v1/openapi.json`.
//!
//! Requests and answers are `sherd-wallet`'s types
//! ([`sherd_wallet::client::types`]): the client reads what the handlers
//! write. Every route is listed once, in [`api`], with its `#[utoipa::path]`
//! description; the router and the document both come from that list. The
//! handlers live by resource: `chain` (status, blocks, validators),
//! `accounts`, `txs` (submission goes through [`crate::admission`]),
//! `storage` (providers, contracts, repairs, endpoints) and `node` (its
//! identity, its provider, the faucet); the explorer's pages are in
//! [`crate::browse`]. This file holds what they share: the error type,
//! the parsers of path and body, the document and the router.
//!
//! Every error is `{ "error", "code" }` ([`ApiErrorBody`]) with a 4xx/5xx
//! status; malformed JSON, hex, addresses and oversized bodies
//! ([`MAX_BODY_BYTES`]) are 4xx. The limits a client can reach (rate
//! limits, requests in flight, deadlines, connections) are in
//! [`crate::limits`]; a refusal that passes with time says when to retry
//! (`Retry-After`).

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use sherd_ledger::{Address, Hash};
use sherd_wallet::client::types::ApiErrorBody;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::admission::AdmitError;
use crate::mempool::MempoolError;
use crate::shared::Shared;

mod accounts;
mod chain;
mod node;
mod storage;
mod txs;

pub(crate) use chain::{block_info, stored_block};
pub(crate) use txs::tx_location;

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
/// How long a history route waits for the account index to reach the
/// status head before it answers `index_behind`.
pub const INDEX_WAIT: Duration = Duration::from_secs(2);
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

/// Waits until the account index covers every block the status head
/// reports final (it is written just after each block's commit), so that
/// a history lists every transaction answered final. `index_behind` (503)
/// when it does not within [`INDEX_WAIT`].
pub(crate) async fn index_caught_up(shared: &Shared) -> Result<(), ApiError> {
    let head = shared.committed_status().head.height;
    shared
        .indexed
        .wait_for(head, INDEX_WAIT)
        .await
        .map_err(|indexed| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "index_behind",
                format!(
                    "the account index is complete through block {indexed}, behind the final head {head}; try again"
                ),
            )
            .with_retry_after(1)
        })
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
        .routes(routes!(chain::status))
        .routes(routes!(accounts::account))
        .routes(routes!(accounts::account_txs))
        .routes(routes!(chain::block))
        .routes(routes!(txs::tx))
        .routes(routes!(txs::submit))
        .routes(routes!(txs::submit_batch))
        .routes(routes!(chain::validators))
        .routes(routes!(storage::providers))
        .routes(routes!(storage::contract))
        .routes(routes!(storage::repairs))
        .routes(routes!(storage::endpoint))
        .routes(routes!(node::faucet))
        .routes(routes!(node::node_identity))
        .routes(routes!(node::provider_status))
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

impl From<AdmitError> for ApiError {
    /// The API's answer to each refusal of admission.
    fn from(e: AdmitError) -> Self {
        let (status, code) = match &e {
            AdmitError::BadSignature(_) => (StatusCode::BAD_REQUEST, "bad_transaction"),
            AdmitError::Replay { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "rejected"),
            AdmitError::Mempool(MempoolError::Full { .. }) => {
                (StatusCode::SERVICE_UNAVAILABLE, "mempool_full")
            }
            AdmitError::Mempool(_) => (StatusCode::UNPROCESSABLE_ENTITY, "rejected"),
            AdmitError::State(_) | AdmitError::Db(_) | AdmitError::Sign(_) => {
                return ApiError::internal(e)
            }
        };
        ApiError::new(status, code, e.to_string())
    }
}
