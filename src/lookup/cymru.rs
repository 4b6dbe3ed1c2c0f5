//! Team Cymru's IP-to-ASN service over DNS: the query names and the TXT answer formats.
//!
//! Origin: `<reversed octets>.origin.asn.cymru.com.` (IPv4) or
//! `<reversed nibbles>.origin6.asn.cymru.com.` (IPv6), answered with one TXT record per
//! announced prefix covering the address: `"ASN[ ASN…] | prefix | CC | registry | date"`.
//! AS name: `AS<n>.asn.cymru.com.`, answered with `"ASN | CC | registry | date | name"`.
//! Parsing follows ipwhois (fields split on `|` and trimmed, the country upper-cased, the
//! most specific prefix wins among several records, ties keep the earlier one) except that
//! a multi-origin field (`"20738 20773"`) is split: the first AS is the fact, all are kept.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::facts::Asn;
use crate::rdap::Registry;

/// A Team Cymru answer that does not have the documented shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CymruError {
    #[error("malformed Team Cymru answer: {0:?}")]
    Malformed(String),
    #[error("Team Cymru answer names an unknown registry: {0:?}")]
    UnknownRegistry(String),
    #[error("Team Cymru gave no answer")]
    Empty,
}

/// The origin record of the most specific announced prefix covering an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// Every origin AS (usually one; several for a multi-origin prefix).
    pub asns: Vec<Asn>,
    /// The announced prefix; `None` for an unannounced address (`NA`).
    pub prefix: Option<IpNet>,
    /// The prefix's allocation country (`as_cc`), upper-cased.
    pub cc: Option<String>,
    /// The registry that allocated the prefix.
    pub registry: Option<Registry>,
    /// The allocation date, as Team Cymru writes it.
    pub allocated: Option<String>,
}

/// The query name of the origin record for `ip` (absolute, with the trailing dot).
pub fn origin_name(ip: IpAddr) -> String {
    match crate::reserved::canonical(ip) {
        IpAddr::V4(a) => {
            let [a, b, c, d] = a.octets();
            format!("{d}.{c}.{b}.{a}.origin.asn.cymru.com.")
        }
        IpAddr::V6(a) => {
            let mut name = String::with_capacity(64 + 22);
            for byte in a.octets().iter().rev() {
                name.push(hex(byte & 0xf));
                name.push('.');
                name.push(hex(byte >> 4));
                name.push('.');
            }
            name.push_str("origin6.asn.cymru.com.");
            name
        }
    }
}

fn hex(n: u8) -> char {
    char::from_digit(u32::from(n), 16).unwrap_or('0')
}

/// The query name of the AS-name record.
pub fn as_name_query(asn: Asn) -> String {
    format!("AS{}.asn.cymru.com.", asn.0)
}

/// Text of one TXT record: its character-strings joined (as dnspython's quoted form,
/// without the quotes).
fn record_text(strings: &[Vec<u8>]) -> String {
    strings
        .iter()
        .map(|s| String::from_utf8_lossy(s))
        .collect::<Vec<_>>()
        .join("")
}

fn fields(text: &str, want: usize) -> Result<Vec<&str>, CymruError> {
    let f: Vec<&str> = text
        .split('|')
        .map(|f| f.trim_matches(|c: char| c == ' ' || c == '"' || c == '\n' || c == '\t'))
        .collect();
    if f.len() < want {
        return Err(CymruError::Malformed(text.chars().take(200).collect()));
    }
    Ok(f)
}

fn registry(field: &str) -> Result<Registry, CymruError> {
    field
        .parse()
        .map_err(|_| CymruError::UnknownRegistry(field.chars().take(40).collect()))
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty() && s != "NA").then(|| s.to_string())
}

fn parse_origin_record(text: &str) -> Result<Origin, CymruError> {
    let f = fields(text, 5)?;
    let mut asns = Vec::new();
    for word in f[0].split_whitespace() {
        if word == "NA" {
            continue;
        }
        asns.push(
            word.parse::<Asn>()
                .map_err(|_| CymruError::Malformed(text.chars().take(200).collect()))?,
        );
    }
    let prefix = match f[1] {
        "NA" | "" => None,
        p => Some(
            p.parse::<IpNet>()
                .map_err(|_| CymruError::Malformed(text.chars().take(200).collect()))?,
        ),
    };
    Ok(Origin {
        asns,
        prefix,
        cc: non_empty(&f[2].to_uppercase()),
        registry: Some(registry(f[3])?),
        allocated: non_empty(f[4]),
    })
}

