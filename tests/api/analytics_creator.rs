//! The read side of creator analytics: `creatorAnalytics(window)` and `Video.stats`, their
//! permissions, windows, thresholds and percentiles, and that no analytics output names an
//! account. Views reach the rollups through [`folded_view`], a fixture that writes what the
//! fold job will.
use std::collections::BTreeSet;

use async_graphql::{Request, Variables};
use chrono::{DateTime, Utc};
use entity::{DeviceClass, LikesVisibility, Visibility};
use sea_orm::DatabaseConnection;
use serde_json::{json, Value};
use tally::{
    auth::Viewer,
    clock::Clock,
    config::Thresholds,
    db::Sql,
    domain::{
        analytics::record_view,
        likes::{like_video, unlike_video},
        rollups::DAY_US,
        social::{block_user, follow_user},
        videos::NewVideo,
    },
    graphql::request_data,
};
use uuid::Uuid;

use crate::helpers::{insert_account, insert_follow, uid, vid, Harness};

/// Saturday 2026-06-20 13:30 UTC: the last complete day is Friday the 19th.
const NOW: &str = "2026-06-20T13:30:00Z";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("instant")
        .with_timezone(&Utc)
}

fn us(s: &str) -> i64 {
    t(s).timestamp_micros()
}

/// Thresholds of 1: everything is shown (for tests about counting, not withholding).
const SHOW_ALL: Thresholds = Thresholds {
    min_audience: 1,
    min_bucket: 1,
};

/// Runs `query` as `viewer` with the clock fixed at [`NOW`] and thresholds `th`.
async fn ask(h: &Harness, viewer: Option<Uuid>, th: Thresholds, query: &str, vars: Value) -> Value {
    let req = Request::new(query).variables(Variables::from_json(vars));
    let req = request_data(req, &h.db, Viewer(viewer))
        .data(Clock::Fixed(t(NOW)))
        .data(th);
    serde_json::to_value(h.schema.execute(req).await).expect("response")
}

async fn ok(h: &Harness, viewer: Option<Uuid>, th: Thresholds, query: &str, vars: Value) -> Value {
    let v = ask(h, viewer, th, query, vars).await;
    assert!(v.get("errors").is_none(), "errors for {query}: {v}");
    v["data"].clone()
}

async fn creator(db: &DatabaseConnection, handle: &str) -> Uuid {
    let id = insert_account(db, handle, Visibility::Public, LikesVisibility::Everyone).await;
    let mut q = Sql::default();
    let c = q.bind(id);
    q.push_unchecked(&format!(
        "UPDATE users SET account_type = 'CREATOR' WHERE id = {c}"
    ));
    q.execute(db).await.expect("creator");
    id
}

async fn fan(db: &DatabaseConnection, handle: &str, birth: Option<i32>, region: &str) -> Uuid {
    let id = insert_account(db, handle, Visibility::Public, LikesVisibility::Everyone).await;
    let mut q = Sql::default();
    let (y, r, me) = (q.bind(birth), q.bind(region.to_owned()), q.bind(id));
    q.push_unchecked(&format!(
        "UPDATE users SET birth_year = {y}, region = {r}, language = 'en' WHERE id = {me}"
    ));
    q.execute(db).await.expect("fan");
    id
}

async fn video(db: &DatabaseConnection, author: Uuid, tags: &[&str], at: i64) -> Uuid {
    let input = NewVideo {
        caption: "c".into(),
        hashtags: tags.iter().map(|t| (*t).to_owned()).collect(),
        sound: Some("beat".into()),
        duration_ms: Some(10_000),
        media_url: "https://media.example.com/v.mp4".into(),
        thumbnail_url: None,
    };
    crate::helpers::make_video(db, author, input, at).await
}

