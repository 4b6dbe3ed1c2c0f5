//! Bounded work: Lua's depth limit, our step budget, hostile inputs, and
//! the stack use of the recursion.

use std::time::{Duration, Instant};

use luapat::{lua_find, lua_match, Budget, Capture, Limits, MatchError, Pattern};

fn lim() -> Limits {
    Limits::default()
}

#[test]
fn depth_error_appears_exactly_at_lua_limit() {
    // Each successful `a?` recurses once; the final call is one more level.
    // Lua allows 200 nested calls: 199 `a?` that match pass, 200 fail.
    let ok = b"a?".repeat(199);
    let subject = b"a".repeat(199);
    assert_eq!(
        lua_match(&ok, &subject, &lim()),
        Ok(Some(vec![Capture::Span { start: 0, end: 199 }]))
    );
    let deep = b"a?".repeat(200);
    let subject = b"a".repeat(200);
    assert_eq!(
        lua_match(&deep, &subject, &lim()),
        Err(MatchError::TooComplex)
    );
    // A failed `a?` is a tail call in C (no depth), so a short subject is fine.
    let subject = b"a".repeat(150);
    assert!(lua_match(&deep, &subject, &lim()).is_ok_and(|m| m.is_some()));
}

#[test]
fn plain_items_and_greedy_expansion_cost_no_depth() {
    // Literal items are `goto init` in C: any number of them is fine.
    let long = b"a".repeat(5000);
    assert!(matches!(
        lua_find(&[&b"^"[..], &long].concat(), &long, &lim()),
        Ok(Some(_))
    ));
    // One `*` is one recursion level, whatever the subject length.
    let subject = b"a".repeat(100_000);
    assert_eq!(
        lua_find(b"^a*$", &subject, &lim()).map(|f| f.map(|f| f.end)),
        Ok(Some(100_000))
    );
}

#[test]
fn depth_limit_is_configurable_and_reset_per_start_position() {
    let shallow = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    assert_eq!(
        lua_match(b"a?a?a?", b"aaa", &shallow),
        Err(MatchError::TooComplex)
    );
    assert!(lua_match(b"a?a?", b"aaa", &shallow).is_ok());
    // Many start positions each get the full depth again.
    let subject = [&b"x".repeat(500)[..], b"aa"].concat();
    assert!(matches!(
        lua_match(b"a?a?$", &subject, &shallow),
        Ok(Some(_))
    ));
}

#[test]
fn step_budget_stops_exponential_backtracking() {
    let subject = b"a".repeat(10_000);
    let start = Instant::now();
    let res = lua_match(b"(.-)(.-)(.-)(.-)(.-)x", &subject, &lim());
    let took = start.elapsed();
    assert_eq!(res, Err(MatchError::TooExpensive));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let p = Pattern::compile(b"^(.-)(.-)(.-)(.-)(.-)x$").expect("valid");
    assert_eq!(p.matches_whole(&subject), Err(MatchError::TooExpensive));
}

#[test]
fn budget_is_exact_enough_to_allow_cheap_matches() {
    let tiny = Limits {
        max_steps: 10,
        ..Limits::default()
    };
    assert!(matches!(lua_match(b"^ab", b"ab", &tiny), Ok(Some(_))));
    assert_eq!(
        lua_match(b"a*b", &b"a".repeat(50), &tiny),
        Err(MatchError::TooExpensive)
    );
    assert_eq!(
        MatchError::TooExpensive.to_string(),
        "pattern too expensive (step budget exceeded)"
    );
}

#[test]
fn hostile_anchored_host_pattern() {
    let name = [&b".example".repeat(28)[..], b".net"].concat();
    assert_eq!(name.len(), 228);
    let p = Pattern::compile(b"^.*%.example%.com$").expect("valid");
    let start = Instant::now();
    assert_eq!(p.matches_whole(&name), Ok(false));
    let com = [&b".example".repeat(28)[..], b".com"].concat();
    assert_eq!(p.matches_whole(&com), Ok(true));
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn hostile_back_references_and_lazy_runs() {
    assert_eq!(
        lua_find(b"(a)(b)%2%1", b"xabbax", &lim()),
        Ok(Some(luapat::Found {
            start: 2,
            end: 5,
            captures: vec![
                Capture::Span { start: 1, end: 2 },
                Capture::Span { start: 2, end: 3 }
            ],
        }))
    );
    let a250 = b"a".repeat(250);
    assert_eq!(lua_match(b"a.-b", &a250, &lim()), Ok(None));
    let ab150 = b"ab".repeat(150);
    assert_eq!(lua_match(b"abc", &ab150, &lim()), Ok(None));
    assert_eq!(lua_find(b"abc", &ab150, &lim()), Ok(None));
    let p = Pattern::compile(b"abc").expect("valid");
    assert_eq!(p.matches_whole(&ab150), Ok(false));
}

/// Run `f` on a thread with a small stack; a stack overflow aborts the test
/// binary, so passing means the recursion fits.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("join")
}

#[test]
fn full_depth_runs_on_a_64_kib_stack() {
    let results = on_small_stack(|| {
        let a300 = b"a".repeat(300);
        let ab150 = b"ab".repeat(150);
        let cases: Vec<(Vec<u8>, &[u8])> = vec![
            (b"a?".repeat(250), &a300),
            (b"a-".repeat(250), &a300),
            (b"[a]?".repeat(250), &a300),
            (b"%a-".repeat(250), &a300),
            (b"a*b*".repeat(125), &ab150),
            (b"a+b+".repeat(125), &ab150),
            // Captures nest through the capture frames as well.
            (
                [b"(a?".repeat(16), b"a?".repeat(200), b")".repeat(16)].concat(),
                &a300,
            ),
            ([b"(a?)".repeat(16), b"a?".repeat(200)].concat(), &a300),
        ];
        cases
            .iter()
            .map(|(p, s)| lua_match(p, s, &Limits::default()))
            .collect::<Vec<_>>()
    });
    // lua5.4 raises "pattern too complex" for every one of these.
    for (i, r) in results.iter().enumerate() {
        assert_eq!(*r, Err(MatchError::TooComplex), "case {i}");
    }
}

