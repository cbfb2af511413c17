//! `tally-bench`: the likes-at-scale benchmark (see `bench/README.md`).
//!
//! One run = one backend and one private-account share: seed a dataset from a seed, start the
//! release `tally` binary on it, drive a fixed query mix over HTTP with `wrk` (warm-up, then a
//! fixed moderate rate, then saturation, every response body checked for `errors`), run the
//! same SQL in-process as the floor, and print one table.
//!
//! `--soak <secs>` runs the soak instead (see [`soak`]): the same dataset and server, then
//! mixed reads and writes at a fixed moderate rate for that long, the server's RSS sampled
//! throughout, and a verdict on errors and memory growth.
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
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, TransactionTrait};
use tally::{
    auth::token::Tokens,
    db::{self, Sql},
    domain::{likes, page::PageRequest, videos},
    ids::{CursorCodec, CursorKind, IdCodec, IdKey, Keyset, Kind},
    privacy::audience,
};
use uuid::Uuid;

const SECRET: &str = "benchmark-secret-benchmark-secret-0123456789";
/// The server's `TALLY_ID_KEY`: the benchmark encrypts the IDs and cursors it sends with it.
const ID_KEY: &str = "0b5e4c1d7a9f3e2b6c8d0a1f4e7b9c2d5a8f1e3b6d9c0a2f5e8b1d4c7a0f3e6b";

fn id_key() -> IdKey {
    match IdKey::from_hex(ID_KEY) {
        Ok(key) => key,
        Err(_) => unreachable!("ID_KEY is 64 hexadecimal characters"),
    }
}

/// The API ID of a row, as the server (running with [`ID_KEY`]) writes it.
fn encode_id(kind: Kind, id: Uuid) -> String {
    IdCodec::new(&id_key()).encode_id(kind, id)
}

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
    /// Run the soak instead of the benchmark: mixed load at `--rate` for this many seconds.
    #[arg(long, value_name = "SECS")]
    soak: Option<u64>,
    /// Run the timing-class scenario instead of the benchmark (see [`timing`]).
    #[arg(long)]
    timing: bool,
    /// Rows hidden behind each "many" account of the timing scenario.
    #[arg(long, default_value_t = 1500)]
    timing_hidden: usize,
    /// Measured tries per account and path of the timing scenario (after 10 of warm-up).
    #[arg(long, default_value_t = 101)]
    timing_tries: usize,
    /// Seconds between two samples of the server's RSS during the soak.
    #[arg(long, default_value_t = 5)]
    soak_sample_secs: u64,
    /// Accounts of the dataset that like, follow and read during the soak (each a token).
    #[arg(long, default_value_t = 4000)]
    soak_accounts: usize,
}

/// What the seeding produced and the scenarios need.
struct Dataset {
    viewer: Uuid,
    /// The public author of the sized videos and the hot video.
    creator: Uuid,
    /// Accounts are `u0` … `u{accounts - 1}` (plus `creator` and `viewer`).
    accounts: usize,
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
    /// Why the scenario failed (answers with errors, or none at all); the run goes on and
    /// the table says so, and the benchmark exits non-zero at the end.
    failed: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    if let Some(secs) = args.soak {
        return soak(&args, secs).await;
    }
    if args.timing {
        return timing(&args).await;
    }
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
    if txn.get_database_backend() == DbBackend::Sqlite {
        // The seeding transaction touches every page of six indexes in random order; with
        // SQLite's default 2 MB page cache it re-reads them from the WAL all the time (a 1M-like
        // dataset took 12.5 minutes). A 2 GiB cache for this connection keeps them in memory.
        txn.execute_unprepared("PRAGMA cache_size = -2097152")
            .await?;
    }
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
            format!("({})", tally::db::Frag::join(parts, ", "))
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
    if txn.get_database_backend() == DbBackend::Sqlite {
        // Back to SQLite's default, like the server's connections, before the raw SQL floor.
        txn.execute_unprepared("PRAGMA cache_size = -2000").await?;
    }
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
        creator,
        accounts: n,
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
        tally::db::Frag::join(parts, ", ")
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
        .env("TALLY_ID_KEY", ID_KEY)
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
    proc_status_mb(pid, "VmHWM:")
}

/// The process's resident set now, in MB.
fn rss_mb(pid: u32) -> f64 {
    proc_status_mb(pid, "VmRSS:")
}

/// A `kB` line of `/proc/<pid>/status`, in MB (NaN if unreadable).
fn proc_status_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
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

/// The `wrk` command line for `secs` seconds of `script` over `connections`.
fn wrk_command(port: u16, script: &Path, connections: u64, threads: u64, secs: u64) -> Command {
    let mut command = Command::new("wrk");
    command
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
        .arg(format!("http://127.0.0.1:{port}/graphql"));
    command
}

fn wrk(
    port: u16,
    script: &Path,
    connections: u64,
    threads: u64,
    secs: u64,
) -> anyhow::Result<WrkResult> {
    let out = wrk_command(port, script, connections, threads, secs)
        .output()
        .context("running wrk (install it: apt-get install -y wrk)")?;
    parse_wrk(&String::from_utf8_lossy(&out.stdout))
}

