//! `badclients report` and `suggest` on a known history and on the older tool's log lines,
//! compared with the exact expected output.

use std::path::Path;

use badclients::history::codec::Strings;
use badclients::history::store::HistoryStore;
use badclients::history::{Outcome, Record};
use testkit::{badclients, stderr, stdout, ListDir};

/// 2026-11-20 00:00 UTC in µs.
const DAY0: u64 = 1_795_132_800 * 1_000_000;
const HOUR: u64 = 3_600 * 1_000_000;

struct Net {
    ip: &'static str,
    host: Option<&'static str>,
    asn: u32,
    as_cc: &'static str,
    as_desc: &'static str,
    net_name: &'static str,
    entities: &'static [&'static str],
    cloud: &'static [&'static str],
}

const EC2: Net = Net {
    ip: "3.80.1.2",
    host: Some("ec2-3-80-1-2.compute-1.amazonaws.com"),
    asn: 14618,
    as_cc: "US",
    as_desc: "AMAZON-AES, US",
    net_name: "AMAZON-IAD",
    entities: &["AT-88-Z"],
    cloud: &["aws:EC2:us-east-1"],
};
const EC2_B: Net = Net {
    ip: "3.81.7.9",
    host: Some("ec2-3-81-7-9.compute-1.amazonaws.com"),
    ..EC2
};
const TELEKOM: Net = Net {
    ip: "93.192.1.1",
    host: Some("p5dc00101.dip0.t-ipconnect.de"),
    asn: 3320,
    as_cc: "DE",
    as_desc: "DTAG Internet service provider operations, DE",
    net_name: "DTAG-DIAL25",
    entities: &["DTAG-NIC"],
    cloud: &[],
};
const VK: Net = Net {
    ip: "176.112.169.218",
    host: Some("rimap26.i.mail.ru"),
    asn: 47764,
    as_cc: "RU",
    as_desc: "VK-AS, RU",
    net_name: "VK-FRONT",
    entities: &["MAIL-RU"],
    cloud: &[],
};
const M365: Net = Net {
    ip: "52.97.246.245",
    host: None,
    asn: 8075,
    as_cc: "US",
    as_desc: "MICROSOFT-CORP-MSN-AS-BLOCK, US",
    net_name: "MSFT",
    entities: &["MSFT"],
    cloud: &["m365:Exchange"],
};

/// A residential ISP: many users, dynamic-looking host names.
const COMCAST: Net = Net {
    ip: "73.12.34.56",
    host: Some("c-73-12-34-56.hsd1.ma.comcast.net"),
    asn: 7922,
    as_cc: "US",
    as_desc: "COMCAST-7922, US",
    net_name: "BOSTON-5",
    entities: &["CCCS"],
    cloud: &[],
};
const COMCAST_B: Net = Net {
    ip: "73.12.34.57",
    host: Some("c-73-12-34-57.hsd1.ma.comcast.net"),
    ..COMCAST
};
/// A residential ISP whose AS name says nothing: only its host names tell.
const FIBER_ISP: Net = Net {
    ip: "198.51.100.23",
    host: Some("dynamic-198-51-100-23.res.example-isp.net"),
    asn: 64500,
    as_cc: "US",
    as_desc: "EXNET-AS Example Networks, US",
    net_name: "EXNET-RES",
    entities: &["EXNET-ARIN"],
    cloud: &[],
};
const FIBER_ISP_B: Net = Net {
    ip: "198.51.100.24",
    host: Some("198-51-100-24.pool.example-isp.net"),
    ..FIBER_ISP
};
/// A hosting network outside any published cloud range.
const HETZNER: Net = Net {
    ip: "88.198.10.20",
    host: Some("static.20.10.198.88.clients.your-server.de"),
    asn: 24940,
    as_cc: "DE",
    as_desc: "HETZNER-AS, DE",
    net_name: "HETZNER-NET",
    entities: &["HOAC1-RIPE"],
    cloud: &[],
};

