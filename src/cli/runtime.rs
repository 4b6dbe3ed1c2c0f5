//! The async runtime the commands that talk to the network or the daemon run on.

use anyhow::{Context, Result};

/// A multi-threaded tokio runtime with I/O and timers.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
