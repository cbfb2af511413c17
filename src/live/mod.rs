//! Live: what subscribers of `likeCountChanged` and `likeActivity` are told, on every
//! instance. A write publishes a [`Notice`] (IDs and counts only) once it has committed;
//! [`fanout`] carries it to every instance (PostgreSQL `LISTEN/NOTIFY`, or in process on
//! SQLite), where the [`Hub`] hands it to the local subscribers:
//! - a like count goes through a per-video [`watch`] channel fed by a refresher that reads
//!   the count from the database after each notice (so the last value is the committed
//!   count whatever order notices arrive in), which subscribers sample at most 4 times a
//!   second (coalescing);
//! - a like goes to the author's [`broadcast`] channel;
//! - an access change (a block, an unfollow, a removed follower, an account turning private
//!   or deleted) goes to every subscription, which re-checks Rule V for itself if it names
//!   its viewer or its video's author.
//!
//! The WebSocket transport is [`socket`]; the gauges and counters are [`metrics`].
pub mod fanout;
pub mod metrics;
pub mod socket;

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use tokio::{
    sync::{broadcast, watch, Notify},
    time::Instant,
};
use uuid::Uuid;

use crate::{config::LiveLimits, domain};

/// What a committed write tells the subscribers of every instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k")]
pub enum Notice {
    /// `liker` liked `video` by `author` at `at` (µs); the count then.
    #[serde(rename = "l")]
    Liked {
        video: Uuid,
        author: Uuid,
        liker: Uuid,
        count: i64,
        at: i64,
    },
    /// `video`'s count changed otherwise (an unlike).
    #[serde(rename = "c")]
    Count { video: Uuid },
    /// Who sees what may have changed for `a` and `b` (a block, an unfollow, a removed
    /// follower: both; an account turning private or deleted: `a` alone, `b == a`).
    #[serde(rename = "a")]
    Access { a: Uuid, b: Uuid },
    /// Some sessions of `user` ended (logged out, revoked, a reused refresh token, the
    /// account deleted): its live connections check theirs.
    #[serde(rename = "s")]
    SessionsEnded { user: Uuid },
}

impl Notice {
    /// An access change of one account.
    pub fn access_of(account: Uuid) -> Self {
        Notice::Access {
            a: account,
            b: account,
        }
    }
}

/// What an access change tells the subscriptions: the accounts concerned, or every account
/// (a listener that reconnected may have missed some).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessChange {
    /// These two accounts (possibly the same).
    Between(Uuid, Uuid),
    /// Anyone.
    Anyone,
}

impl AccessChange {
    /// Whether a subscription of `viewer` to a video of `author` must re-check Rule V.
    pub fn concerns(self, viewer: Option<Uuid>, author: Uuid) -> bool {
        match self {
            AccessChange::Anyone => true,
            AccessChange::Between(a, b) => {
                [a, b].contains(&author) || viewer.is_some_and(|v| [a, b].contains(&v))
            }
        }
    }
}

/// A video's count as the subscribers of this instance see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountState {
    /// The latest count read; `None` before the first read, or once the video is gone.
    pub count: Option<i64>,
    /// How many times the count changed (a subscriber's coalescing drops the values it
    /// skips).
    pub version: u64,
    /// When it was read: two reads are at least [`REFRESH_EVERY`] apart.
    pub read_at: Instant,
}

/// A like as its author's subscriptions receive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LikeNotice {
    pub video: Uuid,
    pub author: Uuid,
    pub liker: Uuid,
    pub count: i64,
    pub at: i64,
}

/// How long the refresher of a video's count waits at least between two reads: under a
/// stream of likes a video's count is read at most 4 times a second per instance, and
/// every subscriber of the video is sent the same read (so the coalescing of all of them
/// is one tick per video, not one timer per subscriber).
pub const REFRESH_EVERY: Duration = Duration::from_millis(250);

