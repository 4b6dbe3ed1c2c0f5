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

use std::fmt;
use std::str::FromStr;

use ipnet::IpNet;

pub use download::download;
pub use error::CloudError;
pub use ranges::CloudRanges;
pub use store::{load_all, FeedStatus, FeedStore, LoadWarning};

/// A cloud whose published IP ranges badclients can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    Aws,
    Gcp,
    Azure,
    M365,
    Linode,
    Oracle,
    DigitalOcean,
}

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

impl Provider {
    /// Every provider, in a fixed order.
    pub const ALL: [Provider; 7] = [
        Provider::Aws,
        Provider::Gcp,
        Provider::Azure,
        Provider::M365,
        Provider::Linode,
        Provider::Oracle,
        Provider::DigitalOcean,
    ];

    /// The provider's short name, as used in tags, file names and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Gcp => "gcp",
            Provider::Azure => "azure",
            Provider::M365 => "m365",
            Provider::Linode => "linode",
            Provider::Oracle => "oracle",
            Provider::DigitalOcean => "digitalocean",
        }
    }

    /// The format of the provider's feed.
    pub fn format(self) -> FeedFormat {
        match self {
            Provider::Linode | Provider::DigitalOcean => FeedFormat::Csv,
            _ => FeedFormat::Json,
        }
    }

    /// The official feed URL. Microsoft 365 wants a GUID per calling machine as
    /// `clientrequestid` (see [`client_request_id`]). Azure has no stable URL (the
    /// download link changes every week), so it is [`CloudError::NoDefaultUrl`]: the
    /// caller must give a URL or a file.
    pub fn default_url(self, client_request_id: &str) -> Result<String, CloudError> {
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
    pub fn parse(self, bytes: &[u8]) -> Result<Vec<(IpNet, CloudTag)>, CloudError> {
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

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Provider {
    type Err = CloudError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| CloudError::UnknownProvider { name: s.to_owned() })
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

/// What a prefix is in a provider's own naming: `provider:service[:region]`, for example
/// `aws:EC2:us-east-1`, `azure:AzureCloud.westeurope` or `m365:Exchange`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloudTag {
    pub provider: Provider,
    /// The service (AWS/GCP/Oracle), the service tag name (Azure), the service area
    /// (Microsoft 365) or the country (geofeeds).
    pub service: String,
    /// The region or scope, when the feed has one.
    pub region: Option<String>,
}

impl CloudTag {
    /// A tag with a region.
    pub fn new(provider: Provider, service: &str, region: Option<&str>) -> CloudTag {
        CloudTag {
            provider,
            service: service.to_owned(),
            region: region.filter(|r| !r.is_empty()).map(str::to_owned),
        }
    }
}

impl fmt::Display for CloudTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.provider, self.service)?;
        if let Some(region) = &self.region {
            write!(f, ":{region}")?;
        }
        Ok(())
    }
}
