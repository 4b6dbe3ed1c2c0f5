//! The AWS `ip-ranges.json` feed: `prefixes[]` (`ip_prefix`) and `ipv6_prefixes[]`
//! (`ipv6_prefix`), each with `service` and `region`. AWS lists a prefix once per service
//! (including the catch-all `AMAZON`); every listing becomes its own tag.

use ipnet::IpNet;
use serde::Deserialize;

use super::error::CloudError;
use super::prefix::parse_prefix;
use crate::facts::{CloudProvider as Provider, CloudTag};

#[derive(Deserialize)]
struct Feed {
    prefixes: Vec<V4>,
    #[serde(default)]
    ipv6_prefixes: Vec<V6>,
}

#[derive(Deserialize)]
struct V4 {
    ip_prefix: String,
    service: String,
    region: String,
}

#[derive(Deserialize)]
struct V6 {
    ipv6_prefix: String,
    service: String,
    region: String,
}

/// Parses an AWS feed.
pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<(IpNet, CloudTag)>, CloudError> {
    let p = Provider::Aws;
    let feed: Feed = serde_json::from_slice(bytes).map_err(|e| CloudError::json(p, &e))?;
    let v4 = feed
        .prefixes
        .iter()
        .map(|e| (&e.ip_prefix, &e.service, &e.region));
    let v6 = feed
        .ipv6_prefixes
        .iter()
        .map(|e| (&e.ipv6_prefix, &e.service, &e.region));
    v4.chain(v6)
        .enumerate()
        .map(|(i, (prefix, service, region))| {
            let net = parse_prefix(p, prefix, || format!("entry {i}"))?;
            Ok((net, CloudTag::new(p, service, Some(region))))
        })
        .collect()
}
