//! The repair worker of a node with a `[repair]` section: it watches the
//! committed state for lost fragments (the ledger's lost index), least
//! healthy object first, rebuilds each from any `k` others over a light
//! libp2p peer of its own, places it with a new provider through the deal
//! flow, and sends the `RepairFragment` signed with the node's own key
//! (the provider key on a provider, else the operator key), which the
//! ledger pays the repair reward to. The logic is `sherd_market`'s
//! ([`sherd_market::client::repair`]), the same `sherd storage repair
//! --watch` runs; this module reads the chain from the node's own state
//! instead of its API.
//!
//! ```toml
//! [repair]
//! interval_secs = 10      # between looks at the chain (default 10)
//! ```
//!
//! A fragment whose repair failed rests for six intervals, so one that
//! cannot be repaired now does not hold up the others.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use sherd_ledger::{
    state::{Contract, FragmentStatus},
    tx::kind::{RepairFragment, Role},
    Address, Hash, StateView, TxKind,
};
use sherd_market::{
    client::{
        put::Quiet,
        repair::{plan, repair},
        select::Candidate,
    },
    transport::Endpoint,
};
use tokio::sync::watch;

use crate::net::light::{LightPeer, Timeouts};
use crate::shared::Shared;

/// `[repair]` in `config.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepairSection {
    /// Seconds between looks at the chain.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
}

fn default_interval() -> u64 {
    10
}

impl Default for RepairSection {
    fn default() -> Self {
        Self {
            interval_secs: default_interval(),
        }
    }
}

/// What the worker needs.
pub(crate) struct RepairStart {
    /// Signs the `RepairFragment`s (and is paid their rewards).
    pub key: SigningKey,
    /// Between looks at the chain.
    pub interval: Duration,
    /// Where the fragment being rebuilt is written.
    pub scratch: PathBuf,
}

/// Misses, per provider, on the fragments it still holds under a running
/// contract: what clients and repairers rank providers by.
pub(crate) fn recent_misses(contracts: &[Contract]) -> HashMap<Address, u64> {
    let mut misses: HashMap<Address, u64> = HashMap::new();
    for c in contracts {
        for f in &c.fragments {
            if f.status == FragmentStatus::Active {
                let m = misses.entry(f.provider).or_default();
                *m = m.saturating_add(u64::from(f.misses));
            }
        }
    }
    misses
}

/// What one look at the chain wants repaired, least healthy first, and
/// what the repairs need to know.
struct Look {
    height: u64,
    lost: Vec<(Contract, u32)>,
    endpoints: HashMap<Address, Endpoint>,
    providers: Vec<Candidate>,
}

fn look(shared: &Shared) -> Result<Look, String> {
    let height = shared.committed_status().head.height;
    let state = shared.db.state();
    let view = StateView::new(&state);
    let mut lost: Vec<(Contract, u32)> = Vec::new();
    for (id, index) in view.lost_fragments().map_err(|e| e.to_string())? {
        if let Some(contract) = view.contract(&id).map_err(|e| e.to_string())? {
            lost.push((contract, index));
        }
    }
    // Least healthy first: (active − k) / m, compared without floats.
    let health = |c: &Contract| {
        let active = c
            .fragments
            .iter()
            .filter(|f| f.status == FragmentStatus::Active)
            .count() as i64;
        (active - i64::from(c.k), i64::from(c.m.max(1)))
    };
    lost.sort_by(|(a, _), (b, _)| {
        let ((x, xm), (y, ym)) = (health(a), health(b));
        (x * ym).cmp(&(y * xm))
    });
    let endpoints: HashMap<Address, Endpoint> = view
        .endpoints()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|(_, e)| e.role == Role::Provider)
        .map(|(address, e)| {
            let endpoint = Endpoint {
                address,
                peer_id: e.peer_id,
                multiaddrs: e.multiaddrs.into_iter().map(|m| m.0).collect(),
            };
            (address, endpoint)
        })
        .collect();
    let misses = if lost.is_empty() {
        HashMap::new()
    } else {
        recent_misses(&view.contracts().map_err(|e| e.to_string())?)
    };
    let providers: Vec<Candidate> = view
        .providers()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter_map(|(address, ad)| {
            Some(Candidate {
                endpoint: endpoints.get(&address)?.clone(),
                ad,
                recent_misses: misses.get(&address).copied().unwrap_or(0),
            })
        })
        .collect();
    Ok(Look {
        height,
        lost,
        endpoints,
        providers,
    })
}

/// Starts the worker.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    start: RepairStart,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let peer = LightPeer::start(Timeouts::default())?;
    let repairer = Address::from(&start.key.verifying_key());
    tracing::info!(%repairer, interval = ?start.interval, "repair: watching for lost fragments");
    tokio::spawn(async move {
        let mut resting: HashMap<(Hash, u32), Instant> = HashMap::new();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(start.interval) => {}
                _ = shutdown.changed() => return,
            }
            let look = match look(&shared) {
                Ok(look) => look,
                Err(e) => {
                    tracing::warn!(error = %e, "repair: cannot read the lost fragments");
                    continue;
                }
            };
            let now = Instant::now();
            resting.retain(|_, until| *until > now);
            for (contract, index) in &look.lost {
                if resting.contains_key(&(contract.id, *index)) || *shutdown.borrow() {
                    continue;
                }
                let repaired =
                    repair_one(&shared, &peer, &start, repairer, &look, contract, *index).await;
                shared.metrics.repair(repaired.is_ok());
                match repaired {
                    Ok(tx) => tracing::info!(
                        contract = %contract.id, index, %tx,
                        "repair: fragment rebuilt, placed and sent"
                    ),
                    Err(e) => {
                        tracing::warn!(contract = %contract.id, index, error = %e, "repair: failed");
                        resting.insert((contract.id, *index), now + start.interval * 6);
                    }
                }
            }
        }
    });
    Ok(())
}

async fn repair_one(
    shared: &Shared,
    peer: &LightPeer,
    start: &RepairStart,
    repairer: Address,
    look: &Look,
    contract: &Contract,
    index: u32,
) -> Result<Hash, String> {
    let lost = plan(
        contract,
        index,
        repairer,
        &shared.params,
        look.height,
        &look.endpoints,
        &look.providers,
    )
    .map_err(|e| e.to_string())?;
    let scratch = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&start.scratch)
        .map_err(|e| format!("cannot open {}: {e}", start.scratch.display()))?;
    let repaired = repair(peer, &lost, &scratch, &Quiet).await;
    let _ = std::fs::remove_file(&start.scratch);
    let repaired = repaired.map_err(|e| e.to_string())?;
    let kind = TxKind::RepairFragment(RepairFragment {
        contract_id: contract.id,
        fragment_index: index,
        new_provider: repaired.provider.address,
        acceptance: repaired.signature,
    });
    crate::duties::sign_and_submit(shared, &start.key, kind).map_err(|e| e.to_string())
}
