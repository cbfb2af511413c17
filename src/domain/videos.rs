//! Videos: creation, deletion, and every list of them a viewer may see (Rule V).
use entity::{like, user, video};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, FromQueryResult,
};
use uuid::Uuid;

use super::{
    counters::{self, CountedVideo},
    hold::{hold, Hold},
    input::normalize_media_url,
    liker_rollup,
    page::{self, Page, PageRequest},
    rollups::{self, At},
    visible::Visible,
};
use crate::{
    db::{self, Ident, Param, Sql},
    error::{AppError, AppResult},
    frag,
    privacy::sql as policy,
};

/// `v.id`, `v.author_id`, `v.created_at`: columns of the video aliased `v`.
fn v_col(column: video::Column) -> Ident {
    Ident::at("v", column)
}

/// What `createVideo` receives.
#[derive(Debug, Clone)]
pub struct NewVideo {
    pub caption: String,
    pub hashtags: Vec<String>,
    pub sound: Option<String>,
    /// Length in milliseconds: 1..=[`MAX_DURATION_MS`].
    pub duration_ms: Option<i32>,
    /// Where it plays from ([`normalize_media_url`]).
    pub media_url: String,
    /// Its still image, if any ([`normalize_media_url`]).
    pub thumbnail_url: Option<String>,
}

/// The longest video: one hour.
pub const MAX_DURATION_MS: i32 = 3_600_000;

/// The hashtags of a stored video.
pub fn hashtags(v: &video::Model) -> Vec<String> {
    hashtags_of(&v.hashtags)
}

/// The hashtags of a video from its stored `hashtags` column.
pub fn hashtags_of(stored: &str) -> Vec<String> {
    serde_json::from_str(stored).unwrap_or_default()
}

/// Checks `input` and normalizes its URLs.
fn validate(mut input: NewVideo) -> AppResult<NewVideo> {
    use super::input::check_no_nul;
    input.media_url = normalize_media_url("input.mediaUrl", &input.media_url)?;
    input.thumbnail_url = input
        .thumbnail_url
        .map(|t| normalize_media_url("input.thumbnailUrl", &t))
        .transpose()?;
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
    if input
        .duration_ms
        .is_some_and(|d| !(1..=MAX_DURATION_MS).contains(&d))
    {
        return Err(AppError::bad_input(
            "input.durationMs",
            "durationMs must be 1–3,600,000 (milliseconds, at most an hour)",
        ));
    }
    Ok(input)
}

/// Posts a video by the viewer at `now` (microseconds, from the request's clock).
pub async fn create_video(
    db: &DatabaseConnection,
    viewer: Uuid,
    input: NewVideo,
    now: i64,
) -> AppResult<Visible<CountedVideo>> {
    let input = validate(input)?;
    let tags: Vec<String> = input.hashtags.iter().map(|h| h.trim().to_owned()).collect();
    let model = video::ActiveModel {
        id: Set(Uuid::now_v7()),
        author_id: Set(viewer),
        caption: Set(input.caption),
        hashtags: Set(serde_json::to_string(&tags).map_err(AppError::internal)?),
        sound: Set(input.sound),
        created_at: Set(now),
        duration_ms: Set(input.duration_ms),
        media_url: Set(input.media_url),
        thumbnail_url: Set(input.thumbnail_url),
    };
    db::transaction(db, move |txn| {
        let model = model.clone();
        Box::pin(async move {
            // Held, the account cannot be deleted before the video is in.
            hold(txn, Hold::Shared, viewer, None).await?;
            let video = model.insert(txn).await?;
            // The viewer's own video, which it sees.
            Ok(Visible::checked(CountedVideo {
                video,
                like_count: 0,
            }))
        })
    })
    .await
}

/// Deletes one of the viewer's videos at `now` (its likes go with it, as unlikes in the
/// author's rollups). A video the viewer cannot see is `NOT_FOUND`; someone else's visible
/// video is `FORBIDDEN`.
pub async fn delete_video(
    db: &DatabaseConnection,
    viewer: Uuid,
    id: Uuid,
    now: i64,
) -> AppResult<()> {
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
            // Locked, the video gains no like before it goes (a like waits on the row and
            // then finds it gone): the count read now is what the deletion takes away.
            lock_video(txn, id).await?;
            let likes = counted_video(txn, id).await?.map_or(0, |v| v.like_count);
            rollups::video_deleted(txn, id, viewer, likes, At::of(now)).await?;
            // Its views leave the creator's hours they happened in (its days go with it).
            rollups::video_views_removed(txn, id, viewer).await?;
            let likers = liker_rollup::likers_at_last_day(txn, viewer, id).await?;
            video::Entity::delete_by_id(id).exec(txn).await?;
            liker_rollup::refresh(txn, viewer, &likers).await?;
            Ok(())
        })
    })
    .await
}

