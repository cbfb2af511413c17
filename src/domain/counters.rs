//! A video's like counters. They live in `video_like_counters`, spread over [`SHARDS`] rows
//! per video chosen by the liker, so that concurrent likes of one hot video update different
//! rows instead of queueing on one row lock through every commit's WAL flush. A video's
//! counts are the sums over its rows (at most [`SHARDS`] primary-key reads); every change is
//! an upsert of a delta in the same transaction as the like rows it counts, so counts stay
//! exact and no row has to exist beforehand.
use entity::{like, video, video_like_counter as counter, Audience};
use sea_orm::{
    sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, SimpleExpr},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryResult,
};
use uuid::Uuid;

use crate::{
    db::{col, lit, Frag, Ident, Param, Part, Sql},
    error::AppResult,
    frag,
};

/// The likes' filter "on a video of `author`".
pub fn on_videos_of(author: Uuid) -> SimpleExpr {
    like::Column::VideoId.in_subquery(
        Query::select()
            .column(video::Column::Id)
            .from(video::Entity)
            .and_where(video::Column::AuthorId.eq(author))
            .to_owned(),
    )
}

/// Counter rows per video.
const SHARDS: u128 = 16;

/// The counters: every like, likes with audience `EVERYONE`, likes with audience `FOLLOWERS`.
const COLUMNS: [counter::Column; 3] = [
    counter::Column::LikeCount,
    counter::Column::EveryoneLikes,
    counter::Column::FollowersLikes,
];

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

/// The sum of counter `col` over the rows of the video whose ID is the SQL expression `video`
/// (a placeholder or a column).
pub fn sum(col: counter::Column, video: impl Part) -> Frag {
    frag![
        "(SELECT CAST(COALESCE(SUM(",
        Ident::at("c", col),
        "), 0) AS BIGINT) FROM video_like_counters c \
         WHERE c.video_id = ",
        video,
        ")"
    ]
}

/// The `SELECT`-list item that, beside `v.*`, reads the video aliased `v` as a [`CountedVideo`].
pub fn select_list(v: &'static str) -> Frag {
    frag![
        sum(counter::Column::LikeCount, Ident::at(v, video::Column::Id)),
        " AS like_count"
    ]
}

fn shard(liker: Uuid) -> i16 {
    // UUIDv7 ends in random bits; the cast cannot truncate (< SHARDS).
    (liker.as_u128() % SHARDS) as i16
}

/// `ON CONFLICT (video_id, shard) DO UPDATE SET c = video_like_counters.c + excluded.c` for
/// every counter `c`: the new row's values are deltas added to the row there is.
fn adding_deltas() -> OnConflict {
    let mut on = OnConflict::columns([counter::Column::VideoId, counter::Column::Shard]);
    for c in COLUMNS {
        on.value(
            c,
            Expr::col((counter::Entity, c)).add(Expr::col((Alias::new("excluded"), c))),
        );
    }
    on
}

/// [`adding_deltas`] written out, for the one-statement like (its text is measured):
/// `INSERT … ON CONFLICT` adding the rows of `deltas` (a `SELECT` of `video_id, shard,
/// like_count, everyone_likes, followers_likes`) to the counters.
fn upsert(deltas: Frag) -> Frag {
    let add = COLUMNS.map(|c| {
        frag![
            Ident::of(c),
            " = video_like_counters.",
            Ident::of(c),
            " + excluded.",
            Ident::of(c)
        ]
    });
    frag![
        "INSERT INTO video_like_counters (video_id, shard, ",
        Frag::join(COLUMNS.map(Ident::of), ", "),
        ") ",
        deltas,
        " ON CONFLICT (video_id, shard) DO UPDATE SET ",
        Frag::join(add, ", ")
    ]
}

