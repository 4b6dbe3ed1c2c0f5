//! `RdapError`: every way an RDAP lookup fails, each with a short stable `kind()` for
//! metrics.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::registry::Registry;

/// Why an RDAP lookup gave no network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdapError {
    /// The request (connection, redirects and body) took longer than the configured timeout.
    #[error("RDAP request timed out after {} ms", after.as_millis())]
    Timeout { after: Duration },
    /// The server answered with a status other than success or 429.
    #[error("RDAP server answered HTTP {status}")]
    Http { status: u16 },
    /// The registry said "too many requests" (HTTP 429, or LACNIC's "Rate Limit Notice");
    /// the client backs off from it for `retry_after`.
    #[error("{registry} RDAP rate limit: backing off for {} s", retry_after.as_secs())]
    RateLimited {
        registry: Registry,
        retry_after: Duration,
    },
    /// No request was made: the registry rate-limited us earlier and `until` has not
    /// passed yet.
    #[error(
        "{registry} RDAP skipped: backing off after a rate limit for {} s more",
        until.saturating_duration_since(Instant::now()).as_secs()
    )]
    Backoff { registry: Registry, until: Instant },
    /// The body is longer than the configured limit (reading stopped there).
    #[error("RDAP answer larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// A redirect loop, too many redirects, or a redirect to something not http(s).
    #[error("RDAP redirects: {reason}")]
    Redirects { reason: String },
    /// The body is not JSON.
    #[error("RDAP answer is not JSON: {reason}")]
    BadJson { reason: String },
    /// The JSON is not an IP network object with a handle and an address range.
    #[error("RDAP answer is not an IP network: {reason}")]
    NotANetwork { reason: String },
    /// Connecting, sending or receiving failed (including a body cut short).
    #[error("RDAP transport error: {reason}")]
    Transport { reason: String },
    /// No registry was given and the bootstrap data list none for the address.
    #[error("no RDAP registry is known for {ip}")]
    NoRegistry { ip: IpAddr },
    /// No registry was given and the bootstrap names a service that is not one of the
    /// five RIRs.
    #[error("the RDAP service for {ip} is not one of the five RIRs: {url}")]
    UnknownService { ip: IpAddr, url: String },
    /// The client could not be built from its configuration.
    #[error("RDAP client configuration: {reason}")]
    Config { reason: String },
}

impl RdapError {
    /// A short, stable name of the error's kind, for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            RdapError::Timeout { .. } => "timeout",
            RdapError::Http { .. } => "http_status",
            RdapError::RateLimited { .. } => "rate_limited",
            RdapError::Backoff { .. } => "backoff",
            RdapError::TooLarge { .. } => "too_large",
            RdapError::Redirects { .. } => "redirects",
            RdapError::BadJson { .. } => "bad_json",
            RdapError::NotANetwork { .. } => "not_a_network",
            RdapError::Transport { .. } => "transport",
            RdapError::NoRegistry { .. } => "no_registry",
            RdapError::UnknownService { .. } => "unknown_service",
            RdapError::Config { .. } => "config",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_kinds() {
        let cases = [
            (
                RdapError::Timeout {
                    after: Duration::from_millis(1500),
                },
                "timeout",
                "RDAP request timed out after 1500 ms",
            ),
            (
                RdapError::Http { status: 404 },
                "http_status",
                "RDAP server answered HTTP 404",
            ),
            (
                RdapError::RateLimited {
                    registry: Registry::Lacnic,
                    retry_after: Duration::from_secs(60),
                },
                "rate_limited",
                "lacnic RDAP rate limit: backing off for 60 s",
            ),
            (
                RdapError::TooLarge { limit: 1024 },
                "too_large",
                "RDAP answer larger than 1024 bytes",
            ),
            (
                RdapError::NoRegistry {
                    ip: "10.0.0.1".parse().unwrap(),
                },
                "no_registry",
                "no RDAP registry is known for 10.0.0.1",
            ),
        ];
        for (error, kind, message) in cases {
            assert_eq!(error.kind(), kind);
            assert_eq!(error.to_string(), message);
        }
        let backoff = RdapError::Backoff {
            registry: Registry::Arin,
            until: Instant::now() + Duration::from_secs(30),
        };
        assert_eq!(backoff.kind(), "backoff");
        let text = backoff.to_string();
        assert!(
            text.starts_with("arin RDAP skipped: backing off after a rate limit for 2")
                || text.starts_with("arin RDAP skipped: backing off after a rate limit for 30"),
            "{text}"
        );
    }
}
