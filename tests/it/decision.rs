//! Each step of the decision order and its precedence.

use std::net::IpAddr;

use badclients::audit::AuditLine;
use badclients::config::{Config, LoadedConfig};
use badclients::decision::{Policy, Reason, Verdict};
use badclients::facts::{Asn, Facts};
use testkit::ListDir;

/// Lists in which every deny list matches the facts built by `listed_facts`.
fn everything_listed() -> ListDir {
    ListDir::new()
        .with(
            "ip_net.deny.lst",
            "176.112.168.0/21\n2a00:1450::/32\n10.0.0.0/8\n",
        )
        .with("rev_host.deny.lst", ".*%.mail%.ru\n")
        .with("asn.deny.lst", "AS47764\n")
        .with("as_cc.deny.lst", "RU\n")
        .with("as_dscr.deny.lst", "VK%-AS, RU\n")
        .with("net_cc.deny.lst", "RU\n")
        .with("net_name.deny.lst", "VK%-FRONT\n")
        .with("entity.deny.lst", "MAIL-RU\n")
}

fn listed_facts(ip: &str) -> Facts {
    Facts {
        host: Some("rimap26.i.mail.ru".into()),
        asn: Some(Asn(47764)),
        as_cc: Some("RU".into()),
        as_desc: Some("VK-AS, RU".into()),
        net_name: Some("VK-FRONT".into()),
        net_cc: Some("RU".into()),
        entities: vec!["MAIL-RU".into()],
        ..Facts::unknown(ip.parse::<IpAddr>().unwrap())
    }
}

fn policy(dir: &ListDir, config: Config) -> Policy {
    let loaded = LoadedConfig {
        config: Config {
            list_path: dir.path().to_path_buf(),
            ..config
        },
        path: None,
    };
    let (policy, report) = badclients::app::policy(&loaded, None).unwrap();
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    policy
}

#[test]
fn deny_lists_apply_in_contract_order() {
    let order = [
        ("ip_net.deny.lst", "ip_net"),
        ("rev_host.deny.lst", "rev_host"),
        ("asn.deny.lst", "asn"),
        ("as_cc.deny.lst", "as_cc"),
        ("as_dscr.deny.lst", "as_dscr"),
        ("net_cc.deny.lst", "net_cc"),
        ("net_name.deny.lst", "net_name"),
        ("entity.deny.lst", "entity:MAIL-RU"),
    ];
    let mut dir = everything_listed();
    let facts = listed_facts("176.112.169.218");
    for (file, label) in order {
        let p = policy(&dir, Config::default());
        let d = p.decide("craig", "imap", &facts);
        assert_eq!(d.verdict, Verdict::Block);
        assert_eq!(d.hit().unwrap().label, label);
        assert!(d.log);
        // Empty that list: the next one in the order matches.
        dir.write(file, "");
    }
    let d = policy(&dir, Config::default()).decide("craig", "imap", &facts);
    assert_eq!((d.verdict, &d.reason), (Verdict::Allow, &Reason::NoMatch));
    assert!(d.log);
}

#[test]
fn disabled_services_beat_reserved_addresses() {
    let dir = ListDir::new();
    let p = policy(
        &dir,
        Config {
            disabled_services: vec!["pop3".into()],
            ..Config::default()
        },
    );
    let reserved = Facts::unknown("127.0.0.1".parse().unwrap());
    let d = p.decide("u", "POP3", &reserved);
    assert_eq!(d.verdict, Verdict::Block);
    assert_eq!(d.hit().unwrap().label, "service");
    let d = p.decide("u", "imap", &reserved);
    assert_eq!(d.reason, Reason::Reserved("Loopback"));
    assert!(!d.log, "reserved logins are logged only with log_local");
}

