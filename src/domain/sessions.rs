//! Sessions: one per sign-in, the family of its refresh tokens. Its `id` is the `sid` of
//! its access tokens, and every request with an access token reads its row by primary key
//! (`crate::auth::Authenticator::credentials`), so that ending a session refuses its
//! access tokens on the very next request, on every instance sharing the database.
//!
//! A refresh token is 256 random bits, stored only as its SHA-256. Exchanging it
//! ([`refresh`]) marks it used and issues the next one; presenting a used one again is reuse
//! (OAuth 2.0 Security BCP, refresh token rotation): the token was copied, so the whole
//! session ends, the legitimate holder's newest tokens with it. Two exchanges of one token
//! racing each other are the same case: the conditional update lets exactly one rotate,
//! and the other finds the token used and ends the session.
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::Duration;
use entity::{refresh_token, session, user, DeviceClass};
use rand::RngCore;
use sea_orm::{
    sea_query::Expr, ActiveEnum, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    hold::{hold, Hold},
    input::check_len,
    viewer_account,
};
use crate::{
    auth::password,
    db,
    error::{AppError, AppResult},
};

/// The most sessions `User.sessions` lists (the newest).
pub const MAX_LISTED: u64 = 100;

/// A new refresh token of a session, shown to the client this once.
#[derive(Debug, Clone)]
pub struct Issued {
    pub session: Uuid,
    pub user: Uuid,
    /// The token's text (only its hash is stored).
    pub refresh_token: String,
    /// When it expires, in microseconds since the Unix epoch.
    pub refresh_expires_at: i64,
}

/// A fresh token's text and the hash stored for it.
fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let text = URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&text);
    (text, hash)
}

/// The stored form of a refresh token: SHA-256, hexadecimal. (A slow hash is not needed:
/// the token is 256 random bits, not a password.)
fn token_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn micros(d: Duration) -> i64 {
    d.num_microseconds().unwrap_or(i64::MAX)
}

/// Inserts a refresh token of `session` valid from `now` for `ttl`.
async fn insert_token(
    txn: &impl ConnectionTrait,
    session: Uuid,
    user: Uuid,
    now: i64,
    ttl: Duration,
) -> AppResult<Issued> {
    let (text, hash) = new_token();
    let expires_at = now.saturating_add(micros(ttl));
    refresh_token::ActiveModel {
        token_hash: Set(hash),
        session_id: Set(session),
        expires_at: Set(expires_at),
        used_at: Set(None),
    }
    .insert(txn)
    .await?;
    Ok(Issued {
        session,
        user,
        refresh_token: text,
        refresh_expires_at: expires_at,
    })
}

/// Starts a session of `user` at `now` (microseconds) from `device`, with its first
/// refresh token, valid for `refresh_ttl`. The account's expired sessions go meanwhile.
pub async fn start(
    db: &DatabaseConnection,
    user: Uuid,
    device: Option<DeviceClass>,
    now: i64,
    refresh_ttl: Duration,
) -> AppResult<Issued> {
    let device = device.map(|d| d.to_value());
    db::transaction(db, move |txn| {
        let device = device.clone();
        Box::pin(async move {
            // Held, the account cannot be deleted before its session is in.
            hold(txn, Hold::Shared, user, None).await?;
            session::Entity::delete_many()
                .filter(session::Column::UserId.eq(user))
                .filter(session::Column::ExpiresAt.lte(now))
                .exec(txn)
                .await?;
            let id = Uuid::now_v7();
            session::ActiveModel {
                id: Set(id),
                user_id: Set(user),
                created_at: Set(now),
                last_used_at: Set(now),
                expires_at: Set(now.saturating_add(micros(refresh_ttl))),
                device: Set(device),
            }
            .insert(txn)
            .await?;
            insert_token(txn, id, user, now, refresh_ttl).await
        })
    })
    .await
}

/// What exchanging a refresh token came to.
enum Exchange {
    Rotated(Issued),
    /// The token was used before: its session (of this account) was ended.
    Reused(Uuid),
    /// No such token (never issued, expired, or its session ended).
    Invalid,
}

/// What presenting a refresh token did.
#[derive(Debug)]
pub enum Refreshed {
    /// The session goes on with these tokens.
    Rotated(Issued),
    /// The token had been used before: the session of this account was ended (answered
    /// with [`reused`]).
    Reused(Uuid),
}

/// The error a reused refresh token is answered with.
pub fn reused() -> AppError {
    AppError::Unauthenticated(
        "this refresh token was already used: its session has been ended, sign in again".into(),
    )
}

