//! Races between mutations that conflict (PRIVACY.md, "Concurrency"): for each pair, many
//! rounds in which the two mutations are released at once by a barrier, each round on a
//! small world of its own. After each round the state must be what the pure model below
//! gives for one of the two serial orders, with the answers each mutation gave in that order
//! (so a `NOT_FOUND` wrote nothing), the counters must equal the rows, and no follow or like
//! may join two blocked accounts, no request stay `PENDING` on a public account, and nothing
//! of a deleted account remain. `TALLY_RACE_ROUNDS` sets the rounds per pair (default 50).
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use entity::{user, AccountType, FollowState, LikesVisibility, Visibility};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection};
use tally::{
    clock::Clock,
    db::{col, Sql},
    domain::{
        accounts::{delete_account, update_account, AccountChanges},
        counters,
        likes::{like_video, unlike_video},
        social::{
            approve_follow_request, block_user, follow_user, remove_follower, unblock_user,
            unfollow_user,
        },
        videos::{create_video, NewVideo},
    },
    error::AppError,
};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::helpers::{insert_block, insert_follow, now_us, Harness};

fn rounds() -> usize {
    std::env::var("TALLY_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

/// One mutation, by account index and video index within a round's world.
#[derive(Debug, Clone, Copy)]
enum Op {
    Follow(usize, usize),
    Unfollow(usize, usize),
    Approve(usize, usize),
    RemoveFollower(usize, usize),
    Block(usize, usize),
    Unblock(usize, usize),
    Like(usize, usize),
    Unlike(usize, usize),
    SetVisibility(usize, Visibility),
    SetLikesVisibility(usize, LikesVisibility),
    Delete(usize),
    CreateVideo(usize),
}

/// What a mutation answered: a short description of its result, or its error code.
type Answer = Result<String, &'static str>;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Account {
    visibility: Visibility,
    likes: LikesVisibility,
}

/// The observable state of a round's world. Videos are named by caption.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct World {
    accounts: BTreeMap<usize, Account>,
    follows: BTreeMap<(usize, usize), FollowState>,
    blocks: BTreeSet<(usize, usize)>,
    /// caption → author
    videos: BTreeMap<String, usize>,
    /// (liker, caption)
    likes: BTreeSet<(usize, String)>,
}

impl World {
    fn exists(&self, a: usize) -> bool {
        self.accounts.contains_key(&a)
    }

    fn blocked_between(&self, a: usize, b: usize) -> bool {
        self.blocks.contains(&(a, b)) || self.blocks.contains(&(b, a))
    }

    /// Rule V.
    fn sees_video(&self, viewer: usize, caption: &str) -> bool {
        let Some(&author) = self.videos.get(caption) else {
            return false;
        };
        !self.blocked_between(viewer, author)
            && (viewer == author
                || self.accounts[&author].visibility == Visibility::Public
                || self.follows.get(&(viewer, author)) == Some(&FollowState::Approved))
    }

    fn like_count(&self, caption: &str) -> usize {
        self.likes.iter().filter(|(_, c)| c == caption).count()
    }

    fn remove_likes(&mut self, liker: usize, author: Option<usize>) {
        let videos = self.videos.clone();
        self.likes
            .retain(|(l, c)| *l != liker || author.is_some_and(|a| videos.get(c) != Some(&a)));
    }