fn record(hour: u64, user: &str, net: &Net, outcome: Outcome, matched: Option<&str>) -> Record {
    Record {
        time_us: Some(DAY0 + hour * HOUR),
        user: user.into(),
        service: "imap".into(),
        ip: net.ip.parse().unwrap(),
        host: net.host.map(Into::into),
        asn: Some(net.asn),
        as_cc: Some(net.as_cc.into()),
        as_desc: Some(net.as_desc.into()),
        net_name: Some(net.net_name.into()),
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

fn history() -> Vec<Record> {
    use Outcome::*;
    vec![
        record(0, "alice", &EC2, Allowed, None),
        record(1, "alice", &TELEKOM, Allowed, None),
        record(2, "bob", &EC2_B, Allowed, None),
        record(3, "bob", &EC2, Allowed, None),
        record(4, "carol", &EC2, Allowed, None),
        record(5, "carol", &TELEKOM, Allowed, None),
        record(6, "dave", &VK, Blocked, Some("ip_net")),
        record(7, "dave", &VK, Blocked, Some("ip_net")),
        record(8, "erin", &M365, WouldBlock, Some("cloud")),
        record(9, "alice", &M365, WouldBlock, Some("cloud")),
        record(10, "frank", &TELEKOM, Allowed, None),
        // Before --since: not counted.
        record(0, "old", &VK, Blocked, Some("ip_net")).with_time(DAY0 - 48 * HOUR),
    ]
}

trait WithTime {
    fn with_time(self, t: u64) -> Self;
}

impl WithTime for Record {
    fn with_time(mut self, t: u64) -> Self {
        self.time_us = Some(t);
        self
    }
}

/// A config, lists and a history file in `dir`.
fn setup(dir: &Path) -> String {
    setup_with(dir, &history())
}

/// A config, lists and a history file holding `records` in `dir`.
fn setup_with(dir: &Path, records: &[Record]) -> String {
    let lists = ListDir::new()
        .with("ip_net.deny.lst", "176.112.168.0/21\n")
        .with("cloud.deny.lst", "m365:Exchange\n")
        .with("known_good.lst", "# consumer ISPs\nAS3320\n");
    let history_file = dir.join("history.redb");
    {
        let (store, _) = HistoryStore::open(&history_file).unwrap();
        let mut strings = Strings::new();
        store.append(records, &mut strings, None).unwrap();
    }
    let config = dir.join("badclients.toml");
    std::fs::write(
        &config,
        format!(
            "list_path = \"{}\"\n[history]\npath = \"{}\"\n[cache]\nmemory_only = true\n",
            lists.path().display(),
            history_file.display()
        ),
    )
    .unwrap();
    // Keep the list directory for the test's lifetime.
    std::mem::forget(lists);
    config.to_str().unwrap().to_string()
}

const EXPECTED_TABLE: &str = "\
badclients report: 2026-11-20 00:00 .. 2026-11-20 10:00 UTC
logins 11  users 6  allowed 7  blocked 2  would-block 2  tempfail 0

BLOCKED USERS
user   blocked  would-block  matched    last
dave         2            0  ip_net x2  2026-11-20 07:00
alice        0            1  cloud x1   2026-11-20 09:00
erin         0            1  cloud x1   2026-11-20 08:00

LOGIN SOURCES PER USER
user   asn      as_desc                                        logins  matched  networks     hosts                                                                      clouds
alice  AS3320   DTAG Internet service provider operations, DE       1        0  DTAG-DIAL25  p5dc00101.dip0.t-ipconnect.de                                              -
alice  AS8075   MICROSOFT-CORP-MSN-AS-BLOCK, US                     1        1  MSFT         -                                                                          m365:Exchange
alice  AS14618  AMAZON-AES, US                                      1        0  AMAZON-IAD   ec2-3-80-1-2.compute-1.amazonaws.com                                       aws:EC2:us-east-1
bob    AS14618  AMAZON-AES, US                                      2        0  AMAZON-IAD   ec2-3-80-1-2.compute-1.amazonaws.com ec2-3-81-7-9.compute-1.amazonaws.com  aws:EC2:us-east-1
carol  AS3320   DTAG Internet service provider operations, DE       1        0  DTAG-DIAL25  p5dc00101.dip0.t-ipconnect.de                                              -
carol  AS14618  AMAZON-AES, US                                      1        0  AMAZON-IAD   ec2-3-80-1-2.compute-1.amazonaws.com                                       aws:EC2:us-east-1
dave   AS47764  VK-AS, RU                                           2        2  VK-FRONT     rimap26.i.mail.ru                                                          -
erin   AS8075   MICROSOFT-CORP-MSN-AS-BLOCK, US                     1        1  MSFT         -                                                                          m365:Exchange
frank  AS3320   DTAG Internet service provider operations, DE       1        0  DTAG-DIAL25  p5dc00101.dip0.t-ipconnect.de                                              -

ASNS
asn      as_desc                                        cc  users  logins  matched  status      why
AS14618  AMAZON-AES, US                                 US      3       4        0  candidate   cloud ranges aws:EC2:us-east-1; hosting AS name (AMAZON); server host names (compute, amazonaws)
AS3320   DTAG Internet service provider operations, DE  DE      3       3        0  known-good
AS8075   MICROSOFT-CORP-MSN-AS-BLOCK, US                US      2       2        2  caught
AS47764  VK-AS, RU                                      RU      1       2        2  caught

CLOUDS
cloud          users  logins  matched  status     why
aws:EC2            3       4        0  candidate  cloud ranges aws:EC2:us-east-1
m365:Exchange      2       2        2  listed
";

#[test]
fn report_on_a_known_history_prints_the_exact_tables() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let out = badclients(
        &[
            "report",
            "--config",
            &config,
            "--since",
            "2026-11-20",
            "--top",
            "0",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text, EXPECTED_TABLE, "\n{text}");
}

const EXPECTED_OLDER_TOOL: &str = "\
badclients report: 2026-01-01 00:10 .. 2026-11-27 12:09 UTC
logins 13  users 5  allowed 10  blocked 3  would-block 0  tempfail 0
read 26 lines: 13 audit lines, 8 other lines skipped, 5 malformed skipped, 0 outside the filter, 3 without a time
  line 14: missing ip=
  line 16: invalid ip=999.1.1.1
  line 18: invalid asn=ASx
  line 22: unbalanced <…> in as_desc=<AKAMAI-LINODE-AP Akam
  line 24: invalid ip=209.85.2

BLOCKED USERS
user              blocked  would-block  matched               last
honey-craig             1            0  asn x1                2026-11-27 12:05
honey-gmail-smtp        1            0  rev_host x1           2026-01-01 00:15
honey-sugar             1            0  entity:linode-mnt x1  2026-11-27 12:07

LOGIN SOURCES PER USER
user              asn      as_desc                                      logins  matched  networks              hosts                          clouds
honey             None     IANA-RESERVED                                     2        0  Private-Use Networks  dhcp204.internal               -
honey-craig       AS47764  VK-AS, RU                                         3        1  VK-FRONT              rimap26.i.mail.ru              -
honey-gmail-pop   AS15169  GOOGLE, US                                        3        0  GOOGLE                mail-ej1-f15.google.com        -
honey-gmail-smtp  AS15169  GOOGLE, US                                        3        1  GOOGLE                mail-ej1-f53.google.com        -
honey-sugar       AS63949  AKAMAI-LINODE-AP Akamai Connected Cloud, SG       2        1  EU-LINODE-20141229    node-eu-0001.email2-cloud.com  -

ASNS
asn      as_desc                                      cc  users  logins  matched  status  why
AS15169  GOOGLE, US                                   US      2       6        1  partly
AS47764  VK-AS, RU                                    RU      1       3        1  partly
None     IANA-RESERVED                                ZZ      1       2        0  -
AS63949  AKAMAI-LINODE-AP Akamai Connected Cloud, SG  NL      1       2        1  partly

CLOUDS
(none)
";

#[test]
fn report_on_the_older_tools_journal_export_skips_and_counts_what_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let log = testkit::fixture("auditlog/older-tool.log");
    let log = log.to_str().unwrap();
    let args = [
        "report",
        "--config",
        &config,
        "--now",
        "2026-11-27T13:00",
        "--top",
        "0",
        log,
    ];
    let out = badclients(&args, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text, EXPECTED_OLDER_TOOL, "\n{text}");

    // The same lines on stdin, since yesterday: the three undated lines (`-o cat`) stay in.
    let input = std::fs::read(log).unwrap();
    let out = testkit::badclients_stdin(
        &[
            "report",
            "--config",
            &config,
            "--now",
            "2026-11-27T13:00",
            "--since",
            "1d",
            "--json",
            "-",
        ],
        dir.path(),
        &input,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["totals"]["logins"], 11, "{json}");
    assert_eq!(json["input"]["filtered"], 2, "{json}");
    assert_eq!(json["input"]["undated"], 3, "{json}");
    assert_eq!(json["input"]["malformed"], 5, "{json}");
}

#[test]
fn report_as_csv_has_one_header_per_section_and_defuses_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let out = badclients(
        &[
            "report",
            "--config",
            &config,
            "--since",
            "2026-11-20",
            "--csv",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("section,")).count(),
        4,
        "{text}"
    );
    assert!(
        lines.contains(&"blocked_user,dave,2,0,ip_net x2,2026-11-20 07:00"),
        "{text}"
    );
    assert!(
        lines.contains(&"asn,AS14618,\"AMAZON-AES, US\",US,3,4,0,candidate,\"cloud ranges aws:EC2:us-east-1; hosting AS name (AMAZON); server host names (compute, amazonaws)\""),
        "{text}"
    );
    assert!(
        lines.contains(&"cloud,m365:Exchange,2,2,2,listed,"),
        "{text}"
    );
}

