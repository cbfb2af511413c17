//! The fold job: the durable path of views into the rollups (issue 12, "Views may go through
//! a durable path"). `recordView` only appends a `video_views` row (and bumps the view
//! counter); every instance runs [`run_every`], which folds unfolded rows into
//! `creator_hours` and `video_days` and flushes the instance's [`SketchBuffer`] into
//! `viewer_sketches`.
//!
//! A fold is one transaction: claim a batch of unfolded rows, add them up per (creator,
//! hour) and per (video, UTC day), upsert the sums, mark the rows folded. A crash before the
//! commit folds nothing (the rows stay unfolded, the rollups unchanged); after it the rows
//! are never claimed again. On PostgreSQL the claim is `FOR UPDATE SKIP LOCKED`, so
//! instances sharing a database fold disjoint batches, and it also takes `FOR KEY SHARE` of
//! the rows' video and creator (skipping rows whose video or creator is locked by a
//! deletion): a fold never waits for a `deleteVideo` or an account deletion that waits for
//! it. SQLite has one writer: its folds are serial anyway.
use std::{collections::BTreeMap, sync::Arc, time::Duration};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use uuid::Uuid;

use super::{
    rollups::{self, At, ViewSums},
    sketch::{self, Cell, SketchBuffer},
};
use crate::{
    db::{self, col, Sql},
    error::AppResult,
    frag,
};

/// Views claimed by one fold transaction.
pub const BATCH: u64 = 1_000;

/// What [`drain`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Views folded into the rollups.
    pub views: u64,
    /// Viewer sketches merged into `viewer_sketches`.
    pub sketches: u64,
}

/// Folds at most `limit` unfolded views inside `txn` (claims them, adds them to the rollups,
/// marks them folded) and answers how many. Nothing is folded unless `txn` commits.
pub async fn fold_in(txn: &impl ConnectionTrait, limit: u64) -> AppResult<u64> {
    let postgres = txn.get_database_backend() == DbBackend::Postgres;
    let mut q = Sql::default();
    let n = q.bind(i64::try_from(limit).unwrap_or(i64::MAX));
    if postgres {
        q.append(frag![
            "SELECT vv.id, vv.video_id, vv.creator_id, vv.hour, vv.watch_ms, vv.follows_creator \
             FROM video_views vv JOIN videos v ON v.id = vv.video_id \
             JOIN users u ON u.id = vv.creator_id WHERE vv.folded = 0 LIMIT ",
            n,
            " FOR UPDATE OF vv SKIP LOCKED FOR KEY SHARE OF v, u SKIP LOCKED"
        ]);
    } else {
        q.append(frag![
            "SELECT id, video_id, creator_id, hour, watch_ms, follows_creator \
             FROM video_views WHERE folded = 0 LIMIT ",
            n
        ]);
    }
    let rows = q.all(txn).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut sums = ViewSums::default();
    let mut ids = Vec::with_capacity(rows.len());
    for row in &rows {
        ids.push(col::<Uuid>(row, "id")?);
        let hour: i64 = col(row, "hour")?;
        let watch = i64::from(col::<i32>(row, "watch_ms")?);
        let follows = i64::from(col::<bool>(row, "follows_creator")?);
        let h = sums
            .hours
            .entry((col(row, "creator_id")?, hour))
            .or_default();
        h[0] += 1;
        h[1] += watch;
        h[2] += follows;
        let d = sums
            .days
            .entry((col(row, "video_id")?, At::of(hour).day))
            .or_default();
        d[0] += 1;
        d[1] += watch;
    }
    rollups::views_folded(txn, &sums).await?;
    let mut q = Sql::default();
    let list = q.bind_list(&ids);
    q.append(frag![
        "UPDATE video_views SET folded = 1 WHERE id IN (",
        list,
        ")"
    ]);
    q.execute(txn).await?;
    Ok(ids.len() as u64)
}

/// Folds one batch of at most `limit` views in a transaction of its own.
pub async fn fold_batch(db: &DatabaseConnection, limit: u64) -> AppResult<u64> {
    db::transaction(db, move |txn| Box::pin(fold_in(txn, limit))).await
}

/// Folds batches of `limit` until one comes back short: every view that was unfolded and
/// not claimed by another instance is folded when this returns.
pub async fn fold_views(db: &DatabaseConnection, limit: u64) -> AppResult<u64> {
    let mut total = 0;
    loop {
        let n = fold_batch(db, limit).await?;
        total += n;
        if n < limit {
            return Ok(total);
        }
    }
}

