//! The durable view path (issue 12): the fold job folds `video_views` rows into
//! `creator_hours` and `video_days` exactly once (idempotent across rolled-back folds, shared
//! by several folders on PostgreSQL), flushes the viewer-sketch buffer as unions, and a
//! deleted video's views leave the hours they happened in — with `rollups::drift` empty
//! after every race.
use std::{collections::BTreeMap, sync::Arc};

use chrono::{DateTime, Utc};
use entity::{DeviceClass, FollowState, LikesVisibility, Visibility};
use sea_orm::{DatabaseConnection, TransactionTrait};
use tally::{
    db::Sql,
    domain::{
        analytics::record_view,
        fold::{self, drain, flush_sketches, fold_batch, fold_in},
        rollups::{self, DAY_US, HOUR_US},
        sketch::{self, SketchBuffer},
        videos::{delete_video, NewVideo},
    },
};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::helpers::{fresh_db_with_pool, insert_account, insert_follow, sketch_buffer};

/// 2026-03-02 (a Monday) 00:00 UTC, in microseconds.
const T0: i64 = 1_772_409_600_000_000;

fn at(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).expect("instant")
}

fn postgres() -> bool {
    std::env::var("TALLY_TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres"))
}

async fn account(db: &DatabaseConnection, handle: &str) -> Uuid {
    insert_account(db, handle, Visibility::Public, LikesVisibility::Everyone).await
}

/// An account with demographics: birth year, region, language.
async fn fan(db: &DatabaseConnection, handle: &str, year: i32, region: &str, lang: &str) -> Uuid {
    let id = account(db, handle).await;
    let mut q = Sql::default();
    let (y, r, l, me) = (
        q.bind(year),
        q.bind(region.to_owned()),
        q.bind(lang.to_owned()),
        q.bind(id),
    );
    q.push_unchecked(&format!(
        "UPDATE users SET birth_year = {y}, region = {r}, language = {l} WHERE id = {me}"
    ));
    q.execute(db).await.expect("demographics");
    id
}

async fn video(db: &DatabaseConnection, author: Uuid) -> Uuid {
    let input = NewVideo {
        caption: "c".into(),
        hashtags: vec![],
        sound: None,
        duration_ms: None,
        media_url: "https://media.example.com/v.mp4".into(),
        thumbnail_url: None,
    };
    crate::helpers::make_video(db, author, input, T0).await
}

async fn view(
    db: &DatabaseConnection,
    sketches: &SketchBuffer,
    viewer: Option<Uuid>,
    video: Uuid,
    watch: i32,
    t: i64,
) {
    record_view(db, sketches, viewer, video, watch, DeviceClass::Ios, at(t))
        .await
        .map_err(|e| e.message())
        .expect("view");
}

/// Sums of a query's single-row `BIGINT` columns `a`, `b`, `c` (0 when NULL).
async fn sums(db: &DatabaseConnection, sql: &str) -> [i64; 3] {
    let mut q = Sql::default();
    q.push_unchecked(sql);
    let row = q.one(db).await.expect("query").expect("a row");
    let g = |c: &str| row.try_get::<Option<i64>>("", c).expect(c).unwrap_or(0);
    [g("a"), g("b"), g("c")]
}

/// `creator`'s view figures per hour (from T0): (hour, views, watch ms, follower views).
async fn creator_hours(db: &DatabaseConnection, creator: Uuid) -> Vec<(i64, i64, i64, i64)> {
    let mut q = Sql::default();
    let c = q.bind(creator);
    q.push_unchecked(&format!(
        "SELECT hour, CAST(SUM(views) AS BIGINT) AS n, CAST(SUM(watch_ms) AS BIGINT) AS w, \
         CAST(SUM(follower_views) AS BIGINT) AS f FROM creator_hours WHERE creator_id = {c} \
         GROUP BY hour HAVING SUM(views) <> 0 ORDER BY hour"
    ));
    q.all(db)
        .await
        .expect("hours")
        .iter()
        .map(|r| {
            let g = |c: &str| r.try_get::<i64>("", c).expect(c);
            ((g("hour") - T0) / HOUR_US, g("n"), g("w"), g("f"))
        })
        .collect()
}

