//! The ledger of what third-party apps were told, and their daily ε budgets (PRIVACY.md
//! "Aggregates": stable noise, a daily budget per app and creator).
//!
//! **A question** is one figure of `appAnalytics` — its field path without list indices
//! (`views`, `daily`, `audience.likers`, …) — for one client (so one app of one creator), over
//! one window (its first and last day). Asked again, it is answered from `app_answers` with
//! the very answer given first, at no cost: asking one figure a thousand times gives the same
//! number a thousand times, and averaging gains nothing. (OpenDP's noise cannot be seeded from
//! a keyed hash of the question, so the answer is kept instead; that also keeps the answer
//! fixed when the exact figure changes during the day — the followers breakdown is live —
//! where derived noise would give away the exact change.)
//!
//! **A new question** spends ε from the client's budget of the day (UTC, by the service
//! clock), in one transaction that first locks the `(client, day)` row of `app_budgets`
//! (`FOR UPDATE` on PostgreSQL; SQLite's write lock at `BEGIN`), then looks for the question
//! again (another instance may have answered it meanwhile: its answer wins and nothing is
//! spent), checks that the ε fits, records the answer and adds the ε. So questions racing
//! from any number of instances for the last ε are serial on that row and never overspend.
//! ε is kept in millionths, so the budget runs out exactly.
use std::future::Future;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use serde::{de::DeserializeOwned, Serialize};
use uuid::Uuid;

use super::rollups::DAY_US;
use crate::{
    config::AppSettings,
    db::{self, col, Sql},
    error::{AppError, AppResult},
    frag,
};

/// ε in millionths: the ledger's exact unit.
pub const MICRO: f64 = 1_000_000.0;

/// What a new question costs and what a client may spend per day, in millionths of ε.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub epsilon_micro: i64,
    pub daily_micro: i64,
}

impl Budget {
    /// The budget of the settings (`TALLY_APP_EPSILON`, `TALLY_APP_DAILY_EPSILON`).
    pub fn of(settings: &AppSettings) -> Self {
        Budget {
            epsilon_micro: micro(settings.epsilon),
            daily_micro: micro(settings.daily_epsilon),
        }
    }

    /// ε of one question.
    pub fn epsilon(&self) -> f64 {
        self.epsilon_micro as f64 / MICRO
    }
}

fn micro(epsilon: f64) -> i64 {
    // The flags bound ε to 0.000001..=1000: the product fits.
    (epsilon * MICRO).round() as i64
}

/// One question: a client, a window and a figure's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub client: Uuid,
    pub from: i32,
    pub to: i32,
    pub path: String,
}

/// The first instant of the UTC day after `today` (days since 1970): when its budget is whole
/// again.
pub fn resets_at(today: i32) -> DateTime<Utc> {
    DateTime::from_timestamp_micros((i64::from(today) + 1) * DAY_US).unwrap_or_default()
}

/// The UTC day (days since 1970) of an instant in microseconds.
pub fn day_of(now_us: i64) -> i32 {
    i32::try_from(now_us.div_euclid(DAY_US)).unwrap_or(i32::MAX)
}

/// The ε (millionths) `client` has spent on `day`.
pub async fn spent(db: &impl ConnectionTrait, client: Uuid, day: i32) -> AppResult<i64> {
    let mut q = Sql::default();
    let (c, d) = (q.bind(client), q.bind(day));
    q.append(frag![
        "SELECT spent_micro FROM app_budgets WHERE client_id = ",
        c,
        " AND day = ",
        d
    ]);
    match q.one(db).await? {
        Some(row) => col(&row, "spent_micro"),
        None => Ok(0),
    }
}

