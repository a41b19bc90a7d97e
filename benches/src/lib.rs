//! The benchmark dashboard: runs sherd's benchmarks, keeps their history, and renders each figure against its target and raw-library baseline.
//!
//! `benches/run.sh` runs every crate's criterion benchmarks and `sherd bench
//! load`/`storage` against a local testnet, then appends one [`Record`] per
//! run to `benches/results/history.jsonl`. The `sherd-bench-dashboard`
//! binary renders that history, through the figure [`Catalogue`]
//! (`benches/figures.toml`), into one self-contained HTML page and into the
//! figures tables of BENCHMARKS.md.

pub mod catalogue;
pub mod criterion;
pub mod error;
pub mod evaluate;
pub mod format;
pub mod html;
pub mod markdown;
pub mod record;
pub mod svg;

pub use catalogue::Catalogue;
pub use error::{Error, Result};
pub use record::{Mode, Record};
