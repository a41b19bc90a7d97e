//! The messages of the storage market's two protocols, in the ledger's
//! canonical codec ([`sherd_ledger::codec`]: little-endian integers,
//! `u32` lengths, `u8` enum tags, strict decoding), each message a
//! versioned value (`0x01 ‖ encoding`) of bounded size.
//!
//! **`/sherd/deal/1`** (request-response; a request or response is one
//! frame, `u32_be(len) ‖ bytes`, at most [`MAX_DEAL_MESSAGE`] bytes):
//!
//! | request | tag | fields | answers |
//! |---|---|---|---|
//! | [`DealRequest::Propose`] | 1 | [`Proposal`] | [`DealResponse::Reserved`] or [`DealResponse::Refused`] |
//! | [`DealRequest::Finish`] | 2 | `contract_id: [32]` ‖ `index: u32` | [`DealResponse::Accepted`] or [`DealResponse::Refused`] |
//!
//! | response | tag | fields |
//! |---|---|---|
//! | `Reserved` | 1 | `expires_height: u64`: the reservation (and the fragment, once uploaded) is dropped if the contract is not on chain by then |
//! | `Refused` | 2 | [`Refusal`] |
//! | `Accepted` | 3 | `signature: [64]`: the provider's ed25519 signature over [`sherd_ledger::state::market::acceptance_message`], or for a repair proposal [`sherd_ledger::state::market::repair_message`] |
//!
//! A [`Proposal`] ends with `u8 0` for a new contract, or `u8 1 ‖
//! contract_id [32] ‖ repairer [32] ‖ u64 last_period` ([`RepairTerms`])
//! for the repair of a lost fragment of an existing contract.
//!
//! **`/sherd/fragment/1`** (one stream per transfer). The opener writes one
//! frame, `u32_be(len) ‖ versioned FragmentRequest` (at most
//! [`MAX_FRAGMENT_REQUEST`] bytes), then:
//!
//! * [`FragmentRequest::Upload`] (tag 1, `contract_id: [32]` ‖ `index: u32`):
//!   the opener writes the fragment's group hashes (`n_groups · 32` bytes,
//!   in group order) and then the fragment's `fragment_size` data bytes,
//!   and closes its side. The provider checks that the hashes build the
//!   reserved fragment root before it reads any data, then checks every
//!   16 KiB group against its hash as it arrives, and answers one frame,
//!   [`UploadResponse`]: `Stored` (tag 1) once the fragment is fsynced, or
//!   `Refused` (tag 2, a [`Refusal`]) as soon as something does not match,
//!   after which it closes the stream and keeps nothing.
//! * [`FragmentRequest::Download`] (tag 2, `contract_id: [32]` ‖
//!   `index: u32` ‖ `first_group: u64` ‖ `groups: u64`): the provider
//!   answers one frame, [`DownloadResponse`]: `Sending` (tag 1,
//!   `footer: [128]`, the fragment file's footer) followed by every group
//!   hash of the fragment and then the data of groups
//!   `first_group .. first_group + groups` (the last group may be short);
//!   or `Refused` (tag 2). The reader checks the hashes against the
//!   fragment root it knows (from the contract) and every group against
//!   its hash.
//!
//! No message carries a length it has not bounded: every sequence and
//! string has a limit checked before allocation.

use sherd_ledger::{
    codec::{
        decode_versioned, encode_versioned, Decode, DecodeError, Encode, EncodeError, Reader,
        Writer,
    },
    state::market,
    tx::kind::CreateContract,
    Address, Amount, ChainId, Hash,
};

/// The deal protocol's id.
pub const DEAL_PROTOCOL: &str = "/sherd/deal/1";
/// The fragment protocol's id.
pub const FRAGMENT_PROTOCOL: &str = "/sherd/fragment/1";
/// Largest deal request or response, in bytes.
pub const MAX_DEAL_MESSAGE: usize = 4096;
/// Largest fragment request or response frame, in bytes.
pub const MAX_FRAGMENT_REQUEST: usize = 1024;
/// Longest free-text detail of a refusal, in bytes.
pub const MAX_DETAIL: usize = 512;

