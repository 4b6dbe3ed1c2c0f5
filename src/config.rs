//! The configuration file (TOML): where it is found and what it holds, as plain data.
//! [`crate::app`] turns it into the working parts.
//!
//! Without `--config`, the first of `./badclients.toml` and
//! `/etc/badclients/badclients.toml` that exists is read; without either, the built-in
//! defaults apply. Unknown keys are an error naming the key. A relative `list_path` is
//! relative to the configuration file's directory.

mod cache_redis;
mod history;
pub mod import_ini;

pub use history::{HistoryBackend, HistorySection};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::decision::OnError;

/// Where the configuration is looked for, in order, when no `--config` is given.
pub const SEARCH_PATH: [&str; 2] = ["badclients.toml", "/etc/badclients/badclients.toml"];

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: ignore_networks: {message}")]
    IgnoreNetworks { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The configuration, as written in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The list directory.
    pub list_path: PathBuf,
    /// Services whose logins are always refused, e.g. `["pop3"]` (compared ignoring case).
    pub disabled_services: Vec<String>,
    /// Networks never blocked and never logged (also `ip_net.allow.lst`).
    pub ignore_networks: Vec<String>,
    /// Also log logins from reserved addresses.
    pub log_local: bool,
    /// Matching steps shared by every pattern tried for one login; when they run out the
    /// login gets `[lookup] on_error`'s verdict (see docs/lists.md).
    pub match_budget: u64,
    /// `[lookup]`: deadline, DNS servers, what a failed lookup means.
    pub lookup: LookupSection,
    /// `[rdap]`: the registries' RDAP services.
    pub rdap: RdapSection,
    /// `[cache]`: where and how long lookups are kept.
    pub cache: CacheSection,
    /// `enforce` (refuse listed logins) or `audit` (decide and log, refuse nothing).
    pub mode: Mode,
    /// Per-service mode overrides, e.g. `smtp = "audit"` (service names ignore case).
    pub service_modes: BTreeMap<String, Mode>,
    /// `[http]`: the Dovecot auth-policy endpoint, the Lua shim's endpoint, `/metrics`.
    pub http: HttpSection,
    /// `[postfix]`: the Postfix policy service (off unless `listen` is set).
    pub postfix: PostfixSection,
    /// `[[dnsbl]]`: DNS blocklists asked with every lookup.
    pub dnsbl: Vec<crate::dnsbl::DnsblZone>,
    /// A login is blocked when the weights of the blocklists listing it add up to this.
    pub dnsbl_threshold: f64,
    /// `[geoip]`: MaxMind-format databases.
    pub geoip: GeoIpSection,
    /// `[cloud]`: where the providers' range feeds are stored and fetched from.
    pub cloud: CloudSection,
    /// `[history]`: the decision history behind `report`, `suggest` and `/ui`.
    pub history: HistorySection,
}

/// `[geoip]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoIpSection {
    /// A City or Country database (GeoLite2/GeoIP2, DB-IP or ip-location-db format).
    pub city: Option<PathBuf>,
    /// An ASN database.
    pub asn: Option<PathBuf>,
    /// How often the daemon checks the database files (and the cloud feeds) for a new
    /// version, in seconds.
    pub check_secs: u64,
}

impl Default for GeoIpSection {
    fn default() -> Self {
        GeoIpSection {
            city: None,
            asn: None,
            check_secs: 10,
        }
    }
}

/// `[cloud]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudSection {
    /// Where `badclients ranges update` stores the feeds; default: `ranges/` next to the
    /// cache file.
    pub dir: Option<PathBuf>,
    /// Feed URL per provider (`aws`, `gcp`, `azure`, `m365`, `linode`, `oracle`,
    /// `digitalocean`), instead of the provider's official one.
    pub urls: BTreeMap<String, String>,
}

impl Config {
    /// The decision history file.
    pub fn history_path(&self) -> PathBuf {
        self.history
            .path
            .clone()
            .unwrap_or_else(|| self.cache.resolved_path().with_file_name("history.redb"))
    }

