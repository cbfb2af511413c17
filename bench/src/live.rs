//! `tally-bench --live`: `--live-subscribers` WebSocket subscribers of
//! `likeCountChanged` (anonymous, one connection each, spread over `--live-videos` videos) on
//! the first server, while `--live-rate` likes a second go for `--duration` seconds — through a
//! second server on the same database with `--live-instances 2` (PostgreSQL), so that every
//! update crosses instances.
//!
//! Delivery latency of a like = when a subscriber of its video first sees a count that
//! includes it − when the like's request was sent (so it includes the like's own HTTP round
//! trip and transaction: an upper bound on "from the commit"). The likes of one video are
//! 1 / (rate / videos) apart, far more than one like takes, so the k-th like sent on a video
//! is the one that makes its count k. Every subscriber's every update is measured. The
//! servers' peak RSS (`VmHWM`) is read at the end.
use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use entity::{user, AccountType, LikesVisibility, Visibility};
use futures_util::{SinkExt, StreamExt};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue, Message};
use uuid::Uuid;

use crate::{
    cli::{Args, Backend},
    database,
    keys::{encode_id, token_issuer},
    machine,
    server::Server,
    stats, OrMessage,
};

/// When each like of each video was sent: `sent[v][k - 1]` for the like that makes the count k.
type Sent = Arc<Vec<Mutex<Vec<Instant>>>>;

