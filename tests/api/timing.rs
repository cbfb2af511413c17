//! "No side channel through time" (PRIVACY.md, "Not revealing"): a list that an
//! account-level rule hides from the viewer (Rule V on the author; a liker's audience the
//! viewer does not reach) is decided before any row is read, so what it costs does not depend
//! on how many rows it hides. Tested without a clock:
//!
//! - SQLite: the pool has one connection, with a progress handler that counts the virtual
//!   machine's steps; a hidden list must cost exactly as many steps with N hidden rows as with
//!   none (and a visible one must cost more with N rows than with none, or the meter is blind);
//! - PostgreSQL: every statement the request ran (SeaORM's metric callback) is run again under
//!   `EXPLAIN (ANALYZE, FORMAT JSON)`; a hidden list must never execute a scan of `videos` or
//!   `likes` (`Actual Loops` 0 on every such node).
//!
//! Plus the answers over HTTP, path by path: empty lists for hidden ones, `null` where the
//! account is separated by a block, the rows for those who may see them.
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex,
};

use entity::{Audience, FollowState, LikesVisibility, Visibility};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{json, Value};
use tally::{
    db::Sql,
    domain::{
        page::PageRequest,
        videos::{liked_videos, videos_by},
    },
    privacy::audience,
};
use uuid::Uuid;

use crate::helpers::{
    fresh_db_with_pool, insert_account, insert_block, insert_follow, token_for, uid, Harness,
    TestApp,
};

/// Rows behind each "many" account (videos posted, or likes given).
const N: usize = 30;

/// What a request cost, in a unit that does not depend on the clock.
#[derive(Clone)]
enum Meter {
    /// Virtual-machine steps on SQLite's one connection.
    Steps(Arc<AtomicU64>),
    /// The statements run on PostgreSQL, to be explained afterwards.
    Statements(Arc<Mutex<Vec<Statement>>>),
}

/// A fresh database with a meter on it (one connection on SQLite, so that every statement
/// runs on the connection the progress handler is installed on).
async fn metered_db() -> (DatabaseConnection, Meter) {
    let mut db = fresh_db_with_pool(1).await;
    if db.get_database_backend() == DbBackend::Sqlite {
        let steps = Arc::new(AtomicU64::new(0));
        let counter = steps.clone();
        let mut conn = db
            .get_sqlite_connection_pool()
            .acquire()
            .await
            .expect("the pool's connection");
        conn.lock_handle()
            .await
            .expect("lock the connection")
            .set_progress_handler(1, move || {
                counter.fetch_add(1, Ordering::Relaxed);
                true
            });
        drop(conn);
        (db, Meter::Steps(steps))
    } else {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        db.set_metric_callback(move |info| {
            sink.lock()
                .expect("statements")
                .push(info.statement.clone());
        });
        (db, Meter::Statements(seen))
    }
}

/// Plan nodes of `plan` that scan `videos` or `likes`: (times executed, rows read in all).
fn scans(plan: &Value, out: &mut Vec<(String, u64, u64)>) {
    if let Some(rel) = plan["Relation Name"].as_str() {
        if rel == "videos" || rel == "likes" {
            let loops = plan["Actual Loops"].as_f64().unwrap_or(0.0);
            // Per loop: rows produced plus rows the scan read and dropped.
            let per_loop = plan["Actual Rows"].as_f64().unwrap_or(0.0)
                + plan["Rows Removed by Filter"].as_f64().unwrap_or(0.0);
            let rows = per_loop * loops;
            out.push((rel.to_owned(), loops as u64, rows as u64));
        }
    }
    for child in plan["Plans"].as_array().into_iter().flatten() {
        scans(child, out);
    }
}

impl Meter {
    fn reset(&self) {
        match self {
            Meter::Steps(n) => n.store(0, Ordering::SeqCst),
            Meter::Statements(s) => s.lock().expect("statements").clear(),
        }
    }

