//! The names under which answers are counted in `/metrics` (`endpoint=`), and the Dovecot
//! policy request's `command` as its query string says it (read without allocating: the
//! policy endpoint is the daemon's busiest).

use std::borrow::Cow;

use axum::http::Uri;

/// The shim's `GET /v1/check`.
pub(crate) const CHECK: &str = "check";
/// `GET /metrics`.
pub(crate) const METRICS: &str = "metrics";
/// The dashboard's pages.
pub(crate) const UI: &str = "ui";

/// The `command` of `POST /?command=…` (the last one when repeated, `""` when absent).
pub(crate) fn command(uri: &Uri) -> Cow<'_, str> {
    let query = uri.query().unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name == "command")
        .last()
        .map_or(Cow::Borrowed(""), |(_, value)| value)
}

/// The endpoint a policy request with `command` is counted under.
pub(crate) fn policy(command: &str) -> &'static str {
    match command {
        "allow" => "policy_allow",
        "report" => "policy_report",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_comes_from_the_query() {
        let of = |uri: &str| command(&uri.parse().expect("uri")).into_owned();
        assert_eq!(of("/?command=allow"), "allow");
        assert_eq!(of("/?command=report&x=1"), "report");
        assert_eq!(of("/?command=allow&command=report"), "report");
        assert_eq!(of("/?command=al%6Cow"), "allow");
        assert_eq!(of("/"), "");
        assert_eq!(of("/?commands=allow"), "");
        assert_eq!(policy("allow"), "policy_allow");
        assert_eq!(policy("report"), "policy_report");
        assert_eq!(policy("ALLOW"), "other");
    }
}
