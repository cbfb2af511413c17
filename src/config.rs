//! Command line and environment: one `Config`, every flag also an environment variable.
use clap::{builder::BoolishValueParser, ArgAction, Parser, Subcommand};

use std::{fmt, str::FromStr, time::Duration};

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
    /// Lifetime of access tokens, in minutes (1–1,440).
    #[arg(long, env = "TALLY_TOKEN_TTL_MINUTES", global = true,
          value_parser = clap::value_parser!(i64).range(1..=1440))]
    pub token_ttl_minutes: Option<i64>,
    /// Deprecated: the lifetime of access tokens in hours, from before refresh tokens. Used
    /// only when `TALLY_TOKEN_TTL_MINUTES` is not set (then with a warning).
    #[arg(long, env = "TALLY_TOKEN_TTL_HOURS", global = true, hide = true,
          value_parser = clap::value_parser!(i64).range(1..=24))]
    pub token_ttl_hours: Option<i64>,
    /// Lifetime of refresh tokens, in days (1–365); each refresh starts a new one.
    #[arg(long, env = "TALLY_REFRESH_TTL_DAYS", default_value_t = crate::auth::token::DEFAULT_REFRESH_TTL_DAYS,
          global = true, value_parser = clap::value_parser!(i64).range(1..=365))]
    pub refresh_ttl_days: i64,
    /// Fill an empty database with a small demo world and print tokens for two of its accounts.
    #[arg(long, env = "TALLY_DEMO", global = true)]
    pub demo: bool,
    /// Connections in the database pool.
    #[arg(long, env = "TALLY_DB_POOL", default_value_t = 16, global = true)]
    pub db_pool: u32,
    /// PostgreSQL read replicas (streaming standbys of `--database-url`): queries run on one
    /// of them (round robin) when it has replayed every write committed before the query
    /// started, else on the primary. Repeat the flag, or comma-separate in the environment.
    #[arg(
        long = "read-database-url",
        env = "TALLY_READ_DATABASE_URLS",
        value_delimiter = ',',
        hide_env_values = true,
        global = true
    )]
    pub read_database_urls: Vec<String>,
    /// Redis holding the rate-limit buckets, shared by every instance (`redis://HOST:PORT`).
    /// Unset: each instance limits on its own.
    #[arg(long, env = "TALLY_REDIS_URL", hide_env_values = true, global = true)]
    pub redis_url: Option<String>,
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
    /// Fix the service's current time at this RFC 3339 instant (`2026-03-01T12:00:00Z`): every
    /// time it stores is then this one. For tests and demos; a warning is logged at start.
    #[arg(long, env = "TALLY_NOW", value_parser = parse_now, global = true)]
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// How often the fold job folds recorded views into the rollups and flushes the viewer
    /// sketches, in milliseconds (every instance runs it).
    #[arg(long, env = "TALLY_FOLD_INTERVAL_MS", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub fold_interval_ms: u64,
    /// Query, request and shutdown limits.
    #[command(flatten)]
    pub limits: Limits,
    /// Rate limits on mutations and where the client address comes from.
    #[command(flatten)]
    pub rate_limits: RateLimits,
    /// The thresholds of the analytics aggregates.
    #[command(flatten)]
    pub thresholds: Thresholds,
    /// Third-party analytics apps: their tokens and their privacy budget.
    #[command(flatten)]
    pub apps: AppSettings,
    /// Live subscriptions: per-connection and per-principal limits, the init timeout.
    #[command(flatten)]
    pub live: LiveLimits,
    /// Logs, metrics and traces.
    #[command(flatten)]
    pub observability: ObservabilitySettings,
}

