//! The likers rollup: the likers breakdown of `creatorAnalytics` (distinct accounts with a
//! current like on the creator's videos made in the window, under their current
//! demographics) read in time independent of the number of likes (migration
//! `m20261212_090000_liker_rollup`).
//!
//! Every window ends at the same day `to` (the last complete UTC day), so an account counts
//! in the window `from..=to` iff the latest day among its current likes that is `≤ to` is
//! `≥ from`. The rollup keeps, per creator:
//! - `liker_closing.closed_through`: the last *closed* day (missing: none closed yet);
//! - `creator_likers(creator, liker, last_day)`: the latest closed day among the account's
//!   current likes on the creator's videos (no row: none on a closed day);
//! - `liker_days(creator, day, dimension, key, likers)`: how many accounts have that
//!   `last_day`, by their current birth year, region and language (the keys of
//!   `follower_demographics`).
//!
//! The window's answer is a sum over at most 365 days × keys. A read closes the days up to
//! its `to` first ([`close`]): the likes of those days are folded into `last_day`. A like on
//! an open day changes nothing here (the like storm pays one primary-key read of the state
//! row); a like on a closed day (a clock set back) and every removal whose like was on the
//! account's `last_day` recompute that account's `last_day` from its remaining likes
//! ([`refresh`]), in the event's transaction. A read whose `to` is before `closed_through`
//! (the clock went back) rebuilds the creator's rollup from its likes.
//!
//! **Serialization.** Closing holds the creator's account `FOR UPDATE` ([`Hold::Exclusive`]),
//! which every like, unlike, block and video deletion touching the creator's likes already
//! holds in a mode that conflicts (`FOR KEY SHARE` and stronger): a closer waits for the likes
//! in flight, and a like after it sees the new `closed_through`. An account deletion or a
//! demographics edit holds the creators of its likes `FOR KEY SHARE` ([`hold_creators_of`])
//! for the same reason. Two closers of one creator run one after the other; the second finds
//! the days closed.
use std::collections::BTreeMap;

use entity::{demographics, user};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, FromQueryResult};
use uuid::Uuid;

use super::hold::{hold, Hold};
use crate::{
    db::{self, col, Frag, Sql},
    error::AppResult,
    frag,
};

/// The distinct accounts behind a breakdown: how many, and how many per key of each
/// dimension (`birth_year`, `region`, `language`, as `follower_demographics` stores them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Population {
    pub accounts: i64,
    pub buckets: BTreeMap<&'static str, BTreeMap<String, i64>>,
}

/// Microseconds in a day (as `rollups::DAY_US`; `rollups` re-exports this module, which
/// therefore does not import it).
pub const DAY_US: i64 = 24 * 3_600_000_000;

/// The dimensions of the rollup, as stored.
const DIMENSIONS: [&str; 3] = [
    demographics::BIRTH_YEAR,
    demographics::REGION,
    demographics::LANGUAGE,
];

/// The UTC day (days since 1970) of an instant in microseconds.
pub fn day_of(us: i64) -> i32 {
    // Days since 1970 fit an i32 for the next five million years.
    i32::try_from(us.div_euclid(DAY_US)).unwrap_or(i32::MAX)
}

/// The first microsecond after day `day`.
fn end_of(day: i32) -> i64 {
    (i64::from(day) + 1) * DAY_US
}

/// The rollup keys of an account's demographics.
fn keys_of(birth_year: Option<i32>, region: Option<&str>, language: Option<&str>) -> [String; 3] {
    demographics::keys(birth_year, region, language).map(|(_, k)| k)
}

