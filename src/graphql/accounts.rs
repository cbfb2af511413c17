//! Accounts: signing up and in, settings, deletion, and an account's profile fields.
use std::collections::HashMap;

use async_graphql::{
    dataloader::Loader, Context, Enum, InputObject, MaybeUndefined, Object, Result, ID,
};

use super::{
    context::{clock, db, ids, publish, signed_in, viewer},
    loaders::{gql, RequestLoader},
    nodes::User,
    sessions::{start_session, AuthPayload},
};
use crate::{
    auth::ExternalSubject,
    domain::{
        self,
        accounts::{AccountChanges, Provision, SignUp},
        visible::{UserId, Visible},
        PublicUser,
    },
    error::AppError,
    ids::Kind,
    live::Notice,
    ratelimit::{self, Limit},
};

/// `PUBLIC` accounts are seen by all; `PRIVATE` ones approve their followers.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum AccountVisibility {
    #[default]
    Public,
    Private,
}

/// Who may see what an account liked.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum LikesVisibility {
    #[default]
    Everyone,
    Followers,
    OnlyMe,
}

/// `CREATOR` accounts get analytics; the type changes no visibility rule.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum AccountType {
    #[default]
    Personal,
    Creator,
}

macro_rules! mirror_enum {
    ($api:ident, $db:path, $($v:ident),+) => {
        impl From<$db> for $api {
            fn from(v: $db) -> Self { match v { $(<$db>::$v => $api::$v),+ } }
        }
        impl From<$api> for $db {
            fn from(v: $api) -> Self { match v { $($api::$v => <$db>::$v),+ } }
        }
    };
}
mirror_enum!(AccountVisibility, entity::Visibility, Public, Private);
mirror_enum!(
    LikesVisibility,
    entity::LikesVisibility,
    Everyone,
    Followers,
    OnlyMe
);
mirror_enum!(AccountType, entity::AccountType, Personal, Creator);

/// A new account.
#[derive(InputObject)]
pub struct SignUpInput {
    /// 3–30 characters of `a-z 0-9 _ .`; stored lower-case.
    pub handle: String,
    /// At least 8 characters.
    pub password: String,
    pub display_name: Option<String>,
    #[graphql(default)]
    pub account_type: AccountType,
    #[graphql(default)]
    pub visibility: AccountVisibility,
    #[graphql(default)]
    pub likes_visibility: LikesVisibility,
    /// Optional; used only in aggregates.
    pub birth_year: Option<i32>,
    /// Optional; used only in aggregates.
    pub region: Option<String>,
    /// Optional; used only in aggregates.
    pub language: Option<String>,
    /// The account's picture: an absolute `https` URL (`http` only for `localhost` and
    /// `127.0.0.1`) of at most 2,048 characters, without credentials.
    pub avatar_url: Option<String>,
}

/// The account to create for an identity-provider identity: like `SignUpInput`, without a
/// password (the identity provider signs it in).
#[derive(InputObject)]
pub struct ProvisionAccountInput {
    /// 3–30 characters of `a-z 0-9 _ .`; stored lower-case.
    pub handle: String,
    pub display_name: Option<String>,
    #[graphql(default)]
    pub account_type: AccountType,
    #[graphql(default)]
    pub visibility: AccountVisibility,
    #[graphql(default)]
    pub likes_visibility: LikesVisibility,
    /// Optional; used only in aggregates.
    pub birth_year: Option<i32>,
    /// Optional; used only in aggregates.
    pub region: Option<String>,
    /// Optional; used only in aggregates.
    pub language: Option<String>,
    /// The account's picture (the rules of `SignUpInput.avatarUrl`).
    pub avatar_url: Option<String>,
}

/// Credentials.
#[derive(InputObject)]
pub struct LogInInput {
    pub handle: String,
    pub password: String,
}

/// Settings to change; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateAccountInput {
    pub display_name: Option<String>,
    pub account_type: Option<AccountType>,
    pub visibility: Option<AccountVisibility>,
    pub likes_visibility: Option<LikesVisibility>,
    pub birth_year: Option<i32>,
    pub region: Option<String>,
    pub language: Option<String>,
    /// The account's picture (the rules of `SignUpInput.avatarUrl`); `null` removes it.
    pub avatar_url: MaybeUndefined<String>,
}

/// `User`'s profile fields.
pub struct UserProfile(pub PublicUser);

#[Object]
impl UserProfile {
    pub(super) async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        Ok(ID(ids(ctx)?.encode_id(Kind::User, self.0.id)))
    }
    async fn handle(&self) -> &str {
        &self.0.handle
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    async fn account_type(&self) -> AccountType {
        self.0.account_type.into()
    }
    async fn visibility(&self) -> AccountVisibility {
        self.0.visibility.into()
    }
    /// The account's picture, if any.
    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }
    /// Shown to this user alone; `null` for everyone else.
    async fn likes_visibility(&self, ctx: &Context<'_>) -> Option<LikesVisibility> {
        (viewer(ctx).id() == Some(self.0.id)).then(|| self.0.likes_visibility.into())
    }
}

/// Key: an account the viewer may see, by ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserById(pub Visible<UserId>);

