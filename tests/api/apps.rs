//! Third-party analytics apps: clients, `POST /oauth/token` (RFC 6749 §4.4), the app
//! principal (which may call `appAnalytics` only: an introspection walk proves it), the
//! differentially private noise, stable answers and the daily budgets.
use std::sync::Arc;

use async_graphql::{Request, Variables};
use chrono::{DateTime, Duration, Utc};
use entity::{FollowState, LikesVisibility, Visibility};
use migration::MigratorTrait;
use sea_orm::DatabaseConnection;
use serde_json::{json, Value};
use tally::{
    auth::{
        app_token::{AppGrant, AppTokens},
        Viewer,
    },
    clock::Clock,
    config::{AppSettings, Rate, RateLimits, Thresholds},
    db::Sql,
    domain::{
        app_analytics::{self, Asker, Figure},
        apps,
        creator_analytics::{self as ca, Window},
        dp,
        privacy_budget::{self, Budget},
    },
    graphql::request_data,
    ids::Kind,
};
use uuid::Uuid;

use crate::helpers::{ids, insert_account, insert_follow, uid, Harness, TestApp, SECRET};

/// Saturday 2026-06-20 13:30 UTC: the last complete day is Friday the 19th.
const NOW: &str = "2026-06-20T13:30:00Z";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("instant")
        .with_timezone(&Utc)
}

async fn make_creator(db: &DatabaseConnection, handle: &str) -> Uuid {
    let id = insert_account(db, handle, Visibility::Public, LikesVisibility::Everyone).await;
    let mut q = Sql::default();
    let c = q.bind(id);
    q.push_unchecked(&format!(
        "UPDATE users SET account_type = 'CREATOR' WHERE id = {c}"
    ));
    q.execute(db).await.expect("creator");
    id
}

/// A client of `creator`, made through the use case: (client, secret).
async fn client_of(db: &DatabaseConnection, creator: Uuid) -> (Uuid, String) {
    let made = apps::create_client(db, Some(creator), "dashboard", 0)
        .await
        .map_err(|e| e.message())
        .expect("client");
    (made.client.id, made.secret)
}

/// Runs `query` as the app `grant` at `clock` with `settings` and `th`.
async fn as_app(
    h: &Harness,
    grant: AppGrant,
    clock: Clock,
    settings: AppSettings,
    th: Thresholds,
    query: &str,
) -> Value {
    let req = Request::new(query).variables(Variables::from_json(json!({})));
    let req = request_data(req, &h.db, Viewer::ANONYMOUS)
        .data(grant)
        .data(clock)
        .data(settings)
        .data(th);
    serde_json::to_value(h.schema.execute(req).await).expect("response")
}

fn first_code(v: &Value) -> String {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {v}"))
        .to_owned()
}

