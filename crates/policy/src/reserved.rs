//! Reserved (special-purpose) addresses: never looked up, never blocked by a deny list.
//!
//! The IPv4 table is the older tool's (ipwhois 1.2.0 `ipv4_is_defined`, first match wins);
//! the IPv6 table follows ipwhois' `ipv6_is_defined` with the documentation ranges named
//! as such. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is judged as its IPv4 address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::facts::{ClientIp, Facts};

/// One special-purpose range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedRange {
    /// Human name, printed as `net_name=<NAME>` in the audit line.
    pub name: &'static str,
    /// Where the range is defined.
    pub rfc: &'static str,
}

struct V4Row(u32, u8, ReservedRange);
struct V6Row(u128, u8, ReservedRange);

const fn r(name: &'static str, rfc: &'static str) -> ReservedRange {
    ReservedRange { name, rfc }
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

const PRIVATE: ReservedRange = r("Private-Use Networks", "RFC 1918");

/// In the order ipwhois checks them; the first containing range names the address.
const V4: &[V4Row] = &[
    V4Row(
        v4(0, 0, 0, 0),
        8,
        r("This Network", "RFC 1122, Section 3.2.1.3"),
    ),
    V4Row(
        v4(127, 0, 0, 0),
        8,
        r("Loopback", "RFC 1122, Section 3.2.1.3"),
    ),
    V4Row(v4(169, 254, 0, 0), 16, r("Link Local", "RFC 3927")),
    V4Row(
        v4(192, 0, 0, 0),
        24,
        r("IETF Protocol Assignments", "RFC 5736"),
    ),
    V4Row(v4(192, 0, 2, 0), 24, r("TEST-NET-1", "RFC 5737")),
    V4Row(v4(192, 88, 99, 0), 24, r("6to4 Relay Anycast", "RFC 3068")),
    V4Row(
        v4(198, 18, 0, 0),
        15,
        r("Network Interconnect Device Benchmark Testing", "RFC 2544"),
    ),
    V4Row(v4(198, 51, 100, 0), 24, r("TEST-NET-2", "RFC 5737")),
    V4Row(v4(203, 0, 113, 0), 24, r("TEST-NET-3", "RFC 5737")),
    V4Row(v4(224, 0, 0, 0), 4, r("Multicast", "RFC 3171")),
    V4Row(
        v4(255, 255, 255, 255),
        32,
        r("Limited Broadcast", "RFC 919, Section 7"),
    ),
    V4Row(v4(10, 0, 0, 0), 8, PRIVATE),
    V4Row(v4(172, 16, 0, 0), 12, PRIVATE),
    V4Row(v4(192, 168, 0, 0), 16, PRIVATE),
    V4Row(v4(240, 0, 0, 0), 4, PRIVATE),
    V4Row(v4(198, 97, 38, 0), 24, r("IANA Reserved", "")),
];

const RESERVED6: ReservedRange = r("Reserved", "RFC 4291");

const fn v6(hi: u16, prefix: u8, row: ReservedRange) -> V6Row {
    V6Row((hi as u128) << 112, prefix, row)
}

/// ipwhois' `ipv6_is_defined` order; documentation prefixes get their own names.
const V6: &[V6Row] = &[
    v6(0xff00, 8, r("Multicast", "RFC 4291, Section 2.7")),
    V6Row(0, 128, r("Unspecified", "RFC 4291, Section 2.5.2")),
    V6Row(1, 128, r("Loopback", "RFC 4291, Section 2.5.3")),
    v6(0x0000, 8, RESERVED6),
    v6(0x0100, 8, RESERVED6),
    v6(0x0200, 7, RESERVED6),
    v6(0x0400, 6, RESERVED6),
    v6(0x0800, 5, RESERVED6),
    v6(0x1000, 4, RESERVED6),
    v6(0x4000, 3, RESERVED6),
    v6(0x6000, 3, RESERVED6),
    v6(0x8000, 3, RESERVED6),
    v6(0xa000, 3, RESERVED6),
    v6(0xc000, 3, RESERVED6),
    v6(0xe000, 4, RESERVED6),
    v6(0xf000, 5, RESERVED6),
    v6(0xf800, 6, RESERVED6),
    v6(0xfe00, 9, RESERVED6),
    v6(0xfe80, 10, r("Link-Local", "RFC 4291, Section 2.5.6")),
    v6(0xfec0, 10, r("Site-Local", "RFC 4291, Section 2.5.7")),
    V6Row(0x2001_0db8_u128 << 96, 32, r("Documentation", "RFC 3849")),
    V6Row(0x3fff_u128 << 112, 20, r("Documentation", "RFC 9637")),
    v6(0x2001, 23, r("IETF Protocol Assignments", "RFC 2928")),
    v6(0xfc00, 7, r("Unique Local Unicast", "RFC 4193")),
];

fn contains4(net: u32, prefix: u8, ip: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    ip & mask == net & mask
}

fn contains6(net: u128, prefix: u8, ip: u128) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    ip & mask == net & mask
}

