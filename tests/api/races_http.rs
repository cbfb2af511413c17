//! The race findings, reproduced as an attacker would: two clients over HTTP against the real
//! service, their requests released at once by a barrier, many rounds. Each was seen to fail
//! on PostgreSQL before the mutations held the accounts they involve (`domain::hold`).
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use serde_json::{json, Value};
use tokio::sync::Barrier;

use crate::helpers::{uid, TestApp};

const ROUNDS: usize = 12;

struct Account {
    id: String,
    token: String,
}

async fn sign_up(app: &TestApp, handle: &str, extra: &str) -> Account {
    let (id, token) = app.sign_up(handle, extra).await;
    Account { id: uid(id), token }
}

async fn post_video(app: &TestApp, author: &Account) -> String {
    let (_, v) = app
        .gql(
            Some(&author.token),
            r#"mutation { createVideo(input: {mediaUrl: "https://media.example.com/v.mp4", caption: "mine"}) { id } }"#,
            json!({}),
        )
        .await;
    v["data"]["createVideo"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createVideo failed: {v}"))
        .to_owned()
}

/// Sends every request at once (a barrier releases them together) and returns the answers.
async fn at_once(app: &Arc<TestApp>, requests: Vec<(String, &'static str, Value)>) -> Vec<Value> {
    let barrier = Arc::new(Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(token, query, vars)| {
            let (app, barrier) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let (status, v) = app.gql(Some(&token), query, vars).await;
                assert_eq!(status, 200, "{v}");
                v
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("request task"));
    }
    out
}

fn error_code(v: &Value) -> Option<&str> {
    v["errors"][0]["extensions"]["code"].as_str()
}

const BLOCK: &str = "mutation($id: ID!) { blockUser(userId: $id) }";
const UNBLOCK: &str = "mutation($id: ID!) { unblockUser(userId: $id) }";
const FOLLOW: &str = "mutation($id: ID!) { followUser(userId: $id) { state } }";
const LIKE: &str = "mutation($id: ID!) { likeVideo(videoId: $id) { likeCount } }";
const UNLIKE: &str = "mutation($id: ID!) { unlikeVideo(videoId: $id) { likeCount } }";
const LIKES: &str = "query($id: ID!) { video(id: $id) { likeCount visibleLikers(first: 10) { totalCount hiddenCount edges { node { id } } } } }";

/// Finding 1: `blockUser(X)` by V at the same moment as X's `followUser(V)` and
/// `likeVideo(V's video)`. Neither may survive the block, a `NOT_FOUND` like wrote nothing, and
/// after V turns private and unblocks X, X is not an approved follower and sees nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_block_removes_the_follow_and_like_racing_it() {
    let app = Arc::new(TestApp::spawn().await);
    for r in 0..ROUNDS {
        let v = sign_up(&app, &format!("victim{r}"), "").await;
        let x = sign_up(&app, &format!("stalker{r}"), "").await;
        let video = post_video(&app, &v).await;
        let answers = at_once(
            &app,
            vec![
                (v.token.clone(), BLOCK, json!({ "id": x.id })),
                (x.token.clone(), FOLLOW, json!({ "id": v.id })),
                (x.token.clone(), LIKE, json!({ "id": video })),
            ],
        )
        .await;
        assert!(answers[0]["errors"].is_null(), "block: {}", answers[0]);
        for a in &answers[1..] {
            let code = error_code(a);
            assert!(
                code.is_none() || code == Some("NOT_FOUND"),
                "round {r}: {a}"
            );
        }
        let (_, seen) = app
            .gql(
                Some(&v.token),
                "query($id: ID!) { viewer { followerCount } video(id: $id) { likeCount } }",
                json!({ "id": video }),
            )
            .await;
        assert_eq!(
            seen["data"]["viewer"]["followerCount"], 0,
            "round {r}: the blocked account still counts as a follower ({answers:?})"
        );
        assert_eq!(
            seen["data"]["video"]["likeCount"], 0,
            "round {r}: the blocked account's like survived the block ({answers:?})"
        );
        // The consequence that was reproduced: private, a private video, unblock.
        app.gql(
            Some(&v.token),
            "mutation { updateAccount(input: {visibility: PRIVATE}) { id } }",
            json!({}),
        )
        .await;
        let private_video = post_video(&app, &v).await;
        app.gql(Some(&v.token), UNBLOCK, json!({ "id": x.id }))
            .await;
        let (_, after) = app
            .gql(
                Some(&x.token),
                "query($u: ID!, $v: ID!) { node(id: $u) { ... on User { viewerFollowState } } video(id: $v) { id } }",
                json!({ "u": v.id, "v": private_video }),
            )
            .await;
        assert_eq!(
            after["data"]["node"]["viewerFollowState"], "NONE",
            "round {r}: {after}"
        );
        assert!(after["data"]["video"].is_null(), "round {r}: {after}");
    }
}

/// Finding 2: likes racing the liker's `deleteAccount`. The deletion checks the password
/// (Argon2, tens of milliseconds) before its transaction, so the liker keeps liking and
/// unliking from several clients until the deletion has answered, to land likes in every
/// part of it. Nothing of the deleted account may stay counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn likes_racing_the_likers_deletion_are_not_counted_afterwards() {
    let app = Arc::new(TestApp::spawn().await);
    for r in 0..ROUNDS {
        let author = sign_up(&app, &format!("author{r}"), "").await;
        let liker = sign_up(&app, &format!("leaver{r}"), "").await;
        let mut videos = Vec::new();
        for _ in 0..4 {
            videos.push(post_video(&app, &author).await);
        }
        let deleted = Arc::new(AtomicBool::new(false));
        let barrier = Arc::new(Barrier::new(1 + videos.len()));
        let mut likers = Vec::new();
        for video in videos.clone() {
            let (app, barrier, deleted, token) = (
                app.clone(),
                barrier.clone(),
                deleted.clone(),
                liker.token.clone(),
            );
            likers.push(tokio::spawn(async move {
                barrier.wait().await;
                let mut answers = Vec::new();
                while !deleted.load(Ordering::SeqCst) {
                    for q in [LIKE, UNLIKE, LIKE] {
                        let (_, v) = app.gql(Some(&token), q, json!({ "id": video })).await;
                        answers.push(error_code(&v).unwrap_or("ok").to_owned());
                    }
                }
                answers
            }));
        }
        barrier.wait().await;
        let (_, gone) = app
            .gql(
                Some(&liker.token),
                r#"mutation { deleteAccount(password: "password123") }"#,
                json!({}),
            )
            .await;
        deleted.store(true, Ordering::SeqCst);
        assert_eq!(gone["data"]["deleteAccount"], true, "{gone}");
        let mut answers = Vec::new();
        for t in likers {
            answers.extend(t.await.expect("liker task"));
        }
        for video in &videos {
            let (_, seen) = app.gql(None, LIKES, json!({ "id": video })).await;
            let v = &seen["data"]["video"];
            assert_eq!(
                (
                    &v["likeCount"],
                    &v["visibleLikers"]["totalCount"],
                    &v["visibleLikers"]["hiddenCount"]
                ),
                (&json!(0), &json!(0), &json!(0)),
                "round {r}: the deleted account's like is still counted (its answers: {answers:?})"
            );
        }
    }
}

