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
use std::{
    cell::RefCell,
    collections::{BTreeMap, VecDeque},
    fmt::Write as _,
    io::{BufRead, BufReader, Read},
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_graphql::{
    parser::{
        parse_schema,
        types::{BaseType, FieldDefinition, Type, TypeKind, TypeSystemDefinition},
    },
    Positioned,
};
use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine,
};
use chrono::Utc;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use proptest::{prelude::*, test_runner::FileFailurePersistence};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::helpers::{fresh_database_url, ids, ID_KEY, SECRET};

/// Requests per run unless `TALLY_FUZZ_CASES` says otherwise.
const DEFAULT_CASES: u32 = 1500;
/// Where proptest keeps the seeds of failing cases (replayed first on the next run).
const REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/proptest-regressions/fuzz.txt");
/// The server's default limits, which the expected statuses depend on.
const MAX_BODY: usize = 256 * 1024;
const MAX_BATCH: usize = 10;
/// The documented `extensions.code`s (API.md, "Errors").
const CODES: [&str; 8] = [
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "RATE_LIMITED",
    "BUDGET_EXHAUSTED",
    "INTERNAL",
];
/// Text that must never reach a client (internal detail).
const LEAKS: [&str; 7] = [
    "panicked at",
    "src/",
    "DbErr",
    "sqlx",
    "error returned from database",
    "RUST_BACKTRACE",
    "stack backtrace",
];
const IDP_ISSUER: &str = "https://idp.fuzz.test/";
const IDP_AUDIENCE: &str = "tally-fuzz";
const FIXTURE_PASSWORD: &str = "fixture password 7d1c";

// ---------------------------------------------------------------------------------------
// The schema, from `schema.graphql` (plus the introspection types it does not spell out).
// ---------------------------------------------------------------------------------------

const INTROSPECTION_SDL: &str = "
type Query { __schema: __Schema! __type(name: String!): __Type }
type __Schema { types: [__Type!]! queryType: __Type! mutationType: __Type directives: [__Directive!]! }
type __Type { kind: __TypeKind! name: String fields(includeDeprecated: Boolean = false): [__Field!]
  interfaces: [__Type!] possibleTypes: [__Type!] enumValues(includeDeprecated: Boolean = false): [__EnumValue!]
  inputFields: [__InputValue!] ofType: __Type }
type __Field { name: String! args: [__InputValue!]! type: __Type! isDeprecated: Boolean! }
type __InputValue { name: String! type: __Type! defaultValue: String }
type __EnumValue { name: String! isDeprecated: Boolean! }
type __Directive { name: String! locations: [__DirectiveLocation!]! args: [__InputValue!]! }
enum __TypeKind { SCALAR OBJECT INTERFACE UNION ENUM INPUT_OBJECT LIST NON_NULL }
enum __DirectiveLocation { QUERY MUTATION FIELD }
";

struct Field {
    name: String,
    args: Vec<(String, Type)>,
    ty: Type,
}

/// The types of the schema: what structured documents are drawn from.
#[derive(Default)]
struct Model {
    /// Object and interface types with their fields (`Query`, `Mutation` among them).
    objects: BTreeMap<String, Vec<Field>>,
    inputs: BTreeMap<String, Vec<(String, Type)>>,
    enums: BTreeMap<String, Vec<String>>,
    /// Every type name, scalars included.
    types: Vec<String>,
    /// Every field, argument and input field name, and every enum value.
    names: Vec<String>,
}

fn fields(fs: Vec<Positioned<FieldDefinition>>) -> Vec<Field> {
    fs.into_iter()
        .map(|f| {
            let f = f.node;
            Field {
                name: f.name.node.to_string(),
                args: f
                    .arguments
                    .into_iter()
                    .map(|a| (a.node.name.node.to_string(), a.node.ty.node))
                    .collect(),
                ty: f.ty.node,
            }
        })
        .collect()
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(n) => n.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

impl Model {
    fn load() -> Model {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
        let sdl = std::fs::read_to_string(path).expect("read schema.graphql");
        let mut m = Model::default();
        for text in [sdl.as_str(), INTROSPECTION_SDL] {
            let doc = parse_schema(text).expect("parse the schema");
            for def in doc.definitions {
                let TypeSystemDefinition::Type(t) = def else {
                    continue;
                };
                let t = t.node;
                let name = t.name.node.to_string();
                m.types.push(name.clone());
                match t.kind {
                    TypeKind::Object(o) => {
                        m.objects.entry(name).or_default().extend(fields(o.fields))
                    }
                    TypeKind::Interface(i) => {
                        m.objects.entry(name).or_default().extend(fields(i.fields))
                    }
                    TypeKind::InputObject(i) => {
                        let fs = i
                            .fields
                            .into_iter()
                            .map(|f| (f.node.name.node.to_string(), f.node.ty.node))
                            .collect();
                        m.inputs.insert(name, fs);
                    }
                    TypeKind::Enum(e) => {
                        let vs = e
                            .values
                            .into_iter()
                            .map(|v| v.node.value.node.to_string())
                            .collect();
                        m.enums.insert(name, vs);
                    }
                    _ => {}
                }
            }
        }
        let mut names: Vec<String> = Vec::new();
        for fields in m.objects.values() {
            for f in fields {
                names.push(f.name.clone());
                names.extend(f.args.iter().map(|(a, _)| a.clone()));
            }
        }
        for fields in m.inputs.values() {
            names.extend(fields.iter().map(|(f, _)| f.clone()));
        }
        for values in m.enums.values() {
            names.extend(values.iter().cloned());
        }
        names.sort();
        names.dedup();
        m.names = names;
        m.types.sort();
        m.types.dedup();
        for root in ["Query", "Mutation", "User", "Video", "LikerConnection"] {
            assert!(m.objects.contains_key(root), "schema.graphql lacks {root}");
        }
        m
    }

    fn fields(&self, ty: &str) -> Option<&[Field]> {
        self.objects.get(ty).map(Vec::as_slice)
    }

    fn name(&self, pick: u16) -> &str {
        &self.names[usize::from(pick) % self.names.len()]
    }

    fn type_name(&self, pick: u16) -> &str {
        &self.types[usize::from(pick) % self.types.len()]
    }
}

// ---------------------------------------------------------------------------------------
// The server process and the accounts, videos and cursors it starts with.
// ---------------------------------------------------------------------------------------

/// What the server printed: the recent lines, and every panic.
#[derive(Default)]
struct Log {
    recent: VecDeque<String>,
    panics: Vec<String>,
}

/// A running `tally serve`, restarted if it dies (so that shrinking can go on).
struct Server {
    child: Child,
    base: String,
    database_url: String,
    log: Arc<Mutex<Log>>,
}

impl Server {
    fn start(database_url: &str) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let jwks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/idp/jwks.json");
        let mut child = Command::new(env!("CARGO_BIN_EXE_tally"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("TALLY_BIND", format!("127.0.0.1:{port}"))
            .env(
                "TALLY_JWT_SECRET",
                std::str::from_utf8(SECRET).expect("secret"),
            )
            .env("TALLY_ID_KEY", ID_KEY)
            .env("TALLY_JWKS_FILE", jwks)
            .env("TALLY_JWT_ISSUER", IDP_ISSUER)
            .env("TALLY_JWT_AUDIENCE", IDP_AUDIENCE)
            .env("TALLY_DB_POOL", "8")
            .env("RUST_LOG", "warn")
            .env_remove("TALLY_DEMO")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tally");
        let log = Arc::new(Mutex::new(Log::default()));
        for out in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let mut log = log.lock().expect("log");
                    if line.contains("panicked at") || line.contains("stack overflow") {
                        log.panics.push(line.clone());
                    }
                    log.recent.push_back(line);
                    if log.recent.len() > 60 {
                        log.recent.pop_front();
                    }
                }
            });
        }
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("tally exited at start-up ({status}): {}", tail(&log));
            }
            let ready = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut s| {
                use std::io::Write;
                let mut answer = String::new();
                s.set_read_timeout(Some(Duration::from_secs(5))).is_ok()
                    && s.write_all(
                        b"GET /readyz HTTP/1.1\r\nHost: tally\r\nConnection: close\r\n\r\n",
                    )
                    .is_ok()
                    && s.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.1 200")
            });
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "tally did not become ready: {}",
                tail(&log)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Server {
            child,
            base,
            database_url: database_url.to_owned(),
            log,
        }
    }

    /// `None` while running, else how it ended.
    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(status.to_string()),
            Err(e) => Some(e.to_string()),
        }
    }

    fn take_panics(&self) -> Vec<String> {
        std::mem::take(&mut self.log.lock().expect("log").panics)
    }

    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = Server::start(&self.database_url.clone());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(log: &Mutex<Log>) -> String {
    let log = log.lock().expect("log");
    let lines: Vec<&str> = log.recent.iter().map(String::as_str).collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

struct Account {
    id: String,
    token: String,
    handle: String,
}

/// The world the fuzzer's real IDs, cursors and tokens come from.
struct Fixture {
    accounts: Vec<Account>,
    videos: Vec<String>,
    /// Real cursors of every list kind (videos, likers, liked videos, users).
    cursors: Vec<String>,
    /// The identity provider's signing keys: `kid`, algorithm, key.
    idp_keys: Vec<(&'static str, Algorithm, EncodingKey)>,
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
    async fn build(http: &reqwest::Client, base: &str) -> Fixture {
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
            accounts.push(Account {
                id: d["signUp"]["user"]["id"].as_str().expect("id").to_owned(),
                token: d["signUp"]["token"].as_str().expect("token").to_owned(),
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
                "mutation($c: String!) { createVideo(input: {caption: $c, hashtags: [\"fuzz\"]}) { id } }",
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
        let mut cursors = Vec::new();
        let mut cursor = |d: &Value| {
            let c = d.as_str().unwrap_or_else(|| panic!("no cursor in {d}"));
            cursors.push(c.to_owned());
        };
        let d = setup_gql(
            http,
            base,
            Some(&tok(0)),
            "{ feed(first: 1) { pageInfo { endCursor } } viewer { videos(first: 1) { pageInfo { endCursor } } } }",
            json!({}),
        )
        .await;
        cursor(&d["feed"]["pageInfo"]["endCursor"]);
        cursor(&d["viewer"]["videos"]["pageInfo"]["endCursor"]);
        let d = setup_gql(
            http,
            base,
            Some(&tok(0)),
            "query($v: ID!) { video(id: $v) { visibleLikers(first: 1) { pageInfo { endCursor } } } }",
            json!({ "v": videos[0] }),
        )
        .await;
        cursor(&d["video"]["visibleLikers"]["pageInfo"]["endCursor"]);
        let d = setup_gql(
            http,
            base,
            Some(&tok(3)),
            "{ viewer { likedVideos(first: 1) { pageInfo { endCursor } } } }",
            json!({}),
        )
        .await;
        cursor(&d["viewer"]["likedVideos"]["pageInfo"]["endCursor"]);
        let d = setup_gql(
            http,
            base,
            Some(&tok(1)),
            "{ viewer { followRequests(first: 1) { pageInfo { endCursor } } } }",
            json!({}),
        )
        .await;
        cursor(&d["viewer"]["followRequests"]["pageInfo"]["endCursor"]);
        let d = setup_gql(
            http,
            base,
            Some(&tok(2)),
            "{ viewer { blockedUsers(first: 1) { pageInfo { endCursor } } } }",
            json!({}),
        )
        .await;
        cursor(&d["viewer"]["blockedUsers"]["pageInfo"]["endCursor"]);

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

// ---------------------------------------------------------------------------------------
// What a case is made of. Everything is plain data (so proptest can print and shrink it)
// and is rendered into a request against the schema model and the fixture.
// ---------------------------------------------------------------------------------------

/// A piece of text.
#[derive(Debug, Clone)]
enum Text {
    /// Handle-like: `[a-z0-9_.]{0,32}`.
    Handle(String),
    Any(String),
    Special(u8),
    Repeat(char, u16),
}

const SPECIAL_TEXT: &[&str] = &[
    "",
    " ",
    "\0",
    "a\0b",
    "fz_alice\0",
    "\u{feff}",
    "\u{202e}abc",
    "💥",
    "'; DROP TABLE users; --",
    "%s%n%x",
    "\\",
    "\"",
    "\r\n",
    "null",
    "NaN",
    "fz_alice",
    "FZ_BOB",
    "a..b",
    "__typename",
    "{",
    "$v",
    "\u{10ffff}",
    "\u{7f}",
    "\u{1}\u{2}\u{3}",
    "a\u{300}\u{301}\u{302}",
    "ǅ",
    "İ",
];

impl Text {
    fn render(&self) -> String {
        match self {
            Text::Handle(s) | Text::Any(s) => s.clone(),
            Text::Special(i) => SPECIAL_TEXT[usize::from(*i) % SPECIAL_TEXT.len()].to_owned(),
            Text::Repeat(c, n) => std::iter::repeat_n(*c, usize::from(*n)).collect(),
        }
    }
}

fn text() -> impl Strategy<Value = Text> {
    prop_oneof![
        3 => "[a-z0-9_.]{0,32}".prop_map(Text::Handle),
        3 => any::<String>().prop_map(Text::Any),
        2 => any::<u8>().prop_map(Text::Special),
        1 => (any::<char>(), 0u16..3000).prop_map(|(c, n)| Text::Repeat(c, n)),
    ]
}

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => -3i64..=120,
        2 => prop::sample::select(vec![
            i64::from(i32::MAX),
            i64::from(i32::MIN),
            i64::from(i32::MAX) + 1,
            i64::from(i32::MIN) - 1,
            i64::MAX,
            i64::MIN,
            1899,
            1900,
            2100,
            99,
            100,
            101,
            9_007_199_254_740_993,
        ]),
        1 => any::<i64>(),
    ]
}

/// An ID argument.
#[derive(Debug, Clone)]
enum IdSpec {
    /// A real ID of the kind the argument wants.
    Matching(u8),
    Real {
        video: bool,
        pick: u8,
    },
    Flipped {
        video: bool,
        pick: u8,
        bit: u16,
    },
    Cut {
        video: bool,
        pick: u8,
        keep: u8,
    },
    Junk {
        video: bool,
        pick: u8,
        junk: Text,
    },
    Recoded {
        video: bool,
        pick: u8,
        how: u8,
    },
    /// Well-formed, of a row that does not exist.
    Fresh {
        video: bool,
        uuid: u128,
    },
    /// base64url(tag ‖ bytes): a kind byte (valid or not) and any number of bytes.
    Kinded {
        tag: u8,
        bytes: Vec<u8>,
    },
    B64(Vec<u8>),
    Text(Text),
}

fn tag() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(vec![b'U', b'V']),
        1 => any::<u8>(),
    ]
}

fn id_spec() -> impl Strategy<Value = IdSpec> {
    prop_oneof![
        6 => any::<u8>().prop_map(IdSpec::Matching),
        2 => (any::<bool>(), any::<u8>()).prop_map(|(video, pick)| IdSpec::Real { video, pick }),
        2 => (any::<bool>(), any::<u8>(), any::<u16>())
            .prop_map(|(video, pick, bit)| IdSpec::Flipped { video, pick, bit }),
        1 => (any::<bool>(), any::<u8>(), any::<u8>())
            .prop_map(|(video, pick, keep)| IdSpec::Cut { video, pick, keep }),
        1 => (any::<bool>(), any::<u8>(), text())
            .prop_map(|(video, pick, junk)| IdSpec::Junk { video, pick, junk }),
        1 => (any::<bool>(), any::<u8>(), any::<u8>())
            .prop_map(|(video, pick, how)| IdSpec::Recoded { video, pick, how }),
        2 => (any::<bool>(), any::<u128>()).prop_map(|(video, uuid)| IdSpec::Fresh { video, uuid }),
        2 => (tag(), prop_oneof![prop::collection::vec(any::<u8>(), 16), prop::collection::vec(any::<u8>(), 0..40)])
            .prop_map(|(tag, bytes)| IdSpec::Kinded { tag, bytes }),
        1 => prop::collection::vec(any::<u8>(), 0..48).prop_map(IdSpec::B64),
        1 => text().prop_map(IdSpec::Text),
    ]
}

/// An `after` argument.
#[derive(Debug, Clone)]
enum CursorSpec {
    Real(u8),
    Flipped(u8, u16),
    Cut(u8, u8),
    Junk(u8, Text),
    Recoded(u8, u8),
    /// base64url(kind ‖ bytes): 36 bytes is a well-formed cursor with a forged tag.
    Kinded {
        kind: u8,
        bytes: Vec<u8>,
    },
    B64(Vec<u8>),
    Text(Text),
    Id(IdSpec),
}

fn cursor_spec() -> impl Strategy<Value = CursorSpec> {
    prop_oneof![
        4 => any::<u8>().prop_map(CursorSpec::Real),
        3 => (any::<u8>(), any::<u16>()).prop_map(|(p, b)| CursorSpec::Flipped(p, b)),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(p, k)| CursorSpec::Cut(p, k)),
        1 => (any::<u8>(), text()).prop_map(|(p, t)| CursorSpec::Junk(p, t)),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(p, h)| CursorSpec::Recoded(p, h)),
        2 => (0u8..6, prop_oneof![prop::collection::vec(any::<u8>(), 36), prop::collection::vec(any::<u8>(), 0..60)])
            .prop_map(|(kind, bytes)| CursorSpec::Kinded { kind, bytes }),
        1 => prop::collection::vec(any::<u8>(), 0..60).prop_map(CursorSpec::B64),
        1 => text().prop_map(CursorSpec::Text),
        1 => id_spec().prop_map(CursorSpec::Id),
    ]
}

