//! [`PgShipper`]: the daemon's side of the shared history — one connection, re-made with
//! back-off when it fails, the schema migrated before the first batch, every batch staged
//! with a binary `COPY` into the session's temporary `badclients_incoming` and written by
//! `badclients_ship_incoming` in one transaction (a batch PostgreSQL already has is
//! skipped), the once-a-minute prune (one node at a time) and forgetting a user.
//!
//! Every call is bounded by `[history] postgres_timeout_ms` (connecting, and then the
//! statements; a batch gets it once more for each 10,000 decisions it holds); a failed or unanswered call drops the connection, so PostgreSQL rolls back
//! what was under way, and the batch waits in the writer's journal.

use std::time::{Duration, Instant};

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;

use super::{bounded, connect, schema, PgHistoryError};
use crate::history::writer::{NotSent, ShipFuture, Shipper};
use crate::history::{now_us, Record};
use crate::redb_guard::Backoff;

/// The advisory lock the prune holds ("bcprune!" in ASCII): one node prunes at a time.
const PRUNE_LOCK: i64 = 0x6263_7072_756e_6521;

const DAY_US: i64 = 86_400_000_000;

/// A batch may take the timeout once for each this many decisions (and once more).
const ROWS_PER_TIMEOUT: usize = 10_000;

/// The columns a batch is copied into, in order, with their types.
const COPY: &str = "COPY badclients_incoming (time_us, node, batch, user_name, service, ip, host, \
     asn, as_cc, as_desc, net_name, net_cc, entities, cloud, geo_cc, outcome, matched, \
     matched_entry, lookup_errors) FROM STDIN (FORMAT binary)";
const TYPES: [Type; 19] = [
    Type::INT8,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::INET,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT,
    Type::INT2,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT_ARRAY,
];

/// The connection and what is known about it.
#[derive(Default)]
struct Conn {
    client: Option<Client>,
    /// The schema was brought up to date (once per process).
    migrated: bool,
    /// No new connection before this (after a failed one).
    reconnect_at: Option<Instant>,
    backoff: Backoff,
}

/// Ships a node's batches to PostgreSQL (see the module).
pub struct PgShipper {
    url: String,
    node: String,
    timeout: Duration,
    conn: tokio::sync::Mutex<Conn>,
}

impl std::fmt::Debug for PgShipper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgShipper")
            .field("url", &super::redacted(&self.url))
            .field("node", &self.node)
            .finish()
    }
}

impl PgShipper {
    /// A shipper for node `node` to the database at `url`; connects on first use.
    pub fn new(url: &str, node: &str, timeout: Duration) -> PgShipper {
        PgShipper {
            url: url.to_string(),
            node: node.to_string(),
            timeout,
            conn: tokio::sync::Mutex::new(Conn::default()),
        }
    }

    /// The open connection, made (and the schema migrated, and the staging table created)
    /// when there is none and the back-off allows.
    async fn client<'c>(&self, conn: &'c mut Conn) -> Result<&'c mut Client, PgHistoryError> {
        if conn.client.as_ref().is_some_and(Client::is_closed) {
            conn.client = None;
        }
        if conn.client.is_none() {
            if let Some(at) = conn.reconnect_at {
                let now = Instant::now();
                if now < at {
                    return Err(PgHistoryError::Backoff { wait: at - now });
                }
            }
            match self.open(conn.migrated).await {
                Ok(client) => {
                    conn.client = Some(client);
                    conn.migrated = true;
                    conn.reconnect_at = None;
                    conn.backoff.reset();
                }
                Err(err) => {
                    conn.reconnect_at = Some(Instant::now() + conn.backoff.next_wait());
                    return Err(err);
                }
            }
        }
        conn.client.as_mut().ok_or(PgHistoryError::Timeout {
            op: "connect",
            after: self.timeout,
        })
    }

    async fn open(&self, migrated: bool) -> Result<Client, PgHistoryError> {
        let mut client = connect(&self.url, self.timeout).await?;
        let prepare = async {
            if !migrated {
                let done = schema::migrate(&mut client).await?;
                if done.from != done.to {
                    tracing::info!(
                        from = done.from,
                        to = done.to,
                        "shared history schema migrated"
                    );
                }
            }
            client
                .batch_execute(
                    "SET client_min_messages = warning; \
                     CREATE TEMP TABLE IF NOT EXISTS badclients_incoming \
                     (LIKE badclients_decisions) ON COMMIT DELETE ROWS",
                )
                .await
                .map_err(PgHistoryError::of("prepare"))
        };
        bounded(self.timeout, "prepare", prepare).await?;
        Ok(client)
    }
}

/// `result` of a call on `conn`'s connection: a failure drops the connection (the server
/// rolls back what was under way).
fn settle<T>(conn: &mut Conn, result: Result<T, PgHistoryError>) -> Result<T, PgHistoryError> {
    if result.is_err() {
        conn.client = None;
    }
    result
}