    /// Applies `op` as the service specifies it and returns its answer.
    fn apply(&mut self, op: Op, videos: &[String]) -> Answer {
        match op {
            Op::Follow(f, a) => {
                if !self.exists(f) {
                    return Err("UNAUTHENTICATED");
                }
                if !self.exists(a) || self.blocked_between(f, a) {
                    return Err("NOT_FOUND");
                }
                let state = match self.accounts[&a].visibility {
                    Visibility::Public => FollowState::Approved,
                    Visibility::Private => FollowState::Pending,
                };
                let state = *self.follows.entry((f, a)).or_insert(state);
                Ok(format!("{state:?}"))
            }
            Op::Unfollow(f, a) => {
                if !self.exists(f) {
                    return Err("UNAUTHENTICATED");
                }
                if !self.exists(a) || self.blocked_between(f, a) {
                    return Err("NOT_FOUND");
                }
                Ok(self.follows.remove(&(f, a)).is_some().to_string())
            }
            Op::Approve(a, f) => {
                if !self.exists(a) {
                    return Err("UNAUTHENTICATED");
                }
                match self.follows.get_mut(&(f, a)) {
                    Some(s) if *s == FollowState::Pending => {
                        *s = FollowState::Approved;
                        Ok(String::new())
                    }
                    _ => Err("NOT_FOUND"),
                }
            }
            Op::RemoveFollower(a, f) => {
                if !self.exists(a) {
                    return Err("UNAUTHENTICATED");
                }
                match self.follows.get(&(f, a)) {
                    Some(FollowState::Approved) => {
                        self.follows.remove(&(f, a));
                        Ok(String::new())
                    }
                    _ => Err("NOT_FOUND"),
                }
            }
            Op::Block(v, t) => {
                if !self.exists(v) {
                    return Err("UNAUTHENTICATED");
                }
                if self.blocks.contains(&(v, t)) {
                    return Ok(String::new());
                }
                if !self.exists(t) || self.blocks.contains(&(t, v)) {
                    return Err("NOT_FOUND");
                }
                self.blocks.insert((v, t));
                self.follows.remove(&(v, t));
                self.follows.remove(&(t, v));
                self.remove_likes(v, Some(t));
                self.remove_likes(t, Some(v));
                Ok(String::new())
            }
            Op::Unblock(v, t) => {
                if !self.exists(v) {
                    return Err("UNAUTHENTICATED");
                }
                if self.blocks.remove(&(v, t)) {
                    return Ok(true.to_string());
                }
                if !self.exists(t) || self.blocks.contains(&(t, v)) {
                    return Err("NOT_FOUND");
                }
                Ok(false.to_string())
            }
            Op::Like(u, i) | Op::Unlike(u, i) => {
                if !self.exists(u) {
                    return Err("UNAUTHENTICATED");
                }
                let caption = &videos[i];
                if !self.sees_video(u, caption) {
                    return Err("NOT_FOUND");
                }
                if matches!(op, Op::Like(..)) {
                    self.likes.insert((u, caption.clone()));
                } else {
                    self.likes.remove(&(u, caption.clone()));
                }
                Ok(format!("count={}", self.like_count(caption)))
            }
            Op::SetVisibility(u, vis) => {
                let Some(account) = self.accounts.get_mut(&u) else {
                    return Err("UNAUTHENTICATED");
                };
                let was = account.visibility;
                account.visibility = vis;
                if was == Visibility::Private && vis == Visibility::Public {
                    for ((_, a), s) in &mut self.follows {
                        if *a == u {
                            *s = FollowState::Approved;
                        }
                    }
                }
                Ok(String::new())
            }
            Op::SetLikesVisibility(u, lv) => {
                let Some(account) = self.accounts.get_mut(&u) else {
                    return Err("UNAUTHENTICATED");
                };
                account.likes = lv;
                Ok(String::new())
            }
            Op::Delete(u) => {
                if self.accounts.remove(&u).is_none() {
                    return Err("UNAUTHENTICATED");
                }
                self.follows.retain(|(f, a), _| *f != u && *a != u);
                self.blocks.retain(|(a, b)| *a != u && *b != u);
                self.remove_likes(u, None);
                let gone: BTreeSet<String> = self
                    .videos
                    .iter()
                    .filter(|(_, a)| **a == u)
                    .map(|(c, _)| c.clone())
                    .collect();
                self.videos.retain(|c, _| !gone.contains(c));
                self.likes.retain(|(_, c)| !gone.contains(c));
                Ok(String::new())
            }
            Op::CreateVideo(u) => {
                if !self.exists(u) {
                    return Err("UNAUTHENTICATED");
                }
                self.videos.insert(created_caption(u), u);
                Ok(String::new())
            }
        }
    }
}

fn created_caption(author: usize) -> String {
    format!("new by {author}")
}

/// A round's world in the database: account `i` is `ids[i]`, video `j` is `video_ids[j]`.
struct Round {
    ids: Vec<Uuid>,
    video_ids: Vec<Uuid>,
    captions: Vec<String>,
}

