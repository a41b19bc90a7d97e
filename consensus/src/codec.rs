//! The canonical wire codec of every consensus message.
//!
//! One explicit, versioned binary format for what validators send each other
//! ([`Message`]), for [`Evidence`] handed to the ledger, and for headers,
//! signed votes and certificates stored on their own. Every value has
//! exactly one encoding and every byte string decodes to at most one value:
//! `decode(encode(x)) == x`, and whenever `decode(b)` succeeds,
//! `encode(decode(b)) == b`.
//!
//! # Conventions
//!
//! * Integers are fixed-width **little-endian** (`u32`: 4 bytes, `u64`: 8).
//!   (The *signed* and *hashed* byte strings of [`vote`](crate::vote),
//!   [`Proposal::id`] and [`beacon_message`](crate::engine::beacon_message)
//!   are a different, big-endian format; this codec never feeds a hash or a
//!   signature.)
//! * Enums are one tag byte; unknown tags are rejected.
//! * Public keys are 48-byte compressed G1 points (ZCash serialization, see
//!   [`bls`](crate::bls)); decoding runs [`PublicKey::from_bytes`]
//!   (KeyValidate: on the curve, in the subgroup, not the identity).
//! * The signature of a **signed vote** is a 192-byte *uncompressed* G2
//!   point; decoding runs [`UncheckedSignature::from_uncompressed`]:
//!   canonical flags, coordinates below p, on the curve, but **no subgroup
//!   check** (a vote is checked later, by a
//!   [`VoteCollector`](crate::VoteCollector) through the subgroup and
//!   pairing check of an aggregate, or alone by [`SignedVote::verify`]; the
//!   [`collector`](crate::collector) module docs explain why that is sound).
//!   Decoding a vote thus costs no square root (~130 µs) and no subgroup
//!   check (~80 µs), which is what makes collection cheap per vote.
//! * Every other signature (a proposal's beacon reveal, a certificate's
//!   aggregate) is a 96-byte compressed G2 point, decoded by
//!   [`Signature::from_bytes`] (on the curve, in the subgroup). Those are
//!   one per message and verified alone, so the compact form costs nothing
//!   extra.
//! * The identity signature is allowed in both forms (it is the placeholder
//!   of [`SignatureMode::Trusted`](crate::engine::SignatureMode)); its only
//!   encodings are `0xc0` then 95 zero bytes, and `0x40` then 191 zero
//!   bytes. Point encodings are canonical, so re-encoding gives the same
//!   bytes.
//! * The only variable-length field is the signer bitmap, prefixed by its
//!   number of validators, at most [`MAX_SIGNERS`]; the limit is checked
//!   before anything is allocated.
//! * Decoding is all-or-nothing: a decoder first checks the whole structure
//!   (tags, lengths, no missing and no trailing bytes) without touching a
//!   curve point, and only then decodes the points (decompression and
//!   subgroup check for compressed ones, the on-curve check for a vote's
//!   uncompressed signature), so a malformed message costs no point
//!   arithmetic.
//!
//! # Envelope
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 1 | version, [`WIRE_VERSION`] = `0x02`; any other value is rejected |
//! | 1 | 1 | tag: what follows (table below) |
//! | 2 | … | body |
//!
//! | tag | type | body |
//! |---|---|---|
//! | `0x01` | [`Message::Proposal`] | proposal ‖ signed vote (the leader's notarize) |
//! | `0x02` | [`Message::Vote`] | signed vote |
//! | `0x03` | [`Message::Notarization`] | proposal ‖ certificate |
//! | `0x04` | [`Message::Nullification`] | certificate |
//! | `0x05` | [`Message::Finalization`] | proposal ‖ certificate |
//! | `0x06` | [`Message::Header`] | proposal |
//! | `0x07` | [`Message::Fetch`] | view (`u64`) |
//! | `0x10` | [`Evidence`] | public key (48) ‖ signed vote ‖ signed vote |
//! | `0x11` | [`Proposal`] (a header stored alone) | proposal |
//! | `0x12` | [`SignedVote`] (stored alone) | signed vote |
//! | `0x13` | [`Certificate`] (stored alone) | certificate |
//! | `0x14` | [`Entry`] (a journal record, stored by the node) | journal entry |
//!
//! Decoding a [`Message`] accepts tags `0x01` to `0x07` only; decoding one
//! of the other types accepts only its own tag.
//!
//! # Bodies
//!
//! **vote** ([`Vote`]), 9 or 41 bytes:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 1 | kind: `0x01` notarize, `0x02` nullify, `0x03` finalize (the [`VoteKind`] bytes) |
//! | 1 | 8 | view, `u64` |
//! | 9 | 32 | block id (notarize and finalize only; absent for nullify) |
//!
//! **signed vote** ([`SignedVote`]), 213 or 245 bytes:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | epoch, `u64` |
//! | 8 | 4 | signer index, `u32` |
//! | 12 | 9 or 41 | vote |
//! | 21 or 53 | 192 | signature, **uncompressed** G2 point `x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0` (flags in the first byte: compression and sort clear, infinity only for `0x40 00 … 00`), on the curve, not subgroup-checked |
//!
//! **proposal** ([`Proposal`], a block header with its beacon reveal), 196 bytes:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | epoch, `u64` |
//! | 8 | 8 | view, `u64` |
//! | 16 | 8 | height, `u64` |
//! | 24 | 8 | parent view, `u64` |
//! | 32 | 32 | parent block id |
//! | 64 | 32 | payload digest |
//! | 96 | 4 | proposer signer index, `u32` |
//! | 100 | 96 | beacon reveal (signature) |
//!
//! **certificate** ([`Certificate`]), `117 + ⌈n/8⌉` or `149 + ⌈n/8⌉` bytes:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | epoch, `u64` |
//! | 8 | 9 or 41 | vote (its kind makes this a notarization, nullification or finalization) |
//! | 17 or 49 | 4 | `n`, the number of validators the bitmap covers, `u32`, at most [`MAX_SIGNERS`] |
//! | 21 or 53 | ⌈n/8⌉ | signer bitmap: bit `i` is bit `i mod 8` (least significant first) of byte `⌊i/8⌋`; the unused high bits of the last byte must be zero |
//! | … | 96 | aggregate signature (compressed, subgroup-checked) |
//!
//! **journal entry** ([`Entry`]), 1 + a signed vote, or 2 + a certificate
//! (+ 196 with a header):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 1 | kind: `0x01` own vote ([`Entry::Vote`]), `0x02` certificate ([`Entry::Certificate`]); other values are rejected |
//! | 1 | … | `0x01`: signed vote (its signature uncompressed, as on the wire) |
//! | 1 | … | `0x02`: certificate ‖ header flag (1 byte: `0x00` none, `0x01` a proposal follows; other values are rejected) ‖ proposal if the flag is `0x01` |
//!
//! A journal is read back only by the validator that wrote it, but its
//! entries get the same strict, canonical decoding as anything off the
//! network (a corrupted store is reported, never half-read).
//!
//! No semantic check happens here (a certificate below quorum, a proposal
//! whose notarize is for another block, evidence that is no conflict all
//! decode fine): the engine, [`Certificate::verify`] and
//! [`Evidence::verify`] judge them. The codec only guarantees that the value
//! is well formed and that its points are valid.
//!
//! The golden vectors in `tests/vectors/consensus-wire.json` pin one message
//! of every kind (regenerate with `SHERD_UPDATE_VECTORS=1` only on purpose,
//! together with a new [`WIRE_VERSION`]). Version history: `0x01` carried
//! vote signatures compressed (96 bytes); `0x02` carries them uncompressed.

