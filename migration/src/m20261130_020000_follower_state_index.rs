//! Index-only access to an account's approved followees: the like streams and counts start
//! from this set for every signed-in viewer.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Follows {
    Table,
    FollowerId,
    State,
    FolloweeId,
}

const NAME: &str = "idx_follows_follower_state";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Follows::Table)
                    .col(Follows::FollowerId)
                    .col(Follows::State)
                    .col(Follows::FolloweeId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(NAME).table(Follows::Table).to_owned())
            .await
    }
}
