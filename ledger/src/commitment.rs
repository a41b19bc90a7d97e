//! The state commitment: an authenticated map from state keys to values
//! whose root is updated at a cost proportional to what changed.