#[tokio::test]
async fn creators_make_list_and_revoke_their_clients_and_nobody_else_sees_them() {
    let h = Harness::new().await;
    let (maya, _) = h
        .sign_up("maya", ", accountType: CREATOR, visibility: PUBLIC")
        .await;
    let (ana, _) = h.sign_up("ana", "").await;
    let make = r#"mutation { createApiClient(name: " Dashboards Inc ") {
        clientId clientSecret client { id name createdAt revokedAt } } }"#;
    let made = h.ok(Some(maya), make, json!({})).await["createApiClient"].clone();
    let (client_id, secret) = (
        made["clientId"].as_str().expect("id").to_owned(),
        made["clientSecret"].as_str().expect("secret").to_owned(),
    );
    assert_eq!(made["client"]["id"], json!(client_id));
    assert_eq!(made["client"]["name"], json!("Dashboards Inc"));
    assert_eq!(made["client"]["revokedAt"], Value::Null);
    assert!(secret.len() >= 43, "a 256-bit secret: {secret}");
    // Stored only as an Argon2id hash.
    let client = ids()
        .decode_id("id", Kind::ApiClient, &client_id)
        .expect("client id");
    let mut q = Sql::default();
    let c = q.bind(client);
    q.push_unchecked(&format!(
        "SELECT secret_hash FROM api_clients WHERE id = {c}"
    ));
    let row = q.one(&h.db).await.expect("read").expect("row");
    let stored: String = row.try_get("", "secret_hash").expect("hash");
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains(&secret));

    // Personal accounts and anonymous callers make none.
    assert_eq!(h.err(Some(ana), make, json!({})).await["code"], "FORBIDDEN");
    assert_eq!(
        h.err(None, make, json!({})).await["code"],
        "UNAUTHENTICATED"
    );
    let blank = r#"mutation { createApiClient(name: "  ") { clientId } }"#;
    let e = h.err(Some(maya), blank, json!({})).await;
    assert_eq!(
        (e["code"].clone(), e["field"].clone()),
        (json!("BAD_USER_INPUT"), json!("name"))
    );

    // `apiClients` is the account's own; `node` finds a client for its creator only.
    let list = "query($h: String!) { user(handle: $h) { apiClients { id name revokedAt } } }";
    let mine = h.ok(Some(maya), list, json!({"h": "maya"})).await;
    assert_eq!(mine["user"]["apiClients"][0]["id"], json!(client_id));
    let theirs = h.ok(Some(ana), list, json!({"h": "maya"})).await;
    assert_eq!(theirs["user"]["apiClients"], Value::Null);
    let node = "query($id: ID!) { node(id: $id) { id ... on ApiClient { name } } }";
    let found = h.ok(Some(maya), node, json!({"id": client_id})).await;
    assert_eq!(found["node"]["name"], json!("Dashboards Inc"));
    for other in [Some(ana), None] {
        let found = h.ok(other, node, json!({"id": client_id})).await;
        assert_eq!(found["node"], Value::Null);
    }

    // Only the creator revokes it; revoking twice keeps the first time.
    let revoke = "mutation($id: ID!) { revokeApiClient(id: $id) }";
    let e = h.err(Some(ana), revoke, json!({"id": client_id})).await;
    assert_eq!(e["code"], "NOT_FOUND");
    let e = h.err(Some(maya), revoke, json!({"id": uid(maya)})).await;
    assert_eq!(e["code"], "BAD_USER_INPUT");
    h.ok(Some(maya), revoke, json!({"id": client_id})).await;
    let first = h.ok(Some(maya), list, json!({"h": "maya"})).await["user"]["apiClients"][0]
        ["revokedAt"]
        .clone();
    assert!(first.is_string(), "{first}");
    h.ok(Some(maya), revoke, json!({"id": client_id})).await;
    let again = h.ok(Some(maya), list, json!({"h": "maya"})).await["user"]["apiClients"][0]
        ["revokedAt"]
        .clone();
    assert_eq!(first, again);
}

