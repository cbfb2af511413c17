//! The write side of the analytics rollups (migration `m20261211_080000_rollups`): every
//! like, unlike, follow and lost follower adds its delta to the rollups in the transaction
//! of the event itself, so that a rollup never disagrees with the rows it counts. Likes and
//! follows that a block, a deletion or `removeFollower` takes away count as unlikes and
//! lost followers at the hour they go.
//!
//! Every change is an upsert of deltas (`INSERT … ON CONFLICT DO UPDATE SET c = c +
//! excluded.c`), so no rollup row has to exist beforehand. The like path's rows are keyed
//! by a shard of the liker (as the like counters are): a storm of likes on one video adds
//! to sixteen rows, not one.
use std::collections::BTreeMap;

use entity::{demographics, follow, user, FollowState};
use sea_orm::{
    sea_query::Query, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
};
use uuid::Uuid;

use crate::{
    db::{col, lit, Frag, Ident, Param, Part, Sql},
    error::AppResult,
    frag,
};

/// The likers breakdown comes from its own rollup (`liker_rollup`).
pub use super::liker_rollup::{likers, Population};

/// Microseconds in an hour and in a day.
pub const HOUR_US: i64 = 3_600_000_000;
pub const DAY_US: i64 = 24 * HOUR_US;

/// Where an event falls in the rollups: its UTC hour (microseconds since the epoch, at the
/// start of the hour) and its UTC day (days since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub hour: i64,
    pub day: i32,
}

impl At {
    /// The hour and day of `now` (microseconds since the epoch).
    pub fn of(now: i64) -> Self {
        let day = now.div_euclid(DAY_US);
        At {
            hour: now - now.rem_euclid(HOUR_US),
            // Days since 1970 fit an i32 for the next five million years.
            day: i32::try_from(day).unwrap_or(i32::MAX),
        }
    }
}

/// The rollup shard of an account's events (UUIDv7 and v4 both end in random bits).
pub fn shard(account: Uuid) -> i16 {
    // The remainder is below 16: the cast cannot truncate.
    (account.as_u128() % 16) as i16
}

/// A rollup table: its name and key columns.
struct Table {
    name: &'static str,
    keys: &'static [&'static str],
}

const CREATOR_HOURS: Table = Table {
    name: "creator_hours",
    keys: &["creator_id", "hour", "shard"],
};
const VIDEO_DAYS: Table = Table {
    name: "video_days",
    keys: &["video_id", "day", "shard"],
};
const VIDEO_HOURS: Table = Table {
    name: "video_hours",
    keys: &["video_id", "hour", "shard"],
};
const FOLLOWER_DEMOGRAPHICS: Table = Table {
    name: "follower_demographics",
    keys: &["creator_id", "dimension", "key"],
};

/// `INSERT INTO t (keys…, counts…) <select> ON CONFLICT (keys…) DO UPDATE SET c = t.c +
/// excluded.c` for each of `counts`: `select` yields the keys and then the deltas. The
/// select must not yield one key twice (PostgreSQL refuses to update a row twice in one
/// statement): group it where it could.
fn upsert(table: &Table, counts: &[&'static str], select: Frag) -> Frag {
    let name = Ident::new(table.name);
    let keys = Frag::join(table.keys.iter().map(|k| Ident::new(k)), ", ");
    let add = counts.iter().map(|c| {
        frag![
            Ident::new(c),
            " = ",
            &name,
            ".",
            Ident::new(c),
            " + excluded.",
            Ident::new(c)
        ]
    });
    frag![
        "INSERT INTO ",
        &name,
        " (",
        &keys,
        ", ",
        Frag::join(counts.iter().map(|c| Ident::new(c)), ", "),
        // SQLite needs a `WHERE` before `ON CONFLICT` in `INSERT … SELECT` (else it reads
        // the clause as a join's `ON`).
        ") SELECT * FROM (",
        select,
        ") d WHERE 1 = 1 ON CONFLICT (",
        &keys,
        ") DO UPDATE SET ",
        Frag::join(add, ", ")
    ]
}

/// The count columns of a like (`sign` 1) or an unlike (`sign` -1): likes are gross, an
/// unlike adds to `unlikes`.
fn like_count_column(sign: i64) -> &'static str {
    if sign > 0 {
        "likes"
    } else {
        "unlikes"
    }
}

