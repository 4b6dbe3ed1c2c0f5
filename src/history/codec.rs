//! The compact form of records in the store: strings interned to numbers, records packed
//! into blocks of variable-length integers.
//!
//! A block is what one batch of the writer commits: a version byte, the record count, then
//! per record the time as an offset from the block's key, the interned string ids, the
//! address and the outcome. Id 0 means "none"; lists carry their length. A record is about
//! 20–40 bytes, so ten million fit in a few hundred megabytes and a scan decodes them
//! without allocating.

use crate::facts::{CloudTag, LookupError};
use rustc_hash::FxHashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::{Outcome, Record};

/// The block format this code writes and reads.
pub const BLOCK_VERSION: u8 = 1;

/// Why a block could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("history block format {0} is not known (expected {BLOCK_VERSION})")]
    Version(u8),
    #[error("history block is truncated")]
    Truncated,
    #[error("history block has an invalid value: {0}")]
    Invalid(&'static str),
}

/// Strings and their ids. Id 0 is reserved for "none".
///
/// Ids are never reused: a string that no stored record uses any more is dropped by
/// [`HistoryStore::prune`](super::store::HistoryStore::prune) (and from here by
/// [`Strings::forget`]), and its id stays unused, so the table's memory follows the strings
/// in use, not every string ever seen.
#[derive(Debug, Default, Clone)]
pub struct Strings {
    /// Both maps share each string (one allocation per string).
    ids: FxHashMap<Arc<str>, u32>,
    names: FxHashMap<u32, Arc<str>>,
    /// The id the next new string gets.
    next: u32,
    /// The count after the last collection (or at load): the next one is due when the
    /// table has grown to twice this.
    collected_at: usize,
}

/// The longest string the history keeps (user names, host names, AS and network names…):
/// a longer one is cut at a character boundary and ends in `…`, so a client sending a
/// 20 KB user name costs the history and every report 256 bytes.
pub const MAX_STRING_BYTES: usize = 256;

/// The most items a record keeps of a list (entities, cloud tags, lookup errors); of a
/// longer list the last item kept says how many more there were.
pub const MAX_LIST_ITEMS: usize = 32;

/// `s`, or its first bytes up to [`MAX_STRING_BYTES`] (at a character boundary) with `…`.
pub fn capped(s: &str) -> std::borrow::Cow<'_, str> {
    if s.len() <= MAX_STRING_BYTES {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut end = MAX_STRING_BYTES - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!("{}…", &s[..end]))
}

/// Interns the items of a list into `into`, at most [`MAX_LIST_ITEMS`] of them.
fn intern_list<'s>(
    items: impl ExactSizeIterator<Item = std::borrow::Cow<'s, str>>,
    strings: &mut Strings,
    added: &mut Vec<(u32, String)>,
    into: &mut Vec<u32>,
) {
    into.clear();
    let n = items.len();
    let keep = if n > MAX_LIST_ITEMS {
        MAX_LIST_ITEMS - 1
    } else {
        n
    };
    for item in items.take(keep) {
        into.push(strings.intern(&item, added));
    }
    if n > keep {
        into.push(strings.intern(&format!("… {} more", n - keep), added));
    }
}

/// Below this many strings the table is never collected.
const COLLECT_MIN: usize = 10_000;

impl Strings {
    pub fn new() -> Strings {
        Strings {
            ids: FxHashMap::default(),
            names: FxHashMap::default(),
            next: 1,
            collected_at: 0,
        }
    }

