//! `badclients config import-ini`: the older tool's `bad_clients.conf.ext` (INI) turned
//! into the equivalent TOML, with a note for every setting that cannot be carried over.

use super::Config;
use crate::lists::parse_net;

/// The result of an import: the configuration and what could not be carried over.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub config: Config,
    /// One sentence per setting (or line) that was not carried over, or carried over with
    /// a change the admin should know about.
    pub notes: Vec<String>,
}

fn truthy(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "yes" | "true")
}

fn comma_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Converts the INI text. Unknown sections and keys are noted, never fatal.
pub fn import(text: &str) -> Imported {
    let mut config = Config::default();
    let mut notes = Vec::new();
    let mut section = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let n = i + 1;
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            notes.push(format!(
                "line {n}: not a `key = value` line, skipped: {line}"
            ));
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match (section.as_str(), key) {
            ("general", "list_path") => config.list_path = value.into(),
            ("general", "disabled_services") => config.disabled_services = comma_list(value),
            ("general", "ignore_networks") => {
                for net in comma_list(value) {
                    match parse_net(&net) {
                        Ok(_) => config.ignore_networks.push(net),
                        Err(e) => notes.push(format!("line {n}: ignore_networks: {e}; dropped")),
                    }
                }
            }
            ("general", "log_local") => config.log_local = truthy(value),
            ("general", "asn_script_path") => notes.push(format!(
                "line {n}: asn_script_path is not needed: badclients does its own lookups"
            )),
            ("general", "cachepath") => notes.push(format!(
                "line {n}: cachepath = {value}: the lookup cache is configured in [cache] (not carried over)"
            )),
            ("general", "result_success" | "result_block" | "process_unknown") => {
                notes.push(format!(
                    "line {n}: {key} = {value} belongs to the Lua passdb shim \
                     (contrib/dovecot/badclients.lua), not to this file"
                ))
            }
            ("general", "enable_maxmind") | ("maxmind", _) => notes.push(format!(
                "line {n}: {key} = {value}: GeoIP settings are not carried over; \
                 configure the MaxMind databases in badclients.toml"
            )),
            _ => notes.push(format!(
                "line {n}: unknown setting [{section}] {key}, not carried over"
            )),
        }
    }
    Imported { config, notes }
}

/// The TOML text of an imported configuration.
pub fn to_toml(config: &Config) -> String {
    let body = toml::to_string(config).unwrap_or_default();
    format!("# Imported from the older tool's bad_clients.conf.ext by `badclients config import-ini`.\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "\
; older tool
[general]
list_path = /etc/dovecot/lists
cachepath = redis:127.0.0.1:6379
disabled_services = pop3, smtp
ignore_networks = 10.0.0.0/8, 192.168.0.0/16,nonsense
log_local = Yes
result_block = disabled
process_unknown = true
enable_maxmind = yes
[maxmind]
geo_city = /var/lib/GeoIP/GeoLite2-City.mmdb
strange line
";

    #[test]
    fn carries_over_what_it_can() {
        let imp = import(OLD);
        assert_eq!(
            imp.config.list_path,
            std::path::PathBuf::from("/etc/dovecot/lists")
        );
        assert_eq!(imp.config.disabled_services, vec!["pop3", "smtp"]);
        assert_eq!(
            imp.config.ignore_networks,
            vec!["10.0.0.0/8", "192.168.0.0/16"]
        );
        assert!(imp.config.log_local);
    }

    #[test]
    fn says_what_it_could_not() {
        let notes = import(OLD).notes.join("\n");
        for needle in [
            "line 4: cachepath",
            "line 6: ignore_networks",
            "nonsense",
            "line 8: result_block",
            "line 9: process_unknown",
            "line 10: enable_maxmind",
            "line 12: geo_city",
            "line 13: not a `key = value` line",
        ] {
            assert!(notes.contains(needle), "missing {needle:?} in\n{notes}");
        }
    }

    #[test]
    fn output_is_a_valid_config() {
        let imp = import(OLD);
        let text = to_toml(&imp.config);
        let back = Config::parse(&text, std::path::Path::new("x")).unwrap();
        assert_eq!(back, imp.config);
    }
}
