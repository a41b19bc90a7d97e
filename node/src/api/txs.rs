//! Transactions: submit one or a batch (through [`crate::admission`]) and
//! look one up, pending or final.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use sherd_ledger::{Block, Hash, Transaction, TxKind};
use sherd_wallet::client::types::{
    kind_name, ApiErrorBody, BatchRequest, BatchResult, BatchSubmitted, ProofOutcome,
    ProofVerdictInfo, SubmitRequest, Submitted, TxInfo, TxOutcome, TxStatus,
};

use crate::admission::{self, AdmitError};
use crate::shared::Shared;
use crate::store::{col, TxLocation};

use super::{
    json_body, parse_hash, path_param, stored_block, ApiError, ApiResult, MAX_SUBMIT_BATCH,
};

/// Where the finalized transaction `hash` is, if it is: only in a block at
/// or below the durable head (the block's commit may be queued and not yet
/// logged; until it is, the transaction is not answered final).
pub(crate) fn tx_location(shared: &Shared, hash: &Hash) -> Result<Option<TxLocation>, ApiError> {
    let Some(bytes) = shared
        .db
        .get(col::TXS, &hash.0)
        .map_err(ApiError::internal)?
    else {
        return Ok(None);
    };
    let location = TxLocation::from_bytes(&bytes)
        .ok_or_else(|| ApiError::internal(format!("stored location of {hash} is corrupt")))?;
    Ok((location.height <= shared.committed_status().head.height).then_some(location))
}

pub(super) fn tx_info(tx: &Transaction, hash: &Hash, location: Option<&TxLocation>) -> TxInfo {
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
pub(super) fn proof_verdicts(
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
pub(super) fn finalized_tx(
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
pub(super) async fn tx(
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

/// A transaction from the hex of its wire encoding, in request `field`.
pub(super) fn decode_tx(text: &str, field: &str) -> Result<Transaction, ApiError> {
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
pub(super) async fn submit(
    State(shared): State<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let request: SubmitRequest = json_body(
        body,
        "{ \"tx\": \"<hex of the transaction's wire encoding>\" }",
    )?;
    let hash = admission::admit(&shared, decode_tx(&request.tx, "`tx`")?)?;
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
pub(super) async fn submit_batch(
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
                    .map_err(|e| ApiError::from(AdmitError::from(e)))
            })
            .and_then(|vtx| Ok(admission::admit_verified(&shared, vtx, true)?))
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
