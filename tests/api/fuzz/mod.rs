//! Fuzzing the HTTP API (issue 4). A real `tally` process (the binary, on a fresh database,
//! trusting the test identity provider's JWKS) is sent arbitrary requests:
//!
//! - bodies: random bytes and text, random JSON, JSON nested past every limit, truncated and
//!   oversized bodies, batches (empty, within and over the limit), wrong content types;
//! - GraphQL documents: random text, token soup, and documents drawn from `schema.graphql`
//!   (random selections of the real fields, arguments of the right and the wrong types, huge
//!   and negative numbers, variables declared with the right or a wrong type and given
//!   JSON of the right or a wrong type, aliases, directives, fragments and spreads,
//!   inline fragments, several operations, deep nesting of every kind);
//! - IDs (`node`, `video`, every `userId`/`videoId`) and cursors (every `after`): random
//!   text, base64url of random bytes, a valid kind byte with the wrong length, real IDs and
//!   cursors with a bit flipped, cut short, re-encoded or of the other kind;
//! - `Authorization` headers: random bytes, JWT-shaped garbage, real tokens with tampered
//!   headers, payloads and signatures (`alg: none`, another algorithm, a `kid`), tokens
//!   signed with the right key but wrong claims, with another key, and the identity
//!   provider's tokens with good and bad claims.
//!
//! For every request: an answer arrives; it is never 5xx; its status is the one expected
//! (415 for a body that is not `application/json` in UTF-8, 413 for a body over the limit,
//! 400 for a body that is not a GraphQL request or a batch over the limit, 401
//! `UNAUTHENTICATED` for a bad token, else 200); every error in it has
//! an `extensions.code` of the documented set and none is `INTERNAL`; no message carries
//! internal text; the server printed no panic, is still running, and a good request right
//! after it is answered.
//!
//! Why an answer is expected: the expected status is computed from the request (body
//! media type and size, whether it is a GraphQL request or batch as GraphQL over HTTP
//! defines one (parameters of the specified types), batch size, and
//! whether the header is one the service must accept, which the generator knows: every
//! token it forges or tampers with is invalid, and tokens signed with the right key are
//! judged claim by claim as `src/auth/token.rs` and `src/auth/idp.rs` specify).
//!
//! `TALLY_FUZZ_CASES` sets the number of requests (default [`DEFAULT_CASES`]); proptest
//! prints the minimal failing case and the request it renders to (with the tail of the
//! server's log), and stores the seed in `proptest-regressions/fuzz.txt` so the next run
//! tries it first; `PROPTEST_RNG_SEED` fixes the seed of a run, `TALLY_FUZZ_SHOW=1` prints
//! every request and answer. Inputs that once failed are kept below as plain requests
//! ([`inputs_the_fuzzer_found`]): seeds replay the same input only while the strategies
//! stay the same.
//!
//! The parts: [`server`] (the `tally` process), [`fixture`] (the accounts, videos, cursors
//! and keys it starts with), [`schema_model`] (what documents are drawn from),
//! [`strategies`] (what a case is made of), [`render`] (a case as an HTTP request),
//! [`request`] (the status a request is owed) and [`checks`] (the properties of an answer).
mod checks;
mod fixture;
mod render;
mod request;
mod schema_model;
mod server;
mod strategies;

use std::{
    cell::RefCell,
    time::{Duration, Instant},
};

use proptest::{prelude::*, test_runner::FileFailurePersistence};
use serde_json::{json, Value};

use self::{
    checks::{run_case, send, Stats},
    fixture::Fixture,
    render::Render,
    request::{Cred, Rendered},
    schema_model::Model,
    server::Server,
    strategies::{case, Auth, Body, Case, IdpSpec, Text},
};
use crate::helpers::fresh_database_url;

/// Requests per run unless `TALLY_FUZZ_CASES` says otherwise.
const DEFAULT_CASES: u32 = 1500;
/// Where proptest keeps the seeds of failing cases (replayed first on the next run).
const REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/proptest-regressions/fuzz.txt");

/// Starts the server and the fixture for a fuzz run or a regression test.
fn setup(rt: &tokio::runtime::Runtime) -> (RefCell<Server>, Fixture, reqwest::Client, Model) {
    let url = rt.block_on(fresh_database_url());
    let server = Server::start(&url);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client");
    let fx = rt.block_on(Fixture::build(&http, &server.base));
    (RefCell::new(server), fx, http, Model::load())
}

