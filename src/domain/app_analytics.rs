//! `appAnalytics`: what a third-party app learns about the creator who made its client —
//! the figures of `creatorAnalytics` (the same reads, the same thresholds applied first),
//! each released once per question with OpenDP's noise ([`super::dp`]) and kept in the
//! ledger ([`super::privacy_budget`]). No answer names, counts apart or links an account.
//!
//! **Questions and their sensitivity** (L1, per unit of privacy; each question costs the
//! configured ε once):
//!
//! | question | figures | unit | sensitivity |
//! |---|---|---|---|
//! | `views` | views in the window | one view | 1 |
//! | `likes` | likes made in the window | one like | 1 |
//! | `newFollowers`, `lostFollowers` | follows approved / ended in the window | one follow / one unfollow | 1 |
//! | `daily` | views and likes of every day | one view or one like: one day, one column | 1 |
//! | `peakHours` | views and likes of every hour of the week | likewise: one hour, one column | 1 |
//! | `audience.viewers` | distinct signed-in viewers per bucket of 4 dimensions | one account | 4 |
//! | `audience.likers`, `audience.followers` | distinct accounts per bucket of 3 dimensions | one account | 3 |
//!
//! In a breakdown an account counts at most once per bucket and once per dimension (distinct
//! accounts): that is its contribution bound, so adding or removing one account moves each
//! dimension's vector by at most 1.
use std::future::Future;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    aggregates::{Breakdown, Dimension},
    creator_analytics::{Creator, Window},
    dp::{self, Calibration, Noisy},
    privacy_budget::{self, Budget, Question},
};
use crate::error::{AppError, AppResult};
use sea_orm::DatabaseConnection;

/// A figure of `appAnalytics` that is one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Views,
    Likes,
    NewFollowers,
    LostFollowers,
    Daily,
    PeakHours,
    Viewers,
    Likers,
    Followers,
}

impl Figure {
    /// The question's field path in `AppAnalytics`, without list indices.
    pub fn path(self) -> &'static str {
        match self {
            Figure::Views => "views",
            Figure::Likes => "likes",
            Figure::NewFollowers => "newFollowers",
            Figure::LostFollowers => "lostFollowers",
            Figure::Daily => "daily",
            Figure::PeakHours => "peakHours",
            Figure::Viewers => "audience.viewers",
            Figure::Likers => "audience.likers",
            Figure::Followers => "audience.followers",
        }
    }

    /// How far one unit of privacy moves the figure's whole vector (L1).
    pub fn sensitivity(self) -> u32 {
        match self {
            Figure::Viewers => 4,
            Figure::Likers | Figure::Followers => 3,
            _ => 1,
        }
    }

    /// The dimensions a breakdown figure releases (as many as its sensitivity counts).
    fn dimensions(self) -> &'static [Dimension] {
        match self {
            Figure::Viewers => &[
                Dimension::Age,
                Dimension::Region,
                Dimension::Language,
                Dimension::Device,
            ],
            Figure::Likers | Figure::Followers => {
                &[Dimension::Age, Dimension::Region, Dimension::Language]
            }
            _ => &[],
        }
    }
}

/// Who asks about whom, over which window, at what time and budget.
#[derive(Debug, Clone, Copy)]
pub struct Asker {
    pub client: Uuid,
    pub creator: Creator,
    pub window: Window,
    pub now_us: i64,
    pub budget: Budget,
}

impl Asker {
    fn question(&self, figure: Figure) -> Question {
        Question {
            client: self.client,
            from: self.window.from,
            to: self.window.to,
            path: figure.path().to_owned(),
        }
    }

    fn calibration(&self, figure: Figure) -> Calibration {
        Calibration {
            sensitivity: figure.sensitivity(),
            epsilon: self.budget.epsilon(),
        }
    }
}

