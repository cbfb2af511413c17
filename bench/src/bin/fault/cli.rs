//! The command line of `fault`.
use clap::Parser;

/// A like storm across a database restart, and the checks that nothing acknowledged was lost.
#[derive(Debug, Parser)]
pub struct Args {
    /// Base URL of the running server.
    #[arg(long, default_value = "http://127.0.0.1:18282")]
    pub base: String,
    /// The server's database, for the final checks.
    #[arg(long)]
    pub database_url: String,
    /// The server's ID key (`TALLY_ID_KEY`), to read the UUIDs of the IDs it answers with.
    #[arg(long, env = "TALLY_ID_KEY", hide_env_values = true)]
    pub id_key: String,
    /// Shell command that stops the database (returns once it is down).
    #[arg(long)]
    pub pg_stop: String,
    /// Shell command that starts the database again (returns once it accepts connections).
    #[arg(long)]
    pub pg_start: String,
    /// PID of the server process: checked to be alive (never restarted) at the end.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Concurrent storm clients (each a closed loop: one request at a time).
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Likers owned by each client.
    #[arg(long, default_value_t = 4)]
    pub likers_per_client: usize,
    /// Videos liked and unliked.
    #[arg(long, default_value_t = 8)]
    pub videos: usize,
    /// Seconds of storm before the database is stopped.
    #[arg(long, default_value_t = 20)]
    pub before_secs: u64,
    /// Seconds the database stays down.
    #[arg(long, default_value_t = 8)]
    pub outage_secs: u64,
    /// Seconds of storm after `/readyz` answers 200 again.
    #[arg(long, default_value_t = 20)]
    pub after_secs: u64,
    /// `/readyz` must answer 200 within this many seconds of the database accepting connections.
    #[arg(long, default_value_t = 15)]
    pub ready_within_secs: u64,
    /// The server's execution timeout (`TALLY_QUERY_TIMEOUT_MS`): no answer may take longer
    /// than this plus `--slack-ms`.
    #[arg(long, default_value_t = 5000)]
    pub query_timeout_ms: u64,
    #[arg(long, default_value_t = 2000)]
    pub slack_ms: u64,
    /// Errors are allowed for requests sent up to this long after `/readyz` recovered.
    #[arg(long, default_value_t = 0)]
    pub grace_ms: u64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}
