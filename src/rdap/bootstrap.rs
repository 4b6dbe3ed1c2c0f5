//! `Bootstrap`: IANA's RDAP bootstrap registries for IP addresses (RFC 9224 `ipv4.json`,
//! `ipv6.json`) in prefix tries, answering "which RDAP service holds this address?".
//!
//! The files in `assets/iana/` are compiled in; [`Bootstrap::from_dir`] reads fresher
//! copies of the same names from a directory instead.

use std::fs;
use std::net::IpAddr;
use std::path::Path;

use ipnet::{Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use serde::Deserialize;
use url::Url;

use super::registry::Registry;

const BUNDLED_IPV4: &[u8] = include_bytes!("../../assets/iana/ipv4.json");
const BUNDLED_IPV6: &[u8] = include_bytes!("../../assets/iana/ipv6.json");

/// The IPv4 bootstrap file's name, in `assets/iana/` and in a configured directory.
pub const IPV4_FILE: &str = "ipv4.json";
/// The IPv6 bootstrap file's name, in `assets/iana/` and in a configured directory.
pub const IPV6_FILE: &str = "ipv6.json";

/// The RDAP service a bootstrap file names for a range of addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RdapService {
    /// One of the five RIRs (recognised by the host of one of the service's URLs).
    Registry(Registry),
    /// Any other service: its base URL (the first `https` one the file lists).
    Other(Url),
}

/// Why a bootstrap file could not be used. `file` names the file (its path, or
/// `bundled ipv4.json`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootstrapError {
    #[error("{file}: cannot read: {reason}")]
    Read { file: String, reason: String },
    #[error("{file}: not an RDAP bootstrap file (RFC 9224): {reason}")]
    Format { file: String, reason: String },
    #[error("{file}: service {service}: {reason}")]
    Service {
        file: String,
        /// 1-based position in `services`.
        service: usize,
        reason: String,
    },
}

/// IANA's IPv4 and IPv6 RDAP bootstrap data.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    v4: PrefixMap<Ipv4Net, usize>,
    v6: PrefixMap<Ipv6Net, usize>,
    services: Vec<RdapService>,
}

/// The RFC 9224 file: `services` is a list of `[[prefix, …], [url, …]]` pairs.
#[derive(Deserialize)]
struct BootstrapFile {
    services: Vec<(Vec<String>, Vec<String>)>,
}

impl Bootstrap {
    /// The bootstrap files compiled into the program (`assets/iana/`).
    pub fn bundled() -> Result<Bootstrap, BootstrapError> {
        Bootstrap::from_json(
            ("bundled ipv4.json", BUNDLED_IPV4),
            ("bundled ipv6.json", BUNDLED_IPV6),
        )
    }

    /// Reads `ipv4.json` and `ipv6.json` from `dir`; both must be present.
    pub fn from_dir(dir: &Path) -> Result<Bootstrap, BootstrapError> {
        let read = |name: &str| {
            let path = dir.join(name);
            let file = path.display().to_string();
            fs::read(&path)
                .map(|bytes| (file.clone(), bytes))
                .map_err(|e| BootstrapError::Read {
                    file,
                    reason: e.to_string(),
                })
        };
        let (v4_name, v4_bytes) = read(IPV4_FILE)?;
        let (v6_name, v6_bytes) = read(IPV6_FILE)?;
        Bootstrap::from_json((&v4_name, &v4_bytes), (&v6_name, &v6_bytes))
    }

    /// Builds the tables from the two files' contents, each given with the name its
    /// errors use.
    pub fn from_json(
        ipv4: (&str, &[u8]),
        ipv6: (&str, &[u8]),
    ) -> Result<Bootstrap, BootstrapError> {
        let mut bootstrap = Bootstrap {
            v4: PrefixMap::new(),
            v6: PrefixMap::new(),
            services: Vec::new(),
        };
        let (v4_name, v4_bytes) = ipv4;
        for (number, prefixes, service) in read_services(v4_name, v4_bytes)? {
            let index = bootstrap.push(service);
            for text in prefixes {
                let net = parse_prefix::<Ipv4Net>(&text, "IPv4")
                    .map_err(|reason| service_error(v4_name, number, reason))?;
                if bootstrap.v4.insert(net, index).is_some() {
                    return Err(service_error(
                        v4_name,
                        number,
                        format!("{net} is listed twice"),
                    ));
                }
            }
        }
        let (v6_name, v6_bytes) = ipv6;
        for (number, prefixes, service) in read_services(v6_name, v6_bytes)? {
            let index = bootstrap.push(service);
            for text in prefixes {
                let net = parse_prefix::<Ipv6Net>(&text, "IPv6")
                    .map_err(|reason| service_error(v6_name, number, reason))?;
                if bootstrap.v6.insert(net, index).is_some() {
                    return Err(service_error(
                        v6_name,
                        number,
                        format!("{net} is listed twice"),
                    ));
                }
            }
        }
        Ok(bootstrap)
    }

