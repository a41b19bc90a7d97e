//! Placing an encoded object's fragments: for every fragment at once,
//! propose, upload, and collect the provider's signed acceptance, moving a
//! fragment to a spare whenever its provider fails (see [`super::placement`]).
//!
//! Every acceptance is checked against the provider's key before it is
//! kept, so a `CreateContract` built from the result cannot fail on a bad
//! signature.

use ed25519_dalek::Signature;
use futures::stream::{FuturesUnordered, StreamExt};
use sherd_fragments::{file::read_footer, Object, ReadAt};
use sherd_ledger::{Address, Amount, ChainId, Hash};

use super::placement::{Attempt, Failure, Placement};
use crate::{
    transfer::{self, TransferError},
    transport::{Endpoint, Transport},
    wire::{DealRequest, DealResponse, Proposal},
};

/// What to place.
#[derive(Debug)]
pub struct PutRequest<'a, F> {
    /// The chain.
    pub chain_id: ChainId,
    /// The paying account.
    pub client: Address,
    /// The nonce its `CreateContract` will carry.
    pub nonce: u64,
    /// The encoded object.
    pub object: &'a Object,
    /// Contract length.
    pub duration_epochs: u64,
    /// The contract's price per GiB-epoch.
    pub price: Amount,
    /// The local fragment files, in index order.
    pub fragments: &'a [F],
    /// Providers, ranked: the first `k + m` first, then spares.
    pub providers: Vec<Endpoint>,
}

/// A fragment placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The fragment index.
    pub index: u32,
    /// Its provider.
    pub provider: Endpoint,
    /// The provider's acceptance.
    pub signature: Signature,
}

/// Things a person may want to watch.
pub trait PutEvents: Send + Sync {
    /// `sent` bytes of `fragment` went out in its current attempt.
    fn sent(&self, fragment: u32, sent: u64);
    /// `fragment` is placed with `provider`.
    fn placed(&self, fragment: u32, provider: &Address);
    /// An attempt failed (the fragment starts again elsewhere if it can).
    fn failed(&self, failure: &Failure);
}

/// Events nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl PutEvents for Quiet {
    fn sent(&self, _: u32, _: u64) {}
    fn placed(&self, _: u32, _: &Address) {}
    fn failed(&self, _: &Failure) {}
}

/// Why the object could not be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PutError {
    /// A fragment failed with every provider it was offered.
    #[error("fragment {fragment} could not be placed: every provider offered failed ({})", describe(.failures))]
    NotPlaced {
        /// The fragment.
        fragment: u32,
        /// Every failed attempt of the put.
        failures: Vec<Failure>,
    },
    /// Fewer providers than fragments, or fragment files that do not match
    /// the object.
    #[error("{0}")]
    Invalid(String),
    /// Our own side failed (the fragment could not be read or made): no
    /// other provider would fare better, so the put stops.
    #[error("fragment {fragment}: {reason}")]
    Local {
        /// The fragment.
        fragment: u32,
        /// What failed.
        reason: String,
    },
}

/// Why one attempt failed.
pub(crate) enum AttemptError {
    /// The provider or the link to it: try a spare.
    Provider(String),
    /// Our side: stop.
    Local(String),
}

impl From<String> for AttemptError {
    fn from(reason: String) -> Self {
        Self::Provider(reason)
    }
}

impl From<&str> for AttemptError {
    fn from(reason: &str) -> Self {
        Self::Provider(reason.to_string())
    }
}

