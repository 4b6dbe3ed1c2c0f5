//! A primary found through Redis Sentinel, followed across failovers.
//!
//! The sentinels are asked for the primary of `master` (the redis crate's `SentinelClient`
//! asks up to three at once and checks with `ROLE` that the node it names is a primary);
//! operations then share one multiplexed connection to it. Any failure of an operation
//! (refused or reset connection, the timeout, `READONLY` from a primary demoted to a
//! replica) drops that connection and starts a new question to the sentinels, so the next
//! operations go to the promoted replica.
//!
//! Bounds: every operation, the wait for a primary included, ends within the tier's timeout.
//! The question to the sentinels runs in a task of its own (bounded by
//! [`RESOLVE_TIMEOUTS`] timeouts) and only one at a time: operations that find no primary
//! wait for the running question (up to their timeout) instead of asking again, and one that
//! failed is reported to the operations waiting for it, which then fail at once rather than
//! ask again in a loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionLike, MultiplexedConnection};
use ::redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use ::redis::{AsyncConnectionConfig, Cmd, RedisError, TlsMode, Value};
use tokio::sync::{watch, Mutex};
use tokio::time::{timeout_at, Instant};

use super::target::{self, RedisAccess};
use super::RedisTierError;
use crate::warn_limit::WarnLimit;

/// A question to the sentinels (which includes connecting to the primary they name) may take
/// this many operation timeouts.
const RESOLVE_TIMEOUTS: u32 = 3;

/// Repeated "no primary" warnings are logged at most this often.
const WARN_INTERVAL: Duration = Duration::from_secs(60);

/// What is known about the primary.
#[derive(Clone)]
enum State {
    /// Nothing yet, or the last connection failed: ask the sentinels.
    Unknown,
    /// The primary and a connection to it; `generation` tells connections apart.
    Known {
        generation: u64,
        connection: MultiplexedConnection,
    },
    /// The last question to the sentinels failed with this.
    Failed(String),
}

/// The sentinel set and the primary it names.
pub(super) struct SentinelBackend {
    /// Asks the sentinels; only the resolving task uses it.
    client: Mutex<SentinelClient>,
    master: String,
    timeout: Duration,
    state: watch::Sender<State>,
    /// Whether a question to the sentinels is running.
    resolving: AtomicBool,
    warn: WarnLimit,
}

