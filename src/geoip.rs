//! GeoIP: reading MaxMind-format (`.mmdb`) databases into [`GeoFacts`], noticing when
//! the files on disk were replaced, and the `mail-audit-maxmind:` audit line.
//!
//! This module owns:
//! - [`GeoIp`]: an optional City-or-Country database plus an optional ASN database,
//!   each read into memory with [`maxminddb::Reader::open_readfile`] (no `mmap`, so a
//!   file replaced under a live reader cannot crash the daemon). Opening verifies the
//!   whole database and does a probe lookup, so a corrupt file is refused up front with
//!   an error naming the file instead of failing on some later login.
//! - [`GeoIpSource`]: the configured paths; [`GeoIpSource::changed`] compares each
//!   file's (length, mtime, inode) to what was loaded, so the daemon can poll and swap
//!   in a new [`GeoIp`] after `geoipupdate` renamed fresh files into place.
//! - [`maxmind_audit_line`]: the contract's (§4) second audit line, written by
//!   [`MaxmindLine`].
//!
//! Besides MaxMind's GeoIP2/GeoLite2 layout, records from DB-IP / ip-location-db files
//! are understood: they put the country code in a top-level `country_code` (used when
//! `country.iso_code` is absent) and may carry `autonomous_system_number` /
//! `autonomous_system_organization` in the same file.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use maxminddb::{MaxMindDbError, Reader};
use serde::Deserialize;

use crate::audit::MaxmindLine;
use crate::facts::{Asn, GeoFacts, Location, Place};

/// At most this many subdivisions are kept from one record (real data has one or two).
pub const MAX_SUBDIVISIONS: usize = 8;

/// Why a GeoIP database could not be opened or read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    /// The file could not be read (missing, unreadable).
    #[error("GeoIP database {}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file is not a valid MaxMind DB (bad metadata, search tree or data section).
    #[error("GeoIP database {}: corrupt or not a MaxMind DB: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: Box<MaxMindDbError>,
    },
    /// Looking up or decoding the record for `ip` failed.
    #[error("GeoIP database {}: lookup of {ip} failed: {source}", path.display())]
    Lookup {
        path: PathBuf,
        ip: IpAddr,
        #[source]
        source: Box<MaxMindDbError>,
    },
}

/// What identifies one version of a file on disk: length, modification time and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    pub len: u64,
    pub mtime: Option<SystemTime>,
    pub inode: u64,
}

impl FileStamp {
    /// The stamp of the file at `path` now.
    pub fn of(path: &Path) -> io::Result<FileStamp> {
        let meta = std::fs::metadata(path)?;
        Ok(FileStamp {
            len: meta.len(),
            mtime: meta.modified().ok(),
            inode: inode(&meta),
        })
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.ino()
}

#[cfg(not(unix))]
fn inode(_meta: &std::fs::Metadata) -> u64 {
    0
}

/// One opened database file.
struct Db {
    path: PathBuf,
    stamp: FileStamp,
    reader: Reader<Vec<u8>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.path)
            .field("stamp", &self.stamp)
            .field("database_type", &self.reader.metadata().database_type)
            .finish()
    }
}

/// Addresses looked up once at open time, to catch databases that only fail on lookup.
const PROBE_IPS: [IpAddr; 4] = [
    IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1)),
    IpAddr::V4(Ipv4Addr::new(81, 2, 69, 142)),
    IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
    IpAddr::V6(std::net::Ipv6Addr::new(
        0x2001, 0x4860, 0, 0, 0, 0, 0, 0x8888,
    )),
];

/// Metadata complaints of [`Reader::verify`] that do not affect lookups.
const COSMETIC_METADATA: [&str; 2] = ["description - Expected", "database_type - Expected"];

