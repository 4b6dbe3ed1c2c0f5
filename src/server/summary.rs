//! The startup summary: what the daemon runs with, in a few lines an admin reads in
//! `journalctl -u badclients` — the configuration file, the lists and their entries, the
//! modes, the cloud feeds and their age, the GeoIP databases, the ASN table, the history,
//! and whether an API key is set. Paths are the admin's own; no user data is in it.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::config::{Config, Mode};
use crate::lists::{ListKind, ListSet};

/// Logs the summary, one line per subject.
pub fn log_startup(config: &Config, config_path: Option<&Path>, lists: &ListSet) {
    for line in summary_lines(config, config_path, lists, SystemTime::now()) {
        tracing::info!("{line}");
    }
}

/// The summary's lines (`now` ages the files).
pub fn summary_lines(
    config: &Config,
    config_path: Option<&Path>,
    lists: &ListSet,
    now: SystemTime,
) -> Vec<String> {
    let mut out = Vec::new();
    out.push(match config_path {
        Some(p) => format!("configuration: {}", absolute(p).display()),
        None => "configuration: no file, the built-in defaults".to_string(),
    });
    out.push(lists_line(config, lists));
    out.push(modes_line(config));
    out.push(feeds_line(config));
    out.push(format!(
        "GeoIP: city {}; asn {}",
        optional_file(config.geoip.city.as_deref(), now),
        optional_file(config.geoip.asn.as_deref(), now)
    ));
    out.push(if config.lookup.asn_table.is_empty() {
        "ASN table: none (origin AS from Team Cymru DNS)".to_string()
    } else {
        let files: Vec<String> = config
            .lookup
            .asn_table
            .iter()
            .map(|p| optional_file(Some(p), now))
            .collect();
        let used_for = match config.lookup.asn_table_use {
            crate::config::AsnTableUse::All => "origin AS and AS names; Team Cymru not asked",
            crate::config::AsnTableUse::AsNames => "AS names; origin AS from Team Cymru DNS",
        };
        format!("ASN table: {} ({used_for})", files.join(", "))
    });
    let h = &config.history;
    out.push(if !config.history.enabled {
        "history: off".to_string()
    } else if let (crate::config::HistoryBackend::Postgres, Some(url)) =
        (h.backend, &h.postgres_url)
    {
        format!(
            "history: PostgreSQL {} as node {:?}, journal {} (kept {} days)",
            crate::pghistory::redacted(url),
            h.node_name(),
            config.history_path().display(),
            h.retention_days
        )
    } else {
        format!(
            "history: {} (kept {} days, at most {} decisions)",
            config.history_path().display(),
            config.history.retention_days,
            config.history.max_records
        )
    });
    out.push(format!(
        "http: {} with {}",
        config.http.listen,
        if config.http.api_key.is_some() {
            "an API key"
        } else {
            "no API key"
        }
    ));
    out
}

fn lists_line(config: &Config, lists: &ListSet) -> String {
    let mut line = format!("lists in {}:", absolute(&config.list_path).display());
    let mut total = 0usize;
    for kind in ListKind::ALL {
        let n = lists.len_of(kind);
        if n > 0 {
            total += n;
            let _ = write!(line, " {} {n},", kind.file_name());
        }
    }
    if total == 0 {
        line.push_str(" no entries in force");
    } else {
        line.pop();
        let _ = write!(line, " ({total} entries)");
    }
    line
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Enforce => "enforce",
        Mode::Audit => "audit",
    }
}

fn modes_line(config: &Config) -> String {
    let mut line = format!("mode: {}", mode_name(config.mode));
    if !config.service_modes.is_empty() {
        let per: Vec<String> = config
            .service_modes
            .iter()
            .map(|(s, m)| format!("{s} {}", mode_name(*m)))
            .collect();
        let _ = write!(line, "; per service: {}", per.join(", "));
    }
    if !config.disabled_services.is_empty() {
        let _ = write!(
            line,
            "; always refused: {}",
            config.disabled_services.join(", ")
        );
    }
    line
}

