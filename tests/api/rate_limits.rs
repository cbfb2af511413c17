//! Rate limits on mutations, over real HTTP (the client address matters): one negative test
//! per bucket (likes, follows, sign-up/log-in per address, log-in per handle from many
//! addresses), each checking the code, `retryAfter`, that nothing was written and that
//! another principal is unaffected; batches and aliases count every mutation; every bucket
//! refills; `0` turns a bucket off; the flags and their defaults.
use std::{net::IpAddr, time::Duration};

use clap::{CommandFactory, Parser};
use entity::{block, follow, like, user, LikesVisibility, Visibility};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use tally::{
    config::Cli,
    config::{Rate, RateLimits},
};
use uuid::Uuid;

use crate::helpers::{insert_account, uid, vid, video_uuid, TestApp};

const HOUR: Duration = Duration::from_secs(3600);
const LIKE: &str = "mutation($v: ID!) { likeVideo(videoId: $v) { likeCount } }";
const UNLIKE: &str = "mutation($v: ID!) { unlikeVideo(videoId: $v) { likeCount } }";
const FOLLOW: &str = "mutation($u: ID!) { followUser(userId: $u) { state } }";
const VIEW: &str = "mutation($v: ID!) { recordView(videoId: $v, watchMs: 1000) }";
const UNFOLLOW: &str = "mutation($u: ID!) { unfollowUser(userId: $u) }";
const BLOCK: &str = "mutation($u: ID!) { blockUser(userId: $u) }";
const APPROVE: &str = "mutation($u: ID!) { approveFollowRequest(userId: $u) { state } }";
const SIGN_UP: &str =
    "mutation($h: String!) { signUp(input: { handle: $h, password: \"password123\" }) { token } }";
const LOG_IN: &str =
    "mutation($h: String!, $p: String!) { logIn(input: { handle: $h, password: $p }) { token } }";

/// One request as a client at `from` (a loopback address), optionally with a bearer token
/// and an `X-Forwarded-For` header.
async fn post(
    app: &TestApp,
    from: &str,
    token: Option<&str>,
    forwarded_for: Option<&str>,
    body: Value,
) -> Value {
    let local: IpAddr = from.parse().expect("client address");
    let client = reqwest::Client::builder()
        .local_address(local)
        .build()
        .expect("client");
    let mut req = client.post(format!("{}/graphql", app.base)).json(&body);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    if let Some(f) = forwarded_for {
        req = req.header("X-Forwarded-For", f);
    }
    let resp = req.send().await.expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    resp.json().await.expect("JSON body")
}

/// A GraphQL operation from 127.0.0.1.
async fn gql(app: &TestApp, token: Option<&str>, query: &str, vars: Value) -> Value {
    post(
        app,
        "127.0.0.1",
        token,
        None,
        json!({ "query": query, "variables": vars }),
    )
    .await
}

/// Asserts an answer without errors.
fn assert_ok(response: &Value) {
    assert!(response.get("errors").is_none(), "{response}");
}

/// The first error's `extensions.code`.
fn code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {response}"))
}

