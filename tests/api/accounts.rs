//! Accounts and the edges of the API: tokens over real HTTP, input validation, sign-up /
//! log-in, the follow state machine, the plain HTTP endpoints and account deletion.
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{Datelike, Utc};
use entity::{block, follow, like, user, video, LikesVisibility, Visibility};
use jsonwebtoken::{encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};
use tally::{
    clock::Clock,
    ids::{CursorCodec, CursorKind, IdKey, Keyset},
};
use uuid::Uuid;

use crate::helpers::{insert_account, uid, user_uuid, vid, video_uuid, Harness, TestApp, SECRET};

// ---------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------

const VIEWER_Q: &str = "{ viewer { id handle } }";

/// Claims exactly as the service issues them, for `user`, valid for an hour.
fn good_claims(user: Uuid) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "sub": uid(user),
        "sid": crate::helpers::sid_of(user),
        "iss": "tally",
        "aud": "tally-api",
        "iat": now,
        "exp": now + 3600,
    })
}

/// `claims` signed with `alg` and `secret`.
fn sign_with(alg: Algorithm, claims: &Value, secret: &[u8]) -> String {
    let key = EncodingKey::from_secret(secret).expect("encoding key");
    encode(&Header::new(alg), claims, &key).expect("sign token")
}

/// `claims` signed as the service does (HS256, the test secret).
fn sign(claims: &Value) -> String {
    sign_with(Algorithm::HS256, claims, SECRET)
}

/// `good_claims(user)` with `key` replaced (or removed when `value` is `None`).
fn claims_with(user: Uuid, key: &str, value: Option<Value>) -> Value {
    let mut c = good_claims(user);
    let obj = c.as_object_mut().expect("claims object");
    match value {
        Some(v) => {
            obj.insert(key.to_owned(), v);
        }
        None => {
            obj.remove(key);
        }
    }
    c
}

/// A spawned service with one account in it.
async fn app_with_account(handle: &str) -> (TestApp, Uuid) {
    let app = TestApp::spawn().await;
    let id = insert_account(
        &app.db,
        handle,
        Visibility::Public,
        LikesVisibility::Everyone,
    )
    .await;
    crate::helpers::insert_session(&app.db, id).await;
    (app, id)
}

/// The request must be refused before execution: HTTP 401 and exactly
/// `{"errors":[{"message":…,"extensions":{"code":"UNAUTHENTICATED"}}]}`.
async fn assert_refused(app: &TestApp, authorization: &str, case: &str) {
    let (status, body) = app
        .post(Some(authorization), json!({ "query": VIEWER_Q }))
        .await;
    assert_eq!(
        status, 401,
        "{case}: expected HTTP 401, got {status}: {body}"
    );
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("{case}: body is not a JSON object: {body}"));
    assert_eq!(
        obj.keys().collect::<Vec<_>>(),
        vec!["errors"],
        "{case}: body must hold `errors` only (no `data`): {body}"
    );
    let errors = body["errors"].as_array().expect("errors array");
    assert_eq!(errors.len(), 1, "{case}: exactly one error: {body}");
    let message = errors[0]["message"].as_str().unwrap_or_default();
    assert!(
        !message.is_empty(),
        "{case}: the error has a message: {body}"
    );
    assert_eq!(
        errors[0]["extensions"],
        json!({ "code": "UNAUTHENTICATED" }),
        "{case}: {body}"
    );
}

/// `ext` is `BAD_USER_INPUT` naming `field`.
fn assert_bad_input(ext: &Value, field: &str, case: &str) {
    assert_eq!(ext["code"], "BAD_USER_INPUT", "{case}: {ext}");
    assert_eq!(ext["field"], field, "{case}: {ext}");
}

/// The first error's `extensions.code`.
fn code_of(resp: &Value) -> &str {
    resp["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<no error>")
}

async fn count_users(h: &Harness) -> u64 {
    user::Entity::find()
        .count(&h.db)
        .await
        .expect("count users")
}

async fn count_videos(h: &Harness) -> u64 {
    video::Entity::find()
        .count(&h.db)
        .await
        .expect("count videos")
}

async fn count_likes(h: &Harness) -> u64 {
    like::Entity::find()
        .count(&h.db)
        .await
        .expect("count likes")
}

async fn count_follows(h: &Harness) -> u64 {
    follow::Entity::find()
        .count(&h.db)
        .await
        .expect("count follows")
}

async fn count_blocks(h: &Harness) -> u64 {
    block::Entity::find()
        .count(&h.db)
        .await
        .expect("count blocks")
}

const SIGN_UP: &str =
    "mutation($input: SignUpInput!) { signUp(input: $input) { token user { id handle } } }";
const CREATE_VIDEO: &str =
    "mutation($input: CreateVideoInput!) { createVideo(input: $input) { id caption hashtags } }";
const LOG_IN: &str = "mutation($h: String!, $p: String!) { logIn(input: {handle: $h, password: $p}) { token expiresAt user { id handle } } }";

// ---------------------------------------------------------------------------------------
// 1. Tokens over real HTTP
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn http_without_authorization_header_is_anonymous() {
    let (app, _) = app_with_account("alice").await;
    let (status, body) = app.gql(None, VIEWER_Q, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "data": { "viewer": null } }));
    // Anonymous reads still work beyond `viewer`.
    let (status, body) = app
        .gql(None, r#"{ user(handle: "alice") { handle } }"#, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user"]["handle"], "alice");
}

#[tokio::test]
async fn http_valid_crafted_token_signs_the_viewer_in() {
    // The control case for every refused token below: same claims, same key, accepted.
    let (app, alice) = app_with_account("alice").await;
    let token = sign(&good_claims(alice));
    let (status, body) = app.gql(Some(&token), VIEWER_Q, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["viewer"]["handle"], "alice");
    assert_eq!(body["data"]["viewer"]["id"], uid(alice));
}

#[tokio::test]
async fn http_malformed_tokens_are_401() {
    let (app, alice) = app_with_account("alice").await;
    let good = sign(&good_claims(alice));
    let mut parts = good.split('.');
    let (head, _payload, sig) = (
        parts.next().expect("header"),
        parts.next().expect("payload"),
        parts.next().expect("signature"),
    );
    let garbage_payload = format!("{head}.{}.{sig}", URL_SAFE_NO_PAD.encode(b"{not json"));
    for (case, auth) in [
        ("one word", "Bearer garbage".to_owned()),
        ("three dots of nothing", "Bearer not.a.jwt".to_owned()),
        ("two parts", format!("Bearer {head}.{sig}")),
        ("payload not JSON", format!("Bearer {garbage_payload}")),
        (
            "truncated signature",
            format!("Bearer {}", &good[..good.len() - 3]),
        ),
        ("empty bearer", "Bearer".to_owned()),
        ("bare token without scheme", good.clone()),
    ] {
        assert_refused(&app, &auth, case).await;
    }
}

#[tokio::test]
async fn http_wrong_authorization_scheme_is_401() {
    let (app, alice) = app_with_account("alice").await;
    let good = sign(&good_claims(alice));
    assert_refused(&app, "Basic xyz", "Basic").await;
    assert_refused(&app, &format!("Token {good}"), "valid token, wrong scheme").await;
}

#[tokio::test]
async fn http_token_signed_with_another_secret_is_401() {
    let (app, alice) = app_with_account("alice").await;
    let token = sign_with(
        Algorithm::HS256,
        &good_claims(alice),
        b"another-secret-another-secret-another!",
    );
    assert_refused(&app, &format!("Bearer {token}"), "another secret").await;
}

#[tokio::test]
async fn http_token_with_another_algorithm_is_401() {
    let (app, alice) = app_with_account("alice").await;
    // Right key, right claims, but not the pinned HS256.
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let token = sign_with(alg, &good_claims(alice), SECRET);
        assert_refused(&app, &format!("Bearer {token}"), &format!("{alg:?}")).await;
    }
}

#[tokio::test]
async fn http_alg_none_token_is_401() {
    let (app, alice) = app_with_account("alice").await;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(good_claims(alice).to_string());
    assert_refused(&app, &format!("Bearer {header}.{claims}."), "alg none").await;
    // Also with the signature of the genuine token pasted on.
    let genuine = sign(&good_claims(alice));
    let sig = genuine.rsplit('.').next().expect("signature");
    assert_refused(
        &app,
        &format!("Bearer {header}.{claims}.{sig}"),
        "alg none with a signature",
    )
    .await;
}

