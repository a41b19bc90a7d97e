//! Integration tests of the node: the parity-db store and a dev chain
//! driven through its HTTP API, and the API's limits.

mod browse;
mod dev_chain;
mod http;
mod journal;
mod limits;
mod market;
mod metrics;
mod openapi;
mod provider;
mod rogue;
mod store;

use std::net::TcpListener;

/// The first of `count` consecutive loopback ports that are free now.
pub fn free_range(count: u16) -> u16 {
    for _ in 0..200 {
        let base = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if base > u16::MAX - count {
            continue;
        }
        let held: Vec<_> = (0..count)
            .map_while(|i| TcpListener::bind(("127.0.0.1", base + i)).ok())
            .collect();
        if held.len() == usize::from(count) {
            return base;
        }
    }
    panic!("no free ports");
}

/// Two disjoint runs of `count` free ports, for the libp2p and the API
/// ports of `count` nodes: one run of `2 · count`, split. (Two calls of
/// [`free_range`] can answer overlapping runs: the ports are checked, then
/// released.)
pub fn free_ranges(count: u16) -> (u16, u16) {
    let base = free_range(count.saturating_mul(2));
    (base, base + count)
}
