//! `tally-bench`: the likes-at-scale benchmark (see `bench/README.md`).
//!
//! One run = one backend and one private-account share: seed a dataset from a seed, start the
//! release `tally` binary on it, drive a fixed query mix over HTTP with `wrk` (warm-up, then a
//! fixed moderate rate, then saturation, every response body checked for `errors`), run the
//! same SQL in-process as the floor, and print one table.
use std::{
    collections::HashSet,
    fmt::Write as _,
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use migration::{Migrator, MigratorTrait};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use tally::{
    auth::token::Tokens,
    db::{self, Sql},
    domain::{likes, page::PageRequest, videos},
    ids::{encode_id, CursorCodec, CursorKind, Keyset, Kind},
    privacy::audience,
};
use uuid::Uuid;

const SECRET: &str = "benchmark-secret-benchmark-secret-0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Postgres,
    Sqlite,
}

/// Likes at scale: dataset, load, floor, table.
#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_enum)]
    backend: Backend,
    /// PostgreSQL server URL (a database `tally_bench_*` is created on it).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_url: String,
    /// Likes on each measured video.
    #[arg(long, default_value = "1000,100000,1000000", value_delimiter = ',')]
    sizes: Vec<usize>,
    /// Share of private accounts.
    #[arg(long, default_value_t = 0.5)]
    private_share: f64,
    /// Share of accounts whose likesVisibility is EVERYONE (FOLLOWERS next, the rest ONLY_ME).
    #[arg(long, default_value_t = 0.6)]
    everyone_share: f64,
    #[arg(long, default_value_t = 0.25)]
    followers_share: f64,
    /// Accounts the measured viewer follows (approved).
    #[arg(long, default_value_t = 2000)]
    viewer_follows: usize,
    /// Mean out-degree of the power-law follow graph among all users.
    #[arg(long, default_value_t = 2.0)]
    mean_follows: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Seconds of each measured wrk run (warm-up is a third of it).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// The fixed moderate rate, requests per second.
    #[arg(long, default_value_t = 100)]
    rate: u64,
    /// Connections at saturation.
    #[arg(long, default_value_t = 16)]
    connections: u64,
    /// Concurrent clients of the like storm.
    #[arg(long, default_value_t = 64)]
    like_clients: u64,
    /// Iterations of the raw SQL floor per query.
    #[arg(long, default_value_t = 400)]
    floor_iterations: usize,
    /// The release server binary.
    #[arg(long, default_value = "target/release/tally")]
    server: PathBuf,
    /// Where scripts, EXPLAIN plans and results go.
    #[arg(long, default_value = "bench/out")]
    out: PathBuf,
    #[arg(long, default_value_t = 18_181)]
    port: u16,
}

/// What the seeding produced and the scenarios need.
struct Dataset {
    viewer: Uuid,
    videos: Vec<(usize, Uuid)>,
    hot_video: Uuid,
    storm_users: Vec<Uuid>,
}

/// One measured row of the table.
#[derive(Default, Clone)]
struct Row {
    name: String,
    p50_ms: f64,
    p99_ms: f64,
    rps: f64,
    sat_p50_ms: f64,
    sat_p99_ms: f64,
    sat_rps: f64,
    floor_p50_ms: Option<f64>,
    floor_p99_ms: Option<f64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let tag = format!(
        "{}-p{}",
        match args.backend {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        },
        (args.private_share * 100.0).round() as u32
    );
    let url = prepare_database(&args, &tag).await?;
    let db = db::connect(&url, 8).await?;
    Migrator::up(&db, None).await?;
    let started = Instant::now();
    let data = seed(&db, &args).await?;
    println!("seeded {tag} in {:.1} s", started.elapsed().as_secs_f64());

    let mut server = start_server(&args, &url)?;
    let result = run_scenarios(&args, &db, &data, &tag).await;
    let peak_rss = peak_rss_mb(server.id());
    server.kill().ok();
    server.wait().ok();
    let (rows, storm) = result?;
    print_table(&args, &tag, &rows, &storm, peak_rss)?;
    Ok(())
}

