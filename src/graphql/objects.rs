//! The node types of the schema, merged from the fields every slice gives them, and the
//! `Node` interface over them.
//!
//! Slices name a user or video by its data ([`nodes::User`], [`nodes::Video`]): its
//! GraphQL type is given here, where a `MergedObject` joins the slices' parts, so that a
//! slice can add fields to `User` or `Video` and return users and videos without importing
//! the slices that add the others. To add a field to `User` from a new slice, give the
//! slice a part (an `#[Object]` over `PublicUser`) and list it in [`UserObject`].
use std::borrow::Cow;

use async_graphql::{
    parser::types::Field, registry::Registry, Context, ContextSelectionSet, Interface,
    MergedObject, Object, OutputType, Positioned, Result, ServerResult, Value, ID,
};

use super::{
    accounts::UserProfile,
    analytics::VideoAnalytics,
    apps::{own_client, ApiClient, UserApps},
    context::{db, ids, viewer},
    likes::{UserLikes, VideoLikes},
    nodes,
    sessions::{own_session, Session, UserSessions},
    social::UserSocial,
    videos::{UserVideos, VideoFields},
};
use crate::{domain, error::AppError, ids::Kind};

// Every slice's fields of an account. (`///` comments on the merged types are their
// descriptions in the schema.)
/// An account as a viewer sees it.
#[derive(MergedObject)]
#[graphql(name = "User")]
pub struct UserObject(
    UserProfile,
    UserSocial,
    UserVideos,
    UserLikes,
    UserApps,
    UserSessions,
);

impl From<&nodes::User> for UserObject {
    fn from(u: &nodes::User) -> Self {
        let u = &u.0;
        UserObject(
            UserProfile(u.clone()),
            UserSocial(u.clone()),
            UserVideos(u.clone()),
            UserLikes(u.clone()),
            UserApps(u.clone()),
            UserSessions(u.clone()),
        )
    }
}

// Every slice's fields of a video.
/// A video the viewer may see (Rule V).
#[derive(MergedObject)]
#[graphql(name = "Video")]
pub struct VideoObject(VideoFields, VideoLikes, VideoAnalytics);

impl From<&nodes::Video> for VideoObject {
    fn from(v: &nodes::Video) -> Self {
        VideoObject(
            VideoFields(v.clone()),
            VideoLikes(v.clone()),
            VideoAnalytics(v.clone()),
        )
    }
}

/// Gives a node's data the GraphQL type merged for it: the same name and fields, resolved
/// by the merged object.
macro_rules! node_type {
    ($data:ty => $object:ty) => {
        impl OutputType for $data {
            fn type_name() -> Cow<'static, str> {
                <$object>::type_name()
            }

            fn create_type_info(registry: &mut Registry) -> String {
                <$object>::create_type_info(registry)
            }

            async fn resolve(
                &self,
                ctx: &ContextSelectionSet<'_>,
                field: &Positioned<Field>,
            ) -> ServerResult<Value> {
                <$object>::from(self).resolve(ctx, field).await
            }
        }
    };
}
node_type!(nodes::User => UserObject);
node_type!(nodes::Video => VideoObject);

/// The `id` of `Node`, resolved by the slice that owns it.
impl UserObject {
    async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        self.0.id(ctx).await
    }
}

impl VideoObject {
    async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        self.0.id(ctx).await
    }
}

/// Anything with a global ID.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    User(UserObject),
    Video(VideoObject),
    ApiClient(ApiClient),
    Session(Session),
}

/// The part of the query root that reads any node.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any user, video or (for its creator) app or (for its account) session by ID; `null` when absent or hidden from the
    /// viewer.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let (kind, uuid) = ids(ctx)?
            .decode_any_id(&id)
            .ok_or_else(|| AppError::bad_input("id", "`id` is not a valid ID"))?;
        let (db, v) = (db(ctx)?, viewer(ctx).id());
        Ok(match kind {
            Kind::User => domain::social::visible_user(db, v, uuid)
                .await?
                .map(|u| Node::User(UserObject::from(&nodes::User::from(u)))),
            Kind::Video => domain::videos::visible_videos(db, v, &[uuid])
                .await?
                .pop()
                .map(|m| Node::Video(VideoObject::from(&nodes::Video::from(m)))),
            Kind::ApiClient => own_client(ctx, uuid).await?.map(Node::ApiClient),
            Kind::Session => own_session(ctx, uuid).await?.map(Node::Session),
        })
    }
}
