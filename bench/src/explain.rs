//! The plans of the page and count statements for the largest video, to
//! `--out/explain-<tag>.md` (PostgreSQL: `EXPLAIN (ANALYZE, BUFFERS)`; SQLite: the plan chosen).
use std::fmt::Write as _;

use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tally::domain::{likes, page::PageRequest};

use crate::{
    cli::{Args, Backend},
    seed::Dataset,
    OrMessage,
};

/// Writes the plans of the statements of a `visibleLikers(first: 20)` page of the largest
/// video, as the measured viewer.
pub async fn explain(
    args: &Args,
    db: &DatabaseConnection,
    data: &Dataset,
    tag: &str,
) -> anyhow::Result<()> {
    let (_, big) = *data.videos.last().context("videos")?;
    let req = PageRequest::new(20, None).or_message()?;
    let mut report = String::new();
    for (what, q) in [(
        "visibleLikers page (first 20) with totalCount",
        likes::visible_likers_sql(Some(data.viewer), &[(big, req)]),
    )] {
        let stmt = q.build(db.get_database_backend());
        // PostgreSQL runs the statement and shows its plan with times and buffers; SQLite
        // shows the plan it chose (`id`, `parent`, `notused`, `detail`).
        let explain = match args.backend {
            Backend::Postgres => "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)",
            Backend::Sqlite => "EXPLAIN QUERY PLAN",
        };
        let explained = sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            format!("{explain} {}", stmt.sql),
            stmt.values.map(|v| v.0).unwrap_or_default(),
        );
        let rows = db.query_all_raw(explained).await?;
        writeln!(report, "### {what}\n\n```sql\n{}\n```\n\n```", stmt.sql)?;
        for r in rows {
            let line: String = match args.backend {
                Backend::Postgres => r.try_get_by_index(0)?,
                Backend::Sqlite => format!(
                    "{:>4} {:>4}  {}",
                    r.try_get_by_index::<i64>(0)?,
                    r.try_get_by_index::<i64>(1)?,
                    r.try_get_by_index::<String>(3)?
                ),
            };
            writeln!(report, "{line}")?;
        }
        writeln!(report, "```\n")?;
    }
    let path = args.out.join(format!("explain-{tag}.md"));
    std::fs::write(&path, &report)?;
    println!("EXPLAIN plans written to {}", path.display());
    Ok(())
}
