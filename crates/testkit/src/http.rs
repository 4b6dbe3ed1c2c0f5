//! HTTP as the tests speak it to the daemon: one request per connection, the raw answer
//! split up ([`parse_http`], [`HttpAnswer`]), and a Dovecot policy login on a connection of
//! its own ([`policy_login`]).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::daemon::API_KEY;

/// An HTTP answer as the client saw it.
#[derive(Clone, Debug)]
pub struct HttpAnswer {
    pub status: u16,
    /// The header lines, lower-cased names (`content-type: text/plain`).
    pub headers: Vec<String>,
    pub body: String,
}

impl HttpAnswer {
    /// The value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|h| {
            h.split_once(':')
                .filter(|(n, _)| n.trim() == name)
                .map(|(_, v)| v.trim())
        })
    }
}

/// Sends `request` on `s` and reads the answer until the daemon closes the connection.
pub(crate) fn exchange<S: Read + Write>(s: &mut S, request: &str) -> Vec<u8> {
    s.write_all(request.as_bytes()).expect("send HTTP request");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    raw
}

/// A raw HTTP/1.x answer, split up; a chunked body is decoded.
pub fn parse_http(raw: &[u8]) -> HttpAnswer {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let headers: Vec<String> = lines
        .map(|l| match l.split_once(':') {
            Some((n, v)) => format!("{}:{v}", n.to_ascii_lowercase()),
            None => l.to_string(),
        })
        .collect();
    let mut answer = HttpAnswer {
        status,
        headers,
        body: body.to_string(),
    };
    let chunked = answer
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || after.len() < n {
                break;
            }
            out.push_str(&after[..n]);
            rest = after[n..].trim_start_matches("\r\n");
        }
        answer.body = out;
    }
    answer
}

/// A Dovecot auth-policy request (`POST /?command=allow`, imap, with [`API_KEY`]) for `user`
/// from `ip` to the daemon on `port`, on a connection of its own: the answer's status, or
/// `None` when the daemon closed without one (for load threads that hold no [`Daemon`]).
pub fn policy_login(port: u16, user: &str, ip: &str) -> Option<u16> {
    let body = format!(
        r#"{{"login":"{user}","user":"{user}","protocol":"imap","remote":"{ip}","local":"127.0.0.1","pwhash":"0cd2"}}"#
    );
    let req = format!(
        "POST /?command=allow HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nX-API-Key: {API_KEY}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    if raw.is_empty() {
        return None;
    }
    let answer = parse_http(&raw);
    Some(answer.status)
}