#[test]
fn reserved_addresses_beat_every_deny_list_and_log_local_logs_them() {
    let dir = everything_listed();
    let facts = listed_facts("10.1.2.3");
    let d = policy(&dir, Config::default()).decide("u", "imap", &facts);
    assert_eq!(d.verdict, Verdict::Allow);
    assert_eq!(d.reason, Reason::Reserved("Private-Use Networks"));
    assert!(!d.log);
    let p = policy(
        &dir,
        Config {
            log_local: true,
            ..Config::default()
        },
    );
    assert!(p.decide("u", "imap", &facts).log);
    // IPv6 and IPv4-mapped reserved addresses too.
    for ip in ["::1", "fd12::1", "::ffff:10.1.2.3", "2001:db8::5"] {
        let d = p.decide("u", "imap", &listed_facts(ip));
        assert!(
            matches!(d.reason, Reason::Reserved(_)),
            "{ip}: {:?}",
            d.reason
        );
    }
}

#[test]
fn ip_net_allow_beats_every_deny_list_and_is_not_logged() {
    let mut dir = everything_listed();
    dir.write(
        "ip_net.allow.lst",
        "176.112.169.0/24 partner\n2a00:1450:4001::/48\n",
    );
    let p = policy(&dir, Config::default());
    let d = p.decide("u", "imap", &listed_facts("176.112.169.218"));
    assert_eq!(d.verdict, Verdict::Allow);
    assert!(matches!(d.reason, Reason::AllowedNetwork(_)));
    assert_eq!(d.hit().unwrap().label, "ip_net.allow");
    assert_eq!(d.hit().unwrap().line, Some(1));
    assert!(!d.log);
    let d = p.decide("u", "imap", &listed_facts("2a00:1450:4001::1"));
    assert_eq!(d.verdict, Verdict::Allow);
    // Outside the allowed network the deny lists apply.
    let d = p.decide("u", "imap", &listed_facts("176.112.170.1"));
    assert_eq!(d.verdict, Verdict::Block);
    let d = p.decide("u", "imap", &listed_facts("2a00:1450:4002::1"));
    assert_eq!(d.hit().unwrap().label, "ip_net");
}

#[test]
fn ignore_networks_setting_works_like_ip_net_allow() {
    let dir = everything_listed();
    let p = policy(
        &dir,
        Config {
            ignore_networks: vec!["176.112.168.0/21".into()],
            ..Config::default()
        },
    );
    let d = p.decide("u", "imap", &listed_facts("176.112.169.218"));
    assert_eq!(d.verdict, Verdict::Allow);
    assert_eq!(d.hit().unwrap().label, "ignore_networks");
    assert!(!d.log);
    // But it does not beat disabled_services (step 1).
    let p = policy(
        &dir,
        Config {
            ignore_networks: vec!["176.112.168.0/21".into()],
            disabled_services: vec!["imap".into()],
            ..Config::default()
        },
    );
    assert_eq!(
        p.decide("u", "imap", &listed_facts("176.112.169.218"))
            .verdict,
        Verdict::Block
    );
}

#[test]
fn user_allow_beats_deny_lists_exact_or_ignoring_case() {
    let mut dir = everything_listed();
    dir.write("user.allow.lst", "Craig\n'ADMIN@Example.org\n\"quoted\n");
    let p = policy(&dir, Config::default());
    let facts = listed_facts("176.112.169.218");
    for (user, allowed) in [
        ("Craig", true),
        ("craig", false),
        ("admin@example.org", true),
        ("ADMIN@EXAMPLE.ORG", true),
        ("quoted", true),
        ("Quoted", false),
    ] {
        let d = p.decide(user, "imap", &facts);
        assert_eq!(d.verdict == Verdict::Allow, allowed, "{user}");
        if allowed {
            assert!(matches!(d.reason, Reason::AllowedUser(_)));
            assert!(d.log, "allowed users are still audited");
        }
    }
}

