//! `Access`: the one rule for every endpoint that shows personal data — user names, client
//! addresses and login times: the dashboard (`/ui`), the history API (`/v1/history/*`) and
//! the cache API (`/v1/lookup`, `/v1/cache/*`).
//!
//! - With `[http] api_key` set, the key is needed whatever the peer (a reverse proxy on the
//!   same host connects from loopback): in the configured header, or as the password of
//!   HTTP Basic auth (any user name) so that a browser can ask for it.
//! - Without a key, only a unix-socket peer, or a loopback peer whose request carries no
//!   proxy header (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`, …), is answered. A request
//!   a proxy passed on is refused: the proxy may serve anyone.
//! - Over TCP the `Host` header must name this daemon — an IP address, `localhost`, or a
//!   name of `[http] allowed_hosts` — so that a web page cannot reach it through a name it
//!   points at 127.0.0.1 (DNS rebinding), key or no key.

use axum::http::{header, HeaderMap, StatusCode};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use subtle::ConstantTimeEq;

use super::peer::Peer;
use crate::config::HttpSection;

/// Headers a reverse proxy adds to say whom it forwards for.
const PROXY_HEADERS: [&str; 6] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "x-client-ip",
];

/// Whether a request may see personal data, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Allowed,
    /// 401: a key is set and the request does not carry it.
    NeedsKey,
    /// 403: no key is set and the peer is not local, or a proxy passed the request on.
    Forbidden,
    /// 403: the `Host` header names another site.
    ForeignHost,
}

impl Access {
    /// Decides for a request from `peer` (`None`: unknown, treated as remote).
    pub(crate) fn of(peer: Option<&Peer>, headers: &HeaderMap, http: &HttpSection) -> Access {
        if !matches!(peer, Some(Peer::Unix)) && !host_allowed(headers, http) {
            return Access::ForeignHost;
        }
        match &http.api_key {
            Some(key) => {
                if has_key(headers, http) || basic_password(headers, key) {
                    Access::Allowed
                } else {
                    Access::NeedsKey
                }
            }
            None if peer.is_some_and(Peer::is_local) && !proxied(headers) => Access::Allowed,
            None => Access::Forbidden,
        }
    }

    /// The HTTP status of a refusal (200 when allowed).
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Access::Allowed => StatusCode::OK,
            Access::NeedsKey => StatusCode::UNAUTHORIZED,
            Access::Forbidden | Access::ForeignHost => StatusCode::FORBIDDEN,
        }
    }

    /// What the refused client is told (no path, no name of the data).
    pub(crate) fn explanation(self) -> &'static str {
        match self {
            Access::Allowed => "allowed",
            Access::NeedsKey => {
                "missing or wrong API key: send it in the configured header, or as the \
                 password of HTTP Basic auth (any user name)"
            }
            Access::Forbidden => {
                "without [http] api_key, personal data is shown only on the unix socket or to \
                 loopback clients that no proxy forwards; set api_key to use a proxy or the \
                 network"
            }
            Access::ForeignHost => {
                "the Host header names another site; add the name to [http] allowed_hosts if \
                 the daemon is reached by it"
            }
        }
    }
}

/// Whether the request carries the configured API key in the configured header (compared
/// in constant time, the header value trimmed as Dovecot sends it with extra blanks);
/// always true when no key is set.
pub(crate) fn has_key(headers: &HeaderMap, http: &HttpSection) -> bool {
    let Some(key) = &http.api_key else {
        return true;
    };
    let Some(value) = headers.get(http.api_header.as_str()) else {
        return false;
    };
    let given = value.as_bytes().trim_ascii();
    given.ct_eq(key.as_bytes()).into()
}

/// Whether a proxy says it passed the request on.
fn proxied(headers: &HeaderMap) -> bool {
    PROXY_HEADERS.iter().any(|h| headers.contains_key(*h))
}

/// Whether the `Host` header (required: HTTP/1.1 clients always send it) is an IP address,
/// `localhost` or one of `allowed_hosts`, with any port.
fn host_allowed(headers: &HeaderMap, http: &HttpSection) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let name = strip_port(host.trim());
    if name.is_empty() {
        return false;
    }
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || http
            .allowed_hosts
            .iter()
            .any(|allowed| strip_port(allowed.trim()).eq_ignore_ascii_case(name))
}

