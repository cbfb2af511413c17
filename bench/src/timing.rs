//! Timing classes (issue 8): does the time to answer grow with rows hidden from the viewer?
//! `tally-bench --timing` seeds a small dataset of its own ([`seed`]) and times each read path
//! that an account-level rule can hide, hiding `--timing-hidden` rows against hiding none.
use std::{fmt::Write as _, time::Instant};

use tally::ids::{CursorKind, Keyset, Kind};
use uuid::Uuid;

use crate::{
    cli::Args,
    database, http,
    keys::{encode_cursor, encode_id, token_issuer},
    machine,
    server::Server,
    stats,
    table::fail_if_any,
};

mod seed;

use seed::{seed_timing, TimingWorld};

/// The ratio of the medians (hidden ÷ none) a path should stay within; a miss is reported,
/// not failed.
const TARGET: f64 = 1.15;

/// One path of the timing table: the same request about an account (or feed page) hiding no
/// row and about one hiding `--timing-hidden`.
struct TimingPath {
    name: String,
    token: Option<String>,
    hidden: serde_json::Value,
    clear: serde_json::Value,
}

struct TimingRow {
    name: String,
    hidden_ms: f64,
    clear_ms: f64,
    failed: Option<String>,
}

/// `tally-bench --timing`: per read path that an account-level rule can hide, the median
/// time to answer with `--timing-hidden` hidden rows ÷ the median with none, the two requests
/// interleaved (alternating which goes first) over one keep-alive connection to the release
/// server, every answer checked (no `errors`, the two answers identical). Writes
/// `bench/out/timing-<backend>.md`; exits non-zero if an answer fails (a ratio over the
/// target is reported, not failed).
pub async fn run(args: &Args) -> anyhow::Result<()> {
    let tag = format!("timing-{}", args.backend.name());
    let (url, db) = database::open(args, &tag, 4).await?;
    let n = args.timing_hidden;
    let w = seed_timing(&db, n).await?;
    let paths = paths(&w, &db).await?;

    let server = Server::start(args, &url).await?;
    let result = runs(args, &paths).await;
    server.stop();
    let rows = result?;

    let s = table(args, &tag, n, &rows)?;
    print!("{s}");
    std::fs::write(args.out.join(format!("{tag}.md")), &s)?;
    fail_if_any(
        "timing paths",
        rows.iter().map(|r| (r.name.as_str(), r.failed.is_some())),
    )
}

/// The paths of the table, each with the two requests about the seeded accounts (and feed
/// pages) hiding rows and hiding none.
async fn paths(
    w: &TimingWorld,
    db: &sea_orm::DatabaseConnection,
) -> anyhow::Result<Vec<TimingPath>> {
    let token = token_issuer(db)?;
    let stranger = Some(token.token(w.stranger).await?);
    let cursor = |k: Keyset| encode_cursor(CursorKind::Videos, k);
    let by_handle =
        |q: &str, handle: &str| serde_json::json!({ "query": q, "variables": { "h": handle } });
    let liked = "query($h: String!) { user(handle: $h) { likedVideos(first: 20) { edges { node { id likeCount } } pageInfo { hasNextPage } } } }";
    let videos = "query($h: String!) { user(handle: $h) { videos(first: 20) { edges { node { id likeCount } } pageInfo { hasNextPage } } } }";
    let node = "query($id: ID!) { node(id: $id) { ... on User { videos(first: 20) { edges { node { id } } } likedVideos(first: 20) { edges { node { id } } } } } }";
    let feed = "query($after: String) { feed(first: 20, after: $after) { edges { node { id author { handle } likeCount } } pageInfo { hasNextPage } } }";
    let node_of = |id: Uuid| serde_json::json!({ "query": node, "variables": { "id": encode_id(Kind::User, id) } });
    let pair = |name: &str, token: &Option<String>, q: &str, handle: &str| TimingPath {
        name: name.to_owned(),
        token: token.clone(),
        hidden: by_handle(q, &format!("{handle}1")),
        clear: by_handle(q, &format!("{handle}0")),
    };
    let feed_page = |k: Keyset| -> anyhow::Result<serde_json::Value> {
        Ok(serde_json::json!({ "query": feed, "variables": { "after": cursor(k)? } }))
    };
    let mut paths = vec![
        pair(
            "likedVideos, ONLY_ME liker, stranger",
            &stranger,
            liked,
            "onlyme",
        ),
        pair(
            "likedVideos, ONLY_ME liker, anonymous",
            &None,
            liked,
            "onlyme",
        ),
        pair(
            "likedVideos, FOLLOWERS liker, non-follower",
            &stranger,
            liked,
            "followers",
        ),
        pair(
            "likedVideos, private liker, stranger",
            &stranger,
            liked,
            "privliker",
        ),
        pair(
            "likedVideos, private liker, anonymous",
            &None,
            liked,
            "privliker",
        ),
        pair(
            "videos, private author, stranger",
            &stranger,
            videos,
            "privauthor",
        ),
        pair(
            "videos, private author, anonymous",
            &None,
            videos,
            "privauthor",
        ),
    ];
    for (name, tok) in [
        ("feed page, signed in", &stranger),
        ("feed page, anonymous", &None),
    ] {
        paths.push(TimingPath {
            name: name.to_owned(),
            token: tok.clone(),
            hidden: feed_page(w.feed_over_hidden)?,
            clear: feed_page(w.feed_over_none)?,
        });
    }
    let [x0, x1] = w.private_only_me;
    for (name, tok) in [
        (
            "node(user) { videos likedVideos }, private ONLY_ME, stranger",
            &stranger,
        ),
        (
            "node(user) { videos likedVideos }, private ONLY_ME, anonymous",
            &None,
        ),
    ] {
        paths.push(TimingPath {
            name: name.to_owned(),
            token: tok.clone(),
            hidden: node_of(x1),
            clear: node_of(x0),
        });
    }
    // Not a hidden count but a class: an empty list the viewer may see (EVERYONE, no likes)
    // against one it may not (ONLY_ME, no likes).
    paths.push(TimingPath {
        name: "(class) likedVideos, ONLY_ME ÷ EVERYONE, both without likes, stranger".to_owned(),
        token: stranger.clone(),
        hidden: by_handle(liked, "onlyme0"),
        clear: by_handle(liked, "everyone0"),
    });
    Ok(paths)
}

