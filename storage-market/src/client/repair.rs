//! Repairing a lost fragment: learn the object's layout from a holder,
//! fetch any `k` of the other fragments (verified group by group against
//! the contract's roots), rebuild the lost one as they arrive, check its
//! root, and place it with a new provider through the deal flow with repair
//! terms. The repairer needs no key: fragments are ciphertext.
//!
//! What comes out is the new provider's signed repair acceptance, which
//! names the repairer; the caller sends it in a `RepairFragment` (see
//! `sherd_ledger::state::market` for who may repair and who is paid).

use std::collections::HashMap;
use std::io::{BufWriter, Write};

use ed25519_dalek::Signature;
use sherd_fragments::{commit::object_root, Params, Rebuilder};
use sherd_ledger::{
    state::{Contract, FragmentStatus},
    Address, ChainId, ChainParams,
};

use super::{
    assemble::Assembly,
    get::{fetch, FetchEvents, FetchReport, Source},
    placement::Failure,
    put::{attempt, AttemptError, PutEvents},
    select::{select, Candidate, Needs},
};
use crate::{
    transfer::{self, Expected},
    transport::{Endpoint, Transport},
    wire::{Proposal, RepairTerms},
};

/// What a repair watches: the fetch of the others, then the upload.
pub trait RepairEvents: PutEvents + FetchEvents {}

impl<T: PutEvents + FetchEvents> RepairEvents for T {}

/// A lost fragment, and what the repairer knows of the network.
#[derive(Debug, Clone)]
pub struct LostFragment<'a> {
    /// The chain.
    pub chain_id: ChainId,
    /// Who repairs (the sender of the `RepairFragment`).
    pub repairer: Address,
    /// The contract, as the chain has it.
    pub contract: &'a Contract,
    /// The lost fragment's index.
    pub index: u32,
    /// Epochs the contract has left (what the new provider is asked to
    /// store it for).
    pub epochs_left: u64,
    /// Where the contract's active fragments are kept.
    pub sources: Vec<Source>,
    /// Providers to offer it to, best first; none holds a fragment of the
    /// contract.
    pub candidates: Vec<Endpoint>,
}

/// Plans the repair of fragment `index` of `contract` from what the chain
/// says: the active fragments with an endpoint are the sources, the epochs
/// left follow from `params` at the final `height`, and the candidates are
/// the providers that can take the fragment at the contract's price for
/// that long, none holding a fragment of the contract, best first (see
/// [`super::select`]).
pub fn plan<'a>(
    contract: &'a Contract,
    index: u32,
    repairer: Address,
    params: &ChainParams,
    height: u64,
    endpoints: &HashMap<Address, Endpoint>,
    providers: &[Candidate],
) -> Result<LostFragment<'a>, RepairError> {
    let sources: Vec<Source> = contract
        .fragments
        .iter()
        .zip(0u32..)
        .filter(|(f, _)| f.status == FragmentStatus::Active)
        .filter_map(|(f, i)| {
            endpoints.get(&f.provider).map(|endpoint| Source {
                index: i,
                root: f.root,
                endpoint: endpoint.clone(),
            })
        })
        .collect();
    let periods_left = contract
        .last_period
        .saturating_sub(params.period_of(height));
    let epochs_left = periods_left
        .div_ceil(params.periods_per_epoch().max(1))
        .max(1);
    let selection = select(
        providers,
        &Needs {
            fragment_size: contract.fragment_size,
            duration_epochs: epochs_left,
            max_price: contract.price_per_gib_epoch,
            count: 1,
            spares: providers.len().saturating_sub(1),
            exclude: contract.fragments.iter().map(|f| f.provider).collect(),
        },
    )
    .map_err(|e| RepairError::Invalid(format!("no provider can take it: {e}")))?;
    Ok(LostFragment {
        chain_id: params.chain_id.clone(),
        repairer,
        contract,
        index,
        epochs_left,
        sources,
        candidates: selection.ranked.into_iter().map(|c| c.endpoint).collect(),
    })
}

/// A fragment repaired: placed and accepted, waiting for its
/// `RepairFragment`.
#[derive(Debug, Clone)]
pub struct Repaired {
    /// Its new provider.
    pub provider: Endpoint,
    /// The provider's repair acceptance.
    pub signature: Signature,
    /// The fragments it was rebuilt from.
    pub fetched: FetchReport,
    /// Providers that failed to take it.
    pub failures: Vec<Failure>,
}

/// Why a repair failed.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    /// The request cannot be a repair.
    #[error("{0}")]
    Invalid(String),
    /// No holder answered a layout that matches the object root.
    #[error("no holder told the object's layout: {0}")]
    Layout(String),
    /// Fewer than `k` other fragments could be read, or the rebuilt
    /// fragment did not match its root.
    #[error("cannot rebuild fragment {index}: {reason}")]
    Rebuild {
        /// The fragment.
        index: u32,
        /// What failed.
        reason: String,
    },
    /// Every candidate provider failed to take it.
    #[error("no provider took fragment {index} ({})", describe(.failures))]
    NotPlaced {
        /// The fragment.
        index: u32,
        /// What each said.
        failures: Vec<Failure>,
    },
    /// Our side failed (the scratch file).
    #[error("{0}")]
    Local(String),
}

