//! The HTTP application: routes, auth extraction, start-up.
use std::{net::TcpListener, sync::Arc};

use actix_web::{
    dev::Server,
    http::{
        header::{self, HeaderValue},
        StatusCode,
    },
    web::{self, Data},
    App, HttpRequest, HttpResponse, HttpServer,
};
use async_graphql::{parser::types::OperationType, BatchRequest};
use chrono::Duration;
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;

use crate::{
    auth::{
        app_token::AppTokens,
        token::{self, Tokens},
        AuthSettings, Authenticator, Credentials,
    },
    clock::Clock,
    config::{AppSettings, Config, Limits, LiveLimits, RateLimits, Thresholds},
    cors::CorsOrigins,
    db::{self, replicas::Replicas},
    domain::{
        self,
        sketch::{SketchBuffer, SketchKey},
    },
    error::{AppError, ErrorCode},
    graphql::{
        build_schema_with, operation_type, request_data, AppSchema, Executed, PersistedQueries,
    },
    graphql_http::{self, MediaType, Refusal, Wanted},
    ids::{CursorCodec, IdCodec},
    live::{self, Hub},
    oauth::{self, TokenEndpoint},
    observability::{self, request_id},
    pages,
    ratelimit::{RateLimiter, SharedBuckets, SWEEP_INTERVAL},
    secret::{self, Secrets},
};

/// Everything a service is built from. [`Settings::new`] gives the defaults tests start
/// from and change field by field (`Settings { limits, ..Settings::new(db, secrets) }`);
/// [`Application::build`] fills it from the configuration.
#[derive(Clone)]
pub struct Settings {
    /// The database, already migrated.
    pub db: DatabaseConnection,
    /// The token secret and the ID key.
    pub secrets: Secrets,
    /// How long the service's own access tokens last.
    pub token_ttl: Duration,
    /// How long a refresh token lasts (each refresh starts a new one).
    pub refresh_ttl: Duration,
    /// Clock leeway and the identity provider, if any.
    pub auth: AuthSettings,
    /// Query, request and shutdown limits. On SIGTERM the server stops accepting, gives
    /// in-flight requests `limits.shutdown_timeout_secs` to finish, and
    /// [`Application::run`] returns `Ok`.
    pub limits: Limits,
    /// The mutations' rate limits.
    pub rate_limits: RateLimits,
    /// The origins whose web pages may call `/graphql`.
    pub cors: CorsOrigins,
    /// Where every stored time comes from: the system clock, or fixed (`TALLY_NOW`).
    pub clock: Clock,
    /// How often the fold job runs ([`domain::fold::run_every`]); `None`: not at all (tests
    /// fold when they choose, with [`domain::fold::drain`]).
    pub fold_interval: Option<std::time::Duration>,
    /// The analytics thresholds (`TALLY_MIN_AUDIENCE`, `TALLY_MIN_BUCKET`).
    pub thresholds: Thresholds,
    /// Third-party apps: their tokens' lifetime, ε per question and daily ε.
    pub apps: AppSettings,
    /// Live subscriptions: per-connection and per-principal limits, the init timeout.
    pub live: LiveLimits,
    /// The Redis whose buckets every instance shares (`TALLY_REDIS_URL`); `None`: each
    /// instance limits on its own.
    pub redis_url: Option<String>,
    /// Read replicas of `db` (each URL with its pool, see [`db::replicas::connect_all`]):
    /// queries run on a fresh one.
    pub read_replicas: Vec<(String, DatabaseConnection)>,
}

impl Settings {
    /// `db` served with `secrets` and otherwise the defaults: 15-minute access tokens and
    /// 60-day refresh tokens, the service's
    /// own tokens only, the production query limits, no rate limits, same-origin only, the
    /// system clock, no fold job, the production analytics thresholds and app settings.
    pub fn new(db: DatabaseConnection, secrets: Secrets) -> Self {
        Settings {
            db,
            secrets,
            token_ttl: Duration::minutes(token::DEFAULT_ACCESS_TTL_MINUTES),
            refresh_ttl: Duration::days(token::DEFAULT_REFRESH_TTL_DAYS),
            auth: AuthSettings::default(),
            limits: Limits::default(),
            rate_limits: RateLimits::off(),
            cors: CorsOrigins::none(),
            clock: Clock::System,
            fold_interval: None,
            thresholds: Thresholds::default(),
            apps: AppSettings::default(),
            live: LiveLimits::default(),
            redis_url: None,
            read_replicas: Vec::new(),
        }
    }