/// A value of the argument's own type, drawn from these.
#[derive(Debug, Clone)]
struct Typed {
    int: i64,
    text: Text,
    id: IdSpec,
    cursor: CursorSpec,
    /// Choices (list lengths, enum values, optional fields, nulls).
    tape: Vec<u8>,
}

impl Default for Typed {
    fn default() -> Self {
        Typed {
            int: 1,
            text: Text::Handle("fz_alice".into()),
            id: IdSpec::Matching(0),
            cursor: CursorSpec::Real(0),
            tape: vec![1],
        }
    }
}

fn typed() -> impl Strategy<Value = Typed> {
    (
        int(),
        text(),
        id_spec(),
        cursor_spec(),
        prop::collection::vec(any::<u8>(), 0..12),
    )
        .prop_map(|(int, text, id, cursor, tape)| Typed {
            int,
            text,
            id,
            cursor,
            tape,
        })
}

/// A value of any type.
#[derive(Debug, Clone)]
enum Wild {
    Int(i64),
    Float(f64),
    /// An integer literal of many digits.
    Big(u16),
    Str(Text),
    Bool(bool),
    Null,
    Enum(u16),
    List(Vec<Wild>),
    Object(Vec<(u16, Wild)>),
    Var(u8),
    Id(IdSpec),
    Cursor(CursorSpec),
}

fn wild() -> impl Strategy<Value = Wild> {
    let leaf = prop_oneof![
        int().prop_map(Wild::Int),
        any::<f64>().prop_map(Wild::Float),
        (1u16..400).prop_map(Wild::Big),
        text().prop_map(Wild::Str),
        any::<bool>().prop_map(Wild::Bool),
        Just(Wild::Null),
        any::<u16>().prop_map(Wild::Enum),
        any::<u8>().prop_map(Wild::Var),
        id_spec().prop_map(Wild::Id),
        cursor_spec().prop_map(Wild::Cursor),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Wild::List),
            prop::collection::vec((any::<u16>(), inner), 0..4).prop_map(Wild::Object),
        ]
    })
}

/// Any JSON value.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        int().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(|t| Value::String(t.render())),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        let key = prop_oneof![
            3 => prop::sample::select(vec!["query", "variables", "operationName", "extensions", "input", "id", "first", "after", "handle", "v0", "v1", "d0", "__proto__", ""]).prop_map(str::to_owned),
            1 => any::<String>(),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// An argument's value.
#[derive(Debug, Clone)]
enum ArgVal {
    Typed(Typed),
    Wild(Wild),
    /// A variable: declared with the argument's type (`decl: None`) or another, given a
    /// value of the argument's type, any JSON, or none; maybe with a default.
    Var {
        decl: Option<u8>,
        value: Option<VarValue>,
        default: Option<Wild>,
    },
}

#[derive(Debug, Clone)]
enum VarValue {
    Typed(Typed),
    Json(Value),
}

fn arg_val() -> impl Strategy<Value = ArgVal> {
    let var_value = prop_oneof![
        5 => typed().prop_map(VarValue::Typed),
        1 => json_value().prop_map(VarValue::Json),
    ];
    prop_oneof![
        8 => typed().prop_map(ArgVal::Typed),
        1 => wild().prop_map(ArgVal::Wild),
        3 => (
            prop::option::weighted(0.1, any::<u8>()),
            prop::option::weighted(0.9, var_value),
            prop::option::weighted(0.1, wild()),
        )
            .prop_map(|(decl, value, default)| ArgVal::Var { decl, value, default }),
    ]
}

/// Variable types other than the argument's own.
const VAR_TYPES: &[&str] = &[
    "Int",
    "Int!",
    "String",
    "String!",
    "ID!",
    "[ID!]!",
    "Boolean",
    "Float",
    "SignUpInput!",
    "LikesVisibility",
    "User",
    "Nope",
    "[[Int]]",
];

