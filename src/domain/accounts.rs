//! Sign-up, log-in, provisioning for identity-provider subjects, settings and account
//! deletion.
use entity::{follow, user, AccountType, FollowState, LikesVisibility, Visibility};
use migration::EXTERNAL_SUBJECT_INDEX;
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection,
    EntityTrait, QueryFilter,
};
use uuid::Uuid;

use super::{
    hold::{hold, Hold},
    input::{check_len, check_no_nul, normalize_handle, normalize_media_url},
    liker_rollup, likes,
    rollups::{self, At, Followees},
    viewer_account,
};
use crate::{
    auth::{account_linked_to, password},
    clock::Clock,
    db,
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
    /// The account's picture ([`normalize_media_url`]).
    pub avatar_url: Option<String>,
}

/// What `provisionAccount` receives: an account like `signUp`'s, without a password.
#[derive(Debug, Clone)]
pub struct Provision {
    pub handle: String,
    pub display_name: Option<String>,
    pub account_type: AccountType,
    pub visibility: Visibility,
    pub likes_visibility: LikesVisibility,
    pub birth_year: Option<i32>,
    pub region: Option<String>,
    pub language: Option<String>,
    pub avatar_url: Option<String>,
}

/// `users.password_hash` of an account without a password (linked to an identity-provider
/// subject): not a PHC string, so no password ever matches it.
pub const NO_PASSWORD: &str = "!";

/// The account's password hash, or `None` when it has no password.
pub(crate) fn password_of(account: &user::Model) -> Option<String> {
    (account.password_hash != NO_PASSWORD && account.external_subject.is_none())
        .then(|| account.password_hash.clone())
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
    /// `Some(None)` removes the picture.
    pub avatar_url: Option<Option<String>>,
}

/// `birthYear` in 1900..=the clock's current year.
fn check_birth_year(field: &str, year: Option<i32>, clock: Clock) -> AppResult<()> {
    let current = clock.year();
    match year {
        Some(y) if !(1900..=current).contains(&y) => Err(AppError::bad_input(
            field,
            format!("`{field}` must be between 1900 and {current}"),
        )),
        _ => Ok(()),
    }
}

/// Checks the profile fields of `c` and normalizes its avatar URL.
fn check_profile(prefix: &str, c: &mut AccountChanges, clock: Clock) -> AppResult<()> {
    let f = |name: &str| format!("{prefix}{name}");
    if let Some(d) = &c.display_name {
        check_len(&f("displayName"), d.trim(), 1, 100)?;
        check_no_nul(&f("displayName"), d)?;
    }
    check_birth_year(&f("birthYear"), c.birth_year, clock)?;
    if let Some(r) = &c.region {
        check_len(&f("region"), r, 1, 64)?;
        check_no_nul(&f("region"), r)?;
    }
    if let Some(l) = &c.language {
        check_len(&f("language"), l, 1, 32)?;
        check_no_nul(&f("language"), l)?;
    }
    if let Some(Some(url)) = &c.avatar_url {
        c.avatar_url = Some(Some(normalize_media_url(&f("avatarUrl"), url)?));
    }
    Ok(())
}

/// Creates an account, created now by `clock`. `CONFLICT` on `input.handle` when the handle
/// is taken.
pub async fn sign_up(
    db: &DatabaseConnection,
    input: SignUp,
    clock: Clock,
) -> AppResult<user::Model> {
    let handle = normalize_handle("input.handle", &input.handle)?;
    check_len("input.password", &input.password, 8, 256)?;
    let account = Provision {
        handle,
        display_name: input.display_name,
        account_type: input.account_type,
        visibility: input.visibility,
        likes_visibility: input.likes_visibility,
        birth_year: input.birth_year,
        region: input.region,
        language: input.language,
        avatar_url: input.avatar_url,
    };
    let account = check_new_account(db, account, clock).await?;
    let password_hash = password::hash(input.password).await?;
    insert_account(db, account, password_hash, None, clock).await
}

/// Creates the account linked to the identity-provider `subject`, without a password
/// (`logIn` never succeeds for it). `CONFLICT` when the handle is taken or an account is
/// already linked to `subject`.
pub async fn provision_account(
    db: &DatabaseConnection,
    subject: String,
    input: Provision,
    clock: Clock,
) -> AppResult<user::Model> {
    let account = Provision {
        handle: normalize_handle("input.handle", &input.handle)?,
        ..input
    };
    let account = check_new_account(db, account, clock).await?;
    if account_linked_to(db, &subject).await?.is_some() {
        return Err(already_linked());
    }
    insert_account(db, account, NO_PASSWORD.to_owned(), Some(subject), clock).await
}

fn handle_taken() -> AppError {
    AppError::Conflict {
        field: "input.handle".into(),
        message: "handle is taken".into(),
    }
}

/// `CONFLICT`: the identity-provider subject already has an account.
pub fn already_linked() -> AppError {
    AppError::Conflict {
        field: String::new(),
        message: "an account is already linked to this identity".into(),
    }
}

/// Validates a new account's profile (its handle already normalized), normalizes its
/// avatar URL and checks that the handle is free.
async fn check_new_account(
    db: &DatabaseConnection,
    mut account: Provision,
    clock: Clock,
) -> AppResult<Provision> {
    let mut profile = AccountChanges {
        display_name: account.display_name.clone(),
        birth_year: account.birth_year,
        region: account.region.clone(),
        language: account.language.clone(),
        avatar_url: account.avatar_url.clone().map(Some),
        ..Default::default()
    };
    check_profile("input.", &mut profile, clock)?;
    account.avatar_url = profile.avatar_url.flatten();
    if user::Entity::find()
        .filter(user::Column::Handle.eq(&account.handle))
        .one(db)
        .await?
        .is_some()
    {
        return Err(handle_taken());
    }
    Ok(account)
}

