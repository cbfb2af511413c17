//! The benchmark's query mix over HTTP: each query measured with `wrk` at a fixed moderate
//! rate and at saturation (with its raw floor where there is one), then the like storm.
use anyhow::Context;
use sea_orm::DatabaseConnection;
use tally::{
    db::Sql,
    domain::page::PageRequest,
    ids::{CursorKind, Kind},
};

use crate::{
    cli::Args,
    explain::explain,
    floor::{deep_cursor, floor},
    keys::{encode_cursor, encode_id, token_issuer},
    queries::FEED,
    seed::Dataset,
    wrk::{pacing_delay_ms, script, storm_script, wrk},
    OrMessage,
};

/// One measured row of the table.
#[derive(Default, Clone)]
pub struct Row {
    pub name: String,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub rps: f64,
    pub sat_p50_ms: f64,
    pub sat_p99_ms: f64,
    pub sat_rps: f64,
    pub floor_p50_ms: Option<f64>,
    pub floor_p99_ms: Option<f64>,
    /// Why the scenario failed (answers with errors, or none at all); the run goes on and
    /// the table says so, and the benchmark exits non-zero at the end.
    pub failed: Option<String>,
}

/// What the like storm measured: the rate, the answers, and the hot video's counter minus its
/// like rows afterwards.
pub struct Storm {
    pub likes_per_sec: f64,
    pub acknowledged: u64,
    pub bad: u64,
    pub drift: i64,
}

/// Warm-up, fixed moderate rate, saturation; a bad answer (or none) marks the row failed.
pub fn measure(
    args: &Args,
    name: &str,
    token: &str,
    body: serde_json::Value,
) -> anyhow::Result<Row> {
    let fixed_conns = 4u64;
    let delay = pacing_delay_ms(fixed_conns, args.rate);
    let paced = script(
        &args.out,
        &format!("{name}-fixed"),
        token,
        &body,
        Some(delay),
    )?;
    let open = script(&args.out, &format!("{name}-sat"), token, &body, None)?;
    wrk(
        args.port,
        &open,
        args.connections,
        2,
        (args.duration / 3).max(1),
    )?;
    let fixed = wrk(args.port, &paced, fixed_conns, 2, args.duration)?;
    let sat = wrk(args.port, &open, args.connections, 2, args.duration)?;
    let failed: Vec<String> = [("fixed", &fixed), ("saturation", &sat)]
        .iter()
        .filter(|(_, r)| r.bad > 0 || r.requests == 0)
        .map(|(what, r)| format!("{what}: {} of {} answers failed", r.bad, r.requests))
        .collect();
    let failed = (!failed.is_empty()).then(|| failed.join("; "));
    println!(
        "  {name}: p50 {:.2} ms, p99 {:.2} ms at {:.0} req/s; saturated {:.0} req/s{}",
        fixed.p50_ms,
        fixed.p99_ms,
        fixed.rps,
        sat.rps,
        failed
            .as_ref()
            .map(|f| format!(" — FAILED ({f})"))
            .unwrap_or_default()
    );
    Ok(Row {
        name: name.to_owned(),
        p50_ms: fixed.p50_ms,
        p99_ms: fixed.p99_ms,
        rps: fixed.rps,
        sat_p50_ms: sat.p50_ms,
        sat_p99_ms: sat.p99_ms,
        sat_rps: sat.rps,
        failed,
        ..Row::default()
    })
}

/// Every query of the mix in turn (after the EXPLAIN plans), then the like storm.
pub async fn run_scenarios(
    args: &Args,
    db: &DatabaseConnection,
    data: &Dataset,
    tag: &str,
) -> anyhow::Result<(Vec<Row>, Storm)> {
    let token = token_issuer(db)?;
    let viewer_token = token.token(data.viewer).await?;
    let likers_query = "query($id: ID!, $after: String) { video(id: $id) { visibleLikers(first: 20, after: $after) { \
        totalCount hiddenCount edges { likedAt node { handle } } pageInfo { hasNextPage endCursor } } } }";
    let req1 = PageRequest::new(20, None).or_message()?;
    let mut rows = Vec::new();
    explain(args, db, data, tag).await?;
    for &(size, video) in &data.videos {
        let body = serde_json::json!({ "query": likers_query, "variables": { "id": encode_id(Kind::Video, video) } });
        let mut row = measure(
            args,
            &format!("visibleLikers p1 @{size}"),
            &viewer_token,
            body,
        )?;
        let (f50, f99) = floor(db, data.viewer, video, req1, args.floor_iterations).await?;
        row.floor_p50_ms = Some(f50);
        row.floor_p99_ms = Some(f99);
        rows.push(row);
    }
    let (big_size, big) = *data.videos.last().context("videos")?;
    if let Some((skipped, keyset)) = deep_cursor(db, data.viewer, big, 4999 * 20).await? {
        let cursor = encode_cursor(CursorKind::Likers, keyset)?;
        let page = skipped / 20 + 1;
        let body = serde_json::json!({ "query": likers_query, "variables": { "id": encode_id(Kind::Video, big), "after": cursor } });
        let mut row = measure(
            args,
            &format!("visibleLikers p{page} @{big_size}"),
            &viewer_token,
            body,
        )?;
        let req = PageRequest::new(20, Some(keyset)).or_message()?;
        let (f50, f99) = floor(db, data.viewer, big, req, args.floor_iterations).await?;
        row.floor_p50_ms = Some(f50);
        row.floor_p99_ms = Some(f99);
        rows.push(row);
    }
    let body = serde_json::json!({ "query": "query($id: ID!) { video(id: $id) { likeCount } }", "variables": { "id": encode_id(Kind::Video, big) } });
    rows.push(measure(
        args,
        &format!("likeCount @{big_size}"),
        &viewer_token,
        body,
    )?);
    rows.push(measure(
        args,
        "feed(first: 20)",
        &viewer_token,
        serde_json::json!({ "query": FEED }),
    )?);

    // Like storm on a fresh video: every request a different account's first like.
    let storm_tokens = token.tokens(data.storm_users.iter().copied()).await?;
    let path = storm_script(
        &args.out,
        &storm_tokens,
        &encode_id(Kind::Video, data.hot_video),
        2,
    )?;
    let r = wrk(args.port, &path, args.like_clients, 2, args.duration)?;
    let mut q = Sql::default();
    let v = q.bind(data.hot_video);
    q.push_unchecked(&format!(
        "SELECT {} AS like_count, (SELECT COUNT(*) FROM likes WHERE video_id = {v}) AS n",
        tally::domain::counters::sum(entity::video_like_counter::Column::LikeCount, v)
    ));
    let row = q.one(db).await.or_message()?.context("hot video")?;
    let counter: i64 = row.try_get("", "like_count")?;
    let n: i64 = row.try_get("", "n")?;
    let storm = Storm {
        likes_per_sec: r.rps,
        acknowledged: r.requests,
        bad: r.bad,
        drift: counter - n,
    };
    println!(
        "  like storm: {:.0} likes/s from {} clients, {} errors, counter {counter} vs rows {n}",
        r.rps, args.like_clients, r.bad
    );
    Ok((rows, storm))
}
