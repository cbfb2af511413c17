//! Every metric of the service, through the `metrics` facade, rendered in the Prometheus
//! text format by `GET /metrics` ([`endpoint`]). The recorder is process-wide (installed
//! once, on first use); a slice adds its own metrics with the same macros (the live slice's
//! are in `live::metrics`).
//!
//! Every label has a bounded set of values, whatever clients send: operation names are
//! kept for the first [`MAX_OPERATION_NAMES`] well-formed ones seen ([`operation_label`]),
//! error codes are the documented ones, statement kinds five words.
use std::{
    collections::HashSet,
    sync::{Mutex, OnceLock},
    time::Duration,
};

use actix_web::{web::Data, HttpResponse};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::{DatabaseConnection, DbBackend};

use crate::error::ErrorCode;

/// GraphQL operations run, by `operation` ([`operation_label`]) and `type` (`query`,
/// `mutation`, `subscription`, or `unknown` for a document that never parsed).
pub const REQUESTS: &str = "tally_graphql_requests_total";
/// How long queries and mutations took, from the request to the response, in seconds; by
/// `operation` and `type`.
pub const REQUEST_SECONDS: &str = "tally_graphql_request_duration_seconds";
/// Errors answered, by `code` (the documented `extensions.code`s; `other` for none of them).
pub const ERRORS: &str = "tally_graphql_errors_total";
/// Calls refused by a rate limit, by `bucket` (`likes`, `follows`, `views`, `auth`,
/// `login-handle`, `oauth`).
pub const RATE_LIMITED: &str = "tally_rate_limited_total";
/// Rate-limit checks that fell back to the instance's own buckets (Redis down or slow).
pub const RATE_LIMIT_FALLBACKS: &str = "tally_rate_limit_fallbacks_total";
/// Read requests by where they ran, `on` (`replica`, `primary`), with read replicas.
pub const DB_READS: &str = "tally_db_reads_total";
/// The database pool's open connections, by `state` (`in_use`, `idle`), sampled at scrape.
pub const POOL_CONNECTIONS: &str = "tally_db_pool_connections";
/// The most connections the pool may open.
pub const POOL_MAX: &str = "tally_db_pool_max_connections";
/// How long statements took on their connection, in seconds, by `kind` (`select`,
/// `insert`, `update`, `delete`, `other`).
pub const STATEMENT_SECONDS: &str = "tally_db_statement_duration_seconds";
/// Statements the database refused, by `kind`.
pub const STATEMENT_ERRORS: &str = "tally_db_statement_errors_total";
/// Transactions run again after a transient conflict (deadlock, serialization failure,
/// SQLite busy).
pub const TRANSACTION_RETRIES: &str = "tally_db_transaction_retries_total";
/// 1 when the last readiness probe (`/readyz`) found the database answering, else 0.
pub const READY: &str = "tally_ready";

/// Distinct operation names counted under their own label; later ones count as `other`.
pub const MAX_OPERATION_NAMES: usize = 100;
/// Longest operation name counted under its own label.
const MAX_OPERATION_NAME_LEN: usize = 64;

/// Latency buckets, in seconds: 1 ms to 10 s.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets(&BUCKETS)
                .and_then(PrometheusBuilder::install_recorder);
            match installed {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no metrics recorder installed");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    metrics::describe_counter!(REQUESTS, "GraphQL operations run");
    metrics::describe_histogram!(
        REQUEST_SECONDS,
        metrics::Unit::Seconds,
        "GraphQL query and mutation latency"
    );
    metrics::describe_counter!(ERRORS, "GraphQL errors answered, by code");
    metrics::describe_counter!(RATE_LIMITED, "Calls refused by a rate limit, by bucket");
    metrics::describe_gauge!(POOL_CONNECTIONS, "Database pool connections, by state");
    metrics::describe_gauge!(POOL_MAX, "Most connections the database pool may open");
    metrics::describe_histogram!(
        STATEMENT_SECONDS,
        metrics::Unit::Seconds,
        "Database statement latency, by kind"
    );
    metrics::describe_counter!(STATEMENT_ERRORS, "Database statements that failed");
    metrics::describe_counter!(
        TRANSACTION_RETRIES,
        "Transactions retried after a transient conflict"
    );
    metrics::describe_gauge!(READY, "Whether the last readiness probe passed");
    metrics::describe_counter!(
        RATE_LIMIT_FALLBACKS,
        "Rate-limit checks answered in process because Redis was down or slow"
    );
    metrics::describe_counter!(DB_READS, "Read requests by where they ran");
    // Scraped from the start, at 0: a rate of retries needs a first sample.
    metrics::counter!(TRANSACTION_RETRIES).increment(0);
}

