//! The likers rollup (README "Analytics rollups", `src/domain/liker_rollup.rs`): per creator,
//! the last closed day (`liker_closing`), each liker's latest closed day among its current
//! likes on the creator's videos (`creator_likers`), and how many likers have each such day
//! by birth year, region and language (`liker_days`), so that the likers breakdown of any
//! window ending at the last closed day is a sum over days and keys, not a scan of likes.
//! Everything goes with its creator (and `creator_likers` rows with their liker) by cascade.
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
enum LikerClosing {
    Table,
    CreatorId,
    ClosedThrough,
}

#[derive(DeriveIden)]
enum CreatorLikers {
    Table,
    CreatorId,
    LikerId,
    LastDay,
}

#[derive(DeriveIden)]
enum LikerDays {
    Table,
    CreatorId,
    Day,
    Dimension,
    Key,
    Likers,
}

const DAY_US: i64 = 86_400_000_000;

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

/// Closes every creator's days up to yesterday by the system clock (a service whose clock
/// says otherwise rebuilds a creator at its first read): the likers' latest like days and
/// their histogram, from the likes already there.
async fn backfill(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let now_us: i64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| {
            <i64 as TryFrom<u128>>::try_from(d.as_micros()).unwrap_or(i64::MAX)
        });
    let closed = now_us.div_euclid(DAY_US) - 1;
    let end = (closed + 1) * DAY_US;
    db.execute_unprepared(&format!(
        "INSERT INTO liker_closing (creator_id, closed_through) \
         SELECT DISTINCT v.author_id, {closed} FROM likes l JOIN videos v ON v.id = l.video_id \
         WHERE l.created_at < {end}"
    ))
    .await?;
    db.execute_unprepared(&format!(
        "INSERT INTO creator_likers (creator_id, liker_id, last_day) \
         SELECT v.author_id, l.user_id, CAST(MAX(l.created_at) / {DAY_US} AS INTEGER) \
         FROM likes l JOIN videos v ON v.id = l.video_id WHERE l.created_at < {end} \
         GROUP BY v.author_id, l.user_id"
    ))
    .await?;
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT cl.creator_id, cl.last_day, u.birth_year, u.region, u.language \
             FROM creator_likers cl JOIN users u ON u.id = cl.liker_id",
        ))
        .await?;
    let mut counts: std::collections::BTreeMap<(uuid::Uuid, i32, &str, String), i64> =
        std::collections::BTreeMap::new();
    for row in rows {
        let creator: uuid::Uuid = row.try_get("", "creator_id")?;
        let day: i32 = row.try_get("", "last_day")?;
        let birth_year: Option<i32> = row.try_get("", "birth_year")?;
        let region: Option<String> = row.try_get("", "region")?;
        let language: Option<String> = row.try_get("", "language")?;
        for (dim, key) in
            entity::demographics::keys(birth_year, region.as_deref(), language.as_deref())
        {
            *counts.entry((creator, day, dim, key)).or_default() += 1;
        }
    }
    for ((creator, day, dim, key), n) in counts {
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO liker_days (creator_id, day, dimension, key, likers) \
             VALUES ($1, $2, $3, $4, $5)",
            [creator.into(), day.into(), dim.into(), key.into(), n.into()],
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
                    .table(LikerClosing::Table)
                    .col(
                        ColumnDef::new(LikerClosing::CreatorId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(LikerClosing::ClosedThrough)
                            .integer()
                            .not_null(),
                    )
                    .foreign_key(&mut cascade(
                        (LikerClosing::Table, LikerClosing::CreatorId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CreatorLikers::Table)
                    .col(ColumnDef::new(CreatorLikers::CreatorId).uuid().not_null())
                    .col(ColumnDef::new(CreatorLikers::LikerId).uuid().not_null())
                    .col(ColumnDef::new(CreatorLikers::LastDay).integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(CreatorLikers::CreatorId)
                            .col(CreatorLikers::LikerId),
                    )
                    .foreign_key(&mut cascade(
                        (CreatorLikers::Table, CreatorLikers::CreatorId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut cascade(
                        (CreatorLikers::Table, CreatorLikers::LikerId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // A liker's rows, for its deletion and its demographics edits.
        manager
            .create_index(
                Index::create()
                    .name("idx_creator_likers_liker")
                    .table(CreatorLikers::Table)
                    .col(CreatorLikers::LikerId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LikerDays::Table)
                    .col(ColumnDef::new(LikerDays::CreatorId).uuid().not_null())
                    .col(ColumnDef::new(LikerDays::Day).integer().not_null())
                    .col(
                        ColumnDef::new(LikerDays::Dimension)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(LikerDays::Key).string_len(16).not_null())
                    .col(
                        ColumnDef::new(LikerDays::Likers)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .primary_key(
                        Index::create()
                            .col(LikerDays::CreatorId)
                            .col(LikerDays::Day)
                            .col(LikerDays::Dimension)
                            .col(LikerDays::Key),
                    )
                    .foreign_key(&mut cascade(
                        (LikerDays::Table, LikerDays::CreatorId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        backfill(manager.get_connection()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            LikerDays::Table.into_iden(),
            CreatorLikers::Table.into_iden(),
            LikerClosing::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
