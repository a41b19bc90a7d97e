//! End-to-end tests of the `sherd` binary.

mod cluster;
mod explorer;
mod fragments;
mod node;
mod storage;
mod testnet;
mod wallet;