async fn prepare_database(args: &Args, tag: &str) -> anyhow::Result<String> {
    match args.backend {
        Backend::Postgres => {
            let name = format!("tally_bench_{}", tag.replace('-', "_"));
            let admin = db::connect(&args.pg_url, 1).await?;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await?;
            let (root, _) = args
                .pg_url
                .rsplit_once('/')
                .context("PostgreSQL URL needs a path")?;
            Ok(format!("{root}/{name}"))
        }
        Backend::Sqlite => {
            let path = args.out.join(format!("tally-bench-{tag}.db"));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            Ok(format!("sqlite://{}?mode=rwc", path.display()))
        }
    }
}

/// Inserts `rows` (each a list of SQL literals already bound into the builder) in chunks.
async fn insert_chunked<R>(
    db: &impl ConnectionTrait,
    table: &str,
    cols: &str,
    rows: &[R],
    per_chunk: usize,
    bind_row: impl Fn(&mut Sql, &R) -> String,
) -> anyhow::Result<()> {
    for chunk in rows.chunks(per_chunk) {
        let mut q = Sql::default();
        let values: Vec<String> = chunk.iter().map(|r| bind_row(&mut q, r)).collect();
        q.push(&format!(
            "INSERT INTO {table} ({cols}) VALUES {}",
            values.join(", ")
        ));
        q.execute(db)
            .await
            .map_err(|e| anyhow::anyhow!("insert into {table}: {}", e.message()))?;
    }
    Ok(())
}

fn uuid_for(seed: u64, i: u64) -> Uuid {
    // Time-ordered like v7 in spirit, deterministic from the seed.
    Uuid::from_u64_pair(
        0x0190_0000_0000_7000 | (seed & 0xfff),
        0x8000_0000_0000_0000 | i,
    )
}

