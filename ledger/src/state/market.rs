//! The storage market: endpoints, provider advertisements, contracts,
//! storage proofs, slashing for missed proofs, repair and settlement.
//!
//! **Contracts.** `CreateContract` by a client names `k + m` fragments, one
//! provider each (all different), with each provider's ed25519 signature
//! over [`acceptance_message`]. Every provider must advertise at least the
//! fragment's size free, a price per GiB-epoch at most the contract's, and
//! a duration range containing the contract's. The client locks the escrow,
//! `ceil(price · fragment_size · duration / 2^30)` per fragment; each
//! provider locks `ceil(collateral_per_gib · fragment_size / 2^30)` from its
//! balance. The contract id is `BLAKE3("sherd/contract/v1" ‖ client ‖
//! u64_le(nonce))` of the creating transaction, so a provider's acceptance
//! (which signs the id) is good for one contract only.
//!
//! **Proofs.** A contract created in period `q` is challenged in periods
//! `q + 1 ..= q + duration · periods_per_epoch`. The seed of period `p` is
//! the beacon seed of its first block (height `p · proof_period`); the
//! challenged chunk of fragment `i` is
//! `sherd_fragments::challenge_index(seed_p, contract_id, i, p, fragment_size / 1024)`.
//! Proofs for period `p` are accepted from its first block through block
//! `p · proof_period + proof_window − 1`, from the fragment's provider only,
//! once per period. An accepted proof pays the provider
//! `escrow_left / periods_left` of the fragment's escrow plus the chain's
//! `proof_reward` (new currency).
//!
//! **Each proof on its own.** The entries of one `SubmitProofs` are judged
//! independently, in order: an entry that is stale (another period, a
//! closed window), for someone else's or an unknown fragment, already
//! proven (a second entry for the same fragment in one batch is refused
//! this way; the first counts) or wrong (does not decode, proves another
//! chunk) is refused with its [`ProofRejection`], and does not undo or
//! block the others. The receipt lists a [`ProofVerdict`] per entry, in
//! batch order ([`Receipt::proofs`](super::Receipt::proofs)): accepted
//! with what it paid, or refused with why. The transaction **succeeds** if
//! at least one entry is accepted (the refused ones change nothing); it
//! **fails** with [`FailReason::BadProof`] naming the first refused entry
//! if none is accepted (every verdict is still in the receipt), and with
//! [`ProofRejection::EmptyBatch`] (no verdicts) if the batch is empty. The
//! fee is paid in every case.
//!
//! **Checking a batch on every core.** Whether a proof proves its
//! challenged chunk depends only on the period's seed, the entry, and its
//! fragment's root and size, none of which a `SubmitProofs` changes. So
//! by default ([`ProofChecks::Parallel`]) a batch is judged in two passes:
//! first the Merkle checks (challenge index, proof decoding, path) of every
//! entry that the state at the start of the transaction would let through
//! to its check, on every core (rayon, for batches of 32 entries or more);
//! then every entry in batch order on one thread, with every state check
//! (period, window, contract, fragment, provider, status, already proven)
//! and payment made there as before, taking the Merkle result from the
//! first pass (or checking on the spot if the first pass had none for that
//! root and size). The verdicts, receipts, writes and state root are those
//! of checking each entry in turn ([`ProofChecks::Sequential`]); tests
//! compare the two on random batches and on the random market runs of the
//! supply property. Contracts read by a block's `SubmitProofs` also stay
//! decoded until another kind of transaction or the end of the block, so a
//! contract answered for in ten transactions is decoded and written once.
//! Transactions themselves are applied one after the other: the executor
//! is driven one transaction at a time ([`BlockExecutor::apply`]), and one
//! batch of a thousand proofs already fills the cores.
//!
//! **Misses.** After the window's last block, every active fragment that
//! was challenged in `p` (its provider took it before the period began) and
//! not proven misses: the client gets back that period's escrow share, and
//! `missed_proof_slash_bps` of the locked collateral is slashed
//! (`slash_to_client_bps` of it to the client, the rest burned). At
//! `max_missed_proofs` misses the fragment is **lost**: the rest of its
//! collateral is slashed the same way, except that `repair_reward_bps` of
//! the part that would be burned is kept with the fragment as its **repair
//! reward**; its provider's capacity is freed, and it is listed in the
//! lost index (`0x0d ‖ contract ‖ u32_be(index)`) until it is repaired or
//! the contract ends.
//!
//! **Repair.** Anyone may repair a lost fragment, so that repair happens
//! while the client is offline: the repairer rebuilds it from any `k`
//! others (ciphertext only, no key needed), has a new provider store it,
//! and sends `RepairFragment` with that provider's signature over
//! [`repair_message`], which names the repairer: a copy of the transaction
//! sent by someone else fails, so a repair cannot be taken over from the
//! mempool. The new provider must advertise room and a price at most the
//! contract's, and must not hold another fragment of the contract; it
//! locks its own collateral, takes over the fragment's remaining escrow
//! (paid per accepted proof from the next period on, as before), and the
//! repairer is paid the repair reward. A repair in the contract's last
//! period is refused (there is nothing left to prove). Unclaimed at
//! settlement, the reward is burned, as it would have been.
//!
//! **Settlement.** After the window of the last period, the remaining
//! escrow goes back to the client, the collateral back to the providers,
//! and their capacity is freed. The contract stays in the state as ended.
//!
//! **What the end of a window costs.** A contract is listed in the live
//! index, `0x0e ‖ contract_id` (an empty value), from the block that
//! creates it to the block after which it settles, which removes it. The
//! block that closes period `p`'s window reads that index and each
//! contract it lists; ended contracts are not in it, so however many
//! contracts the chain has ever ended, they cost this block nothing. A
//! live contract costs one index entry (a key of 33 bytes, written once
//! and deleted once) and one read and decoding of its record at each
//! window's end, whether or not it has anything to slash; only a contract
//! with a miss is written. The work therefore grows with the live
//! contracts and the misses, not with the contracts ever made.
//!
//! Finer indexes were weighed and left out. A list of the fragments due
//! in each period would be a record per fragment and period (a contract
//! of `n` fragments over `P` periods, `n · P` records) or, kept as "next
//! period due", two more state writes per proven contract and period; and
//! every state write re-hashes a path of the state commitment (about
//! 12 µs a key in a state of a million keys, more than checking a proof).
//! Reading a proven live contract at the window's end costs a lookup and a
//! decoding instead (well under a microsecond each), and adds nothing to
//! the commitment.

