//! The DNS data a [`FakeDns`](crate::FakeDns) serves, and the faults it injects.
//!
//! This module owns the zone table (record sets keyed by lower-cased absolute name and record
//! type), the fall-back entries ("any name under this suffix", "any Cymru/reverse name whose
//! address lies in this network"), the per-name and default [`Fault`]s, the global latency, and
//! the helpers that compute reverse (`in-addr.arpa.`, `ip6.arpa.`) and Team Cymru names. It knows
//! nothing about sockets: [`Zone::resolve`] answers one question with plain data.
//!
//! A `Zone` serialises to a simple JSON form (used by `testworld serve --spec`):
//!
//! ```json
//! {
//!   "records":  [{"name": "x.example.", "ttl": 300, "txt": [["one string"], ["two", "strings"]]},
//!                {"name": "4.3.2.1.in-addr.arpa.", "ptr": ["host.example."]},
//!                {"name": "host.example.", "a": ["1.2.3.4"]}],
//!   "suffixes": [{"suffix": "origin.asn.cymru.com.", "txt": [["64500 | 10.0.0.0/8 | ZZ | test | 2020-01-01"]]}],
//!   "nets":     [{"under": "cymru_origin", "ip": "10.0.0.0", "prefix_len": 8, "txt": [["..."]]}],
//!   "faults":   [{"name": "slow.example.", "fault": {"delay": 250}}, {"suffix": "cymru.com.", "fault": "servfail"}],
//!   "default_fault": null,
//!   "latency_ms": 0
//! }
//! ```
//!
//! TXT character-strings are written as JSON strings when they are UTF-8, otherwise as arrays of
//! byte values.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// TTL used by the convenience builders.
pub const DEFAULT_TTL: u32 = 300;

/// Longest DNS character-string; longer texts are split into consecutive strings.
const MAX_CHARACTER_STRING: usize = 255;

/// The DNS record types the fake knows by name; anything else is `Other(code)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RrType {
    /// IPv4 address (1).
    A,
    /// IPv6 address (28).
    Aaaa,
    /// Pointer, for reverse DNS (12).
    Ptr,
    /// Text (16).
    Txt,
    /// Any other type, by its numeric code.
    Other(u16),
}

impl RrType {
    /// The numeric record type code.
    pub fn code(self) -> u16 {
        match self {
            RrType::A => 1,
            RrType::Aaaa => 28,
            RrType::Ptr => 12,
            RrType::Txt => 16,
            RrType::Other(code) => code,
        }
    }
}

impl From<u16> for RrType {
    fn from(code: u16) -> Self {
        match code {
            1 => RrType::A,
            28 => RrType::Aaaa,
            12 => RrType::Ptr,
            16 => RrType::Txt,
            other => RrType::Other(other),
        }
    }
}

impl fmt::Display for RrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RrType::A => f.write_str("A"),
            RrType::Aaaa => f.write_str("AAAA"),
            RrType::Ptr => f.write_str("PTR"),
            RrType::Txt => f.write_str("TXT"),
            RrType::Other(code) => write!(f, "TYPE{code}"),
        }
    }
}

/// The records of one record set. All records of a set have the same type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordData {
    /// TXT records: each record is a list of character-strings (arbitrary bytes, at most 255
    /// bytes each).
    Txt(#[serde(with = "txt_serde")] Vec<Vec<Vec<u8>>>),
    /// PTR records: absolute host names.
    Ptr(Vec<String>),
    /// A records.
    A(Vec<Ipv4Addr>),
    /// AAAA records.
    Aaaa(Vec<Ipv6Addr>),
}

impl RecordData {
    /// The record type of this data.
    pub fn rr_type(&self) -> RrType {
        match self {
            RecordData::Txt(_) => RrType::Txt,
            RecordData::Ptr(_) => RrType::Ptr,
            RecordData::A(_) => RrType::A,
            RecordData::Aaaa(_) => RrType::Aaaa,
        }
    }

    /// Number of records in the set.
    pub fn len(&self) -> usize {
        match self {
            RecordData::Txt(v) => v.len(),
            RecordData::Ptr(v) => v.len(),
            RecordData::A(v) => v.len(),
            RecordData::Aaaa(v) => v.len(),
        }
    }

    /// True when the set holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A record set: the records answered for one (name, type), with their TTL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSet {
    /// Time to live in seconds, the same for every record of the set.
    #[serde(default = "default_ttl")]
    pub ttl: u32,
    /// The records.
    #[serde(flatten)]
    pub data: RecordData,
}