#[test]
fn suggest_proposes_the_hosting_networks_and_leaves_consumer_and_listed_ones_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let out = badclients(
        &["suggest", "--config", &config, "--since", "2026-11-20"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text, EXPECTED_SUGGEST, "\n{text}");
    // Every proposed line loads as a list entry of its file.
    let lists = ListDir::new()
        .with("asn.deny.lst", "AS14618\n")
        .with("cloud.deny.lst", "aws:EC2:.*\n")
        .with(
            "rev_host.deny.lst",
            "%w+%-%d+%-%d+%-%d+%-%d+%.compute%-%d+%.amazonaws%.com\n",
        )
        .with("entity.deny.lst", "AT-88-Z\n");
    let out = badclients(
        &["lists", "check", "--lists", lists.path().to_str().unwrap()],
        dir.path(),
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains(" 0 errors, "), "{}", stdout(&out));
    // The only warning there may be: no aws feed stored where the defaults look.
    for line in stdout(&out).lines().filter(|l| l.contains(": warning: ")) {
        assert!(
            line.contains("aws:EC2:.* cannot match: no aws range feed is stored"),
            "{line}"
        );
    }
}

const EXPECTED_SUGGEST: &str = "\
# badclients suggest: entries seen with at least 3 distinct users that look like hosting.
# Nothing was written to the lists: paste what you agree with.