/// How a round starts: the accounts' settings, follows, blocks, videos (by author) and likes
/// (liker, video index).
#[derive(Clone, Default)]
struct Setup {
    accounts: Vec<(Visibility, LikesVisibility)>,
    follows: Vec<(usize, usize, FollowState)>,
    blocks: Vec<(usize, usize)>,
    videos: Vec<usize>,
    likes: Vec<(usize, usize)>,
}

impl Setup {
    fn world(&self) -> World {
        let mut w = World::default();
        for (i, (vis, likes)) in self.accounts.iter().enumerate() {
            w.accounts.insert(
                i,
                Account {
                    visibility: *vis,
                    likes: *likes,
                },
            );
        }
        for (f, a, s) in &self.follows {
            w.follows.insert((*f, *a), *s);
        }
        w.blocks.extend(self.blocks.iter().copied());
        for (j, a) in self.videos.iter().enumerate() {
            w.videos.insert(caption(j), *a);
        }
        for (l, j) in &self.likes {
            w.likes.insert((*l, caption(*j)));
        }
        w
    }
}

fn caption(j: usize) -> String {
    format!("video {j}")
}

/// Builds `setup` in the database, with accounts of their own. Accounts have no password
/// (linked to an identity-provider subject), so `deleteAccount` needs none.
async fn build(db: &DatabaseConnection, setup: &Setup) -> Round {
    let mut ids = Vec::new();
    for (vis, likes) in &setup.accounts {
        let id = Uuid::now_v7();
        let handle = format!("r{}", id.simple());
        user::ActiveModel {
            id: Set(id),
            handle: Set(handle[..30].to_owned()),
            display_name: Set("racer".to_owned()),
            password_hash: Set("!".to_owned()),
            account_type: Set(AccountType::Personal),
            visibility: Set(*vis),
            likes_visibility: Set(*likes),
            birth_year: Set(None),
            region: Set(None),
            language: Set(None),
            created_at: Set(now_us()),
            external_subject: Set(Some(handle)),
            avatar_url: Set(None),
        }
        .insert(db)
        .await
        .expect("insert account");
        ids.push(id);
    }
    for (f, a, s) in &setup.follows {
        insert_follow(db, ids[*f], ids[*a], *s).await;
    }
    for (a, b) in &setup.blocks {
        insert_block(db, ids[*a], ids[*b]).await;
    }
    let mut video_ids = Vec::new();
    for (j, author) in setup.videos.iter().enumerate() {
        let v = create_video(db, ids[*author], new_video(caption(j)), now_us())
            .await
            .map_err(|e| e.message())
            .expect("video");
        video_ids.push(v.video.id);
    }
    for (l, j) in &setup.likes {
        like_video(db, ids[*l], video_ids[*j], now_us())
            .await
            .map_err(|e| e.message())
            .expect("like");
    }
    // Views of every video (by its author, who always sees it), two folded into the rollups
    // and one not: a deleted video or account must take them with it (and its folded views
    // out of the rollups: `rollups::drift` after the race).
    let sketches = crate::helpers::sketch_buffer();
    for round in 0..2 {
        if round == 1 {
            tally::domain::fold::drain(db, &sketches)
                .await
                .map_err(|e| e.message())
                .expect("fold");
        }
        for (j, author) in setup.videos.iter().enumerate() {
            for viewer in vec![Some(ids[*author]); 2 - round] {
                tally::domain::analytics::record_view(
                    db,
                    &sketches,
                    viewer,
                    video_ids[j],
                    1_000,
                    entity::DeviceClass::Web,
                    chrono::Utc::now(),
                )
                .await
                .map_err(|e| e.message())
                .expect("view");
            }
        }
    }
    Round {
        ids,
        video_ids,
        captions: (0..setup.videos.len()).map(caption).collect(),
    }
}

fn new_video(caption: String) -> NewVideo {
    NewVideo {
        caption,
        hashtags: vec![],
        sound: None,
        duration_ms: None,
        media_url: "https://media.example.com/v.mp4".into(),
        thumbnail_url: None,
    }
}

fn code(e: AppError) -> &'static str {
    e.code()
}

