//! End-to-end tests of the `sherd` binary.

mod fragments;
mod node;
mod testnet;
mod wallet;
