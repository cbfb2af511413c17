//! The query root.
use async_graphql::{Context, Object, Result, ID};

use super::{
    context::{db, ids, page_request, viewer},
    limits::page_cost,
    types::{Node, User, Video, VideoConnection},
};
use crate::{
    domain,
    error::AppError,
    ids::{CursorKind, Kind},
};

/// Reads, always from the viewer's point of view.
#[derive(Default)]
pub struct Query;

#[Object]
impl Query {
    /// The signed-in account; `null` when anonymous.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match viewer(ctx).id() {
            Some(id) => Ok(domain::find_user(db(ctx)?, id).await?.map(User::from)),
            None => Ok(None),
        }
    }

    /// Any user or video by ID; `null` when absent or hidden from the viewer.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let (kind, uuid) = ids(ctx)?
            .decode_any_id(&id)
            .ok_or_else(|| AppError::bad_input("id", "`id` is not a valid ID"))?;
        let (db, v) = (db(ctx)?, viewer(ctx).id());
        Ok(match kind {
            Kind::User => domain::social::visible_user(db, v, uuid)
                .await?
                .map(|u| Node::User(User::from(u))),
            Kind::Video => domain::videos::visible_videos(db, v, &[uuid])
                .await?
                .pop()
                .map(|m| Node::Video(Video::from(m))),
        })
    }

    /// The account with `handle`; `null` when absent or separated from the viewer by a block.
    async fn user(&self, ctx: &Context<'_>, handle: String) -> Result<Option<User>> {
        Ok(
            domain::social::visible_user_by_handle(db(ctx)?, viewer(ctx).id(), &handle)
                .await?
                .map(User::from),
        )
    }

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