fn feeds_line(config: &Config) -> String {
    let dir = config.cloud_dir();
    let status = crate::app::feed_store(config).status();
    if status.is_empty() {
        return format!(
            "cloud feeds: none in {} (`badclients ranges update` fetches them)",
            dir.display()
        );
    }
    let feeds: Vec<String> = status
        .iter()
        .map(|s| {
            format!(
                "{} {} prefixes {} old",
                s.provider,
                s.prefixes,
                age_text(s.age)
            )
        })
        .collect();
    format!("cloud feeds ({}): {}", dir.display(), feeds.join(", "))
}

/// `PATH (N h old)`, `PATH (missing)`, or `off`.
fn optional_file(path: Option<&Path>, now: SystemTime) -> String {
    let Some(path) = path else {
        return "off".to_string();
    };
    let age = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| now.duration_since(t).unwrap_or_default());
    match age {
        Ok(age) => format!("{} ({} old)", path.display(), age_text(age)),
        Err(_) => format!("{} (missing)", path.display()),
    }
}

/// `path` made absolute (as it is when that fails).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `42 min`, `5.0 h`, `3.2 days`.
fn age_text(age: Duration) -> String {
    let secs = age.as_secs_f64();
    if secs < 3600.0 {
        format!("{:.0} min", secs / 60.0)
    } else if secs < 48.0 * 3600.0 {
        format!("{:.1} h", secs / 3600.0)
    } else {
        format!("{:.1} days", secs / 86_400.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_what_the_daemon_runs_with() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("asn.deny.lst"), "AS47764\nAS14618\n").unwrap();
        std::fs::write(dir.path().join("ip_net.deny.lst"), "176.112.168.0/21\n").unwrap();
        let city = dir.path().join("city.mmdb");
        std::fs::write(&city, b"x").unwrap();
        let mut config = Config {
            list_path: dir.path().to_path_buf(),
            ..Config::default()
        };
        config.service_modes.insert("smtp".into(), Mode::Audit);
        config.disabled_services = vec!["pop3".into()];
        config.geoip.city = Some(city.clone());
        config.geoip.asn = Some(dir.path().join("gone.mmdb"));
        config.history.enabled = false;
        config.cache.path = Some(dir.path().join("cache.redb"));
        let loaded = crate::config::LoadedConfig {
            config: config.clone(),
            path: None,
        };
        let (policy, _) = crate::app::policy(&loaded, None).unwrap();
        let lines = summary_lines(&config, None, &policy.lists, SystemTime::now());
        let text = lines.join("\n");
        assert!(
            text.contains("configuration: no file, the built-in defaults"),
            "{text}"
        );
        assert!(
            text.contains("ip_net.deny.lst 1, asn.deny.lst 2 (3 entries)"),
            "{text}"
        );
        assert!(
            text.contains("mode: enforce; per service: smtp audit; always refused: pop3"),
            "{text}"
        );
        assert!(
            text.contains(&format!("city {} (0 min old)", city.display())),
            "{text}"
        );
        assert!(text.contains("gone.mmdb (missing)"), "{text}");
        assert!(text.contains("cloud feeds: none in"), "{text}");
        assert!(text.contains("history: off"), "{text}");
        assert!(text.contains("with no API key"), "{text}");
        let with_file = summary_lines(
            &config,
            Some(Path::new("/etc/badclients/badclients.toml")),
            &policy.lists,
            SystemTime::now(),
        );
        assert_eq!(
            with_file[0],
            "configuration: /etc/badclients/badclients.toml"
        );
    }

    #[test]
    fn ages_read_as_minutes_hours_or_days() {
        assert_eq!(age_text(Duration::from_secs(120)), "2 min");
        assert_eq!(age_text(Duration::from_secs(5 * 3600)), "5.0 h");
        assert_eq!(age_text(Duration::from_secs(3 * 86_400)), "3.0 days");
    }
}
