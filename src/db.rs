//! Database plumbing: connecting, a small SQL builder whose placeholders work on both
//! backends, and transactions retried on transient conflicts.
use std::{borrow::Cow, fmt, future::Future, pin::Pin, time::Duration};

use sea_orm::{
    error::{SqlxError, SqlxSqliteError},
    sqlx::error::{DatabaseError, ErrorKind},
    ActiveEnum, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, IdenStatic, QueryResult, RuntimeErr, Statement, TransactionSession,
    TransactionTrait, Value,
};

use crate::error::{AppError, AppResult};

pub mod replicas;

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

/// Whether `e` is a database refusal of a row whose foreign key names no row (a row that
/// referenced a video or account deleted since it was checked).
pub fn is_foreign_key_violation(e: &AppError) -> bool {
    let AppError::Internal(e) = e else {
        return false;
    };
    e.downcast_ref::<DbErr>()
        .and_then(DbErr::sql_err)
        .is_some_and(|s| matches!(s, sea_orm::SqlErr::ForeignKeyConstraintViolation(_)))
}

/// The placeholder (`$n`) of a value bound to an [`Sql`] statement. Only [`Sql::bind`]
/// makes one, so a fragment that takes a `Param` for a value can only ever splice in a
/// placeholder, never the value's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Param(usize);

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.0)
    }
}

/// The name of a table, a column or an alias, possibly qualified (`l.user_id`): built only
/// from `&'static str` text or an entity's columns and table names, never from data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident(Cow<'static, str>);

impl Ident {
    /// A name written in the source.
    pub const fn new(name: &'static str) -> Self {
        Ident(Cow::Borrowed(name))
    }

    /// An entity's column (or table) under its own name: `user_id`.
    pub fn of(name: impl IdenStatic) -> Self {
        Ident(Cow::Borrowed(name.as_str()))
    }

    /// An entity's column qualified by a table alias: `l.user_id`.
    pub fn at(alias: &'static str, column: impl IdenStatic) -> Self {
        Ident(Cow::Owned(format!("{alias}.{}", column.as_str())))
    }

    /// The name as written in SQL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A piece of SQL text, built only from [`Part`]s: `&'static str` text, placeholders
/// ([`Param`]), names ([`Ident`]), numbers, enum literals ([`lit`]) and other fragments.
/// A value of the user's can only enter a statement through [`Sql::bind`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Frag(String);

impl Frag {
    /// No text.
    pub const fn new() -> Self {
        Frag(String::new())
    }

    /// Appends `part`.
    pub fn push(&mut self, part: impl Part) -> &mut Self {
        part.write_to(&mut self.0);
        self
    }

    /// `parts` one after another, `sep` between each two.
    pub fn join<P: Part>(parts: impl IntoIterator<Item = P>, sep: &'static str) -> Self {
        let mut out = Frag::new();
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                out.push(sep);
            }
            out.push(part);
        }
        out
    }

    /// The fragment without trailing whitespace.
    pub fn trim_end(mut self) -> Self {
        let len = self.0.trim_end().len();
        self.0.truncate(len);
        self
    }

    /// The SQL text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Frag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a [`Frag`] may be built from. Sealed: no other type can be one.
pub trait Part: sealed::Sealed {
    /// Appends this part's SQL text to `out`.
    fn write_to(&self, out: &mut String);
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for &'static str {}
    impl Sealed for super::Param {}
    impl Sealed for super::Ident {}
    impl Sealed for super::Frag {}
    impl Sealed for i64 {}
    impl Sealed for i32 {}
    impl Sealed for usize {}
    impl<T: Sealed + ?Sized> Sealed for &T {}
}

/// SQL text written in the source (a `&'static str`: text computed at run time, which might
/// hold data, is not one).
impl Part for &'static str {
    fn write_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Part for Param {
    fn write_to(&self, out: &mut String) {
        out.push_str(&self.to_string());
    }
}

impl Part for Ident {
    fn write_to(&self, out: &mut String) {
        out.push_str(&self.0);
    }
}

impl Part for Frag {
    fn write_to(&self, out: &mut String) {
        out.push_str(&self.0);
    }
}

