//! The HTTP JSON API (axum), exactly as the contract in the crate README.
//!
//! Every error is `{ "error", "code" }` with a 4xx/5xx status; malformed
//! JSON, hex, addresses and oversized bodies ([`MAX_BODY_BYTES`]) are 4xx.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use sherd_ledger::state::{Contract, Validator};
use sherd_ledger::tx::kind::Transfer;
use sherd_ledger::{Address, Amount, Block, Hash, StateView, Transaction, TxKind, VerifiedTx};

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

/// An API error: status, stable code, message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
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

    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
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
        (
            self.status,
            Json(json!({ "error": self.message, "code": self.code })),
        )
            .into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok(value: Value) -> ApiResult {
    Ok(Json(value).into_response())
}

/// The API router.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/accounts/{addr}", get(account))
        .route("/v1/accounts/{addr}/txs", get(account_txs))
        .route("/v1/blocks/{height}", get(block))
        .route("/v1/txs/{hash}", get(tx))
        .route("/v1/txs", post(submit))
        .route("/v1/txs/batch", post(submit_batch))
        .route("/v1/validators", get(validators))
        .route("/v1/providers", get(providers))
        .route("/v1/contracts/{id}", get(contract))
        .route("/v1/repairs", get(repairs))
        .route("/v1/endpoints/{addr}", get(endpoint))
        .route("/v1/faucet", post(faucet))
        .route("/v1/node", get(node_identity))
        .route("/v1/provider", get(provider_status))
        .route("/metrics", get(crate::metrics::serve))
        .merge(crate::browse::routes())
        .fallback(|| async {
            ApiError::not_found("no such route; see the API table in node/README.md")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "bad_request",
                "this route does not take that method; see the API table in node/README.md",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

fn amount(value: Amount) -> (String, u64) {
    (value.to_string(), value.0)
}

fn path_param(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(p)| p)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

fn parse_address(text: &str) -> Result<Address, ApiError> {
    Address::from_str(text).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_address",
            format!("`{text}` is not a sherd address: {e}"),
        )
    })
}

fn parse_hash(text: &str, what: &str) -> Result<Hash, ApiError> {
    Hash::from_str(text).map_err(|e| {
        ApiError::bad_request(format!(
            "`{text}` is not a {what} (64 lowercase hex digits): {e}"
        ))
    })
}

fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
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
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))
}

