//! Per-request DataLoaders. Each is created for one request and bound to its viewer, so a
//! batched answer computed for one viewer can never serve another.
use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::{DataLoader, Loader};
use entity::user;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::{auth::Viewer, domain, error::AppError};

/// The loaders of one request.
#[derive(Clone)]
pub struct Loaders {
    pub users: Arc<DataLoader<UserLoader>>,
    pub visible_like_counts: Arc<DataLoader<VisibleLikeCountLoader>>,
    pub viewer_liked: Arc<DataLoader<ViewerLikedLoader>>,
}

impl Loaders {
    /// Fresh loaders for `viewer`.
    pub fn new(db: DatabaseConnection, viewer: Viewer) -> Self {
        Loaders {
            users: Arc::new(DataLoader::new(UserLoader { db: db.clone() }, tokio::spawn)),
            visible_like_counts: Arc::new(DataLoader::new(
                VisibleLikeCountLoader {
                    db: db.clone(),
                    viewer,
                },
                tokio::spawn,
            )),
            viewer_liked: Arc::new(DataLoader::new(
                ViewerLikedLoader { db, viewer },
                tokio::spawn,
            )),
        }
    }
}

fn gql(e: AppError) -> async_graphql::Error {
    e.to_graphql()
}

/// Accounts by ID (callers only ask for accounts the viewer may see).
pub struct UserLoader {
    db: DatabaseConnection,
}

impl Loader<Uuid> for UserLoader {
    type Value = user::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, user::Model>, Self::Error> {
        let rows = user::Entity::find()
            .filter(user::Column::Id.is_in(keys.iter().copied()))
            .all(&self.db)
            .await
            .map_err(|e| gql(e.into()))?;
        Ok(rows.into_iter().map(|u| (u.id, u)).collect())
    }
}

/// `visibleLikers.totalCount` per video, for this request's viewer.
pub struct VisibleLikeCountLoader {
    db: DatabaseConnection,
    viewer: Viewer,
}

impl Loader<Uuid> for VisibleLikeCountLoader {
    type Value = i64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, i64>, Self::Error> {
        domain::likes::visible_like_counts(&self.db, self.viewer.id(), keys)
            .await
            .map_err(gql)
    }
}

/// Whether this request's viewer liked each video.
pub struct ViewerLikedLoader {
    db: DatabaseConnection,
    viewer: Viewer,
}

impl Loader<Uuid> for ViewerLikedLoader {
    type Value = bool;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, bool>, Self::Error> {
        let Some(viewer) = self.viewer.id() else {
            return Ok(keys.iter().map(|k| (*k, false)).collect());
        };
        let liked = domain::likes::viewer_likes(&self.db, viewer, keys)
            .await
            .map_err(gql)?;
        Ok(keys.iter().map(|k| (*k, liked.contains(k))).collect())
    }
}
