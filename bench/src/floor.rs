//! The raw floor: the service's own statements called in-process, without HTTP or GraphQL;
//! and the in-process walk to a deep page of likers.
use std::time::Instant;

use anyhow::{bail, Context};
use sea_orm::DatabaseConnection;
use tally::{
    domain::{likes, page::PageRequest, videos, visible::Visible},
    ids::Keyset,
};
use uuid::Uuid;

use crate::{stats, OrMessage};

/// The raw floor of a `video { visibleLikers { … totalCount hiddenCount } }` request: the same
/// three statements the service runs (Rule V look-up, the page, the counts), in-process.
/// Returns p50 and p99 in ms of `n` calls after `n / 10` of warm-up.
pub async fn floor(
    db: &DatabaseConnection,
    viewer: Uuid,
    video: Uuid,
    req: PageRequest,
    n: usize,
) -> anyhow::Result<(f64, f64)> {
    let mut times = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let t = Instant::now();
        let found = videos::visible_videos(db, Some(viewer), &[video])
            .await
            .or_message()?;
        let Some(visible) = found.first() else {
            bail!("floor: video not visible");
        };
        likes::visible_likers_batch(db, Some(viewer), &[(visible.id(), req)])
            .await
            .or_message()?;
        if i >= n / 10 {
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    stats::sort(&mut times);
    let at = |p| stats::percentile(&times, p).unwrap_or(f64::NAN);
    Ok((at(0.5), at(0.99)))
}

/// The keyset after the first `skip` visible likers (to start a deep page), and how many
/// likers it skips (fewer when fewer are visible).
pub async fn deep_cursor(
    db: &DatabaseConnection,
    viewer: Uuid,
    video: Uuid,
    skip: usize,
) -> anyhow::Result<Option<(usize, Keyset)>> {
    let found = videos::visible_videos(db, Some(viewer), &[video])
        .await
        .or_message()?;
    let Some(video) = found.first().map(Visible::id) else {
        bail!("deep cursor: video not visible");
    };
    let mut after = None;
    let mut seen = 0usize;
    let mut last = None;
    while seen < skip {
        let req = PageRequest::new(100, after).or_message()?;
        let mut pages = likes::visible_likers_batch(db, Some(viewer), &[(video, req)])
            .await
            .or_message()?;
        let page = pages.remove(&(video, req)).context("page")?.page;
        let take = (skip - seen).min(page.items.len());
        if take == 0 {
            break;
        }
        last = Some(page.items[take - 1].0);
        seen += take;
        after = last;
        if !page.has_next {
            break;
        }
    }
    Ok(last.map(|k| (seen, k)))
}