/// A view of `video` at `at`, recorded and folded by the fold job (its creator hour, its
/// video day and, signed in, its viewer's sketches).
async fn folded_view(
    db: &DatabaseConnection,
    video: Uuid,
    viewer: Option<Uuid>,
    at: &str,
    watch_ms: i32,
    device: DeviceClass,
) {
    let sketches = crate::helpers::sketch_buffer();
    record_view(db, &sketches, viewer, video, watch_ms, device, t(at))
        .await
        .map_err(|e| e.message())
        .expect("view");
    tally::domain::fold::drain(db, &sketches)
        .await
        .map_err(|e| e.message())
        .expect("fold");
}

const AUDIENCE: &str = "query($w: AnalyticsWindow!) { creatorAnalytics(window: $w) { \
    totals { views likes unlikes followerCount } \
    audience { followers { ...B } likers { ...B } viewers { ...B } } } } \
    fragment B on Breakdown { available withheldReason population \
    ageBrackets { key count share } regions { key count share } languages { key count share } \
    devices { key count share } }";

/// Every shown dimension of `b` sums to its population and no bucket is under `min`.
fn assert_sound(b: &Value, min: i64, what: &str) {
    if b["available"] == json!(false) {
        return;
    }
    let population = b["population"].as_i64().expect("population");
    for dim in ["ageBrackets", "regions", "languages", "devices"] {
        let Some(buckets) = b[dim].as_array() else {
            continue;
        };
        let sum: i64 = buckets
            .iter()
            .map(|x| x["count"].as_i64().expect("count"))
            .sum();
        assert_eq!(sum, population, "{what}.{dim} sums to the population: {b}");
        for x in buckets {
            assert!(
                x["count"].as_i64().expect("count") >= min,
                "{what}.{dim}: {x} under {min}"
            );
        }
    }
}

#[tokio::test]
async fn anonymous_is_unauthenticated_personal_is_forbidden_and_no_argument_names_another_account()
{
    let h = Harness::new().await;
    let maker = creator(&h.db, "maker").await;
    let other = creator(&h.db, "other").await;
    let personal = fan(&h.db, "person", None, "DE").await;
    let q = "{ creatorAnalytics { totals { views } } }";
    let th = Thresholds::default();
    let v = ask(&h, None, th, q, json!({})).await;
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{v}"
    );
    let v = ask(&h, Some(personal), th, q, json!({})).await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v}");
    ok(&h, Some(maker), th, q, json!({})).await;
    // The field takes a window and nothing else: no argument can name an account.
    let d = ok(
        &h,
        None,
        th,
        r#"{ __schema { queryType { fields { name args { name } } } } }"#,
        json!({}),
    )
    .await;
    let field = d["__schema"]["queryType"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["name"] == "creatorAnalytics")
        .expect("creatorAnalytics")
        .clone();
    assert_eq!(field["args"], json!([{ "name": "window" }]));
    // Video.stats: only for the author, and only a creator.
    let mine = video(&h.db, maker, &["cats"], us("2026-06-19T10:00:00Z")).await;
    let theirs = video(&h.db, other, &["cats"], us("2026-06-19T10:00:00Z")).await;
    // The other creator's figures stay its own: each sees only its own.
    like_video(&h.db, personal, theirs, us("2026-06-19T11:00:00Z"))
        .await
        .expect("like");
    follow_user(&h.db, personal, other, us("2026-06-19T11:00:00Z"))
        .await
        .expect("follow");
    let totals = "{ creatorAnalytics { totals { likes followerCount } hashtags { tag videos } } }";
    let d = ok(&h, Some(maker), th, totals, json!({})).await;
    assert_eq!(
        d["creatorAnalytics"],
        json!({ "totals": { "likes": 0, "followerCount": 0 }, "hashtags": [{ "tag": "cats", "videos": 1 }] })
    );
    let d = ok(&h, Some(other), th, totals, json!({})).await;
    assert_eq!(
        d["creatorAnalytics"]["totals"],
        json!({ "likes": 1, "followerCount": 1 })
    );
    let persons = video(&h.db, personal, &["cats"], us("2026-06-19T10:00:00Z")).await;
    let stats = "query($v: ID!) { node(id: $v) { ... on Video { stats { views } } } }";
    for (viewer, v, shown) in [
        (Some(maker), mine, true),
        (Some(maker), theirs, false),
        (None, mine, false),
        (Some(other), mine, false),
        (Some(personal), persons, false),
    ] {
        let d = ok(&h, viewer, th, stats, json!({ "v": vid(v) })).await;
        assert_eq!(
            d["node"]["stats"].is_object(),
            shown,
            "{viewer:?} on {v}: {d}"
        );
    }
}