/// Likes an author's subscriptions may fall behind by before the oldest are dropped
/// (counted as dropped; a subscriber over 20 a second summarizes anyway).
const ACTIVITY_BUFFER: usize = 1024;

/// The subscriptions of one instance and what feeds them.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    limits: LiveLimits,
    counts: Mutex<HashMap<Uuid, WatchedVideo>>,
    activity: Mutex<HashMap<Uuid, broadcast::Sender<LikeNotice>>>,
    access: broadcast::Sender<AccessChange>,
    /// Whose sessions ended (`None`: anyone's, after a listener reconnected).
    sessions: broadcast::Sender<Option<Uuid>>,
    connections: Mutex<HashMap<ConnectionKey, usize>>,
    fanout: fanout::Fanout,
}

struct WatchedVideo {
    count: watch::Sender<CountState>,
    dirty: Arc<Notify>,
}

/// Whose connections the per-principal limit counts: an account's, or an anonymous
/// client address's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionKey {
    Account(Uuid),
    Anonymous(IpAddr),
}

impl Hub {
    /// The hub of an instance serving `db`, its fan-out chosen by the backend (the
    /// PostgreSQL listener starts with [`Hub::run_listener`]).
    pub fn new(db: DatabaseConnection, limits: LiveLimits) -> Self {
        let (access, _) = broadcast::channel(256);
        let (sessions, _) = broadcast::channel(256);
        let fanout = fanout::Fanout::for_backend(&db);
        Hub {
            inner: Arc::new(Inner {
                db,
                limits,
                counts: Mutex::new(HashMap::new()),
                activity: Mutex::new(HashMap::new()),
                access,
                sessions,
                connections: Mutex::new(HashMap::new()),
                fanout,
            }),
        }
    }

    /// The limits of the live endpoint.
    pub fn limits(&self) -> LiveLimits {
        self.inner.limits
    }

    /// The database the hub reads counts from.
    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// Tells every instance about a committed write. A failure to notify is logged, not
    /// returned: the write has committed and its answer stands.
    pub async fn publish(&self, notice: Notice) {
        if let Err(e) = self.inner.fanout.send(&self.inner.db, &notice).await {
            tracing::warn!(error = %e.log_detail(), ?notice, "live notice not sent");
        }
        if self.inner.fanout.is_local() {
            self.dispatch(notice);
        }
    }

    /// Hands a notice that reached this instance to its subscribers.
    pub fn dispatch(&self, notice: Notice) {
        match notice {
            Notice::Liked {
                video,
                author,
                liker,
                count,
                at,
            } => {
                self.count_changed(video);
                let sender = lock(&self.inner.activity).get(&author).cloned();
                if let Some(sender) = sender {
                    // No receiver left is not an error: the last one is leaving.
                    let _ = sender.send(LikeNotice {
                        video,
                        author,
                        liker,
                        count,
                        at,
                    });
                }
            }
            Notice::Count { video } => self.count_changed(video),
            Notice::Access { a, b } => {
                let _ = self.inner.access.send(AccessChange::Between(a, b));
            }
            Notice::SessionsEnded { user } => {
                let _ = self.inner.sessions.send(Some(user));
            }
        }
    }

    /// After a listener reconnected: every watched count is read again, every
    /// subscription re-checks Rule V and every connection its session (notices may have
    /// been missed meanwhile).
    pub fn resynchronize(&self) {
        for watched in lock(&self.inner.counts).values() {
            watched.dirty.notify_one();
        }
        let _ = self.inner.access.send(AccessChange::Anyone);
        let _ = self.inner.sessions.send(None);
    }

    fn count_changed(&self, video: Uuid) {
        if let Some(watched) = lock(&self.inner.counts).get(&video) {
            watched.dirty.notify_one();
        }
    }

