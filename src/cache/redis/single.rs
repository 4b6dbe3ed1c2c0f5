//! One Redis at a URL: a [`ConnectionManager`], which reconnects by itself once Redis is
//! back. TLS (`rediss://`) verifies the server against the system's CA certificates or the
//! configured CA file; an ACL user and password come in the URL.

use std::path::PathBuf;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::Client;

use super::{bounded, target, RedisTierError};

/// Reconnection attempts per outage before an operation sees the failure (each failed
/// operation after that starts a new round).
const RECONNECT_RETRIES: usize = 6;

/// The longest pause between two reconnection attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// Connects to the Redis at `url`, within `timeout`.
pub(super) async fn connect(
    url: &str,
    tls_ca: Option<&PathBuf>,
    timeout: Duration,
) -> Result<ConnectionManager, RedisTierError> {
    let client = match target::certificates(tls_ca)? {
        Some(certs) => Client::build_with_tls(url, certs),
        None => Client::open(url),
    }
    .map_err(RedisTierError::InvalidUrl)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(RECONNECT_RETRIES)
        .set_max_delay(MAX_RECONNECT_DELAY);
    let connecting = ConnectionManager::new_with_config(client, config);
    bounded("connect", timeout, connecting).await
}