    /// Rebuilds the table from stored `(id, string)` pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (u32, String)>) -> Strings {
        let mut s = Strings::new();
        for (id, name) in pairs {
            if id == 0 {
                continue;
            }
            s.next = s.next.max(id.saturating_add(1));
            let name: Arc<str> = Arc::from(name);
            s.ids.insert(Arc::clone(&name), id);
            s.names.insert(id, name);
        }
        // Not collected yet in this process: a table an earlier version let grow is
        // collected at the first prune.
        s.collected_at = 0;
        s
    }

    /// The id of `name` ([`capped`]), adding it (and reporting it through `added`) when
    /// new.
    pub fn intern(&mut self, name: &str, added: &mut Vec<(u32, String)>) -> u32 {
        let name = &*capped(name);
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.next;
        self.next = self.next.saturating_add(1);
        let shared: Arc<str> = Arc::from(name);
        self.names.insert(id, Arc::clone(&shared));
        self.ids.insert(shared, id);
        added.push((id, name.to_string()));
        id
    }

    /// The string behind `id` (`""` for 0 or an unknown id).
    pub fn get(&self, id: u32) -> &str {
        self.names.get(&id).map(|s| &**s).unwrap_or("")
    }

    /// The string behind `id`, `None` for 0.
    pub fn opt(&self, id: u32) -> Option<&str> {
        (id != 0).then(|| self.get(id))
    }

    /// Number of strings (without the reserved 0).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ids whose string equals `name` ignoring ASCII case.
    pub fn ids_ignoring_case(&self, name: &str) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .names
            .iter()
            .filter(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(&i, _)| i)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Whether the table has doubled since it was last collected (and is not small), so
    /// that the strings no record uses should be looked for: each collection reads every
    /// stored record once, and it comes only after as many new strings as were kept.
    pub fn collection_due(&self) -> bool {
        self.len() >= COLLECT_MIN && self.len() >= self.collected_at.saturating_mul(2)
    }

    /// The ids of the strings that `in_use` does not hold.
    pub fn unused(&self, in_use: &rustc_hash::FxHashSet<u32>) -> Vec<u32> {
        self.names
            .keys()
            .copied()
            .filter(|id| !in_use.contains(id))
            .collect()
    }

    /// Drops the strings `ids` (their records are gone) and marks the table collected.
    pub fn forget(&mut self, ids: &[u32]) {
        self.remove(ids);
        self.names.shrink_to_fit();
        self.ids.shrink_to_fit();
        self.collected_at = self.len();
    }

    /// Drops the strings `ids` (their records are gone: one user's, forgotten) without
    /// changing when the next collection is due.
    pub fn remove(&mut self, ids: &[u32]) {
        for id in ids {
            if let Some(name) = self.names.remove(id) {
                self.ids.remove(&name);
            }
        }
    }
}

/// One decoded record, its strings as ids into [`Strings`]. Reused across a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    pub time_us: u64,
    pub user: u32,
    pub service: u32,
    pub ip: Option<IpAddr>,
    pub host: u32,
    /// `None` is 0; otherwise the AS number + 1.
    pub asn_plus_one: u64,
    pub as_cc: u32,
    pub as_desc: u32,
    pub net_name: u32,
    pub net_cc: u32,
    pub entities: Vec<u32>,
    pub cloud: Vec<u32>,
    pub geo_cc: u32,
    pub outcome: Option<Outcome>,
    pub matched: u32,
    pub matched_entry: u32,
    pub lookup_errors: Vec<u32>,
}

