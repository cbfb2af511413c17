//! Analytics, the read side: `creatorAnalytics(window)` for the signed-in creator, and the
//! `VideoStats` that `Video.stats` and `topVideos` give. Thin: the figures and the
//! thresholds are `domain::creator_analytics` and `domain::aggregates`. No field here
//! yields an account: only counts, days, hours, keys of demographic buckets and the
//! creator's own videos.
use std::{collections::HashMap, sync::Arc};

use async_graphql::{
    dataloader::Loader, Context, Enum, InputValueError, InputValueResult, Object, Result, Scalar,
    ScalarType, SimpleObject, Value,
};
use chrono::NaiveDate;

use super::{
    connection::int,
    context::{clock, db, loaders, primary, thresholds, viewer},
    limits::page_cost,
    loaders::{gql, RequestLoader},
    nodes::Video,
};
use crate::domain::{
    self,
    aggregates::{self, Dimension},
    creator_analytics::{
        self as ca, check_first, Figures, Ranking, Series, VideoInWindow, Window, WindowReads,
    },
    visible::{VideoId, Visible},
};

/// A UTC calendar day, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

impl Date {
    /// Day `day` since 1970-01-01.
    pub(super) fn of(day: i32) -> Self {
        Date(NaiveDate::default() + chrono::Duration::days(i64::from(day)))
    }
}

/// A UTC calendar day, `YYYY-MM-DD`.
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom("a date is YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// The fixed windows of the analytics: the last N complete UTC days.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(clippy::enum_variant_names)] // the schema's names
pub enum AnalyticsWindow {
    #[graphql(name = "LAST_7_DAYS")]
    Last7Days,
    #[default]
    #[graphql(name = "LAST_28_DAYS")]
    Last28Days,
    #[graphql(name = "LAST_60_DAYS")]
    Last60Days,
    #[graphql(name = "LAST_365_DAYS")]
    Last365Days,
}

impl AnalyticsWindow {
    /// How many days the window holds.
    pub(super) fn days(self) -> i32 {
        match self {
            AnalyticsWindow::Last7Days => 7,
            AnalyticsWindow::Last28Days => 28,
            AnalyticsWindow::Last60Days => 60,
            AnalyticsWindow::Last365Days => 365,
        }
    }
}

/// What `topVideos` ranks by, over the window.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoRanking {
    /// Views in the window.
    Views,
    /// Net likes (made − withdrawn) in the window.
    Likes,
    /// Net likes per view in the window; videos without views last.
    EngagementRate,
}

/// Why a breakdown is not shown.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithheldReason {
    /// Fewer distinct accounts than `TALLY_MIN_AUDIENCE`.
    BelowMinimumAudience,
}

/// The window's figures, in total.
#[derive(SimpleObject)]
pub struct AnalyticsTotals {
    /// Views, anonymous ones included.
    views: i32,
    /// Likes made (gross).
    likes: i32,
    /// Likes withdrawn or removed (by unlike, block, deletion).
    unlikes: i32,
    new_followers: i32,
    lost_followers: i32,
    /// Current (approved) followers.
    follower_count: i32,
    watch_time_ms: f64,
    /// Likes ÷ views; `null` without views.
    engagement_rate: Option<f64>,
}

/// One UTC day's figures.
#[derive(SimpleObject)]
pub struct DailyStats {
    day: Date,
    views: i32,
    likes: i32,
    unlikes: i32,
    new_followers: i32,
    lost_followers: i32,
    watch_time_ms: f64,
}

/// One hour of the week (UTC), summed over the window.
#[derive(SimpleObject)]
pub struct HourOfWeekStats {
    /// 1 = Monday … 7 = Sunday.
    day_of_week: i32,
    hour: i32,
    views: i32,
    /// Likes made (gross).
    likes: i32,
    /// Views by followers of the creator: when your followers watch.
    follower_views: i32,
}

/// A bucket of a breakdown: distinct accounts. `OTHER` holds the folded small buckets.
#[derive(SimpleObject)]
pub struct Bucket {
    key: String,
    count: i32,
    /// `count` ÷ the breakdown's population.
    share: f64,
}