    /// The known-good list used by `report` and `suggest`.
    pub fn known_good_path(&self) -> PathBuf {
        self.history
            .known_good
            .clone()
            .unwrap_or_else(|| self.list_path.join("known_good.lst"))
    }

    /// The directory of the cloud range feeds.
    pub fn cloud_dir(&self) -> PathBuf {
        self.cloud.dir.clone().unwrap_or_else(|| {
            let cache = self.cache.resolved_path();
            cache
                .parent()
                .map(|d| d.join("ranges"))
                .unwrap_or_else(|| PathBuf::from("ranges"))
        })
    }
}

/// Whether blocks are enforced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Refuse listed logins.
    #[default]
    Enforce,
    /// Decide and log everything, refuse nothing (`enforced=False` in the audit line).
    Audit,
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// `127.0.0.1:8670`, `[::1]:8670` or `unix:/run/badclients/http.sock`.
    pub listen: String,
    /// Mode of a unix socket, e.g. `"0660"`.
    pub socket_mode: Option<String>,
    /// When set, every request but `/healthz` must carry it in `api_header`.
    pub api_key: Option<String>,
    /// The header holding the key (Dovecot: `auth_policy_server_api_header`).
    pub api_header: String,
    /// What a refused client is told (Dovecot shows it verbatim).
    pub block_message: String,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// A connection that has not sent a whole request head by then is closed, in ms
    /// (also the keep-alive idle timeout: the wait for the next head).
    pub header_timeout_ms: u64,
    /// A request whose body has not wholly arrived this long after its head is answered
    /// 408 and its connection closed, in ms.
    pub body_timeout_ms: u64,
    /// The most connections open at once; at the cap the longest-waiting one is closed
    /// to admit a new one.
    pub max_connections: usize,
    /// Host names the dashboard and the history may be reached by (the `Host` header),
    /// besides IP addresses and `localhost`: e.g. a reverse proxy's public name.
    pub allowed_hosts: Vec<String>,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: "127.0.0.1:8670".into(),
            socket_mode: None,
            api_key: None,
            api_header: "X-API-Key".into(),
            block_message: "badclients: login from your network is not allowed; \
                            ask your mail administrator why"
                .into(),
            max_body_bytes: 64 * 1024,
            header_timeout_ms: 10_000,
            body_timeout_ms: 10_000,
            max_connections: 512,
            allowed_hosts: Vec::new(),
        }
    }
}

/// `[postfix]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostfixSection {
    /// `127.0.0.1:8671` or `unix:/path`; the service is off when unset.
    pub listen: Option<String>,
    /// Mode of a unix socket, e.g. `"0660"`.
    pub socket_mode: Option<String>,
    /// The text after `REJECT`.
    pub reject_message: String,
    /// Also check sessions without SMTP AUTH (default: `DUNNO` for them).
    pub check_unauthenticated: bool,
    /// A connection that sends no whole request for this long is closed, in ms (Postfix
    /// keeps idle policy connections for `smtpd_policy_service_max_idle`, 300 s: stay
    /// above it).
    pub idle_timeout_ms: u64,
    /// The most connections open at once; at the cap the longest-idle one is closed to
    /// admit a new one (Postfix reconnects).
    pub max_connections: usize,
}

impl Default for PostfixSection {
    fn default() -> Self {
        PostfixSection {
            listen: None,
            socket_mode: None,
            reject_message: "5.7.1 badclients: submission from your network is not allowed".into(),
            check_unauthenticated: false,
            idle_timeout_ms: 330_000,
            max_connections: 1024,
        }
    }
}

