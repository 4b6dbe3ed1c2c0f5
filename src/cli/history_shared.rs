//! The shared history (`[history] backend = "postgres"`) from the command line:
//! `badclients history migrate` (the schema brought up to date, as the daemon does at start)
//! and `badclients history forget` with PostgreSQL (through the daemon while it runs, else
//! here: the journal left on disk shipped first, then the user's rows deleted).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

use badclients::config::{Config, HistoryBackend};
use badclients::history::store::Forgotten;
use badclients::pghistory::{self, schema};
use badclients::server::instance_lock::{InstanceLock, LockError};

use super::runtime::runtime;

/// The PostgreSQL URL and timeout of a configuration with `backend = "postgres"`.
fn shared(config: &Config) -> Result<(&str, Duration)> {
    match (config.history.backend, &config.history.postgres_url) {
        (HistoryBackend::Postgres, Some(url)) => Ok((
            url,
            Duration::from_millis(config.history.postgres_timeout_ms.max(1)),
        )),
        _ => bail!(
            "the decision history is not shared: set [history] backend = \"postgres\" and \
             postgres_url"
        ),
    }
}

/// `badclients history migrate`.
pub(super) fn migrate(config: Option<&Path>) -> Result<ExitCode> {
    let loaded = Config::load(config)?;
    let (url, timeout) = shared(&loaded.config)?;
    let shown = pghistory::redacted(url);
    let migrated = runtime()?.block_on(async {
        let mut client = pghistory::connect(url, timeout).await?;
        schema::migrate(&mut client).await
    });
    let migrated = migrated.with_context(|| format!("shared history {shown}"))?;
    println!(
        "shared history schema at {shown}: version {} -> {}{}",
        migrated.from,
        migrated.to,
        if migrated.from == migrated.to {
            " (up to date)"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// `badclients history forget` with the shared history; `user` is escaped.
pub(super) fn forget(config: &Config, user: &str) -> Result<ExitCode> {
    let (url, _) = shared(config)?;
    let shown = pghistory::redacted(url);
    let (forgotten, how) = match InstanceLock::take(config) {
        Ok(_lock) => {
            // No daemon on this state: ship what its journal holds (so none of the user's
            // decisions arrives after), then delete.
            let forgotten = runtime()?.block_on(async {
                let Some((writer, warnings)) = badclients::app::history_writer(config)? else {
                    bail!("[history] enabled = false: there is no history to forget from");
                };
                for w in warnings {
                    eprintln!("badclients: {w}");
                }
                writer
                    .close()
                    .await
                    .context("shipping the journal left on disk")?;
                Ok(writer.forget(user).await?)
            })?;
            (forgotten, "from")
        }
        Err(LockError::Held { .. }) => {
            let answer = super::daemon::request(
                config,
                super::daemon::Method::Post,
                "/v1/history/forget",
                &[("user", user.to_string())],
                "the shared history",
            )?;
            let forgotten: Forgotten = serde_json::from_value(answer)
                .context("the daemon's answer to forget has an unknown shape")?;
            (forgotten, "by the daemon from")
        }
    };
    println!(
        "removed {} record(s) of user {user} {how} the shared history {shown}",
        forgotten.records
    );
    Ok(ExitCode::SUCCESS)
}