use std::sync::OnceLock;

use crate::bls::{
    BlsError, PublicKey, Signature, UncheckedSignature, PUBLIC_KEY_BYTES, SIGNATURE_BYTES,
    SIGNATURE_UNCOMPRESSED_BYTES,
};
use crate::certificate::{Certificate, SignerBitmap};
use crate::engine::{placeholder_signature, Entry, Message, Proposal};
use crate::evidence::Evidence;
use crate::validators::Epoch;
use crate::vote::{BlockId, SignedVote, Vote, VoteKind};

/// The version byte at the start of every encoding.
pub const WIRE_VERSION: u8 = 0x02;
/// Largest number of validators a signer bitmap may cover (8 KiB of
/// bitmap): [`MAX_VALIDATORS`](crate::validators::MAX_VALIDATORS), the most a
/// [`ValidatorSet`](crate::ValidatorSet) may hold, so a certificate over any
/// set encodes and decodes. (Only a bitmap built by hand, over no set, can
/// be larger: it encodes but does not decode.)
pub const MAX_SIGNERS: u32 = crate::validators::MAX_VALIDATORS;
/// Longest encoding of any value: a journal entry holding a finalization
/// with a full-size bitmap and its header. (The longest [`Message`], a
/// notarization or finalization, is 2 bytes shorter.)
pub const MAX_ENCODED_BYTES: usize =
    2 + 1 + 8 + 41 + 4 + (MAX_SIGNERS as usize / 8) + SIGNATURE_BYTES + 1 + PROPOSAL_BYTES;

/// Length of an encoded proposal body.
const PROPOSAL_BYTES: usize = 8 * 4 + 32 * 2 + 4 + SIGNATURE_BYTES;

/// Message tags.
const TAG_PROPOSAL: u8 = 0x01;
const TAG_VOTE: u8 = 0x02;
const TAG_NOTARIZATION: u8 = 0x03;
const TAG_NULLIFICATION: u8 = 0x04;
const TAG_FINALIZATION: u8 = 0x05;
const TAG_HEADER: u8 = 0x06;
const TAG_FETCH: u8 = 0x07;
/// Tags of the values stored or handed over alone.
const TAG_EVIDENCE: u8 = 0x10;
const TAG_STORED_PROPOSAL: u8 = 0x11;
const TAG_STORED_VOTE: u8 = 0x12;
const TAG_STORED_CERTIFICATE: u8 = 0x13;
const TAG_JOURNAL_ENTRY: u8 = 0x14;
/// Kinds of journal entries.
const ENTRY_VOTE: u8 = 0x01;
const ENTRY_CERTIFICATE: u8 = 0x02;
/// The header flag of a journaled certificate.
const NO_HEADER: u8 = 0x00;
const WITH_HEADER: u8 = 0x01;