/// Runs `op` through the domain, as the GraphQL mutation of the same name does.
async fn run(db: &DatabaseConnection, round: &Round, op: Op) -> Answer {
    let id = |i: usize| round.ids[i];
    match op {
        Op::Follow(f, a) => follow_user(db, id(f), id(a), now_us())
            .await
            .map(|(s, _)| format!("{s:?}"))
            .map_err(code),
        Op::Unfollow(f, a) => unfollow_user(db, id(f), id(a), now_us())
            .await
            .map(|b| b.to_string())
            .map_err(code),
        Op::Approve(a, f) => approve_follow_request(db, id(a), id(f), now_us())
            .await
            .map(|_| String::new())
            .map_err(code),
        Op::RemoveFollower(a, f) => remove_follower(db, id(a), id(f), now_us())
            .await
            .map(|_| String::new())
            .map_err(code),
        Op::Block(v, t) => block_user(db, id(v), id(t), now_us())
            .await
            .map(|_| String::new())
            .map_err(code),
        Op::Unblock(v, t) => unblock_user(db, id(v), id(t))
            .await
            .map(|b| b.to_string())
            .map_err(code),
        Op::Like(u, j) => like_video(db, id(u), round.video_ids[j], now_us())
            .await
            .map(|v| format!("count={}", v.like_count))
            .map_err(code),
        Op::Unlike(u, j) => unlike_video(db, id(u), round.video_ids[j], now_us())
            .await
            .map(|v| format!("count={}", v.like_count))
            .map_err(code),
        Op::SetVisibility(u, vis) => update_account(
            db,
            id(u),
            AccountChanges {
                visibility: Some(vis),
                ..Default::default()
            },
            Clock::System,
        )
        .await
        .map(|_| String::new())
        .map_err(code),
        Op::SetLikesVisibility(u, lv) => update_account(
            db,
            id(u),
            AccountChanges {
                likes_visibility: Some(lv),
                ..Default::default()
            },
            Clock::System,
        )
        .await
        .map(|_| String::new())
        .map_err(code),
        Op::Delete(u) => delete_account(db, id(u), String::new(), now_us())
            .await
            .map(|_| String::new())
            .map_err(code),
        Op::CreateVideo(u) => create_video(db, id(u), new_video(created_caption(u)), now_us())
            .await
            .map(|_| String::new())
            .map_err(code),
    }
}