impl Config {
    /// The mode for `service` (a per-service override, else the global mode).
    pub fn mode_for(&self, service: &str) -> Mode {
        self.service_modes
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(service))
            .map(|(_, m)| *m)
            .unwrap_or(self.mode)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            list_path: PathBuf::from("lists"),
            disabled_services: Vec::new(),
            ignore_networks: Vec::new(),
            log_local: false,
            match_budget: crate::decision::DEFAULT_MATCH_BUDGET,
            lookup: LookupSection::default(),
            rdap: RdapSection::default(),
            cache: CacheSection::default(),
            mode: Mode::Enforce,
            service_modes: BTreeMap::new(),
            http: HttpSection::default(),
            postfix: PostfixSection::default(),
            dnsbl: Vec::new(),
            dnsbl_threshold: 1.0,
            geoip: GeoIpSection::default(),
            cloud: CloudSection::default(),
            history: HistorySection::default(),
        }
    }
}

/// `[lookup]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LookupSection {
    /// The whole lookup's deadline in ms (Dovecot's policy timeout is 2 s).
    pub deadline_ms: u64,
    /// DNS servers (`"127.0.0.1:53"`); empty: the system resolver.
    pub dns_servers: Vec<SocketAddr>,
    /// What a login gets when the lookups failed and no list matched.
    pub on_error: OnError,
    /// Offline IP→ASN tables (iptoasn TSV or ip-location-db CSV, optionally gzipped): when
    /// set, `asn`, `as_cc` and `as_desc` come from them and Team Cymru is not asked.
    pub asn_table: Vec<PathBuf>,
    /// What the tables answer: `"all"` (origin and AS name; Team Cymru is not asked) or
    /// `"as_names"` (Team Cymru is asked live for the origin, the tables name the AS: a
    /// never-seen AS costs one upstream round trip instead of two).
    pub asn_table_use: AsnTableUse,
}

/// `[lookup] asn_table_use`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AsnTableUse {
    /// Origin (AS, country) and AS name from the tables.
    #[default]
    All,
    /// The origin from Team Cymru, the AS name from the tables (Team Cymru's AS-name query
    /// only for an AS the tables do not name).
    AsNames,
}

impl Default for LookupSection {
    fn default() -> Self {
        LookupSection {
            deadline_ms: 1000,
            dns_servers: Vec::new(),
            on_error: OnError::Allow,
            asn_table: Vec::new(),
            asn_table_use: AsnTableUse::All,
        }
    }
}

/// `[rdap]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RdapSection {
    /// Base URL per registry (`arin`, `ripencc`, `apnic`, `lacnic`, `afrinic`); the client
    /// requests `<base>ip/<address>`. Unset registries use their public service.
    pub base_urls: BTreeMap<String, String>,
    /// A directory with IANA bootstrap files (`ipv4.json`, `ipv6.json`) to use instead of
    /// the bundled copy.
    pub bootstrap_dir: Option<PathBuf>,
    /// Largest answer read, in bytes.
    pub max_body_bytes: usize,
    /// Most redirects followed.
    pub max_redirects: usize,
}

impl Default for RdapSection {
    fn default() -> Self {
        RdapSection {
            base_urls: BTreeMap::new(),
            bootstrap_dir: None,
            max_body_bytes: 1024 * 1024,
            max_redirects: 5,
        }
    }
}

