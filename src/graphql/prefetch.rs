//! Look-ahead batching for lists of videos. Before a page of videos resolves, the fields
//! its selection asks for under `edges.node` (`author`, `viewerHasLiked`, `visibleLikers`
//! and its counts) are fetched for every video of the page at once, one statement per
//! question. A page therefore costs the same number of statements whatever its size, and
//! deterministically so (DataLoader's time windows do not guarantee that).
use std::collections::{HashMap, HashSet};

use async_graphql::{Context, Result, Value};
use uuid::Uuid;

use super::context::{db, page_request, viewer};
use crate::{
    domain::{
        self,
        counters::CountedVideo,
        likes::VisibleLikers,
        page::PageRequest,
        visible::{UserId, VideoId, Visible},
        PublicUser,
    },
    ids::CursorKind,
};

/// Answers fetched for every video of one page.
#[derive(Debug, Default)]
pub struct VideoBatch {
    pub authors: HashMap<Uuid, PublicUser>,
    pub liked: Option<HashSet<Uuid>>,
    pub liker_pages: HashMap<(Visible<VideoId>, PageRequest), VisibleLikers>,
}

/// The `visibleLikers` page requests in the selection; arguments that fail validation are
/// left to the field's own resolver, which reports them.
fn liker_requests(ctx: &Context<'_>, likers: &async_graphql::Lookahead<'_>) -> Vec<PageRequest> {
    let mut out = Vec::new();
    for field in likers.selection_fields() {
        let Ok(args) = field.arguments() else {
            continue;
        };
        let mut first = 20i32;
        let mut after = None;
        for (name, value) in args {
            match (name.as_str(), value) {
                ("first", Value::Number(n)) => {
                    first = n.as_i64().and_then(|n| i32::try_from(n).ok()).unwrap_or(-1)
                }
                ("after", Value::String(s)) => after = Some(s),
                _ => {}
            }
        }
        if let Ok(req) = page_request(ctx, CursorKind::Likers, first, after) {
            if !out.contains(&req) {
                out.push(req);
            }
        }
    }
    out
}

/// Fetches what the selection under `edges.node` needs for `videos`.
pub async fn prefetch(ctx: &Context<'_>, videos: &[Visible<CountedVideo>]) -> Result<VideoBatch> {
    let node = ctx.look_ahead().field("edges").field("node");
    let (db, viewer) = (db(ctx)?, viewer(ctx).id());
    let ids: Vec<Visible<VideoId>> = videos.iter().map(Visible::id).collect();
    let likers = node.field("visibleLikers");
    let requests: Vec<(Visible<VideoId>, PageRequest)> = liker_requests(ctx, &likers)
        .into_iter()
        .flat_map(|req| ids.iter().map(move |id| (*id, req)))
        .collect();

    let authors = async {
        if !node.field("author").exists() {
            return Ok(HashMap::new());
        }
        let author_ids: Vec<Visible<UserId>> = videos.iter().map(Visible::author).collect();
        domain::users_by_ids(db, &author_ids).await
    };
    let liked = async {
        match viewer {
            Some(v) if node.field("viewerHasLiked").exists() => {
                let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
                domain::likes::viewer_likes(db, v, &ids).await.map(Some)
            }
            _ => Ok(None),
        }
    };
    let pages = domain::likes::visible_likers_batch(db, viewer, &requests);
    let (authors, liked, liker_pages) = futures_util::try_join!(authors, liked, pages)?;
    Ok(VideoBatch {
        authors,
        liked,
        liker_pages,
    })
}