fn snake_case(name: &str) -> String {
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

async fn status(State(shared): State<Arc<Shared>>) -> ApiResult {
    let s = shared.committed_status();
    let pool = shared.mempool().len();
    ok(json!({
        "chain_id": shared.params.chain_id.as_str(),
        "height": s.height,
        "finalized_height": s.head.height,
        "latest_block_id": s.head.block_id.to_string(),
        "state_root": s.head.state_root.to_string(),
        "epoch": s.epoch,
        "view": s.view,
        "mempool_size": pool,
        "dev": shared.dev,
        "faucet": shared.faucet.is_some(),
        "version": env!("CARGO_PKG_VERSION"),
        "params": &shared.params,
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

async fn account(
    State(shared): State<Arc<Shared>>,
    addr: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let address = parse_address(&path_param(addr)?)?;
    let state = shared.db.state();
    let view = StateView::new(&state);
    let account = view.account(&address).map_err(ApiError::internal)?;
    let staked = staked_by(&view, &address)?;
    let unbonding: Vec<Value> = view
        .unbondings(&address)
        .map_err(ApiError::internal)?
        .0
        .iter()
        .map(|u| {
            let (a, b) = amount(u.amount);
            json!({ "amount": a, "amount_base": b, "release_epoch": u.release_epoch })
        })
        .collect();
    let (balance, balance_base) = amount(account.balance);
    let (staked, staked_base) = amount(staked);
    ok(json!({
        "address": address.to_string(),
        "balance": balance,
        "balance_base": balance_base,
        "nonce": account.nonce,
        "staked": staked,
        "staked_base": staked_base,
        "unbonding": unbonding,
    }))
}

/// A finalized block read from the database.
fn stored_block(shared: &Shared, height: u64) -> Result<Option<Block>, ApiError> {
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

fn tx_json(tx: &Transaction, hash: &Hash, location: Option<&TxLocation>) -> Value {
    let body = &tx.body;
    let (fee, fee_base) = amount(body.fee);
    json!({
        "hash": hash.to_string(),
        "status": if location.is_some() { "finalized" } else { "pending" },
        "height": location.map(|l| l.height),
        "index": location.map(|l| l.index),
        "sender": body.sender.to_string(),
        "nonce": body.nonce,
        "fee": fee,
        "fee_base": fee_base,
        "kind": snake_case(body.kind.name()),
        "outcome": location.map(|l| if l.failure.is_some() { "failed" } else { "success" }),
        "reason": location.and_then(|l| l.failure.clone()),
        "proofs": location.map(|l| proofs_json(tx, &l.proofs)).unwrap_or_default(),
    })
}

/// A `SubmitProofs`'s per-proof verdicts, with the proof each is about.
fn proofs_json(tx: &Transaction, verdicts: &[crate::store::ProofOutcome]) -> Vec<Value> {
    let TxKind::SubmitProofs(batch) = &tx.body.kind else {
        return Vec::new();
    };
    verdicts
        .iter()
        .zip(&batch.proofs)
        .zip(0u32..)
        .map(|((v, p), index)| {
            let mut out = json!({
                "index": index,
                "contract": p.contract_id.to_string(),
                "fragment": p.fragment_index,
                "period": p.period,
            });
            match v {
                crate::store::ProofOutcome::Accepted { escrow, reward } => {
                    out["outcome"] = "accepted".into();
                    out["escrow_paid_base"] = (*escrow).into();
                    out["reward_base"] = (*reward).into();
                }
                crate::store::ProofOutcome::Refused(reason) => {
                    out["outcome"] = "refused".into();
                    out["reason"] = reason.clone().into();
                }
            }
            out
        })
        .collect()
}

/// A finalized transaction: its location and the transaction.
fn finalized_tx(
    shared: &Shared,
    hash: &Hash,
    blocks: &mut HashMap<u64, Block>,
) -> Result<Option<Value>, ApiError> {
    let Some(bytes) = shared
        .db
        .get(col::TXS, &hash.0)
        .map_err(ApiError::internal)?
    else {
        return Ok(None);
    };
    let location = TxLocation::from_bytes(&bytes)
        .ok_or_else(|| ApiError::internal(format!("stored location of {hash} is corrupt")))?;
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
    Ok(Some(tx_json(tx, hash, Some(&location))))
}

async fn account_txs(
    State(shared): State<Arc<Shared>>,
    addr: Result<Path<String>, PathRejection>,
) -> ApiResult {
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
    ok(json!({ "txs": txs }))
}

async fn block(
    State(shared): State<Arc<Shared>>,
    height: Result<Path<String>, PathRejection>,
) -> ApiResult {
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
    let txs: Vec<String> = block
        .tx_ids()
        .map_err(ApiError::internal)?
        .iter()
        .map(Hash::to_string)
        .collect();
    ok(json!({
        "height": h.height,
        "id": id.to_string(),
        "view": h.view,
        "epoch": h.epoch,
        "parent": h.parent.to_string(),
        "proposer": h.proposer.to_string(),
        "timestamp_ms": h.timestamp_ms,
        "tx_root": h.tx_root.to_string(),
        "state_root": h.state_root.to_string(),
        "txs": txs,
    }))
}

async fn tx(
    State(shared): State<Arc<Shared>>,
    hash: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let hash = parse_hash(&path_param(hash)?, "transaction hash")?;
    if let Some(tx) = finalized_tx(&shared, &hash, &mut HashMap::new())? {
        return ok(tx);
    }
    let pending = shared.mempool().get(&hash).map(|v| v.tx().clone());
    match pending {
        Some(tx) => ok(tx_json(&tx, &hash, None)),
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
                let _ = gossip.send(bytes);
            }
            Ok(hash)
        }
        Err(e) => {
            shared.metrics.txs_rejected.inc();
            Err(match e {
                MempoolError::Rejected(m) => {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "rejected", m)
                }
                full @ MempoolError::Full { .. } => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "mempool_full",
                    full.to_string(),
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

async fn submit(
    State(shared): State<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body = json_body(body)?;
    let Some(text) = body.get("tx").and_then(Value::as_str) else {
        return Err(ApiError::bad_request(
            "expected { \"tx\": \"<hex of the transaction's wire encoding>\" }",
        ));
    };
    let hash = admit(&shared, decode_tx(text, "`tx`")?)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "hash": hash.to_string() })),
    )
        .into_response())
}

/// Most transactions in one `POST /v1/txs/batch`.
pub const MAX_SUBMIT_BATCH: usize = 1_024;

/// `POST /v1/txs/batch`: many transactions in one request, their
/// signatures checked together; one result per transaction, in order.
async fn submit_batch(
    State(shared): State<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body = json_body(body)?;
    let Some(items) = body.get("txs").and_then(Value::as_array) else {
        return Err(ApiError::bad_request(
            "expected { \"txs\": [\"<hex of a transaction's wire encoding>\", ...] }",
        ));
    };
    if items.is_empty() || items.len() > MAX_SUBMIT_BATCH {
        return Err(ApiError::bad_request(format!(
            "`txs` must hold 1 to {MAX_SUBMIT_BATCH} transactions, not {}",
            items.len()
        )));
    }
    let decoded: Vec<Result<Transaction, ApiError>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let field = format!("`txs[{i}]`");
            let text = item.as_str().ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_transaction",
                    format!("{field} is not a string"),
                )
            })?;
            decode_tx(text, &field)
        })
        .collect();
    // One batch equation for all that decode; one check each only if it fails.
    let mut good = Vec::with_capacity(decoded.len());
    let slots: Vec<Result<(), ApiError>> = decoded
        .into_iter()
        .map(|d| d.map(|tx| good.push(tx)))
        .collect();
    let mut verified = sherd_ledger::verify_each(good).into_iter();
    let results: Vec<Value> = slots
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
            Ok(hash) => json!({ "hash": hash.to_string() }),
            Err(e) => json!({ "error": e.message(), "code": e.code() }),
        })
        .collect();
    Ok((StatusCode::OK, Json(json!({ "results": results }))).into_response())
}