/// `--now`: an RFC 3339 instant, in UTC.
fn parse_now(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| {
            format!(
                "TALLY_NOW (--now) must be an RFC 3339 instant such as 2026-03-01T12:00:00Z, \
                 not `{text}` ({e})"
            )
        })
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
    /// Load GraphiQL's and React's bundles from unpkg.com (pinned, with Subresource
    /// Integrity hashes) instead of from Tally itself.
    #[arg(long, env = "TALLY_GRAPHIQL_CDN", default_value_t = false, action = ArgAction::Set,
          value_parser = BoolishValueParser::new(), global = true)]
    pub graphiql_cdn: bool,
    /// Serve the creator dashboard at `GET /dashboard`.
    #[arg(long, env = "TALLY_DASHBOARD", default_value_t = true, action = ArgAction::Set,
          value_parser = BoolishValueParser::new(), global = true)]
    pub dashboard: bool,
    /// After SIGTERM, seconds in-flight requests get to finish before they are dropped.
    #[arg(long, env = "TALLY_SHUTDOWN_TIMEOUT_SECS", default_value_t = Limits::default().shutdown_timeout_secs, global = true)]
    pub shutdown_timeout_secs: u64,
    /// Automatic persisted queries each instance keeps (least recently used evicted
    /// first); `0` turns persisted queries off.
    #[arg(long, env = "TALLY_PERSISTED_QUERIES", default_value_t = Limits::default().persisted_queries, global = true)]
    pub persisted_queries: usize,
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
            graphiql_cdn: false,
            dashboard: true,
            shutdown_timeout_secs: 10,
            persisted_queries: 1_000,
        }
    }
}

/// The limits of live subscriptions (`graphql-transport-ws` on `/graphql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct LiveLimits {
    /// Most subscriptions one connection may hold at once.
    #[arg(long, env = "TALLY_LIVE_MAX_SUBSCRIPTIONS", default_value_t = LiveLimits::default().max_subscriptions_per_connection, global = true)]
    pub max_subscriptions_per_connection: usize,
    /// Most connections one account (or, anonymous, one client address) may hold open at once.
    #[arg(long, env = "TALLY_LIVE_MAX_CONNECTIONS", default_value_t = LiveLimits::default().max_connections_per_principal, global = true)]
    pub max_connections_per_principal: usize,
    /// Milliseconds a new connection has to send `connection_init` (then closed with 4408).
    #[arg(long, env = "TALLY_LIVE_INIT_TIMEOUT_MS", default_value_t = LiveLimits::default().init_timeout_ms, global = true)]
    pub init_timeout_ms: u64,
}

impl Default for LiveLimits {
    fn default() -> Self {
        LiveLimits {
            max_subscriptions_per_connection: 50,
            max_connections_per_principal: 10,
            init_timeout_ms: 10_000,
        }
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object a line, with the event's spans and their fields.
    Json,
}

/// Logs, metrics and traces: the format of the logs, where `/metrics` is served, where
/// spans are exported.
#[derive(Debug, Clone, clap::Args)]
pub struct ObservabilitySettings {
    /// Log format: `text` or `json` (one object a line). `RUST_LOG` filters, as before.
    #[arg(long, env = "TALLY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Serve `GET /metrics` on this address (`HOST:PORT`) instead of the main listener, which
    /// then does not serve it.
    #[arg(long, env = "TALLY_METRICS_BIND", global = true)]
    pub metrics_bind: Option<String>,
    /// Export spans over OTLP/HTTP to this URL (`http://127.0.0.1:4318/v1/traces`). Needs a
    /// build with the `otel` cargo feature.
    #[arg(long, env = "TALLY_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,
}

/// The thresholds of the analytics aggregates (PRIVACY.md "Aggregates"): a breakdown of
/// fewer distinct accounts than `min_audience` is withheld; no shown bucket counts fewer
/// than `min_bucket`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct Thresholds {
    /// Fewest distinct accounts a demographic breakdown is shown for.
    #[arg(long, env = "TALLY_MIN_AUDIENCE", default_value_t = Thresholds::default().min_audience,
          value_parser = clap::value_parser!(i64).range(1..), global = true)]
    pub min_audience: i64,
    /// Fewest accounts a shown bucket may count (smaller ones are folded into `OTHER`).
    #[arg(long, env = "TALLY_MIN_BUCKET", default_value_t = Thresholds::default().min_bucket,
          value_parser = clap::value_parser!(i64).range(1..), global = true)]
    pub min_bucket: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_audience: 100,
            min_bucket: 10,
        }
    }
}

