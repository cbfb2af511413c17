//! The parts of `creatorAnalytics` that sum a window of closed days, computed once per
//! creator, window and day instead of at every read (`analytics_windows`, migration
//! `m20261213_100000_analytics_windows`): the series of `creator_hours`, the per-video sums
//! of `video_days`, the merged viewer sketches, the likers by bucket. What the parts hold
//! are the same counts the rollups hold; the small-numbers rule applies at every read.
//!
//! **Exact, whoever writes.** A window ends at the last complete UTC day, so the events of
//! today never change it. What does — a view of yesterday folded after midnight, a deleted
//! video's views taken out of its hours, the likers rollup closing days, events under a
//! clock set back — writes a rollup row of a covered day, and a trigger on each of the four
//! rollups deletes, in that write's transaction, the creator's cached windows of the part
//! read from it that cover the row's day.
//!
//! **No stale part from a race.** A reader that finds a part missing claims it first: in a
//! transaction of its own that holds the creator exclusively, it writes the part's row
//! without a body and with a fresh token; then it computes, and stores the body only where
//! its token still is. Every rollup writer holds the creator (at least `FOR KEY SHARE`)
//! until it commits, so a write that ran before the claim has committed before the reader
//! computes (which sees it), and a write after the claim deletes the claimed row (the store
//! then finds no token: nothing is kept). On SQLite the claim's write transaction is serial
//! with every other.
use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::{de::DeserializeOwned, Serialize};
use uuid::Uuid;

use super::hold::{hold, Hold};
use crate::{
    db::{self, col, Frag, Sql},
    error::{AppError, AppResult},
    frag,
};

/// A cached part of `creatorAnalytics`, named by its `analytics_windows.part`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// Totals, daily and peak hours, from `creator_hours`.
    Series,
    /// Each video's window sums, from `video_days`.
    Videos,
    /// The viewers' bucket estimates, from `viewer_sketches`.
    Viewers,
    /// The likers by bucket, from `liker_days`.
    Likers,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Series => "series",
            Part::Videos => "videos",
            Part::Viewers => "viewers",
            Part::Likers => "likers",
        }
    }
}

/// A window of whole UTC days of one creator: the cache's key (with the part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub creator: Uuid,
    pub from: i32,
    pub to: i32,
}

/// The parts stored for one [`Key`], read in one statement.
#[derive(Debug, Default)]
pub struct Stored(HashMap<String, Vec<u8>>);

impl Stored {
    /// Every stored part of `key`.
    pub async fn load(db: &impl ConnectionTrait, key: Key) -> AppResult<Stored> {
        let mut q = Sql::default();
        let (c, f, t) = (q.bind(key.creator), q.bind(key.from), q.bind(key.to));
        q.append(frag![
            "SELECT part, body FROM analytics_windows WHERE creator_id = ",
            c,
            " AND to_day = ",
            t,
            " AND from_day = ",
            f,
            " AND body IS NOT NULL"
        ]);
        let mut out = HashMap::new();
        for row in q.all(db).await? {
            out.insert(col(&row, "part")?, col(&row, "body")?);
        }
        Ok(Stored(out))
    }

    /// The stored `part`, if it is there (and readable: a body written by another version
    /// counts as missing).
    pub fn get<T: DeserializeOwned>(&self, part: Part) -> Option<T> {
        serde_json::from_slice(self.0.get(part.name())?).ok()
    }
}

/// `part` of `key` computed by `compute`, and kept unless a rollup write of a covered day
/// came after the claim (see the module's comment).
pub async fn compute<T, F>(
    db: &DatabaseConnection,
    key: Key,
    part: Part,
    compute: F,
) -> AppResult<T>
where
    T: Serialize,
    F: std::future::Future<Output = AppResult<T>>,
{
    let token = claim(db, key, part).await?;
    let value = compute.await?;
    let body = serde_json::to_vec(&value).map_err(AppError::internal)?;
    let mut q = Sql::default();
    let (b, k) = (q.bind(body), q.bind(token));
    let row = row_of(&mut q, key, part);
    q.append(frag![
        "UPDATE analytics_windows SET body = ",
        b,
        " WHERE ",
        row,
        " AND token = ",
        k
    ]);
    q.execute(db).await?;
    Ok(value)
}

/// Writes `part` of `key` without a body under a fresh token (replacing any other reader's
/// claim), with the creator held exclusively; the creator's windows of the part that end
/// before `key`'s go (no read asks for them again). Answers the token.
async fn claim(db: &DatabaseConnection, key: Key, part: Part) -> AppResult<Uuid> {
    let token = Uuid::new_v4();
    db::transaction(db, move |txn| {
        Box::pin(async move {
            hold(txn, Hold::Exclusive, key.creator, None).await?;
            let mut q = Sql::default();
            let (c, p, t) = (
                q.bind(key.creator),
                q.bind(part.name()),
                q.bind(key.to),
            );
            q.append(frag![
                "DELETE FROM analytics_windows WHERE creator_id = ",
                c,
                " AND part = ",
                p,
                " AND to_day < ",
                t
            ]);
            q.execute(txn).await?;
            let mut q = Sql::default();
            let (c, p, t, f, k) = (
                q.bind(key.creator),
                q.bind(part.name()),
                q.bind(key.to),
                q.bind(key.from),
                q.bind(token),
            );
            q.append(frag![
                "INSERT INTO analytics_windows (creator_id, part, to_day, from_day, token) VALUES (",
                c,
                ", ",
                p,
                ", ",
                t,
                ", ",
                f,
                ", ",
                k,
                ") ON CONFLICT (creator_id, part, to_day, from_day) DO UPDATE SET \
                 token = excluded.token, body = NULL"
            ]);
            q.execute(txn).await?;
            Ok(())
        })
    })
    .await?;
    Ok(token)
}

/// The condition that picks the row of `part` of `key` (its primary key).
fn row_of(q: &mut Sql, key: Key, part: Part) -> Frag {
    let (c, p, t, f) = (
        q.bind(key.creator),
        q.bind(part.name()),
        q.bind(key.to),
        q.bind(key.from),
    );
    frag![
        "creator_id = ",
        c,
        " AND part = ",
        p,
        " AND to_day = ",
        t,
        " AND from_day = ",
        f
    ]
}
