//! The chain: `/v1/status`, `/v1/blocks/{height}`, `/v1/validators`.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use sherd_ledger::state::Validator;
use sherd_ledger::{Block, Hash, StateView};
use sherd_wallet::client::types::{
    ApiErrorBody, BlockInfo, Status, ValidatorInfo, ValidatorStatus, Validators,
};

use crate::shared::Shared;
use crate::store::{col, StoredBlock};

use super::{path_param, ApiError, ApiResult};

/// `GET /v1/status`: the chain's head, this node's view and the chain's
/// parameters.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "chain",
    responses((status = 200, description = "The chain's status", body = Status))
)]
pub(super) async fn status(State(shared): State<Arc<Shared>>) -> ApiResult<Status> {
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
        syncing: s.catching_up,
        faucet: shared.faucet.is_some(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        params: Some(shared.params.clone()),
    }))
}

/// A finalized block read from the database, if it is at or below the
/// durable head.
pub(crate) fn stored_block(shared: &Shared, height: u64) -> Result<Option<Block>, ApiError> {
    if height > shared.committed_status().head.height {
        return Ok(None);
    }
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
pub(super) async fn block(
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
    let id = block.header.id().map_err(ApiError::internal)?;
    Ok(Json(block_info(&block, &id)?))
}

/// The API's view of a finalized block whose id is `id`.
pub(crate) fn block_info(block: &Block, id: &Hash) -> Result<BlockInfo, ApiError> {
    let h = &block.header;
    let txs = block
        .tx_ids()
        .map_err(ApiError::internal)?
        .iter()
        .map(Hash::to_string)
        .collect();
    Ok(BlockInfo {
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
    })
}

pub(super) fn validator_info(v: &Validator, power: u64, epoch: u64) -> ValidatorInfo {
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
pub(super) async fn validators(State(shared): State<Arc<Shared>>) -> ApiResult<Validators> {
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
