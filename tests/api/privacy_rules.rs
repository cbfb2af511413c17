//! Hand-written scenarios for `shared/spec/PRIVACY.md`, driven through the GraphQL API as
//! the acting user: the truth table cell by cell, blocks, Rule V, "changes take effect at
//! once", not revealing what is hidden, and `viewerHasLiked` / idempotent likes.
//!
//! Every world is small and named; every assertion reads the state right after the
//! mutation that changed it (no sleeps, no retries).
use entity::{
    FollowState,
    LikesVisibility::{self, Everyone, Followers, OnlyMe},
    Visibility::{self, Private, Public},
};
use serde_json::{json, Value};
use tally::db::{col, Sql};
use uuid::Uuid;

use crate::helpers::{insert_follow, uid, user_uuid, vid, video_uuid, Harness};

// ---------------------------------------------------------------------------------------
// Reading and writing through the API
// ---------------------------------------------------------------------------------------

/// What a viewer sees of one video's likes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LikeView {
    like_count: i64,
    total_count: i64,
    hidden_count: i64,
    /// `visibleLikers` edges, newest like first.
    likers: Vec<Uuid>,
    viewer_has_liked: bool,
}

/// `video(id)` as `viewer` sees it; `None` when the video is `null` (hidden or absent).
async fn like_view(h: &Harness, viewer: Option<Uuid>, video: Uuid) -> Option<LikeView> {
    let q = "query($id: ID!) { video(id: $id) { likeCount viewerHasLiked \
             visibleLikers(first: 100) { totalCount hiddenCount edges { node { id } } } } }";
    let d = h.ok(viewer, q, json!({ "id": vid(video) })).await;
    let v = &d["video"];
    if v.is_null() {
        return None;
    }
    let likers = v["visibleLikers"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| user_uuid(e["node"]["id"].as_str().expect("liker id")))
        .collect();
    Some(LikeView {
        like_count: v["likeCount"].as_i64().expect("likeCount"),
        total_count: v["visibleLikers"]["totalCount"]
            .as_i64()
            .expect("totalCount"),
        hidden_count: v["visibleLikers"]["hiddenCount"]
            .as_i64()
            .expect("hiddenCount"),
        likers,
        viewer_has_liked: v["viewerHasLiked"].as_bool().expect("viewerHasLiked"),
    })
}

/// Shorthand for an expected [`LikeView`].
fn view(like_count: i64, likers: &[Uuid], viewer_has_liked: bool) -> Option<LikeView> {
    let total = likers.len() as i64;
    Some(LikeView {
        like_count,
        total_count: total,
        hidden_count: like_count - total,
        likers: likers.to_vec(),
        viewer_has_liked,
    })
}

