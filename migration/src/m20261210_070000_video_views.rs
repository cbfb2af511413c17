//! Recorded views: `video_views`, an append-only event row per view holding only what the
//! aggregates need (no account, no address: PRIVACY.md "No identity"), and
//! `video_view_counters`, a video's view count spread over a few rows (the service picks a
//! shard at random per view) so that concurrent views of one hot video do not queue on one
//! row lock. Both go with their video (and the event with its creator) by cascade.
//! `videos.view_count`, never written, is dropped: a video's count is the sum of its shards.
//!
//! `video_views.folded` (0 or 1) is for the rollup job: it folds unfolded rows into rollups
//! and marks them in the same transaction; `idx_video_views_unfolded` (partial) finds them.
use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum Videos {
    Table,
    Id,
    ViewCount,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum VideoViews {
    Table,
    Id,
    VideoId,
    CreatorId,
    Hour,
    WatchMs,
    SignedIn,
    FollowsCreator,
    AgeBracket,
    Region,
    Language,
    Device,
    Folded,
}

#[derive(DeriveIden)]
enum VideoViewCounters {
    Table,
    VideoId,
    Shard,
    Views,
    WatchMs,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(VideoViews::Table)
                    .col(
                        ColumnDef::new(VideoViews::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(VideoViews::VideoId).uuid().not_null())
                    .col(ColumnDef::new(VideoViews::CreatorId).uuid().not_null())
                    .col(ColumnDef::new(VideoViews::Hour).big_integer().not_null())
                    .col(ColumnDef::new(VideoViews::WatchMs).integer().not_null())
                    .col(ColumnDef::new(VideoViews::SignedIn).boolean().not_null())
                    .col(
                        ColumnDef::new(VideoViews::FollowsCreator)
                            .boolean()
                            .not_null(),
                    )
                    .col(ColumnDef::new(VideoViews::AgeBracket).string_len(16).null())
                    .col(ColumnDef::new(VideoViews::Region).string_len(16).null())
                    .col(ColumnDef::new(VideoViews::Language).string_len(16).null())
                    .col(ColumnDef::new(VideoViews::Device).string_len(16).null())
                    .col(
                        ColumnDef::new(VideoViews::Folded)
                            .small_integer()
                            .not_null()
                            .default(0),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(VideoViews::Table, VideoViews::VideoId)
                            .to(Videos::Table, Videos::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(VideoViews::Table, VideoViews::CreatorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The cascades look rows up by video and by creator.
        for (name, col) in [
            ("idx_video_views_video", VideoViews::VideoId),
            ("idx_video_views_creator", VideoViews::CreatorId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(VideoViews::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_video_views_unfolded ON video_views (id) WHERE folded = 0",
            )
            .await?;
        let count = |c: VideoViewCounters| ColumnDef::new(c).big_integer().not_null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(VideoViewCounters::Table)
                    .col(ColumnDef::new(VideoViewCounters::VideoId).uuid().not_null())
                    .col(
                        ColumnDef::new(VideoViewCounters::Shard)
                            .small_integer()
                            .not_null(),
                    )
                    .col(count(VideoViewCounters::Views))
                    .col(count(VideoViewCounters::WatchMs))
                    .primary_key(
                        Index::create()
                            .col(VideoViewCounters::VideoId)
                            .col(VideoViewCounters::Shard),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(VideoViewCounters::Table, VideoViewCounters::VideoId)
                            .to(Videos::Table, Videos::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Videos::Table)
                    .drop_column(Videos::ViewCount)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Videos::Table)
                    .add_column(
                        ColumnDef::new(Videos::ViewCount)
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
                "UPDATE videos SET view_count = (SELECT COALESCE(SUM(c.views), 0) \
                 FROM video_view_counters c WHERE c.video_id = videos.id)",
            )
            .await?;
        manager
            .drop_table(Table::drop().table(VideoViewCounters::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(VideoViews::Table).to_owned())
            .await
    }
}
