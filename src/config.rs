//! Command line and environment: one `Config`, every flag also an environment variable.
use clap::{builder::BoolishValueParser, ArgAction, Parser, Subcommand};

pub use crate::ratelimit::RateLimits;

/// Default database: an SQLite file in the working directory, created if missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tally.db?mode=rwc";

/// Tally: likes with viewer-relative privacy, over GraphQL.
#[derive(Debug, Parser)]
#[command(name = "tally", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Apply or inspect schema migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Write the GraphQL SDL.
    ExportSchema {
        /// Where to write it.
        #[arg(long, default_value = "schema.graphql")]
        out: String,
    },
}

/// Migration actions.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert the last migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
}

/// Settings of the service.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Database URL: `sqlite://FILE?mode=rwc` or `postgres://USER@HOST:PORT/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
    /// Address to listen on.
    #[arg(
        long,
        env = "TALLY_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: String,
    /// HS256 secret for tokens. Unset on SQLite: generated and kept beside the database
    /// file. Required on PostgreSQL.
    #[arg(long, env = "TALLY_JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,
    /// Key of the encrypted IDs and cursors: 32 random bytes as 64 hexadecimal characters.
    /// Unset on SQLite: generated and kept beside the database file. Required on
    /// PostgreSQL. Changing it changes every ID and cursor.
    #[arg(long, env = "TALLY_ID_KEY", hide_env_values = true, global = true)]
    pub id_key: Option<String>,
    /// Lifetime of issued tokens, in hours.
    #[arg(
        long,
        env = "TALLY_TOKEN_TTL_HOURS",
        default_value_t = 24,
        global = true
    )]
    pub token_ttl_hours: i64,
    /// Fill an empty database with a small demo world and print tokens for two of its accounts.
    #[arg(long, env = "TALLY_DEMO", global = true)]
    pub demo: bool,
    /// Connections in the database pool.
    #[arg(long, env = "TALLY_DB_POOL", default_value_t = 16, global = true)]
    pub db_pool: u32,
    /// JWKS file with the public keys of an identity provider whose RS256/ES256/EdDSA tokens
    /// are accepted besides the service's own (key chosen by the token's `kid`).
    #[arg(long, env = "TALLY_JWKS_FILE", global = true)]
    pub jwks_file: Option<std::path::PathBuf>,
    /// Required `iss` of identity-provider tokens (needed with `--jwks-file`).
    #[arg(long, env = "TALLY_JWT_ISSUER", global = true)]
    pub jwt_issuer: Option<String>,
    /// Required `aud` of identity-provider tokens (needed with `--jwks-file`).
    #[arg(long, env = "TALLY_JWT_AUDIENCE", global = true)]
    pub jwt_audience: Option<String>,
    /// Clock leeway on `exp` and `nbf` of every token, in seconds.
    #[arg(
        long,
        env = "TALLY_JWT_LEEWAY_SECS",
        default_value_t = 30,
        global = true
    )]
    pub jwt_leeway_secs: u64,
    /// Origins whose web pages may call `/graphql` (CORS): exact `https://host[:port]`
    /// origins, comma-separated. Empty: same-origin only.
    #[arg(long, env = "TALLY_CORS_ORIGINS", value_delimiter = ',', global = true)]
    pub cors_origins: Vec<String>,
    /// Query, request and shutdown limits.
    #[command(flatten)]
    pub limits: Limits,
    /// Rate limits on mutations and where the client address comes from.
    #[command(flatten)]
    pub rate_limits: RateLimits,
}

impl Config {
    /// Whether the database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://")
    }

    /// The SQLite file path, when the database is an SQLite file (not in-memory).
    pub fn sqlite_path(&self) -> Option<&str> {
        let rest = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty() && !path.contains(":memory:")).then_some(path)
    }
}

/// Bounds on what one request may cost. Each answers with a coded error when exceeded
/// (see the README); the defaults are the production values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct Limits {
    /// Deepest nesting of fields in a query (introspection's `__schema`/`__type` count as one).
    #[arg(long, env = "TALLY_MAX_DEPTH", default_value_t = Limits::default().max_depth, global = true)]
    pub max_depth: usize,
    /// Highest query complexity: a field costs 1 plus its selection; a list costs its
    /// `first` times its selection. Also bounds the fields a query selects after expanding
    /// fragments.
    #[arg(long, env = "TALLY_MAX_COMPLEXITY", default_value_t = Limits::default().max_complexity, global = true)]
    pub max_complexity: usize,
    /// Deepest nesting of selection sets, fragments and inline fragments included.
    #[arg(long, env = "TALLY_MAX_RECURSIVE_DEPTH", default_value_t = Limits::default().max_recursive_depth, global = true)]
    pub max_recursive_depth: usize,
    /// Most directives on one field.
    #[arg(long, env = "TALLY_MAX_DIRECTIVES", default_value_t = Limits::default().max_directives, global = true)]
    pub max_directives: usize,
    /// Most aliases in one query document.
    #[arg(long, env = "TALLY_MAX_ALIASES", default_value_t = Limits::default().max_aliases, global = true)]
    pub max_aliases: usize,
    /// Most operations in one batched HTTP request.
    #[arg(long, env = "TALLY_MAX_BATCH", default_value_t = Limits::default().max_batch, global = true)]
    pub max_batch: usize,
    /// Largest HTTP request body, in bytes.
    #[arg(long, env = "TALLY_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes, global = true)]
    pub max_body_bytes: usize,
    /// Longest one operation may run, in milliseconds, before it is stopped.
    #[arg(long, env = "TALLY_QUERY_TIMEOUT_MS", default_value_t = Limits::default().query_timeout_ms, global = true)]
    pub query_timeout_ms: u64,
    /// Answer introspection (`__schema`, `__type`); turn off in production.
    #[arg(long, env = "TALLY_INTROSPECTION", default_value_t = true, action = ArgAction::Set,
          value_parser = BoolishValueParser::new(), global = true)]
    pub introspection: bool,
    /// Serve GraphiQL at `GET /graphiql` and `GET /graphql`; turn off in production.
    #[arg(long, env = "TALLY_GRAPHIQL", default_value_t = true, action = ArgAction::Set,
          value_parser = BoolishValueParser::new(), global = true)]
    pub graphiql: bool,
    /// After SIGTERM, seconds in-flight requests get to finish before they are dropped.
    #[arg(long, env = "TALLY_SHUTDOWN_TIMEOUT_SECS", default_value_t = Limits::default().shutdown_timeout_secs, global = true)]
    pub shutdown_timeout_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 12,
            max_complexity: 2_000,
            max_recursive_depth: 24,
            max_directives: 4,
            max_aliases: 30,
            max_batch: 10,
            max_body_bytes: 256 * 1024,
            query_timeout_ms: 5_000,
            introspection: true,
            graphiql: true,
            shutdown_timeout_secs: 10,
        }
    }
}
