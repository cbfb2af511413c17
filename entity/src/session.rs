//! A signed-in session: one per `logIn`/`signUp`, the family of its refresh tokens
//! ([`crate::refresh_token`]); its `id` is the `sid` of its access tokens.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// Microseconds since the Unix epoch, as every stored time.
    pub created_at: i64,
    /// When it last got tokens (signed in or refreshed).
    pub last_used_at: i64,
    /// When its newest refresh token expires: the session ends then unless refreshed.
    pub expires_at: i64,
    /// The coarse device class it signed in from (`IOS`, `ANDROID`, `WEB`, `OTHER`).
    pub device: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
