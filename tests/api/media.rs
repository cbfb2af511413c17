//! Media URLs over HTTP: `mediaUrl`, `thumbnailUrl` and `avatarUrl` are stored (normalized)
//! and shown; every rule refuses with `BAD_USER_INPUT` naming the field; a video hidden by
//! Rule V or a block has its media as absent as itself.
use serde_json::{json, Value};

use crate::helpers::TestApp;

const CREATE: &str = "mutation($input: CreateVideoInput!) { createVideo(input: $input) { id mediaUrl thumbnailUrl } }";
const MEDIA: &str = "https://cdn.example.com/v/1.mp4";
const THUMB: &str = "https://cdn.example.com/v/1.jpg";

/// Every URL a rule refuses, with the rule.
const BAD: [(&str, &str); 11] = [
    (
        "http://cdn.example.com/a.mp4",
        "plain http to a public host",
    ),
    ("ftp://cdn.example.com/a.mp4", "another scheme"),
    ("javascript:alert(1)", "javascript:"),
    ("data:video/mp4;base64,AAAA", "data:"),
    ("https://user:secret@cdn.example.com/a.mp4", "credentials"),
    ("https://user@cdn.example.com/a.mp4", "a user name"),
    ("/v/1.mp4", "relative"),
    ("cdn.example.com/a.mp4", "no scheme"),
    ("https://cdn.example.com/a b.mp4", "whitespace"),
    (
        "http://localhost.evil.example/a.mp4",
        "http to a host merely named like localhost",
    ),
    ("", "empty"),
];

fn too_long() -> String {
    format!("https://cdn.example.com/{}", "a".repeat(2048 - 24 + 1))
}

fn refusal(body: &Value) -> (&str, &str) {
    let e = &body["errors"][0]["extensions"];
    (
        e["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error: {body}")),
        e["field"].as_str().unwrap_or(""),
    )
}

