//! GraphQL documents sent by more than one scenario (or binary).

/// The feed page of the benchmark and of the soak: authors, counts and three likers a video.
pub const FEED: &str =
    "{ feed(first: 20) { edges { node { author { handle } likeCount viewerHasLiked \
    visibleLikers(first: 3) { totalCount hiddenCount edges { node { handle } } } } } } }";

/// A video's `likeCount` (variable `v`: the video's API ID).
pub const LIKE_COUNT: &str = "query($v: ID!) { video(id: $v) { likeCount } }";
