//! Every list file, every comment/literal/case rule, and malformed lines of every type.

use std::net::IpAddr;

use badclients::decision::{Policy, Reason, Verdict};
use badclients::facts::{Asn, Facts, GeoFacts, Location, Place};
use badclients::lists::{ListKind, ListSet, LoadReport, Severity};
use testkit::{repo, ListDir};

fn load(dir: &ListDir) -> (Policy, LoadReport) {
    let (lists, report) = ListSet::load(dir.path());
    (
        Policy {
            lists,
            ..Policy::default()
        },
        report,
    )
}

fn facts(ip: &str) -> Facts {
    Facts::unknown(ip.parse::<IpAddr>().unwrap())
}

fn matched(policy: &Policy, f: &Facts) -> Option<String> {
    let d = policy.decide("user", "imap", f);
    match d.verdict {
        Verdict::Block => Some(d.hit().unwrap().label.clone()),
        Verdict::Allow | Verdict::TempFail => None,
    }
}

/// The diagnostics as `FILE:LINE: severity` strings, with the directory stripped.
fn diags(report: &LoadReport, dir: &ListDir) -> Vec<String> {
    report
        .diagnostics
        .iter()
        .map(|d| {
            let d = d.to_string();
            d.strip_prefix(&format!("{}/", dir.path().display()))
                .unwrap_or(&d)
                .to_string()
        })
        .collect()
}

#[test]
fn comments_blank_lines_and_trailing_comments_in_every_word_list() {
    let comments = "# hash\n  ; semicolon\n\t-- dashes\n\n   \n";
    let dir = ListDir::new()
        .with(
            "ip_net.deny.lst",
            format!("{comments}10.10.0.0/16 trailing comment\n"),
        )
        .with("asn.deny.lst", format!("{comments}AS3209 Vodafone\n"))
        .with("as_cc.deny.lst", format!("{comments}RU  Russia\n"))
        .with("net_cc.deny.lst", format!("{comments}CN\n"))
        .with("entity.deny.lst", format!("{comments}MAIL-RU\n"))
        .with(
            "maxmind/geo_loc.deny.lst",
            format!("{comments}2921044 Germany\n"),
        )
        .with(
            "maxmind/coords.deny.lst",
            format!("{comments}52.52,13.405,50,0.5 Berlin\n"),
        );
    let (policy, report) = load(&dir);
    assert!(report.diagnostics.is_empty(), "{:?}", diags(&report, &dir));
    for kind in [
        ListKind::IpNet,
        ListKind::Asn,
        ListKind::AsCc,
        ListKind::NetCc,
        ListKind::Entity,
        ListKind::MaxmindGeoLoc,
        ListKind::MaxmindCoords,
    ] {
        assert_eq!(policy.lists.len_of(kind), 1, "{kind}");
    }
    assert_eq!(report.files, 7);
}

#[test]
fn ip_net_ipv4_ipv6_mapped_and_host_bits() {
    let dir = ListDir::new().with(
        "ip_net.deny.lst",
        "176.112.170.0/21\n2a00:1450:4000::/37 google v6\n203.0.113.77\n",
    );
    let (policy, report) = load(&dir);
    assert_eq!(
        diags(&report, &dir),
        vec!["ip_net.deny.lst:1: warning: 176.112.170.0/21 has host bits set; using 176.112.168.0/21"]
    );
    for ip in [
        "176.112.168.0",
        "176.112.169.218",
        "176.112.175.255",
        "::ffff:176.112.169.218",
    ] {
        assert_eq!(
            matched(&policy, &facts(ip)).as_deref(),
            Some("ip_net"),
            "{ip}"
        );
    }
    assert_eq!(matched(&policy, &facts("176.112.176.0")), None);
    assert_eq!(
        matched(&policy, &facts("2a00:1450:4001:80b::200e")).as_deref(),
        Some("ip_net")
    );
    assert_eq!(matched(&policy, &facts("2a00:1450:8000::1")), None);
    let d = policy.decide("u", "imap", &facts("176.112.169.218"));
    let hit = d.hit().unwrap();
    assert_eq!(hit.line, Some(1));
    assert_eq!(hit.entry, "176.112.170.0/21");
    assert_eq!(
        hit.file.as_deref(),
        Some(dir.path().join("ip_net.deny.lst").as_path())
    );
}