/// The round's world as stored, with each video's counter.
async fn observe(db: &DatabaseConnection, round: &Round) -> (World, BTreeMap<String, i64>) {
    // An account outside the round (which cannot happen) shows as `usize::MAX`.
    let index = |id: Uuid| {
        round
            .ids
            .iter()
            .position(|x| *x == id)
            .unwrap_or(usize::MAX)
    };
    let mut w = World::default();
    let mut q = Sql::default();
    let ids = q.bind_list(&round.ids);
    q.push_unchecked(&format!(
        "SELECT id, visibility, likes_visibility FROM users WHERE id IN ({ids})"
    ));
    for r in q.all(db).await.expect("users") {
        let i = index(col(&r, "id").expect("id"));
        w.accounts.insert(
            i,
            Account {
                visibility: col(&r, "visibility").expect("visibility"),
                likes: col(&r, "likes_visibility").expect("likes"),
            },
        );
    }
    let mut q = Sql::default();
    let ids = q.bind_list(&round.ids);
    q.push_unchecked(&format!(
        "SELECT follower_id, followee_id, state FROM follows WHERE follower_id IN ({ids}) OR followee_id IN ({ids})"
    ));
    for r in q.all(db).await.expect("follows") {
        let f = index(col(&r, "follower_id").expect("f"));
        let a = index(col(&r, "followee_id").expect("a"));
        w.follows.insert((f, a), col(&r, "state").expect("state"));
    }
    let mut q = Sql::default();
    let ids = q.bind_list(&round.ids);
    q.push_unchecked(&format!(
        "SELECT blocker_id, blocked_id FROM blocks WHERE blocker_id IN ({ids}) OR blocked_id IN ({ids})"
    ));
    for r in q.all(db).await.expect("blocks") {
        let a = index(col(&r, "blocker_id").expect("a"));
        let b = index(col(&r, "blocked_id").expect("b"));
        w.blocks.insert((a, b));
    }
    let mut q = Sql::default();
    let ids = q.bind_list(&round.ids);
    q.push_unchecked(&format!(
        "SELECT v.caption, v.author_id, {} FROM videos v WHERE v.author_id IN ({ids})",
        counters::select_list("v")
    ));
    let mut counted = BTreeMap::new();
    for r in q.all(db).await.expect("videos") {
        let c: String = col(&r, "caption").expect("caption");
        w.videos
            .insert(c.clone(), index(col(&r, "author_id").expect("author")));
        counted.insert(c, col::<i64>(&r, "like_count").expect("count"));
    }
    // Every like on a video of the round or by an account of the round (a like by a deleted
    // account would show here with no account to name it).
    let mut q = Sql::default();
    let ids = q.bind_list(&round.ids);
    // (A round's videos are by its accounts; the nil UUID keeps `IN (…)` from being empty.)
    let vids = q.bind_list(&[&round.video_ids[..], &[Uuid::nil()]].concat());
    q.push_unchecked(&format!(
        "SELECT l.user_id, v.caption FROM likes l JOIN videos v ON v.id = l.video_id \
         WHERE l.user_id IN ({ids}) OR l.video_id IN ({vids}) OR v.author_id IN ({ids})"
    ));
    for r in q.all(db).await.expect("likes") {
        let l = index(col(&r, "user_id").expect("liker"));
        w.likes.insert((l, col(&r, "caption").expect("caption")));
    }
    // Counter and view rows of deleted videos must be gone too.
    let mut q = Sql::default();
    let vids = q.bind_list(&[&round.video_ids[..], &[Uuid::nil()]].concat());
    q.push_unchecked(&format!(
        "SELECT (SELECT COUNT(*) FROM video_like_counters c WHERE c.video_id IN ({vids}) \
         AND NOT EXISTS (SELECT 1 FROM videos v WHERE v.id = c.video_id)) \
         + (SELECT COUNT(*) FROM video_view_counters c WHERE c.video_id IN ({vids}) \
         AND NOT EXISTS (SELECT 1 FROM videos v WHERE v.id = c.video_id)) \
         + (SELECT COUNT(*) FROM video_views e WHERE e.video_id IN ({vids}) \
         AND NOT EXISTS (SELECT 1 FROM videos v WHERE v.id = e.video_id)) AS n"
    ));
    let orphans: i64 = col(&q.one(db).await.expect("orphans").expect("row"), "n").expect("n");
    counted.insert(ORPHANS.to_owned(), orphans);
    (w, counted)
}

/// The key of [`observe`]'s count of counter and view rows left by deleted videos.
const ORPHANS: &str = "counter and view rows of deleted videos";

/// Invariants every state must satisfy, whatever happened.
fn check_invariants(w: &World, counted: &BTreeMap<String, i64>) -> Result<(), String> {
    for (c, n) in counted {
        let rows = if c == ORPHANS {
            0
        } else {
            w.like_count(c) as i64
        };
        if *n != rows {
            return Err(format!("counter of {c:?} is {n}, rows {}", w.like_count(c)));
        }
    }
    for (f, a) in w.follows.keys() {
        if w.blocked_between(*f, *a) {
            return Err(format!("follow {f} → {a} between blocked accounts"));
        }
    }
    for (l, c) in &w.likes {
        if !w.exists(*l) {
            return Err(format!("like of {c:?} by deleted account {l}"));
        }
        if w.videos.get(c).is_some_and(|a| w.blocked_between(*l, *a)) {
            return Err(format!("like by {l} of {c:?} between blocked accounts"));
        }
    }
    for ((f, a), s) in &w.follows {
        if !w.exists(*f) || !w.exists(*a) {
            return Err(format!("follow {f} → {a} of a deleted account"));
        }
        if *s == FollowState::Pending && w.accounts[a].visibility == Visibility::Public {
            return Err(format!("request {f} → {a} pending on a public account"));
        }
    }
    Ok(())
}