/// Histogram deltas: (creator, day, dimension, key) → accounts.
type Deltas = BTreeMap<(Uuid, i32, &'static str, String), i64>;

fn add_keys(deltas: &mut Deltas, creator: Uuid, day: i32, keys: &[String; 3], n: i64) {
    for (dim, key) in DIMENSIONS.iter().zip(keys) {
        *deltas.entry((creator, day, dim, key.clone())).or_default() += n;
    }
}

/// Rows per multi-row statement.
const CHUNK: usize = 200;

/// Adds `deltas` to `liker_days` (upserts of deltas, as the other rollups).
async fn apply(txn: &impl ConnectionTrait, deltas: &Deltas) -> AppResult<()> {
    let rows: Vec<_> = deltas.iter().filter(|(_, n)| **n != 0).collect();
    for chunk in rows.chunks(CHUNK) {
        let mut q = Sql::default();
        let values: Vec<Frag> = chunk
            .iter()
            .map(|((c, d, dim, key), n)| {
                let (c, d, dim, key, n) = (
                    q.bind(*c),
                    q.bind(*d),
                    q.bind(*dim),
                    q.bind(key.clone()),
                    q.bind(**n),
                );
                frag!["(", c, ", ", d, ", ", dim, ", ", key, ", ", n, ")"]
            })
            .collect();
        q.append(frag![
            "INSERT INTO liker_days (creator_id, day, dimension, key, likers) VALUES ",
            Frag::join(values, ", "),
            " ON CONFLICT (creator_id, day, dimension, key) \
             DO UPDATE SET likers = liker_days.likers + excluded.likers"
        ]);
        q.execute(txn).await?;
    }
    Ok(())
}

/// Sets the `last_day` of each of `creator`'s likers given (`None`: no row).
async fn set_last_days(
    txn: &impl ConnectionTrait,
    creator: Uuid,
    rows: &[(Uuid, Option<i32>)],
) -> AppResult<()> {
    let (set, gone): (Vec<_>, Vec<_>) = rows.iter().partition(|(_, d)| d.is_some());
    for chunk in set.chunks(CHUNK) {
        let mut q = Sql::default();
        let c = q.bind(creator);
        let values: Vec<Frag> = chunk
            .iter()
            .map(|(l, d)| {
                let (l, d) = (q.bind(*l), q.bind(*d));
                frag!["(", c, ", ", l, ", ", d, ")"]
            })
            .collect();
        q.append(frag![
            "INSERT INTO creator_likers (creator_id, liker_id, last_day) VALUES ",
            Frag::join(values, ", "),
            " ON CONFLICT (creator_id, liker_id) DO UPDATE SET last_day = excluded.last_day"
        ]);
        q.execute(txn).await?;
    }
    for chunk in gone.chunks(CHUNK) {
        let mut q = Sql::default();
        let c = q.bind(creator);
        let ids: Vec<Uuid> = chunk.iter().map(|(l, _)| *l).collect();
        let list = q.bind_list(&ids);
        q.append(frag![
            "DELETE FROM creator_likers WHERE creator_id = ",
            c,
            " AND liker_id IN (",
            list,
            ")"
        ]);
        q.execute(txn).await?;
    }
    Ok(())
}

/// The creator's last closed day, if any day is closed.
pub async fn closed_through(db: &impl ConnectionTrait, creator: Uuid) -> AppResult<Option<i32>> {
    let mut q = Sql::default();
    let c = q.bind(creator);
    q.append(frag![
        "SELECT closed_through FROM liker_closing WHERE creator_id = ",
        c
    ]);
    q.one(db)
        .await?
        .map(|r| col::<i32>(&r, "closed_through"))
        .transpose()
}

/// The SQL expression of `closed_through` for the creator whose ID is `creator` (NULL when
/// no day is closed): what the like statement reads on PostgreSQL.
pub fn closed_through_sql(creator: &dyn db::Part) -> Frag {
    frag![
        "(SELECT s.closed_through FROM liker_closing s WHERE s.creator_id = ",
        creator,
        ")"
    ]
}

/// The likers of `creator`'s videos with a current like made on a day `from..=to`, by
/// their current demographics: from the rollup, after closing the days up to `to`.
pub async fn likers(
    db: &DatabaseConnection,
    creator: Uuid,
    from: i32,
    to: i32,
) -> AppResult<Population> {
    close_through(db, creator, to).await?;
    closed_likers(db, creator, from, to).await
}

/// [`likers`] of days already closed through `to` (by [`close_through`]): one range scan.
pub async fn closed_likers(
    db: &impl ConnectionTrait,
    creator: Uuid,
    from: i32,
    to: i32,
) -> AppResult<Population> {
    let mut q = Sql::default();
    let (c, f, t) = (q.bind(creator), q.bind(from), q.bind(to));
    q.append(frag![
        "SELECT dimension, key, CAST(SUM(likers) AS BIGINT) AS n FROM liker_days \
         WHERE creator_id = ",
        c,
        " AND day >= ",
        f,
        " AND day <= ",
        t,
        " GROUP BY dimension, key"
    ]);
    let mut out = Population::default();
    for row in q.all(db).await? {
        let dim: String = col(&row, "dimension")?;
        let n: i64 = col(&row, "n")?;
        let Some(dim) = dimension(&dim) else {
            continue;
        };
        if n == 0 {
            continue;
        }
        if dim == demographics::BIRTH_YEAR {
            out.accounts += n;
        }
        out.buckets
            .entry(dim)
            .or_default()
            .insert(col(&row, "key")?, n);
    }
    Ok(out)
}

/// The stored dimension named `name`, if it is one of the rollup's.
pub fn dimension(name: &str) -> Option<&'static str> {
    DIMENSIONS.iter().copied().find(|d| *d == name)
}

