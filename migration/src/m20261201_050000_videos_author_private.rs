//! Whether a video's author is private, on the video row (`author_private`, 0 or 1) and kept
//! there by triggers, with an index `(author_private, created_at, id)`: the anonymous feed
//! walks the public authors' videos newest first through it and never reads a private
//! account's video (PRIVACY.md, "No side channel through time"). Rule V is still checked on
//! every row against the author's current `visibility`; the column only decides what is
//! read, so a value that lags (a video inserted while its author's visibility change is
//! uncommitted) costs a read, never a wrong answer.
//!
//! Triggers rather than application code, so that every writer (the service, the benchmark's
//! seeding, a manual fix) keeps it: a new video takes its author's visibility; a visibility
//! change rewrites the author's videos in the same transaction.
use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "ALTER TABLE videos ADD COLUMN author_private SMALLINT NOT NULL DEFAULT 0",
    "UPDATE videos SET author_private = 1 WHERE author_id IN (SELECT id FROM users WHERE visibility = 'PRIVATE')",
    "CREATE INDEX idx_videos_public_created ON videos (author_private, created_at, id)",
    "CREATE TRIGGER videos_author_private_on_insert AFTER INSERT ON videos BEGIN \
     UPDATE videos SET author_private = COALESCE((SELECT CASE WHEN u.visibility = 'PRIVATE' THEN 1 ELSE 0 END \
     FROM users u WHERE u.id = NEW.author_id), 0) WHERE id = NEW.id; END",
    "CREATE TRIGGER videos_author_private_on_visibility AFTER UPDATE OF visibility ON users \
     WHEN OLD.visibility <> NEW.visibility BEGIN \
     UPDATE videos SET author_private = CASE WHEN NEW.visibility = 'PRIVATE' THEN 1 ELSE 0 END \
     WHERE author_id = NEW.id; END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS videos_author_private_on_visibility",
    "DROP TRIGGER IF EXISTS videos_author_private_on_insert",
    "DROP INDEX IF EXISTS idx_videos_public_created",
    "ALTER TABLE videos DROP COLUMN author_private",
];

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE videos ADD COLUMN author_private SMALLINT NOT NULL DEFAULT 0",
    "UPDATE videos SET author_private = 1 WHERE author_id IN (SELECT id FROM users WHERE visibility = 'PRIVATE')",
    "CREATE INDEX idx_videos_public_created ON videos (author_private, created_at, id)",
    "CREATE FUNCTION videos_author_private_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
     NEW.author_private := COALESCE((SELECT CASE WHEN u.visibility = 'PRIVATE' THEN 1 ELSE 0 END \
     FROM users u WHERE u.id = NEW.author_id), 0); RETURN NEW; END $$",
    "CREATE TRIGGER videos_author_private_on_insert BEFORE INSERT ON videos \
     FOR EACH ROW EXECUTE FUNCTION videos_author_private_on_insert()",
    "CREATE FUNCTION videos_author_private_on_visibility() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
     UPDATE videos SET author_private = CASE WHEN NEW.visibility = 'PRIVATE' THEN 1 ELSE 0 END \
     WHERE author_id = NEW.id; RETURN NULL; END $$",
    "CREATE TRIGGER videos_author_private_on_visibility AFTER UPDATE OF visibility ON users \
     FOR EACH ROW WHEN (OLD.visibility IS DISTINCT FROM NEW.visibility) \
     EXECUTE FUNCTION videos_author_private_on_visibility()",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS videos_author_private_on_visibility ON users",
    "DROP FUNCTION IF EXISTS videos_author_private_on_visibility()",
    "DROP TRIGGER IF EXISTS videos_author_private_on_insert ON videos",
    "DROP FUNCTION IF EXISTS videos_author_private_on_insert()",
    "DROP INDEX IF EXISTS idx_videos_public_created",
    "ALTER TABLE videos DROP COLUMN author_private",
];

async fn run(manager: &SchemaManager<'_>, sqlite: &[&str], postgres: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let statements = match manager.get_database_backend() {
        DbBackend::Postgres => postgres,
        _ => sqlite,
    };
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, SQLITE_UP, POSTGRES_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, SQLITE_DOWN, POSTGRES_DOWN).await
    }
}
