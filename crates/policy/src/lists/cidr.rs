//! CIDR lists (`ip_net.deny.lst`, `ip_net.allow.lst`): IPv4 and IPv6 prefix tries.
//!
//! An entry is a CIDR (`176.112.168.0/21`, `2a00:1450::/32`) or a single address; text
//! after it is a comment. Host bits are masked off with a warning, as the older tool did.
//! An IPv4-mapped IPv6 client address is looked up as its IPv4 address.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;

use super::diag::FileReport;
use super::line::Line;
use super::Entry;
use crate::reserved::canonical;

/// A set of networks with the list entry each came from.
#[derive(Debug, Clone, Default)]
pub struct CidrList {
    v4: PrefixMap<Ipv4Net, Entry>,
    v6: PrefixMap<Ipv6Net, Entry>,
    len: usize,
}

/// Parses `text` as a CIDR or a bare address. Returns the network as written.
pub fn parse_net(text: &str) -> Result<IpNet, String> {
    if text.contains('/') {
        text.parse::<IpNet>()
            .map_err(|_| format!("not a CIDR network: {}", Line::shown(text.as_bytes())))
    } else {
        text.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
            format!(
                "not a CIDR network or IP address: {}",
                Line::shown(text.as_bytes())
            )
        })
    }
}

impl CidrList {
    pub(crate) fn add_line(&mut self, line: Line<'_>, report: &mut FileReport<'_>) {
        let (word, _comment) = line.first_word();
        let Ok(text) = std::str::from_utf8(word) else {
            report.error(
                line.number,
                format!("not a CIDR network: {}", Line::shown(word)),
            );
            return;
        };
        let net = match parse_net(text) {
            Ok(n) => n,
            Err(e) => return report.error(line.number, e),
        };
        self.add(net, Entry::of(line.number, word), |message| {
            report.warning(line.number, message)
        });
    }

    /// Adds a network (host bits are masked off), warning through `warn`.
    pub fn add(&mut self, net: IpNet, entry: Entry, mut warn: impl FnMut(String)) {
        let trunc = net.trunc();
        if trunc != net {
            warn(format!("{net} has host bits set; using {trunc}"));
        }
        let previous = match trunc {
            IpNet::V4(n) => self.v4.get(&n).map(|e| e.line),
            IpNet::V6(n) => self.v6.get(&n).map(|e| e.line),
        };
        if let Some(first) = previous {
            warn(format!("duplicate network {trunc} (first at line {first})"));
            return;
        }
        match trunc {
            IpNet::V4(n) => self.v4.insert(n, entry),
            IpNet::V6(n) => self.v6.insert(n, entry),
        };
        self.len += 1;
    }

    /// The most specific entry containing `ip`.
    pub fn find(&self, ip: IpAddr) -> Option<&Entry> {
        match canonical(ip) {
            IpAddr::V4(a) => self.v4.get_lpm(&Ipv4Net::from(a)).map(|(_, e)| e),
            IpAddr::V6(a) => self.v6.get_lpm(&Ipv6Net::from(a)).map(|(_, e)| e),
        }
    }

    /// The number of networks.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list has no networks.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
