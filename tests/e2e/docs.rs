//! The configuration an admin copies is the configuration that is tested: every Dovecot block
//! of the README and docs/dovecot.md marked ```` ```conf dovecot=2.3 ```` or `dovecot=2.4` is
//! taken out of the Markdown as it is written, given a test instance's daemon address, key and
//! files, and run on the release it names (2.3: Debian 12, 2.4: Debian 13). A listed network
//! must be refused and an unlisted one let in, through a real IMAP login.
//!
//! The shim's settings file is the documentation's ```` ```ini badclients-lua-conf ```` block;
//! a Dovecot block whose fence also says `result_success=next` (the "shim first" order) runs
//! with that setting on top, as the text beside it says.
//!
//! Needs root, the Debian packages of tests/e2e/README.md and the Debian 13 root that
//! `scripts/test.sh` builds.

use std::path::Path;

use testkit::daemon::{DaemonConfig, FakeInternet, API_KEY, LISTED_IP, LISTED_NET, UNLISTED_IP};
use testkit::dovecot::{Dovecot, Gate, PASSWORD};
use testkit::mail_clients::Forge;
use testkit::release::Release;

/// The Markdown files whose Dovecot blocks are run.
const DOCUMENTS: [&str; 2] = ["README.md", "docs/dovecot.md"];

/// One fenced block: where it is, its info string's words, its text (the fence's
/// indentation removed).
#[derive(Debug, Clone)]
struct Block {
    place: String,
    words: Vec<String>,
    text: String,
}

impl Block {
    /// The value of `key=value` in the info string.
    fn tag(&self, key: &str) -> Option<&str> {
        self.words
            .iter()
            .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
    }

    fn has_word(&self, word: &str) -> bool {
        self.words.iter().any(|w| w == word)
    }
}

/// Every fenced code block of `file` (relative to the repository).
fn blocks(file: &str) -> Vec<Block> {
    let path = testkit::repo().join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut out = Vec::new();
    let mut open: Option<(usize, usize, Vec<String>, Vec<String>)> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match open.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    let words = info.split_whitespace().map(str::to_owned).collect();
                    open = Some((n + 1, indent, words, Vec::new()));
                }
            }
            Some((start, fence_indent, words, mut lines)) => {
                if trimmed == "```" {
                    out.push(Block {
                        place: format!("{file}:{start}"),
                        words,
                        text: lines.join("\n") + "\n",
                    });
                } else {
                    let cut = line
                        .char_indices()
                        .take_while(|(i, c)| *i < fence_indent && *c == ' ')
                        .count();
                    lines.push(line[cut..].to_owned());
                    open = Some((start, fence_indent, words, lines));
                }
            }
        }
    }
    assert!(open.is_none(), "{file}: a code block is never closed");
    out
}

/// The Dovecot blocks of every document for `version` (`2.3`, `2.4`).
fn dovecot_blocks(version: &str) -> Vec<Block> {
    DOCUMENTS
        .iter()
        .flat_map(|f| blocks(f))
        .filter(|b| b.tag("dovecot") == Some(version))
        .collect()
}

/// The shim's documented settings file (docs/dovecot.md's `badclients-lua-conf` block).
fn documented_settings() -> Block {
    let found: Vec<Block> = blocks("docs/dovecot.md")
        .into_iter()
        .filter(|b| b.has_word("badclients-lua-conf"))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "docs/dovecot.md must have exactly one ```ini badclients-lua-conf block: {found:#?}"
    );
    found[0].clone()
}

/// The documentation's example values replaced by the test daemon's.
fn fill_in(text: &str, daemon_url: &str) -> String {
    let filled = text
        .replace("http://127.0.0.1:8670", daemon_url)
        .replace("a-long-random-string", API_KEY)
        .replace("<the api_key>", API_KEY)
        .replace("<any random string>", "e2e-docs-nonce");
    for example in ["8670", "<the api_key>", "<any random string>"] {
        assert!(
            !filled.contains(example),
            "an example value is left in a documented block: {example}\n{filled}"
        );
    }
    filled
}

fn run_documented_blocks(release: Release, version: &str) {
    let found = dovecot_blocks(version);
    // The README's policy block, and docs/dovecot.md's policy block and both shim orders.
    assert!(
        found.len() >= 4,
        "expected at least 4 `dovecot={version}` blocks in {DOCUMENTS:?}, found {}: {found:#?}",
        found.len()
    );
    assert!(found
        .iter()
        .any(|b| b.text.contains("auth_policy_server_url")));
    assert!(found.iter().any(|b| b.text.contains("driver = lua")));
    let settings = documented_settings();

    let internet = FakeInternet::start();
    let daemon = DaemonConfig::new(&internet)
        .list("ip_net.deny.lst", &format!("{LISTED_NET}\n"))
        .start();
    let url = daemon.http_url();
    for block in &found {
        let mut shim_settings = fill_in(&settings.text, &url);
        if let Some(value) = block.tag("result_success") {
            shim_settings.push_str(&format!("result_success = {value}\n"));
        }
        let config = fill_in(&block.text, &url);
        let dv = Dovecot::start(
            release,
            Gate::Documented {
                config: config.clone(),
                settings: shim_settings,
            },
        );
        let context = || {
            format!(
                "\n--- block {} ---\n{config}--- dovecot log ---\n{}\n--- daemon ---\n{}",
                block.place,
                dv.log(),
                daemon.stderr()
            )
        };
        let refused = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
        assert!(
            refused.starts_with("a1 NO"),
            "a listed network got in: {refused}{}",
            context()
        );
        let passed = dv.imap_login(Forge::Proxy(UNLISTED_IP), "bob", PASSWORD);
        assert!(
            passed.starts_with("a1 OK"),
            "an unlisted network was refused: {passed}{}",
            context()
        );
        let refusal = daemon.wait_for(std::time::Duration::from_secs(5), |l| {
            l.starts_with(&format!(
                "mail-audit: user=<alice>, service=imap, ip={LISTED_IP}"
            ))
        });
        assert!(
            refusal.is_some_and(|l| l.contains("blocked=True, matched=ip_net")),
            "no audit line of the refusal{}",
            context()
        );
        drop(dv);
    }
}

fn documented_blocks_run_as_written(release: Release) {
    match release {
        Release::Debian12 => run_documented_blocks(release, "2.3"),
        Release::Debian13 => run_documented_blocks(release, "2.4"),
    }
}

testkit::on_both_releases!(documented_blocks_run_as_written);

#[test]
fn every_dovecot_block_names_its_release_and_nothing_is_untested() {
    for file in DOCUMENTS {
        let text = std::fs::read_to_string(Path::new(&testkit::repo()).join(file)).unwrap();
        for phrase in ["not run", "not been run"] {
            assert!(
                !text.contains(phrase),
                "{file} says {phrase:?}: every documented block is run"
            );
        }
        for block in blocks(file) {
            let dovecot_settings =
                block.text.contains("auth_policy_server_url") || block.text.contains("passdb ");
            if dovecot_settings {
                assert!(
                    matches!(block.tag("dovecot"), Some("2.3" | "2.4")),
                    "{}: a Dovecot configuration block must say dovecot=2.3 or dovecot=2.4",
                    block.place
                );
            }
        }
    }
    // Both releases have their blocks.
    assert!(!dovecot_blocks("2.3").is_empty());
    assert!(!dovecot_blocks("2.4").is_empty());
}
