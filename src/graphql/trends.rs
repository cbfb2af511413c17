//! Trends (the creator analytics issue): `trendingHashtags`, `trendingSounds` and
//! `trendingVideos`, for anyone. See `domain::trends` for the definitions.
use async_graphql::{Context, Object, Result, SimpleObject};

use super::{
    connection::int,
    context::{clock, db, page_request, viewer},
    limits::page_cost,
    videos::VideoConnection,
};
use crate::{
    domain::trends::{self, Group},
    ids::CursorKind,
};

/// A trending hashtag or sound.
#[derive(SimpleObject)]
pub struct TrendingItem {
    pub name: String,
    /// Gross likes in the 24 whole hours before the current hour, on videos anonymous viewers
    /// can see.
    #[graphql(name = "likesLast24h")]
    pub likes_last_24h: i32,
    /// Likes per hour in those 24 hours ÷ the hourly mean of the 168 hours before them (taken
    /// as at least 1/168): `7 × likesLast24h ÷ max(likes in the 7 days before, 1)`.
    pub velocity: f64,
}

impl From<trends::TrendingItem> for TrendingItem {
    fn from(item: trends::TrendingItem) -> Self {
        TrendingItem {
            likes_last_24h: int(item.trend.likes_24h),
            velocity: item.trend.velocity(),
            name: item.name,
        }
    }
}

/// The trends part of the query root.
#[derive(Default)]
pub struct TrendsQuery;

async fn items(ctx: &Context<'_>, group: Group, first: i32) -> Result<Vec<TrendingItem>> {
    let now = clock(ctx).now_us();
    let items = trends::trending(db(ctx)?, group, first, now).await?;
    Ok(items.into_iter().map(TrendingItem::from).collect())
}

#[Object]
impl TrendsQuery {
    /// Hashtags by like velocity (see `TrendingItem.velocity`), then likes, then name;
    /// only hashtags with a like in the last 24 hours; likes on public videos only.
    async fn trending_hashtags(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: i32,
    ) -> Result<Vec<TrendingItem>> {
        items(ctx, Group::Hashtags, first).await
    }

    /// Sounds, as `trendingHashtags`.
    async fn trending_sounds(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: i32,
    ) -> Result<Vec<TrendingItem>> {
        items(ctx, Group::Sounds, first).await
    }

    /// Videos of public accounts with a like in the last 24 hours, by like velocity, then
    /// likes in the last 24 hours, then ID; only those the viewer can see (Rule V).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn trending_videos(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<VideoConnection> {
        let req = page_request(ctx, CursorKind::TrendingVideos, first, after)?;
        let now = clock(ctx).now_us();
        let page = trends::trending_videos(db(ctx)?, viewer(ctx).id(), req, now).await?;
        VideoConnection::new(ctx, CursorKind::TrendingVideos, page).await
    }
}