/// Runs `f` on a thread with a large stack: proptest's value trees of these nested,
/// recursive strategies take more than a test thread's 2 MiB in a debug build.
fn on_large_stack(f: fn()) {
    let worker = std::thread::Builder::new()
        .name("fuzz".into())
        .stack_size(8 << 20)
        .spawn(f)
        .expect("spawn");
    if let Err(panic) = worker.join() {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn fuzz_the_http_api() {
    on_large_stack(fuzz_run);
}

fn fuzz_run() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (server, fx, http, model) = setup(&rt);
    let cases: u32 = std::env::var("TALLY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let config = ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    };
    let stats = RefCell::new(Stats::default());
    let started = Instant::now();
    proptest!(config, |(c in case())| {
        let req = Render::new(&model, &fx).case(&c);
        if std::env::var_os("TALLY_FUZZ_SHOW").is_some() {
            eprintln!("----\n{}\n{:?}", req.describe(), c);
        }
        let outcome = rt.block_on(run_case(&http, &server, &fx, &req, &mut stats.borrow_mut()));
        prop_assert!(outcome.is_ok(), "{}", outcome.err().unwrap_or_default());
    });
    let s = stats.into_inner();
    let requests: u32 = s.statuses.values().sum();
    eprintln!(
        "fuzz: {requests} requests in {:.1} s; statuses {:?}; error codes {:?}; {} operations \
         answered without error, {} resolved data",
        started.elapsed().as_secs_f64(),
        s.statuses,
        s.codes,
        s.clean,
        s.resolved
    );
    assert!(
        requests >= cases,
        "sent {requests} requests, wanted {cases}"
    );
}

/// Inputs that once failed, kept as plain requests (the seeds in
/// `proptest-regressions/fuzz.txt` replay them too, but only while the strategies stay the
/// same). Every property of the fuzzer is checked for each, plus its expected answer.
#[test]
fn inputs_the_fuzzer_found() {
    on_large_stack(regressions_run);
}

fn regressions_run() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (server, fx, http, model) = setup(&rt);
    let mut stats = Stats::default();
    // Checks `req` as the fuzzer does (`what` names it), then sends it again for its answer.
    let mut checked = |what: &str, req: &Rendered| -> (u16, Vec<u8>) {
        let outcome = rt.block_on(run_case(&http, &server, &fx, req, &mut stats));
        assert!(
            outcome.is_ok(),
            "{what}: {}",
            outcome.err().unwrap_or_default()
        );
        rt.block_on(send(&http, &server.borrow().base, req))
            .expect("answer")
    };
    let nested_inline = |n: usize| {
        format!(
            "{{ {}__typename {}}}",
            "... on Query { ".repeat(n),
            "} ".repeat(n)
        )
    };
    let cases: Vec<(&str, Rendered, &str)> = vec![
        (
            // async-graphql reports a required variable without a value only while
            // executing the field, with a path and no code.
            "a required variable without a value",
            Rendered::json(
                Cred::Anonymous,
                json!({ "query": "query($v0: ID!) { node(id: $v0) { id } }", "variables": {} }),
            ),
            "BAD_USER_INPUT",
        ),
        (
            "a variable's value of the wrong type",
            Rendered::json(
                Cred::Anonymous,
                json!({ "query": "query($v: Int!) { feed(first: $v) { __typename } }", "variables": { "v": "twenty" } }),
            ),
            "BAD_USER_INPUT",
        ),
        (
            // 286 nested inline fragments overflowed the stack of a debug build inside the
            // parser and aborted the process.
            "inline fragments nested 286 deep",
            Rendered::json(Cred::Anonymous, json!({ "query": nested_inline(286) })),
            "BAD_USER_INPUT",
        ),
        (
            // PostgreSQL text cannot hold NUL: each of these reached the database and failed
            // with INTERNAL.
            "a handle with a NUL",
            Rendered::json(
                Cred::Anonymous,
                json!({ "query": "{ user(handle: \"fz_alice\\u0000\") { id } }" }),
            ),
            "",
        ),
        (
            // This and the next spend the sign-up bucket (a burst of 10 per address; the
            // fixture took 4).
            "logging in with a NUL in the handle",
            Rendered::json(
                Cred::Anonymous,
                json!({ "query": "mutation { logIn(input: {handle: \"fz\\u0000\", password: \"password123\"}) { token } }" }),
            ),
            "UNAUTHENTICATED",
        ),
        (
            "a display name with a NUL",
            Rendered::json(
                Cred::Anonymous,
                json!({ "query": "mutation { signUp(input: {handle: \"fz_nul\", password: \"password123\", displayName: \"a\\u0000b\"}) { token } }" }),
            ),
            "BAD_USER_INPUT",
        ),
        (
            "lists nested 10,000 deep in an argument",
            Rendered::json(
                Cred::Anonymous,
                json!({ "query": format!("{{ feed(first: {}1{}) {{ __typename }} }}", "[".repeat(10_000), "]".repeat(10_000)) }),
            ),
            "BAD_USER_INPUT",
        ),
    ];
    for (what, req, code) in cases {
        let (status, body) = checked(what, &req);
        let body: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(status, 200, "{what}: {body}");
        if code.is_empty() {
            assert!(body.get("errors").is_none(), "{what}: {body}");
        } else {
            assert_eq!(
                body["errors"][0]["extensions"]["code"], code,
                "{what}: {body}"
            );
        }
    }
    // A video whose caption, hashtag or sound holds a NUL, by a signed-in account.
    let alice = format!("Bearer {}", fx.accounts[0].token);
    for input in [
        "{mediaUrl: \"https://media.example.com/v.mp4\", caption: \"a\\u0000b\"}",
        "{mediaUrl: \"https://media.example.com/v.mp4\", caption: \"ok\", hashtags: [\"a\\u0000\"]}",
        "{mediaUrl: \"https://media.example.com/v.mp4\", caption: \"ok\", sound: \"\\u0000\"}",
    ] {
        let mut req = Rendered::json(
            Cred::Valid,
            json!({ "query": format!("mutation {{ createVideo(input: {input}) {{ id }} }}") }),
        );
        req.authorization = Some(alice.clone().into_bytes());
        let (_, body) = checked(input, &req);
        let body: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{input}: {body}"
        );
    }
    // An identity-provider token whose subject holds a NUL: PostgreSQL cannot compare it
    // with a stored subject, and the lookup failed with HTTP 500; now 401.
    let nul_subject = Auth::Idp(IdpSpec {
        key: 0,
        kid: 0,
        sub: 5,
        text: Text::Special(0),
        iss: true,
        aud: 0,
        expired: false,
    });
    let mut render = Render::new(&model, &fx);
    let req = render.case(&Case {
        auth: nul_subject,
        content_type: Some(0),
        body: Body::Json(json!({ "query": "{ viewer { id } }" })),
    });
    assert_eq!(req.cred, Cred::Invalid);
    let (status, _) = checked("NUL subject", &req);
    assert_eq!(status, 401);
}