impl Row {
    /// Every string id the row uses (0 for "none" included).
    pub fn string_ids(&self) -> impl Iterator<Item = u32> + '_ {
        [
            self.user,
            self.service,
            self.host,
            self.as_cc,
            self.as_desc,
            self.net_name,
            self.net_cc,
            self.geo_cc,
            self.matched,
            self.matched_entry,
        ]
        .into_iter()
        .chain(self.entities.iter().copied())
        .chain(self.cloud.iter().copied())
        .chain(self.lookup_errors.iter().copied())
    }

    pub fn asn(&self) -> Option<u32> {
        self.asn_plus_one.checked_sub(1).map(|a| a as u32)
    }

    pub fn outcome(&self) -> Outcome {
        self.outcome.unwrap_or(Outcome::Allowed)
    }

    /// Interns a record's strings into a row.
    pub fn intern(record: &Record, strings: &mut Strings, added: &mut Vec<(u32, String)>) -> Row {
        let mut one = |s: &str| strings.intern(s, added);
        let user = one(&record.user);
        let service = one(&record.service);
        let mut opt = |s: &Option<String>| s.as_deref().map_or(0, |s| strings.intern(s, added));
        let host = opt(&record.host);
        let as_cc = opt(&record.as_cc);
        let as_desc = opt(&record.as_desc);
        let net_name = opt(&record.net_name);
        let net_cc = opt(&record.net_cc);
        let geo_cc = opt(&record.geo_cc);
        let matched = opt(&record.matched);
        let matched_entry = opt(&record.matched_entry);
        let mut many = |v: &[String]| {
            let mut ids = Vec::new();
            intern_list(
                v.iter().map(|s| s.as_str().into()),
                strings,
                added,
                &mut ids,
            );
            ids
        };
        Row {
            time_us: record.time_us.unwrap_or(0),
            user,
            service,
            ip: Some(record.ip),
            host,
            asn_plus_one: record.asn.map_or(0, |a| u64::from(a) + 1),
            as_cc,
            as_desc,
            net_name,
            net_cc,
            entities: many(&record.entities),
            cloud: many(&record.cloud),
            geo_cc,
            outcome: Some(record.outcome),
            matched,
            matched_entry,
            lookup_errors: many(&record.lookup_errors),
        }
    }

    /// Interns a borrowed record into `self` (its lists reused).
    pub fn intern_ref(
        &mut self,
        r: &RecordRef<'_>,
        strings: &mut Strings,
        added: &mut Vec<(u32, String)>,
    ) {
        let raw = r.raw;
        let mut one = |s: &str, escape: bool| {
            if escape {
                strings.intern(&crate::audit::escape_cow(s), added)
            } else {
                strings.intern(s, added)
            }
        };
        let mut opt = |s: Option<&str>| s.map_or(0, |s| one(s, raw));
        self.host = opt(r.host);
        self.as_cc = opt(r.as_cc);
        self.as_desc = opt(r.as_desc);
        self.net_name = opt(r.net_name);
        self.net_cc = opt(r.net_cc);
        self.geo_cc = opt(r.geo_cc);
        self.matched = opt(r.matched);
        self.user = one(r.user, raw);
        self.service = one(r.service, raw);
        self.matched_entry = r.matched_entry.map_or(0, |s| one(s, false));
        self.time_us = r.time_us.unwrap_or(0);
        self.ip = r.ip;
        self.asn_plus_one = r.asn.map_or(0, |a| u64::from(a) + 1);
        self.outcome = r.outcome;
        for (into, from) in [
            (&mut self.entities, &r.entities),
            (&mut self.cloud, &r.cloud),
            (&mut self.lookup_errors, &r.lookup_errors),
        ] {
            let items = from.iter().map(|s| {
                if raw {
                    crate::audit::escape_cow(s)
                } else {
                    std::borrow::Cow::Borrowed(*s)
                }
            });
            intern_list(items, strings, added, into);
        }
    }

    /// The record this row stands for.
    pub fn to_record(&self, strings: &Strings) -> Record {
        let opt = |id: u32| strings.opt(id).map(str::to_string);
        let many = |ids: &[u32]| ids.iter().map(|&id| strings.get(id).to_string()).collect();
        Record {
            time_us: (self.time_us != 0).then_some(self.time_us),
            user: strings.get(self.user).to_string(),
            service: strings.get(self.service).to_string(),
            ip: self.ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            host: opt(self.host),
            asn: self.asn(),
            as_cc: opt(self.as_cc),
            as_desc: opt(self.as_desc),
            net_name: opt(self.net_name),
            net_cc: opt(self.net_cc),
            entities: many(&self.entities),
            cloud: many(&self.cloud),
            geo_cc: opt(self.geo_cc),
            outcome: self.outcome(),
            matched: opt(self.matched),
            matched_entry: opt(self.matched_entry),
            lookup_errors: many(&self.lookup_errors),
        }
    }
}

/// Appends `v` as a LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_list(out: &mut Vec<u8>, ids: &[u32]) {
    put_varint(out, ids.len() as u64);
    for &id in ids {
        put_varint(out, u64::from(id));
    }
}