/// Ships one batch in one transaction: `true` when written, `false` when the database had it.
async fn ship_batch(
    client: &mut Client,
    node: &str,
    batch: i64,
    records: &[Record],
) -> Result<bool, PgHistoryError> {
    let of = PgHistoryError::of("ship");
    let tx = client.transaction().await.map_err(of)?;
    let sink = tx.copy_in(COPY).await.map_err(PgHistoryError::of("ship"))?;
    let writer = BinaryCopyInWriter::new(sink, &TYPES);
    let mut writer = std::pin::pin!(writer);
    for r in records {
        let time = r.time_us.unwrap_or_else(now_us) as i64;
        let asn = r.asn.map(i64::from);
        let outcome = i16::from(r.outcome.code());
        let row: [&(dyn ToSql + Sync); 19] = [
            &time,
            &node,
            &batch,
            &r.user,
            &r.service,
            &r.ip,
            &r.host,
            &asn,
            &r.as_cc,
            &r.as_desc,
            &r.net_name,
            &r.net_cc,
            &r.entities,
            &r.cloud,
            &r.geo_cc,
            &outcome,
            &r.matched,
            &r.matched_entry,
            &r.lookup_errors,
        ];
        writer
            .as_mut()
            .write(&row)
            .await
            .map_err(PgHistoryError::of("ship"))?;
    }
    writer.finish().await.map_err(PgHistoryError::of("ship"))?;
    let row = tx
        .query_one("SELECT badclients_ship_incoming($1, $2)", &[&node, &batch])
        .await
        .map_err(PgHistoryError::of("ship"))?;
    let inserted: i64 = row.get(0);
    tx.commit().await.map_err(PgHistoryError::of("commit"))?;
    Ok(inserted >= 0)
}

/// Makes today's and tomorrow's partitions, then (when no other node holds the prune lock)
/// drops the days older than `cutoff_us` and forgets batches shipped before `batches_before_us`.
async fn prune(
    client: &mut Client,
    cutoff_us: i64,
    batches_before_us: i64,
) -> Result<u64, PgHistoryError> {
    let of = || PgHistoryError::of("prune");
    let today = (now_us() as i64).div_euclid(DAY_US) * DAY_US;
    for day in [today, today + DAY_US] {
        client
            .execute("SELECT badclients_ensure_day($1)", &[&day])
            .await
            .map_err(of())?;
    }
    let tx = client.transaction().await.map_err(of())?;
    let locked: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&PRUNE_LOCK])
        .await
        .map_err(of())?
        .get(0);
    if !locked {
        return Ok(0);
    }
    let dropped: i32 = tx
        .query_one(
            "SELECT badclients_prune($1, $2)",
            &[&cutoff_us, &batches_before_us],
        )
        .await
        .map_err(of())?
        .get(0);
    tx.commit().await.map_err(of())?;
    Ok(u64::try_from(dropped).unwrap_or(0))
}

/// How long `badclients_batches` remembers a batch: twice the retention and a week more, so
/// a node that ships a batch again late (a journal kept over a long outage) is still
/// deduplicated.
pub fn batches_kept(retention: Duration) -> Duration {
    retention * 2 + Duration::from_secs(7 * 86_400)
}

impl Shipper for PgShipper {
    fn prepare(&self) -> ShipFuture<'_, ()> {
        Box::pin(async move {
            let mut conn = self.conn.lock().await;
            self.client(&mut conn).await?;
            Ok(())
        })
    }

    fn ship<'a>(&'a self, batch: u64, records: &'a [Record]) -> ShipFuture<'a, bool> {
        Box::pin(async move {
            let batch = i64::try_from(batch).map_err(|_| PgHistoryError::BatchNumber(batch))?;
            let mut conn = self.conn.lock().await;
            let client = match self.client(&mut conn).await {
                Ok(client) => client,
                Err(err) => return Err(NotSent(err.into()).into()),
            };
            // A full segment is a large batch: each 10,000 decisions get the timeout again.
            let rows = u32::try_from(records.len() / ROWS_PER_TIMEOUT).unwrap_or(u32::MAX);
            let shipped = bounded(
                self.timeout.saturating_mul(rows.saturating_add(1)),
                "ship",
                ship_batch(client, &self.node, batch, records),
            )
            .await;
            match settle(&mut conn, shipped) {
                Ok(written) => Ok(written),
                // Only an unanswered commit, or a timeout, may have written the batch.
                Err(
                    err @ (PgHistoryError::Timeout { .. }
                    | PgHistoryError::Postgres { op: "commit", .. }),
                ) => Err(err.into()),
                Err(err) => Err(NotSent(err.into()).into()),
            }
        })
    }

    fn prune(&self, retention: Duration) -> ShipFuture<'_, u64> {
        Box::pin(async move {
            let now = now_us();
            let cutoff = now.saturating_sub(retention.as_micros() as u64) as i64;
            let batches = now.saturating_sub(batches_kept(retention).as_micros() as u64) as i64;
            let mut conn = self.conn.lock().await;
            let client = self.client(&mut conn).await?;
            let pruned = bounded(self.timeout, "prune", prune(client, cutoff, batches)).await;
            Ok(settle(&mut conn, pruned)?)
        })
    }

    fn forget<'a>(&'a self, user: &'a str) -> ShipFuture<'a, u64> {
        Box::pin(async move {
            let mut conn = self.conn.lock().await;
            let client = self.client(&mut conn).await?;
            let forgotten = bounded(self.timeout, "forget", async {
                let row = client
                    .query_one("SELECT badclients_forget($1)", &[&user])
                    .await
                    .map_err(PgHistoryError::of("forget"))?;
                Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
            })
            .await;
            Ok(settle(&mut conn, forgotten)?)
        })
    }
}