/// Closes `creator`'s days up to `to` unless they are closed through `to` already.
pub async fn close_through(db: &DatabaseConnection, creator: Uuid, to: i32) -> AppResult<()> {
    if closed_through(db, creator).await? != Some(to) {
        close(db, creator, to).await?;
    }
    Ok(())
}

/// Closes `creator`'s days up to `to` (folds their likes into `last_day`), in a transaction
/// of its own; a `to` before the closed days (the clock went back) rebuilds the rollup of
/// the creator from its likes. Safe to run from several readers and instances at once.
pub async fn close(db: &DatabaseConnection, creator: Uuid, to: i32) -> AppResult<()> {
    db::transaction(db, move |txn| {
        Box::pin(async move {
            hold(txn, Hold::Exclusive, creator, None).await?;
            match closed_through(txn, creator).await? {
                Some(closed) if closed == to => return Ok(()),
                Some(closed) if closed < to => fold(txn, creator, Some(closed), to).await?,
                Some(_) => {
                    for table in ["liker_days", "creator_likers"] {
                        let mut q = Sql::default();
                        let c = q.bind(creator);
                        q.append(frag![
                            "DELETE FROM ",
                            db::Ident::new(table),
                            " WHERE creator_id = ",
                            c
                        ]);
                        q.execute(txn).await?;
                    }
                    fold(txn, creator, None, to).await?;
                }
                None => fold(txn, creator, None, to).await?,
            }
            let mut q = Sql::default();
            let (c, t) = (q.bind(creator), q.bind(to));
            q.append(frag![
                "INSERT INTO liker_closing (creator_id, closed_through) VALUES (",
                c,
                ", ",
                t,
                ") ON CONFLICT (creator_id) DO UPDATE SET closed_through = excluded.closed_through"
            ]);
            q.execute(txn).await?;
            let mut q = Sql::default();
            let c = q.bind(creator);
            q.append(frag![
                "DELETE FROM liker_days WHERE creator_id = ",
                c,
                " AND likers = 0"
            ]);
            q.execute(txn).await?;
            Ok(())
        })
    })
    .await
}

/// The periodic pass: closes the days up to `to` of every creator whose rollup is behind
/// (each in its own transaction, as a read would), so that reads find them closed. Creators
/// never read are closed at their first read. How many creators it closed.
pub async fn close_all(db: &DatabaseConnection, to: i32) -> AppResult<usize> {
    let mut q = Sql::default();
    let t = q.bind(to);
    q.append(frag![
        "SELECT creator_id FROM liker_closing WHERE closed_through < ",
        t
    ]);
    let behind: Vec<Uuid> = q
        .all(db)
        .await?
        .iter()
        .map(|r| col(r, "creator_id"))
        .collect::<AppResult<_>>()?;
    for creator in &behind {
        match close(db, *creator, to).await {
            // Deleted since: its rollup went with it.
            Err(crate::error::AppError::Unauthenticated(_)) => {}
            other => other?,
        }
    }
    Ok(behind.len())
}

