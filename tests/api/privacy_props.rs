//! Randomized worlds against the pure reference: every viewer (anonymous included) and
//! every video, `likeCount`, `visibleLikers` (one page and walked), `totalCount`,
//! `hiddenCount`, `viewerHasLiked`, `User.likedVideos`, `User.videos` and `feed` must equal
//! what `tally::privacy` says, and so must the account-level guards the lists decide first
//! (`privacy::sql::likes_of_visible` / `videos_of_visible` against `can_see_likes_of` /
//! `can_see_videos_of`). The worlds are built through the domain use cases (likes, follows,
//! settings changes, blocks, unlikes), so their side effects are checked too.
use std::collections::{HashMap, HashSet};

use entity::{FollowState, LikesVisibility, Visibility};
use proptest::prelude::*;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{json, Value};
use tally::{
    clock::Clock,
    config::Limits,
    db::{col, Sql},
    domain::{
        accounts::{update_account, AccountChanges},
        counters,
        likes::{like_video, unlike_video},
        social::{block_user, follow_user},
        videos::{create_video, NewVideo},
    },
    privacy::{
        audience, can_see_account, can_see_like, can_see_likes_of, can_see_video,
        can_see_videos_of, sql as policy, Graph,
    },
};
use uuid::Uuid;

use crate::helpers::{fresh_db, insert_account, now_us, uid, vid, Harness};

/// A world as the generator draws it (indices into users / videos).
#[derive(Debug, Clone)]
struct WorldSpec {
    /// (private at the end, likesVisibility at sign-up, likesVisibility at the end, reopens)
    users: Vec<(bool, u8, u8, bool)>,
    videos: Vec<usize>,
    likes: Vec<(usize, usize)>,
    early_follows: Vec<(usize, usize)>,
    late_follows: Vec<(usize, usize)>,
    blocks: Vec<(usize, usize)>,
    unlikes: Vec<(usize, usize)>,
    page_size: i32,
}

fn lv(n: u8) -> LikesVisibility {
    [
        LikesVisibility::Everyone,
        LikesVisibility::Followers,
        LikesVisibility::OnlyMe,
    ][n as usize % 3]
}

fn world_spec() -> impl Strategy<Value = WorldSpec> {
    (2usize..=6, 1usize..=4).prop_flat_map(|(n_users, n_videos)| {
        let user = (any::<bool>(), 0u8..3, 0u8..3, prop::bool::weighted(0.2));
        let pair = (0..n_users, 0..n_users);
        let like = (0..n_users, 0..n_videos);
        (
            prop::collection::vec(user, n_users),
            prop::collection::vec(0..n_users, n_videos),
            prop::collection::vec(like.clone(), 0..16),
            prop::collection::vec(pair.clone(), 0..10),
            prop::collection::vec(pair.clone(), 0..6),
            prop::collection::vec(pair, 0..3),
            prop::collection::vec(like, 0..4),
            1i32..=3,
        )
            .prop_map(
                |(
                    users,
                    videos,
                    likes,
                    early_follows,
                    late_follows,
                    blocks,
                    unlikes,
                    page_size,
                )| WorldSpec {
                    users,
                    videos,
                    likes,
                    early_follows,
                    late_follows,
                    blocks,
                    unlikes,
                    page_size,
                },
            )
    })
}

/// The reference world: plain collections, read through `tally::privacy`'s pure rules.
#[derive(Debug, Default)]
struct Model {
    users: Vec<(Uuid, Visibility, LikesVisibility)>,
    follows: HashMap<(Uuid, Uuid), FollowState>,
    blocks: HashSet<(Uuid, Uuid)>,
    videos: Vec<(Uuid, Uuid)>,
    likes: HashSet<(Uuid, Uuid)>,
}

impl Graph for Model {
    fn follows(&self, follower: Uuid, followee: Uuid) -> bool {
        self.follows.get(&(follower, followee)) == Some(&FollowState::Approved)
    }
    fn blocked_between(&self, a: Uuid, b: Uuid) -> bool {
        self.blocks.contains(&(a, b)) || self.blocks.contains(&(b, a))
    }
}

