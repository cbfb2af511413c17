//! Errors and `null` over HTTP: own-only lists answer `null` to others without an error,
//! and a failed field follows the specification's null propagation — a non-null one nulls
//! its parent, up to the nearest nullable field (or `data`), with the error's full path.
use entity::{block, LikesVisibility, Visibility};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{insert_account, uid, TestApp};

struct World {
    app: TestApp,
    owner: Uuid,
    owner_token: String,
    other: Uuid,
    other_token: String,
}

/// `owner` (private) with a video and a pending request from `other` (public), who blocked
/// `pest`.
async fn world() -> World {
    let app = TestApp::spawn().await;
    let owner = insert_account(
        &app.db,
        "owner",
        Visibility::Public,
        LikesVisibility::Everyone,
    )
    .await;
    let other = insert_account(
        &app.db,
        "other",
        Visibility::Public,
        LikesVisibility::Everyone,
    )
    .await;
    let pest = insert_account(
        &app.db,
        "pest",
        Visibility::Public,
        LikesVisibility::Everyone,
    )
    .await;
    let owner_token = crate::helpers::token_for(&app.db, owner).await;
    let other_token = crate::helpers::token_for(&app.db, other).await;
    let w = World {
        app,
        owner,
        owner_token,
        other,
        other_token,
    };
    w.ok(
        &w.owner_token,
        "mutation { createVideo(input: {mediaUrl: \"https://media.example.com/v.mp4\", caption: \"one\"}) { id } }",
        json!({}),
    )
    .await;
    w.ok(
        &w.owner_token,
        "mutation { updateAccount(input: {visibility: PRIVATE}) { id } }",
        json!({}),
    )
    .await;
    w.ok(
        &w.other_token,
        "mutation($u: ID!) { followUser(userId: $u) { state } }",
        json!({ "u": uid(owner) }),
    )
    .await;
    w.ok(
        &w.owner_token,
        "mutation($u: ID!) { blockUser(userId: $u) }",
        json!({ "u": uid(pest) }),
    )
    .await;
    w
}

impl World {
    async fn post(&self, token: Option<&str>, query: &str, vars: Value) -> Value {
        let (status, body) = self.app.gql(token, query, vars).await;
        assert_eq!(status, 200, "{query}: {body}");
        body
    }

    async fn ok(&self, token: &str, query: &str, vars: Value) -> Value {
        let body = self.post(Some(token), query, vars).await;
        assert!(body.get("errors").is_none(), "{query}: {body}");
        body["data"].clone()
    }
}

/// The one error of `body`: its code and its path.
fn only_error(body: &Value) -> (String, Value) {
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "exactly one error: {body}");
    let code = errors[0]["extensions"]["code"].as_str().expect("code");
    (code.to_owned(), errors[0]["path"].clone())
}

#[tokio::test]
async fn follow_requests_and_blocked_users_are_null_for_anyone_but_the_account() {
    let w = world().await;
    let q = "{ user(handle: \"owner\") { id followRequests { edges { node { id } } } blockedUsers { edges { node { id } } } } }";
    for token in [None, Some(w.other_token.as_str())] {
        let body = w.post(token, q, json!({})).await;
        assert!(
            body.get("errors").is_none(),
            "no error, nothing to tell: {body}"
        );
        assert_eq!(
            body["data"]["user"],
            json!({ "id": uid(w.owner), "followRequests": null, "blockedUsers": null }),
            "{body}"
        );
    }
    let d = w.ok(&w.owner_token, q, json!({})).await;
    assert_eq!(
        d["user"]["followRequests"]["edges"],
        json!([{ "node": { "id": uid(w.other) } }])
    );
    assert_eq!(
        d["user"]["blockedUsers"]["edges"].as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn an_error_deep_in_non_null_fields_nulls_up_to_the_nearest_nullable_one() {
    let w = world().await;
    // user (nullable) › videos! › edges! › [0]! › node! › visibleLikers! fails: `user` is
    // null, its sibling `viewer` is untouched, the error names the whole path.
    let body = w
        .post(
            Some(&w.owner_token),
            "{ viewer { handle } user(handle: \"owner\") { handle videos(first: 1) { edges { node { caption visibleLikers(first: -1) { totalCount } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"],
        json!({ "viewer": { "handle": "owner" }, "user": null }),
        "{body}"
    );
    let (code, path) = only_error(&body);
    assert_eq!(code, "BAD_USER_INPUT", "{body}");
    assert_eq!(
        path,
        json!(["user", "videos", "edges", 0, "node", "visibleLikers"]),
        "{body}"
    );

    // With no nullable field on the way (feed! › edges! › [0]! › node! › visibleLikers!),
    // `data` itself is null.
    let body = w
        .post(
            Some(&w.owner_token),
            "{ viewer { handle } feed { edges { node { visibleLikers(first: -1) { totalCount } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    let (code, path) = only_error(&body);
    assert_eq!(code, "BAD_USER_INPUT", "{body}");
    assert_eq!(
        path,
        json!(["feed", "edges", 0, "node", "visibleLikers"]),
        "{body}"
    );

    // An error in a nullable field nulls that field alone, its key present.
    let body = w
        .post(
            None,
            "{ video(id: \"not-an-id\") { id } user(handle: \"other\") { handle } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"],
        json!({ "video": null, "user": { "handle": "other" } }),
        "{body}"
    );
    assert_eq!(
        only_error(&body),
        ("BAD_USER_INPUT".into(), json!(["video"]))
    );
}

#[tokio::test]
async fn a_failed_non_null_mutation_nulls_data_and_stops_the_ones_after_it() {
    let w = world().await;
    let blocks_before = block::Entity::find().count(&w.app.db).await.expect("count");
    let body = w
        .post(
            Some(&w.other_token),
            "mutation($u: ID!) { a: followUser(userId: \"not-an-id\") { state } b: blockUser(userId: $u) }",
            json!({ "u": uid(w.owner) }),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(only_error(&body), ("BAD_USER_INPUT".into(), json!(["a"])));
    let blocks_after = block::Entity::find().count(&w.app.db).await.expect("count");
    assert_eq!(blocks_after, blocks_before, "`b` ran after `a` failed");
}
