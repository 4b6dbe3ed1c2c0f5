//! [`ClientIp`]: the client address of one login, judged once — its canonical form (an
//! IPv4-mapped IPv6 address as its IPv4 address) and the special-purpose range holding it
//! are worked out when the value is made, and every later step reads them.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::reserved::{canonical, reserved, ReservedRange};

/// The client address as the mail server reported it, with its canonical form and its
/// reserved range computed once. It displays, compares and serialises as the reported
/// address.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp {
    reported: IpAddr,
    canonical: IpAddr,
    reserved: Option<ReservedRange>,
}

impl ClientIp {
    /// Judges `ip` once.
    pub fn new(ip: IpAddr) -> ClientIp {
        ClientIp {
            reported: ip,
            canonical: canonical(ip),
            reserved: reserved(ip),
        }
    }

    /// The address as the mail server reported it (`::ffff:1.2.3.4` stays so).
    pub fn reported(&self) -> IpAddr {
        self.reported
    }

    /// The address to look up and match: an IPv4-mapped address as IPv4.
    pub fn canonical(&self) -> IpAddr {
        self.canonical
    }

    /// The special-purpose range holding the address, if any.
    pub fn reserved(&self) -> Option<ReservedRange> {
        self.reserved
    }
}

impl From<IpAddr> for ClientIp {
    fn from(ip: IpAddr) -> ClientIp {
        ClientIp::new(ip)
    }
}

impl From<ClientIp> for IpAddr {
    fn from(ip: ClientIp) -> IpAddr {
        ip.reported
    }
}

impl PartialEq for ClientIp {
    fn eq(&self, other: &ClientIp) -> bool {
        self.reported == other.reported
    }
}

impl Eq for ClientIp {}

impl PartialEq<IpAddr> for ClientIp {
    fn eq(&self, other: &IpAddr) -> bool {
        self.reported == *other
    }
}

impl fmt::Display for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.reported.fmt(f)
    }
}

impl FromStr for ClientIp {
    type Err = std::net::AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(ClientIp::new)
    }
}

serde_as_text!(ClientIp);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judged_once_and_shown_as_reported() {
        let ip: ClientIp = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(ip.to_string(), "::ffff:10.1.2.3");
        assert_eq!(ip.canonical(), "10.1.2.3".parse::<IpAddr>().unwrap());
        assert_eq!(ip.reserved().map(|r| r.name), Some("Private-Use Networks"));
        let public = ClientIp::new("176.112.169.218".parse().unwrap());
        assert_eq!(public.reserved(), None);
        assert_eq!(serde_json::to_string(&ip).unwrap(), "\"::ffff:10.1.2.3\"");
        let back: ClientIp = serde_json::from_str("\"::ffff:10.1.2.3\"").unwrap();
        assert_eq!(back, ip);
        assert_eq!(back.reserved(), ip.reserved());
    }
}