/// Asserts `RATE_LIMITED` with no data and returns `retryAfter` (whole seconds, ≥ 1).
fn refused(response: &Value) -> u64 {
    assert_eq!(code(response), "RATE_LIMITED", "{response}");
    assert!(response["data"].is_null(), "nothing may answer: {response}");
    let retry = response["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("retryAfter must be a whole number: {response}"));
    assert!(retry >= 1, "{response}");
    retry
}

/// Asserts a refusal whose `retryAfter` is the hour of a `1/h` bucket, rounded up.
fn refused_for_an_hour(response: &Value) {
    let retry = refused(response);
    assert!((3590..=3600).contains(&retry), "retryAfter {retry}");
}

async fn account(app: &TestApp, handle: &str, visibility: Visibility) -> (Uuid, String) {
    let id = insert_account(&app.db, handle, visibility, LikesVisibility::Everyone).await;
    (id, crate::helpers::token_for(&app.db, id).await)
}

/// A video of the account with `token`, posted through the API.
async fn video_of(app: &TestApp, token: &str) -> Uuid {
    let r = gql(
        app,
        Some(token),
        "mutation { createVideo(input: { mediaUrl: \"https://media.example.com/v.mp4\", caption: \"rate me\" }) { id } }",
        json!({}),
    )
    .await;
    video_uuid(r["data"]["createVideo"]["id"].as_str().expect("video id"))
}

/// The video's `likeCount`, checked against its like rows.
async fn like_count(app: &TestApp, v: Uuid) -> i64 {
    let r = gql(
        app,
        None,
        "query($v: ID!) { video(id: $v) { likeCount } }",
        json!({ "v": vid(v) }),
    )
    .await;
    let count = r["data"]["video"]["likeCount"].as_i64().expect("likeCount");
    let rows = like::Entity::find()
        .filter(like::Column::VideoId.eq(v))
        .count(&app.db)
        .await
        .expect("count likes");
    assert_eq!(count, rows as i64, "likeCount and rows agree");
    count
}

async fn has_liked(app: &TestApp, u: Uuid, v: Uuid) -> bool {
    like::Entity::find_by_id((v, u))
        .one(&app.db)
        .await
        .expect("read like")
        .is_some()
}

async fn follows(app: &TestApp, follower: Uuid, followee: Uuid) -> bool {
    follow::Entity::find_by_id((follower, followee))
        .one(&app.db)
        .await
        .expect("read follow")
        .is_some()
}

async fn blocks(app: &TestApp, blocker: Uuid, blocked: Uuid) -> bool {
    block::Entity::find_by_id((blocker, blocked))
        .one(&app.db)
        .await
        .expect("read block")
        .is_some()
}

async fn user_exists(app: &TestApp, handle: &str) -> bool {
    user::Entity::find()
        .filter(user::Column::Handle.eq(handle))
        .count(&app.db)
        .await
        .expect("count users")
        > 0
}

#[tokio::test]
async fn likes_are_limited_per_account_and_a_refused_like_writes_nothing() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits = RateLimits {
            rate_likes: Rate::per(1, HOUR),
            rate_likes_burst: 2,
            ..RateLimits::off()
        }
    })
    .await;
    let (_, author) = account(&app, "author", Visibility::Public).await;
    let (fan, fan_token) = account(&app, "fan", Visibility::Public).await;
    let (other, other_token) = account(&app, "other", Visibility::Public).await;
    let v = video_of(&app, &author).await;
    let vars = json!({ "v": vid(v) });

    assert_ok(&gql(&app, Some(&fan_token), LIKE, vars.clone()).await);
    assert_ok(&gql(&app, Some(&fan_token), UNLIKE, vars.clone()).await);
    // The third like-bucket call of the hour: refused, and not written.
    refused_for_an_hour(&gql(&app, Some(&fan_token), LIKE, vars.clone()).await);
    assert!(!has_liked(&app, fan, v).await);
    assert_eq!(like_count(&app, v).await, 0);
    // unlikeVideo spends the same bucket.
    refused_for_an_hour(&gql(&app, Some(&fan_token), UNLIKE, vars.clone()).await);

    // Another account has a bucket of its own.
    let r = gql(&app, Some(&other_token), LIKE, vars.clone()).await;
    assert_ok(&r);
    assert_eq!(r["data"]["likeVideo"]["likeCount"], 1);
    assert!(has_liked(&app, other, v).await);
    assert_eq!(like_count(&app, v).await, 1);
}

