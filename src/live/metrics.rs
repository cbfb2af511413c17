//! The live slice's gauges and counters, through the `metrics` facade, rendered with every
//! other metric by `GET /metrics` ([`crate::observability::metrics`]).

/// Open WebSocket connections past `connection_init`.
pub const CONNECTIONS: &str = "tally_live_connections";
/// Active subscriptions.
pub const SUBSCRIPTIONS: &str = "tally_live_subscriptions";
/// Events sent to subscribers, by `event` (`like_count`, `like_activity`).
pub const DELIVERED: &str = "tally_live_events_delivered_total";
/// Updates never sent because a newer one replaced them (coalescing), by `event`; for
/// `like_activity`, likes folded into a summary or lost behind a lagging subscriber.
pub const DROPPED: &str = "tally_live_events_dropped_total";

/// Describes the live metrics (once the recorder is installed:
/// [`crate::observability::metrics::install`]).
pub fn describe() {
    metrics::describe_gauge!(CONNECTIONS, "Open live WebSocket connections");
    metrics::describe_gauge!(SUBSCRIPTIONS, "Active live subscriptions");
    metrics::describe_counter!(DELIVERED, "Live events sent to subscribers");
    metrics::describe_counter!(DROPPED, "Live events replaced by a newer one");
    // Scraped from the start, at 0 (an increment by nothing: another instance of the
    // service in this process may hold connections already).
    metrics::gauge!(CONNECTIONS).increment(0.0);
    metrics::gauge!(SUBSCRIPTIONS).increment(0.0);
}

pub(super) fn connection_opened() {
    metrics::gauge!(CONNECTIONS).increment(1.0);
}

pub(super) fn connection_closed() {
    metrics::gauge!(CONNECTIONS).decrement(1.0);
}

/// One subscription, counted in [`SUBSCRIPTIONS`] while it lives.
pub struct SubscriptionGauge;

impl SubscriptionGauge {
    pub fn start() -> Self {
        metrics::gauge!(SUBSCRIPTIONS).increment(1.0);
        SubscriptionGauge
    }
}

impl Drop for SubscriptionGauge {
    fn drop(&mut self) {
        metrics::gauge!(SUBSCRIPTIONS).decrement(1.0);
    }
}

/// `n` events of kind `event` sent.
pub fn delivered(event: &'static str, n: u64) {
    metrics::counter!(DELIVERED, "event" => event).increment(n);
}

/// `n` events of kind `event` replaced by a newer one.
pub fn dropped(event: &'static str, n: u64) {
    if n > 0 {
        metrics::counter!(DROPPED, "event" => event).increment(n);
    }
}
