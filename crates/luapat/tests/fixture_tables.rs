//! The hand-written differential table (tests/fixtures/differential-*.tsv):
//! each case's `string.find` result must be the one in the `lua5.4` column.

use luapat::{lua_find, Capture, Limits, MatchError, Pattern};

const CASES: &str = include_str!("fixtures/differential-cases.tsv");
const RESULTS: &str = include_str!("fixtures/differential-results.tsv");

/// Decode the `\xNN` escapes of the cases file.
fn unescape(field: &str) -> Vec<u8> {
    let bytes = field.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"\\x") && i + 4 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).expect("ascii");
            out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// A find result in the table's notation.
fn notation(subject: &[u8], res: &Result<Option<luapat::Found>, MatchError>) -> String {
    match res {
        Err(_) => "ERR".to_string(),
        Ok(None) => "NOMATCH".to_string(),
        Ok(Some(found)) => {
            let mut out = format!("{}-{}", found.start, found.end);
            if !found.captures.is_empty() {
                let caps: Vec<String> = found
                    .captures
                    .iter()
                    .map(|c| match c {
                        Capture::Span { .. } => {
                            String::from_utf8_lossy(c.bytes(subject).expect("span")).into_owned()
                        }
                        Capture::Position(n) => format!("#{n}"),
                    })
                    .collect();
                out.push_str(&format!(" [{}]", caps.join("|")));
            }
            out
        }
    }
}

#[test]
fn lua54_column_of_the_differential_table() {
    let results: Vec<(usize, &str)> = RESULTS
        .lines()
        .map(|line| {
            let mut cols = line.split('\t');
            let n = cols
                .next()
                .and_then(|n| n.parse().ok())
                .expect("case number");
            (n, cols.next().expect("lua5.4 column"))
        })
        .collect();
    assert_eq!(results.len(), 59);
    let mut checked = 0;
    for (i, line) in CASES.lines().enumerate() {
        let (pattern, subject) = line.split_once('\t').expect("pattern<TAB>subject");
        let (pattern, subject) = (unescape(pattern), unescape(subject));
        let (n, want) = results[i];
        assert_eq!(n, i + 1);
        let got = notation(&subject, &lua_find(&pattern, &subject, &Limits::default()));
        assert_eq!(got, want, "case {n}: {line:?}");
        // The eager layer agrees wherever it accepts the pattern.
        if let Ok(p) = Pattern::compile(&pattern) {
            assert_eq!(
                notation(&subject, &p.find(&subject)),
                want,
                "case {n} (Pattern)"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 48);
}
