//! Differential test against the real `lua5.4`: random patterns over the
//! whole syntax and subjects made to hit and miss, compared result for
//! result (values, nil, error messages) for `string.match` and
//! `string.find`, plus consistency checks of the eager `Pattern` layer.

mod common;

use std::collections::BTreeMap;

use common::{fmt_find, fmt_match, run_oracle, show, Rng};
use luapat::{lua_find, lua_match, Capture, Limits, Pattern, PatternError};

const SEED: u64 = 0x5EED_1A7E_2024_0054;
const RANDOM_CASES: usize = 100_000;

/// Every message Lua's matcher can raise for a malformed pattern.
const LUA_PATTERN_MESSAGES: &[&str] = &[
    "malformed pattern (ends with '%')",
    "malformed pattern (missing ']')",
    "missing '[' after '%f' in pattern",
    "malformed pattern (missing arguments to '%b')",
    "invalid pattern capture",
    "unfinished capture",
    "too many captures",
];

const CLASS_LETTERS: &[u8] = b"acdglpsuwxzACDGLPSUWXZ";
const PUNCT: &[u8] = b".%[]()^$*+?-";

#[derive(Clone, Debug)]
enum SetItem {
    Lit(u8),
    Range(u8, u8),
    Class(u8),
}

#[derive(Clone, Debug)]
enum Class {
    Lit(u8),
    Any,
    Esc(u8),
    Set { negated: bool, items: Vec<SetItem> },
}

#[derive(Clone, Debug)]
enum Item {
    Single(Class, Option<u8>),
    Open,
    PositionCapture,
    Close,
    BackRef(u8),
    Balance(u8, u8),
    Frontier(Class),
    Dollar,
}

fn literal(rng: &mut Rng) -> u8 {
    match rng.below(10) {
        0..=6 => rng.pick(b"abc"),
        7 => rng.pick(b"xyz019 "),
        _ => rng.byte(),
    }
}

fn gen_set(rng: &mut Rng) -> Class {
    let negated = rng.chance(25);
    let mut items = Vec::new();
    if rng.chance(10) {
        items.push(SetItem::Lit(b']'));
    }
    for _ in 0..1 + rng.below(3) {
        items.push(match rng.below(6) {
            0 | 1 => SetItem::Lit(literal(rng)),
            2 => {
                let a = literal(rng);
                let b = if rng.chance(80) {
                    a.saturating_add(rng.below(6) as u8)
                } else {
                    rng.byte()
                };
                SetItem::Range(a, b)
            }
            3 => SetItem::Class(rng.pick(PUNCT)),
            _ => SetItem::Class(rng.pick(CLASS_LETTERS)),
        });
    }
    Class::Set { negated, items }
}

fn gen_class(rng: &mut Rng) -> Class {
    match rng.below(10) {
        0..=3 => Class::Lit(literal(rng)),
        4 => Class::Any,
        5 | 6 => Class::Esc(rng.pick(CLASS_LETTERS)),
        7 => Class::Esc(if rng.chance(50) {
            rng.pick(PUNCT)
        } else {
            rng.byte()
        }),
        _ => gen_set(rng),
    }
}

/// Random pattern items; at most three `*`/`+`/`-` repetitions so that
/// neither Lua nor we spend seconds backtracking on one case.
fn gen_items(rng: &mut Rng) -> Vec<Item> {
    let mut items = Vec::new();
    let mut open = 0usize;
    let mut closed = 0usize;
    let mut loops = 0usize;
    for _ in 0..rng.below(9) {
        let item = match rng.below(20) {
            0..=10 => {
                let q = match rng.below(10) {
                    0..=4 => None,
                    5 => Some(b'?'),
                    6 => Some(b'*'),
                    7 => Some(b'+'),
                    _ => Some(b'-'),
                };
                let q = match q {
                    Some(b'*' | b'+' | b'-') if loops >= 3 => Some(b'?'),
                    Some(b'*' | b'+' | b'-') => {
                        loops += 1;
                        q
                    }
                    other => other,
                };
                Item::Single(gen_class(rng), q)
            }
            11 | 12 => {
                open += 1;
                Item::Open
            }
            13 if open > 0 => {
                open -= 1;
                closed += 1;
                Item::Close
            }
            13 => Item::PositionCapture,
            14 if closed > 0 && rng.chance(85) => {
                Item::BackRef(b'1' + rng.below(closed.min(9)) as u8)
            }
            14 if rng.chance(30) => Item::BackRef(rng.pick(b"0123456789")),
            14 => Item::Single(gen_class(rng), Some(b'?')),
            15 => Item::Balance(rng.pick(b"(ab"), rng.pick(b")ba")),
            16 => Item::Frontier(gen_set(rng)),
            17 => Item::Dollar,
            _ => Item::Single(Class::Lit(literal(rng)), None),
        };
        items.push(item);
    }
    while open > 0 && rng.chance(90) {
        open -= 1;
        items.push(Item::Close);
    }
    items
}

