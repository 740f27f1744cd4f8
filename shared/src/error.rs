//! The typed error of the library crates. Every variant names the thing that was wrong (a file, a
//! config key, a position in an arc) and what was expected, so the CLI can print it as it is.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A data file exists but its contents are not what its format promises.
    #[error("{path}: {msg}")]
    Format { path: PathBuf, msg: String },
    /// A configuration value is missing, unknown, ill-typed or out of range.
    #[error("config {origin}: {msg}")]
    Config { origin: String, msg: String },
    /// An architecture text does not fit the search space.
    #[error("architecture: {0}")]
    Arch(String),
    /// A name (a strategy, a zero-cost proxy, a search space) that is none of the known ones; the
    /// message lists them.
    #[error("{0}")]
    Name(String),
    /// A dataset specification or split request cannot be satisfied.
    #[error("data: {0}")]
    Data(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// Writing CSV failed.
    #[error("csv {path}: {source}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { action, path: path.into(), source }
    }
    pub fn format(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Format { path: path.into(), msg: msg.into() }
    }
}
