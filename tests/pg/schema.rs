//! The schema: created by `migrate`, applied once however many nodes start together, day
//! partitions made on demand.

use std::time::Duration;

use badclients::pghistory::{connect, schema};
use testkit::postgres::PgServer;

const TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn migrate_creates_the_schema_once_and_is_idempotent() {
    let pg = PgServer::start();
    let mut client = connect(&pg.url(), TIMEOUT).await.expect("connect");
    let first = schema::migrate(&mut client).await.expect("migrate");
    assert_eq!((first.from, first.to), (0, schema::VERSION));
    let again = schema::migrate(&mut client).await.expect("migrate again");
    assert_eq!((again.from, again.to), (schema::VERSION, schema::VERSION));
    let tables = pg.psql(
        "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables \
         WHERE tablename LIKE 'badclients%'",
    );
    assert_eq!(
        tables,
        "badclients_batches,badclients_daily,badclients_decisions,badclients_nodes,badclients_schema"
    );
    assert_eq!(pg.psql("SELECT count(*) FROM badclients_schema"), "1");
}

#[tokio::test]
async fn nodes_migrating_at_once_apply_each_step_once() {
    let pg = PgServer::start();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = pg.socket_url();
        tasks.push(tokio::spawn(async move {
            let mut client = connect(&url, TIMEOUT).await.expect("connect by socket");
            schema::migrate(&mut client).await.expect("migrate")
        }));
    }
    let mut from_empty = 0;
    for task in tasks {
        if task.await.expect("task").from == 0 {
            from_empty += 1;
        }
    }
    assert_eq!(from_empty, 1, "exactly one node found the database empty");
    assert_eq!(
        pg.psql("SELECT count(*) FROM badclients_schema"),
        schema::VERSION.to_string()
    );
}

#[tokio::test]
async fn a_day_partition_is_made_once_and_holds_that_day() {
    let pg = PgServer::start();
    let mut client = connect(&pg.url(), TIMEOUT).await.expect("connect");
    schema::migrate(&mut client).await.expect("migrate");
    // 2026-12-03T00:00:00Z.
    let day: i64 = 1_796_256_000_000_000;
    for _ in 0..2 {
        client
            .execute("SELECT badclients_ensure_day($1)", &[&day])
            .await
            .expect("ensure_day");
    }
    assert_eq!(
        pg.psql(
            "SELECT string_agg(c.relname, ',') FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'badclients_decisions'::regclass"
        ),
        "badclients_decisions_20261203"
    );
    let insert = |t: i64| {
        format!(
            "INSERT INTO badclients_decisions (time_us, node, batch, user_name, service, ip, \
             entities, cloud, outcome, lookup_errors) \
             VALUES ({t}, 'a', 1, 'u', 'imap', '192.0.2.1', '{{}}', '{{}}', 0, '{{}}')"
        )
    };
    pg.psql(&insert(day + 86_399_999_999));
    let next_day = pg
        .try_psql(&insert(day + 86_400_000_000))
        .expect_err("a row of a day without a partition is refused");
    assert!(
        next_day.contains("no partition"),
        "a row of the next day has no partition yet: {next_day}"
    );
}

#[tokio::test]
async fn a_batch_ships_once_and_folds_into_the_daily_rows() {
    let pg = PgServer::start();
    let mut client = connect(&pg.url(), TIMEOUT).await.expect("connect");
    schema::migrate(&mut client).await.expect("migrate");
    let day: i64 = 1_796_256_000_000_000;
    let ship = |batch: i64, times: &[i64]| {
        let rows: Vec<String> = times
            .iter()
            .map(|t| {
                format!(
                    "({t}, 'a', {batch}, 'u', 'imap', '192.0.2.1', NULL, 64496, NULL, NULL, \
                     NULL, NULL, '{{E-1}}', '{{}}', NULL, 1, 'asn', 'asn.lst:1: 64496', '{{}}')"
                )
            })
            .collect();
        format!(
            "BEGIN; CREATE TEMP TABLE badclients_incoming (LIKE badclients_decisions) \
             ON COMMIT DELETE ROWS; INSERT INTO badclients_incoming VALUES {}; \
             SELECT badclients_ship_incoming('a', {batch}); COMMIT;",
            rows.join(",")
        )
    };
    assert_eq!(pg.psql(&ship(1, &[day + 5, day + 9])), "2");
    assert_eq!(
        pg.psql(&ship(1, &[day + 5, day + 9])),
        "-1",
        "shipped again: skipped"
    );
    assert_eq!(pg.psql(&ship(2, &[day + 1, day + 86_400_000_000])), "2");
    assert_eq!(pg.psql("SELECT count(*) FROM badclients_decisions"), "4");
    assert_eq!(
        pg.psql("SELECT day_us, n, first_us, last_us FROM badclients_daily ORDER BY day_us"),
        format!(
            "{day}|3|{}|{}\n{}|1|{}|{}",
            day + 1,
            day + 9,
            day + 86_400_000_000,
            day + 86_400_000_000,
            day + 86_400_000_000
        )
    );
    assert_eq!(pg.psql("SELECT node FROM badclients_nodes"), "a");
}
