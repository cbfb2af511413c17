//! One of a video's like-counter shards: a share of its counts (the video's counts are the
//! sums over its rows). The service spreads likers over the shards and changes a row only by
//! adding a delta (see the service's `domain::counters`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "video_like_counters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub video_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub shard: i16,
    /// Every like.
    pub like_count: i64,
    /// Likes with audience `EVERYONE`.
    pub everyone_likes: i64,
    /// Likes with audience `FOLLOWERS`.
    pub followers_likes: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
