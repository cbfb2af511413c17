//! The likers rollup (`liker_rollup`): every answer of `likers` equals the same breakdown
//! computed from the like rows, after every kind of event, with days closing as the clock
//! moves forward and back, under concurrent closers and likes racing a close, and over
//! random event sequences (and the analytics reference model's worlds).
use std::{collections::BTreeMap, sync::Arc};

use entity::{demographics, LikesVisibility, Visibility};
use proptest::prelude::*;
use sea_orm::DatabaseConnection;
use tally::{
    clock::Clock,
    db::Sql,
    domain::{
        accounts::{delete_account, update_account, AccountChanges},
        liker_rollup::{self, Population},
        likes::{like_video, unlike_video},
        rollups::{self, DAY_US},
        social::block_user,
        videos::{create_video, delete_video, NewVideo},
    },
};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::{
    analytics_props::{self, Reference},
    helpers::{fresh_db, insert_account},
};

/// Day 20,500 (2026-02-16): the fixed "last complete day" of these tests.
const TO: i32 = 20_500;

/// An instant `hours` into day `day`.
fn at(day: i32, hours: i64) -> i64 {
    i64::from(day) * DAY_US + hours * 3_600_000_000
}

fn ok<T>(r: tally::error::AppResult<T>, what: &str) -> T {
    r.map_err(|e| format!("{e:?}"))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// The likers breakdown computed from the rows: distinct accounts with a current like on
/// `creator`'s videos made on a day `from..=to`, by their current demographics.
async fn from_rows(db: &DatabaseConnection, creator: Uuid, from: i32, to: i32) -> Population {
    let mut q = Sql::default();
    let c = q.bind(creator);
    q.push_unchecked(&format!(
        "SELECT DISTINCT l.user_id, l.created_at, u.birth_year, u.region, u.language \
         FROM likes l JOIN videos v ON v.id = l.video_id JOIN users u ON u.id = l.user_id \
         WHERE v.author_id = {c}"
    ));
    let mut accounts: BTreeMap<Uuid, [(&'static str, String); 3]> = BTreeMap::new();
    for row in q.all(db).await.expect("likes") {
        let g = |c: &str| row.try_get::<Option<String>>("", c).expect(c);
        let t: i64 = row.try_get("", "created_at").expect("t");
        let day = t.div_euclid(DAY_US);
        if (i64::from(from)..=i64::from(to)).contains(&day) {
            let keys = demographics::keys(
                row.try_get("", "birth_year").expect("y"),
                g("region").as_deref(),
                g("language").as_deref(),
            );
            accounts.insert(row.try_get("", "user_id").expect("id"), keys);
        }
    }
    let mut out = Population {
        accounts: accounts.len() as i64,
        ..Population::default()
    };
    for keys in accounts.values() {
        for (dim, key) in keys {
            *out.buckets
                .entry(dim)
                .or_default()
                .entry(key.clone())
                .or_default() += 1;
        }
    }
    out
}

/// `likers` for the windows of 1, 7, 28, 60 and 365 days ending at `to` equal the rows'
/// breakdowns, and nothing drifts.
async fn check(db: &DatabaseConnection, creator: Uuid, to: i32, when: &str) {
    for n in [1, 7, 28, 60, 365] {
        let from = to - (n - 1);
        let got = ok(liker_rollup::likers(db, creator, from, to).await, "likers");
        let want = from_rows(db, creator, from, to).await;
        assert_eq!(got, want, "{when}: window of {n} days to {to}");
    }
    let drift = rollups::drift(db, false).await.expect("drift");
    assert!(drift.is_empty(), "{when}: {drift:?}");
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
    ok(
        create_video(db, author, input, at(TO - 400, 0)).await,
        "video",
    )
    .into_inner()
    .video
    .id
}

/// A fan with demographics, linked to an identity provider (deletion checks no password).
async fn fan(db: &DatabaseConnection, i: usize) -> Uuid {
    let id = insert_account(
        db,
        &format!("fan{i}"),
        Visibility::Public,
        LikesVisibility::Everyone,
    )
    .await;
    let mut q = Sql::default();
    let regions = ["DE", "US", "Narnia", "br"];
    let (y, r, l, me) = (
        q.bind(1960 + (i as i32 % 5) * 10),
        q.bind(regions[i % regions.len()]),
        q.bind(["en-GB", "de", "pt"][i % 3]),
        q.bind(id),
    );
    q.push_unchecked(&format!(
        "UPDATE users SET birth_year = {y}, region = {r}, language = {l}, \
         external_subject = 'idp|' || handle, password_hash = '!' WHERE id = {me}"
    ));
    q.execute(db).await.expect("fan");
    id
}

fn edit(y: i32, region: &str) -> AccountChanges {
    AccountChanges {
        birth_year: Some(y),
        region: Some(region.to_owned()),
        ..Default::default()
    }
}

fn clock_at(t: i64) -> Clock {
    Clock::Fixed(chrono::DateTime::from_timestamp_micros(t).expect("time"))
}

#[tokio::test]
async fn every_event_kind_moves_the_likers_rollup_with_the_rows() {
    let db = fresh_db().await;
    let creator = insert_account(&db, "maker", Visibility::Public, LikesVisibility::Everyone).await;
    let (v1, v2) = (video(&db, creator).await, video(&db, creator).await);
    let mut fans = Vec::new();
    for i in 0..6 {
        fans.push(fan(&db, i).await);
    }
    // Likes on open days (nothing closed yet), over a year, one of them today.
    for (i, f) in fans.iter().enumerate() {
        let day = TO - [0, 2, 6, 9, 30, 200][i];
        ok(like_video(&db, *f, v1, at(day, 3)).await, "like");
    }
    ok(like_video(&db, fans[0], v2, at(TO - 20, 1)).await, "like");
    ok(
        like_video(&db, fans[3], v2, at(TO + 1, 1)).await,
        "like today",
    );
    check(&db, creator, TO, "first read closes every day").await;

    // A like on a closed day (a clock set back) applies at once; a later like moves the
    // account's last day; a like today waits for its day.
    ok(
        like_video(&db, fans[4], v2, at(TO - 1, 5)).await,
        "like on a closed day",
    );
    check(&db, creator, TO, "like on a closed day").await;
    ok(
        like_video(&db, fans[5], v2, at(TO + 1, 2)).await,
        "like today",
    );
    check(&db, creator, TO, "like today").await;
    // Unlikes: of the like on the last day (recomputed from v2's older like), of a like
    // older than the last day, and of a like not closed yet.
    ok(
        unlike_video(&db, fans[0], v1, at(TO + 1, 3)).await,
        "unlike last day",
    );
    check(&db, creator, TO, "unlike of the last day's like").await;
    ok(
        unlike_video(&db, fans[4], v1, at(TO + 1, 3)).await,
        "unlike older",
    );
    check(&db, creator, TO, "unlike of an older like").await;
    ok(
        unlike_video(&db, fans[3], v2, at(TO + 1, 3)).await,
        "unlike open",
    );
    check(&db, creator, TO, "unlike of an open day's like").await;
    // A demographics edit moves the liker between keys.
    let c = clock_at(at(TO + 1, 4));
    ok(
        update_account(&db, fans[1], edit(2001, "FR"), c).await,
        "edit",
    );
    check(&db, creator, TO, "demographics edit").await;
    // A block removes the fan's likes.
    ok(
        block_user(&db, creator, fans[2], at(TO + 1, 5)).await,
        "block",
    );
    check(&db, creator, TO, "block").await;
    // The fan blocking the creator, too.
    ok(
        block_user(&db, fans[3], creator, at(TO + 1, 5)).await,
        "block back",
    );
    check(&db, creator, TO, "blocked by the fan").await;
    // Deleting an account takes its likes away.
    ok(
        delete_account(&db, fans[1], String::new(), at(TO + 1, 6)).await,
        "delete account",
    );
    check(&db, creator, TO, "account deletion").await;
    // Deleting a video takes its likes away: fans[4] and fans[5] keep their v1 likes.
    ok(
        delete_video(&db, creator, v2, at(TO + 1, 7)).await,
        "delete video",
    );
    check(&db, creator, TO, "video deletion").await;
    // The next day closes: today's likes count from then on.
    ok(
        like_video(&db, fans[5], v1, at(TO + 1, 8)).await,
        "like again",
    );
    check(&db, creator, TO + 1, "the next day closed").await;
    // The creator deleting its account takes the rollup with it.
    let mut q = Sql::default();
    let me = q.bind(creator);
    q.push_unchecked(&format!(
        "UPDATE users SET external_subject = 'idp|maker', password_hash = '!' WHERE id = {me}"
    ));
    q.execute(&db).await.expect("link");
    ok(
        delete_account(&db, creator, String::new(), at(TO + 2, 0)).await,
        "delete creator",
    );
    assert_eq!(
        rollups::drift(&db, false).await.expect("drift"),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn days_close_as_the_clock_moves_forward_and_back() {
    let db = fresh_db().await;
    let creator = insert_account(&db, "maker", Visibility::Public, LikesVisibility::Everyone).await;
    let videos = [video(&db, creator).await, video(&db, creator).await];
    let mut fans = Vec::new();
    for i in 0..8 {
        fans.push(fan(&db, i).await);
    }
    // Every fan likes each video on a day of its own, over 40 days.
    for (i, f) in fans.iter().enumerate() {
        for (j, v) in videos.iter().enumerate() {
            let day = TO - ((i as i32 * 7 + j as i32 * 13) % 40);
            ok(
                like_video(&db, *f, *v, at(day, i as i64 % 24)).await,
                "like",
            );
        }
    }
    // Read at days moving forward, then back (a clock set back), then forward again.
    for to in [
        TO - 30,
        TO - 29,
        TO - 10,
        TO,
        TO - 5,
        TO - 39,
        TO - 38,
        TO + 3,
    ] {
        check(&db, creator, to, &format!("read at {to}")).await;
    }
    // Events between reads at moving clocks.
    ok(
        unlike_video(&db, fans[0], videos[0], at(TO, 1)).await,
        "unlike",
    );
    check(&db, creator, TO - 2, "back after an unlike").await;
    ok(
        like_video(&db, fans[0], videos[0], at(TO - 1, 1)).await,
        "like",
    );
    check(&db, creator, TO - 2, "a like after the closed days").await;
    check(&db, creator, TO, "forward over it").await;
    // The periodic pass closes what is behind, once.
    assert_eq!(ok(liker_rollup::close_all(&db, TO + 2).await, "pass"), 1);
    assert_eq!(
        ok(liker_rollup::closed_through(&db, creator).await, "closed"),
        Some(TO + 2)
    );
    assert_eq!(ok(liker_rollup::close_all(&db, TO + 2).await, "again"), 0);
    check(&db, creator, TO + 2, "after the periodic pass").await;
}

/// Two closers of one creator at once, and a like or an unlike racing a close: released
/// together by a barrier, many rounds; the rollup always equals the rows.
#[tokio::test]
async fn concurrent_closers_and_likes_racing_a_close_leave_no_drift() {
    let db = crate::helpers::fresh_db_with_pool(8).await;
    let creator = insert_account(&db, "maker", Visibility::Public, LikesVisibility::Everyone).await;
    let v = video(&db, creator).await;
    let mut fans = Vec::new();
    for i in 0..4 {
        fans.push(fan(&db, i).await);
    }
    let rounds: i32 = std::env::var("TALLY_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    for round in 0..rounds {
        // Each round closes one more day, `to`; the racing like is on `to` itself.
        let to = TO + round;
        // Even rounds: a fan likes on `to`; odd rounds: the same fan unlikes that like,
        // which is on its last closed day by then.
        let fan = fans[(round / 2) as usize % fans.len()];
        let barrier = Arc::new(Barrier::new(3));
        let closer = || {
            let (db, barrier) = (db.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                liker_rollup::close(&db, creator, to).await
            })
        };
        let (a, b) = (closer(), closer());
        let toggle = {
            let (db, barrier) = (db.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                if round % 2 == 0 {
                    like_video(&db, fan, v, at(to, 2)).await.map(|_| ())
                } else {
                    unlike_video(&db, fan, v, at(to, 2)).await.map(|_| ())
                }
            })
        };
        ok(a.await.expect("closer a"), "close a");
        ok(b.await.expect("closer b"), "close b");
        ok(toggle.await.expect("toggle"), "like or unlike");
        let drift = rollups::drift(&db, false).await.expect("drift");
        assert!(drift.is_empty(), "round {round}: {drift:?}");
        assert_eq!(
            ok(
                liker_rollup::likers(&db, creator, to - 6, to).await,
                "likers"
            ),
            from_rows(&db, creator, to - 6, to).await,
            "round {round}"
        );
    }
}

/// One step of a random sequence: by fan and video index; days before [`TO`].
#[derive(Debug, Clone)]
enum Step {
    Like(usize, usize, i32),
    Unlike(usize, usize),
    Block(usize),
    Delete(usize),
    DeleteVideo(usize),
    Edit(usize, i32, &'static str),
    /// Read (and so close) at this day.
    Read(i32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..6usize, 0..3usize, -12..3i32).prop_map(|(f, v, d)| Step::Like(f, v, d)),
        3 => (0..6usize, 0..3usize).prop_map(|(f, v)| Step::Unlike(f, v)),
        1 => (0..6usize).prop_map(Step::Block),
        1 => (0..6usize).prop_map(Step::Delete),
        1 => (0..3usize).prop_map(Step::DeleteVideo),
        2 => (0..6usize, 1950..2010i32, prop::sample::select(vec!["DE", "US", "xx1"]))
            .prop_map(|(f, y, r)| Step::Edit(f, y, r)),
        3 => (-8..3i32).prop_map(Step::Read),
    ]
}

async fn run_steps(db: &DatabaseConnection, steps: &[Step]) {
    let creator = insert_account(db, "maker", Visibility::Public, LikesVisibility::Everyone).await;
    let mut videos = Vec::new();
    for _ in 0..3 {
        videos.push(video(db, creator).await);
    }
    let mut fans = Vec::new();
    for i in 0..6 {
        fans.push(fan(db, i).await);
    }
    let now = at(TO + 1, 12);
    for (i, s) in steps.iter().enumerate() {
        // Refusals (a blocked or deleted fan, a deleted video) are part of the sequence.
        let _ = match *s {
            Step::Like(f, v, d) => like_video(db, fans[f], videos[v], at(TO + d, 5))
                .await
                .map(|_| ()),
            Step::Unlike(f, v) => unlike_video(db, fans[f], videos[v], now).await.map(|_| ()),
            Step::Block(f) => block_user(db, creator, fans[f], now).await,
            Step::Delete(f) => delete_account(db, fans[f], String::new(), now).await,
            Step::DeleteVideo(v) => delete_video(db, creator, videos[v], now).await,
            Step::Edit(f, y, r) => update_account(db, fans[f], edit(y, r), clock_at(now))
                .await
                .map(|_| ()),
            Step::Read(d) => {
                check(db, creator, TO + d, &format!("step {i} of {steps:?}")).await;
                Ok(())
            }
        };
        let drift = rollups::drift(db, false).await.expect("drift");
        assert!(drift.is_empty(), "after step {i} of {steps:?}: {drift:?}");
    }
    check(db, creator, TO, &format!("the end of {steps:?}")).await;
}

fn cases(default: u32) -> u32 {
    std::env::var("TALLY_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn random_event_sequences_match_the_rows() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let config = ProptestConfig {
        cases: cases(24),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(steps in prop::collection::vec(step(), 1..40))| {
        rt.block_on(async {
            let db = fresh_db().await;
            run_steps(&db, &steps).await;
        });
    });
}

/// The analytics reference model's worlds: the likers the reference counts in each window
/// (its `expected()`: distinct accounts with a current like made in the window, under their
/// current demographics) are the rollup's.
#[test]
fn the_reference_models_likers_are_the_rollups() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let config = ProptestConfig {
        cases: cases(12),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(world in analytics_props::world_strategy())| {
        rt.block_on(async {
            let db = fresh_db().await;
            let (creator, _, _) =
                analytics_props::build(&db, &crate::helpers::sketch_buffer(), &world, None).await;
            let now = analytics_props::now();
            let r = Reference::replay(&world, now.timestamp_micros());
            for n in [7, 28, 60, 365] {
                let (from, to) = analytics_props::window(now, n);
                let likers: std::collections::BTreeSet<usize> = r
                    .likes
                    .iter()
                    .filter(|(_, t)| (from..=to).contains(&t.div_euclid(DAY_US)))
                    .map(|((f, _), _)| *f)
                    .collect();
                let mut want = Population { accounts: likers.len() as i64, ..Population::default() };
                for f in &likers {
                    let fan = &r.fans[*f];
                    for (dim, key) in demographics::keys(fan.birth_year, fan.region, fan.language) {
                        *want.buckets.entry(dim).or_default().entry(key).or_default() += 1;
                    }
                }
                let (from, to) = (from as i32, to as i32);
                let got = ok(liker_rollup::likers(&db, creator, from, to).await, "likers");
                assert_eq!(got, want, "window of {n} days in {world:?}");
            }
            let drift = rollups::drift(&db, false).await.expect("drift");
            assert!(drift.is_empty(), "{drift:?}");
        });
    });
}

/// A demographics edit and an account deletion racing a close of a day the account liked
/// on: released together, many rounds; nothing drifts.
#[tokio::test]
async fn edits_and_deletions_racing_a_close_leave_no_drift() {
    let db = crate::helpers::fresh_db_with_pool(8).await;
    let creator = insert_account(&db, "maker", Visibility::Public, LikesVisibility::Everyone).await;
    let v = video(&db, creator).await;
    let rounds: i32 = std::env::var("TALLY_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    for round in 0..rounds {
        let to = TO + round;
        // A fan whose only like is on the day being closed.
        let f = fan(&db, 100 + round as usize).await;
        ok(like_video(&db, f, v, at(to, 3)).await, "like");
        let barrier = Arc::new(Barrier::new(2));
        let closer = {
            let (db, barrier) = (db.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                liker_rollup::close(&db, creator, to).await
            })
        };
        let change = {
            let (db, barrier) = (db.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                if round % 2 == 0 {
                    let c = clock_at(at(to + 1, 1));
                    update_account(&db, f, edit(1999, "JP"), c)
                        .await
                        .map(|_| ())
                } else {
                    delete_account(&db, f, String::new(), at(to + 1, 1)).await
                }
            })
        };
        ok(closer.await.expect("closer"), "close");
        ok(change.await.expect("change"), "edit or deletion");
        let drift = rollups::drift(&db, false).await.expect("drift");
        assert!(drift.is_empty(), "round {round}: {drift:?}");
    }
}
