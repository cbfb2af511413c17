//! The rollups' write side: every event adds its delta in its own transaction, at its own
//! hour, and the rollups always agree with the rows (`rollups::drift`).
use entity::{LikesVisibility, Visibility};
use sea_orm::DatabaseConnection;
use tally::{
    clock::Clock,
    db::Sql,
    domain::{
        accounts::{delete_account, update_account, AccountChanges},
        likes::{like_video, unlike_video},
        rollups::{self, HOUR_US},
        social::{approve_follow_request, block_user, follow_user, remove_follower, unfollow_user},
        videos::{delete_video, NewVideo},
    },
};
use uuid::Uuid;

use crate::helpers::{fresh_db, insert_account};

/// A fixed instant: 2026-03-02 (a Monday) 00:00 UTC, in microseconds.
const T0: i64 = 1_772_409_600_000_000;

fn hour(n: i64) -> i64 {
    T0 + n * HOUR_US
}

async fn video(db: &DatabaseConnection, author: Uuid, tags: &[&str]) -> Uuid {
    let input = NewVideo {
        caption: "c".into(),
        hashtags: tags.iter().map(|t| (*t).to_owned()).collect(),
        sound: None,
        duration_ms: None,
        media_url: "https://media.example.com/v.mp4".into(),
        thumbnail_url: None,
    };
    crate::helpers::make_video(db, author, input, T0).await
}

/// `creator`'s rollup hours: (hour index from T0, likes, unlikes, new, lost followers).
async fn hours_of(db: &DatabaseConnection, creator: Uuid) -> Vec<(i64, i64, i64, i64, i64)> {
    let mut q = Sql::default();
    let c = q.bind(creator);
    q.push_unchecked(&format!(
        "SELECT hour, CAST(SUM(likes) AS BIGINT) AS l, CAST(SUM(unlikes) AS BIGINT) AS u, \
         CAST(SUM(new_followers) AS BIGINT) AS n, CAST(SUM(lost_followers) AS BIGINT) AS o \
         FROM creator_hours WHERE creator_id = {c} GROUP BY hour ORDER BY hour"
    ));
    q.all(db)
        .await
        .expect("hours")
        .iter()
        .map(|r| {
            let g = |c: &str| r.try_get::<i64>("", c).expect("column");
            ((g("hour") - T0) / HOUR_US, g("l"), g("u"), g("n"), g("o"))
        })
        .collect()
}

async fn no_drift(db: &DatabaseConnection, when: &str) {
    let drift = rollups::drift(db, true).await.expect("drift");
    assert!(drift.is_empty(), "{when}: {drift:?}");
}

