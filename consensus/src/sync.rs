//! Sync support: checking finalized blocks without running the engine.
//!
//! A node that syncs (or a light client) holds the validator set of an
//! epoch and receives headers with certificates. [`verify_finalized`]
//! checks one header from its finalization certificate alone: the
//! certificate is a finalization of that header's id, of the header's epoch
//! and view, it verifies against the set (one pairing check), and the
//! header's beacon reveal is its proposer's signature. [`verify_chain`]
//! then checks that a run of headers ends in such a block and links by
//! parent ids and heights, so every ancestor is final too.

use crate::certificate::{Certificate, CertificateError};
use crate::engine::{beacon_message, Proposal};
use crate::validators::ValidatorSet;
use crate::vote::{ChainId, View, VoteKind};

/// Why a header is not proven final.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The certificate is not a finalization.
    #[error("certificate is a {found:?}, not a finalization")]
    NotAFinalization {
        /// Its kind.
        found: VoteKind,
    },
    /// The certificate is for another block, view or epoch than the header.
    #[error("certificate does not certify the header of view {view}")]
    WrongBlock {
        /// The header's view.
        view: View,
    },
    /// The header's beacon reveal is not its proposer's signature.
    #[error("invalid beacon reveal in the header of view {view}")]
    InvalidReveal {
        /// The header's view.
        view: View,
    },
    /// Two consecutive headers do not link.
    #[error("header at height {height} is not the parent of the next one")]
    Broken {
        /// The height of the header that does not link.
        height: u64,
    },
    /// No headers given.
    #[error("no headers")]
    Empty,
    /// The certificate itself does not verify.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
}

/// Checks that `header` is final, from its finalization certificate alone.
pub fn verify_finalized(
    chain_id: &ChainId,
    validators: &ValidatorSet,
    header: &Proposal,
    certificate: &Certificate,
) -> Result<(), SyncError> {
    if certificate.kind() != VoteKind::Finalize {
        return Err(SyncError::NotAFinalization {
            found: certificate.kind(),
        });
    }
    if certificate.block_id() != Some(header.id())
        || certificate.view() != header.view
        || certificate.epoch != header.epoch
    {
        return Err(SyncError::WrongBlock { view: header.view });
    }
    certificate.verify(chain_id, validators)?;
    let key = validators
        .public_key(header.proposer)
        .ok_or(SyncError::InvalidReveal { view: header.view })?;
    key.verify(
        &beacon_message(chain_id, header.epoch, header.view),
        &header.reveal,
    )
    .map_err(|_| SyncError::InvalidReveal { view: header.view })
}

/// Checks that `headers` (ascending) link by parent id and height and that
/// the last is final by `certificate`: then all of them are final.
pub fn verify_chain(
    chain_id: &ChainId,
    validators: &ValidatorSet,
    headers: &[Proposal],
    certificate: &Certificate,
) -> Result<(), SyncError> {
    let last = headers.last().ok_or(SyncError::Empty)?;
    verify_finalized(chain_id, validators, last, certificate)?;
    for pair in headers.windows(2) {
        if let [parent, child] = pair {
            if child.parent != parent.id()
                || child.parent_view != parent.view
                || parent.height.checked_add(1) != Some(child.height)
            {
                return Err(SyncError::Broken {
                    height: parent.height,
                });
            }
        }
    }
    Ok(())
}
