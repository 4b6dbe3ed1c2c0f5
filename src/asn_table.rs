//! An offline IP→ASN table, for sites that cannot query Team Cymru.
//!
//! [`AsnTable::load`] / [`AsnTable::load_all`] read range files in either of two formats,
//! recognised by content (a line holding a TAB is iptoasn, otherwise CSV):
//!
//! 1. the iptoasn.com TSV (`ip2asn-v4.tsv`, `ip2asn-v6.tsv`, `ip2asn-combined.tsv`):
//!    `range_start<TAB>range_end<TAB>AS_number<TAB>country_code<TAB>AS_description`.
//!    Rows with AS 0 ("Not routed") are skipped (counted in [`AsnTable::not_routed`]);
//!    a country of `None` or empty means "unknown".
//! 2. the ip-location-db CSV (`asn-ipv4.csv`, `asn-ipv6.csv`):
//!    `range_start,range_end,asn,org`, where `org` may be RFC 4180 quoted (`"…"`, with
//!    `""` for a literal quote) and may contain commas. A header line whose first field is
//!    `range_start` (either format) is ignored.
//!
//! Either may be gzip-compressed; that is detected by the magic bytes `1f 8b`, not by the
//! file name. Blank lines and lines starting with `#` are ignored. A malformed line is
//! counted ([`AsnTable::skipped`]) and the first [`MAX_WARNINGS`] are described in
//! [`AsnTable::warnings`]; it is never fatal. A table with no ranges at all is an error.
//!
//! Ranges are inclusive. They are stored per family as sorted, non-overlapping
//! `(start, end, entry index)` triples and looked up by binary search. IPv4-mapped IPv6
//! addresses (`::ffff:a.b.c.d`) are looked up as IPv4; an input range whose both ends are
//! IPv4-mapped is stored as IPv4.
//!
//! **Overlaps.** Where input ranges overlap, the *narrower* range (fewer addresses) answers
//! for the overlapped part, and the wider one keeps the parts it alone covers (it may be
//! split in two). Between ranges of equal width, the one read first (earlier file, then
//! earlier line) wins — so a duplicated range keeps its first answer.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::facts::Asn;

/// How many malformed-line descriptions [`AsnTable::warnings`] keeps.
pub const MAX_WARNINGS: usize = 10;

/// Why a table could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum AsnTableError {
    /// The file could not be opened or read (including a corrupt gzip stream).
    #[error("cannot read ASN table {path}: {source}")]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No file was given, or the files held no usable range.
    #[error("ASN table from {files} holds no usable range ({skipped} malformed lines skipped)")]
    Empty {
        /// The files read, comma-separated (or `no files`).
        files: String,
        /// Malformed lines skipped while reading them.
        skipped: usize,
    },
}

/// The answer for one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsnEntry {
    /// The origin AS.
    pub asn: Asn,
    /// The AS description / organisation name, if the source gave one.
    pub description: Option<String>,
    /// The ISO country code, if the source gave one (the CSV format has none).
    pub country: Option<String>,
    /// The stored (inclusive) range the address fell in. After overlap resolution this can
    /// be a part of an input range.
    pub range: (IpAddr, IpAddr),
}

#[derive(Clone, Copy, Debug)]
struct Span<T> {
    start: T,
    end: T,
    entry: u32,
}

type EntryData = (Asn, Option<String>, Option<String>);

/// An in-memory IP→ASN table. Cheap to query, immutable once loaded.
#[derive(Debug, Default)]
pub struct AsnTable {
    v4: Vec<Span<u32>>,
    v6: Vec<Span<u128>>,
    entries: Vec<EntryData>,
    /// Per AS, the entry whose description [`AsnTable::name_of`] gives.
    names: HashMap<u32, u32>,
    rows: usize,
    not_routed: usize,
    skipped: usize,
    warnings: Vec<String>,
}

/// One accepted input row, before overlap resolution. Addresses are widened to u128.
struct RawRange {
    start: u128,
    end: u128,
    entry: u32,
}

#[derive(Default)]
struct Builder {
    v4: Vec<RawRange>,
    v6: Vec<RawRange>,
    entries: Vec<EntryData>,
    interned: HashMap<EntryData, u32>,
    rows: usize,
    not_routed: usize,
    skipped: usize,
    warnings: Vec<String>,
}

enum Parsed {
    Row {
        start: IpAddr,
        end: IpAddr,
        asn: u32,
        country: Option<String>,
        description: Option<String>,
    },
    Ignore,
}

impl AsnTable {
    /// Loads one file (TSV or CSV, plain or gzip).
    pub fn load(path: &Path) -> Result<AsnTable, AsnTableError> {
        Self::load_all([path])
    }