/// Appends a row's body (everything but its time) to `out`.
pub fn encode_body(out: &mut Vec<u8>, row: &Row) {
    for id in [row.user, row.service, row.host] {
        put_varint(out, u64::from(id));
    }
    match row.ip {
        Some(IpAddr::V4(v4)) => {
            out.push(4);
            out.extend_from_slice(&v4.octets());
        }
        Some(IpAddr::V6(v6)) => {
            out.push(6);
            out.extend_from_slice(&v6.octets());
        }
        None => out.push(0),
    }
    put_varint(out, row.asn_plus_one);
    for id in [row.as_cc, row.as_desc, row.net_name, row.net_cc, row.geo_cc] {
        put_varint(out, u64::from(id));
    }
    put_list(out, &row.entities);
    put_list(out, &row.cloud);
    out.push(row.outcome().code());
    put_varint(out, u64::from(row.matched));
    put_varint(out, u64::from(row.matched_entry));
    put_list(out, &row.lookup_errors);
}

/// A block from `count` rows already encoded in `rows` (each: its time as an offset from
/// the block's key, then [`encode_body`]).
pub fn block_from_body(count: u64, rows: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() + 10);
    out.push(BLOCK_VERSION);
    put_varint(&mut out, count);
    out.extend_from_slice(rows);
    out
}

/// The fields of one record as the journal encoder reads them: borrowed, and either
/// already escaped (a [`Record`]) or raw (a decision being made: written as they are, and
/// escaped when the batch is committed, once per distinct decision, so the request path
/// neither escapes nor builds strings). `matched_entry` is always in escaped form.
pub struct Fields<'a> {
    pub raw: bool,
    pub time_us: Option<u64>,
    pub user: &'a str,
    pub service: &'a str,
    pub ip: IpAddr,
    pub host: Option<&'a str>,
    pub asn: Option<u32>,
    pub as_cc: Option<&'a str>,
    pub as_desc: Option<&'a str>,
    pub net_name: Option<&'a str>,
    pub net_cc: Option<&'a str>,
    pub entities: &'a [String],
    pub cloud: Texts<'a>,
    pub geo_cc: Option<&'a str>,
    pub outcome: Outcome,
    pub matched: Option<&'a str>,
    pub matched_entry: Option<&'a str>,
    pub lookup_errors: Texts<'a>,
}