/// Runs `rounds()` rounds of `a` racing `b` on worlds built from `setup(round)`; panics with
/// how many rounds broke the rules and the first failure.
async fn race(name: &str, setup: impl Fn(usize) -> Setup, a: Op, b: Op) {
    let h = Harness::new().await;
    let db = h.db.clone();
    let n = rounds();
    let mut failures = Vec::new();
    for r in 0..n {
        let s = setup(r);
        let round = Arc::new(build(&db, &s).await);
        let barrier = Arc::new(Barrier::new(2));
        let spawn = |op: Op| {
            let (db, round, barrier) = (db.clone(), round.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                run(&db, &round, op).await
            })
        };
        let (ta, tb) = (spawn(a), spawn(b));
        let (got_a, got_b) = (ta.await.expect("task a"), tb.await.expect("task b"));
        let (observed, counted) = observe(&db, &round).await;
        let serial = |first: Op, second: Op| {
            let mut w = s.world();
            let x = w.apply(first, &round.captions);
            let y = w.apply(second, &round.captions);
            (w, x, y)
        };
        let (w_ab, a1, b1) = serial(a, b);
        let (w_ba, b2, a2) = serial(b, a);
        let ab = w_ab == observed && a1 == got_a && b1 == got_b;
        let ba = w_ba == observed && a2 == got_a && b2 == got_b;
        let verdict = check_invariants(&observed, &counted).and_then(|()| {
            if ab || ba {
                Ok(())
            } else {
                Err(format!(
                    "no serial order explains it: answers {got_a:?} / {got_b:?}, state {observed:?}; \
                     a then b gives {a1:?} / {b1:?}, {w_ab:?}; b then a gives {a2:?} / {b2:?}, {w_ba:?}"
                ))
            }
        });
        if let Err(e) = verdict {
            failures.push(format!("round {r}: {e}"));
        }
    }
    let drift = counters::drift(&db).await.expect("drift");
    let rollups = tally::domain::rollups::drift(&db, true)
        .await
        .expect("rollup drift");
    assert!(
        failures.is_empty() && drift.is_empty() && rollups.is_empty(),
        "{name}: {} of {n} rounds broke the rules; counter drift {drift:?}; rollup drift {rollups:?}; first: {}",
        failures.len(),
        failures.first().map(String::as_str).unwrap_or("-")
    );
}

use LikesVisibility::{Everyone, Followers, OnlyMe};
use Visibility::{Private, Public};

/// Alternates a setting over the rounds, so both branches of a rule are raced.
fn alt<T: Copy>(round: usize, a: T, b: T) -> T {
    if round.is_multiple_of(2) {
        a
    } else {
        b
    }
}

