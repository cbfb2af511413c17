//! The soak's Lua script: a fixed mix of reads and writes per connection, every answer
//! checked by [`LUA_CHECK`], and the requests sent counted by kind (`MIX`).
use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

use crate::{
    queries::{FEED, LIKE_COUNT},
    wrk::{lua_string, LUA_CHECK},
};

/// Seconds between two sign-ups in the soak: under the default per-address sign-up rate
/// limit (5 a minute), so that no answer is `RATE_LIMITED`.
const SOAK_SIGNUP_EVERY_SECS: u64 = 20;

/// The kinds of request of the soak mix, as the Lua script counts them (its `kinds` list is
/// written from this one, and the `MIX` line is read back in this order).
pub const SOAK_KINDS: [&str; 11] = [
    "feed",
    "visibleLikers",
    "user",
    "likedVideos",
    "likeCount",
    "like",
    "unlike",
    "follow",
    "unfollow",
    "signUp",
    "ownFeed",
];

/// What the soak's Lua script is built from.
pub struct SoakScript {
    /// The measured viewer's token.
    pub viewer: String,
    /// The writers' tokens, taken in turn.
    pub writers: Vec<String>,
    /// API IDs of the sized videos.
    pub sized: Vec<String>,
    /// API ID of the hot video (liked and unliked).
    pub hot: String,
    /// API ID of the public creator (followed and unfollowed).
    pub creator: String,
    /// Accounts `u0` … of the dataset, read by handle.
    pub accounts: usize,
    pub threads: u64,
    pub delay_ms: u64,
    /// Makes this run's sign-up handles unique.
    pub nonce: String,
}

/// The body of a GraphQL request whose variable `name` is spliced in by Lua: the text
/// before and after the value.
fn body_around(query: &str, name: &str) -> (String, String) {
    let body = serde_json::json!({ "query": query, "variables": { name: "@@" } }).to_string();
    let (a, b) = body.split_once("@@").unwrap_or((&body, ""));
    (a.to_owned(), b.to_owned())
}

