//! Integration tests of sherd-consensus, linked as one binary.

mod bls_vectors;
mod sim;
mod wire;