/// A client's offer to store fragment `index` of an object under the
/// contract `contract_id(client, nonce)`; or, with [`Proposal::repair`], a
/// repairer's offer to take over lost fragment `index` of a contract that
/// exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// The chain the contract will be on.
    pub chain_id: ChainId,
    /// Who pays: the sender of the `CreateContract`.
    pub client: Address,
    /// The nonce of that `CreateContract`: the contract id is
    /// `BLAKE3("sherd/contract/v1" ‖ client ‖ u64_le(nonce))`.
    pub nonce: u64,
    /// The object's root.
    pub object_root: Hash,
    /// Data fragments.
    pub k: u16,
    /// Parity fragments.
    pub m: u16,
    /// The object's shard size (for the fragment file's footer).
    pub shard_size: u32,
    /// The object's plaintext size (for the fragment file's footer).
    pub object_size: u64,
    /// Bytes per fragment.
    pub fragment_size: u64,
    /// Contract length.
    pub duration_epochs: u64,
    /// The contract's price per GiB-epoch.
    pub price_per_gib_epoch: Amount,
    /// Which fragment this provider is offered.
    pub index: u32,
    /// Its Merkle root.
    pub fragment_root: Hash,
    /// Set for a repair: the other fields then describe the existing
    /// contract (`client` its client, `price_per_gib_epoch` its price,
    /// `duration_epochs` the epochs it has left, `nonce` 0).
    pub repair: Option<RepairTerms>,
}

/// What a repair proposal adds: which contract, and who repairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairTerms {
    /// The contract whose fragment is lost.
    pub contract_id: Hash,
    /// The sender of the `RepairFragment` (named in the acceptance).
    pub repairer: Address,
    /// The contract's last challenged period.
    pub last_period: u64,
}

impl Proposal {
    /// The id of the contract this proposal is for.
    pub fn contract_id(&self) -> Hash {
        match &self.repair {
            Some(repair) => repair.contract_id,
            None => market::contract_id(&self.client, self.nonce),
        }
    }

    /// The contract terms as the ledger sees them (without fragments).
    pub fn terms(&self) -> CreateContract {
        CreateContract {
            object_root: self.object_root,
            k: self.k,
            m: self.m,
            fragment_size: self.fragment_size,
            duration_epochs: self.duration_epochs,
            price_per_gib_epoch: self.price_per_gib_epoch,
            fragments: Vec::new(),
        }
    }

    /// The bytes a provider signs to accept this proposal: the deal
    /// acceptance, or for a repair the repair acceptance.
    pub fn acceptance_message(&self) -> Result<Vec<u8>, EncodeError> {
        if let Some(repair) = &self.repair {
            return market::repair_message(
                &self.chain_id,
                &market::RepairedFragment {
                    contract_id: repair.contract_id,
                    index: self.index,
                    root: self.fragment_root,
                    fragment_size: self.fragment_size,
                    last_period: repair.last_period,
                },
                &repair.repairer,
            );
        }
        market::acceptance_message(
            &self.chain_id,
            &self.contract_id(),
            &self.client,
            &self.terms(),
            self.index,
            &self.fragment_root,
        )
    }
}

impl Encode for Proposal {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.chain_id.encode(w)?;
        w.fixed(self.client.as_bytes());
        w.u64(self.nonce);
        w.fixed(self.object_root.as_bytes());
        w.u16(self.k);
        w.u16(self.m);
        w.u32(self.shard_size);
        w.u64(self.object_size);
        w.u64(self.fragment_size);
        w.u64(self.duration_epochs);
        w.u64(self.price_per_gib_epoch.0);
        w.u32(self.index);
        w.fixed(self.fragment_root.as_bytes());
        match &self.repair {
            None => w.u8(0),
            Some(repair) => {
                w.u8(1);
                w.fixed(repair.contract_id.as_bytes());
                w.fixed(repair.repairer.as_bytes());
                w.u64(repair.last_period);
            }
        }
        Ok(())
    }
}

impl Decode for Proposal {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            chain_id: ChainId::decode(r)?,
            client: r.fixed("Proposal.client").map(Address)?,
            nonce: r.u64("Proposal.nonce")?,
            object_root: r.fixed("Proposal.object_root").map(Hash)?,
            k: r.u16("Proposal.k")?,
            m: r.u16("Proposal.m")?,
            shard_size: r.u32("Proposal.shard_size")?,
            object_size: r.u64("Proposal.object_size")?,
            fragment_size: r.u64("Proposal.fragment_size")?,
            duration_epochs: r.u64("Proposal.duration_epochs")?,
            price_per_gib_epoch: r.u64("Proposal.price_per_gib_epoch").map(Amount)?,
            index: r.u32("Proposal.index")?,
            fragment_root: r.fixed("Proposal.fragment_root").map(Hash)?,
            repair: match r.u8("Proposal.repair")? {
                0 => None,
                1 => Some(RepairTerms {
                    contract_id: r.fixed("Proposal.repair.contract_id").map(Hash)?,
                    repairer: r.fixed("Proposal.repair.repairer").map(Address)?,
                    last_period: r.u64("Proposal.repair.last_period")?,
                }),
                tag => {
                    return Err(DecodeError::UnknownTag {
                        field: "Proposal.repair",
                        tag,
                    })
                }
            },
        })
    }
}

