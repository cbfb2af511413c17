//! Accounts, follows, blocks, videos and likes.
//!
//! Times are stored as microseconds since the Unix epoch (`BIGINT`) so that keyset
//! comparisons behave the same on SQLite and PostgreSQL. `likes.audience` is the liker's
//! audience (see the privacy module) copied onto each like, and `videos.everyone_likes` /
//! `videos.followers_likes` count likes per audience; both are maintained in the same
//! transaction as the writes that change them.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Handle,
    DisplayName,
    PasswordHash,
    AccountType,
    Visibility,
    LikesVisibility,
    BirthYear,
    Region,
    Language,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Follows {
    Table,
    FollowerId,
    FolloweeId,
    State,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Blocks {
    Table,
    BlockerId,
    BlockedId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Videos {
    Table,
    Id,
    AuthorId,
    Caption,
    Hashtags,
    Sound,
    CreatedAt,
    LikeCount,
    EveryoneLikes,
    FollowersLikes,
    ViewCount,
}

#[derive(DeriveIden)]
enum Likes {
    Table,
    VideoId,
    UserId,
    Audience,
    CreatedAt,
}

fn cascade_fk(
    from_table: impl IntoIden,
    from_col: impl IntoIden,
    to_table: impl IntoIden,
    to_col: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(to_table, to_col)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(Users::Handle)
                            .string_len(30)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Users::DisplayName)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Users::PasswordHash).string().not_null())
                    .col(ColumnDef::new(Users::AccountType).string_len(16).not_null())
                    .col(ColumnDef::new(Users::Visibility).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Users::LikesVisibility)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Users::BirthYear).integer().null())
                    .col(ColumnDef::new(Users::Region).string_len(64).null())
                    .col(ColumnDef::new(Users::Language).string_len(32).null())
                    .col(ColumnDef::new(Users::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Follows::Table)
                    .col(ColumnDef::new(Follows::FollowerId).uuid().not_null())
                    .col(ColumnDef::new(Follows::FolloweeId).uuid().not_null())
                    .col(ColumnDef::new(Follows::State).string_len(16).not_null())
                    .col(ColumnDef::new(Follows::CreatedAt).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(Follows::FollowerId)
                            .col(Follows::FolloweeId),
                    )
                    .foreign_key(&mut cascade_fk(
                        Follows::Table,
                        Follows::FollowerId,
                        Users::Table,
                        Users::Id,
                    ))
                    .foreign_key(&mut cascade_fk(
                        Follows::Table,
                        Follows::FolloweeId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_follows_followee_state")
                    .table(Follows::Table)
                    .col(Follows::FolloweeId)
                    .col(Follows::State)
                    .col(Follows::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Blocks::Table)
                    .col(ColumnDef::new(Blocks::BlockerId).uuid().not_null())
                    .col(ColumnDef::new(Blocks::BlockedId).uuid().not_null())
                    .col(ColumnDef::new(Blocks::CreatedAt).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(Blocks::BlockerId)
                            .col(Blocks::BlockedId),
                    )
                    .foreign_key(&mut cascade_fk(
                        Blocks::Table,
                        Blocks::BlockerId,
                        Users::Table,
                        Users::Id,
                    ))
                    .foreign_key(&mut cascade_fk(
                        Blocks::Table,
                        Blocks::BlockedId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_blocks_blocked")
                    .table(Blocks::Table)
                    .col(Blocks::BlockedId)
                    .col(Blocks::BlockerId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Videos::Table)
                    .col(ColumnDef::new(Videos::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Videos::AuthorId).uuid().not_null())
                    .col(ColumnDef::new(Videos::Caption).text().not_null())
                    .col(ColumnDef::new(Videos::Hashtags).text().not_null())
                    .col(ColumnDef::new(Videos::Sound).string_len(200).null())
                    .col(ColumnDef::new(Videos::CreatedAt).big_integer().not_null())
                    .col(
                        ColumnDef::new(Videos::LikeCount)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(Videos::EveryoneLikes)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(Videos::FollowersLikes)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(Videos::ViewCount)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .foreign_key(&mut cascade_fk(
                        Videos::Table,
                        Videos::AuthorId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_videos_author_created")
                    .table(Videos::Table)
                    .col(Videos::AuthorId)
                    .col(Videos::CreatedAt)
                    .col(Videos::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_videos_created")
                    .table(Videos::Table)
                    .col(Videos::CreatedAt)
                    .col(Videos::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Likes::Table)
                    .col(ColumnDef::new(Likes::VideoId).uuid().not_null())
                    .col(ColumnDef::new(Likes::UserId).uuid().not_null())
                    .col(ColumnDef::new(Likes::Audience).string_len(16).not_null())
                    .col(ColumnDef::new(Likes::CreatedAt).big_integer().not_null())
                    .primary_key(Index::create().col(Likes::VideoId).col(Likes::UserId))
                    .foreign_key(&mut cascade_fk(
                        Likes::Table,
                        Likes::VideoId,
                        Videos::Table,
                        Videos::Id,
                    ))
                    .foreign_key(&mut cascade_fk(
                        Likes::Table,
                        Likes::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        // Keyset scan of the likes a given audience may see, newest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_likes_video_audience_time")
                    .table(Likes::Table)
                    .col(Likes::VideoId)
                    .col(Likes::Audience)
                    .col(Likes::CreatedAt)
                    .col(Likes::UserId)
                    .to_owned(),
            )
            .await?;
        // A user's liked videos, newest like first.
        manager
            .create_index(
                Index::create()
                    .name("idx_likes_user_time")
                    .table(Likes::Table)
                    .col(Likes::UserId)
                    .col(Likes::CreatedAt)
                    .col(Likes::VideoId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Likes::Table.into_iden(),
            Videos::Table.into_iden(),
            Blocks::Table.into_iden(),
            Follows::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
