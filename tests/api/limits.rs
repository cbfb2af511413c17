//! Abuse limits: every bound on a query's shape, the HTTP request and execution time
//! answers with a coded error naming the limit; introspection and GraphiQL can be turned
//! off; SIGTERM lets the request in flight finish and exits 0.
use std::{
    io::{BufRead, BufReader, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use clap::Parser;
use entity::{LikesVisibility, Visibility};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::{json, Value};
use tally::{
    config::{Cli, Limits},
    domain::videos::{create_video, NewVideo},
};
use uuid::Uuid;

use crate::helpers::{fresh_db, fresh_db_with_pool, vid, Harness, TestApp};

/// The first error of a response, failing the test if there is none.
fn first_error(response: &Value) -> &Value {
    response["errors"]
        .get(0)
        .unwrap_or_else(|| panic!("expected an error, got {response}"))
}

/// Asserts a query-shape refusal: `BAD_USER_INPUT` on `query`, naming `words`.
fn assert_refused(response: &Value, words: &[&str]) {
    let e = first_error(response);
    assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{response}");
    assert_eq!(e["extensions"]["field"], "query", "{response}");
    let message = e["message"].as_str().expect("message");
    for w in words {
        assert!(message.contains(w), "message lacks `{w}`: {message}");
    }
    assert!(response["data"].is_null(), "nothing may run: {response}");
}

/// `feed → edges → node → author → videos → …` nested to exactly `depth` fields.
fn query_of_depth(depth: usize) -> String {
    let path = [
        "feed(first: 1)",
        "edges",
        "node",
        "author",
        "videos(first: 1)",
        "edges",
        "node",
        "author",
        "videos(first: 1)",
        "edges",
        "node",
        "author",
        "videos(first: 1)",
        "edges",
        "node",
    ];
    assert!(depth >= 2 && depth - 1 <= path.len());
    let open: Vec<&str> = path[..depth - 1].to_vec();
    format!("{{ {} {{ id {} }}", open.join(" { "), "}".repeat(depth - 1))
}

#[tokio::test]
async fn depth_12_is_answered_and_depth_13_refused() {
    let h = Harness::new().await;
    let ok = h.run(None, &query_of_depth(12), json!({})).await;
    assert!(ok.get("errors").is_none(), "depth 12: {ok}");
    let refused = h.run(None, &query_of_depth(13), json!({})).await;
    assert_refused(&refused, &["depth 13", "depth limit of 12"]);
}

const LIKERS_OF_FEED: &str = "query($videos: Int!, $likers: Int!) { feed(first: $videos) { \
    edges { node { id visibleLikers(first: $likers) { totalCount edges { node { handle } } } } } } }";

#[tokio::test]
async fn complexity_counts_first_so_a_hundred_likers_of_a_hundred_videos_is_refused() {
    let h = Harness::new().await;
    let big = h
        .run(
            None,
            LIKERS_OF_FEED,
            json!({ "videos": 100, "likers": 100 }),
        )
        .await;
    assert_refused(&big, &["complexity", "complexity limit of 2000"]);
    // The same shape with small pages is cheap.
    let small = h
        .run(None, LIKERS_OF_FEED, json!({ "videos": 10, "likers": 10 }))
        .await;
    assert!(small.get("errors").is_none(), "small pages: {small}");
    // Literal arguments count the same as variables.
    let literal = h
        .run(
            None,
            "{ feed(first: 100) { edges { node { visibleLikers(first: 100) { edges { node { handle } } } } } } }",
            json!({}),
        )
        .await;
    assert_refused(&literal, &["complexity limit of 2000"]);
}

#[tokio::test]
async fn a_negative_first_costs_nothing_extra_and_is_refused_by_the_resolver() {
    let h = Harness::new().await;
    let r = h
        .run(
            None,
            LIKERS_OF_FEED,
            json!({ "videos": -2147483648i64, "likers": 100 }),
        )
        .await;
    let e = first_error(&r);
    assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{r}");
    assert_eq!(e["extensions"]["field"], "first", "{r}");
}

#[tokio::test]
async fn a_fragment_bomb_is_refused_without_expanding_it() {
    // Nine fragments, each spreading the next ten times: 10^8 fields once expanded.
    let mut q = String::from("{ ...F0 }\n");
    for i in 0..8 {
        q += &format!(
            "fragment F{i} on Query {{ {} }}\n",
            format!("...F{} ", i + 1).repeat(10)
        );
    }
    q += "fragment F8 on Query { __typename }\n";
    let h = Harness::new().await;
    let r = tokio::time::timeout(Duration::from_secs(20), h.run(None, &q, json!({})))
        .await
        .expect("the refusal must not take exponential time");
    assert_refused(
        &r,
        &["100000000 fields", "fragments", "complexity limit of 2000"],
    );
}

#[tokio::test]
async fn a_fragment_cycle_is_refused() {
    let h = Harness::new().await;
    let r = h
        .run(
            None,
            "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
            json!({}),
        )
        .await;
    assert_refused(&r, &["spreads itself"]);
}

/// `__typename` inside `n` nested inline fragments: depth 1, nesting `n`.
fn nested_inline_fragments(n: usize) -> String {
    format!(
        "{{ {} __typename {} }}",
        "... on Query { ".repeat(n),
        "} ".repeat(n)
    )
}

#[tokio::test]
async fn nesting_24_is_answered_and_25_refused_by_the_recursive_depth_limit() {
    let h = Harness::new().await;
    let ok = h.run(None, &nested_inline_fragments(24), json!({})).await;
    assert!(ok.get("errors").is_none(), "nesting 24: {ok}");
    let refused = h.run(None, &nested_inline_fragments(25), json!({})).await;
    assert_refused(&refused, &["recursive depth limit of 24"]);
}

#[tokio::test]
async fn five_directives_on_a_field_are_refused() {
    let h = Harness::new().await;
    let ok = h
        .run(
            None,
            "{ viewer @include(if: true) @skip(if: false) { id } }",
            json!({}),
        )
        .await;
    assert!(ok.get("errors").is_none(), "two directives: {ok}");
    let q = format!("{{ viewer {} {{ id }} }}", "@include(if: true) ".repeat(5));
    let refused = h.run(None, &q, json!({})).await;
    assert_refused(
        &refused,
        &["directives on field `viewer`", "5", "directive limit of 4"],
    );
}

fn aliased(n: usize) -> String {
    let fields: Vec<String> = (0..n).map(|i| format!("a{i}: __typename")).collect();
    format!("{{ {} }}", fields.join(" "))
}

#[tokio::test]
async fn thirty_aliases_are_answered_and_thirty_one_refused() {
    let h = Harness::new().await;
    let ok = h.run(None, &aliased(30), json!({})).await;
    assert!(ok.get("errors").is_none(), "30 aliases: {ok}");
    let refused = h.run(None, &aliased(31), json!({})).await;
    assert_refused(&refused, &["31", "alias limit of 30"]);
}

/// GraphiQL's introspection query: 15 levels deep, within every other limit.
const INTROSPECTION: &str = "query IntrospectionQuery { __schema { queryType { name } \
    mutationType { name } subscriptionType { name } types { ...FullType } \
    directives { name description locations args { ...InputValue } } } } \
    fragment FullType on __Type { kind name description \
    fields(includeDeprecated: true) { name description args { ...InputValue } \
    type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue } \
    interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description \
    isDeprecated deprecationReason } possibleTypes { ...TypeRef } } \
    fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue } \
    fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { \
    kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name \
    ofType { kind name ofType { kind name } } } } } } } } } }";

#[tokio::test]
async fn introspection_works_when_enabled_though_deeper_than_the_depth_limit() {
    let h = Harness::new().await;
    let d = h.ok(None, INTROSPECTION, json!({})).await;
    let types = d["__schema"]["types"].as_array().expect("types");
    assert!(types.iter().any(|t| t["name"] == "LikerConnection"), "{d}");
}

#[tokio::test]
async fn an_introspection_query_that_recurses_through_fields_is_refused() {
    let h = Harness::new().await;
    let r = h
        .run(
            None,
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
            json!({}),
        )
        .await;
    assert_refused(&r, &["introspection", "`fields`"]);
}

#[tokio::test]
async fn disabled_introspection_is_refused_and_typename_still_answers() {
    let h = Harness::with_limits(
        fresh_db().await,
        Limits {
            introspection: false,
            ..Limits::default()
        },
    );
    for q in [
        INTROSPECTION,
        "{ __type(name: \"User\") { name fields { name } } }",
        "query Q { viewer { id } } query R { __schema { queryType { name } } }",
    ] {
        let r = h.run(None, q, json!({})).await;
        assert_refused(&r, &["introspection", "disabled"]);
    }
    let d = h.ok(None, "{ __typename viewer { id } }", json!({})).await;
    assert_eq!(d["__typename"], "Query");
}

#[tokio::test]
async fn errors_before_execution_suggest_nothing_and_carry_a_code() {
    let h = Harness::new().await;
    for (q, unknown) in [
        ("{ viewr { id } }", "viewr"),
        ("{ feed(frist: 1) { edges { cursor } } }", "frist"),
        ("{ feed { edges { nod { id } } } }", "nod"),
    ] {
        let r = h.run(None, q, json!({})).await;
        let e = first_error(&r);
        let message = e["message"].as_str().expect("message");
        assert!(message.contains(unknown), "{message}");
        assert!(
            !message.contains("Did you mean"),
            "suggestion in `{message}`"
        );
        assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{r}");
    }
    for q in [
        "{ viewer { id ",
        "query A { __typename } query B { __typename }",
    ] {
        let r = h.run(None, q, json!({})).await;
        assert_eq!(
            first_error(&r)["extensions"]["code"],
            "BAD_USER_INPUT",
            "{r}"
        );
    }
}

#[tokio::test]
async fn an_operation_running_past_the_timeout_is_stopped_with_a_coded_error() {
    // The pool's only connection is held by an open transaction, so the feed query
    // waits for it (up to the pool's 5 s acquire timeout): the 200 ms timeout fires first.
    let db = fresh_db_with_pool(1).await;
    let h = Harness::with_limits(
        db.clone(),
        Limits {
            query_timeout_ms: 200,
            ..Limits::default()
        },
    );
    let q = "{ feed(first: 1) { edges { cursor } } }";
    let held = db.begin().await.expect("hold the only connection");
    let r = h.run(None, q, json!({})).await;
    let e = first_error(&r);
    assert_eq!(e["extensions"]["code"], "INTERNAL", "{r}");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("within 200 ms")),
        "{r}"
    );
    held.rollback().await.expect("release");
    // With the connection free the same query answers.
    h.ok(None, q, json!({})).await;
}