#[test]
fn audit_line_cannot_be_forged_by_user_service_or_upstream_values() {
    let dir = ListDir::new().with("asn.deny.lst", "AS47764\n");
    let p = policy(&dir, Config::default());
    let mut facts = listed_facts("176.112.169.218");
    facts.host = Some("evil.example, asn=AS1".into());
    facts.net_name = Some("X>, net_cc=DE".into());
    facts.entities = vec!["A\nmail-audit: user=<root>".into()];
    let user = "x>, service=imap, ip=1.2.3.4";
    let service = "imap\r\nmail-audit: forged";
    let d = p.decide(user, service, &facts);
    let line = AuditLine {
        user,
        service,
        facts: &facts,
        decision: &d,
        enforced: true,
        password_checked: true,
    }
    .to_string();
    assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
    // A naive split on ", key=" finds every field exactly once.
    let keys: Vec<&str> = line
        .trim_start_matches("mail-audit: ")
        .split(", ")
        .filter_map(|part| part.split_once('=').map(|(k, _)| k))
        .filter(|k| k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .collect();
    assert_eq!(
        keys,
        [
            "user", "service", "ip", "host", "asn", "as_cc", "as_desc", "net_name", "net_cc",
            "entity", "blocked", "matched"
        ],
        "{line}"
    );
    assert!(
        line.contains("user=<x\\x3e\\x2c service=imap\\x2c ip=1.2.3.4>"),
        "{line}"
    );
    assert!(line.contains("net_name=<X\\x3e\\x2c net_cc=DE>"), "{line}");
    assert!(line.ends_with(", blocked=True, matched=asn"), "{line}");
}

/// The daemon first tries a decision with a small step budget and, when that runs out,
/// makes it again with the whole budget elsewhere: the quick try either gives exactly the
/// decision `decide` gives, or none.
#[test]
fn a_quick_try_gives_the_decision_or_nothing() {
    let dir = ListDir::new().with(
        "rev_host.deny.lst",
        format!("{0}%d\n{0}[0-9]\n.*%.mail%.ru\n", ".-".repeat(10)),
    );
    let loaded = LoadedConfig {
        config: Config {
            list_path: dir.path().to_path_buf(),
            ..Config::default()
        },
        path: None,
    };
    let (policy, report) = badclients::app::policy(&loaded, None).unwrap();
    assert!(
        report
            .diagnostics
            .iter()
            .any(|d| d.message.contains("is expensive")),
        "{:?}",
        report.diagnostics
    );
    assert!(policy.matching_can_be_slow());
    let steps = badclients::decision::QUICK_MATCHING_STEPS;

    // A digit first: the expensive patterns stop at once, the next one blocks.
    let quick = Facts {
        host: Some("1.mail.ru".into()),
        ..listed_facts("176.112.169.218")
    };
    let tried = policy.try_quickly("u", "imap", &quick, steps).unwrap();
    let full = policy.decide("u", "imap", &quick);
    assert_eq!(format!("{tried:?}"), format!("{full:?}"));
    assert_eq!(tried.verdict, Verdict::Block);

    // No digit in 60 letters: the quick try runs out and gives nothing; the whole budget
    // runs out too (each expensive pattern fails on its own million steps, which the
    // shared budget pays), and `decide_after` gives what `decide` gives.
    let long = Facts {
        host: Some(format!("{}.mail.ru", "a".repeat(60))),
        ..listed_facts("176.112.169.218")
    };
    let tried = policy
        .try_quickly("u", "imap", &long, steps)
        .expect_err("60 letters need more than the quick steps");
    let after = policy.decide_after("u", "imap", &long, &tried);
    let full = policy.decide("u", "imap", &long);
    assert_eq!(after.verdict, full.verdict);
    assert_eq!(after.reason, full.reason);
    assert_eq!(after.reason, Reason::MatchBudgetExhausted);
    // With a quick budget as large as the whole one, the try is the decision.
    let whole = policy
        .try_quickly("u", "imap", &long, policy.match_budget)
        .unwrap();
    assert_eq!(whole.reason, Reason::MatchBudgetExhausted);
}