/// A directive on a field, spread or fragment.
#[derive(Debug, Clone)]
struct Dir {
    name: u8,
    arg: DirArg,
}

#[derive(Debug, Clone)]
enum DirArg {
    None,
    Bool(bool),
    /// `if: $dN`, declared `Boolean!` and given this value.
    Var(bool),
    Wild(Wild),
}

const DIRECTIVES: &[&str] = &[
    "include",
    "skip",
    "include",
    "skip",
    "deprecated",
    "specifiedBy",
    "oneOf",
    "defer",
    "stream",
    "nope",
];

fn dirs() -> impl Strategy<Value = Vec<Dir>> {
    let arg = prop_oneof![
        4 => any::<bool>().prop_map(DirArg::Bool),
        2 => any::<bool>().prop_map(DirArg::Var),
        1 => Just(DirArg::None),
        1 => wild().prop_map(DirArg::Wild),
    ];
    // `@include` / `@skip` with a Boolean, mostly; now and then anything.
    let plain = (
        0u8..4,
        prop_oneof![
            3 => any::<bool>().prop_map(DirArg::Bool),
            1 => any::<bool>().prop_map(DirArg::Var),
        ],
    )
        .prop_map(|(name, arg)| Dir { name, arg });
    let chaos = (any::<u8>(), arg).prop_map(|(name, arg)| Dir { name, arg });
    prop_oneof![
        14 => Just(Vec::new()),
        3 => plain.prop_map(|d| vec![d]),
        1 => prop::collection::vec(chaos, 1..7),
    ]
}

/// A selection.
#[derive(Debug, Clone)]
enum Sel {
    /// A field of the type (`own`) or any name of the schema. `strict` fields take their
    /// own arguments (the `args` values in order, required ones filled in) and get a
    /// selection exactly when their type needs one, so that they reach the resolvers.
    Field {
        strict: bool,
        own: bool,
        pick: u16,
        alias: Option<u8>,
        args: Vec<(u16, ArgVal)>,
        dirs: Vec<Dir>,
        sub: Vec<Sel>,
    },
    Typename {
        alias: Option<u8>,
    },
    Spread {
        frag: u8,
        dirs: Vec<Dir>,
    },
    Inline {
        on: Option<u16>,
        dirs: Vec<Dir>,
        sub: Vec<Sel>,
    },
}

fn field(sub: BoxedStrategy<Vec<Sel>>) -> impl Strategy<Value = Sel> {
    (
        prop::bool::weighted(0.92),
        prop::bool::weighted(0.97),
        any::<u16>(),
        prop::option::weighted(0.15, any::<u8>()),
        prop::collection::vec((any::<u16>(), arg_val()), 0..4),
        dirs(),
        sub,
    )
        .prop_map(|(strict, own, pick, alias, args, dirs, sub)| Sel::Field {
            strict,
            own,
            pick,
            alias,
            args,
            dirs,
            sub,
        })
}

fn selections() -> impl Strategy<Value = Vec<Sel>> {
    let leaf = prop_oneof![
        6 => field(Just(Vec::new()).boxed()),
        1 => prop::option::weighted(0.3, any::<u8>()).prop_map(|alias| Sel::Typename { alias }),
        1 => (any::<u8>(), dirs()).prop_map(|(frag, dirs)| Sel::Spread { frag, dirs }),
    ];
    let sel = leaf.prop_recursive(5, 40, 4, |inner| {
        let subs = prop::collection::vec(inner, 0..4).boxed();
        prop_oneof![
            5 => field(subs.clone()),
            1 => (prop::option::weighted(0.3, any::<u16>()), dirs(), subs)
                .prop_map(|(on, dirs, sub)| Sel::Inline { on, dirs, sub }),
        ]
    });
    prop::collection::vec(sel, 1..4)
}

#[derive(Debug, Clone)]
struct Frag {
    on: Option<u16>,
    dirs: Vec<Dir>,
    sels: Vec<Sel>,
}

/// A document drawn from the schema, with its variables and operation name.
#[derive(Debug, Clone)]
struct Doc {
    /// Whether anything goes. A clean document (`false`) is drawn as valid as the renderer
    /// can make it, so that it reaches the resolvers: fields of their type with their own
    /// arguments (values of the right type, if any value), `@include`/`@skip` only,
    /// fragments spread only where their type is, one operation.
    chaos: bool,
    /// 0 shorthand `{…}`, 1 `query`, 2 `mutation`, 3 `subscription`.
    kind: u8,
    name: Option<u8>,
    sels: Vec<Sel>,
    frags: Vec<Frag>,
    other: Option<(u8, Vec<Sel>)>,
    /// `operationName`: 0 absent, 1 this operation's, 2 the other's, 3 unknown, 4 null, 5 a number.
    op_name: u8,
    /// Variables no operation declares.
    stray_vars: Vec<(String, Value)>,
    /// `variables`: 0 an object, 1 absent, 2 null, 3 a string, 4 an array.
    vars_shape: u8,
}

fn doc() -> impl Strategy<Value = Doc> {
    let frag = (
        prop::option::weighted(0.9, any::<u16>()),
        dirs(),
        selections(),
    )
        .prop_map(|(on, dirs, sels)| Frag { on, dirs, sels });
    (
        any::<bool>(),
        prop_oneof![6 => Just(0u8), 6 => Just(1u8), 6 => Just(2u8), 1 => Just(3u8)],
        prop::option::weighted(0.5, any::<u8>()),
        selections(),
        prop_oneof![6 => Just(Vec::new()), 1 => prop::collection::vec(frag, 1..3)],
        prop::option::weighted(0.05, (0u8..3, selections())),
        prop_oneof![6 => Just(0u8), 3 => Just(1u8), 1 => 2u8..6],
        prop_oneof![
            6 => Just(Vec::new()),
            1 => prop::collection::vec(("[a-z0-9]{1,3}", json_value()), 1..3),
        ],
        prop_oneof![12 => Just(0u8), 2 => Just(1u8), 1 => 2u8..5],
    )
        .prop_map(
            |(chaos, kind, name, sels, frags, other, op_name, stray_vars, vars_shape)| Doc {
                chaos,
                kind,
                name,
                sels,
                frags,
                other,
                op_name,
                stray_vars,
                vars_shape,
            },
        )
}

/// The `query` of an operation.
#[derive(Debug, Clone)]
enum QuerySpec {
    Doc(Doc),
    Text(Text),
    /// GraphQL tokens in random order.
    Soup(Vec<u16>),
    /// One construct nested or repeated `n` times (see [`deep`]).
    Deep {
        how: u8,
        n: u32,
    },
}

const SOUP: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "$",
    "@",
    "...",
    "=",
    "!",
    "|",
    "&",
    ",",
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "true",
    "false",
    "null",
    "0",
    "-1",
    "1e999",
    "99999999999999999999",
    "1.5",
    "-0",
    "0x10",
    "\"\"",
    "\"\\u0000\"",
    "\"\\uD800\"",
    "\"\"\"block\"\"\"",
    "\"unterminated",
    "#comment\n",
    "\u{feff}",
    "\n",
    "__typename",
    "__schema",
    "__type",
    "feed",
    "viewer",
    "node",
    "video",
    "user",
    "edges",
    "id",
    "likeVideo",
    "signUp",
    "input",
    "first",
    "after",
    "$v0",
    "@include",
    "@skip",
    "if",
];

fn depth() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => prop::sample::select(vec![1u32, 2, 4, 11, 12, 13, 23, 24, 25, 30, 31, 63, 64, 65, 127, 128, 129, 256, 1000, 2001]),
        3 => 1u32..400,
        2 => prop::sample::select(vec![5_000u32, 20_000, 60_000, 120_000]),
    ]
}

/// `query` text nesting or repeating one construct `n` times.
fn deep(how: u8, n: u32) -> String {
    let n = n as usize;
    let mut q = String::new();
    match how % 11 {
        0 => {
            // feed → edges → node → author → videos → edges → node → author → …
            let path = ["edges", "node", "author", "videos(first: 1)"];
            q.push_str("{ feed(first: 1)");
            for i in 1..n {
                q.push_str(" { ");
                q.push_str(path[(i - 1) % path.len()]);
            }
            q.push_str(" { __typename");
            q.push_str(&" }".repeat(n));
            q.push_str(" }");
        }
        1 => {
            q.push_str("{ ");
            q.push_str(&"... on Query { ".repeat(n));
            q.push_str("__typename ");
            q.push_str(&"} ".repeat(n));
            q.push('}');
        }
        2 => {
            q.push_str("{ feed(first: ");
            q.push_str(&"[".repeat(n));
            q.push('1');
            q.push_str(&"]".repeat(n));
            q.push_str(") { __typename } }");
        }
        3 => {
            q.push_str("{ user(handle: ");
            q.push_str(&"{a: ".repeat(n));
            q.push('1');
            q.push_str(&"}".repeat(n));
            q.push_str(") { id } }");
        }
        4 => q.push_str(&"{".repeat(n)),
        5 => {
            q.push_str("{ ...F0 }");
            for i in 0..n {
                let _ = write!(q, " fragment F{i} on Query {{ ...F{} }}", i + 1);
            }
            let _ = write!(q, " fragment F{n} on Query {{ __typename }}");
        }
        6 => {
            q.push_str("{ ");
            for i in 0..n {
                let _ = write!(q, "a{i}: __typename ");
            }
            q.push('}');
        }
        7 => {
            q.push_str("{ __typename ");
            q.push_str(&"@skip(if: false) ".repeat(n));
            q.push('}');
        }
        8 => {
            q.push_str("{ ");
            q.push_str(&"__typename ".repeat(n));
            q.push('}');
        }
        9 => {
            q.push_str("query($v: ");
            q.push_str(&"[".repeat(n));
            q.push_str("Int");
            q.push_str(&"]".repeat(n));
            q.push_str(") { __typename }");
        }
        _ => {
            q.push_str("{ feed");
            q.push_str(&"(".repeat(n));
        }
    }
    q
}

fn query_spec() -> impl Strategy<Value = QuerySpec> {
    prop_oneof![
        10 => doc().prop_map(QuerySpec::Doc),
        1 => text().prop_map(QuerySpec::Text),
        2 => prop::collection::vec(any::<u16>(), 0..40).prop_map(QuerySpec::Soup),
        2 => (any::<u8>(), depth()).prop_map(|(how, n)| QuerySpec::Deep { how, n }),
    ]
}

/// One operation's JSON object.
#[derive(Debug, Clone)]
struct Op {
    query: QuerySpec,
    /// 0 as rendered; 1 `query` replaced by this JSON; 2 `extensions` added; 3 no `query`.
    envelope: u8,
    odd: Value,
}

