//! GraphQL object types. They wrap domain rows and resolve fields through `domain`.
use async_graphql::{Context, Enum, Interface, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{user, video};
use uuid::Uuid;

use std::sync::Arc;

use super::{
    context::{db, ids, page_request, viewer},
    limits::page_cost,
    loaders::{FollowCounts, LikerPage, UserById, ViewerFollow, ViewerLiked},
    prefetch::{prefetch, VideoBatch},
    Loaders,
};
use crate::{
    domain::{self, counters::CountedVideo, likes::VisibleLikers, page::Page, PublicUser},
    error::AppError,
    ids::{CursorCodec, CursorKind, Keyset, Kind},
};

/// `PUBLIC` accounts are seen by all; `PRIVATE` ones approve their followers.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum AccountVisibility {
    #[default]
    Public,
    Private,
}

/// Who may see what an account liked.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum LikesVisibility {
    #[default]
    Everyone,
    Followers,
    OnlyMe,
}

/// `CREATOR` accounts get analytics; the type changes no visibility rule.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum AccountType {
    #[default]
    Personal,
    Creator,
}

/// The viewer's follow of an account.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum FollowState {
    None,
    Pending,
    Approved,
}

macro_rules! mirror_enum {
    ($api:ident, $db:path, $($v:ident),+) => {
        impl From<$db> for $api {
            fn from(v: $db) -> Self { match v { $(<$db>::$v => $api::$v),+ } }
        }
        impl From<$api> for $db {
            fn from(v: $api) -> Self { match v { $($api::$v => <$db>::$v),+ } }
        }
    };
}
mirror_enum!(AccountVisibility, entity::Visibility, Public, Private);
mirror_enum!(
    LikesVisibility,
    entity::LikesVisibility,
    Everyone,
    Followers,
    OnlyMe
);
mirror_enum!(AccountType, entity::AccountType, Personal, Creator);

impl From<Option<entity::FollowState>> for FollowState {
    fn from(s: Option<entity::FollowState>) -> Self {
        match s {
            None => FollowState::None,
            Some(entity::FollowState::Pending) => FollowState::Pending,
            Some(entity::FollowState::Approved) => FollowState::Approved,
        }
    }
}

/// A stored time (microseconds) as a `DateTime`.
pub fn datetime(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// GraphQL `Int` for a stored count.
fn int(n: i64) -> i32 {
    i32::try_from(n.max(0)).unwrap_or(i32::MAX)
}

pub(super) fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders> {
    ctx.data::<Loaders>()
}

/// Relay page information (forward pagination only: `hasPreviousPage` is always false).
#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// Turns a page into `(cursor, item)` pairs and its `PageInfo`.
fn edges_of<T>(
    ctx: &Context<'_>,
    kind: CursorKind,
    page: Page<T>,
) -> Result<(Vec<(String, T)>, PageInfo)> {
    let codec = ctx.data::<CursorCodec>()?;
    let edges = page
        .items
        .into_iter()
        .map(|(k, item): (Keyset, T)| Ok((codec.encode(kind, k)?, item)))
        .collect::<Result<Vec<_>>>()?;
    let info = PageInfo {
        has_next_page: page.has_next,
        has_previous_page: false,
        start_cursor: edges.first().map(|(c, _)| c.clone()),
        end_cursor: edges.last().map(|(c, _)| c.clone()),
    };
    Ok((edges, info))
}

/// An account as a viewer sees it.
#[derive(Clone, Debug)]
pub struct User(pub PublicUser);

impl From<user::Model> for User {
    fn from(u: user::Model) -> Self {
        User(u.into())
    }
}

#[Object]
impl User {
    async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        Ok(ID(ids(ctx)?.encode_id(Kind::User, self.0.id)))
    }
    async fn handle(&self) -> &str {
        &self.0.handle
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    async fn account_type(&self) -> AccountType {
        self.0.account_type.into()
    }
    async fn visibility(&self) -> AccountVisibility {
        self.0.visibility.into()
    }
    /// Shown to this user alone; `null` for everyone else.
    async fn likes_visibility(&self, ctx: &Context<'_>) -> Option<LikesVisibility> {
        (viewer(ctx).id() == Some(self.0.id)).then(|| self.0.likes_visibility.into())
    }
    /// Approved followers.
    async fn follower_count(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(int(self.follow_counts(ctx).await?.0))
    }
    /// Approved followings.
    async fn following_count(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(int(self.follow_counts(ctx).await?.1))
    }
    /// The viewer's follow of this user; `NONE` when anonymous or self.
    async fn viewer_follow_state(&self, ctx: &Context<'_>) -> Result<FollowState> {
        match viewer(ctx).id() {
            Some(v) if v != self.0.id => Ok(loaders(ctx)?
                .load_one(ViewerFollow(self.0.id))
                .await?
                .into()),
            _ => Ok(FollowState::None),
        }
    }
    /// Pending requests to follow this user; `null` unless the viewer is this user.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn follow_requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Option<UserConnection>> {
        let Some(me) = self.own(ctx) else {
            return Ok(None);
        };
        let req = page_request(ctx, CursorKind::Users, first, after)?;
        let page = domain::social::follow_requests(db(ctx)?, me, req).await?;
        UserConnection::new(ctx, page).map(Some)
    }
    /// Accounts this user blocked; `null` unless the viewer is this user.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn blocked_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Option<UserConnection>> {
        let Some(me) = self.own(ctx) else {
            return Ok(None);
        };
        let req = page_request(ctx, CursorKind::Users, first, after)?;
        let page = domain::social::blocked_users(db(ctx)?, me, req).await?;
        UserConnection::new(ctx, page).map(Some)
    }
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