/// Installs the recorder (at start-up, so that the first events are counted).
pub fn install() {
    handle();
}

/// Every metric, in the Prometheus text format, the pool of `db` sampled first.
pub fn render(db: &DatabaseConnection) -> String {
    record_pool(db);
    handle().map(PrometheusHandle::render).unwrap_or_default()
}

/// Drains the histograms' recent samples into their buckets (without it, samples pile up
/// between two scrapes).
pub fn upkeep() {
    if let Some(handle) = handle() {
        handle.run_upkeep();
    }
}

/// Runs [`upkeep`] every `every`, forever (spawned beside the server).
pub async fn upkeep_every(every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        upkeep();
    }
}

/// `GET /metrics`.
pub async fn endpoint(db: Data<DatabaseConnection>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(render(&db))
}

/// The label of an operation named `name`: `anonymous` without a name; the name itself if
/// it is a well-formed GraphQL name of at most 64 characters, among the first
/// [`MAX_OPERATION_NAMES`] seen by this process; else `other`.
pub fn operation_label(name: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let Some(name) = name else {
        return "anonymous".to_owned();
    };
    if !is_graphql_name(name) || name.len() > MAX_OPERATION_NAME_LEN {
        return "other".to_owned();
    }
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.contains(name) || seen.len() < MAX_OPERATION_NAMES {
        seen.insert(name.to_owned());
        name.to_owned()
    } else {
        "other".to_owned()
    }
}

/// `/[_A-Za-z][_0-9A-Za-z]*/` (the GraphQL spec's `Name`).
fn is_graphql_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// One query or mutation answered after `elapsed`.
pub fn operation(name: String, kind: &'static str, elapsed: Duration) {
    metrics::counter!(REQUESTS, "operation" => name.clone(), "type" => kind).increment(1);
    metrics::histogram!(REQUEST_SECONDS, "operation" => name, "type" => kind)
        .record(elapsed.as_secs_f64());
}

/// One subscription started (its latency is its whole life: not measured).
pub fn subscription(name: String) {
    metrics::counter!(REQUESTS, "operation" => name, "type" => "subscription").increment(1);
}

/// One error answered with `extensions.code` `code`.
pub fn error(code: &str) {
    metrics::counter!(ERRORS, "code" => error_code_label(code)).increment(1);
}

/// `code` if it is a documented code, else `other`.
fn error_code_label(code: &str) -> &'static str {
    ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .find(|c| *c == code)
        .unwrap_or("other")
}

/// One call refused by the rate limit `bucket`.
pub fn rate_limited(bucket: &'static str) {
    metrics::counter!(RATE_LIMITED, "bucket" => bucket).increment(1);
}

/// One transaction about to be run again after a transient conflict.
pub fn transaction_retry() {
    metrics::counter!(TRANSACTION_RETRIES).increment(1);
}

/// The outcome of a readiness probe.
pub fn ready(ready: bool) {
    metrics::gauge!(READY).set(if ready { 1.0 } else { 0.0 });
}

/// One statement run: SeaORM's metric callback ([`DatabaseConnection::set_metric_callback`]).
pub fn statement(info: &sea_orm::metric::Info<'_>) {
    let kind = statement_kind(&info.statement.sql);
    metrics::histogram!(STATEMENT_SECONDS, "kind" => kind).record(info.elapsed.as_secs_f64());
    if info.failed {
        metrics::counter!(STATEMENT_ERRORS, "kind" => kind).increment(1);
    }
}

/// The pool's connections now: in use, idle, and the most it may open.
fn record_pool(db: &DatabaseConnection) {
    let (size, idle, max) = match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => return,
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
    metrics::gauge!(POOL_CONNECTIONS, "state" => "in_use").set(f64::from(size - idle));
    metrics::gauge!(POOL_CONNECTIONS, "state" => "idle").set(f64::from(idle));
    metrics::gauge!(POOL_MAX).set(f64::from(max));
}