#[tokio::test]
async fn totals_daily_and_peak_hours_cover_the_window_with_zeros_under_a_fixed_clock() {
    let h = Harness::new().await;
    let db = &h.db;
    let maker = creator(db, "maker").await;
    let a = fan(db, "a", Some(1990), "DE").await;
    let b = fan(db, "b", Some(2000), "US").await;
    let v1 = video(db, maker, &["cats", "food"], us("2026-06-01T00:00:00Z")).await;
    let v2 = video(db, maker, &["cats"], us("2026-06-02T00:00:00Z")).await;
    // Before the 7-day window (it starts on Saturday the 13th), in the 28-day one.
    like_video(db, a, v1, us("2026-06-12T23:59:00Z"))
        .await
        .expect("like");
    // First day of the window, Saturday 00:xx; a follower's view.
    follow_user(db, b, maker, us("2026-06-13T00:10:00Z"))
        .await
        .expect("follow");
    folded_view(
        db,
        v1,
        Some(b),
        "2026-06-13T00:30:00Z",
        4_000,
        DeviceClass::Ios,
    )
    .await;
    // Monday 09:xx.
    like_video(db, b, v2, us("2026-06-15T09:05:00Z"))
        .await
        .expect("like");
    unlike_video(db, a, v1, us("2026-06-15T09:45:00Z"))
        .await
        .expect("unlike");
    // Friday the 19th, the last day; an anonymous view.
    folded_view(
        db,
        v2,
        None,
        "2026-06-19T23:59:00Z",
        6_000,
        DeviceClass::Other,
    )
    .await;
    // Today: after the window.
    like_video(db, a, v2, us("2026-06-20T01:00:00Z"))
        .await
        .expect("like");
    folded_view(
        db,
        v2,
        None,
        "2026-06-20T02:00:00Z",
        1_000,
        DeviceClass::Other,
    )
    .await;

    let q = "query($w: AnalyticsWindow!) { creatorAnalytics(window: $w) { window from to \
        totals { views likes unlikes newFollowers lostFollowers followerCount watchTimeMs engagementRate } \
        daily { day views likes unlikes newFollowers watchTimeMs } \
        peakHours { dayOfWeek hour views likes followerViews } \
        topVideos(by: VIEWS) { video { id } stats { views likes } } \
        hashtags { tag videos views likes engagementRate } sounds { tag videos views likes } } }";
    let d = ok(&h, Some(maker), SHOW_ALL, q, json!({ "w": "LAST_7_DAYS" })).await;
    let c = &d["creatorAnalytics"];
    assert_eq!(c["window"], "LAST_7_DAYS");
    assert_eq!(
        (c["from"].as_str(), c["to"].as_str()),
        (Some("2026-06-13"), Some("2026-06-19"))
    );
    assert_eq!(
        c["totals"],
        json!({ "views": 2, "likes": 1, "unlikes": 1, "newFollowers": 1, "lostFollowers": 0,
                "followerCount": 1, "watchTimeMs": 10000.0, "engagementRate": 0.5 })
    );
    let days: Vec<&str> = c["daily"]
        .as_array()
        .expect("daily")
        .iter()
        .map(|x| x["day"].as_str().expect("day"))
        .collect();
    assert_eq!(
        days,
        [
            "2026-06-13",
            "2026-06-14",
            "2026-06-15",
            "2026-06-16",
            "2026-06-17",
            "2026-06-18",
            "2026-06-19"
        ]
    );
    assert_eq!(
        c["daily"][0],
        json!({ "day": "2026-06-13", "views": 1, "likes": 0, "unlikes": 0, "newFollowers": 1, "watchTimeMs": 4000.0 })
    );
    assert_eq!(
        c["daily"][1],
        json!({ "day": "2026-06-14", "views": 0, "likes": 0, "unlikes": 0, "newFollowers": 0, "watchTimeMs": 0.0 })
    );
    assert_eq!(c["daily"][2]["likes"], 1);
    assert_eq!(c["daily"][2]["unlikes"], 1);
    assert_eq!(c["daily"][6]["views"], 1);
    let peaks = c["peakHours"].as_array().expect("peaks");
    assert_eq!(peaks.len(), 168);
    assert_eq!(
        peaks[0],
        json!({ "dayOfWeek": 1, "hour": 0, "views": 0, "likes": 0, "followerViews": 0 })
    );
    assert_eq!(
        peaks[9],
        json!({ "dayOfWeek": 1, "hour": 9, "views": 0, "likes": 1, "followerViews": 0 })
    );
    assert_eq!(
        peaks[5 * 24],
        json!({ "dayOfWeek": 6, "hour": 0, "views": 1, "likes": 0, "followerViews": 1 })
    );
    assert_eq!(peaks[4 * 24 + 23]["views"], 1);
    let nonzero = peaks
        .iter()
        .filter(|p| p["views"] != 0 || p["likes"] != 0)
        .count();
    assert_eq!(nonzero, 3);
    // Top videos by the window's views (1 each): the newer, v2, first; stats all-time.
    let top: Vec<&Value> = c["topVideos"].as_array().expect("top").iter().collect();
    assert_eq!(top[0]["video"]["id"], vid(v2));
    assert_eq!(top[0]["stats"], json!({ "views": 2, "likes": 2 }));
    assert_eq!(top[1]["video"]["id"], vid(v1));
    assert_eq!(top[1]["stats"], json!({ "views": 1, "likes": 0 }));
    // Tags: views desc then tag; likes net over the window.
    assert_eq!(
        c["hashtags"],
        json!([
            { "tag": "cats", "videos": 2, "views": 2, "likes": 0, "engagementRate": 0.0 },
            { "tag": "food", "videos": 1, "views": 1, "likes": -1, "engagementRate": -1.0 },
        ])
    );
    assert_eq!(
        c["sounds"],
        json!([{ "tag": "beat", "videos": 2, "views": 2, "likes": 0 }])
    );
    // 28 days: the like of the 12th is in.
    let d = ok(&h, Some(maker), SHOW_ALL, q, json!({ "w": "LAST_28_DAYS" })).await;
    let c = &d["creatorAnalytics"];
    assert_eq!(
        (c["from"].as_str(), c["to"].as_str()),
        (Some("2026-05-23"), Some("2026-06-19"))
    );
    assert_eq!(c["daily"].as_array().map(Vec::len), Some(28));
    assert_eq!(c["totals"]["likes"], 2);
    // The list arguments are bounded.
    let v = ask(
        &h,
        Some(maker),
        SHOW_ALL,
        "{ creatorAnalytics { hashtags(first: 101) { tag } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{v}"
    );
    let v = ask(
        &h,
        Some(maker),
        SHOW_ALL,
        "{ creatorAnalytics { topVideos(first: -1) { stats { views } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{v}"
    );
}

