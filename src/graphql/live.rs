//! Live: the subscription root (`likeCountChanged`, `likeActivity`). What feeds it is
//! [`crate::live`]; every delivery-time decision is `domain::live`'s, from the policy.
use std::{
    collections::{BTreeMap, VecDeque},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use async_graphql::{Context, Result, SimpleObject, Subscription, ID};
use chrono::{DateTime, Utc};
use futures_util::stream::{self, Stream};
use tokio::{
    sync::{broadcast, watch},
    time::Instant,
};
use uuid::Uuid;

use super::{
    connection::{datetime, int},
    context::{ids, signed_in, viewer},
    nodes::{User, Video},
};
use crate::{
    domain,
    error::AppError,
    ids::Kind,
    live::{
        metrics::{self, SubscriptionGauge},
        AccessChange, CountState, Hub, LikeNotice,
    },
};

/// Shortest time between two updates of one subscription to `likeCountChanged` (at most 4
/// a second): the time between two reads of a video's count, which every subscriber of
/// the video is sent.
pub const COUNT_INTERVAL: Duration = crate::live::REFRESH_EVERY;

/// Most `likeActivity` events naming a liker one subscriber gets in a second; likes past
/// it wait for the second to end and are summarized, one event per video, `liker: null`.
pub const ACTIVITY_PER_SECOND: usize = 20;

/// A video's new like count.
#[derive(SimpleObject, Clone)]
pub struct LikeCountUpdate {
    pub video_id: ID,
    pub like_count: i32,
}

/// A like on one of the viewer's videos; `liker` is `null` unless Rule L lets the viewer see
/// that like when the event is sent, or when the event summarizes a burst.
#[derive(SimpleObject)]
pub struct LikeActivity {
    pub video: Video,
    pub liker: Option<User>,
    pub like_count: i32,
    pub at: DateTime<Utc>,
}

/// The subscriptions one connection holds, within the per-connection limit.
#[derive(Clone)]
pub struct ConnectionSubscriptions {
    open: Arc<AtomicUsize>,
    max: usize,
}

impl ConnectionSubscriptions {
    /// No subscription yet, at most `max`.
    pub fn new(max: usize) -> Self {
        ConnectionSubscriptions {
            open: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    fn take(&self) -> Result<SubscriptionSlot, AppError> {
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(SubscriptionSlot {
                open: self.open.clone(),
                _gauge: SubscriptionGauge::start(),
            }),
            Err(_) => Err(AppError::LimitExceeded(format!(
                "a connection may hold at most {} subscriptions",
                self.max
            ))),
        }
    }
}

/// One subscription counted against its connection's limit, and in the gauge, while alive.
struct SubscriptionSlot {
    open: Arc<AtomicUsize>,
    _gauge: SubscriptionGauge,
}

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

fn slot(ctx: &Context<'_>) -> Result<SubscriptionSlot> {
    // A subscription outside a live connection (the schema executed directly) is counted
    // against a limit of its own.
    match ctx.data_opt::<ConnectionSubscriptions>() {
        Some(subs) => Ok(subs.take()?),
        None => Ok(ConnectionSubscriptions::new(1).take()?),
    }
}

/// The live part of the subscription root.
#[derive(Default)]
pub struct LiveSubscription;

#[Subscription]
impl LiveSubscription {
    /// The like count of a video the viewer can see (Rule V): the current count first, then
    /// each change, at most 4 updates a second, the last one always the latest count. Ends
    /// with `NOT_FOUND` once the viewer can no longer see the video.
    async fn like_count_changed(
        &self,
        ctx: &Context<'_>,
        video_id: ID,
    ) -> Result<impl Stream<Item = Result<LikeCountUpdate>>> {
        let hub = ctx.data::<Hub>()?.clone();
        let viewer = viewer(ctx).id();
        let id = ids(ctx)?.decode_id("videoId", Kind::Video, &video_id)?;
        let slot = slot(ctx)?;
        // Watch before the check, so that no change slips in between.
        let counts = hub.watch_count(id);
        let access = hub.watch_access();
        let Some(video) = domain::live::visible_video(hub.db(), viewer, id).await? else {
            return Err(AppError::NotFound.into());
        };
        let last_version = counts.borrow().version;
        let watch = CountWatch {
            author: video.author().into_inner().0,
            last_sent: video.like_count,
            hub,
            viewer,
            video: id,
            video_id,
            counts,
            access,
            last_version,
            next_at: Instant::now(),
            sent_current: false,
            ended: false,
            _slot: slot,
        };
        Ok(stream::unfold(watch, |mut w| async move {
            let item = w.next().await?;
            Some((item, w))
        }))
    }

    /// Likes of the signed-in viewer's videos as they happen (none for an unlike).
    async fn like_activity(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<LikeActivity>>> {
        let hub = ctx.data::<Hub>()?.clone();
        let me = signed_in(ctx).await?;
        let slot = slot(ctx)?;
        let activity = ActivityWatch {
            likes: hub.watch_activity(me),
            hub,
            me,
            sent: VecDeque::new(),
            pending: BTreeMap::new(),
            flush_at: None,
            ready: VecDeque::new(),
            _slot: slot,
        };
        Ok(stream::unfold(activity, |mut a| async move {
            let item = a.next().await?;
            Some((item, a))
        }))
    }
}

/// One `likeCountChanged` subscription.
struct CountWatch {
    hub: Hub,
    viewer: Option<Uuid>,
    video: Uuid,
    video_id: ID,
    author: Uuid,
    counts: watch::Receiver<CountState>,
    access: broadcast::Receiver<AccessChange>,
    last_sent: i64,
    last_version: u64,
    /// No update before this instant (coalescing).
    next_at: Instant,
    /// Whether the count at subscribe time was sent (the first event).
    sent_current: bool,
    ended: bool,
    _slot: SubscriptionSlot,
}

impl CountWatch {
    /// The next update, the error that ends the subscription, or `None` once ended.
    async fn next(&mut self) -> Option<Result<LikeCountUpdate>> {
        if self.ended {
            return None;
        }
        if !self.sent_current {
            self.sent_current = true;
            self.next_at = Instant::now() + COUNT_INTERVAL;
            metrics::delivered("like_count", 1);
            return Some(Ok(self.update()));
        }
        loop {
            let waited = tokio::select! {
                changed = self.counts.changed() => changed.map_err(|_| None),
                change = self.access.recv() => Err(Some(change)),
            };
            match waited {
                Ok(()) => {}
                // The hub forgot the video: no receiver keeps it (cannot happen while this
                // one lives), so end.
                Err(None) => return None,
                Err(Some(change)) => {
                    if let Some(end) = self.on_access(change).await {
                        return Some(Err(end));
                    }
                    continue;
                }
            }
            // Coalescing: wait out the interval (still heeding access changes), then send
            // the latest count.
            while Instant::now() < self.next_at {
                tokio::select! {
                    () = tokio::time::sleep_until(self.next_at) => {}
                    change = self.access.recv() => {
                        if let Some(end) = self.on_access(change).await {
                            return Some(Err(end));
                        }
                    }
                }
            }
            let state = *self.counts.borrow_and_update();
            let Some(count) = state.count else {
                // The video is gone (or could not be read): check it is still there.
                if let Some(end) = self.recheck().await {
                    return Some(Err(end));
                }
                continue;
            };
            if count == self.last_sent {
                continue;
            }
            metrics::dropped(
                "like_count",
                state.version.saturating_sub(self.last_version + 1),
            );
            metrics::delivered("like_count", 1);
            self.last_version = state.version;
            self.last_sent = count;
            // The video's reads are COUNT_INTERVAL apart: the next one is sent as it comes.
            self.next_at = state.read_at + COUNT_INTERVAL;
            return Some(Ok(self.update()));
        }
    }

    fn update(&self) -> LikeCountUpdate {
        LikeCountUpdate {
            video_id: self.video_id.clone(),
            like_count: int(self.last_sent),
        }
    }

    /// Re-checks Rule V if `change` may have changed it for this subscriber: the error that
    /// ends the subscription if it no longer holds.
    async fn on_access(
        &mut self,
        change: Result<AccessChange, broadcast::error::RecvError>,
    ) -> Option<async_graphql::Error> {
        match change {
            Ok(c) if !c.concerns(self.viewer, self.author) => None,
            // Missed changes (lagging) may have concerned this subscriber.
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.recheck().await,
            Err(broadcast::error::RecvError::Closed) => {
                self.ended = true;
                Some(AppError::NotFound.to_graphql())
            }
        }
    }

    /// Rule V now: `None` if the viewer still sees the video, else the ending error.
    async fn recheck(&mut self) -> Option<async_graphql::Error> {
        // Boxed: the subscription's future, which lives as long as it, stays small.
        let seen = Box::pin(domain::live::visible_video(
            self.hub.db(),
            self.viewer,
            self.video,
        ))
        .await;
        let end = match seen {
            Ok(Some(_)) => return None,
            Ok(None) => AppError::NotFound,
            Err(e) => e,
        };
        self.ended = true;
        Some(end.to_graphql())
    }
}

/// One `likeActivity` subscription.
struct ActivityWatch {
    hub: Hub,
    me: Uuid,
    likes: broadcast::Receiver<LikeNotice>,
    /// When the events that named a liker in the last second were sent.
    sent: VecDeque<Instant>,
    /// The burst being summarized: per video, its latest count and like time.
    pending: BTreeMap<Uuid, (i64, i64)>,
    flush_at: Option<Instant>,
    ready: VecDeque<LikeActivity>,
    _slot: SubscriptionSlot,
}

impl Drop for ActivityWatch {
    fn drop(&mut self) {
        // This receiver still counts until the struct is gone; the hub forgets the author's
        // channel with the last one.
        let (_, gone) = broadcast::channel::<LikeNotice>(1);
        drop(std::mem::replace(&mut self.likes, gone));
        self.hub.activity_ended(self.me);
    }
}

impl ActivityWatch {
    async fn next(&mut self) -> Option<Result<LikeActivity>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                metrics::delivered("like_activity", 1);
                return Some(Ok(event));
            }
            let flush_at = self.flush_at;
            tokio::select! {
                like = self.likes.recv() => match like {
                    Ok(like) => {
                        if let Err(e) = self.take(like).await {
                            return Some(Err(e.to_graphql()));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        metrics::dropped("like_activity", n);
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                () = sleep_until_some(flush_at) => {
                    if let Err(e) = self.flush().await {
                        return Some(Err(e.to_graphql()));
                    }
                }
            }
        }
    }

    /// Sends `like` as its own event while under [`ACTIVITY_PER_SECOND`], else adds it to
    /// the burst summary.
    async fn take(&mut self, like: LikeNotice) -> Result<(), AppError> {
        let now = Instant::now();
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.sent.pop_front();
        }
        if self.pending.is_empty() && self.sent.len() < ACTIVITY_PER_SECOND {
            self.sent.push_back(now);
            // Rule L now, for the author, from the database.
            let db = self.hub.db();
            let liker = Box::pin(domain::live::visible_liker(
                db,
                Some(self.me),
                self.me,
                like.video,
                like.liker,
            ))
            .await?;
            if let Some(event) = self.event(like.video, liker, like.count, like.at).await? {
                self.ready.push_back(event);
            }
            return Ok(());
        }
        if self
            .pending
            .insert(like.video, (like.count, like.at))
            .is_some()
        {
            metrics::dropped("like_activity", 1);
        }
        if self.flush_at.is_none() {
            let oldest = self.sent.front().copied().unwrap_or(now);
            self.flush_at = Some(oldest + Duration::from_secs(1));
        }
        Ok(())
    }

    /// One summary event per video of the burst, `liker: null`.
    async fn flush(&mut self) -> Result<(), AppError> {
        self.flush_at = None;
        for (video, (count, at)) in std::mem::take(&mut self.pending) {
            if let Some(event) = self.event(video, None, count, at).await? {
                self.ready.push_back(event);
            }
        }
        Ok(())
    }

    /// The event for a like on `video`, if the video still exists.
    async fn event(
        &self,
        video: Uuid,
        liker: Option<domain::PublicUser>,
        count: i64,
        at: i64,
    ) -> Result<Option<LikeActivity>, AppError> {
        let Some(video) = Box::pin(domain::live::visible_video(
            self.hub.db(),
            Some(self.me),
            video,
        ))
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(LikeActivity {
            video: Video::from(video),
            liker: liker.map(User),
            like_count: int(count),
            at: datetime(at),
        }))
    }
}

/// Completes at `at`, or never.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