    /// What `config` asks for, serving `db`: resolves the token secret and the ID key,
    /// reads the identity provider's keys, checks the CORS origins, fixes the clock if
    /// `TALLY_NOW` says so (with a warning: a fixed clock is for tests and demos).
    pub fn from_config(config: &Config, db: DatabaseConnection) -> anyhow::Result<Self> {
        let clock = match config.now {
            Some(at) => {
                tracing::warn!(
                    now = %at.to_rfc3339(),
                    "TALLY_NOW is set: the clock is fixed, every stored time is this instant"
                );
                Clock::Fixed(at)
            }
            None => Clock::System,
        };
        Ok(Settings {
            db,
            secrets: secret::resolve(config)?,
            token_ttl: access_ttl(config),
            refresh_ttl: Duration::days(config.refresh_ttl_days),
            auth: AuthSettings::from_config(config)?,
            limits: config.limits,
            rate_limits: config.rate_limits,
            cors: CorsOrigins::parse(&config.cors_origins)?,
            clock,
            fold_interval: Some(std::time::Duration::from_millis(config.fold_interval_ms)),
            thresholds: config.thresholds,
            apps: config.apps,
            live: config.live,
            redis_url: config.redis_url.clone(),
            // Connected by `Application::build`.
            read_replicas: Vec::new(),
        })
    }
}

/// The access tokens' lifetime `config` asks for: `TALLY_TOKEN_TTL_MINUTES`, else the
/// deprecated `TALLY_TOKEN_TTL_HOURS` (with a warning: a long-lived access token is what
/// refresh tokens replace), else 15 minutes.
fn access_ttl(config: &Config) -> Duration {
    match (config.token_ttl_minutes, config.token_ttl_hours) {
        (Some(minutes), _) => Duration::minutes(minutes),
        (None, Some(hours)) => {
            tracing::warn!(
                hours,
                "TALLY_TOKEN_TTL_HOURS is deprecated: set TALLY_TOKEN_TTL_MINUTES (access tokens are short-lived; clients refresh them with refreshSession)"
            );
            Duration::hours(hours)
        }
        (None, None) => Duration::minutes(token::DEFAULT_ACCESS_TTL_MINUTES),
    }
}

/// Everything a request handler needs.
pub struct AppState {
    pub schema: AppSchema,
    pub db: DatabaseConnection,
    pub auth: Authenticator,
    pub limits: Limits,
    pub rate_limiter: Arc<RateLimiter>,
    pub clock: Clock,
    pub thresholds: Thresholds,
    pub apps: AppSettings,
    /// The schema's persisted queries (a `GET` naming one runs queries only, too).
    pub persisted: PersistedQueries,
    /// This instance's live subscriptions and their fan-out.
    pub hub: Hub,
    /// Where queries run: a fresh read replica, else the primary (`db`).
    pub replicas: Replicas,
}

/// A built, bound, not yet running service.
pub struct Application {
    port: u16,
    server: Server,
    /// The listener of `GET /metrics` alone (`--metrics-bind`), with its port.
    metrics: Option<(u16, Server)>,
    db: DatabaseConnection,
    tokens: Tokens,
    ids: IdCodec,
    rate_limiter: Arc<RateLimiter>,
    clock: Clock,
    sketches: Arc<SketchBuffer>,
    fold_interval: Option<std::time::Duration>,
    hub: Hub,
    replicas: Replicas,
}