impl User {
    async fn follow_counts(&self, ctx: &Context<'_>) -> Result<(i64, i64)> {
        Ok(loaders(ctx)?
            .load_one(FollowCounts(self.0.id))
            .await?
            .unwrap_or((0, 0)))
    }

    /// The viewer, when it is this user (own-only fields answer `null` to anyone else,
    /// without an error: PRIVACY.md, "Not revealing").
    fn own(&self, ctx: &Context<'_>) -> Option<Uuid> {
        viewer(ctx).id().filter(|v| *v == self.0.id)
    }
}

/// A video the viewer can see (only visibility-checked queries construct one), with the
/// answers prefetched for the page it belongs to, if any.
#[derive(Clone, Debug)]
pub struct Video {
    model: video::Model,
    like_count: i64,
    batch: Option<Arc<VideoBatch>>,
}

impl From<CountedVideo> for Video {
    fn from(v: CountedVideo) -> Self {
        Video {
            model: v.video,
            like_count: v.like_count,
            batch: None,
        }
    }
}

#[Object]
impl Video {
    async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        Ok(ID(ids(ctx)?.encode_id(Kind::Video, self.model.id)))
    }
    async fn author(&self, ctx: &Context<'_>) -> Result<User> {
        let author_id = self.model.author_id;
        let author = match self.batch.as_ref().and_then(|b| b.authors.get(&author_id)) {
            Some(a) => Some(a.clone()),
            None => loaders(ctx)?.load_one(UserById(author_id)).await?,
        };
        author.map(User).ok_or_else(|| AppError::NotFound.into())
    }
    async fn caption(&self) -> &str {
        &self.model.caption
    }
    async fn hashtags(&self) -> Vec<String> {
        domain::videos::hashtags(&self.model)
    }
    async fn sound(&self) -> Option<&str> {
        self.model.sound.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.model.created_at)
    }
    /// Every like, visible or not.
    async fn like_count(&self) -> i32 {
        int(self.like_count)
    }
    async fn view_count(&self) -> i32 {
        int(self.model.view_count)
    }
    /// Whether the viewer liked this video; false for anonymous viewers.
    async fn viewer_has_liked(&self, ctx: &Context<'_>) -> Result<bool> {
        if let Some(liked) = self.batch.as_ref().and_then(|b| b.liked.as_ref()) {
            return Ok(liked.contains(&self.model.id));
        }
        Ok(loaders(ctx)?
            .load_one(ViewerLiked(self.model.id))
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
        let id = self.model.id;
        let likers = match self
            .batch
            .as_ref()
            .and_then(|b| b.liker_pages.get(&(id, req)))
        {
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
            hidden_count: int(self.like_count - total),
        })
    }
}

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
    pub(super) async fn new(
        ctx: &Context<'_>,
        kind: CursorKind,
        page: Page<CountedVideo>,
    ) -> Result<Self> {
        let models: Vec<video::Model> = page.items.iter().map(|(_, v)| v.video.clone()).collect();
        let batch = Arc::new(prefetch(ctx, &models).await?);
        let (edges, page_info) = edges_of(ctx, kind, page)?;
        Ok(VideoConnection {
            edges: edges
                .into_iter()
                .map(|(cursor, video)| VideoEdge {
                    cursor,
                    node: Video {
                        batch: Some(batch.clone()),
                        ..Video::from(video)
                    },
                })
                .collect(),
            page_info,
        })
    }
}

/// A page of accounts.
#[derive(SimpleObject)]
pub struct UserConnection {
    pub edges: Vec<UserEdge>,
    pub page_info: PageInfo,
}

/// One account in a list.
#[derive(SimpleObject)]
pub struct UserEdge {
    pub cursor: String,
    pub node: User,
}

impl UserConnection {
    fn new(ctx: &Context<'_>, page: Page<PublicUser>) -> Result<Self> {
        let (edges, page_info) = edges_of(ctx, CursorKind::Users, page)?;
        Ok(UserConnection {
            edges: edges
                .into_iter()
                .map(|(cursor, u)| UserEdge {
                    cursor,
                    node: User(u),
                })
                .collect(),
            page_info,
        })
    }
}

/// Anything with a global ID.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    User(User),
    Video(Video),
}

/// A token for the signed-in account.
#[derive(SimpleObject)]
pub struct AuthPayload {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// A follow between two accounts.
#[derive(SimpleObject)]
pub struct Follow {
    pub state: FollowState,
    pub follower: User,
    pub followee: User,
}
