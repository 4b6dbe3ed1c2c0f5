//! The tests that need a real PostgreSQL (Debian's `postgresql` package; they fail with a hint
//! when it is missing): the shared decision history's schema, shipping and reading. One test
//! binary, `cargo test --test pg`; every server is a private cluster on a free loopback port
//! (`testkit::postgres::PgServer`).

mod prune;
mod read;
mod schema;
mod ship;
mod tls;
