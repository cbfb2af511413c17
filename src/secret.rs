//! Where the token secret and the ID key come from when none is configured.
use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;

use crate::{config::Config, ids::IdKey};

/// Shortest token secret accepted, configured or stored.
pub const MIN_JWT_SECRET_LEN: usize = 32;

/// The keys of one service: every instance sharing a database must share both.
#[derive(Clone)]
pub struct Secrets {
    /// HS256 secret of the service's own tokens.
    pub jwt_secret: Vec<u8>,
    /// Key of the encrypted IDs and cursors.
    pub id_key: IdKey,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(…)")
    }
}

/// The configured token secret and ID key; on SQLite, each one that is not configured is
/// generated once and stored beside the database file (so tokens and IDs survive a
/// restart). PostgreSQL deployments must configure both, since several instances have to
/// share them.
pub fn resolve(config: &Config) -> anyhow::Result<Secrets> {
    Ok(Secrets {
        jwt_secret: jwt_secret(config)?,
        id_key: id_key(config)?,
    })
}

fn jwt_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = &config.jwt_secret {
        if s.len() < MIN_JWT_SECRET_LEN {
            bail!("TALLY_JWT_SECRET must be at least {MIN_JWT_SECRET_LEN} bytes");
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
    if let Some(existing) = read_stored(&path)? {
        let secret = existing.trim();
        if secret.len() < MIN_JWT_SECRET_LEN {
            bail!(
                "the token secret stored in {} is {} bytes, shorter than the {MIN_JWT_SECRET_LEN} required: remove the file to have a new one generated (signing every user out), or set TALLY_JWT_SECRET",
                path.display(),
                secret.len()
            );
        }
        tracing::info!(path = %path.display(), "using the token secret stored beside the database");
        return Ok(secret.as_bytes().to_vec());
    }
    let secret = random_secret();
    store(&path, &secret)?;
    tracing::info!(path = %path.display(), "no TALLY_JWT_SECRET: generated one and stored it beside the database");
    Ok(secret.into_bytes())
}

fn id_key(config: &Config) -> anyhow::Result<IdKey> {
    if let Some(text) = &config.id_key {
        return IdKey::from_hex(text).context("TALLY_ID_KEY");
    }
    if config.is_postgres() {
        bail!("TALLY_ID_KEY (or --id-key) is required with PostgreSQL: every instance must share it (32 random bytes as 64 hexadecimal characters, e.g. `openssl rand -hex 32`)");
    }
    let Some(db_path) = config.sqlite_path() else {
        tracing::warn!(
            "no TALLY_ID_KEY and an in-memory database: IDs and cursors will change at every restart"
        );
        return Ok(IdKey::random());
    };
    let path = PathBuf::from(format!("{db_path}.id-key"));
    if let Some(existing) = read_stored(&path)? {
        let key = IdKey::from_hex(&existing).with_context(|| {
            format!(
                "the ID key stored in {} is malformed (replacing it changes every ID clients hold)",
                path.display()
            )
        })?;
        tracing::info!(path = %path.display(), "using the ID key stored beside the database");
        return Ok(key);
    }
    let key = IdKey::random();
    store(&path, &key.to_hex())?;
    tracing::info!(path = %path.display(), "no TALLY_ID_KEY: generated one and stored it beside the database");
    Ok(key)
}

/// The contents of a stored secret file; `None` when there is none yet.
fn read_stored(path: &Path) -> anyhow::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn store(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut file = open_private(path).with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::Cli;

    fn config(args: &[&str]) -> Config {
        let mut argv = vec!["tally"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect("arguments").config
    }

    fn temp_db() -> String {
        let path = std::env::temp_dir().join(format!("tally-secret-{}.db", uuid::Uuid::new_v4()));
        path.display().to_string()
    }

    #[test]
    fn generated_secrets_are_stored_and_read_back() {
        let db = temp_db();
        let url = format!("sqlite://{db}?mode=rwc");
        let first = resolve(&config(&["--database-url", &url])).expect("generated");
        let again = resolve(&config(&["--database-url", &url])).expect("read back");
        assert_eq!(first.jwt_secret, again.jwt_secret);
        assert_eq!(first.id_key, again.id_key);
        let configured = IdKey::random();
        let with_key = config(&["--database-url", &url, "--id-key", &configured.to_hex()]);
        assert_eq!(resolve(&with_key).expect("configured").id_key, configured);
        fs::remove_file(format!("{db}.jwt-secret")).ok();
        fs::remove_file(format!("{db}.id-key")).ok();
    }

    #[test]
    fn a_stored_secret_or_key_that_is_too_short_is_refused() {
        let db = temp_db();
        let url = format!("sqlite://{db}?mode=rwc");
        fs::write(format!("{db}.jwt-secret"), "short\n").expect("write");
        let e = resolve(&config(&["--database-url", &url])).expect_err("short secret");
        assert!(
            format!("{e:#}").contains("shorter than the 32 required"),
            "{e:#}"
        );
        fs::write(format!("{db}.jwt-secret"), "x".repeat(40)).expect("write");
        fs::write(format!("{db}.id-key"), "abcd").expect("write");
        let e = resolve(&config(&["--database-url", &url])).expect_err("short key");
        assert!(format!("{e:#}").contains(".id-key is malformed"), "{e:#}");
        fs::remove_file(format!("{db}.jwt-secret")).ok();
        fs::remove_file(format!("{db}.id-key")).ok();
    }

    #[test]
    fn postgres_needs_both_configured_and_a_well_formed_key() {
        let pg = "postgres://u@localhost/db";
        let secret = "s".repeat(40);
        let e = resolve(&config(&["--database-url", pg, "--jwt-secret", &secret]))
            .expect_err("no ID key");
        assert!(format!("{e:#}").contains("TALLY_ID_KEY"), "{e:#}");
        let e = resolve(&config(&[
            "--database-url",
            pg,
            "--jwt-secret",
            &secret,
            "--id-key",
            "not-hex",
        ]))
        .expect_err("bad key");
        assert!(
            format!("{e:#}").contains("64 hexadecimal characters"),
            "{e:#}"
        );
        let key = IdKey::random().to_hex();
        let ok = resolve(&config(&[
            "--database-url",
            pg,
            "--jwt-secret",
            &secret,
            "--id-key",
            &key,
        ]))
        .expect("both set");
        assert_eq!(ok.id_key.to_hex(), key);
    }
}
