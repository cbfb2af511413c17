//! `tally-bench --views`: `recordView` on one hot video (issue 12, "Performance"): closed-loop
//! clients (`--view-clients`, 64) for `--duration` seconds, each view by a signed-in account
//! (rotating over `--view-accounts`, so no account nears the views rate limit), against the
//! release server on PostgreSQL with its fold job at the default interval. Reports views/s,
//! latency p50/p99, the fold job's lag (the largest backlog of unfolded rows sampled every
//! 250 ms, and how long after the last view every row was folded), and checks that every
//! acknowledged view is a row, counted once by the counters and, once folded, by the rollups.
use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use sea_orm::DatabaseConnection;
use tally::{
    db::Sql,
    domain::videos::{create_video, NewVideo},
    ids::Kind,
};
use uuid::Uuid;

use crate::{
    cli::{Args, Backend},
    database::{self, insert_chunked},
    http,
    keys::{encode_id, token_issuer},
    server::Server,
    stats::{percentile, sort},
    OrMessage,
};

const RECORD: &str = "mutation($v: ID!) { recordView(videoId: $v, watchMs: 12000) }";

async fn count(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let mut q = Sql::default();
    q.push_unchecked(sql);
    let row = q.one(db).await.or_message()?.context("a row")?;
    Ok(row.try_get::<Option<i64>>("", "n")?.unwrap_or(0))
}

/// What one client saw: latencies (ms) of acknowledged views, failed answers.
#[derive(Default)]
struct Log {
    latencies: Vec<f64>,
    bad: u64,
    first_bad: Option<String>,
}

