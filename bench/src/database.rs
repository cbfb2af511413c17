//! The run's database: created afresh and migrated, and the bulk inserts of the seeding.
use anyhow::Context;
use entity::Audience;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveEnum, ConnectionTrait, DatabaseConnection, DbBackend};
use tally::db::{self, Sql};
use uuid::Uuid;

use crate::cli::{Args, Backend};

/// Creates the database of the run `tag` afresh (PostgreSQL: `tally_bench_<tag>` on
/// `--pg-url`; SQLite: `--out/tally-bench-<tag>.db`), migrates it and connects with `pool`
/// connections. Returns its URL (for the server) and the connection.
pub async fn open(
    args: &Args,
    tag: &str,
    pool: u32,
) -> anyhow::Result<(String, DatabaseConnection)> {
    let url = prepare(args, tag).await?;
    let db = db::connect(&url, pool).await?;
    Migrator::up(&db, None).await?;
    Ok((url, db))
}

/// The database a previous run of `tag` prepared, as it is (PostgreSQL), migrated.
pub async fn reopen(
    args: &Args,
    tag: &str,
    pool: u32,
) -> anyhow::Result<(String, DatabaseConnection)> {
    let (root, _) = args
        .pg_url
        .rsplit_once('/')
        .context("PostgreSQL URL needs a path")?;
    let url = format!("{root}/tally_bench_{}", tag.replace('-', "_"));
    let db = db::connect(&url, pool).await?;
    Migrator::up(&db, None).await?;
    Ok((url, db))
}

async fn prepare(args: &Args, tag: &str) -> anyhow::Result<String> {
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

/// As autovacuum would after a bulk load: statistics, and (PostgreSQL) visibility maps for
/// index-only scans.
pub async fn analyze(db: &DatabaseConnection) -> anyhow::Result<()> {
    let maintenance = match db.get_database_backend() {
        DbBackend::Postgres => "VACUUM ANALYZE",
        _ => "ANALYZE",
    };
    db.execute_unprepared(maintenance).await?;
    Ok(())
}

/// Inserts `rows` (each a list of SQL literals already bound into the builder) in chunks.
pub async fn insert_chunked<R>(
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
        q.push_unchecked(&format!(
            "INSERT INTO {table} ({cols}) VALUES {}",
            values.join(", ")
        ));
        q.execute(db)
            .await
            .map_err(|e| anyhow::anyhow!("insert into {table}: {}", e.message()))?;
    }
    Ok(())
}

/// Inserts a like row `(video, user, audience, created_at)` for each of `rows`, in chunks.
pub async fn insert_likes<R>(
    db: &impl ConnectionTrait,
    rows: &[R],
    per_chunk: usize,
    like: impl Fn(&R) -> (Uuid, Uuid, Audience, i64),
) -> anyhow::Result<()> {
    insert_chunked(
        db,
        "likes",
        "video_id, user_id, audience, created_at",
        rows,
        per_chunk,
        |q, r| {
            let (video, user, audience, created) = like(r);
            format!(
                "({}, {}, {}, {})",
                q.bind(video),
                q.bind(user),
                q.bind(audience.to_value()),
                q.bind(created)
            )
        },
    )
    .await
}

/// Inserts a video and its one counter row (shard 0) with the given counts.
#[allow(clippy::too_many_arguments)]
pub async fn insert_video(
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
    q.push_unchecked(&format!(
        "INSERT INTO videos (id, author_id, caption, hashtags, created_at) VALUES ({})",
        tally::db::Frag::join(parts, ", ")
    ));
    let mut c = Sql::default();
    let counts = [
        c.bind(id),
        c.bind(likes),
        c.bind(everyone),
        c.bind(followers),
    ];
    c.push_unchecked(&format!(
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
