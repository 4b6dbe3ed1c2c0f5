//! DNS blocklists: the query names, the zones' settings and what an answer means.
//!
//! A zone is asked `<reversed octets>.<zone>` (IPv4) or `<reversed nibbles>.<zone>` (IPv6)
//! for an A record; an answer is a return code such as `127.0.0.2`. The facts keep every
//! answer as `zone:code`; the decision adds the weights of the zones whose code counts
//! (`codes`, or any `127.0.0.0/8` code when none are given) and blocks at the threshold.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::reserved::canonical;

/// One `[[dnsbl]]` zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsblZone {
    /// The zone, e.g. `zen.spamhaus.org`.
    pub zone: String,
    /// What a listing adds to the score.
    #[serde(default = "one")]
    pub weight: f64,
    /// The return codes that count; empty: any code in 127.0.0.0/8.
    #[serde(default)]
    pub codes: Vec<Ipv4Addr>,
}

fn one() -> f64 {
    1.0
}

impl DnsblZone {
    /// The zone as an absolute name without the leading or trailing dot.
    pub fn name(&self) -> &str {
        self.zone.trim_matches('.')
    }

    /// Whether `code` counts as a listing in this zone.
    pub fn counts(&self, code: Ipv4Addr) -> bool {
        if self.codes.is_empty() {
            code.octets()[0] == 127
        } else {
            self.codes.contains(&code)
        }
    }
}

/// The query name of `ip` in `zone` (absolute, with the trailing dot).
pub fn query_name(ip: IpAddr, zone: &str) -> String {
    let zone = zone.trim_matches('.');
    match canonical(ip) {
        IpAddr::V4(a) => {
            let [a, b, c, d] = a.octets();
            format!("{d}.{c}.{b}.{a}.{zone}.")
        }
        IpAddr::V6(a) => {
            let mut name = String::with_capacity(64 + zone.len() + 1);
            for byte in a.octets().iter().rev() {
                for nibble in [byte & 0xf, byte >> 4] {
                    name.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                    name.push('.');
                }
            }
            name.push_str(zone);
            name.push('.');
            name
        }
    }
}

/// A DNS blocklist's answer for the client IP: the zone and its return code, written
/// `zone:code` (`zen.example.org:127.0.0.2`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DnsblHit {
    /// The zone as configured, without leading or trailing dots.
    pub zone: String,
    /// The return code (an A record, e.g. `127.0.0.2`).
    pub code: Ipv4Addr,
}

impl fmt::Display for DnsblHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.zone, self.code)
    }
}

impl PartialEq<str> for DnsblHit {
    fn eq(&self, other: &str) -> bool {
        parse_fact(other) == Some((self.zone.as_str(), self.code))
    }
}

impl PartialEq<&str> for DnsblHit {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

/// Text that is not `zone:code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a DNS blocklist answer (zone:code): {0:?}")]
pub struct BadDnsblHit(pub String);

impl FromStr for DnsblHit {
    type Err = BadDnsblHit;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (zone, code) = parse_fact(s).ok_or_else(|| BadDnsblHit(s.to_owned()))?;
        Ok(DnsblHit {
            zone: zone.to_owned(),
            code,
        })
    }
}

serde_as_text!(DnsblHit);

/// Splits a `zone:code` text.
fn parse_fact(fact: &str) -> Option<(&str, Ipv4Addr)> {
    let (zone, code) = fact.rsplit_once(':')?;
    Some((zone, code.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_ipv4_ipv6_and_mapped() {
        assert_eq!(
            query_name("127.0.0.2".parse().unwrap(), "zen.example.org"),
            "2.0.0.127.zen.example.org."
        );
        assert_eq!(
            query_name("::ffff:1.2.3.4".parse().unwrap(), ".bl.example."),
            "4.3.2.1.bl.example."
        );
        let v6 = query_name("2001:db8::1".parse().unwrap(), "bl.example");
        assert!(v6.starts_with("1.0.0.0.0.0.0.0"), "{v6}");
        assert!(v6.ends_with("8.b.d.0.1.0.0.2.bl.example."), "{v6}");
        assert_eq!(v6.split('.').count(), 32 + 2 + 1);
    }

    #[test]
    fn codes_and_facts() {
        let z = DnsblZone {
            zone: "bl.example".into(),
            weight: 1.0,
            codes: vec![],
        };
        assert!(z.counts("127.0.0.2".parse().unwrap()));
        assert!(!z.counts("10.0.0.2".parse().unwrap()));
        let z = DnsblZone {
            codes: vec!["127.0.0.4".parse().unwrap()],
            ..z
        };
        assert!(!z.counts("127.0.0.2".parse().unwrap()));
        assert!(z.counts("127.0.0.4".parse().unwrap()));
        assert_eq!(
            parse_fact("zen.example.org:127.0.0.2"),
            Some(("zen.example.org", "127.0.0.2".parse().unwrap()))
        );
        assert_eq!(parse_fact("garbage"), None);
    }
}
