//! The kinds of transaction (DESIGN §4) as data, with their canonical
//! encodings.
//!
//! A kind is encoded as `u8 tag ‖ payload`; the payloads, field by field in
//! this order (see [`crate::codec`] for the primitives):
//!
//! | tag | kind | payload |
//! |---|---|---|
//! | 1 | [`Transfer`] | `to: [32]` ‖ `amount: u64` |
//! | 2 | [`Stake`] | `amount: u64` ‖ `bls_pubkey: [48]` ‖ `pop: [96]` ‖ `commission_bps: u16` |
//! | 3 | [`Delegate`] | `validator: [32]` ‖ `amount: u64` |
//! | 4 | [`Undelegate`] | `validator: [32]` ‖ `amount: u64` |
//! | 5 | `Withdraw` | nothing |
//! | 6 | [`RegisterEndpoint`] | `role: u8` (1 validator, 2 provider) ‖ `peer_id: bytes ≤ 64` ‖ `multiaddrs: seq ≤ 8 of bytes ≤ 128` |
//! | 7 | [`AdvertiseCapacity`] | `capacity_bytes: u64` ‖ `price_per_gib_epoch: u64` ‖ `collateral_per_gib: u64` ‖ `min_duration_epochs: u64` ‖ `max_duration_epochs: u64` |
//! | 8 | [`CreateContract`] | `object_root: [32]` ‖ `k: u16` ‖ `m: u16` ‖ `fragment_size: u64` ‖ `duration_epochs: u64` ‖ `price_per_gib_epoch: u64` ‖ `fragments: seq ≤ 1024 of (root: [32] ‖ provider: [32] ‖ acceptance: [64])` |
//! | 9 | [`SubmitProofs`] | `proofs: seq ≤ 1024 of (contract_id: [32] ‖ fragment_index: u32 ‖ period: u64 ‖ proof: bytes ≤ 4096)` |
//! | 10 | [`RepairFragment`] | `contract_id: [32]` ‖ `fragment_index: u32` ‖ `new_provider: [32]` ‖ `acceptance: [64]` |
//! | 11 | [`Evidence`] | `bytes: bytes ≤ 4096` (a `sherd_consensus::Evidence` in its wire encoding, decoded when applied) |
//! | 12 | [`EndContract`] | `contract_id: [32]` |
//! | 13 | [`ExtendContract`] | `contract_id: [32]` ‖ `epochs: u64` |
//!
//! The codec checks structure only (lengths, tags); what a value means
//! (commission ≤ 100 %, `k + m` fragments, a proof that verifies, a
//! provider's acceptance signature) is checked when the transaction is
//! applied: see [`crate::state`].

use ed25519_dalek::Signature;

use crate::{
    address::Address,
    amount::Amount,
    codec::{Decode, DecodeError, Encode, EncodeError, Reader, Writer},
    hash::Hash,
};

/// Longest libp2p peer id, in bytes.
pub const MAX_PEER_ID_LEN: usize = 64;
/// Most multiaddrs per endpoint.
pub const MAX_MULTIADDRS: usize = 8;
/// Longest binary multiaddr, in bytes.
pub const MAX_MULTIADDR_LEN: usize = 128;
/// Most fragments per contract (as `sherd_fragments::params::MAX_FRAGMENTS`).
pub const MAX_CONTRACT_FRAGMENTS: usize = 1024;
/// Most proofs in one `SubmitProofs`.
pub const MAX_PROOFS_PER_TX: usize = 1024;
/// Longest encoded storage proof, in bytes.
pub const MAX_PROOF_LEN: usize = 4096;
/// Longest evidence, in bytes.
pub const MAX_EVIDENCE_LEN: usize = 4096;