/// `video`'s view figures per day (from T0's day): (day, views, watch ms).
async fn video_days(db: &DatabaseConnection, video: Uuid) -> Vec<(i64, i64, i64)> {
    let mut q = Sql::default();
    let v = q.bind(video);
    q.push_unchecked(&format!(
        "SELECT day, CAST(SUM(views) AS BIGINT) AS n, CAST(SUM(watch_ms) AS BIGINT) AS w \
         FROM video_days WHERE video_id = {v} GROUP BY day HAVING SUM(views) <> 0 ORDER BY day"
    ));
    q.all(db)
        .await
        .expect("days")
        .iter()
        .map(|r| {
            let day: i32 = r.try_get("", "day").expect("day");
            let g = |c: &str| r.try_get::<i64>("", c).expect(c);
            (i64::from(day) - T0 / DAY_US, g("n"), g("w"))
        })
        .collect()
}

/// The estimated viewers of `creator`'s sketches per (day from T0, dimension, key).
async fn sketches(db: &DatabaseConnection, creator: Uuid) -> BTreeMap<(i64, String, String), u64> {
    let mut q = Sql::default();
    let c = q.bind(creator);
    q.push_unchecked(&format!(
        "SELECT day, dimension, key, sketch FROM viewer_sketches WHERE creator_id = {c}"
    ));
    q.all(db)
        .await
        .expect("sketches")
        .iter()
        .map(|r| {
            let day: i32 = r.try_get("", "day").expect("day");
            let bytes: Vec<u8> = r.try_get("", "sketch").expect("sketch");
            let n = sketch::decode(&bytes).expect("decodes").estimate() as u64;
            (
                (
                    i64::from(day) - T0 / DAY_US,
                    r.try_get("", "dimension").expect("dimension"),
                    r.try_get("", "key").expect("key"),
                ),
                n,
            )
        })
        .collect()
}

async fn unfolded(db: &DatabaseConnection) -> i64 {
    sums(
        db,
        "SELECT COUNT(*) AS a, CAST(0 AS BIGINT) AS b, CAST(0 AS BIGINT) AS c \
         FROM video_views WHERE folded = 0",
    )
    .await[0]
}

async fn no_drift(db: &DatabaseConnection, when: &str) {
    let drift = rollups::drift(db, true).await.expect("drift");
    assert!(drift.is_empty(), "{when}: {drift:?}");
}

#[tokio::test]
async fn folded_views_land_in_their_creator_hour_and_video_day_once() {
    let db = fresh_db_with_pool(4).await;
    let buffer = sketch_buffer();
    let creator = account(&db, "maker").await;
    let (a, b) = (video(&db, creator).await, video(&db, creator).await);
    let follower = fan(&db, "follower", 2000, "DE", "de").await;
    insert_follow(&db, follower, creator, FollowState::Approved).await;
    let stranger = fan(&db, "stranger", 1990, "BR", "pt-BR").await;
    // Hour 1: two views of a by the follower, one anonymous; hour 30 (day 1): b by the
    // stranger; hour 2: a by the stranger.
    view(&db, &buffer, Some(follower), a, 1_000, T0 + HOUR_US + 5).await;
    view(
        &db,
        &buffer,
        Some(follower),
        a,
        2_000,
        T0 + HOUR_US + 60_000_000,
    )
    .await;
    view(&db, &buffer, None, a, 500, T0 + 2 * HOUR_US - 1).await;
    view(&db, &buffer, Some(stranger), b, 7_000, T0 + 30 * HOUR_US).await;
    view(&db, &buffer, Some(stranger), a, 10, T0 + 2 * HOUR_US).await;
    assert!(
        creator_hours(&db, creator).await.is_empty(),
        "not before the fold"
    );
    assert_eq!(unfolded(&db).await, 5);

    // Batches of 2: the fold goes on while batches come back full.
    assert_eq!(fold::fold_views(&db, 2).await.expect("fold"), 5);
    assert_eq!(unfolded(&db).await, 0);
    let hours = vec![(1, 3, 3_500, 2), (2, 1, 10, 0), (30, 1, 7_000, 0)];
    assert_eq!(creator_hours(&db, creator).await, hours);
    assert_eq!(video_days(&db, a).await, vec![(0, 4, 3_510)]);
    assert_eq!(video_days(&db, b).await, vec![(1, 1, 7_000)]);
    no_drift(&db, "folded").await;

    // Folding again finds nothing: a folded view is never counted twice.
    let again = drain(&db, &buffer).await.expect("drain");
    assert_eq!(again.views, 0);
    assert_eq!(creator_hours(&db, creator).await, hours);

    // Viewers: distinct signed-in accounts per day and bucket, the anonymous view in none.
    let s = sketches(&db, creator).await;
    let k = |day: i64, dim: &str, key: &str| (day, dim.to_owned(), key.to_owned());
    let mut expected = BTreeMap::new();
    for (day, year, region, lang, n) in [(0, "25-34", "DE", "de", 1), (1, "35-44", "BR", "pt", 1)] {
        expected.insert(k(day, "age", year), n);
        expected.insert(k(day, "region", region), n);
        expected.insert(k(day, "language", lang), n);
    }
    // The stranger watched on day 0 too (video a, hour 2).
    expected.insert(k(0, "age", "35-44"), 1);
    expected.insert(k(0, "region", "BR"), 1);
    expected.insert(k(0, "language", "pt"), 1);
    expected.insert(k(0, "device", "IOS"), 2);
    expected.insert(k(1, "device", "IOS"), 1);
    assert_eq!(s, expected);
    assert!(buffer.is_empty(), "flushed");

    // The same viewers again (another instance's retry, say): unions change nothing.
    view(&db, &buffer, Some(follower), b, 1, T0 + 3 * HOUR_US).await;
    let d = drain(&db, &buffer).await.expect("drain");
    assert_eq!((d.views, d.sketches), (1, 4));
    assert_eq!(sketches(&db, creator).await, expected);
    no_drift(&db, "again").await;
}