/// Folds the likes on `creator`'s videos made after day `after` (all, when `None`) up to
/// day `to` into the likers' `last_day`. Every liker found moves to a later day: its old
/// `last_day` is at most `after`.
async fn fold(
    txn: &impl ConnectionTrait,
    creator: Uuid,
    after: Option<i32>,
    to: i32,
) -> AppResult<()> {
    let mut q = Sql::default();
    let (c, hi) = (q.bind(creator), q.bind(end_of(to)));
    let mut select = frag![
        "SELECT l.user_id AS liker, MAX(l.created_at) AS latest FROM likes l \
         JOIN videos v ON v.id = l.video_id WHERE v.author_id = ",
        c,
        " AND l.created_at < ",
        hi
    ];
    if let Some(after) = after {
        let lo = q.bind(end_of(after));
        select.push(frag![" AND l.created_at >= ", lo]);
    }
    select.push(" GROUP BY l.user_id");
    q.append(frag![
        "SELECT f.liker, f.latest, cl.last_day AS was, u.birth_year, u.region, u.language \
         FROM (",
        select,
        ") f JOIN users u ON u.id = f.liker LEFT JOIN creator_likers cl \
         ON cl.creator_id = ",
        c,
        " AND cl.liker_id = f.liker"
    ]);
    let mut deltas = Deltas::new();
    let mut rows = Vec::new();
    for row in q.all(txn).await? {
        let liker: Uuid = col(&row, "liker")?;
        let day = day_of(col(&row, "latest")?);
        let was: Option<i32> = col(&row, "was")?;
        if was.is_some_and(|w| w >= day) {
            continue;
        }
        let account = Demographics::from_query_result(&row, "")?;
        let keys = account.keys();
        if let Some(w) = was {
            add_keys(&mut deltas, creator, w, &keys, -1);
        }
        add_keys(&mut deltas, creator, day, &keys, 1);
        rows.push((liker, Some(day)));
    }
    set_last_days(txn, creator, &rows).await?;
    apply(txn, &deltas).await
}

/// An account's demographics columns.
#[derive(Debug, FromQueryResult)]
struct Demographics {
    birth_year: Option<i32>,
    region: Option<String>,
    language: Option<String>,
}

impl Demographics {
    fn keys(&self) -> [String; 3] {
        keys_of(
            self.birth_year,
            self.region.as_deref(),
            self.language.as_deref(),
        )
    }
}

/// Recomputes the `last_day` of each of `likers` at `creator` from their current likes on
/// its closed days, after a like on a closed day or the removal of likes, in the event's
/// transaction (which holds what keeps closers out, see the module's note).
pub async fn refresh(txn: &impl ConnectionTrait, creator: Uuid, likers: &[Uuid]) -> AppResult<()> {
    let Some(closed) = closed_through(txn, creator).await? else {
        return Ok(());
    };
    for chunk in likers.chunks(CHUNK) {
        let mut q = Sql::default();
        let (c, hi) = (q.bind(creator), q.bind(end_of(closed)));
        let list = q.bind_list(chunk);
        // The latest like first, through the likes-by-liker-and-time index.
        q.append(frag![
            "SELECT u.id, u.birth_year, u.region, u.language, \
             (SELECT cl.last_day FROM creator_likers cl WHERE cl.creator_id = ",
            c,
            " AND cl.liker_id = u.id) AS was, \
             (SELECT l.created_at FROM likes l JOIN videos v ON v.id = l.video_id \
              WHERE l.user_id = u.id AND v.author_id = ",
            c,
            " AND l.created_at < ",
            hi,
            " ORDER BY l.created_at DESC LIMIT 1) AS latest FROM users u WHERE u.id IN (",
            list,
            ")"
        ]);
        let mut deltas = Deltas::new();
        let mut rows = Vec::new();
        for row in q.all(txn).await? {
            let liker: Uuid = col(&row, "id")?;
            let was: Option<i32> = col(&row, "was")?;
            let now = col::<Option<i64>>(&row, "latest")?.map(day_of);
            if was == now {
                continue;
            }
            let keys = Demographics::from_query_result(&row, "")?.keys();
            if let Some(w) = was {
                add_keys(&mut deltas, creator, w, &keys, -1);
            }
            if let Some(d) = now {
                add_keys(&mut deltas, creator, d, &keys, 1);
            }
            rows.push((liker, now));
        }
        set_last_days(txn, creator, &rows).await?;
        apply(txn, &deltas).await?;
    }
    Ok(())
}

