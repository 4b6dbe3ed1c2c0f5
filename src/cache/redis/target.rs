//! Where the shared tier lives ([`RedisTarget`]: one Redis, a Sentinel set or a Cluster) and
//! how to reach it: credentials, TLS with the system's CA certificates or a PEM file of the
//! site's CA (rustls with ring, see [`crate::tls`]; no OpenSSL), and how to name it in a log
//! line without its password ([`redact_url`]).

use std::fmt;
use std::path::PathBuf;

use ::redis::{ConnectionAddr, IntoConnectionInfo, TlsCertificates};

use super::RedisTierError;

/// Which Redis deployment the tier talks to, as the `[cache]` keys describe it.
#[derive(Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// One Redis at a URL (`redis://…`, `rediss://…` for TLS, `redis://user:pass@host/db`
    /// for an ACL user); `tls_ca` is the CA to verify a `rediss://` server with.
    Single {
        url: String,
        tls_ca: Option<PathBuf>,
    },
    /// The primary that a set of sentinels (`host:port`) names for `master`; followed across
    /// failovers.
    Sentinel {
        sentinels: Vec<String>,
        master: String,
        access: RedisAccess,
    },
    /// A Redis Cluster reached through its seed nodes (`host:port`).
    Cluster {
        nodes: Vec<String>,
        access: RedisAccess,
    },
}

/// How to reach the nodes of a Sentinel set or a Cluster.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RedisAccess {
    /// The ACL user (`AUTH username password`); `None`: the default user.
    pub username: Option<String>,
    /// The password (`requirepass` or the ACL user's).
    pub password: Option<String>,
    /// The ACL user the sentinels ask for; `None`: the default user.
    pub sentinel_username: Option<String>,
    /// The password the sentinels ask for; `None`: they ask for none.
    pub sentinel_password: Option<String>,
    /// TLS to every node (and to the sentinels).
    pub tls: bool,
    /// A PEM file with the CA certificates to verify the nodes with; `None`: the system's.
    pub tls_ca: Option<PathBuf>,
    /// The database (`SELECT`); always 0 in a Cluster.
    pub db: i64,
}

impl fmt::Debug for RedisAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAccess")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("sentinel_username", &self.sentinel_username)
            .field(
                "sentinel_password",
                &self.sentinel_password.as_ref().map(|_| "<redacted>"),
            )
            .field("tls", &self.tls)
            .field("tls_ca", &self.tls_ca)
            .field("db", &self.db)
            .finish()
    }
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisTarget::Single { url, tls_ca } => f
                .debug_struct("Single")
                .field("url", &redact_url(url))
                .field("tls_ca", tls_ca)
                .finish(),
            RedisTarget::Sentinel {
                sentinels,
                master,
                access,
            } => f
                .debug_struct("Sentinel")
                .field("sentinels", sentinels)
                .field("master", master)
                .field("access", access)
                .finish(),
            RedisTarget::Cluster { nodes, access } => f
                .debug_struct("Cluster")
                .field("nodes", nodes)
                .field("access", access)
                .finish(),
        }
    }
}

/// For log lines: `Redis at redis://:***@host/0`, `Redis Sentinel master "m" via a:1, b:2`,
/// `Redis Cluster via a:1, b:2`. Never a password.
impl fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisTarget::Single { url, .. } => write!(f, "Redis at {}", redact_url(url)),
            RedisTarget::Sentinel {
                sentinels, master, ..
            } => write!(
                f,
                "Redis Sentinel master {master:?} via {}",
                sentinels.join(", ")
            ),
            RedisTarget::Cluster { nodes, .. } => {
                write!(f, "Redis Cluster via {}", nodes.join(", "))
            }
        }
    }
}

/// `url` with its password replaced by `***` (`redis://user:***@host:6379/0`); a text that
/// does not parse as a URL is shown only up to its last `@` replaced, to be safe.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Only fails for URLs that cannot have a password, which this one has.
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => match url.rfind('@') {
            Some(at) => format!("***{}", &url[at..]),
            None => url.to_string(),
        },
    }
}

/// Reads the CA file, if any, into what the redis crate takes. Installs ring as rustls'
/// provider first: the redis crate builds its TLS configuration with the process default.
pub(super) fn certificates(
    tls_ca: Option<&PathBuf>,
) -> Result<Option<TlsCertificates>, RedisTierError> {
    crate::tls::install_crypto_provider();
    let Some(path) = tls_ca else {
        return Ok(None);
    };
    let pem = std::fs::read(path).map_err(|source| RedisTierError::TlsCa {
        path: path.clone(),
        source,
    })?;
    Ok(Some(TlsCertificates {
        client_tls: None,
        root_cert: Some(pem),
    }))
}

/// The address of `host:port`, over TLS when `tls` (certificates are set by the builders).
pub(super) fn node_addr(host_port: &str, tls: bool) -> Result<ConnectionAddr, RedisTierError> {
    let info = node_url(host_port, tls)
        .into_connection_info()
        .map_err(RedisTierError::InvalidUrl)?;
    Ok(info.addr().clone())
}

/// `redis://host:port` or `rediss://host:port`.
pub(super) fn node_url(host_port: &str, tls: bool) -> String {
    let scheme = if tls { "rediss" } else { "redis" };
    format!("{scheme}://{host_port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact_url("redis://user:s3cret@127.0.0.1:6379/0"),
            "redis://user:***@127.0.0.1:6379/0"
        );
        assert_eq!(
            redact_url("rediss://:s3cret@redis.example:6380"),
            "rediss://:***@redis.example:6380"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
        assert_eq!(redact_url("no url:s3cret@host"), "***@host");
        let target = RedisTarget::Sentinel {
            sentinels: vec!["127.0.0.1:26379".into()],
            master: "mymaster".into(),
            access: RedisAccess {
                password: Some("s3cret".into()),
                ..RedisAccess::default()
            },
        };
        assert!(!format!("{target} {target:?}").contains("s3cret"));
        let single = RedisTarget::Single {
            url: "redis://u:s3cret@h/0".into(),
            tls_ca: None,
        };
        assert!(!format!("{single} {single:?}").contains("s3cret"));
    }
}