/// Distinct accounts by demographic bucket, under the thresholds (PRIVACY.md
/// "Aggregates"): withheld under the minimum audience; each dimension's buckets sum to the
/// population, none under the minimum bucket.
#[derive(SimpleObject)]
pub struct Breakdown {
    available: bool,
    withheld_reason: Option<WithheldReason>,
    population: Option<i32>,
    age_brackets: Option<Vec<Bucket>>,
    regions: Option<Vec<Bucket>>,
    languages: Option<Vec<Bucket>>,
    /// Viewers only (`null` for likers and followers).
    devices: Option<Vec<Bucket>>,
}

impl Breakdown {
    fn of(b: aggregates::Breakdown, devices: bool) -> Self {
        match b {
            aggregates::Breakdown::Withheld => Breakdown {
                available: false,
                withheld_reason: Some(WithheldReason::BelowMinimumAudience),
                population: None,
                age_brackets: None,
                regions: None,
                languages: None,
                devices: None,
            },
            aggregates::Breakdown::Shown {
                population,
                mut dimensions,
            } => {
                let mut take = |d: Dimension| {
                    Some(
                        dimensions
                            .remove(&d)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|b| Bucket {
                                key: b.key,
                                count: int(b.count),
                                share: b.share,
                            })
                            .collect(),
                    )
                };
                Breakdown {
                    available: true,
                    withheld_reason: None,
                    population: Some(int(population)),
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
    }
}

/// The audience of a window; each breakdown is read only when selected.
pub struct AudienceAnalytics(CreatorAnalytics);

/// The audience: distinct viewers (signed in) and likers of the window, current followers.
#[Object]
impl AudienceAnalytics {
    async fn viewers(&self, ctx: &Context<'_>) -> Result<Breakdown> {
        Ok(Breakdown::of(
            self.0.reads().viewers(primary(ctx)?).await?,
            true,
        ))
    }

    async fn likers(&self, ctx: &Context<'_>) -> Result<Breakdown> {
        Ok(Breakdown::of(
            self.0.reads().likers(primary(ctx)?).await?,
            false,
        ))
    }

    async fn followers(&self, ctx: &Context<'_>) -> Result<Breakdown> {
        let b = self.0.reads().follower_breakdown(primary(ctx)?).await?;
        Ok(Breakdown::of(b, false))
    }
}

/// A hashtag's or sound's figures over the window.
#[derive(SimpleObject)]
pub struct TagStats {
    tag: String,
    /// The creator's current videos with it.
    videos: i32,
    views: i32,
    /// Net likes (made − withdrawn).
    likes: i32,
    /// Net likes ÷ views; `null` without views.
    engagement_rate: Option<f64>,
}

impl From<ca::TagStats> for TagStats {
    fn from(t: ca::TagStats) -> Self {
        TagStats {
            tag: t.tag,
            videos: int(t.videos),
            views: int(t.views),
            // Net: may be negative.
            likes: i32::try_from(t.likes.clamp(i64::from(i32::MIN), i64::from(i32::MAX)))
                .unwrap_or_default(),
            engagement_rate: t.engagement_rate,
        }
    }
}

/// A video's all-time figures, for its author.
#[derive(SimpleObject, Clone)]
pub struct VideoStats {
    /// `viewCount`.
    views: i32,
    /// `likeCount`.
    likes: i32,
    watch_time_ms: f64,
    /// Watch time ÷ views; `null` without views.
    average_watch_ms: Option<f64>,
    /// Views that watched at least `durationMs` ÷ views; `null` without a duration or views.
    completion_rate: Option<f64>,
    /// Likes ÷ views; `null` without views.
    engagement_rate: Option<f64>,
    /// 0–100: the share of the author's other videos (with views) whose engagement rate is
    /// lower, plus half of those equal.
    own_percentile: Option<f64>,
    /// The video's first hashtag.
    niche: Option<String>,
    /// 0–100, as `ownPercentile`, among the public videos with the niche's hashtag posted
    /// in the last 28 days; `null` when there are fewer than 20 of them.
    niche_percentile: Option<f64>,
}

impl From<ca::VideoStats> for VideoStats {
    fn from(s: ca::VideoStats) -> Self {
        VideoStats {
            views: int(s.views),
            likes: int(s.likes),
            watch_time_ms: s.watch_ms as f64,
            average_watch_ms: s.average_watch_ms,
            completion_rate: s.completion_rate,
            engagement_rate: s.engagement_rate,
            own_percentile: s.own_percentile,
            niche: s.niche,
            niche_percentile: s.niche_percentile,
        }
    }
}

/// A video ranked by `topVideos`, with its all-time stats.
#[derive(SimpleObject)]
pub struct VideoStatsEdge {
    video: Video,
    stats: VideoStats,
}

/// Key: the stats of a video the viewer may see, as of `now` (microseconds), for the
/// viewer if it is the video's author and a creator; with the video's niche (its first
/// hashtag), so that the niche's videos are read beside the author's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatsOf(Visible<VideoId>, i64, Option<String>);

impl StatsOf {
    fn of(video: &Video, now: i64) -> Self {
        let niche = domain::videos::hashtags(video.model()).into_iter().next();
        StatsOf(video.id(), now, niche)
    }
}

impl Loader<StatsOf> for RequestLoader {
    type Value = VideoStats;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[StatsOf]) -> Result<HashMap<StatsOf, VideoStats>, Self::Error> {
        let Some(me) = self.viewer.id() else {
            return Ok(HashMap::new());
        };
        let mut out = HashMap::new();
        let mut by_now: HashMap<i64, Vec<StatsOf>> = HashMap::new();
        for k in keys {
            by_now.entry(k.1).or_default().push(k.clone());
        }
        for (now, keys) in by_now {
            let asked: Vec<(uuid::Uuid, Option<String>)> =
                keys.iter().map(|k| (k.0 .0, k.2.clone())).collect();
            let stats = ca::video_stats(&self.db, me, &asked, now)
                .await
                .map_err(gql)?;
            for k in keys {
                if let Some(s) = stats.get(&k.0 .0) {
                    out.insert(k, VideoStats::from(s.clone()));
                }
            }
        }
        Ok(out)
    }
}

/// `Video.stats`: `null` unless the viewer is the video's author and a `CREATOR`.
pub async fn stats_of(ctx: &Context<'_>, video: &Video) -> Result<Option<VideoStats>> {
    if viewer(ctx).id() != Some(video.author().into_inner().0) {
        return Ok(None);
    }
    let now = clock(ctx).now_us();
    loaders(ctx)?.load_one(StatsOf::of(video, now)).await
}

/// The signed-in creator's analytics over a window.
#[derive(Clone)]
pub struct CreatorAnalytics(Arc<(AnalyticsWindow, WindowReads)>);

impl CreatorAnalytics {
    fn reads(&self) -> &WindowReads {
        &self.0 .1
    }