impl Loader<UserById> for RequestLoader {
    type Value = PublicUser;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[UserById]) -> Result<HashMap<UserById, PublicUser>, Self::Error> {
        let ids: Vec<Visible<UserId>> = keys.iter().map(|k| k.0).collect();
        let users = domain::users_by_ids(&self.db, &ids).await.map_err(gql)?;
        Ok(keys
            .iter()
            .filter_map(|k| users.get(&k.0 .0).map(|u| (*k, u.clone())))
            .collect())
    }
}

/// The accounts part of the query root.
#[derive(Default)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// The signed-in account; `null` when anonymous.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match viewer(ctx).id() {
            Some(id) => Ok(domain::find_user(db(ctx)?, id).await?.map(User::from)),
            None => Ok(None),
        }
    }

    /// The account with `handle`; `null` when absent or separated from the viewer by a block.
    async fn user(&self, ctx: &Context<'_>, handle: String) -> Result<Option<User>> {
        Ok(
            domain::social::visible_user_by_handle(db(ctx)?, viewer(ctx).id(), &handle)
                .await?
                .map(User::from),
        )
    }
}

/// The accounts part of the mutation root.
#[derive(Default)]
pub struct AccountsMutation;

#[Object]
impl AccountsMutation {
    /// Creates an account and signs it in.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> Result<AuthPayload> {
        ratelimit::check(ctx, Limit::Auth).await?;
        let account = domain::accounts::sign_up(
            db(ctx)?,
            SignUp {
                handle: input.handle,
                password: input.password,
                display_name: input.display_name,
                account_type: input.account_type.into(),
                visibility: input.visibility.into(),
                likes_visibility: input.likes_visibility.into(),
                birth_year: input.birth_year,
                region: input.region,
                language: input.language,
                avatar_url: input.avatar_url,
            },
            clock(ctx),
        )
        .await?;
        start_session(ctx, account).await
    }

    /// Signs in; a wrong handle and a wrong password get the same answer.
    async fn log_in(&self, ctx: &Context<'_>, input: LogInInput) -> Result<AuthPayload> {
        ratelimit::check(
            ctx,
            Limit::LogIn {
                handle: &input.handle,
            },
        )
        .await?;
        let account = domain::accounts::log_in(db(ctx)?, &input.handle, input.password).await?;
        start_session(ctx, account).await
    }

    /// Creates the account linked to the subject of the request's identity-provider token
    /// (no password: it signs in only through the identity provider). Needs such a token;
    /// `CONFLICT` when an account is already linked to it or the handle is taken. The
    /// account is the viewer from the next request on.
    async fn provision_account(
        &self,
        ctx: &Context<'_>,
        input: ProvisionAccountInput,
    ) -> Result<User> {
        ratelimit::check(ctx, Limit::Auth).await?;
        let Some(ExternalSubject(subject)) = ctx.data_opt::<ExternalSubject>() else {
            return Err(AppError::Unauthenticated(
                "provisionAccount needs a token from the identity provider".into(),
            )
            .into());
        };
        if viewer(ctx).id().is_some() {
            return Err(domain::accounts::already_linked().into());
        }
        let account = domain::accounts::provision_account(
            db(ctx)?,
            subject.clone(),
            Provision {
                handle: input.handle,
                display_name: input.display_name,
                account_type: input.account_type.into(),
                visibility: input.visibility.into(),
                likes_visibility: input.likes_visibility.into(),
                birth_year: input.birth_year,
                region: input.region,
                language: input.language,
                avatar_url: input.avatar_url,
            },
            clock(ctx),
        )
        .await?;
        Ok(User::from(account))
    }

    /// Changes the viewer's settings; takes effect on the very next read.
    async fn update_account(&self, ctx: &Context<'_>, input: UpdateAccountInput) -> Result<User> {
        let me = signed_in(ctx).await?;
        let changes = AccountChanges {
            display_name: input.display_name,
            account_type: input.account_type.map(Into::into),
            visibility: input.visibility.map(Into::into),
            likes_visibility: input.likes_visibility.map(Into::into),
            birth_year: input.birth_year,
            region: input.region,
            language: input.language,
            // Undefined: unchanged; null: removed.
            avatar_url: input.avatar_url.into(),
        };
        let private = changes.visibility == Some(entity::Visibility::Private);
        let account = domain::accounts::update_account(db(ctx)?, me, changes, clock(ctx)).await?;
        if private {
            publish(ctx, Notice::access_of(me)).await;
        }
        Ok(User::from(account))
    }

    /// Deletes the viewer's account and everything it made (password required; an account
    /// provisioned for an identity-provider identity has none: pass `""`).
    async fn delete_account(&self, ctx: &Context<'_>, password: String) -> Result<bool> {
        ratelimit::check(ctx, Limit::Auth).await?;
        let me = signed_in(ctx).await?;
        domain::accounts::delete_account(db(ctx)?, me, password, clock(ctx).now_us()).await?;
        publish(ctx, Notice::access_of(me)).await;
        publish(ctx, Notice::SessionsEnded { user: me }).await;
        Ok(true)
    }
}
