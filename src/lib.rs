//! badclients: keeps mail clients that log in from their vendor's cloud away from a mail
//! server.
//!
//! The library holds the policy core: the [`facts::Facts`] about a client IP, the
//! [`reserved`] address table, the [`lists`] directory, the [`decision`] and the
//! [`audit`] line, plus the [`config`] file. The `badclients` binary is the command-line
//! edge over it. See `ARCHITECTURE.md` for the map.

pub mod analysis;
pub mod app;
pub mod asn_table;
pub mod auditlog;
pub mod cache;
mod clock;
pub mod cloud;
pub mod config;
mod connections;
pub mod decider;
mod error_chain;
pub mod geoip;
pub mod history;
mod list_dir_fault;
pub mod lookup;
pub mod metrics;
pub mod pghistory;
pub mod postfix;
pub mod private_files;
pub mod rdap;
mod redb_guard;
pub mod server;
pub mod tls;
mod warn_limit;
mod web;

pub use badclients_policy::{audit, countries, decision, dnsbl, facts, lists, reserved};
pub use luapat;