/// What a transaction does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxKind {
    /// Move currency to another account.
    Transfer(Transfer),
    /// Register a validator or add to its self-stake.
    Stake(Stake),
    /// Bond currency to a validator.
    Delegate(Delegate),
    /// Start unbonding a delegation.
    Undelegate(Undelegate),
    /// Take back unbondings whose period is over.
    Withdraw,
    /// Say where the sender can be reached.
    RegisterEndpoint(RegisterEndpoint),
    /// Offer storage.
    AdvertiseCapacity(AdvertiseCapacity),
    /// Store an object's fragments with chosen providers.
    CreateContract(CreateContract),
    /// Answer storage challenges.
    SubmitProofs(SubmitProofs),
    /// Move a lost fragment to a new provider.
    RepairFragment(RepairFragment),
    /// Prove a validator misbehaved.
    Evidence(Evidence),
    /// End a contract early (its client only).
    EndContract(EndContract),
    /// Make a contract longer, with more escrow (its client only).
    ExtendContract(ExtendContract),
}

impl TxKind {
    /// The kind's tag: the first byte of its encoding, and part of every
    /// signing message.
    pub fn tag(&self) -> u8 {
        match self {
            Self::Transfer(_) => 1,
            Self::Stake(_) => 2,
            Self::Delegate(_) => 3,
            Self::Undelegate(_) => 4,
            Self::Withdraw => 5,
            Self::RegisterEndpoint(_) => 6,
            Self::AdvertiseCapacity(_) => 7,
            Self::CreateContract(_) => 8,
            Self::SubmitProofs(_) => 9,
            Self::RepairFragment(_) => 10,
            Self::Evidence(_) => 11,
            Self::EndContract(_) => 12,
            Self::ExtendContract(_) => 13,
        }
    }

    /// The kind's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Transfer(_) => "Transfer",
            Self::Stake(_) => "Stake",
            Self::Delegate(_) => "Delegate",
            Self::Undelegate(_) => "Undelegate",
            Self::Withdraw => "Withdraw",
            Self::RegisterEndpoint(_) => "RegisterEndpoint",
            Self::AdvertiseCapacity(_) => "AdvertiseCapacity",
            Self::CreateContract(_) => "CreateContract",
            Self::SubmitProofs(_) => "SubmitProofs",
            Self::RepairFragment(_) => "RepairFragment",
            Self::Evidence(_) => "Evidence",
            Self::EndContract(_) => "EndContract",
            Self::ExtendContract(_) => "ExtendContract",
        }
    }

    /// Writes the payload, without the tag.
    pub fn encode_payload(&self, w: &mut Writer) -> Result<(), EncodeError> {
        match self {
            Self::Transfer(p) => p.encode(w),
            Self::Stake(p) => p.encode(w),
            Self::Delegate(p) => p.encode(w),
            Self::Undelegate(p) => p.encode(w),
            Self::Withdraw => Ok(()),
            Self::RegisterEndpoint(p) => p.encode(w),
            Self::AdvertiseCapacity(p) => p.encode(w),
            Self::CreateContract(p) => p.encode(w),
            Self::SubmitProofs(p) => p.encode(w),
            Self::RepairFragment(p) => p.encode(w),
            Self::Evidence(p) => p.encode(w),
            Self::EndContract(p) => p.encode(w),
            Self::ExtendContract(p) => p.encode(w),
        }
    }

    /// Reads the payload of the kind with tag `tag`.
    pub fn decode_payload(tag: u8, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match tag {
            1 => Self::Transfer(Transfer::decode(r)?),
            2 => Self::Stake(Stake::decode(r)?),
            3 => Self::Delegate(Delegate::decode(r)?),
            4 => Self::Undelegate(Undelegate::decode(r)?),
            5 => Self::Withdraw,
            6 => Self::RegisterEndpoint(RegisterEndpoint::decode(r)?),
            7 => Self::AdvertiseCapacity(AdvertiseCapacity::decode(r)?),
            8 => Self::CreateContract(CreateContract::decode(r)?),
            9 => Self::SubmitProofs(SubmitProofs::decode(r)?),
            10 => Self::RepairFragment(RepairFragment::decode(r)?),
            11 => Self::Evidence(Evidence::decode(r)?),
            12 => Self::EndContract(EndContract::decode(r)?),
            13 => Self::ExtendContract(ExtendContract::decode(r)?),
            tag => return Err(DecodeError::UnknownTag { field: "kind", tag }),
        })
    }
}

impl Encode for TxKind {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u8(self.tag());
        self.encode_payload(w)
    }
}

impl Decode for TxKind {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = r.u8("kind")?;
        Self::decode_payload(tag, r)
    }
}

