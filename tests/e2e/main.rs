//! End to end: the badclients daemon behind a real Dovecot (auth policy server and the Lua
//! shim) and a real Postfix (policy service), each case on Debian 12 (the host's Dovecot 2.3,
//! Postfix 3.7) and Debian 13 (Dovecot 2.4, Postfix 3.10 in the trixie root): one test binary,
//! `cargo test --test e2e`. The instance templates are in `tests/e2e/conf/` (see
//! `tests/e2e/README.md`), the harness in the dev-only crate `testkit`.
//!
//! Needs root, the Debian packages of tests/e2e/README.md and the Debian 13 root that
//! `scripts/test.sh` builds; without them the tests fail with a hint (never skipped). Every
//! instance has its own temporary directory and free loopback ports, so the tests run in
//! parallel threads of this one process.

mod docs;
mod dovecot;
mod lua;
mod postfix;
