//! Videos: creation, deletion, and every list of them a viewer may see (Rule V).
use entity::video;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend,
    FromQueryResult,
};
use uuid::Uuid;

use super::{
    counters::{self, CountedVideo},
    hold::{hold, Hold},
    page::{self, Page, PageRequest},
};
use crate::{
    db::{self, now_us, Sql},
    error::{AppError, AppResult},
    privacy::sql as policy,
};

/// What `createVideo` receives.
#[derive(Debug, Clone)]
pub struct NewVideo {
    pub caption: String,
    pub hashtags: Vec<String>,
    pub sound: Option<String>,
}

/// The hashtags of a stored video.
pub fn hashtags(v: &video::Model) -> Vec<String> {
    serde_json::from_str(&v.hashtags).unwrap_or_default()
}

fn validate(input: &NewVideo) -> AppResult<()> {
    use super::input::check_no_nul;
    check_no_nul("input.caption", &input.caption)?;
    for h in &input.hashtags {
        check_no_nul("input.hashtags", h)?;
    }
    if let Some(s) = &input.sound {
        check_no_nul("input.sound", s)?;
    }
    if input.caption.chars().count() > 2200 {
        return Err(AppError::bad_input(
            "input.caption",
            "caption must be at most 2,200 characters",
        ));
    }
    if input.hashtags.len() > 30 {
        return Err(AppError::bad_input("input.hashtags", "at most 30 hashtags"));
    }
    if input
        .hashtags
        .iter()
        .any(|h| h.trim().is_empty() || h.chars().count() > 100)
    {
        return Err(AppError::bad_input(
            "input.hashtags",
            "each hashtag must be 1–100 characters",
        ));
    }
    if input
        .sound
        .as_ref()
        .is_some_and(|s| s.chars().count() > 200)
    {
        return Err(AppError::bad_input(
            "input.sound",
            "sound must be at most 200 characters",
        ));
    }
    Ok(())
}

/// Posts a video by the viewer.
pub async fn create_video(
    db: &DatabaseConnection,
    viewer: Uuid,
    input: NewVideo,
) -> AppResult<video::Model> {
    validate(&input)?;
    let tags: Vec<String> = input.hashtags.iter().map(|h| h.trim().to_owned()).collect();
    let model = video::ActiveModel {
        id: Set(Uuid::now_v7()),
        author_id: Set(viewer),
        caption: Set(input.caption),
        hashtags: Set(serde_json::to_string(&tags).map_err(AppError::internal)?),
        sound: Set(input.sound),
        created_at: Set(now_us()),
        view_count: Set(0),
    };
    db::transaction(db, move |txn| {
        let model = model.clone();
        Box::pin(async move {
            // Held, the account cannot be deleted before the video is in.
            hold(txn, Hold::Shared, viewer, None).await?;
            Ok(model.insert(txn).await?)
        })
    })
    .await
}

/// Deletes one of the viewer's videos (its likes go with it). A video the viewer cannot
/// see is `NOT_FOUND`; someone else's visible video is `FORBIDDEN`.
pub async fn delete_video(db: &DatabaseConnection, viewer: Uuid, id: Uuid) -> AppResult<()> {
    db::transaction(db, move |txn| {
        Box::pin(async move {
            hold(txn, Hold::Shared, viewer, None).await?;
            let video = visible_videos(txn, Some(viewer), &[id])
                .await?
                .pop()
                .ok_or(AppError::NotFound)?;
            if video.video.author_id != viewer {
                return Err(AppError::Forbidden(
                    "only the author may delete a video".into(),
                ));
            }
            let mut q = Sql::default();
            let v = q.bind(id);
            q.push(&format!("DELETE FROM videos WHERE id = {v}"));
            q.execute(txn).await?;
            Ok(())
        })
    })
    .await
}

/// `SELECT` of videos joined to their author `a`, filtered by Rule V for `viewer`; returns
/// the viewer's placeholder.
fn visible_select(
    q: &mut Sql,
    viewer: Option<Uuid>,
    extra_from: &str,
    time_col: &str,
) -> Option<String> {
    let v = viewer.map(|id| q.bind(id));
    q.push(&format!(
        "SELECT v.*, {}, {time_col} AS k_time FROM videos v JOIN users a ON a.id = v.author_id {extra_from} WHERE {}",
        counters::select_list("v"),
        policy::video_visible(v.as_deref(), "v.author_id", "a.visibility")
    ));
    v
}

/// The videos among `ids` that `viewer` can see.
pub async fn visible_videos(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    ids: &[Uuid],
) -> AppResult<Vec<CountedVideo>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::default();
    visible_select(&mut q, viewer, "", "v.created_at");
    let binds = q.bind_list(ids);
    q.push(&format!(" AND v.id IN ({binds})"));
    let rows = q.all(db).await?;
    rows.iter()
        .map(|r| Ok(CountedVideo::from_query_result(r, "")?))
        .collect()
}

/// The video `id` with its counters, whoever the viewer: only for a caller that has just
/// established Rule V itself, in the same transaction (a like answering with its video).
pub async fn counted_video(db: &impl ConnectionTrait, id: Uuid) -> AppResult<Option<CountedVideo>> {
    let mut q = Sql::default();
    let v = q.bind(id);
    q.push(&format!(
        "SELECT v.*, {} FROM videos v WHERE v.id = {v}",
        counters::select_list("v")
    ));
    Ok(q.one(db)
        .await?
        .map(|r| CountedVideo::from_query_result(&r, ""))
        .transpose()?)
}

