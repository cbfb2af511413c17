//! The social graph: follows (requests to private accounts included) and blocks, and an
//! account's follow counts and lists.
use std::collections::HashMap;

use async_graphql::{dataloader::Loader, Context, Enum, Object, Result, SimpleObject, ID};
use uuid::Uuid;

use super::{
    connection::{edges_of, int, PageInfo},
    context::{clock, db, loaders, page_request, publish, signed_in, user_id, viewer},
    limits::page_cost,
    loaders::{gql, uuids, RequestLoader},
    nodes::User,
};
use crate::{
    domain::{self, page::Page, PublicUser},
    ids::CursorKind,
    live::Notice,
    ratelimit::{self, Limit},
};

/// The viewer's follow of an account.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum FollowState {
    None,
    Pending,
    Approved,
}

impl From<Option<entity::FollowState>> for FollowState {
    fn from(s: Option<entity::FollowState>) -> Self {
        match s {
            None => FollowState::None,
            Some(entity::FollowState::Pending) => FollowState::Pending,
            Some(entity::FollowState::Approved) => FollowState::Approved,
        }
    }
}

/// A follow between two accounts.
#[derive(SimpleObject)]
pub struct Follow {
    pub state: FollowState,
    pub follower: User,
    pub followee: User,
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

/// `User`'s follow fields.
pub struct UserSocial(pub PublicUser);

#[Object]
impl UserSocial {
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
}

impl UserSocial {
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

/// Key: an account's approved `(followers, following)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FollowCounts(pub Uuid);

impl Loader<FollowCounts> for RequestLoader {
    type Value = (i64, i64);
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[FollowCounts],
    ) -> Result<HashMap<FollowCounts, (i64, i64)>, Self::Error> {
        let counts = domain::social::follow_counts(&self.db, &uuids(keys, |k| k.0))
            .await
            .map_err(gql)?;
        Ok(counts
            .into_iter()
            .map(|(k, v)| (FollowCounts(k), v))
            .collect())
    }
}

/// Key: the viewer's follow of an account (absent: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewerFollow(pub Uuid);

impl Loader<ViewerFollow> for RequestLoader {
    type Value = entity::FollowState;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[ViewerFollow],
    ) -> Result<HashMap<ViewerFollow, entity::FollowState>, Self::Error> {
        let Some(viewer) = self.viewer.id() else {
            return Ok(HashMap::new());
        };
        let states = domain::social::follow_states(&self.db, viewer, &uuids(keys, |k| k.0))
            .await
            .map_err(gql)?;
        Ok(states
            .into_iter()
            .map(|(k, v)| (ViewerFollow(k), v))
            .collect())
    }
}

/// The social graph's part of the mutation root.
#[derive(Default)]
pub struct SocialMutation;

#[Object]
impl SocialMutation {
    /// Follows a user: approved at once if public, pending if private.
    async fn follow_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<Follow> {
        ratelimit::check(ctx, Limit::Follows).await?;
        let me = signed_in(ctx).await?;
        let target = self::user_id(ctx, "userId", &user_id)?;
        let db = db(ctx)?;
        let (state, followee) =
            domain::social::follow_user(db, me, target, clock(ctx).now_us()).await?;
        let follower = domain::viewer_account(db, me).await?;
        Ok(Follow {
            state: Some(state).into(),
            follower: User::from(follower),
            followee: User::from(followee),
        })
    }

    /// Stops following a user (pending or approved). Returns whether a follow was removed.
    async fn unfollow_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        ratelimit::check(ctx, Limit::Follows).await?;
        let me = signed_in(ctx).await?;
        let target = self::user_id(ctx, "userId", &user_id)?;
        let removed =
            domain::social::unfollow_user(db(ctx)?, me, target, clock(ctx).now_us()).await?;
        if removed {
            publish(ctx, Notice::Access { a: me, b: target }).await;
        }
        Ok(removed)
    }

    /// Approves a pending request from `userId` to follow the viewer.
    async fn approve_follow_request(&self, ctx: &Context<'_>, user_id: ID) -> Result<Follow> {
        let me = signed_in(ctx).await?;
        let db = db(ctx)?;
        let requester = self::user_id(ctx, "userId", &user_id)?;
        let follower =
            domain::social::approve_follow_request(db, me, requester, clock(ctx).now_us()).await?;
        let followee = domain::viewer_account(db, me).await?;
        Ok(Follow {
            state: Some(entity::FollowState::Approved).into(),
            follower: User::from(follower),
            followee: User::from(followee),
        })
    }

    /// Rejects (removes) a pending request from `userId`.
    async fn reject_follow_request(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        let me = signed_in(ctx).await?;
        let requester = self::user_id(ctx, "userId", &user_id)?;
        domain::social::reject_follow_request(db(ctx)?, me, requester).await?;
        Ok(true)
    }

    /// Removes `userId`'s approved follow of the viewer.
    async fn remove_follower(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        let me = signed_in(ctx).await?;
        let follower = self::user_id(ctx, "userId", &user_id)?;
        domain::social::remove_follower(db(ctx)?, me, follower, clock(ctx).now_us()).await?;
        publish(ctx, Notice::Access { a: me, b: follower }).await;
        Ok(true)
    }

    /// Blocks a user: follows both ways and likes on each other's videos are removed.
    async fn block_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        ratelimit::check(ctx, Limit::Follows).await?;
        let me = signed_in(ctx).await?;
        let target = self::user_id(ctx, "userId", &user_id)?;
        domain::social::block_user(db(ctx)?, me, target, clock(ctx).now_us()).await?;
        publish(ctx, Notice::Access { a: me, b: target }).await;
        Ok(true)
    }

    /// Lifts a block; nothing it removed comes back. Returns whether a block was lifted.
    async fn unblock_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        ratelimit::check(ctx, Limit::Follows).await?;
        let me = signed_in(ctx).await?;
        let target = self::user_id(ctx, "userId", &user_id)?;
        Ok(domain::social::unblock_user(db(ctx)?, me, target).await?)
    }
}
