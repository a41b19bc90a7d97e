//! What the storage commands read from the chain, through a node's API:
//! providers as the selection wants them, endpoints as the light peer dials
//! them, and a contract's one-line health.

use std::collections::HashMap;

use anyhow::{anyhow, Result};
use sherd_ledger::{
    state::{FragmentStatus, ProviderAd},
    tx::kind::Role,
    Address,
};
use sherd_market::{client::select::Candidate, transport::Endpoint};
use sherd_wallet::client::{ContractInfo, EndpointInfo, ProviderInfo};
use sherd_wallet::NodeClient;

/// The endpoint a light peer dials, from the chain's binary forms.
fn endpoint(e: &EndpointInfo) -> Result<Endpoint> {
    let bad = |what: &str| {
        anyhow!(
            "the node's endpoint of {} has a {what} that is not hex",
            e.principal
        )
    };
    Ok(Endpoint {
        address: e.principal,
        peer_id: hex::decode(&e.peer_id_hex).map_err(|_| bad("peer id"))?,
        multiaddrs: e
            .multiaddrs_hex
            .iter()
            .map(|a| hex::decode(a).map_err(|_| bad("multiaddr")))
            .collect::<Result<_>>()?,
    })
}

/// Every advertised provider with a provider endpoint, as the selection
/// wants them.
pub fn candidates(client: &NodeClient) -> Result<Vec<Candidate>> {
    let mut out = Vec::new();
    for p in client.providers()? {
        let Some(e) = p.endpoint.as_ref().filter(|e| e.role == Role::Provider) else {
            continue;
        };
        out.push(Candidate {
            endpoint: endpoint(e)?,
            ad: ad(&p),
            recent_misses: p.recent_misses,
        });
    }
    Ok(out)
}

/// Every provider's advertisement, endpoint or not.
pub fn ads(client: &NodeClient) -> Result<HashMap<Address, ProviderAd>> {
    Ok(client
        .providers()?
        .iter()
        .map(|p| (p.provider, ad(p)))
        .collect())
}

fn ad(p: &ProviderInfo) -> ProviderAd {
    ProviderAd {
        capacity_bytes: p.capacity_bytes,
        used_bytes: p.used_bytes,
        price_per_gib_epoch: p.price_per_gib_epoch,
        collateral_per_gib: p.collateral_per_gib,
        min_duration_epochs: p.min_duration_epochs,
        max_duration_epochs: p.max_duration_epochs,
        updated_at: p.updated_at,
    }
}

/// The endpoints of `providers` that have one.
pub fn endpoints(
    client: &NodeClient,
    providers: impl IntoIterator<Item = Address>,
) -> Result<HashMap<Address, Endpoint>> {
    let mut out = HashMap::new();
    for address in providers {
        if out.contains_key(&address) {
            continue;
        }
        if let Some(e) = client.endpoint(&address)? {
            out.insert(address, endpoint(&e)?);
        }
    }
    Ok(out)
}

/// Fragments of `c` that are active.
pub fn active(c: &ContractInfo) -> usize {
    c.fragments
        .iter()
        .filter(|f| f.status == FragmentStatus::Active)
        .count()
}

/// A one-line state: active fragments of `k + m`, lost ones, health
/// (`(active − k) / m`), or ended.
pub fn summary(c: &ContractInfo) -> String {
    let n = c.fragments.len();
    let active = active(c);
    let lost = c
        .fragments
        .iter()
        .filter(|f| f.status == FragmentStatus::Lost)
        .count();
    if c.fragments
        .iter()
        .all(|f| f.status == FragmentStatus::Ended)
    {
        return "ended".into();
    }
    let health = if c.m == 0 {
        String::new()
    } else {
        format!(
            ", health {:.0} %",
            100.0 * (active as f64 - f64::from(c.k)) / f64::from(c.m)
        )
    };
    format!(
        "{active} of {n} fragments active{}{health}",
        if lost > 0 {
            format!(", {lost} lost")
        } else {
            String::new()
        }
    )
}