/// `[cache]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSection {
    /// The persistent cache file; default: `$STATE_DIRECTORY/cache.redb` under systemd,
    /// else `/var/lib/badclients/cache.redb` when writable, else
    /// `~/.cache/badclients/cache.redb`.
    pub path: Option<PathBuf>,
    /// Keep the cache in memory only (nothing survives a restart).
    pub memory_only: bool,
    /// Fresh lifetime of an answer, in seconds.
    pub ttl_secs: u64,
    /// Fresh lifetime of a negative answer (no such name, not found), in seconds.
    pub negative_ttl_secs: u64,
    /// How long past its lifetime an entry may still be served while refreshing, in seconds.
    pub stale_secs: u64,
    /// A Redis shared by several badclients nodes (`redis://127.0.0.1:6379/0`; `rediss://`
    /// for TLS, `redis://user:password@host/0` for an ACL user). One of `redis_url`,
    /// `redis_sentinels` and `redis_cluster`.
    pub redis_url: Option<String>,
    /// Redis Sentinel (`["host:port", …]`): the primary they name for `redis_master`,
    /// followed across failovers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redis_sentinels: Vec<String>,
    /// The name the sentinels know the primary by (with `redis_sentinels`).
    pub redis_master: Option<String>,
    /// Redis Cluster seed nodes (`["host:port", …]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redis_cluster: Vec<String>,
    /// The ACL user for the Sentinel set's or the Cluster's nodes.
    pub redis_username: Option<String>,
    /// The password for the Sentinel set's or the Cluster's nodes.
    pub redis_password: Option<String>,
    /// The ACL user the sentinels themselves ask for (with `redis_sentinels`).
    pub redis_sentinel_username: Option<String>,
    /// The password the sentinels themselves ask for (their `requirepass`; with
    /// `redis_sentinels`).
    pub redis_sentinel_password: Option<String>,
    /// TLS to the sentinels and nodes (Sentinel, Cluster; a single Redis: `rediss://`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub redis_tls: bool,
    /// A PEM file with the CA certificates to verify Redis with; default: the system's.
    pub redis_tls_ca: Option<PathBuf>,
    /// The database of the Sentinel set's primary (a single Redis: in the URL; a Cluster has
    /// only 0).
    pub redis_db: Option<i64>,
    /// Longest wait for Redis before falling back to the local cache, in ms.
    pub redis_timeout_ms: u64,
    /// The most entries each cache table holds, in memory and in the cache file; when a
    /// table is full, the entries that expire soonest make room.
    pub max_entries: usize,
    /// How often the daemon removes the entries past their stale lifetime, in seconds.
    pub prune_interval_secs: u64,
}

impl Default for CacheSection {
    fn default() -> Self {
        CacheSection {
            path: None,
            memory_only: false,
            ttl_secs: 24 * 3600,
            negative_ttl_secs: 300,
            stale_secs: 7 * 24 * 3600,
            redis_url: None,
            redis_sentinels: Vec::new(),
            redis_master: None,
            redis_cluster: Vec::new(),
            redis_username: None,
            redis_password: None,
            redis_sentinel_username: None,
            redis_sentinel_password: None,
            redis_tls: false,
            redis_tls_ca: None,
            redis_db: None,
            redis_timeout_ms: 200,
            max_entries: crate::cache::memory::DEFAULT_MAX_ENTRIES,
            prune_interval_secs: 60,
        }
    }
}

impl CacheSection {
    /// The cache file to use.
    pub fn resolved_path(&self) -> PathBuf {
        if let Some(p) = &self.path {
            return p.clone();
        }
        if let Some(dir) = std::env::var_os("STATE_DIRECTORY") {
            // systemd may list several directories separated by ':'; take the first.
            let first = dir
                .to_string_lossy()
                .split(':')
                .next()
                .unwrap_or("")
                .to_string();
            if !first.is_empty() {
                return PathBuf::from(first).join("cache.redb");
            }
        }
        let system = Path::new("/var/lib/badclients");
        if system.is_dir() && std::fs::metadata(system).is_ok_and(|m| !m.permissions().readonly()) {
            return system.join("cache.redb");
        }
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        home.join(".cache/badclients/cache.redb")
    }
}

/// A configuration and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    /// The file read, or `None` for the built-in defaults.
    pub path: Option<PathBuf>,
}

