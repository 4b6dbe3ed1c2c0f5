//! The dashboard (`/ui`) in Debian's real headless Chromium: the daemon runs against the
//! fake internet with a history, logins are seeded through Dovecot's policy endpoint (and
//! a day of older decisions is written into the history before the daemon starts, so the
//! chart has a shape), then the browser loads the overview, checks the chart, the latest
//! blocked logins with their *why* and the top ASNs, searches users, and takes the
//! screenshot kept in `docs/dashboard.png`.
//!
//! Without Chromium or chromedriver the test fails: `./scripts/test.sh` installs them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use badclients::history::store::HistoryStore;
use badclients::history::{now_us, Outcome, Record};
use fantoccini::{Client, Locator};
use testkit::browser::{ChromeDriver, WINDOW};
use testkit::daemon::{
    parse_http, Daemon, DaemonConfig, FakeInternet, HttpAnswer, API_KEY, LISTED_IP, UNLISTED_IP,
    UNLISTED_IP2,
};

/// Linode (AS63949), on `asn.deny.lst`; logins from it come over POP3, which is in audit
/// mode: would-block.
const LINODE_IP: &str = "139.162.133.252";

/// Blocked live: VK's address is in `ip_net.deny.lst`.
const VK_USER: &str = "victor.vk";
/// Allowed live, from Google.
const GOOGLE_USER: &str = "gina.google";
const GOOGLE_USER2: &str = "greg.gmail";
/// Would-block live (audit mode), from Linode.
const LINODE_USER: &str = "lena.linode";

/// `POST /?command=allow` as Dovecot sends it; the answer's body.
fn login(port: u16, user: &str, service: &str, ip: &str) -> HttpAnswer {
    let body = format!(
        r#"{{"device_id":"","local":"127.0.0.1","login":"{user}","lport":"10143","mech":"PLAIN","protocol":"{service}","remote":"{ip}","rport":"40001","secured":"","session_id":"s1","user":"{user}","tls":false}}"#
    );
    let request = format!(
        "POST /?command=allow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nX-API-Key: {API_KEY}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect daemon");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(request.as_bytes()).expect("send login");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let answer = parse_http(&raw);
    assert_eq!(answer.status, 200, "{user} from {ip}: {answer:?}");
    answer
}

/// The history file the harness configures (`[history] path`).
fn history_path(config: &DaemonConfig) -> PathBuf {
    let toml = config.toml();
    let section = &toml[toml.find("[history]").expect("a [history] section")..];
    let line = section
        .lines()
        .find_map(|l| l.strip_prefix("path = "))
        .expect("[history] path");
    PathBuf::from(line.trim().trim_matches('"'))
}

struct Source {
    ip: &'static str,
    host: &'static str,
    asn: u32,
    as_cc: &'static str,
    as_desc: &'static str,
    net_name: &'static str,
    cloud: &'static [&'static str],
    /// `(matched, matched_entry)` when a list catches it.
    hit: Option<(&'static str, &'static str)>,
}

const GOOGLE: Source = Source {
    ip: "209.85.218.15",
    host: "mail-ej1-f15.google.com",
    asn: 15169,
    as_cc: "US",
    as_desc: "GOOGLE, US",
    net_name: "GOOGLE",
    cloud: &[],
    hit: None,
};
const GOOGLE2: Source = Source {
    ip: "209.85.218.53",
    host: "mail-ej1-f53.google.com",
    ..GOOGLE
};
const VK: Source = Source {
    ip: "176.112.169.218",
    host: "rimap26.i.mail.ru",
    asn: 47764,
    as_cc: "RU",
    as_desc: "VK-AS, RU",
    net_name: "VK-FRONT",
    cloud: &[],
    hit: Some(("ip_net", "ip_net.deny.lst:1: 176.112.168.0/21")),
};
const LINODE: Source = Source {
    ip: "139.162.133.252",
    host: "node-eu-0001.email2-cloud.com",
    asn: 63949,
    as_cc: "NL",
    as_desc: "AKAMAI-LINODE-AP Akamai Connected Cloud, SG",
    net_name: "EU-LINODE-20141229",
    cloud: &["linode:NL:NL-NH"],
    hit: Some(("asn", "asn.deny.lst:1: AS63949")),
};
/// A consumer ISP no list names: `unlisted`, no candidate (its AS name says Broadband).
const ISP: Source = Source {
    ip: "192.0.2.44",
    host: "p5b0c2c.dip0.example-isp.net",
    asn: 64496,
    as_cc: "DE",
    as_desc: "EXAMPLE-ISP Example Broadband, DE",
    net_name: "EXAMPLE-DSL",
    cloud: &[],
    hit: None,
};
/// A mail app's servers on EC2: no list names them either.
const AWS: Source = Source {
    ip: "18.184.10.20",
    host: "ec2-18-184-10-20.eu-central-1.compute.amazonaws.com",
    asn: 16509,
    as_cc: "US",
    as_desc: "AMAZON-02, US",
    net_name: "AMAZON-FRA",
    cloud: &["aws:EC2:eu-central-1"],
    hit: None,
};