    /// The service holding `ip` (the most specific listed prefix). An IPv4-mapped IPv6
    /// address is looked up as its IPv4 address.
    pub fn service_for(&self, ip: IpAddr) -> Option<&RdapService> {
        let index = match ip.to_canonical() {
            IpAddr::V4(a) => self.v4.get_lpm(&Ipv4Net::from(a)).map(|(_, i)| *i),
            IpAddr::V6(a) => self.v6.get_lpm(&Ipv6Net::from(a)).map(|(_, i)| *i),
        }?;
        self.services.get(index)
    }

    /// The RIR holding `ip`, when the bootstrap names one of the five.
    pub fn registry_for(&self, ip: IpAddr) -> Option<Registry> {
        match self.service_for(ip)? {
            RdapService::Registry(r) => Some(*r),
            RdapService::Other(_) => None,
        }
    }

    fn push(&mut self, service: RdapService) -> usize {
        self.services.push(service);
        self.services.len() - 1
    }
}

/// The services of one file: (1-based number, prefix texts, service).
fn read_services(
    file: &str,
    bytes: &[u8],
) -> Result<Vec<(usize, Vec<String>, RdapService)>, BootstrapError> {
    let parsed: BootstrapFile =
        serde_json::from_slice(bytes).map_err(|e| BootstrapError::Format {
            file: file.to_string(),
            reason: e.to_string(),
        })?;
    if parsed.services.is_empty() {
        return Err(BootstrapError::Format {
            file: file.to_string(),
            reason: "\"services\" is empty".to_string(),
        });
    }
    parsed
        .services
        .into_iter()
        .enumerate()
        .map(|(i, (prefixes, urls))| {
            let number = i + 1;
            let service =
                service_of(&urls).map_err(|reason| service_error(file, number, reason))?;
            Ok((number, prefixes, service))
        })
        .collect()
}

