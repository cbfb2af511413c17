//! `tally`: parse the command line, set up logging, run.
use anyhow::Context;
use clap::Parser;
use migration::{Migrator, MigratorTrait};
use tally::{
    config::{Cli, Command, MigrateAction},
    db, demo, graphql, observability,
    startup::Application,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = cli.config;
    // Kept to the end: dropping it flushes the spans not yet exported.
    let _logs = observability::logging::init(&config.observability)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(&config).await?;
            if config.demo {
                demo::seed_and_print(
                    app.db(),
                    app.sketches(),
                    app.clock(),
                    app.tokens(),
                    app.ids(),
                )
                .await?;
            }
            let base = local_url(&config.bind, app.port());
            if config.limits.graphiql {
                tracing::info!("Tally listening on {base} — GraphiQL at {base}/graphiql");
                println!("GraphiQL: {base}/graphiql");
            } else {
                tracing::info!("Tally listening on {base}");
                println!("GraphQL: {base}/graphql");
            }
            if config.limits.dashboard {
                println!("Dashboard: {base}/dashboard");
            }
            if let (Some(bind), Some(port)) = (
                config.observability.metrics_bind.as_deref(),
                app.metrics_port(),
            ) {
                println!("Metrics: {}/metrics", local_url(bind, port));
            }
            // Returns once a SIGTERM (or SIGINT) has stopped the server: exit code 0.
            app.run().await?;
            tracing::info!("stopped");
        }
        Command::Migrate { action } => {
            let db = db::connect(&config.database_url, 1).await?;
            match action {
                MigrateAction::Up => {
                    Migrator::up(&db, None).await?;
                    println!("migrations applied");
                }
                MigrateAction::Down => Migrator::down(&db, Some(1)).await?,
                MigrateAction::Status => {
                    for m in Migrator::get_migration_with_status(&db).await? {
                        println!("{:?}\t{}", m.status(), m.name());
                    }
                }
            }
        }
        Command::ExportSchema { out } => {
            std::fs::write(&out, graphql::sdl()).with_context(|| format!("writing {out}"))?;
            println!("wrote {out}");
        }
    }
    Ok(())
}

/// The URL of the listener bound for `bind` on `port`: the bound port, not the configured
/// one (`TALLY_BIND=127.0.0.1:0` picks a free port).
fn local_url(bind: &str, port: u16) -> String {
    let host = bind.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
    let host = if host == "0.0.0.0" { "127.0.0.1" } else { host };
    format!("http://{host}:{port}")
}