/// Third-party analytics apps (`POST /oauth/token`, `appAnalytics`): how long their access
/// tokens last, the ε each new question spends and the ε an app may spend per creator and
/// UTC day.
#[derive(Debug, Clone, Copy, PartialEq, clap::Args)]
pub struct AppSettings {
    /// Lifetime of an app's access token, in seconds.
    #[arg(long, env = "TALLY_APP_TOKEN_TTL_SECS", default_value_t = AppSettings::default().app_token_ttl_secs,
          value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    pub app_token_ttl_secs: u64,
    /// ε of the noise of one question (a figure of `appAnalytics`), > 0.
    #[arg(long, env = "TALLY_APP_EPSILON", default_value_t = AppSettings::default().epsilon,
          value_parser = parse_epsilon, global = true)]
    pub epsilon: f64,
    /// ε an app may spend on new questions per creator and UTC day, > 0.
    #[arg(long, env = "TALLY_APP_DAILY_EPSILON", default_value_t = AppSettings::default().daily_epsilon,
          value_parser = parse_epsilon, global = true)]
    pub daily_epsilon: f64,
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            app_token_ttl_secs: 900,
            epsilon: 1.0,
            daily_epsilon: 10.0,
        }
    }
}

/// An ε: a finite number above 0 and at most 1,000 (kept in millionths).
fn parse_epsilon(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(e) if (0.000_001..=1_000.0).contains(&e) => Ok(e),
        _ => Err(format!(
            "`{text}` is not an ε: a number from 0.000001 to 1000"
        )),
    }
}

/// A sustained rate: `count` calls per `per` (one cell every `per / count`). `count == 0`
/// turns the bucket off. Written `N/UNIT` with `UNIT` one of `s`, `min`, `h` or a duration
/// such as `200ms`, `10s`, `5min`, `2h` (`1/200ms`, `10/s`, `5/min`, `10/h`); `0` or `off`
/// is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    /// No limit.
    pub const OFF: Rate = Rate {
        count: 0,
        per: Duration::from_secs(1),
    };

    /// `count` calls per `per`.
    pub const fn per(count: u32, per: Duration) -> Rate {
        Rate { count, per }
    }

    /// Whether the bucket is off.
    pub fn is_off(self) -> bool {
        self.count == 0 || self.per.is_zero()
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_off() {
            return f.write_str("0");
        }
        let (n, per) = (self.count, self.per);
        match per.as_millis() {
            3_600_000 => write!(f, "{n}/h"),
            60_000 => write!(f, "{n}/min"),
            1_000 => write!(f, "{n}/s"),
            ms if ms % 3_600_000 == 0 => write!(f, "{n}/{}h", ms / 3_600_000),
            ms if ms % 60_000 == 0 => write!(f, "{n}/{}min", ms / 60_000),
            ms if ms % 1_000 == 0 => write!(f, "{n}/{}s", ms / 1_000),
            ms => write!(f, "{n}/{ms}ms"),
        }
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "0" || s.eq_ignore_ascii_case("off") {
            return Ok(Rate::OFF);
        }
        let bad = || {
            format!("`{s}` is not a rate: write N/UNIT (`10/s`, `5/min`, `10/h`, `1/200ms`) or 0 for off")
        };
        let (count, unit) = s.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let unit = unit.trim();
        let digits = unit.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (amount, unit) = unit.split_at(digits);
        let amount: u64 = if amount.is_empty() {
            1
        } else {
            amount.parse().map_err(|_| bad())?
        };
        let per = match unit {
            "ms" => Duration::from_millis(amount),
            "s" | "sec" => Duration::from_secs(amount),
            "m" | "min" => Duration::from_secs(amount.saturating_mul(60)),
            "h" => Duration::from_secs(amount.saturating_mul(3_600)),
            _ => return Err(bad()),
        };
        if count == 0 || per.is_zero() {
            return Ok(Rate::OFF);
        }
        Ok(Rate { count, per })
    }
}

