//! Stake-weighted Simplex consensus with BLS12-381 aggregate certificates, as a sans-IO state machine.
