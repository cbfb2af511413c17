//! Access tokens of third-party analytics apps (`POST /oauth/token`, RFC 6749 §4.4), in the
//! shape of RFC 9068: HS256 JWTs with header `typ: at+jwt`, `iss=tally`, `aud=tally-apps`,
//! `sub` and `client_id` the client's API ID, `creator` the granting creator's user ID,
//! `scope`, `iat`, `exp`.
//!
//! They can never pass for a user's token, nor a user's token for one: they are signed with
//! a key of their own (derived from the token secret with HKDF, so a user token's signature
//! never verifies as an app token's and back), name another audience, and their `sub` is an
//! ID of another kind (a client ID does not decode as a user ID, each kind having its own
//! keys).
use chrono::{DateTime, Duration, Utc};
use hkdf::Hkdf;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use super::token::{refusal, validation, ISSUER};
use crate::{
    error::{AppError, AppResult},
    ids::{IdCodec, Kind},
};

/// `aud` of every app token.
pub const AUDIENCE: &str = "tally-apps";
/// The JOSE `typ` of app tokens (RFC 9068 §2.1).
pub const TYPE: &str = "at+jwt";
/// The one scope there is: reading the granting creator's aggregates.
pub const SCOPE: &str = "analytics:read";

/// Who an app token speaks for: a client and the creator who made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppGrant {
    pub client: Uuid,
    pub creator: Uuid,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    client_id: String,
    creator: String,
    scope: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
}

/// Issues and verifies app tokens.
#[derive(Clone)]
pub struct AppTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    ids: IdCodec,
}

impl AppTokens {
    /// App tokens keyed from the service's token `secret`, valid for `ttl`.
    pub fn new(secret: &[u8], ttl: Duration, ids: IdCodec) -> anyhow::Result<Self> {
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(None, secret)
            .expand(b"tally/app-access-tokens/hs256", &mut key)
            .map_err(|e| anyhow::anyhow!("deriving the app token key: {e}"))?;
        let validation = validation(AUDIENCE);
        Ok(AppTokens {
            encoding: EncodingKey::from_secret(&key)?,
            decoding: DecodingKey::from_secret(&key)?,
            validation,
            ttl,
            ids,
        })
    }

    /// The same tokens checked with `leeway_secs` of clock leeway on `exp` and `nbf`.
    pub fn with_leeway(mut self, leeway_secs: u64) -> Self {
        self.validation.leeway = leeway_secs;
        self
    }

    /// How long a token lasts, in seconds (`expires_in`).
    pub fn ttl_secs(&self) -> i64 {
        self.ttl.num_seconds()
    }

    /// A token for `grant`, issued at `now` (the system clock in the service: token times
    /// never follow `TALLY_NOW`).
    pub fn issue(&self, grant: AppGrant, now: DateTime<Utc>) -> AppResult<String> {
        let client = self.ids.encode_id(Kind::ApiClient, grant.client);
        let claims = Claims {
            sub: client.clone(),
            client_id: client,
            creator: self.ids.encode_id(Kind::User, grant.creator),
            scope: SCOPE.to_owned(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(TYPE.to_owned());
        encode(&header, &claims, &self.encoding).map_err(AppError::internal)
    }

    /// The grant a token proves, or `UNAUTHENTICATED` saying why not. Whether the client
    /// is still active is the caller's to check (a database read).
    pub fn verify(&self, token: &str) -> AppResult<AppGrant> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(refusal)?;
        let bad = || AppError::Unauthenticated("token is malformed".to_owned());
        if data.header.typ.as_deref() != Some(TYPE) || data.claims.scope != SCOPE {
            return Err(bad());
        }
        let client = self
            .ids
            .decode_id("sub", Kind::ApiClient, &data.claims.sub)
            .map_err(|_| bad())?;
        let creator = self
            .ids
            .decode_id("creator", Kind::User, &data.claims.creator)
            .map_err(|_| bad())?;
        Ok(AppGrant { client, creator })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{auth::token::Tokens, ids::IdKey};

    const SECRET: &[u8] = b"unit-test-secret-unit-test-secret!!";

    fn ids() -> IdCodec {
        IdCodec::new(&IdKey::random())
    }

    #[test]
    fn app_and_user_tokens_are_never_taken_for_each_other() {
        let ids = ids();
        let apps = AppTokens::new(SECRET, Duration::minutes(15), ids.clone()).expect("apps");
        let users = Tokens::new(SECRET, Duration::hours(1), ids).expect("users");
        let grant = AppGrant {
            client: Uuid::now_v7(),
            creator: Uuid::now_v7(),
        };
        let app = apps.issue(grant, Utc::now()).expect("issue");
        assert_eq!(apps.verify(&app).ok(), Some(grant));
        assert!(
            users.verify(&app, Utc::now()).is_err(),
            "an app token is no user token"
        );
        let (user, _) = users
            .issue(grant.creator, Uuid::now_v7(), Utc::now())
            .expect("issue");
        assert!(apps.verify(&user).is_err(), "a user token is no app token");
    }

    #[test]
    fn expired_tokens_and_other_secrets_are_refused() {
        let ids = ids();
        let apps = AppTokens::new(SECRET, Duration::minutes(15), ids.clone())
            .expect("apps")
            .with_leeway(0);
        let grant = AppGrant {
            client: Uuid::now_v7(),
            creator: Uuid::now_v7(),
        };
        let old = apps
            .issue(grant, Utc::now() - Duration::minutes(16))
            .expect("issue");
        assert!(apps.verify(&old).is_err());
        let other = AppTokens::new(
            b"another-secret-another-secret-another",
            Duration::minutes(15),
            ids,
        )
        .expect("other");
        let foreign = other.issue(grant, Utc::now()).expect("issue");
        assert!(apps.verify(&foreign).is_err());
    }
}
