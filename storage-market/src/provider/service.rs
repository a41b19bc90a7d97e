//! The provider service: answers the deal protocol, receives and serves
//! fragments, and keeps its store in step with the chain.
//!
//! It owns no socket and no clock: the node hands it deal requests and
//! fragment streams as they arrive, and calls [`Provider::maintain`] after
//! every final block. An upload is verified group by group as it arrives
//! (see [`crate::transfer`]); the fragment file gets the same tree and
//! footer as `sherd fragments encode` writes, is made durable by the store,
//! and only then is `Stored` answered; the acceptance (`Finish`) is signed
//! only for a stored fragment.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use ed25519_dalek::{Signer, SigningKey};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use sherd_fragments::{
    commit::tree_levels,
    file::{read_footer, write_trailer, Footer},
};
use sherd_ledger::{
    state::{Contract, FragmentStatus},
    Address, Amount, Hash,
};

use super::policy::{ChainFacts, DealPolicy, PolicyConfig};
use crate::{
    store::{FragmentKey, FragmentRecord, FragmentState, FragmentStore, StoreError},
    transfer::{self, ReceiveError, TransferError},
    wire::{
        self, DealRequest, DealResponse, DownloadResponse, FragmentRequest, Proposal, Refusal,
        UploadResponse,
    },
};

/// What the provider needs to read from the chain.
pub trait ProviderChain: Send + Sync {
    /// The facts a proposal for `contract_id` is judged on.
    fn facts(&self, contract_id: &Hash) -> Result<ChainFacts, String>;
    /// A contract as the chain has it now.
    fn contract(&self, id: &Hash) -> Result<Option<Contract>, String>;
}

/// Counts the service keeps (since start).
#[derive(Debug, Default)]
pub struct ServiceStats {
    /// Proposals reserved.
    pub reserved: AtomicU64,
    /// Proposals refused.
    pub refused: AtomicU64,
    /// Uploads stored.
    pub stored: AtomicU64,
    /// Uploads refused or broken.
    pub uploads_failed: AtomicU64,
    /// Bytes of fragment data received and kept.
    pub bytes_received: AtomicU64,
    /// Downloads served.
    pub served: AtomicU64,
    /// Pending fragments dropped because their contract never came.
    pub expired: AtomicU64,
    /// Fragments deleted because their contract ended or moved them.
    pub released: AtomicU64,
}

/// A storage provider.
#[derive(Debug)]
pub struct Provider<S, C> {
    key: SigningKey,
    address: Address,
    store: S,
    chain: C,
    policy: Mutex<DealPolicy>,
    uploads: AtomicUsize,
    max_uploads: usize,
    /// Counts since start.
    pub stats: ServiceStats,
}

/// What one fragment stream ([`Provider::serve_stream`]) was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// An upload: the fragment was stored, or refused or cut short.
    Upload {
        /// Whether it was stored.
        stored: bool,
    },
    /// A download: the groups asked for were sent, or refused (not stored
    /// here, damaged).
    Download {
        /// Whether they were sent.
        sent: bool,
    },
}

