//! `analytics_windows`: per creator, analytics part and window of closed days, the figures
//! `creatorAnalytics` computed from the rollups (`src/domain/window_cache.rs`), so that a
//! window is summed once per day rather than at every read.
//!
//! A window ends at the last complete UTC day, so the events of today never touch it; what
//! does (a view of yesterday folded after midnight, a deleted video, the likers rollup
//! closing a day, events written under a clock set back) changes a rollup row of a day the
//! window covers. Triggers on the four rollups a part is read from delete the creator's
//! cached windows of that part that cover the row's day, in the transaction of the change,
//! whoever writes it: no write path has to remember the cache.
//!
//! | rollup | part |
//! |---|---|
//! | `creator_hours` | `series` (totals, daily, peak hours) |
//! | `video_days` | `videos` (per-video window sums) |
//! | `viewer_sketches` | `viewers` (merged sketch estimates) |
//! | `liker_days` | `likers` (likers by bucket) |
use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AnalyticsWindows {
    Table,
    CreatorId,
    Part,
    ToDay,
    FromDay,
    Token,
    Body,
}

/// A rollup table, the part read from it, and the SQL of a row's creator and day.
struct Source {
    table: &'static str,
    part: &'static str,
    creator: fn(&str) -> String,
    day: fn(&str) -> String,
}

const SOURCES: [Source; 4] = [
    Source {
        table: "creator_hours",
        part: "series",
        creator: |r| format!("{r}.creator_id"),
        // `hour` is the hour's first microsecond; a day has 86,400,000,000.
        day: |r| format!("{r}.hour / 86400000000"),
    },
    Source {
        table: "video_days",
        part: "videos",
        creator: |r| format!("(SELECT author_id FROM videos WHERE id = {r}.video_id)"),
        day: |r| format!("{r}.day"),
    },
    Source {
        table: "viewer_sketches",
        part: "viewers",
        creator: |r| format!("{r}.creator_id"),
        day: |r| format!("{r}.day"),
    },
    Source {
        table: "liker_days",
        part: "likers",
        creator: |r| format!("{r}.creator_id"),
        day: |r| format!("{r}.day"),
    },
];

impl Source {
    /// The statement that deletes the windows of the part that cover the row `r` (`NEW` or
    /// `OLD`). A video's `video_days` rows that go with it (by cascade) find no author and
    /// delete nothing: a window's per-video sums are read joined with the current videos.
    fn stale(&self, r: &str) -> String {
        format!(
            "DELETE FROM analytics_windows WHERE creator_id = {} AND part = '{}' \
             AND to_day >= {}",
            (self.creator)(r),
            self.part,
            (self.day)(r)
        )
    }
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AnalyticsWindows::Table)
                    .col(
                        ColumnDef::new(AnalyticsWindows::CreatorId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AnalyticsWindows::Part)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AnalyticsWindows::ToDay).integer().not_null())
                    .col(
                        ColumnDef::new(AnalyticsWindows::FromDay)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AnalyticsWindows::Token).uuid().not_null())
                    .col(ColumnDef::new(AnalyticsWindows::Body).binary().null())
                    .primary_key(
                        Index::create()
                            .col(AnalyticsWindows::CreatorId)
                            .col(AnalyticsWindows::Part)
                            .col(AnalyticsWindows::ToDay)
                            .col(AnalyticsWindows::FromDay),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AnalyticsWindows::Table, AnalyticsWindows::CreatorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for source in &SOURCES {
            let table = source.table;
            match manager.get_database_backend() {
                DbBackend::Postgres => {
                    db.execute_unprepared(&format!(
                        "CREATE FUNCTION {table}_stale() RETURNS trigger LANGUAGE plpgsql AS $$ \
                         BEGIN IF TG_OP = 'DELETE' THEN {}; ELSE {}; END IF; RETURN NULL; END $$",
                        source.stale("OLD"),
                        source.stale("NEW"),
                    ))
                    .await?;
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_stale AFTER INSERT OR UPDATE OR DELETE ON {table} \
                         FOR EACH ROW EXECUTE FUNCTION {table}_stale()"
                    ))
                    .await?;
                }
                _ => {
                    for (event, r) in [("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")] {
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER {table}_stale_{} AFTER {event} ON {table} \
                             FOR EACH ROW BEGIN {}; END",
                            event.to_lowercase(),
                            source.stale(r),
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for Source { table, .. } in &SOURCES {
            match manager.get_database_backend() {
                DbBackend::Postgres => {
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER IF EXISTS {table}_stale ON {table}"
                    ))
                    .await?;
                    db.execute_unprepared(&format!("DROP FUNCTION IF EXISTS {table}_stale()"))
                        .await?;
                }
                _ => {
                    for event in ["insert", "update", "delete"] {
                        db.execute_unprepared(&format!(
                            "DROP TRIGGER IF EXISTS {table}_stale_{event}"
                        ))
                        .await?;
                    }
                }
            }
        }
        manager
            .drop_table(Table::drop().table(AnalyticsWindows::Table).to_owned())
            .await
    }
}
