//! [`Row`]: one record with its strings as ids into [`Strings`], as blocks hold it and
//! scans hand it out; made from a [`Record`] or from a journal frame read in place.

use std::net::{IpAddr, Ipv4Addr};

use super::strings::{intern_list, Strings};
use crate::history::record::{Outcome, Record};

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
