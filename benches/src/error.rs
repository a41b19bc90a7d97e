//! What can go wrong reading the dashboard's inputs: every error names the
//! file, and the line where there is one.

use std::path::PathBuf;

/// An input the dashboard cannot use.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A JSON file (criterion's estimates, a `sherd bench` report) is not
    /// what it should be.
    #[error("{path}: {message}")]
    Json { path: PathBuf, message: String },
    /// A line of the history file is not a record.
    #[error("{path}:{line}: {message}")]
    HistoryLine {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// The figure catalogue does not parse, or a figure in it is incomplete.
    #[error("{path}: {message}")]
    Catalogue { path: PathBuf, message: String },
    /// BENCHMARKS.md lacks the markers between which the tables go.
    #[error("{path}: no `{marker}` line; put the begin and end markers where the tables go")]
    Marker { path: PathBuf, marker: &'static str },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn json(path: impl Into<PathBuf>, message: impl ToString) -> Self {
        Self::Json {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

/// The result of reading the dashboard's inputs.
pub type Result<T> = std::result::Result<T, Error>;