#[test]
fn rev_host_patterns_literals_and_unknown_host() {
    let dir = ListDir::new().with(
        "rev_host.deny.lst",
        "mail%-.+%-.+%.google%.com\n'RIMAP26.I.MAIL.RU\n\"Node-EU-0001.email2-cloud.com\n<>\n",
    );
    let (policy, report) = load(&dir);
    assert!(report.diagnostics.is_empty(), "{:?}", diags(&report, &dir));
    let mut f = facts("1.2.3.4");
    let mut host = |h: Option<&str>| {
        f.host = h.map(String::from);
        matched(&policy, &f)
    };
    assert_eq!(
        host(Some("mail-ej1-f15.google.com")).as_deref(),
        Some("rev_host")
    );
    // Whole-value rule: a longer value does not match.
    assert_eq!(host(Some("xmail-ej1-f15.google.com.evil")), None);
    assert_eq!(host(Some("mail-ej1.google.com")), None);
    // ' literal: case-insensitive.
    assert_eq!(host(Some("rimap26.i.mail.ru")).as_deref(), Some("rev_host"));
    // " literal: exact.
    assert_eq!(
        host(Some("Node-EU-0001.email2-cloud.com")).as_deref(),
        Some("rev_host")
    );
    assert_eq!(host(Some("node-eu-0001.email2-cloud.com")), None);
    // No PTR is matched as <> (here by the pattern "<>", which is literal text).
    assert_eq!(host(None).as_deref(), Some("rev_host"));
}

#[test]
fn whole_value_rule_follows_lua() {
    // string.match(v, p) == v: with a capture the first capture is compared; a lazy
    // pattern that stops short does not match.
    let dir = ListDir::new().with(
        "net_name.deny.lst",
        "(VK%-FRONT)\nEU%-LINODE%-%d-\n(GOO)GLE\n",
    );
    let (policy, report) = load(&dir);
    assert!(report.diagnostics.is_empty(), "{:?}", diags(&report, &dir));
    let mut f = facts("1.2.3.4");
    let mut name = |n: &str| {
        f.net_name = Some(n.into());
        matched(&policy, &f)
    };
    assert_eq!(name("VK-FRONT").as_deref(), Some("net_name"));
    assert_eq!(name("EU-LINODE-"), Some("net_name".into()));
    assert_eq!(name("EU-LINODE-20141229"), None);
    assert_eq!(name("GOOGLE"), None);
}

#[test]
fn first_match_in_file_order_is_reported() {
    let dir = ListDir::new().with(
        "rev_host.deny.lst",
        "# comment\n.*%.example%.com\n'HOST.EXAMPLE.COM\nhost%.example%.com\n",
    );
    let (policy, _) = load(&dir);
    let mut f = facts("1.2.3.4");
    f.host = Some("host.example.com".into());
    let d = policy.decide("u", "imap", &f);
    assert_eq!(d.hit().unwrap().line, Some(2));
    assert_eq!(d.hit().unwrap().entry, ".*%.example%.com");
}

#[test]
fn asn_list_matches_cymru_and_maxmind_asn() {
    let dir = ListDir::new().with("asn.deny.lst", "AS47764 VK\nAS63949\n");
    let (policy, _) = load(&dir);
    let mut f = facts("1.2.3.4");
    f.asn = Some(Asn(47764));
    assert_eq!(matched(&policy, &f).as_deref(), Some("asn"));
    f.asn = Some(Asn(4776));
    assert_eq!(matched(&policy, &f), None);
    f.maxmind = Some(GeoFacts {
        asn: Some(Asn(63949)),
        ..GeoFacts::default()
    });
    assert_eq!(matched(&policy, &f).as_deref(), Some("asn"));
}

#[test]
fn country_lists_are_case_sensitive_and_know_none() {
    let dir = ListDir::new()
        .with("as_cc.deny.lst", "RU\nru\nXX\n")
        .with("net_cc.deny.lst", "None   every ARIN network\n");
    let (policy, report) = load(&dir);
    assert_eq!(
        diags(&report, &dir),
        vec![
            "as_cc.deny.lst:2: warning: unknown ISO 3166 country code \"ru\" (codes are compared case-sensitively: write it in upper case)",
            "as_cc.deny.lst:3: warning: unknown ISO 3166 country code \"XX\"",
        ]
    );
    let mut f = facts("1.2.3.4");
    f.as_cc = Some("RU".into());
    f.net_cc = Some("RU".into());
    assert_eq!(matched(&policy, &f).as_deref(), Some("as_cc"));
    f.as_cc = Some("Ru".into());
    assert_eq!(matched(&policy, &f), None);
    f.net_cc = None;
    assert_eq!(matched(&policy, &f).as_deref(), Some("net_cc"));
}

