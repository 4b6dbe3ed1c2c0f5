//! `badclients config import-ini`: the older tool's `bad_clients.conf.ext` (INI) turned
//! into the equivalent TOML, plus the settings of the Lua passdb shim
//! (contrib/dovecot/badclients.lua) that the INI also held, with a note for every setting
//! that cannot be carried over.
//!
//! What goes where ([`KEYS`] is the same table for `--help`):
//! `[general]` `list_path`, `disabled_services`, `ignore_networks`, `log_local` → the same
//! keys; `cachepath = redis:HOST:PORT` → `[cache] redis_url`; `[maxmind]` `geo_city`,
//! `geo_asn` with `enable_maxmind = yes` → `[geoip]` `city`, `asn`; `result_success`,
//! `result_block`, `process_unknown` → the shim's `key = value` settings file.

use std::path::{Path, PathBuf};

use super::Config;
use crate::lists::parse_net;

/// The INI keys the importer reads and where each goes, for `--help`.
pub const KEYS: &str = "\
INI keys read (the older tool's bad_clients.conf.ext):
  [general] list_path          -> list_path
  [general] disabled_services  -> disabled_services
  [general] ignore_networks    -> ignore_networks (invalid networks are dropped, with a note)
  [general] log_local          -> log_local
  [general] cachepath          -> [cache] redis_url when it is redis:HOST:PORT
                                  (a cache file path is not carried over: badclients keeps its own)
  [general] enable_maxmind     -> whether [geoip] is set from [maxmind] (yes/true)
  [maxmind] geo_city           -> [geoip] city
  [maxmind] geo_asn            -> [geoip] asn
  [general] result_success     -> the Lua shim's settings file (dovecot-lua.conf)
  [general] result_block       -> the Lua shim's settings file
  [general] process_unknown    -> the Lua shim's settings file
  [general] asn_script_path    -> not needed (badclients does its own lookups)
Anything else is reported on stderr and not carried over.";

/// The result of an import: the configuration, the shim's settings and what could not be
/// carried over.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub config: Config,
    /// The Lua shim's settings, `(key, value)` in the INI's order, values as the shim
    /// spells them (lower case; `yes`/`no`).
    pub shim: Vec<(String, String)>,
    /// One sentence per setting (or line) that was not carried over, or carried over with
    /// a change the admin should know about.
    pub notes: Vec<String>,
}

fn truthy(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "yes" | "true" | "1" | "on"
    )
}

/// A yes/no as the Lua shim reads it (`yes`, `true`, `1`, `on` and their opposites).
fn shim_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" | "on" => Some(true),
        "no" | "false" | "0" | "off" => Some(false),
        _ => None,
    }
}

fn comma_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// `redis:HOST:PORT` (or `redis:HOST`, port 6379; or a `redis://` URL as it is) as the
/// `redis_url` the cache connects to, checked by the Redis client's own parser.
fn redis_url(cachepath: &str) -> Result<String, String> {
    let url = if cachepath.starts_with("redis://") || cachepath.starts_with("rediss://") {
        cachepath.to_string()
    } else {
        let rest = cachepath
            .strip_prefix("redis:")
            .ok_or("not redis:HOST:PORT")?;
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            // [IPv6]:PORT or [IPv6]
            let (host, after) = bracketed.split_once(']').ok_or("an unclosed [")?;
            let port = match after {
                "" => "6379",
                after => after.strip_prefix(':').ok_or("text after ]")?,
            };
            (host, port)
        } else if rest.parse::<std::net::Ipv6Addr>().is_ok() {
            (rest, "6379")
        } else {
            rest.rsplit_once(':').unwrap_or((rest, "6379"))
        };
        if host.is_empty() {
            return Err("no host".into());
        }
        if port.parse::<u16>().is_err() {
            return Err(format!("the port {port:?} is not a number"));
        }
        if host.contains(':') {
            format!("redis://[{host}]:{port}/0")
        } else {
            format!("redis://{host}:{port}/0")
        }
    };
    redis::IntoConnectionInfo::into_connection_info(url.as_str())
        .map_err(|e| format!("{url} is not a Redis URL: {e}"))?;
    Ok(url)
}

/// The older tool's GeoIP settings, applied once the whole file is read (the switch and
/// the paths may come in any order).
#[derive(Default)]
struct MaxMind {
    /// `enable_maxmind`, with its line.
    enabled: Option<(usize, bool)>,
    city: Option<(usize, String)>,
    asn: Option<(usize, String)>,
}