#[tokio::test]
async fn a_fold_that_does_not_commit_counts_nothing_and_leaves_its_rows_to_the_next() {
    let db = fresh_db_with_pool(4).await;
    let buffer = sketch_buffer();
    let creator = account(&db, "maker").await;
    let v = video(&db, creator).await;
    for i in 0..7 {
        view(&db, &buffer, None, v, 100, T0 + i * HOUR_US).await;
    }
    // A fold that crashes before its commit: rolled back, or failing after its writes.
    for fail in [false, true] {
        let txn = db.begin().await.expect("begin");
        assert_eq!(fold_in(&txn, 5).await.expect("fold"), 5);
        if fail {
            let mut q = Sql::default();
            q.push_unchecked("SELECT no_such_column FROM video_views");
            assert!(q.all(&txn).await.is_err(), "the statement fails");
        }
        txn.rollback().await.expect("rollback");
        assert!(
            creator_hours(&db, creator).await.is_empty(),
            "counted nothing"
        );
        assert!(video_days(&db, v).await.is_empty(), "counted nothing");
        assert_eq!(unfolded(&db).await, 7, "every row still unfolded");
        no_drift(&db, "rolled back").await;
    }
    assert_eq!(fold_batch(&db, 5).await.expect("fold"), 5);
    assert_eq!(fold_batch(&db, 5).await.expect("fold"), 2);
    assert_eq!(fold_batch(&db, 5).await.expect("fold"), 0);
    let hours = creator_hours(&db, creator).await;
    assert_eq!(hours.len(), 7);
    assert!(hours.iter().all(|h| (h.1, h.2) == (1, 100)), "{hours:?}");
    no_drift(&db, "folded").await;
}

#[tokio::test]
async fn a_failed_sketch_flush_keeps_the_viewers_for_the_next_one() {
    let db = fresh_db_with_pool(4).await;
    let buffer = sketch_buffer();
    let creator = account(&db, "maker").await;
    let v = video(&db, creator).await;
    let viewer = fan(&db, "fan", 1990, "US", "en").await;
    view(&db, &buffer, Some(viewer), v, 100, T0).await;
    assert_eq!(buffer.len(), 4, "one sketch per dimension");
    let rename = |from: &str, to: &str| {
        let mut q = Sql::default();
        q.push_unchecked(&format!("ALTER TABLE {from} RENAME TO {to}"));
        q
    };
    rename("viewer_sketches", "viewer_sketches_away")
        .execute(&db)
        .await
        .expect("rename");
    assert!(
        flush_sketches(&db, &buffer).await.is_err(),
        "the flush fails"
    );
    assert_eq!(buffer.len(), 4, "its viewers are back in the buffer");
    rename("viewer_sketches_away", "viewer_sketches")
        .execute(&db)
        .await
        .expect("rename back");
    assert_eq!(flush_sketches(&db, &buffer).await.expect("flush"), 4);
    assert!(buffer.is_empty());
    let s = sketches(&db, creator).await;
    assert_eq!(s.len(), 4);
    assert!(s.values().all(|n| *n == 1), "{s:?}");
    // Viewers of a creator deleted before the flush go with it.
    view(&db, &buffer, Some(viewer), v, 100, T0).await;
    let mut q = Sql::default();
    let c = q.bind(creator);
    q.push_unchecked(&format!("DELETE FROM users WHERE id = {c}"));
    q.execute(&db).await.expect("delete creator");
    assert_eq!(flush_sketches(&db, &buffer).await.expect("flush"), 0);
    assert!(buffer.is_empty());
}

