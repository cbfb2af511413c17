//! An account.
use crate::{AccountType, LikesVisibility, Visibility};
use sea_orm::entity::prelude::*;

/// A whole account row, credentials included: `Debug` redacts the password hash (listings
/// load only public columns, see `tally::domain::PublicUser`).
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
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
    /// The account's picture (an absolute `https` URL), if any.
    pub avatar_url: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("id", &self.id)
            .field("handle", &self.handle)
            .field("display_name", &self.display_name)
            .field("password_hash", &"<redacted>")
            .field("account_type", &self.account_type)
            .field("visibility", &self.visibility)
            .field("likes_visibility", &self.likes_visibility)
            .field("birth_year", &self.birth_year)
            .field("region", &self.region)
            .field("language", &self.language)
            .field("created_at", &self.created_at)
            .field("external_subject", &self.external_subject)
            .field("avatar_url", &self.avatar_url)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_show_the_password_hash() {
        let model = Model {
            id: Uuid::nil(),
            handle: "ana".into(),
            display_name: "Ana".into(),
            password_hash: "$argon2id$v=19$secret-hash".into(),
            account_type: AccountType::Personal,
            visibility: Visibility::Public,
            likes_visibility: LikesVisibility::Everyone,
            birth_year: None,
            region: None,
            language: None,
            created_at: 0,
            external_subject: None,
            avatar_url: None,
        };
        let shown = format!("{model:?} {model:#?}");
        assert!(
            !shown.contains("argon2") && !shown.contains("secret-hash"),
            "{shown}"
        );
        assert!(
            shown.contains("<redacted>") && shown.contains("ana"),
            "{shown}"
        );
    }
}
