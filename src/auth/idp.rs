//! Tokens from an external identity provider (IdP): verified with the public keys of a JWKS
//! file, the key chosen by the token's `kid`, the algorithm pinned per key.
//!
//! Only asymmetric signing keys are accepted (RSA, EC P-256/P-384, Ed25519): a symmetric
//! (`oct`) key in a file of *public* keys would let anyone who reads the file forge tokens,
//! so such a file is refused at start-up. Each key's algorithm comes from its `alg`, or from
//! its key type when `alg` is absent; a token whose header names another algorithm is
//! refused, whatever key material it was signed with (no algorithm confusion).
use std::{collections::HashMap, path::Path};

use anyhow::{bail, Context};
use jsonwebtoken::{
    decode,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse},
    Algorithm, DecodingKey, Header, Validation,
};
use serde::Deserialize;

use super::token::refusal;
use crate::error::{AppError, AppResult};

/// Longest `sub` accepted from the identity provider (the column holding it is this wide).
pub const MAX_SUBJECT_LEN: usize = 255;

/// What the identity provider's tokens must carry besides a good signature.
#[derive(Debug, Clone)]
pub struct IdpClaims {
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud` (one of the token's audiences).
    pub audience: String,
    /// Clock leeway for `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
}

/// One verification key: its material and the validation pinned to its algorithm.
#[derive(Clone)]
struct VerificationKey {
    decoding: DecodingKey,
    validation: Validation,
}

/// The identity provider's verification keys, by `kid`.
#[derive(Clone)]
pub struct IdentityProvider {
    keys: HashMap<String, VerificationKey>,
}

#[derive(Deserialize)]
struct Subject {
    sub: String,
}

impl IdentityProvider {
    /// Reads a JWKS file (the `keys` of the identity provider).
    pub fn from_jwks_file(path: &Path, claims: IdpClaims) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the JWKS file {}", path.display()))?;
        Self::from_jwks(&text, claims)
            .with_context(|| format!("in the JWKS file {}", path.display()))
    }

    /// Parses a JWKS document. Keys marked `"use": "enc"` are skipped; any other key that
    /// cannot verify signatures safely is an error, as is a set without signing keys.
    pub fn from_jwks(json: &str, claims: IdpClaims) -> anyhow::Result<Self> {
        if claims.issuer.is_empty() || claims.audience.is_empty() {
            bail!("the identity provider's issuer and audience must not be empty");
        }
        let set: JwkSet = serde_json::from_str(json).context("not a JWKS document")?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
                tracing::info!(kid = ?jwk.common.key_id, "JWKS: skipping an encryption key");
                continue;
            }
            let Some(kid) = jwk.common.key_id.clone().filter(|k| !k.is_empty()) else {
                bail!("every signing key needs a `kid` (tokens choose their key by it)");
            };
            let alg = pinned_algorithm(jwk).with_context(|| format!("key `{kid}`"))?;
            let decoding = DecodingKey::from_jwk(jwk)
                .map_err(|e| anyhow::anyhow!("key `{kid}` is unreadable: {e}"))?;
            let mut validation = Validation::new(alg);
            validation.set_issuer(&[&claims.issuer]);
            validation.set_audience(&[&claims.audience]);
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            validation.leeway = claims.leeway_secs;
            validation.validate_nbf = true;
            if keys
                .insert(
                    kid.clone(),
                    VerificationKey {
                        decoding,
                        validation,
                    },
                )
                .is_some()
            {
                bail!("two keys have the `kid` `{kid}`");
            }
        }
        if keys.is_empty() {
            bail!("no signing keys");
        }
        Ok(IdentityProvider { keys })
    }

    /// The `kid`s of the loaded keys (for the start-up log).
    pub fn key_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    /// The subject (`sub`) a token proves, or `UNAUTHENTICATED` saying why not.
    /// `header` is the token's unverified header; `kid` is its key ID.
    pub fn verify(&self, token: &str, header: &Header, kid: &str) -> AppResult<String> {
        let key = self
            .keys
            .get(kid)
            .ok_or_else(|| AppError::Unauthenticated("token key id (kid) is unknown".into()))?;
        if !key.validation.algorithms.contains(&header.alg) {
            return Err(AppError::Unauthenticated(
                "token algorithm does not match its key".into(),
            ));
        }
        let data = decode::<Subject>(token, &key.decoding, &key.validation).map_err(refusal)?;
        let sub = data.claims.sub;
        if sub.is_empty() || sub.chars().count() > MAX_SUBJECT_LEN {
            return Err(AppError::Unauthenticated(format!(
                "token subject must be 1–{MAX_SUBJECT_LEN} characters"
            )));
        }
        // No account could ever be linked to it (PostgreSQL text cannot hold NUL): looking
        // it up would fail inside the database.
        if sub.contains('\0') {
            return Err(AppError::Unauthenticated(
                "token subject contains a NUL character".into(),
            ));
        }
        Ok(sub)
    }
}

