//! `RdapNetwork`: the facts taken from an RDAP IP network object (RFC 9083 §5.4), read
//! the way ipwhois 1.2.0 read them, so names, countries and entity lists match the older
//! tool's audit lines.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::RdapError;
use super::range::{
    cidr0_cidrs, is_ipv4_mapped, parse_range_address, spans_ipv4_mapped,
    summarize_without_ipv4_mapped,
};

/// What the registry says about the network holding an address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdapNetwork {
    /// The registry's handle of the network object (`NET-74-125-0-0-1`), trimmed.
    pub handle: String,
    /// `name`, trimmed; `None` when absent or not a string. ARIN: `GOOGLE`.
    pub name: Option<String>,
    /// `country`, trimmed; `None` when absent or not a string (ARIN never sends one).
    pub country: Option<String>,
    /// First address of the range.
    pub start: IpAddr,
    /// Last address of the range.
    pub end: IpAddr,
    /// The range as CIDRs, in address order. Serialised as strings (`"74.125.0.0/16"`).
    #[serde(with = "cidr_strings")]
    pub cidrs: Vec<IpNet>,
    /// Handles of the top-level `entities`, in JSON order, exactly as sent (not trimmed,
    /// duplicates kept). An entity without a string handle ends the list there.
    pub entities: Vec<String>,
}

impl RdapNetwork {
    /// Reads the facts from a parsed RDAP answer.
    ///
    /// Fails with [`RdapError::NotANetwork`] when the object is not an IP network or has
    /// no handle, start or end address: a range is never guessed, since caches key on it.
    pub fn from_json(json: &Value) -> Result<RdapNetwork, RdapError> {
        let object = json
            .as_object()
            .ok_or_else(|| not_a_network("the answer is not a JSON object"))?;
        if let Some(class) = object.get("objectClassName") {
            // RIPE's 2015 answers have no objectClassName; when present it must fit.
            if class.as_str().map(str::trim) != Some("ip network") {
                return Err(not_a_network(format!("objectClassName is {class}")));
            }
        }
        let handle = trimmed_string(json, "handle")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| not_a_network("no handle"))?;
        let start = range_address(json, "startAddress")?;
        let end = range_address(json, "endAddress")?;
        if start.is_ipv4() != end.is_ipv4() {
            return Err(not_a_network(format!(
                "startAddress {start} and endAddress {end} are of different IP versions"
            )));
        }
        if start > end {
            return Err(not_a_network(format!(
                "startAddress {start} is after endAddress {end}"
            )));
        }
        if is_ipv4_mapped(start) || is_ipv4_mapped(end) {
            // Those addresses are IPv4 clients, judged as IPv4: no IPv6 range holds them.
            return Err(not_a_network(format!(
                "the range {start} - {end} starts or ends in the IPv4-mapped block ::ffff:0:0/96"
            )));
        }
        // A range over the IPv4-mapped block covers it in name only: its CIDRs (which caches
        // key on) leave it out, whatever cidr0 said.
        let cidrs = match cidr0_cidrs(json, start, end) {
            Some(nets) if !spans_ipv4_mapped(start, end) => nets,
            _ => summarize_without_ipv4_mapped(start, end),
        };
        Ok(RdapNetwork {
            handle,
            name: trimmed_string(json, "name"),
            country: trimmed_string(json, "country"),
            start,
            end,
            cidrs,
            entities: top_level_entity_handles(json),
        })
    }

    /// Whether `ip` (or, for an IPv4-mapped IPv6 address, its IPv4 address) is in the
    /// network's range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.start.is_ipv4() && self.start <= ip && ip <= self.end
    }
}

/// `json[key]` trimmed, when it is a string.
fn trimmed_string(json: &Value, key: &str) -> Option<String> {
    json.get(key)?.as_str().map(|s| s.trim().to_string())
}

