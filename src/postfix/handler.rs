//! What the policy server needs from its user: a [`PolicyHandler`] that answers one
//! request, and the [`PolicyLimits`] it serves under.

use std::future::Future;
use std::time::Duration;

use super::action::PolicyAction;
use super::request::PolicyRequest;

/// The decision the daemon makes for one request.
pub trait PolicyHandler: Send + Sync + 'static {
    /// Decides one request. Should finish within [`PolicyLimits::request_timeout`];
    /// past it the server answers [`PolicyLimits::timeout_action`] instead.
    fn check(&self, request: PolicyRequest) -> impl Future<Output = PolicyAction> + Send;
}

/// The caps that keep bad or slow peers from hurting the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLimits {
    /// The longest line, without its newline (longer: `DUNNO`).
    pub max_line_bytes: usize,
    /// The most attributes in one request (more: `DUNNO`).
    pub max_attributes: usize,
    /// The most bytes one request may take before its empty line (more: connection
    /// closed).
    pub max_request_bytes: usize,
    /// How long a connection may take to deliver its next complete request (longer:
    /// closed).
    pub idle_timeout: Duration,
    /// How long the handler may take for one request.
    pub request_timeout: Duration,
    /// The answer when the handler takes longer than `request_timeout`.
    pub timeout_action: PolicyAction,
    /// The most connections open at once; at the cap the longest-idle one is closed to
    /// admit a new one.
    pub max_connections: usize,
    /// How long shutdown waits for connections to finish their request.
    pub shutdown_grace: Duration,
}

impl Default for PolicyLimits {
    fn default() -> Self {
        PolicyLimits {
            max_line_bytes: 4096,
            max_attributes: 100,
            max_request_bytes: 64 * 1024,
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(5),
            timeout_action: PolicyAction::Dunno,
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}