/// An integer literal (numbers cannot carry SQL).
impl Part for i64 {
    fn write_to(&self, out: &mut String) {
        out.push_str(&self.to_string());
    }
}

impl Part for i32 {
    fn write_to(&self, out: &mut String) {
        out.push_str(&self.to_string());
    }
}

impl Part for usize {
    fn write_to(&self, out: &mut String) {
        out.push_str(&self.to_string());
    }
}

impl<T: Part + ?Sized> Part for &T {
    fn write_to(&self, out: &mut String) {
        (**self).write_to(out);
    }
}

/// A [`Frag`] of its parts, one after another: `frag!["a.id = ", p, " AND ", other]`.
#[macro_export]
macro_rules! frag {
    ($($part:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut out = $crate::db::Frag::new();
        $( out.push($part); )*
        out
    }};
}

/// The quoted SQL literal of an entity enum's value, as stored: `lit(FollowState::Approved)`
/// is `'APPROVED'`.
pub fn lit<E: ActiveEnum<Value = String>>(value: E) -> Frag {
    Frag(format!("'{}'", value.to_value().replace('\'', "''")))
}

/// SQL text plus its values, with `$n` placeholders (understood by SQLite and PostgreSQL).
#[derive(Debug, Default)]
pub struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    /// Adds a value and returns its placeholder.
    pub fn bind(&mut self, value: impl Into<Value>) -> Param {
        self.values.push(value.into());
        Param(self.values.len())
    }

    /// Adds every ID and returns their placeholders as a list for `IN (…)`.
    pub fn bind_list(&mut self, ids: &[uuid::Uuid]) -> Frag {
        let placeholders: Vec<Param> = ids.iter().map(|id| self.bind(*id)).collect();
        Frag::join(placeholders, ", ")
    }

    /// Appends SQL text built from typed parts: what the service's statements are made of.
    pub fn append(&mut self, part: impl Part) -> &mut Self {
        part.write_to(&mut self.text);
        self
    }

    /// Appends SQL text as it is, unchecked: for test fixtures and the benchmark's seed
    /// data, which write their own statements. The service builds its statements with
    /// [`Sql::append`], from typed parts only.
    pub fn push_unchecked(&mut self, text: &str) -> &mut Self {
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
/// PostgreSQL deadlock or serialization failure, or SQLite's `SQLITE_BUSY`/`SQLITE_LOCKED`.
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
                crate::observability::metrics::transaction_retry();
                let backoff = 2u64.pow(attempt.min(6)) + rand::random::<u64>() % 5;
                tokio::time::sleep(Duration::from_millis(backoff)).await;
            }
            other => return other,
        }
    }
}

/// Whether a failure is a conflict that a retry of the whole transaction can clear,
/// judged by the database's error code, never by its message text.
fn is_transient(e: &anyhow::Error) -> bool {
    let Some(db_err) = e.downcast_ref::<DbErr>().and_then(database_error) else {
        return false;
    };
    let Some(code) = db_err.code() else {
        return false;
    };
    if db_err.try_downcast_ref::<SqlxSqliteError>().is_some() {
        code.parse().is_ok_and(is_transient_sqlite_code)
    } else {
        is_transient_sqlstate(&code)
    }
}

/// PostgreSQL: `40001` serialization_failure, `40P01` deadlock_detected.
fn is_transient_sqlstate(code: &str) -> bool {
    matches!(code, "40001" | "40P01")
}

/// SQLite (sqlx reports the extended result code): `SQLITE_BUSY` (5) and `SQLITE_LOCKED`
/// (6), with every extended code of theirs (`SQLITE_BUSY_SNAPSHOT` = 517, …), whose low
/// byte is the primary code.
fn is_transient_sqlite_code(code: i32) -> bool {
    matches!(code & 0xff, 5 | 6)
}

/// The database's own report of a failed statement, if the failure is one.
pub fn database_error(e: &DbErr) -> Option<&(dyn DatabaseError + 'static)> {
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            SqlxError::Database(d) => Some(d.as_ref()),
            _ => None,
        },
        _ => None,
    }
}

