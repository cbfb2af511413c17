//! The accounts, videos, cursors and signing keys the server starts with: where the fuzzer's
//! real IDs, cursors and tokens come from.
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

/// The `iss` and `aud` the server requires of the identity provider's tokens.
pub(crate) const IDP_ISSUER: &str = "https://idp.fuzz.test/";
pub(crate) const IDP_AUDIENCE: &str = "tally-fuzz";
const FIXTURE_PASSWORD: &str = "fixture password 7d1c";

pub(crate) struct Account {
    pub(crate) id: String,
    pub(crate) token: String,
    pub(crate) handle: String,
    /// The `sid` of its token's session.
    pub(crate) sid: String,
}

/// The `sid` claim of one of the service's tokens.
fn sid_of_token(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let claims: Value = serde_json::from_slice(&bytes).expect("claims");
    claims["sid"].as_str().expect("sid").to_owned()
}

/// The world the fuzzer's real IDs, cursors and tokens come from.
pub(crate) struct Fixture {
    pub(crate) accounts: Vec<Account>,
    pub(crate) videos: Vec<String>,
    /// Real cursors of every list kind (videos, likers, liked videos, users).
    pub(crate) cursors: Vec<String>,
    /// The identity provider's signing keys: `kid`, algorithm, key.
    pub(crate) idp_keys: Vec<(&'static str, Algorithm, EncodingKey)>,
}

/// POSTs GraphQL and returns `data`, failing on any error.
async fn setup_gql(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Value {
    let mut req = http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let body: Value = req
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert!(body.get("errors").is_none(), "set-up `{query}`: {body}");
    body["data"].clone()
}

impl Fixture {
    pub(crate) async fn build(http: &reqwest::Client, base: &str) -> Fixture {
        let mut accounts = Vec::new();
        for (handle, extra) in [
            ("fz_alice", ""),
            ("fz_bob", "visibility: PRIVATE, likesVisibility: FOLLOWERS"),
            ("fz_carol", "likesVisibility: ONLY_ME"),
            ("fz_dave", ""),
        ] {
            let q = format!(
                r#"mutation($p: String!) {{ signUp(input: {{handle: "{handle}", password: $p, {extra}}}) {{ token user {{ id }} }} }}"#
            );
            let d = setup_gql(http, base, None, &q, json!({ "p": FIXTURE_PASSWORD })).await;
            let token = d["signUp"]["token"].as_str().expect("token").to_owned();
            accounts.push(Account {
                id: d["signUp"]["user"]["id"].as_str().expect("id").to_owned(),
                sid: sid_of_token(&token),
                token,
                handle: handle.to_owned(),
            });
        }
        let tok = |i: usize| accounts[i].token.clone();
        let mut videos = Vec::new();
        for (i, caption) in [
            (0, "alice one"),
            (0, "alice two"),
            (1, "bob one"),
            (2, "carol"),
        ] {
            let d = setup_gql(
                http,
                base,
                Some(&tok(i)),
                "mutation($c: String!) { createVideo(input: {mediaUrl: \"https://media.example.com/v.mp4\", caption: $c, hashtags: [\"fuzz\"]}) { id } }",
                json!({ "c": caption }),
            )
            .await;
            videos.push(d["createVideo"]["id"].as_str().expect("id").to_owned());
        }
        let follow = "mutation($u: ID!) { followUser(userId: $u) { state } }";
        let like = "mutation($v: ID!) { likeVideo(videoId: $v) { likeCount } }";
        // bob and carol follow alice; alice asks to follow private bob (pending).
        for (who, whom) in [(1, 0), (2, 0), (0, 1), (3, 0)] {
            let u = accounts[whom].id.clone();
            setup_gql(http, base, Some(&tok(who)), follow, json!({ "u": u })).await;
        }
        for who in [1, 2, 3] {
            let v = videos[0].clone();
            setup_gql(http, base, Some(&tok(who)), like, json!({ "v": v })).await;
        }
        setup_gql(
            http,
            base,
            Some(&tok(2)),
            "mutation($u: ID!) { blockUser(userId: $u) }",
            json!({ "u": accounts[3].id }),
        )
        .await;
        // One real cursor of every list kind, in this order: who asks, what, and where the
        // cursors are in the answer.
        let lists: [(usize, &str, Value, &[&str]); 5] = [
            (
                0,
                "{ feed(first: 1) { pageInfo { endCursor } } viewer { videos(first: 1) { pageInfo { endCursor } } } }",
                json!({}),
                &["/feed/pageInfo/endCursor", "/viewer/videos/pageInfo/endCursor"],
            ),
            (
                0,
                "query($v: ID!) { video(id: $v) { visibleLikers(first: 1) { pageInfo { endCursor } } } }",
                json!({ "v": videos[0] }),
                &["/video/visibleLikers/pageInfo/endCursor"],
            ),
            (
                3,
                "{ viewer { likedVideos(first: 1) { pageInfo { endCursor } } } }",
                json!({}),
                &["/viewer/likedVideos/pageInfo/endCursor"],
            ),
            (
                1,
                "{ viewer { followRequests(first: 1) { pageInfo { endCursor } } } }",
                json!({}),
                &["/viewer/followRequests/pageInfo/endCursor"],
            ),
            (
                2,
                "{ viewer { blockedUsers(first: 1) { pageInfo { endCursor } } } }",
                json!({}),
                &["/viewer/blockedUsers/pageInfo/endCursor"],
            ),
        ];
        let mut cursors = Vec::new();
        for (who, query, variables, at) in lists {
            let d = setup_gql(http, base, Some(&tok(who)), query, variables).await;
            for at in at {
                let c = d.pointer(at).and_then(Value::as_str);
                cursors.push(
                    c.unwrap_or_else(|| panic!("no cursor at {at} in {d}"))
                        .to_owned(),
                );
            }
        }

        let key = |name: &str| {
            let path = format!("{}/tests/fixtures/idp/{name}", env!("CARGO_MANIFEST_DIR"));
            std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
        };
        let idp_keys = vec![
            (
                "ec-p256",
                Algorithm::ES256,
                EncodingKey::from_ec_pem(&key("ec-p256.key.pem")).expect("EC key"),
            ),
            (
                "ed25519",
                Algorithm::EdDSA,
                EncodingKey::from_ed_pem(&key("ed25519.key.pem")).expect("Ed25519 key"),
            ),
            (
                "rsa-2025",
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(&key("rsa-2025.key.pem")).expect("RSA key"),
            ),
        ];
        Fixture {
            accounts,
            videos,
            cursors,
            idp_keys,
        }
    }
}
