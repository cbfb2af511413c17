//! Live subscriptions over a real WebSocket client (`graphql-transport-ws`): updates across
//! instances (two services on one PostgreSQL database; one service on SQLite), the Rule V
//! re-check at delivery, `likeActivity`'s liker against the pure Rule L at delivery over
//! random worlds, the handshake's token failures and timeout, the limits, coalescing.
use std::time::{Duration, Instant};

use entity::{FollowState, LikesVisibility, Visibility};
use futures_util::{SinkExt, StreamExt};
use proptest::prelude::*;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{json, Value};
use tally::{
    auth::token::Tokens,
    clock::Clock,
    domain::{
        accounts::{update_account, AccountChanges},
        social::{follow_user, unfollow_user},
        videos::NewVideo,
    },
    privacy::{audience, can_see_like, Graph},
};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, http::HeaderValue, Message},
    MaybeTlsStream, WebSocketStream,
};
use uuid::Uuid;

use crate::helpers::{
    ids, insert_account, insert_block, insert_follow, make_video, now_us, token_for, vid, TestApp,
    SECRET,
};

/// A `graphql-transport-ws` client.
struct Ws(WebSocketStream<MaybeTlsStream<TcpStream>>);

/// What the server did next.
#[derive(Debug, PartialEq)]
enum Got {
    /// A protocol message.
    Msg(Value),
    /// The socket was closed with this code.
    Closed(Option<u16>),
    /// Nothing within the wait.
    Nothing,
}

impl Ws {
    async fn connect(app: &TestApp) -> Ws {
        let mut req = app.ws_url().into_client_request().expect("request");
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (stream, resp) = tokio_tungstenite::connect_async(req)
            .await
            .expect("WebSocket upgrade");
        assert_eq!(
            resp.headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some("graphql-transport-ws")
        );
        Ws(stream)
    }

    async fn send(&mut self, v: Value) {
        self.0
            .send(Message::text(v.to_string()))
            .await
            .expect("send");
    }

    /// `connection_init` with `authorization`, and what came back.
    async fn init(&mut self, authorization: Option<&str>) -> Got {
        let payload = match authorization {
            Some(a) => json!({ "authorization": a }),
            None => json!({}),
        };
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        self.next(Duration::from_secs(5)).await
    }