fn push_class(out: &mut Vec<u8>, class: &Class) {
    match class {
        Class::Lit(c) => out.push(*c),
        Class::Any => out.push(b'.'),
        Class::Esc(c) => out.extend([b'%', *c]),
        Class::Set { negated, items } => {
            out.push(b'[');
            if *negated {
                out.push(b'^');
            }
            for item in items {
                match item {
                    SetItem::Lit(c) => out.push(*c),
                    SetItem::Range(a, b) => out.extend([*a, b'-', *b]),
                    SetItem::Class(c) => out.extend([b'%', *c]),
                }
            }
            out.push(b']');
        }
    }
}

fn serialise(anchored: bool, items: &[Item], end_anchor: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if anchored {
        out.push(b'^');
    }
    for item in items {
        match item {
            Item::Single(class, q) => {
                push_class(&mut out, class);
                out.extend(q.iter());
            }
            Item::Open => out.push(b'('),
            Item::PositionCapture => out.extend(b"()"),
            Item::Close => out.push(b')'),
            Item::BackRef(d) => out.extend([b'%', *d]),
            Item::Balance(a, b) => out.extend([b'%', b'b', *a, *b]),
            Item::Frontier(set) => {
                out.extend(b"%f");
                push_class(&mut out, set);
            }
            Item::Dollar => out.push(b'$'),
        }
    }
    if end_anchor {
        out.push(b'$');
    }
    out
}

fn in_named_class(c: u8, cl: u8) -> bool {
    let res = match cl.to_ascii_lowercase() {
        b'a' => c.is_ascii_alphabetic(),
        b'c' => c < 0x20 || c == 0x7f,
        b'd' => c.is_ascii_digit(),
        b'g' => (0x21..0x7f).contains(&c),
        b'l' => c.is_ascii_lowercase(),
        b'p' => c.is_ascii_punctuation(),
        b's' => b" \t\n\x0b\x0c\r".contains(&c),
        b'u' => c.is_ascii_uppercase(),
        b'w' => c.is_ascii_alphanumeric(),
        b'x' => c.is_ascii_hexdigit(),
        b'z' => c == 0,
        _ => return c == cl,
    };
    res != cl.is_ascii_uppercase()
}

/// A byte that (probably) belongs to `class`.
fn sample(rng: &mut Rng, class: &Class) -> u8 {
    match class {
        Class::Lit(c) => *c,
        Class::Any => literal(rng),
        Class::Esc(cl) => {
            for _ in 0..64 {
                let c = if rng.chance(50) {
                    literal(rng)
                } else {
                    rng.byte()
                };
                if in_named_class(c, *cl) {
                    return c;
                }
            }
            *cl
        }
        Class::Set { items, .. } => match items.get(rng.below(items.len())) {
            Some(SetItem::Lit(c)) => *c,
            Some(SetItem::Range(a, b)) if a <= b => a + (rng.below(usize::from(b - a) + 1) as u8),
            Some(SetItem::Range(a, _)) => *a,
            Some(SetItem::Class(cl)) => sample(rng, &Class::Esc(*cl)),
            None => rng.byte(),
        },
    }
}

/// Text that the pattern items would (mostly) match.
fn witness(rng: &mut Rng, items: &[Item]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut caps: Vec<Vec<u8>> = Vec::new();
    for item in items {
        match item {
            Item::Single(class, q) => {
                let n = match q {
                    None => 1,
                    Some(b'?') => rng.below(2),
                    Some(b'+') => 1 + rng.below(3),
                    _ => rng.below(4),
                };
                for _ in 0..n {
                    let c = sample(rng, class);
                    out.push(c);
                }
            }
            Item::Open => open.push(out.len()),
            Item::PositionCapture => caps.push(Vec::new()),
            Item::Close => {
                let start = open.pop().unwrap_or(0);
                caps.push(out[start.min(out.len())..].to_vec());
            }
            Item::BackRef(d) => {
                if let Some(text) = caps.get(usize::from(d.wrapping_sub(b'1'))) {
                    out.extend(text.clone());
                }
            }
            Item::Balance(a, b) => {
                out.push(*a);
                for _ in 0..rng.below(4) {
                    out.push(rng.pick(&[*a, *b, b'x']));
                }
                out.push(*b);
                out.push(*b);
            }
            Item::Frontier(_) | Item::Dollar => {}
        }
    }
    out
}

