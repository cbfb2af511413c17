//! Shared set-up: a fresh database per test, the schema executed directly (fast), and the
//! real HTTP service on a random port (for transport-level behaviour).
#![allow(dead_code)]

use std::net::TcpListener;

use entity::{user, AccountType, FollowState, LikesVisibility, Visibility};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection};
use serde_json::{json, Value};
use tally::{
    auth::{token::Tokens, Viewer},
    config::Limits,
    domain::sketch::{SketchBuffer, SketchKey},
    graphql::{build_schema, request_data, AppSchema},
    ids::{CursorCodec, IdCodec, IdKey, Kind},
    secret::Secrets,
    startup::{Application, Settings},
};
use uuid::Uuid;

/// The current time by the system clock, in the stored unit (rows the tests insert directly).
pub fn now_us() -> i64 {
    tally::clock::Clock::System.now_us()
}

pub const SECRET: &[u8] = b"test-secret-test-secret-test-secret!";

/// The ID key of every test service (`TALLY_ID_KEY` of the ones started as a process).
pub const ID_KEY: &str = "8f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9011223344ab";

/// The test services' keys.
pub fn secrets() -> Secrets {
    Secrets {
        jwt_secret: SECRET.to_vec(),
        id_key: id_key(),
    }
}

pub fn id_key() -> IdKey {
    IdKey::from_hex(ID_KEY).expect("test ID key")
}

/// The codec of the test services' IDs.
pub fn ids() -> IdCodec {
    static IDS: std::sync::OnceLock<IdCodec> = std::sync::OnceLock::new();
    IDS.get_or_init(|| IdCodec::new(&id_key())).clone()
}

/// The codec of the test services' cursors.
pub fn cursors() -> CursorCodec {
    CursorCodec::new(&id_key())
}

/// A fresh viewer-sketch buffer under the test services' key.
pub fn sketch_buffer() -> std::sync::Arc<SketchBuffer> {
    std::sync::Arc::new(SketchBuffer::new(SketchKey::from_id_key(&id_key())))
}

/// The test services' token issuer.
pub fn tokens() -> Tokens {
    Tokens::new(SECRET, chrono::Duration::hours(24), ids()).expect("tokens")
}

/// An access token for `user` in a new session of its own (what `logIn` would give), by
/// the system clock.
pub async fn token_for(db: &DatabaseConnection, user: Uuid) -> String {
    let now = tally::clock::Clock::System.now();
    let issued = tally::domain::sessions::start(
        db,
        user,
        None,
        now.timestamp_micros(),
        chrono::Duration::days(60),
    )
    .await
    .map_err(|e| e.message())
    .expect("session");
    tokens().issue(user, issued.session, now).expect("token").0
}

/// Inserts a live session of `user` whose ID is the account's own (so that a test can craft
/// the claims of a valid token without the database: `sid` is [`sid_of`] the account).
pub async fn insert_session(db: &DatabaseConnection, user: Uuid) {
    let now = now_us();
    entity::session::ActiveModel {
        id: Set(user),
        user_id: Set(user),
        created_at: Set(now),
        last_used_at: Set(now),
        expires_at: Set(now + 86_400_000_000),
        device: Set(None),
    }
    .insert(db)
    .await
    .expect("insert session");
}

/// The `sid` of the session [`insert_session`] made for `user`.
pub fn sid_of(user: Uuid) -> String {
    ids().encode_id(Kind::Session, user)
}

/// A fresh, migrated database: PostgreSQL when `TALLY_TEST_DATABASE_URL` names one
/// (a new database per call), else an SQLite file in the temp directory.
pub async fn fresh_db() -> DatabaseConnection {
    fresh_db_with_pool(8).await
}

