//! What every slice's lists and counts share: Relay connections' page information and
//! cursors, and GraphQL's scalars for stored values.
use async_graphql::{Context, Result, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    domain::page::Page,
    ids::{CursorCodec, CursorKind, Keyset},
};

/// Relay page information (forward pagination only: `hasPreviousPage` is always false).
#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// Turns a page of a list of `kind` into `(cursor, item)` pairs and its `PageInfo`.
pub fn edges_of<T>(
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

/// A stored time (microseconds) as a `DateTime`.
pub fn datetime(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// GraphQL `Int` for a stored count.
pub fn int(n: i64) -> i32 {
    i32::try_from(n.max(0)).unwrap_or(i32::MAX)
}
