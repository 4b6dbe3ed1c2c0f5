//! The composition root: turns a [`Config`] (plain data) into the working parts — the
//! [`Policy`], the [`Lookup`](crate::lookup::Lookup) (`lookup.rs`), the decision history's
//! writer, where the views read the history ([`HistorySource`], `history_source.rs`) and the
//! cloud feeds (`feeds.rs`). The daemon and every command build them here,
//! so a setting means the same everywhere.

mod feeds;
mod history_source;
mod lookup;

use std::path::Path;
use std::time::Duration;

use crate::config::{Config, ConfigError, LoadedConfig};
use crate::decision::Policy;
use crate::history::store::HistoryError;
use crate::history::writer::{HistoryWriter, WriterSettings};
use crate::lists::{parse_net, unmatchable, CidrList, Entry, ListSet, LoadReport, Sources};

pub use feeds::{cloud_ranges, feed_store, stored_cloud_feeds};
pub use history_source::{HistorySource, NodeNotHere};
pub use lookup::{lookup, SetupError};

/// Builds the policy: loads the lists (from `lists_override` when given) and the settings.
/// List problems are in the report; settings problems are errors.
pub fn policy(
    loaded: &LoadedConfig,
    lists_override: Option<&Path>,
) -> Result<(Policy, LoadReport), ConfigError> {
    let config = &loaded.config;
    let mut ignore_networks = CidrList::default();
    for (i, text) in config.ignore_networks.iter().enumerate() {
        let net = parse_net(text.trim()).map_err(|message| ConfigError::IgnoreNetworks {
            path: loaded.name(),
            message,
        })?;
        let entry = Entry {
            line: i + 1,
            text: text.clone(),
        };
        ignore_networks.add(net, entry, |_| {});
    }
    let dir = lists_override.unwrap_or(&config.list_path);
    let (lists, mut report) = ListSet::load(dir);
    let sources = Sources {
        geoip_city: config.geoip.city.is_some(),
        geoip_asn: config.geoip.asn.is_some(),
        cloud_feeds: stored_cloud_feeds(config),
    };
    report.diagnostics.extend(unmatchable(&lists, &sources));
    let policy = Policy {
        lists,
        disabled_services: config.disabled_services.clone(),
        ignore_networks,
        log_local: config.log_local,
        on_error: config.lookup.on_error,
        dnsbl: config.dnsbl.clone(),
        dnsbl_threshold: config.dnsbl_threshold,
        match_budget: config.match_budget,
    };
    Ok((policy, report))
}

/// The history writer's settings from `[history]`.
pub fn history_settings(config: &Config) -> WriterSettings {
    let h = &config.history;
    WriterSettings {
        path: config.history_path(),
        retention: Duration::from_secs(h.retention_days.saturating_mul(86_400)),
        max_records: h.max_records,
        flush_interval: Duration::from_millis(h.flush_ms.max(1)),
        batch_max: h.batch_max.max(1),
        segment_bytes: crate::history::journal::SEGMENT_BYTES,
        journal_max_bytes: h.journal_cap(),
    }
}

/// The decision history's writer, with the warnings met while opening it; `None` when
/// `[history] enabled = false`. With `backend = "postgres"` it ships to the shared history
/// (and keeps no redb file).
pub fn history_writer(
    config: &Config,
) -> Result<Option<(HistoryWriter, Vec<String>)>, HistoryError> {
    if !config.history.enabled {
        return Ok(None);
    }
    let h = &config.history;
    match (h.backend, &h.postgres_url) {
        (crate::config::HistoryBackend::Postgres, Some(url)) => {
            let shipper = crate::pghistory::PgShipper::new(
                url,
                &h.node_name(),
                Duration::from_millis(h.postgres_timeout_ms.max(1)),
            );
            HistoryWriter::open_shipping(history_settings(config), std::sync::Arc::new(shipper))
                .map(Some)
        }
        _ => HistoryWriter::open(history_settings(config)).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_ignore_network_is_an_error() {
        let loaded = LoadedConfig {
            config: Config {
                ignore_networks: vec!["10.0.0.0/33".into()],
                ..Config::default()
            },
            path: Some("c.toml".into()),
        };
        let err = policy(&loaded, None).unwrap_err().to_string();
        assert!(err.contains("10.0.0.0/33"), "{err}");
    }
}
