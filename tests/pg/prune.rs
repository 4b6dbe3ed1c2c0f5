//! The shipper against PostgreSQL directly: a batch is written once however often it is
//! sent, the prune drops whole old days (and their daily rows) but remembers the batches,
//! forget deletes a user's rows ignoring ASCII case; and `badclients history migrate`.

use std::time::Duration;

use badclients::history::writer::Shipper;
use badclients::history::{now_us, Record};
use badclients::pghistory::PgShipper;
use testkit::postgres::PgServer;

const DAY_US: u64 = 86_400_000_000;

fn record(user: &str, time_us: u64) -> Record {
    Record {
        time_us: Some(time_us),
        user: user.into(),
        service: "imap".into(),
        ip: "192.0.2.1".parse().expect("an address"),
        host: Some("mail.example".into()),
        asn: Some(64496),
        as_cc: Some("DE".into()),
        as_desc: None,
        net_name: None,
        net_cc: None,
        entities: vec!["ORG-X".into()],
        cloud: vec![],
        geo_cc: None,
        outcome: badclients::history::Outcome::Allowed,
        matched: None,
        matched_entry: None,
        lookup_errors: vec!["rdap:timeout".into()],
    }
}

#[tokio::test]
async fn batches_are_written_once_prune_drops_old_days_and_forget_ignores_ascii_case() {
    let pg = PgServer::start();
    let shipper = PgShipper::new(&pg.url(), "p1", Duration::from_secs(10));
    let now = now_us();
    let old = now - 40 * DAY_US;
    let batch = vec![
        record("Alice", old),
        record("bob", old),
        record("alice", now),
    ];
    assert!(shipper.ship(7, &batch).await.expect("ship"));
    assert!(
        !shipper.ship(7, &batch).await.expect("ship again"),
        "already there"
    );
    assert!(shipper
        .ship(8, &[record("ALICE", now)])
        .await
        .expect("ship"));
    assert_eq!(pg.psql("SELECT count(*) FROM badclients_decisions"), "4");
    assert_eq!(pg.psql("SELECT sum(n) FROM badclients_daily"), "4");
    let days = || {
        pg.psql(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'badclients_decisions'::regclass",
        )
    };
    assert_eq!(days(), "2");

    let dropped = shipper
        .prune(Duration::from_secs(30 * 86_400))
        .await
        .expect("prune");
    assert_eq!(dropped, 1, "the day 40 days ago");
    // Today's and tomorrow's partitions are made ahead.
    assert_eq!(days(), "2");
    assert_eq!(pg.psql("SELECT count(*) FROM badclients_decisions"), "2");
    assert_eq!(pg.psql("SELECT sum(n) FROM badclients_daily"), "2");
    assert_eq!(
        pg.psql("SELECT count(*) FROM badclients_batches"),
        "2",
        "batches are kept"
    );
    assert!(
        !shipper.ship(7, &batch).await.expect("ship after prune"),
        "still written once"
    );

    assert!(shipper
        .ship(9, &[record("Älice", now), record("bob", now)])
        .await
        .expect("ship"));
    let forgotten = shipper.forget("aLiCe").await.expect("forget");
    assert_eq!(forgotten, 2);
    assert_eq!(
        pg.psql("SELECT string_agg(user_name, ',' ORDER BY user_name) FROM badclients_decisions"),
        "bob,Älice",
        "only ASCII case is ignored"
    );
    assert_eq!(
        pg.psql(
            "SELECT string_agg(DISTINCT user_name, ',' ORDER BY user_name) FROM badclients_daily"
        ),
        "bob,Älice"
    );
}

#[tokio::test]
async fn a_shipper_fails_within_its_timeout_while_postgres_is_down_and_recovers() {
    let mut pg = PgServer::start();
    let shipper = PgShipper::new(&pg.url(), "p2", Duration::from_secs(2));
    assert!(shipper
        .ship(1, &[record("a", now_us())])
        .await
        .expect("ship"));
    pg.stop();
    let start = std::time::Instant::now();
    let err = shipper
        .ship(2, &[record("b", now_us())])
        .await
        .expect_err("down");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "bounded: {:?}",
        start.elapsed()
    );
    assert!(!err.to_string().contains("password"), "{err}");
    pg.restart();
    let mut shipped = false;
    for _ in 0..100 {
        if shipper.ship(2, &[record("b", now_us())]).await.is_ok() {
            shipped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(shipped, "ships again once PostgreSQL is back");
    assert_eq!(pg.psql("SELECT count(*) FROM badclients_decisions"), "2");
}

#[test]
fn history_migrate_prints_from_and_to() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("badclients.toml");
    std::fs::write(
        &config,
        format!(
            "list_path = \"lists\"\n[history]\nbackend = \"postgres\"\npostgres_url = \"{}\"\n",
            pg.url()
        ),
    )
    .expect("write config");
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_badclients"))
            .args(["history", "migrate", "--config"])
            .arg(&config)
            .output()
            .expect("run badclients");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = run();
    assert!(first.contains("version 0 -> 1"), "{first}");
    assert!(first.contains(&pg.url()), "{first}");
    let again = run();
    assert!(again.contains("version 1 -> 1 (up to date)"), "{again}");
    assert_eq!(pg.psql("SELECT count(*) FROM badclients_schema"), "1");
}