#[tokio::test]
async fn a_like_stopped_by_the_timeout_writes_nothing() {
    let db = fresh_db().await;
    let h = Harness::with_limits(
        db.clone(),
        Limits {
            query_timeout_ms: 300,
            ..Limits::default()
        },
    );
    let author = h
        .account("author", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let fan = h
        .account("fan", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let video = create_video(
        &db,
        author,
        NewVideo {
            caption: "hold on".into(),
            hashtags: vec![],
            sound: None,
            duration_ms: None,
            media_url: "https://media.example.com/v.mp4".into(),
            thumbnail_url: None,
        },
        crate::helpers::now_us(),
    )
    .await
    .map_err(|e| e.message())
    .expect("video")
    .video
    .id;
    // Another transaction holds what the like must write: SQLite's write lock, or on
    // PostgreSQL the video's row (the like's row is inserted, then its counter waits).
    let held = db.begin().await.expect("begin");
    match held.get_database_backend() {
        DbBackend::Postgres => held
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT id FROM videos WHERE id = $1 FOR UPDATE",
                [video.into()],
            ))
            .await
            .map(drop),
        _ => held
            .execute_unprepared("UPDATE users SET id = id WHERE 1 = 0")
            .await
            .map(drop),
    }
    .expect("lock");
    let like = "mutation($id: ID!) { likeVideo(videoId: $id) { likeCount } }";
    let r = h.run(Some(fan), like, json!({ "id": vid(video) })).await;
    let e = first_error(&r);
    assert_eq!(e["extensions"]["code"], "INTERNAL", "{r}");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("within 300 ms")),
        "{r}"
    );
    held.rollback().await.expect("release");

    let count = |q: &'static str| {
        let db = db.clone();
        async move {
            let row = db
                .query_one_raw(Statement::from_string(db.get_database_backend(), q))
                .await
                .expect("count")
                .expect("row");
            row.try_get_by_index::<i64>(0).expect("number")
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM likes").await, 0, "no like row");
    assert_eq!(
        count("SELECT CAST(COALESCE(SUM(like_count), 0) AS BIGINT) FROM video_like_counters").await,
        0,
        "no counted like"
    );
    // Liking again, unhindered, counts once.
    let d = h.ok(Some(fan), like, json!({ "id": vid(video) })).await;
    assert_eq!(d["likeVideo"]["likeCount"], 1);
}

