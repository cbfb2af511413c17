//! Analytics rollups: every analytics read comes from these tables, never from a scan of
//! the events (PRIVACY.md "Aggregates"; README "Analytics").
//!
//! - `creator_hours`: per creator and UTC hour — views, watch time, views by followers,
//!   likes made, likes withdrawn or removed, followers gained and lost. Daily series, totals
//!   and the week-by-hour peaks are sums of its rows over a window.
//! - `video_days`: per video and UTC day — views, watch time, likes, unlikes.
//! - `video_hours`: per video and UTC hour — likes and unlikes, for the trends (only the
//!   last eight days are kept; the rollup job prunes older rows).
//! - `follower_demographics`: per creator, the number of approved followers by birth year,
//!   region and language (exact: kept with the follow rows in their transactions).
//! - `viewer_sketches`: per creator, UTC day and demographic bucket, a HyperLogLog sketch of
//!   the signed-in viewers (a keyed hash of the account, never the account).
//!
//! The like path's rows have a `shard` in their key: concurrent likes of one hot video add
//! to different rows (the liker's shard, as the like counters do) instead of queueing on
//! one row lock. Every count column defaults to 0, so that an upsert names only the counts
//! it changes. Everything goes with its creator or video by cascade.
use sea_orm_migration::{
    prelude::*,
    sea_orm::{ConnectionTrait, Statement},
};

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Videos {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CreatorHours {
    Table,
    CreatorId,
    Hour,
    Shard,
    Views,
    WatchMs,
    FollowerViews,
    Likes,
    Unlikes,
    NewFollowers,
    LostFollowers,
}

#[derive(DeriveIden)]
enum VideoDays {
    Table,
    VideoId,
    Day,
    Shard,
    Views,
    WatchMs,
    Likes,
    Unlikes,
}

#[derive(DeriveIden)]
enum VideoHours {
    Table,
    VideoId,
    Hour,
    Shard,
    Likes,
    Unlikes,
}

#[derive(DeriveIden)]
enum FollowerDemographics {
    Table,
    CreatorId,
    Dimension,
    Key,
    Followers,
}

#[derive(DeriveIden)]
enum ViewerSketches {
    Table,
    CreatorId,
    Day,
    Dimension,
    Key,
    Sketch,
}

fn count(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

fn cascade(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// Rolls up what an existing install already has: each like as made at its time, each
/// approved follow as gained at its time (there is no record of approvals), and the
/// follower demographics of every creator, so that the rollups agree with the rows.
async fn backfill(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    const HOUR: &str = "(l.created_at - l.created_at % 3600000000)";
    db.execute_unprepared(&format!(
        "INSERT INTO creator_hours (creator_id, hour, shard, likes) \
         SELECT v.author_id, {HOUR}, 0, COUNT(*) FROM likes l JOIN videos v ON v.id = l.video_id \
         GROUP BY v.author_id, {HOUR}"
    ))
    .await?;
    db.execute_unprepared(
        "INSERT INTO video_days (video_id, day, shard, likes) \
         SELECT l.video_id, CAST(l.created_at / 86400000000 AS INTEGER), 0, COUNT(*) FROM likes l \
         GROUP BY l.video_id, CAST(l.created_at / 86400000000 AS INTEGER)",
    )
    .await?;
    db.execute_unprepared(&format!(
        "INSERT INTO video_hours (video_id, hour, shard, likes) \
         SELECT l.video_id, {HOUR}, 0, COUNT(*) FROM likes l GROUP BY l.video_id, {HOUR}"
    ))
    .await?;
    let hour = HOUR.replace("l.", "f.");
    db.execute_unprepared(&format!(
        "INSERT INTO creator_hours (creator_id, hour, shard, new_followers) \
         SELECT f.followee_id, {hour}, 1, COUNT(*) FROM follows f WHERE f.state = 'APPROVED' \
         GROUP BY f.followee_id, {hour}"
    ))
    .await?;
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT f.followee_id AS creator, u.birth_year, u.region, u.language \
             FROM follows f JOIN users u ON u.id = f.follower_id WHERE f.state = 'APPROVED'",
        ))
        .await?;
    let mut counts: std::collections::BTreeMap<(uuid::Uuid, &str, String), i64> =
        std::collections::BTreeMap::new();
    for row in rows {
        let creator: uuid::Uuid = row.try_get("", "creator")?;
        let birth_year: Option<i32> = row.try_get("", "birth_year")?;
        let region: Option<String> = row.try_get("", "region")?;
        let language: Option<String> = row.try_get("", "language")?;
        for (dim, key) in
            entity::demographics::keys(birth_year, region.as_deref(), language.as_deref())
        {
            *counts.entry((creator, dim, key)).or_default() += 1;
        }
    }
    for ((creator, dim, key), n) in counts {
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO follower_demographics (creator_id, dimension, key, followers) \
             VALUES ($1, $2, $3, $4)",
            [creator.into(), dim.into(), key.into(), n.into()],
        ))
        .await?;
    }
    Ok(())
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CreatorHours::Table)
                    .col(ColumnDef::new(CreatorHours::CreatorId).uuid().not_null())
                    .col(ColumnDef::new(CreatorHours::Hour).big_integer().not_null())
                    .col(
                        ColumnDef::new(CreatorHours::Shard)
                            .small_integer()
                            .not_null(),
                    )
                    .col(count(CreatorHours::Views))
                    .col(count(CreatorHours::WatchMs))
                    .col(count(CreatorHours::FollowerViews))
                    .col(count(CreatorHours::Likes))
                    .col(count(CreatorHours::Unlikes))
                    .col(count(CreatorHours::NewFollowers))
                    .col(count(CreatorHours::LostFollowers))
                    .primary_key(
                        Index::create()
                            .col(CreatorHours::CreatorId)
                            .col(CreatorHours::Hour)
                            .col(CreatorHours::Shard),
                    )
                    .foreign_key(&mut cascade(
                        (CreatorHours::Table, CreatorHours::CreatorId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(VideoDays::Table)
                    .col(ColumnDef::new(VideoDays::VideoId).uuid().not_null())
                    .col(ColumnDef::new(VideoDays::Day).integer().not_null())
                    .col(ColumnDef::new(VideoDays::Shard).small_integer().not_null())
                    .col(count(VideoDays::Views))
                    .col(count(VideoDays::WatchMs))
                    .col(count(VideoDays::Likes))
                    .col(count(VideoDays::Unlikes))
                    .primary_key(
                        Index::create()
                            .col(VideoDays::VideoId)
                            .col(VideoDays::Day)
                            .col(VideoDays::Shard),
                    )
                    .foreign_key(&mut cascade(
                        (VideoDays::Table, VideoDays::VideoId),
                        (Videos::Table, Videos::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(VideoHours::Table)
                    .col(ColumnDef::new(VideoHours::VideoId).uuid().not_null())
                    .col(ColumnDef::new(VideoHours::Hour).big_integer().not_null())
                    .col(ColumnDef::new(VideoHours::Shard).small_integer().not_null())
                    .col(count(VideoHours::Likes))
                    .col(count(VideoHours::Unlikes))
                    .primary_key(
                        Index::create()
                            .col(VideoHours::VideoId)
                            .col(VideoHours::Hour)
                            .col(VideoHours::Shard),
                    )
                    .foreign_key(&mut cascade(
                        (VideoHours::Table, VideoHours::VideoId),
                        (Videos::Table, Videos::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // The trends read the last hours of every video; pruning deletes the oldest.
        manager
            .create_index(
                Index::create()
                    .name("idx_video_hours_hour")
                    .table(VideoHours::Table)
                    .col(VideoHours::Hour)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FollowerDemographics::Table)
                    .col(
                        ColumnDef::new(FollowerDemographics::CreatorId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FollowerDemographics::Dimension)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FollowerDemographics::Key)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(count(FollowerDemographics::Followers))
                    .primary_key(
                        Index::create()
                            .col(FollowerDemographics::CreatorId)
                            .col(FollowerDemographics::Dimension)
                            .col(FollowerDemographics::Key),
                    )
                    .foreign_key(&mut cascade(
                        (FollowerDemographics::Table, FollowerDemographics::CreatorId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ViewerSketches::Table)
                    .col(ColumnDef::new(ViewerSketches::CreatorId).uuid().not_null())
                    .col(ColumnDef::new(ViewerSketches::Day).integer().not_null())
                    .col(
                        ColumnDef::new(ViewerSketches::Dimension)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ViewerSketches::Key)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ViewerSketches::Sketch).binary().not_null())
                    .primary_key(
                        Index::create()
                            .col(ViewerSketches::CreatorId)
                            .col(ViewerSketches::Day)
                            .col(ViewerSketches::Dimension)
                            .col(ViewerSketches::Key),
                    )
                    .foreign_key(&mut cascade(
                        (ViewerSketches::Table, ViewerSketches::CreatorId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        backfill(manager.get_connection()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ViewerSketches::Table.into_iden(),
            FollowerDemographics::Table.into_iden(),
            VideoHours::Table.into_iden(),
            VideoDays::Table.into_iden(),
            CreatorHours::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
