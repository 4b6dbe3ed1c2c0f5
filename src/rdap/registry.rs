//! `Registry`: the five Regional Internet Registries, named as Team Cymru names them, and
//! the RDAP base URL each one serves.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A Regional Internet Registry that runs an RDAP service for IP networks.
///
/// Written (and parsed, ignoring case) the way Team Cymru's origin answers write the
/// registry field: `arin`, `ripencc`, `apnic`, `lacnic`, `afrinic`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registry {
    Arin,
    RipeNcc,
    Apnic,
    Lacnic,
    Afrinic,
}

/// Why a string is not a registry name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RIR name: {0:?} (expected arin, ripencc, apnic, lacnic or afrinic)")]
pub struct RegistryParseError(pub String);

impl Registry {
    /// Every registry, in a fixed order.
    pub const ALL: [Registry; 5] = [
        Registry::Arin,
        Registry::RipeNcc,
        Registry::Apnic,
        Registry::Lacnic,
        Registry::Afrinic,
    ];

    /// The name in Team Cymru's registry field (`ripencc` for the RIPE NCC).
    pub fn name(self) -> &'static str {
        match self {
            Registry::Arin => "arin",
            Registry::RipeNcc => "ripencc",
            Registry::Apnic => "apnic",
            Registry::Lacnic => "lacnic",
            Registry::Afrinic => "afrinic",
        }
    }

    /// The registry's public RDAP base URL; a network is at `<base>ip/<address>`.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Registry::Arin => "https://rdap.arin.net/registry/",
            Registry::RipeNcc => "https://rdap.db.ripe.net/",
            Registry::Apnic => "https://rdap.apnic.net/",
            Registry::Lacnic => "https://rdap.lacnic.net/rdap/",
            Registry::Afrinic => "https://rdap.afrinic.net/rdap/",
        }
    }

    /// The host name of the registry's public RDAP service.
    pub fn rdap_host(self) -> &'static str {
        match self {
            Registry::Arin => "rdap.arin.net",
            Registry::RipeNcc => "rdap.db.ripe.net",
            Registry::Apnic => "rdap.apnic.net",
            Registry::Lacnic => "rdap.lacnic.net",
            Registry::Afrinic => "rdap.afrinic.net",
        }
    }

    /// The registry whose public RDAP service runs on `host` (ignoring case and a
    /// trailing dot), as IANA's bootstrap files and the registries' redirects name it.
    pub fn from_rdap_host(host: &str) -> Option<Registry> {
        let host = host.strip_suffix('.').unwrap_or(host);
        Registry::ALL
            .into_iter()
            .find(|r| r.rdap_host().eq_ignore_ascii_case(host))
    }
}

impl FromStr for Registry {
    type Err = RegistryParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Registry::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| RegistryParseError(s.to_string()))
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cymru_names_ignoring_case_and_prints_them_back() {
        for (text, registry) in [
            ("arin", Registry::Arin),
            ("RIPENCC", Registry::RipeNcc),
            ("ApNiC", Registry::Apnic),
            ("lacnic", Registry::Lacnic),
            ("afrinic", Registry::Afrinic),
        ] {
            let parsed: Registry = text.parse().unwrap();
            assert_eq!(parsed, registry);
            assert_eq!(parsed.to_string(), text.to_ascii_lowercase());
        }
    }

    #[test]
    fn rejects_other_names() {
        for text in ["", "ripe", "ripe ncc", " arin", "iana", "jpnic"] {
            assert_eq!(
                text.parse::<Registry>(),
                Err(RegistryParseError(text.to_string()))
            );
        }
    }

    #[test]
    fn serde_uses_the_cymru_names() {
        let json = serde_json::to_string(&Registry::RipeNcc).unwrap();
        assert_eq!(json, "\"ripencc\"");
        let back: Registry = serde_json::from_str("\"afrinic\"").unwrap();
        assert_eq!(back, Registry::Afrinic);
    }

    #[test]
    fn default_base_urls_are_the_registries_https_services() {
        for registry in Registry::ALL {
            let url = url::Url::parse(registry.default_base_url()).unwrap();
            assert_eq!(url.scheme(), "https");
            assert!(url.path().ends_with('/'));
            assert_eq!(url.host_str(), Some(registry.rdap_host()));
            assert_eq!(
                Registry::from_rdap_host(registry.rdap_host()),
                Some(registry)
            );
        }
        assert_eq!(
            Registry::from_rdap_host("RDAP.DB.RIPE.NET."),
            Some(Registry::RipeNcc)
        );
        assert_eq!(Registry::from_rdap_host("rdap.example.net"), None);
        assert_eq!(Registry::from_rdap_host("ripe.net"), None);
    }
}
