//! The lookup service built from the configuration: the DNS and RDAP clients, the cache
//! tiers and the local sources (GeoIP, cloud ranges, the offline ASN table).

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::asn_table::AsnTable;
use crate::cache::redis::RedisTier;
use crate::cache::store::{CacheStore, StoreError};
use crate::config::{AsnTableUse, Config};
use crate::geoip::GeoIp;
use crate::lookup::dns::{DnsClient, DnsError};
use crate::lookup::tiers::{Tiers, Ttls};
use crate::lookup::{LocalSources, Lookup, LookupSettings};
use crate::rdap::{Bootstrap, BootstrapError, RdapClient, RdapConfig, RdapError, Registry};

/// Why the lookup service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("[rdap.base_urls]: {key:?} is not a registry (arin, ripencc, apnic, lacnic, afrinic)")]
    UnknownRegistry { key: String },
    #[error("[rdap.base_urls] {key}: not a URL: {value:?}")]
    BadUrl { key: String, value: String },
    #[error("{0}")]
    Redis(String),
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    #[error(transparent)]
    Rdap(#[from] RdapError),
    #[error(transparent)]
    Dns(#[from] DnsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    GeoIp(#[from] crate::geoip::GeoIpError),
    #[error(transparent)]
    AsnTable(#[from] crate::asn_table::AsnTableError),
}

/// The RDAP client settings of a configuration.
fn rdap_config(config: &Config) -> Result<RdapConfig, SetupError> {
    let mut rdap = RdapConfig {
        timeout: Duration::from_millis(config.lookup.deadline_ms),
        max_body_bytes: config.rdap.max_body_bytes,
        max_redirects: config.rdap.max_redirects,
        ..RdapConfig::default()
    };
    for (key, value) in &config.rdap.base_urls {
        let registry: Registry = key
            .parse()
            .map_err(|_| SetupError::UnknownRegistry { key: key.clone() })?;
        let url = Url::parse(value).map_err(|_| SetupError::BadUrl {
            key: key.clone(),
            value: value.clone(),
        })?;
        rdap.base_urls.insert(registry, url);
    }
    Ok(rdap)
}

/// How often a Redis that was unreachable at start is tried again.
const REDIS_RETRY: Duration = Duration::from_secs(5);

/// Builds the lookup service: DNS client, RDAP client, cache tiers. Returns warnings to
/// log (a corrupt cache file moved aside, Redis unreachable). Needs a Tokio runtime.
pub async fn lookup(config: &Config) -> Result<(Lookup, Vec<String>), SetupError> {
    let mut warnings = Vec::new();
    let deadline = Duration::from_millis(config.lookup.deadline_ms);
    let dns = DnsClient::new(&config.lookup.dns_servers, deadline)?;
    let bootstrap = match &config.rdap.bootstrap_dir {
        Some(dir) => Bootstrap::from_dir(dir)?,
        None => Bootstrap::bundled()?,
    };
    let rdap = RdapClient::with_bootstrap(rdap_config(config)?, bootstrap)?;
    let ttls = Ttls {
        positive: Duration::from_secs(config.cache.ttl_secs),
        negative: Duration::from_secs(config.cache.negative_ttl_secs),
        stale: Duration::from_secs(config.cache.stale_secs),
    };
    let mut tiers = Tiers::memory_capped(ttls, config.cache.max_entries);
    if !config.cache.memory_only {
        let path = config.cache.resolved_path();
        let (store, warning) = CacheStore::open(&path)?;
        warnings.extend(warning);
        tiers = tiers.with_store(store);
    }
    if let Some(target) = config.cache.redis_target().map_err(SetupError::Redis)? {
        let timeout = Duration::from_millis(config.cache.redis_timeout_ms);
        match RedisTier::open(&target, timeout).await {
            Ok(redis) => tiers = tiers.with_redis(redis),
            Err(e) => {
                warnings.push(format!(
                    "{target} is unreachable ({e}); using the local cache only until it answers"
                ));
                tiers = tiers.with_redis_unreachable(REDIS_RETRY, move || {
                    let target = target.clone();
                    async move { RedisTier::open(&target, timeout).await }
                });
            }
        }
    }
    let (local, local_warnings) = local_sources(config)?;
    warnings.extend(local_warnings);
    let settings = LookupSettings {
        deadline,
        ttls,
        dnsbl: config.dnsbl.clone(),
        asn_table_names_only: config.lookup.asn_table_use == AsnTableUse::AsNames,
    };
    let lookup = Lookup::new(dns, rdap, tiers, settings);
    lookup.set_local(local);
    Ok((lookup, warnings))
}

/// Opens the GeoIP databases (an error when a configured one is missing or broken) and
/// loads the stored cloud range feeds (a feed that does not load is a warning).
fn local_sources(config: &Config) -> Result<(LocalSources, Vec<String>), SetupError> {
    let geoip = match (&config.geoip.city, &config.geoip.asn) {
        (None, None) => None,
        (city, asn) => Some(Arc::new(GeoIp::open(city.as_deref(), asn.as_deref())?)),
    };
    let (cloud, warnings) = super::feeds::cloud_ranges(config);
    let warnings = warnings.into_iter().map(|w| w.to_string()).collect();
    let cloud = Arc::new(cloud);
    let asn_table = if config.lookup.asn_table.is_empty() {
        None
    } else {
        Some(Arc::new(AsnTable::load_all(&config.lookup.asn_table)?))
    };
    Ok((
        LocalSources {
            geoip,
            cloud,
            asn_table,
        },
        warnings,
    ))
}
