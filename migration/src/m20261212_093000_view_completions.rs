//! `video_view_counters.completed`: of a shard's views, those that watched the whole video
//! (watch time ≥ `videos.duration_ms`), counted by `recordView` in its transaction, for
//! `VideoStats.completionRate`. Views already recorded are counted on each video's lowest
//! shard, from their event rows.
use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum VideoViewCounters {
    Table,
    Completed,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(VideoViewCounters::Table)
                    .add_column(
                        ColumnDef::new(VideoViewCounters::Completed)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE video_view_counters SET completed = (SELECT COUNT(*) FROM video_views e \
                 JOIN videos v ON v.id = e.video_id WHERE e.video_id = video_view_counters.video_id \
                 AND e.watch_ms >= v.duration_ms) \
                 WHERE shard = (SELECT MIN(c.shard) FROM video_view_counters c \
                 WHERE c.video_id = video_view_counters.video_id)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(VideoViewCounters::Table)
                    .drop_column(VideoViewCounters::Completed)
                    .to_owned(),
            )
            .await
    }
}