async fn seed(db: &DatabaseConnection, args: &Args) -> anyhow::Result<Dataset> {
    use entity::{Audience, LikesVisibility as L, Visibility as V};
    let mut rng = StdRng::seed_from_u64(args.seed);
    let max_size = args.sizes.iter().copied().max().unwrap_or(1000);
    let storm_n = 40_000usize;
    let n = max_size + storm_n + 1000;
    let t0 = chrono::Utc::now().timestamp_micros() - 86_400_000_000;

    struct U {
        id: Uuid,
        vis: V,
        lv: L,
    }
    let mut users: Vec<U> = (0..n)
        .map(|i| {
            let vis = if rng.gen_bool(args.private_share) {
                V::Private
            } else {
                V::Public
            };
            let x: f64 = rng.gen();
            let lv = if x < args.everyone_share {
                L::Everyone
            } else if x < args.everyone_share + args.followers_share {
                L::Followers
            } else {
                L::OnlyMe
            };
            U {
                id: uuid_for(args.seed, i as u64),
                vis,
                lv,
            }
        })
        .collect();
    let creator = uuid_for(args.seed, n as u64);
    let viewer = uuid_for(args.seed, n as u64 + 1);
    users.push(U {
        id: creator,
        vis: V::Public,
        lv: L::Everyone,
    });
    users.push(U {
        id: viewer,
        vis: V::Public,
        lv: L::Everyone,
    });
    let name = |v: V| if v == V::Public { "PUBLIC" } else { "PRIVATE" };
    let lv_name = |l: L| match l {
        L::Everyone => "EVERYONE",
        L::Followers => "FOLLOWERS",
        L::OnlyMe => "ONLY_ME",
    };
    let aud_name = |a: Audience| match a {
        Audience::Everyone => "EVERYONE",
        Audience::Followers => "FOLLOWERS",
        Audience::OnlyMe => "ONLY_ME",
    };

    let txn = db.begin().await?;
    let indexed: Vec<(usize, &U)> = users.iter().enumerate().collect();
    insert_chunked(
        &txn,
        "users",
        "id, handle, display_name, password_hash, account_type, visibility, likes_visibility, created_at",
        &indexed,
        2000,
        |q, (i, u)| {
            let handle = if u.id == creator {
                "creator".to_owned()
            } else if u.id == viewer {
                "viewer".to_owned()
            } else {
                format!("u{i}")
            };
            let parts = [
                q.bind(u.id),
                q.bind(handle.clone()),
                q.bind(handle),
                q.bind("!"),
                q.bind(if u.id == creator { "CREATOR" } else { "PERSONAL" }),
                q.bind(name(u.vis)),
                q.bind(lv_name(u.lv)),
                q.bind(t0),
            ];
            format!("({})", parts.join(", "))
        },
    )
    .await?;

    // Power-law follow graph: Pareto out-degrees, Zipf-like (low index = popular) targets.
    let mut follows: Vec<(Uuid, Uuid)> = Vec::new();
    for i in 0..n {
        let u: f64 = rng.gen_range(1e-9..1.0);
        let degree = ((args.mean_follows / 2.0) * (1.0 / u.sqrt()))
            .floor()
            .min(1000.0) as usize;
        let mut seen = HashSet::new();
        for _ in 0..degree {
            let j = ((n as f64) * rng.gen::<f64>().powi(3)) as usize;
            if j != i && seen.insert(j) {
                follows.push((users[i].id, users[j].id));
            }
        }
    }
    // The measured viewer follows `viewer_follows` likers of the big video, and the creator.
    let mut likers: Vec<usize> = (0..max_size).collect();
    likers.shuffle(&mut rng);
    let mut followed: Vec<usize> = likers.clone();
    followed.shuffle(&mut rng);
    followed.truncate(args.viewer_follows);
    for &j in &followed {
        follows.push((viewer, users[j].id));
    }
    follows.push((viewer, creator));
    let follows_rows: Vec<_> = follows
        .into_iter()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    insert_chunked(
        &txn,
        "follows",
        "follower_id, followee_id, state, created_at",
        &follows_rows,
        5000,
        |q, (a, b)| {
            format!(
                "({}, {}, 'APPROVED', {})",
                q.bind(*a),
                q.bind(*b),
                q.bind(t0)
            )
        },
    )
    .await?;
    // The viewer has blocked 20 likers it does not follow.
    let followed_set: HashSet<usize> = followed.iter().copied().collect();
    let blocked: Vec<Uuid> = likers
        .iter()
        .filter(|j| !followed_set.contains(j))
        .take(20)
        .map(|&j| users[j].id)
        .collect();
    insert_chunked(
        &txn,
        "blocks",
        "blocker_id, blocked_id, created_at",
        &blocked,
        100,
        |q, b| format!("({}, {}, {})", q.bind(viewer), q.bind(*b), q.bind(t0)),
    )
    .await?;

    // One video per size, liked by the first `size` likers of one shuffled order.
    let mut videos = Vec::new();
    let mut sizes = args.sizes.clone();
    sizes.sort_unstable();
    for (k, &size) in sizes.iter().enumerate() {
        let vid = uuid_for(args.seed ^ 0xABCD, k as u64);
        let (mut every, mut foll) = (0i64, 0i64);
        let rows: Vec<(usize, usize)> = likers.iter().take(size).copied().enumerate().collect();
        for (_, j) in &rows {
            match audience(users[*j].vis, users[*j].lv) {
                Audience::Everyone => every += 1,
                Audience::Followers => foll += 1,
                Audience::OnlyMe => {}
            }
        }
        insert_video(
            &txn,
            vid,
            creator,
            &format!("size {size}"),
            t0 + k as i64,
            size as i64,
            every,
            foll,
        )
        .await?;
        insert_chunked(
            &txn,
            "likes",
            "video_id, user_id, audience, created_at",
            &rows,
            5000,
            |q, (pos, j)| {
                let a = aud_name(audience(users[*j].vis, users[*j].lv));
                format!(
                    "({}, {}, {}, {})",
                    q.bind(vid),
                    q.bind(users[*j].id),
                    q.bind(a),
                    q.bind(t0 + 1000 + *pos as i64 * 10)
                )
            },
        )
        .await?;
        videos.push((size, vid));
    }
    // Fifty small videos by followed accounts, for the feed.
    for k in 0..50u64 {
        let author = users[followed[k as usize % followed.len().max(1)]].id;
        let vid = uuid_for(args.seed ^ 0xFEED, k);
        let fans: Vec<usize> = (0..5)
            .map(|f| likers[(k as usize * 7 + f * 13) % max_size])
            .collect();
        let fans: Vec<usize> = fans
            .into_iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let every = fans
            .iter()
            .filter(|j| audience(users[**j].vis, users[**j].lv) == Audience::Everyone)
            .count();
        let foll = fans
            .iter()
            .filter(|j| audience(users[**j].vis, users[**j].lv) == Audience::Followers)
            .count();
        let created = t0 + 10_000_000_000 + k as i64;
        insert_video(
            &txn,
            vid,
            author,
            &format!("feed {k}"),
            created,
            fans.len() as i64,
            every as i64,
            foll as i64,
        )
        .await?;
        insert_chunked(
            &txn,
            "likes",
            "video_id, user_id, audience, created_at",
            &fans,
            100,
            |q, j| {
                let a = aud_name(audience(users[*j].vis, users[*j].lv));
                format!(
                    "({}, {}, {}, {})",
                    q.bind(vid),
                    q.bind(users[*j].id),
                    q.bind(a),
                    q.bind(created + 1)
                )
            },
        )
        .await?;
    }
    let hot_video = uuid_for(args.seed ^ 0x407, 0);
    insert_video(
        &txn,
        hot_video,
        creator,
        "hot",
        t0 + 20_000_000_000,
        0,
        0,
        0,
    )
    .await?;
    txn.commit().await?;
    // As autovacuum would after a bulk load: statistics, and visibility maps for
    // index-only scans.
    let maintenance = match args.backend {
        Backend::Postgres => "VACUUM ANALYZE",
        Backend::Sqlite => "ANALYZE",
    };
    db.execute_unprepared(maintenance).await?;
    let storm_users = users[max_size..max_size + storm_n]
        .iter()
        .map(|u| u.id)
        .collect();
    Ok(Dataset {
        viewer,
        videos,
        hot_video,
        storm_users,
    })
}