/// The mixed-load script: per 20 requests of a connection's thread, 4 `feed` and 4
/// `visibleLikers` (the measured viewer), 3 `user` (viewer or anonymous), 2 `likedVideos`
/// of a user and 1 of the caller's own, 1 anonymous `likeCount`, 1 feed of a writer, and
/// one each of `likeVideo`, `unlikeVideo` (hot video), `followUser`, `unfollowUser` (the
/// public creator) as writer accounts taken in turn (each unlike and unfollow 50 turns
/// after its like/follow); plus one `signUp` every [`SOAK_SIGNUP_EVERY_SECS`] on the first
/// thread. Every answer is expected to be a 200 without `errors`.
pub fn soak_script(out: &Path, p: &SoakScript) -> anyhow::Result<PathBuf> {
    let mut s = String::new();
    writeln!(s, "local viewer = \"{}\"", p.viewer)?;
    s.push_str("local writers = {\n");
    for t in &p.writers {
        writeln!(s, "  \"{t}\",")?;
    }
    s.push_str("}\nlocal sized = {\n");
    for v in &p.sized {
        writeln!(s, "  \"{v}\",")?;
    }
    s.push_str("}\n");
    writeln!(s, "local accounts = {}", p.accounts)?;
    writeln!(s, "local nthreads = {}", p.threads)?;
    writeln!(s, "local nonce = \"{}\"", p.nonce)?;
    writeln!(s, "local signup_every = {SOAK_SIGNUP_EVERY_SECS}")?;
    let constant = |name: &str, query: &str, vars: serde_json::Value, s: &mut String| {
        let body = serde_json::json!({ "query": query, "variables": vars }).to_string();
        writeln!(s, "local {name} = {}", lua_string(&body))
    };
    constant("q_feed", FEED, serde_json::json!({}), &mut s)?;
    constant(
        "q_own_liked",
        "{ viewer { likedVideos(first: 10) { edges { node { id likeCount } } } } }",
        serde_json::json!({}),
        &mut s,
    )?;
    constant(
        "q_like",
        "mutation($v: ID!) { likeVideo(videoId: $v) { likeCount viewerHasLiked } }",
        serde_json::json!({ "v": p.hot }),
        &mut s,
    )?;
    constant(
        "q_unlike",
        "mutation($v: ID!) { unlikeVideo(videoId: $v) { likeCount viewerHasLiked } }",
        serde_json::json!({ "v": p.hot }),
        &mut s,
    )?;
    constant(
        "q_follow",
        "mutation($u: ID!) { followUser(userId: $u) { state } }",
        serde_json::json!({ "u": p.creator }),
        &mut s,
    )?;
    constant(
        "q_unfollow",
        "mutation($u: ID!) { unfollowUser(userId: $u) }",
        serde_json::json!({ "u": p.creator }),
        &mut s,
    )?;
    constant(
        "q_count",
        LIKE_COUNT,
        serde_json::json!({ "v": p.hot }),
        &mut s,
    )?;
    let spliced = |name: &str, query: &str, var: &str, s: &mut String| {
        let (a, b) = body_around(query, var);
        writeln!(
            s,
            "local {name}_a = {}\nlocal {name}_b = {}",
            lua_string(&a),
            lua_string(&b)
        )
    };
    spliced(
        "q_likers",
        "query($id: ID!) { video(id: $id) { likeCount visibleLikers(first: 20) { totalCount \
         hiddenCount edges { likedAt node { handle } } pageInfo { hasNextPage endCursor } } } }",
        "id",
        &mut s,
    )?;
    spliced(
        "q_user",
        "query($h: String!) { user(handle: $h) { handle followerCount followingCount \
         viewerFollowState videos(first: 5) { edges { node { id likeCount } } } } }",
        "h",
        &mut s,
    )?;
    spliced(
        "q_liked",
        "query($h: String!) { user(handle: $h) { likedVideos(first: 10) { edges { node { id \
         likeCount } } } } }",
        "h",
        &mut s,
    )?;
    spliced(
        "q_signup",
        "mutation($h: String!) { signUp(input: { handle: $h, password: \"soak-password-1\" }) \
         { user { id } } }",
        "h",
        &mut s,
    )?;
    writeln!(s, "function delay() return {} end", p.delay_ms)?;
    let kinds: Vec<String> = SOAK_KINDS.iter().map(|k| format!("\"{k}\"")).collect();
    writeln!(s, "local kinds = {{ {} }}", kinds.join(", "))?;
    s.push_str(
        r#"
sent = {}
local next_signup = 0
local function post(token, body, kind)
  sent[kind] = (sent[kind] or 0) + 1
  local h = { ["Content-Type"] = "application/json" }
  if token ~= nil then h["Authorization"] = "Bearer " .. token end
  return wrk.format("POST", "/graphql", h, body)
end
-- The writer `lag` turns before turn `w` of this thread (threads take turns in between).
local function writer(w, lag)
  local i = ((w - lag) * nthreads + k) % #writers
  return writers[i + 1]
end
local turn_like, turn_follow = 0, 0
function request()
  n = n + 1
  if k == 0 and os.time() >= next_signup then
    next_signup = os.time() + signup_every
    local c = sent["signUp"] or 0
    return post(nil, q_signup_a .. "s" .. nonce .. "_" .. c .. q_signup_b, "signUp")
  end
  local slot = n % 20
  local r = (n * 7919 + k * 104729) % accounts
  if slot < 4 then return post(viewer, q_feed, "feed") end
  if slot < 8 then
    return post(viewer, q_likers_a .. sized[math.floor(n / 20) % #sized + 1] .. q_likers_b, "visibleLikers")
  end
  if slot < 11 then
    local who = nil
    if slot == 10 then who = viewer end
    return post(who, q_user_a .. "u" .. r .. q_user_b, "user")
  end
  if slot < 13 then return post(viewer, q_liked_a .. "u" .. r .. q_liked_b, "likedVideos") end
  if slot == 13 then return post(writer(turn_like, 7), q_own_liked, "likedVideos") end
  if slot == 14 then return post(nil, q_count, "likeCount") end
  if slot == 15 then
    turn_like = turn_like + 1
    return post(writer(turn_like, 0), q_like, "like")
  end
  if slot == 16 then return post(writer(turn_like, 50), q_unlike, "unlike") end
  if slot == 17 then
    turn_follow = turn_follow + 1
    return post(writer(turn_follow, 0), q_follow, "follow")
  end
  if slot == 18 then return post(writer(turn_follow, 50), q_unfollow, "unfollow") end
  return post(writer(turn_follow, 25), q_feed, "ownFeed")
end
"#,
    );
    s.push_str(LUA_CHECK);
    s.push_str(
        r#"
local check_done = done
function done(summary, latency, requests)
  check_done(summary, latency, requests)
  local totals = {}
  for _, t in ipairs(threads) do
    local counts = t:get("sent")
    for _, kind in ipairs(kinds) do
      totals[kind] = (totals[kind] or 0) + (counts[kind] or 0)
    end
  end
  local line = "MIX"
  for _, kind in ipairs(kinds) do line = line .. " " .. (totals[kind] or 0) end
  io.write(line .. "\n")
end
"#,
    );
    let path = out.join("soak.lua");
    std::fs::write(&path, s)?;
    Ok(path)
}
