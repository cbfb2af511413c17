//! A video's like counters. They live in `video_like_counters`, spread over [`SHARDS`] rows
//! per video chosen by the liker, so that concurrent likes of one hot video update different
//! rows instead of queueing on one row lock through every commit's WAL flush. A video's
//! counts are the sums over its rows (at most [`SHARDS`] primary-key reads); every change is
//! an upsert of a delta in the same transaction as the like rows it counts, so counts stay
//! exact and no row has to exist beforehand.
use entity::{video, Audience};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, QueryResult};
use uuid::Uuid;

use crate::{
    db::{col, Sql},
    error::AppResult,
};

/// Counter rows per video.
const SHARDS: u128 = 16;

/// The counters: every like, likes with audience `EVERYONE`, likes with audience `FOLLOWERS`.
const COLUMNS: [&str; 3] = ["like_count", "everyone_likes", "followers_likes"];

/// A video with its like counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountedVideo {
    pub video: video::Model,
    /// Every like, whoever may see it.
    pub like_count: i64,
}

impl FromQueryResult for CountedVideo {
    fn from_query_result(row: &QueryResult, pre: &str) -> Result<Self, sea_orm::DbErr> {
        Ok(CountedVideo {
            video: video::Model::from_query_result(row, pre)?,
            like_count: row.try_get(pre, "like_count")?,
        })
    }
}

/// The sum of counter `col` over the rows of the video whose ID is the SQL expression `video`.
pub fn sum(col: &str, video: &str) -> String {
    format!(
        "(SELECT CAST(COALESCE(SUM(c.{col}), 0) AS BIGINT) FROM video_like_counters c \
         WHERE c.video_id = {video})"
    )
}

/// The `SELECT`-list item that, beside `v.*`, reads the video aliased `v` as a [`CountedVideo`].
pub fn select_list(v: &str) -> String {
    format!("{} AS like_count", sum("like_count", &format!("{v}.id")))
}

fn shard(liker: Uuid) -> i16 {
    // UUIDv7 ends in random bits; the cast cannot truncate (< SHARDS).
    (liker.as_u128() % SHARDS) as i16
}