fn op() -> impl Strategy<Value = Op> {
    (
        query_spec(),
        prop_oneof![20 => Just(0u8), 1 => 1u8..4],
        json_value(),
    )
        .prop_map(|(query, envelope, odd)| Op {
            query,
            envelope,
            odd,
        })
}

#[derive(Debug, Clone)]
enum Body {
    One(Op),
    Batch(Vec<Op>),
    Bytes(Vec<u8>),
    Text(Text),
    Json(Value),
    /// JSON arrays (or objects) nested `n` deep.
    JsonNest {
        n: u32,
        array: bool,
    },
    /// A body `extra` bytes longer (or shorter) than the limit: valid JSON or garbage.
    Sized {
        extra: i32,
        json: bool,
    },
    /// An operation's JSON cut short.
    Cut(Op, u16),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        24 => op().prop_map(Body::One),
        3 => prop_oneof![
            3 => prop::collection::vec(op(), 1..4),
            1 => prop::collection::vec(op(), 0..14),
        ].prop_map(Body::Batch),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Body::Bytes),
        1 => text().prop_map(Body::Text),
        1 => json_value().prop_map(Body::Json),
        1 => (depth(), any::<bool>()).prop_map(|(n, array)| Body::JsonNest { n, array }),
        1 => (prop_oneof![-3i32..=3, 1i32..200_000], prop::bool::weighted(0.8))
            .prop_map(|(extra, json)| Body::Sized { extra, json }),
        1 => (op(), any::<u16>()).prop_map(|(o, at)| Body::Cut(o, at)),
    ]
}

/// How a fixture token is tampered with.
#[derive(Debug, Clone)]
enum Tamper {
    Flip {
        part: u8,
        bit: u16,
    },
    /// `sub` set to another account's (or a video's) ID, signature kept.
    Sub(u8),
    /// A claim set to any JSON, signature kept.
    Claim {
        name: u8,
        value: Value,
    },
    AlgNone {
        keep_sig: bool,
    },
    Alg(u8),
    Kid(u8),
    NoSig(bool),
    ExtraSegment,
    Cut(u16),
    Space(u16),
    SwapCase,
}

/// Claims of a token signed with the right key, each fine (0) or wrong in some way.
#[derive(Debug, Clone)]
struct ClaimsSpec {
    sub: u8,
    user: u8,
    uuid: u128,
    iss: u8,
    aud: u8,
    iat: u8,
    exp: u8,
    nbf: u8,
    kid: Option<u8>,
}

impl ClaimsSpec {
    /// Whether the service must accept it (see `src/auth/token.rs`). A well-formed `sub`
    /// naming no account (case 1, a fresh UUID) is refused like a deleted account's.
    fn valid(&self) -> bool {
        self.sub.is_multiple_of(7)
            && self.iss.is_multiple_of(5)
            && self.aud.is_multiple_of(5)
            && matches!(self.iat % 5, 0 | 4)
            && matches!(self.exp % 9, 0 | 2 | 5)
            && matches!(self.nbf % 5, 0 | 2 | 3)
            && self.kid.is_none()
    }

    fn claims(&self, fx: &Fixture) -> Value {
        let now = Utc::now().timestamp();
        let mut c = Map::new();
        let mut set = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                c.insert(k.to_owned(), v);
            }
        };
        let account = &fx.accounts[usize::from(self.user) % fx.accounts.len()];
        set(
            "sub",
            match self.sub % 7 {
                0 => Some(json!(account.id)),
                1 => Some(json!(
                    ids().encode_id(tally::ids::Kind::User, Uuid::from_u128(self.uuid))
                )),
                2 => Some(json!(fx.videos[0])),
                3 => Some(json!("not an id")),
                4 => None,
                5 => Some(json!(42)),
                _ => Some(json!("")),
            },
        );
        set(
            "iss",
            match self.iss % 5 {
                0 => Some(json!("tally")),
                1 => Some(json!("Tally")),
                2 => None,
                3 => Some(json!("")),
                _ => Some(json!(["tally"])),
            },
        );
        set(
            "aud",
            match self.aud % 5 {
                0 => Some(json!("tally-api")),
                1 => Some(json!("tally")),
                2 => None,
                3 => Some(json!(["tally-api"])),
                _ => Some(json!(["other"])),
            },
        );
        set(
            "iat",
            match self.iat % 5 {
                0 => Some(json!(now)),
                1 => None,
                2 => Some(json!("now")),
                3 => Some(json!(1.5)),
                _ => Some(json!(now + 86_400 * 365)),
            },
        );
        set(
            "exp",
            match self.exp % 9 {
                0 => Some(json!(now + 3600)),
                1 => Some(json!(now - 3600)),
                2 => Some(json!(now - 5)),
                3 => None,
                4 => Some(json!("tomorrow")),
                5 => Some(json!(i64::MAX)),
                6 => Some(json!(-1)),
                7 => Some(json!(now as f64 + 3600.5)),
                _ => Some(json!(now - 120)),
            },
        );
        set(
            "nbf",
            match self.nbf % 5 {
                0 => None,
                1 => Some(json!(now + 3600)),
                2 => Some(json!(now - 3600)),
                3 => Some(json!(now + 5)),
                _ => Some(json!("soon")),
            },
        );
        Value::Object(c)
    }
}

/// A token of the identity provider.
#[derive(Debug, Clone)]
struct IdpSpec {
    key: u8,
    /// 0 the key's own `kid`, 1 another key's, 2 unknown.
    kid: u8,
    /// 0 a plain subject, 1 any text, 2 empty, 3 256 characters, 4 255 characters, 5 with NUL.
    sub: u8,
    text: Text,
    iss: bool,
    /// 0 the audience, 1 another, 2 a list containing it, 3 missing.
    aud: u8,
    expired: bool,
}

impl IdpSpec {
    fn subject(&self) -> String {
        match self.sub % 6 {
            0 => format!("fuzz|{}", self.key),
            1 => self.text.render(),
            2 => String::new(),
            3 => "s".repeat(256),
            4 => "é".repeat(255),
            _ => "fuzz\0subject".to_owned(),
        }
    }

    fn valid(&self) -> bool {
        let sub = self.subject();
        self.kid.is_multiple_of(3)
            && !sub.is_empty()
            && sub.chars().count() <= 255
            && !sub.contains('\0')
            && self.iss
            && matches!(self.aud % 4, 0 | 2)
            && !self.expired
    }
}

#[derive(Debug, Clone)]
enum Auth {
    None,
    /// A real token, with `scheme` choosing how the header spells it.
    Fixture {
        user: u8,
        scheme: u8,
    },
    Bytes(Vec<u8>),
    Bearer(Text),
    /// Dot-separated base64url segments of random bytes.
    Shaped(Vec<Vec<u8>>),
    /// base64url(header JSON) . base64url(claims JSON) . base64url(signature bytes).
    Json {
        header: Value,
        claims: Value,
        sig: Vec<u8>,
    },
    Tampered {
        user: u8,
        how: Tamper,
    },
    Signed(ClaimsSpec),
    /// A well-formed token signed with another secret.
    OtherKey(u8),
    Idp(IdpSpec),
}

fn auth() -> impl Strategy<Value = Auth> {
    let tamper = prop_oneof![
        3 => (any::<u8>(), any::<u16>()).prop_map(|(part, bit)| Tamper::Flip { part, bit }),
        1 => any::<u8>().prop_map(Tamper::Sub),
        1 => (any::<u8>(), json_value()).prop_map(|(name, value)| Tamper::Claim { name, value }),
        1 => any::<bool>().prop_map(|keep_sig| Tamper::AlgNone { keep_sig }),
        1 => any::<u8>().prop_map(Tamper::Alg),
        1 => any::<u8>().prop_map(Tamper::Kid),
        1 => any::<bool>().prop_map(Tamper::NoSig),
        1 => Just(Tamper::ExtraSegment),
        1 => any::<u16>().prop_map(Tamper::Cut),
        1 => any::<u16>().prop_map(Tamper::Space),
        1 => Just(Tamper::SwapCase),
    ];
    let claims = (
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        any::<u8>(),
        any::<u128>(),
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        prop::option::weighted(0.1, any::<u8>()),
    )
        .prop_map(
            |(sub, user, uuid, iss, aud, iat, exp, nbf, kid)| ClaimsSpec {
                sub,
                user,
                uuid,
                iss,
                aud,
                iat,
                exp,
                nbf,
                kid,
            },
        );
    let idp = (
        prop_oneof![6 => 0u8..2, 1 => Just(2u8)],
        prop_oneof![4 => Just(0u8), 1 => any::<u8>()],
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        text(),
        prop::bool::weighted(0.85),
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        prop::bool::weighted(0.15),
    )
        .prop_map(|(key, kid, sub, text, iss, aud, expired)| IdpSpec {
            key,
            kid,
            sub,
            text,
            iss,
            aud,
            expired,
        });
    let header_bytes = prop::collection::vec(
        prop_oneof![
            3 => 0x20u8..0x7f,
            1 => 0x80u8..=0xff,
            1 => Just(b'\t'),
        ],
        0..200,
    );
    prop_oneof![
        6 => Just(Auth::None),
        18 => (any::<u8>(), prop_oneof![6 => Just(0u8), 2 => 1u8..5, 1 => 5u8..11])
            .prop_map(|(user, scheme)| Auth::Fixture { user, scheme }),
        1 => header_bytes.prop_map(Auth::Bytes),
        1 => text().prop_map(Auth::Bearer),
        1 => prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..6).prop_map(Auth::Shaped),
        1 => (json_value(), json_value(), prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(header, claims, sig)| Auth::Json { header, claims, sig }),
        2 => (any::<u8>(), tamper).prop_map(|(user, how)| Auth::Tampered { user, how }),
        2 => claims.prop_map(Auth::Signed),
        1 => any::<u8>().prop_map(Auth::OtherKey),
        2 => idp.prop_map(Auth::Idp),
    ]
}

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "application/graphql",
    "application/graphql-response+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
    "application/json; charset=latin1",
    "image/png",
    "*/*",
];

/// One request.
#[derive(Debug, Clone)]
struct Case {
    auth: Auth,
    content_type: Option<u8>,
    body: Body,
}

fn case() -> impl Strategy<Value = Case> {
    (
        auth(),
        prop_oneof![8 => Just(Some(0u8)), 1 => Just(None), 2 => any::<u8>().prop_map(Some)],
        body(),
    )
        .prop_map(|(auth, content_type, body)| Case {
            auth,
            content_type,
            body,
        })
}

// ---------------------------------------------------------------------------------------
// Rendering.
// ---------------------------------------------------------------------------------------

