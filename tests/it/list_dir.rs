//! The list directory under the daemon's feet (issue 11, item 3): removed and copied back,
//! moved away and back, emptied in one step, replaced by a symlink swap. The daemon keeps
//! blocking what it blocked, says so (`/healthz`, `/metrics`, the log), and its watch
//! follows the directory so later edits are picked up.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::daemon::{
    Daemon, DaemonConfig, FakeInternet, API_KEY, LISTED_IP, LISTED_NET, UNLISTED_IP, UNLISTED_IP2,
};

/// Generous: reloads are debounced (0.5 s) and the identity check runs every 2 s; the
/// machine may be busy.
const DEADLINE: Duration = Duration::from_secs(20);

fn daemon(internet: &FakeInternet) -> Daemon {
    DaemonConfig::new(internet)
        .list("ip_net.deny.lst", &format!("{LISTED_NET}\n"))
        .start()
}

/// `block`, `allow` or `tempfail` for a login from `ip`, as the Lua shim asks.
fn verdict(d: &Daemon, ip: &str) -> String {
    let a = d.get(
        &format!("/v1/check?user=alice&service=imap&ip={ip}"),
        Some(API_KEY),
    );
    assert_eq!(a.status, 200, "{a:?}");
    a.body
        .lines()
        .find_map(|l| l.strip_prefix("verdict="))
        .unwrap_or_else(|| panic!("no verdict in {a:?}"))
        .to_string()
}

/// Polls until `cond` holds (panics with `what` and the daemon's stderr after [`DEADLINE`]).
#[track_caller]
fn wait_until(d: &Daemon, what: &str, cond: impl Fn() -> bool) {
    let t0 = Instant::now();
    while t0.elapsed() < DEADLINE {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{what}: not within {DEADLINE:?}\n--- stderr ---\n{}",
        d.stderr()
    );
}

#[track_caller]
fn wait_verdict(d: &Daemon, ip: &str, want: &str, why: &str) {
    wait_until(d, &format!("{ip} → {want} ({why})"), || {
        verdict(d, ip) == want
    });
}

fn metrics(d: &Daemon) -> String {
    let m = d.get("/metrics", Some(API_KEY));
    assert_eq!(m.status, 200, "{m:?}");
    m.body
}

/// The value of the sample `name` (with its labels), if present.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

fn healthz(d: &Daemon) -> (u16, String) {
    let a = d.get("/healthz", None);
    (a.status, a.body)
}

fn write(dir: &Path, file: &str, content: &str) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    std::fs::write(dir.join(file), content).unwrap_or_else(|e| panic!("write {file}: {e}"));
}

#[track_caller]
fn run(cmd: &str, args: &[&str], cwd: &Path) {
    let status = Command::new(cmd)
        .args(args)
        .current_dir(cwd)
        .status()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(status.success(), "{cmd} {args:?}: {status}");
}

/// Lines that say the last good lists were kept.
fn kept_lines(d: &Daemon) -> usize {
    d.lines()
        .iter()
        .filter(|l| l.contains("the last good lists stay in force"))
        .count()
}

