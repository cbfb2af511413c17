//! GraphQL over HTTP as the specification says (media types, status codes, GET) and CORS,
//! over the real service. `.ci/conformance.sh` runs the ecosystem's audit against the
//! release binary; these name the cases a client notices.
use clap::Parser;
use reqwest::{header::HeaderMap, Method, RequestBuilder};
use serde_json::{json, Value};
use tally::{config::Cli, cors::CorsOrigins};

use crate::helpers::TestApp;

const JSON: &str = "application/json";
const GQL: &str = "application/graphql-response+json";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Sends `req`; the status, headers and body (JSON, or the text as a JSON string).
async fn send(req: RequestBuilder) -> (u16, HeaderMap, Value) {
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

/// POSTs `body` as JSON with `accept` (none if `None`).
async fn post(app: &TestApp, accept: Option<&str>, body: Value) -> (u16, HeaderMap, Value) {
    let mut req = app
        .http
        .post(format!("{}/graphql", app.base))
        .header("Content-Type", JSON)
        .body(body.to_string());
    if let Some(a) = accept {
        req = req.header("Accept", a);
    }
    send(req).await
}

/// GETs `/graphql` with `params` in the query string.
async fn get(app: &TestApp, accept: &str, params: &[(&str, &str)]) -> (u16, HeaderMap, Value) {
    let req = app
        .http
        .get(format!("{}/graphql", app.base))
        .query(params)
        .header("Accept", accept);
    send(req).await
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn each_client_gets_the_media_type_it_accepts() {
    let app = TestApp::spawn().await;
    let query = json!({ "query": "{ __typename }" });
    let cases = [
        (Some(JSON), JSON),
        (Some(GQL), GQL),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            GQL,
        ),
        (Some("*/*"), JSON),
        (None, JSON),
    ];
    for (accept, want) in cases {
        let (status, headers, body) = post(&app, accept, query.clone()).await;
        assert_eq!(status, 200, "Accept {accept:?}: {body}");
        let content_type = header(&headers, "content-type");
        assert!(
            content_type.starts_with(want),
            "Accept {accept:?}: content-type {content_type}, expected {want}"
        );
        assert_eq!(body["data"]["__typename"], "Query", "Accept {accept:?}");
    }
    let (status, _, body) = post(&app, Some("text/plain"), query).await;
    assert_eq!((status, code(&body)), (406, "BAD_USER_INPUT"), "{body}");
}

#[tokio::test]
async fn request_errors_are_400_without_data_for_graphql_response_clients_and_200_for_json() {
    let app = TestApp::spawn().await;
    let failures = [
        ("syntax", json!({ "query": "{" })),
        ("validation", json!({ "query": "{ noSuchField }" })),
        (
            "variable coercion",
            json!({ "query": "query($id: ID!) { __typename }", "variables": { "id": null } }),
        ),
        (
            "missing variable",
            json!({ "query": "query($n: Int!) { __typename }" }),
        ),
        (
            "variable of another type",
            json!({ "query": "query($n: Int) { __typename }", "variables": { "n": "x" } }),
        ),
    ];
    for (what, request) in failures {
        for (accept, want) in [(JSON, 200), (GQL, 400)] {
            let (status, _, body) = post(&app, Some(accept), request.clone()).await;
            assert_eq!(status, want, "{what} accepting {accept}: {body}");
            assert_eq!(code(&body), "BAD_USER_INPUT", "{what}: {body}");
            assert!(
                body.get("data").is_none(),
                "{what} accepting {accept}: a request error has no data entry: {body}"
            );
        }
    }
    // An error while executing is no request error: `data` is there and the status 200.
    let executed = json!({ "query": "{ video(id: \"not-an-id\") { id } }" });
    let (status, _, body) = post(&app, Some(GQL), executed).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({ "video": null }), "{body}");
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
}

