//! Per-request batching. One [`DataLoader`] is created per request and bound to its viewer,
//! so a batched answer computed for one viewer can never serve another. Each key type below
//! is one question; the loader batches every key of a type asked during one execution step
//! into one SQL statement.
use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::{DataLoader, Loader};
use entity::FollowState;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::{
    auth::Viewer,
    domain::{self, likes::VisibleLikers, page::PageRequest, PublicUser},
    error::AppError,
};

/// The loader of one request.
pub type Loaders = Arc<DataLoader<RequestLoader>>;

/// Fresh loader for one request of `viewer`.
pub fn for_request(db: DatabaseConnection, viewer: Viewer) -> Loaders {
    Arc::new(DataLoader::new(RequestLoader { db, viewer }, tokio::spawn))
}

/// Loads everything a request batches, from `viewer`'s point of view.
pub struct RequestLoader {
    db: DatabaseConnection,
    viewer: Viewer,
}

fn gql(e: AppError) -> async_graphql::Error {
    e.to_graphql()
}

fn uuids<K: Copy>(keys: &[K], id: impl Fn(K) -> Uuid) -> Vec<Uuid> {
    keys.iter().map(|k| id(*k)).collect()
}

/// Key: an account by ID (asked only for accounts the viewer may see).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserById(pub Uuid);

impl Loader<UserById> for RequestLoader {
    type Value = PublicUser;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[UserById]) -> Result<HashMap<UserById, PublicUser>, Self::Error> {
        let users = domain::users_by_ids(&self.db, &uuids(keys, |k| k.0))
            .await
            .map_err(gql)?;
        Ok(users.into_iter().map(|(k, u)| (UserById(k), u)).collect())
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

/// Key: whether the viewer liked a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewerLiked(pub Uuid);

impl Loader<ViewerLiked> for RequestLoader {
    type Value = bool;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ViewerLiked]) -> Result<HashMap<ViewerLiked, bool>, Self::Error> {
        let Some(viewer) = self.viewer.id() else {
            return Ok(keys.iter().map(|k| (*k, false)).collect());
        };
        let liked = domain::likes::viewer_likes(&self.db, viewer, &uuids(keys, |k| k.0))
            .await
            .map_err(gql)?;
        Ok(keys.iter().map(|k| (*k, liked.contains(&k.0))).collect())
    }
}

/// Key: the viewer's follow of an account (absent: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewerFollow(pub Uuid);

impl Loader<ViewerFollow> for RequestLoader {
    type Value = FollowState;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[ViewerFollow],
    ) -> Result<HashMap<ViewerFollow, FollowState>, Self::Error> {
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

/// Key: one page of a video's visible likers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LikerPage(pub Uuid, pub PageRequest);

impl Loader<LikerPage> for RequestLoader {
    type Value = VisibleLikers;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[LikerPage],
    ) -> Result<HashMap<LikerPage, VisibleLikers>, Self::Error> {
        let requests: Vec<(Uuid, PageRequest)> = keys.iter().map(|k| (k.0, k.1)).collect();
        let pages = domain::likes::visible_likers_batch(&self.db, self.viewer.id(), &requests)
            .await
            .map_err(gql)?;
        Ok(pages
            .into_iter()
            .map(|((v, r), p)| (LikerPage(v, r), p))
            .collect())
    }
}