#[test]
fn as_dscr_list_matches_the_description() {
    // The older tool looked up a misspelt field, so this list never matched; it must.
    let dir = ListDir::new().with("as_dscr.deny.lst", "VK%-AS, RU\n'google, us\n");
    let (policy, _) = load(&dir);
    let mut f = facts("1.2.3.4");
    f.as_desc = Some("VK-AS, RU".into());
    assert_eq!(matched(&policy, &f).as_deref(), Some("as_dscr"));
    f.as_desc = Some("GOOGLE, US".into());
    assert_eq!(matched(&policy, &f).as_deref(), Some("as_dscr"));
    f.as_desc = None;
    assert_eq!(matched(&policy, &f), None);
}

#[test]
fn entities_ignore_case_and_report_the_facts_handle() {
    let dir = ListDir::new().with("entity.deny.lst", "vkcompany-mnt\nEY1327-RIPE\n");
    let (policy, _) = load(&dir);
    let mut f = facts("1.2.3.4");
    f.entities = vec!["EY1327-RIPE".into(), "VKCOMPANY-MNT".into()];
    // The first list line that matches any entity wins, as in the older tool.
    assert_eq!(
        matched(&policy, &f).as_deref(),
        Some("entity:VKCOMPANY-MNT")
    );
    f.entities = vec!["OTHER".into()];
    assert_eq!(matched(&policy, &f), None);
}

fn geo() -> GeoFacts {
    GeoFacts {
        as_org: Some("Amazon.com, Inc.".into()),
        city: Some(Place {
            geoname_id: Some(2950159),
            code: None,
            name: Some("Berlin".into()),
        }),
        subdivisions: vec![Place {
            geoname_id: Some(2950157),
            code: Some("BE".into()),
            name: Some("Land Berlin".into()),
        }],
        country: Some(Place {
            geoname_id: Some(2921044),
            code: Some("DE".into()),
            name: Some("Germany".into()),
        }),
        location: Some(Location {
            latitude: 52.5196,
            longitude: 13.4069,
            accuracy_radius: Some(20),
        }),
        ..GeoFacts::default()
    }
}

#[test]
fn maxmind_lists_in_contract_order() {
    let mut dir = ListDir::new()
        .with("maxmind/as_org.deny.lst", "Amazon%.com, Inc%.\n")
        .with("maxmind/geo_loc.deny.lst", "2921044\n2950157\n2950159\n")
        .with("maxmind/coords.deny.lst", "52.52,13.405,50,0.5\n");
    let mut f = facts("1.2.3.4");
    f.maxmind = Some(geo());
    let label = |dir: &ListDir, f: &Facts| matched(&load(dir).0, f);
    assert_eq!(label(&dir, &f).as_deref(), Some("maxmind:as_org"));
    dir.write("maxmind/as_org.deny.lst", "");
    assert_eq!(label(&dir, &f).as_deref(), Some("maxmind:geoloc_city"));
    dir.write("maxmind/geo_loc.deny.lst", "2921044\n2950157\n");
    assert_eq!(label(&dir, &f).as_deref(), Some("maxmind:geoloc_subdiv"));
    dir.write("maxmind/geo_loc.deny.lst", "2921044\n");
    assert_eq!(label(&dir, &f).as_deref(), Some("maxmind:geoloc_country"));
    dir.write("maxmind/geo_loc.deny.lst", "");
    assert_eq!(
        label(&dir, &f).as_deref(),
        Some("maxmind:geoloc:52.520000,13.405000,50,0.500000")
    );
    // Far away from the circle: nothing.
    f.maxmind.as_mut().unwrap().location = Some(Location {
        latitude: 48.1,
        longitude: 11.6,
        accuracy_radius: Some(20),
    });
    assert_eq!(label(&dir, &f), None);
    // Without GeoIP facts the maxmind lists never apply.
    dir.write("maxmind/geo_loc.deny.lst", "2921044\n");
    f.maxmind = None;
    assert_eq!(label(&dir, &f), None);
}

