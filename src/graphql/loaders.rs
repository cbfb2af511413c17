//! Per-request batching. One [`DataLoader`] is created per request and bound to its viewer,
//! so a batched answer computed for one viewer can never serve another. Each key type
//! is one question, declared in the slice that asks it; the loader batches every key of a
//! type asked during one execution step into one SQL statement.
use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::{auth::Viewer, error::AppError};

/// The loader of one request.
pub type Loaders = Arc<DataLoader<RequestLoader>>;

/// Fresh loader for one request of `viewer`.
pub fn for_request(db: DatabaseConnection, viewer: Viewer) -> Loaders {
    Arc::new(DataLoader::new(RequestLoader { db, viewer }, tokio::spawn))
}

/// Loads everything a request batches, from `viewer`'s point of view. Each slice adds the
/// keys of its own questions (`impl Loader<Key> for RequestLoader`).
pub struct RequestLoader {
    pub(super) db: DatabaseConnection,
    pub(super) viewer: Viewer,
}

/// A domain error as a loader's error.
pub(super) fn gql(e: AppError) -> async_graphql::Error {
    e.to_graphql()
}

/// The account or video IDs of `keys`.
pub(super) fn uuids<K: Copy>(keys: &[K], id: impl Fn(K) -> Uuid) -> Vec<Uuid> {
    keys.iter().map(|k| id(*k)).collect()
}