# ---- asn.deny.lst ----
# AS14618 AMAZON-AES, US: 3 users (alice, bob, carol), 4 logins, 2026-11-20 00:00 .. 2026-11-20 04:00
#   cloud ranges: aws:EC2:us-east-1
#   AS description \"AMAZON-AES, US\" names AMAZON
#   host names look like servers (compute, amazonaws)
#   e.g. ec2-3-80-1-2.compute-1.amazonaws.com ec2-3-81-7-9.compute-1.amazonaws.com
AS14618

# ---- cloud.deny.lst ----
# cloud aws:EC2: 3 users (alice, bob, carol), 4 logins, 2026-11-20 00:00 .. 2026-11-20 04:00
#   the provider publishes these addresses as aws:EC2
aws:EC2:.*

# ---- rev_host.deny.lst ----
# hosts like ec2-3-80-1-2.compute-1.amazonaws.com: 3 users (alice, bob, carol), 4 logins, 2026-11-20 00:00 .. 2026-11-20 04:00
#   cloud ranges: aws:EC2:us-east-1
#   AS description \"AMAZON-AES, US\" names AMAZON
#   host names look like servers (compute, amazonaws)
#   e.g. ec2-3-80-1-2.compute-1.amazonaws.com ec2-3-81-7-9.compute-1.amazonaws.com
%w+%-%d+%-%d+%-%d+%-%d+%.compute%-%d+%.amazonaws%.com