/// The answer to `question`: the one recorded, else `compute`'s (the noisy figure and the
/// noise's standard deviation), recorded at `now_us` and paid from the client's budget of
/// that UTC day —
/// `BUDGET_EXHAUSTED` when its ε does not fit. `compute` answering `None` (nothing to
/// release: a breakdown withheld under the minimum audience) records and costs nothing.
pub async fn answer<T, F>(
    db: &DatabaseConnection,
    question: &Question,
    budget: Budget,
    now_us: i64,
    compute: F,
) -> AppResult<Option<T>>
where
    T: Serialize + DeserializeOwned,
    F: Future<Output = AppResult<Option<(T, f64)>>>,
{
    if let Some(text) = recorded(db, question).await? {
        return Ok(Some(parse(&text)?));
    }
    let Some((value, std_dev)) = compute.await? else {
        return Ok(None);
    };
    let body = serde_json::to_string(&value).map_err(AppError::internal)?;
    let (question, body_ref) = (question.clone(), &body);
    let today = day_of(now_us);
    let first = db::transaction(db, move |txn| {
        let question = question.clone();
        let body = body_ref.clone();
        Box::pin(async move {
            let spent = lock_budget(txn, question.client, today).await?;
            if let Some(text) = recorded(txn, &question).await? {
                return Ok(Some(text));
            }
            if spent + budget.epsilon_micro > budget.daily_micro {
                return Err(AppError::BudgetExhausted {
                    resets_at: resets_at(today),
                });
            }
            record(txn, &question, budget.epsilon_micro, std_dev, &body, now_us).await?;
            let mut q = Sql::default();
            let (e, c, d) = (
                q.bind(budget.epsilon_micro),
                q.bind(question.client),
                q.bind(today),
            );
            q.append(frag![
                "UPDATE app_budgets SET spent_micro = spent_micro + ",
                e,
                " WHERE client_id = ",
                c,
                " AND day = ",
                d
            ]);
            q.execute(txn).await?;
            Ok(None)
        })
    })
    .await?;
    match first {
        Some(text) => Ok(Some(parse(&text)?)),
        None => Ok(Some(value)),
    }
}

fn parse<T: DeserializeOwned>(text: &str) -> AppResult<T> {
    serde_json::from_str(text).map_err(AppError::internal)
}

/// The answer recorded for `question`, if any.
async fn recorded(db: &impl ConnectionTrait, question: &Question) -> AppResult<Option<String>> {
    let mut q = Sql::default();
    let (c, t, f, p) = (
        q.bind(question.client),
        q.bind(question.to),
        q.bind(question.from),
        q.bind(question.path.clone()),
    );
    q.append(frag![
        "SELECT answer FROM app_answers WHERE client_id = ",
        c,
        " AND to_day = ",
        t,
        " AND from_day = ",
        f,
        " AND question = ",
        p
    ]);
    match q.one(db).await? {
        Some(row) => Ok(Some(col(&row, "answer")?)),
        None => Ok(None),
    }
}

/// Locks the client's budget row of `day` (creating it) until the transaction ends; what it
/// has spent.
async fn lock_budget(txn: &impl ConnectionTrait, client: Uuid, day: i32) -> AppResult<i64> {
    let mut q = Sql::default();
    let (c, d) = (q.bind(client), q.bind(day));
    q.append(frag![
        "INSERT INTO app_budgets (client_id, day, spent_micro) VALUES (",
        c,
        ", ",
        d,
        ", 0) ON CONFLICT (client_id, day) DO NOTHING"
    ]);
    q.execute(txn).await?;
    let mut q = Sql::default();
    let (c, d) = (q.bind(client), q.bind(day));
    let lock = if txn.get_database_backend() == DbBackend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    q.append(frag![
        "SELECT spent_micro FROM app_budgets WHERE client_id = ",
        c,
        " AND day = ",
        d,
        lock
    ]);
    let row = q
        .one(txn)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("budget row vanished")))?;
    col(&row, "spent_micro")
}

async fn record(
    txn: &impl ConnectionTrait,
    question: &Question,
    epsilon_micro: i64,
    std_dev: f64,
    body: &str,
    now_us: i64,
) -> AppResult<()> {
    let mut q = Sql::default();
    let (c, t, f, p, e, s, b, n) = (
        q.bind(question.client),
        q.bind(question.to),
        q.bind(question.from),
        q.bind(question.path.clone()),
        q.bind(epsilon_micro),
        q.bind(std_dev),
        q.bind(body.to_owned()),
        q.bind(now_us),
    );
    q.append(frag![
        "INSERT INTO app_answers (client_id, to_day, from_day, question, epsilon_micro, \
         std_dev, answer, created_at) VALUES (",
        c,
        ", ",
        t,
        ", ",
        f,
        ", ",
        p,
        ", ",
        e,
        ", ",
        s,
        ", ",
        b,
        ", ",
        n,
        ")"
    ]);
    q.execute(txn).await?;
    Ok(())
}