/// Why bytes do not decode. Every variant names the field at fault, as
/// `Type.field`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input ends inside a field.
    #[error("truncated in {field}: needs {needed} bytes, {remaining} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// Bytes follow a complete value.
    #[error("{count} trailing bytes after the {value}")]
    TrailingBytes {
        /// What was decoded.
        value: &'static str,
        /// How many bytes are left over.
        count: usize,
    },
    /// The version byte is not [`WIRE_VERSION`].
    #[error("unknown wire version {found:#04x}, expected {expected:#04x}")]
    UnknownVersion {
        /// Always [`WIRE_VERSION`].
        expected: u8,
        /// The byte found.
        found: u8,
    },
    /// A tag byte names no variant.
    #[error("unknown tag {tag:#04x} in {field}")]
    UnknownTag {
        /// The tag's field.
        field: &'static str,
        /// The byte found.
        tag: u8,
    },
    /// A length prefix is above its limit.
    #[error("{field} is {found}, the limit is {max}")]
    TooLong {
        /// The length field.
        field: &'static str,
        /// Its value.
        found: u64,
        /// The limit.
        max: u64,
    },
    /// The signer bitmap has a padding bit set.
    #[error("{field} has a padding bit set beyond validator {validators}")]
    BitmapPadding {
        /// The bitmap field.
        field: &'static str,
        /// Number of validators it covers.
        validators: u32,
    },
    /// A public key or signature is not a valid point.
    #[error("{field} is not a valid point: {source}")]
    InvalidPoint {
        /// The point's field.
        field: &'static str,
        /// What the BLS decoder said.
        source: BlsError,
    },
}

/// A value with a canonical wire encoding (module docs).
pub trait Wire: Sized {
    /// The name used in errors.
    const NAME: &'static str;

    /// Writes the envelope and body.
    fn encode_to(&self, out: &mut Vec<u8>);

    /// Reads the tag and body (the version byte is already read).
    #[doc(hidden)]
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, CodecError>;

    /// The encoding.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_to(&mut out);
        out
    }

    /// Decodes exactly one value: no missing and no trailing bytes.
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        // Pass 1: structure only, points read but not decompressed.
        decode_pass::<Self>(bytes, false)?;
        // Pass 2: the same grammar, now decoding the points.
        decode_pass::<Self>(bytes, true)
    }
}

/// The epoch and vote of the certificate a [`Message`]'s bytes carry (a
/// notarization, nullification or finalization), read without decoding
/// anything else: no curve point is touched. `None` for any other message,
/// and for bytes too short or malformed where it looks (the full decode
/// then judges them). A receiver that already holds this certificate can
/// drop a re-broadcast copy before paying for its points (two
/// decompressions and subgroup checks for a notarization or finalization:
/// the proposal's reveal and the aggregate).
pub fn certified_vote(bytes: &[u8]) -> Option<(Epoch, Vote)> {
    let mut reader = Reader {
        rest: bytes,
        check_points: false,
    };
    if reader.u8("version").ok()? != WIRE_VERSION {
        return None;
    }
    match reader.u8("Message.tag").ok()? {
        TAG_NOTARIZATION | TAG_FINALIZATION => {
            reader.take(PROPOSAL_BYTES, "Message.proposal").ok()?;
        }
        TAG_NULLIFICATION => {}
        _ => return None,
    }
    let epoch = reader.u64("Certificate.epoch").ok()?;
    let vote = get_vote(&mut reader).ok()?;
    Some((epoch, vote))
}

fn decode_pass<T: Wire>(bytes: &[u8], check_points: bool) -> Result<T, CodecError> {
    let mut reader = Reader {
        rest: bytes,
        check_points,
    };
    let version = reader.u8("version")?;
    if version != WIRE_VERSION {
        return Err(CodecError::UnknownVersion {
            expected: WIRE_VERSION,
            found: version,
        });
    }
    let value = T::decode_from(&mut reader)?;
    if !reader.rest.is_empty() {
        return Err(CodecError::TrailingBytes {
            value: T::NAME,
            count: reader.rest.len(),
        });
    }
    Ok(value)
}