fn default_ttl() -> u32 {
    DEFAULT_TTL
}

/// A fault the DNS server injects instead of (or before) the normal answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Never answer (over UDP and TCP).
    Timeout,
    /// Answer SERVFAIL with no records.
    #[serde(rename = "servfail")]
    ServFail,
    /// Answer REFUSED with no records.
    Refused,
    /// Send back bytes that are not a DNS message (they start with the query's id).
    Garbage,
    /// Over UDP: an empty answer with the TC bit set; over TCP: the real answer.
    Truncated,
    /// The normal answer, after this delay (on top of the zone's latency).
    Delay(#[serde(with = "duration_ms")] Duration),
}

/// Which family of names a network entry ([`Zone::cymru_origin_net`], [`Zone::ptr_net`]) matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetZone {
    /// `<reversed octets>.origin.asn.cymru.com.` and `<reversed nibbles>.origin6.asn.cymru.com.`
    CymruOrigin,
    /// `<reversed octets>.in-addr.arpa.` and `<reversed nibbles>.ip6.arpa.`
    Reverse,
}

impl NetZone {
    fn suffixes(self) -> (&'static str, &'static str) {
        match self {
            NetZone::CymruOrigin => ("origin.asn.cymru.com.", "origin6.asn.cymru.com."),
            NetZone::Reverse => ("in-addr.arpa.", "ip6.arpa."),
        }
    }
}

/// "Any name of this family whose address lies in `ip/prefix_len` gets `set`".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetEntry {
    /// The family of names matched.
    pub under: NetZone,
    /// Network address.
    pub ip: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// The records answered.
    #[serde(flatten)]
    pub set: RecordSet,
}

/// "Any name equal to or under `suffix` gets `set`" (when no exact entry exists).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuffixEntry {
    /// Lower-cased absolute suffix, e.g. `origin.asn.cymru.com.`.
    pub suffix: String,
    /// The records answered.
    #[serde(flatten)]
    pub set: RecordSet,
}

/// An exact record set, as it appears in the JSON form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct NamedSet {
    name: String,
    #[serde(flatten)]
    set: RecordSet,
}

/// A fault attached to a name or to a suffix, as it appears in the JSON form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct FaultSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suffix: Option<String>,
    fault: Fault,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct ZoneSpec {
    records: Vec<NamedSet>,
    suffixes: Vec<SuffixEntry>,
    nets: Vec<NetEntry>,
    faults: Vec<FaultSpec>,
    default_fault: Option<Fault>,
    latency_ms: u64,
}

/// What [`Zone::resolve`] found for a question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Records of the asked type.
    Answer(RecordSet),
    /// The name exists, but has no record of the asked type (NOERROR, no answers).
    NoData,
    /// The name does not exist.
    NxDomain,
}

/// The zone table of a [`FakeDns`](crate::FakeDns): record sets, fall-backs, faults, latency.
///
/// Names are case-insensitive and always absolute: `"Example.COM"` and `"example.com."` are the
/// same key. The builders replace any record set of the same (name, type).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ZoneSpec", into = "ZoneSpec")]
pub struct Zone {
    exact: HashMap<(String, RrType), RecordSet>,
    suffixes: Vec<SuffixEntry>,
    nets: Vec<NetEntry>,
    name_faults: HashMap<String, Fault>,
    suffix_faults: Vec<(String, Fault)>,
    default_fault: Option<Fault>,
    latency: Duration,
}

impl From<ZoneSpec> for Zone {
    fn from(spec: ZoneSpec) -> Self {
        let mut zone = Zone::new();
        for named in spec.records {
            zone.insert(&named.name, named.set);
        }
        for entry in spec.suffixes {
            zone.insert_suffix(&entry.suffix, entry.set);
        }
        for net in spec.nets {
            zone.insert_net(net.under, net.ip, net.prefix_len, net.set);
        }
        for fault in spec.faults {
            if let Some(name) = fault.name {
                zone.set_fault(&name, fault.fault);
            }
            if let Some(suffix) = fault.suffix {
                zone.set_fault_under(&suffix, fault.fault);
            }
        }
        zone.default_fault = spec.default_fault;
        zone.latency = Duration::from_millis(spec.latency_ms);
        zone
    }
}

