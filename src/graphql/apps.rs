//! Third-party analytics apps: a creator's clients (`createApiClient`, `revokeApiClient`,
//! `User.apiClients`, the `ApiClient` node) and what an app may read, `appAnalytics` — the
//! granting creator's aggregates, each count with differentially private noise. Thin: the
//! clients are `domain::apps`, the figures `domain::app_analytics` (over the reads of
//! `domain::creator_analytics`), the noise `domain::dp`, the ledger and the budget
//! `domain::privacy_budget`. Who may call what is [`super::principal`]. No field here yields
//! an account.
use std::sync::Arc;

use async_graphql::{Context, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::{
    connection::datetime,
    context::{app, app_settings, clock, db, ids, primary, signed_in, thresholds, viewer},
    creator_analytics::{AnalyticsWindow, Date, WithheldReason},
};
use crate::{
    auth::app_token::AppGrant,
    domain::{
        aggregates::Dimension,
        app_analytics::{self as aa, Asker, Figure},
        apps,
        creator_analytics::{self as ca, Window, WindowReads},
        dp::Noisy,
        privacy_budget::{self, Budget, MICRO},
        PublicUser,
    },
    error::AppError,
    ids::Kind,
    ratelimit::{self, Limit},
};

/// A creator's app: an OAuth2 client that may read the creator's aggregates with noise.
#[derive(Clone)]
pub struct ApiClient(pub apps::ApiClient);

/// A creator's app: an OAuth2 client that may read the creator's aggregates with noise.
#[Object]
impl ApiClient {
    /// Also the `client_id` of `POST /oauth/token`.
    pub(super) async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        Ok(ID(ids(ctx)?.encode_id(Kind::ApiClient, self.0.id)))
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }

    /// When it was revoked: its tokens are refused since.
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at.map(datetime)
    }
}

/// A new client and its secret, shown this once (only its hash is kept).
#[derive(SimpleObject)]
pub struct ApiClientCredentials {
    client: ApiClient,
    /// The `client_id` of `POST /oauth/token` (the client's `id`).
    client_id: String,
    /// The `client_secret`; it cannot be shown again.
    client_secret: String,
}

/// The apps slice's fields of `User`.
pub struct UserApps(pub PublicUser);

#[Object]
impl UserApps {
    /// The account's apps, newest first, revoked ones too; `null` unless the viewer is this
    /// account.
    async fn api_clients(&self, ctx: &Context<'_>) -> Result<Option<Vec<ApiClient>>> {
        if viewer(ctx).id() != Some(self.0.id) {
            return Ok(None);
        }
        Ok(Some(
            apps::clients_of(db(ctx)?, self.0.id)
                .await?
                .into_iter()
                .map(ApiClient)
                .collect(),
        ))
    }
}

/// The client `id` for `node(id)`: only its creator finds it.
pub async fn own_client(ctx: &Context<'_>, id: uuid::Uuid) -> Result<Option<ApiClient>> {
    Ok(apps::own_client(db(ctx)?, viewer(ctx).id(), id)
        .await?
        .map(ApiClient))
}

/// The apps part of the mutation root.
#[derive(Default)]
pub struct AppsMutation;

