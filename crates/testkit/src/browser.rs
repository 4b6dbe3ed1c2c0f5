//! Debian's real Chromium, headless, driven over WebDriver: [`ChromeDriver`] runs
//! `/usr/bin/chromedriver` on a free loopback port (killed on drop) and opens `fantoccini`
//! sessions that start `/usr/bin/chromium` with a fresh profile and no network chatter.
//!
//! A missing browser is a failure, never a skip: `./scripts/test.sh` installs the packages
//! (`chromium chromium-driver`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::daemon::free_port;

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver (package `chromium-driver`), the same version as [`CHROMIUM`].
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The browser window (and so the screenshot) size.
pub const WINDOW: (u32, u32) = (1280, 1600);

const DRIVER_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Fails the test when Chromium or chromedriver is not installed.
pub fn require_browser() {
    for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(path).is_file(),
            "{path} is missing: the dashboard test drives Debian's real headless Chromium. \
             Run ./scripts/test.sh, which installs the Debian packages `chromium chromium-driver` \
             (or `apt-get install {package}`)"
        );
    }
}

/// A running chromedriver.
pub struct ChromeDriver {
    child: Child,
    port: u16,
    // Last: removed after the process is gone.
    dir: tempfile::TempDir,
}

impl ChromeDriver {
    /// Starts chromedriver on a free loopback port and waits until it says it is ready.
    pub fn start() -> ChromeDriver {
        require_browser();
        let dir = tempfile::Builder::new()
            .prefix("bcui")
            .tempdir()
            .expect("temporary directory for the browser");
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                dir.path().join("chromedriver.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let mut driver = ChromeDriver { child, port, dir };
        driver.wait_ready();
        driver
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + DRIVER_READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "chromedriver exited at start ({status}); log:\n{}",
                    self.log()
                );
            }
            if let Some(body) = get_status(self.port) {
                if body.contains("\"ready\":true") || body.contains("\"ready\": true") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver on port {} was not ready within {DRIVER_READY_TIMEOUT:?}; log:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// chromedriver's log so far (for failure messages).
    pub fn log(&self) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default();
        // The tail is what matters.
        let start = log.len().saturating_sub(8000);
        let start = (start..log.len())
            .find(|&i| log.is_char_boundary(i))
            .unwrap_or(log.len());
        log[start..].to_string()
    }

    /// The WebDriver URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A fresh Chromium profile directory.
    fn profile(&self) -> PathBuf {
        let n = std::fs::read_dir(self.dir.path())
            .map(|d| d.count())
            .unwrap_or(0);
        let path = self.dir.path().join(format!("profile-{n}"));
        std::fs::create_dir_all(&path).expect("mkdir browser profile");
        path
    }

    /// Opens a session: headless Chromium with its own profile, as root (no sandbox), with
    /// nothing fetched from the internet.
    pub async fn session(&self) -> Client {
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-extensions".into(),
            "--hide-scrollbars".into(),
            "--force-device-scale-factor=1".into(),
            "--lang=en-US".into(),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            format!("--user-data-dir={}", self.profile().display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot open a Chromium session through chromedriver: {e}; log:\n{}",
                    self.log()
                )
            })
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // chromedriver ends the browsers it started when it goes.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /status` of a WebDriver server: the body, or `None` when it does not answer yet.
fn get_status(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    text.starts_with("HTTP/1.1 200").then_some(text)
}
