//! The cloud providers' range feeds as the configuration places them.

use crate::cloud::store::{FeedStore, LoadWarning};
use crate::cloud::{CloudRanges, Provider};
use crate::config::Config;

/// The store of the providers' range feeds under [`Config::cloud_dir`].
pub fn feed_store(config: &Config) -> FeedStore {
    FeedStore::new(&config.cloud_dir())
}

/// The stored range feeds as prefix tries, with a warning for each feed that failed to load.
pub fn cloud_ranges(config: &Config) -> (CloudRanges, Vec<LoadWarning>) {
    feed_store(config).load_all()
}

/// The cloud providers whose range feed is stored.
pub fn stored_cloud_feeds(config: &Config) -> Vec<&'static str> {
    let store = feed_store(config);
    Provider::ALL
        .into_iter()
        .filter(|p| store.feed_path(*p).is_file())
        .map(Provider::name)
        .collect()
}
