//! The SQL side of the policy: fragments embedded by every viewer-relative query.
//!
//! Fragments take the placeholder of the viewer's ID (a [`Param`], e.g. `$1`), or `None` for
//! an anonymous viewer, and the columns they test (an [`Ident`]); they return typed SQL
//! ([`Frag`]) whose enum literals come from the entity enums ([`lit`]), so no data can be
//! spliced into them. They mirror the pure functions
//! in the parent module one for one; the property tests hold them to it.
use entity::{
    like, user, video_like_counter as counter, Audience, FollowState, LikesVisibility, Visibility,
};

use super::LikeGrant;
use crate::{
    db::{lit, Frag, Ident, Param, Part},
    domain::counters,
    frag,
};

/// `viewer` and the account in `account_col` are separated by a block (one primary-key
/// probe per direction).
pub fn blocked_between(viewer: Param, account_col: &Ident) -> Frag {
    frag![
        "(EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = ",
        viewer,
        " AND b.blocked_id = ",
        account_col,
        ") \
         OR EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = ",
        account_col,
        " AND b.blocked_id = ",
        viewer,
        "))"
    ]
}

/// Name of the viewer's approved followees (column `id`), defined by [`viewer_sets`].
const FOLLOWEES: Ident = Ident::new("viewer_followees");
/// Name of the accounts separated from the viewer by a block (column `id`).
const SEPARATED: Ident = Ident::new("viewer_separated");
/// Name of the one-row count (column `n`) of the viewer's approved followees.
const FOLLOWEE_COUNT: Ident = Ident::new("viewer_followee_count");

/// `WITH` clause computing, once per statement, the two small sets the like streams and
/// counts are driven by: the viewer's approved followees (and how many there are) and the
/// accounts separated from it by a block. Their size is bounded by the viewer's own follow
/// and block lists. Empty for an anonymous viewer (whose grants need neither).
fn viewer_sets(viewer: Option<Param>) -> Frag {
    match viewer {
        None => Frag::new(),
        Some(v) => frag![
            "WITH ",
            FOLLOWEES,
            " AS MATERIALIZED (SELECT f.followee_id AS id FROM follows f \
             WHERE f.follower_id = ",
            v,
            " AND f.state = ",
            lit(FollowState::Approved),
            "), ",
            SEPARATED,
            " AS MATERIALIZED (SELECT b.blocked_id AS id FROM blocks b WHERE b.blocker_id = ",
            v,
            " \
             UNION SELECT b.blocker_id FROM blocks b WHERE b.blocked_id = ",
            v,
            "), ",
            FOLLOWEE_COUNT,
            " AS MATERIALIZED (SELECT COUNT(*) AS n FROM ",
            FOLLOWEES,
            ") "
        ],
    }
}

/// Name of the `Follower` grant's likes (columns `j`, `user_id`, `created_at`) of every
/// video of a statement, defined by [`like_sets`].
const FOLLOWER_LIKES: Ident = Ident::new("follower_likes");
/// Their number per video (columns `j`, `n`; no row for a video without any).
const FOLLOWER_COUNTS: Ident = Ident::new("follower_counts");

/// `WITH` clause of a statement about the likes of `videos` (the `j`-th is `videos[j]`):
/// [`viewer_sets`] and, for a signed-in viewer, the `Follower` grant's likes of each video,
/// computed once so that a page and its count share the one part of either whose cost grows
/// with the viewer's follow list.
pub fn like_sets(viewer: Option<Param>, videos: &[Param]) -> Frag {
    let Some(v) = viewer.filter(|_| !videos.is_empty()) else {
        return viewer_sets(viewer);
    };
    let candidates = videos.iter().enumerate().map(|(j, video)| {
        frag![
            "SELECT ",
            j,
            " AS j, l.user_id, l.created_at FROM ",
            followee_likes(v, *video)
        ]
    });
    // Three steps, each materialized: the candidates (one probe each, run once), the likes
    // among them, and their count per video, so that every page and count after that reads
    // only actual likes.
    frag![
        viewer_sets(viewer).trim_end(),
        ", follower_candidates AS MATERIALIZED (",
        Frag::join(candidates, " UNION ALL "),
        "), ",
        FOLLOWER_LIKES,
        " AS MATERIALIZED (SELECT j, user_id, created_at FROM follower_candidates \
         WHERE created_at IS NOT NULL), ",
        FOLLOWER_COUNTS,
        " AS MATERIALIZED (SELECT j, COUNT(*) AS n FROM ",
        FOLLOWER_LIKES,
        " GROUP BY j) "
    ]
}

