//! Trends under a fixed clock: likes in the 24 hours before the current hour against the
//! 168 hours before those, on public videos only (a private author's and a deleted video's
//! likes never count), ordered and paged as API.md says, each video visible to the viewer.
use entity::{FollowState, LikesVisibility, Visibility};
use serde_json::{json, Value};
use tally::{
    clock::Clock,
    domain::{
        likes::{like_video, unlike_video},
        videos::{delete_video, NewVideo},
    },
};
use uuid::Uuid;

use crate::helpers::{insert_block, insert_follow, Harness};

/// The fixed now: 2026-03-10 12:30 UTC; the current hour starts at 12:00.
const NOW: &str = "2026-03-10T12:30:00Z";
const HOUR_US: i64 = 3_600_000_000;

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(NOW)
        .expect("now")
        .with_timezone(&chrono::Utc)
}

/// A minute into the `h`-th whole hour before the current one (`h` = 1: the last whole
/// hour; 0: the current hour, which no trend counts yet).
fn hours_ago(h: i64) -> i64 {
    let hour = now().timestamp_micros() - 30 * 60_000_000;
    hour - h * HOUR_US + 60_000_000
}

async fn run(h: &Harness, viewer: Option<Uuid>, query: &str, vars: Value) -> Value {
    let req =
        async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(vars));
    let req = tally::graphql::request_data(req, &h.db, tally::auth::Viewer(viewer))
        .data(Clock::Fixed(now()));
    serde_json::to_value(h.schema.execute(req).await).expect("json")
}

async fn video(
    h: &Harness,
    author: Uuid,
    caption: &str,
    tags: &[&str],
    sound: Option<&str>,
) -> Uuid {
    let input = NewVideo {
        caption: caption.into(),
        hashtags: tags.iter().map(|t| (*t).to_owned()).collect(),
        sound: sound.map(str::to_owned),
        duration_ms: None,
        media_url: "https://media.example.com/v.mp4".into(),
        thumbnail_url: None,
    };
    crate::helpers::make_video(&h.db, author, input, hours_ago(300)).await
}

struct World {
    h: Harness,
    fans: Vec<Uuid>,
    /// Blocked by the author of a1 and a2.
    blocked: Uuid,
}

/// a1 (dance, food; beat): 6 likes in the last 24 h, 2 in the week before (and one older
/// than eight days, one in the current hour: neither counts) → velocity 7 · 6 / 2 = 21.
/// a2 (dance; song): 3 in the last 24 h, none before → 7 · 3 / 1 = 21, fewer likes.
/// a3 (cats; by another author): 1 in the last 24 h, 7 before → 1.
/// p1 (dance; beat) by a private author and a4 (ghost) deleted: their likes never count.
async fn world() -> World {
    let h = Harness::new().await;
    let pv = (Visibility::Public, LikesVisibility::Everyone);
    let author = h.account("author", pv.0, pv.1).await;
    let other = h.account("other", pv.0, pv.1).await;
    let private = h.account("private", Visibility::Private, pv.1).await;
    let blocked = h.account("blocked", pv.0, pv.1).await;
    let mut fans = Vec::new();
    for i in 0..10 {
        let fan = h.account(&format!("fan{i}"), pv.0, pv.1).await;
        insert_follow(&h.db, fan, private, FollowState::Approved).await;
        fans.push(fan);
    }
    let a1 = video(&h, author, "a1", &["dance", "food"], Some("beat")).await;
    let a2 = video(&h, author, "a2", &["dance"], Some("song")).await;
    let a3 = video(&h, other, "a3", &["cats"], None).await;
    let p1 = video(&h, private, "p1", &["dance"], Some("beat")).await;
    let a4 = video(&h, author, "a4", &["ghost"], None).await;
    let like = |fan: usize, v: Uuid, ago: i64| {
        let (db, f) = (h.db.clone(), fans[fan]);
        async move {
            like_video(&db, f, v, hours_ago(ago))
                .await
                .map_err(|e| e.message())
                .expect("like");
        }
    };
    for (i, ago) in [1, 2, 5, 12, 23, 24].into_iter().enumerate() {
        like(i, a1, ago).await;
    }
    like(6, a1, 25).await;
    like(7, a1, 192).await;
    like(8, a1, 193).await;
    like(9, a1, 0).await;
    // a2: a like and its unlike in the last day still count as a like made (gross).
    for (i, ago) in [3, 4, 10].into_iter().enumerate() {
        like(i, a2, ago).await;
    }
    unlike_video(&h.db, fans[2], a2, hours_ago(1))
        .await
        .map_err(|e| e.message())
        .expect("unlike");
    like(0, a3, 3).await;
    for i in 1..8 {
        like(i, a3, 24 + i as i64 * 20).await;
    }
    for i in 0..5 {
        like(i, p1, 1 + i as i64).await;
        like(i, a4, 1 + i as i64).await;
    }
    delete_video(&h.db, author, a4, hours_ago(0))
        .await
        .map_err(|e| e.message())
        .expect("delete");
    insert_block(&h.db, author, blocked).await;
    World { h, fans, blocked }
}

