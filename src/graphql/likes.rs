//! Likes: liking and unliking, a video's like count and the likers the viewer may see
//! (Rule L), and the videos an account liked.
use std::collections::HashMap;

use async_graphql::{dataloader::Loader, Context, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    connection::{datetime, edges_of, int, PageInfo},
    context::{clock, db, ids, loaders, page_request, publish, signed_in, viewer},
    limits::page_cost,
    loaders::{gql, uuids, RequestLoader},
    nodes::{User, Video},
    videos::VideoConnection,
};
use crate::{
    domain::{
        self,
        likes::VisibleLikers,
        page::{Page, PageRequest},
        visible::{VideoId, Visible},
        PublicUser,
    },
    ids::{CursorKind, Kind},
    live::Notice,
    ratelimit::{self, Limit},
};

/// A page of likers plus the counts over the whole list.
#[derive(SimpleObject)]
pub struct LikerConnection {
    pub edges: Vec<LikerEdge>,
    pub page_info: PageInfo,
    /// Likers the viewer may see, over the whole list.
    pub total_count: i32,
    /// `likeCount − totalCount`: likes counted but not shown to this viewer.
    pub hidden_count: i32,
}

/// One visible liker.
#[derive(SimpleObject)]
pub struct LikerEdge {
    pub cursor: String,
    pub node: User,
    pub liked_at: DateTime<Utc>,
}

/// `Video`'s like fields.
pub struct VideoLikes(pub Video);

#[Object]
impl VideoLikes {
    /// Every like, visible or not.
    async fn like_count(&self) -> i32 {
        int(self.0.like_count())
    }
    /// Whether the viewer liked this video; false for anonymous viewers.
    async fn viewer_has_liked(&self, ctx: &Context<'_>) -> Result<bool> {
        let id = self.0.model().id;
        if let Some(liked) = self.0.batch().and_then(|b| b.liked.as_ref()) {
            return Ok(liked.contains(&id));
        }
        Ok(loaders(ctx)?
            .load_one(ViewerLiked(id))
            .await?
            .unwrap_or(false))
    }
    /// The likers the viewer may see (Rule L), newest like first.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn visible_likers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<LikerConnection> {
        let req = page_request(ctx, CursorKind::Likers, first, after)?;
        let video = &self.0;
        let id = video.id();
        let prefetched = video.batch().and_then(|b| b.liker_pages.get(&(id, req)));
        let likers = match prefetched {
            Some(p) => Some(p.clone()),
            None => loaders(ctx)?.load_one(LikerPage(id, req)).await?,
        };
        let VisibleLikers { page, total } = likers.unwrap_or(VisibleLikers {
            page: Page {
                items: Vec::new(),
                has_next: false,
            },
            total: 0,
        });
        let (edges, page_info) = edges_of(ctx, CursorKind::Likers, page)?;
        Ok(LikerConnection {
            edges: edges
                .into_iter()
                .map(|(cursor, l)| LikerEdge {
                    cursor,
                    node: User(l.user),
                    liked_at: datetime(l.liked_at),
                })
                .collect(),
            page_info,
            total_count: int(total),
            hidden_count: int(video.like_count() - total),
        })
    }
}

/// `User`'s liked videos.
pub struct UserLikes(pub PublicUser);

#[Object]
impl UserLikes {
    /// Videos this user liked that the viewer may know about (Rules V and L), newest like first.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn liked_videos(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<VideoConnection> {
        let req = page_request(ctx, CursorKind::LikedVideos, first, after)?;
        let page = domain::videos::liked_videos(db(ctx)?, viewer(ctx).id(), self.0.id, req).await?;
        VideoConnection::new(ctx, CursorKind::LikedVideos, page).await
    }
}

/// Key: whether the viewer liked a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewerLiked(pub Uuid);

impl Loader<ViewerLiked> for RequestLoader {
    type Value = bool;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ViewerLiked]) -> Result<HashMap<ViewerLiked, bool>, Self::Error> {
        let Some(viewer) = self.viewer.id() else {
            return Ok(keys.iter().map(|k| (*k, false)).collect());
        };
        let liked = domain::likes::viewer_likes(&self.db, viewer, &uuids(keys, |k| k.0))
            .await
            .map_err(gql)?;
        Ok(keys.iter().map(|k| (*k, liked.contains(&k.0))).collect())
    }
}

/// Key: one page of the visible likers of a video the viewer may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LikerPage(pub Visible<VideoId>, pub PageRequest);

impl Loader<LikerPage> for RequestLoader {
    type Value = VisibleLikers;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[LikerPage],
    ) -> Result<HashMap<LikerPage, VisibleLikers>, Self::Error> {
        let requests: Vec<(Visible<VideoId>, PageRequest)> =
            keys.iter().map(|k| (k.0, k.1)).collect();
        let pages = domain::likes::visible_likers_batch(&self.db, self.viewer.id(), &requests)
            .await
            .map_err(gql)?;
        Ok(pages
            .into_iter()
            .map(|((v, r), p)| (LikerPage(v, r), p))
            .collect())
    }
}

/// The likes part of the mutation root.
#[derive(Default)]
pub struct LikesMutation;

#[Object]
impl LikesMutation {
    /// Likes a video; liking twice keeps one like.
    async fn like_video(&self, ctx: &Context<'_>, video_id: ID) -> Result<Video> {
        ratelimit::check(ctx, Limit::Likes).await?;
        // The like's own transaction reads the liker's account (hot path: no extra look-up).
        let me = viewer(ctx).require()?;
        let id = ids(ctx)?.decode_id("videoId", Kind::Video, &video_id)?;
        let (video, made) =
            domain::likes::like_video_reporting(db(ctx)?, me, id, clock(ctx).now_us()).await?;
        if let Some((author, at)) = made {
            let notice = Notice::Liked {
                video: id,
                author,
                liker: me,
                count: video.like_count,
                at,
            };
            publish(ctx, notice).await;
        }
        Ok(Video::from(video))
    }

    /// Takes a like back; idempotent.
    async fn unlike_video(&self, ctx: &Context<'_>, video_id: ID) -> Result<Video> {
        ratelimit::check(ctx, Limit::Likes).await?;
        let me = signed_in(ctx).await?;
        let id = ids(ctx)?.decode_id("videoId", Kind::Video, &video_id)?;
        let (video, removed) =
            domain::likes::unlike_video_reporting(db(ctx)?, me, id, clock(ctx).now_us()).await?;
        if removed.is_some() {
            publish(ctx, Notice::Count { video: id }).await;
        }
        Ok(Video::from(video))
    }
}
