//! `users.external_subject`: the `sub` of the identity-provider identity an account is
//! linked to (accounts provisioned through `provisionAccount`); `NULL` for accounts with a
//! password. Unique where set (both SQLite and PostgreSQL allow many `NULL`s in a unique
//! index), so one identity maps to at most one account.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    ExternalSubject,
}

/// The unique index of the column: the constraint PostgreSQL names when an insert violates
/// it (the application recognises it by this name).
pub const INDEX: &str = "idx_users_external_subject";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(
                        ColumnDef::new(Users::ExternalSubject)
                            .string_len(255)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Users::Table)
                    .col(Users::ExternalSubject)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Users::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::ExternalSubject)
                    .to_owned(),
            )
            .await
    }
}
