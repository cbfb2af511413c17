//! Sessions over HTTP: short-lived access tokens and rotating refresh tokens, reuse ending
//! the session, logging out (here and everywhere), ending one session, changing the
//! password, both tokens expiring by the service clock, and a revoked session refused at
//! once by every instance on the database.
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use tally::{
    clock::Clock,
    config::{Rate, RateLimits},
};
use tokio::sync::Barrier;

use crate::{clock::fixed_instant, helpers::TestApp};

const PAIR: &str = "token expiresAt refreshToken refreshExpiresAt user { id handle }";

/// The tokens an `AuthPayload` gave.
#[derive(Debug, Clone)]
struct Pair {
    token: String,
    refresh: String,
    expires_at: DateTime<Utc>,
    refresh_expires_at: DateTime<Utc>,
}

fn pair_of(body: &Value, field: &str) -> Pair {
    let d = &body["data"][field];
    let time = |k: &str| -> DateTime<Utc> {
        d[k].as_str()
            .unwrap_or_else(|| panic!("{field}.{k}: {body}"))
            .parse()
            .expect("DateTime")
    };
    Pair {
        token: d["token"].as_str().expect("token").to_owned(),
        refresh: d["refreshToken"].as_str().expect("refreshToken").to_owned(),
        expires_at: time("expiresAt"),
        refresh_expires_at: time("refreshExpiresAt"),
    }
}

async fn sign_up(app: &TestApp, handle: &str) -> Pair {
    let q = format!(
        r#"mutation {{ signUp(input: {{handle: "{handle}", password: "password123"}}) {{ {PAIR} }} }}"#
    );
    let (status, body) = app.gql(None, &q, json!({})).await;
    assert_eq!(status, 200, "{body}");
    pair_of(&body, "signUp")
}

async fn log_in(app: &TestApp, handle: &str, password: &str) -> Value {
    let q = format!("mutation($h: String!, $p: String!) {{ logIn(input: {{handle: $h, password: $p}}) {{ {PAIR} }} }}");
    app.gql(None, &q, json!({ "h": handle, "p": password }))
        .await
        .1
}

/// A new session of `handle` (password `password123`).
async fn session(app: &TestApp, handle: &str) -> Pair {
    pair_of(&log_in(app, handle, "password123").await, "logIn")
}

async fn refresh(app: &TestApp, refresh_token: &str) -> Value {
    let q = format!("mutation($r: String!) {{ refreshSession(refreshToken: $r) {{ {PAIR} }} }}");
    app.gql(None, &q, json!({ "r": refresh_token })).await.1
}

/// The HTTP status of a read made with `token`, after checking that a 401 is coded.
async fn status_with(app: &TestApp, token: &str) -> u16 {
    let (status, body) = app.gql(Some(token), "{ viewer { id } }", json!({})).await;
    if status == 401 {
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{body}"
        );
    } else {
        assert!(body.get("errors").is_none(), "{body}");
    }
    status
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error: {body}"))
}