// Account 0 is the victim V (the blocker, the author, the account that changes), account 1
// the other side X, video 0 is V's.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn block_races_follow() {
    let setup = |r| Setup {
        accounts: vec![(alt(r, Public, Private), Everyone), (Public, Everyone)],
        ..Default::default()
    };
    race("block × follow", setup, Op::Block(0, 1), Op::Follow(1, 0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn block_races_like() {
    let setup = |r| Setup {
        accounts: vec![(Public, Everyone), (Public, alt(r, Everyone, Followers))],
        videos: vec![0],
        ..Default::default()
    };
    race("block × like", setup, Op::Block(0, 1), Op::Like(1, 0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn block_by_the_liker_races_its_like() {
    let setup = |_| Setup {
        accounts: vec![(Public, Everyone), (Public, Everyone)],
        videos: vec![0],
        ..Default::default()
    };
    race(
        "block by X × X's like",
        setup,
        Op::Block(1, 0),
        Op::Like(1, 0),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn block_races_approve() {
    let setup = |_| Setup {
        accounts: vec![(Private, Everyone), (Public, Everyone)],
        follows: vec![(1, 0, FollowState::Pending)],
        ..Default::default()
    };
    race("block × approve", setup, Op::Block(1, 0), Op::Approve(0, 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn block_races_turning_public() {
    let setup = |_| Setup {
        accounts: vec![(Private, Everyone), (Public, Everyone)],
        follows: vec![(1, 0, FollowState::Pending)],
        ..Default::default()
    };
    race(
        "block × visibility change",
        setup,
        Op::Block(1, 0),
        Op::SetVisibility(0, Public),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_account_races_its_like() {
    let setup = |r| Setup {
        accounts: vec![(Public, Everyone), (Public, alt(r, Everyone, OnlyMe))],
        videos: vec![0],
        ..Default::default()
    };
    race("deleteAccount × like", setup, Op::Delete(1), Op::Like(1, 0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_account_races_a_like_of_its_video() {
    let setup = |_| Setup {
        accounts: vec![(Public, Everyone), (Public, Everyone)],
        videos: vec![0],
        ..Default::default()
    };
    race(
        "deleteAccount of the author × like",
        setup,
        Op::Delete(0),
        Op::Like(1, 0),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_account_races_follow() {
    let setup = |r| Setup {
        accounts: vec![(alt(r, Public, Private), Everyone), (Public, Everyone)],
        ..Default::default()
    };
    race(
        "deleteAccount × follow",
        setup,
        Op::Delete(0),
        Op::Follow(1, 0),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_account_races_block() {
    let setup = |_| Setup {
        accounts: vec![(Public, Everyone), (Public, Everyone)],
        videos: vec![0, 1],
        likes: vec![(1, 0), (0, 1)],
        follows: vec![(0, 1, FollowState::Approved), (1, 0, FollowState::Approved)],
        ..Default::default()
    };
    race(
        "deleteAccount × block",
        setup,
        Op::Delete(1),
        Op::Block(0, 1),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_account_races_create_video() {
    let setup = |_| Setup {
        accounts: vec![(Public, Everyone)],
        ..Default::default()
    };
    race(
        "deleteAccount × createVideo",
        setup,
        Op::Delete(0),
        Op::CreateVideo(0),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_account_races_approve() {
    let setup = |_| Setup {
        accounts: vec![(Private, Everyone), (Public, Everyone)],
        follows: vec![(1, 0, FollowState::Pending)],
        ..Default::default()
    };
    race(
        "deleteAccount of the requester × approve",
        setup,
        Op::Delete(1),
        Op::Approve(0, 1),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn likes_visibility_change_races_the_likers_like() {
    let setup = |r| Setup {
        accounts: vec![(Public, Everyone), (alt(r, Public, Private), Everyone)],
        videos: vec![0, 0],
        likes: vec![(1, 1)],
        ..Default::default()
    };
    race(
        "likesVisibility change × like",
        setup,
        Op::SetLikesVisibility(1, Followers),
        Op::Like(1, 0),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn turning_private_races_a_strangers_like() {
    let setup = |_| Setup {
        accounts: vec![(Public, Everyone), (Public, Everyone)],
        videos: vec![0],
        ..Default::default()
    };
    race(
        "visibility change × like",
        setup,
        Op::SetVisibility(0, Private),
        Op::Like(1, 0),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn turning_public_races_follow() {
    let setup = |_| Setup {
        accounts: vec![(Private, Everyone), (Public, Everyone), (Public, Everyone)],
        follows: vec![(2, 0, FollowState::Pending)],
        ..Default::default()
    };
    race(
        "visibility change × follow",
        setup,
        Op::SetVisibility(0, Public),
        Op::Follow(1, 0),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unfollow_races_like_of_a_private_account() {
    let setup = |_| Setup {
        accounts: vec![(Private, Everyone), (Public, Everyone)],
        follows: vec![(1, 0, FollowState::Approved)],
        videos: vec![0],
        ..Default::default()
    };
    race("unfollow × like", setup, Op::Unfollow(1, 0), Op::Like(1, 0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn remove_follower_races_like() {
    let setup = |_| Setup {
        accounts: vec![(Private, Everyone), (Public, Everyone)],
        follows: vec![(1, 0, FollowState::Approved)],
        videos: vec![0],
        ..Default::default()
    };
    race(
        "removeFollower × like",
        setup,
        Op::RemoveFollower(0, 1),
        Op::Like(1, 0),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn like_races_unlike() {
    let setup = |r| Setup {
        accounts: vec![(Public, Everyone), (Public, alt(r, Everyone, Followers))],
        videos: vec![0],
        likes: if r % 4 < 2 { vec![(1, 0)] } else { vec![] },
        ..Default::default()
    };
    race("like × unlike", setup, Op::Like(1, 0), Op::Unlike(1, 0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unblock_races_follow() {
    let setup = |_| Setup {
        accounts: vec![(Public, Everyone), (Public, Everyone)],
        blocks: vec![(0, 1)],
        ..Default::default()
    };
    race(
        "unblock × follow",
        setup,
        Op::Unblock(0, 1),
        Op::Follow(1, 0),
    )
    .await;
}