/// Why a provider says no. Typed, so a client can tell a full provider
/// from a cheap offer from a broken upload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The proposal names another chain.
    #[error("the provider is on chain `{ours}`")]
    WrongChain {
        /// The provider's chain.
        ours: String,
    },
    /// Not enough free space.
    #[error("the provider has {free} bytes free, the fragment needs {needed}")]
    NoCapacity {
        /// Free bytes, reservations counted.
        free: u64,
        /// The fragment's size.
        needed: u64,
    },
    /// The price is under the provider's.
    #[error("the price is under the provider's {min} per GiB-epoch")]
    PriceTooLow {
        /// The provider's price.
        min: Amount,
    },
    /// The duration is outside the provider's range.
    #[error("the provider takes contracts of {min}..={max} epochs")]
    Duration {
        /// Shortest.
        min: u64,
        /// Longest.
        max: u64,
    },
    /// The provider cannot lock the collateral.
    #[error("the provider has {available} for collateral, the fragment needs {needed}")]
    NoCollateral {
        /// Balance not yet promised to other reservations.
        available: Amount,
        /// This fragment's collateral.
        needed: Amount,
    },
    /// The provider has no advertisement on chain (yet).
    #[error("the provider does not advertise storage on chain")]
    NotAdvertised,
    /// Too many transfers in progress.
    #[error("the provider is busy: {detail}")]
    Busy {
        /// What limit was hit.
        detail: String,
    },
    /// The request names no reservation or fragment the provider has.
    #[error("unknown fragment: {detail}")]
    Unknown {
        /// What was looked for.
        detail: String,
    },
    /// The request or the bytes sent are wrong.
    #[error("invalid: {detail}")]
    Invalid {
        /// What is wrong.
        detail: String,
    },
    /// The provider failed (disk, database).
    #[error("the provider failed: {detail}")]
    Internal {
        /// What failed.
        detail: String,
    },
}

impl Refusal {
    /// An [`Invalid`](Self::Invalid) refusal.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::Invalid {
            detail: truncate(detail.into()),
        }
    }

    /// An [`Unknown`](Self::Unknown) refusal.
    pub fn unknown(detail: impl Into<String>) -> Self {
        Self::Unknown {
            detail: truncate(detail.into()),
        }
    }

    /// An [`Internal`](Self::Internal) refusal.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::Internal {
            detail: truncate(detail.into()),
        }
    }

    /// A [`Busy`](Self::Busy) refusal.
    pub fn busy(detail: impl Into<String>) -> Self {
        Self::Busy {
            detail: truncate(detail.into()),
        }
    }

    /// Whether the same provider may well say yes later (a client tries
    /// another provider now either way).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Busy { .. } | Self::Internal { .. })
    }
}

/// Cuts a detail to [`MAX_DETAIL`] bytes on a character boundary.
fn truncate(mut text: String) -> String {
    if text.len() > MAX_DETAIL {
        let mut end = MAX_DETAIL;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn put_detail(w: &mut Writer, detail: &str) -> Result<(), EncodeError> {
    w.bytes("Refusal.detail", MAX_DETAIL, detail.as_bytes())
}

fn get_detail(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    let bytes = r.bytes("Refusal.detail", MAX_DETAIL)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Invalid {
        field: "Refusal.detail",
        reason: "not UTF-8".into(),
    })
}

impl Encode for Refusal {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        match self {
            Self::WrongChain { ours } => {
                w.u8(1);
                put_detail(w, ours)
            }
            Self::NoCapacity { free, needed } => {
                w.u8(2);
                w.u64(*free);
                w.u64(*needed);
                Ok(())
            }
            Self::PriceTooLow { min } => {
                w.u8(3);
                w.u64(min.0);
                Ok(())
            }
            Self::Duration { min, max } => {
                w.u8(4);
                w.u64(*min);
                w.u64(*max);
                Ok(())
            }
            Self::NoCollateral { available, needed } => {
                w.u8(5);
                w.u64(available.0);
                w.u64(needed.0);
                Ok(())
            }
            Self::NotAdvertised => {
                w.u8(6);
                Ok(())
            }
            Self::Busy { detail } => {
                w.u8(7);
                put_detail(w, detail)
            }
            Self::Unknown { detail } => {
                w.u8(8);
                put_detail(w, detail)
            }
            Self::Invalid { detail } => {
                w.u8(9);
                put_detail(w, detail)
            }
            Self::Internal { detail } => {
                w.u8(10);
                put_detail(w, detail)
            }
        }
    }
}