/// A value as GraphQL or JSON.
#[derive(Debug, Clone)]
enum V {
    Int(i64),
    Raw(String),
    Float(f64),
    Str(String),
    Bool(bool),
    Null,
    Enum(String),
    List(Vec<V>),
    Obj(Vec<(String, V)>),
    Var(String),
}

impl V {
    fn gql(&self, out: &mut String) {
        match self {
            V::Int(i) => {
                let _ = write!(out, "{i}");
            }
            V::Raw(s) => out.push_str(s),
            V::Float(f) if f.is_finite() => {
                let _ = write!(out, "{f:?}");
            }
            V::Float(_) => out.push_str("1e999"),
            V::Str(s) => out.push_str(&serde_json::to_string(s).expect("string")),
            V::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            V::Null => out.push_str("null"),
            V::Enum(e) => out.push_str(e),
            V::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.gql(out);
                }
                out.push(']');
            }
            V::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(k);
                    out.push_str(": ");
                    v.gql(out);
                }
                out.push('}');
            }
            V::Var(n) => {
                out.push('$');
                out.push_str(n);
            }
        }
    }

    fn json(&self) -> Value {
        match self {
            V::Int(i) => json!(i),
            V::Raw(s) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
            V::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            V::Str(s) | V::Enum(s) => Value::String(s.clone()),
            V::Bool(b) => Value::Bool(*b),
            V::Null => Value::Null,
            V::List(items) => Value::Array(items.iter().map(V::json).collect()),
            V::Obj(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.json())).collect())
            }
            V::Var(n) => Value::String(format!("${n}")),
        }
    }
}

/// What an argument is about: an ID of which kind, a cursor.
#[derive(Clone, Copy)]
struct Hint {
    cursor: bool,
    video: Option<bool>,
}

impl Hint {
    fn of(field: &str, arg: &str) -> Hint {
        let video = match arg {
            "videoId" => Some(true),
            "userId" => Some(false),
            "id" if matches!(field, "video" | "deleteVideo") => Some(true),
            _ => None,
        };
        Hint {
            cursor: arg == "after",
            video,
        }
    }
}

struct Tape<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Tape<'_> {
    fn next(&mut self) -> usize {
        let b = if self.bytes.is_empty() {
            0
        } else {
            self.bytes[self.at % self.bytes.len()]
        };
        self.at += 1;
        usize::from(b)
    }
}

fn flip_b64(text: &str, bit: u16) -> String {
    match URL_SAFE_NO_PAD.decode(text) {
        Ok(mut bytes) if !bytes.is_empty() => {
            let bit = usize::from(bit) % (bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            URL_SAFE_NO_PAD.encode(bytes)
        }
        _ => format!("{text}A"),
    }
}

/// `text` re-encoded or re-spelled in a way that is not the canonical form.
fn recode(text: &str, how: u8) -> String {
    let bytes = URL_SAFE_NO_PAD.decode(text).unwrap_or_default();
    match how % 6 {
        0 => format!("{text}=="),
        1 => STANDARD.encode(&bytes),
        2 => text.to_uppercase(),
        3 => format!(" {text} "),
        4 => text.replace('-', "%2D").replace('_', "%5F") + "%3D",
        _ => URL_SAFE_NO_PAD.encode([bytes.as_slice(), &[0]].concat()),
    }
}

fn cut(text: &str, keep: usize) -> String {
    text.chars()
        .take(keep % text.chars().count().max(1))
        .collect()
}

/// Renders cases against the model and the fixture, collecting the variables.
struct Render<'a> {
    m: &'a Model,
    fx: &'a Fixture,
    /// Variable definitions of the operation (`$v0: Int`) and their JSON values.
    defs: Vec<String>,
    vars: Map<String, Value>,
    /// The type condition of each fragment of the document.
    frag_types: Vec<String>,
    /// Rendering a clean document (see [`Doc::chaos`]).
    clean: bool,
    /// Aliases given so far (clean documents alias every field that takes arguments).
    aliases: usize,
}

impl<'a> Render<'a> {
    fn new(m: &'a Model, fx: &'a Fixture) -> Self {
        Render {
            m,
            fx,
            defs: Vec::new(),
            vars: Map::new(),
            frag_types: Vec::new(),
            clean: false,
            aliases: 0,
        }
    }

    fn real_id(&self, video: bool, pick: u8) -> String {
        let pick = usize::from(pick);
        if video {
            self.fx.videos[pick % self.fx.videos.len()].clone()
        } else {
            self.fx.accounts[pick % self.fx.accounts.len()].id.clone()
        }
    }

    fn id(&self, spec: &IdSpec, want: Option<bool>) -> String {
        match spec {
            IdSpec::Matching(pick) => {
                let video = want.unwrap_or(pick % 2 == 1);
                self.real_id(video, *pick / 2)
            }
            IdSpec::Real { video, pick } => self.real_id(*video, *pick),
            IdSpec::Flipped { video, pick, bit } => flip_b64(&self.real_id(*video, *pick), *bit),
            IdSpec::Cut { video, pick, keep } => {
                cut(&self.real_id(*video, *pick), usize::from(*keep))
            }
            IdSpec::Junk { video, pick, junk } => self.real_id(*video, *pick) + &junk.render(),
            IdSpec::Recoded { video, pick, how } => recode(&self.real_id(*video, *pick), *how),
            IdSpec::Fresh { video, uuid } => ids().encode_id(
                if *video {
                    tally::ids::Kind::Video
                } else {
                    tally::ids::Kind::User
                },
                Uuid::from_u128(*uuid),
            ),
            IdSpec::Kinded { tag, bytes } => {
                URL_SAFE_NO_PAD.encode([&[*tag][..], bytes.as_slice()].concat())
            }
            IdSpec::B64(bytes) => URL_SAFE_NO_PAD.encode(bytes),
            IdSpec::Text(t) => t.render(),
        }
    }

    fn real_cursor(&self, pick: u8) -> &str {
        &self.fx.cursors[usize::from(pick) % self.fx.cursors.len()]
    }

    fn cursor(&self, spec: &CursorSpec) -> String {
        match spec {
            CursorSpec::Real(p) => self.real_cursor(*p).to_owned(),
            CursorSpec::Flipped(p, bit) => flip_b64(self.real_cursor(*p), *bit),
            CursorSpec::Cut(p, keep) => cut(self.real_cursor(*p), usize::from(*keep)),
            CursorSpec::Junk(p, junk) => self.real_cursor(*p).to_owned() + &junk.render(),
            CursorSpec::Recoded(p, how) => recode(self.real_cursor(*p), *how),
            CursorSpec::Kinded { kind, bytes } => {
                URL_SAFE_NO_PAD.encode([&[*kind][..], bytes.as_slice()].concat())
            }
            CursorSpec::B64(bytes) => URL_SAFE_NO_PAD.encode(bytes),
            CursorSpec::Text(t) => t.render(),
            CursorSpec::Id(id) => self.id(id, None),
        }
    }

    /// A value of type `ty`.
    fn typed(&self, t: &Typed, ty: &Type, hint: Hint, tape: &mut Tape, depth: usize) -> V {
        if ty.nullable && tape.next() % 8 == 7 {
            return V::Null;
        }
        match &ty.base {
            BaseType::List(inner) => {
                let n = if depth > 3 { 0 } else { tape.next() % 4 };
                V::List(
                    (0..n)
                        .map(|_| self.typed(t, inner, hint, tape, depth + 1))
                        .collect(),
                )
            }
            BaseType::Named(name) => match name.as_str() {
                "Int" => V::Int(if tape.next().is_multiple_of(3) {
                    (tape.next() % 30) as i64
                } else if self.clean && i32::try_from(t.int).is_err() {
                    t.int.rem_euclid(200) - 50
                } else {
                    t.int
                }),
                "Float" => V::Float(t.int as f64 / 7.0),
                "Boolean" => V::Bool(tape.next().is_multiple_of(2)),
                "ID" => V::Str(self.id(&t.id, hint.video)),
                "String" if hint.cursor => V::Str(self.cursor(&t.cursor)),
                "String" => V::Str(match tape.next() % 4 {
                    0 => format!("fz{:x}{:x}", tape.next(), tape.next()),
                    1 => t.text.render() + "-x",
                    _ => t.text.render(),
                }),
                other => {
                    if let Some(values) = self.m.enums.get(other) {
                        V::Enum(values[tape.next() % values.len()].clone())
                    } else if let Some(fields) = self.m.inputs.get(other) {
                        let mut obj = Vec::new();
                        for (fname, fty) in fields {
                            if fty.nullable && !tape.next().is_multiple_of(3) {
                                continue;
                            }
                            let hint = Hint::of(other, fname);
                            obj.push((fname.clone(), self.typed(t, fty, hint, tape, depth + 1)));
                        }
                        V::Obj(obj)
                    } else {
                        V::Str(t.text.render())
                    }
                }
            },
        }
    }

    fn wild(&mut self, w: &Wild) -> V {
        match w {
            Wild::Int(i) => V::Int(*i),
            Wild::Float(f) => V::Float(*f),
            Wild::Big(n) => V::Raw("9".repeat(usize::from(*n))),
            Wild::Str(t) => V::Str(t.render()),
            Wild::Bool(b) => V::Bool(*b),
            Wild::Null => V::Null,
            Wild::Enum(p) => V::Enum(match p % 4 {
                0 => "NOPE".to_owned(),
                _ => self.m.name(*p).to_owned(),
            }),
            Wild::List(items) => V::List(items.iter().map(|i| self.wild(i)).collect()),
            Wild::Object(fields) => V::Obj(
                fields
                    .iter()
                    .map(|(k, v)| (self.m.name(*k).to_owned(), self.wild(v)))
                    .collect(),
            ),
            Wild::Var(n) => V::Var(format!("v{}", n % 6)),
            Wild::Id(id) => V::Str(self.id(id, None)),
            Wild::Cursor(c) => V::Str(self.cursor(c)),
        }
    }

