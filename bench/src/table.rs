//! The results table of the benchmark (printed and written to `--out/results-<tag>.md`), and
//! the verdict on failed answers shared with the timing table.
use std::fmt::Write as _;

use anyhow::bail;

use crate::{
    cli::Args,
    scenarios::{Row, Storm},
};

/// Prints and writes the table: per query p50 / p99 / throughput at the fixed rate and at
/// saturation, the raw floor and the ratios, the like storm and the server's peak RSS. Fails
/// if the storm or any scenario failed (after writing).
pub fn print_table(
    args: &Args,
    tag: &str,
    rows: &[Row],
    storm: &Storm,
    peak_rss: f64,
) -> anyhow::Result<()> {
    let mut s = String::new();
    writeln!(
        s,
        "\n## {tag}: private share {:.0}%, viewer follows {}, fixed rate {} req/s (4 connections), saturation {} connections, {} s each\n",
        args.private_share * 100.0,
        args.viewer_follows,
        args.rate,
        args.connections,
        args.duration
    )?;
    writeln!(s, "| query | p50 ms | p99 ms | req/s | saturated p50 / p99 ms | saturated req/s | raw SQL p50 / p99 ms | GraphQL ÷ raw (p50) |")?;
    writeln!(s, "|---|---|---|---|---|---|---|---|")?;
    for r in rows {
        let (raw, ratio) = match (r.floor_p50_ms, r.floor_p99_ms) {
            (Some(a), Some(b)) => (format!("{a:.2} / {b:.2}"), format!("{:.2}×", r.p50_ms / a)),
            _ => ("—".into(), "—".into()),
        };
        let name = match &r.failed {
            Some(why) => format!("{} — **FAILED** ({why})", r.name),
            None => r.name.clone(),
        };
        writeln!(
            s,
            "| {name} | {:.2} | {:.2} | {:.0} | {:.2} / {:.2} | {:.0} | {raw} | {ratio} |",
            r.p50_ms, r.p99_ms, r.rps, r.sat_p50_ms, r.sat_p99_ms, r.sat_rps
        )?;
    }
    let first = rows.first().map(|r| r.p99_ms).unwrap_or(f64::NAN);
    let sized: Vec<&Row> = rows
        .iter()
        .filter(|r| r.name.starts_with("visibleLikers p1 "))
        .collect();
    if let (Some(small), Some(big)) = (sized.first(), sized.last()) {
        writeln!(
            s,
            "\np99 at the largest size ÷ p99 at the smallest: {:.2}×",
            big.p99_ms / small.p99_ms
        )?;
    }
    if let Some(deep) = rows
        .iter()
        .find(|r| r.name.starts_with("visibleLikers p") && !r.name.starts_with("visibleLikers p1 "))
    {
        let p1 = sized.last().map(|r| r.p99_ms).unwrap_or(first);
        writeln!(
            s,
            "deep page p99 ÷ page 1 p99 (largest size): {:.2}×",
            deep.p99_ms / p1
        )?;
    }
    writeln!(
        s,
        "like storm: {:.0} likes/s sustained from {} clients; {} acknowledged, {} failed answers; counter drift {}",
        storm.likes_per_sec, args.like_clients, storm.acknowledged, storm.bad, storm.drift
    )?;
    writeln!(s, "server peak RSS: {peak_rss:.1} MB")?;
    print!("{s}");
    let path = args.out.join(format!("results-{tag}.md"));
    std::fs::write(&path, &s)?;
    if storm.bad > 0 || storm.drift != 0 {
        bail!(
            "like storm failed: {} bad answers, drift {}",
            storm.bad,
            storm.drift
        );
    }
    fail_if_any(
        "scenarios",
        rows.iter().map(|r| (r.name.as_str(), r.failed.is_some())),
    )
}

/// An error naming the `what` (scenarios, paths) whose answers failed, if any did.
pub fn fail_if_any<'a>(
    what: &str,
    rows: impl Iterator<Item = (&'a str, bool)>,
) -> anyhow::Result<()> {
    let failed: Vec<&str> = rows.filter(|(_, f)| *f).map(|(name, _)| name).collect();
    if !failed.is_empty() {
        bail!("{what} with failed answers: {}", failed.join(", "));
    }
    Ok(())
}