#[tokio::test]
async fn a_population_of_99_is_withheld_100_is_shown_and_a_bucket_of_9_never_appears() {
    let h = Harness::new().await;
    let db = &h.db;
    let maker = creator(db, "maker").await;
    // 79 + 1 in DE, 11 in US, 9 in FR; the 9 FR are born in 2000, everyone else unknown.
    let mut n = 0;
    for (region, count, birth) in [("DE", 79, None), ("US", 11, None), ("FR", 9, Some(2000))] {
        for _ in 0..count {
            let f = fan(db, &format!("f{n}"), birth, region).await;
            insert_follow(db, f, maker, entity::FollowState::Approved).await;
            n += 1;
        }
    }
    let th = Thresholds::default();
    let d = ok(
        &h,
        Some(maker),
        th,
        AUDIENCE,
        json!({ "w": "LAST_28_DAYS" }),
    )
    .await;
    let followers = &d["creatorAnalytics"]["audience"]["followers"];
    assert_eq!(d["creatorAnalytics"]["totals"]["followerCount"], 99);
    assert_eq!(
        *followers,
        json!({ "available": false, "withheldReason": "BELOW_MINIMUM_AUDIENCE", "population": null,
                "ageBrackets": null, "regions": null, "languages": null, "devices": null })
    );
    let last = fan(db, "last", None, "DE").await;
    insert_follow(db, last, maker, entity::FollowState::Approved).await;
    let d = ok(
        &h,
        Some(maker),
        th,
        AUDIENCE,
        json!({ "w": "LAST_28_DAYS" }),
    )
    .await;
    let followers = &d["creatorAnalytics"]["audience"]["followers"];
    assert_eq!(followers["available"], true);
    assert_eq!(followers["population"], 100);
    // FR (9) is folded; OTHER would be 9, so US (11) joins it: OTHER 20.
    assert_eq!(
        followers["regions"],
        json!([{ "key": "DE", "count": 80, "share": 0.8 }, { "key": "OTHER", "count": 20, "share": 0.2 }])
    );
    // The nine born in 2000 (25–34) are folded, and UNKNOWN (91) joins them.
    assert_eq!(
        followers["ageBrackets"],
        json!([{ "key": "OTHER", "count": 100, "share": 1.0 }])
    );
    assert_eq!(followers["devices"], Value::Null);
    assert_sound(followers, 10, "followers");
    // Nine never shows anywhere, and no two dimensions give away a small group: each
    // dimension sums to the population.
    let text = followers.to_string();
    assert!(
        !text.contains("\"FR\"") && !text.contains("25-34"),
        "{text}"
    );
    // Likers and viewers: none, withheld.
    for who in ["likers", "viewers"] {
        let b = &d["creatorAnalytics"]["audience"][who];
        assert_eq!(b["available"], false, "{who}: {b}");
    }
}