    fn arg(&mut self, val: &ArgVal, ty: Option<&Type>, hint: Hint) -> V {
        let string = Type::new("String").expect("type");
        let ty = ty.unwrap_or(&string);
        let clean = self.clean;
        let typed = |this: &Self, t: &Typed| {
            let mut tape = Tape {
                bytes: &t.tape,
                at: 0,
            };
            this.typed(t, ty, hint, &mut tape, 0)
        };
        match val {
            ArgVal::Typed(t) => typed(self, t),
            ArgVal::Wild(_) if clean => typed(self, &Typed::default()),
            ArgVal::Wild(w) => self.wild(w),
            ArgVal::Var {
                decl,
                value,
                default,
            } => {
                let name = format!("v{}", self.defs.len());
                let declared = match decl {
                    Some(i) if !clean => VAR_TYPES[usize::from(*i) % VAR_TYPES.len()].to_owned(),
                    _ => ty.to_string(),
                };
                let mut def = format!("${name}: {declared}");
                if let Some(d) = default.as_ref().filter(|_| !clean) {
                    def.push_str(" = ");
                    self.wild(d).gql(&mut def);
                }
                self.defs.push(def);
                let json = match value {
                    Some(VarValue::Typed(t)) => Some(typed(self, t).json()),
                    Some(VarValue::Json(_)) | None if clean => {
                        Some(typed(self, &Typed::default()).json())
                    }
                    Some(VarValue::Json(j)) => Some(j.clone()),
                    None => None,
                };
                if let Some(j) = json {
                    self.vars.insert(name.clone(), j);
                }
                V::Var(name)
            }
        }
    }

    fn dirs(&mut self, dirs: &[Dir], out: &mut String) {
        for d in dirs {
            let name = DIRECTIVES[usize::from(d.name) % DIRECTIVES.len()];
            let plain = matches!(name, "include" | "skip")
                && matches!(d.arg, DirArg::Bool(_) | DirArg::Var(_));
            if self.clean && !plain {
                continue;
            }
            let _ = write!(out, " @{name}");
            match &d.arg {
                DirArg::None => {}
                DirArg::Bool(b) => {
                    let _ = write!(out, "(if: {b})");
                }
                DirArg::Var(b) => {
                    let var = format!("d{}", self.defs.len());
                    self.defs.push(format!("${var}: Boolean!"));
                    self.vars.insert(var.clone(), Value::Bool(*b));
                    let _ = write!(out, "(if: ${var})");
                }
                DirArg::Wild(w) => {
                    out.push_str("(if: ");
                    self.wild(w).gql(out);
                    out.push(')');
                }
            }
            if self.clean {
                break;
            }
        }
    }

    /// ` { … }` of `sels` on type `on`.
    fn selection_set(&mut self, on: &str, sels: &[Sel], out: &mut String) {
        out.push_str(" {");
        if sels.is_empty() {
            // `{ }` is a syntax error; the token soup and random text cover those.
            out.push_str(" __typename");
        }
        for s in sels {
            out.push(' ');
            self.selection(on, s, out);
        }
        out.push_str(" }");
    }