/// The `Follower` grant's likes of `video`, as a subquery aliased `l` with the columns
/// `user_id` and `created_at`, where a `NULL` time stands for a followee who has no such like
/// (dropped in [`like_sets`]). Whichever set is smaller drives it: the viewer's followees,
/// each probed for a like, or the video's `FOLLOWERS` likes, each checked against the
/// followees. The guard depends on neither row, so each branch runs or is skipped as a
/// whole; both yield the same likes. The `NULL` rows are kept rather than filtered here: a
/// filter on the probe's result would be pushed into the subquery and run every probe twice.
fn followee_likes(v: Param, video: Param) -> Frag {
    let few_likes = frag![
        counters::sum(counter::Column::FollowersLikes, video),
        " < (SELECT n FROM ",
        FOLLOWEE_COUNT,
        ")"
    ];
    // Each branch's guard is also its `LIMIT` (0 when the guard fails): PostgreSQL skips a
    // branch whose row-independent filter fails (a `One-Time Filter`), but SQLite tests the
    // filter on every row, so without the limit it would walk all of a viral video's likes,
    // or all of the viewer's followees, only to find the guard false on each.
    let only_if = |guard: &Frag| limit_if(guard, i64::MAX);
    let many_likes = frag!["NOT (", &few_likes, ")"];
    let (f_id, w_user) = (Ident::new("f.id"), Ident::at("w", like::Column::UserId));
    frag![
        "(SELECT * FROM (SELECT f.id AS user_id, ",
        probe_like(video, &f_id, like::Column::CreatedAt, Audience::Followers),
        " AS created_at FROM ",
        FOLLOWEES,
        " f \
         WHERE ",
        &many_likes,
        " AND f.id <> ",
        v,
        " AND ",
        not_separated(&f_id),
        " ",
        only_if(&many_likes),
        ") probe \
         UNION ALL SELECT * FROM (SELECT w.user_id, w.created_at FROM likes w \
         WHERE w.video_id = ",
        video,
        " AND w.audience = ",
        lit(Audience::Followers),
        " AND ",
        &few_likes,
        " \
         AND w.user_id <> ",
        v,
        " AND ",
        checked_against_followees(&w_user),
        " AND ",
        not_separated(&w_user),
        " ",
        only_if(&few_likes),
        ") walk) l"
    ]
}

/// Column `col` of `liker`'s like of `video` if its audience is `audience`, else NULL: one
/// index-only probe of `(video_id, audience, user_id, created_at)`. Written as a scalar
/// subquery on purpose, so that the planner cannot turn it into a join that scans the
/// video's likes; sets of likers are walked one probe per member.
fn probe_like(video: Param, liker: &Ident, col: like::Column, audience: Audience) -> Frag {
    frag![
        "(SELECT ",
        Ident::at("pl", col),
        " FROM likes pl WHERE pl.video_id = ",
        video,
        " AND pl.user_id = ",
        liker,
        " \
         AND pl.audience = ",
        lit(audience),
        ")"
    ]
}

/// `liker_col` is one of the viewer's followees, as a filter on the rows of a walk: wrapped
/// in `CASE` so that neither planner turns it into a join driven by the followees (which
/// would probe once per followee, the very cost the walk is chosen to avoid).
fn checked_against_followees(liker_col: &Ident) -> Frag {
    frag![
        "CASE WHEN ",
        liker_col,
        " IN (SELECT id FROM ",
        FOLLOWEES,
        ") THEN 1 ELSE 0 END = 1"
    ]
}

fn not_separated(liker_col: &Ident) -> Frag {
    frag![
        "NOT EXISTS (SELECT 1 FROM ",
        SEPARATED,
        " s WHERE s.id = ",
        liker_col,
        ")"
    ]
}

/// [`super::audience`]: the audience of the likes of the account whose settings are in the
/// columns `visibility_col` and `likes_visibility_col`.
pub fn audience(visibility_col: &Ident, likes_visibility_col: &Ident) -> Frag {
    frag![
        "(CASE WHEN ",
        likes_visibility_col,
        " = ",
        lit(LikesVisibility::OnlyMe),
        " THEN ",
        lit(Audience::OnlyMe),
        " \
         WHEN ",
        likes_visibility_col,
        " = ",
        lit(LikesVisibility::Followers),
        " OR ",
        visibility_col,
        " = ",
        lit(Visibility::Private),
        " THEN ",
        lit(Audience::Followers),
        " \
         ELSE ",
        lit(Audience::Everyone),
        " END)"
    ]
}

