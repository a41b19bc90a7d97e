//! Stake-weighted Simplex consensus with BLS12-381 aggregate certificates, as a sans-IO state machine.
//!
//! What exists (the crate README lists what is still to come):
//!
//! * [`bls`]: the IETF BLS signature ciphersuite
//!   `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_` behind a narrow interface;
//! * [`validators`]: the validator set of an epoch and its quorum rule
//!   (strictly more than two thirds of the voting power);
//! * [`vote`]: `notarize`, `nullify` and `finalize` votes and the exact,
//!   domain-separated bytes a validator signs;
//! * [`certificate`]: a quorum of one vote as a signer bitmap plus one
//!   aggregate signature, verified with one pairing check;
//! * [`codec`]: the canonical, versioned wire encoding of every message,
//!   vote, certificate, header, piece of evidence and journal entry;
//! * [`collector`]: gathers votes, verifies them by aggregate (one subgroup
//!   check and one pairing check for all) and bisects only when the
//!   aggregate fails;
//! * [`engine`]: the Simplex state machine, `handle(Input) -> Vec<Output>`,
//!   with stake-weighted leaders, the journal of own votes, the randomness
//!   beacon, epoch hand-over and a non-voting follower mode (the protocol
//!   is specified in its docs);
//! * [`evidence`]: two conflicting signed votes as a self-contained proof;
//! * [`sync`]: checking a finalized block from its finalization certificate.
//!
//! The crate is pure: no async runtime, no IO, no clock.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing
    )
)]

pub mod bls;
pub mod certificate;
pub mod codec;
pub mod collector;
pub mod engine;
pub mod evidence;
pub mod sync;
pub mod validators;
pub mod vote;

pub use certificate::{Certificate, CertificateError, SignerBitmap};
pub use codec::{CodecError, Wire};
pub use collector::{Certification, VoteCollector};
pub use engine::{Engine, Input, Journal, Message, Output, Proposal};
pub use evidence::{Evidence, EvidenceError};
pub use validators::{Epoch, ValidatorSet, ValidatorSetError, MAX_VALIDATORS};
pub use vote::{
    BlockId, ChainId, ChainIdError, SignedVote, View, Vote, VoteError, VoteKind, MAX_CHAIN_ID_BYTES,
};