/// `INSERT … ON CONFLICT` adding the rows of `deltas` (a `SELECT` or `VALUES` of
/// `video_id, shard, like_count, everyone_likes, followers_likes`) to the counters.
fn upsert(deltas: &str) -> String {
    let cols = COLUMNS.join(", ");
    let add: Vec<String> = COLUMNS
        .iter()
        .map(|c| format!("{c} = video_like_counters.{c} + excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO video_like_counters (video_id, shard, {cols}) {deltas} \
         ON CONFLICT (video_id, shard) DO UPDATE SET {}",
        add.join(", ")
    )
}

/// Adds `delta` likes of audience `aud` by `liker` to the counters of `video`.
pub async fn add(
    txn: &impl ConnectionTrait,
    video: Uuid,
    liker: Uuid,
    aud: Audience,
    delta: i64,
) -> AppResult<()> {
    let mut q = Sql::default();
    let (v, s, d) = (q.bind(video), q.bind(shard(liker)), q.bind(delta));
    let e = q.bind(if aud == Audience::Everyone { delta } else { 0 });
    let f = q.bind(if aud == Audience::Followers { delta } else { 0 });
    q.push(&upsert(&format!("VALUES ({v}, {s}, {d}, {e}, {f})")));
    q.execute(txn).await?;
    Ok(())
}

/// `INSERT … ON CONFLICT` adding `sign` (1 or -1) to the counters of `video` (an SQL
/// expression) in `liker`'s row for each row of `source`, a relation with an `audience`
/// column: on PostgreSQL, the `RETURNING audience` of the like's own insert or delete, so that
/// the like and its count are one statement.
pub fn add_each_row(q: &mut Sql, video: &str, liker: Uuid, source: &str, sign: i64) -> String {
    let s = q.bind(shard(liker));
    let per = |aud: &str| format!("CASE WHEN audience = '{aud}' THEN {sign} ELSE 0 END");
    upsert(&format!(
        "SELECT {video}, {s}, {sign}, {}, {} FROM {source}",
        per("EVERYONE"),
        per("FOLLOWERS")
    ))
}

/// How [`add_each_like`] changes the counters for each like it selects.
pub enum Change {
    /// The likes are about to be deleted.
    Remove,
    /// The likes are about to be re-labelled with this audience.
    Relabel(Audience),
}

/// Applies `change` to the counters for each of `liker`'s likes (only those on `author`'s
/// videos, when given), before the caller deletes or re-labels those likes in the same
/// transaction. On PostgreSQL the likes stay locked until commit, so a concurrent unlike of
/// one of them waits and then finds nothing to count.
pub async fn add_each_like(
    txn: &impl ConnectionTrait,
    liker: Uuid,
    author: Option<Uuid>,
    change: Change,
) -> AppResult<()> {
    let is = |aud: &str| format!("CASE WHEN l.audience = '{aud}' THEN 1 ELSE 0 END");
    let (all, everyone, followers) = match change {
        Change::Remove => (
            "-1".to_owned(),
            format!("-{}", is("EVERYONE")),
            format!("-{}", is("FOLLOWERS")),
        ),
        Change::Relabel(new) => (
            "0".to_owned(),
            format!(
                "{} - {}",
                i64::from(new == Audience::Everyone),
                is("EVERYONE")
            ),
            format!(
                "{} - {}",
                i64::from(new == Audience::Followers),
                is("FOLLOWERS")
            ),
        ),
    };
    let mut q = Sql::default();
    let (s, u) = (q.bind(shard(liker)), q.bind(liker));
    let mut select = format!(
        "SELECT l.video_id, {s}, {all}, {everyone}, {followers} FROM likes l WHERE l.user_id = {u}"
    );
    if let Some(author) = author {
        let a = q.bind(author);
        select.push_str(&format!(
            " AND l.video_id IN (SELECT id FROM videos WHERE author_id = {a})"
        ));
    }
    if txn.get_database_backend() == DbBackend::Postgres {
        select.push_str(" FOR UPDATE OF l");
    }
    q.push(&upsert(&select));
    q.execute(txn).await?;
    Ok(())
}

/// A video whose counters disagree with its like rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub video: Uuid,
    /// Counter values: all, `EVERYONE`, `FOLLOWERS`.
    pub counted: [i64; 3],
    /// The same, counted over the like rows.
    pub rows: [i64; 3],
}

/// Every video whose counters differ from a count of its like rows: a full scan, for
/// tests, benchmarks and operators' checks, never for serving requests.
pub async fn drift(db: &impl ConnectionTrait) -> AppResult<Vec<Drift>> {
    let sums: Vec<String> = COLUMNS
        .iter()
        .map(|c| format!("{} AS {c}", sum(c, "v.id")))
        .collect();
    let rows = |filter: &str, name: &str| {
        format!("(SELECT COUNT(*) FROM likes l WHERE l.video_id = v.id{filter}) AS {name}")
    };
    let mut q = Sql::default();
    q.push(&format!(
        "SELECT v.id, {}, {}, {}, {} FROM videos v",
        sums.join(", "),
        rows("", "rows_all"),
        rows(" AND l.audience = 'EVERYONE'", "rows_everyone"),
        rows(" AND l.audience = 'FOLLOWERS'", "rows_followers"),
    ));
    let mut out = Vec::new();
    for row in q.all(db).await? {
        let get = |c: &str| col::<i64>(&row, c);
        let d = Drift {
            video: col(&row, "id")?,
            counted: [get(COLUMNS[0])?, get(COLUMNS[1])?, get(COLUMNS[2])?],
            rows: [
                get("rows_all")?,
                get("rows_everyone")?,
                get("rows_followers")?,
            ],
        };
        if d.counted != d.rows {
            out.push(d);
        }
    }
    Ok(out)
}
