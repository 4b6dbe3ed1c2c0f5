//! Reading the shared history: `report`, `suggest` and `/ui` over every node's decisions in
//! PostgreSQL, compared with the same decisions in a redb file and with the per-node views.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use badclients::history::codec::Strings;
use badclients::history::store::HistoryStore;
use badclients::history::writer::Shipper;
use badclients::history::{Outcome, Record};
use badclients::pghistory::{connect, schema, PgShipper};
use serde_json::Value;
use testkit::daemon::{DaemonConfig, FakeInternet, API_KEY};
use testkit::postgres::PgServer;
use testkit::{badclients, stderr, stdout, ListDir};

const TIMEOUT: Duration = Duration::from_secs(10);
/// 2026-11-20 00:00 UTC in µs.
const DAY0: u64 = 1_795_132_800 * 1_000_000;
const HOUR: u64 = 3_600 * 1_000_000;
const DAY: u64 = 24 * HOUR;

/// Ships `records` as batch `batch` of `node`, through the shipper a node uses
/// (`badclients_ship_incoming` behind a binary `COPY`).
async fn ship(pg: &PgServer, node: &str, batch: u64, records: &[Record]) {
    let shipper = PgShipper::new(&pg.url(), node, Duration::from_secs(30));
    let written = shipper.ship(batch, records).await.expect("ship");
    assert!(written, "batch {batch} of {node} is new");
}

/// Brings the database's schema up to date.
async fn migrate(pg: &PgServer) {
    let mut client = connect(&pg.url(), TIMEOUT).await.expect("connect");
    schema::migrate(&mut client).await.expect("migrate");
}

struct Net {
    ip: &'static str,
    host: Option<&'static str>,
    asn: u32,
    as_cc: &'static str,
    as_desc: &'static str,
    entities: &'static [&'static str],
    cloud: &'static [&'static str],
}

const EC2: Net = Net {
    ip: "3.80.1.2",
    host: Some("ec2-3-80-1-2.compute-1.amazonaws.com"),
    asn: 14618,
    as_cc: "US",
    as_desc: "AMAZON-AES, US",
    entities: &["AT-88-Z"],
    cloud: &["aws:EC2:us-east-1"],
};
const TELEKOM: Net = Net {
    ip: "93.192.1.1",
    host: Some("p5dc00101.dip0.t-ipconnect.de"),
    asn: 3320,
    as_cc: "DE",
    as_desc: "DTAG Internet service provider operations, DE",
    entities: &["DTAG-NIC"],
    cloud: &[],
};
const VK: Net = Net {
    ip: "176.112.169.218",
    host: Some("rimap26.i.mail.ru"),
    asn: 47764,
    as_cc: "RU",
    as_desc: "VK-AS, RU",
    entities: &["MAIL-RU"],
    cloud: &[],
};
const M365: Net = Net {
    ip: "52.97.246.245",
    host: None,
    asn: 8075,
    as_cc: "US",
    as_desc: "MICROSOFT-CORP-MSN-AS-BLOCK, US",
    entities: &["MSFT"],
    cloud: &["m365:Exchange"],
};
/// Hosting outside any published cloud range.
const HETZNER: Net = Net {
    ip: "88.198.10.20",
    host: Some("static.20.10.198.88.clients.your-server.de"),
    asn: 24940,
    as_cc: "DE",
    as_desc: "HETZNER-AS, DE",
    entities: &["HOAC1-RIPE"],
    cloud: &[],
};

fn record(t: u64, user: &str, net: &Net, outcome: Outcome, matched: Option<&str>) -> Record {
    Record {
        time_us: Some(t),
        user: user.into(),
        service: "imap".into(),
        ip: net.ip.parse().expect("an address"),
        host: net.host.map(Into::into),
        asn: Some(net.asn),
        as_cc: Some(net.as_cc.into()),
        as_desc: Some(net.as_desc.into()),
        net_name: Some(format!("{}-NET", net.asn)),
        net_cc: None,
        entities: net.entities.iter().map(|e| e.to_string()).collect(),
        cloud: net.cloud.iter().map(|e| e.to_string()).collect(),
        geo_cc: None,
        outcome,
        matched: matched.map(Into::into),
        matched_entry: matched.map(|m| format!("{m}.deny.lst:1: x")),
        lookup_errors: vec![],
    }
}