/// Exchanges `presented` for the session's next refresh token at `now`; the old one stops
/// working. A token used before ends its whole session ([`Refreshed::Reused`], which the
/// caller refuses with [`reused`]); one that is unknown or expired is `UNAUTHENTICATED`.
pub async fn refresh(
    db: &DatabaseConnection,
    presented: &str,
    now: i64,
    refresh_ttl: Duration,
) -> AppResult<Refreshed> {
    let hash = token_hash(presented);
    let exchange = db::transaction(db, move |txn| {
        let hash = hash.clone();
        Box::pin(async move {
            let Some(token) = refresh_token::Entity::find_by_id(hash.clone())
                .one(txn)
                .await?
            else {
                return Ok(Exchange::Invalid);
            };
            if token.expires_at <= now {
                return Ok(Exchange::Invalid);
            }
            // The one rotation: on PostgreSQL a concurrent exchange of the same token waits
            // on the row here and then finds it used; SQLite runs them one after another.
            let claimed = refresh_token::Entity::update_many()
                .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
                .filter(refresh_token::Column::TokenHash.eq(hash))
                .filter(refresh_token::Column::UsedAt.is_null())
                .exec(txn)
                .await?
                .rows_affected;
            if claimed == 0 {
                let owner = session::Entity::find_by_id(token.session_id)
                    .one(txn)
                    .await?;
                session::Entity::delete_by_id(token.session_id)
                    .exec(txn)
                    .await?;
                return Ok(match owner {
                    Some(s) => Exchange::Reused(s.user_id),
                    None => Exchange::Invalid,
                });
            }
            let Some(found) = session::Entity::find_by_id(token.session_id)
                .one(txn)
                .await?
            else {
                return Ok(Exchange::Invalid);
            };
            let issued = insert_token(txn, found.id, found.user_id, now, refresh_ttl).await?;
            session::Entity::update_many()
                .col_expr(session::Column::LastUsedAt, Expr::value(now))
                .col_expr(
                    session::Column::ExpiresAt,
                    Expr::value(issued.refresh_expires_at),
                )
                .filter(session::Column::Id.eq(found.id))
                .exec(txn)
                .await?;
            // Used tokens are kept (to recognise reuse) until they would have expired.
            refresh_token::Entity::delete_many()
                .filter(refresh_token::Column::SessionId.eq(found.id))
                .filter(refresh_token::Column::ExpiresAt.lte(now))
                .exec(txn)
                .await?;
            Ok(Exchange::Rotated(issued))
        })
    })
    .await?;
    match exchange {
        Exchange::Rotated(issued) => Ok(Refreshed::Rotated(issued)),
        Exchange::Reused(user) => Ok(Refreshed::Reused(user)),
        Exchange::Invalid => Err(AppError::Unauthenticated(
            "the refresh token is not valid (unknown, expired, or its session ended)".into(),
        )),
    }
}

/// Ends `session` of `user`; whether there was one to end.
pub async fn end(db: &impl ConnectionTrait, user: Uuid, session: Uuid) -> AppResult<bool> {
    let gone = session::Entity::delete_many()
        .filter(session::Column::Id.eq(session))
        .filter(session::Column::UserId.eq(user))
        .exec(db)
        .await?
        .rows_affected;
    Ok(gone > 0)
}

/// Ends every session of `user` but `keep`, if given.
pub async fn end_all(db: &impl ConnectionTrait, user: Uuid, keep: Option<Uuid>) -> AppResult<u64> {
    let mut delete = session::Entity::delete_many().filter(session::Column::UserId.eq(user));
    if let Some(keep) = keep {
        delete = delete.filter(session::Column::Id.ne(keep));
    }
    Ok(delete.exec(db).await?.rows_affected)
}

/// The live sessions of `user` at `now`, newest first, at most [`MAX_LISTED`].
pub async fn list(
    db: &impl ConnectionTrait,
    user: Uuid,
    now: i64,
) -> AppResult<Vec<session::Model>> {
    Ok(session::Entity::find()
        .filter(session::Column::UserId.eq(user))
        .filter(session::Column::ExpiresAt.gt(now))
        .order_by_desc(session::Column::CreatedAt)
        .order_by_desc(session::Column::Id)
        .limit(MAX_LISTED)
        .all(db)
        .await?)
}

/// Session `id` if it is a live one of `user` (for `node(id)`: only its account finds it).
pub async fn own(
    db: &impl ConnectionTrait,
    user: Option<Uuid>,
    id: Uuid,
    now: i64,
) -> AppResult<Option<session::Model>> {
    let Some(user) = user else {
        return Ok(None);
    };
    Ok(session::Entity::find_by_id(id)
        .filter(session::Column::UserId.eq(user))
        .filter(session::Column::ExpiresAt.gt(now))
        .one(db)
        .await?)
}

/// Changes the viewer's password after checking the old one, and ends every session of the
/// account but `current` (the request's own, if it has one), in one transaction. A wrong
/// `oldPassword` is `BAD_USER_INPUT` on it; `newPassword` must be 8–256 characters. An
/// account without a password (linked to an identity provider) cannot get one here.
pub async fn change_password(
    db: &DatabaseConnection,
    viewer: Uuid,
    current: Option<Uuid>,
    old_password: String,
    new_password: String,
) -> AppResult<()> {
    check_len("newPassword", &new_password, 8, 256)?;
    let account = viewer_account(db, viewer).await?;
    let Some(phc) = super::accounts::password_of(&account) else {
        return Err(AppError::bad_input(
            "oldPassword",
            "this account has no password (it signs in through the identity provider)",
        ));
    };
    if !password::verify(old_password, Some(phc.clone())).await? {
        return Err(AppError::bad_input("oldPassword", "password is wrong"));
    }
    let new_hash = password::hash(new_password).await?;
    db::transaction(db, move |txn| {
        let (new_hash, phc) = (new_hash.clone(), phc.clone());
        Box::pin(async move {
            hold(txn, Hold::Exclusive, viewer, None).await?;
            // Only over the hash that was checked: a concurrent change wins, this one fails.
            let changed = user::Entity::update_many()
                .col_expr(user::Column::PasswordHash, Expr::value(new_hash))
                .filter(user::Column::Id.eq(viewer))
                .filter(user::Column::PasswordHash.eq(phc))
                .exec(txn)
                .await?
                .rows_affected;
            if changed == 0 {
                return Err(AppError::bad_input(
                    "oldPassword",
                    "the password was changed meanwhile",
                ));
            }
            end_all(txn, viewer, current).await?;
            Ok(())
        })
    })
    .await
}