    async fn series(&self, ctx: &Context<'_>) -> Result<&Series> {
        Ok(self.reads().series(primary(ctx)?).await?)
    }

    async fn videos(&self, ctx: &Context<'_>) -> Result<&[VideoInWindow]> {
        Ok(self.reads().videos(primary(ctx)?).await?)
    }
}

fn daily(day: i32, f: &Figures) -> DailyStats {
    DailyStats {
        day: Date::of(day),
        views: int(f.views),
        likes: int(f.likes),
        unlikes: int(f.unlikes),
        new_followers: int(f.new_followers),
        lost_followers: int(f.lost_followers),
        watch_time_ms: f.watch_ms as f64,
    }
}

#[Object]
impl CreatorAnalytics {
    async fn window(&self) -> AnalyticsWindow {
        self.0 .0
    }

    /// The first day of the window.
    async fn from(&self) -> Date {
        Date::of(self.reads().window.from)
    }

    /// The last complete UTC day.
    async fn to(&self) -> Date {
        Date::of(self.reads().window.to)
    }

    async fn totals(&self, ctx: &Context<'_>) -> Result<AnalyticsTotals> {
        let t = self.series(ctx).await?.totals;
        let followers = self.reads().followers(primary(ctx)?).await?.accounts;
        Ok(AnalyticsTotals {
            views: int(t.views),
            likes: int(t.likes),
            unlikes: int(t.unlikes),
            new_followers: int(t.new_followers),
            lost_followers: int(t.lost_followers),
            follower_count: int(followers),
            watch_time_ms: t.watch_ms as f64,
            engagement_rate: aggregates::rate(t.likes, t.views),
        })
    }