/// The service named by a list of base URLs: a known RIR if any URL's host is one, else
/// the first `https` URL (or the first URL).
fn service_of(texts: &[String]) -> Result<RdapService, String> {
    let mut urls = Vec::with_capacity(texts.len());
    for text in texts {
        let url = Url::parse(text).map_err(|e| format!("bad URL {text:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(format!("not an http(s) base URL: {text:?}"));
        }
        urls.push(url);
    }
    if let Some(registry) = urls
        .iter()
        .find_map(|u| u.host_str().and_then(Registry::from_rdap_host))
    {
        return Ok(RdapService::Registry(registry));
    }
    let preferred = urls.iter().position(|u| u.scheme() == "https").unwrap_or(0);
    if preferred < urls.len() {
        Ok(RdapService::Other(urls.swap_remove(preferred)))
    } else {
        Err("no URLs".to_string())
    }
}

fn parse_prefix<N>(text: &str, family: &str) -> Result<N, String>
where
    N: std::str::FromStr + Copy + PartialEq + std::fmt::Display + Truncate,
{
    let net: N = text
        .parse()
        .map_err(|_| format!("not an {family} prefix: {text:?}"))?;
    if net.truncated() != net {
        return Err(format!("{text} has host bits set"));
    }
    Ok(net)
}

/// A prefix type that can drop its host bits.
trait Truncate: Sized {
    fn truncated(&self) -> Self;
}

impl Truncate for Ipv4Net {
    fn truncated(&self) -> Self {
        self.trunc()
    }
}

impl Truncate for Ipv6Net {
    fn truncated(&self) -> Self {
        self.trunc()
    }
}

fn service_error(file: &str, service: usize, reason: String) -> BootstrapError {
    BootstrapError::Service {
        file: file.to_string(),
        service,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(bootstrap: &Bootstrap, ip: &str) -> Option<Registry> {
        bootstrap.registry_for(ip.parse().unwrap())
    }

    #[test]
    fn bundled_files_name_the_right_registry() {
        let bootstrap = Bootstrap::bundled().unwrap();
        for (ip, expected) in [
            ("74.125.225.229", Some(Registry::Arin)),
            ("13.72.183.192", Some(Registry::Arin)),
            // Legacy space: IANA lists 130.0.0.0/8 under ARIN, whose service redirects to
            // the RIPE NCC for SWITCH's 130.59.0.0/16.
            ("130.59.31.80", Some(Registry::Arin)),
            ("62.239.237.1", Some(Registry::RipeNcc)),
            ("176.112.169.218", Some(Registry::RipeNcc)),
            ("210.107.73.73", Some(Registry::Apnic)),
            ("1.1.1.1", Some(Registry::Apnic)),
            ("200.57.141.161", Some(Registry::Lacnic)),
            ("196.11.240.215", Some(Registry::Afrinic)),
            ("41.1.2.3", Some(Registry::Afrinic)),
            ("2001:4860:4860::8888", Some(Registry::Arin)),
            ("2a00:2381:ffff::1", Some(Registry::RipeNcc)),
            ("2001:240:10c:1::ca20:9d1d", Some(Registry::Apnic)),
            ("2801:10:c000::", Some(Registry::Lacnic)),
            ("2001:43f8:7b0::", Some(Registry::Afrinic)),
            // Not in the 2019 IPv4 file (IANA-reserved / private / multicast).
            ("10.1.2.3", None),
            ("127.0.0.1", None),
            ("224.0.0.1", None),
            ("::1", None),
            ("fe80::1", None),
        ] {
            assert_eq!(registry(&bootstrap, ip), expected, "{ip}");
        }
    }

    #[test]
    fn ipv4_mapped_ipv6_uses_the_ipv4_table() {
        let bootstrap = Bootstrap::bundled().unwrap();
        assert_eq!(
            registry(&bootstrap, "::ffff:62.239.237.1"),
            Some(Registry::RipeNcc)
        );
        assert_eq!(
            registry(&bootstrap, "::ffff:200.57.141.161"),
            Some(Registry::Lacnic)
        );
    }

    #[test]
    fn most_specific_prefix_wins_and_unknown_hosts_are_other_services() {
        let v4 = br#"{"version":"1.0","services":[
            [["10.0.0.0/8"], ["https://rdap.arin.net/registry/"]],
            [["10.1.0.0/16"], ["http://rdap.example.net/", "https://rdap.example.net/rdap/"]]
        ]}"#;
        let v6 = br#"{"services":[[["2001:db8::/32"], ["http://rdap.lacnic.net/rdap/"]]]}"#;
        let bootstrap = Bootstrap::from_json(("v4", v4), ("v6", v6)).unwrap();
        assert_eq!(registry(&bootstrap, "10.2.0.1"), Some(Registry::Arin));
        assert_eq!(
            bootstrap.service_for("10.1.2.3".parse().unwrap()),
            Some(&RdapService::Other(
                Url::parse("https://rdap.example.net/rdap/").unwrap()
            ))
        );
        assert_eq!(registry(&bootstrap, "10.1.2.3"), None);
        assert_eq!(registry(&bootstrap, "2001:db8::1"), Some(Registry::Lacnic));
        assert_eq!(registry(&bootstrap, "11.0.0.1"), None);
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let good = br#"{"services":[[["2001:db8::/32"], ["https://rdap.apnic.net/"]]]}"#;
        let cases: [(&[u8], &str); 7] = [
            (b"{", "v4: not an RDAP bootstrap file (RFC 9224): EOF"),
            (br#"{"services":[]}"#, "v4: not an RDAP bootstrap file (RFC 9224): \"services\" is empty"),
            (
                br#"{"services":[[["2001:db8::/32"], ["https://rdap.apnic.net/"]]]}"#,
                "v4: service 1: not an IPv4 prefix: \"2001:db8::/32\"",
            ),
            (
                br#"{"services":[[["10.0.0.1/8"], ["https://rdap.apnic.net/"]]]}"#,
                "v4: service 1: 10.0.0.1/8 has host bits set",
            ),
            (
                br#"{"services":[[["10.0.0.0/8"], ["https://a/"]], [["10.0.0.0/8"], ["https://b/"]]]}"#,
                "v4: service 2: 10.0.0.0/8 is listed twice",
            ),
            (
                br#"{"services":[[["10.0.0.0/8"], ["ftp://rdap.apnic.net/"]]]}"#,
                "v4: service 1: not an http(s) base URL: \"ftp://rdap.apnic.net/\"",
            ),
            (
                br#"{"services":[[["10.0.0.0/8"], []]]}"#,
                "v4: service 1: no URLs",
            ),
        ];
        for (v4, expected) in cases {
            let err = Bootstrap::from_json(("v4", v4), ("v6", good)).unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with(expected), "{text:?} vs {expected:?}");
        }
    }

    #[test]
    fn from_dir_reads_both_files_and_names_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let v4 = br#"{"services":[[["1.0.0.0/8"], ["https://rdap.afrinic.net/rdap/"]]]}"#;
        let v6 = br#"{"services":[[["2001:db8::/32"], ["https://rdap.apnic.net/"]]]}"#;
        fs::write(dir.path().join("ipv4.json"), v4).unwrap();

        let err = Bootstrap::from_dir(dir.path()).unwrap_err();
        match &err {
            BootstrapError::Read { file, .. } => assert!(file.ends_with("ipv6.json"), "{file}"),
            other => panic!("expected a read error, got {other:?}"),
        }

        fs::write(dir.path().join("ipv6.json"), v6).unwrap();
        let bootstrap = Bootstrap::from_dir(dir.path()).unwrap();
        // The directory's files replace the bundled ones entirely.
        assert_eq!(registry(&bootstrap, "1.1.1.1"), Some(Registry::Afrinic));
        assert_eq!(registry(&bootstrap, "2001:db8::1"), Some(Registry::Apnic));
        assert_eq!(registry(&bootstrap, "74.125.225.229"), None);

        fs::write(dir.path().join("ipv6.json"), b"[]").unwrap();
        let err = Bootstrap::from_dir(dir.path()).unwrap_err();
        assert!(
            matches!(&err, BootstrapError::Format { file, .. } if file.ends_with("ipv6.json")),
            "{err}"
        );
    }
}