#[allow(clippy::too_many_arguments)]
async fn insert_video(
    db: &impl ConnectionTrait,
    id: Uuid,
    author: Uuid,
    caption: &str,
    created: i64,
    likes: i64,
    everyone: i64,
    followers: i64,
) -> anyhow::Result<()> {
    let mut q = Sql::default();
    let parts = [
        q.bind(id),
        q.bind(author),
        q.bind(caption),
        q.bind("[]"),
        q.bind(created),
    ];
    q.push(&format!(
        "INSERT INTO videos (id, author_id, caption, hashtags, created_at, view_count) VALUES ({}, 0)",
        parts.join(", ")
    ));
    let mut c = Sql::default();
    let counts = [
        c.bind(id),
        c.bind(likes),
        c.bind(everyone),
        c.bind(followers),
    ];
    c.push(&format!(
        "INSERT INTO video_like_counters (video_id, shard, like_count, everyone_likes, followers_likes) \
         VALUES ({}, 0, {}, {}, {})",
        counts[0], counts[1], counts[2], counts[3]
    ));
    for stmt in [q, c] {
        stmt.execute(db)
            .await
            .map_err(|e| anyhow::anyhow!("insert video: {}", e.message()))?;
    }
    Ok(())
}

fn start_server(args: &Args, url: &str) -> anyhow::Result<Child> {
    if !args.server.exists() {
        bail!(
            "{} not found: build it with `cargo build --release`",
            args.server.display()
        );
    }
    let child = Command::new(&args.server)
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("TALLY_JWT_SECRET", SECRET)
        .env("TALLY_BIND", format!("127.0.0.1:{}", args.port))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if http_get(args.port, "/readyz")
            .map(|s| s.starts_with("HTTP/1.1 200"))
            .unwrap_or(false)
        {
            return Ok(child);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("server did not become ready")
}

fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// wrk's result line: p50 µs, p99 µs, requests, duration µs, bad bodies, socket/status errors.
struct WrkResult {
    p50_ms: f64,
    p99_ms: f64,
    rps: f64,
    requests: u64,
    bad: u64,
}

const LUA_CHECK: &str = r#"
local threads = {}
function setup(thread)
  thread:set("k", #threads)
  table.insert(threads, thread)
end
function init(args) bad = 0; first_bad = nil; n = 0 end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
    if first_bad == nil then first_bad = string.sub(body, 1, 300) end
  end
end
function done(summary, latency, requests)
  local b = 0
  local fb = nil
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
    if t:get("first_bad") ~= nil then fb = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n", latency:percentile(50), latency:percentile(99),
    summary.requests, summary.duration, b, e.connect + e.read + e.write + e.timeout + e.status))
  if fb ~= nil then io.write("FIRST_BAD " .. fb .. "\n") end