fn describe(failures: &[Failure]) -> String {
    failures
        .iter()
        .map(|f| format!("fragment {} at {}: {}", f.fragment, f.provider, f.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The proposal of fragment `index`.
pub fn proposal<F>(request: &PutRequest<'_, F>, index: u32) -> Proposal {
    let layout = &request.object.layout;
    Proposal {
        chain_id: request.chain_id.clone(),
        client: request.client,
        nonce: request.nonce,
        object_root: Hash(request.object.root),
        k: layout.params.data() as u16,
        m: layout.params.parity() as u16,
        shard_size: layout.params.shard_size(),
        object_size: layout.size,
        fragment_size: layout.fragment_size,
        duration_epochs: request.duration_epochs,
        price_per_gib_epoch: request.price,
        index,
        fragment_root: Hash(
            request
                .object
                .fragment_roots
                .get(index as usize)
                .copied()
                .unwrap_or_default(),
        ),
        repair: None,
    }
}

/// Places every fragment; answers them in index order, with the failures
/// that were recovered from.
pub async fn place<T, F>(
    transport: &T,
    request: &PutRequest<'_, F>,
    events: &dyn PutEvents,
) -> Result<(Vec<Placed>, Vec<Failure>), PutError>
where
    T: Transport,
    F: ReadAt,
{
    let n = request.object.layout.params.total();
    if request.fragments.len() != n {
        return Err(PutError::Invalid(format!(
            "{} fragment files for {n} fragments",
            request.fragments.len()
        )));
    }
    if request.providers.len() < n {
        return Err(PutError::Invalid(format!(
            "{} providers for {n} fragments",
            request.providers.len()
        )));
    }
    let n = u32::try_from(n).map_err(|_| PutError::Invalid("too many fragments".into()))?;
    let (mut placement, first) =
        Placement::start(n, request.providers.iter().map(|e| e.address).collect());
    let mut signatures: Vec<Option<Signature>> = vec![None; n as usize];
    let mut running = FuturesUnordered::new();
    for a in first {
        running.push(run(transport, request, a, events));
    }
    while let Some((a, result)) = running.next().await {
        match result {
            Ok(signature) => {
                placement.placed(a);
                if let (Some(slot), Some(address)) = (
                    signatures.get_mut(a.fragment as usize),
                    placement.provider(a.provider),
                ) {
                    *slot = Some(signature);
                    events.placed(a.fragment, address);
                }
            }
            Err(AttemptError::Local(reason)) => {
                return Err(PutError::Local {
                    fragment: a.fragment,
                    reason,
                })
            }
            Err(AttemptError::Provider(reason)) => {
                let next = placement.failed(a, reason);
                if let Some(f) = placement.failures().last() {
                    events.failed(f);
                }
                match next {
                    Some(next) => running.push(run(transport, request, next, events)),
                    None => {
                        return Err(PutError::NotPlaced {
                            fragment: a.fragment,
                            failures: placement.failures().to_vec(),
                        })
                    }
                }
            }
        }
    }
    let assignment = placement
        .assignment()
        .ok_or_else(|| PutError::Invalid("placement ended incomplete".into()))?;
    let placed = assignment
        .iter()
        .zip(signatures)
        .zip(0u32..)
        .map(|((&p, signature), index)| {
            Ok(Placed {
                index,
                provider: request
                    .providers
                    .get(p)
                    .cloned()
                    .ok_or_else(|| PutError::Invalid("provider index out of range".into()))?,
                signature: signature.ok_or_else(|| {
                    PutError::Invalid("a placed fragment has no signature".into())
                })?,
            })
        })
        .collect::<Result<Vec<_>, PutError>>()?;
    Ok((placed, placement.failures().to_vec()))
}

async fn run<T: Transport, F: ReadAt>(
    transport: &T,
    request: &PutRequest<'_, F>,
    a: Attempt,
    events: &dyn PutEvents,
) -> (Attempt, Result<Signature, AttemptError>) {
    let result = match (
        request.providers.get(a.provider),
        request.fragments.get(a.fragment as usize),
    ) {
        (Some(endpoint), Some(file)) => {
            attempt(
                transport,
                &proposal(request, a.fragment),
                file,
                endpoint,
                events,
            )
            .await
        }
        _ => Err(AttemptError::Local("no such provider or fragment".into())),
    };
    (a, result)
}

/// One fragment with one provider: propose, upload, finish, check the
/// signature.
pub(crate) async fn attempt<T: Transport, F: ReadAt>(
    transport: &T,
    proposal: &Proposal,
    file: &F,
    endpoint: &Endpoint,
    events: &dyn PutEvents,
) -> Result<Signature, AttemptError> {
    let footer =
        read_footer(file).map_err(|e| AttemptError::Local(format!("local fragment file: {e}")))?;
    if footer.fragment_root != *proposal.fragment_root.as_bytes() {
        return Err(AttemptError::Local(
            "the local fragment file is not the object's".into(),
        ));
    }
    match transport
        .deal(endpoint, DealRequest::Propose(Box::new(proposal.clone())))
        .await
        .map_err(|e| e.to_string())?
    {
        DealResponse::Reserved { .. } => {}
        DealResponse::Refused(reason) => return Err(format!("refused: {reason}").into()),
        DealResponse::Accepted { .. } => {
            return Err("answered a proposal with an acceptance".into())
        }
    }
    let stream = transport.open(endpoint).await.map_err(|e| e.to_string())?;
    let fragment = proposal.index;
    transfer::upload(stream, proposal.contract_id(), &footer, file, &mut |sent| {
        events.sent(fragment, sent)
    })
    .await
    .map_err(|e| match e {
        TransferError::Local(e) => AttemptError::Local(e.to_string()),
        e => AttemptError::Provider(format!("upload: {e}")),
    })?;
    let signature = match transport
        .deal(
            endpoint,
            DealRequest::Finish {
                contract_id: proposal.contract_id(),
                index: proposal.index,
            },
        )
        .await
        .map_err(|e| e.to_string())?
    {
        DealResponse::Accepted { signature } => Signature::from_bytes(&signature),
        DealResponse::Refused(reason) => return Err(format!("finish refused: {reason}").into()),
        DealResponse::Reserved { .. } => return Err("answered finish with a reservation".into()),
    };
    let message = proposal.acceptance_message().map_err(|e| e.to_string())?;
    if !sherd_ledger::signed_by(&endpoint.address, &message, &signature) {
        return Err("its acceptance signature does not verify".into());
    }
    Ok(signature)
}