impl Application {
    /// Connects, migrates, resolves the settings `config` asks for and binds `config.bind`.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let db = db::connect(&config.database_url, config.db_pool).await?;
        Migrator::up(&db, None).await?;
        let mut settings = Settings::from_config(config, db)?;
        settings.read_replicas =
            db::replicas::connect_all(&settings.db, &config.read_database_urls, config.db_pool)
                .await?;
        let listener = TcpListener::bind(&config.bind)?;
        let metrics = match &config.observability.metrics_bind {
            Some(bind) => Some(TcpListener::bind(bind).map_err(|e| {
                anyhow::anyhow!("TALLY_METRICS_BIND (--metrics-bind) `{bind}`: {e}")
            })?),
            None => None,
        };
        Self::start_with(settings, listener, metrics)
    }

    /// Serves `settings` on `listener`, `GET /metrics` included: the entry point tests and
    /// the benchmark share.
    pub fn start(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        Self::start_with(settings, listener, None)
    }

    /// Serves `settings` on `listener`, and `GET /metrics` on `metrics` instead when given
    /// (what [`Application::build`] runs).
    pub fn start_with(
        settings: Settings,
        listener: TcpListener,
        metrics: Option<TcpListener>,
    ) -> anyhow::Result<Self> {
        let Settings {
            db,
            secrets,
            token_ttl,
            refresh_ttl,
            auth,
            limits,
            rate_limits,
            cors,
            clock,
            fold_interval,
            thresholds,
            apps,
            live,
            redis_url,
            read_replicas,
        } = settings;
        observability::metrics::install();
        live::metrics::describe();
        // Every statement of the service's pool is timed (by kind); the caller's clone of
        // the pool is not.
        let mut db = db;
        db.set_metric_callback(observability::metrics::statement);
        let hub = Hub::new(db.clone(), live);
        let mut rate_limiter = RateLimiter::new(&rate_limits);
        if let Some(url) = redis_url {
            rate_limiter = rate_limiter.with_shared(SharedBuckets::connect(&url)?);
        }
        let rate_limiter = Arc::new(rate_limiter);
        let replicas = Replicas::new(db.clone(), read_replicas);
        let sketches = Arc::new(SketchBuffer::new(SketchKey::from_id_key(&secrets.id_key)));
        let ids = IdCodec::new(&secrets.id_key);
        let tokens = Tokens::new(&secrets.jwt_secret, token_ttl, ids.clone())?
            .with_leeway(auth.leeway_secs)
            .with_refresh_ttl(refresh_ttl);
        let app_tokens = AppTokens::new(
            &secrets.jwt_secret,
            Duration::seconds(i64::try_from(apps.app_token_ttl_secs).unwrap_or(900)),
            ids.clone(),
        )?
        .with_leeway(auth.leeway_secs);
        let token_endpoint = Data::new(TokenEndpoint {
            db: db.clone(),
            tokens: app_tokens.clone(),
            ids: ids.clone(),
            rate_limiter: rate_limiter.clone(),
        });
        let persisted = PersistedQueries::new(limits.persisted_queries);
        let schema = build_schema_with(
            db.clone(),
            tokens.clone(),
            ids.clone(),
            CursorCodec::new(&secrets.id_key),
            sketches.clone(),
            &limits,
            persisted.clone(),
        );
        let port = listener.local_addr()?.port();
        let state = Data::new(AppState {
            schema,
            db: db.clone(),
            auth: Authenticator::new(tokens.clone(), app_tokens, auth.identity_provider)
                .with_clock(clock),
            limits,
            rate_limiter: rate_limiter.clone(),
            clock,
            thresholds,
            apps,
            persisted,
            hub: hub.clone(),
            replicas: replicas.clone(),
        });
        let metrics_on_main = metrics.is_none();
        let metrics_db = Data::new(db.clone());
        let metrics = match metrics {
            Some(listener) => {
                let port = listener.local_addr()?.port();
                let db = metrics_db.clone();
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(actix_web::middleware::from_fn(request_id::middleware))
                        .app_data(db.clone())
                        .route("/metrics", web::get().to(observability::metrics::endpoint))
                })
                .workers(1)
                .shutdown_timeout(limits.shutdown_timeout_secs)
                .listen(listener)?
                .run();
                Some((port, server))
            }
            None => None,
        };
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(request_id::middleware))
                .app_data(state.clone())
                .app_data(metrics_db.clone())
                .app_data(token_endpoint.clone())
                .app_data(web::PayloadConfig::new(limits.max_body_bytes))
                .service(
                    web::resource("/graphql")
                        .wrap(cors.middleware())
                        .route(web::post().to(graphql_post))
                        .route(web::get().to(graphql_get_or_upgrade)),
                )
                .service(web::resource("/oauth/token").route(web::post().to(oauth::token)))
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
                .configure(|cfg| {
                    if metrics_on_main {
                        cfg.route("/metrics", web::get().to(observability::metrics::endpoint));
                    }
                })
                // A page switched off matches no route (404); without GraphiQL, `GET /graphql`
                // never answers with the playground either.
                .configure(|cfg| pages::routes(cfg, &limits))
        })
        .shutdown_timeout(limits.shutdown_timeout_secs)
        .listen(listener)?
        .run();
        Ok(Application {
            port,
            server,
            metrics,
            db,
            tokens,
            ids,
            rate_limiter,
            clock,
            sketches,
            fold_interval,
            hub,
            replicas,
        })
    }

    /// The instance's rate limiter (and through it the shared buckets, if any).
    pub fn rate_limiter(&self) -> &Arc<RateLimiter> {
        &self.rate_limiter
    }

    /// Where the instance's queries run.
    pub fn replicas(&self) -> &Replicas {
        &self.replicas
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the separate `/metrics` listener, if there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// The database pool.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The token issuer (the demo prints tokens with it).
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// The codec of the API's IDs (the demo prints one).
    pub fn ids(&self) -> &IdCodec {
        &self.ids
    }

    /// The service's clock (the demo writes its world with it).
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The instance's buffer of viewers not yet in the stored sketches (what
    /// [`domain::fold::drain`] flushes).
    pub fn sketches(&self) -> &Arc<SketchBuffer> {
        &self.sketches
    }

    /// Runs until stopped; meanwhile drops the keys of full rate-limit buckets every
    /// [`SWEEP_INTERVAL`] and runs the fold job every `fold_interval`. Once the server has
    /// stopped, the job is stopped too (a fold it interrupts rolls back, folding nothing)
    /// and one last drain, bounded to a few seconds, stores the buffered viewers.
    pub async fn run(self) -> std::io::Result<()> {
        let sweeper = tokio::spawn(self.rate_limiter.sweep_every(SWEEP_INTERVAL));
        let upkeep = tokio::spawn(observability::metrics::upkeep_every(
            std::time::Duration::from_secs(5),
        ));
        let metrics = self.metrics.map(|(_, server)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        let listener = tokio::spawn(self.hub.clone().run_listener());
        let folder = self.fold_interval.map(|every| {
            tokio::spawn(domain::fold::run_every(
                self.db.clone(),
                self.sketches.clone(),
                every,
            ))
        });
        let result = self.server.await;
        sweeper.abort();
        upkeep.abort();
        if let Some((handle, server)) = metrics {
            handle.stop(true).await;
            server.abort();
        }
        listener.abort();
        if let Some(folder) = folder {
            folder.abort();
            let last = domain::fold::drain(&self.db, &self.sketches);
            match tokio::time::timeout(std::time::Duration::from_secs(5), last).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e.log_detail(), "the last fold at shutdown failed")
                }
                Err(_) => tracing::warn!("the last fold at shutdown took over 5 s; stopped"),
            }
        }
        result
    }
}