#[tokio::test]
async fn every_mutation_of_a_batch_and_every_alias_counts() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits = RateLimits {
            rate_likes: Rate::per(1, HOUR),
            rate_likes_burst: 3,
            ..RateLimits::off()
        }
    })
    .await;
    let (_, author) = account(&app, "author", Visibility::Public).await;
    let (_, fan_token) = account(&app, "fan", Visibility::Public).await;
    let mut videos = Vec::new();
    for _ in 0..4 {
        videos.push(video_of(&app, &author).await);
    }
    let batch = json!([
        {
            "query": "mutation($a: ID!, $b: ID!) { a: likeVideo(videoId: $a) { likeCount } b: likeVideo(videoId: $b) { likeCount } }",
            "variables": { "a": vid(videos[0]), "b": vid(videos[1]) }
        },
        { "query": LIKE, "variables": { "v": vid(videos[2]) } },
        { "query": LIKE, "variables": { "v": vid(videos[3]) } },
    ]);
    let auth = format!("Bearer {fan_token}");
    let (status, body) = app.post(Some(&auth), batch).await;
    assert_eq!(status, 200, "{body}");
    let answers = body.as_array().expect("a batch answer");
    // The operations of a batch run concurrently: which one comes fourth is open, but four
    // mutations spend four cells, so exactly one of them is refused and writes nothing.
    // (`a` runs before `b` in its operation, so it is never the fourth.)
    let errors: Vec<(usize, &Value)> = answers
        .iter()
        .enumerate()
        .flat_map(|(i, a)| {
            a["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |e| (i, e))
        })
        .collect();
    assert_eq!(errors.len(), 1, "{body}");
    let (refused_answer, error) = errors[0];
    assert_eq!(error["extensions"]["code"], "RATE_LIMITED", "{body}");
    let refused_field = error["path"][0].as_str().expect("path");
    let mutations = [
        (0, "a", 0),
        (0, "b", 1),
        (1, "likeVideo", 2),
        (2, "likeVideo", 3),
    ];
    let mut liked = 0;
    for (answer, field, v) in mutations {
        let refused = (answer, field) == (refused_answer, refused_field);
        let count = like_count(&app, videos[v]).await;
        assert_eq!(count, i64::from(!refused), "{field} of {answer}: {body}");
        liked += count;
        if answer == refused_answer {
            // A refused (non-null) mutation nulls its operation's `data`, `a`'s too.
            assert_eq!(answers[answer]["data"], Value::Null, "{body}");
        } else {
            assert_eq!(answers[answer]["data"][field]["likeCount"], 1, "{body}");
        }
    }
    assert_eq!(liked, 3, "{body}");
    assert_ne!(refused_field, "a", "{body}");
    let retry = error["extensions"]["retryAfter"]
        .as_u64()
        .expect("retryAfter");
    assert!((3590..=3600).contains(&retry), "retryAfter {retry}");
}

#[tokio::test]
async fn follows_and_blocks_share_a_per_account_bucket_and_answers_to_requests_are_free() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits = RateLimits {
            rate_follows: Rate::per(1, HOUR),
            rate_follows_burst: 2,
            ..RateLimits::off()
        }
    })
    .await;
    let (fan, fan_token) = account(&app, "fan", Visibility::Private).await;
    let (a, _) = account(&app, "alpha", Visibility::Public).await;
    let (b, _) = account(&app, "bravo", Visibility::Public).await;
    let (other, other_token) = account(&app, "other", Visibility::Public).await;

    assert_ok(&gql(&app, Some(&fan_token), FOLLOW, json!({ "u": uid(a) })).await);
    assert_ok(&gql(&app, Some(&fan_token), UNFOLLOW, json!({ "u": uid(a) })).await);
    refused_for_an_hour(&gql(&app, Some(&fan_token), FOLLOW, json!({ "u": uid(b) })).await);
    assert!(!follows(&app, fan, b).await);
    refused_for_an_hour(&gql(&app, Some(&fan_token), BLOCK, json!({ "u": uid(b) })).await);
    assert!(!blocks(&app, fan, b).await);

    // Another account follows freely, and asks to follow the (private) limited account …
    let r = gql(&app, Some(&other_token), FOLLOW, json!({ "u": uid(b) })).await;
    assert_eq!(r["data"]["followUser"]["state"], "APPROVED", "{r}");
    let r = gql(&app, Some(&other_token), FOLLOW, json!({ "u": uid(fan) })).await;
    assert_eq!(r["data"]["followUser"]["state"], "PENDING", "{r}");
    // … which may still answer the request: answers are not in the follow bucket.
    let r = gql(&app, Some(&fan_token), APPROVE, json!({ "u": uid(other) })).await;
    assert_eq!(
        r["data"]["approveFollowRequest"]["state"], "APPROVED",
        "{r}"
    );
}

