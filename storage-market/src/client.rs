//! The client's side: choosing providers, placing fragments with spares,
//! and fetching them back verified.

pub mod assemble;
pub mod get;
pub mod placement;
pub mod put;
pub mod select;
pub mod source;