/// Decisions over four days, repeated rows included, so that whole days come from the
/// daily rows and the partial ones from the decisions.
fn history() -> Vec<Record> {
    use Outcome::*;
    let mut v = Vec::new();
    for day in 0..4u64 {
        let t = DAY0 - 2 * DAY + day * DAY;
        for h in [1, 7, 13, 19] {
            v.push(record(t + h * HOUR, "alice", &EC2, Allowed, None));
            v.push(record(t + h * HOUR + 5, "Alice", &TELEKOM, Allowed, None));
        }
        v.push(record(t + 3 * HOUR, "bob", &EC2, Allowed, None));
        v.push(record(t + 9 * HOUR, "carol", &TELEKOM, Allowed, None));
        v.push(record(t + 10 * HOUR, "dave", &VK, Blocked, Some("ip_net")));
        v.push(record(t + 11 * HOUR, "dave", &VK, Blocked, Some("ip_net")));
        v.push(record(
            t + 14 * HOUR,
            "erin",
            &M365,
            WouldBlock,
            Some("cloud"),
        ));
        v.push(record(t + 15 * HOUR, "jörg", &HETZNER, Allowed, None));
        v.push(record(t + 16 * HOUR, "frank", &HETZNER, TempFail, None));
    }
    v
}

/// Lists, and a config in `dir` reading `history`: a redb file holding `records`, or the
/// PostgreSQL database at `url`.
fn config(dir: &Path, records: Option<&[Record]>, pg: Option<(&str, u64)>) -> String {
    let lists = ListDir::new()
        .with("ip_net.deny.lst", "176.112.168.0/21\n")
        .with("cloud.deny.lst", "m365:Exchange\n")
        .with("known_good.lst", "# consumer ISPs\nAS3320\n");
    let history_file = dir.join("history.redb");
    if let Some(records) = records {
        let (store, _) = HistoryStore::open(&history_file).expect("open the redb history");
        let mut strings = Strings::new();
        store
            .append(records, &mut strings, None)
            .expect("append to the redb history");
    }
    let mut history = format!("path = \"{}\"\nnode = \"here\"\n", history_file.display());
    if let Some((url, timeout_ms)) = pg {
        history.push_str(&format!(
            "backend = \"postgres\"\npostgres_url = \"{url}\"\npostgres_timeout_ms = {timeout_ms}\n"
        ));
    }
    let config = dir.join("badclients.toml");
    std::fs::write(
        &config,
        format!(
            "list_path = \"{}\"\n[history]\n{history}[cache]\nmemory_only = true\n",
            lists.path().display()
        ),
    )
    .expect("write the config");
    // Keep the list directory for the test's lifetime.
    std::mem::forget(lists);
    config.to_str().expect("a UTF-8 path").to_string()
}

/// `badclients ARGS --config CONFIG`, which must succeed: its stdout.
fn run(config: &str, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--config", config]);
    let out = badclients(&all, Path::new("/tmp"));
    assert!(out.status.success(), "{all:?}: {}", stderr(&out));
    stdout(&out)
}

