//! DNS queries through hickory-resolver: TXT records (Team Cymru) and PTR (reverse DNS).
//!
//! The resolver's own cache is off (badclients caches per network, see `cache`), names are
//! absolute, so no search domain is ever appended. Without configured servers the system
//! resolver (`/etc/resolv.conf`) is used.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};

/// A DNS failure (not "no such name", which is an answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("DNS query timed out")]
    Timeout,
    #[error("DNS query failed: {0}")]
    Failed(String),
    #[error("cannot set up the DNS resolver: {0}")]
    Setup(String),
}

impl DnsError {
    /// A short stable name for metrics and the audit line.
    pub fn kind(&self) -> &'static str {
        match self {
            DnsError::Timeout => "timeout",
            DnsError::Failed(_) => "failed",
            DnsError::Setup(_) => "setup",
        }
    }
}

/// TXT records: each record as its character-strings.
pub type TxtRecords = Vec<Vec<Vec<u8>>>;

/// A DNS answer with the TTL to cache it for (`None` when the name does not exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<T> {
    pub value: Option<T>,
    pub ttl: Duration,
}

/// The resolver badclients asks.
#[derive(Clone)]
pub struct DnsClient {
    resolver: TokioResolver,
}

impl std::fmt::Debug for DnsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DnsClient")
    }
}

fn classify(e: &NetError) -> DnsError {
    match e {
        NetError::Timeout => DnsError::Timeout,
        other => DnsError::Failed(other.to_string()),
    }
}

impl DnsClient {
    /// A client asking `servers` (UDP, then TCP for truncated answers), or the system
    /// resolver when `servers` is empty. `timeout` bounds one query.
    pub fn new(servers: &[SocketAddr], timeout: Duration) -> Result<DnsClient, DnsError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = if servers.is_empty() {
            Resolver::builder(provider).map_err(|e| DnsError::Setup(e.to_string()))?
        } else {
            let name_servers = servers
                .iter()
                .map(|s| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = s.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = s.port();
                    let mut ns = NameServerConfig::udp_and_tcp(s.ip());
                    ns.connections = vec![udp, tcp];
                    ns
                })
                .collect();
            Resolver::builder_with_config(ResolverConfig::from_name_servers(name_servers), provider)
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.timeout = timeout;
        // hickory counts retries here: 0 means one try. The lookup deadline bounds it all.
        opts.attempts = 0;
        opts.cache_size = 0;
        opts.ndots = 0;
        let resolver = builder
            .build()
            .map_err(|e| DnsError::Setup(e.to_string()))?;
        Ok(DnsClient { resolver })
    }

    /// The TXT records of `name` (absolute).
    pub async fn txt(&self, name: &str) -> Result<Answer<TxtRecords>, DnsError> {
        match self.resolver.txt_lookup(name).await {
            Ok(lookup) => {
                let mut records = Vec::new();
                let mut ttl = u32::MAX;
                for r in lookup.answers() {
                    if let RData::TXT(txt) = &r.data {
                        ttl = ttl.min(r.ttl);
                        records.push(txt.txt_data.iter().map(|s| s.to_vec()).collect());
                    }
                }
                let ttl = Duration::from_secs(u64::from(if records.is_empty() { 0 } else { ttl }));
                Ok(Answer {
                    value: (!records.is_empty()).then_some(records),
                    ttl,
                })
            }
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok(Answer {
                value: None,
                ttl: Duration::ZERO,
            }),
            Err(e) => Err(classify(&e)),
        }
    }

    /// The IPv4 addresses of `name` (absolute): DNS blocklist answers.
    pub async fn a(&self, name: &str) -> Result<Answer<Vec<Ipv4Addr>>, DnsError> {
        match self.resolver.ipv4_lookup(name).await {
            Ok(lookup) => {
                let mut ttl = u32::MAX;
                let addrs: Vec<Ipv4Addr> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::A(a) => {
                            ttl = ttl.min(r.ttl);
                            Some(a.0)
                        }
                        _ => None,
                    })
                    .collect();
                let ttl = Duration::from_secs(u64::from(if addrs.is_empty() { 0 } else { ttl }));
                Ok(Answer {
                    value: (!addrs.is_empty()).then_some(addrs),
                    ttl,
                })
            }
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok(Answer {
                value: None,
                ttl: Duration::ZERO,
            }),
            Err(e) => Err(classify(&e)),
        }
    }

    /// The PTR name of `ip`, without the trailing dot.
    pub async fn ptr(&self, ip: IpAddr) -> Result<Answer<String>, DnsError> {
        match self.resolver.reverse_lookup(ip).await {
            Ok(lookup) => {
                let found = lookup.answers().iter().find_map(|r| match &r.data {
                    RData::PTR(ptr) => Some((ptr.0.to_utf8(), r.ttl)),
                    _ => None,
                });
                Ok(match found {
                    Some((name, ttl)) => Answer {
                        value: Some(name.trim_end_matches('.').to_string()),
                        ttl: Duration::from_secs(u64::from(ttl)),
                    },
                    None => Answer {
                        value: None,
                        ttl: Duration::ZERO,
                    },
                })
            }
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok(Answer {
                value: None,
                ttl: Duration::ZERO,
            }),
            Err(e) => Err(classify(&e)),
        }
    }
}