pub async fn run(args: &Args) -> anyhow::Result<()> {
    if args.backend != Backend::Postgres {
        bail!("--views runs on PostgreSQL");
    }
    let (url, db) = database::open(args, "views", 4).await?;
    let now = tally::clock::Clock::System.now_us();
    let accounts: Vec<Uuid> = (0..args.view_accounts.max(1) + 1)
        .map(|_| Uuid::now_v7())
        .collect();
    insert_chunked(
        &db,
        "users",
        "id, handle, display_name, password_hash, account_type, visibility, likes_visibility, \
         birth_year, region, language, created_at",
        &accounts.iter().enumerate().collect::<Vec<_>>(),
        1_000,
        |q, (n, id)| {
            let kind = if *n == 0 { "CREATOR" } else { "PERSONAL" };
            format!(
                "({}, {}, 'viewer', '!', '{kind}', 'PUBLIC', 'EVERYONE', {}, {}, {}, {})",
                q.bind(**id),
                q.bind(format!("viewer{n}")),
                q.bind(1960 + (*n % 50) as i32),
                q.bind(["DE", "US", "BR", "IN"][*n % 4].to_owned()),
                q.bind(["de", "en", "pt"][*n % 3].to_owned()),
                q.bind(now)
            )
        },
    )
    .await?;
    let creator = accounts[0];
    let input = NewVideo {
        caption: "hot".into(),
        hashtags: vec![],
        sound: None,
        duration_ms: Some(15_000),
        media_url: "https://media.example.com/v.mp4".into(),
        thumbnail_url: None,
    };
    let video = create_video(&db, creator, input, now)
        .await
        .or_message()?
        .into_inner()
        .video
        .id;
    database::analyze(&db).await?;
    let server = Server::start(args, &url).await?;
    let token = token_issuer(&db)?;
    let tokens: Arc<Vec<String>> = Arc::new(token.tokens(accounts[1..].iter().copied()).await?);
    let body =
        serde_json::json!({ "query": RECORD, "variables": { "v": encode_id(Kind::Video, video) } });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(args.view_clients as usize)
        .build()?;
    let endpoint = format!("http://127.0.0.1:{}/graphql", args.port);
    // A short warm-up (connections, prepared statements), not measured but counted.
    let warm = tokens.len().min(20);
    for t in tokens.iter().take(warm) {
        http::send_text(http::graphql_request(&client, &endpoint, Some(t), &body)).await?;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let clients = args.view_clients as usize;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, endpoint, body) = (client.clone(), endpoint.clone(), body.clone());
        let (tokens, stop) = (tokens.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut log = Log::default();
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let t = &tokens[i % tokens.len()];
                i += clients;
                let sent = Instant::now();
                let r = http::send_text(http::graphql_request(&client, &endpoint, Some(t), &body))
                    .await;
                let ms = sent.elapsed().as_secs_f64() * 1e3;
                match r {
                    Ok((200, text)) if text.contains("\"recordView\":true") => {
                        log.latencies.push(ms)
                    }
                    Ok((status, text)) => {
                        log.bad += 1;
                        log.first_bad
                            .get_or_insert(format!("HTTP {status}: {text}"));
                    }
                    Err(e) => {
                        log.bad += 1;
                        log.first_bad.get_or_insert(e.to_string());
                    }
                }
            }
            log
        }));
    }
    // The fold job's backlog, sampled.
    let sampler = {
        let (db, stop) = (db.clone(), stop.clone());
        tokio::spawn(async move {
            let mut max = 0i64;
            while !stop.load(Ordering::Relaxed) {
                if let Ok(n) = count(
                    &db,
                    "SELECT COUNT(*) AS n FROM video_views WHERE folded = 0",
                )
                .await
                {
                    max = max.max(n);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            max
        })
    };
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let (mut bad, mut first_bad) = (0, None);
    for t in tasks {
        let log = t.await?;
        latencies.extend(log.latencies);
        bad += log.bad;
        first_bad = first_bad.or(log.first_bad);
    }
    let secs = started.elapsed().as_secs_f64();
    let max_backlog = sampler.await?;
    let last_view = Instant::now();
    let mut caught_up = None;
    while last_view.elapsed() < Duration::from_secs(60) {
        if count(
            &db,
            "SELECT COUNT(*) AS n FROM video_views WHERE folded = 0",
        )
        .await?
            == 0
        {
            caught_up = Some(last_view.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(server);
    sort(&mut latencies);
    let acked = latencies.len() as i64;
    let rate = acked as f64 / secs;
    let v = video;
    let rows = count(
        &db,
        &format!("SELECT COUNT(*) AS n FROM video_views WHERE video_id = '{v}'"),
    )
    .await?;
    let counters = count(
        &db,
        &format!("SELECT CAST(SUM(views) AS BIGINT) AS n FROM video_view_counters WHERE video_id = '{v}'"),
    )
    .await?;
    let days = count(
        &db,
        &format!("SELECT CAST(SUM(views) AS BIGINT) AS n FROM video_days WHERE video_id = '{v}'"),
    )
    .await?;
    let p = |q| percentile(&latencies, q).unwrap_or(f64::NAN);
    let lag = caught_up.map_or("not within 60 s".to_owned(), |s| format!("{s:.2} s"));
    let report = format!(
        "recordView, one hot video, {clients} clients, {secs:.0} s: {rate:.0} views/s, p50 {:.2} ms, \
         p99 {:.2} ms; {acked} acknowledged, {bad} failed; rows {rows}, counters {counters}, \
         video_days {days}; fold backlog at most {max_backlog} rows ({:.2} s of views), all \
         folded {lag} after the last view",
        p(0.5),
        p(0.99),
        max_backlog as f64 / rate.max(1.0),
    );
    println!("{report}");
    std::fs::write(args.out.join("views.txt"), format!("{report}\n"))?;
    if let Some(e) = first_bad {
        println!("first failed answer: {e}");
    }
    if bad > 0
        || rows != acked + warm as i64
        || counters != rows
        || days != rows
        || caught_up.is_none()
    {
        bail!("the views run broke its checks (see above)");
    }
    Ok(())
}
