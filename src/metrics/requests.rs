//! The request metrics: HTTP requests by endpoint and status class, Postfix policy
//! requests by the action answered; and the mappings that keep their labels to fixed sets
//! ([`endpoint_label`], [`status_class`], [`postfix_action_label`]).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// The HTTP endpoints that get their own `endpoint` label value.
const ENDPOINTS: [&str; 6] = [
    "policy_allow",
    "policy_report",
    "check",
    "metrics",
    "ui",
    "other",
];

/// The Postfix policy actions (access(5)) that get their own `action` label value.
const POSTFIX_ACTIONS: [&str; 14] = [
    "ok",
    "dunno",
    "reject",
    "defer",
    "defer_if_reject",
    "defer_if_permit",
    "bcc",
    "discard",
    "filter",
    "hold",
    "prepend",
    "redirect",
    "info",
    "warn",
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    endpoint: &'static str,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

/// The request families.
#[derive(Debug)]
pub(super) struct RequestFamilies {
    http: Family<HttpLabels, Counter>,
    postfix: Family<ActionLabels, Counter>,
}

impl RequestFamilies {
    pub(super) fn register(registry: &mut Registry) -> RequestFamilies {
        let http = Family::<HttpLabels, Counter>::default();
        registry.register(
            "badclients_http_requests",
            "HTTP requests, by endpoint and status class",
            http.clone(),
        );
        let postfix = Family::<ActionLabels, Counter>::default();
        registry.register(
            "badclients_postfix_requests",
            "Postfix policy requests, by the action answered",
            postfix.clone(),
        );
        RequestFamilies { http, postfix }
    }

    /// Counts one HTTP request to `endpoint` (see [`endpoint_label`]) answered `status`.
    #[inline]
    pub(super) fn observe_http(&self, endpoint: &str, status: u16) {
        let labels = HttpLabels {
            endpoint: endpoint_label(endpoint),
            status: status_class(status),
        };
        self.http.get_or_create(&labels).inc();
    }

    /// Counts one Postfix policy request answered with `action` (see
    /// [`postfix_action_label`]).
    #[inline]
    pub(super) fn observe_postfix(&self, action: &str) {
        let labels = ActionLabels {
            action: postfix_action_label(action),
        };
        self.postfix.get_or_create(&labels).inc();
    }
}

/// The `endpoint` label value: `policy_allow`, `policy_report`, `check`, `metrics`, `ui`
/// (the dashboard), or `other` for anything else.
pub fn endpoint_label(endpoint: &str) -> &'static str {
    ENDPOINTS
        .iter()
        .find(|e| **e == endpoint)
        .copied()
        .unwrap_or("other")
}

/// The `status` label value: the class of an HTTP status (`2xx`, `4xx`, `5xx`, …), or
/// `other` for a number outside 100–599.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// The `action` label value of a Postfix policy answer: its first word lower-cased when
/// it is an access(5) action (`dunno`, `reject`, `defer_if_permit`, …), `4xx`/`5xx` for a
/// numeric SMTP reply, otherwise `other`. The text after the action never shows.
pub fn postfix_action_label(action: &str) -> &'static str {
    let action = action.trim_start();
    let word = action
        .split(|c: char| c.is_ascii_whitespace())
        .next()
        .unwrap_or("");
    let bytes = word.as_bytes();
    if bytes.len() == 3 && bytes.iter().all(u8::is_ascii_digit) {
        return match bytes[0] {
            b'4' => "4xx",
            b'5' => "5xx",
            _ => "other",
        };
    }
    POSTFIX_ACTIONS
        .iter()
        .find(|a| a.eq_ignore_ascii_case(word))
        .copied()
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_actions() {
        assert_eq!(postfix_action_label("DUNNO"), "dunno");
        assert_eq!(postfix_action_label("REJECT bad client alice"), "reject");
        assert_eq!(
            postfix_action_label("defer_if_permit try later"),
            "defer_if_permit"
        );
        assert_eq!(postfix_action_label("450 4.7.1 later"), "4xx");
        assert_eq!(postfix_action_label("554 no"), "5xx");
        assert_eq!(postfix_action_label("250 ok"), "other");
        assert_eq!(postfix_action_label(""), "other");
        assert_eq!(postfix_action_label("x\"} 1"), "other");
    }
}