/// A cursor over the input (public only because [`Wire`] names it).
#[derive(Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
    check_points: bool,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], CodecError> {
        match (self.rest.get(..n), self.rest.get(n..)) {
            (Some(head), Some(tail)) => {
                self.rest = tail;
                Ok(head)
            }
            _ => Err(CodecError::Truncated {
                field,
                needed: n,
                remaining: self.rest.len(),
            }),
        }
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, CodecError> {
        Ok(u8::from_le_bytes(self.array(field)?))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, CodecError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    fn signature(&mut self, field: &'static str) -> Result<Signature, CodecError> {
        let bytes = self.take(SIGNATURE_BYTES, field)?;
        // The identity (the placeholder of trusted mode) is in the subgroup
        // and has one encoding: no need to run the point decoder on it.
        if !self.check_points || bytes == IDENTITY_G2 {
            return Ok(identity_signature());
        }
        Signature::from_bytes(bytes).map_err(|source| CodecError::InvalidPoint { field, source })
    }

    /// A vote's signature: uncompressed, on-curve check only.
    fn unchecked_signature(
        &mut self,
        field: &'static str,
    ) -> Result<UncheckedSignature, CodecError> {
        let bytes = self.take(SIGNATURE_UNCOMPRESSED_BYTES, field)?;
        if !self.check_points {
            return Ok(identity_signature().into());
        }
        UncheckedSignature::from_uncompressed(bytes)
            .map_err(|source| CodecError::InvalidPoint { field, source })
    }

    fn public_key(&mut self, field: &'static str) -> Result<PublicKey, CodecError> {
        let bytes = self.take(PUBLIC_KEY_BYTES, field)?;
        if !self.check_points {
            if let Some(key) = placeholder_public_key() {
                return Ok(*key);
            }
        }
        PublicKey::from_bytes(bytes).map_err(|source| CodecError::InvalidPoint { field, source })
    }
}

/// The G1 generator, compressed: the value the structure pass returns for
/// public keys (decoded once per process).
const G1_GENERATOR: [u8; PUBLIC_KEY_BYTES] = [
    0x97, 0xf1, 0xd3, 0xa7, 0x31, 0x97, 0xd7, 0x94, 0x26, 0x95, 0x63, 0x8c, 0x4f, 0xa9, 0xac, 0x0f,
    0xc3, 0x68, 0x8c, 0x4f, 0x97, 0x74, 0xb9, 0x05, 0xa1, 0x4e, 0x3a, 0x3f, 0x17, 0x1b, 0xac, 0x58,
    0x6c, 0x55, 0xe8, 0x3f, 0xf9, 0x7a, 0x1a, 0xef, 0xfb, 0x3a, 0xf0, 0x0a, 0xdb, 0x22, 0xc6, 0xbb,
];

/// The only encoding of the G2 identity: `0xc0` and 95 zero bytes.
const IDENTITY_G2: [u8; SIGNATURE_BYTES] = {
    let mut bytes = [0u8; SIGNATURE_BYTES];
    bytes[0] = 0xc0;
    bytes
};

fn identity_signature() -> Signature {
    static IDENTITY: OnceLock<Signature> = OnceLock::new();
    *IDENTITY.get_or_init(placeholder_signature)
}

fn placeholder_public_key() -> Option<&'static PublicKey> {
    static KEY: OnceLock<Option<PublicKey>> = OnceLock::new();
    KEY.get_or_init(|| PublicKey::from_bytes(&G1_GENERATOR).ok())
        .as_ref()
}

// ---- bodies -------------------------------------------------------------

fn put_vote(out: &mut Vec<u8>, vote: &Vote) {
    out.push(vote.kind() as u8);
    out.extend_from_slice(&vote.view().to_le_bytes());
    if let Some(block_id) = vote.block_id() {
        out.extend_from_slice(&block_id.0);
    }
}

fn get_vote(r: &mut Reader<'_>) -> Result<Vote, CodecError> {
    let kind = r.u8("Vote.kind")?;
    let kind = match kind {
        k if k == VoteKind::Notarize as u8 => VoteKind::Notarize,
        k if k == VoteKind::Nullify as u8 => VoteKind::Nullify,
        k if k == VoteKind::Finalize as u8 => VoteKind::Finalize,
        tag => {
            return Err(CodecError::UnknownTag {
                field: "Vote.kind",
                tag,
            })
        }
    };
    let view = r.u64("Vote.view")?;
    Ok(match kind {
        VoteKind::Notarize => Vote::Notarize {
            view,
            block_id: BlockId(r.array("Vote.block_id")?),
        },
        VoteKind::Nullify => Vote::Nullify { view },
        VoteKind::Finalize => Vote::Finalize {
            view,
            block_id: BlockId(r.array("Vote.block_id")?),
        },
    })
}

fn put_signed_vote(out: &mut Vec<u8>, vote: &SignedVote) {
    out.extend_from_slice(&vote.epoch.to_le_bytes());
    out.extend_from_slice(&vote.signer.to_le_bytes());
    put_vote(out, &vote.vote);
    out.extend_from_slice(&vote.signature.to_uncompressed());
}

fn get_signed_vote(r: &mut Reader<'_>) -> Result<SignedVote, CodecError> {
    Ok(SignedVote {
        epoch: r.u64("SignedVote.epoch")?,
        signer: r.u32("SignedVote.signer")?,
        vote: get_vote(r)?,
        signature: r.unchecked_signature("SignedVote.signature")?,
    })
}

fn put_proposal(out: &mut Vec<u8>, p: &Proposal) {
    out.extend_from_slice(&p.epoch.to_le_bytes());
    out.extend_from_slice(&p.view.to_le_bytes());
    out.extend_from_slice(&p.height.to_le_bytes());
    out.extend_from_slice(&p.parent_view.to_le_bytes());
    out.extend_from_slice(&p.parent.0);
    out.extend_from_slice(&p.payload);
    out.extend_from_slice(&p.proposer.to_le_bytes());
    out.extend_from_slice(&p.reveal.to_bytes());
}

fn get_proposal(r: &mut Reader<'_>) -> Result<Proposal, CodecError> {
    Ok(Proposal {
        epoch: r.u64("Proposal.epoch")?,
        view: r.u64("Proposal.view")?,
        height: r.u64("Proposal.height")?,
        parent_view: r.u64("Proposal.parent_view")?,
        parent: BlockId(r.array("Proposal.parent")?),
        payload: r.array("Proposal.payload")?,
        proposer: r.u32("Proposal.proposer")?,
        reveal: r.signature("Proposal.reveal")?,
    })
}

