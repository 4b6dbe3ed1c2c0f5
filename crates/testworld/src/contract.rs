//! The compatibility contract's five example logins as a ready [`World`].
//!
//! This module owns the facts behind the five `mail-audit:` lines of the contract (PTR names,
//! Team Cymru TXT answers, RDAP answers) and the lines themselves. The RDAP bodies are written by
//! hand in the format each RIR uses (RIPE for VK and Linode, ARIN for Google; ARIN gives no
//! `country`), carrying exactly the facts the audit lines show. Like real RIPE answers, the abuse
//! role entity of a RIPE network has a nested entity: the audit line lists only the top-level
//! entities, so a parser that flattens nested ones gets one entity too many.
//!
//! The reserved address 172.17.1.204 has only a PTR record: any Cymru or RDAP request for it is a
//! mistake that the counters show.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::{json, Value};

use crate::rdap::{Reply, Routes};
use crate::world::World;
use crate::zone::{cymru_asn_name, cymru_origin_name, reverse_name, Zone};

/// One of the contract's logins and what the fakes know about its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContractLogin {
    /// The user name of the audit line.
    pub user: &'static str,
    /// The service of the audit line.
    pub service: &'static str,
    /// The client address.
    pub ip: IpAddr,
    /// The PTR answer for `ip`.
    pub host: &'static str,
    /// The Team Cymru origin TXT answer, if the address is public.
    pub origin_txt: Option<&'static str>,
    /// The AS number of the origin answer.
    pub asn: Option<u32>,
    /// The Team Cymru AS TXT answer.
    pub asn_txt: Option<&'static str>,
    /// The RDAP path the fake serves for `ip` (registry prefix + `ip/<address>`).
    pub rdap_path: Option<&'static str>,
    /// The expected `mail-audit:` line.
    pub audit_line: &'static str,
}

impl ContractLogin {
    /// The reverse-DNS name queried for this login.
    pub fn ptr_name(&self) -> String {
        reverse_name(self.ip)
    }

    /// The Cymru origin name queried for this login.
    pub fn origin_name(&self) -> String {
        cymru_origin_name(self.ip)
    }

    /// The Cymru AS name queried for this login, if it has an AS.
    pub fn asn_name(&self) -> Option<String> {
        self.asn.map(cymru_asn_name)
    }
}

/// The five audit lines, in the contract's order.
pub const CONTRACT_AUDIT_LINES: [&str; 5] = [
    "mail-audit: user=<honey-craig>, service=imap, ip=176.112.169.218, host=rimap26.i.mail.ru, asn=AS47764, as_cc=RU, as_desc=<VK-AS, RU>, net_name=<VK-FRONT>, net_cc=RU, entity=EY1327-RIPE, entity=ORG-LLCn4-RIPE, entity=RIPE-NCC-END-MNT, entity=VKCOMPANY-MNT, entity=VKNC, entity=MAIL-RU",
    "mail-audit: user=<honey>, service=imap, ip=172.17.1.204, host=dhcp204.internal, asn=None, as_cc=ZZ, as_desc=<IANA-RESERVED>, net_name=<Private-Use Networks>, net_cc=ZZ, entity=None",
    "mail-audit: user=<honey-sugar>, service=imap, ip=139.162.133.252, host=node-eu-0001.email2-cloud.com, asn=AS63949, as_cc=NL, as_desc=<AKAMAI-LINODE-AP Akamai Connected Cloud, SG>, net_name=<EU-LINODE-20141229>, net_cc=US, entity=linode-mnt, entity=ORG-LL72-RIPE, entity=TA2589-RIPE, entity=LAS85-RIPE",
    "mail-audit: user=<honey-gmail-pop>, service=pop3, ip=209.85.218.15, host=mail-ej1-f15.google.com, asn=AS15169, as_cc=US, as_desc=<GOOGLE, US>, net_name=<GOOGLE>, net_cc=None, entity=GOGL",
    "mail-audit: user=<honey-gmail-smtp>, service=smtp, ip=209.85.218.53, host=mail-ej1-f53.google.com, asn=AS15169, as_cc=US, as_desc=<GOOGLE, US>, net_name=<GOOGLE>, net_cc=None, entity=GOGL",
];

const fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// The five logins, in the contract's order.
pub const CONTRACT_LOGINS: [ContractLogin; 5] = [
    ContractLogin {
        user: "honey-craig",
        service: "imap",
        ip: v4(176, 112, 169, 218),
        host: "rimap26.i.mail.ru",
        origin_txt: Some("47764 | 176.112.168.0/21 | RU | ripencc | 2010-10-13"),
        asn: Some(47764),
        asn_txt: Some("47764 | RU | ripencc | 2010-10-13 | VK-AS, RU"),
        rdap_path: Some("/ripe/ip/176.112.169.218"),
        audit_line: CONTRACT_AUDIT_LINES[0],
    },
    ContractLogin {
        user: "honey",
        service: "imap",
        ip: v4(172, 17, 1, 204),
        host: "dhcp204.internal",
        origin_txt: None,
        asn: None,
        asn_txt: None,
        rdap_path: None,
        audit_line: CONTRACT_AUDIT_LINES[1],
    },
    ContractLogin {
        user: "honey-sugar",
        service: "imap",
        ip: v4(139, 162, 133, 252),
        host: "node-eu-0001.email2-cloud.com",
        origin_txt: Some("63949 | 139.162.0.0/16 | NL | ripencc | 2014-12-29"),
        asn: Some(63949),
        asn_txt: Some(
            "63949 | SG | apnic | 2014-11-12 | AKAMAI-LINODE-AP Akamai Connected Cloud, SG",
        ),
        rdap_path: Some("/ripe/ip/139.162.133.252"),
        audit_line: CONTRACT_AUDIT_LINES[2],
    },
    ContractLogin {
        user: "honey-gmail-pop",
        service: "pop3",
        ip: v4(209, 85, 218, 15),
        host: "mail-ej1-f15.google.com",
        origin_txt: Some("15169 | 209.85.128.0/17 | US | arin | 2004-03-02"),
        asn: Some(15169),
        asn_txt: Some("15169 | US | arin | 2000-03-30 | GOOGLE, US"),
        rdap_path: Some("/arin/ip/209.85.218.15"),
        audit_line: CONTRACT_AUDIT_LINES[3],
    },
    ContractLogin {
        user: "honey-gmail-smtp",
        service: "smtp",
        ip: v4(209, 85, 218, 53),
        host: "mail-ej1-f53.google.com",
        origin_txt: Some("15169 | 209.85.128.0/17 | US | arin | 2004-03-02"),
        asn: Some(15169),
        asn_txt: Some("15169 | US | arin | 2000-03-30 | GOOGLE, US"),
        rdap_path: Some("/arin/ip/209.85.218.53"),
        audit_line: CONTRACT_AUDIT_LINES[4],
    },
];

/// The zone and RDAP routes carrying exactly the contract's facts.
///
/// DNS: a PTR for each of the five addresses (and an A record back for each public host name),
/// the origin TXT for the four public addresses, the AS TXT for AS47764, AS63949 and AS15169.
/// RDAP: `/ripe/ip/176.112.169.218`, `/ripe/ip/139.162.133.252`, `/arin/ip/209.85.218.15` and
/// `/arin/ip/209.85.218.53`; set each registry's base URL to `<base_url>ripe/`, `<base_url>arin/`.
pub fn contract_world() -> World {
    let mut zone = Zone::new();
    let mut rdap = Routes::new();
    for login in &CONTRACT_LOGINS {
        zone.ptr(login.ip, login.host);
        if let Some(origin) = login.origin_txt {
            zone.cymru_origin(login.ip, origin);
            if let IpAddr::V4(ip) = login.ip {
                zone.a(login.host, ip);
            }
        }
        if let (Some(asn), Some(text)) = (login.asn, login.asn_txt) {
            zone.cymru_asn(asn, text);
        }
        if let Some(path) = login.rdap_path {
            if let Some(body) = contract_rdap_body(login.ip) {
                rdap.route(path, Reply::json_value(&body));
            }
        }
    }
    World { zone, rdap }
}

