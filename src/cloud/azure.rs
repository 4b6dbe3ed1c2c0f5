//! The Azure "Service Tags – Public" feed: `values[]`, each a service tag with `name`
//! (for example `AzureCloud.westeurope`, the region inside the name) and
//! `properties.addressPrefixes[]`. Tags render as `azure:<name>`.

use ipnet::IpNet;
use serde::Deserialize;

use super::error::CloudError;
use super::prefix::parse_prefix;
use crate::facts::{CloudProvider as Provider, CloudTag};

#[derive(Deserialize)]
struct Feed {
    values: Vec<ServiceTag>,
}

#[derive(Deserialize)]
struct ServiceTag {
    name: String,
    properties: Properties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Properties {
    address_prefixes: Vec<String>,
}

/// Parses an Azure service tags feed.
pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<(IpNet, CloudTag)>, CloudError> {
    let p = Provider::Azure;
    let feed: Feed = serde_json::from_slice(bytes).map_err(|e| CloudError::json(p, &e))?;
    let mut out = Vec::new();
    for tag in &feed.values {
        let cloud_tag = CloudTag::new(p, &tag.name, None);
        for (i, text) in tag.properties.address_prefixes.iter().enumerate() {
            let net = parse_prefix(p, text, || format!("{} prefix {i}", tag.name))?;
            out.push((net, cloud_tag.clone()));
        }
    }
    Ok(out)
}