impl Decode for Refusal {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8("Refusal")? {
            1 => Self::WrongChain {
                ours: get_detail(r)?,
            },
            2 => Self::NoCapacity {
                free: r.u64("Refusal.free")?,
                needed: r.u64("Refusal.needed")?,
            },
            3 => Self::PriceTooLow {
                min: r.u64("Refusal.min").map(Amount)?,
            },
            4 => Self::Duration {
                min: r.u64("Refusal.min")?,
                max: r.u64("Refusal.max")?,
            },
            5 => Self::NoCollateral {
                available: r.u64("Refusal.available").map(Amount)?,
                needed: r.u64("Refusal.needed").map(Amount)?,
            },
            6 => Self::NotAdvertised,
            7 => Self::Busy {
                detail: get_detail(r)?,
            },
            8 => Self::Unknown {
                detail: get_detail(r)?,
            },
            9 => Self::Invalid {
                detail: get_detail(r)?,
            },
            10 => Self::Internal {
                detail: get_detail(r)?,
            },
            tag => {
                return Err(DecodeError::UnknownTag {
                    field: "Refusal",
                    tag,
                })
            }
        })
    }
}

/// A request on `/sherd/deal/1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DealRequest {
    /// Reserve room for a fragment.
    Propose(Box<Proposal>),
    /// Sign the acceptance of an uploaded fragment.
    Finish {
        /// The contract.
        contract_id: Hash,
        /// The fragment.
        index: u32,
    },
}

impl Encode for DealRequest {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        match self {
            Self::Propose(p) => {
                w.u8(1);
                p.encode(w)
            }
            Self::Finish { contract_id, index } => {
                w.u8(2);
                w.fixed(contract_id.as_bytes());
                w.u32(*index);
                Ok(())
            }
        }
    }
}

impl Decode for DealRequest {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8("DealRequest")? {
            1 => Self::Propose(Box::new(Proposal::decode(r)?)),
            2 => Self::Finish {
                contract_id: r.fixed("DealRequest.contract_id").map(Hash)?,
                index: r.u32("DealRequest.index")?,
            },
            tag => {
                return Err(DecodeError::UnknownTag {
                    field: "DealRequest",
                    tag,
                })
            }
        })
    }
}

/// An answer on `/sherd/deal/1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DealResponse {
    /// Room is reserved until the chain reaches `expires_height`.
    Reserved {
        /// Height after which an unused reservation (or a fragment whose
        /// contract is not on chain) is dropped.
        expires_height: u64,
    },
    /// No.
    Refused(Refusal),
    /// The provider's signed acceptance of the fragment.
    Accepted {
        /// ed25519 over the acceptance message.
        signature: [u8; 64],
    },
}

impl Encode for DealResponse {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        match self {
            Self::Reserved { expires_height } => {
                w.u8(1);
                w.u64(*expires_height);
                Ok(())
            }
            Self::Refused(reason) => {
                w.u8(2);
                reason.encode(w)
            }
            Self::Accepted { signature } => {
                w.u8(3);
                w.fixed(signature);
                Ok(())
            }
        }
    }
}

impl Decode for DealResponse {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8("DealResponse")? {
            1 => Self::Reserved {
                expires_height: r.u64("DealResponse.expires_height")?,
            },
            2 => Self::Refused(Refusal::decode(r)?),
            3 => Self::Accepted {
                signature: r.fixed("DealResponse.signature")?,
            },
            tag => {
                return Err(DecodeError::UnknownTag {
                    field: "DealResponse",
                    tag,
                })
            }
        })
    }
}

