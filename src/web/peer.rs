//! `Peer`: who is at the other end of an HTTP connection. The transport
//! (`serve_http`) puts it into every request's extensions; the access rule
//! (`access`) reads it.

use std::net::{IpAddr, SocketAddr};

/// Who is at the other end of a connection; every request carries it in its extensions
/// (personal data is shown without the API key only to loopback and unix-socket peers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    Tcp(SocketAddr),
    Unix,
}

impl Peer {
    /// A unix-socket peer or a TCP peer on a loopback address (`127.0.0.0/8`, `::1`, and
    /// `::ffff:127.0.0.0/104`).
    pub(crate) fn is_local(&self) -> bool {
        match self {
            Peer::Unix => true,
            Peer::Tcp(addr) => match addr.ip() {
                IpAddr::V4(ip) => ip.is_loopback(),
                IpAddr::V6(ip) => {
                    ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
                }
            },
        }
    }
}