/// Locks the row of video `id` until commit (PostgreSQL; SQLite's transactions hold the
/// whole database).
pub async fn lock_video(txn: &impl ConnectionTrait, id: Uuid) -> AppResult<()> {
    if txn.get_database_backend() == DbBackend::Postgres {
        let mut q = Sql::default();
        let v = q.bind(id);
        q.append(frag!["SELECT id FROM videos WHERE id = ", v, " FOR UPDATE"]);
        q.one(txn).await?;
    }
    Ok(())
}

/// `SELECT` of videos joined to their author `a`, filtered by Rule V for `viewer`; returns
/// the viewer's placeholder.
fn visible_select(
    q: &mut Sql,
    viewer: Option<Uuid>,
    extra_from: &'static str,
    time_col: &Ident,
) -> Option<Param> {
    let v = viewer.map(|id| q.bind(id));
    q.append(frag![
        "SELECT v.*, ",
        counters::select_list("v"),
        ", ",
        time_col,
        " AS k_time FROM videos v JOIN users a ON a.id = v.author_id ",
        extra_from,
        " WHERE ",
        policy::video_visible(
            v,
            &v_col(video::Column::AuthorId),
            &Ident::at("a", user::Column::Visibility)
        )
    ]);
    v
}

/// The videos among `ids` that `viewer` can see.
pub async fn visible_videos(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    ids: &[Uuid],
) -> AppResult<Vec<Visible<CountedVideo>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::default();
    visible_select(&mut q, viewer, "", &v_col(video::Column::CreatedAt));
    let binds = q.bind_list(ids);
    q.append(frag![" AND v.id IN (", binds, ")"]);
    let rows = q.all(db).await?;
    rows.iter()
        .map(|r| Ok(Visible::checked(CountedVideo::from_query_result(r, "")?)))
        .collect()
}

/// What recording a view of a video needs, read by [`view_target`].
#[derive(Debug, Clone)]
pub struct ViewTarget {
    pub author_id: Uuid,
    pub duration_ms: Option<i32>,
    /// What a view stores about the signed-in viewer's account.
    pub viewer: Option<ViewerFacts>,
}

/// The attributes of a signed-in viewer's account that its views store (as aggregates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewerFacts {
    pub birth_year: Option<i32>,
    pub region: Option<String>,
    pub language: Option<String>,
    /// Whether the viewer follows the video's author (an approved follow).
    pub follows_author: bool,
}

/// The video `id` if `viewer` can see it (Rule V), with what a view of it stores: the
/// author, the duration and, for a signed-in viewer, its account and whether it follows
/// the author — one statement. `None` when the video is not visible or does not exist;
/// an account that no longer exists is [`hold::gone`](super::hold::gone).
pub async fn view_target(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    id: Uuid,
) -> AppResult<Option<ViewTarget>> {
    let mut q = Sql::default();
    let v = viewer.map(|me| q.bind(me));
    let visible = policy::video_visible(
        v,
        &v_col(video::Column::AuthorId),
        &Ident::at("a", user::Column::Visibility),
    );
    match v {
        None => q.append(frag![
            "SELECT v.author_id, v.duration_ms FROM videos v JOIN users a ON a.id = v.author_id WHERE ",
            visible
        ]),
        Some(me) => q.append(frag![
            "SELECT v.author_id, v.duration_ms, me.id AS me_id, me.birth_year, me.region, me.language, ",
            "CASE WHEN EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ",
            me,
            " AND f.followee_id = v.author_id AND f.state = ",
            db::lit(entity::FollowState::Approved),
            ") THEN 1 ELSE 0 END AS follows_author",
            " FROM videos v JOIN users a ON a.id = v.author_id LEFT JOIN users me ON me.id = ",
            me,
            " WHERE ",
            visible
        ]),
    };
    let id = q.bind(id);
    q.append(frag![" AND v.id = ", id]);
    let Some(row) = q.one(db).await? else {
        return Ok(None);
    };
    let author_id: Uuid = row.try_get("", "author_id")?;
    let duration_ms: Option<i32> = row.try_get("", "duration_ms")?;
    let viewer = match viewer {
        None => None,
        Some(_) => {
            if row.try_get::<Option<Uuid>>("", "me_id")?.is_none() {
                return Err(super::hold::gone());
            }
            let follows: i32 = row.try_get("", "follows_author")?;
            Some(ViewerFacts {
                birth_year: row.try_get("", "birth_year")?,
                region: row.try_get("", "region")?,
                language: row.try_get("", "language")?,
                follows_author: follows != 0,
            })
        }
    };
    Ok(Some(ViewTarget {
        author_id,
        duration_ms,
        viewer,
    }))
}

/// The video `id` with its counters, whoever the viewer: only for a caller that has just
/// established Rule V itself, in the same transaction (a like answering with its video).
pub async fn counted_video(db: &impl ConnectionTrait, id: Uuid) -> AppResult<Option<CountedVideo>> {
    let mut q = Sql::default();
    let v = q.bind(id);
    q.append(frag![
        "SELECT v.*, ",
        counters::select_list("v"),
        " FROM videos v WHERE v.id = ",
        v
    ]);
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
) -> AppResult<Page<Visible<CountedVideo>>> {
    let q = videos_by_sql(viewer, author, req);
    let page = page::fetch(db, &q, req, |v: &CountedVideo| v.video.id).await?;
    Ok(page.checked())
}