#[test]
fn malformed_lines_of_every_type_name_file_and_line_and_the_rest_loads() {
    let dir = ListDir::new()
        .with("ip_net.deny.lst", "10.0.0.0/33\nnot-a-net\n1.2.3.0/24\n")
        .with("ip_net.allow.lst", "fe80::/129\n")
        .with("rev_host.deny.lst", "bad%\n[abc\n%f\ngood%.com\n'\n")
        .with("asn.deny.lst", "ASX\n3209\nAS1\n")
        .with("as_cc.deny.lst", "R1\n")
        .with("as_dscr.deny.lst", "(unfinished\n")
        .with("net_cc.deny.lst", "U-S\n")
        .with("net_name.deny.lst", "%1\n")
        .with("user.allow.lst", "\"\n")
        .with("maxmind/as_org.deny.lst", "%b\n")
        .with("maxmind/geo_loc.deny.lst", "Berlin\n")
        .with("maxmind/coords.deny.lst", "52.5,13.4,50\n");
    let (policy, report) = load(&dir);
    let got = diags(&report, &dir);
    let want = [
        "ip_net.allow.lst:1: error: not a CIDR network: fe80::/129",
        "ip_net.deny.lst:1: error: not a CIDR network: 10.0.0.0/33",
        "ip_net.deny.lst:2: error: not a CIDR network or IP address: not-a-net",
        "rev_host.deny.lst:1: error: malformed Lua pattern bad%: malformed pattern (ends with '%')",
        "rev_host.deny.lst:2: error: malformed Lua pattern [abc: malformed pattern (missing ']')",
        "rev_host.deny.lst:3: error: malformed Lua pattern %f: missing '[' after '%f' in pattern",
        "rev_host.deny.lst:5: error: empty literal: nothing follows the quote",
        "asn.deny.lst:1: error: not an AS number: \"ASX\"",
        "asn.deny.lst:2: warning: 3209 is read as AS3209; write it as AS3209",
        "as_cc.deny.lst:1: error: not a country code: R1",
        "as_dscr.deny.lst:1: error: malformed Lua pattern (unfinished: unfinished capture",
        "net_cc.deny.lst:1: error: not a country code: U-S",
        "net_name.deny.lst:1: error: malformed Lua pattern %1: invalid capture index %1",
        "maxmind/as_org.deny.lst:1: error: malformed Lua pattern %b: malformed pattern (missing arguments to '%b')",
        "maxmind/geo_loc.deny.lst:1: error: not a GeoNames id: Berlin (expected a number)",
        "maxmind/coords.deny.lst:1: error: expected lat,lon,radius_km,overlap: 52.5,13.4,50",
        "user.allow.lst:1: error: empty user name: nothing follows the quote",
    ];
    for w in want {
        assert!(
            got.iter().any(|g| g.starts_with(w)),
            "missing {w:?} in\n{}",
            got.join("\n")
        );
    }
    assert_eq!(report.errors(), want.len() - 1, "{}", got.join("\n"));
    assert_eq!(report.warnings(), 1);
    // The good lines still loaded.
    assert_eq!(policy.lists.len_of(ListKind::IpNet), 1);
    assert_eq!(policy.lists.len_of(ListKind::RevHost), 1);
    assert_eq!(policy.lists.len_of(ListKind::Asn), 2);
    let mut f = facts("1.2.3.4");
    assert_eq!(matched(&policy, &f).as_deref(), Some("ip_net"));
    f.ip = "5.6.7.8".parse().unwrap();
    f.host = Some("good.com".into());
    assert_eq!(matched(&policy, &f).as_deref(), Some("rev_host"));
}

#[test]
fn non_utf8_patterns_match_bytes() {
    let dir = ListDir::new().with("net_name.deny.lst", b"caf\xe9%d+\n".as_slice());
    let (policy, report) = load(&dir);
    assert!(report.diagnostics.is_empty());
    // Facts are UTF-8 strings; a Latin-1 byte never equals a UTF-8 "é", and the
    // pattern is matched byte for byte.
    let mut f = facts("1.2.3.4");
    f.net_name = Some("café12".into());
    assert_eq!(matched(&policy, &f), None);
    let dir = ListDir::new().with("net_name.deny.lst", "café%d+\n");
    let (policy, _) = load(&dir);
    assert_eq!(matched(&policy, &f).as_deref(), Some("net_name"));
}

