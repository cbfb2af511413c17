//! The cached window parts of `creatorAnalytics` (`domain::window_cache`): a read keeps
//! each part; a write of today leaves them; every write to a day a window covers drops the
//! part read from the rollup it changes, so the next read is the same as one without any
//! cache; and a covered-day write racing the first read never leaves a stale part.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::{DeviceClass, LikesVisibility, Visibility};
use sea_orm::DatabaseConnection;
use serde_json::{json, Value};
use tally::{
    clock::Clock,
    config::Thresholds,
    db::{col, Sql},
    domain::{
        accounts::{update_account, AccountChanges},
        analytics::record_view,
        likes::like_video,
        rollups::DAY_US,
        sketch::SketchBuffer,
        social::follow_user,
        videos::{delete_video, NewVideo},
    },
};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::{
    analytics_props::QUERY,
    helpers::{fresh_db_with_pool, insert_account, make_video, sketch_buffer, Harness},
};

/// Saturday 2026-06-20 13:30 UTC: the windows end on Friday the 19th.
fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-20T13:30:00Z")
        .expect("instant")
        .with_timezone(&Utc)
}

/// `days` before [`now`], in microseconds.
fn ago(days: i64) -> i64 {
    now().timestamp_micros() - days * DAY_US
}

/// A creator with `fans` fans (each following it and liking its first video a day apart),
/// three videos, and a few folded views over the last days.
struct World {
    h: Harness,
    sketches: Arc<SketchBuffer>,
    creator: Uuid,
    fans: Vec<Uuid>,
    videos: Vec<Uuid>,
}

impl World {
    async fn new(db: DatabaseConnection, fans: usize) -> World {
        let mut h = Harness::with_db(db);
        h.clock = Clock::Fixed(now());
        h.thresholds = Thresholds {
            min_audience: 1,
            min_bucket: 1,
        };
        let db = &h.db;
        let creator =
            insert_account(db, "maker", Visibility::Public, LikesVisibility::Everyone).await;
        let mut q = Sql::default();
        let c = q.bind(creator);
        q.push_unchecked(&format!(
            "UPDATE users SET account_type = 'CREATOR' WHERE id = {c}"
        ));
        q.execute(db).await.expect("creator");
        let mut videos = Vec::new();
        for tag in ["dance", "food", "dance"] {
            let input = NewVideo {
                caption: "c".into(),
                hashtags: vec![tag.to_owned()],
                sound: Some("beat".into()),
                duration_ms: Some(10_000),
                media_url: "https://media.example.com/v.mp4".into(),
                thumbnail_url: None,
            };
            videos.push(make_video(db, creator, input, ago(40)).await);
        }
        let mut w = World {
            sketches: sketch_buffer(),
            h,
            creator,
            fans: Vec::new(),
            videos,
        };
        for i in 0..fans {
            let fan = w.fan(&format!("fan{i}")).await;
            follow_user(&w.h.db, fan, creator, ago(20))
                .await
                .expect("follow");
            like_video(&w.h.db, fan, w.videos[0], ago(2 + i as i64 % 5))
                .await
                .expect("like");
            w.fans.push(fan);
        }
        for d in 1..4 {
            w.view(Some(w.fans[0]), w.videos[1], ago(d)).await;
        }
        w
    }

    async fn fan(&self, handle: &str) -> Uuid {
        let id = insert_account(
            &self.h.db,
            handle,
            Visibility::Public,
            LikesVisibility::Everyone,
        )
        .await;
        let mut q = Sql::default();
        let me = q.bind(id);
        q.push_unchecked(&format!(
            "UPDATE users SET birth_year = 1990, region = 'DE', language = 'de' WHERE id = {me}"
        ));
        q.execute(&self.h.db).await.expect("fan");
        id
    }

    /// A view at `at`, folded at once.
    async fn view(&self, viewer: Option<Uuid>, video: Uuid, at: i64) {
        let at = DateTime::from_timestamp_micros(at).expect("time");
        record_view(
            &self.h.db,
            &self.sketches,
            viewer,
            video,
            5_000,
            DeviceClass::Ios,
            at,
        )
        .await
        .map_err(|e| e.message())
        .expect("view");
        tally::domain::fold::drain(&self.h.db, &self.sketches)
            .await
            .map_err(|e| e.message())
            .expect("fold");
    }

    /// Every field of `creatorAnalytics` over the last 28 days.
    async fn read(&self) -> Value {
        self.h
            .ok(Some(self.creator), QUERY, json!({ "w": "LAST_28_DAYS" }))
            .await
    }

    /// The same read with no cached part: what the rollups give now.
    async fn fresh(&self) -> Value {
        let mut q = Sql::default();
        q.push_unchecked("DELETE FROM analytics_windows");
        q.execute(&self.h.db).await.expect("clear");
        self.read().await
    }

