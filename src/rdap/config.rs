//! `RdapConfig`: where the registries' RDAP services are and how long, how big and how far
//! redirected an answer may be.

use std::collections::BTreeMap;
use std::time::Duration;

use url::Url;

use super::registry::Registry;

/// How the RDAP client talks to the registries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RdapConfig {
    /// Base URL per registry; the client requests `<base>ip/<address>`. A registry
    /// missing here uses [`Registry::default_base_url`]. A base without a trailing `/` is
    /// treated as if it had one.
    pub base_urls: BTreeMap<Registry, Url>,
    /// Limit for one lookup: connecting, every redirect and reading the body.
    pub timeout: Duration,
    /// Longest body read; a longer one is an error and is not read further.
    pub max_body_bytes: usize,
    /// Most redirects followed in one lookup.
    pub max_redirects: usize,
    /// The `User-Agent` header.
    pub user_agent: String,
}

/// ipwhois' per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// 1 MiB: real network answers are a few KiB to a few tens of KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Enough for http→https plus a hop to the RIR holding transferred space.
pub const DEFAULT_MAX_REDIRECTS: usize = 5;

impl Default for RdapConfig {
    /// The registries' public services, 5 s, 1 MiB, 5 redirects.
    fn default() -> RdapConfig {
        RdapConfig {
            base_urls: Registry::ALL
                .into_iter()
                .filter_map(|r| Url::parse(r.default_base_url()).ok().map(|u| (r, u)))
                .collect(),
            timeout: DEFAULT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            user_agent: concat!("badclients/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_points_at_the_real_registries() {
        let config = RdapConfig::default();
        assert_eq!(config.base_urls.len(), 5);
        assert_eq!(
            config.base_urls[&Registry::Lacnic].as_str(),
            "https://rdap.lacnic.net/rdap/"
        );
        assert_eq!(
            config.base_urls[&Registry::RipeNcc].as_str(),
            "https://rdap.db.ripe.net/"
        );
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(config.max_body_bytes, 1_048_576);
        assert_eq!(config.max_redirects, 5);
        assert!(config.user_agent.starts_with("badclients/"));
    }
}
