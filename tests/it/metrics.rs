//! The metrics: exact exposition lines for decisions, lookups, reloads, HTTP and Postfix
//! requests, the bounded label sets, and that nothing a client sends reaches a label.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use badclients::decision::{Decision, Hit, Policy, Reason, Verdict};
use badclients::facts::{Facts, GeoFacts, Location};
use badclients::lists::{ListSet, LoadReport};
use badclients::lookup::dns::DnsError;
use badclients::lookup::{LookupReport, Provenance, Source, SourceError, SourceReport};
use badclients::metrics::{
    endpoint_label, matched_label, postfix_action_label, service_label, status_class, Metrics,
    CONTENT_TYPE, DURATION_BUCKETS, SERVICES,
};
use badclients::rdap::RdapError;

fn hit(label: &str, entry: &str) -> Hit {
    Hit {
        label: label.into(),
        file: Some("/etc/badclients/lists/x.lst".into()),
        line: Some(3),
        entry: entry.into(),
    }
}

fn decision(verdict: Verdict, reason: Reason) -> Decision {
    Decision {
        verdict,
        reason,
        log: true,
        pattern_failures: Vec::new(),
    }
}

fn listed(label: &str) -> Decision {
    decision(Verdict::Block, Reason::Listed(hit(label, "MAIL-RU")))
}

fn encode(m: &Metrics) -> String {
    match m.encode() {
        Ok(s) => s,
        Err(e) => panic!("encode failed: {e}"),
    }
}

/// The sample lines (not comments) of an exposition.
fn samples(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[track_caller]
fn assert_line(text: &str, line: &str) {
    assert!(has_line(text, line), "missing line {line:?} in:\n{text}");
}

/// The value of the sample named exactly `series` (name with labels), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter_map(|l| l.strip_prefix(series))
        .filter_map(|rest| rest.strip_prefix(' '))
        .find_map(|v| v.parse().ok())
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses `name{k="v",…} value` or `name value`; the label values must be free of quotes,
/// backslashes and line breaks. Returns the name and the labels.
fn parse_sample(line: &str) -> Result<(String, Vec<(String, String)>), String> {
    let (series, val) = line
        .rsplit_once(' ')
        .ok_or_else(|| format!("no value: {line:?}"))?;
    val.parse::<f64>()
        .map_err(|_| format!("bad value {val:?} in {line:?}"))?;
    let (name, labels) = match series.split_once('{') {
        None => (series, Vec::new()),
        Some((name, rest)) => {
            let body = rest
                .strip_suffix('}')
                .ok_or_else(|| format!("unclosed labels: {line:?}"))?;
            let mut labels = Vec::new();
            for pair in body.split(',') {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("bad label {pair:?} in {line:?}"))?;
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .ok_or_else(|| format!("unquoted label {pair:?} in {line:?}"))?;
                if !is_name(k) || v.contains(['"', '\\', '\n']) {
                    return Err(format!("bad label {pair:?} in {line:?}"));
                }
                labels.push((k.to_string(), v.to_string()));
            }
            (name, labels)
        }
    };
    if !is_name(name) {
        return Err(format!("bad name {name:?} in {line:?}"));
    }
    Ok((name.to_string(), labels))
}

#[track_caller]
fn assert_parses(text: &str) {
    assert!(text.ends_with("# EOF\n"), "no EOF marker:\n{text}");
    for line in samples(text) {
        if let Err(e) = parse_sample(line) {
            panic!("{e}\nin:\n{text}");
        }
    }
}

/// The distinct values of one label over the samples of one metric.
fn label_values(text: &str, metric: &str, label: &str) -> BTreeSet<String> {
    samples(text)
        .into_iter()
        .filter_map(|l| parse_sample(l).ok())
        .filter(|(name, _)| name == metric)
        .flat_map(|(_, labels)| labels)
        .filter(|(k, _)| k == label)
        .map(|(_, v)| v)
        .collect()
}

