//! The follow graph (with approvals) and blocks.
use std::collections::HashMap;

use entity::{block, follow, user, FollowState, Visibility};
use sea_orm::{
    sea_query::{Expr, ExprTrait, Func, OnConflict, Query, SelectStatement},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect,
};
use uuid::Uuid;

use super::{
    hold::{hold, Hold, Other},
    likes::remove_likes_by,
    page::{self, Page, PageRequest},
    public_user_columns,
    rollups::{self, At, Followees},
    viewer_account, PublicUser,
};
use crate::{
    db::{self, col, Ident, Sql},
    error::{AppError, AppResult},
    frag,
    privacy::sql as policy,
};

/// `u.id`: the ID of the account aliased `u`.
fn u_id() -> Ident {
    Ident::at("u", user::Column::Id)
}

/// The account `id`, unless it is absent or separated from `viewer` by a block.
pub async fn visible_user(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    id: Uuid,
) -> AppResult<Option<user::Model>> {
    let mut q = Sql::default();
    let v = viewer.map(|id| q.bind(id));
    let u = q.bind(id);
    q.append(frag![
        "SELECT u.* FROM users u WHERE u.id = ",
        u,
        " AND ",
        policy::account_visible(v, &u_id())
    ]);
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
    q.append(frag![
        "SELECT u.* FROM users u WHERE u.handle = ",
        h,
        " AND ",
        policy::account_visible(v, &u_id())
    ]);
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
    Ok(follow::Entity::find_by_id((follower, followee))
        .select_only()
        .column(follow::Column::State)
        .into_tuple()
        .one(db)
        .await?)
}

/// Deletes the follow `follower → followee` (only in state `only`, when given) at `at`;
/// an approved one counts as a lost follower in the rollups. Whether there was one.
async fn delete_follow(
    txn: &impl ConnectionTrait,
    follower: Uuid,
    followee: Uuid,
    only: Option<FollowState>,
    at: At,
) -> AppResult<bool> {
    let mut delete = follow::Entity::delete_many()
        .filter(follow::Column::FollowerId.eq(follower))
        .filter(follow::Column::FolloweeId.eq(followee));
    if let Some(state) = only {
        delete = delete.filter(follow::Column::State.eq(state));
    }
    let deleted = delete.exec_with_returning(txn).await?;
    if deleted.iter().any(|f| f.state == FollowState::Approved) {
        let account = viewer_account(txn, follower).await?;
        rollups::followers_lost(txn, &account, Followees::One(followee), at).await?;
    }
    Ok(!deleted.is_empty())
}

/// The viewer follows `target` at `now` (microseconds, from the request's clock): approved
/// at once if `target` is public, pending if private. Repeating it returns the current state.
pub async fn follow_user(
    db: &DatabaseConnection,
    viewer: Uuid,
    target: Uuid,
    now: i64,
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
            let row = follow::ActiveModel {
                follower_id: Set(viewer),
                followee_id: Set(target),
                state: Set(state),
                created_at: Set(now),
            };
            let inserted = follow::Entity::insert(row)
                .on_conflict(OnConflict::new().do_nothing().to_owned())
                .exec_without_returning(txn)
                .await?;
            if inserted == 1 && state == FollowState::Approved {
                let me = viewer_account(txn, viewer).await?;
                rollups::follower_gained(txn, &me, target, At::of(now)).await?;
            }
            let state = find_follow(txn, viewer, target).await?.unwrap_or(state);
            Ok((state, followee))
        })
    })
    .await
}

/// The viewer stops following `target` (pending or approved) at `now`. Returns whether a
/// follow was removed.
pub async fn unfollow_user(
    db: &DatabaseConnection,
    viewer: Uuid,
    target: Uuid,
    now: i64,
) -> AppResult<bool> {
    db::transaction(db, move |txn| {
        Box::pin(async move {
            hold(txn, Hold::Shared, viewer, Some(Other::Account(target))).await?;
            visible_user_or_404(txn, viewer, target).await?;
            delete_follow(txn, viewer, target, None, At::of(now)).await
        })
    })
    .await
}

/// The viewer approves `follower`'s pending request at `now` (`NOT_FOUND` when there is
/// none).
pub async fn approve_follow_request(
    db: &DatabaseConnection,
    viewer: Uuid,
    follower: Uuid,
    now: i64,
) -> AppResult<user::Model> {
    db::transaction(db, move |txn| {
        Box::pin(async move {
            hold(txn, Hold::Shared, viewer, Some(Other::Account(follower))).await?;
            let approved = follow::Entity::update_many()
                .col_expr(follow::Column::State, Expr::value(FollowState::Approved))
                .filter(follow::Column::FollowerId.eq(follower))
                .filter(follow::Column::FolloweeId.eq(viewer))
                .filter(follow::Column::State.eq(FollowState::Pending))
                .exec(txn)
                .await?;
            if approved.rows_affected == 0 {
                return Err(AppError::NotFound);
            }
            let account = visible_user_or_404(txn, viewer, follower).await?;
            rollups::follower_gained(txn, &account, viewer, At::of(now)).await?;
            Ok(account)
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
            let at = At::of(0); // a pending follow was never counted
            match delete_follow(txn, follower, viewer, Some(FollowState::Pending), at).await? {
                true => Ok(()),
                false => Err(AppError::NotFound),
            }
        })
    })
    .await
}