use std::collections::HashMap;

use rayon::prelude::*;

use super::{
    records::{
        self, Contract, ContractFragment, Empty, Endpoint, FragmentStatus, ProviderAd, Record,
    },
    staking::share,
    AdFault, BlockExecutor, ContractFault, FailReason, KindResult, Overlay, RepairFault,
    StateError, TermsFault,
};
use crate::verify::signed_by;
use crate::{
    address::Address,
    amount::Amount,
    chain::ChainId,
    codec::{Encode, Writer},
    hash::Hash,
    store::StateStore,
    tx::kind::{
        AdvertiseCapacity, CreateContract, ProofAnswer, RegisterEndpoint, RepairFragment, Role,
        SubmitProofs,
    },
};

/// Namespace of a provider's deal acceptance.
pub const DEAL_NAMESPACE: &[u8] = b"sherd/deal/v1";
/// Namespace of a provider's repair acceptance.
pub const REPAIR_NAMESPACE: &[u8] = b"sherd/repair/v2";
/// Namespace of contract ids.
pub const CONTRACT_NAMESPACE: &[u8] = b"sherd/contract/v1";
/// Bytes in a GiB.
pub const GIB: u128 = 1 << 30;

/// The id of the contract created by `client`'s transaction with `nonce`.
pub fn contract_id(client: &Address, nonce: u64) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(CONTRACT_NAMESPACE);
    hasher.update(client.as_bytes());
    hasher.update(&nonce.to_le_bytes());
    Hash(*hasher.finalize().as_bytes())
}

/// What a provider signs to accept fragment `index` of a contract:
///
/// ```text
/// "sherd/deal/v1" ‖ chain_id ‖ contract_id [32] ‖ client [32] ‖ object_root [32]
///   ‖ u16 k ‖ u16 m ‖ u64 fragment_size ‖ u64 duration_epochs
///   ‖ u64 price_per_gib_epoch ‖ u32 index ‖ fragment_root [32]
/// ```
pub fn acceptance_message(
    chain_id: &ChainId,
    contract_id: &Hash,
    client: &Address,
    contract: &CreateContract,
    index: u32,
    fragment_root: &Hash,
) -> Result<Vec<u8>, crate::codec::EncodeError> {
    let mut w = Writer::new();
    w.fixed(DEAL_NAMESPACE);
    chain_id.encode(&mut w)?;
    w.fixed(contract_id.as_bytes());
    w.fixed(client.as_bytes());
    w.fixed(contract.object_root.as_bytes());
    w.u16(contract.k);
    w.u16(contract.m);
    w.u64(contract.fragment_size);
    w.u64(contract.duration_epochs);
    w.u64(contract.price_per_gib_epoch.0);
    w.u32(index);
    w.fixed(fragment_root.as_bytes());
    Ok(w.into_bytes())
}

/// What a new provider signs to take over fragment `index` of a contract,
/// repaired by `repairer` (the sender of the `RepairFragment`):
///
/// ```text
/// "sherd/repair/v2" ‖ chain_id ‖ contract_id [32] ‖ u32 index ‖ fragment_root [32]
///   ‖ u64 fragment_size ‖ u64 last_period ‖ repairer [32]
/// ```
pub fn repair_message(
    chain_id: &ChainId,
    contract: &RepairedFragment,
    repairer: &Address,
) -> Result<Vec<u8>, crate::codec::EncodeError> {
    let mut w = Writer::new();
    w.fixed(REPAIR_NAMESPACE);
    chain_id.encode(&mut w)?;
    w.fixed(contract.contract_id.as_bytes());
    w.u32(contract.index);
    w.fixed(contract.root.as_bytes());
    w.u64(contract.fragment_size);
    w.u64(contract.last_period);
    w.fixed(repairer.as_bytes());
    Ok(w.into_bytes())
}

/// The facts of a contract a repair acceptance signs (see [`repair_message`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairedFragment {
    /// The contract.
    pub contract_id: Hash,
    /// The fragment's index.
    pub index: u32,
    /// Its root (unchanged by the repair).
    pub root: Hash,
    /// Its size.
    pub fragment_size: u64,
    /// The contract's last challenged period.
    pub last_period: u64,
}

impl RepairedFragment {
    /// Fragment `index` of `contract`, if it has one.
    pub fn of(contract: &Contract, index: u32) -> Option<Self> {
        let fragment = contract.fragments.get(usize::try_from(index).ok()?)?;
        Some(Self {
            contract_id: contract.id,
            index,
            root: fragment.root,
            fragment_size: contract.fragment_size,
            last_period: contract.last_period,
        })
    }
}

/// `ceil(per_gib · bytes · factor / 2^30)`, or `None` past `u64`.
pub fn per_gib_cost(per_gib: Amount, bytes: u64, factor: u64) -> Option<Amount> {
    let numerator = u128::from(per_gib.0)
        .checked_mul(u128::from(bytes))?
        .checked_mul(u128::from(factor))?;
    let cost = numerator.div_ceil(GIB);
    u64::try_from(cost).ok().map(Amount)
}

/// What became of one entry of a `SubmitProofs` batch (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofVerdict {
    /// The entry's position in the batch.
    pub index: usize,
    /// The contract it answers for.
    pub contract: Hash,
    /// The fragment it answers for.
    pub fragment: u32,
    /// Accepted with its payment, or refused with why.
    pub result: Result<ProofPayment, ProofRejection>,
}

impl ProofVerdict {
    /// Whether the proof was accepted.
    pub fn is_accepted(&self) -> bool {
        self.result.is_ok()
    }
}

impl std::fmt::Display for ProofVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "proof {} ({} fragment {}) ",
            self.index, self.contract, self.fragment
        )?;
        match &self.result {
            Ok(paid) => write!(f, "is accepted: {paid}"),
            Err(reason) => write!(f, "is refused: {reason}"),
        }
    }
}

/// What an accepted proof paid its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofPayment {
    /// The period's share of the fragment's escrow, `escrow_left / periods_left`.
    pub escrow: Amount,
    /// The chain's `proof_reward` (new currency).
    pub reward: Amount,
}