/// The RDAP answer the contract world gives for `ip` (`None` for addresses without one).
pub fn contract_rdap_body(ip: IpAddr) -> Option<Value> {
    match ip {
        IpAddr::V4(v4) => match v4.octets() {
            [176, 112, 169, 218] => Some(vk_front(&ip)),
            [139, 162, 133, 252] => Some(eu_linode(&ip)),
            [209, 85, 218, 15] | [209, 85, 218, 53] => Some(google(&ip)),
            _ => None,
        },
        IpAddr::V6(_) => None,
    }
}

fn ripe_entity(handle: &str, roles: &[&str]) -> Value {
    json!({"handle": handle, "roles": roles, "objectClassName": "entity"})
}

fn ripe_links(ip: &IpAddr, handle: &str) -> Value {
    json!([
        {"value": format!("https://rdap.db.ripe.net/ip/{ip}"), "rel": "self",
         "href": format!("https://rdap.db.ripe.net/ip/{handle}")},
        {"value": format!("https://rdap.db.ripe.net/ip/{ip}"), "rel": "copyright",
         "href": "https://www.ripe.net/legal/ripe-db-copyright-notice"}
    ])
}

fn ripe_notices(ip: &IpAddr) -> Value {
    json!([
        {"title": "Filtered", "description": ["This output has been filtered."]},
        {"title": "Source", "description": ["Objects returned came from source", "RIPE"]},
        {"title": "Terms and Conditions",
         "description": ["This is the RIPE Database query service. The objects are in RDAP format."],
         "links": [{"value": format!("https://rdap.db.ripe.net/ip/{ip}"), "rel": "terms-of-service",
                    "href": "https://apps.db.ripe.net/docs/HTML-Terms-And-Conditions",
                    "type": "application/pdf"}]}
    ])
}

fn ripe_abuse_role(handle: &str, name: &str, email: &str, maintainer: &str) -> Value {
    json!({
        "handle": handle,
        "vcardArray": ["vcard", [
            ["version", {}, "text", "4.0"],
            ["fn", {}, "text", name],
            ["kind", {}, "text", "group"],
            ["email", {"type": "email"}, "text", email],
            ["email", {"type": "abuse"}, "text", email]
        ]],
        "roles": ["abuse"],
        "entities": [ripe_entity(maintainer, &["registrant"])],
        "objectClassName": "entity"
    })
}

/// RIPE-style answer for 176.112.169.218: VK-FRONT, RU, 176.112.168.0 - 176.112.175.255.
fn vk_front(ip: &IpAddr) -> Value {
    let handle = "176.112.168.0 - 176.112.175.255";
    json!({
        "handle": handle,
        "startAddress": "176.112.168.0",
        "endAddress": "176.112.175.255",
        "ipVersion": "v4",
        "name": "VK-FRONT",
        "type": "ASSIGNED PA",
        "country": "RU",
        "entities": [
            ripe_entity("EY1327-RIPE", &["administrative", "technical"]),
            ripe_entity("ORG-LLCn4-RIPE", &["registrant"]),
            ripe_entity("RIPE-NCC-END-MNT", &["registrant"]),
            ripe_entity("VKCOMPANY-MNT", &["registrant"]),
            ripe_entity("VKNC", &["technical"]),
            ripe_abuse_role("MAIL-RU", "Mail.Ru Abuse", "abuse@corp.mail.ru", "VKCOMPANY-MNT")
        ],
        "links": ripe_links(ip, handle),
        "events": [{"eventAction": "last changed", "eventDate": "2023-02-14T10:21:05Z"}],
        "rdapConformance": ["cidr0", "rdap_level_0", "nro_rdap_profile_0", "redacted"],
        "notices": ripe_notices(ip),
        "port43": "whois.ripe.net",
        "objectClassName": "ip network",
        "cidr0_cidrs": [{"v4prefix": "176.112.168.0", "length": 21}]
    })
}