    /// Loads several files (e.g. the IPv4 and the IPv6 file) into one table.
    pub fn load_all<I, P>(paths: I) -> Result<AsnTable, AsnTableError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        let mut b = Builder::default();
        let mut names = Vec::new();
        for p in paths {
            let path = p.as_ref();
            names.push(path.display().to_string());
            let io_err = |source| AsnTableError::Io {
                path: path.to_path_buf(),
                source,
            };
            let file = std::fs::File::open(path).map_err(io_err)?;
            b.read(&path.display().to_string(), file).map_err(io_err)?;
        }
        let files = if names.is_empty() {
            "no files".to_string()
        } else {
            names.join(", ")
        };
        b.finish(files)
    }

    /// Builds a table from in-memory file contents (plain or gzip); `name` labels warnings.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<AsnTable, AsnTableError> {
        let mut b = Builder::default();
        b.read(name, bytes).map_err(|source| AsnTableError::Io {
            path: PathBuf::from(name),
            source,
        })?;
        b.finish(name.to_string())
    }

    /// The entry for `ip`, or `None` if no loaded range covers it.
    pub fn lookup(&self, ip: IpAddr) -> Option<AsnEntry> {
        match ip {
            IpAddr::V4(v4) => self.lookup_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => self.lookup_v4(v4),
                None => {
                    let x = u128::from(v6);
                    let s = find(&self.v6, x)?;
                    self.entry(
                        s.entry,
                        IpAddr::V6(Ipv6Addr::from(s.start)),
                        IpAddr::V6(Ipv6Addr::from(s.end)),
                    )
                }
            },
        }
    }

    fn lookup_v4(&self, ip: Ipv4Addr) -> Option<AsnEntry> {
        let s = find(&self.v4, u32::from(ip))?;
        self.entry(
            s.entry,
            IpAddr::V4(Ipv4Addr::from(s.start)),
            IpAddr::V4(Ipv4Addr::from(s.end)),
        )
    }

    fn entry(&self, idx: u32, start: IpAddr, end: IpAddr) -> Option<AsnEntry> {
        let (asn, description, country) = self.entries.get(idx as usize)?;
        Some(AsnEntry {
            asn: *asn,
            description: description.clone(),
            country: country.clone(),
            range: (start, end),
        })
    }

    /// The description of AS `asn`, whichever range of it the table holds: the first one
    /// read among those with a description. `None` when the table has no range of that AS
    /// with a description.
    pub fn name_of(&self, asn: u32) -> Option<&str> {
        let idx = *self.names.get(&asn)?;
        self.entries.get(idx as usize)?.1.as_deref()
    }

    /// Input rows accepted (AS 0 rows, malformed and ignored lines excluded).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Rows skipped because their AS was 0 ("Not routed").
    pub fn not_routed(&self) -> usize {
        self.not_routed
    }

    /// Malformed lines skipped.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Descriptions (`file:line: reason`) of the first [`MAX_WARNINGS`] malformed lines.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Stored IPv4 ranges (after overlap resolution and merging of adjacent equal ranges).
    pub fn len_v4(&self) -> usize {
        self.v4.len()
    }

    /// Stored IPv6 ranges (after overlap resolution and merging of adjacent equal ranges).
    pub fn len_v6(&self) -> usize {
        self.v6.len()
    }

    /// Distinct `(AS, description, country)` entries.
    pub fn distinct_entries(&self) -> usize {
        self.entries.len()
    }
}

/// The first entry with a description of every AS.
fn names_by_asn(entries: &[EntryData]) -> HashMap<u32, u32> {
    let mut names = HashMap::new();
    for (idx, (asn, description, _)) in entries.iter().enumerate() {
        if description.is_some() {
            if let Ok(idx) = u32::try_from(idx) {
                names.entry(asn.0).or_insert(idx);
            }
        }
    }
    names
}

fn find<T: Copy + Ord>(spans: &[Span<T>], x: T) -> Option<&Span<T>> {
    let i = spans.partition_point(|s| s.start <= x);
    let s = spans.get(i.checked_sub(1)?)?;
    (x <= s.end).then_some(s)
}

impl Builder {
    fn read<R: Read>(&mut self, name: &str, reader: R) -> std::io::Result<()> {
        let mut r = BufReader::with_capacity(1 << 16, reader);
        let gz = r.fill_buf()?.starts_with(&[0x1f, 0x8b]);
        if gz {
            let d = BufReader::with_capacity(1 << 16, flate2::read::GzDecoder::new(r));
            self.read_lines(name, d)
        } else {
            self.read_lines(name, r)
        }
    }