fn record(time_us: u64, user: &str, service: &str, src: &Source, outcome: Outcome) -> Record {
    let hit = src.hit.filter(|_| outcome.matched_a_list());
    Record {
        time_us: Some(time_us),
        user: user.into(),
        service: service.into(),
        ip: src.ip.parse().expect("IP"),
        host: Some(src.host.into()),
        asn: Some(src.asn),
        as_cc: Some(src.as_cc.into()),
        as_desc: Some(src.as_desc.into()),
        net_name: Some(src.net_name.into()),
        net_cc: Some(src.as_cc.into()),
        entities: Vec::new(),
        cloud: src.cloud.iter().map(|c| c.to_string()).collect(),
        geo_cc: None,
        outcome,
        matched: hit.map(|h| h.0.into()),
        matched_entry: hit.map(|h| h.1.into()),
        lookup_errors: Vec::new(),
    }
}

/// A day of older decisions (up to 15 minutes ago), a daily rhythm of allowed logins with
/// blocked and audit-only ones in between, written straight into the history file.
fn backfill(path: &Path) -> usize {
    const HOUR: u64 = 3_600_000_000;
    let now = now_us();
    let mut records = Vec::new();
    let users = ["alice", "bob", "carol", "dave", "erin", "frank"];
    for h in 1..23u64 {
        let t0 = now - h * HOUR - 15 * 60_000_000;
        // Busier in the "day" hours.
        let phase = (h + 6) % 24;
        let allowed = 2 + (if (7..20).contains(&phase) { 6 } else { 1 }) + h % 3;
        for i in 0..allowed {
            let user = users[((h + i) % users.len() as u64) as usize];
            let src = match i % 4 {
                0 | 2 => &GOOGLE,
                1 => &ISP,
                _ => &GOOGLE2,
            };
            records.push(record(
                t0 + i * 60_000_000,
                user,
                "imap",
                src,
                Outcome::Allowed,
            ));
        }
        if h % 3 == 0 {
            records.push(record(
                t0 + 7_000_000,
                "honey-craig",
                "imap",
                &VK,
                Outcome::Blocked,
            ));
        }
        if h % 5 == 1 {
            records.push(record(
                t0 + 9_000_000,
                "dave",
                "imap",
                &VK,
                Outcome::Blocked,
            ));
        }
        if h % 2 == 0 {
            let user = users[(h / 2 % 3) as usize];
            records.push(record(
                t0 + 13_000_000,
                user,
                "imap",
                &AWS,
                Outcome::Allowed,
            ));
        }
        if h % 4 == 2 {
            records.push(record(
                t0 + 11_000_000,
                "erin",
                "pop3",
                &LINODE,
                Outcome::WouldBlock,
            ));
        }
    }
    let n = records.len();
    let (store, warning) = HistoryStore::open(path).expect("open the history to seed it");
    assert!(warning.is_none(), "{warning:?}");
    let mut strings = store.strings().expect("history strings");
    store
        .append(&records, &mut strings, None)
        .expect("seed the history");
    n
}

fn screenshot_paths() -> (PathBuf, PathBuf) {
    let repo = testkit::repo();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { repo.join(p) })
        .unwrap_or_else(|| repo.join("target"));
    (
        target.join("ui-dashboard.png"),
        repo.join("docs/dashboard.png"),
    )
}