fn mutate(rng: &mut Rng, text: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(text.len() + 1);
        match rng.below(4) {
            0 => text.insert(at, literal(rng)),
            1 if at < text.len() => {
                text.remove(at);
            }
            2 if at < text.len() => text[at] = rng.byte(),
            _ => text.insert(at, rng.pick(b"\0\xff\x0b ]()")),
        }
    }
}

/// Break a pattern on purpose.
fn malform(rng: &mut Rng, pattern: &mut Vec<u8>) {
    let at = rng.below(pattern.len() + 1);
    match rng.below(4) {
        0 => pattern.truncate(at),
        1 => pattern.insert(at, rng.pick(b"%[()]")),
        2 => pattern.extend(rng.pick(&[
            &b"%"[..],
            b"%b",
            b"%bx",
            b"%f",
            b"%fa",
            b"[",
            b"[^",
            b"[]",
            b"[%",
        ])),
        _ => pattern.insert(at, rng.byte()),
    }
}

fn random_case(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let items = gen_items(rng);
    let anchored = rng.chance(30);
    let end_anchor = rng.chance(25);
    let mut pattern = serialise(anchored, &items, end_anchor);
    if rng.chance(6) {
        malform(rng, &mut pattern);
    }
    let subject = match rng.below(10) {
        0 | 1 => (0..rng.below(20)).map(|_| rng.byte()).collect(),
        2..=4 => witness(rng, &items),
        _ => {
            let mut text = Vec::new();
            if !anchored && rng.chance(50) {
                text.extend((0..rng.below(4)).map(|_| literal(rng)));
            }
            text.extend(witness(rng, &items));
            if rng.chance(30) {
                text.extend((0..rng.below(4)).map(|_| literal(rng)));
            }
            mutate(rng, &mut text);
            text
        }
    };
    (pattern, subject)
}

/// Long patterns around Lua's depth limit (200) and capture limit (32).
/// Only shapes that match or fail without exponential backtracking.
fn limit_cases(rng: &mut Rng) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut cases = Vec::new();
    for n in 190..=210 {
        for item in [&b"a?"[..], b"a*", b"a-", b"[ab]?", b"%a?", b"a?()"] {
            let m = 190 + rng.below(25);
            let mut subject = b"a".repeat(m);
            if rng.chance(30) {
                subject.push(b'b');
            }
            let pattern = item.repeat(n);
            cases.push((pattern.clone(), subject.clone()));
            // Anchored at both ends only where the greedy path succeeds.
            if matches!(item, b"a?" | b"a*") && m <= n {
                cases.push(([&b"^"[..], &pattern, b"$"].concat(), b"a".repeat(m)));
            }
        }
    }
    for n in 30..=34 {
        cases.push((b"()".repeat(n), b"x".to_vec()));
        cases.push((b"(a)".repeat(n), b"a".repeat(n)));
        cases.push((b"(a)".repeat(n), b"a".repeat(n - 2)));
        cases.push((b"(a?)".repeat(n), b"a".repeat(n)));
    }
    cases
}

