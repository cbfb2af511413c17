//! SeaORM entities of Tally: plain rows, no GraphQL and no policy.
pub mod block;
pub mod demographics;
pub mod follow;
pub mod like;
pub mod refresh_token;
pub mod session;
pub mod user;
pub mod video;
pub mod video_like_counter;
pub mod video_view;
pub mod video_view_counter;

use sea_orm::entity::prelude::*;

/// `users.visibility`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Visibility {
    #[sea_orm(string_value = "PUBLIC")]
    Public,
    #[sea_orm(string_value = "PRIVATE")]
    Private,
}

/// `users.likes_visibility`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum LikesVisibility {
    #[sea_orm(string_value = "EVERYONE")]
    Everyone,
    #[sea_orm(string_value = "FOLLOWERS")]
    Followers,
    #[sea_orm(string_value = "ONLY_ME")]
    OnlyMe,
}

/// `users.account_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum AccountType {
    #[sea_orm(string_value = "PERSONAL")]
    Personal,
    #[sea_orm(string_value = "CREATOR")]
    Creator,
}

/// `follows.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum FollowState {
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "APPROVED")]
    Approved,
}

/// `likes.audience`: who may see a like, copied from the liker's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Audience {
    #[sea_orm(string_value = "EVERYONE")]
    Everyone,
    #[sea_orm(string_value = "FOLLOWERS")]
    Followers,
    #[sea_orm(string_value = "ONLY_ME")]
    OnlyMe,
}

/// `video_views.age_bracket`: the viewer's age (the clock's year minus its birth year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum AgeBracket {
    #[sea_orm(string_value = "13-17")]
    From13To17,
    #[sea_orm(string_value = "18-24")]
    From18To24,
    #[sea_orm(string_value = "25-34")]
    From25To34,
    #[sea_orm(string_value = "35-44")]
    From35To44,
    #[sea_orm(string_value = "45-54")]
    From45To54,
    #[sea_orm(string_value = "55+")]
    From55,
    /// No birth year, or an age no bracket holds.
    #[sea_orm(string_value = "UNKNOWN")]
    Unknown,
}

/// `video_views.device`: the class of device a view was made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum DeviceClass {
    #[sea_orm(string_value = "IOS")]
    Ios,
    #[sea_orm(string_value = "ANDROID")]
    Android,
    #[sea_orm(string_value = "WEB")]
    Web,
    #[sea_orm(string_value = "OTHER")]
    Other,
}
