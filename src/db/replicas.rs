//! PostgreSQL read replicas (`--read-database-url`): where a read-only request runs.
//!
//! A privacy change must hold on the very next read (PRIVACY.md), from whichever instance
//! and whichever account wrote it: an unfollow through instance A, then a read of
//! `visibleLikers` through instance B, must not show the liker's FOLLOWERS likes. So a
//! replica serves a read only when it has replayed every write committed before the read
//! began: [`Replicas::for_read`] asks the primary for its WAL flush position (every
//! acknowledged commit lies at or before it) and hands out a replica whose replay position
//! has reached it, else the primary. One trivial statement on the primary per read request
//! buys linearizable reads without slowing any write (a `synchronous_commit = remote_apply`
//! scheme instead makes every write wait for the slowest replica, and a write whose wait is
//! cancelled commits locally, leaving that replica behind unseen).
//!
//! Replay positions only grow, so a position once seen is a lower bound for good: a replica
//! already seen at or past the target is used without asking it again.
use std::{
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::backoff::{LogEvery, Pause};

/// The longest a read waits for a replica to tell its replay position before it runs on
/// the primary instead.
const ASK_TIMEOUT: Duration = Duration::from_millis(200);
/// How long a replica that failed to answer is left alone.
const PAUSE: Duration = Duration::from_secs(1);
/// How often, at most, one replica's trouble is logged.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The primary's WAL flush position, as a number (bytes since `0/0`).
const PRIMARY_POSITION: &str = "SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint";
/// A standby's replay position; `NULL` on a server that is not in recovery.
const REPLAY_POSITION: &str = "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint";

/// Where reads go: the primary and its replicas (none: everything on the primary).
#[derive(Clone)]
pub struct Replicas {
    primary: DatabaseConnection,
    inner: Arc<Inner>,
}

struct Inner {
    replicas: Vec<Replica>,
    next: AtomicUsize,
    on_replica: AtomicU64,
    on_primary: AtomicU64,
}

struct Replica {
    db: DatabaseConnection,
    /// `host:port/db` of its URL, for logs (never the password).
    name: String,
    /// The highest replay position seen.
    replayed: AtomicU64,
    /// While on, the replica is not used.
    pause: Pause,
    log: LogEvery,
}

/// The primary, as schema data: the few query fields that write (the analytics window
/// caches, the ε an app spends) take it, so that they write to the primary, and read their
/// own writes, when the rest of their query runs on a replica.
#[derive(Clone)]
pub struct Primary(pub DatabaseConnection);

/// How many read requests ran where, since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadCounts {
    pub on_replica: u64,
    pub on_primary: u64,
}

impl Replicas {
    /// Reads on `replicas` (pools already connected to streaming standbys of `primary`,
    /// each with its URL), round robin, whenever fresh enough.
    pub fn new(primary: DatabaseConnection, replicas: Vec<(String, DatabaseConnection)>) -> Self {
        let replicas = replicas
            .into_iter()
            .map(|(url, db)| Replica {
                db,
                name: display_name(&url),
                replayed: AtomicU64::new(0),
                pause: Pause::default(),
                log: LogEvery::new(LOG_EVERY),
            })
            .collect::<Vec<_>>();
        if !replicas.is_empty() {
            let names: Vec<&str> = replicas.iter().map(|r| r.name.as_str()).collect();
            tracing::info!(
                ?names,
                "queries run on these read replicas whenever they are fresh"
            );
        }
        Replicas {
            primary,
            inner: Arc::new(Inner {
                replicas,
                next: AtomicUsize::new(0),
                on_replica: AtomicU64::new(0),
                on_primary: AtomicU64::new(0),
            }),
        }
    }

    /// Whether any replica is configured.
    pub fn any(&self) -> bool {
        !self.inner.replicas.is_empty()
    }

    /// Where a read-only request that starts now runs: a replica (round robin) that has
    /// replayed every write committed on the primary so far, else the primary.
    pub async fn for_read(&self) -> DatabaseConnection {
        let inner = &self.inner;
        if inner.replicas.is_empty() {
            return self.primary.clone();
        }
        let chosen = match primary_position(&self.primary).await {
            Ok(target) => self.fresh_replica(target).await,
            // The primary will report its own trouble to the read itself.
            Err(_) => None,
        };
        match chosen {
            Some(db) => {
                inner.on_replica.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(crate::observability::metrics::DB_READS, "on" => "replica")
                    .increment(1);
                db
            }
            None => {
                inner.on_primary.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(crate::observability::metrics::DB_READS, "on" => "primary")
                    .increment(1);
                self.primary.clone()
            }
        }
    }

