//! One test per feature of Lua patterns and per error message, for both the
//! lazy layer (`lua_match`/`lua_find`) and the eager one (`Pattern`).
//! Expected values were checked against `lua5.4`.

use luapat::{
    lua_find, lua_find_init, lua_match, lua_match_init, Capture, Found, Limits, MatchError,
    Pattern, PatternError,
};

/// `string.match` with every value as bytes (position captures printed as
/// their number), `None` for nil.
fn m(pattern: &str, subject: &str) -> Option<Vec<String>> {
    mb(pattern.as_bytes(), subject.as_bytes())
}

fn mb(pattern: &[u8], subject: &[u8]) -> Option<Vec<String>> {
    let values = lua_match(pattern, subject, &Limits::default()).expect("no error");
    values.map(|vs| {
        vs.iter()
            .map(|c| match c {
                Capture::Span { .. } => {
                    String::from_utf8_lossy(c.bytes(subject).expect("span")).into_owned()
                }
                Capture::Position(n) => format!("#{n}"),
            })
            .collect()
    })
}

/// `string.find`'s two positions.
fn f(pattern: &str, subject: &str) -> Option<(usize, usize)> {
    lua_find(pattern.as_bytes(), subject.as_bytes(), &Limits::default())
        .expect("no error")
        .map(|found| (found.start, found.end))
}

fn err(pattern: &str, subject: &str) -> String {
    match lua_match(pattern.as_bytes(), subject.as_bytes(), &Limits::default()) {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected an error for {pattern:?} on {subject:?}, got {v:?}"),
    }
}

fn one(s: &str) -> Option<Vec<String>> {
    Some(vec![s.to_string()])
}

#[test]
fn literals_and_dot() {
    assert_eq!(m("abc", "xxabcxx"), one("abc"));
    assert_eq!(m("a.c", "a\nc"), one("a\nc"));
    assert_eq!(mb(b".", b"\0"), Some(vec!["\0".to_string()]));
    assert_eq!(
        mb(b"\xc3.", b"\xc3\xa9"),
        Some(vec![String::from_utf8_lossy(b"\xc3\xa9").into_owned()])
    );
    assert_eq!(m("abc", "ab"), None);
}

