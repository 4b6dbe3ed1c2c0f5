//! Any bytes as any list file: parsing never panics, every problem names the file and a
//! line that exists, and a decision over the result never panics.
#![no_main]

use std::path::Path;

use badclients::decision::Policy;
use badclients::facts::{Asn, Facts};
use badclients::lists::{ListKind, ListSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, content)) = data.split_first() else {
        return;
    };
    let kind = ListKind::ALL[usize::from(selector) % ListKind::ALL.len()];
    let path = Path::new("/lists").join(kind.file_name());
    let mut set = ListSet::default();
    let diagnostics = set.parse_into(kind, &path, content);
    let lines = content.split(|b| *b == b'\n').count();
    for d in &diagnostics {
        assert_eq!(d.path, path);
        let line = d.line.expect("a line problem names its line");
        assert!(line >= 1 && line <= lines, "line {line} of {lines}");
        assert!(!d.to_string().contains('\n'), "one line per problem");
    }
    assert!(set.len_of(kind) <= lines);
    // Decide a login whose facts are derived from the input too.
    let text = String::from_utf8_lossy(content);
    let mut facts = Facts::unknown("176.112.169.218".parse().expect("ip"));
    facts.host = text.lines().next().map(str::to_string);
    facts.as_desc = text.lines().nth(1).map(str::to_string);
    facts.net_name = facts.host.clone();
    facts.asn = Some(Asn(u32::from(selector)));
    facts.entities = text.lines().take(3).map(str::to_string).collect();
    let policy = Policy {
        lists: set,
        ..Policy::default()
    };
    let _ = policy.decide("user", "imap", &facts);
});