/// The rollup upserts of one like (`sign` 1) or unlike (-1) of `video` by `liker` at `at`,
/// one per row of `from` (a `FROM` list yielding at most one row: on PostgreSQL the like's
/// own `RETURNING`, so that the like and its rollups are one statement). `creator` is the
/// SQL expression of the video's author.
pub fn like_changed(
    q: &mut Sql,
    from: &Frag,
    video: Param,
    creator: &dyn Part,
    liker: Uuid,
    at: At,
    sign: i64,
) -> [Frag; 3] {
    let (hour, day, s) = (q.bind(at.hour), q.bind(at.day), q.bind(shard(liker)));
    let count = [like_count_column(sign)];
    [
        upsert(
            &CREATOR_HOURS,
            &count,
            frag!["SELECT ", creator, ", ", hour, ", ", s, ", 1 FROM ", from],
        ),
        upsert(
            &VIDEO_DAYS,
            &count,
            frag!["SELECT ", video, ", ", day, ", ", s, ", 1 FROM ", from],
        ),
        upsert(
            &VIDEO_HOURS,
            &count,
            frag!["SELECT ", video, ", ", hour, ", ", s, ", 1 FROM ", from],
        ),
    ]
}

/// Runs [`like_changed`] as statements of their own (SQLite, where a like is step by step):
/// the like of `video` (by `creator`) changed.
pub async fn add_like_change(
    txn: &impl ConnectionTrait,
    video: Uuid,
    creator: Uuid,
    liker: Uuid,
    at: At,
    sign: i64,
) -> AppResult<()> {
    for i in 0..3 {
        let mut q = Sql::default();
        let (v, c) = (q.bind(video), q.bind(creator));
        let statement = like_changed(&mut q, &frag!["(SELECT 1) one"], v, &c, liker, at, sign)
            .into_iter()
            .nth(i)
            .unwrap_or_default();
        q.append(statement);
        q.execute(txn).await?;
    }
    Ok(())
}

/// Counts every like of `liker` (only those on `author`'s videos, when given) as removed at
/// `at`: called before the likes are deleted (a block, the liker's deletion), with the
/// likes already locked by the counters' update.
pub async fn likes_removed(
    txn: &impl ConnectionTrait,
    liker: Uuid,
    author: Option<Uuid>,
    at: At,
) -> AppResult<()> {
    let tables = [
        (&CREATOR_HOURS, "v.author_id", When::Hour, true),
        (&VIDEO_DAYS, "l.video_id", When::Day, false),
        (&VIDEO_HOURS, "l.video_id", When::Hour, false),
    ];
    for (table, key, when, grouped) in tables {
        let mut q = Sql::default();
        let l = q.bind(liker);
        let when = match when {
            When::Hour => q.bind(at.hour),
            When::Day => q.bind(at.day),
        };
        let s = q.bind(shard(liker));
        let mut select = frag![
            "SELECT ",
            Ident::new(key),
            ", ",
            when,
            ", ",
            s,
            if grouped { ", COUNT(*)" } else { ", 1" },
            " FROM likes l JOIN videos v ON v.id = l.video_id WHERE l.user_id = ",
            l
        ];
        if let Some(author) = author {
            let a = q.bind(author);
            select.push(frag![" AND v.author_id = ", a]);
        }
        if grouped {
            // One row per author; per video, the liker has one like at most.
            select.push(frag![" GROUP BY ", Ident::new(key)]);
        }
        q.append(upsert(table, &["unlikes"], select));
        q.execute(txn).await?;
    }
    Ok(())
}