fn range_address(json: &Value, key: &str) -> Result<IpAddr, RdapError> {
    match json.get(key) {
        None | Some(Value::Null) => Err(not_a_network(format!("no {key}"))),
        Some(Value::String(text)) => parse_range_address(text)
            .ok_or_else(|| not_a_network(format!("{key} is not an IP address: {text:?}"))),
        Some(other) => Err(not_a_network(format!("{key} is not a string: {other}"))),
    }
}

/// `entities[*].handle` in order, stopping at the first entity without a string handle
/// (ipwhois' loop ended there with a KeyError it swallowed).
fn top_level_entity_handles(json: &Value) -> Vec<String> {
    let Some(entities) = json.get("entities").and_then(Value::as_array) else {
        return Vec::new();
    };
    entities
        .iter()
        .map_while(|entity| entity.get("handle").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

fn not_a_network(reason: impl Into<String>) -> RdapError {
    RdapError::NotANetwork {
        reason: reason.into(),
    }
}

/// `Vec<IpNet>` as a list of CIDR strings (independent of ipnet's optional serde support).
mod cidr_strings {
    use ipnet::IpNet;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        nets: &[IpNet],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(nets.iter().map(ToString::to_string))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<IpNet>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|text| text.parse().map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "objectClassName": "ip network",
            "handle": " NET-1 ",
            "startAddress": "192.0.2.0",
            "endAddress": "192.0.2.255",
            "name": "  EXAMPLE-NET\n",
            "country": " ZZ ",
            "entities": [{"handle": " A "}, {"handle": "B"}, {"handle": " A "}]
        })
    }

    /// The fuzz target's invariant: the range holds its ends and every CIDR's ends.
    fn assert_consistent(network: &RdapNetwork) {
        assert!(network.contains(network.start) && network.contains(network.end));
        for cidr in &network.cidrs {
            assert!(
                network.contains(cidr.network()) && network.contains(cidr.broadcast()),
                "{cidr} leaves {network:?}"
            );
        }
    }

    #[test]
    fn an_ipv6_range_over_the_ipv4_mapped_block_keeps_its_cidrs_inside_it() {
        // rdap_json fuzz finding (trimmed): summarised whole, the range gave ::8000:0:0/81,
        // whose last address is IPv4-mapped and so outside any IPv6 range.
        let json = json!({"handle":"20","startAddress":"::20",
            "endAddress":"2001:43f8::fff:ffff:ffff:ffff:ffff","ipVersion":"v1"});
        let network = RdapNetwork::from_json(&json).unwrap();
        assert_consistent(&network);
        assert!(!network.contains("::ffff:1.2.3.4".parse().unwrap()));
        // cidr0 prefixes that tile it, block included, give way to the computed ones.
        let mut tiled = json.clone();
        tiled["startAddress"] = json!("::");
        tiled["endAddress"] = json!("::ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        tiled["cidr0_cidrs"] = json!([{"v6prefix": "::", "length": 0}]);
        let network = RdapNetwork::from_json(&tiled).unwrap();
        assert_consistent(&network);
        assert!(network.cidrs.len() > 1, "{:?}", network.cidrs);
    }

    #[test]
    fn an_ipv6_range_starting_or_ending_in_the_ipv4_mapped_block_is_refused() {
        for (start, end) in [
            ("::ffff:1.2.3.0", "::ffff:1.2.3.255"),
            ("::ffff:1.2.3.0", "2001:db8::"),
            ("::1", "::ffff:0.0.0.1"),
        ] {
            let mut json = base();
            json["startAddress"] = json!(start);
            json["endAddress"] = json!(end);
            assert!(
                matches!(
                    RdapNetwork::from_json(&json),
                    Err(RdapError::NotANetwork { .. })
                ),
                "{start} - {end}"
            );
        }
    }

    #[test]
    fn trims_name_country_handle_but_not_entities() {
        let network = RdapNetwork::from_json(&base()).unwrap();
        assert_eq!(network.handle, "NET-1");
        assert_eq!(network.name.as_deref(), Some("EXAMPLE-NET"));
        assert_eq!(network.country.as_deref(), Some("ZZ"));
        assert_eq!(network.entities, [" A ", "B", " A "]);
        assert_eq!(network.cidrs, ["192.0.2.0/24".parse::<IpNet>().unwrap()]);
        assert!(network.contains("192.0.2.77".parse().unwrap()));
        assert!(network.contains("::ffff:192.0.2.77".parse().unwrap()));
        assert!(!network.contains("192.0.3.0".parse().unwrap()));
    }

    #[test]
    fn non_string_name_or_country_is_none() {
        let mut json = base();
        json["name"] = json!(42);
        json["country"] = json!(["CH"]);
        let network = RdapNetwork::from_json(&json).unwrap();
        assert_eq!(network.name, None);
        assert_eq!(network.country, None);
        json.as_object_mut().unwrap().remove("name");
        json.as_object_mut().unwrap().remove("country");
        let network = RdapNetwork::from_json(&json).unwrap();
        assert_eq!((network.name, network.country), (None, None));
    }

    #[test]
    fn an_entity_without_handle_ends_the_list() {
        let mut json = base();
        json["entities"] = json!([{"handle": "A"}, {"roles": ["abuse"]}, {"handle": "C"}]);
        assert_eq!(RdapNetwork::from_json(&json).unwrap().entities, ["A"]);
        json["entities"] = json!([{"handle": 7}, {"handle": "C"}]);
        assert!(RdapNetwork::from_json(&json).unwrap().entities.is_empty());
        json["entities"] = json!({"handle": "A"});
        assert!(RdapNetwork::from_json(&json).unwrap().entities.is_empty());
        json.as_object_mut().unwrap().remove("entities");
        assert!(RdapNetwork::from_json(&json).unwrap().entities.is_empty());
    }

    #[test]
    fn refuses_objects_that_are_not_networks() {
        let without = |key: &str| {
            let mut json = base();
            json.as_object_mut().unwrap().remove(key);
            json
        };
        let with = |key: &str, value: Value| {
            let mut json = base();
            json[key] = value;
            json
        };
        for (json, reason) in [
            (json!([]), "the answer is not a JSON object"),
            (without("handle"), "no handle"),
            (with("handle", json!("  ")), "no handle"),
            (with("handle", json!(1)), "no handle"),
            (without("startAddress"), "no startAddress"),
            (without("endAddress"), "no endAddress"),
            (with("endAddress", Value::Null), "no endAddress"),
            (
                with("startAddress", json!("192.0.2.0/24")),
                "startAddress is not an IP address: \"192.0.2.0/24\"",
            ),
            (
                with("endAddress", json!(3221226239u32)),
                "endAddress is not a string: 3221226239",
            ),
            (
                with("endAddress", json!("2001:db8::")),
                "startAddress 192.0.2.0 and endAddress 2001:db8:: are of different IP versions",
            ),
            (
                with("endAddress", json!("192.0.1.255")),
                "startAddress 192.0.2.0 is after endAddress 192.0.1.255",
            ),
            (
                with("objectClassName", json!("entity")),
                "objectClassName is \"entity\"",
            ),
        ] {
            assert_eq!(
                RdapNetwork::from_json(&json),
                Err(RdapError::NotANetwork {
                    reason: reason.to_string()
                }),
                "{json}"
            );
        }
    }

    #[test]
    fn round_trips_through_serde() {
        let network = RdapNetwork::from_json(&base()).unwrap();
        let value = serde_json::to_value(&network).unwrap();
        assert_eq!(value["cidrs"], json!(["192.0.2.0/24"]));
        assert_eq!(value["start"], json!("192.0.2.0"));
        let back: RdapNetwork = serde_json::from_value(value).unwrap();
        assert_eq!(back, network);
        let mut bad = serde_json::to_value(&network).unwrap();
        bad["cidrs"] = json!(["192.0.2.0/33"]);
        assert!(serde_json::from_value::<RdapNetwork>(bad).is_err());
    }
}
