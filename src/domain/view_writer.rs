//! Group commit of recorded views: each instance has one writer task that stores the
//! views checked by concurrent requests together, in one transaction per batch.
//!
//! A request checks its view ([`analytics::prepare_view`], one read statement) and hands
//! it to the writer, which collects views for at most [`WINDOW`] or [`MAX_BATCH`] views,
//! stores them with [`analytics::store_views`] (one transaction: the videos locked
//! against deletion, the event rows in one statement, the counters' deltas summed per
//! video in another), and only once that has committed adds the signed-in viewers to the
//! sketch buffer and answers each request — so an acknowledged view is durable, and
//! counted once. A view whose video was deleted since its check is answered `NOT_FOUND`,
//! nothing stored. When a batch fails, each of its views is retried alone, so that one bad
//! view cannot fail the others.
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use entity::DeviceClass;
use sea_orm::DatabaseConnection;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{
    analytics::{self, PreparedView},
    sketch::SketchBuffer,
};
use crate::error::{AppError, AppResult};

/// How long the writer waits for more views after the first of a batch.
pub const WINDOW: Duration = Duration::from_millis(2);

/// The most views one batch stores.
pub const MAX_BATCH: usize = 256;

/// Views waiting for the writer, at most (requests wait to hand theirs over beyond).
const QUEUE: usize = 4 * MAX_BATCH;

/// One request's view and where its outcome goes.
struct Job {
    view: PreparedView,
    reply: oneshot::Sender<AppResult<()>>,
}

/// The instance's view writer: [`ViewWriter::record`] checks a view and has the writer
/// task store it with others. The task starts with the first view (on the runtime of the
/// request that brings it) and again if it has stopped; it ends when the writer is dropped.
pub struct ViewWriter {
    db: DatabaseConnection,
    sketches: Arc<SketchBuffer>,
    queue: Mutex<Option<mpsc::Sender<Job>>>,
}

impl ViewWriter {
    /// A writer storing into `db`, adding viewers to `sketches` after commit.
    pub fn new(db: DatabaseConnection, sketches: Arc<SketchBuffer>) -> Self {
        ViewWriter {
            db,
            sketches,
            queue: Mutex::new(None),
        }
    }

    /// Records that `viewer` (anonymous: `None`) watched `video_id` for `watch_ms` on a
    /// `device` at `now`; returns once the view has committed. Errors as
    /// [`analytics::record_view`].
    pub async fn record(
        &self,
        viewer: Option<Uuid>,
        video_id: Uuid,
        watch_ms: i32,
        device: DeviceClass,
        now: DateTime<Utc>,
    ) -> AppResult<()> {
        let view =
            analytics::prepare_view(&self.db, viewer, video_id, watch_ms, device, now).await?;
        let (reply, outcome) = oneshot::channel();
        let mut job = Job { view, reply };
        // A writer whose runtime has shut down has dropped its queue: start another.
        for _ in 0..2 {
            match self.sender().send(job).await {
                Ok(()) => {
                    return outcome.await.unwrap_or_else(|_| {
                        Err(AppError::Internal(anyhow::anyhow!(
                            "the view writer stopped before answering"
                        )))
                    })
                }
                Err(mpsc::error::SendError(back)) => {
                    job = back;
                    self.queue
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .take();
                }
            }
        }
        Err(AppError::Internal(anyhow::anyhow!(
            "the view writer is not running"
        )))
    }

    /// The writer task's queue, the task started if it is not running.
    fn sender(&self) -> mpsc::Sender<Job> {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match queue.as_ref() {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run(self.db.clone(), self.sketches.clone(), rx));
                *queue = Some(tx.clone());
                tx
            }
        }
    }
}

/// The writer task: batches of the views in `rx`, each stored and answered before the next.
async fn run(db: DatabaseConnection, sketches: Arc<SketchBuffer>, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        let deadline = tokio::time::Instant::now() + WINDOW;
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(job)) => batch.push(job),
                    Ok(None) | Err(_) => break,
                },
            }
        }
        write(&db, &sketches, std::mem::take(&mut batch)).await;
    }
}

/// Stores `batch` and answers its requests; when the batch fails, each view alone.
async fn write(db: &DatabaseConnection, sketches: &SketchBuffer, batch: Vec<Job>) {
    let views: Arc<[PreparedView]> = batch.iter().map(|j| j.view.clone()).collect();
    match analytics::store_views(db, views).await {
        Ok(stored) => {
            for (job, stored) in batch.into_iter().zip(stored) {
                answer(sketches, job, Ok(stored));
            }
        }
        Err(e) if batch.len() == 1 => {
            if let Some(job) = batch.into_iter().next() {
                answer(sketches, job, Err(analytics::not_found_if_gone(e)));
            }
        }
        Err(e) => {
            tracing::warn!(views = batch.len(), error = %e.log_detail(), "view batch failed, storing its views one by one");
            for job in batch {
                let alone = analytics::store_views(db, Arc::from(vec![job.view.clone()])).await;
                let outcome = alone
                    .map(|s| s.first().copied().unwrap_or(false))
                    .map_err(analytics::not_found_if_gone);
                answer(sketches, job, outcome);
            }
        }
    }
}

/// Answers `job`'s request with whether its view was stored (after commit: a stored
/// signed-in viewer joins the sketch buffer first).
fn answer(sketches: &SketchBuffer, job: Job, stored: AppResult<bool>) {
    let outcome = match stored {
        Ok(true) => {
            job.view.add_to(sketches);
            Ok(())
        }
        Ok(false) => Err(AppError::NotFound),
        Err(e) => Err(e),
    };
    // A request that has gone away (its client disconnected) needs no answer.
    let _ = job.reply.send(outcome);
}
