//! `fault`: the client side of `bench/fault.sh` (issue 4, "Faults"; see `bench/README.md`).
//!
//! Against a running `tally serve` on a PostgreSQL instance that this run may stop and
//! start (`--pg-stop`, `--pg-start`, shell commands), it:
//!
//! 1. signs up creators and likers and creates videos through the API (tokens from `signUp`);
//! 2. runs a like storm: `--clients` closed-loop clients, each owning its own likers, toggling
//!    likes on random (liker, video) pairs. Because one client owns a pair, the pair sees one
//!    sequence of operations and its *final acknowledged state* (liked or not) is well
//!    defined; an answer with `errors` leaves the pair unknown until a later answer settles it
//!    (the request may or may not have committed: either state is accepted for such a pair);
//! 3. stops the database `--before-secs` into the storm, starts it again `--outage-secs` later,
//!    and probes `/readyz`, `/healthz` and an anonymous GraphQL read every 250 ms throughout;
//! 4. keeps storming `--after-secs` past the moment `/readyz` answers 200 again. Until then the
//!    clients like the first half of the videos, afterwards only the second half: the pairs of
//!    the first half stay frozen in the state acknowledged just before (or during) the outage,
//!    so the check below is a check of what the restart did to acknowledged likes, not of
//!    states overwritten later;
//! 5. checks: every answer was a GraphQL answer (errors carry `extensions.code`, no lost
//!    connection, nothing slower than the server's timeout plus slack); errors only while the
//!    database was away (sent before `/readyz` recovered, answered after the stop began), all
//!    `INTERNAL`; `/readyz` non-200 while the database is down and 200 again within
//!    `--ready-within-secs` without restarting the server; `/healthz` always 200; the server
//!    alive; every pair's final acknowledged state is what the `likes` table holds (each like
//!    exactly once, labelled with the liker's audience); `like_count`, `everyone_likes` and
//!    `followers_likes` equal the rows; `likeCount` over the API equals the rows.
//!
//! Prints a report and exits 1 on any violation.
use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use clap::Parser;
use entity::{Audience, LikesVisibility, Visibility};
use rand::{rngs::StdRng, Rng, SeedableRng};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};
use tally::{
    domain::counters,
    error::AppResult,
    ids::{IdCodec, IdKey, Kind},
};
use tokio::{sync::mpsc, task::JoinSet};
use uuid::Uuid;

/// The server's ID codec, set once from `--id-key`.
static IDS: std::sync::OnceLock<IdCodec> = std::sync::OnceLock::new();

/// The UUID of an ID the server answered with.
fn decode_id(field: &str, kind: Kind, text: &str) -> AppResult<Uuid> {
    match IDS.get() {
        Some(ids) => ids.decode_id(field, kind, text),
        None => Err(tally::error::AppError::internal(anyhow::anyhow!(
            "the ID codec is not set"
        ))),
    }
}