#[tokio::test]
async fn media_urls_are_stored_normalized_and_shown() {
    let app = TestApp::spawn().await;
    let (_, token) = app
        .sign_up("ana", r#", avatarUrl: "HTTPS://CDN.example.com/a/ana.jpg""#)
        .await;
    let input = json!({ "caption": "c", "mediaUrl": MEDIA, "thumbnailUrl": THUMB });
    let (_, body) = app
        .gql(Some(&token), CREATE, json!({ "input": input }))
        .await;
    let video = &body["data"]["createVideo"];
    assert_eq!(video["mediaUrl"], MEDIA, "{body}");
    assert_eq!(video["thumbnailUrl"], THUMB, "{body}");
    let id = video["id"].as_str().expect("id").to_owned();
    let (_, body) = app
        .gql(
            None,
            "query($id: ID!) { video(id: $id) { mediaUrl thumbnailUrl author { avatarUrl } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["video"]["mediaUrl"], MEDIA, "{body}");
    assert_eq!(
        body["data"]["video"]["author"]["avatarUrl"], "https://cdn.example.com/a/ana.jpg",
        "normalized: {body}"
    );
    // Development hosts may use http; no thumbnail is null.
    let local = json!({ "caption": "c", "mediaUrl": "http://localhost:9000/v.mp4" });
    let (_, body) = app
        .gql(Some(&token), CREATE, json!({ "input": local }))
        .await;
    assert_eq!(
        body["data"]["createVideo"]["mediaUrl"], "http://localhost:9000/v.mp4",
        "{body}"
    );
    assert!(
        body["data"]["createVideo"]["thumbnailUrl"].is_null(),
        "{body}"
    );
    // updateAccount changes the avatar, and `null` removes it.
    let update = "mutation($a: String) { updateAccount(input: {avatarUrl: $a}) { avatarUrl } }";
    let (_, body) = app
        .gql(
            Some(&token),
            update,
            json!({ "a": "http://127.0.0.1:8080/ana.png" }),
        )
        .await;
    assert_eq!(
        body["data"]["updateAccount"]["avatarUrl"], "http://127.0.0.1:8080/ana.png",
        "{body}"
    );
    let (_, body) = app
        .gql(
            Some(&token),
            "mutation { updateAccount(input: {displayName: \"Ana\"}) { avatarUrl } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["updateAccount"]["avatarUrl"], "http://127.0.0.1:8080/ana.png",
        "omitted: kept {body}"
    );
    let (_, body) = app.gql(Some(&token), update, json!({ "a": null })).await;
    assert!(
        body["data"]["updateAccount"]["avatarUrl"].is_null(),
        "{body}"
    );
    // A video needs its media.
    let (_, body) = app
        .gql(
            Some(&token),
            CREATE,
            json!({ "input": { "caption": "no media" } }),
        )
        .await;
    assert_eq!(refusal(&body).0, "BAD_USER_INPUT", "{body}");
}

#[tokio::test]
async fn every_url_rule_refuses_naming_the_field() {
    let app = TestApp::spawn().await;
    let (_, token) = app.sign_up("ana", "").await;
    let long = too_long();
    let mut bad: Vec<(&str, &str)> = BAD.to_vec();
    bad.push((&long, "over 2,048 characters"));
    let mut wrong = Vec::new();
    for (url, rule) in bad {
        let cases = [
            ("input.mediaUrl", CREATE, json!({ "input": { "caption": "c", "mediaUrl": url } })),
            (
                "input.thumbnailUrl",
                CREATE,
                json!({ "input": { "caption": "c", "mediaUrl": MEDIA, "thumbnailUrl": url } }),
            ),
            (
                "input.avatarUrl",
                "mutation($a: String) { updateAccount(input: {avatarUrl: $a}) { id } }",
                json!({ "a": url }),
            ),
            (
                "input.avatarUrl",
                "mutation($a: String) { signUp(input: {handle: \"newcomer\", password: \"password123\", avatarUrl: $a}) { token } }",
                json!({ "a": url }),
            ),
        ];
        for (field, query, vars) in cases {
            let auth = (!query.contains("signUp")).then_some(token.as_str());
            let (status, body) = app.gql(auth, query, vars).await;
            if status != 200 || refusal(&body) != ("BAD_USER_INPUT", field) {
                wrong.push(format!(
                    "{rule} ({url:.40}) on {field}: {status} {body:.300}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Nothing was stored by the refusals.
    let (_, body) = app
        .gql(
            Some(&token),
            "{ viewer { avatarUrl videos { edges { node { id } } } } }",
            json!({}),
        )
        .await;
    assert!(body["data"]["viewer"]["avatarUrl"].is_null(), "{body}");
    assert_eq!(
        body["data"]["viewer"]["videos"]["edges"],
        json!([]),
        "{body}"
    );
    let (_, body) = app
        .gql(None, "{ user(handle: \"newcomer\") { id } }", json!({}))
        .await;
    assert!(body["data"]["user"].is_null(), "{body}");
    // Exactly 2,048 characters is fine.
    let longest = format!("https://cdn.example.com/{}", "a".repeat(2048 - 24));
    assert_eq!(longest.len(), 2048);
    let (_, body) = app
        .gql(
            Some(&token),
            CREATE,
            json!({ "input": { "caption": "c", "mediaUrl": longest } }),
        )
        .await;
    assert_eq!(
        body["data"]["createVideo"]["mediaUrl"],
        longest.as_str(),
        "{body:.200}"
    );
}

#[tokio::test]
async fn a_hidden_videos_media_is_as_absent_as_the_video() {
    let app = TestApp::spawn().await;
    let (_, private_token) = app.sign_up("priv", ", visibility: PRIVATE").await;
    let (_, public_token) = app.sign_up("pub", "").await;
    let (stranger_id, stranger) = app.sign_up("stranger", "").await;
    let post = |token: String, media: &'static str| {
        let app = &app;
        async move {
            let input = json!({ "caption": "c", "mediaUrl": media, "thumbnailUrl": THUMB });
            let (_, body) = app
                .gql(Some(&token), CREATE, json!({ "input": input }))
                .await;
            body["data"]["createVideo"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
                .to_owned()
        }
    };
    let hidden = post(private_token.clone(), "https://cdn.example.com/secret.mp4").await;
    let blocked = post(public_token.clone(), "https://cdn.example.com/blocked.mp4").await;
    let (_, body) = app
        .gql(
            Some(&public_token),
            "mutation($u: ID!) { blockUser(userId: $u) }",
            json!({ "u": crate::helpers::uid(stranger_id) }),
        )
        .await;
    assert_eq!(body["data"]["blockUser"], true, "{body}");
    let read = "query($id: ID!) { video(id: $id) { mediaUrl thumbnailUrl } node(id: $id) { ... on Video { mediaUrl } } }";
    for (who, token) in [("anonymous", None), ("stranger", Some(stranger.as_str()))] {
        for id in [&hidden, &blocked] {
            if who == "anonymous" && id == &blocked {
                continue; // public: anonymous viewers see it
            }
            let (_, body) = app.gql(token, read, json!({ "id": id })).await;
            assert_eq!(
                body["data"],
                json!({ "video": null, "node": null }),
                "{who}: {body}"
            );
            assert!(
                !body.to_string().contains("cdn.example.com"),
                "{who}: {body}"
            );
        }
        let feed = "{ feed(first: 50) { edges { node { mediaUrl thumbnailUrl } } } user(handle: \"priv\") { videos { edges { node { mediaUrl } } } } }";
        let (_, body) = app.gql(token, feed, json!({})).await;
        let text = body.to_string();
        assert!(!text.contains("secret.mp4"), "{who}: {body}");
        assert!(
            !text.contains("blocked.mp4") || who == "anonymous",
            "{who}: {body}"
        );
    }
    // Its author sees it.
    let (_, body) = app
        .gql(Some(&private_token), read, json!({ "id": hidden }))
        .await;
    assert_eq!(
        body["data"]["video"]["mediaUrl"], "https://cdn.example.com/secret.mp4",
        "{body}"
    );
}
