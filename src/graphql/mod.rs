//! The GraphQL API: schema, types and resolvers. Thin: every decision is in `domain`.
mod context;
mod identity;
mod limits;
pub use limits::{operation_type, Executed};
mod loaders;
mod mutation;
mod nulls;
mod prefetch;
mod query;
mod types;

use async_graphql::{EmptySubscription, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;

pub use loaders::Loaders;

use crate::{
    auth::token::Tokens,
    auth::Viewer,
    config::Limits,
    ids::{CursorCodec, IdCodec},
};

/// The schema type.
pub type AppSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

/// Builds the schema once; per-request data (viewer, loaders) is added by [`request_data`].
/// `limits` bound every operation (see [`limits`]); field suggestions are off so error
/// messages do not spell out the schema.
pub fn build_schema(
    db: DatabaseConnection,
    tokens: Tokens,
    ids: IdCodec,
    cursors: CursorCodec,
    limits: &Limits,
) -> AppSchema {
    let mut builder = builder()
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
        .data(db)
        .data(tokens)
        .data(ids)
        .data(cursors)
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

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, EmptySubscription> {
    Schema::build(query::Query, mutation::Mutation, EmptySubscription)
}
