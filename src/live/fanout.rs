//! How a [`Notice`] reaches every instance. PostgreSQL: `NOTIFY` on channel
//! [`CHANNEL`] with the notice as JSON (IDs and counts only), and one `LISTEN`ing
//! connection per instance (sqlx's `PgListener`, SeaORM's own driver, which reconnects by
//! itself; after a reconnection the hub resynchronizes). SQLite, which is one instance by
//! construction: in process.
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use super::{Hub, Notice};
use crate::error::{AppError, AppResult};

/// The PostgreSQL channel of live notices.
pub const CHANNEL: &str = "tally_live";

/// The fan-out of an instance.
pub enum Fanout {
    /// `NOTIFY`; every instance (this one too) hears it through its listener.
    Postgres,
    /// This instance is the only one: notices are dispatched in process.
    Local,
}

impl Fanout {
    /// `LISTEN/NOTIFY` on PostgreSQL, in process otherwise.
    pub fn for_backend(db: &DatabaseConnection) -> Self {
        match db.get_database_backend() {
            DbBackend::Postgres => Fanout::Postgres,
            _ => Fanout::Local,
        }
    }

    /// Whether notices are dispatched by the publishing instance itself.
    pub fn is_local(&self) -> bool {
        matches!(self, Fanout::Local)
    }

    /// Sends `notice` to the other instances (nothing to do in process).
    pub async fn send(&self, db: &DatabaseConnection, notice: &Notice) -> AppResult<()> {
        match self {
            Fanout::Local => Ok(()),
            Fanout::Postgres => {
                let payload = serde_json::to_string(notice).map_err(AppError::internal)?;
                db.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [CHANNEL.into(), payload.into()],
                ))
                .await?;
                Ok(())
            }
        }
    }
}

impl Hub {
    /// On PostgreSQL, listens for notices until the pool closes, dispatching each to this
    /// instance's subscribers; after a lost connection it reconnects and resynchronizes.
    /// Returns at once on SQLite.
    pub async fn run_listener(self) {
        if self.inner.fanout.is_local() {
            return;
        }
        let pool = self.db().get_postgres_connection_pool().clone();
        let mut listening = false;
        loop {
            let mut listener = match sea_orm::sqlx::postgres::PgListener::connect_with(&pool).await
            {
                Ok(l) => l,
                Err(e) if pool.is_closed() => {
                    tracing::debug!(error = %e, "live listener stopped: the pool is closed");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "live listener could not connect; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %e, "LISTEN failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            if listening {
                self.resynchronize();
            }
            listening = true;
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => match serde_json::from_str::<Notice>(n.payload()) {
                        Ok(notice) => self.dispatch(notice),
                        Err(e) => tracing::warn!(error = %e, "unreadable live notice"),
                    },
                    // The connection was lost: the next `try_recv` reconnects (and listens
                    // again); what was notified meanwhile is lost, so resynchronize.
                    Ok(None) => {
                        tracing::warn!("live listener lost its connection; reconnecting");
                        self.resynchronize();
                    }
                    Err(e) if pool.is_closed() => {
                        tracing::debug!(error = %e, "live listener stopped: the pool is closed");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "live listener failed; starting again");
                        break;
                    }
                }
            }
        }
    }
}