impl Encode for Signature {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.fixed(&self.to_bytes());
        Ok(())
    }
}

impl Decode for Signature {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.fixed("signature").map(|b| Signature::from_bytes(&b))
    }
}

/// Move `amount` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The receiving account.
    pub to: Address,
    /// How much; zero is refused when applied.
    pub amount: Amount,
}

impl Encode for Transfer {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.to.encode(w)?;
        self.amount.encode(w)
    }
}

impl Decode for Transfer {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            to: r.fixed("Transfer.to").map(Address)?,
            amount: r.u64("Transfer.amount").map(Amount)?,
        })
    }
}

/// Register the sender as a validator with BLS key `bls_pubkey`, or add
/// `amount` to its self-stake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stake {
    /// Currency to bond.
    pub amount: Amount,
    /// Compressed BLS12-381 G1 public key (48 bytes).
    pub bls_pubkey: [u8; 48],
    /// Proof of possession of the BLS key: a compressed G2 signature (96 bytes).
    pub pop: [u8; 96],
    /// Share of delegators' rewards kept by the validator, in basis points.
    pub commission_bps: u16,
}

impl Encode for Stake {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.amount.encode(w)?;
        w.fixed(&self.bls_pubkey);
        w.fixed(&self.pop);
        w.u16(self.commission_bps);
        Ok(())
    }
}

impl Decode for Stake {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            amount: r.u64("Stake.amount").map(Amount)?,
            bls_pubkey: r.fixed("Stake.bls_pubkey")?,
            pop: r.fixed("Stake.pop")?,
            commission_bps: r.u16("Stake.commission_bps")?,
        })
    }
}

/// Bond `amount` to `validator`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegate {
    /// The validator's operator address.
    pub validator: Address,
    /// Currency to bond.
    pub amount: Amount,
}

impl Encode for Delegate {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.validator.encode(w)?;
        self.amount.encode(w)
    }
}

impl Decode for Delegate {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            validator: r.fixed("Delegate.validator").map(Address)?,
            amount: r.u64("Delegate.amount").map(Amount)?,
        })
    }
}

/// Start unbonding `amount` delegated to `validator`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undelegate {
    /// The validator's operator address.
    pub validator: Address,
    /// Currency to unbond.
    pub amount: Amount,
}

impl Encode for Undelegate {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.validator.encode(w)?;
        self.amount.encode(w)
    }
}

impl Decode for Undelegate {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            validator: r.fixed("Undelegate.validator").map(Address)?,
            amount: r.u64("Undelegate.amount").map(Amount)?,
        })
    }
}

/// What an endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A consensus validator.
    Validator,
    /// A storage provider.
    Provider,
}

impl Role {
    /// The role's byte.
    pub fn tag(self) -> u8 {
        match self {
            Self::Validator => 1,
            Self::Provider => 2,
        }
    }

    /// The role with byte `tag`.
    pub fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(Self::Validator),
            2 => Some(Self::Provider),
            _ => None,
        }
    }

    /// Lowercase name, for the API.
    pub fn name(self) -> &'static str {
        match self {
            Self::Validator => "validator",
            Self::Provider => "provider",
        }
    }
}

/// A binary multiaddr (not interpreted by the ledger).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multiaddr(pub Vec<u8>);

impl Encode for Multiaddr {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.bytes("RegisterEndpoint.multiaddr", MAX_MULTIADDR_LEN, &self.0)
    }
}

impl Decode for Multiaddr {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self(
            r.bytes("RegisterEndpoint.multiaddr", MAX_MULTIADDR_LEN)?
                .to_vec(),
        ))
    }
}

/// Publish how to reach the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterEndpoint {
    /// What the sender serves there.
    pub role: Role,
    /// The libp2p peer id, in its binary form.
    pub peer_id: Vec<u8>,
    /// Where the peer listens.
    pub multiaddrs: Vec<Multiaddr>,
}

impl Encode for RegisterEndpoint {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u8(self.role.tag());
        w.bytes("RegisterEndpoint.peer_id", MAX_PEER_ID_LEN, &self.peer_id)?;
        w.seq(
            "RegisterEndpoint.multiaddrs",
            MAX_MULTIADDRS,
            &self.multiaddrs,
        )
    }
}

