//! Observability of a real `tally serve` process (its own, so that its process-wide metrics
//! count this test's traffic only): a scrape after known traffic, `--metrics-bind`, request
//! IDs echoed and logged, and a debug-level log (text and JSON) without any secret in it.
use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{mpsc, Arc, Mutex},
    thread::JoinHandle,
    time::Duration,
};

use serde_json::{json, Value};

use crate::helpers::{fresh_database_url, outputs, ID_KEY, SECRET};

/// A running `tally serve` whose output (stdout and stderr) is kept, line by line.
struct Served {
    child: Child,
    base: String,
    metrics_base: Option<String>,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    http: reqwest::Client,
}

impl Served {
    /// `tally serve` on a fresh database with the test keys and `env`; returns once it
    /// listens (and, with `TALLY_METRICS_BIND`, once its metrics listener is announced).
    async fn start(env: &[(&str, &str)]) -> Served {
        let url = fresh_database_url().await;
        let mut child = Command::new(env!("CARGO_BIN_EXE_tally"))
            .arg("serve")
            .env("DATABASE_URL", &url)
            .env("TALLY_BIND", "127.0.0.1:0")
            .env(
                "TALLY_JWT_SECRET",
                std::str::from_utf8(SECRET).expect("secret"),
            )
            .env("TALLY_ID_KEY", ID_KEY)
            .env("TALLY_GRAPHIQL", "false")
            .env("TALLY_DB_POOL", "8")
            .env_remove("TALLY_DEMO")
            .env_remove("TALLY_METRICS_BIND")
            .env_remove("TALLY_LOG_FORMAT")
            .env_remove("TALLY_OTLP_ENDPOINT")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tally");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, announced) = mpsc::channel::<String>();
        let readers = outputs(&mut child)
            .into_iter()
            .map(|out| {
                let (lines, tx) = (lines.clone(), tx.clone());
                std::thread::spawn(move || {
                    for line in BufReader::new(out).lines().map_while(Result::ok) {
                        lines.lock().expect("lines").push(line.clone());
                        // The receiver stops listening once the server is up.
                        let _ = tx.send(line);
                    }
                })
            })
            .collect();
        let wants_metrics = env.iter().any(|(k, _)| *k == "TALLY_METRICS_BIND");
        let (mut base, mut metrics_base) = (None, None);
        while base.is_none() || (wants_metrics && metrics_base.is_none()) {
            let line = announced
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|e| {
                    let seen = lines.lock().expect("lines").join("\n");
                    panic!("tally did not announce its listeners ({e}):\n{seen}")
                });
            if let Some(url) = line.trim().strip_prefix("GraphQL: ") {
                base = Some(url.trim_end_matches("/graphql").to_owned());
            }
            if let Some(url) = line.trim().strip_prefix("Metrics: ") {
                metrics_base = Some(url.trim_end_matches("/metrics").to_owned());
            }
        }
        Served {
            child,
            base: base.expect("base"),
            metrics_base,
            lines,
            readers,
            http: reqwest::Client::new(),
        }
    }

    /// POSTs `body` to `/graphql` with `headers`; the status, the `X-Request-Id` answered
    /// and the body.
    async fn post(&self, headers: &[(&str, &str)], body: Value) -> (u16, String, Value) {
        let mut req = self.http.post(format!("{}/graphql", self.base)).json(&body);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let id = request_id(&resp);
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, id, body)
    }

    async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| ("Authorization", a))
            .into_iter()
            .collect();
        let body = json!({ "query": query, "variables": variables });
        self.post(&headers, body).await.2
    }

    async fn get(&self, url: String) -> (u16, String, String) {
        let resp = self.http.get(url).send().await.expect("request");
        let status = resp.status().as_u16();
        let id = request_id(&resp);
        (status, id, resp.text().await.expect("body"))
    }

    /// Stops the process and returns everything it printed.
    fn stop(mut self) -> Vec<String> {
        self.child.kill().ok();
        self.child.wait().ok();
        for reader in std::mem::take(&mut self.readers) {
            reader.join().ok();
        }
        std::mem::take(&mut *self.lines.lock().expect("lines"))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn request_id(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A scrape as `(name, labels) → value`.
type Scrape = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// Parses the Prometheus text format (the lines of samples; comments skipped).
fn parse_scrape(text: &str) -> Scrape {
    let mut out = Scrape::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once('=').expect("label");
                (k.to_owned(), v.trim_matches('"').to_owned())
            })
            .collect();
        let value = value.parse().unwrap_or(f64::NAN);
        out.insert((name.to_owned(), labels), value);
    }
    out
}

