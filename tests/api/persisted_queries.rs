//! Automatic persisted queries over HTTP, as Apollo's clients send them: a miss, the
//! registration, hits by POST and GET, a hash that is not the query's, the limits on a
//! stored document, a persisted mutation never run by GET, and the store turned off.
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::TestApp;

const QUERY: &str = "query Who($h: String!) { user(handle: $h) { handle displayName } }";

fn hash(query: &str) -> String {
    hex::encode(Sha256::digest(query.as_bytes()))
}

fn persisted(sha: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": sha } })
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error: {body}"))
}

/// `GET /graphql` with these parameters (JSON ones encoded), as `application/json`.
async fn get(app: &TestApp, params: &[(&str, String)], token: Option<&str>) -> (u16, Value) {
    let mut req = app
        .http
        .get(format!("{}/graphql", app.base))
        .query(params)
        .header("Accept", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON"))
}

#[tokio::test]
async fn a_persisted_query_misses_then_registers_then_hits_by_post_and_get() {
    let app = TestApp::spawn().await;
    app.sign_up("ana", "").await;
    let sha = hash(QUERY);
    let vars = json!({ "h": "ana" });
    let only_hash = json!({ "extensions": persisted(&sha), "variables": vars });
    let (_, body) = app.post(None, only_hash.clone()).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
    assert_eq!(
        body["errors"][0]["message"], "PersistedQueryNotFound",
        "{body}"
    );
    assert!(body.get("data").is_none(), "nothing ran: {body}");
    // Registered: the query and its hash, answered at once.
    let (status, body) = app
        .post(
            None,
            json!({ "query": QUERY, "extensions": persisted(&sha), "variables": vars }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let expected = json!({ "user": { "handle": "ana", "displayName": "ana" } });
    assert_eq!(body["data"], expected, "{body}");
    // The hash alone now runs it, with any variables.
    let (status, body) = app.post(None, only_hash).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], expected, "{body}");
    let (_, body) = app
        .post(
            None,
            json!({ "extensions": persisted(&sha.to_uppercase()), "variables": { "h": "nobody" } }),
        )
        .await;
    assert_eq!(body["data"], json!({ "user": null }), "{body}");
    // And over GET, as a CDN would cache it.
    let (status, body) = get(
        &app,
        &[
            ("extensions", persisted(&sha).to_string()),
            ("variables", vars.to_string()),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], expected, "{body}");
    // An unknown hash over GET misses too.
    let (_, body) = get(
        &app,
        &[(
            "extensions",
            persisted(&hash("{ viewer { id } }")).to_string(),
        )],
        None,
    )
    .await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
}

#[tokio::test]
async fn a_hash_that_is_not_the_querys_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let other = hash("{ viewer { id } }");
    let (_, body) = app
        .post(
            None,
            json!({ "query": QUERY, "extensions": persisted(&other), "variables": { "h": "x" } }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "extensions.persistedQuery.sha256Hash",
        "{body}"
    );
    assert!(body.get("data").is_none(), "{body}");
    for sha in [other, hash(QUERY)] {
        let (_, body) = app
            .post(None, json!({ "extensions": persisted(&sha) }))
            .await;
        assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
    }
    // A malformed extension: coded too.
    for ext in [
        json!({ "persistedQuery": { "version": 2, "sha256Hash": hash(QUERY) } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
        json!({ "persistedQuery": "yes" }),
    ] {
        let (_, body) = app.post(None, json!({ "extensions": ext })).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{ext}: {body}");
    }
}

#[tokio::test]
async fn the_limits_apply_to_a_persisted_document() {
    let app = TestApp::spawn_with(|s| s.limits.max_aliases = 2).await;
    let wide = "{ a: viewer { id } b: viewer { id } c: viewer { id } }";
    let sha = hash(wide);
    let (_, body) = app
        .post(
            None,
            json!({ "query": wide, "extensions": persisted(&sha) }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("alias"),
        "{body}"
    );
    // Refused, it was not stored: the hash alone still misses.
    let (_, body) = app
        .post(None, json!({ "extensions": persisted(&sha) }))
        .await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
}

#[tokio::test]
async fn a_persisted_mutation_is_never_run_by_get() {
    let app = TestApp::spawn().await;
    let (_, token) = app.sign_up("ana", "").await;
    let mutation = "mutation { updateAccount(input: {displayName: \"Changed\"}) { displayName } }";
    let sha = hash(mutation);
    let (_, body) = app
        .post(
            Some(&format!("Bearer {token}")),
            json!({ "query": mutation, "extensions": persisted(&sha) }),
        )
        .await;
    assert_eq!(
        body["data"]["updateAccount"]["displayName"], "Changed",
        "{body}"
    );
    app.gql(
        Some(&token),
        "mutation { updateAccount(input: {displayName: \"Ana\"}) { id } }",
        json!({}),
    )
    .await;
    let (status, body) = get(
        &app,
        &[("extensions", persisted(&sha).to_string())],
        Some(&token),
    )
    .await;
    assert_eq!(status, 405, "{body}");
    let (_, body) = app
        .gql(Some(&token), "{ viewer { displayName } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["viewer"]["displayName"], "Ana",
        "unchanged: {body}"
    );
}

#[tokio::test]
async fn with_persisted_queries_off_a_hash_alone_is_not_supported() {
    let app = TestApp::spawn_with(|s| s.limits.persisted_queries = 0).await;
    let (_, body) = app
        .post(None, json!({ "extensions": persisted(&hash(QUERY)) }))
        .await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_SUPPORTED", "{body}");
    // The query itself still runs.
    let (status, body) = app
        .post(None, json!({ "query": QUERY, "extensions": persisted(&hash(QUERY)), "variables": { "h": "x" } }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({ "user": null }), "{body}");
}