impl Decode for RegisterEndpoint {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let role = match r.u8("RegisterEndpoint.role")? {
            1 => Role::Validator,
            2 => Role::Provider,
            tag => {
                return Err(DecodeError::UnknownTag {
                    field: "RegisterEndpoint.role",
                    tag,
                })
            }
        };
        Ok(Self {
            role,
            peer_id: r
                .bytes("RegisterEndpoint.peer_id", MAX_PEER_ID_LEN)?
                .to_vec(),
            multiaddrs: r.seq("RegisterEndpoint.multiaddrs", MAX_MULTIADDRS, 4)?,
        })
    }
}

/// Offer storage on the market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertiseCapacity {
    /// Bytes offered.
    pub capacity_bytes: u64,
    /// Price of storing one GiB for one epoch.
    pub price_per_gib_epoch: Amount,
    /// Collateral locked per GiB stored.
    pub collateral_per_gib: Amount,
    /// Shortest contract accepted, in epochs.
    pub min_duration_epochs: u64,
    /// Longest contract accepted, in epochs.
    pub max_duration_epochs: u64,
}

impl Encode for AdvertiseCapacity {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u64(self.capacity_bytes);
        self.price_per_gib_epoch.encode(w)?;
        self.collateral_per_gib.encode(w)?;
        w.u64(self.min_duration_epochs);
        w.u64(self.max_duration_epochs);
        Ok(())
    }
}

impl Decode for AdvertiseCapacity {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            capacity_bytes: r.u64("AdvertiseCapacity.capacity_bytes")?,
            price_per_gib_epoch: r.u64("AdvertiseCapacity.price_per_gib_epoch").map(Amount)?,
            collateral_per_gib: r.u64("AdvertiseCapacity.collateral_per_gib").map(Amount)?,
            min_duration_epochs: r.u64("AdvertiseCapacity.min_duration_epochs")?,
            max_duration_epochs: r.u64("AdvertiseCapacity.max_duration_epochs")?,
        })
    }
}

/// One fragment of a new contract: its root, its provider and the
/// provider's signed acceptance of the deal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentDeal {
    /// The fragment's Merkle root (`sherd-fragments`).
    pub root: Hash,
    /// The provider that will store it.
    pub provider: Address,
    /// The provider's ed25519 signature accepting the deal.
    pub acceptance: Signature,
}

/// Bytes of an encoded [`FragmentDeal`].
const FRAGMENT_DEAL_LEN: usize = 32 + 32 + 64;

impl Encode for FragmentDeal {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.root.encode(w)?;
        self.provider.encode(w)?;
        self.acceptance.encode(w)
    }
}

impl Decode for FragmentDeal {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            root: r.fixed("CreateContract.fragments.root").map(Hash)?,
            provider: r.fixed("CreateContract.fragments.provider").map(Address)?,
            acceptance: r
                .fixed("CreateContract.fragments.acceptance")
                .map(|b| Signature::from_bytes(&b))?,
        })
    }
}

/// Store an object's `k + m` fragments with chosen providers, locking the
/// client's escrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateContract {
    /// The object root over all fragment roots.
    pub object_root: Hash,
    /// Data fragments.
    pub k: u16,
    /// Parity fragments.
    pub m: u16,
    /// Bytes of each fragment.
    pub fragment_size: u64,
    /// How long the fragments are stored, in epochs.
    pub duration_epochs: u64,
    /// Price agreed per GiB-epoch.
    pub price_per_gib_epoch: Amount,
    /// One deal per fragment, in fragment order.
    pub fragments: Vec<FragmentDeal>,
}

impl Encode for CreateContract {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.object_root.encode(w)?;
        w.u16(self.k);
        w.u16(self.m);
        w.u64(self.fragment_size);
        w.u64(self.duration_epochs);
        self.price_per_gib_epoch.encode(w)?;
        w.seq(
            "CreateContract.fragments",
            MAX_CONTRACT_FRAGMENTS,
            &self.fragments,
        )
    }
}