impl MaxMind {
    fn apply(self, config: &mut Config, notes: &mut Vec<String>) {
        let paths = [
            ("geo_city", "city", &self.city),
            ("geo_asn", "asn", &self.asn),
        ];
        match self.enabled {
            Some((_, true)) => {
                if self.city.is_none() && self.asn.is_none() {
                    notes.push(
                        "enable_maxmind is on but [maxmind] names no geo_city or geo_asn: \
                         [geoip] left off"
                            .into(),
                    );
                }
                for (ini, _, path) in paths {
                    if let Some((n, path)) = path {
                        if !Path::new(path).exists() {
                            notes.push(format!(
                                "line {n}: {ini} = {path}: no such file on this machine \
                                 (carried over: put the database there before the daemon starts)"
                            ));
                        }
                    }
                }
                config.geoip.city = self.city.map(|(_, p)| PathBuf::from(p));
                config.geoip.asn = self.asn.map(|(_, p)| PathBuf::from(p));
            }
            enabled => {
                let why = match enabled {
                    Some((n, _)) => format!("line {n}: enable_maxmind is off"),
                    None => "enable_maxmind is not set".into(),
                };
                for (ini, key, path) in paths {
                    if let Some((n, path)) = path {
                        notes.push(format!(
                            "line {n}: {ini} = {path} not carried over ({why}); to turn \
                             GeoIP on, add to [geoip]: {key} = {:?}",
                            path
                        ));
                    }
                }
            }
        }
    }
}

/// Converts the INI text. Unknown sections and keys are noted, never fatal.
pub fn import(text: &str) -> Imported {
    let mut config = Config::default();
    let mut shim = Vec::new();
    let mut notes = Vec::new();
    let mut maxmind = MaxMind::default();
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
            ("general", "cachepath") => match redis_url(value) {
                Ok(url) => config.cache.redis_url = Some(url),
                Err(_) if !value.starts_with("redis") => notes.push(format!(
                    "line {n}: cachepath = {value}: the older tool's cache file is not carried \
                     over; badclients keeps its own cache ([cache] path)"
                )),
                Err(e) => notes.push(format!(
                    "line {n}: cachepath = {value}: {e}; [cache] redis_url not set"
                )),
            },
            ("general", "result_success" | "result_block" | "process_unknown") => {
                match shim_value(key, value) {
                    Ok(v) => {
                        if key == "result_success" && v == "ok" {
                            notes.push(format!(
                                "line {n}: result_success = ok is right only with the shim \
                                 placed after the passdb that checks the password (see \
                                 docs/dovecot.md); first in line, as the older tool was, use next"
                            ));
                        }
                        shim.retain(|(k, _): &(String, String)| k != key);
                        shim.push((key.to_string(), v));
                    }
                    Err(e) => notes.push(format!("line {n}: {e}; not carried over")),
                }
            }
            ("general" | "maxmind", "enable_maxmind") => {
                maxmind.enabled = Some((n, truthy(value)));
            }
            ("maxmind", "geo_city") => maxmind.city = Some((n, value.to_string())),
            ("maxmind", "geo_asn") => maxmind.asn = Some((n, value.to_string())),
            _ => notes.push(format!(
                "line {n}: unknown setting [{section}] {key}, not carried over"
            )),
        }
    }
    maxmind.apply(&mut config, &mut notes);
    Imported {
        config,
        shim,
        notes,
    }
}

/// A shim setting's value as the shim accepts it, or why it would refuse it.
fn shim_value(key: &str, value: &str) -> Result<String, String> {
    let lower = value.to_ascii_lowercase();
    let ok = match key {
        "result_success" => ["next", "unknown", "ok"].contains(&lower.as_str()),
        "result_block" => {
            ["disabled", "expired", "missmatch", "mismatch"].contains(&lower.as_str())
        }
        _ => {
            return shim_bool(value)
                .map(|b| if b { "yes" } else { "no" }.to_string())
                .ok_or_else(|| format!("process_unknown must be yes or no, got {value}"))
        }
    };
    if ok {
        Ok(lower)
    } else {
        let allowed = if key == "result_success" {
            "next, unknown or ok"
        } else {
            "disabled, expired or missmatch"
        };
        Err(format!("{key} must be {allowed}, got {value}"))
    }
}

/// The TOML text of an imported configuration.
pub fn to_toml(config: &Config) -> String {
    let body = toml::to_string(config).unwrap_or_default();
    format!("# Imported from the older tool's bad_clients.conf.ext by `badclients config import-ini`.\n{body}")
}

