//! Address ranges as RDAP servers write them: lenient address text (`074.125.000.000`,
//! `62.239.237.0/32`, `2001:4860:0000:…:FFFF`, `2a00:2381:ffff::/128`) and the range as
//! CIDRs (from the server's `cidr0_cidrs` when they describe exactly the range, else
//! computed).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv4Subnets, Ipv6Net, Ipv6Subnets};
use serde_json::Value;

/// Parses a `startAddress`/`endAddress` value.
///
/// IPv4: octets may carry leading zeros and the text may end in `/32`. IPv6: any case,
/// zero-padded groups and a `/128` suffix. Surrounding white space is ignored. Any other
/// prefix length is refused: it would not say which single address is meant.
pub(super) fn parse_range_address(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if text.contains(':') {
        let bare = text.strip_suffix("/128").unwrap_or(text);
        bare.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        let bare = text.strip_suffix("/32").unwrap_or(text);
        parse_ipv4_with_leading_zeros(bare).map(IpAddr::V4)
    }
}

/// Dotted quad whose octets may have leading zeros (`074.125.000.000`). Read as decimal,
/// as ipwhois does, never as octal.
fn parse_ipv4_with_leading_zeros(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = part.trim_start_matches('0');
        *octet = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
    }
    match parts.next() {
        Some(_) => None,
        None => Some(Ipv4Addr::from(octets)),
    }
}

/// The smallest list of CIDRs covering exactly `start..=end` (same family, `start <= end`),
/// in address order.
pub(super) fn summarize(start: IpAddr, end: IpAddr) -> Vec<IpNet> {
    match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => Ipv4Subnets::new(s, e, 0).map(IpNet::V4).collect(),
        (IpAddr::V6(s), IpAddr::V6(e)) => Ipv6Subnets::new(s, e, 0).map(IpNet::V6).collect(),
        _ => Vec::new(),
    }
}

/// The IPv4-mapped block `::ffff:0:0/96`: its addresses are IPv4 clients, judged as IPv4
/// everywhere, so no IPv6 network's range may claim them.
const MAPPED_FIRST: u128 = 0xffff_0000_0000;
const MAPPED_LAST: u128 = 0xffff_ffff_ffff;

/// Whether `ip` is an IPv4-mapped IPv6 address.
pub(super) fn is_ipv4_mapped(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(a) if (MAPPED_FIRST..=MAPPED_LAST).contains(&u128::from(a)))
}

/// Whether the IPv6 range `start..=end` passes over the IPv4-mapped block.
pub(super) fn spans_ipv4_mapped(start: IpAddr, end: IpAddr) -> bool {
    match (start, end) {
        (IpAddr::V6(s), IpAddr::V6(e)) => {
            u128::from(s) < MAPPED_FIRST && MAPPED_LAST < u128::from(e)
        }
        _ => false,
    }
}

/// [`summarize`] without the IPv4-mapped block: the CIDRs below it, then those above it.
/// A range that does not pass over the block is summarised whole.
pub(super) fn summarize_without_ipv4_mapped(start: IpAddr, end: IpAddr) -> Vec<IpNet> {
    if !spans_ipv4_mapped(start, end) {
        return summarize(start, end);
    }
    let below = IpAddr::V6(Ipv6Addr::from(MAPPED_FIRST - 1));
    let above = IpAddr::V6(Ipv6Addr::from(MAPPED_LAST + 1));
    let mut nets = summarize(start, below);
    nets.extend(summarize(above, end));
    nets
}

/// The `cidr0_cidrs` member (RDAP extension `cidr0`) when every entry is a valid prefix of
/// the range's family without host bits, and together, in address order, they cover
/// exactly `start..=end` with no gap and no overlap. `None` when absent or inconsistent.
pub(super) fn cidr0_cidrs(json: &Value, start: IpAddr, end: IpAddr) -> Option<Vec<IpNet>> {
    let entries = json.get("cidr0_cidrs")?.as_array()?;
    let mut nets = entries
        .iter()
        .map(|entry| cidr0_entry(entry, start.is_ipv4()))
        .collect::<Option<Vec<IpNet>>>()?;
    nets.sort();
    covers_exactly(&nets, start, end).then_some(nets)
}