const ITEMS: &str = "{ trendingHashtags { name likesLast24h velocity } \
    trendingSounds { name likesLast24h velocity } }";
const VIDEOS: &str =
    "query($first: Int, $after: String) { trendingVideos(first: $first, after: $after) { \
    edges { cursor node { caption } } pageInfo { hasNextPage endCursor } } }";

fn item(name: &str, likes: i64, velocity: f64) -> Value {
    json!({ "name": name, "likesLast24h": likes, "velocity": velocity })
}

#[tokio::test]
async fn hashtags_and_sounds_trend_by_velocity_from_public_videos_only() {
    let w = world().await;
    let got = run(&w.h, None, ITEMS, json!({})).await;
    assert_eq!(
        got["data"],
        json!({
            // dance: a1 + a2, 9 likes against 2 → 31.5; p1's likes are not counted.
            "trendingHashtags": [item("dance", 9, 31.5), item("food", 6, 21.0), item("cats", 1, 1.0)],
            "trendingSounds": [item("beat", 6, 21.0), item("song", 3, 21.0)],
        }),
        "{got}"
    );
    // The same for a signed-in viewer, even one the author blocked (aggregates only).
    let blocked = run(&w.h, Some(w.blocked), ITEMS, json!({})).await;
    assert_eq!(blocked["data"], got["data"]);
    let one = run(
        &w.h,
        None,
        "{ trendingHashtags(first: 1) { name } }",
        json!({}),
    )
    .await;
    assert_eq!(
        one["data"],
        json!({ "trendingHashtags": [{ "name": "dance" }] })
    );
    for bad in [-1, 101] {
        let q = format!("{{ trendingSounds(first: {bad}) {{ name }} }}");
        let e = run(&w.h, None, &q, json!({})).await;
        assert_eq!(
            e["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{e}"
        );
    }
}

fn captions(page: &Value) -> Vec<String> {
    page["data"]["trendingVideos"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["caption"].as_str().expect("caption").to_owned())
        .collect()
}

#[tokio::test]
async fn trending_videos_page_in_order_and_hide_what_the_viewer_cannot_see() {
    let w = world().await;
    let all = run(&w.h, None, VIDEOS, json!({ "first": 20 })).await;
    assert_eq!(captions(&all), ["a1", "a2", "a3"], "{all}");
    assert_eq!(
        all["data"]["trendingVideos"]["pageInfo"]["hasNextPage"],
        false
    );
    // Two pages of two, for a signed-in fan.
    let fan = Some(w.fans[0]);
    let first = run(&w.h, fan, VIDEOS, json!({ "first": 2 })).await;
    assert_eq!(captions(&first), ["a1", "a2"], "{first}");
    let info = &first["data"]["trendingVideos"]["pageInfo"];
    assert_eq!(info["hasNextPage"], true);
    let after = info["endCursor"].clone();
    let second = run(&w.h, fan, VIDEOS, json!({ "first": 2, "after": after })).await;
    assert_eq!(captions(&second), ["a3"], "{second}");
    assert_eq!(
        second["data"]["trendingVideos"]["pageInfo"]["hasNextPage"],
        false
    );
    // The viewer the author blocked sees neither of the author's videos.
    let blocked = run(&w.h, Some(w.blocked), VIDEOS, json!({ "first": 20 })).await;
    assert_eq!(captions(&blocked), ["a3"], "{blocked}");
    // What this service did not issue as a cursor is refused.
    for bad in [json!("nonsense"), json!("A".repeat(54))] {
        let e = run(&w.h, None, VIDEOS, json!({ "first": 2, "after": bad })).await;
        assert_eq!(
            e["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{e}"
        );
    }
    // Turning private takes the author's videos out of the trends.
    let mut q = tally::db::Sql::default();
    q.push_unchecked("UPDATE users SET visibility = 'PRIVATE' WHERE handle = 'other'");
    q.execute(&w.h.db).await.expect("private");
    let now_private = run(&w.h, None, VIDEOS, json!({ "first": 20 })).await;
    assert_eq!(captions(&now_private), ["a1", "a2"], "{now_private}");
}
