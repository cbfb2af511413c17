//! The service clock: with `TALLY_NOW` (here `Settings::clock`) every stored time is that
//! instant; a `TALLY_NOW` that is not RFC 3339 stops start-up.
use std::process::Command;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde_json::json;
use tally::{
    clock::Clock,
    config::Cli,
    db::{col, Sql},
};
use uuid::Uuid;

use crate::helpers::TestApp;

/// An instant that is clearly not now.
pub fn fixed_instant() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-07-14T09:41:27.123456Z")
        .expect("instant")
        .with_timezone(&Utc)
}

/// The single `BIGINT` value `sql` selects (as `t`).
async fn stored_time(db: &DatabaseConnection, sql: &str, id: Uuid) -> i64 {
    let mut q = Sql::default();
    let p = q.bind(id);
    q.push_unchecked(&sql.replace("$ID", &p.to_string()));
    let row = q.one(db).await.expect("query").expect("a row");
    col(&row, "t").expect("t")
}

#[tokio::test]
async fn a_fixed_clock_stamps_every_write_with_its_instant() {
    let at = fixed_instant();
    let app = TestApp::spawn_with(|s| s.clock = Clock::Fixed(at)).await;
    let (maya, maya_t) = app.sign_up("maya", "").await;
    let (ana, ana_t) = app.sign_up("ana", "").await;
    let (_, body) = app
        .gql(
            Some(&maya_t),
            r#"mutation { createVideo(input: {mediaUrl: "https://media.example.com/v.mp4", caption: "then"}) { id createdAt } }"#,
            json!({}),
        )
        .await;
    let video = body["data"]["createVideo"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let created: DateTime<Utc> = body["data"]["createVideo"]["createdAt"]
        .as_str()
        .expect("createdAt")
        .parse()
        .expect("DateTime");
    assert_eq!(created, at);
    let (_, body) = app
        .gql(
            Some(&ana_t),
            "mutation($v: ID!, $u: ID!) { likeVideo(videoId: $v) { id } followUser(userId: $u) { state } }",
            json!({ "v": video, "u": crate::helpers::uid(maya) }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = app
        .gql(
            Some(&maya_t),
            "query($v: ID!) { video(id: $v) { visibleLikers { edges { likedAt } } } }",
            json!({ "v": video }),
        )
        .await;
    let liked: DateTime<Utc> = body["data"]["video"]["visibleLikers"]["edges"][0]["likedAt"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .parse()
        .expect("DateTime");
    assert_eq!(liked, at);
    // The rows themselves: the follow and the like (before the block below removes them),
    // the accounts, the video; and a block.
    let us = at.timestamp_micros();
    for sql in [
        "SELECT created_at AS t FROM follows WHERE follower_id = $ID",
        "SELECT created_at AS t FROM likes WHERE user_id = $ID",
    ] {
        assert_eq!(stored_time(&app.db, sql, ana).await, us, "{sql}");
    }
    let (_, body) = app
        .gql(
            Some(&maya_t),
            "mutation($u: ID!) { blockUser(userId: $u) }",
            json!({ "u": crate::helpers::uid(ana) }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    for (sql, id) in [
        ("SELECT created_at AS t FROM users WHERE id = $ID", maya),
        ("SELECT created_at AS t FROM users WHERE id = $ID", ana),
        (
            "SELECT created_at AS t FROM blocks WHERE blocker_id = $ID",
            maya,
        ),
        (
            "SELECT created_at AS t FROM videos WHERE id = $ID",
            crate::helpers::video_uuid(&video),
        ),
    ] {
        assert_eq!(stored_time(&app.db, sql, id).await, us, "{sql}");
    }
}

#[test]
fn tally_now_must_be_rfc_3339() {
    use clap::Parser;
    let parse = |v: &str| Cli::try_parse_from(["tally", "--now", v]);
    let ok = parse("2025-07-14T11:41:27+02:00").expect("RFC 3339 parses");
    assert_eq!(
        ok.config.now.map(|t| t.to_rfc3339()),
        Some("2025-07-14T09:41:27+00:00".to_owned())
    );
    assert_eq!(
        Cli::try_parse_from(["tally"]).expect("parse").config.now,
        None
    );
    for bad in [
        "yesterday",
        "2025-07-14",
        "2025-07-14 09:41:27",
        "1752486087",
    ] {
        let e = parse(bad).expect_err(bad).to_string();
        assert!(e.contains("TALLY_NOW") && e.contains("RFC 3339"), "{e}");
    }
}

#[test]
fn a_tally_now_that_is_not_rfc_3339_stops_start_up_with_a_clear_message() {
    let dir = std::env::temp_dir().join(format!("tally-now-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("serve")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("tally.db").display()),
        )
        .env("TALLY_BIND", "127.0.0.1:0")
        .env("TALLY_NOW", "next tuesday")
        .output()
        .expect("run tally");
    assert!(!out.status.success(), "started with a bad TALLY_NOW");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TALLY_NOW")
            && stderr.contains("RFC 3339")
            && stderr.contains("next tuesday"),
        "{stderr}"
    );
    assert!(
        !dir.join("tally.db").exists(),
        "it got as far as the database"
    );
}
