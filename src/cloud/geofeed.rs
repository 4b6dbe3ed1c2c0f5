//! RFC 8805 geofeeds (Linode, DigitalOcean): CSV lines `prefix,country,region,city,postal`,
//! `#` comments and blank lines skipped. Tags render as `<provider>:<country>:<place>`,
//! the place being the city when given, else the region code (`linode:US:Richardson`,
//! `digitalocean:NL:Amsterdam`).

use ipnet::IpNet;

use super::error::CloudError;
use super::prefix::parse_prefix;
use crate::facts::{CloudProvider as Provider, CloudTag};

/// Parses a geofeed published by `provider`.
pub(crate) fn parse(
    provider: Provider,
    bytes: &[u8],
) -> Result<Vec<(IpNet, CloudTag)>, CloudError> {
    let text = std::str::from_utf8(bytes).map_err(|e| CloudError::BadPrefix {
        provider,
        what: "the feed".to_owned(),
        text: format!("not UTF-8: {e}"),
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split(',').map(str::trim);
        let prefix = fields.next().unwrap_or_default();
        let net = parse_prefix(provider, prefix, || format!("line {}", n + 1))?;
        let country = fields.next().unwrap_or_default();
        let region = fields.next().unwrap_or_default();
        let city = fields.next().unwrap_or_default();
        let place = if city.is_empty() { region } else { city };
        let country = if country.is_empty() { "ZZ" } else { country };
        out.push((net, CloudTag::new(provider, country, Some(place))));
    }
    Ok(out)
}