impl Decode for CreateContract {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            object_root: r.fixed("CreateContract.object_root").map(Hash)?,
            k: r.u16("CreateContract.k")?,
            m: r.u16("CreateContract.m")?,
            fragment_size: r.u64("CreateContract.fragment_size")?,
            duration_epochs: r.u64("CreateContract.duration_epochs")?,
            price_per_gib_epoch: r.u64("CreateContract.price_per_gib_epoch").map(Amount)?,
            fragments: r.seq(
                "CreateContract.fragments",
                MAX_CONTRACT_FRAGMENTS,
                FRAGMENT_DEAL_LEN,
            )?,
        })
    }
}

/// The answer to one storage challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofAnswer {
    /// The contract challenged.
    pub contract_id: Hash,
    /// The fragment challenged.
    pub fragment_index: u32,
    /// The proof period of the challenge.
    pub period: u64,
    /// The encoded proof (`sherd_fragments::Proof::to_bytes`).
    pub proof: Vec<u8>,
}

impl Encode for ProofAnswer {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.contract_id.encode(w)?;
        w.u32(self.fragment_index);
        w.u64(self.period);
        w.bytes("SubmitProofs.proofs.proof", MAX_PROOF_LEN, &self.proof)
    }
}

impl Decode for ProofAnswer {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            contract_id: r.fixed("SubmitProofs.proofs.contract_id").map(Hash)?,
            fragment_index: r.u32("SubmitProofs.proofs.fragment_index")?,
            period: r.u64("SubmitProofs.proofs.period")?,
            proof: r
                .bytes("SubmitProofs.proofs.proof", MAX_PROOF_LEN)?
                .to_vec(),
        })
    }
}

/// Answer a batch of storage challenges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitProofs {
    /// The answers.
    pub proofs: Vec<ProofAnswer>,
}

impl Encode for SubmitProofs {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.seq("SubmitProofs.proofs", MAX_PROOFS_PER_TX, &self.proofs)
    }
}

impl Decode for SubmitProofs {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            proofs: r.seq("SubmitProofs.proofs", MAX_PROOFS_PER_TX, 32 + 4 + 8 + 4)?,
        })
    }
}

/// Give a lost fragment to a new provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairFragment {
    /// The contract.
    pub contract_id: Hash,
    /// The lost fragment.
    pub fragment_index: u32,
    /// Its new provider.
    pub new_provider: Address,
    /// The new provider's ed25519 signature accepting the deal.
    pub acceptance: Signature,
}

impl Encode for RepairFragment {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.contract_id.encode(w)?;
        w.u32(self.fragment_index);
        self.new_provider.encode(w)?;
        self.acceptance.encode(w)
    }
}

impl Decode for RepairFragment {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            contract_id: r.fixed("RepairFragment.contract_id").map(Hash)?,
            fragment_index: r.u32("RepairFragment.fragment_index")?,
            new_provider: r.fixed("RepairFragment.new_provider").map(Address)?,
            acceptance: r
                .fixed("RepairFragment.acceptance")
                .map(|b| Signature::from_bytes(&b))?,
        })
    }
}

/// End a contract before its last period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndContract {
    /// The contract.
    pub contract_id: Hash,
}

impl Encode for EndContract {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.contract_id.encode(w)
    }
}

impl Decode for EndContract {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            contract_id: r.fixed("EndContract.contract_id").map(Hash)?,
        })
    }
}

/// Make a contract `epochs` epochs longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendContract {
    /// The contract.
    pub contract_id: Hash,
    /// Epochs to add.
    pub epochs: u64,
}

impl Encode for ExtendContract {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.contract_id.encode(w)?;
        w.u64(self.epochs);
        Ok(())
    }
}

impl Decode for ExtendContract {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            contract_id: r.fixed("ExtendContract.contract_id").map(Hash)?,
            epochs: r.u64("ExtendContract.epochs")?,
        })
    }
}

/// Evidence of validator misbehaviour: a consensus `Evidence` (two
/// conflicting votes of one validator) in its wire encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The evidence bytes.
    pub bytes: Vec<u8>,
}

impl Encode for Evidence {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.bytes("Evidence.bytes", MAX_EVIDENCE_LEN, &self.bytes)
    }
}

impl Decode for Evidence {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            bytes: r.bytes("Evidence.bytes", MAX_EVIDENCE_LEN)?.to_vec(),
        })
    }
}
