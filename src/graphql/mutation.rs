//! The mutation root. Every mutation but `signUp`, `logIn` and `provisionAccount` needs a
//! signed-in viewer. Rate-limited mutations call [`ratelimit::check`] before anything else.
use async_graphql::{Context, InputObject, Object, Result, ID};

use super::{
    context::{db, ids, viewer},
    types::{AccountType, AccountVisibility, AuthPayload, Follow, LikesVisibility, User, Video},
};
use crate::{
    auth::{token::Tokens, ExternalSubject},
    domain::{
        self,
        accounts::{AccountChanges, Provision, SignUp},
        counters::CountedVideo,
        videos::NewVideo,
    },
    error::AppError,
    ids::Kind,
    ratelimit::{self, Limit},
};
use entity::user;

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
}

/// A new video.
#[derive(InputObject)]
pub struct CreateVideoInput {
    /// At most 2,200 characters.
    pub caption: String,
    /// At most 30, each 1–100 characters.
    pub hashtags: Option<Vec<String>>,
    pub sound: Option<String>,
}

/// Writes.
#[derive(Default)]
pub struct Mutation;

fn auth_payload(ctx: &Context<'_>, account: user::Model) -> Result<AuthPayload> {
    let (token, expires_at) = ctx.data::<Tokens>()?.issue(account.id)?;
    Ok(AuthPayload {
        token,
        expires_at,
        user: User::from(account),
    })
}

/// The signed-in viewer, whose account must still exist (a token outlives a deleted
/// account; every mutation refuses it alike).
async fn signed_in(ctx: &Context<'_>) -> Result<uuid::Uuid> {
    let me = viewer(ctx).require()?;
    domain::viewer_account(db(ctx)?, me).await?;
    Ok(me)
}

fn user_id(ctx: &Context<'_>, id: &ID) -> Result<uuid::Uuid> {
    Ok(ids(ctx)?.decode_id("userId", Kind::User, id)?)
}

#[Object]
impl Mutation {
    /// Creates an account and signs it in.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> Result<AuthPayload> {
        ratelimit::check(ctx, Limit::Auth)?;
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
            },
        )
        .await?;
        auth_payload(ctx, account)
    }

    /// Signs in; a wrong handle and a wrong password get the same answer.
    async fn log_in(&self, ctx: &Context<'_>, input: LogInInput) -> Result<AuthPayload> {
        ratelimit::check(
            ctx,
            Limit::LogIn {
                handle: &input.handle,
            },
        )?;
        let account = domain::accounts::log_in(db(ctx)?, &input.handle, input.password).await?;
        auth_payload(ctx, account)
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
        ratelimit::check(ctx, Limit::Auth)?;
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
            },
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
        };
        Ok(User::from(
            domain::accounts::update_account(db(ctx)?, me, changes).await?,
        ))
    }

    /// Deletes the viewer's account and everything it made (password required; an account
    /// provisioned for an identity-provider identity has none: pass `""`).
    async fn delete_account(&self, ctx: &Context<'_>, password: String) -> Result<bool> {
        ratelimit::check(ctx, Limit::Auth)?;
        let me = signed_in(ctx).await?;
        domain::accounts::delete_account(db(ctx)?, me, password).await?;
        Ok(true)
    }

    /// Follows a user: approved at once if public, pending if private.
    async fn follow_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<Follow> {
        ratelimit::check(ctx, Limit::Follows)?;
        let me = signed_in(ctx).await?;
        let target = self::user_id(ctx, &user_id)?;
        let db = db(ctx)?;
        let (state, followee) = domain::social::follow_user(db, me, target).await?;
        let follower = domain::viewer_account(db, me).await?;
        Ok(Follow {
            state: Some(state).into(),
            follower: User::from(follower),
            followee: User::from(followee),
        })
    }

    /// Stops following a user (pending or approved). Returns whether a follow was removed.
    async fn unfollow_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        ratelimit::check(ctx, Limit::Follows)?;
        let me = signed_in(ctx).await?;
        Ok(domain::social::unfollow_user(db(ctx)?, me, self::user_id(ctx, &user_id)?).await?)
    }

    /// Approves a pending request from `userId` to follow the viewer.
    async fn approve_follow_request(&self, ctx: &Context<'_>, user_id: ID) -> Result<Follow> {
        let me = signed_in(ctx).await?;
        let db = db(ctx)?;
        let follower =
            domain::social::approve_follow_request(db, me, self::user_id(ctx, &user_id)?).await?;
        let followee = domain::viewer_account(db, me).await?;
        Ok(Follow {
            state: Some(entity::FollowState::Approved).into(),
            follower: User::from(follower),
            followee: User::from(followee),
        })
    }

    /// Rejects (removes) a pending request from `userId`.
    async fn reject_follow_request(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        let me = signed_in(ctx).await?;
        domain::social::reject_follow_request(db(ctx)?, me, self::user_id(ctx, &user_id)?).await?;
        Ok(true)
    }

    /// Removes `userId`'s approved follow of the viewer.
    async fn remove_follower(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        let me = signed_in(ctx).await?;
        domain::social::remove_follower(db(ctx)?, me, self::user_id(ctx, &user_id)?).await?;
        Ok(true)
    }

    /// Blocks a user: follows both ways and likes on each other's videos are removed.
    async fn block_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        ratelimit::check(ctx, Limit::Follows)?;
        let me = signed_in(ctx).await?;
        domain::social::block_user(db(ctx)?, me, self::user_id(ctx, &user_id)?).await?;
        Ok(true)
    }

    /// Lifts a block; nothing it removed comes back. Returns whether a block was lifted.
    async fn unblock_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        ratelimit::check(ctx, Limit::Follows)?;
        let me = signed_in(ctx).await?;
        Ok(domain::social::unblock_user(db(ctx)?, me, self::user_id(ctx, &user_id)?).await?)
    }

    /// Posts a video.
    async fn create_video(&self, ctx: &Context<'_>, input: CreateVideoInput) -> Result<Video> {
        let me = signed_in(ctx).await?;
        let input = NewVideo {
            caption: input.caption,
            hashtags: input.hashtags.unwrap_or_default(),
            sound: input.sound,
        };
        let video = domain::videos::create_video(db(ctx)?, me, input).await?;
        Ok(Video::from(CountedVideo {
            video,
            like_count: 0,
        }))
    }

    /// Deletes one of the viewer's videos.
    async fn delete_video(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let me = signed_in(ctx).await?;
        domain::videos::delete_video(db(ctx)?, me, ids(ctx)?.decode_id("id", Kind::Video, &id)?)
            .await?;
        Ok(true)
    }

    /// Likes a video; liking twice keeps one like.
    async fn like_video(&self, ctx: &Context<'_>, video_id: ID) -> Result<Video> {
        ratelimit::check(ctx, Limit::Likes)?;
        // The like's own transaction reads the liker's account (hot path: no extra look-up).
        let me = viewer(ctx).require()?;
        let id = ids(ctx)?.decode_id("videoId", Kind::Video, &video_id)?;
        Ok(Video::from(
            domain::likes::like_video(db(ctx)?, me, id).await?,
        ))
    }

    /// Takes a like back; idempotent.
    async fn unlike_video(&self, ctx: &Context<'_>, video_id: ID) -> Result<Video> {
        ratelimit::check(ctx, Limit::Likes)?;
        let me = signed_in(ctx).await?;
        let id = ids(ctx)?.decode_id("videoId", Kind::Video, &video_id)?;
        Ok(Video::from(
            domain::likes::unlike_video(db(ctx)?, me, id).await?,
        ))
    }
}
