//! What every resolver takes from the request: the viewer, the clock, the database, the ID codec, the
//! request's loaders, and pagination arguments checked against the cursor codec.
use async_graphql::{Context, Result};
use sea_orm::DatabaseConnection;

use super::loaders::Loaders;
use crate::{
    auth::{app_token::AppGrant, Viewer},
    clock::Clock,
    config::{AppSettings, Thresholds},
    domain::{self, page::PageRequest},
    ids::{CursorCodec, CursorKind, IdCodec, Kind},
};

/// Who is asking (anonymous without a token).
pub fn viewer(ctx: &Context<'_>) -> Viewer {
    ctx.data_opt::<Viewer>()
        .copied()
        .unwrap_or(Viewer::ANONYMOUS)
}

/// The request's clock: the service's (fixed by `TALLY_NOW` or the system clock); the system
/// clock for a schema executed without one.
pub fn clock(ctx: &Context<'_>) -> Clock {
    ctx.data_opt::<Clock>().copied().unwrap_or_default()
}

/// The request's analytics thresholds: the service's (`TALLY_MIN_AUDIENCE`,
/// `TALLY_MIN_BUCKET`); the production defaults for a schema executed without them.
pub fn thresholds(ctx: &Context<'_>) -> Thresholds {
    ctx.data_opt::<Thresholds>().copied().unwrap_or_default()
}

/// The third-party app a request speaks for, if its token is an app's.
pub fn app(ctx: &Context<'_>) -> Option<AppGrant> {
    ctx.data_opt::<AppGrant>().copied()
}

/// The request's app settings (`TALLY_APP_EPSILON`, `TALLY_APP_DAILY_EPSILON`, …); the
/// defaults for a schema executed without them.
pub fn app_settings(ctx: &Context<'_>) -> AppSettings {
    ctx.data_opt::<AppSettings>().copied().unwrap_or_default()
}

/// Tells live subscribers (every instance's) about a write that has committed; nothing
/// for a schema executed without a live hub.
pub async fn publish(ctx: &Context<'_>, notice: crate::live::Notice) {
    if let Some(hub) = ctx.data_opt::<crate::live::Hub>() {
        hub.publish(notice).await;
    }
}

/// The database pool of the request: a read replica's for a query that runs on one, else
/// the primary's.
pub fn db<'a>(ctx: &Context<'a>) -> Result<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>()
}

/// The primary database, for a query field that writes: a query may run on a read replica
/// ([`db`]), which refuses writes and has not seen them.
pub fn primary<'a>(ctx: &Context<'a>) -> Result<&'a DatabaseConnection> {
    match ctx.data_opt::<crate::db::replicas::Primary>() {
        Some(primary) => Ok(&primary.0),
        None => db(ctx),
    }
}

/// The codec of the API's (encrypted) IDs.
pub fn ids<'a>(ctx: &Context<'a>) -> Result<&'a IdCodec> {
    ctx.data::<IdCodec>()
}

/// Validates `first` / `after` of a list of `kind`.
pub fn page_request(
    ctx: &Context<'_>,
    kind: CursorKind,
    first: i32,
    after: Option<String>,
) -> Result<PageRequest> {
    let after = match after {
        Some(c) => Some(ctx.data::<CursorCodec>()?.decode(kind, &c)?),
        None => None,
    };
    Ok(PageRequest::new(first, after)?)
}

/// The request's DataLoaders, bound to its viewer.
pub fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders> {
    ctx.data::<Loaders>()
}

/// The signed-in viewer, whose account must still exist (a token outlives a deleted
/// account; every mutation refuses it alike).
pub async fn signed_in(ctx: &Context<'_>) -> Result<uuid::Uuid> {
    let me = viewer(ctx).require()?;
    domain::viewer_account(db(ctx)?, me).await?;
    Ok(me)
}

/// The account named by the `ID` argument `arg`.
pub fn user_id(ctx: &Context<'_>, arg: &str, id: &async_graphql::ID) -> Result<uuid::Uuid> {
    Ok(ids(ctx)?.decode_id(arg, Kind::User, id)?)
}