/// The viewer removes `follower`'s approved follow at `now` (`NOT_FOUND` when there is
/// none): a lost follower in the rollups.
pub async fn remove_follower(
    db: &DatabaseConnection,
    viewer: Uuid,
    follower: Uuid,
    now: i64,
) -> AppResult<()> {
    db::transaction(db, move |txn| {
        Box::pin(async move {
            hold(txn, Hold::Shared, viewer, Some(Other::Account(follower))).await?;
            let at = At::of(now);
            match delete_follow(txn, follower, viewer, Some(FollowState::Approved), at).await? {
                true => Ok(()),
                false => Err(AppError::NotFound),
            }
        })
    })
    .await
}

/// Whether `blocker` has blocked `blocked` (one direction).
async fn has_blocked(db: &impl ConnectionTrait, blocker: Uuid, blocked: Uuid) -> AppResult<bool> {
    Ok(block::Entity::find_by_id((blocker, blocked))
        .one(db)
        .await?
        .is_some())
}

/// The viewer blocks `target`: follows both ways and each one's likes on the other's
/// videos are removed (counters drop), in one transaction; the block is stamped `now`
/// (microseconds, from the request's clock). Blocking again is a no-op; an account that has
/// blocked the viewer is `NOT_FOUND`, as if it did not exist.
pub async fn block_user(
    db: &DatabaseConnection,
    viewer: Uuid,
    target: Uuid,
    now: i64,
) -> AppResult<()> {
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
            let row = block::ActiveModel {
                blocker_id: Set(viewer),
                blocked_id: Set(target),
                created_at: Set(now),
            };
            // Held exclusively, the pair cannot gain a block meanwhile; the clause keeps a
            // duplicate from ever surfacing as an error all the same.
            block::Entity::insert(row)
                .on_conflict(OnConflict::new().do_nothing().to_owned())
                .exec_without_returning(txn)
                .await?;
            let at = At::of(now);
            delete_follow(txn, viewer, target, None, at).await?;
            delete_follow(txn, target, viewer, None, at).await?;
            remove_likes_by(txn, viewer, Some(target), at).await?;
            remove_likes_by(txn, target, Some(viewer), at).await?;
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
            let lifted = block::Entity::delete_by_id((viewer, target))
                .exec(txn)
                .await?;
            if lifted.rows_affected > 0 {
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
    // The approved follows whose `side` is the account of the outer row.
    let approved_with = |side: follow::Column| -> SelectStatement {
        Query::select()
            .expr(Func::count(Expr::col(sea_orm::sea_query::Asterisk)))
            .from(follow::Entity)
            .and_where(Expr::col((follow::Entity, side)).equals((user::Entity, user::Column::Id)))
            .and_where(follow::Column::State.eq(FollowState::Approved))
            .to_owned()
    };
    let query = Query::select()
        .column((user::Entity, user::Column::Id))
        .expr_as(approved_with(follow::Column::FolloweeId), "followers")
        .expr_as(approved_with(follow::Column::FollowerId), "following")
        .from(user::Entity)
        .and_where(user::Column::Id.is_in(users.iter().copied()))
        .to_owned();
    db.query_all(&query)
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
    let states: Vec<(Uuid, FollowState)> = follow::Entity::find()
        .select_only()
        .columns([follow::Column::FolloweeId, follow::Column::State])
        .filter(follow::Column::FollowerId.eq(viewer))
        .filter(follow::Column::FolloweeId.is_in(users.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(states.into_iter().collect())
}

/// The viewer's pending follow requests, newest first.
pub async fn follow_requests(
    db: &impl ConnectionTrait,
    viewer: Uuid,
    req: PageRequest,
) -> AppResult<Page<PublicUser>> {
    let mut q = Sql::default();
    let me = q.bind(viewer);
    q.append(frag![
        "SELECT ",
        public_user_columns("u"),
        ", f.created_at AS k_time FROM follows f JOIN users u ON u.id = f.follower_id \
         WHERE f.followee_id = ",
        me,
        " AND f.state = ",
        db::lit(FollowState::Pending)
    ]);
    req.apply(
        &mut q,
        &Ident::at("f", follow::Column::CreatedAt),
        &Ident::at("f", follow::Column::FollowerId),
    );
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
    q.append(frag![
        "SELECT ", public_user_columns("u"),
        ", b.created_at AS k_time FROM blocks b JOIN users u ON u.id = b.blocked_id WHERE b.blocker_id = ",
        me
    ]);
    req.apply(
        &mut q,
        &Ident::at("b", block::Column::CreatedAt),
        &Ident::at("b", block::Column::BlockedId),
    );
    page::fetch(db, &q, req, |u: &PublicUser| u.id).await
}