#[tokio::test]
async fn http_token_with_wrong_issuer_is_401() {
    let (app, alice) = app_with_account("alice").await;
    let token = sign(&claims_with(alice, "iss", Some(json!("evil"))));
    assert_refused(&app, &format!("Bearer {token}"), "wrong iss").await;
    let token = sign(&claims_with(alice, "iss", None));
    assert_refused(&app, &format!("Bearer {token}"), "missing iss").await;
}

#[tokio::test]
async fn http_token_with_wrong_audience_is_401() {
    let (app, alice) = app_with_account("alice").await;
    let token = sign(&claims_with(alice, "aud", Some(json!("someone-else"))));
    assert_refused(&app, &format!("Bearer {token}"), "wrong aud").await;
    let token = sign(&claims_with(alice, "aud", None));
    assert_refused(&app, &format!("Bearer {token}"), "missing aud").await;
}

#[tokio::test]
async fn http_expired_token_is_401() {
    let (app, alice) = app_with_account("alice").await;
    let now = Utc::now().timestamp();
    let mut claims = good_claims(alice);
    claims["iat"] = json!(now - 7200);
    claims["exp"] = json!(now - 3600);
    assert_refused(&app, &format!("Bearer {}", sign(&claims)), "expired").await;
    let token = sign(&claims_with(alice, "exp", None));
    assert_refused(&app, &format!("Bearer {token}"), "missing exp").await;
}

#[tokio::test]
async fn http_token_without_a_live_session_is_401() {
    let (app, alice) = app_with_account("alice").await;
    let token = sign(&claims_with(alice, "sid", None));
    assert_refused(&app, &format!("Bearer {token}"), "no sid").await;
    let never = crate::helpers::sid_of(Uuid::now_v7());
    let token = sign(&claims_with(alice, "sid", Some(json!(never))));
    assert_refused(&app, &format!("Bearer {token}"), "a session never started").await;
    let token = sign(&claims_with(alice, "sid", Some(json!(uid(alice)))));
    assert_refused(&app, &format!("Bearer {token}"), "a user ID as sid").await;
    // Another account's live session does not sign this one in.
    let bob = insert_account(
        &app.db,
        "bob",
        Visibility::Public,
        LikesVisibility::Everyone,
    )
    .await;
    crate::helpers::insert_session(&app.db, bob).await;
    let token = sign(&claims_with(
        alice,
        "sid",
        Some(json!(crate::helpers::sid_of(bob))),
    ));
    assert_refused(
        &app,
        &format!("Bearer {token}"),
        "another account's session",
    )
    .await;
}

#[tokio::test]
async fn http_token_not_yet_valid_is_401() {
    let (app, alice) = app_with_account("alice").await;
    let nbf = Utc::now().timestamp() + 3600;
    let token = sign(&claims_with(alice, "nbf", Some(json!(nbf))));
    assert_refused(&app, &format!("Bearer {token}"), "nbf in an hour").await;
}

#[tokio::test]
async fn http_token_without_a_user_subject_is_401() {
    let (app, alice) = app_with_account("alice").await;
    let token = sign(&claims_with(alice, "sub", None));
    assert_refused(&app, &format!("Bearer {token}"), "missing sub").await;
    let token = sign(&claims_with(alice, "sub", Some(json!("not-an-id"))));
    assert_refused(&app, &format!("Bearer {token}"), "sub not an ID").await;
    // A well-formed ID, but of a video, not a user.
    let token = sign(&claims_with(alice, "sub", Some(json!(vid(alice)))));
    assert_refused(&app, &format!("Bearer {token}"), "sub is a video ID").await;
}

#[tokio::test]
async fn http_mutation_without_token_is_unauthenticated_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .gql(
            None,
            "mutation { createVideo(input: {mediaUrl: \"https://media.example.com/v.mp4\", caption: \"anon\"}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(code_of(&body), "UNAUTHENTICATED", "{body}");
    assert_eq!(body["data"], Value::Null, "{body}");
    let videos = video::Entity::find().count(&app.db).await.expect("count");
    assert_eq!(videos, 0);
}

#[tokio::test]
async fn http_token_of_a_deleted_account_cannot_mutate() {
    let app = TestApp::spawn().await;
    let (bob, bob_token) = app.sign_up("bob", "").await;
    let bob_id = uid(bob);
    let (_, body) = app
        .gql(
            Some(&bob_token),
            "mutation { createVideo(input: {mediaUrl: \"https://media.example.com/v.mp4\", caption: \"bob's\"}) { id } }",
            json!({}),
        )
        .await;
    let bob_video = body["data"]["createVideo"]["id"]
        .as_str()
        .expect("video id")
        .to_owned();
    let (gone, token) = app.sign_up("gone", "").await;
    let (status, body) = app
        .gql(
            Some(&token),
            "mutation { deleteAccount(password: \"password123\") }",
            json!({}),
        )
        .await;
    assert_eq!(
        (status, &body["data"]),
        (200, &json!({ "deleteAccount": true })),
        "{body}"
    );
    assert!(user::Entity::find_by_id(gone)
        .one(&app.db)
        .await
        .expect("query")
        .is_none());

    for (case, query) in [
        (
            "updateAccount",
            "mutation { updateAccount(input: {displayName: \"ghost\"}) { id } }".to_owned(),
        ),
        (
            "createVideo",
            "mutation { createVideo(input: {mediaUrl: \"https://media.example.com/v.mp4\", caption: \"ghost\"}) { id } }".to_owned(),
        ),
        (
            "followUser",
            format!("mutation {{ followUser(userId: \"{bob_id}\") {{ state }} }}"),
        ),
        (
            "likeVideo",
            format!("mutation {{ likeVideo(videoId: \"{bob_video}\") {{ id }} }}"),
        ),
        (
            "blockUser",
            format!("mutation {{ blockUser(userId: \"{bob_id}\") }}"),
        ),
        (
            "deleteAccount",
            "mutation { deleteAccount(password: \"password123\") }".to_owned(),
        ),
    ] {
        let (status, body) = app.gql(Some(&token), &query, json!({})).await;
        assert_eq!(status, 401, "{case}: {body}");
        assert_eq!(code_of(&body), "UNAUTHENTICATED", "{case}: {body}");
        assert_eq!(body["data"], Value::Null, "{case}: {body}");
    }
    // Nothing was written on the ghost's behalf.
    assert!(user::Entity::find_by_id(gone)
        .one(&app.db)
        .await
        .expect("query")
        .is_none());
    assert_eq!(
        video::Entity::find().count(&app.db).await.expect("count"),
        1
    );
    assert_eq!(like::Entity::find().count(&app.db).await.expect("count"), 0);
    assert_eq!(
        follow::Entity::find().count(&app.db).await.expect("count"),
        0
    );
    assert_eq!(
        block::Entity::find().count(&app.db).await.expect("count"),
        0
    );
}

#[tokio::test]
async fn http_reads_with_the_token_of_a_deleted_account_are_unauthenticated() {
    let app = TestApp::spawn().await;
    let (_, token) = app.sign_up("gone", "").await;
    let (status, body) = app.gql(Some(&token), VIEWER_Q, json!({})).await;
    assert_eq!(status, 200, "a live account reads: {body}");
    assert!(body["data"]["viewer"].is_object(), "{body}");
    let (status, body) = app
        .gql(
            Some(&token),
            "mutation { deleteAccount(password: \"password123\") }",
            json!({}),
        )
        .await;
    assert_eq!(
        (status, &body["data"]),
        (200, &json!({ "deleteAccount": true }))
    );
    for query in [
        VIEWER_Q,
        "{ feed(first: 5) { edges { cursor } } }",
        "{ user(handle: \"gone\") { id } }",
        "{ __typename }",
    ] {
        let (status, body) = app.gql(Some(&token), query, json!({})).await;
        assert_eq!(status, 401, "{query}: {body}");
        assert_eq!(code_of(&body), "UNAUTHENTICATED", "{query}: {body}");
        assert_eq!(
            body["errors"][0]["message"],
            "the session of this token has ended (or its account no longer exists)",
            "{query}: {body}"
        );
        assert!(body.get("data").is_none(), "{query}: {body}");
    }
}

