//! Observability: what an operator sees of a running instance. [`metrics`] (`GET /metrics`,
//! Prometheus text), [`request_id`] (the `request` span and `X-Request-Id`), [`operations`]
//! (the GraphQL operation's span and its metrics), [`logging`] (text or JSON logs, optional
//! OpenTelemetry export). No log line carries a token, a password or a variable's value:
//! spans record names only (method, path, request ID, operation name and type, root field),
//! and `tests/api/observability` greps a debug-level log for known secrets.
pub mod logging;
pub mod metrics;
pub mod operations;
pub mod request_id;