/// One `{"v4prefix"|"v6prefix": …, "length": …}` entry.
fn cidr0_entry(entry: &Value, v4: bool) -> Option<IpNet> {
    let length = u8::try_from(entry.get("length")?.as_u64()?).ok()?;
    let net = if v4 {
        let prefix = entry.get("v4prefix")?.as_str()?.trim();
        IpNet::V4(Ipv4Net::new(prefix.parse().ok()?, length).ok()?)
    } else {
        let prefix = entry.get("v6prefix")?.as_str()?.trim();
        IpNet::V6(Ipv6Net::new(prefix.parse().ok()?, length).ok()?)
    };
    (net.trunc() == net).then_some(net)
}

/// Whether sorted `nets` tile `start..=end` exactly.
fn covers_exactly(nets: &[IpNet], start: IpAddr, end: IpAddr) -> bool {
    let (Some(first), Some(last)) = (nets.first(), nets.last()) else {
        return false;
    };
    if first.network() != start || last.broadcast() != end {
        return false;
    }
    nets.windows(2)
        .all(|pair| next_address(pair[0].broadcast()) == Some(pair[1].network()))
}

fn next_address(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(a) => u32::from(a).checked_add(1).map(|n| IpAddr::V4(n.into())),
        IpAddr::V6(a) => u128::from(a).checked_add(1).map(|n| IpAddr::V6(n.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(texts: &[&str]) -> Vec<IpNet> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn ipv4_tolerates_leading_zeros_and_a_slash_32() {
        for (text, expected) in [
            ("074.125.000.000", "74.125.0.0"),
            ("074.125.255.255", "74.125.255.255"),
            ("62.239.237.0/32", "62.239.237.0"),
            (" 62.239.237.255/32 ", "62.239.237.255"),
            ("0001.002.003.0004", "1.2.3.4"),
            ("010.0.0.8", "10.0.0.8"),
        ] {
            assert_eq!(parse_range_address(text), Some(ip(expected)), "{text}");
        }
    }

    #[test]
    fn ipv6_tolerates_case_padding_and_a_slash_128() {
        for (text, expected) in [
            ("2001:4860:0000:0000:0000:0000:0000:0000", "2001:4860::"),
            (
                "2001:4860:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF",
                "2001:4860:ffff:ffff:ffff:ffff:ffff:ffff",
            ),
            ("2a00:2381:ffff::/128", "2a00:2381:ffff::"),
            ("2801:10:c000:0:0:0:0:0", "2801:10:c000::"),
        ] {
            assert_eq!(parse_range_address(text), Some(ip(expected)), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_one_address() {
        for text in [
            "",
            "74.125.0",
            "74.125.0.0.1",
            "256.1.1.1",
            "1.2.3.4/24",
            "1.2.3.4/",
            "+1.2.3.4",
            "1..3.4",
            "2001:db8::/64",
            "2001:db8::/32",
            "2001:db8::g",
            "74.125.0.0 - 74.125.255.255",
        ] {
            assert_eq!(parse_range_address(text), None, "{text:?}");
        }
    }

    #[test]
    fn summarize_gives_the_minimal_cidrs() {
        assert_eq!(
            summarize(ip("13.64.0.0"), ip("13.107.255.255")),
            nets(&["13.64.0.0/11", "13.96.0.0/13", "13.104.0.0/14"])
        );
        assert_eq!(
            summarize(ip("196.11.239.0"), ip("196.11.246.255")),
            nets(&[
                "196.11.239.0/24",
                "196.11.240.0/22",
                "196.11.244.0/23",
                "196.11.246.0/24"
            ])
        );
        assert_eq!(
            summarize(ip("200.57.141.161"), ip("200.57.141.161")),
            nets(&["200.57.141.161/32"])
        );
        assert_eq!(
            summarize(ip("0.0.0.0"), ip("255.255.255.255")),
            nets(&["0.0.0.0/0"])
        );
        assert_eq!(
            summarize(
                ip("2001:4860::"),
                ip("2001:4860:ffff:ffff:ffff:ffff:ffff:ffff")
            ),
            nets(&["2001:4860::/32"])
        );
    }

    #[test]
    fn the_ipv4_mapped_block_is_left_out_of_an_ipv6_range() {
        // Trimmed from a fuzz finding: a range over ::ffff:0:0/96 summarised into CIDRs such
        // as ::8000:0:0/81, which hold IPv4-mapped addresses the range's owner can't have.
        let start = ip("::20");
        let end = ip("2001:43f8::fff:ffff:ffff:ffff:ffff");
        assert!(spans_ipv4_mapped(start, end));
        let parts = summarize_without_ipv4_mapped(start, end);
        let mapped: IpNet = "::ffff:0:0/96".parse().unwrap();
        assert!(parts.iter().all(|n| !n.contains(&mapped.network())
            && !n.contains(&mapped.broadcast())
            && !mapped.contains(n)));
        assert_eq!(parts.first().map(IpNet::network), Some(start));
        assert_eq!(parts.last().map(IpNet::broadcast), Some(end));
        // The block's neighbours are the edges of the two halves.
        assert!(parts
            .iter()
            .any(|n| n.broadcast() == ip("::fffe:ffff:ffff")));
        assert!(parts.iter().any(|n| n.network() == ip("::1:0:0:0")));
        // Halves touch nothing else: every address between start and end but the block.
        for pair in parts.windows(2) {
            let next = next_address(pair[0].broadcast());
            assert!(next == Some(pair[1].network()) || next == Some(mapped.network()));
        }
        // Ranges that don't pass over it are summarised as before.
        assert_eq!(
            summarize_without_ipv4_mapped(
                ip("2001:4860::"),
                ip("2001:4860:ffff:ffff:ffff:ffff:ffff:ffff")
            ),
            nets(&["2001:4860::/32"])
        );
        assert!(is_ipv4_mapped(ip("::ffff:1.2.3.4")));
        assert!(!is_ipv4_mapped(ip("::1:0:0:0")));
        assert!(!is_ipv4_mapped(ip("1.2.3.4")));
    }

    #[test]
    fn cidr0_is_used_only_when_it_tiles_the_range() {
        let start = ip("13.64.0.0");
        let end = ip("13.107.255.255");
        let good = json!({"cidr0_cidrs": [
            {"v4prefix": "13.96.0.0", "length": 13},
            {"v4prefix": "13.64.0.0", "length": 11},
            {"v4prefix": "13.104.0.0", "length": 14}
        ]});
        assert_eq!(
            cidr0_cidrs(&good, start, end),
            Some(nets(&["13.64.0.0/11", "13.96.0.0/13", "13.104.0.0/14"]))
        );
        // A finer but exact tiling is what the registry said: kept.
        let finer = json!({"cidr0_cidrs": [
            {"v4prefix": "10.0.0.0", "length": 25},
            {"v4prefix": "10.0.0.128", "length": 25}
        ]});
        assert_eq!(
            cidr0_cidrs(&finer, ip("10.0.0.0"), ip("10.0.0.255")),
            Some(nets(&["10.0.0.0/25", "10.0.0.128/25"]))
        );
        let v6 = json!({"cidr0_cidrs": [{"v6prefix": "2001:4860::", "length": 32}]});
        assert_eq!(
            cidr0_cidrs(
                &v6,
                ip("2001:4860::"),
                ip("2001:4860:ffff:ffff:ffff:ffff:ffff:ffff")
            ),
            Some(nets(&["2001:4860::/32"]))
        );
        for bad in [
            json!({}),
            json!({"cidr0_cidrs": []}),
            json!({"cidr0_cidrs": "13.64.0.0/11"}),
            // a gap
            json!({"cidr0_cidrs": [{"v4prefix": "13.64.0.0", "length": 11}, {"v4prefix": "13.104.0.0", "length": 14}]}),
            // overlap
            json!({"cidr0_cidrs": [{"v4prefix": "13.64.0.0", "length": 10}, {"v4prefix": "13.96.0.0", "length": 13}, {"v4prefix": "13.104.0.0", "length": 14}]}),
            // host bits, wrong family, bad length
            json!({"cidr0_cidrs": [{"v4prefix": "13.64.0.1", "length": 11}]}),
            json!({"cidr0_cidrs": [{"v6prefix": "::", "length": 11}]}),
            json!({"cidr0_cidrs": [{"v4prefix": "13.64.0.0", "length": 33}]}),
            json!({"cidr0_cidrs": [{"v4prefix": "13.64.0.0", "length": "11"}]}),
        ] {
            assert_eq!(cidr0_cidrs(&bad, start, end), None, "{bad}");
        }
    }
}