pub async fn run(args: &Args) -> anyhow::Result<()> {
    if args.live_instances == 2 && args.backend != Backend::Postgres {
        anyhow::bail!("--live-instances 2 needs PostgreSQL: an SQLite service is one instance");
    }
    let tag = format!("live-{}-i{}", args.backend.name(), args.live_instances);
    let (url, db) = database::open(args, &tag, 8).await?;
    let videos_n = args.live_videos.max(1);
    let likes_total = usize::try_from(args.live_rate * args.duration)?;
    let likers_n = likes_total.div_ceil(videos_n) + 1;
    let started = Instant::now();
    let authors = insert_accounts(&db, "author", videos_n).await?;
    let likers = insert_accounts(&db, "liker", likers_n).await?;
    let mut videos = Vec::with_capacity(videos_n);
    for (i, author) in authors.iter().enumerate() {
        let input = tally::domain::videos::NewVideo {
            caption: format!("live {i}"),
            hashtags: Vec::new(),
            sound: None,
            duration_ms: Some(10_000),
            media_url: format!("https://media.example.com/live/{i}.mp4"),
            thumbnail_url: None,
        };
        let now = tally::clock::Clock::System.now_us();
        let video = tally::domain::videos::create_video(&db, *author, input, now)
            .await
            .or_message()?;
        videos.push(video.into_inner().video.id);
    }
    println!(
        "seeded {tag}: {} videos, {likers_n} likers in {:.1} s",
        videos.len(),
        started.elapsed().as_secs_f64()
    );

    let max_conn = (args.live_subscribers + 10).to_string();
    let env = [
        ("TALLY_LIVE_MAX_CONNECTIONS", max_conn.as_str()),
        ("TALLY_RATE_LIKES", "0"),
        ("TALLY_DB_POOL", "16"),
    ];
    let a = Server::start_with(args, &url, args.port, &env).await?;
    let b = match args.live_instances {
        2 => Some(Server::start_with(args, &url, args.port + 1, &env).await?),
        _ => None,
    };
    let like_port = if b.is_some() {
        args.port + 1
    } else {
        args.port
    };

    let sent: Sent = Arc::new((0..videos_n).map(|_| Mutex::new(Vec::new())).collect());
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let updates = Arc::new(AtomicU64::new(0));
    let ws_url = format!("ws://127.0.0.1:{}/graphql", args.port);
    let ids: Vec<String> = videos
        .iter()
        .map(|v| encode_id(tally::ids::Kind::Video, *v))
        .collect();
    // Connect every subscriber and wait for its current count (it is then live).
    let opening = Instant::now();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<anyhow::Result<()>>(1024);
    let stop = Arc::new(tokio::sync::Notify::new());
    let connecting = Arc::new(Semaphore::new(64));
    let mut subscribers = Vec::with_capacity(args.live_subscribers);
    for i in 0..args.live_subscribers {
        let v = i % videos_n;
        let task = subscriber(
            ws_url.clone(),
            ids[v].clone(),
            v,
            sent.clone(),
            latencies.clone(),
            updates.clone(),
            ready_tx.clone(),
            stop.clone(),
            connecting.clone(),
        );
        subscribers.push(tokio::spawn(task));
    }
    drop(ready_tx);
    for _ in 0..args.live_subscribers {
        match ready_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e.context("a subscriber failed to start")),
            None => anyhow::bail!("subscribers ended before they were ready"),
        }
    }
    println!(
        "{} subscribers live in {:.1} s; server RSS {:.0} MB",
        args.live_subscribers,
        opening.elapsed().as_secs_f64(),
        machine::rss_mb(a.pid())
    );

    let tokens = token_issuer(&db)?.tokens(likers.iter().copied()).await?;
    let http = reqwest::Client::new();
    let like_url = format!("http://127.0.0.1:{like_port}/graphql");
    let in_flight = Arc::new(Semaphore::new(128));
    let failures = Arc::new(AtomicU64::new(0));
    let every = Duration::from_secs_f64(1.0 / args.live_rate.max(1) as f64);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let liking = Instant::now();
    let mut likes = Vec::with_capacity(likes_total);
    for k in 0..likes_total {
        tick.tick().await;
        let (v, liker) = (k % videos_n, k / videos_n);
        let permit = in_flight.clone().acquire_owned().await?;
        let body = json!({
            "query": "mutation($v: ID!) { likeVideo(videoId: $v) { likeCount } }",
            "variables": { "v": ids[v] }
        });
        let req = http.post(&like_url).bearer_auth(&tokens[liker]).json(&body);
        lock(&sent[v]).push(Instant::now());
        let failures = failures.clone();
        likes.push(tokio::spawn(async move {
            let ok = match req.send().await {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .is_ok_and(|b| b.get("errors").is_none()),
                Err(_) => false,
            };
            if !ok {
                failures.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
        }));
    }
    for like in likes {
        like.await?;
    }
    let liked_in = liking.elapsed();
    // The last updates are at most 250 ms behind (coalescing) plus delivery.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.notify_waiters();
    for s in subscribers {
        s.await??;
    }
    let rss_a = machine::peak_rss_mb(a.pid());
    let rss_b = b.as_ref().map(|b| machine::peak_rss_mb(b.pid()));
    drop(b);
    drop(a);

    let mut lat = std::mem::take(&mut *lock(&latencies));
    stats::sort(&mut lat);
    let expected = likes_total as f64 * (args.live_subscribers as f64 / videos_n as f64);
    let pct = |p| stats::percentile(&lat, p).map_or("—".to_owned(), |v| format!("{v:.1}"));
    let report = format!(
        "## live: {tag}\n\n\
         {} subscribers on {} videos, {} likes at {}/s ({} s) through {} \
         (sent in {:.1} s, {} failed)\n\n\
         | measure | value |\n|---|---|\n\
         | delivery p50 (ms) | {} |\n| delivery p99 (ms) | {} |\n| delivery max (ms) | {} |\n\
         | likes seen by subscribers / expected | {} / {:.0} |\n\
         | updates received | {} |\n\
         | server A peak RSS (MB) | {rss_a:.0} |\n{}\
         | load average | {} |\n",
        args.live_subscribers,
        videos_n,
        likes_total,
        args.live_rate,
        args.duration,
        if args.live_instances == 2 {
            "a second instance"
        } else {
            "the same instance"
        },
        liked_in.as_secs_f64(),
        failures.load(Ordering::Relaxed),
        pct(0.5),
        pct(0.99),
        pct(1.0),
        lat.len(),
        expected,
        updates.load(Ordering::Relaxed),
        rss_b.map_or(String::new(), |r| format!(
            "| server B peak RSS (MB) | {r:.0} |\n"
        )),
        machine::load_average(),
    );
    println!("{report}");
    let path = args.out.join(format!("results-{tag}.md"));
    std::fs::write(&path, &report).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// One subscriber: connects (at most 64 at once), subscribes to video `v` and, once its
/// current count came, reports ready; then measures every update until `stop`.
#[allow(clippy::too_many_arguments)]
async fn subscriber(
    url: String,
    video_id: String,
    v: usize,
    sent: Sent,
    latencies: Arc<Mutex<Vec<f64>>>,
    updates: Arc<AtomicU64>,
    ready: tokio::sync::mpsc::Sender<anyhow::Result<()>>,
    stop: Arc<tokio::sync::Notify>,
    connecting: Arc<Semaphore>,
) -> anyhow::Result<()> {
    let opened = async {
        let _permit = connecting.acquire().await?;
        let mut req = url.into_client_request()?;
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
        ws.send(Message::text(
            json!({ "type": "connection_init", "payload": {} }).to_string(),
        ))
        .await?;
        ws.send(Message::text(
            json!({
                "id": "1", "type": "subscribe",
                "payload": {
                    "query": "subscription($v: ID!) { likeCountChanged(videoId: $v) { likeCount } }",
                    "variables": { "v": video_id }
                }
            })
            .to_string(),
        ))
        .await?;
        // The ack, then the current count.
        let mut last = None;
        while last.is_none() {
            let msg = ws.next().await.context("closed during set-up")??;
            if let Some(count) = count_of(&msg) {
                last = Some(count);
            }
        }
        anyhow::Ok((ws, last.unwrap_or(0)))
    };
    let (mut ws, mut last) = match opened.await {
        Ok(opened) => opened,
        Err(e) => {
            let _ = ready.send(Err(anyhow::anyhow!("{e}"))).await;
            return Ok(());
        }
    };
    let _ = ready.send(Ok(())).await;
    drop(ready);
    let mut mine = Vec::new();
    let stopped = stop.notified();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => break,
            msg = ws.next() => {
                let Some(Ok(msg)) = msg else { break };
                let Some(count) = count_of(&msg) else { continue };
                let now = Instant::now();
                updates.fetch_add(1, Ordering::Relaxed);
                let sent = lock(&sent[v]);
                for k in last.max(0)..count {
                    if let Some(at) = usize::try_from(k).ok().and_then(|k| sent.get(k)) {
                        mine.push(now.duration_since(*at).as_secs_f64() * 1000.0);
                    }
                }
                last = last.max(count);
            }
        }
    }
    let _ = ws.close(None).await;
    lock(&latencies).extend(mine);
    Ok(())
}

