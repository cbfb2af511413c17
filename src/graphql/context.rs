//! What every resolver takes from the request: the viewer, the database, the ID codec, and
//! pagination arguments checked against the cursor codec.
use async_graphql::{Context, Result};
use sea_orm::DatabaseConnection;

use crate::{
    auth::Viewer,
    domain::page::PageRequest,
    ids::{CursorCodec, CursorKind, IdCodec},
};

/// Who is asking (anonymous without a token).
pub(super) fn viewer(ctx: &Context<'_>) -> Viewer {
    ctx.data_opt::<Viewer>()
        .copied()
        .unwrap_or(Viewer::ANONYMOUS)
}

/// The database pool.
pub(super) fn db<'a>(ctx: &Context<'a>) -> Result<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>()
}

/// The codec of the API's (encrypted) IDs.
pub(super) fn ids<'a>(ctx: &Context<'a>) -> Result<&'a IdCodec> {
    ctx.data::<IdCodec>()
}

/// Validates `first` / `after` of a list of `kind`.
pub(super) fn page_request(
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