#[test]
fn a_decision_is_one_exact_counter_line() {
    let m = Metrics::new();
    let d = listed("entity:MAIL-RU");
    m.observe_decision("imap", &d, true, true);
    let text = encode(&m);
    assert_line(
        &text,
        r#"badclients_decisions_total{service="imap",verdict="block",matched="entity",enforced="true"} 1"#,
    );
    assert_line(&text, "# TYPE badclients_decisions counter");
    m.observe_decision("IMAP", &d, true, true);
    m.observe_decision("imap", &d, false, true);
    let text = encode(&m);
    assert_line(
        &text,
        r#"badclients_decisions_total{service="imap",verdict="block",matched="entity",enforced="true"} 2"#,
    );
    assert_line(
        &text,
        r#"badclients_decisions_total{service="imap",verdict="block",matched="entity",enforced="false"} 1"#,
    );
    // A block of a login whose password nobody had checked yet is not a block.
    m.observe_decision("imap", &d, true, false);
    let text = encode(&m);
    assert_line(
        &text,
        r#"badclients_decisions_total{service="imap",verdict="unverified",matched="entity",enforced="true"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_decisions_total{service="imap",verdict="block",matched="entity",enforced="true"} 2"#,
    );
    assert!(!text.contains("MAIL-RU"));
    assert_parses(&text);
}

#[test]
fn matched_is_the_list_name_only() {
    let cases = [
        (listed("entity:MAIL-RU"), "entity"),
        (listed("maxmind:geoloc:52,13,50,0.5"), "maxmind:geoloc"),
        (
            listed("maxmind:geoloc:52.520000,13.405000,50,0.500000"),
            "maxmind:geoloc",
        ),
        (listed("maxmind:geoloc_city"), "maxmind:geoloc_city"),
        (listed("maxmind:geoloc_subdiv"), "maxmind:geoloc_subdiv"),
        (listed("maxmind:geoloc_country"), "maxmind:geoloc_country"),
        (listed("maxmind:as_org"), "maxmind:as_org"),
        (listed("ip_net"), "ip_net"),
        (listed("rev_host"), "rev_host"),
        (listed("asn"), "asn"),
        (listed("as_cc"), "as_cc"),
        (listed("as_dscr"), "as_dscr"),
        (listed("net_cc"), "net_cc"),
        (listed("net_name"), "net_name"),
        (listed("alice@example.org"), "other"),
        (listed("1.2.3.4"), "other"),
        (
            decision(
                Verdict::Block,
                Reason::DisabledService(hit("service", "pop3")),
            ),
            "service",
        ),
        (
            decision(
                Verdict::Allow,
                Reason::AllowedNetwork(hit("ip_net.allow", "10.0.0.0/8")),
            ),
            "ip_net.allow",
        ),
        (
            decision(
                Verdict::Allow,
                Reason::AllowedNetwork(hit("ignore_networks", "192.0.2.0/24")),
            ),
            "ignore_networks",
        ),
        (
            decision(
                Verdict::Allow,
                Reason::AllowedUser(hit("user.allow", "alice@example.org")),
            ),
            "user.allow",
        ),
        (
            decision(Verdict::Allow, Reason::Reserved("private-use")),
            "reserved",
        ),
        (decision(Verdict::Allow, Reason::NoMatch), "none"),
        (decision(Verdict::TempFail, Reason::LookupFailed), "none"),
    ];
    for (d, want) in &cases {
        assert_eq!(matched_label(d), *want, "{:?}", d.reason);
    }
    let m = Metrics::new();
    for (d, _) in &cases {
        m.observe_decision("smtp", d, true, true);
    }
    let text = encode(&m);
    assert_parses(&text);
    assert_line(
        &text,
        r#"badclients_decisions_total{service="smtp",verdict="tempfail",matched="none",enforced="true"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_decisions_total{service="smtp",verdict="allow",matched="reserved",enforced="true"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_decisions_total{service="smtp",verdict="block",matched="maxmind:geoloc",enforced="true"} 2"#,
    );
    assert_line(
        &text,
        r#"badclients_decisions_total{service="smtp",verdict="allow",matched="user.allow",enforced="true"} 1"#,
    );
    for secret in ["alice@example.org", "1.2.3.4", "10.0.0.0", "52.52", "pop3"] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
}

