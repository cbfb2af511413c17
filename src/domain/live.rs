//! What the live slice reads at delivery time: whether a subscriber still sees a video
//! (Rule V), whether a like's author may see who liked (Rule L), and the counts a
//! reconnected listener resynchronizes. Each decision is the policy's SQL
//! ([`crate::privacy::sql`]), evaluated against the current state when it is asked.
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::{
    counters::CountedVideo,
    public_user_columns,
    videos::{counted_video, visible_videos},
    visible::Visible,
    PublicUser,
};
use crate::{db::Sql, error::AppResult, frag, privacy::sql as policy};

/// The video `id` with its count, if `viewer` can see it now (Rule V).
pub async fn visible_video(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    id: Uuid,
) -> AppResult<Option<Visible<CountedVideo>>> {
    Ok(visible_videos(db, viewer, &[id]).await?.into_iter().next())
}

/// `liker`, if `viewer` may see now that `liker` liked `video` by `author` (Rule L: the
/// video under Rule V, then the liker's account-level rule, decided before the like is
/// read) and the like still exists. One statement.
pub async fn visible_liker(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    author: Uuid,
    video_id: Uuid,
    liker: Uuid,
) -> AppResult<Option<PublicUser>> {
    let mut q = Sql::default();
    let v = viewer.map(|id| q.bind(id));
    let (a, l, x) = (q.bind(author), q.bind(liker), q.bind(video_id));
    q.append(frag![
        "SELECT ",
        public_user_columns("u"),
        " FROM users u WHERE u.id = ",
        l,
        " AND ",
        policy::videos_of_visible(v, a),
        " AND ",
        policy::likes_of_visible(v, l),
        " AND EXISTS (SELECT 1 FROM likes lx JOIN videos vx ON vx.id = lx.video_id \
         WHERE lx.video_id = ",
        x,
        " AND lx.user_id = ",
        l,
        " AND vx.author_id = ",
        a,
        ")"
    ]);
    match q.one(db).await? {
        Some(row) => Ok(Some(
            <PublicUser as sea_orm::FromQueryResult>::from_query_result(&row, "")?,
        )),
        None => Ok(None),
    }
}

/// The current like count of `video`, if it still exists (what a subscriber is sent:
/// counts carry no identity, whoever subscribes).
pub async fn like_count(db: &impl ConnectionTrait, video: Uuid) -> AppResult<Option<i64>> {
    Ok(counted_video(db, video).await?.map(|v| v.like_count))
}
