//! One record on its own, strings inline (no interning): the journal's frame payload.
//! Written without allocating, read in place ([`RecordRef`]) or into a [`Record`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::block::{put_varint, BlockReader, DecodeError};
use super::row::Row;
use super::strings::{intern_list, Strings};
use crate::decision::{Decision, Verdict};
use crate::facts::{CloudTag, Facts, LookupError};
use crate::history::record::matched_entry;
use crate::history::record::{Outcome, Record};

/// The fields of one record as the journal encoder reads them: borrowed, and either
/// already escaped (a [`Record`]) or raw (a decision being made: written as they are, and
/// escaped when the batch is committed, once per distinct decision, so the request path
/// neither escapes nor builds strings). `matched_entry` is always in escaped form.
pub(crate) struct Fields<'a> {
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
pub(super) enum Texts<'a> {
    /// Strings as they are.
    Strings(&'a [String]),
    /// Cloud tags (`provider:service[:region]`).
    Cloud(&'a [CloudTag]),
    /// Lookup errors (`source:kind`).
    Errors(&'a [LookupError]),
}

impl<'a> Fields<'a> {
    /// The fields of a record.
    pub(super) fn of(r: &'a Record) -> Fields<'a> {
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
pub(crate) fn encode_record(out: &mut Vec<u8>, r: &Record) {
    encode_fields(out, &Fields::of(r));
}

/// The strings of a standalone record are in their escaped form.
pub(crate) const STRINGS_ESCAPED: u8 = 0;
/// The strings of a standalone record are raw (`matched_entry` excepted): escape them when
/// reading.
pub(crate) const STRINGS_RAW: u8 = 1;

/// Encodes `f` in [`encode_record`]'s form.
pub(crate) fn encode_fields(out: &mut Vec<u8>, f: &Fields<'_>) {
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
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
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
pub(crate) fn split_time(bytes: &[u8]) -> Result<(u64, &[u8]), DecodeError> {
    let mut r = BlockReader::bare(bytes);
    let time_us = r.varint()?.saturating_sub(1);
    Ok((time_us, &bytes[r.position()..]))
}

/// Decodes what [`encode_record`] wrote into `out` (its lists reused).
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
pub fn decode_record_ref<'a>(bytes: &'a [u8], out: &mut RecordRef<'a>) -> Result<(), DecodeError> {
    let mut r = BlockReader::bare(bytes);
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
    if r.position() != bytes.len() {
        return Err(DecodeError::Invalid("trailing bytes after a record"));
    }
    Ok(())
}

/// Decodes what [`encode_record`] wrote.
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
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

/// A decision being made, written to `out` in the journal's record form without building
/// a [`Record`]: its strings raw, so it reads back (escaped) as [`Record::of_decision`].
pub fn encode_decision(
    out: &mut Vec<u8>,
    time_us: u64,
    user: &str,
    service: &str,
    facts: &Facts,
    decision: &Decision,
    outcome: Outcome,
) {
    let hit = decision
        .hit()
        .filter(|_| decision.verdict == Verdict::Block);
    let entry = hit.map(matched_entry);
    let fields = Fields {
        raw: true,
        time_us: Some(time_us),
        user,
        service,
        ip: facts.ip.reported(),
        host: facts.host.as_deref(),
        asn: facts.asn.map(|a| a.0),
        as_cc: facts.as_cc.as_deref(),
        as_desc: facts.as_desc.as_deref(),
        net_name: facts.net_name.as_deref(),
        net_cc: facts.net_cc.as_deref(),
        entities: &facts.entities,
        cloud: Texts::Cloud(&facts.cloud),
        geo_cc: facts.geo_cc(),
        outcome,
        matched: hit.map(|h| h.label.as_str()),
        matched_entry: entry.as_deref(),
        lookup_errors: Texts::Errors(&facts.lookup_errors),
    };
    encode_fields(out, &fields);
}

impl Row {
    /// Interns a journal frame read in place into `self` (its lists reused).
    #[cfg(feature = "fuzzing")]
    pub fn intern_ref(
        &mut self,
        r: &RecordRef<'_>,
        strings: &mut Strings,
        added: &mut Vec<(u32, String)>,
    ) {
        self.intern_view(r, strings, added)
    }

    /// Interns a journal frame read in place into `self` (its lists reused).
    #[cfg(not(feature = "fuzzing"))]
    pub(crate) fn intern_ref(
        &mut self,
        r: &RecordRef<'_>,
        strings: &mut Strings,
        added: &mut Vec<(u32, String)>,
    ) {
        self.intern_view(r, strings, added)
    }

    #[inline]
    fn intern_view(
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
}
