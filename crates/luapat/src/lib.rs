//! Lua 5.4 string patterns over bytes, in safe Rust, with bounded work.
//!
//! This crate reproduces what `string.find` and `string.match` of Lua 5.4
//! (`lstrlib.c`) return, byte for byte: the same matches, the same captures,
//! the same errors with the same messages. Subjects and patterns are
//! `&[u8]`; nothing is decoded as UTF-8. Character classes are those of the
//! C locale (`%s` includes `\v` and `\f`; bytes ≥ 0x80 are in no class), and
//! the deprecated `%z` (the NUL byte) still works, as it does in Lua 5.4.
//!
//! # Two layers
//!
//! * [`lua_match`] and [`lua_find`] behave exactly like Lua, including its
//!   *lazy* errors: a malformed part of a pattern is reported only when the
//!   matcher reaches it, so `lua_match(b"a%", b"b", ..)` is `Ok(None)` while
//!   `lua_match(b"a%", b"a", ..)` fails with "malformed pattern (ends with
//!   '%')". `lua_find` does a plain substring search when the pattern has
//!   none of Lua's special characters `^$*+?.([%-`, as Lua does.
//!   [`lua_match_init`] and [`lua_find_init`] take Lua's optional `init`
//!   argument (1-based, negative counts from the end).
//! * [`Pattern::compile`] validates the whole pattern at once and reports
//!   every error Lua could raise for *some* subject, with Lua's message. A
//!   compiled [`Pattern`] then only fails at run time because of the limits
//!   below. [`Pattern::matches_whole`] implements the whole-match rule
//!   `string.match(value, pattern) == value`: the first value that
//!   `string.match` returns must be a string equal to the whole subject
//!   (a first capture if the pattern has captures; a position capture is a
//!   number and never equal).
//!
//! # Limits
//!
//! [`Limits::max_depth`] is Lua's `MAXCCALLS` (200): deeper recursion is the
//! error "pattern too complex", raised where Lua raises it (Lua's tail calls
//! are loops here and cost no depth, as in C). [`Limits::max_steps`] is a
//! budget of our own over every single-character test, matcher call, start
//! position and back-reference byte of one call; when it runs out the answer
//! is [`MatchError::TooExpensive`], never a match and never a hang. Lua's
//! recursion runs on an explicit heap stack of at most `max_depth` small
//! frames, so matching needs only a few hundred bytes of thread stack
//! whatever the pattern, even in debug builds.
//!
//! A [`Budget`] shares one step budget between many calls
//! ([`Pattern::matches_whole_within`]), e.g. every pattern tried for one
//! value, and measures what a call spent; [`Pattern::adversarial_subjects`]
//! gives subjects on which a pattern's bad worst case shows, to measure it
//! once at load time.
//!
//! ```
//! use luapat::{lua_match, Capture, Limits, Pattern};
//!
//! let host = Pattern::compile(b"^mail%d+%.example%.com$")?;
//! assert!(host.matches_whole(b"mail12.example.com")?);
//! assert!(!host.matches_whole(b"mailx.example.com")?);
//!
//! let caps = lua_match(b"(%a+)=(%d+)", b"  key=42", &Limits::default())?;
//! assert_eq!(caps, Some(vec![
//!     Capture::Span { start: 2, end: 5 },
//!     Capture::Span { start: 6, end: 8 },
//! ]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod capture;
mod class;
mod engine;
mod error;
mod limits;
mod pattern;
mod search;
mod validate;
mod worst;

pub use capture::{Capture, Found};
pub use engine::MAX_CAPTURES;
pub use error::{MatchError, PatternError};
pub use limits::{Budget, Limits, DEFAULT_MAX_STEPS, LUA_MAX_DEPTH};
pub use pattern::Pattern;
pub use search::{lua_find, lua_find_init, lua_match, lua_match_init};