#[Object]
impl AppsMutation {
    /// Makes an app for the signed-in `CREATOR` (`FORBIDDEN` for a personal account): its
    /// credentials, the secret shown only here. `name`: 1–100 characters. Limited by the
    /// auth bucket (the secret is hashed with Argon2id).
    async fn create_api_client(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<ApiClientCredentials> {
        ratelimit::check(ctx, Limit::Auth).await?;
        let made =
            apps::create_client(db(ctx)?, viewer(ctx).id(), &name, clock(ctx).now_us()).await?;
        let client_id = ids(ctx)?.encode_id(Kind::ApiClient, made.client.id);
        Ok(ApiClientCredentials {
            client: ApiClient(made.client),
            client_id,
            client_secret: made.secret,
        })
    }

    /// Revokes one of the viewer's apps: its tokens are refused from the next request on
    /// (revoking again changes nothing). `NOT_FOUND` for any other ID.
    async fn revoke_api_client(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let me = signed_in(ctx).await?;
        let client = ids(ctx)?.decode_id("id", Kind::ApiClient, &id)?;
        apps::revoke_client(db(ctx)?, me, client, clock(ctx).now_us()).await?;
        Ok(true)
    }
}

/// A count with differentially private noise.
#[derive(SimpleObject, Clone, Copy)]
pub struct NoisyCount {
    /// The count plus noise (it may be below zero, or off by a few).
    value: i32,
    /// The standard deviation of the noise (0 = exact).
    std_dev: f64,
}

impl From<Noisy> for NoisyCount {
    fn from(n: Noisy) -> Self {
        NoisyCount {
            value: i32::try_from(n.value.clamp(i64::from(i32::MIN), i64::from(i32::MAX)))
                .unwrap_or_default(),
            std_dev: n.std_dev,
        }
    }
}

/// The app's privacy budget for this creator today (UTC).
#[derive(SimpleObject)]
pub struct PrivacyBudget {
    /// ε a new question spends.
    epsilon_per_query: f64,
    /// ε the app may spend per creator and UTC day.
    daily_epsilon: f64,
    spent_today: f64,
    remaining_today: f64,
    /// The next UTC midnight, when the budget is whole again.
    resets_at: DateTime<Utc>,
}

/// One UTC day's views and likes, noisy.
#[derive(SimpleObject)]
pub struct NoisyDailyStats {
    day: Date,
    views: NoisyCount,
    likes: NoisyCount,
}

/// One hour of the week (UTC), summed over the window, noisy.
#[derive(SimpleObject)]
pub struct NoisyHourStats {
    /// 1 = Monday … 7 = Sunday.
    day_of_week: i32,
    hour: i32,
    views: NoisyCount,
    likes: NoisyCount,
}

/// A bucket of a breakdown: distinct accounts, noisy. `OTHER` holds the folded small buckets.
#[derive(SimpleObject)]
pub struct NoisyBucket {
    key: String,
    count: NoisyCount,
}

/// Distinct accounts by demographic bucket, noisy; the thresholds apply before the noise
/// (withheld under the minimum audience, small buckets folded into `OTHER`).
#[derive(SimpleObject)]
#[graphql(name = "NoisyBreakdown")]
pub struct NoisyBreakdownObject {
    available: bool,
    withheld_reason: Option<WithheldReason>,
    age_brackets: Option<Vec<NoisyBucket>>,
    regions: Option<Vec<NoisyBucket>>,
    languages: Option<Vec<NoisyBucket>>,
    /// Viewers only (`null` for likers and followers).
    devices: Option<Vec<NoisyBucket>>,
}

impl NoisyBreakdownObject {
    fn of(b: Option<aa::NoisyBreakdown>, devices: bool) -> Self {
        let Some(b) = b else {
            return NoisyBreakdownObject {
                available: false,
                withheld_reason: Some(WithheldReason::BelowMinimumAudience),
                age_brackets: None,
                regions: None,
                languages: None,
                devices: None,
            };
        };
        let take = |d: Dimension| {
            Some(
                b.buckets(d)
                    .into_iter()
                    .map(|(key, n)| NoisyBucket {
                        key,
                        count: n.into(),
                    })
                    .collect(),
            )
        };
        NoisyBreakdownObject {
            available: true,
            withheld_reason: None,
            age_brackets: take(Dimension::Age),
            regions: take(Dimension::Region),
            languages: take(Dimension::Language),
            devices: if devices {
                take(Dimension::Device)
            } else {
                None
            },
        }
    }
}

/// What one `appAnalytics` answer asks and reads.
struct Reads {
    asker: Asker,
    window: AnalyticsWindow,
    reads: WindowReads,
}

/// The granting creator's aggregates over a window, as its app may see them.
#[derive(Clone)]
pub struct AppAnalytics(Arc<Reads>);

impl AppAnalytics {
    /// A total of the window's series, noisy.
    async fn total(
        &self,
        ctx: &Context<'_>,
        figure: Figure,
        pick: fn(&ca::Figures) -> i64,
    ) -> Result<NoisyCount> {
        let db = primary(ctx)?;
        let exact = async { Ok(pick(&self.0.reads.series(db).await?.totals)) };
        Ok(aa::total(db, &self.0.asker, figure, exact).await?.into())
    }

    /// (views, likes) of each of `slots` of the window's series, noisy.
    async fn pairs(
        &self,
        ctx: &Context<'_>,
        figure: Figure,
        slots: fn(&ca::Series) -> Vec<(i64, i64)>,
    ) -> Result<Vec<(NoisyCount, NoisyCount)>> {
        let db = primary(ctx)?;
        let exact = async { Ok(slots(self.0.reads.series(db).await?)) };
        Ok(aa::series(db, &self.0.asker, figure, exact)
            .await?
            .into_iter()
            .map(|(v, l)| (v.into(), l.into()))
            .collect())
    }
}

/// The granting creator's aggregates over a window, every count noisy (one question per
/// figure).
#[Object]
impl AppAnalytics {
    async fn window(&self) -> AnalyticsWindow {
        self.0.window
    }

    /// The first day of the window.
    async fn from(&self) -> Date {
        Date::of(self.0.asker.window.from)
    }

    /// The last complete UTC day.
    async fn to(&self) -> Date {
        Date::of(self.0.asker.window.to)
    }

    /// The app's budget for this creator today, as of this read.
    async fn budget(&self, ctx: &Context<'_>) -> Result<PrivacyBudget> {
        let a = &self.0.asker;
        let today = privacy_budget::day_of(a.now_us);
        let spent = privacy_budget::spent(primary(ctx)?, a.client, today).await?;
        Ok(PrivacyBudget {
            epsilon_per_query: a.budget.epsilon(),
            daily_epsilon: a.budget.daily_micro as f64 / MICRO,
            spent_today: spent as f64 / MICRO,
            remaining_today: (a.budget.daily_micro - spent).max(0) as f64 / MICRO,
            resets_at: privacy_budget::resets_at(today),
        })
    }

