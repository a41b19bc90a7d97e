//! The client's seam to the network: ask a provider a deal question, open
//! a fragment stream to it. The node implements it on libp2p (a light peer
//! that dials providers directly); tests implement it in memory, with
//! providers that refuse, stall, vanish or lie.
//!
//! Time limits are the transport's business: a deal request that takes too
//! long, or a stream that makes no progress, ends in
//! [`TransportError::Timeout`].

use futures::{AsyncRead, AsyncWrite};
use sherd_ledger::Address;

use crate::wire::{DealRequest, DealResponse};

/// Where a provider is reached: from its `RegisterEndpoint` on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its account (its acceptance signatures verify under this key).
    pub address: Address,
    /// Its libp2p peer id, binary.
    pub peer_id: Vec<u8>,
    /// Its multiaddrs, binary.
    pub multiaddrs: Vec<Vec<u8>>,
}

/// Why the transport could not carry a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The provider could not be reached.
    #[error("cannot reach the provider: {0}")]
    Unreachable(String),
    /// It did not answer in time.
    #[error("the provider did not answer in time")]
    Timeout,
    /// The connection or stream broke.
    #[error("the connection failed: {0}")]
    Broken(String),
    /// It answered bytes that are not a message.
    #[error("the provider answered garbage: {0}")]
    Garbage(String),
}

/// A bidirectional byte stream to a provider.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The client's network.
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    /// The stream type.
    type Stream: Stream;

    /// Sends a deal request and waits for the answer.
    async fn deal(
        &self,
        provider: &Endpoint,
        request: DealRequest,
    ) -> Result<DealResponse, TransportError>;

    /// Opens a `/sherd/fragment/1` stream.
    async fn open(&self, provider: &Endpoint) -> Result<Self::Stream, TransportError>;
}