/// A list of texts in a record: plain strings, or typed facts written in their text form
/// without an allocation.
#[derive(Debug, Clone, Copy)]
pub enum Texts<'a> {
    /// Strings as they are.
    Strings(&'a [String]),
    /// Cloud tags (`provider:service[:region]`).
    Cloud(&'a [CloudTag]),
    /// Lookup errors (`source:kind`).
    Errors(&'a [LookupError]),
}

impl<'a> Fields<'a> {
    /// The fields of a record.
    pub fn of(r: &'a Record) -> Fields<'a> {
        Fields {
            raw: false,
            time_us: r.time_us,
            user: &r.user,
            service: &r.service,
            ip: r.ip,
            host: r.host.as_deref(),
            asn: r.asn,
            as_cc: r.as_cc.as_deref(),
            as_desc: r.as_desc.as_deref(),
            net_name: r.net_name.as_deref(),
            net_cc: r.net_cc.as_deref(),
            entities: &r.entities,
            cloud: Texts::Strings(&r.cloud),
            geo_cc: r.geo_cc.as_deref(),
            outcome: r.outcome,
            matched: r.matched.as_deref(),
            matched_entry: r.matched_entry.as_deref(),
            lookup_errors: Texts::Strings(&r.lookup_errors),
        }
    }
}

/// A record on its own (strings inline, no interning): the journal's form. About a third
/// of its JSON, and written without allocating.
///
/// The form: the time (+1, 0 for none) as a varint, then a byte saying whether the strings
/// are escaped ([`STRINGS_ESCAPED`]) or raw ([`STRINGS_RAW`]), then the fields.
pub fn encode_record(out: &mut Vec<u8>, r: &Record) {
    encode_fields(out, &Fields::of(r));
}

/// The strings of a standalone record are in their escaped form.
pub const STRINGS_ESCAPED: u8 = 0;
/// The strings of a standalone record are raw (`matched_entry` excepted): escape them when
/// reading.
pub const STRINGS_RAW: u8 = 1;

/// Encodes `f` in [`encode_record`]'s form.
pub fn encode_fields(out: &mut Vec<u8>, f: &Fields<'_>) {
    let put_str = |out: &mut Vec<u8>, s: &str| {
        put_varint(out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    };
    let put_opt = |out: &mut Vec<u8>, s: Option<&str>| match s {
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
        None => out.push(0),
    };
    let put_strs = |out: &mut Vec<u8>, v: &[String]| {
        put_varint(out, v.len() as u64);
        for s in v {
            put_str(out, s);
        }
    };
    let put_texts = |out: &mut Vec<u8>, texts: Texts<'_>| match texts {
        Texts::Strings(v) => put_strs(out, v),
        Texts::Cloud(v) => {
            put_varint(out, v.len() as u64);
            for tag in v {
                put_str(out, tag.as_str());
            }
        }
        Texts::Errors(v) => {
            put_varint(out, v.len() as u64);
            for e in v {
                put_varint(out, (e.source.len() + 1 + e.kind.len()) as u64);
                out.extend_from_slice(e.source.as_bytes());
                out.push(b':');
                out.extend_from_slice(e.kind.as_bytes());
            }
        }
    };
    put_varint(out, f.time_us.map_or(0, |t| t.saturating_add(1)));
    out.push(if f.raw { STRINGS_RAW } else { STRINGS_ESCAPED });
    put_str(out, f.user);
    put_str(out, f.service);
    match f.ip {
        IpAddr::V4(v4) => {
            out.push(4);
            out.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.push(6);
            out.extend_from_slice(&v6.octets());
        }
    }
    put_opt(out, f.host);
    put_varint(out, f.asn.map_or(0, |a| u64::from(a) + 1));
    for s in [f.as_cc, f.as_desc, f.net_name, f.net_cc] {
        put_opt(out, s);
    }
    put_strs(out, f.entities);
    put_texts(out, f.cloud);
    put_opt(out, f.geo_cc);
    out.push(f.outcome.code());
    put_opt(out, f.matched);
    put_opt(out, f.matched_entry);
    put_texts(out, f.lookup_errors);
}

/// A record read from its standalone form without copying its strings.
#[derive(Debug, Default)]
pub struct RecordRef<'a> {
    /// The strings are raw (escape them; `matched_entry` is always escaped).
    pub raw: bool,
    pub time_us: Option<u64>,
    pub user: &'a str,
    pub service: &'a str,
    pub ip: Option<IpAddr>,
    pub host: Option<&'a str>,
    pub asn: Option<u32>,
    pub as_cc: Option<&'a str>,
    pub as_desc: Option<&'a str>,
    pub net_name: Option<&'a str>,
    pub net_cc: Option<&'a str>,
    pub entities: Vec<&'a str>,
    pub cloud: Vec<&'a str>,
    pub geo_cc: Option<&'a str>,
    pub outcome: Option<Outcome>,
    pub matched: Option<&'a str>,
    pub matched_entry: Option<&'a str>,
    pub lookup_errors: Vec<&'a str>,
}

/// A record's time (as [`Row::time_us`] holds it: 0 when it has none) and the bytes after
/// it, without decoding the rest: two decisions with equal rests differ only in time.
pub fn split_time(bytes: &[u8]) -> Result<(u64, &[u8]), DecodeError> {
    let mut r = BlockReader {
        bytes,
        pos: 0,
        base_us: 0,
        left: 0,
    };
    let time_us = r.varint()?.saturating_sub(1);
    Ok((time_us, &bytes[r.pos..]))
}

/// Decodes what [`encode_record`] wrote into `out` (its lists reused).
pub fn decode_record_ref<'a>(bytes: &'a [u8], out: &mut RecordRef<'a>) -> Result<(), DecodeError> {
    let mut r = BlockReader {
        bytes,
        pos: 0,
        base_us: 0,
        left: 0,
    };
    out.time_us = r.varint()?.checked_sub(1);
    out.raw = match r.byte()? {
        STRINGS_ESCAPED => false,
        STRINGS_RAW => true,
        _ => return Err(DecodeError::Invalid("string form")),
    };
    out.user = r.str_ref()?;
    out.service = r.str_ref()?;
    out.ip = Some(match r.byte()? {
        4 => IpAddr::V4(Ipv4Addr::from(r.take::<4>()?)),
        6 => IpAddr::V6(Ipv6Addr::from(r.take::<16>()?)),
        _ => return Err(DecodeError::Invalid("address family")),
    });
    out.host = r.opt_str_ref()?;
    out.asn = r
        .varint()?
        .checked_sub(1)
        .map(|a| u32::try_from(a).map_err(|_| DecodeError::Invalid("AS number")))
        .transpose()?;
    out.as_cc = r.opt_str_ref()?;
    out.as_desc = r.opt_str_ref()?;
    out.net_name = r.opt_str_ref()?;
    out.net_cc = r.opt_str_ref()?;
    r.strs_ref(&mut out.entities)?;
    r.strs_ref(&mut out.cloud)?;
    out.geo_cc = r.opt_str_ref()?;
    out.outcome = Some(Outcome::from_code(r.byte()?).ok_or(DecodeError::Invalid("outcome"))?);
    out.matched = r.opt_str_ref()?;
    out.matched_entry = r.opt_str_ref()?;
    r.strs_ref(&mut out.lookup_errors)?;
    if r.pos != bytes.len() {
        return Err(DecodeError::Invalid("trailing bytes after a record"));
    }
    Ok(())
}

/// Decodes what [`encode_record`] wrote.
pub fn decode_record(bytes: &[u8]) -> Result<Record, DecodeError> {
    let mut r = RecordRef::default();
    decode_record_ref(bytes, &mut r)?;
    let form = |s: &str| {
        if r.raw {
            crate::audit::escape(s)
        } else {
            s.to_string()
        }
    };
    let own = |s: Option<&str>| s.map(form);
    let all = |v: &[&str]| v.iter().map(|s| form(s)).collect();
    Ok(Record {
        time_us: r.time_us,
        user: form(r.user),
        service: form(r.service),
        ip: r.ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        host: own(r.host),
        asn: r.asn,
        as_cc: own(r.as_cc),
        as_desc: own(r.as_desc),
        net_name: own(r.net_name),
        net_cc: own(r.net_cc),
        entities: all(&r.entities),
        cloud: all(&r.cloud),
        geo_cc: own(r.geo_cc),
        outcome: r.outcome.unwrap_or(Outcome::Allowed),
        matched: own(r.matched),
        matched_entry: r.matched_entry.map(str::to_string),
        lookup_errors: all(&r.lookup_errors),
    })
}

/// Decodes a row body written by [`encode_body`] (the time is left as it is).
pub fn decode_body(bytes: &[u8], row: &mut Row) -> Result<(), DecodeError> {
    let mut r = BlockReader {
        bytes,
        pos: 0,
        base_us: 0,
        left: 0,
    };
    r.body_into(row)?;
    if r.pos != bytes.len() {
        return Err(DecodeError::Invalid("trailing bytes after a row"));
    }
    Ok(())
}

/// Reads a block.
pub struct BlockReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    base_us: u64,
    left: u64,
}