# ---- entity.deny.lst ----
# RDAP entity AT-88-Z: 3 users (alice, bob, carol), 4 logins, 2026-11-20 00:00 .. 2026-11-20 04:00
#   cloud ranges: aws:EC2:us-east-1
#   AS description \"AMAZON-AES, US\" names AMAZON
#   host names look like servers (compute, amazonaws)
#   e.g. ec2-3-80-1-2.compute-1.amazonaws.com ec2-3-81-7-9.compute-1.amazonaws.com
AT-88-Z
";

/// Residential ISPs with many users next to hosting networks: the report calls only the
/// hosting ones candidates, says why, and agrees with `suggest`.
fn mixed_history() -> Vec<Record> {
    use Outcome::Allowed;
    let mut records = Vec::new();
    let mut hour = 0;
    let mut add = |user: &str, net: &Net| {
        records.push(record(hour, user, net, Allowed, None));
        hour += 1;
    };
    for (i, user) in ["ann", "ben", "cat", "dan", "eve", "fay"]
        .iter()
        .enumerate()
    {
        add(user, if i % 2 == 0 { &COMCAST } else { &COMCAST_B });
        add(user, &COMCAST);
    }
    for (i, user) in ["gus", "hal", "ivy", "jon"].iter().enumerate() {
        add(user, if i % 2 == 0 { &FIBER_ISP } else { &FIBER_ISP_B });
    }
    for user in ["ann", "kim", "lou"] {
        add(user, &HETZNER);
    }
    for user in ["ben", "kim", "mia"] {
        add(user, &EC2);
        add(user, &EC2_B);
    }
    records
}