impl std::fmt::Display for ProofPayment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} from escrow + {} reward", self.escrow, self.reward)
    }
}

/// Why an entry of a `SubmitProofs` batch is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofRejection {
    /// The batch has no entries (the transaction fails; there is no verdict).
    #[error("the batch is empty")]
    EmptyBatch,
    /// The entry answers another period than the current one.
    #[error("it is for period {found}, the current period is {current}")]
    WrongPeriod {
        /// The block's period.
        current: u64,
        /// The entry's.
        found: u64,
    },
    /// The current period's proof window is over.
    #[error("the proof window of period {period} has closed")]
    WindowClosed {
        /// The current period.
        period: u64,
    },
    /// The period has no challenge seed (the state has no record of its
    /// first block).
    #[error("period {period} has no challenge seed")]
    NoSeed {
        /// The current period.
        period: u64,
    },
    /// No contract has this id.
    #[error("no such contract")]
    UnknownContract,
    /// The contract is not challenged in the current period.
    #[error("the contract is challenged in periods {first}..={last}")]
    NotInContract {
        /// Its first challenged period.
        first: u64,
        /// Its last.
        last: u64,
    },
    /// The contract has no fragment with this index.
    #[error("no such fragment: the contract has {fragments}")]
    UnknownFragment {
        /// How many fragments the contract has.
        fragments: usize,
    },
    /// The sender does not store the fragment.
    #[error("the fragment is stored by {provider}")]
    NotTheProvider {
        /// Who does.
        provider: Address,
    },
    /// The fragment is lost or its contract ended.
    #[error("the fragment is {}", status.name())]
    NotActive {
        /// Its status.
        status: FragmentStatus,
    },
    /// The provider took the fragment during this period: it is challenged
    /// from the next one.
    #[error("the fragment is not challenged before the next period")]
    NotYetChallenged {
        /// The height at which the provider took it.
        since: u64,
    },
    /// The fragment is already proven for this period (by an earlier
    /// transaction or an earlier entry of the same batch).
    #[error("already proven for this period")]
    AlreadyProven,
    /// The contract's fragment size holds no chunk.
    #[error("the fragment has no chunks")]
    NoChunks,
    /// The proof bytes are not a proof.
    #[error("proof does not decode: {0}")]
    Undecodable(sherd_fragments::ProofError),
    /// The proof does not prove the challenged chunk against the fragment root.
    #[error("proof of chunk {chunk} does not verify: {error}")]
    WrongChunk {
        /// The challenged chunk.
        chunk: u64,
        /// What the check found.
        error: sherd_fragments::ProofError,
    },
    /// Paying the provider would overflow its balance.
    #[error("the payment would overflow the balance of {provider}")]
    Overflow {
        /// The provider.
        provider: Address,
    },
}

fn invalid_contract(reason: ContractFault) -> KindResult {
    Ok(Err(FailReason::InvalidContract { reason }))
}

/// The current proof period as a `SubmitProofs` sees it.
struct Window {
    /// The block's period.
    period: u64,
    /// The height of the period's first block.
    period_start: u64,
    /// Whether the block is inside the period's proof window.
    open: bool,
    /// The period's challenge seed.
    seed: Option<Hash>,
    /// What an accepted proof issues (the chain's `proof_reward`).
    reward: Amount,
}

/// A state key and its encoded value.
type KeyValue = (Vec<u8>, Vec<u8>);

/// A `SubmitProofs` entry's verdict.
type ProofResult = Result<ProofPayment, ProofRejection>;

/// Batches of at least this many entries have their proofs checked on
/// every core; smaller ones on the calling thread (handing a few checks to
/// other threads costs more than it saves).
const PARALLEL_MIN_PROOFS: usize = 32;

/// How `SubmitProofs` checks the Merkle proofs of its batches. Both give
/// the same verdicts, receipts and state for every block (the supply
/// property replays every block of its random market runs both ways and
/// compares); only the speed differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProofChecks {
    /// The default: the proofs of a batch of at least 32 entries are
    /// checked on every core (rayon's global pool) before the entries are
    /// judged in batch order, each contract is decoded once per block and
    /// written back once (whatever number of transactions answer for it),
    /// and a batch credits its sender and issues its rewards once.
    #[default]
    Parallel,
    /// Each entry in turn reads its contract, is checked on the calling
    /// thread, and if accepted writes back its contract, the sender's
    /// account and the supply. The reference the default is tested
    /// against.
    Sequential,
}

/// A Merkle check made ahead of the judging, with what it was made against.
#[derive(Debug)]
struct Checked {
    /// The fragment root the proof was checked against.
    root: Hash,
    /// The fragment's chunk count.
    n_chunks: u64,
    /// The check's result.
    result: Result<(), ProofRejection>,
}

/// A contract kept decoded by the block's `SubmitProofs`.
#[derive(Debug)]
pub(super) struct CachedContract {
    /// The contract as the block's accepted proofs have left it.
    contract: Contract,
    /// Whether it changed since it was read (it must be written back).
    dirty: bool,
}

/// The contracts the block's `SubmitProofs` have read, kept decoded across
/// its transactions, so that a contract answered for by ten providers in
/// ten transactions is decoded and encoded once a block, not ten times.
/// [`BlockExecutor::flush_contracts`] writes the changed ones back to the
/// overlay before any other kind of transaction and at the end of the
/// block; nothing else reads contracts from here.
#[derive(Debug, Default)]
pub(super) struct ContractCache {
    /// By contract id; a hash map, since every entry of every batch looks
    /// its contract up here (in order only when written back, sorted).
    entries: HashMap<Hash, CachedContract>,
}