impl Model {
    fn user(&self, id: Uuid) -> (Visibility, LikesVisibility) {
        let u = self.users.iter().find(|u| u.0 == id).expect("known user");
        (u.1, u.2)
    }
    fn author(&self, video: Uuid) -> Uuid {
        self.videos
            .iter()
            .find(|v| v.0 == video)
            .expect("known video")
            .1
    }
    fn video_visible(&self, viewer: Option<Uuid>, video: Uuid) -> bool {
        let author = self.author(video);
        can_see_video(viewer, author, self.user(author).0, self)
    }
    fn like_visible(&self, viewer: Option<Uuid>, video: Uuid, liker: Uuid) -> bool {
        let author = self.author(video);
        let (vis, likes) = self.user(liker);
        can_see_like(
            viewer,
            author,
            self.user(author).0,
            liker,
            audience(vis, likes),
            self,
        )
    }
}

fn ok<T>(r: Result<T, tally::error::AppError>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {} ({})", e.message(), e.code()))
}

/// A new video by `author`.
async fn new_video(db: &DatabaseConnection, author: Uuid) -> Uuid {
    let video = NewVideo {
        caption: "c".into(),
        hashtags: vec![],
        sound: None,
        duration_ms: None,
        media_url: "https://media.example.com/v.mp4".into(),
        thumbnail_url: None,
    };
    ok(
        create_video(db, author, video, now_us()).await,
        "create video",
    )
    .video
    .id
}

/// Builds `spec` through the use cases, mirroring each step's documented effect in the model.
async fn build(db: &DatabaseConnection, spec: &WorldSpec) -> Model {
    let mut m = Model::default();
    for (i, (_, first_lv, _, _)) in spec.users.iter().enumerate() {
        let id = insert_account(db, &format!("u{i}"), Visibility::Public, lv(*first_lv)).await;
        m.users.push((id, Visibility::Public, lv(*first_lv)));
    }
    let uids: Vec<Uuid> = m.users.iter().map(|u| u.0).collect();
    for &author in &spec.videos {
        m.videos
            .push((new_video(db, uids[author]).await, uids[author]));
    }
    let vids: Vec<Uuid> = m.videos.iter().map(|v| v.0).collect();
    // Everyone is public and unrelated yet: every like lands (repeats are no-ops).
    for &(u, v) in &spec.likes {
        ok(like_video(db, uids[u], vids[v], now_us()).await, "like");
        m.likes.insert((vids[v], uids[u]));
    }
    for &(a, b) in &spec.early_follows {
        if a != b {
            ok(follow_user(db, uids[a], uids[b], now_us()).await, "follow");
            m.follows.insert((uids[a], uids[b]), FollowState::Approved);
        }
    }
    for (i, &(private, _, last_lv, _)) in spec.users.iter().enumerate() {
        let visibility = if private {
            Visibility::Private
        } else {
            Visibility::Public
        };
        let changes = AccountChanges {
            visibility: Some(visibility),
            likes_visibility: Some(lv(last_lv)),
            ..Default::default()
        };
        ok(
            update_account(db, uids[i], changes, Clock::System).await,
            "update account",
        );
        m.users[i] = (uids[i], visibility, lv(last_lv));
    }
    for &(a, b) in &spec.late_follows {
        if a != b {
            ok(
                follow_user(db, uids[a], uids[b], now_us()).await,
                "late follow",
            );
            let state = if m.user(uids[b]).0 == Visibility::Public {
                FollowState::Approved
            } else {
                FollowState::Pending
            };
            m.follows.entry((uids[a], uids[b])).or_insert(state);
        }
    }
    for &(a, b) in &spec.blocks {
        let (a, b) = (uids[a], uids[b]);
        if a == b {
            continue;
        }
        let result = block_user(db, a, b, now_us()).await;
        if m.blocks.contains(&(a, b)) {
            ok(result, "repeat block");
        } else if !can_see_account(Some(a), b, &m) {
            assert!(
                result.is_err(),
                "blocking an account that blocked you must be NOT_FOUND"
            );
        } else {
            ok(result, "block");
            m.blocks.insert((a, b));
            m.follows.remove(&(a, b));
            m.follows.remove(&(b, a));
            let authors: HashMap<Uuid, Uuid> = m.videos.iter().copied().collect();
            m.likes
                .retain(|(v, l)| !((*l == a && authors[v] == b) || (*l == b && authors[v] == a)));
        }
    }
    for (i, &(_, _, _, reopen)) in spec.users.iter().enumerate() {
        if reopen && m.users[i].1 == Visibility::Private {
            let changes = AccountChanges {
                visibility: Some(Visibility::Public),
                ..Default::default()
            };
            ok(
                update_account(db, uids[i], changes, Clock::System).await,
                "reopen",
            );
            m.users[i].1 = Visibility::Public;
            for ((_, followee), state) in &mut m.follows {
                if *followee == uids[i] {
                    *state = FollowState::Approved;
                }
            }
        }
    }
    for &(u, v) in &spec.unlikes {
        let result = unlike_video(db, uids[u], vids[v], now_us()).await;
        if m.video_visible(Some(uids[u]), vids[v]) {
            ok(result, "unlike");
            m.likes.remove(&(vids[v], uids[u]));
        } else {
            assert!(result.is_err(), "unliking a hidden video must be NOT_FOUND");
        }
    }
    m
}

