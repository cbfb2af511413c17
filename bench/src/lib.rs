//! The benchmark harness of Tally (see `bench/README.md`), one module a concern, shared by its
//! two binaries:
//!
//! - `tally-bench` (`src/main.rs`): the likes-at-scale benchmark, the soak (`--soak`) and the
//!   timing classes (`--timing`), the recordView benchmark (`--views`, [`views`]), the live benchmark (`--live`, [`live`]): [`cli`], [`database`], [`seed`], [`server`], [`wrk`],
//!   [`scenarios`], [`floor`], [`explain`], [`table`], [`soak`], [`timing`], [`keys`];
//! - `fault` (`src/bin/fault/`): the client of `bench/fault.sh`, a like storm across a
//!   database restart; `view_fault` (`src/bin/view_fault.rs`): its views across a `kill -9`.
//!
//! Both use one copy of what they have in common: [`stats`] (percentiles), [`machine`]
//! (`/proc`: liveness, RSS, load), [`http`] (GraphQL requests, waiting for `/readyz`),
//! [`queries`] (documents sent by both) and [`OrMessage`].
pub mod analytics;
pub mod cli;
pub mod database;
pub mod explain;
pub mod floor;
pub mod http;
pub mod keys;
pub mod live;
pub mod machine;
pub mod queries;
pub mod scenarios;
pub mod seed;
pub mod server;
pub mod soak;
pub mod stats;
pub mod table;
pub mod timing;
pub mod views;
pub mod wrk;

/// Turns the service's errors into `anyhow` errors carrying their message.
///
/// `AppError` is deliberately not `Display` (see `tally::error`), so `?` cannot convert it:
/// the harness keeps the message a client would see, which is all it needs to report.
pub trait OrMessage<T> {
    fn or_message(self) -> anyhow::Result<T>;
}

impl<T> OrMessage<T> for tally::error::AppResult<T> {
    fn or_message(self) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::anyhow!(e.message()))
    }
}