impl From<Zone> for ZoneSpec {
    fn from(zone: Zone) -> Self {
        let mut records: Vec<NamedSet> = zone
            .exact
            .into_iter()
            .map(|((name, _), set)| NamedSet { name, set })
            .collect();
        records
            .sort_by(|a, b| (&a.name, a.set.data.rr_type()).cmp(&(&b.name, b.set.data.rr_type())));
        let mut faults: Vec<FaultSpec> = zone
            .name_faults
            .into_iter()
            .map(|(name, fault)| FaultSpec {
                name: Some(name),
                suffix: None,
                fault,
            })
            .collect();
        faults.sort_by(|a, b| a.name.cmp(&b.name));
        faults.extend(
            zone.suffix_faults
                .into_iter()
                .map(|(suffix, fault)| FaultSpec {
                    name: None,
                    suffix: Some(suffix),
                    fault,
                }),
        );
        ZoneSpec {
            records,
            suffixes: zone.suffixes,
            nets: zone.nets,
            faults,
            default_fault: zone.default_fault,
            latency_ms: u64::try_from(zone.latency.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl Zone {
    /// An empty zone: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }

    // ----- generic insertion -------------------------------------------------------------

    /// Sets the record set for (`name`, type of `set`), replacing any previous one.
    pub fn insert(&mut self, name: &str, set: RecordSet) -> &mut Self {
        let key = (normalize_name(name), set.data.rr_type());
        self.exact.insert(key, set);
        self
    }

    /// Removes every record set of `name` (all types). Returns how many were removed.
    pub fn remove_name(&mut self, name: &str) -> usize {
        let name = normalize_name(name);
        let before = self.exact.len();
        self.exact.retain(|(n, _), _| *n != name);
        before - self.exact.len()
    }

    /// Removes the record set of (`name`, `rr_type`); true if there was one.
    pub fn remove(&mut self, name: &str, rr_type: RrType) -> bool {
        self.exact
            .remove(&(normalize_name(name), rr_type))
            .is_some()
    }

    /// The exact record set of (`name`, `rr_type`), if any (fall-backs not consulted).
    pub fn get(&self, name: &str, rr_type: RrType) -> Option<&RecordSet> {
        self.exact.get(&(normalize_name(name), rr_type))
    }

    /// Number of exact record sets.
    pub fn len(&self) -> usize {
        self.exact.len()
    }

    /// True when the zone has no exact record set.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    /// Answers for any name equal to or under `suffix` (for the type of `set`) when the name has
    /// no exact record set of that type. The longest matching suffix wins.
    pub fn insert_suffix(&mut self, suffix: &str, set: RecordSet) -> &mut Self {
        let suffix = normalize_name(suffix);
        let rr_type = set.data.rr_type();
        self.suffixes
            .retain(|e| !(e.suffix == suffix && e.set.data.rr_type() == rr_type));
        self.suffixes.push(SuffixEntry { suffix, set });
        self
    }

    /// Answers for any name of family `under` whose address lies in `ip/prefix_len` (for the type
    /// of `set`) when the name has no exact record set of that type. The longest prefix wins.
    pub fn insert_net(
        &mut self,
        under: NetZone,
        ip: IpAddr,
        prefix_len: u8,
        set: RecordSet,
    ) -> &mut Self {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix_len = prefix_len.min(max);
        let ip = mask(ip, prefix_len);
        let rr_type = set.data.rr_type();
        self.nets.retain(|e| {
            !(e.under == under
                && e.ip == ip
                && e.prefix_len == prefix_len
                && e.set.data.rr_type() == rr_type)
        });
        self.nets.push(NetEntry {
            under,
            ip,
            prefix_len,
            set,
        });
        self
    }

    // ----- convenience builders -------------------------------------------------------------

    /// TXT records for `name`, one record per text, each text one character-string (texts
    /// longer than 255 bytes are split into consecutive character-strings).
    pub fn txt<T: AsRef<[u8]>>(&mut self, name: &str, records: &[T]) -> &mut Self {
        self.txt_ttl(name, DEFAULT_TTL, records)
    }

    /// [`Zone::txt`] with an explicit TTL.
    pub fn txt_ttl<T: AsRef<[u8]>>(&mut self, name: &str, ttl: u32, records: &[T]) -> &mut Self {
        let data = records
            .iter()
            .map(|text| split_character_strings(text.as_ref()))
            .collect();
        self.insert(
            name,
            RecordSet {
                ttl,
                data: RecordData::Txt(data),
            },
        )
    }

    /// TXT records for `name` where each record has several character-strings.
    pub fn txt_strings<T: AsRef<[u8]>>(&mut self, name: &str, records: &[&[T]]) -> &mut Self {
        let data = records
            .iter()
            .map(|strings| {
                strings
                    .iter()
                    .flat_map(|s| split_character_strings(s.as_ref()))
                    .collect()
            })
            .collect();
        self.insert(
            name,
            RecordSet {
                ttl: DEFAULT_TTL,
                data: RecordData::Txt(data),
            },
        )
    }

    /// A PTR record for `ip` (at its `in-addr.arpa.` / `ip6.arpa.` name) pointing to `host`.
    pub fn ptr(&mut self, ip: IpAddr, host: &str) -> &mut Self {
        self.ptr_ttl(ip, DEFAULT_TTL, host)
    }

    /// [`Zone::ptr`] with an explicit TTL.
    pub fn ptr_ttl(&mut self, ip: IpAddr, ttl: u32, host: &str) -> &mut Self {
        self.insert(
            &reverse_name(ip),
            RecordSet {
                ttl,
                data: RecordData::Ptr(vec![absolute(host)]),
            },
        )
    }

    /// An A record: `name` → `ip`.
    pub fn a(&mut self, name: &str, ip: Ipv4Addr) -> &mut Self {
        self.insert(
            name,
            RecordSet {
                ttl: DEFAULT_TTL,
                data: RecordData::A(vec![ip]),
            },
        )
    }

    /// An AAAA record: `name` → `ip`.
    pub fn aaaa(&mut self, name: &str, ip: Ipv6Addr) -> &mut Self {
        self.insert(
            name,
            RecordSet {
                ttl: DEFAULT_TTL,
                data: RecordData::Aaaa(vec![ip]),
            },
        )
    }

    /// Team Cymru origin answer for `ip`: a TXT record at `<reversed octets>.origin.asn.cymru.com.`
    /// (IPv4) or `<32 reversed nibbles>.origin6.asn.cymru.com.` (IPv6), e.g.
    /// `"47764 | 176.112.168.0/21 | RU | ripencc | 2010-10-13"`.
    pub fn cymru_origin(&mut self, ip: IpAddr, text: &str) -> &mut Self {
        self.txt(&cymru_origin_name(ip), &[text])
    }

    /// Team Cymru AS answer: a TXT record at `AS<asn>.asn.cymru.com.`, e.g.
    /// `"47764 | RU | ripencc | 2010-10-13 | VK-AS, RU"`.
    pub fn cymru_asn(&mut self, asn: u32, text: &str) -> &mut Self {
        self.txt(&cymru_asn_name(asn), &[text])
    }

    /// Team Cymru origin answer for every address in `ip/prefix_len` (IPv4 or IPv6 origin names).
    pub fn cymru_origin_net(&mut self, ip: IpAddr, prefix_len: u8, text: &str) -> &mut Self {
        self.insert_net(
            NetZone::CymruOrigin,
            ip,
            prefix_len,
            RecordSet {
                ttl: DEFAULT_TTL,
                data: RecordData::Txt(vec![split_character_strings(text.as_bytes())]),
            },
        )
    }

    /// A PTR answer (`host`) for every address in `ip/prefix_len`.
    pub fn ptr_net(&mut self, ip: IpAddr, prefix_len: u8, host: &str) -> &mut Self {
        self.insert_net(
            NetZone::Reverse,
            ip,
            prefix_len,
            RecordSet {
                ttl: DEFAULT_TTL,
                data: RecordData::Ptr(vec![absolute(host)]),
            },
        )
    }

    /// TXT records (one character-string each) for any name equal to or under `suffix`.
    pub fn txt_under<T: AsRef<[u8]>>(&mut self, suffix: &str, records: &[T]) -> &mut Self {
        let data = records
            .iter()
            .map(|text| split_character_strings(text.as_ref()))
            .collect();
        self.insert_suffix(
            suffix,
            RecordSet {
                ttl: DEFAULT_TTL,
                data: RecordData::Txt(data),
            },
        )
    }

    /// A PTR record (`host`) for any name equal to or under `suffix`.
    pub fn ptr_under(&mut self, suffix: &str, host: &str) -> &mut Self {
        self.insert_suffix(
            suffix,
            RecordSet {
                ttl: DEFAULT_TTL,
                data: RecordData::Ptr(vec![absolute(host)]),
            },
        )
    }

    /// An A record (`ip`) for any name equal to or under `suffix`.
    pub fn a_under(&mut self, suffix: &str, ip: Ipv4Addr) -> &mut Self {
        self.insert_suffix(
            suffix,
            RecordSet {
                ttl: DEFAULT_TTL,
                data: RecordData::A(vec![ip]),
            },
        )
    }

    // ----- faults and latency -------------------------------------------------------------

    /// Injects `fault` for every query of `name` (any type).
    pub fn set_fault(&mut self, name: &str, fault: Fault) -> &mut Self {
        self.name_faults.insert(normalize_name(name), fault);
        self
    }

    /// Injects `fault` for every query of a name equal to or under `suffix` (any type), unless
    /// the name has its own fault. The longest matching suffix wins.
    pub fn set_fault_under(&mut self, suffix: &str, fault: Fault) -> &mut Self {
        let suffix = normalize_name(suffix);
        self.suffix_faults.retain(|(s, _)| *s != suffix);
        self.suffix_faults.push((suffix, fault));
        self
    }

    /// Removes the fault of `name` and of the suffix `name` (if any).
    pub fn clear_fault(&mut self, name: &str) -> &mut Self {
        let name = normalize_name(name);
        self.name_faults.remove(&name);
        self.suffix_faults.retain(|(s, _)| *s != name);
        self
    }

    /// Removes every fault, including the default one.
    pub fn clear_faults(&mut self) -> &mut Self {
        self.name_faults.clear();
        self.suffix_faults.clear();
        self.default_fault = None;
        self
    }

    /// The fault for names that have none of their own (`None`: answer normally).
    pub fn set_default_fault(&mut self, fault: Option<Fault>) -> &mut Self {
        self.default_fault = fault;
        self
    }

    /// A delay added before every answer (errors included).
    pub fn set_latency(&mut self, latency: Duration) -> &mut Self {
        self.latency = latency;
        self
    }

    /// The global latency.
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// The fault that applies to `name`: its own, else the longest matching suffix's, else the
    /// default one.
    pub fn fault_for(&self, name: &str) -> Option<Fault> {
        let name = normalize_name(name);
        if let Some(fault) = self.name_faults.get(&name) {
            return Some(*fault);
        }
        self.suffix_faults
            .iter()
            .filter(|(suffix, _)| is_under(&name, suffix))
            .max_by_key(|(suffix, _)| suffix.len())
            .map(|(_, fault)| *fault)
            .or(self.default_fault)
    }

    // ----- answering --------------------------------------------------------------------------

    /// Answers a question: the exact record set, else the most specific network entry, else the
    /// longest suffix entry; if none has the asked type but one has another type, `NoData`.
    pub fn resolve(&self, name: &str, rr_type: RrType) -> Resolution {
        let name = normalize_name(name);
        if let Some(set) = self.exact.get(&(name.clone(), rr_type)) {
            return Resolution::Answer(set.clone());
        }
        if let Some(set) = self.net_match(&name, Some(rr_type)) {
            return Resolution::Answer(set.clone());
        }
        if let Some(set) = self.suffix_match(&name, Some(rr_type)) {
            return Resolution::Answer(set.clone());
        }
        let exists = self.exact.keys().any(|(n, _)| *n == name)
            || self.net_match(&name, None).is_some()
            || self.suffix_match(&name, None).is_some();
        if exists {
            Resolution::NoData
        } else {
            Resolution::NxDomain
        }
    }

    fn net_match(&self, name: &str, rr_type: Option<RrType>) -> Option<&RecordSet> {
        self.nets
            .iter()
            .filter(|e| rr_type.is_none_or(|t| e.set.data.rr_type() == t))
            .filter(|e| {
                parse_reversed_ip(name, e.under).is_some_and(|ip| {
                    mask(ip, e.prefix_len) == e.ip && ip.is_ipv4() == e.ip.is_ipv4()
                })
            })
            .max_by_key(|e| e.prefix_len)
            .map(|e| &e.set)
    }

    fn suffix_match(&self, name: &str, rr_type: Option<RrType>) -> Option<&RecordSet> {
        self.suffixes
            .iter()
            .filter(|e| rr_type.is_none_or(|t| e.set.data.rr_type() == t))
            .filter(|e| is_under(name, &e.suffix))
            .max_by_key(|e| e.suffix.len())
            .map(|e| &e.set)
    }
}

// ----- name helpers -----------------------------------------------------------------------------

/// Lower-cases `name` (ASCII only) and makes it absolute (one trailing dot). The root is `"."`.
pub fn normalize_name(name: &str) -> String {
    let trimmed = name.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return ".".to_owned();
    }
    let mut out = trimmed.to_ascii_lowercase();
    out.push('.');
    out
}

/// `name` with one trailing dot, case kept (for PTR targets).
fn absolute(name: &str) -> String {
    let trimmed = name.trim().trim_end_matches('.');
    format!("{trimmed}.")
}

/// True when `name` equals `suffix` or lies under it (both normalised).
fn is_under(name: &str, suffix: &str) -> bool {
    if suffix == "." {
        return true;
    }
    name == suffix
        || (name.len() > suffix.len()
            && name.ends_with(suffix)
            && name.as_bytes()[name.len() - suffix.len() - 1] == b'.')
}

/// The reversed-octet labels of an IPv4 address: `1.2.3.4` → `4.3.2.1`.
fn reversed_octets(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("{}.{}.{}.{}", o[3], o[2], o[1], o[0])
}

/// The 32 reversed nibble labels of an IPv6 address, dot-separated, lower-case hex.
fn reversed_nibbles(ip: Ipv6Addr) -> String {
    let mut labels = Vec::with_capacity(32);
    for byte in ip.octets().iter().rev() {
        labels.push(format!("{:x}", byte & 0x0f));
        labels.push(format!("{:x}", byte >> 4));
    }
    labels.join(".")
}

/// The reverse-DNS name of `ip`: `4.3.2.1.in-addr.arpa.` or `<32 nibbles>.ip6.arpa.`.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{}.in-addr.arpa.", reversed_octets(v4)),
        IpAddr::V6(v6) => format!("{}.ip6.arpa.", reversed_nibbles(v6)),
    }
}

/// The Team Cymru origin name of `ip`: `<reversed octets>.origin.asn.cymru.com.` or
/// `<32 reversed nibbles>.origin6.asn.cymru.com.`.
pub fn cymru_origin_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{}.origin.asn.cymru.com.", reversed_octets(v4)),
        IpAddr::V6(v6) => format!("{}.origin6.asn.cymru.com.", reversed_nibbles(v6)),
    }
}