/// The table of medians and ratios, with the machine and its load average after the runs.
fn table(args: &Args, tag: &str, n: usize, rows: &[TimingRow]) -> anyhow::Result<String> {
    let cpus = machine::cpus();
    let mut s = String::new();
    writeln!(
        s,
        "\n## {tag}: median time to answer, {n} hidden rows ÷ none, {} interleaved tries each (target ≤ {TARGET})\n",
        args.timing_tries
    )?;
    writeln!(
        s,
        "{cpus} vCPU; load average after: `{}`\n",
        machine::load_average()
    )?;
    writeln!(
        s,
        "| path | median ms, {n} hidden | median ms, none hidden | ratio | verdict |"
    )?;
    writeln!(s, "|---|---|---|---|---|")?;
    for r in rows {
        let ratio = r.hidden_ms / r.clear_ms;
        let verdict = match &r.failed {
            Some(why) => format!("**FAILED** ({why})"),
            None if ratio <= TARGET => "met".to_owned(),
            None => "**missed**".to_owned(),
        };
        writeln!(
            s,
            "| {} | {:.3} | {:.3} | {ratio:.2} | {verdict} |",
            r.name, r.hidden_ms, r.clear_ms
        )?;
    }
    Ok(s)
}

/// Runs every path's two requests interleaved and returns the medians.
async fn runs(args: &Args, paths: &[TimingPath]) -> anyhow::Result<Vec<TimingRow>> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()?;
    let url = format!("http://127.0.0.1:{}/graphql", args.port);
    let send = |token: &Option<String>, body: &serde_json::Value| {
        let req = http::graphql_request(&http, &url, token.as_deref(), body);
        async move {
            let t = Instant::now();
            let (status, text) = http::send_text(req).await?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            Ok::<_, anyhow::Error>((ms, status, text))
        }
    };
    let mut rows = Vec::new();
    for path in paths {
        let (mut hidden, mut clear) = (Vec::new(), Vec::new());
        let mut failed = None;
        let mut answers: Option<(serde_json::Value, serde_json::Value)> = None;
        for i in 0..args.timing_tries + 10 {
            // Alternate which of the two goes first, so neither always follows the other.
            let order = if i % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for is_hidden in order {
                let body = if is_hidden { &path.hidden } else { &path.clear };
                let (ms, status, text) = send(&path.token, body).await?;
                if status != 200 || text.contains("\"errors\"") {
                    failed.get_or_insert_with(|| {
                        format!("HTTP {status}: {}", &text[..text.len().min(200)])
                    });
                }
                // Compared as JSON values: the order of an object's keys is not the point.
                let value: serde_json::Value =
                    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
                let slot = answers.get_or_insert_with(Default::default);
                let seen = if is_hidden { &mut slot.0 } else { &mut slot.1 };
                if seen.is_null() {
                    *seen = value;
                } else if *seen != value {
                    failed.get_or_insert_with(|| "answers vary between tries".to_owned());
                }
                if i >= 10 {
                    if is_hidden {
                        hidden.push(ms)
                    } else {
                        clear.push(ms)
                    }
                }
            }
        }
        if let Some((h, c)) = &answers {
            if h != c && !path.name.starts_with("(class)") {
                failed.get_or_insert_with(|| format!("answers differ: {h} vs {c}"));
            }
        }
        let row = TimingRow {
            name: path.name.clone(),
            hidden_ms: stats::median(hidden).unwrap_or(f64::NAN),
            clear_ms: stats::median(clear).unwrap_or(f64::NAN),
            failed,
        };
        println!(
            "  {}: {:.3} / {:.3} ms = {:.2}{}",
            row.name,
            row.hidden_ms,
            row.clear_ms,
            row.hidden_ms / row.clear_ms,
            row.failed
                .as_deref()
                .map(|f| format!(" — FAILED ({f})"))
                .unwrap_or_default()
        );
        rows.push(row);
    }
    Ok(rows)
}
