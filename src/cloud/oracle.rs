//! The Oracle Cloud `public_ip_ranges.json` feed: `regions[]`, each with `region` and
//! `cidrs[]` of `{cidr, tags[]}` (tags such as `OCI`, `OSN`, `OBJECT_STORAGE`). One tag
//! per listed tag: `oracle:OCI:us-ashburn-1`; a CIDR without tags counts as `OCI`.

use ipnet::IpNet;
use serde::Deserialize;

use super::error::CloudError;
use super::prefix::parse_prefix;
use crate::facts::{CloudProvider as Provider, CloudTag};

#[derive(Deserialize)]
struct Feed {
    regions: Vec<Region>,
}

#[derive(Deserialize)]
struct Region {
    region: String,
    cidrs: Vec<Cidr>,
}

#[derive(Deserialize)]
struct Cidr {
    cidr: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// Parses an Oracle Cloud feed.
pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<(IpNet, CloudTag)>, CloudError> {
    let p = Provider::Oracle;
    let feed: Feed = serde_json::from_slice(bytes).map_err(|e| CloudError::json(p, &e))?;
    let mut out = Vec::new();
    for region in &feed.regions {
        for (i, cidr) in region.cidrs.iter().enumerate() {
            let net = parse_prefix(p, &cidr.cidr, || format!("{} cidr {i}", region.region))?;
            if cidr.tags.is_empty() {
                out.push((net, CloudTag::new(p, "OCI", Some(&region.region))));
            }
            for service in &cidr.tags {
                out.push((net, CloudTag::new(p, service, Some(&region.region))));
            }
        }
    }
    Ok(out)
}