#[test]
fn decisions_of_the_real_policy_map_to_list_names() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "entity.deny.lst", "MAIL-RU\n");
    write(
        dir.path(),
        "maxmind/coords.deny.lst",
        "52.52,13.405,50,0.5\n",
    );
    write(dir.path(), "user.allow.lst", "alice@example.org\n");
    let (lists, report) = ListSet::load(dir.path());
    assert_eq!(report.errors(), 0, "{:?}", report.diagnostics);
    let policy = Policy {
        lists,
        ..Policy::default()
    };
    let ip: IpAddr = "95.163.32.1".parse().unwrap_or_else(|e| panic!("{e}"));
    let mut f = Facts::unknown(ip);
    f.entities = vec!["MAIL-RU".into()];
    let by_entity = policy.decide("bob", "imap", &f);
    assert_eq!(
        by_entity.hit().map(|h| h.label.as_str()),
        Some("entity:MAIL-RU")
    );
    assert_eq!(matched_label(&by_entity), "entity");

    f.entities.clear();
    f.maxmind = Some(GeoFacts {
        location: Some(Location {
            latitude: 52.5196,
            longitude: 13.4069,
            accuracy_radius: Some(20),
        }),
        ..GeoFacts::default()
    });
    let by_coords = policy.decide("bob", "imap", &f);
    assert_eq!(matched_label(&by_coords), "maxmind:geoloc");

    let allowed = policy.decide("alice@example.org", "imap", &f);
    assert_eq!(matched_label(&allowed), "user.allow");

    let private: IpAddr = "10.1.2.3".parse().unwrap_or_else(|e| panic!("{e}"));
    let local = policy.decide("bob", "imap", &Facts::unknown(private));
    assert_eq!(matched_label(&local), "reserved");

    let m = Metrics::new();
    for d in [&by_entity, &by_coords, &allowed, &local] {
        m.observe_decision("imap", d, false, true);
    }
    let text = encode(&m);
    assert_parses(&text);
    assert_line(
        &text,
        r#"badclients_decisions_total{service="imap",verdict="block",matched="maxmind:geoloc",enforced="false"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_decisions_total{service="imap",verdict="allow",matched="user.allow",enforced="false"} 1"#,
    );
    assert!(!text.contains("alice"));
    assert!(!text.contains("MAIL-RU"));
}

#[test]
fn services_are_a_bounded_set() {
    assert_eq!(service_label("imap"), "imap");
    assert_eq!(service_label("IMAP"), "imap");
    assert_eq!(service_label("Submission"), "submission");
    assert_eq!(service_label("ManageSieve"), "managesieve");
    assert_eq!(service_label("doveadm"), "doveadm");
    assert_eq!(service_label(""), "other");
    assert_eq!(service_label("imap "), "other");
    assert_eq!(service_label("imaps"), "other");
    let m = Metrics::new();
    let d = decision(Verdict::Allow, Reason::NoMatch);
    for i in 0..500 {
        m.observe_decision(&format!("svc-{i}"), &d, true, true);
    }
    for s in SERVICES {
        m.observe_decision(&s.to_ascii_uppercase(), &d, true, true);
    }
    let text = encode(&m);
    assert_parses(&text);
    let mut want: BTreeSet<String> = SERVICES.iter().map(|s| s.to_string()).collect();
    want.insert("other".into());
    assert_eq!(
        label_values(&text, "badclients_decisions_total", "service"),
        want
    );
    assert_line(
        &text,
        r#"badclients_decisions_total{service="other",verdict="allow",matched="none",enforced="true"} 500"#,
    );
    assert!(!text.contains("svc-"));
}