    /// What was run since the last reset: SQLite's step count, or on PostgreSQL the number
    /// of times a scan of `videos`/`likes` was executed plus the rows those scans read.
    async fn read(&self, db: &DatabaseConnection) -> u64 {
        match self {
            Meter::Steps(n) => n.load(Ordering::SeqCst),
            Meter::Statements(s) => {
                let statements: Vec<Statement> = std::mem::take(&mut *s.lock().expect("s"));
                let mut touched = 0;
                for st in statements {
                    let sql = st.sql.trim_start();
                    if !(sql.starts_with("SELECT") || sql.starts_with("WITH")) {
                        continue;
                    }
                    let explain = Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        format!("EXPLAIN (ANALYZE, FORMAT JSON) {sql}"),
                        st.values.clone().map(|v| v.0).unwrap_or_default(),
                    );
                    let row = db
                        .query_one_raw(explain)
                        .await
                        .expect("explain")
                        .expect("a plan");
                    let plan: Value = row.try_get_by_index(0).expect("plan json");
                    let mut found = Vec::new();
                    scans(&plan[0]["Plan"], &mut found);
                    touched += found.iter().map(|(_, l, r)| l + r).sum::<u64>();
                }
                // The EXPLAIN statements themselves went through the callback too.
                s.lock().expect("s").clear();
                touched
            }
        }
    }

    /// Whether a cost read by [`Meter::read`] means "no row of a hidden list was read":
    /// on PostgreSQL no scan of `videos`/`likes` ran at all; on SQLite only the comparison
    /// with the same request over no rows can tell (see the callers).
    fn none_read(&self, cost: u64) -> bool {
        match self {
            Meter::Steps(_) => true,
            Meter::Statements(_) => cost == 0,
        }
    }
}

/// Inserts `n` videos by `author` (times `t0 + i`), returning their IDs.
async fn insert_videos(db: &DatabaseConnection, author: Uuid, n: usize, t0: i64) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = Uuid::now_v7();
        let mut q = Sql::default();
        let parts = [
            q.bind(id),
            q.bind(author),
            q.bind("c"),
            q.bind("[]"),
            q.bind(t0 + i as i64),
        ];
        q.push_unchecked(&format!(
            "INSERT INTO videos (id, author_id, caption, hashtags, created_at) VALUES ({})",
            tally::db::Frag::join(parts, ", ")
        ));
        q.execute(db).await.expect("insert video");
        ids.push(id);
    }
    ids
}

/// `liker` likes every one of `videos`, labelled with its audience.
async fn insert_likes(db: &DatabaseConnection, liker: Uuid, aud: Audience, videos: &[Uuid]) {
    for (i, v) in videos.iter().enumerate() {
        let mut q = Sql::default();
        let parts = [
            q.bind(*v),
            q.bind(liker),
            q.bind(aud),
            q.bind(crate::helpers::now_us() + i as i64),
        ];
        q.push_unchecked(&format!(
            "INSERT INTO likes (video_id, user_id, audience, created_at) VALUES ({})",
            tally::db::Frag::join(parts, ", ")
        ));
        q.execute(db).await.expect("insert like");
    }
}

/// Pairs of accounts alike but for their rows: `[0]` with none, `[1]` with [`N`].
struct World {
    stranger: Uuid,
    /// Approved follower of every account below.
    follower: Uuid,
    /// Pending follow request to every account below.
    requester: Uuid,
    only_me: [Uuid; 2],
    followers: [Uuid; 2],
    private_liker: [Uuid; 2],
    private_author: [Uuid; 2],
    /// Private, `ONLY_ME`, with N videos and N likes (index 1).
    private_only_me: [Uuid; 2],
    /// Public authors with videos that blocked the stranger.
    blocker: [Uuid; 2],
}