/// The accounts among `creator`'s likers of `video` whose `last_day` is that like's day: the
/// ones to [`refresh`] once the video is gone (call before deleting it).
pub async fn likers_at_last_day(
    txn: &impl ConnectionTrait,
    creator: Uuid,
    video: Uuid,
) -> AppResult<Vec<Uuid>> {
    let mut q = Sql::default();
    let (c, v) = (q.bind(creator), q.bind(video));
    q.append(frag![
        "SELECT l.user_id, l.created_at, cl.last_day FROM likes l JOIN creator_likers cl \
         ON cl.creator_id = ",
        c,
        " AND cl.liker_id = l.user_id WHERE l.video_id = ",
        v
    ]);
    let mut out = Vec::new();
    for row in q.all(txn).await? {
        if day_of(col(&row, "created_at")?) == col::<i32>(&row, "last_day")? {
            out.push(col(&row, "user_id")?);
        }
    }
    Ok(out)
}

/// Holds (`FOR KEY SHARE`, PostgreSQL) the authors of every video `liker` has liked, so that
/// no closer of theirs runs until this transaction (an account deletion or a demographics
/// edit of `liker`, which holds `liker` exclusively) commits.
pub async fn hold_creators_of(txn: &impl ConnectionTrait, liker: Uuid) -> AppResult<()> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let mut q = Sql::default();
    let l = q.bind(liker);
    q.append(frag![
        "SELECT id FROM users WHERE id IN (SELECT v.author_id FROM likes l \
         JOIN videos v ON v.id = l.video_id WHERE l.user_id = ",
        l,
        ") ORDER BY id FOR KEY SHARE"
    ]);
    q.all(txn).await?;
    Ok(())
}

/// (creator, last_day) of every rollup row of `liker`.
async fn rows_of(txn: &impl ConnectionTrait, liker: Uuid) -> AppResult<Vec<(Uuid, i32)>> {
    let mut q = Sql::default();
    let l = q.bind(liker);
    q.append(frag![
        "SELECT creator_id, last_day FROM creator_likers WHERE liker_id = ",
        l
    ]);
    q.all(txn)
        .await?
        .iter()
        .map(|r| Ok((col(r, "creator_id")?, col(r, "last_day")?)))
        .collect()
}

/// The account `liker` is being deleted (with every like of it): it leaves every creator's
/// rollup. Called in the deletion's transaction, after [`hold_creators_of`].
pub async fn liker_gone(txn: &impl ConnectionTrait, liker: &user::Model) -> AppResult<()> {
    let keys = keys_of(
        liker.birth_year,
        liker.region.as_deref(),
        liker.language.as_deref(),
    );
    let mut deltas = Deltas::new();
    for (creator, day) in rows_of(txn, liker.id).await? {
        add_keys(&mut deltas, creator, day, &keys, -1);
    }
    apply(txn, &deltas).await?;
    let mut q = Sql::default();
    let l = q.bind(liker.id);
    q.append(frag!["DELETE FROM creator_likers WHERE liker_id = ", l]);
    q.execute(txn).await?;
    Ok(())
}