async fn mutate(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let (status, body) = app.gql(Some(token), query, vars).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn signing_in_gives_a_15_minute_access_token_and_a_60_day_refresh_token() {
    let at = fixed_instant();
    let app = TestApp::spawn_with(|s| s.clock = Clock::Fixed(at)).await;
    let up = sign_up(&app, "ana").await;
    assert_eq!(
        up.expires_at.timestamp(),
        (at + Duration::minutes(15)).timestamp()
    );
    assert_eq!(up.refresh_expires_at, at + Duration::days(60));
    assert_ne!(up.token, up.refresh);
    assert!(
        up.refresh.len() >= 43,
        "256 bits, base64url: {}",
        up.refresh
    );
    let login = session(&app, "ana").await;
    assert_ne!(login.refresh, up.refresh);
    assert_eq!(status_with(&app, &up.token).await, 200);
    assert_eq!(status_with(&app, &login.token).await, 200);
    // Only the hash of a refresh token is stored.
    let mut q = tally::db::Sql::default();
    q.push_unchecked("SELECT token_hash FROM refresh_tokens");
    let rows = q.all(&app.db).await.expect("query");
    assert_eq!(rows.len(), 2);
    for row in rows {
        let hash: String = tally::db::col(&row, "token_hash").expect("hash");
        assert_eq!(hash.len(), 64);
        assert!(hash != up.refresh && hash != login.refresh);
    }
}

#[tokio::test]
async fn a_refresh_rotates_the_pair_and_reusing_a_rotated_token_ends_the_session() {
    let app = TestApp::spawn().await;
    let first = sign_up(&app, "ana").await;
    let other = session(&app, "ana").await;
    let body = refresh(&app, &first.refresh).await;
    assert!(body.get("errors").is_none(), "{body}");
    let second = pair_of(&body, "refreshSession");
    assert_eq!(body["data"]["refreshSession"]["user"]["handle"], "ana");
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(status_with(&app, &second.token).await, 200);
    // The second refresh token rotates in turn.
    let third = pair_of(&refresh(&app, &second.refresh).await, "refreshSession");
    assert_eq!(status_with(&app, &third.token).await, 200);
    // The first one again: reuse. Refused, and the whole session ends with it.
    let reused = refresh(&app, &first.refresh).await;
    assert_eq!(code(&reused), "UNAUTHENTICATED", "{reused}");
    assert!(reused["data"].is_null(), "{reused}");
    for token in [&first.token, &second.token, &third.token] {
        assert_eq!(status_with(&app, token).await, 401);
    }
    let newest = refresh(&app, &third.refresh).await;
    assert_eq!(code(&newest), "UNAUTHENTICATED", "{newest}");
    // Another session of the same account is not part of that family.
    assert_eq!(status_with(&app, &other.token).await, 200);
    let fine = refresh(&app, &other.refresh).await;
    assert!(fine.get("errors").is_none(), "{fine}");
    // A token never issued.
    let unknown = refresh(&app, "not-a-refresh-token").await;
    assert_eq!(code(&unknown), "UNAUTHENTICATED", "{unknown}");
}

#[tokio::test]
async fn log_out_ends_this_session_only_and_log_out_everywhere_ends_them_all() {
    let app = TestApp::spawn().await;
    let a = sign_up(&app, "ana").await;
    let b = session(&app, "ana").await;
    let c = session(&app, "ana").await;
    let body = mutate(&app, &a.token, "mutation { logOut }", json!({})).await;
    assert_eq!(body["data"]["logOut"], true, "{body}");
    assert_eq!(
        status_with(&app, &a.token).await,
        401,
        "refused on the next request"
    );
    assert_eq!(code(&refresh(&app, &a.refresh).await), "UNAUTHENTICATED");
    assert_eq!(status_with(&app, &b.token).await, 200);
    assert_eq!(status_with(&app, &c.token).await, 200);
    let body = mutate(&app, &b.token, "mutation { logOutEverywhere }", json!({})).await;
    assert_eq!(body["data"]["logOutEverywhere"], true, "{body}");
    for p in [&b, &c] {
        assert_eq!(status_with(&app, &p.token).await, 401);
        assert_eq!(code(&refresh(&app, &p.refresh).await), "UNAUTHENTICATED");
    }
    // Signing in again works.
    let d = session(&app, "ana").await;
    assert_eq!(status_with(&app, &d.token).await, 200);
}

#[tokio::test]
async fn a_user_lists_its_own_sessions_and_ends_one() {
    let app = TestApp::spawn().await;
    let phone = {
        let q = format!(
            r#"mutation {{ signUp(input: {{handle: "ana", password: "password123"}}) {{ {PAIR} }} }}"#
        );
        let resp = app
            .http
            .post(format!("{}/graphql", app.base))
            .header(
                "User-Agent",
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
            )
            .json(&json!({ "query": q }))
            .send()
            .await
            .expect("request");
        pair_of(&resp.json::<Value>().await.expect("JSON"), "signUp")
    };
    let laptop = session(&app, "ana").await;
    let mallory = sign_up(&app, "mallory").await;
    let list = "{ viewer { sessions { id createdAt lastUsedAt device current } } }";
    let body = mutate(&app, &laptop.token, list, json!({})).await;
    let sessions = body["data"]["viewer"]["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .clone();
    assert_eq!(sessions.len(), 2, "{body}");
    // Newest first: the laptop's (current), then the phone's.
    assert_eq!(sessions[0]["current"], true, "{body}");
    assert_eq!(sessions[1]["current"], false, "{body}");
    assert_eq!(sessions[1]["device"], "IOS", "{body}");
    assert_eq!(sessions[0]["device"], "OTHER", "{body}");
    assert!(!body.to_string().contains(&laptop.refresh), "never a token");
    let phone_id = sessions[1]["id"].as_str().expect("id").to_owned();
    // Someone else sees no sessions, cannot find or end them.
    let theirs = "{ user(handle: \"ana\") { sessions { id } } }";
    let body = mutate(&app, &mallory.token, theirs, json!({})).await;
    assert!(body["data"]["user"]["sessions"].is_null(), "{body}");
    let node = "query($id: ID!) { node(id: $id) { id ... on Session { device } } }";
    let body = mutate(&app, &mallory.token, node, json!({ "id": phone_id })).await;
    assert!(body["data"]["node"].is_null(), "{body}");
    let end = "mutation($id: ID!) { endSession(id: $id) }";
    let body = mutate(&app, &mallory.token, end, json!({ "id": phone_id })).await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    assert_eq!(status_with(&app, &phone.token).await, 200);
    // Its own account finds it and ends it.
    let body = mutate(&app, &laptop.token, node, json!({ "id": phone_id })).await;
    assert_eq!(body["data"]["node"]["device"], "IOS", "{body}");
    let body = mutate(&app, &laptop.token, end, json!({ "id": phone_id })).await;
    assert_eq!(body["data"]["endSession"], true, "{body}");
    assert_eq!(status_with(&app, &phone.token).await, 401);
    assert_eq!(
        code(&refresh(&app, &phone.refresh).await),
        "UNAUTHENTICATED"
    );
    let body = mutate(&app, &laptop.token, end, json!({ "id": phone_id })).await;
    assert_eq!(code(&body), "NOT_FOUND", "ended already: {body}");
    let body = mutate(&app, &laptop.token, end, json!({ "id": "nonsense" })).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let body = mutate(&app, &laptop.token, list, json!({})).await;
    assert_eq!(
        body["data"]["viewer"]["sessions"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    let app = TestApp::spawn().await;
    let here = sign_up(&app, "ana").await;
    let there = session(&app, "ana").await;
    let change =
        "mutation($o: String!, $n: String!) { changePassword(oldPassword: $o, newPassword: $n) }";
    let body = mutate(
        &app,
        &here.token,
        change,
        json!({ "o": "wrong-password", "n": "new-password-1" }),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "oldPassword",
        "{body}"
    );
    let body = mutate(
        &app,
        &here.token,
        change,
        json!({ "o": "password123", "n": "short" }),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "newPassword",
        "{body}"
    );
    assert_eq!(
        status_with(&app, &there.token).await,
        200,
        "failed changes end nothing"
    );
    let body = mutate(
        &app,
        &here.token,
        change,
        json!({ "o": "password123", "n": "new-password-1" }),
    )
    .await;
    assert_eq!(body["data"]["changePassword"], true, "{body}");
    assert_eq!(
        status_with(&app, &here.token).await,
        200,
        "this session stays"
    );
    assert_eq!(
        status_with(&app, &there.token).await,
        401,
        "the other one ends"
    );
    assert_eq!(
        code(&refresh(&app, &there.refresh).await),
        "UNAUTHENTICATED"
    );
    let kept = refresh(&app, &here.refresh).await;
    assert!(kept.get("errors").is_none(), "{kept}");
    assert_eq!(
        code(&log_in(&app, "ana", "password123").await),
        "UNAUTHENTICATED"
    );
    let body = log_in(&app, "ana", "new-password-1").await;
    assert!(body.get("errors").is_none(), "{body}");
    // Without a token: UNAUTHENTICATED.
    let (_, body) = app
        .gql(
            None,
            change,
            json!({ "o": "new-password-1", "n": "x-password-2" }),
        )
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
}

#[tokio::test]
async fn both_tokens_expire_by_the_service_clock() {
    let at = fixed_instant();
    let first = TestApp::spawn_with(|s| s.clock = Clock::Fixed(at)).await;
    let pair = sign_up(&first, "ana").await;
    let later = |by: Duration| {
        let db = first.db.clone();
        async move { TestApp::spawn_on(db, |s| s.clock = Clock::Fixed(at + by)).await }
    };
    // 14 minutes on, the access token still works; 16 minutes on (past the 30 s leeway) it
    // has expired, and the refresh token gets a new pair.
    let soon = later(Duration::minutes(14)).await;
    assert_eq!(status_with(&soon, &pair.token).await, 200);
    let expired = later(Duration::minutes(16)).await;
    let (status, body) = expired
        .gql(Some(&pair.token), "{ viewer { id } }", json!({}))
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errors"][0]["message"], "token expired", "{body}");
    // 60 days and a second on, the refresh token has expired too.
    let gone = later(Duration::days(60) + Duration::seconds(1)).await;
    assert_eq!(
        code(&refresh(&gone, &pair.refresh).await),
        "UNAUTHENTICATED"
    );
    let body = refresh(&expired, &pair.refresh).await;
    assert!(body.get("errors").is_none(), "{body}");
    let renewed = pair_of(&body, "refreshSession");
    assert_eq!(status_with(&expired, &renewed.token).await, 200);
    assert_eq!(
        renewed.refresh_expires_at,
        at + Duration::minutes(16) + Duration::days(60),
        "each refresh starts a new 60 days"
    );
}

#[tokio::test]
async fn a_revoked_session_is_refused_at_once_by_another_instance() {
    let one = TestApp::spawn().await;
    let two = TestApp::spawn_on(one.db.clone(), |_| {}).await;
    let a = sign_up(&one, "ana").await;
    let b = session(&two, "ana").await;
    assert_eq!(status_with(&two, &a.token).await, 200);
    let body = mutate(&one, &a.token, "mutation { logOut }", json!({})).await;
    assert_eq!(body["data"]["logOut"], true, "{body}");
    assert_eq!(
        status_with(&two, &a.token).await,
        401,
        "the other instance refuses it"
    );
    assert_eq!(status_with(&one, &a.token).await, 401);
    // Ended on the second instance, refused on the first.
    let body = mutate(&two, &b.token, "mutation { logOutEverywhere }", json!({})).await;
    assert_eq!(body["data"]["logOutEverywhere"], true, "{body}");
    assert_eq!(status_with(&one, &b.token).await, 401);
    // So is every token of a deleted account.
    let c = session(&one, "ana").await;
    let body = mutate(
        &two,
        &c.token,
        "mutation { deleteAccount(password: \"password123\") }",
        json!({}),
    )
    .await;
    assert_eq!(body["data"]["deleteAccount"], true, "{body}");
    assert_eq!(status_with(&one, &c.token).await, 401);
    assert_eq!(code(&refresh(&one, &c.refresh).await), "UNAUTHENTICATED");
}

const ROUNDS: usize = 12;

/// Two exchanges of one refresh token released at once: exactly one rotates; the other
/// finds the token used, which is reuse, and the session ends (the winner's new tokens
/// with it), whichever order the database put them in.
#[tokio::test]
async fn racing_refreshes_of_one_token_rotate_once_and_end_the_session() {
    let app = Arc::new(TestApp::spawn().await);
    sign_up(&app, "ana").await;
    for round in 0..ROUNDS {
        let pair = session(&app, "ana").await;
        let barrier = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let (app, barrier, token) = (app.clone(), barrier.clone(), pair.refresh.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    refresh(&app, &token).await
                })
            })
            .collect();
        let mut won = Vec::new();
        for task in tasks {
            let body = task.await.expect("task");
            match body.get("errors") {
                None => won.push(pair_of(&body, "refreshSession")),
                Some(_) => assert_eq!(code(&body), "UNAUTHENTICATED", "round {round}: {body}"),
            }
        }
        assert_eq!(won.len(), 1, "round {round}: exactly one rotation");
        assert_eq!(status_with(&app, &won[0].token).await, 401, "round {round}");
        assert_eq!(
            code(&refresh(&app, &won[0].refresh).await),
            "UNAUTHENTICATED"
        );
        assert_eq!(status_with(&app, &pair.token).await, 401, "round {round}");
    }
}

#[tokio::test]
async fn refreshing_is_rate_limited_like_logging_in() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits = RateLimits {
            rate_auth: Rate::per(1, std::time::Duration::from_secs(3600)),
            rate_auth_burst: 2,
            ..RateLimits::off()
        }
    })
    .await;
    // The sign-up takes one of the two.
    let pair = sign_up(&app, "ana").await;
    let body = refresh(&app, &pair.refresh).await;
    assert!(body.get("errors").is_none(), "{body}");
    let next = pair_of(&body, "refreshSession");
    let body = refresh(&app, &next.refresh).await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");
}
