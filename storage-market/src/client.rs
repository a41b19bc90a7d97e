//! The client's side: choosing providers, placing fragments with spares,
//! fetching them back verified, and repairing a lost one.

pub mod assemble;
pub mod get;
pub mod placement;
pub mod put;
pub mod range;
pub mod repair;
pub mod select;
pub mod source;
