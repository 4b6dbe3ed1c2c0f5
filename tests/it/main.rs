//! The integration tests that need nothing but the `badclients` binary, its library and
//! testworld's fake DNS and RDAP servers (plus `prlimit(1)`): one module per area, one test
//! binary (`cargo test --test it`), so the crate is linked once for all of them.
//!
//! Real Dovecot and Postfix are in `tests/e2e`, a real `redis-server` in `tests/redis`, Chromium
//! in `tests/ui_browser.rs`. The harness is the dev-only crate `testkit` (`crates/testkit`).
//!
//! The tests run in parallel threads of one process: none may change what the process shares
//! (environment variables, the current directory, the umask, signal handlers) or use a fixed
//! port or path. What a daemon needs differently it gets on its command (see
//! `testkit::daemon::DaemonConfig`). The one exception is `conn_limits`, which raises the soft
//! descriptor limit to the hard one: it only ever grows, and the other tests' daemons get
//! their limits from `DaemonConfig::nofile` when they care.

mod access;
mod asn_table;
mod auditlog;
mod bare_machine;
mod cache_bounds;
mod cache_daemon;
mod cache_store;
mod cli;
mod cloud;
mod conn_limits;
mod decision;
mod dnsbl;
mod geoip;
mod geoip_daemon;
mod geoip_lists;
mod golden;
mod history;
mod list_dir;
mod lists;
mod lookup;
mod match_budget;
mod metrics;
mod postfix_policy;
mod ranges;
mod rdap;
mod report;
mod serve;