#[tokio::test]
async fn a_post_must_be_json_with_parameters_of_the_specified_types() {
    let app = TestApp::spawn().await;
    let url = format!("{}/graphql", app.base);
    let body = json!({ "query": "{ __typename }" }).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/json; charset=latin1"),
    ] {
        let mut req = app.http.post(&url).body(body.clone());
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        let (status, _, answer) = send(req).await;
        assert_eq!(
            (status, code(&answer)),
            (415, "BAD_USER_INPUT"),
            "Content-Type {content_type:?}: {answer}"
        );
    }
    for bad in [
        json!({ "notquery": "{ __typename }" }),
        json!({ "query": 1 }),
        json!({ "query": "{ __typename }", "operationName": false }),
        json!({ "query": "{ __typename }", "variables": "x" }),
        json!({ "query": "{ __typename }", "extensions": ["x"] }),
    ] {
        let (status, _, answer) = post(&app, Some(JSON), bad.clone()).await;
        assert_eq!(
            (status, code(&answer)),
            (400, "BAD_USER_INPUT"),
            "{bad}: {answer}"
        );
    }
    let nulls = json!({
        "query": "{ __typename }", "operationName": null, "variables": null, "extensions": null
    });
    let (status, _, answer) = post(&app, Some(JSON), nulls).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({ "data": { "__typename": "Query" } }));
}

