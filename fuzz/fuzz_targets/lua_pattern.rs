//! Fuzz the Lua pattern matcher: no panic, no hang (bounded by the step
//! budget), and the two layers agree: a pattern that `Pattern::compile`
//! accepts never raises a pattern error, one it rejects raises only that
//! error, and `Pattern`'s methods return what the raw functions return.
#![no_main]

use libfuzzer_sys::fuzz_target;
use luapat::{lua_find, lua_match, Capture, Limits, MatchError, Pattern};

/// Input layout: first byte = pattern length (mod the rest), then the
/// pattern, then the subject.
fn split(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&n, rest) = data.split_first()?;
    let n = usize::from(n) % (rest.len() + 1);
    Some(rest.split_at(n))
}

fn check_captures(subject: &[u8], caps: &[Capture]) {
    for c in caps {
        match *c {
            Capture::Span { start, end } => assert!(start <= end && end <= subject.len()),
            Capture::Position(n) => assert!(n >= 1 && n <= subject.len() + 1),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((pattern, subject)) = split(data) else {
        return;
    };
    let limits = Limits {
        max_steps: 50_000,
        ..Limits::default()
    };
    let m = lua_match(pattern, subject, &limits);
    let f = lua_find(pattern, subject, &limits);
    if let Ok(Some(caps)) = &m {
        assert!(!caps.is_empty());
        check_captures(subject, caps);
    }
    if let Ok(Some(found)) = &f {
        assert!(found.start >= 1 && found.start <= found.end + 1 && found.end <= subject.len());
        check_captures(subject, &found.captures);
    }
    // string.find and string.match run the same search unless find does a
    // plain search; the budget may run out in one and not the other.
    let plain = !pattern.iter().any(|b| b"^$*+?.([%-".contains(b));
    if !plain {
        match (&m, &f) {
            (Ok(Some(caps)), Ok(Some(found))) => {
                if found.captures.is_empty() {
                    assert_eq!(
                        caps,
                        &vec![Capture::Span {
                            start: found.start - 1,
                            end: found.end
                        }]
                    );
                } else {
                    assert_eq!(caps, &found.captures);
                }
            }
            (Err(MatchError::TooExpensive), _) | (_, Err(MatchError::TooExpensive)) => {}
            (a, b) => assert_eq!(a.is_ok(), b.is_ok(), "{a:?} vs {b:?}"),
        }
    }
    match Pattern::compile(pattern) {
        Ok(p) => {
            let p = p.with_limits(limits);
            assert!(!matches!(m, Err(MatchError::Pattern(_))), "{m:?}");
            let pm = p.match_captures(subject);
            if pm != Err(MatchError::TooExpensive) && m != Err(MatchError::TooExpensive) {
                assert_eq!(pm, m);
            }
            let pf = p.find(subject);
            if pf != Err(MatchError::TooExpensive) && f != Err(MatchError::TooExpensive) {
                assert_eq!(pf, f);
            }
            match (p.matches_whole(subject), &pm) {
                (Ok(whole), Ok(values)) => {
                    let expected = values
                        .as_ref()
                        .and_then(|v| v.first())
                        .and_then(|c| c.bytes(subject))
                        == Some(subject);
                    assert_eq!(whole, expected);
                }
                (Err(_), _) | (_, Err(_)) => {}
            }
        }
        Err(e) => {
            if let Err(MatchError::Pattern(lazy)) = m {
                assert_eq!(lazy, e);
            }
        }
    }
});
