//! Who is asking: token issue and verification, password hashing, the [`Viewer`] of a
//! request from its credentials (HTTP and WebSocket alike), and the access tokens of
//! third-party analytics apps.
pub mod app_token;
pub mod idp;
pub mod password;
pub mod token;

use std::sync::Arc;

use anyhow::bail;
use entity::{session, user};
use jsonwebtoken::decode_header;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::{
    clock::Clock,
    config::Config,
    db::Sql,
    error::{AppError, AppResult},
    frag,
};
use app_token::{AppGrant, AppTokens};
use idp::{IdentityProvider, IdpClaims};
use token::{refusal, AccessClaims, Tokens, DEFAULT_LEEWAY_SECS};

/// The viewer of a request: anonymous, or an account proven by a valid token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer(pub Option<Uuid>);

impl Viewer {
    /// No token.
    pub const ANONYMOUS: Viewer = Viewer(None);

    /// The account, if signed in.
    pub fn id(self) -> Option<Uuid> {
        self.0
    }

    /// The account, or `UNAUTHENTICATED` for operations that need one.
    pub fn require(self) -> AppResult<Uuid> {
        self.0
            .ok_or_else(|| AppError::Unauthenticated("sign in to do this".to_owned()))
    }
}

/// Who a request speaks for, once its token is verified and looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub viewer: Viewer,
    /// Set for an identity-provider token: its subject, linked to `viewer`'s account or,
    /// with an anonymous viewer, to none yet.
    pub subject: Option<ExternalSubject>,
    /// Set for a third-party app's token (whose viewer is anonymous): the client and the
    /// creator who granted it.
    pub app: Option<AppGrant>,
    /// Set for the service's own access token: the session it belongs to (live when the
    /// request began).
    pub session: Option<CurrentSession>,
}

impl Credentials {
    /// No token.
    pub const ANONYMOUS: Credentials = Credentials {
        viewer: Viewer::ANONYMOUS,
        subject: None,
        app: None,
        session: None,
    };
}

/// Request data of every request made with the service's own access token: its session
/// (`logOut` ends it, `changePassword` keeps it, `User.sessions` marks it `current`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentSession(pub Uuid);

/// Who a valid bearer token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A Tally account in one of its sessions (the service's own HS256 token).
    Account(AccessClaims),
    /// A subject (`sub`) of the identity provider, linked to an account or not yet.
    External(String),
    /// A third-party app: its client and the creator who made it (an app token).
    App(AppGrant),
}

/// Request data of every request made with an identity-provider token: its subject. With
/// an anonymous [`Viewer`] it means that no account is linked to the subject yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalSubject(pub String);

/// How bearer tokens are checked beyond the service's own secret.
#[derive(Clone)]
pub struct AuthSettings {
    /// Clock leeway on `exp` and `nbf`, for every kind of token.
    pub leeway_secs: u64,
    /// The identity provider whose tokens are accepted too, if any.
    pub identity_provider: Option<IdentityProvider>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            leeway_secs: DEFAULT_LEEWAY_SECS,
            identity_provider: None,
        }
    }
}

impl AuthSettings {
    /// The settings `config` asks for; reads the JWKS file if one is configured.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let identity_provider = match (&config.jwks_file, &config.jwt_issuer, &config.jwt_audience)
        {
            (Some(path), Some(issuer), Some(audience)) => {
                let idp = IdentityProvider::from_jwks_file(
                    path,
                    IdpClaims {
                        issuer: issuer.clone(),
                        audience: audience.clone(),
                        leeway_secs: config.jwt_leeway_secs,
                    },
                )?;
                tracing::info!(keys = ?idp.key_ids(), %issuer, %audience, "accepting identity-provider tokens");
                Some(idp)
            }
            (Some(_), _, _) => bail!(
                "TALLY_JWKS_FILE needs TALLY_JWT_ISSUER and TALLY_JWT_AUDIENCE (the identity provider's `iss` and the `aud` its tokens carry for Tally)"
            ),
            (None, None, None) => None,
            (None, _, _) => bail!(
                "TALLY_JWT_ISSUER / TALLY_JWT_AUDIENCE describe identity-provider tokens: set TALLY_JWKS_FILE too"
            ),
        };
        Ok(AuthSettings {
            leeway_secs: config.jwt_leeway_secs,
            identity_provider,
        })
    }
}

/// Verifies bearer tokens of every kind. A token whose header has a `kid` is the identity
/// provider's (the service's own tokens have none) and is checked with that key only, its
/// algorithm pinned by the key; one whose header says `typ: at+jwt` is an app's access token,
/// checked with the app tokens' own key; any other token is checked as the service's own
/// HS256 user token.
#[derive(Clone)]
pub struct Authenticator {
    tokens: Tokens,
    apps: AppTokens,
    identity_provider: Option<Arc<IdentityProvider>>,
    clock: Clock,
}

