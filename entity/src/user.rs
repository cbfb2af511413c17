//! An account.
use crate::{AccountType, LikesVisibility, Visibility};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub handle: String,
    pub display_name: String,
    pub password_hash: String,
    pub account_type: AccountType,
    pub visibility: Visibility,
    pub likes_visibility: LikesVisibility,
    pub birth_year: Option<i32>,
    pub region: Option<String>,
    pub language: Option<String>,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// The identity-provider subject (`sub`) this account is linked to; `None` for
    /// accounts that sign in with a password.
    #[sea_orm(unique)]
    pub external_subject: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