#[tokio::test]
async fn a_deleted_videos_views_leave_the_hours_they_happened_in_and_its_viewers_stay() {
    let db = fresh_db_with_pool(4).await;
    let buffer = sketch_buffer();
    let creator = account(&db, "maker").await;
    let (a, b) = (video(&db, creator).await, video(&db, creator).await);
    let follower = fan(&db, "follower", 2000, "DE", "de").await;
    insert_follow(&db, follower, creator, FollowState::Approved).await;
    view(&db, &buffer, Some(follower), a, 1_000, T0 + HOUR_US).await;
    view(&db, &buffer, None, b, 2_000, T0 + HOUR_US).await;
    view(&db, &buffer, Some(follower), a, 3_000, T0 + 5 * HOUR_US).await;
    drain(&db, &buffer).await.expect("drain");
    // One more of `a`, unfolded when it goes: it must never be folded.
    view(&db, &buffer, None, a, 4_000, T0 + 6 * HOUR_US).await;
    let viewers = sketches(&db, creator).await;
    delete_video(&db, creator, a, T0 + 7 * HOUR_US)
        .await
        .map_err(|e| e.message())
        .expect("delete");
    assert_eq!(creator_hours(&db, creator).await, vec![(1, 1, 2_000, 0)]);
    assert!(video_days(&db, a).await.is_empty());
    no_drift(&db, "deleted").await;
    assert_eq!(drain(&db, &buffer).await.expect("drain").views, 0);
    assert_eq!(creator_hours(&db, creator).await, vec![(1, 1, 2_000, 0)]);
    assert_eq!(
        sketches(&db, creator).await,
        viewers,
        "a sketch cannot forget"
    );
    no_drift(&db, "drained").await;
}

/// Σ `video_days.views` and Σ view counters of every video.
async fn totals(db: &DatabaseConnection) -> (i64, i64) {
    let [days, counters, _] = sums(
        db,
        "SELECT (SELECT CAST(SUM(views) AS BIGINT) FROM video_days) AS a, \
         (SELECT CAST(SUM(views) AS BIGINT) FROM video_view_counters) AS b, \
         CAST(0 AS BIGINT) AS c",
    )
    .await;
    (days, counters)
}

#[tokio::test]
async fn two_fold_jobs_racing_over_a_stream_of_views_count_each_view_once() {
    const WRITERS: usize = 8;
    const EACH: usize = 40;
    let db = fresh_db_with_pool(16).await;
    let creator = account(&db, "maker").await;
    let mut videos = Vec::new();
    for _ in 0..3 {
        videos.push(video(&db, creator).await);
    }
    let mut viewers = vec![None];
    for i in 0..4 {
        viewers.push(Some(
            fan(&db, &format!("fan{i}"), 1980 + i, "US", "en").await,
        ));
    }
    let rounds = if postgres() { 4 } else { 1 };
    let mut acknowledged: i64 = 0;
    for round in 0..rounds {
        let barrier = Arc::new(Barrier::new(WRITERS + 2));
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let buffers = [sketch_buffer(), sketch_buffer()];
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let (db, barrier, done) = (db.clone(), barrier.clone(), done.clone());
            let (videos, viewers) = (videos.clone(), viewers.clone());
            let buffer = buffers[w % 2].clone();
            writers.push(tokio::spawn(async move {
                barrier.wait().await;
                let mut ok: i64 = 0;
                for i in 0..EACH {
                    let t = T0 + i64::try_from(i % 5).expect("small") * HOUR_US;
                    let watch = i32::try_from(w * 100 + i).expect("small");
                    let (v, who) = (videos[i % videos.len()], viewers[(w + i) % viewers.len()]);
                    record_view(&db, &buffer, who, v, watch, DeviceClass::Web, at(t))
                        .await
                        .map_err(|e| e.message())
                        .expect("view");
                    ok += 1;
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                ok
            }));
        }
        let mut folders = Vec::new();
        for buffer in &buffers {
            let buffer = buffer.clone();
            let (db, barrier, done) = (db.clone(), barrier.clone(), done.clone());
            folders.push(tokio::spawn(async move {
                barrier.wait().await;
                let mut folded = 0;
                while done.load(std::sync::atomic::Ordering::SeqCst) < WRITERS {
                    folded += fold_batch(&db, 7)
                        .await
                        .map_err(|e| e.message())
                        .expect("fold");
                    flush_sketches(&db, &buffer)
                        .await
                        .map_err(|e| e.message())
                        .expect("flush");
                }
                folded
            }));
        }
        for w in writers {
            acknowledged += w.await.expect("writer");
        }
        let mut folded = 0;
        for f in folders {
            folded += f.await.expect("folder");
        }
        for buffer in &buffers {
            folded += drain(&db, buffer).await.expect("drain").views;
        }
        assert_eq!(
            folded,
            u64::try_from(WRITERS * EACH).expect("small"),
            "round {round}: every view folded once"
        );
        assert_eq!(
            totals(&db).await,
            (acknowledged, acknowledged),
            "round {round}"
        );
        assert_eq!(unfolded(&db).await, 0);
        no_drift(&db, &format!("round {round}")).await;
    }
    // The four signed-in viewers (and no anonymous one) in each day-0 device sketch.
    let s = sketches(&db, creator).await;
    assert_eq!(s.get(&(0, "device".to_owned(), "WEB".to_owned())), Some(&4));
}

