//! Use cases over the database. Every viewer-relative read takes the viewer explicitly and
//! applies the policy from [`crate::privacy`] inside its SQL.
pub mod accounts;
pub mod counters;
pub mod hold;
pub mod likes;
pub mod page;
pub mod social;
pub mod videos;

use std::collections::HashMap;

use entity::user;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::error::AppResult;

/// Loads an account by ID.
pub async fn find_user(db: &impl ConnectionTrait, id: Uuid) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

/// Accounts by ID (callers ask only for accounts the viewer may see).
pub async fn users_by_ids(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, user::Model>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|u| (u.id, u)).collect())
}

/// The signed-in viewer's own account; a token for a deleted account no longer works.
pub async fn viewer_account(db: &impl ConnectionTrait, viewer: Uuid) -> AppResult<user::Model> {
    find_user(db, viewer).await?.ok_or_else(hold::gone)
}