end
"#;

fn lua_string(s: &str) -> String {
    format!("[==[{s}]==]")
}

/// A wrk script sending one GraphQL request (`delay_ms` paces each connection).
fn script(
    out: &Path,
    name: &str,
    token: &str,
    body: &serde_json::Value,
    delay_ms: Option<u64>,
) -> anyhow::Result<PathBuf> {
    let mut s = String::new();
    writeln!(s, "wrk.method = \"POST\"")?;
    writeln!(s, "wrk.headers[\"Content-Type\"] = \"application/json\"")?;
    writeln!(s, "wrk.headers[\"Authorization\"] = \"Bearer {token}\"")?;
    writeln!(s, "wrk.body = {}", lua_string(&body.to_string()))?;
    if let Some(d) = delay_ms {
        writeln!(s, "function delay() return {d} end")?;
    }
    s.push_str(LUA_CHECK);
    let path = out.join(format!("{name}.lua"));
    std::fs::write(&path, s)?;
    Ok(path)
}

/// A wrk script where request `i` of thread `k` likes the hot video as token `k + i * threads`.
fn storm_script(
    out: &Path,
    tokens: &[String],
    video: &str,
    threads: u64,
) -> anyhow::Result<PathBuf> {
    let mut s = String::from("local tokens = {\n");
    for t in tokens {
        writeln!(s, "  \"{t}\",")?;
    }
    s.push_str("}\n");
    let body = serde_json::json!({
        "query": "mutation($v: ID!) { likeVideo(videoId: $v) { likeCount } }",
        "variables": { "v": video }
    });
    writeln!(s, "local body = {}", lua_string(&body.to_string()))?;
    writeln!(
        s,
        r#"function request()
  local idx = (k + n * {threads}) % #tokens + 1
  n = n + 1
  return wrk.format("POST", "/graphql", {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[idx]}}, body)
end"#
    )?;
    s.push_str(LUA_CHECK);
    let path = out.join("storm.lua");
    std::fs::write(&path, s)?;
    Ok(path)
}

fn wrk(
    port: u16,
    script: &Path,
    connections: u64,
    threads: u64,
    secs: u64,
) -> anyhow::Result<WrkResult> {
    let out = Command::new("wrk")
        .args([
            "-t",
            &threads.to_string(),
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{secs}s"),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}/graphql"))
        .output()
        .context("running wrk (install it: apt-get install -y wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if let Some(bad) = text.lines().find(|l| l.starts_with("FIRST_BAD")) {
        eprintln!("  first failing response: {bad}");
    }
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT"))
        .with_context(|| format!("wrk printed no result: {text}"))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if f.len() != 6 {
        bail!("unexpected wrk result line: {line}");
    }
    Ok(WrkResult {
        p50_ms: f[0] as f64 / 1000.0,
        p99_ms: f[1] as f64 / 1000.0,
        rps: f[2] as f64 / (f[3] as f64 / 1e6),
        requests: f[2],
        bad: f[4] + f[5],
    })
}

