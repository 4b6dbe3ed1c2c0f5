//! The configuration file (TOML): where it is found, what it holds, and how it becomes a
//! [`Policy`].
//!
//! Without `--config`, the first of `./badclients.toml` and
//! `/etc/badclients/badclients.toml` that exists is read; without either, the built-in
//! defaults apply. Unknown keys are an error naming the key. A relative `list_path` is
//! relative to the configuration file's directory.

pub mod import_ini;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::decision::Policy;
use crate::lists::{parse_net, CidrList, Entry, ListSet, LoadReport};

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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            list_path: PathBuf::from("lists"),
            disabled_services: Vec::new(),
            ignore_networks: Vec::new(),
            log_local: false,
        }
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
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })
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
        if config.list_path.is_relative() {
            if let Some(dir) = path.parent() {
                config.list_path = dir.join(&config.list_path);
            }
        }
        Ok(LoadedConfig {
            config,
            path: Some(path),
        })
    }
}

impl LoadedConfig {
    fn name(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| PathBuf::from("(built-in defaults)"))
    }

    /// Builds the policy: loads the lists (from `lists_override` when given) and the
    /// settings. List problems are in the report; settings problems are errors.
    pub fn policy(
        &self,
        lists_override: Option<&Path>,
    ) -> Result<(Policy, LoadReport), ConfigError> {
        let mut ignore_networks = CidrList::default();
        for (i, text) in self.config.ignore_networks.iter().enumerate() {
            let net = parse_net(text.trim()).map_err(|message| ConfigError::IgnoreNetworks {
                path: self.name(),
                message,
            })?;
            let entry = Entry {
                line: i + 1,
                text: text.clone(),
            };
            ignore_networks.add(net, entry, |_| {});
        }
        let dir = lists_override.unwrap_or(&self.config.list_path);
        let (lists, report) = ListSet::load(dir);
        let policy = Policy {
            lists,
            disabled_services: self.config.disabled_services.clone(),
            ignore_networks,
            log_local: self.config.log_local,
        };
        Ok((policy, report))
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
    fn unknown_key_is_an_error_naming_it() {
        let err = Config::parse("list_pth = \"x\"\n", Path::new("b.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("list_pth"), "{msg}");
        assert!(msg.starts_with("b.toml: "), "{msg}");
    }

    #[test]
    fn bad_ignore_network_is_an_error() {
        let loaded = LoadedConfig {
            config: Config {
                ignore_networks: vec!["10.0.0.0/33".into()],
                ..Config::default()
            },
            path: Some("c.toml".into()),
        };
        let err = loaded.policy(None).unwrap_err().to_string();
        assert!(err.contains("10.0.0.0/33"), "{err}");
    }
}
