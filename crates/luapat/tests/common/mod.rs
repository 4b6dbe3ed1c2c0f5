//! Helpers shared by the integration tests: a seeded PRNG, the `lua5.4`
//! oracle runner, and formatting of results in the oracle's line format.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use luapat::{Capture, Found, MatchError};

/// SplitMix64: small, seedable, good enough to drive test generators.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub(crate) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub(crate) fn byte(&mut self) -> u8 {
        (self.next_u64() & 0xff) as u8
    }

    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Path of the `lua5.4` interpreter, or a panic with install advice.
pub(crate) fn lua() -> PathBuf {
    for candidate in ["/usr/bin/lua5.4", "/usr/local/bin/lua5.4"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    if let Ok(out) = Command::new("lua5.4").arg("-v").output() {
        if out.status.success() {
            return PathBuf::from("lua5.4");
        }
    }
    panic!("lua5.4 not found: apt-get install lua5.4");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Run every `(pattern, subject)` case through `tests/oracle.lua` in one
/// `lua5.4` process; for each case, the (match, find) result lines.
pub(crate) fn run_oracle(cases: &[(Vec<u8>, Vec<u8>)], tag: &str) -> Vec<(String, String)> {
    let lua = lua();
    let dir = std::env::temp_dir();
    let input = dir.join(format!("luapat-{tag}-{}-cases.txt", std::process::id()));
    let output = dir.join(format!("luapat-{tag}-{}-out.txt", std::process::id()));
    let mut text = String::with_capacity(cases.len() * 64);
    for (p, s) in cases {
        text.push_str(&hex(p));
        text.push(',');
        text.push_str(&hex(s));
        text.push('\n');
    }
    std::fs::write(&input, text).expect("write oracle cases");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle.lua");
    let status = Command::new(&lua)
        .arg(&script)
        .arg(&input)
        .arg(&output)
        .status()
        .expect("run lua5.4");
    assert!(status.success(), "lua5.4 oracle failed: {status}");
    let out = std::fs::read_to_string(&output).expect("read oracle output");
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
    let lines: Vec<String> = out.lines().map(normalise).collect();
    assert_eq!(
        lines.len(),
        cases.len() * 2,
        "oracle printed a wrong number of lines"
    );
    lines
        .chunks(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect()
}

/// Strip a `bad argument #n to 'f' (...)` wrapper from an error line, should
/// Lua ever add one, keeping the core message.
pub(crate) fn normalise(line: &str) -> String {
    if let Some(msg) = line.strip_prefix("E bad argument") {
        if let (Some(open), true) = (msg.find('('), msg.ends_with(')')) {
            return format!("E {}", &msg[open + 1..msg.len() - 1]);
        }
    }
    line.to_string()
}

fn value(subject: &[u8], c: &Capture) -> String {
    match c {
        Capture::Span { .. } => format!("s{}", hex(c.bytes(subject).expect("span in subject"))),
        Capture::Position(n) => format!("n{n}"),
    }
}

/// A `lua_match` result in the oracle's format.
pub(crate) fn fmt_match(subject: &[u8], r: &Result<Option<Vec<Capture>>, MatchError>) -> String {
    match r {
        Err(e) => format!("E {e}"),
        Ok(None) => "N".to_string(),
        Ok(Some(values)) => {
            let mut out = String::from("V");
            for v in values {
                out.push(' ');
                out.push_str(&value(subject, v));
            }
            out
        }
    }
}

/// A `lua_find` result in the oracle's format.
pub(crate) fn fmt_find(subject: &[u8], r: &Result<Option<Found>, MatchError>) -> String {
    match r {
        Err(e) => format!("E {e}"),
        Ok(None) => "N".to_string(),
        Ok(Some(f)) => {
            let mut out = format!("V n{} n{}", f.start, f.end);
            for v in &f.captures {
                out.push(' ');
                out.push_str(&value(subject, v));
            }
            out
        }
    }
}

/// Printable form of bytes for failure messages.
pub(crate) fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}
