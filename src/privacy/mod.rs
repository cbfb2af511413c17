//! THE privacy policy (spec: `shared/spec/PRIVACY.md`), in one place.
//!
//! Each rule is written twice, side by side, from the same decomposition: as a pure
//! function over a [`Graph`] (the reference the tests compare against) and as the SQL
//! fragment every query embeds. Visibility of a like is split into disjoint [`LikeGrant`]s
//! so that lists (union of the grants' streams), filters (OR of their predicates) and
//! counts (sum of their counts) all come from the same list.
pub mod sql;

use entity::{Audience, LikesVisibility, Visibility};
use uuid::Uuid;

/// Who may see an account's likes (spec: "Audience of an account's likes").
pub fn audience(visibility: Visibility, likes_visibility: LikesVisibility) -> Audience {
    match (likes_visibility, visibility) {
        (LikesVisibility::OnlyMe, _) => Audience::OnlyMe,
        (LikesVisibility::Followers, _) | (_, Visibility::Private) => Audience::Followers,
        (LikesVisibility::Everyone, Visibility::Public) => Audience::Everyone,
    }
}

/// The relations between accounts that the rules read.
pub trait Graph {
    /// `follower` follows `followee` with an approved follow.
    fn follows(&self, follower: Uuid, followee: Uuid) -> bool;
    /// A block exists in either direction between `a` and `b`.
    fn blocked_between(&self, a: Uuid, b: Uuid) -> bool;
}

/// Whether `viewer` and `account` are not separated by a block (anonymous never is).
pub fn can_see_account(viewer: Option<Uuid>, account: Uuid, graph: &impl Graph) -> bool {
    viewer.is_none_or(|v| !graph.blocked_between(v, account))
}

/// Rule V: can `viewer` see a video by `author`? It depends on the author alone, so it is
/// also [`can_see_videos_of`], the account-level rule a list of one author's videos decides
/// once, before it reads any video.
pub fn can_see_video(
    viewer: Option<Uuid>,
    author: Uuid,
    author_visibility: Visibility,
    graph: &impl Graph,
) -> bool {
    can_see_videos_of(viewer, author, author_visibility, graph)
}

/// Rule V at the account level: can `viewer` see the videos of `author` (all of them or
/// none)? Spec "No side channel through time": a list of `author`'s videos decides this
/// first and reads videos only when it holds.
pub fn can_see_videos_of(
    viewer: Option<Uuid>,
    author: Uuid,
    author_visibility: Visibility,
    graph: &impl Graph,
) -> bool {
    match viewer {
        None => author_visibility == Visibility::Public,
        Some(v) => {
            v == author
                || (!graph.blocked_between(v, author)
                    && (author_visibility == Visibility::Public || graph.follows(v, author)))
        }
    }
}

/// One way a viewer may come to see a like. The grants are disjoint: a visible like is
/// granted by exactly one of them, so counts add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikeGrant {
    /// The viewer's own like.
    Own,
    /// Someone else's like whose audience is `EVERYONE`, with no block between them.
    Public,
    /// Someone else's `FOLLOWERS` like, the viewer an approved follower, no block.
    Follower,
}

impl LikeGrant {
    /// Every grant; a like is visible iff one of them holds.
    pub const ALL: [LikeGrant; 3] = [LikeGrant::Own, LikeGrant::Public, LikeGrant::Follower];

    /// The grants an anonymous viewer can hold.
    pub fn for_viewer(signed_in: bool) -> &'static [LikeGrant] {
        if signed_in {
            &Self::ALL
        } else {
            &[LikeGrant::Public]
        }
    }

    /// Does this grant let `viewer` see `liker`'s like (the video being visible)?
    pub fn holds(
        self,
        viewer: Option<Uuid>,
        liker: Uuid,
        liker_audience: Audience,
        graph: &impl Graph,
    ) -> bool {
        let is_self = viewer == Some(liker);
        match self {
            LikeGrant::Own => is_self,
            LikeGrant::Public => {
                !is_self
                    && liker_audience == Audience::Everyone
                    && can_see_account(viewer, liker, graph)
            }
            LikeGrant::Follower => match viewer {
                None => false,
                Some(v) => {
                    !is_self
                        && liker_audience == Audience::Followers
                        && graph.follows(v, liker)
                        && !graph.blocked_between(v, liker)
                }
            },
        }
    }
}

/// Rule L's parts 2 and 3, which depend on the liker alone: can `viewer` see any of
/// `liker`'s likes (on videos it can see)? When this fails, every like of `liker` is hidden
/// from `viewer`, so `liker`'s `likedVideos` is empty for it without reading a like (spec
/// "No side channel through time").
pub fn can_see_likes_of(
    viewer: Option<Uuid>,
    liker: Uuid,
    liker_audience: Audience,
    graph: &impl Graph,
) -> bool {
    LikeGrant::for_viewer(viewer.is_some())
        .iter()
        .any(|g| g.holds(viewer, liker, liker_audience, graph))
}

/// Rule L: can `viewer` see that `liker` liked a video by `author`? Rule V on the video and
/// the account-level [`can_see_likes_of`] on the liker.
pub fn can_see_like(
    viewer: Option<Uuid>,
    author: Uuid,
    author_visibility: Visibility,
    liker: Uuid,
    liker_audience: Audience,
    graph: &impl Graph,
) -> bool {
    can_see_video(viewer, author, author_visibility, graph)
        && can_see_likes_of(viewer, liker, liker_audience, graph)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_accounts_never_like_in_public() {
        for lv in [LikesVisibility::Everyone, LikesVisibility::Followers] {
            assert_eq!(audience(Visibility::Private, lv), Audience::Followers);
        }
        assert_eq!(
            audience(Visibility::Private, LikesVisibility::OnlyMe),
            Audience::OnlyMe
        );
        assert_eq!(
            audience(Visibility::Public, LikesVisibility::Everyone),
            Audience::Everyone
        );
    }
}
