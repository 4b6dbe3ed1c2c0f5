//! Bounded work per login (issue 11, item 4): 1,000 expensive patterns in
//! `rev_host.deny.lst` and a login with a 254-character PTR. The matching ends within the
//! per-login budget with an error and `[lookup] on_error`'s verdict, `lists check` warns
//! about each pattern once, and a cheap login is not held up.

mod common;

use std::time::{Duration, Instant};

use common::{badclients, stderr, stdout, ListDir};

/// 1,000 lines like `.-.-.-.-.-.-.-.-.-.-%d` (each a little different).
fn hostile_rev_host() -> String {
    (0..1000)
        .map(|i| {
            let tail = format!("{}{}", "x?".repeat(i % 10), "y?".repeat(i / 10));
            format!("{}%d{tail}\n", ".-".repeat(10))
        })
        .collect()
}

/// A 254-character host name made of letters and dots (no digit anywhere).
fn long_ptr() -> String {
    let label = "a".repeat(62);
    let host = format!("{label}.{label}.{label}.{}", "a".repeat(65));
    assert_eq!(host.len(), 254);
    host
}

fn facts_file(dir: &ListDir, ip: &str, host: Option<&str>) -> String {
    let facts = serde_json::json!({"ip": ip, "host": host, "asn": "AS64500", "as_cc": "ZZ"});
    let name = format!("facts-{ip}.json");
    std::fs::write(dir.path().join(&name), facts.to_string()).unwrap();
    dir.path().join(name).display().to_string()
}

fn check(dir: &ListDir, ip: &str, host: Option<&str>) -> std::process::Output {
    let facts = facts_file(dir, ip, host);
    let lists = dir.path().join("lists").display().to_string();
    badclients(
        &[
            "check",
            ip,
            "--user",
            "u",
            "--service",
            "imap",
            "--facts",
            &facts,
            "--lists",
            &lists,
        ],
        dir.path(),
    )
}

#[test]
fn lists_check_warns_once_about_each_expensive_pattern() {
    let dir = ListDir::new()
        .with("lists/rev_host.deny.lst", hostile_rev_host())
        .with(
            "lists/as_dscr.deny.lst",
            "^mail%d+%.example%.com$\n.*dyn.*\n'literal\n",
        );
    let lists = dir.path().join("lists");
    let out = badclients(
        &["lists", "check", "--lists", lists.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains(": warning: ")).collect();
    assert_eq!(warnings.len(), 1000, "{text}");
    for (i, w) in warnings.iter().enumerate() {
        let at = format!("{}/rev_host.deny.lst:{}: warning: ", lists.display(), i + 1);
        assert!(w.starts_with(&at), "{w}");
        assert!(w.contains("is expensive"), "{w}");
    }
    assert!(
        text.ends_with("2 lists, 1003 entries, 0 errors, 1000 warnings\n"),
        "{text}"
    );
}

#[test]
fn a_long_ptr_ends_within_the_budget_with_the_fail_mode() {
    let dir = ListDir::new().with("lists/rev_host.deny.lst", hostile_rev_host());
    let host = long_ptr();
    let started = Instant::now();
    let out = check(&dir, "81.2.69.77", Some(&host));
    let took = started.elapsed();
    // Before: 6.8 s of matching (1,000 patterns × their own 1,000,000 steps). The load
    // measures each pattern too, so the bound is generous for a debug build.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // on_error = "allow" (the default): allowed, but saying so.
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let line = stdout(&out);
    assert!(line.trim_end().ends_with(", match_error=budget"), "{line}");
    let err = stderr(&out);
    assert!(
        err.contains("error: the patterns used up the matching budget"),
        "{err}"
    );
    // Not 1,000 per-pattern failure lines: only the first pattern fails on its own
    // (its own 1,000,000 steps); the next one ends the shared budget.
    assert!(err.matches("failed on this login").count() <= 2, "{err}");

    // on_error = "tempfail": refused for now.
    std::fs::write(
        dir.path().join("badclients.toml"),
        "list_path = \"lists\"\n[lookup]\non_error = \"tempfail\"\n",
    )
    .unwrap();
    let facts = facts_file(&dir, "81.2.69.77", Some(&host));
    let out = badclients(
        &[
            "check",
            "81.2.69.77",
            "--user",
            "u",
            "--service",
            "imap",
            "--facts",
            &facts,
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        stdout(&out)
            .trim_end()
            .ends_with(", match_error=budget, tempfail=True"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_later_list_still_blocks_when_the_budget_ran_out() {
    let dir = ListDir::new()
        .with("lists/rev_host.deny.lst", hostile_rev_host())
        .with("lists/asn.deny.lst", "AS64500\n");
    let out = check(&dir, "81.2.69.78", Some(&long_ptr()));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stdout(&out).contains("blocked=True, matched=asn"),
        "{}",
        stdout(&out)
    );
}