/// One noisy count: `figure` (a total) from `exact`, or as answered before.
pub async fn total<F>(
    db: &DatabaseConnection,
    asker: &Asker,
    figure: Figure,
    exact: F,
) -> AppResult<Noisy>
where
    F: Future<Output = AppResult<i64>>,
{
    let answer = privacy_budget::answer(
        db,
        &asker.question(figure),
        asker.budget,
        asker.now_us,
        async {
            let noisy = dp::laplace(&[exact.await?], asker.calibration(figure))?;
            Ok(noisy.first().map(|n| (*n, n.std_dev)))
        },
    )
    .await?;
    answer.ok_or_else(|| AppError::internal(anyhow::anyhow!("a total had no answer")))
}

/// A series of (views, likes) pairs — one per day, or per hour of the week — noisy, from
/// `exact`, or as answered before.
pub async fn series<F>(
    db: &DatabaseConnection,
    asker: &Asker,
    figure: Figure,
    exact: F,
) -> AppResult<Vec<(Noisy, Noisy)>>
where
    F: Future<Output = AppResult<Vec<(i64, i64)>>>,
{
    let answer = privacy_budget::answer(
        db,
        &asker.question(figure),
        asker.budget,
        asker.now_us,
        async {
            let exact = exact.await?;
            let flat: Vec<i64> = exact.iter().flat_map(|(v, l)| [*v, *l]).collect();
            let noisy = dp::laplace(&flat, asker.calibration(figure))?;
            let sd = noisy.first().map_or(0.0, |n| n.std_dev);
            let pairs: Vec<(Noisy, Noisy)> = noisy.chunks_exact(2).map(|p| (p[0], p[1])).collect();
            Ok(Some((pairs, sd)))
        },
    )
    .await?;
    Ok(answer.unwrap_or_default())
}

/// A breakdown as an app receives it: per dimension, the shown buckets (after the
/// thresholds) with noisy counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoisyBreakdown {
    pub dimensions: Vec<(Dimension, Vec<(String, Noisy)>)>,
}

impl NoisyBreakdown {
    /// The buckets of `d` (none when the breakdown has no such dimension).
    pub fn buckets(&self, d: Dimension) -> Vec<(String, Noisy)> {
        self.dimensions
            .iter()
            .find(|(x, _)| *x == d)
            .map(|(_, b)| b.clone())
            .unwrap_or_default()
    }
}

/// A breakdown figure, noisy: the shown buckets of `exact` (thresholds applied there, before
/// any noise) with noise on every count, or as answered before; `None` when `exact` is
/// withheld (nothing released, nothing spent).
pub async fn breakdown<F>(
    db: &DatabaseConnection,
    asker: &Asker,
    figure: Figure,
    exact: F,
) -> AppResult<Option<NoisyBreakdown>>
where
    F: Future<Output = AppResult<Breakdown>>,
{
    privacy_budget::answer(
        db,
        &asker.question(figure),
        asker.budget,
        asker.now_us,
        async {
            let Breakdown::Shown { dimensions, .. } = exact.await? else {
                return Ok(None);
            };
            let shown: Vec<(Dimension, Vec<(String, i64)>)> = figure
                .dimensions()
                .iter()
                .map(|d| {
                    let buckets = dimensions.get(d).cloned().unwrap_or_default();
                    (*d, buckets.into_iter().map(|b| (b.key, b.count)).collect())
                })
                .collect();
            let flat: Vec<i64> = shown
                .iter()
                .flat_map(|(_, b)| b.iter().map(|(_, n)| *n))
                .collect();
            let noisy = dp::laplace(&flat, asker.calibration(figure))?;
            let std_dev = noisy.first().map_or(0.0, |n| n.std_dev);
            let mut noisy = noisy.into_iter();
            let dimensions = shown
                .into_iter()
                .map(|(d, buckets)| {
                    let keys = buckets
                        .into_iter()
                        .zip(noisy.by_ref())
                        .map(|((key, _), n)| (key, n))
                        .collect();
                    (d, keys)
                })
                .collect();
            Ok(Some((NoisyBreakdown { dimensions }, std_dev)))
        },
    )
    .await
}