/// The URL of a new, empty database: PostgreSQL when `TALLY_TEST_DATABASE_URL` names one
/// (a new database per call), else an SQLite file in the temp directory.
pub async fn fresh_database_url() -> String {
    match std::env::var("TALLY_TEST_DATABASE_URL") {
        Ok(base) if base.starts_with("postgres") => {
            let admin = tally::db::connect(&base, 1)
                .await
                .expect("connect to PostgreSQL");
            let name = format!("tally_test_{}", Uuid::new_v4().simple());
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let (root, _) = base.rsplit_once('/').expect("database URL has a path");
            format!("{root}/{name}")
        }
        _ => {
            let path =
                std::env::temp_dir().join(format!("tally-test-{}.db", Uuid::new_v4().simple()));
            format!("sqlite://{}?mode=rwc", path.display())
        }
    }
}

/// [`fresh_db`] with a pool of `connections`.
pub async fn fresh_db_with_pool(connections: u32) -> DatabaseConnection {
    let url = fresh_database_url().await;
    let db = tally::db::connect(&url, connections)
        .await
        .expect("connect to test database");
    Migrator::up(&db, None).await.expect("migrate");
    db
}

/// The schema over a fresh database, executed without HTTP.
pub struct Harness {
    pub db: DatabaseConnection,
    pub schema: AppSchema,
    pub tokens: Tokens,
    /// The schema's viewer-sketch buffer (`fold::drain` flushes it).
    pub sketches: std::sync::Arc<SketchBuffer>,
    /// The requests' clock (the system's unless a test fixes it).
    pub clock: tally::clock::Clock,
    /// The requests' analytics thresholds (the production defaults unless a test lowers them).
    pub thresholds: tally::config::Thresholds,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_db(fresh_db().await)
    }

    pub fn with_db(db: DatabaseConnection) -> Self {
        Self::with_limits(db, Limits::default())
    }

    /// The schema with other limits than the production defaults.
    pub fn with_limits(db: DatabaseConnection, limits: Limits) -> Self {
        let tokens = tokens();
        let sketches = sketch_buffer();
        let schema = build_schema(
            db.clone(),
            tokens.clone(),
            ids(),
            cursors(),
            sketches.clone(),
            &limits,
        );
        Harness {
            db,
            schema,
            tokens,
            sketches,
            clock: tally::clock::Clock::System,
            thresholds: tally::config::Thresholds::default(),
        }
    }

    /// Runs `query` as `viewer` and returns the whole response as JSON
    /// (`{"data": …, "errors": […]}`).
    pub async fn run(&self, viewer: Option<Uuid>, query: &str, vars: Value) -> Value {
        let req =
            async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(vars));
        let resp = self
            .schema
            .execute(
                request_data(req, &self.db, Viewer(viewer))
                    .data(self.clock)
                    .data(self.thresholds),
            )
            .await;
        serde_json::to_value(&resp).expect("response serializes")
    }

    /// Runs `query` and returns `data`, failing the test on any error.
    pub async fn ok(&self, viewer: Option<Uuid>, query: &str, vars: Value) -> Value {
        let v = self.run(viewer, query, vars).await;
        assert!(
            v.get("errors").is_none(),
            "unexpected errors for {query}: {v}"
        );
        v["data"].clone()
    }

    /// Runs `query` and returns the first error's `extensions`.
    pub async fn err(&self, viewer: Option<Uuid>, query: &str, vars: Value) -> Value {
        let v = self.run(viewer, query, vars).await;
        let e = v["errors"]
            .get(0)
            .unwrap_or_else(|| panic!("expected an error for {query}, got {v}"));
        e["extensions"].clone()
    }

    /// Inserts an account directly (no password hashing): for building worlds quickly.
    pub async fn account(
        &self,
        handle: &str,
        visibility: Visibility,
        likes: LikesVisibility,
    ) -> Uuid {
        insert_account(&self.db, handle, visibility, likes).await
    }

    /// Signs up through the API and returns `(id, token)`.
    pub async fn sign_up(&self, handle: &str, extra: &str) -> (Uuid, String) {
        let q = format!(
            r#"mutation {{ signUp(input: {{handle: "{handle}", password: "password123" {extra}}}) {{ token user {{ id }} }} }}"#
        );
        let d = self.ok(None, &q, json!({})).await;
        let id = user_uuid(d["signUp"]["user"]["id"].as_str().expect("id"));
        (id, d["signUp"]["token"].as_str().expect("token").to_owned())
    }
}