    /// Views in the window (anonymous ones too).
    async fn views(&self, ctx: &Context<'_>) -> Result<NoisyCount> {
        self.total(ctx, Figure::Views, |f| f.views).await
    }

    /// Likes made in the window.
    async fn likes(&self, ctx: &Context<'_>) -> Result<NoisyCount> {
        self.total(ctx, Figure::Likes, |f| f.likes).await
    }

    async fn new_followers(&self, ctx: &Context<'_>) -> Result<NoisyCount> {
        self.total(ctx, Figure::NewFollowers, |f| f.new_followers)
            .await
    }

    async fn lost_followers(&self, ctx: &Context<'_>) -> Result<NoisyCount> {
        self.total(ctx, Figure::LostFollowers, |f| f.lost_followers)
            .await
    }

    /// One entry per day from `from` to `to`.
    async fn daily(&self, ctx: &Context<'_>) -> Result<Vec<NoisyDailyStats>> {
        let days = self.0.asker.window.from..=self.0.asker.window.to;
        let pairs = self
            .pairs(ctx, Figure::Daily, |s| {
                s.daily.iter().map(|(_, f)| (f.views, f.likes)).collect()
            })
            .await?;
        Ok(days
            .zip(pairs)
            .map(|(day, (views, likes))| NoisyDailyStats {
                day: Date::of(day),
                views,
                likes,
            })
            .collect())
    }

    /// 168 entries, Monday 00:00 UTC first.
    async fn peak_hours(&self, ctx: &Context<'_>) -> Result<Vec<NoisyHourStats>> {
        let pairs = self
            .pairs(ctx, Figure::PeakHours, |s| {
                s.peak_hours.iter().map(|f| (f.views, f.likes)).collect()
            })
            .await?;
        Ok(pairs
            .into_iter()
            .enumerate()
            .map(|(slot, (views, likes))| NoisyHourStats {
                day_of_week: i32::try_from(slot / 24 + 1).unwrap_or(0),
                hour: i32::try_from(slot % 24).unwrap_or(0),
                views,
                likes,
            })
            .collect())
    }

    async fn audience(&self) -> NoisyAudience {
        NoisyAudience(self.clone())
    }
}

/// The audience, noisy: distinct signed-in viewers and likers of the window, current
/// followers. Each breakdown is one question, asked only when selected.
pub struct NoisyAudience(AppAnalytics);

/// The audience, noisy: distinct signed-in viewers and likers of the window, current
/// followers.
#[Object]
impl NoisyAudience {
    async fn viewers(&self, ctx: &Context<'_>) -> Result<NoisyBreakdownObject> {
        let (r, db) = (&self.0 .0, primary(ctx)?);
        let b = aa::breakdown(db, &r.asker, Figure::Viewers, r.reads.viewers(db)).await?;
        Ok(NoisyBreakdownObject::of(b, true))
    }

    async fn likers(&self, ctx: &Context<'_>) -> Result<NoisyBreakdownObject> {
        let (r, db) = (&self.0 .0, primary(ctx)?);
        let b = aa::breakdown(db, &r.asker, Figure::Likers, r.reads.likers(db)).await?;
        Ok(NoisyBreakdownObject::of(b, false))
    }

    async fn followers(&self, ctx: &Context<'_>) -> Result<NoisyBreakdownObject> {
        let (r, db) = (&self.0 .0, primary(ctx)?);
        let exact = r.reads.follower_breakdown(db);
        let b = aa::breakdown(db, &r.asker, Figure::Followers, exact).await?;
        Ok(NoisyBreakdownObject::of(b, false))
    }
}

/// The apps part of the query root.
#[derive(Default)]
pub struct AppAnalyticsQuery;

#[Object]
impl AppAnalyticsQuery {
    /// For an app's token only: its creator's aggregates over a fixed window ending at the
    /// last complete UTC day, every count noisy. A new question spends ε from the app's
    /// daily budget for the creator (`BUDGET_EXHAUSTED` when it would not fit); the same
    /// question again gives the same answer for free.
    async fn app_analytics(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "AnalyticsWindow::Last28Days")] window: AnalyticsWindow,
    ) -> Result<AppAnalytics> {
        // `principal::PrincipalGuard` lets only an app's request get here.
        let Some(AppGrant { client, creator }) = app(ctx) else {
            return Err(AppError::Forbidden("appAnalytics is for apps' tokens".into()).into());
        };
        let creator = ca::creator(db(ctx)?, Some(creator)).await?;
        let clock = clock(ctx);
        let now_us = clock.now_us();
        let window_days = Window::last(window.days(), now_us);
        Ok(AppAnalytics(Arc::new(Reads {
            asker: Asker {
                client,
                creator,
                window: window_days,
                now_us,
                budget: Budget::of(&app_settings(ctx)),
            },
            window,
            reads: WindowReads::new(creator, window_days, clock.year(), thresholds(ctx)),
        })))
    }
}
