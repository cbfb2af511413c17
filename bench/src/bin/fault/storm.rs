//! The storm and the fault: closed-loop clients toggling likes, the probes, the shell
//! commands that stop and start the database, and the moments of the run.
use std::{
    collections::HashMap,
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use anyhow::{bail, Context};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::json;
use tally_bench::queries::LIKE_COUNT;
use tokio::sync::mpsc;

use crate::{
    client::{Ctx, Outcome, Timed},
    setup::{Account, VideoRef},
};

const LIKE: &str = "mutation($v: ID!) { likeVideo(videoId: $v) { viewerHasLiked } }";
const UNLIKE: &str = "mutation($v: ID!) { unlikeVideo(videoId: $v) { viewerHasLiked } }";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    Readyz,
    Healthz,
    Read,
}

#[derive(Debug, Clone)]
pub struct Probe {
    pub kind: ProbeKind,
    /// The HTTP status of a `GET` probe; `None` for the GraphQL read or when no answer came.
    pub status: Option<u16>,
    pub timed: Timed,
}

/// What a client knows of one (liker, video) pair.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pair {
    /// The state of the last acknowledged operation (not liked before any).
    pub liked: bool,
    /// When that acknowledgement arrived (seconds since the start).
    pub acked_at: Option<f64>,
    /// An operation towards this state failed after the last acknowledgement: the pair's
    /// state is unknown until another answer settles it.
    pub unknown: Option<bool>,
}

/// What one storm client did.
#[derive(Default)]
pub struct ClientLog {
    pub ops: Vec<Timed>,
    /// Keyed by (liker, video) index.
    pub pairs: HashMap<(usize, usize), Pair>,
}

/// Likes or unlikes; success means an answer without errors that reports the new state.
async fn toggle(ctx: &Ctx, token: &str, video: &str, like: bool) -> Timed {
    let (query, field) = if like {
        (LIKE, "likeVideo")
    } else {
        (UNLIKE, "unlikeVideo")
    };
    ctx.timed(Some(token), query, json!({ "v": video }), |d| {
        d[field]["viewerHasLiked"].as_bool() == Some(like)
    })
    .await
}

/// The storm's switches, flipped by `main`.
#[derive(Default)]
pub struct Phase {
    /// `/readyz` has recovered: like only the second half of the videos from now on.
    pub recovered: AtomicBool,
    /// The storm is over.
    pub stop: AtomicBool,
}

/// One storm client: toggles random pairs of its own likers until `stop`.
pub async fn storm_client(
    ctx: Arc<Ctx>,
    likers: Arc<Vec<Account>>,
    mine: Vec<usize>,
    videos: Arc<Vec<VideoRef>>,
    phase: Arc<Phase>,
    seed: u64,
) -> ClientLog {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut log = ClientLog::default();
    let half = videos.len() / 2;
    while !phase.stop.load(Ordering::Relaxed) {
        let u = mine[rng.gen_range(0..mine.len())];
        let v = if phase.recovered.load(Ordering::Relaxed) {
            rng.gen_range(half..videos.len())
        } else {
            rng.gen_range(0..half)
        };
        let pair = log.pairs.entry((u, v)).or_default();
        let like = match pair.unknown {
            Some(_) => rng.gen_bool(0.5),
            None => !pair.liked,
        };
        let timed = toggle(&ctx, &likers[u].token, &videos[v].api_id, like).await;
        match timed.outcome {
            Outcome::Ok => {
                *pair = Pair {
                    liked: like,
                    acked_at: Some(timed.answered),
                    unknown: None,
                }
            }
            // Refused before any work: the pair is unchanged; slow down a little.
            Outcome::RateLimited => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => pair.unknown = Some(like),
        }
        log.ops.push(timed);
    }
    log
}

/// Probes `/readyz`, `/healthz` and an anonymous read every 250 ms until `stop`, each probe
/// in its own task so a slow answer never delays the next probe.
pub async fn probe_loop(
    ctx: Arc<Ctx>,
    video: String,
    stop: Arc<AtomicBool>,
    out: mpsc::UnboundedSender<Probe>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        for kind in [ProbeKind::Readyz, ProbeKind::Healthz, ProbeKind::Read] {
            let (ctx, out, video) = (ctx.clone(), out.clone(), video.clone());
            tokio::spawn(async move {
                let (status, timed) = match kind {
                    ProbeKind::Readyz => ctx.get("/readyz").await,
                    ProbeKind::Healthz => ctx.get("/healthz").await,
                    ProbeKind::Read => (
                        None,
                        ctx.timed(None, LIKE_COUNT, json!({ "v": video }), |d| {
                            d["video"]["likeCount"].is_i64()
                        })
                        .await,
                    ),
                };
                out.send(Probe {
                    kind,
                    status,
                    timed,
                })
                .ok();
            });
        }
    }
}

/// Runs a shell command off the runtime; fails unless it exits 0.
pub async fn shell(cmd: &str) -> anyhow::Result<()> {
    let cmd = cmd.to_owned();
    let status = tokio::task::spawn_blocking(move || {
        Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("running `{cmd}`"))
    })
    .await??;
    if !status.success() {
        bail!("command failed ({status})");
    }
    Ok(())
}

/// Moments of the run, seconds since its start.
#[derive(Debug, Default)]
pub struct Timeline {
    pub storm_start: f64,
    pub stop_begin: f64,
    pub stop_done: f64,
    pub start_begin: f64,
    pub start_done: f64,
    /// When `/readyz` answered 200 again, if it did.
    pub ready: Option<f64>,
    pub storm_end: f64,
}