fn video_ids(connection: &Value) -> Vec<Uuid> {
    connection["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| video_uuid(e["node"]["id"].as_str().expect("video id")))
        .collect()
}

/// `user(handle).likedVideos` as `viewer` sees it; `None` when the user is `null`.
async fn liked_videos(h: &Harness, viewer: Option<Uuid>, handle: &str) -> Option<Vec<Uuid>> {
    let q = "query($h: String!) { user(handle: $h) { likedVideos(first: 100) { edges { node { id } } } } }";
    let d = h.ok(viewer, q, json!({ "h": handle })).await;
    let u = &d["user"];
    (!u.is_null()).then(|| video_ids(&u["likedVideos"]))
}

/// `user(handle).videos` as `viewer` sees it; `None` when the user is `null`.
async fn videos_of(h: &Harness, viewer: Option<Uuid>, handle: &str) -> Option<Vec<Uuid>> {
    let q =
        "query($h: String!) { user(handle: $h) { videos(first: 100) { edges { node { id } } } } }";
    let d = h.ok(viewer, q, json!({ "h": handle })).await;
    let u = &d["user"];
    (!u.is_null()).then(|| video_ids(&u["videos"]))
}

/// The viewer's feed, newest first.
async fn feed(h: &Harness, viewer: Option<Uuid>) -> Vec<Uuid> {
    let d = h
        .ok(
            viewer,
            "{ feed(first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    video_ids(&d["feed"])
}

/// `user(handle)` with a few fields, as `viewer` sees it (`Value::Null` when hidden).
async fn user_by_handle(h: &Harness, viewer: Option<Uuid>, handle: &str) -> Value {
    let q = "query($h: String!) { user(handle: $h) { id followerCount followingCount viewerFollowState } }";
    h.ok(viewer, q, json!({ "h": handle })).await["user"].clone()
}

/// `node(id)` as `viewer` sees it (`Value::Null` when hidden).
async fn node(h: &Harness, viewer: Option<Uuid>, id: &str) -> Value {
    h.ok(
        viewer,
        "query($id: ID!) { node(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await["node"]
        .clone()
}

/// The viewer's follow state of `handle` (`viewerFollowState`).
async fn follow_state(h: &Harness, viewer: Uuid, handle: &str) -> String {
    let u = user_by_handle(h, Some(viewer), handle).await;
    u["viewerFollowState"]
        .as_str()
        .unwrap_or_else(|| panic!("{handle} not visible: {u}"))
        .to_owned()
}

/// `(followerCount, followingCount)` of `handle`, as the anonymous viewer sees them.
async fn follow_counts(h: &Harness, handle: &str) -> (i64, i64) {
    let u = user_by_handle(h, None, handle).await;
    (
        u["followerCount"].as_i64().expect("followerCount"),
        u["followingCount"].as_i64().expect("followingCount"),
    )
}

/// `createVideo` as `author`.
async fn post_video(h: &Harness, author: Uuid, caption: &str) -> Uuid {
    let d = h
        .ok(
            Some(author),
            "mutation($c: String!) { createVideo(input: {mediaUrl: \"https://media.example.com/v.mp4\", caption: $c}) { id } }",
            json!({ "c": caption }),
        )
        .await;
    video_uuid(d["createVideo"]["id"].as_str().expect("video id"))
}

/// `likeVideo` as `who`; returns the `likeCount` the mutation answers.
async fn like(h: &Harness, who: Uuid, video: Uuid) -> i64 {
    let d = h
        .ok(
            Some(who),
            "mutation($v: ID!) { likeVideo(videoId: $v) { likeCount } }",
            json!({ "v": vid(video) }),
        )
        .await;
    d["likeVideo"]["likeCount"].as_i64().expect("likeCount")
}

/// `unlikeVideo` as `who`; returns the `likeCount` the mutation answers.
async fn unlike(h: &Harness, who: Uuid, video: Uuid) -> i64 {
    let d = h
        .ok(
            Some(who),
            "mutation($v: ID!) { unlikeVideo(videoId: $v) { likeCount } }",
            json!({ "v": vid(video) }),
        )
        .await;
    d["unlikeVideo"]["likeCount"].as_i64().expect("likeCount")
}

/// `followUser` as `who`; returns the follow's state.
async fn follow(h: &Harness, who: Uuid, target: Uuid) -> String {
    let d = h
        .ok(
            Some(who),
            "mutation($u: ID!) { followUser(userId: $u) { state } }",
            json!({ "u": uid(target) }),
        )
        .await;
    d["followUser"]["state"].as_str().expect("state").to_owned()
}

/// `approveFollowRequest` as `who` for `follower`.
async fn approve(h: &Harness, who: Uuid, follower: Uuid) {
    let d = h
        .ok(
            Some(who),
            "mutation($u: ID!) { approveFollowRequest(userId: $u) { state } }",
            json!({ "u": uid(follower) }),
        )
        .await;
    assert_eq!(d["approveFollowRequest"]["state"], "APPROVED");
}

/// A private account's approved follower: request, then approval by `target`.
async fn follow_private(h: &Harness, who: Uuid, target: Uuid) {
    assert_eq!(follow(h, who, target).await, "PENDING");
    approve(h, target, who).await;
}

/// One of the `(userId: ID!): Boolean!` mutations (`unfollowUser`, `removeFollower`,
/// `rejectFollowRequest`, `blockUser`, `unblockUser`) as `who`.
async fn user_mutation(h: &Harness, who: Uuid, field: &str, target: Uuid) -> bool {
    let q = format!("mutation($u: ID!) {{ {field}(userId: $u) }}");
    let d = h.ok(Some(who), &q, json!({ "u": uid(target) })).await;
    d[field].as_bool().expect("Boolean")
}

/// `updateAccount` as `who` with `input`.
async fn update_account(h: &Harness, who: Uuid, input: Value) {
    h.ok(
        Some(who),
        "mutation($i: UpdateAccountInput!) { updateAccount(input: $i) { id } }",
        json!({ "i": input }),
    )
    .await;
}

/// Rows of `table` (a fixed name) that mention `account` in `cols`.
async fn rows_mentioning(h: &Harness, table: &str, cols: &[&str], account: Uuid) -> i64 {
    let mut q = Sql::default();
    let a = q.bind(account);
    let cond: Vec<String> = cols.iter().map(|c| format!("{c} = {a}")).collect();
    q.push_unchecked(&format!(
        "SELECT COUNT(*) AS n FROM {table} WHERE {}",
        cond.join(" OR ")
    ));
    let row = q.one(&h.db).await.expect("count").expect("a row");
    col::<i64>(&row, "n").expect("n")
}

// ---------------------------------------------------------------------------------------
// 1. The truth table, cell by cell
// ---------------------------------------------------------------------------------------

/// A cell of the truth table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    Shown,
    Hidden,
}
use Cell::{Hidden, Shown};

/// The viewer columns of the truth table, in the spec's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Viewer {
    Anonymous,
    LItself,
    ApprovedFollower,
    PendingRequester,
    AnyoneElse,
}

const COLUMNS: [Viewer; 5] = [
    Viewer::Anonymous,
    Viewer::LItself,
    Viewer::ApprovedFollower,
    Viewer::PendingRequester,
    Viewer::AnyoneElse,
];

/// PRIVACY.md, "Truth table (viewer × liker), for a video V can see, no blocks",
/// transcribed literally. Columns as in [`COLUMNS`].
#[rustfmt::skip]
const TRUTH_TABLE: [(&str, Visibility, LikesVisibility, [Cell; 5]); 6] = [
    // liker L \ viewer V                          anonymous L itself approved  pending  anyone
    //                                                                follower  requester else
    ("public, likes EVERYONE",   Public,  Everyone,  [Shown,   Shown,   Shown,    Shown,   Shown ]),
    ("public, likes FOLLOWERS",  Public,  Followers, [Hidden,  Shown,   Shown,    Hidden,  Hidden]),
    ("public, likes ONLY_ME",    Public,  OnlyMe,    [Hidden,  Shown,   Hidden,   Hidden,  Hidden]),
    ("private, likes EVERYONE",  Private, Everyone,  [Hidden,  Shown,   Shown,    Hidden,  Hidden]),
    ("private, likes FOLLOWERS", Private, Followers, [Hidden,  Shown,   Shown,    Hidden,  Hidden]),
    ("private, likes ONLY_ME",   Private, OnlyMe,    [Hidden,  Shown,   Hidden,   Hidden,  Hidden]),
];

/// Builds the world of one row and checks its five cells.
///
/// The world: a public `creator` posts video X; `bystander` (public, EVERYONE) likes X,
/// then L (`liker`, the row's settings), then `quiet` (public, ONLY_ME). So every viewer
/// here sees the bystander and never `quiet`, `likeCount` is 3 and
/// `totalCount` / `hiddenCount` are 2 / 1 where L is shown and 1 / 2 where hidden.
async fn check_truth_table_row(row: usize) {
    let (label, visibility, likes, cells) = TRUTH_TABLE[row];
    let h = Harness::new().await;
    let creator = h.account("creator", Public, Everyone).await;
    let liker = h.account("liker", visibility, likes).await;
    let follower = h.account("follower", Public, Everyone).await;
    let requester = h.account("requester", Public, Everyone).await;
    let other = h.account("other", Public, Everyone).await;
    let bystander = h.account("bystander", Public, Everyone).await;
    let quiet = h.account("quiet", Public, OnlyMe).await;
    let x = post_video(&h, creator, "x").await;

    match visibility {
        Public => {
            assert_eq!(follow(&h, follower, liker).await, "APPROVED");
            // A pending request to a *public* account cannot arise through the API:
            // `followUser` approves it at once, and going private → request → public
            // approves it when L turns public. The spec's column still applies (a pending
            // request grants nothing), so the row is inserted directly.
            insert_follow(&h.db, requester, liker, FollowState::Pending).await;
        }
        Private => {
            follow_private(&h, follower, liker).await;
            assert_eq!(follow(&h, requester, liker).await, "PENDING");
        }
    }
    assert_eq!(follow_state(&h, follower, "liker").await, "APPROVED");
    assert_eq!(follow_state(&h, requester, "liker").await, "PENDING");

    assert_eq!(like(&h, bystander, x).await, 1);
    assert_eq!(like(&h, liker, x).await, 2);
    assert_eq!(like(&h, quiet, x).await, 3);

    let mut wrong = Vec::new();
    for (column, cell) in COLUMNS.into_iter().zip(cells) {
        let viewer = match column {
            Viewer::Anonymous => None,
            Viewer::LItself => Some(liker),
            Viewer::ApprovedFollower => Some(follower),
            Viewer::PendingRequester => Some(requester),
            Viewer::AnyoneElse => Some(other),
        };
        let likers: &[Uuid] = match cell {
            Shown => &[liker, bystander],
            Hidden => &[bystander],
        };
        let expected = view(3, likers, column == Viewer::LItself);
        let got = like_view(&h, viewer, x).await;
        if got != expected {
            wrong.push(format!(
                "[{label}] x [{column:?}] = {cell:?}: video X gave {got:?}, expected {expected:?}"
            ));
        }
        let expected_liked = match cell {
            Shown => vec![x],
            Hidden => vec![],
        };
        let got_liked = liked_videos(&h, viewer, "liker").await;
        if got_liked.as_ref() != Some(&expected_liked) {
            wrong.push(format!(
                "[{label}] x [{column:?}] = {cell:?}: L.likedVideos gave {got_liked:?}, expected {expected_liked:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "truth table cells wrong (L = {liker}, bystander = {bystander}, X = {x}):\n{}",
        wrong.join("\n")
    );
}

#[tokio::test]
async fn truth_table_public_liker_likes_everyone() {
    check_truth_table_row(0).await;
}

#[tokio::test]
async fn truth_table_public_liker_likes_followers() {
    check_truth_table_row(1).await;
}

#[tokio::test]
async fn truth_table_public_liker_likes_only_me() {
    check_truth_table_row(2).await;
}

#[tokio::test]
async fn truth_table_private_liker_likes_everyone() {
    check_truth_table_row(3).await;
}

#[tokio::test]
async fn truth_table_private_liker_likes_followers() {
    check_truth_table_row(4).await;
}

#[tokio::test]
async fn truth_table_private_liker_likes_only_me() {
    check_truth_table_row(5).await;
}

#[tokio::test]
async fn the_creator_sees_a_private_likers_like_only_as_its_approved_follower() {
    let h = Harness::new().await;
    let creator = h.account("creator", Public, Everyone).await;
    let liker = h.account("liker", Private, Everyone).await;
    let x = post_video(&h, creator, "x").await;
    like(&h, liker, x).await;
    assert_eq!(like_view(&h, Some(creator), x).await, view(1, &[], false));
    assert_eq!(follow(&h, creator, liker).await, "PENDING");
    assert_eq!(like_view(&h, Some(creator), x).await, view(1, &[], false));
    approve(&h, liker, creator).await;
    assert_eq!(
        like_view(&h, Some(creator), x).await,
        view(1, &[liker], false)
    );
}

// ---------------------------------------------------------------------------------------
// 2. A block between viewer and liker hides the like in every column
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_block_either_way_hides_the_likers_likes_but_not_the_count() {
    let mut wrong = Vec::new();
    for (label, visibility, likes, _) in TRUTH_TABLE {
        for viewer_blocks in [true, false] {
            let case = format!(
                "[{label}] {}",
                if viewer_blocks {
                    "viewer blocks L"
                } else {
                    "L blocks viewer"
                }
            );
            let h = Harness::new().await;
            let creator = h.account("creator", Public, Everyone).await;
            let liker = h.account("liker", visibility, likes).await;
            let watcher = h.account("watcher", Public, Everyone).await;
            let bystander = h.account("bystander", Public, Everyone).await;
            let x = post_video(&h, creator, "x").await;
            let own = post_video(&h, liker, "l's own").await;
            // Before the block the watcher is L's approved follower (the most it can be).
            match visibility {
                Public => assert_eq!(follow(&h, watcher, liker).await, "APPROVED"),
                Private => follow_private(&h, watcher, liker).await,
            }
            like(&h, bystander, x).await;
            like(&h, liker, x).await;
            assert_eq!(like(&h, watcher, x).await, 3);
            let (blocker, blocked) = if viewer_blocks {
                (watcher, liker)
            } else {
                (liker, watcher)
            };
            assert!(user_mutation(&h, blocker, "blockUser", blocked).await);

            // X is the creator's: the block removes no like from it.
            let checks = [
                (
                    "watcher's view of X",
                    like_view(&h, Some(watcher), x).await,
                    view(3, &[watcher, bystander], true),
                ),
                (
                    "L's view of X",
                    like_view(&h, Some(liker), x).await,
                    view(3, &[liker, bystander], true),
                ),
                (
                    "watcher's view of L's own video",
                    like_view(&h, Some(watcher), own).await,
                    None,
                ),
            ];
            for (what, got, expected) in checks {
                if got != expected {
                    wrong.push(format!(
                        "{case}: {what}: got {got:?}, expected {expected:?}"
                    ));
                }
            }
            let anon = like_view(&h, None, x).await.map(|v| v.like_count);
            if anon != Some(3) {
                wrong.push(format!("{case}: anonymous likeCount {anon:?}, expected 3"));
            }
            for (viewer, handle, id) in [(watcher, "liker", liker), (liker, "watcher", watcher)] {
                let u = user_by_handle(&h, Some(viewer), handle).await;
                let n = node(&h, Some(viewer), &uid(id)).await;
                if !u.is_null() || !n.is_null() {
                    wrong.push(format!(
                        "{case}: {handle} visible across the block: user {u}, node {n}"
                    ));
                }
            }
            let liked = liked_videos(&h, Some(watcher), "liker").await;
            if liked.is_some() {
                wrong.push(format!("{case}: L.likedVideos reachable: {liked:?}"));
            }

            // Not reachable through the API (a block removes follows both ways): an
            // approved follow row left next to the block must not re-open L's likes,
            // because Rule L tests the block itself.
            insert_follow(&h.db, watcher, liker, FollowState::Approved).await;
            let got = like_view(&h, Some(watcher), x).await;
            let expected = view(3, &[watcher, bystander], true);
            if got != expected {
                wrong.push(format!(
                    "{case}: with a stray follow row: got {got:?}, expected {expected:?}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "blocks:\n{}", wrong.join("\n"));
}

// ---------------------------------------------------------------------------------------
// 3. Rule V
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn rule_v_a_private_authors_videos_are_seen_by_itself_and_approved_followers_only() {
    let h = Harness::new().await;
    let author = h.account("author", Private, Everyone).await;
    let follower = h.account("follower", Public, Everyone).await;
    let requester = h.account("requester", Public, Everyone).await;
    let stranger = h.account("stranger", Public, Everyone).await;
    let a1 = post_video(&h, author, "a1").await;
    let a2 = post_video(&h, author, "a2").await;
    follow_private(&h, follower, author).await;
    assert_eq!(follow(&h, requester, author).await, "PENDING");

    let cases: [(&str, Option<Uuid>, bool); 5] = [
        ("anonymous", None, false),
        ("non-follower", Some(stranger), false),
        ("pending requester", Some(requester), false),
        ("approved follower", Some(follower), true),
        ("author", Some(author), true),
    ];
    for (who, viewer, sees) in cases {
        let got = like_view(&h, viewer, a1).await.is_some();
        assert_eq!(
            got, sees,
            "{who}: video(a1) visible = {got}, expected {sees}"
        );
        let n = node(&h, viewer, &vid(a1)).await;
        assert_eq!(!n.is_null(), sees, "{who}: node(a1) = {n}");
        let expected: Vec<Uuid> = if sees { vec![a2, a1] } else { vec![] };
        assert_eq!(
            videos_of(&h, viewer, "author").await,
            Some(expected),
            "{who}: author.videos (the account itself is not hidden, its videos are)"
        );
    }
}

#[tokio::test]
async fn feed_signed_in_is_own_and_approved_followees_anonymous_is_public_newest_first() {
    let h = Harness::new().await;
    let me = h.account("me", Public, Everyone).await;
    let closed = h.account("closed", Private, Everyone).await;
    let open = h.account("open", Public, Everyone).await;
    let stranger = h.account("stranger", Public, Everyone).await;
    let shut = h.account("shut", Private, Everyone).await;
    follow_private(&h, me, closed).await;
    assert_eq!(follow(&h, me, open).await, "APPROVED");
    assert_eq!(follow(&h, me, shut).await, "PENDING");

    let c1 = post_video(&h, closed, "c1").await;
    let o1 = post_video(&h, open, "o1").await;
    let s1 = post_video(&h, stranger, "s1").await;
    let x1 = post_video(&h, shut, "x1").await;
    let c2 = post_video(&h, closed, "c2").await;
    let m1 = post_video(&h, me, "m1").await;
    let o2 = post_video(&h, open, "o2").await;

    assert_eq!(
        feed(&h, Some(me)).await,
        vec![o2, m1, c2, o1, c1],
        "signed in: own + approved followees, newest first (not the stranger, not the pending one)"
    );
    assert_eq!(
        feed(&h, None).await,
        vec![o2, m1, s1, o1],
        "anonymous: every public account's videos, newest first"
    );
    assert_eq!(
        feed(&h, Some(stranger)).await,
        vec![s1],
        "a viewer following nobody sees its own videos only"
    );
    assert_eq!(feed(&h, Some(shut)).await, vec![x1]);
}

// ---------------------------------------------------------------------------------------
// 4. Changes take effect at once
// ---------------------------------------------------------------------------------------

/// A public creator's video X liked by `liker` only.
async fn liked_video(h: &Harness, liker: Uuid) -> Uuid {
    let creator = h.account("creator", Public, Everyone).await;
    let x = post_video(h, creator, "x").await;
    assert_eq!(like(h, liker, x).await, 1);
    x
}

#[tokio::test]
async fn unfollowing_stops_seeing_followers_likes_at_once() {
    let h = Harness::new().await;
    let liker = h.account("liker", Public, Followers).await;
    let fan = h.account("fan", Public, Everyone).await;
    let x = liked_video(&h, liker).await;
    assert_eq!(follow(&h, fan, liker).await, "APPROVED");
    assert_eq!(like_view(&h, Some(fan), x).await, view(1, &[liker], false));
    assert_eq!(liked_videos(&h, Some(fan), "liker").await, Some(vec![x]));

    assert!(user_mutation(&h, fan, "unfollowUser", liker).await);
    assert_eq!(like_view(&h, Some(fan), x).await, view(1, &[], false));
    assert_eq!(liked_videos(&h, Some(fan), "liker").await, Some(vec![]));
    assert_eq!(follow_state(&h, fan, "liker").await, "NONE");
}

#[tokio::test]
async fn removing_a_follower_stops_it_seeing_followers_likes_at_once() {
    let h = Harness::new().await;
    let liker = h.account("liker", Private, Everyone).await;
    let fan = h.account("fan", Public, Everyone).await;
    let x = liked_video(&h, liker).await;
    let own = post_video(&h, liker, "l's own").await;
    follow_private(&h, fan, liker).await;
    assert_eq!(like_view(&h, Some(fan), x).await, view(1, &[liker], false));
    assert!(like_view(&h, Some(fan), own).await.is_some());
    assert_eq!(follow_counts(&h, "liker").await, (1, 0));

    assert!(user_mutation(&h, liker, "removeFollower", fan).await);
    assert_eq!(like_view(&h, Some(fan), x).await, view(1, &[], false));
    assert_eq!(liked_videos(&h, Some(fan), "liker").await, Some(vec![]));
    assert_eq!(
        like_view(&h, Some(fan), own).await,
        None,
        "Rule V too: L is private"
    );
    assert_eq!(follow_state(&h, fan, "liker").await, "NONE");
    assert_eq!(follow_counts(&h, "liker").await, (0, 0));
}

#[tokio::test]
async fn rejecting_a_follow_request_removes_it_at_once() {
    let h = Harness::new().await;
    let liker = h.account("liker", Private, Followers).await;
    let fan = h.account("fan", Public, Everyone).await;
    let x = liked_video(&h, liker).await;
    assert_eq!(follow(&h, fan, liker).await, "PENDING");
    assert_eq!(like_view(&h, Some(fan), x).await, view(1, &[], false));

    assert!(user_mutation(&h, liker, "rejectFollowRequest", fan).await);
    assert_eq!(follow_state(&h, fan, "liker").await, "NONE");
    let d = h
        .ok(
            Some(liker),
            "{ viewer { followRequests { edges { node { id } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["viewer"]["followRequests"]["edges"], json!([]));
    // The rejected request is gone: turning public later approves nothing for `fan`.
    update_account(&h, liker, json!({ "visibility": "PUBLIC" })).await;
    assert_eq!(follow_state(&h, fan, "liker").await, "NONE");
    assert_eq!(like_view(&h, Some(fan), x).await, view(1, &[], false));
    assert_eq!(liked_videos(&h, Some(fan), "liker").await, Some(vec![]));
}

#[tokio::test]
async fn turning_private_takes_likes_out_of_the_public_view_at_once() {
    let h = Harness::new().await;
    let liker = h.account("liker", Public, Everyone).await;
    let fan = h.account("fan", Public, Everyone).await;
    let other = h.account("other", Public, Everyone).await;
    let x = liked_video(&h, liker).await;
    let own = post_video(&h, liker, "l's own").await;
    assert_eq!(follow(&h, fan, liker).await, "APPROVED");
    for viewer in [None, Some(other), Some(fan)] {
        assert_eq!(like_view(&h, viewer, x).await, view(1, &[liker], false));
        assert!(like_view(&h, viewer, own).await.is_some());
    }

    update_account(&h, liker, json!({ "visibility": "PRIVATE" })).await;
    assert_eq!(
        like_view(&h, None, x).await,
        view(1, &[], false),
        "anonymous: totalCount drops, likeCount stays"
    );
    assert_eq!(like_view(&h, Some(other), x).await, view(1, &[], false));
    assert_eq!(liked_videos(&h, None, "liker").await, Some(vec![]));
    assert_eq!(liked_videos(&h, Some(other), "liker").await, Some(vec![]));
    assert_eq!(
        like_view(&h, Some(fan), x).await,
        view(1, &[liker], false),
        "the approved follower still sees it"
    );
    assert_eq!(like_view(&h, Some(liker), x).await, view(1, &[liker], true));
    // Rule V follows the switch too: L's own videos leave the public view.
    assert_eq!(like_view(&h, None, own).await, None);
    assert_eq!(like_view(&h, Some(other), own).await, None);
    assert!(like_view(&h, Some(fan), own).await.is_some());

    update_account(&h, liker, json!({ "visibility": "PUBLIC" })).await;
    assert_eq!(like_view(&h, None, x).await, view(1, &[liker], false));
    assert_eq!(liked_videos(&h, None, "liker").await, Some(vec![x]));
}

#[tokio::test]
async fn turning_public_approves_every_pending_request_at_once() {
    let h = Harness::new().await;
    let liker = h.account("liker", Private, Followers).await;
    let p1 = h.account("p1", Public, Everyone).await;
    let p2 = h.account("p2", Public, Everyone).await;
    let x = liked_video(&h, liker).await;
    let own = post_video(&h, liker, "l's own").await;
    assert_eq!(follow(&h, p1, liker).await, "PENDING");
    assert_eq!(follow(&h, p2, liker).await, "PENDING");
    assert_eq!(follow_counts(&h, "liker").await, (0, 0));
    assert_eq!(like_view(&h, Some(p1), x).await, view(1, &[], false));
    assert_eq!(like_view(&h, Some(p1), own).await, None);

    update_account(&h, liker, json!({ "visibility": "PUBLIC" })).await;
    assert_eq!(follow_state(&h, p1, "liker").await, "APPROVED");
    assert_eq!(follow_state(&h, p2, "liker").await, "APPROVED");
    assert_eq!(follow_counts(&h, "liker").await, (2, 0));
    assert_eq!(follow_counts(&h, "p1").await, (0, 1));
    let d = h
        .ok(
            Some(liker),
            "{ viewer { followRequests { edges { node { id } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["viewer"]["followRequests"]["edges"], json!([]));
    // Now approved followers of a FOLLOWERS liker.
    assert_eq!(like_view(&h, Some(p1), x).await, view(1, &[liker], false));
    assert_eq!(like_view(&h, None, x).await, view(1, &[], false));
    assert!(like_view(&h, Some(p1), own).await.is_some());
    assert_eq!(feed(&h, Some(p2)).await, vec![own]);
}

#[tokio::test]
async fn changing_likes_visibility_changes_who_sees_at_once() {
    let h = Harness::new().await;
    let liker = h.account("liker", Public, Everyone).await;
    let fan = h.account("fan", Public, Everyone).await;
    let other = h.account("other", Public, Everyone).await;
    let x = liked_video(&h, liker).await;
    assert_eq!(follow(&h, fan, liker).await, "APPROVED");

    // (setting, [anonymous, other, fan, liker] see L's like?)
    let steps = [
        ("EVERYONE", [true, true, true, true]),
        ("ONLY_ME", [false, false, false, true]),
        ("FOLLOWERS", [false, false, true, true]),
        ("EVERYONE", [true, true, true, true]),
    ];
    for (i, (setting, sees)) in steps.into_iter().enumerate() {
        if i > 0 {
            update_account(&h, liker, json!({ "likesVisibility": setting })).await;
        }
        let viewers = [
            ("anonymous", None),
            ("other", Some(other)),
            ("fan", Some(fan)),
            ("liker", Some(liker)),
        ];
        for ((who, viewer), sees) in viewers.into_iter().zip(sees) {
            let likers: &[Uuid] = if sees { &[liker] } else { &[] };
            assert_eq!(
                like_view(&h, viewer, x).await,
                view(1, likers, viewer == Some(liker)),
                "likesVisibility {setting}, viewer {who}"
            );
            let liked = if sees { vec![x] } else { vec![] };
            assert_eq!(
                liked_videos(&h, viewer, "liker").await,
                Some(liked),
                "likesVisibility {setting}, viewer {who}: likedVideos"
            );
        }
    }
}

#[tokio::test]
async fn blocking_removes_follows_both_ways_and_likes_on_each_others_videos() {
    let h = Harness::new().await;
    let a = h.account("alice", Public, Everyone).await;
    let b = h.account("bob", Public, Everyone).await;
    let c = h.account("carol", Public, Everyone).await;
    let a1 = post_video(&h, a, "a1").await;
    let b1 = post_video(&h, b, "b1").await;
    let c1 = post_video(&h, c, "c1").await;
    assert_eq!(follow(&h, a, b).await, "APPROVED");
    assert_eq!(follow(&h, b, a).await, "APPROVED");
    like(&h, c, a1).await;
    like(&h, c, b1).await;
    like(&h, b, a1).await;
    like(&h, a, b1).await;
    like(&h, a, c1).await;
    like(&h, b, c1).await;
    assert_eq!(like_view(&h, None, a1).await, view(2, &[b, c], false));
    assert_eq!(like_view(&h, None, b1).await, view(2, &[a, c], false));
    assert_eq!(follow_counts(&h, "alice").await, (1, 1));

    assert!(user_mutation(&h, a, "blockUser", b).await);
    // Follows are gone both ways.
    assert_eq!(follow_counts(&h, "alice").await, (0, 0));
    assert_eq!(follow_counts(&h, "bob").await, (0, 0));
    // Each one's like on the other's video is gone, and the counts dropped.
    assert_eq!(like_view(&h, None, a1).await, view(1, &[c], false));
    assert_eq!(like_view(&h, None, b1).await, view(1, &[c], false));
    assert_eq!(like_view(&h, Some(c), a1).await, view(1, &[c], true));
    assert_eq!(like_view(&h, Some(a), a1).await, view(1, &[c], false));
    // They cannot see each other's videos any more.
    assert_eq!(like_view(&h, Some(a), b1).await, None);
    assert_eq!(like_view(&h, Some(b), a1).await, None);
    // Likes on a third party's video stay, counted; each no longer sees the other's.
    assert_eq!(like_view(&h, None, c1).await, view(2, &[b, a], false));
    assert_eq!(like_view(&h, Some(a), c1).await, view(2, &[a], true));
    assert_eq!(like_view(&h, Some(b), c1).await, view(2, &[b], true));
    assert_eq!(liked_videos(&h, None, "alice").await, Some(vec![c1]));
    assert_eq!(liked_videos(&h, None, "bob").await, Some(vec![c1]));

    // Unblocking restores nothing.
    assert!(user_mutation(&h, a, "unblockUser", b).await);
    assert_eq!(follow_state(&h, a, "bob").await, "NONE");
    assert_eq!(follow_state(&h, b, "alice").await, "NONE");
    assert_eq!(follow_counts(&h, "alice").await, (0, 0));
    assert_eq!(follow_counts(&h, "bob").await, (0, 0));
    assert_eq!(like_view(&h, Some(b), a1).await, view(1, &[c], false));
    assert_eq!(like_view(&h, Some(a), b1).await, view(1, &[c], false));
    assert_eq!(like_view(&h, None, c1).await, view(2, &[b, a], false));
    assert_eq!(liked_videos(&h, Some(b), "alice").await, Some(vec![c1]));
}

#[tokio::test]
async fn deleting_an_account_removes_its_likes_follows_blocks_and_videos() {
    let h = Harness::new().await;
    let (dee, _token) = h.sign_up("dee", "").await;
    let c = h.account("carol", Public, Everyone).await;
    let e = h.account("eve", Public, Everyone).await;
    let x = h.account("xavier", Public, Everyone).await;
    let p = h.account("pat", Private, Everyone).await;
    let c1 = post_video(&h, c, "c1").await;
    let d1 = post_video(&h, dee, "d1").await;
    like(&h, e, c1).await;
    assert_eq!(like(&h, dee, c1).await, 2);
    like(&h, e, d1).await;
    assert_eq!(follow(&h, dee, c).await, "APPROVED");
    assert_eq!(follow(&h, e, dee).await, "APPROVED");
    assert!(user_mutation(&h, dee, "blockUser", x).await);
    assert_eq!(follow(&h, dee, p).await, "PENDING");
    assert_eq!(follow_counts(&h, "carol").await, (1, 0));
    assert_eq!(follow_counts(&h, "eve").await, (0, 1));
    assert_eq!(feed(&h, Some(e)).await, vec![d1]);

    let d = h
        .ok(
            Some(dee),
            r#"mutation { deleteAccount(password: "password123") }"#,
            json!({}),
        )
        .await;
    assert_eq!(d["deleteAccount"], true);

    assert_eq!(like_view(&h, None, c1).await, view(1, &[e], false));
    assert_eq!(like_view(&h, Some(c), c1).await, view(1, &[e], false));
    assert_eq!(
        like_view(&h, Some(e), d1).await,
        None,
        "its videos are gone"
    );
    assert!(node(&h, None, &vid(d1)).await.is_null());
    assert!(user_by_handle(&h, None, "dee").await.is_null());
    assert!(node(&h, Some(x), &uid(dee)).await.is_null());
    assert_eq!(follow_counts(&h, "carol").await, (0, 0));
    assert_eq!(follow_counts(&h, "eve").await, (0, 0));
    assert_eq!(feed(&h, Some(e)).await, Vec::<Uuid>::new());
    assert_eq!(liked_videos(&h, Some(e), "eve").await, Some(vec![c1]));
    let d = h
        .ok(
            Some(p),
            "{ viewer { followRequests { edges { node { id } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["viewer"]["followRequests"]["edges"], json!([]));
    for (table, cols) in [
        ("likes", &["user_id"][..]),
        ("follows", &["follower_id", "followee_id"][..]),
        ("blocks", &["blocker_id", "blocked_id"][..]),
        ("videos", &["author_id"][..]),
    ] {
        assert_eq!(
            rows_mentioning(&h, table, cols, dee).await,
            0,
            "{table} rows of the deleted account"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 5. Not revealing what is hidden
// ---------------------------------------------------------------------------------------

const FOLLOW: &str = "mutation($u: ID!) { followUser(userId: $u) { state } }";
const BLOCK: &str = "mutation($u: ID!) { blockUser(userId: $u) }";
const UNBLOCK: &str = "mutation($u: ID!) { unblockUser(userId: $u) }";
const LIKE: &str = "mutation($v: ID!) { likeVideo(videoId: $v) { likeCount } }";
const UNLIKE: &str = "mutation($v: ID!) { unlikeVideo(videoId: $v) { likeCount } }";
const UNFOLLOW: &str = "mutation($u: ID!) { unfollowUser(userId: $u) }";
const APPROVE: &str = "mutation($u: ID!) { approveFollowRequest(userId: $u) { state } }";
const REJECT: &str = "mutation($u: ID!) { rejectFollowRequest(userId: $u) }";
const REMOVE_FOLLOWER: &str = "mutation($u: ID!) { removeFollower(userId: $u) }";

#[tokio::test]
async fn an_account_that_blocked_you_is_answered_as_if_it_did_not_exist() {
    let h = Harness::new().await;
    let alice = h.account("alice", Public, Everyone).await;
    let bob = h.account("bob", Public, Everyone).await;
    let carol = h.account("carol", Public, Everyone).await;
    let a1 = post_video(&h, alice, "a1").await;
    like(&h, carol, a1).await;
    assert!(user_mutation(&h, alice, "blockUser", bob).await);
    let nobody = Uuid::now_v7();
    let no_video = Uuid::now_v7();

    assert!(user_by_handle(&h, Some(bob), "alice").await.is_null());
    assert!(node(&h, Some(bob), &uid(alice)).await.is_null());
    assert!(node(&h, Some(bob), &vid(a1)).await.is_null());
    assert_eq!(like_view(&h, Some(bob), a1).await, None);
    assert_eq!(
        liked_videos(&h, Some(bob), "carol").await,
        Some(vec![]),
        "a third party's likedVideos must not reveal the blocker's video"
    );
    assert_eq!(liked_videos(&h, None, "carol").await, Some(vec![a1]));
    assert_eq!(feed(&h, Some(bob)).await, Vec::<Uuid>::new());

    // Each mutation naming alice answers exactly as for an account that does not exist.
    for (query, target, absent) in [
        (FOLLOW, uid(alice), uid(nobody)),
        (BLOCK, uid(alice), uid(nobody)),
        (UNBLOCK, uid(alice), uid(nobody)),
        (UNFOLLOW, uid(alice), uid(nobody)),
        (APPROVE, uid(alice), uid(nobody)),
        (REJECT, uid(alice), uid(nobody)),
        (REMOVE_FOLLOWER, uid(alice), uid(nobody)),
        (LIKE, vid(a1), vid(no_video)),
        (UNLIKE, vid(a1), vid(no_video)),
    ] {
        let key = if query.contains("videoId") { "v" } else { "u" };
        let hidden = h.run(Some(bob), query, json!({ key: target })).await;
        let missing = h.run(Some(bob), query, json!({ key: absent })).await;
        assert_eq!(
            hidden["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{query}: {hidden}"
        );
        assert_eq!(
            hidden, missing,
            "{query}: hidden and absent must answer alike"
        );
    }
    // Still hidden afterwards: none of that changed anything.
    assert!(user_by_handle(&h, Some(bob), "alice").await.is_null());
    assert_eq!(like_view(&h, None, a1).await, view(1, &[carol], false));
}

#[tokio::test]
async fn the_blocker_can_still_name_the_account_it_blocked() {
    let h = Harness::new().await;
    let alice = h.account("alice", Public, Everyone).await;
    let bob = h.account("bob", Public, Everyone).await;
    assert!(user_mutation(&h, alice, "blockUser", bob).await);

    let blocked = "{ viewer { blockedUsers { edges { node { id handle } } } } }";
    let d = h.ok(Some(alice), blocked, json!({})).await;
    assert_eq!(
        d["viewer"]["blockedUsers"]["edges"],
        json!([{ "node": { "id": uid(bob), "handle": "bob" } }])
    );
    // Elsewhere the blocked account is hidden from the blocker too.
    assert!(user_by_handle(&h, Some(alice), "bob").await.is_null());
    assert!(node(&h, Some(alice), &uid(bob)).await.is_null());

    // Blocking again is a no-op that answers true.
    assert!(user_mutation(&h, alice, "blockUser", bob).await);
    let d = h.ok(Some(alice), blocked, json!({})).await;
    assert_eq!(
        d["viewer"]["blockedUsers"]["edges"]
            .as_array()
            .expect("edges")
            .len(),
        1
    );

    assert!(user_mutation(&h, alice, "unblockUser", bob).await);
    let d = h.ok(Some(alice), blocked, json!({})).await;
    assert_eq!(d["viewer"]["blockedUsers"]["edges"], json!([]));
    assert!(!user_by_handle(&h, Some(alice), "bob").await.is_null());
    assert!(!user_by_handle(&h, Some(bob), "alice").await.is_null());
}

#[tokio::test]
async fn a_video_hidden_by_rule_v_is_not_found_exactly_like_a_missing_one() {
    let h = Harness::new().await;
    let author = h.account("author", Private, Everyone).await;
    let stranger = h.account("stranger", Public, Everyone).await;
    let requester = h.account("requester", Public, Everyone).await;
    let a1 = post_video(&h, author, "a1").await;
    assert_eq!(follow(&h, requester, author).await, "PENDING");
    let no_video = vid(Uuid::now_v7());

    for viewer in [stranger, requester] {
        for query in [LIKE, UNLIKE] {
            let hidden = h.run(Some(viewer), query, json!({ "v": vid(a1) })).await;
            let missing = h.run(Some(viewer), query, json!({ "v": no_video })).await;
            assert_eq!(
                hidden["errors"][0]["extensions"]["code"], "NOT_FOUND",
                "{query}: not FORBIDDEN: {hidden}"
            );
            assert_eq!(hidden, missing, "{query}: the whole answer must match");
        }
        let hidden = h
            .run(
                Some(viewer),
                "mutation($v: ID!) { deleteVideo(id: $v) }",
                json!({ "v": vid(a1) }),
            )
            .await;
        let missing = h
            .run(
                Some(viewer),
                "mutation($v: ID!) { deleteVideo(id: $v) }",
                json!({ "v": no_video }),
            )
            .await;
        assert_eq!(hidden, missing, "deleteVideo of a hidden video");
    }
    // Nothing was liked or deleted through the refused calls.
    assert_eq!(like_view(&h, Some(author), a1).await, view(0, &[], false));
}

#[tokio::test]
async fn settings_and_follow_requests_are_shown_to_their_user_alone() {
    let h = Harness::new().await;
    let owner = h.account("owner", Private, Followers).await;
    let fan = h.account("fan", Public, Everyone).await;
    follow_private(&h, fan, owner).await;
    let q = "{ user(handle: \"owner\") { likesVisibility } }";
    for viewer in [None, Some(fan)] {
        let d = h.ok(viewer, q, json!({})).await;
        assert_eq!(d["user"]["likesVisibility"], Value::Null, "{viewer:?}");
    }
    let d = h.ok(Some(owner), q, json!({})).await;
    assert_eq!(d["user"]["likesVisibility"], "FOLLOWERS");

    let q = "{ user(handle: \"owner\") { followRequests { edges { node { id } } } } }";
    for viewer in [None, Some(fan)] {
        let d = h.ok(viewer, q, json!({})).await;
        assert_eq!(d["user"], json!({ "followRequests": null }), "{viewer:?}");
    }
    h.ok(Some(owner), q, json!({})).await;
}

// ---------------------------------------------------------------------------------------
// 6. viewerHasLiked and idempotent likes
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn viewer_has_liked_is_false_for_anonymous_and_true_for_an_own_only_me_like() {
    let h = Harness::new().await;
    let creator = h.account("creator", Public, Everyone).await;
    let shy = h.account("shy", Public, OnlyMe).await;
    let hermit = h.account("hermit", Private, OnlyMe).await;
    let x = post_video(&h, creator, "x").await;
    like(&h, shy, x).await;
    like(&h, hermit, x).await;

    assert_eq!(like_view(&h, None, x).await, view(2, &[], false));
    assert_eq!(like_view(&h, Some(creator), x).await, view(2, &[], false));
    assert_eq!(like_view(&h, Some(shy), x).await, view(2, &[shy], true));
    assert_eq!(
        like_view(&h, Some(hermit), x).await,
        view(2, &[hermit], true)
    );
    assert_eq!(liked_videos(&h, Some(shy), "shy").await, Some(vec![x]));
    assert_eq!(liked_videos(&h, Some(creator), "shy").await, Some(vec![]));
}

#[tokio::test]
async fn liking_and_unliking_twice_are_idempotent() {
    let h = Harness::new().await;
    let creator = h.account("creator", Public, Everyone).await;
    let early = h.account("early", Public, Everyone).await;
    let fan = h.account("fan", Public, Everyone).await;
    let x = post_video(&h, creator, "x").await;
    assert_eq!(like(&h, early, x).await, 1);

    assert_eq!(like(&h, fan, x).await, 2);
    assert_eq!(like(&h, fan, x).await, 2, "liking twice keeps one like");
    assert_eq!(like_view(&h, None, x).await, view(2, &[fan, early], false));
    assert_eq!(
        like_view(&h, Some(fan), x).await,
        view(2, &[fan, early], true)
    );

    assert_eq!(unlike(&h, fan, x).await, 1);
    assert_eq!(unlike(&h, fan, x).await, 1, "unliking twice is a no-op");
    assert_eq!(like_view(&h, None, x).await, view(1, &[early], false));
    assert_eq!(like_view(&h, Some(fan), x).await, view(1, &[early], false));
    assert_eq!(liked_videos(&h, None, "fan").await, Some(vec![]));
}

#[tokio::test]
async fn each_mutation_in_one_document_sees_the_state_its_predecessors_left() {
    let h = Harness::new().await;
    let creator = h.account("creator", Public, Everyone).await;
    let fan = h.account("fan", Public, Everyone).await;
    let x = post_video(&h, creator, "x").await;
    let part = "likeCount viewerHasLiked visibleLikers { totalCount hiddenCount }";
    let q = format!(
        "mutation($v: ID!) {{ a: likeVideo(videoId: $v) {{ {part} }} \
         b: unlikeVideo(videoId: $v) {{ {part} }} c: likeVideo(videoId: $v) {{ {part} }} }}"
    );
    let d = h.ok(Some(fan), &q, json!({ "v": vid(x) })).await;
    let liked = json!({ "likeCount": 1, "viewerHasLiked": true,
                        "visibleLikers": { "totalCount": 1, "hiddenCount": 0 } });
    let unliked = json!({ "likeCount": 0, "viewerHasLiked": false,
                          "visibleLikers": { "totalCount": 0, "hiddenCount": 0 } });
    assert_eq!(d["a"], liked, "{d}");
    assert_eq!(d["b"], unliked, "{d}");
    assert_eq!(d["c"], liked, "{d}");
}