/// The one algorithm a key verifies: its `alg` if given (which must suit the key type),
/// else the usual algorithm of its key type.
fn pinned_algorithm(jwk: &Jwk) -> anyhow::Result<Algorithm> {
    use Algorithm::*;
    let (fits, default): (&[Algorithm], Algorithm) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (&[RS256, RS384, RS512, PS256, PS384, PS512], RS256),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => (&[ES256], ES256),
            EllipticCurve::P384 => (&[ES384], ES384),
            _ => bail!("unsupported elliptic curve {:?}", p.curve),
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => (&[EdDSA], EdDSA),
            _ => bail!("unsupported curve {:?}", p.curve),
        },
        AlgorithmParameters::OctetKey(_) => {
            bail!("symmetric (`oct`) keys are refused: a JWKS holds public keys")
        }
        _ => bail!("unsupported key type"),
    };
    let Some(named) = jwk.common.key_algorithm else {
        return Ok(default);
    };
    let alg = Algorithm::try_from(named)
        .map_err(|_| anyhow::anyhow!("`alg` {named:?} is not a signature algorithm"))?;
    if !fits.contains(&alg) {
        bail!("`alg` {alg:?} does not suit the key type");
    }
    Ok(alg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> IdpClaims {
        IdpClaims {
            issuer: "https://idp.example".into(),
            audience: "tally".into(),
            leeway_secs: 30,
        }
    }

    const JWKS: &str = include_str!("../../tests/fixtures/idp/jwks.json");

    #[test]
    fn loads_the_test_jwks_with_each_algorithm_pinned() {
        let idp = IdentityProvider::from_jwks(JWKS, claims()).expect("load");
        assert_eq!(
            idp.key_ids(),
            vec!["ec-p256", "ed25519", "rsa-2025", "rsa-2026"]
        );
        let alg = |kid: &str| idp.keys[kid].validation.algorithms.clone();
        assert_eq!(alg("rsa-2025"), vec![Algorithm::RS256]);
        assert_eq!(
            alg("rsa-2026"),
            vec![Algorithm::RS256],
            "kty RSA without alg"
        );
        assert_eq!(alg("ec-p256"), vec![Algorithm::ES256]);
        assert_eq!(alg("ed25519"), vec![Algorithm::EdDSA]);
    }

    fn with_keys(keys: serde_json::Value) -> anyhow::Result<IdentityProvider> {
        IdentityProvider::from_jwks(&serde_json::json!({ "keys": keys }).to_string(), claims())
    }

    fn ec_key() -> serde_json::Value {
        let set: serde_json::Value = serde_json::from_str(JWKS).expect("json");
        set["keys"][2].clone()
    }

    #[test]
    fn refuses_unsafe_or_ambiguous_key_sets() {
        let oct = serde_json::json!({"kty": "oct", "kid": "s", "alg": "HS256", "k": "c2VjcmV0"});
        assert!(
            with_keys(serde_json::json!([oct])).is_err(),
            "symmetric key"
        );
        let mut no_kid = ec_key();
        no_kid.as_object_mut().expect("obj").remove("kid");
        assert!(with_keys(serde_json::json!([no_kid])).is_err(), "no kid");
        let mut wrong_alg = ec_key();
        wrong_alg["alg"] = "RS256".into();
        assert!(
            with_keys(serde_json::json!([wrong_alg])).is_err(),
            "alg not for the key type"
        );
        let mut hs = ec_key();
        hs["alg"] = "HS256".into();
        assert!(with_keys(serde_json::json!([hs])).is_err(), "HS256 on EC");
        assert!(
            with_keys(serde_json::json!([ec_key(), ec_key()])).is_err(),
            "duplicate kid"
        );
        assert!(with_keys(serde_json::json!([])).is_err(), "empty");
        assert!(
            IdentityProvider::from_jwks("{}", claims()).is_err(),
            "not JWKS"
        );
        let mut enc = ec_key();
        enc["use"] = "enc".into();
        assert!(
            with_keys(serde_json::json!([enc])).is_err(),
            "only encryption keys = no signing keys"
        );
        let mut enc = ec_key();
        enc["use"] = "enc".into();
        enc["kid"] = "enc".into();
        let idp = with_keys(serde_json::json!([enc, ec_key()])).expect("enc key skipped");
        assert_eq!(idp.key_ids(), vec!["ec-p256"]);
    }
}