async fn world(db: &DatabaseConnection) -> World {
    use LikesVisibility as L;
    use Visibility as V;
    let stranger = insert_account(db, "stranger", V::Public, L::Everyone).await;
    let follower = insert_account(db, "follower", V::Public, L::Everyone).await;
    let requester = insert_account(db, "requester", V::Public, L::Everyone).await;
    let creator = insert_account(db, "creator", V::Public, L::Everyone).await;
    let liked = insert_videos(db, creator, N, 1_000).await;
    let pair = |handle: &'static str, vis: V, lv: L, videos: bool, likes: bool| {
        let db = db.clone();
        let liked = liked.clone();
        async move {
            let mut out = [Uuid::nil(); 2];
            for (i, slot) in out.iter_mut().enumerate() {
                let id = insert_account(&db, &format!("{handle}{i}"), vis, lv).await;
                if i == 1 && videos {
                    insert_videos(&db, id, N, 10_000).await;
                }
                if i == 1 && likes {
                    insert_likes(&db, id, audience(vis, lv), &liked).await;
                }
                *slot = id;
            }
            out
        }
    };
    let only_me = pair("onlyme", V::Public, L::OnlyMe, false, true).await;
    let followers = pair("followers", V::Public, L::Followers, false, true).await;
    let private_liker = pair("privliker", V::Private, L::Everyone, false, true).await;
    let private_author = pair("privauthor", V::Private, L::Everyone, true, false).await;
    let private_only_me = pair("privonlyme", V::Private, L::OnlyMe, true, true).await;
    let blocker = pair("blocker", V::Public, L::Everyone, true, true).await;
    for accounts in [
        only_me,
        followers,
        private_liker,
        private_author,
        private_only_me,
    ] {
        for a in accounts {
            insert_follow(db, follower, a, FollowState::Approved).await;
            insert_follow(db, requester, a, FollowState::Pending).await;
        }
    }
    for b in blocker {
        insert_block(db, b, stranger).await;
    }
    World {
        stranger,
        follower,
        requester,
        only_me,
        followers,
        private_liker,
        private_author,
        private_only_me,
        blocker,
    }
}

/// (what, viewer, query, the pair of accounts, handle prefix)
type HiddenCase<'a> = (&'a str, Option<Uuid>, &'a str, [Uuid; 2], &'a str);
/// (what, token, query, field, accounts, expected edges for each; `None`: `null`)
type HttpCase<'a> = (
    &'a str,
    &'a Option<String>,
    &'a str,
    &'a str,
    [Uuid; 2],
    [Option<usize>; 2],
);

const LIKED: &str =
    "query($id: ID!) { node(id: $id) { ... on User { likedVideos(first: 20) { edges { node { id likeCount } } } } } }";
const VIDEOS: &str =
    "query($id: ID!) { node(id: $id) { ... on User { videos(first: 20) { edges { node { id likeCount } } } } } }";
const BOTH: &str =
    "query($h: String!) { user(handle: $h) { videos(first: 20) { edges { node { id } } } \
    likedVideos(first: 20) { edges { node { id } } } } }";

/// The cost of `query` about `account` as `viewer`.
async fn cost(
    h: &Harness,
    meter: &Meter,
    viewer: Option<Uuid>,
    query: &str,
    account: Uuid,
    handle: &str,
) -> (u64, Value) {
    let vars = json!({ "id": uid(account), "h": handle });
    // Once unmeasured: the first run of a statement also prepares it.
    h.ok(viewer, query, vars.clone()).await;
    meter.reset();
    let data = h.ok(viewer, query, vars).await;
    (meter.read(&h.db).await, data)
}

/// Number of edges of every connection in `data` (to tell a list that was read from one
/// that was not).
fn edges(data: &Value) -> usize {
    match data {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                if k == "edges" {
                    v.as_array().map_or(0, Vec::len)
                } else {
                    edges(v)
                }
            })
            .sum(),
        Value::Array(a) => a.iter().map(edges).sum(),
        _ => 0,
    }
}

