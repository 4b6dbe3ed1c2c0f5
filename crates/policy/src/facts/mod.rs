//! `Facts`: everything known about one client IP, as the lists see it.
//!
//! The JSON form of [`Facts`] is what `badclients check --facts` reads and what
//! `badclients lookup --json` prints; unknown values are `null`.

mod client_ip;
mod cloud;
mod lookup_error;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::dnsbl::DnsblHit;
pub use client_ip::ClientIp;
pub use cloud::{BadCloudTag, CloudProvider, CloudTag, UnknownProvider};
pub use lookup_error::{BadLookupError, LookupError};

/// An autonomous system number, written `AS47764` in lists, facts and the audit line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Asn(pub u32);

/// Why a string is not an AS number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an AS number: {0:?} (expected AS followed by digits, e.g. AS3209)")]
pub struct AsnParseError(pub String);

impl FromStr for Asn {
    type Err = AsnParseError;

    /// Accepts `AS3209` (any case of `AS`) and bare `3209`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = match s.get(..2) {
            Some(p) if p.eq_ignore_ascii_case("as") => &s[2..],
            _ => s,
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AsnParseError(s.to_string()));
        }
        digits
            .parse::<u32>()
            .map(Asn)
            .map_err(|_| AsnParseError(s.to_string()))
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AS{}", self.0)
    }
}

impl Serialize for Asn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Asn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u32),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => Ok(Asn(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Everything known about one client IP.
///
/// `None` means "not known" (the lookup failed, timed out, or the source has no such
/// field, like ARIN's missing network country). The audit line prints it as `None`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// The client address as the mail server reported it.
    pub ip: ClientIp,
    /// Reverse DNS name without the trailing dot; `None` when there is no PTR (printed `<>`).
    #[serde(default)]
    pub host: Option<String>,
    /// Origin AS of the announced prefix (the first one when several ASes announce it).
    #[serde(default)]
    pub asn: Option<Asn>,
    /// Allocation country of the announced prefix (Team Cymru origin record).
    #[serde(default)]
    pub as_cc: Option<String>,
    /// AS description (Team Cymru AS-name record), e.g. `VK-AS, RU`.
    #[serde(default)]
    pub as_desc: Option<String>,
    /// RDAP network name, e.g. `VK-FRONT`.
    #[serde(default)]
    pub net_name: Option<String>,
    /// RDAP network country (ARIN never sends one).
    #[serde(default)]
    pub net_cc: Option<String>,
    /// Handles of the RDAP network's top-level entities, in JSON order.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub entities: Vec<String>,
    /// GeoIP facts (MaxMind-format databases), when GeoIP is configured.
    #[serde(default)]
    pub maxmind: Option<GeoFacts>,
    /// Every origin AS of the announced prefix (several for a multi-origin prefix).
    #[serde(default)]
    pub asns: Vec<Asn>,
    /// The announced prefix Team Cymru reported (the cache key of the origin answer).
    #[serde(default)]
    pub as_prefix: Option<IpNet>,
    /// The RDAP network's handle.
    #[serde(default)]
    pub net_handle: Option<String>,
    /// The RDAP network's range as CIDRs.
    #[serde(default)]
    pub net_cidrs: Vec<IpNet>,
    /// Cloud-provider ranges holding the address, as `provider:service:region`
    /// (`aws:EC2:us-east-1`), most specific first.
    #[serde(default)]
    pub cloud: Vec<CloudTag>,
    /// DNS blocklist answers, as `zone:code` (`zen.example.org:127.0.0.2`).
    #[serde(default)]
    pub dnsbl: Vec<DnsblHit>,
    /// Sources that failed for this lookup, as `source:kind` (`rdap:timeout`).
    #[serde(default)]
    pub lookup_errors: Vec<LookupError>,
}

/// A place in a GeoIP database (city, subdivision, country, continent).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    /// GeoNames id, the key of `maxmind/geo_loc.deny.lst`.
    #[serde(default)]
    pub geoname_id: Option<u32>,
    /// ISO code (country, subdivision) or continent code.
    #[serde(default)]
    pub code: Option<String>,
    /// English name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Coordinates with MaxMind's accuracy radius.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Latitude in degrees, north positive.
    pub latitude: f64,
    /// Longitude in degrees, east positive.
    pub longitude: f64,
    /// Accuracy radius in km.
    #[serde(default)]
    pub accuracy_radius: Option<u32>,
}