/// The statement of [`videos_by`]. Rule V on the author ([`policy::videos_of_visible`]) is
/// its `LIMIT`'s guard, decided before any video is read: hidden videos cost nothing, however
/// many there are. Each row is still checked by Rule V as well.
pub fn videos_by_sql(viewer: Option<Uuid>, author: Uuid, req: PageRequest) -> Sql {
    let mut q = Sql::default();
    let time = v_col(video::Column::CreatedAt);
    let v = visible_select(&mut q, viewer, "", &time);
    let a = q.bind(author);
    q.append(frag![" AND v.author_id = ", a]);
    let guard = policy::videos_of_visible(v, a);
    req.apply_if(&mut q, &time, &v_col(video::Column::Id), &guard);
    q
}

/// The feed: signed in, the viewer's own and followed accounts' videos; anonymous, every
/// public video. Newest first.
pub async fn feed(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    req: PageRequest,
) -> AppResult<Page<Visible<CountedVideo>>> {
    let q = feed_sql(db.get_database_backend(), viewer, req);
    let page = page::fetch(db, &q, req, |v: &CountedVideo| v.video.id).await?;
    Ok(page.checked())
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
    let (time, id_col) = (v_col(video::Column::CreatedAt), v_col(video::Column::Id));
    let Some(id) = viewer else {
        // `author_private` (kept by triggers) leads `idx_videos_public_created`, so the walk
        // reads public authors' videos only; Rule V still checks each row.
        visible_select(&mut q, None, "", &time);
        q.append(" AND v.author_private = 0");
        req.apply(&mut q, &time, &id_col);
        return q;
    };
    let me = q.bind(id);
    q.append(frag![
        "WITH feed_authors AS MATERIALIZED (SELECT ",
        me,
        " AS id UNION SELECT f.followee_id FROM follows f \
         WHERE f.follower_id = ",
        me,
        " AND f.state = ",
        db::lit(entity::FollowState::Approved),
        ") \
         SELECT v.*, ",
        counters::select_list("v"),
        ", v.created_at AS k_time FROM feed_authors fa CROSS JOIN "
    ]);
    if backend == DbBackend::Postgres {
        // The author's row is joined by key inside the `LATERAL` and Rule V tested outside
        // it, once per row: outside, the planner expects up to followees × (first + 1) rows
        // and hashes all of `users` for them; inside, its hashed block subplans would be
        // rebuilt for every account. Rule V is the same for all of an account's videos, so
        // filtering after the per-account limit loses none.
        q.append(
            "LATERAL (SELECT v.*, a.visibility AS author_visibility FROM videos v \
             JOIN users a ON a.id = v.author_id WHERE v.author_id = fa.id",
        );
        req.apply(&mut q, &time, &id_col);
        q.append(frag![
            ") v WHERE ",
            policy::video_visible(
                Some(me),
                &v_col(video::Column::AuthorId),
                &Ident::new("v.author_visibility")
            )
        ]);
    } else {
        q.append(frag![
            "videos v ON v.author_id = fa.id JOIN users a ON a.id = v.author_id WHERE ",
            policy::video_visible(
                Some(me),
                &v_col(video::Column::AuthorId),
                &Ident::at("a", user::Column::Visibility)
            )
        ]);
    }
    req.apply(&mut q, &time, &id_col);
    q
}

/// The videos `liker` liked, as `viewer` may see them (Rule V on the video and Rule L on
/// the like), newest like first.
pub async fn liked_videos(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    liker: Uuid,
    req: PageRequest,
) -> AppResult<Page<Visible<CountedVideo>>> {
    let q = liked_videos_sql(viewer, liker, req);
    let page = page::fetch(db, &q, req, |v: &CountedVideo| v.video.id).await?;
    Ok(page.checked())
}

/// The statement of [`liked_videos`]. Rule L's account-level part on the liker
/// ([`policy::likes_of_visible`]: its audience, a block) is its `LIMIT`'s guard, decided
/// before any like is read. When it holds, the liker's likes are walked newest first
/// (`idx_likes_user_time`) and each video is checked by Rule V on its own author, which
/// cannot be decided up front (README, "Timing").
pub fn liked_videos_sql(viewer: Option<Uuid>, liker: Uuid, req: PageRequest) -> Sql {
    let mut q = Sql::default();
    let time = Ident::at("l", like::Column::CreatedAt);
    let v = visible_select(&mut q, viewer, "JOIN likes l ON l.video_id = v.id", &time);
    let u = q.bind(liker);
    q.append(frag![
        " AND l.user_id = ",
        u,
        " AND ",
        policy::like_visible(
            v,
            &Ident::at("l", like::Column::UserId),
            &Ident::at("l", like::Column::Audience)
        )
    ]);
    let guard = policy::likes_of_visible(v, u);
    req.apply_if(
        &mut q,
        &time,
        &Ident::at("l", like::Column::VideoId),
        &guard,
    );
    q
}