impl ContractCache {
    /// Reads every contract `ids` names that is not cached yet (a contract
    /// that does not exist is not cached): when there are many, read and
    /// decoded on every core, in the order of their ids (so the first
    /// error, if any, is always the same one).
    fn load<'a, S: StateStore>(
        &mut self,
        overlay: &Overlay<'_, S>,
        ids: impl Iterator<Item = &'a Hash>,
    ) -> Result<(), StateError> {
        let mut wanted: Vec<Hash> = ids
            .filter(|id| !self.entries.contains_key(*id))
            .copied()
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let read = |id: &Hash| -> Result<Option<Contract>, StateError> {
            let key = records::contract_key(id);
            overlay
                .raw(&key)?
                .map(|bytes| super::decode::<Contract>(&key, &bytes))
                .transpose()
        };
        let read: Vec<Result<Option<Contract>, StateError>> = if wanted.len() >= PARALLEL_MIN_PROOFS
        {
            wanted.par_iter().map(read).collect()
        } else {
            wanted.iter().map(read).collect()
        };
        for (id, contract) in wanted.into_iter().zip(read) {
            if let Some(contract) = contract? {
                self.entries.insert(
                    id,
                    CachedContract {
                        contract,
                        dirty: false,
                    },
                );
            }
        }
        Ok(())
    }

    fn get_mut(&mut self, id: &Hash) -> Option<&mut CachedContract> {
        self.entries.get_mut(id)
    }

    /// The Merkle check of `answer`, made now if the entry can be accepted
    /// as the contract stands (the right period, an open window, the
    /// sender's active fragment, challenged and not yet proven); `None`
    /// otherwise, and the judging decides (and checks, if it gets that
    /// far). Pure: reads the cache only.
    fn precheck(&self, sender: &Address, answer: &ProofAnswer, window: &Window) -> Option<Checked> {
        let seed = window.seed.as_ref()?;
        if answer.period != window.period || !window.open {
            return None;
        }
        let contract = &self.entries.get(&answer.contract_id)?.contract;
        if !(contract.first_period..=contract.last_period).contains(&window.period) {
            return None;
        }
        let fragment = contract
            .fragments
            .get(usize::try_from(answer.fragment_index).ok()?)?;
        if fragment.provider != *sender
            || fragment.status != FragmentStatus::Active
            || fragment.since >= window.period_start
            || fragment.proven == window.period.saturating_add(1)
        {
            return None;
        }
        let n_chunks = chunks(contract);
        Some(Checked {
            root: fragment.root,
            n_chunks,
            result: check_proof(seed, answer, &fragment.root, n_chunks),
        })
    }
}

/// The number of challengeable chunks of `contract`'s fragments.
fn chunks(contract: &Contract) -> u64 {
    contract
        .fragment_size
        .checked_div(sherd_fragments::CHUNK_SIZE as u64)
        .unwrap_or(0)
}

/// Whether `answer`'s proof proves the chunk its period's challenge names
/// in a fragment of `n_chunks` chunks with root `root`. Pure.
fn check_proof(
    seed: &Hash,
    answer: &ProofAnswer,
    root: &Hash,
    n_chunks: u64,
) -> Result<(), ProofRejection> {
    let Some(chunk) = sherd_fragments::challenge_index(
        seed.as_bytes(),
        answer.contract_id.as_bytes(),
        answer.fragment_index,
        answer.period,
        n_chunks,
    ) else {
        return Err(ProofRejection::NoChunks);
    };
    let proof =
        sherd_fragments::Proof::from_bytes(&answer.proof).map_err(ProofRejection::Undecodable)?;
    sherd_fragments::check(root.as_bytes(), n_chunks, chunk, &proof)
        .map_err(|error| ProofRejection::WrongChunk { chunk, error })
}

/// Judges one entry against its contract as the earlier entries left it
/// (`None`: no such contract, or not read because the entry is refused
/// before it matters), and if it is accepted, records the proof in the
/// contract and adds the payment to `balance` (the sender's). The Merkle
/// check is `checked` if it was made against this fragment's root and
/// size, and is made here otherwise. A refused entry changes nothing:
/// every check comes before the first change.
fn judge(
    sender: &Address,
    answer: &ProofAnswer,
    window: &Window,
    contract: Option<&mut Contract>,
    checked: Option<Checked>,
    balance: &mut Amount,
) -> Result<ProofResult, StateError> {
    let period = window.period;
    if answer.period != period {
        return Ok(Err(ProofRejection::WrongPeriod {
            current: period,
            found: answer.period,
        }));
    }
    if !window.open {
        return Ok(Err(ProofRejection::WindowClosed { period }));
    }
    let Some(seed) = &window.seed else {
        return Ok(Err(ProofRejection::NoSeed { period }));
    };
    let Some(contract) = contract else {
        return Ok(Err(ProofRejection::UnknownContract));
    };
    if !(contract.first_period..=contract.last_period).contains(&period) {
        return Ok(Err(ProofRejection::NotInContract {
            first: contract.first_period,
            last: contract.last_period,
        }));
    }
    let periods_left = contract
        .last_period
        .saturating_sub(period)
        .saturating_add(1);
    let n_chunks = chunks(contract);
    let fragments = contract.fragments.len();
    let Some(fragment) = usize::try_from(answer.fragment_index)
        .ok()
        .and_then(|i| contract.fragments.get_mut(i))
    else {
        return Ok(Err(ProofRejection::UnknownFragment { fragments }));
    };
    if fragment.provider != *sender {
        return Ok(Err(ProofRejection::NotTheProvider {
            provider: fragment.provider,
        }));
    }
    if fragment.status != FragmentStatus::Active {
        return Ok(Err(ProofRejection::NotActive {
            status: fragment.status,
        }));
    }
    if fragment.since >= window.period_start {
        return Ok(Err(ProofRejection::NotYetChallenged {
            since: fragment.since,
        }));
    }
    if fragment.proven == period.saturating_add(1) {
        return Ok(Err(ProofRejection::AlreadyProven));
    }
    let verified = match checked {
        Some(checked) if checked.root == fragment.root && checked.n_chunks == n_chunks => {
            checked.result
        }
        _ => check_proof(seed, answer, &fragment.root, n_chunks),
    };
    if let Err(reason) = verified {
        return Ok(Err(reason));
    }
    let payment = ProofPayment {
        escrow: Amount(
            fragment
                .escrow_left
                .0
                .checked_div(periods_left)
                .unwrap_or(0),
        ),
        reward: window.reward,
    };
    let earned = payment
        .escrow
        .checked_add(payment.reward)
        .ok_or(StateError::SupplyOverflow)?;
    let Some(paid) = balance.checked_add(earned) else {
        return Ok(Err(ProofRejection::Overflow { provider: *sender }));
    };
    fragment.escrow_left = fragment
        .escrow_left
        .checked_sub(payment.escrow)
        .ok_or(StateError::SupplyOverflow)?;
    *balance = paid;
    fragment.proven = period.saturating_add(1);
    fragment.accepted = fragment.accepted.saturating_add(1);
    Ok(Ok(payment))
}