/// `name` of `name:port`, `[v6]` of `[v6]:port`; a bare IPv6 address stays whole.
fn strip_port(host: &str) -> &str {
    if let Some(end) = host.find(']') {
        return &host[..=end];
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

/// Whether the request's `Authorization: Basic` password is `key` (any user name).
fn basic_password(headers: &HeaderMap, key: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = BASIC.decode(token.trim()) else {
        return false;
    };
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return false;
    };
    decoded[colon + 1..].ct_eq(key.as_bytes()).into()
}

/// Standard base64 as browsers send it in `Authorization: Basic`, padding optional.
const BASIC: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Whether the daemon listens for TCP beyond loopback without a key: the endpoints above
/// then refuse every network client, while `/metrics` and the policy endpoints answer them
/// (the start-up warning says so).
pub(crate) fn open_to_the_network_without_a_key(http: &HttpSection) -> bool {
    if http.api_key.is_some() || http.listen.starts_with("unix:") {
        return false;
    }
    match http.listen.parse::<std::net::SocketAddr>() {
        Ok(addr) => !addr.ip().is_loopback(),
        // A host name: it may resolve to anything.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn http(key: Option<&str>, allowed_hosts: &[&str]) -> HttpSection {
        HttpSection {
            api_key: key.map(str::to_string),
            allowed_hosts: allowed_hosts.iter().map(|h| h.to_string()).collect(),
            ..HttpSection::default()
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn tcp(addr: &str) -> Peer {
        Peer::Tcp(addr.parse().unwrap())
    }

    #[test]
    fn without_a_key_only_local_unproxied_peers_get_in() {
        let none = http(None, &[]);
        let host = ("host", "127.0.0.1:8670");
        let local = tcp("127.0.0.1:40000");
        let of = |peer: Option<&Peer>, h: &[(&str, &str)]| Access::of(peer, &headers(h), &none);
        assert_eq!(of(Some(&local), &[host]), Access::Allowed);
        assert_eq!(
            of(Some(&tcp("[::1]:4")), &[("host", "[::1]:8670")]),
            Access::Allowed
        );
        assert_eq!(of(Some(&Peer::Unix), &[]), Access::Allowed);
        for proxy in PROXY_HEADERS {
            assert_eq!(
                of(Some(&local), &[host, (proxy, "203.0.113.9")]),
                Access::Forbidden
            );
        }
        assert_eq!(of(Some(&tcp("192.0.2.7:4")), &[host]), Access::Forbidden);
        assert_eq!(of(None, &[host]), Access::Forbidden);
    }

    #[test]
    fn with_a_key_every_peer_needs_it() {
        let keyed = http(Some("s3cret"), &[]);
        let host = ("host", "localhost:8670");
        let basic = |pw: &str| ("authorization", basic("anyone", pw));
        for peer in [tcp("127.0.0.1:1"), tcp("192.0.2.7:1"), Peer::Unix] {
            let of = |h: &[(&str, &str)]| Access::of(Some(&peer), &headers(h), &keyed);
            assert_eq!(of(&[host]), Access::NeedsKey);
            assert_eq!(of(&[host, ("x-api-key", "")]), Access::NeedsKey);
            assert_eq!(of(&[host, ("x-api-key", "nope")]), Access::NeedsKey);
            assert_eq!(of(&[host, ("x-api-key", " s3cret ")]), Access::Allowed);
            let (k, v) = basic("s3cret");
            assert_eq!(of(&[host, (k, &v)]), Access::Allowed);
            let (k, v) = basic("s3cre");
            assert_eq!(of(&[host, (k, &v)]), Access::NeedsKey);
            assert_eq!(
                of(&[
                    host,
                    ("x-api-key", "s3cret"),
                    ("x-forwarded-for", "203.0.113.9")
                ]),
                Access::Allowed,
                "with the key a proxy may pass requests on"
            );
        }
    }

    #[test]
    fn a_foreign_host_is_refused_key_or_no_key_but_not_on_the_socket() {
        let local = tcp("127.0.0.1:40000");
        for section in [
            http(None, &["mail.example.org"]),
            http(Some("k"), &["mail.example.org:443"]),
        ] {
            let of = |peer: &Peer, host: Option<&str>| {
                let mut h: Vec<(&str, &str)> = vec![("x-api-key", "k")];
                if let Some(host) = host {
                    h.push(("host", host));
                }
                Access::of(Some(peer), &headers(&h), &section)
            };
            for good in [
                "127.0.0.1",
                "127.0.0.1:8670",
                "[::1]:8670",
                "LOCALHOST:1",
                "10.1.2.3:8670",
                "mail.example.org",
                "Mail.Example.org:8443",
            ] {
                assert_eq!(of(&local, Some(good)), Access::Allowed, "{good}");
            }
            for bad in [
                "attacker.example",
                "attacker.example:8670",
                "localhost.attacker.example",
                "127.0.0.1.nip.io",
                "",
            ] {
                assert_eq!(of(&local, Some(bad)), Access::ForeignHost, "{bad}");
            }
            assert_eq!(of(&local, None), Access::ForeignHost);
            assert_eq!(of(&Peer::Unix, Some("attacker.example")), Access::Allowed);
        }
    }

    #[test]
    fn network_listeners_without_a_key_are_pointed_out() {
        let at = |listen: &str, key: Option<&str>| HttpSection {
            listen: listen.into(),
            ..http(key, &[])
        };
        assert!(open_to_the_network_without_a_key(&at("0.0.0.0:8670", None)));
        assert!(open_to_the_network_without_a_key(&at("[::]:8670", None)));
        assert!(open_to_the_network_without_a_key(&at(
            "192.0.2.1:8670",
            None
        )));
        assert!(!open_to_the_network_without_a_key(&at(
            "127.0.0.1:8670",
            None
        )));
        assert!(!open_to_the_network_without_a_key(&at("[::1]:8670", None)));
        assert!(!open_to_the_network_without_a_key(&at(
            "unix:/run/b.sock",
            None
        )));
        assert!(!open_to_the_network_without_a_key(&at(
            "0.0.0.0:8670",
            Some("k")
        )));
    }

    /// `Basic <base64 of user:password>`.
    fn basic(user: &str, password: &str) -> String {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {token}")
    }

    #[test]
    fn basic_auth_takes_any_user_and_only_the_key() {
        let keyed = http(Some("s3cret"), &[]);
        let peer = tcp("192.0.2.7:1");
        let of = |auth: &str| {
            Access::of(
                Some(&peer),
                &headers(&[("host", "192.0.2.1:8670"), ("authorization", auth)]),
                &keyed,
            )
        };
        for user in ["admin", "", "jörg"] {
            assert_eq!(of(&basic(user, "s3cret")), Access::Allowed, "{user}");
        }
        for wrong in [
            basic("admin", "nope"),
            basic("admin", "s3cret2"),
            basic("s3cret", ""),
            "Basic !!!".to_string(),
            "Bearer s3cret".to_string(),
            "Basic".to_string(),
        ] {
            assert_eq!(of(&wrong), Access::NeedsKey, "{wrong}");
        }
        // Basic auth does not open a daemon without a key.
        let h = headers(&[("host", "192.0.2.1"), ("authorization", &basic("a", ""))]);
        assert_eq!(
            Access::of(Some(&peer), &h, &http(None, &[])),
            Access::Forbidden
        );
    }

    #[test]
    fn refusals_have_their_status() {
        assert_eq!(Access::Allowed.status(), StatusCode::OK);
        assert_eq!(Access::NeedsKey.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(Access::Forbidden.status(), StatusCode::FORBIDDEN);
        assert_eq!(Access::ForeignHost.status(), StatusCode::FORBIDDEN);
        assert!(Access::ForeignHost.explanation().contains("allowed_hosts"));
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(BASIC.decode("YWRtaW46czNjcmV0").unwrap(), b"admin:s3cret");
        assert_eq!(BASIC.decode("YTpi").unwrap(), b"a:b");
        assert_eq!(BASIC.decode("YTpiYw==").unwrap(), b"a:bc");
        assert_eq!(BASIC.decode("YTpiYw").unwrap(), b"a:bc");
        assert!(BASIC.decode("YT*i").is_err());
    }
}