/// The view figures of `creator_hours` and `video_days` against the folded `video_views`
/// rows, per creator hour and per video day.
async fn view_drift(
    db: &impl ConnectionTrait,
    check: &mut impl FnMut(String, i64, i64),
) -> AppResult<()> {
    let mut rolled: BTreeMap<(Uuid, i64), [i64; 3]> = BTreeMap::new();
    let mut q = Sql::default();
    q.append(frag![
        "SELECT creator_id, hour, CAST(SUM(views) AS BIGINT) AS n, \
         CAST(SUM(watch_ms) AS BIGINT) AS w, CAST(SUM(follower_views) AS BIGINT) AS f \
         FROM creator_hours GROUP BY creator_id, hour"
    ]);
    for row in q.all(db).await? {
        rolled.insert(
            (col(&row, "creator_id")?, col(&row, "hour")?),
            [col(&row, "n")?, col(&row, "w")?, col(&row, "f")?],
        );
    }
    let mut counted: BTreeMap<(Uuid, i64), [i64; 3]> = BTreeMap::new();
    let mut days: BTreeMap<(Uuid, i32), [i64; 2]> = BTreeMap::new();
    let mut q = Sql::default();
    q.append(frag![
        "SELECT creator_id, video_id, hour, COUNT(*) AS n, CAST(SUM(watch_ms) AS BIGINT) AS w, \
         CAST(SUM(CASE WHEN follows_creator THEN 1 ELSE 0 END) AS BIGINT) AS f \
         FROM video_views WHERE folded = 1 GROUP BY creator_id, video_id, hour"
    ]);
    for row in q.all(db).await? {
        let hour: i64 = col(&row, "hour")?;
        let (n, w, f): (i64, i64, i64) = (col(&row, "n")?, col(&row, "w")?, col(&row, "f")?);
        let h = counted.entry((col(&row, "creator_id")?, hour)).or_default();
        h[0] += n;
        h[1] += w;
        h[2] += f;
        let d = days
            .entry((col(&row, "video_id")?, At::of(hour).day))
            .or_default();
        d[0] += n;
        d[1] += w;
    }
    let figures = ["views", "watch ms", "follower views"];
    for (key, (r, c)) in side_by_side(&rolled, &counted) {
        for i in 0..3 {
            check(
                format!("creator {} hour {} {}", key.0, key.1, figures[i]),
                r[i],
                c[i],
            );
        }
    }
    let mut rolled_days: BTreeMap<(Uuid, i32), [i64; 2]> = BTreeMap::new();
    let mut q = Sql::default();
    q.append(frag![
        "SELECT video_id, day, CAST(SUM(views) AS BIGINT) AS n, \
         CAST(SUM(watch_ms) AS BIGINT) AS w FROM video_days GROUP BY video_id, day"
    ]);
    for row in q.all(db).await? {
        rolled_days.insert(
            (col(&row, "video_id")?, col(&row, "day")?),
            [col(&row, "n")?, col(&row, "w")?],
        );
    }
    for (key, (r, c)) in side_by_side(&rolled_days, &days) {
        check(format!("video {} day {} views", key.0, key.1), r[0], c[0]);
        check(
            format!("video {} day {} watch ms", key.0, key.1),
            r[1],
            c[1],
        );
    }
    Ok(())
}

/// Every key of `a` or `b` with both values (zeros where a map lacks it).
fn side_by_side<K: Ord + Copy, const N: usize>(
    a: &BTreeMap<K, [i64; N]>,
    b: &BTreeMap<K, [i64; N]>,
) -> BTreeMap<K, ([i64; N], [i64; N])> {
    let mut out: BTreeMap<K, ([i64; N], [i64; N])> = BTreeMap::new();
    for (k, v) in a {
        out.entry(*k).or_insert(([0; N], [0; N])).0 = *v;
    }
    for (k, v) in b {
        out.entry(*k).or_insert(([0; N], [0; N])).1 = *v;
    }
    out
}