fn validator_json(v: &Validator, power: u64, epoch: u64) -> Value {
    let (self_stake, self_stake_base) = amount(v.self_stake);
    let (delegated, delegated_base) = amount(v.delegated);
    let status = if v.jailed_until > epoch {
        "jailed"
    } else if power > 0 {
        "active"
    } else {
        "inactive"
    };
    json!({
        "operator": v.operator.to_string(),
        "bls_pubkey": hex::encode(v.bls_pubkey),
        "commission_bps": v.commission_bps,
        "self_stake": self_stake,
        "self_stake_base": self_stake_base,
        "delegated": delegated,
        "delegated_base": delegated_base,
        "voting_power": power,
        "status": status,
        "jailed_until": v.jailed_until,
    })
}

async fn validators(State(shared): State<Arc<Shared>>) -> ApiResult {
    let epoch = shared.status().epoch;
    let state = shared.db.state();
    let view = StateView::new(&state);
    let set = view
        .epoch_set(epoch)
        .map_err(ApiError::internal)?
        .unwrap_or_default();
    let list: Vec<Value> = view
        .validators()
        .map_err(ApiError::internal)?
        .iter()
        .map(|v| {
            let power = set
                .members
                .iter()
                .find(|m| m.operator == v.operator)
                .map_or(0, |m| m.power);
            validator_json(v, power, epoch)
        })
        .collect();
    ok(json!({ "epoch": epoch, "validators": list }))
}

async fn providers(State(shared): State<Arc<Shared>>) -> ApiResult {
    let state = shared.db.state();
    let view = StateView::new(&state);
    let misses = crate::repairer::recent_misses(&view.contracts().map_err(ApiError::internal)?);
    let mut list = Vec::new();
    for (address, ad) in view.providers().map_err(ApiError::internal)? {
        let endpoint = view
            .endpoint(&address)
            .map_err(ApiError::internal)?
            .map(|e| endpoint_json(&address, &e));
        list.push(json!({
            "provider": address.to_string(),
            "capacity_bytes": ad.capacity_bytes,
            "used_bytes": ad.used_bytes,
            "price_per_gib_epoch": ad.price_per_gib_epoch.to_string(),
            "price_per_gib_epoch_base": ad.price_per_gib_epoch.0,
            "collateral_per_gib": ad.collateral_per_gib.to_string(),
            "collateral_per_gib_base": ad.collateral_per_gib.0,
            "min_duration_epochs": ad.min_duration_epochs,
            "max_duration_epochs": ad.max_duration_epochs,
            "updated_at": ad.updated_at,
            "recent_misses": misses.get(&address).copied().unwrap_or(0),
            "endpoint": endpoint,
        }));
    }
    ok(json!({ "providers": list }))
}