#[test]
fn a_removed_list_directory_keeps_blocking_degrades_health_and_is_watched_again_when_back() {
    let internet = FakeInternet::start();
    let d = daemon(&internet);
    assert_eq!(verdict(&d, LISTED_IP), "block");
    assert_eq!(healthz(&d).0, 200);
    let saved = d.dir().join("saved");
    run("cp", &["-r", "lists", "saved"], d.dir());

    // rm -rf lists: the reload finds no directory and keeps the last good lists.
    std::fs::remove_dir_all(d.lists()).unwrap_or_else(|e| panic!("{e}"));
    wait_until(&d, "/healthz degraded", || healthz(&d).0 == 503);
    let (_, body) = healthz(&d);
    assert!(body.starts_with("degraded: "), "{body}");
    assert!(!body.contains('/') && !body.contains(LISTED_NET), "{body}");
    assert_eq!(verdict(&d, LISTED_IP), "block", "{}", d.stderr());
    // The dashboard's list health says so too (the daemon has the API key).
    let ui = d.get("/ui", Some(API_KEY));
    assert!(
        ui.body
            .contains("degraded: the list directory is missing or cannot be read"),
        "{}",
        ui.body
    );
    let m = metrics(&d);
    assert_eq!(sample(&m, "badclients_lists_degraded"), Some(1.0), "{m}");
    assert!(
        sample(
            &m,
            r#"badclients_list_reloads_kept_total{reason="dir_unavailable"}"#
        )
        .is_some_and(|v| v >= 1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, r#"badclients_list_entries{list="ip_net.deny.lst"}"#),
        Some(1.0),
        "{m}"
    );
    assert!(kept_lines(&d) >= 1, "{}", d.stderr());
    // Once per reload, not a flood: nothing more while the directory stays away (the
    // identity check runs every 2 s).
    std::thread::sleep(Duration::from_millis(1500));
    let before = kept_lines(&d);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(kept_lines(&d), before, "{}", d.stderr());
    assert_eq!(verdict(&d, LISTED_IP), "block");

    // cp -r … lists: back in order, and an edit there is picked up by watching.
    run("cp", &["-r", "saved", "lists"], d.dir());
    wait_until(&d, "/healthz ok again", || healthz(&d).0 == 200);
    assert_eq!(verdict(&d, LISTED_IP), "block");
    assert_eq!(verdict(&d, UNLISTED_IP), "allow");
    write(
        &d.lists(),
        "ip_net.deny.lst",
        &format!("{LISTED_NET}\n{UNLISTED_IP}/32\n"),
    );
    wait_verdict(&d, UNLISTED_IP, "block", "edit after the copy back");
    let m = metrics(&d);
    assert_eq!(sample(&m, "badclients_lists_degraded"), Some(0.0), "{m}");
    assert_eq!(
        sample(&m, r#"badclients_list_entries{list="ip_net.deny.lst"}"#),
        Some(2.0),
        "{m}"
    );
    drop(saved);
}

#[test]
fn a_list_directory_moved_away_and_back_is_still_watched() {
    let internet = FakeInternet::start();
    let d = daemon(&internet);
    assert_eq!(verdict(&d, LISTED_IP), "block");
    run("mv", &["lists", "lists.away"], d.dir());
    std::thread::sleep(Duration::from_millis(1500));
    run("mv", &["lists.away", "lists"], d.dir());
    wait_until(&d, "/healthz ok", || healthz(&d).0 == 200);
    assert_eq!(verdict(&d, LISTED_IP), "block");

    write(
        &d.lists(),
        "ip_net.deny.lst",
        &format!("{LISTED_NET}\n{UNLISTED_IP}/32\n"),
    );
    wait_verdict(&d, UNLISTED_IP, "block", "edit after the move back");
    // And a removed entry stops blocking.
    write(
        &d.lists(),
        "ip_net.deny.lst",
        &format!("{UNLISTED_IP}/32\n"),
    );
    wait_verdict(&d, LISTED_IP, "allow", "entry removed after the move back");

    // Settled: no reload without a change (a new watch, the reloads' own reads and the
    // identity check every 2 s cause none), while logins go on.
    let reloads = || d.lines().iter().filter(|l| l.contains("reloaded")).count();
    std::thread::sleep(Duration::from_millis(1500));
    let before = reloads();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(5) {
        assert_eq!(verdict(&d, UNLISTED_IP), "block");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(reloads(), before, "{}", d.stderr());
}

#[test]
fn a_symlink_swap_of_the_list_directory_is_followed_by_watching_and_by_sighup() {
    let internet = FakeInternet::start();
    let d = DaemonConfig::new(&internet)
        .list(
            "ip_net.deny.lst",
            &format!("{LISTED_NET}\n{UNLISTED_IP}/32\n"),
        )
        .start();
    assert_eq!(verdict(&d, UNLISTED_IP), "block");
    let dir = d.dir();
    // The configuration-management layout: lists -> v1, set up under the running daemon.
    run("mv", &["lists", "v1"], dir);
    run("ln", &["-sfn", "v1", "lists.tmp"], dir);
    run("mv", &["-T", "lists.tmp", "lists"], dir);
    wait_until(&d, "/healthz ok on lists -> v1", || healthz(&d).0 == 200);
    write(&dir.join("v1"), "asn.deny.lst", "AS64496\n");
    wait_until(&d, "the edit in v1 is in force", || {
        sample(
            &metrics(&d),
            r#"badclients_list_entries{list="asn.deny.lst"}"#,
        ) == Some(1.0)
    });

    // v2: UNLISTED_IP no longer listed, UNLISTED_IP2 listed. The swap alone (watching).
    write(
        &dir.join("v2"),
        "ip_net.deny.lst",
        &format!("{LISTED_NET}\n{UNLISTED_IP2}/32\n"),
    );
    run("ln", &["-sfn", "v2", "lists.tmp"], dir);
    run("mv", &["-T", "lists.tmp", "lists"], dir);
    wait_verdict(&d, UNLISTED_IP, "allow", "removed by the swap to v2");
    assert_eq!(verdict(&d, UNLISTED_IP2), "block");
    assert_eq!(verdict(&d, LISTED_IP), "block");
    let m = metrics(&d);
    assert_eq!(
        sample(&m, r#"badclients_list_entries{list="asn.deny.lst"}"#),
        Some(0.0),
        "{m}"
    );
    // Edits in the new target are watched.
    write(
        &dir.join("v2"),
        "ip_net.deny.lst",
        &format!("{LISTED_NET}\n"),
    );
    wait_verdict(&d, UNLISTED_IP2, "allow", "entry removed in v2");

    // Back to v1 with a SIGHUP right after the swap.
    run("ln", &["-sfn", "v1", "lists.tmp"], dir);
    run("mv", &["-T", "lists.tmp", "lists"], dir);
    d.sighup();
    wait_verdict(&d, UNLISTED_IP, "block", "v1 again after SIGHUP");
    // v1 is watched now: an entry removed there stops blocking.
    write(
        &dir.join("v1"),
        "ip_net.deny.lst",
        &format!("{LISTED_NET}\n"),
    );
    wait_verdict(&d, UNLISTED_IP, "allow", "entry removed in v1");
    assert_eq!(healthz(&d).0, 200);
}

#[test]
fn a_list_directory_emptied_in_one_step_keeps_the_last_good_lists() {
    let internet = FakeInternet::start();
    let d = daemon(&internet);
    assert_eq!(verdict(&d, LISTED_IP), "block");
    // The only list file with entries goes: no entry left at all.
    std::fs::remove_file(d.lists().join("ip_net.deny.lst")).unwrap_or_else(|e| panic!("{e}"));
    wait_until(&d, "/healthz degraded", || healthz(&d).0 == 503);
    assert_eq!(verdict(&d, LISTED_IP), "block");
    let m = metrics(&d);
    assert!(
        sample(
            &m,
            r#"badclients_list_reloads_kept_total{reason="emptied"}"#
        )
        .is_some_and(|v| v >= 1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, r#"badclients_list_entries{list="ip_net.deny.lst"}"#),
        Some(1.0),
        "{m}"
    );
    assert_eq!(sample(&m, "badclients_lists_degraded"), Some(1.0), "{m}");

    // Some entries again: taken as they are, no longer degraded.
    d.write_list("ip_net.deny.lst", &format!("{UNLISTED_IP}/32\n"));
    wait_until(&d, "/healthz ok", || healthz(&d).0 == 200);
    assert_eq!(verdict(&d, UNLISTED_IP), "block");
    assert_eq!(verdict(&d, LISTED_IP), "allow");
}

#[test]
fn list_entries_show_what_is_in_force_when_a_file_with_errors_keeps_its_previous_version() {
    let internet = FakeInternet::start();
    let d = daemon(&internet);
    // One file broken, then another one new: whether one reload or two, the broken file
    // has errors when the new one is loaded.
    d.write_list(
        "ip_net.deny.lst",
        &format!("{UNLISTED_IP}/32\nnot-a-network\n"),
    );
    d.write_list("asn.deny.lst", "AS64496\nAS64497\n");
    wait_until(&d, "asn.deny.lst in force", || {
        sample(
            &metrics(&d),
            r#"badclients_list_entries{list="asn.deny.lst"}"#,
        ) == Some(2.0)
    });
    // The broken file keeps its previous version, and the gauge says so.
    assert_eq!(verdict(&d, LISTED_IP), "block");
    assert_eq!(verdict(&d, UNLISTED_IP), "allow");
    let m = metrics(&d);
    assert_eq!(
        sample(&m, r#"badclients_list_entries{list="ip_net.deny.lst"}"#),
        Some(1.0),
        "{m}"
    );
    assert_eq!(sample(&m, "badclients_lists_degraded"), Some(0.0), "{m}");
    assert_eq!(healthz(&d).0, 200);
}