#[test]
fn client_input_never_reaches_a_label() {
    let m = Metrics::new();
    let evil_service = "x\"} 1\nfake_metric 2";
    let d = listed("entity:EVIL-USER-HANDLE");
    m.observe_decision(evil_service, &d, true, true);
    m.observe_decision("imap", &listed("EVIL-USER-HANDLE"), true, true);
    m.observe_http(evil_service, 200);
    m.observe_postfix(evil_service);
    m.observe_postfix("REJECT EVIL-USER-HANDLE is not welcome");
    let text = encode(&m);
    assert!(!text.contains("EVIL-USER-HANDLE"), "{text}");
    assert!(!text.contains(evil_service), "{text}");
    assert!(!text.contains("fake_metric"), "{text}");
    assert_parses(&text);
    assert_line(
        &text,
        r#"badclients_decisions_total{service="other",verdict="block",matched="entity",enforced="true"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_decisions_total{service="imap",verdict="block",matched="other",enforced="true"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_http_requests_total{endpoint="other",status="2xx"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_postfix_requests_total{action="other"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_postfix_requests_total{action="reject"} 1"#,
    );
}

fn source(
    source: Source,
    provenance: Provenance,
    ms: u64,
    error: Option<SourceError>,
) -> SourceReport {
    SourceReport {
        source,
        provenance,
        elapsed: Duration::from_millis(ms),
        error,
    }
}

fn lookup(sources: Vec<SourceReport>) -> LookupReport {
    let ip: IpAddr = "198.51.100.9".parse().unwrap_or_else(|e| panic!("{e}"));
    LookupReport {
        facts: Facts::unknown(ip),
        sources,
    }
}