#[tokio::test]
async fn get_runs_queries_from_the_query_string() {
    let app = TestApp::spawn().await;
    let query = "query Type($name: String!) { __type(name: $name) { name } }";
    for accept in [JSON, GQL] {
        let (status, headers, body) = get(
            &app,
            accept,
            &[
                ("query", query),
                ("variables", r#"{"name":"User"}"#),
                ("operationName", "Type"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(header(&headers, "content-type").starts_with(accept));
        assert_eq!(body, json!({ "data": { "__type": { "name": "User" } } }));
    }
    // A bad token is a 401 on GET as on POST.
    let req = app
        .http
        .get(format!("{}/graphql", app.base))
        .query(&[("query", "{ viewer { id } }")])
        .header("Authorization", "Bearer nonsense");
    let (status, _, body) = send(req).await;
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"), "{body}");
    for bad in [
        vec![],
        vec![("variables", r#"{"name":"User"}"#)],
        vec![("query", query), ("variables", "not json")],
        vec![("query", query), ("variables", "[1]")],
    ] {
        let (status, _, body) = get(&app, JSON, &bad).await;
        assert_eq!(
            (status, code(&body)),
            (400, "BAD_USER_INPUT"),
            "{bad:?}: {body}"
        );
    }
}

#[tokio::test]
async fn get_never_runs_a_mutation() {
    let app = TestApp::spawn().await;
    let sign_up =
        r#"mutation { signUp(input: {handle: "viaget", password: "password123"}) { token } }"#;
    let named = "query Q { __typename } mutation M { logIn(input: {handle: \"x\", password: \"y\"}) { token } }";
    let cases: [&[(&str, &str)]; 2] = [
        &[("query", sign_up)],
        &[("query", named), ("operationName", "M")],
    ];
    for params in cases {
        for accept in [JSON, GQL] {
            let (status, headers, body) = get(&app, accept, params).await;
            assert_eq!(status, 405, "{params:?}: {body}");
            assert_eq!(header(&headers, "allow"), "POST");
            assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        }
    }
    // The query of the same document may run.
    let (status, _, body) = get(&app, JSON, &[("query", named), ("operationName", "Q")]).await;
    assert_eq!(
        (status, &body["data"]["__typename"]),
        (200, &json!("Query"))
    );
    // Nothing was signed up.
    let (_, body) = app
        .gql(None, r#"{ user(handle: "viaget") { id } }"#, json!({}))
        .await;
    assert_eq!(body["data"]["user"], Value::Null, "{body}");
}

const ORIGIN: &str = "https://app.example.com";

/// A browser's preflight of a signed-in POST from `origin`, asking for `headers`.
async fn preflight(app: &TestApp, origin: &str, headers: &str) -> (u16, HeaderMap) {
    let req = app
        .http
        .request(Method::OPTIONS, format!("{}/graphql", app.base))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", headers);
    let (status, headers, _) = send(req).await;
    (status, headers)
}

#[tokio::test]
async fn a_listed_origin_passes_the_preflight_and_reads_the_answer() {
    let app = TestApp::spawn_with(|s| {
        s.cors = CorsOrigins::parse(&[ORIGIN, "http://localhost:5173"]).expect("origins")
    })
    .await;
    let (status, headers) = preflight(
        &app,
        ORIGIN,
        "content-type, authorization, x-request-id, x-tally-device",
    )
    .await;
    assert!((200..300).contains(&status), "preflight: {status}");
    assert_eq!(header(&headers, "access-control-allow-origin"), ORIGIN);
    let methods = header(&headers, "access-control-allow-methods").to_ascii_uppercase();
    assert!(
        methods.contains("GET") && methods.contains("POST"),
        "{methods}"
    );
    let allowed = header(&headers, "access-control-allow-headers").to_ascii_lowercase();
    for h in [
        "content-type",
        "authorization",
        "x-request-id",
        "x-tally-device",
    ] {
        assert!(allowed.contains(h), "{h} not in {allowed}");
    }
    assert_eq!(header(&headers, "access-control-max-age"), "3600");
    assert!(
        headers.get("access-control-allow-credentials").is_none(),
        "no credentials mode"
    );

    let req = app
        .http
        .post(format!("{}/graphql", app.base))
        .header("Origin", ORIGIN)
        .header("Content-Type", JSON)
        .body(json!({ "query": "{ __typename }" }).to_string());
    let (status, headers, body) = send(req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&headers, "access-control-allow-origin"), ORIGIN);
    // The page may read the answer's request ID.
    let exposed = header(&headers, "access-control-expose-headers").to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "exposed: {exposed}");
    assert!(!header(&headers, "x-request-id").is_empty());
    let vary = header(&headers, "vary").to_ascii_lowercase();
    assert!(
        vary.contains("origin") && vary.contains("accept"),
        "vary: {vary}"
    );
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    let app =
        TestApp::spawn_with(|s| s.cors = CorsOrigins::parse(&[ORIGIN]).expect("origins")).await;
    let unlisted = [
        "https://evil.example.com",
        "https://app.example.com.evil.example",
        "null",
    ];
    for origin in unlisted {
        let (status, headers) = preflight(&app, origin, "content-type, authorization").await;
        assert!(
            headers.get("access-control-allow-origin").is_none(),
            "preflight from {origin}: {status} {headers:?}"
        );
        // The answer is served (same-origin pages send `Origin` too), without CORS headers,
        // so a browser keeps it from the other origin's page.
        let req = app
            .http
            .post(format!("{}/graphql", app.base))
            .header("Origin", origin)
            .header("Content-Type", JSON)
            .body(json!({ "query": "{ __typename }" }).to_string());
        let (status, headers, body) = send(req).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            headers.get("access-control-allow-origin").is_none(),
            "{origin}: {headers:?}"
        );
    }
    // A listed origin asking for a header that is not allowed fails its preflight.
    let (status, headers) = preflight(&app, ORIGIN, "x-custom").await;
    assert!(
        !(200..300).contains(&status) || headers.get("access-control-allow-origin").is_none(),
        "{status} {headers:?}"
    );
    // By default no origin is listed: same-origin only.
    let default = TestApp::spawn().await;
    let (_, headers) = preflight(&default, ORIGIN, "content-type").await;
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "{headers:?}"
    );
}

#[test]
fn cors_origins_are_a_comma_separated_flag() {
    let cli = Cli::try_parse_from(["tally"]).expect("parse");
    assert!(cli.config.cors_origins.is_empty());
    let cli = Cli::try_parse_from([
        "tally",
        "--cors-origins",
        "https://app.example.com,http://localhost:5173",
    ])
    .expect("parse");
    assert_eq!(
        cli.config.cors_origins,
        ["https://app.example.com", "http://localhost:5173"]
    );
}
