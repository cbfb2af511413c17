//! Tokens from an external identity provider, over real HTTP: RS256, ES256 and EdDSA keys
//! from a JWKS file chosen by `kid`, rotation, every refusal (401 `UNAUTHENTICATED`),
//! algorithm confusion, and provisioning the account of a new subject.
//!
//! The keys are the TEST-ONLY fixtures in `tests/fixtures/idp/` (private keys committed on
//! purpose; see the README there).
use chrono::Utc;
use clap::Parser;
use entity::{user, LikesVisibility, Visibility};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use tally::auth::{
    idp::{IdentityProvider, IdpClaims},
    AuthSettings,
};
use uuid::Uuid;

use crate::helpers::{insert_account, uid, TestApp, SECRET};

const ISSUER: &str = "https://idp.example.test/";
const AUDIENCE: &str = "tally-idp-test";
const VIEWER_Q: &str = "{ viewer { id handle } }";
const PROVISION: &str = "mutation($input: ProvisionAccountInput!) { provisionAccount(input: $input) { id handle displayName } }";
const NOT_LINKED: &str = "no account is linked to this identity";

fn fixture_path(name: &str) -> String {
    format!("{}/tests/fixtures/idp/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Token settings trusting the fixture JWKS, with `leeway_secs` for every kind of token.
fn idp_settings(leeway_secs: u64) -> AuthSettings {
    let idp = IdentityProvider::from_jwks_file(
        fixture_path("jwks.json").as_ref(),
        IdpClaims {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            leeway_secs,
        },
    )
    .expect("the fixture JWKS loads");
    AuthSettings {
        leeway_secs,
        identity_provider: Some(idp),
    }
}

async fn idp_app() -> TestApp {
    TestApp::spawn_with(|s| s.auth = idp_settings(30)).await
}

/// A signing key of the fake identity provider: its `kid`, algorithm and private key.
struct IdpKey {
    kid: &'static str,
    alg: Algorithm,
    key: EncodingKey,
}

fn rsa_2025() -> IdpKey {
    IdpKey {
        kid: "rsa-2025",
        alg: Algorithm::RS256,
        key: EncodingKey::from_rsa_pem(&fixture("rsa-2025.key.pem")).expect("RSA key"),
    }
}

fn rsa_2026() -> IdpKey {
    IdpKey {
        kid: "rsa-2026",
        alg: Algorithm::RS256,
        key: EncodingKey::from_rsa_pem(&fixture("rsa-2026.key.pem")).expect("RSA key"),
    }
}

fn ec_p256() -> IdpKey {
    IdpKey {
        kid: "ec-p256",
        alg: Algorithm::ES256,
        key: EncodingKey::from_ec_pem(&fixture("ec-p256.key.pem")).expect("EC key"),
    }
}

fn ed25519() -> IdpKey {
    IdpKey {
        kid: "ed25519",
        alg: Algorithm::EdDSA,
        key: EncodingKey::from_ed_pem(&fixture("ed25519.key.pem")).expect("Ed25519 key"),
    }
}

/// Claims as the identity provider issues them for `sub`, valid for an hour.
fn claims(sub: &str) -> Value {
    let now = Utc::now().timestamp();
    json!({ "sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600 })
}

/// `claims(sub)` with `name` replaced, or removed when `value` is `None`.
fn claims_with(sub: &str, name: &str, value: Option<Value>) -> Value {
    let mut c = claims(sub);
    let obj = c.as_object_mut().expect("claims object");
    match value {
        Some(v) => obj.insert(name.to_owned(), v),
        None => obj.remove(name),
    };
    c
}

/// `claims` signed by `key` with header `alg` and `kid`.
fn sign_raw(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, key).expect("sign token")
}

/// `claims` signed as the identity provider does with `key`.
fn sign(key: &IdpKey, claims: &Value) -> String {
    sign_raw(key.alg, Some(key.kid), &key.key, claims)
}

/// HTTP 401 with exactly one `UNAUTHENTICATED` error and no `data`.
fn assert_401(status: u16, body: &Value, case: &str) {
    assert_eq!(
        status, 401,
        "{case}: expected HTTP 401, got {status}: {body}"
    );
    assert!(body.get("data").is_none(), "{case}: no data: {body}");
    let errors = body["errors"].as_array().expect("errors array");
    assert_eq!(errors.len(), 1, "{case}: {body}");
    assert_eq!(
        errors[0]["extensions"],
        json!({ "code": "UNAUTHENTICATED" }),
        "{case}: {body}"
    );
}

async fn assert_token_refused(app: &TestApp, token: &str, case: &str) {
    let (status, body) = app.gql(Some(token), VIEWER_Q, json!({})).await;
    assert_401(status, &body, case);
}

/// The first error's `extensions.code`.
fn code_of(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<no error>")
}

/// Provisions `handle` with `token` and returns the new account's API ID.
async fn provision(app: &TestApp, token: &str, handle: &str) -> String {
    let (status, body) = app
        .gql(
            Some(token),
            PROVISION,
            json!({ "input": { "handle": handle, "displayName": format!("{handle}!") } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "provisioning failed: {body}");
    assert_eq!(body["data"]["provisionAccount"]["handle"], handle);
    body["data"]["provisionAccount"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// `{ viewer { handle } }` as `token` answers `handle`.
async fn assert_viewer(app: &TestApp, token: &str, handle: &str, case: &str) {
    let (status, body) = app.gql(Some(token), VIEWER_Q, json!({})).await;
    assert_eq!(status, 200, "{case}: {body}");
    assert!(body.get("errors").is_none(), "{case}: {body}");
    assert_eq!(body["data"]["viewer"]["handle"], handle, "{case}: {body}");
}

async fn linked_accounts(app: &TestApp) -> u64 {
    user::Entity::find()
        .filter(user::Column::ExternalSubject.is_not_null())
        .count(&app.db)
        .await
        .expect("count")
}

// ---------------------------------------------------------------------------------------
// Accepted tokens
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn rs256_es256_and_eddsa_tokens_sign_in_their_provisioned_accounts() {
    let app = idp_app().await;
    for (key, sub, handle) in [
        (rsa_2025(), "idp|rsa-user", "rsa.user"),
        (ec_p256(), "idp|ec-user", "ec.user"),
        (ed25519(), "idp|ed-user", "ed.user"),
    ] {
        let case = format!("{:?}", key.alg);
        let token = sign(&key, &claims(sub));
        let id = provision(&app, &token, handle).await;
        assert_viewer(&app, &token, handle, &case).await;
        // Writes work too, as that account.
        let (_, body) = app
            .gql(
                Some(&token),
                "mutation { createVideo(input: {mediaUrl: \"https://media.example.com/v.mp4\", caption: \"hi\"}) { author { id } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            body["data"]["createVideo"]["author"]["id"], id,
            "{case}: {body}"
        );
        let row = user::Entity::find()
            .filter(user::Column::Handle.eq(handle))
            .one(&app.db)
            .await
            .expect("query")
            .expect("row");
        assert_eq!(row.external_subject.as_deref(), Some(sub), "{case}");
    }
    assert_eq!(linked_accounts(&app).await, 3);
}

#[tokio::test]
async fn both_keys_of_a_rotation_are_accepted_for_the_same_subject() {
    let app = idp_app().await;
    let old = sign(&rsa_2025(), &claims("idp|rotating"));
    let new = sign(&rsa_2026(), &claims("idp|rotating"));
    provision(&app, &old, "rotating").await;
    assert_viewer(&app, &old, "rotating", "old key").await;
    // `rsa-2026` has no `alg` in the JWKS: its key type (RSA) pins RS256.
    assert_viewer(&app, &new, "rotating", "new key").await;
}

#[tokio::test]
async fn an_audience_list_containing_ours_is_accepted() {
    let app = idp_app().await;
    let token = sign(
        &ec_p256(),
        &claims_with("idp|multi", "aud", Some(json!(["another-api", AUDIENCE]))),
    );
    provision(&app, &token, "multi").await;
    assert_viewer(&app, &token, "multi", "aud list").await;
}

// ---------------------------------------------------------------------------------------
// Refused tokens: HTTP 401, UNAUTHENTICATED
// ---------------------------------------------------------------------------------------

/// An app where `idp|known` is linked to `known`, so that a wrongly accepted token would
/// show as a signed-in viewer rather than as the unlinked-identity error.
async fn app_with_linked_subject() -> TestApp {
    let app = idp_app().await;
    provision(&app, &sign(&rsa_2025(), &claims("idp|known")), "known").await;
    app
}

#[tokio::test]
async fn unknown_kid_is_401() {
    let app = app_with_linked_subject().await;
    let key = rsa_2025();
    let token = sign_raw(key.alg, Some("rsa-2024"), &key.key, &claims("idp|known"));
    assert_token_refused(&app, &token, "unknown kid").await;
    let token = sign_raw(key.alg, Some(""), &key.key, &claims("idp|known"));
    assert_token_refused(&app, &token, "empty kid").await;
}

#[tokio::test]
async fn wrong_issuer_or_audience_is_401() {
    let app = app_with_linked_subject().await;
    for (key, alg) in [
        (rsa_2025(), "RS256"),
        (ec_p256(), "ES256"),
        (ed25519(), "EdDSA"),
    ] {
        for (case, claims) in [
            (
                "wrong iss",
                claims_with("idp|known", "iss", Some(json!("https://evil.example/"))),
            ),
            ("missing iss", claims_with("idp|known", "iss", None)),
            (
                "the service's own iss",
                claims_with("idp|known", "iss", Some(json!("tally"))),
            ),
            (
                "wrong aud",
                claims_with("idp|known", "aud", Some(json!("another-api"))),
            ),
            (
                "the service's own aud",
                claims_with("idp|known", "aud", Some(json!("tally-api"))),
            ),
            ("missing aud", claims_with("idp|known", "aud", None)),
            ("missing sub", claims_with("idp|known", "sub", None)),
            ("missing exp", claims_with("idp|known", "exp", None)),
            (
                "empty sub",
                claims_with("idp|known", "sub", Some(json!(""))),
            ),
            (
                "sub too long",
                claims_with("idp|known", "sub", Some(json!("x".repeat(256)))),
            ),
        ] {
            let token = sign(&key, &claims);
            assert_token_refused(&app, &token, &format!("{alg}: {case}")).await;
        }
    }
}

#[tokio::test]
async fn expiry_is_checked_with_the_configured_leeway() {
    let now = Utc::now().timestamp();
    let expired = |secs_ago: i64| {
        let mut c = claims("idp|clock");
        c["iat"] = json!(now - 3600);
        c["exp"] = json!(now - secs_ago);
        sign(&ed25519(), &c)
    };
    let app = idp_app().await; // leeway 30 s
    provision(&app, &sign(&ed25519(), &claims("idp|clock")), "clock").await;
    assert_viewer(&app, &expired(10), "clock", "expired 10 s ago, leeway 30 s").await;
    assert_token_refused(&app, &expired(120), "expired 120 s ago, leeway 30 s").await;
    let not_yet = sign(
        &ed25519(),
        &claims_with("idp|clock", "nbf", Some(json!(now + 120))),
    );
    assert_token_refused(&app, &not_yet, "nbf in 120 s, leeway 30 s").await;
    let soon = sign(
        &ed25519(),
        &claims_with("idp|clock", "nbf", Some(json!(now + 10))),
    );
    assert_viewer(&app, &soon, "clock", "nbf in 10 s, leeway 30 s").await;

    // Leeway configured to 0: the token that was within the leeway is refused.
    let strict = TestApp::spawn_with(|s| s.auth = idp_settings(0)).await;
    provision(&strict, &sign(&ed25519(), &claims("idp|clock")), "clock").await;
    assert_token_refused(&strict, &expired(10), "expired 10 s ago, leeway 0").await;
}

#[tokio::test]
async fn the_leeway_applies_to_the_services_own_tokens_too() {
    let now = Utc::now().timestamp();
    let own_token = |user: Uuid| {
        let c = json!({
            "sub": uid(user), "sid": crate::helpers::sid_of(user), "iss": "tally", "aud": "tally-api",
            "iat": now - 3600, "exp": now - 10,
        });
        encode(
            &Header::new(Algorithm::HS256),
            &c,
            &EncodingKey::from_secret(SECRET).expect("key"),
        )
        .expect("sign")
    };
    let lenient = TestApp::spawn_with(|s| s.auth = idp_settings(30)).await;
    let a = insert_account(
        &lenient.db,
        "ana",
        Visibility::Public,
        LikesVisibility::Everyone,
    )
    .await;
    crate::helpers::insert_session(&lenient.db, a).await;
    assert_viewer(
        &lenient,
        &own_token(a),
        "ana",
        "own token, expired 10 s ago, leeway 30 s",
    )
    .await;
    let strict = TestApp::spawn_with(|s| {
        s.auth = AuthSettings {
            leeway_secs: 0,
            identity_provider: None,
        }
    })
    .await;
    let a = insert_account(
        &strict.db,
        "ana",
        Visibility::Public,
        LikesVisibility::Everyone,
    )
    .await;
    crate::helpers::insert_session(&strict.db, a).await;
    assert_token_refused(
        &strict,
        &own_token(a),
        "own token, expired 10 s ago, leeway 0",
    )
    .await;
}

#[tokio::test]
async fn a_header_alg_that_does_not_match_the_keys_is_401() {
    let app = app_with_linked_subject().await;
    let c = claims("idp|known");
    let (rsa, ec, ed) = (rsa_2025(), ec_p256(), ed25519());
    for (case, token) in [
        // RS256 header naming the EC key, signed with the RSA key.
        (
            "RS256 with the EC key's kid",
            sign_raw(Algorithm::RS256, Some(ec.kid), &rsa.key, &c),
        ),
        (
            "ES256 with the RSA key's kid",
            sign_raw(Algorithm::ES256, Some(rsa.kid), &ec.key, &c),
        ),
        (
            "EdDSA with the EC key's kid",
            sign_raw(Algorithm::EdDSA, Some(ec.kid), &ed.key, &c),
        ),
        // Same key family, another algorithm than the one the key is pinned to.
        (
            "RS512 with the RS256 key",
            sign_raw(Algorithm::RS512, Some(rsa.kid), &rsa.key, &c),
        ),
        (
            "PS256 with the RS256 key",
            sign_raw(Algorithm::PS256, Some(rsa.kid), &rsa.key, &c),
        ),
    ] {
        assert_token_refused(&app, &token, case).await;
    }
}

#[tokio::test]
async fn an_rsa_public_key_is_never_accepted_as_an_hs256_secret() {
    // The classic algorithm-confusion forgery: the RSA public key (which is public) used as
    // the HMAC secret of an HS256 token.
    let app = app_with_linked_subject().await;
    let known = user::Entity::find()
        .filter(user::Column::Handle.eq("known"))
        .one(&app.db)
        .await
        .expect("query")
        .expect("row");
    let own_claims = json!({
        "sub": uid(known.id), "iss": "tally", "aud": "tally-api",
        "iat": Utc::now().timestamp(), "exp": Utc::now().timestamp() + 3600,
    });
    let pem = fixture("rsa-2025.pub.pem");
    let jwks = fixture("jwks.json");
    for (secret_name, secret) in [("public PEM", pem.as_slice()), ("JWKS file", &jwks)] {
        let secret = EncodingKey::from_secret(secret).expect("key");
        for (case, kid, claims) in [
            (
                "with the RSA key's kid",
                Some("rsa-2025"),
                claims("idp|known"),
            ),
            ("without kid, IdP claims", None, claims("idp|known")),
            (
                "without kid, the service's claims",
                None,
                own_claims.clone(),
            ),
            (
                "with the RSA key's kid, the service's claims",
                Some("rsa-2025"),
                own_claims.clone(),
            ),
        ] {
            let token = sign_raw(Algorithm::HS256, kid, &secret, &claims);
            assert_token_refused(
                &app,
                &token,
                &format!("HS256 keyed with the {secret_name} {case}"),
            )
            .await;
        }
    }
    // The control: the same IdP claims, properly signed, are accepted.
    assert_viewer(
        &app,
        &sign(&rsa_2025(), &claims("idp|known")),
        "known",
        "control",
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// The service's own tokens alongside
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_services_own_hs256_tokens_keep_working_alongside() {
    let app = idp_app().await;
    let (status, body) = app
        .gql(
            None,
            "mutation { signUp(input: {handle: \"local\", password: \"password123\"}) { token } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = body["data"]["signUp"]["token"].as_str().expect("token");
    assert_viewer(&app, token, "local", "token from signUp").await;
    let (_, body) = app
        .gql(
            None,
            "mutation { logIn(input: {handle: \"local\", password: \"password123\"}) { token } }",
            json!({}),
        )
        .await;
    let token = body["data"]["logIn"]["token"].as_str().expect("token");
    assert_viewer(&app, token, "local", "token from logIn").await;
    // And an IdP user in the same service, at the same time.
    let idp = sign(&rsa_2025(), &claims("idp|side-by-side"));
    provision(&app, &idp, "remote").await;
    assert_viewer(&app, &idp, "remote", "IdP token").await;
    assert_viewer(&app, token, "local", "own token again").await;
    // The service's HS256 tokens carry no kid; one that names an IdP key is the IdP's,
    // and HS256 is not its algorithm.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("ec-p256".into());
    let local = user::Entity::find()
        .filter(user::Column::Handle.eq("local"))
        .one(&app.db)
        .await
        .expect("query")
        .expect("row");
    let now = Utc::now().timestamp();
    let forged = encode(
        &header,
        &json!({"sub": uid(local.id), "iss": "tally", "aud": "tally-api", "iat": now, "exp": now + 60}),
        &EncodingKey::from_secret(SECRET).expect("key"),
    )
    .expect("sign");
    assert_token_refused(&app, &forged, "own token with an IdP kid").await;
}

#[tokio::test]
async fn without_a_jwks_file_idp_tokens_are_401() {
    let app = TestApp::spawn().await;
    assert_token_refused(&app, &sign(&rsa_2025(), &claims("idp|x")), "RS256").await;
    assert_token_refused(&app, &sign(&ec_p256(), &claims("idp|x")), "ES256").await;
    assert_token_refused(&app, &sign(&ed25519(), &claims("idp|x")), "EdDSA").await;
}

// ---------------------------------------------------------------------------------------
// Provisioning
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unlinked_subject_may_only_provision_its_account() {
    let app = idp_app().await;
    let token = sign(&ec_p256(), &claims("idp|newcomer"));
    let owner = insert_account(
        &app.db,
        "someone",
        Visibility::Public,
        LikesVisibility::Everyone,
    )
    .await;
    for (case, query) in [
        ("viewer", VIEWER_Q.to_owned()),
        ("public read", "{ user(handle: \"someone\") { handle } }".to_owned()),
        ("feed", "{ feed { edges { cursor } } }".to_owned()),
        ("introspection", "{ __typename }".to_owned()),
        (
            "createVideo",
            "mutation { createVideo(input: {mediaUrl: \"https://media.example.com/v.mp4\", caption: \"x\"}) { id } }".to_owned(),
        ),
        (
            "followUser",
            format!("mutation {{ followUser(userId: \"{}\") {{ state }} }}", uid(owner)),
        ),
        ("deleteAccount", "mutation { deleteAccount(password: \"\") }".to_owned()),
        (
            "provisionAccount beside another mutation",
            "mutation { provisionAccount(input: {handle: \"sneaky\"}) { id } createVideo(input: {mediaUrl: \"https://media.example.com/v.mp4\", caption: \"x\"}) { id } }".to_owned(),
        ),
        (
            "provisionAccount through a fragment",
            "mutation { ...P } fragment P on Mutation { provisionAccount(input: {handle: \"sneaky\"}) { id } }".to_owned(),
        ),
    ] {
        let (status, body) = app.gql(Some(&token), &query, json!({})).await;
        assert_eq!(status, 200, "{case}: {body}");
        assert_eq!(code_of(&body), "UNAUTHENTICATED", "{case}: {body}");
        assert_eq!(body["errors"][0]["message"], NOT_LINKED, "{case}: {body}");
        assert!(body["data"].is_null(), "{case}: nothing ran: {body}");
    }
    assert_eq!(linked_accounts(&app).await, 0, "nothing was provisioned");

    // The one thing it may do; afterwards the token is that account.
    let (status, body) = app
        .gql(
            Some(&token),
            "mutation { __typename provisionAccount(input: {handle: \"NewComer\", visibility: PRIVATE, likesVisibility: ONLY_ME}) { id handle visibility } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["provisionAccount"]["handle"], "newcomer");
    assert_eq!(body["data"]["provisionAccount"]["visibility"], "PRIVATE");
    assert_viewer(&app, &token, "newcomer", "after provisioning").await;
    let (_, body) = app
        .gql(Some(&token), "{ viewer { likesVisibility } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["viewer"]["likesVisibility"], "ONLY_ME",
        "{body}"
    );
}

#[tokio::test]
async fn a_provisioned_account_cannot_log_in_with_a_password() {
    let app = idp_app().await;
    provision(&app, &sign(&rsa_2025(), &claims("idp|nopass")), "nopass").await;
    for password in ["", "!", "password123"] {
        let (status, body) = app
            .gql(
                None,
                "mutation($p: String!) { logIn(input: {handle: \"nopass\", password: $p}) { token } }",
                json!({ "p": password }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            code_of(&body),
            "UNAUTHENTICATED",
            "password {password:?}: {body}"
        );
        assert_eq!(
            body["errors"][0]["message"], "wrong handle or password",
            "answered like any wrong password: {body}"
        );
    }
}

#[tokio::test]
async fn provisioning_twice_is_conflict() {
    let app = idp_app().await;
    let token = sign(&rsa_2025(), &claims("idp|twice"));
    provision(&app, &token, "twice").await;
    for handle in ["twice", "another.handle"] {
        let (status, body) = app
            .gql(
                Some(&token),
                PROVISION,
                json!({ "input": { "handle": handle } }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(code_of(&body), "CONFLICT", "{handle}: {body}");
    }
    // The same subject through another key is the same identity.
    let (_, body) = app
        .gql(
            Some(&sign(&rsa_2026(), &claims("idp|twice"))),
            PROVISION,
            json!({ "input": { "handle": "third.try" } }),
        )
        .await;
    assert_eq!(code_of(&body), "CONFLICT", "{body}");
    assert_eq!(linked_accounts(&app).await, 1);
    // A handle that is taken is a CONFLICT naming it, for a new subject too.
    let (_, body) = app
        .gql(
            Some(&sign(&ec_p256(), &claims("idp|other"))),
            PROVISION,
            json!({ "input": { "handle": "TWICE" } }),
        )
        .await;
    assert_eq!(code_of(&body), "CONFLICT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "input.handle",
        "{body}"
    );
    assert_eq!(linked_accounts(&app).await, 1);
}

#[tokio::test]
async fn provisioning_with_bad_input_is_bad_user_input_and_writes_nothing() {
    let app = idp_app().await;
    let token = sign(&ed25519(), &claims("idp|bad-input"));
    for (case, input, field) in [
        ("too short", json!({ "handle": "ab" }), "input.handle"),
        ("dash", json!({ "handle": "bad-handle" }), "input.handle"),
        (
            "too long",
            json!({ "handle": "a".repeat(31) }),
            "input.handle",
        ),
        (
            "empty display name",
            json!({ "handle": "fine", "displayName": "  " }),
            "input.displayName",
        ),
        (
            "birth year",
            json!({ "handle": "fine", "birthYear": 1800 }),
            "input.birthYear",
        ),
    ] {
        let (status, body) = app
            .gql(Some(&token), PROVISION, json!({ "input": input }))
            .await;
        assert_eq!(status, 200, "{case}: {body}");
        assert_eq!(code_of(&body), "BAD_USER_INPUT", "{case}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["field"], field,
            "{case}: {body}"
        );
    }
    let users = user::Entity::find().count(&app.db).await.expect("count");
    assert_eq!(users, 0, "nothing was written");
    // Still unlinked: the subject can provision once the input is right.
    provision(&app, &token, "fine").await;
}

#[tokio::test]
async fn provision_account_needs_an_identity_provider_token() {
    let app = idp_app().await;
    let (_, body) = app
        .gql(None, PROVISION, json!({ "input": { "handle": "anon" } }))
        .await;
    assert_eq!(code_of(&body), "UNAUTHENTICATED", "anonymous: {body}");
    let (_, body) = app
        .gql(
            None,
            "mutation { signUp(input: {handle: \"local\", password: \"password123\"}) { token } }",
            json!({}),
        )
        .await;
    let own = body["data"]["signUp"]["token"].as_str().expect("token");
    let (_, body) = app
        .gql(
            Some(own),
            PROVISION,
            json!({ "input": { "handle": "second" } }),
        )
        .await;
    assert_eq!(code_of(&body), "UNAUTHENTICATED", "own token: {body}");
    assert_eq!(linked_accounts(&app).await, 0);
}

#[tokio::test]
async fn a_provisioned_account_deletes_itself_with_an_empty_password() {
    let app = idp_app().await;
    let token = sign(&rsa_2025(), &claims("idp|leaving"));
    provision(&app, &token, "leaving").await;
    let delete = "mutation($p: String!) { deleteAccount(password: $p) }";
    let (_, body) = app
        .gql(Some(&token), delete, json!({ "p": "some password" }))
        .await;
    assert_eq!(code_of(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "password",
        "{body}"
    );
    assert_eq!(linked_accounts(&app).await, 1, "not deleted");
    let (_, body) = app.gql(Some(&token), delete, json!({ "p": "" })).await;
    assert_eq!(body["data"]["deleteAccount"], true, "{body}");
    assert_eq!(linked_accounts(&app).await, 0);
    // The identity is unlinked again: it may provision a new account, nothing else.
    let (_, body) = app.gql(Some(&token), VIEWER_Q, json!({})).await;
    assert_eq!(body["errors"][0]["message"], NOT_LINKED, "{body}");
    provision(&app, &token, "back.again").await;
}

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

fn settings_from(args: &[&str]) -> anyhow::Result<AuthSettings> {
    let cli =
        tally::config::Cli::try_parse_from(std::iter::once("tally").chain(args.iter().copied()))
            .expect("arguments parse");
    AuthSettings::from_config(&cli.config)
}

#[test]
fn a_jwks_file_needs_an_issuer_and_an_audience() {
    let jwks = fixture_path("jwks.json");
    assert!(settings_from(&["--jwks-file", &jwks]).is_err(), "neither");
    assert!(
        settings_from(&["--jwks-file", &jwks, "--jwt-issuer", ISSUER]).is_err(),
        "no audience"
    );
    assert!(
        settings_from(&["--jwks-file", &jwks, "--jwt-audience", AUDIENCE]).is_err(),
        "no issuer"
    );
    assert!(
        settings_from(&["--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE]).is_err(),
        "issuer and audience without keys"
    );
    assert!(
        settings_from(&[
            "--jwks-file",
            "/nonexistent/jwks.json",
            "--jwt-issuer",
            ISSUER,
            "--jwt-audience",
            AUDIENCE
        ])
        .is_err(),
        "missing file"
    );
    let ok = settings_from(&[
        "--jwks-file",
        &jwks,
        "--jwt-issuer",
        ISSUER,
        "--jwt-audience",
        AUDIENCE,
        "--jwt-leeway-secs",
        "5",
    ])
    .expect("complete settings");
    assert_eq!(ok.leeway_secs, 5);
    let idp = ok.identity_provider.expect("identity provider");
    assert_eq!(
        idp.key_ids(),
        vec!["ec-p256", "ed25519", "rsa-2025", "rsa-2026"]
    );
    let default = settings_from(&[]).expect("no identity provider");
    assert_eq!(default.leeway_secs, 30);
    assert!(default.identity_provider.is_none());
}

#[tokio::test]
async fn identity_provider_tokens_have_no_session_and_keep_working() {
    let app = app_with_linked_subject().await;
    let token = sign(&rsa_2025(), &claims("idp|known"));
    let (status, body) = app
        .gql(Some(&token), "mutation { logOut }", json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["logOut"], false, "no session to end: {body}");
    let (_, body) = app
        .gql(
            Some(&token),
            "{ viewer { handle sessions { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["viewer"],
        json!({ "handle": "known", "sessions": [] }),
        "{body}"
    );
    let change = "mutation { changePassword(oldPassword: \"\", newPassword: \"password123\") }";
    let (_, body) = app.gql(Some(&token), change, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "oldPassword",
        "no password to change: {body}"
    );
    assert_viewer(&app, &token, "known", "still signed in").await;
}