/// Inserts an account row with a placeholder password hash.
pub async fn insert_account(
    db: &impl ConnectionTrait,
    handle: &str,
    visibility: Visibility,
    likes: LikesVisibility,
) -> Uuid {
    let id = Uuid::now_v7();
    user::ActiveModel {
        id: Set(id),
        handle: Set(handle.to_owned()),
        display_name: Set(handle.to_owned()),
        password_hash: Set("not-a-real-hash".to_owned()),
        account_type: Set(AccountType::Personal),
        visibility: Set(visibility),
        likes_visibility: Set(likes),
        birth_year: Set(None),
        region: Set(None),
        language: Set(None),
        created_at: Set(now_us()),
        external_subject: Set(None),
        avatar_url: Set(None),
    }
    .insert(db)
    .await
    .expect("insert account");
    id
}

/// The API ID of an account (under the test key).
/// Inserts a follow row in `state` directly, bypassing `followUser`.
pub async fn insert_follow(
    db: &impl ConnectionTrait,
    follower: Uuid,
    followee: Uuid,
    state: FollowState,
) {
    let mut q = tally::db::Sql::default();
    let (a, b, s, t) = (
        q.bind(follower),
        q.bind(followee),
        q.bind(state),
        q.bind(now_us()),
    );
    q.push_unchecked(&format!(
        "INSERT INTO follows (follower_id, followee_id, state, created_at) VALUES ({a}, {b}, {s}, {t})"
    ));
    q.execute(db).await.expect("insert follow");
    // As the service would have counted it.
    if state == FollowState::Approved {
        let account = tally::domain::find_user(db, follower)
            .await
            .expect("follower")
            .expect("follower exists");
        let at = tally::domain::rollups::At::of(now_us());
        tally::domain::rollups::follower_gained(db, &account, followee, at)
            .await
            .expect("follower rollups");
    }
}

/// Inserts a block row directly, bypassing `blockUser` (nothing else is removed).
pub async fn insert_block(db: &impl ConnectionTrait, blocker: Uuid, blocked: Uuid) {
    let mut q = tally::db::Sql::default();
    let (a, b, t) = (q.bind(blocker), q.bind(blocked), q.bind(now_us()));
    q.push_unchecked(&format!(
        "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ({a}, {b}, {t})"
    ));
    q.execute(db).await.expect("insert block");
}

pub fn uid(id: Uuid) -> String {
    ids().encode_id(Kind::User, id)
}

/// The API ID of a video (under the test key).
pub fn vid(id: Uuid) -> String {
    ids().encode_id(Kind::Video, id)
}

pub fn user_uuid(id: &str) -> Uuid {
    ids().decode_id("id", Kind::User, id).expect("user id")
}

pub fn video_uuid(id: &str) -> Uuid {
    ids().decode_id("id", Kind::Video, id).expect("video id")
}

/// The real service on a random port.
#[derive(Clone)]
pub struct TestApp {
    pub base: String,
    pub db: DatabaseConnection,
    pub http: reqwest::Client,
    /// The service's viewer-sketch buffer (`fold::drain` flushes it).
    pub sketches: std::sync::Arc<SketchBuffer>,
}

impl TestApp {
    /// The service with the test defaults ([`Settings::new`]).
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// The service with the defaults `change` makes to them (token settings, limits, rate
    /// limits, CORS origins).
    pub async fn spawn_with(change: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_on(fresh_db().await, change).await
    }

    /// Another instance of the service on `db` (which another may serve too).
    pub async fn spawn_on(db: DatabaseConnection, change: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = Settings::new(db.clone(), secrets());
        change(&mut settings);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let app = Application::start(settings, listener).expect("build");
        Self::start(app, db)
    }