/// What a statement does: `select`, `insert`, `update`, `delete`, else `other` (`BEGIN`,
/// `PRAGMA`, `SET`, …). A `WITH` statement is the kind of its main statement, after its
/// common table expressions.
pub fn statement_kind(sql: &str) -> &'static str {
    let mut words = Words::new(sql);
    match words.next_top_level() {
        Some(w) if w.eq_ignore_ascii_case("with") => {
            while let Some(w) = words.next_top_level() {
                if let Some(kind) = dml(w) {
                    return kind;
                }
            }
            "other"
        }
        Some(w) => dml(w).unwrap_or("other"),
        None => "other",
    }
}

fn dml(word: &str) -> Option<&'static str> {
    ["select", "insert", "update", "delete"]
        .into_iter()
        .find(|k| word.eq_ignore_ascii_case(k))
}

/// The words of SQL text outside quotes and comments: the first one wherever it stands
/// (`(SELECT …) UNION …`), then those outside parentheses.
struct Words<'a> {
    sql: &'a str,
    at: usize,
    first: bool,
}

impl<'a> Words<'a> {
    fn new(sql: &'a str) -> Self {
        Words {
            sql,
            at: 0,
            first: true,
        }
    }

    fn next_top_level(&mut self) -> Option<&'a str> {
        let bytes = self.sql.as_bytes();
        let mut depth = 0usize;
        while self.at < bytes.len() {
            let rest = &bytes[self.at..];
            match rest[0] {
                b'-' if rest.get(1) == Some(&b'-') => {
                    self.at += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                }
                b'/' if rest.get(1) == Some(&b'*') => {
                    self.at += rest
                        .windows(2)
                        .skip(2)
                        .position(|w| w == b"*/")
                        .map_or(rest.len(), |p| p + 4);
                }
                quote @ (b'\'' | b'"') => {
                    self.at += rest[1..]
                        .iter()
                        .position(|&b| b == quote)
                        .map_or(rest.len(), |p| p + 2);
                }
                b'(' => {
                    depth += 1;
                    self.at += 1;
                }
                b')' => {
                    depth = depth.saturating_sub(1);
                    self.at += 1;
                }
                b if b.is_ascii_alphabetic() || b == b'_' => {
                    let len = rest
                        .iter()
                        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
                        .unwrap_or(rest.len());
                    let word = &self.sql[self.at..self.at + len];
                    self.at += len;
                    if depth == 0 || self.first {
                        self.first = false;
                        return Some(word);
                    }
                }
                _ => self.at += 1,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_classified_by_their_main_verb() {
        let cases = [
            ("SELECT 1", "select"),
            ("  select * from users", "select"),
            ("-- note\nINSERT INTO t VALUES (1)", "insert"),
            ("/* x */ UPDATE t SET a = 1", "update"),
            ("(SELECT 1) UNION (SELECT 2)", "select"),
            ("DELETE FROM likes WHERE id = $1", "delete"),
            (
                "WITH a AS (SELECT 1), b AS (DELETE FROM t RETURNING *) SELECT * FROM a",
                "select",
            ),
            (
                "WITH RECURSIVE x(n) AS (SELECT 1) INSERT INTO t SELECT n FROM x",
                "insert",
            ),
            (
                "with \"select\" as materialized (select ')') update t set a = 1",
                "update",
            ),
            ("BEGIN", "other"),
            ("PRAGMA journal_mode = WAL", "other"),
            ("SET LOCAL plan_cache_mode = force_custom_plan", "other"),
            ("", "other"),
            ("WITH a AS (SELECT 1)", "other"),
            ("'unterminated", "other"),
        ];
        for (sql, kind) in cases {
            assert_eq!(statement_kind(sql), kind, "{sql}");
        }
    }

    #[test]
    fn error_codes_outside_the_documented_ones_share_one_label() {
        assert_eq!(error_code_label("RATE_LIMITED"), "RATE_LIMITED");
        assert_eq!(error_code_label("INTERNAL"), "INTERNAL");
        assert_eq!(error_code_label("made-up"), "other");
        assert_eq!(error_code_label(""), "other");
    }

    #[test]
    fn operation_names_are_bounded() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("Feed")), "Feed");
        for bad in ["", "1abc", "a-b", "a b", "é", &"a".repeat(65)] {
            assert_eq!(operation_label(Some(bad)), "other", "{bad:?}");
        }
        // Fill the process's set (other tests may have added names: at most this many).
        for i in 0..MAX_OPERATION_NAMES {
            operation_label(Some(&format!("Fill{i}")));
        }
        assert_eq!(operation_label(Some("OneTooMany")), "other");
        // A name seen before the set was full keeps its label.
        assert_eq!(operation_label(Some("Feed")), "Feed");
    }
}