    fn read_lines<R: BufRead>(&mut self, name: &str, mut r: R) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(256);
        let mut lineno = 0usize;
        loop {
            buf.clear();
            if r.read_until(b'\n', &mut buf)? == 0 {
                return Ok(());
            }
            lineno += 1;
            let result = match std::str::from_utf8(&buf) {
                Ok(line) => parse_line(line.trim_end_matches(['\n', '\r'])),
                Err(_) => Err("not valid UTF-8".to_string()),
            };
            match result {
                Ok(Parsed::Ignore) => {}
                Ok(Parsed::Row {
                    start,
                    end,
                    asn,
                    country,
                    description,
                }) => {
                    if let Err(why) = self.add(start, end, asn, country, description) {
                        self.malformed(name, lineno, why);
                    }
                }
                Err(why) => self.malformed(name, lineno, why),
            }
        }
    }

    fn malformed(&mut self, name: &str, lineno: usize, why: String) {
        self.skipped += 1;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(format!("{name}:{lineno}: {why}"));
        }
    }

    fn add(
        &mut self,
        start: IpAddr,
        end: IpAddr,
        asn: u32,
        country: Option<String>,
        description: Option<String>,
    ) -> Result<(), String> {
        let (v4, s, e) = match (start, end) {
            (IpAddr::V4(s), IpAddr::V4(e)) => {
                (true, u128::from(u32::from(s)), u128::from(u32::from(e)))
            }
            (IpAddr::V6(s), IpAddr::V6(e)) => match (s.to_ipv4_mapped(), e.to_ipv4_mapped()) {
                (Some(s4), Some(e4)) => {
                    (true, u128::from(u32::from(s4)), u128::from(u32::from(e4)))
                }
                _ => (false, u128::from(s), u128::from(e)),
            },
            _ => return Err(format!("range {start} - {end} mixes IPv4 and IPv6")),
        };
        if s > e {
            return Err(format!("range start {start} is after its end {end}"));
        }
        if asn == 0 {
            self.not_routed += 1;
            return Ok(());
        }
        let key = (Asn(asn), description, country);
        let entry = match self.interned.get(&key) {
            Some(&i) => i,
            None => {
                let i = u32::try_from(self.entries.len())
                    .map_err(|_| "too many distinct entries".to_string())?;
                self.entries.push(key.clone());
                self.interned.insert(key, i);
                i
            }
        };
        let raw = RawRange {
            start: s,
            end: e,
            entry,
        };
        if v4 {
            self.v4.push(raw);
        } else {
            self.v6.push(raw);
        }
        self.rows += 1;
        Ok(())
    }

    fn finish(self, files: String) -> Result<AsnTable, AsnTableError> {
        if self.v4.is_empty() && self.v6.is_empty() {
            return Err(AsnTableError::Empty {
                files,
                skipped: self.skipped,
            });
        }
        let v4 = resolve(self.v4)
            .into_iter()
            .filter_map(|s| {
                Some(Span {
                    start: u32::try_from(s.start).ok()?,
                    end: u32::try_from(s.end).ok()?,
                    entry: s.entry,
                })
            })
            .collect();
        let names = names_by_asn(&self.entries);
        Ok(AsnTable {
            v4,
            v6: resolve(self.v6),
            names,
            entries: self.entries,
            rows: self.rows,
            not_routed: self.not_routed,
            skipped: self.skipped,
            warnings: self.warnings,
        })
    }
}

/// Turns possibly overlapping ranges into sorted, disjoint spans: at each address the
/// narrowest covering range wins, ties going to the earliest input. Adjacent spans with
/// the same entry are merged.
fn resolve(mut input: Vec<RawRange>) -> Vec<Span<u128>> {
    // Remember each range's input position for the equal-width tie-break.
    let mut ranges: Vec<(usize, RawRange)> = input.drain(..).enumerate().collect();
    ranges.sort_by_key(|(_, r)| r.start);

    let mut out: Vec<Span<u128>> = Vec::with_capacity(ranges.len());
    // Min-heap on (width, input position); carries (end, entry).
    let mut active: BinaryHeap<Reverse<(u128, usize, u128, u32)>> = BinaryHeap::new();
    let mut next = 0usize;
    let mut cur: u128 = 0;
    loop {
        // Drop ranges that ended before `cur`.
        while active.peek().is_some_and(|Reverse(t)| t.2 < cur) {
            active.pop();
        }
        if active.is_empty() {
            match ranges.get(next) {
                Some((_, r)) => cur = r.start,
                None => break,
            }
        }
        while let Some((pos, r)) = ranges.get(next) {
            if r.start > cur {
                break;
            }
            active.push(Reverse((r.end - r.start, *pos, r.end, r.entry)));
            next += 1;
        }
        let Some(&Reverse((_, _, top_end, entry))) = active.peek() else {
            continue;
        };
        let seg_end = match ranges.get(next) {
            Some((_, r)) => top_end.min(r.start - 1),
            None => top_end,
        };
        push_merged(&mut out, cur, seg_end, entry);
        if seg_end == u128::MAX {
            break;
        }
        cur = seg_end + 1;
    }
    out
}