/// The first frame of a `/sherd/fragment/1` stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentRequest {
    /// Send a reserved fragment.
    Upload {
        /// The contract.
        contract_id: Hash,
        /// The fragment.
        index: u32,
    },
    /// Read a stored fragment.
    Download {
        /// The contract.
        contract_id: Hash,
        /// The fragment.
        index: u32,
        /// First 16 KiB group to send.
        first_group: u64,
        /// How many groups.
        groups: u64,
    },
}

impl Encode for FragmentRequest {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        match self {
            Self::Upload { contract_id, index } => {
                w.u8(1);
                w.fixed(contract_id.as_bytes());
                w.u32(*index);
            }
            Self::Download {
                contract_id,
                index,
                first_group,
                groups,
            } => {
                w.u8(2);
                w.fixed(contract_id.as_bytes());
                w.u32(*index);
                w.u64(*first_group);
                w.u64(*groups);
            }
        }
        Ok(())
    }
}

impl Decode for FragmentRequest {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8("FragmentRequest")? {
            1 => Self::Upload {
                contract_id: r.fixed("FragmentRequest.contract_id").map(Hash)?,
                index: r.u32("FragmentRequest.index")?,
            },
            2 => Self::Download {
                contract_id: r.fixed("FragmentRequest.contract_id").map(Hash)?,
                index: r.u32("FragmentRequest.index")?,
                first_group: r.u64("FragmentRequest.first_group")?,
                groups: r.u64("FragmentRequest.groups")?,
            },
            tag => {
                return Err(DecodeError::UnknownTag {
                    field: "FragmentRequest",
                    tag,
                })
            }
        })
    }
}

/// The provider's answer to an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadResponse {
    /// Verified and fsynced.
    Stored,
    /// Not kept.
    Refused(Refusal),
}

impl Encode for UploadResponse {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        match self {
            Self::Stored => {
                w.u8(1);
                Ok(())
            }
            Self::Refused(reason) => {
                w.u8(2);
                reason.encode(w)
            }
        }
    }
}

impl Decode for UploadResponse {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8("UploadResponse")? {
            1 => Self::Stored,
            2 => Self::Refused(Refusal::decode(r)?),
            tag => {
                return Err(DecodeError::UnknownTag {
                    field: "UploadResponse",
                    tag,
                })
            }
        })
    }
}

/// The provider's answer to a download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownloadResponse {
    /// The footer; group hashes and data follow.
    Sending {
        /// The fragment file's footer ([`sherd_fragments::Footer`]).
        footer: [u8; sherd_fragments::file::FOOTER_LEN],
    },
    /// Nothing follows.
    Refused(Refusal),
}

impl Encode for DownloadResponse {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        match self {
            Self::Sending { footer } => {
                w.u8(1);
                w.fixed(footer);
                Ok(())
            }
            Self::Refused(reason) => {
                w.u8(2);
                reason.encode(w)
            }
        }
    }
}

impl Decode for DownloadResponse {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8("DownloadResponse")? {
            1 => Self::Sending {
                footer: r.fixed("DownloadResponse.footer")?,
            },
            2 => Self::Refused(Refusal::decode(r)?),
            tag => {
                return Err(DecodeError::UnknownTag {
                    field: "DownloadResponse",
                    tag,
                })
            }
        })
    }
}

/// `0x01 ‖ encoding` of a message.
pub fn encode<T: Encode>(message: &T) -> Result<Vec<u8>, EncodeError> {
    encode_versioned(message)
}