impl<S: StateStore> BlockExecutor<'_, S> {
    pub(super) fn register_endpoint(
        &mut self,
        sender: &Address,
        e: &RegisterEndpoint,
    ) -> KindResult {
        if e.peer_id.is_empty() {
            return Ok(Err(FailReason::InvalidEndpoint {
                reason: "the peer id is empty",
            }));
        }
        if e.multiaddrs.is_empty() || e.multiaddrs.iter().any(|a| a.0.is_empty()) {
            return Ok(Err(FailReason::InvalidEndpoint {
                reason: "at least one non-empty multiaddr is needed",
            }));
        }
        let endpoint = Endpoint {
            role: e.role,
            peer_id: e.peer_id.clone(),
            multiaddrs: e.multiaddrs.clone(),
            updated_at: self.ctx.height,
        };
        self.overlay.put(records::endpoint_key(sender), &endpoint)?;
        Ok(Ok(()))
    }

    pub(super) fn advertise(&mut self, sender: &Address, a: &AdvertiseCapacity) -> KindResult {
        let refuse = |reason: AdFault| Ok(Err(FailReason::InvalidAdvertisement { reason }));
        match self
            .overlay
            .get::<Endpoint>(&records::endpoint_key(sender))?
        {
            Some(endpoint) if endpoint.role == Role::Provider => {}
            _ => return refuse(AdFault::NoProviderEndpoint),
        }
        if a.min_duration_epochs == 0 || a.min_duration_epochs > a.max_duration_epochs {
            return refuse(AdFault::DurationRange {
                min: a.min_duration_epochs,
                max: a.max_duration_epochs,
            });
        }
        let key = records::provider_key(sender);
        let used = self
            .overlay
            .get::<ProviderAd>(&key)?
            .map(|ad| ad.used_bytes)
            .unwrap_or(0);
        if a.capacity_bytes < used {
            return refuse(AdFault::BelowUsed {
                capacity: a.capacity_bytes,
                used,
            });
        }
        let ad = ProviderAd {
            capacity_bytes: a.capacity_bytes,
            used_bytes: used,
            price_per_gib_epoch: a.price_per_gib_epoch,
            collateral_per_gib: a.collateral_per_gib,
            min_duration_epochs: a.min_duration_epochs,
            max_duration_epochs: a.max_duration_epochs,
            updated_at: self.ctx.height,
        };
        self.overlay.put(key, &ad)?;
        Ok(Ok(()))
    }

    pub(super) fn create_contract(
        &mut self,
        client: &Address,
        nonce: u64,
        c: &CreateContract,
    ) -> KindResult {
        let n = usize::from(c.k).saturating_add(usize::from(c.m));
        if c.k < 2 || c.m < 1 {
            return invalid_contract(ContractFault::Geometry { k: c.k, m: c.m });
        }
        if c.fragments.len() != n {
            return invalid_contract(ContractFault::FragmentCount {
                listed: c.fragments.len(),
                n,
            });
        }
        let chunk = sherd_fragments::CHUNK_SIZE as u64;
        if c.fragment_size == 0 || c.fragment_size.checked_rem(chunk) != Some(0) {
            return invalid_contract(ContractFault::FragmentSize {
                size: c.fragment_size,
                chunk,
            });
        }
        if c.duration_epochs == 0 {
            return invalid_contract(ContractFault::ZeroDuration);
        }
        let Some(periods) = c
            .duration_epochs
            .checked_mul(self.params.periods_per_epoch())
        else {
            return invalid_contract(ContractFault::TooLong);
        };
        let Some(escrow_each) =
            per_gib_cost(c.price_per_gib_epoch, c.fragment_size, c.duration_epochs)
        else {
            return invalid_contract(ContractFault::EscrowOverflow);
        };
        let id = contract_id(client, nonce);
        let ckey = records::contract_key(&id);
        if self.overlay.get::<Contract>(&ckey)?.is_some() {
            return invalid_contract(ContractFault::Exists(id));
        }
        let mut fragments = Vec::with_capacity(n);
        for (deal, index) in c.fragments.iter().zip(0u32..) {
            if let Some(first) = c
                .fragments
                .iter()
                .zip(0u32..)
                .take_while(|(_, i)| *i < index)
                .find(|(d, _)| d.provider == deal.provider)
                .map(|(_, i)| i)
            {
                return Ok(Err(FailReason::DuplicateProvider {
                    provider: deal.provider,
                    first,
                    second: index,
                }));
            }
            let provider = deal.provider;
            let ad = match self.provider_terms(&provider, c.fragment_size, c.price_per_gib_epoch)? {
                Ok(ad) => ad,
                Err(reason) => return Ok(Err(reason)),
            };
            if !(ad.min_duration_epochs..=ad.max_duration_epochs).contains(&c.duration_epochs) {
                return Ok(Err(FailReason::TermsRefused {
                    provider,
                    reason: TermsFault::Duration {
                        duration: c.duration_epochs,
                        min: ad.min_duration_epochs,
                        max: ad.max_duration_epochs,
                    },
                }));
            }
            let message =
                acceptance_message(&self.params.chain_id, &id, client, c, index, &deal.root)?;
            if !signed_by(&provider, &message, &deal.acceptance) {
                return Ok(Err(FailReason::BadAcceptance { index, provider }));
            }
            let collateral = match self.take_fragment(&provider, ad, c.fragment_size)? {
                Ok(collateral) => collateral,
                Err(reason) => return Ok(Err(reason)),
            };
            fragments.push(ContractFragment {
                root: deal.root,
                provider,
                status: FragmentStatus::Active,
                escrow_left: escrow_each,
                collateral_left: collateral,
                repair_reward: Amount::ZERO,
                misses: 0,
                accepted: 0,
                proven: 0,
                since: self.ctx.height,
            });
        }
        let Some(escrow) = u64::try_from(n)
            .ok()
            .and_then(|n| escrow_each.0.checked_mul(n))
        else {
            return invalid_contract(ContractFault::EscrowOverflow);
        };
        if let Err(reason) = self.overlay.debit(client, Amount(escrow))? {
            return Ok(Err(reason));
        }
        let first_period = self.params.period_of(self.ctx.height).saturating_add(1);
        let last_period = first_period.saturating_add(periods.saturating_sub(1));
        let contract = Contract {
            id,
            client: *client,
            object_root: c.object_root,
            k: c.k,
            m: c.m,
            fragment_size: c.fragment_size,
            price_per_gib_epoch: c.price_per_gib_epoch,
            start_height: self.ctx.height,
            first_period,
            last_period,
            fragments,
        };
        self.overlay.put(ckey, &contract)?;
        self.overlay.put(
            records::settlement_key(self.settlement_height(&contract), &id),
            &Empty,
        )?;
        self.overlay.put(records::live_key(&id), &Empty)?;
        Ok(Ok(()))
    }

    /// The block after which `contract` settles: the end of its last
    /// period's proof window.
    pub(super) fn settlement_height(&self, contract: &Contract) -> u64 {
        contract
            .last_period
            .saturating_mul(self.params.proof_period)
            .saturating_add(self.params.proof_window.saturating_sub(1))
    }

    /// Judges every entry of `batch` on its own (see the module docs),
    /// pushing one verdict per entry to `verdicts`.
    pub(super) fn submit_proofs(
        &mut self,
        sender: &Address,
        batch: &SubmitProofs,
        verdicts: &mut Vec<ProofVerdict>,
    ) -> KindResult {
        if batch.proofs.is_empty() {
            return Ok(Err(FailReason::BadProof {
                index: 0,
                contract: Hash::default(),
                fragment: 0,
                reason: ProofRejection::EmptyBatch,
            }));
        }
        let height = self.ctx.height;
        let period = self.params.period_of(height);
        let window = Window {
            period,
            period_start: period.saturating_mul(self.params.proof_period),
            open: height
                < period
                    .saturating_mul(self.params.proof_period)
                    .saturating_add(self.params.proof_window),
            seed: self
                .overlay
                .get::<Hash>(&records::period_seed_key(period))?,
            reward: self.params.proof_reward,
        };
        let results = match self.proof_checks {
            ProofChecks::Parallel => self.judge_batch(sender, batch, &window)?,
            ProofChecks::Sequential => self.judge_one_by_one(sender, batch, &window)?,
        };
        verdicts.reserve(batch.proofs.len());
        let mut accepted = false;
        let mut first_refusal = None;
        for ((index, answer), result) in batch.proofs.iter().enumerate().zip(results) {
            match &result {
                Ok(_) => accepted = true,
                Err(reason) if first_refusal.is_none() => {
                    first_refusal = Some(FailReason::BadProof {
                        index,
                        contract: answer.contract_id,
                        fragment: answer.fragment_index,
                        reason: reason.clone(),
                    });
                }
                Err(_) => {}
            }
            verdicts.push(ProofVerdict {
                index,
                contract: answer.contract_id,
                fragment: answer.fragment_index,
                result,
            });
        }
        match first_refusal {
            Some(reason) if !accepted => Ok(Err(reason)),
            _ => Ok(Ok(())),
        }
    }

    /// [`ProofChecks::Parallel`]: reads each contract the batch names once
    /// (into the block's [`ContractCache`]), checks the Merkle proofs of
    /// every entry that can be accepted on every core, then judges the
    /// entries in batch order on this thread with those results, and
    /// writes the sender's balance and the supply once.
    ///
    /// The outcome is the one [`judge_one_by_one`](Self::judge_one_by_one)
    /// gives: a proof's check depends only on the period's seed, the entry
    /// and its fragment's root and size, which no entry of the batch
    /// changes (the judging checks that the root and size it was checked
    /// against are the fragment's, and checks again if not); every state
    /// check and payment is made in batch order, as there.
    fn judge_batch(
        &mut self,
        sender: &Address,
        batch: &SubmitProofs,
        window: &Window,
    ) -> Result<Vec<ProofResult>, StateError> {
        if window.open && window.seed.is_some() {
            let named = batch
                .proofs
                .iter()
                .filter(|answer| answer.period == window.period)
                .map(|answer| &answer.contract_id);
            self.contracts.load(&self.overlay, named)?;
        }
        let cache = &self.contracts;
        let precheck = |answer: &ProofAnswer| cache.precheck(sender, answer, window);
        let mut prechecks: Vec<Option<Checked>> = if batch.proofs.len() >= PARALLEL_MIN_PROOFS {
            batch.proofs.par_iter().map(precheck).collect()
        } else {
            batch.proofs.iter().map(precheck).collect()
        };
        let mut account = self.overlay.account(sender)?;
        let mut issued = Amount::ZERO;
        let mut results = Vec::with_capacity(batch.proofs.len());
        for (answer, checked) in batch.proofs.iter().zip(prechecks.iter_mut()) {
            let mut cached = self.contracts.get_mut(&answer.contract_id);
            let result = judge(
                sender,
                answer,
                window,
                cached.as_mut().map(|c| &mut c.contract),
                checked.take(),
                &mut account.balance,
            )?;
            if let Ok(payment) = &result {
                if let Some(cached) = cached {
                    cached.dirty = true;
                }
                issued = issued
                    .checked_add(payment.reward)
                    .ok_or(StateError::SupplyOverflow)?;
            }
            results.push(result);
        }
        // An accepted entry makes the transaction succeed, so what the
        // cache now holds is kept with the transaction's other writes.
        if results.iter().any(Result::is_ok) {
            self.overlay.put_account(sender, &account)?;
            self.overlay.issue(issued)?;
        }
        Ok(results)
    }

    /// [`ProofChecks::Sequential`]: each entry in turn reads its contract
    /// and the sender's account, is checked on this thread and, if
    /// accepted, writes them back and issues its reward.
    fn judge_one_by_one(
        &mut self,
        sender: &Address,
        batch: &SubmitProofs,
        window: &Window,
    ) -> Result<Vec<ProofResult>, StateError> {
        let mut results = Vec::with_capacity(batch.proofs.len());
        for answer in &batch.proofs {
            let ckey = records::contract_key(&answer.contract_id);
            let mut contract = if answer.period == window.period && window.open {
                self.overlay.get::<Contract>(&ckey)?
            } else {
                None
            };
            let mut account = self.overlay.account(sender)?;
            let result = judge(
                sender,
                answer,
                window,
                contract.as_mut(),
                None,
                &mut account.balance,
            )?;
            if let (Ok(payment), Some(contract)) = (&result, &contract) {
                self.overlay.put_account(sender, &account)?;
                self.overlay.put(ckey, contract)?;
                self.overlay.issue(payment.reward)?;
            }
            results.push(result);
        }
        Ok(results)
    }

    /// Writes the contracts the block's `SubmitProofs` changed back to the
    /// overlay and empties the cache; done before any other kind of
    /// transaction and at the end of the block, so everything else reads
    /// contracts from the overlay as always.
    pub(super) fn flush_contracts(&mut self) -> Result<(), StateError> {
        if self.contracts.entries.is_empty() {
            return Ok(());
        }
        let mut dirty: Vec<CachedContract> = std::mem::take(&mut self.contracts.entries)
            .into_values()
            .filter(|cached| cached.dirty)
            .collect();
        dirty.sort_unstable_by_key(|cached| cached.contract.id);
        let encode = |cached: &CachedContract| {
            let contract = &cached.contract;
            Ok((records::contract_key(&contract.id), contract.to_bytes()?))
        };
        let encoded: Vec<Result<KeyValue, StateError>> = if dirty.len() >= PARALLEL_MIN_PROOFS {
            dirty.par_iter().map(encode).collect()
        } else {
            dirty.iter().map(encode).collect()
        };
        for write in encoded {
            let (key, bytes) = write?;
            self.overlay.put_bytes(key, bytes);
        }
        self.overlay.keep_tx();
        Ok(())
    }

    pub(super) fn repair(&mut self, sender: &Address, r: &RepairFragment) -> KindResult {
        let refuse = |reason: RepairFault| Ok(Err(FailReason::BadRepair { reason }));
        let ckey = records::contract_key(&r.contract_id);
        let Some(mut contract) = self.overlay.get::<Contract>(&ckey)? else {
            return Ok(Err(FailReason::UnknownContract { id: r.contract_id }));
        };
        if self.params.period_of(self.ctx.height) >= contract.last_period {
            return refuse(RepairFault::LastPeriod);
        }
        if contract
            .fragments
            .iter()
            .any(|f| f.provider == r.new_provider)
        {
            return refuse(RepairFault::AlreadyHolds(r.new_provider));
        }
        let Some(fragment) = usize::try_from(r.fragment_index)
            .ok()
            .and_then(|i| contract.fragments.get(i))
            .copied()
        else {
            return refuse(RepairFault::NoFragment(r.fragment_index));
        };
        if fragment.status != FragmentStatus::Lost {
            return refuse(RepairFault::NotLost {
                index: r.fragment_index,
                status: fragment.status.name(),
            });
        }
        let provider = r.new_provider;
        let ad = match self.provider_terms(
            &provider,
            contract.fragment_size,
            contract.price_per_gib_epoch,
        )? {
            Ok(ad) => ad,
            Err(reason) => return Ok(Err(reason)),
        };
        let Some(repaired) = RepairedFragment::of(&contract, r.fragment_index) else {
            return refuse(RepairFault::NoFragment(r.fragment_index));
        };
        let message = repair_message(&self.params.chain_id, &repaired, sender)?;
        if !signed_by(&provider, &message, &r.acceptance) {
            return Ok(Err(FailReason::BadAcceptance {
                index: r.fragment_index,
                provider,
            }));
        }
        let collateral = match self.take_fragment(&provider, ad, contract.fragment_size)? {
            Ok(collateral) => collateral,
            Err(reason) => return Ok(Err(reason)),
        };
        if let Some(slot) = usize::try_from(r.fragment_index)
            .ok()
            .and_then(|i| contract.fragments.get_mut(i))
        {
            *slot = ContractFragment {
                provider,
                status: FragmentStatus::Active,
                collateral_left: collateral,
                repair_reward: Amount::ZERO,
                misses: 0,
                accepted: 0,
                proven: 0,
                since: self.ctx.height,
                ..fragment
            };
        }
        if self
            .overlay
            .credit(sender, fragment.repair_reward)?
            .is_err()
        {
            return Err(StateError::SupplyOverflow);
        }
        self.overlay.put(ckey, &contract)?;
        self.overlay
            .delete(records::lost_key(&r.contract_id, r.fragment_index));
        Ok(Ok(()))
    }

    /// Slashes every fragment challenged in `period` and not proven.
    ///
    /// Visits the live contracts (the `0x0e` index), not every contract
    /// ever made: a contract leaves the index when it settles, so ended
    /// contracts cost nothing here. The live ones are each read once,
    /// proven or not (see the module docs, "What the end of a window
    /// costs").
    pub(super) fn settle_period(&mut self, period: u64) -> Result<(), StateError> {
        let period_start = period.saturating_mul(self.params.proof_period);
        let live = self.overlay.scan::<Empty>(&[records::prefix::LIVE])?;
        for (lkey, _) in live {
            let Some(id) = lkey.get(1..33).and_then(|b| <[u8; 32]>::try_from(b).ok()) else {
                continue;
            };
            let ckey = records::contract_key(&Hash(id));
            let Some(mut contract) = self.overlay.get::<Contract>(&ckey)? else {
                continue;
            };
            if !(contract.first_period..=contract.last_period).contains(&period) {
                continue;
            }
            let periods_left = contract
                .last_period
                .saturating_sub(period)
                .saturating_add(1);
            let client = contract.client;
            let size = contract.fragment_size;
            let mut changed = false;
            let mut lost_now = Vec::new();
            for (fragment, index) in contract.fragments.iter_mut().zip(0u32..) {
                if fragment.status != FragmentStatus::Active
                    || fragment.since >= period_start
                    || fragment.proven == period.saturating_add(1)
                {
                    continue;
                }
                changed = true;
                let refund = Amount(
                    fragment
                        .escrow_left
                        .0
                        .checked_div(periods_left)
                        .unwrap_or(0),
                );
                fragment.escrow_left = fragment
                    .escrow_left
                    .checked_sub(refund)
                    .ok_or(StateError::SupplyOverflow)?;
                fragment.misses = fragment.misses.saturating_add(1);
                let lost = fragment.misses >= self.params.max_missed_proofs;
                let slash = if lost {
                    fragment.collateral_left
                } else {
                    share(fragment.collateral_left, self.params.missed_proof_slash_bps)
                };
                fragment.collateral_left = fragment
                    .collateral_left
                    .checked_sub(slash)
                    .ok_or(StateError::SupplyOverflow)?;
                let to_client = share(slash, self.params.slash_to_client_bps);
                let forfeited = slash
                    .checked_sub(to_client)
                    .ok_or(StateError::SupplyOverflow)?;
                let reward = if lost {
                    share(forfeited, self.params.repair_reward_bps)
                } else {
                    Amount::ZERO
                };
                let burned = forfeited
                    .checked_sub(reward)
                    .ok_or(StateError::SupplyOverflow)?;
                let paid = refund
                    .checked_add(to_client)
                    .ok_or(StateError::SupplyOverflow)?;
                if self.overlay.credit(&client, paid)?.is_err() {
                    return Err(StateError::SupplyOverflow);
                }
                self.overlay.burn(burned)?;
                if lost {
                    fragment.status = FragmentStatus::Lost;
                    fragment.repair_reward = reward;
                    self.free_capacity(&fragment.provider, size)?;
                    lost_now.push(index);
                }
            }
            for index in lost_now {
                self.overlay
                    .put(records::lost_key(&contract.id, index), &Empty)?;
            }
            if changed {
                self.overlay.put(ckey, &contract)?;
            }
        }
        self.overlay.keep_tx();
        Ok(())
    }

    /// Ends the contracts scheduled to settle after block `height`.
    pub(super) fn settle_contracts(&mut self, height: u64) -> Result<(), StateError> {
        let due = self
            .overlay
            .scan::<Empty>(&records::settlements_at(height))?;
        for (skey, _) in due {
            self.overlay.delete(skey.clone());
            let Some(id) = skey.get(9..41).and_then(|b| <[u8; 32]>::try_from(b).ok()) else {
                continue;
            };
            let ckey = records::contract_key(&Hash(id));
            let Some(mut contract) = self.overlay.get::<Contract>(&ckey)? else {
                self.overlay.delete(records::live_key(&Hash(id)));
                continue;
            };
            self.release(&mut contract)?;
            self.overlay.put(ckey, &contract)?;
        }
        self.overlay.keep_tx();
        Ok(())
    }

    /// Settles `contract` now (the caller stores it): every fragment's
    /// escrow left to the client, its collateral to its provider, the room
    /// of an active one freed, a lost one's repair reward burned and its
    /// lost-index entry removed; every fragment ends, and the contract
    /// leaves the live index.
    pub(super) fn release(&mut self, contract: &mut Contract) -> Result<(), StateError> {
        let (client, size, id) = (contract.client, contract.fragment_size, contract.id);
        for (fragment, index) in contract.fragments.iter_mut().zip(0u32..) {
            if self.overlay.credit(&client, fragment.escrow_left)?.is_err()
                || self
                    .overlay
                    .credit(&fragment.provider, fragment.collateral_left)?
                    .is_err()
            {
                return Err(StateError::SupplyOverflow);
            }
            match fragment.status {
                FragmentStatus::Active => self.free_capacity(&fragment.provider, size)?,
                FragmentStatus::Lost => {
                    self.overlay.burn(fragment.repair_reward)?;
                    self.overlay.delete(records::lost_key(&id, index));
                }
                FragmentStatus::Ended => {}
            }
            fragment.escrow_left = Amount::ZERO;
            fragment.collateral_left = Amount::ZERO;
            fragment.repair_reward = Amount::ZERO;
            fragment.status = FragmentStatus::Ended;
        }
        self.overlay.delete(records::live_key(&id));
        Ok(())
    }

    /// `provider`'s advertisement, if it has room for `size` bytes at `price`.
    fn provider_terms(
        &self,
        provider: &Address,
        size: u64,
        price: Amount,
    ) -> Result<Result<ProviderAd, FailReason>, StateError> {
        let provider = *provider;
        let Some(ad) = self
            .overlay
            .get::<ProviderAd>(&records::provider_key(&provider))?
        else {
            return Ok(Err(FailReason::NotAProvider { provider }));
        };
        let free = ad.capacity_bytes.saturating_sub(ad.used_bytes);
        if free < size {
            return Ok(Err(FailReason::InsufficientCapacity {
                provider,
                free,
                needed: size,
            }));
        }
        if price < ad.price_per_gib_epoch {
            return Ok(Err(FailReason::TermsRefused {
                provider,
                reason: TermsFault::Price {
                    price,
                    min: ad.price_per_gib_epoch,
                },
            }));
        }
        Ok(Ok(ad))
    }

    /// Locks `provider`'s collateral for a fragment of `size` bytes and
    /// counts the bytes as used; answers the collateral.
    fn take_fragment(
        &mut self,
        provider: &Address,
        mut ad: ProviderAd,
        size: u64,
    ) -> Result<Result<Amount, FailReason>, StateError> {
        let Some(collateral) = per_gib_cost(ad.collateral_per_gib, size, 1) else {
            return Ok(Err(FailReason::InvalidContract {
                reason: ContractFault::CollateralOverflow,
            }));
        };
        if let Err(FailReason::InsufficientBalance { balance, needed }) =
            self.overlay.debit(provider, collateral)?
        {
            return Ok(Err(FailReason::CollateralUnavailable {
                provider: *provider,
                balance,
                needed,
            }));
        }
        ad.used_bytes = ad.used_bytes.saturating_add(size);
        self.overlay.put(records::provider_key(provider), &ad)?;
        Ok(Ok(collateral))
    }

    pub(super) fn free_capacity(
        &mut self,
        provider: &Address,
        bytes: u64,
    ) -> Result<(), StateError> {
        let key = records::provider_key(provider);
        if let Some(mut ad) = self.overlay.get::<ProviderAd>(&key)? {
            ad.used_bytes = ad.used_bytes.saturating_sub(bytes);
            self.overlay.put(key, &ad)?;
        }
        Ok(())
    }
}