/// The address to judge: an IPv4-mapped IPv6 address becomes its IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// The special-purpose range containing `ip`, if any.
pub fn reserved(ip: IpAddr) -> Option<ReservedRange> {
    match canonical(ip) {
        IpAddr::V4(a) => reserved_v4(a),
        IpAddr::V6(a) => reserved_v6(a),
    }
}

fn reserved_v4(a: Ipv4Addr) -> Option<ReservedRange> {
    let ip = u32::from(a);
    V4.iter()
        .find(|row| contains4(row.0, row.1, ip))
        .map(|row| row.2)
}

fn reserved_v6(a: Ipv6Addr) -> Option<ReservedRange> {
    let ip = u128::from(a);
    V6.iter()
        .find(|row| contains6(row.0, row.1, ip))
        .map(|row| row.2)
}

/// The facts of a reserved address, synthesised without any lookup (the contract's §1).
pub fn reserved_facts(
    ip: impl Into<ClientIp>,
    range: ReservedRange,
    host: Option<String>,
) -> Facts {
    Facts {
        host,
        as_cc: Some("ZZ".into()),
        as_desc: Some("IANA-RESERVED".into()),
        net_name: Some(range.name.into()),
        net_cc: Some("ZZ".into()),
        ..Facts::unknown_at(ip.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Option<&'static str> {
        reserved(s.parse().unwrap()).map(|r| r.name)
    }

    #[test]
    fn ipv4_table_of_the_contract() {
        let cases = [
            ("0.1.2.3", "This Network"),
            ("127.0.0.1", "Loopback"),
            ("169.254.9.9", "Link Local"),
            ("192.0.0.8", "IETF Protocol Assignments"),
            ("192.0.2.1", "TEST-NET-1"),
            ("192.88.99.1", "6to4 Relay Anycast"),
            (
                "198.19.255.255",
                "Network Interconnect Device Benchmark Testing",
            ),
            ("198.51.100.7", "TEST-NET-2"),
            ("203.0.113.9", "TEST-NET-3"),
            ("239.1.1.1", "Multicast"),
            ("255.255.255.255", "Limited Broadcast"),
            ("10.1.1.1", "Private-Use Networks"),
            ("172.17.1.204", "Private-Use Networks"),
            ("192.168.255.1", "Private-Use Networks"),
            ("240.0.0.1", "Private-Use Networks"),
            ("255.255.255.254", "Private-Use Networks"),
            ("198.97.38.5", "IANA Reserved"),
        ];
        for (ip, want) in cases {
            assert_eq!(name(ip), Some(want), "{ip}");
        }
    }

    #[test]
    fn public_ipv4_is_not_reserved() {
        for ip in [
            "176.112.169.218",
            "100.64.0.1",
            "172.32.0.1",
            "198.20.0.1",
            "1.1.1.1",
            "223.255.255.255",
        ] {
            assert_eq!(name(ip), None, "{ip}");
        }
    }

    #[test]
    fn ipv6_special_ranges() {
        let cases = [
            ("::", "Unspecified"),
            ("::1", "Loopback"),
            ("ff02::1", "Multicast"),
            ("fe80::1", "Link-Local"),
            ("fec0::1", "Site-Local"),
            ("fd00::1", "Unique Local Unicast"),
            ("2001:db8::1", "Documentation"),
            ("3fff:0fff::1", "Documentation"),
            ("2001:2::1", "IETF Protocol Assignments"),
            ("64:ff9b::1.2.3.4", "Reserved"),
            ("4000::1", "Reserved"),
        ];
        for (ip, want) in cases {
            assert_eq!(name(ip), Some(want), "{ip}");
        }
        for ip in [
            "2a00:1450:4001::1",
            "2001:4860:4860::8888",
            "2600::1",
            "3fff:1000::1",
        ] {
            assert_eq!(name(ip), None, "{ip}");
        }
    }

    #[test]
    fn mapped_ipv4_is_judged_as_ipv4() {
        assert_eq!(name("::ffff:10.0.0.1"), Some("Private-Use Networks"));
        assert_eq!(name("::ffff:176.112.169.218"), None);
        assert_eq!(
            canonical("::ffff:1.2.3.4".parse().unwrap()),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn synthesised_facts() {
        let ip: IpAddr = "172.17.1.204".parse().unwrap();
        let f = reserved_facts(ip, reserved(ip).unwrap(), None);
        assert_eq!(f.asn, None);
        assert_eq!(f.as_cc.as_deref(), Some("ZZ"));
        assert_eq!(f.as_desc.as_deref(), Some("IANA-RESERVED"));
        assert_eq!(f.net_name.as_deref(), Some("Private-Use Networks"));
        assert_eq!(f.net_cc.as_deref(), Some("ZZ"));
        assert!(f.entities.is_empty());
    }
}