/// The value of `name` with exactly `labels`, if scraped.
fn sample(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    scrape.get(&(name.to_owned(), labels)).copied()
}

const SIGN_UP: &str =
    "mutation Join($input: SignUpInput!) { signUp(input: $input) { token refreshToken } }";

#[tokio::test]
async fn a_scrape_after_known_traffic_counts_operations_errors_refusals_and_the_pool() {
    let server = Served::start(&[
        ("TALLY_METRICS_BIND", "127.0.0.1:0"),
        ("TALLY_RATE_AUTH", "1/h"),
        ("TALLY_RATE_AUTH_BURST", "2"),
        ("RUST_LOG", "warn"),
    ])
    .await;
    // Three sign-ups from one address: the third is refused by the auth bucket.
    for (i, refused) in [(0, false), (1, false), (2, true)] {
        let input =
            json!({ "input": { "handle": format!("metered{i}"), "password": "password123" } });
        let body = server.gql(None, SIGN_UP, input).await;
        let code = body["errors"][0]["extensions"]["code"].as_str();
        assert_eq!(code == Some("RATE_LIMITED"), refused, "{body}");
    }
    for _ in 0..3 {
        server
            .gql(None, "query Probe { __typename }", json!({}))
            .await;
    }
    for _ in 0..2 {
        server.gql(None, "{ __typename }", json!({})).await;
    }
    let broken = server.gql(None, "query Broken { nope }", json!({})).await;
    assert_eq!(broken["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    // An operation name the document does not define, with a name no label may take.
    let (_, _, unknown) = server
        .post(
            &[],
            json!({ "query": "query A { __typename }", "operationName": "no such op" }),
        )
        .await;
    assert!(unknown.get("errors").is_some(), "{unknown}");
    // 120 more names: with Join, Probe and Broken, the first 97 are kept, 23 are `other`.
    for i in 0..120 {
        let query = format!("query Many{i} {{ __typename }}");
        server.gql(None, &query, json!({})).await;
    }
    let (status, _, _) = server.get(format!("{}/readyz", server.base)).await;
    assert_eq!(status, 200);

    // Only on the metrics listener.
    let (status, _, _) = server.get(format!("{}/metrics", server.base)).await;
    assert_eq!(status, 404, "/metrics moved to --metrics-bind");
    let metrics_base = server.metrics_base.clone().expect("metrics listener");
    let (status, id, text) = server.get(format!("{metrics_base}/metrics")).await;
    assert_eq!(status, 200);
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "request id {id:?}");
    let scrape = parse_scrape(&text);
    let requests = |operation: &str, kind: &str| {
        sample(
            &scrape,
            "tally_graphql_requests_total",
            &[("operation", operation), ("type", kind)],
        )
    };
    assert_eq!(requests("Join", "mutation"), Some(3.0), "{text}");
    assert_eq!(requests("Probe", "query"), Some(3.0), "{text}");
    assert_eq!(requests("anonymous", "query"), Some(2.0), "{text}");
    assert_eq!(requests("Broken", "query"), Some(1.0), "{text}");
    assert_eq!(requests("other", "unknown"), Some(1.0), "{text}");
    assert_eq!(requests("other", "query"), Some(23.0), "{text}");
    assert_eq!(requests("Many96", "query"), Some(1.0), "{text}");
    assert_eq!(requests("Many97", "query"), None, "{text}");
    let names: std::collections::BTreeSet<&String> = scrape
        .keys()
        .filter(|(name, _)| name == "tally_graphql_requests_total")
        .filter_map(|(_, labels)| labels.get("operation"))
        .collect();
    assert_eq!(
        names.len(),
        102,
        "100 names, anonymous and other: {names:?}"
    );
    // The latency histogram, by the same labels.
    let probe = [("operation", "Probe"), ("type", "query")];
    assert_eq!(
        sample(
            &scrape,
            "tally_graphql_request_duration_seconds_count",
            &probe
        ),
        Some(3.0),
        "{text}"
    );
    let probe_inf = [("operation", "Probe"), ("type", "query"), ("le", "+Inf")];
    assert_eq!(
        sample(
            &scrape,
            "tally_graphql_request_duration_seconds_bucket",
            &probe_inf
        ),
        Some(3.0),
        "{text}"
    );
    // Errors by code; refusals by bucket.
    let errors = |code| sample(&scrape, "tally_graphql_errors_total", &[("code", code)]);
    assert_eq!(errors("RATE_LIMITED"), Some(1.0), "{text}");
    assert_eq!(errors("BAD_USER_INPUT"), Some(2.0), "{text}");
    assert_eq!(
        sample(&scrape, "tally_rate_limited_total", &[("bucket", "auth")]),
        Some(1.0),
        "{text}"
    );
    // The pool, the statements, readiness.
    assert_eq!(
        sample(&scrape, "tally_db_pool_max_connections", &[]),
        Some(8.0)
    );
    let in_use = sample(&scrape, "tally_db_pool_connections", &[("state", "in_use")]);
    let idle = sample(&scrape, "tally_db_pool_connections", &[("state", "idle")]);
    let (in_use, idle) = (in_use.expect("in use"), idle.expect("idle"));
    assert!(in_use + idle >= 1.0 && in_use + idle <= 8.0, "{text}");
    for kind in ["select", "insert"] {
        let count = sample(
            &scrape,
            "tally_db_statement_duration_seconds_count",
            &[("kind", kind)],
        );
        assert!(count.is_some_and(|c| c >= 2.0), "{kind}: {text}");
    }
    assert_eq!(sample(&scrape, "tally_ready", &[]), Some(1.0), "{text}");
    assert_eq!(
        sample(&scrape, "tally_db_transaction_retries_total", &[]),
        Some(0.0),
        "{text}"
    );
    // The live slice's metrics are on the same recorder, from the start.
    assert_eq!(
        sample(&scrape, "tally_live_connections", &[]),
        Some(0.0),
        "{text}"
    );
}

/// What a client sends that no log line may hold.
struct Secrets {
    password: &'static str,
    wrong_password: &'static str,
    variable: &'static str,
    bogus_token: &'static str,
    tokens: Vec<String>,
}

/// Signs up, logs in (rightly and wrongly), refreshes, reads and writes with tokens and
/// variables holding known secrets; checks the request IDs answered on the way.
async fn drive_secret_traffic(server: &Served) -> Secrets {
    let mut s = Secrets {
        password: "Pw-0bs-s3cr3t-passw0rd",
        wrong_password: "Wr0ng-0bs-s3cr3t-pass",
        variable: "s3cr3t-variable-value",
        bogus_token: "s3cr3t-bogus-bearer-token",
        tokens: Vec::new(),
    };
    let sign_up = json!({
        "query": SIGN_UP,
        "variables": { "input": { "handle": "logged", "password": s.password } },
    });
    let (status, id, body) = server
        .post(&[("X-Request-Id", "obs-test.req_1")], sign_up)
        .await;
    assert_eq!((status, id.as_str()), (200, "obs-test.req_1"), "{body}");
    let token = body["data"]["signUp"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("sign-up: {body}"))
        .to_owned();
    let refresh = body["data"]["signUp"]["refreshToken"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    s.tokens.extend([token, refresh.clone()]);

    let log_in =
        "mutation Enter($input: LogInInput!) { logIn(input: $input) { token refreshToken } }";
    let ok = server
        .gql(
            None,
            log_in,
            json!({ "input": { "handle": "logged", "password": s.password } }),
        )
        .await;
    let token = ok["data"]["logIn"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("log-in: {ok}"))
        .to_owned();
    s.tokens.push(token.clone());
    let wrong = server
        .gql(
            None,
            log_in,
            json!({ "input": { "handle": "logged", "password": s.wrong_password } }),
        )
        .await;
    assert_eq!(wrong["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    let refreshed = server
        .gql(
            None,
            "mutation Renew($t: String!) { refreshSession(refreshToken: $t) { token refreshToken } }",
            json!({ "t": refresh }),
        )
        .await;
    let pair = &refreshed["data"]["refreshSession"];
    for field in ["token", "refreshToken"] {
        let t = pair[field]
            .as_str()
            .unwrap_or_else(|| panic!("refresh: {refreshed}"));
        s.tokens.push(t.to_owned());
    }
    // The old refresh token again: reuse ends the session (an error, logged or not).
    server
        .gql(
            None,
            "mutation Renew($t: String!) { refreshSession(refreshToken: $t) { token } }",
            json!({ "t": refresh }),
        )
        .await;

    let me = server
        .gql(Some(&token), "query Me { viewer { handle } }", json!({}))
        .await;
    let video =
        json!({ "input": { "caption": s.variable, "mediaUrl": "https://cdn.example.com/v.mp4" } });
    let posted = server
        .gql(
            Some(&token),
            "mutation Post($input: CreateVideoInput!) { createVideo(input: $input) { id } }",
            video,
        )
        .await;
    assert!(
        posted["data"]["createVideo"]["id"].is_string(),
        "{posted} {me}"
    );
    // The secret as a value of the wrong type, and as a handle that is not one.
    server
        .gql(
            None,
            "query Typed($n: Int!) { __typename }",
            json!({ "n": s.variable }),
        )
        .await;
    server
        .gql(
            None,
            "query Look($h: String!) { user(handle: $h) { handle } }",
            json!({ "h": s.variable }),
        )
        .await;

    // A bogus token: 401, with a fresh request ID in place of a malformed one.
    let bearer = format!("Bearer {}", s.bogus_token);
    let (status, id, _) = server
        .post(
            &[
                ("Authorization", bearer.as_str()),
                ("X-Request-Id", "not a well-formed id"),
            ],
            json!({ "query": "{ __typename }" }),
        )
        .await;
    assert_eq!(status, 401);
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "replaced: {id:?}");
    // Probes and unknown paths carry one too.
    for path in ["/readyz", "/healthz", "/no-such-page"] {
        let (_, id, _) = server.get(format!("{}{path}", server.base)).await;
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{path}: {id:?}");
    }
    s
}

/// Fails if any line of `log` holds one of `secrets` (a token, or its signature alone).
fn assert_no_secret(log: &[String], secrets: &Secrets) {
    let mut needles = vec![
        secrets.password.to_owned(),
        secrets.wrong_password.to_owned(),
        secrets.variable.to_owned(),
        secrets.bogus_token.to_owned(),
    ];
    for token in &secrets.tokens {
        needles.push(token.clone());
        if let Some((_, signature)) = token.rsplit_once('.') {
            needles.push(signature.to_owned());
        }
    }
    for line in log {
        for needle in &needles {
            assert!(
                !line.contains(needle.as_str()),
                "a secret in the log: {line}"
            );
        }
    }
}

#[tokio::test]
async fn text_logs_carry_the_request_id_and_no_secret() {
    // Every level: the dependencies' trace lines (sqlx, SeaORM, actix) are searched too.
    let server = Served::start(&[("RUST_LOG", "trace")]).await;
    let secrets = drive_secret_traffic(&server).await;
    let log = server.stop();
    assert!(
        log.iter()
            .filter(|l| l.contains("request answered"))
            .count()
            >= 10,
        "the requests are logged at debug: {log:#?}"
    );
    assert_no_secret(&log, &secrets);
    // Every line of that request carries its ID, the operation's lines its name too.
    let of_request: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("obs-test.req_1"))
        .collect();
    assert!(
        of_request
            .iter()
            .any(|l| l.contains("request_id=obs-test.req_1") && l.contains("request answered")),
        "{of_request:#?}"
    );
    assert!(
        of_request
            .iter()
            .any(|l| l.contains("operation=Join") && l.contains("kind=mutation")),
        "{of_request:#?}"
    );
    assert!(!log.iter().any(|l| l.contains("not a well-formed id")));
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_the_request_id_and_no_secret() {
    let server = Served::start(&[("RUST_LOG", "debug"), ("TALLY_LOG_FORMAT", "json")]).await;
    let secrets = drive_secret_traffic(&server).await;
    let log = server.stop();
    assert_no_secret(&log, &secrets);
    let events: Vec<Value> = log
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(events.len() >= 10, "{log:#?}");
    // Besides the listener announcements, every line is an event.
    let others: Vec<&String> = log
        .iter()
        .filter(|l| !l.starts_with('{') && !l.contains("http://127.0.0.1:"))
        .collect();
    assert!(others.is_empty(), "{others:#?}");
    let of_request: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["spans"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["request_id"] == "obs-test.req_1"))
        })
        .collect();
    assert!(
        of_request
            .iter()
            .any(|e| e["fields"]["message"] == "request answered"),
        "{of_request:#?}"
    );
    assert!(
        of_request.iter().any(|e| e["spans"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["operation"] == "Join"))),
        "{of_request:#?}"
    );
}