/// Parses the TXT records of an origin query (each record as its character-strings).
pub fn parse_origin(records: &[Vec<Vec<u8>>]) -> Result<Origin, CymruError> {
    let mut best: Option<Origin> = None;
    for record in records {
        let origin = parse_origin_record(&record_text(record))?;
        let len = |o: &Origin| o.prefix.map(|p| i16::from(p.prefix_len())).unwrap_or(-1);
        if best.as_ref().is_none_or(|b| len(&origin) > len(b)) {
            best = Some(origin);
        }
    }
    best.ok_or(CymruError::Empty)
}

/// Parses the TXT records of an AS-name query: field 4 of the first record.
pub fn parse_as_name(records: &[Vec<Vec<u8>>]) -> Result<String, CymruError> {
    let first = records.first().ok_or(CymruError::Empty)?;
    let text = record_text(first);
    let f = fields(&text, 5)?;
    registry(f[2])?;
    // The name may itself contain `|`? Cymru never does; keep field 4 as ipwhois.
    Ok(f[4].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(s: &str) -> Vec<Vec<u8>> {
        vec![s.as_bytes().to_vec()]
    }

    #[test]
    fn query_names() {
        assert_eq!(
            origin_name("176.112.169.218".parse().unwrap()),
            "218.169.112.176.origin.asn.cymru.com."
        );
        assert_eq!(
            origin_name("::ffff:176.112.169.218".parse().unwrap()),
            "218.169.112.176.origin.asn.cymru.com."
        );
        assert_eq!(
            origin_name("2001:4860:4860::8888".parse().unwrap()),
            "8.8.8.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.8.4.0.6.8.4.1.0.0.2.origin6.asn.cymru.com."
        );
        assert_eq!(as_name_query(Asn(47764)), "AS47764.asn.cymru.com.");
    }

    #[test]
    fn origin_fields_like_ipwhois() {
        let o =
            parse_origin(&[rec("47764 | 176.112.168.0/21 | ru | ripencc | 2010-10-13")]).unwrap();
        assert_eq!(o.asns, vec![Asn(47764)]);
        assert_eq!(o.prefix, Some("176.112.168.0/21".parse().unwrap()));
        assert_eq!(o.cc.as_deref(), Some("RU"));
        assert_eq!(o.registry, Some(Registry::RipeNcc));
        assert_eq!(o.allocated.as_deref(), Some("2010-10-13"));
    }

    #[test]
    fn most_specific_prefix_wins_and_multi_origin_is_split() {
        let o = parse_origin(&[
            rec("20738 | 94.136.32.0/19 | DE | ripencc | 2008-07-17"),
            rec("20738 20773 | 94.136.40.0/24 | DE | ripencc | 2008-07-17"),
            rec("1 | 94.136.40.0/24 | DE | ripencc | 2008-07-17"),
        ])
        .unwrap();
        assert_eq!(o.asns, vec![Asn(20738), Asn(20773)]);
        assert_eq!(o.prefix, Some("94.136.40.0/24".parse().unwrap()));
    }

    #[test]
    fn unannounced_and_multi_string_records() {
        let o = parse_origin(&[rec("NA | NA | NA | lacnic | NA")]).unwrap();
        assert!(o.asns.is_empty() && o.prefix.is_none() && o.cc.is_none());
        let o = parse_origin(&[vec![
            b"15169 | 2001:4860::/32 ".to_vec(),
            b"| US | arin | 2005-03-14".to_vec(),
        ]])
        .unwrap();
        assert_eq!(o.prefix, Some("2001:4860::/32".parse().unwrap()));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "garbage",
            "1 | 2 | 3",
            "AS1x | 1.2.3.0/24 | US | arin | x",
            "1 | 1.2.3.0/99 | US | arin | x",
        ] {
            assert!(
                matches!(parse_origin(&[rec(bad)]), Err(CymruError::Malformed(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_origin(&[rec("1 | 1.2.3.0/24 | US | nowhere | x")]),
            Err(CymruError::UnknownRegistry(_))
        ));
        assert_eq!(parse_origin(&[]), Err(CymruError::Empty));
        assert!(parse_origin(&[vec![vec![0xff, 0xfe, b'|']]]).is_err());
    }

    #[test]
    fn as_name_is_field_four_of_the_first_record() {
        let name = parse_as_name(&[
            rec("63949 | SG | apnic | 2014-11-12 | AKAMAI-LINODE-AP Akamai Connected Cloud, SG"),
            rec("1 | US | arin | x | OTHER"),
        ])
        .unwrap();
        assert_eq!(name, "AKAMAI-LINODE-AP Akamai Connected Cloud, SG");
        assert!(parse_as_name(&[rec("VK-AS")]).is_err());
        assert!(parse_as_name(&[]).is_err());
    }
}