    /// Two instances of the service on one database, each with a pool of its own (as two
    /// `tally serve` processes would be): on PostgreSQL they fan out to each other; an SQLite
    /// service is one instance, so both are the same one there.
    pub async fn pair() -> (Self, Self) {
        let url = fresh_database_url().await;
        let connect = || async {
            tally::db::connect(&url, 8)
                .await
                .expect("connect to test database")
        };
        let db_a = connect().await;
        Migrator::up(&db_a, None).await.expect("migrate");
        let a = Self::on(db_a.clone());
        if url.starts_with("postgres") {
            (a, Self::on(connect().await))
        } else {
            (a.clone(), a)
        }
    }

    fn on(db: DatabaseConnection) -> Self {
        let settings = Settings::new(db.clone(), secrets());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let app = Application::start(settings, listener).expect("build");
        Self::start(app, db)
    }

    /// The WebSocket URL of `/graphql`.
    pub fn ws_url(&self) -> String {
        format!("{}/graphql", self.base.replacen("http", "ws", 1))
    }

    /// Runs `app` (built on `db`) in the background: for tests that keep a handle of it first.
    pub fn start(app: Application, db: DatabaseConnection) -> Self {
        let base = format!("http://127.0.0.1:{}", app.port());
        let sketches = app.sketches().clone();
        tokio::spawn(app.run());
        TestApp {
            base,
            db,
            http: reqwest::Client::new(),
            sketches,
        }
    }

    /// POSTs a GraphQL request with an optional raw `Authorization` header value.
    pub async fn post(&self, authorization: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.post(format!("{}/graphql", self.base)).json(&body);
        if let Some(a) = authorization {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// GraphQL as a bearer of `token`.
    pub async fn gql(&self, token: Option<&str>, query: &str, vars: Value) -> (u16, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        self.post(
            auth.as_deref(),
            json!({ "query": query, "variables": vars }),
        )
        .await
    }

    /// Signs up `handle` over HTTP (`extra`: more `SignUpInput` fields, e.g.
    /// `", visibility: PRIVATE"`) and returns `(id, token)`.
    pub async fn sign_up(&self, handle: &str, extra: &str) -> (Uuid, String) {
        let q = format!(
            r#"mutation {{ signUp(input: {{handle: "{handle}", password: "password123" {extra}}}) {{ token user {{ id }} }} }}"#
        );
        let (status, body) = self.gql(None, &q, json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "sign-up failed: {body}");
        let d = &body["data"]["signUp"];
        let id = d["user"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("sign-up failed: {body}"));
        (
            user_uuid(id),
            d["token"].as_str().expect("token").to_owned(),
        )
    }
}

/// Creates a video through the use case at `at`; its ID. The tests' fixtures for videos
/// of a given shape.
pub async fn make_video(
    db: &DatabaseConnection,
    author: Uuid,
    input: tally::domain::videos::NewVideo,
    at: i64,
) -> Uuid {
    tally::domain::videos::create_video(db, author, input, at)
        .await
        .map_err(|e| e.message())
        .expect("video")
        .into_inner()
        .video
        .id
}

/// The output streams of a spawned `tally` (stdout, then stderr), to read line by line.
pub fn outputs(child: &mut std::process::Child) -> Vec<Box<dyn std::io::Read + Send>> {
    let stdout = child
        .stdout
        .take()
        .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
    let stderr = child
        .stderr
        .take()
        .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
    stdout.into_iter().chain(stderr).collect()
}

/// The rest of an HTTP/1.1 message whose first line has been read: its header lines
/// (trimmed) and its body (`Content-Length` bytes).
pub fn read_headers_and_body(conn: &mut impl std::io::BufRead) -> (Vec<String>, Vec<u8>) {
    let (mut headers, mut length) = (Vec::new(), 0);
    loop {
        let mut line = String::new();
        conn.read_line(&mut line).expect("header");
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().expect("content-length");
            }
        }
        headers.push(line.trim().to_owned());
    }
    let mut body = vec![0; length];
    conn.read_exact(&mut body).expect("body");
    (headers, body)
}

/// A TCP port nothing listens on now (for a server a test starts itself).
pub fn spare_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a spare port")
        .port()
}
