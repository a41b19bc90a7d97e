//! The provider's side: the deal policy, the service and the prover.

pub mod policy;
pub mod prover;
pub mod service;

pub use policy::{ChainFacts, DealPolicy, PolicyConfig};
pub use prover::{Challenge, Earnings, Prover, ProverStats};
pub use service::{Maintenance, Provider, ProviderChain, Served};
