//! Use cases over the database. Every viewer-relative read takes the viewer explicitly and
//! applies the policy from [`crate::privacy`] inside its SQL.
pub mod accounts;
pub mod aggregates;
pub mod analytics;
pub mod app_analytics;
pub mod apps;
pub mod counters;
pub mod creator_analytics;
pub mod dp;
pub mod fold;
pub mod hold;
pub mod input;
pub mod liker_rollup;
pub mod likes;
pub mod live;
pub mod page;
pub mod privacy_budget;
pub mod rollups;
pub mod sessions;
pub mod sketch;
pub mod social;
pub mod trends;
pub mod videos;
pub mod view_writer;
pub mod visible;
pub mod window_cache;

use std::collections::HashMap;

use entity::{user, AccountType, LikesVisibility, Visibility};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use crate::{
    db::{Frag, Ident},
    error::AppResult,
};

/// Loads an account by ID.
pub async fn find_user(db: &impl ConnectionTrait, id: Uuid) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

/// An account's public columns: what listings and batched reads load (no password hash,
/// no identity-provider subject, nothing that is only for aggregates). `likes_visibility`
/// is shown to the account itself only, by the GraphQL layer.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct PublicUser {
    pub id: Uuid,
    pub handle: String,
    pub display_name: String,
    pub account_type: AccountType,
    pub visibility: Visibility,
    pub likes_visibility: LikesVisibility,
    pub avatar_url: Option<String>,
}

/// The columns of [`PublicUser`] in table `alias`, for SQL written by hand.
pub fn public_user_columns(alias: &'static str) -> Frag {
    Frag::join(PUBLIC_USER_COLUMNS.map(|c| Ident::at(alias, c)), ", ")
}

const PUBLIC_USER_COLUMNS: [user::Column; 7] = [
    user::Column::Id,
    user::Column::Handle,
    user::Column::DisplayName,
    user::Column::AccountType,
    user::Column::Visibility,
    user::Column::LikesVisibility,
    user::Column::AvatarUrl,
];

impl From<user::Model> for PublicUser {
    fn from(u: user::Model) -> Self {
        PublicUser {
            id: u.id,
            handle: u.handle,
            display_name: u.display_name,
            account_type: u.account_type,
            visibility: u.visibility,
            likes_visibility: u.likes_visibility,
            avatar_url: u.avatar_url,
        }
    }
}

/// Accounts the viewer may see, by ID, public columns only.
pub async fn users_by_ids(
    db: &impl ConnectionTrait,
    ids: &[visible::Visible<visible::UserId>],
) -> AppResult<HashMap<Uuid, PublicUser>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = user::Entity::find()
        .select_only()
        .columns(PUBLIC_USER_COLUMNS)
        .filter(user::Column::Id.is_in(ids.iter().map(|id| id.0)))
        .into_model::<PublicUser>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|u| (u.id, u)).collect())
}

/// The signed-in viewer's own account; a token for a deleted account no longer works.
pub async fn viewer_account(db: &impl ConnectionTrait, viewer: Uuid) -> AppResult<user::Model> {
    find_user(db, viewer).await?.ok_or_else(hold::gone)
}