/// Warm-up, fixed moderate rate, saturation. Fails on any bad answer.
fn measure(args: &Args, name: &str, token: &str, body: serde_json::Value) -> anyhow::Result<Row> {
    let fixed_conns = 4u64;
    let delay = (fixed_conns * 1000 / args.rate.max(1)).max(1);
    let paced = script(
        &args.out,
        &format!("{name}-fixed"),
        token,
        &body,
        Some(delay),
    )?;
    let open = script(&args.out, &format!("{name}-sat"), token, &body, None)?;
    wrk(
        args.port,
        &open,
        args.connections,
        2,
        (args.duration / 3).max(1),
    )?;
    let fixed = wrk(args.port, &paced, fixed_conns, 2, args.duration)?;
    let sat = wrk(args.port, &open, args.connections, 2, args.duration)?;
    for (what, r) in [("fixed", &fixed), ("saturation", &sat)] {
        if r.bad > 0 || r.requests == 0 {
            bail!(
                "{name} ({what}): {} of {} answers failed",
                r.bad,
                r.requests
            );
        }
    }
    println!(
        "  {name}: p50 {:.2} ms, p99 {:.2} ms at {:.0} req/s; saturated {:.0} req/s",
        fixed.p50_ms, fixed.p99_ms, fixed.rps, sat.rps
    );
    Ok(Row {
        name: name.to_owned(),
        p50_ms: fixed.p50_ms,
        p99_ms: fixed.p99_ms,
        rps: fixed.rps,
        sat_p50_ms: sat.p50_ms,
        sat_p99_ms: sat.p99_ms,
        sat_rps: sat.rps,
        ..Row::default()
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The raw floor of a `video { visibleLikers { … totalCount hiddenCount } }` request: the same
/// three statements the service runs (Rule V look-up, the page, the counts), in-process.
async fn floor(
    db: &DatabaseConnection,
    viewer: Uuid,
    video: Uuid,
    req: PageRequest,
    n: usize,
) -> anyhow::Result<(f64, f64)> {
    let mut times = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let t = Instant::now();
        let found = videos::visible_videos(db, Some(viewer), &[video])
            .await
            .map_err(|e| anyhow::anyhow!(e.message()))?;
        if found.is_empty() {
            bail!("floor: video not visible");
        }
        likes::visible_likers_batch(db, Some(viewer), &[(video, req)])
            .await
            .map_err(|e| anyhow::anyhow!(e.message()))?;
        if i >= n / 10 {
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok((percentile(&times, 0.5), percentile(&times, 0.99)))
}

/// The keyset after the first `skip` visible likers (to start a deep page).
async fn deep_cursor(
    db: &DatabaseConnection,
    viewer: Uuid,
    video: Uuid,
    skip: usize,
) -> anyhow::Result<Option<(usize, Keyset)>> {
    let mut after = None;
    let mut seen = 0usize;
    let mut last = None;
    while seen < skip {
        let req = PageRequest::new(100, after).map_err(|e| anyhow::anyhow!(e.message()))?;
        let mut pages = likes::visible_likers_batch(db, Some(viewer), &[(video, req)])
            .await
            .map_err(|e| anyhow::anyhow!(e.message()))?;
        let page = pages.remove(&(video, req)).context("page")?.page;
        let take = (skip - seen).min(page.items.len());
        if take == 0 {
            break;
        }
        last = Some(page.items[take - 1].0);
        seen += take;
        after = last;
        if !page.has_next {
            break;
        }
    }
    Ok(last.map(|k| (seen, k)))
}

async fn explain(
    args: &Args,
    db: &DatabaseConnection,
    data: &Dataset,
    tag: &str,
) -> anyhow::Result<()> {
    if args.backend != Backend::Postgres {
        return Ok(());
    }
    let (_, big) = *data.videos.last().context("videos")?;
    let req = PageRequest::new(20, None).map_err(|e| anyhow::anyhow!(e.message()))?;
    let mut report = String::new();
    for (what, q) in [(
        "visibleLikers page (first 20) with totalCount",
        likes::visible_likers_sql(Some(data.viewer), &[(big, req)]),
    )] {
        let stmt = q.build(db.get_database_backend());
        let explained = sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            format!("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {}", stmt.sql),
            stmt.values.map(|v| v.0).unwrap_or_default(),
        );
        let rows = db.query_all_raw(explained).await?;
        writeln!(report, "### {what}\n\n```sql\n{}\n```\n\n```", stmt.sql)?;
        for r in rows {
            let line: String = r.try_get_by_index(0)?;
            writeln!(report, "{line}")?;
        }
        writeln!(report, "```\n")?;
    }
    let path = args.out.join(format!("explain-{tag}.md"));
    std::fs::write(&path, &report)?;
    println!("EXPLAIN plans written to {}", path.display());
    Ok(())
}

struct Storm {
    likes_per_sec: f64,
    acknowledged: u64,
    bad: u64,
    drift: i64,
}

async fn run_scenarios(
    args: &Args,
    db: &DatabaseConnection,
    data: &Dataset,
    tag: &str,
) -> anyhow::Result<(Vec<Row>, Storm)> {
    let tokens = Tokens::new(SECRET.as_bytes(), chrono::Duration::hours(24))?;
    let token = |id: Uuid| {
        tokens
            .issue(id)
            .map(|(t, _)| t)
            .map_err(|e| anyhow::anyhow!(e.message()))
    };
    let viewer_token = token(data.viewer)?;
    let likers_query = "query($id: ID!, $after: String) { video(id: $id) { visibleLikers(first: 20, after: $after) { \
        totalCount hiddenCount edges { likedAt node { handle } } pageInfo { hasNextPage endCursor } } } }";
    let req1 = PageRequest::new(20, None).map_err(|e| anyhow::anyhow!(e.message()))?;
    let mut rows = Vec::new();
    explain(args, db, data, tag).await?;
    for &(size, video) in &data.videos {
        let body = serde_json::json!({ "query": likers_query, "variables": { "id": encode_id(Kind::Video, video) } });
        let mut row = measure(
            args,
            &format!("visibleLikers p1 @{size}"),
            &viewer_token,
            body,
        )?;
        let (f50, f99) = floor(db, data.viewer, video, req1, args.floor_iterations).await?;
        row.floor_p50_ms = Some(f50);
        row.floor_p99_ms = Some(f99);
        rows.push(row);
    }
    let (big_size, big) = *data.videos.last().context("videos")?;
    if let Some((skipped, keyset)) = deep_cursor(db, data.viewer, big, 4999 * 20).await? {
        let cursor = CursorCodec::new(SECRET.as_bytes())
            .encode(CursorKind::Likers, keyset)
            .map_err(|e| anyhow::anyhow!(e.message()))?;
        let page = skipped / 20 + 1;
        let body = serde_json::json!({ "query": likers_query, "variables": { "id": encode_id(Kind::Video, big), "after": cursor } });
        let mut row = measure(
            args,
            &format!("visibleLikers p{page} @{big_size}"),
            &viewer_token,
            body,
        )?;
        let req = PageRequest::new(20, Some(keyset)).map_err(|e| anyhow::anyhow!(e.message()))?;
        let (f50, f99) = floor(db, data.viewer, big, req, args.floor_iterations).await?;
        row.floor_p50_ms = Some(f50);
        row.floor_p99_ms = Some(f99);
        rows.push(row);
    }
    let body = serde_json::json!({ "query": "query($id: ID!) { video(id: $id) { likeCount } }", "variables": { "id": encode_id(Kind::Video, big) } });
    rows.push(measure(
        args,
        &format!("likeCount @{big_size}"),
        &viewer_token,
        body,
    )?);
    let feed = "{ feed(first: 20) { edges { node { author { handle } likeCount viewerHasLiked \
        visibleLikers(first: 3) { totalCount hiddenCount edges { node { handle } } } } } } }";
    rows.push(measure(
        args,
        "feed(first: 20)",
        &viewer_token,
        serde_json::json!({ "query": feed }),
    )?);

    // Like storm on a fresh video: every request a different account's first like.
    let storm_tokens = data
        .storm_users
        .iter()
        .map(|u| token(*u))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let path = storm_script(
        &args.out,
        &storm_tokens,
        &encode_id(Kind::Video, data.hot_video),
        2,
    )?;
    let r = wrk(args.port, &path, args.like_clients, 2, args.duration)?;
    let mut q = Sql::default();
    let v = q.bind(data.hot_video);
    q.push(&format!(
        "SELECT {} AS like_count, (SELECT COUNT(*) FROM likes WHERE video_id = {v}) AS n",
        tally::domain::counters::sum("like_count", &v)
    ));
    let row = q
        .one(db)
        .await
        .map_err(|e| anyhow::anyhow!(e.message()))?
        .context("hot video")?;
    let counter: i64 = row.try_get("", "like_count")?;
    let n: i64 = row.try_get("", "n")?;
    let storm = Storm {
        likes_per_sec: r.rps,
        acknowledged: r.requests,
        bad: r.bad,
        drift: counter - n,
    };
    println!(
        "  like storm: {:.0} likes/s from {} clients, {} errors, counter {counter} vs rows {n}",
        r.rps, args.like_clients, r.bad
    );
    Ok((rows, storm))
}

fn print_table(
    args: &Args,
    tag: &str,
    rows: &[Row],
    storm: &Storm,
    peak_rss: f64,
) -> anyhow::Result<()> {
    let mut s = String::new();
    writeln!(
        s,
        "\n## {tag}: private share {:.0}%, viewer follows {}, fixed rate {} req/s (4 connections), saturation {} connections, {} s each\n",
        args.private_share * 100.0,
        args.viewer_follows,
        args.rate,
        args.connections,
        args.duration
    )?;
    writeln!(s, "| query | p50 ms | p99 ms | req/s | saturated p50 / p99 ms | saturated req/s | raw SQL p50 / p99 ms | GraphQL ÷ raw (p50) |")?;
    writeln!(s, "|---|---|---|---|---|---|---|---|")?;
    for r in rows {
        let (raw, ratio) = match (r.floor_p50_ms, r.floor_p99_ms) {
            (Some(a), Some(b)) => (format!("{a:.2} / {b:.2}"), format!("{:.2}×", r.p50_ms / a)),
            _ => ("—".into(), "—".into()),
        };
        writeln!(
            s,
            "| {} | {:.2} | {:.2} | {:.0} | {:.2} / {:.2} | {:.0} | {raw} | {ratio} |",
            r.name, r.p50_ms, r.p99_ms, r.rps, r.sat_p50_ms, r.sat_p99_ms, r.sat_rps
        )?;
    }
    let first = rows.first().map(|r| r.p99_ms).unwrap_or(f64::NAN);
    let sized: Vec<&Row> = rows
        .iter()
        .filter(|r| r.name.starts_with("visibleLikers p1 "))
        .collect();
    if let (Some(small), Some(big)) = (sized.first(), sized.last()) {
        writeln!(
            s,
            "\np99 at the largest size ÷ p99 at the smallest: {:.2}×",
            big.p99_ms / small.p99_ms
        )?;
    }
    if let Some(deep) = rows
        .iter()
        .find(|r| r.name.starts_with("visibleLikers p") && !r.name.starts_with("visibleLikers p1 "))
    {
        let p1 = sized.last().map(|r| r.p99_ms).unwrap_or(first);
        writeln!(
            s,
            "deep page p99 ÷ page 1 p99 (largest size): {:.2}×",
            deep.p99_ms / p1
        )?;
    }
    writeln!(
        s,
        "like storm: {:.0} likes/s sustained from {} clients; {} acknowledged, {} failed answers; counter drift {}",
        storm.likes_per_sec, args.like_clients, storm.acknowledged, storm.bad, storm.drift
    )?;
    writeln!(s, "server peak RSS: {peak_rss:.1} MB")?;
    print!("{s}");
    let path = args.out.join(format!("results-{tag}.md"));
    std::fs::write(&path, &s)?;
    if storm.bad > 0 || storm.drift != 0 {
        bail!(
            "like storm failed: {} bad answers, drift {}",
            storm.bad,
            storm.drift
        );
    }
    Ok(())
}