impl Config {
    /// Parses TOML text; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(config)
    }

    /// What serde cannot check: values that parse but cannot work.
    fn validate(&self) -> Result<(), String> {
        if let Some(key) = &self.http.api_key {
            if key.trim().is_empty() {
                return Err(
                    "[http] api_key is empty: an empty header would match it; set a key \
                            or remove the line"
                        .into(),
                );
            }
            if key.trim() != key {
                return Err(
                    "[http] api_key begins or ends with blanks: clients' header values \
                            are trimmed, so it could never match"
                        .into(),
                );
            }
        }
        self.cache.redis_target()?;
        self.history.validate()?;
        if self.match_budget == 0 {
            return Err(
                "match_budget = 0 would stop every pattern before it starts; the \
                        default is 2000000"
                    .into(),
            );
        }
        Ok(())
    }

    /// Reads `explicit`, or the first file of [`SEARCH_PATH`] that exists, or defaults.
    pub fn load(explicit: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => SEARCH_PATH.iter().map(PathBuf::from).find(|p| p.is_file()),
        };
        let Some(path) = path else {
            return Ok(LoadedConfig {
                config: Config::default(),
                path: None,
            });
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let mut config = Config::parse(&text, &path)?;
        if let Some(dir) = path.parent() {
            let anchor = |p: &mut PathBuf| {
                if p.is_relative() {
                    *p = dir.join(&*p);
                }
            };
            anchor(&mut config.list_path);
            if let Some(p) = config.cache.path.as_mut() {
                anchor(p);
            }
            if let Some(p) = config.cache.redis_tls_ca.as_mut() {
                anchor(p);
            }
            if let Some(p) = config.rdap.bootstrap_dir.as_mut() {
                anchor(p);
            }
            for p in [
                &mut config.geoip.city,
                &mut config.geoip.asn,
                &mut config.cloud.dir,
                &mut config.history.path,
            ] {
                if let Some(p) = p.as_mut() {
                    anchor(p);
                }
            }
        }
        Ok(LoadedConfig {
            config,
            path: Some(path),
        })
    }
}

impl LoadedConfig {
    /// The configuration file's path, or `(built-in defaults)`: for messages.
    pub fn name(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| PathBuf::from("(built-in defaults)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_full_file() {
        let c = Config::parse("", Path::new("x.toml")).unwrap();
        assert_eq!(c, Config::default());
        let c = Config::parse(
            "list_path = \"/etc/badclients/lists\"\ndisabled_services = [\"pop3\"]\n\
             ignore_networks = [\"10.0.0.0/8\", \"2001:db8::/32\"]\nlog_local = true\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(c.list_path, PathBuf::from("/etc/badclients/lists"));
        assert_eq!(c.disabled_services, vec!["pop3"]);
        assert!(c.log_local);
    }

    #[test]
    fn the_shipped_sample_is_valid_and_states_the_defaults() {
        let text = include_str!("../contrib/badclients.toml");
        let c = Config::parse(text, Path::new("contrib/badclients.toml")).unwrap();
        let defaults = Config {
            list_path: PathBuf::from("/etc/badclients/lists"),
            ..Config::default()
        };
        assert_eq!(c, defaults);
    }

    #[test]
    fn an_empty_or_padded_api_key_and_a_zero_budget_are_refused_at_load() {
        for (text, says) in [
            ("[http]\napi_key = \"\"\n", "api_key is empty"),
            ("[http]\napi_key = \"   \"\n", "api_key is empty"),
            ("[http]\napi_key = \" k \"\n", "begins or ends with blanks"),
            ("match_budget = 0\n", "match_budget = 0"),
        ] {
            let err = Config::parse(text, Path::new("k.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("k.toml: ") && err.contains(says),
                "{text:?}: {err}"
            );
        }
        let ok = Config::parse("[http]\napi_key = \"k\"\n", Path::new("k.toml")).unwrap();
        assert_eq!(ok.http.api_key.as_deref(), Some("k"));
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let err = Config::parse("list_pth = \"x\"\n", Path::new("b.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("list_pth"), "{msg}");
        assert!(msg.starts_with("b.toml: "), "{msg}");
    }

    #[test]
    fn a_relative_history_path_is_relative_to_the_configuration_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("badclients.toml");
        std::fs::write(&config, "[history]\npath = \"state/h.redb\"\n").unwrap();
        let loaded = Config::load(Some(&config)).unwrap();
        assert_eq!(
            loaded.config.history_path(),
            dir.path().join("state/h.redb")
        );
    }
}