/// A unique violation, with the name of the violated constraint or unique index when the
/// database reports it: PostgreSQL always does; SQLite never does (sqlx's `SqliteError`
/// carries only a code and a message), so there it is `Some(None)`.
pub fn unique_violation(e: &DbErr) -> Option<Option<&str>> {
    let db_err = database_error(e)?;
    (db_err.kind() == ErrorKind::UniqueViolation).then(|| db_err.constraint())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_sql_parts_render_as_written() {
        use entity::{like, Audience, FollowState, Visibility};
        assert_eq!(lit(FollowState::Approved).as_str(), "'APPROVED'");
        assert_eq!(lit(Audience::OnlyMe).as_str(), "'ONLY_ME'");
        assert_eq!(lit(Visibility::Private).as_str(), "'PRIVATE'");
        let mut q = Sql::default();
        let (a, b) = (q.bind(1i64), q.bind("x' OR 1 = 1 --"));
        let ids = q.bind_list(&[uuid::Uuid::nil(), uuid::Uuid::max()]);
        let col = Ident::at("l", like::Column::UserId);
        let f = frag![
            col,
            " = ",
            a,
            " AND n = ",
            b,
            " AND id IN (",
            ids,
            ") LIMIT ",
            7i64
        ];
        assert_eq!(
            f.as_str(),
            "l.user_id = $1 AND n = $2 AND id IN ($3, $4) LIMIT 7"
        );
        assert_eq!(Ident::of(like::Column::Audience).as_str(), "audience");
        assert_eq!(frag!["a ", Frag::new(), "b  "].trim_end().as_str(), "a b");
        q.append(f);
        let stmt = q.build(DbBackend::Postgres);
        assert_eq!(stmt.values.map(|v| v.0.len()), Some(4));
    }

    #[test]
    fn transient_codes_are_the_conflicts_a_retry_clears() {
        assert!(is_transient_sqlstate("40001"));
        assert!(is_transient_sqlstate("40P01"));
        for other in ["23505", "40002", "40003", "57014", "08006", "", "40p01"] {
            assert!(!is_transient_sqlstate(other), "{other}");
        }
        // SQLITE_BUSY, SQLITE_LOCKED and their extended codes.
        for code in [5, 6, 261, 517, 773, 262, 518] {
            assert!(is_transient_sqlite_code(code), "{code}");
        }
        // SQLITE_ERROR, SQLITE_CONSTRAINT_UNIQUE (2067), SQLITE_FULL, SQLITE_IOERR_*.
        for code in [0, 1, 2067, 1555, 13, 10, 266, 7] {
            assert!(!is_transient_sqlite_code(code), "{code}");
        }
    }

    fn temp_sqlite() -> String {
        let path = std::env::temp_dir().join(format!("tally-db-test-{}.db", uuid::Uuid::new_v4()));
        format!("sqlite://{}?mode=rwc", path.display())
    }

    #[tokio::test]
    async fn a_locked_sqlite_database_is_transient_and_a_duplicate_is_not() {
        let url = temp_sqlite();
        let first = connect(&url, 1).await.expect("connect");
        let second = connect(&url, 1).await.expect("connect");
        first
            .execute_unprepared("CREATE TABLE t (x INTEGER PRIMARY KEY)")
            .await
            .expect("create");
        second
            .execute_unprepared("PRAGMA busy_timeout = 0")
            .await
            .expect("no waiting");
        let txn = first.begin().await.expect("begin");
        txn.execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .expect("write lock taken");
        let busy = second
            .execute_unprepared("INSERT INTO t VALUES (2)")
            .await
            .expect_err("the database is locked");
        let code = database_error(&busy).and_then(|d| d.code().map(std::borrow::Cow::into_owned));
        assert!(is_transient(&busy.into()), "SQLITE_BUSY ({code:?})");
        txn.commit().await.expect("commit");

        let duplicate = second
            .execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .expect_err("duplicate key");
        assert_eq!(unique_violation(&duplicate), Some(None), "{duplicate}");
        assert!(!is_transient(&duplicate.into()));
        assert!(!is_transient(&anyhow::anyhow!("database is locked")));
    }
}
