//! Black-box tests of Tally, compiled as one binary. SQLite by default; set
//! `TALLY_TEST_DATABASE_URL=postgres://…` to run the same suite on PostgreSQL (each test
//! in a database of its own).
mod helpers;

mod accounts;
mod analytics;
mod analytics_creator;
// The reference model of the analytics property test (`fold` checks its view figures
// against it too).
#[allow(clippy::type_complexity, clippy::collapsible_match)]
mod analytics_props;
mod apps;
mod batching;
mod clock;
mod concurrency;
mod demo;
mod faults;
mod fold;
mod fuzz;
mod graphql_over_http;
mod idp_tokens;
mod ids;
mod liker_rollup;
mod limits;
mod live;
mod media;
mod nulls;
mod observability;
mod pages;
mod persisted_queries;
mod privacy_props;
mod privacy_rules;
mod races;
mod races_http;
mod rate_limits;
mod replicas;
mod rollups;
mod schema;
mod sessions;
mod shared_limits;
mod timing;
mod trends;
mod window_cache;
