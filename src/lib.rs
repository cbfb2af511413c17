//! Tally: a GraphQL backend where the number of likes is public and who liked is shown
//! only where the liker allowed it.
pub mod auth;
pub mod backoff;
pub mod clock;
pub mod config;
pub mod cors;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod graphql_http;
pub mod ids;
pub mod live;
pub mod oauth;
pub mod observability;
pub mod pages;
pub mod privacy;
pub mod ratelimit;
pub mod secret;
pub mod startup;
