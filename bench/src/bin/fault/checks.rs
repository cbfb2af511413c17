//! The checks after the storm: the rules on answers (shape, timing, the outage window), the
//! report per phase, and the `likes` rows and counters against the acknowledged states.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use entity::Audience;
use sea_orm::{ActiveEnum, ConnectionTrait, DbBackend, Statement};
use serde_json::json;
use tally::domain::counters;
use tally_bench::{queries::LIKE_COUNT, stats};
use uuid::Uuid;

use crate::{
    cli::Args,
    client::{Ctx, Outcome, Timed},
    setup::VideoRef,
    storm::{Probe, ProbeKind, Timeline},
};

/// The rules on answers: their shape, their timing and the outage window.
pub fn check_answers(
    args: &Args,
    tl: &Timeline,
    ops: &[Timed],
    probes: &[Probe],
    violations: &mut Vec<String>,
) {
    let max_latency = (args.query_timeout_ms + args.slack_ms) as f64 / 1000.0;
    let window_end = tl.ready.unwrap_or(f64::INFINITY) + args.grace_ms as f64 / 1000.0;
    let in_window = |t: &Timed| t.answered >= tl.stop_begin && t.sent <= window_end;
    let reads = probes.iter().filter(|p| p.kind == ProbeKind::Read);
    let requests: Vec<&Timed> = ops.iter().chain(reads.map(|p| &p.timed)).collect();
    let mut outside = Vec::new();
    let mut messages = BTreeSet::new();
    let mut statuses = BTreeSet::new();
    for t in &requests {
        match &t.outcome {
            Outcome::Ok | Outcome::RateLimited => {}
            Outcome::Coded {
                status,
                code,
                message,
            } => {
                statuses.insert(*status);
                messages.insert(format!("{code}: {message}"));
                if code != "INTERNAL" {
                    violations.push(format!(
                        "an error coded {code} (expected INTERNAL) at {:.2} s: {message}",
                        t.sent
                    ));
                }
            }
            Outcome::Bad(why) => violations.push(format!("a bad answer at {:.2} s: {why}", t.sent)),
            Outcome::Transport(why) => violations.push(format!(
                "no answer to a request sent at {:.2} s: {why}",
                t.sent
            )),
        }
        if t.failed() && !in_window(t) {
            outside.push(t.sent);
        }
        if t.latency() > max_latency {
            violations.push(format!(
                "an answer took {:.2} s (sent at {:.2} s), over the {max_latency:.1} s bound",
                t.latency(),
                t.sent
            ));
        }
    }
    if !outside.is_empty() {
        violations.push(format!(
            "{} errors outside the outage window [{:.2} s, {:.2} s] (first sent at {:.2} s)",
            outside.len(),
            tl.stop_begin,
            window_end,
            outside[0]
        ));
    }
    let failed_ops = ops.iter().filter(|t| t.failed()).count();
    if failed_ops == 0 {
        violations.push("no like answered an error: the outage was not observed".to_owned());
    }
    let failed_reads = requests[ops.len()..].iter().filter(|t| t.failed()).count();
    println!(
        "fault: error answers: {failed_ops} likes/unlikes, {failed_reads} reads; HTTP statuses {statuses:?}; messages {messages:?}"
    );
    let rate_limited = ops
        .iter()
        .filter(|t| matches!(t.outcome, Outcome::RateLimited))
        .count();
    if rate_limited > 0 {
        println!("fault: {rate_limited} likes refused as RATE_LIMITED (nothing ran; not faults)");
    }

    // /readyz: non-200 while the database is down, 200 once recovered; /healthz: always 200.
    let mut down_probes = 0;
    for p in probes {
        let t = &p.timed;
        match p.kind {
            ProbeKind::Healthz if p.status != Some(200) => violations.push(format!(
                "/healthz answered {:?} at {:.2} s",
                p.status, t.sent
            )),
            ProbeKind::Readyz => {
                if p.status.is_none() {
                    violations.push(format!("/readyz did not answer at {:.2} s", t.sent));
                } else if t.answered > tl.stop_done && t.answered < tl.start_begin {
                    down_probes += 1;
                    if p.status == Some(200) {
                        violations.push(format!(
                            "/readyz answered 200 at {:.2} s while the database was down",
                            t.answered
                        ));
                    }
                } else if tl.ready.is_some_and(|r| t.sent > r) && p.status != Some(200) {
                    violations.push(format!(
                        "/readyz answered {:?} at {:.2} s, after it had recovered",
                        p.status, t.answered
                    ));
                }
                if t.latency() > max_latency {
                    violations.push(format!("/readyz took {:.2} s", t.latency()));
                }
            }
            _ => {}
        }
    }
    if down_probes == 0 {
        violations.push("no /readyz probe was answered while the database was down".to_owned());
    }
}

