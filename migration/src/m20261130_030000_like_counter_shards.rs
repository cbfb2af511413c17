//! Like counters move from the `videos` row into `video_like_counters`: a few rows per
//! video (the service spreads likers over 16 shards), each holding a share of the counts, so that concurrent likes
//! of one hot video update different rows instead of queueing on one row lock through
//! every commit. A video's counts are the sums over its rows; every change is an upsert of
//! a delta, so no row has to exist beforehand. Existing counts move into shard 0.
use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum Videos {
    Table,
    Id,
    LikeCount,
    EveryoneLikes,
    FollowersLikes,
}

#[derive(DeriveIden)]
enum VideoLikeCounters {
    Table,
    VideoId,
    Shard,
    LikeCount,
    EveryoneLikes,
    FollowersLikes,
}

const COUNTS: [&str; 3] = ["like_count", "everyone_likes", "followers_likes"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let count = |c: VideoLikeCounters| ColumnDef::new(c).big_integer().not_null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(VideoLikeCounters::Table)
                    .col(ColumnDef::new(VideoLikeCounters::VideoId).uuid().not_null())
                    .col(
                        ColumnDef::new(VideoLikeCounters::Shard)
                            .small_integer()
                            .not_null(),
                    )
                    .col(count(VideoLikeCounters::LikeCount))
                    .col(count(VideoLikeCounters::EveryoneLikes))
                    .col(count(VideoLikeCounters::FollowersLikes))
                    .primary_key(
                        Index::create()
                            .col(VideoLikeCounters::VideoId)
                            .col(VideoLikeCounters::Shard),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(VideoLikeCounters::Table, VideoLikeCounters::VideoId)
                            .to(Videos::Table, Videos::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let cols = COUNTS.join(", ");
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO video_like_counters (video_id, shard, {cols}) \
                 SELECT id, 0, {cols} FROM videos WHERE like_count <> 0"
            ))
            .await?;
        for col in [
            Videos::LikeCount,
            Videos::EveryoneLikes,
            Videos::FollowersLikes,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Videos::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            Videos::LikeCount,
            Videos::EveryoneLikes,
            Videos::FollowersLikes,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Videos::Table)
                        .add_column(ColumnDef::new(col).big_integer().not_null().default(0))
                        .to_owned(),
                )
                .await?;
        }
        let sums: Vec<String> = COUNTS
            .iter()
            .map(|c| {
                format!(
                    "{c} = (SELECT COALESCE(SUM(c.{c}), 0) FROM video_like_counters c WHERE c.video_id = videos.id)"
                )
            })
            .collect();
        manager
            .get_connection()
            .execute_unprepared(&format!("UPDATE videos SET {}", sums.join(", ")))
            .await?;
        manager
            .drop_table(Table::drop().table(VideoLikeCounters::Table).to_owned())
            .await
    }
}

#[derive(DeriveMigrationName)]
pub struct Migration;
