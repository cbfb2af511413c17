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
//!
//! The modules: [`cli`] (the flags), [`client`] (timed GraphQL requests and their
//! outcomes), [`setup`] (accounts and videos), [`storm`] (the storm, the probes and the
//! fault), [`checks`] (everything checked afterwards); this file is the order of the run.
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::bail;
use clap::Parser;
use entity::Audience;
use tally::ids::{IdCodec, IdKey};
use tally_bench::{http::wait_ready, machine};
use tokio::{sync::mpsc, task::JoinSet};
use uuid::Uuid;

mod checks;
mod cli;
mod client;
mod setup;
mod storm;

use checks::{check_answers, check_database, report_phases};
use cli::Args;
use client::{Ctx, Timed};
use setup::{set_up, IDS};
use storm::{probe_loop, shell, storm_client, Phase, Timeline};

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
    wait_ready(
        &ctx.http,
        &ctx.base,
        args.server_pid,
        Duration::from_secs(60),
    )
    .await?;
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
    (tl.stop_begin, tl.stop_done) =
        database_command(&ctx, "stopping", &args.pg_stop, &mut violations).await;
    tokio::time::sleep(Duration::from_secs(args.outage_secs)).await;
    (tl.start_begin, tl.start_done) =
        database_command(&ctx, "starting", &args.pg_start, &mut violations).await;
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
        if !machine::alive(pid) {
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

/// Runs the shell command `cmd` that does `doing` ("stopping", "starting") to the database; a
/// failure is a violation. Returns when it began and when it returned.
async fn database_command(
    ctx: &Ctx,
    doing: &str,
    cmd: &str,
    violations: &mut Vec<String>,
) -> (f64, f64) {
    let begin = ctx.now();
    println!("fault: {doing} the database at {begin:.1} s");
    if let Err(e) = shell(cmd).await {
        violations.push(format!("{doing} the database failed: {e:#}"));
    }
    (begin, ctx.now())
}
