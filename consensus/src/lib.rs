//! Stake-weighted Simplex consensus with BLS12-381 aggregate certificates, as a sans-IO state machine.
//!
//! What exists so far (the crate README lists what is still to come):
//!
//! * [`bls`]: the IETF BLS signature ciphersuite
//!   `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_` behind a narrow interface;
//! * [`validators`]: the validator set of an epoch and its quorum rule
//!   (strictly more than two thirds of the voting power);
//! * [`vote`]: `notarize`, `nullify` and `finalize` votes and the exact,
//!   domain-separated bytes a validator signs;
//! * [`certificate`]: a quorum of one vote as a signer bitmap plus one
//!   aggregate signature, verified with one pairing check;
//! * [`collector`]: gathers votes, verifies them by aggregate and bisects
//!   only when the aggregate fails.
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
pub mod collector;
pub mod validators;
pub mod vote;

pub use certificate::{Certificate, CertificateError, SignerBitmap};
pub use collector::{Certification, VoteCollector};
pub use validators::{Epoch, ValidatorSet, ValidatorSetError};
pub use vote::{BlockId, ChainId, ChainIdError, SignedVote, View, Vote, VoteError, VoteKind};
