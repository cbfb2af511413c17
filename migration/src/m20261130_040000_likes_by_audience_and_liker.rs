//! Likes of a video by audience and liker, carrying the like's time: the index the
//! follower-like stream reads. It serves both of that stream's shapes index-only: one probe
//! per followee of the viewer (`video_id, audience, user_id` all equal), and the walk of a
//! video's `FOLLOWERS` likes when they are fewer than the viewer's followees (`video_id,
//! audience` equal, so the walk never touches the video's other likes).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Likes {
    Table,
    VideoId,
    Audience,
    UserId,
    CreatedAt,
}

const NAME: &str = "idx_likes_video_audience_user";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Likes::Table)
                    .col(Likes::VideoId)
                    .col(Likes::Audience)
                    .col(Likes::UserId)
                    .col(Likes::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(NAME).table(Likes::Table).to_owned())
            .await
    }
}
