//! Shipping: daemons with `[history] backend = "postgres"` write every answered decision to
//! the shared history exactly once — field for field what the redb history keeps, from
//! three nodes at once, across a 30 s PostgreSQL outage under load and across `kill -9`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use badclients::history::store::HistoryStore;
use badclients::history::{Filter, Outcome, Record};
use testkit::daemon::{policy_login, Daemon, DaemonConfig, FakeInternet, LISTED_IP, UNLISTED_IP};
use testkit::postgres::PgServer;

/// A daemon shipping to `pg` as `node`, with `extra` `[history]` lines.
fn shipping_daemon(internet: &FakeInternet, pg: &PgServer, node: &str, extra: &str) -> Daemon {
    DaemonConfig::new(internet)
        .list("ip_net.deny.lst", "176.112.168.0/21\n")
        .history(&format!(
            "backend = \"postgres\"\npostgres_url = \"{}\"\nnode = \"{node}\"\npostgres_timeout_ms = 3000\n{extra}",
            pg.url()
        ))
        .start()
}

/// `SELECT count(*) …` as a number.
fn count(pg: &PgServer, sql: &str) -> u64 {
    pg.psql(sql).parse().expect("a count")
}

/// Waits until `pred` holds (checked every 200 ms), failing the test after `deadline`.
fn wait_until(deadline: Duration, what: &str, mut pred: impl FnMut() -> bool) {
    let start = Instant::now();
    while !pred() {
        assert!(start.elapsed() < deadline, "{what}: not after {deadline:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The decisions of `node` in PostgreSQL as records (without their time), by user.
fn pg_records(pg: &PgServer, node: &str) -> Vec<Record> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let client = badclients::pghistory::connect(&pg.url(), Duration::from_secs(10))
            .await
            .expect("connect");
        let rows = client
            .query(
                "SELECT user_name, service, ip, host, asn, as_cc, as_desc, net_name, net_cc, \
                 entities, cloud, geo_cc, outcome, matched, matched_entry, lookup_errors \
                 FROM badclients_decisions WHERE node = $1 ORDER BY user_name",
                &[&node],
            )
            .await
            .expect("select");
        rows.iter()
            .map(|r| Record {
                time_us: None,
                user: r.get(0),
                service: r.get(1),
                ip: r.get(2),
                host: r.get(3),
                asn: r.get::<_, Option<i64>>(4).map(|a| a as u32),
                as_cc: r.get(5),
                as_desc: r.get(6),
                net_name: r.get(7),
                net_cc: r.get(8),
                entities: r.get(9),
                cloud: r.get(10),
                geo_cc: r.get(11),
                outcome: Outcome::ALL[r.get::<_, i16>(12) as usize],
                matched: r.get(13),
                matched_entry: r.get(14),
                lookup_errors: r.get(15),
            })
            .collect()
    })
}

#[test]
fn decisions_reach_postgres_with_the_node_name_equal_to_the_redb_history() {
    let pg = PgServer::start();
    let internet = FakeInternet::start();
    let users = [
        ("alice", LISTED_IP),
        ("bob", UNLISTED_IP),
        ("Carol", LISTED_IP),
    ];
    let shipping = shipping_daemon(&internet, &pg, "node-a", "");
    for (user, ip) in users {
        assert!(policy_login(shipping.http_port(), user, ip).is_some());
    }
    wait_until(Duration::from_secs(30), "3 decisions shipped", || {
        pg.try_psql("SELECT count(*) FROM badclients_decisions")
            .is_ok_and(|n| n == "3")
    });
    assert!(
        !shipping.dir().join("history.redb").exists(),
        "no redb file with postgres"
    );
    assert_eq!(
        pg.psql("SELECT string_agg(DISTINCT node, ',') FROM badclients_decisions"),
        "node-a"
    );
    assert_eq!(
        pg.psql("SELECT string_agg(node, ',') FROM badclients_nodes"),
        "node-a"
    );
    let metrics = shipping.metrics();
    assert!(
        metrics.contains("badclients_history_rows_shipped_total 3"),
        "{metrics}"
    );
    // The same logins with the redb history.
    let mut local = DaemonConfig::new(&internet)
        .list("ip_net.deny.lst", "176.112.168.0/21\n")
        .start();
    assert!(!local.metrics().contains("badclients_history_rows_shipped"));
    for (user, ip) in users {
        assert!(policy_login(local.http_port(), user, ip).is_some());
    }
    local.stop();
    let (store, _) = HistoryStore::open(&local.dir().join("history.redb")).expect("open");
    let mut stored = Vec::new();
    store
        .scan(
            &Filter::default(),
            &mut |row: &badclients::history::codec::Row,
                  s: &badclients::history::codec::Strings| {
                let mut r = row.to_record(s);
                r.time_us = None;
                stored.push(r);
            },
        )
        .expect("scan");
    stored.sort_by(|a, b| a.user.cmp(&b.user));
    let shipped = pg_records(&pg, "node-a");
    assert_eq!(shipped.len(), 3);
    assert_eq!(shipped, stored);
    assert!(shipped
        .iter()
        .any(|r| r.outcome == Outcome::Blocked && r.matched.is_some()));
}

