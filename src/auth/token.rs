//! The service's own JWTs: issue and verification (HS256; algorithm pinned; `exp`, `iss`,
//! `aud`, `sub` required).
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
}

/// Issues and verifies the service's own tokens.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    ids: IdCodec,
}

impl Tokens {
    /// Tokens signed with `secret`, valid for `ttl`, naming accounts by their API ID
    /// (encrypted with `ids`).
    pub fn new(secret: &[u8], ttl: Duration, ids: IdCodec) -> anyhow::Result<Self> {
        let validation = validation(AUDIENCE);
        Ok(Tokens {
            encoding: EncodingKey::from_secret(secret)?,
            decoding: DecodingKey::from_secret(secret)?,
            validation,
            ttl,
            ids,
        })
    }

    /// A token for `user` and the moment it expires.
    pub fn issue(&self, user: Uuid) -> AppResult<(String, DateTime<Utc>)> {
        let now = Utc::now();
        let expires = now + self.ttl;
        let claims = Claims {
            sub: self.ids.encode_id(Kind::User, user),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now.timestamp(),
            exp: expires.timestamp(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)?;
        Ok((token, expires))
    }

    /// The same tokens checked with `leeway_secs` of clock leeway on `exp` and `nbf`.
    pub fn with_leeway(mut self, leeway_secs: u64) -> Self {
        self.validation.leeway = leeway_secs;
        self
    }

    /// The account a token proves, or `UNAUTHENTICATED` saying why not.
    pub fn verify(&self, token: &str) -> AppResult<Uuid> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(refusal)?;
        self.ids
            .decode_id("sub", Kind::User, &data.claims.sub)
            .map_err(|_| AppError::Unauthenticated("token subject is not a user ID".to_owned()))
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
