//! Analytics: `createVideo`'s `durationMs`, `recordView` and `Video.viewCount`.
use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use entity::{video_view, DeviceClass, FollowState, LikesVisibility, Visibility};
use sea_orm::{ActiveEnum, ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use tally::{
    clock::Clock,
    config::{Rate, RateLimits},
    db::{col, Sql},
    domain::{
        analytics::record_view,
        videos::{create_video, NewVideo},
    },
};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::helpers::{
    fresh_db_with_pool, insert_account, insert_block, insert_follow, now_us, uid, vid, video_uuid,
    Harness, TestApp,
};

const CREATE: &str =
    "mutation($d: Int) { createVideo(input: {mediaUrl: \"https://media.example.com/v.mp4\", caption: \"c\", durationMs: $d}) { id durationMs } }";

#[tokio::test]
async fn create_video_takes_an_optional_duration_of_1_ms_to_an_hour() {
    let h = Harness::new().await;
    let me = h
        .account("maya", Visibility::Public, LikesVisibility::Everyone)
        .await;
    for d in [json!(1), json!(15_000), json!(3_600_000), json!(null)] {
        let data = h.ok(Some(me), CREATE, json!({ "d": d })).await;
        assert_eq!(data["createVideo"]["durationMs"], d);
    }
    let data = h
        .ok(
            Some(me),
            "mutation { createVideo(input: {mediaUrl: \"https://media.example.com/v.mp4\", caption: \"c\"}) { durationMs } }",
            json!({}),
        )
        .await;
    assert_eq!(data["createVideo"]["durationMs"], json!(null));
    for bad in [0, -1, 3_600_001, i32::MAX] {
        let v = h.run(Some(me), CREATE, json!({ "d": bad })).await;
        let e = &v["errors"][0];
        assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{v}");
        assert_eq!(e["extensions"]["field"], "input.durationMs", "{v}");
        assert!(
            e["message"].as_str().unwrap_or("").contains("durationMs"),
            "{v}"
        );
    }
    // Read back through `video`, too.
    let id = h.ok(Some(me), CREATE, json!({ "d": 42 })).await["createVideo"]["id"].clone();
    let data = h
        .ok(
            None,
            "query($id: ID!) { video(id: $id) { durationMs } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["video"]["durationMs"], 42);
}

// ---------------------------------------------------------------------------------------
// recordView

const VIEW: &str = "mutation($v: ID!, $w: Int!) { recordView(videoId: $v, watchMs: $w) }";
const VIEW_COUNT: &str = "query($v: ID!) { video(id: $v) { viewCount } }";

/// A video by `author`, through the domain.
async fn video_by(db: &DatabaseConnection, author: Uuid) -> Uuid {
    create_video(
        db,
        author,
        NewVideo {
            caption: "watch me".into(),
            hashtags: vec![],
            sound: None,
            duration_ms: Some(30_000),
            media_url: "https://media.example.com/v.mp4".into(),
            thumbnail_url: None,
        },
        now_us(),
    )
    .await
    .map_err(|e| e.message())
    .expect("video")
    .video
    .id
}

/// How many view rows and counted views `video` has in the database.
async fn stored(db: &DatabaseConnection, video: Uuid) -> (i64, i64) {
    let mut q = Sql::default();
    let v = q.bind(video);
    q.push_unchecked(&format!(
        "SELECT (SELECT COUNT(*) FROM video_views WHERE video_id = {v}) AS events, \
         (SELECT CAST(COALESCE(SUM(views), 0) AS BIGINT) FROM video_view_counters WHERE video_id = {v}) AS counted"
    ));
    let row = q.one(db).await.expect("query").expect("row");
    (
        col(&row, "events").expect("events"),
        col(&row, "counted").expect("counted"),
    )
}

async fn view_count(h: &Harness, viewer: Option<Uuid>, video: Uuid) -> i64 {
    h.ok(viewer, VIEW_COUNT, json!({ "v": vid(video) })).await["video"]["viewCount"]
        .as_i64()
        .expect("viewCount")
}

#[tokio::test]
async fn anonymous_and_signed_in_viewers_record_views_and_view_count_counts_each() {
    let h = Harness::new().await;
    let author = h
        .account("maya", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let fan = h
        .account("ana", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let video = video_by(&h.db, author).await;
    let other = video_by(&h.db, author).await;
    assert_eq!(view_count(&h, None, video).await, 0);
    for (i, viewer) in [None, Some(fan), Some(author), None, Some(fan)]
        .into_iter()
        .enumerate()
    {
        let d = h
            .ok(viewer, VIEW, json!({ "v": vid(video), "w": 1000 * i }))
            .await;
        assert_eq!(d["recordView"], true);
    }
    assert_eq!(view_count(&h, None, video).await, 5);
    assert_eq!(view_count(&h, Some(fan), video).await, 5);
    assert_eq!(view_count(&h, None, other).await, 0);
    assert_eq!(stored(&h.db, video).await, (5, 5));
    // A page of videos gets each its own count (one batched read).
    let d = h
        .ok(
            None,
            "query($u: String!) { user(handle: $u) { videos { edges { node { id viewCount } } } } }",
            json!({ "u": "maya" }),
        )
        .await;
    let counts: Vec<(String, i64)> = d["user"]["videos"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            (
                e["node"]["id"].as_str().expect("id").to_owned(),
                e["node"]["viewCount"].as_i64().expect("count"),
            )
        })
        .collect();
    assert_eq!(counts.len(), 2);
    for (id, n) in counts {
        assert_eq!(n, if id == vid(video) { 5 } else { 0 }, "{id}");
    }
    // N more views, N more counted.
    for _ in 0..20 {
        h.ok(None, VIEW, json!({ "v": vid(other), "w": 0 })).await;
    }
    assert_eq!(view_count(&h, None, other).await, 20);
    assert_eq!(stored(&h.db, other).await, (20, 20));
}

#[tokio::test]
async fn a_video_the_viewer_cannot_see_is_not_found_and_stores_nothing() {
    let h = Harness::new().await;
    let private = h
        .account("priv", Visibility::Private, LikesVisibility::Everyone)
        .await;
    let public = h
        .account("pub", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let stranger = h
        .account("stranger", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let pending = h
        .account("pending", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let follower = h
        .account("follower", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let blocked = h
        .account("blocked", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let blocker = h
        .account("blocker", Visibility::Public, LikesVisibility::Everyone)
        .await;
    insert_follow(&h.db, pending, private, FollowState::Pending).await;
    insert_follow(&h.db, follower, private, FollowState::Approved).await;
    insert_block(&h.db, public, blocked).await;
    insert_block(&h.db, blocker, public).await;
    let hidden = video_by(&h.db, private).await;
    let shown = video_by(&h.db, public).await;
    for (viewer, video) in [
        (None, hidden),
        (Some(stranger), hidden),
        (Some(pending), hidden),
        // Across a block, either way round.
        (Some(blocked), shown),
        (Some(blocker), shown),
    ] {
        let e = h
            .err(viewer, VIEW, json!({ "v": vid(video), "w": 500 }))
            .await;
        assert_eq!(e["code"], "NOT_FOUND", "{viewer:?}");
    }
    // A video that does not exist, and one deleted.
    let gone = video_by(&h.db, public).await;
    h.ok(
        Some(public),
        "mutation($v: ID!) { deleteVideo(id: $v) }",
        json!({ "v": vid(gone) }),
    )
    .await;
    let e = h.err(None, VIEW, json!({ "v": vid(gone), "w": 1 })).await;
    assert_eq!(e["code"], "NOT_FOUND");
    let e = h
        .err(None, VIEW, json!({ "v": vid(Uuid::now_v7()), "w": 1 }))
        .await;
    assert_eq!(e["code"], "NOT_FOUND");
    assert_eq!(stored(&h.db, hidden).await, (0, 0));
    assert_eq!(stored(&h.db, shown).await, (0, 0));
    // Those who may see them can.
    h.ok(Some(follower), VIEW, json!({ "v": vid(hidden), "w": 1 }))
        .await;
    h.ok(Some(private), VIEW, json!({ "v": vid(hidden), "w": 1 }))
        .await;
    h.ok(Some(stranger), VIEW, json!({ "v": vid(shown), "w": 1 }))
        .await;
    assert_eq!(stored(&h.db, hidden).await, (2, 2));
    assert_eq!(stored(&h.db, shown).await, (1, 1));
    // A malformed ID is a bad input.
    let e = h.err(None, VIEW, json!({ "v": "nope", "w": 1 })).await;
    assert_eq!(e["code"], "BAD_USER_INPUT");
    assert_eq!(e["field"], "videoId");
}

#[tokio::test]
async fn watch_ms_is_0_to_an_hour() {
    let h = Harness::new().await;
    let author = h
        .account("maya", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let video = video_by(&h.db, author).await;
    for ok in [0, 1, 3_600_000] {
        h.ok(None, VIEW, json!({ "v": vid(video), "w": ok })).await;
    }
    for bad in [-1, 3_600_001, i32::MIN, i32::MAX] {
        let v = h
            .run(None, VIEW, json!({ "v": vid(video), "w": bad }))
            .await;
        let e = &v["errors"][0];
        assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{v}");
        assert_eq!(e["extensions"]["field"], "watchMs", "{v}");
        assert!(
            e["message"].as_str().unwrap_or("").contains("watchMs"),
            "{v}"
        );
    }
    // Bad input for a hidden video too: nothing is looked up before the check.
    assert_eq!(stored(&h.db, video).await, (3, 3));
    let mut q = Sql::default();
    let v = q.bind(video);
    q.push_unchecked(&format!(
        "SELECT CAST(SUM(watch_ms) AS BIGINT) AS events, \
         (SELECT CAST(SUM(watch_ms) AS BIGINT) FROM video_view_counters WHERE video_id = {v}) AS counted \
         FROM video_views WHERE video_id = {v}"
    ));
    let row = q.one(&h.db).await.expect("query").expect("row");
    assert_eq!(col::<i64>(&row, "events").expect("sum"), 3_600_001);
    assert_eq!(col::<i64>(&row, "counted").expect("sum"), 3_600_001);
}

#[tokio::test]
async fn views_are_rate_limited_per_principal_and_a_refused_view_stores_nothing() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits = RateLimits {
            rate_views: Rate::per(1, Duration::from_secs(3600)),
            rate_views_burst: 2,
            ..RateLimits::off()
        }
    })
    .await;
    let author = insert_account(
        &app.db,
        "maya",
        Visibility::Public,
        LikesVisibility::Everyone,
    )
    .await;
    let fan = insert_account(
        &app.db,
        "ana",
        Visibility::Public,
        LikesVisibility::Everyone,
    )
    .await;
    let video = video_by(&app.db, author).await;
    let vars = json!({ "v": vid(video), "w": 100 });
    let fan_token = crate::helpers::token_for(&app.db, fan).await;
    let author_token = crate::helpers::token_for(&app.db, author).await;
    for _ in 0..2 {
        let (_, r) = app.gql(Some(&fan_token), VIEW, vars.clone()).await;
        assert_eq!(r["data"]["recordView"], true, "{r}");
    }
    let (_, r) = app.gql(Some(&fan_token), VIEW, vars.clone()).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{r}");
    assert!(
        r["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{r}"
    );
    assert_eq!(stored(&app.db, video).await, (2, 2));
    // Another account has a bucket of its own; so has the anonymous client's address.
    for token in [Some(author_token.as_str()), None, None] {
        let (_, r) = app.gql(token, VIEW, vars.clone()).await;
        assert_eq!(r["data"]["recordView"], true, "{r}");
    }
    let (_, r) = app.gql(None, VIEW, vars.clone()).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{r}");
    assert_eq!(stored(&app.db, video).await, (5, 5));
    // Likes do not spend the views' bucket.
    let (_, r) = app
        .gql(
            Some(&fan_token),
            "mutation($v: ID!) { likeVideo(videoId: $v) { likeCount } }",
            json!({ "v": vid(video) }),
        )
        .await;
    assert_eq!(r["data"]["likeVideo"]["likeCount"], 1, "{r}");
}

/// Every stored view of `video`, as rows.
async fn rows(db: &DatabaseConnection, video: Uuid) -> Vec<video_view::Model> {
    video_view::Entity::find()
        .filter(video_view::Column::VideoId.eq(video))
        .all(db)
        .await
        .expect("views")
}

/// One view over HTTP with the given headers.
async fn view_with(app: &TestApp, token: Option<&str>, headers: &[(&str, &str)], video: Uuid) {
    let mut req = app
        .http
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": VIEW, "variables": { "v": vid(video), "w": 2500 } }));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let body: Value = req
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert_eq!(body["data"]["recordView"], true, "{body}");
}

const IPHONE: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

#[tokio::test]
async fn a_view_stores_the_hour_the_watch_time_and_the_viewers_aggregate_attributes_only() {
    let at = crate::clock::fixed_instant();
    let app = TestApp::spawn_with(|s| s.clock = Clock::Fixed(at)).await;
    let (author, author_token) = app.sign_up("maya", "").await;
    // 2025 − 1998 = 27.
    let (_, fan_token) = app
        .sign_up(
            "ana",
            r#", birthYear: 1998, region: "de", language: "pt-BR""#,
        )
        .await;
    let (_, plain_token) = app.sign_up("ben", "").await;
    let (_, r) = app
        .gql(
            Some(&fan_token),
            "mutation($u: ID!) { followUser(userId: $u) { state } }",
            json!({ "u": uid(author) }),
        )
        .await;
    assert_eq!(r["data"]["followUser"]["state"], "APPROVED", "{r}");
    let (_, r) = app
        .gql(
            Some(&author_token),
            r#"mutation { createVideo(input: {mediaUrl: "https://media.example.com/v.mp4", caption: "v"}) { id } }"#,
            json!({}),
        )
        .await;
    let video = video_uuid(r["data"]["createVideo"]["id"].as_str().expect("id"));

    view_with(
        &app,
        Some(&fan_token),
        &[("X-Tally-Device", "AnDrOiD"), ("User-Agent", IPHONE)],
        video,
    )
    .await;
    view_with(&app, Some(&fan_token), &[("User-Agent", IPHONE)], video).await;
    view_with(&app, Some(&plain_token), &[("User-Agent", FIREFOX)], video).await;
    view_with(
        &app,
        Some(&plain_token),
        &[("User-Agent", "curl/8.5.0")],
        video,
    )
    .await;
    view_with(&app, None, &[("X-Tally-Device", "ios")], video).await;

    let hour = DateTime::parse_from_rfc3339("2025-07-14T09:00:00Z")
        .expect("hour")
        .timestamp_micros();
    let mut got: Vec<_> = rows(&app.db, video)
        .await
        .into_iter()
        .map(|r| {
            assert_eq!(r.hour, hour, "the hour of the fixed clock");
            assert_eq!(r.watch_ms, 2500);
            assert_eq!(r.creator_id, author);
            assert_eq!(r.folded, 0);
            (
                r.signed_in,
                r.follows_creator,
                r.age_bracket.map(|b| b.to_value()),
                r.region,
                r.language,
                r.device.map(|d| d.to_value()),
            )
        })
        .collect();
    got.sort();
    let s = |v: &str| Some(v.to_owned());
    let mut want = vec![
        // Anonymous: no attributes at all, whatever the headers say.
        (false, false, None, None, None, None),
        (true, true, s("25-34"), s("DE"), s("pt"), s("ANDROID")),
        (true, true, s("25-34"), s("DE"), s("pt"), s("IOS")),
        (
            true,
            false,
            s("UNKNOWN"),
            s("UNKNOWN"),
            s("UNKNOWN"),
            s("WEB"),
        ),
        (
            true,
            false,
            s("UNKNOWN"),
            s("UNKNOWN"),
            s("UNKNOWN"),
            s("OTHER"),
        ),
    ];
    want.sort();
    assert_eq!(got, want);
}

/// The columns of `table`, read from the database's catalogue.
async fn columns(db: &DatabaseConnection, table: &str) -> Vec<String> {
    let mut q = Sql::default();
    if db.get_database_backend() == DbBackend::Postgres {
        let t = q.bind(table);
        q.push_unchecked(&format!(
            "SELECT column_name AS name FROM information_schema.columns WHERE table_name = {t} ORDER BY column_name"
        ));
    } else {
        q.push_unchecked(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY name"
        ));
    }
    q.all(db)
        .await
        .expect("catalogue")
        .iter()
        .map(|r| col(r, "name").expect("name"))
        .collect()
}

#[tokio::test]
async fn no_view_table_holds_the_viewers_account_handle_or_address() {
    let app = TestApp::spawn().await;
    let author = insert_account(
        &app.db,
        "maya.creates",
        Visibility::Public,
        LikesVisibility::Everyone,
    )
    .await;
    let (viewer, token) = app
        .sign_up(
            "watcher.handle",
            r#", displayName: "Wanda Watcher", birthYear: 1990, region: "FR", language: "fr""#,
        )
        .await;
    let video = video_by(&app.db, author).await;
    view_with(
        &app,
        Some(&token),
        &[("User-Agent", FIREFOX), ("X-Forwarded-For", "203.0.113.9")],
        video,
    )
    .await;
    view_with(&app, None, &[("User-Agent", FIREFOX)], video).await;

    // The tables have exactly these columns: nothing that names an account but the creator.
    let mut view_cols = columns(&app.db, "video_views").await;
    view_cols.sort();
    assert_eq!(
        view_cols,
        [
            "age_bracket",
            "creator_id",
            "device",
            "folded",
            "follows_creator",
            "hour",
            "id",
            "language",
            "region",
            "signed_in",
            "video_id",
            "watch_ms",
        ]
    );
    let mut counter_cols = columns(&app.db, "video_view_counters").await;
    counter_cols.sort();
    assert_eq!(
        counter_cols,
        ["completed", "shard", "video_id", "views", "watch_ms"]
    );
    for c in view_cols.iter().chain(&counter_cols) {
        for word in [
            "user", "account", "viewer", "handle", "ip", "addr", "agent", "session",
        ] {
            assert!(!c.contains(word), "column {c} looks like an identity");
        }
    }
    // And no value of any row is the viewer's ID, handle, name or the client's address, in
    // any spelling (every column, as the entity reads it).
    let all = video_view::Entity::find().all(&app.db).await.expect("rows");
    assert_eq!(all.len(), 2);
    let text: Vec<String> = all.iter().map(|r| format!("{r:?}")).collect();
    for r in &all {
        assert!(![r.id, r.video_id, r.creator_id].contains(&viewer));
    }
    let simple = viewer.simple().to_string();
    let forbidden = [
        viewer.to_string(),
        simple.clone(),
        uid(viewer),
        "watcher.handle".to_owned(),
        "Wanda Watcher".to_owned(),
        "127.0.0.1".to_owned(),
        "203.0.113.9".to_owned(),
    ];
    for value in &text {
        let lower = value.to_lowercase().replace('-', "");
        for f in &forbidden {
            let f = f.to_lowercase().replace('-', "");
            assert!(!lower.contains(&f), "a view stores {value:?}");
        }
    }
    // Signed in: the viewer's bracket and codes, nothing finer.
    assert!(
        text.iter()
            .any(|t| t.contains("From35To44") && t.contains("\"FR\"")),
        "{text:?}"
    );
}

#[tokio::test]
async fn deleting_a_video_or_its_creator_removes_its_views_and_counters() {
    let h = Harness::new().await;
    let (author, _) = h.sign_up("maya", "").await;
    let fan = h
        .account("ana", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let first = video_by(&h.db, author).await;
    let second = video_by(&h.db, author).await;
    for v in [first, second] {
        for viewer in [None, Some(fan)] {
            h.ok(viewer, VIEW, json!({ "v": vid(v), "w": 10 })).await;
        }
    }
    assert_eq!(stored(&h.db, first).await, (2, 2));
    h.ok(
        Some(author),
        "mutation($v: ID!) { deleteVideo(id: $v) }",
        json!({ "v": vid(first) }),
    )
    .await;
    assert_eq!(stored(&h.db, first).await, (0, 0));
    assert_eq!(stored(&h.db, second).await, (2, 2));
    h.ok(
        Some(author),
        r#"mutation { deleteAccount(password: "password123") }"#,
        json!({}),
    )
    .await;
    assert_eq!(stored(&h.db, second).await, (0, 0));
    let mut q = Sql::default();
    q.append(
        "SELECT (SELECT COUNT(*) FROM video_views) + (SELECT COUNT(*) FROM video_view_counters) AS n",
    );
    let n: i64 = col(&q.one(&h.db).await.expect("q").expect("row"), "n").expect("n");
    assert_eq!(n, 0, "nothing left of the deleted creator's views");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_views_released_together_are_all_counted_exactly_once() {
    const CLIENTS: usize = 64;
    const EACH: usize = 4;
    let db = fresh_db_with_pool(32).await;
    let author = insert_account(&db, "hot", Visibility::Public, LikesVisibility::Everyone).await;
    let mut viewers = Vec::new();
    for i in 0..CLIENTS / 2 {
        let lv = LikesVisibility::Everyone;
        viewers.push(Some(
            insert_account(&db, &format!("v{i}"), Visibility::Public, lv).await,
        ));
    }
    viewers.resize(CLIENTS, None); // half of them anonymous
    let video = video_by(&db, author).await;
    let sketches = crate::helpers::sketch_buffer();
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let tasks: Vec<_> = viewers
        .into_iter()
        .enumerate()
        .map(|(i, viewer)| {
            let (db, barrier, sketches) = (db.clone(), barrier.clone(), sketches.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                for round in 0..EACH {
                    let watch = i32::try_from(i * 10 + round).expect("small");
                    record_view(
                        &db,
                        &sketches,
                        viewer,
                        video,
                        watch,
                        DeviceClass::Web,
                        Utc::now(),
                    )
                    .await
                    .map_err(|e| e.message())?;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for t in futures_util::future::join_all(tasks).await {
        t.expect("task").expect("every view is acknowledged");
    }
    let n = i64::try_from(CLIENTS * EACH).expect("small");
    assert_eq!(stored(&db, video).await, (n, n));
    let h = Harness::with_db(db);
    assert_eq!(view_count(&h, None, video).await, n);
}

/// Group commit across a deletion: 64 clients released together record views of two videos
/// through the batching writer while the author deletes one of them. Every acknowledged
/// view of the kept video is counted once (event rows and counters), the deleted video
/// leaves nothing behind, a view of it is either acknowledged or `NOT_FOUND`, and the
/// rollups and counters show no drift once everything is folded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batched_views_racing_a_video_deletion_are_counted_once_or_not_at_all() {
    use tally::{
        domain::{counters, fold, rollups, videos::delete_video, view_writer::ViewWriter},
        error::AppError,
    };
    const CLIENTS: usize = 64;
    const EACH: usize = 6;
    let db = fresh_db_with_pool(32).await;
    let author = insert_account(&db, "hot", Visibility::Public, LikesVisibility::Everyone).await;
    let mut viewers = Vec::new();
    for i in 0..CLIENTS / 2 {
        let lv = LikesVisibility::Everyone;
        viewers.push(Some(
            insert_account(&db, &format!("v{i}"), Visibility::Public, lv).await,
        ));
    }
    viewers.resize(CLIENTS, None);
    let doomed = video_by(&db, author).await;
    let kept = video_by(&db, author).await;
    let sketches = crate::helpers::sketch_buffer();
    // Folded views of the doomed video: its deletion must take them out of the rollups.
    for viewer in [None, viewers[0]] {
        record_view(
            &db,
            &sketches,
            viewer,
            doomed,
            30_000,
            DeviceClass::Ios,
            Utc::now(),
        )
        .await
        .expect("view");
    }
    fold::fold_views(&db, 1_000).await.expect("fold");
    let writer = Arc::new(ViewWriter::new(db.clone(), sketches.clone()));
    let barrier = Arc::new(Barrier::new(CLIENTS + 1));
    let tasks: Vec<_> = viewers
        .into_iter()
        .enumerate()
        .map(|(i, viewer)| {
            let (writer, barrier) = (writer.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let (mut kept_acked, mut doomed_acked) = (0i64, 0i64);
                for round in 0..EACH {
                    let video = if (i + round) % 2 == 0 { doomed } else { kept };
                    let watch = i32::try_from(i * 1_000 + round).expect("small");
                    match writer
                        .record(viewer, video, watch, DeviceClass::Web, Utc::now())
                        .await
                    {
                        Ok(()) if video == kept => kept_acked += 1,
                        Ok(()) => doomed_acked += 1,
                        Err(AppError::NotFound) if video == doomed => {}
                        Err(e) => return Err(e.message()),
                    }
                }
                Ok::<_, String>((kept_acked, doomed_acked))
            })
        })
        .collect();
    let deleter = {
        let (db, barrier) = (db.clone(), barrier.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            tokio::time::sleep(Duration::from_millis(3)).await;
            delete_video(&db, author, doomed, now_us()).await
        })
    };
    let (mut kept_acked, mut doomed_acked) = (0, 0);
    for t in futures_util::future::join_all(tasks).await {
        let (k, d) = t
            .expect("task")
            .expect("a view is acknowledged or NOT_FOUND");
        kept_acked += k;
        doomed_acked += d;
    }
    deleter
        .await
        .expect("deleter")
        .map_err(|e| e.message())
        .expect("deleted");
    assert_eq!(
        kept_acked,
        i64::try_from(CLIENTS * EACH / 2).expect("small"),
        "every view of the kept video is acknowledged"
    );
    assert_eq!(stored(&db, kept).await, (kept_acked, kept_acked));
    assert_eq!(
        stored(&db, doomed).await,
        (0, 0),
        "{doomed_acked} acknowledged before"
    );
    fold::fold_views(&db, 100_000).await.expect("fold");
    assert_eq!(counters::drift(&db).await.expect("drift").len(), 0);
    let drift = rollups::drift(&db, true).await.expect("rollup drift");
    assert!(drift.is_empty(), "rollup drift: {drift:?}");
}