/// RIPE-style answer for 139.162.133.252: EU-LINODE-20141229, US.
fn eu_linode(ip: &IpAddr) -> Value {
    let handle = "139.162.0.0 - 139.162.255.255";
    json!({
        "handle": handle,
        "startAddress": "139.162.0.0",
        "endAddress": "139.162.255.255",
        "ipVersion": "v4",
        "name": "EU-LINODE-20141229",
        "type": "LEGACY",
        "country": "US",
        "entities": [
            ripe_entity("linode-mnt", &["registrant"]),
            ripe_entity("ORG-LL72-RIPE", &["registrant"]),
            ripe_entity("TA2589-RIPE", &["administrative", "technical"]),
            ripe_abuse_role("LAS85-RIPE", "Linode Abuse Support", "abuse@linode.com", "linode-mnt")
        ],
        "remarks": [{"description": ["Linode, LLC"]}],
        "links": ripe_links(ip, handle),
        "events": [{"eventAction": "last changed", "eventDate": "2023-05-26T14:06:31Z"}],
        "rdapConformance": ["cidr0", "rdap_level_0", "nro_rdap_profile_0", "redacted"],
        "notices": ripe_notices(ip),
        "port43": "whois.ripe.net",
        "objectClassName": "ip network",
        "cidr0_cidrs": [{"v4prefix": "139.162.0.0", "length": 16}]
    })
}

fn arin_link(ip: &IpAddr, href: &str, rel: &str, media: &str) -> Value {
    json!({"value": format!("https://rdap.arin.net/registry/ip/{ip}"), "rel": rel,
           "type": media, "href": href})
}