/// The Lua shim's settings file (`key = value` lines, see contrib/dovecot/README.md) for
/// the imported `shim` settings, imported from `source`.
pub fn to_shim_settings(shim: &[(String, String)], source: &Path) -> String {
    let mut text = format!(
        "# The Dovecot Lua passdb shim's settings (contrib/dovecot/README.md), imported from\n\
         # {} by `badclients config import-ini`.\n\
         # The shim reads /etc/badclients/dovecot-lua.conf, or the file named by\n\
         # BADCLIENTS_LUA_CONFIG (import_environment in dovecot.conf).\n\
         # daemon = http://127.0.0.1:8670\n\
         # api_key = <badclients' [http] api_key, when set>\n",
        source.display()
    );
    for (key, value) in shim {
        text.push_str(&format!("{key} = {value}\n"));
    }
    text
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
result_block = Expired
process_unknown = true
enable_maxmind = yes
[maxmind]
geo_city = /nonexistent/GeoLite2-City.mmdb
strange line
geo_asn = /nonexistent/GeoLite2-ASN.mmdb
result_success = next
";

    #[test]
    fn carries_over_what_it_can() {
        let imp = import(OLD);
        assert_eq!(imp.config.list_path, PathBuf::from("/etc/dovecot/lists"));
        assert_eq!(imp.config.disabled_services, vec!["pop3", "smtp"]);
        assert_eq!(
            imp.config.ignore_networks,
            vec!["10.0.0.0/8", "192.168.0.0/16"]
        );
        assert!(imp.config.log_local);
        assert_eq!(
            imp.config.cache.redis_url.as_deref(),
            Some("redis://127.0.0.1:6379/0")
        );
        assert_eq!(
            imp.config.geoip.city,
            Some(PathBuf::from("/nonexistent/GeoLite2-City.mmdb"))
        );
        assert_eq!(
            imp.config.geoip.asn,
            Some(PathBuf::from("/nonexistent/GeoLite2-ASN.mmdb"))
        );
        let shim: Vec<(&str, &str)> = imp
            .shim
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            shim,
            [("result_block", "expired"), ("process_unknown", "yes")]
        );
    }

    #[test]
    fn says_what_it_could_not() {
        let notes = import(OLD).notes.join("\n");
        for needle in [
            "line 6: ignore_networks",
            "nonsense",
            "line 12: geo_city = /nonexistent/GeoLite2-City.mmdb: no such file",
            "line 13: not a `key = value` line",
            "line 14: geo_asn = /nonexistent/GeoLite2-ASN.mmdb: no such file",
            // result_* belong in [general]; elsewhere they are unknown.
            "line 15: unknown setting [maxmind] result_success",
        ] {
            assert!(notes.contains(needle), "missing {needle:?} in\n{notes}");
        }
        for carried in [
            "cachepath",
            "result_block",
            "process_unknown",
            "enable_maxmind",
        ] {
            assert!(!notes.contains(carried), "{carried} noted:\n{notes}");
        }
    }

    #[test]
    fn output_is_a_valid_config() {
        let imp = import(OLD);
        let text = to_toml(&imp.config);
        let back = Config::parse(&text, Path::new("x")).unwrap();
        assert_eq!(back, imp.config);
    }

    #[test]
    fn cachepath_forms() {
        for (cachepath, url) in [
            ("redis:127.0.0.1:6379", "redis://127.0.0.1:6379/0"),
            (
                "redis:cache.example.org:6380",
                "redis://cache.example.org:6380/0",
            ),
            ("redis:localhost", "redis://localhost:6379/0"),
            ("redis:[::1]:6379", "redis://[::1]:6379/0"),
            ("redis:::1", "redis://[::1]:6379/0"),
            ("redis://10.0.0.1:6379/2", "redis://10.0.0.1:6379/2"),
        ] {
            assert_eq!(redis_url(cachepath).as_deref(), Ok(url), "{cachepath}");
        }
        for bad in ["redis:host:port", "redis:", "redis:[::1", "/var/cache/x.db"] {
            assert!(redis_url(bad).is_err(), "{bad}");
        }
        let notes = import("[general]\ncachepath = /var/cache/bad_clients.db\n").notes;
        assert!(
            notes[0].contains("cache file is not carried over"),
            "{notes:?}"
        );
        let imp = import("[general]\ncachepath = redis:h:x\n");
        assert_eq!(imp.config.cache.redis_url, None);
        assert!(imp.notes[0].contains("is not a number"), "{:?}", imp.notes);
    }

    #[test]
    fn geoip_only_when_the_older_tool_had_it_on() {
        for ini in [
            "[general]\nenable_maxmind = no\n[maxmind]\ngeo_city = /x/City.mmdb\n",
            "[maxmind]\ngeo_city = /x/City.mmdb\n",
        ] {
            let imp = import(ini);
            assert_eq!(imp.config.geoip, Config::default().geoip, "{ini}");
            let notes = imp.notes.join("\n");
            assert!(
                notes.contains("geo_city = /x/City.mmdb not carried over")
                    && notes.contains("city = \"/x/City.mmdb\""),
                "{notes}"
            );
        }
    }

    #[test]
    fn shim_values_are_checked_as_the_shim_checks_them() {
        let imp = import(
            "[general]\nresult_success = OK\nresult_block = sometimes\nprocess_unknown = maybe\n\
             result_block = missmatch\nprocess_unknown = off\n",
        );
        assert_eq!(
            imp.shim,
            [
                ("result_success".to_string(), "ok".to_string()),
                ("result_block".to_string(), "missmatch".to_string()),
                ("process_unknown".to_string(), "no".to_string()),
            ]
        );
        let notes = imp.notes.join("\n");
        for needle in [
            "line 2: result_success = ok is right only with the shim placed after",
            "line 3: result_block must be disabled, expired or missmatch, got sometimes",
            "line 4: process_unknown must be yes or no, got maybe",
        ] {
            assert!(notes.contains(needle), "missing {needle:?} in\n{notes}");
        }
        let text = to_shim_settings(&imp.shim, Path::new("/etc/dovecot/bad_clients.conf.ext"));
        assert!(
            text.ends_with("result_success = ok\nresult_block = missmatch\nprocess_unknown = no\n"),
            "{text}"
        );
        assert!(text
            .lines()
            .all(|l| l.starts_with('#') || l.contains(" = ")));
    }
}
