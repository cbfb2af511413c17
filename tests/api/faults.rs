//! Faults: the database goes away and comes back while the service keeps running.
//!
//! PostgreSQL only (the PostgreSQL pass of CI, `TALLY_TEST_DATABASE_URL`): the test's own
//! database refuses new connections (`ALTER DATABASE … ALLOW_CONNECTIONS false`) and its
//! sessions — the service's pooled connections — are terminated; later it allows connections
//! again. On SQLite there is no server to lose (moving the file or taking its permissions away
//! is a different fault, and root ignores permissions), so the test is skipped there.
//! `bench/fault.sh` does the same with a whole PostgreSQL instance stopped mid-storm.
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{json, Value};

use crate::helpers::*;

/// The admin connection of the PostgreSQL pass, or `None` on SQLite.
async fn postgres_admin() -> Option<DatabaseConnection> {
    let base = std::env::var("TALLY_TEST_DATABASE_URL").ok()?;
    if !base.starts_with("postgres") {
        return None;
    }
    Some(
        tally::db::connect(&base, 1)
            .await
            .expect("connect to PostgreSQL"),
    )
}

async fn get(app: &TestApp, path: &str) -> u16 {
    app.http
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .expect("an answer")
        .status()
        .as_u16()
}

/// Polls `path` until it answers `status`; panics after `within`.
async fn wait_for(app: &TestApp, path: &str, status: u16, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let got = get(app, path).await;
        if got == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{path} still answers {got} after {within:?}, expected {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The answer must be HTTP 200 with `INTERNAL` errors of the generic message and no data:
/// `data` null, or (a failed nullable root field is `null`) every root field null.
fn assert_internal(status: u16, body: &Value, what: &str) {
    assert_eq!(status, 200, "{what}: {body}");
    let errors = body["errors"].as_array().expect("errors");
    assert!(!errors.is_empty(), "{what}: {body}");
    for e in errors {
        assert_eq!(e["extensions"]["code"], "INTERNAL", "{what}: {body}");
        assert_eq!(e["message"], "internal error", "{what}: {body}");
    }
    let no_data = body["data"].is_null()
        || body["data"]
            .as_object()
            .is_some_and(|fields| fields.values().all(Value::is_null));
    assert!(no_data, "{what}: {body}");
}

#[tokio::test]
async fn readyz_fails_while_the_database_is_away_and_recovers_without_a_restart() {
    let Some(admin) = postgres_admin().await else {
        eprintln!("skipped: needs PostgreSQL (TALLY_TEST_DATABASE_URL)");
        return;
    };
    let app = TestApp::spawn().await;
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_database() AS name",
        ))
        .await
        .expect("query")
        .expect("a row");
    let name: String = row.try_get("", "name").expect("name");
    assert!(name.starts_with("tally_test_"), "{name}");

    let signup = r#"mutation($h: String!) { signUp(input: { handle: $h, password: "password123" }) { token } }"#;
    let (_, b) = app.gql(None, signup, json!({ "h": "creator" })).await;
    let creator = b["data"]["signUp"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let (_, b) = app.gql(None, signup, json!({ "h": "fan" })).await;
    let fan = b["data"]["signUp"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let (_, b) = app
        .gql(
            Some(&creator),
            r#"mutation { createVideo(input: { mediaUrl: "https://media.example.com/v.mp4", caption: "c" }) { id } }"#,
            json!({}),
        )
        .await;
    let video = b["data"]["createVideo"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let like = "mutation($v: ID!) { likeVideo(videoId: $v) { likeCount viewerHasLiked } }";
    let read = "query($v: ID!) { video(id: $v) { likeCount } }";
    assert_eq!(get(&app, "/readyz").await, 200);

    // The database goes away: no new connections, and the pool's sessions are cut.
    admin
        .execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await
        .expect("disallow connections");
    admin
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .await
        .expect("terminate sessions");

    let took = wait_for(&app, "/readyz", 503, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(
        get(&app, "/healthz").await,
        200,
        "the process itself is fine"
    );
    for _ in 0..3 {
        let started = Instant::now();
        let (status, body) = app.gql(Some(&fan), like, json!({ "v": video })).await;
        assert_internal(status, &body, "likeVideo while the database is away");
        let (status, body) = app.gql(None, read, json!({ "v": video })).await;
        assert_internal(status, &body, "a read while the database is away");
        // Within the execution timeout (5 s) and the pool's acquire timeout (5 s).
        assert!(started.elapsed() < Duration::from_secs(12));
        let probe = Instant::now();
        assert_eq!(get(&app, "/readyz").await, 503);
        assert!(
            probe.elapsed() < Duration::from_secs(2),
            "a readiness probe answers promptly while the database is away: {:?}",
            probe.elapsed()
        );
        assert_eq!(get(&app, "/healthz").await, 200);
    }
    let rows = admin
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT datallowconn FROM pg_database WHERE datname = '{name}'"),
        ))
        .await
        .expect("query")
        .expect("row");
    assert!(!rows.try_get::<bool>("", "datallowconn").expect("flag"));

    // It comes back: the same process answers again, without a restart.
    admin
        .execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .expect("allow connections");
    wait_for(&app, "/readyz", 200, Duration::from_secs(10)).await;
    let (status, body) = app.gql(Some(&fan), like, json!({ "v": video })).await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["likeVideo"]["viewerHasLiked"], true);
    assert_eq!(body["data"]["likeVideo"]["likeCount"], 1, "{body}");

    // The likes refused during the outage wrote nothing: one row, counter equal to rows.
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT (SELECT COUNT(*) FROM likes) AS n, (SELECT CAST(COALESCE(SUM(like_count), 0) AS BIGINT) FROM video_like_counters) AS c",
        ))
        .await
        .expect("query")
        .expect("row");
    assert_eq!(row.try_get::<i64>("", "n").expect("n"), 1);
    assert_eq!(row.try_get::<i64>("", "c").expect("c"), 1);
    admin.close().await.ok();
}
