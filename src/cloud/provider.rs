//! What badclients knows of each provider's feed: [`FeedFormat`], the official URL and the
//! dispatch to the parser of its format ([`ProviderFeed`]).

use ipnet::IpNet;

use super::error::CloudError;
use super::{aws, azure, gcp, geofeed, m365, oracle};
use crate::facts::{CloudProvider as Provider, CloudTag};

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
    /// `clientrequestid` (see [`super::client_request_id`]). Azure has no stable URL (the
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
