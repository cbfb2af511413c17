//! Likes: the idempotent like/unlike with its counters, and who may see them.
use std::collections::{HashMap, HashSet};

use entity::{like, user, video, Audience};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::{
    counters::{self, Change, CountedVideo},
    hold::{hold, Hold, Other},
    liker_rollup,
    page::{Page, PageRequest},
    public_user_columns,
    rollups::{self, At},
    videos::counted_video,
    visible::{VideoId, Visible},
    PublicUser,
};
use crate::{
    db::{self, col, Frag, Ident, Param, Sql},
    error::{AppError, AppResult},
    frag,
    ids::Keyset,
    privacy::{sql as policy, LikeGrant},
};

/// The viewer likes a video it can see (`NOT_FOUND` otherwise), at `now` (microseconds,
/// from the request's clock). Liking twice keeps one like (and its first time).
pub async fn like_video(
    db: &DatabaseConnection,
    viewer: Uuid,
    video_id: Uuid,
    now: i64,
) -> AppResult<Visible<CountedVideo>> {
    Ok(like_video_reporting(db, viewer, video_id, now).await?.0)
}

/// [`like_video`], and whether it made a new like: its author and time (what the live
/// slice publishes once it has committed); `None` for a repeated like.
pub async fn like_video_reporting(
    db: &DatabaseConnection,
    viewer: Uuid,
    video_id: Uuid,
    now: i64,
) -> AppResult<(Visible<CountedVideo>, Option<(Uuid, i64)>)> {
    change_like(db, viewer, video_id, Toggle::Like { at: now }).await
}

/// The viewer takes back its like of a video it can see, at `now`. Unliking twice is a
/// no-op.
pub async fn unlike_video(
    db: &DatabaseConnection,
    viewer: Uuid,
    video_id: Uuid,
    now: i64,
) -> AppResult<Visible<CountedVideo>> {
    Ok(unlike_video_reporting(db, viewer, video_id, now).await?.0)
}

