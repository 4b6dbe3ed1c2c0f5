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
mod provider;
mod ranges;
pub mod store;

pub use badclients_policy::facts::{CloudProvider as Provider, CloudTag};
pub use download::download;
pub use error::CloudError;
pub use provider::{FeedFormat, ProviderFeed};
pub use ranges::CloudRanges;
pub use store::{FeedStatus, FeedStore, LoadWarning};

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
