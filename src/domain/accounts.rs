//! Sign-up, log-in, settings and account deletion.
use chrono::Datelike;
use entity::{user, AccountType, Audience, LikesVisibility, Visibility};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, SqlErr,
};
use uuid::Uuid;

use super::{likes, viewer_account};
use crate::{
    auth::password,
    db::{self, now_us, Sql},
    error::{AppError, AppResult},
    privacy::audience,
};

/// What `signUp` receives.
#[derive(Debug, Clone)]
pub struct SignUp {
    pub handle: String,
    pub password: String,
    pub display_name: Option<String>,
    pub account_type: AccountType,
    pub visibility: Visibility,
    pub likes_visibility: LikesVisibility,
    pub birth_year: Option<i32>,
    pub region: Option<String>,
    pub language: Option<String>,
}

/// What `updateAccount` may change; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct AccountChanges {
    pub display_name: Option<String>,
    pub account_type: Option<AccountType>,
    pub visibility: Option<Visibility>,
    pub likes_visibility: Option<LikesVisibility>,
    pub birth_year: Option<i32>,
    pub region: Option<String>,
    pub language: Option<String>,
}

/// Lower-cases and checks a handle: 3–30 characters of `a-z 0-9 _ .`.
pub fn normalize_handle(field: &str, handle: &str) -> AppResult<String> {
    let h = handle.to_lowercase();
    let ok_len = (3..=30).contains(&h.chars().count());
    let ok_chars = h
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
    if ok_len && ok_chars {
        Ok(h)
    } else {
        Err(AppError::bad_input(
            field,
            "handle must be 3–30 characters of a-z, 0-9, _ and .",
        ))
    }
}

fn check_len(field: &str, value: &str, min: usize, max: usize) -> AppResult<()> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must be {min}–{max} characters"),
        ));
    }
    Ok(())
}

fn check_birth_year(field: &str, year: Option<i32>) -> AppResult<()> {
    let current = chrono::Utc::now().year();
    match year {
        Some(y) if !(1900..=current).contains(&y) => Err(AppError::bad_input(
            field,
            format!("`{field}` must be between 1900 and {current}"),
        )),
        _ => Ok(()),
    }
}

fn check_profile(prefix: &str, c: &AccountChanges) -> AppResult<()> {
    let f = |name: &str| format!("{prefix}{name}");
    if let Some(d) = &c.display_name {
        check_len(&f("displayName"), d.trim(), 1, 100)?;
    }
    check_birth_year(&f("birthYear"), c.birth_year)?;
    if let Some(r) = &c.region {
        check_len(&f("region"), r, 1, 64)?;
    }
    if let Some(l) = &c.language {
        check_len(&f("language"), l, 1, 32)?;
    }
    Ok(())
}

/// Creates an account. `CONFLICT` on `input.handle` when the handle is taken.
pub async fn sign_up(db: &DatabaseConnection, input: SignUp) -> AppResult<user::Model> {
    let handle = normalize_handle("input.handle", &input.handle)?;
    check_len("input.password", &input.password, 8, 256)?;
    let profile = AccountChanges {
        display_name: input.display_name.clone(),
        birth_year: input.birth_year,
        region: input.region.clone(),
        language: input.language.clone(),
        ..Default::default()
    };
    check_profile("input.", &profile)?;
    let taken = || AppError::Conflict {
        field: "input.handle".into(),
        message: "handle is taken".into(),
    };
    if user::Entity::find()
        .filter(user::Column::Handle.eq(&handle))
        .one(db)
        .await?
        .is_some()
    {
        return Err(taken());
    }
    let password_hash = password::hash(input.password).await?;
    let model = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        display_name: Set(input
            .display_name
            .map(|d| d.trim().to_owned())
            .unwrap_or_else(|| handle.clone())),
        handle: Set(handle),
        password_hash: Set(password_hash),
        account_type: Set(input.account_type),
        visibility: Set(input.visibility),
        likes_visibility: Set(input.likes_visibility),
        birth_year: Set(input.birth_year),
        region: Set(input.region),
        language: Set(input.language),
        created_at: Set(now_us()),
    };
    match model.insert(db).await {
        Ok(m) => Ok(m),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Err(taken()),
        Err(e) => Err(e.into()),
    }
}

