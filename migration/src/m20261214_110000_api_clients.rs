//! Third-party analytics apps (`src/domain/apps.rs`, `src/domain/privacy_budget.rs`):
//!
//! - `api_clients`: a creator's OAuth2 clients; the secret only as an Argon2id hash;
//!   `revoked_at` set once revoked (every app token's request reads this row by key).
//! - `app_budgets`: per client and UTC day, the ε spent (in millionths, exact), the row every
//!   new question of that client and day locks before it spends.
//! - `app_answers`: the ledger of answered questions: per client, window (first and last
//!   day) and question (a field path), the noisy answer given first, its ε and the noise's
//!   standard deviation. A repeated question is answered from here and costs nothing.
//!
//! Everything goes with the client, and the client with its creator's account.
use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApiClients {
    Table,
    Id,
    CreatorId,
    Name,
    SecretHash,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AppBudgets {
    Table,
    ClientId,
    Day,
    SpentMicro,
}

#[derive(DeriveIden)]
enum AppAnswers {
    Table,
    ClientId,
    ToDay,
    FromDay,
    Question,
    EpsilonMicro,
    StdDev,
    Answer,
    CreatedAt,
}

/// The index of a creator's clients.
pub const CLIENTS_BY_CREATOR: &str = "idx_api_clients_creator";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiClients::Table)
                    .col(
                        ColumnDef::new(ApiClients::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ApiClients::CreatorId).uuid().not_null())
                    .col(ColumnDef::new(ApiClients::Name).string_len(100).not_null())
                    .col(ColumnDef::new(ApiClients::SecretHash).text().not_null())
                    .col(
                        ColumnDef::new(ApiClients::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ApiClients::RevokedAt).big_integer().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiClients::Table, ApiClients::CreatorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(CLIENTS_BY_CREATOR)
                    .table(ApiClients::Table)
                    .col(ApiClients::CreatorId)
                    .col(ApiClients::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AppBudgets::Table)
                    .col(ColumnDef::new(AppBudgets::ClientId).uuid().not_null())
                    .col(ColumnDef::new(AppBudgets::Day).integer().not_null())
                    .col(
                        ColumnDef::new(AppBudgets::SpentMicro)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .primary_key(
                        Index::create()
                            .col(AppBudgets::ClientId)
                            .col(AppBudgets::Day),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AppBudgets::Table, AppBudgets::ClientId)
                            .to(ApiClients::Table, ApiClients::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AppAnswers::Table)
                    .col(ColumnDef::new(AppAnswers::ClientId).uuid().not_null())
                    .col(ColumnDef::new(AppAnswers::ToDay).integer().not_null())
                    .col(ColumnDef::new(AppAnswers::FromDay).integer().not_null())
                    .col(
                        ColumnDef::new(AppAnswers::Question)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AppAnswers::EpsilonMicro)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AppAnswers::StdDev).double().not_null())
                    .col(ColumnDef::new(AppAnswers::Answer).text().not_null())
                    .col(
                        ColumnDef::new(AppAnswers::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(AppAnswers::ClientId)
                            .col(AppAnswers::ToDay)
                            .col(AppAnswers::FromDay)
                            .col(AppAnswers::Question),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AppAnswers::Table, AppAnswers::ClientId)
                            .to(ApiClients::Table, ApiClients::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AppAnswers::Table.into_iden(),
            AppBudgets::Table.into_iden(),
            ApiClients::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
