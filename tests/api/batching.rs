//! A feed page runs a fixed number of SQL statements, whatever its size.
use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use entity::{LikesVisibility, Visibility};
use serde_json::json;
use tally::config::Limits;
use tally::domain::{
    likes::like_video,
    social::follow_user,
    videos::{create_video, NewVideo},
};
use uuid::Uuid;

use crate::helpers::{fresh_db, now_us, Harness};

const FEED: &str = "query($first: Int!) { feed(first: $first) { edges { node { \
    author { handle } likeCount viewerHasLiked \
    visibleLikers(first: 3) { totalCount hiddenCount edges { node { handle } } } } } } }";

#[tokio::test]
async fn feed_runs_the_same_small_number_of_statements_for_5_and_50_videos() {
    let db = fresh_db().await;
    let seed = Harness::with_db(db.clone());
    let viewer = seed
        .account("viewer", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let mut fans = Vec::new();
    for (i, lv) in [
        LikesVisibility::Everyone,
        LikesVisibility::Followers,
        LikesVisibility::OnlyMe,
    ]
    .into_iter()
    .cycle()
    .take(6)
    .enumerate()
    {
        let vis = if i % 2 == 0 {
            Visibility::Public
        } else {
            Visibility::Private
        };
        fans.push(seed.account(&format!("fan{i}"), vis, lv).await);
    }
    for i in 0..50 {
        let author: Uuid = seed
            .account(
                &format!("author{i}"),
                Visibility::Public,
                LikesVisibility::Everyone,
            )
            .await;
        follow_user(&db, viewer, author, now_us())
            .await
            .map_err(|e| e.message())
            .expect("follow");
        let video = create_video(
            &db,
            author,
            NewVideo {
                caption: format!("v{i}"),
                hashtags: vec![],
                sound: None,
                duration_ms: None,
                media_url: "https://media.example.com/v.mp4".into(),
                thumbnail_url: None,
            },
            now_us(),
        )
        .await
        .map_err(|e| e.message())
        .expect("video");
        for fan in fans.iter().take(1 + i % fans.len()) {
            like_video(&db, *fan, video.video.id, now_us())
                .await
                .map_err(|e| e.message())
                .expect("like");
        }
    }
    follow_user(&db, viewer, fans[1], now_us())
        .await
        .map_err(|e| e.message())
        .expect("follow fan");

    let statements = Arc::new(AtomicUsize::new(0));
    let mut counted = db.clone();
    let counter = statements.clone();
    counted.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    // This test counts statements, not time: on a busy machine a debug build's 50-video page
    // may take longer than the production timeout, which would fail it for the wrong reason.
    let patient = Limits {
        query_timeout_ms: 120_000,
        ..Limits::default()
    };
    let h = Harness::with_limits(counted, patient);
    let mut per_size = Vec::new();
    for first in [5, 50] {
        statements.store(0, Ordering::SeqCst);
        let d = h.ok(Some(viewer), FEED, json!({ "first": first })).await;
        assert_eq!(d["feed"]["edges"].as_array().map(Vec::len), Some(first));
        per_size.push(statements.load(Ordering::SeqCst));
    }
    assert_eq!(
        per_size[0], per_size[1],
        "statements for first: 5 vs first: 50: {per_size:?}"
    );
    assert!(
        per_size[0] <= 6,
        "a feed page ran {} statements, want ≤ 6",
        per_size[0]
    );
    eprintln!(
        "feed page: {} statements for 5 and for 50 videos",
        per_size[0]
    );
}