#[tokio::test]
async fn one_account_that_views_500_times_or_likes_50_videos_counts_once() {
    let h = Harness::new().await;
    let db = &h.db;
    let maker = creator(db, "maker").await;
    let keen = fan(db, "keen", Some(1995), "BR").await;
    let mut videos = Vec::new();
    for _ in 0..50 {
        videos.push(video(db, maker, &[], us("2026-06-01T00:00:00Z")).await);
    }
    for v in &videos {
        like_video(db, keen, *v, us("2026-06-18T12:00:00Z"))
            .await
            .expect("like");
    }
    for i in 0..500 {
        // Two devices: the account still counts once.
        let device = if i % 5 == 0 {
            DeviceClass::Web
        } else {
            DeviceClass::Ios
        };
        let day = 10 + i % 9;
        let at = format!("2026-06-{day}T08:00:00Z");
        folded_view(db, videos[i % 50], Some(keen), &at, 1_000, device).await;
    }
    let d = ok(
        &h,
        Some(maker),
        SHOW_ALL,
        AUDIENCE,
        json!({ "w": "LAST_28_DAYS" }),
    )
    .await;
    let c = &d["creatorAnalytics"];
    assert_eq!(c["totals"]["views"], 500);
    assert_eq!(c["totals"]["likes"], 50);
    let likers = &c["audience"]["likers"];
    assert_eq!(likers["population"], 1, "{likers}");
    assert_eq!(
        likers["regions"],
        json!([{ "key": "BR", "count": 1, "share": 1.0 }])
    );
    assert_eq!(
        likers["ageBrackets"],
        json!([{ "key": "25-34", "count": 1, "share": 1.0 }])
    );
    let viewers = &c["audience"]["viewers"];
    assert_eq!(viewers["population"], 1, "{viewers}");
    assert_sound(viewers, 1, "viewers");
    assert_sound(likers, 1, "likers");
    // Sketches say IOS 1 and WEB 1; apportioned to the one account (the tie goes to the
    // key that sorts first).
    assert_eq!(
        viewers["devices"],
        json!([{ "key": "IOS", "count": 1, "share": 1.0 }])
    );
    assert_eq!(
        viewers["regions"],
        json!([{ "key": "BR", "count": 1, "share": 1.0 }])
    );
    // Under the production thresholds, one account is withheld everywhere.
    let d = ok(
        &h,
        Some(maker),
        Thresholds::default(),
        AUDIENCE,
        json!({ "w": "LAST_28_DAYS" }),
    )
    .await;
    for who in ["likers", "viewers", "followers"] {
        assert_eq!(
            d["creatorAnalytics"]["audience"][who]["available"], false,
            "{who}"
        );
    }
}

