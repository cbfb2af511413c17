//! `tally-bench --analytics` (issue 12): `creatorAnalytics(LAST_28_DAYS)` with every field
//! selected, for a creator with 1,000 videos, 1M likes, 100k followers and 5M views over
//! 365 days, beside the same creator at 50k views (PostgreSQL only).
//!
//! Seeding writes the rows and the rollups directly, as the service would have left them:
//! `--analytics-fans` accounts (100k) follow both creators; each fan likes 10 of each
//! creator's 1,000 videos; the views are `video_views` rows (folded) spread over the year by
//! fixed formulas of the view's number (video, hour, viewer, device), and their rollups and
//! viewer sketches are built from the same formulas. The two creators differ only in their
//! view count. Then the release server answers the query at the fixed moderate rate and at
//! saturation, heavy and light alternately, twice each; the table gives every run's p50 and
//! p99 and the ratio of the medians of the p99s.
use std::collections::HashMap;

use anyhow::{bail, Context};
use chrono::{Datelike, Utc};
use sea_orm::DatabaseConnection;
use tally::{
    db::Sql,
    domain::{
        analytics::age_bracket,
        rollups::{DAY_US, HOUR_US},
        sketch::{self, Sketch, SketchKey},
    },
    ids::IdKey,
};
use uuid::Uuid;

use crate::{
    cli::{Args, Backend},
    database::{self, insert_chunked},
    keys::{token_issuer, ID_KEY},
    scenarios::{measure, Row},
    server::Server,
};

const REGIONS: [&str; 12] = [
    "US", "DE", "FR", "BR", "IN", "JP", "GB", "ES", "MX", "NG", "KR", "IT",
];
const LANGUAGES: [&str; 9] = ["en", "de", "fr", "pt", "hi", "ja", "es", "ko", "it"];
const DEVICES: [&str; 4] = ["IOS", "ANDROID", "WEB", "OTHER"];
const VIDEOS: i64 = 1_000;
const DAYS: i64 = 365;

/// The query: every field of `CreatorAnalytics`.
pub const QUERY: &str = "query { creatorAnalytics(window: LAST_28_DAYS) { window from to \
    totals { views likes unlikes newFollowers lostFollowers followerCount watchTimeMs engagementRate } \
    daily { day views likes unlikes newFollowers lostFollowers watchTimeMs } \
    peakHours { dayOfWeek hour views likes followerViews } \
    topVideos(first: 10, by: VIEWS) { video { id caption } stats { views likes watchTimeMs averageWatchMs completionRate engagementRate ownPercentile niche nichePercentile } } \
    audience { viewers { ...B } likers { ...B } followers { ...B } } \
    hashtags(first: 10) { tag videos views likes engagementRate } \
    sounds(first: 10) { tag videos views likes engagementRate } } } \
    fragment B on Breakdown { available withheldReason population \
    ageBrackets { key count share } regions { key count share } languages { key count share } devices { key count share } }";

/// The parts of [`QUERY`], measured one at a time to show where the time goes.
const PARTS: [(&str, &str); 8] = [
    ("totals", "totals { views likes unlikes newFollowers lostFollowers followerCount watchTimeMs engagementRate }"),
    ("daily + peakHours", "daily { day views likes } peakHours { dayOfWeek hour views likes followerViews }"),
    ("topVideos + stats", "topVideos(first: 10, by: VIEWS) { video { id } stats { views likes watchTimeMs averageWatchMs completionRate engagementRate ownPercentile niche nichePercentile } }"),
    ("hashtags + sounds", "hashtags(first: 10) { tag views } sounds(first: 10) { tag views }"),
    ("audience.viewers", "audience { viewers { ...B } }"),
    ("audience.likers", "audience { likers { ...B } }"),
    ("audience.followers", "audience { followers { ...B } }"),
    ("window only", "from to"),
];

/// The breakdown fields of [`PARTS`].
const FRAGMENT: &str = "fragment B on Breakdown { available withheldReason population \
    ageBrackets { key count share } regions { key count share } languages { key count share } devices { key count share } }";

/// The ID of the `n`th row of a kind (`prefix` tells the kinds apart).
fn id(prefix: u32, n: i64) -> Uuid {
    Uuid::from_u128((u128::from(prefix) << 96) | (0x4000_8000u128 << 48) | n as u128)
}

