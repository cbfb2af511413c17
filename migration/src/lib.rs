//! Schema migrations for Tally. Run by `tally migrate` and at service start-up.
pub use sea_orm_migration::prelude::*;

mod m20261130_000001_create_tables;
mod m20261130_004543_add_external_subject;
mod m20261130_020000_follower_state_index;
mod m20261130_030000_like_counter_shards;
mod m20261130_040000_likes_by_audience_and_liker;
mod m20261201_050000_videos_author_private;
mod m20261210_060000_video_duration;
mod m20261210_070000_video_views;
mod m20261211_080000_rollups;
mod m20261212_090000_liker_rollup;
mod m20261212_093000_view_completions;
mod m20261213_100000_analytics_windows;
mod m20261214_110000_api_clients;
mod m20261215_120000_sessions_and_media;

/// The unique index of `users.external_subject`.
pub use m20261130_004543_add_external_subject::INDEX as EXTERNAL_SUBJECT_INDEX;

/// Every migration of the service, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261130_000001_create_tables::Migration),
            Box::new(m20261130_004543_add_external_subject::Migration),
            Box::new(m20261130_020000_follower_state_index::Migration),
            Box::new(m20261130_030000_like_counter_shards::Migration),
            Box::new(m20261130_040000_likes_by_audience_and_liker::Migration),
            Box::new(m20261201_050000_videos_author_private::Migration),
            Box::new(m20261210_060000_video_duration::Migration),
            Box::new(m20261210_070000_video_views::Migration),
            Box::new(m20261211_080000_rollups::Migration),
            Box::new(m20261212_090000_liker_rollup::Migration),
            Box::new(m20261212_093000_view_completions::Migration),
            Box::new(m20261213_100000_analytics_windows::Migration),
            Box::new(m20261214_110000_api_clients::Migration),
            Box::new(m20261215_120000_sessions_and_media::Migration),
        ]
    }
}