impl Db {
    fn open(path: &Path) -> Result<Db, GeoIpError> {
        // Stamp first: if the file is replaced between stat and read, the next
        // `changed()` sees a difference and the daemon simply loads it once more.
        let stamp = FileStamp::of(path).map_err(|source| GeoIpError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let reader = Reader::open_readfile(path).map_err(|e| match e {
            MaxMindDbError::Io(source) => GeoIpError::Io {
                path: path.to_path_buf(),
                source,
            },
            source => GeoIpError::Corrupt {
                path: path.to_path_buf(),
                source: Box::new(source),
            },
        })?;
        match reader.verify() {
            Ok(()) => {}
            // Third-party files (ip-location-db) leave `description` empty; the crate's
            // verifier stops at that cosmetic check before the search tree and data
            // section, so such a file is accepted on the probe lookups alone.
            Err(MaxMindDbError::InvalidDatabase { message, .. })
                if COSMETIC_METADATA.iter().any(|m| message.starts_with(m)) => {}
            Err(source) => {
                return Err(GeoIpError::Corrupt {
                    path: path.to_path_buf(),
                    source: Box::new(source),
                })
            }
        }
        let db = Db {
            path: path.to_path_buf(),
            stamp,
            reader,
        };
        for ip in PROBE_IPS {
            db.record(ip)?;
        }
        Ok(db)
    }

    /// The record for `ip`, `None` when the database has none.
    fn record(&self, ip: IpAddr) -> Result<Option<RawRecord>, GeoIpError> {
        let ip = ip.to_canonical();
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return Ok(None);
        }
        let err = |source| GeoIpError::Lookup {
            path: self.path.clone(),
            ip,
            source: Box::new(source),
        };
        let found = self.reader.lookup(ip).map_err(err)?;
        found.decode::<RawRecord>().map_err(err)
    }
}

/// The opened GeoIP databases. Cheap to share behind an `Arc`; swap a whole new one in
/// on reload.
#[derive(Debug)]
pub struct GeoIp {
    city: Option<Db>,
    asn: Option<Db>,
}

impl GeoIp {
    /// Opens the City-or-Country database and the ASN database (either may be `None`).
    ///
    /// Each file is read into memory, verified in full and probed with a few lookups;
    /// a missing or corrupt file is an error naming it.
    pub fn open(city: Option<&Path>, asn: Option<&Path>) -> Result<GeoIp, GeoIpError> {
        Ok(GeoIp {
            city: city.map(Db::open).transpose()?,
            asn: asn.map(Db::open).transpose()?,
        })
    }

    /// Opens the same paths again (after [`GeoIpSource::changed`]). On error `self` is
    /// untouched, so the caller keeps using it.
    pub fn reopen(&self) -> Result<GeoIp, GeoIpError> {
        self.source().open()
    }

    /// The paths this was opened from.
    pub fn source(&self) -> GeoIpSource {
        GeoIpSource {
            city_path: self.city.as_ref().map(|d| d.path.clone()),
            asn_path: self.asn.as_ref().map(|d| d.path.clone()),
        }
    }

    /// The `database_type` metadata of the City-or-Country and ASN databases.
    pub fn database_types(&self) -> (Option<&str>, Option<&str>) {
        fn t(d: &Option<Db>) -> Option<&str> {
            d.as_ref()
                .map(|d| d.reader.metadata().database_type.as_str())
        }
        (t(&self.city), t(&self.asn))
    }

    /// What the databases know about `ip`; `None` when neither knows it.
    ///
    /// The AS number and organisation come from the ASN database, or, when it has none
    /// for `ip`, from the City-or-Country record (DB-IP / ip-location-db files carry
    /// them there). An IPv4-mapped IPv6 address is looked up as IPv4.
    pub fn lookup(&self, ip: IpAddr) -> Result<Option<GeoFacts>, GeoIpError> {
        let mut facts = GeoFacts::default();
        if let Some(rec) = self
            .city
            .as_ref()
            .map(|d| d.record(ip))
            .transpose()?
            .flatten()
        {
            rec.fill(&mut facts);
        }
        if let Some(rec) = self
            .asn
            .as_ref()
            .map(|d| d.record(ip))
            .transpose()?
            .flatten()
        {
            if let Some(n) = rec.autonomous_system_number {
                facts.asn = Some(Asn(n));
                facts.as_org = rec.autonomous_system_organization;
            } else if rec.autonomous_system_organization.is_some() {
                facts.as_org = rec.autonomous_system_organization;
            }
        }
        Ok((facts != GeoFacts::default()).then_some(facts))
    }
}

/// The configured database paths, for polling whether the files were replaced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeoIpSource {
    pub city_path: Option<PathBuf>,
    pub asn_path: Option<PathBuf>,
}

impl GeoIpSource {
    /// Opens the databases at these paths.
    pub fn open(&self) -> Result<GeoIp, GeoIpError> {
        GeoIp::open(self.city_path.as_deref(), self.asn_path.as_deref())
    }