fn put_certificate(out: &mut Vec<u8>, c: &Certificate) {
    out.extend_from_slice(&c.epoch.to_le_bytes());
    put_vote(out, &c.vote);
    // A bitmap over more than u32::MAX validators cannot exist (signer
    // indices are u32); saturate rather than panic, the decoder rejects it.
    let validators = u32::try_from(c.signers.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&validators.to_le_bytes());
    out.extend_from_slice(c.signers.as_bytes());
    out.extend_from_slice(&c.signature.to_bytes());
}

fn get_certificate(r: &mut Reader<'_>) -> Result<Certificate, CodecError> {
    let epoch = r.u64("Certificate.epoch")?;
    let vote = get_vote(r)?;
    let validators = r.u32("Certificate.signers.validators")?;
    if validators > MAX_SIGNERS {
        return Err(CodecError::TooLong {
            field: "Certificate.signers.validators",
            found: u64::from(validators),
            max: u64::from(MAX_SIGNERS),
        });
    }
    // ≤ 2^16 after the check above: no overflow, and nothing is allocated
    // before the bytes are known to be there.
    let len = validators as usize;
    let bits = r.take(len.div_ceil(8), "Certificate.signers.bits")?;
    let signers = SignerBitmap::from_bytes(len, bits).map_err(|_| CodecError::BitmapPadding {
        field: "Certificate.signers.bits",
        validators,
    })?;
    Ok(Certificate {
        epoch,
        vote,
        signers,
        signature: r.signature("Certificate.signature")?,
    })
}

fn put_evidence(out: &mut Vec<u8>, e: &Evidence) {
    out.extend_from_slice(&e.public_key.to_bytes());
    put_signed_vote(out, &e.first);
    put_signed_vote(out, &e.second);
}

fn get_evidence(r: &mut Reader<'_>) -> Result<Evidence, CodecError> {
    Ok(Evidence {
        public_key: r.public_key("Evidence.public_key")?,
        first: get_signed_vote(r)?,
        second: get_signed_vote(r)?,
    })
}

fn start(out: &mut Vec<u8>, tag: u8) {
    out.push(WIRE_VERSION);
    out.push(tag);
}

fn expect_tag(r: &mut Reader<'_>, field: &'static str, expected: u8) -> Result<(), CodecError> {
    match r.u8(field)? {
        tag if tag == expected => Ok(()),
        tag => Err(CodecError::UnknownTag { field, tag }),
    }
}

// ---- top-level values ---------------------------------------------------

impl Wire for Message {
    const NAME: &'static str = "Message";

    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            Message::Proposal { proposal, notarize } => {
                start(out, TAG_PROPOSAL);
                put_proposal(out, proposal);
                put_signed_vote(out, notarize);
            }
            Message::Vote(vote) => {
                start(out, TAG_VOTE);
                put_signed_vote(out, vote);
            }
            Message::Notarization {
                proposal,
                certificate,
            } => {
                start(out, TAG_NOTARIZATION);
                put_proposal(out, proposal);
                put_certificate(out, certificate);
            }
            Message::Nullification(certificate) => {
                start(out, TAG_NULLIFICATION);
                put_certificate(out, certificate);
            }
            Message::Finalization {
                proposal,
                certificate,
            } => {
                start(out, TAG_FINALIZATION);
                put_proposal(out, proposal);
                put_certificate(out, certificate);
            }
            Message::Header(proposal) => {
                start(out, TAG_HEADER);
                put_proposal(out, proposal);
            }
            Message::Fetch { view } => {
                start(out, TAG_FETCH);
                out.extend_from_slice(&view.to_le_bytes());
            }
        }
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(match r.u8("Message.tag")? {
            TAG_PROPOSAL => Message::Proposal {
                proposal: get_proposal(r)?,
                notarize: get_signed_vote(r)?,
            },
            TAG_VOTE => Message::Vote(get_signed_vote(r)?),
            TAG_NOTARIZATION => Message::Notarization {
                proposal: get_proposal(r)?,
                certificate: get_certificate(r)?,
            },
            TAG_NULLIFICATION => Message::Nullification(get_certificate(r)?),
            TAG_FINALIZATION => Message::Finalization {
                proposal: get_proposal(r)?,
                certificate: get_certificate(r)?,
            },
            TAG_HEADER => Message::Header(get_proposal(r)?),
            TAG_FETCH => Message::Fetch {
                view: r.u64("Fetch.view")?,
            },
            tag => {
                return Err(CodecError::UnknownTag {
                    field: "Message.tag",
                    tag,
                })
            }
        })
    }
}

impl Wire for Evidence {
    const NAME: &'static str = "Evidence";

    fn encode_to(&self, out: &mut Vec<u8>) {
        start(out, TAG_EVIDENCE);
        put_evidence(out, self);
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        expect_tag(r, "Evidence.tag", TAG_EVIDENCE)?;
        get_evidence(r)
    }
}

impl Wire for Proposal {
    const NAME: &'static str = "Proposal";

    fn encode_to(&self, out: &mut Vec<u8>) {
        start(out, TAG_STORED_PROPOSAL);
        put_proposal(out, self);
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        expect_tag(r, "Proposal.tag", TAG_STORED_PROPOSAL)?;
        get_proposal(r)
    }
}