#[tokio::test]
async fn net_likes_over_all_time_equal_the_sum_of_like_counts() {
    let h = Harness::new().await;
    let db = &h.db;
    let maker = creator(db, "maker").await;
    let mut fans = Vec::new();
    for i in 0..6 {
        fans.push(fan(db, &format!("f{i}"), None, "DE").await);
    }
    let mut videos = Vec::new();
    for _ in 0..3 {
        videos.push(video(db, maker, &["x"], us("2026-01-01T00:00:00Z")).await);
    }
    for (i, f) in fans.iter().enumerate() {
        for (j, v) in videos.iter().enumerate() {
            let at = us("2026-03-01T00:00:00Z") + (i * 3 + j) as i64 * DAY_US;
            like_video(db, *f, *v, at).await.expect("like");
            if (i + j) % 3 == 0 {
                unlike_video(db, *f, *v, at + 3_600_000_000)
                    .await
                    .expect("unlike");
            }
        }
    }
    // A block removes the blocked fan's likes: unlikes at the block.
    block_user(db, maker, fans[1], us("2026-05-01T00:00:00Z"))
        .await
        .expect("block");
    let d = ok(
        &h,
        Some(maker),
        SHOW_ALL,
        "{ creatorAnalytics(window: LAST_365_DAYS) { totals { likes unlikes } } }",
        json!({}),
    )
    .await;
    let totals = &d["creatorAnalytics"]["totals"];
    let net =
        totals["likes"].as_i64().expect("likes") - totals["unlikes"].as_i64().expect("unlikes");
    let mut sum = 0;
    for v in &videos {
        let d = ok(
            &h,
            Some(maker),
            SHOW_ALL,
            "query($v: ID!) { node(id: $v) { ... on Video { likeCount } } }",
            json!({ "v": vid(*v) }),
        )
        .await;
        sum += d["node"]["likeCount"].as_i64().expect("likeCount");
    }
    assert_eq!(net, sum);
    assert!(sum > 0 && totals["unlikes"].as_i64() > Some(2), "{totals}");
}