/// Which time key a rollup table has.
enum When {
    Hour,
    Day,
}

/// Counts a deleted video's likes as removed at `at` in its author's rollups (its own
/// rollups go with it).
pub async fn video_deleted(
    txn: &impl ConnectionTrait,
    video: Uuid,
    author: Uuid,
    likes: i64,
    at: At,
) -> AppResult<()> {
    if likes == 0 {
        return Ok(());
    }
    let mut q = Sql::default();
    let (c, h, s, n) = (
        q.bind(author),
        q.bind(at.hour),
        q.bind(shard(video)),
        q.bind(likes),
    );
    q.append(upsert(
        &CREATOR_HOURS,
        &["unlikes"],
        frag!["SELECT ", c, ", ", h, ", ", s, ", ", n],
    ));
    q.execute(txn).await?;
    Ok(())
}

/// Views added up by a fold: per (creator, UTC hour) [views, watch ms, views by followers];
/// per (video, UTC day) [views, watch ms].
#[derive(Debug, Default)]
pub struct ViewSums {
    pub hours: BTreeMap<(Uuid, i64), [i64; 3]>,
    pub days: BTreeMap<(Uuid, i32), [i64; 2]>,
}

/// Rows a fold writes to per key: shards 16..32, apart from the like and follow path's
/// 0..16, so that a fold never waits on a like's row lock (nor a like on a fold's).
fn fold_shard() -> i16 {
    16 + i16::from(rand::random::<u8>() % 16)
}

/// Adds folded views to `creator_hours` and `video_days`: one upsert each, its rows in key
/// order (so that two folds lock shared rows in the same order and never deadlock).
pub async fn views_folded(txn: &impl ConnectionTrait, sums: &ViewSums) -> AppResult<()> {
    let shard = fold_shard();
    if !sums.hours.is_empty() {
        let mut q = Sql::default();
        let rows = sums
            .hours
            .iter()
            .map(|((creator, hour), [n, watch, followers])| {
                let s = q.bind(shard);
                frag![
                    "(",
                    q.bind(*creator),
                    ", ",
                    q.bind(*hour),
                    ", ",
                    s,
                    ", ",
                    q.bind(*n),
                    ", ",
                    q.bind(*watch),
                    ", ",
                    q.bind(*followers),
                    ")"
                ]
            });
        let values = frag!["VALUES ", Frag::join(rows.collect::<Vec<_>>(), ", ")];
        q.append(upsert(
            &CREATOR_HOURS,
            &["views", "watch_ms", "follower_views"],
            values,
        ));
        q.execute(txn).await?;
    }
    if !sums.days.is_empty() {
        let mut q = Sql::default();
        let rows = sums.days.iter().map(|((video, day), [n, watch])| {
            let s = q.bind(shard);
            frag![
                "(",
                q.bind(*video),
                ", ",
                q.bind(*day),
                ", ",
                s,
                ", ",
                q.bind(*n),
                ", ",
                q.bind(*watch),
                ")"
            ]
        });
        let values = frag!["VALUES ", Frag::join(rows.collect::<Vec<_>>(), ", ")];
        q.append(upsert(&VIDEO_DAYS, &["views", "watch_ms"], values));
        q.execute(txn).await?;
    }
    Ok(())
}