#[tokio::test]
async fn sign_up_and_log_in_are_limited_per_client_address() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits = RateLimits {
            rate_auth: Rate::per(1, HOUR),
            rate_auth_burst: 2,
            ..RateLimits::off()
        }
    })
    .await;
    let sign_up = |h: &str| json!({ "query": SIGN_UP, "variables": { "h": h } });
    let log_in = |h: &str| json!({ "query": LOG_IN, "variables": { "h": h, "p": "password123" } });

    assert_ok(&post(&app, "127.0.0.1", None, None, sign_up("first")).await);
    assert_ok(&post(&app, "127.0.0.1", None, None, log_in("first")).await);
    refused_for_an_hour(&post(&app, "127.0.0.1", None, None, sign_up("second")).await);
    assert!(!user_exists(&app, "second").await);
    refused_for_an_hour(&post(&app, "127.0.0.1", None, None, log_in("first")).await);
    // Without trusted proxies `X-Forwarded-For` is the client's own claim: ignored.
    let spoofed = post(
        &app,
        "127.0.0.1",
        None,
        Some("198.51.100.7"),
        sign_up("second"),
    )
    .await;
    refused_for_an_hour(&spoofed);
    assert!(!user_exists(&app, "second").await);
    // A signed-in caller is still keyed by its address: a token buys no fresh bucket.
    let (_, some_token) = account(&app, "holder", Visibility::Public).await;
    refused_for_an_hour(&post(&app, "127.0.0.1", Some(&some_token), None, log_in("first")).await);

    // Another client address has its own bucket.
    assert_ok(&post(&app, "127.0.0.2", None, None, sign_up("second")).await);
    assert!(user_exists(&app, "second").await);
    assert_ok(&post(&app, "127.0.0.2", None, None, log_in("first")).await);
}

#[tokio::test]
async fn log_in_is_limited_per_handle_whatever_the_address() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits = RateLimits {
            rate_auth: Rate::per(1, HOUR),
            rate_auth_burst: 100,
            rate_login_handle: Rate::per(1, HOUR),
            rate_login_handle_burst: 2,
            trusted_proxies: 1,
            ..RateLimits::off()
        }
    })
    .await;
    let sign_up = |h: &str| json!({ "query": SIGN_UP, "variables": { "h": h } });
    let log_in = |h: &str, p: &str| json!({ "query": LOG_IN, "variables": { "h": h, "p": p } });
    assert_ok(&post(&app, "127.0.0.1", None, None, sign_up("victim")).await);
    assert_ok(&post(&app, "127.0.0.1", None, None, sign_up("bystander")).await);

    // Guesses from two addresses (behind the trusted proxy), the handle typed two ways.
    let r = post(
        &app,
        "127.0.0.1",
        None,
        Some("203.0.113.1"),
        log_in("victim", "guess-one"),
    )
    .await;
    assert_eq!(code(&r), "UNAUTHENTICATED", "{r}");
    let r = post(
        &app,
        "127.0.0.1",
        None,
        Some("203.0.113.2"),
        log_in("VICTIM", "guess-two"),
    )
    .await;
    assert_eq!(code(&r), "UNAUTHENTICATED", "{r}");
    // A third address, even with the right password: refused before any check.
    let r = post(
        &app,
        "127.0.0.1",
        None,
        Some("203.0.113.3"),
        log_in("Victim", "password123"),
    )
    .await;
    refused_for_an_hour(&r);

    // Another handle, from the same address, is unaffected.
    let r = post(
        &app,
        "127.0.0.1",
        None,
        Some("203.0.113.3"),
        log_in("bystander", "password123"),
    )
    .await;
    assert_ok(&r);
    assert!(r["data"]["logIn"]["token"].is_string());
}