    /// A receiver of `video`'s count, which a refresher keeps to the committed count while
    /// any receiver is left.
    pub fn watch_count(&self, video: Uuid) -> watch::Receiver<CountState> {
        let mut counts = lock(&self.inner.counts);
        if let Some(watched) = counts.get(&video) {
            if !watched.count.is_closed() {
                return watched.count.subscribe();
            }
        }
        let (tx, rx) = watch::channel(CountState {
            count: None,
            version: 0,
            read_at: Instant::now(),
        });
        let dirty = Arc::new(Notify::new());
        counts.insert(
            video,
            WatchedVideo {
                count: tx.clone(),
                dirty: dirty.clone(),
            },
        );
        tokio::spawn(refresh(self.clone(), video, tx, dirty));
        rx
    }

    /// A receiver of the likes of `author`'s videos.
    pub fn watch_activity(&self, author: Uuid) -> broadcast::Receiver<LikeNotice> {
        lock(&self.inner.activity)
            .entry(author)
            .or_insert_with(|| broadcast::channel(ACTIVITY_BUFFER).0)
            .subscribe()
    }

    /// Forgets `author`'s channel once its last subscription has ended.
    pub fn activity_ended(&self, author: Uuid) {
        let mut activity = lock(&self.inner.activity);
        if activity
            .get(&author)
            .is_some_and(|s| s.receiver_count() == 0)
        {
            activity.remove(&author);
        }
    }

    /// A receiver of the accounts whose sessions ended (`None`: anyone's).
    pub fn watch_sessions(&self) -> broadcast::Receiver<Option<Uuid>> {
        self.inner.sessions.subscribe()
    }

    /// A receiver of access changes.
    pub fn watch_access(&self) -> broadcast::Receiver<AccessChange> {
        self.inner.access.subscribe()
    }

    /// Admits one more connection of `key`, within the per-principal limit; the
    /// connection holds the returned slot while it is open.
    pub fn admit(&self, key: ConnectionKey) -> Option<ConnectionSlot> {
        let mut connections = lock(&self.inner.connections);
        let open = connections.entry(key).or_insert(0);
        if *open >= self.inner.limits.max_connections_per_principal {
            return None;
        }
        *open += 1;
        metrics::connection_opened();
        Some(ConnectionSlot {
            hub: self.clone(),
            key,
        })
    }
}

/// One open connection counted against its principal's limit, until dropped.
pub struct ConnectionSlot {
    hub: Hub,
    key: ConnectionKey,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut connections = lock(&self.hub.inner.connections);
        if let Some(open) = connections.get_mut(&self.key) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                connections.remove(&self.key);
            }
        }
        metrics::connection_closed();
    }
}

/// Keeps `video`'s count to the database's after each notice, at most every
/// [`REFRESH_EVERY`], until the last receiver is gone; then forgets the video.
async fn refresh(hub: Hub, video: Uuid, count: watch::Sender<CountState>, dirty: Arc<Notify>) {
    // The first read gives the count subscribers compare the notices' counts to.
    dirty.notify_one();
    loop {
        tokio::select! {
            () = dirty.notified() => {}
            () = count.closed() => break,
        }
        let read_at = Instant::now();
        match domain::live::like_count(hub.db(), video).await {
            Ok(now) => {
                count.send_if_modified(|state| {
                    let changed = state.count != now;
                    if changed {
                        state.count = now;
                        state.version += 1;
                        state.read_at = read_at;
                    }
                    changed
                });
            }
            Err(e) => {
                tracing::warn!(error = %e.log_detail(), %video, "reading a live like count failed");
                dirty.notify_one();
            }
        }
        tokio::time::sleep(REFRESH_EVERY).await;
    }
    let mut counts = lock(&hub.inner.counts);
    if counts
        .get(&video)
        .is_some_and(|w| w.count.same_channel(&count))
    {
        counts.remove(&video);
    }
}

/// The mutex's data even if a holder panicked (the maps stay consistent: every update is
/// one insert or remove).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
