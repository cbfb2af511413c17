//! Where the token secret comes from when none is configured.
use std::{fs, io::Write, path::PathBuf};

use anyhow::{bail, Context};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;

use crate::config::Config;

/// The configured secret; on SQLite without one, a random secret stored beside the
/// database file (so tokens survive a restart). PostgreSQL deployments must configure one,
/// since several instances have to share it.
pub fn resolve(config: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = &config.jwt_secret {
        if s.len() < 32 {
            bail!("TALLY_JWT_SECRET must be at least 32 bytes");
        }
        return Ok(s.as_bytes().to_vec());
    }
    if config.is_postgres() {
        bail!("TALLY_JWT_SECRET (or --jwt-secret) is required with PostgreSQL: every instance must share it");
    }
    let Some(db_path) = config.sqlite_path() else {
        tracing::warn!(
            "no TALLY_JWT_SECRET and an in-memory database: tokens will not survive a restart"
        );
        return Ok(random_secret().into_bytes());
    };
    let path = PathBuf::from(format!("{db_path}.jwt-secret"));
    if let Ok(existing) = fs::read_to_string(&path) {
        tracing::info!(path = %path.display(), "using the token secret stored beside the database");
        return Ok(existing.trim().as_bytes().to_vec());
    }
    let secret = random_secret();
    let mut file = open_private(&path).with_context(|| format!("writing {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    tracing::info!(path = %path.display(), "no TALLY_JWT_SECRET: generated one and stored it beside the database");
    Ok(secret.into_bytes())
}

fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(unix)]
fn open_private(path: &PathBuf) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &PathBuf) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}