    fn selection(&mut self, on: &str, sel: &Sel, out: &mut String) {
        match sel {
            Sel::Typename { alias } => {
                if let Some(a) = alias {
                    let _ = write!(out, "t{a}: ");
                }
                out.push_str("__typename");
            }
            Sel::Spread { frag, dirs } => {
                // A fragment on this very type (defined), in a clean document; anywhere, or
                // an undefined one now and then, otherwise.
                let f = usize::from(*frag);
                let pick = if self.clean {
                    self.frag_types.iter().position(|t| t == on)
                } else if self.frag_types.is_empty() || f % 16 == 15 {
                    Some(self.frag_types.len() + f % 2)
                } else {
                    Some(f % self.frag_types.len())
                };
                match pick {
                    Some(i) => {
                        let _ = write!(out, "...F{i}");
                        self.dirs(dirs, out);
                    }
                    None => out.push_str("__typename"),
                }
            }
            Sel::Inline {
                on: cond,
                dirs,
                sub,
            } => {
                out.push_str("...");
                let inner = match cond {
                    Some(p) if !self.clean => {
                        let t = self.m.type_name(*p).to_owned();
                        let _ = write!(out, " on {t}");
                        t
                    }
                    _ => on.to_owned(),
                };
                self.dirs(dirs, out);
                let inner = if self.m.fields(&inner).is_some() {
                    inner
                } else {
                    on.to_owned()
                };
                self.selection_set(&inner, sub, out);
            }
            Sel::Field {
                strict,
                own,
                pick,
                alias,
                args,
                dirs,
                sub,
            } => {
                let (strict, own) = (*strict || self.clean, *own || self.clean);
                let field = match self.m.fields(on) {
                    Some(fs) if own && !fs.is_empty() => Some(&fs[usize::from(*pick) % fs.len()]),
                    _ => None,
                };
                let name = field.map_or_else(|| self.m.name(*pick).to_owned(), |f| f.name.clone());
                if self.clean {
                    // Two fields of one name with other arguments would conflict.
                    if field.is_some_and(|f| !f.args.is_empty()) {
                        self.aliases += 1;
                        let _ = write!(out, "f{}: ", self.aliases);
                    }
                } else if let Some(a) = alias {
                    let _ = write!(out, "a{a}: ");
                }
                out.push_str(&name);
                let mut rendered: Vec<(String, V)> = Vec::new();
                match field {
                    Some(f) if strict => {
                        for (i, (arg, ty)) in f.args.iter().enumerate() {
                            let val = match args.get(i) {
                                Some((_, v)) => v.clone(),
                                None if !ty.nullable => ArgVal::Typed(Typed::default()),
                                None => continue,
                            };
                            let v = self.arg(&val, Some(ty), Hint::of(&f.name, arg));
                            rendered.push((arg.clone(), v));
                        }
                    }
                    _ => {
                        for (pick, val) in args {
                            let own_arg = field
                                .filter(|f| !f.args.is_empty() && pick % 4 != 0)
                                .map(|f| &f.args[usize::from(*pick) % f.args.len()]);
                            let (arg, ty) = match own_arg {
                                Some((a, t)) => (a.clone(), Some(t)),
                                None => (self.m.name(*pick).to_owned(), None),
                            };
                            let v = self.arg(val, ty, Hint::of(&name, &arg));
                            rendered.push((arg, v));
                        }
                    }
                }
                if !rendered.is_empty() {
                    out.push('(');
                    for (i, (arg, v)) in rendered.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        out.push_str(arg);
                        out.push_str(": ");
                        v.gql(out);
                    }
                    out.push(')');
                }
                self.dirs(dirs, out);
                let child = field.map(|f| named(&f.ty).to_owned());
                let child_fields = child.as_deref().and_then(|c| self.m.fields(c));
                match (child, child_fields) {
                    (Some(_), Some(cf)) if strict && sub.is_empty() => {
                        // The first field that needs neither arguments nor a selection.
                        let leaf = cf
                            .iter()
                            .find(|f| {
                                f.args.iter().all(|(_, t)| t.nullable)
                                    && self.m.fields(named(&f.ty)).is_none()
                            })
                            .map_or("__typename", |f| f.name.as_str());
                        let _ = write!(out, " {{ {leaf} }}");
                    }
                    (Some(c), Some(_)) => self.selection_set(&c, sub, out),
                    (Some(_), None) if strict => {}
                    (c, _) => {
                        if !sub.is_empty() {
                            let c = c.unwrap_or_else(|| on.to_owned());
                            self.selection_set(&c, sub, out);
                        }
                    }
                }
            }
        }
    }

    /// `(query, variables, operationName)` of a document.
    fn doc(&mut self, d: &Doc) -> (String, Option<Value>, Option<Value>) {
        self.clean = !d.chaos;
        self.aliases = 0;
        // Clean documents have no fragments: one that is never spread is an error.
        let doc_frags: &[Frag] = if self.clean { &[] } else { &d.frags };
        self.frag_types = doc_frags
            .iter()
            .map(|f| f.on.map_or("Nope", |p| self.m.type_name(p)).to_owned())
            .collect();
        let kind = if self.clean { d.kind % 3 } else { d.kind % 4 };
        let (keyword, root) = match kind {
            0 => ("", "Query"),
            1 => ("query", "Query"),
            2 => ("mutation", "Mutation"),
            _ => ("subscription", "Query"),
        };
        let name = d.name.map(|n| format!("Op{n}"));
        let mut body = String::new();
        self.selection_set(root, &d.sels, &mut body);
        let mut frags = String::new();
        for (i, f) in doc_frags.iter().enumerate() {
            let on = self.frag_types[i].clone();
            let _ = write!(frags, " fragment F{i} on {on}");
            self.dirs(&f.dirs, &mut frags);
            let inner = if self.m.fields(&on).is_some() {
                on
            } else {
                root.to_owned()
            };
            self.selection_set(&inner, &f.sels, &mut frags);
        }
        let mut other = String::new();
        let other_op = d.other.as_ref().filter(|_| !self.clean);
        let other_name = other_op.map(|(n, _)| format!("Other{n}"));
        if let (Some((_, sels)), Some(n)) = (other_op, &other_name) {
            let _ = write!(other, " query {n}");
            let defs_before = self.defs.len();
            self.selection_set("Query", sels, &mut other);
            // The other operation declares nothing: its variables are undeclared.
            self.defs.truncate(defs_before);
        }
        let mut q = String::new();
        if kind != 0 || name.is_some() || !self.defs.is_empty() {
            q.push_str(if keyword.is_empty() { "query" } else { keyword });
            if let Some(n) = &name {
                q.push(' ');
                q.push_str(n);
            }
            if !self.defs.is_empty() {
                let _ = write!(q, "({})", self.defs.join(", "));
            }
        }
        q.push_str(&body);
        q.push_str(&frags);
        q.push_str(&other);
        for (k, v) in &d.stray_vars {
            self.vars.insert(format!("x{k}"), v.clone());
        }
        let vars = Value::Object(std::mem::take(&mut self.vars));
        let shape = if self.clean { 0 } else { d.vars_shape % 5 };
        let variables = match shape {
            0 => Some(vars),
            1 => None,
            2 => Some(Value::Null),
            3 => Some(Value::String(vars.to_string())),
            _ => Some(Value::Array(vec![vars])),
        };
        let op_name = match if self.clean {
            d.op_name % 2
        } else {
            d.op_name % 6
        } {
            0 => None,
            1 => Some(name.map_or(Value::Null, Value::String)),
            2 => Some(other_name.map_or(Value::Null, Value::String)),
            3 => Some(json!("Unknown")),
            4 => Some(Value::Null),
            _ => Some(json!(7)),
        };
        (q, variables, op_name)
    }

    fn op(&mut self, op: &Op) -> Value {
        self.defs.clear();
        self.vars.clear();
        let (query, variables, op_name) = match &op.query {
            QuerySpec::Doc(d) => self.doc(d),
            QuerySpec::Text(t) => (t.render(), None, None),
            QuerySpec::Soup(tokens) => {
                let words: Vec<&str> = tokens
                    .iter()
                    .map(|t| {
                        let t = usize::from(*t);
                        if t % 3 == 0 {
                            self.m.names[t % self.m.names.len()].as_str()
                        } else {
                            SOUP[t % SOUP.len()]
                        }
                    })
                    .collect();
                (words.join(" "), None, None)
            }
            QuerySpec::Deep { how, n } => (deep(*how, *n), None, None),
        };
        let mut o = Map::new();
        o.insert("query".into(), Value::String(query));
        if let Some(v) = variables {
            o.insert("variables".into(), v);
        }
        if let Some(n) = op_name {
            o.insert("operationName".into(), n);
        }
        match op.envelope % 4 {
            1 => {
                o.insert("query".into(), op.odd.clone());
            }
            2 => {
                o.insert("extensions".into(), op.odd.clone());
            }
            3 => {
                o.remove("query");
            }
            _ => {}
        }
        Value::Object(o)
    }

    fn body(&mut self, b: &Body) -> Vec<u8> {
        match b {
            Body::One(op) => self.op(op).to_string().into_bytes(),
            Body::Batch(ops) => Value::Array(ops.iter().map(|o| self.op(o)).collect())
                .to_string()
                .into_bytes(),
            Body::Bytes(bytes) => bytes.clone(),
            Body::Text(t) => t.render().into_bytes(),
            Body::Json(v) => v.to_string().into_bytes(),
            Body::JsonNest { n, array } => {
                let n = *n as usize;
                if *array {
                    format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes()
                } else {
                    format!("{}{{}}{}", "{\"query\": ".repeat(n), "}".repeat(n)).into_bytes()
                }
            }
            Body::Sized { extra, json } => {
                let size = (MAX_BODY as i64 + i64::from(*extra)).max(64) as usize;
                if *json {
                    let head = "{\"query\": \"{ __typename }\", \"extensions\": {\"pad\": \"";
                    let tail = "\"}}";
                    let pad = size - head.len() - tail.len();
                    format!("{head}{}{tail}", "x".repeat(pad)).into_bytes()
                } else {
                    vec![b'#'; size]
                }
            }
            Body::Cut(op, at) => {
                let text = self.op(op).to_string().into_bytes();
                let at = usize::from(*at) % text.len().max(1);
                text[..at].to_vec()
            }
        }
    }

    fn fixture_token(&self, user: u8) -> &str {
        &self.fx.accounts[usize::from(user) % self.fx.accounts.len()].token
    }

    /// The `Authorization` header and whether the server must accept it.
    fn auth(&self, a: &Auth) -> (Option<Vec<u8>>, Cred) {
        let secret_key = EncodingKey::from_secret(SECRET).expect("HS256 key");
        let sign = |header: &Header, claims: &Value, key: &EncodingKey| {
            encode(header, claims, key).expect("sign")
        };
        let bearer = |t: &str| Some(format!("Bearer {t}").into_bytes());
        match a {
            Auth::None => (None, Cred::Anonymous),
            Auth::Fixture { user, scheme } => {
                let t = self.fixture_token(*user);
                let (header, valid) = match scheme % 11 {
                    0 => (format!("Bearer {t}"), true),
                    1 => (format!("bearer {t}"), true),
                    2 => (format!("BEARER {t}"), true),
                    3 => (format!("Bearer  {t}"), true),
                    4 => (format!("Bearer {t} "), true),
                    5 => (format!("Bearer\t{t}"), false),
                    6 => (format!("Token {t}"), false),
                    7 => (t.to_owned(), false),
                    8 => (format!("Bearer {t}, Bearer {t}"), false),
                    9 => ("Bearer".to_owned(), false),
                    _ => ("Bearer ".to_owned(), false),
                };
                (
                    Some(header.into_bytes()),
                    if valid { Cred::Valid } else { Cred::Invalid },
                )
            }
            Auth::Bytes(b) => (Some(b.clone()), Cred::Invalid),
            Auth::Bearer(t) => (bearer(&t.render()), Cred::Invalid),
            Auth::Shaped(parts) => {
                let t: Vec<String> = parts.iter().map(|p| URL_SAFE_NO_PAD.encode(p)).collect();
                (bearer(&t.join(".")), Cred::Invalid)
            }
            Auth::Json {
                header,
                claims,
                sig,
            } => {
                let t = format!(
                    "{}.{}.{}",
                    URL_SAFE_NO_PAD.encode(header.to_string()),
                    URL_SAFE_NO_PAD.encode(claims.to_string()),
                    URL_SAFE_NO_PAD.encode(sig)
                );
                (bearer(&t), Cred::Invalid)
            }
            Auth::Tampered { user, how } => {
                let original = self.fixture_token(*user).to_owned();
                let t = self.tamper(&original, how);
                let cred = if t == original {
                    Cred::Valid
                } else {
                    Cred::Invalid
                };
                (bearer(&t), cred)
            }
            Auth::Signed(c) => {
                let mut header = Header::new(Algorithm::HS256);
                header.kid = c.kid.map(|k| match k % 3 {
                    0 => "ec-p256".to_owned(),
                    1 => "rsa-2025".to_owned(),
                    _ => format!("k{k}"),
                });
                let t = sign(&header, &c.claims(self.fx), &secret_key);
                (
                    bearer(&t),
                    if c.valid() {
                        Cred::Valid
                    } else {
                        Cred::Invalid
                    },
                )
            }
            Auth::OtherKey(user) => {
                let other = tally::auth::token::Tokens::new(
                    b"another-secret-another-secret-another!",
                    chrono::Duration::hours(1),
                    ids(),
                )
                .expect("tokens");
                let account = &self.fx.accounts[usize::from(*user) % self.fx.accounts.len()];
                let id = ids()
                    .decode_id("sub", tally::ids::Kind::User, &account.id)
                    .map_err(|e| e.message())
                    .expect("fixture ID");
                let (t, _) = other.issue(id).map_err(|e| e.message()).expect("issue");
                (bearer(&t), Cred::Invalid)
            }
            Auth::Idp(s) => {
                let (kid, alg, key) =
                    &self.fx.idp_keys[usize::from(s.key) % self.fx.idp_keys.len()];
                let mut header = Header::new(*alg);
                header.kid = Some(match s.kid % 3 {
                    0 => (*kid).to_owned(),
                    1 => if *kid == "ed25519" {
                        "ec-p256"
                    } else {
                        "ed25519"
                    }
                    .to_owned(),
                    _ => format!("unknown-{}", s.kid),
                });
                let now = Utc::now().timestamp();
                let mut claims = json!({
                    "sub": s.subject(),
                    "iss": if s.iss { IDP_ISSUER } else { "https://evil.test/" },
                    "iat": now,
                    "exp": if s.expired { now - 3600 } else { now + 3600 },
                });
                match s.aud % 4 {
                    0 => claims["aud"] = json!(IDP_AUDIENCE),
                    1 => claims["aud"] = json!("someone-else"),
                    2 => claims["aud"] = json!(["x", IDP_AUDIENCE]),
                    _ => {}
                }
                let t = sign(&header, &claims, key);
                (
                    bearer(&t),
                    if s.valid() {
                        Cred::Valid
                    } else {
                        Cred::Invalid
                    },
                )
            }
        }
    }

    fn tamper(&self, token: &str, how: &Tamper) -> String {
        let parts: Vec<&str> = token.split('.').collect();
        let [h, p, s] = parts[..] else {
            panic!("a fixture token has three parts: {token}");
        };
        let payload = || -> Map<String, Value> {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("payload")).expect("JSON")
        };
        let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        match how {
            Tamper::Flip { part, bit } => {
                let mut ps = [h.to_owned(), p.to_owned(), s.to_owned()];
                let i = usize::from(*part) % 3;
                ps[i] = flip_b64(&ps[i], *bit);
                ps.join(".")
            }
            Tamper::Sub(pick) => {
                let mut c = payload();
                c.insert("sub".into(), json!(self.real_id(pick % 2 == 1, *pick / 2)));
                format!("{h}.{}.{s}", enc(&Value::Object(c)))
            }
            Tamper::Claim { name, value } => {
                let names = ["exp", "iss", "aud", "sub", "iat", "nbf", "admin", "role"];
                let mut c = payload();
                c.insert(
                    names[usize::from(*name) % names.len()].into(),
                    value.clone(),
                );
                format!("{h}.{}.{s}", enc(&Value::Object(c)))
            }
            Tamper::AlgNone { keep_sig } => {
                let header = enc(&json!({ "alg": "none", "typ": "JWT" }));
                if *keep_sig {
                    format!("{header}.{p}.{s}")
                } else {
                    format!("{header}.{p}.")
                }
            }
            Tamper::Alg(i) => {
                let algs = [
                    "HS384", "HS512", "RS256", "ES256", "EdDSA", "none", "NONE", "hs256", "",
                ];
                let header =
                    enc(&json!({ "alg": algs[usize::from(*i) % algs.len()], "typ": "JWT" }));
                format!("{header}.{p}.{s}")
            }
            Tamper::Kid(i) => {
                let kids = [
                    "ec-p256",
                    "rsa-2025",
                    "ed25519",
                    "x",
                    "../../etc/passwd",
                    "",
                ];
                let header = enc(
                    &json!({ "alg": "HS256", "typ": "JWT", "kid": kids[usize::from(*i) % kids.len()] }),
                );
                format!("{header}.{p}.{s}")
            }
            Tamper::NoSig(dot) => {
                if *dot {
                    format!("{h}.{p}.")
                } else {
                    format!("{h}.{p}")
                }
            }
            Tamper::ExtraSegment => format!("{token}.{s}"),
            Tamper::Cut(n) => token[..usize::from(*n) % token.len()].to_owned(),
            Tamper::Space(n) => {
                // Inside the token: a space before it is only more separation.
                let at = 1 + usize::from(*n) % (token.len() - 1);
                format!("{} {}", &token[..at], &token[at..])
            }
            Tamper::SwapCase => token
                .chars()
                .map(|c| {
                    if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect(),
        }
    }

    fn case(&mut self, c: &Case) -> Rendered {
        let (authorization, cred) = self.auth(&c.auth);
        // Bytes no HTTP header may carry (a client cannot send them) become `?`.
        let authorization = authorization.map(|a| {
            a.into_iter()
                .map(|b| {
                    if (b < 0x20 && b != b'\t') || b == 0x7f {
                        b'?'
                    } else {
                        b
                    }
                })
                .collect()
        });
        Rendered {
            authorization,
            cred,
            content_type: c
                .content_type
                .map(|i| CONTENT_TYPES[usize::from(i) % CONTENT_TYPES.len()].to_owned()),
            body: self.body(&c.body),
        }
    }
}

/// Whether the `Authorization` header must be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cred {
    Anonymous,
    Valid,
    Invalid,
}