#[test]
fn lookups_count_cache_results_durations_and_errors() {
    let m = Metrics::new();
    m.observe_lookup(&lookup(vec![
        source(Source::Ptr, Provenance::Cache, 0, None),
        source(Source::Origin, Provenance::Stale, 0, None),
        source(Source::AsName, Provenance::Upstream, 3, None),
        source(
            Source::Rdap,
            Provenance::Failed,
            2000,
            Some(SourceError::Rdap(RdapError::Timeout {
                after: Duration::from_secs(2),
            })),
        ),
    ]));
    m.observe_lookup(&lookup(vec![
        source(
            Source::Ptr,
            Provenance::Failed,
            40,
            Some(SourceError::Dns(DnsError::Failed(
                "SERVFAIL from 192.0.2.53".into(),
            ))),
        ),
        source(Source::Origin, Provenance::Cache, 0, None),
        source(Source::AsName, Provenance::Skipped, 0, None),
        source(
            Source::Rdap,
            Provenance::Failed,
            100,
            Some(SourceError::Deadline),
        ),
    ]));
    let text = encode(&m);
    assert_parses(&text);

    assert_line(
        &text,
        r#"badclients_cache_total{source="ptr",result="hit"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_cache_total{source="ptr",result="miss"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_cache_total{source="origin",result="stale"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_cache_total{source="origin",result="hit"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_cache_total{source="as_name",result="miss"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_cache_total{source="rdap",result="miss"} 2"#,
    );
    // A skipped source is not a cache event.
    assert!(!text.contains(r#"badclients_cache_total{source="as_name",result="hit"}"#));
    assert_eq!(
        samples(&text)
            .iter()
            .filter(|l| l.starts_with("badclients_cache_total{source=\"as_name\""))
            .count(),
        1
    );

    assert_line(
        &text,
        r#"badclients_upstream_errors_total{source="rdap",kind="timeout"} 2"#,
    );
    assert_line(
        &text,
        r#"badclients_upstream_errors_total{source="ptr",kind="failed"} 1"#,
    );
    assert!(!text.contains("SERVFAIL") && !text.contains("192.0.2.53"));

    // Durations only for sources that went upstream.
    assert_line(&text, "# TYPE badclients_lookup_duration_seconds histogram");
    assert_line(&text, "# UNIT badclients_lookup_duration_seconds seconds");
    let count = |src: &str| {
        value(
            &text,
            &format!("badclients_lookup_duration_seconds_count{{source=\"{src}\"}}"),
        )
    };
    assert_eq!(count("rdap"), Some(2.0));
    assert_eq!(count("as_name"), Some(1.0));
    assert_eq!(count("ptr"), Some(1.0));
    assert_eq!(count("origin"), None);
    let rdap_sum = value(
        &text,
        r#"badclients_lookup_duration_seconds_sum{source="rdap"}"#,
    );
    assert!(
        rdap_sum.is_some_and(|s| (s - 2.1).abs() < 1e-9),
        "{rdap_sum:?}"
    );
    // The 3 ms answer sits in the 5 ms bucket, not in the 2.5 ms one.
    let bucket = |le: f64| {
        samples(&text)
            .into_iter()
            .filter_map(|l| parse_sample(l).ok().map(|p| (l, p)))
            .find(|(_, (name, labels))| {
                name == "badclients_lookup_duration_seconds_bucket"
                    && labels.iter().any(|(k, v)| k == "source" && v == "as_name")
                    && labels
                        .iter()
                        .any(|(k, v)| k == "le" && v.parse::<f64>().ok() == Some(le))
            })
            .and_then(|(l, _)| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
    };
    assert_eq!(bucket(0.0025), Some(0.0));
    assert_eq!(bucket(0.005), Some(1.0));
    assert_eq!(bucket(5.0), Some(1.0));

    // The whole lookup: one observation per lookup, the longest wait.
    assert_eq!(
        value(&text, "badclients_lookup_total_duration_seconds_count"),
        Some(2.0)
    );
    let total = value(&text, "badclients_lookup_total_duration_seconds_sum");
    assert!(total.is_some_and(|s| (s - 2.1).abs() < 1e-9), "{total:?}");
}

#[test]
fn histograms_have_every_bucket_from_a_microsecond_to_five_seconds() {
    let m = Metrics::new();
    m.observe_lookup(&lookup(vec![source(
        Source::Origin,
        Provenance::Upstream,
        7,
        None,
    )]));
    let text = encode(&m);
    assert_parses(&text);
    for metric in [
        "badclients_lookup_duration_seconds_bucket",
        "badclients_lookup_total_duration_seconds_bucket",
    ] {
        let les: Vec<String> = samples(&text)
            .into_iter()
            .filter_map(|l| parse_sample(l).ok())
            .filter(|(name, _)| name == metric)
            .flat_map(|(_, labels)| labels)
            .filter(|(k, _)| k == "le")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(les.len(), DURATION_BUCKETS.len() + 1, "{metric}: {les:?}");
        assert_eq!(les.last().map(String::as_str), Some("+Inf"));
        for (le, want) in les.iter().zip(DURATION_BUCKETS) {
            assert_eq!(le.parse::<f64>().ok(), Some(want), "{metric}");
        }
    }
    assert_eq!(DURATION_BUCKETS.first(), Some(&1e-6));
    assert_eq!(DURATION_BUCKETS.last(), Some(&5.0));
    // No lookup without sources is counted.
    m.observe_lookup(&lookup(Vec::new()));
    assert_eq!(
        value(
            &encode(&m),
            "badclients_lookup_total_duration_seconds_count"
        ),
        Some(1.0)
    );
}

fn write(dir: &Path, name: &str, content: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(&path, content).unwrap_or_else(|e| panic!("{e}"));
}

fn load(dir: &Path) -> (ListSet, LoadReport) {
    ListSet::load(dir)
}

#[test]
fn reloads_set_the_list_gauges_and_count_results() {
    let m = Metrics::new();
    let text = encode(&m);
    // Both results exist before the first reload.
    assert_line(&text, r#"badclients_reloads_total{result="success"} 0"#);
    assert_line(&text, r#"badclients_reloads_total{result="failure"} 0"#);
    assert_line(&text, "badclients_reload_errors 0");

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(
        dir.path(),
        "ip_net.deny.lst",
        "10.10.0.0/16\nnot-a-net\n203.0.113.0/24\n",
    );
    write(dir.path(), "rev_host.deny.lst", "%.mail%.ru$\n");
    write(dir.path(), "maxmind/geo_loc.deny.lst", "2921044\n2950157\n");
    let (lists, report) = load(dir.path());
    assert_eq!(report.errors(), 1, "{:?}", report.diagnostics);
    let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    m.observe_reload_at(&lists, &report, true, at);
    let text = encode(&m);
    assert_parses(&text);
    assert_line(&text, r#"badclients_reloads_total{result="success"} 1"#);
    assert_line(&text, r#"badclients_reloads_total{result="failure"} 0"#);
    assert_line(&text, "badclients_reload_errors 1");
    assert_line(
        &text,
        r#"badclients_list_entries{list="ip_net.deny.lst"} 2"#,
    );
    assert_line(
        &text,
        r#"badclients_list_entries{list="rev_host.deny.lst"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_list_entries{list="maxmind/geo_loc.deny.lst"} 2"#,
    );
    assert_line(
        &text,
        r#"badclients_list_entries{list="entity.deny.lst"} 0"#,
    );
    assert_eq!(
        label_values(&text, "badclients_list_entries", "list").len(),
        badclients::lists::ListKind::ALL.len()
    );
    assert_eq!(
        value(&text, "badclients_last_reload_timestamp_seconds"),
        Some(1_700_000_000.0)
    );
    assert_line(
        &text,
        "# UNIT badclients_last_reload_timestamp_seconds seconds",
    );
    assert!(!text.contains("10.10.0.0") && !text.contains("mail%.ru"));

    // A failed reload keeps the lists in force: their gauges and the time stay.
    let (empty, bad) = load(&dir.path().join("missing"));
    assert!(bad.errors() >= 1);
    m.observe_reload_at(&empty, &bad, false, at + Duration::from_secs(60));
    let text = encode(&m);
    assert_line(&text, r#"badclients_reloads_total{result="success"} 1"#);
    assert_line(&text, r#"badclients_reloads_total{result="failure"} 1"#);
    assert_line(&text, &format!("badclients_reload_errors {}", bad.errors()));
    assert_line(
        &text,
        r#"badclients_list_entries{list="ip_net.deny.lst"} 2"#,
    );
    assert_eq!(
        value(&text, "badclients_last_reload_timestamp_seconds"),
        Some(1_700_000_000.0)
    );

    // A good reload now: the clock is today's.
    write(dir.path(), "ip_net.deny.lst", "10.10.0.0/16\n");
    let (lists, report) = load(dir.path());
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    m.observe_reload(&lists, &report, true);
    let text = encode(&m);
    assert_line(&text, r#"badclients_reloads_total{result="success"} 2"#);
    assert_line(&text, "badclients_reload_errors 0");
    assert_line(
        &text,
        r#"badclients_list_entries{list="ip_net.deny.lst"} 1"#,
    );
    let ts = value(&text, "badclients_last_reload_timestamp_seconds").unwrap_or(0.0);
    assert!(
        ts >= before.floor() && ts < before + 60.0,
        "{ts} vs {before}"
    );
}

#[test]
fn http_and_postfix_requests() {
    assert_eq!(endpoint_label("policy_allow"), "policy_allow");
    assert_eq!(endpoint_label("policy_report"), "policy_report");
    assert_eq!(endpoint_label("check"), "check");
    assert_eq!(endpoint_label("metrics"), "metrics");
    assert_eq!(endpoint_label("/admin"), "other");
    assert_eq!(status_class(200), "2xx");
    assert_eq!(status_class(204), "2xx");
    assert_eq!(status_class(302), "3xx");
    assert_eq!(status_class(404), "4xx");
    assert_eq!(status_class(503), "5xx");
    assert_eq!(status_class(42), "other");
    assert_eq!(status_class(600), "other");
    assert_eq!(postfix_action_label("DUNNO"), "dunno");
    assert_eq!(
        postfix_action_label("defer_if_permit later"),
        "defer_if_permit"
    );
    assert_eq!(postfix_action_label("450 4.7.1 later"), "4xx");

    let m = Metrics::new();
    m.observe_http("policy_allow", 200);
    m.observe_http("policy_allow", 204);
    m.observe_http("policy_report", 400);
    m.observe_http("check", 500);
    m.observe_http("metrics", 200);
    m.observe_http("/etc/passwd", 404);
    m.observe_postfix("DUNNO");
    m.observe_postfix("dunno");
    m.observe_postfix("REJECT mail client cloud login refused");
    m.observe_postfix("DEFER_IF_PERMIT lookups failed");
    let text = encode(&m);
    assert_parses(&text);
    assert_line(
        &text,
        r#"badclients_http_requests_total{endpoint="policy_allow",status="2xx"} 2"#,
    );
    assert_line(
        &text,
        r#"badclients_http_requests_total{endpoint="policy_report",status="4xx"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_http_requests_total{endpoint="check",status="5xx"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_http_requests_total{endpoint="metrics",status="2xx"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_http_requests_total{endpoint="other",status="4xx"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_postfix_requests_total{action="dunno"} 2"#,
    );
    assert_line(
        &text,
        r#"badclients_postfix_requests_total{action="reject"} 1"#,
    );
    assert_line(
        &text,
        r#"badclients_postfix_requests_total{action="defer_if_permit"} 1"#,
    );
    assert!(!text.contains("passwd") && !text.contains("refused"));
}

#[test]
fn shared_across_threads_counts_every_observation() {
    let m = Arc::new(Metrics::new());
    let d = listed("asn");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = Arc::clone(&m);
            let d = d.clone();
            std::thread::spawn(move || {
                for _ in 0..250 {
                    m.observe_decision("pop3", &d, true, true);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap_or_else(|_| panic!("a thread panicked"));
    }
    let text = encode(&m);
    assert_line(
        &text,
        r#"badclients_decisions_total{service="pop3",verdict="block",matched="asn",enforced="true"} 1000"#,
    );
}

#[test]
fn exposition_is_openmetrics_text() {
    assert_eq!(
        CONTENT_TYPE,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let m = Metrics::default();
    let text = encode(&m);
    assert_parses(&text);
    // Before anything happened: the plain gauges, the whole-lookup histogram and the
    // reload results; empty families print nothing.
    assert_line(&text, "badclients_reload_errors 0");
    assert_line(&text, "badclients_lookup_total_duration_seconds_count 0");
    assert!(!text.contains("badclients_decisions"));
    assert!(text.starts_with("# HELP "));

    let all = Metrics::new();
    all.observe_decision("imap", &listed("asn"), true, true);
    all.observe_lookup(&lookup(vec![source(
        Source::Rdap,
        Provenance::Failed,
        5,
        Some(SourceError::Deadline),
    )]));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (lists, report) = load(dir.path());
    all.observe_reload(&lists, &report, true);
    all.observe_http("check", 200);
    all.observe_postfix("DUNNO");
    let text = encode(&all);
    assert_parses(&text);
    for family in [
        "# TYPE badclients_decisions counter",
        "# TYPE badclients_lookup_duration_seconds histogram",
        "# TYPE badclients_lookup_total_duration_seconds histogram",
        "# TYPE badclients_cache counter",
        "# TYPE badclients_upstream_errors counter",
        "# TYPE badclients_reloads counter",
        "# TYPE badclients_reload_errors gauge",
        "# TYPE badclients_reload_warnings gauge",
        "# TYPE badclients_list_entries gauge",
        "# TYPE badclients_last_reload_timestamp_seconds gauge",
        "# TYPE badclients_http_requests counter",
        "# TYPE badclients_postfix_requests counter",
    ] {
        assert_line(&text, family);
    }
    // Two registries do not share anything.
    let other = Metrics::new();
    other.observe_postfix("OK");
    assert!(!encode(&m).contains("badclients_postfix_requests_total{"));
    assert_line(
        &encode(&other),
        r#"badclients_postfix_requests_total{action="ok"} 1"#,
    );
}
