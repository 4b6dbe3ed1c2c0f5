//! The list directory: every list file of the contract, parsed and compiled into the
//! structures that make one decision cheap however long the lists are.
//!
//! Loading never stops at a bad line: each problem becomes a [`Diagnostic`] naming the
//! file and line, the line is skipped and the rest of the file loads. A missing file is an
//! empty list; a file that exists but cannot be read is an error naming it. A directory
//! that is missing or cannot be listed is one error, flagged in [`LoadReport`] so a reload
//! can keep the lists it has.

mod affix;
mod cidr;
mod coords;
mod diag;
mod keyed;
mod line;
mod pattern_list;
mod reach;
mod users;

use std::fmt;
use std::path::{Path, PathBuf};

pub use cidr::{parse_net, CidrList};
pub use coords::{Circle, CoordsList};
pub use diag::{Diagnostic, Severity};
pub use keyed::{AsnRule, CountryRule, EntityRule, GeoIdRule, KeyRule, KeyedList};
pub use line::{lines, Line};
pub use pattern_list::{MatchFailure, PatternList};
pub use reach::{unmatchable, Sources};
pub use users::UserAllowList;

use diag::FileReport;

/// One entry of a list: its line number and its text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number in the list file.
    pub line: usize,
    /// The entry (lossy UTF-8 of the bytes in the file).
    pub text: String,
}

impl Entry {
    pub(crate) fn of(line: usize, bytes: &[u8]) -> Entry {
        Entry {
            line,
            text: String::from_utf8_lossy(bytes).into_owned(),
        }
    }
}

/// Every list file badclients reads, in the order of the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListKind {
    /// `ip_net.allow.lst`: networks that are never blocked.
    IpNetAllow,
    /// `user.allow.lst`: user names that are never blocked.
    UserAllow,
    /// `ip_net.deny.lst`: blocked networks.
    IpNet,
    /// `rev_host.deny.lst`: patterns for the reverse DNS name.
    RevHost,
    /// `asn.deny.lst`: AS numbers (the origin AS, or GeoIP's).
    Asn,
    /// `as_cc.deny.lst`: allocation countries of the announced prefix.
    AsCc,
    /// `as_dscr.deny.lst`: patterns for the AS description.
    AsDscr,
    /// `net_cc.deny.lst`: RDAP network country codes.
    NetCc,
    /// `net_name.deny.lst`: patterns for the RDAP network name.
    NetName,
    /// `geo_cc.deny.lst`: GeoIP country codes.
    GeoCc,
    /// `entity.deny.lst`: RDAP entity handles.
    Entity,
    /// `cloud.deny.lst`: patterns for the cloud-range tags.
    Cloud,
    /// `maxmind/as_org.deny.lst`: patterns for the GeoIP AS organisation.
    MaxmindAsOrg,
    /// `maxmind/geo_loc.deny.lst`: GeoNames ids of cities, subdivisions and countries.
    MaxmindGeoLoc,
    /// `maxmind/coords.deny.lst`: circles on the globe.
    MaxmindCoords,
}

impl ListKind {
    /// All kinds, in decision order.
    pub const ALL: [ListKind; 15] = [
        ListKind::IpNetAllow,
        ListKind::UserAllow,
        ListKind::IpNet,
        ListKind::RevHost,
        ListKind::Asn,
        ListKind::AsCc,
        ListKind::AsDscr,
        ListKind::NetCc,
        ListKind::NetName,
        ListKind::GeoCc,
        ListKind::Entity,
        ListKind::Cloud,
        ListKind::MaxmindAsOrg,
        ListKind::MaxmindGeoLoc,
        ListKind::MaxmindCoords,
    ];