impl<'a> BlockReader<'a> {
    pub fn new(base_us: u64, bytes: &'a [u8]) -> Result<BlockReader<'a>, DecodeError> {
        let mut r = BlockReader {
            bytes,
            pos: 0,
            base_us,
            left: 0,
        };
        let version = r.byte()?;
        if version != BLOCK_VERSION {
            return Err(DecodeError::Version(version));
        }
        r.left = r.varint()?;
        Ok(r)
    }

    /// The number of rows not yet read.
    pub fn remaining(&self) -> u64 {
        self.left
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.bytes.get(self.pos).ok_or(DecodeError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Invalid("varint too long"))
    }

    fn id(&mut self) -> Result<u32, DecodeError> {
        u32::try_from(self.varint()?).map_err(|_| DecodeError::Invalid("string id"))
    }

    fn list(&mut self, into: &mut Vec<u32>) -> Result<(), DecodeError> {
        self.seq(into, Self::id)
    }

    /// A count, then that many items read by `item` (each at least one byte), into `into`.
    fn seq<T>(
        &mut self,
        into: &mut Vec<T>,
        mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<(), DecodeError> {
        into.clear();
        let n = self.varint()?;
        if n > (self.bytes.len() - self.pos) as u64 {
            return Err(DecodeError::Truncated);
        }
        for _ in 0..n {
            into.push(item(self)?);
        }
        Ok(())
    }

    fn str_ref(&mut self) -> Result<&'a str, DecodeError> {
        let n = usize::try_from(self.varint()?).map_err(|_| DecodeError::Truncated)?;
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated)?;
        self.pos = end;
        std::str::from_utf8(slice).map_err(|_| DecodeError::Invalid("string is not UTF-8"))
    }