/// [`unlike_video`], and whether it removed a like: the video's author and the like's time.
pub async fn unlike_video_reporting(
    db: &DatabaseConnection,
    viewer: Uuid,
    video_id: Uuid,
    now: i64,
) -> AppResult<(Visible<CountedVideo>, Option<(Uuid, i64)>)> {
    change_like(db, viewer, video_id, Toggle::Unlike { at: now }).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Toggle {
    /// Like, at this time.
    Like { at: i64 },
    /// Unlike, at this time.
    Unlike { at: i64 },
}

impl Toggle {
    /// When it happens, and its sign in the counters.
    fn at_and_sign(self) -> (At, i64) {
        match self {
            Toggle::Like { at } => (At::of(at), 1),
            Toggle::Unlike { at } => (At::of(at), -1),
        }
    }
}

/// Likes or unlikes, and answers with the video as it is then, in one transaction that holds
/// the liker and the author ([`Hold::Shared`]) so that no block, deletion or settings change of
/// either commits in between. Then three steps: Rule V and the liker's audience
/// ([`checked_liker`]), the like row inserted or deleted, and the counters changed by what that
/// did. On PostgreSQL the three are one statement (data-modifying `WITH`); SQLite runs them one
/// by one. The analytics rollups change with the counters ([`rollups::like_changed`]).
/// `NOT_FOUND` when the viewer cannot see the video (or it does not exist), and then
/// nothing was written. Also answers the author and time of the like written or removed, if
/// one was.
async fn change_like(
    db: &DatabaseConnection,
    viewer: Uuid,
    video_id: Uuid,
    toggle: Toggle,
) -> AppResult<(Visible<CountedVideo>, Option<(Uuid, i64)>)> {
    db::transaction(db, move |txn| {
        Box::pin(async move {
            hold(txn, Hold::Shared, viewer, Some(Other::AuthorOf(video_id))).await?;
            let found = if txn.get_database_backend() == DbBackend::Postgres {
                change_like_in_one_statement(txn, viewer, video_id, toggle).await
            } else {
                change_like_step_by_step(txn, viewer, video_id, toggle).await
            };
            let changed = match found {
                Ok(Some(outcome)) => {
                    // A like made or removed on a day the likers rollup has closed (a clock
                    // set back): the liker's last day is recomputed at once. Likes of open
                    // days wait for their day to close.
                    if let (Some((creator, at)), Some(closed)) = (outcome.changed, outcome.closed) {
                        if liker_rollup::day_of(at) <= closed {
                            liker_rollup::refresh(txn, creator, &[viewer]).await?;
                        }
                    }
                    outcome.changed
                }
                Ok(None) => return Err(AppError::NotFound),
                // The author deleted the video after the check saw it: the insert's foreign
                // key failed, and the transaction rolls back.
                Err(e) if db::is_foreign_key_violation(&e) => return Err(AppError::NotFound),
                Err(e) => return Err(e),
            };
            // Rule V held when the like was written, in this transaction: the answer reads the
            // video without checking again (the author's `removeFollower` committed since then,
            // which does not wait for this like, is later in the serial order and must not
            // turn a like that happened into a `NOT_FOUND`).
            let video = counted_video(txn, video_id).await?;
            let video = video.map(Visible::checked).ok_or(AppError::NotFound)?;
            Ok((video, changed))
        })
    })
    .await
}

/// What a like or unlike did, when the viewer could see the video.
struct Outcome {
    /// The video's author and the time of the like written or removed, if one was.
    changed: Option<(Uuid, i64)>,
    /// The author's last closed day in the likers rollup, if any.
    closed: Option<i32>,
}

/// PostgreSQL: [`change_like`] as one statement, in the caller's transaction; what it did,
/// if the viewer could see the video.
async fn change_like_in_one_statement(
    db: &impl ConnectionTrait,
    viewer: Uuid,
    video_id: Uuid,
    toggle: Toggle,
) -> AppResult<Option<Outcome>> {
    let mut q = Sql::default();
    let (u, v) = (q.bind(viewer), q.bind(video_id));
    let checked = checked_liker(u, v);
    let (change, sign) = match toggle {
        Toggle::Like { at } => {
            let t = q.bind(at);
            let insert = frag![
                "INSERT INTO likes (video_id, user_id, audience, created_at) \
                 SELECT ",
                v,
                ", ",
                u,
                ", audience, ",
                t,
                " FROM checked ON CONFLICT DO NOTHING RETURNING audience, created_at"
            ];
            (insert, 1)
        }
        Toggle::Unlike { .. } => {
            let delete = frag![
                "DELETE FROM likes WHERE video_id = ",
                v,
                " AND user_id = ",
                u,
                " \
                 AND EXISTS (SELECT 1 FROM checked) RETURNING audience, created_at"
            ];
            (delete, -1)
        }
    };
    let counted = counters::add_each_row(&mut q, v, viewer, &Ident::new("changed"), sign);
    let (at, _) = toggle.at_and_sign();
    let [r1, r2, r3] = rollups::like_changed(
        &mut q,
        &frag!["changed, checked"],
        v,
        &Ident::new("checked.creator_id"),
        viewer,
        at,
        sign,
    );
    q.append(frag![
        "WITH checked AS (",
        checked,
        "), changed AS (",
        change,
        "), counted AS (",
        counted,
        "), r1 AS (",
        r1,
        "), r2 AS (",
        r2,
        "), r3 AS (",
        r3,
        ") SELECT c.creator_id, (SELECT created_at FROM changed) AS changed_at, ",
        liker_rollup::closed_through_sql(&Ident::new("c.creator_id")),
        " AS closed FROM checked c"
    ]);
    let Some(row) = q.one(db).await? else {
        return Ok(None);
    };
    let creator: Uuid = col(&row, "creator_id")?;
    Ok(Some(Outcome {
        changed: col::<Option<i64>>(&row, "changed_at")?.map(|t| (creator, t)),
        closed: col(&row, "closed")?,
    }))
}

/// SQLite (no data-modifying `WITH`): [`change_like`]'s three steps one by one, in the
/// caller's transaction; what it did, if the viewer could see the video.
async fn change_like_step_by_step(
    txn: &impl ConnectionTrait,
    viewer: Uuid,
    video_id: Uuid,
    toggle: Toggle,
) -> AppResult<Option<Outcome>> {
    let mut q = Sql::default();
    let (u, v) = (q.bind(viewer), q.bind(video_id));
    q.append(checked_liker(u, v));
    let Some(row) = q.one(txn).await? else {
        return Ok(None);
    };
    let creator: Uuid = col(&row, "creator_id")?;
    let (at, sign) = toggle.at_and_sign();
    let changed = match toggle {
        Toggle::Like { at } => {
            let aud: Audience = col(&row, "audience")?;
            let new = like::ActiveModel {
                video_id: Set(video_id),
                user_id: Set(viewer),
                audience: Set(aud),
                created_at: Set(at),
            };
            let inserted = like::Entity::insert(new)
                .on_conflict(OnConflict::new().do_nothing().to_owned())
                .exec_without_returning(txn)
                .await?;
            if inserted == 1 {
                counters::add(txn, video_id, viewer, aud, 1).await?;
            }
            (inserted == 1).then_some(at)
        }
        Toggle::Unlike { .. } => {
            // The count goes down under the label the like carries.
            let deleted = like::Entity::delete_by_id((video_id, viewer))
                .exec_with_returning(txn)
                .await?;
            if let Some(like) = &deleted {
                counters::add(txn, video_id, viewer, like.audience, -1).await?;
            }
            deleted.map(|like| like.created_at)
        }
    };
    if changed.is_some() {
        rollups::add_like_change(txn, video_id, creator, viewer, at, sign).await?;
    }
    Ok(Some(Outcome {
        changed: changed.map(|t| (creator, t)),
        closed: liker_rollup::closed_through(txn, creator).await?,
    }))
}

/// The liker's audience (column `audience`), provided the liker (`u`) can see the video (`v`)
/// under Rule V: no row otherwise. The caller holds both accounts ([`hold`]), so neither's
/// settings nor a block between them can change before the like commits.
fn checked_liker(u: Param, v: Param) -> Frag {
    frag![
        "SELECT ",
        policy::audience(
            &Ident::at("lk", user::Column::Visibility),
            &Ident::at("lk", user::Column::LikesVisibility)
        ),
        " AS audience, v.author_id AS creator_id FROM users lk, videos v JOIN users a ON a.id = v.author_id \
         WHERE lk.id = ",
        u,
        " AND v.id = ",
        v,
        " AND ",
        policy::video_visible(
            Some(u),
            &Ident::at("v", video::Column::AuthorId),
            &Ident::at("a", user::Column::Visibility)
        )
    ]
}

/// Removes every like of `liker` (only those on `author`'s videos, when given) at `at`,
/// lowers the counters of the videos concerned and counts the likes as removed in the
/// rollups (with no author given, the account is being deleted: it leaves every likers
/// rollup, see [`liker_rollup::liker_gone`]). Used by blocks and account deletion.
pub async fn remove_likes_by(
    txn: &impl ConnectionTrait,
    liker: Uuid,
    author: Option<Uuid>,
    at: At,
) -> AppResult<()> {
    counters::add_each_like(txn, liker, author, Change::Remove).await?;
    rollups::likes_removed(txn, liker, author, at).await?;
    let mut delete = like::Entity::delete_many().filter(like::Column::UserId.eq(liker));
    if let Some(author) = author {
        delete = delete.filter(counters::on_videos_of(author));
    }
    delete.exec(txn).await?;
    match author {
        Some(author) => liker_rollup::refresh(txn, author, &[liker]).await?,
        None => {
            let account = super::viewer_account(txn, liker).await?;
            liker_rollup::liker_gone(txn, &account).await?;
        }
    }
    Ok(())
}

/// Re-labels every like of `liker` with the audience `new` and moves the per-audience
/// counters of the liked videos from the labels the likes had to the new one. Runs in the
/// transaction of the settings change that caused it.
pub async fn set_like_audience(
    txn: &impl ConnectionTrait,
    liker: Uuid,
    new: Audience,
) -> AppResult<()> {
    counters::add_each_like(txn, liker, None, Change::Relabel(new)).await?;
    like::Entity::update_many()
        .col_expr(like::Column::Audience, Expr::value(new))
        .filter(like::Column::UserId.eq(liker))
        .exec(txn)
        .await?;
    Ok(())
}

/// A liker as shown in `visibleLikers`.
#[derive(Debug, Clone)]
pub struct Liker {
    pub user: PublicUser,
    pub liked_at: i64,
}

impl FromQueryResult for Liker {
    fn from_query_result(row: &sea_orm::QueryResult, pre: &str) -> Result<Self, sea_orm::DbErr> {
        Ok(Liker {
            user: PublicUser::from_query_result(row, pre)?,
            liked_at: row.try_get(pre, "k_time")?,
        })
    }
}

/// A page of a video's visible likers, and how many there are in all (`totalCount`).
#[derive(Debug, Clone)]
pub struct VisibleLikers {
    pub page: Page<Liker>,
    pub total: i64,
}

/// One page of visible likers (Rule L) per `(video, page)` request, newest like first, with
/// each video's visible total, all in one statement, for videos the viewer can see (Rule V).
///
/// Each page is the merge of one bounded stream per [`LikeGrant`] (see
/// [`LikeGrant::stream`]), so its cost does not depend on how many likes the viewer cannot
/// see; the `Follower` grant's likes are computed once per video and shared by its pages and
/// its total. The pages of all requests are `UNION ALL`ed and told apart by a request number.
pub async fn visible_likers_batch(
    db: &(impl ConnectionTrait + TransactionTrait),
    viewer: Option<Uuid>,
    requests: &[(Visible<VideoId>, PageRequest)],
) -> AppResult<HashMap<(Visible<VideoId>, PageRequest), VisibleLikers>> {
    if requests.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<(Uuid, PageRequest)> = requests.iter().map(|(v, r)| (v.0, *r)).collect();
    let q = visible_likers_sql(viewer, &ids);
    let mut rows: Vec<Vec<(Keyset, Liker)>> = vec![Vec::new(); requests.len()];
    let mut totals = vec![0i64; requests.len()];
    for row in q.all_planned_for_values(db).await? {
        let k: i32 = col(&row, "k")?;
        let Some(slot) = usize::try_from(k).ok().filter(|k| *k < requests.len()) else {
            continue;
        };
        totals[slot] = col(&row, "total")?;
        // A request without visible likers yields one row with only its total.
        if col::<Option<i64>>(&row, "k_time")?.is_none() {
            continue;
        }
        let liker = Liker::from_query_result(&row, "")?;
        let keyset = Keyset {
            time: liker.liked_at,
            id: liker.user.id,
        };
        rows[slot].push((keyset, liker));
    }
    Ok(requests
        .iter()
        .zip(rows.into_iter().zip(totals))
        .map(|(key, (items, total))| {
            let page = Page::from_rows(items, key.1);
            (*key, VisibleLikers { page, total })
        })
        .collect())
}

/// The statement behind [`visible_likers_batch`] (also run by the benchmark's raw floor
/// and shown with `EXPLAIN`). It pages the likes of any video it is given: Rule V is
/// [`visible_likers_batch`]'s to have applied.
pub fn visible_likers_sql(viewer: Option<Uuid>, requests: &[(Uuid, PageRequest)]) -> Sql {
    let mut q = Sql::default();
    let v = viewer.map(|id| q.bind(id));
    let mut distinct: Vec<Uuid> = Vec::new();
    for (video, _) in requests {
        if !distinct.contains(video) {
            distinct.push(*video);
        }
    }
    let videos: Vec<Param> = distinct.iter().map(|id| q.bind(*id)).collect();
    let of = |video: &Uuid| distinct.iter().position(|d| d == video).unwrap_or(0);
    q.append(policy::like_sets(v, &videos));
    q.append("SELECT c.k, c.total, pu.* FROM (");
    for (k, (video, _)) in requests.iter().enumerate() {
        if k > 0 {
            q.append(" UNION ALL ");
        }
        let j = of(video);
        q.append(frag![
            "SELECT ",
            k,
            " AS k, ",
            policy::visible_like_count(v, videos[j], j),
            " AS total"
        ]);
    }
    q.append(frag![
        ") c LEFT JOIN (SELECT p.k AS pk, p.created_at AS k_time, ",
        public_user_columns("u"),
        " FROM ("
    ]);
    let (l_time, l_user) = (
        Ident::at("l", like::Column::CreatedAt),
        Ident::at("l", like::Column::UserId),
    );
    for (k, (video, req)) in requests.iter().enumerate() {
        if k > 0 {
            q.append(" UNION ALL ");
        }
        let j = of(video);
        q.append(frag!["SELECT ", k, " AS k, t.* FROM ("]);
        for (i, grant) in LikeGrant::for_viewer(viewer.is_some()).iter().enumerate() {
            if i > 0 {
                q.append(" UNION ALL ");
            }
            q.append(frag![
                "SELECT * FROM (SELECT l.user_id, l.created_at FROM ",
                grant.stream(v, videos[j], j)
            ]);
            req.apply(&mut q, &l_time, &l_user);
            q.append(frag![") s", i]);
        }
        req.order_limit(
            &mut q,
            &Ident::of(like::Column::CreatedAt),
            &Ident::of(like::Column::UserId),
        );
        q.append(") t");
    }
    q.append(
        ") p JOIN users u ON u.id = p.user_id) pu ON pu.pk = c.k \
         ORDER BY c.k, pu.k_time DESC, pu.id DESC",
    );
    q
}

/// Which of `videos` the viewer has liked.
pub async fn viewer_likes(
    db: &impl ConnectionTrait,
    viewer: Uuid,
    videos: &[Uuid],
) -> AppResult<HashSet<Uuid>> {
    if videos.is_empty() {
        return Ok(HashSet::new());
    }
    let liked: Vec<Uuid> = like::Entity::find()
        .select_only()
        .column(like::Column::VideoId)
        .filter(like::Column::UserId.eq(viewer))
        .filter(like::Column::VideoId.is_in(videos.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(liked.into_iter().collect())
}
