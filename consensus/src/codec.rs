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
//! * Public keys are 48-byte compressed G1 points and signatures 96-byte
//!   compressed G2 points (ZCash serialization, see [`bls`](crate::bls)).
//!   Decoding runs [`PublicKey::from_bytes`] (KeyValidate: on the curve, in
//!   the subgroup, not the identity) and [`Signature::from_bytes`] (on the
//!   curve, in the subgroup; the identity is allowed, it is the placeholder
//!   of [`SignatureMode::Trusted`](crate::engine::SignatureMode)). Point
//!   encodings are canonical, so re-encoding gives the same bytes.
//! * The only variable-length field is the signer bitmap, prefixed by its
//!   number of validators, at most [`MAX_SIGNERS`]; the limit is checked
//!   before anything is allocated.
//! * Decoding is all-or-nothing: a decoder first checks the whole structure
//!   (tags, lengths, no missing and no trailing bytes) without touching a
//!   curve point, and only then decompresses and subgroup-checks the points,
//!   so a malformed message costs no point arithmetic.
//!
//! # Envelope
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 1 | version, [`WIRE_VERSION`] = `0x01`; any other value is rejected |
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
//! **signed vote** ([`SignedVote`]), 117 or 149 bytes:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | epoch, `u64` |
//! | 8 | 4 | signer index, `u32` |
//! | 12 | 9 or 41 | vote |
//! | 21 or 53 | 96 | signature |
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
//! | … | 96 | aggregate signature |
//!
//! No semantic check happens here (a certificate below quorum, a proposal
//! whose notarize is for another block, evidence that is no conflict all
//! decode fine): the engine, [`Certificate::verify`] and
//! [`Evidence::verify`] judge them. The codec only guarantees that the value
//! is well formed and that its points are valid.
//!
//! The golden vectors in `tests/vectors/consensus-wire.json` pin one message
//! of every kind (regenerate with `SHERD_UPDATE_VECTORS=1` only on purpose,
//! together with a new [`WIRE_VERSION`]).

use std::sync::OnceLock;

use crate::bls::{BlsError, PublicKey, Signature, PUBLIC_KEY_BYTES, SIGNATURE_BYTES};
use crate::certificate::{Certificate, SignerBitmap};
use crate::engine::{placeholder_signature, Message, Proposal};
use crate::evidence::Evidence;
use crate::vote::{BlockId, SignedVote, Vote, VoteKind};

/// The version byte at the start of every encoding.
pub const WIRE_VERSION: u8 = 0x01;
/// Largest number of validators a signer bitmap may cover (8 KiB of bitmap).
/// A certificate over a larger set encodes, but does not decode.
pub const MAX_SIGNERS: u32 = 1 << 16;
/// Longest encoding of any value (a notarization or finalization with a
/// full-size bitmap).
pub const MAX_ENCODED_BYTES: usize =
    2 + PROPOSAL_BYTES + 8 + 41 + 4 + (MAX_SIGNERS as usize / 8) + SIGNATURE_BYTES;

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
    out.extend_from_slice(&vote.signature.to_bytes());
}

fn get_signed_vote(r: &mut Reader<'_>) -> Result<SignedVote, CodecError> {
    Ok(SignedVote {
        epoch: r.u64("SignedVote.epoch")?,
        signer: r.u32("SignedVote.signer")?,
        vote: get_vote(r)?,
        signature: r.signature("SignedVote.signature")?,
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
        assert_eq!(bytes.len(), 2 + 149);
        assert_eq!(&bytes[..2], &[0x01, 0x02]);
        assert_eq!(&bytes[2..10], &3u64.to_le_bytes());
        assert_eq!(&bytes[10..14], &1u32.to_le_bytes());
        assert_eq!(bytes[14], 0x03);
        assert_eq!(&bytes[15..23], &9u64.to_le_bytes());
        assert_eq!(&bytes[23..55], &[2; 32]);
        assert_eq!(&bytes[55..], &vote.signature.to_bytes());
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
        assert_eq!(bytes, [1, 7, 5, 0, 0, 0, 0, 0, 0, 0]);
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
        bytes[0] = 2;
        assert_eq!(
            Message::decode(&bytes),
            Err(CodecError::UnknownVersion {
                expected: 1,
                found: 2
            })
        );
        bytes[0] = 1;
        for tag in [0x00, 0x08, 0x10, 0x13, 0xff] {
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
    }

    #[test]
    fn rejects_invalid_points_naming_the_field() {
        let mut bytes = Message::Vote(vote()).encode();
        let signature = bytes.len() - 96;
        bytes[signature] &= 0x7f;
        assert_eq!(
            Message::decode(&bytes),
            Err(CodecError::InvalidPoint {
                field: "SignedVote.signature",
                source: BlsError::SignatureEncoding(PointError::NotCompressed {
                    first_byte: bytes[signature]
                })
            })
        );
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
        let signature = bytes.len() - 96;
        bytes[signature] = 0;
        bytes.push(0);
        assert!(matches!(
            Message::decode(&bytes),
            Err(CodecError::TrailingBytes { .. })
        ));
    }
}
