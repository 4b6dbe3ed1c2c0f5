//! The shared history's schema and its migrations: [`migrate`] brings a database to
//! [`VERSION`], applying each missing step in one transaction under an advisory lock, so
//! several nodes starting at once apply it once. `badclients history migrate` runs it, and
//! so does the daemon before it ships its first batch.

use tokio_postgres::Client;

use super::PgHistoryError;

/// The steps, in order: step `i` brings the schema to version `i + 1`.
const MIGRATIONS: &[&str] = &[include_str!("schema.sql")];

/// The schema version this badclients writes and reads.
pub const VERSION: i32 = MIGRATIONS.len() as i32;

/// The advisory lock key migrations hold (any fixed number no other user of the database
/// takes; "badclien" in ASCII).
const MIGRATION_LOCK: i64 = 0x6261_6463_6c69_656e;

/// What [`migrate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// The version found (0: an empty database).
    pub from: i32,
    /// The version now.
    pub to: i32,
}

/// Brings the database to [`VERSION`]; a database at a newer version is refused
/// ([`PgHistoryError::SchemaTooNew`]), so an old node never writes what it does not know.
pub async fn migrate(client: &mut Client) -> Result<Migrated, PgHistoryError> {
    let tx = client
        .transaction()
        .await
        .map_err(PgHistoryError::of("migrate"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(PgHistoryError::of("migrate"))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS badclients_schema (
             version    integer     PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(PgHistoryError::of("migrate"))?;
    let row = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM badclients_schema",
            &[],
        )
        .await
        .map_err(PgHistoryError::of("migrate"))?;
    let from: i32 = row.get(0);
    if from > VERSION {
        return Err(PgHistoryError::SchemaTooNew {
            found: from,
            known: VERSION,
        });
    }
    for (done, step) in (from..VERSION).zip(MIGRATIONS.iter().skip(from as usize)) {
        tx.batch_execute(step)
            .await
            .map_err(PgHistoryError::of("migrate"))?;
        tx.execute(
            "INSERT INTO badclients_schema (version) VALUES ($1)",
            &[&(done + 1)],
        )
        .await
        .map_err(PgHistoryError::of("migrate"))?;
    }
    tx.commit().await.map_err(PgHistoryError::of("migrate"))?;
    Ok(Migrated { from, to: VERSION })
}