/// `viewer` follows the account in `account_col` (approved).
pub fn follows(viewer: Param, account_col: &Ident) -> Frag {
    frag![
        "EXISTS (SELECT 1 FROM follows fv WHERE fv.follower_id = ",
        viewer,
        " \
         AND fv.followee_id = ",
        account_col,
        " AND fv.state = ",
        lit(FollowState::Approved),
        ")"
    ]
}

/// [`super::can_see_account`].
pub fn account_visible(viewer: Option<Param>, account_col: &Ident) -> Frag {
    match viewer {
        None => frag!["1 = 1"],
        Some(v) => frag!["NOT ", blocked_between(v, account_col)],
    }
}

/// `LIMIT {limit}` if `guard` (an expression that depends on no row of the statement) holds,
/// else `LIMIT 0`: the way a statement decides an account-level rule before it reads a row.
/// Both backends evaluate a `LIMIT` once, before the scan, and neither starts the scan for a
/// limit of 0 (SQLite jumps past the loop; PostgreSQL's `Limit` node never runs its subplan).
/// The same guard as a `WHERE` term would not do on SQLite, which tests a row-independent term
/// on every row it reads rather than once.
pub fn limit_if(guard: &Frag, limit: impl Part) -> Frag {
    frag!["LIMIT CASE WHEN ", guard, " THEN ", limit, " ELSE 0 END"]
}

/// [`super::can_see_videos_of`] for the account whose ID is `author` (a placeholder, so it
/// depends on no row): one primary-key read of its visibility plus the viewer's block and
/// follow probes. A guard for [`limit_if`].
pub fn videos_of_visible(viewer: Option<Param>, author: Param) -> Frag {
    frag![
        "EXISTS (SELECT 1 FROM users ga WHERE ga.id = ",
        author,
        " AND ",
        video_visible(
            viewer,
            &Ident::at("ga", user::Column::Id),
            &Ident::at("ga", user::Column::Visibility)
        ),
        ")"
    ]
}

/// [`super::can_see_likes_of`] for the account whose ID is `liker` (a placeholder, so it
/// depends on no row): one primary-key read of its settings, their [`audience`], and the
/// viewer's block and follow probes, OR-ed over the grants like [`like_visible`]. A guard
/// for [`limit_if`].
pub fn likes_of_visible(viewer: Option<Param>, liker: Param) -> Frag {
    let aud = audience(
        &Ident::at("gl", user::Column::Visibility),
        &Ident::at("gl", user::Column::LikesVisibility),
    );
    let id = Ident::at("gl", user::Column::Id);
    let parts = LikeGrant::for_viewer(viewer.is_some())
        .iter()
        .map(|g| g.predicate(viewer, &id, &aud));
    frag![
        "EXISTS (SELECT 1 FROM users gl WHERE gl.id = ",
        liker,
        " AND (",
        Frag::join(parts, " OR "),
        "))"
    ]
}

/// Rule V ([`super::can_see_video`]) for a video whose author is `author_col` with
/// visibility `author_visibility_col`.
pub fn video_visible(
    viewer: Option<Param>,
    author_col: &Ident,
    author_visibility_col: &Ident,
) -> Frag {
    match viewer {
        None => frag![author_visibility_col, " = ", lit(Visibility::Public)],
        Some(v) => frag![
            "(",
            author_col,
            " = ",
            v,
            " OR (NOT ",
            blocked_between(v, author_col),
            " AND (",
            author_visibility_col,
            " = ",
            lit(Visibility::Public),
            " OR ",
            follows(v, author_col),
            ")))"
        ],
    }
}

impl LikeGrant {
    /// [`LikeGrant::holds`] as a predicate over a like's liker column and audience (a column,
    /// or an expression such as [`audience`]).
    pub fn predicate(
        self,
        viewer: Option<Param>,
        liker_col: &Ident,
        audience_col: impl Part,
    ) -> Frag {
        let everyone = lit(Audience::Everyone);
        match (self, viewer) {
            (LikeGrant::Own, None) | (LikeGrant::Follower, None) => frag!["1 = 0"],
            (LikeGrant::Own, Some(v)) => frag![liker_col, " = ", v],
            (LikeGrant::Public, None) => frag![audience_col, " = ", everyone],
            (LikeGrant::Public, Some(v)) => frag![
                "(",
                liker_col,
                " <> ",
                v,
                " AND ",
                audience_col,
                " = ",
                everyone,
                " AND NOT ",
                blocked_between(v, liker_col),
                ")"
            ],
            (LikeGrant::Follower, Some(v)) => frag![
                "(",
                liker_col,
                " <> ",
                v,
                " AND ",
                audience_col,
                " = ",
                lit(Audience::Followers),
                " AND ",
                follows(v, liker_col),
                " AND NOT ",
                blocked_between(v, liker_col),
                ")"
            ],
        }
    }