impl Authenticator {
    /// The service's `tokens` and `apps` tokens (leeway already set) and, optionally, an
    /// identity provider; the service's own tokens are checked against the system clock.
    pub fn new(
        tokens: Tokens,
        apps: AppTokens,
        identity_provider: Option<IdentityProvider>,
    ) -> Self {
        Authenticator {
            tokens,
            apps,
            identity_provider: identity_provider.map(Arc::new),
            clock: Clock::System,
        }
    }

    /// The same, checking the service's own tokens and sessions against `clock` (the one
    /// that issued them).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Who `token` speaks for, or `UNAUTHENTICATED` saying why not.
    pub fn verify(&self, token: &str) -> AppResult<Principal> {
        let header = decode_header(token).map_err(refusal)?;
        if let (Some(idp), Some(kid)) = (&self.identity_provider, &header.kid) {
            return idp.verify(token, &header, kid).map(Principal::External);
        }
        if header.typ.as_deref() == Some(app_token::TYPE) {
            return self.apps.verify(token).map(Principal::App);
        }
        self.tokens
            .verify(token, self.clock.now())
            .map(Principal::Account)
    }

    /// Whether `session` of `user` is still live now (not ended, not expired, its account
    /// still there): what [`Authenticator::credentials`] checks of a token's session.
    pub async fn session_live(
        &self,
        db: &impl ConnectionTrait,
        session: CurrentSession,
        user: Uuid,
    ) -> AppResult<bool> {
        session_live(db, session.0, user, self.clock.now_us()).await
    }

    /// Who a request speaks for, from its `authorization` (the HTTP header's value, or the
    /// `authorization` entry of a WebSocket's `connection_init`): none is anonymous; one
    /// that is not `Bearer <valid token>`, or whose token names a session that has ended
    /// (logged out, revoked, or its account deleted), is `UNAUTHENTICATED` (never silently
    /// anonymous). An identity-provider token
    /// is the account linked to its subject and brings the subject along: with no linked
    /// account the viewer is anonymous and the subject may only provision one.
    pub async fn credentials(
        &self,
        db: &impl ConnectionTrait,
        authorization: Option<&str>,
    ) -> AppResult<Credentials> {
        let Some(text) = authorization else {
            return Ok(Credentials::ANONYMOUS);
        };
        let token = match text.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                token.trim()
            }
            _ => {
                return Err(AppError::Unauthenticated(
                    "authorization header must be `Bearer <token>`".into(),
                ))
            }
        };
        match self.verify(token)? {
            // A token outlives its session, and the session its account: one primary-key
            // read of the session tells both (an account's sessions go with it), so that no
            // request of an ended session runs, reads included, on any instance.
            Principal::Account(AccessClaims { user, session }) => {
                match session_live(db, session, user, self.clock.now_us()).await? {
                    true => Ok(Credentials {
                        viewer: Viewer(Some(user)),
                        subject: None,
                        app: None,
                        session: Some(CurrentSession(session)),
                    }),
                    false => Err(AppError::Unauthenticated(
                        "the session of this token has ended (or its account no longer exists)"
                            .into(),
                    )),
                }
            }
            Principal::External(subject) => Ok(Credentials {
                viewer: Viewer(account_linked_to(db, &subject).await?),
                subject: Some(ExternalSubject(subject)),
                app: None,
                session: None,
            }),
            // Revocation takes effect at once: one primary-key read per request.
            Principal::App(grant) => match client_active(db, grant).await? {
                true => Ok(Credentials {
                    viewer: Viewer::ANONYMOUS,
                    subject: None,
                    app: Some(grant),
                    session: None,
                }),
                false => Err(AppError::Unauthenticated(
                    "the app of this token was revoked".into(),
                )),
            },
        }
    }
}

/// Whether `grant`'s client exists, belongs to its creator and is not revoked: one read of
/// `api_clients` by primary key.
async fn client_active(db: &impl ConnectionTrait, grant: AppGrant) -> AppResult<bool> {
    let mut q = Sql::default();
    let (id, creator) = (q.bind(grant.client), q.bind(grant.creator));
    q.append(frag![
        "SELECT id FROM api_clients WHERE id = ",
        id,
        " AND creator_id = ",
        creator,
        " AND revoked_at IS NULL"
    ]);
    Ok(q.one(db).await?.is_some())
}

/// Whether `session` of `user` is live at `now`: one read of `sessions` by primary key,
/// the check every request with an access token makes. (Its account exists then too: an
/// account's sessions go with it.)
async fn session_live(
    db: &impl ConnectionTrait,
    session: Uuid,
    user: Uuid,
    now: i64,
) -> AppResult<bool> {
    let found = session::Entity::find_by_id(session)
        .select_only()
        .column(session::Column::Id)
        .filter(session::Column::UserId.eq(user))
        .filter(session::Column::ExpiresAt.gt(now))
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// The account linked to the identity-provider `subject`, if any.
pub async fn account_linked_to(
    db: &impl ConnectionTrait,
    subject: &str,
) -> AppResult<Option<Uuid>> {
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::ExternalSubject.eq(subject))
        .into_tuple::<Uuid>()
        .one(db)
        .await?)
}