/// `author`'s videos as `viewer` may see them (all or none, by Rule V), newest first.
pub async fn videos_by(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    author: Uuid,
    req: PageRequest,
) -> AppResult<Page<CountedVideo>> {
    let q = videos_by_sql(viewer, author, req);
    page::fetch(db, &q, req, |v: &CountedVideo| v.video.id).await
}

/// The statement of [`videos_by`]. Rule V on the author ([`policy::videos_of_visible`]) is
/// its `LIMIT`'s guard, decided before any video is read: hidden videos cost nothing, however
/// many there are. Each row is still checked by Rule V as well.
pub fn videos_by_sql(viewer: Option<Uuid>, author: Uuid, req: PageRequest) -> Sql {
    let mut q = Sql::default();
    let v = visible_select(&mut q, viewer, "", "v.created_at");
    let a = q.bind(author);
    q.push(&format!(" AND v.author_id = {a}"));
    let guard = policy::videos_of_visible(v.as_deref(), &a);
    req.apply_if(&mut q, "v.created_at", "v.id", &guard);
    q
}

/// The feed: signed in, the viewer's own and followed accounts' videos; anonymous, every
/// public video. Newest first.
pub async fn feed(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    req: PageRequest,
) -> AppResult<Page<CountedVideo>> {
    let q = feed_sql(db.get_database_backend(), viewer, req);
    page::fetch(db, &q, req, |v: &CountedVideo| v.video.id).await
}

/// The statement of [`feed`]. Signed in, it is driven by the viewer and its approved
/// followees (whose videos Rule V shows it), one index range of `videos` per account, so it
/// never reads a video of an account it does not follow (a private one's included): at most
/// `first + 1` per account on PostgreSQL (`LATERAL`), every video of those accounts on SQLite
/// (no `LATERAL`; the `CROSS JOIN` fixes the join order). Anonymous, it walks the public
/// authors' videos newest first (`videos.author_private`, kept by triggers, leads an index),
/// so it reads no private account's video either.
pub fn feed_sql(backend: DbBackend, viewer: Option<Uuid>, req: PageRequest) -> Sql {
    let mut q = Sql::default();
    let Some(id) = viewer else {
        // `author_private` (kept by triggers) leads `idx_videos_public_created`, so the walk
        // reads public authors' videos only; Rule V still checks each row.
        visible_select(&mut q, None, "", "v.created_at");
        q.push(" AND v.author_private = 0");
        req.apply(&mut q, "v.created_at", "v.id");
        return q;
    };
    let me = q.bind(id);
    q.push(&format!(
        "WITH feed_authors AS MATERIALIZED (SELECT {me} AS id UNION SELECT f.followee_id FROM follows f \
         WHERE f.follower_id = {me} AND f.state = 'APPROVED') \
         SELECT v.*, {}, v.created_at AS k_time FROM feed_authors fa CROSS JOIN ",
        counters::select_list("v")
    ));
    if backend == DbBackend::Postgres {
        // The author's row is joined by key inside the `LATERAL` and Rule V tested outside
        // it, once per row: outside, the planner expects up to followees × (first + 1) rows
        // and hashes all of `users` for them; inside, its hashed block subplans would be
        // rebuilt for every account. Rule V is the same for all of an account's videos, so
        // filtering after the per-account limit loses none.
        q.push(
            "LATERAL (SELECT v.*, a.visibility AS author_visibility FROM videos v \
             JOIN users a ON a.id = v.author_id WHERE v.author_id = fa.id",
        );
        req.apply(&mut q, "v.created_at", "v.id");
        q.push(&format!(
            ") v WHERE {}",
            policy::video_visible(Some(&me), "v.author_id", "v.author_visibility")
        ));
    } else {
        q.push(&format!(
            "videos v ON v.author_id = fa.id JOIN users a ON a.id = v.author_id WHERE {}",
            policy::video_visible(Some(&me), "v.author_id", "a.visibility")
        ));
    }
    req.apply(&mut q, "v.created_at", "v.id");
    q
}

/// The videos `liker` liked, as `viewer` may see them (Rule V on the video and Rule L on
/// the like), newest like first.
pub async fn liked_videos(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    liker: Uuid,
    req: PageRequest,
) -> AppResult<Page<CountedVideo>> {
    let q = liked_videos_sql(viewer, liker, req);
    page::fetch(db, &q, req, |v: &CountedVideo| v.video.id).await
}

/// The statement of [`liked_videos`]. Rule L's account-level part on the liker
/// ([`policy::likes_of_visible`]: its audience, a block) is its `LIMIT`'s guard, decided
/// before any like is read. When it holds, the liker's likes are walked newest first
/// (`idx_likes_user_time`) and each video is checked by Rule V on its own author, which
/// cannot be decided up front (README, "Timing").
pub fn liked_videos_sql(viewer: Option<Uuid>, liker: Uuid, req: PageRequest) -> Sql {
    let mut q = Sql::default();
    let v = visible_select(
        &mut q,
        viewer,
        "JOIN likes l ON l.video_id = v.id",
        "l.created_at",
    );
    let u = q.bind(liker);
    q.push(&format!(
        " AND l.user_id = {u} AND {}",
        policy::like_visible(v.as_deref(), "l.user_id", "l.audience")
    ));
    let guard = policy::likes_of_visible(v.as_deref(), &u);
    req.apply_if(&mut q, "l.created_at", "l.video_id", &guard);
    q
}
