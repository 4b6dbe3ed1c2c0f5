//! Cloud provider IP ranges: the [`Provider`]s and their official feed URLs, the
//! [`CloudTag`] a prefix carries, one parser per feed format, the [`CloudRanges`] lookup
//! over all feeds, the on-disk [`store::FeedStore`] and the capped [`download`].
//!
//! This module owns the provider list, the tag type and the dispatch from a provider to
//! its parser; each feed format lives in its own file.

mod aws;
mod azure;
mod download;
mod error;
mod gcp;
mod geofeed;
mod m365;
mod oracle;
mod prefix;
mod ranges;
pub mod store;

use ipnet::IpNet;

pub use badclients_policy::facts::{CloudProvider as Provider, CloudTag};
pub use download::download;
pub use error::CloudError;
pub use ranges::CloudRanges;
pub use store::{load_all, FeedStatus, FeedStore, LoadWarning};

/// The format a provider publishes its ranges in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedFormat {
    Json,
    Csv,
}

impl FeedFormat {
    /// The file extension of a stored feed in this format.
    pub fn extension(self) -> &'static str {
        match self {
            FeedFormat::Json => "json",
            FeedFormat::Csv => "csv",
        }
    }
}

/// What this module knows of each provider's feed: its format, its official URL and
/// its parser.
pub trait ProviderFeed {
    /// The format of the provider's feed.
    fn format(self) -> FeedFormat;
    /// The official feed URL.
    fn default_url(self, client_request_id: &str) -> Result<String, CloudError>;
    /// The feed's prefixes and their tags.
    fn parse(self, bytes: &[u8]) -> Result<Vec<(IpNet, CloudTag)>, CloudError>;
}

impl ProviderFeed for Provider {
    /// The format of the provider's feed.
    fn format(self) -> FeedFormat {
        match self {
            Provider::Linode | Provider::DigitalOcean => FeedFormat::Csv,
            _ => FeedFormat::Json,
        }
    }

    /// The official feed URL. Microsoft 365 wants a GUID per calling machine as
    /// `clientrequestid` (see [`client_request_id`]). Azure has no stable URL (the
    /// download link changes every week), so it is [`CloudError::NoDefaultUrl`]: the
    /// caller must give a URL or a file.
    fn default_url(self, client_request_id: &str) -> Result<String, CloudError> {
        let url = match self {
            Provider::Aws => "https://ip-ranges.amazonaws.com/ip-ranges.json".to_owned(),
            Provider::Gcp => "https://www.gstatic.com/ipranges/cloud.json".to_owned(),
            Provider::Azure => return Err(CloudError::NoDefaultUrl { provider: self }),
            Provider::M365 => format!(
                "https://endpoints.office.com/endpoints/worldwide?clientrequestid={client_request_id}"
            ),
            Provider::Linode => "https://geoip.linode.com/".to_owned(),
            Provider::Oracle => {
                "https://docs.oracle.com/en-us/iaas/tools/public_ip_ranges.json".to_owned()
            }
            Provider::DigitalOcean => "https://digitalocean.com/geo/google.csv".to_owned(),
        };
        Ok(url)
    }

    /// Parses this provider's feed into (prefix, tag) pairs. Every prefix must parse (host
    /// bits are masked off); a wrong top-level shape or an empty result is an error.
    fn parse(self, bytes: &[u8]) -> Result<Vec<(IpNet, CloudTag)>, CloudError> {
        let entries = match self {
            Provider::Aws => aws::parse(bytes)?,
            Provider::Gcp => gcp::parse(bytes)?,
            Provider::Azure => azure::parse(bytes)?,
            Provider::M365 => m365::parse(bytes)?,
            Provider::Linode | Provider::DigitalOcean => geofeed::parse(self, bytes)?,
            Provider::Oracle => oracle::parse(bytes)?,
        };
        if entries.is_empty() {
            return Err(CloudError::Empty { provider: self });
        }
        Ok(entries)
    }
}

/// A GUID-shaped `clientrequestid` for the Microsoft 365 endpoints service, derived from
/// `seed` (for example the host name), so one machine keeps sending the same one.
pub fn client_request_id(seed: &[u8]) -> String {
    let a = store::fnv1a64(seed);
    let b = store::fnv1a64(&[seed, b"badclients"].concat());
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}
