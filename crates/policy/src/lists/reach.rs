//! Entries that cannot match with the sources this configuration has: `cloud.deny.lst`
//! entries of providers whose range feed is not stored, and the `geo_cc` and `maxmind/`
//! lists while GeoIP is off. They load (the source may come later) but get a warning, with
//! the other problems of the lists (`lists check`, the daemon's log at load), instead of
//! "0 warnings" for entries that never match.

use std::path::PathBuf;

use super::{Diagnostic, ListKind, ListSet, Severity};

/// What the lists can be matched against.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// A GeoIP city (or country) database is configured: `geo_cc` and `maxmind/geoloc*`.
    pub geoip_city: bool,
    /// A GeoIP ASN database is configured: `maxmind/as_org`.
    pub geoip_asn: bool,
    /// The providers (`aws`, `gcp`, …) whose range feed is stored.
    pub cloud_feeds: Vec<&'static str>,
}

/// A warning for each entry (or whole list) that cannot match with `sources`.
pub fn unmatchable(lists: &ListSet, sources: &Sources) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let whole_file = |kind: ListKind, why: &str, out: &mut Vec<Diagnostic>| {
        let n = lists.len_of(kind);
        if n > 0 {
            out.push(warning(
                lists.path(kind),
                None,
                format!("{n} entries cannot match: {why}"),
            ));
        }
    };
    if !sources.geoip_city {
        let why = "GeoIP is off ([geoip] city is not set)";
        for kind in [
            ListKind::GeoCc,
            ListKind::MaxmindGeoLoc,
            ListKind::MaxmindCoords,
        ] {
            whole_file(kind, why, &mut out);
        }
    }
    if !sources.geoip_asn {
        whole_file(
            ListKind::MaxmindAsOrg,
            "GeoIP's ASN database is off ([geoip] asn is not set)",
            &mut out,
        );
    }
    let path = lists.path(ListKind::Cloud);
    for entry in lists.cloud.entries() {
        let why = match provider_of(&entry.text) {
            Some(p)
                if !sources
                    .cloud_feeds
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case(p)) =>
            {
                format!("no {p} range feed is stored (badclients ranges update)")
            }
            None if sources.cloud_feeds.is_empty() => {
                "no cloud range feed is stored (badclients ranges update)".to_string()
            }
            _ => continue,
        };
        out.push(warning(
            path.clone(),
            Some(entry.line),
            format!("{} cannot match: {why}", entry.text),
        ));
    }
    out
}

/// The provider a cloud entry names before its first `:` (`aws` of `aws:EC2:.*`), when
/// that part is plain letters; `None` for a pattern that may match several.
fn provider_of(text: &str) -> Option<&str> {
    let text = text.trim_start_matches(['\'', '"']);
    let (head, _) = text.split_once(':')?;
    (!head.is_empty() && head.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(head)
}

fn warning(path: PathBuf, line: Option<usize>, message: String) -> Diagnostic {
    Diagnostic {
        path,
        line,
        severity: Severity::Warning,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_without_their_source_are_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cloud.deny.lst"),
            "aws:EC2:.*\ngcp:.*\n.*:compute:.*\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("geo_cc.deny.lst"), "RU\nCN\n").unwrap();
        std::fs::create_dir(dir.path().join("maxmind")).unwrap();
        std::fs::write(dir.path().join("maxmind/as_org.deny.lst"), "Hostinger.*\n").unwrap();
        let (lists, report) = ListSet::load(dir.path());
        assert_eq!(report.errors(), 0, "{:?}", report.diagnostics);

        let texts = |d: Vec<Diagnostic>| -> Vec<String> {
            d.iter()
                .map(|d| {
                    let path = d
                        .path
                        .strip_prefix(dir.path())
                        .unwrap()
                        .display()
                        .to_string();
                    match d.line {
                        Some(l) => format!("{path}:{l}: {}", d.message),
                        None => format!("{path}: {}", d.message),
                    }
                })
                .collect()
        };
        // Nothing configured: everything is said.
        assert_eq!(
            texts(unmatchable(&lists, &Sources::default())),
            [
                "geo_cc.deny.lst: 2 entries cannot match: GeoIP is off ([geoip] city is not set)",
                "maxmind/as_org.deny.lst: 1 entries cannot match: GeoIP's ASN database is off ([geoip] asn is not set)",
                "cloud.deny.lst:1: aws:EC2:.* cannot match: no aws range feed is stored (badclients ranges update)",
                "cloud.deny.lst:2: gcp:.* cannot match: no gcp range feed is stored (badclients ranges update)",
                "cloud.deny.lst:3: .*:compute:.* cannot match: no cloud range feed is stored (badclients ranges update)",
            ]
        );
        // GeoIP on and the aws feed stored: only the gcp entry is left.
        let sources = Sources {
            geoip_city: true,
            geoip_asn: true,
            cloud_feeds: vec!["aws"],
        };
        assert_eq!(
            texts(unmatchable(&lists, &sources)),
            ["cloud.deny.lst:2: gcp:.* cannot match: no gcp range feed is stored (badclients ranges update)"]
        );
    }
}
