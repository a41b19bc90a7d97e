//! Integration tests of the node: the parity-db store and a dev chain
//! driven through its HTTP API.

mod dev_chain;
mod http;
mod journal;
mod market;
mod provider;
mod rogue;
mod store;