    /// Read requests served by replicas and by the primary so far.
    pub fn read_counts(&self) -> ReadCounts {
        ReadCounts {
            on_replica: self.inner.on_replica.load(Ordering::Relaxed),
            on_primary: self.inner.on_primary.load(Ordering::Relaxed),
        }
    }

    async fn fresh_replica(&self, target: u64) -> Option<DatabaseConnection> {
        let replicas = &self.inner.replicas;
        let start = self.inner.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..replicas.len() {
            let replica = &replicas[(start + i) % replicas.len()];
            if replica.pause.is_on() {
                continue;
            }
            if replica.replayed.load(Ordering::Relaxed) >= target {
                return Some(replica.db.clone());
            }
            match tokio::time::timeout(ASK_TIMEOUT, replay_position(&replica.db)).await {
                Ok(Ok(Some(position))) => {
                    replica.replayed.fetch_max(position, Ordering::Relaxed);
                    if position >= target {
                        return Some(replica.db.clone());
                    }
                    tracing::debug!(
                        replica = %replica.name,
                        behind_bytes = target - position,
                        "replica behind the primary: read on the primary"
                    );
                }
                Ok(Ok(None)) => replica.trouble("is no longer a standby (promoted?)"),
                Ok(Err(e)) => replica.trouble(&format!("failed: {e}")),
                Err(_) => replica.trouble("did not tell its replay position within 200 ms"),
            }
        }
        None
    }
}

impl Replica {
    /// Leaves the replica alone for [`PAUSE`]; logs at most every [`LOG_EVERY`].
    fn trouble(&self, what: &str) {
        self.pause.start(PAUSE);
        if self.log.due() {
            tracing::warn!(
                replica = %self.name,
                "read replica {what}: reads run on the primary meanwhile"
            );
        }
    }
}

async fn primary_position(db: &DatabaseConnection) -> anyhow::Result<u64> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            PRIMARY_POSITION,
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no WAL position"))?;
    let position: i64 = row.try_get_by_index(0)?;
    Ok(position.unsigned_abs())
}

/// The replay position of a standby; `None` when the server is not in recovery.
async fn replay_position(db: &DatabaseConnection) -> anyhow::Result<Option<u64>> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, REPLAY_POSITION))
        .await?;
    let position: Option<i64> = match row {
        Some(row) => row.try_get_by_index(0)?,
        None => None,
    };
    Ok(position.map(i64::unsigned_abs))
}

/// Connects a pool of `pool` connections to each of `urls` and checks that each is a
/// standby; for [`Replicas::new`]. Replicas need PostgreSQL, for `primary` too.
pub async fn connect_all(
    primary: &DatabaseConnection,
    urls: &[String],
    pool: u32,
) -> anyhow::Result<Vec<(String, DatabaseConnection)>> {
    let mut replicas = Vec::with_capacity(urls.len());
    for url in urls.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
        let name = display_name(url);
        if primary.get_database_backend() != DbBackend::Postgres
            || !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            anyhow::bail!(
                "read replica `{name}`: read replicas need PostgreSQL, for the primary \
                 (DATABASE_URL) and every replica (postgres://USER@HOST:PORT/DB)"
            );
        }
        let db = super::connect(url, pool)
            .await
            .map_err(|e| anyhow::anyhow!("read replica `{name}`: {e}"))?;
        if replay_position(&db).await?.is_none() {
            anyhow::bail!(
                "read replica `{name}` is not a standby (pg_is_in_recovery() is false): \
                 give the URL of a streaming replica of DATABASE_URL"
            );
        }
        replicas.push((url.to_owned(), db));
    }
    Ok(replicas)
}

/// `host:port/db` of a database URL: without the user, password and parameters.
fn display_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split('?').next().unwrap_or(rest).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_is_named_without_its_credentials() {
        assert_eq!(
            display_name("postgres://tally:s3cret@db-2.internal:5433/tally?sslmode=require"),
            "db-2.internal:5433/tally"
        );
        assert_eq!(display_name("postgres://replica/tally"), "replica/tally");
    }
}