#[tokio::test]
async fn with_a_trusted_proxy_the_address_it_appended_is_the_key() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits = RateLimits {
            rate_auth: Rate::per(1, HOUR),
            rate_auth_burst: 1,
            trusted_proxies: 1,
            ..RateLimits::off()
        }
    })
    .await;
    // An invalid handle fails validation after the limiter: cheap, and it spends a cell.
    let bad = json!({ "query": SIGN_UP, "variables": { "h": "!!" } });
    let r = post(&app, "127.0.0.1", None, Some("198.51.100.1"), bad.clone()).await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    refused_for_an_hour(&post(&app, "127.0.0.1", None, Some("198.51.100.1"), bad.clone()).await);
    // What the client wrote further left changes nothing …
    let r = post(
        &app,
        "127.0.0.1",
        None,
        Some("9.9.9.9, 198.51.100.1"),
        bad.clone(),
    )
    .await;
    refused_for_an_hour(&r);
    // … the address the proxy appended does.
    let r = post(
        &app,
        "127.0.0.1",
        None,
        Some("198.51.100.1, 198.51.100.2"),
        bad.clone(),
    )
    .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
}

#[tokio::test]
async fn every_bucket_refills_after_its_period() {
    let period = Duration::from_millis(400);
    let rate = Rate::per(1, period);
    let app = TestApp::spawn_with(|s| {
        s.rate_limits = RateLimits {
            rate_likes: rate,
            rate_likes_burst: 1,
            rate_follows: rate,
            rate_follows_burst: 1,
            rate_views: rate,
            rate_views_burst: 1,
            rate_auth: rate,
            rate_auth_burst: 1,
            rate_login_handle: rate,
            rate_login_handle_burst: 1,
            rate_oauth: rate,
            rate_oauth_burst: 1,
            trusted_proxies: 0,
        }
    })
    .await;
    let wait = || tokio::time::sleep(period + Duration::from_millis(100));
    let (_, token) = account(&app, "author", Visibility::Public).await;
    let (target, _) = account(&app, "target", Visibility::Public).await;
    let v = video_of(&app, &token).await;

    let vars = json!({ "v": vid(v) });
    assert_ok(&gql(&app, Some(&token), LIKE, vars.clone()).await);
    assert_eq!(
        refused(&gql(&app, Some(&token), UNLIKE, vars.clone()).await),
        1
    );
    wait().await;
    assert_ok(&gql(&app, Some(&token), UNLIKE, vars.clone()).await);
    assert_eq!(like_count(&app, v).await, 0);

    let vars = json!({ "u": uid(target) });
    assert_ok(&gql(&app, Some(&token), FOLLOW, vars.clone()).await);
    assert_eq!(
        refused(&gql(&app, Some(&token), UNFOLLOW, vars.clone()).await),
        1
    );
    wait().await;
    assert_ok(&gql(&app, Some(&token), UNFOLLOW, vars.clone()).await);

    let vars = json!({ "v": vid(v) });
    assert_ok(&gql(&app, Some(&token), VIEW, vars.clone()).await);
    assert_eq!(
        refused(&gql(&app, Some(&token), VIEW, vars.clone()).await),
        1
    );
    wait().await;
    assert_ok(&gql(&app, Some(&token), VIEW, vars.clone()).await);

    let bad = json!({ "h": "!!" });
    assert_eq!(
        code(&gql(&app, None, SIGN_UP, bad.clone()).await),
        "BAD_USER_INPUT"
    );
    assert_eq!(refused(&gql(&app, None, SIGN_UP, bad.clone()).await), 1);
    wait().await;
    assert_eq!(
        code(&gql(&app, None, SIGN_UP, bad.clone()).await),
        "BAD_USER_INPUT"
    );

    // The handle's bucket, from three addresses (each with a fresh auth bucket). The first
    // two at once, so that no password check runs between them: one of them is refused.
    let log_in = json!({ "query": LOG_IN, "variables": { "h": "nobody", "p": "password123" } });
    let (r2, r3) = tokio::join!(
        post(&app, "127.0.0.2", None, None, log_in.clone()),
        post(&app, "127.0.0.3", None, None, log_in.clone()),
    );
    let mut codes = [code(&r2), code(&r3)];
    codes.sort_unstable();
    assert_eq!(codes, ["RATE_LIMITED", "UNAUTHENTICATED"], "{r2} {r3}");
    let limited = if code(&r2) == "RATE_LIMITED" {
        &r2
    } else {
        &r3
    };
    assert_eq!(refused(limited), 1);
    wait().await;
    let r = post(&app, "127.0.0.4", None, None, log_in.clone()).await;
    assert_eq!(code(&r), "UNAUTHENTICATED", "{r}");
}