/// `before` changed its demographics to `after`'s: moves it between keys in the rollup of
/// every creator it counts for, in the edit's transaction (after [`hold_creators_of`]).
pub async fn liker_changed(
    txn: &impl ConnectionTrait,
    before: &user::Model,
    after: &user::Model,
) -> AppResult<()> {
    let old = keys_of(
        before.birth_year,
        before.region.as_deref(),
        before.language.as_deref(),
    );
    let new = keys_of(
        after.birth_year,
        after.region.as_deref(),
        after.language.as_deref(),
    );
    if old == new {
        return Ok(());
    }
    let mut deltas = Deltas::new();
    for (creator, day) in rows_of(txn, before.id).await? {
        add_keys(&mut deltas, creator, day, &old, -1);
        add_keys(&mut deltas, creator, day, &new, 1);
    }
    apply(txn, &deltas).await
}

/// Every way the likers rollup disagrees with the like rows (a full scan, for tests and
/// operators): per creator with closed days, each liker's `last_day` and the histogram by
/// the likers' current demographics; no rows for a creator without closed days.
pub async fn drift(db: &impl ConnectionTrait) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    let mut q = Sql::default();
    q.append(frag![
        "SELECT s.creator_id AS creator, l.user_id AS liker, MAX(l.created_at) AS latest, \
         u.birth_year, u.region, u.language FROM likes l JOIN videos v ON v.id = l.video_id \
         JOIN liker_closing s ON s.creator_id = v.author_id JOIN users u ON u.id = l.user_id \
         WHERE l.created_at < (s.closed_through + 1) * ",
        DAY_US,
        " GROUP BY s.creator_id, l.user_id, u.birth_year, u.region, u.language"
    ]);
    let mut want_days: BTreeMap<(Uuid, Uuid), i32> = BTreeMap::new();
    let mut want: Deltas = Deltas::new();
    for row in q.all(db).await? {
        let (creator, liker): (Uuid, Uuid) = (col(&row, "creator")?, col(&row, "liker")?);
        let day = day_of(col(&row, "latest")?);
        want_days.insert((creator, liker), day);
        let keys = Demographics::from_query_result(&row, "")?.keys();
        add_keys(&mut want, creator, day, &keys, 1);
    }
    let mut q = Sql::default();
    q.append("SELECT creator_id, liker_id, last_day FROM creator_likers");
    let mut have_days: BTreeMap<(Uuid, Uuid), i32> = BTreeMap::new();
    for row in q.all(db).await? {
        have_days.insert(
            (col(&row, "creator_id")?, col(&row, "liker_id")?),
            col(&row, "last_day")?,
        );
    }
    for (k, d) in &want_days {
        if have_days.get(k) != Some(d) {
            out.push(format!(
                "creator_likers {k:?}: rollup says {:?}, rows say {d}",
                have_days.get(k)
            ));
        }
    }
    for (k, d) in &have_days {
        if !want_days.contains_key(k) {
            out.push(format!(
                "creator_likers {k:?}: rollup says {d}, rows say none"
            ));
        }
    }
    let mut q = Sql::default();
    q.append("SELECT creator_id, day, dimension, key, likers FROM liker_days WHERE likers <> 0");
    let mut have: BTreeMap<(Uuid, i32, String, String), i64> = BTreeMap::new();
    for row in q.all(db).await? {
        have.insert(
            (
                col(&row, "creator_id")?,
                col(&row, "day")?,
                col(&row, "dimension")?,
                col(&row, "key")?,
            ),
            col(&row, "likers")?,
        );
    }
    let want: BTreeMap<(Uuid, i32, String, String), i64> = want
        .into_iter()
        .map(|((c, d, dim, k), n)| ((c, d, dim.to_owned(), k), n))
        .collect();
    for (k, n) in &want {
        let got = have.get(k).copied().unwrap_or(0);
        if got != *n {
            out.push(format!("liker_days {k:?}: rollup says {got}, rows say {n}"));
        }
    }
    for (k, n) in &have {
        if !want.contains_key(k) {
            out.push(format!("liker_days {k:?}: rollup says {n}, rows say 0"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_ends_where_the_next_begins() {
        assert_eq!(day_of(end_of(20_000) - 1), 20_000);
        assert_eq!(day_of(end_of(20_000)), 20_001);
        assert_eq!(day_of(-1), -1);
    }
}
