//! The live slice's gauges and counters, through the `metrics` facade, rendered in the
//! Prometheus text format by `GET /metrics` ([`render`]). The recorder is process-wide
//! (installed once, on first use); another slice adds its own metrics with the same macros.
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Open WebSocket connections past `connection_init`.
pub const CONNECTIONS: &str = "tally_live_connections";
/// Active subscriptions.
pub const SUBSCRIPTIONS: &str = "tally_live_subscriptions";
/// Events sent to subscribers, by `event` (`like_count`, `like_activity`).
pub const DELIVERED: &str = "tally_live_events_delivered_total";
/// Updates never sent because a newer one replaced them (coalescing), by `event`; for
/// `like_activity`, likes folded into a summary or lost behind a lagging subscriber.
pub const DROPPED: &str = "tally_live_events_dropped_total";

fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => {
                metrics::describe_gauge!(CONNECTIONS, "Open live WebSocket connections");
                metrics::describe_gauge!(SUBSCRIPTIONS, "Active live subscriptions");
                metrics::describe_counter!(DELIVERED, "Live events sent to subscribers");
                metrics::describe_counter!(DROPPED, "Live events replaced by a newer one");
                Some(handle)
            }
            Err(e) => {
                tracing::warn!(error = %e, "no metrics recorder installed");
                None
            }
        })
        .as_ref()
}

/// Installs the recorder (at start-up, so that the first events are counted).
pub fn install() {
    handle();
}

/// Every metric, in the Prometheus text format.
pub fn render() -> String {
    handle().map(PrometheusHandle::render).unwrap_or_default()
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
