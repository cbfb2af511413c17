//! One of a video's view-counter shards: a share of its views (the video's count is the sum
//! over its rows). Each view adds to a shard picked at random, in the transaction of its
//! event row (see the service's `domain::analytics`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "video_view_counters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub video_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub shard: i16,
    /// Views counted in this shard.
    pub views: i64,
    /// Their watch time, in milliseconds.
    pub watch_ms: i64,
    /// Those that watched the whole video (watch time ≥ its duration).
    pub completed: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