/// Like rows as stored: `(video, user) → time`, to order the expected lists.
async fn stored_likes(db: &DatabaseConnection) -> HashMap<(Uuid, Uuid), i64> {
    let mut q = Sql::default();
    q.append("SELECT video_id, user_id, created_at FROM likes");
    let rows = q.all(db).await.expect("likes");
    rows.iter()
        .map(|r| {
            let key = (
                col::<Uuid>(r, "video_id").expect("v"),
                col::<Uuid>(r, "user_id").expect("u"),
            );
            (key, col::<i64>(r, "created_at").expect("t"))
        })
        .collect()
}

/// Video rows as stored: `video → time`, to order the expected lists.
async fn stored_videos(db: &DatabaseConnection) -> HashMap<Uuid, i64> {
    let mut q = Sql::default();
    q.append("SELECT id, created_at FROM videos");
    let rows = q.all(db).await.expect("videos");
    rows.iter()
        .map(|r| {
            (
                col::<Uuid>(r, "id").expect("id"),
                col::<i64>(r, "created_at").expect("t"),
            )
        })
        .collect()
}

/// The account-level guards as the SQL evaluates them for `viewer` and `account`:
/// (any of its likes visible, its videos visible).
async fn guards(db: &DatabaseConnection, viewer: Option<Uuid>, account: Uuid) -> (bool, bool) {
    let mut q = Sql::default();
    let v = viewer.map(|id| q.bind(id));
    let a = q.bind(account);
    q.push_unchecked(&format!(
        "SELECT CASE WHEN {} THEN 1 ELSE 0 END AS likes, CASE WHEN {} THEN 1 ELSE 0 END AS videos",
        policy::likes_of_visible(v, a),
        policy::videos_of_visible(v, a)
    ));
    let row = q.one(db).await.expect("guards").expect("a row");
    (
        col::<i32>(&row, "likes").expect("likes") == 1,
        col::<i32>(&row, "videos").expect("videos") == 1,
    )
}

/// Newest first, ties by ID, as the lists order them.
fn newest_first(mut items: Vec<(i64, Uuid)>) -> Vec<String> {
    items.sort_by(|a, b| b.cmp(a));
    items.into_iter().map(|(_, v)| vid(v)).collect()
}

