//! `tally-bench`: the likes-at-scale benchmark (see `bench/README.md`).
//!
//! One run = one backend and one private-account share: seed a dataset from a seed, start the
//! release `tally` binary on it, drive a fixed query mix over HTTP with `wrk` (warm-up, then a
//! fixed moderate rate, then saturation, every response body checked for `errors`), run the
//! same SQL in-process as the floor, and print one table.
//!
//! `--soak <secs>` runs the soak instead (see [`soak`]): the same dataset and server, then
//! mixed reads and writes at a fixed moderate rate for that long, the server's RSS sampled
//! throughout, and a verdict on errors and memory growth. `--timing` runs the timing classes
//! instead (see [`timing`]).
//!
//! The pieces are modules of the library (`src/lib.rs`); this file is the command line and
//! the order of a run.
use std::time::Instant;

use clap::Parser;
use tally_bench::{
    analytics, cli::Args, database, live, machine, scenarios::run_scenarios, seed::seed,
    server::Server, soak, table::print_table, timing, views,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    if let Some(secs) = args.soak {
        return soak::run(&args, secs).await;
    }
    if args.timing {
        return timing::run(&args).await;
    }
    if args.analytics {
        return analytics::run(&args).await;
    }
    if args.views {
        return views::run(&args).await;
    }
    if args.live {
        return live::run(&args).await;
    }
    let tag = format!(
        "{}-p{}",
        args.backend.name(),
        (args.private_share * 100.0).round() as u32
    );
    let (url, db) = database::open(&args, &tag, 8).await?;
    let started = Instant::now();
    let data = seed(&db, &args).await?;
    println!("seeded {tag} in {:.1} s", started.elapsed().as_secs_f64());

    let server = Server::start(&args, &url).await?;
    let result = run_scenarios(&args, &db, &data, &tag).await;
    let peak_rss = machine::peak_rss_mb(server.pid());
    server.stop();
    let (rows, storm) = result?;
    print_table(&args, &tag, &rows, &storm, peak_rss)?;
    Ok(())
}
