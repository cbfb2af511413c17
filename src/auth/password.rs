//! Argon2id password hashing, off the async runtime.
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

use std::sync::OnceLock;

use crate::error::{AppError, AppResult};

/// Hashes `password` with Argon2id (PHC string).
pub async fn hash(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::internal(anyhow::anyhow!("hashing failed: {e}")))
    })
    .await
    .map_err(AppError::internal)?
}

/// Checks `password` against `phc`. With `None` (unknown handle) a dummy hash is checked
/// so that a wrong handle costs the same time as a wrong password.
pub async fn verify(password: String, phc: Option<String>) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || {
        let known = phc.is_some();
        let phc = match phc {
            Some(p) => p,
            None => dummy_hash()?.to_owned(),
        };
        let parsed = PasswordHash::new(&phc)
            .map_err(|e| AppError::internal(anyhow::anyhow!("stored hash unreadable: {e}")))?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && ok)
    })
    .await
    .map_err(AppError::internal)?
}

/// A hash, with the same parameters as real ones, of a password nobody knows.
fn dummy_hash() -> AppResult<&'static str> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let salt = SaltString::generate(&mut OsRng);
    let h = Argon2::default()
        .hash_password(uuid::Uuid::new_v4().as_bytes(), &salt)
        .map_err(|e| AppError::internal(anyhow::anyhow!("hashing failed: {e}")))?
        .to_string();
    Ok(DUMMY.get_or_init(|| h))
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hashes_verify_and_reject() {
        let h = super::hash("correct horse".into()).await.expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse".into(), Some(h.clone()))
            .await
            .expect("v"));
        assert!(!super::verify("wrong horse".into(), Some(h))
            .await
            .expect("v"));
        assert!(!super::verify("x".into(), None)
            .await
            .expect("dummy verifies cleanly"));
    }
}