/// Who `req` speaks for, from its `Authorization` header ([`Authenticator::credentials`]).
async fn credentials_of(req: &HttpRequest, state: &AppState) -> Result<Credentials, AppError> {
    let header =
        match req.headers().get(header::AUTHORIZATION) {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| {
                AppError::Unauthenticated("authorization header is malformed".into())
            })?),
        };
    state.auth.credentials(&state.db, header).await
}

/// A request refused before execution: 401 for a bad token. If the account of a token or
/// an identity could not be looked up (the database is away), the answer is what an
/// executed operation gives then: HTTP 200, `data: null` and one `INTERNAL` error, for
/// each operation of a batch.
fn refused(e: AppError, batch: &BatchRequest, media: MediaType) -> HttpResponse {
    observability::metrics::error(e.code());
    let answer = |data: bool| {
        let errors =
            serde_json::json!([{ "message": e.message(), "extensions": { "code": e.code() } }]);
        if data {
            serde_json::json!({ "data": null, "errors": errors })
        } else {
            serde_json::json!({ "errors": errors })
        }
    };
    match &e {
        AppError::Unauthenticated(_) => {
            graphql_http::errors_answer(media, StatusCode::UNAUTHORIZED, &answer(false))
        }
        other => {
            tracing::error!(error = %other.log_detail(), "looking up the account of a token failed");
            let body = match batch {
                BatchRequest::Single(_) => answer(true),
                BatchRequest::Batch(ops) => {
                    serde_json::Value::Array(ops.iter().map(|_| answer(true)).collect())
                }
            };
            graphql_http::errors_answer(media, StatusCode::OK, &body)
        }
    }
}