#[tokio::test]
async fn instances_flushing_the_same_sketch_at_once_both_land() {
    let db = fresh_db_with_pool(8).await;
    let creator = account(&db, "maker").await;
    let rounds: i64 = if postgres() { 30 } else { 3 };
    let common: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    for round in 0..rounds {
        // Even rounds: a new day (both insert the row at once); odd: the same row as the
        // round before (both update it at once).
        let day = i32::try_from(T0 / DAY_US + round / 2).expect("day");
        let (one, two) = (sketch_buffer(), sketch_buffer());
        for (buffer, n) in [(&one, 7), (&two, 9)] {
            let own: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
            for id in common.iter().chain(&own) {
                let buckets = [
                    ("age", "18-24".to_owned()),
                    ("region", "US".to_owned()),
                    ("language", "en".to_owned()),
                    ("device", "WEB".to_owned()),
                ];
                buffer.add(creator, day, *id, buckets);
            }
        }
        let barrier = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = [one, two]
            .into_iter()
            .map(|buffer| {
                let (db, barrier) = (db.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    flush_sketches(&db, &buffer).await.map_err(|e| e.message())
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.expect("task"), Ok(4), "round {round}");
        }
        let s = sketches(&db, creator).await;
        let want = if round % 2 == 0 {
            5 + 7 + 9
        } else {
            5 + 2 * (7 + 9)
        };
        for dim in ["age", "region", "language", "device"] {
            let n = s
                .iter()
                .find(|((d, k, _), _)| *d == i64::from(day) - T0 / DAY_US && k == dim)
                .map(|(_, n)| *n);
            assert_eq!(n, Some(want), "round {round}, {dim}: {s:?}");
        }
    }
}

#[tokio::test]
async fn deleting_a_video_while_a_fold_runs_leaves_no_drift() {
    let db = fresh_db_with_pool(8).await;
    let buffer = sketch_buffer();
    let creator = account(&db, "maker").await;
    let keep = video(&db, creator).await;
    let rounds = if postgres() { 40 } else { 4 };
    for round in 0..rounds {
        let doomed = video(&db, creator).await;
        for i in 0..12 {
            let t = T0 + (i % 4) * HOUR_US;
            view(&db, &buffer, None, doomed, 10, t).await;
            view(&db, &buffer, None, keep, 10, t).await;
        }
        // Some of the doomed video's views are folded already, some not.
        fold_batch(&db, 10).await.expect("fold");
        let barrier = Arc::new(Barrier::new(2));
        let del = {
            let (db, barrier) = (db.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                delete_video(&db, creator, doomed, T0 + 10 * HOUR_US)
                    .await
                    .map_err(|e| e.message())
            })
        };
        let folder = {
            let (db, barrier) = (db.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                fold_batch(&db, 9).await.map_err(|e| e.message())
            })
        };
        del.await.expect("task").expect("deleted");
        folder.await.expect("task").expect("folded");
        drain(&db, &buffer).await.expect("drain");
        no_drift(&db, &format!("round {round}")).await;
        let kept = 12 * i64::from(round + 1);
        assert_eq!(totals(&db).await, (kept, kept), "round {round}");
        assert!(video_days(&db, doomed).await.is_empty());
    }
}

