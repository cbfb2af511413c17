//! A video. Its like counters are in `video_like_counters` ([`crate::video_like_counter`]),
//! its view counters in `video_view_counters` ([`crate::video_view_counter`]).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "videos")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub author_id: Uuid,
    pub caption: String,
    /// JSON array of strings.
    pub hashtags: String,
    pub sound: Option<String>,
    pub created_at: i64,
    /// Length in milliseconds, as given to `createVideo`.
    pub duration_ms: Option<i32>,
    /// Where the video plays from (an absolute `https` URL; empty for videos posted before
    /// media URLs existed).
    pub media_url: String,
    /// Its still image, if any.
    pub thumbnail_url: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