impl Wire for SignedVote {
    const NAME: &'static str = "SignedVote";

    fn encode_to(&self, out: &mut Vec<u8>) {
        start(out, TAG_STORED_VOTE);
        put_signed_vote(out, self);
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        expect_tag(r, "SignedVote.tag", TAG_STORED_VOTE)?;
        get_signed_vote(r)
    }
}

impl Wire for Certificate {
    const NAME: &'static str = "Certificate";

    fn encode_to(&self, out: &mut Vec<u8>) {
        start(out, TAG_STORED_CERTIFICATE);
        put_certificate(out, self);
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        expect_tag(r, "Certificate.tag", TAG_STORED_CERTIFICATE)?;
        get_certificate(r)
    }
}

impl Wire for Entry {
    const NAME: &'static str = "Entry";

    fn encode_to(&self, out: &mut Vec<u8>) {
        start(out, TAG_JOURNAL_ENTRY);
        match self {
            Entry::Vote(vote) => {
                out.push(ENTRY_VOTE);
                put_signed_vote(out, vote);
            }
            Entry::Certificate {
                certificate,
                header,
            } => {
                out.push(ENTRY_CERTIFICATE);
                put_certificate(out, certificate);
                match header {
                    None => out.push(NO_HEADER),
                    Some(proposal) => {
                        out.push(WITH_HEADER);
                        put_proposal(out, proposal);
                    }
                }
            }
        }
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        expect_tag(r, "Entry.tag", TAG_JOURNAL_ENTRY)?;
        Ok(match r.u8("Entry.kind")? {
            ENTRY_VOTE => Entry::Vote(get_signed_vote(r)?),
            ENTRY_CERTIFICATE => {
                let certificate = get_certificate(r)?;
                let header = match r.u8("Entry.header")? {
                    NO_HEADER => None,
                    WITH_HEADER => Some(Box::new(get_proposal(r)?)),
                    tag => {
                        return Err(CodecError::UnknownTag {
                            field: "Entry.header",
                            tag,
                        })
                    }
                };
                Entry::Certificate {
                    certificate,
                    header,
                }
            }
            tag => {
                return Err(CodecError::UnknownTag {
                    field: "Entry.kind",
                    tag,
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bls::{PointError, SecretKey};
    use crate::vote::ChainId;

    fn key() -> SecretKey {
        SecretKey::key_gen(&[7; 32], b"").unwrap()
    }

    fn vote() -> SignedVote {
        let chain = ChainId::new("sherd-test").unwrap();
        SignedVote::sign(
            &chain,
            3,
            1,
            Vote::Finalize {
                view: 9,
                block_id: BlockId([2; 32]),
            },
            &key(),
        )
    }

    fn certificate(validators: usize) -> Certificate {
        let mut signers = SignerBitmap::new(validators);
        signers.insert(0).unwrap();
        Certificate {
            epoch: 3,
            vote: Vote::Nullify { view: 4 },
            signers,
            signature: placeholder_signature(),
        }
    }

    #[test]
    fn layout_of_a_signed_vote() {
        let vote = vote();
        let bytes = Message::Vote(vote).encode();
        assert_eq!(bytes.len(), 2 + 245);
        assert_eq!(&bytes[..2], &[0x02, 0x02]);
        assert_eq!(&bytes[2..10], &3u64.to_le_bytes());
        assert_eq!(&bytes[10..14], &1u32.to_le_bytes());
        assert_eq!(bytes[14], 0x03);
        assert_eq!(&bytes[15..23], &9u64.to_le_bytes());
        assert_eq!(&bytes[23..55], &[2; 32]);
        assert_eq!(&bytes[55..], &vote.signature.to_uncompressed());
        assert_eq!(Message::decode(&bytes), Ok(Message::Vote(vote)));
        // Stored alone, only the tag differs.
        let alone = vote.encode();
        assert_eq!(alone[1], 0x12);
        assert_eq!(alone[2..], bytes[2..]);
        assert_eq!(SignedVote::decode(&alone), Ok(vote));
    }

    #[test]
    fn layout_of_a_certificate() {
        let c = certificate(9);
        let bytes = c.encode();
        // version, tag, epoch, kind, view, n, 2 bitmap bytes, signature
        assert_eq!(bytes.len(), 2 + 8 + 9 + 4 + 2 + 96);
        assert_eq!(&bytes[19..23], &9u32.to_le_bytes());
        assert_eq!(&bytes[23..25], &[0x01, 0x00]);
        assert_eq!(Certificate::decode(&bytes), Ok(c));
    }

    #[test]
    fn rejects_bad_envelopes() {
        let mut bytes = Message::Fetch { view: 5 }.encode();
        assert_eq!(bytes, [2, 7, 5, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            Message::decode(&bytes[..9]),
            Err(CodecError::Truncated {
                field: "Fetch.view",
                needed: 8,
                remaining: 7
            })
        );
        assert!(matches!(
            Message::decode(&[]),
            Err(CodecError::Truncated {
                field: "version",
                ..
            })
        ));
        bytes.push(0);
        assert_eq!(
            Message::decode(&bytes),
            Err(CodecError::TrailingBytes {
                value: "Message",
                count: 1
            })
        );
        bytes.pop();
        for version in [0x00, 0x01, 0x03] {
            bytes[0] = version;
            assert_eq!(
                Message::decode(&bytes),
                Err(CodecError::UnknownVersion {
                    expected: WIRE_VERSION,
                    found: version
                })
            );
        }
        bytes[0] = WIRE_VERSION;
        for tag in [0x00, 0x08, 0x10, 0x13, 0x14, 0xff] {
            bytes[1] = tag;
            assert_eq!(
                Message::decode(&bytes),
                Err(CodecError::UnknownTag {
                    field: "Message.tag",
                    tag
                })
            );
        }
        // A message is not a stored value, and the other way round.
        let vote = Message::Vote(vote()).encode();
        assert_eq!(
            SignedVote::decode(&vote),
            Err(CodecError::UnknownTag {
                field: "SignedVote.tag",
                tag: 0x02
            })
        );
    }

    #[test]
    fn rejects_unknown_vote_kinds() {
        let mut bytes = Message::Vote(vote()).encode();
        for kind in [0x00, 0x04, 0xff] {
            bytes[14] = kind;
            assert_eq!(
                Message::decode(&bytes),
                Err(CodecError::UnknownTag {
                    field: "Vote.kind",
                    tag: kind
                })
            );
        }
    }

    #[test]
    fn bitmap_limits_are_checked_before_reading() {
        let mut bytes = certificate(9).encode();
        bytes[19..23].copy_from_slice(&(MAX_SIGNERS + 1).to_le_bytes());
        assert_eq!(
            Certificate::decode(&bytes),
            Err(CodecError::TooLong {
                field: "Certificate.signers.validators",
                found: u64::from(MAX_SIGNERS) + 1,
                max: u64::from(MAX_SIGNERS)
            })
        );
        bytes[19..23].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Certificate::decode(&bytes),
            Err(CodecError::TooLong { .. })
        ));
        // Within the limit but longer than the input.
        bytes[19..23].copy_from_slice(&MAX_SIGNERS.to_le_bytes());
        assert_eq!(
            Certificate::decode(&bytes),
            Err(CodecError::Truncated {
                field: "Certificate.signers.bits",
                needed: 8192,
                remaining: 98
            })
        );
        // A padding bit (validator 9 of 9) set.
        let mut bytes = certificate(9).encode();
        bytes[24] = 0x02;
        assert_eq!(
            Certificate::decode(&bytes),
            Err(CodecError::BitmapPadding {
                field: "Certificate.signers.bits",
                validators: 9
            })
        );
        // The largest bitmap round-trips.
        let big = certificate(MAX_SIGNERS as usize);
        assert_eq!(Certificate::decode(&big.encode()), Ok(big));
        let nullification = Message::Nullification(certificate(MAX_SIGNERS as usize)).encode();
        assert!(nullification.len() <= MAX_ENCODED_BYTES);
        // The longest values: a finalization message and a journal entry
        // of one, both with a full-size bitmap.
        let proposal = Proposal {
            epoch: 3,
            view: 4,
            height: 1,
            parent_view: 0,
            parent: BlockId([1; 32]),
            payload: [2; 32],
            proposer: 0,
            reveal: placeholder_signature(),
        };
        let finalization = Certificate {
            vote: Vote::Finalize {
                view: 4,
                block_id: proposal.id(),
            },
            ..certificate(MAX_SIGNERS as usize)
        };
        let message = Message::Finalization {
            proposal,
            certificate: finalization.clone(),
        }
        .encode();
        let entry = Entry::Certificate {
            certificate: finalization,
            header: Some(Box::new(proposal)),
        }
        .encode();
        assert_eq!(entry.len(), MAX_ENCODED_BYTES);
        assert_eq!(message.len() + 2, MAX_ENCODED_BYTES);
    }

    #[test]
    fn rejects_invalid_points_naming_the_field() {
        let mut bytes = Message::Vote(vote()).encode();
        let signature = bytes.len() - 192;
        bytes[signature] |= 0x80;
        assert_eq!(
            Message::decode(&bytes),
            Err(CodecError::InvalidPoint {
                field: "SignedVote.signature",
                source: BlsError::SignatureEncoding(PointError::UncompressedFlags {
                    first_byte: bytes[signature]
                })
            })
        );
        // Off the curve: another y.
        bytes[signature] &= 0x7f;
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(
            Message::decode(&bytes),
            Err(CodecError::InvalidPoint {
                field: "SignedVote.signature",
                source: BlsError::SignatureEncoding(PointError::NotOnCurve)
            })
        );
        // The compressed form of a vote signature is no longer accepted.
        let mut short = Message::Vote(vote()).encode();
        short.truncate(short.len() - 192);
        short.extend_from_slice(&vote().signature.subgroup_check().unwrap().to_bytes());
        assert!(matches!(
            Message::decode(&short),
            Err(CodecError::Truncated {
                field: "SignedVote.signature",
                ..
            })
        ));
        // The identity is no public key.
        let evidence = Evidence {
            public_key: key().public_key(),
            first: vote(),
            second: vote(),
        };
        let mut bytes = evidence.encode();
        assert_eq!(Evidence::decode(&bytes), Ok(evidence));
        bytes[2] = 0xc0;
        bytes[3..50].fill(0);
        assert_eq!(
            Evidence::decode(&bytes),
            Err(CodecError::InvalidPoint {
                field: "Evidence.public_key",
                source: BlsError::IdentityPublicKey
            })
        );
        // A reveal off the curve: x = 0 has no point on E'.
        let proposal = Proposal {
            epoch: 1,
            view: 2,
            height: 3,
            parent_view: 1,
            parent: BlockId([4; 32]),
            payload: [5; 32],
            proposer: 0,
            reveal: placeholder_signature(),
        };
        let mut bytes = Message::Header(proposal).encode();
        assert_eq!(bytes.len(), 2 + PROPOSAL_BYTES);
        bytes[102] = 0x80;
        assert!(matches!(
            Message::decode(&bytes),
            Err(CodecError::InvalidPoint {
                field: "Proposal.reveal",
                source: BlsError::SignatureEncoding(_)
            })
        ));
    }

    #[test]
    fn a_vote_signature_outside_the_subgroup_decodes_but_never_verifies() {
        let chain = ChainId::new("sherd-test").unwrap();
        let other = SecretKey::key_gen(&[8; 32], b"").unwrap().public_key();
        // vote() is signer 1's, signed with key().
        let set = crate::ValidatorSet::new(3, vec![(other, 1), (key().public_key(), 1)]).unwrap();
        let mut vote = vote();
        vote.verify(&chain, &set).unwrap();
        vote.signature = UncheckedSignature::outside_subgroup();
        let bytes = Message::Vote(vote).encode();
        assert_eq!(Message::decode(&bytes), Ok(Message::Vote(vote)));
        assert_eq!(
            vote.signature.subgroup_check(),
            Err(BlsError::SignatureEncoding(PointError::NotInSubgroup))
        );
        assert_eq!(
            vote.verify(&chain, &set),
            Err(crate::VoteError::InvalidSignature { signer: 1 })
        );
    }

    #[test]
    fn journal_entries_round_trip_and_reject_garbage() {
        let proposal = Proposal {
            epoch: 3,
            view: 4,
            height: 2,
            parent_view: 1,
            parent: BlockId([4; 32]),
            payload: [5; 32],
            proposer: 0,
            reveal: placeholder_signature(),
        };
        let entries = [
            Entry::Vote(vote()),
            Entry::Certificate {
                certificate: certificate(9),
                header: None,
            },
            Entry::Certificate {
                certificate: certificate(9),
                header: Some(Box::new(proposal)),
            },
        ];
        for entry in &entries {
            let bytes = entry.encode();
            assert_eq!(&bytes[..2], &[WIRE_VERSION, 0x14]);
            assert_eq!(Entry::decode(&bytes).as_ref(), Ok(entry));
        }
        // Lengths: kind ‖ signed vote; kind ‖ certificate ‖ flag (‖ proposal).
        assert_eq!(entries[0].encode().len(), 2 + 1 + 245);
        let cert_len = 8 + 9 + 4 + 2 + 96;
        assert_eq!(entries[1].encode().len(), 2 + 1 + cert_len + 1);
        assert_eq!(
            entries[2].encode().len(),
            2 + 1 + cert_len + 1 + PROPOSAL_BYTES
        );

        let mut bytes = entries[0].encode();
        bytes[2] = 0x03;
        assert_eq!(
            Entry::decode(&bytes),
            Err(CodecError::UnknownTag {
                field: "Entry.kind",
                tag: 0x03
            })
        );
        let mut bytes = entries[1].encode();
        let flag = bytes.len() - 1;
        bytes[flag] = 0x02;
        assert_eq!(
            Entry::decode(&bytes),
            Err(CodecError::UnknownTag {
                field: "Entry.header",
                tag: 0x02
            })
        );
        // A header flag without its header, and a header without its flag.
        bytes[flag] = WITH_HEADER;
        assert!(matches!(
            Entry::decode(&bytes),
            Err(CodecError::Truncated {
                field: "Proposal.epoch",
                ..
            })
        ));
        let mut bytes = entries[2].encode();
        bytes[flag] = NO_HEADER;
        assert_eq!(
            Entry::decode(&bytes),
            Err(CodecError::TrailingBytes {
                value: "Entry",
                count: PROPOSAL_BYTES
            })
        );
        // Not a message, and no message is an entry.
        assert!(matches!(
            Message::decode(&entries[0].encode()),
            Err(CodecError::UnknownTag { .. })
        ));
        assert_eq!(
            Entry::decode(&Message::Vote(vote()).encode()),
            Err(CodecError::UnknownTag {
                field: "Entry.tag",
                tag: 0x02
            })
        );
    }

    #[test]
    fn the_placeholders_are_what_they_claim() {
        assert!(placeholder_public_key().is_some());
        assert_eq!(identity_signature().to_bytes(), IDENTITY_G2);
        assert_eq!(
            Signature::from_bytes(&IDENTITY_G2),
            Ok(identity_signature())
        );
    }

    #[test]
    fn structure_is_checked_before_points() {
        // A bad signature and a trailing byte: the trailing byte is reported,
        // because the structure pass runs first.
        let mut bytes = Message::Vote(vote()).encode();
        let signature = bytes.len() - 192;
        bytes[signature] = 0x80;
        bytes.push(0);
        assert!(matches!(
            Message::decode(&bytes),
            Err(CodecError::TrailingBytes { .. })
        ));
    }
}