#[test]
fn unreadable_list_is_an_error_naming_the_file() {
    let dir = ListDir::new().with("asn.deny.lst", "AS1\n");
    // A directory where a file is expected cannot be read.
    std::fs::create_dir(dir.path().join("rev_host.deny.lst")).unwrap();
    let (_, report) = load(&dir);
    let got = diags(&report, &dir);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("rev_host.deny.lst: error: cannot read the list"),
        "{got:?}"
    );
}

#[test]
fn missing_directory_is_an_error_but_missing_files_are_empty_lists() {
    let (_, report) = ListSet::load(std::path::Path::new("/nonexistent/badclients-lists"));
    assert_eq!(report.errors(), 1);
    assert_eq!(report.diagnostics[0].severity, Severity::Error);
    let dir = ListDir::new();
    let (set, report) = ListSet::load(dir.path());
    assert!(report.diagnostics.is_empty());
    assert_eq!(set.total_entries(), 0);
}

#[test]
fn literal_with_closing_quote_warns() {
    let dir = ListDir::new().with("rev_host.deny.lst", "'host.example'\n");
    let (_, report) = load(&dir);
    let got = diags(&report, &dir);
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("warning: literal"), "{got:?}");
}

#[test]
fn duplicates_warn() {
    let dir = ListDir::new()
        .with("asn.deny.lst", "AS1\nAS1\n")
        .with("ip_net.deny.lst", "10.0.0.0/8\n10.1.0.0/8\n");
    let (_, report) = load(&dir);
    let got = diags(&report, &dir);
    assert!(
        got.contains(&"asn.deny.lst:2: warning: duplicate entry (first at line 1)".to_string()),
        "{got:?}"
    );
    assert!(
        got.iter().any(|g| g.starts_with(
            "ip_net.deny.lst:2: warning: duplicate network 10.0.0.0/8 (first at line 1)"
        )),
        "{got:?}"
    );
}

#[test]
fn shipped_lists_are_inactive_and_every_example_is_valid() {
    let shipped = repo().join("lists");
    let (set, report) = ListSet::load(&shipped);
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    assert_eq!(
        set.total_entries(),
        0,
        "the shipped lists must block nothing by default"
    );
    assert_eq!(
        report.files,
        ListKind::ALL.len(),
        "every list file is shipped"
    );
    // Enable every commented example (`# ` lines) and load again: no errors.
    let mut dir = ListDir::new();
    for kind in ListKind::ALL {
        let text = std::fs::read_to_string(shipped.join(kind.file_name())).unwrap();
        let enabled: String = text
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .map(|l| format!("{l}\n"))
            .collect();
        dir.write(kind.file_name(), enabled);
    }
    let (set, report) = ListSet::load(dir.path());
    assert_eq!(report.errors(), 0, "{:?}", diags(&report, &dir));
    for kind in ListKind::ALL {
        assert!(set.len_of(kind) > 0, "{kind} has no examples");
    }
    let _ = Reason::NoMatch;
}

#[test]
fn geo_cc_matches_the_maxmind_country_and_cloud_each_tag() {
    let dir = ListDir::new()
        .with("geo_cc.deny.lst", "RU\n")
        .with("entity.deny.lst", "MAIL-RU\n")
        .with("cloud.deny.lst", "aws:EC2:.*\n'M365:EXCHANGE\n");
    let (policy, report) = load(&dir);
    assert!(report.diagnostics.is_empty(), "{:?}", diags(&report, &dir));
    let mut f = facts("1.2.3.4");
    f.entities = vec!["MAIL-RU".into()];
    f.maxmind = Some(GeoFacts {
        country: Some(Place {
            geoname_id: Some(2017370),
            code: Some("RU".into()),
            name: Some("Russia".into()),
        }),
        ..GeoFacts::default()
    });
    // geo_cc comes before entity.
    assert_eq!(matched(&policy, &f).as_deref(), Some("geo_cc"));
    f.maxmind = None;
    assert_eq!(matched(&policy, &f).as_deref(), Some("entity:MAIL-RU"));
    f.entities.clear();
    f.cloud = vec![
        "aws:AMAZON:us-east-1".parse().unwrap(),
        "aws:EC2:us-east-1".parse().unwrap(),
    ];
    assert_eq!(matched(&policy, &f).as_deref(), Some("cloud"));
    f.cloud = vec!["m365:Exchange".parse().unwrap()];
    assert_eq!(matched(&policy, &f).as_deref(), Some("cloud"));
    f.cloud = vec!["aws:S3:us-east-1".parse().unwrap()];
    assert_eq!(matched(&policy, &f), None);
}