impl std::fmt::Debug for SentinelBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelBackend")
            .field("master", &self.master)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SentinelBackend {
    /// Asks the sentinels for the primary of `master` and connects to it, within `timeout`.
    pub(super) async fn connect(
        sentinels: &[String],
        master: &str,
        access: &RedisAccess,
        timeout: Duration,
    ) -> Result<Arc<SentinelBackend>, RedisTierError> {
        let certs = target::certificates(access.tls_ca.as_ref())?;
        let addrs = sentinels
            .iter()
            .map(|s| target::node_addr(s, access.tls))
            .collect::<Result<Vec<_>, _>>()?;
        let mut builder = SentinelClientBuilder::new(addrs, master, SentinelServerType::Master)
            .map_err(RedisTierError::InvalidUrl)?
            .set_client_to_redis_db(access.db);
        if let Some(username) = &access.username {
            builder = builder.set_client_to_redis_username(username);
        }
        if let Some(password) = &access.password {
            builder = builder.set_client_to_redis_password(password);
        }
        if let Some(username) = &access.sentinel_username {
            builder = builder.set_client_to_sentinel_username(username);
        }
        if let Some(password) = &access.sentinel_password {
            builder = builder.set_client_to_sentinel_password(password);
        }
        if access.tls {
            builder = builder
                .set_client_to_redis_tls_mode(TlsMode::Secure)
                .set_client_to_sentinel_tls_mode(TlsMode::Secure);
            if let Some(certs) = certs {
                builder = builder
                    .set_client_to_redis_certificates(certs.clone())
                    .set_client_to_sentinel_certificates(certs);
            }
        }
        let client = builder.build().map_err(RedisTierError::InvalidUrl)?;
        let backend = Arc::new(SentinelBackend {
            client: Mutex::new(client),
            master: master.to_string(),
            timeout,
            state: watch::Sender::new(State::Unknown),
            resolving: AtomicBool::new(false),
            warn: WarnLimit::new(WARN_INTERVAL),
        });
        let deadline = Instant::now() + timeout;
        match timeout_at(deadline, backend.primary()).await {
            Ok(Ok(_)) => Ok(backend),
            Ok(Err(message)) => Err(RedisTierError::NoPrimary(message)),
            Err(_) => Err(RedisTierError::Timeout {
                op: "connect",
                after: timeout,
            }),
        }
    }

    /// Sends `cmd` to the primary; ends within the timeout.
    pub(super) async fn query(
        self: &Arc<Self>,
        op: &'static str,
        cmd: &Cmd,
    ) -> Result<Value, RedisTierError> {
        let deadline = Instant::now() + self.timeout;
        let timed_out = RedisTierError::Timeout {
            op,
            after: self.timeout,
        };
        let (generation, mut connection) = match timeout_at(deadline, self.primary()).await {
            Ok(Ok(primary)) => primary,
            Ok(Err(message)) => return Err(RedisTierError::NoPrimary(message)),
            Err(_) => return Err(timed_out),
        };
        match timeout_at(deadline, connection.req_packed_command(cmd)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => {
                self.lost(generation);
                Err(RedisTierError::Redis { op, source })
            }
            Err(_) => {
                self.lost(generation);
                Err(timed_out)
            }
        }
    }

    /// The primary's connection: the known one, or the answer of the running (or a new)
    /// question to the sentinels. Not bounded here: callers bound it.
    async fn primary(self: &Arc<Self>) -> Result<(u64, MultiplexedConnection), String> {
        let mut changes = self.state.subscribe();
        if let State::Known {
            generation,
            connection,
        } = &*changes.borrow_and_update()
        {
            return Ok((*generation, connection.clone()));
        }
        self.start_resolving();
        // The sender lives in `self`, so `changed` only ends with a new state.
        let _ = changes.changed().await;
        let state = changes.borrow_and_update().clone();
        match state {
            State::Known {
                generation,
                connection,
            } => Ok((generation, connection)),
            State::Failed(message) => Err(message),
            State::Unknown => Err("the primary was lost again".to_string()),
        }
    }

    /// Forgets the connection of `generation` (unless a newer one replaced it already) and
    /// asks the sentinels again.
    fn lost(self: &Arc<Self>, generation: u64) {
        let forgot = self.state.send_if_modified(|state| match state {
            State::Known { generation: g, .. } if *g == generation => {
                *state = State::Unknown;
                true
            }
            _ => false,
        });
        if forgot {
            self.start_resolving();
        }
    }

    /// Starts a question to the sentinels unless one is running.
    fn start_resolving(self: &Arc<Self>) {
        if self.resolving.swap(true, Ordering::AcqRel) {
            return;
        }
        let backend = Arc::clone(self);
        tokio::spawn(async move {
            let bound = backend.timeout * RESOLVE_TIMEOUTS;
            let answer = match tokio::time::timeout(bound, backend.resolve()).await {
                Ok(Ok(connection)) => Ok(connection),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("the sentinels gave no primary within {bound:?}")),
            };
            let generation = next_generation();
            let state = match answer {
                Ok(connection) => State::Known {
                    generation,
                    connection,
                },
                Err(message) => {
                    if let Some(times) = backend.warn.hit() {
                        tracing::warn!(
                            master = %backend.master,
                            error = %message,
                            times,
                            "Redis Sentinel names no reachable primary"
                        );
                    }
                    State::Failed(message)
                }
            };
            backend.resolving.store(false, Ordering::Release);
            backend.state.send_replace(state);
        });
    }

    /// Asks the sentinels and connects to the primary they name.
    async fn resolve(&self) -> Result<MultiplexedConnection, RedisError> {
        let client = self.client.lock().await.async_get_client().await?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }
}

/// A number never handed out before (connections of every backend told apart).
fn next_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
