//! Parsing one prefix of a feed: CIDR text (or a bare address, as a host prefix), with
//! host bits masked off.

use std::net::IpAddr;

use ipnet::IpNet;

use super::error::CloudError;
use crate::facts::CloudProvider as Provider;

/// `text` as a prefix with its host bits cleared; `what` says where it was for the error.
pub(crate) fn parse_prefix(
    provider: Provider,
    text: &str,
    what: impl FnOnce() -> String,
) -> Result<IpNet, CloudError> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(addr));
    }
    Err(CloudError::BadPrefix {
        provider,
        what: what(),
        text: text.to_owned(),
    })
}
