//! The Microsoft 365 endpoints feed (`endpoints.office.com/endpoints/worldwide`): a JSON
//! array of endpoint sets with `id`, `serviceArea` and, for some, `ips[]`. Sets without
//! `ips` (URL-only) contribute nothing. Tags render as `m365:<serviceArea>`.

use ipnet::IpNet;
use serde::Deserialize;

use super::error::CloudError;
use super::prefix::parse_prefix;
use crate::facts::{CloudProvider as Provider, CloudTag};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EndpointSet {
    id: u64,
    service_area: String,
    #[serde(default)]
    ips: Vec<String>,
}

/// Parses a Microsoft 365 endpoints feed.
pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<(IpNet, CloudTag)>, CloudError> {
    let p = Provider::M365;
    let sets: Vec<EndpointSet> =
        serde_json::from_slice(bytes).map_err(|e| CloudError::json(p, &e))?;
    let mut out = Vec::new();
    for set in &sets {
        let tag = CloudTag::new(p, &set.service_area, None);
        for (i, text) in set.ips.iter().enumerate() {
            let net = parse_prefix(p, text, || format!("endpoint set {} ip {i}", set.id))?;
            out.push((net, tag.clone()));
        }
    }
    Ok(out)
}
