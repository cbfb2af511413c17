//! The follow graph (with approvals) and blocks.
use std::collections::HashMap;

use entity::{user, FollowState, Visibility};
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult};
use uuid::Uuid;

use super::{
    hold::{hold, Hold, Other},
    likes::remove_likes_by,
    page::{self, Page, PageRequest},
    public_user_columns, PublicUser,
};
use crate::{
    db::{self, col, now_us, Sql},
    error::{AppError, AppResult},
    privacy::sql as policy,
};

/// The account `id`, unless it is absent or separated from `viewer` by a block.
pub async fn visible_user(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    id: Uuid,
) -> AppResult<Option<user::Model>> {
    let mut q = Sql::default();
    let v = viewer.map(|id| q.bind(id));
    let u = q.bind(id);
    q.push(&format!(
        "SELECT u.* FROM users u WHERE u.id = {u} AND {}",
        policy::account_visible(v.as_deref(), "u.id")
    ));
    Ok(q.one(db)
        .await?
        .map(|r| user::Model::from_query_result(&r, ""))
        .transpose()?)
}

/// The account with `handle`, unless it is absent or separated from `viewer` by a block.
pub async fn visible_user_by_handle(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    handle: &str,
) -> AppResult<Option<user::Model>> {
    // No handle holds NUL, which PostgreSQL text cannot even be compared with.
    if handle.contains('\0') {
        return Ok(None);
    }
    let mut q = Sql::default();
    let v = viewer.map(|id| q.bind(id));
    let h = q.bind(handle.to_lowercase());
    q.push(&format!(
        "SELECT u.* FROM users u WHERE u.handle = {h} AND {}",
        policy::account_visible(v.as_deref(), "u.id")
    ));
    Ok(q.one(db)
        .await?
        .map(|r| user::Model::from_query_result(&r, ""))
        .transpose()?)
}