/// The same ID as SQL text of a number column `n`.
fn id_sql(prefix: u32, n: &str) -> String {
    format!(
        "CAST('{:08x}-0000-4000-8000-' || lpad(to_hex({n}), 12, '0') AS uuid)",
        prefix
    )
}

/// The formulas of the `i`th view, one source for the SQL that writes the rows and the Rust
/// that builds their sketches: (video, hour number in the year, signed in, fan, device).
struct ViewFormula;

impl ViewFormula {
    const VIDEO: &'static str = "(i * 40503) % 1000";
    const HOUR: &'static str = "(i * 2654435761) % 8760";
    const SIGNED: &'static str = "(i % 10) <> 0";
    const DEVICE: &'static str = "(i * 13) % 4";

    fn fan_sql(fans: i64) -> String {
        format!("(i * 48271) % {fans}")
    }

    fn of(i: i64, fans: i64) -> (i64, i64, bool, i64, usize) {
        (
            (i * 40503) % 1000,
            (i * 2_654_435_761) % 8760,
            i % 10 != 0,
            (i * 48271) % fans,
            ((i * 13) % 4) as usize,
        )
    }
}

/// A fan's demographics, as its account row has them.
struct Fan {
    birth_year: i32,
    region: Option<&'static str>,
    language: &'static str,
}

fn fan(n: i64) -> Fan {
    Fan {
        birth_year: 1950 + ((n * 37) % 60) as i32,
        region: (n % 23 != 0).then(|| REGIONS[((n * 7) % 12) as usize]),
        language: LANGUAGES[((n * 11) % 9) as usize],
    }
}

pub async fn run(args: &Args) -> anyhow::Result<()> {
    if args.backend != Backend::Postgres {
        bail!("--analytics runs on PostgreSQL");
    }
    let today = Utc::now().timestamp_micros().div_euclid(DAY_US) * DAY_US;
    let heavy = args.analytics_views.max(100);
    let creators = [(0xc1u32, 0xa1u32, heavy), (0xc2, 0xa2, heavy / 100)];
    let (url, db) = if args.analytics_reuse {
        database::reopen(args, "analytics", 8).await?
    } else {
        let (url, db) = database::open(args, "analytics", 8).await?;
        let started = std::time::Instant::now();
        let start = today - DAYS * DAY_US;
        let fans = args.analytics_fans;
        seed_fans(&db, fans, start).await?;
        for (c, v, views) in creators {
            seed_creator(&db, c, v, fans, start).await?;
            seed_views(&db, c, v, views, fans, start).await?;
        }
        println!(
            "seeded analytics in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        (url, db)
    };
    // The likers rollup closes a creator's days at its first read: close them now, so that
    // no measured request pays for a whole year of likes.
    let yesterday = i32::try_from(today / DAY_US - 1)?;
    for (c, ..) in creators {
        tally::domain::liker_rollup::close(&db, id(c, 0), yesterday)
            .await
            .map_err(|e| anyhow::anyhow!("closing the likers rollup: {}", e.message()))?;
    }
    database::analyze(&db).await?;

    let server = Server::start(args, &url).await?;
    let token = token_issuer(&db)?;
    let body = serde_json::json!({ "query": QUERY });
    let mut runs: Vec<(&str, Row)> = Vec::new();
    for round in 0..2 {
        for (name, (c, _, views)) in [("heavy", creators[0]), ("light", creators[1])] {
            let label = format!("creatorAnalytics {name} ({views} views) #{round}");
            runs.push((
                name,
                measure(args, &label, &token.token(id(c, 0)).await?, body.clone())?,
            ));
        }
    }
    // Where the time goes: each part of the answer alone, on the heavy creator.
    for (part, selection) in PARTS {
        // A fragment that is not used is a validation error.
        let fragment = if selection.contains("...B") {
            FRAGMENT
        } else {
            ""
        };
        let body = serde_json::json!({
            "query": format!("query {{ creatorAnalytics(window: LAST_28_DAYS) {{ {selection} }} }} {fragment}")
        });
        let label = format!("heavy, {part} only");
        let bearer = token.token(id(0xc1, 0)).await?;
        runs.push(("part", measure(args, &label, &bearer, body)?));
    }
    drop(server);
    let median_p99 = |name: &str| {
        let mut p: Vec<f64> = runs
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, r)| r.p99_ms)
            .collect();
        p.sort_by(f64::total_cmp);
        (p[0] + p[p.len() - 1]) / 2.0
    };
    let (heavy, light) = (median_p99("heavy"), median_p99("light"));
    let mut table = String::from(
        "| run | p50 ms | p99 ms | req/s (fixed) | saturated req/s | failed |\n|---|---|---|---|---|---|\n",
    );
    for (_, r) in &runs {
        table.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.0} | {:.0} | {} |\n",
            r.name,
            r.p50_ms,
            r.p99_ms,
            r.rps,
            r.sat_rps,
            r.failed.as_deref().unwrap_or("")
        ));
    }
    table.push_str(&format!(
        "\np99, median of runs: heavy {heavy:.2} ms, light {light:.2} ms, heavy ÷ light {:.2}\n",
        heavy / light
    ));
    println!("{table}");
    std::fs::write(args.out.join("analytics-postgres.md"), &table)?;
    if runs.iter().any(|(_, r)| r.failed.is_some()) {
        bail!("a scenario failed");
    }
    Ok(())
}