fn json(config: &str, args: &[&str]) -> Value {
    let text = run(config, &[args, &["--json"]].concat());
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_and_suggest_over_postgres_equal_the_redb_history() {
    let pg = PgServer::start();
    migrate(&pg).await;
    let records = history();
    // Shipped in three batches of one node, out of order.
    let (a, rest) = records.split_at(20);
    let (b, c) = rest.split_at(30);
    for (batch, part) in [(1, c), (2, a), (3, b)] {
        ship(&pg, "here", batch, part).await;
    }
    let redb_dir = tempfile::tempdir().expect("tempdir");
    let pg_dir = tempfile::tempdir().expect("tempdir");
    let redb = config(redb_dir.path(), Some(&records), None);
    let shared = config(pg_dir.path(), None, Some((&pg.url(), 5_000)));
    let now = ["--now", "2026-11-22T00:00"];
    let cases: &[&[&str]] = &[
        &[],
        &["--since", "2026-11-19"],
        // A partial day, then whole days.
        &["--since", "2026-11-18T12:00"],
        &["--since", "30h"],
        &["--since", "2026-11-19T23:30", "--user", "ALICE"],
        &["--user", "alice"],
        // ASCII case is ignored, other case is not (as Filter::accepts).
        &["--user", "JöRG"],
        &["--user", "JÖRG"],
        &["--user", "nobody"],
        &["--since", "2026-11-20", "--node", "here"],
    ];
    for case in cases {
        let args = [&["report", "--top", "0"], &now[..], case].concat();
        let text = run(&shared, &args);
        assert_eq!(text, run(&redb, &args), "report {case:?}");
        assert_eq!(
            json(&shared, &args),
            json(&redb, &args),
            "report --json {case:?}"
        );
        let args = [&["suggest", "--min-users", "2"], &now[..], case].concat();
        assert_eq!(run(&shared, &args), run(&redb, &args), "suggest {case:?}");
    }
    let all = json(&shared, &["report", "--now", "2026-11-22T00:00"]);
    assert_eq!(all["totals"]["logins"], records.len(), "{all}");
    // The redb history holds only this node's decisions.
    let out = badclients(
        &["report", "--node", "elsewhere", "--config", &redb],
        Path::new("/tmp"),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("backend = \"postgres\""),
        "{}",
        stderr(&out)
    );
}

/// Per user and AS: logins.
fn sources(report: &Value) -> BTreeMap<(String, String), u64> {
    let mut m = BTreeMap::new();
    for s in report["sources"].as_array().expect("sources") {
        let key = (s["user"].to_string(), s["asn"].to_string());
        *m.entry(key).or_default() += s["logins"].as_u64().expect("logins");
    }
    m
}

/// Three nodes' decisions: each node sees some users from some networks.
fn three_nodes() -> Vec<(&'static str, Vec<Record>)> {
    use Outcome::*;
    let t = DAY0 - DAY + 6 * HOUR;
    vec![
        (
            "mx1",
            vec![
                record(t, "alice", &EC2, Allowed, None),
                record(t + HOUR, "alice", &TELEKOM, Allowed, None),
                record(t + 2 * HOUR, "dave", &VK, Blocked, Some("ip_net")),
                record(t + DAY, "hanna", &HETZNER, Allowed, None),
            ],
        ),
        (
            "mx2",
            vec![
                record(t + 5, "alice", &EC2, Allowed, None),
                record(t + 3 * HOUR, "bob", &EC2, Allowed, None),
                record(t + DAY, "ivan", &HETZNER, Allowed, None),
                record(t + DAY + 1, "erin", &M365, WouldBlock, Some("cloud")),
            ],
        ),
        (
            "mx3",
            vec![
                record(t + 9, "alice", &TELEKOM, Allowed, None),
                record(t + DAY + 2, "judy", &HETZNER, Allowed, None),
                record(t + DAY + 3, "dave", &VK, Blocked, Some("ip_net")),
            ],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_over_all_nodes_is_the_sum_of_the_per_node_reports() {
    let pg = PgServer::start();
    migrate(&pg).await;
    let nodes = three_nodes();
    for (batch, (node, records)) in nodes.iter().enumerate() {
        ship(&pg, node, batch as u64, records).await;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = config(dir.path(), None, Some((&pg.url(), 5_000)));
    let now = "2026-11-22T00:00";
    let all = json(&shared, &["report", "--top", "0", "--now", now]);
    let mut logins = 0;
    let mut summed: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut blocked = 0;
    for (node, records) in &nodes {
        let one = json(
            &shared,
            &["report", "--top", "0", "--now", now, "--node", node],
        );
        assert_eq!(one["totals"]["logins"], records.len(), "{node}: {one}");
        logins += one["totals"]["logins"].as_u64().expect("logins");
        blocked += one["totals"]["blocked"].as_u64().expect("blocked");
        for (key, n) in sources(&one) {
            *summed.entry(key).or_default() += n;
        }
    }
    assert_eq!(all["totals"]["logins"].as_u64(), Some(logins), "{all}");
    assert_eq!(all["totals"]["blocked"].as_u64(), Some(blocked), "{all}");
    assert_eq!(sources(&all), summed, "per user and AS, the nodes add up");
    assert_eq!(all["totals"]["users"], 7, "{all}");
    // A node that never shipped reads nothing.
    let none = json(&shared, &["report", "--now", now, "--node", "mx9"]);
    assert_eq!(none["totals"]["logins"], 0, "{none}");

    // Three users from the hosting AS, one per node: only the union makes a candidate.
    let asns = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("suggestions")
            .iter()
            .map(|s| s["line"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let union = json(&shared, &["suggest", "--now", now]);
    assert!(
        asns(&union).iter().any(|l| l.contains("24940")),
        "suggested over all nodes: {union}"
    );
    for (node, _) in &nodes {
        let one = json(&shared, &["suggest", "--now", now, "--node", node]);
        assert!(
            !asns(&one).iter().any(|l| l.contains("24940")),
            "{node} alone has one user there: {one}"
        );
    }
}

/// The value of the overview card labelled `label`.
fn card(body: &str, label: &str) -> Option<u64> {
    let end = body.find(&format!("</div><div class=\"label\">{label}</div>"))?;
    let start = body[..end].rfind('>')? + 1;
    body[start..end].parse().ok()
}

#[test]
fn the_dashboard_shows_the_whole_site_and_one_node() {
    let pg = PgServer::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let now = badclients::history::now_us();
    runtime.block_on(async {
        migrate(&pg).await;
        for (batch, (node, records)) in three_nodes().into_iter().enumerate() {
            let recent: Vec<Record> = records
                .into_iter()
                .enumerate()
                .map(|(i, mut r)| {
                    r.time_us = Some(now - HOUR - i as u64 * 1000);
                    r
                })
                .collect();
            ship(&pg, node, batch as u64, &recent).await;
        }
        let odd = record(
            now - 2 * HOUR,
            "mallory",
            &VK,
            Outcome::Blocked,
            Some("ip_net"),
        );
        ship(&pg, "<b>odd&node", 9, &[odd]).await;
    });
    let internet = FakeInternet::start();
    let d = DaemonConfig::new(&internet)
        .history(&format!(
            "backend = \"postgres\"\npostgres_url = \"{}\"\nnode = \"mx1\"",
            pg.url()
        ))
        .start();
    let all = d.get("/ui?range=24h", Some(API_KEY));
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(card(&all.body, "logins"), Some(12), "{}", all.body);
    assert_eq!(card(&all.body, "blocked"), Some(3), "{}", all.body);
    assert!(all.body.contains("id=\"node-picker\""), "{}", all.body);
    for node in ["mx1", "mx2", "mx3"] {
        assert!(
            all.body
                .contains(&format!("<option value=\"{node}\">{node}</option>")),
            "{node}: {}",
            all.body
        );
    }
    assert!(all.body.contains("&#60;b&#62;odd&#38;node"), "{}", all.body);
    assert!(!all.body.contains("<b>odd"), "node names are escaped");
    // The latest blocked logins of every node.
    assert!(all.body.contains("mallory"), "{}", all.body);

    let one = d.get("/ui?range=24h&node=mx2", Some(API_KEY));
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(card(&one.body, "logins"), Some(4), "{}", one.body);
    assert!(
        one.body
            .contains("<option value=\"mx2\" selected>mx2</option>"),
        "{}",
        one.body
    );
    assert!(
        one.body.contains("href=\"/ui?range=7d&#38;node=mx2\""),
        "{}",
        one.body
    );
    assert!(!one.body.contains("mallory"), "{}", one.body);

    let user = d.get("/ui/user?q=ALICE", Some(API_KEY));
    assert_eq!(user.status, 200, "{}", user.body);
    assert!(user.body.contains("AS14618"), "{}", user.body);
    assert!(user.body.contains("AS3320"), "{}", user.body);
}

/// A TCP listener that accepts connections and never answers.
fn silent_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    (
        listener,
        format!("postgresql://bc@127.0.0.1:{port}/badclients"),
    )
}

#[test]
fn postgres_down_fails_the_report_in_time_and_the_daemon_keeps_deciding() {
    // A server that never answers: the report gives up after the timeout.
    let (_listener, url) = silent_listener();
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = config(dir.path(), None, Some((&url, 1_000)));
    let t0 = Instant::now();
    let out = badclients(&["report", "--config", &shared], Path::new("/tmp"));
    let took = t0.elapsed();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("cannot read the shared history at postgresql://bc@127.0.0.1")
            && err.contains("timed out after 1s"),
        "{err}"
    );
    assert!(took < Duration::from_secs(6), "gave up after {took:?}");

    // A stopped server: refused at once, the dashboard says so, logins are answered.
    let mut pg = PgServer::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        migrate(&pg).await;
    });
    let internet = FakeInternet::start();
    let d = DaemonConfig::new(&internet)
        .history(&format!(
            "backend = \"postgres\"\npostgres_url = \"{}\"\npostgres_timeout_ms = 1000",
            pg.url()
        ))
        .start();
    pg.stop();
    let t0 = Instant::now();
    let ui = d.get("/ui", Some(API_KEY));
    assert!(t0.elapsed() < Duration::from_secs(6), "{:?}", t0.elapsed());
    assert_eq!(ui.status, 503, "{}", ui.body);
    assert!(ui.body.contains("could not be read"), "{}", ui.body);
    let answer = d.policy_allow("alice", "198.51.100.7", Duration::from_secs(5));
    assert_eq!(answer.status, 200, "{answer:?}");
    let shared = config(dir.path(), None, Some((&pg.url(), 1_000)));
    let out = badclients(&["report", "--config", &shared], Path::new("/tmp"));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("PostgreSQL connect failed"),
        "{}",
        stderr(&out)
    );
}
