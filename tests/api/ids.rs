//! IDs and cursors over HTTP: opaque to every viewer, anonymous included. A user ID does
//! not give away when the account was made, and the cursors of `followRequests` and
//! `blockedUsers` do not give away when a request or a block happened, nor their order.
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use entity::{user, LikesVisibility, Visibility};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{insert_account, uid, TestApp};

/// The bytes behind a base64url ID or cursor.
fn bytes_of(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text)
        .unwrap_or_else(|e| panic!("{text} is not base64url: {e}"))
}

/// Whether any 6 bytes of `bytes`, read as a big-endian millisecond count (a UUIDv7's
/// timestamp), or any 8, read as big-endian microseconds (a stored time), fall within a day
/// of now: an encoding that carries the time shows it at some offset.
fn carries_a_recent_time(bytes: &[u8]) -> bool {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let day_ms = 86_400_000;
    let recent_ms = |ms: i64| (now_ms - day_ms..=now_ms + day_ms).contains(&ms);
    let ms = bytes.windows(6).any(|w| {
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(w);
        recent_ms(i64::from_be_bytes(b))
    });
    let us = bytes.windows(8).any(|w| {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        recent_ms(i64::from_be_bytes(b) / 1000)
    });
    ms || us
}

/// Whether `items` are in ascending or descending order.
fn ordered(items: &[Vec<u8>]) -> bool {
    items.windows(2).all(|w| w[0] < w[1]) || items.windows(2).all(|w| w[0] > w[1])
}

async fn ok(app: &TestApp, token: Option<&str>, query: &str, vars: Value) -> Value {
    let (status, body) = app.gql(token, query, vars).await;
    assert_eq!(status, 200, "{query}: {body}");
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body["data"].clone()
}

/// `n` public accounts made one after another, with their tokens.
async fn accounts(app: &TestApp, prefix: &str, n: usize) -> Vec<(Uuid, String)> {
    let mut out = Vec::new();
    for i in 0..n {
        let handle = format!("{prefix}{i}");
        let id = insert_account(
            &app.db,
            &handle,
            Visibility::Public,
            LikesVisibility::Everyone,
        )
        .await;
        out.push((id, crate::helpers::token_for(&app.db, id).await));
    }
    out
}

#[tokio::test]
async fn a_user_id_does_not_tell_when_the_account_was_made() {
    let app = TestApp::spawn().await;
    let signed_up = ok(
        &app,
        None,
        "mutation { signUp(input: {handle: \"shy\", password: \"password123\", visibility: PRIVATE}) { user { id } } }",
        json!({}),
    )
    .await;
    let id = signed_up["signUp"]["user"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let row = user::Entity::find()
        .filter(user::Column::Handle.eq("shy"))
        .one(&app.db)
        .await
        .expect("query")
        .expect("the account");
    assert_eq!(row.id.get_version_num(), 7, "rows are keyed by UUIDv7");

    // Anyone may read the ID of a private account: it must hold nothing of the UUIDv7.
    let anonymous = ok(&app, None, "{ user(handle: \"shy\") { id } }", json!({})).await;
    assert_eq!(anonymous["user"]["id"], id.as_str());
    let bytes = bytes_of(&id);
    let uuid = row.id.as_bytes();
    assert!(
        !bytes.windows(16).any(|w| w == uuid),
        "{id} contains the UUID {}",
        row.id
    );
    assert!(
        !bytes.windows(6).any(|w| w == &uuid[..6]),
        "{id} contains the creation time of the UUID {}",
        row.id
    );
    assert!(!carries_a_recent_time(&bytes), "{id} carries a recent time");

    // IDs of accounts made one after another are in no order.
    let later = accounts(&app, "later", 8).await;
    let mut ids = Vec::new();
    for (n, _) in later.iter().enumerate() {
        let d = ok(
            &app,
            None,
            "query($h: String!) { user(handle: $h) { id } }",
            json!({ "h": format!("later{n}") }),
        )
        .await;
        ids.push(bytes_of(d["user"]["id"].as_str().expect("id")));
    }
    assert!(!ordered(&ids), "IDs follow the accounts' creation order");

    // The old encoding of the same account (kind byte ‖ UUID in clear) is not an ID.
    let old = URL_SAFE_NO_PAD.encode([&[b'U'][..], uuid].concat());
    let (status, body) = app
        .gql(
            None,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": old }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    let d = ok(
        &app,
        None,
        "query($id: ID!) { node(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(d["node"]["id"], id.as_str(), "the real ID still resolves");
}

#[tokio::test]
async fn follow_request_and_block_cursors_carry_no_time_and_no_order() {
    let app = TestApp::spawn().await;
    let owner = insert_account(
        &app.db,
        "owner",
        Visibility::Private,
        LikesVisibility::Everyone,
    )
    .await;
    let owner_token = crate::helpers::token_for(&app.db, owner).await;
    let others = accounts(&app, "fan", 8).await;
    // One request and one block after another, each at its own microsecond.
    for (_, token) in &others {
        let d = ok(
            &app,
            Some(token),
            "mutation($u: ID!) { followUser(userId: $u) { state } }",
            json!({ "u": uid(owner) }),
        )
        .await;
        assert_eq!(d["followUser"]["state"], "PENDING");
    }
    for (id, _) in &others {
        ok(
            &app,
            Some(&owner_token),
            "mutation($u: ID!) { blockUser(userId: $u) }",
            json!({ "u": uid(*id) }),
        )
        .await;
    }
    // Blocking removed the requests: make new ones by accounts that stay unblocked.
    let requesters = accounts(&app, "asker", 8).await;
    for (_, token) in &requesters {
        ok(
            &app,
            Some(token),
            "mutation($u: ID!) { followUser(userId: $u) { state } }",
            json!({ "u": uid(owner) }),
        )
        .await;
    }
    for (list, expected) in [("followRequests", &requesters), ("blockedUsers", &others)] {
        let q = format!(
            "query($after: String) {{ viewer {{ {list}(first: 4, after: $after) {{ edges {{ cursor node {{ id }} }} pageInfo {{ hasNextPage endCursor }} }} }} }}"
        );
        let mut cursors = Vec::new();
        let mut nodes = Vec::new();
        let mut after = Value::Null;
        loop {
            let d = ok(&app, Some(&owner_token), &q, json!({ "after": after })).await;
            let conn = &d["viewer"][list];
            for edge in conn["edges"].as_array().expect("edges") {
                cursors.push(edge["cursor"].as_str().expect("cursor").to_owned());
                nodes.push(edge["node"]["id"].as_str().expect("id").to_owned());
            }
            if conn["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = conn["pageInfo"]["endCursor"].clone();
        }
        // The cursors page through the whole list, newest first…
        let newest_first: Vec<String> = expected.iter().rev().map(|(id, _)| uid(*id)).collect();
        assert_eq!(nodes, newest_first, "{list}");
        // …but none holds a time, and their bytes do not follow the list's (time) order.
        for c in &cursors {
            assert!(
                !carries_a_recent_time(&bytes_of(c)),
                "{list}: {c} carries a time"
            );
        }
        let bytes: Vec<Vec<u8>> = cursors.iter().map(|c| bytes_of(c)).collect();
        assert!(
            !ordered(&bytes),
            "{list}: cursors follow the order of the times"
        );
    }
}