/// The fans: accounts with varied demographics (a few without a region).
async fn seed_fans(db: &DatabaseConnection, fans: i64, start: i64) -> anyhow::Result<()> {
    let rows: Vec<i64> = (0..fans).collect();
    insert_chunked(
        db,
        "users",
        "id, handle, display_name, password_hash, account_type, visibility, likes_visibility, \
         birth_year, region, language, created_at",
        &rows,
        1_000,
        |q, &n| {
            let f = fan(n);
            format!(
                "({}, {}, 'fan', '!', 'PERSONAL', 'PUBLIC', 'EVERYONE', {}, {}, {}, {})",
                q.bind(id(0xf, n)),
                q.bind(format!("fan{n}")),
                q.bind(f.birth_year),
                q.bind(f.region.map(str::to_owned)),
                q.bind(f.language),
                q.bind(start)
            )
        },
    )
    .await
}

async fn exec(db: &DatabaseConnection, sql: &str) -> anyhow::Result<()> {
    let mut q = Sql::default();
    q.push_unchecked(sql);
    q.execute(db)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", &sql[..sql.len().min(80)]))?;
    Ok(())
}

/// A creator (`c`), its videos (`v`), every fan following it, each fan's 10 likes, and
/// their rollups.
async fn seed_creator(
    db: &DatabaseConnection,
    c: u32,
    v: u32,
    fans: i64,
    start: i64,
) -> anyhow::Result<()> {
    let creator = id(c, 0);
    let mut q = Sql::default();
    let (cid, h, t) = (
        q.bind(creator),
        q.bind(format!("creator{c:x}")),
        q.bind(start),
    );
    q.push_unchecked(&format!(
        "INSERT INTO users (id, handle, display_name, password_hash, account_type, visibility, \
         likes_visibility, created_at) VALUES ({cid}, {h}, 'Creator', '!', 'CREATOR', 'PUBLIC', \
         'EVERYONE', {t})"
    ));
    q.execute(db)
        .await
        .map_err(|e| anyhow::anyhow!(e.message()))?;
    let cu = format!("CAST('{creator}' AS uuid)");
    let vid = id_sql(v, "j");
    let fan_id = id_sql(0xf, "i");
    let step = DAYS * DAY_US / VIDEOS;
    exec(
        db,
        &format!(
            "INSERT INTO videos (id, author_id, caption, hashtags, sound, created_at, duration_ms) \
             SELECT {vid}, {cu}, 'video ' || j, \
             '[\"tag' || (j % 50) || '\", \"tag' || ((j * 7 + 3) % 50) || '\"]', \
             'sound' || (j % 30), {start} + j * {step}, 15000 + ((j * 13) % 45) * 1000 \
             FROM generate_series(0, {}) j",
            VIDEOS - 1
        ),
    )
    .await?;
    exec(
        db,
        &format!(
            "INSERT INTO follows (follower_id, followee_id, state, created_at) \
             SELECT {fan_id}, {cu}, 'APPROVED', {start} + ((i * 7919) % {DAYS}) * {DAY_US} + (i % 24) * {HOUR_US} \
             FROM generate_series(CAST(0 AS BIGINT), {}) i",
            fans - 1
        ),
    )
    .await?;
    let video_of = id_sql(v, "((i * 7 + k * 101) % 1000)");
    exec(
        db,
        &format!(
            "INSERT INTO likes (video_id, user_id, audience, created_at) \
             SELECT {video_of}, {fan_id}, 'EVERYONE', \
             GREATEST({start} + ((i * 7 + k * 101) % 1000) * {step} + {HOUR_US}, \
                      {start} + ((i * 131 + k * 977) % 8760) * {HOUR_US} + (i % 3600) * 1000000) \
             FROM generate_series(CAST(0 AS BIGINT), {}) i, generate_series(0, 9) k",
            fans - 1
        ),
    )
    .await?;
    let hour = |t: &str| format!("({t} - {t} % {HOUR_US})");
    let (lh, fh) = (hour("l.created_at"), hour("created_at"));
    for sql in [
        format!(
            "INSERT INTO video_like_counters (video_id, shard, like_count, everyone_likes, followers_likes) \
             SELECT l.video_id, 0, COUNT(*), COUNT(*), 0 FROM likes l JOIN videos v ON v.id = l.video_id \
             WHERE v.author_id = {cu} GROUP BY l.video_id"
        ),
        format!(
            "INSERT INTO creator_hours (creator_id, hour, shard, likes) \
             SELECT {cu}, {lh}, 0, COUNT(*) FROM likes l JOIN videos v ON v.id = l.video_id \
             WHERE v.author_id = {cu} GROUP BY {lh}"
        ),
        format!(
            "INSERT INTO creator_hours (creator_id, hour, shard, new_followers) \
             SELECT {cu}, {fh}, 1, COUNT(*) FROM follows WHERE followee_id = {cu} GROUP BY {fh}"
        ),
        format!(
            "INSERT INTO video_days (video_id, day, shard, likes) \
             SELECT l.video_id, CAST(l.created_at / {DAY_US} AS INTEGER), 0, COUNT(*) \
             FROM likes l JOIN videos v ON v.id = l.video_id WHERE v.author_id = {cu} \
             GROUP BY l.video_id, CAST(l.created_at / {DAY_US} AS INTEGER)"
        ),
        format!(
            "INSERT INTO follower_demographics (creator_id, dimension, key, followers) \
             SELECT {cu}, 'birth_year', CAST(u.birth_year AS TEXT), COUNT(*) FROM follows f \
             JOIN users u ON u.id = f.follower_id WHERE f.followee_id = {cu} GROUP BY u.birth_year"
        ),
        format!(
            "INSERT INTO follower_demographics (creator_id, dimension, key, followers) \
             SELECT {cu}, 'region', COALESCE(u.region, 'UNKNOWN'), COUNT(*) FROM follows f \
             JOIN users u ON u.id = f.follower_id WHERE f.followee_id = {cu} GROUP BY COALESCE(u.region, 'UNKNOWN')"
        ),
        format!(
            "INSERT INTO follower_demographics (creator_id, dimension, key, followers) \
             SELECT {cu}, 'language', u.language, COUNT(*) FROM follows f \
             JOIN users u ON u.id = f.follower_id WHERE f.followee_id = {cu} GROUP BY u.language"
        ),
    ] {
        exec(db, &sql).await?;
    }
    Ok(())
}

