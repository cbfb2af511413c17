//! The service's own JWTs: issue and verification (HS256; algorithm pinned; `exp`, `iss`,
//! `aud`, `sub` and the session `sid` required). Times are the service clock's (`TALLY_NOW`
//! fixes it), issuing and verifying alike.
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    ids::{IdCodec, Kind},
};

/// `iss` of every token.
pub const ISSUER: &str = "tally";
/// `aud` of every token.
pub const AUDIENCE: &str = "tally-api";

/// Clock leeway on `exp` and `nbf` unless configured otherwise.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// How the service checks its HS256 tokens for `audience`: the algorithm pinned, `exp`,
/// `iss`, `aud` and `sub` required, `nbf` checked, [`DEFAULT_LEEWAY_SECS`] of leeway.
pub(super) fn validation(audience: &str) -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = DEFAULT_LEEWAY_SECS;
    validation.validate_nbf = true;
    validation
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    /// Not before, if a token carries it (the service's own do not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    /// The session's API ID; a token without one is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

/// Default lifetime of access tokens.
pub const DEFAULT_ACCESS_TTL_MINUTES: i64 = 15;
/// Default lifetime of refresh tokens (each refresh starts a new one).
pub const DEFAULT_REFRESH_TTL_DAYS: i64 = 60;

/// What a valid access token proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessClaims {
    pub user: Uuid,
    pub session: Uuid,
}

/// Issues and verifies the service's own tokens.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    leeway_secs: i64,
    ttl: Duration,
    refresh_ttl: Duration,
    ids: IdCodec,
}

impl Tokens {
    /// Access tokens signed with `secret`, valid for `ttl`, naming accounts and sessions by
    /// their API IDs (encrypted with `ids`); refresh tokens valid for the default 60 days.
    pub fn new(secret: &[u8], ttl: Duration, ids: IdCodec) -> anyhow::Result<Self> {
        let mut validation = validation(AUDIENCE);
        // `exp` and `nbf` are checked against the service clock in `verify`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Ok(Tokens {
            encoding: EncodingKey::from_secret(secret)?,
            decoding: DecodingKey::from_secret(secret)?,
            validation,
            leeway_secs: i64::try_from(DEFAULT_LEEWAY_SECS).unwrap_or(30),
            ttl,
            refresh_ttl: Duration::days(DEFAULT_REFRESH_TTL_DAYS),
            ids,
        })
    }

    /// The same tokens with refresh tokens valid for `ttl`.
    pub fn with_refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// How long a refresh token lasts.
    pub fn refresh_ttl(&self) -> Duration {
        self.refresh_ttl
    }

    /// An access token for `user` in `session`, issued at `now`, and the moment it expires.
    pub fn issue(
        &self,
        user: Uuid,
        session: Uuid,
        now: DateTime<Utc>,
    ) -> AppResult<(String, DateTime<Utc>)> {
        let expires = now + self.ttl;
        let claims = Claims {
            sub: self.ids.encode_id(Kind::User, user),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now.timestamp(),
            exp: expires.timestamp(),
            nbf: None,
            sid: Some(self.ids.encode_id(Kind::Session, session)),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)?;
        Ok((token, expires))
    }

    /// The same tokens checked with `leeway_secs` of clock leeway on `exp` and `nbf`.
    pub fn with_leeway(mut self, leeway_secs: u64) -> Self {
        self.leeway_secs = i64::try_from(leeway_secs).unwrap_or(i64::MAX);
        self
    }

    /// The account and session a token proves at `now`, or `UNAUTHENTICATED` saying why
    /// not. (Whether the session is still live is the database's to say.)
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> AppResult<AccessClaims> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(refusal)?;
        let claims = data.claims;
        let now = now.timestamp();
        if claims.exp < now.saturating_sub(self.leeway_secs) {
            return Err(AppError::Unauthenticated("token expired".to_owned()));
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway_secs))
        {
            return Err(AppError::Unauthenticated("token not yet valid".to_owned()));
        }
        let user = self
            .ids
            .decode_id("sub", Kind::User, &claims.sub)
            .map_err(|_| AppError::Unauthenticated("token subject is not a user ID".to_owned()))?;
        let Some(sid) = claims.sid else {
            return Err(AppError::Unauthenticated(
                "token names no session: sign in again".to_owned(),
            ));
        };
        let session = self
            .ids
            .decode_id("sid", Kind::Session, &sid)
            .map_err(|_| {
                AppError::Unauthenticated("token session is not a session ID".to_owned())
            })?;
        Ok(AccessClaims { user, session })
    }
}

/// `UNAUTHENTICATED`, saying why a token was refused.
pub(crate) fn refusal(e: jsonwebtoken::errors::Error) -> AppError {
    use jsonwebtoken::errors::ErrorKind as K;
    let why = match e.kind() {
        K::ExpiredSignature => "token expired",
        K::ImmatureSignature => "token not yet valid",
        K::InvalidIssuer => "token has the wrong issuer",
        K::InvalidAudience => "token has the wrong audience",
        K::InvalidSignature => "token signature is invalid",
        K::InvalidAlgorithm => "token algorithm is not accepted",
        K::MissingRequiredClaim(_) => "token lacks a required claim",
        _ => "token is malformed",
    };
    AppError::Unauthenticated(why.to_owned())
}