/// An endpoint as JSON: the libp2p text forms, and the binary forms in hex
/// (what a client dials with).
fn endpoint_json(principal: &Address, e: &sherd_ledger::state::Endpoint) -> Value {
    // Binary libp2p forms on chain; their text forms here (hex if a
    // registrant stored something else).
    let multiaddrs: Vec<String> = e
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
    json!({
        "principal": principal.to_string(),
        "role": e.role.name(),
        "peer_id": peer_id,
        "peer_id_hex": hex::encode(&e.peer_id),
        "multiaddrs": multiaddrs,
        "multiaddrs_hex": e.multiaddrs.iter().map(|m| hex::encode(&m.0)).collect::<Vec<_>>(),
        "updated_at": e.updated_at,
    })
}

/// `GET /v1/repairs`: every lost fragment waiting for a repair, least
/// healthy object first (health = `(active − k) / m`: below 0 the object
/// can no longer be read, so it comes first; each repair is urgent in that
/// order), with the reward a repair pays.
async fn repairs(State(shared): State<Arc<Shared>>) -> ApiResult {
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
            json!({
                "contract": id.to_string(),
                "index": index,
                "root": f.root.to_string(),
                "k": c.k,
                "m": c.m,
                "active": active,
                "health": (active - k) as f64 / m as f64,
                "fragment_size": c.fragment_size,
                "last_period": c.last_period,
                "repair_reward": f.repair_reward.to_string(),
                "repair_reward_base": f.repair_reward.0,
            }),
        ));
    }
    // Least healthy first: compare (active − k) / m without floats.
    list.sort_by(|((a, am), _), ((b, bm), _)| (a * bm).cmp(&(b * am)));
    ok(json!({ "repairs": list.into_iter().map(|(_, v)| v).collect::<Vec<_>>() }))
}

fn contract_json(c: &Contract) -> Value {
    let fragments: Vec<Value> = c
        .fragments
        .iter()
        .zip(0u32..)
        .map(|(f, index)| {
            json!({
                "index": index,
                "root": f.root.to_string(),
                "provider": f.provider.to_string(),
                "status": f.status.name(),
                "escrow_left": f.escrow_left.to_string(),
                "escrow_left_base": f.escrow_left.0,
                "collateral_left": f.collateral_left.to_string(),
                "collateral_left_base": f.collateral_left.0,
                "repair_reward": f.repair_reward.to_string(),
                "repair_reward_base": f.repair_reward.0,
                "misses": f.misses,
                "accepted": f.accepted,
                "proven": f.proven,
                "since": f.since,
            })
        })
        .collect();
    json!({
        "id": c.id.to_string(),
        "client": c.client.to_string(),
        "object_root": c.object_root.to_string(),
        "k": c.k,
        "m": c.m,
        "fragment_size": c.fragment_size,
        "price_per_gib_epoch": c.price_per_gib_epoch.to_string(),
        "price_per_gib_epoch_base": c.price_per_gib_epoch.0,
        "start_height": c.start_height,
        "first_period": c.first_period,
        "last_period": c.last_period,
        "fragments": fragments,
    })
}

async fn contract(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = parse_hash(&path_param(id)?, "contract id")?;
    let state = shared.db.state();
    match StateView::new(&state)
        .contract(&id)
        .map_err(ApiError::internal)?
    {
        Some(c) => ok(contract_json(&c)),
        None => Err(ApiError::not_found(format!("no contract {id}"))),
    }
}

async fn endpoint(
    State(shared): State<Arc<Shared>>,
    addr: Result<Path<String>, PathRejection>,
) -> ApiResult {
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
    ok(endpoint_json(&address, &e))
}