#[tokio::test]
async fn video_stats_rank_engagement_among_the_creators_videos_and_a_niche_needs_20_videos() {
    let h = Harness::new().await;
    let db = &h.db;
    let maker = creator(db, "maker").await;
    let fans: Vec<Uuid> = {
        let mut out = Vec::new();
        for i in 0..4 {
            out.push(fan(db, &format!("f{i}"), None, "DE").await);
        }
        out
    };
    let recent = us("2026-06-15T00:00:00Z");
    // Three videos of the maker, engagement 0.5 (2 likes / 4 views), 0.25, 0.25.
    let a = video(db, maker, &["cats", "food"], recent).await;
    let b = video(db, maker, &["cats"], recent).await;
    let c = video(db, maker, &["dogs"], recent).await;
    for (v, views, likes) in [(a, 4, 2), (b, 4, 1), (c, 4, 1)] {
        for i in 0..views {
            // Watch 10 s of a 10 s video every other view: completion 0.5.
            let watch = if i % 2 == 0 { 10_000 } else { 5_000 };
            record_view(
                db,
                &crate::helpers::sketch_buffer(),
                None,
                v,
                watch,
                DeviceClass::Web,
                t("2026-06-16T00:00:00Z"),
            )
            .await
            .expect("view");
        }
        for f in fans.iter().take(likes) {
            like_video(db, *f, v, recent).await.expect("like");
        }
    }
    // A niche of "cats": the maker's two and 17 public videos of others, each with one
    // view and no like (rate 0) — 19 videos.
    let others = creator(db, "others").await;
    let mut niche = Vec::new();
    for _ in 0..17 {
        let v = video(db, others, &["cats"], recent).await;
        record_view(
            db,
            &crate::helpers::sketch_buffer(),
            None,
            v,
            1,
            DeviceClass::Web,
            t("2026-06-16T00:00:00Z"),
        )
        .await
        .expect("view");
        niche.push(v);
    }
    // Not in the niche: older than 28 days, or a private author's.
    let old = video(db, others, &["cats"], us("2026-05-01T00:00:00Z")).await;
    record_view(
        db,
        &crate::helpers::sketch_buffer(),
        None,
        old,
        1,
        DeviceClass::Web,
        t("2026-06-16T00:00:00Z"),
    )
    .await
    .expect("view");
    let hidden = insert_account(db, "hidden", Visibility::Private, LikesVisibility::Everyone).await;
    video(db, hidden, &["cats"], recent).await;
    let q = "query($v: ID!) { node(id: $v) { ... on Video { stats { views likes watchTimeMs \
        averageWatchMs completionRate engagementRate ownPercentile niche nichePercentile } } } }";
    let stats = |d: Value| d["node"]["stats"].clone();
    let s = stats(ok(&h, Some(maker), SHOW_ALL, q, json!({ "v": vid(a) })).await);
    assert_eq!(
        s,
        json!({ "views": 4, "likes": 2, "watchTimeMs": 30000.0, "averageWatchMs": 7500.0,
                "completionRate": 0.5, "engagementRate": 0.5,
                // Above both others (0.25, 0.25).
                "ownPercentile": 100.0, "niche": "cats", "nichePercentile": null })
    );
    let s = stats(ok(&h, Some(maker), SHOW_ALL, q, json!({ "v": vid(b) })).await);
    // Below a (0.5), equal to c (0.25): (0 + ½) / 2.
    assert_eq!(s["ownPercentile"], 25.0);
    assert_eq!(
        s["nichePercentile"],
        Value::Null,
        "19 videos: no niche figure"
    );
    // The 20th video of the niche.
    let v = video(db, others, &["cats"], recent).await;
    record_view(
        db,
        &crate::helpers::sketch_buffer(),
        None,
        v,
        1,
        DeviceClass::Web,
        t("2026-06-16T00:00:00Z"),
    )
    .await
    .expect("view");
    let s = stats(ok(&h, Some(maker), SHOW_ALL, q, json!({ "v": vid(a) })).await);
    // a (0.5) is above the 18 others' 0 and b's 0.25: 19 of 19.
    assert_eq!(s["nichePercentile"], 100.0);
    let s = stats(ok(&h, Some(maker), SHOW_ALL, q, json!({ "v": vid(b) })).await);
    // b (0.25): above 18 zeros, below a: 18 / 19.
    let want = 100.0 * 18.0 / 19.0;
    assert!(
        (s["nichePercentile"].as_f64().expect("figure") - want).abs() < 1e-9,
        "{s}"
    );
    // "dogs" has one video: no figure; a video without views has no rates.
    let s = stats(ok(&h, Some(maker), SHOW_ALL, q, json!({ "v": vid(c) })).await);
    assert_eq!(
        (s["niche"].as_str(), &s["nichePercentile"]),
        (Some("dogs"), &Value::Null)
    );
    let quiet = video(db, maker, &[], recent).await;
    let s = stats(ok(&h, Some(maker), SHOW_ALL, q, json!({ "v": vid(quiet) })).await);
    assert_eq!(
        s,
        json!({ "views": 0, "likes": 0, "watchTimeMs": 0.0, "averageWatchMs": null,
                "completionRate": null, "engagementRate": null, "ownPercentile": null,
                "niche": null, "nichePercentile": null })
    );
    // A page of the maker's videos asks for all stats in one batch.
    let d = ok(
        &h,
        Some(maker),
        SHOW_ALL,
        "query($u: ID!) { node(id: $u) { ... on User { videos(first: 20) { edges { node { stats { ownPercentile } } } } } } }",
        json!({ "u": uid(maker) }),
    )
    .await;
    let edges = d["node"]["videos"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 4);
    assert!(edges.iter().all(|e| e["node"]["stats"].is_object()));
}