fn ok<T>(r: tally::error::AppResult<T>, what: &str) -> T {
    r.map_err(|e| format!("{e:?}"))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

#[tokio::test]
async fn every_like_and_follow_event_lands_in_its_hour_and_the_rollups_match_the_rows() {
    let db = fresh_db().await;
    let creator =
        insert_account(&db, "maker", Visibility::Private, LikesVisibility::Everyone).await;
    let mut fans = Vec::new();
    for i in 0..5 {
        let handle = format!("fan{i}");
        fans.push(
            insert_account(&db, &handle, Visibility::Public, LikesVisibility::Everyone).await,
        );
    }
    let v1 = video(&db, creator, &["a"]).await;
    let v2 = video(&db, creator, &["b"]).await;

    // Hour 1: two follow requests (private: nothing counted yet), one approved.
    ok(follow_user(&db, fans[0], creator, hour(1)).await, "follow");
    ok(follow_user(&db, fans[1], creator, hour(1)).await, "follow");
    ok(
        approve_follow_request(&db, creator, fans[0], hour(1)).await,
        "approve",
    );
    // Hour 2: turning public approves the other request.
    let public = AccountChanges {
        visibility: Some(Visibility::Public),
        ..Default::default()
    };
    let at2 = Clock::Fixed(chrono::DateTime::from_timestamp_micros(hour(2)).expect("t"));
    ok(update_account(&db, creator, public, at2).await, "public");
    // Hour 3: likes, a repeated like counting once, an unlike (repeated: once).
    for f in &fans {
        ok(like_video(&db, *f, v1, hour(3)).await, "like");
    }
    ok(like_video(&db, fans[0], v1, hour(3)).await, "like again");
    ok(like_video(&db, fans[0], v2, hour(3)).await, "like");
    ok(unlike_video(&db, fans[1], v1, hour(3)).await, "unlike");
    ok(
        unlike_video(&db, fans[1], v1, hour(3)).await,
        "unlike again",
    );
    no_drift(&db, "likes").await;
    // Hour 4: the creator removes fans[0].
    ok(
        remove_follower(&db, creator, fans[0], hour(4)).await,
        "remove",
    );
    // Hour 5: fans[2] follows, then is blocked: its follow and its like go.
    ok(follow_user(&db, fans[2], creator, hour(5)).await, "follow");
    ok(block_user(&db, creator, fans[2], hour(5)).await, "block");
    // Hour 6: fans[3] follows and unfollows; fans[4] follows and deletes its account.
    ok(follow_user(&db, fans[3], creator, hour(6)).await, "follow");
    ok(
        unfollow_user(&db, fans[3], creator, hour(6)).await,
        "unfollow",
    );
    ok(follow_user(&db, fans[4], creator, hour(6)).await, "follow");
    // (Linked to an identity provider: no password to check.)
    let mut q = Sql::default();
    let f = q.bind(fans[4]);
    q.push_unchecked(&format!(
        "UPDATE users SET external_subject = 'idp|fan4', password_hash = '!' WHERE id = {f}"
    ));
    q.execute(&db).await.expect("link");
    ok(
        delete_account(&db, fans[4], String::new(), hour(6)).await,
        "delete",
    );
    // Hour 7: the creator deletes v2 (fans[0]'s like on it goes).
    ok(
        delete_video(&db, creator, v2, hour(7)).await,
        "delete video",
    );
    no_drift(&db, "all").await;

    assert_eq!(
        hours_of(&db, creator).await,
        vec![
            (1, 0, 0, 1, 0),
            (2, 0, 0, 1, 0),
            // 5 fans on v1 and fans[0] on v2; fans[1]'s unlike.
            (3, 6, 1, 0, 0),
            (4, 0, 0, 0, 1),
            // fans[2]: followed, then blocked (follow lost, like removed).
            (5, 0, 1, 1, 1),
            // fans[3] in and out; fans[4] in, and out with its like.
            (6, 0, 1, 2, 2),
            (7, 0, 1, 0, 0),
        ]
    );
}

#[tokio::test]
async fn follower_demographics_follow_the_followers_accounts() {
    let db = fresh_db().await;
    let creator = insert_account(&db, "maker", Visibility::Public, LikesVisibility::Everyone).await;
    let fan = insert_account(&db, "fan", Visibility::Public, LikesVisibility::Everyone).await;
    let clock = Clock::Fixed(chrono::DateTime::from_timestamp_micros(T0).expect("t"));
    let set = |y: i32, r: &str, l: &str| AccountChanges {
        birth_year: Some(y),
        region: Some(r.to_owned()),
        language: Some(l.to_owned()),
        ..Default::default()
    };
    ok(
        update_account(&db, fan, set(1990, "de", "de-AT"), clock).await,
        "edit",
    );
    ok(follow_user(&db, fan, creator, T0).await, "follow");
    no_drift(&db, "followed").await;
    ok(
        update_account(&db, fan, set(2001, "Germany", "en"), clock).await,
        "edit",
    );
    no_drift(&db, "edited").await;
    let mut q = Sql::default();
    let c = q.bind(creator);
    q.push_unchecked(&format!(
        "SELECT dimension, key FROM follower_demographics WHERE creator_id = {c} AND followers = 1 \
         ORDER BY dimension"
    ));
    let rows: Vec<(String, String)> = q
        .all(&db)
        .await
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r.try_get("", "dimension").expect("d"),
                r.try_get("", "key").expect("k"),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("birth_year".to_owned(), "2001".to_owned()),
            ("language".to_owned(), "en".to_owned()),
            // Free text is never copied into an aggregate.
            ("region".to_owned(), "UNKNOWN".to_owned()),
        ]
    );
    // A follow added behind the service's back is caught.
    let mut q = Sql::default();
    let (a, b) = (q.bind(creator), q.bind(fan));
    q.push_unchecked(&format!(
        "INSERT INTO follows (follower_id, followee_id, state, created_at) \
         VALUES ({a}, {b}, 'APPROVED', 0)"
    ));
    q.execute(&db).await.expect("insert");
    let drift = rollups::drift(&db, true).await.expect("drift");
    assert_eq!(drift.len(), 4, "{drift:?}");
}
