//! The sherd node: tokio, libp2p, parity-db and the HTTP API, wiring the pure crates together.
//!
//! A dev chain ([`run_dev`]) or a networked node ([`run_home`]): parity-db
//! storage ([`store`]), the consensus engine driven by an actor
//! ([`actor`], with block sync), block building and re-execution
//! ([`exec`]), the mempool ([`mempool`]), the HTTP JSON API ([`api`],
//! contract in the crate README; its limits in [`limits`]) and its Prometheus metrics ([`metrics`]), libp2p in one task ([`net`]) with its
//! wire formats ([`gossip`]), node homes and testnets ([`home`]), and the
//! storage provider ([`provider`]) and repair worker ([`repairer`]). Test
//! builds add fault injection ([`hooks`]).
//!
//! Crates: `node ──► ledger, consensus, wallet` — key files and secret
//! writes come from [`sherd_wallet::keyfile`] (the wallet owns keys and
//! their files; DESIGN §2 drew no `node ──► wallet` edge).

pub mod actor;
pub mod admission;
pub mod api;
pub mod browse;
pub mod dev;
mod direct;
mod duties;
pub mod exec;
pub mod gossip;
pub mod home;
pub mod hooks;
pub mod indexer;
pub mod journal;
pub mod limits;
pub mod mempool;
pub mod metrics;
pub mod net;
mod p2p;
pub mod provider;
pub mod relay;
pub mod repairer;
mod server;
pub mod shared;
pub mod store;

mod node;

pub use node::{run_dev, run_home, DevConfig, DevNode};

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
