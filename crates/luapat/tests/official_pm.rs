//! The `string.find`/`string.match` assertions of Lua 5.4.8's official
//! `pm.lua` (tests/fixtures/pm-5.4.8.lua), as a table. Each entry keeps the
//! Lua source it comes from, and a test checks that this source is still in
//! the fixture, so the table cannot drift from the file. A few `%f`/`%b`
//! assertions written with `gsub`/`gmatch` are replayed through a small
//! emulation of those two functions built on `lua_find_init`.

use luapat::{lua_find, lua_find_init, lua_match, Capture, Limits, Pattern};

const PM: &str = include_str!("fixtures/pm-5.4.8.lua");

fn lim() -> Limits {
    Limits::default()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum V {
    S(&'static [u8]),
    N(usize),
}

#[derive(Debug)]
enum Check {
    /// `string.find(s, p, init)` returns these two positions (or fails).
    Find(&'static [u8], &'static [u8], i64, Option<(usize, usize)>),
    /// `string.find(s, p)` returns this start (or fails).
    FindStart(&'static [u8], &'static [u8], Option<usize>),
    /// pm.lua's `f(s, p)`: the substring `string.find` found.
    Sub(&'static [u8], &'static [u8], Option<&'static [u8]>),
    /// `string.match(s, p)` returns these values (or fails).
    Match(&'static [u8], &'static [u8], Option<&'static [V]>),
    /// `pcall(string.find, "a", p)` fails with a message containing this.
    Malform(&'static [u8], &'static str),
}

use Check::*;
use V::{N, S};

/// (Lua source in pm.lua, what it asserts). Where pm.lua builds a pattern
/// with its `PU` helper (UTF-8 adaptation), the pattern here is the one PU
/// produces.
const CASES: &[(&str, Check)] = &[
    (r"local a,b = string.find('', '')", Find(b"", b"", 1, Some((1, 0)))),
    (r"a,b = string.find('alo', '')", Find(b"alo", b"", 1, Some((1, 0)))),
    (r"a,b = string.find('a\0o a\0o a\0o', 'a', 1)", Find(b"a\0o a\0o a\0o", b"a", 1, Some((1, 1)))),
    (r"a,b = string.find('a\0o a\0o a\0o', 'a\0o', 2)", Find(b"a\0o a\0o a\0o", b"a\0o", 2, Some((5, 7)))),
    (r"a,b = string.find('a\0o a\0o a\0o', 'a\0o', 9)", Find(b"a\0o a\0o a\0o", b"a\0o", 9, Some((9, 11)))),
    (r"a,b = string.find('a\0a\0a\0a\0\0ab', '\0ab', 2);", Find(b"a\0a\0a\0a\0\0ab", b"\0ab", 2, Some((9, 11)))),
    (r"a,b = string.find('a\0a\0a\0a\0\0ab', 'b')", Find(b"a\0a\0a\0a\0\0ab", b"b", 1, Some((11, 11)))),
    (r"assert(not string.find('a\0a\0a\0a\0\0ab', 'b\0'))", Find(b"a\0a\0a\0a\0\0ab", b"b\0", 1, None)),
    (r"assert(not string.find('', '\0'))", Find(b"", b"\0", 1, None)),
    (r"assert(string.find('alo123alo', '12') == 4)", FindStart(b"alo123alo", b"12", Some(4))),
    (r"assert(not string.find('alo123alo', '^12'))", FindStart(b"alo123alo", b"^12", None)),
    (r#"assert(string.match("aaab", ".*b") == "aaab")"#, Match(b"aaab", b".*b", Some(&[S(b"aaab")]))),
    (r#"assert(string.match("aaa", ".*a") == "aaa")"#, Match(b"aaa", b".*a", Some(&[S(b"aaa")]))),
    (r#"assert(string.match("b", ".*b") == "b")"#, Match(b"b", b".*b", Some(&[S(b"b")]))),
    (r#"assert(string.match("aaab", ".+b") == "aaab")"#, Match(b"aaab", b".+b", Some(&[S(b"aaab")]))),
    (r#"assert(string.match("aaa", ".+a") == "aaa")"#, Match(b"aaa", b".+a", Some(&[S(b"aaa")]))),
    (r#"assert(not string.match("b", ".+b"))"#, Match(b"b", b".+b", None)),
    (r#"assert(string.match("aaab", ".?b") == "ab")"#, Match(b"aaab", b".?b", Some(&[S(b"ab")]))),
    (r#"assert(string.match("aaa", ".?a") == "aa")"#, Match(b"aaa", b".?a", Some(&[S(b"aa")]))),
    (r#"assert(string.match("b", ".?b") == "b")"#, Match(b"b", b".?b", Some(&[S(b"b")]))),
    (r"assert(f('aloALO', '%l*') == 'alo')", Sub(b"aloALO", b"%l*", Some(b"alo"))),
    (r"assert(f('aLo_ALO', '%a*') == 'aLo')", Sub(b"aLo_ALO", b"%a*", Some(b"aLo"))),
    (r#"assert(f("  \n\r*&\n\r   xuxu  \n\n", "%g%g%g+") == "xuxu")"#, Sub(b"  \n\r*&\n\r   xuxu  \n\n", b"%g%g%g+", Some(b"xuxu"))),
    (r"assert(f('aaab', 'a*') == 'aaa');", Sub(b"aaab", b"a*", Some(b"aaa"))),
    (r"assert(f('aaa', '^.*$') == 'aaa');", Sub(b"aaa", b"^.*$", Some(b"aaa"))),
    (r"assert(f('aaa', 'b*') == '');", Sub(b"aaa", b"b*", Some(b""))),
    (r"assert(f('aaa', 'ab*a') == 'aa')", Sub(b"aaa", b"ab*a", Some(b"aa"))),
    (r"assert(f('aba', 'ab*a') == 'aba')", Sub(b"aba", b"ab*a", Some(b"aba"))),
    (r"assert(f('aaab', 'a+') == 'aaa')", Sub(b"aaab", b"a+", Some(b"aaa"))),
    (r"assert(f('aaa', '^.+$') == 'aaa')", Sub(b"aaa", b"^.+$", Some(b"aaa"))),
    (r"assert(not f('aaa', 'b+'))", Sub(b"aaa", b"b+", None)),
    (r"assert(not f('aaa', 'ab+a'))", Sub(b"aaa", b"ab+a", None)),
    (r"assert(f('aba', 'ab+a') == 'aba')", Sub(b"aba", b"ab+a", Some(b"aba"))),
    (r"assert(f('a$a', '.$') == 'a')", Sub(b"a$a", b".$", Some(b"a"))),
    (r"assert(f('a$a', '.%$') == 'a$')", Sub(b"a$a", b".%$", Some(b"a$"))),
    (r"assert(f('a$a', '.$.') == 'a$a')", Sub(b"a$a", b".$.", Some(b"a$a"))),
    (r"assert(not f('a$a', '$$'))", Sub(b"a$a", b"$$", None)),
    (r"assert(not f('a$b', 'a$'))", Sub(b"a$b", b"a$", None)),
    (r"assert(f('a$a', '$') == '')", Sub(b"a$a", b"$", Some(b""))),
    (r"assert(f('', 'b*') == '')", Sub(b"", b"b*", Some(b""))),
    (r"assert(not f('aaa', 'bb*'))", Sub(b"aaa", b"bb*", None)),
    (r"assert(f('aaab', 'a-') == '')", Sub(b"aaab", b"a-", Some(b""))),
    (r"assert(f('aaa', '^.-$') == 'aaa')", Sub(b"aaa", b"^.-$", Some(b"aaa"))),
    (r"assert(f('aabaaabaaabaaaba', 'b.*b') == 'baaabaaabaaab')", Sub(b"aabaaabaaabaaaba", b"b.*b", Some(b"baaabaaabaaab"))),
    (r"assert(f('aabaaabaaabaaaba', 'b.-b') == 'baaab')", Sub(b"aabaaabaaabaaaba", b"b.-b", Some(b"baaab"))),
    (r"assert(f('alo xo', '.o$') == 'xo')", Sub(b"alo xo", b".o$", Some(b"xo"))),
    ("assert(f(' \\n isto é assim', '%S%S*') == 'isto')", Sub(b" \n isto \xc3\xa9 assim", b"%S%S*", Some(b"isto"))),
    ("assert(f(' \\n isto é assim', '%S*$') == 'assim')", Sub(b" \n isto \xc3\xa9 assim", b"%S*$", Some(b"assim"))),
    ("assert(f(' \\n isto é assim', '[a-z]*$') == 'assim')", Sub(b" \n isto \xc3\xa9 assim", b"[a-z]*$", Some(b"assim"))),
    (r"assert(f('um caracter ? extra', '[^%sa-z]') == '?')", Sub(b"um caracter ? extra", b"[^%sa-z]", Some(b"?"))),
    (r"assert(f('', 'a?') == '')", Sub(b"", b"a?", Some(b""))),
    ("assert(f('á', PU'á?') == 'á')", Sub(b"\xc3\xa1", b"\xc3?\xa1?", Some(b"\xc3\xa1"))),
    ("assert(f('ábl', PU'á?b?l?') == 'ábl')", Sub(b"\xc3\xa1bl", b"\xc3?\xa1?b?l?", Some(b"\xc3\xa1bl"))),
    ("assert(f('  ábl', PU'á?b?l?') == '')", Sub(b"  \xc3\xa1bl", b"\xc3?\xa1?b?l?", Some(b""))),
    (r"assert(f('aa', '^aa?a?a') == 'aa')", Sub(b"aa", b"^aa?a?a", Some(b"aa"))),
    ("assert(f(']]]áb', '[^]]+') == 'áb')", Sub(b"]]]\xc3\xa1b", b"[^]]+", Some(b"\xc3\xa1b"))),
    (r#"assert(f("0alo alo", "%x*") == "0a")"#, Sub(b"0alo alo", b"%x*", Some(b"0a"))),
    (r#"assert(f("alo alo", "%C+") == "alo alo")"#, Sub(b"alo alo", b"%C+", Some(b"alo alo"))),
    (r#"assert(not string.match('==========', '^([=]*)=%1$'))"#, Match(b"==========", b"^([=]*)=%1$", None)),
    (r#"assert(string.match("alo xyzK", "(%w+)K") == "xyz")"#, Match(b"alo xyzK", b"(%w+)K", Some(&[S(b"xyz")]))),
    (r#"assert(string.match("254 K", "(%d*)K") == "")"#, Match(b"254 K", b"(%d*)K", Some(&[S(b"")]))),
    (r#"assert(string.match("alo ", "(%w*)$") == "")"#, Match(b"alo ", b"(%w*)$", Some(&[S(b"")]))),
    (r#"assert(not string.match("alo ", "(%w+)$"))"#, Match(b"alo ", b"(%w+)$", None)),
    ("assert(string.find(\"(álo)\", \"%(á\") == 1)", FindStart(b"(\xc3\xa1lo)", b"%(\xc3\xa1", Some(1))),
    (
        r#"local a, b, c, d, e = string.match("âlo alo", PU"^(((.).). (%w*))$")"#,
        Match(
            b"\xc3\xa2lo alo",
            b"^((([\0-\x7f\xc2-\xfd][\x80-\xbf]*)[\0-\x7f\xc2-\xfd][\x80-\xbf]*)[\0-\x7f\xc2-\xfd][\x80-\xbf]* (%w*))$",
            Some(&[S(b"\xc3\xa2lo alo"), S(b"\xc3\xa2l"), S(b"\xc3\xa2"), S(b"alo")]),
        ),
    ),
    (
        r"a, b, c, d  = string.match('0123456789', '(.+(.?)())')",
        Match(b"0123456789", b"(.+(.?)())", Some(&[S(b"0123456789"), S(b""), N(11)])),
    ),
    (r#"assert(string.find("a", "%f[a]") == 1)"#, FindStart(b"a", b"%f[a]", Some(1))),
    (r#"assert(string.find("a", "%f[^%z]") == 1)"#, FindStart(b"a", b"%f[^%z]", Some(1))),
    (r#"assert(string.find("a", "%f[^%l]") == 2)"#, FindStart(b"a", b"%f[^%l]", Some(2))),
    (r#"assert(string.find("aba", "%f[a%z]") == 3)"#, FindStart(b"aba", b"%f[a%z]", Some(3))),
    (r#"assert(string.find("aba", "%f[%z]") == 4)"#, FindStart(b"aba", b"%f[%z]", Some(4))),
    (r#"assert(not string.find("aba", "%f[%l%z]"))"#, FindStart(b"aba", b"%f[%l%z]", None)),
    (r#"assert(not string.find("aba", "%f[^%l%z]"))"#, FindStart(b"aba", b"%f[^%l%z]", None)),
    (
        r#"local i, e = string.find(" alo aalo allo", "%f[%S].-%f[%s].-%f[%S]")"#,
        Find(b" alo aalo allo", b"%f[%S].-%f[%s].-%f[%S]", 1, Some((2, 5))),
    ),
    (
        r#"local k = string.match(" alo aalo allo", "%f[%S](.-%f[%s].-%f[%S])")"#,
        Match(b" alo aalo allo", b"%f[%S](.-%f[%s].-%f[%S])", Some(&[S(b"alo ")])),
    ),
    (r#"malform("(.", "unfinished capture")"#, Malform(b"(.", "unfinished capture")),
    (r#"malform(".)", "invalid pattern capture")"#, Malform(b".)", "invalid pattern capture")),
    (r#"malform("[a")"#, Malform(b"[a", "malformed")),
    (r#"malform("[]")"#, Malform(b"[]", "malformed")),
    (r#"malform("[^]")"#, Malform(b"[^]", "malformed")),
    (r#"malform("[a%]")"#, Malform(b"[a%]", "malformed")),
    (r#"malform("[a%")"#, Malform(b"[a%", "malformed")),
    (r#"malform("%b")"#, Malform(b"%b", "malformed")),
    (r#"malform("%ba")"#, Malform(b"%ba", "malformed")),
    (r#"malform("%")"#, Malform(b"%", "malformed")),
    (r#"malform("%f", "missing")"#, Malform(b"%f", "missing")),
    (r#"assert(string.match("ab\0\1\2c", "[\0-\2]+") == "\0\1\2")"#, Match(b"ab\0\x01\x02c", b"[\0-\x02]+", Some(&[S(b"\0\x01\x02")]))),
    (r#"assert(string.match("ab\0\1\2c", "[\0-\0]+") == "\0")"#, Match(b"ab\0\x01\x02c", b"[\0-\0]+", Some(&[S(b"\0")]))),
    (r#"assert(string.find("b$a", "$\0?") == 2)"#, FindStart(b"b$a", b"$\0?", Some(2))),
    (r#"assert(string.find("abc\0efg", "%\0") == 4)"#, FindStart(b"abc\0efg", b"%\0", Some(4))),
    (
        r#"assert(string.match("abc\0efg\0\1e\1g", "%b\0\1") == "\0efg\0\1e\1")"#,
        Match(b"abc\0efg\0\x01e\x01g", b"%b\0\x01", Some(&[S(b"\0efg\0\x01e\x01")])),
    ),
    (r#"assert(string.match("abc\0\0\0", "%\0+") == "\0\0\0")"#, Match(b"abc\0\0\0", b"%\0+", Some(&[S(b"\0\0\0")]))),
    (r#"assert(string.match("abc\0\0\0", "%\0%\0?") == "\0\0")"#, Match(b"abc\0\0\0", b"%\0%\0?", Some(&[S(b"\0\0")]))),
    (r#"assert(string.find("abc\0\0","\0.") == 4)"#, FindStart(b"abc\0\0", b"\0.", Some(4))),
    (r#"assert(string.find("abcx\0\0abc\0abc","x\0\0abc\0a.") == 4)"#, FindStart(b"abcx\0\0abc\0abc", b"x\0\0abc\0a.", Some(4))),
];

fn values(subject: &[u8], caps: &[Capture]) -> Vec<Vec<u8>> {
    caps.iter()
        .map(|c| match c {
            Capture::Span { .. } => c.bytes(subject).expect("span").to_vec(),
            Capture::Position(n) => format!("#{n}").into_bytes(),
        })
        .collect()
}

fn expected(vs: &[V]) -> Vec<Vec<u8>> {
    vs.iter()
        .map(|v| match v {
            S(b) => b.to_vec(),
            N(n) => format!("#{n}").into_bytes(),
        })
        .collect()
}

#[test]
fn every_table_entry_is_in_the_fixture() {
    for (src, _) in CASES {
        assert!(PM.contains(src), "not in pm-5.4.8.lua: {src}");
    }
    for src in EXTRA_SOURCES {
        assert!(PM.contains(src), "not in pm-5.4.8.lua: {src}");
    }
}

#[test]
fn official_find_and_match_assertions() {
    for (src, check) in CASES {
        match check {
            Find(s, p, init, want) => {
                let got = lua_find_init(p, s, *init, &lim()).expect(src);
                assert_eq!(got.map(|f| (f.start, f.end)), *want, "{src}");
            }
            FindStart(s, p, want) => {
                let got = lua_find(p, s, &lim()).expect(src);
                assert_eq!(got.map(|f| f.start), *want, "{src}");
            }
            Sub(s, p, want) => {
                let got = lua_find(p, s, &lim()).expect(src);
                let sub = got.map(|f| s[f.start - 1..f.end].to_vec());
                assert_eq!(sub, want.map(<[u8]>::to_vec), "{src}");
            }
            Match(s, p, want) => {
                let got = lua_match(p, s, &lim()).expect(src);
                assert_eq!(got.map(|c| values(s, &c)), want.map(expected), "{src}");
            }
            Malform(p, msg) => {
                let err = lua_find(p, b"a", &lim()).expect_err(src).to_string();
                assert!(err.contains(msg), "{src}: {err}");
                let eager = Pattern::compile(p).expect_err(src).to_string();
                assert_eq!(eager, err, "{src}");
            }
        }
    }
}

/// Lua sources of the assertions replayed by the tests below.
const EXTRA_SOURCES: &[&str] = &[
    r#"assert(f1('alo alx 123 b\0o b\0o', '(..*) %1') == "b\0o b\0o")"#,
    r"assert(f1('axz123= 4= 4 34', '(.+)=(.*)=%2 %1') == '3= 4= 4 3')",
    r"assert(f1('=======', '^(=*)=%1$') == '=======')",
    r"assert(string.len(strset('[\200-\210]')) == 11)",
    r#"assert(strset('[a-z]') == "abcdefghijklmnopqrstuvwxyz")"#,
    r"assert(strset('[a-z%d]') == strset('[%da-uu-z]'))",
    r#"assert(strset('[a-]') == "-a")"#,
    r"assert(strset('[^%W]') == strset('[%w]'))",
    r"assert(strset('[]%%]') == '%]')",
    r"assert(strset('[a%-z]') == '-az')",
    r"assert(strset('[%^%[%-a%]%-b]') == '-[]^ab')",
    r"assert(strset('%Z') == strset('[\1-\255]'))",
    r"assert(strset('.') == strset('[\1-\255%z]'))",
    r#"assert(isbalanced("(9 ((8))(\0) 7) \0\0 a b ()(c)() a"))"#,
    r#"assert(not isbalanced("(9 ((8) 7) a b (\0 c) a"))"#,
    r#"assert(string.gsub("alo 'oi' alo", "%b''", '"') == 'alo " alo')"#,
    r#"assert(string.gsub("aaa aa a aaa a", "%f[%w]a", "x") == "xaa xa x xaa x")"#,
    r#"assert(string.gsub("[[]] [][] [[[[", "%f[[].", "x") == "x[]] x]x] x[[[")"#,
    r#"assert(string.gsub("01abc45de3", "%f[%d]", ".") == ".01abc.45de.3")"#,
    r#"assert(string.gsub("01abc45 de3x", "%f[%D]%w", ".") == "01.bc45 de3.")"#,
    r#"assert(string.gsub("function", "%f[\1-\255]%w", ".") == ".unction")"#,
    r#"assert(string.gsub("function", "%f[^\1-\255]", ".") == "function.")"#,
    r#"for k in string.gmatch("alo alo th02 is 1hat", "()%f[%w%d]") do"#,
    r#"for i in string.gmatch ("xuxx uu ppar r", "()(.)%2") do"#,
    r"for i in string.gmatch('abcde', '()') do assert(i == a+1); a=i end",
    r"assert(string.find(a, '^a*.?$'))",
    r"assert(not string.find(a, '^a*.?b$'))",
    r"assert(string.find(a, '^a-.?$'))",
];

/// pm.lua's `f1`: it shifts back-references by one and wraps the pattern in
/// position captures (`%1` -> `%2`, `()` after a leading `^`, before a
/// trailing `$`), then returns the text between the first and last
/// position. Here with the patterns `f1` builds.
#[test]
fn official_f1_assertions() {
    let f1 = |s: &[u8], built: &[u8]| -> Option<Vec<u8>> {
        let caps = lua_match(built, s, &lim()).expect("valid")?;
        let (Some(Capture::Position(a)), Some(Capture::Position(b))) = (caps.first(), caps.last())
        else {
            panic!("f1 patterns start and end with position captures");
        };
        Some(s[a - 1..b - 1].to_vec())
    };
    assert_eq!(
        f1(b"alo alx 123 b\0o b\0o", b"()(..*) %2()"),
        Some(b"b\0o b\0o".to_vec())
    );
    assert_eq!(
        f1(b"axz123= 4= 4 34", b"()(.+)=(.*)=%3 %2()"),
        Some(b"3= 4= 4 3".to_vec())
    );
    assert_eq!(f1(b"=======", b"^()(=*)=%2()$"), Some(b"=======".to_vec()));
}

/// pm.lua's `strset(p)`: the bytes 0..=255 that the one-character pattern
/// `p` matches, in order.
fn strset(p: &[u8]) -> Vec<u8> {
    (0..=255u8)
        .filter(|&c| lua_match(p, &[c], &lim()).expect("valid").is_some())
        .collect()
}

#[test]
fn official_set_assertions() {
    assert_eq!(strset(b"[\xc8-\xd2]").len(), 11);
    assert_eq!(strset(b"[a-z]"), b"abcdefghijklmnopqrstuvwxyz");
    assert_eq!(strset(b"[a-z%d]"), strset(b"[%da-uu-z]"));
    assert_eq!(strset(b"[a-]"), b"-a");
    assert_eq!(strset(b"[^%W]"), strset(b"[%w]"));
    assert_eq!(strset(b"[]%%]"), b"%]");
    assert_eq!(strset(b"[a%-z]"), b"-az");
    assert_eq!(strset(b"[%^%[%-a%]%-b]"), b"-[]^ab");
    assert_eq!(strset(b"%Z"), strset(b"[\x01-\xff]"));
    assert_eq!(strset(b"."), strset(b"[\x01-\xff%z]"));
    assert_eq!(strset(b"."), (0..=255u8).collect::<Vec<u8>>());
}

/// Lua 5.4's `gsub` loop with a plain replacement: try to match at each
/// position (an anchored find from there), skip empty matches at the end of
/// the previous one.
fn gsub(s: &[u8], p: &[u8], repl: &[u8]) -> Vec<u8> {
    let anchored = [&b"^"[..], p].concat();
    let mut out = Vec::new();
    let mut src = 0usize;
    let mut last = None;
    loop {
        let init = i64::try_from(src + 1).expect("small");
        let end = lua_find_init(&anchored, s, init, &lim())
            .expect("valid")
            .map(|f| f.end);
        match end {
            Some(e) if Some(e) != last => {
                out.extend_from_slice(repl);
                src = e;
                last = Some(e);
            }
            _ if src < s.len() => {
                out.push(s[src]);
                src += 1;
            }
            _ => return out,
        }
    }
}

/// Lua 5.4's `gmatch`: the values of each successive match.
fn gmatch(s: &[u8], p: &[u8]) -> Vec<Vec<Capture>> {
    let anchored = [&b"^"[..], p].concat();
    let mut all = Vec::new();
    let mut src = 0usize;
    let mut last = None;
    while src <= s.len() {
        let init = i64::try_from(src + 1).expect("small");
        match lua_find_init(&anchored, s, init, &lim()).expect("valid") {
            Some(f) if Some(f.end) != last => {
                all.push(f.captures);
                src = f.end;
                last = Some(f.end);
            }
            _ => src += 1,
        }
    }
    all
}

#[test]
fn official_balance_and_frontier_assertions() {
    let isbalanced = |s: &[u8]| {
        lua_find(b"[()]", &gsub(s, b"%b()", b""), &lim())
            .expect("valid")
            .is_none()
    };
    assert!(isbalanced(b"(9 ((8))(\0) 7) \0\0 a b ()(c)() a"));
    assert!(!isbalanced(b"(9 ((8) 7) a b (\0 c) a"));
    assert_eq!(gsub(b"alo 'oi' alo", b"%b''", b"\""), b"alo \" alo");
    assert_eq!(gsub(b"aaa aa a aaa a", b"%f[%w]a", b"x"), b"xaa xa x xaa x");
    assert_eq!(gsub(b"[[]] [][] [[[[", b"%f[[].", b"x"), b"x[]] x]x] x[[[");
    assert_eq!(gsub(b"01abc45de3", b"%f[%d]", b"."), b".01abc.45de.3");
    assert_eq!(gsub(b"01abc45 de3x", b"%f[%D]%w", b"."), b"01.bc45 de3.");
    assert_eq!(gsub(b"function", b"%f[\x01-\xff]%w", b"."), b".unction");
    assert_eq!(gsub(b"function", b"%f[^\x01-\xff]", b"."), b"function.");
}

#[test]
fn official_gmatch_assertions() {
    let positions = |caps: Vec<Vec<Capture>>| -> Vec<usize> {
        caps.iter()
            .map(|c| match c.first() {
                Some(Capture::Position(n)) => *n,
                other => panic!("expected a position, got {other:?}"),
            })
            .collect()
    };
    assert_eq!(
        positions(gmatch(b"alo alo th02 is 1hat", b"()%f[%w%d]")),
        vec![1, 5, 9, 14, 17]
    );
    assert_eq!(
        positions(gmatch(b"xuxx uu ppar r", b"()(.)%2")),
        vec![3, 6, 9]
    );
    assert_eq!(positions(gmatch(b"abcde", b"()")), vec![1, 2, 3, 4, 5, 6]);
}

/// pm.lua's "big strings" block on 300,000 bytes. Two of the three need
/// more than the default step budget, so they run with a larger one; with
/// the default they must stop with `TooExpensive`, not answer wrongly.
#[test]
fn official_big_string_assertions() {
    let a = b"a".repeat(300_000);
    let big = Limits {
        max_steps: 20_000_000,
        ..Limits::default()
    };
    assert!(lua_find(b"^a*.?$", &a, &big).expect("valid").is_some());
    assert!(lua_find(b"^a*.?b$", &a, &big).expect("valid").is_none());
    assert!(lua_find(b"^a-.?$", &a, &big).expect("valid").is_some());
    assert!(lua_find(b"^a*.?$", &a, &lim())
        .expect("within budget")
        .is_some());
    assert_eq!(
        lua_find(b"^a*.?b$", &a, &lim()),
        Err(luapat::MatchError::TooExpensive)
    );
}