    /// Whether the files differ from what `loaded` was read from: another path, or
    /// another (length, mtime, inode). A file that cannot be examined right now (for
    /// example in the middle of a replace) counts as unchanged, so the loaded copy stays
    /// in use and the next poll looks again.
    pub fn changed(&self, loaded: &GeoIp) -> bool {
        fn one(path: &Option<PathBuf>, db: &Option<Db>) -> bool {
            match (path, db) {
                (None, None) => false,
                (Some(p), Some(db)) if *p == db.path => {
                    FileStamp::of(p).map(|s| s != db.stamp).unwrap_or(false)
                }
                _ => true,
            }
        }
        one(&self.city_path, &loaded.city) || one(&self.asn_path, &loaded.asn)
    }
}

/// The fields of a GeoIP2 City / Country / ASN / ISP record, or a DB-IP one, that the
/// facts use. Unknown fields are ignored; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawRecord {
    city: Option<RawPlace>,
    continent: Option<RawPlace>,
    country: Option<RawPlace>,
    registered_country: Option<RawPlace>,
    represented_country: Option<RawPlace>,
    subdivisions: Option<Vec<RawPlace>>,
    location: Option<RawLocation>,
    /// DB-IP / ip-location-db: the country code at the top level.
    country_code: Option<String>,
    autonomous_system_number: Option<u32>,
    autonomous_system_organization: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawPlace {
    geoname_id: Option<u32>,
    iso_code: Option<String>,
    /// Continents have `code` instead of `iso_code`.
    code: Option<String>,
    names: Option<RawNames>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawNames {
    en: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawLocation {
    latitude: Option<f64>,
    longitude: Option<f64>,
    /// `uint16` in the format; the decoder does not widen integer types.
    accuracy_radius: Option<u16>,
}

impl RawPlace {
    fn into_place(self) -> Option<Place> {
        let place = Place {
            geoname_id: self.geoname_id,
            code: self.iso_code.or(self.code),
            name: self.names.and_then(|n| n.en),
        };
        (place != Place::default()).then_some(place)
    }
}

impl RawRecord {
    fn fill(self, facts: &mut GeoFacts) {
        facts.city = self.city.and_then(RawPlace::into_place);
        facts.subdivisions = self
            .subdivisions
            .unwrap_or_default()
            .into_iter()
            .take(MAX_SUBDIVISIONS)
            .filter_map(RawPlace::into_place)
            .collect();
        facts.country = self.country.and_then(RawPlace::into_place);
        if let Some(cc) = self.country_code.filter(|c| !c.is_empty()) {
            let country = facts.country.get_or_insert_with(Place::default);
            if country.code.is_none() {
                country.code = Some(cc);
            }
        }
        facts.continent = self.continent.and_then(RawPlace::into_place);
        facts.registered_country = self.registered_country.and_then(RawPlace::into_place);
        facts.represented_country = self.represented_country.and_then(RawPlace::into_place);
        facts.location = self.location.and_then(|l| match (l.latitude, l.longitude) {
            (Some(latitude), Some(longitude)) => Some(Location {
                latitude,
                longitude,
                accuracy_radius: l.accuracy_radius.map(u32::from),
            }),
            _ => None,
        });
        facts.asn = self.autonomous_system_number.map(Asn);
        facts.as_org = self.autonomous_system_organization;
    }
}

/// The contract's (§4) second audit line ([`MaxmindLine`]) as a string.
pub fn maxmind_audit_line(user: &str, service: &str, ip: IpAddr, geo: &GeoFacts) -> String {
    MaxmindLine {
        user,
        service,
        ip,
        geo,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_code_fallback_fills_missing_iso_code_only() {
        let rec = RawRecord {
            country_code: Some("DE".into()),
            ..RawRecord::default()
        };
        let mut f = GeoFacts::default();
        rec.fill(&mut f);
        assert_eq!(f.country.and_then(|c| c.code).as_deref(), Some("DE"));

        let rec = RawRecord {
            country: Some(RawPlace {
                iso_code: Some("FR".into()),
                ..RawPlace::default()
            }),
            country_code: Some("DE".into()),
            ..RawRecord::default()
        };
        let mut f = GeoFacts::default();
        rec.fill(&mut f);
        assert_eq!(f.country.and_then(|c| c.code).as_deref(), Some("FR"));
    }

    #[test]
    fn error_stays_small() {
        assert!(size_of::<GeoIpError>() <= 64);
    }
}
