//! `ListenAddr`: where a badclients listener listens, written as a string in the
//! configuration — `127.0.0.1:8671`, `[::1]:8671` or `unix:/run/badclients/policy.sock`.
//!
//! Shared by the Postfix policy listener and the daemon's HTTP listener. It only parses
//! and prints the address; binding is the listener's job.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The prefix that marks a unix socket path.
const UNIX_PREFIX: &str = "unix:";

/// The longest unix socket path the kernel takes (`sun_path` is 108 bytes on Linux,
/// one of them for the terminating NUL).
pub const MAX_UNIX_PATH_BYTES: usize = 107;

/// A TCP address or a unix socket path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListenAddr {
    /// `127.0.0.1:8671`, `[::1]:8671`.
    Tcp(SocketAddr),
    /// `unix:/path/to/sock`.
    Unix(PathBuf),
}

/// Why a listen address does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenAddrError {
    #[error("empty listen address")]
    Empty,
    #[error("`unix:` needs a socket path after it")]
    EmptyUnixPath,
    #[error("unix socket path is {0} bytes long, the limit is {MAX_UNIX_PATH_BYTES}")]
    UnixPathTooLong(usize),
    #[error("unix socket path contains a NUL byte")]
    UnixPathNul,
    #[error("`{0}` is neither IP:PORT (`127.0.0.1:8671`, `[::1]:8671`) nor `unix:/path`")]
    Invalid(String),
}

impl ListenAddr {
    /// The unix socket path, if this is one.
    pub fn unix_path(&self) -> Option<&Path> {
        match self {
            ListenAddr::Unix(path) => Some(path),
            ListenAddr::Tcp(_) => None,
        }
    }

    /// The TCP address, if this is one.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        match self {
            ListenAddr::Tcp(addr) => Some(*addr),
            ListenAddr::Unix(_) => None,
        }
    }
}

impl FromStr for ListenAddr {
    type Err = ListenAddrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ListenAddrError::Empty);
        }
        match text.strip_prefix(UNIX_PREFIX) {
            Some(path) => parse_unix_path(path),
            None => text
                .parse::<SocketAddr>()
                .map(ListenAddr::Tcp)
                .map_err(|_| ListenAddrError::Invalid(text.to_owned())),
        }
    }
}

/// Checks a unix socket path: not empty, no NUL, short enough for `sun_path`.
fn parse_unix_path(path: &str) -> Result<ListenAddr, ListenAddrError> {
    if path.is_empty() {
        return Err(ListenAddrError::EmptyUnixPath);
    }
    if path.contains('\0') {
        return Err(ListenAddrError::UnixPathNul);
    }
    if path.len() > MAX_UNIX_PATH_BYTES {
        return Err(ListenAddrError::UnixPathTooLong(path.len()));
    }
    Ok(ListenAddr::Unix(PathBuf::from(path)))
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => write!(f, "{addr}"),
            ListenAddr::Unix(path) => write!(f, "{UNIX_PREFIX}{}", path.display()),
        }
    }
}

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for ListenAddr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ipv4_ipv6_and_unix() {
        let v4: ListenAddr = "127.0.0.1:8671".parse().unwrap();
        assert_eq!(v4.tcp_addr(), Some("127.0.0.1:8671".parse().unwrap()));
        let v6: ListenAddr = "[::1]:8671".parse().unwrap();
        assert_eq!(v6.tcp_addr(), Some("[::1]:8671".parse().unwrap()));
        let unix: ListenAddr = "unix:/run/badclients/policy.sock".parse().unwrap();
        assert_eq!(
            unix.unix_path(),
            Some(Path::new("/run/badclients/policy.sock"))
        );
        assert_eq!(unix.tcp_addr(), None);
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "127.0.0.1:8671",
            "[::1]:8671",
            "unix:/tmp/x.sock",
            "unix:rel.sock",
        ] {
            let addr: ListenAddr = text.parse().unwrap();
            assert_eq!(addr.to_string(), text);
            assert_eq!(addr.to_string().parse::<ListenAddr>().unwrap(), addr);
        }
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        let addr: ListenAddr = "  127.0.0.1:1 ".parse().unwrap();
        assert_eq!(addr.to_string(), "127.0.0.1:1");
    }

    #[test]
    fn rejects_bad_addresses() {
        assert_eq!("".parse::<ListenAddr>(), Err(ListenAddrError::Empty));
        assert_eq!(
            "unix:".parse::<ListenAddr>(),
            Err(ListenAddrError::EmptyUnixPath)
        );
        assert_eq!(
            "unix:/a\0b".parse::<ListenAddr>(),
            Err(ListenAddrError::UnixPathNul)
        );
        let long = format!("unix:/{}", "x".repeat(MAX_UNIX_PATH_BYTES));
        assert_eq!(
            long.parse::<ListenAddr>(),
            Err(ListenAddrError::UnixPathTooLong(MAX_UNIX_PATH_BYTES + 1))
        );
        for bad in [
            "127.0.0.1",
            "::1:8671",
            "localhost:8671",
            "inet:127.0.0.1:1",
            "1.2.3.4:99999",
        ] {
            assert!(
                matches!(bad.parse::<ListenAddr>(), Err(ListenAddrError::Invalid(_))),
                "{bad} parsed"
            );
        }
    }

    #[test]
    fn deserializes_from_a_string_and_serializes_back() {
        #[derive(Deserialize, Serialize)]
        struct Conf {
            listen: ListenAddr,
        }
        let conf: Conf = toml::from_str("listen = \"[::1]:8671\"").unwrap();
        assert_eq!(conf.listen, "[::1]:8671".parse().unwrap());
        let err = toml::from_str::<Conf>("listen = \"nowhere\"")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("neither IP:PORT"), "{err}");
        let text = toml::to_string(&conf).unwrap();
        assert_eq!(text.trim(), "listen = \"[::1]:8671\"");
    }
}
