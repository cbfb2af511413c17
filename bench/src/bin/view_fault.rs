//! `view_fault`: the view half of `bench/fault.sh` (issue 12, "acknowledged = counted after
//! the run, and after a `kill -9` of the server mid-run").
//!
//! Against a running `tally serve` on PostgreSQL that it may kill and start again (`--kill`,
//! `--start`, shell commands), it signs up a creator with one hot video and `--clients`
//! closed-loop clients (half signed in, each its own account; half anonymous) that record
//! views of it; `--before-secs` in, the server is killed (`kill -9`), started again
//! `--down-secs` later, and the clients go on for `--after-secs` once `/readyz` answers.
//! Then, once the restarted server's fold job has folded every row, it checks:
//! - acknowledged ≤ rows ≤ acknowledged + unknown (a request cut by the kill may have
//!   committed; one refused at connect was never sent): no acknowledged view was lost;
//! - the view counters, `Video.viewCount`, `video_days` and `creator_hours` all equal the
//!   rows (nothing counted twice), no row is left unfolded, and `rollups::drift` is empty;
//! - the viewer sketches hold every signed-in client acknowledged after the restart and no
//!   more than the signed-in clients (the kill may lose the buffered viewers, never a count).
//!
//! Prints a report and exits 1 on any violation.
use std::{
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use clap::Parser;
use sea_orm::DatabaseConnection;
use serde_json::{json, Value};
use tally::{
    db::Sql,
    domain::{rollups, sketch},
};
use uuid::Uuid;

#[derive(Debug, Parser)]
struct Args {
    /// Base URL of the running server.
    #[arg(long, default_value = "http://127.0.0.1:18282")]
    base: String,
    /// The server's database, for the checks.
    #[arg(long)]
    database_url: String,
    /// Shell command that kills the server (`kill -9`).
    #[arg(long)]
    kill: String,
    /// Shell command that starts the server again (in the background).
    #[arg(long)]
    start: String,
    /// Concurrent clients on the hot video (half signed in).
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds of views before the kill.
    #[arg(long, default_value_t = 6)]
    before_secs: u64,
    /// Seconds the server stays dead.
    #[arg(long, default_value_t = 2)]
    down_secs: u64,
    /// Seconds of views after `/readyz` answers again.
    #[arg(long, default_value_t = 6)]
    after_secs: u64,
    /// How long the restarted server's fold job may take to fold everything.
    #[arg(long, default_value_t = 30)]
    fold_within_secs: u64,
}

const RECORD: &str = "mutation($v: ID!) { recordView(videoId: $v, watchMs: 1500) }";

/// What one client saw.
#[derive(Debug, Default)]
struct Log {
    acked: u64,
    /// Requests whose fate is unknown (sent, no answer: cut by the kill).
    unknown: u64,
    /// Requests refused before they were sent (the server was down).
    refused: u64,
    /// Other failures: answers with errors.
    errors: Vec<String>,
    acked_after_restart: bool,
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    body: Value,
) -> reqwest::Result<Value> {
    let mut req = http.post(format!("{base}/graphql")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await?.json().await
}

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

async fn ready(http: &reqwest::Client, base: &str, within: Duration) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status().as_u16() == 200 {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn sign_up(http: &reqwest::Client, base: &str, handle: &str) -> anyhow::Result<String> {
    let q = "mutation($h: String!) { signUp(input: {handle: $h, password: \"view-fault-password\"}) { token } }";
    let body = post(
        http,
        base,
        None,
        json!({ "query": q, "variables": { "h": handle } }),
    )
    .await?;
    body["data"]["signUp"]["token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("signUp {handle}: {body}"))
}

async fn scalar(db: &DatabaseConnection, sql: &str, id: Uuid) -> anyhow::Result<i64> {
    let mut q = Sql::default();
    let p = q.bind(id);
    q.push_unchecked(&sql.replace("$ID", &p.to_string()));
    let row = q
        .one(db)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    let row = row.context("a row")?;
    Ok(row.try_get::<Option<i64>>("", "n")?.unwrap_or(0))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let base = args.base.trim_end_matches('/').to_owned();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .pool_idle_timeout(Duration::from_secs(2))
        .build()?;
    if !ready(&http, &base, Duration::from_secs(60)).await {
        bail!("the server is not ready");
    }
    let run = Uuid::new_v4().simple().to_string();
    let creator_handle = format!("hot{}", &run[..8]);
    let creator = sign_up(&http, &base, &creator_handle).await?;
    let made = post(
        &http,
        &base,
        Some(&creator),
        json!({ "query": "mutation { createVideo(input: {mediaUrl: \"https://media.example.com/v.mp4\", caption: \"hot\"}) { id } }" }),
    )
    .await?;
    let video = made["data"]["createVideo"]["id"]
        .as_str()
        .with_context(|| format!("createVideo: {made}"))?
        .to_owned();
    let signed_in = args.clients / 2;
    let mut tokens = Vec::new();
    for i in 0..signed_in {
        tokens.push(Some(
            sign_up(&http, &base, &format!("v{}x{i}", &run[..8])).await?,
        ));
    }
    tokens.resize(args.clients, None);
    println!(
        "view_fault: {} clients ({signed_in} signed in) on one video of @{creator_handle}",
        args.clients
    );

    let stop = Arc::new(AtomicBool::new(false));
    let restarted = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for token in tokens {
        let (http, base, video) = (http.clone(), base.clone(), video.clone());
        let (stop, restarted) = (stop.clone(), restarted.clone());
        tasks.push(tokio::spawn(async move {
            let mut log = Log::default();
            let body = json!({ "query": RECORD, "variables": { "v": video } });
            while !stop.load(Ordering::Relaxed) {
                let after = restarted.load(Ordering::Relaxed);
                match post(&http, &base, token.as_deref(), body.clone()).await {
                    Ok(v) if v["data"]["recordView"] == json!(true) => {
                        log.acked += 1;
                        log.acked_after_restart |= after;
                    }
                    Ok(v) => log.errors.push(v.to_string()),
                    Err(e) if e.is_connect() => {
                        log.refused += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(_) => log.unknown += 1,
                }
            }
            (token.is_some(), log)
        }));
    }
    let t0 = Instant::now();
    let mut violations = Vec::new();
    tokio::time::sleep(Duration::from_secs(args.before_secs)).await;
    println!("view_fault: kill -9 at {:.1} s", t0.elapsed().as_secs_f64());
    if let Err(e) = shell(&args.kill).await {
        violations.push(format!("killing the server failed: {e:#}"));
    }
    tokio::time::sleep(Duration::from_secs(args.down_secs)).await;
    if let Err(e) = shell(&args.start).await {
        violations.push(format!("starting the server failed: {e:#}"));
    }
    if ready(&http, &base, Duration::from_secs(30)).await {
        println!(
            "view_fault: restarted, ready at {:.1} s",
            t0.elapsed().as_secs_f64()
        );
    } else {
        violations.push("the restarted server was not ready within 30 s".to_owned());
    }
    restarted.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(args.after_secs)).await;
    stop.store(true, Ordering::Relaxed);
    let storm = t0.elapsed().as_secs_f64();
    let (mut acked, mut unknown, mut refused) = (0u64, 0u64, 0u64);
    let mut viewers_after = 0;
    for t in tasks {
        let (signed, log) = t.await?;
        acked += log.acked;
        unknown += log.unknown;
        refused += log.refused;
        if signed && log.acked_after_restart {
            viewers_after += 1;
        }
        for e in log.errors.iter().take(2) {
            violations.push(format!("an answer with errors: {e}"));
        }
    }
    println!(
        "view_fault: {acked} views acknowledged in {storm:.1} s ({:.0}/s), {unknown} cut by the kill, \
         {refused} refused while the server was down",
        acked as f64 / storm
    );

    // The checks, once the restarted server's fold job has folded everything.
    let db = tally::db::connect(&args.database_url, 2).await?;
    let mut q = Sql::default();
    let h = q.bind(creator_handle.clone());
    q.push_unchecked(&format!(
        "SELECT v.id AS video, u.id AS creator FROM videos v JOIN users u ON u.id = v.author_id \
         WHERE u.handle = {h}"
    ));
    let row = q
        .one(&db)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?
        .context("the hot video")?;
    let (video_id, creator_id): (Uuid, Uuid) =
        (row.try_get("", "video")?, row.try_get("", "creator")?);
    let until = Instant::now() + Duration::from_secs(args.fold_within_secs);
    let unfolded = loop {
        let n = scalar(
            &db,
            "SELECT COUNT(*) AS n FROM video_views WHERE video_id = $ID AND folded = 0",
            video_id,
        )
        .await?;
        if n == 0 || Instant::now() > until {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let folded_at = t0.elapsed().as_secs_f64();
    // One more interval or two for the sketch flush.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let rows = scalar(
        &db,
        "SELECT COUNT(*) AS n FROM video_views WHERE video_id = $ID",
        video_id,
    )
    .await?;
    let counters = scalar(
        &db,
        "SELECT CAST(SUM(views) AS BIGINT) AS n FROM video_view_counters WHERE video_id = $ID",
        video_id,
    )
    .await?;
    let days = scalar(
        &db,
        "SELECT CAST(SUM(views) AS BIGINT) AS n FROM video_days WHERE video_id = $ID",
        video_id,
    )
    .await?;
    let hours = scalar(
        &db,
        "SELECT CAST(SUM(views) AS BIGINT) AS n FROM creator_hours WHERE creator_id = $ID",
        creator_id,
    )
    .await?;
    let answer = post(
        &http,
        &base,
        None,
        json!({ "query": "query($v: ID!) { video(id: $v) { viewCount } }", "variables": { "v": video } }),
    )
    .await?;
    let api = answer["data"]["video"]["viewCount"].as_i64().unwrap_or(-1);
    println!(
        "view_fault: rows {rows}, counters {counters}, viewCount {api}, video_days {days}, \
         creator_hours {hours}; folded {folded_at:.1} s after the start ({:.1} s after the last view)",
        folded_at - storm
    );
    let (acked_i, unknown_i) = (i64::try_from(acked)?, i64::try_from(unknown)?);
    if rows < acked_i {
        violations.push(format!(
            "{} acknowledged views are not stored",
            acked_i - rows
        ));
    }
    if rows > acked_i + unknown_i {
        violations.push(format!(
            "{rows} rows for {acked} acknowledged and {unknown} unknown views"
        ));
    }
    for (what, n) in [
        ("the counters", counters),
        ("viewCount", api),
        ("video_days", days),
        ("creator_hours", hours),
    ] {
        if n != rows {
            violations.push(format!("{what} say {n}, the rows {rows}"));
        }
    }
    if unfolded != 0 {
        violations.push(format!(
            "{unfolded} rows still unfolded {} s after the run",
            args.fold_within_secs
        ));
    }
    let drift = rollups::drift(&db, true)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    for d in drift.iter().take(5) {
        violations.push(format!("drift: {d}"));
    }
    // The device sketches of the creator, merged over the days of the run.
    let mut q = Sql::default();
    let c = q.bind(creator_id);
    q.push_unchecked(&format!(
        "SELECT sketch FROM viewer_sketches WHERE creator_id = {c} AND dimension = 'device'"
    ));
    let mut union = sketch::Sketch::new();
    for row in q
        .all(&db)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?
    {
        let bytes: Vec<u8> = row.try_get("", "sketch")?;
        union.merge(&sketch::decode(&bytes).map_err(|e| anyhow::anyhow!("{}", e.message()))?);
    }
    let viewers = union.estimate();
    println!(
        "view_fault: the device sketches hold {viewers} viewers ({viewers_after} signed-in clients \
         acknowledged after the restart, {signed_in} in all)"
    );
    if viewers < viewers_after || viewers > signed_in {
        violations.push(format!(
            "the sketches hold {viewers} viewers, not {viewers_after}..={signed_in}"
        ));
    }
    if violations.is_empty() {
        println!("view_fault: PASS");
        Ok(())
    } else {
        println!("view_fault: FAIL, {} violation(s):", violations.len());
        for v in &violations {
            println!("  - {v}");
        }
        std::process::exit(1);
    }
}