fn describe(failures: &[Failure]) -> String {
    if failures.is_empty() {
        return "no candidate was left".into();
    }
    failures
        .iter()
        .map(|f| format!("{}: {}", f.provider, f.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Repairs `lost`: rebuilds it into `scratch` (an empty file opened for
/// reading and writing; the caller removes it afterwards) and places it.
pub async fn repair<T: Transport>(
    transport: &T,
    lost: &LostFragment<'_>,
    scratch: &std::fs::File,
    events: &dyn RepairEvents,
) -> Result<Repaired, RepairError> {
    let contract = lost.contract;
    let fragment = contract
        .fragments
        .get(lost.index as usize)
        .ok_or_else(|| RepairError::Invalid(format!("no fragment {}", lost.index)))?;
    if fragment.status != FragmentStatus::Lost {
        return Err(RepairError::Invalid(format!(
            "fragment {} is {}, not lost",
            lost.index,
            fragment.status.name()
        )));
    }
    let sources: Vec<Source> = lost
        .sources
        .iter()
        .filter(|s| s.index != lost.index)
        .cloned()
        .collect();
    let layout = layout(transport, contract, &sources).await?;
    let k = layout.params.data();

    // Rebuild on a thread of its own while the others arrive.
    let assembly = Assembly::new(layout);
    let (done, rebuilt) = futures::channel::oneshot::channel();
    let file = scratch
        .try_clone()
        .map_err(|e| RepairError::Local(format!("the scratch file: {e}")))?;
    let root = *fragment.root.as_bytes();
    std::thread::spawn({
        let assembly = assembly.clone();
        let rebuilder = Rebuilder::new(
            layout,
            lost.index as usize,
            *contract.object_root.as_bytes(),
        );
        move || {
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let result = assembly
                .rebuild(rebuilder, &root, &mut out)
                .map_err(|e| e.to_string())
                .and_then(|_| out.flush().map_err(|e| format!("the scratch file: {e}")));
            if let Err(e) = &result {
                assembly.end(format!("rebuilding stopped: {e}"));
            }
            let _ = done.send(result);
        }
    });
    let fetched = fetch(
        transport,
        contract.id,
        contract.fragment_size,
        k,
        sources,
        &assembly,
        events,
    )
    .await;
    assembly.end(match &fetched {
        Ok(_) => "the fetch is complete".into(),
        Err(e) => e.to_string(),
    });
    let rebuilt = rebuilt
        .await
        .unwrap_or_else(|_| Err("the rebuilding thread stopped".into()));
    let fetched = match (fetched, rebuilt) {
        (Ok(report), Ok(())) => report,
        (Err(e), _) => {
            return Err(RepairError::Rebuild {
                index: lost.index,
                reason: e.to_string(),
            })
        }
        (Ok(_), Err(reason)) => {
            return Err(RepairError::Rebuild {
                index: lost.index,
                reason,
            })
        }
    };

    // Offer it to the candidates in turn.
    let proposal = Proposal {
        chain_id: lost.chain_id.clone(),
        client: contract.client,
        nonce: 0,
        object_root: contract.object_root,
        k: contract.k,
        m: contract.m,
        shard_size: layout.params.shard_size(),
        object_size: layout.size,
        fragment_size: contract.fragment_size,
        duration_epochs: lost.epochs_left.max(1),
        price_per_gib_epoch: contract.price_per_gib_epoch,
        index: lost.index,
        fragment_root: fragment.root,
        repair: Some(RepairTerms {
            contract_id: contract.id,
            repairer: lost.repairer,
            last_period: contract.last_period,
        }),
    };
    let mut failures = Vec::new();
    for candidate in &lost.candidates {
        if contract
            .fragments
            .iter()
            .any(|f| f.provider == candidate.address)
        {
            continue;
        }
        match attempt(transport, &proposal, scratch, candidate, events).await {
            Ok(signature) => {
                events.placed(lost.index, &candidate.address);
                return Ok(Repaired {
                    provider: candidate.clone(),
                    signature,
                    fetched,
                    failures,
                });
            }
            Err(AttemptError::Local(reason)) => return Err(RepairError::Local(reason)),
            Err(AttemptError::Provider(reason)) => {
                let failure = Failure {
                    fragment: lost.index,
                    provider: candidate.address,
                    reason,
                };
                PutEvents::failed(events, &failure);
                failures.push(failure);
            }
        }
    }
    Err(RepairError::NotPlaced {
        index: lost.index,
        failures,
    })
}

/// The object's layout, from the first holder whose footer gives one that
/// the contract's object root commits to.
async fn layout<T: Transport>(
    transport: &T,
    contract: &Contract,
    sources: &[Source],
) -> Result<sherd_fragments::Layout, RepairError> {
    let roots: Vec<[u8; 32]> = contract
        .fragments
        .iter()
        .map(|f| *f.root.as_bytes())
        .collect();
    let mut reasons = Vec::new();
    for source in sources {
        let told = async {
            let mut stream = transport
                .open(&source.endpoint)
                .await
                .map_err(|e| e.to_string())?;
            let expected = Expected {
                root: *source.root.as_bytes(),
                fragment_size: contract.fragment_size,
                index: source.index,
            };
            let footer = transfer::footer(&mut stream, contract.id, &expected)
                .await
                .map_err(|e| e.to_string())?;
            let params = Params::with_shard_size(
                usize::from(contract.k),
                usize::from(contract.m),
                footer.shard_size,
            )
            .map_err(|e| format!("its footer's shard size: {e}"))?;
            let layout = params
                .layout(footer.object_size)
                .ok_or("its footer's object size fits no layout")?;
            if layout.fragment_size != contract.fragment_size
                || object_root(&layout, &roots) != *contract.object_root.as_bytes()
            {
                return Err("its footer's layout is not the one the object root commits to".into());
            }
            Ok::<_, String>(layout)
        }
        .await;
        match told {
            Ok(layout) => return Ok(layout),
            Err(reason) => reasons.push(format!(
                "fragment {} at {}: {reason}",
                source.index, source.endpoint.address
            )),
        }
    }
    Err(RepairError::Layout(if reasons.is_empty() {
        "no other fragment has a provider".into()
    } else {
        reasons.join("; ")
    }))
}
