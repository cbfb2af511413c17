//! Many clients liking and unliking one video at once: no lost update, counter = rows.
use entity::{LikesVisibility, Visibility};
use serde_json::json;
use tally::{
    db::{col, Sql},
    domain::{
        counters,
        likes::{like_video, unlike_video},
        videos::{create_video, NewVideo},
    },
};

use crate::helpers::{vid, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_likes_and_unlikes_keep_the_counter_equal_to_the_rows() {
    let h = Harness::new().await;
    let author = h
        .account("author", Visibility::Public, LikesVisibility::Everyone)
        .await;
    let video = create_video(
        &h.db,
        author,
        NewVideo {
            caption: "hot".into(),
            hashtags: vec![],
            sound: None,
            duration_ms: None,
            media_url: "https://media.example.com/v.mp4".into(),
            thumbnail_url: None,
        },
        crate::helpers::now_us(),
    )
    .await
    .map_err(|e| e.message())
    .expect("video");
    let mut fans = Vec::new();
    for i in 0..24 {
        let lv = [
            LikesVisibility::Everyone,
            LikesVisibility::Followers,
            LikesVisibility::OnlyMe,
        ][i % 3];
        fans.push(h.account(&format!("fan{i}"), Visibility::Public, lv).await);
    }
    let mut tasks = Vec::new();
    for (i, fan) in fans.iter().copied().enumerate() {
        let db = h.db.clone();
        let video = video.video.id;
        tasks.push(tokio::spawn(async move {
            for round in 0..6 {
                // Everyone likes twice (idempotent); odd fans take it back on odd rounds.
                like_video(&db, fan, video, crate::helpers::now_us())
                    .await
                    .map_err(|e| e.message())?;
                like_video(&db, fan, video, crate::helpers::now_us())
                    .await
                    .map_err(|e| e.message())?;
                if i % 2 == 1 && round % 2 == 1 {
                    unlike_video(&db, fan, video, crate::helpers::now_us())
                        .await
                        .map_err(|e| e.message())?;
                }
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("no client-visible error");
    }
    let mut q = Sql::default();
    let v = q.bind(video.video.id);
    q.push_unchecked(&format!(
        "SELECT COUNT(*) AS n FROM likes WHERE video_id = {v}"
    ));
    let row = q.one(&h.db).await.expect("query").expect("row");
    assert_eq!(
        col::<i64>(&row, "n").expect("column"),
        12,
        "even fans keep their like, odd fans end unliked"
    );
    assert_eq!(
        counters::drift(&h.db).await.expect("drift"),
        vec![],
        "every counter equals its rows"
    );
    let d = h
        .ok(
            None,
            "query($id: ID!) { video(id: $id) { likeCount } }",
            json!({ "id": vid(video.video.id) }),
        )
        .await;
    assert_eq!(d["video"]["likeCount"], 12);
}