/// `GET /v1/node`: this node's libp2p identity, for registering it on
/// chain (`sherd wallet register-endpoint`).
async fn node_identity(State(shared): State<Arc<Shared>>) -> ApiResult {
    let Some((peer_id, listen)) = shared.identity.get() else {
        return Err(ApiError::not_found(
            "this node has no network (a dev chain): nothing to register",
        ));
    };
    let text = libp2p::PeerId::from_bytes(peer_id)
        .map(|p| p.to_string())
        .unwrap_or_default();
    let listen_text: Vec<String> = listen
        .iter()
        .filter_map(|a| libp2p::Multiaddr::try_from(a.clone()).ok())
        .map(|a| a.to_string())
        .collect();
    ok(json!({
        "peer_id": text,
        "peer_id_hex": hex::encode(peer_id),
        "listen": listen_text,
        "listen_hex": listen.iter().map(hex::encode).collect::<Vec<_>>(),
    }))
}

/// `GET /v1/provider`: this node's storage provider: terms, what the chain
/// has of it, what it holds, proofs and earnings.
async fn provider_status(State(shared): State<Arc<Shared>>) -> ApiResult {
    let Some(runtime) = shared.provider.get().cloned() else {
        return Err(ApiError::not_found(
            "this node is not a storage provider (no [provider] in its config.toml; see `sherd provider init`)",
        ));
    };
    let report = tokio::task::spawn_blocking(move || runtime.report())
        .await
        .map_err(ApiError::internal)?;
    ok(serde_json::to_value(report).map_err(ApiError::internal)?)
}

fn faucet_amount(value: Option<&Value>) -> Result<Amount, ApiError> {
    let units = sherd_ledger::amount::BASE_UNITS_PER_UNIT;
    let amount = match value {
        None | Some(Value::Null) => Amount(FAUCET_DEFAULT_TOKENS.saturating_mul(units)),
        Some(Value::String(text)) => Amount::from_str(text).map_err(|e| {
            ApiError::bad_request(format!("`amount` {text:?} is not an amount: {e}"))
        })?,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(whole) => Amount(
                whole
                    .checked_mul(units)
                    .ok_or_else(|| ApiError::bad_request("`amount` is too large"))?,
            ),
            None => return Err(ApiError::bad_request(
                "`amount` must be a decimal string such as \"12.5\" or a whole number of tokens",
            )),
        },
        Some(_) => {
            return Err(ApiError::bad_request(
                "`amount` must be a decimal string such as \"12.5\"",
            ))
        }
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

async fn faucet(
    State(shared): State<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let Some(faucet) = shared.faucet.as_ref() else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "faucet_disabled",
            "this node has no faucet (dev and testnet only)",
        ));
    };
    let body = json_body(body)?;
    let Some(text) = body.get("address").and_then(Value::as_str) else {
        return Err(ApiError::bad_request(
            "expected { \"address\": \"sherd1…\", \"amount\"?: \"12.5\" }",
        ));
    };
    let address = parse_address(text)?;
    let amount = faucet_amount(body.get("amount"))?;
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
                ));
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
    let (a, b) = (amount.to_string(), amount.0);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "hash": hash.to_string(), "amount": a, "amount_base": b })),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_snake_case() {
        assert_eq!(snake_case("Transfer"), "transfer");
        assert_eq!(snake_case("RegisterEndpoint"), "register_endpoint");
    }

    #[test]
    fn faucet_amounts() {
        let units = sherd_ledger::amount::BASE_UNITS_PER_UNIT;
        assert_eq!(faucet_amount(None).unwrap().0, 1_000 * units);
        assert_eq!(
            faucet_amount(Some(&json!("12.5"))).unwrap().0,
            12_500_000_000
        );
        assert_eq!(faucet_amount(Some(&json!(3))).unwrap().0, 3 * units);
        assert!(faucet_amount(Some(&json!("0"))).is_err());
        assert!(faucet_amount(Some(&json!(-1))).is_err());
        assert!(faucet_amount(Some(&json!("abc"))).is_err());
        assert!(faucet_amount(Some(&json!("100000000"))).is_err());
    }
}