#[test]
fn named_classes_use_the_c_locale() {
    let members = |class: &str| -> Vec<u8> {
        (0..=255u8)
            .filter(|&c| lua_match(class.as_bytes(), &[c], &Limits::default()) != Ok(None))
            .collect()
    };
    assert_eq!(members("%d"), b"0123456789");
    assert_eq!(members("%x"), b"0123456789ABCDEFabcdef");
    assert_eq!(members("%s"), b"\t\n\x0b\x0c\r ");
    assert_eq!(members("%c").len(), 33);
    assert_eq!(members("%p").len(), 32);
    assert_eq!(members("%g").len(), 94);
    assert_eq!(members("%a").len(), 52);
    assert_eq!(members("%w").len(), 62);
    assert_eq!(members("%l"), b"abcdefghijklmnopqrstuvwxyz");
    assert_eq!(members("%u"), b"ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    // Upper case is the complement, bytes >= 0x80 included.
    assert_eq!(members("%D").len(), 246);
    assert!(members("%A").contains(&0xe9));
    // Lua 5.4 still has the deprecated %z: the NUL byte (checked with lua5.4).
    assert_eq!(members("%z"), b"\0");
    assert_eq!(members("%Z").len(), 255);
}

#[test]
fn other_escapes_are_literal_and_case_sensitive() {
    assert_eq!(m("%Q", "Q"), one("Q"));
    assert_eq!(m("%Q", "q"), None);
    assert_eq!(m("%.", "a.b"), one("."));
    assert_eq!(m("%%", "5%"), one("%"));
    assert_eq!(mb(b"%\0+", b"abc\0\0\0"), Some(vec!["\0\0\0".to_string()]));
}

#[test]
fn sets() {
    assert_eq!(m("[a-c]+", "xxabcabcd"), one("abcabc"));
    assert_eq!(m("[^%s]+", "  word  "), one("word"));
    assert_eq!(m("[]]", "a]b"), one("]"));
    assert_eq!(m("[^]]", "]]x"), one("x"));
    assert_eq!(m("[]a]+", "]a]ab"), one("]a]a"));
    assert_eq!(m("[%]]", "x]"), one("]"));
    assert_eq!(m("[a-]+", "-a-b"), one("-a-"));
    assert_eq!(m("[%a-]+", "ab-c!"), one("ab-c"));
    assert_eq!(m("[z-a]", "m"), None); // an empty range
    assert_eq!(
        mb(b"[\0-\x02]+", b"ab\0\x01\x02c"),
        Some(vec!["\0\x01\x02".to_string()])
    );
}

#[test]
fn quantifiers() {
    assert_eq!(m("a*", "aaab"), one("aaa"));
    assert_eq!(m("b*", "aaa"), one(""));
    assert_eq!(m("a+", "baaa"), one("aaa"));
    assert_eq!(m("a-b", "aaab"), one("aaab"));
    assert_eq!(m("a-", "aaa"), one(""));
    assert_eq!(m("^a-$", "aaa"), one("aaa"));
    assert_eq!(m("a?b", "b"), one("b"));
    assert_eq!(m("a?b", "ab"), one("ab"));
    assert_eq!(m("b.-b", "aabaaabaaab"), one("baaab"));
    assert_eq!(m("b.*b", "aabaaabaaab"), one("baaabaaab"));
    // A quantifier right after %b or a back-reference is a literal item.
    assert_eq!(m("%b()*", "(x)*"), one("(x)*"));
}

#[test]
fn anchors() {
    assert_eq!(f("^abc", "xabc"), None);
    assert_eq!(f("abc$", "abcx"), None);
    assert_eq!(f("$", "abc"), Some((4, 3)));
    assert_eq!(f("x*$", "abc"), Some((4, 3)));
    assert_eq!(f("^$", ""), Some((1, 0)));
    // `^` elsewhere and `$` before the end are literals.
    assert_eq!(m("a^b", "a^b"), one("a^b"));
    assert_eq!(m("a$b", "a$b"), one("a$b"));
    assert_eq!(m("$$", "a$"), one("$"));
    assert_eq!(m("^^", "^x"), one("^"));
}

#[test]
fn captures() {
    assert_eq!(
        m("(%a+)=(%d+)", "k=42"),
        Some(vec!["k".into(), "42".into()])
    );
    assert_eq!(
        m("((a)(b))", "ab"),
        Some(vec!["ab".into(), "a".into(), "b".into()])
    );
    assert_eq!(m("()a()", "xxa"), Some(vec!["#3".into(), "#4".into()]));
    assert_eq!(
        m("(.+(.?)())", "0123456789"),
        Some(vec!["0123456789".into(), "".into(), "#11".into()])
    );
    assert_eq!(
        lua_find(b"()a()", b"xxa", &Limits::default()),
        Ok(Some(Found {
            start: 3,
            end: 3,
            captures: vec![Capture::Position(3), Capture::Position(4)]
        }))
    );
}

#[test]
fn back_references() {
    assert_eq!(
        m("(a)(b)%2%1", "xabbax"),
        Some(vec!["a".into(), "b".into()])
    );
    assert_eq!(m("^(=*)=%1$", "======="), one("==="));
    assert_eq!(m("^([=]*)=%1$", "=========="), None);
    // A back-reference to a position capture never matches (and is valid).
    assert_eq!(m("()%1", "ab"), None);
    assert_eq!(f("(x*)%1", "ab"), Some((1, 0)));
}

#[test]
fn balance() {
    assert_eq!(m("%b()", "f(a(b)c)d"), one("(a(b)c)"));
    assert_eq!(m("%bxy", "axxyyb"), one("xxyy"));
    assert_eq!(m("%b()", "((("), None);
    assert_eq!(
        mb(b"%b\0\x01", b"abc\0efg\0\x01e\x01g"),
        Some(vec!["\0efg\0\x01e\x01".to_string()])
    );
}

#[test]
fn frontier_uses_nul_outside_the_subject() {
    assert_eq!(f("%f[%w]dsl%f[%W]", "pool.dsl.example"), Some((6, 8)));
    assert_eq!(f("%f[%w]dsl%f[%W]", "pool.adsl.example"), None);
    // At the end the next byte is '\0', which %W contains.
    assert_eq!(f("foo%f[%W]", "xfoo"), Some((2, 4)));
    // At the start the previous byte is '\0'.
    assert_eq!(f("%f[a]", "a"), Some((1, 0)));
    assert_eq!(f("%f[^%z]", "a"), Some((1, 0)));
    assert_eq!(f("%f[^%l]", "a"), Some((2, 1)));
    assert_eq!(f("%f[%z]", "aba"), Some((4, 3)));
    assert_eq!(f("%f[%l%z]", "aba"), None);
}

#[test]
fn find_searches_plain_text_without_specials() {
    // `)` and `]` are not special for string.find's plain-search test...
    assert_eq!(f(")", "a)"), Some((2, 2)));
    assert_eq!(f("a]", "xa]"), Some((2, 3)));
    // ...while string.match treats the pattern as a pattern.
    assert_eq!(err(")", "a)"), "invalid pattern capture");
    assert_eq!(f("", "abc"), Some((1, 0)));
    assert_eq!(f("", ""), Some((1, 0)));
    assert_eq!(m("", "abc"), one(""));
    assert_eq!(f("+", "a+b"), Some((2, 2)));
    assert_eq!(mb(b"a\0o", b"xa\0o"), Some(vec!["a\0o".to_string()]));
}

#[test]
fn init_positions_follow_lua() {
    let lim = Limits::default();
    assert_eq!(
        lua_find_init(b"a\0o", b"a\0o a\0o a\0o", 2, &lim).map(|r| r.map(|f| f.start)),
        Ok(Some(5))
    );
    assert_eq!(
        lua_find_init(b"()", b"abc", 4, &lim).map(|r| r.map(|f| f.start)),
        Ok(Some(4))
    );
    assert_eq!(lua_find_init(b"()", b"abc", 5, &lim), Ok(None));
    assert_eq!(
        lua_match_init(b"%d+", b"10 20 30", -2, &lim),
        Ok(Some(vec![Capture::Span { start: 6, end: 8 }]))
    );
    assert_eq!(
        lua_match_init(b"^b", b"ab", 2, &lim),
        Ok(Some(vec![Capture::Span { start: 1, end: 2 }]))
    );
}

/// (pattern, a subject where Lua reaches the error, one where it does not,
/// Lua's message)
const ERRORS: &[(&str, &str, &str, &str)] = &[
    ("a%", "a", "b", "malformed pattern (ends with '%')"),
    ("a[b", "a", "x", "malformed pattern (missing ']')"),
    ("a[]", "a", "x", "malformed pattern (missing ']')"),
    ("a[^]", "a", "x", "malformed pattern (missing ']')"),
    ("a[b%]", "a", "x", "malformed pattern (missing ']')"),
    ("a%f", "a", "x", "missing '[' after '%f' in pattern"),
    ("a%fx", "a", "x", "missing '[' after '%f' in pattern"),
    (
        "a%b",
        "a",
        "x",
        "malformed pattern (missing arguments to '%b')",
    ),
    (
        "a%bx",
        "a",
        "x",
        "malformed pattern (missing arguments to '%b')",
    ),
    ("a%1", "a", "x", "invalid capture index %1"),
    ("a(b%1)", "ab", "x", "invalid capture index %1"),
    ("a(b)%2", "ab", "x", "invalid capture index %2"),
    ("a%0", "a", "x", "invalid capture index %0"),
    ("a)", "a", "x", "invalid pattern capture"),
    ("a(b", "ab", "x", "unfinished capture"),
];

#[test]
fn errors_are_lazy_in_the_raw_layer_and_eager_in_pattern() {
    for &(pattern, reached, not_reached, msg) in ERRORS {
        assert_eq!(err(pattern, reached), msg, "{pattern:?}");
        assert_eq!(
            m(pattern, not_reached),
            None,
            "{pattern:?} on {not_reached:?}"
        );
        let compiled = Pattern::compile(pattern.as_bytes());
        assert_eq!(
            compiled.map_err(|e| e.to_string()),
            Err(msg.to_string()),
            "{pattern:?}"
        );
    }
}

#[test]
fn capture_limits() {
    let ok = "()".repeat(32);
    assert_eq!(m(&ok, "x").map(|v| v.len()), Some(32));
    let too_many = "()".repeat(33);
    assert_eq!(err(&too_many, "x"), "too many captures");
    assert_eq!(
        Pattern::compile(too_many.as_bytes()),
        Err(PatternError::TooManyCaptures)
    );
    assert_eq!(MatchError::TooComplex.to_string(), "pattern too complex");
}

#[test]
fn unfinished_capture_is_raised_by_find_too() {
    assert_eq!(
        lua_find(b"(a", b"a", &Limits::default()),
        Err(MatchError::Pattern(PatternError::UnfinishedCapture))
    );
    assert_eq!(lua_find(b"(a", b"x", &Limits::default()), Ok(None));
}

#[test]
fn pattern_api() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_traits::<Pattern>();
    let p = Pattern::compile(b"^(%w+)%.example%.com$").expect("valid");
    assert_eq!(p.as_bytes(), b"^(%w+)%.example%.com$");
    assert!(p.is_anchored());
    assert_eq!(p.capture_count(), 1);
    assert!(format!("{p:?}").contains("example"));
    let q = p.clone();
    assert_eq!(q, p);
    assert_eq!(Pattern::try_from("%d+").map(|p| p.is_anchored()), Ok(false));
}

