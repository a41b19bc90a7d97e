//! What the storage commands read from the chain, through a node's API:
//! providers with their endpoints, contracts.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use sherd_ledger::{state::ProviderAd, Address, Amount, Hash};
use sherd_market::{client::select::Candidate, transport::Endpoint};
use sherd_wallet::NodeClient;

/// A GET of a JSON document; `Ok(None)` on 404.
pub fn get(base: &str, path: &str) -> Result<Option<Value>> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(20)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(&url)
        .call()
        .map_err(|e| anyhow!("cannot reach the node at {base}: {e}"))?;
    let status = response.status().as_u16();
    let body: Value = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_json()
        .map_err(|e| anyhow!("{url} answered something that is not JSON: {e}"))?;
    if status == 404 {
        return Ok(None);
    }
    if !(200..300).contains(&status) {
        bail!(
            "{url}: {}",
            body["error"].as_str().unwrap_or("the node refused")
        );
    }
    Ok(Some(body))
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value> {
    v.get(name)
        .ok_or_else(|| anyhow!("the node's answer has no `{name}`"))
}

fn u64_of(v: &Value, name: &str) -> Result<u64> {
    field(v, name)?
        .as_u64()
        .ok_or_else(|| anyhow!("`{name}` is not a number"))
}

fn str_of<'a>(v: &'a Value, name: &str) -> Result<&'a str> {
    field(v, name)?
        .as_str()
        .ok_or_else(|| anyhow!("`{name}` is not text"))
}

fn parse<T: FromStr>(v: &Value, name: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    let text = str_of(v, name)?;
    text.parse()
        .map_err(|e| anyhow!("`{name}` = `{text}`: {e}"))
}

fn endpoint(v: &Value) -> Result<Endpoint> {
    let hexes = |name: &str| -> Result<Vec<Vec<u8>>> {
        field(v, name)?
            .as_array()
            .ok_or_else(|| anyhow!("`{name}` is not a list"))?
            .iter()
            .map(|a| hex::decode(a.as_str().unwrap_or_default()).context("an address is not hex"))
            .collect()
    };
    Ok(Endpoint {
        address: parse(v, "principal")?,
        peer_id: hex::decode(str_of(v, "peer_id_hex")?).context("the peer id is not hex")?,
        multiaddrs: hexes("multiaddrs_hex")?,
    })
}

/// Every advertised provider with a provider endpoint, as the selection
/// wants them.
pub fn candidates(client: &NodeClient) -> Result<Vec<Candidate>> {
    let body = get(client.url(), "/v1/providers")?.unwrap_or_default();
    let mut out = Vec::new();
    for p in field(&body, "providers")?.as_array().into_iter().flatten() {
        let Some(e) = p.get("endpoint").filter(|e| !e.is_null()) else {
            continue;
        };
        if e.get("role").and_then(Value::as_str) != Some("provider") {
            continue;
        }
        out.push(Candidate {
            endpoint: endpoint(e)?,
            ad: ProviderAd {
                capacity_bytes: u64_of(p, "capacity_bytes")?,
                used_bytes: u64_of(p, "used_bytes")?,
                price_per_gib_epoch: Amount(u64_of(p, "price_per_gib_epoch_base")?),
                collateral_per_gib: Amount(u64_of(p, "collateral_per_gib_base")?),
                min_duration_epochs: u64_of(p, "min_duration_epochs")?,
                max_duration_epochs: u64_of(p, "max_duration_epochs")?,
                updated_at: p.get("updated_at").and_then(Value::as_u64).unwrap_or(0),
            },
            recent_misses: p.get("recent_misses").and_then(Value::as_u64).unwrap_or(0),
        });
    }
    Ok(out)
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
        if let Some(e) = get(client.url(), &format!("/v1/endpoints/{address}"))? {
            out.insert(address, endpoint(&e)?);
        }
    }
    Ok(out)
}

/// A fragment of a contract as the node shows it.
#[derive(Debug, Clone)]
pub struct FragmentView {
    /// Its root.
    pub root: Hash,
    /// Its provider.
    pub provider: Address,
    /// `active`, `lost`, `ended`.
    pub status: String,
    /// Proofs missed.
    pub misses: u64,
    /// The last period proven, plus one (0: never).
    pub proven: u64,
    /// Escrow left.
    pub escrow_left: Amount,
}

/// A contract as the node shows it.
#[derive(Debug, Clone)]
pub struct ContractView {
    /// The client.
    pub client: Address,
    /// The object root.
    pub object_root: Hash,
    /// Data fragments.
    pub k: u16,
    /// Parity fragments.
    pub m: u16,
    /// Bytes per fragment.
    pub fragment_size: u64,
    /// First challenged period.
    pub first_period: u64,
    /// Last challenged period.
    pub last_period: u64,
    /// Its fragments.
    pub fragments: Vec<FragmentView>,
    /// The node's whole answer.
    pub raw: Value,
}

/// Contract `id`, if the chain has it.
pub fn contract(client: &NodeClient, id: &Hash) -> Result<Option<ContractView>> {
    let Some(c) = get(client.url(), &format!("/v1/contracts/{id}"))? else {
        return Ok(None);
    };
    let small = |name: &str| -> Result<u16> {
        u16::try_from(u64_of(&c, name)?).map_err(|_| anyhow!("`{name}` is too large"))
    };
    let mut fragments = Vec::new();
    for f in field(&c, "fragments")?.as_array().into_iter().flatten() {
        fragments.push(FragmentView {
            root: parse(f, "root")?,
            provider: parse(f, "provider")?,
            status: str_of(f, "status")?.to_string(),
            misses: u64_of(f, "misses")?,
            proven: u64_of(f, "proven")?,
            escrow_left: Amount(u64_of(f, "escrow_left_base")?),
        });
    }
    Ok(Some(ContractView {
        client: parse(&c, "client")?,
        object_root: parse(&c, "object_root")?,
        k: small("k")?,
        m: small("m")?,
        fragment_size: u64_of(&c, "fragment_size")?,
        first_period: u64_of(&c, "first_period")?,
        last_period: u64_of(&c, "last_period")?,
        fragments,
        raw: c,
    }))
}
