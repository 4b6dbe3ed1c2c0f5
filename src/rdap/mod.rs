//! RDAP: the registries' record of the network holding a client IP (its name, country and
//! entity handles), fetched the way the older tool (ipwhois 1.2.0 `lookup_rdap`) fetched
//! it, minus its entity requests and its sleeping on rate limits.
//!
//! - [`Registry`]: the five RIRs, by Team Cymru's names, with their public base URLs.
//! - [`Bootstrap`]: IANA's bootstrap files, for an address whose registry is not known.
//! - [`RdapConfig`] and [`RdapClient::lookup`]: one GET of `<base>ip/<address>`,
//!   redirects followed, size and time bounded; a rate-limited registry is left alone
//!   for the wait it asked for.
//! - [`RdapNetwork`]: the facts read from the answer.
//! - [`RdapError`]: why there is no network, with a metric label ([`RdapError::kind`]).

mod answer;
mod backoff;
mod base_urls;
mod bootstrap;
mod client;
mod config;
mod error;
mod http;
mod network;
mod range;
mod registry;
mod retry_after;

pub use answer::RATE_LIMIT_NOTICE_TITLE;
pub use bootstrap::{Bootstrap, BootstrapError, RdapService, IPV4_FILE, IPV6_FILE};
pub use client::RdapClient;
pub use config::{RdapConfig, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_REDIRECTS, DEFAULT_TIMEOUT};
pub use error::RdapError;
pub use http::RDAP_MEDIA_TYPE;
pub use network::RdapNetwork;
pub use registry::{Registry, RegistryParseError};
pub use retry_after::{DEFAULT_RETRY_AFTER, MAX_RETRY_AFTER, MIN_RETRY_AFTER};