#[test]
fn depth_beyond_lua_limit_uses_no_native_stack() {
    let deep = Limits {
        max_depth: 100_000,
        max_steps: 10_000_000,
    };
    let res = on_small_stack(move || {
        let subject = b"a".repeat(50_000);
        lua_match(&b"a?".repeat(50_000), &subject, &deep)
    });
    assert_eq!(
        res,
        Ok(Some(vec![Capture::Span {
            start: 0,
            end: 50_000
        }]))
    );
}

#[test]
fn greedy_star_after_a_failed_item_is_a_tail_call() {
    // Only the first `a*` matches anything; the 249 others fail their
    // first test and continue without recursion, as in C.
    let subject = b"a".repeat(300);
    assert_eq!(
        lua_match(&b"a*".repeat(250), &subject, &lim()),
        Ok(Some(vec![Capture::Span { start: 0, end: 300 }]))
    );
    assert_eq!(
        lua_match(&b"(a)".repeat(250), &subject, &lim()),
        Err(MatchError::Pattern(luapat::PatternError::TooManyCaptures))
    );
}

#[test]
fn one_budget_is_shared_by_every_call() {
    let hostile = Pattern::compile(b".-.-.-.-.-.-.-.-.-.-%d").expect("valid");
    let cheap = Pattern::compile(b"^mail%d+%.example%.com$").expect("valid");
    let subject = b"a".repeat(254);
    let mut budget = Budget::new(300_000);
    // Each hostile call alone is allowed its default 1,000,000 steps, but the
    // shared budget ends the first one after 300,000.
    assert_eq!(
        hostile.matches_whole_within(&subject, &mut budget),
        Err(MatchError::TooExpensive)
    );
    assert!(budget.is_exhausted());
    assert_eq!(budget.spent(), 300_000);
    // Once exhausted, even a cheap pattern fails at once.
    assert_eq!(
        cheap.matches_whole_within(b"mail1.example.com", &mut budget),
        Err(MatchError::TooExpensive)
    );
    assert_eq!(budget.spent(), 300_000);
}

#[test]
fn a_budget_spends_exactly_what_the_calls_took() {
    let p = Pattern::compile(b"^mail%d+%.example%.com$").expect("valid");
    let mut budget = Budget::new(10_000);
    assert_eq!(
        p.matches_whole_within(b"mail12.example.com", &mut budget),
        Ok(true)
    );
    let one = budget.spent();
    assert!(one > 0 && one < 200, "{one}");
    assert_eq!(
        p.matches_whole_within(b"mail12.example.com", &mut budget),
        Ok(true)
    );
    assert_eq!(budget.spent(), 2 * one);
    assert_eq!(budget.remaining(), 10_000 - 2 * one);
    // The same answers as without a budget.
    for s in [&b"mail12.example.com"[..], b"mailx.example.com", b""] {
        assert_eq!(
            p.matches_whole_within(s, &mut Budget::new(u64::MAX)),
            p.matches_whole(s)
        );
    }
}

#[test]
fn a_pattern_keeps_its_own_limit_inside_a_larger_budget() {
    let hostile = Pattern::compile(b".-.-.-.-.-.-.-.-.-.-%d")
        .expect("valid")
        .with_limits(Limits {
            max_steps: 1_000,
            ..Limits::default()
        });
    let mut budget = Budget::new(1_000_000);
    assert_eq!(
        hostile.matches_whole_within(&b"a".repeat(254), &mut budget),
        Err(MatchError::TooExpensive)
    );
    assert!(!budget.is_exhausted());
    assert_eq!(budget.spent(), 1_000);
}

/// The most steps a pattern spends on its adversarial subjects (capped).
fn worst_steps(source: &[u8], cap: u64) -> u64 {
    let p = Pattern::compile(source).expect("valid");
    p.adversarial_subjects(255)
        .iter()
        .map(|s| {
            let mut budget = Budget::new(cap);
            let _ = p.matches_whole_within(s, &mut budget);
            budget.spent()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn adversarial_subjects_expose_expensive_patterns() {
    const CAP: u64 = 200_000;
    for hostile in [
        &b".-.-.-.-.-.-.-.-.-.-%d"[..],
        b"(.-)(.-)(.-)(.-)(.-)x",
        b"^%w*%w*%w*%w*!$",
        b"[%w%-]*[%w%-]*[%w%-]*[%w%-]*%.example%.com",
    ] {
        let steps = worst_steps(hostile, CAP);
        assert_eq!(steps, CAP, "{}", String::from_utf8_lossy(hostile));
    }
    for cheap in [
        &b"^mail%d+%.example%.com$"[..],
        b"^ec2%-%d+%-%d+%-%d+%-%d+%..*amazonaws%.com$",
        b"%.dyn%.",
        b"'literal",
        b"^[%w%-]+%.dsl%.example%.net$",
    ] {
        let steps = worst_steps(cheap, CAP);
        assert!(
            steps < 20_000,
            "{}: {steps}",
            String::from_utf8_lossy(cheap)
        );
    }
}
