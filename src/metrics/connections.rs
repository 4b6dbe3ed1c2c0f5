//! The connection metrics of every listener: connections open, closed by the daemon (and
//! why), failed accepts; [`ConnCounters`], one listener's handles onto them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    listener: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClosedLabels {
    listener: &'static str,
    reason: &'static str,
}

/// The listeners that get their own `listener` label value; anything else is `other`.
const LISTENERS: [&str; 2] = ["http", "postfix"];

/// The connection metrics of every listener.
#[derive(Debug)]
pub(super) struct ConnectionFamilies {
    open: Family<ListenerLabels, Gauge>,
    closed: Family<ClosedLabels, Counter>,
    accept_errors: Family<ListenerLabels, Counter>,
}

impl ConnectionFamilies {
    pub(super) fn register(registry: &mut Registry) -> ConnectionFamilies {
        let open = Family::<ListenerLabels, Gauge>::default();
        registry.register(
            "badclients_connections_open",
            "Connections open, by listener",
            open.clone(),
        );
        let closed = Family::<ClosedLabels, Counter>::default();
        registry.register(
            "badclients_connections_closed",
            "Connections closed by the daemon, by listener and reason: evicted (the \
             longest-waiting one, to admit a new one at the cap or free a descriptor), \
             idle (no request in time) or body_timeout (the body did not arrive in time)",
            closed.clone(),
        );
        let accept_errors = Family::<ListenerLabels, Counter>::default();
        registry.register(
            "badclients_connection_accept_errors",
            "Failed accepts (e.g. out of file descriptors), by listener",
            accept_errors.clone(),
        );
        ConnectionFamilies {
            open,
            closed,
            accept_errors,
        }
    }

    /// The handles onto the series of `listener`, `other` for a listener not in
    /// `LISTENERS`.
    pub(super) fn counters(&self, listener: &'static str) -> ConnCounters {
        let listener = LISTENERS
            .iter()
            .find(|l| **l == listener)
            .copied()
            .unwrap_or("other");
        let closed = |reason| {
            self.closed
                .get_or_create(&ClosedLabels { listener, reason })
                .clone()
        };
        ConnCounters {
            open: self
                .open
                .get_or_create(&ListenerLabels { listener })
                .clone(),
            evicted: closed("evicted"),
            idle: closed("idle"),
            body_timeout: closed("body_timeout"),
            accept_errors: self
                .accept_errors
                .get_or_create(&ListenerLabels { listener })
                .clone(),
        }
    }
}

/// The connection metrics of one listener (handles onto the registered series; the
/// default is a set that no registry exports, for tests and embedders).
#[derive(Debug, Clone, Default)]
pub struct ConnCounters {
    /// Connections open now.
    pub open: Gauge,
    /// Closed to make room at the cap or to free a descriptor.
    pub evicted: Counter,
    /// Closed because no (whole) request arrived in time.
    pub idle: Counter,
    /// HTTP: closed because the request body did not arrive in time.
    pub body_timeout: Counter,
    /// Failed accepts.
    pub accept_errors: Counter,
}