/// Per phase: acknowledged operations, errors, rates; probe answers during the outage.
pub fn report_phases(tl: &Timeline, ops: &[Timed], probes: &[Probe]) {
    let ready = tl.ready.unwrap_or(tl.storm_end);
    let phases = [
        ("before the stop", tl.storm_start, tl.stop_begin),
        ("stop → /readyz 200", tl.stop_begin, ready),
        ("after recovery", ready, tl.storm_end),
    ];
    println!(
        "fault: timeline (s): storm {:.1}, stop {:.1}–{:.1}, start {:.1}–{:.1}, ready {}, end {:.1}",
        tl.storm_start,
        tl.stop_begin,
        tl.stop_done,
        tl.start_begin,
        tl.start_done,
        tl.ready.map_or("never".to_owned(), |r| format!("{r:.1}")),
        tl.storm_end
    );
    for (name, from, to) in phases {
        let sent: Vec<&Timed> = ops
            .iter()
            .filter(|t| t.sent >= from && t.sent < to)
            .collect();
        let acked = sent.iter().filter(|t| !t.failed()).count();
        let failed: Vec<&&Timed> = sent.iter().filter(|t| t.failed()).collect();
        let slowest = failed.iter().map(|t| t.latency()).fold(0.0, f64::max);
        let p50 = stats::median(sent.iter().map(|t| t.latency()).collect()).unwrap_or(0.0);
        println!(
            "fault:   {name:<20} {:>6.1} s  {acked:>6} acknowledged ({:>4.0}/s), {:>4} errors (slowest {slowest:.2} s), p50 {:.1} ms",
            to - from,
            acked as f64 / (to - from).max(0.001),
            failed.len(),
            p50 * 1000.0
        );
    }
    for kind in [ProbeKind::Readyz, ProbeKind::Healthz, ProbeKind::Read] {
        let during: Vec<&Probe> = probes
            .iter()
            .filter(|p| {
                p.kind == kind && p.timed.sent >= tl.stop_done && p.timed.sent < tl.start_begin
            })
            .collect();
        let mut answers: BTreeMap<String, usize> = BTreeMap::new();
        for p in &during {
            let key = match (&p.status, &p.timed.outcome) {
                (Some(s), _) => s.to_string(),
                (None, Outcome::Ok) => "ok".to_owned(),
                (None, Outcome::Coded { code, .. }) => code.clone(),
                (None, o) => format!("{o:?}"),
            };
            *answers.entry(key).or_default() += 1;
        }
        let slowest = during.iter().map(|p| p.timed.latency()).fold(0.0, f64::max);
        println!("fault:   {kind:?} probes sent while down, by answer: {answers:?}, slowest {slowest:.2} s");
    }
}

/// The `likes` rows and the counters against the acknowledged final states, and the API's
/// `likeCount` against the rows.
pub async fn check_database(
    args: &Args,
    ctx: &Ctx,
    videos: &[VideoRef],
    expected: &BTreeMap<(Uuid, Uuid), Audience>,
    unknown: &BTreeSet<(Uuid, Uuid)>,
    violations: &mut Vec<String>,
) -> anyhow::Result<()> {
    let db = tally::db::connect(&args.database_url, 2).await?;
    let list = videos
        .iter()
        .map(|v| format!("'{}'", v.id))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT video_id, user_id, audience FROM likes WHERE video_id IN ({list})"),
        ))
        .await?;
    let mut actual: BTreeMap<(Uuid, Uuid), Vec<String>> = BTreeMap::new();
    for r in &rows {
        let key = (r.try_get("", "video_id")?, r.try_get("", "user_id")?);
        actual
            .entry(key)
            .or_default()
            .push(r.try_get("", "audience")?);
    }
    let (mut missing, mut extra, mut duplicated, mut mislabelled) = (0, 0, 0, 0);
    for (key, aud) in expected {
        match actual.get(key).map(Vec::as_slice) {
            None => missing += 1,
            Some([one]) => {
                if *one != aud.to_value() {
                    mislabelled += 1;
                }
            }
            Some(_) => duplicated += 1,
        }
    }
    for key in actual.keys() {
        if !expected.contains_key(key) && !unknown.contains(key) {
            extra += 1;
        }
    }
    for (n, what) in [
        (missing, "acknowledged likes missing from `likes`"),
        (
            extra,
            "likes rows whose acknowledged final state is not liked",
        ),
        (duplicated, "likes present more than once"),
        (mislabelled, "likes labelled with the wrong audience"),
    ] {
        if n > 0 {
            violations.push(format!("{n} {what}"));
        }
    }
    let committed = unknown.iter().filter(|k| actual.contains_key(k)).count();
    println!(
        "fault: likes rows {}: {} acknowledged liked pairs, {committed} liked of the {} pairs whose \
         last request failed (either state accepted); missing {missing}, extra {extra}, duplicated {duplicated}, mislabelled {mislabelled}",
        rows.len(),
        expected.len(),
        unknown.len()
    );

    // The counters (sums over a video's counter rows) against the rows, by the service's own
    // check; only the storm's videos exist in this database.
    let drift = counters::drift(&db)
        .await
        .map_err(|e| anyhow::anyhow!("counters::drift: {}", e.message()))?;
    for d in &drift {
        violations.push(format!(
            "video {}: counters (like_count, everyone_likes, followers_likes) {:?} but rows {:?}",
            d.video, d.counted, d.rows
        ));
    }
    let mut rows_per_video: HashMap<Uuid, i64> = videos.iter().map(|v| (v.id, 0)).collect();
    for (video, _) in actual.keys() {
        *rows_per_video.entry(*video).or_default() += 1;
    }
    for v in videos {
        let api = match ctx.post(None, LIKE_COUNT, json!({ "v": v.api_id })).await {
            Ok((200, body)) if body.get("errors").is_none() => {
                body["data"]["video"]["likeCount"].as_i64()
            }
            _ => None,
        };
        if api.is_none() || api != rows_per_video.get(&v.id).copied() {
            violations.push(format!(
                "video {}: likeCount over the API {api:?}, rows {:?}",
                v.id,
                rows_per_video.get(&v.id)
            ));
        }
    }
    println!(
        "fault: counters vs rows: {} videos drifting (like_count, everyone_likes, followers_likes); likeCount over the API checked on {} videos",
        drift.len(),
        videos.len()
    );
    db.close().await.ok();
    Ok(())
}