#[test]
fn whole_match_rule() {
    let whole = |p: &str, s: &str| {
        Pattern::compile(p.as_bytes())
            .expect("valid")
            .matches_whole(s.as_bytes())
    };
    assert_eq!(
        whole("^mail%d+%.example%.com$", "mail12.example.com"),
        Ok(true)
    );
    assert_eq!(
        whole("^mail%d+%.example%.com$", "mailx.example.com"),
        Ok(false)
    );
    // Unanchored: the first match must be the whole value.
    assert_eq!(whole("%a+", "abc"), Ok(true));
    assert_eq!(whole("%a+", "abc1"), Ok(false));
    assert_eq!(whole("%a+", "1abc"), Ok(false));
    assert_eq!(whole("", ""), Ok(true));
    assert_eq!(whole("", "a"), Ok(false));
    // With captures the first capture is compared.
    assert_eq!(whole("(.*)", "host"), Ok(true));
    assert_eq!(whole("(h)ost", "host"), Ok(false));
    assert_eq!(whole("^((%a+)%.com)$", "x.com"), Ok(true));
    // A position capture is a number: never equal to the string.
    assert_eq!(whole("()host", "host"), Ok(false));
    assert_eq!(whole("^.*$", "any\0thing"), Ok(true));
}

#[test]
fn pattern_methods_agree_with_raw_layer() {
    let lim = Limits::default();
    for (pat, subj) in [
        (&b"mail%.example"[..], &b"xx.mail.example.mail.example"[..]),
        (b"ab*c", b"aaabbbcabc"),
        (b"^ab", b"abab"),
        (b"a(b)()", b"xxabab"),
        (b"a)", b"xa)"),
    ] {
        let Ok(p) = Pattern::compile(pat) else {
            // `a)` is rejected eagerly even though find() would search it
            // as plain text.
            assert_eq!(
                lua_find(pat, subj, &lim).map(|f| f.map(|f| f.start)),
                Ok(Some(2))
            );
            continue;
        };
        assert_eq!(p.find(subj), lua_find(pat, subj, &lim));
        assert_eq!(p.match_captures(subj), lua_match(pat, subj, &lim));
    }
}