/// Quotas of the rate limits and where the client address comes from. Every rate is also
/// an environment variable; the defaults are the production values (see the README for why).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct RateLimits {
    /// `likeVideo`/`unlikeVideo` per account: `N/UNIT` (`10/s`, `5/min`, `10/h`, `1/200ms`); `0` = off.
    #[arg(long, env = "TALLY_RATE_LIKES", default_value_t = RateLimits::default().rate_likes, global = true)]
    pub rate_likes: Rate,
    /// Likes one account may make at once before the rate applies.
    #[arg(long, env = "TALLY_RATE_LIKES_BURST", default_value_t = RateLimits::default().rate_likes_burst,
          value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub rate_likes_burst: u32,
    /// `followUser`/`unfollowUser`/`blockUser`/`unblockUser` per account; `0` = off.
    #[arg(long, env = "TALLY_RATE_FOLLOWS", default_value_t = RateLimits::default().rate_follows, global = true)]
    pub rate_follows: Rate,
    /// Follow-bucket calls one account may make at once.
    #[arg(long, env = "TALLY_RATE_FOLLOWS_BURST", default_value_t = RateLimits::default().rate_follows_burst,
          value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub rate_follows_burst: u32,
    /// `recordView` per account, or per client address when anonymous; `0` = off.
    #[arg(long, env = "TALLY_RATE_VIEWS", default_value_t = RateLimits::default().rate_views, global = true)]
    pub rate_views: Rate,
    /// Views one principal may record at once before the rate applies.
    #[arg(long, env = "TALLY_RATE_VIEWS_BURST", default_value_t = RateLimits::default().rate_views_burst,
          value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub rate_views_burst: u32,
    /// `signUp`/`logIn`/`provisionAccount`/`deleteAccount` per client address; `0` = off.
    #[arg(long, env = "TALLY_RATE_AUTH", default_value_t = RateLimits::default().rate_auth, global = true)]
    pub rate_auth: Rate,
    /// Auth-bucket calls one client address may make at once.
    #[arg(long, env = "TALLY_RATE_AUTH_BURST", default_value_t = RateLimits::default().rate_auth_burst,
          value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub rate_auth_burst: u32,
    /// `logIn` per handle, from any address; `0` = off.
    #[arg(long, env = "TALLY_RATE_LOGIN_HANDLE", default_value_t = RateLimits::default().rate_login_handle, global = true)]
    pub rate_login_handle: Rate,
    /// `logIn` attempts on one handle at once.
    #[arg(long, env = "TALLY_RATE_LOGIN_HANDLE_BURST", default_value_t = RateLimits::default().rate_login_handle_burst,
          value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub rate_login_handle_burst: u32,
    /// `POST /oauth/token` per client ID, from any address; `0` = off.
    #[arg(long, env = "TALLY_RATE_OAUTH", default_value_t = RateLimits::default().rate_oauth, global = true)]
    pub rate_oauth: Rate,
    /// Token requests for one client ID at once.
    #[arg(long, env = "TALLY_RATE_OAUTH_BURST", default_value_t = RateLimits::default().rate_oauth_burst,
          value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub rate_oauth_burst: u32,
    /// Reverse proxies in front of the service that append to `X-Forwarded-For`: the client
    /// address is the entry that many places from the right. `0`: the TCP peer address, and
    /// `X-Forwarded-For` is ignored.
    #[arg(
        long,
        env = "TALLY_TRUSTED_PROXIES",
        default_value_t = 0,
        global = true
    )]
    pub trusted_proxies: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            rate_likes: Rate::per(10, Duration::from_secs(1)),
            rate_likes_burst: 30,
            rate_follows: Rate::per(2, Duration::from_secs(1)),
            rate_follows_burst: 20,
            rate_views: Rate::per(2, Duration::from_secs(1)),
            rate_views_burst: 60,
            rate_auth: Rate::per(5, Duration::from_secs(60)),
            rate_auth_burst: 10,
            rate_login_handle: Rate::per(10, Duration::from_secs(3_600)),
            rate_login_handle_burst: 5,
            rate_oauth: Rate::per(1, Duration::from_secs(60)),
            rate_oauth_burst: 10,
            trusted_proxies: 0,
        }
    }
}

impl RateLimits {
    /// Every bucket off (what `startup::Settings::new` starts from).
    pub fn off() -> Self {
        RateLimits {
            rate_likes: Rate::OFF,
            rate_follows: Rate::OFF,
            rate_views: Rate::OFF,
            rate_auth: Rate::OFF,
            rate_login_handle: Rate::OFF,
            rate_oauth: Rate::OFF,
            ..RateLimits::default()
        }
    }
}
