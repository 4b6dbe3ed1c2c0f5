//! The crate's error type.
//!
//! This module owns [`Error`], returned by the fallible helpers (fixtures by name, world specs).
//! Starting a server returns `std::io::Error`, as binding sockets does.

use std::path::PathBuf;

/// What can go wrong in this crate's helpers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No fixture has this name.
    #[error("no RDAP fixture named {0:?}")]
    UnknownFixture(String),
    /// A world spec file could not be read.
    #[error("cannot read spec {path}: {source}")]
    ReadSpec {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// JSON that does not parse, or does not fit the expected shape.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
}