/// Takes the folded views of `video` (being deleted by its author `author`, its row locked
/// by [`crate::domain::videos::lock_video`]) out of `creator_hours`, at the hours they
/// happened; its `video_days` rows go with it. A fold's claim holds its rows' videos `FOR
/// KEY SHARE` (`fold::fold_in`): one that claimed some of this video's views has committed
/// before the lock was granted (so they read as folded here), and a later one skips the
/// locked video. Its unfolded views go with the video, never folded.
pub async fn video_views_removed(
    txn: &impl ConnectionTrait,
    video: Uuid,
    author: Uuid,
) -> AppResult<()> {
    let mut q = Sql::default();
    let (a, s, v) = (q.bind(author), q.bind(shard(video)), q.bind(video));
    q.append(upsert(
        &CREATOR_HOURS,
        &["views", "watch_ms", "follower_views"],
        frag![
            "SELECT ",
            a,
            ", hour, ",
            s,
            ", -COUNT(*), -CAST(SUM(watch_ms) AS BIGINT), \
             -CAST(SUM(CASE WHEN follows_creator THEN 1 ELSE 0 END) AS BIGINT) \
             FROM video_views WHERE video_id = ",
            v,
            " AND folded = 1 GROUP BY hour"
        ],
    ));
    q.execute(txn).await?;
    Ok(())
}