#[tokio::test]
async fn transactions_retried_after_a_conflict_are_counted() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, TransactionTrait};

    tally::observability::metrics::install();
    let path = std::env::temp_dir().join(format!("tally-retries-{}.db", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let holder = tally::db::connect(&url, 1).await.expect("connect");
    Migrator::up(&holder, None).await.expect("migrate");
    let retried = tally::db::connect(&url, 1).await.expect("connect");
    retried
        .execute_unprepared("PRAGMA busy_timeout = 0")
        .await
        .expect("no waiting");
    let retries = |db| {
        let scrape = parse_scrape(&tally::observability::metrics::render(db));
        sample(&scrape, "tally_db_transaction_retries_total", &[]).unwrap_or(0.0)
    };
    let before = retries(&retried);
    // The write lock held throughout: every attempt is SQLITE_BUSY, and all are retried
    // but the last.
    let lock = holder.begin().await.expect("begin");
    lock.execute_unprepared("UPDATE users SET id = id WHERE 1 = 0")
        .await
        .expect("write lock taken");
    let outcome = tally::db::transaction(&retried, |_| {
        Box::pin(async { Ok::<(), tally::error::AppError>(()) })
    })
    .await;
    assert!(outcome.is_err(), "the lock was never released");
    lock.rollback().await.expect("rollback");
    let after = retries(&retried);
    assert!(after - before >= 7.0, "retries counted: {before} → {after}");
    std::fs::remove_file(&path).ok();
}

/// With the `otel` feature: the spans reach an OTLP/HTTP collector (here a listener that
/// takes one export), flushed at shutdown at the latest.
#[cfg(feature = "otel")]
#[tokio::test]
async fn spans_are_exported_over_otlp_http() {
    use std::io::Write;

    use crate::helpers::read_headers_and_body;

    let collector = std::net::TcpListener::bind("127.0.0.1:0").expect("collector");
    let endpoint = format!(
        "http://{}/v1/traces",
        collector.local_addr().expect("address")
    );
    let received = std::thread::spawn(move || {
        let (mut conn, _) = collector.accept().expect("an export");
        conn.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let mut reader = BufReader::new(conn.try_clone().expect("clone"));
        let mut request_line = String::new();
        reader.read_line(&mut request_line).expect("request line");
        let (headers, body) = read_headers_and_body(&mut reader);
        conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .ok();
        (request_line, headers, body)
    });
    let server = Served::start(&[("RUST_LOG", "info"), ("TALLY_OTLP_ENDPOINT", &endpoint)]).await;
    server
        .gql(None, "query Traced { __typename }", json!({}))
        .await;
    // SIGTERM: a graceful stop flushes the spans not yet exported.
    let pid = server.child.id().to_string();
    let term = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(term.success());
    let (request_line, headers, body) = received.join().expect("collector thread");
    assert!(
        request_line.starts_with("POST /v1/traces "),
        "{request_line}"
    );
    assert!(
        headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("content-type: application/x-protobuf")),
        "{headers:?}"
    );
    let has = |needle: &str| body.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(has("tally"), "the service name");
    assert!(
        has("request") && has("graphql") && has("Traced"),
        "the spans"
    );
    server.stop();
}