    fn opt_str_ref(&mut self) -> Result<Option<&'a str>, DecodeError> {
        match self.byte()? {
            0 => Ok(None),
            1 => self.str_ref().map(Some),
            _ => Err(DecodeError::Invalid("optional string")),
        }
    }

    fn strs_ref(&mut self, into: &mut Vec<&'a str>) -> Result<(), DecodeError> {
        self.seq(into, Self::str_ref)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let end = self.pos + N;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated)?;
        self.pos = end;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn body_into(&mut self, row: &mut Row) -> Result<(), DecodeError> {
        row.user = self.id()?;
        row.service = self.id()?;
        row.host = self.id()?;
        row.ip = match self.byte()? {
            4 => Some(IpAddr::V4(Ipv4Addr::from(self.take::<4>()?))),
            6 => Some(IpAddr::V6(Ipv6Addr::from(self.take::<16>()?))),
            0 => None,
            _ => return Err(DecodeError::Invalid("address family")),
        };
        row.asn_plus_one = self.varint()?;
        row.as_cc = self.id()?;
        row.as_desc = self.id()?;
        row.net_name = self.id()?;
        row.net_cc = self.id()?;
        row.geo_cc = self.id()?;
        self.list(&mut row.entities)?;
        self.list(&mut row.cloud)?;
        row.outcome =
            Some(Outcome::from_code(self.byte()?).ok_or(DecodeError::Invalid("outcome"))?);
        row.matched = self.id()?;
        row.matched_entry = self.id()?;
        self.list(&mut row.lookup_errors)?;
        Ok(())
    }

    /// Reads the next row into `row`; `false` at the end of the block.
    pub fn next_into(&mut self, row: &mut Row) -> Result<bool, DecodeError> {
        Ok(self.next_with_body(row)?.is_some())
    }

    /// Like [`BlockReader::next_into`], also giving the row's encoded body (for grouping
    /// identical rows without resolving them).
    pub fn next_with_body(&mut self, row: &mut Row) -> Result<Option<&'a [u8]>, DecodeError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        row.time_us = self.base_us.saturating_add(self.varint()?);
        let start = self.pos;
        self.body_into(row)?;
        Ok(Some(&self.bytes[start..self.pos]))
    }
}