#[tokio::test]
async fn a_hidden_list_reads_no_row_whatever_it_hides() {
    let (db, meter) = metered_db().await;
    let w = world(&db).await;
    let h = Harness::with_db(db.clone());
    let (s, f, r) = (Some(w.stranger), Some(w.follower), Some(w.requester));
    // (what, viewer, query, the pair of accounts, handle prefix)
    let hidden: Vec<HiddenCase> = vec![
        ("ONLY_ME likes, stranger", s, LIKED, w.only_me, "onlyme"),
        ("ONLY_ME likes, anonymous", None, LIKED, w.only_me, "onlyme"),
        ("ONLY_ME likes, follower", f, LIKED, w.only_me, "onlyme"),
        (
            "FOLLOWERS likes, stranger",
            s,
            LIKED,
            w.followers,
            "followers",
        ),
        (
            "FOLLOWERS likes, requester",
            r,
            LIKED,
            w.followers,
            "followers",
        ),
        (
            "FOLLOWERS likes, anonymous",
            None,
            LIKED,
            w.followers,
            "followers",
        ),
        (
            "private liker, stranger",
            s,
            LIKED,
            w.private_liker,
            "privliker",
        ),
        (
            "private liker, requester",
            r,
            LIKED,
            w.private_liker,
            "privliker",
        ),
        (
            "private liker, anonymous",
            None,
            LIKED,
            w.private_liker,
            "privliker",
        ),
        (
            "private videos, stranger",
            s,
            VIDEOS,
            w.private_author,
            "privauthor",
        ),
        (
            "private videos, requester",
            r,
            VIDEOS,
            w.private_author,
            "privauthor",
        ),
        (
            "private videos, anonymous",
            None,
            VIDEOS,
            w.private_author,
            "privauthor",
        ),
        (
            "private ONLY_ME, both lists, stranger",
            s,
            BOTH,
            w.private_only_me,
            "privonlyme",
        ),
        (
            "private ONLY_ME, both lists, anonymous",
            None,
            BOTH,
            w.private_only_me,
            "privonlyme",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, viewer, query, pair, handle) in hidden {
        let (none, d0) = cost(&h, &meter, viewer, query, pair[0], &format!("{handle}0")).await;
        let (many, d1) = cost(&h, &meter, viewer, query, pair[1], &format!("{handle}1")).await;
        if edges(&d0) + edges(&d1) != 0 {
            wrong.push(format!("{what}: a hidden list has rows: {d0} / {d1}"));
        }
        if many != none || !meter.none_read(many) {
            wrong.push(format!(
                "{what}: cost {none} with no hidden rows, {many} with {N}"
            ));
        }
    }
    // A blocked pair is `null` above the lists; the domain's own statements decide it first too.
    let req = PageRequest::new(20, None).expect("page");
    for list in ["videos", "likedVideos"] {
        let mut costs = Vec::new();
        for b in w.blocker {
            let mut page = Err(tally::error::AppError::NotFound);
            // The second run is measured (the first prepares the statement).
            for _ in 0..2 {
                meter.reset();
                page = if list == "videos" {
                    videos_by(&db, s, b, req).await
                } else {
                    liked_videos(&db, s, b, req).await
                };
            }
            let page = page.expect("page");
            costs.push((meter.read(&db).await, page.items.len()));
        }
        if costs[0] != costs[1] || costs[1].1 != 0 || !meter.none_read(costs[1].0) {
            wrong.push(format!("blocked pair, {list}: (cost, rows) {costs:?}"));
        }
    }
    // The meter sees rows when they may be read: the same requests by those who may see them
    // cost more with N rows than with none.
    let visible: Vec<(&str, Option<Uuid>, &str, [Uuid; 2])> = vec![
        ("own ONLY_ME likes", Some(w.only_me[1]), LIKED, w.only_me),
        ("FOLLOWERS likes, follower", f, LIKED, w.followers),
        ("private videos, follower", f, VIDEOS, w.private_author),
    ];
    for (what, viewer, query, pair) in visible {
        // The owner asks about itself; compare its list with the empty twin's as seen by the twin.
        let twin = if viewer == Some(pair[1]) {
            Some(pair[0])
        } else {
            viewer
        };
        let (none, _) = cost(&h, &meter, twin, query, pair[0], "").await;
        let (many, d1) = cost(&h, &meter, viewer, query, pair[1], "").await;
        if edges(&d1) != N.min(20) || many <= none {
            wrong.push(format!(
                "{what}: visible list: cost {none} with no rows, {many} with {N}, {} edges",
                edges(&d1)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The feed reads no video of a private account the viewer does not follow: signed in it is
/// driven by the viewer's own and followed accounts; anonymous it walks the public authors'
/// videos (`videos.author_private`). Both cost the same before and after a private account
/// posts N videos newer than every video of the feed; and when that account turns public,
/// the anonymous feed shows them (the trigger that keeps `author_private` ran).
#[tokio::test]
async fn the_feed_does_not_read_videos_of_private_accounts_it_does_not_follow() {
    use LikesVisibility as L;
    use Visibility as V;
    let (db, meter) = metered_db().await;
    let viewer = insert_account(&db, "viewer", V::Public, L::Everyone).await;
    let followed = insert_account(&db, "followed", V::Public, L::Everyone).await;
    let private = insert_account(&db, "private", V::Private, L::Everyone).await;
    insert_follow(&db, viewer, followed, FollowState::Approved).await;
    let shown = insert_videos(&db, followed, 5, 1_000).await;
    let h = Harness::with_db(db.clone());
    let q = "{ feed(first: 20) { edges { node { id } } } }";
    let measure = |who: Option<Uuid>| {
        let (h, meter) = (&h, &meter);
        async move {
            h.ok(who, q, json!({})).await;
            meter.reset();
            let data = h.ok(who, q, json!({})).await;
            (meter.read(&h.db).await, data)
        }
    };
    let before = [measure(Some(viewer)).await, measure(None).await];
    // N private videos, newer than every video of the feed.
    insert_videos(&db, private, N, 5_000).await;
    let after = [measure(Some(viewer)).await, measure(None).await];
    for (who, (b, a)) in ["signed in", "anonymous"]
        .iter()
        .zip(before.iter().zip(&after))
    {
        assert_eq!(b.1, a.1, "{who}: the feed changed");
        assert_eq!(edges(&a.1), shown.len(), "{who}");
        // SQLite: the same steps; PostgreSQL: the same rows of `videos` scanned.
        assert_eq!(b.0, a.0, "{who}: feed cost grew with {N} hidden videos");
    }
    let public = tally::domain::accounts::AccountChanges {
        visibility: Some(V::Public),
        ..Default::default()
    };
    tally::domain::accounts::update_account(&db, private, public, tally::clock::Clock::System)
        .await
        .expect("turn public");
    let (_, now) = measure(None).await;
    assert_eq!(
        edges(&now),
        20,
        "the anonymous feed after turning public: {now}"
    );
}

/// Every path over HTTP: hidden lists are empty (the same answer whatever they hide), an
/// account separated by a block is `null`, and those who may see the rows get them.
#[tokio::test]
async fn hidden_lists_answer_over_http_as_if_empty() {
    let app = TestApp::spawn().await;
    let w = world(&app.db).await;
    let (stranger, follower, requester) = (
        Some(token_for(&app.db, w.stranger).await),
        Some(token_for(&app.db, w.follower).await),
        Some(token_for(&app.db, w.requester).await),
    );
    let list = |d: &Value, field: &str| -> Option<usize> {
        let node = &d["data"]["node"];
        (!node.is_null()).then(|| node[field]["edges"].as_array().map_or(0, Vec::len))
    };
    let mut wrong = Vec::new();
    // (what, token, query, field, accounts, expected edges for [0] and [1]; None = null)
    let cases: Vec<HttpCase> = vec![
        (
            "ONLY_ME, stranger",
            &stranger,
            LIKED,
            "likedVideos",
            w.only_me,
            [Some(0), Some(0)],
        ),
        (
            "ONLY_ME, anonymous",
            &None,
            LIKED,
            "likedVideos",
            w.only_me,
            [Some(0), Some(0)],
        ),
        (
            "ONLY_ME, follower",
            &follower,
            LIKED,
            "likedVideos",
            w.only_me,
            [Some(0), Some(0)],
        ),
        (
            "FOLLOWERS, stranger",
            &stranger,
            LIKED,
            "likedVideos",
            w.followers,
            [Some(0), Some(0)],
        ),
        (
            "FOLLOWERS, requester",
            &requester,
            LIKED,
            "likedVideos",
            w.followers,
            [Some(0), Some(0)],
        ),
        (
            "FOLLOWERS, anonymous",
            &None,
            LIKED,
            "likedVideos",
            w.followers,
            [Some(0), Some(0)],
        ),
        (
            "FOLLOWERS, follower",
            &follower,
            LIKED,
            "likedVideos",
            w.followers,
            [Some(0), Some(20)],
        ),
        (
            "private liker, stranger",
            &stranger,
            LIKED,
            "likedVideos",
            w.private_liker,
            [Some(0), Some(0)],
        ),
        (
            "private liker, anonymous",
            &None,
            LIKED,
            "likedVideos",
            w.private_liker,
            [Some(0), Some(0)],
        ),
        (
            "private liker, requester",
            &requester,
            LIKED,
            "likedVideos",
            w.private_liker,
            [Some(0), Some(0)],
        ),
        (
            "private liker, follower",
            &follower,
            LIKED,
            "likedVideos",
            w.private_liker,
            [Some(0), Some(20)],
        ),
        (
            "private videos, stranger",
            &stranger,
            VIDEOS,
            "videos",
            w.private_author,
            [Some(0), Some(0)],
        ),
        (
            "private videos, anonymous",
            &None,
            VIDEOS,
            "videos",
            w.private_author,
            [Some(0), Some(0)],
        ),
        (
            "private videos, requester",
            &requester,
            VIDEOS,
            "videos",
            w.private_author,
            [Some(0), Some(0)],
        ),
        (
            "private videos, follower",
            &follower,
            VIDEOS,
            "videos",
            w.private_author,
            [Some(0), Some(20)],
        ),
        (
            "private ONLY_ME videos, follower",
            &follower,
            VIDEOS,
            "videos",
            w.private_only_me,
            [Some(0), Some(20)],
        ),
        (
            "private ONLY_ME likes, follower",
            &follower,
            LIKED,
            "likedVideos",
            w.private_only_me,
            [Some(0), Some(0)],
        ),
        (
            "blocker's videos, stranger",
            &stranger,
            VIDEOS,
            "videos",
            w.blocker,
            [None, None],
        ),
        (
            "blocker's likes, stranger",
            &stranger,
            LIKED,
            "likedVideos",
            w.blocker,
            [None, None],
        ),
        (
            "blocker's videos, anonymous",
            &None,
            VIDEOS,
            "videos",
            w.blocker,
            [Some(0), Some(20)],
        ),
    ];
    for (what, tok, query, field, pair, expected) in cases {
        for i in 0..2 {
            let (status, d) = app
                .gql(tok.as_deref(), query, json!({ "id": uid(pair[i]) }))
                .await;
            let got = list(&d, field);
            if status != 200 || d.get("errors").is_some() || got != expected[i] {
                wrong.push(format!(
                    "{what} [{i}]: {status} {d}, expected {:?}",
                    expected[i]
                ));
            }
        }
    }
    // The liker itself sees its own likes, whatever its settings.
    for pair in [w.only_me, w.followers, w.private_liker, w.private_only_me] {
        let own = token_for(&app.db, pair[1]).await;
        let (_, d) = app
            .gql(Some(&own), LIKED, json!({ "id": uid(pair[1]) }))
            .await;
        if list(&d, "likedVideos") != Some(20) {
            wrong.push(format!("own likedVideos: {d}"));
        }
    }
    // A hidden video by ID is `null`, for anonymous and stranger alike.
    let mut q = Sql::default();
    let a = q.bind(w.private_author[1]);
    q.push_unchecked(&format!(
        "SELECT id FROM videos WHERE author_id = {a} LIMIT 1"
    ));
    let row = q.one(&app.db).await.expect("read").expect("a video");
    let video: Uuid = tally::db::col(&row, "id").expect("id");
    for tok in [&stranger, &None, &requester] {
        let (_, d) = app
            .gql(
                tok.as_deref(),
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": crate::helpers::vid(video) }),
            )
            .await;
        if !d["data"]["node"].is_null() || d.get("errors").is_some() {
            wrong.push(format!("hidden video by node: {d}"));
        }
    }
    // The feed: the stranger follows no one here and sees only its own (none); the follower
    // sees the private authors' videos it follows.
    let feed = "{ feed(first: 50) { edges { node { author { handle } } } } }";
    let (_, d) = app.gql(stranger.as_deref(), feed, json!({})).await;
    if d["data"]["feed"]["edges"].as_array().map(Vec::len) != Some(0) {
        wrong.push(format!("stranger's feed: {d}"));
    }
    let (_, d) = app.gql(follower.as_deref(), feed, json!({})).await;
    let authors: Vec<&str> = d["data"]["feed"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["node"]["author"]["handle"].as_str())
        .collect();
    if authors.len() != 50 || authors.iter().any(|a| !a.starts_with("priv")) {
        wrong.push(format!("follower's feed: {authors:?}"));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