    /// The file name inside the list directory.
    pub fn file_name(self) -> &'static str {
        match self {
            ListKind::IpNetAllow => "ip_net.allow.lst",
            ListKind::UserAllow => "user.allow.lst",
            ListKind::IpNet => "ip_net.deny.lst",
            ListKind::RevHost => "rev_host.deny.lst",
            ListKind::Asn => "asn.deny.lst",
            ListKind::AsCc => "as_cc.deny.lst",
            ListKind::AsDscr => "as_dscr.deny.lst",
            ListKind::NetCc => "net_cc.deny.lst",
            ListKind::NetName => "net_name.deny.lst",
            ListKind::GeoCc => "geo_cc.deny.lst",
            ListKind::Entity => "entity.deny.lst",
            ListKind::Cloud => "cloud.deny.lst",
            ListKind::MaxmindAsOrg => "maxmind/as_org.deny.lst",
            ListKind::MaxmindGeoLoc => "maxmind/geo_loc.deny.lst",
            ListKind::MaxmindCoords => "maxmind/coords.deny.lst",
        }
    }
}

impl fmt::Display for ListKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}

/// The loaded list directory.
#[derive(Debug, Clone, Default)]
pub struct ListSet {
    dir: PathBuf,
    /// `ip_net.allow.lst`.
    pub ip_net_allow: CidrList,
    /// `user.allow.lst`.
    pub user_allow: UserAllowList,
    /// `ip_net.deny.lst`.
    pub ip_net: CidrList,
    /// `rev_host.deny.lst`.
    pub rev_host: PatternList,
    /// `asn.deny.lst`.
    pub asn: KeyedList<AsnRule>,
    /// `as_cc.deny.lst`.
    pub as_cc: KeyedList<CountryRule>,
    /// `as_dscr.deny.lst`.
    pub as_dscr: PatternList,
    /// `net_cc.deny.lst`.
    pub net_cc: KeyedList<CountryRule>,
    /// `net_name.deny.lst`.
    pub net_name: PatternList,
    /// `geo_cc.deny.lst`.
    pub geo_cc: KeyedList<CountryRule>,
    /// `entity.deny.lst`.
    pub entity: KeyedList<EntityRule>,
    /// `cloud.deny.lst`.
    pub cloud: PatternList,
    /// `maxmind/as_org.deny.lst`.
    pub maxmind_as_org: PatternList,
    /// `maxmind/geo_loc.deny.lst`.
    pub maxmind_geo_loc: KeyedList<GeoIdRule>,
    /// `maxmind/coords.deny.lst`.
    pub maxmind_coords: CoordsList,
}

/// What loading a list directory found.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// Number of list files that exist.
    pub files: usize,
    /// The list directory is missing, not a directory, or cannot be listed (then nothing
    /// was loaded from it).
    pub dir_unavailable: bool,
}

impl LoadReport {
    /// The number of errors among the diagnostics.
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    /// The number of warnings among the diagnostics.
    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }
}