    /// The parts stored with a body for the creator.
    async fn parts(&self) -> Vec<String> {
        let mut q = Sql::default();
        let c = q.bind(self.creator);
        q.push_unchecked(&format!(
            "SELECT part FROM analytics_windows WHERE creator_id = {c} AND body IS NOT NULL \
             ORDER BY part"
        ));
        q.all(&self.h.db)
            .await
            .expect("parts")
            .iter()
            .map(|r| col(r, "part").expect("part"))
            .collect()
    }
}

const ALL: [&str; 4] = ["likers", "series", "videos", "viewers"];

#[tokio::test]
async fn a_read_keeps_every_part_and_the_events_of_today_leave_them() {
    let w = World::new(crate::helpers::fresh_db().await, 4).await;
    let first = w.read().await;
    assert_eq!(w.parts().await, ALL);
    // Today is in no window: a like, a follow and a folded view of today change no part.
    let late = w.fan("late").await;
    like_video(&w.h.db, late, w.videos[1], now().timestamp_micros())
        .await
        .expect("like");
    follow_user(&w.h.db, late, w.creator, now().timestamp_micros())
        .await
        .expect("follow");
    w.view(Some(late), w.videos[2], now().timestamp_micros())
        .await;
    assert_eq!(w.parts().await, ALL);
    let second = w.read().await;
    // The current followers are read live, so only `followerCount` and the followers
    // breakdown move; every window figure is the cached one, and the same as fresh.
    assert_ne!(
        first["creatorAnalytics"]["totals"]["followerCount"],
        second["creatorAnalytics"]["totals"]["followerCount"]
    );
    assert_eq!(
        first["creatorAnalytics"]["daily"],
        second["creatorAnalytics"]["daily"]
    );
    assert_eq!(second, w.fresh().await);
}

#[tokio::test]
async fn every_write_to_a_covered_day_drops_the_part_it_changes() {
    let w = World::new(crate::helpers::fresh_db().await, 4).await;
    let mut before = w.read().await;
    let changes: [(&str, &[&str]); 4] = [
        (
            "a view of yesterday folded today",
            &["series", "videos", "viewers"],
        ),
        (
            "a like written at a covered day",
            &["likers", "series", "videos"],
        ),
        ("a liker's new region", &["likers"]),
        ("a deleted video's views", &["series"]),
    ];
    for (i, (what, dropped)) in changes.into_iter().enumerate() {
        assert_eq!(w.parts().await, ALL, "{what}: every part cached before");
        match i {
            0 => {
                let viewer = w.fan("yesterday").await;
                w.view(Some(viewer), w.videos[0], ago(1)).await;
            }
            1 => {
                like_video(&w.h.db, w.fans[1], w.videos[2], ago(1))
                    .await
                    .expect("like");
            }
            2 => {
                let changes = AccountChanges {
                    region: Some("FR".into()),
                    ..Default::default()
                };
                update_account(&w.h.db, w.fans[2], changes, Clock::Fixed(now()))
                    .await
                    .expect("edit");
            }
            _ => {
                delete_video(&w.h.db, w.creator, w.videos[1], now().timestamp_micros())
                    .await
                    .expect("delete");
            }
        }
        let kept: Vec<&str> = ALL.into_iter().filter(|p| !dropped.contains(p)).collect();
        assert_eq!(w.parts().await, kept, "{what}: the parts left");
        let after = w.read().await;
        assert_ne!(after, before, "{what} changes the answer");
        assert_eq!(after, w.fresh().await, "{what}: the next read is fresh");
        before = after;
    }
}

/// On PostgreSQL (and SQLite): the first read of a window, which computes and stores
/// every part, released at once with a like and a folded view on covered days; afterwards
/// the cached answer equals a fresh one, every round.
#[tokio::test]
async fn a_covered_day_write_racing_the_first_read_never_leaves_a_stale_part() {
    let rounds: usize = std::env::var("TALLY_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let w = Arc::new(World::new(fresh_db_with_pool(8).await, 3).await);
    let mut stale = Vec::new();
    for r in 0..rounds {
        let fan = w.fan(&format!("racer{r}")).await;
        let video = w.videos[r % 3];
        let mut q = Sql::default();
        q.push_unchecked("DELETE FROM analytics_windows");
        q.execute(&w.h.db).await.expect("clear");
        let barrier = Arc::new(Barrier::new(2));
        let reader = {
            let (w, barrier) = (w.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                w.read().await
            })
        };
        let writer = {
            let (w, barrier) = (w.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let day = 1 + (r as i64 % 20);
                like_video(&w.h.db, fan, video, ago(day))
                    .await
                    .expect("like");
                w.view(Some(fan), video, ago(day)).await;
            })
        };
        reader.await.expect("reader");
        writer.await.expect("writer");
        let cached = w.read().await;
        let fresh = w.fresh().await;
        if cached != fresh {
            stale.push(r);
        }
    }
    assert!(stale.is_empty(), "stale parts after rounds {stale:?}");
}