/// Finding 3: follow requests racing "turn PUBLIC". Every request that exists when the change
/// commits is approved, including the racing ones: none stays `PENDING`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn turning_public_approves_the_follow_requests_racing_it() {
    let app = Arc::new(TestApp::spawn().await);
    let mut fans = Vec::new();
    for i in 0..4 {
        fans.push(sign_up(&app, &format!("fan{i}"), "").await);
    }
    for r in 0..ROUNDS {
        let star = sign_up(&app, &format!("star{r}"), ", visibility: PRIVATE").await;
        let mut requests = vec![(
            star.token.clone(),
            "mutation { updateAccount(input: {visibility: PUBLIC}) { visibility } }",
            json!({}),
        )];
        for fan in &fans {
            requests.push((fan.token.clone(), FOLLOW, json!({ "id": star.id })));
        }
        let answers = at_once(&app, requests).await;
        for a in &answers {
            assert!(a["errors"].is_null(), "round {r}: {a}");
        }
        for fan in &fans {
            let (_, seen) = app
                .gql(
                    Some(&fan.token),
                    "query($u: ID!) { node(id: $u) { ... on User { viewerFollowState } } }",
                    json!({ "u": star.id }),
                )
                .await;
            assert_eq!(
                seen["data"]["node"]["viewerFollowState"], "APPROVED",
                "round {r}: a request stayed pending on a public account ({answers:?})"
            );
        }
    }
}

/// Finding 6 (part): two `blockUser` calls for the same pair at once both succeed; a
/// duplicate block is a no-op, never `INTERNAL`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_block_sent_twice_at_once_succeeds_twice() {
    let app = Arc::new(TestApp::spawn().await);
    let x = sign_up(&app, "target", "").await;
    for r in 0..ROUNDS {
        let v = sign_up(&app, &format!("blocker{r}"), "").await;
        let answers = at_once(
            &app,
            vec![
                (v.token.clone(), BLOCK, json!({ "id": x.id })),
                (v.token.clone(), BLOCK, json!({ "id": x.id })),
            ],
        )
        .await;
        for a in &answers {
            assert_eq!(a["data"]["blockUser"], true, "round {r}: {a}");
        }
    }
}
