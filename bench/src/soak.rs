//! The soak (issue 4): ten minutes of mixed load, no error, RSS flat. The same dataset and
//! server as the benchmark, one `wrk` run of the mix in [`script`] at `--rate`, the server's
//! RSS sampled throughout, and the verdict of [`report`].
use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use sea_orm::DatabaseConnection;
use tally::{db::Sql, ids::Kind};

use crate::{
    cli::Args,
    database, http,
    keys::{encode_id, token_issuer},
    machine,
    queries::LIKE_COUNT,
    seed::{seed, Dataset},
    server::Server,
    wrk::{pacing_delay_ms, parse_wrk, wrk_command},
    OrMessage,
};

mod report;
mod script;

use report::{Sample, SoakReport};
use script::{soak_script, SoakScript, SOAK_KINDS};

/// `tally-bench --soak <secs>`: seeds the dataset (use small `--sizes`), starts the release
/// server, and drives `secs` seconds of mixed load at `--rate` with `wrk` (every answer
/// checked for `errors`) while sampling the server's RSS every `--soak-sample-secs`.
/// Writes `bench/out/soak-<backend>.md`; fails on any error, a counter that disagrees with
/// its rows, or the median RSS growing more than 10 % from the middle third of the run to
/// the last.
pub async fn run(args: &Args, secs: u64) -> anyhow::Result<()> {
    let tag = format!("soak-{}", args.backend.name());
    let (url, db) = database::open(args, &tag, 4).await?;
    let started = Instant::now();
    let data = seed(&db, args).await?;
    println!(
        "seeded {tag} in {:.1} s; soaking for {secs} s",
        started.elapsed().as_secs_f64()
    );
    let mut server = Server::start(args, &url).await?;
    let result = run_soak(args, &db, &data, &tag, secs, &mut server).await;
    server.stop();
    let report = result?;
    let text = report.markdown(args)?;
    print!("\n{text}");
    let path = args.out.join(format!("{tag}.md"));
    std::fs::write(&path, &text)?;
    println!("written to {}", path.display());
    let failures = report.failures();
    if !failures.is_empty() {
        bail!("soak failed: {}", failures.join("; "));
    }
    Ok(())
}

/// The soak proper, on a seeded dataset and a running server: the load, the RSS samples,
/// and the hot video's counter against its rows afterwards.
async fn run_soak(
    args: &Args,
    db: &DatabaseConnection,
    data: &Dataset,
    tag: &str,
    secs: u64,
    server: &mut Server,
) -> anyhow::Result<SoakReport> {
    let token = token_issuer(db)?;
    let writers = token
        .tokens(
            data.storm_users
                .iter()
                .take(args.soak_accounts.max(1))
                .copied(),
        )
        .await?;
    let viewer = token.token(data.viewer).await?;
    let connections = 4u64;
    let threads = 2u64;
    let delay = pacing_delay_ms(connections, args.rate);
    let path = soak_script(
        &args.out,
        &SoakScript {
            viewer,
            writers,
            sized: data
                .videos
                .iter()
                .map(|(_, v)| encode_id(Kind::Video, *v))
                .collect(),
            hot: encode_id(Kind::Video, data.hot_video),
            creator: encode_id(Kind::User, data.creator),
            accounts: data.accounts,
            threads,
            delay_ms: delay,
            nonce: format!("{:x}", chrono::Utc::now().timestamp() % 0xff_ffff),
        },
    )?;
    let load_before = machine::load_average();
    let mut wrk = wrk_command(args.port, &path, connections, threads, secs)
        .stdout(Stdio::piped())
        .spawn()
        .context("running wrk (install it: apt-get install -y wrk)")?;
    let t0 = Instant::now();
    let every = Duration::from_secs(args.soak_sample_secs.max(1));
    let mut samples: Vec<Sample> = Vec::new();
    let mut next_note = 60.0;
    loop {
        tokio::time::sleep(every).await;
        if let Some(status) = server.exited()? {
            let _ = wrk.kill();
            bail!("{tag}: the server exited during the soak ({status})");
        }
        if wrk.try_wait()?.is_some() {
            break;
        }
        let t = t0.elapsed().as_secs_f64();
        samples.push((t, machine::rss_mb(server.pid())));
        if t >= next_note {
            println!("  {t:.0} s: RSS {:.1} MB", machine::rss_mb(server.pid()));
            next_note += 60.0;
        }
    }
    let out = wrk.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let result = parse_wrk(&text)?;
    let mix = text
        .lines()
        .find_map(|l| l.strip_prefix("MIX "))
        .map(|l| {
            SOAK_KINDS
                .iter()
                .zip(l.split_whitespace())
                .map(|(k, n)| ((*k).to_owned(), n.parse().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    let load_after = machine::load_average();
    // The hot video's counter, as the API answers it, against its rows.
    let body = serde_json::json!({
        "query": LIKE_COUNT,
        "variables": { "v": encode_id(Kind::Video, data.hot_video) },
    });
    let answer = post_json(args.port, &body).await?;
    let hot_like_count = answer["data"]["video"]["likeCount"]
        .as_i64()
        .with_context(|| format!("hot video likeCount: {answer}"))?;
    let mut q = Sql::default();
    let v = q.bind(data.hot_video);
    q.push_unchecked(&format!(
        "SELECT COUNT(*) AS n FROM likes WHERE video_id = {v}"
    ));
    let row = q.one(db).await.or_message()?.context("count")?;
    let hot_rows: i64 = row.try_get("", "n")?;
    Ok(SoakReport {
        tag: tag.to_owned(),
        secs,
        connections,
        wrk: result,
        mix,
        samples,
        hot_like_count,
        hot_rows,
        load_before,
        load_after,
        accounts: data.accounts,
    })
}

/// POSTs a JSON body to `/graphql` (as no one) and returns the JSON answer; fails unless
/// the answer is HTTP 200.
async fn post_json(port: u16, body: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let url = format!("http://127.0.0.1:{port}/graphql");
    let (status, text) = http::send_text(http::graphql_request(&client, &url, None, body)).await?;
    if status != 200 {
        bail!("POST /graphql: HTTP {status}");
    }
    Ok(serde_json::from_str(&text)?)
}