/// The Team Cymru AS name: `AS<asn>.asn.cymru.com.`.
pub fn cymru_asn_name(asn: u32) -> String {
    format!("AS{asn}.asn.cymru.com.")
}

/// Parses a full reverse-style name of family `under` back into its address.
fn parse_reversed_ip(name: &str, under: NetZone) -> Option<IpAddr> {
    let (v4_suffix, v6_suffix) = under.suffixes();
    if let Some(head) = strip_suffix_label(name, v4_suffix) {
        let labels: Vec<&str> = head.split('.').collect();
        if labels.len() != 4 {
            return None;
        }
        let mut octets = [0u8; 4];
        for (i, label) in labels.iter().rev().enumerate() {
            if label.is_empty() || label.len() > 3 || !label.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            octets[i] = label.parse().ok()?;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if let Some(head) = strip_suffix_label(name, v6_suffix) {
        let labels: Vec<&str> = head.split('.').collect();
        if labels.len() != 32 {
            return None;
        }
        let mut value: u128 = 0;
        for label in labels.iter().rev() {
            if label.len() != 1 {
                return None;
            }
            let nibble = u8::from_str_radix(label, 16).ok()?;
            value = (value << 4) | u128::from(nibble);
        }
        return Some(IpAddr::V6(Ipv6Addr::from(value)));
    }
    None
}

/// `name` without `.suffix` (the part before it), when `name` is strictly under `suffix`.
fn strip_suffix_label<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    let head = name.strip_suffix(suffix)?;
    head.strip_suffix('.').filter(|h| !h.is_empty())
}

/// `ip` with all bits after `prefix_len` cleared.
fn mask(ip: IpAddr, prefix_len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let len = u32::from(prefix_len.min(32));
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let len = u32::from(prefix_len.min(128));
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

/// Splits `text` into character-strings of at most 255 bytes (one empty string for empty text).
fn split_character_strings(text: &[u8]) -> Vec<Vec<u8>> {
    if text.is_empty() {
        return vec![Vec::new()];
    }
    text.chunks(MAX_CHARACTER_STRING)
        .map(<[u8]>::to_vec)
        .collect()
}

// ----- serde helpers ------------------------------------------------------------------------------

/// Durations as whole milliseconds.
pub(crate) mod duration_ms {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// TXT data: strings where UTF-8, byte arrays elsewhere.
mod txt_serde {
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum CharString {
        Text(String),
        Bytes(Vec<u8>),
    }

    impl From<CharString> for Vec<u8> {
        fn from(c: CharString) -> Self {
            match c {
                CharString::Text(t) => t.into_bytes(),
                CharString::Bytes(b) => b,
            }
        }
    }

    fn to_char_string(bytes: &[u8]) -> CharString {
        match std::str::from_utf8(bytes) {
            Ok(text) => CharString::Text(text.to_owned()),
            Err(_) => CharString::Bytes(bytes.to_vec()),
        }
    }

    pub(super) fn serialize<S: Serializer>(
        records: &[Vec<Vec<u8>>],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let view: Vec<Vec<CharString>> = records
            .iter()
            .map(|r| r.iter().map(|c| to_char_string(c)).collect())
            .collect();
        view.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<Vec<Vec<u8>>>, D::Error> {
        let view: Vec<Vec<CharString>> = Vec::deserialize(d)?;
        Ok(view
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .flat_map(|c| split_character_strings(&Vec::<u8>::from(c)))
                    .collect()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised() {
        assert_eq!(normalize_name("Example.COM"), "example.com.");
        assert_eq!(normalize_name("example.com."), "example.com.");
        assert_eq!(normalize_name(""), ".");
        assert_eq!(normalize_name("."), ".");
    }

    #[test]
    fn reverse_and_cymru_names() {
        let v4: IpAddr = "176.112.169.218".parse().unwrap();
        assert_eq!(reverse_name(v4), "218.169.112.176.in-addr.arpa.");
        assert_eq!(
            cymru_origin_name(v4),
            "218.169.112.176.origin.asn.cymru.com."
        );
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            reverse_name(v6),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
        );
        assert_eq!(
            cymru_origin_name(v6),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.origin6.asn.cymru.com."
        );
        assert_eq!(cymru_asn_name(47764), "AS47764.asn.cymru.com.");
    }

    #[test]
    fn reverse_names_agree_with_hickory() {
        for ip in ["10.1.2.3", "2a00:1450:4001:82b::200e", "::"] {
            let ip: IpAddr = ip.parse().unwrap();
            let theirs = hickory_proto::rr::Name::from(ip).to_ascii();
            assert_eq!(normalize_name(&theirs), reverse_name(ip));
        }
    }

    #[test]
    fn parses_reversed_names_back() {
        let v4: IpAddr = "1.2.3.4".parse().unwrap();
        assert_eq!(
            parse_reversed_ip(&cymru_origin_name(v4).to_lowercase(), NetZone::CymruOrigin),
            Some(v4)
        );
        let v6: IpAddr = "2001:db8:ffff::abcd".parse().unwrap();
        assert_eq!(
            parse_reversed_ip(&reverse_name(v6), NetZone::Reverse),
            Some(v6)
        );
        assert_eq!(
            parse_reversed_ip("3.2.1.origin.asn.cymru.com.", NetZone::CymruOrigin),
            None
        );
        assert_eq!(
            parse_reversed_ip("4.3.2.1.in-addr.arpa.", NetZone::CymruOrigin),
            None
        );
        assert_eq!(
            parse_reversed_ip("4.3.2.300.in-addr.arpa.", NetZone::Reverse),
            None
        );
    }

    #[test]
    fn resolve_exact_nodata_nxdomain_case_insensitive() {
        let mut zone = Zone::new();
        zone.txt("Foo.Example.", &["hello"])
            .a("foo.example", Ipv4Addr::LOCALHOST);
        match zone.resolve("FOO.example.", RrType::Txt) {
            Resolution::Answer(set) => {
                assert_eq!(set.data, RecordData::Txt(vec![vec![b"hello".to_vec()]]))
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            zone.resolve("foo.example.", RrType::Ptr),
            Resolution::NoData
        );
        assert_eq!(
            zone.resolve("bar.example.", RrType::Txt),
            Resolution::NxDomain
        );
    }

    #[test]
    fn long_texts_split_into_character_strings() {
        let mut zone = Zone::new();
        let long = "x".repeat(600);
        zone.txt("long.example.", &[long.as_str()]);
        let Some(RecordSet {
            data: RecordData::Txt(records),
            ..
        }) = zone.get("long.example.", RrType::Txt)
        else {
            panic!("no TXT")
        };
        let lens: Vec<usize> = records[0].iter().map(Vec::len).collect();
        assert_eq!(lens, vec![255, 255, 90]);
    }

    #[test]
    fn suffix_and_net_fallbacks_pick_most_specific() {
        let mut zone = Zone::new();
        zone.txt_under("origin.asn.cymru.com.", &["generic"])
            .cymru_origin_net("10.0.0.0".parse().unwrap(), 8, "ten")
            .cymru_origin_net("10.1.0.0".parse().unwrap(), 16, "ten-one")
            .cymru_origin("10.1.2.3".parse().unwrap(), "exact");
        let text = |name: &str| match zone.resolve(name, RrType::Txt) {
            Resolution::Answer(RecordSet {
                data: RecordData::Txt(r),
                ..
            }) => String::from_utf8(r[0][0].clone()).unwrap(),
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(text("3.2.1.10.origin.asn.cymru.com."), "exact");
        assert_eq!(text("4.2.1.10.origin.asn.cymru.com."), "ten-one");
        assert_eq!(text("4.2.9.10.origin.asn.cymru.com."), "ten");
        assert_eq!(text("4.2.9.11.origin.asn.cymru.com."), "generic");
        // A name that is only a suffix match for TXT is NODATA for PTR, not NXDOMAIN.
        assert_eq!(
            zone.resolve("4.2.9.11.origin.asn.cymru.com.", RrType::Ptr),
            Resolution::NoData
        );
        assert_eq!(
            zone.resolve("cymru.com.", RrType::Txt),
            Resolution::NxDomain
        );
        // "xorigin.asn.cymru.com." is not under "origin.asn.cymru.com.".
        assert_eq!(
            zone.resolve("xorigin.asn.cymru.com.", RrType::Txt),
            Resolution::NxDomain
        );
    }

    #[test]
    fn faults_exact_then_suffix_then_default() {
        let mut zone = Zone::new();
        zone.set_fault_under("cymru.com.", Fault::ServFail)
            .set_fault_under("asn.cymru.com.", Fault::Refused)
            .set_fault("as1.asn.cymru.com.", Fault::Timeout)
            .set_default_fault(Some(Fault::Garbage));
        assert_eq!(zone.fault_for("AS1.asn.cymru.com"), Some(Fault::Timeout));
        assert_eq!(zone.fault_for("as2.asn.cymru.com."), Some(Fault::Refused));
        assert_eq!(zone.fault_for("x.cymru.com."), Some(Fault::ServFail));
        assert_eq!(zone.fault_for("example.org."), Some(Fault::Garbage));
        zone.clear_faults();
        assert_eq!(zone.fault_for("as1.asn.cymru.com."), None);
    }

    #[test]
    fn json_round_trip() {
        let mut zone = Zone::new();
        zone.txt("a.example.", &["text"])
            .txt_strings("b.example.", &[&[&b"\xff\x00"[..], &b"ok"[..]]])
            .ptr("1.2.3.4".parse().unwrap(), "host.example")
            .aaaa("c.example.", Ipv6Addr::LOCALHOST)
            .txt_under("under.example.", &["any"])
            .ptr_net("10.0.0.0".parse().unwrap(), 8, "pool.example.")
            .set_fault("slow.example.", Fault::Delay(Duration::from_millis(250)))
            .set_fault_under("broken.example.", Fault::ServFail)
            .set_latency(Duration::from_millis(5));
        let json = serde_json::to_string(&zone).unwrap();
        assert!(json.contains(r#""fault":{"delay":250}"#), "{json}");
        assert!(json.contains(r#""fault":"servfail""#), "{json}");
        assert!(json.contains(r#"[[255,0],"ok"]"#), "{json}");
        let back: Zone = serde_json::from_str(&json).unwrap();
        assert_eq!(back, zone);
    }

    #[test]
    fn spec_json_from_hand_written_text() {
        let zone: Zone = serde_json::from_str(
            r#"{"records": [{"name": "X.Example", "txt": [["one"], ["two", "three"]]},
                            {"name": "h.example.", "ttl": 60, "a": ["192.0.2.1"]}],
                "faults": [{"name": "x.example.", "fault": "truncated"}],
                "latency_ms": 20}"#,
        )
        .unwrap();
        let set = zone.get("x.example.", RrType::Txt).unwrap();
        assert_eq!(set.ttl, DEFAULT_TTL);
        assert_eq!(set.data.len(), 2);
        assert_eq!(zone.get("h.example.", RrType::A).unwrap().ttl, 60);
        assert_eq!(zone.fault_for("x.example."), Some(Fault::Truncated));
        assert_eq!(zone.latency(), Duration::from_millis(20));
    }
}