/// Reads a message of at most `max` bytes; nothing may follow it.
pub fn decode<T: Decode>(bytes: &[u8], max: usize) -> Result<T, DecodeError> {
    decode_versioned(bytes, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal() -> Proposal {
        Proposal {
            chain_id: ChainId::new("sherd-test").unwrap(),
            client: Address([7; 32]),
            nonce: 3,
            object_root: Hash([1; 32]),
            k: 4,
            m: 2,
            shard_size: 262_144,
            object_size: 1_000_000,
            fragment_size: 262_144,
            duration_epochs: 10,
            price_per_gib_epoch: Amount(1_000),
            index: 5,
            fragment_root: Hash([2; 32]),
            repair: None,
        }
    }

    fn repair() -> Proposal {
        Proposal {
            nonce: 0,
            repair: Some(RepairTerms {
                contract_id: Hash([9; 32]),
                repairer: Address([8; 32]),
                last_period: 77,
            }),
            ..proposal()
        }
    }

    fn roundtrip<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: T, max: usize) {
        let bytes = encode(&value).unwrap();
        assert!(bytes.len() <= max, "{} bytes", bytes.len());
        assert_eq!(decode::<T>(&bytes, max).unwrap(), value);
        // Every strict prefix is refused, and so is a trailing byte.
        for cut in 0..bytes.len() {
            assert!(decode::<T>(&bytes[..cut], max).is_err(), "prefix {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode::<T>(&longer, max).is_err());
    }

    #[test]
    fn every_message_round_trips_and_refuses_truncation() {
        roundtrip(DealRequest::Propose(Box::new(proposal())), MAX_DEAL_MESSAGE);
        roundtrip(DealRequest::Propose(Box::new(repair())), MAX_DEAL_MESSAGE);
        roundtrip(
            DealRequest::Finish {
                contract_id: Hash([9; 32]),
                index: 1,
            },
            MAX_DEAL_MESSAGE,
        );
        let refusals = [
            Refusal::WrongChain { ours: "x".into() },
            Refusal::NoCapacity { free: 1, needed: 2 },
            Refusal::PriceTooLow { min: Amount(5) },
            Refusal::Duration { min: 1, max: 9 },
            Refusal::NoCollateral {
                available: Amount(1),
                needed: Amount(2),
            },
            Refusal::NotAdvertised,
            Refusal::busy("uploads"),
            Refusal::unknown("no such fragment"),
            Refusal::invalid("group 3 does not match"),
            Refusal::internal("disk full"),
        ];
        for r in refusals {
            roundtrip(DealResponse::Refused(r.clone()), MAX_DEAL_MESSAGE);
            roundtrip(UploadResponse::Refused(r.clone()), MAX_FRAGMENT_REQUEST);
            roundtrip(DownloadResponse::Refused(r), MAX_FRAGMENT_REQUEST);
        }
        roundtrip(
            DealResponse::Reserved { expires_height: 77 },
            MAX_DEAL_MESSAGE,
        );
        roundtrip(
            DealResponse::Accepted { signature: [3; 64] },
            MAX_DEAL_MESSAGE,
        );
        roundtrip(
            FragmentRequest::Upload {
                contract_id: Hash([4; 32]),
                index: 2,
            },
            MAX_FRAGMENT_REQUEST,
        );
        roundtrip(
            FragmentRequest::Download {
                contract_id: Hash([4; 32]),
                index: 2,
                first_group: 3,
                groups: 4,
            },
            MAX_FRAGMENT_REQUEST,
        );
        roundtrip(UploadResponse::Stored, MAX_FRAGMENT_REQUEST);
        roundtrip(
            DownloadResponse::Sending { footer: [5; 128] },
            MAX_FRAGMENT_REQUEST,
        );
    }

    #[test]
    fn unknown_tags_and_long_details_are_refused() {
        assert!(matches!(
            decode::<DealRequest>(&[1, 9], MAX_DEAL_MESSAGE),
            Err(DecodeError::UnknownTag { .. })
        ));
        let long = Refusal::invalid("é".repeat(600));
        let Refusal::Invalid { detail } = &long else {
            unreachable!()
        };
        assert!(detail.len() <= MAX_DETAIL);
        roundtrip(UploadResponse::Refused(long), MAX_FRAGMENT_REQUEST);
    }

    #[test]
    fn the_proposal_signs_the_ledger_acceptance_message() {
        let p = proposal();
        let expected = market::acceptance_message(
            &p.chain_id,
            &market::contract_id(&p.client, p.nonce),
            &p.client,
            &p.terms(),
            p.index,
            &p.fragment_root,
        )
        .unwrap();
        assert_eq!(p.acceptance_message().unwrap(), expected);
    }

    #[test]
    fn a_repair_proposal_signs_the_ledger_repair_message_naming_the_repairer() {
        let p = repair();
        assert_eq!(p.contract_id(), Hash([9; 32]));
        let expected = market::repair_message(
            &p.chain_id,
            &market::RepairedFragment {
                contract_id: Hash([9; 32]),
                index: 5,
                root: Hash([2; 32]),
                fragment_size: 262_144,
                last_period: 77,
            },
            &Address([8; 32]),
        )
        .unwrap();
        assert_eq!(p.acceptance_message().unwrap(), expected);
        let mut bytes = encode(&DealRequest::Propose(Box::new(p))).unwrap();
        let tag = bytes.len() - 73;
        bytes[tag] = 2;
        assert!(decode::<DealRequest>(&bytes, MAX_DEAL_MESSAGE).is_err());
    }
}