/// What a MaxMind-format database says about the client IP.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoFacts {
    /// `autonomous_system_number` of the ASN database.
    #[serde(default)]
    pub asn: Option<Asn>,
    /// `autonomous_system_organization`.
    #[serde(default)]
    pub as_org: Option<String>,
    /// The city.
    #[serde(default)]
    pub city: Option<Place>,
    /// Subdivisions (state, region, …), largest first.
    #[serde(default)]
    pub subdivisions: Vec<Place>,
    /// The country the address is located in.
    #[serde(default)]
    pub country: Option<Place>,
    /// The continent.
    #[serde(default)]
    pub continent: Option<Place>,
    /// The country the address block is registered to (may differ from `country`).
    #[serde(default)]
    pub registered_country: Option<Place>,
    /// The country a military base or embassy abroad represents.
    #[serde(default)]
    pub represented_country: Option<Place>,
    /// Coordinates and accuracy radius.
    #[serde(default)]
    pub location: Option<Location>,
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

impl Facts {
    /// Facts with only the address known.
    pub fn unknown(ip: IpAddr) -> Facts {
        Facts::unknown_at(ClientIp::new(ip))
    }

    /// The GeoIP country code (MaxMind's `country.iso_code`), when GeoIP knows one.
    pub fn geo_cc(&self) -> Option<&str> {
        self.maxmind
            .as_ref()
            .and_then(|g| g.country.as_ref())
            .and_then(|c| c.code.as_deref())
    }

    /// [`Facts::unknown`] for an address already judged.
    pub fn unknown_at(ip: ClientIp) -> Facts {
        Facts {
            ip,
            host: None,
            asn: None,
            as_cc: None,
            as_desc: None,
            net_name: None,
            net_cc: None,
            entities: Vec::new(),
            maxmind: None,
            asns: Vec::new(),
            as_prefix: None,
            net_handle: None,
            net_cidrs: Vec::new(),
            cloud: Vec::new(),
            dnsbl: Vec::new(),
            lookup_errors: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn_parses_and_prints() {
        assert_eq!("AS47764".parse::<Asn>(), Ok(Asn(47764)));
        assert_eq!("as15169".parse::<Asn>(), Ok(Asn(15169)));
        assert_eq!("3209".parse::<Asn>(), Ok(Asn(3209)));
        assert!("AS".parse::<Asn>().is_err());
        assert!("AS12x".parse::<Asn>().is_err());
        assert!("AS99999999999".parse::<Asn>().is_err());
        assert!("NA".parse::<Asn>().is_err());
        assert_eq!(Asn(63949).to_string(), "AS63949");
    }

    #[test]
    fn json_round_trip_uses_contract_names_and_null() {
        let mut f = Facts::unknown("2001:db8::1".parse().unwrap());
        f.asn = Some(Asn(15169));
        f.entities = vec!["GOGL".into()];
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["asn"], "AS15169");
        assert!(json["host"].is_null());
        assert!(json["net_cc"].is_null());
        let back: Facts = serde_json::from_value(json).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn json_accepts_numeric_asn_and_null_entities() {
        let f: Facts =
            serde_json::from_str(r#"{"ip":"1.2.3.4","asn":3209,"entities":null}"#).unwrap();
        assert_eq!(f.asn, Some(Asn(3209)));
        assert!(f.entities.is_empty());
    }

    #[test]
    fn json_rejects_unknown_fields() {
        let err = serde_json::from_str::<Facts>(r#"{"ip":"1.2.3.4","net_nam":"X"}"#).unwrap_err();
        assert!(err.to_string().contains("net_nam"), "{err}");
    }
}