/// Logs users `<node>-<worker>-<i>` in until `running` is cleared; the users answered.
fn load(
    port: u16,
    node: &str,
    workers: usize,
    running: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<String>>> {
    (0..workers)
        .map(|w| {
            let (running, node) = (Arc::clone(running), node.to_string());
            std::thread::spawn(move || {
                let mut answered = Vec::new();
                let mut i = 0;
                while running.load(Ordering::Relaxed) {
                    let user = format!("{node}-{w}-{i}");
                    i += 1;
                    if policy_login(port, &user, UNLISTED_IP) == Some(200) {
                        answered.push(user);
                    }
                }
                answered
            })
        })
        .collect()
}

#[test]
fn three_nodes_under_load_through_a_30s_outage_ship_every_decision_exactly_once() {
    let mut pg = PgServer::start();
    let internet = FakeInternet::start();
    let nodes: Vec<(String, Daemon)> = ["n1", "n2", "n3"]
        .iter()
        .map(|n| {
            let cap = "journal_max_bytes = 268435456";
            (n.to_string(), shipping_daemon(&internet, &pg, n, cap))
        })
        .collect();
    let running = Arc::new(AtomicBool::new(true));
    let workers: Vec<_> = nodes
        .iter()
        .map(|(n, d)| (n.clone(), load(d.http_port(), n, 2, &running)))
        .collect();
    std::thread::sleep(Duration::from_secs(5));
    pg.stop();
    let outage = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    for (_, d) in &nodes {
        let health = d.get("/healthz", None);
        assert!(
            health.body.contains("PostgreSQL"),
            "healthz names the shipping failure: {}",
            health.body
        );
    }
    std::thread::sleep(Duration::from_secs(30).saturating_sub(outage.elapsed()));
    pg.restart();
    std::thread::sleep(Duration::from_secs(5));
    running.store(false, Ordering::Relaxed);
    let answered: HashMap<String, Vec<String>> = workers
        .into_iter()
        .map(|(n, ws)| {
            (
                n,
                ws.into_iter()
                    .flat_map(|w| w.join().expect("worker"))
                    .collect(),
            )
        })
        .collect();
    for (node, users) in &answered {
        assert!(users.len() > 100, "{node} answered only {}", users.len());
        let sql = format!("SELECT count(*) FROM badclients_decisions WHERE node = '{node}'");
        let want = users.len() as u64;
        let start = Instant::now();
        while !pg
            .try_psql(&sql)
            .is_ok_and(|n| n.parse::<u64>().is_ok_and(|n| n >= want))
        {
            if start.elapsed() > Duration::from_secs(120) {
                for (n, d) in &nodes {
                    eprintln!("--- {n}:\n{}\n{}", d.stderr(), d.metrics());
                }
                panic!(
                    "{node}: {want} answered, {} shipped after 120 s",
                    pg.psql(&sql)
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        assert_eq!(
            count(&pg, &sql),
            want,
            "{node}: exactly the answered decisions"
        );
        assert_eq!(
            count(
                &pg,
                &format!(
                    "SELECT count(*) FROM (SELECT user_name FROM badclients_decisions \
                     WHERE node = '{node}' GROUP BY user_name HAVING count(*) > 1) d"
                )
            ),
            0,
            "{node}: no decision twice"
        );
        let shipped: Vec<String> = pg
            .psql(&format!(
                "SELECT string_agg(user_name, ',' ORDER BY user_name) FROM badclients_decisions \
                 WHERE node = '{node}'"
            ))
            .split(',')
            .map(str::to_string)
            .collect();
        let mut users = users.clone();
        users.sort();
        assert_eq!(
            shipped, users,
            "{node}: the users answered are the users shipped"
        );
    }
    for (node, d) in &nodes {
        let m = d.metrics();
        assert!(m.contains("badclients_history_lost_total 0"), "{node}: {m}");
        assert!(
            !m.contains("badclients_history_ship_failures_total 0\n"),
            "{node}: failures counted"
        );
        assert!(
            m.contains("badclients_history_backlog_decisions 0"),
            "{node}: {m}"
        );
        assert!(
            d.get("/healthz", None).status == 200,
            "{node} healthy again"
        );
    }
    // `report` over the site is the sum of the three per-node reports, and counts every
    // answered login.
    let answered_total: usize = answered.values().map(Vec::len).sum();
    let site = report_logins(&pg, None);
    let per_node: u64 = nodes.iter().map(|(n, _)| report_logins(&pg, Some(n))).sum();
    assert_eq!(site, per_node, "the site is the sum of its nodes");
    assert_eq!(
        site, answered_total as u64,
        "every answered login is reported"
    );
}

/// `badclients report --json --since 1h` over the shared history (one node's, or all): the
/// logins it counts.
fn report_logins(pg: &PgServer, node: Option<&str>) -> u64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("badclients.toml");
    std::fs::write(
        &config,
        format!(
            "list_path = \"{}\"\n[history]\nbackend = \"postgres\"\npostgres_url = \"{}\"\n",
            dir.path().display(),
            pg.url()
        ),
    )
    .expect("write the config");
    let config = config.to_str().expect("a UTF-8 path");
    let mut args = vec!["report", "--json", "--since", "1h", "--config", config];
    if let Some(node) = node {
        args.extend(["--node", node]);
    }
    let out = testkit::badclients(&args, dir.path());
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("report --json is JSON");
    report["totals"]["logins"]
        .as_u64()
        .unwrap_or_else(|| panic!("no totals.logins in {report}"))
}

#[test]
fn a_node_killed_while_postgres_is_down_ships_its_backlog_once_after_restart() {
    let mut pg = PgServer::start();
    let internet = FakeInternet::start();
    let mut daemon = shipping_daemon(&internet, &pg, "k1", "");
    let port = daemon.http_port();
    for i in 0..50 {
        assert_eq!(
            policy_login(port, &format!("before-{i}"), UNLISTED_IP),
            Some(200)
        );
    }
    wait_until(Duration::from_secs(30), "the first 50 shipped", || {
        pg.try_psql("SELECT count(*) FROM badclients_decisions")
            .is_ok_and(|n| n == "50")
    });
    pg.stop();
    for i in 0..300 {
        assert_eq!(
            policy_login(port, &format!("during-{i}"), UNLISTED_IP),
            Some(200)
        );
    }
    std::thread::sleep(Duration::from_secs(1));
    daemon.kill_hard();
    pg.restart();
    daemon.restart();
    for i in 0..20 {
        assert_eq!(
            policy_login(daemon.http_port(), &format!("after-{i}"), UNLISTED_IP),
            Some(200)
        );
    }
    wait_until(Duration::from_secs(60), "the backlog shipped", || {
        pg.try_psql("SELECT count(*) FROM badclients_decisions")
            .is_ok_and(|n| n.parse::<u64>().is_ok_and(|n| n >= 370))
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(count(&pg, "SELECT count(*) FROM badclients_decisions"), 370);
    assert_eq!(
        count(
            &pg,
            "SELECT count(DISTINCT user_name) FROM badclients_decisions"
        ),
        370
    );
    assert_eq!(
        count(
            &pg,
            "SELECT count(DISTINCT batch) FROM badclients_decisions"
        ),
        count(&pg, "SELECT count(*) FROM badclients_batches")
    );
}
