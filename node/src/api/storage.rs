//! The storage market as the chain holds it: providers, contracts,
//! repairs, endpoints.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use sherd_ledger::state::Contract;
use sherd_ledger::{Address, StateView};
use sherd_wallet::client::types::{
    ApiErrorBody, ContractInfo, EndpointInfo, ProviderInfo, ProviderList, RepairInfo, RepairList,
};

use crate::shared::Shared;

use super::{parse_address, parse_hash, path_param, ApiError, ApiResult};

/// `GET /v1/providers`.
#[utoipa::path(
    get,
    path = "/v1/providers",
    tag = "storage",
    responses((status = 200, description = "Every advertised provider, with its endpoint",
        body = ProviderList))
)]
pub(super) async fn providers(State(shared): State<Arc<Shared>>) -> ApiResult<ProviderList> {
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
pub(super) fn endpoint_info(
    principal: &Address,
    e: &sherd_ledger::state::Endpoint,
) -> EndpointInfo {
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
pub(super) async fn repairs(State(shared): State<Arc<Shared>>) -> ApiResult<RepairList> {
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
pub(super) async fn contract(
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
pub(super) async fn endpoint(
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
