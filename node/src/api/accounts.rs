//! `/v1/accounts/{addr}` and its transaction history.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use sherd_ledger::{Address, Amount, Hash, StateView};
use sherd_wallet::client::types::{AccountInfo, ApiErrorBody, TxList, Unbonding};

use crate::shared::Shared;
use crate::store::col;

use super::txs::finalized_tx;
use super::{index_caught_up, parse_address, path_param, ApiError, ApiResult, ACCOUNT_TXS_LIMIT};

pub(super) fn staked_by(
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
pub(super) async fn account(
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
        (status = 503, description = "`index_behind`: the account index (written just after \
            each block) did not reach the final head within 2 s; try again", body = ApiErrorBody),
    )
)]
pub(super) async fn account_txs(
    State(shared): State<Arc<Shared>>,
    addr: Result<Path<String>, PathRejection>,
) -> ApiResult<TxList> {
    let address = parse_address(&path_param(addr)?)?;
    index_caught_up(&shared).await?;
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
