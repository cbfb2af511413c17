//! The SQL side of the policy: fragments embedded by every viewer-relative query.
//!
//! Fragments take the placeholder of the viewer's ID (e.g. `$1`), or `None` for an
//! anonymous viewer, and the column expressions they test. They mirror the pure functions
//! in the parent module one for one; the property tests hold them to it.
use super::LikeGrant;

const APPROVED: &str = "'APPROVED'";

/// `viewer` and the account in `account_col` are separated by a block.
pub fn blocked_between(viewer: &str, account_col: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = {viewer} AND b.blocked_id = {account_col}) \
         OR (b.blocker_id = {account_col} AND b.blocked_id = {viewer}))"
    )
}

/// `viewer` follows the account in `account_col` (approved).
pub fn follows(viewer: &str, account_col: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM follows fv WHERE fv.follower_id = {viewer} \
         AND fv.followee_id = {account_col} AND fv.state = {APPROVED})"
    )
}

/// [`super::can_see_account`].
pub fn account_visible(viewer: Option<&str>, account_col: &str) -> String {
    match viewer {
        None => "1 = 1".to_owned(),
        Some(v) => format!("NOT {}", blocked_between(v, account_col)),
    }
}

/// Rule V ([`super::can_see_video`]) for a video whose author is `author_col` with
/// visibility `author_visibility_col`.
pub fn video_visible(
    viewer: Option<&str>,
    author_col: &str,
    author_visibility_col: &str,
) -> String {
    match viewer {
        None => format!("{author_visibility_col} = 'PUBLIC'"),
        Some(v) => format!(
            "({author_col} = {v} OR (NOT {} AND ({author_visibility_col} = 'PUBLIC' OR {})))",
            blocked_between(v, author_col),
            follows(v, author_col)
        ),
    }
}

impl LikeGrant {
    /// [`LikeGrant::holds`] as a predicate over a like's liker and audience columns.
    pub fn predicate(self, viewer: Option<&str>, liker_col: &str, audience_col: &str) -> String {
        match (self, viewer) {
            (LikeGrant::Own, None) | (LikeGrant::Follower, None) => "1 = 0".to_owned(),
            (LikeGrant::Own, Some(v)) => format!("{liker_col} = {v}"),
            (LikeGrant::Public, None) => format!("{audience_col} = 'EVERYONE'"),
            (LikeGrant::Public, Some(v)) => format!(
                "({liker_col} <> {v} AND {audience_col} = 'EVERYONE' AND NOT {})",
                blocked_between(v, liker_col)
            ),
            (LikeGrant::Follower, Some(v)) => format!(
                "({liker_col} <> {v} AND {audience_col} = 'FOLLOWERS' AND {} AND NOT {})",
                follows(v, liker_col),
                blocked_between(v, liker_col)
            ),
        }
    }

    /// The likes of the video `video` this grant shows, as `FROM … WHERE …` over the alias
    /// `l` (likes). Equivalent to filtering by [`LikeGrant::predicate`], but each stream is
    /// driven by an index whose cost does not depend on the likes the viewer cannot see:
    /// `Public` walks the video's `EVERYONE` likes, `Follower` the viewer's own follows.
    pub fn stream(self, viewer: Option<&str>, video: &str) -> String {
        match (self, viewer) {
            (LikeGrant::Follower, Some(v)) => format!(
                "likes l JOIN follows fs ON fs.followee_id = l.user_id AND fs.follower_id = {v} \
                 AND fs.state = {APPROVED} WHERE l.video_id = {video} AND l.audience = 'FOLLOWERS' \
                 AND l.user_id <> {v} AND NOT {}",
                blocked_between(v, "l.user_id")
            ),
            _ => format!(
                "likes l WHERE l.video_id = {video} AND {}",
                self.predicate(viewer, "l.user_id", "l.audience")
            ),
        }
    }

    /// The number of likes on `video` (a `videos` row aliased `v`) this grant shows, as a
    /// scalar expression. `Public` starts from the maintained `everyone_likes` counter and
    /// subtracts only the exceptions (the viewer's own like and likers separated by a
    /// block), so its cost is bounded by the viewer's block list, not the video's likes.
    pub fn count(self, viewer: Option<&str>) -> String {
        match (self, viewer) {
            (LikeGrant::Public, None) => "v.everyone_likes".to_owned(),
            (LikeGrant::Public, Some(v)) => format!(
                "(v.everyone_likes - (SELECT COUNT(*) FROM likes l WHERE l.video_id = v.id \
                 AND l.audience = 'EVERYONE' AND (l.user_id = {v} OR l.user_id IN \
                 (SELECT b.blocked_id FROM blocks b WHERE b.blocker_id = {v} UNION \
                 SELECT b.blocker_id FROM blocks b WHERE b.blocked_id = {v}))))"
            ),
            _ => format!("(SELECT COUNT(*) FROM {})", self.stream(viewer, "v.id")),
        }
    }
}

/// Rule L's like part: OR of every grant's predicate.
pub fn like_visible(viewer: Option<&str>, liker_col: &str, audience_col: &str) -> String {
    let parts: Vec<String> = LikeGrant::ALL
        .iter()
        .map(|g| g.predicate(viewer, liker_col, audience_col))
        .collect();
    format!("({})", parts.join(" OR "))
}

/// `visibleLikers.totalCount` of the video aliased `v`: sum of every grant's count.
pub fn visible_like_count(viewer: Option<&str>) -> String {
    let parts: Vec<String> = LikeGrant::for_viewer(viewer.is_some())
        .iter()
        .map(|g| g.count(viewer))
        .collect();
    format!("({})", parts.join(" + "))
}
