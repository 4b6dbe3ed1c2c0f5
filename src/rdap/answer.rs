//! What an RDAP server's answer means: a network, a rate limit (HTTP 429, or LACNIC's
//! `Rate Limit Notice` in a 200 body), or an error.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::error::RdapError;
use super::network::RdapNetwork;
use super::retry_after::retry_after;

/// The notice title LACNIC sends, with status 200, instead of a network when rate-limiting.
pub const RATE_LIMIT_NOTICE_TITLE: &str = "Rate Limit Notice";

/// Why an answer gave no network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AnswerProblem {
    /// The server asks us to wait this long.
    RateLimited(Duration),
    /// Anything else.
    Failed(RdapError),
}

/// Reads one answer received at `now`: its status, `Retry-After` header and body.
pub(super) fn read_answer(
    status: u16,
    retry_after_header: Option<&str>,
    body: &[u8],
    now: SystemTime,
) -> Result<RdapNetwork, AnswerProblem> {
    if status == 429 {
        return Err(AnswerProblem::RateLimited(retry_after(
            retry_after_header,
            now,
        )));
    }
    if !(200..300).contains(&status) {
        return Err(AnswerProblem::Failed(RdapError::Http { status }));
    }
    let json: Value = serde_json::from_str(&utf8_dropping_invalid_bytes(body)).map_err(|e| {
        AnswerProblem::Failed(RdapError::BadJson {
            reason: e.to_string(),
        })
    })?;
    if has_rate_limit_notice(&json) {
        return Err(AnswerProblem::RateLimited(retry_after(
            retry_after_header,
            now,
        )));
    }
    RdapNetwork::from_json(&json).map_err(AnswerProblem::Failed)
}

/// Whether any `notices[*].title` is exactly [`RATE_LIMIT_NOTICE_TITLE`].
fn has_rate_limit_notice(json: &Value) -> bool {
    json.get("notices")
        .and_then(Value::as_array)
        .is_some_and(|notices| {
            notices
                .iter()
                .any(|n| n.get("title").and_then(Value::as_str) == Some(RATE_LIMIT_NOTICE_TITLE))
        })
}

/// The body as text with invalid UTF-8 bytes left out, as ipwhois decoded it
/// (`decode('utf-8', 'ignore')`).
fn utf8_dropping_invalid_bytes(body: &[u8]) -> String {
    let mut text = String::with_capacity(body.len());
    for chunk in body.utf8_chunks() {
        text.push_str(chunk.valid());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const NETWORK: &str = r#"{"objectClassName":"ip network","handle":"N","name":"X",
        "startAddress":"192.0.2.0","endAddress":"192.0.2.255"}"#;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn a_success_gives_the_network() {
        let network = read_answer(200, None, NETWORK.as_bytes(), now()).unwrap();
        assert_eq!(network.name.as_deref(), Some("X"));
    }

    #[test]
    fn http_429_is_a_rate_limit_with_its_retry_after() {
        assert_eq!(
            read_answer(429, Some("120"), b"", now()),
            Err(AnswerProblem::RateLimited(Duration::from_secs(120)))
        );
        assert_eq!(
            read_answer(429, None, b"", now()),
            Err(AnswerProblem::RateLimited(Duration::from_secs(60)))
        );
    }

    #[test]
    fn lacnic_rate_limit_notice_in_a_200_is_a_rate_limit() {
        let body = br#"{"notices":[{"title":"Terms"},{"title":"Rate Limit Notice",
            "description":["Too many queries"]}]}"#;
        assert_eq!(
            read_answer(200, None, body, now()),
            Err(AnswerProblem::RateLimited(Duration::from_secs(60)))
        );
        let other = br#"{"notices":[{"title":"rate limit notice"}]}"#;
        assert!(matches!(
            read_answer(200, None, other, now()),
            Err(AnswerProblem::Failed(RdapError::NotANetwork { .. }))
        ));
    }

    #[test]
    fn other_statuses_and_bad_bodies_are_errors() {
        for status in [301, 400, 404, 500, 503] {
            assert_eq!(
                read_answer(status, None, NETWORK.as_bytes(), now()),
                Err(AnswerProblem::Failed(RdapError::Http { status }))
            );
        }
        for body in [&b""[..], b"<html>", br#"{"handle":"#] {
            assert!(matches!(
                read_answer(200, None, body, now()),
                Err(AnswerProblem::Failed(RdapError::BadJson { .. }))
            ));
        }
    }

    #[test]
    fn invalid_utf8_bytes_are_dropped_like_ipwhois() {
        let mut body = br#"{"objectClassName":"ip network","handle":"N","name":"Caf"#.to_vec();
        body.extend_from_slice(b"\xc3\xa9\xff-NET\",");
        body.extend_from_slice(br#""startAddress":"192.0.2.0","endAddress":"192.0.2.255"}"#);
        let network = read_answer(200, None, &body, now()).unwrap();
        assert_eq!(network.name.as_deref(), Some("Café-NET"));
    }
}
