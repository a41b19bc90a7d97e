//! The sherd node: tokio, libp2p, parity-db and the HTTP API, wiring the pure crates together.