/// A request as sent.
struct Rendered {
    authorization: Option<Vec<u8>>,
    cred: Cred,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Rendered {
    /// A JSON body with no `Authorization` header (`cred` says whether one is expected).
    fn json(cred: Cred, body: Value) -> Rendered {
        Rendered {
            authorization: None,
            cred,
            content_type: Some("application/json".into()),
            body: body.to_string().into_bytes(),
        }
    }

    /// The status the service must answer with, and the batch size if a 200 is an array.
    fn expected(&self) -> (u16, Option<usize>) {
        if !is_json_in_utf8(self.content_type.as_deref()) {
            return (415, None);
        }
        if self.body.len() > MAX_BODY {
            return (413, None);
        }
        let batch = match graphql_request_shape(&self.body) {
            None => return (400, None),
            Some(None) => None,
            Some(Some(n)) if n > MAX_BATCH => return (400, None),
            Some(Some(n)) => Some(n),
        };
        match self.cred {
            Cred::Invalid => (401, None),
            Cred::Anonymous | Cred::Valid => (200, batch),
        }
    }

    /// A copy-pasteable description (the body cut to a readable length).
    fn describe(&self) -> String {
        let shown = |b: &[u8]| {
            let s = String::from_utf8_lossy(b);
            if s.chars().count() > 1500 {
                let head: String = s.chars().take(1500).collect();
                format!("{head}… ({} bytes in all)", b.len())
            } else {
                s.into_owned()
            }
        };
        format!(
            "Authorization: {} ({:?})\nContent-Type: {}\nbody: {}",
            self.authorization
                .as_deref()
                .map_or("<none>".to_owned(), shown),
            self.cred,
            self.content_type.as_deref().unwrap_or("<none>"),
            shown(&self.body)
        )
    }
}

/// Whether a POST's `Content-Type` is `application/json` in UTF-8 (GraphQL over HTTP: any
/// other is 415).
fn is_json_in_utf8(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let mut parts = ct.split(';').map(str::trim);
    parts
        .next()
        .is_some_and(|e| e.eq_ignore_ascii_case("application/json"))
        && parts.all(|p| match p.split_once('=') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
                value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        })
}

/// `None` if `body` is not a GraphQL request as GraphQL over HTTP defines one (a JSON
/// object with a string `query`, `operationName` a string or null, `variables` and
/// `extensions` objects or null) nor a non-empty list of them; else `Some(None)` for one
/// request and `Some(Some(n))` for a batch of `n`.
fn graphql_request_shape(body: &[u8]) -> Option<Option<usize>> {
    fn one(v: &Value) -> bool {
        let Some(o) = v.as_object() else {
            return false;
        };
        let absent_null_or =
            |k: &str, ok: fn(&Value) -> bool| o.get(k).is_none_or(|v| v.is_null() || ok(v));
        o.get("query").is_some_and(Value::is_string)
            && absent_null_or("operationName", Value::is_string)
            && absent_null_or("variables", Value::is_object)
            && absent_null_or("extensions", Value::is_object)
    }
    match serde_json::from_slice::<Value>(body).ok()? {
        Value::Array(items) if !items.is_empty() && items.iter().all(one) => {
            Some(Some(items.len()))
        }
        v if one(&v) => Some(None),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------------------

/// What the answers looked like over the run.
#[derive(Default)]
struct Stats {
    statuses: BTreeMap<u16, u32>,
    codes: BTreeMap<String, u32>,
    /// Operations answered with data and no error.
    clean: u32,
    /// Operations whose `data` held something besides `__typename`/null.
    resolved: u32,
}

/// Checks one error entry.
fn check_error(e: &Value, want: Option<&str>, stats: &mut Stats) -> Result<(), String> {
    let message = e["message"]
        .as_str()
        .ok_or_else(|| format!("an error without a message: {e}"))?;
    let code = e["extensions"]["code"]
        .as_str()
        .ok_or_else(|| format!("an error without extensions.code: {e}"))?;
    *stats.codes.entry(code.to_owned()).or_default() += 1;
    if !CODES.contains(&code) {
        return Err(format!("undocumented code {code}: {e}"));
    }
    if code == "INTERNAL" {
        return Err(format!("INTERNAL for client input: {e}"));
    }
    if let Some(want) = want {
        if code != want {
            return Err(format!("code {code}, expected {want}: {e}"));
        }
    }
    if let Some(leak) = LEAKS.iter().find(|l| message.contains(*l)) {
        return Err(format!("the message carries `{leak}`: {e}"));
    }
    Ok(())
}

fn check_response(r: &Value, stats: &mut Stats) -> Result<(), String> {
    let obj = r
        .as_object()
        .ok_or_else(|| format!("a response that is not an object: {r}"))?;
    if !obj.contains_key("data") && !obj.contains_key("errors") {
        return Err(format!("a response without data or errors: {r}"));
    }
    match obj.get("errors") {
        None => stats.clean += 1,
        Some(Value::Array(errors)) if !errors.is_empty() => {
            for e in errors {
                check_error(e, None, stats)?;
            }
        }
        Some(other) => return Err(format!("`errors` is not a non-empty list: {other}")),
    }
    if let Some(Value::Object(data)) = obj.get("data") {
        if data
            .iter()
            .any(|(k, v)| !k.starts_with('t') && !k.starts_with("__") && !v.is_null())
        {
            stats.resolved += 1;
        }
    }
    Ok(())
}

/// The status, batch shape and error codes of one answer.
fn check_answer(req: &Rendered, status: u16, body: &[u8], stats: &mut Stats) -> Result<(), String> {
    *stats.statuses.entry(status).or_default() += 1;
    if status >= 500 {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(body)));
    }
    let (want, batch) = req.expected();
    let json: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "HTTP {status} with a body that is not JSON ({e}): {}",
            String::from_utf8_lossy(body)
        )
    })?;
    if status != want {
        return Err(format!("HTTP {status}, expected {want}: {json}"));
    }
    match (status, batch) {
        (200, Some(n)) => {
            let items = json
                .as_array()
                .filter(|a| a.len() == n)
                .ok_or_else(|| format!("a batch of {n} answered with {json}"))?;
            for r in items {
                check_response(r, stats)?;
            }
        }
        (200, None) => check_response(&json, stats)?,
        _ => {
            let want_code = if status == 401 {
                "UNAUTHENTICATED"
            } else {
                "BAD_USER_INPUT"
            };
            let errors = json["errors"]
                .as_array()
                .filter(|e| !e.is_empty())
                .ok_or_else(|| format!("HTTP {status} without errors: {json}"))?;
            for e in errors {
                check_error(e, Some(want_code), stats)?;
            }
        }
    }
    Ok(())
}

async fn send(
    http: &reqwest::Client,
    base: &str,
    req: &Rendered,
) -> Result<(u16, Vec<u8>), String> {
    let mut r = http.post(format!("{base}/graphql")).body(req.body.clone());
    if let Some(ct) = &req.content_type {
        r = r.header("Content-Type", ct.as_str());
    }
    if let Some(a) = &req.authorization {
        let value = reqwest::header::HeaderValue::from_bytes(a)
            .map_err(|e| format!("unsendable header: {e}"))?;
        r = r.header("Authorization", value);
    }
    let resp = r.send().await.map_err(|e| format!("no answer: {e:?}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("answer cut off: {e:?}"))?;
    Ok((status, body.to_vec()))
}

/// After every case: a signed-in read through the database must still be answered.
async fn still_serving(http: &reqwest::Client, base: &str, fx: &Fixture) -> Result<(), String> {
    let alice = &fx.accounts[0];
    let resp = http
        .post(format!("{base}/graphql"))
        .bearer_auth(&alice.token)
        .json(&json!({ "query": "{ viewer { handle } feed(first: 2) { edges { cursor } } }" }))
        .send()
        .await
        .map_err(|e| format!("the next good request got no answer: {e:?}"))?;
    let status = resp.status().as_u16();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| format!("the next good request: {e:?}"))?;
    if status != 200 || body["data"]["viewer"]["handle"] != json!(alice.handle) {
        return Err(format!("the next good request: HTTP {status} {body}"));
    }
    Ok(())
}

/// Sends one case and checks every property; `Err` says what failed.
async fn run_case(
    http: &reqwest::Client,
    server: &RefCell<Server>,
    fx: &Fixture,
    req: &Rendered,
    stats: &mut Stats,
) -> Result<(), String> {
    let base = server.borrow().base.clone();
    let answer = send(http, &base, req).await;
    let mut problems = Vec::new();
    if std::env::var_os("TALLY_FUZZ_SHOW").is_some() {
        if let Ok((status, body)) = &answer {
            let text: String = String::from_utf8_lossy(body).chars().take(400).collect();
            eprintln!("=> {status} {text}");
        }
    }
    match &answer {
        Ok((status, body)) => {
            if let Err(e) = check_answer(req, *status, body, stats) {
                problems.push(e);
            }
        }
        Err(e) => problems.push(e.clone()),
    }
    let panics = server.borrow().take_panics();
    if !panics.is_empty() {
        problems.push(format!("the server panicked: {}", panics.join("\n")));
    }
    let exited = server.borrow_mut().exited();
    if let Some(how) = exited {
        problems.push(format!("the server died ({how})"));
    } else if let Err(e) = still_serving(http, &base, fx).await {
        problems.push(e);
    }
    if problems.is_empty() {
        return Ok(());
    }
    let log = tail(&server.borrow().log);
    if server.borrow_mut().exited().is_some() {
        server.borrow_mut().restart();
    }
    Err(format!(
        "{}\n--- request\n{}\n--- server log (tail)\n{log}",
        problems.join("\n"),
        req.describe()
    ))
}

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
        let outcome = rt.block_on(run_case(&http, &server, &fx, &req, &mut stats));
        assert!(
            outcome.is_ok(),
            "{what}: {}",
            outcome.err().unwrap_or_default()
        );
        let (status, body) = rt
            .block_on(send(&http, &server.borrow().base, &req))
            .expect("answer");
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
        "{caption: \"a\\u0000b\"}",
        "{caption: \"ok\", hashtags: [\"a\\u0000\"]}",
        "{caption: \"ok\", sound: \"\\u0000\"}",
    ] {
        let mut req = Rendered::json(
            Cred::Valid,
            json!({ "query": format!("mutation {{ createVideo(input: {input}) {{ id }} }}") }),
        );
        req.authorization = Some(alice.clone().into_bytes());
        let outcome = rt.block_on(run_case(&http, &server, &fx, &req, &mut stats));
        assert!(
            outcome.is_ok(),
            "{input}: {}",
            outcome.err().unwrap_or_default()
        );
        let (_, body) = rt
            .block_on(send(&http, &server.borrow().base, &req))
            .expect("answer");
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
    let outcome = rt.block_on(run_case(&http, &server, &fx, &req, &mut stats));
    assert!(
        outcome.is_ok(),
        "NUL subject: {}",
        outcome.err().unwrap_or_default()
    );
    let (status, _) = rt
        .block_on(send(&http, &server.borrow().base, &req))
        .expect("answer");
    assert_eq!(status, 401);
}
