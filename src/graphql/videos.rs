//! Videos: posting and deleting them, a video's own fields, an account's videos and the feed.
use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::{
    accounts::UserById,
    connection::{datetime, edges_of, PageInfo},
    context::{clock, db, ids, loaders, page_request, signed_in, viewer},
    limits::page_cost,
    nodes::{User, Video},
    prefetch::prefetch,
};
use crate::{
    domain::{
        self, counters::CountedVideo, page::Page, videos::NewVideo, visible::Visible, PublicUser,
    },
    error::AppError,
    ids::{CursorKind, Kind},
};

/// A new video.
#[derive(InputObject)]
pub struct CreateVideoInput {
    /// At most 2,200 characters.
    pub caption: String,
    /// At most 30, each 1–100 characters.
    pub hashtags: Option<Vec<String>>,
    pub sound: Option<String>,
    /// Length in milliseconds, 1–3,600,000.
    pub duration_ms: Option<i32>,
    /// Where the video plays from: an absolute `https` URL (`http` only for `localhost` and
    /// `127.0.0.1`) of at most 2,048 characters, without credentials. Tally stores it; the
    /// media itself is served by the operator's storage or CDN.
    pub media_url: String,
    /// Its still image; the same rules as `mediaUrl`.
    pub thumbnail_url: Option<String>,
}

/// A page of videos.
#[derive(SimpleObject)]
pub struct VideoConnection {
    pub edges: Vec<VideoEdge>,
    pub page_info: PageInfo,
}

/// One video in a list.
#[derive(SimpleObject)]
pub struct VideoEdge {
    pub cursor: String,
    pub node: Video,
}

impl VideoConnection {
    /// The connection of `page`, with what its selection needs prefetched for every video.
    pub async fn new(
        ctx: &Context<'_>,
        kind: CursorKind,
        page: Page<Visible<CountedVideo>>,
    ) -> Result<Self> {
        let videos: Vec<_> = page.items.iter().map(|(_, v)| v.clone()).collect();
        let batch = Arc::new(prefetch(ctx, &videos).await?);
        let (edges, page_info) = edges_of(ctx, kind, page)?;
        Ok(VideoConnection {
            edges: edges
                .into_iter()
                .map(|(cursor, video)| VideoEdge {
                    cursor,
                    node: Video::on_page(video, batch.clone()),
                })
                .collect(),
            page_info,
        })
    }
}

/// `Video`'s own fields.
pub struct VideoFields(pub Video);

#[Object]
impl VideoFields {
    pub(super) async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        Ok(ID(ids(ctx)?.encode_id(Kind::Video, self.0.model().id)))
    }
    async fn author(&self, ctx: &Context<'_>) -> Result<User> {
        let author = self.0.author();
        let prefetched = self.0.batch().and_then(|b| b.authors.get(&author.0));
        let author: Option<PublicUser> = match prefetched {
            Some(a) => Some(a.clone()),
            None => loaders(ctx)?.load_one(UserById(author)).await?,
        };
        author.map(User).ok_or_else(|| AppError::NotFound.into())
    }
    async fn caption(&self) -> &str {
        &self.0.model().caption
    }
    async fn hashtags(&self) -> Vec<String> {
        domain::videos::hashtags(self.0.model())
    }
    async fn sound(&self) -> Option<&str> {
        self.0.model().sound.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.model().created_at)
    }
    /// Where the video plays from (stored as given to `createVideo`, normalized; empty for
    /// videos posted before media URLs existed).
    async fn media_url(&self) -> &str {
        &self.0.model().media_url
    }
    /// Its still image, if any.
    async fn thumbnail_url(&self) -> Option<&str> {
        self.0.model().thumbnail_url.as_deref()
    }
}

/// `User`'s videos.
pub struct UserVideos(pub PublicUser);

#[Object]
impl UserVideos {
    /// This user's videos, newest first; empty where Rule V hides them.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn videos(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<VideoConnection> {
        let req = page_request(ctx, CursorKind::Videos, first, after)?;
        let page = domain::videos::videos_by(db(ctx)?, viewer(ctx).id(), self.0.id, req).await?;
        VideoConnection::new(ctx, CursorKind::Videos, page).await
    }
}

/// The videos part of the query root.
#[derive(Default)]
pub struct VideosQuery;

#[Object]
impl VideosQuery {
    /// A video; `null` when absent or hidden by Rule V.
    async fn video(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Video>> {
        let uuid = ids(ctx)?.decode_id("id", Kind::Video, &id)?;
        Ok(
            domain::videos::visible_videos(db(ctx)?, viewer(ctx).id(), &[uuid])
                .await?
                .pop()
                .map(Video::from),
        )
    }

    /// Signed in: the viewer's own and followed accounts' videos; anonymous: every public
    /// video. Newest first.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn feed(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<VideoConnection> {
        let req = page_request(ctx, CursorKind::Videos, first, after)?;
        let page = domain::videos::feed(db(ctx)?, viewer(ctx).id(), req).await?;
        VideoConnection::new(ctx, CursorKind::Videos, page).await
    }
}

/// The videos part of the mutation root.
#[derive(Default)]
pub struct VideosMutation;

#[Object]
impl VideosMutation {
    /// Posts a video.
    async fn create_video(&self, ctx: &Context<'_>, input: CreateVideoInput) -> Result<Video> {
        let me = signed_in(ctx).await?;
        let input = NewVideo {
            caption: input.caption,
            hashtags: input.hashtags.unwrap_or_default(),
            sound: input.sound,
            duration_ms: input.duration_ms,
            media_url: input.media_url,
            thumbnail_url: input.thumbnail_url,
        };
        Ok(Video::from(
            domain::videos::create_video(db(ctx)?, me, input, clock(ctx).now_us()).await?,
        ))
    }

    /// Deletes one of the viewer's videos.
    async fn delete_video(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let me = signed_in(ctx).await?;
        let id = ids(ctx)?.decode_id("id", Kind::Video, &id)?;
        domain::videos::delete_video(db(ctx)?, me, id, clock(ctx).now_us()).await?;
        Ok(true)
    }
}
