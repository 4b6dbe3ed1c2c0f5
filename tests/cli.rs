//! The command line: `lists check`, `check`, `config import-ini`, exit codes and output.

mod common;

use common::{badclients, fixture, stderr, stdout, ListDir};

#[test]
fn lists_check_prints_problems_and_summary() {
    let dir = ListDir::new()
        .with("lists/asn.deny.lst", "AS1\nASX\n")
        .with("lists/as_cc.deny.lst", "XX\n");
    let lists = dir.path().join("lists");
    let out = badclients(
        &["lists", "check", "--lists", lists.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with(&format!("{}/asn.deny.lst:2: error: ", lists.display())));
    assert!(lines[1].starts_with(&format!("{}/as_cc.deny.lst:1: warning: ", lists.display())));
    assert_eq!(lines[2], "2 lists, 2 entries, 1 errors, 1 warnings");
}

#[test]
fn lists_check_passes_with_warnings_only_and_reads_the_config() {
    let dir = ListDir::new()
        .with("l/as_cc.deny.lst", "XX\n")
        .with("badclients.toml", "list_path = \"l\"\n");
    let out = badclients(&["lists", "check"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout(&out).ends_with("1 lists, 1 entries, 0 errors, 1 warnings\n"));
    let cfg = dir.path().join("badclients.toml");
    let out = badclients(
        &["lists", "check", "--config", cfg.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn unknown_config_key_is_an_error_naming_it() {
    let dir = ListDir::new().with("badclients.toml", "list_path = \"l\"\nlog_locl = true\n");
    let out = badclients(&["lists", "check"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("log_locl"), "{}", stderr(&out));
}

#[test]
fn an_error_says_its_cause_once() {
    let dir = ListDir::new();
    let missing = dir.path().join("missing.toml");
    let out = badclients(
        &["lists", "check", "--config", missing.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let text = stderr(&out);
    assert!(
        text.contains(&format!("cannot read {}", missing.display())),
        "{text}"
    );
    assert_eq!(text.matches("os error 2").count(), 1, "{text}");
}

#[test]
fn check_json_has_verdict_matched_file_line_entry_audit_facts() {
    let dir = ListDir::new().with("entity.deny.lst", "# header\nVKNC\n");
    let facts = fixture("contract/vk.json");
    let out = badclients(
        &[
            "check",
            "176.112.169.218",
            "--user",
            "honey-craig",
            "--service",
            "imap",
            "--facts",
            facts.to_str().unwrap(),
            "--lists",
            dir.path().to_str().unwrap(),
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "block");
    assert_eq!(v["matched"], "entity:VKNC");
    assert_eq!(v["line"], 2);
    assert_eq!(v["entry"], "VKNC");
    assert_eq!(
        v["file"],
        dir.path().join("entity.deny.lst").display().to_string()
    );
    assert!(v["audit"]
        .as_str()
        .unwrap()
        .ends_with(", blocked=True, matched=entity:VKNC"));
    assert_eq!(v["facts"]["asn"], "AS47764");
    assert_eq!(v["facts"]["net_cc"], "RU");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_without_facts_looks_up_and_names_failed_sources() {
    // An empty fake internet: no PTR, no Cymru answer, every RDAP path 404.
    let dns = testworld::FakeDns::start(testworld::Zone::new())
        .await
        .unwrap();
    let rdap = testworld::FakeRdap::start().await.unwrap();
    rdap.route_prefix(
        "/",
        testworld::Reply::fault(testworld::RdapFault::Status(503)),
    );
    let dir = ListDir::new().with("lists/asn.deny.lst", "");
    let base = rdap.base_url();
    let cfg = dir.path().join("badclients.toml");
    std::fs::write(
        &cfg,
        format!(
            "list_path = \"lists\"\n[lookup]\ndns_servers = [\"{}\"]\n[cache]\nmemory_only = true\n\
             [rdap.base_urls]\narin = \"{base}\"\nripencc = \"{base}\"\napnic = \"{base}\"\n\
             lacnic = \"{base}\"\nafrinic = \"{base}\"\n",
            dns.addr()
        ),
    )
    .unwrap();
    let run = |ip: &'static str| {
        let (cfg, cwd) = (cfg.clone(), dir.path().to_path_buf());
        tokio::task::spawn_blocking(move || {
            badclients(
                &[
                    "check",
                    ip,
                    "-u",
                    "a",
                    "-s",
                    "imap",
                    "--config",
                    cfg.to_str().unwrap(),
                ],
                &cwd,
            )
        })
    };
    let out = run("192.168.1.5").await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        stdout(&out),
        "mail-audit: user=<a>, service=imap, ip=192.168.1.5, host=<>, asn=None, as_cc=ZZ, \
         as_desc=<IANA-RESERVED>, net_name=<Private-Use Networks>, net_cc=ZZ, entity=None\n"
    );
    let out = run("fe80::1").await.unwrap();
    assert!(stdout(&out).contains("net_name=<Link-Local>"), "{out:?}");
    // A public address: looked up; what failed is named, the login is allowed (on_error).
    let out = run("8.8.8.8").await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        stdout(&out),
        "mail-audit: user=<a>, service=imap, ip=8.8.8.8, host=<>, asn=None, as_cc=None, \
         as_desc=<None>, net_name=<None>, net_cc=None, entity=None, lookup_error=rdap:http_status\n"
    );
    assert_eq!(
        dns.queries_for("8.8.8.8.origin.asn.cymru.com.", testworld::RrType::Txt),
        1
    );
    // With on_error = "tempfail" the same login gets a temporary failure (exit 3).
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("[lookup]\n", "[lookup]\non_error = \"tempfail\"\n");
    std::fs::write(&cfg, text).unwrap();
    let out = run("8.8.8.8").await.unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        stdout(&out).ends_with(", lookup_error=rdap:http_status, tempfail=True\n"),
        "{out:?}"
    );
}

#[test]
fn check_rejects_bad_facts_clearly() {
    let dir = ListDir::new()
        .with("wrong-ip.json", r#"{"ip": "1.1.1.1"}"#)
        .with("typo.json", r#"{"net_nme": "X"}"#)
        .with("notjson.json", "{")
        .with("noip.json", r#"{"asn": "AS1"}"#);
    let lists = dir.path().to_str().unwrap();
    for (file, needle) in [
        ("wrong-ip.json", "not 8.8.8.8"),
        ("typo.json", "net_nme"),
        ("notjson.json", "not JSON"),
        ("missing.json", "cannot read"),
    ] {
        let f = dir.path().join(file);
        let out = badclients(
            &[
                "check",
                "8.8.8.8",
                "-u",
                "a",
                "-s",
                "imap",
                "--facts",
                f.to_str().unwrap(),
                "--lists",
                lists,
            ],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(2), "{file}: {out:?}");
        assert!(stderr(&out).contains(needle), "{file}: {}", stderr(&out));
    }
    // Facts without "ip" take the command line's.
    let f = dir.path().join("noip.json");
    let out = badclients(
        &[
            "check",
            "8.8.8.8",
            "-u",
            "a",
            "-s",
            "imap",
            "--facts",
            f.to_str().unwrap(),
            "--lists",
            lists,
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout(&out).contains("ip=8.8.8.8, host=<>, asn=AS1,"));
}

#[test]
fn import_ini_writes_toml_and_notes_what_it_dropped() {
    let dir = ListDir::new().with(
        "bad_clients.conf.ext",
        "[general]\nlist_path = /etc/dovecot/lists\ndisabled_services = pop3\n\
         ignore_networks = 10.0.0.0/8\nlog_local = yes\nresult_block = expired\n",
    );
    let ini = dir.path().join("bad_clients.conf.ext");
    let out = badclients(&["config", "import-ini", ini.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let toml = stdout(&out);
    assert!(
        toml.contains("list_path = \"/etc/dovecot/lists\""),
        "{toml}"
    );
    assert!(toml.contains("disabled_services = [\"pop3\"]"), "{toml}");
    assert!(toml.contains("log_local = true"), "{toml}");
    assert!(stderr(&out).contains("result_block"), "{}", stderr(&out));
    // The output is a configuration badclients accepts.
    let dir = dir.with("badclients.toml", toml);
    let cfg = dir.path().join("badclients.toml");
    let out = badclients(
        &["lists", "check", "--config", cfg.to_str().unwrap()],
        dir.path(),
    );
    // The list directory does not exist here: one error, but the config itself parsed.
    assert!(
        stdout(&out).contains("/etc/dovecot/lists: error:"),
        "{out:?}"
    );
}

#[test]
fn help_teaches() {
    let dir = ListDir::new();
    let out = badclients(&["check", "--help"], dir.path());
    let help = stdout(&out);
    assert!(
        help.contains("Exit status: 0 when the login is allowed"),
        "{help}"
    );
    assert!(help.contains("--facts"), "{help}");
    let out = badclients(&["--help"], dir.path());
    assert!(stdout(&out).contains("lists"));
}

/// Entries that can never match with this configuration are warnings, not "0 warnings": a
/// `cloud.deny.lst` entry of a provider with no stored feed, a `geo_cc` list without
/// GeoIP. Once the feed is stored, its entry is quiet.
#[test]
fn lists_check_warns_about_entries_their_sources_cannot_match() {
    let dir = ListDir::new()
        .with("l/cloud.deny.lst", "aws:EC2:.*\n")
        .with("l/geo_cc.deny.lst", "RU\n")
        .with(
            "badclients.toml",
            "list_path = \"l\"\n[cache]\nmemory_only = true\n[cloud]\ndir = \"ranges\"\n",
        );
    let config = dir.path().join("badclients.toml");
    let check = || {
        badclients(
            &["lists", "check", "--config", config.to_str().unwrap()],
            dir.path(),
        )
    };
    let out = check();
    assert_eq!(out.status.code(), Some(0), "warnings only: {out:?}");
    let text = stdout(&out);
    assert!(
        text.contains(
            "cloud.deny.lst:1: warning: aws:EC2:.* cannot match: no aws range feed is stored"
        ),
        "{text}"
    );
    assert!(
        text.contains("geo_cc.deny.lst: warning: 1 entries cannot match: GeoIP is off"),
        "{text}"
    );
    assert!(
        text.ends_with("2 lists, 2 entries, 0 errors, 2 warnings\n"),
        "{text}"
    );

    let feed = std::fs::read(fixture("cloud/aws-ip-ranges.json")).unwrap();
    badclients::cloud::store::FeedStore::new(&dir.path().join("ranges"))
        .update(badclients::cloud::Provider::Aws, &feed, "tests/fixtures")
        .unwrap();
    let text = stdout(&check());
    assert!(!text.contains("cloud.deny.lst"), "{text}");
    assert!(text.ends_with("0 errors, 1 warnings\n"), "{text}");
}
