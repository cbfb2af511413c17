//! `videos.duration_ms`: a video's length as given to `createVideo` (1 ms to 1 hour), null
//! when not given. The analytics use it for completion rates.
use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum Videos {
    Table,
    DurationMs,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Videos::Table)
                    .add_column(ColumnDef::new(Videos::DurationMs).integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Videos::Table)
                    .drop_column(Videos::DurationMs)
                    .to_owned(),
            )
            .await
    }
}
