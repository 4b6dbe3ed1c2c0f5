//! `BaseUrls`: the checked RDAP base URL of every registry, the network URL built from it,
//! and which registry a (possibly redirected) URL belongs to.

use std::net::IpAddr;

use url::Url;

use super::config::RdapConfig;
use super::error::RdapError;
use super::registry::Registry;

/// One base URL per registry, each http(s) and ending in `/`.
#[derive(Debug, Clone)]
pub(super) struct BaseUrls {
    arin: Url,
    ripe_ncc: Url,
    apnic: Url,
    lacnic: Url,
    afrinic: Url,
}

impl BaseUrls {
    /// The configured base URLs, each registry missing from the configuration at its
    /// public default.
    pub(super) fn from_config(config: &RdapConfig) -> Result<BaseUrls, RdapError> {
        let checked = |registry| checked_base_url(config, registry);
        Ok(BaseUrls {
            arin: checked(Registry::Arin)?,
            ripe_ncc: checked(Registry::RipeNcc)?,
            apnic: checked(Registry::Apnic)?,
            lacnic: checked(Registry::Lacnic)?,
            afrinic: checked(Registry::Afrinic)?,
        })
    }

    pub(super) fn get(&self, registry: Registry) -> &Url {
        match registry {
            Registry::Arin => &self.arin,
            Registry::RipeNcc => &self.ripe_ncc,
            Registry::Apnic => &self.apnic,
            Registry::Lacnic => &self.lacnic,
            Registry::Afrinic => &self.afrinic,
        }
    }

    /// `<base>ip/<address>`, the address in its canonical text form (IPv6 compressed,
    /// IPv4-mapped IPv6 as IPv4).
    pub(super) fn network_url(&self, registry: Registry, ip: IpAddr) -> Url {
        let mut url = self.get(registry).clone();
        // A checked base URL can always take path segments.
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .push("ip")
                .push(&ip.to_canonical().to_string());
        }
        url
    }

    /// The registry a URL belongs to: the one with the longest base URL that prefixes it
    /// (`preferred` on a tie, as when several registries share one base), else the one
    /// whose public RDAP host it names.
    pub(super) fn registry_of(&self, url: &Url, preferred: Registry) -> Option<Registry> {
        Registry::ALL
            .into_iter()
            .filter(|r| url.as_str().starts_with(self.get(*r).as_str()))
            .max_by_key(|r| (self.get(*r).as_str().len(), *r == preferred))
            .or_else(|| url.host_str().and_then(Registry::from_rdap_host))
    }
}

/// The registry's configured (or default) base URL, checked and ending in `/`.
fn checked_base_url(config: &RdapConfig, registry: Registry) -> Result<Url, RdapError> {
    let mut url = match config.base_urls.get(&registry) {
        Some(url) => url.clone(),
        None => Url::parse(registry.default_base_url()).map_err(|e| RdapError::Config {
            reason: format!("{registry} default base URL: {e}"),
        })?,
    };
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(RdapError::Config {
            reason: format!("{registry} base URL is not an http(s) URL: {url}"),
        });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(RdapError::Config {
            reason: format!("{registry} base URL has a query or fragment: {url}"),
        });
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(registry: Registry, base: &str) -> RdapConfig {
        let mut config = RdapConfig::default();
        config.base_urls.insert(registry, Url::parse(base).unwrap());
        config
    }

    #[test]
    fn network_urls_use_the_canonical_address() {
        let urls = BaseUrls::from_config(&RdapConfig::default()).unwrap();
        for (registry, ip, expected) in [
            (
                Registry::Arin,
                "74.125.225.229",
                "https://rdap.arin.net/registry/ip/74.125.225.229",
            ),
            (
                Registry::RipeNcc,
                "2a00:2381:FFFF:0000::0001",
                "https://rdap.db.ripe.net/ip/2a00:2381:ffff::1",
            ),
            (
                Registry::Lacnic,
                "2801:10:c000:0:0:0:0:0",
                "https://rdap.lacnic.net/rdap/ip/2801:10:c000::",
            ),
            (
                Registry::Apnic,
                "::ffff:210.107.73.73",
                "https://rdap.apnic.net/ip/210.107.73.73",
            ),
            (
                Registry::Afrinic,
                "2001:43f8:7b0::",
                "https://rdap.afrinic.net/rdap/ip/2001:43f8:7b0::",
            ),
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(urls.network_url(registry, ip).as_str(), expected);
        }
    }

    #[test]
    fn a_base_without_trailing_slash_gets_one() {
        let config = config_with(Registry::Apnic, "http://127.0.0.1:8080/apnic");
        let urls = BaseUrls::from_config(&config).unwrap();
        assert_eq!(
            urls.get(Registry::Apnic).as_str(),
            "http://127.0.0.1:8080/apnic/"
        );
        assert_eq!(
            urls.network_url(Registry::Apnic, "1.1.1.1".parse().unwrap())
                .as_str(),
            "http://127.0.0.1:8080/apnic/ip/1.1.1.1"
        );
    }

    #[test]
    fn refuses_bases_that_are_not_http() {
        for base in [
            "ftp://example.net/",
            "mailto:rdap@example.net",
            "http://x/?q=1",
        ] {
            let config = config_with(Registry::Arin, base);
            assert!(
                matches!(
                    BaseUrls::from_config(&config),
                    Err(RdapError::Config { .. })
                ),
                "{base}"
            );
        }
    }

    #[test]
    fn registry_of_a_url_by_base_or_public_host() {
        let mut config = RdapConfig::default();
        let fake = Url::parse("http://127.0.0.1:9/").unwrap();
        config.base_urls.insert(Registry::Arin, fake.clone());
        config.base_urls.insert(Registry::Lacnic, fake);
        config.base_urls.insert(
            Registry::Apnic,
            Url::parse("http://127.0.0.1:9/apnic/").unwrap(),
        );
        let urls = BaseUrls::from_config(&config).unwrap();
        let url = |text: &str| Url::parse(text).unwrap();
        assert_eq!(
            urls.registry_of(&url("http://127.0.0.1:9/apnic/ip/1.1.1.1"), Registry::Arin),
            Some(Registry::Apnic)
        );
        assert_eq!(
            urls.registry_of(&url("http://127.0.0.1:9/ip/1.1.1.1"), Registry::Lacnic),
            Some(Registry::Lacnic)
        );
        assert_eq!(
            urls.registry_of(&url("https://rdap.db.ripe.net/ip/1.2.3.4"), Registry::Arin),
            Some(Registry::RipeNcc)
        );
        assert_eq!(
            urls.registry_of(&url("https://rdap.example.net/ip/1.2.3.4"), Registry::Arin),
            None
        );
    }
}