/// The demographics keys of an account, as the follower rollups store them.
fn keys_of(account: &user::Model) -> [(&'static str, String); 3] {
    demographics::keys(
        account.birth_year,
        account.region.as_deref(),
        account.language.as_deref(),
    )
}

/// Which creators a follower change concerns.
pub enum Followees {
    /// One creator.
    One(Uuid),
    /// Every creator the follower follows (approved), as the follows are now: its
    /// account is being deleted, or its demographics change.
    AllOf,
}

/// Adds `delta` (1: gained, -1: lost) followers `follower` to the rollups of the creators
/// `to` names, at `at`; `count_event` says whether it is a follower gained or lost (a
/// change of the follower's demographics moves it between keys without either).
async fn follower_delta(
    txn: &impl ConnectionTrait,
    follower: &user::Model,
    keys: &[(&'static str, String)],
    to: &Followees,
    at: At,
    delta: i64,
    count_event: bool,
) -> AppResult<()> {
    // The creators as a one-column `SELECT`, and its placeholders bound in `q`.
    let creators = |q: &mut Sql| -> Frag {
        match to {
            Followees::One(c) => {
                let c = q.bind(*c);
                frag!["SELECT ", c, " AS creator"]
            }
            Followees::AllOf => {
                let f = q.bind(follower.id);
                frag![
                    "SELECT followee_id AS creator FROM follows WHERE follower_id = ",
                    f,
                    " AND state = ",
                    lit(FollowState::Approved)
                ]
            }
        }
    };
    if count_event {
        let mut q = Sql::default();
        let from = creators(&mut q);
        let (h, s) = (q.bind(at.hour), q.bind(shard(follower.id)));
        let column = if delta > 0 {
            "new_followers"
        } else {
            "lost_followers"
        };
        q.append(upsert(
            &CREATOR_HOURS,
            &[column],
            frag!["SELECT c.creator, ", h, ", ", s, ", 1 FROM (", from, ") c"],
        ));
        q.execute(txn).await?;
    }
    for (dimension, key) in keys {
        let mut q = Sql::default();
        let from = creators(&mut q);
        let (d, k, n) = (q.bind(*dimension), q.bind(key.clone()), q.bind(delta));
        q.append(upsert(
            &FOLLOWER_DEMOGRAPHICS,
            &["followers"],
            frag![
                "SELECT c.creator, ",
                d,
                ", ",
                k,
                ", ",
                n,
                " FROM (",
                from,
                ") c"
            ],
        ));
        q.execute(txn).await?;
    }
    Ok(())
}

/// `follower` became an approved follower of `creator` at `at`.
pub async fn follower_gained(
    txn: &impl ConnectionTrait,
    follower: &user::Model,
    creator: Uuid,
    at: At,
) -> AppResult<()> {
    let keys = keys_of(follower);
    follower_delta(txn, follower, &keys, &Followees::One(creator), at, 1, true).await
}

/// `follower` stopped being an approved follower of the creators `of` names, at `at`
/// (called before its follows are deleted when `of` is [`Followees::AllOf`]).
pub async fn followers_lost(
    txn: &impl ConnectionTrait,
    follower: &user::Model,
    of: Followees,
    at: At,
) -> AppResult<()> {
    let keys = keys_of(follower);
    follower_delta(txn, follower, &keys, &of, at, -1, true).await
}

/// Every pending follower of `creator` is about to be approved (it turned public), at `at`:
/// one upsert per shard and per demographics key, however many requests there are.
pub async fn pending_approved(txn: &impl ConnectionTrait, creator: Uuid, at: At) -> AppResult<()> {
    let pending = user::Entity::find()
        .filter(
            user::Column::Id.in_subquery(
                Query::select()
                    .column(follow::Column::FollowerId)
                    .from(follow::Entity)
                    .and_where(follow::Column::FolloweeId.eq(creator))
                    .and_where(follow::Column::State.eq(FollowState::Pending))
                    .to_owned(),
            ),
        )
        .all(txn)
        .await?;
    let mut per_shard: BTreeMap<i16, i64> = BTreeMap::new();
    let mut per_key: BTreeMap<(&'static str, String), i64> = BTreeMap::new();
    for follower in &pending {
        *per_shard.entry(shard(follower.id)).or_default() += 1;
        for key in keys_of(follower) {
            *per_key.entry(key).or_default() += 1;
        }
    }
    for (s, n) in per_shard {
        let mut q = Sql::default();
        let (c, h, s, n) = (q.bind(creator), q.bind(at.hour), q.bind(s), q.bind(n));
        q.append(upsert(
            &CREATOR_HOURS,
            &["new_followers"],
            frag!["SELECT ", c, ", ", h, ", ", s, ", ", n],
        ));
        q.execute(txn).await?;
    }
    for ((dimension, key), n) in per_key {
        let mut q = Sql::default();
        let (c, d, k, n) = (q.bind(creator), q.bind(dimension), q.bind(key), q.bind(n));
        q.append(upsert(
            &FOLLOWER_DEMOGRAPHICS,
            &["followers"],
            frag!["SELECT ", c, ", ", d, ", ", k, ", ", n],
        ));
        q.execute(txn).await?;
    }
    Ok(())
}

/// `before` changed its demographics to `after`'s: moves it between keys in the follower
/// rollups of every creator it follows.
pub async fn follower_changed(
    txn: &impl ConnectionTrait,
    before: &user::Model,
    after: &user::Model,
) -> AppResult<()> {
    let (old, new) = (keys_of(before), keys_of(after));
    let at = At::of(0);
    for ((dim, was), (_, now)) in old.into_iter().zip(new) {
        if was != now {
            let to = Followees::AllOf;
            follower_delta(txn, before, &[(dim, was)], &to, at, -1, false).await?;
            follower_delta(txn, after, &[(dim, now)], &to, at, 1, false).await?;
        }
    }
    Ok(())
}

/// Every way the rollups disagree with the rows they count, described: a full scan, for
/// tests and operators' checks, never for serving requests. Checks per creator that gross
/// likes − unlikes equals its videos' like rows and new − lost followers its approved
/// follows; per video the same for `video_days` (and `video_hours`, whose pruned hours make
/// it a check for installs younger than eight days only when `hours` is set); the views,
/// watch time and follower views of every creator hour and the views and watch time of
/// every video day against the folded view rows (of videos that exist: a deleted video's
/// go with it); the follower demographics against the followers' current accounts; and
/// the likers rollup ([`super::liker_rollup::drift`]).
pub async fn drift(db: &impl ConnectionTrait, hours: bool) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    let mut check = |what: String, rollup: i64, rows: i64| {
        if rollup != rows {
            out.push(format!("{what}: rollups say {rollup}, rows say {rows}"));
        }
    };
    let mut q = Sql::default();
    q.append(frag![
        "SELECT u.id, \
         (SELECT CAST(COALESCE(SUM(h.likes - h.unlikes), 0) AS BIGINT) FROM creator_hours h \
          WHERE h.creator_id = u.id) AS net_likes, \
         (SELECT COUNT(*) FROM likes l JOIN videos v ON v.id = l.video_id \
          WHERE v.author_id = u.id) AS like_rows, \
         (SELECT CAST(COALESCE(SUM(h.new_followers - h.lost_followers), 0) AS BIGINT) \
          FROM creator_hours h WHERE h.creator_id = u.id) AS net_followers, \
         (SELECT COUNT(*) FROM follows f WHERE f.followee_id = u.id AND f.state = ",
        lit(FollowState::Approved),
        ") AS follow_rows FROM users u"
    ]);
    for row in q.all(db).await? {
        let id: Uuid = col(&row, "id")?;
        check(
            format!("creator {id} net likes"),
            col(&row, "net_likes")?,
            col(&row, "like_rows")?,
        );
        check(
            format!("creator {id} net followers"),
            col(&row, "net_followers")?,
            col(&row, "follow_rows")?,
        );
    }
    let tables: &[&'static str] = if hours {
        &["video_days", "video_hours"]
    } else {
        &["video_days"]
    };
    for table in tables {
        let mut q = Sql::default();
        q.append(frag![
            "SELECT v.id, (SELECT CAST(COALESCE(SUM(r.likes - r.unlikes), 0) AS BIGINT) FROM ",
            Ident::new(table),
            " r WHERE r.video_id = v.id) AS net_likes, \
             (SELECT COUNT(*) FROM likes l WHERE l.video_id = v.id) AS like_rows FROM videos v"
        ]);
        for row in q.all(db).await? {
            let id: Uuid = col(&row, "id")?;
            check(
                format!("video {id} net likes in {table}"),
                col(&row, "net_likes")?,
                col(&row, "like_rows")?,
            );
        }
    }
    view_drift(db, &mut check).await?;
    let mut expected: BTreeMap<(Uuid, &'static str, String), i64> = BTreeMap::new();
    let mut q = Sql::default();
    q.append(frag![
        "SELECT f.followee_id AS creator, u.* FROM follows f JOIN users u ON u.id = f.follower_id \
         WHERE f.state = ",
        lit(FollowState::Approved)
    ]);
    for row in q.all(db).await? {
        let creator: Uuid = col(&row, "creator")?;
        let follower = user::Model::from_query_result(&row, "")?;
        for (dim, key) in keys_of(&follower) {
            *expected.entry((creator, dim, key)).or_default() += 1;
        }
    }
    let mut stored: BTreeMap<(Uuid, String, String), i64> = BTreeMap::new();
    let mut q = Sql::default();
    q.append(frag![
        "SELECT creator_id, dimension, key, followers FROM follower_demographics \
         WHERE followers <> 0"
    ]);
    for row in q.all(db).await? {
        stored.insert(
            (
                col(&row, "creator_id")?,
                col(&row, "dimension")?,
                col(&row, "key")?,
            ),
            col(&row, "followers")?,
        );
    }
    let expected: BTreeMap<(Uuid, String, String), i64> = expected
        .into_iter()
        .map(|((c, d, k), n)| ((c, d.to_owned(), k), n))
        .collect();
    for (k, n) in &expected {
        check(
            format!("follower demographics {k:?}"),
            stored.get(k).copied().unwrap_or(0),
            *n,
        );
    }
    for (k, n) in &stored {
        if !expected.contains_key(k) {
            check(format!("follower demographics {k:?}"), *n, 0);
        }
    }
    out.extend(super::liker_rollup::drift(db).await?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_falls_in_its_utc_hour_and_day() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-03-04T05:06:07Z")
            .expect("instant")
            .timestamp_micros();
        let at = At::of(t);
        assert_eq!(at.hour, t - (6 * 60 + 7) * 1_000_000);
        assert_eq!(
            i64::from(at.day),
            chrono::NaiveDate::from_ymd_opt(2026, 3, 4)
                .expect("date")
                .signed_duration_since(chrono::NaiveDate::default())
                .num_days()
        );
        assert_eq!(At::of(-1).day, -1);
    }
}