impl ListSet {
    /// Loads every list file of `dir`.
    pub fn load(dir: &Path) -> (ListSet, LoadReport) {
        let mut set = ListSet {
            dir: dir.to_path_buf(),
            ..ListSet::default()
        };
        let mut report = LoadReport::default();
        if !dir.is_dir() {
            report.diagnostics.push(Diagnostic {
                path: dir.to_path_buf(),
                line: None,
                severity: Severity::Error,
                message: "the list directory does not exist or is not a directory".into(),
            });
            report.dir_unavailable = true;
            return (set, report);
        }
        if let Err(e) = std::fs::read_dir(dir) {
            report.diagnostics.push(Diagnostic {
                path: dir.to_path_buf(),
                line: None,
                severity: Severity::Error,
                message: format!("cannot read the list directory: {e}"),
            });
            report.dir_unavailable = true;
            return (set, report);
        }
        for kind in ListKind::ALL {
            let path = set.path(kind);
            let content = match std::fs::read(&path) {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    report.diagnostics.push(Diagnostic {
                        path,
                        line: None,
                        severity: Severity::Error,
                        message: format!("cannot read the list: {e}"),
                    });
                    continue;
                }
            };
            report.files += 1;
            let mut file = FileReport {
                path: &path,
                out: &mut report.diagnostics,
            };
            set.add_content(kind, &content, &mut file);
        }
        (set, report)
    }

    /// Parses one list's content into this set (used by `load` and the fuzz target).
    pub fn parse_into(&mut self, kind: ListKind, path: &Path, content: &[u8]) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let mut file = FileReport {
            path,
            out: &mut out,
        };
        self.add_content(kind, content, &mut file);
        out
    }

    fn add_content(&mut self, kind: ListKind, content: &[u8], file: &mut FileReport<'_>) {
        for line in lines(content) {
            match kind {
                ListKind::IpNetAllow => self.ip_net_allow.add_line(line, file),
                ListKind::UserAllow => self.user_allow.add_line(line, file),
                ListKind::IpNet => self.ip_net.add_line(line, file),
                ListKind::RevHost => self.rev_host.add_line(line, file),
                ListKind::Asn => self.asn.add_line(line, file),
                ListKind::AsCc => self.as_cc.add_line(line, file),
                ListKind::AsDscr => self.as_dscr.add_line(line, file),
                ListKind::NetCc => self.net_cc.add_line(line, file),
                ListKind::NetName => self.net_name.add_line(line, file),
                ListKind::GeoCc => self.geo_cc.add_line(line, file),
                ListKind::Entity => self.entity.add_line(line, file),
                ListKind::Cloud => self.cloud.add_line(line, file),
                ListKind::MaxmindAsOrg => self.maxmind_as_org.add_line(line, file),
                ListKind::MaxmindGeoLoc => self.maxmind_geo_loc.add_line(line, file),
                ListKind::MaxmindCoords => self.maxmind_coords.add_line(line, file),
            }
        }
    }

    /// The directory the lists were loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of one list file.
    pub fn path(&self, kind: ListKind) -> PathBuf {
        self.dir.join(kind.file_name())
    }

    /// The number of entries of one list.
    pub fn len_of(&self, kind: ListKind) -> usize {
        match kind {
            ListKind::IpNetAllow => self.ip_net_allow.len(),
            ListKind::UserAllow => self.user_allow.len(),
            ListKind::IpNet => self.ip_net.len(),
            ListKind::RevHost => self.rev_host.len(),
            ListKind::Asn => self.asn.len(),
            ListKind::AsCc => self.as_cc.len(),
            ListKind::AsDscr => self.as_dscr.len(),
            ListKind::NetCc => self.net_cc.len(),
            ListKind::NetName => self.net_name.len(),
            ListKind::GeoCc => self.geo_cc.len(),
            ListKind::Entity => self.entity.len(),
            ListKind::Cloud => self.cloud.len(),
            ListKind::MaxmindAsOrg => self.maxmind_as_org.len(),
            ListKind::MaxmindGeoLoc => self.maxmind_geo_loc.len(),
            ListKind::MaxmindCoords => self.maxmind_coords.len(),
        }
    }

    /// Replaces one list with the same list of `other` (a reload keeps the last good
    /// version of a list that now has errors).
    pub fn replace_list(&mut self, kind: ListKind, other: &ListSet) {
        match kind {
            ListKind::IpNetAllow => self.ip_net_allow = other.ip_net_allow.clone(),
            ListKind::UserAllow => self.user_allow = other.user_allow.clone(),
            ListKind::IpNet => self.ip_net = other.ip_net.clone(),
            ListKind::RevHost => self.rev_host = other.rev_host.clone(),
            ListKind::Asn => self.asn = other.asn.clone(),
            ListKind::AsCc => self.as_cc = other.as_cc.clone(),
            ListKind::AsDscr => self.as_dscr = other.as_dscr.clone(),
            ListKind::NetCc => self.net_cc = other.net_cc.clone(),
            ListKind::NetName => self.net_name = other.net_name.clone(),
            ListKind::GeoCc => self.geo_cc = other.geo_cc.clone(),
            ListKind::Entity => self.entity = other.entity.clone(),
            ListKind::Cloud => self.cloud = other.cloud.clone(),
            ListKind::MaxmindAsOrg => self.maxmind_as_org = other.maxmind_as_org.clone(),
            ListKind::MaxmindGeoLoc => self.maxmind_geo_loc = other.maxmind_geo_loc.clone(),
            ListKind::MaxmindCoords => self.maxmind_coords = other.maxmind_coords.clone(),
        }
    }

    /// The number of entries of all lists.
    pub fn total_entries(&self) -> usize {
        ListKind::ALL.iter().map(|k| self.len_of(*k)).sum()
    }
}
