//! [`CloudRanges`]: the prefixes of all loaded feeds in one IPv4 and one IPv6 prefix trie,
//! each prefix holding the (deduplicated, interned) tags of every feed entry that lists it.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;

use crate::facts::{CloudProvider as Provider, CloudTag};

/// All cloud prefixes, looked up by address.
#[derive(Debug, Default)]
pub struct CloudRanges {
    tags: Vec<CloudTag>,
    tag_ids: HashMap<CloudTag, u32>,
    v4: PrefixMap<Ipv4Net, Vec<u32>>,
    v6: PrefixMap<Ipv6Net, Vec<u32>>,
}

impl CloudRanges {
    /// No ranges.
    pub fn new() -> CloudRanges {
        CloudRanges::default()
    }

    /// Adds parsed feed entries. A (prefix, tag) pair already present is not added twice.
    pub fn extend(&mut self, entries: impl IntoIterator<Item = (IpNet, CloudTag)>) {
        for (net, tag) in entries {
            let id = self.intern(tag);
            let ids = match net {
                IpNet::V4(n) => self.v4.entry(n).or_default(),
                IpNet::V6(n) => self.v6.entry(n).or_default(),
            };
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }

    fn intern(&mut self, tag: CloudTag) -> u32 {
        if let Some(&id) = self.tag_ids.get(&tag) {
            return id;
        }
        // More than u32::MAX distinct tags cannot come from real feeds; saturate anyway.
        let id = u32::try_from(self.tags.len()).unwrap_or(u32::MAX);
        self.tags.push(tag.clone());
        self.tag_ids.insert(tag, id);
        id
    }

    /// The tags of every prefix covering `ip`, most specific prefix first (tags of one
    /// prefix in feed order). An IPv4-mapped IPv6 address is looked up as IPv4.
    pub fn lookup(&self, ip: IpAddr) -> Vec<&CloudTag> {
        let ids: Vec<u32> = match ip.to_canonical() {
            IpAddr::V4(a) => {
                let covers: Vec<_> = self.v4.cover(&Ipv4Net::from(a)).collect();
                covers
                    .into_iter()
                    .rev()
                    .flat_map(|(_, v)| v)
                    .copied()
                    .collect()
            }
            IpAddr::V6(a) => {
                let covers: Vec<_> = self.v6.cover(&Ipv6Net::from(a)).collect();
                covers
                    .into_iter()
                    .rev()
                    .flat_map(|(_, v)| v)
                    .copied()
                    .collect()
            }
        };
        ids.into_iter()
            .filter_map(|id| usize::try_from(id).ok().and_then(|i| self.tags.get(i)))
            .collect()
    }

    /// Whether any prefix covers `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(a) => self.v4.get_lpm(&Ipv4Net::from(a)).is_some(),
            IpAddr::V6(a) => self.v6.get_lpm(&Ipv6Net::from(a)).is_some(),
        }
    }

    /// The number of distinct prefixes.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether there are no prefixes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The providers that have at least one tag here.
    pub fn providers(&self) -> Vec<Provider> {
        let mut out: Vec<Provider> = self.tags.iter().map(|t| t.provider()).collect();
        out.sort();
        out.dedup();
        out
    }
}