/// A like storm across a database restart, and the checks that nothing acknowledged was lost.
#[derive(Debug, Parser)]
struct Args {
    /// Base URL of the running server.
    #[arg(long, default_value = "http://127.0.0.1:18282")]
    base: String,
    /// The server's database, for the final checks.
    #[arg(long)]
    database_url: String,
    /// The server's ID key (`TALLY_ID_KEY`), to read the UUIDs of the IDs it answers with.
    #[arg(long, env = "TALLY_ID_KEY", hide_env_values = true)]
    id_key: String,
    /// Shell command that stops the database (returns once it is down).
    #[arg(long)]
    pg_stop: String,
    /// Shell command that starts the database again (returns once it accepts connections).
    #[arg(long)]
    pg_start: String,
    /// PID of the server process: checked to be alive (never restarted) at the end.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Concurrent storm clients (each a closed loop: one request at a time).
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Likers owned by each client.
    #[arg(long, default_value_t = 4)]
    likers_per_client: usize,
    /// Videos liked and unliked.
    #[arg(long, default_value_t = 8)]
    videos: usize,
    /// Seconds of storm before the database is stopped.
    #[arg(long, default_value_t = 20)]
    before_secs: u64,
    /// Seconds the database stays down.
    #[arg(long, default_value_t = 8)]
    outage_secs: u64,
    /// Seconds of storm after `/readyz` answers 200 again.
    #[arg(long, default_value_t = 20)]
    after_secs: u64,
    /// `/readyz` must answer 200 within this many seconds of the database accepting connections.
    #[arg(long, default_value_t = 15)]
    ready_within_secs: u64,
    /// The server's execution timeout (`TALLY_QUERY_TIMEOUT_MS`): no answer may take longer
    /// than this plus `--slack-ms`.
    #[arg(long, default_value_t = 5000)]
    query_timeout_ms: u64,
    #[arg(long, default_value_t = 2000)]
    slack_ms: u64,
    /// Errors are allowed for requests sent up to this long after `/readyz` recovered.
    #[arg(long, default_value_t = 0)]
    grace_ms: u64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

const LIKE: &str = "mutation($v: ID!) { likeVideo(videoId: $v) { viewerHasLiked } }";
const UNLIKE: &str = "mutation($v: ID!) { unlikeVideo(videoId: $v) { viewerHasLiked } }";
const READ: &str = "query($v: ID!) { video(id: $v) { likeCount } }";

/// How one HTTP exchange ended.
#[derive(Debug, Clone)]
enum Outcome {
    /// A GraphQL answer without `errors`, with the expected data.
    Ok,
    /// A GraphQL answer whose errors all carry `extensions.code`; the first code and message.
    Coded {
        status: u16,
        code: String,
        message: String,
    },
    /// Refused by a rate limiter (`RATE_LIMITED`): nothing ran, so nothing is unknown.
    RateLimited,
    /// An answer that breaks the contract (an error without a code, a body that is not a
    /// GraphQL response, unexpected data).
    Bad(String),
    /// No answer at all (connection refused or reset, client timeout).
    Transport(String),
}

/// One timed request: seconds since the start of the run.
#[derive(Debug, Clone)]
struct Timed {
    sent: f64,
    answered: f64,
    outcome: Outcome,
}

impl Timed {
    fn latency(&self) -> f64 {
        self.answered - self.sent
    }
    fn failed(&self) -> bool {
        !matches!(self.outcome, Outcome::Ok | Outcome::RateLimited)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeKind {
    Readyz,
    Healthz,
    Read,
}

#[derive(Debug, Clone)]
struct Probe {
    kind: ProbeKind,
    status: Option<u16>,
    timed: Timed,
}

/// A storm account.
#[derive(Debug, Clone)]
struct Account {
    id: Uuid,
    token: String,
    audience: Audience,
}

/// A video of the storm: its API ID and UUID.
#[derive(Debug, Clone)]
struct VideoRef {
    api_id: String,
    id: Uuid,
}

/// What a client knows of one (liker, video) pair.
#[derive(Debug, Clone, Copy, Default)]
struct Pair {
    /// The state of the last acknowledged operation (not liked before any).
    liked: bool,
    /// When that acknowledgement arrived (seconds since the start).
    acked_at: Option<f64>,
    /// An operation towards this state failed after the last acknowledgement: the pair's
    /// state is unknown until another answer settles it.
    unknown: Option<bool>,
}

/// What one storm client did.
#[derive(Default)]
struct ClientLog {
    ops: Vec<Timed>,
    pairs: HashMap<(usize, usize), Pair>,
}

/// Shared by every task.
struct Ctx {
    http: reqwest::Client,
    base: String,
    t0: Instant,
}

impl Ctx {
    fn now(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    /// POSTs a GraphQL request and returns the HTTP status and the parsed body.
    async fn post(
        &self,
        token: Option<&str>,
        query: &str,
        vars: Value,
    ) -> Result<(u16, Value), String> {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": vars }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| describe(&e))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| describe(&e))?;
        match serde_json::from_str(&text) {
            Ok(v) => Ok((status, v)),
            Err(_) => Ok((status, Value::String(text))),
        }
    }

    /// A GraphQL request, timed and classified; `expect` checks the `data` of a success.
    async fn timed(
        &self,
        token: Option<&str>,
        query: &str,
        vars: Value,
        expect: impl Fn(&Value) -> bool,
    ) -> Timed {
        let sent = self.now();
        let outcome = match self.post(token, query, vars).await {
            Err(e) => Outcome::Transport(e),
            Ok((status, body)) => classify(status, &body, expect),
        };
        Timed {
            sent,
            answered: self.now(),
            outcome,
        }
    }

    /// `GET path`: the status, or `None` when there was no answer.
    async fn get(&self, path: &str) -> (Option<u16>, Timed) {
        let sent = self.now();
        let result = self.http.get(format!("{}{path}", self.base)).send().await;
        let answered = self.now();
        match result {
            Ok(r) => (
                Some(r.status().as_u16()),
                Timed {
                    sent,
                    answered,
                    outcome: Outcome::Ok,
                },
            ),
            Err(e) => (
                None,
                Timed {
                    sent,
                    answered,
                    outcome: Outcome::Transport(describe(&e)),
                },
            ),
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "client timeout".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        // reqwest's own message ("error sending request for url …") hides the cause; name the
        // whole chain (e.g. hyper's "connection closed before message completed").
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

/// Sorts an answer into an [`Outcome`].
fn classify(status: u16, body: &Value, expect: impl Fn(&Value) -> bool) -> Outcome {
    if !body.is_object() {
        let text = body.to_string();
        return Outcome::Bad(format!(
            "HTTP {status}, not a GraphQL response: {}",
            &text[..text.len().min(120)]
        ));
    }
    match body.get("errors").and_then(Value::as_array) {
        Some(errors) if !errors.is_empty() => {
            let mut first = None;
            let mut all_rate_limited = true;
            for e in errors {
                let Some(code) = e.pointer("/extensions/code").and_then(Value::as_str) else {
                    return Outcome::Bad(format!("HTTP {status}, an error without a code: {e}"));
                };
                all_rate_limited &= code == "RATE_LIMITED";
                first.get_or_insert_with(|| {
                    (
                        code.to_owned(),
                        e["message"].as_str().unwrap_or_default().to_owned(),
                    )
                });
            }
            if all_rate_limited {
                return Outcome::RateLimited;
            }
            let (code, message) = first.unwrap_or_default();
            Outcome::Coded {
                status,
                code,
                message,
            }
        }
        _ if status == 200 && expect(&body["data"]) => Outcome::Ok,
        _ => Outcome::Bad(format!("HTTP {status}, unexpected answer: {body}")),
    }
}

/// Waits for `/readyz` to answer 200, failing if the server process goes away.
async fn wait_ready(ctx: &Ctx, pid: Option<u32>, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if ctx.get("/readyz").await.0 == Some(200) {
            return Ok(());
        }
        if pid.is_some_and(|p| !alive(p)) {
            bail!("the server process exited before it was ready");
        }
        if Instant::now() > deadline {
            bail!("the server was not ready within {} s", within.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Signs up an account, retrying after a `RATE_LIMITED` answer.
async fn sign_up(
    ctx: &Ctx,
    handle: String,
    visibility: Visibility,
    likes: LikesVisibility,
) -> anyhow::Result<Account> {
    let vis = match visibility {
        Visibility::Public => "PUBLIC",
        Visibility::Private => "PRIVATE",
    };
    let lv = match likes {
        LikesVisibility::Everyone => "EVERYONE",
        LikesVisibility::Followers => "FOLLOWERS",
        LikesVisibility::OnlyMe => "ONLY_ME",
    };
    let vars = json!({ "input": {
        "handle": handle, "password": "fault-storm-password",
        "visibility": vis, "likesVisibility": lv } });
    let q = "mutation($input: SignUpInput!) { signUp(input: $input) { token user { id } } }";
    for _ in 0..20 {
        let (status, body) = ctx
            .post(None, q, vars.clone())
            .await
            .map_err(|e| anyhow::anyhow!("signUp: {e}"))?;
        if let Some(after) = retry_after(&body) {
            tokio::time::sleep(Duration::from_secs(after.clamp(1, 10))).await;
            continue;
        }
        let d = &body["data"]["signUp"];
        let (Some(token), Some(id)) = (d["token"].as_str(), d["user"]["id"].as_str()) else {
            bail!("signUp of {handle} failed: HTTP {status} {body}");
        };
        let id = decode_id("id", Kind::User, id).map_err(|e| anyhow::anyhow!(e.message()))?;
        return Ok(Account {
            id,
            token: token.to_owned(),
            audience: tally::privacy::audience(visibility, likes),
        });
    }
    bail!("signUp of {handle} stayed rate limited")
}

/// `extensions.retryAfter` of a `RATE_LIMITED` answer.
fn retry_after(body: &Value) -> Option<u64> {
    let e = body.pointer("/errors/0/extensions")?;
    (e["code"] == "RATE_LIMITED").then(|| e["retryAfter"].as_u64().unwrap_or(1))
}

/// Likers and videos of the storm, made through the API.
async fn set_up(ctx: &Arc<Ctx>, args: &Args) -> anyhow::Result<(Vec<Account>, Vec<VideoRef>)> {
    let run = Uuid::new_v4().simple().to_string();
    let run = &run[..6];
    let n = args.clients * args.likers_per_client;
    let mut likers = vec![None; n + 2];
    // Argon2 is CPU-bound: a few sign-ups at a time.
    let mut set = JoinSet::new();
    for i in 0..n + 2 {
        if set.len() >= 4 {
            collect(&mut set, &mut likers).await?;
        }
        let ctx = ctx.clone();
        // Every combination of the settings that decide a like's audience.
        let visibility = [Visibility::Public, Visibility::Private][i % 2];
        let likes = [
            LikesVisibility::Everyone,
            LikesVisibility::Followers,
            LikesVisibility::OnlyMe,
        ][(i / 2) % 3];
        // The last two accounts are the public creators.
        let (handle, visibility, likes) = if i >= n {
            (
                format!("fault_{run}_creator{}", i - n),
                Visibility::Public,
                LikesVisibility::Everyone,
            )
        } else {
            (format!("fault_{run}_{i}"), visibility, likes)
        };
        set.spawn(async move { (i, sign_up(&ctx, handle, visibility, likes).await) });
    }
    while !set.is_empty() {
        collect(&mut set, &mut likers).await?;
    }
    let mut accounts = likers
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .context("an account is missing")?;
    let creators = accounts.split_off(n);
    let q = "mutation($input: CreateVideoInput!) { createVideo(input: $input) { id } }";
    let mut videos = Vec::new();
    for i in 0..args.videos {
        let creator = &creators[i % creators.len()];
        let vars = json!({ "input": { "caption": format!("fault storm video {i}") } });
        let (status, body) = ctx
            .post(Some(&creator.token), q, vars)
            .await
            .map_err(|e| anyhow::anyhow!("createVideo: {e}"))?;
        let Some(api_id) = body["data"]["createVideo"]["id"].as_str() else {
            bail!("createVideo failed: HTTP {status} {body}");
        };
        let id = decode_id("id", Kind::Video, api_id).map_err(|e| anyhow::anyhow!(e.message()))?;
        videos.push(VideoRef {
            api_id: api_id.to_owned(),
            id,
        });
    }
    Ok((accounts, videos))
}

async fn collect(
    set: &mut JoinSet<(usize, anyhow::Result<Account>)>,
    into: &mut [Option<Account>],
) -> anyhow::Result<()> {
    if let Some(joined) = set.join_next().await {
        let (i, account) = joined?;
        into.get_mut(i).context("index")?.replace(account?);
    }
    Ok(())
}

/// Likes or unlikes; success means an answer without errors that reports the new state.
async fn toggle(ctx: &Ctx, token: &str, video: &str, like: bool) -> Timed {
    let (query, field) = if like {
        (LIKE, "likeVideo")
    } else {
        (UNLIKE, "unlikeVideo")
    };
    ctx.timed(Some(token), query, json!({ "v": video }), |d| {
        d[field]["viewerHasLiked"].as_bool() == Some(like)
    })
    .await
}

/// The storm's switches, flipped by `main`.
#[derive(Default)]
struct Phase {
    /// `/readyz` has recovered: like only the second half of the videos from now on.
    recovered: AtomicBool,
    /// The storm is over.
    stop: AtomicBool,
}

/// One storm client: toggles random pairs of its own likers until `stop`.
async fn storm_client(
    ctx: Arc<Ctx>,
    likers: Arc<Vec<Account>>,
    mine: Vec<usize>,
    videos: Arc<Vec<VideoRef>>,
    phase: Arc<Phase>,
    seed: u64,
) -> ClientLog {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut log = ClientLog::default();
    let half = videos.len() / 2;
    while !phase.stop.load(Ordering::Relaxed) {
        let u = mine[rng.gen_range(0..mine.len())];
        let v = if phase.recovered.load(Ordering::Relaxed) {
            rng.gen_range(half..videos.len())
        } else {
            rng.gen_range(0..half)
        };
        let pair = log.pairs.entry((u, v)).or_default();
        let like = match pair.unknown {
            Some(_) => rng.gen_bool(0.5),
            None => !pair.liked,
        };
        let timed = toggle(&ctx, &likers[u].token, &videos[v].api_id, like).await;
        match timed.outcome {
            Outcome::Ok => {
                *pair = Pair {
                    liked: like,
                    acked_at: Some(timed.answered),
                    unknown: None,
                }
            }
            // Refused before any work: the pair is unchanged; slow down a little.
            Outcome::RateLimited => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => pair.unknown = Some(like),
        }
        log.ops.push(timed);
    }
    log
}

/// Probes `/readyz`, `/healthz` and an anonymous read every 250 ms until `stop`, each probe
/// in its own task so a slow answer never delays the next probe.
async fn probe_loop(
    ctx: Arc<Ctx>,
    video: String,
    stop: Arc<AtomicBool>,
    out: mpsc::UnboundedSender<Probe>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        for kind in [ProbeKind::Readyz, ProbeKind::Healthz, ProbeKind::Read] {
            let (ctx, out, video) = (ctx.clone(), out.clone(), video.clone());
            tokio::spawn(async move {
                let (status, timed) = match kind {
                    ProbeKind::Readyz => ctx.get("/readyz").await,
                    ProbeKind::Healthz => ctx.get("/healthz").await,
                    ProbeKind::Read => (
                        None,
                        ctx.timed(None, READ, json!({ "v": video }), |d| {
                            d["video"]["likeCount"].is_i64()
                        })
                        .await,
                    ),
                };
                out.send(Probe {
                    kind,
                    status,
                    timed,
                })
                .ok();
            });
        }
    }
}

/// Runs a shell command off the runtime; fails unless it exits 0.
async fn shell(cmd: &str) -> anyhow::Result<()> {
    let cmd = cmd.to_owned();
    let status = tokio::task::spawn_blocking(move || {
        Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("running `{cmd}`"))
    })
    .await??;
    if !status.success() {
        bail!("command failed ({status})");
    }
    Ok(())
}

/// Moments of the run, seconds since its start.
#[derive(Debug, Default)]
struct Timeline {
    storm_start: f64,
    stop_begin: f64,
    stop_done: f64,
    start_begin: f64,
    start_done: f64,
    ready: Option<f64>,
    storm_end: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let key = IdKey::from_hex(&args.id_key).map_err(|e| e.context("--id-key"))?;
    IDS.set(IdCodec::new(&key))
        .map_err(|_| anyhow::anyhow!("the ID codec is set once"))?;
    if args.videos < 2 || args.clients == 0 || args.likers_per_client == 0 {
        bail!("need at least 2 videos, 1 client and 1 liker per client");
    }
    let client_timeout = Duration::from_millis(args.query_timeout_ms + args.slack_ms + 10_000);
    let ctx = Arc::new(Ctx {
        // Idle connections are dropped after 2 s, before the server's 5 s keep-alive closes
        // them: otherwise a request can go out on a connection the server is closing at
        // that instant ("connection closed before message completed"), a client-side race
        // this run would count as a fault.
        http: reqwest::Client::builder()
            .timeout(client_timeout)
            .pool_idle_timeout(Duration::from_secs(2))
            .build()?,
        base: args.base.trim_end_matches('/').to_owned(),
        t0: Instant::now(),
    });
    wait_ready(&ctx, args.server_pid, Duration::from_secs(60)).await?;
    let setup_started = Instant::now();
    let (likers, videos) = set_up(&ctx, &args).await?;
    println!(
        "fault: {} likers ({} clients × {}), {} videos, set up through the API in {:.1} s",
        likers.len(),
        args.clients,
        args.likers_per_client,
        videos.len(),
        setup_started.elapsed().as_secs_f64()
    );
    let likers = Arc::new(likers);
    let videos = Arc::new(videos);

    // The storm and the probes.
    let phase = Arc::new(Phase::default());
    let mut tl = Timeline {
        storm_start: ctx.now(),
        ..Timeline::default()
    };
    let mut clients = JoinSet::new();
    for c in 0..args.clients {
        let mine = (c * args.likers_per_client..(c + 1) * args.likers_per_client).collect();
        clients.spawn(storm_client(
            ctx.clone(),
            likers.clone(),
            mine,
            videos.clone(),
            phase.clone(),
            args.seed.wrapping_mul(1000).wrapping_add(c as u64),
        ));
    }
    let (probe_tx, mut probe_rx) = mpsc::unbounded_channel();
    let probe_stop = Arc::new(AtomicBool::new(false));
    let probes_task = tokio::spawn(probe_loop(
        ctx.clone(),
        videos[0].api_id.clone(),
        probe_stop.clone(),
        probe_tx,
    ));

    // The fault: stop, wait, start; then wait for /readyz to recover.
    let mut violations: Vec<String> = Vec::new();
    tokio::time::sleep(Duration::from_secs(args.before_secs)).await;
    tl.stop_begin = ctx.now();
    println!("fault: stopping the database at {:.1} s", tl.stop_begin);
    if let Err(e) = shell(&args.pg_stop).await {
        violations.push(format!("stopping the database failed: {e:#}"));
    }
    tl.stop_done = ctx.now();
    tokio::time::sleep(Duration::from_secs(args.outage_secs)).await;
    tl.start_begin = ctx.now();
    println!("fault: starting the database at {:.1} s", tl.start_begin);
    if let Err(e) = shell(&args.pg_start).await {
        violations.push(format!("starting the database failed: {e:#}"));
    }
    tl.start_done = ctx.now();
    let ready_deadline = tl.start_done + args.ready_within_secs as f64;
    while ctx.now() < ready_deadline {
        let (status, timed) = ctx.get("/readyz").await;
        if status == Some(200) {
            tl.ready = Some(timed.answered);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    phase.recovered.store(true, Ordering::Relaxed);
    match tl.ready {
        Some(t) => println!(
            "fault: /readyz 200 again at {t:.1} s, {:.2} s after the database accepted connections",
            t - tl.start_done
        ),
        None => violations.push(format!(
            "/readyz did not answer 200 within {} s of the database accepting connections",
            args.ready_within_secs
        )),
    }
    tokio::time::sleep(Duration::from_secs(args.after_secs)).await;
    phase.stop.store(true, Ordering::Relaxed);
    let mut logs = Vec::new();
    while let Some(log) = clients.join_next().await {
        logs.push(log?);
    }
    tl.storm_end = ctx.now();
    probe_stop.store(true, Ordering::Relaxed);
    probes_task.await?;
    let mut probes = Vec::new();
    while let Some(p) = probe_rx.recv().await {
        probes.push(p);
    }

    let ops: Vec<Timed> = logs.iter().flat_map(|l| l.ops.iter().cloned()).collect();
    check_answers(&args, &tl, &ops, &probes, &mut violations);
    report_phases(&tl, &ops, &probes);

    // The server is the one started before the storm, and still answers.
    if let Some(pid) = args.server_pid {
        if !alive(pid) {
            violations.push(format!("the server process {pid} is gone"));
        }
    }
    if ctx.get("/healthz").await.0 != Some(200) {
        violations.push("/healthz does not answer 200 after the run".to_owned());
    }

    // The final acknowledged state of every pair; a pair whose last request failed may be
    // in either state (that request may have committed before the connection was cut).
    let mut final_state: BTreeMap<(Uuid, Uuid), Audience> = BTreeMap::new();
    let mut unknown = BTreeSet::new();
    let half = videos.len() / 2;
    let (mut frozen, mut frozen_liked, mut acked_late) = (0, 0, 0);
    for log in &logs {
        for (&(u, v), pair) in &log.pairs {
            let key = (videos[v].id, likers[u].id);
            if pair.unknown.is_some() {
                unknown.insert(key);
            } else if pair.liked {
                final_state.insert(key, likers[u].audience);
            }
            if v < half && pair.unknown.is_none() {
                frozen += 1;
                frozen_liked += usize::from(pair.liked);
                acked_late += usize::from(pair.acked_at.is_some_and(|t| t > tl.stop_begin - 2.0));
            }
        }
    }
    println!(
        "fault: {frozen} pairs frozen since the outage ({frozen_liked} liked), {acked_late} of them \
         acknowledged in the last 2 s before the stop or later; {} pairs whose last request failed",
        unknown.len()
    );
    check_database(
        &args,
        &ctx,
        &videos,
        &final_state,
        &unknown,
        &mut violations,
    )
    .await?;

    if violations.is_empty() {
        println!("fault: PASS");
        Ok(())
    } else {
        println!("fault: FAIL, {} violation(s):", violations.len());
        for v in &violations {
            println!("  - {v}");
        }
        std::process::exit(1);
    }
}

/// The rules on answers: their shape, their timing and the outage window.
fn check_answers(
    args: &Args,
    tl: &Timeline,
    ops: &[Timed],
    probes: &[Probe],
    violations: &mut Vec<String>,
) {
    let max_latency = (args.query_timeout_ms + args.slack_ms) as f64 / 1000.0;
    let window_end = tl.ready.unwrap_or(f64::INFINITY) + args.grace_ms as f64 / 1000.0;
    let in_window = |t: &Timed| t.answered >= tl.stop_begin && t.sent <= window_end;
    let reads = probes.iter().filter(|p| p.kind == ProbeKind::Read);
    let requests: Vec<&Timed> = ops.iter().chain(reads.map(|p| &p.timed)).collect();
    let mut outside = Vec::new();
    let mut messages = BTreeSet::new();
    let mut statuses = BTreeSet::new();
    for t in &requests {
        match &t.outcome {
            Outcome::Ok | Outcome::RateLimited => {}
            Outcome::Coded {
                status,
                code,
                message,
            } => {
                statuses.insert(*status);
                messages.insert(format!("{code}: {message}"));
                if code != "INTERNAL" {
                    violations.push(format!(
                        "an error coded {code} (expected INTERNAL) at {:.2} s: {message}",
                        t.sent
                    ));
                }
            }
            Outcome::Bad(why) => violations.push(format!("a bad answer at {:.2} s: {why}", t.sent)),
            Outcome::Transport(why) => violations.push(format!(
                "no answer to a request sent at {:.2} s: {why}",
                t.sent
            )),
        }
        if t.failed() && !in_window(t) {
            outside.push(t.sent);
        }
        if t.latency() > max_latency {
            violations.push(format!(
                "an answer took {:.2} s (sent at {:.2} s), over the {max_latency:.1} s bound",
                t.latency(),
                t.sent
            ));
        }
    }
    if !outside.is_empty() {
        violations.push(format!(
            "{} errors outside the outage window [{:.2} s, {:.2} s] (first sent at {:.2} s)",
            outside.len(),
            tl.stop_begin,
            window_end,
            outside[0]
        ));
    }
    let failed_ops = ops.iter().filter(|t| t.failed()).count();
    if failed_ops == 0 {
        violations.push("no like answered an error: the outage was not observed".to_owned());
    }
    let failed_reads = requests[ops.len()..].iter().filter(|t| t.failed()).count();
    println!(
        "fault: error answers: {failed_ops} likes/unlikes, {failed_reads} reads; HTTP statuses {statuses:?}; messages {messages:?}"
    );
    let rate_limited = ops
        .iter()
        .filter(|t| matches!(t.outcome, Outcome::RateLimited))
        .count();
    if rate_limited > 0 {
        println!("fault: {rate_limited} likes refused as RATE_LIMITED (nothing ran; not faults)");
    }

    // /readyz: non-200 while the database is down, 200 once recovered; /healthz: always 200.
    let mut down_probes = 0;
    for p in probes {
        let t = &p.timed;
        match p.kind {
            ProbeKind::Healthz if p.status != Some(200) => violations.push(format!(
                "/healthz answered {:?} at {:.2} s",
                p.status, t.sent
            )),
            ProbeKind::Readyz => {
                if p.status.is_none() {
                    violations.push(format!("/readyz did not answer at {:.2} s", t.sent));
                } else if t.answered > tl.stop_done && t.answered < tl.start_begin {
                    down_probes += 1;
                    if p.status == Some(200) {
                        violations.push(format!(
                            "/readyz answered 200 at {:.2} s while the database was down",
                            t.answered
                        ));
                    }
                } else if tl.ready.is_some_and(|r| t.sent > r) && p.status != Some(200) {
                    violations.push(format!(
                        "/readyz answered {:?} at {:.2} s, after it had recovered",
                        p.status, t.answered
                    ));
                }
                if t.latency() > max_latency {
                    violations.push(format!("/readyz took {:.2} s", t.latency()));
                }
            }
            _ => {}
        }
    }
    if down_probes == 0 {
        violations.push("no /readyz probe was answered while the database was down".to_owned());
    }
}

/// Per phase: acknowledged operations, errors, rates; probe answers during the outage.
fn report_phases(tl: &Timeline, ops: &[Timed], probes: &[Probe]) {
    let ready = tl.ready.unwrap_or(tl.storm_end);
    let phases = [
        ("before the stop", tl.storm_start, tl.stop_begin),
        ("stop → /readyz 200", tl.stop_begin, ready),
        ("after recovery", ready, tl.storm_end),
    ];
    println!(
        "fault: timeline (s): storm {:.1}, stop {:.1}–{:.1}, start {:.1}–{:.1}, ready {}, end {:.1}",
        tl.storm_start,
        tl.stop_begin,
        tl.stop_done,
        tl.start_begin,
        tl.start_done,
        tl.ready.map_or("never".to_owned(), |r| format!("{r:.1}")),
        tl.storm_end
    );
    for (name, from, to) in phases {
        let sent: Vec<&Timed> = ops
            .iter()
            .filter(|t| t.sent >= from && t.sent < to)
            .collect();
        let acked = sent.iter().filter(|t| !t.failed()).count();
        let failed: Vec<&&Timed> = sent.iter().filter(|t| t.failed()).collect();
        let slowest = failed.iter().map(|t| t.latency()).fold(0.0, f64::max);
        let p50 = percentile(sent.iter().map(|t| t.latency()).collect(), 0.5);
        println!(
            "fault:   {name:<20} {:>6.1} s  {acked:>6} acknowledged ({:>4.0}/s), {:>4} errors (slowest {slowest:.2} s), p50 {:.1} ms",
            to - from,
            acked as f64 / (to - from).max(0.001),
            failed.len(),
            p50 * 1000.0
        );
    }
    for kind in [ProbeKind::Readyz, ProbeKind::Healthz, ProbeKind::Read] {
        let during: Vec<&Probe> = probes
            .iter()
            .filter(|p| {
                p.kind == kind && p.timed.sent >= tl.stop_done && p.timed.sent < tl.start_begin
            })
            .collect();
        let mut answers: BTreeMap<String, usize> = BTreeMap::new();
        for p in &during {
            let key = match (&p.status, &p.timed.outcome) {
                (Some(s), _) => s.to_string(),
                (None, Outcome::Ok) => "ok".to_owned(),
                (None, Outcome::Coded { code, .. }) => code.clone(),
                (None, o) => format!("{o:?}"),
            };
            *answers.entry(key).or_default() += 1;
        }
        let slowest = during.iter().map(|p| p.timed.latency()).fold(0.0, f64::max);
        println!("fault:   {kind:?} probes sent while down, by answer: {answers:?}, slowest {slowest:.2} s");
    }
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// The `likes` rows and the counters against the acknowledged final states, and the API's
/// `likeCount` against the rows.
async fn check_database(
    args: &Args,
    ctx: &Ctx,
    videos: &[VideoRef],
    expected: &BTreeMap<(Uuid, Uuid), Audience>,
    unknown: &BTreeSet<(Uuid, Uuid)>,
    violations: &mut Vec<String>,
) -> anyhow::Result<()> {
    let db = tally::db::connect(&args.database_url, 2).await?;
    let list = videos
        .iter()
        .map(|v| format!("'{}'", v.id))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT video_id, user_id, audience FROM likes WHERE video_id IN ({list})"),
        ))
        .await?;
    let mut actual: BTreeMap<(Uuid, Uuid), Vec<String>> = BTreeMap::new();
    for r in &rows {
        let key = (r.try_get("", "video_id")?, r.try_get("", "user_id")?);
        actual
            .entry(key)
            .or_default()
            .push(r.try_get("", "audience")?);
    }
    let (mut missing, mut extra, mut duplicated, mut mislabelled) = (0, 0, 0, 0);
    for (key, aud) in expected {
        match actual.get(key).map(Vec::as_slice) {
            None => missing += 1,
            Some([one]) => {
                if *one != audience_str(*aud) {
                    mislabelled += 1;
                }
            }
            Some(_) => duplicated += 1,
        }
    }
    for key in actual.keys() {
        if !expected.contains_key(key) && !unknown.contains(key) {
            extra += 1;
        }
    }
    for (n, what) in [
        (missing, "acknowledged likes missing from `likes`"),
        (
            extra,
            "likes rows whose acknowledged final state is not liked",
        ),
        (duplicated, "likes present more than once"),
        (mislabelled, "likes labelled with the wrong audience"),
    ] {
        if n > 0 {
            violations.push(format!("{n} {what}"));
        }
    }
    let committed = unknown.iter().filter(|k| actual.contains_key(k)).count();
    println!(
        "fault: likes rows {}: {} acknowledged liked pairs, {committed} liked of the {} pairs whose \
         last request failed (either state accepted); missing {missing}, extra {extra}, duplicated {duplicated}, mislabelled {mislabelled}",
        rows.len(),
        expected.len(),
        unknown.len()
    );

    // The counters (sums over a video's counter rows) against the rows, by the service's own
    // check; only the storm's videos exist in this database.
    let drift = counters::drift(&db)
        .await
        .map_err(|e| anyhow::anyhow!("counters::drift: {}", e.message()))?;
    for d in &drift {
        violations.push(format!(
            "video {}: counters (like_count, everyone_likes, followers_likes) {:?} but rows {:?}",
            d.video, d.counted, d.rows
        ));
    }
    let mut rows_per_video: HashMap<Uuid, i64> = videos.iter().map(|v| (v.id, 0)).collect();
    for (video, _) in actual.keys() {
        *rows_per_video.entry(*video).or_default() += 1;
    }
    for v in videos {
        let api = match ctx.post(None, READ, json!({ "v": v.api_id })).await {
            Ok((200, body)) if body.get("errors").is_none() => {
                body["data"]["video"]["likeCount"].as_i64()
            }
            _ => None,
        };
        if api.is_none() || api != rows_per_video.get(&v.id).copied() {
            violations.push(format!(
                "video {}: likeCount over the API {api:?}, rows {:?}",
                v.id,
                rows_per_video.get(&v.id)
            ));
        }
    }
    println!(
        "fault: counters vs rows: {} videos drifting (like_count, everyone_likes, followers_likes); likeCount over the API checked on {} videos",
        drift.len(),
        videos.len()
    );
    db.close().await.ok();
    Ok(())
}

fn audience_str(a: Audience) -> &'static str {
    match a {
        Audience::Everyone => "EVERYONE",
        Audience::Followers => "FOLLOWERS",
        Audience::OnlyMe => "ONLY_ME",
    }
}
