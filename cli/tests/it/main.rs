//! End-to-end tests of the `sherd` binary.

mod cluster;
mod crash;
mod explorer;
mod fragments;
mod netns;
mod node;
mod storage;
mod testnet;
mod wallet;
