//! Videos: creation, deletion, and every list of them a viewer may see (Rule V).
use entity::video;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, FromQueryResult,
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
    use super::accounts::check_no_nul;
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

/// `SELECT` of videos joined to their author `a`, filtered by Rule V for `viewer`.
fn visible_select(q: &mut Sql, viewer: Option<Uuid>, extra_from: &str, time_col: &str) {
    let v = viewer.map(|id| q.bind(id));
    q.push(&format!(
        "SELECT v.*, {}, {time_col} AS k_time FROM videos v JOIN users a ON a.id = v.author_id {extra_from} WHERE {}",
        counters::select_list("v"),
        policy::video_visible(v.as_deref(), "v.author_id", "a.visibility")
    ));
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
    let mut q = Sql::default();
    visible_select(&mut q, viewer, "", "v.created_at");
    let a = q.bind(author);
    q.push(&format!(" AND v.author_id = {a}"));
    req.apply(&mut q, "v.created_at", "v.id");
    page::fetch(db, &q, req, |v: &CountedVideo| v.video.id).await
}

/// The feed: signed in, the viewer's own and followed accounts' videos; anonymous, every
/// public video. Newest first.
pub async fn feed(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    req: PageRequest,
) -> AppResult<Page<CountedVideo>> {
    let mut q = Sql::default();
    visible_select(&mut q, viewer, "", "v.created_at");
    if let Some(id) = viewer {
        let me = q.bind(id);
        q.push(&format!(
            " AND (v.author_id = {me} OR {})",
            policy::follows(&me, "v.author_id")
        ));
    }
    req.apply(&mut q, "v.created_at", "v.id");
    page::fetch(db, &q, req, |v: &CountedVideo| v.video.id).await
}

/// The videos `liker` liked, as `viewer` may see them (Rule V on the video and Rule L on
/// the like), newest like first.
pub async fn liked_videos(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    liker: Uuid,
    req: PageRequest,
) -> AppResult<Page<CountedVideo>> {
    let mut q = Sql::default();
    visible_select(
        &mut q,
        viewer,
        "JOIN likes l ON l.video_id = v.id",
        "l.created_at",
    );
    let v = viewer.map(|id| q.bind(id));
    let u = q.bind(liker);
    q.push(&format!(
        " AND l.user_id = {u} AND {}",
        policy::like_visible(v.as_deref(), "l.user_id", "l.audience")
    ));
    req.apply(&mut q, "l.created_at", "v.id");
    page::fetch(db, &q, req, |v: &CountedVideo| v.video.id).await
}