async fn visible_user_or_404(
    txn: &impl ConnectionTrait,
    viewer: Uuid,
    id: Uuid,
) -> AppResult<user::Model> {
    visible_user(txn, Some(viewer), id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The follow `follower → followee`, if any (pending or approved).
pub async fn find_follow(
    db: &impl ConnectionTrait,
    follower: Uuid,
    followee: Uuid,
) -> AppResult<Option<FollowState>> {
    let mut q = Sql::default();
    let (a, b) = (q.bind(follower), q.bind(followee));
    q.push(&format!(
        "SELECT state FROM follows WHERE follower_id = {a} AND followee_id = {b}"
    ));
    q.one(db)
        .await?
        .map(|r| col::<FollowState>(&r, "state"))
        .transpose()
}

async fn delete_follow(
    txn: &impl ConnectionTrait,
    follower: Uuid,
    followee: Uuid,
    only: Option<FollowState>,
) -> AppResult<bool> {
    let mut q = Sql::default();
    let (a, b) = (q.bind(follower), q.bind(followee));
    q.push(&format!(
        "DELETE FROM follows WHERE follower_id = {a} AND followee_id = {b}"
    ));
    if let Some(state) = only {
        let s = q.bind(state);
        q.push(&format!(" AND state = {s}"));
    }
    Ok(q.execute(txn).await? > 0)
}

/// The viewer follows `target`: approved at once if `target` is public, pending if
/// private. Repeating it returns the current state.
pub async fn follow_user(
    db: &DatabaseConnection,
    viewer: Uuid,
    target: Uuid,
) -> AppResult<(FollowState, user::Model)> {
    if viewer == target {
        return Err(AppError::bad_input("userId", "you cannot follow yourself"));
    }
    db::transaction(db, move |txn| {
        Box::pin(async move {
            hold(txn, Hold::Shared, viewer, Some(Other::Account(target))).await?;
            let followee = visible_user_or_404(txn, viewer, target).await?;
            if let Some(state) = find_follow(txn, viewer, target).await? {
                return Ok((state, followee));
            }
            let state = match followee.visibility {
                Visibility::Public => FollowState::Approved,
                Visibility::Private => FollowState::Pending,
            };
            let mut q = Sql::default();
            let (a, b, s, t) = (q.bind(viewer), q.bind(target), q.bind(state), q.bind(now_us()));
            q.push(&format!(
                "INSERT INTO follows (follower_id, followee_id, state, created_at) VALUES ({a}, {b}, {s}, {t}) \
                 ON CONFLICT DO NOTHING"
            ));
            q.execute(txn).await?;
            let state = find_follow(txn, viewer, target).await?.unwrap_or(state);
            Ok((state, followee))
        })
    })
    .await
}

/// The viewer stops following `target` (pending or approved). Returns whether a follow
/// was removed.
pub async fn unfollow_user(db: &DatabaseConnection, viewer: Uuid, target: Uuid) -> AppResult<bool> {
    db::transaction(db, move |txn| {
        Box::pin(async move {
            hold(txn, Hold::Shared, viewer, Some(Other::Account(target))).await?;
            visible_user_or_404(txn, viewer, target).await?;
            delete_follow(txn, viewer, target, None).await
        })
    })
    .await
}

/// The viewer approves `follower`'s pending request (`NOT_FOUND` when there is none).
pub async fn approve_follow_request(
    db: &DatabaseConnection,
    viewer: Uuid,
    follower: Uuid,
) -> AppResult<user::Model> {
    db::transaction(db, move |txn| {
        Box::pin(async move {
            hold(txn, Hold::Shared, viewer, Some(Other::Account(follower))).await?;
            let mut q = Sql::default();
            let (a, b) = (q.bind(follower), q.bind(viewer));
            q.push(&format!(
                "UPDATE follows SET state = 'APPROVED' WHERE follower_id = {a} AND followee_id = {b} AND state = 'PENDING'"
            ));
            if q.execute(txn).await? == 0 {
                return Err(AppError::NotFound);
            }
            visible_user_or_404(txn, viewer, follower).await
        })
    })
    .await
}

/// The viewer rejects `follower`'s pending request (`NOT_FOUND` when there is none).
pub async fn reject_follow_request(
    db: &DatabaseConnection,
    viewer: Uuid,
    follower: Uuid,
) -> AppResult<()> {
    db::transaction(db, move |txn| {
        Box::pin(async move {
            hold(txn, Hold::Shared, viewer, Some(Other::Account(follower))).await?;
            match delete_follow(txn, follower, viewer, Some(FollowState::Pending)).await? {
                true => Ok(()),
                false => Err(AppError::NotFound),
            }
        })
    })
    .await
}

/// The viewer removes `follower`'s approved follow (`NOT_FOUND` when there is none).
pub async fn remove_follower(
    db: &DatabaseConnection,
    viewer: Uuid,
    follower: Uuid,
) -> AppResult<()> {
    db::transaction(db, move |txn| {
        Box::pin(async move {
            hold(txn, Hold::Shared, viewer, Some(Other::Account(follower))).await?;
            match delete_follow(txn, follower, viewer, Some(FollowState::Approved)).await? {
                true => Ok(()),
                false => Err(AppError::NotFound),
            }
        })
    })
    .await
}

/// Whether `blocker` has blocked `blocked` (one direction).
async fn has_blocked(db: &impl ConnectionTrait, blocker: Uuid, blocked: Uuid) -> AppResult<bool> {
    let mut q = Sql::default();
    let (a, b) = (q.bind(blocker), q.bind(blocked));
    q.push(&format!(
        "SELECT 1 AS one FROM blocks WHERE blocker_id = {a} AND blocked_id = {b}"
    ));
    Ok(q.one(db).await?.is_some())
}

/// The viewer blocks `target`: follows both ways and each one's likes on the other's
/// videos are removed (counters drop), in one transaction. Blocking again is a no-op; an
/// account that has blocked the viewer is `NOT_FOUND`, as if it did not exist.
pub async fn block_user(db: &DatabaseConnection, viewer: Uuid, target: Uuid) -> AppResult<()> {
    if viewer == target {
        return Err(AppError::bad_input("userId", "you cannot block yourself"));
    }
    db::transaction(db, move |txn| {
        Box::pin(async move {
            hold(txn, Hold::Exclusive, viewer, Some(Other::Account(target))).await?;
            if has_blocked(txn, viewer, target).await? {
                return Ok(());
            }
            visible_user_or_404(txn, viewer, target).await?;
            let mut q = Sql::default();
            let (a, b, t) = (q.bind(viewer), q.bind(target), q.bind(now_us()));
            // Held exclusively, the pair cannot gain a block meanwhile; the clause keeps a
            // duplicate from ever surfacing as an error all the same.
            q.push(&format!(
                "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ({a}, {b}, {t}) \
                 ON CONFLICT DO NOTHING"
            ));
            q.execute(txn).await?;
            delete_follow(txn, viewer, target, None).await?;
            delete_follow(txn, target, viewer, None).await?;
            remove_likes_by(txn, viewer, Some(target)).await?;
            remove_likes_by(txn, target, Some(viewer)).await?;
            Ok(())
        })
    })
    .await
}

/// The viewer lifts its block of `target`; nothing removed by the block comes back.
/// Returns whether a block was lifted. An account absent, or one that has blocked the
/// viewer, is `NOT_FOUND`.
pub async fn unblock_user(db: &DatabaseConnection, viewer: Uuid, target: Uuid) -> AppResult<bool> {
    db::transaction(db, move |txn| {
        Box::pin(async move {
            hold(txn, Hold::Exclusive, viewer, Some(Other::Account(target))).await?;
            let mut q = Sql::default();
            let (a, b) = (q.bind(viewer), q.bind(target));
            q.push(&format!(
                "DELETE FROM blocks WHERE blocker_id = {a} AND blocked_id = {b}"
            ));
            if q.execute(txn).await? > 0 {
                return Ok(true);
            }
            visible_user_or_404(txn, viewer, target).await?;
            Ok(false)
        })
    })
    .await
}

/// Approved followers and followings of each of `users`: `(followers, following)`.
pub async fn follow_counts(
    db: &impl ConnectionTrait,
    users: &[Uuid],
) -> AppResult<HashMap<Uuid, (i64, i64)>> {
    if users.is_empty() {
        return Ok(HashMap::new());
    }
    let mut q = Sql::default();
    let ids = q.bind_list(users);
    q.push(&format!(
        "SELECT u.id, \
         (SELECT COUNT(*) FROM follows f WHERE f.followee_id = u.id AND f.state = 'APPROVED') AS followers, \
         (SELECT COUNT(*) FROM follows f WHERE f.follower_id = u.id AND f.state = 'APPROVED') AS following \
         FROM users u WHERE u.id IN ({})",
        ids
    ));
    q.all(db)
        .await?
        .iter()
        .map(|r| {
            Ok((
                col::<Uuid>(r, "id")?,
                (col(r, "followers")?, col(r, "following")?),
            ))
        })
        .collect()
}

/// The state of `viewer`'s follow of each of `users` that it follows or asked to follow.
pub async fn follow_states(
    db: &impl ConnectionTrait,
    viewer: Uuid,
    users: &[Uuid],
) -> AppResult<HashMap<Uuid, FollowState>> {
    if users.is_empty() {
        return Ok(HashMap::new());
    }
    let mut q = Sql::default();
    let me = q.bind(viewer);
    let ids = q.bind_list(users);
    q.push(&format!(
        "SELECT followee_id, state FROM follows WHERE follower_id = {me} AND followee_id IN ({})",
        ids
    ));
    q.all(db)
        .await?
        .iter()
        .map(|r| {
            Ok((
                col::<Uuid>(r, "followee_id")?,
                col::<FollowState>(r, "state")?,
            ))
        })
        .collect()
}

/// The viewer's pending follow requests, newest first.
pub async fn follow_requests(
    db: &impl ConnectionTrait,
    viewer: Uuid,
    req: PageRequest,
) -> AppResult<Page<PublicUser>> {
    let mut q = Sql::default();
    let me = q.bind(viewer);
    q.push(&format!(
        "SELECT {}, f.created_at AS k_time FROM follows f JOIN users u ON u.id = f.follower_id \
         WHERE f.followee_id = {me} AND f.state = 'PENDING'",
        public_user_columns("u")
    ));
    req.apply(&mut q, "f.created_at", "f.follower_id");
    page::fetch(db, &q, req, |u: &PublicUser| u.id).await
}

/// The accounts the viewer has blocked, newest block first.
pub async fn blocked_users(
    db: &impl ConnectionTrait,
    viewer: Uuid,
    req: PageRequest,
) -> AppResult<Page<PublicUser>> {
    let mut q = Sql::default();
    let me = q.bind(viewer);
    q.push(&format!(
        "SELECT {}, b.created_at AS k_time FROM blocks b JOIN users u ON u.id = b.blocked_id WHERE b.blocker_id = {me}",
        public_user_columns("u")
    ));
    req.apply(&mut q, "b.created_at", "b.blocked_id");
    page::fetch(db, &q, req, |u: &PublicUser| u.id).await
}