    /// One entry per day from `from` to `to`, zeros included.
    async fn daily(&self, ctx: &Context<'_>) -> Result<Vec<DailyStats>> {
        Ok(self
            .series(ctx)
            .await?
            .daily
            .iter()
            .map(|(d, f)| daily(*d, f))
            .collect())
    }

    /// 168 entries, Monday 00:00 UTC first.
    async fn peak_hours(&self, ctx: &Context<'_>) -> Result<Vec<HourOfWeekStats>> {
        Ok(self
            .series(ctx)
            .await?
            .peak_hours
            .iter()
            .enumerate()
            .map(|(slot, f)| HourOfWeekStats {
                day_of_week: i32::try_from(slot / 24 + 1).unwrap_or(0),
                hour: i32::try_from(slot % 24).unwrap_or(0),
                views: int(f.views),
                likes: int(f.likes),
                follower_views: int(f.follower_views),
            })
            .collect())
    }

    /// The creator's videos ranked by the window's figures; ties: the newer video first.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn top_videos(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: i32,
        #[graphql(default_with = "VideoRanking::Views")] by: VideoRanking,
    ) -> Result<Vec<VideoStatsEdge>> {
        let first = check_first(first)?;
        let by = match by {
            VideoRanking::Views => Ranking::Views,
            VideoRanking::Likes => Ranking::Likes,
            VideoRanking::EngagementRate => Ranking::EngagementRate,
        };
        let videos = self.videos(ctx).await?;
        let ids = ca::top_videos(videos, by, first);
        // Each video's stats (with its niche, its first hashtag) are read beside the videos
        // themselves: both are the creator's own, so neither waits for the other.
        let asked: Vec<(uuid::Uuid, Option<String>)> = ids
            .iter()
            .filter_map(|id| videos.iter().find(|v| v.id == *id))
            .map(|v| (v.id, v.hashtags.first().cloned()))
            .collect();
        let me = self.reads().creator.id();
        let (db, now) = (db(ctx)?, clock(ctx).now_us());
        let (found, mut stats) = tokio::try_join!(
            domain::videos::visible_videos(db, Some(me), &ids),
            ca::video_stats(db, me, &asked, now)
        )?;
        let mut found: HashMap<uuid::Uuid, Video> = found
            .into_iter()
            .map(|v| (v.id().into_inner().0, Video::from(v)))
            .collect();
        Ok(ids
            .iter()
            .filter_map(|id| {
                let video = found.remove(id)?;
                let stats = stats.remove(id)?;
                Some(VideoStatsEdge {
                    video,
                    stats: stats.into(),
                })
            })
            .collect())
    }

    async fn audience(&self) -> AudienceAnalytics {
        AudienceAnalytics(self.clone())
    }

    /// Per hashtag of the creator's current videos, by views in the window, then tag.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn hashtags(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: i32,
    ) -> Result<Vec<TagStats>> {
        let first = check_first(first)?;
        let videos = self.videos(ctx).await?;
        Ok(ca::tag_stats(videos, |v| v.hashtags.clone(), first)
            .into_iter()
            .map(TagStats::from)
            .collect())
    }

    /// Per sound of the creator's current videos, by views in the window, then sound.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn sounds(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: i32,
    ) -> Result<Vec<TagStats>> {
        let first = check_first(first)?;
        let videos = self.videos(ctx).await?;
        Ok(
            ca::tag_stats(videos, |v| v.sound.iter().cloned().collect(), first)
                .into_iter()
                .map(TagStats::from)
                .collect(),
        )
    }
}

/// The creator-analytics part of the query root.
#[derive(Default)]
pub struct CreatorAnalyticsQuery;

#[Object]
impl CreatorAnalyticsQuery {
    /// The signed-in creator's own analytics over a fixed window ending at the last
    /// complete UTC day. `UNAUTHENTICATED` when anonymous, `FORBIDDEN` for a `PERSONAL`
    /// account; no argument names another account.
    async fn creator_analytics(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "AnalyticsWindow::Last28Days")] window: AnalyticsWindow,
    ) -> Result<CreatorAnalytics> {
        let creator = ca::creator(db(ctx)?, viewer(ctx).id()).await?;
        let clock = clock(ctx);
        let days = Window::last(window.days(), clock.now_us());
        let reads = WindowReads::new(creator, days, clock.year(), thresholds(ctx));
        Ok(CreatorAnalytics(Arc::new((window, reads))))
    }
}