/// The count of a `next` message of `likeCountChanged`.
fn count_of(msg: &Message) -> Option<i64> {
    let Message::Text(text) = msg else {
        return None;
    };
    let v: Value = serde_json::from_str(text).ok()?;
    v["payload"]["data"]["likeCountChanged"]["likeCount"].as_i64()
}

/// `n` public accounts named `prefix{i}`, inserted in batches.
async fn insert_accounts(
    db: &sea_orm::DatabaseConnection,
    prefix: &str,
    n: usize,
) -> anyhow::Result<Vec<Uuid>> {
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    let now = tally::clock::Clock::System.now_us();
    for (c, chunk) in ids.chunks(500).enumerate() {
        let rows = chunk.iter().enumerate().map(|(i, id)| user::ActiveModel {
            id: Set(*id),
            handle: Set(format!("{prefix}{}", c * 500 + i)),
            display_name: Set(format!("{prefix} {}", c * 500 + i)),
            password_hash: Set("not-a-real-hash".to_owned()),
            account_type: Set(AccountType::Personal),
            visibility: Set(Visibility::Public),
            likes_visibility: Set(LikesVisibility::Everyone),
            birth_year: Set(None),
            region: Set(None),
            language: Set(None),
            created_at: Set(now),
            external_subject: Set(None),
            avatar_url: Set(None),
        });
        user::Entity::insert_many(rows).exec(db).await?;
    }
    Ok(ids)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
