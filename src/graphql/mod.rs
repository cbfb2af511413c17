//! The GraphQL API, one slice per feature, each with its objects, its fields of `User` and
//! `Video`, its loaders and its part of the roots: [`accounts`], [`social`] (follows and
//! blocks), [`videos`], [`likes`], [`analytics`] (with [`creator_analytics`], its read
//! side), [`apps`] (third-party analytics apps), [`live`] (subscriptions), `sessions`. The
//! roots below merge the slices' parts. Thin: every decision is in `domain`, whose modules
//! mirror the slices.
//!
//! Shared by the slices: [`context`] (what a resolver takes from the request), [`nodes`]
//! and [`objects`] (the node types and their merged fields), [`connection`] (pages),
//! [`loaders`] and [`prefetch`] (batching). Guards on every operation: [`limits`],
//! [`identity`], [`principal`] (apps' tokens call `appAnalytics` only), [`nulls`].
mod accounts;
mod analytics;
mod apps;
mod connection;
mod context;
mod creator_analytics;
mod identity;
mod likes;
mod limits;
pub mod live;
pub use limits::{operation_type, Executed};
mod loaders;
mod nodes;
mod nulls;
mod objects;
mod persisted;
mod prefetch;
mod principal;
mod sessions;
mod social;
mod trends;
mod videos;

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;

pub use loaders::Loaders;
pub use persisted::PersistedQueries;

use crate::{
    auth::token::Tokens,
    auth::Viewer,
    config::Limits,
    ids::{CursorCodec, IdCodec},
};

/// Reads, always from the viewer's point of view.
#[derive(MergedObject, Default)]
pub struct Query(
    accounts::AccountsQuery,
    objects::NodeQuery,
    videos::VideosQuery,
    creator_analytics::CreatorAnalyticsQuery,
    trends::TrendsQuery,
    apps::AppAnalyticsQuery,
);

// Every mutation but `signUp`, `logIn`, `refreshSession` and `provisionAccount` needs a
// signed-in viewer; rate-limited mutations call `ratelimit::check` before anything else.
/// Writes.
#[derive(MergedObject, Default)]
pub struct Mutation(
    accounts::AccountsMutation,
    social::SocialMutation,
    videos::VideosMutation,
    likes::LikesMutation,
    analytics::AnalyticsMutation,
    apps::AppsMutation,
    sessions::SessionsMutation,
);

/// Pushed to subscribers over `graphql-transport-ws` on `GET /graphql` (README "Live").
#[derive(MergedSubscription, Default)]
pub struct Subscription(live::LiveSubscription);

/// The schema type.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Builds the schema once; per-request data (viewer, loaders) is added by [`request_data`].
/// `limits` bound every operation (see [`limits`]); field suggestions are off so error
/// messages do not spell out the schema.
pub fn build_schema(
    db: DatabaseConnection,
    tokens: Tokens,
    ids: IdCodec,
    cursors: CursorCodec,
    sketches: std::sync::Arc<crate::domain::sketch::SketchBuffer>,
    limits: &Limits,
) -> AppSchema {
    let persisted = PersistedQueries::new(limits.persisted_queries);
    build_schema_with(db, tokens, ids, cursors, sketches, limits, persisted)
}

/// [`build_schema`] keeping its persisted queries in `persisted` (which the HTTP layer
/// shares, to tell what a `GET` naming one would run).
pub fn build_schema_with(
    db: DatabaseConnection,
    tokens: Tokens,
    ids: IdCodec,
    cursors: CursorCodec,
    sketches: std::sync::Arc<crate::domain::sketch::SketchBuffer>,
    limits: &Limits,
    persisted: PersistedQueries,
) -> AppSchema {
    // Metrics outermost (they see every error with its code); then persisted queries: the
    // limits apply to the document they resolve.
    let mut builder = builder()
        .extension(crate::observability::operations::OperationMetrics)
        .extension(persisted)
        .extension(limits::QueryLimits::new(limits))
        .limit_recursive_depth(limits.max_recursive_depth)
        .limit_directives(limits.max_directives)
        .disable_suggestions();
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder
        .extension(nulls::NullPropagation)
        .extension(identity::UnlinkedIdentityGuard)
        .extension(principal::PrincipalGuard)
        .data(tokens)
        .data(ids)
        .data(cursors)
        .data(std::sync::Arc::new(
            crate::domain::view_writer::ViewWriter::new(db.clone(), sketches.clone()),
        ))
        .data(crate::db::replicas::Primary(db.clone()))
        .data(db)
        .data(sketches)
        .finish()
}

/// Attaches the viewer and fresh, viewer-bound DataLoaders to one request.
pub fn request_data(
    request: async_graphql::Request,
    db: &DatabaseConnection,
    viewer: Viewer,
) -> async_graphql::Request {
    let loaders = loaders::for_request(db.clone(), viewer);
    request.data(viewer).data(loaders)
}

/// Fresh, viewer-bound DataLoaders (a live connection's: they batch and do not cache, so a
/// connection's later events read the current state).
pub fn loaders_for(db: DatabaseConnection, viewer: Viewer) -> Loaders {
    loaders::for_request(db, viewer)
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
}