    /// The likes of `video`, the `j`-th video of a statement that starts with [`like_sets`],
    /// that this grant shows, as `FROM … WHERE …` over the alias `l` with the columns
    /// `l.user_id` and `l.created_at`. Equivalent to filtering by [`LikeGrant::predicate`],
    /// but each stream is driven by an index whose cost does not depend on the likes the
    /// viewer cannot see: `Own` is one primary-key probe, `Public` walks the video's
    /// `EVERYONE` likes newest first, `Follower` reads the likes [`like_sets`] found once per
    /// video for the page and the count alike.
    pub fn stream(self, viewer: Option<Param>, video: Param, j: usize) -> Frag {
        match (self, viewer) {
            (LikeGrant::Own, None) | (LikeGrant::Follower, None) => {
                frag!["likes l WHERE l.video_id = ", video, " AND 1 = 0"]
            }
            // Naming every audience makes this three index-only probes of
            // `(video_id, audience, user_id, created_at)`; without it PostgreSQL may prefer
            // scanning all of the viewer's own likes by `(user_id, created_at, …)`.
            (LikeGrant::Own, Some(v)) => frag![
                "likes l WHERE l.video_id = ",
                video,
                " AND l.audience IN (",
                Frag::join(
                    [Audience::Everyone, Audience::Followers, Audience::OnlyMe].map(lit),
                    ", "
                ),
                ") AND l.user_id = ",
                v
            ],
            (LikeGrant::Public, None) => {
                frag![
                    "likes l WHERE l.video_id = ",
                    video,
                    " AND l.audience = ",
                    lit(Audience::Everyone)
                ]
            }
            (LikeGrant::Public, Some(v)) => frag![
                "likes l WHERE l.video_id = ",
                video,
                " AND l.audience = ",
                lit(Audience::Everyone),
                " AND l.user_id <> ",
                v,
                " AND ",
                not_separated(&Ident::at("l", like::Column::UserId))
            ],
            (LikeGrant::Follower, Some(_)) => frag![FOLLOWER_LIKES, " l WHERE l.j = ", j],
        }
    }

    /// The number of likes on `video` (the `j`-th of a statement that starts with
    /// [`like_sets`]) this grant shows, as a scalar expression. `Public` starts from the
    /// maintained `everyone_likes` counters and subtracts only the exceptions (the viewer's
    /// own like and likers separated by a block), so no count costs more than the viewer's own
    /// follow and block lists.
    fn count(self, viewer: Option<Param>, video: Param, j: usize) -> Frag {
        match (self, viewer) {
            (LikeGrant::Public, None) => counters::sum(counter::Column::EveryoneLikes, video),
            (LikeGrant::Public, Some(v)) => frag![
                "(",
                counters::sum(counter::Column::EveryoneLikes, video),
                " \
                 - (SELECT COUNT(*) FROM likes l WHERE l.video_id = ",
                video,
                " AND l.user_id = ",
                v,
                " AND l.audience = ",
                lit(Audience::Everyone),
                ") \
                 - (SELECT COUNT(*) FROM ",
                SEPARATED,
                " s WHERE ",
                probe_like(
                    video,
                    &Ident::new("s.id"),
                    like::Column::CreatedAt,
                    Audience::Everyone
                ),
                " IS NOT NULL))"
            ],
            (LikeGrant::Follower, Some(_)) => {
                frag![
                    "COALESCE((SELECT c.n FROM ",
                    FOLLOWER_COUNTS,
                    " c WHERE c.j = ",
                    j,
                    "), 0)"
                ]
            }
            _ => frag!["(SELECT COUNT(*) FROM ", self.stream(viewer, video, j), ")"],
        }
    }
}

/// Rule L's like part: OR of every grant's predicate.
pub fn like_visible(viewer: Option<Param>, liker_col: &Ident, audience_col: &Ident) -> Frag {
    let parts = LikeGrant::ALL
        .iter()
        .map(|g| g.predicate(viewer, liker_col, audience_col));
    frag!["(", Frag::join(parts, " OR "), ")"]
}

/// `visibleLikers.totalCount` of the `j`-th video (`video`) of a statement that starts with
/// [`like_sets`]: the sum of every grant's count.
pub fn visible_like_count(viewer: Option<Param>, video: Param, j: usize) -> Frag {
    let parts = LikeGrant::for_viewer(viewer.is_some())
        .iter()
        .map(|g| g.count(viewer, video, j));
    frag!["(", Frag::join(parts, " + "), ")"]
}