#[test]
fn report_calls_only_hosting_networks_candidates_says_why_and_agrees_with_suggest() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup_with(dir.path(), &mixed_history());
    let run = |args: &[&str]| {
        let out = badclients(args, dir.path());
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let report: serde_json::Value = serde_json::from_str(&run(&[
        "report", "--config", &config, "--top", "0", "--json",
    ]))
    .unwrap();
    let asn = |n: u64| {
        report["asns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["asn"] == n)
            .unwrap_or_else(|| panic!("AS{n} missing: {report}"))
            .clone()
    };

    // The residential ISPs: no list caught them, but they are no candidates, and say why.
    let comcast = asn(7922);
    assert_eq!(comcast["users"], 6, "{comcast}");
    assert_eq!(comcast["status"], "unlisted", "{comcast}");
    assert_eq!(
        comcast["why"], "consumer AS name (COMCAST); consumer host names (hsd)",
        "{comcast}"
    );
    let fiber = asn(64500);
    assert_eq!(fiber["status"], "unlisted", "{fiber}");
    assert_eq!(
        fiber["why"], "consumer host names (pool, dynamic)",
        "{fiber}"
    );
    // The hosting networks are, with their evidence.
    let hetzner = asn(24940);
    assert_eq!(hetzner["status"], "candidate", "{hetzner}");
    assert_eq!(
        hetzner["why"], "hosting AS name (HETZNER); server host names (static, server)",
        "{hetzner}"
    );
    let ec2 = asn(14618);
    assert_eq!(ec2["status"], "candidate", "{ec2}");
    assert_eq!(
        ec2["why"],
        "cloud ranges aws:EC2:us-east-1; hosting AS name (AMAZON); server host names (compute, amazonaws)",
        "{ec2}"
    );
    assert_eq!(report["clouds"][0]["status"], "candidate", "{report}");
    assert_eq!(
        report["clouds"][0]["why"], "cloud ranges aws:EC2:us-east-1",
        "{report}"
    );

    // The text and the CSV say the same.
    let text = run(&["report", "--config", &config, "--top", "0"]);
    let row = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} row:\n{text}"))
            .to_string()
    };
    assert!(
        row("AS7922 ")
            .ends_with("unlisted   consumer AS name (COMCAST); consumer host names (hsd)"),
        "{text}"
    );
    assert!(
        row("AS24940 ")
            .ends_with("candidate  hosting AS name (HETZNER); server host names (static, server)"),
        "{text}"
    );
    let csv = run(&["report", "--config", &config, "--top", "0", "--csv"]);
    assert!(
        csv.contains("asn,AS7922,\"COMCAST-7922, US\",US,6,12,0,unlisted,consumer AS name (COMCAST); consumer host names (hsd)\r\n"),
        "{csv}"
    );

    // The same logins read from a journal export (`journalctl -o cat`): the same verdicts.
    let journal: String = mixed_history().iter().map(audit_line).collect();
    let out = testkit::badclients_stdin(
        &["report", "--config", &config, "--top", "0", "--json", "-"],
        dir.path(),
        journal.as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let from_journal: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(from_journal["input"]["records"], 25, "{from_journal}");
    assert_eq!(from_journal["asns"], report["asns"], "{from_journal}");

    // What the report calls a candidate (with enough users) is what suggest proposes.
    let suggestions: serde_json::Value =
        serde_json::from_str(&run(&["suggest", "--config", &config, "--json"])).unwrap();
    let proposed = |kind: &str| {
        let mut v: Vec<String> = suggestions
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["kind"] == kind)
            .map(|s| s["subject"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let candidates = |section: &str, subject: &dyn Fn(&serde_json::Value) -> String| {
        let mut v: Vec<String> = report[section]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == "candidate" && r["users"].as_u64().unwrap() >= 3)
            .map(subject)
            .collect();
        v.sort();
        v
    };
    let asn_subject = |r: &serde_json::Value| {
        format!("AS{} {}", r["asn"], r["as_desc"].as_str().unwrap_or("None"))
    };
    let cloud_subject = |r: &serde_json::Value| format!("cloud {}", r["cloud"].as_str().unwrap());
    assert_eq!(
        proposed("asn"),
        ["AS14618 AMAZON-AES, US", "AS24940 HETZNER-AS, DE"],
        "{suggestions}"
    );
    assert_eq!(
        candidates("asns", &asn_subject),
        proposed("asn"),
        "{report}"
    );
    assert_eq!(proposed("cloud"), ["cloud aws:EC2"], "{suggestions}");
    assert_eq!(
        candidates("clouds", &cloud_subject),
        proposed("cloud"),
        "{report}"
    );
    // Neither proposes the residential ISPs' host shapes or entities.
    let text = suggestions.to_string();
    for isp in ["comcast", "example-isp", "CCCS", "EXNET"] {
        assert!(!text.contains(isp), "{isp}: {text}");
    }
}

/// An allowed login's `mail-audit:` line, as `journalctl -o cat` prints it.
fn audit_line(r: &Record) -> String {
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "None".into());
    let mut line = format!(
        "mail-audit: user=<{}>, service={}, ip={}, host={}, asn=AS{}, as_cc={}, as_desc=<{}>, net_name=<{}>, net_cc=None",
        r.user,
        r.service,
        r.ip,
        r.host.clone().unwrap_or_else(|| "<>".into()),
        r.asn.unwrap(),
        or_none(&r.as_cc),
        or_none(&r.as_desc),
        or_none(&r.net_name),
    );
    for e in &r.entities {
        line.push_str(&format!(", entity={e}"));
    }
    for c in &r.cloud {
        line.push_str(&format!(", cloud={c}"));
    }
    line.push('\n');
    line
}