/// `POST /graphql`. The body is read here (not by async-graphql's extractor, which reads
/// JSON without a size limit) so that a body of another media type, an oversized body, a
/// batch over the limit and a body that is not a GraphQL request each get a coded error.
async fn graphql_post(
    state: Data<AppState>,
    http: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    let Some(Wanted::GraphQL(media)) = graphql_http::negotiate(accept(&http), false) else {
        return not_acceptable();
    };
    if let Err((status, message)) =
        graphql_http::check_content_type(http.headers().get(header::CONTENT_TYPE))
    {
        return rejected(media, status, message);
    }
    match read_batch(body, &state.limits) {
        Ok(batch) => execute(&state, &http, media, batch).await,
        Err((status, message)) => rejected(media, status, message),
    }
}

/// `GET /graphql`: a WebSocket upgrade (live subscriptions, [`live::socket`]), else
/// [`graphql_get`].
async fn graphql_get_or_upgrade(
    state: Data<AppState>,
    http: HttpRequest,
    body: web::Payload,
) -> HttpResponse {
    if live::socket::is_upgrade(&http) {
        return live::socket::upgrade(state, &http, body)
            .unwrap_or_else(|e| e.as_response_error().error_response());
    }
    graphql_get(state, http).await
}

/// `GET /graphql`: the playground for a browser (HTML preferred, GraphiQL on), else a
/// GraphQL request in the query string, which may run a query only (a mutation is 405:
/// a GET must not change anything, and a CDN may cache it).
async fn graphql_get(state: Data<AppState>, http: HttpRequest) -> HttpResponse {
    let media = match graphql_http::negotiate(accept(&http), state.limits.graphiql) {
        Some(Wanted::Playground) => return pages::graphiql::page(state.limits.graphiql_cdn),
        Some(Wanted::GraphQL(media)) => media,
        None => return not_acceptable(),
    };
    let mut request = match graphql_http::get_params(http.query_string()) {
        Ok(request) => request,
        Err(message) => return rejected(media, StatusCode::BAD_REQUEST, message),
    };
    state.persisted.fill(&mut request).await;
    if let Some(kind @ (OperationType::Mutation | OperationType::Subscription)) =
        operation_type(&mut request)
    {
        let message = format!("a GET request runs queries only: send a {kind} with POST");
        let mut response = rejected(media, StatusCode::METHOD_NOT_ALLOWED, message);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    execute(&state, &http, media, BatchRequest::Single(request)).await
}

fn accept(http: &HttpRequest) -> Option<&HeaderValue> {
    http.headers().get(header::ACCEPT)
}

/// Runs a request or batch as the viewer of `http`'s token and answers in `media`.
async fn execute(
    state: &AppState,
    http: &HttpRequest,
    media: MediaType,
    batch: BatchRequest,
) -> HttpResponse {
    let Credentials {
        viewer,
        subject,
        app,
        session,
    } = match credentials_of(http, state).await {
        Ok(c) => c,
        Err(e) => return refused(e, &batch, media),
    };
    let caller = state.rate_limiter.caller(http);
    let header = |name: &str| http.headers().get(name).and_then(|v| v.to_str().ok());
    let device = domain::analytics::device_class(
        header("x-tally-device"),
        header(header::USER_AGENT.as_str()),
    );
    // Queries run on a read replica that has every write committed so far, else on the
    // primary (chosen once for the whole request); everything else on the primary.
    let mut batch = batch;
    let read_only: Vec<bool> = batch
        .iter_mut()
        .map(|r| state.replicas.any() && operation_type(r) == Some(OperationType::Query))
        .collect();
    let read_db = if read_only.contains(&true) {
        state.replicas.for_read().await
    } else {
        state.db.clone()
    };
    let mut read_only = read_only.into_iter();
    let mut executed = Vec::new();
    let mut prepare = |r| {
        let marker = Executed::default();
        executed.push(marker.clone());
        let db = if read_only.next() == Some(true) {
            &read_db
        } else {
            &state.db
        };
        let r = request_data(r, db, viewer)
            .data(db.clone())
            .data(state.hub.clone())
            .data(state.clock)
            .data(state.thresholds)
            .data(state.apps)
            .data(device)
            .data(caller.clone())
            .data(marker);
        let r = match app {
            Some(grant) => r.data(grant),
            None => r,
        };
        let r = match session {
            Some(current) => r.data(current),
            None => r,
        };
        match &subject {
            Some(s) => r.data(s.clone()),
            None => r,
        }
    };
    let batch = match batch {
        BatchRequest::Single(r) => BatchRequest::Single(prepare(r)),
        BatchRequest::Batch(rs) => BatchRequest::Batch(rs.into_iter().map(prepare).collect()),
    };
    let response = state.schema.execute_batch(batch).await;
    let executed: Vec<bool> = executed.iter().map(Executed::get).collect();
    graphql_http::answer(media, &response, &executed)
}

/// The request or batch of requests in a POST body, within the body and batch limits;
/// else the HTTP status and message to refuse it with.
fn read_batch(
    body: Result<web::Bytes, actix_web::Error>,
    limits: &Limits,
) -> Result<BatchRequest, Refusal> {
    let bytes = body.map_err(|e| {
        let status = e.as_response_error().status_code();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            let max = limits.max_body_bytes;
            (
                status,
                format!("the request body exceeds the limit of {max} bytes"),
            )
        } else {
            (status, format!("the request body could not be read: {e}"))
        }
    })?;
    let batch =
        graphql_http::post_body(&bytes).map_err(|message| (StatusCode::BAD_REQUEST, message))?;
    if let BatchRequest::Batch(operations) = &batch {
        if operations.len() > limits.max_batch {
            let message = format!(
                "too many operations in a batch: {} exceeds the batch limit of {}",
                operations.len(),
                limits.max_batch
            );
            return Err((StatusCode::BAD_REQUEST, message));
        }
    }
    Ok(batch)
}