// ---------------------------------------------------------------------------------------
// 2. Bad input
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn sign_up_rejects_bad_handles_and_writes_nothing() {
    let h = Harness::new().await;
    for (case, handle) in [
        ("too short", "ab".to_owned()),
        ("empty", String::new()),
        ("too long", "a".repeat(31)),
        ("dash", "bad-handle".to_owned()),
        ("space", "has space".to_owned()),
        ("at sign", "@handle".to_owned()),
        ("non-ASCII letter", "héllo".to_owned()),
        ("emoji", "smile😀".to_owned()),
    ] {
        let ext = h
            .err(
                None,
                SIGN_UP,
                json!({ "input": { "handle": handle, "password": "password123" } }),
            )
            .await;
        assert_bad_input(&ext, "input.handle", case);
    }
    assert_eq!(count_users(&h).await, 0, "no account was created");
    // The bounds themselves are fine.
    for handle in ["abc", &"z".repeat(30), "a_b.c_9"] {
        h.ok(
            None,
            SIGN_UP,
            json!({ "input": { "handle": handle, "password": "password123" } }),
        )
        .await;
    }
    assert_eq!(count_users(&h).await, 3);
}

#[tokio::test]
async fn sign_up_accepts_upper_case_handle_and_stores_it_lower_case() {
    let h = Harness::new().await;
    let d = h
        .ok(
            None,
            SIGN_UP,
            json!({ "input": { "handle": "MiXeD.Case_9", "password": "password123" } }),
        )
        .await;
    assert_eq!(d["signUp"]["user"]["handle"], "mixed.case_9");
    let id = user_uuid(d["signUp"]["user"]["id"].as_str().expect("id"));
    let row = user::Entity::find_by_id(id)
        .one(&h.db)
        .await
        .expect("query")
        .expect("row");
    assert_eq!(row.handle, "mixed.case_9");
    let d = h
        .ok(
            None,
            r#"{ user(handle: "mixed.case_9") { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(d["user"]["id"], uid(id));
}

#[tokio::test]
async fn sign_up_rejects_short_password_and_writes_nothing() {
    let h = Harness::new().await;
    let ext = h
        .err(
            None,
            SIGN_UP,
            json!({ "input": { "handle": "shorty", "password": "1234567" } }),
        )
        .await;
    assert_bad_input(&ext, "input.password", "7 characters");
    let ext = h
        .err(
            None,
            SIGN_UP,
            json!({ "input": { "handle": "shorty", "password": "" } }),
        )
        .await;
    assert_bad_input(&ext, "input.password", "empty");
    assert_eq!(count_users(&h).await, 0);
    let d = h
        .ok(None, r#"{ user(handle: "shorty") { id } }"#, json!({}))
        .await;
    assert_eq!(d["user"], Value::Null);
    // Exactly 8 is enough, and the password is not stored in clear.
    h.ok(
        None,
        SIGN_UP,
        json!({ "input": { "handle": "shorty", "password": "12345678" } }),
    )
    .await;
    let row = user::Entity::find()
        .one(&h.db)
        .await
        .expect("query")
        .expect("row");
    assert!(
        row.password_hash.starts_with("$argon2id$"),
        "stored as an Argon2id hash: {}",
        row.password_hash
    );
}

#[tokio::test]
async fn birth_year_must_be_between_1900_and_this_year() {
    let h = Harness::new().await;
    let this_year = Utc::now().year();
    for year in [1899, this_year + 1, -5, 3000] {
        let ext = h
            .err(
                None,
                SIGN_UP,
                json!({ "input": { "handle": "born", "password": "password123", "birthYear": year } }),
            )
            .await;
        assert_bad_input(&ext, "input.birthYear", &format!("sign-up, {year}"));
    }
    assert_eq!(count_users(&h).await, 0);
    h.ok(
        None,
        SIGN_UP,
        json!({ "input": { "handle": "old", "password": "password123", "birthYear": 1900 } }),
    )
    .await;
    let (me, _) = h
        .sign_up("young", &format!(", birthYear: {this_year}"))
        .await;
    // The same rule on updateAccount, and a rejected update changes nothing.
    for year in [1899, this_year + 1] {
        let ext = h
            .err(
                Some(me),
                "mutation($y: Int) { updateAccount(input: {birthYear: $y, displayName: \"changed\"}) { id } }",
                json!({ "y": year }),
            )
            .await;
        assert_bad_input(&ext, "input.birthYear", &format!("update, {year}"));
    }
    let row = user::Entity::find_by_id(me)
        .one(&h.db)
        .await
        .expect("query")
        .expect("row");
    assert_eq!(row.birth_year, Some(this_year));
    assert_eq!(row.display_name, "young");
}

#[tokio::test]
async fn create_video_checks_caption_and_hashtags() {
    let h = Harness::new().await;
    let me = h
        .account("author", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let cases = [
        (
            "caption 2,201",
            json!({ "mediaUrl": "https://media.example.com/v.mp4", "caption": "x".repeat(2201) }),
            "input.caption",
        ),
        (
            "caption 2,201 multi-byte",
            json!({ "mediaUrl": "https://media.example.com/v.mp4", "caption": "é".repeat(2201) }),
            "input.caption",
        ),
        (
            "31 hashtags",
            json!({ "mediaUrl": "https://media.example.com/v.mp4", "caption": "c", "hashtags": (0..31).map(|i| format!("t{i}")).collect::<Vec<_>>() }),
            "input.hashtags",
        ),
        (
            "hashtag of 101",
            json!({ "mediaUrl": "https://media.example.com/v.mp4", "caption": "c", "hashtags": ["ok", "h".repeat(101)] }),
            "input.hashtags",
        ),
    ];
    for (case, input, field) in cases {
        let ext = h
            .err(Some(me), CREATE_VIDEO, json!({ "input": input }))
            .await;
        assert_bad_input(&ext, field, case);
    }
    assert_eq!(count_videos(&h).await, 0, "no video was written");
    // The limits themselves are accepted (characters, not bytes).
    for input in [
        json!({ "mediaUrl": "https://media.example.com/v.mp4", "caption": "x".repeat(2200) }),
        json!({ "mediaUrl": "https://media.example.com/v.mp4", "caption": "é".repeat(2200) }),
        json!({ "mediaUrl": "https://media.example.com/v.mp4", "caption": "c", "hashtags": (0..30).map(|i| format!("t{i}")).collect::<Vec<_>>() }),
        json!({ "mediaUrl": "https://media.example.com/v.mp4", "caption": "c", "hashtags": ["h".repeat(100)] }),
    ] {
        let d = h
            .ok(Some(me), CREATE_VIDEO, json!({ "input": input.clone() }))
            .await;
        assert_eq!(d["createVideo"]["caption"], input["caption"]);
        if let Some(tags) = input.get("hashtags") {
            assert_eq!(&d["createVideo"]["hashtags"], tags);
        }
    }
    assert_eq!(count_videos(&h).await, 4);
}

/// A small world with one item in every list: `author`'s video liked by `fan`, who is
/// followed by `author`. Returns `(author, fan, video)`.
async fn world_with_lists(h: &Harness) -> (Uuid, Uuid, Uuid) {
    let author = h
        .account("author", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let fan = h
        .account("fan", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let mut video = None;
    for caption in ["first", "second"] {
        let d = h
            .ok(
                Some(author),
                CREATE_VIDEO,
                json!({ "input": { "caption": caption, "mediaUrl": "https://media.example.com/v.mp4" } }),
            )
            .await;
        video = Some(video_uuid(d["createVideo"]["id"].as_str().expect("id")));
    }
    let video = video.expect("a video");
    h.ok(
        Some(fan),
        "mutation($v: ID!) { likeVideo(videoId: $v) { id } }",
        json!({ "v": vid(video) }),
    )
    .await;
    h.ok(
        Some(author),
        "mutation($u: ID!) { followUser(userId: $u) { state } }",
        json!({ "u": uid(fan) }),
    )
    .await;
    (author, fan, video)
}

/// The four paginated lists, each as `(name, query)` taking `$first` and `$after`.
fn lists(video: Uuid) -> Vec<(&'static str, String)> {
    vec![
        (
            "feed",
            "query($first: Int!, $after: String) { feed(first: $first, after: $after) { edges { cursor } } }"
                .to_owned(),
        ),
        (
            "visibleLikers",
            format!(
                "query($first: Int!, $after: String) {{ video(id: \"{}\") {{ visibleLikers(first: $first, after: $after) {{ edges {{ cursor }} }} }} }}",
                vid(video)
            ),
        ),
        (
            "videos",
            "query($first: Int!, $after: String) { user(handle: \"author\") { videos(first: $first, after: $after) { edges { cursor } } } }"
                .to_owned(),
        ),
        (
            "likedVideos",
            "query($first: Int!, $after: String) { user(handle: \"fan\") { likedVideos(first: $first, after: $after) { edges { cursor } } } }"
                .to_owned(),
        ),
    ]
}

/// The `edges` of the list in a response, wherever it sits.
fn edges_of(d: &Value) -> Vec<Value> {
    fn find(v: &Value) -> Option<&Vec<Value>> {
        match v {
            Value::Object(m) => m
                .get("edges")
                .and_then(Value::as_array)
                .or_else(|| m.values().find_map(find)),
            _ => None,
        }
    }
    find(d).cloned().unwrap_or_default()
}

#[tokio::test]
async fn first_out_of_range_is_bad_input_on_every_list() {
    let h = Harness::new().await;
    let (_, _, video) = world_with_lists(&h).await;
    for (name, q) in lists(video) {
        for first in [101, -1, i32::MIN, i32::MAX] {
            let ext = h.err(None, &q, json!({ "first": first })).await;
            assert_bad_input(&ext, "first", &format!("{name}(first: {first})"));
        }
        // 0 and 100 are in range.
        let d = h.ok(None, &q, json!({ "first": 0 })).await;
        assert!(edges_of(&d).is_empty(), "{name}(first: 0): {d}");
        let d = h.ok(None, &q, json!({ "first": 100 })).await;
        assert!(!edges_of(&d).is_empty(), "{name}(first: 100): {d}");
    }
}

#[tokio::test]
async fn cursors_the_service_did_not_issue_are_bad_input() {
    let h = Harness::new().await;
    let (_, _, video) = world_with_lists(&h).await;
    let lists = lists(video);
    // A genuine cursor of every list, and each one accepted by its own list.
    let mut genuine = Vec::new();
    for (name, q) in &lists {
        let d = h.ok(None, q, json!({ "first": 1 })).await;
        let cursor = edges_of(&d)
            .first()
            .and_then(|e| e["cursor"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("{name} has an item: {d}"));
        h.ok(None, q, json!({ "first": 1, "after": cursor })).await;
        genuine.push((*name, cursor));
    }
    let random = URL_SAFE_NO_PAD.encode(Uuid::new_v4().as_bytes());
    let foreign_codec = CursorCodec::new(&IdKey::random());
    let keyset = Keyset {
        time: Utc::now().timestamp_micros(),
        id: video,
    };
    for (name, q) in &lists {
        let (kind, own) = match *name {
            "visibleLikers" => (CursorKind::Likers, &genuine[1].1),
            "likedVideos" => (CursorKind::LikedVideos, &genuine[3].1),
            "feed" => (CursorKind::Videos, &genuine[0].1),
            _ => (CursorKind::Videos, &genuine[2].1),
        };
        let mut tampered = URL_SAFE_NO_PAD.decode(own).expect("cursor is base64url");
        tampered[5] ^= 0x01;
        let mut forged: Vec<(String, String)> = vec![
            ("random base64".into(), random.clone()),
            ("not base64".into(), "!!!not-a-cursor!!!".into()),
            ("empty".into(), String::new()),
            ("tampered".into(), URL_SAFE_NO_PAD.encode(&tampered)),
            (
                "signed with another secret".into(),
                foreign_codec.encode(kind, keyset).expect("encode"),
            ),
        ];
        // Cursors of the other kinds of list.
        let other_kind_lists: &[&str] = match *name {
            "visibleLikers" => &["feed", "likedVideos"],
            "likedVideos" => &["feed", "visibleLikers"],
            _ => &["visibleLikers", "likedVideos"],
        };
        for (other, cursor) in &genuine {
            if other_kind_lists.contains(other) {
                forged.push((format!("a {other} cursor"), cursor.clone()));
            }
        }
        for (case, cursor) in forged {
            let ext = h.err(None, q, json!({ "first": 5, "after": cursor })).await;
            assert_bad_input(&ext, "after", &format!("{name} with {case}"));
        }
    }
}

#[tokio::test]
async fn own_user_lists_validate_first_and_after_too() {
    let h = Harness::new().await;
    let (author, fan, video) = world_with_lists(&h).await;
    let shy = h
        .account("shy", Visibility::Private, LikesVisibility::Everyone)
        .await;
    h.ok(
        Some(fan),
        "mutation($u: ID!) { followUser(userId: $u) { state } }",
        json!({ "u": uid(shy) }),
    )
    .await;
    h.ok(
        Some(shy),
        "mutation($u: ID!) { blockUser(userId: $u) }",
        json!({ "u": uid(author) }),
    )
    .await;
    let likers_cursor = {
        let d = h
            .ok(
                None,
                "query($v: ID!) { video(id: $v) { visibleLikers { edges { cursor } } } }",
                json!({ "v": vid(video) }),
            )
            .await;
        d["video"]["visibleLikers"]["edges"][0]["cursor"]
            .as_str()
            .expect("a liker cursor")
            .to_owned()
    };
    for list in ["followRequests", "blockedUsers"] {
        let q = format!(
            "query($first: Int!, $after: String) {{ viewer {{ {list}(first: $first, after: $after) {{ edges {{ cursor }} }} }} }}"
        );
        let d = h.ok(Some(shy), &q, json!({ "first": 1 })).await;
        let own = edges_of(&d)
            .first()
            .and_then(|e| e["cursor"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("{list} has an item: {d}"));
        h.ok(Some(shy), &q, json!({ "first": 1, "after": own }))
            .await;
        for first in [101, -1] {
            let ext = h.err(Some(shy), &q, json!({ "first": first })).await;
            assert_bad_input(&ext, "first", &format!("{list}(first: {first})"));
        }
        let ext = h
            .err(Some(shy), &q, json!({ "first": 5, "after": likers_cursor }))
            .await;
        assert_bad_input(&ext, "after", &format!("{list} with a likers cursor"));
    }
}

#[tokio::test]
async fn malformed_ids_are_bad_input_naming_the_argument() {
    let h = Harness::new().await;
    let (author, fan, video) = world_with_lists(&h).await;
    let (likes, follows, blocks) = (
        count_likes(&h).await,
        count_follows(&h).await,
        count_blocks(&h).await,
    );
    for bad in ["not-an-id", "", "!!!", "VVVVVVVVVVVVVVVVVVVVVVV"] {
        let ext = h
            .err(
                None,
                "query($id: ID!) { video(id: $id) { id } }",
                json!({ "id": bad }),
            )
            .await;
        assert_bad_input(&ext, "id", &format!("video({bad:?})"));
        let ext = h
            .err(
                None,
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": bad }),
            )
            .await;
        assert_bad_input(&ext, "id", &format!("node({bad:?})"));
        let ext = h
            .err(
                Some(fan),
                "mutation($id: ID!) { followUser(userId: $id) { state } }",
                json!({ "id": bad }),
            )
            .await;
        assert_bad_input(&ext, "userId", &format!("followUser({bad:?})"));
        let ext = h
            .err(
                Some(fan),
                "mutation($id: ID!) { likeVideo(videoId: $id) { id } }",
                json!({ "id": bad }),
            )
            .await;
        assert_bad_input(&ext, "videoId", &format!("likeVideo({bad:?})"));
    }
    // A well-formed ID of the wrong kind is not a well-formed ID of the right kind.
    let ext = h
        .err(
            None,
            "query($id: ID!) { video(id: $id) { id } }",
            json!({ "id": uid(author) }),
        )
        .await;
    assert_bad_input(&ext, "id", "video(user ID)");
    let ext = h
        .err(
            Some(fan),
            "mutation($id: ID!) { likeVideo(videoId: $id) { id } }",
            json!({ "id": uid(author) }),
        )
        .await;
    assert_bad_input(&ext, "videoId", "likeVideo(user ID)");
    let ext = h
        .err(
            Some(fan),
            "mutation($id: ID!) { followUser(userId: $id) { state } }",
            json!({ "id": vid(video) }),
        )
        .await;
    assert_bad_input(&ext, "userId", "followUser(video ID)");
    assert_eq!(count_likes(&h).await, likes);
    assert_eq!(count_follows(&h).await, follows);
    assert_eq!(count_blocks(&h).await, blocks);
}

#[tokio::test]
async fn well_formed_id_of_an_absent_thing_is_null_or_not_found() {
    let h = Harness::new().await;
    let me = h
        .account("me", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let ghost_video = vid(Uuid::now_v7());
    let ghost_user = uid(Uuid::now_v7());
    let d = h
        .ok(
            Some(me),
            "query($v: ID!, $u: ID!) { video(id: $v) { id } nv: node(id: $v) { id } nu: node(id: $u) { id } }",
            json!({ "v": ghost_video, "u": ghost_user }),
        )
        .await;
    assert_eq!(d, json!({ "video": null, "nv": null, "nu": null }));
    let ext = h
        .err(
            Some(me),
            "mutation($v: ID!) { likeVideo(videoId: $v) { id } }",
            json!({ "v": ghost_video }),
        )
        .await;
    assert_eq!(ext["code"], "NOT_FOUND", "likeVideo: {ext}");
    let ext = h
        .err(
            Some(me),
            "mutation($u: ID!) { followUser(userId: $u) { state } }",
            json!({ "u": ghost_user }),
        )
        .await;
    assert_eq!(ext["code"], "NOT_FOUND", "followUser: {ext}");
    assert_eq!(count_likes(&h).await, 0);
    assert_eq!(count_follows(&h).await, 0);
}

// ---------------------------------------------------------------------------------------
// 3. Sign-up conflicts, log-in, and mutations without a viewer
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn sign_up_with_a_taken_handle_is_conflict_also_case_insensitively() {
    let h = Harness::new().await;
    let (first, _) = h.sign_up("taken", "").await;
    for handle in ["taken", "TAKEN", "Taken"] {
        let ext = h
            .err(
                None,
                SIGN_UP,
                json!({ "input": { "handle": handle, "password": "other-password" } }),
            )
            .await;
        assert_eq!(ext["code"], "CONFLICT", "{handle}: {ext}");
        assert_eq!(ext["field"], "input.handle", "{handle}: {ext}");
    }
    assert_eq!(count_users(&h).await, 1);
    let d = h
        .ok(None, r#"{ user(handle: "taken") { id } }"#, json!({}))
        .await;
    assert_eq!(
        d["user"]["id"],
        uid(first),
        "the original account is untouched"
    );
}

#[tokio::test]
async fn log_in_wrong_handle_and_wrong_password_answer_alike() {
    let h = Harness::new().await;
    h.sign_up("known", "").await;
    let wrong_password = h
        .run(None, LOG_IN, json!({ "h": "known", "p": "wrong-password" }))
        .await;
    let wrong_handle = h
        .run(None, LOG_IN, json!({ "h": "unknown", "p": "password123" }))
        .await;
    for (case, r) in [
        ("wrong password", &wrong_password),
        ("wrong handle", &wrong_handle),
    ] {
        assert_eq!(code_of(r), "UNAUTHENTICATED", "{case}: {r}");
        assert_eq!(r["data"], Value::Null, "{case}: {r}");
    }
    assert_eq!(
        wrong_password["errors"][0]["message"], wrong_handle["errors"][0]["message"],
        "same message"
    );
    assert_eq!(
        wrong_password["errors"][0]["extensions"],
        wrong_handle["errors"][0]["extensions"]
    );
}

#[tokio::test]
async fn log_in_issues_a_working_token_with_the_contract_claims() {
    let app = TestApp::spawn().await;
    let (me, _) = app.sign_up("loggy", "").await;
    let (status, body) = app
        .gql(None, LOG_IN, json!({ "h": "loggy", "p": "password123" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let payload = &body["data"]["logIn"];
    assert_eq!(payload["user"]["id"], uid(me));
    let token = payload["token"].as_str().expect("token");

    // The token works over HTTP.
    let (status, body) = app.gql(Some(token), VIEWER_Q, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["viewer"]["handle"], "loggy");
    assert_eq!(body["data"]["viewer"]["id"], uid(me));

    // And carries what the contract says: HS256, sub/sid/iss/aud/iat/exp, 15 minutes.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["tally"]);
    validation.set_audience(&["tally-api"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(SECRET).expect("decoding key"),
        &validation,
    )
    .expect("token verifies with the contract's rules");
    assert_eq!(data.header.alg, Algorithm::HS256);
    let c = data.claims;
    assert_eq!(c["sub"], uid(me));
    let (iat, exp) = (
        c["iat"].as_i64().expect("iat"),
        c["exp"].as_i64().expect("exp"),
    );
    assert_eq!(exp - iat, 15 * 60, "15 minutes by default");
    let sid = c["sid"].as_str().expect("sid");
    tally::ids::IdCodec::decode_id(
        &crate::helpers::ids(),
        "sid",
        tally::ids::Kind::Session,
        sid,
    )
    .expect("sid is a session ID");
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(payload["expiresAt"].as_str().expect("expiresAt"))
            .expect("RFC 3339");
    assert!((expires_at.timestamp() - exp).abs() <= 1, "expiresAt = exp");
}

#[tokio::test]
async fn mutations_without_a_viewer_are_unauthenticated_and_write_nothing() {
    let h = Harness::new().await;
    let (author, fan, video) = world_with_lists(&h).await;
    let (users, videos, likes, follows, blocks) = (
        count_users(&h).await,
        count_videos(&h).await,
        count_likes(&h).await,
        count_follows(&h).await,
        count_blocks(&h).await,
    );
    let (a, f, v) = (uid(author), uid(fan), vid(video));
    let mutations = [
        "updateAccount(input: {displayName: \"x\", visibility: PRIVATE}) { id }".to_owned(),
        "deleteAccount(password: \"password123\")".to_owned(),
        format!("followUser(userId: \"{a}\") {{ state }}"),
        format!("unfollowUser(userId: \"{f}\")"),
        format!("approveFollowRequest(userId: \"{a}\") {{ state }}"),
        format!("rejectFollowRequest(userId: \"{a}\")"),
        format!("removeFollower(userId: \"{a}\")"),
        format!("blockUser(userId: \"{a}\")"),
        format!("unblockUser(userId: \"{a}\")"),
        "createVideo(input: {mediaUrl: \"https://media.example.com/v.mp4\", caption: \"anon\"}) { id }".to_owned(),
        format!("deleteVideo(id: \"{v}\")"),
        format!("likeVideo(videoId: \"{v}\") {{ id }}"),
        format!("unlikeVideo(videoId: \"{v}\") {{ id }}"),
    ];
    for m in &mutations {
        let r = h.run(None, &format!("mutation {{ {m} }}"), json!({})).await;
        assert_eq!(code_of(&r), "UNAUTHENTICATED", "{m}: {r}");
        assert_eq!(r["data"], Value::Null, "{m}: {r}");
    }
    assert_eq!(count_users(&h).await, users);
    assert_eq!(count_videos(&h).await, videos);
    assert_eq!(count_likes(&h).await, likes);
    assert_eq!(count_follows(&h).await, follows);
    assert_eq!(count_blocks(&h).await, blocks);
}

// ---------------------------------------------------------------------------------------
// 4. The follow state machine
// ---------------------------------------------------------------------------------------

const FOLLOW: &str =
    "mutation($u: ID!) { followUser(userId: $u) { state follower { id } followee { id } } }";
const UNFOLLOW: &str = "mutation($u: ID!) { unfollowUser(userId: $u) }";
const APPROVE: &str = "mutation($u: ID!) { approveFollowRequest(userId: $u) { state follower { id } followee { id } } }";
const REJECT: &str = "mutation($u: ID!) { rejectFollowRequest(userId: $u) }";
const REMOVE: &str = "mutation($u: ID!) { removeFollower(userId: $u) }";
const GO_PUBLIC: &str = "mutation { updateAccount(input: {visibility: PUBLIC}) { visibility } }";
const USER_STATE: &str =
    "query($h: String!) { user(handle: $h) { followerCount followingCount viewerFollowState } }";
const MY_REQUESTS: &str = "{ viewer { followRequests { edges { node { id } } } } }";

struct Social {
    h: Harness,
}

impl Social {
    async fn new() -> Self {
        Social {
            h: Harness::new().await,
        }
    }

    async fn public(&self, handle: &str) -> Uuid {
        self.h
            .account(handle, Visibility::Public, LikesVisibility::Everyone)
            .await
    }

    async fn private(&self, handle: &str) -> Uuid {
        self.h
            .account(handle, Visibility::Private, LikesVisibility::Everyone)
            .await
    }

    /// `who` runs a mutation with `$u = target`, expecting success.
    async fn ok(&self, who: Uuid, q: &str, target: Uuid) -> Value {
        self.h.ok(Some(who), q, json!({ "u": uid(target) })).await
    }

    /// `who` runs a mutation with `$u = target`, expecting an error; its extensions.
    async fn err(&self, who: Uuid, q: &str, target: Uuid) -> Value {
        self.h.err(Some(who), q, json!({ "u": uid(target) })).await
    }

    /// `(followerCount, followingCount, viewerFollowState)` of `handle` as `viewer` sees it.
    async fn state(&self, viewer: Uuid, handle: &str) -> (i64, i64, String) {
        let d = self
            .h
            .ok(Some(viewer), USER_STATE, json!({ "h": handle }))
            .await;
        let u = &d["user"];
        (
            u["followerCount"].as_i64().expect("followerCount"),
            u["followingCount"].as_i64().expect("followingCount"),
            u["viewerFollowState"]
                .as_str()
                .expect("viewerFollowState")
                .to_owned(),
        )
    }

    /// IDs in `me`'s own follow requests.
    async fn requests(&self, me: Uuid) -> Vec<String> {
        let d = self.h.ok(Some(me), MY_REQUESTS, json!({})).await;
        d["viewer"]["followRequests"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
            .collect()
    }
}

#[tokio::test]
async fn follow_public_is_approved_and_repeating_is_a_no_op() {
    let s = Social::new().await;
    let (fan, star) = (s.public("fan").await, s.public("star").await);
    let d = s.ok(fan, FOLLOW, star).await;
    assert_eq!(
        d["followUser"],
        json!({ "state": "APPROVED", "follower": { "id": uid(fan) }, "followee": { "id": uid(star) } })
    );
    let d = s.ok(fan, FOLLOW, star).await;
    assert_eq!(d["followUser"]["state"], "APPROVED");
    assert_eq!(count_follows(&s.h).await, 1, "one follow row");
    assert_eq!(s.state(fan, "star").await, (1, 0, "APPROVED".into()));
    assert_eq!(
        s.state(fan, "fan").await,
        (0, 1, "NONE".into()),
        "self is NONE"
    );
    assert_eq!(s.state(star, "fan").await, (0, 1, "NONE".into()));
}

#[tokio::test]
async fn follow_private_is_pending_and_repeating_is_a_no_op() {
    let s = Social::new().await;
    let (fan, shy) = (s.public("fan").await, s.private("shy").await);
    let d = s.ok(fan, FOLLOW, shy).await;
    assert_eq!(
        d["followUser"],
        json!({ "state": "PENDING", "follower": { "id": uid(fan) }, "followee": { "id": uid(shy) } })
    );
    let d = s.ok(fan, FOLLOW, shy).await;
    assert_eq!(
        d["followUser"]["state"], "PENDING",
        "still pending, not approved"
    );
    assert_eq!(count_follows(&s.h).await, 1);
    // Pending grants nothing: no counts.
    assert_eq!(s.state(fan, "shy").await, (0, 0, "PENDING".into()));
    assert_eq!(s.state(fan, "fan").await, (0, 0, "NONE".into()));
    assert_eq!(s.requests(shy).await, vec![uid(fan)]);
    // Once approved, following again keeps it approved.
    s.ok(shy, APPROVE, fan).await;
    let d = s.ok(fan, FOLLOW, shy).await;
    assert_eq!(d["followUser"]["state"], "APPROVED");
    assert_eq!(count_follows(&s.h).await, 1);
}

#[tokio::test]
async fn following_yourself_is_bad_input() {
    let s = Social::new().await;
    for me in [s.public("pub").await, s.private("priv").await] {
        let ext = s.err(me, FOLLOW, me).await;
        assert_bad_input(&ext, "userId", "follow yourself");
    }
    assert_eq!(count_follows(&s.h).await, 0);
}

#[tokio::test]
async fn approve_without_a_pending_request_is_not_found() {
    let s = Social::new().await;
    let (fan, shy, other) = (
        s.public("fan").await,
        s.private("shy").await,
        s.public("other").await,
    );
    // Nothing at all.
    let ext = s.err(shy, APPROVE, fan).await;
    assert_eq!(ext["code"], "NOT_FOUND", "{ext}");
    // An approved follow is not a pending request.
    s.ok(fan, FOLLOW, other).await;
    let ext = s.err(other, APPROVE, fan).await;
    assert_eq!(ext["code"], "NOT_FOUND", "{ext}");
    // The followee cannot approve its own request to someone else.
    s.ok(fan, FOLLOW, shy).await;
    let ext = s.err(fan, APPROVE, shy).await;
    assert_eq!(ext["code"], "NOT_FOUND", "{ext}");
    assert_eq!(s.state(fan, "shy").await.2, "PENDING");
}

#[tokio::test]
async fn approving_a_request_makes_it_count() {
    let s = Social::new().await;
    let shy = s.private("shy").await;
    let (a, b, c) = (
        s.public("a").await,
        s.public("b").await,
        s.public("c").await,
    );
    for f in [a, b, c] {
        s.ok(f, FOLLOW, shy).await;
    }
    assert_eq!(s.state(a, "shy").await, (0, 0, "PENDING".into()));
    let d = s.ok(shy, APPROVE, b).await;
    assert_eq!(
        d["approveFollowRequest"],
        json!({ "state": "APPROVED", "follower": { "id": uid(b) }, "followee": { "id": uid(shy) } })
    );
    assert_eq!(s.state(b, "shy").await, (1, 0, "APPROVED".into()));
    assert_eq!(s.state(a, "shy").await, (1, 0, "PENDING".into()));
    assert_eq!(s.state(a, "b").await, (0, 1, "NONE".into()));
    assert_eq!(s.state(b, "a").await, (0, 0, "NONE".into()));
    let mut left = s.requests(shy).await;
    left.sort();
    let mut want = vec![uid(a), uid(c)];
    want.sort();
    assert_eq!(left, want, "approved requests leave the list");
    // Approving twice: no longer pending.
    let ext = s.err(shy, APPROVE, b).await;
    assert_eq!(ext["code"], "NOT_FOUND", "{ext}");
}

#[tokio::test]
async fn reject_removes_a_pending_request() {
    let s = Social::new().await;
    let (fan, shy) = (s.public("fan").await, s.private("shy").await);
    s.ok(fan, FOLLOW, shy).await;
    let d = s.ok(shy, REJECT, fan).await;
    assert_eq!(d["rejectFollowRequest"], true);
    assert_eq!(s.state(fan, "shy").await, (0, 0, "NONE".into()));
    assert!(s.requests(shy).await.is_empty());
    assert_eq!(count_follows(&s.h).await, 0);
    // Reject does not touch an approved follow.
    s.ok(fan, FOLLOW, shy).await;
    s.ok(shy, APPROVE, fan).await;
    let _ = s.h.run(Some(shy), REJECT, json!({ "u": uid(fan) })).await;
    assert_eq!(s.state(fan, "shy").await, (1, 0, "APPROVED".into()));
}

#[tokio::test]
async fn remove_follower_removes_an_approved_follow() {
    let s = Social::new().await;
    let (fan, star) = (s.public("fan").await, s.public("star").await);
    s.ok(fan, FOLLOW, star).await;
    assert_eq!(s.state(fan, "star").await, (1, 0, "APPROVED".into()));
    let d = s.ok(star, REMOVE, fan).await;
    assert_eq!(d["removeFollower"], true);
    assert_eq!(s.state(fan, "star").await, (0, 0, "NONE".into()));
    assert_eq!(s.state(star, "fan").await, (0, 0, "NONE".into()));
    assert_eq!(count_follows(&s.h).await, 0);
    // It does not remove a pending request (that is what reject is for).
    let shy = s.private("shy").await;
    s.ok(fan, FOLLOW, shy).await;
    let _ = s.h.run(Some(shy), REMOVE, json!({ "u": uid(fan) })).await;
    assert_eq!(s.state(fan, "shy").await.2, "PENDING");
}

#[tokio::test]
async fn unfollow_removes_pending_or_approved() {
    let s = Social::new().await;
    let (fan, star, shy) = (
        s.public("fan").await,
        s.public("star").await,
        s.private("shy").await,
    );
    s.ok(fan, FOLLOW, star).await;
    s.ok(fan, FOLLOW, shy).await;
    let d = s.ok(fan, UNFOLLOW, star).await;
    assert_eq!(d["unfollowUser"], true);
    assert_eq!(s.state(fan, "star").await, (0, 0, "NONE".into()));
    let d = s.ok(fan, UNFOLLOW, shy).await;
    assert_eq!(d["unfollowUser"], true);
    assert_eq!(s.state(fan, "shy").await, (0, 0, "NONE".into()));
    assert!(s.requests(shy).await.is_empty());
    assert_eq!(s.state(fan, "fan").await, (0, 0, "NONE".into()));
    assert_eq!(count_follows(&s.h).await, 0);
}

#[tokio::test]
async fn follow_requests_and_blocked_users_are_the_owners_alone() {
    let s = Social::new().await;
    let (fan, shy, pest) = (
        s.public("fan").await,
        s.private("shy").await,
        s.public("pest").await,
    );
    s.ok(fan, FOLLOW, shy).await;
    s.ok(shy, "mutation($u: ID!) { blockUser(userId: $u) }", pest)
        .await;
    let q = "query($h: String!) { user(handle: $h) { followRequests { edges { node { id } } } } }";
    let q_blocked =
        "query($h: String!) { user(handle: $h) { blockedUsers { edges { node { id } } } } }";
    for (who, label) in [(Some(fan), "a requester"), (None, "anonymous")] {
        for (query, list) in [(q, "followRequests"), (q_blocked, "blockedUsers")] {
            // `null`, without an error: nothing tells that there is something to hide.
            let d = s.h.ok(who, query, json!({ "h": "shy" })).await;
            assert_eq!(d["user"], json!({ list: null }), "{label}: {query}");
        }
    }
    // The owner sees both, through `user` and through `viewer`.
    let d = s.h.ok(Some(shy), q, json!({ "h": "shy" })).await;
    assert_eq!(
        d["user"]["followRequests"]["edges"],
        json!([{ "node": { "id": uid(fan) } }])
    );
    let d = s.h.ok(Some(shy), q_blocked, json!({ "h": "shy" })).await;
    assert_eq!(
        d["user"]["blockedUsers"]["edges"],
        json!([{ "node": { "id": uid(pest) } }])
    );
    let d = s
        .h
        .ok(
            Some(shy),
            "{ viewer { blockedUsers { edges { node { id } } } followRequests { edges { node { id } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["viewer"],
        json!({
            "blockedUsers": { "edges": [{ "node": { "id": uid(pest) } }] },
            "followRequests": { "edges": [{ "node": { "id": uid(fan) } }] },
        })
    );
    // Own lists of someone with nothing in them are empty, not forbidden.
    let d =
        s.h.ok(
            Some(fan),
            "{ viewer { blockedUsers { edges { cursor } } followRequests { edges { cursor } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["viewer"],
        json!({ "blockedUsers": { "edges": [] }, "followRequests": { "edges": [] } })
    );
}

#[tokio::test]
async fn likes_visibility_is_shown_to_the_account_alone() {
    let s = Social::new().await;
    let me =
        s.h.account("me", Visibility::Public, LikesVisibility::OnlyMe)
            .await;
    let other = s.public("other").await;
    let q = r#"{ user(handle: "me") { likesVisibility } }"#;
    assert_eq!(
        s.h.ok(None, q, json!({})).await["user"]["likesVisibility"],
        Value::Null
    );
    assert_eq!(
        s.h.ok(Some(other), q, json!({})).await["user"]["likesVisibility"],
        Value::Null
    );
    // Not even through an approved follow.
    s.ok(other, FOLLOW, me).await;
    assert_eq!(
        s.h.ok(Some(other), q, json!({})).await["user"]["likesVisibility"],
        Value::Null
    );
    assert_eq!(
        s.h.ok(Some(me), q, json!({})).await["user"]["likesVisibility"],
        "ONLY_ME"
    );
    let d =
        s.h.ok(Some(me), "{ viewer { likesVisibility } }", json!({}))
            .await;
    assert_eq!(d["viewer"]["likesVisibility"], "ONLY_ME");
    // A change shows at once.
    let d =
        s.h.ok(
            Some(me),
            "mutation { updateAccount(input: {likesVisibility: FOLLOWERS}) { likesVisibility } }",
            json!({}),
        )
        .await;
    assert_eq!(d["updateAccount"]["likesVisibility"], "FOLLOWERS");
    assert_eq!(
        s.h.ok(Some(me), q, json!({})).await["user"]["likesVisibility"],
        "FOLLOWERS"
    );
    // Through `node` and a follow payload, too.
    let d =
        s.h.ok(
            Some(other),
            "query($id: ID!) { node(id: $id) { ... on User { likesVisibility } } }",
            json!({ "id": uid(me) }),
        )
        .await;
    assert_eq!(d["node"]["likesVisibility"], Value::Null);
    let d = s
        .h
        .ok(
            Some(other),
            "mutation($u: ID!) { followUser(userId: $u) { followee { likesVisibility } follower { likesVisibility } } }",
            json!({ "u": uid(me) }),
        )
        .await;
    assert_eq!(d["followUser"]["followee"]["likesVisibility"], Value::Null);
    assert_eq!(d["followUser"]["follower"]["likesVisibility"], "EVERYONE");
}

#[tokio::test]
async fn turning_public_approves_every_pending_request() {
    let s = Social::new().await;
    let shy = s.private("shy").await;
    let (a, b, c) = (
        s.public("a").await,
        s.public("b").await,
        s.public("c").await,
    );
    let elsewhere = s.private("elsewhere").await;
    for f in [a, b] {
        s.ok(f, FOLLOW, shy).await;
    }
    s.ok(c, FOLLOW, shy).await;
    s.ok(shy, APPROVE, c).await;
    // A pending request to someone else is not affected.
    s.ok(a, FOLLOW, elsewhere).await;
    assert_eq!(s.state(a, "shy").await, (1, 0, "PENDING".into()));

    let d = s.h.ok(Some(shy), GO_PUBLIC, json!({})).await;
    assert_eq!(d["updateAccount"]["visibility"], "PUBLIC");
    for f in [a, b, c] {
        assert_eq!(s.state(f, "shy").await, (3, 0, "APPROVED".into()));
    }
    assert!(s.requests(shy).await.is_empty());
    assert_eq!(
        s.state(a, "a").await.1,
        1,
        "a follows shy; elsewhere still pending"
    );
    assert_eq!(s.state(a, "elsewhere").await, (0, 0, "PENDING".into()));
    // From now on, following is approved at once.
    let late = s.public("late").await;
    let d = s.ok(late, FOLLOW, shy).await;
    assert_eq!(d["followUser"]["state"], "APPROVED");
}

// ---------------------------------------------------------------------------------------
// 5. Plain HTTP endpoints
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn health_and_readiness_endpoints_answer_200() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let resp = app
            .http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), 200, "{path}");
    }
}

#[tokio::test]
async fn readyz_is_not_ready_once_the_database_is_gone_but_healthz_is() {
    let app = TestApp::spawn().await;
    app.db.close_by_ref().await.expect("close pool");
    let ready = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("request");
    assert_ne!(ready.status().as_u16(), 200, "readyz needs the database");
    assert!(ready.status().is_server_error(), "{}", ready.status());
    let health = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(
        health.status().as_u16(),
        200,
        "healthz only needs the process"
    );
}

#[tokio::test]
async fn graphiql_is_served_in_a_browser() {
    let app = TestApp::spawn().await;
    for path in ["/graphiql", "/graphql"] {
        let resp = app
            .http
            .get(format!("{}{path}", app.base))
            .header("Accept", "text/html")
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/html"),
            "{path}: content-type {content_type}"
        );
        let body = resp.text().await.expect("body");
        assert!(
            body.to_lowercase().contains("graphiql"),
            "{path}: not the playground: {body}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 6. Deleting an account
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn delete_account_with_a_wrong_password_deletes_nothing() {
    let h = Harness::new().await;
    let (me, _) = h.sign_up("keeper", "").await;
    let fan = h
        .account("fan", Visibility::Public, LikesVisibility::Everyone)
        .await;
    h.ok(
        Some(fan),
        "mutation($u: ID!) { followUser(userId: $u) { state } }",
        json!({ "u": uid(me) }),
    )
    .await;
    for wrong in ["wrong-password", "", "PASSWORD123"] {
        let ext = h
            .err(
                Some(me),
                "mutation($p: String!) { deleteAccount(password: $p) }",
                json!({ "p": wrong }),
            )
            .await;
        assert_bad_input(&ext, "password", &format!("password {wrong:?}"));
    }
    assert_eq!(count_users(&h).await, 2);
    assert_eq!(count_follows(&h).await, 1);
    let d = h
        .ok(
            None,
            r#"{ user(handle: "keeper") { id followerCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(d["user"], json!({ "id": uid(me), "followerCount": 1 }));
    h.ok(None, LOG_IN, json!({ "h": "keeper", "p": "password123" }))
        .await;
}

#[tokio::test]
async fn delete_account_with_the_right_password_removes_it() {
    let h = Harness::new().await;
    let (me, _) = h.sign_up("leaver", "").await;
    let star = h
        .account("star", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let d = h
        .ok(
            Some(star),
            CREATE_VIDEO,
            json!({ "input": { "caption": "hit", "mediaUrl": "https://media.example.com/v.mp4" } }),
        )
        .await;
    let star_video = d["createVideo"]["id"].as_str().expect("id").to_owned();
    h.ok(
        Some(me),
        "mutation($u: ID!, $v: ID!) { followUser(userId: $u) { state } likeVideo(videoId: $v) { likeCount } }",
        json!({ "u": uid(star), "v": star_video }),
    )
    .await;
    h.ok(
        Some(me),
        CREATE_VIDEO,
        json!({ "input": { "caption": "mine", "mediaUrl": "https://media.example.com/v.mp4" } }),
    )
    .await;

    let d = h
        .ok(
            Some(me),
            "mutation { deleteAccount(password: \"password123\") }",
            json!({}),
        )
        .await;
    assert_eq!(d["deleteAccount"], true);
    let d = h
        .ok(
            Some(star),
            "query($v: ID!, $id: ID!) { user(handle: \"leaver\") { id } node(id: $id) { id } star: user(handle: \"star\") { followerCount } video(id: $v) { likeCount visibleLikers { totalCount } } }",
            json!({ "v": star_video, "id": uid(me) }),
        )
        .await;
    assert_eq!(
        d,
        json!({
            "user": null,
            "node": null,
            "star": { "followerCount": 0 },
            "video": { "likeCount": 0, "visibleLikers": { "totalCount": 0 } },
        })
    );
    assert_eq!(count_users(&h).await, 1);
    assert_eq!(count_follows(&h).await, 0);
    assert_eq!(count_likes(&h).await, 0);
    assert_eq!(count_videos(&h).await, 1, "only star's video is left");
    let r = h
        .run(None, LOG_IN, json!({ "h": "leaver", "p": "password123" }))
        .await;
    assert_eq!(code_of(&r), "UNAUTHENTICATED", "{r}");
}

// ---------------------------------------------------------------------------------------
// Deleted accounts
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_mutation_refuses_the_token_of_a_deleted_account() {
    let h = Harness::new().await;
    let (gone, _) = h.sign_up("gone", "").await;
    let (author, fan, video) = world_with_lists(&h).await;
    h.ok(
        Some(gone),
        "mutation { deleteAccount(password: \"password123\") }",
        json!({}),
    )
    .await;
    let (a, f, v) = (uid(author), uid(fan), vid(video));
    let mutations = [
        "updateAccount(input: {displayName: \"x\"}) { id }".to_owned(),
        "deleteAccount(password: \"password123\")".to_owned(),
        format!("followUser(userId: \"{a}\") {{ state }}"),
        format!("unfollowUser(userId: \"{f}\")"),
        format!("approveFollowRequest(userId: \"{a}\") {{ state }}"),
        format!("rejectFollowRequest(userId: \"{a}\")"),
        format!("removeFollower(userId: \"{a}\")"),
        format!("blockUser(userId: \"{a}\")"),
        format!("unblockUser(userId: \"{a}\")"),
        "createVideo(input: {mediaUrl: \"https://media.example.com/v.mp4\", caption: \"ghost\"}) { id }".to_owned(),
        format!("deleteVideo(id: \"{v}\")"),
        format!("likeVideo(videoId: \"{v}\") {{ id }}"),
        format!("unlikeVideo(videoId: \"{v}\") {{ id }}"),
    ];
    let mut wrong = Vec::new();
    for m in &mutations {
        let r = h
            .run(Some(gone), &format!("mutation {{ {m} }}"), json!({}))
            .await;
        if code_of(&r) != "UNAUTHENTICATED" {
            wrong.push(format!("{m} -> {r}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "a deleted account's token must not work for any mutation:\n{}",
        wrong.join("\n")
    );
}

#[tokio::test]
async fn unique_violations_are_told_apart_by_constraint_name_or_by_their_rows() {
    let db = crate::helpers::fresh_db().await;
    let insert = |handle: &str, subject: Option<&str>| {
        let mut am: user::ActiveModel = user::ActiveModel {
            id: sea_orm::ActiveValue::Set(Uuid::now_v7()),
            handle: sea_orm::ActiveValue::Set(handle.to_owned()),
            display_name: sea_orm::ActiveValue::Set(handle.to_owned()),
            password_hash: sea_orm::ActiveValue::Set("-".to_owned()),
            account_type: sea_orm::ActiveValue::Set(entity::AccountType::Personal),
            visibility: sea_orm::ActiveValue::Set(Visibility::Public),
            likes_visibility: sea_orm::ActiveValue::Set(LikesVisibility::Everyone),
            birth_year: sea_orm::ActiveValue::Set(None),
            region: sea_orm::ActiveValue::Set(None),
            language: sea_orm::ActiveValue::Set(None),
            created_at: sea_orm::ActiveValue::Set(0),
            external_subject: sea_orm::ActiveValue::Set(None),
            avatar_url: sea_orm::ActiveValue::Set(None),
        };
        am.external_subject = sea_orm::ActiveValue::Set(subject.map(str::to_owned));
        let db = db.clone();
        async move { sea_orm::ActiveModelTrait::insert(am, &db).await }
    };
    insert("taken", Some("idp|1")).await.expect("first");
    let handle = insert("taken", None).await.expect_err("same handle");
    let subject = insert("other", Some("idp|1"))
        .await
        .expect_err("same subject");
    let postgres = db.get_database_backend() == sea_orm::DbBackend::Postgres;
    let (handle, subject) = (
        tally::db::unique_violation(&handle),
        tally::db::unique_violation(&subject),
    );
    if postgres {
        assert_eq!(handle, Some(Some("users_handle_key")));
        assert_eq!(subject, Some(Some(migration::EXTERNAL_SUBJECT_INDEX)));
    } else {
        // SQLite names no constraint; the domain asks the rows instead (next test).
        assert_eq!((handle, subject), (Some(None), Some(None)));
    }
}

#[tokio::test]
async fn racing_sign_ups_and_provisions_conflict_on_what_they_share() {
    use tally::domain::accounts::{provision_account, sign_up, Provision, SignUp};
    let db = crate::helpers::fresh_db_with_pool(8).await;
    let provision = |handle: String| Provision {
        handle,
        display_name: None,
        account_type: entity::AccountType::Personal,
        visibility: Visibility::Public,
        likes_visibility: LikesVisibility::Everyone,
        birth_year: None,
        region: None,
        language: None,
        avatar_url: None,
    };
    // One subject, eight handles: one account, seven "already linked".
    let provisions = (0..8).map(|i| {
        let db = db.clone();
        let input = provision(format!("linked{i}"));
        tokio::spawn(async move {
            provision_account(&db, "idp|race".into(), input, Clock::System).await
        })
    });
    let mut created = 0;
    for joined in futures_util::future::join_all(provisions).await {
        match joined.expect("task") {
            Ok(_) => created += 1,
            Err(e) => {
                assert_eq!(e.code(), "CONFLICT", "{}", e.message());
                assert_eq!(e.message(), "an account is already linked to this identity");
            }
        }
    }
    assert_eq!(created, 1);
    // One handle, eight sign-ups: one account, seven "handle is taken".
    let sign_ups = (0..8).map(|_| {
        let db = db.clone();
        tokio::spawn(async move {
            sign_up(
                &db,
                SignUp {
                    handle: "samehandle".into(),
                    password: "password123".into(),
                    display_name: None,
                    account_type: entity::AccountType::Personal,
                    visibility: Visibility::Public,
                    likes_visibility: LikesVisibility::Everyone,
                    birth_year: None,
                    region: None,
                    language: None,
                    avatar_url: None,
                },
                Clock::System,
            )
            .await
        })
    });
    let mut created = 0;
    for joined in futures_util::future::join_all(sign_ups).await {
        match joined.expect("task") {
            Ok(_) => created += 1,
            Err(e) => assert_eq!(
                (e.code(), e.message()),
                ("CONFLICT", "handle is taken".to_owned())
            ),
        }
    }
    assert_eq!(created, 1);
}