fn ids(list: &Value) -> Vec<String> {
    list["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Checks every viewer against the model; returns the mismatches found.
async fn check(h: &Harness, m: &Model, page_size: i32) -> Vec<String> {
    let mut bad = Vec::new();
    let times = stored_likes(&h.db).await;
    let stored: HashSet<(Uuid, Uuid)> = times.keys().copied().collect();
    if stored != m.likes {
        bad.push(format!("stored likes {stored:?} != model {:?}", m.likes));
        return bad;
    }
    let video_times = stored_videos(&h.db).await;
    let viewers: Vec<Option<Uuid>> = std::iter::once(None)
        .chain(m.users.iter().map(|u| Some(u.0)))
        .collect();
    for viewer in viewers {
        let mut q = String::from("query {");
        for (i, (v, _)) in m.videos.iter().enumerate() {
            q += &format!(
                r#" v{i}: video(id: "{}") {{ likeCount viewerHasLiked visibleLikers(first: 100) {{ totalCount hiddenCount edges {{ node {{ id }} }} }} }}"#,
                vid(*v)
            );
        }
        for (i, _) in m.users.iter().enumerate() {
            q += &format!(
                r#" u{i}: user(handle: "u{i}") {{ id likedVideos(first: 100) {{ edges {{ node {{ id }} }} }} videos(first: 100) {{ edges {{ node {{ id }} }} }} }}"#
            );
        }
        q += " feed(first: 100) { edges { node { id } } } }";
        let data = h.ok(viewer, &q, json!({})).await;
        for (i, &(video, _)) in m.videos.iter().enumerate() {
            let got = &data[format!("v{i}")];
            let who = format!("viewer {viewer:?}, video v{i}");
            if !m.video_visible(viewer, video) {
                if !got.is_null() {
                    bad.push(format!("{who}: hidden video shown"));
                }
                continue;
            }
            if got.is_null() {
                bad.push(format!("{who}: visible video is null"));
                continue;
            }
            let like_count = m.likes.iter().filter(|(v, _)| *v == video).count() as i64;
            let mut expected: Vec<(i64, Uuid)> = m
                .likes
                .iter()
                .filter(|(v, l)| *v == video && m.like_visible(viewer, video, *l))
                .map(|(v, l)| (times[&(*v, *l)], *l))
                .collect();
            expected.sort_by(|a, b| b.cmp(a));
            let expected_ids: Vec<String> = expected.iter().map(|(_, l)| uid(*l)).collect();
            let likers = &got["visibleLikers"];
            let checks = [
                ("likeCount", got["likeCount"].as_i64() == Some(like_count)),
                (
                    "totalCount",
                    likers["totalCount"].as_i64() == Some(expected.len() as i64),
                ),
                (
                    "hiddenCount",
                    likers["hiddenCount"].as_i64() == Some(like_count - expected.len() as i64),
                ),
                ("visibleLikers", ids(likers) == expected_ids),
                (
                    "viewerHasLiked",
                    got["viewerHasLiked"].as_bool()
                        == Some(viewer.is_some_and(|me| m.likes.contains(&(video, me)))),
                ),
            ];
            for (name, pass) in checks {
                if !pass {
                    bad.push(format!("{who}: {name} wrong: got {got}, expected likers {expected_ids:?} of {like_count}"));
                }
            }
            let walked = walk_likers(h, viewer, video, page_size).await;
            if walked != expected_ids {
                bad.push(format!(
                    "{who}: walking by {page_size} gave {walked:?}, expected {expected_ids:?}"
                ));
            }
        }
        for (i, &(liker, _, _)) in m.users.iter().enumerate() {
            let got = &data[format!("u{i}")];
            let who = format!("viewer {viewer:?}, user u{i}");
            if !can_see_account(viewer, liker, m) {
                if !got.is_null() {
                    bad.push(format!("{who}: blocked account shown"));
                }
                continue;
            }
            let mut expected: Vec<(i64, Uuid)> = m
                .likes
                .iter()
                .filter(|(v, l)| *l == liker && m.like_visible(viewer, *v, liker))
                .map(|(v, l)| (times[&(*v, *l)], *v))
                .collect();
            expected.sort_by(|a, b| b.cmp(a));
            let expected_ids: Vec<String> = expected.iter().map(|(_, v)| vid(*v)).collect();
            if got.is_null() || ids(&got["likedVideos"]) != expected_ids {
                bad.push(format!(
                    "{who}: likedVideos got {got}, expected {expected_ids:?}"
                ));
            }
            let (vis, likes) = m.user(liker);
            let videos_shown = can_see_videos_of(viewer, liker, vis, m);
            let expected_videos = newest_first(
                m.videos
                    .iter()
                    .filter(|(_, a)| *a == liker && videos_shown)
                    .map(|(v, _)| (video_times[v], *v))
                    .collect(),
            );
            if got.is_null() || ids(&got["videos"]) != expected_videos {
                bad.push(format!(
                    "{who}: videos got {got}, expected {expected_videos:?}"
                ));
            }
            // The guards the two lists decide first mirror the pure account-level rules, and
            // they are what Rules V and L say about every row: a list they close is empty.
            let pure = (
                can_see_likes_of(viewer, liker, audience(vis, likes), m),
                videos_shown,
            );
            let sql = guards(&h.db, viewer, liker).await;
            if sql != pure {
                bad.push(format!(
                    "{who}: guards (likes, videos) in SQL {sql:?}, pure {pure:?}"
                ));
            }
            if !pure.0 && !expected_ids.is_empty() {
                bad.push(format!(
                    "{who}: likes hidden by the guard but visible by Rule L"
                ));
            }
        }
        let expected_feed = newest_first(
            m.videos
                .iter()
                .filter(|(v, a)| {
                    m.video_visible(viewer, *v)
                        && viewer.is_none_or(|me| me == *a || m.follows(me, *a))
                })
                .map(|(v, _)| (video_times[v], *v))
                .collect(),
        );
        if ids(&data["feed"]) != expected_feed {
            bad.push(format!(
                "viewer {viewer:?}: feed got {}, expected {expected_feed:?}",
                data["feed"]
            ));
        }
    }
    bad
}

/// Walks `visibleLikers` `page_size` at a time; the page's `totalCount` must not vary.
async fn walk_likers(
    h: &Harness,
    viewer: Option<Uuid>,
    video: Uuid,
    page_size: i32,
) -> Vec<String> {
    let q = "query($id: ID!, $first: Int!, $after: String) { video(id: $id) { visibleLikers(first: $first, after: $after) { \
             totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } } }";
    let mut after: Option<String> = None;
    let mut out = Vec::new();
    for _ in 0..100 {
        let d = h
            .ok(
                viewer,
                q,
                json!({ "id": vid(video), "first": page_size, "after": after }),
            )
            .await;
        let page = &d["video"]["visibleLikers"];
        out.extend(ids(page));
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap_or(false) {
            return out;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    panic!("walk did not end");
}

async fn reset(db: &DatabaseConnection) {
    db.execute_unprepared("DELETE FROM users")
        .await
        .expect("reset");
}

#[test]
fn random_worlds_match_the_reference() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // `check` reads a whole world in one query with full pages, which costs more than the
    // production complexity limit allows; the limit is not what this test is about.
    let limits = Limits {
        max_complexity: 100_000,
        ..Limits::default()
    };
    let h = rt.block_on(async { Harness::with_limits(fresh_db().await, limits) });
    let cases: u32 = std::env::var("TALLY_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let worlds = std::cell::Cell::new(0u32);
    proptest!(config, |(spec in world_spec())| {
        let bad = rt.block_on(async {
            reset(&h.db).await;
            let m = build(&h.db, &spec).await;
            check(&h, &m, spec.page_size).await
        });
        worlds.set(worlds.get() + 1);
        prop_assert!(bad.is_empty(), "{} mismatches in {:?}:\n{}", bad.len(), spec, bad.join("\n"));
    });
    let worlds = worlds.get();
    assert!(worlds >= cases, "ran {worlds} worlds, wanted {cases}");
    eprintln!("privacy property: {worlds} random worlds, zero mismatches");
}

/// Every combination of a liker's settings: the like carries the audience the pure policy
/// gives (the like's statement computes it in SQL), counters follow the labels, and
/// unliking takes each like off the counter it was counted under.
#[tokio::test]
async fn a_like_carries_its_likers_audience_for_every_setting() {
    let db = fresh_db().await;
    let author = insert_account(&db, "author", Visibility::Public, LikesVisibility::Everyone).await;
    let video = new_video(&db, author).await;
    let mut likers = Vec::new();
    for vis in [Visibility::Public, Visibility::Private] {
        for n in 0..3 {
            let handle = format!("l{}{n}", likers.len());
            let liker = insert_account(&db, &handle, vis, lv(n)).await;
            ok(like_video(&db, liker, video, now_us()).await, "like");
            let mut q = Sql::default();
            let u = q.bind(liker);
            q.push_unchecked(&format!("SELECT audience FROM likes WHERE user_id = {u}"));
            let row = q.one(&db).await.expect("read").expect("the like");
            let label: entity::Audience = col(&row, "audience").expect("audience");
            assert_eq!(label, audience(vis, lv(n)), "{vis:?} / {:?}", lv(n));
            likers.push(liker);
        }
    }
    assert_eq!(counters::drift(&db).await.expect("drift"), vec![]);
    for liker in likers {
        let after = ok(unlike_video(&db, liker, video, now_us()).await, "unlike");
        assert_eq!(counters::drift(&db).await.expect("drift"), vec![]);
        assert!(after.like_count >= 0);
    }
    let after = ok(
        unlike_video(&db, author, video, now_us()).await,
        "unlike without a like",
    );
    assert_eq!(after.like_count, 0);
}