/// A request refused before anything ran: `BAD_USER_INPUT` with `status`, in `media`.
fn rejected(media: MediaType, status: StatusCode, message: String) -> HttpResponse {
    observability::metrics::error(ErrorCode::BadUserInput.as_str());
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": ErrorCode::BadUserInput.as_str() } }]
    });
    graphql_http::errors_answer(media, status, &body)
}

/// 406: the client accepts neither GraphQL media type (nor HTML where the playground is).
fn not_acceptable() -> HttpResponse {
    let message = "/graphql answers in `application/graphql-response+json` or \
                   `application/json`: accept one of them"
        .to_owned();
    rejected(MediaType::Json, StatusCode::NOT_ACCEPTABLE, message)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

async fn readyz(state: Data<AppState>) -> HttpResponse {
    // Bounded well below the pool's acquire timeout: a probe must answer promptly while the
    // database is away, not after the pool has given up on reconnecting.
    let ping = tokio::time::timeout(std::time::Duration::from_secs(1), state.db.ping()).await;
    observability::metrics::ready(matches!(ping, Ok(Ok(()))));
    match ping {
        Ok(Ok(())) => HttpResponse::Ok().body("ready"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "database not answering");
            HttpResponse::ServiceUnavailable().body("database unavailable")
        }
        Err(_) => {
            tracing::warn!("database did not answer the readiness ping within 1 s");
            HttpResponse::ServiceUnavailable().body("database unavailable")
        }
    }
}