/// Reads the `RESULT` line that [`LUA_CHECK`] prints (and reports `FIRST_BAD`).
fn parse_wrk(text: &str) -> anyhow::Result<WrkResult> {
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
    let failed: Vec<String> = [("fixed", &fixed), ("saturation", &sat)]
        .iter()
        .filter(|(_, r)| r.bad > 0 || r.requests == 0)
        .map(|(what, r)| format!("{what}: {} of {} answers failed", r.bad, r.requests))
        .collect();
    let failed = (!failed.is_empty()).then(|| failed.join("; "));
    println!(
        "  {name}: p50 {:.2} ms, p99 {:.2} ms at {:.0} req/s; saturated {:.0} req/s{}",
        fixed.p50_ms,
        fixed.p99_ms,
        fixed.rps,
        sat.rps,
        failed
            .as_ref()
            .map(|f| format!(" — FAILED ({f})"))
            .unwrap_or_default()
    );
    Ok(Row {
        name: name.to_owned(),
        p50_ms: fixed.p50_ms,
        p99_ms: fixed.p99_ms,
        rps: fixed.rps,
        sat_p50_ms: sat.p50_ms,
        sat_p99_ms: sat.p99_ms,
        sat_rps: sat.rps,
        failed,
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

/// Issues the service's own tokens (the server runs with [`SECRET`]) for any account.
fn token_issuer() -> anyhow::Result<impl Fn(Uuid) -> anyhow::Result<String>> {
    let ids = IdCodec::new(&id_key());
    let tokens = Tokens::new(SECRET.as_bytes(), chrono::Duration::hours(24), ids)?;
    Ok(move |id: Uuid| {
        tokens
            .issue(id)
            .map(|(t, _)| t)
            .map_err(|e| anyhow::anyhow!(e.message()))
    })
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
    let (_, big) = *data.videos.last().context("videos")?;
    let req = PageRequest::new(20, None).map_err(|e| anyhow::anyhow!(e.message()))?;
    let mut report = String::new();
    for (what, q) in [(
        "visibleLikers page (first 20) with totalCount",
        likes::visible_likers_sql(Some(data.viewer), &[(big, req)]),
    )] {
        let stmt = q.build(db.get_database_backend());
        // PostgreSQL runs the statement and shows its plan with times and buffers; SQLite
        // shows the plan it chose (`id`, `parent`, `notused`, `detail`).
        let explain = match args.backend {
            Backend::Postgres => "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)",
            Backend::Sqlite => "EXPLAIN QUERY PLAN",
        };
        let explained = sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            format!("{explain} {}", stmt.sql),
            stmt.values.map(|v| v.0).unwrap_or_default(),
        );
        let rows = db.query_all_raw(explained).await?;
        writeln!(report, "### {what}\n\n```sql\n{}\n```\n\n```", stmt.sql)?;
        for r in rows {
            let line: String = match args.backend {
                Backend::Postgres => r.try_get_by_index(0)?,
                Backend::Sqlite => format!(
                    "{:>4} {:>4}  {}",
                    r.try_get_by_index::<i64>(0)?,
                    r.try_get_by_index::<i64>(1)?,
                    r.try_get_by_index::<String>(3)?
                ),
            };
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
    let token = token_issuer()?;
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
        let cursor = CursorCodec::new(&id_key())
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
        tally::domain::counters::sum(entity::video_like_counter::Column::LikeCount, v)
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
        let name = match &r.failed {
            Some(why) => format!("{} — **FAILED** ({why})", r.name),
            None => r.name.clone(),
        };
        writeln!(
            s,
            "| {name} | {:.2} | {:.2} | {:.0} | {:.2} / {:.2} | {:.0} | {raw} | {ratio} |",
            r.p50_ms, r.p99_ms, r.rps, r.sat_p50_ms, r.sat_p99_ms, r.sat_rps
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
    fail_if_any(
        "scenarios",
        rows.iter().map(|r| (r.name.as_str(), r.failed.is_some())),
    )
}

/// An error naming the `what` (scenarios, paths) whose answers failed, if any did.
fn fail_if_any<'a>(what: &str, rows: impl Iterator<Item = (&'a str, bool)>) -> anyhow::Result<()> {
    let failed: Vec<&str> = rows.filter(|(_, f)| *f).map(|(name, _)| name).collect();
    if !failed.is_empty() {
        bail!("{what} with failed answers: {}", failed.join(", "));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Timing classes (issue 8): does the time to answer grow with rows hidden from the viewer?
// ---------------------------------------------------------------------------------------

/// Accounts of the timing scenario (each "pair" is `[0]` with no hidden rows, `[1]` with
/// `--timing-hidden`).
struct TimingWorld {
    stranger: Uuid,
    /// Private, `ONLY_ME`: without and with videos and likes.
    private_only_me: [Uuid; 2],
    /// Newest-first keysets of two feed pages with the same answer: the first starts above
    /// the private author's hidden videos, the second just below them.
    feed_over_hidden: Keyset,
    feed_over_none: Keyset,
}

/// Seeds the timing dataset: a stranger (public, follows only `p`); `creator`'s public
/// videos, liked by the liker pairs; for each kind of hidden list an account with none and an
/// account with `n` hidden rows; and a public account `p` whose feed videos sit on both sides
/// of the private author's `n` videos.
async fn seed_timing(db: &DatabaseConnection, n: usize) -> anyhow::Result<TimingWorld> {
    let mut accounts: Vec<(Uuid, String, &str, &str)> = Vec::new();
    let mut add = |handle: &str, vis: &'static str, lv: &'static str| {
        let id = Uuid::now_v7();
        accounts.push((id, handle.to_owned(), vis, lv));
        id
    };
    let stranger = add("stranger", "PUBLIC", "EVERYONE");
    let creator = add("creator", "PUBLIC", "EVERYONE");
    let p = add("p", "PUBLIC", "EVERYONE");
    // Pairs: (handle, visibility, likesVisibility, likes given, videos posted).
    let kinds = [
        ("onlyme", "PUBLIC", "ONLY_ME", true, false),
        ("followers", "PUBLIC", "FOLLOWERS", true, false),
        ("privliker", "PRIVATE", "EVERYONE", true, false),
        ("privauthor", "PRIVATE", "EVERYONE", false, true),
        ("privonlyme", "PRIVATE", "ONLY_ME", true, true),
        ("everyone", "PUBLIC", "EVERYONE", false, false),
    ];
    let mut pairs = Vec::new();
    for (handle, vis, lv, likes, videos) in kinds {
        let ids = [
            add(&format!("{handle}0"), vis, lv),
            add(&format!("{handle}1"), vis, lv),
        ];
        pairs.push((ids, vis, lv, likes, videos));
    }
    let txn = db.begin().await?;
    insert_chunked(
        &txn,
        "users",
        "id, handle, display_name, password_hash, account_type, visibility, likes_visibility, created_at",
        &accounts,
        500,
        |q, (id, handle, vis, lv)| {
            let parts = [
                q.bind(*id),
                q.bind(handle.clone()),
                q.bind(handle.clone()),
                q.bind("!"),
                q.bind("PERSONAL"),
                q.bind(*vis),
                q.bind(*lv),
                q.bind(0i64),
            ];
            format!("({})", tally::db::Frag::join(parts, ", "))
        },
    )
    .await?;
    let follow = [(stranger, p)];
    insert_chunked(
        &txn,
        "follows",
        "follower_id, followee_id, state, created_at",
        &follow,
        10,
        |q, (a, b)| format!("({}, {}, 'APPROVED', 0)", q.bind(*a), q.bind(*b)),
    )
    .await?;
    // Times: the creator's liked videos 1000.., the "many" accounts' own videos 100_000..,
    // then `p`'s older feed page (21 videos), the private author's hidden videos, `p`'s
    // newer page (20 videos).
    let likers = pairs.iter().filter(|k| k.3).count() as i64;
    let followers_likers = pairs
        .iter()
        .filter(|k| k.3 && k.2 != "ONLY_ME" && (k.2 == "FOLLOWERS" || k.1 == "PRIVATE"))
        .count() as i64;
    let mut liked = Vec::new();
    for i in 0..n {
        let id = Uuid::now_v7();
        insert_video(
            &txn,
            id,
            creator,
            "liked",
            1000 + i as i64,
            likers,
            0,
            followers_likers,
        )
        .await?;
        liked.push(id);
    }
    let base_feed = 1_000_000i64;
    let hidden_from = base_feed + 1000;
    let newer_from = hidden_from + n as i64 + 1000;
    for i in 0..21 {
        insert_video(&txn, Uuid::now_v7(), p, "older", base_feed + i, 0, 0, 0).await?;
    }
    for i in 0..20 {
        insert_video(&txn, Uuid::now_v7(), p, "newer", newer_from + i, 0, 0, 0).await?;
    }
    for (ids, vis, lv, likes, videos) in &pairs {
        let many = ids[1];
        if *videos {
            // The private author's videos are the feed's hidden block; the others' sit below
            // every feed page.
            let from = if ids[1] == pairs[3].0[1] {
                hidden_from
            } else {
                100_000
            };
            let rows: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
            for (i, id) in rows.iter().enumerate() {
                insert_video(&txn, *id, many, "hidden", from + i as i64, 0, 0, 0).await?;
            }
        }
        if *likes {
            let aud = match (*lv, *vis) {
                ("ONLY_ME", _) => "ONLY_ME",
                ("FOLLOWERS", _) | (_, "PRIVATE") => "FOLLOWERS",
                _ => "EVERYONE",
            };
            let rows: Vec<(usize, Uuid)> = liked.iter().copied().enumerate().collect();
            insert_chunked(
                &txn,
                "likes",
                "video_id, user_id, audience, created_at",
                &rows,
                2000,
                |q, (i, v)| {
                    format!(
                        "({}, {}, {}, {})",
                        q.bind(*v),
                        q.bind(many),
                        q.bind(aud),
                        q.bind(2_000_000 + *i as i64)
                    )
                },
            )
            .await?;
        }
    }
    txn.commit().await?;
    let maintenance = match db.get_database_backend() {
        DbBackend::Postgres => "VACUUM ANALYZE",
        _ => "ANALYZE",
    };
    db.execute_unprepared(maintenance).await?;
    let top = Uuid::from_u128(u128::MAX);
    Ok(TimingWorld {
        stranger,
        private_only_me: pairs[4].0,
        feed_over_hidden: Keyset {
            time: newer_from,
            id: Uuid::nil(),
        },
        feed_over_none: Keyset {
            time: hidden_from - 1,
            id: top,
        },
    })
}

/// One path of the timing table: the same request about an account (or feed page) hiding no
/// row and about one hiding `--timing-hidden`.
struct TimingPath {
    name: String,
    token: Option<String>,
    hidden: serde_json::Value,
    clear: serde_json::Value,
}

struct TimingRow {
    name: String,
    hidden_ms: f64,
    clear_ms: f64,
    failed: Option<String>,
}

fn median_of(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    percentile(&xs, 0.5)
}

/// `tally-bench --timing`: per read path that an account-level rule can hide, the median
/// time to answer with `--timing-hidden` hidden rows ÷ the median with none, the two requests
/// interleaved (alternating which goes first) over one keep-alive connection to the release
/// server, every answer checked (no `errors`, the two answers identical). Writes
/// `bench/out/timing-<backend>.md`; exits non-zero if an answer fails (a ratio over the
/// target is reported, not failed).
async fn timing(args: &Args) -> anyhow::Result<()> {
    const TARGET: f64 = 1.15;
    let backend = match args.backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    };
    let tag = format!("timing-{backend}");
    let url = prepare_database(args, &tag).await?;
    let db = db::connect(&url, 4).await?;
    Migrator::up(&db, None).await?;
    let n = args.timing_hidden;
    let w = seed_timing(&db, n).await?;
    let token = token_issuer()?;
    let stranger = Some(token(w.stranger)?);
    let codec = CursorCodec::new(&id_key());
    let cursor = |k: Keyset| {
        codec
            .encode(CursorKind::Videos, k)
            .map_err(|e| anyhow::anyhow!(e.message()))
    };
    let by_handle =
        |q: &str, handle: &str| serde_json::json!({ "query": q, "variables": { "h": handle } });
    let liked = "query($h: String!) { user(handle: $h) { likedVideos(first: 20) { edges { node { id likeCount } } pageInfo { hasNextPage } } } }";
    let videos = "query($h: String!) { user(handle: $h) { videos(first: 20) { edges { node { id likeCount } } pageInfo { hasNextPage } } } }";
    let node = "query($id: ID!) { node(id: $id) { ... on User { videos(first: 20) { edges { node { id } } } likedVideos(first: 20) { edges { node { id } } } } } }";
    let feed = "query($after: String) { feed(first: 20, after: $after) { edges { node { id author { handle } likeCount } } pageInfo { hasNextPage } } }";
    let node_of = |id: Uuid| serde_json::json!({ "query": node, "variables": { "id": encode_id(Kind::User, id) } });
    let pair = |name: &str, token: &Option<String>, q: &str, handle: &str| TimingPath {
        name: name.to_owned(),
        token: token.clone(),
        hidden: by_handle(q, &format!("{handle}1")),
        clear: by_handle(q, &format!("{handle}0")),
    };
    let feed_page = |k: Keyset| -> anyhow::Result<serde_json::Value> {
        Ok(serde_json::json!({ "query": feed, "variables": { "after": cursor(k)? } }))
    };
    let mut paths = vec![
        pair(
            "likedVideos, ONLY_ME liker, stranger",
            &stranger,
            liked,
            "onlyme",
        ),
        pair(
            "likedVideos, ONLY_ME liker, anonymous",
            &None,
            liked,
            "onlyme",
        ),
        pair(
            "likedVideos, FOLLOWERS liker, non-follower",
            &stranger,
            liked,
            "followers",
        ),
        pair(
            "likedVideos, private liker, stranger",
            &stranger,
            liked,
            "privliker",
        ),
        pair(
            "likedVideos, private liker, anonymous",
            &None,
            liked,
            "privliker",
        ),
        pair(
            "videos, private author, stranger",
            &stranger,
            videos,
            "privauthor",
        ),
        pair(
            "videos, private author, anonymous",
            &None,
            videos,
            "privauthor",
        ),
    ];
    for (name, tok) in [
        ("feed page, signed in", &stranger),
        ("feed page, anonymous", &None),
    ] {
        paths.push(TimingPath {
            name: name.to_owned(),
            token: tok.clone(),
            hidden: feed_page(w.feed_over_hidden)?,
            clear: feed_page(w.feed_over_none)?,
        });
    }
    let [x0, x1] = w.private_only_me;
    for (name, tok) in [
        (
            "node(user) { videos likedVideos }, private ONLY_ME, stranger",
            &stranger,
        ),
        (
            "node(user) { videos likedVideos }, private ONLY_ME, anonymous",
            &None,
        ),
    ] {
        paths.push(TimingPath {
            name: name.to_owned(),
            token: tok.clone(),
            hidden: node_of(x1),
            clear: node_of(x0),
        });
    }
    // Not a hidden count but a class: an empty list the viewer may see (EVERYONE, no likes)
    // against one it may not (ONLY_ME, no likes).
    paths.push(TimingPath {
        name: "(class) likedVideos, ONLY_ME ÷ EVERYONE, both without likes, stranger".to_owned(),
        token: stranger.clone(),
        hidden: by_handle(liked, "onlyme0"),
        clear: by_handle(liked, "everyone0"),
    });

    let mut server = start_server(args, &url)?;
    let result = timing_runs(args, &paths).await;
    server.kill().ok();
    server.wait().ok();
    let rows = result?;

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let mut s = String::new();
    writeln!(
        s,
        "\n## {tag}: median time to answer, {n} hidden rows ÷ none, {} interleaved tries each (target ≤ {TARGET})\n",
        args.timing_tries
    )?;
    writeln!(
        s,
        "{cpus} vCPU; load average after: `{}`\n",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )?;
    writeln!(
        s,
        "| path | median ms, {n} hidden | median ms, none hidden | ratio | verdict |"
    )?;
    writeln!(s, "|---|---|---|---|---|")?;
    for r in &rows {
        let ratio = r.hidden_ms / r.clear_ms;
        let verdict = match &r.failed {
            Some(why) => format!("**FAILED** ({why})"),
            None if ratio <= TARGET => "met".to_owned(),
            None => "**missed**".to_owned(),
        };
        writeln!(
            s,
            "| {} | {:.3} | {:.3} | {ratio:.2} | {verdict} |",
            r.name, r.hidden_ms, r.clear_ms
        )?;
    }
    print!("{s}");
    std::fs::write(args.out.join(format!("{tag}.md")), &s)?;
    fail_if_any(
        "timing paths",
        rows.iter().map(|r| (r.name.as_str(), r.failed.is_some())),
    )
}

/// Runs every path's two requests interleaved and returns the medians.
async fn timing_runs(args: &Args, paths: &[TimingPath]) -> anyhow::Result<Vec<TimingRow>> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()?;
    let url = format!("http://127.0.0.1:{}/graphql", args.port);
    let send = |token: &Option<String>, body: &serde_json::Value| {
        let mut req = http.post(&url).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let t = Instant::now();
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let text = resp.text().await?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            Ok::<_, anyhow::Error>((ms, status, text))
        }
    };
    let mut rows = Vec::new();
    for path in paths {
        let (mut hidden, mut clear) = (Vec::new(), Vec::new());
        let mut failed = None;
        let mut answers: Option<(serde_json::Value, serde_json::Value)> = None;
        for i in 0..args.timing_tries + 10 {
            // Alternate which of the two goes first, so neither always follows the other.
            let order = if i % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for is_hidden in order {
                let body = if is_hidden { &path.hidden } else { &path.clear };
                let (ms, status, text) = send(&path.token, body).await?;
                if status != 200 || text.contains("\"errors\"") {
                    failed.get_or_insert_with(|| {
                        format!("HTTP {status}: {}", &text[..text.len().min(200)])
                    });
                }
                // Compared as JSON values: the order of an object's keys is not the point.
                let value: serde_json::Value =
                    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
                let slot = answers.get_or_insert_with(Default::default);
                let seen = if is_hidden { &mut slot.0 } else { &mut slot.1 };
                if seen.is_null() {
                    *seen = value;
                } else if *seen != value {
                    failed.get_or_insert_with(|| "answers vary between tries".to_owned());
                }
                if i >= 10 {
                    if is_hidden {
                        hidden.push(ms)
                    } else {
                        clear.push(ms)
                    }
                }
            }
        }
        if let Some((h, c)) = &answers {
            if h != c && !path.name.starts_with("(class)") {
                failed.get_or_insert_with(|| format!("answers differ: {h} vs {c}"));
            }
        }
        let row = TimingRow {
            name: path.name.clone(),
            hidden_ms: median_of(hidden),
            clear_ms: median_of(clear),
            failed,
        };
        println!(
            "  {}: {:.3} / {:.3} ms = {:.2}{}",
            row.name,
            row.hidden_ms,
            row.clear_ms,
            row.hidden_ms / row.clear_ms,
            row.failed
                .as_deref()
                .map(|f| format!(" — FAILED ({f})"))
                .unwrap_or_default()
        );
        rows.push(row);
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------------------
// The soak (issue 4): ten minutes of mixed load, no error, RSS flat.
// ---------------------------------------------------------------------------------------

/// Seconds between two sign-ups in the soak: under the default per-address sign-up rate
/// limit (5 a minute), so that no answer is `RATE_LIMITED`.
const SOAK_SIGNUP_EVERY_SECS: u64 = 20;
/// Allowed change of the median RSS from the middle third of the run to the last third.
/// Medians, not means: each sign-up hashes a password with Argon2id (19 MiB), so a sample
/// taken just after one is up to ~20 MB higher than its neighbours; a leak moves the
/// median, a transient spike does not.
const SOAK_RSS_TOLERANCE: f64 = 0.10;

/// The kinds of request of the soak mix, as the Lua script counts them.
const SOAK_KINDS: [&str; 11] = [
    "feed",
    "visibleLikers",
    "user",
    "likedVideos",
    "likeCount",
    "like",
    "unlike",
    "follow",
    "unfollow",
    "signUp",
    "ownFeed",
];

/// One RSS sample: seconds since the load started, MB.
type Sample = (f64, f64);

/// What a soak run measured.
struct SoakReport {
    tag: String,
    secs: u64,
    connections: u64,
    wrk: WrkResult,
    socket_errors: u64,
    mix: Vec<(String, u64)>,
    first_bad: Option<String>,
    samples: Vec<Sample>,
    hot_like_count: i64,
    hot_rows: i64,
    load_before: String,
    load_after: String,
    accounts: usize,
}

fn median(xs: &[Sample]) -> f64 {
    let mut v: Vec<f64> = xs.iter().map(|s| s.1).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    percentile(&v, 0.5)
}

impl SoakReport {
    /// Median RSS of the middle and the last third of the samples, and the relative change.
    fn thirds(&self) -> (f64, f64, f64) {
        let n = self.samples.len();
        let middle = median(&self.samples[n / 3..2 * n / 3]);
        let last = median(&self.samples[2 * n / 3..]);
        (middle, last, last / middle - 1.0)
    }

    fn errors(&self) -> u64 {
        self.wrk.bad
    }

    /// Whether the run passes: answers, no error, counters agree, RSS not growing.
    fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.wrk.requests == 0 {
            out.push("no request was answered".to_owned());
        }
        if self.errors() > 0 {
            out.push(format!(
                "{} of {} answers were errors",
                self.errors(),
                self.wrk.requests
            ));
        }
        if self.samples.len() < 6 {
            out.push(format!(
                "only {} RSS samples: run longer",
                self.samples.len()
            ));
        } else {
            let (_, _, change) = self.thirds();
            if change > SOAK_RSS_TOLERANCE {
                out.push(format!(
                    "median RSS grew {:.1} % from the middle third to the last third (over {:.0} %)",
                    change * 100.0,
                    SOAK_RSS_TOLERANCE * 100.0
                ));
            }
        }
        if self.hot_like_count != self.hot_rows {
            out.push(format!(
                "hot video: likeCount {} but {} like rows",
                self.hot_like_count, self.hot_rows
            ));
        }
        out
    }

    fn markdown(&self, args: &Args) -> anyhow::Result<String> {
        let mut s = String::new();
        let cpus = std::thread::available_parallelism().map_or(0, usize::from);
        writeln!(
            s,
            "## {}: {} s of mixed load at a fixed {} req/s target ({} connections)\n",
            self.tag, self.secs, args.rate, self.connections
        )?;
        writeln!(
            s,
            "Machine: {cpus} vCPU; load average before `{}`, after `{}` (other processes, e.g. \
             builds, may have shared the CPUs). Dataset: seed {}, sizes {:?}, {} accounts; {} of \
             them write and read with their own tokens.\n",
            self.load_before,
            self.load_after,
            args.seed,
            args.sizes,
            self.accounts,
            args.soak_accounts
        )?;
        writeln!(
            s,
            "| requests | errors | socket errors | req/s | p50 ms | p99 ms |\n|---|---|---|---|---|---|"
        )?;
        writeln!(
            s,
            "| {} | {} | {} | {:.1} | {:.2} | {:.2} |\n",
            self.wrk.requests,
            self.errors(),
            self.socket_errors,
            self.wrk.rps,
            self.wrk.p50_ms,
            self.wrk.p99_ms
        )?;
        let mix: Vec<String> = self.mix.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(s, "Requests sent by kind: {}.\n", mix.join(", "))?;
        if let Some(bad) = &self.first_bad {
            writeln!(s, "First failing answer: `{bad}`\n")?;
        }
        writeln!(
            s,
            "Hot video after the run: likeCount {} vs {} like rows.\n",
            self.hot_like_count, self.hot_rows
        )?;
        if let (Some(first), Some(last)) = (self.samples.first(), self.samples.last()) {
            let mid = self.samples[self.samples.len() / 2];
            let (m, l, change) = self.thirds();
            let peak = self.samples.iter().map(|s| s.1).fold(0.0, f64::max);
            let verdict = if change.abs() <= SOAK_RSS_TOLERANCE {
                "flat"
            } else if change > 0.0 {
                "GROWING"
            } else {
                "shrinking"
            };
            writeln!(
                s,
                "Server RSS: start {:.1} MB (t = {:.0} s), middle {:.1} MB (t = {:.0} s), end {:.1} MB \
                 (t = {:.0} s), peak {peak:.1} MB; median of the middle third {m:.1} MB, of the last third \
                 {l:.1} MB: \
                 {:+.1} % → **{verdict}** (limit ±{:.0} %).\n",
                first.1,
                first.0,
                mid.1,
                mid.0,
                last.1,
                last.0,
                change * 100.0,
                SOAK_RSS_TOLERANCE * 100.0
            )?;
            let every = (self.samples.len() / 20).max(1);
            let shown: Vec<String> = self
                .samples
                .iter()
                .step_by(every)
                .map(|(t, mb)| format!("{t:.0} s: {mb:.1}"))
                .collect();
            writeln!(s, "RSS samples (MB): {}.\n", shown.join(", "))?;
        }
        let failures = self.failures();
        if failures.is_empty() {
            writeln!(s, "Verdict: **pass** (no error, RSS flat, counters agree).")?;
        } else {
            writeln!(s, "Verdict: **FAIL**: {}.", failures.join("; "))?;
        }
        Ok(s)
    }
}

/// `tally-bench --soak <secs>`: seeds the dataset (use small `--sizes`), starts the release
/// server, and drives `secs` seconds of mixed load at `--rate` with `wrk` (every answer
/// checked for `errors`) while sampling the server's RSS every `--soak-sample-secs`.
/// Writes `bench/out/soak-<backend>.md`; fails on any error, a counter that disagrees with
/// its rows, or the median RSS growing more than 10 % from the middle third of the run to
/// the last.
async fn soak(args: &Args, secs: u64) -> anyhow::Result<()> {
    let backend = match args.backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    };
    let tag = format!("soak-{backend}");
    let url = prepare_database(args, &tag).await?;
    let db = db::connect(&url, 4).await?;
    Migrator::up(&db, None).await?;
    let started = Instant::now();
    let data = seed(&db, args).await?;
    println!(
        "seeded {tag} in {:.1} s; soaking for {secs} s",
        started.elapsed().as_secs_f64()
    );
    let mut server = start_server(args, &url)?;
    let result = run_soak(args, &db, &data, &tag, secs, &mut server).await;
    server.kill().ok();
    server.wait().ok();
    let report = result?;
    let text = report.markdown(args)?;
    print!("\n{text}");
    let path = args.out.join(format!("{tag}.md"));
    std::fs::write(&path, &text)?;
    println!("written to {}", path.display());
    let failures = report.failures();
    if !failures.is_empty() {
        bail!("soak failed: {}", failures.join("; "));
    }
    Ok(())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn run_soak(
    args: &Args,
    db: &DatabaseConnection,
    data: &Dataset,
    tag: &str,
    secs: u64,
    server: &mut Child,
) -> anyhow::Result<SoakReport> {
    let token = token_issuer()?;
    let writers = data
        .storm_users
        .iter()
        .take(args.soak_accounts.max(1))
        .map(|u| token(*u))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let connections = 4u64;
    let threads = 2u64;
    let delay = (connections * 1000 / args.rate.max(1)).max(1);
    let path = soak_script(
        &args.out,
        &SoakScript {
            viewer: token(data.viewer)?,
            writers,
            sized: data
                .videos
                .iter()
                .map(|(_, v)| encode_id(Kind::Video, *v))
                .collect(),
            hot: encode_id(Kind::Video, data.hot_video),
            creator: encode_id(Kind::User, data.creator),
            accounts: data.accounts,
            threads,
            delay_ms: delay,
            nonce: format!("{:x}", chrono::Utc::now().timestamp() % 0xff_ffff),
        },
    )?;
    let load_before = load_average();
    let mut wrk = wrk_command(args.port, &path, connections, threads, secs)
        .stdout(Stdio::piped())
        .spawn()
        .context("running wrk (install it: apt-get install -y wrk)")?;
    let t0 = Instant::now();
    let every = Duration::from_secs(args.soak_sample_secs.max(1));
    let mut samples: Vec<Sample> = Vec::new();
    let mut next_note = 60.0;
    loop {
        tokio::time::sleep(every).await;
        if let Some(status) = server.try_wait()? {
            let _ = wrk.kill();
            bail!("{tag}: the server exited during the soak ({status})");
        }
        if wrk.try_wait()?.is_some() {
            break;
        }
        let t = t0.elapsed().as_secs_f64();
        samples.push((t, rss_mb(server.id())));
        if t >= next_note {
            println!("  {t:.0} s: RSS {:.1} MB", rss_mb(server.id()));
            next_note += 60.0;
        }
    }
    let out = wrk.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let result = parse_wrk(&text)?;
    let socket_errors = text
        .lines()
        .find(|l| l.starts_with("RESULT"))
        .and_then(|l| l.split_whitespace().nth(6)?.parse().ok())
        .unwrap_or(0);
    let mix = text
        .lines()
        .find_map(|l| l.strip_prefix("MIX "))
        .map(|l| {
            SOAK_KINDS
                .iter()
                .zip(l.split_whitespace())
                .map(|(k, n)| ((*k).to_owned(), n.parse().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    let first_bad = text
        .lines()
        .find_map(|l| l.strip_prefix("FIRST_BAD "))
        .map(str::to_owned);
    let load_after = load_average();
    // The hot video's counter, as the API answers it, against its rows.
    let body = serde_json::json!({
        "query": "query($v: ID!) { video(id: $v) { likeCount } }",
        "variables": { "v": encode_id(Kind::Video, data.hot_video) },
    });
    let answer = http_post(args.port, &body.to_string())?;
    let hot_like_count = answer["data"]["video"]["likeCount"]
        .as_i64()
        .with_context(|| format!("hot video likeCount: {answer}"))?;
    let mut q = Sql::default();
    let v = q.bind(data.hot_video);
    q.push(&format!(
        "SELECT COUNT(*) AS n FROM likes WHERE video_id = {v}"
    ));
    let row = q
        .one(db)
        .await
        .map_err(|e| anyhow::anyhow!(e.message()))?
        .context("count")?;
    let hot_rows: i64 = row.try_get("", "n")?;
    Ok(SoakReport {
        tag: tag.to_owned(),
        secs,
        connections,
        wrk: result,
        socket_errors,
        mix,
        first_bad,
        samples,
        hot_like_count,
        hot_rows,
        load_before,
        load_after,
        accounts: data.accounts,
    })
}

/// POSTs a JSON body to `/graphql` and returns the JSON answer.
fn http_post(port: u16, body: &str) -> anyhow::Result<serde_json::Value> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let (head, json) = out.split_once("\r\n\r\n").context("HTTP answer")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("POST /graphql: {head}");
    }
    Ok(serde_json::from_str(json)?)
}

/// What the soak's Lua script is built from.
struct SoakScript {
    viewer: String,
    writers: Vec<String>,
    sized: Vec<String>,
    hot: String,
    creator: String,
    accounts: usize,
    threads: u64,
    delay_ms: u64,
    nonce: String,
}

/// The body of a GraphQL request whose variable `name` is spliced in by Lua: the text
/// before and after the value.
fn body_around(query: &str, name: &str) -> (String, String) {
    let body = serde_json::json!({ "query": query, "variables": { name: "@@" } }).to_string();
    let (a, b) = body.split_once("@@").unwrap_or((&body, ""));
    (a.to_owned(), b.to_owned())
}

/// The mixed-load script: per 20 requests of a connection's thread, 4 `feed` and 4
/// `visibleLikers` (the measured viewer), 3 `user` (viewer or anonymous), 2 `likedVideos`
/// of a user and 1 of the caller's own, 1 anonymous `likeCount`, 1 feed of a writer, and
/// one each of `likeVideo`, `unlikeVideo` (hot video), `followUser`, `unfollowUser` (the
/// public creator) as writer accounts taken in turn (each unlike and unfollow 50 turns
/// after its like/follow); plus one `signUp` every [`SOAK_SIGNUP_EVERY_SECS`] on the first
/// thread. Every answer is expected to be a 200 without `errors`.
fn soak_script(out: &Path, p: &SoakScript) -> anyhow::Result<PathBuf> {
    let mut s = String::new();
    writeln!(s, "local viewer = \"{}\"", p.viewer)?;
    s.push_str("local writers = {\n");
    for t in &p.writers {
        writeln!(s, "  \"{t}\",")?;
    }
    s.push_str("}\nlocal sized = {\n");
    for v in &p.sized {
        writeln!(s, "  \"{v}\",")?;
    }
    s.push_str("}\n");
    writeln!(s, "local accounts = {}", p.accounts)?;
    writeln!(s, "local nthreads = {}", p.threads)?;
    writeln!(s, "local nonce = \"{}\"", p.nonce)?;
    writeln!(s, "local signup_every = {SOAK_SIGNUP_EVERY_SECS}")?;
    let constant = |name: &str, query: &str, vars: serde_json::Value, s: &mut String| {
        let body = serde_json::json!({ "query": query, "variables": vars }).to_string();
        writeln!(s, "local {name} = {}", lua_string(&body))
    };
    constant(
        "q_feed",
        "{ feed(first: 20) { edges { node { author { handle } likeCount viewerHasLiked \
         visibleLikers(first: 3) { totalCount hiddenCount edges { node { handle } } } } } } }",
        serde_json::json!({}),
        &mut s,
    )?;
    constant(
        "q_own_liked",
        "{ viewer { likedVideos(first: 10) { edges { node { id likeCount } } } } }",
        serde_json::json!({}),
        &mut s,
    )?;
    constant(
        "q_like",
        "mutation($v: ID!) { likeVideo(videoId: $v) { likeCount viewerHasLiked } }",
        serde_json::json!({ "v": p.hot }),
        &mut s,
    )?;
    constant(
        "q_unlike",
        "mutation($v: ID!) { unlikeVideo(videoId: $v) { likeCount viewerHasLiked } }",
        serde_json::json!({ "v": p.hot }),
        &mut s,
    )?;
    constant(
        "q_follow",
        "mutation($u: ID!) { followUser(userId: $u) { state } }",
        serde_json::json!({ "u": p.creator }),
        &mut s,
    )?;
    constant(
        "q_unfollow",
        "mutation($u: ID!) { unfollowUser(userId: $u) }",
        serde_json::json!({ "u": p.creator }),
        &mut s,
    )?;
    constant(
        "q_count",
        "query($v: ID!) { video(id: $v) { likeCount } }",
        serde_json::json!({ "v": p.hot }),
        &mut s,
    )?;
    let spliced = |name: &str, query: &str, var: &str, s: &mut String| {
        let (a, b) = body_around(query, var);
        writeln!(
            s,
            "local {name}_a = {}\nlocal {name}_b = {}",
            lua_string(&a),
            lua_string(&b)
        )
    };
    spliced(
        "q_likers",
        "query($id: ID!) { video(id: $id) { likeCount visibleLikers(first: 20) { totalCount \
         hiddenCount edges { likedAt node { handle } } pageInfo { hasNextPage endCursor } } } }",
        "id",
        &mut s,
    )?;
    spliced(
        "q_user",
        "query($h: String!) { user(handle: $h) { handle followerCount followingCount \
         viewerFollowState videos(first: 5) { edges { node { id likeCount } } } } }",
        "h",
        &mut s,
    )?;
    spliced(
        "q_liked",
        "query($h: String!) { user(handle: $h) { likedVideos(first: 10) { edges { node { id \
         likeCount } } } } }",
        "h",
        &mut s,
    )?;
    spliced(
        "q_signup",
        "mutation($h: String!) { signUp(input: { handle: $h, password: \"soak-password-1\" }) \
         { user { id } } }",
        "h",
        &mut s,
    )?;
    writeln!(s, "function delay() return {} end", p.delay_ms)?;
    s.push_str(
        r#"
local kinds = { "feed", "visibleLikers", "user", "likedVideos", "likeCount", "like", "unlike",
  "follow", "unfollow", "signUp", "ownFeed" }
sent = {}
local next_signup = 0
local function post(token, body, kind)
  sent[kind] = (sent[kind] or 0) + 1
  local h = { ["Content-Type"] = "application/json" }
  if token ~= nil then h["Authorization"] = "Bearer " .. token end
  return wrk.format("POST", "/graphql", h, body)
end
-- The writer `lag` turns before turn `w` of this thread (threads take turns in between).
local function writer(w, lag)
  local i = ((w - lag) * nthreads + k) % #writers
  return writers[i + 1]
end
local turn_like, turn_follow = 0, 0
function request()
  n = n + 1
  if k == 0 and os.time() >= next_signup then
    next_signup = os.time() + signup_every
    local c = sent["signUp"] or 0
    return post(nil, q_signup_a .. "s" .. nonce .. "_" .. c .. q_signup_b, "signUp")
  end
  local slot = n % 20
  local r = (n * 7919 + k * 104729) % accounts
  if slot < 4 then return post(viewer, q_feed, "feed") end
  if slot < 8 then
    return post(viewer, q_likers_a .. sized[math.floor(n / 20) % #sized + 1] .. q_likers_b, "visibleLikers")
  end
  if slot < 11 then
    local who = nil
    if slot == 10 then who = viewer end
    return post(who, q_user_a .. "u" .. r .. q_user_b, "user")
  end
  if slot < 13 then return post(viewer, q_liked_a .. "u" .. r .. q_liked_b, "likedVideos") end
  if slot == 13 then return post(writer(turn_like, 7), q_own_liked, "likedVideos") end
  if slot == 14 then return post(nil, q_count, "likeCount") end
  if slot == 15 then
    turn_like = turn_like + 1
    return post(writer(turn_like, 0), q_like, "like")
  end
  if slot == 16 then return post(writer(turn_like, 50), q_unlike, "unlike") end
  if slot == 17 then
    turn_follow = turn_follow + 1
    return post(writer(turn_follow, 0), q_follow, "follow")
  end
  if slot == 18 then return post(writer(turn_follow, 50), q_unfollow, "unfollow") end
  return post(writer(turn_follow, 25), q_feed, "ownFeed")
end
"#,
    );
    s.push_str(LUA_CHECK);
    s.push_str(
        r#"
local check_done = done
function done(summary, latency, requests)
  check_done(summary, latency, requests)
  local totals = {}
  for _, t in ipairs(threads) do
    local counts = t:get("sent")
    for _, kind in ipairs(kinds) do
      totals[kind] = (totals[kind] or 0) + (counts[kind] or 0)
    end
  end
  local line = "MIX"
  for _, kind in ipairs(kinds) do line = line .. " " .. (totals[kind] or 0) end
  io.write(line .. "\n")
end
"#,
    );
    let path = out.join("soak.lua");
    std::fs::write(&path, s)?;
    Ok(path)
}