/// The token endpoint's answer: status, headers, JSON body.
struct TokenAnswer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn token_request(
    app: &TestApp,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> TokenAnswer {
    let mut req = app
        .http
        .post(format!("{}/oauth/token", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).expect("form"));
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(Value::Null);
    TokenAnswer {
        status,
        headers,
        body,
    }
}

/// A creator signed up over HTTP with one client: (creator token, client ID, secret).
async fn creator_with_client(app: &TestApp, handle: &str) -> (String, String, String) {
    let (_, token) = app.sign_up(handle, ", accountType: CREATOR").await;
    let (status, body) = app
        .gql(
            Some(&token),
            r#"mutation { createApiClient(name: "tool") { clientId clientSecret } }"#,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let c = &body["data"]["createApiClient"];
    (
        token,
        c["clientId"].as_str().expect("id").to_owned(),
        c["clientSecret"].as_str().expect("secret").to_owned(),
    )
}

const GRANT: (&str, &str) = ("grant_type", "client_credentials");

fn assert_error(a: &TokenAnswer, status: u16, error: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.body["error"], json!(error), "{}", a.body);
    assert!(a.body["error_description"].is_string(), "{}", a.body);
    assert_eq!(a.headers["cache-control"], "no-store");
    if status == 401 {
        let challenge = a.headers["www-authenticate"].to_str().expect("header");
        assert!(challenge.starts_with("Basic realm="), "{challenge}");
    }
}

const APP_QUERY: &str = "{ appAnalytics(window: LAST_7_DAYS) { from to views { value stdDev } } }";

#[tokio::test]
async fn the_token_endpoint_follows_rfc_6749_client_credentials() {
    let app = TestApp::spawn().await;
    let (_, id, secret) = creator_with_client(&app, "maya").await;

    // Good credentials, both ways; the scope may be given or not.
    for (basic, form) in [
        (Some((id.as_str(), secret.as_str())), vec![GRANT]),
        (
            None,
            vec![
                GRANT,
                ("client_id", id.as_str()),
                ("client_secret", secret.as_str()),
            ],
        ),
        (
            Some((id.as_str(), secret.as_str())),
            vec![GRANT, ("scope", "analytics:read")],
        ),
    ] {
        let a = token_request(&app, basic, &form).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.headers["cache-control"], "no-store");
        assert_eq!(a.headers["pragma"], "no-cache");
        assert_eq!(a.body["token_type"], "Bearer");
        assert_eq!(a.body["expires_in"], 900);
        assert_eq!(a.body["scope"], "analytics:read");
        let token = a.body["access_token"].as_str().expect("token");
        let (status, body) = app.gql(Some(token), APP_QUERY, json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        assert!(body["data"]["appAnalytics"]["views"]["stdDev"].as_f64() > Some(0.0));
    }

    // Bad credentials, both ways: 401 invalid_client with a Basic challenge.
    let forged = uid(Uuid::now_v7());
    for (basic, form) in [
        (Some((id.as_str(), "wrong")), vec![GRANT]),
        (
            None,
            vec![
                GRANT,
                ("client_id", id.as_str()),
                ("client_secret", "wrong"),
            ],
        ),
        (Some((forged.as_str(), secret.as_str())), vec![GRANT]),
        (Some(("not-an-id", secret.as_str())), vec![GRANT]),
        (None, vec![GRANT]),
    ] {
        assert_error(
            &token_request(&app, basic, &form).await,
            401,
            "invalid_client",
        );
    }
    // Both ways at once, a half pair, no grant type, a repeated parameter.
    let both = vec![
        GRANT,
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let a = token_request(&app, Some((&id, &secret)), &both).await;
    assert_error(&a, 400, "invalid_request");
    let half = vec![GRANT, ("client_id", id.as_str())];
    assert_error(
        &token_request(&app, None, &half).await,
        400,
        "invalid_request",
    );
    let a = token_request(&app, Some((&id, &secret)), &[]).await;
    assert_error(&a, 400, "invalid_request");
    let twice = vec![GRANT, GRANT];
    let a = token_request(&app, Some((&id, &secret)), &twice).await;
    assert_error(&a, 400, "invalid_request");
    // Another grant type, another scope.
    for grant in ["password", "authorization_code", "client_credential"] {
        let a = token_request(&app, Some((&id, &secret)), &[("grant_type", grant)]).await;
        assert_error(&a, 400, "unsupported_grant_type");
    }
    for scope in ["analytics:write", "openid", "analytics:read profile"] {
        let a = token_request(&app, Some((&id, &secret)), &[GRANT, ("scope", scope)]).await;
        assert_error(&a, 400, "invalid_scope");
    }
    // Not a form.
    let resp = app
        .http
        .post(format!("{}/oauth/token", app.base))
        .basic_auth(&id, Some(&secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn a_revoked_client_gets_no_token_and_its_tokens_stop_at_once() {
    let app = TestApp::spawn().await;
    let (creator, id, secret) = creator_with_client(&app, "maya").await;
    let a = token_request(&app, Some((&id, &secret)), &[GRANT]).await;
    let token = a.body["access_token"].as_str().expect("token").to_owned();
    let (status, _) = app.gql(Some(&token), APP_QUERY, json!({})).await;
    assert_eq!(status, 200);
    let (status, body) = app
        .gql(
            Some(&creator),
            "mutation($id: ID!) { revokeApiClient(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        (status, body["data"]["revokeApiClient"].clone()),
        (200, json!(true))
    );
    // The very next request with the token is refused, long before it expires.
    let (status, body) = app.gql(Some(&token), APP_QUERY, json!({})).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert_error(
        &token_request(&app, Some((&id, &secret)), &[GRANT]).await,
        401,
        "invalid_client",
    );
}

#[tokio::test]
async fn expired_and_foreign_app_tokens_are_refused_and_kinds_never_mix() {
    let app = TestApp::spawn().await;
    let (creator_token, id, _) = creator_with_client(&app, "maya").await;
    let client = ids().decode_id("id", Kind::ApiClient, &id).expect("client");
    let creator = {
        let (_, body) = app
            .gql(Some(&creator_token), "{ viewer { id } }", json!({}))
            .await;
        crate::helpers::user_uuid(body["data"]["viewer"]["id"].as_str().expect("id"))
    };
    let grant = AppGrant { client, creator };
    let tokens = AppTokens::new(SECRET, Duration::minutes(15), ids()).expect("tokens");
    // Issued 16 minutes ago: expired a minute ago, past the 30 s leeway.
    let expired = tokens
        .issue(grant, Utc::now() - Duration::minutes(16))
        .expect("issue");
    let fresh = tokens.issue(grant, Utc::now()).expect("issue");
    let (status, body) = app.gql(Some(&expired), APP_QUERY, json!({})).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errors"][0]["message"], "token expired");
    let (status, _) = app.gql(Some(&fresh), APP_QUERY, json!({})).await;
    assert_eq!(status, 200);
    // Another secret, or a grant naming another creator than the client's.
    let other = AppTokens::new(
        b"some-other-secret-some-other-secret!!",
        Duration::minutes(15),
        ids(),
    )
    .expect("tokens");
    let foreign = other.issue(grant, Utc::now()).expect("issue");
    let stranger = tokens
        .issue(
            AppGrant {
                client,
                creator: Uuid::now_v7(),
            },
            Utc::now(),
        )
        .expect("issue");
    for bad in [foreign, stranger] {
        let (status, _) = app.gql(Some(&bad), APP_QUERY, json!({})).await;
        assert_eq!(status, 401);
    }
    // A user's token is no app token: `appAnalytics` is FORBIDDEN to it, UNAUTHENTICATED
    // without a token.
    let (status, body) = app.gql(Some(&creator_token), APP_QUERY, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(first_code(&body), "FORBIDDEN");
    assert_eq!(body["data"], Value::Null);
    let (_, body) = app.gql(None, APP_QUERY, json!({})).await;
    assert_eq!(first_code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn token_requests_are_rate_limited_per_client() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits = RateLimits {
            rate_oauth: Rate::per(1, std::time::Duration::from_secs(3600)),
            rate_oauth_burst: 2,
            ..RateLimits::off()
        }
    })
    .await;
    let (_, id, secret) = creator_with_client(&app, "maya").await;
    let (_, other, other_secret) = creator_with_client(&app, "lena").await;
    for _ in 0..2 {
        let a = token_request(&app, Some((&id, "wrong")), &[GRANT]).await;
        assert_eq!(a.status, 401);
    }
    let a = token_request(&app, Some((&id, &secret)), &[GRANT]).await;
    assert_error(&a, 429, "temporarily_unavailable");
    let wait: u64 = a.headers["retry-after"]
        .to_str()
        .expect("header")
        .parse()
        .expect("seconds");
    assert!((3500..=3600).contains(&wait), "{wait}");
    // Another client has a bucket of its own.
    let a = token_request(&app, Some((&other, &other_secret)), &[GRANT]).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

/// A type reference of the introspection answer, as text (`[ID!]!`) and its named type.
fn named(t: &Value) -> (String, String) {
    match t["kind"].as_str() {
        Some("NON_NULL") => {
            let (name, inner) = named(&t["ofType"]);
            (name, format!("{inner}!"))
        }
        Some("LIST") => {
            let (name, inner) = named(&t["ofType"]);
            (name, format!("[{inner}]"))
        }
        _ => {
            let name = t["name"].as_str().expect("named type").to_owned();
            (name.clone(), name)
        }
    }
}

/// A literal of type `t` built from the introspected `types`: every required input field
/// filled, a list of one, the first value of an enum, a well-formed ID.
fn literal(t: &Value, types: &[Value]) -> String {
    match t["kind"].as_str() {
        Some("NON_NULL") => literal(&t["ofType"], types),
        Some("LIST") => format!("[{}]", literal(&t["ofType"], types)),
        _ => {
            let name = t["name"].as_str().expect("name");
            let ty = types
                .iter()
                .find(|x| x["name"] == json!(name))
                .expect("type");
            match ty["kind"].as_str() {
                Some("ENUM") => ty["enumValues"][0]["name"]
                    .as_str()
                    .expect("value")
                    .to_owned(),
                Some("INPUT_OBJECT") => {
                    let fields: Vec<String> = ty["inputFields"]
                        .as_array()
                        .expect("fields")
                        .iter()
                        .map(|f| {
                            format!(
                                "{}: {}",
                                f["name"].as_str().expect("name"),
                                literal(&f["type"], types)
                            )
                        })
                        .collect();
                    format!("{{{}}}", fields.join(", "))
                }
                _ => match name {
                    "ID" => json!(uid(Uuid::now_v7())).to_string(),
                    "Int" => "1".to_owned(),
                    "Float" => "1.5".to_owned(),
                    "Boolean" => "true".to_owned(),
                    "Date" => "\"2026-01-01\"".to_owned(),
                    "DateTime" => "\"2026-01-01T00:00:00Z\"".to_owned(),
                    _ => "\"tally\"".to_owned(),
                },
            }
        }
    }
}

const TYPE_REF: &str =
    "kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

#[tokio::test]
async fn an_app_token_calls_app_analytics_and_every_other_root_field_is_forbidden() {
    let app = TestApp::spawn().await;
    let (_, id, secret) = creator_with_client(&app, "maya").await;
    let a = token_request(&app, Some((&id, &secret)), &[GRANT]).await;
    let token = a.body["access_token"].as_str().expect("token").to_owned();

    let introspection = format!(
        "{{ __schema {{ queryType {{ name }} mutationType {{ name }} \
         types {{ name kind enumValues {{ name }} inputFields {{ name type {{ {TYPE_REF} }} }} \
         fields {{ name args {{ name type {{ {TYPE_REF} }} }} type {{ {TYPE_REF} }} }} }} }} }}"
    );
    let (status, schema) = app.gql(None, &introspection, json!({})).await;
    assert_eq!(status, 200, "{schema}");
    assert!(schema.get("errors").is_none(), "{schema}");
    let types: Vec<Value> = schema["data"]["__schema"]["types"]
        .as_array()
        .expect("types")
        .clone();
    let mut called = 0;
    for (operation, root) in [("query", "Query"), ("mutation", "Mutation")] {
        let ty = types
            .iter()
            .find(|t| t["name"] == json!(root))
            .expect("root");
        for field in ty["fields"].as_array().expect("fields") {
            let name = field["name"].as_str().expect("name");
            let args: Vec<String> = field["args"]
                .as_array()
                .expect("args")
                .iter()
                .map(|a| {
                    format!(
                        "{}: {}",
                        a["name"].as_str().expect("arg"),
                        literal(&a["type"], &types)
                    )
                })
                .collect();
            let args = if args.is_empty() {
                String::new()
            } else {
                format!("({})", args.join(", "))
            };
            let (returned, _) = named(&field["type"]);
            let kind = types
                .iter()
                .find(|t| t["name"] == json!(returned))
                .and_then(|t| t["kind"].as_str())
                .expect("kind");
            let selection = match kind {
                "SCALAR" | "ENUM" => "",
                _ => " { __typename }",
            };
            let document = format!("{operation} {{ {name}{args}{selection} }}");
            // Each document must be valid, or the refusal would prove nothing.
            // (A request error has no `data` entry; an executed operation has.)
            let (status, anonymous) = app.gql(None, &document, json!({})).await;
            assert_eq!(status, 200, "{document}: {anonymous}");
            assert!(
                anonymous.get("data").is_some(),
                "{document} does not validate: {anonymous}"
            );
            let (status, body) = app.gql(Some(&token), &document, json!({})).await;
            assert_eq!(status, 200, "{document}: {body}");
            if name == "appAnalytics" {
                assert!(body.get("errors").is_none(), "{document}: {body}");
                assert_eq!(body["data"]["appAnalytics"]["__typename"], "AppAnalytics");
                continue;
            }
            assert_eq!(first_code(&body), "FORBIDDEN", "{document}: {body}");
            assert_eq!(body["errors"][0]["path"], json!([name]), "{body}");
            let data = &body["data"];
            assert!(
                data.is_null() || data[name].is_null(),
                "{document} answered an app: {body}"
            );
            called += 1;
        }
    }
    assert!(called > 25, "only {called} root fields walked");
    // Introspection too, and a field under an alias, inside a fragment, next to appAnalytics.
    for document in [
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"User\") { name } }",
        "{ me: viewer { id } }",
        "query { ...F } fragment F on Query { feed(first: 1) { edges { cursor } } }",
        "{ appAnalytics { window } viewer { id } }",
    ] {
        let (_, body) = app.gql(Some(&token), document, json!({})).await;
        assert_eq!(first_code(&body), "FORBIDDEN", "{document}: {body}");
    }
    let (_, body) = app
        .gql(
            Some(&token),
            "{ appAnalytics { window } viewer { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["appAnalytics"]["window"], "LAST_28_DAYS",
        "{body}"
    );
    assert_eq!(body["data"]["viewer"], Value::Null);

    // Nothing under `appAnalytics` can name an account: no ID, User, Video or connection.
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec!["AppAnalytics".to_owned()];
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let ty = types
            .iter()
            .find(|t| t["name"] == json!(name))
            .expect("type");
        assert!(
            !["ID", "User", "Video", "Node", "ApiClient"].contains(&name.as_str()),
            "{name} is reachable from AppAnalytics"
        );
        if let Some(fields) = ty["fields"].as_array() {
            for f in fields {
                todo.push(named(&f["type"]).0);
            }
        }
    }
    assert!(seen.contains("NoisyBucket") && seen.contains("PrivacyBudget"));
}

/// The app of a fresh creator with a budget of `daily` ε at `epsilon` per question.
struct World {
    h: Harness,
    creator: Uuid,
    grant: AppGrant,
    settings: AppSettings,
}

async fn world(epsilon: f64, daily: f64) -> World {
    let h = Harness::new().await;
    let creator = make_creator(&h.db, "maya").await;
    let (client, _) = client_of(&h.db, creator).await;
    World {
        h,
        creator,
        grant: AppGrant { client, creator },
        settings: AppSettings {
            epsilon,
            daily_epsilon: daily,
            ..AppSettings::default()
        },
    }
}

impl World {
    async fn ask(&self, at: &str, query: &str) -> Value {
        as_app(
            &self.h,
            self.grant,
            Clock::Fixed(t(at)),
            self.settings,
            Thresholds::default(),
            query,
        )
        .await
    }
}

#[tokio::test]
async fn the_budget_runs_out_exactly_and_resets_at_the_next_utc_day() {
    // ε 0.1 and 1.0 a day: exactly ten questions, although 0.1 × 10 is not 1.0 in floating
    // point.
    let w = world(0.1, 1.0).await;
    let figures = [
        "views { value }",
        "likes { value }",
        "newFollowers { value }",
        "lostFollowers { value }",
        "daily { views { value } }",
        "peakHours { likes { value } }",
    ];
    let mut answers = Vec::new();
    for window in ["LAST_7_DAYS", "LAST_28_DAYS"] {
        for f in &figures[..5] {
            let q = format!("{{ appAnalytics(window: {window}) {{ {f} }} }}");
            let v = w.ask(NOW, &q).await;
            assert!(v.get("errors").is_none(), "{q}: {v}");
            answers.push((q, v));
        }
    }
    let budget = "{ appAnalytics { budget { epsilonPerQuery dailyEpsilon spentToday remainingToday resetsAt } } }";
    let b = w.ask(NOW, budget).await["data"]["appAnalytics"]["budget"].clone();
    assert_eq!(b["spentToday"], json!(1.0), "{b}");
    assert_eq!(b["remainingToday"], json!(0.0), "{b}");
    assert_eq!(b["epsilonPerQuery"], json!(0.1));
    assert_eq!(b["resetsAt"], "2026-06-21T00:00:00+00:00");
    // The eleventh question does not fit; the error says when the budget is whole again.
    let q = format!(
        "{{ appAnalytics(window: LAST_7_DAYS) {{ {} }} }}",
        figures[5]
    );
    let v = w.ask(NOW, &q).await;
    assert_eq!(first_code(&v), "BUDGET_EXHAUSTED", "{v}");
    assert_eq!(
        v["errors"][0]["extensions"]["resetsAt"],
        "2026-06-21T00:00:00+00:00"
    );
    assert_eq!(v["data"], Value::Null);
    // The ten asked again, later the same day: the same answers, for nothing.
    for (q, first) in &answers {
        assert_eq!(&w.ask("2026-06-20T23:59:59Z", q).await, first, "{q}");
    }
    // The next UTC day: a new window end, so new questions, and a whole budget.
    let next = "2026-06-21T00:00:01Z";
    let v = w.ask(next, &q).await;
    assert!(v.get("errors").is_none(), "{v}");
    let b = w.ask(next, budget).await["data"]["appAnalytics"]["budget"].clone();
    assert_eq!(b["spentToday"], json!(0.1), "{b}");
    assert_eq!(b["resetsAt"], "2026-06-22T00:00:00+00:00");
    assert_eq!(
        privacy_budget::spent(
            &w.h.db,
            w.grant.client,
            privacy_budget::day_of(t(NOW).timestamp_micros())
        )
        .await
        .map_err(|e| e.message())
        .expect("spent"),
        1_000_000
    );
}

#[tokio::test]
async fn asking_one_figure_a_thousand_times_gives_one_answer_and_costs_once() {
    let w = world(1.0, 10.0).await;
    // Followers are read live: the answer must not move with them during the day either.
    let fans: Vec<Uuid> = {
        let mut v = Vec::new();
        for i in 0..130 {
            let fan = insert_account(
                &w.h.db,
                &format!("fan{i}"),
                Visibility::Public,
                LikesVisibility::Everyone,
            )
            .await;
            v.push(fan);
        }
        v
    };
    for fan in &fans[..120] {
        insert_follow(&w.h.db, *fan, w.creator, FollowState::Approved).await;
    }
    let q = "{ appAnalytics { views { value stdDev } audience { followers { available regions { key count { value stdDev } } } } } }";
    let first = w.ask(NOW, q).await;
    assert!(first.get("errors").is_none(), "{first}");
    assert_eq!(
        first["data"]["appAnalytics"]["audience"]["followers"]["available"],
        json!(true)
    );
    let sd = first["data"]["appAnalytics"]["views"]["stdDev"]
        .as_f64()
        .expect("sd");
    assert!(
        (sd - dp::discrete_laplace_std_dev(1.0)).abs() < 1e-9,
        "{sd}"
    );
    let region = &first["data"]["appAnalytics"]["audience"]["followers"]["regions"][0];
    let sd = region["count"]["stdDev"].as_f64().expect("sd");
    assert!(
        (sd - dp::discrete_laplace_std_dev(3.0)).abs() < 1e-9,
        "3 dimensions: {sd}"
    );
    for i in 0..1_000 {
        if i == 500 {
            for fan in &fans[120..] {
                insert_follow(&w.h.db, *fan, w.creator, FollowState::Approved).await;
            }
        }
        assert_eq!(w.ask(NOW, q).await, first, "ask {i}");
    }
    let spent = privacy_budget::spent(
        &w.h.db,
        w.grant.client,
        privacy_budget::day_of(t(NOW).timestamp_micros()),
    )
    .await
    .map_err(|e| e.message())
    .expect("spent");
    assert_eq!(spent, 2_000_000, "two questions, each paid once");
}

#[tokio::test]
async fn thresholds_apply_before_the_noise_and_a_withheld_breakdown_costs_nothing() {
    let w = world(1.0, 10.0).await;
    let mut fans = Vec::new();
    for i in 0..99 {
        let fan = insert_account(
            &w.h.db,
            &format!("fan{i}"),
            Visibility::Public,
            LikesVisibility::Everyone,
        )
        .await;
        let mut q = Sql::default();
        let region = match i {
            0..80 => "DE",
            80..95 => "FR",
            _ => "ES",
        };
        let (r, me) = (q.bind(region), q.bind(fan));
        q.push_unchecked(&format!(
            "UPDATE users SET region = {r}, birth_year = 1990 WHERE id = {me}"
        ));
        q.execute(&w.h.db).await.expect("region");
        insert_follow(&w.h.db, fan, w.creator, FollowState::Approved).await;
        fans.push(fan);
    }
    let q = "{ appAnalytics { audience { followers { available withheldReason regions { key count { value } } } } } }";
    let v = w.ask(NOW, q).await;
    let b = &v["data"]["appAnalytics"]["audience"]["followers"];
    assert_eq!(b["available"], json!(false), "{v}");
    assert_eq!(b["withheldReason"], "BELOW_MINIMUM_AUDIENCE");
    assert_eq!(b["regions"], Value::Null);
    let today = privacy_budget::day_of(t(NOW).timestamp_micros());
    let spent = privacy_budget::spent(&w.h.db, w.grant.client, today)
        .await
        .map_err(|e| e.message())
        .expect("spent");
    assert_eq!(spent, 0, "nothing released, nothing spent");
    // The 100th follower (region unknown): shown. ES (4) and UNKNOWN (1) fold into OTHER,
    // and FR (15) joins it to make OTHER at least 10 — before the noise, whatever the noise
    // would have made of them.
    let last = insert_account(
        &w.h.db,
        "fan99",
        Visibility::Public,
        LikesVisibility::Everyone,
    )
    .await;
    insert_follow(&w.h.db, last, w.creator, FollowState::Approved).await;
    let v = w.ask(NOW, q).await;
    let b = &v["data"]["appAnalytics"]["audience"]["followers"];
    assert_eq!(b["available"], json!(true), "{v}");
    let keys: Vec<&str> = b["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .map(|x| x["key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys, ["DE", "OTHER"]);
}

fn asker(client: Uuid, creator: ca::Creator, window: Window, budget: Budget) -> Asker {
    Asker {
        client,
        creator,
        window,
        now_us: t(NOW).timestamp_micros(),
        budget,
    }
}

#[tokio::test]
async fn over_two_thousand_questions_the_noise_has_the_configured_variance() {
    let h = Harness::new().await;
    let maya = make_creator(&h.db, "maya").await;
    let (client, _) = client_of(&h.db, maya).await;
    let creator = ca::creator(&h.db, Some(maya))
        .await
        .map_err(|e| e.message())
        .expect("creator");
    let epsilon = 0.5;
    let budget = Budget::of(&AppSettings {
        epsilon,
        daily_epsilon: 1_000.0,
        ..AppSettings::default()
    });
    // 2,000 distinct questions (windows), each a daily series of 7 days × (views, likes).
    let exact: Vec<(i64, i64)> = (0..7).map(|d| (1_000 + d, 500 + d)).collect();
    let mut errors = Vec::new();
    let mut first = Vec::new();
    for q in 0..2_000 {
        let window = Window { from: q, to: q + 6 };
        let a = asker(client, creator, window, budget);
        let answer = app_analytics::series(&h.db, &a, Figure::Daily, async { Ok(exact.clone()) })
            .await
            .map_err(|e| e.message())
            .expect("answer");
        for ((v, l), (ev, el)) in answer.iter().zip(&exact) {
            errors.push((v.value - ev) as f64);
            errors.push((l.value - el) as f64);
        }
        first.push(answer);
    }
    // Discrete Laplace of scale Δ/ε = 2: variance 2α / (1 − α)², α = e^(−1/2).
    let sd = dp::discrete_laplace_std_dev(1.0 / epsilon);
    let expected = sd * sd;
    let n = errors.len() as f64;
    let mean = errors.iter().sum::<f64>() / n;
    let var = errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1.0);
    // 28,000 draws: the variance's relative standard error is about 1.4 %, the mean's
    // standard error about 0.018; ±15 % is over ten standard errors.
    assert!(
        (var / expected - 1.0).abs() < 0.15,
        "variance {var} vs {expected}"
    );
    assert!(mean.abs() < 0.15, "mean {mean}");
    assert!(first.iter().all(|a| a.iter().all(|(v, _)| v.std_dev == sd)));
    // Asked again: identical, and nothing more is spent.
    let today = privacy_budget::day_of(t(NOW).timestamp_micros());
    let spent = privacy_budget::spent(&h.db, client, today)
        .await
        .map_err(|e| e.message())
        .expect("spent");
    assert_eq!(spent, 2_000 * 500_000);
    for (q, answer) in first.iter().enumerate().step_by(7) {
        let q = i32::try_from(q).expect("small");
        let a = asker(client, creator, Window { from: q, to: q + 6 }, budget);
        let again = app_analytics::series(&h.db, &a, Figure::Daily, async {
            // The exact figures changed meanwhile: the answer does not.
            Ok(vec![(0, 0); 7])
        })
        .await
        .map_err(|e| e.message())
        .expect("answer");
        assert_eq!(&again, answer);
    }
    assert_eq!(
        privacy_budget::spent(&h.db, client, today)
            .await
            .map_err(|e| e.message())
            .expect("spent"),
        spent
    );
}

#[tokio::test]
async fn questions_from_two_instances_racing_for_the_last_epsilon_never_overspend() {
    // Two instances: two pools on one database (PostgreSQL when the suite runs on it).
    let url = crate::helpers::fresh_database_url().await;
    let one = tally::db::connect(&url, 8).await.expect("connect");
    migration::Migrator::up(&one, None).await.expect("migrate");
    let two = tally::db::connect(&url, 8).await.expect("connect");
    let maya = make_creator(&one, "maya").await;
    let (client, _) = client_of(&one, maya).await;
    let creator = ca::creator(&one, Some(maya))
        .await
        .map_err(|e| e.message())
        .expect("creator");
    let budget = Budget::of(&AppSettings {
        epsilon: 0.25,
        daily_epsilon: 10.0,
        ..AppSettings::default()
    });
    // 33 questions answered already: 8.25 of 10 spent, room for exactly 7 more.
    for q in 0..33 {
        let a = asker(client, creator, Window { from: -q, to: -q }, budget);
        app_analytics::total(&one, &a, Figure::Views, async { Ok(10) })
            .await
            .map_err(|e| e.message())
            .expect("answer");
    }
    // 50 new questions, 25 from each instance, and 10 repeats of one of them, released at
    // once.
    let barrier = Arc::new(tokio::sync::Barrier::new(60));
    let mut racers = Vec::new();
    for i in 0..60 {
        let db = if i % 2 == 0 { one.clone() } else { two.clone() };
        let barrier = barrier.clone();
        let q = if i < 50 { i } else { 0 };
        racers.push(tokio::spawn(async move {
            let a = asker(
                client,
                creator,
                Window {
                    from: q + 1,
                    to: q + 1,
                },
                budget,
            );
            barrier.wait().await;
            app_analytics::total(&db, &a, Figure::Views, async { Ok(10) })
                .await
                .map(|n| (q, n))
                .map_err(|e| e.code().to_owned())
        }));
    }
    let mut answered = std::collections::BTreeMap::new();
    let mut exhausted = 0;
    for r in racers {
        match r.await.expect("racer") {
            Ok((q, n)) => {
                if let Some(before) = answered.insert(q, n) {
                    assert_eq!(before, n, "question {q} got two answers");
                }
            }
            Err(code) => {
                assert_eq!(code, "BUDGET_EXHAUSTED");
                exhausted += 1;
            }
        }
    }
    let today = privacy_budget::day_of(t(NOW).timestamp_micros());
    let spent = privacy_budget::spent(&one, client, today)
        .await
        .map_err(|e| e.message())
        .expect("spent");
    assert_eq!(spent, 10_000_000, "spent exactly the budget, never more");
    assert_eq!(answered.len(), 7, "{answered:?}");
    assert_eq!(
        exhausted,
        43 + if answered.contains_key(&0) { 0 } else { 10 }
    );
    let mut q = Sql::default();
    let c = q.bind(client);
    q.push_unchecked(&format!(
        "SELECT COUNT(*) AS n FROM app_answers WHERE client_id = {c}"
    ));
    let row = q.one(&one).await.expect("count").expect("row");
    let n: i64 = row.try_get("", "n").expect("n");
    assert_eq!(n, 40, "33 + 7 answers recorded");
}
