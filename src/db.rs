//! Database plumbing: connecting, a small SQL builder whose placeholders work on both
//! backends, and transactions retried on transient conflicts.
use std::{future::Future, pin::Pin, time::Duration};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, QueryResult, Statement, TransactionSession, TransactionTrait, Value,
};

use crate::error::{AppError, AppResult};

/// Opens the pool; on SQLite, switches the file to WAL so readers never wait for a writer.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false)
        // The batched like statements are large and cheap; PostgreSQL's cost-based JIT
        // would spend ~400 ms compiling each of them (measured: 47 ms → 415 ms).
        .map_sqlx_postgres_opts(|o| o.options([("jit", "off")]));
    let db = Database::connect(opts).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
    }
    Ok(db)
}

/// Microseconds since the Unix epoch: the unit of every stored time.
pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// SQL text plus its values, with `$n` placeholders (understood by SQLite and PostgreSQL).
#[derive(Debug, Default)]
pub struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    /// Adds a value and returns its placeholder.
    pub fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }

    /// Adds every ID and returns their placeholders as a list for `IN (…)`.
    pub fn bind_list(&mut self, ids: &[uuid::Uuid]) -> String {
        let placeholders: Vec<String> = ids.iter().map(|id| self.bind(*id)).collect();
        placeholders.join(", ")
    }

    /// Appends SQL text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// The statement for `db`'s backend.
    pub fn build(&self, backend: DbBackend) -> Statement {
        Statement::from_sql_and_values(backend, self.text.clone(), self.values.clone())
    }

    /// Runs the query and returns every row.
    pub async fn all(&self, db: &impl ConnectionTrait) -> AppResult<Vec<QueryResult>> {
        Ok(db
            .query_all_raw(self.build(db.get_database_backend()))
            .await?)
    }

    /// [`Sql::all`], planned for its values on PostgreSQL rather than from a cached generic
    /// plan, for statements whose best plan depends on them (measured on a feed page's liker
    /// statement: a generic plan took 320 ms, a custom one 28 ms). Only such statements pay
    /// for planning on every run: the setting lasts for one read-only transaction.
    pub async fn all_planned_for_values(
        &self,
        db: &(impl ConnectionTrait + TransactionTrait),
    ) -> AppResult<Vec<QueryResult>> {
        if db.get_database_backend() != DbBackend::Postgres {
            return self.all(db).await;
        }
        let txn = db.begin().await?;
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
            .await?;
        let rows = self.all(&txn).await?;
        txn.commit().await?;
        Ok(rows)
    }

    /// Runs the query and returns the first row, if any.
    pub async fn one(&self, db: &impl ConnectionTrait) -> AppResult<Option<QueryResult>> {
        Ok(db
            .query_one_raw(self.build(db.get_database_backend()))
            .await?)
    }

    /// Runs a statement and returns the number of rows it touched.
    pub async fn execute(&self, db: &impl ConnectionTrait) -> AppResult<u64> {
        Ok(db
            .execute_raw(self.build(db.get_database_backend()))
            .await?
            .rows_affected())
    }
}

/// Reads column `col` of `row`.
pub fn col<T: sea_orm::TryGetable>(row: &QueryResult, col: &str) -> AppResult<T> {
    Ok(row.try_get::<T>("", col)?)
}

/// A future borrowing the transaction it runs in.
pub type TxFuture<'c, T> = Pin<Box<dyn Future<Output = AppResult<T>> + Send + 'c>>;

const MAX_ATTEMPTS: u32 = 8;

/// Runs `body` in one transaction, committed only if it succeeds; retried from the start
/// (a bounded number of times) when the database reports a transient conflict: a
/// PostgreSQL deadlock or serialization failure, or SQLite's "database is locked".
pub async fn transaction<T, F>(db: &DatabaseConnection, mut body: F) -> AppResult<T>
where
    F: for<'c> FnMut(&'c DatabaseTransaction) -> TxFuture<'c, T>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = async {
            let txn = db.begin().await?;
            if txn.get_database_backend() == DbBackend::Sqlite {
                // Take SQLite's single write lock before reading anything: a transaction that
                // reads first and writes later cannot wait for the lock (SQLITE_BUSY at once),
                // while a first write waits politely under the busy timeout.
                txn.execute_unprepared("UPDATE users SET id = id WHERE 1 = 0")
                    .await?;
            }
            let value = body(&txn).await?;
            txn.commit().await?;
            Ok(value)
        }
        .await;
        match result {
            Err(AppError::Internal(e)) if attempt < MAX_ATTEMPTS && is_transient(&e) => {
                tracing::warn!(attempt, error = %e, "transient conflict, retrying transaction");
                let backoff = 2u64.pow(attempt.min(6)) + rand::random::<u64>() % 5;
                tokio::time::sleep(Duration::from_millis(backoff)).await;
            }
            other => return other,
        }
    }
}

/// Whether a failure is a conflict that a retry of the whole transaction can clear.
fn is_transient(e: &anyhow::Error) -> bool {
    let Some(db_err) = e.downcast_ref::<DbErr>() else {
        return false;
    };
    let text = db_err.to_string();
    [
        "deadlock detected",
        "could not serialize access",
        "database is locked",
        "database table is locked",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}