/// The selection of every field of `type_name` and below, from introspection: leaves as
/// they are, objects recursively; a `Video` only as its `id` and `stats` (the video is the
/// creator's own; its other fields are not analytics).
fn selection(types: &Value, type_name: &str, depth: usize) -> String {
    let ty = types
        .as_array()
        .expect("types")
        .iter()
        .find(|t| t["name"] == type_name)
        .unwrap_or_else(|| panic!("type {type_name}"));
    let mut out = Vec::new();
    for f in ty["fields"].as_array().expect("fields") {
        let name = f["name"].as_str().expect("name");
        let mut t = &f["type"];
        while t["name"].is_null() {
            t = &t["ofType"];
        }
        let inner = t["name"].as_str().expect("type name");
        let kind = t["kind"].as_str().expect("kind");
        if kind == "OBJECT" {
            if inner == "Video" {
                out.push(format!(
                    "{name} {{ id caption stats {{ {} }} }}",
                    selection(types, "VideoStats", depth + 1)
                ));
            } else if depth < 6 {
                out.push(format!(
                    "{name} {{ {} }}",
                    selection(types, inner, depth + 1)
                ));
            }
        } else {
            out.push(name.to_owned());
        }
    }
    out.join(" ")
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings(x, out)
        }),
        _ => {}
    }
}

#[tokio::test]
async fn no_analytics_field_carries_an_account_id_handle_or_name_but_the_creators() {
    let h = Harness::new().await;
    let db = &h.db;
    let maker = creator(db, "maker").await;
    let v = video(db, maker, &["cats"], us("2026-06-10T00:00:00Z")).await;
    let mut fans = Vec::new();
    for i in 0..12 {
        let f = fan(
            db,
            &format!("fanhandle{i}"),
            Some(1980 + i),
            if i % 2 == 0 { "DE" } else { "US" },
        )
        .await;
        follow_user(db, f, maker, us("2026-06-11T00:00:00Z"))
            .await
            .expect("follow");
        like_video(db, f, v, us("2026-06-13T00:00:00Z"))
            .await
            .expect("like");
        folded_view(
            db,
            v,
            Some(f),
            "2026-06-13T00:00:00Z",
            2_000,
            DeviceClass::Android,
        )
        .await;
        fans.push(f);
    }
    let d = ok(
        &h,
        None,
        SHOW_ALL,
        "{ __schema { types { name kind fields { name type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }",
        json!({}),
    )
    .await;
    let types = &d["__schema"]["types"];
    let q = format!(
        "{{ creatorAnalytics(window: LAST_7_DAYS) {{ {} }} }}",
        selection(types, "CreatorAnalytics", 0)
    );
    let d = ok(&h, Some(maker), SHOW_ALL, &q, json!({})).await;
    let a = &d["creatorAnalytics"];
    assert_eq!(
        a["audience"]["viewers"]["population"], 12,
        "{}",
        a["audience"]
    );
    assert_eq!(a["audience"]["likers"]["population"], 12);
    assert_eq!(a["audience"]["followers"]["population"], 12);
    let mut found = Vec::new();
    strings(&d, &mut found);
    let mut forbidden: BTreeSet<String> = BTreeSet::new();
    for (i, f) in fans.iter().enumerate() {
        forbidden.extend([
            f.to_string(),
            f.simple().to_string(),
            f.to_string().to_uppercase(),
            uid(*f),
            format!("fanhandle{i}"),
        ]);
    }
    for s in &found {
        for bad in &forbidden {
            assert!(!s.contains(bad.as_str()), "`{s}` carries `{bad}`");
        }
    }
    assert!(
        found.iter().any(|s| *s == vid(v)),
        "the creator's own video is there"
    );
}
