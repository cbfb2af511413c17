//! `tally`: parse the command line, set up logging, run.
use anyhow::Context;
use clap::Parser;
use migration::{Migrator, MigratorTrait};
use tally::{
    config::{Cli, Command, MigrateAction},
    db, demo, graphql,
    startup::Application,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let config = cli.config;
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
            // The bound port, not the configured one: `TALLY_BIND=127.0.0.1:0` picks a free port.
            let host = config.bind.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
            let host = if host == "0.0.0.0" { "127.0.0.1" } else { host };
            let base = format!("http://{host}:{}", app.port());
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