/// The figures the fold writes, against the reference model of the analytics property test
/// (`analytics_props::Reference`): per creator hour views, watch time and follower views,
/// per video day views and watch time, and per day and bucket the distinct signed-in
/// viewers — over random event logs with blocks, deletions of fans and videos and edits.
#[test]
fn folded_views_equal_the_reference_model_over_random_event_logs() {
    use proptest::prelude::*;
    use sea_orm::ActiveEnum;

    use crate::analytics_props::{build, now, world_strategy, Reference};

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cases: u32 = if postgres() { 6 } else { 16 };
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(w in world_strategy())| {
        let bad: Vec<String> = rt.block_on(async {
            let db = fresh_db_with_pool(4).await;
            let buffer = sketch_buffer();
            let (creator, videos, _) = build(&db, &buffer, &w, None).await;
            drain(&db, &buffer).await.expect("drain");
            let r = Reference::replay(&w, now().timestamp_micros());
            let mut bad = Vec::new();
            // Creator hours.
            let mut q = Sql::default();
            let c = q.bind(creator);
            q.push_unchecked(&format!(
                "SELECT hour, CAST(SUM(views) AS BIGINT) AS n, CAST(SUM(watch_ms) AS BIGINT) AS w, \
                 CAST(SUM(follower_views) AS BIGINT) AS f FROM creator_hours \
                 WHERE creator_id = {c} GROUP BY hour"
            ));
            let mut got = BTreeMap::new();
            for row in q.all(&db).await.expect("hours") {
                let g = |c: &str| row.try_get::<i64>("", c).expect(c);
                let f = [g("n"), g("w"), g("f")];
                if f != [0; 3] {
                    got.insert(g("hour"), f);
                }
            }
            let want: BTreeMap<i64, [i64; 3]> = r
                .hours
                .iter()
                .map(|(h, f)| (*h, [f[0], f[1], f[2]]))
                .filter(|(_, f)| *f != [0; 3])
                .collect();
            if got != want {
                bad.push(format!("creator hours: got {got:?}, want {want:?}"));
            }
            // Video days.
            let mut got = BTreeMap::new();
            for (i, v) in videos.iter().enumerate() {
                for (day, n, watch) in video_days(&db, *v).await {
                    got.insert((i, day + T0 / DAY_US), [n, watch]);
                }
            }
            let want: BTreeMap<(usize, i64), [i64; 2]> = r
                .video_days
                .iter()
                .map(|(k, f)| (*k, [f[0], f[1]]))
                .filter(|(_, f)| f[0] != 0)
                .collect();
            if got != want {
                bad.push(format!("video days: got {got:?}, want {want:?}"));
            }
            // Viewer sketches: distinct signed-in viewers per day and bucket.
            let mut sets: BTreeMap<(i64, String, String), std::collections::BTreeSet<usize>> =
                BTreeMap::new();
            for (t, _, who, _, _) in &r.views {
                if let Some((f, fan)) = who {
                    let year = chrono::Datelike::year(&at(*t));
                    let keys = [
                        ("age", tally::domain::analytics::age_bracket(fan.birth_year, year).to_value()),
                        ("region", entity::demographics::region(fan.region)),
                        ("language", entity::demographics::language(fan.language)),
                        ("device", fan.device.to_value()),
                    ];
                    for (dim, key) in keys {
                        sets.entry((t.div_euclid(DAY_US) - T0 / DAY_US, dim.to_owned(), key))
                            .or_default()
                            .insert(*f);
                    }
                }
            }
            let want: BTreeMap<_, u64> = sets.into_iter().map(|(k, s)| (k, s.len() as u64)).collect();
            let got = sketches(&db, creator).await;
            if got != want {
                bad.push(format!("sketches: got {got:?}, want {want:?}"));
            }
            let drift = rollups::drift(&db, true).await.expect("drift");
            if !drift.is_empty() {
                bad.push(format!("drift: {drift:?}"));
            }
            db.close().await.ok();
            bad
        });
        prop_assert!(bad.is_empty(), "{}", bad.join("\n"));
    });
}