/// Polls the dashboard over plain HTTP (loopback, no key set) until the history has
/// every one of `users`.
fn wait_for_history(d: &Daemon, users: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    for user in users {
        loop {
            let a = d.get(&format!("/ui/user?q={user}"), None);
            assert_eq!(a.status, 200, "{a:?}");
            if !a.body.contains("id=\"no-logins\"") {
                assert!(a.body.contains("Login sources"), "{}", a.body);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the history did not show {user} within 10 s; page:\n{}\nstderr:\n{}",
                a.body,
                d.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn the_dashboard_works_in_headless_chromium() {
    // Fail early, before the daemon starts, when the browser is missing.
    testkit::browser::require_browser();
    let internet = FakeInternet::start();
    // No API key: the dashboard answers loopback clients that no proxy forwards (the
    // browser here). With a key it would ask for it whatever the peer (tests/it/access.rs).
    let config = DaemonConfig::new(&internet)
        .without_api_key()
        .service_mode("pop3", "audit")
        .list("ip_net.deny.lst", "176.112.168.0/21\n")
        .list("asn.deny.lst", "AS63949\n")
        .list("known_good.lst", "AS15169\n")
        // A broken line, for the list health table.
        .list("rev_host.deny.lst", "'.example.invalid'\n(unclosed\n");
    let seeded = backfill(&history_path(&config));
    let d = config.start();
    let port = d.http_port();

    // Live logins through Dovecot's endpoint.
    let blocked = login(port, VK_USER, "imap", LISTED_IP);
    assert!(blocked.body.contains("\"status\":-1"), "{blocked:?}");
    for ip in [UNLISTED_IP, UNLISTED_IP2, UNLISTED_IP] {
        login(port, GOOGLE_USER, "imap", ip);
    }
    login(port, GOOGLE_USER2, "imap", UNLISTED_IP2);
    let audit = login(port, LINODE_USER, "pop3", LINODE_IP);
    assert!(audit.body.contains("\"status\":0"), "audit mode: {audit:?}");

    // Plain HTTP first: the page, its assets and headers.
    wait_for_history(&d, &[VK_USER, GOOGLE_USER, GOOGLE_USER2, LINODE_USER]);
    let page = d.get("/ui", None);
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("<svg class=\"chart\""), "{page:?}");
    assert!(page.body.contains(VK_USER), "{page:?}");
    let css = d.get("/ui/style.css", None);
    assert_eq!(css.status, 200);
    assert!(css
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/css"));
    let overview = d.get("/ui?range=24h", None);
    let csp = overview.header("content-security-policy").unwrap_or("");
    assert!(csp.contains("default-src 'none'"), "{overview:?}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime for the WebDriver client");
    let driver = ChromeDriver::start();
    let base = format!("http://127.0.0.1:{port}");
    rt.block_on(async {
        let client = driver.session().await;
        let result = browse(&client, &base, seeded).await;
        let _ = client.close().await;
        if let Err(message) = result {
            panic!(
                "{message}\nchromedriver log:\n{}\ndaemon stderr:\n{}",
                driver.log(),
                d.stderr()
            );
        }
    });
}

type Checked = Result<(), String>;

fn check(ok: bool, message: impl FnOnce() -> String) -> Checked {
    if ok {
        Ok(())
    } else {
        Err(message())
    }
}

async fn text_of(client: &Client, css: &str) -> Result<String, String> {
    let element = client
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("no element {css}: {e}"))?;
    element
        .text()
        .await
        .map_err(|e| format!("text of {css}: {e}"))
}

async fn browse(client: &Client, base: &str, seeded: usize) -> Checked {
    let err = |what: &'static str| move |e: fantoccini::error::CmdError| format!("{what}: {e}");

    // The overview.
    client
        .goto(&format!("{base}/ui"))
        .await
        .map_err(err("load /ui"))?;
    let title = client.title().await.map_err(err("title"))?;
    check(title == "badclients dashboard", || {
        format!("title {title:?}")
    })?;
    let bars = client
        .find_all(Locator::Css("svg.chart rect.bar"))
        .await
        .map_err(err("chart bars"))?;
    check(bars.len() >= 10, || {
        format!("expected the chart's bars, found {}", bars.len())
    })?;
    for class in ["allowed", "blocked", "would-block"] {
        let found = client
            .find_all(Locator::Css(&format!("svg.chart rect.bar.{class}")))
            .await
            .map_err(err("chart bars by outcome"))?;
        check(!found.is_empty(), || {
            format!("no {class} bars in the chart")
        })?;
    }
    // The stylesheet applied (the page is not unstyled HTML).
    let bg = client
        .find(Locator::Css("header.topbar"))
        .await
        .map_err(err("top bar"))?
        .css_value("background-color")
        .await
        .map_err(err("top bar colour"))?;
    check(
        bg == "rgb(30, 41, 59)" || bg == "rgba(30, 41, 59, 1)",
        || format!("style.css did not apply: top bar background {bg:?}"),
    )?;

    let cards = text_of(client, "section.cards").await?;
    check(cards.contains("LOGINS") || cards.contains("logins"), || {
        format!("totals: {cards:?}")
    })?;
    let total: usize = text_of(client, "section.cards .stat .value")
        .await?
        .trim()
        .parse()
        .map_err(|e| format!("total logins: {e}"))?;
    check(total >= seeded + 6, || {
        format!("the totals count {total} logins, {seeded} were seeded plus 6 live")
    })?;

    // The latest blocked logins, with why.
    let rows = client
        .find_all(Locator::Css("#latest-blocked tbody tr"))
        .await
        .map_err(err("latest blocked rows"))?;
    let mut vk_row = None;
    let mut linode_row = None;
    for row in &rows {
        let text = row.text().await.map_err(err("row text"))?;
        if text.contains(VK_USER) {
            vk_row.get_or_insert(text);
        } else if text.contains(LINODE_USER) {
            linode_row.get_or_insert(text);
        }
    }
    let vk_row = vk_row.ok_or_else(|| format!("{VK_USER} is not in the latest blocked logins"))?;
    for expected in [
        "ip_net",
        "ip_net.deny.lst:1: 176.112.168.0/21",
        "rimap26.i.mail.ru",
        "AS47764",
        "VK-AS, RU",
        "blocked",
    ] {
        check(vk_row.contains(expected), || {
            format!("the latest blocked row {vk_row:?} lacks {expected:?}")
        })?;
    }
    let linode_row =
        linode_row.ok_or_else(|| format!("{LINODE_USER} is not in the latest blocked logins"))?;
    for expected in ["would-block", "asn", "asn.deny.lst:1: AS63949"] {
        check(linode_row.contains(expected), || {
            format!("the latest blocked row {linode_row:?} lacks {expected:?}")
        })?;
    }
    // The rankings and the health.
    let asns = text_of(client, "#top-asns").await?;
    for expected in [
        "AS47764",
        "AS15169",
        "AS64496",
        "candidate",
        "listed",
        "known-good",
    ] {
        check(asns.contains(expected), || {
            format!("top ASNs lack {expected:?}: {asns}")
        })?;
    }
    let countries = text_of(client, "#top-countries").await?;
    check(countries.contains("RU") && countries.contains("US"), || {
        format!("top countries: {countries}")
    })?;
    let health = text_of(client, "#list-health").await?;
    for expected in [
        "ip_net.deny.lst",
        "asn.deny.lst",
        "rev_host.deny.lst:2",
        "error",
    ] {
        check(health.contains(expected), || {
            format!("list health lacks {expected:?}: {health}")
        })?;
    }
    let history = text_of(client, "#history-stats").await?;
    check(history.contains("records"), || {
        format!("history: {history}")
    })?;

    screenshot(client).await?;

    // The user search: type, submit, read.
    let search = |name: &'static str| async move {
        let input = client
            .find(Locator::Css("#user-search"))
            .await
            .map_err(err("search box"))?;
        input.clear().await.map_err(err("clear the search box"))?;
        input.send_keys(name).await.map_err(err("type a user"))?;
        client
            .find(Locator::Css("form.search button[type=submit]"))
            .await
            .map_err(err("search button"))?
            .click()
            .await
            .map_err(err("submit the search"))?;
        client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_url(
                &url::Url::parse(&format!("{base}/ui/user?q={name}")).map_err(|e| e.to_string())?,
            )
            .await
            .map_err(err("the user page"))
    };
    search(VK_USER).await?;
    let title = client.title().await.map_err(err("user title"))?;
    check(title.contains(VK_USER), || {
        format!("user page title {title:?}")
    })?;
    let main = text_of(client, "main").await?;
    for expected in [
        VK_USER,
        "AS47764",
        "VK-AS, RU",
        "rimap26.i.mail.ru",
        "VK-FRONT",
    ] {
        check(main.contains(expected), || {
            format!("the page of {VK_USER} lacks {expected:?}:\n{main}")
        })?;
    }
    for other in [
        GOOGLE_USER,
        "mail-ej1-f15.google.com",
        "AS15169",
        LINODE_USER,
    ] {
        check(!main.contains(other), || {
            format!("the page of {VK_USER} shows {other:?}:\n{main}")
        })?;
    }
    let png = client
        .screenshot()
        .await
        .map_err(err("user page screenshot"))?;
    let user_png = screenshot_paths().0.with_file_name("ui-user.png");
    std::fs::write(&user_png, png).map_err(|e| format!("write {}: {e}", user_png.display()))?;
    let sources = client
        .find_all(Locator::Css("table.sources tbody tr"))
        .await
        .map_err(err("source rows"))?;
    check(sources.len() == 1, || {
        format!(
            "{VK_USER} logs in from one AS, {} rows shown",
            sources.len()
        )
    })?;

    search(GOOGLE_USER).await?;
    let main = text_of(client, "main").await?;
    for expected in [
        "AS15169",
        "mail-ej1-f15.google.com",
        "mail-ej1-f53.google.com",
    ] {
        check(main.contains(expected), || {
            format!("the page of {GOOGLE_USER} lacks {expected:?}:\n{main}")
        })?;
    }
    check(!main.contains("rimap26.i.mail.ru"), || {
        format!("the page of {GOOGLE_USER} shows VK's host:\n{main}")
    })?;

    search("nobody-at-all").await?;
    let none = text_of(client, "#no-logins").await?;
    check(none.contains("No logins recorded"), || {
        format!("unknown user: {none}")
    })?;
    Ok(())
}

/// The overview as one image: the window grown to the page's height, then restored.
async fn screenshot(client: &Client) -> Checked {
    let err = |what: &'static str| move |e: fantoccini::error::CmdError| format!("{what}: {e}");
    let height = client
        .execute("return document.documentElement.scrollHeight;", Vec::new())
        .await
        .map_err(err("page height"))?
        .as_u64()
        .unwrap_or(u64::from(WINDOW.1));
    let height = u32::try_from(height.clamp(u64::from(WINDOW.1), 4000)).unwrap_or(WINDOW.1);
    client
        .set_window_size(WINDOW.0, height)
        .await
        .map_err(err("resize the window"))?;
    // The viewport can be a little shorter than the window: grow by the difference.
    let inner = client
        .execute("return window.innerHeight;", Vec::new())
        .await
        .map_err(err("viewport height"))?
        .as_u64()
        .unwrap_or(u64::from(height));
    if inner < u64::from(height) {
        let more = u32::try_from(u64::from(height) - inner).unwrap_or(0);
        client
            .set_window_size(WINDOW.0, height + more)
            .await
            .map_err(err("resize the window"))?;
    }
    let png = client.screenshot().await.map_err(err("screenshot"))?;
    client
        .set_window_size(WINDOW.0, WINDOW.1)
        .await
        .map_err(err("restore the window"))?;
    check(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000,
        || {
            format!(
                "the screenshot is not a PNG of a page ({} bytes)",
                png.len()
            )
        },
    )?;
    let (target, docs) = screenshot_paths();
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    }
    std::fs::write(&target, &png).map_err(|e| format!("write {}: {e}", target.display()))?;
    // The README's copy: written when missing, or on request (it changes every run).
    if !docs.exists() || std::env::var_os("UPDATE_DASHBOARD_SCREENSHOT").is_some() {
        std::fs::write(&docs, &png).map_err(|e| format!("write {}: {e}", docs.display()))?;
    }
    eprintln!("dashboard screenshot: {}", target.display());
    Ok(())
}