fn push_merged(out: &mut Vec<Span<u128>>, start: u128, end: u128, entry: u32) {
    if let Some(last) = out.last_mut() {
        if last.entry == entry && last.end.checked_add(1) == Some(start) {
            last.end = end;
            return;
        }
    }
    out.push(Span { start, end, entry });
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("not an IP address: {:?}", s))
}

fn parse_asn(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let digits = match t.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("as") => &t[2..],
        _ => t,
    };
    digits
        .parse()
        .map_err(|_| format!("not an AS number: {:?}", s))
}

fn parse_line(line: &str) -> Result<Parsed, String> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(Parsed::Ignore);
    }
    if line.contains('\t') {
        parse_tsv(line)
    } else {
        parse_csv(line)
    }
}

fn is_header(first: &str) -> bool {
    first
        .trim()
        .trim_matches('"')
        .eq_ignore_ascii_case("range_start")
}

fn parse_tsv(line: &str) -> Result<Parsed, String> {
    let f: Vec<&str> = line.split('\t').collect();
    if f.first().is_some_and(|s| is_header(s)) {
        return Ok(Parsed::Ignore);
    }
    if f.len() != 5 {
        return Err(format!("expected 5 TAB-separated fields, got {}", f.len()));
    }
    let country = non_empty(f[3]).filter(|c| !c.eq_ignore_ascii_case("none"));
    Ok(Parsed::Row {
        start: parse_ip(f[0])?,
        end: parse_ip(f[1])?,
        asn: parse_asn(f[2])?,
        country,
        description: non_empty(f[4]),
    })
}

/// Splits one RFC 4180 CSV line into fields.
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::with_capacity(4);
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field".to_string()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("unexpected {c:?} after a quoted field")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

fn parse_csv(line: &str) -> Result<Parsed, String> {
    let f = split_csv(line)?;
    if f.first().is_some_and(|s| is_header(s)) {
        return Ok(Parsed::Ignore);
    }
    if f.len() != 4 {
        return Err(format!(
            "expected 4 comma-separated fields, got {}",
            f.len()
        ));
    }
    Ok(Parsed::Row {
        start: parse_ip(&f[0])?,
        end: parse_ip(&f[1])?,
        asn: parse_asn(&f[2])?,
        country: None,
        description: non_empty(&f[3]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(start: u128, end: u128, entry: u32) -> RawRange {
        RawRange { start, end, entry }
    }

    fn spans(v: &[Span<u128>]) -> Vec<(u128, u128, u32)> {
        v.iter().map(|s| (s.start, s.end, s.entry)).collect()
    }

    #[test]
    fn nested_range_splits_outer() {
        let out = resolve(vec![raw(0, 100, 0), raw(10, 20, 1)]);
        assert_eq!(spans(&out), vec![(0, 9, 0), (10, 20, 1), (21, 100, 0)]);
    }

    #[test]
    fn partial_overlap_narrower_wins() {
        let out = resolve(vec![raw(0, 50, 0), raw(40, 60, 1)]);
        assert_eq!(spans(&out), vec![(0, 39, 0), (40, 60, 1)]);
        let out = resolve(vec![raw(40, 100, 0), raw(0, 50, 1)]);
        assert_eq!(spans(&out), vec![(0, 50, 1), (51, 100, 0)]);
    }

    #[test]
    fn equal_width_first_wins_and_gaps_stay() {
        let out = resolve(vec![raw(5, 9, 0), raw(5, 9, 1), raw(20, 29, 2)]);
        assert_eq!(spans(&out), vec![(5, 9, 0), (20, 29, 2)]);
    }

    #[test]
    fn adjacent_same_entry_merged_and_max_ok() {
        let out = resolve(vec![
            raw(0, 9, 0),
            raw(10, 19, 0),
            raw(u128::MAX - 1, u128::MAX, 1),
        ]);
        assert_eq!(spans(&out), vec![(0, 19, 0), (u128::MAX - 1, u128::MAX, 1)]);
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(
            split_csv(r#"1.0.0.0,1.0.0.255,1,"LLC ""SPUTNIK"", x""#).ok(),
            Some(vec![
                "1.0.0.0".into(),
                "1.0.0.255".into(),
                "1".into(),
                r#"LLC "SPUTNIK", x"#.into()
            ])
        );
        assert!(split_csv(r#"a,"b"#).is_err());
        assert!(split_csv(r#"a,"b"c"#).is_err());
    }
}