#[test]
fn matches_lua_for_random_patterns() {
    let mut rng = Rng::new(SEED);
    let mut cases: Vec<(Vec<u8>, Vec<u8>)> =
        (0..RANDOM_CASES).map(|_| random_case(&mut rng)).collect();
    cases.extend(limit_cases(&mut rng));
    let oracle = run_oracle(&cases, "random");
    // Generous budget: this test is about Lua's semantics, not our bound.
    let limits = Limits {
        max_steps: 200_000_000,
        ..Limits::default()
    };
    let mut differences = Vec::new();
    let mut over_default_budget = 0usize;
    let mut tallies = [0usize; 4]; // match: error, nil, values; compile errors
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    for ((pattern, subject), (lua_m, lua_f)) in cases.iter().zip(&oracle) {
        let m = lua_match(pattern, subject, &limits);
        let f = lua_find(pattern, subject, &limits);
        let ours_m = fmt_match(subject, &m);
        let ours_f = fmt_find(subject, &f);
        if &ours_m != lua_m || &ours_f != lua_f {
            differences.push(format!(
                "pattern {:?} subject {:?}\n  lua  match {lua_m} | find {lua_f}\n  ours match {ours_m} | find {ours_f}",
                show(pattern),
                show(subject)
            ));
        }
        if let Some(e) = lua_m.strip_prefix("E ") {
            *errors.entry(e.to_string()).or_default() += 1;
        }
        tallies[usize::from(lua_m.starts_with('N')) + 2 * usize::from(lua_m.starts_with('V'))] += 1;
        if lua_match(pattern, subject, &Limits::default()) == Err(luapat::MatchError::TooExpensive)
        {
            over_default_budget += 1;
        }
        check_eager_layer(pattern, subject, lua_m, &mut differences, &mut tallies[3]);
    }
    println!(
        "{} cases: {} errors, {} nil, {} matches; {} patterns rejected by compile; \
         {} over the default step budget; {} differences",
        cases.len(),
        tallies[0],
        tallies[1],
        tallies[2],
        tallies[3],
        over_default_budget,
        differences.len()
    );
    println!("Lua errors seen: {errors:?}");
    for d in differences.iter().take(20) {
        println!("{d}");
    }
    assert!(
        differences.is_empty(),
        "{} differences with lua5.4",
        differences.len()
    );
    // The generator must really exercise every outcome.
    assert!(tallies.iter().all(|&n| n > 1000), "tallies {tallies:?}");
    for msg in LUA_PATTERN_MESSAGES.iter().chain(&["pattern too complex"]) {
        assert!(
            errors.get(*msg).is_some_and(|&n| n > 0),
            "no case raised {msg:?}"
        );
    }
    assert!(errors
        .keys()
        .any(|e| e.starts_with("invalid capture index %")));
}

/// `Pattern` must agree with the lazy layer: a pattern it accepts never
/// yields a pattern error in Lua; one it rejects yields that same error or
/// none (the malformed part was not reached); and `matches_whole` is
/// `string.match(s, p) == s`.
fn check_eager_layer(
    pattern: &[u8],
    subject: &[u8],
    lua_m: &str,
    differences: &mut Vec<String>,
    rejected: &mut usize,
) {
    let lua_error = lua_m.strip_prefix("E ");
    match Pattern::compile(pattern) {
        Ok(compiled) => {
            if let Some(e) = lua_error.filter(|e| *e != "pattern too complex") {
                differences.push(format!(
                    "{:?} compiles but Lua raises {e:?} on {:?}",
                    show(pattern),
                    show(subject)
                ));
                return;
            }
            if lua_error.is_some() {
                return;
            }
            let limits = Limits {
                max_steps: 200_000_000,
                ..Limits::default()
            };
            let compiled = compiled.with_limits(limits);
            let whole = compiled.matches_whole(subject);
            let expected = lua_m
                .split(' ')
                .nth(1)
                .is_some_and(|first| first.strip_prefix('s') == Some(&hex(subject)));
            if whole != Ok(expected) {
                differences.push(format!(
                    "matches_whole({:?}, {:?}) = {whole:?}, Lua says {lua_m}",
                    show(pattern),
                    show(subject)
                ));
            }
            let m = compiled.match_captures(subject);
            if fmt_match(subject, &m) != lua_m {
                differences.push(format!(
                    "Pattern::match_captures({:?}, {:?}) = {m:?}",
                    show(pattern),
                    show(subject)
                ));
            }
            let f = compiled.find(subject);
            let raw = lua_find(pattern, subject, &limits);
            if f != raw {
                differences.push(format!(
                    "Pattern::find({:?}, {:?}) = {f:?} not {raw:?}",
                    show(pattern),
                    show(subject)
                ));
            }
        }
        Err(err) => {
            *rejected += 1;
            let msg = err.to_string();
            if !is_lua_message(&err) {
                differences.push(format!(
                    "compile({:?}) gave non-Lua message {msg:?}",
                    show(pattern)
                ));
            }
            if let Some(e) = lua_error.filter(|e| *e != "pattern too complex" && *e != msg) {
                differences.push(format!(
                    "compile({:?}) says {msg:?} but Lua raises {e:?} on {:?}",
                    show(pattern),
                    show(subject)
                ));
            }
        }
    }
}

fn is_lua_message(err: &PatternError) -> bool {
    let msg = err.to_string();
    LUA_PATTERN_MESSAGES.contains(&msg.as_str())
        || matches!(err, PatternError::InvalidCaptureIndex(d) if msg == format!("invalid capture index %{d}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn first_value_of_position_capture_never_equals_subject() {
    let p = Pattern::compile(b"()a").expect("valid");
    assert_eq!(p.match_captures(b"a"), Ok(Some(vec![Capture::Position(1)])));
    assert_eq!(p.matches_whole(b"a"), Ok(false));
}
