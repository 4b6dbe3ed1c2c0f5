//! The Google Cloud `cloud.json` feed: `prefixes[]` with `ipv4Prefix` or `ipv6Prefix`,
//! `service` and `scope` (the region). Google's `goog.json` (all Google addresses) has the
//! same shape without `service` and `scope`; its tags are `gcp:Google`.

use ipnet::IpNet;
use serde::Deserialize;

use super::error::CloudError;
use super::prefix::parse_prefix;
use crate::facts::{CloudProvider as Provider, CloudTag};

#[derive(Deserialize)]
struct Feed {
    prefixes: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    ipv4_prefix: Option<String>,
    ipv6_prefix: Option<String>,
    service: Option<String>,
    scope: Option<String>,
}

/// Parses a Google Cloud (or goog.json) feed.
pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<(IpNet, CloudTag)>, CloudError> {
    let p = Provider::Gcp;
    let feed: Feed = serde_json::from_slice(bytes).map_err(|e| CloudError::json(p, &e))?;
    feed.prefixes
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let what = || format!("entry {i}");
            let text = match (&e.ipv4_prefix, &e.ipv6_prefix) {
                (Some(t), None) | (None, Some(t)) => t,
                _ => {
                    return Err(CloudError::BadPrefix {
                        provider: p,
                        what: what(),
                        text: "(needs exactly one of ipv4Prefix, ipv6Prefix)".to_owned(),
                    })
                }
            };
            let net = parse_prefix(p, text, what)?;
            let service = e.service.as_deref().unwrap_or("Google");
            Ok((net, CloudTag::new(p, service, e.scope.as_deref())))
        })
        .collect()
}