/// `n` views of creator `c`'s videos (`v`), folded, with their counters, rollups and
/// viewer sketches.
async fn seed_views(
    db: &DatabaseConnection,
    c: u32,
    v: u32,
    n: i64,
    fans: i64,
    start: i64,
) -> anyhow::Result<()> {
    let cu = format!("CAST('{}' AS uuid)", id(c, 0));
    let year = Utc::now().year();
    // Each fan's demographics as a view stores them, in a table the views join (the
    // benchmark's own, in the benchmark's database).
    exec(
        db,
        "CREATE TABLE IF NOT EXISTS bench_fans (n BIGINT PRIMARY KEY, bracket TEXT, \
         region TEXT, language TEXT)",
    )
    .await?;
    exec(db, "DELETE FROM bench_fans").await?;
    let rows: Vec<i64> = (0..fans).collect();
    insert_chunked(
        db,
        "bench_fans",
        "n, bracket, region, language",
        &rows,
        2_000,
        |q, &k| {
            let f = fan(k);
            format!(
                "({}, {}, {}, {})",
                q.bind(k),
                q.bind(bracket_key(f.birth_year, year)),
                q.bind(f.region.unwrap_or("UNKNOWN")),
                q.bind(f.language)
            )
        },
    )
    .await?;
    let (video, hour, signed, device) = (
        id_sql(v, ViewFormula::VIDEO),
        ViewFormula::HOUR,
        ViewFormula::SIGNED,
        ViewFormula::DEVICE,
    );
    let fan_n = ViewFormula::fan_sql(fans);
    let mut q = Sql::default();
    q.push_unchecked(&format!(
        "INSERT INTO video_views (id, video_id, creator_id, hour, watch_ms, signed_in, follows_creator, \
         age_bracket, region, language, device, folded) \
         SELECT gen_random_uuid(), {video}, {cu}, {start} + ({hour}) * {HOUR_US}, 1000 + (i * 7) % 59000, \
         {signed}, {signed}, \
         CASE WHEN {signed} THEN f.bracket END, CASE WHEN {signed} THEN f.region END, \
         CASE WHEN {signed} THEN f.language END, \
         CASE WHEN {signed} THEN (ARRAY['IOS','ANDROID','WEB','OTHER'])[1 + {device}] END, 1 \
         FROM generate_series(CAST(0 AS BIGINT), {}) i JOIN bench_fans f ON f.n = {fan_n}",
        n - 1
    ));
    q.execute(db)
        .await
        .map_err(|e| anyhow::anyhow!("views: {}", e.message()))?;
    let day = format!("CAST(e.hour / {DAY_US} AS INTEGER)");
    for sql in [
        format!(
            "INSERT INTO video_view_counters (video_id, shard, views, watch_ms) \
             SELECT e.video_id, 0, COUNT(*), SUM(e.watch_ms) FROM video_views e \
             WHERE e.creator_id = {cu} GROUP BY e.video_id"
        ),
        format!(
            "INSERT INTO creator_hours (creator_id, hour, shard, views, watch_ms, follower_views) \
             SELECT {cu}, e.hour, 16, COUNT(*), SUM(e.watch_ms), \
             SUM(CASE WHEN e.follows_creator THEN 1 ELSE 0 END) FROM video_views e \
             WHERE e.creator_id = {cu} GROUP BY e.hour"
        ),
        format!(
            "INSERT INTO video_days (video_id, day, shard, views, watch_ms) \
             SELECT e.video_id, {day}, 16, COUNT(*), SUM(e.watch_ms) FROM video_views e \
             WHERE e.creator_id = {cu} GROUP BY e.video_id, {day}"
        ),
    ] {
        exec(db, &sql).await?;
    }
    // The sketches, from the same formulas.
    let key = SketchKey::from_id_key(&IdKey::from_hex(ID_KEY)?);
    let year_now = year;
    let hashes: Vec<u64> = (0..fans).map(|k| key.hash(id(0xf, k))).collect();
    let mut sketches: HashMap<Bucket, Sketch> = HashMap::new();
    for i in 0..n {
        let (_, hour_n, signed, fan_n, device) = ViewFormula::of(i, fans);
        if !signed {
            continue;
        }
        let day = (start + hour_n * HOUR_US).div_euclid(DAY_US);
        let f = fan(fan_n);
        let keys = [
            (sketch::AGE, bracket_key(f.birth_year, year_now)),
            (sketch::REGION, f.region.unwrap_or("UNKNOWN").to_owned()),
            (sketch::LANGUAGE, f.language.to_owned()),
            (sketch::DEVICE, DEVICES[device].to_owned()),
        ];
        for (dim, k) in keys {
            sketches
                .entry((day, dim, k))
                .or_default()
                .insert_hash(hashes[fan_n as usize]);
        }
    }
    let rows: Vec<(Bucket, Vec<u8>)> = sketches
        .into_iter()
        .map(|(k, s)| sketch::encode(&s).map(|b| (k, b)))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!(e.message()))?;
    let creator = id(c, 0);
    insert_chunked(
        db,
        "viewer_sketches",
        "creator_id, day, dimension, key, sketch",
        &rows,
        500,
        |q, ((day, dim, k), bytes)| {
            format!(
                "({}, {}, {}, {}, {})",
                q.bind(creator),
                q.bind(i32::try_from(*day).unwrap_or(i32::MAX)),
                q.bind(*dim),
                q.bind(k.clone()),
                q.bind(bytes.clone())
            )
        },
    )
    .await
    .context("sketches")
}

/// A viewer sketch's key: day, dimension, bucket.
type Bucket = (i64, &'static str, String);

/// The API key of the age bracket of an account born in `birth_year`, in `year`.
fn bracket_key(birth_year: i32, year: i32) -> String {
    sea_orm::ActiveEnum::to_value(&age_bracket(Some(birth_year), year))
}