/// Adds `delta` likes of audience `aud` by `liker` to the counters of `video`.
pub async fn add(
    txn: &impl ConnectionTrait,
    video: Uuid,
    liker: Uuid,
    aud: Audience,
    delta: i64,
) -> AppResult<()> {
    let row = counter::ActiveModel {
        video_id: Set(video),
        shard: Set(shard(liker)),
        like_count: Set(delta),
        everyone_likes: Set(if aud == Audience::Everyone { delta } else { 0 }),
        followers_likes: Set(if aud == Audience::Followers { delta } else { 0 }),
    };
    counter::Entity::insert(row)
        .on_conflict(adding_deltas())
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// `INSERT … ON CONFLICT` adding `sign` (1 or -1) to the counters of `video` in `liker`'s
/// row for each row of `source`, a relation with an `audience` column: on PostgreSQL, the
/// `RETURNING audience` of the like's own insert or delete, so that the like and its count
/// are one statement.
pub fn add_each_row(q: &mut Sql, video: Param, liker: Uuid, source: &Ident, sign: i64) -> Frag {
    let s = q.bind(shard(liker));
    let per = |aud: Audience| {
        frag![
            "CASE WHEN audience = ",
            lit(aud),
            " THEN ",
            sign,
            " ELSE 0 END"
        ]
    };
    upsert(frag![
        "SELECT ",
        video,
        ", ",
        s,
        ", ",
        sign,
        ", ",
        per(Audience::Everyone),
        ", ",
        per(Audience::Followers),
        " FROM ",
        source
    ])
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
    // Each like's delta: a base for the like minus what it counted under its current label.
    let (all, everyone, followers) = match change {
        Change::Remove => (-1i64, 0i64, 0i64),
        Change::Relabel(new) => (
            0,
            i64::from(new == Audience::Everyone),
            i64::from(new == Audience::Followers),
        ),
    };
    let is = |aud: Audience| Expr::case(like::Column::Audience.eq(aud), 1i64).finally(0i64);
    let mut select = Query::select();
    select
        .column((like::Entity, like::Column::VideoId))
        .expr(Expr::val(shard(liker)))
        .expr(Expr::val(all))
        .expr(Expr::val(everyone).sub(is(Audience::Everyone)))
        .expr(Expr::val(followers).sub(is(Audience::Followers)))
        .from(like::Entity)
        .and_where(like::Column::UserId.eq(liker));
    if let Some(author) = author {
        select.and_where(on_videos_of(author));
    }
    if txn.get_database_backend() == DbBackend::Postgres {
        select.lock_with_tables(sea_orm::sea_query::LockType::Update, [like::Entity]);
    }
    let mut insert = Query::insert();
    insert
        .into_table(counter::Entity)
        .columns([
            counter::Column::VideoId,
            counter::Column::Shard,
            COLUMNS[0],
            COLUMNS[1],
            COLUMNS[2],
        ])
        .select_from(select)
        .map_err(crate::error::AppError::internal)?
        .on_conflict(adding_deltas());
    txn.execute(&insert).await?;
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
    let sums = COLUMNS.map(|c| frag![sum(c, Ident::new("v.id")), " AS ", Ident::of(c)]);
    let rows = |filter: Frag, name: &'static str| {
        frag![
            "(SELECT COUNT(*) FROM likes l WHERE l.video_id = v.id",
            filter,
            ") AS ",
            Ident::new(name)
        ]
    };
    let mut q = Sql::default();
    q.append(frag![
        "SELECT v.id, ",
        Frag::join(sums, ", "),
        ", ",
        rows(Frag::new(), "rows_all"),
        ", ",
        rows(
            frag![" AND l.audience = ", lit(Audience::Everyone)],
            "rows_everyone"
        ),
        ", ",
        rows(
            frag![" AND l.audience = ", lit(Audience::Followers)],
            "rows_followers"
        ),
        " FROM videos v"
    ]);
    let mut out = Vec::new();
    for row in q.all(db).await? {
        let get = |c: &str| col::<i64>(&row, c);
        let d = Drift {
            video: col(&row, "id")?,
            counted: [
                get(Ident::of(COLUMNS[0]).as_str())?,
                get(Ident::of(COLUMNS[1]).as_str())?,
                get(Ident::of(COLUMNS[2]).as_str())?,
            ],
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
