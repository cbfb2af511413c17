//! Analytics (the creator analytics issue): `recordView`, `Video.viewCount`,
//! `Video.durationMs` and `Video.stats` (from [`super::creator_analytics`]).
use std::{collections::HashMap, sync::Arc};

use async_graphql::{dataloader::Loader, Context, Object, Result, ID};
use entity::DeviceClass;

use super::{
    connection::int,
    context::{clock, ids, loaders, viewer},
    creator_analytics::{stats_of, VideoStats},
    loaders::{gql, RequestLoader},
    nodes::Video,
};
use crate::{
    domain::{
        self,
        view_writer::ViewWriter,
        visible::{VideoId, Visible},
    },
    ids::Kind,
    ratelimit::{self, Limit},
};

/// `Video`'s analytics fields.
pub struct VideoAnalytics(pub Video);

#[Object]
impl VideoAnalytics {
    /// Every recorded view, public like `likeCount`.
    async fn view_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let n = loaders(ctx)?.load_one(ViewCount(self.0.id())).await?;
        Ok(int(n.unwrap_or(0)))
    }

    /// Length in milliseconds, as given to `createVideo`; `null` when not given.
    async fn duration_ms(&self) -> Option<i32> {
        self.0.model().duration_ms
    }

    /// The video's all-time figures and how it compares; `null` unless the viewer is its
    /// author and a `CREATOR`.
    async fn stats(&self, ctx: &Context<'_>) -> Result<Option<VideoStats>> {
        stats_of(ctx, &self.0).await
    }
}

/// Key: the view count of a video the viewer may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewCount(pub Visible<VideoId>);

impl Loader<ViewCount> for RequestLoader {
    type Value = i64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ViewCount]) -> Result<HashMap<ViewCount, i64>, Self::Error> {
        let videos: Vec<Visible<VideoId>> = keys.iter().map(|k| k.0).collect();
        let counts = domain::analytics::view_counts(&self.db, &videos)
            .await
            .map_err(gql)?;
        Ok(keys
            .iter()
            .map(|k| (*k, counts.get(&k.0 .0).copied().unwrap_or(0)))
            .collect())
    }
}

/// The device class of the request (`X-Tally-Device`, else guessed from `User-Agent`), as
/// the HTTP handler put it in the request data; `OTHER` without one.
fn device(ctx: &Context<'_>) -> DeviceClass {
    ctx.data_opt::<DeviceClass>()
        .copied()
        .unwrap_or(DeviceClass::Other)
}

/// The analytics part of the mutation root.
#[derive(Default)]
pub struct AnalyticsMutation;

#[Object]
impl AnalyticsMutation {
    /// Records that the viewer (anonymous allowed) watched a video for `watchMs`
    /// milliseconds (0–3,600,000). `NOT_FOUND` for a video the viewer cannot see. Stores
    /// no account and no address: only the hour, the watch time and, signed in, the
    /// viewer's age bracket, region, language, device class and whether it follows the
    /// creator.
    async fn record_view(&self, ctx: &Context<'_>, video_id: ID, watch_ms: i32) -> Result<bool> {
        ratelimit::check(ctx, Limit::Views).await?;
        let id = ids(ctx)?.decode_id("videoId", Kind::Video, &video_id)?;
        ctx.data::<Arc<ViewWriter>>()?
            .record(
                viewer(ctx).id(),
                id,
                watch_ms,
                device(ctx),
                clock(ctx).now(),
            )
            .await?;
        Ok(true)
    }
}