/// What one [`Provider::maintain`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// Pending fragments whose contract arrived with this provider.
    pub confirmed: usize,
    /// Pending fragments or reservations whose time ran out.
    pub expired: usize,
    /// Fragments deleted: their contract chose another provider, ended,
    /// or marked them lost.
    pub released: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<S: FragmentStore, C: ProviderChain> Provider<S, C> {
    /// A provider signing with `key`, keeping fragments in `store`. Stored
    /// fragments still waiting for their contract are held again (their
    /// room and collateral counted) at today's collateral price.
    pub fn new(
        key: SigningKey,
        store: S,
        chain: C,
        config: PolicyConfig,
        max_uploads: usize,
    ) -> Result<Self, StoreError> {
        let address = Address::from(&key.verifying_key());
        let collateral = chain
            .facts(&Hash::default())
            .ok()
            .and_then(|f| f.ad)
            .map(|ad| ad.collateral_per_gib)
            .unwrap_or(Amount::ZERO);
        let policy = DealPolicy::restore(config, &store.records()?, collateral);
        Ok(Self {
            key,
            address,
            store,
            chain,
            policy: Mutex::new(policy),
            uploads: AtomicUsize::new(0),
            max_uploads: max_uploads.max(1),
            stats: ServiceStats::default(),
        })
    }

    /// The provider's address (its signing key's).
    pub fn address(&self) -> Address {
        self.address
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Bytes and collateral held for fragments not yet under contract, and
    /// how many.
    pub fn pending(&self) -> (u64, Amount, usize) {
        let policy = lock(&self.policy);
        (
            policy.pending_bytes(),
            policy.pending_collateral(),
            policy.pending_count(),
        )
    }

    /// Answers a deal request.
    pub fn deal(&self, request: DealRequest) -> DealResponse {
        let response = match request {
            DealRequest::Propose(p) => self.propose(&p),
            DealRequest::Finish { contract_id, index } => {
                self.finish(&FragmentKey { contract_id, index })
            }
        };
        let counter = match &response {
            DealResponse::Reserved { .. } => &self.stats.reserved,
            DealResponse::Refused(_) => &self.stats.refused,
            DealResponse::Accepted { .. } => return response,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        response
    }

    fn propose(&self, p: &Proposal) -> DealResponse {
        let facts = match self.chain.facts(&p.contract_id()) {
            Ok(facts) => facts,
            Err(e) => return DealResponse::Refused(Refusal::internal(e)),
        };
        // The ledger refuses a repair to a provider that holds another
        // fragment of the contract (one loss must not take two fragments).
        if let (Some(_), Some(contract)) = (&p.repair, &facts.contract) {
            if let Some(held) = contract
                .fragments
                .iter()
                .position(|f| f.provider == self.address)
            {
                return DealResponse::Refused(Refusal::invalid(format!(
                    "this provider holds fragment {held} of contract {} already",
                    contract.id
                )));
            }
        }
        match lock(&self.policy).propose(&facts, p) {
            Ok(expires_height) => DealResponse::Reserved { expires_height },
            Err(reason) => DealResponse::Refused(reason),
        }
    }

    fn finish(&self, key: &FragmentKey) -> DealResponse {
        let Some(proposal) = lock(&self.policy).stored(key).cloned() else {
            return DealResponse::Refused(Refusal::unknown(format!(
                "{key} is not stored here: upload it first"
            )));
        };
        match proposal.acceptance_message() {
            Ok(message) => DealResponse::Accepted {
                signature: self.key.sign(&message).to_bytes(),
            },
            Err(e) => DealResponse::Refused(Refusal::internal(e.to_string())),
        }
    }

    /// Serves one `/sherd/fragment/1` stream: an upload or a download, and
    /// says which and whether it completed.
    pub async fn serve_stream<St>(&self, mut stream: St) -> Result<Served, TransferError>
    where
        St: AsyncRead + AsyncWrite + Unpin,
    {
        let request: FragmentRequest =
            transfer::read_message(&mut stream, wire::MAX_FRAGMENT_REQUEST).await?;
        match request {
            FragmentRequest::Upload { contract_id, index } => {
                self.receive(stream, FragmentKey { contract_id, index })
                    .await
            }
            FragmentRequest::Download {
                contract_id,
                index,
                first_group,
                groups,
            } => {
                self.send(
                    stream,
                    &FragmentKey { contract_id, index },
                    first_group,
                    groups,
                )
                .await
            }
        }
    }

    async fn receive<St>(&self, mut stream: St, key: FragmentKey) -> Result<Served, TransferError>
    where
        St: AsyncRead + AsyncWrite + Unpin,
    {
        let outcome = self.receive_inner(&mut stream, &key).await;
        let response = match &outcome {
            Ok(()) => {
                self.stats.stored.fetch_add(1, Ordering::Relaxed);
                UploadResponse::Stored
            }
            Err(ReceiveError::Refused(reason)) => UploadResponse::Refused(reason.clone()),
            Err(ReceiveError::Local(e)) => {
                UploadResponse::Refused(Refusal::internal(e.to_string()))
            }
            Err(ReceiveError::Io(_)) => {
                self.stats.uploads_failed.fetch_add(1, Ordering::Relaxed);
                return Ok(Served::Upload { stored: false });
            }
        };
        if outcome.is_err() {
            self.stats.uploads_failed.fetch_add(1, Ordering::Relaxed);
        }
        transfer::write_message(&mut stream, &response).await?;
        stream.close().await?;
        if outcome.is_err() {
            // Let the refusal reach the client before the stream goes away:
            // read (and drop) what it still sends, a bounded amount.
            let mut sink = [0u8; 64 * 1024];
            let mut drained = 0usize;
            while drained < (8 << 20) {
                match stream.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
        }
        Ok(Served::Upload {
            stored: outcome.is_ok(),
        })
    }

    async fn receive_inner<St>(
        &self,
        stream: &mut St,
        key: &FragmentKey,
    ) -> Result<(), ReceiveError>
    where
        St: AsyncRead + Unpin,
    {
        if self.uploads.fetch_add(1, Ordering::AcqRel) >= self.max_uploads {
            self.uploads.fetch_sub(1, Ordering::AcqRel);
            return Err(ReceiveError::Refused(Refusal::busy(format!(
                "{} uploads in progress",
                self.max_uploads
            ))));
        }
        let result = self.receive_reserved(stream, key).await;
        self.uploads.fetch_sub(1, Ordering::AcqRel);
        result
    }

    async fn receive_reserved<St>(
        &self,
        stream: &mut St,
        key: &FragmentKey,
    ) -> Result<(), ReceiveError>
    where
        St: AsyncRead + Unpin,
    {
        let (proposal, expires_height) = lock(&self.policy)
            .start_upload(key)
            .map_err(ReceiveError::Refused)?;
        let stored = self
            .write_fragment(stream, key, &proposal, expires_height)
            .await;
        lock(&self.policy).end_upload(key, stored.is_ok());
        stored
    }

    async fn write_fragment<St>(
        &self,
        stream: &mut St,
        key: &FragmentKey,
        proposal: &Proposal,
        expires_height: u64,
    ) -> Result<(), ReceiveError>
    where
        St: AsyncRead + Unpin,
    {
        let internal = |e: StoreError| ReceiveError::Refused(Refusal::internal(e.to_string()));
        let mut writer = self.store.create(key).map_err(internal)?;
        let received = transfer::receive_upload(
            stream,
            proposal.fragment_size,
            proposal.fragment_root.as_bytes(),
            &mut writer,
        )
        .await;
        let leaves = match received {
            Ok(leaves) => leaves,
            Err(e) => {
                self.store.abort(key, writer);
                return Err(e);
            }
        };
        let footer = footer_of(proposal);
        if let Err(e) = write_trailer(&mut writer, &tree_levels(&leaves), &footer) {
            self.store.abort(key, writer);
            return Err(ReceiveError::Local(e));
        }
        let record = FragmentRecord {
            proposal: proposal.clone(),
            state: FragmentState::Pending { expires_height },
            stored_at: expires_height
                .saturating_sub(lock(&self.policy).config().reservation_blocks),
        };
        self.store.commit(writer, &record).map_err(internal)?;
        self.stats
            .bytes_received
            .fetch_add(proposal.fragment_size, Ordering::Relaxed);
        Ok(())
    }

    async fn send<St>(
        &self,
        mut stream: St,
        key: &FragmentKey,
        first_group: u64,
        groups: u64,
    ) -> Result<Served, TransferError>
    where
        St: AsyncRead + AsyncWrite + Unpin,
    {
        let refuse = |reason: Refusal| DownloadResponse::Refused(reason);
        let file = match self.store.open(key) {
            Ok(Some(file)) => file,
            Ok(None) => {
                transfer::write_message(
                    &mut stream,
                    &refuse(Refusal::unknown(format!("{key} is not stored here"))),
                )
                .await?;
                stream.close().await?;
                return Ok(Served::Download { sent: false });
            }
            Err(e) => {
                transfer::write_message(&mut stream, &refuse(Refusal::internal(e.to_string())))
                    .await?;
                stream.close().await?;
                return Ok(Served::Download { sent: false });
            }
        };
        let footer = match read_footer(&file) {
            Ok(footer) => footer,
            Err(e) => {
                transfer::write_message(
                    &mut stream,
                    &refuse(Refusal::internal(format!(
                        "the stored fragment is damaged: {e}"
                    ))),
                )
                .await?;
                stream.close().await?;
                return Ok(Served::Download { sent: false });
            }
        };
        transfer::send_download(&mut stream, &file, &footer, first_group, groups).await?;
        self.stats.served.fetch_add(1, Ordering::Relaxed);
        Ok(Served::Download { sent: true })
    }

    /// Keeps the store in step with the chain at final `height`: drops
    /// reservations and pending fragments whose time ran out; a pending
    /// fragment whose contract arrived becomes active (or is deleted if the
    /// contract chose another provider for its index); with `full`, also
    /// deletes active fragments whose contract ended or no longer has this
    /// provider at their index (lost, repaired elsewhere).
    pub fn maintain(&self, height: u64, full: bool) -> Result<Maintenance, StoreError> {
        let mut done = Maintenance::default();
        let (expired, pending) = {
            let mut policy = lock(&self.policy);
            (policy.expire(height), policy.stored_keys())
        };
        for (key, stored) in expired {
            if stored {
                self.store.remove(&key)?;
            }
            done.expired += 1;
        }
        for key in pending {
            let Ok(Some(contract)) = self.chain.contract(&key.contract_id) else {
                continue;
            };
            let Some(proposal) = lock(&self.policy).stored(&key).cloned() else {
                continue;
            };
            let on_chain = contract.fragments.get(key.index as usize);
            let ours = on_chain
                .is_some_and(|f| f.provider == self.address && f.root == proposal.fragment_root);
            // A repair waits while the fragment is still lost (its
            // `RepairFragment` is on the way), until the reservation ends.
            let waiting = proposal.repair.is_some()
                && on_chain.is_some_and(|f| f.status == FragmentStatus::Lost);
            if waiting {
                continue;
            }
            if ours {
                self.store.set_state(&key, FragmentState::Active)?;
                done.confirmed += 1;
            } else {
                self.store.remove(&key)?;
                done.released += 1;
            }
            lock(&self.policy).release(&key);
        }
        if full {
            for record in self.store.records()? {
                if record.state != FragmentState::Active {
                    continue;
                }
                let key = record.key();
                let Ok(contract) = self.chain.contract(&key.contract_id) else {
                    continue;
                };
                let keep = contract.is_some_and(|c| {
                    c.fragments.get(key.index as usize).is_some_and(|f| {
                        f.provider == self.address && f.status == FragmentStatus::Active
                    })
                });
                if !keep {
                    self.store.remove(&key)?;
                    done.released += 1;
                }
            }
        }
        self.stats
            .expired
            .fetch_add(done.expired as u64, Ordering::Relaxed);
        self.stats
            .released
            .fetch_add(done.released as u64, Ordering::Relaxed);
        Ok(done)
    }
}

/// The footer of the fragment file a proposal describes.
pub fn footer_of(p: &Proposal) -> Footer {
    Footer {
        index: u16::try_from(p.index).unwrap_or(u16::MAX),
        data: p.k,
        parity: p.m,
        shard_size: p.shard_size,
        object_size: p.object_size,
        fragment_size: p.fragment_size,
        fragment_root: *p.fragment_root.as_bytes(),
        object_root: *p.object_root.as_bytes(),
    }
}