/// ARIN-style answer for 209.85.218.x: NET-209-85-128-0-1 GOOGLE, no country.
fn google(ip: &IpAddr) -> Value {
    let poc = |handle: &str, name: &str, roles: &[&str]| {
        json!({
            "handle": handle,
            "vcardArray": ["vcard", [
                ["version", {}, "text", "4.0"],
                ["fn", {}, "text", name],
                ["kind", {}, "text", "group"],
                ["email", {}, "text", "network-abuse@google.com"]
            ]],
            "roles": roles,
            "links": [
                arin_link(ip, &format!("https://rdap.arin.net/registry/entity/{handle}"), "self", "application/rdap+json"),
                arin_link(ip, &format!("https://whois.arin.net/rest/poc/{handle}"), "alternate", "application/xml")
            ],
            "status": ["validated"],
            "port43": "whois.arin.net",
            "objectClassName": "entity"
        })
    };
    json!({
        "rdapConformance": ["nro_rdap_profile_0", "rdap_level_0", "cidr0", "arin_originas0"],
        "notices": [
            {"title": "Terms of Service",
             "description": ["By using the ARIN RDAP/Whois service, you are agreeing to the RDAP/Whois Terms of Use"],
             "links": [arin_link(ip, "https://www.arin.net/resources/registry/whois/tou/", "terms-of-service", "text/html")]},
            {"title": "Copyright Notice",
             "description": ["Copyright 1997-2025, American Registry for Internet Numbers, Ltd."]}
        ],
        "handle": "NET-209-85-128-0-1",
        "startAddress": "209.85.128.0",
        "endAddress": "209.85.255.255",
        "ipVersion": "v4",
        "name": "GOOGLE",
        "type": "DIRECT ALLOCATION",
        "parentHandle": "NET-209-0-0-0-0",
        "events": [
            {"eventAction": "last changed", "eventDate": "2012-02-24T09:44:34-05:00"},
            {"eventAction": "registration", "eventDate": "2006-01-13T00:00:00-05:00"}
        ],
        "links": [
            arin_link(ip, "https://rdap.arin.net/registry/ip/209.85.128.0", "self", "application/rdap+json"),
            arin_link(ip, "https://whois.arin.net/rest/net/NET-209-85-128-0-1", "alternate", "application/xml")
        ],
        "entities": [{
            "handle": "GOGL",
            "vcardArray": ["vcard", [
                ["version", {}, "text", "4.0"],
                ["fn", {}, "text", "Google LLC"],
                ["adr", {"label": "1600 Amphitheatre Parkway\nMountain View\nCA\n94043\nUnited States"}, "text",
                 ["", "", "", "", "", "", ""]],
                ["kind", {}, "text", "org"]
            ]],
            "roles": ["registrant"],
            "entities": [
                poc("ABUSE5250-ARIN", "Abuse", &["abuse"]),
                poc("ZG39-ARIN", "Google LLC", &["administrative", "technical"])
            ],
            "links": [
                arin_link(ip, "https://rdap.arin.net/registry/entity/GOGL", "self", "application/rdap+json"),
                arin_link(ip, "https://whois.arin.net/rest/org/GOGL", "alternate", "application/xml")
            ],
            "events": [
                {"eventAction": "last changed", "eventDate": "2019-10-31T15:45:45-04:00"},
                {"eventAction": "registration", "eventDate": "2000-03-30T00:00:00-05:00"}
            ],
            "port43": "whois.arin.net",
            "objectClassName": "entity"
        }],
        "port43": "whois.arin.net",
        "status": ["active"],
        "objectClassName": "ip network",
        "cidr0_cidrs": [{"v4prefix": "209.85.128.0", "length": 17}],
        "arin_originas0_originautnums": []
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::{RecordData, RrType};

    #[test]
    fn audit_lines_match_the_projects_copy() {
        // The project keeps the same five lines under tests/fixtures/contract/.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/contract/audit-lines.txt"
        );
        if let Ok(text) = std::fs::read_to_string(path) {
            let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
            assert_eq!(lines, CONTRACT_AUDIT_LINES);
        }
        for (login, line) in CONTRACT_LOGINS.iter().zip(CONTRACT_AUDIT_LINES) {
            assert!(line.contains(&format!("user=<{}>", login.user)));
            assert!(line.contains(&format!("service={},", login.service)));
            assert!(line.contains(&format!("ip={},", login.ip)));
            assert!(line.contains(&format!("host={},", login.host)));
            if let Some(asn) = login.asn {
                assert!(line.contains(&format!("asn=AS{asn},")));
            }
        }
    }

    #[test]
    fn rdap_bodies_carry_the_audit_facts() {
        for login in &CONTRACT_LOGINS {
            let Some(body) = contract_rdap_body(login.ip) else {
                assert!(login.rdap_path.is_none());
                continue;
            };
            let line = login.audit_line;
            let name = body["name"].as_str().unwrap();
            assert!(line.contains(&format!("net_name=<{name}>")), "{line}");
            match body.get("country").and_then(Value::as_str) {
                Some(cc) => assert!(line.contains(&format!("net_cc={cc},"))),
                None => assert!(line.contains("net_cc=None,")),
            }
            let handles: Vec<String> = body["entities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| format!("entity={}", e["handle"].as_str().unwrap()))
                .collect();
            assert!(line.ends_with(&handles.join(", ")), "{line}");
        }
    }

    #[test]
    fn world_has_exactly_the_expected_names() {
        let world = contract_world();
        // 5 PTR + 4 A + 4 origin TXT + 3 AS TXT.
        assert_eq!(world.zone.len(), 16);
        assert_eq!(world.rdap.exact.len(), 4);
        let reserved = &CONTRACT_LOGINS[1];
        assert!(world
            .zone
            .get(&reserved.origin_name(), RrType::Txt)
            .is_none());
        let vk = world
            .zone
            .get(&CONTRACT_LOGINS[0].origin_name(), RrType::Txt);
        assert_eq!(
            vk.map(|s| &s.data),
            Some(&RecordData::Txt(vec![vec![
                b"47764 | 176.112.168.0/21 | RU | ripencc | 2010-10-13".to_vec()
            ]]))
        );
    }
}
