//! The command line of `tally-bench`: every module reads its settings from [`Args`].
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The backend as the names of databases, files and result tables spell it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Likes at scale: dataset, load, floor, table.
#[derive(Debug, Parser)]
pub struct Args {
    #[arg(long, value_enum)]
    pub backend: Backend,
    /// PostgreSQL server URL (a database `tally_bench_*` is created on it).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub pg_url: String,
    /// Likes on each measured video.
    #[arg(long, default_value = "1000,100000,1000000", value_delimiter = ',')]
    pub sizes: Vec<usize>,
    /// Share of private accounts.
    #[arg(long, default_value_t = 0.5)]
    pub private_share: f64,
    /// Share of accounts whose likesVisibility is EVERYONE (FOLLOWERS next, the rest ONLY_ME).
    #[arg(long, default_value_t = 0.6)]
    pub everyone_share: f64,
    #[arg(long, default_value_t = 0.25)]
    pub followers_share: f64,
    /// Accounts the measured viewer follows (approved).
    #[arg(long, default_value_t = 2000)]
    pub viewer_follows: usize,
    /// Mean out-degree of the power-law follow graph among all users.
    #[arg(long, default_value_t = 2.0)]
    pub mean_follows: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Seconds of each measured wrk run (warm-up is a third of it).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// The fixed moderate rate, requests per second.
    #[arg(long, default_value_t = 100)]
    pub rate: u64,
    /// Connections at saturation.
    #[arg(long, default_value_t = 16)]
    pub connections: u64,
    /// Concurrent clients of the like storm.
    #[arg(long, default_value_t = 64)]
    pub like_clients: u64,
    /// Iterations of the raw SQL floor per query.
    #[arg(long, default_value_t = 400)]
    pub floor_iterations: usize,
    /// The release server binary.
    #[arg(long, default_value = "target/release/tally")]
    pub server: PathBuf,
    /// Where scripts, EXPLAIN plans and results go.
    #[arg(long, default_value = "bench/out")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 18_181)]
    pub port: u16,
    /// Run the soak instead of the benchmark: mixed load at `--rate` for this many seconds.
    #[arg(long, value_name = "SECS")]
    pub soak: Option<u64>,
    /// Run the timing-class scenario instead of the benchmark (see [`timing`]).
    #[arg(long)]
    pub timing: bool,
    /// Rows hidden behind each "many" account of the timing scenario.
    #[arg(long, default_value_t = 1500)]
    pub timing_hidden: usize,
    /// Measured tries per account and path of the timing scenario (after 10 of warm-up).
    #[arg(long, default_value_t = 101)]
    pub timing_tries: usize,
    /// Seconds between two samples of the server's RSS during the soak.
    #[arg(long, default_value_t = 5)]
    pub soak_sample_secs: u64,
    /// Run the creator-analytics benchmark instead (see [`crate::analytics`]; PostgreSQL).
    #[arg(long)]
    pub analytics: bool,
    /// Followers of each analytics creator (each likes 10 of its videos).
    #[arg(long, default_value_t = 100_000)]
    pub analytics_fans: i64,
    /// Views of the heavy analytics creator (the light one has a hundredth).
    #[arg(long, default_value_t = 5_000_000)]
    pub analytics_views: i64,
    /// Measure on the database a previous `--analytics` run seeded (same sizes) instead of
    /// seeding it again (which takes minutes).
    #[arg(long)]
    pub analytics_reuse: bool,
    /// Run the recordView benchmark instead (see [`crate::views`]; PostgreSQL).
    #[arg(long)]
    pub views: bool,
    /// Concurrent closed-loop clients of the recordView benchmark.
    #[arg(long, default_value_t = 64)]
    pub view_clients: u64,
    /// Signed-in accounts the recordView benchmark's views rotate over.
    #[arg(long, default_value_t = 20_000)]
    pub view_accounts: usize,
    /// Accounts of the dataset that like, follow and read during the soak (each a token).
    #[arg(long, default_value_t = 4000)]
    pub soak_accounts: usize,
    /// Run the live benchmark instead ([`crate::live`]): WebSocket subscribers of
    /// `likeCountChanged` while likes stream in.
    #[arg(long)]
    pub live: bool,
    /// Concurrent `likeCountChanged` subscribers (one connection each), on the first server.
    #[arg(long, default_value_t = 10_000)]
    pub live_subscribers: usize,
    /// Videos the subscribers and the likes spread over.
    #[arg(long, default_value_t = 100)]
    pub live_videos: usize,
    /// Likes a second, for `--duration` seconds.
    #[arg(long, default_value_t = 1000)]
    pub live_rate: u64,
    /// `2`: the likes go through a second server on the same database (port `--port` + 1),
    /// so that every update crosses instances (PostgreSQL only).
    #[arg(long, default_value_t = 1)]
    pub live_instances: u8,
}