/// Inserts a checked new account; a unique violation (a concurrent insert won the race)
/// is the `CONFLICT` it stands for.
async fn insert_account(
    db: &DatabaseConnection,
    account: Provision,
    password_hash: String,
    external_subject: Option<String>,
    clock: Clock,
) -> AppResult<user::Model> {
    let handle = account.handle;
    let model = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        display_name: Set(account
            .display_name
            .map(|d| d.trim().to_owned())
            .unwrap_or_else(|| handle.clone())),
        handle: Set(handle),
        password_hash: Set(password_hash),
        account_type: Set(account.account_type),
        visibility: Set(account.visibility),
        likes_visibility: Set(account.likes_visibility),
        birth_year: Set(account.birth_year),
        region: Set(account.region),
        language: Set(account.language),
        created_at: Set(clock.now_us()),
        external_subject: Set(external_subject.clone()),
        avatar_url: Set(account.avatar_url),
    };
    match model.insert(db).await {
        Ok(m) => Ok(m),
        Err(e) => match db::unique_violation(&e) {
            Some(Some(constraint)) if constraint == EXTERNAL_SUBJECT_INDEX => Err(already_linked()),
            Some(Some(_)) => Err(handle_taken()),
            // SQLite names no constraint: the two unique columns tell apart by their rows.
            // The row that won the race is committed (the insert ran alone, outside any
            // transaction), so if the subject is linked now, that was the violation.
            Some(None) => match external_subject {
                Some(s) if account_linked_to(db, &s).await?.is_some() => Err(already_linked()),
                _ => Err(handle_taken()),
            },
            None => Err(e.into()),
        },
    }
}

/// Checks credentials; a wrong handle and a wrong password answer alike.
pub async fn log_in(
    db: &DatabaseConnection,
    handle: &str,
    password: String,
) -> AppResult<user::Model> {
    // No handle holds NUL, which PostgreSQL text cannot even be compared with: answered
    // like an unknown handle.
    let found = if handle.contains('\0') {
        None
    } else {
        user::Entity::find()
            .filter(user::Column::Handle.eq(handle.to_lowercase()))
            .one(db)
            .await?
    };
    // An account without a password is checked like an unknown handle: same time, same answer.
    let ok = password::verify(password, found.as_ref().and_then(password_of)).await?;
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
    mut changes: AccountChanges,
    clock: Clock,
) -> AppResult<user::Model> {
    check_profile("input.", &mut changes, clock)?;
    db::transaction(db, move |txn| {
        let changes = changes.clone();
        Box::pin(async move {
            hold(txn, Hold::Exclusive, viewer, None).await?;
            liker_rollup::hold_creators_of(txn, viewer).await?;
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
            if let Some(a) = changes.avatar_url {
                am.avatar_url = Set(a);
            }
            let after = am.update(txn).await?;
            let new_audience = audience(after.visibility, after.likes_visibility);
            if new_audience != audience(before.visibility, before.likes_visibility) {
                likes::set_like_audience(txn, viewer, new_audience).await?;
            }
            rollups::follower_changed(txn, &before, &after).await?;
            liker_rollup::liker_changed(txn, &before, &after).await?;
            if before.visibility == Visibility::Private && after.visibility == Visibility::Public {
                rollups::pending_approved(txn, viewer, At::of(clock.now_us())).await?;
                follow::Entity::update_many()
                    .col_expr(follow::Column::State, Expr::value(FollowState::Approved))
                    .filter(follow::Column::FolloweeId.eq(viewer))
                    .filter(follow::Column::State.eq(FollowState::Pending))
                    .exec(txn)
                    .await?;
            }
            Ok(after)
        })
    })
    .await
}

/// Deletes the viewer's account at `now` after checking its password: its likes (counters
/// drop; unlikes in the rollups), follows (lost followers of the accounts it followed),
/// blocks and videos go with it, in one transaction. An account without a
/// password (linked to an identity-provider subject) has nothing to check: the
/// identity provider's token proved the viewer, and `password` must be empty so that a
/// client cannot believe it checked one.
pub async fn delete_account(
    db: &DatabaseConnection,
    viewer: Uuid,
    password: String,
    now: i64,
) -> AppResult<()> {
    let account = viewer_account(db, viewer).await?;
    let (ok, wrong) = match password_of(&account) {
        Some(phc) => (
            password::verify(password, Some(phc)).await?,
            "password is wrong",
        ),
        None => (
            password.is_empty(),
            "this account has no password (it signs in through the identity provider): pass an empty password",
        ),
    };
    if !ok {
        return Err(AppError::bad_input("password", wrong));
    }
    db::transaction(db, move |txn| {
        Box::pin(async move {
            // A concurrent deletion of the same account may have won: it is gone then.
            hold(txn, Hold::Exclusive, viewer, None).await?;
            liker_rollup::hold_creators_of(txn, viewer).await?;
            let at = At::of(now);
            likes::remove_likes_by(txn, viewer, None, at).await?;
            let account = viewer_account(txn, viewer).await?;
            rollups::followers_lost(txn, &account, Followees::AllOf, at).await?;
            user::Entity::delete_by_id(viewer).exec(txn).await?;
            Ok(())
        })
    })
    .await
}
