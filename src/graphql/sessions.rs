//! Sessions: the token pair of a sign-in (`AuthPayload`), refreshing it, ending sessions,
//! changing the password, and an account's list of its sessions.
use async_graphql::{Context, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{session, DeviceClass};

use super::{
    connection::datetime,
    context::{clock, db, ids, publish, signed_in, viewer},
    nodes::User,
};
use crate::{
    auth::{token::Tokens, CurrentSession},
    domain::{self, sessions, sessions::Issued, PublicUser},
    error::AppError,
    ids::Kind,
    live::Notice,
    ratelimit::{self, Limit},
};

/// The tokens of a session and its account. Send `token` as `Authorization: Bearer …`;
/// before it expires, exchange `refreshToken` for a new pair with `refreshSession`.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// The access token (a JWT naming the session), short-lived.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    /// Opaque; shown this once (only its hash is kept). Good for one `refreshSession`.
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub user: User,
}

/// The payload of `issued`, with an access token of its session issued now.
fn payload(ctx: &Context<'_>, issued: Issued, user: User) -> Result<AuthPayload> {
    let (token, expires_at) =
        ctx.data::<Tokens>()?
            .issue(issued.user, issued.session, clock(ctx).now())?;
    Ok(AuthPayload {
        token,
        expires_at,
        refresh_token: issued.refresh_token,
        refresh_expires_at: datetime(issued.refresh_expires_at),
        user,
    })
}

/// Starts a session of `account` (signed up or in just now) from the request's device.
pub(super) async fn start_session(
    ctx: &Context<'_>,
    account: entity::user::Model,
) -> Result<AuthPayload> {
    let ttl = ctx.data::<Tokens>()?.refresh_ttl();
    let device = ctx.data_opt::<DeviceClass>().copied();
    let issued = sessions::start(db(ctx)?, account.id, device, clock(ctx).now_us(), ttl).await?;
    payload(ctx, issued, User::from(account))
}

fn current(ctx: &Context<'_>) -> Option<uuid::Uuid> {
    ctx.data_opt::<CurrentSession>().map(|s| s.0)
}

/// A signed-in session of an account, as the account itself sees it (never its tokens).
pub struct Session(pub session::Model);

#[Object]
impl Session {
    pub(super) async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        Ok(ID(ids(ctx)?.encode_id(Kind::Session, self.0.id)))
    }
    /// When it signed in.
    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }
    /// When it last got tokens (signed in or refreshed): at most one access-token lifetime
    /// before its latest request.
    async fn last_used_at(&self) -> DateTime<Utc> {
        datetime(self.0.last_used_at)
    }
    /// The coarse class of the device it signed in from: `IOS`, `ANDROID`, `WEB` or
    /// `OTHER` (from `X-Tally-Device` or `User-Agent`); `null` when not known.
    async fn device(&self) -> Option<&str> {
        self.0.device.as_deref()
    }
    /// Whether it is the session of this request's token.
    async fn current(&self, ctx: &Context<'_>) -> bool {
        current(ctx) == Some(self.0.id)
    }
}

/// The sessions slice's fields of `User`.
pub struct UserSessions(pub PublicUser);

#[Object]
impl UserSessions {
    /// The account's live sessions, newest first (at most 100); `null` unless the viewer is
    /// this account.
    async fn sessions(&self, ctx: &Context<'_>) -> Result<Option<Vec<Session>>> {
        if viewer(ctx).id() != Some(self.0.id) {
            return Ok(None);
        }
        let listed = sessions::list(db(ctx)?, self.0.id, clock(ctx).now_us()).await?;
        Ok(Some(listed.into_iter().map(Session).collect()))
    }
}

/// Session `id` for `node(id)`: only its account finds it.
pub async fn own_session(ctx: &Context<'_>, id: uuid::Uuid) -> Result<Option<Session>> {
    Ok(
        sessions::own(db(ctx)?, viewer(ctx).id(), id, clock(ctx).now_us())
            .await?
            .map(Session),
    )
}

/// The sessions part of the mutation root.
#[derive(Default)]
pub struct SessionsMutation;

#[Object]
impl SessionsMutation {
    /// Exchanges a refresh token for a new pair; the old refresh token stops working.
    /// Presenting a refresh token that was already exchanged ends its whole session (it was
    /// copied: OAuth 2.0 Security BCP), and is `UNAUTHENTICATED`, as an unknown or expired
    /// one is. Needs no access token (send none, or a valid one). Limited by the auth
    /// bucket.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> Result<AuthPayload> {
        ratelimit::check(ctx, Limit::Auth).await?;
        let ttl = ctx.data::<Tokens>()?.refresh_ttl();
        let db = db(ctx)?;
        let issued = match sessions::refresh(db, &refresh_token, clock(ctx).now_us(), ttl).await? {
            sessions::Refreshed::Rotated(issued) => issued,
            sessions::Refreshed::Reused(user) => {
                publish(ctx, Notice::SessionsEnded { user }).await;
                return Err(sessions::reused().into());
            }
        };
        let account = domain::find_user(db, issued.user)
            .await?
            .ok_or_else(domain::hold::gone)?;
        payload(ctx, issued, User::from(account))
    }

    /// Ends the session of this request's token (its access and refresh tokens stop
    /// working at once); `false` when the request has no session (an identity provider's
    /// token: that provider ends its sessions).
    async fn log_out(&self, ctx: &Context<'_>) -> Result<bool> {
        let me = signed_in(ctx).await?;
        let Some(session) = current(ctx) else {
            return Ok(false);
        };
        let ended = sessions::end(db(ctx)?, me, session).await?;
        publish(ctx, Notice::SessionsEnded { user: me }).await;
        Ok(ended)
    }

    /// Ends every session of the viewer's account, this one included.
    async fn log_out_everywhere(&self, ctx: &Context<'_>) -> Result<bool> {
        let me = signed_in(ctx).await?;
        sessions::end_all(db(ctx)?, me, None).await?;
        publish(ctx, Notice::SessionsEnded { user: me }).await;
        Ok(true)
    }

    /// Ends one of the viewer's sessions (from `viewer.sessions`); `NOT_FOUND` when it is
    /// not a live session of the viewer's.
    async fn end_session(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let me = signed_in(ctx).await?;
        let session = ids(ctx)?.decode_id("id", Kind::Session, &id)?;
        if !sessions::end(db(ctx)?, me, session).await? {
            return Err(AppError::NotFound.into());
        }
        publish(ctx, Notice::SessionsEnded { user: me }).await;
        Ok(true)
    }

    /// Changes the viewer's password (`oldPassword` must match; `newPassword` 8–256
    /// characters) and ends every other session of the account. Limited as `logIn` is: the
    /// auth bucket and the account's handle's bucket.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        old_password: String,
        new_password: String,
    ) -> Result<bool> {
        let me = signed_in(ctx).await?;
        let db = db(ctx)?;
        let account = domain::viewer_account(db, me).await?;
        ratelimit::check(
            ctx,
            Limit::LogIn {
                handle: &account.handle,
            },
        )
        .await?;
        sessions::change_password(db, me, current(ctx), old_password, new_password).await?;
        publish(ctx, Notice::SessionsEnded { user: me }).await;
        Ok(true)
    }
}