#[tokio::test]
async fn a_batch_of_10_is_answered_and_a_batch_of_11_refused_over_http() {
    let app = TestApp::spawn().await;
    let batch = |n: usize| -> Value {
        Value::Array(
            (0..n)
                .map(|i| json!({ "query": format!("{{ n{i}: __typename }}") }))
                .collect(),
        )
    };
    let (status, body) = app.post(None, batch(10)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(10), "{body}");
    assert_eq!(body[9]["data"]["n9"], "Query");

    let (status, body) = app.post(None, batch(11)).await;
    assert_eq!(status, 400, "{body}");
    let e = first_error(&body);
    assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    let message = e["message"].as_str().expect("message");
    assert!(
        message.contains("11") && message.contains("batch limit of 10"),
        "{message}"
    );
}

#[tokio::test]
async fn a_300_kib_body_is_refused_with_413_and_a_200_kib_body_answered() {
    let app = TestApp::spawn().await;
    // Padded with a comment, which the parser skips.
    let with_padding =
        |kib: usize| json!({ "query": format!("{{ __typename }}\n#{}", "x".repeat(kib * 1024)) });
    let (status, body) = app.post(None, with_padding(200)).await;
    assert_eq!(status, 200, "200 KiB: {body}");
    assert_eq!(body["data"]["__typename"], "Query");

    let (status, body) = app.post(None, with_padding(300)).await;
    assert_eq!(status, 413, "{body}");
    let e = first_error(&body);
    assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("limit of 262144 bytes")),
        "{body}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_a_graphql_request_gets_a_coded_400() {
    let app = TestApp::spawn().await;
    let resp = app
        .http
        .post(format!("{}/graphql", app.base))
        .header("Content-Type", "application/json")
        .body("{\"query\": ")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.expect("JSON body");
    assert_eq!(first_error(&body)["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn graphiql_is_served_unless_disabled_and_then_404() {
    let get = |app: &TestApp, path: &str| {
        app.http
            .get(format!("{}{path}", app.base))
            .header("Accept", "text/html")
            .send()
    };
    let on = TestApp::spawn().await;
    for path in ["/graphiql", "/graphql"] {
        let r = get(&on, path).await.expect("request");
        assert_eq!(r.status().as_u16(), 200, "GET {path}");
    }
    let off = TestApp::spawn_with(|s| {
        s.limits = Limits {
            graphiql: false,
            ..Limits::default()
        }
    })
    .await;
    let r = get(&off, "/graphiql").await.expect("request");
    assert_eq!(r.status().as_u16(), 404, "GET /graphiql");
    // `/graphql` still answers GraphQL GETs, but HTML is nothing it offers any more.
    let r = get(&off, "/graphql").await.expect("request");
    assert_eq!(r.status().as_u16(), 406, "GET /graphql for HTML");
    let (status, body) = off.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(
        (status, &body["data"]["__typename"]),
        (200, &json!("Query"))
    );
}

#[test]
fn the_limits_default_to_the_documented_values_and_read_flags() {
    let cli = Cli::try_parse_from(["tally"]).expect("parse");
    assert_eq!(cli.config.limits, Limits::default());
    let d = Limits::default();
    assert_eq!(
        (d.max_depth, d.max_complexity, d.max_batch, d.max_body_bytes),
        (12, 2_000, 10, 256 * 1024)
    );
    assert_eq!((d.query_timeout_ms, d.shutdown_timeout_secs), (5_000, 10));
    assert!(d.introspection && d.graphiql);

    let cli = Cli::try_parse_from([
        "tally",
        "--introspection",
        "false",
        "--graphiql=off",
        "--max-depth",
        "7",
        "--shutdown-timeout-secs",
        "3",
    ])
    .expect("parse");
    let l = cli.config.limits;
    assert!(!l.introspection && !l.graphiql);
    assert_eq!((l.max_depth, l.shutdown_timeout_secs), (7, 3));
}

/// The `tally` binary, killed if the test fails half-way.
struct Tally(Option<Child>);

impl Drop for Tally {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads one HTTP/1.1 response with a `Content-Length` body: `(status, body)`.
fn read_response(conn: &mut BufReader<TcpStream>) -> (u16, String) {
    let mut status_line = String::new();
    conn.read_line(&mut status_line).expect("status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let (_, body) = crate::helpers::read_headers_and_body(conn);
    (status, String::from_utf8(body).expect("UTF-8 body"))
}

fn post_head(len: usize) -> String {
    format!(
        "POST /graphql HTTP/1.1\r\nHost: tally\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    )
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_and_exits_0() {
    let dir = std::env::temp_dir().join(format!("tally-shutdown-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut tally = Tally(Some(
        Command::new(env!("CARGO_BIN_EXE_tally"))
            .arg("serve")
            .env(
                "DATABASE_URL",
                format!("sqlite://{}?mode=rwc", dir.join("tally.db").display()),
            )
            // Port 0: the kernel picks a free port when Tally binds, and Tally prints it.
            .env("TALLY_BIND", "127.0.0.1:0")
            .env("TALLY_SHUTDOWN_TIMEOUT_SECS", "10")
            .env("TALLY_GRAPHIQL", "false")
            .env("TALLY_INTROSPECTION", "false")
            .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn")
            .env_remove("TALLY_DEMO")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tally"),
    ));
    let pid = tally.0.as_ref().expect("child").id().to_string();
    let stdout = tally
        .0
        .as_mut()
        .and_then(|c| c.stdout.take())
        .expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The first line on tally's output containing `needle`.
    let wait_for = |needle: &str, within: Duration| {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no `{needle}` on tally's output within {within:?}: {e}"),
            }
        }
    };
    // Printed once the port is bound: "GraphQL: http://127.0.0.1:PORT/graphql".
    let announced = wait_for("/graphql", Duration::from_secs(60));
    let port: u16 = announced
        .trim()
        .trim_end_matches("/graphql")
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {announced:?}"));

    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut writer = stream.try_clone().expect("clone");
    let mut conn = BufReader::new(stream);
    writer
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: tally\r\n\r\n")
        .expect("write");
    assert_eq!(read_response(&mut conn), (200, "ok".to_owned()));
    // The environment switched GraphiQL and introspection off.
    writer
        .write_all(b"GET /graphiql HTTP/1.1\r\nHost: tally\r\n\r\n")
        .expect("write");
    assert_eq!(read_response(&mut conn).0, 404);
    let introspection = json!({ "query": "{ __schema { queryType { name } } }" }).to_string();
    writer
        .write_all(format!("{}{introspection}", post_head(introspection.len())).as_bytes())
        .expect("write");
    let (status, body) = read_response(&mut conn);
    assert_eq!(status, 200);
    assert!(
        body.contains("introspection") && body.contains("BAD_USER_INPUT"),
        "{body}"
    );

    // A request in flight: its head is sent, its body not yet.
    let query = json!({ "query": "{ __typename }" }).to_string();
    writer
        .write_all(post_head(query.len()).as_bytes())
        .expect("write head");
    // actix-http closes a connection that has no request under way when the graceful
    // shutdown starts (a client then retries on a new one), so the head must have been
    // read before SIGTERM: give the worker time to parse it. Ordering slack only; nothing
    // here is timed.
    std::thread::sleep(Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(killed.success());
    wait_for("starting graceful shutdown", Duration::from_secs(30));
    writer.write_all(query.as_bytes()).expect("write body");
    let (status, body) = read_response(&mut conn);
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"data":{"__typename":"Query"}}"#),
        "the request in flight finishes"
    );
    drop((writer, conn));

    let (done, exited) = mpsc::channel();
    let mut child = tally.0.take().expect("child");
    std::thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    let Ok(status) = exited.recv_timeout(Duration::from_secs(20)) else {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        panic!("tally did not exit within 20 s of SIGTERM");
    };
    let status = status.expect("wait");
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    std::fs::remove_dir_all(&dir).ok();
}