/// Merges the viewers buffered in `buffer` into `viewer_sketches`, in one transaction, and
/// answers how many sketches it wrote. A stored sketch becomes the union of itself and the
/// buffered one (on PostgreSQL under its row lock, so instances flushing the same sketch at
/// once both land). On failure the viewers go back into the buffer for the next flush.
/// Viewers of a creator deleted meanwhile are dropped with it.
pub async fn flush_sketches(db: &DatabaseConnection, buffer: &SketchBuffer) -> AppResult<u64> {
    let cells = buffer.take();
    if cells.is_empty() {
        return Ok(0);
    }
    let shared = Arc::new(cells);
    let cells = shared.clone();
    let result = db::transaction(db, move |txn| {
        let cells = cells.clone();
        Box::pin(async move { merge_sketches(txn, &cells).await })
    })
    .await;
    if result.is_err() {
        let cells = Arc::try_unwrap(shared).unwrap_or_else(|a| (*a).clone());
        buffer.put_back(cells);
    }
    result
}

/// Merges `cells` (in key order) into the stored sketches inside `txn`.
async fn merge_sketches(
    txn: &impl ConnectionTrait,
    cells: &BTreeMap<Cell, Vec<u64>>,
) -> AppResult<u64> {
    let postgres = txn.get_database_backend() == DbBackend::Postgres;
    // The creators first, in ID order, `FOR KEY SHARE` on PostgreSQL: a deletion of one
    // either committed (its sketches are dropped) or waits for this flush (and then removes
    // what it wrote).
    let mut creators: Vec<Uuid> = cells.keys().map(|c| c.creator).collect();
    creators.dedup();
    let mut q = Sql::default();
    let list = q.bind_list(&creators);
    q.append(frag![
        "SELECT id FROM users WHERE id IN (",
        list,
        ") ORDER BY id",
        if postgres { " FOR KEY SHARE" } else { "" }
    ]);
    let mut present = std::collections::BTreeSet::new();
    for row in q.all(txn).await? {
        present.insert(col::<Uuid>(&row, "id")?);
    }
    let mut written = 0;
    for (cell, hashes) in cells {
        if !present.contains(&cell.creator) {
            continue;
        }
        let mut sketch = sketch::of_hashes(hashes);
        // Usually the row exists: lock it, merge, write. If it does not, insert it; an
        // instance inserting the same row at once makes ours a no-op, and then its row is
        // there to lock.
        loop {
            let mut q = Sql::default();
            let key = cell_key(&mut q, cell);
            q.append(frag![
                "SELECT sketch FROM viewer_sketches WHERE ",
                key,
                if postgres { " FOR UPDATE" } else { "" }
            ]);
            if let Some(row) = q.one(txn).await? {
                let stored: Vec<u8> = col(&row, "sketch")?;
                sketch.merge(&sketch::decode(&stored)?);
                let mut q = Sql::default();
                let bytes = q.bind(sketch::encode(&sketch)?);
                let key = cell_key(&mut q, cell);
                q.append(frag![
                    "UPDATE viewer_sketches SET sketch = ",
                    bytes,
                    " WHERE ",
                    key
                ]);
                q.execute(txn).await?;
                break;
            }
            let mut q = Sql::default();
            let (c, d, dim, k) = (
                q.bind(cell.creator),
                q.bind(cell.day),
                q.bind(cell.dimension),
                q.bind(cell.key.clone()),
            );
            let bytes = q.bind(sketch::encode(&sketch)?);
            q.append(frag![
                "INSERT INTO viewer_sketches (creator_id, day, dimension, key, sketch) VALUES (",
                c,
                ", ",
                d,
                ", ",
                dim,
                ", ",
                k,
                ", ",
                bytes,
                ") ON CONFLICT (creator_id, day, dimension, key) DO NOTHING"
            ]);
            if q.execute(txn).await? == 1 {
                break;
            }
        }
        written += 1;
    }
    Ok(written)
}

/// `creator_id = … AND day = … AND dimension = … AND key = …` of `cell`, bound in `q`.
fn cell_key(q: &mut Sql, cell: &Cell) -> crate::db::Frag {
    let (c, d, dim, k) = (
        q.bind(cell.creator),
        q.bind(cell.day),
        q.bind(cell.dimension),
        q.bind(cell.key.clone()),
    );
    frag![
        "creator_id = ",
        c,
        " AND day = ",
        d,
        " AND dimension = ",
        dim,
        " AND key = ",
        k
    ]
}

/// Folds every unfolded view and flushes the sketch buffer, now: what the job does each
/// tick, for tests, the benchmark and shutdown.
pub async fn drain(db: &DatabaseConnection, buffer: &SketchBuffer) -> AppResult<Drained> {
    let views = fold_views(db, BATCH).await?;
    let sketches = flush_sketches(db, buffer).await?;
    Ok(Drained { views, sketches })
}

/// The fold job: [`drain`] every `every`, for ever (the server aborts it when it stops).
/// A failed tick is logged and retried at the next; nothing it did not commit counts.
pub async fn run_every(db: DatabaseConnection, buffer: Arc<SketchBuffer>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match drain(&db, &buffer).await {
            Ok(d) if d.views > 0 || d.sketches > 0 => {
                tracing::debug!(views = d.views, sketches = d.sketches, "folded");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e.log_detail(), "fold failed; retrying at the next tick")
            }
        }
    }
}