#[tokio::test]
async fn a_rate_of_zero_turns_its_bucket_off() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits = RateLimits {
            rate_likes: "0".parse().expect("rate"),
            ..RateLimits::default()
        }
    })
    .await;
    let (_, token) = account(&app, "author", Visibility::Public).await;
    let v = video_of(&app, &token).await;
    let vars = json!({ "v": vid(v) });
    // Past the default burst of 30 at once.
    for i in 0..40 {
        let query = if i % 2 == 0 { LIKE } else { UNLIKE };
        assert_ok(&gql(&app, Some(&token), query, vars.clone()).await);
    }
    // The other buckets keep their defaults: the auth bucket's burst of 10, then one every
    // 12 s.
    let bad = json!({ "h": "!!" });
    for _ in 0..10 {
        assert_eq!(
            code(&gql(&app, None, SIGN_UP, bad.clone()).await),
            "BAD_USER_INPUT"
        );
    }
    let retry = refused(&gql(&app, None, SIGN_UP, bad).await);
    assert!((1..=12).contains(&retry), "retryAfter {retry}");
}

#[test]
fn the_rate_limits_default_to_the_documented_values_and_read_flags() {
    let defaults = Cli::try_parse_from(["tally"]).expect("parse").config;
    assert_eq!(defaults.rate_limits, RateLimits::default());
    let d = RateLimits::default();
    let shown = [
        d.rate_likes.to_string(),
        d.rate_follows.to_string(),
        d.rate_views.to_string(),
        d.rate_auth.to_string(),
        d.rate_login_handle.to_string(),
    ];
    assert_eq!(shown, ["10/s", "2/s", "2/s", "5/min", "10/h"]);
    assert_eq!(
        (
            d.rate_likes_burst,
            d.rate_follows_burst,
            d.rate_views_burst,
            d.rate_auth_burst,
            d.rate_login_handle_burst,
            d.trusted_proxies
        ),
        (30, 20, 60, 10, 5, 0)
    );

    let cli = Cli::try_parse_from([
        "tally",
        "--rate-likes",
        "0",
        "--rate-follows",
        "1/200ms",
        "--rate-auth-burst",
        "3",
        "--rate-login-handle",
        "3/h",
        "--trusted-proxies",
        "2",
    ])
    .expect("parse");
    let r = cli.config.rate_limits;
    assert!(r.rate_likes.is_off());
    assert_eq!(r.rate_follows, Rate::per(1, Duration::from_millis(200)));
    assert_eq!(r.rate_auth_burst, 3);
    assert_eq!(r.rate_login_handle, Rate::per(3, HOUR));
    assert_eq!(r.trusted_proxies, 2);
    assert!(Cli::try_parse_from(["tally", "--rate-likes", "lots"]).is_err());
    assert!(Cli::try_parse_from(["tally", "--rate-likes-burst", "0"]).is_err());

    // Every flag is also an environment variable.
    let command = Cli::command();
    for (id, env) in [
        ("rate_likes", "TALLY_RATE_LIKES"),
        ("rate_likes_burst", "TALLY_RATE_LIKES_BURST"),
        ("rate_follows", "TALLY_RATE_FOLLOWS"),
        ("rate_follows_burst", "TALLY_RATE_FOLLOWS_BURST"),
        ("rate_views", "TALLY_RATE_VIEWS"),
        ("rate_views_burst", "TALLY_RATE_VIEWS_BURST"),
        ("rate_auth", "TALLY_RATE_AUTH"),
        ("rate_auth_burst", "TALLY_RATE_AUTH_BURST"),
        ("rate_login_handle", "TALLY_RATE_LOGIN_HANDLE"),
        ("rate_login_handle_burst", "TALLY_RATE_LOGIN_HANDLE_BURST"),
        ("trusted_proxies", "TALLY_TRUSTED_PROXIES"),
    ] {
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == id)
            .unwrap_or_else(|| panic!("no flag {id}"));
        assert_eq!(arg.get_env().and_then(|e| e.to_str()), Some(env), "{id}");
    }
}