/// Checks credentials; a wrong handle and a wrong password answer alike.
pub async fn log_in(
    db: &DatabaseConnection,
    handle: &str,
    password: String,
) -> AppResult<user::Model> {
    let found = user::Entity::find()
        .filter(user::Column::Handle.eq(handle.to_lowercase()))
        .one(db)
        .await?;
    let ok = password::verify(password, found.as_ref().map(|u| u.password_hash.clone())).await?;
    match found {
        Some(u) if ok => Ok(u),
        _ => Err(AppError::Unauthenticated("wrong handle or password".into())),
    }
}

/// Applies settings changes in one transaction, with their effects: a new audience is
/// copied onto every like and the per-audience counters are corrected; turning `PUBLIC`
/// approves every pending follow request.
pub async fn update_account(
    db: &DatabaseConnection,
    viewer: Uuid,
    changes: AccountChanges,
) -> AppResult<user::Model> {
    check_profile("input.", &changes)?;
    db::transaction(db, move |txn| {
        let changes = changes.clone();
        Box::pin(async move {
            let before = viewer_account(txn, viewer).await?;
            let mut am: user::ActiveModel = before.clone().into();
            if let Some(d) = changes.display_name {
                am.display_name = Set(d.trim().to_owned());
            }
            if let Some(t) = changes.account_type {
                am.account_type = Set(t);
            }
            if let Some(v) = changes.visibility {
                am.visibility = Set(v);
            }
            if let Some(l) = changes.likes_visibility {
                am.likes_visibility = Set(l);
            }
            if let Some(y) = changes.birth_year {
                am.birth_year = Set(Some(y));
            }
            if let Some(r) = changes.region {
                am.region = Set(Some(r));
            }
            if let Some(l) = changes.language {
                am.language = Set(Some(l));
            }
            let after = am.update(txn).await?;
            let new_audience = audience(after.visibility, after.likes_visibility);
            if new_audience != audience(before.visibility, before.likes_visibility) {
                set_like_audience(txn, viewer, new_audience).await?;
            }
            if before.visibility == Visibility::Private && after.visibility == Visibility::Public {
                let mut q = Sql::default();
                let me = q.bind(viewer);
                q.push(&format!(
                    "UPDATE follows SET state = 'APPROVED' WHERE followee_id = {me} AND state = 'PENDING'"
                ));
                q.execute(txn).await?;
            }
            Ok(after)
        })
    })
    .await
}

/// Re-labels every like of `liker` with `new` and moves the per-audience counters of the
/// liked videos from the labels the likes had to the new one.
async fn set_like_audience(
    txn: &impl ConnectionTrait,
    liker: Uuid,
    new: Audience,
) -> AppResult<()> {
    let mut q = Sql::default();
    let u = q.bind(liker);
    let add_everyone = q.bind(i64::from(new == Audience::Everyone));
    let add_followers = q.bind(i64::from(new == Audience::Followers));
    let had = |aud: &str| {
        format!("(SELECT COUNT(*) FROM likes l WHERE l.video_id = videos.id AND l.user_id = {u} AND l.audience = '{aud}')")
    };
    q.push(&format!(
        "UPDATE videos SET everyone_likes = everyone_likes + {add_everyone} - {}, \
         followers_likes = followers_likes + {add_followers} - {} \
         WHERE id IN (SELECT video_id FROM likes WHERE user_id = {u})",
        had("EVERYONE"),
        had("FOLLOWERS"),
    ));
    q.execute(txn).await?;
    let mut q = Sql::default();
    let aud = q.bind(new);
    let u = q.bind(liker);
    q.push(&format!(
        "UPDATE likes SET audience = {aud} WHERE user_id = {u}"
    ));
    q.execute(txn).await?;
    Ok(())
}

/// Deletes the viewer's account after checking its password: its likes (counters drop),
/// follows, blocks and videos go with it, in one transaction.
pub async fn delete_account(
    db: &DatabaseConnection,
    viewer: Uuid,
    password: String,
) -> AppResult<()> {
    let account = viewer_account(db, viewer).await?;
    if !password::verify(password, Some(account.password_hash)).await? {
        return Err(AppError::bad_input("password", "password is wrong"));
    }
    db::transaction(db, move |txn| {
        Box::pin(async move {
            likes::remove_likes_by(txn, viewer, None).await?;
            user::Entity::delete_by_id(viewer).exec(txn).await?;
            Ok(())
        })
    })
    .await
}
