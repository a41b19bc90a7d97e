//! This node: its identity, its storage provider, and the faucet.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sherd_ledger::tx::kind::Transfer;
use sherd_ledger::{Amount, TxKind};
use sherd_wallet::client::types::{
    ApiErrorBody, FaucetAmount, FaucetReceipt, FaucetRequest, NodeIdentity, ProviderReport,
};

use crate::shared::Shared;

use super::{
    json_body, parse_address, ApiError, ApiResult, FAUCET_DEFAULT_TOKENS, FAUCET_INTERVAL,
    FAUCET_MAX_TOKENS,
};

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
pub(super) async fn node_identity(State(shared): State<Arc<Shared>>) -> ApiResult<NodeIdentity> {
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
pub(super) async fn provider_status(
    State(shared): State<Arc<Shared>>,
) -> ApiResult<ProviderReport> {
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

pub(super) fn faucet_amount(value: Option<&FaucetAmount>) -> Result<Amount, ApiError> {
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
pub(super) async fn faucet(
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