    /// A connection signed in with `token` (anonymous without), acknowledged.
    async fn open(app: &TestApp, token: Option<&str>) -> Ws {
        let mut ws = Ws::connect(app).await;
        let auth = token.map(|t| format!("Bearer {t}"));
        let got = ws.init(auth.as_deref()).await;
        assert_eq!(got, Got::Msg(json!({ "type": "connection_ack" })));
        ws
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({
            "id": id, "type": "subscribe",
            "payload": { "query": query, "variables": variables }
        }))
        .await;
    }

    /// The next protocol message or close within `wait` (WebSocket pings skipped).
    async fn next(&mut self, wait: Duration) -> Got {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.0.next()).await {
                Err(_) => return Got::Nothing,
                Ok(None) => return Got::Closed(None),
                Ok(Some(Err(_))) => return Got::Closed(None),
                Ok(Some(Ok(Message::Text(t)))) => {
                    return Got::Msg(serde_json::from_str(&t).expect("JSON message"))
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Got::Closed(frame.map(|f| u16::from(f.code)))
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Subscribes `id` to `video`'s count and returns the current count, the first event
    /// (once it is here, the subscription is live).
    async fn watch_count(&mut self, id: &str, video: Uuid) -> i64 {
        self.subscribe(id, COUNT, json!({ "v": vid(video) })).await;
        let first = self
            .next_payload(id, WAIT)
            .await
            .expect("the current count");
        first["data"]["likeCountChanged"]["likeCount"]
            .as_i64()
            .unwrap_or_else(|| panic!("a count: {first}"))
    }

    /// The payload of the next `next` message of subscription `id`, within `wait`.
    async fn next_payload(&mut self, id: &str, wait: Duration) -> Option<Value> {
        match self.next(wait).await {
            Got::Msg(m) if m["type"] == "next" && m["id"] == id => Some(m["payload"].clone()),
            Got::Nothing => None,
            other => panic!("expected `next` for {id}, got {other:?}"),
        }
    }
}

const COUNT: &str = "subscription($v: ID!) { likeCountChanged(videoId: $v) { videoId likeCount } }";
const ACTIVITY: &str =
    "subscription { likeActivity { video { id } liker { id handle } likeCount at } }";

fn new_video(caption: &str) -> NewVideo {
    NewVideo {
        caption: caption.to_owned(),
        hashtags: Vec::new(),
        sound: None,
        duration_ms: Some(10_000),
        media_url: "https://media.example.com/v.mp4".into(),
        thumbnail_url: None,
    }
}

/// An account of `visibility` whose likes everyone may see.
async fn account(db: &DatabaseConnection, handle: &str, visibility: Visibility) -> Uuid {
    insert_account(db, handle, visibility, LikesVisibility::Everyone).await
}

/// An access token of `user` in a session of its own, made once per account.
async fn token(app: &TestApp, user: Uuid) -> String {
    static MADE: std::sync::Mutex<Vec<(Uuid, String)>> = std::sync::Mutex::new(Vec::new());
    let known = MADE
        .lock()
        .expect("tokens")
        .iter()
        .find(|(u, _)| *u == user)
        .map(|(_, t)| t.clone());
    match known {
        Some(t) => t,
        None => {
            let t = token_for(&app.db, user).await;
            MADE.lock().expect("tokens").push((user, t.clone()));
            t
        }
    }
}

async fn like(app: &TestApp, liker: Uuid, video: Uuid) -> Value {
    let (status, body) = app
        .gql(
            Some(&token(app, liker).await),
            "mutation($v: ID!) { likeVideo(videoId: $v) { likeCount } }",
            json!({ "v": vid(video) }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn mutate(app: &TestApp, who: Uuid, query: &str, vars: Value) {
    let (status, body) = app.gql(Some(&token(app, who).await), query, vars).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{query}: {body}");
}

const WAIT: Duration = Duration::from_secs(1);
/// How long a test waits to be sure nothing more comes.
const QUIET: Duration = Duration::from_millis(700);

#[tokio::test]
async fn a_like_through_one_instance_reaches_a_subscriber_of_the_other_until_unsubscribed() {
    let (a, b) = TestApp::pair().await;
    let author = account(&a.db, "author", Visibility::Public).await;
    let fans: Vec<Uuid> = {
        let mut v = Vec::new();
        for i in 0..3 {
            v.push(account(&a.db, &format!("fan{i}"), Visibility::Public).await);
        }
        v
    };
    let video = make_video(&a.db, author, new_video("clip"), now_us()).await;
    // Anonymous viewers may watch a public video's count.
    let mut ws = Ws::open(&a, None).await;
    assert_eq!(ws.watch_count("1", video).await, 0);
    like(&b, fans[0], video).await;
    let got = ws
        .next_payload("1", WAIT)
        .await
        .expect("an update within 1 s");
    assert_eq!(
        got["data"]["likeCountChanged"],
        json!({ "videoId": vid(video), "likeCount": 1 })
    );
    like(&b, fans[1], video).await;
    let got = ws.next_payload("1", WAIT).await.expect("a second update");
    assert_eq!(got["data"]["likeCountChanged"]["likeCount"], 2);

    let metrics = reqwest::get(format!("{}/metrics", a.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    assert!(metrics.contains("tally_live_subscriptions"), "{metrics}");
    assert!(
        metrics.contains("tally_live_events_delivered_total"),
        "{metrics}"
    );

    ws.send(json!({ "id": "1", "type": "complete" })).await;
    like(&b, fans[2], video).await;
    match ws.next(QUIET).await {
        Got::Nothing => {}
        // async-graphql confirms the stop with `complete`; nothing else may follow.
        Got::Msg(m) if m["type"] == "complete" => assert_eq!(ws.next(QUIET).await, Got::Nothing),
        other => panic!("nothing expected after unsubscribing, got {other:?}"),
    }
}

/// Subscribes `viewer` to `video`, makes `change` happen, and expects the subscription to
/// end with `NOT_FOUND` and nothing more, even when the video's count changes after.
async fn ends_with_not_found(
    app: &TestApp,
    viewer: Uuid,
    video: Uuid,
    fans: [Uuid; 2],
    change: impl std::future::Future<Output = ()>,
) {
    let mut ws = Ws::open(app, Some(&token(app, viewer).await)).await;
    assert_eq!(ws.watch_count("s", video).await, 0);
    like(app, fans[0], video).await;
    let first = ws.next_payload("s", WAIT).await.expect("visible at first");
    assert_eq!(first["data"]["likeCountChanged"]["likeCount"], 1, "{first}");
    change.await;
    let ended = ws
        .next_payload("s", WAIT)
        .await
        .expect("the re-check's answer");
    assert_eq!(
        ended["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{ended}"
    );
    assert_eq!(
        ws.next(WAIT).await,
        Got::Msg(json!({ "id": "s", "type": "complete" }))
    );
    like(app, fans[1], video).await;
    assert_eq!(ws.next(QUIET).await, Got::Nothing);
}

#[tokio::test]
async fn a_subscriber_blocked_by_the_author_is_told_not_found_and_nothing_more() {
    let (a, b) = TestApp::pair().await;
    let author = account(&a.db, "author", Visibility::Public).await;
    let viewer = account(&a.db, "viewer", Visibility::Public).await;
    let fan = account(&a.db, "fan", Visibility::Public).await;
    let fan2 = account(&a.db, "fan2", Visibility::Public).await;
    let video = make_video(&a.db, author, new_video("clip"), now_us()).await;
    let block = async {
        mutate(
            &b,
            author,
            "mutation($u: ID!) { blockUser(userId: $u) }",
            json!({ "u": crate::helpers::uid(viewer) }),
        )
        .await;
    };
    ends_with_not_found(&a, viewer, video, [fan, fan2], block).await;
}

#[tokio::test]
async fn unfollowing_a_private_author_ends_the_subscription_with_not_found() {
    let (a, b) = TestApp::pair().await;
    let author = account(&a.db, "author", Visibility::Private).await;
    let viewer = account(&a.db, "viewer", Visibility::Public).await;
    let fan = account(&a.db, "fan", Visibility::Public).await;
    let fan2 = account(&a.db, "fan2", Visibility::Public).await;
    insert_follow(&a.db, viewer, author, FollowState::Approved).await;
    insert_follow(&a.db, fan, author, FollowState::Approved).await;
    insert_follow(&a.db, fan2, author, FollowState::Approved).await;
    let video = make_video(&a.db, author, new_video("clip"), now_us()).await;
    let unfollow = async {
        mutate(
            &b,
            viewer,
            "mutation($u: ID!) { unfollowUser(userId: $u) }",
            json!({ "u": crate::helpers::uid(author) }),
        )
        .await;
    };
    ends_with_not_found(&a, viewer, video, [fan, fan2], unfollow).await;
}

#[tokio::test]
async fn the_author_turning_private_ends_a_strangers_subscription() {
    let (a, b) = TestApp::pair().await;
    let author = account(&a.db, "author", Visibility::Public).await;
    let viewer = account(&a.db, "viewer", Visibility::Public).await;
    let fan = account(&a.db, "fan", Visibility::Public).await;
    let fan2 = account(&a.db, "fan2", Visibility::Public).await;
    insert_follow(&a.db, fan, author, FollowState::Approved).await;
    insert_follow(&a.db, fan2, author, FollowState::Approved).await;
    let video = make_video(&a.db, author, new_video("clip"), now_us()).await;
    let private = async {
        mutate(
            &b,
            author,
            "mutation { updateAccount(input: {visibility: PRIVATE}) { id } }",
            json!({}),
        )
        .await;
    };
    ends_with_not_found(&a, viewer, video, [fan, fan2], private).await;
}

#[tokio::test]
async fn a_video_the_viewer_cannot_see_is_not_found_at_subscribe_time() {
    let app = TestApp::spawn().await;
    let author = account(&app.db, "author", Visibility::Private).await;
    let video = make_video(&app.db, author, new_video("hidden"), now_us()).await;
    let mut ws = Ws::open(&app, None).await;
    ws.subscribe("1", COUNT, json!({ "v": vid(video) })).await;
    let got = ws.next_payload("1", WAIT).await.expect("an answer");
    assert_eq!(got["errors"][0]["extensions"]["code"], "NOT_FOUND", "{got}");
    // Exactly as a video that does not exist.
    ws.subscribe("2", COUNT, json!({ "v": vid(Uuid::now_v7()) }))
        .await;
    let mut answers = Vec::new();
    while let Got::Msg(m) = ws.next(QUIET).await {
        answers.push(m);
    }
    let missing = answers
        .iter()
        .find(|m| m["id"] == "2" && m["type"] == "next")
        .expect("an answer for a missing video");
    assert_eq!(
        missing["payload"]["errors"][0]["message"],
        got["errors"][0]["message"]
    );
    assert_eq!(
        missing["payload"]["errors"][0]["extensions"]["code"],
        "NOT_FOUND"
    );
}

#[tokio::test]
async fn like_activity_needs_a_signed_in_viewer() {
    let app = TestApp::spawn().await;
    let mut ws = Ws::open(&app, None).await;
    ws.subscribe("1", ACTIVITY, json!({})).await;
    let got = ws.next_payload("1", WAIT).await.expect("an answer");
    assert_eq!(
        got["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{got}"
    );
}

#[tokio::test]
async fn bad_tokens_close_the_connection_with_4401() {
    let app = TestApp::spawn().await;
    let gone = account(&app.db, "gone", Visibility::Public).await;
    let gone_token = token(&app, gone).await;
    app.db
        .execute_unprepared("DELETE FROM users WHERE handle = 'gone'")
        .await
        .expect("delete account");
    let expired = Tokens::new(SECRET, chrono::Duration::hours(-2), ids())
        .expect("tokens")
        .issue(gone, Uuid::new_v4(), chrono::Utc::now())
        .expect("token")
        .0;
    let other_key = Tokens::new(
        b"another-secret-another-secret-another!",
        chrono::Duration::hours(1),
        ids(),
    )
    .expect("tokens")
    .issue(gone, Uuid::new_v4(), chrono::Utc::now())
    .expect("token")
    .0;
    for (what, auth) in [
        ("malformed", "Bearer not-a-jwt".to_owned()),
        ("not bearer", format!("Basic {gone_token}")),
        ("expired", format!("Bearer {expired}")),
        ("wrong key", format!("Bearer {other_key}")),
        ("deleted account", format!("Bearer {gone_token}")),
    ] {
        let mut ws = Ws::connect(&app).await;
        assert_eq!(
            ws.init(Some(&auth)).await,
            Got::Closed(Some(4401)),
            "{what}"
        );
    }
    // Missing: anonymous, which may watch counts.
    let mut ws = Ws::connect(&app).await;
    assert_eq!(
        ws.init(None).await,
        Got::Msg(json!({ "type": "connection_ack" }))
    );
}

#[tokio::test]
async fn a_listener_that_reconnects_resynchronizes_the_counts_it_watches() {
    let (a, _b) = TestApp::pair().await;
    if a.db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return; // one instance, in process: no listener to lose
    }
    let author = account(&a.db, "author", Visibility::Public).await;
    let fan = account(&a.db, "fan", Visibility::Public).await;
    let video = make_video(&a.db, author, new_video("clip"), now_us()).await;
    let mut ws = Ws::open(&a, None).await;
    assert_eq!(ws.watch_count("1", video).await, 0);
    // A like no notice tells of (as if sent while the listener was away) ...
    tally::domain::likes::like_video(&a.db, fan, video, now_us())
        .await
        .map_err(|e| e.message())
        .expect("like");
    assert_eq!(ws.next(QUIET).await, Got::Nothing);
    // ... reaches the subscriber once the listener has lost its connection and come back.
    let killed =
        a.db.query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        ))
        .await
        .expect("terminate the listeners");
    assert!(!killed.is_empty(), "a listening connection");
    let got = ws
        .next_payload("1", Duration::from_secs(5))
        .await
        .expect("the count read again after the reconnection");
    assert_eq!(got["data"]["likeCountChanged"]["likeCount"], 1);
}

/// Ends a session through `app` with `token` (`logOut`, `logOutEverywhere`, …).
async fn end_with(app: &TestApp, token: &str, mutation: &str) {
    let (status, body) = app.gql(Some(token), mutation, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{mutation}: {body}");
}

#[tokio::test]
async fn ending_a_session_closes_its_live_connections_with_4401_on_every_instance() {
    let (a, b) = TestApp::pair().await;
    let user = account(&a.db, "watcher", Visibility::Public).await;
    let author = account(&a.db, "maker", Visibility::Public).await;
    let fan = account(&a.db, "fan", Visibility::Public).await;
    let video = make_video(&a.db, author, new_video("clip"), now_us()).await;
    let (first, second) = (token_for(&a.db, user).await, token_for(&a.db, user).await);
    let mut one = Ws::open(&a, Some(&first)).await;
    let mut two = Ws::open(&a, Some(&second)).await;
    one.watch_count("1", video).await;
    two.watch_count("1", video).await;

    // Logging the first session out through the other instance closes its connection only.
    end_with(&b, &first, "mutation { logOut }").await;
    assert_eq!(one.next(WAIT).await, Got::Closed(Some(4401)));
    like(&b, fan, video).await;
    let got = two
        .next_payload("1", WAIT)
        .await
        .expect("the other session goes on");
    assert_eq!(got["data"]["likeCountChanged"]["likeCount"], 1);

    // Everywhere: the second one too; a new connection with its token is refused.
    end_with(&b, &second, "mutation { logOutEverywhere }").await;
    assert_eq!(two.next(WAIT).await, Got::Closed(Some(4401)));
    let mut again = Ws::connect(&a).await;
    assert_eq!(
        again.init(Some(&format!("Bearer {second}"))).await,
        Got::Closed(Some(4401))
    );
}

#[tokio::test]
async fn no_connection_init_in_time_closes_with_4408_and_ping_is_answered() {
    let app = TestApp::spawn_with(|s| s.live.init_timeout_ms = 300).await;
    let mut ws = Ws::connect(&app).await;
    let started = Instant::now();
    assert_eq!(
        ws.next(Duration::from_secs(5)).await,
        Got::Closed(Some(4408))
    );
    assert!(started.elapsed() >= Duration::from_millis(250));

    let mut ws = Ws::open(&app, None).await;
    ws.send(json!({ "type": "ping" })).await;
    assert_eq!(ws.next(WAIT).await, Got::Msg(json!({ "type": "pong" })));
}

#[tokio::test]
async fn the_limits_on_subscriptions_and_connections_are_coded() {
    let app = TestApp::spawn_with(|s| {
        s.live.max_subscriptions_per_connection = 1;
        s.live.max_connections_per_principal = 1;
    })
    .await;
    let author = account(&app.db, "author", Visibility::Public).await;
    let video = make_video(&app.db, author, new_video("clip"), now_us()).await;
    let t = token(&app, author).await;
    let mut ws = Ws::open(&app, Some(&t)).await;
    ws.watch_count("1", video).await;
    ws.subscribe("2", COUNT, json!({ "v": vid(video) })).await;
    let got = ws.next_payload("2", WAIT).await.expect("an answer");
    assert_eq!(
        got["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{got}"
    );
    let mut second = Ws::connect(&app).await;
    assert_eq!(
        second.init(Some(&format!("Bearer {t}"))).await,
        Got::Closed(Some(4429))
    );
    // The query limits hold for subscription documents too.
    let deep = format!(
        "subscription {{ likeActivity {{ video {{ {} }} }} }}",
        "author { videos { edges { node { ".repeat(4) + "id" + &" } } } }".repeat(4)
    );
    ws.send(json!({ "type": "complete", "id": "1" })).await;
    while ws.next(QUIET).await != Got::Nothing {}
    ws.subscribe("3", &deep, json!({})).await;
    let got = ws.next_payload("3", WAIT).await;
    let got = match got {
        Some(p) => p,
        None => panic!("no answer to a too-deep subscription"),
    };
    assert!(got["errors"][0]["message"].as_str().is_some(), "{got}");
    assert!(got.get("data").is_none_or(Value::is_null), "{got}");
}

#[tokio::test]
async fn a_thousand_likes_in_a_burst_give_at_most_four_updates_a_second_ending_on_the_count() {
    let (a, b) = TestApp::pair().await;
    let author = account(&a.db, "author", Visibility::Public).await;
    let video = make_video(&a.db, author, new_video("viral"), now_us()).await;
    let mut fans = Vec::new();
    for i in 0..1000 {
        let fan = account(&a.db, &format!("f{i}"), Visibility::Public).await;
        fans.push(token(&a, fan).await);
    }
    let mut ws = Ws::open(&a, None).await;
    assert_eq!(ws.watch_count("1", video).await, 0);

    let started = Instant::now();
    let query = "mutation($v: ID!) { likeVideo(videoId: $v) { likeCount } }";
    let v = vid(video);
    let burst = tokio::spawn(async move {
        futures_util::stream::iter(fans)
            .for_each_concurrent(32, |t| {
                let b = b.clone();
                let v = v.clone();
                async move {
                    let (status, body) = b.gql(Some(&t), query, json!({ "v": v })).await;
                    assert_eq!(status, 200, "{body}");
                    assert!(body.get("errors").is_none(), "{body}");
                }
            })
            .await;
        started.elapsed()
    });
    let mut updates = Vec::new();
    while let Some(p) = ws.next_payload("1", Duration::from_millis(1500)).await {
        updates.push((
            started.elapsed(),
            p["data"]["likeCountChanged"]["likeCount"]
                .as_i64()
                .expect("count"),
        ));
        if updates.last().is_some_and(|u| u.1 == 1000) {
            // Nothing may follow the final count.
            assert_eq!(ws.next(QUIET).await, Got::Nothing);
            break;
        }
    }
    let burst = burst.await.expect("the burst");
    let last = updates.last().expect("updates").1;
    assert_eq!(
        last, 1000,
        "the last update is the final likeCount: {updates:?}"
    );
    // At most 4 a second: over the burst (however long the machine took), plus the one
    // that ends on the final count.
    let span = updates.last().expect("updates").0.as_secs_f64();
    let allowed = (span * 4.0).ceil() as usize + 1;
    assert!(
        updates.len() <= allowed,
        "{} updates in {span:.2} s: {updates:?}",
        updates.len()
    );
    eprintln!("1,000 likes in {burst:?} gave {} updates", updates.len());
}

/// The reference world of the `likeActivity` property: who follows and blocks whom and
/// each account's settings, as the steps left them.
#[derive(Debug, Default)]
struct World {
    users: Vec<(Uuid, Visibility, LikesVisibility)>,
    follows: std::collections::HashSet<(Uuid, Uuid)>,
    pending: std::collections::HashSet<(Uuid, Uuid)>,
    blocks: std::collections::HashSet<(Uuid, Uuid)>,
}

impl Graph for World {
    fn follows(&self, follower: Uuid, followee: Uuid) -> bool {
        self.follows.contains(&(follower, followee))
    }
    fn blocked_between(&self, a: Uuid, b: Uuid) -> bool {
        self.blocks.contains(&(a, b)) || self.blocks.contains(&(b, a))
    }
}

/// One step between likes: a liker's settings change, or the author (un)follows a liker.
#[derive(Debug, Clone)]
enum Step {
    Settings {
        user: usize,
        private: bool,
        likes: u8,
    },
    AuthorFollows(usize),
    AuthorUnfollows(usize),
    Like(usize),
}

fn lv(n: u8) -> LikesVisibility {
    [
        LikesVisibility::Everyone,
        LikesVisibility::Followers,
        LikesVisibility::OnlyMe,
    ][n as usize % 3]
}

/// Per account: (private, likesVisibility, followed by the author, blocked by the author).
type Accounts = Vec<(bool, u8, bool, bool)>;

fn steps() -> impl Strategy<Value = (Accounts, Vec<Step>)> {
    (2usize..=5).prop_flat_map(|n| {
        // (private, likesVisibility, followed by the author, blocked by the author)
        let user = (
            any::<bool>(),
            0u8..3,
            any::<bool>(),
            prop::bool::weighted(0.15),
        );
        let step = prop_oneof![
            (0..n, any::<bool>(), 0u8..3).prop_map(|(user, private, likes)| Step::Settings {
                user,
                private,
                likes
            }),
            (0..n).prop_map(Step::AuthorFollows),
            (0..n).prop_map(Step::AuthorUnfollows),
            (0..n).prop_map(Step::Like),
            (0..n).prop_map(Step::Like),
        ];
        (
            prop::collection::vec(user, n),
            prop::collection::vec(step, 1..14),
        )
    })
}

#[test]
fn like_activity_names_the_liker_exactly_when_rule_l_lets_the_author_see_it_at_delivery() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = rt.block_on(TestApp::spawn());
    let cases: u32 = std::env::var("TALLY_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(24, |c: u32| c.min(40));
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let events = std::cell::Cell::new(0usize);
    let round = std::cell::Cell::new(0usize);
    proptest!(config, |((users, steps) in steps())| {
        round.set(round.get() + 1);
        let bad = rt.block_on(async {
            let r = round.get();
            let author = account(&app.db, &format!("a{r}"), Visibility::Public).await;
            let video = make_video(&app.db, author, new_video("v"), now_us()).await;
            let mut w = World::default();
            w.users.push((author, Visibility::Public, LikesVisibility::Everyone));
            let mut ids = Vec::new();
            for (i, (private, likes, followed, blocked)) in users.iter().enumerate() {
                let vis = if *private { Visibility::Private } else { Visibility::Public };
                let id = insert_account(&app.db, &format!("u{r}_{i}"), vis, lv(*likes)).await;
                w.users.push((id, vis, lv(*likes)));
                if *followed {
                    insert_follow(&app.db, author, id, FollowState::Approved).await;
                    w.follows.insert((author, id));
                }
                if *blocked {
                    insert_block(&app.db, author, id).await;
                    w.blocks.insert((author, id));
                }
                ids.push(id);
            }
            let mut ws = Ws::open(&app, Some(&token(&app, author).await)).await;
            ws.subscribe("a", ACTIVITY, json!({})).await;
            // The subscription is live once a like reaches it: a warm-up liker likes until
            // one does (each attempt unlikes and likes again).
            let warm = account(&app.db, &format!("w{r}"), Visibility::Public).await;
            let mut live = false;
            for _ in 0..10 {
                like(&app, warm, video).await;
                if ws.next_payload("a", WAIT).await.is_some() {
                    live = true;
                    break;
                }
                mutate(&app, warm, "mutation($v: ID!) { unlikeVideo(videoId: $v) { likeCount } }", json!({ "v": vid(video) })).await;
            }
            assert!(live, "the likeActivity subscription never received a like");
            let mut liked = std::collections::HashSet::from([warm]);
            let mut bad = Vec::new();
            for step in &steps {
                match step {
                    Step::Settings { user, private, likes } => {
                        let vis = if *private { Visibility::Private } else { Visibility::Public };
                        let changes = AccountChanges {
                            visibility: Some(vis),
                            likes_visibility: Some(lv(*likes)),
                            ..AccountChanges::default()
                        };
                        update_account(&app.db, ids[*user], changes, Clock::System).await.map_err(|e| e.message()).expect("settings");
                        let u = w.users.iter_mut().find(|u| u.0 == ids[*user]).expect("user");
                        u.1 = vis;
                        u.2 = lv(*likes);
                        // Turning public approves the pending requests.
                        if vis == Visibility::Public && w.pending.remove(&(author, ids[*user])) {
                            w.follows.insert((author, ids[*user]));
                        }
                    }
                    Step::AuthorFollows(u) => {
                        if w.blocked_between(author, ids[*u]) { continue; }
                        let (state, _) = follow_user(&app.db, author, ids[*u], now_us()).await.map_err(|e| e.message()).expect("follow");
                        if state == FollowState::Approved {
                            w.follows.insert((author, ids[*u]));
                        } else {
                            w.pending.insert((author, ids[*u]));
                        }
                    }
                    Step::AuthorUnfollows(u) => {
                        if w.blocked_between(author, ids[*u]) { continue; }
                        unfollow_user(&app.db, author, ids[*u], now_us()).await.map_err(|e| e.message()).expect("unfollow");
                        w.follows.remove(&(author, ids[*u]));
                        w.pending.remove(&(author, ids[*u]));
                    }
                    Step::Like(u) => {
                        let liker = ids[*u];
                        let body = like(&app, liker, video).await;
                        let made = body.get("errors").is_none() && liked.insert(liker);
                        if !made {
                            // A repeated like, or one the liker may not make (a block): no event.
                            if let Got::Msg(m) = ws.next(Duration::from_millis(150)).await {
                                bad.push(format!("unexpected event {m} after {step:?}"));
                            }
                            continue;
                        }
                        let Some(p) = ws.next_payload("a", WAIT).await else {
                            bad.push(format!("no event for {step:?}"));
                            continue;
                        };
                        events.set(events.get() + 1);
                        let (vis, likes) = w.users.iter().find(|x| x.0 == liker).map(|x| (x.1, x.2)).expect("liker");
                        let expected = can_see_like(Some(author), author, Visibility::Public, liker, audience(vis, likes), &w);
                        let named = &p["data"]["likeActivity"]["liker"];
                        if named.is_null() == expected {
                            bad.push(format!("{step:?}: liker {named} but Rule L says {expected} ({vis:?}, {likes:?}, follows {})", w.follows(author, liker)));
                        }
                        if !named.is_null() && named["id"] != crate::helpers::uid(liker) {
                            bad.push(format!("wrong liker {named}"));
                        }
                        if p["data"]["likeActivity"]["likeCount"] != liked.len() {
                            bad.push(format!("likeCount {} after {} likes", p["data"]["likeActivity"]["likeCount"], liked.len()));
                        }
                    }
                }
            }
            bad
        });
        prop_assert!(bad.is_empty(), "{:?} / {:?}:\n{}", users, steps, bad.join("\n"));
    });
    assert!(events.get() > 0, "no like event was checked");
    eprintln!(
        "likeActivity property: {} events checked against Rule L",
        events.get()
    );
}

#[tokio::test]
async fn a_burst_of_likes_over_20_a_second_is_summarized_per_video_without_names() {
    let app = TestApp::spawn().await;
    let author = account(&app.db, "author", Visibility::Public).await;
    let videos = [
        make_video(&app.db, author, new_video("one"), now_us()).await,
        make_video(&app.db, author, new_video("two"), now_us()).await,
    ];
    let mut fans = Vec::new();
    for i in 0..30 {
        fans.push(account(&app.db, &format!("f{i}"), Visibility::Public).await);
    }
    let mut ws = Ws::open(&app, Some(&token(&app, author).await)).await;
    ws.subscribe("a", ACTIVITY, json!({})).await;
    // Live once a like reaches it (the first fan likes, unlikes and likes until one does).
    let mut live = false;
    for _ in 0..10 {
        like(&app, fans[0], videos[0]).await;
        if ws.next_payload("a", WAIT).await.is_some() {
            live = true;
            break;
        }
        mutate(
            &app,
            fans[0],
            "mutation($v: ID!) { unlikeVideo(videoId: $v) { likeCount } }",
            json!({ "v": vid(videos[0]) }),
        )
        .await;
    }
    assert!(live, "the subscription never received a like");
    // 29 more likes at once, alternating videos: with the warm-up's, 30 within a second.
    let started = Instant::now();
    futures_util::future::join_all(
        fans[1..]
            .iter()
            .enumerate()
            .map(|(i, f)| like(&app, *f, videos[i % 2])),
    )
    .await;
    let sent = started.elapsed();
    let mut named = 0;
    let mut summaries = std::collections::HashMap::new();
    while let Some(p) = ws.next_payload("a", Duration::from_millis(2500)).await {
        let e = &p["data"]["likeActivity"];
        if e["liker"].is_null() {
            summaries.insert(
                e["video"]["id"].as_str().expect("id").to_owned(),
                e["likeCount"].clone(),
            );
        } else {
            named += 1;
        }
    }
    if sent < Duration::from_millis(900) {
        // The warm-up's event counts in the second: at most 19 more are named.
        assert!(named <= 19, "{named} named events in a burst");
        assert!(!summaries.is_empty(), "no summary for a burst of 30");
        // Each summary carries its video's latest count.
        for (video, count) in &summaries {
            let most = if *video == vid(videos[0]) { 16 } else { 14 };
            assert!(
                count.as_i64().is_some_and(|c| c > 0 && c <= most),
                "{video}: {count}"
            );
        }
    }
    assert!(named + summaries.len() <= 29 && named + summaries.len() >= 2);
}