/// The row count of a block, read from its header.
pub fn block_len(bytes: &[u8]) -> Result<u64, DecodeError> {
    Ok(BlockReader::new(0, bytes)?.remaining())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: u64) -> Record {
        Record {
            time_us: Some(1_700_000_000_000_000 + i),
            user: format!("user{}", i % 3),
            service: "imap".into(),
            ip: if i.is_multiple_of(2) {
                "203.0.113.7".parse().unwrap()
            } else {
                "2001:db8::7".parse().unwrap()
            },
            host: (!i.is_multiple_of(4)).then(|| "ec2-3-80-1-2.compute-1.amazonaws.com".into()),
            asn: (!i.is_multiple_of(5)).then_some(16509),
            as_cc: Some("US".into()),
            as_desc: Some("AMAZON-02, US".into()),
            net_name: None,
            net_cc: None,
            entities: vec!["AMAZO-4".into(), "AT-88-Z".into()],
            cloud: vec!["aws:EC2:us-east-1".into()],
            geo_cc: None,
            outcome: Outcome::ALL[(i % 4) as usize],
            matched: (i % 4 == 1).then(|| "asn".into()),
            matched_entry: (i % 4 == 1).then(|| "asn.deny.lst:3: 16509".into()),
            lookup_errors: vec![],
        }
    }

    fn block_of(base: u64, rows: &[Row]) -> Vec<u8> {
        let mut body = Vec::new();
        for row in rows {
            put_varint(&mut body, row.time_us - base);
            encode_body(&mut body, row);
        }
        block_from_body(rows.len() as u64, &body)
    }

    #[test]
    fn blocks_round_trip_records() {
        let mut strings = Strings::new();
        let mut added = Vec::new();
        let records: Vec<Record> = (0..50).map(record).collect();
        let rows: Vec<Row> = records
            .iter()
            .map(|r| Row::intern(r, &mut strings, &mut added))
            .collect();
        assert_eq!(added.len(), strings.len());
        let base = records[0].time_us.unwrap();
        let block = block_of(base, &rows);
        assert!(block.len() < 50 * 40, "{} bytes", block.len());
        let reloaded = Strings::from_pairs(added);
        let mut reader = BlockReader::new(base, &block).unwrap();
        assert_eq!(reader.remaining(), 50);
        let mut row = Row::default();
        let mut back = Vec::new();
        while reader.next_into(&mut row).unwrap() {
            back.push(row.to_record(&reloaded));
        }
        assert_eq!(back, records);
    }

    /// A 20 KB user name, a long AS name and 40 entities, interned from a record and from
    /// its journal frame: each string is cut to 256 bytes with `…`, the list to 32 items.
    #[test]
    fn long_strings_and_lists_are_cut_and_the_cut_is_marked() {
        let mut r = record(1);
        r.user = "ü".repeat(10_000);
        r.as_desc = Some(format!("{}, NL", "EXAMPLE-".repeat(100)));
        r.entities = (0..40).map(|i| format!("ENT-{i}")).collect();
        let check = |got: &Record| {
            assert!(got.user.len() <= MAX_STRING_BYTES, "{}", got.user.len());
            assert!(got.user.ends_with('…') && got.user.starts_with("üüü"));
            let desc = got.as_desc.as_deref().unwrap();
            assert!(
                desc.len() <= MAX_STRING_BYTES && desc.ends_with('…'),
                "{desc}"
            );
            assert_eq!(got.entities.len(), MAX_LIST_ITEMS);
            assert_eq!(got.entities[30], "ENT-30");
            assert_eq!(got.entities[31], "… 9 more");
            assert_eq!(got.service, r.service);
        };
        let mut strings = Strings::new();
        let mut added = Vec::new();
        let row = Row::intern(&r, &mut strings, &mut added);
        check(&row.to_record(&strings));

        let mut frame = Vec::new();
        encode_record(&mut frame, &r);
        let mut view = RecordRef::default();
        decode_record_ref(&frame, &mut view).unwrap();
        let mut row = Row::default();
        let mut strings = Strings::new();
        row.intern_ref(&view, &mut strings, &mut added);
        check(&row.to_record(&strings));
        // Short strings stay as they are.
        assert_eq!(capped("a.example"), "a.example");
        assert_eq!(capped(&"x".repeat(256)).len(), 256);
    }

    #[test]
    fn records_round_trip_on_their_own() {
        for i in 0..50 {
            let mut r = record(i);
            if i == 7 {
                r.time_us = None;
                r.lookup_errors = vec!["rdap:timeout".into(), "ptr:servfail".into()];
            }
            let mut out = Vec::new();
            encode_record(&mut out, &r);
            assert_eq!(decode_record(&out), Ok(r.clone()));
            for cut in 0..out.len() {
                assert!(decode_record(&out[..cut]).is_err(), "cut at {cut}");
            }
        }
    }

    #[test]
    fn damaged_blocks_are_errors_not_panics() {
        let mut strings = Strings::new();
        let rows: Vec<Row> = (0..5)
            .map(|i| Row::intern(&record(i), &mut strings, &mut Vec::new()))
            .collect();
        let block = block_of(0, &rows);
        let mut row = Row::default();
        for cut in 0..block.len() {
            let Ok(mut reader) = BlockReader::new(0, &block[..cut]) else {
                continue;
            };
            let mut result = Ok(true);
            while let Ok(true) = result {
                result = reader.next_into(&mut row);
            }
            assert!(result.is_err(), "cut at {cut} read as complete");
        }
        assert_eq!(
            BlockReader::new(0, &[9, 0]).err(),
            Some(DecodeError::Version(9))
        );
    }
}
