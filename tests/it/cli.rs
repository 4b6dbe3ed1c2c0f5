//! The command line: `lists check`, `check`, `config import-ini`, exit codes and output.

use testkit::{badclients, fixture, stderr, stdout, ListDir};

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
    // The shim's setting is shown on stderr with where it goes; no file is written.
    let err = stderr(&out);
    assert!(
        err.contains("the Dovecot Lua shim's settings (result_block) go in its own file")
            && err.contains("/etc/badclients/dovecot-lua.conf")
            && err.contains("\n  result_block = expired\n"),
        "{err}"
    );
    assert!(!dir.path().join("dovecot-lua.conf").exists());
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

/// Every INI key with a home: the TOML (written with -o) loads as a configuration with the
/// right values, the shim's settings land in dovecot-lua.conf next to it, what has no home
/// is said on stderr, and nothing is overwritten without --force.
#[test]
fn import_ini_carries_over_cache_geoip_and_the_shim_settings() {
    let city = fixture("mmdb/GeoLite2-City-Test.mmdb");
    let asn = fixture("mmdb/GeoLite2-ASN-Test.mmdb");
    let dir = ListDir::new().with(
        "old/bad_clients.conf.ext",
        format!(
            "[general]\nlist_path = lists\ncachepath = redis:10.1.2.3:6380\n\
                 disabled_services = pop3\nignore_networks = 10.0.0.0/8\nlog_local = no\n\
                 result_success = next\nresult_block = missmatch\nprocess_unknown = yes\n\
                 asn_script_path = /usr/local/bin/asn.py\nenable_maxmind = yes\n\
                 [maxmind]\ngeo_city = {}\ngeo_asn = {}\n",
            city.display(),
            asn.display()
        ),
    );
    let ini = dir.path().join("old/bad_clients.conf.ext");
    let etc = dir.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    let toml = etc.join("badclients.toml");
    let args = [
        "config",
        "import-ini",
        ini.to_str().unwrap(),
        "-o",
        toml.to_str().unwrap(),
    ];
    let out = badclients(&args, dir.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let shim = etc.join("dovecot-lua.conf");
    assert_eq!(
        stdout(&out),
        format!(
            "wrote {}\nwrote {} (the Lua shim's settings: result_success, result_block, \
             process_unknown)\n",
            toml.display(),
            shim.display()
        )
    );
    // Only what has no home is on stderr.
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("line 10: asn_script_path is not needed"),
        "{err}"
    );

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&toml).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o007, 0, "{mode:o}");

    // The TOML is a configuration badclients loads, with the values of the INI.
    let loaded = badclients::config::Config::load(Some(&toml))
        .unwrap()
        .config;
    assert_eq!(
        loaded.cache.redis_url.as_deref(),
        Some("redis://10.1.2.3:6380/0")
    );
    assert_eq!(loaded.geoip.city.as_deref(), Some(city.as_path()));
    assert_eq!(loaded.geoip.asn.as_deref(), Some(asn.as_path()));
    assert_eq!(loaded.disabled_services, ["pop3"]);
    assert_eq!(loaded.ignore_networks, ["10.0.0.0/8"]);
    assert!(!loaded.log_local);
    // list_path "lists" is relative to the TOML's directory; lists check reads it there.
    std::fs::create_dir(etc.join("lists")).unwrap();
    std::fs::write(etc.join("lists/asn.deny.lst"), "AS1\n").unwrap();
    let out = badclients(
        &["lists", "check", "--config", toml.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout(&out).ends_with("1 lists, 1 entries, 0 errors, 0 warnings\n"),
        "{out:?}"
    );

    // The shim's settings file: comments and the three lines, as the shim spells them.
    let text = std::fs::read_to_string(&shim).unwrap();
    let settings: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        settings,
        [
            "result_success = next",
            "result_block = missmatch",
            "process_unknown = yes"
        ],
        "{text}"
    );

    // Again: both files exist, nothing is written without --force.
    std::fs::write(&shim, "# mine\n").unwrap();
    let out = badclients(&args, dir.path());
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains(&format!(
            "{} exists; give --force to overwrite it",
            toml.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&shim).unwrap(), "# mine\n");
    let mut forced = args.to_vec();
    forced.push("--force");
    let out = badclients(&forced, dir.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(std::fs::read_to_string(&shim).unwrap(), text);

    // --shim-settings alone: the TOML on stdout, the shim's settings in that file.
    let elsewhere = dir.path().join("shim.conf");
    let out = badclients(
        &[
            "config",
            "import-ini",
            ini.to_str().unwrap(),
            "--shim-settings",
            elsewhere.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout(&out).contains("redis_url = \"redis://10.1.2.3:6380/0\""));
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), text);
}

#[test]
fn import_ini_help_lists_the_ini_keys_it_reads() {
    let dir = ListDir::new();
    let out = badclients(&["config", "import-ini", "--help"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let help = stdout(&out);
    for key in [
        "[general] list_path",
        "[general] disabled_services",
        "[general] ignore_networks",
        "[general] log_local",
        "[general] cachepath          -> [cache] redis_url",
        "[general] enable_maxmind",
        "[maxmind] geo_city           -> [geoip] city",
        "[maxmind] geo_asn            -> [geoip] asn",
        "[general] result_success",
        "[general] result_block",
        "[general] process_unknown",
        "[general] asn_script_path",
        "--shim-settings",
        "--output",
        "--force",
    ] {
        assert!(help.contains(key), "{key:?} not in\n{help}");
    }
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
