//! The cloud fact: which provider range holds an address, as `provider:service[:region]`
//! (`aws:EC2:us-east-1`, `azure:AzureCloud.westeurope`, `m365:Exchange`).

use std::fmt;
use std::str::FromStr;

/// A cloud provider whose published ranges badclients can load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CloudProvider {
    /// Amazon Web Services (`ip-ranges.json`).
    Aws,
    /// Google Cloud (`cloud.json`).
    Gcp,
    /// Microsoft Azure (service tags).
    Azure,
    /// Microsoft 365 (the endpoints service).
    M365,
    /// Linode / Akamai (a geofeed).
    Linode,
    /// Oracle Cloud Infrastructure.
    Oracle,
    /// DigitalOcean (a geofeed).
    DigitalOcean,
}

impl CloudProvider {
    /// Every provider, in the order commands list them.
    pub const ALL: [CloudProvider; 7] = [
        CloudProvider::Aws,
        CloudProvider::Gcp,
        CloudProvider::Azure,
        CloudProvider::M365,
        CloudProvider::Linode,
        CloudProvider::Oracle,
        CloudProvider::DigitalOcean,
    ];

    /// The provider's name in tags, file names and options (`aws`, `digitalocean`, …).
    pub fn name(self) -> &'static str {
        match self {
            CloudProvider::Aws => "aws",
            CloudProvider::Gcp => "gcp",
            CloudProvider::Azure => "azure",
            CloudProvider::M365 => "m365",
            CloudProvider::Linode => "linode",
            CloudProvider::Oracle => "oracle",
            CloudProvider::DigitalOcean => "digitalocean",
        }
    }
}

impl fmt::Display for CloudProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of [`CloudProvider::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown cloud provider {0:?}")]
pub struct UnknownProvider(pub String);

impl FromStr for CloudProvider {
    type Err = UnknownProvider;

    /// A provider by its name, ignoring case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CloudProvider::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

/// What a prefix is in its provider's own naming: `provider:service[:region]`. The text is
/// kept whole, so matching it against `cloud.deny.lst` and writing it into the audit line
/// cost nothing; the parts are slices of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloudTag {
    text: Box<str>,
    provider: CloudProvider,
    /// Where `provider:service` ends in `text`.
    service_end: usize,
}

impl CloudTag {
    /// The tag of `service` (the service, the Azure service tag, the Microsoft 365 service
    /// area or the geofeed's country) in `region` (left out when `None` or empty).
    pub fn new(provider: CloudProvider, service: &str, region: Option<&str>) -> CloudTag {
        let mut text = format!("{provider}:{service}");
        let service_end = text.len();
        if let Some(region) = region.filter(|r| !r.is_empty()) {
            text.push(':');
            text.push_str(region);
        }
        CloudTag {
            text: text.into_boxed_str(),
            provider,
            service_end,
        }
    }

    /// The provider.
    pub fn provider(&self) -> CloudProvider {
        self.provider
    }

    /// The service part.
    pub fn service(&self) -> &str {
        &self.text[self.provider.name().len() + 1..self.service_end]
    }

    /// The region, when the feed has one.
    pub fn region(&self) -> Option<&str> {
        self.text.get(self.service_end + 1..)
    }

    /// The whole tag, `provider:service[:region]`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `provider:service`, what the report ranks by.
    pub fn provider_and_service(&self) -> &str {
        &self.text[..self.service_end]
    }

    /// `provider:service` of a tag kept as text (the history's form): everything before
    /// the second `:`.
    pub fn provider_and_service_of(text: &str) -> &str {
        match text.match_indices(':').nth(1) {
            Some((i, _)) => &text[..i],
            None => text,
        }
    }
}

impl fmt::Display for CloudTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq<str> for CloudTag {
    fn eq(&self, other: &str) -> bool {
        &*self.text == other
    }
}

impl PartialEq<&str> for CloudTag {
    fn eq(&self, other: &&str) -> bool {
        &*self.text == *other
    }
}

/// Text that is not `provider:service[:region]` of a known provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a cloud tag (provider:service[:region]): {0:?}")]
pub struct BadCloudTag(pub String);

impl FromStr for CloudTag {
    type Err = BadCloudTag;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadCloudTag(s.to_owned());
        let (provider, rest) = s.split_once(':').ok_or_else(bad)?;
        let provider: CloudProvider = provider.parse().map_err(|_| bad())?;
        let (service, region) = match rest.split_once(':') {
            Some((service, region)) => (service, Some(region)),
            None => (rest, None),
        };
        let tag = CloudTag::new(provider, service, region);
        if tag.as_str() == s {
            Ok(tag)
        } else {
            Err(bad())
        }
    }
}

serde_as_text!(CloudTag);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_its_text_and_its_parts() {
        let t = CloudTag::new(CloudProvider::Aws, "EC2", Some("us-east-1"));
        assert_eq!(t.as_str(), "aws:EC2:us-east-1");
        assert_eq!(t.service(), "EC2");
        assert_eq!(t.region(), Some("us-east-1"));
        assert_eq!(t.provider_and_service(), "aws:EC2");
        let bare = CloudTag::new(CloudProvider::M365, "Exchange", Some(""));
        assert_eq!(bare.to_string(), "m365:Exchange");
        assert_eq!(bare.region(), None);
        assert_eq!("aws:EC2:us-east-1".parse::<CloudTag>().unwrap(), t);
        assert!("nimbus:EC2".parse::<CloudTag>().is_err());
        assert_eq!(
            CloudTag::provider_and_service_of("gcp:Google:europe-west1"),
            "gcp:Google"
        );
        assert_eq!(CloudTag::provider_and_service_of("odd"), "odd");
    }

    #[test]
    fn serialises_as_the_string() {
        let t = CloudTag::new(CloudProvider::Azure, "AzureCloud.westeurope", None);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"azure:AzureCloud.westeurope\"");
        assert_eq!(serde_json::from_str::<CloudTag>(&json).unwrap(), t);
    }
}
